#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cancel.h"
#include "error.h"
#include "local_open.h"
#include "log.h"
#include "walk_local.h"

#define NS_PER_SEC	1000000000LL
#define WALK_PATH_MAX	(1024 * 1024)	/* relative path, bytes */
#define LINK_MAX_LEN	(1024 * 1024)	/* symlink target, bytes */
#define ROOT_DIR	SIZE_MAX	/* "directory index" of the root */

struct dir_id {
	dev_t		 dev;
	ino_t		 ino;
};

struct walker {
	struct entries	*out;
	const char	*root;		/* as the caller named it */
	struct walk_opts o;
	struct walk_problems *wp;	/* may be NULL */
	char		*path;		/* the current relative path */
	size_t		 len, cap;
	struct dir_id	*ids;		/* directories on the current path */
	size_t		 depth, icap;
	char		*link;		/* readlink buffer */
	size_t		 link_cap;
	struct link_seen *seen;		/* -H: files of several names, an
					 * open-addressed table by inode */
	size_t		 nseen, seen_cap;
	uid_t		 euid;		/* geteuid(), asked once */
	struct ts_error	*err;
};

struct link_seen {
	dev_t		 dev;
	ino_t		 ino;
	uint32_t	 group;		/* 0: an empty slot */
};

void
walk_problems_init(struct walk_problems *wp)
{
	memset(wp, 0, sizeof(*wp));
}

void
walk_problems_dispose(struct walk_problems *wp)
{
	size_t	 i;

	if (wp == NULL)
		return;
	for (i = 0; i < wp->n; i++)
		free(wp->v[i].path);
	free(wp->v);
	walk_problems_init(wp);
}

static void
mark_incomplete(struct walker *w, size_t dir)
{
	if (dir == ROOT_DIR)
		w->out->incomplete_root = true;
	else
		w->out->v[dir].flags |= ENTRY_INCOMPLETE;
}

/*
 * Records a problem with the current path (errno e, or 0) and flags
 * directory dir, whose listing now lacks something, as incomplete.
 * Returns 0, or TS_ENOMEM.
 */
static int __attribute__((format(printf, 4, 5)))
problem(struct walker *w, size_t dir, int e, const char *fmt, ...)
{
	struct walk_problems *wp = w->wp;
	struct walk_problem *v;
	char		 msg[2 * PATH_MAX];	/* error.c cuts its paths, not
						 * the reason added to it */
	size_t		 cap;
	va_list		 ap;

	mark_incomplete(w, dir);
	if (wp == NULL)
		return 0;
	wp->total++;
	if (wp->n >= WALK_PROBLEMS_MAX)
		return 0;
	if (wp->n == wp->cap) {
		cap = wp->cap == 0 ? 16 : wp->cap * 2;
		if ((v = realloc(wp->v, cap * sizeof(*v))) == NULL)
			return error_set(w->err, TS_ENOMEM, "out of memory");
		wp->v = v;
		wp->cap = cap;
	}
	v = &wp->v[wp->n];
	if ((v->path = strdup(w->path)) == NULL)
		return error_set(w->err, TS_ENOMEM, "out of memory");
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	error_clear(&v->err);
	if (e != 0)
		error_set_errno(&v->err, e, "%s", msg);
	else
		error_set(&v->err, TS_ELOCAL, "%s", msg);
	wp->n++;
	return 0;
}

static int64_t
mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * NS_PER_SEC + st->st_mtim.tv_nsec;
}

/* The current path for messages: the root is shown as named. */
static const char *
shown(const struct walker *w)
{
	return w->len > 0 ? w->path : w->root;
}

static bool
excluded(const struct walker *w, bool is_dir)
{
	return filter_excluded(w->o.filter, w->path, is_dir);
}

/* Appends "/name" to the current path; 1 if that would be too long. */
static int
path_push(struct walker *w, const char *name)
{
	size_t	 n = strlen(name), need = w->len + 1 + n + 1, cap;
	char	*p;

	if (need > WALK_PATH_MAX)
		return 1;
	if (need > w->cap) {
		for (cap = w->cap == 0 ? 256 : w->cap; cap < need; cap *= 2)
			;
		if ((p = realloc(w->path, cap)) == NULL)
			return error_set(w->err, TS_ENOMEM, "out of memory");
		w->path = p;
		w->cap = cap;
	}
	if (w->len > 0)
		w->path[w->len++] = '/';
	memcpy(w->path + w->len, name, n + 1);
	w->len += n;
	return 0;
}

/* Reads the target of symlink name in dfd into w->link; 0, 1 (a problem
 * was recorded), or TS_ENOMEM. */
static int
read_link(struct walker *w, int dfd, const char *name, size_t parent)
{
	size_t	 cap;
	ssize_t	 n;
	char	*p;

	for (;;) {
		if (w->link_cap == 0) {
			if ((w->link = malloc(4096)) == NULL)
				return error_set(w->err, TS_ENOMEM,
				    "out of memory");
			w->link_cap = 4096;
		}
		if ((n = readlinkat(dfd, name, w->link, w->link_cap)) == -1)
			return problem(w, parent, errno, "read symlink \"%s\"",
			    w->path) != 0 ? TS_ENOMEM : 1;
		if ((size_t)n < w->link_cap) {
			w->link[n] = '\0';
			return 0;
		}
		/* It filled the buffer, so it may be cut: more room. */
		if (w->link_cap >= LINK_MAX_LEN)
			return problem(w, parent, ENAMETOOLONG, "read symlink "
			    "\"%s\"", w->path) != 0 ? TS_ENOMEM : 1;
		cap = w->link_cap * 2;
		if ((p = realloc(w->link, cap)) == NULL)
			return error_set(w->err, TS_ENOMEM, "out of memory");
		w->link = p;
		w->link_cap = cap;
	}
}

static int	walk_dir(struct walker *w, int fd, size_t self);

/* -H: the link group of a file of st_nlink > 1 names, numbered in the
 * order first seen; 0 when out of memory (then sent as separate files). */
static uint32_t
link_group(struct walker *w, const struct stat *st)
{
	struct link_seen	*t, *old = w->seen;
	size_t			 i, k, cap, oldcap = w->seen_cap;

	if (w->nseen * 2 >= w->seen_cap) {	/* keep it half empty */
		cap = oldcap == 0 ? 256 : oldcap * 2;
		if ((t = calloc(cap, sizeof(*t))) == NULL)
			return 0;
		for (i = 0; i < oldcap; i++) {
			if (old[i].group == 0)
				continue;
			for (k = (old[i].ino ^ old[i].dev) % cap; t[k].group != 0;
			    k = (k + 1) % cap)
				;
			t[k] = old[i];
		}
		free(old);
		w->seen = t;
		w->seen_cap = cap;
	}
	for (k = (st->st_ino ^ st->st_dev) % w->seen_cap;
	    w->seen[k].group != 0; k = (k + 1) % w->seen_cap)
		if (w->seen[k].dev == st->st_dev && w->seen[k].ino == st->st_ino)
			return w->seen[k].group;
	w->seen[k].dev = st->st_dev;
	w->seen[k].ino = st->st_ino;
	w->seen[k].group = (uint32_t)++w->nseen;
	return w->seen[k].group;
}

/* The owner and group of the entry just added. */
static void
set_ids(struct walker *w, const struct stat *st)
{
	w->out->v[w->out->n - 1].uid = (uint32_t)st->st_uid;
	w->out->v[w->out->n - 1].gid = (uint32_t)st->st_gid;
}

/*
 * Enters directory name of dfd, stat'ed as *st, and walks it.  A directory
 * that can't be opened is still listed (flagged incomplete), so that the
 * other side keeps it and what it holds.
 */
static int
visit_dir(struct walker *w, int dfd, const char *name, const struct stat *st,
    bool followed, size_t parent)
{
	struct stat	 st2;
	struct dir_id	*ids;
	size_t		 i, self, cap;
	int		 fd, e, rc;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    (followed ? 0 : O_NOFOLLOW));
	if (fd == -1) {
		e = errno;
		/* Gone or no longer a directory: it changed under us. */
		if (e == ENOENT || e == ENOTDIR || e == ELOOP)
			return problem(w, parent, e, "open directory \"%s\"",
			    w->path);
		if ((rc = entries_add(w->out, w->path, ENTRY_DIR, 0,
		    mtime_ns(st), st->st_mode, NULL, w->err)) != 0)
			return rc;
		return problem(w, w->out->n - 1, e, "open directory \"%s\"",
		    w->path);
	}
	if (fstat(fd, &st2) != 0 || st2.st_dev != st->st_dev ||
	    st2.st_ino != st->st_ino) {
		close(fd);
		return problem(w, parent, 0, "directory \"%s\" changed during "
		    "the walk", w->path);
	}
	for (i = 0; i < w->depth; i++) {
		if (w->ids[i].dev != st->st_dev || w->ids[i].ino != st->st_ino)
			continue;
		close(fd);
		return problem(w, parent, ELOOP, "directory \"%s\" is already "
		    "being walked", w->path);
	}
	if ((rc = entries_add(w->out, w->path, ENTRY_DIR, 0, mtime_ns(st),
	    st->st_mode, NULL, w->err)) != 0) {
		close(fd);
		return rc;
	}
	set_ids(w, st);
	self = w->out->n - 1;
	if (w->depth == w->icap) {
		cap = w->icap == 0 ? 32 : w->icap * 2;
		if ((ids = realloc(w->ids, cap * sizeof(*ids))) == NULL) {
			close(fd);
			return error_set(w->err, TS_ENOMEM, "out of memory");
		}
		w->ids = ids;
		w->icap = cap;
	}
	w->ids[w->depth].dev = st->st_dev;
	w->ids[w->depth].ino = st->st_ino;
	w->depth++;
	rc = walk_dir(w, fd, self);
	w->depth--;
	return rc;
}

/* Adds the current path, entry name of directory dfd (entry parent). */
static int
visit(struct walker *w, int dfd, const char *name, size_t parent)
{
	struct stat	 st;
	bool		 followed = false;
	int		 rc;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return problem(w, parent, errno, "stat \"%s\"", w->path);
	if (S_ISLNK(st.st_mode) && w->o.follow_links) {
		if (fstatat(dfd, name, &st, 0) != 0)
			return problem(w, parent, errno, "follow symlink "
			    "\"%s\"", w->path);
		followed = true;
	}
	if (S_ISDIR(st.st_mode)) {
		if (excluded(w, true))
			return 0;	/* and all in it: not entered */
		return visit_dir(w, dfd, name, &st, followed, parent);
	}
	if (excluded(w, false))
		return 0;
	if (S_ISREG(st.st_mode)) {
		/* The owner's read bit is the whole answer for the owner (an
		 * ACL's owner entry is those bits): the kernel is asked, a
		 * second lookup of the name, only for the others. */
		if (!(st.st_uid == w->euid && (st.st_mode & S_IRUSR) != 0) &&
		    faccessat(dfd, name, R_OK, AT_EACCESS) != 0)
			return problem(w, parent, errno, "read \"%s\"",
			    w->path);
		if ((rc = entries_add(w->out, w->path, ENTRY_FILE,
		    (uint64_t)st.st_size, mtime_ns(&st), st.st_mode, NULL,
		    w->err)) != 0)
			return rc;
		set_ids(w, &st);
		w->out->v[w->out->n - 1].ino = (uint64_t)st.st_ino;
		if (w->o.hard_links && st.st_nlink > 1)
			w->out->v[w->out->n - 1].link_group =
			    link_group(w, &st);
		return 0;
	}
	if (S_ISLNK(st.st_mode)) {
		if ((rc = read_link(w, dfd, name, parent)) != 0)
			return rc < 0 ? rc : 0;
		if ((rc = entries_add(w->out, w->path, ENTRY_SYMLINK,
		    strlen(w->link), mtime_ns(&st), st.st_mode, w->link,
		    w->err)) != 0)
			return rc;
		set_ids(w, &st);
		return 0;
	}
	/* Nothing the other side could hold: say so, but it's no error. */
	log_msg(TS_LOG_WARN, "skipping %s \"%s\"", local_kind(st.st_mode),
	    w->path);
	return 0;
}

/* A directory's names, read whole before any is visited: one buffer of
 * NUL-terminated names and their offsets in it. */
struct names {
	char		*buf;
	size_t		 len, cap;
	size_t		*off;
	size_t		 n, ocap;
};

static int
names_add(struct names *nm, const char *name)
{
	size_t	 n = strlen(name) + 1, cap;
	void	*p;

	if (nm->len + n > nm->cap) {
		for (cap = nm->cap == 0 ? 4096 : nm->cap; cap < nm->len + n;
		    cap *= 2)
			;
		if ((p = realloc(nm->buf, cap)) == NULL)
			return -1;
		nm->buf = p;
		nm->cap = cap;
	}
	if (nm->n == nm->ocap) {
		cap = nm->ocap == 0 ? 256 : nm->ocap * 2;
		if ((p = realloc(nm->off, cap * sizeof(*nm->off))) == NULL)
			return -1;
		nm->off = p;
		nm->ocap = cap;
	}
	memcpy(nm->buf + nm->len, name, n);
	nm->off[nm->n++] = nm->len;
	nm->len += n;
	return 0;
}

static _Thread_local const char *names_base;	/* for names_cmp */

static int
names_cmp(const void *a, const void *b)
{
	return strcmp(names_base + *(const size_t *)a,
	    names_base + *(const size_t *)b);
}

/*
 * Walks the open directory fd (handed over), entry self of the list.
 * The names are read first and visited in strcmp order (the order of
 * entries_path_cmp within one directory, '/' being in no name), so the
 * list comes out sorted and entries_sort has nothing left to do.
 */
static int
walk_dir(struct walker *w, int fd, size_t self)
{
	struct dirent	*de;
	struct stat	 st;
	struct names	 nm = { 0 };
	DIR		*d;
	const char	*name;
	size_t		 save = w->len, i;
	int		 rc = 0;

	if ((d = fdopendir(fd)) == NULL) {
		rc = errno;
		close(fd);
		return problem(w, self, rc, "read directory \"%s\"", shown(w));
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				rc = problem(w, self, errno, "read directory "
				    "\"%s\"", shown(w));
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (names_add(&nm, de->d_name) != 0) {
			rc = error_set(w->err, TS_ENOMEM, "out of memory");
			break;
		}
	}
	if (rc == 0 && nm.n > 1) {
		names_base = nm.buf;
		qsort(nm.off, nm.n, sizeof(*nm.off), names_cmp);
	}
	for (i = 0; rc == 0 && i < nm.n; i++) {
		/* A big tree takes seconds: an interrupt need not wait. */
		if (cancel_requested()) {
			rc = error_set(w->err, TS_ECANCELED, "interrupted");
			break;
		}
		name = nm.buf + nm.off[i];
		if ((rc = path_push(w, name)) == 1)
			rc = problem(w, self, ENAMETOOLONG, "\"%s/%s\"",
			    shown(w), name);
		else if (rc == 0)
			rc = visit(w, dirfd(d), name, self);
		w->len = save;
		if (w->path != NULL)
			w->path[save] = '\0';
	}
	/* Removed while we listed it (rm -rf of the tree, an unmount): the
	 * names we missed are not gone from the tree, so nothing of the
	 * other side's may be deleted for their absence. */
	if (rc == 0 && fstat(dirfd(d), &st) == 0 && st.st_nlink == 0)
		rc = problem(w, self, ENOENT, "directory \"%s\" was removed "
		    "while being listed", shown(w));
	closedir(d);
	free(nm.buf);
	free(nm.off);
	return rc;
}

int
walk_local(struct entries *out, const char *root,
    const struct walk_opts *opts, struct walk_problems *problems,
    struct ts_error *err)
{
	static const struct walk_opts defaults = WALK_OPTS_INIT;
	struct walker	 w;
	struct stat	 st;
	int		 fd, e, rc;

	assert(out->n == 0);
	memset(&w, 0, sizeof(w));
	w.out = out;
	w.root = root;
	w.o = opts != NULL ? *opts : defaults;
	w.wp = problems;
	w.euid = geteuid();
	w.err = err;
	if ((w.path = calloc(1, 256)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	w.cap = 256;
	/* The root is what the user named: a symlink to a directory is
	 * followed, as rsync does with "dir/". */
	/* Opened anew, not dup'ed: a dup would share the reading position
	 * with the caller's descriptor, and a second walk would see nothing. */
	if (w.o.root_fd != -1)
		fd = openat(w.o.root_fd, ".", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC);
	else
		fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		e = errno;
		if (e == ENOTDIR && stat(root, &st) == 0)
			rc = error_set(err, TS_EINVAL, "local path \"%s\" is "
			    "not a directory", root);
		else if (e == ENOENT || e == ENOTDIR)
			rc = error_set(err, TS_ENOENT, "local directory \"%s\" "
			    "does not exist", root);
		else
			rc = error_set_errno(err, e, "open local directory "
			    "\"%s\"", root);
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = error_set_errno(err, errno, "stat local directory \"%s\"",
		    root);
		close(fd);
		goto out;
	}
	if ((w.ids = malloc(32 * sizeof(*w.ids))) == NULL) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		close(fd);
		goto out;
	}
	w.icap = 32;
	w.ids[0].dev = st.st_dev;
	w.ids[0].ino = st.st_ino;
	w.depth = 1;
	if ((rc = walk_dir(&w, fd, ROOT_DIR)) == 0)
		rc = entries_sort(out, err);
out:
	free(w.path);
	free(w.ids);
	free(w.seen);
	free(w.link);
	return rc;
}
