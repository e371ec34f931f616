/*
 * Removing a tree on the server over SFTP, never through a shell: many
 * requests in flight, deepest directories first.  Backup's rotation and
 * publish's use it, and the pool's sweep of temporary files.
 */
#ifndef TS_RMTREE_H
#define TS_RMTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "sftp.h"

/*
 * Removes the directory dir and everything in it.  Directories we may
 * not write or enter are made u+rwx first.  Files are only unlinked,
 * never changed: their inodes may be shared with trees that stay (hard
 * links).  A dir already gone is fine; a dir that is not a directory is
 * removed as a file.
 */
int	rmtree_remove(struct sftp *s, const char *dir, struct ts_error *err);

/*
 * Removes the files paths[0..n), many at once, best effort: one that
 * cannot go stops none of the others, nor does an interrupt (a sweep of
 * temporary files).  Returns how many are gone, gone already included.
 */
size_t	rmtree_remove_files(struct sftp *s, char *const *paths, size_t n);

/*
 * Removes root/name.  With rename_first (a complete tree: a snapshot, a
 * release) it is first renamed to root/.NAME.removing, so a removal cut
 * short never leaves a partial tree under a final name; the next
 * rotation finishes it.
 */
int	rmtree_prune(struct sftp *s, const char *root, const char *name,
	    bool rename_first, struct ts_error *err);

#endif
