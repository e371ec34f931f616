/*
 * Names that differ only in case: distinct on most servers, one name on
 * servers whose file system folds case (Windows, macOS, some NAS).  There,
 * pushing "A.txt" and "a.txt" would write one over the other; a push finds
 * such pairs in the local tree first and, only when there are some, asks
 * the server whether its names fold case.
 */
#ifndef TS_CASECLASH_H
#define TS_CASECLASH_H

#include <stdbool.h>
#include <stddef.h>

#include "entries.h"
#include "sftp.h"

/* One entry that clashes with an earlier one (keep) of the same list. */
struct case_clash {
	size_t		 idx;		/* the entry left out */
	size_t		 keep;		/* the entry it clashes with */
};

/*
 * Finds the entries of l (sorted) whose path equals an earlier entry's but
 * for ASCII case; the first of each group (in list order) is kept.  An
 * entry inside a directory that is itself left out is not listed (it goes
 * with the directory).  *out (caller frees) gets *n of them, in list order.
 * XXX Only ASCII letters fold: servers folding Unicode case fold more.
 */
int	case_clashes(const struct entries *l, struct case_clash **out,
	    size_t *n, struct ts_error *err);

/*
 * Whether names on s fold case.  Without writing: when existing (a path on
 * the server) is given, other (the same path in other case) is looked up.
 * Else, with may_write, a temporary file is made in dir, looked up in
 * other case, and removed.  *out is 1 (folds), 0 (does not), or -1 when it
 * could not be told.  Returns 0, or the session's failure.
 */
int	case_folds(struct sftp *s, const char *existing, const char *other,
	    const char *dir, bool may_write, int *out, struct ts_error *err);

#endif
