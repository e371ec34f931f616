/*
 * Tree jobs: push (and diff, a push that changes nothing) and check.
 *
 * A push walks both trees, plans, then carries the plan out in phases
 * whose order matters on servers that run requests concurrently (the
 * draft only orders requests on the same file): deletes that make way for
 * a type change, directories level by level, then every file, link and
 * attribute change pipelined with many files in flight, then --delete
 * deepest first, then directory attributes.  Results are reported in plan
 * order, whatever order the replies come in.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cancel.h"
#include "caseclash.h"
#include "conn.h"
#include "job.h"
#include "error.h"
#include "path.h"
#include "hash.h"
#include "idmap.h"
#include "local_open.h"
#include "metadata.h"
#include "log.h"
#include "ltree.h"
#include "plan.h"
#include "ratelimit.h"
#include "sigstore.h"
#include "tempname.h"
#include "verify.h"
#include "walk_local.h"
#include "walk_remote.h"
#include "xfer.h"
#include "version.h"

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static enum ts_item_type
item_type(const struct entry *e)
{
	if (e == NULL)
		return TS_TYPE_FILE;
	return e->type == ENTRY_DIR ? TS_TYPE_DIR :
	    e->type == ENTRY_SYMLINK ? TS_TYPE_SYMLINK : TS_TYPE_FILE;
}

const char *
a_path(const struct job *j, size_t idx)
{
	return plan_action_path(&j->plan.v[idx]);
}

/* Whether an action that failed this way is worth starting again: the
 * connection dropped, or the local file changed while it was sent. */
static bool
retryable(int code, int sys_errno)
{
	return code == TS_ECONN || (code == TS_ELOCAL && sys_errno == EAGAIN);
}

static void
job_finish2(struct job *j, size_t idx, int code, int sys_errno,
    const char *msg)
{
	struct outcome	*o = &j->out[idx];

	pthread_mutex_lock(&j->mu);
	if (o->done) {
		pthread_mutex_unlock(&j->mu);
		return;
	}
	/* A file whose connection dropped is not to blame: it goes back to
	 * the queue while workers live (each reconnects --retries times at
	 * most); the cap only stops a file that kills every connection. */
	if (retryable(code, sys_errno) && j->tries != NULL &&
	    j->tries[idx] < (code == TS_ECONN ? 2 * (j->retries + 1) *
	    j->pool.nw : j->retries) && !cancel_requested()) {
		j->tries[idx]++;
		pthread_mutex_unlock(&j->mu);
		pool_retry(&j->pool, idx);
		log_msg(TS_LOG_DEBUG, "\"%s\" will be tried again: %s",
		    a_path(j, idx), msg != NULL ? msg : "");
		return;
	}
	o->done = true;
	o->code = code;
	if (code != TS_OK)
		o->error = strdup(msg != NULL ? msg : "failed");
	pthread_mutex_unlock(&j->mu);
	stage_ended(j, idx);	/* before the batch may end */
	pool_done(&j->pool, 1);
}

void
job_finish(struct job *j, size_t idx, int code, const char *msg)
{
	job_finish2(j, idx, code, 0, msg);
}

void
job_finish_error(struct job *j, size_t idx, const struct ts_error *e)
{
	job_finish2(j, idx, e->code, e->sys_errno, e->msg);
}

/* Adds a copy of path to the list *v (under j->mu); best effort. */
static void
path_list_add(struct job *j, char ***v, size_t *n, size_t *cap,
    const char *path)
{
	char	**nv;

	pthread_mutex_lock(&j->mu);
	if (*n == *cap) {
		size_t	 c = *cap != 0 ? *cap * 2 : 16;

		if ((nv = realloc(*v, c * sizeof(*nv))) == NULL) {
			pthread_mutex_unlock(&j->mu);
			return;
		}
		*v = nv;
		*cap = c;
	}
	if (((*v)[*n] = strdup(path)) != NULL)
		(*n)++;
	pthread_mutex_unlock(&j->mu);
}

void
job_orphan(struct job *j, const char *path)
{
	path_list_add(j, &j->orphans, &j->norphans, &j->orphans_cap, path);
}

/* -o/-g: TS_ATTR_OWNER and TS_ATTR_GROUP where they differ. */
static unsigned
owner_attrs(const struct job *j, const struct action *a)
{
	unsigned	 at = 0;

	if (j->opts->owner && a->src->uid != a->dst->uid)
		at |= TS_ATTR_OWNER;
	if (j->opts->group && a->src->gid != a->dst->gid)
		at |= TS_ATTR_GROUP;
	return at;
}

/* Tells the caller about every action done so far, in plan order, and
 * counts them in the summary. */
void
job_report(struct job *j)
{
	const struct action	*a;
	const struct entry	*e;
	struct outcome		*o;
	struct ts_item		 it;

	/* Under the lock: workers mark outcomes done meanwhile. */
	pthread_mutex_lock(&j->mu);
	for (; j->reported < j->plan.n && j->out[j->reported].done;
	    j->reported++) {
		a = &j->plan.v[j->reported];
		o = &j->out[j->reported];
		e = a->src != NULL ? a->src : a->dst;
		memset(&it, 0, sizeof(it));
		it.path = plan_action_path(a);
		it.type = item_type(e);
		it.reason = plan_reason_name(a->reason);
		it.link = e->type == ENTRY_SYMLINK ? e->link : NULL;
		it.size = e->type == ENTRY_FILE ? e->size : 0;
		it.created = a->dst == NULL;
		it.code = o->code;
		it.error = o->error;
		switch (a->kind) {
		case ACT_MKDIR:
			it.action = TS_ITEM_MKDIR;
			if (o->code == TS_OK)
				j->sum->dirs_created++;
			break;
		case ACT_COPY:
			if (o->link || o->hlink) {
				it.action = TS_ITEM_HARDLINK;
				if (o->code == TS_OK)
					j->sum->files_linked++;
				break;
			}
			it.action = j->pull ? TS_ITEM_DOWNLOAD : TS_ITEM_UPLOAD;
			if (a->dst != NULL && a->dst->type == a->src->type) {
				if (a->dst->size != a->src->size)
					it.attrs |= TS_ATTR_SIZE;
				if (a->dst->mtime_ns / 1000000000 !=
				    a->src->mtime_ns / 1000000000)
					it.attrs |= TS_ATTR_MTIME;
				if (a->dst->mode != a->src->mode)
					it.attrs |= TS_ATTR_MODE;
				it.attrs |= owner_attrs(j, a);
			}
			if (o->code == TS_OK) {
				if (a->dst == NULL)
					j->sum->files_created++;
				else
					j->sum->files_updated++;
				it.delta = o->delta;
				/* What crossed the wire: a delta's literals,
				 * a sparse file's data (-S). */
				j->sum->bytes_sent += o->delta ? o->literal :
				    o->has_wire ? o->wire : a->src->size;
				j->sum->bytes_literal += o->delta ? o->literal :
				    o->has_wire ? o->wire : a->src->size;
				j->sum->bytes_matched += o->matched;
			}
			break;
		case ACT_SYMLINK:
			it.action = TS_ITEM_SYMLINK;
			if (o->code == TS_OK)
				j->sum->symlinks++;
			/* One cause for all of them: the CLI says it once. */
			else if (atomic_load(&j->links.order) ==
			    LINK_ORDER_NONE)
				it.reason = "unsupported";
			break;
		case ACT_SETATTR:
			/* A directory's mtime put back after changes inside
			 * it is bookkeeping, not a change to report. */
			if (a->reason == REASON_CONTENTS && o->code == TS_OK)
				continue;
			it.action = TS_ITEM_SETATTR;
			if ((a->attrs & ATTR_MODE) != 0)
				it.attrs |= TS_ATTR_MODE;
			if ((a->attrs & ATTR_MTIME) != 0)
				it.attrs |= TS_ATTR_MTIME;
			if ((a->attrs & ATTR_OWNER) != 0 && a->dst != NULL)
				it.attrs |= owner_attrs(j, a);
			it.created = false;
			if (o->code == TS_OK)
				j->sum->attrs_set++;
			break;
		case ACT_DELETE:
			it.action = TS_ITEM_DELETE;
			it.created = false;
			if (o->code == TS_OK)
				j->sum->files_deleted++;
			break;
		case ACT_CONFLICT:
			it.action = TS_ITEM_CONFLICT;
			break;
		default:
			continue;
		}
		if (o->code != TS_OK)
			j->sum->errors++;
		if (j->fn != NULL)
			j->fn(&it, j->payload);
	}
	pthread_mutex_unlock(&j->mu);
}

/* Reports a walk problem as a skipped item. */
static void
report_problems(struct job *j, const struct walk_problems *wp)
{
	struct ts_item	 it;
	size_t		 i;

	for (i = 0; i < wp->n; i++) {
		memset(&it, 0, sizeof(it));
		it.action = TS_ITEM_SKIP;
		it.path = wp->v[i].path;
		it.reason = "unreadable";
		it.code = wp->v[i].err.code != TS_OK ? wp->v[i].err.code :
		    TS_ELOCAL;
		it.error = wp->v[i].err.msg;
		j->sum->errors++;
		if (j->fn != NULL)
			j->fn(&it, j->payload);
	}
	if (wp->total > wp->n)
		j->sum->errors += wp->total - wp->n;
}

int
job_filter_build(struct filter *f, const struct ts_sync_opts *o,
    struct ts_error *err)
{
	const struct ts_filter_rule	*r;
	size_t				 i;
	int				 rc;

	filter_init(f);
	for (i = 0; i < o->nrules; i++) {
		r = &o->rules[i];
		if (r->from_file)
			rc = filter_add_file(f, r->pattern, err);
		else
			rc = filter_add(f, r->include ? FILTER_INCLUDE :
			    FILTER_EXCLUDE, r->pattern, err);
		if (rc != 0)
			return rc;
	}
	if (o->files_from != NULL)
		return filter_add_only_file(f, o->files_from, o->from0, err);
	return 0;
}

static int
job_filter(struct job *j, struct ts_error *err)
{
	return job_filter_build(&j->filter, j->opts, err);
}

/* --- hashing both sides -------------------------------------------- */


/* Chooses the hash: XXH3-128 wherever both sides are hashed here, or the
 * server has xxhsum; SHA-256 otherwise (--hash overrides). */
static void
job_choose_hash(struct job *j)
{
	struct actor	*w = &j->act[0];

	actor_probe_exec(w);
	j->hash_remote = w->exec_ok;
	switch (j->opts->hash) {
	case TS_HASH_SHA256:
		j->hash_kind = HASH_SHA256;
		break;
	case TS_HASH_XXH128:
		j->hash_kind = HASH_XXH128;
		/* Without xxhsum on the server, read back and hash here. */
		if (!w->has_xxhsum)
			j->hash_remote = false;
		break;
	case TS_HASH_AUTO:
		j->hash_kind = !w->exec_ok || w->has_xxhsum ? HASH_XXH128 :
		    HASH_SHA256;
		break;
	}
	j->sum->hash_used = hash_name(j->hash_kind);
	j->sum->hash_where = j->hash_remote ? "server" : "read-back";
}

static int
hex_to_bytes(uint8_t *out, const char *hex)
{
	size_t	 i, n = strlen(hex) / 2;
	unsigned v;

	for (i = 0; i < n; i++) {
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return (int)n;
}

struct local_hash_work {
	int		 root_fd;
	bool		 follow;	/* -L */
	const struct entry **files;
	size_t		 n;
	enum hash_kind	 kind;
	char		(*hex)[HASH_HEX_MAX];
};

/* Hashes local files; runs on its own thread while the server hashes.
 * A file that cannot be opened as the one the walk saw gets no hash. */
static void *
local_hash_thread(void *arg)
{
	struct local_hash_work	*w = arg;
	struct ts_error		 e;
	struct stat		 st;
	uint8_t			*buf;
	struct hash		 h;
	size_t			 i;
	ssize_t			 n;
	int			 fd;

	if ((buf = malloc(1 << 20)) == NULL)
		return NULL;
	for (i = 0; i < w->n; i++) {
		w->hex[i][0] = '\0';
		memset(&e, 0, sizeof(e));
		if (local_open_file(&fd, &st, w->root_fd, w->files[i]->path,
		    w->follow, w->files[i]->ino, w->files[i]->path, &e) != 0)
			continue;
		if (hash_init(&h, w->kind) != 0) {
			close(fd);
			continue;
		}
		while ((n = read(fd, buf, 1 << 20)) > 0)
			hash_update(&h, buf, (size_t)n);
		hash_final(&h, w->hex[i]);
		hash_dispose(&h);
		if (n < 0)
			w->hex[i][0] = '\0';
		close(fd);
	}
	free(buf);
	return NULL;
}


/* Hashes the pairs the plan asked for, on both sides at once, and records
 * the hashes in the entry lists. */
static int
job_hash_pairs(struct job *j, struct ts_error *err)
{
	struct local_hash_work	 w;
	const struct entry	**lf = NULL, **rf = NULL;
	const char		**rpaths = NULL;
	char			(*lhex)[HASH_HEX_MAX] = NULL;
	char			(*rhex)[HASH_HEX_MAX] = NULL;
	uint8_t			 bytes[HASH_MAX_LEN];
	pthread_t		 th;
	bool			 started = false;
	size_t			 i, n = 0;
	int			 rc = 0, len, own_root = -1;

	for (i = 0; i < j->plan.n; i++)
		if (j->plan.v[i].kind == ACT_NEED_HASH)
			n++;
	if (n == 0)
		return 0;
	job_choose_hash(j);
	if ((lf = calloc(n, sizeof(*lf))) == NULL ||
	    (rf = calloc(n, sizeof(*rf))) == NULL ||
	    (rpaths = calloc(n, sizeof(*rpaths))) == NULL ||
	    (lhex = calloc(n, sizeof(*lhex))) == NULL ||
	    (rhex = calloc(n, sizeof(*rhex))) == NULL) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0, n = 0; i < j->plan.n; i++) {
		if (j->plan.v[i].kind != ACT_NEED_HASH)
			continue;
		lf[n] = j->pull ? j->plan.v[i].dst : j->plan.v[i].src;
		rf[n] = j->pull ? j->plan.v[i].src : j->plan.v[i].dst;
		if ((rpaths[n] = path_join(j->remote_root, rf[n]->path)) ==
		    NULL) {
			rc = error_set(err, TS_ENOMEM, "out of memory");
			goto out;
		}
		n++;
	}
	/* pull opens its root only once planned: a moment's own here. */
	w.root_fd = j->root_fd != -1 ? j->root_fd : (own_root = open(
	    j->local_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	w.follow = j->opts->copy_links && !j->pull;
	w.files = lf;
	w.n = n;
	w.kind = j->hash_kind;
	w.hex = lhex;
	if (pthread_create(&th, NULL, local_hash_thread, &w) == 0)
		started = true;
	else
		local_hash_thread(&w);
	rc = actor_remote_hash(&j->act[0], j->hash_kind, j->hash_remote, rpaths,
	    n, rhex, err);
	if (started)
		pthread_join(th, NULL);
	if (rc != 0)
		goto out;
	/* A side that could not be hashed gets no hash: the planner then
	 * copies the file, which is the safe outcome. */
	for (i = 0; i < n; i++) {
		if (lhex[i][0] == '\0' || rhex[i][0] == '\0') {
			log_msg(TS_LOG_WARN, "could not hash \"%s\"; it will be "
			    "sent again", lf[i]->path);
			rhex[i][0] = 'x';	/* differs from any hex */
			rhex[i][1] = '\0';
		}
		if ((len = hex_to_bytes(bytes, lhex[i])) < 0 ||
		    entries_set_hash(j->pull ? &j->dst : &j->src, lf[i], bytes,
		    (size_t)len,
		    err) != 0) {
			rc = err != NULL && err->code != TS_OK ? err->code :
			    TS_ENOMEM;
			goto out;
		}
		/* Unhashable on the server: a one-byte hash never equals. */
		len = rhex[i][0] == 'x' ? 1 : hex_to_bytes(bytes, rhex[i]);
		if (len < 0 || entries_set_hash(j->pull ? &j->src : &j->dst,
		    rf[i], bytes,
		    (size_t)len, err) != 0) {
			rc = err != NULL && err->code != TS_OK ? err->code :
			    TS_ENOMEM;
			goto out;
		}
	}
out:
	if (own_root != -1)
		close(own_root);
	if (rpaths != NULL)
		for (i = 0; i < n; i++)
			free((char *)rpaths[i]);
	free(lf);
	free(rf);
	free(rpaths);
	free(lhex);
	free(rhex);
	return rc;
}

/* The phases of a push, in order; see the comment at the top. */
enum phase {
	PH_TYPE_DELETE, PH_MKDIR, PH_FILES, PH_LINKS, PH_DELETE, PH_DIR_ATTRS
};

/* Whether action i belongs to phase ph.  -H links go once every file,
 * their first names included, is in place. */
static bool
in_phase(const struct job *j, size_t i, enum phase ph)
{
	const struct action	*a = &j->plan.v[i];

	if (a->kind == ACT_COPY && j->out[i].hlink)
		return ph == PH_LINKS;
	switch (ph) {
	case PH_LINKS:
		return false;
	case PH_TYPE_DELETE:
		return a->kind == ACT_DELETE && a->reason == REASON_TYPE;
	case PH_MKDIR:
		return a->kind == ACT_MKDIR;
	case PH_FILES:
		return a->kind == ACT_COPY || a->kind == ACT_SYMLINK ||
		    a->kind == ACT_CONFLICT || (a->kind == ACT_SETATTR &&
		    a->src->type != ENTRY_DIR);
	case PH_DELETE:
		return a->kind == ACT_DELETE && a->reason != REASON_TYPE;
	case PH_DIR_ATTRS:
		return a->kind == ACT_SETATTR && a->src->type == ENTRY_DIR;
	}
	return false;
}

/* Runs one phase.  Creating and removing go level by level (a directory
 * must exist before its contents, and be empty before it goes), waiting
 * between levels; the rest runs all at once. */
static int
job_phase(struct job *j, enum phase ph, size_t *idx)
{
	size_t	 i, n;
	int	 d, maxd = 0, lo, hi, step;

	for (i = 0; i < j->plan.n; i++)
		if (in_phase(j, i, ph) &&
		    (d = path_depth(plan_action_path(&j->plan.v[i]))) > maxd)
			maxd = d;
	if (ph == PH_FILES || ph == PH_LINKS || ph == PH_DIR_ATTRS) {
		for (i = 0, n = 0; i < j->plan.n; i++)
			if (in_phase(j, i, ph))
				idx[n++] = i;
		if (ph == PH_FILES)
			job_split_files(j, idx, &n);
		job_run(j, idx, n);
		job_splits_dispose(j);
		return 0;
	}
	step = ph == PH_MKDIR ? 1 : -1;
	lo = ph == PH_MKDIR ? 0 : maxd;
	hi = ph == PH_MKDIR ? maxd + 1 : -1;
	for (d = lo; d != hi; d += step) {
		for (i = 0, n = 0; i < j->plan.n; i++)
			if (in_phase(j, i, ph) &&
			    path_depth(plan_action_path(&j->plan.v[i])) == d)
				idx[n++] = i;
		if (n > 0)
			job_run(j, idx, n);
	}
	return 0;
}

/* Whether a remote path names the login directory or "/": "", ".",
 * "~", "/" and the like, which --delete would empty. */
static bool
remote_is_top(const char *p)
{
	if (*p == '~')
		p++;
	while (*p == '/' || (p[0] == '.' && (p[1] == '/' || p[1] == '\0')))
		p++;
	return *p == '\0';
}

/* The root gets the local root's mode and mtime last, as rsync -a src/
 * dst/ does; it is no entry of the plan.  Failing that (a home directory
 * we may not chmod, say) is worth a warning, not a failed push. */
static void
job_root_attrs(struct job *j)
{
	struct sftp_call	 call = { 0 };
	struct sftp_attrs	 a;
	struct ts_error		 e = { 0 };
	struct stat		 st;
	char			*root;

	struct sftp		*s = j->act[0].s;

	/* The login directory or "/" is the server's, not the tree's. */
	if (remote_is_top(j->remote_root))
		return;
	if (stat(j->local_root, &st) != 0 || sftp_failed(s) != NULL ||
	    (root = path_join(j->remote_root, "")) == NULL)
		return;
	memset(&a, 0, sizeof(a));
	a.flags = SSH_FILEXFER_ATTR_PERMISSIONS | SSH_FILEXFER_ATTR_ACMODTIME;
	a.perm = st.st_mode & 07777;
	a.atime = a.mtime = (uint32_t)st.st_mtim.tv_sec;
	if (sftp_call_wait(s, sftp_setstat(s, root, &a, sftp_call_cb, &call),
	    &call, "set attributes of", root, &e) != 0)
		log_msg(TS_LOG_WARN, "%s", e.msg);
	free(root);
}

/* The job's connections opened ahead, lent to the walks as they open:
 * each lists directories with its own server process. */
static struct sftp *
job_lend(void *arg)
{
	struct job	*j = arg;

	return conn_lend_spare(j->conn);
}

/* walk_remote() on the job's connection and the spares lent to it, which
 * it gives back after (j->spares_lost counts those that failed). */
static int
job_walk_remote(struct job *j, struct entries *out, const char *root,
    struct walk_remote_opts *ro, struct walk_problems *wp, bool *missing,
    struct ts_error *err)
{
	int	 rc;

	ro->lend = job_lend;
	ro->lend_arg = j;
	rc = walk_remote(out, j->s, root, ro, wp, missing, err);
	j->spares_lost += conn_return_spares(j->conn);
	return rc;
}

/* With link_dest, new files equal to their copy there (size, mtime to
 * the second, mode) will be hard-linked instead of sent.  A link_dest
 * that cannot be listed only means everything is sent. */
static void
job_link_dest(struct job *j)
{
	struct walk_remote_opts	 ro = WALK_REMOTE_OPTS_INIT;
	struct walk_problems	 wp;
	const struct action	*a;
	const struct entry	*r;
	struct ts_error		 e = { 0 };
	bool			 missing = false;
	size_t			 i;

	if (j->opts->link_dest == NULL)
		return;
	if (!sftp_has(j->s, SFTP_EXT_HARDLINK)) {
		log_msg(TS_LOG_INFO, "the server has no hardlink@openssh.com: "
		    "unchanged files are sent again");
		return;
	}
	walk_problems_init(&wp);
	if (job_walk_remote(j, &j->ref, j->opts->link_dest, &ro, &wp,
	    &missing, &e) != 0)
		log_msg(TS_LOG_WARN, "cannot list \"%s\" to link from: %s",
		    j->opts->link_dest, e.msg);
	walk_problems_dispose(&wp);
	for (i = 0; i < j->plan.n; i++) {
		a = &j->plan.v[i];
		if (a->kind != ACT_COPY || a->dst != NULL ||
		    (r = entries_find(&j->ref, a->src->path)) == NULL)
			continue;
		if (r->type == ENTRY_FILE && r->size == a->src->size &&
		    r->mode == a->src->mode && r->mtime_ns / 1000000000 ==
		    a->src->mtime_ns / 1000000000)
			j->out[i].link = true;
	}
}

/*
 * Takes the temporary files (tempname.h) out of list l before planning:
 * those of the exact form whose path the other side, other, lacks.  They
 * are neither synced nor deleted; when l is the destination and the run
 * that made one is over, it is removed at the end (job_sweep_orphans),
 * else it belongs to a run still going and is left alone.  A file of
 * that form on both sides is a user's, synced like any other.
 */
bool
job_partial_applies(const struct job *j, uint64_t size)
{
	return j->store != NULL && !j->pull && (j->opts->partial > 0 ||
	    (j->opts->partial == 0 && size >= JOB_PARTIAL_MIN));
}

int
job_partial_add(struct job *j, const char *rel, const char *path,
    uint64_t size, const char *key)
{
	struct partial	*v, *p;
	size_t		 cap;
	int		 rc = -1;

	pthread_mutex_lock(&j->mu);
	if (j->npartials == j->partials_cap) {
		cap = j->partials_cap != 0 ? j->partials_cap * 2 : 8;
		if ((v = realloc(j->partials, cap * sizeof(*v))) == NULL)
			goto out;
		j->partials = v;
		j->partials_cap = cap;
	}
	p = &j->partials[j->npartials];
	if ((p->rel = strdup(rel)) == NULL ||
	    (p->path = strdup(path)) == NULL) {
		free(p->rel);
		goto out;
	}
	p->size = size;
	snprintf(p->key, sizeof(p->key), "%.*s", TEMPNAME_KEY_LEN, key);
	j->npartials++;
	rc = 0;
out:
	pthread_mutex_unlock(&j->mu);
	return rc;
}

bool
job_partial_find(struct job *j, const char *rel, struct partial *out)
{
	size_t	 i;
	bool	 found = false;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&j->mu);
	for (i = j->npartials; i-- > 0 && !found; )
		if (strcmp(j->partials[i].rel, rel) == 0) {
			*out = j->partials[i];
			out->rel = strdup(out->rel);
			out->path = strdup(out->path);
			found = out->rel != NULL && out->path != NULL;
		}
	pthread_mutex_unlock(&j->mu);
	return found;
}

static void
job_partials_dispose(struct job *j)
{
	size_t	 i;

	for (i = 0; i < j->npartials; i++) {
		free(j->partials[i].rel);
		free(j->partials[i].path);
	}
	free(j->partials);
	j->partials = NULL;
	j->npartials = j->partials_cap = 0;
}

/*
 * Push: a partial upload (base its name) found by the walk.  Kept for the
 * upload of its file to continue, unless it is older than a week or its
 * file is gone from the source: then removed at the end, as temporary
 * files of ended runs are.
 */
static void
job_partial_seen(struct job *j, const struct entry *e, const char *base,
    time_t now)
{
	const char	*vis;
	char		 key[TEMPNAME_KEY_LEN + 1], *rel = NULL, *p;
	size_t		 vlen;
	int		 n;

	if (j->pull || !tempname_part_key(base, key) ||
	    !tempname_visible(base, &vis, &vlen))
		return;
	n = (int)(base - e->path);
	if (asprintf(&rel, "%.*s%.*s", n, e->path, (int)vlen, vis) < 0)
		return;
	if ((p = path_join(j->remote_root, e->path)) == NULL) {
		free(rel);
		return;
	}
	if (now - e->mtime_ns / 1000000000 > 7 * 24 * 60 * 60 ||
	    entries_find(&j->src, rel) == NULL)
		job_orphan(j, p);
	else if (job_partial_add(j, rel, p, e->size, key) == 0)
		log_msg(TS_LOG_DEBUG, "\"%s\": a partial upload of %llu bytes "
		    "to continue", rel, (unsigned long long)e->size);
	free(p);
	free(rel);
}

static void
job_set_aside_temps(struct job *j, struct entries *l,
    const struct entries *other, bool destination, bool remote)
{
	struct tempname_info	 info;
	const struct entry	*e;
	const char		*base;
	time_t			 now = time(NULL);
	size_t			 i, n = 0;
	char			*p;

	for (i = 0; i < l->n; i++) {
		e = &l->v[i];
		base = strrchr(e->path, '/');
		base = base != NULL ? base + 1 : e->path;
		/* The record of push --metadata, at the remote root, is no
		 * part of the tree either (metadata.h). */
		if (remote && e->type == ENTRY_FILE &&
		    strcmp(e->path, META_NAME) == 0 &&
		    entries_find(other, e->path) == NULL)
			continue;
		if ((e->type == ENTRY_DIR && (!remote ||
		    !tempname_parse(base, &info) || info.kind != TEMPNAME_TMP)) ||
		    (e->type != ENTRY_DIR && !tempname_parse(base, &info)) ||
		    entries_find(other, e->path) != NULL) {
			l->v[n++] = *e;
			continue;
		}
		/* A new directory a push builds (stage.h): all of it. */
		if (e->type == ENTRY_DIR) {
			while (i + 1 < l->n &&
			    entries_is_under(l->v[i + 1].path, e->path))
				i++;
			if (!destination)
				continue;
			if (!tempname_is_orphan(&info, now))
				j->temps_live++;
			else if ((p = path_join(j->remote_root, e->path)) !=
			    NULL) {
				path_list_add(j, &j->orphan_dirs,
				    &j->norphan_dirs, &j->orphan_dirs_cap, p);
				free(p);
			}
			continue;
		}
		if (!destination)
			continue;
		if (info.kind == TEMPNAME_PART) {
			job_partial_seen(j, e, base, now);
			continue;
		}
		if (!tempname_is_orphan(&info, now)) {
			j->temps_live++;
			continue;
		}
		p = j->pull ? strdup(e->path) : path_join(j->remote_root,
		    e->path);
		if (p != NULL) {
			job_orphan(j, p);
			free(p);
		}
	}
	l->n = n;
	if (j->temps_live > 0)
		log_msg(TS_LOG_INFO, "left alone: %zu temporary files of a run "
		    "still going", j->temps_live);
}

/*
 * --delete where a slip costs a whole tree: from an empty source (an
 * unmounted disk, a wrong path), or into the remote home or "/".  Refused,
 * with nothing deleted, unless max_delete (for an empty source) or
 * force_delete says it is meant.
 */
static int
job_delete_guard(struct job *j, struct ts_error *err)
{
	const char	*src = j->pull ? j->remote_root : j->local_root;

	if (!j->opts->delete_extra || j->opts->force_delete)
		return 0;
	if (j->src.n == 0 && j->dst.n > 0 && j->opts->max_delete < 0)
		return error_set(err, TS_EMAXDELETE, "refusing --delete: the "
		    "source \"%s\" is empty, so all %zu entries of the "
		    "destination would go (an unmounted disk or a wrong path?); "
		    "if that is meant, add --max-delete %zu or --force-delete",
		    src, j->dst.n, j->dst.n);
	return 0;
}

/* push --metadata: the tree's record (metadata.h) at the remote root,
 * written after the data, verified like it. */
static int
job_send_record(struct job *j, struct ts_error *err)
{
	struct ts_put_opts	 po = TS_PUT_OPTS_INIT;
	const char		*paths[1] = { j->local_root }, *bases[1] = { "" };
	char			*local, *dst;
	int			 rc;

	if ((rc = meta_write_temp(&local, paths, bases, 1, err)) != 0)
		return rc;
	if ((dst = path_join(j->remote_root, META_NAME)) == NULL)
		rc = error_set(err, TS_ENOMEM, "out of memory");
	po.verify = j->opts->verify;
	po.keep_mode = false;
	if (rc == 0 && (rc = ts_put(NULL, j->pool.w[0].conn, local, dst, &po,
	    err)) == 0)
		log_msg(TS_LOG_INFO, "metadata record written to \"%s\"", dst);
	unlink(local);
	free(local);
	free(dst);
	return rc;
}

/* -o/-g by name: the source's ids become the destination's before
 * planning, so the plan compares like with like (idmap.h). */
static int
job_map_ids(struct job *j, struct ts_error *err)
{
	struct idmap	*m;
	struct entry	*e;
	size_t		 i;
	int		 rc;

	if ((!j->opts->owner && !j->opts->group) || j->opts->numeric_ids)
		return 0;
	if ((rc = idmap_load(&m, j->conn, err)) != 0)
		return rc;
	for (i = 0; i < j->src.n; i++) {
		e = &j->src.v[i];
		e->uid = idmap_map(m, e->uid, false, j->pull);
		e->gid = idmap_map(m, e->gid, true, j->pull);
	}
	idmap_free(m);
	return 0;
}

/*
 * push -H: of the names of one local file (entry.link_group) the first in
 * the tree's order is sent, the others that need sending become hard
 * links to it on the server (hardlink@openssh.com), made once every file
 * is in place (PH_LINKS).  A server without the extension gets separate
 * files, said once.
 */
static int
job_hard_links(struct job *j, struct ts_error *err)
{
	const struct action	*a;
	uint32_t		 g, max = 0;
	size_t			 i, n = 0;

	if (!j->opts->hard_links || j->pull)
		return 0;
	for (i = 0; i < j->src.n; i++)
		if (j->src.v[i].link_group > max)
			max = j->src.v[i].link_group;
	if (max == 0)
		return 0;
	if (!sftp_has(j->s, SFTP_EXT_HARDLINK)) {
		log_msg(TS_LOG_WARN, "the server has no hardlink@openssh.com: "
		    "hard-linked files are sent as separate files");
		return 0;
	}
	if ((j->leader = calloc(max + 1, sizeof(*j->leader))) == NULL ||
	    (j->leader_action = malloc((max + 1) *
	    sizeof(*j->leader_action))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	j->nleaders = max + 1;
	for (g = 0; g <= max; g++)
		j->leader_action[g] = SIZE_MAX;
	for (i = 0; i < j->src.n; i++)
		if ((g = j->src.v[i].link_group) != 0 && j->leader[g] == NULL)
			j->leader[g] = &j->src.v[i];
	for (i = 0; i < j->plan.n; i++) {
		a = &j->plan.v[i];
		if (a->kind != ACT_COPY || a->src == NULL ||
		    (g = a->src->link_group) == 0 || j->out[i].link)
			continue;
		if (j->leader[g] == a->src)
			j->leader_action[g] = i;
		else {
			j->out[i].hlink = true;
			n++;
		}
	}
	if (n > 0)
		log_msg(TS_LOG_INFO, "%zu names are hard links to files sent "
		    "under another name", n);
	return 0;
}

/* Leaves out of l the entries marked in drop and whatever lies under a
 * directory marked (its contents follow it). */
static void
job_drop_marked(struct entries *l, bool *drop)
{
	size_t	 i, k, n;

	for (i = 0; i < l->n; i++)
		if (drop[i] && l->v[i].type == ENTRY_DIR)
			for (k = i + 1; k < l->n && entries_is_under(
			    l->v[k].path, l->v[i].path); k++)
				drop[k] = true;
	for (i = n = 0; i < l->n; i++)
		if (!drop[i])
			l->v[n++] = l->v[i];
	l->n = n;
}

/*
 * --no-links (rsync's name): the source's symlinks are left out of the
 * plan, and whatever stands at their paths on the other side (a directory
 * with its contents) is left alone, as an excluded path would be.
 */
static int
job_drop_links(struct job *j, struct ts_error *err)
{
	const struct entry *d;
	bool		*sdrop, *ddrop;
	size_t		 i;

	sdrop = calloc(j->src.n + 1, sizeof(*sdrop));
	ddrop = calloc(j->dst.n + 1, sizeof(*ddrop));
	if (sdrop == NULL || ddrop == NULL) {
		free(sdrop);
		free(ddrop);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	for (i = 0; i < j->src.n; i++) {
		if (j->src.v[i].type != ENTRY_SYMLINK)
			continue;
		sdrop[i] = true;
		if ((d = entries_find(&j->dst, j->src.v[i].path)) != NULL)
			ddrop[d - j->dst.v] = true;
	}
	job_drop_marked(&j->src, sdrop);
	job_drop_marked(&j->dst, ddrop);
	free(sdrop);
	free(ddrop);
	return 0;
}

/* Where a push may try things on the server before it changes anything:
 * the remote root, or when it is still missing its parent, where it will
 * be made.  NULL when out of memory. */
static char *
job_scratch_dir(const struct job *j)
{
	char	*dir, *slash;

	if ((dir = strdup(j->remote_root)) == NULL || !j->dst_root_missing)
		return dir;
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else
		slash[slash == dir] = '\0';
	return dir;
}

/* Learns the server's SYMLINK order before any real symlink is made
 * (symlink_learn); a directory we cannot write leaves it to the links. */
static int
job_learn_links(struct job *j, struct ts_error *err)
{
	char	*dir;
	int	 rc;

	/* Tests make the real links learn it, as when dir is read-only
	 * (test builds only: -DTS_TEST_HOOKS=ON). */
#ifdef TS_TEST_HOOKS
	if (getenv("TREESYNC_TEST_NO_LINK_LEARN") != NULL)
		return 0;
#endif
	if ((dir = job_scratch_dir(j)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	rc = symlink_learn(j->s, &j->links, dir, NULL, err);
	free(dir);
	return rc;
}

/*
 * Local names differing only in case would be written over each other on
 * a server whose names fold case.  When the local tree has such names,
 * the server is asked once (caseclash.c); where it folds, every name but
 * the first of each group is reported as a clash and left out, with what
 * stands at its path on the server, so nothing is written over and
 * nothing deleted through another name.
 */
static int
job_case_clashes(struct job *j, struct ts_error *err)
{
	struct case_clash *v = NULL;
	struct ts_item	 it;
	const char	*ex = NULL, *ot = NULL;
	char		*rex = NULL, *rot = NULL, *dir = NULL, msg[512];
	bool		*sdrop = NULL, *ddrop = NULL;
	const struct entry *d;
	size_t		 n, i;
	int		 folds = -1, rc;

	if ((rc = case_clashes(&j->src, &v, &n, err)) != 0 || n == 0)
		return rc;
	/* Without writing when the server lists both names of a pair (it
	 * keeps them apart) or one (is the other found under it?). */
	for (i = 0; i < n && ex == NULL; i++) {
		bool	 k = entries_find(&j->dst, j->src.v[v[i].keep].path) !=
			    NULL;
		bool	 o = entries_find(&j->dst, j->src.v[v[i].idx].path) !=
			    NULL;

		if (k && o)
			goto out;
		if (k || o) {
			ex = j->src.v[k ? v[i].keep : v[i].idx].path;
			ot = j->src.v[k ? v[i].idx : v[i].keep].path;
		}
	}
	if ((dir = job_scratch_dir(j)) == NULL ||
	    (ex != NULL && ((rex = path_join(j->remote_root, ex)) == NULL ||
	    (rot = path_join(j->remote_root, ot)) == NULL))) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = case_folds(j->s, rex, rot, dir, !j->opts->dry_run, &folds,
	    err)) != 0)
		goto out;
	/* A dry run asks only without writing: often it cannot tell. */
	if (folds == -1)
		log_msg(j->opts->dry_run ? TS_LOG_INFO : TS_LOG_WARN,
		    "%zu local name%s differ%s from another "
		    "only in case, and whether names on the server do cannot "
		    "be told: %s sent as they are", n, n == 1 ? "" : "s",
		    n == 1 ? "s" : "", n == 1 ? "it is" : "they are");
	if (folds != 1)
		goto out;
	if ((sdrop = calloc(j->src.n + 1, sizeof(*sdrop))) == NULL ||
	    (ddrop = calloc(j->dst.n + 1, sizeof(*ddrop))) == NULL) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		sdrop[v[i].idx] = true;
		if ((d = entries_find(&j->dst, j->src.v[v[i].idx].path)) !=
		    NULL)
			ddrop[d - j->dst.v] = true;
		snprintf(msg, sizeof(msg), "\"%s\" and \"%s\" differ only in "
		    "case, and names on the server do not: only \"%s\" is "
		    "sent", j->src.v[v[i].idx].path, j->src.v[v[i].keep].path,
		    j->src.v[v[i].keep].path);
		memset(&it, 0, sizeof(it));
		it.action = TS_ITEM_CONFLICT;
		it.type = item_type(&j->src.v[v[i].idx]);
		it.path = j->src.v[v[i].idx].path;
		it.reason = "case-clash";
		it.code = TS_EREMOTE;
		it.error = msg;
		j->sum->errors++;
		if (j->fn != NULL)
			j->fn(&it, j->payload);
	}
	job_drop_marked(&j->src, sdrop);
	job_drop_marked(&j->dst, ddrop);
out:
	free(v);
	free(rex);
	free(rot);
	free(dir);
	free(sdrop);
	free(ddrop);
	return rc;
}

struct local_walk {
	struct entries		*out;
	const char		*root;
	const struct walk_opts	*opts;
	struct walk_problems	*problems;
	struct ts_error		 err;
	int			 rc;
};

static void *
local_walk_main(void *arg)
{
	struct local_walk	*lw = arg;

	lw->rc = walk_local(lw->out, lw->root, lw->opts, lw->problems,
	    &lw->err);
	return NULL;
}

/* Walks both trees and plans (hashing first with --checksum). */
static int
job_plan(struct job *j, bool *maxdel, struct ts_error *err)
{
	struct local_walk	 lw = { 0 };
	pthread_t		 th;
	bool			 threaded;
	struct walk_opts	 wo = WALK_OPTS_INIT;
	struct walk_remote_opts	 ro = WALK_REMOTE_OPTS_INIT;
	struct walk_problems	 lp, rp;
	struct plan_opts	 po = PLAN_OPTS_INIT;
	struct ts_error		 perr = { 0 };
	struct stat		 rst;
	bool			 root_missing = false;
	int			 rc;
	size_t			 i;

	walk_problems_init(&lp);
	walk_problems_init(&rp);
	if ((rc = job_filter(j, err)) != 0)
		goto out;
	/* --bwlimit: one bucket for every connection of the run; it also
	 * counts the bytes moved, for progress. */
	if ((j->opts->bwlimit > 0 || j->opts->progress != NULL) &&
	    j->rate == NULL) {
		if ((rc = ratelimit_new(&j->rate, j->opts->bwlimit, err)) != 0)
			goto out;
		j->xo.rate = j->rate;
	}
	wo.follow_links = j->opts->copy_links;
	wo.filter = &j->filter;
	wo.hard_links = j->opts->hard_links && !j->pull;
	/* push: files are opened later from the root the walk listed, so a
	 * root renamed or replaced meanwhile changes nothing. */
	if (!j->pull && j->root_fd == -1)
		j->root_fd = j->tree != NULL && j->tree->root_fd != -1 ?
		    fcntl(j->tree->root_fd, F_DUPFD_CLOEXEC, 0) :
		    open(j->local_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	wo.root_fd = j->pull ? -1 : j->root_fd;
	/* Before the listing: a delete in the root checks it has not
	 * changed since (act.c, local_still_lacks). */
	j->root_mtime_ns = -1;
	if (j->tree != NULL && j->tree->root_fd != -1)
		j->root_mtime_ns = j->tree->root_mtime_ns;
	else if (j->root_fd != -1 && fstat(j->root_fd, &rst) == 0)
		j->root_mtime_ns = (int64_t)rst.st_mtim.tv_sec * 1000000000 +
		    rst.st_mtim.tv_nsec;
	ro.filter = &j->filter;
	ro.descend_excluded = j->opts->delete_excluded;
	if (j->pull) {
		/* The local side is the destination: it lists everything, so
		 * the planner sees (and protects) excluded local entries. */
		wo.filter = NULL;
		ro.descend_excluded = false;
	}
	/* A push that may send deltas, or any hash check, asks the server
	 * what it runs while the trees are walked (verify.h). */
	if (!j->opts->dry_run && (j->xo.hash || (!j->pull &&
	    j->opts->cache_dir != NULL && !j->opts->whole_file &&
	    sftp_has(j->s, SFTP_EXT_COPY_DATA))))
		tools_probe_start(&j->probe, sftp_ssh(j->s));
	lw.out = j->pull ? &j->dst : &j->src;
	lw.root = j->local_root;
	lw.opts = &wo;
	lw.problems = &lp;
	/* The local walk runs beside the remote one, which mostly waits;
	 * a tree walked already for several pushes is copied instead. */
	if (j->tree != NULL) {
		threaded = false;
		lw.rc = ltree_copy(&j->src, j->tree, &lw.err);
	} else if (!(threaded = pthread_create(&th, NULL, local_walk_main,
	    &lw) == 0))
		local_walk_main(&lw);
	rc = job_walk_remote(j, j->pull ? &j->src : &j->dst, j->remote_root,
	    &ro, &rp, &root_missing, err);
	if (threaded)
		pthread_join(th, NULL);
	if (j->pull) {
		if (rc != 0)
			goto out;
		if (root_missing) {
			rc = error_set(err, TS_ENOENT, "remote directory \"%s\" "
			    "does not exist", j->remote_root);
			goto out;
		}
		report_problems(j, &rp);
		if (lw.rc == TS_ENOENT && access(j->local_root, F_OK) != 0)
			lw.rc = 0;	/* a new directory: empty */
		if ((rc = lw.rc) != 0) {
			*err = lw.err;
			goto out;
		}
		report_problems(j, &lp);
	} else {
		if (lw.rc != 0) {
			*err = lw.err;
			rc = lw.rc;
			goto out;
		}
		report_problems(j, j->tree != NULL ? &j->tree->problems : &lp);
		if (rc != 0)
			goto out;
		j->dst_root_missing = root_missing;
		report_problems(j, &rp);
	}
	/* The remote side's, and pull's local leftovers. */
	job_set_aside_temps(j, &j->dst, &j->src, true, !j->pull);
	if (j->pull)
		job_set_aside_temps(j, &j->src, &j->dst, false, true);
	if (j->opts->no_links && (rc = job_drop_links(j, err)) != 0)
		goto out;
	if (!j->pull && (rc = job_case_clashes(j, err)) != 0)
		goto out;
	for (i = 0; i < j->src.n; i++)
		if (j->src.v[i].type != ENTRY_DIR)
			j->sum->files_scanned++;
	if ((rc = job_delete_guard(j, err)) != 0 ||
	    (rc = job_map_ids(j, err)) != 0)
		goto out;
	po.owner = j->opts->owner;
	po.group = j->opts->group;
	po.delete = j->opts->delete_extra;
	po.delete_excluded = j->opts->delete_excluded;
	po.max_delete = j->opts->max_delete;
	po.checksum = j->opts->checksum;
	po.filter = &j->filter;
	po.size_only = j->opts->size_only;
	po.ignore_existing = j->opts->ignore_existing;
	po.update = j->opts->update;
	rc = plan_build(&j->plan, &j->src, &j->dst, &po, &perr);
	if (rc == 0 && j->plan.stats.need_hash > 0) {
		if ((rc = job_hash_pairs(j, err)) != 0)
			goto out;
		plan_dispose(&j->plan);
		plan_init(&j->plan);
		error_clear(&perr);
		rc = plan_build(&j->plan, &j->src, &j->dst, &po, &perr);
	}
	if (rc == TS_ERROR && j->plan.stats.deletes_refused > 0) {
		*maxdel = true;
		log_msg(TS_LOG_ERROR, "%s", perr.msg);
		error_set(err, TS_EMAXDELETE, "%s", perr.msg);
		rc = 0;
	} else if (rc != 0) {
		error_set(err, perr.code, "%s", perr.msg);
		goto out;
	}
	j->sum->files_unchanged = j->plan.stats.unchanged;
	if (!j->pull && !j->opts->dry_run && j->plan.stats.links > 0 &&
	    (rc = job_learn_links(j, err)) != 0)
		goto out;
	if ((j->out = calloc(j->plan.n + 1, sizeof(*j->out))) == NULL ||
	    (j->tries = calloc(j->plan.n + 1, sizeof(*j->tries))) == NULL) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	job_link_dest(j);
	if ((rc = job_hard_links(j, err)) != 0)
		goto out;
out:
	walk_problems_dispose(&lp);
	walk_problems_dispose(&rp);
	return rc;
}

static void
job_dispose(struct job *j)
{
	size_t	 i;

	tools_probe_dispose(&j->probe);
	if (j->out != NULL)
		for (i = 0; i < j->plan.n; i++)
			free(j->out[i].error);
	free(j->out);
	free(j->tries);
	free(j->leader);
	free(j->leader_action);
	for (i = 0; i < j->norphans; i++)
		free(j->orphans[i]);
	free(j->orphans);
	for (i = 0; i < j->norphan_dirs; i++)
		free(j->orphan_dirs[i]);
	free(j->orphan_dirs);
	stage_dispose(&j->stage);
	for (i = 0; i < POOL_MAX_WORKERS; i++)
		actor_dispose(&j->act[i]);
	pool_dispose(&j->pool);
	pthread_mutex_destroy(&j->mu);
	if (j->root_fd != -1)
		close(j->root_fd);
	job_partials_dispose(j);
	sigstore_free(j->store);
	plan_dispose(&j->plan);
	entries_dispose(&j->src);
	entries_dispose(&j->dst);
	entries_dispose(&j->ref);
	filter_dispose(&j->filter);
	ratelimit_free(j->rate);
}

static int
job_init(struct job *j, struct ts_summary *sum, struct ts_conn *c,
    const char *local_dir, const char *remote_dir,
    const struct ts_sync_opts *opts, ts_item_fn *fn, void *payload)
{
	static const struct ts_sync_opts defaults = TS_SYNC_OPTS_INIT;
	int	 k;

	memset(j, 0, sizeof(*j));
	memset(sum, 0, sizeof(*sum));
	j->root_fd = -1;
	j->conn = c;
	j->s = conn_sftp(c);
	j->opts = opts != NULL ? opts : &defaults;
	j->retries = j->opts->retries >= 0 ? j->opts->retries : 3;
	xfer_opts_for(&j->xo, j->opts->verify, true);
	j->xo.fsync = j->opts->fsync;
	j->xo.sparse = j->opts->sparse;
	if (j->opts->perms)
		j->xo.mode_mask = 07777;
	pool_init(&j->pool, &act_pool_ops, j, c, j->retries);
	for (k = 0; k < POOL_MAX_WORKERS; k++) {
		actor_init(&j->act[k], j, k == 0 ? j->s : NULL);
		j->pool.w[k].user = &j->act[k];
	}
	pthread_mutex_init(&j->mu, NULL);
	tools_probe_init(&j->probe);
	j->local_root = local_dir;
	j->remote_root = remote_dir;
	j->fn = fn;
	j->payload = payload;
	j->sum = sum;
	entries_init(&j->src);
	entries_init(&j->dst);
	entries_init(&j->ref);
	plan_init(&j->plan);
	filter_init(&j->filter);
	sum->dry_run = j->opts->dry_run;
	return 0;
}

/* Forgets a plan made in part, to walk and plan again. */
static void
job_unplan(struct job *j, const struct ts_summary *saved)
{
	size_t	 i;

	if (j->out != NULL)
		for (i = 0; i < j->plan.n; i++)
			free(j->out[i].error);
	free(j->out);
	free(j->tries);
	free(j->leader);
	free(j->leader_action);
	j->out = NULL;
	j->tries = NULL;
	j->leader = NULL;
	j->leader_action = NULL;
	j->nleaders = 0;
	plan_dispose(&j->plan);
	plan_init(&j->plan);
	entries_dispose(&j->src);
	entries_dispose(&j->dst);
	entries_dispose(&j->ref);
	entries_init(&j->src);
	entries_init(&j->dst);
	entries_init(&j->ref);
	filter_dispose(&j->filter);
	filter_init(&j->filter);
	job_partials_dispose(j);
	*j->sum = *saved;
}

/* Walks and plans; a connection dropped meanwhile is opened again (on a
 * connection of our own: the caller's is gone) and the walk starts over,
 * with backoff, as a worker reconnects (pool.c). */
static int
job_plan_retrying(struct job *j, bool *maxdel, struct ts_error *err)
{
	static const int	 delay_ms[] = { 250, 1000, 2000, 4000, 8000 };
	struct ts_summary	 saved = *j->sum;
	struct ts_conn		*c;
	struct ts_error		 e;
	struct timespec		 ts;
	size_t			 tries = 0;
	bool			 lost;
	int			 lost_before, rc;

	for (;;) {
		memset(&e, 0, sizeof(e));
		lost_before = j->spares_lost;
		rc = job_plan(j, maxdel, &e);
		/* A connection lent to a walk that failed is closed; the
		 * walk is tried again without it. */
		lost = j->spares_lost > lost_before;
		if (rc == 0 || rc == TS_EMAXDELETE ||
		    (sftp_failed(j->s) == NULL && !lost) || j->retries == 0 ||
		    tries >= sizeof(delay_ms) / sizeof(delay_ms[0]) ||
		    cancel_requested())
			break;
		tries++;
		job_unplan(j, &saved);
		if (sftp_failed(j->s) == NULL) {
			/* Ours is fine: nothing to wait for before listing. */
			log_msg(TS_LOG_WARN, "a connection lent to the walk "
			    "was lost: %s; listing again without it", e.msg);
			continue;
		}
		ts.tv_sec = delay_ms[tries - 1] / 1000;
		ts.tv_nsec = (long)(delay_ms[tries - 1] % 1000) * 1000000;
		nanosleep(&ts, NULL);
		log_msg(TS_LOG_WARN, "connection lost while listing: %s; "
		    "reconnecting", e.msg);
		memset(&e, 0, sizeof(e));
		if (conn_clone(&c, j->conn, &e) != 0) {
			rc = e.code;
			break;
		}
		pool_replace_first(&j->pool, c);
		j->s = conn_sftp(c);
	}
	if (err != NULL && err->code == TS_OK && e.code != TS_OK)
		*err = e;
	return rc;
}

/* How many connections the plan is worth: each extra one costs a
 * handshake (a dozen round trips and a key exchange), so it must have at
 * least JOB_FILES_PER_CONN files or JOB_BYTES_PER_CONN bytes to move. */
static int
job_connections(const struct job *j)
{
	uint64_t	 nfiles = 0, bytes = 0, useful, most;
	size_t		 i;
	int		 want = j->opts->jobs > 0 ? j->opts->jobs : 4;

	for (i = 0; i < j->plan.n; i++)
		if (j->plan.v[i].kind == ACT_COPY && !j->out[i].link) {
			nfiles++;
			bytes += j->plan.v[i].src->size;
		}
	useful = 1 + nfiles / JOB_FILES_PER_CONN + bytes / JOB_BYTES_PER_CONN;
	/* A connection needs a file, or a range of a split one, to move. */
	most = nfiles > bytes / JOB_SPLIT_MIN_PART ? nfiles :
	    bytes / JOB_SPLIT_MIN_PART;
	if (useful > most)
		useful = most > 0 ? most : 1;
	return useful < (uint64_t)want ? (int)useful : want;
}

/* The local files one connection may hold open: some descriptors are
 * left for sockets, directories and the caller. */
static void
job_fd_budget(struct job *j, int want)
{
	struct rlimit	 rl;

	if (want < 1)
		want = 1;
	if (want > POOL_MAX_WORKERS)	/* as pool_start() */
		want = POOL_MAX_WORKERS;
	j->fd_budget = ACT_MAX_FILES_OPEN;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		j->fd_budget = rl.rlim_cur > 64 + 16 * (rlim_t)want ?
		    (size_t)((rl.rlim_cur - 64) / (rlim_t)want) : 16;
}

/* A push, or with pull the same the other way round; a push may take
 * its local tree walked already (tree, or NULL). */
static int
job_sync_tree(struct ts_summary *out, struct ts_conn *c, const char *local_dir,
    const char *remote_dir, const struct ts_sync_opts *opts, bool pull,
    const struct ltree *tree, ts_item_fn *fn, void *payload,
    struct ts_error *err)
{
	struct ts_summary	 sum;
	struct job		*j;
	struct ts_error		 e = { 0 };
	size_t			*idx = NULL, i;
	double			 t0 = now_s();
	struct timespec		 now;
	bool			 maxdel = false;
	int			 rc, want;

	/* The job holds a worker per connection: too big for the stack. */
	if ((j = malloc(sizeof(*j))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	job_init(j, &sum, c, local_dir, remote_dir, opts, fn, payload);
	j->pull = sum.pull = pull;
	j->tree = tree;
	clock_gettime(CLOCK_REALTIME_COARSE, &now);
	j->started_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	/* Before any listing: walking all of "/" would take long, and
	 * nothing there is to go. */
	if (!pull && j->opts->delete_extra && !j->opts->force_delete &&
	    remote_is_top(remote_dir)) {
		rc = error_set(&e, TS_EMAXDELETE, "refusing --delete into "
		    "\"%s\" on the server, %s: name a directory below it, or "
		    "add --force-delete if every entry there that the source "
		    "lacks is to go", remote_dir, *remote_dir == '/' ?
		    "its root directory" : "the login directory");
		goto out;
	}
	if ((rc = job_plan_retrying(j, &maxdel, &e)) != 0)
		goto out;
	/* Connections opened ahead that the plan has no work for go now. */
	want = j->opts->dry_run ? 1 : job_connections(j);
	conn_keep_spares(c, want - 1);
	if (j->opts->dry_run) {
		for (i = 0; i < j->plan.n; i++)
			job_finish(j, i, TS_OK, NULL);
		job_report(j);
		job_sweep_orphans(j);		/* counted, not removed */
		/* Planned, not done: nothing was sent. */
		sum.bytes_sent = 0;
		for (i = 0; i < j->plan.n; i++)
			if (j->plan.v[i].kind == ACT_COPY && !j->out[i].link)
				sum.bytes_sent += j->plan.v[i].src->size;
		goto out;
	}
	/* Room for the ranges of split files too (job_split_files). */
	if ((idx = calloc(j->plan.n + 1 + POOL_MAX_WORKERS * POOL_MAX_WORKERS,
	    sizeof(*idx))) == NULL) {
		rc = error_set(&e, TS_ENOMEM, "out of memory");
		goto out;
	}
	/* A missing destination root is an empty tree: create it first. */
	if (pull) {
		if (mkdir(local_dir, 0777) != 0 && errno != EEXIST) {
			rc = error_set_errno(&e, errno, "create \"%s\"",
			    local_dir);
			goto out;
		}
		if ((j->root_fd = open(local_dir, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1) {
			rc = error_set_errno(&e, errno, "open \"%s\"",
			    local_dir);
			goto out;
		}
	} else if (j->plan.n > 0 && j->dst_root_missing &&
	    (rc = ts_mkdir(j->pool.w[0].conn, remote_dir, true, &e)) != 0)
		goto out;
	j->t0 = t0;
	log_msg(TS_LOG_DEBUG, "planned %zu actions for %d connection%s",
	    j->plan.n, want, want == 1 ? "" : "s");
	j->posix_rename = sftp_has(j->s, SFTP_EXT_POSIX_RENAME);
	/* The store only speeds things up: without it, files go whole.  A
	 * pull writes it too: what it received is what the server holds. */
	if (j->opts->cache_dir != NULL && sigstore_open(&j->store,
	    j->opts->cache_dir, SIGSTORE_MAX_BYTES, &e) != 0) {
		log_msg(TS_LOG_WARN, "signature store: %s; sending files whole",
		    e.msg);
		error_clear(&e);
	}
	job_fd_budget(j, want);
	if ((rc = stage_build(j, &e)) != 0)
		goto out;
	pool_start(&j->pool, want);
	job_phase(j, PH_TYPE_DELETE, idx);
	job_phase(j, PH_MKDIR, idx);
	job_phase(j, PH_FILES, idx);
	job_phase(j, PH_LINKS, idx);
	job_phase(j, PH_DELETE, idx);
	job_phase(j, PH_DIR_ATTRS, idx);
	pool_stop(&j->pool);
	stage_settle(j);
	job_report(j);
	j->sum->errors += j->stage.errors;
	job_sweep_orphans(j);
	if (!pull && j->opts->metadata && !cancel_requested() &&
	    (rc = job_send_record(j, &e)) != 0)
		goto out;
	if (!pull)
		job_root_attrs(j);
	if (atomic_load(&j->owner_denied) > 0)
		log_msg(TS_LOG_INFO, "owners and groups were not set on %u "
		    "entries: the %s account may not give files away (only "
		    "root may)", atomic_load(&j->owner_denied), pull ? "local" :
		    "server's");
out:
	sum.elapsed = now_s() - t0;
	if (cancel_requested())
		rc = error_set(&e, TS_ECANCELED, "interrupted; nothing was left "
		    "half-written");
	else if (rc == 0 && j->disk_full)
		rc = error_set(&e, TS_ELOCAL, "the local disk is full: the "
		    "pull stopped; the files it completed are intact");
	else if (rc == 0 && maxdel)
		rc = TS_EMAXDELETE;
	else if (rc == 0 && sum.errors > 0)
		rc = error_set(&e, TS_EPARTIAL, "%llu of the changes failed; "
		    "the rest is done", (unsigned long long)sum.errors);
	if (rc != 0 && err != NULL && err->code == TS_OK)
		*err = e;
	free(idx);
	job_dispose(j);
	free(j);
	if (out != NULL)
		*out = sum;
	return rc;
}

static int
job_sync(struct ts_summary *out, struct ts_conn *c, const char *local_dir,
    const char *remote_dir, const struct ts_sync_opts *opts, bool pull,
    ts_item_fn *fn, void *payload, struct ts_error *err)
{
	if (opts != NULL && version_check_opts(opts->version,
	    TS_SYNC_OPTS_VERSION, "ts_sync_opts", err) != 0)
		return TS_EINVAL;
	return job_sync_tree(out, c, local_dir, remote_dir, opts, pull, NULL,
	    fn, payload, err);
}

int
job_push_tree(struct ts_summary *out, struct ts_conn *c,
    const struct ltree *tree, const char *local_dir, const char *remote_dir,
    const struct ts_sync_opts *opts, ts_item_fn *fn, void *payload,
    struct ts_error *err)
{
	return job_sync_tree(out, c, local_dir, remote_dir, opts, false, tree,
	    fn, payload, err);
}

int
ts_push(struct ts_summary *out, struct ts_conn *c, const char *local_dir,
    const char *remote_dir, const struct ts_sync_opts *opts, ts_item_fn *fn,
    void *payload, struct ts_error *err)
{
	return job_sync(out, c, local_dir, remote_dir, opts, false, fn,
	    payload, err);
}

int
ts_pull(struct ts_summary *out, struct ts_conn *c, const char *remote_dir,
    const char *local_dir, const struct ts_sync_opts *opts, ts_item_fn *fn,
    void *payload, struct ts_error *err)
{
	return job_sync(out, c, local_dir, remote_dir, opts, true, fn,
	    payload, err);
}

/* check: every file on either side is reported as match, differ, or
 * missing on one side. */
int
ts_check(struct ts_summary *out, struct ts_conn *c, const char *local_dir,
    const char *remote_dir, const struct ts_sync_opts *opts, ts_item_fn *fn,
    void *payload, struct ts_error *err)
{
	struct ts_sync_opts	 o = opts != NULL ? *opts :
	    (struct ts_sync_opts)TS_SYNC_OPTS_INIT;
	struct ts_summary	 sum;
	struct ts_item		 it;
	struct job		*j;
	struct ts_error		 e = { 0 };
	const struct entry	*le, *re;
	double			 t0 = now_s();
	bool			 maxdel = false;
	size_t			 a, b;
	int			 rc, cmp;

	if (opts != NULL && version_check_opts(opts->version,
	    TS_SYNC_OPTS_VERSION, "ts_sync_opts", err) != 0)
		return TS_EINVAL;
	/* Hash every pair of equal size: the plan asks for exactly those. */
	o.checksum = true;
	o.delete_extra = false;
	o.dry_run = true;
	if ((j = malloc(sizeof(*j))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	job_init(j, &sum, c, local_dir, remote_dir, &o, fn, payload);
	if ((rc = job_plan_retrying(j, &maxdel, &e)) != 0)
		goto out;
	if (sum.hash_used == NULL) {
		job_choose_hash(j);
	}
	/* Walk both sorted lists side by side: the plan has no entry for
	 * matches, so compare here with the hashes it gathered. */
	for (a = 0, b = 0; a < j->src.n || b < j->dst.n; ) {
		le = a < j->src.n ? &j->src.v[a] : NULL;
		re = b < j->dst.n ? &j->dst.v[b] : NULL;
		cmp = le == NULL ? 1 : re == NULL ? -1 :
		    entries_path_cmp(le->path, re->path);
		memset(&it, 0, sizeof(it));
		it.action = TS_ITEM_CHECK;
		if (cmp < 0) {
			a++;
			if (le->type == ENTRY_DIR ||
			    filter_excluded(&j->filter, le->path, false))
				continue;
			it.path = le->path;
			it.type = item_type(le);
			it.size = le->size;
			it.reason = "missing-remote";
			sum.checked_missing++;
		} else if (cmp > 0) {
			b++;
			if (re->type == ENTRY_DIR ||
			    filter_excluded(&j->filter, re->path, false))
				continue;
			it.path = re->path;
			it.type = item_type(re);
			it.size = re->size;
			it.reason = "missing-local";
			sum.checked_missing++;
		} else {
			a++;
			b++;
			if (le->type == ENTRY_DIR && re->type == ENTRY_DIR)
				continue;
			it.path = le->path;
			it.type = item_type(le);
			it.size = le->size;
			if (le->type != re->type || le->size != re->size ||
			    (le->type == ENTRY_SYMLINK &&
			    strcmp(le->link, re->link) != 0) ||
			    (le->type == ENTRY_FILE && (le->hash == NULL ||
			    re->hash == NULL || le->hash->len != re->hash->len ||
			    memcmp(le->hash->bytes, re->hash->bytes,
			    le->hash->len) != 0))) {
				it.reason = "differ";
				sum.checked_differ++;
			} else {
				it.reason = "match";
				sum.checked_match++;
			}
		}
		if (fn != NULL)
			fn(&it, payload);
	}
	if (sum.checked_differ + sum.checked_missing > 0)
		rc = error_set(&e, TS_EDIFFER, "%llu file%s differ%s, %llu "
		    "missing on one side", (unsigned long long)sum.checked_differ,
		    sum.checked_differ == 1 ? "" : "s",
		    sum.checked_differ == 1 ? "s" : "",
		    (unsigned long long)sum.checked_missing);
	else if (sum.errors > 0)
		rc = error_set(&e, TS_EPARTIAL, "%llu file%s could not be read",
		    (unsigned long long)sum.errors, sum.errors == 1 ? "" : "s");
out:
	sum.elapsed = now_s() - t0;
	sum.dry_run = false;
	if (rc != 0 && err != NULL && err->code == TS_OK)
		*err = e;
	job_dispose(j);
	free(j);
	if (out != NULL)
		*out = sum;
	return rc;
}
