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

/*
 * The version of this header.  CMakeLists.txt reads these three lines for
 * the project's version: keep them one per line, as they are.
 * ts_version() says which library a program runs with.
 */
#define TS_VERSION_MAJOR 0
#define TS_VERSION_MINOR 1
#define TS_VERSION_PATCH 0
#define TS_VERSION_STRING_(a, b, c)	#a "." #b "." #c
#define TS_VERSION_STRING_X(a, b, c)	TS_VERSION_STRING_(a, b, c)
#define TS_VERSION_STRING \
	TS_VERSION_STRING_X(TS_VERSION_MAJOR, TS_VERSION_MINOR, TS_VERSION_PATCH)
/* The library's version, "MAJOR.MINOR.PATCH"; static. */
TS_EXTERN const char *ts_version(void);

enum ts_code {				/* stable: never renumber or reuse */
	TS_OK = 0, TS_ERROR = -1, TS_ENOMEM = -2, TS_EINVAL = -3,
	TS_ENOENT = -4, TS_EACCES = -5, TS_EHOSTKEY = -6, TS_EAUTH = -7,
	TS_ECONN = -8, TS_EVERIFY = -9, TS_ECANCELED = -10,
	TS_ELOCAL = -11,		/* local file system error */
	TS_EREMOTE = -12,		/* the server failed an operation */
	TS_EPARTIAL = -13,		/* some files failed, the rest done */
	TS_EDIFFER = -14,		/* check: the trees differ */
	TS_EMAXDELETE = -15,		/* --max-delete stopped deletions */
	TS_ELOCKED = -16,		/* backup, publish: another run holds
					 * the lock */
	TS_ESPLIT = -17,		/* publish: switched on some targets,
					 * not on all */
};

struct ts_error {
	int		 code;		/* enum ts_code; TS_OK if none */
	int		 sys_errno;	/* errno at the failure, or 0 */
	char		 msg[256];	/* one line, no newline */
};

/* A short description of an enum ts_code ("host key not trusted"), for
 * callers that have only a code; unknown codes get "unknown error".
 * Static; prefer the message in struct ts_error where there is one. */
TS_EXTERN const char *ts_strerror(int code);

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
 * temporary files and return TS_ECANCELED.  Safe in a signal handler.
 * The request stays until ts_cancel_reset(): a job started meanwhile
 * stops too (TS_ECANCELED). */
TS_EXTERN void	ts_cancel(void);
/* Clears a ts_cancel() so that later calls run again.  Call it once the
 * canceled calls have returned (calls still running may or may not see
 * the reset); safe in a signal handler. */
TS_EXTERN void	ts_cancel_reset(void);

/*
 * Option structs: start each from its _INIT macro, then set fields by
 * name.  The first field, version, says which layout the caller was
 * built with; fields are only ever appended, each new one with a new
 * version, so that a program built against an older header keeps
 * working.  A struct whose version the library does not know is
 * refused with TS_EINVAL.
 */

/* Asks for a key's passphrase; returns 0 with buf filled, or -1. */
typedef int	ts_passphrase_fn(const char *key_path, char *buf, size_t size,
		    void *payload);

/* How to reach a server.  Strings are borrowed for the call. */
/* How to reach the server (docs/transport.md). */
enum ts_transport {
	TS_TRANSPORT_LIBSSH2 = 0,	/* embedded: no external program */
	TS_TRANSPORT_OPENSSH = 1,	/* the system's ssh, a child process */
	TS_TRANSPORT_AUTO = 2,		/* openssh when ssh is on PATH */
};

#define TS_CONN_OPTS_VERSION	2	/* 2: connect_helper */
struct ts_conn_opts {
	unsigned	 version;	/* TS_CONN_OPTS_VERSION */
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
	enum ts_transport transport;	/* TS_TRANSPORT_LIBSSH2 by default */
	/* The ssh command for openssh, split into words as a shell would
	 * (rsync's -e); NULL: "ssh".  Implies openssh under auto. */
	const char	*rsh;
	bool		 compress;	/* -z: SSH compression (zlib) */
	/* openssh: every connection logs in on its own (a TCP connection
	 * each) instead of opening a session on the first one's. */
	bool		 no_mux;
	/* openssh: a program that opens the TCP connection for ssh with
	 * TCP_NODELAY set from the start (ssh leaves Nagle on for SFTP, and
	 * its login then waits on delayed ACKs: 40 ms per login here), run
	 * as ssh's ProxyCommand with ProxyUseFdpass, as "PROGRAM
	 * --connect-fd HOST PORT any|inet|inet6 TIMEOUT_S ATTEMPTS
	 * yes|no(keepalive)"; it passes the connected socket back on its
	 * stdout (SCM_RIGHTS) and exits 0, or says what failed on stderr as
	 * ssh would and exits 255.  Used only where the host's resolved
	 * config has no ProxyCommand, ProxyJump, BindAddress,
	 * BindInterface, CanonicalizeHostname or CheckHostIP.  The command
	 * line passes its own binary; NULL: ssh connects by itself. */
	const char	*connect_helper;
};
#define TS_CONN_OPTS_INIT \
	{ .version = TS_CONN_OPTS_VERSION, .transport = TS_TRANSPORT_LIBSSH2 }

struct ts_conn;				/* opaque: one per connection */

/* Whether s names a place on a server ("[user@]host:path", a colon
 * before any slash, or "sftp://...") rather than a local path, as scp
 * reads it: "./a:b" and "/x/y:z" are local. */
TS_EXTERN bool	ts_target_is_remote(const char *s);

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

#define TS_PUT_OPTS_VERSION	1
struct ts_put_opts {
	unsigned	 version;	/* TS_PUT_OPTS_VERSION */
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
	uint64_t	 bwlimit;	/* bytes a second (--bwlimit); 0: no
					 * limit */
};
#define TS_PUT_OPTS_INIT \
	{ .version = TS_PUT_OPTS_VERSION, .verify = TS_VERIFY_SIZE, \
	  .keep_mode = true }

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
/* Called on the caller's thread, at most ten times a second while files
 * move, and once more when each phase of the run ends (the last call has
 * the final counts). */
typedef void	ts_progress_fn(const struct ts_progress *p, void *payload);

#define TS_SYNC_OPTS_VERSION	1
struct ts_sync_opts {
	unsigned	 version;	/* TS_SYNC_OPTS_VERSION */
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
	bool		 sparse;	/* -S: push sends only a file's data
					 * regions (SEEK_DATA), so holes stay
					 * holes on the server; pull leaves
					 * blocks of zeros as holes */
	/* -o, -g: owner and group kept, mapped by name between the two
	 * machines (the server's names from its /etc/passwd and /etc/group,
	 * read over SFTP), by id with numeric_ids.  Set where the account
	 * may (root); skipped where it may not, said once at TS_LOG_INFO. */
	bool		 owner, group;
	bool		 numeric_ids;	/* --numeric-ids */
	/* -H, push: the names of one local file are sent once, the others
	 * hard-linked to it on the server (hardlink@openssh.com). */
	bool		 hard_links;
	/* --metadata, push: after the data, the tree's metadata record
	 * (owners, xattrs, ACLs, links, special files: docs/metadata.md)
	 * at remote_dir/.treesync-metadata, for ts_restore. */
	bool		 metadata;
	bool		 no_links;	/* --no-links: leave the source's
					 * symlinks out, and what stands at
					 * their paths on the other side alone */
	/* rsync's quick-check variants, for files (-c wins over size_only) */
	bool		 size_only;	/* --size-only: equal sizes are
					 * unchanged (a differing mtime is
					 * then set, not the file sent) */
	bool		 ignore_existing; /* --ignore-existing: only what the
					 * destination lacks is created */
	bool		 update;	/* -u: a destination file newer than
					 * its source is left alone */
	/* --files-from: a file listing the paths (relative to the source
	 * root) to consider; the rest is as if excluded.  NULL: all. */
	const char	*files_from;
	bool		 from0;		/* -0: its names end with NUL */
	uint64_t	 bwlimit;	/* bytes a second over all connections
					 * (--bwlimit); 0: no limit */
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
/* The defaults every struct ts_sync_opts starts from (for the _INIT
 * macros), but for verify, which each job chooses; the fields left out
 * are 0, false or NULL.  Each field is named once and in order, as C++20
 * designated initializers want. */
#define TS_SYNC_OPTS_DEFAULTS_(verify_) \
	.version = TS_SYNC_OPTS_VERSION, .hash = TS_HASH_AUTO, \
	.verify = (verify_), .max_delete = -1, .jobs = 0, .retries = -1
#define TS_SYNC_OPTS_INIT	{ TS_SYNC_OPTS_DEFAULTS_(TS_VERIFY_SIZE) }

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
#define TS_ATTR_OWNER	0x08		/* -o: the owner differs */
#define TS_ATTR_GROUP	0x10		/* -g: the group differs */

/* One change, planned (dry run) or done; strings borrowed for the call. */
struct ts_item {
	enum ts_item_action action;
	enum ts_item_type type;
	const char	*path;		/* relative to the root, '/'-separated */
	const char	*reason;	/* "new", "size", "mtime", "hash", "type",
					 * "target", "attrs", "gone", "excluded";
					 * a symlink the server cannot make:
					 * "unsupported";
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
 * The local side of a push walked ahead, say while the connection opens
 * (the login takes round trips and a key exchange that the walk need
 * not wait for): ts_push_walked() plans against it instead of walking
 * local_dir again.  opts must be the ones the push gets (their rules,
 * -L, -H).  The root stays open in t: files are opened from the
 * directory that was walked.  *out is NULL on failure.
 */
struct ts_tree;
TS_EXTERN int	ts_tree_walk(struct ts_tree **out, const char *local_dir,
		    const struct ts_sync_opts *opts, struct ts_error *err);
TS_EXTERN void	ts_tree_free(struct ts_tree *t);
/* ts_push with local_dir's tree from ts_tree_walk (borrowed). */
TS_EXTERN int	ts_push_walked(struct ts_summary *out, struct ts_conn *c,
		    const struct ts_tree *t, const char *local_dir,
		    const char *remote_dir, const struct ts_sync_opts *opts,
		    ts_item_fn *fn, void *payload, struct ts_error *err);
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

#define TS_BACKUP_OPTS_VERSION	1
struct ts_backup_opts {
	unsigned	 version;	/* TS_BACKUP_OPTS_VERSION */
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
	{ .version = TS_BACKUP_OPTS_VERSION, .keep = 7, \
	  .sync = { TS_SYNC_OPTS_DEFAULTS_(TS_VERIFY_HASH) } }

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

/* --- restore: a snapshot back, with what SFTP could not keep ------- */

#define TS_RESTORE_OPTS_VERSION	1
struct ts_restore_opts {
	unsigned	 version;	/* TS_RESTORE_OPTS_VERSION */
	/* Filters, -j, verify...: as a pull.  perms and sparse are set by
	 * the restore itself. */
	struct ts_sync_opts sync;
	bool		 numeric_ids;	/* owners by recorded id, not name */
};
#define TS_RESTORE_OPTS_INIT \
	{ .version = TS_RESTORE_OPTS_VERSION, \
	  .sync = { TS_SYNC_OPTS_DEFAULTS_(TS_VERIFY_SIZE) } }

struct ts_restore_result {
	struct ts_summary sum;		/* of the pull */
	bool		 had_record;	/* the snapshot has a metadata record */
	uint64_t	 entries;	/* in the record */
	uint64_t	 not_applied;	/* parts of it that failed */
};
/* One part of the record that could not be applied: what, to which
 * path (relative to local_dir), and errno. */
typedef void	ts_restore_problem_fn(const char *path, const char *what,
		    int sys_errno, void *payload);

/*
 * Restores a snapshot made by ts_backup: pulls remote_dir into local_dir
 * (modes exact, zero blocks left as holes), then applies the snapshot's
 * metadata record (docs/metadata.md): special files, hard links, xattrs
 * and ACLs, owners and groups (as root), modes and mtimes to the
 * nanosecond.  What could not be applied goes to pfn (may be NULL) and
 * makes the result TS_EPARTIAL; a snapshot without a record restores
 * the data only (had_record false).  Returns 0 or the error; *out is
 * filled either way.
 */
TS_EXTERN int	ts_restore(struct ts_restore_result *out, struct ts_conn *c,
		    const char *remote_dir, const char *local_dir,
		    const struct ts_restore_opts *o, ts_item_fn *fn,
		    ts_restore_problem_fn *pfn, void *payload,
		    struct ts_error *err);


/* --- publish: releases, switched atomically, kept, rolled back ------- */

#define TS_PUBLISH_OPTS_VERSION	1
struct ts_publish_opts {
	unsigned	 version;	/* TS_PUBLISH_OPTS_VERSION */
	const char	*release;	/* the release's name (a safe single
					 * name: ts_publish_release_valid);
					 * NULL: now, UTC "YYYYMMDD-HHMMSS" */
	int		 keep;		/* complete releases to keep, >= 1 */
	bool		 break_lock;	/* remove a lock left by another run */
	/* Filters, -L, -c, jobs, retries, verify (TS_VERIFY_HASH by
	 * default).  dry_run must be false; delete_extra, fsync and
	 * link_dest are set by publish itself. */
	struct ts_sync_opts sync;
};
#define TS_PUBLISH_OPTS_INIT \
	{ .version = TS_PUBLISH_OPTS_VERSION, .keep = 5, \
	  .sync = { TS_SYNC_OPTS_DEFAULTS_(TS_VERIFY_HASH) } }

/* What publish, or a rollback, did on one target; filled also on
 * failure. */
struct ts_publish_result {
	char		 release[128];	/* the release made current (or to be) */
	char		 previous[128];	/* what current pointed to before, or
					 * "" (none) */
	bool		 uploaded;	/* complete and verified on the server
					 * (or there already, the same) */
	bool		 switched;	/* current points to release */
	struct ts_summary sum;		/* the upload */
	size_t		 kept;		/* complete releases kept */
	size_t		 removed;	/* releases and leftovers removed */
	int		 code;		/* TS_OK, or why this target failed */
	char		 error[256];	/* message when code != TS_OK */
};

/* Whether name may be a release's name: 1 to 100 bytes of letters,
 * digits, '.', '_', '-' and '+', starting with a letter or digit (so
 * never "..", a path, or a hidden name). */
TS_EXTERN bool	ts_publish_release_valid(const char *name);

/*
 * Publishes local_dir on n servers: on each, conns[i] (borrowed) and the
 * remote root roots[i], uploads it into root/releases/NAME (built as
 * root/releases/.NAME.in-progress, every file verified, files equal to
 * those of the current release hard-linked from it), and only once every
 * target has its release complete, switches root/current to it on each,
 * back to back: a new symlink at a temporary name, renamed over current
 * with posix-rename, so a reader sees the old release or the new one.
 * Then keeps the newest o->keep complete releases, and always current and
 * the one before it; unfinished ones are removed and never counted.  A
 * lock root/.treesync-publish.lock per target keeps runs apart.  A
 * server that cannot make symlinks or replace one atomically is refused
 * before anything is sent.  A release that exists already is never
 * changed: with the same content it is only switched to (a later run so
 * finishes a switch that a lost connection stopped); with other content,
 * TS_EINVAL.  out[0..n) tells what happened on each target.  Returns 0
 * when every target switched; TS_ESPLIT when some did and some did not;
 * else the first failure (no target switched).  fn hears of every file
 * item, pfn of every release the rotation considered.
 */
TS_EXTERN int	ts_publish(struct ts_publish_result *out,
		    struct ts_conn *const *conns, const char *const *roots,
		    size_t n, const char *local_dir,
		    const struct ts_publish_opts *o, ts_item_fn *fn,
		    ts_prune_fn *pfn, void *payload, struct ts_error *err);

/* Switches root/current on each target back to the release published
 * before the current one; all or none, as ts_publish (only o->break_lock
 * is used; o may be NULL). */
TS_EXTERN int	ts_publish_rollback(struct ts_publish_result *out,
		    struct ts_conn *const *conns, const char *const *roots,
		    size_t n, const struct ts_publish_opts *o,
		    struct ts_error *err);

/* One release under root/releases; strings borrowed for the call. */
struct ts_release {
	const char	*name;
	int64_t		 mtime;		/* when it was published (seconds) */
	uint64_t	 size;		/* bytes of its files */
	uint64_t	 files;
	bool		 current;	/* root/current points to it */
	bool		 complete;	/* false: an unfinished upload */
};
typedef void	ts_release_fn(const struct ts_release *r, void *payload);

/* Calls fn for every release under root/releases, oldest first, the
 * unfinished ones first of all. */
TS_EXTERN int	ts_publish_list(struct ts_conn *c, const char *root,
		    ts_release_fn *fn, void *payload, struct ts_error *err);

/* --- probe: what a server can do ------------------------------------ */

#define TS_PROBE_OPTS_VERSION	1
struct ts_probe_opts {
	unsigned	 version;	/* TS_PROBE_OPTS_VERSION */
	bool		 write;		/* measure behaviour in a temporary
					 * directory made (and removed) in
					 * the target directory */
	bool		 speed;		/* with write: time an upload and a
					 * download of a sample */
	int		 jobs;		/* connections to hold at once; 0: 4 */
};
#define TS_PROBE_OPTS_INIT \
	{ .version = TS_PROBE_OPTS_VERSION, .write = true }

#define TS_PROBE_NO		0
#define TS_PROBE_YES		1
#define TS_PROBE_UNKNOWN	(-1)	/* not measured (--no-write) or failed */

/* One SFTP extension treesync knows; strings are static. */
struct ts_probe_ext {
	const char	*name;		/* "posix-rename@openssh.com" */
	bool		 offered;	/* by this server */
	bool		 used;		/* treesync uses it when offered */
	const char	*use;		/* what for */
	const char	*without;	/* what treesync does when absent */
};

#define TS_PROBE_EXT_MAX	8

/* What ts_probe found.  Strings are the struct's; int fields are
 * TS_PROBE_NO, TS_PROBE_YES or TS_PROBE_UNKNOWN. */
struct ts_probe {
	char		 server_version[256];	/* SSH identification string */
	char		 transport[64];		/* e.g. "libssh2 1.10.0" */
	char		 kex[64], hostkey[64], cipher[64], mac[64];
	char		 auth[160];		/* how it logged in */
	double		 rtt_ms;		/* SFTP round trip, the least of
						 * a few */
	int		 conns_wanted, conns_open; /* held at once (-j) */
	char		 conns_error[256];	/* why no more, or "" */
	unsigned	 sftp_version;
	char		 extensions[512];	/* all offered, comma-separated */
	struct ts_probe_ext ext[TS_PROBE_EXT_MAX];
	size_t		 next;
	bool		 limits_stated;		/* limits@openssh.com answered */
	uint64_t	 max_packet, max_read, max_write, max_handles; /* 0:
						 * no limit stated */
	uint32_t	 use_read, use_write, use_handles; /* what treesync
						 * uses with this server */
	int		 exec;			/* runs commands */
	int		 sha256sum, xxhsum;	/* has the program */
	int		 statvfs;		/* answered statvfs */
	uint64_t	 free_bytes, total_bytes;
	/* Measured with opts.write: */
	int		 symlinks;		/* can create symlinks */
	const char	*symlink_order;		/* "draft-02", "openssh", or NULL */
	int		 symlink_guess_right;	/* treesync's first guess */
	int		 setstat_mtime;		/* an mtime set stays after close */
	int		 case_insensitive;	/* "A" and "a" are one name */
	int		 rename_replaces;	/* plain RENAME over a file */
	char		 measure_error[256];	/* why measuring stopped, or "" */
	/* With opts.speed: */
	uint64_t	 speed_bytes;
	double		 up_bytes_per_s, down_bytes_per_s;
};

/*
 * Finds out what c's server can do: its SSH software, how many
 * connections it takes at once, SFTP version, extensions and limits,
 * whether it runs commands and has sha256sum and xxhsum, and with
 * o->write, how it behaves (symlinks and their argument order, setstat,
 * case, rename) in a temporary directory under path, removed at the end.
 * path must be an existing directory (TS_ENOENT naming it otherwise).
 * o may be NULL (TS_PROBE_OPTS_INIT).  *out is filled as far as it got,
 * also on failure; a measurement that fails is TS_PROBE_UNKNOWN with
 * measure_error set, not a failure of the call.
 */
TS_EXTERN int	ts_probe(struct ts_probe *out, struct ts_conn *c,
		    const char *path, const struct ts_probe_opts *o,
		    struct ts_error *err);

#ifdef __cplusplus
}
#endif
#endif /* TREESYNC_H */
