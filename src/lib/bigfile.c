/*
 * One big file over several connections, for put and get.  One SSH
 * connection moves a file no faster than libssh2 encrypts (one cipher
 * call per 16-byte block), far below the link on a fast network; so a
 * file of at least two ranges is cut into byte ranges (part.c) that every
 * connection moves at once, into one temporary file.  The file is then
 * checked whole (source unchanged, size, SHA-256 with --verify=hash),
 * given its mtime and mode, and renamed into place once, on the first
 * connection.  A failure removes the temporary file and the old file at
 * the final name stays as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bigfile.h"
#include "conn.h"
#include "error.h"
#include "hash.h"
#include "log.h"
#include "part.h"
#include "verify.h"
#include "xfer.h"

#define BIGFILE_MIN_PART	(8u << 20)	/* bytes: a range worth a
						 * connection's handshake */
#define BIGFILE_MAX_PARTS	16

struct bigfile {
	struct ts_conn	*c;		/* the caller's: commits */
	bool		 upload;
	int		 fd;		/* local: the source, or the temporary */
	const char	*remote;	/* the remote file (get), or the
					 * remote temporary (put) */
	uint64_t	 size;
	int		 nparts;
	pthread_mutex_t	 mu;
	int		 next;		/* the next range to take */
	int		 redo[BIGFILE_MAX_PARTS]; /* dropped by a lost
					 * extra connection: to move again */
	int		 nredo;
	int		 lanes;		/* connections open */
	struct ts_error	 err;		/* the first failure */
	uint64_t	 moved;
};

struct lane {				/* one connection and its thread */
	struct bigfile	*bf;
	int		 k;
	pthread_t	 th;
	bool		 started;
};

int
bigfile_parts(uint64_t size, int jobs)
{
	uint64_t	 n = size / BIGFILE_MIN_PART;

	if (jobs > BIGFILE_MAX_PARTS)
		jobs = BIGFILE_MAX_PARTS;
	if (n < 2 || jobs < 2)
		return 1;
	return n < (uint64_t)jobs ? (int)n : jobs;
}

int
ts_put_parts(uint64_t size, int jobs)
{
	return bigfile_parts(size, jobs);
}

static void
part_wake(struct part *p, void *payload)
{
	(void)p;
	*(bool *)payload = true;
}

static bool
bigfile_failed(struct bigfile *bf)
{
	bool	 failed;

	pthread_mutex_lock(&bf->mu);
	failed = bf->err.code != TS_OK;
	pthread_mutex_unlock(&bf->mu);
	return failed;
}

static void
bigfile_fail(struct bigfile *bf, const struct ts_error *e)
{
	pthread_mutex_lock(&bf->mu);
	if (bf->err.code == TS_OK)
		bf->err = *e;
	pthread_mutex_unlock(&bf->mu);
}

/* Moves range k over s; 0, or the range's error in *e. */
static int
bigfile_range(struct bigfile *bf, struct sftp *s, int k, struct ts_error *e)
{
	struct part	*p = NULL;
	uint64_t	 step = bf->size / (uint64_t)bf->nparts;
	uint64_t	 off = step * (uint64_t)k;
	uint64_t	 len = k == bf->nparts - 1 ? bf->size - off : step;
	bool		 done = false;
	int		 rc;

	rc = bf->upload ?
	    part_upload(&p, s, bf->fd, bf->remote, off, len, part_wake, &done,
	    e) :
	    part_download(&p, s, bf->remote, bf->fd, off, len, part_wake,
	    &done, e);
	if (rc != 0)
		return rc;
	while (!part_done(p)) {
		part_kick(p);
		if (!part_done(p) && sftp_pump(s, NULL) != 0 &&
		    sftp_failed(s) == NULL)
			break;
	}
	rc = part_result(p, e);
	part_free(p);
	if (rc == 0) {
		pthread_mutex_lock(&bf->mu);
		bf->moved += len;
		pthread_mutex_unlock(&bf->mu);
	}
	return rc;
}

/* Takes ranges until none is left or one failed.  A range whose extra
 * connection dropped goes back for another (the first connection's
 * failures fail the file: it has to finish it). */
static void
bigfile_ranges(struct bigfile *bf, struct sftp *s, bool first)
{
	struct ts_error	 e;
	int		 k;

	for (;;) {
		pthread_mutex_lock(&bf->mu);
		k = bf->err.code != TS_OK ? -1 : bf->nredo > 0 ?
		    bf->redo[--bf->nredo] : bf->next < bf->nparts ?
		    bf->next++ : -1;
		pthread_mutex_unlock(&bf->mu);
		if (k < 0)
			return;
		memset(&e, 0, sizeof(e));
		if (bigfile_range(bf, s, k, &e) == 0)
			continue;
		if (first || sftp_failed(s) == NULL) {
			bigfile_fail(bf, &e);
			return;
		}
		log_msg(TS_LOG_INFO, "a connection was lost (%s); its range "
		    "goes to another", e.msg);
		pthread_mutex_lock(&bf->mu);
		bf->redo[bf->nredo++] = k;
		pthread_mutex_unlock(&bf->mu);
		return;
	}
}

/* An extra connection: opened ahead (spares) or now.  One that cannot be
 * opened leaves its ranges to the others. */
static void *
lane_main(void *arg)
{
	struct lane	*l = arg;
	struct ts_conn	*c = NULL;
	struct ts_error	 e = { 0 };

	if (conn_take_spare(l->bf->c, &c, &e) != 0) {
		error_clear(&e);
		if (conn_clone(&c, l->bf->c, &e) != 0) {
			log_msg(TS_LOG_INFO, "connection %d: %s", l->k + 1,
			    e.msg);
			return NULL;
		}
	}
	pthread_mutex_lock(&l->bf->mu);
	l->bf->lanes++;
	pthread_mutex_unlock(&l->bf->mu);
	if (!bigfile_failed(l->bf))
		bigfile_ranges(l->bf, conn_sftp(c), false);
	ts_conn_free(c);
	return NULL;
}

/* Moves every range: nparts - 1 threads with a connection each, and the
 * caller's connection on this thread. */
static int
bigfile_move(struct bigfile *bf, struct ts_error *err)
{
	struct lane	 lanes[BIGFILE_MAX_PARTS];
	int		 k;

	pthread_mutex_init(&bf->mu, NULL);
	bf->lanes = 1;
	for (k = 1; k < bf->nparts; k++) {
		lanes[k].bf = bf;
		lanes[k].k = k;
		lanes[k].started = pthread_create(&lanes[k].th, NULL,
		    lane_main, &lanes[k]) == 0;
	}
	bigfile_ranges(bf, conn_sftp(bf->c), true);
	for (k = 1; k < bf->nparts; k++)
		if (lanes[k].started)
			pthread_join(lanes[k].th, NULL);
	/* What lost connections gave back after this one was done. */
	bigfile_ranges(bf, conn_sftp(bf->c), true);
	pthread_mutex_destroy(&bf->mu);
	if (bf->err.code != TS_OK) {
		*err = bf->err;
		return err->code;
	}
	log_msg(TS_LOG_INFO, "%d ranges over %d connections", bf->nparts,
	    bf->lanes);
	return 0;
}

/* Waits for the reply to a request just sent on c. */
static int
bigfile_call(struct ts_conn *c, int sent, struct sftp_call *call,
    const char *what, const char *path, struct ts_error *err)
{
	struct sftp	*s = conn_sftp(c);
	int		 rc;

	if (sent != 0)
		return error_set(err, TS_ECONN, "%s", sftp_failed(s) != NULL ?
		    sftp_failed(s)->msg : "connection lost");
	rc = sftp_call_wait(s, call, what, path, err);
	sftp_call_dispose(call);
	return rc;
}

/* SHA-256 of the local fd against the server's of path. */
static int
bigfile_check_hash(struct bigfile *bf, const char *path,
    struct ts_xfer_result *res, const char *shown, struct ts_error *err)
{
	char		 mine[HASH_HEX_MAX], theirs[1][HASH_HEX_MAX];
	const char	*paths[1] = { path };

	if (hash_fd(bf->fd, bf->size, HASH_SHA256, mine, shown, err) != 0)
		return err->code;
	res->hash_method = "sha256sum";
	if (verify_remote_hash(conn_ssh(bf->c), HASH_SHA256, paths, 1, theirs,
	    NULL) != 0) {
		res->hash_method = "read-back";
		if (verify_read_back(conn_sftp(bf->c), path, HASH_SHA256,
		    theirs[0], err) != 0)
			return err->code;
	}
	if (strcmp(mine, theirs[0]) != 0)
		return error_set(err, TS_EVERIFY, "\"%s\": SHA-256 on the server "
		    "(%.16s...) differs from the bytes %s (%.16s...)", shown,
		    theirs[0], bf->upload ? "sent" : "received", mine);
	res->hash_checked = true;
	return 0;
}

static int
bigfile_put_commit(struct bigfile *bf, const struct stat *was,
    const char *src, const char *target, const struct ts_put_opts *o,
    struct ts_xfer_result *res, struct ts_error *err)
{
	struct sftp		*s = conn_sftp(bf->c);
	struct sftp_call	 call = { 0 };
	struct sftp_attrs	 at;
	struct sftp_handle	 h;
	struct stat		 now;
	int			 rc;

	if (fstat(bf->fd, &now) != 0)
		return error_set_errno(err, errno, "stat \"%s\"", src);
	if (now.st_size != was->st_size ||
	    now.st_mtim.tv_sec != was->st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != was->st_mtim.tv_nsec)
		return error_set(err, TS_ELOCAL, "\"%s\" changed while being "
		    "sent; nothing was replaced: run put again", src);
	if (o->verify != TS_VERIFY_NONE) {
		if (bigfile_call(bf->c, sftp_stat(s, bf->remote, true,
		    sftp_call_cb, &call), &call, "stat", bf->remote, err) != 0)
			return err->code;
		if ((call.attrs.flags & SSH_FILEXFER_ATTR_SIZE) == 0 ||
		    call.attrs.size != bf->size)
			return error_set(err, TS_EVERIFY, "\"%s\": %llu bytes on "
			    "the server, %llu sent", target,
			    (unsigned long long)call.attrs.size,
			    (unsigned long long)bf->size);
	}
	if (o->verify == TS_VERIFY_HASH &&
	    bigfile_check_hash(bf, bf->remote, res, target, err) != 0)
		return err->code;
	if (o->fsync && sftp_has(s, SFTP_EXT_FSYNC)) {
		memset(&call, 0, sizeof(call));
		if (bigfile_call(bf->c, sftp_open(s, bf->remote, SSH_FXF_WRITE,
		    NULL, sftp_call_cb, &call), &call, "open", bf->remote,
		    err) != 0)
			return err->code;
		h = call.handle;
		memset(&call, 0, sizeof(call));
		rc = bigfile_call(bf->c, sftp_fsync(s, &h, sftp_call_cb, &call),
		    &call, "fsync", bf->remote, err);
		memset(&call, 0, sizeof(call));
		if (bigfile_call(bf->c, sftp_close(s, &h, sftp_call_cb, &call),
		    &call, "close", bf->remote, err) != 0 || rc != 0)
			return err->code;
	}
	memset(&at, 0, sizeof(at));
	at.flags = SSH_FILEXFER_ATTR_ACMODTIME;
	at.atime = at.mtime = (uint32_t)was->st_mtim.tv_sec;
	if (o->keep_mode) {
		at.flags |= SSH_FILEXFER_ATTR_PERMISSIONS;
		at.perm = (uint32_t)was->st_mode & 07777;
	}
	memset(&call, 0, sizeof(call));
	if (bigfile_call(bf->c, sftp_setstat(s, bf->remote, &at, sftp_call_cb,
	    &call), &call, "setstat", bf->remote, err) != 0)
		return err->code;
	memset(&call, 0, sizeof(call));
	return bigfile_call(bf->c, sftp_has(s, SFTP_EXT_POSIX_RENAME) ?
	    sftp_posix_rename(s, bf->remote, target, sftp_call_cb, &call) :
	    sftp_rename(s, bf->remote, target, sftp_call_cb, &call), &call,
	    "rename", target, err);
}

int
bigfile_put(struct ts_xfer_result *res, struct ts_conn *c, const char *src,
    const char *target, const struct ts_put_opts *o, int nparts,
    struct ts_error *err)
{
	struct bigfile		 bf = { 0 };
	struct sftp_call	 call = { 0 };
	struct stat		 was;
	char			*tmp = NULL;
	int			 rc;

	bf.c = c;
	bf.upload = true;
	bf.nparts = nparts;
	if ((bf.fd = open(src, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(bf.fd, &was) != 0) {
		rc = error_set_errno(err, errno, "open \"%s\"", src);
		goto out;
	}
	bf.size = (uint64_t)was.st_size;
	if (xfer_temp_name(&tmp, target) != 0) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	bf.remote = tmp;
	if ((rc = bigfile_move(&bf, err)) == 0)
		rc = bigfile_put_commit(&bf, &was, src, target, o, res, err);
	res->bytes = bf.moved;
	if (rc != 0 && sftp_failed(conn_sftp(c)) == NULL) {
		/* Nothing half-sent stays: the temporary file goes. */
		bigfile_call(c, sftp_remove(conn_sftp(c), tmp, sftp_call_cb,
		    &call), &call, "remove", tmp, NULL);
	}
out:
	if (bf.fd != -1)
		close(bf.fd);
	free(tmp);
	return rc;
}

static int
bigfile_get_commit(struct bigfile *bf, const struct sftp_attrs *was,
    int dirfd, const char *tmpname, const char *name, const char *target,
    const struct ts_put_opts *o, struct ts_xfer_result *res,
    struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	struct timespec		 t[2];
	struct stat		 st;

	if (bigfile_call(bf->c, sftp_stat(conn_sftp(bf->c), bf->remote, true,
	    sftp_call_cb, &call), &call, "stat", bf->remote, err) != 0)
		return err->code;
	if (call.attrs.size != bf->size || call.attrs.mtime != was->mtime)
		return error_set(err, TS_EREMOTE, "\"%s\" changed on the server "
		    "while being read; nothing was replaced: run get again",
		    bf->remote);
	if (fstat(bf->fd, &st) != 0)
		return error_set_errno(err, errno, "stat \"%s\"", target);
	if ((uint64_t)st.st_size != bf->size)
		return error_set(err, TS_EVERIFY, "\"%s\": %llu bytes received, "
		    "%llu expected", target, (unsigned long long)st.st_size,
		    (unsigned long long)bf->size);
	if (o->verify == TS_VERIFY_HASH &&
	    bigfile_check_hash(bf, bf->remote, res, bf->remote, err) != 0)
		return err->code;
	if (o->keep_mode && (was->flags & SSH_FILEXFER_ATTR_PERMISSIONS) &&
	    fchmod(bf->fd, (mode_t)was->perm & 0777 & ~xfer_local_umask()) !=
	    0)
		return error_set_errno(err, errno, "chmod \"%s\"", target);
	if (fsync(bf->fd) != 0)
		return error_set_errno(err, errno, "fsync \"%s\"", target);
	t[0].tv_sec = t[1].tv_sec = (time_t)was->mtime;
	t[0].tv_nsec = t[1].tv_nsec = 0;
	if ((was->flags & SSH_FILEXFER_ATTR_ACMODTIME) &&
	    futimens(bf->fd, t) != 0)
		return error_set_errno(err, errno, "set times of \"%s\"",
		    target);
	if (renameat(dirfd, tmpname, dirfd, name) != 0)
		return error_set_errno(err, errno, "rename to \"%s\"", target);
	return 0;
}

int
bigfile_get(struct ts_xfer_result *res, struct ts_conn *c, const char *src,
    const struct sftp_attrs *was, const char *target,
    const struct ts_put_opts *o, int nparts, struct ts_error *err)
{
	struct bigfile	 bf = { 0 };
	const char	*slash = strrchr(target, '/');
	const char	*name = slash != NULL ? slash + 1 : target;
	char		*dir = NULL, *tmp = NULL;
	const char	*tmpname;
	int		 dirfd = -1, rc;

	bf.c = c;
	bf.fd = -1;
	bf.remote = src;
	bf.size = was->size;
	bf.nparts = nparts;
	if ((dir = slash == NULL ? strdup(".") : slash == target ?
	    strdup("/") : strndup(target, (size_t)(slash - target))) == NULL ||
	    xfer_temp_name(&tmp, name) != 0) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	tmpname = tmp;
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		rc = error_set_errno(err, errno, "open directory \"%s\"", dir);
		goto out;
	}
	if ((bf.fd = openat(dirfd, tmpname, O_RDWR | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		rc = error_set_errno(err, errno, "create \"%s/%s\"", dir,
		    tmpname);
		goto out;
	}
	if ((rc = bigfile_move(&bf, err)) == 0)
		rc = bigfile_get_commit(&bf, was, dirfd, tmpname, name, target,
		    o, res, err);
	res->bytes = bf.moved;
	if (rc != 0)
		unlinkat(dirfd, tmpname, 0);
out:
	if (bf.fd != -1)
		close(bf.fd);
	if (dirfd != -1)
		close(dirfd);
	free(dir);
	free(tmp);
	return rc;
}
