/*
 * Include/exclude rules, as rsync's --exclude, --include and
 * --exclude-from.  Paths are relative to the transfer root ("a/b.txt").
 *
 * Patterns:
 *   *        any run of characters except '/'
 *   **       any run of characters, '/' included; between slashes it may
 *            also match no directory at all, as in git: "a/" "**" "/b"
 *            matches "a/b" (the C comment can't show that pattern whole)
 *   ?        one character except '/'
 *   [a-z]    one character (not '/') of a class; "[!..]" or "[^..]" negates;
 *            a ']' right after '[' (or its '!'/'^') is literal
 *   \c       the character c itself
 *   /p       a leading '/' anchors p to the root: it matches the whole path
 *   p/       a trailing '/' matches directories only
 *   d/ ***   (no space) the directory d and everything in it
 * A pattern without '/' (a trailing one aside) and without "**" matches the
 * last component at any depth ("*.o" matches "x/y.o").  Any other pattern
 * matches the whole path or its end at a component boundary ("b/c" matches
 * "b/c" and "a/b/c", not "ab/c").
 *
 * Rules are tried in order; the first that matches decides.  No match
 * means included.  An excluded directory hides everything under it: the
 * walkers don't descend, and the planner skips its contents.
 *
 * Pure but for filter_add_file() and filter_add_only_file(), which read
 * one file.
 */
#ifndef TS_FILTER_H
#define TS_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "treesync.h"

enum filter_kind {
	FILTER_EXCLUDE,
	FILTER_INCLUDE,
};

struct filter_rule;

struct filter {
	struct filter_rule *rules;	/* rules[0..n), in order */
	size_t		 n, cap;
	char		**only;		/* --files-from: sorted, unique */
	size_t		 nonly;		/* 0: no list */
};

#define FILTER_MAX_RULES	100000
#define FILTER_MAX_STARS	16	/* runs of '*' in one pattern */
#define FILTER_MAX_FILE		(16 * 1024 * 1024)	/* --exclude-from */

void	filter_init(struct filter *f);
void	filter_dispose(struct filter *f);	/* zeroed or NULL is fine */

/* Appends a rule; TS_EINVAL for an empty pattern, a '[' without its ']',
 * a trailing '\' or more than FILTER_MAX_STARS runs of '*'.  pattern is
 * copied. */
int	filter_add(struct filter *f, enum filter_kind kind,
	    const char *pattern, struct ts_error *err);

/*
 * Appends the rules of an --exclude-from text of len bytes: one pattern a
 * line, excludes unless the line starts with "+ " (include) or "- "
 * (exclude); blank lines and lines starting with '#' or ';' are skipped;
 * a '\r' before the '\n' is dropped.  Errors name the line:
 * "exclude file \"x\", line 3: ..." with name as given.
 */
int	filter_add_text(struct filter *f, const char *name, const char *text,
	    size_t len, struct ts_error *err);

/* Reads file path (at most FILTER_MAX_FILE bytes) as filter_add_text. */
int	filter_add_file(struct filter *f, const char *path,
	    struct ts_error *err);

/*
 * rsync's --files-from, as rsync -r reads it: only the names listed (one
 * a line, or NUL-separated with nul_sep; relative to the root, a leading
 * '/' and "." components ignored; blank lines skipped), everything under
 * a listed directory, and the directories on the way to them are in the
 * tree; every other path is excluded, before any rule is tried.  The
 * rules still apply to what the list lets through.  TS_EINVAL for a name
 * with a ".." component (or, without nul_sep, a NUL), or a list of no
 * name at all.  Can be called again: the lists add up.
 */
int	filter_add_only_text(struct filter *f, const char *name,
	    const char *text, size_t len, bool nul_sep, struct ts_error *err);
/* Reads file path (at most FILTER_MAX_FILE bytes) as filter_add_only_text. */
int	filter_add_only_file(struct filter *f, const char *path, bool nul_sep,
	    struct ts_error *err);

/*
 * Whether path, a directory if is_dir, is excluded by the rules alone.
 * It doesn't look at the parents: callers that walk top-down skip the
 * contents of an excluded directory themselves.  f may be NULL (nothing
 * is excluded).
 */
bool	filter_excluded(const struct filter *f, const char *path, bool is_dir);

/* Whether pattern (no anchoring, no trailing-'/' rule) matches all of
 * text; exposed for tests. */
bool	filter_match(const char *pattern, const char *text);

#endif
