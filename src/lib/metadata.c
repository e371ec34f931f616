/*
 * The metadata record (metadata.h, docs/metadata.md): written by a walk
 * of the backed-up paths of its own, as it must see what the sync walk
 * leaves out (special files) and what it does not keep (owners, xattrs,
 * inode numbers); applied after a restore's pull, every path opened
 * from the restored root without following a symlink, since the tree
 * came from a server.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "error.h"
#include "local_open.h"
#include "log.h"
#include "metadata.h"

#define META_XATTR_LIST_MAX	(64 * 1024)	/* names of one entry */
#define META_XATTR_VALUE_MAX	(64 * 1024)	/* the kernel's own limit */
#define META_LINE_MAX		(1 << 20)	/* one line of a record */

/* --- writing ------------------------------------------------------- */

/* A file with more than one name, seen once: its hard-link group. */
struct seen {
	dev_t		 dev;
	ino_t		 ino;
	uint64_t	 group;
};

struct writer {
	FILE		*f;
	char		*path;		/* the snapshot-relative path */
	size_t		 len, cap;
	struct seen	*seen;
	size_t		 nseen, seen_cap;
	uint64_t	 groups;
	uint64_t	*skipped;
	char		*names, *value;	/* xattr buffers */
	uid_t		 uid_cached;
	gid_t		 gid_cached;
	char		 user[64], group[64];
	struct ts_error	*err;
};

/* Bytes that would break a line or a field are written as %XX. */
static void
put_escaped(FILE *f, const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f || c == '%')
			fprintf(f, "%%%02X", c);
		else
			putc(c, f);
	}
}

static char
type_char(mode_t m)
{
	return S_ISREG(m) ? 'f' : S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' :
	    S_ISFIFO(m) ? 'p' : S_ISSOCK(m) ? 's' : S_ISCHR(m) ? 'c' : 'b';
}

/* Names of ids, as rsync maps them; "-" when the id has none. */
static void
names_of(struct writer *w, uid_t uid, gid_t gid)
{
	struct passwd	 pw, *pp = NULL;
	struct group	 gr, *gp = NULL;
	char		 buf[4096];

	if (uid != w->uid_cached || w->user[0] == '\0') {
		w->uid_cached = uid;
		if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pp) == 0 &&
		    pp != NULL)
			snprintf(w->user, sizeof(w->user), "%s", pp->pw_name);
		else
			snprintf(w->user, sizeof(w->user), "-");
	}
	if (gid != w->gid_cached || w->group[0] == '\0') {
		w->gid_cached = gid;
		if (getgrgid_r(gid, &gr, buf, sizeof(buf), &gp) == 0 &&
		    gp != NULL)
			snprintf(w->group, sizeof(w->group), "%s", gp->gr_name);
		else
			snprintf(w->group, sizeof(w->group), "-");
	}
}

/* The hard-link group of a file with several names: 0 for none. */
static uint64_t
link_group(struct writer *w, const struct stat *st)
{
	struct seen	*v;
	size_t		 i;

	if (S_ISDIR(st->st_mode) || st->st_nlink < 2)
		return 0;
	for (i = 0; i < w->nseen; i++)
		if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino)
			return w->seen[i].group;
	if (w->nseen == w->seen_cap) {
		size_t	 cap = w->seen_cap == 0 ? 64 : w->seen_cap * 2;

		if ((v = realloc(w->seen, cap * sizeof(*v))) == NULL)
			return 0;	/* then only not linked again */
		w->seen = v;
		w->seen_cap = cap;
	}
	w->seen[w->nseen].dev = st->st_dev;
	w->seen[w->nseen].ino = st->st_ino;
	w->seen[w->nseen].group = ++w->groups;
	return w->seen[w->nseen++].group;
}

/* The xattrs of name in dfd, one "x" line each (POSIX ACLs included:
 * system.posix_acl_access and _default are xattrs). */
static void
write_xattrs(struct writer *w, int dfd, const char *name)
{
	char		 p[64 + NAME_MAX];
	ssize_t		 n, v;
	const char	*k;

	snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", dfd, name);
	if ((n = llistxattr(p, w->names, META_XATTR_LIST_MAX)) <= 0)
		return;
	for (k = w->names; k < w->names + n; k += strlen(k) + 1) {
		if ((v = lgetxattr(p, k, w->value, META_XATTR_VALUE_MAX)) < 0)
			continue;
		fputs("x ", w->f);
		put_escaped(w->f, k, strlen(k));
		putc(' ', w->f);
		if (v == 0)
			putc('-', w->f);
		for (ssize_t i = 0; i < v; i++)
			fprintf(w->f, "%02x", (unsigned char)w->value[i]);
		putc('\n', w->f);
	}
}

static void
write_entry(struct writer *w, int dfd, const char *name,
    const struct stat *st)
{
	uint64_t	 g = link_group(w, st);

	names_of(w, st->st_uid, st->st_gid);
	fprintf(w->f, "e %c %04o %u %u ", type_char(st->st_mode),
	    (unsigned)(st->st_mode & 07777), (unsigned)st->st_uid,
	    (unsigned)st->st_gid);
	put_escaped(w->f, w->user, strlen(w->user));
	putc(' ', w->f);
	put_escaped(w->f, w->group, strlen(w->group));
	fprintf(w->f, " %lld.%09ld ", (long long)st->st_mtim.tv_sec,
	    st->st_mtim.tv_nsec);
	if (g != 0)
		fprintf(w->f, "%" PRIu64, g);
	else
		putc('-', w->f);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		fprintf(w->f, " %u:%u ", major(st->st_rdev), minor(st->st_rdev));
	else
		fputs(" - ", w->f);
	put_escaped(w->f, w->path, w->len);
	putc('\n', w->f);
	write_xattrs(w, dfd, name);
}

static int
path_push(struct writer *w, const char *name)
{
	size_t	 n = strlen(name), need = w->len + 1 + n + 1;
	char	*p;

	if (need > w->cap) {
		if ((p = realloc(w->path, need * 2)) == NULL)
			return error_set(w->err, TS_ENOMEM, "out of memory");
		w->path = p;
		w->cap = need * 2;
	}
	if (w->len > 0)
		w->path[w->len++] = '/';
	memcpy(w->path + w->len, name, n + 1);
	w->len += n;
	return 0;
}

/* Records directory fd (handed over) and all below it. */
static int
write_dir(struct writer *w, int fd)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	size_t		 save = w->len;
	int		 sub, rc = 0;

	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		(*w->skipped)++;
		return 0;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((rc = path_push(w, de->d_name)) != 0)
			break;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) != 0)
			(*w->skipped)++;
		else {
			write_entry(w, dirfd(d), de->d_name, &st);
			if (S_ISDIR(st.st_mode)) {
				sub = openat(dirfd(d), de->d_name, O_RDONLY |
				    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (sub == -1)
					(*w->skipped)++;
				else
					rc = write_dir(w, sub);
			}
		}
		w->len = save;
		w->path[save] = '\0';
	}
	closedir(d);
	return rc;
}

int
meta_write(FILE *f, const char *const *paths, const char *const *bases,
    size_t n, uint64_t *skipped, struct ts_error *err)
{
	struct writer	 w;
	struct stat	 st;
	char		*dir, *slash;
	size_t		 i;
	int		 dfd, fd, rc = 0;

	memset(&w, 0, sizeof(w));
	w.f = f;
	w.skipped = skipped;
	w.err = err;
	*skipped = 0;
	if ((w.names = malloc(META_XATTR_LIST_MAX)) == NULL ||
	    (w.value = malloc(META_XATTR_VALUE_MAX)) == NULL) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	fprintf(f, "treesync-metadata %d\n", META_VERSION);
	for (i = 0; i < n && rc == 0; i++) {
		/* A PATH is what the user named: followed, as backup does. */
		if ((dir = strdup(paths[i])) == NULL) {
			rc = error_set(err, TS_ENOMEM, "out of memory");
			break;
		}
		while (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/')
			dir[strlen(dir) - 1] = '\0';
		if ((slash = strrchr(dir, '/')) == NULL)
			dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		else if (slash == dir)
			dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		else {
			*slash = '\0';
			dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		}
		w.len = 0;
		if (w.path != NULL)
			w.path[0] = '\0';
		/* "": the PATH is the root itself (push --metadata). */
		if (*bases[i] != '\0' && (rc = path_push(&w, bases[i])) != 0) {
			free(dir);
			if (dfd != -1)
				close(dfd);
			break;
		}
		if (dfd == -1 || stat(paths[i], &st) != 0) {
			rc = error_set_errno(err, errno, "local path \"%s\"",
			    paths[i]);
			free(dir);
			if (dfd != -1)
				close(dfd);
			break;
		}
		if (*bases[i] != '\0')
			write_entry(&w, dfd, slash != NULL ? slash + 1 : dir,
			    &st);
		free(dir);
		close(dfd);
		if (S_ISDIR(st.st_mode)) {
			if ((fd = open(paths[i], O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC)) == -1)
				rc = error_set_errno(err, errno, "open \"%s\"",
				    paths[i]);
			else
				rc = write_dir(&w, fd);
		}
	}
	if (rc == 0 && (fflush(f) != 0 || ferror(f)))
		rc = error_set_errno(err, errno, "write the metadata record");
out:
	free(w.path);
	free(w.seen);
	free(w.names);
	free(w.value);
	return rc;
}

int
meta_write_temp(char **out, const char *const *paths,
    const char *const *bases, size_t n, struct ts_error *err)
{
	const char	*tmpdir = getenv("TMPDIR");
	uint64_t	 skipped = 0;
	char		*path;
	FILE		*f;
	int		 fd, rc;

	*out = NULL;
	if (asprintf(&path, "%s/treesync-metadata-XXXXXX", tmpdir != NULL &&
	    *tmpdir != '\0' ? tmpdir : "/tmp") < 0)
		return error_set(err, TS_ENOMEM, "out of memory");
	if ((fd = mkstemp(path)) == -1) {
		rc = error_set_errno(err, errno, "create \"%s\"", path);
		free(path);
		return rc;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		rc = error_set_errno(err, errno, "open \"%s\"", path);
		close(fd);
	} else {
		rc = meta_write(f, paths, bases, n, &skipped, err);
		if (fclose(f) != 0 && rc == 0)
			rc = error_set_errno(err, errno, "write \"%s\"", path);
	}
	if (rc != 0) {
		unlink(path);
		free(path);
		return rc;
	}
	if (skipped > 0)
		log_msg(TS_LOG_WARN, "the metadata record lacks %llu entries "
		    "that could not be read", (unsigned long long)skipped);
	*out = path;
	return 0;
}

/* --- applying ------------------------------------------------------ */

struct xattr {
	char		*name;
	uint8_t		*value;
	size_t		 len;
};

struct ment {
	char		*path;
	char		 type;
	mode_t		 mode;
	uid_t		 uid;
	gid_t		 gid;
	char		*user, *group;
	struct timespec	 mtime;
	uint64_t	 group_id;	/* hard links; 0: none */
	dev_t		 rdev;
	struct xattr	*x;
	size_t		 nx;
};

/* Decodes %XX in place; false on a bad escape. */
static bool
unescape(char *s)
{
	char	*o = s;
	unsigned v;

	for (; *s != '\0'; s++) {
		if (*s != '%') {
			*o++ = *s;
			continue;
		}
		if (sscanf(s + 1, "%2X", &v) != 1 || s[1] == '\0' ||
		    s[2] == '\0')
			return false;
		*o++ = (char)v;
		s += 2;
	}
	*o = '\0';
	return true;
}

/* A path a record may name: relative, no empty, "." or ".." part. */
static bool
path_ok(const char *p)
{
	const char	*c = p;
	size_t		 n;

	if (*p == '\0' || *p == '/')
		return false;
	for (;;) {
		n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (c[n] == '\0')
			return true;
		c += n + 1;
	}
}

static void
ments_free(struct ment *v, size_t n)
{
	size_t	 i, k;

	for (i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].user);
		free(v[i].group);
		for (k = 0; k < v[i].nx; k++) {
			free(v[i].x[k].name);
			free(v[i].x[k].value);
		}
		free(v[i].x);
	}
	free(v);
}

/* Parses one "e" line's fields (after "e ") into m; false if bad. */
static bool
parse_entry(char *line, struct ment *m)
{
	char		*f[10], *save = NULL, *t;
	unsigned	 mode, uid, gid, maj, mnr;
	long long	 sec;
	long		 nsec;
	int		 i;

	for (i = 0, t = strtok_r(line, " ", &save); t != NULL && i < 10;
	    t = strtok_r(NULL, " ", &save))
		f[i++] = t;
	if (i != 10 || t != NULL || strlen(f[0]) != 1 ||
	    strchr("fdlpscb", f[0][0]) == NULL ||
	    sscanf(f[1], "%o", &mode) != 1 || sscanf(f[2], "%u", &uid) != 1 ||
	    sscanf(f[3], "%u", &gid) != 1 ||
	    sscanf(f[6], "%lld.%ld", &sec, &nsec) != 2 || nsec < 0 ||
	    nsec > 999999999 || !unescape(f[4]) || !unescape(f[5]) ||
	    !unescape(f[9]) || !path_ok(f[9]))
		return false;
	m->type = f[0][0];
	m->mode = (mode_t)(mode & 07777);
	m->uid = (uid_t)uid;
	m->gid = (gid_t)gid;
	m->mtime.tv_sec = (time_t)sec;
	m->mtime.tv_nsec = nsec;
	m->group_id = strcmp(f[7], "-") == 0 ? 0 : strtoull(f[7], NULL, 10);
	m->rdev = 0;
	if (strcmp(f[8], "-") != 0) {
		if (sscanf(f[8], "%u:%u", &maj, &mnr) != 2)
			return false;
		m->rdev = makedev(maj, mnr);
	}
	m->user = strcmp(f[4], "-") == 0 ? NULL : strdup(f[4]);
	m->group = strcmp(f[5], "-") == 0 ? NULL : strdup(f[5]);
	m->path = strdup(f[9]);
	return m->path != NULL;
}

static bool
parse_xattr(char *line, struct ment *m)
{
	char		*name = line, *hex = strchr(line, ' ');
	struct xattr	*v, *x;
	size_t		 n, i;
	unsigned	 b;

	if (hex == NULL)
		return false;
	*hex++ = '\0';
	if (!unescape(name) || *name == '\0')
		return false;
	n = strcmp(hex, "-") == 0 ? 0 : strlen(hex) / 2;
	if (n > 0 && strlen(hex) != 2 * n)
		return false;
	if ((v = realloc(m->x, (m->nx + 1) * sizeof(*v))) == NULL)
		return false;
	m->x = v;
	x = &m->x[m->nx];
	if ((x->name = strdup(name)) == NULL ||
	    (x->value = malloc(n + 1)) == NULL) {
		free(x->name);
		return false;
	}
	for (i = 0; i < n; i++) {
		if (sscanf(hex + 2 * i, "%2x", &b) != 1) {
			free(x->name);
			free(x->value);
			return false;
		}
		x->value[i] = (uint8_t)b;
	}
	x->len = n;
	m->nx++;
	return true;
}

/* Reads the whole record; its entries in order, into *out. */
static int
read_record(FILE *f, struct ment **out, size_t *nout, struct ts_error *err)
{
	struct ment	*v = NULL, *nv;
	size_t		 n = 0, cap = 0, lineno = 0, len;
	char		*line = NULL;
	size_t		 lcap = 0;
	ssize_t		 got;
	int		 version;

	*out = NULL;
	*nout = 0;
	while ((got = getline(&line, &lcap, f)) > 0) {
		lineno++;
		len = (size_t)got;
		if (len > META_LINE_MAX)
			goto bad;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (lineno == 1) {
			if (sscanf(line, "treesync-metadata %d", &version) != 1)
				goto bad;
			if (version != META_VERSION) {
				free(line);
				ments_free(v, n);
				return error_set(err, TS_EREMOTE, "metadata record "
				    "of version %d: this treesync reads version "
				    "%d", version, META_VERSION);
			}
			continue;
		}
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (strncmp(line, "e ", 2) == 0) {
			if (n == cap) {
				cap = cap == 0 ? 256 : cap * 2;
				if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
					goto nomem;
				v = nv;
			}
			memset(&v[n], 0, sizeof(v[n]));
			n++;
			if (!parse_entry(line + 2, &v[n - 1]))
				goto bad;
		} else if (strncmp(line, "x ", 2) == 0 && n > 0) {
			if (!parse_xattr(line + 2, &v[n - 1]))
				goto bad;
		} else
			goto bad;
	}
	free(line);
	if (lineno == 0) {
		ments_free(v, n);
		return error_set(err, TS_EREMOTE, "the metadata record is empty");
	}
	*out = v;
	*nout = n;
	return 0;
bad:
	free(line);
	ments_free(v, n);
	return error_set(err, TS_EREMOTE, "metadata record: line %zu is not "
	    "in the expected form", lineno);
nomem:
	free(line);
	ments_free(v, n);
	return error_set(err, TS_ENOMEM, "out of memory");
}

struct applier {
	int			 root_fd;
	const struct meta_apply_opts *o;
	meta_problem_fn		*fn;
	void			*payload;
	uint64_t		 failed;
};

static void
problem(struct applier *a, const char *path, const char *what, int e)
{
	a->failed++;
	if (a->fn != NULL)
		a->fn(path, what, e, a->payload);
}

/* A special file the restore's pull could not bring: made here. */
static void
make_special(struct applier *a, const struct ment *m)
{
	const char	*name;
	struct stat	 st;
	mode_t		 kind;
	int		 dfd;

	if ((dfd = local_open_parent(a->root_fd, m->path, false, &name)) ==
	    -1) {
		problem(a, m->path, "create", errno);
		return;
	}
	kind = m->type == 'p' ? S_IFIFO : m->type == 's' ? S_IFSOCK :
	    m->type == 'c' ? S_IFCHR : S_IFBLK;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (st.st_mode & S_IFMT) == kind && st.st_rdev == m->rdev) {
		close(dfd);
		return;
	}
	if ((kind == S_IFCHR || kind == S_IFBLK) && !a->o->devices) {
		problem(a, m->path, "create a device (only root may)", EPERM);
		close(dfd);
		return;
	}
	if (mknodat(dfd, name, kind | (m->mode & 0777), m->rdev) != 0)
		problem(a, m->path, kind == S_IFIFO ? "create a fifo" :
		    kind == S_IFSOCK ? "create a socket" : "create a device",
		    errno);
	close(dfd);
}

/* The other names of a hard-link group become links to its first. */
static void
join_link(struct applier *a, const struct ment *first, const struct ment *m)
{
	const char	*n1, *n2;
	struct stat	 s1, s2;
	int		 d1, d2 = -1;

	if ((d1 = local_open_parent(a->root_fd, first->path, false, &n1)) ==
	    -1 || (d2 = local_open_parent(a->root_fd, m->path, false, &n2)) ==
	    -1 || fstatat(d1, n1, &s1, AT_SYMLINK_NOFOLLOW) != 0) {
		problem(a, m->path, "hard-link", errno);
		goto out;
	}
	if (fstatat(d2, n2, &s2, AT_SYMLINK_NOFOLLOW) == 0 &&
	    s1.st_dev == s2.st_dev && s1.st_ino == s2.st_ino)
		goto out;		/* linked already */
	if ((unlinkat(d2, n2, 0) != 0 && errno != ENOENT) ||
	    linkat(d1, n1, d2, n2, 0) != 0)
		problem(a, m->path, "hard-link", errno);
out:
	if (d1 != -1)
		close(d1);
	if (d2 != -1)
		close(d2);
}

static uid_t
uid_of(const struct applier *a, const struct ment *m)
{
	struct passwd	 pw, *pp = NULL;
	char		 buf[4096];

	if (!a->o->numeric_ids && m->user != NULL &&
	    getpwnam_r(m->user, &pw, buf, sizeof(buf), &pp) == 0 && pp != NULL)
		return pp->pw_uid;
	return m->uid;
}

static gid_t
gid_of(const struct applier *a, const struct ment *m)
{
	struct group	 gr, *gp = NULL;
	char		 buf[4096];

	if (!a->o->numeric_ids && m->group != NULL &&
	    getgrnam_r(m->group, &gr, buf, sizeof(buf), &gp) == 0 &&
	    gp != NULL)
		return gp->gr_gid;
	return m->gid;
}

/* Owner, xattrs, mode and (but for directories) mtime of one entry, in
 * that order: chown clears set-id bits and capabilities, an ACL sets the
 * group bits of the mode. */
static void
apply_attrs(struct applier *a, const struct ment *m, bool times)
{
	struct timespec	 ts[2];
	struct stat	 st;
	const char	*name;
	char		 p[64 + NAME_MAX];
	uid_t		 uid;
	gid_t		 gid;
	size_t		 k;
	int		 dfd;

	if ((dfd = local_open_parent(a->root_fd, m->path, false, &name)) ==
	    -1 || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		problem(a, m->path, "find it to restore its metadata", errno);
		if (dfd != -1)
			close(dfd);
		return;
	}
	uid = uid_of(a, m);
	gid = gid_of(a, m);
	if (st.st_uid != uid || st.st_gid != gid) {
		if (!a->o->owners)
			problem(a, m->path, "set its owner and group (only root "
			    "may)", EPERM);
		else if (fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
			problem(a, m->path, "set its owner and group", errno);
	}
	snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", dfd, name);
	for (k = 0; k < m->nx; k++)
		if (lsetxattr(p, m->x[k].name, m->x[k].value, m->x[k].len,
		    0) != 0)
			problem(a, m->path, "set an extended attribute", errno);
	if (m->type != 'l' && fchmodat(dfd, name, m->mode, 0) != 0)
		problem(a, m->path, "set its mode", errno);
	if (times) {
		ts[0].tv_sec = 0;
		ts[0].tv_nsec = UTIME_OMIT;
		ts[1] = m->mtime;
		if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) != 0)
			problem(a, m->path, "set its mtime", errno);
	}
	close(dfd);
}

int
meta_apply(FILE *f, int root_fd, const struct meta_apply_opts *o,
    meta_problem_fn *fn, void *payload, uint64_t *applied,
    uint64_t *failed, struct ts_error *err)
{
	struct applier	 a = { root_fd, o, fn, payload, 0 };
	struct ment	*v;
	size_t		 n, i, k;
	int		 rc;

	*applied = *failed = 0;
	if ((rc = read_record(f, &v, &n, err)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		if (strchr("pscb", v[i].type) != NULL)
			make_special(&a, &v[i]);
	/* Groups: the first name of each, then the others linked to it. */
	for (i = 0; i < n; i++) {
		if (v[i].group_id == 0 || v[i].type != 'f')
			continue;
		for (k = 0; k < i; k++)
			if (v[k].group_id == v[i].group_id)
				break;
		if (k < i)
			join_link(&a, &v[k], &v[i]);
	}
	for (i = 0; i < n; i++)
		apply_attrs(&a, &v[i], v[i].type != 'd');
	/* Directories last, deepest first: changes inside set their mtime. */
	for (i = n; i-- > 0; )
		if (v[i].type == 'd') {
			struct timespec	 ts[2];
			const char	*name;
			int		 dfd;

			ts[0].tv_sec = 0;
			ts[0].tv_nsec = UTIME_OMIT;
			ts[1] = v[i].mtime;
			if ((dfd = local_open_parent(root_fd, v[i].path, false,
			    &name)) == -1 || utimensat(dfd, name, ts,
			    AT_SYMLINK_NOFOLLOW) != 0)
				problem(&a, v[i].path, "set its mtime", errno);
			if (dfd != -1)
				close(dfd);
		}
	*applied = n;
	*failed = a.failed;
	ments_free(v, n);
	return 0;
}
