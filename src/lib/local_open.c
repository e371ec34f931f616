/*
 * Local opens confined to a tree (see local_open.h).  rsync has had
 * security holes of exactly this kind: a path checked by the walk, then
 * opened by name later, after someone swapped a directory on the way for
 * a symlink to a place only the user running the copy may read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "local_open.h"

int
local_open_dir(int root_fd, const char *rel, size_t len, bool follow)
{
	char	 comp[NAME_MAX + 1];
	size_t	 i = 0, n;
	int	 fd, nfd;

	/* Not a dup: that would share a reading position with root_fd.
	 * Below the root, the first component is opened from root_fd
	 * itself: one open and one close less for every file sent. */
	if (len == 0)
		return openat(root_fd, ".", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
	fd = root_fd;
	while (i < len) {
		n = strcspn(rel + i, "/");
		if (n > len - i)
			n = len - i;
		if (n == 0 || n > NAME_MAX) {
			if (fd != root_fd)
				close(fd);
			errno = n == 0 ? EINVAL : ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, rel + i, n);
		comp[n] = '\0';
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
		    (follow ? 0 : O_NOFOLLOW));
		if (fd != root_fd)
			close(fd);
		if (nfd == -1)
			return -1;
		fd = nfd;
		i += n + 1;
	}
	return fd;
}

int
local_open_parent(int root_fd, const char *rel, bool follow,
    const char **name)
{
	const char	*slash = strrchr(rel, '/');

	*name = slash != NULL ? slash + 1 : rel;
	return local_open_dir(root_fd, rel, slash != NULL ?
	    (size_t)(slash - rel) : 0, follow);
}

const char *
local_kind(mode_t m)
{
	if (S_ISREG(m))
		return "regular file";
	if (S_ISDIR(m))
		return "directory";
	if (S_ISLNK(m))
		return "symlink";
	if (S_ISFIFO(m))
		return "fifo";
	if (S_ISSOCK(m))
		return "socket";
	if (S_ISCHR(m))
		return "character device";
	if (S_ISBLK(m))
		return "block device";
	return "special file";
}

/* fd (just opened, O_NONBLOCK) must be a regular file, and the one the
 * walk saw when ino is known; then it reads as usual. */
static int
check_opened(int fd, struct stat *st, uint64_t ino, const char *shown,
    struct ts_error *err)
{
	int	 fl;

	if (fstat(fd, st) != 0)
		return error_set_errno(err, errno, "stat \"%s\"", shown);
	if (!S_ISREG(st->st_mode))
		return error_set(err, TS_ELOCAL, "\"%s\" is a %s, not a regular "
		    "file: skipped", shown, local_kind(st->st_mode));
	if (ino != 0 && (uint64_t)st->st_ino != ino)
		return error_set(err, TS_ELOCAL, "\"%s\" was replaced by another "
		    "file after the walk: skipped (run again to send it)", shown);
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1)
		return error_set_errno(err, errno, "fcntl \"%s\"", shown);
	return 0;
}

/* Says why opening shown failed; a symlink or a non-directory on the way
 * means the tree changed under the run. */
static int
open_error(int e, const char *shown, struct ts_error *err)
{
	if (e == ELOOP || e == ENOTDIR)
		return error_set(err, TS_ELOCAL, "\"%s\": a directory on its "
		    "path was replaced (by a symlink or a file) after the walk: "
		    "skipped, never followed", shown);
	return error_set_errno(err, e, "open \"%s\"", shown);
}

int
local_open_file(int *fd, struct stat *st, int root_fd, const char *rel,
    bool follow, uint64_t ino, const char *shown, struct ts_error *err)
{
	const char	*name;
	int		 dfd, e, rc;

	*fd = -1;
	if ((dfd = local_open_parent(root_fd, rel, follow, &name)) == -1)
		return open_error(errno, shown, err);
	/* Not even opened when it is no regular file: opening a device may
	 * do something.  Checked again once open, as it may change. */
	if (fstatat(dfd, name, st, follow ? 0 : AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISREG(st->st_mode)) {
		close(dfd);
		return error_set(err, TS_ELOCAL, "\"%s\" is a %s, not a "
		    "regular file: skipped", shown, local_kind(st->st_mode));
	}
	*fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
	    (follow ? 0 : O_NOFOLLOW));
	e = errno;
	close(dfd);
	if (*fd == -1)
		return open_error(e, shown, err);
	if ((rc = check_opened(*fd, st, ino, shown, err)) != 0) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

int
local_open_named(int *fd, struct stat *st, const char *path,
    struct ts_error *err)
{
	int	 rc;

	*fd = -1;
	if (lstat(path, st) == 0 && !S_ISREG(st->st_mode))
		return error_set(err, S_ISDIR(st->st_mode) ? TS_EINVAL :
		    TS_ELOCAL, "\"%s\" is a %s, not a regular file", path,
		    local_kind(st->st_mode));
	if ((*fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
	    O_NOFOLLOW)) == -1)
		return error_set_errno(err, errno, "open \"%s\"", path);
	if ((rc = check_opened(*fd, st, 0, path, err)) != 0) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}
