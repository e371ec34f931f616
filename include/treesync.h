/*
 * treesync: mirror directory trees to and from servers over SFTP.
 *
 * The library never prints and never exits: every call returns 0 or a
 * negative enum ts_code and fills the caller's struct ts_error.  Call
 * ts_global_init() once, before any thread starts.
 */
#ifndef TREESYNC_H
#define TREESYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TS_EXTERN	__attribute__((visibility("default"))) extern

enum ts_code {				/* stable: never renumber or reuse */
	TS_OK = 0, TS_ERROR = -1, TS_ENOMEM = -2, TS_EINVAL = -3,
	TS_ENOENT = -4, TS_EACCES = -5, TS_EHOSTKEY = -6, TS_EAUTH = -7,
	TS_ECONN = -8, TS_EVERIFY = -9, TS_ECANCELED = -10,
	TS_ELOCAL = -11,		/* local file system error */
	TS_EREMOTE = -12,		/* the server failed an operation */
	TS_EPARTIAL = -13,		/* some files failed, the rest done */
	TS_EDIFFER = -14,		/* check: the trees differ */
};

struct ts_error {
	int		 code;		/* enum ts_code; TS_OK if none */
	int		 sys_errno;	/* errno at the failure, or 0 */
	char		 msg[256];	/* one line, no newline */
};

/* Once per process, before any thread starts: sets up libssh2. */
TS_EXTERN int	ts_global_init(struct ts_error *err);
TS_EXTERN void	ts_global_cleanup(void);

enum ts_log_level {
	TS_LOG_ERROR, TS_LOG_WARN, TS_LOG_INFO, TS_LOG_DEBUG, TS_LOG_TRACE,
};
/* Messages the caller cannot otherwise see (fallbacks, retries).  The
 * callback may run on any thread; msg is borrowed for the call. */
typedef void	ts_log_fn(enum ts_log_level level, const char *msg,
		    void *payload);
TS_EXTERN void	ts_set_log(ts_log_fn *fn, enum ts_log_level max,
		    void *payload);

/* Asks for a key's passphrase; returns 0 with buf filled, or -1. */
typedef int	ts_passphrase_fn(const char *key_path, char *buf, size_t size,
		    void *payload);

/* How to reach a server.  Strings are borrowed for the call. */
struct ts_conn_opts {
	const char	*ssh_config;	/* -F; NULL: ~/.ssh/config */
	const char	*identity;	/* --identity; NULL: config, defaults */
	const char	*known_hosts;	/* --known-hosts; NULL: config, default */
	int		 port;		/* -p; 0: target, config or 22 */
	bool		 accept_new;	/* trust and record an unknown host */
	int		 connect_timeout; /* seconds; 0: config or 30 */
	int		 io_timeout;	/* seconds a reply may take; 0: 60 */
	int		 keepalive;	/* seconds; 0: config or 15 */
	ts_passphrase_fn *passphrase;	/* NULL: encrypted keys fail */
	void		*passphrase_payload;
};
#define TS_CONN_OPTS_INIT	{ NULL, NULL, NULL, 0, false, 0, 0, 0, NULL, NULL }

struct ts_conn;				/* opaque: one per connection */

/*
 * Connects to the host of target ("[user@]host:path" or
 * "sftp://[user@]host[:port]/path"), checks its key, logs in and starts
 * SFTP.  On success the caller owns *out; on failure *out is NULL.
 */
TS_EXTERN int	ts_conn_open(struct ts_conn **out, const char *target,
		    const struct ts_conn_opts *opts, struct ts_error *err);
TS_EXTERN void	ts_conn_free(struct ts_conn *c);	/* NULL is fine */
/* The path part of the target the connection was opened with; borrowed. */
TS_EXTERN const char *ts_conn_path(const struct ts_conn *c);
/* Whether the server offered an OpenSSH extension, e.g. "fsync@openssh.com". */
TS_EXTERN bool	ts_conn_has_extension(const struct ts_conn *c,
		    const char *name);

/* A remote file's attributes; fields absent on the server are 0. */
struct ts_stat {
	uint64_t	 size;
	uint32_t	 mode;		/* type and permission bits */
	uint32_t	 uid, gid;
	int64_t		 mtime, atime;	/* seconds */
	bool		 has_size, has_mode, has_ids, has_times;
};

TS_EXTERN int	ts_stat(struct ts_stat *out, struct ts_conn *c,
		    const char *path, bool follow, struct ts_error *err);
/* Resolves path on the server; *out is the caller's to free(). */
TS_EXTERN int	ts_realpath(char **out, struct ts_conn *c, const char *path,
		    struct ts_error *err);
/* Creates path; with parents, also its missing parents (mkdir -p). */
TS_EXTERN int	ts_mkdir(struct ts_conn *c, const char *path, bool parents,
		    struct ts_error *err);

/* One directory entry; name and link are borrowed for the callback. */
struct ts_dirent {
	const char	*name;
	const char	*link;		/* symlink target with ls -l, or NULL */
	struct ts_stat	 st;
};
typedef int	ts_dirent_fn(const struct ts_dirent *e, void *payload);
/* Calls fn for each entry of directory path, sorted by name, "." and
 * ".." left out; a non-zero return from fn stops and is returned. */
TS_EXTERN int	ts_list(struct ts_conn *c, const char *path, bool links,
		    ts_dirent_fn *fn, void *payload, struct ts_error *err);

enum ts_verify { TS_VERIFY_SIZE, TS_VERIFY_HASH, TS_VERIFY_NONE };

struct ts_put_opts {
	enum ts_verify	 verify;
	bool		 keep_mode;	/* copy permission bits (default on) */
};
#define TS_PUT_OPTS_INIT	{ TS_VERIFY_SIZE, true }

/* What a transfer did; filled by ts_put and ts_get, also on failure. */
struct ts_xfer_result {
	uint64_t	 bytes;
	bool		 hash_checked;	/* compared with the other side */
	const char	*hash_method;	/* "sha256sum", "read-back", or NULL */
	bool		 rename_fallback; /* no posix-rename: safe fallback used */
};

/*
 * Uploads local file src to remote path dst (a directory: dst/basename).
 * The bytes go to a temporary name beside dst, get their mtime and mode,
 * are checked, then renamed into place; a failure leaves no temporary
 * file and the old dst untouched.
 */
TS_EXTERN int	ts_put(struct ts_xfer_result *out, struct ts_conn *c,
		    const char *src, const char *dst,
		    const struct ts_put_opts *opts, struct ts_error *err);
/* Downloads remote src to local dst (a directory: dst/basename), the
 * same way round: temporary file, checked, fsync, rename, mtime. */
TS_EXTERN int	ts_get(struct ts_xfer_result *out, struct ts_conn *c,
		    const char *src, const char *dst,
		    const struct ts_put_opts *opts, struct ts_error *err);

#ifdef __cplusplus
}
#endif
#endif /* TREESYNC_H */
