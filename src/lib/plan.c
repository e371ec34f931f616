#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "plan.h"

#define NS_PER_SEC	1000000000LL

/*
 * A source directory the merge is inside of.  Its setattr waits until the
 * merge leaves it, when all that happens inside it is known (phase 3).
 */
struct frame {
	const struct entry *src;
	const struct entry *dst;	/* NULL when created by this plan */
	uint8_t		 attrs;		/* ATTR_* that differed to begin with */
	bool		 dirty;		/* a direct child created or removed */
};

struct planner {
	const struct entries *S, *D;
	struct plan_opts o;
	bool		 no_deletes;	/* over max_delete: plan none */
	struct plan	*p;		/* phase 1, then everything */
	struct plan	 later;		/* phase 2, in tree order at first */
	struct plan	 dirs;		/* phase 3, already deepest first */
	struct frame	*stack;		/* source dirs around the merge point */
	size_t		 depth, scap;
	size_t		*dstack;	/* delete_tree: its dirs in later.v */
	size_t		 dn, dcap;
	uint64_t	 unchanged;
};

void
plan_init(struct plan *p)
{
	memset(p, 0, sizeof(*p));
}

void
plan_dispose(struct plan *p)
{
	if (p == NULL)
		return;
	free(p->v);
	plan_init(p);
}

/* Appends one action; -1 when out of memory. */
static int
push(struct plan *p, enum action_kind kind, enum plan_reason reason,
    unsigned attrs, const struct entry *src, const struct entry *dst)
{
	struct action	*v;
	size_t		 cap;

	if (p->n == p->cap) {
		cap = p->cap == 0 ? 256 : p->cap * 2;
		if ((v = realloc(p->v, cap * sizeof(*v))) == NULL)
			return -1;
		p->v = v;
		p->cap = cap;
	}
	v = &p->v[p->n++];
	v->src = src;
	v->dst = dst;
	v->kind = (uint8_t)kind;
	v->reason = (uint8_t)reason;
	v->attrs = (uint8_t)attrs;
	return 0;
}

/* Whole seconds, rounded down also before 1970. */
static int64_t
mtime_sec(int64_t ns)
{
	int64_t	 s = ns / NS_PER_SEC;

	return ns % NS_PER_SEC < 0 ? s - 1 : s;
}

static unsigned
attrs_differ(const struct entry *s, const struct entry *d,
    const struct plan_opts *o)
{
	unsigned a = 0;

	/* A symlink's own mode and mtime are not kept (SFTP follows it). */
	if (s->type != ENTRY_SYMLINK && s->mode != d->mode)
		a |= ATTR_MODE;
	if (s->type != ENTRY_SYMLINK &&
	    mtime_sec(s->mtime_ns) != mtime_sec(d->mtime_ns))
		a |= ATTR_MTIME;
	if (o != NULL && ((o->owner && s->uid != d->uid) ||
	    (o->group && s->gid != d->gid)))
		a |= ATTR_OWNER;
	return a;
}

static enum action_kind
create_kind(const struct entry *s)
{
	switch (s->type) {
	case ENTRY_DIR:
		return ACT_MKDIR;
	case ENTRY_SYMLINK:
		return ACT_SYMLINK;
	default:
		return ACT_COPY;
	}
}

int
plan_compare(struct action *act, const struct entry *src,
    const struct entry *dst, const struct plan_opts *opts)
{
	bool		 checksum = opts != NULL && opts->checksum;
	bool		 size_only = opts != NULL && opts->size_only;
	unsigned	 attrs;

	assert(src != NULL || dst != NULL);
	memset(act, 0, sizeof(*act));
	act->src = src;
	act->dst = dst;
	if (src == NULL) {
		act->kind = ACT_DELETE;
		act->reason = REASON_GONE;
		return 0;
	}
	/* rsync --ignore-existing: what exists is never updated. */
	if (dst != NULL && opts != NULL && opts->ignore_existing &&
	    (src->type != ENTRY_DIR || dst->type != ENTRY_DIR))
		return 0;
	if (dst == NULL || src->type != dst->type) {
		act->kind = (uint8_t)create_kind(src);
		act->reason = dst == NULL ? REASON_NEW : REASON_TYPE;
		return 0;
	}
	/* rsync -u: a newer destination file is kept as it is, attributes
	 * too; an equal mtime still lets a size difference through. */
	if (opts != NULL && opts->update && src->type == ENTRY_FILE &&
	    mtime_sec(dst->mtime_ns) > mtime_sec(src->mtime_ns))
		return 0;
	switch (src->type) {
	case ENTRY_SYMLINK:
		if (strcmp(src->link, dst->link) != 0) {
			act->kind = ACT_SYMLINK;
			act->reason = REASON_TARGET;
		}
		return 0;
	case ENTRY_DIR:
		break;
	default:
		if (src->size != dst->size) {
			act->kind = ACT_COPY;
			act->reason = REASON_SIZE;
			return 0;
		}
		if (checksum && (src->hash == NULL || dst->hash == NULL)) {
			act->kind = ACT_NEED_HASH;
			return 0;
		}
		if (checksum && (src->hash->len != dst->hash->len ||
		    memcmp(src->hash->bytes, dst->hash->bytes,
		    src->hash->len) != 0)) {
			act->kind = ACT_COPY;
			act->reason = REASON_HASH;
			return 0;
		}
		/* Same content by hash, or by size with size_only: the mtime
		 * is only an attribute. */
		if (!checksum && !size_only && mtime_sec(src->mtime_ns) !=
		    mtime_sec(dst->mtime_ns)) {
			act->kind = ACT_COPY;
			act->reason = REASON_MTIME;
			return 0;
		}
		break;
	}
	if ((attrs = attrs_differ(src, dst, opts)) != 0) {
		act->kind = ACT_SETATTR;
		act->reason = REASON_ATTRS;
		act->attrs = (uint8_t)attrs;
	}
	return 0;
}

static bool
excluded(const struct planner *pl, const struct entry *e)
{
	return pl->o.filter != NULL &&
	    filter_excluded(pl->o.filter, e->path, e->type == ENTRY_DIR);
}

/* The index past entry k and everything under it: the list order keeps a
 * directory's contents right after it. */
static size_t
subtree_end(const struct entries *l, size_t k)
{
	size_t	 m = k + 1;

	if (l->v[k].type == ENTRY_DIR)
		while (m < l->n && entries_is_under(l->v[m].path, l->v[k].path))
			m++;
	return m;
}

/* The frame of path's parent directory, or NULL for the root (or a
 * parent missing from the source, in a malformed list). */
static struct frame *
parent_frame(struct planner *pl, const char *path)
{
	const char	*slash = strrchr(path, '/');
	struct frame	*f;

	if (slash == NULL || pl->depth == 0)
		return NULL;
	f = &pl->stack[pl->depth - 1];
	if (strlen(f->src->path) != (size_t)(slash - path))
		return NULL;
	return f;
}

static void
mark_parent_dirty(struct planner *pl, const char *path)
{
	struct frame	*f;

	if ((f = parent_frame(pl, path)) != NULL)
		f->dirty = true;
}

/* Whether path's source parent couldn't be listed in full. */
static bool
parent_incomplete(struct planner *pl, const char *path)
{
	struct frame	*f;

	if (strchr(path, '/') == NULL)
		return pl->S->incomplete_root;
	f = parent_frame(pl, path);
	return f != NULL && (f->src->flags & ENTRY_INCOMPLETE) != 0;
}

static int
push_frame(struct planner *pl, const struct entry *src,
    const struct entry *dst, unsigned attrs)
{
	struct frame	*v;
	size_t		 cap;

	if (pl->depth == pl->scap) {
		cap = pl->scap == 0 ? 32 : pl->scap * 2;
		if ((v = realloc(pl->stack, cap * sizeof(*v))) == NULL)
			return -1;
		pl->stack = v;
		pl->scap = cap;
	}
	v = &pl->stack[pl->depth++];
	v->src = src;
	v->dst = dst;
	v->attrs = (uint8_t)attrs;
	v->dirty = false;
	return 0;
}

/* Leaves the directories path isn't in (all of them if path is NULL),
 * deepest first, queueing their setattr for phase 3. */
static int
pop_frames(struct planner *pl, const char *path)
{
	struct frame	*f;
	unsigned	 attrs;
	enum plan_reason reason;

	while (pl->depth > 0) {
		f = &pl->stack[pl->depth - 1];
		if (path != NULL && entries_is_under(path, f->src->path))
			break;
		if (f->dst == NULL) {
			attrs = ATTR_MODE | ATTR_MTIME |
			    (pl->o.owner || pl->o.group ? ATTR_OWNER : 0);
			reason = REASON_NEW;
		} else {
			attrs = f->attrs | (f->dirty ? ATTR_MTIME : 0);
			reason = f->attrs != 0 ? REASON_ATTRS : REASON_CONTENTS;
		}
		if (attrs != 0 && push(&pl->dirs, ACT_SETATTR, reason, attrs,
		    f->src, f->dst) != 0)
			return -1;
		pl->depth--;
	}
	return 0;
}

/* Plans the creation of s; after a type change the old entry is already
 * deleted, so the action's dst is NULL. */
static int
create(struct planner *pl, const struct entry *s, enum plan_reason reason)
{
	mark_parent_dirty(pl, s->path);
	if (push(pl->p, create_kind(s), reason, 0, s, NULL) != 0)
		return -1;
	if (s->type == ENTRY_DIR)
		return push_frame(pl, s, NULL, 0);
	return 0;
}

/* A pair of the same type. */
static int
update(struct planner *pl, const struct entry *s, const struct entry *d)
{
	struct action	 act;

	plan_compare(&act, s, d, &pl->o);
	if (s->type == ENTRY_DIR)	/* its setattr waits for phase 3 */
		return push_frame(pl, s, d, act.attrs);
	if (act.kind == ACT_NONE || act.kind == ACT_SETATTR)
		pl->unchanged++;
	if (act.kind == ACT_NONE)
		return 0;
	if (act.kind == ACT_COPY || act.kind == ACT_SYMLINK)
		mark_parent_dirty(pl, s->path);	/* replaced by a rename */
	return push(pl->p, act.kind, act.reason, act.attrs, s, d);
}

/*
 * --delete of D[j] and everything under it up to end, queued in tree order
 * in later (reversed at the end: deepest first).  An excluded entry inside
 * is kept unless delete_excluded, and so are its ancestors: a directory
 * holding something kept can't be removed.  Returns 1 if D[j] itself is
 * deleted, 0 if kept, -1 when out of memory.
 */
static int
delete_tree(struct planner *pl, size_t j, size_t end, enum plan_reason reason)
{
	const struct entry *e;
	enum plan_reason r;
	size_t		 k, x, *v, cap, base = pl->later.n;

	pl->dn = 0;
	for (k = j; k < end; k++) {
		e = &pl->D->v[k];
		while (pl->dn > 0 && !entries_is_under(e->path,
		    pl->later.v[pl->dstack[pl->dn - 1]].dst->path))
			pl->dn--;
		/* Inside the tree, the reason of the parent's delete. */
		r = k == j ? reason :
		    pl->later.v[pl->dstack[pl->dn - 1]].reason;
		if (k > j && excluded(pl, e)) {
			if (!pl->o.delete_excluded) {
				for (x = 0; x < pl->dn; x++)
					pl->later.v[pl->dstack[x]].kind =
					    ACT_NONE;
				k = subtree_end(pl->D, k) - 1;
				continue;
			}
			r = REASON_EXCLUDED;	/* and so for all below */
		}
		if (push(&pl->later, ACT_DELETE, r, 0, NULL, e) != 0)
			return -1;
		if (e->type != ENTRY_DIR)
			continue;
		if (pl->dn == pl->dcap) {
			cap = pl->dcap == 0 ? 32 : pl->dcap * 2;
			if ((v = realloc(pl->dstack, cap * sizeof(*v))) == NULL)
				return -1;
			pl->dstack = v;
			pl->dcap = cap;
		}
		pl->dstack[pl->dn++] = pl->later.n - 1;
	}
	return pl->later.v[base].kind == ACT_DELETE;
}

/* D[j] has no included source entry: kept, or deleted with --delete.
 * Sets *j_next past its subtree, which this handles whole. */
static int
dst_only(struct planner *pl, size_t j, size_t *j_next)
{
	const struct entry *d = &pl->D->v[j];
	bool		 ex = excluded(pl, d);
	int		 rc;

	*j_next = subtree_end(pl->D, j);
	if (ex && !pl->o.delete_excluded)
		return 0;
	if (!pl->o.delete || pl->no_deletes || parent_incomplete(pl, d->path))
		return 0;
	rc = delete_tree(pl, j, *j_next, ex ? REASON_EXCLUDED : REASON_GONE);
	if (rc == 1)
		mark_parent_dirty(pl, d->path);
	return rc < 0 ? -1 : 0;
}

/*
 * S[i] and D[j] have the same path and different types: delete D[j] (with
 * its contents: deepest first), then create S[i].  When that isn't allowed
 * it is an ACT_CONFLICT and both subtrees are left alone.
 */
static int
type_change(struct planner *pl, size_t i, size_t j, size_t *i_next,
    size_t *j_next)
{
	const struct entry *s = &pl->S->v[i], *d = &pl->D->v[j];
	enum plan_reason why = REASON_NONE;
	size_t		 k, end = subtree_end(pl->D, j);

	*j_next = end;
	if (pl->no_deletes)
		why = REASON_MAX_DELETE;
	else if (end > j + 1 && !pl->o.delete)
		why = REASON_NOT_EMPTY;
	else if (!pl->o.delete_excluded)
		for (k = j; k < end && why == REASON_NONE; k++)
			if (excluded(pl, &pl->D->v[k]))
				why = REASON_PROTECTED;
	if (why != REASON_NONE) {
		*i_next = subtree_end(pl->S, i);
		return push(pl->p, ACT_CONFLICT, why, 0, s, d);
	}
	for (k = end; k > j; k--)
		if (push(pl->p, ACT_DELETE, REASON_TYPE, 0, NULL,
		    &pl->D->v[k - 1]) != 0)
			return -1;
	return create(pl, s, REASON_TYPE);
}

/* The merge: both lists in step, in their common order (phase 1). */
static int
merge(struct planner *pl)
{
	const struct entries *S = pl->S, *D = pl->D;
	const struct entry *s, *d;
	size_t		 i = 0, j = 0, i_next, j_next;
	bool		 s_in;
	int		 c, rc;

	while (i < S->n || j < D->n) {
		s = i < S->n ? &S->v[i] : NULL;
		d = j < D->n ? &D->v[j] : NULL;
		c = s == NULL ? 1 : d == NULL ? -1 :
		    entries_path_cmp(s->path, d->path);
		if (c < 0)
			d = NULL;
		else if (c > 0)
			s = NULL;
		if (pop_frames(pl, s != NULL ? s->path : d->path) != 0)
			return -1;
		i_next = s != NULL ? i + 1 : i;
		j_next = d != NULL ? j + 1 : j;
		/* An excluded source entry is as if absent, and so is all
		 * under it. */
		s_in = s != NULL && !excluded(pl, s);
		if (s != NULL && !s_in)
			i_next = subtree_end(S, i);
		if (!s_in)
			rc = d != NULL ? dst_only(pl, j, &j_next) : 0;
		else if (d == NULL)
			rc = create(pl, s, REASON_NEW);
		else if (s->type != d->type && pl->o.ignore_existing) {
			/* Neither is touched, nor anything under them. */
			i_next = subtree_end(S, i);
			j_next = subtree_end(D, j);
			pl->unchanged++;
			rc = 0;
		} else if (s->type == d->type)
			rc = update(pl, s, d);
		else
			rc = type_change(pl, i, j, &i_next, &j_next);
		if (rc != 0)
			return -1;
		i = i_next;
		j = j_next;
	}
	return pop_frames(pl, NULL);
}

/* Appends phases 2 and 3 to phase 1 and counts. */
static int
finish(struct planner *pl)
{
	struct plan_stats *st = &pl->p->stats;
	const struct action *a;
	size_t		 k;

	for (k = pl->later.n; k > 0; k--) {
		a = &pl->later.v[k - 1];
		if (a->kind == ACT_DELETE && push(pl->p, a->kind, a->reason,
		    a->attrs, a->src, a->dst) != 0)
			return -1;
	}
	for (k = 0; k < pl->dirs.n; k++) {
		a = &pl->dirs.v[k];
		if (push(pl->p, a->kind, a->reason, a->attrs, a->src,
		    a->dst) != 0)
			return -1;
	}
	memset(st, 0, sizeof(*st));
	st->unchanged = pl->unchanged;
	for (k = 0; k < pl->p->n; k++) {
		a = &pl->p->v[k];
		switch (a->kind) {
		case ACT_MKDIR:
			st->dirs_created++;
			break;
		case ACT_COPY:
			if (a->reason == REASON_NEW)
				st->files_new++;
			else
				st->files_updated++;
			st->bytes += a->src->size;
			break;
		case ACT_SYMLINK:
			st->links++;
			break;
		case ACT_SETATTR:
			st->setattrs++;
			break;
		case ACT_DELETE:
			st->deletes++;
			break;
		case ACT_NEED_HASH:
			st->need_hash++;
			break;
		case ACT_CONFLICT:
			st->conflicts++;
			break;
		}
	}
	return 0;
}

/* One planning pass into p (empty). */
static int
run(struct planner *pl, struct plan *p, bool no_deletes)
{
	int	 rc;

	pl->p = p;
	pl->no_deletes = no_deletes;
	pl->depth = pl->dn = 0;
	pl->unchanged = 0;
	pl->later.n = pl->dirs.n = 0;
	rc = merge(pl) == 0 && finish(pl) == 0 ? 0 : -1;
	return rc;
}

int
plan_build(struct plan *p, const struct entries *src,
    const struct entries *dst, const struct plan_opts *opts,
    struct ts_error *err)
{
	static const struct plan_opts defaults = PLAN_OPTS_INIT;
	struct planner	 pl;
	uint64_t	 deletes;
	int		 rc = 0;

	assert(p->n == 0);
	assert(src->sorted || src->n == 0);
	assert(dst->sorted || dst->n == 0);
	memset(&pl, 0, sizeof(pl));
	pl.S = src;
	pl.D = dst;
	pl.o = opts != NULL ? *opts : defaults;
	if (pl.o.delete_excluded)
		pl.o.delete = true;
	plan_init(&pl.later);
	plan_init(&pl.dirs);
	if (run(&pl, p, false) != 0) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	deletes = p->stats.deletes;
	if (pl.o.max_delete >= 0 && deletes > (uint64_t)pl.o.max_delete) {
		/* Plan again without deletes: dropping them from this plan
		 * would leave the creations that needed them. */
		plan_dispose(p);
		if (run(&pl, p, true) != 0) {
			rc = error_set(err, TS_ENOMEM, "out of memory");
			goto out;
		}
		p->stats.deletes_refused = deletes;
		rc = error_set(err, TS_ERROR, "--max-delete %ld: refusing to "
		    "delete %llu %s", pl.o.max_delete,
		    (unsigned long long)deletes,
		    deletes == 1 ? "entry" : "entries");
	}
out:
	if (rc == TS_ENOMEM)
		plan_dispose(p);
	plan_dispose(&pl.later);
	plan_dispose(&pl.dirs);
	free(pl.stack);
	free(pl.dstack);
	return rc;
}

const char *
plan_kind_name(enum action_kind kind)
{
	switch (kind) {
	case ACT_NONE:		return "none";
	case ACT_MKDIR:		return "mkdir";
	case ACT_COPY:		return "copy";
	case ACT_SYMLINK:	return "symlink";
	case ACT_SETATTR:	return "setattr";
	case ACT_DELETE:	return "delete";
	case ACT_NEED_HASH:	return "need-hash";
	case ACT_CONFLICT:	return "conflict";
	}
	return "?";
}

const char *
plan_reason_name(enum plan_reason reason)
{
	switch (reason) {
	case REASON_NONE:	return "none";
	case REASON_NEW:	return "new";
	case REASON_SIZE:	return "size";
	case REASON_MTIME:	return "mtime";
	case REASON_HASH:	return "hash";
	case REASON_TYPE:	return "type";
	case REASON_TARGET:	return "target";
	case REASON_ATTRS:	return "attrs";
	case REASON_CONTENTS:	return "contents";
	case REASON_GONE:	return "gone";
	case REASON_EXCLUDED:	return "excluded";
	case REASON_NOT_EMPTY:	return "not-empty";
	case REASON_PROTECTED:	return "protected";
	case REASON_MAX_DELETE:	return "max-delete";
	}
	return "?";
}

const char *
plan_action_path(const struct action *a)
{
	return a->src != NULL ? a->src->path : a->dst->path;
}
