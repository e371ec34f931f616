/*
 * Files much bigger than the rest of a batch, split into byte ranges that
 * several connections move at once (split.h says how it goes).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "part.h"
#include "split.h"
#include "tempname.h"

struct split {
	bool		 pull;
	int		 nparts;
	uint64_t	 size;
	int64_t		 mtime;		/* pull: the source's, as listed */
	int		 fd;		/* push: the source; pull: the temp file */
	int		 dirfd;		/* pull: the destination directory */
	char		*tmp;		/* push: remote temp path; pull: name */
	char		*name;		/* pull: the final name, in dirfd */
	char		*remote;	/* push: the final path; pull: source */
	char		*what;		/* for messages */
	struct stat	 st;		/* push: the source when opened */
	struct split_opts o;
	bool		 orphaned;	/* push: its temp file may be left */
	/* Shared by the connections moving its ranges, under mu. */
	pthread_mutex_t	 mu;
	int		 left;		/* ranges not finished */
	struct ts_error	 err;		/* the first range's failure */
};

/* One range in flight on a connection. */
struct split_range {
	struct split	*sp;
	struct sftp	*s;
	struct part	*p;
};

static int
split_alloc(struct split **out, int nparts, const char *remote,
    const char *what, const struct split_opts *o, struct ts_error *err)
{
	struct split	*sp;

	*out = NULL;
	if ((sp = calloc(1, sizeof(*sp))) == NULL ||
	    (sp->remote = strdup(remote)) == NULL ||
	    (sp->what = strdup(what)) == NULL) {
		if (sp != NULL)
			free(sp->remote);
		free(sp);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	sp->fd = sp->dirfd = -1;
	sp->nparts = sp->left = nparts;
	sp->o = *o;
	pthread_mutex_init(&sp->mu, NULL);
	*out = sp;
	return 0;
}

int
split_new_push(struct split **out, int fd, const struct stat *st,
    const char *remote, const char *what, int nparts,
    const struct split_opts *o, struct ts_error *err)
{
	struct split	*sp;

	if (split_alloc(&sp, nparts, remote, what, o, err) != 0) {
		close(fd);
		return err->code;
	}
	sp->fd = fd;
	sp->st = *st;
	sp->size = (uint64_t)st->st_size;
	if (tempname_make(&sp->tmp, sp->remote, TEMPNAME_TMP) != 0) {
		sp->left = 0;		/* no temp file of ours to remove */
		split_free(sp);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	/* The remote temporary file is created by the first range to open
	 * it. */
	*out = sp;
	return 0;
}

int
split_new_pull(struct split **out, int dirfd, const char *name,
    const char *remote, uint64_t size, int64_t mtime, const char *what,
    int nparts, const struct split_opts *o, struct ts_error *err)
{
	struct split	*sp;

	if (split_alloc(&sp, nparts, remote, what, o, err) != 0) {
		close(dirfd);
		return err->code;
	}
	sp->pull = true;
	sp->dirfd = dirfd;
	sp->size = size;
	sp->mtime = mtime;
	sp->left = 0;		/* no temp file of ours to remove yet */
	if ((sp->name = strdup(name)) == NULL ||
	    tempname_make(&sp->tmp, name, TEMPNAME_TMP) != 0) {
		split_free(sp);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	if ((sp->fd = openat(sp->dirfd, sp->tmp, O_RDWR | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		error_set_errno(err, errno, "create \"%s\"", sp->tmp);
		split_free(sp);
		return err->code;
	}
	sp->left = nparts;
	*out = sp;
	return 0;
}

void
split_free(struct split *sp)
{
	if (sp == NULL)
		return;
	if (sp->fd != -1)
		close(sp->fd);
	/* A pull's temp file not finished (no connection left): gone. */
	if (sp->pull && sp->left > 0 && sp->dirfd != -1 && sp->tmp != NULL)
		(void)unlinkat(sp->dirfd, sp->tmp, 0);
	if (sp->dirfd != -1)
		close(sp->dirfd);
	pthread_mutex_destroy(&sp->mu);
	free(sp->tmp);
	free(sp->name);
	free(sp->remote);
	free(sp->what);
	free(sp);
}

const char *
split_leftover(const struct split *sp)
{
	return !sp->pull && (sp->left > 0 || sp->orphaned) ? sp->tmp : NULL;
}

const char *
split_remote(const struct split *sp)
{
	return sp->remote;
}

int
split_local(const struct split *sp, struct stat *st)
{
	if (sp->fd == -1)
		return -1;
	if (!sp->pull)
		*st = sp->st;
	else if (fstat(sp->fd, st) != 0)
		return -1;
	return sp->fd;
}

static void
range_on_done(struct part *p, void *payload)
{
	(void)p;
	(void)payload;
}

static bool	split_count(struct split *sp, struct sftp *s,
		    const struct ts_error *e, split_hash_fn *hash,
		    void *hash_payload, struct ts_error *err);

int
split_range_start(struct split_range **out, struct split *sp, int k,
    struct sftp *s, split_hash_fn *hash, void *hash_payload, bool *finished,
    struct ts_error *err)
{
	struct split_range	*r;
	struct ts_error		 e = { 0 };
	uint64_t		 off, len, step;
	int			 rc;

	*out = NULL;
	*finished = false;
	step = sp->size / (uint64_t)sp->nparts;
	off = step * (uint64_t)k;
	len = k == sp->nparts - 1 ? sp->size - off : step;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		error_set(&e, TS_ENOMEM, "out of memory");
		*finished = split_count(sp, s, &e, hash, hash_payload, err);
		return e.code;
	}
	r->sp = sp;
	r->s = s;
	if (sp->pull)
		rc = part_download(&r->p, s, sp->remote, sp->fd, off, len,
		    range_on_done, r, &e);
	else
		rc = part_upload(&r->p, s, sp->fd, sp->tmp, off, len,
		    range_on_done, r, &e);
	if (rc != 0) {
		free(r);
		*finished = split_count(sp, s, &e, hash, hash_payload, err);
		return e.code;
	}
	part_set_rate(r->p, sp->o.rate);
	*out = r;
	return 0;
}

bool
split_range_fail(struct split *sp, struct sftp *s, const struct ts_error *e,
    split_hash_fn *hash, void *hash_payload, struct ts_error *err)
{
	return split_count(sp, s, e, hash, hash_payload, err);
}

void
split_range_kick(struct split_range *r)
{
	if (!part_done(r->p))
		part_kick(r->p);
}

bool
split_range_done(const struct split_range *r)
{
	return part_done(r->p);
}

struct split *
split_range_file(const struct split_range *r)
{
	return r->sp;
}

bool
split_range_end(struct split_range *r, split_hash_fn *hash,
    void *hash_payload, struct ts_error *err)
{
	struct ts_error	 e = { 0 };
	bool		 last;

	part_result(r->p, &e);
	part_free(r->p);
	last = split_count(r->sp, r->s, &e, hash, hash_payload, err);
	free(r);
	return last;
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
split_check_hash(struct split *sp, const char *rpath, split_hash_fn *hash,
    void *hash_payload, struct ts_error *err)
{
	char	 mine[HASH_HEX_MAX], theirs[HASH_HEX_MAX];

	if (split_hash_fd(sp->fd, sp->size, mine, sp->what, err) != 0)
		return err->code;
	theirs[0] = '\0';
	if (hash(rpath, theirs, hash_payload, err) != 0)
		return err->code;
	if (strcmp(mine, theirs) != 0)
		return error_set(err, TS_EVERIFY, "\"%s\": SHA-256 on the server "
		    "differs from the bytes %s", sp->what,
		    sp->pull ? "received" : "sent");
	return 0;
}

/* Waits for the reply of a request sent (sent: what sending returned);
 * *c is disposed of. */
static int
split_call(struct sftp *s, int sent, struct sftp_call *c, const char *what,
    const char *path, struct ts_error *err)
{
	int	 rc;

	rc = sftp_call_wait(s, sent, c, what, path, err);
	sftp_call_dispose(c);
	return rc;
}

static int
split_stat(struct sftp *s, const char *path, struct sftp_attrs *a,
    struct ts_error *err)
{
	struct sftp_call	 c = { 0 };
	int			 rc;

	rc = split_call(s, sftp_stat(s, path, true, sftp_call_cb, &c), &c,
	    "stat", path, err);
	*a = c.attrs;
	return rc;
}

/* --fsync: the ranges were closed on their connections; open the file
 * once more to have the server flush it. */
static int
split_flush(struct sftp *s, const char *path, struct ts_error *err)
{
	struct sftp_call	 c = { 0 };
	struct sftp_handle	 h;
	int			 rc;

	if (split_call(s, sftp_open(s, path, SSH_FXF_WRITE, NULL,
	    sftp_call_cb, &c), &c, "open", path, err) != 0)
		return err->code;
	h = c.handle;
	memset(&c, 0, sizeof(c));
	rc = split_call(s, sftp_fsync(s, &h, sftp_call_cb, &c), &c, "fsync",
	    path, err);
	memset(&c, 0, sizeof(c));
	/* Closed either way; the first error is the one kept. */
	if (split_call(s, sftp_close(s, &h, sftp_call_cb, &c), &c, "close",
	    path, err) != 0 && rc == 0)
		rc = err->code;
	return rc;
}

/* Push: the source unchanged, the size and hash on the server right,
 * mtime and mode set, then one rename. */
static int
split_commit_push(struct split *sp, struct sftp *s, split_hash_fn *hash,
    void *hash_payload, struct ts_error *err)
{
	struct sftp_attrs	 at;
	struct sftp_call	 c = { 0 };
	struct stat		 now;

	if (fstat(sp->fd, &now) != 0)
		return error_set_errno(err, errno, "stat \"%s\"",
		    sp->what);
	if (now.st_size != sp->st.st_size ||
	    now.st_mtim.tv_sec != sp->st.st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != sp->st.st_mtim.tv_nsec) {
		error_set(err, TS_ELOCAL, "\"%s\" changed while being sent",
		    sp->what);
		err->sys_errno = EAGAIN;
		return err->code;
	}
	if (sp->o.verify != TS_VERIFY_NONE) {
		if (split_stat(s, sp->tmp, &at, err) != 0)
			return err->code;
		if ((at.flags & SSH_FILEXFER_ATTR_SIZE) == 0 ||
		    at.size != sp->size)
			return error_set(err, TS_EVERIFY, "\"%s\": %llu bytes "
			    "on the server, %llu sent", sp->what,
			    (unsigned long long)at.size,
			    (unsigned long long)sp->size);
	}
	if (sp->o.verify == TS_VERIFY_HASH &&
	    split_check_hash(sp, sp->tmp, hash, hash_payload, err) != 0)
		return err->code;
	if (sp->o.fsync && sftp_has(s, SFTP_EXT_FSYNC) &&
	    split_flush(s, sp->tmp, err) != 0)
		return err->code;
	memset(&at, 0, sizeof(at));
	at.flags = SSH_FILEXFER_ATTR_PERMISSIONS | SSH_FILEXFER_ATTR_ACMODTIME;
	at.perm = (uint32_t)sp->st.st_mode & 07777;
	at.atime = at.mtime = (uint32_t)sp->st.st_mtim.tv_sec;
	if (split_call(s, sftp_setstat(s, sp->tmp, &at, sftp_call_cb, &c),
	    &c, "setstat", sp->tmp, err) != 0)
		return err->code;
	memset(&c, 0, sizeof(c));
	return split_call(s, sftp_has(s, SFTP_EXT_POSIX_RENAME) ?
	    sftp_posix_rename(s, sp->tmp, sp->remote, sftp_call_cb, &c) :
	    sftp_rename(s, sp->tmp, sp->remote, sftp_call_cb, &c), &c,
	    "rename", sp->remote, err);
}

/* Pull: the source unchanged on the server, every byte here, the hash
 * right; then mode, fsync, mtime and one rename, all under dirfd. */
static int
split_commit_pull(struct split *sp, struct sftp *s, split_hash_fn *hash,
    void *hash_payload, struct ts_error *err)
{
	struct sftp_attrs	 at;
	struct timespec		 t[2];
	struct stat		 st;

	if (split_stat(s, sp->remote, &at, err) != 0)
		return err->code;
	if ((at.flags & SSH_FILEXFER_ATTR_SIZE) == 0 || at.size != sp->size ||
	    ((at.flags & SSH_FILEXFER_ATTR_ACMODTIME) != 0 &&
	    (int64_t)at.mtime != sp->mtime))
		return error_set(err, TS_EREMOTE, "\"%s\" changed on the "
		    "server while being read", sp->what);
	if (fstat(sp->fd, &st) != 0)
		return error_set_errno(err, errno, "stat \"%s\"", sp->tmp);
	if ((uint64_t)st.st_size != sp->size)
		return error_set(err, TS_EVERIFY, "\"%s\": %llu bytes received, "
		    "%llu expected", sp->what,
		    (unsigned long long)st.st_size,
		    (unsigned long long)sp->size);
	if (sp->o.verify == TS_VERIFY_HASH &&
	    split_check_hash(sp, sp->remote, hash, hash_payload, err) != 0)
		return err->code;
	if ((at.flags & SSH_FILEXFER_ATTR_PERMISSIONS) != 0 &&
	    fchmod(sp->fd, (mode_t)at.perm & sp->o.mode_mask) != 0)
		return error_set_errno(err, errno, "chmod \"%s\"", sp->tmp);
	if (fsync(sp->fd) != 0)
		return error_set_errno(err, errno, "fsync \"%s\"", sp->tmp);
	t[0].tv_sec = t[1].tv_sec = (time_t)sp->mtime;
	t[0].tv_nsec = t[1].tv_nsec = 0;
	if (futimens(sp->fd, t) != 0)
		return error_set_errno(err, errno, "set times of \"%s\"",
		    sp->tmp);
	if (renameat(sp->dirfd, sp->tmp, sp->dirfd, sp->name) != 0)
		return error_set_errno(err, errno, "rename \"%s\"",
		    sp->what);
	return 0;
}

/* The last range is in: check and rename, or remove the temp file. */
static void
split_finish(struct split *sp, struct sftp *s, split_hash_fn *hash,
    void *hash_payload, struct ts_error *err)
{
	struct sftp_call	 c = { 0 };

	if (err->code == TS_OK)
		(void)(sp->pull ? split_commit_pull(sp, s, hash, hash_payload,
		    err) : split_commit_push(sp, s, hash, hash_payload, err));
	if (err->code != TS_OK && sp->pull)
		(void)unlinkat(sp->dirfd, sp->tmp, 0);
	else if (err->code != TS_OK && (sftp_failed(s) != NULL ||
	    split_call(s, sftp_remove(s, sp->tmp, sftp_call_cb, &c), &c,
	    "remove", sp->tmp, NULL) == TS_ECONN))
		sp->orphaned = true;
	sftp_call_dispose(&c);
}

/* One range finished (ok or not); the last one finishes the file.
 * Returns whether it did, *err its outcome. */
static bool
split_count(struct split *sp, struct sftp *s, const struct ts_error *e,
    split_hash_fn *hash, void *hash_payload, struct ts_error *err)
{
	bool	 last;

	pthread_mutex_lock(&sp->mu);
	if (e->code != TS_OK && sp->err.code == TS_OK)
		sp->err = *e;
	last = --sp->left == 0;
	pthread_mutex_unlock(&sp->mu);
	if (!last)
		return false;
	*err = sp->err;
	split_finish(sp, s, hash, hash_payload, err);
	return true;
}
