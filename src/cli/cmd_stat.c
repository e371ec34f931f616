/* treesync stat TARGET */
#include <stdio.h>
#include <time.h>

#include "cli.h"

void	mode_string(char out[11], uint32_t mode);

static const char *
type_name(uint32_t mode)
{
	switch (mode & 0170000) {
	case 0040000:	return "directory";
	case 0120000:	return "symbolic link";
	case 0100000:	return "regular file";
	case 0010000:	return "fifo";
	case 0140000:	return "socket";
	default:	return "other";
	}
}

int
cmd_stat(const struct cli *o)
{
	struct ts_error	 err = { 0 };
	struct ts_stat	 st;
	struct ts_conn	*c;
	char		 mode[11], date[64];
	struct tm	 tm;
	time_t		 t;
	int		 rc;

	if (o->nargs != 1) {
		fputs("usage: treesync stat [user@]host:path\n", stderr);
		return 2;
	}
	if ((c = cli_connect(o, o->args[0], 0, &rc)) == NULL)
		return rc;
	if (ts_stat(&st, c, ts_conn_path(c), false, &err) != 0) {
		rc = cli_fail(&err);
		ts_conn_free(c);
		return rc;
	}
	fputs("path: ", stdout);
	cli_print_name(stdout, ts_conn_path(c)[0] != '\0' ? ts_conn_path(c) :
	    ".");
	putchar('\n');
	if (st.has_mode) {
		mode_string(mode, st.mode);
		printf("type: %s\nmode: %04o (%s)\n", type_name(st.mode),
		    st.mode & 07777, mode);
	}
	if (st.has_size)
		printf("size: %llu\n", (unsigned long long)st.size);
	if (st.has_ids)
		printf("uid: %u\ngid: %u\n", st.uid, st.gid);
	if (st.has_times) {
		t = (time_t)st.mtime;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm);
		printf("mtime: %s\n", date);
	}
	ts_conn_free(c);
	return 0;
}
