/*
 * Files much bigger than the rest of a batch are split into byte ranges
 * that every worker moves at once (part.c), so one big file does not
 * leave all connections but one idle.  The ranges land in one temporary
 * file; the worker that finishes the last range checks the whole file
 * (the source unchanged, the size, the SHA-256 with --verify=hash), sets
 * its mtime and mode and renames it into place once.  A range that fails
 * fails the file, which then goes back to the queue whole (a dropped
 * connection) or is reported; its temporary file is removed either way.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "job.h"
#include "local_open.h"
#include "log.h"
#include "part.h"
#include "tempname.h"
#include "xfer.h"

/* One range in flight on a worker. */
struct part_run {
	struct worker	*w;
	struct split	*sp;
	struct part	*p;
	struct part_run	*next;
};

static void	job_splits_dispose_one(struct job *j, struct split *sp);
static void	split_part_done(struct worker *w, struct split *sp,
		    const struct ts_error *e);

/* The files worth splitting: big, and more than a worker's fair share of
 * the batch's bytes.  Push needs posix-rename to replace a file. */
static int
split_parts_for(const struct job *j, const struct action *a, uint64_t total)
{
	uint64_t	 size = a->src->size, n;

	if (j->nw < 2 || a->kind != ACT_COPY || j->out[a - j->plan.v].link ||
	    size < 2 * (uint64_t)JOB_SPLIT_MIN_PART ||
	    size <= total / (uint64_t)j->nw)
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
	return n < (uint64_t)j->nw ? (int)n : j->nw;
}

/* Opens what every range shares: the local source (push), or the local
 * temporary file (pull).  The remote temporary file is created by the
 * first range to open it. */
static int
split_prepare(struct job *j, struct split *sp, struct ts_error *err)
{
	const struct action	*a = &j->plan.v[sp->idx];

	sp->fd = sp->dirfd = -1;
	sp->size = a->src->size;
	if (!j->pull) {
		if ((sp->remote = remote_path(j->remote_root,
		    a->src->path)) == NULL ||
		    tempname_make(&sp->tmp, sp->remote, TEMPNAME_TMP) != 0)
			return error_set(err, TS_ENOMEM, "out of memory");
		/* From the walk's root, never out of it (local_open.h). */
		if (local_open_file(&sp->fd, &sp->st, j->root_fd, a->src->path,
		    j->opts->copy_links, a->src->ino, a->src->path, err) != 0)
			return err->code;
		sp->size = (uint64_t)sp->st.st_size;
		return 0;
	}
	if ((sp->remote = remote_path(j->remote_root, a->src->path)) == NULL ||
	    tempname_make(&sp->tmp, a->src->path, TEMPNAME_TMP) != 0)
		return error_set(err, TS_ENOMEM, "out of memory");
	if ((sp->dirfd = local_parent(j, a->src->path, &sp->name)) == -1)
		return error_set_errno(err, errno, "open the directory of "
		    "\"%s\"", a->src->path);
	/* The temp name's last component, in the same directory. */
	if (strrchr(sp->tmp, '/') != NULL)
		memmove(sp->tmp, strrchr(sp->tmp, '/') + 1,
		    strlen(strrchr(sp->tmp, '/') + 1) + 1);
	if ((sp->fd = openat(sp->dirfd, sp->tmp, O_RDWR | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return error_set_errno(err, errno, "create \"%s\"", sp->tmp);
	return 0;
}

void
job_split_files(struct job *j, size_t *idx, size_t *n)
{
	struct ts_error	 e;
	uint64_t	 total = 0;
	size_t		 i, m = 0, k, items = 0;
	int		 parts[JOB_MAX_WORKERS], part, s;

	j->splits = NULL;
	j->nsplits = 0;
	for (i = 0; i < *n; i++)
		if (j->plan.v[idx[i]].kind == ACT_COPY)
			total += j->plan.v[idx[i]].src->size;
	/* At most nw - 1 files can each hold more than 1/nw of the bytes. */
	if ((j->splits = calloc((size_t)JOB_MAX_WORKERS,
	    sizeof(*j->splits))) == NULL)
		return;
	for (i = 0; i < *n; i++) {
		struct split	*sp = &j->splits[j->nsplits];
		int		 np;

		if (j->nsplits == JOB_MAX_WORKERS ||
		    (np = split_parts_for(j, &j->plan.v[idx[i]], total)) == 0) {
			idx[m++] = idx[i];
			continue;
		}
		memset(&e, 0, sizeof(e));
		sp->idx = idx[i];
		sp->nparts = sp->left = np;
		if (split_prepare(j, sp, &e) != 0) {
			/* Sent whole instead, where the error shows again. */
			log_msg(TS_LOG_DEBUG, "not splitting \"%s\": %s",
			    a_path(j, idx[i]), e.msg);
			sp->left = 0;	/* no temp file of ours to remove */
			job_splits_dispose_one(j, sp);
			idx[m++] = idx[i];
			continue;
		}
		parts[j->nsplits++] = np;
		log_msg(TS_LOG_INFO, "\"%s\": %d ranges over %d connections",
		    a_path(j, idx[i]), np, j->nw);
	}
	if (j->nsplits == 0)
		return;
	/* The ranges go first, round-robin over the files, then the rest. */
	for (part = 0; part < JOB_MAX_WORKERS; part++)
		for (s = 0; s < (int)j->nsplits; s++)
			if (part < parts[s])
				items++;
	memmove(idx + items, idx, m * sizeof(*idx));
	k = 0;
	for (part = 0; part < JOB_MAX_WORKERS; part++)
		for (s = 0; s < (int)j->nsplits; s++)
			if (part < parts[s])
				idx[k++] = j->plan.n + (size_t)s *
				    JOB_MAX_WORKERS + (size_t)part;
	*n = items + m;
}

static void
job_splits_dispose_one(struct job *j, struct split *sp)
{
	if (sp->fd != -1)
		close(sp->fd);
	/* A pull's temp file not finished (no connection left): gone. */
	if (j->pull && sp->left > 0 && sp->dirfd != -1 && sp->tmp != NULL)
		(void)unlinkat(sp->dirfd, sp->tmp, 0);
	if (!j->pull && sp->left > 0 && sp->tmp != NULL)
		job_orphan(j, sp->tmp);
	if (sp->dirfd != -1)
		close(sp->dirfd);
	free(sp->tmp);
	free(sp->remote);
	memset(sp, 0, sizeof(*sp));
	sp->fd = sp->dirfd = -1;
}

void
job_splits_dispose(struct job *j)
{
	size_t	 i;

	for (i = 0; i < j->nsplits; i++)
		job_splits_dispose_one(j, &j->splits[i]);
	free(j->splits);
	j->splits = NULL;
	j->nsplits = 0;
}

static void
part_on_done(struct part *p, void *payload)
{
	(void)p;
	(void)payload;
}

/* Starts range `item` (a batch item past the plan's actions). */
void
worker_start_part(struct worker *w, size_t item)
{
	struct job	*j = w->job;
	size_t		 s = (item - j->plan.n) / JOB_MAX_WORKERS;
	int		 k = (int)((item - j->plan.n) % JOB_MAX_WORKERS);
	struct split	*sp = &j->splits[s];
	struct part_run	*r;
	struct ts_error	 e = { 0 };
	uint64_t	 off, len, step;
	int		 rc;

	step = sp->size / (uint64_t)sp->nparts;
	off = step * (uint64_t)k;
	len = k == sp->nparts - 1 ? sp->size - off : step;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		error_set(&e, TS_ENOMEM, "out of memory");
		split_part_done(w, sp, &e);
		return;
	}
	r->w = w;
	r->sp = sp;
	if (j->pull)
		rc = part_download(&r->p, w->s, sp->remote, sp->fd, off, len,
		    part_on_done, r, &e);
	else
		rc = part_upload(&r->p, w->s, sp->fd, sp->tmp, off, len,
		    part_on_done, r, &e);
	if (rc != 0) {
		free(r);
		split_part_done(w, sp, &e);
		return;
	}
	part_set_rate(r->p, j->xo.rate);
	r->next = w->parts;
	w->parts = r;
	w->active++;
	w->transfers++;
}

void
worker_kick_parts(struct worker *w)
{
	struct part_run	*r;

	for (r = w->parts; r != NULL; r = r->next)
		if (!part_done(r->p))
			part_kick(r->p);
}

/* Frees the ranges that are done and accounts for them; the last range
 * of a file finishes it.  Not from a callback: finishing waits for
 * replies. */
void
worker_reap_parts(struct worker *w)
{
	struct part_run	**pp, *r;
	struct ts_error	 e;

	for (pp = &w->parts; (r = *pp) != NULL; ) {
		if (!part_done(r->p)) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		memset(&e, 0, sizeof(e));
		part_result(r->p, &e);
		part_free(r->p);
		w->active--;
		w->transfers--;
		split_part_done(w, r->sp, &e);
		free(r);
	}
}

static int
split_hash_fd(int fd, uint64_t size, char *hex, const char *what,
    struct ts_error *err)
{
	struct hash	 h;
	uint8_t		*buf;
	uint64_t	 off = 0;
	ssize_t		 n;

	if ((buf = malloc(1 << 20)) == NULL || hash_init(&h, HASH_SHA256) != 0) {
		free(buf);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	while (off < size) {
		n = pread(fd, buf, size - off < (1 << 20) ? (size_t)(size - off) :
		    (size_t)1 << 20, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				error_set(err, TS_ELOCAL, "\"%s\" shrank while "
				    "being hashed", what);
			else
				error_set_errno(err, errno, "read \"%s\"",
				    what);
			hash_dispose(&h);
			free(buf);
			return err->code;
		}
		hash_update(&h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	hash_final(&h, hex);
	hash_dispose(&h);
	free(buf);
	return 0;
}

/* --verify=hash: SHA-256 of the local copy against the server's. */
static int
split_check_hash(struct worker *w, struct split *sp, const char *rpath,
    struct ts_error *err)
{
	struct job	*j = w->job;
	char		 mine[HASH_HEX_MAX], theirs[1][HASH_HEX_MAX];
	const char	*paths[1] = { rpath };

	if (split_hash_fd(sp->fd, sp->size, mine, a_path(j, sp->idx), err) != 0)
		return err->code;
	worker_probe_exec(w);
	theirs[0][0] = '\0';
	if (worker_remote_hash(w, HASH_SHA256, w->exec_ok, paths, 1, theirs,
	    err) != 0)
		return err->code;
	pthread_mutex_lock(&j->mu);
	if (j->sum->hash_where == NULL)
		j->sum->hash_where = w->exec_ok ? "server" : "read-back";
	pthread_mutex_unlock(&j->mu);
	if (strcmp(mine, theirs[0]) != 0)
		return error_set(err, TS_EVERIFY, "\"%s\": SHA-256 on the server "
		    "differs from the bytes %s", a_path(j, sp->idx),
		    j->pull ? "received" : "sent");
	return 0;
}

/* Waits for the reply of a request sent (sent: what sending returned). */
static int
split_call(struct worker *w, int sent, struct sftp_call *c, const char *what,
    const char *path, struct ts_error *err)
{
	int	 rc;

	if (sent != 0)
		return error_set(err, TS_ECONN, "%s", sftp_failed(w->s) != NULL ?
		    sftp_failed(w->s)->msg : "connection lost");
	rc = sftp_call_wait(w->s, c, what, path, err);
	sftp_call_dispose(c);
	return rc;
}

static int
split_stat(struct worker *w, const char *path, struct sftp_attrs *a,
    struct ts_error *err)
{
	struct sftp_call	 c = { 0 };
	int			 rc;

	rc = split_call(w, sftp_stat(w->s, path, true, sftp_call_cb, &c), &c,
	    "stat", path, err);
	*a = c.attrs;
	return rc;
}

/* --fsync: the ranges were closed on their connections; open the file
 * once more to have the server flush it. */
static int
split_flush(struct worker *w, const char *path, struct ts_error *err)
{
	struct sftp_call	 c = { 0 };
	struct sftp_handle	 h;
	int			 rc;

	if (split_call(w, sftp_open(w->s, path, SSH_FXF_WRITE, NULL,
	    sftp_call_cb, &c), &c, "open", path, err) != 0)
		return err->code;
	h = c.handle;
	memset(&c, 0, sizeof(c));
	rc = split_call(w, sftp_fsync(w->s, &h, sftp_call_cb, &c), &c, "fsync",
	    path, err);
	memset(&c, 0, sizeof(c));
	/* Closed either way; the first error is the one kept. */
	if (split_call(w, sftp_close(w->s, &h, sftp_call_cb, &c), &c, "close",
	    path, err) != 0 && rc == 0)
		rc = err->code;
	return rc;
}

/* Push: the source unchanged, the size and hash on the server right,
 * mtime and mode set, then one rename. */
static int
split_commit_push(struct worker *w, struct split *sp, struct ts_error *err)
{
	struct job		*j = w->job;
	struct sftp_attrs	 at;
	struct sftp_call	 c = { 0 };
	struct stat		 now;

	if (fstat(sp->fd, &now) != 0)
		return error_set_errno(err, errno, "stat \"%s\"",
		    a_path(j, sp->idx));
	if (now.st_size != sp->st.st_size ||
	    now.st_mtim.tv_sec != sp->st.st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != sp->st.st_mtim.tv_nsec) {
		error_set(err, TS_ELOCAL, "\"%s\" changed while being sent",
		    a_path(j, sp->idx));
		err->sys_errno = EAGAIN;
		return err->code;
	}
	if (j->opts->verify != TS_VERIFY_NONE) {
		if (split_stat(w, sp->tmp, &at, err) != 0)
			return err->code;
		if ((at.flags & SSH_FILEXFER_ATTR_SIZE) == 0 ||
		    at.size != sp->size)
			return error_set(err, TS_EVERIFY, "\"%s\": %llu bytes "
			    "on the server, %llu sent", a_path(j, sp->idx),
			    (unsigned long long)at.size,
			    (unsigned long long)sp->size);
	}
	if (j->opts->verify == TS_VERIFY_HASH &&
	    split_check_hash(w, sp, sp->tmp, err) != 0)
		return err->code;
	if (j->opts->fsync && sftp_has(w->s, SFTP_EXT_FSYNC) &&
	    split_flush(w, sp->tmp, err) != 0)
		return err->code;
	memset(&at, 0, sizeof(at));
	at.flags = SSH_FILEXFER_ATTR_PERMISSIONS | SSH_FILEXFER_ATTR_ACMODTIME;
	at.perm = (uint32_t)sp->st.st_mode & 07777;
	at.atime = at.mtime = (uint32_t)sp->st.st_mtim.tv_sec;
	if (split_call(w, sftp_setstat(w->s, sp->tmp, &at, sftp_call_cb, &c),
	    &c, "setstat", sp->tmp, err) != 0)
		return err->code;
	memset(&c, 0, sizeof(c));
	return split_call(w, sftp_has(w->s, SFTP_EXT_POSIX_RENAME) ?
	    sftp_posix_rename(w->s, sp->tmp, sp->remote, sftp_call_cb, &c) :
	    sftp_rename(w->s, sp->tmp, sp->remote, sftp_call_cb, &c), &c,
	    "rename", sp->remote, err);
}

/* Pull: the source unchanged on the server, every byte here, the hash
 * right; then mode, fsync, mtime and one rename, all under dirfd. */
static int
split_commit_pull(struct worker *w, struct split *sp, struct ts_error *err)
{
	struct job		*j = w->job;
	const struct action	*a = &j->plan.v[sp->idx];
	struct sftp_attrs	 at;
	struct timespec		 t[2];
	struct stat		 st;

	if (split_stat(w, sp->remote, &at, err) != 0)
		return err->code;
	if ((at.flags & SSH_FILEXFER_ATTR_SIZE) == 0 || at.size != sp->size ||
	    ((at.flags & SSH_FILEXFER_ATTR_ACMODTIME) != 0 &&
	    (int64_t)at.mtime != a->src->mtime_ns / 1000000000))
		return error_set(err, TS_EREMOTE, "\"%s\" changed on the "
		    "server while being read", a_path(j, sp->idx));
	if (fstat(sp->fd, &st) != 0)
		return error_set_errno(err, errno, "stat \"%s\"", sp->tmp);
	if ((uint64_t)st.st_size != sp->size)
		return error_set(err, TS_EVERIFY, "\"%s\": %llu bytes received, "
		    "%llu expected", a_path(j, sp->idx),
		    (unsigned long long)st.st_size,
		    (unsigned long long)sp->size);
	if (j->opts->verify == TS_VERIFY_HASH &&
	    split_check_hash(w, sp, sp->remote, err) != 0)
		return err->code;
	if ((at.flags & SSH_FILEXFER_ATTR_PERMISSIONS) != 0 &&
	    fchmod(sp->fd, (mode_t)at.perm & j->xo.mode_mask) != 0)
		return error_set_errno(err, errno, "chmod \"%s\"", sp->tmp);
	if (fsync(sp->fd) != 0)
		return error_set_errno(err, errno, "fsync \"%s\"", sp->tmp);
	t[0].tv_sec = t[1].tv_sec = (time_t)(a->src->mtime_ns / 1000000000);
	t[0].tv_nsec = t[1].tv_nsec = 0;
	if (futimens(sp->fd, t) != 0)
		return error_set_errno(err, errno, "set times of \"%s\"",
		    sp->tmp);
	if (renameat(sp->dirfd, sp->tmp, sp->dirfd, sp->name) != 0)
		return error_set_errno(err, errno, "rename \"%s\"",
		    a_path(j, sp->idx));
	return 0;
}

/* The last range is in: check and rename, or remove the temp file. */
static void
split_finish(struct worker *w, struct split *sp)
{
	struct job		*j = w->job;
	struct ts_error		 e = sp->err;
	struct sftp_call	 c = { 0 };
	struct stat		 st;

	if (e.code == TS_OK)
		(void)(j->pull ? split_commit_pull(w, sp, &e) :
		    split_commit_push(w, sp, &e));
	if (e.code != TS_OK && j->pull)
		(void)unlinkat(sp->dirfd, sp->tmp, 0);
	else if (e.code != TS_OK && (sftp_failed(w->s) != NULL ||
	    sftp_remove(w->s, sp->tmp, sftp_call_cb, &c) != 0 ||
	    sftp_call_wait(w->s, &c, "remove", sp->tmp, NULL) == TS_ECONN))
		job_orphan(j, sp->tmp);
	sftp_call_dispose(&c);
	if (e.code == TS_OK && !j->pull)
		job_sig_record(j, sp->fd, &sp->st, sp->remote);
	else if (e.code == TS_OK && fstat(sp->fd, &st) == 0)
		job_sig_record(j, sp->fd, &st, sp->remote);
	if (e.code == TS_OK)
		job_finish(j, sp->idx, TS_OK, NULL);
	else
		job_finish_error(j, sp->idx, &e);
}

/* One range finished (ok or not); the last one finishes the file, the
 * others only count as done items of the batch. */
static void
split_part_done(struct worker *w, struct split *sp, const struct ts_error *e)
{
	struct job	*j = w->job;
	bool		 last;

	pthread_mutex_lock(&j->mu);
	if (e->code != TS_OK && sp->err.code == TS_OK)
		sp->err = *e;
	last = --sp->left == 0;
	if (!last && j->pending > 0) {
		j->pending--;
		pthread_cond_broadcast(&j->done_cv);
	}
	pthread_mutex_unlock(&j->mu);
	if (last)
		split_finish(w, sp);
}
