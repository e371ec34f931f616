/*
 * What job.c (planning, reporting, the public calls) and worker.c
 * (carrying the plan out over N connections) share.
 */
#ifndef TS_JOB_H
#define TS_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <stdbool.h>

#include "entries.h"
#include "filter.h"
#include "hash.h"
#include "plan.h"
#include "sftp.h"
#include "symlink.h"
#include "treesync.h"
#include "xfer.h"

#define JOB_HASH_BATCH		2000	/* names per remote hash command */
#define JOB_MAX_FILES_OPEN	256	/* files open at once on one engine (a
					 * renaming upload holds none): 10,000
					 * small files 20 ms away went from
					 * 2.5 s with 64 to 1.9 s with 128,
					 * and 1.7 s to 1.5 s with 256 */
#define JOB_MAX_ACTIONS		512	/* in flight on one engine, small
					 * requests (mkdir, setstat...) included */
#define JOB_VERIFY_BATCH	JOB_MAX_ACTIONS /* uploads checked by one
						 * command: all in flight */
#define JOB_MAX_WORKERS		64
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

/*
 * A file much bigger than the rest, moved as nparts byte ranges by as many
 * workers at once into one temporary file; the worker finishing the last
 * range checks the whole file and renames it (worker.c).  A batch holds
 * one item per range: plan.n + split * JOB_MAX_WORKERS + range.
 */
struct split {
	size_t		 idx;		/* its action */
	int		 nparts, left;	/* ranges; those not finished (mu) */
	uint64_t	 size;
	int		 fd;		/* push: the source; pull: the temp file */
	int		 dirfd;		/* pull: the destination directory */
	char		*tmp;		/* push: remote temp path; pull: name */
	const char	*name;		/* pull: the final name, in dirfd */
	char		*remote;	/* push: the final path; pull: source */
	struct stat	 st;		/* push: the source when opened */
	struct ts_error	 err;		/* the first range's failure (mu) */
};

/* One connection and the thread that drives it (worker.c). */
struct worker {
	struct job	*job;
	int		 id;
	struct ts_conn	*conn;		/* the caller's, or owned */
	bool		 owned;
	struct sftp	*s;
	size_t		 active;	/* actions in flight */
	size_t		 transfers;	/* of them, files and ranges moving */
	size_t		 released;	/* of those, uploads past their data
					 * (renaming: no handle, no file) */
	struct upload	*list;		/* transfers in flight */
	struct part_run	*parts;		/* ranges of split files in flight */
	struct upload	*verify_q[JOB_VERIFY_BATCH];
	size_t		 nverify;
	bool		 exec_probed, exec_ok, has_xxhsum;
	pthread_t	 th;
	bool		 started;
	bool		 dead;		/* lost its connection for good */
	int		 reconnects;	/* so far; --retries at most */
	unsigned	 gen;		/* the last batch it saw */
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
	/* Workers; w[0] drives the caller's connection. */
	struct worker	 w[JOB_MAX_WORKERS];
	int		 nw;
	int		 retries;
	int		 spares_lost;	/* lent to a walk, failed there */
	/* Shared between workers: everything below, under mu. */
	pthread_mutex_t	 mu;
	pthread_cond_t	 work_cv;	/* a batch or a retry to take */
	pthread_cond_t	 done_cv;	/* an action finished */
	const size_t	*batch;		/* the actions of the running batch */
	size_t		 batch_n, batch_next;
	size_t		 pending;	/* of the batch, not finished */
	size_t		*retry;		/* actions to start again */
	size_t		 nretry;
	unsigned	 gen;		/* batch number */
	bool		 quit;
	char		**orphans;	/* temp files a lost connection left */
	size_t		 norphans, orphans_cap; /* push: remote paths;
					 * pull: local, from the root */
	size_t		 temps_live;	/* temporary files of live runs */
	/* -H: per link group, its first name and that one's action (or
	 * SIZE_MAX: unchanged, nothing to do). */
	const struct entry **leader;
	size_t		*leader_action;
	size_t		 nleaders;
	atomic_uint	 owner_denied;	/* -o/-g: chowns the account may not
					 * do (not root), skipped */
	struct ts_error	 last_conn_error;
	size_t		 fd_budget;	/* local files one worker may hold open */
	bool		 posix_rename;	/* the server has it (splits need it
					 * to replace a file) */
	struct split	*splits;	/* of the running PH_FILES batch */
	size_t		 nsplits;
	int		 connecting;	/* extra connections being opened */
	int		 refused;	/* extra connections the server refused */
	struct ts_error	 refused_error;	/* the first refusal */
	struct link_facts links;	/* the server's SYMLINK order, learned
					 * by the first links made (atomic) */
	struct sigstore	*store;		/* push: signatures, or NULL */
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

char	*remote_path(const char *root, const char *rel);
char	*local_path(const char *root, const char *rel);
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

/* worker.c */
void	worker_init(struct worker *w, struct job *j, int id,
	    struct ts_conn *c, bool owned);
void	worker_probe_exec(struct worker *w);
int	worker_remote_hash(struct worker *w, enum hash_kind kind,
	    bool on_server, const char *const *paths, size_t n,
	    char (*hex)[HASH_HEX_MAX], struct ts_error *err);
/* Opens the other connections and starts a thread per connection. */
void	workers_start(struct job *j, int want);
void	workers_stop(struct job *j);
/* Carries out actions idx[0..n) over every worker; returns when all have
 * finished, reporting and showing progress meanwhile. */
void	job_run(struct job *j, const size_t *idx, size_t n);
/* Prepares the files of batch idx[0..*n) to split over the workers and
 * adds their range items to the batch, first (idx has room for them). */
void	job_split_files(struct job *j, size_t *idx, size_t *n);
/* Closes and forgets the splits; an unfinished one's temp file goes. */
void	job_splits_dispose(struct job *j);
/* Starts range item (>= plan.n) of a split file; kicks and reaps the
 * worker's ranges (reaping finishes files: never from a callback). */
void	worker_start_part(struct worker *w, size_t item);
void	worker_kick_parts(struct worker *w);
void	worker_reap_parts(struct worker *w);
/* The parent directory of local rel, opened without following symlinks;
 * *name is rel's last component. */
int	local_parent(struct job *j, const char *rel, const char **name);
/* Push: whether a file of size bytes is uploaded resumably. */
bool	job_partial_applies(const struct job *j, uint64_t size);
/* Push: remembers a partial upload (thread-safe); the strings are
 * copied.  Returns 0 or -1 (out of memory). */
int	job_partial_add(struct job *j, const char *rel, const char *path,
	    uint64_t size, const char *key);
/* Push: the partial upload for rel, copied into *out (strings owned by
 * the caller), or false. */
bool	job_partial_find(struct job *j, const char *rel, struct partial *out);
/* Push: whether action a may be sent as a delta (the store knows its
 * server copy), so it is not split. */
bool	job_delta_possible(const struct job *j, const struct action *a);
/* Push: records the signature of local file fd (borrowed; st its fstat),
 * now at remote path on the server, in the store.  Best effort. */
void	job_sig_record(struct job *j, int fd, const struct stat *st,
	    const char *remote);
/* Removes the orphaned temporary files, best effort. */
void	job_sweep_orphans(struct job *j);

#endif
