/*
 * Push: new directories built under a temporary name, then moved into
 * place whole.
 *
 * A directory the push creates whose parent is on the server already (a
 * "staged root") is made as ".NAME.treesync-tmp.RUN-RANDOM" beside its
 * final name (tempname.h).  What goes inside it is created there, and
 * its files are written at their own names: nobody looks inside a
 * temporary name, so a file there needs no temporary name of its own,
 * and no rename (on a busy server the dearest of the six requests of a
 * small file).  Once every action inside has ended, one RENAME moves
 * the directory to its final name; so the push shows a new directory
 * complete, not file by file.
 *
 * Roots hold at most STAGE_MAX_FILES files and STAGE_MAX_BYTES bytes,
 * and no file that would be resumable (--partial): a run that dies
 * (killed, every connection lost) leaves its roots under their
 * temporary names, and the next run removes them as it removes other
 * temporary files; those limits bound what it sends again.  A bigger
 * new directory is created at its final name, as before, and its new
 * subdirectories are roots in turn.
 *
 * Nothing half-written ever reaches a final name:
 *  - a file written in place whose connection was lost may have
 *    requests still running on the server.  Its root is then moved
 *    once more to a second temporary name (which those requests, naming
 *    the first, cannot reach), such files that did not end well are
 *    removed there, and only then it goes to its final name;
 *  - a retry of such a file goes through a temporary name and a rename;
 *  - a final name taken meanwhile (another run into the same tree made
 *    the directory first), or a server that renames no directory, gets
 *    the root's entries moved in one by one (pipelined, level by
 *    level): only entries that ended well move, so anything else stays
 *    under the temporary name, for the next run to remove.
 *
 * Not with -H (hard links made after all files may name files in any
 * root), nor pull, nor a dry run.
 */
#ifndef TS_STAGE_H
#define TS_STAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STAGE_MAX_FILES	1024
#define STAGE_MAX_BYTES	(64ull << 20)

/* Pool items at and above this are roots to move into place. */
#define STAGE_ITEM_BASE	(SIZE_MAX / 2)

enum stage_state {
	STAGE_BUILDING,		/* actions inside still running */
	STAGE_RENAMING,		/* its RENAME is queued or in flight */
	STAGE_DONE,		/* at its final name */
	STAGE_SETTLE,		/* left for stage_settle() */
	STAGE_MERGE,		/* to move in entry by entry (the server
				 * renames no directory) */
	STAGE_NONE,		/* its MKDIR failed: nothing to move */
};

struct stage_root {
	char		*rel;		/* from the root of the push */
	char		*final;		/* remote path */
	char		*tmp;		/* remote path it is built at */
	char		*tmp1;		/* the first one (before a fence) */
	size_t		 mkdir_idx;	/* its ACT_MKDIR */
	size_t		 left;		/* actions inside not ended (job.mu) */
	bool		 tainted;	/* a file written in place lost its
					 * connection (job.mu) */
	bool		 untracked;	/* which one was not recorded (out of
					 * memory): moved in entry by entry */
	int		 tries;		/* of its RENAME */
	bool		 merged;	/* moved in entry by entry */
	atomic_int	 state;		/* enum stage_state */
};

struct stage {
	struct stage_root *v;		/* sorted by entries_path_cmp of rel */
	size_t		 n;
	size_t		*of;		/* per plan action: its root, or
					 * SIZE_MAX */
	size_t		*uncertain;	/* actions whose in-place file a lost
					 * connection may have left (job.mu) */
	size_t		 nuncertain, uncertain_cap;
	size_t		 errors;	/* roots, or entries of them, that
					 * could not be moved into place */
	atomic_bool	 no_dir_rename;	/* the server said a RENAME of a
					 * directory is unsupported */
};

struct job;
struct actor;
struct ts_error;

/* Chooses the roots of j's plan (after planning, before running). */
int	stage_build(struct job *j, struct ts_error *err);
void	stage_dispose(struct stage *st);
/* The remote path of rel (from the root of the push), where it is now:
 * inside a root being built, under the root's temporary name.  Owned by
 * the caller; NULL when out of memory. */
char	*stage_path(const struct job *j, const char *rel);
/* Whether action idx (a new file) is written at its own name: inside a
 * root, and its first try. */
bool	stage_in_place(const struct job *j, size_t idx);
/* The in-place file of action idx lost its connection (thread-safe). */
void	stage_taint(struct job *j, size_t idx);
/* Action idx has its outcome (thread-safe, job.mu not held): its
 * root's RENAME is added to the running batch once all are in. */
void	stage_ended(struct job *j, size_t idx);
/* Starts the RENAME of pool item (>= STAGE_ITEM_BASE) on w. */
void	stage_start(struct actor *w, size_t item);
/* After the pool's threads stopped: the roots left (a lost connection,
 * a final name taken) are moved into place one request at a time, or
 * said to be left for the next run. */
void	stage_settle(struct job *j);

#endif
