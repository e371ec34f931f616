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
	TS_EMAXDELETE = -15,		/* --max-delete stopped deletions */
	TS_ELOCKED = -16,		/* backup: another run holds the lock */
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

/* Asks every running job and transfer to stop: they remove their
 * temporary files and return TS_ECANCELED.  Safe in a signal handler. */
TS_EXTERN void	ts_cancel(void);

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
	/* More connections to open at once, in the background, for a later
	 * ts_push, ts_pull or ts_check with jobs > 1 to take; those it does
	 * not need are closed.  0: it opens its own after planning. */
	int		 spares;
};
#define TS_CONN_OPTS_INIT \
	{ NULL, NULL, NULL, 0, false, 0, 0, 0, NULL, NULL, 0 }

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
	bool		 fsync;		/* put: the server flushes the file to
					 * disk before the rename, when it
					 * offers fsync@openssh.com */
	/* put: as ts_sync_opts.cache_dir and whole_file. */
	const char	*cache_dir;
	bool		 whole_file;
	/* put: the server file a delta starts from (a backup's previous
	 * snapshot); NULL: the file being replaced.  Only read. */
	const char	*delta_base;
};
#define TS_PUT_OPTS_INIT	{ TS_VERIFY_SIZE, true, false, NULL, false, NULL }

/* What a transfer did; filled by ts_put and ts_get, also on failure. */
struct ts_xfer_result {
	uint64_t	 bytes;
	bool		 hash_checked;	/* compared with the other side */
	const char	*hash_method;	/* "sha256sum", "read-back", or NULL */
	bool		 rename_fallback; /* no posix-rename: safe fallback used */
	bool		 delta;		/* put: built from the server's old copy */
	uint64_t	 bytes_literal;	/* put: bytes sent as data */
	uint64_t	 bytes_matched;	/* put, delta: bytes the server copied */
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


/* --- tree sync: push, diff, check ------------------------------------ */

enum ts_hash_choice { TS_HASH_AUTO, TS_HASH_SHA256, TS_HASH_XXH128 };

/* One include or exclude rule, rsync style (first match wins). */
struct ts_filter_rule {
	bool		 include;	/* --include; else --exclude */
	const char	*pattern;	/* or, with from_file, a file of rules */
	bool		 from_file;	/* --exclude-from */
};

/* Where a running job is; see ts_sync_opts.progress. */
struct ts_progress {
	uint64_t	 files_done, files_total;
	uint64_t	 bytes_done, bytes_total;
	int		 connections;	/* working now */
	double		 elapsed;	/* seconds */
};
/* Called on the caller's thread, at most ten times a second. */
typedef void	ts_progress_fn(const struct ts_progress *p, void *payload);

struct ts_sync_opts {
	bool		 dry_run;	/* -n, and diff: change nothing */
	bool		 checksum;	/* -c: equal sizes compared by hash */
	enum ts_hash_choice hash;	/* --hash */
	enum ts_verify	 verify;	/* after each upload */
	bool		 delete_extra;	/* --delete */
	bool		 delete_excluded; /* --delete-excluded */
	long		 max_delete;	/* --max-delete; -1: no limit */
	bool		 copy_links;	/* -L: follow local symlinks */
	const struct ts_filter_rule *rules;
	size_t		 nrules;
	/* A remote directory (relative to the login directory or absolute)
	 * holding an earlier copy of the tree: new files equal to their copy
	 * there (same size, mtime and mode) are hard-linked from it instead
	 * of sent, when the server offers hardlink@openssh.com (rsync's
	 * --link-dest).  NULL: none. */
	const char	*link_dest;
	bool		 perms;		/* pull: modes as on the server, not
					 * masked by the umask (--perms) */
	int		 jobs;		/* connections (-j); 0: 4 */
	int		 retries;	/* tries after a dropped connection
					 * (--retries); -1: 3 */
	ts_progress_fn	*progress;	/* NULL: none */
	void		*progress_payload;
	bool		 fsync;		/* push: as ts_put_opts.fsync */
	/* delete_extra is refused (TS_EMAXDELETE, nothing deleted) from an
	 * empty source directory unless max_delete is set, and into the
	 * remote home directory or "/" always: true allows both. */
	bool		 force_delete;	/* --force-delete */
	/* A local directory for the signature store (--cache-dir): block
	 * signatures of what was uploaded, so that a changed file of 1 MiB
	 * or more is sent as a delta, built on the server from its old copy
	 * with copy-data, checked whole by hash there before the rename
	 * (docs/delta.md).  NULL: no store, files are sent whole. */
	const char	*cache_dir;
	bool		 whole_file;	/* -W: never a delta (the store is
					 * still written) */
	/* Resumable uploads (rsync's --partial), with cache_dir: an upload
	 * cut short (connection lost, interrupted) keeps its temporary file,
	 * and the next run continues it.  1: every file (--partial); -1:
	 * none (--no-partial); 0: files of 64 MiB and more.  Such a file is
	 * moved by one connection, never split. */
	int		 partial;
};
#define TS_SYNC_OPTS_INIT \
	{ false, false, TS_HASH_AUTO, TS_VERIFY_SIZE, false, false, -1, false, \
	  NULL, 0, NULL, false, 0, -1, NULL, NULL, false, false, NULL, false, \
	  0 }

enum ts_item_action {
	TS_ITEM_MKDIR, TS_ITEM_UPLOAD, TS_ITEM_SYMLINK, TS_ITEM_SETATTR,
	TS_ITEM_DELETE, TS_ITEM_DOWNLOAD,
	TS_ITEM_CHECK,			/* check: one file compared */
	TS_ITEM_CONFLICT,		/* cannot be done; see reason */
	TS_ITEM_SKIP,			/* local entry skipped (unreadable,
					 * special file); see error */
	TS_ITEM_HARDLINK,		/* a new file linked from link_dest */
};

enum ts_item_type { TS_TYPE_FILE, TS_TYPE_DIR, TS_TYPE_SYMLINK };

/* Attributes an item changes (itemize's 's', 't', 'p'). */
#define TS_ATTR_SIZE	0x01
#define TS_ATTR_MTIME	0x02
#define TS_ATTR_MODE	0x04

/* One change, planned (dry run) or done; strings borrowed for the call. */
struct ts_item {
	enum ts_item_action action;
	enum ts_item_type type;
	const char	*path;		/* relative to the root, '/'-separated */
	const char	*reason;	/* "new", "size", "mtime", "hash", "type",
					 * "target", "attrs", "gone", "excluded";
					 * check: "match", "differ",
					 * "missing-remote", "missing-local" */
	const char	*link;		/* symlink target, or NULL */
	uint64_t	 size;
	unsigned	 attrs;		/* TS_ATTR_* that differ */
	bool		 created;	/* did not exist at the destination */
	int		 code;		/* TS_OK, or why this item failed */
	const char	*error;		/* message when code != TS_OK */
	bool		 delta;		/* built on the server from its old
					 * copy, only changes sent */
};
typedef void	ts_item_fn(const struct ts_item *it, void *payload);

struct ts_summary {
	uint64_t	 files_scanned;		/* source files and links */
	uint64_t	 files_created;		/* new at the destination */
	uint64_t	 files_updated;		/* replaced */
	uint64_t	 files_deleted;		/* entries removed */
	uint64_t	 files_unchanged;
	uint64_t	 dirs_created;
	uint64_t	 symlinks;		/* created or changed */
	uint64_t	 attrs_set;
	uint64_t	 bytes_sent;		/* file bytes moved */
	uint64_t	 files_linked;		/* hard-linked from link_dest */
	bool		 pull;			/* files came from the server */
	uint64_t	 errors;		/* items that failed */
	uint64_t	 checked_match, checked_differ, checked_missing;
	double		 elapsed;		/* seconds */
	const char	*hash_used;		/* "sha256", "xxh128" or NULL */
	const char	*hash_where;		/* "server" or "read-back", or NULL */
	bool		 dry_run;
	uint64_t	 temps_removed;		/* temporary files of runs that
						 * ended (or of this one's
						 * dropped connections) removed;
						 * dry run: to remove */
	uint64_t	 bytes_literal;		/* file bytes sent (rsync's
						 * "Literal data") */
	uint64_t	 bytes_matched;		/* bytes of delta-built files
						 * the server copied from their
						 * old copy ("Matched data") */
};

/*
 * Makes remote_dir (on c's server) equal to local_dir: creates what is
 * missing, uploads what changed (atomically, verified), and with
 * delete_extra removes what the local tree lacks.  With dry_run, changes
 * nothing and reports what it would do.  fn (may be NULL) hears of every
 * item in order.  Returns 0, TS_EPARTIAL when some items failed (the rest
 * is done), or an error that stopped the run.  *out is filled either way.
 */
TS_EXTERN int	ts_push(struct ts_summary *out, struct ts_conn *c,
		    const char *local_dir, const char *remote_dir,
		    const struct ts_sync_opts *opts, ts_item_fn *fn,
		    void *payload, struct ts_error *err);
/*
 * Makes local_dir equal to remote_dir on c's server, the other way round
 * from ts_push: downloads go to temporary files, checked, fsynced and
 * renamed into place; no write ever goes through a symlink, and names the
 * server sends are checked before use.  Items are
 * TS_ITEM_DOWNLOAD and the local mkdir, symlink, setattr, delete.
 */
TS_EXTERN int	ts_pull(struct ts_summary *out, struct ts_conn *c,
		    const char *remote_dir, const char *local_dir,
		    const struct ts_sync_opts *opts, ts_item_fn *fn,
		    void *payload, struct ts_error *err);
/* Compares the trees file by file by hash; reports every file as a
 * TS_ITEM_CHECK.  Returns 0 when they match, TS_EDIFFER when not. */
TS_EXTERN int	ts_check(struct ts_summary *out, struct ts_conn *c,
		    const char *local_dir, const char *remote_dir,
		    const struct ts_sync_opts *opts, ts_item_fn *fn,
		    void *payload, struct ts_error *err);

/* --- backup: dated snapshots, verified, hard-linked, rotated ---------- */

struct ts_backup_opts {
	int		 keep;		/* complete snapshots to keep, >= 1 */
	const char	*stamp;		/* "YYYYMMDD-HHMMSS": the run's time
					 * (local); NULL: now, from the clock */
	bool		 prune_dry_run;	/* report the rotation, remove nothing */
	bool		 break_lock;	/* remove a lock left by another run */
	/* Filters, -L, -c, hash and verify (TS_VERIFY_HASH by default).
	 * dry_run must be false; delete_extra and link_dest are set by the
	 * backup itself. */
	struct ts_sync_opts sync;
};
#define TS_BACKUP_OPTS_INIT \
	{ .keep = 7, .stamp = NULL, .prune_dry_run = false, \
	  .break_lock = false, .sync = { .hash = TS_HASH_AUTO, \
	  .verify = TS_VERIFY_HASH, .max_delete = -1 } }

/* What a backup did; filled by ts_backup, also on failure. */
struct ts_backup_result {
	char		 snapshot[32];	/* the final name ("20261101"), or ""
					 * when the run stopped before one was
					 * chosen */
	char		 in_progress[48]; /* the name it was built under */
	char		 link_from[32];	/* the complete snapshot unchanged files
					 * were hard-linked from, or "" */
	bool		 complete;	/* renamed to its final name */
	struct ts_summary sum;		/* every PATH together */
	size_t		 kept;		/* complete snapshots kept */
	size_t		 removed;	/* snapshots and leftovers removed (with
					 * prune_dry_run: to remove) */
};

/* One name under the root that the rotation considered; strings are
 * borrowed for the call. */
struct ts_prune_item {
	const char	*name;		/* e.g. "20261101" */
	bool		 keep;
	const char	*reason;	/* keep: "newest", "current",
					 * "in-progress"; remove: "expired",
					 * "stale", "removing" (docs/backup.md) */
	bool		 dry_run;	/* prune_dry_run: nothing was removed */
	int		 code;		/* TS_OK, or why the removal failed */
	const char	*error;		/* message when code != TS_OK */
};
typedef void	ts_prune_fn(const struct ts_prune_item *p, void *payload);

/*
 * Backs up local files and directories paths[0..npaths) into a new
 * snapshot root/YYYYMMDD (root/YYYYMMDD-HHMMSS when that exists) on c's
 * server, each PATH as its base name (as rsync without a trailing slash).
 * Creates root if missing and takes the lock root/.treesync-backup.lock
 * (TS_ELOCKED when another run holds it).  The snapshot is built as
 * root/.YYYYMMDD-HHMMSS.in-progress, every upload verified (sync.verify),
 * files unchanged since the newest complete snapshot hard-linked from it
 * when the server offers hardlink@openssh.com, and renamed to its final
 * name only when all of it is there.  Then, and only then, keeps the
 * newest o->keep complete snapshots and removes older ones and stale
 * leftovers over SFTP; nothing else under root is touched.  The lock is
 * removed in every case.  fn (may be NULL) hears of every file item, its
 * path prefixed with the PATH's base name; pfn (may be NULL) of every
 * name the rotation considered.  Strings and o are borrowed for the call;
 * o may be NULL (TS_BACKUP_OPTS_INIT).  Returns 0, or the error that
 * stopped the run (TS_EPARTIAL when files failed: the snapshot was not
 * completed); *out is filled either way.
 */
TS_EXTERN int	ts_backup(struct ts_backup_result *out, struct ts_conn *c,
		    const char *const *paths, size_t npaths, const char *root,
		    const struct ts_backup_opts *o, ts_item_fn *fn,
		    ts_prune_fn *pfn, void *payload, struct ts_error *err);

#ifdef __cplusplus
}
#endif
#endif /* TREESYNC_H */
