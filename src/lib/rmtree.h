/*
 * Removing a tree on the server over SFTP, never through a shell: many
 * requests in flight, deepest directories first.  Backup's rotation and
 * publish's use it.
 */
#ifndef TS_RMTREE_H
#define TS_RMTREE_H

#include <stdbool.h>

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
 * Removes root/name.  With rename_first (a complete tree: a snapshot, a
 * release) it is first renamed to root/.NAME.removing, so a removal cut
 * short never leaves a partial tree under a final name; the next
 * rotation finishes it.
 */
int	rmtree_prune(struct sftp *s, const char *root, const char *name,
	    bool rename_first, struct ts_error *err);

#endif
