/*
 * What job.c (planning, reporting, the public calls) and act.c
 * (carrying the plan out over the pool's connections) share.
 */
#ifndef TS_JOB_H
#define TS_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <stdbool.h>

#include "act.h"
#include "entries.h"
#include "filter.h"
#include "hash.h"
#include "plan.h"
#include "pool.h"
#include "sftp.h"
#include "stage.h"
#include "symlink.h"
#include "treesync.h"
#include "verify.h"
#include "xfer.h"

#define JOB_HASH_BATCH		2000	/* names per remote hash command */
#define JOB_SPLIT_MIN_PART	(8u << 20) /* bytes: the smallest range worth a
					    * connection of its own */
#define JOB_FILES_PER_CONN	64	/* worth opening one more connection */
#define JOB_BYTES_PER_CONN	(8u << 20)

/* What became of one planned action. */
struct outcome {
	bool		 done;
	bool		 link;		/* ACT_COPY done as a hard link from
					 * link_dest */
	bool		 hlink;		/* -H: done as a hard link to the
					 * first name of its local file */
	bool		 has_wire;	/* wire: the file bytes it moved */
	uint64_t	 wire;
	int		 code;
	char		*error;		/* owned; when code != TS_OK */
	bool		 delta;		/* built from the server's old copy */
	uint64_t	 literal, matched; /* delta: bytes sent, copied */
};

struct upload;
struct part_run;
struct sigstore;

/* Push: uploads smaller than this are not resumable unless --partial. */
#define JOB_PARTIAL_MIN		(64ull << 20)

/* A partial upload on the server (tempname.h's TEMPNAME_PART). */
struct partial {
	char		*rel;		/* the file it is for */
	char		*path;		/* its remote path */
	uint64_t	 size;
	char		 key[32];	/* its content key (hex prefix) */
};

/* A file of the running batch moved as ranges (split.h), one batch item
 * per range: plan.n + its index * POOL_MAX_WORKERS + range. */
struct job_split {
	size_t		 idx;		/* its action */
	int		 nparts;
	struct split	*sp;
};

struct job {
	struct ts_conn	*conn;		/* the caller's */
	struct sftp	*s;		/* its engine, for planning */
	const struct ts_sync_opts *opts;
	const char	*local_root, *remote_root;
	struct entries	 src, dst;
	struct entries	 ref;		/* the link_dest tree */
	const struct ltree *tree;	/* push: the local tree walked already
					 * (ltree.h), or NULL: walk it */
	struct filter	 filter;
	struct plan	 plan;
	struct outcome	*out;		/* one per plan action */
	uint16_t	*tries;		/* retries used, per action */
	size_t		 reported;	/* actions reported so far */
	ts_item_fn	*fn;
	void		*payload;
	struct ts_summary *sum;
	bool		 pull;		/* src is remote, dst local */
	bool		 dst_root_missing; /* push: the walk found no remote
					 * root; it is created first */
	int		 root_fd;	/* the local root, or -1 (pull: until
					 * planned; push: from before the
					 * walk, which lists it) */
	int64_t		 root_mtime_ns;	/* push: the root's before the walk */
	int64_t		 started_ns;	/* the run's start, by the clock file
					 * times use (CLOCK_REALTIME_COARSE) */
	struct ratelimit *rate;		/* bytes moved (progress), --bwlimit;
					 * NULL when neither is asked for */
	struct xfer_opts xo;		/* how every file moves: the check,
					 * fsync, and for pull the mode bits
					 * kept (umask, --perms); set once, as
					 * reading the umask costs syscalls */
	atomic_bool	 disk_full;	/* pull: start nothing more */
	enum hash_kind	 hash_kind;	/* -c and check */
	bool		 hash_remote;	/* hashed by the server */
	double		 t0;
	double		 last_progress;	/* when progress was last called */
	/* The connections, w[0] the caller's (pool.c), and per connection
	 * the actions in flight on it (act.c): pool.w[k].user is act[k]. */
	struct pool	 pool;
	struct actor	 act[POOL_MAX_WORKERS];
	int		 retries;
	int		 spares_lost;	/* lent to a walk, failed there */
	/* Shared between workers: everything below, under mu. */
	pthread_mutex_t	 mu;
	char		**orphans;	/* temp files a lost connection left */
	size_t		 norphans, orphans_cap; /* push: remote paths;
					 * pull: local, from the root */
	char		**orphan_dirs;	/* push: directories a run that ended
					 * was building (stage.h) */
	size_t		 norphan_dirs, orphan_dirs_cap;
	struct stage	 stage;		/* push: new directories built under
					 * a temporary name */
	size_t		 temps_live;	/* temporary files of live runs */
	/* -H: per link group, its first name and that one's action (or
	 * SIZE_MAX: unchanged, nothing to do). */
	const struct entry **leader;
	size_t		*leader_action;
	size_t		 nleaders;
	atomic_uint	 owner_denied;	/* -o/-g: chowns the account may not
					 * do (not root), skipped */
	size_t		 fd_budget;	/* local files one worker may hold open */
	bool		 posix_rename;	/* the server has it (splits need it
					 * to replace a file) */
	struct job_split *splits;	/* of the running PH_FILES batch */
	size_t		 nsplits;
	struct link_facts links;	/* the server's SYMLINK order, learned
					 * by the first links made (atomic) */
	struct sigstore	*store;		/* push: signatures, or NULL */
	struct tools_probe probe;	/* what the server runs, asked early */
	/* push: partial uploads found on the server, or cut in this run
	 * (size 0: not to continue from, only to remove once replaced);
	 * under mu once workers run. */
	struct partial	*partials;
	size_t		 npartials, partials_cap;
};

struct ltree;

/* The filter of o's rules; *f is the caller's to filter_dispose, also
 * on failure. */
int	job_filter_build(struct filter *f, const struct ts_sync_opts *o,
	    struct ts_error *err);
/* ts_push with the local tree walked already by ltree_walk (with the same
 * opts' rules and -L): several pushes of one tree walk it once. */
int	job_push_tree(struct ts_summary *out, struct ts_conn *c,
	    const struct ltree *tree, const char *local_dir,
	    const char *remote_dir, const struct ts_sync_opts *opts,
	    ts_item_fn *fn, void *payload, struct ts_error *err);

const char *a_path(const struct job *j, size_t idx);

/* Records the outcome of action idx (thread-safe).  A dropped connection
 * or a file that changed while being sent puts it back in the queue,
 * while it has retries left. */
void	job_finish(struct job *j, size_t idx, int code, const char *msg);
void	job_finish_error(struct job *j, size_t idx, const struct ts_error *e);
/* Remembers a temporary file to remove at the end (thread-safe). */
void	job_orphan(struct job *j, const char *path);
/* Reports, in plan order, what finished; caller holds nothing. */
void	job_report(struct job *j);

/* Push: whether a file of size bytes is uploaded resumably. */
bool	job_partial_applies(const struct job *j, uint64_t size);
/* Push: remembers a partial upload (thread-safe); the strings are
 * copied.  Returns 0 or -1 (out of memory). */
int	job_partial_add(struct job *j, const char *rel, const char *path,
	    uint64_t size, const char *key);
/* Push: the partial upload for rel, copied into *out (strings owned by
 * the caller), or false. */
bool	job_partial_find(struct job *j, const char *rel, struct partial *out);
#endif
