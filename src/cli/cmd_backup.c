/* treesync backup [--keep N] [--stamp S] [--prune-dry-run] PATH... TARGET */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

struct backup_ctx {
	struct report	*r;		/* the item lines */
	bool		 json;
	bool		 quiet;
	int		 keep;
};

/* One line per rotation decision: "keep NAME (why)", "remove NAME (why)",
 * with --prune-dry-run "would remove NAME (why)"; JSON: a "prune" line.
 * A failed removal is also said on stderr. */
static void
on_prune(const struct ts_prune_item *p, void *payload)
{
	struct backup_ctx	*x = payload;

	if (x->json)
		report_json_prune(stdout, p);
	else if (!x->quiet) {
		report_prune_line(stdout, p, x->keep, "made by this run");
	}
	if (p->code != TS_OK) {
		fputs("treesync: ", stderr);
		report_write_name(stderr, p->error != NULL ? p->error :
		    "removal failed");
		fputc('\n', stderr);
	}
}

static void
on_item(const struct ts_item *it, void *payload)
{
	report_item(it, ((struct backup_ctx *)payload)->r);
}

int
cmd_backup(const struct cli *o)
{
	struct ts_backup_opts	 bo = TS_BACKUP_OPTS_INIT;
	struct ts_backup_result	 res;
	struct ts_error		 err = { 0 };
	struct backup_ctx	 x = { 0 };
	struct ts_conn		*c;
	enum report_mode	 mode;
	const char		*target;
	int			 rc;

	if (o->nargs < 2) {
		fputs("usage: treesync backup [--keep N] [--stamp "
		    "YYYYMMDD-HHMMSS] [--prune-dry-run] [OPTIONS] PATH... "
		    "[user@]host:ROOT\n", stderr);
		return 2;
	}
	if (o->sync.dry_run) {
		fputs("treesync: backup has no -n/--dry-run; --prune-dry-run "
		    "shows what the rotation would remove\n", stderr);
		return 2;
	}
	target = o->args[o->nargs - 1];
	bo.keep = o->keep > 0 ? o->keep : bo.keep;
	bo.stamp = o->stamp;
	bo.prune_dry_run = o->prune_dry_run;
	bo.break_lock = o->break_lock;
	bo.sync = o->sync;
	/* A backup is checked by hash unless told otherwise. */
	bo.sync.verify = o->verify_set ? o->verify : TS_VERIFY_HASH;
	mode = o->json ? REPORT_JSON : o->itemize || o->verbose > 0 ?
	    REPORT_ITEMIZE : REPORT_QUIET;
	if (o->quiet && !o->json)
		mode = REPORT_QUIET;
	x.json = o->json;
	x.quiet = o->quiet;
	x.keep = bo.keep;
	if (report_new(&x.r, mode, o->stats, o->verbose > 0, false, stdout,
	    stderr) != 0) {
		fputs("treesync: out of memory\n", stderr);
		return 1;
	}
	if ((c = cli_connect(o, target, bo.prune_dry_run ? 0 :
	    o->sync.jobs > 0 ? o->sync.jobs - 1 : 3, &rc)) == NULL) {
		report_free(x.r);
		return rc;
	}
	rc = ts_backup(&res, c, (const char *const *)o->args,
	    (size_t)o->nargs - 1, ts_conn_path(c), &bo, on_item, on_prune, &x,
	    &err);
	if (o->json) {
		report_warnings(x.r);
		report_json_backup_summary(stdout, &res, rc, rc != 0 ? err.msg :
		    NULL);
	} else {
		report_summary(x.r, &res.sum, rc, NULL);
		if (res.complete && !o->quiet)
			printf("snapshot %s complete: %" PRIu64 " files (%" PRIu64
			    " hard-linked), %" PRIu64 " bytes sent\n",
			    res.snapshot, res.sum.files_scanned,
			    res.sum.files_linked, res.sum.bytes_sent);
	}
	fflush(stdout);
	/* Interrupted: as the tree commands, the count of what was left
	 * undone, and with -q nothing (exit 10 says it). */
	if (rc != 0 && !(rc == TS_ECANCELED && o->quiet)) {
		if (rc == TS_ECANCELED && report_canceled(x.r) > 0)
			cli_say("%s (%llu change%s not done)", err.msg,
			    (unsigned long long)report_canceled(x.r),
			    report_canceled(x.r) == 1 ? "" : "s");
		else
			cli_say("%s", err.msg);
		if (res.complete)
			cli_say("snapshot %s is complete; the rotation did "
			    "not finish", res.snapshot);
		else if (res.in_progress[0] != '\0' && rc != TS_ELOCKED)
			cli_say("the snapshot was not completed (left as %s, "
			    "removed by a later run); nothing was pruned",
			    res.in_progress);
	}
	ts_conn_free(c);
	report_free(x.r);
	return exitcode_for(rc);
}
