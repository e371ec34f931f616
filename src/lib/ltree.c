/* A local tree walked once for several pushes (ltree.h), or walked
 * while the connection opens (ts_tree_walk). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "filter.h"
#include "job.h"
#include "ltree.h"
#include "version.h"

struct ts_tree {
	struct ltree	 lt;
};

int
ltree_walk(struct ltree *t, const char *dir, const struct ts_sync_opts *opts,
    struct ts_error *err)
{
	static const struct ts_sync_opts defaults = TS_SYNC_OPTS_INIT;
	struct walk_opts	 wo = WALK_OPTS_INIT;
	struct filter		 f;
	struct stat		 st;
	int			 rc;

	if (opts == NULL)
		opts = &defaults;
	entries_init(&t->src);
	walk_problems_init(&t->problems);
	t->root_mtime_ns = -1;
	/* Opened first, so that its mtime is from before the listing; a
	 * root that cannot be opened is walked by name, for its error. */
	if ((t->root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1 && fstat(t->root_fd, &st) == 0)
		t->root_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
		    st.st_mtim.tv_nsec;
	if ((rc = job_filter_build(&f, opts, err)) == 0) {
		wo.follow_links = opts->copy_links;
		wo.filter = &f;
		wo.hard_links = opts->hard_links;
		wo.root_fd = t->root_fd;
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
	if (t->root_fd != -1)
		close(t->root_fd);
	t->root_fd = -1;
}

int
ts_tree_walk(struct ts_tree **out, const char *local_dir,
    const struct ts_sync_opts *opts, struct ts_error *err)
{
	struct ts_tree	*t;

	*out = NULL;
	if (opts != NULL && version_check_opts(opts->version,
	    TS_SYNC_OPTS_VERSION, "ts_sync_opts", err) != 0)
		return TS_EINVAL;
	if ((t = malloc(sizeof(*t))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if (ltree_walk(&t->lt, local_dir, opts, err) != 0) {
		ltree_dispose(&t->lt);
		free(t);
		return err != NULL ? err->code : TS_ERROR;
	}
	*out = t;
	return 0;
}

void
ts_tree_free(struct ts_tree *t)
{
	if (t == NULL)
		return;
	ltree_dispose(&t->lt);
	free(t);
}

int
ts_push_walked(struct ts_summary *out, struct ts_conn *c,
    const struct ts_tree *t, const char *local_dir, const char *remote_dir,
    const struct ts_sync_opts *opts, ts_item_fn *fn, void *payload,
    struct ts_error *err)
{
	if (opts != NULL && version_check_opts(opts->version,
	    TS_SYNC_OPTS_VERSION, "ts_sync_opts", err) != 0)
		return TS_EINVAL;
	return job_push_tree(out, c, &t->lt, local_dir, remote_dir, opts, fn,
	    payload, err);
}
