/*
 * Carrying out the actions of a plan (act.c) on the pool's connections
 * (pool.c): per connection, the actions in flight and what they share.
 * Part of the job layer: the pool calls in through act_pool_ops.
 */
#ifndef TS_ACT_H
#define TS_ACT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "hash.h"
#include "pool.h"

#define ACT_MAX_FILES_OPEN	256	/* files open at once on one engine (a
					 * renaming upload holds none): 10,000
					 * small files 20 ms away went from
					 * 2.5 s with 64 to 1.9 s with 128,
					 * and 1.7 s to 1.5 s with 256 */
#define ACT_MAX_ACTIONS		512	/* in flight on one engine, small
					 * requests (mkdir, setstat...) included */
#define ACT_VERIFY_BATCH	ACT_MAX_ACTIONS /* uploads checked by one
						 * command: all in flight */

struct job;
struct upload;
struct part_run;
struct action;

/* The actions in flight on one of the pool's connections. */
struct actor {
	struct job	*job;
	struct sftp	*s;		/* its connection's engine */
	size_t		 active;	/* actions in flight */
	size_t		 transfers;	/* of them, files and ranges moving */
	size_t		 released;	/* of those, uploads past their data
					 * (renaming: no handle, no file) */
	struct upload	*list;		/* transfers in flight */
	struct part_run	*parts;		/* ranges of split files in flight */
	struct upload	*verify_q[ACT_VERIFY_BATCH];
	size_t		 nverify;
	bool		 exec_probed, exec_ok, has_xxhsum;
	/* The XXH128 command, started with a delta upload: its session is
	 * open by the time the file is built (ssh.h, ssh_exec_start). */
	struct ssh_cmd	*xxh_ready;
	bool		 yield;		/* gave a range back: takes nothing
					 * more until it has pumped */
};

/* How the pool drives a job's actors: payload is the job, item a plan
 * action, or (>= plan.n) a range of a split file. */
extern const struct pool_ops act_pool_ops;

/* An idle actor of job j on engine s (may be NULL until connected). */
void	actor_init(struct actor *w, struct job *j, struct sftp *s);
void	actor_dispose(struct actor *w);
void	actor_probe_exec(struct actor *w);
int	actor_remote_hash(struct actor *w, enum hash_kind kind,
	    bool on_server, const char *const *paths, size_t n,
	    char (*hex)[HASH_HEX_MAX], struct ts_error *err);
/* Carries out actions idx[0..n) over every connection; returns when all
 * have finished, reporting and showing progress meanwhile. */
void	job_run(struct job *j, const size_t *idx, size_t n);
/* Removes the orphaned temporary files, best effort. */
void	job_sweep_orphans(struct job *j);
/* The parent directory of local rel, opened without following symlinks;
 * *name is rel's last component. */
int	local_parent(struct job *j, const char *rel, const char **name);
/* Push: whether action a may be sent as a delta (the store knows its
 * server copy), so it is not split. */
bool	job_delta_possible(const struct job *j, const struct action *a);
/* Push: records the signature of local file fd (borrowed; st its fstat),
 * now at remote path on the server, in the store.  Best effort. */
void	job_sig_record(struct job *j, int fd, const struct stat *st,
	    const char *remote);

/* Big files as ranges over several connections (split.h). */
/* Prepares the files of batch idx[0..*n) to split over the workers and
 * adds their range items to the batch, first (idx has room for them). */
void	job_split_files(struct job *j, size_t *idx, size_t *n);
/* Closes and forgets the splits; an unfinished one's temp file goes. */
void	job_splits_dispose(struct job *j);
/* Starts range item (>= plan.n) of a split file; kicks and reaps the
 * actor's ranges (reaping finishes files: never from a callback). */
void	actor_start_part(struct actor *w, size_t item);
void	actor_kick_parts(struct actor *w);
void	actor_reap_parts(struct actor *w);

#endif
