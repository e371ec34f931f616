/*
 * File transfers as state machines on the SFTP engine: an upload or a
 * download sends the requests of a step and continues in the replies'
 * callbacks, so one engine carries many files at once.
 */
#ifndef TS_XFER_H
#define TS_XFER_H

#include <sys/types.h>

#include "delta.h"
#include "hash.h"
#include "ratelimit.h"
#include "sftp.h"

struct xfer;

enum xfer_phase {
	XFER_RUNNING,		/* requests in flight */
	XFER_VERIFY,		/* bytes are at the temporary name, checked by
				 * size: the caller may hash them remotely,
				 * then calls xfer_commit() */
	XFER_DONE,		/* finished; see xfer_result() */
};

struct xfer_opts {
	bool		 hash;		/* hash the bytes while moving them */
	enum hash_kind	 hash_kind;
	bool		 keep_mode;	/* copy permission bits */
	mode_t		 mode_mask;	/* download: the bits of the server's
					 * mode kept (0777 & ~umask, or 07777
					 * with --perms) */
	bool		 stop_at_verify; /* pause in XFER_VERIFY */
	bool		 skip_size_check; /* --verify=none */
	bool		 fsync;		/* upload: fsync@openssh.com (when
					 * offered) before the close */
	bool		 sparse;	/* -S.  download: blocks of zeros are
					 * not written, so they stay holes;
					 * upload: holes are not read nor
					 * sent, and stay holes */
	struct ratelimit *rate;		/* --bwlimit, shared; NULL: none */
	bool		 in_place;	/* upload: dst is new, in a directory
					 * this run is building under a
					 * temporary name (stage.h): written
					 * at dst itself, no rename */
	const char	*part_key;	/* upload: resumable (--partial): the
					 * temporary file is named for this
					 * content key (tempname_make_part),
					 * and kept when the connection drops
					 * or the run is interrupted, for the
					 * next run to continue; borrowed */
	/* upload: called with the bytes read for sending, in file order
	 * (a file sent whole; delta uploads read only their literals);
	 * download: with the bytes received, in file order. */
	void		(*tap)(const void *p, size_t n, void *payload);
	void		*tap_payload;
};

/* The options for a transfer checked as --verify says: size always
 * (unless none), and with hash, SHA-256 of the bytes moved compared with
 * the server's before the rename (the caller does that in XFER_VERIFY). */
void	xfer_opts_for(struct xfer_opts *o, enum ts_verify verify,
	    bool keep_mode);

/* The process's umask, read without changing it where the system allows
 * (umask() itself would briefly set it, racing other threads' mkdir). */
mode_t	xfer_local_umask(void);

/* Called on the engine's thread when the transfer reaches VERIFY or DONE. */
typedef void	xfer_fn(struct xfer *x, void *payload);

/*
 * Starts uploading local file fd (a regular file, opened by the caller
 * with local_open_file: handed over, closed on failure too; st its
 * fstat) to remote path dst through a temporary name beside dst.  src
 * names it in messages.  Paths are copied.  Returns 0, or an error
 * before any request was sent (then *out is NULL).
 */
int	xfer_upload(struct xfer **out, struct sftp *s, int fd,
	    const struct stat *st, const char *src, const char *dst,
	    const struct xfer_opts *o, xfer_fn *fn, void *payload,
	    struct ts_error *err);
/*
 * The same, building the file from remote file base (only read, never
 * written: it may be a hard link in a backup snapshot) by commands that
 * ds (a delta_stream_new_delta) makes from fd as they are sent, into d:
 * copies by copy-data (the server must offer it), the rest written from
 * fd.  The upload always pauses in XFER_VERIFY for the caller to compare
 * xfer_hash (ds's check hash of the whole local file) with the server's
 * hash of the temporary file.  base is copied; d and ds are borrowed
 * until the transfer is done (ds's signature and SHA-256 are then the
 * caller's to take: delta_stream_end).
 */
int	xfer_upload_delta(struct xfer **out, struct sftp *s, int fd,
	    const struct stat *st, const char *src, const char *dst,
	    const char *base, struct delta *d, struct delta_stream *ds,
	    const struct xfer_opts *o, xfer_fn *fn, void *payload,
	    struct ts_error *err);
/*
 * Starts downloading remote src to local dst through a temporary file
 * beside dst.  With dst NULL, only reads and hashes (read-back check).
 */
int	xfer_download(struct xfer **out, struct sftp *s, const char *src,
	    const char *dst, const struct xfer_opts *o, xfer_fn *fn,
	    void *payload, struct ts_error *err);

/* The same into directory dirfd (borrowed; duplicated): the temporary
 * file and the final one are opened and renamed under it, never through
 * a symlink; dst is dirfd's path joined with the name, for messages. */
int	xfer_download_at(struct xfer **out, struct sftp *s, const char *src,
	    int dirfd, const char *dst, const struct xfer_opts *o, xfer_fn *fn,
	    void *payload, struct ts_error *err);

/* Gives a waiting upload more write requests when the engine has room. */
void	xfer_kick(struct xfer *x);
enum xfer_phase xfer_phase(const struct xfer *x);
/* Whether it still holds a server handle or a local file descriptor (an
 * upload gives both up once its bytes are checked, before the rename;
 * a delta keeps its old file's handle until the rename is sent). */
bool	xfer_holds_files(const struct xfer *x);
/* An upload still sending its data stops (code and msg its error): its
 * temporary file goes, and it ends DONE.  False, doing nothing, before
 * its data (its OPENs unanswered) or once all of it is sent. */
bool	xfer_abandon(struct xfer *x, int code, const char *msg);
/* In VERIFY: finishes (ok) or abandons (!ok, with err's message) it. */
void	xfer_commit(struct xfer *x, bool ok, const struct ts_error *why);
/* In VERIFY or DONE: the temporary path (remote for uploads), the hash of
 * the bytes moved (hex, "" without hashing), the bytes moved. */
const char *xfer_tmp_path(const struct xfer *x);
const char *xfer_hash(const struct xfer *x);
/* The remote file to hash when verifying: the upload's temporary name,
 * the download's source. */
const char *xfer_remote_path(const struct xfer *x);
/* errno of the failure, if it came from a system call (ENOSPC...). */
int	xfer_errno(const struct xfer *x);
uint64_t xfer_bytes(const struct xfer *x);
/* The file bytes that crossed the wire: xfer_bytes but for the holes an
 * upload with sparse skipped (a retry's or a failure's count included). */
uint64_t xfer_wire_bytes(const struct xfer *x);
/* In DONE: 0 or the first error; whether the rename needed a fallback. */
int	xfer_result(const struct xfer *x, struct ts_error *err);
bool	xfer_used_rename_fallback(const struct xfer *x);
/* -o/-g: the file gets owner uid and group gid ((uint32_t)-1: left as
 * is); call right after xfer_upload/xfer_download.  An account that may
 * not chown skips it: xfer_owner_denied says so once DONE. */
void	xfer_set_owner(struct xfer *x, uint32_t uid, uint32_t gid);
bool	xfer_owner_denied(const struct xfer *x);
void	xfer_free(struct xfer *x);		/* NULL is fine */

#endif
