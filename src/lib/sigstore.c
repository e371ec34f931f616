/*
 * The signature store on disk (see sigstore.h):
 *
 *	DIR/sig/<the content's key>		its signature (delta.c)
 *	DIR/idx/<sha256 of name, size, mtime>	that content's hash
 *
 * Every file is written under a temporary name and renamed into place,
 * so runs at once (threads or processes) never see half of one.  The
 * mtime of a signature is when it was last used: pruning removes the
 * oldest until the store is within its bound.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "sigstore.h"
#include "tempname.h"

struct sigstore {
	char		*dir;
	uint64_t	 max_bytes;
	pthread_mutex_t	 prune_mu;	/* one prune at a time per process */
};

/* mkdir -p of path, which is changed and restored. */
static int
mkdirs(char *path, struct ts_error *err)
{
	char	*p;

	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char	 c = *p;

		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			int	 rc = error_set_errno(err, errno, "create the "
			    "cache directory \"%s\"", path);

			*p = c;
			return rc;
		}
		*p = c;
		if (c == '\0')
			return 0;
	}
}

int
sigstore_open(struct sigstore **out, const char *dir, uint64_t max_bytes,
    struct ts_error *err)
{
	struct sigstore	*st;
	char		 path[PATH_MAX];
	int		 rc;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->dir = strdup(dir)) == NULL) {
		free(st);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	st->max_bytes = max_bytes;
	pthread_mutex_init(&st->prune_mu, NULL);
	snprintf(path, sizeof(path), "%s/sig", dir);
	if ((rc = mkdirs(path, err)) != 0) {
		sigstore_free(st);
		return rc;
	}
	snprintf(path, sizeof(path), "%s/idx", dir);
	if ((rc = mkdirs(path, err)) != 0) {
		sigstore_free(st);
		return rc;
	}
	*out = st;
	return 0;
}

void
sigstore_free(struct sigstore *st)
{
	if (st == NULL)
		return;
	pthread_mutex_destroy(&st->prune_mu);
	free(st->dir);
	free(st);
}

/* DIR/idx/<key>: the key hashes the three so any name fits, and the
 * signature format, so that records of librsync's signatures (what
 * treesync wrote before delta.c had its own) are not found: such a file
 * goes whole once more, and the store prunes the old signatures. */
static void
idx_path(const struct sigstore *st, const char *name, uint64_t size,
    int64_t mtime, char path[PATH_MAX])
{
	struct hash	 h;
	char		 hex[HASH_HEX_MAX], num[64];

	hash_init(&h, HASH_SHA256);
	hash_update(&h, name, strlen(name) + 1);
	snprintf(num, sizeof(num), "%llu %lld tsd1", (unsigned long long)size,
	    (long long)mtime);
	hash_update(&h, num, strlen(num));
	hash_final(&h, hex);
	hash_dispose(&h);
	snprintf(path, PATH_MAX, "%s/idx/%s", st->dir, hex);
}

static bool
is_hex64(const char *s)
{
	size_t	 i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return false;
	return s[64] == '\0';
}

int
sigstore_find(struct sigstore *st, const char *name, uint64_t size,
    int64_t mtime, FILE **sig, char content[HASH_HEX_MAX])
{
	char	 path[PATH_MAX], line[128];
	FILE	*f;
	size_t	 n;

	*sig = NULL;
	content[0] = '\0';
	idx_path(st, name, size, mtime, path);
	if ((f = fopen(path, "re")) == NULL)
		return TS_ENOENT;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	if (!is_hex64(line))
		return TS_ENOENT;
	snprintf(path, sizeof(path), "%s/sig/%s", st->dir, line);
	if ((*sig = fopen(path, "rbe")) == NULL)
		return TS_ENOENT;
	strcpy(content, line);
	utimensat(AT_FDCWD, path, NULL, 0);	/* used now: LRU */
	return 0;
}

int
sigstore_begin(struct sigstore *st, FILE **f, char **tmp,
    struct ts_error *err)
{
	char	 path[PATH_MAX];
	int	 fd;

	*f = NULL;
	snprintf(path, sizeof(path), "%s/sig/new", st->dir);
	if (tempname_make(tmp, path, TEMPNAME_TMP) != 0)
		return error_set(err, TS_ENOMEM, "out of memory");
	if ((fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1 || (*f = fdopen(fd, "wb")) == NULL) {
		int	 rc = error_set_errno(err, errno, "create \"%s\"", *tmp);

		if (fd != -1) {
			close(fd);
			unlink(*tmp);
		}
		free(*tmp);
		*tmp = NULL;
		return rc;
	}
	return 0;
}

void
sigstore_abort(struct sigstore *st, FILE *f, char *tmp)
{
	(void)st;
	if (f != NULL)
		fclose(f);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
}

/* Removes the least recently used signatures until the store is within
 * its bound, and temporary files of runs that ended. */
static void
sigstore_prune(struct sigstore *st)
{
	struct ent {
		char	 name[TEMPNAME_NAME_MAX + 1];
		time_t	 used;
		off_t	 size;
	}		*v = NULL, *nv;
	struct tempname_info ti;
	struct dirent	*de;
	struct stat	 sb;
	DIR		*d;
	char		 path[PATH_MAX];
	size_t		 n = 0, cap = 0, i, oldest;
	uint64_t	 total = 0;
	int		 dfd;

	pthread_mutex_lock(&st->prune_mu);
	snprintf(path, sizeof(path), "%s/sig", st->dir);
	if ((d = opendir(path)) == NULL)
		goto out;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && tempname_parse(de->d_name, &ti)) {
			if (tempname_is_orphan(&ti, time(NULL)))
				unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (!is_hex64(de->d_name) || fstatat(dfd, de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 64;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				break;
			v = nv;
		}
		strcpy(v[n].name, de->d_name);
		v[n].used = sb.st_mtime;
		v[n].size = sb.st_size;
		total += (uint64_t)sb.st_size;
		n++;
	}
	while (total > st->max_bytes && n > 0) {
		for (oldest = 0, i = 1; i < n; i++)
			if (v[i].used < v[oldest].used)
				oldest = i;
		if (unlinkat(dfd, v[oldest].name, 0) == 0)
			log_msg(TS_LOG_DEBUG, "signature store: dropped %s, "
			    "the least recently used", v[oldest].name);
		total -= (uint64_t)v[oldest].size;
		v[oldest] = v[--n];
	}
	closedir(d);
out:
	pthread_mutex_unlock(&st->prune_mu);
	free(v);
}

/* Writes text to path through a temporary name. */
static int
write_atomic(const char *path, const char *text)
{
	char	*tmp = NULL;
	size_t	 len = strlen(text);
	int	 fd, rc = -1;

	if (tempname_make(&tmp, path, TEMPNAME_TMP) != 0)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) != -1) {
		if (write(fd, text, len) == (ssize_t)len && close(fd) == 0)
			rc = rename(tmp, path);
		else
			close(fd);
		if (rc != 0)
			unlink(tmp);
	}
	free(tmp);
	return rc;
}

int
sigstore_keep(struct sigstore *st, FILE *f, char *tmp, const char *content)
{
	char	 path[PATH_MAX];
	bool	 ok;

	ok = fflush(f) == 0 && !ferror(f);
	ok = fclose(f) == 0 && ok;
	snprintf(path, sizeof(path), "%s/sig/%s", st->dir, content);
	if (!ok || !is_hex64(content) || rename(tmp, path) != 0) {
		log_msg(TS_LOG_WARN, "signature store: could not keep a "
		    "signature: %s", strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

void
sigstore_record(struct sigstore *st, const char *name, uint64_t size,
    int64_t mtime, const char *content)
{
	char	 path[PATH_MAX], line[HASH_HEX_MAX + 1];

	idx_path(st, name, size, mtime, path);
	snprintf(line, sizeof(line), "%s\n", content);
	if (write_atomic(path, line) != 0)
		log_msg(TS_LOG_WARN, "signature store: could not record \"%s\": "
		    "%s", name, strerror(errno));
	sigstore_prune(st);
}

void
sigstore_commit(struct sigstore *st, FILE *f, char *tmp, const char *name,
    uint64_t size, int64_t mtime, const char *content)
{
	if (sigstore_keep(st, f, tmp, content) == 0)
		sigstore_record(st, name, size, mtime, content);
}

int
sigstore_find_content(struct sigstore *st, const char *prefix, FILE **sig,
    char content[HASH_HEX_MAX])
{
	struct dirent	*de;
	DIR		*d;
	char		 path[PATH_MAX];
	size_t		 n = strlen(prefix);

	*sig = NULL;
	content[0] = '\0';
	snprintf(path, sizeof(path), "%s/sig", st->dir);
	if ((d = opendir(path)) == NULL)
		return TS_ENOENT;
	while ((de = readdir(d)) != NULL)
		if (is_hex64(de->d_name) && strncmp(de->d_name, prefix,
		    n) == 0) {
			strcpy(content, de->d_name);
			break;
		}
	closedir(d);
	if (content[0] == '\0')
		return TS_ENOENT;
	snprintf(path, sizeof(path), "%s/sig/%s", st->dir, content);
	if ((*sig = fopen(path, "rbe")) == NULL)
		return TS_ENOENT;
	utimensat(AT_FDCWD, path, NULL, 0);	/* used now: LRU */
	return 0;
}

void
sigstore_forget(struct sigstore *st, const char *name, uint64_t size,
    int64_t mtime, const char *content)
{
	char	 path[PATH_MAX];

	idx_path(st, name, size, mtime, path);
	unlink(path);
	if (content != NULL && is_hex64(content)) {
		snprintf(path, sizeof(path), "%s/sig/%s", st->dir, content);
		unlink(path);
	}
}
