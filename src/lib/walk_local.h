/*
 * The local walk: a directory tree into a sorted entry list.
 *
 * Entries come from lstat (fstatat with AT_SYMLINK_NOFOLLOW): regular
 * files, directories and symlinks, kept as symlinks with their target,
 * unless follow_links (-L) makes them what they point to.  Other types
 * (fifos, sockets, devices) are skipped with a TS_LOG_WARN notice.
 * Directories are opened with openat(O_NOFOLLOW | O_DIRECTORY) relative
 * to their parent and checked to be what was stat'ed, so a directory
 * swapped for a symlink during the walk is never followed out of the
 * tree.  A directory whose (dev, ino) is already on the current path (a
 * symlink loop with follow_links, or a bind mount) is not entered again.
 *
 * Problems with single paths (unreadable file or directory, a vanished
 * entry, a dangling symlink with follow_links, a loop) don't stop the
 * walk: each is recorded in the caller's walk_problems and the directory
 * holding it is flagged ENTRY_INCOMPLETE (entries.incomplete_root for the
 * root), so the planner deletes nothing in it.  A directory removed
 * while it was listed (its link count 0 after the listing) is flagged
 * the same way: what it seemed to lack is not missing.  The caller
 * reports them and ends with TS_EPARTIAL.
 *
 * Files are not opened, only checked with faccessat(R_OK): one the walk
 * couldn't read is a problem here, not a failed transfer later.  One
 * directory stream is open per level of depth.
 */
#ifndef TS_WALK_LOCAL_H
#define TS_WALK_LOCAL_H

#include <stdbool.h>
#include <stddef.h>

#include "entries.h"
#include "filter.h"
#include "treesync.h"

struct walk_opts {
	bool		 follow_links;	/* -L: symlinks become their targets */
	const struct filter *filter;	/* NULL: nothing excluded */
	int		 root_fd;	/* the root, already open (the job
					 * opens files from it later); -1:
					 * open root by name */
};
#define WALK_OPTS_INIT	{ .follow_links = false, .filter = NULL, .root_fd = -1 }

/* One path the walk skipped, and why. */
struct walk_problem {
	char		*path;		/* relative to the root; owned */
	struct ts_error	 err;		/* code, errno, one-line message */
};

struct walk_problems {
	struct walk_problem *v;		/* the first WALK_PROBLEMS_MAX */
	size_t		 n, cap;
	size_t		 total;		/* all of them, also those not kept */
};
#define WALK_PROBLEMS_MAX	1000

void	walk_problems_init(struct walk_problems *wp);
void	walk_problems_dispose(struct walk_problems *wp); /* NULL is fine */

/*
 * Walks directory root into out, which must be empty (entries_init), and
 * sorts it.  Paths are relative to root.  Returns 0 when the walk got
 * through, problems or not (see problems->total); TS_ENOENT when root
 * doesn't exist ("local directory \"x\" does not exist"), TS_EINVAL when
 * it isn't a directory, TS_ELOCAL when it can't be opened, TS_ENOMEM.
 * On failure out holds a part of the tree: dispose of it.  opts may be
 * NULL (WALK_OPTS_INIT).
 */
int	walk_local(struct entries *out, const char *root,
	    const struct walk_opts *opts, struct walk_problems *problems,
	    struct ts_error *err);

#endif
