/* treesync mkdir [-p] TARGET */
#include <stdio.h>

#include "cli.h"

int
cmd_mkdir(const struct cli *o)
{
	struct ts_error	 err = { 0 };
	struct ts_conn	*c;
	int		 rc;

	if (o->nargs != 1) {
		fputs("usage: treesync mkdir [-p] [user@]host:path\n", stderr);
		return 2;
	}
	if ((c = cli_connect(o, o->args[0], 0, &rc)) == NULL)
		return rc;
	if (ts_mkdir(c, ts_conn_path(c), o->parents, &err) != 0)
		rc = cli_fail(&err);
	ts_conn_free(c);
	return rc;
}
