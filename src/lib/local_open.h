/*
 * Opening local files inside a tree without ever leaving it: every path
 * is opened from the tree's root descriptor one component at a time with
 * O_NOFOLLOW, so a directory swapped for a symlink while a run goes on
 * makes the open fail instead of leading out of the tree; a file is
 * opened with O_NONBLOCK (a FIFO put in its place cannot block) and
 * checked to be the regular file the walk saw.
 */
#ifndef TS_LOCAL_OPEN_H
#define TS_LOCAL_OPEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "treesync.h"

/*
 * Opens directory rel[0..len) below root_fd (len 0: root_fd itself, a
 * new descriptor).  follow: symlinks on the way are followed (-L).
 * Returns the fd, or -1 with errno set.
 */
int	local_open_dir(int root_fd, const char *rel, size_t len, bool follow);

/* Opens the directory holding rel and points *name at rel's last
 * component; the fd, or -1 with errno set. */
int	local_open_parent(int root_fd, const char *rel, bool follow,
	    const char **name);

/*
 * Opens file rel below root_fd for reading into *fd, with *st its
 * fstat.  It must be a regular file and, when ino is not 0, the one the
 * walk saw (same inode): anything else is refused with TS_ELOCAL and a
 * message that quotes shown (the path as the user knows it).  Returns 0
 * or the error code; *fd is -1 on failure.
 */
int	local_open_file(int *fd, struct stat *st, int root_fd, const char *rel,
	    bool follow, uint64_t ino, const char *shown, struct ts_error *err);

/* The same for a file the user named (put, backup): its last component
 * is not followed if it is a symlink. */
int	local_open_named(int *fd, struct stat *st, const char *path,
	    struct ts_error *err);

/* "regular file", "directory", "fifo"...: what a mode is, for messages. */
const char *local_kind(mode_t mode);

#endif
