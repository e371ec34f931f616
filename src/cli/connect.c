/* Shared by the commands: connecting, and printing names safely. */
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

void
cli_print_name(FILE *f, const char *s)
{
	report_write_name(f, s);	/* one escape for every report */
}
