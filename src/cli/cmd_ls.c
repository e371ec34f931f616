/* treesync ls [-l] TARGET */
#include <stdio.h>
#include <time.h>

#include "cli.h"

/* "drwxr-xr-x" from a mode. */
void	mode_string(char out[11], uint32_t mode);

void
mode_string(char out[11], uint32_t mode)
{
	static const char	 rwx[] = "rwxrwxrwx";
	int			 i;

	switch (mode & 0170000) {
	case 0040000:	out[0] = 'd'; break;
	case 0120000:	out[0] = 'l'; break;
	case 0100000:	out[0] = '-'; break;
	case 0010000:	out[0] = 'p'; break;
	case 0140000:	out[0] = 's'; break;
	case 0020000:	out[0] = 'c'; break;
	case 0060000:	out[0] = 'b'; break;
	default:	out[0] = '?'; break;
	}
	for (i = 0; i < 9; i++)
		out[1 + i] = (mode & (0400u >> i)) != 0 ? rwx[i] : '-';
	out[10] = '\0';
}

static int
print_entry(const struct ts_dirent *e, void *payload)
{
	const struct cli	*o = payload;
	char			 mode[11], date[32];
	struct tm		 tm;
	time_t			 t = (time_t)e->st.mtime;

	if (o->long_list) {
		mode_string(mode, e->st.mode);
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M", &tm);
		printf("%s %5u %5u %12llu %s ", mode, e->st.uid, e->st.gid,
		    (unsigned long long)e->st.size, date);
	}
	cli_print_name(stdout, e->name);
	if (o->long_list && e->link != NULL) {
		fputs(" -> ", stdout);
		cli_print_name(stdout, e->link);
	}
	putchar('\n');
	return 0;
}

int
cmd_ls(const struct cli *o)
{
	struct ts_error	 err = { 0 };
	struct ts_conn	*c;
	int		 rc;

	if (o->nargs != 1) {
		fputs("usage: treesync ls [-l] [user@]host:path\n", stderr);
		return 2;
	}
	if ((c = cli_connect(o, o->args[0], 0, &rc)) == NULL)
		return rc;
	if (ts_list(c, ts_conn_path(c), o->long_list, print_entry, (void *)o,
	    &err) != 0)
		rc = cli_fail(&err);
	ts_conn_free(c);
	return rc;
}
