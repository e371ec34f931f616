/*
 * A local tree walked once for several pushes of it (publish to several
 * servers): every push plans against the same entries, and the walk's
 * problems (unreadable files) are reported by each push as its own.
 */
#ifndef TS_LTREE_H
#define TS_LTREE_H

#include "entries.h"
#include "treesync.h"
#include "walk_local.h"

struct ltree {
	struct entries	 src;
	struct walk_problems problems;
	int		 root_fd;	/* the directory walked, or -1: a
					 * push opens its files from it */
	int64_t		 root_mtime_ns;	/* its mtime before the walk, or -1
					 * (a delete checks it is unchanged) */
};

/* Walks dir as ts_push with opts would (its rules, -L, -H).  t is set
 * up either way: ltree_dispose it. */
int	ltree_walk(struct ltree *t, const char *dir,
	    const struct ts_sync_opts *opts, struct ts_error *err);
/* Copies the entries into out (empty, entries_init), sorted: a push owns
 * and may change its list (hashes). */
int	ltree_copy(struct entries *out, const struct ltree *t,
	    struct ts_error *err);
void	ltree_dispose(struct ltree *t);

#endif
