/* treesync push | diff | check LOCAL_DIR TARGET */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"
#include "target.h"

enum tree_verb { VERB_PUSH, VERB_DIFF, VERB_CHECK, VERB_PULL };

static int
tree_command(const struct cli *o, enum tree_verb verb)
{
	static const char *const names[] = { "push", "diff", "check", "pull" };
	struct ts_sync_opts	 so = o->sync;
	struct ts_summary	 sum;
	struct ts_error		 err = { 0 };
	struct report		*r = NULL;
	struct ts_conn		*c;
	enum report_mode	 mode;
	const char		*local, *remote;
	bool			 pull = verb == VERB_PULL;
	int			 rc;

	if (o->nargs != 2) {
		fprintf(stderr, "usage: treesync %s [OPTIONS] %s\n", names[verb],
		    pull ? "[user@]host:dir LOCAL_DIR" :
		    "LOCAL_DIR [user@]host:dir");
		return 2;
	}
	/* diff and check take the pull order too: remote first, or said
	 * with --reverse. */
	if (verb != VERB_PUSH && verb != VERB_PULL && (o->reverse ||
	    (target_is_remote(o->args[0]) && !target_is_remote(o->args[1]))))
		pull = true;
	local = pull ? o->args[1] : o->args[0];
	remote = pull ? o->args[0] : o->args[1];
	if (verb == VERB_DIFF)
		so.dry_run = true;
	mode = o->json ? REPORT_JSON : o->itemize || o->verbose > 0 ||
	    verb != VERB_PUSH || so.dry_run ? REPORT_ITEMIZE : REPORT_QUIET;
	if (o->quiet && !o->json)
		mode = REPORT_QUIET;
	if (report_new(&r, mode, o->stats, o->verbose > 0, so.dry_run, stdout,
	    stderr) != 0) {
		fputs("treesync: out of memory\n", stderr);
		return 1;
	}
	if ((c = cli_connect(o, remote, &rc)) == NULL) {
		report_free(r);
		return rc;
	}
	if (verb == VERB_CHECK)
		rc = ts_check(&sum, c, local, ts_conn_path(c), &so,
		    report_item, r, &err);
	else if (pull)
		rc = ts_pull(&sum, c, ts_conn_path(c), local, &so,
		    report_item, r, &err);
	else
		rc = ts_push(&sum, c, local, ts_conn_path(c), &so,
		    report_item, r, &err);
	report_summary(r, &sum, rc, rc != 0 ? err.msg : NULL);
	if (rc != 0 && !(verb == VERB_CHECK && rc == TS_EDIFFER && o->quiet))
		fprintf(stderr, "treesync: %s\n", err.msg);
	ts_conn_free(c);
	report_free(r);
	return exitcode_for(rc);
}

int
cmd_push(const struct cli *o)
{
	return tree_command(o, VERB_PUSH);
}

int
cmd_pull(const struct cli *o)
{
	return tree_command(o, VERB_PULL);
}

int
cmd_diff(const struct cli *o)
{
	return tree_command(o, VERB_DIFF);
}

int
cmd_check(const struct cli *o)
{
	return tree_command(o, VERB_CHECK);
}
