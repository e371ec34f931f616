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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cancel.h"
#include "conn.h"
#include "error.h"
#include "hash.h"
#include "log.h"
#include "plan.h"
#include "verify.h"
#include "walk_local.h"
#include "walk_remote.h"
#include "xfer.h"

#define JOB_HASH_BATCH		2000	/* names per remote hash command */
#define JOB_MAX_FILES_OPEN	64	/* uploads in flight on one engine */
#define JOB_VERIFY_BATCH	64	/* uploads checked by one command */

/* What became of one planned action. */
struct outcome {
	bool		 done;
	bool		 link;		/* ACT_COPY done as a hard link from
					 * link_dest */
	int		 code;
	char		*error;		/* owned; when code != TS_OK */
};

struct job {
	struct ts_conn	*conn;
	struct sftp	*s;
	const struct ts_sync_opts *opts;
	const char	*local_root, *remote_root;
	struct entries	 src, dst;
	struct entries	 ref;		/* the link_dest tree */
	struct filter	 filter;
	struct plan	 plan;
	struct outcome	*out;		/* one per plan action */
	size_t		 reported;	/* actions reported so far */
	ts_item_fn	*fn;
	void		*payload;
	struct ts_summary *sum;
	bool		 pull;		/* src is remote, dst local */
	int		 root_fd;	/* pull: the local root, or -1 */
	bool		 disk_full;	/* pull: stop starting downloads */
	enum hash_kind	 hash_kind;
	bool		 hash_remote;	/* the server can run the hash tool */
	bool		 exec_probed;
	bool		 exec_ok, has_xxhsum;
	/* the file phase */
	size_t		 active;	/* actions in flight */
	struct upload	*verify_q[JOB_VERIFY_BATCH];
	size_t		 nverify;
};

/* One upload in flight, for its callback. */
struct upload {
	struct job	*job;
	size_t		 idx;		/* its action */
	struct xfer	*x;
	struct upload	*next;		/* the job's list of uploads */
};

/* One small request in flight (mkdir, remove, setstat, symlink). */
struct op {
	struct job	*job;
	size_t		 idx;
	int		 step;
	char		*path, *tmp;
};

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "root/rel" for the server; a root of "" is the login directory. */
static char *
remote_path(const char *root, const char *rel)
{
	char	*p;
	size_t	 n = strlen(root);

	if (n == 0)
		return strdup(*rel != '\0' ? rel : ".");
	while (n > 1 && root[n - 1] == '/')
		n--;
	if (*rel == '\0')
		return strndup(root, n);
	if (asprintf(&p, "%.*s%s%s", (int)n, root, root[n - 1] == '/' ? "" :
	    "/", rel) < 0)
		return NULL;
	return p;
}

static char *
local_path(const char *root, const char *rel)
{
	return remote_path(*root == '\0' ? "." : root, rel);
}

static enum ts_item_type
item_type(const struct entry *e)
{
	if (e == NULL)
		return TS_TYPE_FILE;
	return e->type == ENTRY_DIR ? TS_TYPE_DIR :
	    e->type == ENTRY_SYMLINK ? TS_TYPE_SYMLINK : TS_TYPE_FILE;
}

static const char *
a_path(const struct job *j, size_t idx)
{
	return plan_action_path(&j->plan.v[idx]);
}

/* Marks action idx done; the first error recorded for it wins. */
static void
job_finish(struct job *j, size_t idx, int code, const char *msg)
{
	struct outcome	*o = &j->out[idx];

	if (o->done)
		return;
	o->done = true;
	o->code = code;
	if (code != TS_OK)
		o->error = strdup(msg != NULL ? msg : "failed");
}

/* Tells the caller about every action done so far, in plan order, and
 * counts them in the summary. */
static void
job_report(struct job *j)
{
	const struct action	*a;
	const struct entry	*e;
	struct outcome		*o;
	struct ts_item		 it;

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
			if (o->link) {
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
			}
			if (o->code == TS_OK) {
				if (a->dst == NULL)
					j->sum->files_created++;
				else
					j->sum->files_updated++;
				j->sum->bytes_sent += a->src->size;
			}
			break;
		case ACT_SYMLINK:
			it.action = TS_ITEM_SYMLINK;
			if (o->code == TS_OK)
				j->sum->symlinks++;
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

static int
job_filter(struct job *j, struct ts_error *err)
{
	const struct ts_filter_rule	*r;
	size_t				 i;
	int				 rc;

	filter_init(&j->filter);
	for (i = 0; i < j->opts->nrules; i++) {
		r = &j->opts->rules[i];
		if (r->from_file)
			rc = filter_add_file(&j->filter, r->pattern, err);
		else
			rc = filter_add(&j->filter, r->include ? FILTER_INCLUDE :
			    FILTER_EXCLUDE, r->pattern, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* --- hashing both sides -------------------------------------------- */

/* Finds out once whether the server runs commands and has xxhsum. */
static void
job_probe_exec(struct job *j)
{
	struct buf	 out;
	int		 status = -1;

	if (j->exec_probed)
		return;
	j->exec_probed = true;
	buf_init(&out, 4096);
	if (ssh_exec(sftp_ssh(j->s), "echo treesync-exec; command -v xxhsum "
	    ">/dev/null 2>&1 && echo has-xxhsum", NULL, 0, &out, &status,
	    NULL) == 0 && out.len > 0) {
		j->exec_ok = memmem(out.data, out.len, "treesync-exec", 13) !=
		    NULL;
		j->has_xxhsum = memmem(out.data, out.len, "has-xxhsum", 10) !=
		    NULL;
	}
	buf_dispose(&out);
	log_msg(TS_LOG_DEBUG, "server runs commands: %s, has xxhsum: %s",
	    j->exec_ok ? "yes" : "no", j->has_xxhsum ? "yes" : "no");
}

/* Chooses the hash: XXH3-128 wherever both sides are hashed here, or the
 * server has xxhsum; SHA-256 otherwise (--hash overrides). */
static void
job_choose_hash(struct job *j)
{
	job_probe_exec(j);
	j->hash_remote = j->exec_ok;
	switch (j->opts->hash) {
	case TS_HASH_SHA256:
		j->hash_kind = HASH_SHA256;
		break;
	case TS_HASH_XXH128:
		j->hash_kind = HASH_XXH128;
		/* Without xxhsum on the server, read back and hash here. */
		if (!j->has_xxhsum)
			j->hash_remote = false;
		break;
	case TS_HASH_AUTO:
		j->hash_kind = !j->exec_ok || j->has_xxhsum ? HASH_XXH128 :
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
	const char	*root;
	const struct entry **files;
	size_t		 n;
	enum hash_kind	 kind;
	char		(*hex)[HASH_HEX_MAX];
};

/* Hashes local files; runs on its own thread while the server hashes. */
static void *
local_hash_thread(void *arg)
{
	struct local_hash_work	*w = arg;
	static uint8_t		 unused;
	uint8_t			*buf;
	struct hash		 h;
	size_t			 i;
	ssize_t			 n;
	char			*p;
	int			 fd;

	(void)unused;
	if ((buf = malloc(1 << 20)) == NULL)
		return NULL;
	for (i = 0; i < w->n; i++) {
		w->hex[i][0] = '\0';
		if ((p = local_path(w->root, w->files[i]->path)) == NULL)
			continue;
		fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		free(p);
		if (fd == -1 || hash_init(&h, w->kind) != 0) {
			if (fd != -1)
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

struct readback {
	struct job	*job;
	size_t		 i;
	struct xfer	*x;
	bool		 done;
};

static void
readback_done(struct xfer *x, void *payload)
{
	(void)x;
	((struct readback *)payload)->done = true;
}

/* Hashes remote files by reading them over SFTP, many at once. */
static int
remote_hash_readback(struct job *j, const char *const *paths, size_t n,
    char (*hex)[HASH_HEX_MAX], struct ts_error *err)
{
	struct xfer_opts o = { .hash = true, .hash_kind = j->hash_kind };
	struct readback	*rb;
	size_t		 next = 0, active = 0, i;
	int		 rc = 0;

	if ((rb = calloc(n != 0 ? n : 1, sizeof(*rb))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	while (next < n || active > 0) {
		while (next < n && active < JOB_MAX_FILES_OPEN / 2) {
			hex[next][0] = '\0';
			rb[next].job = j;
			rb[next].i = next;
			if (xfer_download(&rb[next].x, j->s, paths[next], NULL,
			    &o, readback_done, &rb[next], NULL) != 0)
				rb[next].done = true;
			else
				active++;
			next++;
		}
		for (i = 0; i < next; i++)
			if (rb[i].x != NULL) {
				if (rb[i].done) {
					if (xfer_result(rb[i].x, NULL) == 0)
						strcpy(hex[i], xfer_hash(rb[i].x));
					xfer_free(rb[i].x);
					rb[i].x = NULL;
					active--;
				} else
					xfer_kick(rb[i].x);
			}
		if (active > 0 && (rc = sftp_pump(j->s, err)) != 0 &&
		    sftp_failed(j->s) == NULL)
			break;
		if (sftp_failed(j->s) != NULL && active == 0)
			break;
	}
	for (i = 0; i < n; i++)
		xfer_free(rb[i].x);
	free(rb);
	if (sftp_failed(j->s) != NULL)
		return error_set(err, sftp_failed(j->s)->code, "%s",
		    sftp_failed(j->s)->msg);
	return rc;
}

/* Hashes remote files: on the server in batches when it can, else by
 * reading them back. */
static int
remote_hash(struct job *j, const char *const *paths, size_t n,
    char (*hex)[HASH_HEX_MAX], struct ts_error *err)
{
	size_t	 i, k;
	int	 rc;

	if (j->hash_remote) {
		for (i = 0; i < n; i += k) {
			k = n - i < JOB_HASH_BATCH ? n - i : JOB_HASH_BATCH;
			rc = verify_remote_hash(sftp_ssh(j->s), j->hash_kind,
			    paths + i, k, hex + i, NULL);
			if (rc != 0) {
				if (sftp_failed(j->s) != NULL)
					return error_set(err, TS_ECONN, "%s",
					    sftp_failed(j->s)->msg);
				/* A batch failing as a whole (say a name
				 * xxhsum cannot print): read those back. */
				if ((rc = remote_hash_readback(j, paths + i, k,
				    hex + i, err)) != 0)
					return rc;
			}
		}
		return 0;
	}
	return remote_hash_readback(j, paths, n, hex, err);
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
	int			 rc = 0, len;

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
		if ((rpaths[n] = remote_path(j->remote_root, rf[n]->path)) ==
		    NULL) {
			rc = error_set(err, TS_ENOMEM, "out of memory");
			goto out;
		}
		n++;
	}
	w.root = j->local_root;
	w.files = lf;
	w.n = n;
	w.kind = j->hash_kind;
	w.hex = lhex;
	if (pthread_create(&th, NULL, local_hash_thread, &w) == 0)
		started = true;
	else
		local_hash_thread(&w);
	rc = remote_hash(j, rpaths, n, rhex, err);
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

/* --- carrying out the plan ----------------------------------------- */

static void
op_failed(struct op *op, const struct sftp_reply *r, const char *what)
{
	struct ts_error	 e = { 0 };

	sftp_status_error(&e, r->status, r->msg, r->msg_len, what, op->path);
	job_finish(op->job, op->idx, e.code, e.msg);
}

static void
op_free(struct op *op)
{
	op->job->active--;
	free(op->path);
	free(op->tmp);
	free(op);
}

/* mkdir, remove, rmdir, setstat: one request, one reply. */
static void
op_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct op		*op = payload;
	const struct action	*a = &op->job->plan.v[op->idx];

	(void)s;
	if (r->status != SSH_FX_OK)
		op_failed(op, r, a->kind == ACT_MKDIR ? "mkdir" :
		    a->kind == ACT_DELETE ? "delete" : a->kind == ACT_COPY ?
		    "hard-link" : "set attributes of");
	else
		job_finish(op->job, op->idx, TS_OK, NULL);
	op_free(op);
}

static void	op_sent(struct op *op, int rc);

/* Whether a symlink can replace an old one atomically: made at a
 * temporary name, then renamed over it.  Without posix-rename: remove,
 * then create. */
static bool
link_atomic(struct sftp *s)
{
	return sftp_has(s, SFTP_EXT_POSIX_RENAME);
}

static void
link_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct op		*op = payload;
	const struct action	*a = &op->job->plan.v[op->idx];
	bool			 atomic = link_atomic(s) && op->tmp != NULL;

	switch (op->step++) {
	case 0:		/* symlink at tmp (atomic) or remove of the old */
		if (r->status != SSH_FX_OK && (atomic ||
		    r->status != SSH_FX_NO_SUCH_FILE)) {
			op_failed(op, r, atomic ? "symlink" : "replace");
			break;
		}
		if (atomic)
			op_sent(op, sftp_posix_rename(s, op->tmp, op->path,
			    link_on_reply, op));
		else
			op_sent(op, sftp_symlink(s, op->path, a->src->link,
			    link_on_reply, op));
		return;
	case 1:
		if (r->status != SSH_FX_OK) {
			op_failed(op, r, "symlink");
			if (atomic)
				sftp_remove(s, op->tmp, NULL, NULL);
		} else
			job_finish(op->job, op->idx, TS_OK, NULL);
		break;
	}
	op_free(op);
}

/* A request the engine refused (the session failed): the action fails
 * with the session's error, as no reply will come. */
static void
op_sent(struct op *op, int rc)
{
	const struct ts_error	*f;

	if (rc == 0)
		return;
	f = sftp_failed(op->job->s);
	job_finish(op->job, op->idx, f != NULL ? f->code : TS_ECONN,
	    f != NULL ? f->msg : "connection lost");
	op_free(op);
}

static struct op *
op_new(struct job *j, size_t idx, const char *rel)
{
	struct op	*op;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		return NULL;
	op->job = j;
	op->idx = idx;
	if ((op->path = remote_path(j->remote_root, rel)) == NULL) {
		free(op);
		return NULL;
	}
	j->active++;
	return op;
}

static void
attrs_of(struct sftp_attrs *a, const struct entry *e, unsigned which)
{
	memset(a, 0, sizeof(*a));
	if ((which & ATTR_MODE) != 0) {
		a->flags |= SSH_FILEXFER_ATTR_PERMISSIONS;
		a->perm = e->mode & 07777;
	}
	if ((which & ATTR_MTIME) != 0) {
		a->flags |= SSH_FILEXFER_ATTR_ACMODTIME;
		a->mtime = a->atime = (uint32_t)(e->mtime_ns / 1000000000);
	}
}

/* Sends the request(s) for one non-upload action. */
static void
job_start_op(struct job *j, size_t idx)
{
	const struct action	*a = &j->plan.v[idx];
	struct sftp_attrs	 at;
	struct op		*op;

	if ((op = op_new(j, idx, plan_action_path(a))) == NULL) {
		job_finish(j, idx, TS_ENOMEM, "out of memory");
		return;
	}
	switch (a->kind) {
	case ACT_MKDIR:
		/* Writable by us until its real mode is set, last. */
		memset(&at, 0, sizeof(at));
		at.flags = SSH_FILEXFER_ATTR_PERMISSIONS;
		at.perm = (a->src->mode & 0777) | 0700;
		op_sent(op, sftp_mkdir(j->s, op->path, &at, op_on_reply, op));
		break;
	case ACT_DELETE:
		if (a->dst->type == ENTRY_DIR)
			op_sent(op, sftp_rmdir(j->s, op->path, op_on_reply, op));
		else
			op_sent(op, sftp_remove(j->s, op->path, op_on_reply,
			    op));
		break;
	case ACT_SETATTR:
		attrs_of(&at, a->src, a->attrs);
		op_sent(op, sftp_setstat(j->s, op->path, &at, op_on_reply, op));
		break;
	case ACT_SYMLINK:
		if (a->dst != NULL && link_atomic(j->s)) {
			if (xfer_temp_name(&op->tmp, op->path) != 0) {
				job_finish(j, idx, TS_ENOMEM, "out of memory");
				op_free(op);
				return;
			}
			op_sent(op, sftp_symlink(j->s, op->tmp, a->src->link,
			    link_on_reply, op));
		} else if (a->dst != NULL)
			op_sent(op, sftp_remove(j->s, op->path, link_on_reply,
			    op));
		else {
			op->step = 1;
			op_sent(op, sftp_symlink(j->s, op->path, a->src->link,
			    link_on_reply, op));
		}
		break;
	case ACT_CONFLICT: {
		char	 msg[256];

		snprintf(msg, sizeof(msg), "cannot replace \"%s\": %s",
		    plan_action_path(a), a->reason == REASON_NOT_EMPTY ?
		    "a non-empty directory is in the way (use --delete)" :
		    a->reason == REASON_PROTECTED ? "the directory in the way "
		    "holds excluded files" : "--max-delete stopped the delete "
		    "it needs");
		job_finish(j, idx, TS_EREMOTE, msg);
		op_free(op);
		return;
	}
	default:
		job_finish(j, idx, TS_OK, NULL);
		op_free(op);
		return;
	}
}

static void
upload_on_phase(struct xfer *x, void *payload)
{
	struct upload	*u = payload;
	struct job	*j = u->job;
	struct ts_error	 e = { 0 };

	if (xfer_phase(x) == XFER_VERIFY) {
		j->verify_q[j->nverify++] = u;
		return;
	}
	xfer_result(x, &e);
	/* A full local disk stops the pull: the file was removed, those
	 * done stay valid, nothing more is started. */
	if (j->pull && e.sys_errno == ENOSPC && !j->disk_full) {
		j->disk_full = true;
		log_msg(TS_LOG_ERROR, "the local disk is full; stopping");
	}
	job_finish(j, u->idx, e.code, e.msg);
}

/* --- pull: the local side -------------------------------------------- */

/*
 * Opens directory rel (relative to the local root) one component at a
 * time with O_NOFOLLOW: a symlink planted anywhere on the way, even after
 * the plan was made, makes the open fail instead of leading outside the
 * tree.  Returns the fd, or -1 with errno set.
 */
static int
local_open_dir(struct job *j, const char *rel, size_t len)
{
	char	 comp[NAME_MAX + 1];
	size_t	 i = 0, n;
	int	 fd, nfd;

	if ((fd = fcntl(j->root_fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return -1;
	while (i < len) {
		n = strcspn(rel + i, "/");
		if (n > len - i)
			n = len - i;
		if (n == 0 || n > NAME_MAX) {
			close(fd);
			errno = EINVAL;
			return -1;
		}
		memcpy(comp, rel + i, n);
		comp[n] = '\0';
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		close(fd);
		if (nfd == -1)
			return -1;
		fd = nfd;
		i += n + 1;
	}
	return fd;
}

/* The parent directory of rel, opened safely; *name is rel's last part. */
static int
local_parent(struct job *j, const char *rel, const char **name)
{
	const char	*slash = strrchr(rel, '/');

	*name = slash != NULL ? slash + 1 : rel;
	return local_open_dir(j, rel, slash != NULL ? (size_t)(slash - rel) :
	    0);
}

static mode_t
local_mode(const struct job *j, uint32_t mode)
{
	mode_t	 mask;

	if (j->opts->perms)
		return mode & 07777;
	mask = umask(0);
	umask(mask);
	return (mode & 0777) & ~mask;
}

/* mkdir, delete, setattr, symlink on the local side: done at once. */
static void
job_local_op(struct job *j, size_t idx)
{
	const struct action	*a = &j->plan.v[idx];
	const char		*name, *what = "";
	struct timespec		 t[2];
	struct ts_error		 e = { 0 };
	char			*tmp = NULL, *shown;
	int			 dfd, rc = 0;

	if ((dfd = local_parent(j, a_path(j, idx), &name)) == -1) {
		what = "open the directory of";
		rc = -1;
		goto out;
	}
	switch (a->kind) {
	case ACT_MKDIR:
		what = "mkdir";
		rc = mkdirat(dfd, name, (a->src->mode & 0777) | 0700);
		break;
	case ACT_DELETE:
		what = "delete";
		rc = unlinkat(dfd, name, a->dst->type == ENTRY_DIR ?
		    AT_REMOVEDIR : 0);
		break;
	case ACT_SETATTR:
		what = "set attributes of";
		if ((a->attrs & ATTR_MODE) != 0)
			rc = fchmodat(dfd, name, local_mode(j, a->src->mode),
			    AT_SYMLINK_NOFOLLOW);
		if (rc == 0 && (a->attrs & ATTR_MTIME) != 0) {
			t[0].tv_sec = t[1].tv_sec = a->src->mtime_ns / 1000000000;
			t[0].tv_nsec = t[1].tv_nsec = 0;
			rc = utimensat(dfd, name, t, AT_SYMLINK_NOFOLLOW);
		}
		break;
	case ACT_SYMLINK:
		/* Made at a temporary name, renamed over the old one. */
		what = "symlink";
		if (xfer_temp_name(&tmp, name) != 0) {
			errno = ENOMEM;
			rc = -1;
			break;
		}
		if ((rc = symlinkat(a->src->link, dfd, tmp)) == 0 &&
		    (rc = renameat(dfd, tmp, dfd, name)) != 0) {
			int	 saved = errno;

			unlinkat(dfd, tmp, 0);
			errno = saved;
		}
		break;
	case ACT_CONFLICT:
		close(dfd);
		job_start_op(j, idx);	/* reports the conflict */
		return;
	default:
		break;
	}
	close(dfd);
out:
	free(tmp);
	if (rc != 0) {
		shown = local_path(j->local_root, a_path(j, idx));
		error_set_errno(&e, errno, "%s \"%s\"", what, shown != NULL ?
		    shown : a_path(j, idx));
		free(shown);
		if (e.sys_errno == ENOSPC)
			j->disk_full = true;
	}
	job_finish(j, idx, e.code, e.msg);
}

static void
job_start_download(struct job *j, size_t idx, struct upload **list)
{
	const struct action	*a = &j->plan.v[idx];
	struct xfer_opts	 o = { 0 };
	struct ts_error		 e = { 0 };
	struct upload		*u;
	const char		*name;
	char			*src = NULL, *shown = NULL;
	int			 dfd = -1;

	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (src = remote_path(j->remote_root, a->src->path)) == NULL ||
	    (shown = local_path(j->local_root, a->src->path)) == NULL) {
		job_finish(j, idx, TS_ENOMEM, "out of memory");
		goto out;
	}
	if ((dfd = local_parent(j, a->src->path, &name)) == -1) {
		error_set_errno(&e, errno, "open the directory of \"%s\"",
		    shown);
		job_finish(j, idx, e.code, e.msg);
		goto out;
	}
	u->job = j;
	u->idx = idx;
	o.hash = j->opts->verify == TS_VERIFY_HASH;
	o.hash_kind = HASH_SHA256;
	o.keep_mode = true;
	o.perms = j->opts->perms;
	o.stop_at_verify = o.hash;
	o.skip_size_check = j->opts->verify == TS_VERIFY_NONE;
	if (xfer_download_at(&u->x, j->s, src, dfd, shown, &o,
	    upload_on_phase, u, &e) != 0) {
		job_finish(j, idx, e.code, e.msg);
		goto out;
	}
	u->next = *list;
	*list = u;
	u = NULL;	/* transferred */
	j->active++;
out:
	if (dfd != -1)
		close(dfd);
	free(u);
	free(src);
	free(shown);
}

/* Checks the uploads waiting at their temporary names with one remote
 * hash command (or by reading them back), then lets them finish. */
static void
job_verify_batch(struct job *j)
{
	const char	*paths[JOB_VERIFY_BATCH];
	char		 hex[JOB_VERIFY_BATCH][HASH_HEX_MAX];
	struct ts_error	 e = { 0 }, why;
	size_t		 i, n = j->nverify;
	enum hash_kind	 saved = j->hash_kind;
	bool		 saved_remote = j->hash_remote;

	if (n == 0)
		return;
	j->nverify = 0;
	for (i = 0; i < n; i++)
		paths[i] = xfer_remote_path(j->verify_q[i]->x);
	/* Uploads hash with SHA-256 as they read (see put). */
	job_probe_exec(j);
	j->hash_kind = HASH_SHA256;
	j->hash_remote = j->exec_ok;
	if (remote_hash(j, paths, n, hex, &e) != 0)
		for (i = 0; i < n; i++)
			hex[i][0] = '\0';
	j->hash_kind = saved;
	j->hash_remote = saved_remote;
	if (j->sum->hash_where == NULL)
		j->sum->hash_where = j->exec_ok ? "server" : "read-back";
	for (i = 0; i < n; i++) {
		struct upload	*u = j->verify_q[i];

		memset(&why, 0, sizeof(why));
		if (hex[i][0] == '\0')
			error_set(&why, TS_EVERIFY, "\"%s\": could not hash it on "
			    "the server%s%s", a_path(j, u->idx),
			    e.code != TS_OK ? ": " : "", e.msg);
		else if (strcmp(hex[i], xfer_hash(u->x)) != 0)
			error_set(&why, TS_EVERIFY, "\"%s\": SHA-256 on the server "
			    "differs from the bytes %s", a_path(j, u->idx),
			    j->pull ? "received" : "sent");
		xfer_commit(u->x, why.code == TS_OK, &why);
	}
}

/* A new file unchanged since the link_dest copy: one HARDLINK request. */
static void
job_start_hardlink(struct job *j, size_t idx)
{
	struct op	*op;

	if ((op = op_new(j, idx, a_path(j, idx))) == NULL ||
	    (op->tmp = remote_path(j->opts->link_dest, a_path(j, idx))) ==
	    NULL) {
		if (op != NULL)
			op_free(op);
		job_finish(j, idx, TS_ENOMEM, "out of memory");
		return;
	}
	op_sent(op, sftp_hardlink(j->s, op->tmp, op->path, op_on_reply, op));
}

static void
job_start_upload(struct job *j, size_t idx, struct upload **list)
{
	const struct action	*a = &j->plan.v[idx];
	struct xfer_opts	 o = { 0 };
	struct ts_error		 e = { 0 };
	struct upload		*u;
	char			*src = NULL, *dst = NULL;

	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (src = local_path(j->local_root, a->src->path)) == NULL ||
	    (dst = remote_path(j->remote_root, a->src->path)) == NULL) {
		job_finish(j, idx, TS_ENOMEM, "out of memory");
		goto out;
	}
	u->job = j;
	u->idx = idx;
	o.hash = j->opts->verify == TS_VERIFY_HASH;
	o.hash_kind = HASH_SHA256;
	o.keep_mode = true;
	o.stop_at_verify = o.hash;
	o.skip_size_check = j->opts->verify == TS_VERIFY_NONE;
	if (xfer_upload(&u->x, j->s, src, dst, &o, upload_on_phase, u,
	    &e) != 0) {
		job_finish(j, idx, e.code, e.msg);
		goto out;
	}
	u->next = *list;
	*list = u;
	u = NULL;	/* transferred */
	j->active++;
out:
	free(u);
	free(src);
	free(dst);
}

/* Pumps once, feeding uploads and checking those waiting to be verified;
 * frees the uploads that are done. */
static void
job_step(struct job *j, struct upload **list)
{
	struct upload	**pp, *u;
	size_t		 waiting = 0, uploads = 0;

	for (u = *list; u != NULL; u = u->next) {
		uploads++;
		if (xfer_phase(u->x) == XFER_RUNNING)
			xfer_kick(u->x);
		else if (xfer_phase(u->x) == XFER_VERIFY)
			waiting++;
	}
	/* Verify in batches: when enough wait, or when all uploads do. */
	if (j->nverify > 0 && (j->nverify >= JOB_VERIFY_BATCH / 2 ||
	    waiting == uploads))
		job_verify_batch(j);
	if (j->active > 0)
		sftp_pump(j->s, NULL);
	for (pp = list; (u = *pp) != NULL; ) {
		if (xfer_phase(u->x) == XFER_DONE) {
			*pp = u->next;
			xfer_free(u->x);
			free(u);
			j->active--;
		} else
			pp = &u->next;
	}
	job_report(j);
}

/* Carries out the actions idx[0..n), many in flight, and waits for all. */
static void
job_run(struct job *j, const size_t *idx, size_t n)
{
	struct upload		*list = NULL;
	const struct action	*a;
	const struct ts_error	*f;
	size_t			 i;

	for (i = 0; i < n; i++) {
		a = &j->plan.v[idx[i]];
		while (j->active > 0 && (j->active >= JOB_MAX_FILES_OPEN ||
		    !sftp_room(j->s, 65536)) && sftp_failed(j->s) == NULL)
			job_step(j, &list);
		if ((f = sftp_failed(j->s)) != NULL) {
			job_finish(j, idx[i], f->code, f->msg);
			continue;
		}
		if (cancel_requested()) {
			job_finish(j, idx[i], TS_ECANCELED, "interrupted");
			continue;
		}
		if (j->disk_full) {
			job_finish(j, idx[i], TS_ELOCAL, "not done: the local "
			    "disk is full");
			continue;
		}
		if (j->pull && a->kind == ACT_COPY)
			job_start_download(j, idx[i], &list);
		else if (j->pull)
			job_local_op(j, idx[i]);
		else if (a->kind == ACT_COPY && j->out[idx[i]].link)
			job_start_hardlink(j, idx[i]);
		else if (a->kind == ACT_COPY)
			job_start_upload(j, idx[i], &list);
		else
			job_start_op(j, idx[i]);
	}
	while (j->active > 0)
		job_step(j, &list);
	job_report(j);
}

static int
depth_of(const char *path)
{
	int	 d = 0;

	for (; *path != '\0'; path++)
		d += *path == '/';
	return d;
}

/* The phases of a push, in order; see the comment at the top. */
enum phase { PH_TYPE_DELETE, PH_MKDIR, PH_FILES, PH_DELETE, PH_DIR_ATTRS };

static bool
in_phase(const struct action *a, enum phase ph)
{
	switch (ph) {
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
		if (in_phase(&j->plan.v[i], ph) &&
		    (d = depth_of(plan_action_path(&j->plan.v[i]))) > maxd)
			maxd = d;
	if (ph == PH_FILES || ph == PH_DIR_ATTRS) {
		for (i = 0, n = 0; i < j->plan.n; i++)
			if (in_phase(&j->plan.v[i], ph))
				idx[n++] = i;
		job_run(j, idx, n);
		return 0;
	}
	step = ph == PH_MKDIR ? 1 : -1;
	lo = ph == PH_MKDIR ? 0 : maxd;
	hi = ph == PH_MKDIR ? maxd + 1 : -1;
	for (d = lo; d != hi; d += step) {
		for (i = 0, n = 0; i < j->plan.n; i++)
			if (in_phase(&j->plan.v[i], ph) &&
			    depth_of(plan_action_path(&j->plan.v[i])) == d)
				idx[n++] = i;
		if (n > 0)
			job_run(j, idx, n);
	}
	return 0;
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

	if (stat(j->local_root, &st) != 0 || sftp_failed(j->s) != NULL ||
	    (root = remote_path(j->remote_root, "")) == NULL)
		return;
	memset(&a, 0, sizeof(a));
	a.flags = SSH_FILEXFER_ATTR_PERMISSIONS | SSH_FILEXFER_ATTR_ACMODTIME;
	a.perm = st.st_mode & 07777;
	a.atime = a.mtime = (uint32_t)st.st_mtim.tv_sec;
	if (sftp_setstat(j->s, root, &a, sftp_call_cb, &call) == 0 &&
	    sftp_call_wait(j->s, &call, "set attributes of", root, &e) != 0)
		log_msg(TS_LOG_WARN, "%s", e.msg);
	free(root);
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
	if (walk_remote(&j->ref, j->s, j->opts->link_dest, &ro, &wp, &missing,
	    &e) != 0)
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

/* Walks both trees and plans (hashing first with --checksum). */
static int
job_plan(struct job *j, bool *maxdel, struct ts_error *err)
{
	struct walk_opts	 wo = WALK_OPTS_INIT;
	struct walk_remote_opts	 ro = WALK_REMOTE_OPTS_INIT;
	struct walk_problems	 lp, rp;
	struct plan_opts	 po = PLAN_OPTS_INIT;
	struct ts_error		 perr = { 0 };
	bool			 root_missing = false;
	int			 rc;
	size_t			 i;

	walk_problems_init(&lp);
	walk_problems_init(&rp);
	if ((rc = job_filter(j, err)) != 0)
		goto out;
	wo.follow_links = j->opts->copy_links;
	wo.filter = &j->filter;
	ro.filter = &j->filter;
	ro.descend_excluded = j->opts->delete_excluded;
	if (j->pull) {
		/* The local side is the destination: it lists everything, so
		 * the planner sees (and protects) excluded local entries. */
		wo.filter = NULL;
		ro.descend_excluded = false;
		if ((rc = walk_remote(&j->src, j->s, j->remote_root, &ro, &rp,
		    &root_missing, err)) != 0)
			goto out;
		if (root_missing) {
			rc = error_set(err, TS_ENOENT, "remote directory \"%s\" "
			    "does not exist", j->remote_root);
			goto out;
		}
		report_problems(j, &rp);
		if ((rc = walk_local(&j->dst, j->local_root, &wo, &lp,
		    err)) == TS_ENOENT && access(j->local_root, F_OK) != 0) {
			error_clear(err);	/* a new directory: empty */
			rc = 0;
		}
		if (rc != 0)
			goto out;
		report_problems(j, &lp);
	} else {
		if ((rc = walk_local(&j->src, j->local_root, &wo, &lp,
		    err)) != 0)
			goto out;
		report_problems(j, &lp);
		if ((rc = walk_remote(&j->dst, j->s, j->remote_root, &ro, &rp,
		    &root_missing, err)) != 0)
			goto out;
		report_problems(j, &rp);
	}
	for (i = 0; i < j->src.n; i++)
		if (j->src.v[i].type != ENTRY_DIR)
			j->sum->files_scanned++;
	po.delete = j->opts->delete_extra;
	po.delete_excluded = j->opts->delete_excluded;
	po.max_delete = j->opts->max_delete;
	po.checksum = j->opts->checksum;
	po.filter = &j->filter;
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
	if ((j->out = calloc(j->plan.n + 1, sizeof(*j->out))) == NULL) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	job_link_dest(j);
out:
	walk_problems_dispose(&lp);
	walk_problems_dispose(&rp);
	return rc;
}

static void
job_dispose(struct job *j)
{
	size_t	 i;

	if (j->out != NULL)
		for (i = 0; i < j->plan.n; i++)
			free(j->out[i].error);
	free(j->out);
	if (j->root_fd != -1)
		close(j->root_fd);
	plan_dispose(&j->plan);
	entries_dispose(&j->src);
	entries_dispose(&j->dst);
	entries_dispose(&j->ref);
	filter_dispose(&j->filter);
}

static int
job_init(struct job *j, struct ts_summary *sum, struct ts_conn *c,
    const char *local_dir, const char *remote_dir,
    const struct ts_sync_opts *opts, ts_item_fn *fn, void *payload)
{
	static const struct ts_sync_opts defaults = TS_SYNC_OPTS_INIT;

	memset(j, 0, sizeof(*j));
	memset(sum, 0, sizeof(*sum));
	j->root_fd = -1;
	j->conn = c;
	j->s = conn_sftp(c);
	j->opts = opts != NULL ? opts : &defaults;
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

/* A push, or with pull the same the other way round. */
static int
job_sync(struct ts_summary *out, struct ts_conn *c, const char *local_dir,
    const char *remote_dir, const struct ts_sync_opts *opts, bool pull,
    ts_item_fn *fn, void *payload, struct ts_error *err)
{
	struct ts_summary	 sum;
	struct job		 j;
	struct ts_error		 e = { 0 };
	size_t			*idx = NULL, i;
	double			 t0 = now_s();
	bool			 maxdel = false;
	int			 rc;

	job_init(&j, &sum, c, local_dir, remote_dir, opts, fn, payload);
	j.pull = sum.pull = pull;
	if ((rc = job_plan(&j, &maxdel, &e)) != 0)
		goto out;
	if (j.opts->dry_run) {
		for (i = 0; i < j.plan.n; i++)
			job_finish(&j, i, TS_OK, NULL);
		job_report(&j);
		/* Planned, not done: nothing was sent. */
		sum.bytes_sent = 0;
		for (i = 0; i < j.plan.n; i++)
			if (j.plan.v[i].kind == ACT_COPY && !j.out[i].link)
				sum.bytes_sent += j.plan.v[i].src->size;
		goto out;
	}
	if ((idx = calloc(j.plan.n + 1, sizeof(*idx))) == NULL) {
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
		if ((j.root_fd = open(local_dir, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1) {
			rc = error_set_errno(&e, errno, "open \"%s\"",
			    local_dir);
			goto out;
		}
	} else if (j.plan.n > 0 && (rc = ts_mkdir(c, remote_dir, true,
	    &e)) != 0)
		goto out;
	job_phase(&j, PH_TYPE_DELETE, idx);
	job_phase(&j, PH_MKDIR, idx);
	job_phase(&j, PH_FILES, idx);
	job_phase(&j, PH_DELETE, idx);
	job_phase(&j, PH_DIR_ATTRS, idx);
	job_report(&j);
	if (!pull)
		job_root_attrs(&j);
	if (sftp_failed(j.s) != NULL)
		rc = error_set(&e, sftp_failed(j.s)->code, "%s",
		    sftp_failed(j.s)->msg);
out:
	sum.elapsed = now_s() - t0;
	if (cancel_requested())
		rc = error_set(&e, TS_ECANCELED, "interrupted; nothing was left "
		    "half-written");
	else if (rc == 0 && maxdel)
		rc = TS_EMAXDELETE;
	else if (rc == 0 && sum.errors > 0)
		rc = error_set(&e, TS_EPARTIAL, "%llu of the changes failed; "
		    "the rest is done", (unsigned long long)sum.errors);
	if (rc != 0 && err != NULL && err->code == TS_OK)
		*err = e;
	free(idx);
	job_dispose(&j);
	if (out != NULL)
		*out = sum;
	return rc;
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
	struct job		 j;
	struct ts_error		 e = { 0 };
	const struct entry	*le, *re;
	double			 t0 = now_s();
	bool			 maxdel = false;
	size_t			 a, b;
	int			 rc, cmp;

	/* Hash every pair of equal size: the plan asks for exactly those. */
	o.checksum = true;
	o.delete_extra = false;
	o.dry_run = true;
	job_init(&j, &sum, c, local_dir, remote_dir, &o, fn, payload);
	if ((rc = job_plan(&j, &maxdel, &e)) != 0)
		goto out;
	if (sum.hash_used == NULL) {
		job_choose_hash(&j);
	}
	/* Walk both sorted lists side by side: the plan has no entry for
	 * matches, so compare here with the hashes it gathered. */
	for (a = 0, b = 0; a < j.src.n || b < j.dst.n; ) {
		le = a < j.src.n ? &j.src.v[a] : NULL;
		re = b < j.dst.n ? &j.dst.v[b] : NULL;
		cmp = le == NULL ? 1 : re == NULL ? -1 :
		    entries_path_cmp(le->path, re->path);
		memset(&it, 0, sizeof(it));
		it.action = TS_ITEM_CHECK;
		if (cmp < 0) {
			a++;
			if (le->type == ENTRY_DIR ||
			    filter_excluded(&j.filter, le->path, false))
				continue;
			it.path = le->path;
			it.type = item_type(le);
			it.size = le->size;
			it.reason = "missing-remote";
			sum.checked_missing++;
		} else if (cmp > 0) {
			b++;
			if (re->type == ENTRY_DIR ||
			    filter_excluded(&j.filter, re->path, false))
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
	job_dispose(&j);
	if (out != NULL)
		*out = sum;
	return rc;
}
