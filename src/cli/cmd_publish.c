/*
 * treesync publish [--release NAME] [--keep N] DIR TARGET...
 * treesync publish --rollback TARGET...
 * treesync publish --list TARGET
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "report.h"

struct publish_ctx {
	struct report	*r;		/* the item lines */
	bool		 json;
	bool		 quiet;
	int		 keep;
	const char	*target;	/* --list */
};

static void
usage(void)
{
	fputs("usage: treesync publish [--release NAME] [--keep N] [OPTIONS] "
	    "DIR [user@]host:ROOT...\n"
	    "       treesync publish --rollback [OPTIONS] [user@]host:ROOT...\n"
	    "       treesync publish --list [OPTIONS] [user@]host:ROOT\n",
	    stderr);
}

static void
on_prune(const struct ts_prune_item *p, void *payload)
{
	struct publish_ctx	*x = payload;

	if (x->json)
		report_json_prune(stdout, p);
	else if (!x->quiet) {
		report_prune_line(stdout, p, x->keep, "current");
	}
	if (p->code != TS_OK)
		cli_say("%s", p->error != NULL ? p->error : "removal failed");
}

static void
on_item(const struct ts_item *it, void *payload)
{
	report_item(it, ((struct publish_ctx *)payload)->r);
}

static void
on_release(const struct ts_release *r, void *payload)
{
	struct publish_ctx	*x = payload;
	struct tm		 tm;
	time_t			 t = (time_t)r->mtime;
	char			 date[32] = "?";

	if (x->json) {
		report_json_release(stdout, x->target, r);
		return;
	}
	if (gmtime_r(&t, &tm) != NULL)
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fputs(r->current ? "* " : "  ", stdout);
	report_write_name(stdout, r->name);
	printf("  %s  %" PRIu64 " bytes  %" PRIu64 " file%s%s\n", date,
	    r->size, r->files, r->files == 1 ? "" : "s", r->current ?
	    "  (current)" : r->complete ? "" : "  (incomplete)");
}

/* "ROOT/releases/NAME" as the server knows it; NULL without a name. */
static char *
release_path(struct ts_conn *c, const char *name)
{
	const char	*root = ts_conn_path(c);
	char		*p;
	size_t		 n = strlen(root);

	if (name[0] == '\0')
		return NULL;
	while (n > 1 && root[n - 1] == '/')
		n--;
	if (asprintf(&p, "%.*s%sreleases/%s", (int)n, root, n == 0 ||
	    root[n - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return p;
}

static void
sum_add(struct ts_summary *to, const struct ts_summary *s)
{
	to->files_scanned += s->files_scanned;
	to->files_created += s->files_created;
	to->files_updated += s->files_updated;
	to->files_deleted += s->files_deleted;
	to->temps_removed += s->temps_removed;
	to->files_unchanged += s->files_unchanged;
	to->dirs_created += s->dirs_created;
	to->symlinks += s->symlinks;
	to->attrs_set += s->attrs_set;
	to->bytes_sent += s->bytes_sent;
	to->files_linked += s->files_linked;
	to->errors += s->errors;
	if (s->elapsed > to->elapsed)
		to->elapsed = s->elapsed;
	if (to->hash_used == NULL)
		to->hash_used = s->hash_used;
	if (to->hash_where == NULL)
		to->hash_where = s->hash_where;
}

/* One line per target: what it did, or why not (stderr). */
static void
report_targets(const struct cli *o, char **targets, struct ts_conn **conns,
    const struct ts_publish_result *res, size_t n, bool rollback)
{
	const struct ts_publish_result *r;
	char			*path;
	size_t			 i;

	for (i = 0; i < n; i++) {
		r = &res[i];
		path = release_path(conns[i], r->release);
		if (o->json)
			report_json_publish_target(stdout, targets[i], path, r);
		else if (r->switched && !o->quiet) {
			printf("%s ", rollback ? "rolled back" : "published");
			report_write_name(stdout, targets[i]);
			fputs(": current is ", stdout);
			report_write_name(stdout, r->release);
			if (r->previous[0] != '\0' &&
			    strcmp(r->previous, r->release) != 0) {
				fputs(" (was ", stdout);
				report_write_name(stdout, r->previous);
				fputc(')', stdout);
			} else if (r->previous[0] != '\0')
				fputs(" (it was already)", stdout);
			if (!rollback)
				printf(": %" PRIu64 " files uploaded, %" PRIu64
				    " hard-linked, %" PRIu64 " bytes sent",
				    r->sum.files_created + r->sum.files_updated,
				    r->sum.files_linked, r->sum.bytes_sent);
			fputc('\n', stdout);
		}
		/* One target: the run's own message says it all. */
		if (!r->switched && n > 1)
			cli_say("%s: not switched: %s", targets[i],
			    r->error[0] != '\0' ? r->error :
			    "stopped before the switch");
		else if (r->switched && r->code != TS_OK)
			cli_say("%s: switched, but: %s", targets[i], r->error);
		free(path);
	}
}

static int
do_list(const struct cli *o)
{
	struct publish_ctx	 x = { 0 };
	struct ts_error		 err = { 0 };
	struct ts_conn		*c;
	int			 rc;

	if (o->nargs != 1) {
		usage();
		return 2;
	}
	x.json = o->json;
	x.target = o->args[0];
	if ((c = cli_connect(o, o->args[0], 0, &rc)) == NULL)
		return rc;
	if ((rc = ts_publish_list(c, ts_conn_path(c), on_release, &x,
	    &err)) != 0)
		rc = cli_fail(&err);
	ts_conn_free(c);
	return rc;
}

/* Connects to every target, in order; a failure stops before anything
 * was changed anywhere. */
static int
connect_all(const struct cli *o, char **targets, size_t n, int spares,
    struct ts_conn **conns, const char **roots)
{
	size_t	 i;
	int	 rc;

	for (i = 0; i < n; i++) {
		if ((conns[i] = cli_connect(o, targets[i], spares, &rc)) ==
		    NULL) {
			cli_say("%s: not switched: cannot connect; no target "
			    "was changed", targets[i]);
			return rc;
		}
		roots[i] = ts_conn_path(conns[i]);
	}
	return 0;
}

int
cmd_publish(const struct cli *o)
{
	struct ts_publish_opts	 po = TS_PUBLISH_OPTS_INIT;
	struct ts_publish_result *res = NULL;
	struct ts_summary	 sum;
	struct ts_error		 err = { 0 };
	struct publish_ctx	 x = { 0 };
	struct ts_conn		**conns = NULL;
	const char		**roots = NULL;
	char			**targets, *path;
	enum report_mode	 mode;
	struct stat		 st;
	size_t			 n, i, switched = 0;
	int			 rc;

	if (o->list_releases)
		return o->rollback ? (usage(), 2) : do_list(o);
	if (o->nargs < (o->rollback ? 1 : 2)) {
		usage();
		return 2;
	}
	if (o->sync.dry_run) {
		cli_say("publish has no -n/--dry-run; \"treesync diff DIR "
		    "TARGET/current\" shows what would be sent");
		return 2;
	}
	if (o->release != NULL && (o->rollback ||
	    !ts_publish_release_valid(o->release))) {
		cli_say("bad --release \"%s\": %s", o->release, o->rollback ?
		    "--rollback takes none" : "1 to 100 letters, digits, '.', "
		    "'_', '-' or '+', starting with a letter or digit");
		return 2;
	}
	targets = o->rollback ? o->args : o->args + 1;
	n = (size_t)o->nargs - (o->rollback ? 0 : 1);
	if (!o->rollback && stat(o->args[0], &st) != 0) {
		rc = errno;
		cli_say("local directory \"%s\": %s", o->args[0],
		    strerror(rc));
		return exitcode_for(rc == ENOENT ? TS_ENOENT : TS_ELOCAL);
	}
	if (!o->rollback && !S_ISDIR(st.st_mode)) {
		cli_say("\"%s\" is not a directory", o->args[0]);
		return 2;
	}
	po.release = o->release;
	po.keep = o->keep > 0 ? o->keep : po.keep;
	po.break_lock = o->break_lock;
	po.sync = o->sync;
	/* A release is checked by hash unless told otherwise. */
	po.sync.verify = o->verify_set ? o->verify : TS_VERIFY_HASH;
	mode = o->json ? REPORT_JSON : o->itemize || o->verbose > 0 ?
	    REPORT_ITEMIZE : REPORT_QUIET;
	if (o->quiet && !o->json)
		mode = REPORT_QUIET;
	x.json = o->json;
	x.quiet = o->quiet;
	x.keep = po.keep;
	if ((res = calloc(n, sizeof(*res))) == NULL ||
	    (conns = calloc(n, sizeof(*conns))) == NULL ||
	    (roots = calloc(n, sizeof(*roots))) == NULL ||
	    report_new(&x.r, mode, o->stats, o->verbose > 0, false, stdout,
	    stderr) != 0) {
		cli_say("out of memory");
		rc = 1;
		goto out;
	}
	if ((rc = connect_all(o, targets, n, o->rollback ? 0 :
	    o->sync.jobs > 0 ? o->sync.jobs - 1 : 3, conns, roots)) != 0)
		goto out;
	if (o->rollback)
		rc = ts_publish_rollback(res, conns, roots, n, &po, &err);
	else
		rc = ts_publish(res, conns, roots, n, o->args[0], &po, on_item,
		    on_prune, &x, &err);
	report_targets(o, targets, conns, res, n, o->rollback);
	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < n; i++) {
		sum_add(&sum, &res[i].sum);
		switched += res[i].switched;
	}
	if (po.sync.verify == TS_VERIFY_HASH && sum.hash_where != NULL)
		sum.hash_used = "sha256";
	if (o->json) {
		path = release_path(conns[0], res[0].release);
		report_json_publish_summary(stdout, &sum, rc, rc != 0 ?
		    err.msg : NULL, res[0].release[0] != '\0' ?
		    res[0].release : NULL, path, n, switched);
		free(path);
	} else if (!o->rollback)
		report_summary(x.r, &sum, rc, NULL);
	fflush(stdout);
	if (rc != 0) {
		cli_say("%s", err.msg);
		if (rc != TS_ESPLIT && switched == 0)
			cli_say("%s on no target: every current is as it was",
			    o->rollback ? "rolled back" :
			    "the release was switched");
	}
	rc = exitcode_for(rc);
out:
	for (i = 0; conns != NULL && i < n; i++)
		ts_conn_free(conns[i]);
	free(conns);
	free(roots);
	free(res);
	report_free(x.r);
	return rc;
}
