/*
 * Carrying out a plan: each action of a batch, started on one of the
 * pool's connections (pool.c) with many others in flight on its
 * pipelined SFTP channel: uploads and downloads (xfer.c), big files as
 * ranges (split.c), small requests (mkdir, remove, setstat, symlink),
 * hard links, batched verification.  An action that fails for a dropped
 * connection goes back to the pool's queue and starts over (from the
 * first byte, under a new temporary name), on whichever worker takes it.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cancel.h"
#include "conn.h"
#include "delta.h"
#include "error.h"
#include "path.h"
#include "act.h"
#include "job.h"
#include "local_open.h"
#include "log.h"
#include "pool.h"
#include "ratelimit.h"
#include "rmtree.h"
#include "sigstore.h"
#include "split.h"
#include "stage.h"
#include "tempname.h"
#include "symlink.h"
#include "verify.h"
#include "xfer.h"

/* One transfer in flight, for its callback. */
struct upload {
	struct actor	*w;
	size_t		 idx;		/* its action */
	struct xfer	*x;
	char		*tmp;		/* upload: its remote temporary name */
	struct upload	*next;		/* the worker's list */
	/* Push of a file the store keeps signatures for: */
	struct stat	 st;		/* the local file when read */
	char		 hex[HASH_HEX_MAX]; /* its key in the store */
	FILE		*sig;		/* its new signature, being kept */
	char		*sigtmp;	/* at this name in the store */
	struct delta	 d;		/* a delta's commands */
	bool		 delta;		/* sent as a delta from base: */
	char		 base_hex[HASH_HEX_MAX]; /* its content, and what */
	uint64_t	 base_size;	/* the store recorded of it */
	int64_t		 base_mtime;
	char		*base;
	bool		 part;		/* resumable: kept if cut */
	char		*resumed;	/* the partial upload continued (or
					 * replaced): removed once done */
	char		 resumed_key[32]; /* its content key */
	bool		 xxh;		/* a delta checked by XXH128 */
	bool		 tools_unsure;	/* a delta begun before the probe
					 * answered (actor_settle_probe) */
	bool		 tools_retry;	/* abandoned for what the probe
					 * said: sent again, the store's
					 * record kept (delta again with
					 * allow) */
	bool		 tools_allow;
	bool		 from_partial;	/* base is that partial upload */
	struct delta_stream *stream;	/* its signature and SHA-256, from
					 * the bytes sent; a delta's commands */
	char		 srckey[HASH_HEX_MAX]; /* resumable and streamed:
					 * names the partial upload, from
					 * the source's path, size, mtime */
	struct xfer_opts xo;		/* how it moves */
};

static void	job_start_upload2(struct actor *w, size_t idx,
		    bool allow_delta);

/* One small request in flight (mkdir, remove, setstat, symlink). */
struct op {
	struct actor	*w;
	size_t		 idx;
	int		 step;
	char		*path, *tmp;
	struct sftp_reply failed;	/* mkdir: its status, while the STAT
					 * asks what is there */
};

/* Actions in flight at once: as many as the server's handles and our
 * share of the local file descriptors allow (each transfer holds one
 * of each), so that a long round trip is shared by many files. */
static size_t
actor_max_open(const struct actor *w)
{
	size_t	 n = ACT_MAX_FILES_OPEN;

	if (sftp_max_handles(w->s) > 0 && sftp_max_handles(w->s) < n)
		n = sftp_max_handles(w->s);
	if (w->job->fd_budget < n)
		n = w->job->fd_budget;
	return n;
}

/* Finds out once whether the server runs commands and has xxhsum. */
void
actor_probe_exec(struct actor *w)
{
	struct server_tools	 t;

	if (w->exec_probed)
		return;
	w->exec_probed = true;
	if (!tools_probe_take(&w->job->probe, &t))
		verify_server_tools(sftp_ssh(w->s), &t);
	w->exec_ok = t.exec;
	w->has_xxhsum = t.xxhsum;
	log_msg(TS_LOG_DEBUG, "server runs commands: %s, has xxhsum: %s",
	    w->exec_ok ? "yes" : "no", w->has_xxhsum ? "yes" : "no");
}

/* Whether the probe has answered (a question asked without one, or
 * with none started, answers at once): never waits for it. */
static bool
actor_probe_known(struct actor *w)
{
	if (!w->exec_probed && tools_probe_pending(&w->job->probe))
		return false;
	actor_probe_exec(w);
	return true;
}

struct readback {
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
remote_hash_readback(struct actor *w, enum hash_kind kind,
    const char *const *paths, size_t n, char (*hex)[HASH_HEX_MAX],
    struct ts_error *err)
{
	struct xfer_opts o = { .hash = true, .hash_kind = kind };
	struct readback	*rb;
	size_t		 next = 0, active = 0, i;
	int		 rc = 0;

	if ((rb = calloc(n != 0 ? n : 1, sizeof(*rb))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	while (next < n || active > 0) {
		while (next < n && active < actor_max_open(w) / 2 + 1) {
			hex[next][0] = '\0';
			rb[next].i = next;
			if (xfer_download(&rb[next].x, w->s, paths[next], NULL,
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
		if (active > 0 && (rc = sftp_pump(w->s, err)) != 0 &&
		    sftp_failed(w->s) == NULL)
			break;
		if (sftp_failed(w->s) != NULL && active == 0)
			break;
	}
	for (i = 0; i < n; i++)
		xfer_free(rb[i].x);
	free(rb);
	if (sftp_failed(w->s) != NULL)
		return error_set(err, sftp_failed(w->s)->code, "%s",
		    sftp_failed(w->s)->msg);
	return rc;
}

/* Hashes remote files: on the server in batches when it can, else by
 * reading them back. */
int
actor_remote_hash(struct actor *w, enum hash_kind kind, bool on_server,
    const char *const *paths, size_t n, char (*hex)[HASH_HEX_MAX],
    struct ts_error *err)
{
	size_t	 i, k;
	int	 rc;

	if (on_server) {
		for (i = 0; i < n; i += k) {
			struct ssh_cmd	*ready = NULL;

			if (kind == HASH_XXH128) {
				ready = w->xxh_ready;
				w->xxh_ready = NULL;
			}
			k = n - i < JOB_HASH_BATCH ? n - i : JOB_HASH_BATCH;
			rc = verify_remote_hash_started(sftp_ssh(w->s), ready,
			    kind, paths + i, k, hex + i, NULL);
			if (rc != 0) {
				if (sftp_failed(w->s) != NULL)
					return error_set(err, TS_ECONN, "%s",
					    sftp_failed(w->s)->msg);
				/* A batch failing as a whole (say a name
				 * xxhsum cannot print): read those back. */
				if ((rc = remote_hash_readback(w, kind,
				    paths + i, k, hex + i, err)) != 0)
					return rc;
			}
		}
		return 0;
	}
	return remote_hash_readback(w, kind, paths, n, hex, err);
}

/* --- carrying out the plan ----------------------------------------- */

static void
op_failed(struct op *op, const struct sftp_reply *r, const char *what)
{
	struct ts_error	 e = { 0 };

	sftp_status_error(&e, r->status, r->msg, r->msg_len, what, op->path);
	job_finish(op->w->job, op->idx, e.code, e.msg);
}

static void
op_free(struct op *op)
{
	op->w->active--;
	free(op->path);
	free(op->tmp);
	free(op);
}

static void	op_sent(struct op *op, int rc);

/* A failed MKDIR's STAT: a directory there now was made by another run
 * into the same tree, which is no failure. */
static void
mkdir_stat_on_reply(struct sftp *s, const struct sftp_reply *r,
    void *payload)
{
	struct op	*op = payload;

	(void)s;
	if (r->type == SSH_FXP_ATTRS &&
	    (r->attrs.flags & SSH_FILEXFER_ATTR_PERMISSIONS) != 0 &&
	    (r->attrs.perm & 0170000) == 0040000)
		job_finish(op->w->job, op->idx, TS_OK, NULL);
	else
		op_failed(op, &op->failed, "mkdir");
	op_free(op);
}

/* mkdir, remove, rmdir, setstat: one request, one reply. */
static void
op_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct op		*op = payload;
	const struct action	*a = &op->w->job->plan.v[op->idx];

	/* SFTP v3 says only "failure" for a directory that exists. */
	if (a->kind == ACT_MKDIR && r->status != SSH_FX_OK &&
	    r->status != SSH_FX_NO_SUCH_FILE &&
	    r->status != SSH_FX_PERMISSION_DENIED) {
		op->failed = *r;
		op->failed.msg = NULL;
		op->failed.msg_len = 0;
		op_sent(op, sftp_stat(s, op->path, false, mkdir_stat_on_reply,
		    op));
		return;
	}
	/* Removed by another run into the same tree: gone, as asked. */
	if (a->kind == ACT_DELETE && r->status == SSH_FX_NO_SUCH_FILE) {
		job_finish(op->w->job, op->idx, TS_OK, NULL);
		op_free(op);
		return;
	}
	if (r->status != SSH_FX_OK)
		op_failed(op, r, a->kind == ACT_MKDIR ? "mkdir" :
		    a->kind == ACT_DELETE ? "delete" : a->kind == ACT_COPY ?
		    "hard-link" : "set attributes of");
	else
		job_finish(op->w->job, op->idx, TS_OK, NULL);
	op_free(op);
}

/* Whether a symlink can replace an old one atomically: made at a
 * temporary name, then renamed over it.  Without posix-rename: remove,
 * then create. */
static bool
link_atomic(struct sftp *s)
{
	return sftp_has(s, SFTP_EXT_POSIX_RENAME);
}

static void	link_rename(struct op *op);

/* The symlink is made (at op->tmp when it replaces an old one
 * atomically): rename it into place, or done. */
static void
link_made(int code, const struct ts_error *e, void *payload)
{
	struct op	*op = payload;

	if (code != 0) {
		job_finish(op->w->job, op->idx, code, e->msg);
		if (op->tmp != NULL)	/* in case it was made after all */
			sftp_remove(op->w->s, op->tmp, NULL, NULL);
	} else if (op->tmp != NULL) {
		link_rename(op);
		return;
	} else
		job_finish(op->w->job, op->idx, TS_OK, NULL);
	op_free(op);
}

/* Makes op's symlink at op->tmp, else at op->path (symlink.c reads the
 * first ones of a run back: servers differ in SYMLINK's argument order). */
static void
link_make(struct op *op)
{
	struct job		*j = op->w->job;
	const struct action	*a = &j->plan.v[op->idx];
	struct ts_error		 e = { 0 };

	if (symlink_make(op->w->s, &j->links, op->tmp != NULL ? op->tmp :
	    op->path, a->src->link, link_made, op, &e) != 0) {
		job_finish(j, op->idx, e.code, e.msg);
		op_free(op);
	}
}

/* step 0: the old link removed (non-atomic replace); step 1: the new one
 * renamed over the old (atomic). */
static void
link_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct op		*op = payload;

	switch (op->step++) {
	case 0:
		if (r->status != SSH_FX_OK &&
		    r->status != SSH_FX_NO_SUCH_FILE) {
			op_failed(op, r, "replace");
			break;
		}
		link_make(op);
		return;
	case 1:
		if (r->status != SSH_FX_OK) {
			op_failed(op, r, "symlink");
			sftp_remove(s, op->tmp, NULL, NULL);
		} else
			job_finish(op->w->job, op->idx, TS_OK, NULL);
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
	f = sftp_failed(op->w->s);
	job_finish(op->w->job, op->idx, f != NULL ? f->code : TS_ECONN,
	    f != NULL ? f->msg : "connection lost");
	op_free(op);
}

static void
link_rename(struct op *op)
{
	op->step = 1;
	op_sent(op, sftp_posix_rename(op->w->s, op->tmp, op->path,
	    link_on_reply, op));
}

static struct op *
op_new(struct actor *w, size_t idx, const char *rel)
{
	struct job		*j = w->job;
	struct op	*op;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		return NULL;
	op->w = w;
	op->idx = idx;
	/* What goes is on the server already: never in a new directory. */
	if ((op->path = j->plan.v[idx].kind == ACT_DELETE ?
	    path_join(j->remote_root, rel) : stage_path(j, rel)) == NULL) {
		free(op);
		return NULL;
	}
	w->active++;
	return op;
}

/* -o/-g: the ids an action's entry gets; (uint32_t)-1 leaves one as it
 * is (chown's own convention, which sftp-server passes on). */
static uint32_t
owner_uid(const struct job *j, const struct action *a)
{
	return j->opts->owner ? a->src->uid : (uint32_t)-1;
}

static uint32_t
owner_gid(const struct job *j, const struct action *a)
{
	return j->opts->group ? a->src->gid : (uint32_t)-1;
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

/* push -o/-g: the owner's SETSTAT; refused (not root) is no failure,
 * only counted.  Then the rest of the attributes. */
static void
owner_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct op		*op = payload;
	struct job		*j = op->w->job;
	const struct action	*a = &j->plan.v[op->idx];
	struct sftp_attrs	 at;

	if (r->type == SSH_FXP_STATUS && r->status != SSH_FX_OK)
		atomic_fetch_add(&j->owner_denied, 1);
	if ((a->attrs & ~ATTR_OWNER) == 0) {
		job_finish(j, op->idx, TS_OK, NULL);
		op_free(op);
		return;
	}
	attrs_of(&at, a->src, a->attrs);
	op_sent(op, sftp_setstat(s, op->path, &at, op_on_reply, op));
}

/*
 * push --delete: whether the local tree still lacks rel, checked again
 * right before the remote entry goes.  The nearest directory above rel
 * that the walk listed must still be there, unchanged since (same mtime:
 * no name came or went), and still lack the next name on rel's way.  So
 * a source removed or unmounted while the run went on deletes nothing,
 * nor does an entry that came back; either is said and counted as a
 * failure (the next run sees the tree as it is then).  Returns 0 when
 * the delete may go ahead, or the error's code with *e set.
 */
static int
local_still_lacks(struct job *j, const char *rel, bool excluded,
    struct ts_error *e)
{
	const struct entry	*d = NULL;
	struct stat		 st;
	char			 name[NAME_MAX + 1], *dir;
	size_t			 len, n;
	int64_t			 mtime;
	int			 dfd, rc = 0;

	for (len = strlen(rel); len > 0; ) {
		while (len > 0 && rel[len - 1] != '/')
			len--;
		if (len == 0)
			break;
		len--;			/* the '/' */
		if ((dir = strndup(rel, len)) == NULL)
			return error_set(e, TS_ENOMEM, "out of memory");
		d = entries_find(&j->src, dir);
		free(dir);
		if (d != NULL && d->type == ENTRY_DIR)
			break;
		d = NULL;
	}
	mtime = d != NULL ? d->mtime_ns : j->root_mtime_ns;
	n = strcspn(rel + (len > 0 ? len + 1 : 0), "/");
	if (n > NAME_MAX)
		n = NAME_MAX;
	memcpy(name, rel + (len > 0 ? len + 1 : 0), n);
	name[n] = '\0';
	if ((dfd = local_open_dir(j->root_fd, rel, len,
	    j->opts->copy_links)) == -1 || fstat(dfd, &st) != 0 ||
	    st.st_nlink == 0)
		rc = error_set(e, TS_ELOCAL, "\"%s\" not deleted: the local "
		    "directory above it was removed or replaced during the run",
		    rel);
	else if (mtime != (int64_t)st.st_mtim.tv_sec * 1000000000 +
	    st.st_mtim.tv_nsec || mtime >= j->started_ns)
		/* Names came or went since the run began: what the walk saw
		 * missing may have been there then (a tree being removed,
		 * emptied before the walk got to it). */
		rc = error_set(e, TS_ELOCAL, "\"%s\" not deleted: the local "
		    "directory above it changed during the run", rel);
	else if (!excluded && fstatat(dfd, name, &st,
	    AT_SYMLINK_NOFOLLOW) == 0)
		rc = error_set(e, TS_ELOCAL, "\"%s\" not deleted: it appeared "
		    "in the local tree during the run", rel);
	if (dfd != -1)
		close(dfd);
	return rc;
}

/* Sends the request(s) for one non-upload action. */
static void
job_start_op(struct actor *w, size_t idx)
{
	struct job		*j = w->job;
	const struct action	*a = &j->plan.v[idx];
	struct sftp_attrs	 at;
	struct ts_error		 e = { 0 };
	struct op		*op;

	if (a->kind == ACT_DELETE && (a->reason == REASON_GONE ||
	    a->reason == REASON_EXCLUDED) && local_still_lacks(j,
	    plan_action_path(a), a->reason == REASON_EXCLUDED, &e) != 0) {
		job_finish_error(j, idx, &e);
		return;
	}
	if ((op = op_new(w, idx, plan_action_path(a))) == NULL) {
		job_finish(j, idx, TS_ENOMEM, "out of memory");
		return;
	}
	switch (a->kind) {
	case ACT_MKDIR:
		/* Writable by us until its real mode is set, last. */
		memset(&at, 0, sizeof(at));
		at.flags = SSH_FILEXFER_ATTR_PERMISSIONS;
		at.perm = (a->src->mode & 0777) | 0700;
		op_sent(op, sftp_mkdir(w->s, op->path, &at, op_on_reply, op));
		break;
	case ACT_DELETE:
		if (a->dst->type == ENTRY_DIR)
			op_sent(op, sftp_rmdir(w->s, op->path, op_on_reply, op));
		else
			op_sent(op, sftp_remove(w->s, op->path, op_on_reply,
			    op));
		break;
	case ACT_SETATTR:
		/* The owner first, on its own: an account that may not
		 * chown must not lose the mode and mtime with it. */
		if ((a->attrs & ATTR_OWNER) != 0) {
			memset(&at, 0, sizeof(at));
			at.flags = SSH_FILEXFER_ATTR_UIDGID;
			at.uid = owner_uid(j, a);
			at.gid = owner_gid(j, a);
			op_sent(op, sftp_setstat(w->s, op->path, &at,
			    owner_on_reply, op));
			break;
		}
		attrs_of(&at, a->src, a->attrs);
		op_sent(op, sftp_setstat(w->s, op->path, &at, op_on_reply, op));
		break;
	case ACT_SYMLINK:
		if (a->dst != NULL && link_atomic(w->s)) {
			if (tempname_make(&op->tmp, op->path,
			    TEMPNAME_TMP) != 0) {
				job_finish(j, idx, TS_ENOMEM, "out of memory");
				op_free(op);
				return;
			}
			link_make(op);
		} else if (a->dst != NULL)
			op_sent(op, sftp_remove(w->s, op->path, link_on_reply,
			    op));
		else
			link_make(op);
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

static const char *
base_name(const char *path)
{
	const char	*slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

static void
upload_free(struct upload *u)
{
	if (u == NULL)
		return;
	if (u->sig != NULL)
		sigstore_abort(u->w->job->store, u->sig, u->sigtmp);
	free(u->resumed);
	xfer_free(u->x);
	delta_stream_free(u->stream);
	delta_dispose(&u->d);
	free(u->base);
	free(u->tmp);
	free(u);
}

/* Push with a store: a file in place gets its signature kept, as the
 * content the server now holds under its name, size and mtime. */
static void
upload_keep_sig(struct job *j, struct upload *u, bool ok)
{
	if (u->sig == NULL)
		return;
	/* Every byte went through the stream, or no signature. */
	if (ok && u->stream != NULL && !delta_stream_end(u->stream, u->hex))
		ok = false;
	if (ok)
		sigstore_commit(j->store, u->sig, u->sigtmp,
		    base_name(a_path(j, u->idx)), (uint64_t)u->st.st_size,
		    (int64_t)u->st.st_mtim.tv_sec, u->hex);
	else
		sigstore_abort(j->store, u->sig, u->sigtmp);
	u->sig = NULL;
	u->sigtmp = NULL;
}

/* Pull with a store: the file just received is what the server holds,
 * so its signature lets a later push of a changed copy send a delta. */
static void
download_keep_sig(struct job *j, size_t idx)
{
	const struct action	*a = &j->plan.v[idx];
	struct stat		 st;
	const char		*name;
	int			 dfd, fd;

	if (j->store == NULL || a->src->size < DELTA_MIN_SIZE ||
	    (dfd = local_parent(j, a->src->path, &name)) == -1)
		return;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd == -1)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		job_sig_record(j, fd, &st, a->src->path);
	close(fd);
}

static void
upload_on_phase(struct xfer *x, void *payload)
{
	struct upload	*u = payload;
	struct actor	*w = u->w;
	struct job	*j = w->job;
	struct ts_error	 e = { 0 };

	if (xfer_phase(x) == XFER_VERIFY) {
		assert(w->nverify < ACT_VERIFY_BATCH);	/* one per action */
		w->verify_q[w->nverify++] = u;
		return;
	}
	xfer_result(x, &e);
	if (xfer_owner_denied(x))
		atomic_fetch_add(&j->owner_denied, 1);
	/* What crossed the wire: less than the size with -S. */
	j->out[u->idx].wire = xfer_wire_bytes(x);
	j->out[u->idx].has_wire = true;
	/* Cut short: the signature of what was read is what the partial
	 * upload holds (at most), kept under the name's key. */
	if (u->part && u->stream != NULL && u->sig != NULL &&
	    (e.code == TS_ECONN || e.code == TS_ECANCELED) &&
	    delta_stream_cut(u->stream)) {
		(void)sigstore_keep(j->store, u->sig, u->sigtmp, u->srckey);
		u->sig = NULL;		/* closed and freed by the keep */
		u->sigtmp = NULL;
	}
	upload_keep_sig(j, u, e.code == TS_OK);
	if (j->pull && e.code == TS_OK)
		download_keep_sig(j, u->idx);
	/* The partial upload continued or replaced goes; one that did not
	 * check out too. */
	if (u->resumed != NULL && (e.code == TS_OK || (u->from_partial &&
	    e.code == TS_EVERIFY)))
		job_orphan(j, u->resumed);
	/* Cut short: kept for the next run, and for a retry in this one to
	 * know its name is taken. */
	if (u->part && (e.code == TS_ECONN || e.code == TS_ECANCELED) &&
	    u->tmp != NULL)
		(void)job_partial_add(j, a_path(j, u->idx), u->tmp, 0,
		    u->stream != NULL ? u->srckey : u->hex);
	if (u->delta && e.code == TS_OK) {
		j->out[u->idx].delta = true;
		j->out[u->idx].literal = u->d.literal;
		j->out[u->idx].matched = u->d.matched;
	}
	/* Begun before the probe said what the server lacks for it. */
	if (u->tools_retry && e.code == TS_EVERIFY) {
		log_msg(TS_LOG_DEBUG, "\"%s\": %s; sending it again %s",
		    a_path(j, u->idx), e.msg, u->tools_allow ?
		    "checked by SHA-256" : "whole");
		job_start_upload2(w, u->idx, u->tools_allow);
		return;
	}
	/* A delta that failed for any reason but the connection or the
	 * local file (the old copy was not what the store said, copy-data
	 * refused): its record goes, and the file is sent whole. */
	if (u->delta && e.code != TS_OK && e.code != TS_ECONN &&
	    e.code != TS_ECANCELED && e.code != TS_ELOCAL) {
		log_msg(TS_LOG_WARN, "\"%s\": the delta did not check out "
		    "(%s); sending it whole", a_path(j, u->idx), e.msg);
		if (!u->from_partial)
			sigstore_forget(j->store, base_name(u->base),
			    u->base_size, u->base_mtime, u->base_hex);
		job_start_upload2(w, u->idx, false);
		return;
	}
	/* A full local disk stops the pull: the file was removed, those
	 * done stay valid, nothing more is started. */
	if (j->pull && e.sys_errno == ENOSPC && !j->disk_full) {
		j->disk_full = true;
		log_msg(TS_LOG_ERROR, "the local disk is full; stopping");
	}
	/* A dropped connection could not remove the temporary file. */
	if (u->xo.in_place && (e.code == TS_ECONN || (e.code != TS_OK &&
	    sftp_failed(w->s) != NULL)))
		stage_taint(j, u->idx);	/* at a final name: not an orphan */
	else if (e.code == TS_ECONN && !j->pull && u->tmp != NULL && !u->part)
		job_orphan(j, u->tmp);
	job_finish_error(j, u->idx, &e);
}

/* --- pull: the local side -------------------------------------------- */

/* pull: the local directory holding rel, never through a symlink
 * (local_open.h); the fd, or -1 with errno set. */
int
local_parent(struct job *j, const char *rel, const char **name)
{
	return local_open_parent(j->root_fd, rel, false, name);
}

static mode_t
local_mode(const struct job *j, uint32_t mode)
{
	return mode & j->xo.mode_mask;
}

/* pull -o/-g: name in dfd gets the entry's owner (never through a
 * symlink); only root may, elsewhere it is counted, not failed. */
static void
local_chown(struct job *j, int dfd, const char *name,
    const struct action *a)
{
	if (fchownat(dfd, name, (uid_t)owner_uid(j, a), (gid_t)owner_gid(j, a),
	    AT_SYMLINK_NOFOLLOW) != 0)
		atomic_fetch_add(&j->owner_denied, 1);
}

/* mkdir, delete, setattr, symlink on the local side: done at once. */
static void
job_local_op(struct actor *w, size_t idx)
{
	struct job		*j = w->job;
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
		if ((a->attrs & ATTR_OWNER) != 0)
			local_chown(j, dfd, name, a);
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
		if (tempname_make(&tmp, name, TEMPNAME_TMP) != 0) {
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
		if (rc == 0 && (j->opts->owner || j->opts->group))
			local_chown(j, dfd, name, a);
		break;
	case ACT_CONFLICT:
		close(dfd);
		job_start_op(w, idx);	/* reports the conflict */
		return;
	default:
		break;
	}
	close(dfd);
out:
	free(tmp);
	if (rc != 0) {
		shown = path_join(*j->local_root != '\0' ? j->local_root : ".",
		    a_path(j, idx));
		error_set_errno(&e, errno, "%s \"%s\"", what, shown != NULL ?
		    shown : a_path(j, idx));
		free(shown);
		if (e.sys_errno == ENOSPC)
			j->disk_full = true;
	}
	job_finish(j, idx, e.code, e.msg);
}

/* A transfer started on w: the owner set where asked, on w's list. */
static void
actor_adopt(struct actor *w, struct upload *u, const struct action *a)
{
	struct job	*j = w->job;

	if (j->opts->owner || j->opts->group)
		xfer_set_owner(u->x, owner_uid(j, a), owner_gid(j, a));
	u->next = w->list;
	w->list = u;
	w->active++;
	w->transfers++;
}

static void
job_start_download(struct actor *w, size_t idx)
{
	struct job		*j = w->job;
	const struct action	*a = &j->plan.v[idx];
	struct ts_error		 e = { 0 };
	struct upload		*u;
	const char		*name;
	char			*src = NULL, *shown = NULL;
	int			 dfd = -1;

	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (src = path_join(j->remote_root, a->src->path)) == NULL ||
	    (shown = path_join(*j->local_root != '\0' ?
	    j->local_root : ".", a->src->path)) == NULL) {
		job_finish(j, idx, TS_ENOMEM, "out of memory");
		goto out;
	}
	if ((dfd = local_parent(j, a->src->path, &name)) == -1) {
		error_set_errno(&e, errno, "open the directory of \"%s\"",
		    shown);
		job_finish(j, idx, e.code, e.msg);
		goto out;
	}
	u->w = w;
	u->idx = idx;
	if (xfer_download_at(&u->x, w->s, src, dfd, shown, &j->xo,
	    upload_on_phase, u, &e) != 0) {
		job_finish(j, idx, e.code, e.msg);
		goto out;
	}
	actor_adopt(w, u, a);
	u = NULL;	/* transferred */
out:
	if (dfd != -1)
		close(dfd);
	free(u);
	free(src);
	free(shown);
}

/*
 * A delta begun before the probe answered (upload_prepare), once it has:
 * kept where the server runs commands and has xxhsum (its check's
 * command started now), else abandoned and sent again, whole without
 * commands, or as a delta checked by SHA-256 without xxhsum.  False
 * while it cannot be abandoned yet (its OPENs unanswered): asked again.
 */
static bool
actor_settle_probe(struct actor *w, struct upload *u)
{
	const char	*why = w->exec_ok ? "the server has no xxhsum" :
			    "the server runs no commands";
	struct ts_error	 e = { 0 };

	if (w->exec_ok && w->has_xxhsum) {
		u->tools_unsure = false;
		if (w->xxh_ready == NULL)
			w->xxh_ready = verify_hash_start(sftp_ssh(w->s),
			    HASH_XXH128);
		return true;
	}
	if (xfer_phase(u->x) == XFER_VERIFY) {
		error_set(&e, TS_EVERIFY, "%s", why);
		xfer_commit(u->x, false, &e);
	} else if (xfer_phase(u->x) == XFER_RUNNING &&
	    !xfer_abandon(u->x, TS_EVERIFY, why))
		return false;
	u->tools_unsure = false;
	u->tools_retry = true;
	u->tools_allow = w->exec_ok;
	return true;
}

/* Checks uploads v[0..n) waiting at their temporary names, all hashed
 * here with kind, with one remote hash command (or by reading them
 * back), then lets them finish. */
static void
verify_group(struct actor *w, enum hash_kind kind, struct upload **v,
    size_t n)
{
	struct job	*j = w->job;
	const char	*paths[ACT_VERIFY_BATCH];
	char		 hex[ACT_VERIFY_BATCH][HASH_HEX_MAX];
	struct ts_error	 e = { 0 }, why;
	size_t		 i;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		paths[i] = xfer_remote_path(v[i]->x);
	actor_probe_exec(w);
	if (actor_remote_hash(w, kind, w->exec_ok, paths, n, hex, &e) != 0)
		for (i = 0; i < n; i++)
			hex[i][0] = '\0';
	pthread_mutex_lock(&j->mu);
	if (j->sum->hash_where == NULL)
		j->sum->hash_where = w->exec_ok ? "server" : "read-back";
	pthread_mutex_unlock(&j->mu);
	for (i = 0; i < n; i++) {
		struct upload	*u = v[i];

		memset(&why, 0, sizeof(why));
		if (hex[i][0] == '\0')
			error_set(&why, TS_EVERIFY, "\"%s\": could not hash it on "
			    "the server%s%s", a_path(j, u->idx),
			    e.code != TS_OK ? ": " : "", e.msg);
		else if (strcmp(hex[i], xfer_hash(u->x)) != 0)
			error_set(&why, TS_EVERIFY, "\"%s\": %s on the server "
			    "differs from the bytes %s", a_path(j, u->idx),
			    kind == HASH_SHA256 ? "SHA-256" : "XXH128",
			    j->pull ? "received" : "sent");
		xfer_commit(u->x, why.code == TS_OK, &why);
	}
}

/* Checks the uploads waiting at their temporary names: those hashed with
 * SHA-256 as they were read (see put), and delta-built ones by XXH128
 * where the server has xxhsum. */
static void
job_verify_batch(struct actor *w)
{
	struct upload	*sha[ACT_VERIFY_BATCH], *xxh[ACT_VERIFY_BATCH];
	size_t		 i, ns = 0, nx = 0, n = w->nverify;

	if (n == 0)
		return;
	w->nverify = 0;
	for (i = 0; i < n; i++) {
		if (w->verify_q[i]->tools_unsure) {
			actor_probe_exec(w);	/* by now, answered */
			if (actor_settle_probe(w, w->verify_q[i]) &&
			    w->verify_q[i]->tools_retry)
				continue;	/* abandoned */
		}
		if (w->verify_q[i]->delta && w->verify_q[i]->xxh)
			xxh[nx++] = w->verify_q[i];
		else
			sha[ns++] = w->verify_q[i];
	}
	verify_group(w, HASH_SHA256, sha, ns);
	verify_group(w, HASH_XXH128, xxh, nx);
}

/* A new file unchanged since the link_dest copy: one HARDLINK request. */
static void
job_start_hardlink(struct actor *w, size_t idx)
{
	struct job		*j = w->job;
	struct op	*op;

	if ((op = op_new(w, idx, a_path(j, idx))) == NULL ||
	    (op->tmp = path_join(j->opts->link_dest, a_path(j, idx))) ==
	    NULL) {
		if (op != NULL)
			op_free(op);
		job_finish(j, idx, TS_ENOMEM, "out of memory");
		return;
	}
	op_sent(op, sftp_hardlink(w->s, op->tmp, op->path, op_on_reply, op));
}

/*
 * -H: HARDLINK from the first name to a temporary name, then renamed over
 * the old file: with posix-rename at once, so no reader sees it missing;
 * without it, the old file removed first (plain v3 RENAME won't replace).
 * op->step: 0 the HARDLINK, 1 the REMOVE, 2 the RENAME answered.
 */
static void
hlink_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct op		*op = payload;
	struct job		*j = op->w->job;
	const struct action	*a = &j->plan.v[op->idx];
	bool			 posix = sftp_has(s, SFTP_EXT_POSIX_RENAME);

	if (r->status != SSH_FX_OK && !(op->step == 1 &&
	    r->status == SSH_FX_NO_SUCH_FILE)) {
		op_failed(op, r, op->step == 0 ? "hard-link" : op->step == 1 ?
		    "replace" : "rename to");
		if (op->step > 0)
			sftp_remove(s, op->tmp, NULL, NULL);
		op_free(op);
		return;
	}
	if (op->step == 0 && !posix && a->dst != NULL) {
		op->step = 1;
		op_sent(op, sftp_remove(s, op->path, hlink_on_reply, op));
		return;
	}
	if (op->step < 2) {
		op->step = 2;
		op_sent(op, posix ? sftp_posix_rename(s, op->tmp, op->path,
		    hlink_on_reply, op) : sftp_rename(s, op->tmp, op->path,
		    hlink_on_reply, op));
		return;
	}
	job_finish(j, op->idx, TS_OK, NULL);
	op_free(op);
}

static void
job_start_hlink(struct actor *w, size_t idx)
{
	struct job		*j = w->job;
	const struct action	*a = &j->plan.v[idx];
	const struct entry	*first = j->leader[a->src->link_group];
	size_t			 fa = j->leader_action[a->src->link_group];
	struct op		*op;
	char			*from = NULL;
	char			 msg[256];

	/* Linked to a first name that did not make it: it would be stale. */
	if (fa != SIZE_MAX && j->out[fa].code != TS_OK) {
		snprintf(msg, sizeof(msg), "not linked: \"%s\", the file's "
		    "first name, failed", first->path);
		job_finish(j, idx, TS_ERROR, msg);
		return;
	}
	if ((op = op_new(w, idx, a->src->path)) == NULL ||
	    (from = stage_path(j, first->path)) == NULL ||
	    tempname_make(&op->tmp, op->path, TEMPNAME_TMP) != 0) {
		free(from);
		if (op != NULL)
			op_free(op);
		job_finish(j, idx, TS_ENOMEM, "out of memory");
		return;
	}
	op_sent(op, sftp_hardlink(w->s, from, op->tmp, hlink_on_reply, op));
	free(from);
}

/*
 * The server's copy of a's file that a delta may start from: the file
 * being replaced, or (a new file of a backup) its copy in link_dest.
 * NULL when there is none, or no delta may be tried.  *root is the
 * remote root it is under.
 */
static const struct entry *
delta_old(const struct job *j, const struct action *a, const char **root)
{
	const struct entry	*old;

	if (j->store == NULL || j->opts->whole_file || j->pull ||
	    a->kind != ACT_COPY || a->src->size < DELTA_MIN_SIZE)
		return NULL;
	/* -c found the server's bytes are not what its size and mtime say:
	 * a record made by them cannot be trusted either. */
	if (a->dst != NULL && a->reason == REASON_HASH)
		return NULL;
	if (a->dst != NULL) {
		*root = j->remote_root;
		old = a->dst;
	} else if (j->opts->link_dest != NULL) {
		*root = j->opts->link_dest;
		old = entries_find(&j->ref, a->src->path);
	} else
		return NULL;
	return old != NULL && old->type == ENTRY_FILE ? old : NULL;
}

bool
job_delta_possible(const struct job *j, const struct action *a)
{
	const struct entry	*old;
	const char		*root;
	char			 hex[HASH_HEX_MAX];
	FILE			*f;

	if ((old = delta_old(j, a, &root)) == NULL ||
	    !sftp_has(j->s, SFTP_EXT_COPY_DATA) ||
	    sigstore_find(j->store, base_name(a->src->path), old->size,
	    old->mtime_ns / 1000000000, &f, hex) != 0)
		return false;
	fclose(f);
	return true;
}

/* A resumable upload's key when named before its bytes are read. */
static void
source_key(const char *rel, const struct stat *st, char hex[HASH_HEX_MAX])
{
	struct hash	 h;
	char		 num[64];

	hash_init(&h, HASH_SHA256);
	hash_update(&h, "source", 7);
	hash_update(&h, rel, strlen(rel) + 1);
	snprintf(num, sizeof(num), "%lld %lld.%09ld", (long long)st->st_size,
	    (long long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec);
	hash_update(&h, num, strlen(num));
	hash_final(&h, hex);
	hash_dispose(&h);
}

static void
upload_tap(const void *p, size_t n, void *payload)
{
	delta_stream_feed(((struct upload *)payload)->stream, p, n);
}

/*
 * A resumable upload with no old copy to start from: the partial upload
 * of its file found on the server (or cut earlier in this run), if any,
 * is the base, with the signature of the content it was for.  It holds
 * a prefix of that content, if anything: copies beyond its end become
 * sends (delta.c), and the whole is checked by hash before the rename,
 * so a partial that does not match only costs a resend.  Returns the
 * signature to use (sig when one was given), with u->base set.
 */
static struct delta_sig *
upload_resume(struct actor *w, struct upload *u, struct delta_sig *sig,
    bool allow_delta)
{
	struct job	*j = w->job;
	struct partial	 p;
	struct ts_error	 e = { 0 };
	FILE		*bf;

	if (!job_partial_find(j, a_path(j, u->idx), &p))
		return sig;
	u->resumed = p.path;		/* goes once this upload is done */
	p.path = NULL;
	snprintf(u->resumed_key, sizeof(u->resumed_key), "%s", p.key);
	if (sig == NULL && allow_delta && p.size > 0 &&
	    sftp_has(w->s, SFTP_EXT_COPY_DATA) &&
	    !j->opts->whole_file && (actor_probe_exec(w), w->exec_ok) &&
	    sigstore_find_content(j->store, p.key, &bf, u->base_hex) == 0) {
		if (delta_sig_load(&sig, bf, &e) != 0)
			log_msg(TS_LOG_WARN, "\"%s\": %s", a_path(j, u->idx),
			    e.msg);
		fclose(bf);
		if (sig != NULL && (u->base = strdup(u->resumed)) == NULL) {
			delta_sig_free(sig);
			sig = NULL;
		}
		if (sig != NULL) {
			u->base_size = p.size;
			u->from_partial = true;
			log_msg(TS_LOG_INFO, "\"%s\": continuing a partial "
			    "upload of %llu bytes", a_path(j, u->idx),
			    (unsigned long long)p.size);
		}
	}
	free(p.rel);
	return sig;
}

/*
 * Push with a store, a file big enough: sets up the stream that makes
 * its SHA-256 and signature (kept once it is in place) as it is sent,
 * and when the server's copy is one the store knows and the server can
 * both copy-data and run the hash check, the commands that build it from
 * that copy.  Returns 0 (u->delta says which way it goes), or ENOMEM.
 */
static int
upload_prepare(struct actor *w, struct upload *u, bool allow_delta,
    struct ts_error *err)
{
	struct job		*j = w->job;
	const struct action	*a = &j->plan.v[u->idx];
	const struct entry	*old = NULL;
	struct delta_sig	*sig = NULL;
	struct ts_error		 e = { 0 };
	const char		*root = NULL;
	FILE			*bf;

	if (sigstore_begin(j->store, &u->sig, &u->sigtmp, &e) != 0) {
		log_msg(TS_LOG_WARN, "signature store: %s", e.msg);
		return 0;
	}
	if (allow_delta && sftp_has(w->s, SFTP_EXT_COPY_DATA))
		old = delta_old(j, a, &root);
	/* A delta-built file is checked by hash on the server: without
	 * commands there, no delta. */
	if (old != NULL) {
		/* Not waited for: the probe takes a new session's round
		 * trips, the OPENs need none.  Commands and xxhsum are
		 * assumed until it answers (actor_settle_probe). */
		if (!actor_probe_known(w))
			u->tools_unsure = true;
		else if (!w->exec_ok)
			old = NULL;
	}
	if (old != NULL && sigstore_find(j->store, base_name(a->src->path),
	    old->size, old->mtime_ns / 1000000000, &bf, u->base_hex) == 0) {
		if (delta_sig_load(&sig, bf, &e) != 0) {
			log_msg(TS_LOG_WARN, "\"%s\": %s; sending it whole",
			    a_path(j, u->idx), e.msg);
			sigstore_forget(j->store, base_name(a->src->path),
			    old->size, old->mtime_ns / 1000000000,
			    u->base_hex);
		}
		fclose(bf);
	}
	if (sig != NULL) {
		u->base_size = old->size;
		u->base_mtime = old->mtime_ns / 1000000000;
		if ((u->base = path_join(root, old->path)) == NULL) {
			delta_sig_free(sig);
			return error_set(err, TS_ENOMEM, "out of memory");
		}
	}
	u->part = job_partial_applies(j, (uint64_t)u->st.st_size);
	if (u->part)
		sig = upload_resume(w, u, sig, allow_delta);
	/* Read once: sent whole, its signature is made from the bytes as
	 * they are sent; a delta is made as it is sent (xfer.c), and checked
	 * by XXH128 where the server has xxhsum, which costs it far less
	 * than SHA-256.  A resumable one is named for its source, known
	 * before a byte is read; a cut keeps the signature of what was read
	 * under that name (upload_on_phase). */
	u->delta = sig != NULL;
	u->xxh = u->delta && (w->has_xxhsum || u->tools_unsure);
	u->tools_unsure = u->tools_unsure && u->delta;
	if ((sig == NULL ? delta_stream_new(&u->stream,
	    (uint64_t)u->st.st_size, u->sig, &e) :
	    delta_stream_new_delta(&u->stream, (uint64_t)u->st.st_size, u->sig,
	    sig, u->base_size, u->xxh, &e)) != 0) {
		log_msg(TS_LOG_WARN, "\"%s\": %s; sending it whole",
		    a_path(j, u->idx), e.msg);
		sigstore_abort(j->store, u->sig, u->sigtmp);
		u->sig = NULL;
		u->sigtmp = NULL;
		u->delta = u->part = u->from_partial = false;
		u->tools_unsure = false;
		return 0;
	}
	if (!u->delta) {
		u->xo.tap = upload_tap;
		u->xo.tap_payload = u;
	}
	if (u->part) {
		source_key(a->src->path, &u->st, u->srckey);
		if (u->resumed == NULL || strncmp(u->resumed_key, u->srckey,
		    TEMPNAME_KEY_LEN) != 0)
			u->xo.part_key = u->srckey;
	}
	return 0;
}

static void
job_start_upload(struct actor *w, size_t idx)
{
	job_start_upload2(w, idx, true);
}

static void
job_start_upload2(struct actor *w, size_t idx, bool allow_delta)
{
	struct job		*j = w->job;
	const struct action	*a = &j->plan.v[idx];
	struct ts_error		 e = { 0 };
	struct upload		*u;
	struct stat		 st;
	char			*dst = NULL;
	int			 fd, rc;

	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (dst = stage_path(j, a->src->path)) == NULL) {
		job_finish(j, idx, TS_ENOMEM, "out of memory");
		goto out;
	}
	u->w = w;
	u->idx = idx;
	/* From the root the walk listed, never out of it (local_open.h). */
	if (local_open_file(&fd, &st, j->root_fd, a->src->path,
	    j->opts->copy_links, a->src->ino, a->src->path, &e) != 0) {
		job_finish_error(j, idx, &e);
		goto out;
	}
	u->st = st;
	u->xo = j->xo;
	if (j->store != NULL && (uint64_t)st.st_size >= DELTA_MIN_SIZE &&
	    upload_prepare(w, u, allow_delta, &e) != 0) {
		close(fd);
		job_finish_error(j, idx, &e);
		goto out;
	}
	/* A new file in a directory being built: no rename of its own. */
	u->xo.in_place = !u->delta && !u->part && u->xo.part_key == NULL &&
	    stage_in_place(j, idx);
	if (u->delta)
		rc = xfer_upload_delta(&u->x, w->s, fd, &st, a->src->path, dst,
		    u->base, &u->d, u->stream, &u->xo, upload_on_phase, u, &e);
	else
		rc = xfer_upload(&u->x, w->s, fd, &st, a->src->path, dst,
		    &u->xo, upload_on_phase, u, &e);
	if (rc != 0) {
		job_finish_error(j, idx, &e);
		goto out;
	}
	u->tmp = strdup(xfer_tmp_path(u->x));
	/* Its check's command, started now: opening a session takes round
	 * trips that the building of the file covers. */
	if (u->delta && u->xxh && w->exec_ok && w->xxh_ready == NULL)
		w->xxh_ready = verify_hash_start(sftp_ssh(w->s), HASH_XXH128);
	actor_adopt(w, u, a);
	u = NULL;	/* transferred */
out:
	upload_free(u);
	free(dst);
}

void
job_sig_record(struct job *j, int fd, const struct stat *st,
    const char *remote)
{
	struct ts_error	 e = { 0 };
	struct delta	 d;
	char		 hex[HASH_HEX_MAX], *tmp;
	FILE		*f;

	if (j->store == NULL || (uint64_t)st->st_size < DELTA_MIN_SIZE ||
	    sigstore_begin(j->store, &f, &tmp, &e) != 0)
		return;
	delta_init(&d);
	if (delta_scan(fd, (uint64_t)st->st_size, NULL, 0, f, hex, NULL, &d,
	    &e) == 0)
		sigstore_commit(j->store, f, tmp, base_name(remote),
		    (uint64_t)st->st_size, (int64_t)st->st_mtim.tv_sec, hex);
	else
		sigstore_abort(j->store, f, tmp);
	delta_dispose(&d);
}


/* --- files split into ranges (split.h) ----------------------------- */

/* One range in flight on an actor. */
struct part_run {
	struct split_range *r;
	struct job_split *js;
	struct part_run	*next;
};

/* The files worth splitting: big, and more than a worker's fair share of
 * the batch's bytes.  Push needs posix-rename to replace a file. */
static int
split_parts_for(const struct job *j, const struct action *a, uint64_t total)
{
	uint64_t	 size = a->src->size, n;

	if (j->pool.nw < 2 || a->kind != ACT_COPY ||
	    j->out[a - j->plan.v].link ||
	    size < 2 * (uint64_t)JOB_SPLIT_MIN_PART ||
	    size <= total / (uint64_t)j->pool.nw)
		return 0;
	if (!j->pull && a->dst != NULL && !j->posix_rename)
		return 0;
	/* Holes are kept by xfer.c's whole-file transfers only. */
	if (j->opts->sparse)
		return 0;
	/* A delta moves few bytes, and one connection builds it; a
	 * resumable upload is one temporary file written in order. */
	if (!j->pull && (job_delta_possible(j, a) ||
	    job_partial_applies(j, size)))
		return 0;
	n = size / JOB_SPLIT_MIN_PART;
	return n < (uint64_t)j->pool.nw ? (int)n : j->pool.nw;
}

/* Opens what every range shares: the local source (push), or the local
 * temporary file (pull).  The remote temporary file is created by the
 * first range to open it. */
static int
split_prepare(struct job *j, struct job_split *js, struct ts_error *err)
{
	const struct action	*a = &j->plan.v[js->idx];
	struct split_opts	 o;
	struct stat		 st;
	const char		*name;
	char			*remote;
	int			 fd, rc;

	memset(&o, 0, sizeof(o));
	o.verify = j->opts->verify;
	o.fsync = j->opts->fsync;
	o.mode_mask = j->xo.mode_mask;
	o.rate = j->xo.rate;
	if ((remote = j->pull ? path_join(j->remote_root, a->src->path) :
	    stage_path(j, a->src->path)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if (!j->pull) {
		/* From the walk's root, never out of it (local_open.h). */
		if ((rc = local_open_file(&fd, &st, j->root_fd, a->src->path,
		    j->opts->copy_links, a->src->ino, a->src->path, err)) == 0)
			rc = split_new_push(&js->sp, fd, &st, remote,
			    a->src->path, js->nparts, &o, err);
	} else if ((fd = local_parent(j, a->src->path, &name)) == -1)
		rc = error_set_errno(err, errno, "open the directory of "
		    "\"%s\"", a->src->path);
	else
		rc = split_new_pull(&js->sp, fd, name, remote, a->src->size,
		    a->src->mtime_ns / 1000000000, a->src->path, js->nparts,
		    &o, err);
	free(remote);
	return rc;
}

void
job_split_files(struct job *j, size_t *idx, size_t *n)
{
	struct ts_error	 e;
	uint64_t	 total = 0;
	size_t		 i, m = 0, k, items = 0;
	int		 part, s;

	j->splits = NULL;
	j->nsplits = 0;
	for (i = 0; i < *n; i++)
		if (j->plan.v[idx[i]].kind == ACT_COPY)
			total += j->plan.v[idx[i]].src->size;
	/* At most nw - 1 files can each hold more than 1/nw of the bytes. */
	if ((j->splits = calloc((size_t)POOL_MAX_WORKERS,
	    sizeof(*j->splits))) == NULL)
		return;
	for (i = 0; i < *n; i++) {
		struct job_split *js = &j->splits[j->nsplits];
		int		 np;

		if (j->nsplits == POOL_MAX_WORKERS ||
		    (np = split_parts_for(j, &j->plan.v[idx[i]], total)) == 0) {
			idx[m++] = idx[i];
			continue;
		}
		memset(&e, 0, sizeof(e));
		js->idx = idx[i];
		js->nparts = np;
		if (split_prepare(j, js, &e) != 0) {
			/* Sent whole instead, where the error shows again. */
			log_msg(TS_LOG_DEBUG, "not splitting \"%s\": %s",
			    a_path(j, idx[i]), e.msg);
			memset(js, 0, sizeof(*js));
			idx[m++] = idx[i];
			continue;
		}
		j->nsplits++;
		log_msg(TS_LOG_INFO, "\"%s\": %d ranges over %d connections",
		    a_path(j, idx[i]), np, j->pool.nw);
	}
	if (j->nsplits == 0)
		return;
	/* The ranges go first, round-robin over the files, then the rest. */
	for (part = 0; part < POOL_MAX_WORKERS; part++)
		for (s = 0; s < (int)j->nsplits; s++)
			if (part < j->splits[s].nparts)
				items++;
	memmove(idx + items, idx, m * sizeof(*idx));
	k = 0;
	for (part = 0; part < POOL_MAX_WORKERS; part++)
		for (s = 0; s < (int)j->nsplits; s++)
			if (part < j->splits[s].nparts)
				idx[k++] = j->plan.n + (size_t)s *
				    POOL_MAX_WORKERS + (size_t)part;
	*n = items + m;
}

/* An unfinished push's temporary file is remembered for the sweep. */
static void
job_split_dispose_one(struct job *j, struct job_split *js)
{
	const char	*t;

	if (js->sp != NULL && (t = split_leftover(js->sp)) != NULL)
		job_orphan(j, t);
	split_free(js->sp);
	js->sp = NULL;
}

void
job_splits_dispose(struct job *j)
{
	size_t	 i;

	for (i = 0; i < j->nsplits; i++)
		job_split_dispose_one(j, &j->splits[i]);
	free(j->splits);
	j->splits = NULL;
	j->nsplits = 0;
}

/* split_hash_fn: --verify=hash of a split file, on the actor's
 * connection. */
static int
split_hash(const char *path, char hex[HASH_HEX_MAX], void *payload,
    struct ts_error *err)
{
	struct actor	*w = payload;
	struct job	*j = w->job;
	char		 theirs[1][HASH_HEX_MAX];
	const char	*paths[1] = { path };

	actor_probe_exec(w);
	theirs[0][0] = '\0';
	if (actor_remote_hash(w, HASH_SHA256, w->exec_ok, paths, 1, theirs,
	    err) != 0)
		return err->code;
	pthread_mutex_lock(&j->mu);
	if (j->sum->hash_where == NULL)
		j->sum->hash_where = w->exec_ok ? "server" : "read-back";
	pthread_mutex_unlock(&j->mu);
	memcpy(hex, theirs[0], HASH_HEX_MAX);
	return 0;
}

/* A split file is finished (its last range ended): its outcome. */
static void
split_finished(struct job *j, struct job_split *js, const struct ts_error *e)
{
	struct stat	 st;
	const char	*t;
	int		 fd;

	if ((t = split_leftover(js->sp)) != NULL)
		job_orphan(j, t);
	if (e->code == TS_OK && (fd = split_local(js->sp, &st)) != -1)
		job_sig_record(j, fd, &st, split_remote(js->sp));
	if (e->code == TS_OK)
		job_finish(j, js->idx, TS_OK, NULL);
	else
		job_finish_error(j, js->idx, e);
}

/* Starts range `item` (a batch item past the plan's actions). */
void
actor_start_part(struct actor *w, size_t item)
{
	struct job		*j = w->job;
	size_t			 s = (item - j->plan.n) / POOL_MAX_WORKERS;
	int			 k = (int)((item - j->plan.n) %
				    POOL_MAX_WORKERS);
	struct job_split	*js = &j->splits[s];
	struct part_run		*r;
	struct split_range	*range;
	struct ts_error		 e = { 0 };
	bool			 finished;

	/* The ranges of one file are for as many connections: one that
	 * moves a range of it already gives the next back to the queue, for
	 * another to take, and takes nothing more until it has pumped.  Else
	 * the first worker to wake could take every range (the pool hands
	 * out items as fast as a worker has room) and the file would go over
	 * one connection after all. */
	for (r = w->parts; r != NULL && r->js != js; r = r->next)
		;
	if (r != NULL) {
		w->yield = true;
		pool_retry(&j->pool, item);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		error_set(&e, TS_ENOMEM, "out of memory");
		finished = split_range_fail(js->sp, w->s, &e, split_hash, w,
		    &e);
	} else if (split_range_start(&range, js->sp, k, w->s, split_hash, w,
	    &finished, &e) == 0) {
		r->r = range;
		r->js = js;
		r->next = w->parts;
		w->parts = r;
		w->active++;
		w->transfers++;
		return;
	}
	free(r);
	if (finished)
		split_finished(j, js, &e);
	else
		pool_done(&j->pool, 1);
}

void
actor_kick_parts(struct actor *w)
{
	struct part_run	*r;

	for (r = w->parts; r != NULL; r = r->next)
		split_range_kick(r->r);
}

/* Frees the ranges that are done and accounts for them; the last range
 * of a file finishes it.  Not from a callback: finishing waits for
 * replies. */
void
actor_reap_parts(struct actor *w)
{
	struct part_run	**pp, *r;
	struct ts_error	 e;

	for (pp = &w->parts; (r = *pp) != NULL; ) {
		if (!split_range_done(r->r)) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		w->active--;
		w->transfers--;
		memset(&e, 0, sizeof(e));
		if (split_range_end(r->r, split_hash, w, &e))
			split_finished(w->job, r->js, &e);
		else
			pool_done(&w->job->pool, 1);
		free(r);
	}
}

/* Pumps once, feeding transfers and checking those waiting to be
 * verified; frees the transfers that are done. */
static void
actor_step(struct actor *w)
{
	struct upload	**pp, *u;
	size_t		 waiting = 0, transfers = 0;

	for (u = w->list; u != NULL; u = u->next) {
		transfers++;
		/* One waiting in VERIFY is queued: job_verify_batch's. */
		if (u->tools_unsure && xfer_phase(u->x) == XFER_RUNNING &&
		    actor_probe_known(w))
			(void)actor_settle_probe(w, u);
		if (xfer_phase(u->x) == XFER_RUNNING)
			xfer_kick(u->x);
		else if (xfer_phase(u->x) == XFER_VERIFY)
			waiting++;
	}
	/* Verify in batches: when enough wait, or when all transfers do. */
	if (w->nverify > 0 && (w->nverify >= ACT_VERIFY_BATCH / 2 ||
	    waiting == transfers))
		job_verify_batch(w);
	actor_kick_parts(w);
	if (w->active > 0)
		sftp_pump(w->s, NULL);
	actor_reap_parts(w);
	w->released = 0;
	for (pp = &w->list; (u = *pp) != NULL; ) {
		if (xfer_phase(u->x) == XFER_DONE) {
			*pp = u->next;
			upload_free(u);
			w->active--;
			w->transfers--;
			continue;
		}
		if (!xfer_holds_files(u->x))
			w->released++;
		pp = &u->next;
	}
}

static void
actor_start_action(struct actor *w, size_t idx)
{
	struct job		*j = w->job;
	const struct action	*a;

	if (idx >= STAGE_ITEM_BASE) {
		stage_start(w, idx);	/* also when interrupted */
		return;
	}
	if (idx >= j->plan.n) {
		actor_start_part(w, idx);
		return;
	}
	a = &j->plan.v[idx];
	if (cancel_requested())
		job_finish(j, idx, TS_ECANCELED, "interrupted");
	else if (j->disk_full)
		job_finish(j, idx, TS_ELOCAL, "not done: the local disk is "
		    "full");
	else if (j->pull && a->kind == ACT_COPY)
		job_start_download(w, idx);
	else if (j->pull)
		job_local_op(w, idx);
	else if (a->kind == ACT_COPY && j->out[idx].link)
		job_start_hardlink(w, idx);
	else if (a->kind == ACT_COPY && j->out[idx].hlink)
		job_start_hlink(w, idx);
	else if (a->kind == ACT_COPY)
		job_start_upload(w, idx);
	else
		job_start_op(w, idx);
}

void
actor_init(struct actor *w, struct job *j, struct sftp *s)
{
	memset(w, 0, sizeof(*w));
	w->job = j;
	w->s = s;
}

void
actor_dispose(struct actor *w)
{
	ssh_exec_drop(w->xxh_ready);
	w->xxh_ready = NULL;
}

/* --- the pool's callbacks ------------------------------------------ */

static struct actor *
actor_of(struct pool_worker *pw)
{
	return pw->user;
}

static void
act_start(struct pool_worker *pw, size_t item, void *payload)
{
	actor_start_action(actor_of(pw), item);
}

static bool
act_room(struct pool_worker *pw, void *payload)
{
	struct actor	*w = actor_of(pw);

	if (w->yield)
		return false;
	return w->transfers - w->released < actor_max_open(w) &&
	    w->active < ACT_MAX_ACTIONS && (w->active == 0 ||
	    sftp_room(w->s, 65536));
}

static bool
act_busy(struct pool_worker *pw, void *payload)
{
	return actor_of(pw)->active > 0;
}

static void
act_step(struct pool_worker *pw, void *payload)
{
	actor_step(actor_of(pw));
	actor_of(pw)->yield = false;
}

/* A new connection: what was learnt of the old server process goes. */
static void
act_connected(struct pool_worker *pw, void *payload)
{
	struct actor	*w = actor_of(pw);

	w->s = pw->s;
	w->exec_probed = false;
	actor_dispose(w);	/* the old connection's */
}

static int
act_connect(struct ts_conn **out, bool spare, void *payload,
    struct ts_error *err)
{
	struct job	*j = payload;

	/* One opened ahead (conn.c's spares) if there is one; a spare that
	 * failed (a host key recorded meanwhile, a passphrase only the
	 * first connection may ask for) is opened again here. */
	if (spare && conn_take_spare(j->conn, out, err) == 0)
		return 0;
	error_clear(err);
	return conn_clone(out, j->conn, err);
}

/* The status line, ten times a second at most; always at the end of a
 * batch (force), so the last one drawn says where the run got to. */
static void
job_progress(struct job *j, bool force)
{
	struct ts_progress	 p;
	size_t			 i;
	struct timespec		 ts;
	double			 now;

	if (j->opts->progress == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (!force && now - j->last_progress < 0.1)
		return;
	j->last_progress = now;
	memset(&p, 0, sizeof(p));
	pthread_mutex_lock(&j->mu);
	for (i = 0; i < j->plan.n; i++) {
		const struct action *a = &j->plan.v[i];

		if (a->kind != ACT_COPY)
			continue;
		p.files_total++;
		p.bytes_total += a->src->size;
		if (j->out[i].done)
			p.files_done++;
	}
	pthread_mutex_unlock(&j->mu);
	/* Bytes as they move, not as files end: on one connection every
	 * small file may be in flight at once and end together. */
	p.bytes_done = ratelimit_moved(j->rate);
	if (p.bytes_done > p.bytes_total)	/* retried bytes count twice */
		p.bytes_done = p.bytes_total;
	p.connections = pool_connections(&j->pool);
	p.elapsed = now - j->t0;
	j->opts->progress(&p, j->opts->progress_payload);
}

static void
act_tick(bool last, void *payload)
{
	struct job	*j = payload;

	job_report(j);
	job_progress(j, last);
}

const struct pool_ops act_pool_ops = {
	.start = act_start,
	.room = act_room,
	.busy = act_busy,
	.step = act_step,
	.connected = act_connected,
	.connect = act_connect,
	.tick = act_tick,
};

/* Every connection is lost: what is left fails with the last error. */
static void
job_fail_rest(struct job *j, const size_t *idx, size_t n)
{
	struct ts_error	 last;
	size_t		 i;
	char		 msg[300];

	pool_last_error(&j->pool, &last);
	snprintf(msg, sizeof(msg), "no connection left: %s",
	    last.msg[0] != '\0' ? last.msg : "connection lost");
	pthread_mutex_lock(&j->mu);
	for (i = 0; i < n; i++)
		if (idx[i] < j->plan.n && !j->out[idx[i]].done) {
			j->out[idx[i]].done = true;
			j->out[idx[i]].code = TS_ECONN;
			j->out[idx[i]].error = strdup(msg);
		}
	/* Split files are in the batch as their ranges only. */
	for (i = 0; i < j->nsplits; i++)
		if (!j->out[j->splits[i].idx].done) {
			j->out[j->splits[i].idx].done = true;
			j->out[j->splits[i].idx].code = TS_ECONN;
			j->out[j->splits[i].idx].error = strdup(msg);
		}
	pthread_mutex_unlock(&j->mu);
}

void
job_run(struct job *j, const size_t *idx, size_t n)
{
	if (n == 0)
		return;
	if (pool_run(&j->pool, idx, n) != 0) {
		job_fail_rest(j, idx, n);
		job_report(j);
	}
}

/* pull: the local leftovers, relative to the root, removed at once. */
static size_t
sweep_local(struct job *j)
{
	const char	*name;
	size_t		 i, removed = 0;
	int		 dfd;

	for (i = 0; i < j->norphans; i++) {
		if ((dfd = local_parent(j, j->orphans[i], &name)) == -1)
			continue;
		if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT) {
			log_msg(TS_LOG_INFO, "removed \"%s\"", j->orphans[i]);
			removed++;
		}
		close(dfd);
	}
	return removed;
}

void
job_sweep_orphans(struct job *j)
{
	struct sftp	*s;
	size_t		 removed, i, total = j->norphans + j->norphan_dirs;
	long		 n;

	if (total == 0)
		return;
	if (j->opts->dry_run) {		/* said, not done */
		j->sum->temps_removed = total;
		return;
	}
	if (j->pull)
		removed = sweep_local(j);
	else if ((n = j->norphans == 0 ? 0 : pool_sweep(&j->pool, j->orphans,
	    j->norphans)) >= 0)
		removed = (size_t)n;
	else {
		log_msg(TS_LOG_WARN, "%zu temporary files could not be removed; "
		    "the next run removes them", total);
		return;
	}
	/* Directories a push was building (stage.h) when its run ended. */
	for (i = 0; i < j->norphan_dirs; i++) {
		struct ts_error	 e = { 0 };

		if ((s = pool_live(&j->pool)) == NULL)
			break;
		if (rmtree_remove(s, j->orphan_dirs[i], &e) == 0) {
			log_msg(TS_LOG_INFO, "removed \"%s\"", j->orphan_dirs[i]);
			removed++;
		}
	}
	j->sum->temps_removed = removed;
	if (removed < total) {
		log_msg(TS_LOG_WARN, "%zu of %zu temporary files could not be "
		    "removed; the next run removes them", total - removed,
		    total);
		return;
	}
	log_msg(TS_LOG_WARN, "removed %zu temporary file%s left by dropped "
	    "connections or runs that ended (-v names them)", removed,
	    removed == 1 ? "" : "s");
}
