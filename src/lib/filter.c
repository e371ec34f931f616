#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "filter.h"

struct filter_rule {
	char		*pat;		/* leading '/', trailing '/' removed */
	uint8_t		 kind;		/* enum filter_kind */
	bool		 dir_only;	/* had a trailing '/' */
	bool		 anchored;	/* had a leading '/' */
	bool		 whole;		/* about whole paths, not names */
};

void
filter_init(struct filter *f)
{
	f->rules = NULL;
	f->n = f->cap = 0;
	f->only = NULL;
	f->nonly = 0;
}

void
filter_dispose(struct filter *f)
{
	size_t	 i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++)
		free(f->rules[i].pat);
	free(f->rules);
	for (i = 0; i < f->nonly; i++)
		free(f->only[i]);
	free(f->only);
	filter_init(f);
}

/*
 * Scans the class starting at p (just past its '[') and says in *hit
 * whether c is in it.  Returns the closing ']', or NULL when there is none
 * (filter_add refuses such patterns; filter_match treats them as no match).
 */
static const unsigned char *
class_scan(const unsigned char *p, unsigned char c, bool *hit)
{
	bool		 neg = false, in = false;
	unsigned char	 lo, hi;

	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	/* A ']' first is a member, not the end. */
	for (bool first = true; first || *p != ']'; first = false) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		if (*p == '\0')
			return NULL;
		lo = hi = *p++;
		if (*p == '-' && p[1] != ']' && p[1] != '\0') {
			p++;
			if (*p == '\\' && p[1] != '\0')
				p++;
			hi = *p++;
		}
		if (lo <= c && c <= hi)
			in = true;
	}
	*hit = in != neg;
	return p;
}

/*
 * The matcher, after rsync's wildmatch.c: besides "match" and "no match",
 * a failed attempt may say that no later start can match either (text ran
 * out: ABORT_ALL) or that only a "**" further out could (a single '*' hit
 * a '/': ABORT_TO_STARSTAR).  Those cut the backtracking, so patterns like
 * "*a*a*a*b" stay polynomial instead of exponential.
 */
enum { M_FALSE, M_TRUE, M_ABORT_ALL, M_ABORT_TO_STARSTAR };

static int
dowild(const unsigned char *p, const unsigned char *t,
    const unsigned char *start)
{
	const unsigned char *star;
	bool		 special, hit;
	int		 m;

	for (; *p != '\0'; p++, t++) {
		/* "d" then slash, "***": d itself, or anything in it. */
		if (*t == '\0' && strcmp((const char *)p, "/***") == 0)
			return M_TRUE;
		if (*t == '\0' && *p != '*')
			return M_ABORT_ALL;
		switch (*p) {
		case '\\':
			if (p[1] != '\0')	/* a trailing '\\' is itself */
				p++;
			/* FALLTHROUGH */
		default:
			if (*t != *p)
				return M_FALSE;
			break;
		case '?':
			if (*t == '/')
				return M_FALSE;
			break;
		case '[':
			if ((p = class_scan(p + 1, *t, &hit)) == NULL)
				return M_ABORT_ALL;
			if (*t == '/' || !hit)
				return M_FALSE;
			break;
		case '*':
			star = p;
			while (p[1] == '*')
				p++;
			special = p > star;	/* "**" crosses '/' */
			p++;
			/* "**" between slashes may also match no directory:
			 * "a/" "**" "/b" matches "a/b". */
			if (special && (star == start || star[-1] == '/') &&
			    *p == '/') {
				/* Text that runs out here runs out for the
				 * loop below too: an input of many such
				 * stars backtracked for ever without this. */
				m = dowild(p + 1, t, start);
				if (m == M_TRUE || m == M_ABORT_ALL)
					return m;
			}
			if (*p == '\0') {
				if (special || strchr((const char *)t, '/') == NULL)
					return M_TRUE;
				return M_FALSE;
			}
			for (;;) {
				m = dowild(p, t, start);
				if (m == M_TRUE || m == M_ABORT_ALL ||
				    (m == M_ABORT_TO_STARSTAR && !special))
					return m;
				if (m == M_FALSE && !special && *t == '/')
					return M_ABORT_TO_STARSTAR;
				if (*t == '\0')
					return M_ABORT_ALL;
				t++;
			}
		}
	}
	return *t == '\0' ? M_TRUE : M_FALSE;
}

bool
filter_match(const char *pattern, const char *text)
{
	const unsigned char *p = (const unsigned char *)pattern;

	return dowild(p, (const unsigned char *)text, p) == M_TRUE;
}

/* Returns NULL if pattern (leading and trailing '/' removed) is usable, or
 * what is wrong with it. */
static const char *
pattern_problem(const char *p)
{
	const unsigned char *cls;
	bool		 hit;
	int		 stars = 0;

	if (*p == '\0')
		return "empty pattern";
	for (; *p != '\0'; p++) {
		/* Each run of '*' multiplies the ways a match is tried: with
		 * hundreds of "**" runs (fuzz_filter found one) a single
		 * path took seconds.  No real pattern comes near the limit. */
		if (*p == '*' && p[1] != '*' && ++stars > FILTER_MAX_STARS)
			return "too many '*' runs";
		if (*p == '\\') {
			if (*++p == '\0')
				return "'\\' at the end";
		} else if (*p == '[') {
			cls = class_scan((const unsigned char *)p + 1, 0, &hit);
			if (cls == NULL)
				return "no ']' for '['";
			p = (const char *)cls;
		}
	}
	return NULL;
}

int
filter_add(struct filter *f, enum filter_kind kind, const char *pattern,
    struct ts_error *err)
{
	struct filter_rule *r, *v;
	const char	*p = pattern, *why;
	size_t		 n, cap;
	char		*pat;

	if (f->n == f->cap) {
		if (f->cap >= FILTER_MAX_RULES)
			return error_set(err, TS_EINVAL, "more than %d filter "
			    "rules", FILTER_MAX_RULES);
		cap = f->cap == 0 ? 16 : f->cap * 2;
		if ((v = realloc(f->rules, cap * sizeof(*v))) == NULL)
			return error_set(err, TS_ENOMEM, "out of memory");
		f->rules = v;
		f->cap = cap;
	}
	r = &f->rules[f->n];
	memset(r, 0, sizeof(*r));
	r->kind = (uint8_t)kind;
	if (*p == '/') {
		r->anchored = true;
		p++;
	}
	n = strlen(p);
	if (n > 0 && p[n - 1] == '/' && (n < 2 || p[n - 2] != '\\')) {
		r->dir_only = true;
		n--;
	}
	if ((pat = strndup(p, n)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if ((why = pattern_problem(pat)) != NULL) {
		free(pat);
		return error_set(err, TS_EINVAL, "bad pattern \"%s\": %s",
		    pattern, why);
	}
	r->pat = pat;
	/* rsync's rule: with a '/' or a "**", the pattern is about paths;
	 * otherwise it is about names. */
	r->whole = strchr(pat, '/') != NULL || strstr(pat, "**") != NULL;
	f->n++;
	return 0;
}

int
filter_add_text(struct filter *f, const char *name, const char *text,
    size_t len, struct ts_error *err)
{
	struct ts_error	 e = { 0 };
	const char	*line = text, *end = text + len, *nl;
	enum filter_kind kind;
	size_t		 n, lineno = 0;
	char		*s;
	int		 rc;

	for (; line < end; line = nl + 1) {
		lineno++;
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		n = (size_t)(nl - line);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0 || line[0] == '#' || line[0] == ';')
			continue;
		kind = FILTER_EXCLUDE;
		if (n >= 2 && (line[0] == '+' || line[0] == '-') &&
		    line[1] == ' ') {
			kind = line[0] == '+' ? FILTER_INCLUDE : FILTER_EXCLUDE;
			line += 2;
			n -= 2;
		}
		if ((s = strndup(line, n)) == NULL)
			return error_set(err, TS_ENOMEM, "out of memory");
		rc = filter_add(f, kind, s, &e);
		free(s);
		if (rc != 0)
			return error_set(err, rc, "exclude file \"%s\", "
			    "line %zu: %s", name, lineno, e.msg);
	}
	return 0;
}

/* Reads all of path (at most FILTER_MAX_FILE bytes) into *out, which the
 * caller frees; what names the file in messages ("exclude file"). */
static int
read_whole(const char *path, const char *what, char **out, size_t *outlen,
    struct ts_error *err)
{
	char	*text = NULL, *p;
	size_t	 len = 0, cap = 0;
	ssize_t	 r;
	int	 fd, rc = 0;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return error_set_errno(err, errno, "open %s \"%s\"", what,
		    path);
	for (;;) {
		if (len == cap) {
			if (cap >= FILTER_MAX_FILE) {
				rc = error_set(err, TS_EINVAL, "%s \"%s\" is "
				    "larger than %d bytes", what, path,
				    FILTER_MAX_FILE);
				goto out;
			}
			cap = cap == 0 ? 4096 : cap * 2;
			if ((p = realloc(text, cap)) == NULL) {
				rc = error_set(err, TS_ENOMEM, "out of memory");
				goto out;
			}
			text = p;
		}
		if ((r = read(fd, text + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			rc = error_set_errno(err, errno, "read %s \"%s\"",
			    what, path);
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	*out = text;
	*outlen = len;
	text = NULL;	/* transferred */
out:
	free(text);
	close(fd);
	return rc;
}

int
filter_add_file(struct filter *f, const char *path, struct ts_error *err)
{
	char	*text;
	size_t	 len;
	int	 rc;

	if ((rc = read_whole(path, "exclude file", &text, &len, err)) != 0)
		return rc;
	rc = filter_add_text(f, path, text, len, err);
	free(text);
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * One name of a --files-from list made relative to the root, in place:
 * leading '/' and "." components and repeated or trailing '/' go, as
 * rsync reads them.  Returns NULL for a ".." component (it would leave
 * the tree), else s; "" for the root itself.
 */
static char *
only_clean(char *s)
{
	char	*r = s, *w = s, *c;
	size_t	 n;

	while (*r != '\0') {
		while (*r == '/')
			r++;
		if (*r == '\0')
			break;
		c = r;
		while (*r != '\0' && *r != '/')
			r++;
		n = (size_t)(r - c);
		if (n == 1 && c[0] == '.')
			continue;
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return NULL;
		if (w != s)
			*w++ = '/';
		memmove(w, c, n);
		w += n;
	}
	*w = '\0';
	return s;
}

int
filter_add_only_text(struct filter *f, const char *name, const char *text,
    size_t len, bool nul_sep, struct ts_error *err)
{
	const char	*line = text, *end = text + len, *nl;
	char		**v, *s;
	size_t		 n, cap = f->nonly, lineno = 0, i, k;

	for (; line < end; line = nl + 1) {
		lineno++;
		if ((nl = memchr(line, nul_sep ? '\0' : '\n',
		    (size_t)(end - line))) == NULL)
			nl = end;
		n = (size_t)(nl - line);
		if (!nul_sep && n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		if ((s = strndup(line, n)) == NULL)
			return error_set(err, TS_ENOMEM, "out of memory");
		if (memchr(line, '\0', n) != NULL || only_clean(s) == NULL) {
			free(s);
			return error_set(err, TS_EINVAL, "--files-from \"%s\", "
			    "%s %zu: a name with \"..\" or a NUL (-0?)",
			    name, nul_sep ? "name" : "line", lineno);
		}
		if (f->nonly == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((v = realloc(f->only, cap * sizeof(*v))) == NULL) {
				free(s);
				return error_set(err, TS_ENOMEM,
				    "out of memory");
			}
			f->only = v;
		}
		f->only[f->nonly++] = s;
	}
	if (f->nonly == 0)	/* an empty list: nothing, not everything */
		return error_set(err, TS_EINVAL, "--files-from \"%s\" names "
		    "no file", name);
	/* Sorted and unique, for the binary searches of only_covers. */
	qsort(f->only, f->nonly, sizeof(*f->only), cmp_str);
	for (i = k = 0; i < f->nonly; i++) {
		if (k > 0 && strcmp(f->only[k - 1], f->only[i]) == 0)
			free(f->only[i]);
		else
			f->only[k++] = f->only[i];
	}
	f->nonly = k;
	return 0;
}

int
filter_add_only_file(struct filter *f, const char *path, bool nul_sep,
    struct ts_error *err)
{
	char	*text;
	size_t	 len;
	int	 rc;

	if ((rc = read_whole(path, "--files-from file", &text, &len,
	    err)) != 0)
		return rc;
	rc = filter_add_only_text(f, path, text, len, nul_sep, err);
	free(text);
	return rc;
}

/* Whether the --files-from list has s[0..n) (first is 0), or, with dir,
 * something under it (first is the first name after "s/"). */
static bool
only_has(const struct filter *f, const char *s, size_t n, bool under)
{
	size_t	 lo = 0, hi = f->nonly, mid;
	int	 c;

	while (lo < hi) {	/* the first name >= s[0..n), then "/" */
		mid = lo + (hi - lo) / 2;
		c = strncmp(f->only[mid], s, n);
		if (c == 0)
			c = under ? (unsigned char)f->only[mid][n] - '/' :
			    f->only[mid][n] != '\0';
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == f->nonly || strncmp(f->only[lo], s, n) != 0)
		return false;
	return under ? f->only[lo][n] == '/' : f->only[lo][n] == '\0';
}

/* Whether path is in the --files-from list, under a name in it, or (a
 * directory) on the way to one. */
static bool
only_covers(const struct filter *f, const char *path, bool is_dir)
{
	const char	*p;

	if (f->nonly == 0 || f->only[0][0] == '\0')
		return true;		/* none, or the root: all of it */
	for (p = path;; p++) {
		p = strchr(p, '/');
		if (only_has(f, path, p != NULL ? (size_t)(p - path) :
		    strlen(path), false))
			return true;
		if (p == NULL)
			break;
	}
	return is_dir && only_has(f, path, strlen(path), true);
}

/* Whether rule r matches path (the dir-only test is done by the caller). */
static bool
rule_match(const struct filter_rule *r, const char *path)
{
	const char	*t;

	if (r->anchored)
		return filter_match(r->pat, path);
	if (!r->whole) {
		t = strrchr(path, '/');
		return filter_match(r->pat, t != NULL ? t + 1 : path);
	}
	/* Unanchored path pattern: the whole path or any tail of it that
	 * starts a component. */
	for (t = path;; t++) {
		if (filter_match(r->pat, t))
			return true;
		if ((t = strchr(t, '/')) == NULL)
			return false;
	}
}

bool
filter_excluded(const struct filter *f, const char *path, bool is_dir)
{
	size_t	 i;

	if (f == NULL)
		return false;
	if (!only_covers(f, path, is_dir))
		return true;
	for (i = 0; i < f->n; i++) {
		if (f->rules[i].dir_only && !is_dir)
			continue;
		if (rule_match(&f->rules[i], path))
			return f->rules[i].kind == FILTER_EXCLUDE;
	}
	return false;
}
