/* treesync restore [user@]host:SNAPSHOT LOCAL_DIR */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "report.h"

/* One part of the record that could not be applied: listed as it goes,
 * the count at the end. */
static void
restore_problem(const char *path, const char *what, int e, void *payload)
{
	(void)payload;
	if (e != 0)
		cli_say("\"%s\": could not %s: %s", path, what, strerror(e));
	else
		cli_say("\"%s\": could not %s", path, what);
}

int
cmd_restore(const struct cli *o)
{
	struct ts_restore_opts	 ro = TS_RESTORE_OPTS_INIT;
	struct ts_restore_result res;
	struct ts_error		 err = { 0 };
	struct report		*r = NULL;
	struct ts_conn		*c;
	enum report_mode	 mode;
	int			 rc;

	if (o->nargs != 2) {
		fputs("usage: treesync restore [OPTIONS] [user@]host:SNAPSHOT "
		    "LOCAL_DIR\n", stderr);
		return 2;
	}
	if (!cli_one_remote("restore", o->args[0], o->args[1]))
		return 2;
	ro.sync = o->sync;
	ro.numeric_ids = o->numeric_ids;
	mode = o->json ? REPORT_JSON : o->itemize || o->verbose > 0 ?
	    REPORT_ITEMIZE : REPORT_QUIET;
	if (report_new(&r, mode, o->stats, o->verbose > 0, false, stdout,
	    stderr) != 0) {
		fputs("treesync: out of memory\n", stderr);
		return 1;
	}
	if ((c = cli_connect(o, o->args[0], (ro.sync.jobs > 0 ? ro.sync.jobs :
	    4) - 1, &rc)) == NULL) {
		report_free(r);
		return rc;
	}
	rc = ts_restore(&res, c, ts_conn_path(c), o->args[1], &ro, report_item,
	    restore_problem, r, &err);
	report_summary(r, &res.sum, rc, rc != 0 ? err.msg : NULL);
	if (rc != 0 && !(rc == TS_ECANCELED && o->quiet))
		cli_say("%s", err.msg);
	else if (res.had_record && !o->quiet && !o->json)
		fprintf(stderr, "treesync: restored; the metadata of %llu "
		    "entries applied\n", (unsigned long long)res.entries);
	ts_conn_free(c);
	report_free(r);
	return exitcode_for(rc);
}
