/* treesync push | diff | check LOCAL_DIR TARGET */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"

enum tree_verb { VERB_PUSH, VERB_DIFF, VERB_CHECK, VERB_PULL };

static void
human_bytes(char *out, size_t size, double b)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int	 u = 0;

	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(out, size, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
}

/* One status line on stderr, redrawn in place. */
static void
show_progress(const struct ts_progress *p, void *payload)
{
	char	 done[32], total[32], rate[32], eta[32] = "";
	double	 r = p->elapsed > 0 ? (double)p->bytes_done / p->elapsed : 0;

	(void)payload;
	human_bytes(done, sizeof(done), (double)p->bytes_done);
	human_bytes(total, sizeof(total), (double)p->bytes_total);
	human_bytes(rate, sizeof(rate), r);
	if (r > 0 && p->bytes_total > p->bytes_done)
		snprintf(eta, sizeof(eta), "  ETA %.0f s",
		    (double)(p->bytes_total - p->bytes_done) / r);
	fprintf(stderr, "\r\033[K%llu/%llu files  %s/%s  %s/s%s  %d conn",
	    (unsigned long long)p->files_done,
	    (unsigned long long)p->files_total, done, total, rate, eta,
	    p->connections);
	fflush(stderr);
}

/* The local tree of a push, walked while the connection opens. */
struct early_walk {
	const char		*dir;
	const struct ts_sync_opts *opts;
	struct ts_tree		*tree;		/* NULL: the push walks */
	pthread_t		 th;
	bool			 started;
};

static void *
early_walk_main(void *arg)
{
	struct early_walk	*w = arg;
	struct ts_error		 e = { 0 };

	/* A failed walk is left to the push, which walks again and says
	 * why as it always does. */
	(void)ts_tree_walk(&w->tree, w->dir, w->opts, &e);
	return NULL;
}

static int
tree_command(const struct cli *o, enum tree_verb verb)
{
	static const char *const names[] = { "push", "diff", "check", "pull" };
	struct ts_sync_opts	 so = o->sync;
	struct ts_summary	 sum;
	struct ts_error		 err = { 0 };
	struct report		*r = NULL;
	struct ts_conn		*c;
	struct early_walk	 ew = { 0 };
	enum report_mode	 mode;
	const char		*local, *remote;
	bool			 pull = verb == VERB_PULL, remote_first;
	int			 rc;

	if (o->nargs != 2) {
		fprintf(stderr, "usage: treesync %s [OPTIONS] %s\n", names[verb],
		    pull ? "[user@]host:dir LOCAL_DIR" :
		    "LOCAL_DIR [user@]host:dir");
		return 2;
	}
	if (!cli_one_remote(names[verb], o->args[0], o->args[1]))
		return 2;
	/* cli_one_remote let only one side be remote. */
	remote_first = ts_target_is_remote(o->args[0]);
	/* diff and check take the pull order too: remote first, or said
	 * with --reverse. */
	if (verb != VERB_PUSH && verb != VERB_PULL && (o->reverse ||
	    remote_first))
		pull = true;
	/* Whichever order the two come in, the target is the remote one. */
	if (remote_first) {
		remote = o->args[0];
		local = o->args[1];
	} else {
		local = o->args[0];
		remote = o->args[1];
	}
	if (verb == VERB_DIFF)
		so.dry_run = true;
	/* Progress on a terminal only, never with -q. */
	if (o->progress || (isatty(STDERR_FILENO) && !o->quiet &&
	    verb != VERB_CHECK && !so.dry_run))
		so.progress = show_progress;
	mode = o->json ? REPORT_JSON : o->itemize || o->verbose > 0 ||
	    verb != VERB_PUSH || so.dry_run ? REPORT_ITEMIZE : REPORT_QUIET;
	if (o->quiet && !o->json)
		mode = REPORT_QUIET;
	if (report_new(&r, mode, o->stats, o->verbose > 0, so.dry_run, stdout,
	    stderr) != 0) {
		fputs("treesync: out of memory\n", stderr);
		return 1;
	}
	/* A push's local tree is walked while the login takes its round
	 * trips, as rsync lists while ssh connects. */
	if (!pull && verb != VERB_CHECK) {
		ew.dir = local;
		ew.opts = &so;
		ew.started = pthread_create(&ew.th, NULL, early_walk_main,
		    &ew) == 0;
	}
	/* The other -j connections open while the first one does. */
	if ((c = cli_connect(o, remote, verb == VERB_CHECK || so.dry_run ? 0 :
	    (so.jobs > 0 ? so.jobs : 4) - 1, &rc)) == NULL) {
		/* Its error is what counts: the walk stops at once. */
		if (ew.started) {
			ts_cancel();
			pthread_join(ew.th, NULL);
			ts_cancel_reset();
		}
		ts_tree_free(ew.tree);
		report_free(r);
		return rc;
	}
	if (ew.started)
		pthread_join(ew.th, NULL);
	if (ew.tree != NULL)
		rc = ts_push_walked(&sum, c, ew.tree, local, ts_conn_path(c),
		    &so, report_item, r, &err);
	else if (verb == VERB_CHECK)
		rc = ts_check(&sum, c, local, ts_conn_path(c), &so,
		    report_item, r, &err);
	else if (pull)
		rc = ts_pull(&sum, c, ts_conn_path(c), local, &so,
		    report_item, r, &err);
	else
		rc = ts_push(&sum, c, local, ts_conn_path(c), &so,
		    report_item, r, &err);
	if (so.progress != NULL)
		fputs("\r\033[K", stderr);
	ts_tree_free(ew.tree);
	report_summary(r, &sum, rc, rc != 0 ? err.msg : NULL);
	/* Interrupted: asked for, so -q keeps quiet (exit 10 says it); else
	 * one line, with what was left undone. */
	if (rc == TS_ECANCELED) {
		if (!o->quiet && report_canceled(r) > 0)
			cli_say("%s (%llu change%s not done)", err.msg,
			    (unsigned long long)report_canceled(r),
			    report_canceled(r) == 1 ? "" : "s");
		else if (!o->quiet)
			cli_say("%s", err.msg);
	} else if (rc != 0 && !(verb == VERB_CHECK && rc == TS_EDIFFER &&
	    o->quiet))
		cli_say("%s", err.msg);
	/* A check that finds nothing says so: silence could be anything. */
	if (verb == VERB_CHECK && rc == 0 && !o->quiet && !o->json) {
		fprintf(stderr, "treesync: %s%llu file%s match%s",
		    sum.checked_match > 1 ? "all " : "",
		    (unsigned long long)sum.checked_match,
		    sum.checked_match == 1 ? "" : "s",
		    sum.checked_match == 1 ? "es" : "");
		/* Which hash, and where; none when nothing needed one. */
		if (sum.hash_used != NULL)
			fprintf(stderr, " (%s, %s)", sum.hash_used,
			    sum.hash_where != NULL && strcmp(sum.hash_where,
			    "server") == 0 ? "hashed on the server" :
			    "read back");
		fputc('\n', stderr);
	}
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
