/* A local tree walked once for several pushes (ltree.h). */
#include <string.h>

#include "error.h"
#include "filter.h"
#include "job.h"
#include "ltree.h"

int
ltree_walk(struct ltree *t, const char *dir, const struct ts_sync_opts *opts,
    struct ts_error *err)
{
	static const struct ts_sync_opts defaults = TS_SYNC_OPTS_INIT;
	struct walk_opts	 wo = WALK_OPTS_INIT;
	struct filter		 f;
	int			 rc;

	if (opts == NULL)
		opts = &defaults;
	entries_init(&t->src);
	walk_problems_init(&t->problems);
	if ((rc = job_filter_build(&f, opts, err)) == 0) {
		wo.follow_links = opts->copy_links;
		wo.filter = &f;
		rc = walk_local(&t->src, dir, &wo, &t->problems, err);
	}
	filter_dispose(&f);
	return rc;
}

int
ltree_copy(struct entries *out, const struct ltree *t, struct ts_error *err)
{
	const struct entry	*e;
	size_t			 i;
	int			 rc;

	for (i = 0; i < t->src.n; i++) {
		e = &t->src.v[i];
		if ((rc = entries_add(out, e->path, (enum entry_type)e->type,
		    e->size, e->mtime_ns, e->mode, e->link, err)) != 0)
			return rc;
		/* What the walk knew beyond the names: the inode (checked
		 * when the file is opened), owner, hard-link group. */
		out->v[out->n - 1].flags = e->flags;
		out->v[out->n - 1].ino = e->ino;
		out->v[out->n - 1].uid = e->uid;
		out->v[out->n - 1].gid = e->gid;
		out->v[out->n - 1].link_group = e->link_group;
	}
	out->incomplete_root = t->src.incomplete_root;
	return entries_sort(out, err);
}

void
ltree_dispose(struct ltree *t)
{
	entries_dispose(&t->src);
	walk_problems_dispose(&t->problems);
}
