/* Shared by the commands: connecting, and printing names safely. */
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"
#include "report.h"

struct ts_conn *
cli_connect(const struct cli *o, const char *target, int spares, int *rc)
{
	struct ts_conn_opts	 co = o->conn;
	struct ts_error		 err = { 0 };
	struct ts_conn		*c = NULL;

	co.spares = spares;
	if (ts_conn_open(&c, target, &co, &err) != 0) {
		*rc = cli_fail(&err);
		return NULL;
	}
	*rc = 0;
	return c;
}

/*
 * A name reads as remote when a colon comes before any slash (scp's and
 * rsync's rule), so both operands may look remote by accident: a local
 * name with a colon is written "./a:b".  Taken as it came, such a pair
 * would copy to or from a local directory named "host:path".
 */
bool
cli_one_remote(const char *verb, const char *a, const char *b)
{
	bool	 ra = ts_target_is_remote(a), rb = ts_target_is_remote(b);

	if (ra && rb) {
		cli_say("%s: \"%s\" and \"%s\" are both remote; one side must "
		    "be a local path (a local name with a colon is written "
		    "./%s)", verb, a, b, a);
		return false;
	}
	if (!ra && !rb) {
		cli_say("%s: neither \"%s\" nor \"%s\" is remote; the remote "
		    "side is [user@]host:path or "
		    "sftp://[user@]host[:port]/path", verb, a, b);
		return false;
	}
	return true;
}

void
cli_print_name(FILE *f, const char *s)
{
	report_write_name(f, s);	/* one escape for every report */
}

/* Long enough for a message naming two PATH_MAX paths. */
#define SAY_MAX	(3 * 4096)

void
cli_say(const char *fmt, ...)
{
	char	 msg[SAY_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fputs("treesync: ", stderr);
	report_write_name(stderr, msg);
	fputc('\n', stderr);
}
