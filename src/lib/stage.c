/*
 * New directories of a push built under a temporary name (stage.h).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "cancel.h"
#include "entries.h"
#include "error.h"
#include "job.h"
#include "log.h"
#include "path.h"
#include "plan.h"
#include "pool.h"
#include "rfs.h"
#include "sftp.h"
#include "stage.h"
#include "tempname.h"

#define STAGE_NO	SIZE_MAX
#define STAGE_TRIES	4	/* RENAMEs of a root cut by a lost connection */

static int
idx_path_cmp(const void *a, const void *b, void *arg)
{
	const struct plan	*p = arg;

	return entries_path_cmp(plan_action_path(&p->v[*(const size_t *)a]),
	    plan_action_path(&p->v[*(const size_t *)b]));
}

/* The root that rel is (or is inside), or STAGE_NO. */
static size_t
stage_find(const struct stage *st, const char *rel)
{
	size_t	 lo = 0, hi = st->n, mid;

	/* The last root sorting at or before rel: a root's whole subtree
	 * sorts right after it, before any other name. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (entries_path_cmp(st->v[mid].rel, rel) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return STAGE_NO;
	lo--;
	return strcmp(st->v[lo].rel, rel) == 0 ||
	    entries_is_under(rel, st->v[lo].rel) ? lo : STAGE_NO;
}

/* Whether the files under dir (of files[], actions sorted by path) are
 * few and small enough to build it under a temporary name. */
static bool
stage_fits(const struct job *j, const char *dir, const size_t *files,
    size_t nfiles)
{
	const struct entry	*e;
	size_t			 lo = 0, hi = nfiles, mid, n = 0;
	uint64_t		 bytes = 0;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (entries_path_cmp(plan_action_path(&j->plan.v[files[mid]]),
		    dir) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < nfiles; lo++) {
		e = j->plan.v[files[lo]].src;
		if (!entries_is_under(e->path, dir))
			break;
		bytes += e->size;
		if (++n > STAGE_MAX_FILES || bytes > STAGE_MAX_BYTES ||
		    job_partial_applies(j, e->size))
			return false;
	}
	return n > 0;		/* an empty tree gains nothing */
}

static int
stage_add(struct stage *st, const struct job *j, size_t idx)
{
	struct stage_root	*r = &st->v[st->n];

	memset(r, 0, sizeof(*r));
	r->mkdir_idx = idx;
	if ((r->rel = strdup(plan_action_path(&j->plan.v[idx]))) == NULL ||
	    (r->final = path_join(j->remote_root, r->rel)) == NULL ||
	    tempname_make(&r->tmp, r->final, TEMPNAME_TMP) != 0 ||
	    (r->tmp1 = strdup(r->tmp)) == NULL) {
		free(r->rel);
		free(r->final);
		free(r->tmp);
		return -1;
	}
	atomic_init(&r->state, STAGE_BUILDING);
	st->n++;
	return 0;
}

int
stage_build(struct job *j, struct ts_error *err)
{
	struct stage		*st = &j->stage;
	const struct action	*a;
	size_t			*dirs = NULL, *files = NULL, nd = 0, nf = 0, i, k;
	const char		*last = NULL;
	int			 rc = 0;

	if (j->pull || j->opts->dry_run || j->plan.n == 0)
		return 0;
	for (i = 0; i < j->plan.n; i++)
		if (j->out[i].hlink)
			return 0;
	if ((dirs = malloc(j->plan.n * sizeof(*dirs))) == NULL ||
	    (files = malloc(j->plan.n * sizeof(*files))) == NULL)
		goto oom;
	for (i = 0; i < j->plan.n; i++) {
		a = &j->plan.v[i];
		if (a->kind == ACT_MKDIR)
			dirs[nd++] = i;
		else if (a->kind == ACT_COPY)
			files[nf++] = i;
	}
	qsort_r(dirs, nd, sizeof(*dirs), idx_path_cmp, &j->plan);
	qsort_r(files, nf, sizeof(*files), idx_path_cmp, &j->plan);
	if (nd > 0 && (st->v = calloc(nd, sizeof(*st->v))) == NULL)
		goto oom;
	/* In path order a directory comes before its subdirectories: one
	 * inside the last root is inside that root; any other has its
	 * parent on the server, or made at its final name (too big). */
	for (k = 0; k < nd; k++) {
		const char	*p = plan_action_path(&j->plan.v[dirs[k]]);

		if (last != NULL && entries_is_under(p, last))
			continue;
		if (!stage_fits(j, p, files, nf))
			continue;
		if (stage_add(st, j, dirs[k]) != 0)
			goto oom;
		last = st->v[st->n - 1].rel;
	}
	if (st->n > 0) {
		if ((st->of = malloc(j->plan.n * sizeof(*st->of))) == NULL)
			goto oom;
		for (i = 0; i < j->plan.n; i++) {
			a = &j->plan.v[i];
			/* A directory's attributes are set last, at its
			 * final name, and what a type change removes first
			 * is at its own: not waited for. */
			st->of[i] = a->kind == ACT_DELETE ||
			    (a->kind == ACT_SETATTR &&
			    a->src->type == ENTRY_DIR) ? STAGE_NO :
			    stage_find(st, plan_action_path(a));
			if (st->of[i] != STAGE_NO)
				st->v[st->of[i]].left++;
		}
		log_msg(TS_LOG_DEBUG, "%zu new director%s built under a "
		    "temporary name", st->n, st->n == 1 ? "y" : "ies");
	}
	goto out;
oom:
	rc = error_set(err, TS_ENOMEM, "out of memory");
out:
	free(dirs);
	free(files);
	return rc;
}

void
stage_dispose(struct stage *st)
{
	size_t	 k;

	for (k = 0; k < st->n; k++) {
		free(st->v[k].rel);
		free(st->v[k].final);
		free(st->v[k].tmp);
		free(st->v[k].tmp1);
	}
	free(st->v);
	free(st->of);
	free(st->uncertain);
	memset(st, 0, sizeof(*st));
}

char *
stage_path(const struct job *j, const char *rel)
{
	const struct stage_root	*r;
	size_t			 k = stage_find(&j->stage, rel);
	char			*p;

	if (k == STAGE_NO)
		return path_join(j->remote_root, rel);
	r = &j->stage.v[k];
	if (atomic_load(&r->state) == STAGE_DONE)
		return path_join(j->remote_root, rel);
	if (asprintf(&p, "%s%s", r->tmp, rel + strlen(r->rel)) < 0)
		return NULL;
	return p;
}

bool
stage_in_place(const struct job *j, size_t idx)
{
	const struct action	*a = &j->plan.v[idx];

	return j->stage.of != NULL && j->stage.of[idx] != STAGE_NO &&
	    a->kind == ACT_COPY && a->dst == NULL && j->tries[idx] == 0;
}

void
stage_taint(struct job *j, size_t idx)
{
	struct stage	*st = &j->stage;
	size_t		*v;

	pthread_mutex_lock(&j->mu);
	st->v[st->of[idx]].tainted = true;
	if (st->nuncertain == st->uncertain_cap) {
		st->uncertain_cap = st->uncertain_cap * 2 + 16;
		if ((v = realloc(st->uncertain, st->uncertain_cap *
		    sizeof(*v))) == NULL) {
			/* Unknown which: the root is not moved at all. */
			st->v[st->of[idx]].untracked = true;
			pthread_mutex_unlock(&j->mu);
			return;
		}
		st->uncertain = v;
	}
	st->uncertain[st->nuncertain++] = idx;
	pthread_mutex_unlock(&j->mu);
}

void
stage_ended(struct job *j, size_t idx)
{
	struct stage_root	*r;
	size_t			 left;
	bool			 tainted, made;

	if (j->stage.of == NULL || j->stage.of[idx] == STAGE_NO)
		return;
	r = &j->stage.v[j->stage.of[idx]];
	pthread_mutex_lock(&j->mu);
	left = --r->left;
	tainted = r->tainted;
	made = j->out[r->mkdir_idx].done && j->out[r->mkdir_idx].code == TS_OK;
	pthread_mutex_unlock(&j->mu);
	if (left > 0)
		return;
	if (!made)
		atomic_store(&r->state, STAGE_NONE);
	else if (tainted)
		atomic_store(&r->state, STAGE_SETTLE);
	else if (atomic_load(&j->stage.no_dir_rename))
		atomic_store(&r->state, STAGE_MERGE);
	else {
		atomic_store(&r->state, STAGE_RENAMING);
		if (pool_add(&j->pool, STAGE_ITEM_BASE +
		    (size_t)(r - j->stage.v)) != 0)
			atomic_store(&r->state, STAGE_SETTLE);
	}
}

/* --- the RENAME of a root, on a worker ----------------------------- */

struct stage_op {
	struct actor	*w;
	size_t		 k;
};

static void
stage_op_end(struct stage_op *op, bool lost)
{
	struct job		*j = op->w->job;
	struct stage_root	*r = &j->stage.v[op->k];

	op->w->active--;
	/* A lost reply: the RENAME may be done or not; the next try, or
	 * stage_settle(), finds out. */
	if (lost && ++r->tries < STAGE_TRIES && !cancel_requested()) {
		pool_retry(&j->pool, STAGE_ITEM_BASE + op->k);
		free(op);
		return;
	}
	if (atomic_load(&r->state) != STAGE_DONE &&
	    atomic_load(&r->state) != STAGE_MERGE)
		atomic_store(&r->state, STAGE_SETTLE);
	pool_done(&j->pool, 1);
	free(op);
}

static void
stage_on_rename(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct stage_op		*op = payload;
	struct stage_root	*root = &op->w->job->stage.v[op->k];

	if (r->type == SSH_FXP_STATUS && r->status == SSH_FX_OK) {
		atomic_store(&root->state, STAGE_DONE);
		log_msg(TS_LOG_DEBUG, "\"%s\": built, moved into place",
		    root->rel);
	} else if (r->type == SSH_FXP_STATUS &&
	    r->status == SSH_FX_OP_UNSUPPORTED) {
		atomic_store(&op->w->job->stage.no_dir_rename, true);
		atomic_store(&root->state, STAGE_MERGE);
	}
	stage_op_end(op, sftp_failed(s) != NULL);
}

void
stage_start(struct actor *w, size_t item)
{
	struct stage_root	*r;
	struct stage_op		*op;
	int			 rc;

	if ((op = calloc(1, sizeof(*op))) == NULL) {
		pool_done(&w->job->pool, 1);	/* settled later */
		return;
	}
	op->w = w;
	op->k = item - STAGE_ITEM_BASE;
	r = &w->job->stage.v[op->k];
	w->active++;
	rc = sftp_has(w->s, SFTP_EXT_POSIX_RENAME) ?
	    sftp_posix_rename(w->s, r->tmp, r->final, stage_on_rename, op) :
	    sftp_rename(w->s, r->tmp, r->final, stage_on_rename, op);
	if (rc != 0)
		stage_op_end(op, true);
}

/* --- what is left, one request at a time --------------------------- */

/* One request and its status: 0, or the SSH_FX_* status (-1: lost). */
static int
call_status(struct sftp *s, int sent, struct sftp_call *c)
{
	struct ts_error	 e = { 0 };
	int		 st;

	if (sftp_call_wait(s, sent, c, "", "", &e) == 0)
		st = 0;
	else
		st = c->done && c->status != SSH_FX_OK ? (int)c->status : -1;
	sftp_call_dispose(c);
	return st;
}

static int
do_rename(struct sftp *s, const char *from, const char *to)
{
	struct sftp_call	 c = { 0 };

	return call_status(s, sftp_has(s, SFTP_EXT_POSIX_RENAME) ?
	    sftp_posix_rename(s, from, to, sftp_call_cb, &c) :
	    sftp_rename(s, from, to, sftp_call_cb, &c), &c);
}

/* 1: a directory is at path, 0: nothing, -1: something else or lost. */
static int
is_dir(struct sftp *s, const char *path)
{
	struct sftp_attrs	 a;
	struct ts_error		 e = { 0 };

	if (rfs_stat(s, path, &a, &e) == 0)
		return rfs_is_dir(&a) ? 1 : -1;
	return e.code == TS_ENOENT && sftp_failed(s) == NULL ? 0 : -1;
}

static void
stage_left(struct job *j, struct stage_root *r, const char *why)
{
	log_msg(TS_LOG_ERROR, "new directory \"%s\" is left as \"%s\" (%s); "
	    "the next run removes it and sends its files again", r->rel,
	    r->tmp, why);
	j->stage.errors++;
}

/* Requests sent at once on one engine, each reply's status kept. */
struct flight {
	struct sftp	*s;
	size_t		 active;
};

struct flight_req {
	struct flight	*f;
	int		*status;	/* 0, the SSH_FX_* status, or -1: lost */
};

static void
flight_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct flight_req	*q = payload;

	*q->status = sftp_failed(s) != NULL ? -1 :
	    r->type == SSH_FXP_STATUS ? (int)r->status : 0;
	q->f->active--;
	free(q);
}

/* A request's payload, once the engine has room; NULL (and *status -1)
 * when the session failed. */
static struct flight_req *
flight_req(struct flight *f, int *status)
{
	struct flight_req	*q;

	*status = -1;
	while (!sftp_room(f->s, 0) && sftp_failed(f->s) == NULL)
		sftp_pump(f->s, NULL);
	if (sftp_failed(f->s) != NULL || (q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->f = f;
	q->status = status;
	return q;
}

static void
flight_sent(struct flight *f, struct flight_req *q, int rc)
{
	if (rc != 0)
		free(q);	/* no reply will come: *status stays -1 */
	else
		f->active++;
}

/* Waits for every reply (a failing session answers them all). */
static void
flight_wait(struct flight *f)
{
	while (f->active > 0)
		sftp_pump(f->s, NULL);
}

/* The remote path of entry rel of root r, under its temporary name. */
static char *
staged_path(const struct stage_root *r, const char *rel)
{
	char	*p;

	return asprintf(&p, "%s%s", r->tmp, rel + strlen(r->rel)) < 0 ?
	    NULL : p;
}


/*
 * Moves what the roots in state STAGE_MERGE hold into their final names
 * entry by entry, all of them at once, when they could not be renamed
 * there whole: another run made the directory meanwhile, or the server
 * renames no directory.  Directories
 * are made at their final names (level by level; one there already is
 * used), files and symlinks renamed into them (all at once), the emptied
 * temporary ones removed (deepest first), and the directories made here
 * given their attributes.  Entries that could not be moved are said,
 * counted, and stay under the temporary name for the next run to remove.
 */
static void
stage_merge(struct job *j, struct sftp *s)
{
	struct stage_root	*r;
	struct flight		 f = { s, 0 };
	struct flight_req	*q;
	struct sftp_attrs	 at;
	const struct action	*a;
	size_t			*e = NULL, n = 0, i, k;
	int			*st = NULL, *gone = NULL, d, d0 = INT_MAX;
	int			 maxd = 0;
	char			*from, *to;
	bool			 posix = sftp_has(s, SFTP_EXT_POSIX_RENAME);

	for (k = 0; k < j->stage.n; k++)
		if (atomic_load(&j->stage.v[k].state) == STAGE_MERGE) {
			log_msg(TS_LOG_INFO, "\"%s\" could not be renamed into "
			    "place whole: moving its entries one by one",
			    j->stage.v[k].rel);
			if ((d = path_depth(j->stage.v[k].rel)) < d0)
				d0 = d;
		}
	if (d0 == INT_MAX)
		return;
	if ((e = calloc(j->plan.n, sizeof(*e))) == NULL ||
	    (st = calloc(j->plan.n, sizeof(*st))) == NULL ||
	    (gone = calloc(j->plan.n, sizeof(*gone))) == NULL) {
		for (k = 0; k < j->stage.n; k++)
			if (atomic_load(&j->stage.v[k].state) == STAGE_MERGE)
				stage_left(j, &j->stage.v[k], "out of memory");
		goto out;
	}
	for (i = 0; i < j->plan.n; i++) {
		a = &j->plan.v[i];
		if (j->stage.of[i] != STAGE_NO && atomic_load(
		    &j->stage.v[j->stage.of[i]].state) == STAGE_MERGE &&
		    j->out[i].code == TS_OK && (a->kind == ACT_MKDIR ||
		    a->kind == ACT_COPY || a->kind == ACT_SYMLINK)) {
			e[n++] = i;
			if ((d = path_depth(a_path(j, i))) > maxd)
				maxd = d;
		}
	}
	/* Directories, parents first; the root among them. */
	for (d = d0; d <= maxd; d++) {
		for (i = 0; i < n; i++) {
			a = &j->plan.v[e[i]];
			if (a->kind != ACT_MKDIR || path_depth(a_path(j, e[i])) != d)
				continue;
			memset(&at, 0, sizeof(at));
			at.flags = SSH_FILEXFER_ATTR_PERMISSIONS;
			at.perm = (a->src->mode & 0777) | 0700;
			if ((to = path_join(j->remote_root, a_path(j, e[i]))) ==
			    NULL || (q = flight_req(&f, &st[i])) == NULL) {
				free(to);
				continue;
			}
			flight_sent(&f, q, sftp_mkdir(s, to, &at,
			    flight_on_reply, q));
			free(to);
		}
		flight_wait(&f);
	}
	/* Files and symlinks. */
	for (i = 0; i < n; i++) {
		a = &j->plan.v[e[i]];
		if (a->kind == ACT_MKDIR)
			continue;
		r = &j->stage.v[j->stage.of[e[i]]];
		from = staged_path(r, a_path(j, e[i]));
		to = path_join(j->remote_root, a_path(j, e[i]));
		if (from != NULL && to != NULL &&
		    (q = flight_req(&f, &st[i])) != NULL)
			flight_sent(&f, q, posix ? sftp_posix_rename(s, from,
			    to, flight_on_reply, q) : sftp_rename(s, from, to,
			    flight_on_reply, q));
		free(from);
		free(to);
	}
	flight_wait(&f);
	for (i = 0; i < n; i++)
		if (j->plan.v[e[i]].kind != ACT_MKDIR && st[i] != 0) {
			log_msg(TS_LOG_ERROR, "\"%s\" could not be moved into "
			    "place; it stays in \"%s\" until the next run",
			    a_path(j, e[i]),
			    j->stage.v[j->stage.of[e[i]]].tmp);
			j->stage.errors++;
		}
	/* The temporary directories, emptied: deepest first.  A directory
	 * made here (status 0) then gets its attributes. */
	for (d = maxd; d >= d0; d--) {
		for (i = 0; i < n; i++) {
			if (j->plan.v[e[i]].kind != ACT_MKDIR ||
			    path_depth(a_path(j, e[i])) != d ||
			    (from = staged_path(&j->stage.v[j->stage.of[e[i]]],
			    a_path(j, e[i]))) == NULL)
				continue;
			if ((q = flight_req(&f, &gone[i])) != NULL)
				flight_sent(&f, q, sftp_rmdir(s, from,
				    flight_on_reply, q));
			free(from);
		}
		flight_wait(&f);
	}
	for (i = 0; i < n; i++) {
		a = &j->plan.v[e[i]];
		if (a->kind != ACT_MKDIR || st[i] != 0 ||
		    (to = path_join(j->remote_root, a_path(j, e[i]))) == NULL)
			continue;
		memset(&at, 0, sizeof(at));
		at.flags = SSH_FILEXFER_ATTR_PERMISSIONS |
		    SSH_FILEXFER_ATTR_ACMODTIME;
		at.perm = a->src->mode & 07777;
		at.atime = at.mtime = (uint32_t)(a->src->mtime_ns / 1000000000);
		if ((q = flight_req(&f, &st[i])) != NULL)
			flight_sent(&f, q, sftp_setstat(s, to, &at,
			    flight_on_reply, q));
		free(to);
	}
	flight_wait(&f);
	for (k = 0; k < j->stage.n; k++)
		if (atomic_load(&j->stage.v[k].state) == STAGE_MERGE) {
			j->stage.v[k].merged = true;
			atomic_store(&j->stage.v[k].state, STAGE_DONE);
		}
out:
	free(e);
	free(st);
	free(gone);
}

/* A root whose file written in place lost its connection: moved to a
 * second temporary name first, which the requests still running there
 * (naming the first) cannot reach; then those files that did not end
 * well go.  Returns 0 when the root may move into place whole; else it
 * is moved in entry by entry, which only ever moves files that ended
 * well (what a lost connection still writes stays behind, under the
 * temporary name the next run removes). */
static int
stage_fence(struct job *j, size_t k, struct sftp *s)
{
	struct stage_root	*r = &j->stage.v[k];
	struct flight		 f = { s, 0 };
	struct flight_req	*q;
	char			*t2, *p;
	size_t			 u, idx;
	int			*st, rc = 0;

	if (tempname_make(&t2, r->final, TEMPNAME_TMP) != 0)
		return -1;
	if (do_rename(s, r->tmp, t2) != 0) {
		free(t2);
		return -1;
	}
	log_msg(TS_LOG_DEBUG, "\"%s\": a connection was lost while writing "
	    "in it; moved to \"%s\" before its cut files go", r->rel, t2);
	free(r->tmp);
	r->tmp = t2;
	if ((st = calloc(j->stage.nuncertain + 1, sizeof(*st))) == NULL)
		return -1;
	for (u = 0; u < j->stage.nuncertain; u++) {
		idx = j->stage.uncertain[u];
		if (j->stage.of[idx] != k || j->out[idx].code == TS_OK)
			continue;
		if ((p = stage_path(j, a_path(j, idx))) == NULL ||
		    (q = flight_req(&f, &st[u])) == NULL) {
			free(p);
			rc = -1;
			break;
		}
		flight_sent(&f, q, sftp_remove(s, p, flight_on_reply, q));
		free(p);
	}
	flight_wait(&f);
	for (u = 0; u < j->stage.nuncertain && rc == 0; u++) {
		idx = j->stage.uncertain[u];
		if (j->stage.of[idx] == k && j->out[idx].code != TS_OK &&
		    st[u] != 0 && st[u] != SSH_FX_NO_SUCH_FILE)
			rc = -1;
	}
	free(st);
	return rc;
}

/* Orphans were named under a root's first temporary name: where they
 * are now (a root moved in entry by entry keeps them). */
static void
stage_move_orphans(struct job *j, const struct stage_root *r)
{
	size_t	 i, n = strlen(r->tmp1);
	char	*p;

	for (i = 0; i < j->norphans; i++)
		if (strncmp(j->orphans[i], r->tmp1, n) == 0 &&
		    j->orphans[i][n] == '/' && asprintf(&p, "%s%s",
		    atomic_load(&r->state) == STAGE_DONE && !r->merged ?
		    r->final : r->tmp,
		    j->orphans[i] + n) >= 0) {
			free(j->orphans[i]);
			j->orphans[i] = p;
		}
}

void
stage_settle(struct job *j)
{
	struct stage_root	*r;
	struct sftp		*s = pool_live(&j->pool);
	size_t			 k;
	int			 st, t;

	for (k = 0; k < j->stage.n; k++) {
		r = &j->stage.v[k];
		st = atomic_load(&r->state);
		if (st == STAGE_DONE || st == STAGE_NONE ||
		    !j->out[r->mkdir_idx].done ||
		    j->out[r->mkdir_idx].code != TS_OK)
			continue;
		if (s == NULL) {
			stage_left(j, r, "no connection left");
			continue;
		}
		if (st == STAGE_MERGE || atomic_load(&j->stage.no_dir_rename) ||
		    r->untracked || (r->tainted && stage_fence(j, k, s) != 0)) {
			atomic_store(&r->state, STAGE_MERGE);
			continue;
		}
		if ((st = do_rename(s, r->tmp, r->final)) == 0)
			atomic_store(&r->state, STAGE_DONE);
		else if (st < 0)
			stage_left(j, r, "connection lost");
		else if (st == SSH_FX_OP_UNSUPPORTED) {
			atomic_store(&j->stage.no_dir_rename, true);
			atomic_store(&r->state, STAGE_MERGE);
		} else if ((t = is_dir(s, r->tmp)) == 0 &&
		    is_dir(s, r->final) == 1)
			atomic_store(&r->state, STAGE_DONE); /* a lost reply */
		else if (t == 1 && is_dir(s, r->final) >= 0)
			atomic_store(&r->state, STAGE_MERGE); /* a directory
								* there, or
								* none */
		else
			stage_left(j, r, "something else took its final name");
	}
	if (s != NULL)
		stage_merge(j, s);
	for (k = 0; k < j->stage.n; k++)
		stage_move_orphans(j, &j->stage.v[k]);
}
