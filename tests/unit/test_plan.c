#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "plan.h"

#define NS	1000000000LL
#define T0	(1700000000LL * NS)	/* a fixed time: tests read no clock */

/* One entry of a test tree; lists end with { NULL }. */
struct spec {
	const char	*path;
	char		 type;		/* 'f', 'd', 'l' */
	uint64_t	 size;
	int64_t		 mtime_ns;
	unsigned	 mode;
	const char	*link;
};
#define F(p, size)		{ p, 'f', size, T0, 0644, NULL }
#define FT(p, size, t)		{ p, 'f', size, t, 0644, NULL }
#define FM(p, size, mode)	{ p, 'f', size, T0, mode, NULL }
#define D(p)			{ p, 'd', 0, T0, 0755, NULL }
#define DT(p, t)		{ p, 'd', 0, t, 0755, NULL }
#define L(p, target)		{ p, 'l', 0, T0, 0777, target }
#define END			{ NULL, 0, 0, 0, 0, NULL }

static const struct spec none[] = { END };

/* Everything one planning needs, and what it gave. */
struct fx {
	struct entries	 s, d;
	struct plan	 p;
	struct ts_error	 err;
	int		 rc;
	char		 str[4096];	/* the plan, rendered */
};

static void
build(struct entries *l, const struct spec *sp)
{
	struct ts_error	 err = { 0 };
	enum entry_type	 t;

	entries_init(l);
	for (; sp->path != NULL; sp++) {
		t = sp->type == 'd' ? ENTRY_DIR : sp->type == 'l' ?
		    ENTRY_SYMLINK : ENTRY_FILE;
		assert_int_equal(entries_add(l, sp->path, t, sp->size,
		    sp->mtime_ns, sp->mode, sp->link, &err), 0);
	}
	assert_int_equal(entries_sort(l, &err), 0);
}

/* "kind[:reason][/attrs] path; ..." */
static void
render(struct fx *x)
{
	const struct action *a;
	size_t		 i, n = 0;

	x->str[0] = '\0';
	for (i = 0; i < x->p.n; i++) {
		a = &x->p.v[i];
		n += (size_t)snprintf(x->str + n, sizeof(x->str) - n,
		    "%s%s%s%s%s%s%s %s", i > 0 ? "; " : "",
		    plan_kind_name(a->kind),
		    a->reason != REASON_NONE ? ":" : "",
		    a->reason != REASON_NONE ? plan_reason_name(a->reason) : "",
		    a->attrs != 0 ? "/" : "",
		    (a->attrs & ATTR_MODE) != 0 ? "m" : "",
		    (a->attrs & ATTR_MTIME) != 0 ? "t" : "",
		    plan_action_path(a));
		assert_true(n < sizeof(x->str));
	}
}

/* Plans dst -> src; the result is in x (x->rc, x->p, x->str). */
static void
plan_lists(struct fx *x, const struct plan_opts *o)
{
	plan_init(&x->p);
	memset(&x->err, 0, sizeof(x->err));
	x->rc = plan_build(&x->p, &x->s, &x->d, o, &x->err);
	render(x);
}

static void
run(struct fx *x, const struct spec *src, const struct spec *dst,
    const struct plan_opts *o)
{
	build(&x->s, src);
	build(&x->d, dst);
	plan_lists(x, o);
}

static void
done(struct fx *x)
{
	plan_dispose(&x->p);
	entries_dispose(&x->s);
	entries_dispose(&x->d);
}

/* Plans and checks the rendered plan, which must succeed. */
static void
expect(const struct spec *src, const struct spec *dst,
    const struct plan_opts *o, const char *want)
{
	struct fx	 x;

	run(&x, src, dst, o);
	assert_int_equal(x.rc, 0);
	assert_string_equal(x.str, want);
	done(&x);
}

/* Servers keep whole seconds: a sub-second difference is not a change. */
static void
test_plan_subsecond_mtime_is_unchanged(void **state)
{
	struct entry	 l = { .path = "a.txt", .size = 5,
			    .mtime_ns = T0 + 123456789, .mode = 0644 };
	struct entry	 r = { .path = "a.txt", .size = 5, .mtime_ns = T0,
			    .mode = 0644 };
	struct action	 act;

	(void)state;
	assert_int_equal(plan_compare(&act, &l, &r, NULL), 0);
	assert_int_equal(act.kind, ACT_NONE);
	l.mtime_ns = T0 + NS - 1;
	assert_int_equal(plan_compare(&act, &l, &r, NULL), 0);
	assert_int_equal(act.kind, ACT_NONE);
}

/* Seconds are rounded down before 1970 too: -0.5 s is in second -1. */
static void
test_plan_negative_mtimes_round_down(void **state)
{
	struct entry	 l = { .path = "a", .size = 1, .mtime_ns = -NS / 2 };
	struct entry	 r = { .path = "a", .size = 1, .mtime_ns = -NS };
	struct action	 act;

	(void)state;
	plan_compare(&act, &l, &r, NULL);
	assert_int_equal(act.kind, ACT_NONE);
	l.mtime_ns = -1;
	r.mtime_ns = 0;
	plan_compare(&act, &l, &r, NULL);
	assert_int_equal(act.kind, ACT_COPY);
	assert_int_equal(act.reason, REASON_MTIME);
}

/* plan_compare alone, one pair per decision. */
static void
test_plan_compare_decides_every_reason(void **state)
{
	static const struct entry_hash h1 = { 2, { 1, 2 } };
	static const struct entry_hash h2 = { 2, { 1, 3 } };
	static const struct plan_opts ck = { .max_delete = -1,
	    .checksum = true };
	const struct entry f = { .path = "p", .size = 5, .mtime_ns = T0,
	    .mode = 0644, .type = ENTRY_FILE };
	const struct entry d = { .path = "p", .mtime_ns = T0, .mode = 0755,
	    .type = ENTRY_DIR };
	const struct entry l = { .path = "p", .link = "t", .mtime_ns = T0,
	    .mode = 0777, .type = ENTRY_SYMLINK };
	struct entry	 x;
	struct action	 a;

	(void)state;
	plan_compare(&a, &f, NULL, NULL);
	assert_true(a.kind == ACT_COPY && a.reason == REASON_NEW);
	assert_ptr_equal(a.src, &f);
	assert_null(a.dst);
	plan_compare(&a, NULL, &f, NULL);
	assert_true(a.kind == ACT_DELETE && a.reason == REASON_GONE);
	plan_compare(&a, &d, NULL, NULL);
	assert_true(a.kind == ACT_MKDIR && a.reason == REASON_NEW);
	plan_compare(&a, &l, NULL, NULL);
	assert_true(a.kind == ACT_SYMLINK && a.reason == REASON_NEW);
	plan_compare(&a, &f, &f, NULL);
	assert_int_equal(a.kind, ACT_NONE);
	x = f;
	x.size = 6;
	plan_compare(&a, &f, &x, NULL);
	assert_true(a.kind == ACT_COPY && a.reason == REASON_SIZE);
	x = f;
	x.mtime_ns += NS;
	plan_compare(&a, &f, &x, NULL);
	assert_true(a.kind == ACT_COPY && a.reason == REASON_MTIME);
	x = f;
	x.mode = 0600;
	plan_compare(&a, &f, &x, NULL);
	assert_true(a.kind == ACT_SETATTR && a.reason == REASON_ATTRS &&
	    a.attrs == ATTR_MODE);
	plan_compare(&a, &d, &f, NULL);
	assert_true(a.kind == ACT_MKDIR && a.reason == REASON_TYPE);
	plan_compare(&a, &f, &l, NULL);
	assert_true(a.kind == ACT_COPY && a.reason == REASON_TYPE);
	plan_compare(&a, &l, &d, NULL);
	assert_true(a.kind == ACT_SYMLINK && a.reason == REASON_TYPE);
	x = l;
	x.link = "u";
	plan_compare(&a, &l, &x, NULL);
	assert_true(a.kind == ACT_SYMLINK && a.reason == REASON_TARGET);
	x = l;
	x.mtime_ns += 5 * NS;	/* a link's times are not compared */
	plan_compare(&a, &l, &x, NULL);
	assert_int_equal(a.kind, ACT_NONE);
	x = d;
	x.mtime_ns += NS;
	plan_compare(&a, &d, &x, NULL);
	assert_true(a.kind == ACT_SETATTR && a.attrs == ATTR_MTIME);
	x = f;
	plan_compare(&a, &f, &x, &ck);
	assert_int_equal(a.kind, ACT_NEED_HASH);
	x.hash = &h2;
	plan_compare(&a, &f, &x, &ck);
	assert_int_equal(a.kind, ACT_NEED_HASH);	/* both sides needed */
	x = f;
	x.hash = &h1;
	{
		struct entry	 y = f;

		y.hash = &h2;
		plan_compare(&a, &y, &x, &ck);
		assert_true(a.kind == ACT_COPY && a.reason == REASON_HASH);
		y.hash = &h1;
		y.mtime_ns += 7 * NS;
		plan_compare(&a, &y, &x, &ck);
		assert_true(a.kind == ACT_SETATTR && a.attrs == ATTR_MTIME);
	}
}

/* Directories before their contents; their attributes at the end,
 * deepest first. */
static void
test_plan_new_tree_is_created_parents_first(void **state)
{
	static const struct spec src[] = {
		D("a"), D("a/b"), F("a/b/f", 10), F("a/g", 20), L("l", "a/g"),
		END
	};
	struct fx	 x;

	(void)state;
	run(&x, src, none, NULL);
	assert_int_equal(x.rc, 0);
	assert_string_equal(x.str, "mkdir:new a; mkdir:new a/b; "
	    "copy:new a/b/f; copy:new a/g; symlink:new l; "
	    "setattr:new/mt a/b; setattr:new/mt a");
	assert_int_equal(x.p.stats.files_new, 2);
	assert_int_equal(x.p.stats.files_updated, 0);
	assert_int_equal(x.p.stats.dirs_created, 2);
	assert_int_equal(x.p.stats.links, 1);
	assert_int_equal(x.p.stats.setattrs, 2);
	assert_int_equal(x.p.stats.bytes, 30);
	assert_int_equal(x.p.stats.deletes, 0);
	done(&x);
}

static void
test_plan_same_tree_is_empty(void **state)
{
	static const struct spec t[] = {
		D("a"), F("a/f", 1), L("a/l", "f"), D("e"), F("g", 0), END
	};
	struct fx	 x;

	(void)state;
	run(&x, t, t, NULL);
	assert_int_equal(x.rc, 0);
	assert_int_equal(x.p.n, 0);
	assert_int_equal(x.p.stats.unchanged, 3);
	done(&x);
}

static void
test_plan_size_change_is_copied(void **state)
{
	static const struct spec src[] = { F("f", 6), END };
	static const struct spec dst[] = { F("f", 5), END };
	struct fx	 x;

	(void)state;
	run(&x, src, dst, NULL);
	assert_string_equal(x.str, "copy:size f");
	assert_int_equal(x.p.stats.files_updated, 1);
	assert_int_equal(x.p.stats.bytes, 6);
	assert_ptr_equal(x.p.v[0].dst, &x.d.v[0]);	/* overwritten */
	done(&x);
}

static void
test_plan_mtime_change_is_copied(void **state)
{
	static const struct spec src[] = { FT("f", 5, T0 + NS), END };
	static const struct spec dst[] = { FT("f", 5, T0 + NS / 2), END };

	(void)state;
	expect(src, dst, NULL, "copy:mtime f");
}

static void
test_plan_mode_change_is_setattr(void **state)
{
	static const struct spec src[] = { FM("f", 5, 0755), END };
	static const struct spec dst[] = { FM("f", 5, 0644), END };
	struct fx	 x;

	(void)state;
	run(&x, src, dst, NULL);
	assert_string_equal(x.str, "setattr:attrs/m f");
	assert_int_equal(x.p.stats.unchanged, 1);
	assert_int_equal(x.p.stats.setattrs, 1);
	done(&x);
}

static void
test_plan_symlink_target_change_is_relinked(void **state)
{
	static const struct spec src[] = { L("l", "new"), END };
	static const struct spec dst[] = { L("l", "old"), END };

	(void)state;
	expect(src, dst, NULL, "symlink:target l");
}

/* A directory's own mtime and mode go after what happens inside it. */
static void
test_plan_dir_attrs_are_set_after_contents(void **state)
{
	static const struct spec src[] = {
		DT("a", T0 + 5 * NS), F("a/x", 1), END
	};
	static const struct spec dst[] = { D("a"), END };

	(void)state;
	expect(src, dst, NULL, "copy:new a/x; setattr:attrs/t a");
}

/* Creating or removing in a directory changes its mtime on the other
 * side: the plan puts it back, so a second run finds nothing to do. */
static void
test_plan_dir_touched_by_changes_gets_its_mtime_back(void **state)
{
	static const struct spec src[] = {
		D("a"), F("a/new", 1), D("b"), F("b/f", 2), D("c"), D("c/d"),
		FM("c/d/m", 1, 0600), END
	};
	static const struct spec dst[] = {
		D("a"), D("b"), F("b/f", 3), F("b/old", 1), D("c"), D("c/d"),
		FM("c/d/m", 1, 0644), END
	};
	struct plan_opts o = PLAN_OPTS_INIT;

	(void)state;
	o.delete = true;
	/* A setattr of c/d/m leaves c/d alone. */
	expect(src, dst, &o, "copy:new a/new; copy:size b/f; "
	    "setattr:attrs/m c/d/m; delete:gone b/old; "
	    "setattr:contents/t a; setattr:contents/t b");
}

static void
test_plan_file_became_dir(void **state)
{
	static const struct spec src[] = { D("a"), F("a/f", 1), END };
	static const struct spec dst[] = { F("a", 9), END };
	struct fx	 x;

	(void)state;
	run(&x, src, dst, NULL);
	assert_int_equal(x.rc, 0);
	assert_string_equal(x.str, "delete:type a; mkdir:type a; "
	    "copy:new a/f; setattr:new/mt a");
	assert_null(x.p.v[1].dst);	/* the old one is gone by then */
	assert_int_equal(x.p.stats.deletes, 1);
	done(&x);
}

static void
test_plan_dir_became_file_with_delete(void **state)
{
	static const struct spec src[] = { F("a", 1), F("b", 1), END };
	static const struct spec dst[] = {
		D("a"), F("a/x", 1), D("a/y"), F("a/y/z", 1), F("b", 1), END
	};
	struct plan_opts o = PLAN_OPTS_INIT;

	(void)state;
	o.delete = true;
	expect(src, dst, &o, "delete:type a/y/z; delete:type a/y; "
	    "delete:type a/x; delete:type a; copy:type a");
}

/* As rsync without --delete or --force: a non-empty directory is not
 * removed to make room for a file. */
static void
test_plan_nonempty_dir_became_file_without_delete_is_conflict(void **state)
{
	static const struct spec src[] = { F("a", 1), F("z", 2), END };
	static const struct spec dst[] = {
		D("a"), F("a/x", 1), F("z", 1), END
	};
	struct fx	 x;

	(void)state;
	run(&x, src, dst, NULL);
	assert_int_equal(x.rc, 0);
	assert_string_equal(x.str, "conflict:not-empty a; copy:size z");
	assert_int_equal(x.p.stats.conflicts, 1);
	done(&x);
}

static void
test_plan_empty_dir_became_file_without_delete(void **state)
{
	static const struct spec src[] = { F("a", 1), END };
	static const struct spec dst[] = { D("a"), END };

	(void)state;
	expect(src, dst, NULL, "delete:type a; copy:type a");
}

static void
test_plan_file_became_symlink_and_back(void **state)
{
	static const struct spec src[] = { L("x", "t"), F("y", 1), END };
	static const struct spec dst[] = { F("x", 1), L("y", "t"), END };

	(void)state;
	expect(src, dst, NULL, "delete:type x; symlink:type x; "
	    "delete:type y; copy:type y");
}

/* All deletes after all copies; each entry's contents before it. */
static void
test_plan_deletes_deepest_first_after_copies(void **state)
{
	static const struct spec src[] = { F("b", 1), F("z", 1), END };
	static const struct spec dst[] = {
		D("a"), D("a/b"), F("a/b/c", 1), F("a/d", 1), F("y", 1),
		F("z", 2), END
	};
	struct plan_opts o = PLAN_OPTS_INIT;
	struct fx	 x;
	size_t		 i, k;
	bool		 seen_delete = false;

	(void)state;
	o.delete = true;
	run(&x, src, dst, &o);
	assert_int_equal(x.rc, 0);
	assert_string_equal(x.str, "copy:new b; copy:size z; "
	    "delete:gone y; delete:gone a/d; delete:gone a/b/c; "
	    "delete:gone a/b; delete:gone a");
	for (i = 0; i < x.p.n; i++) {
		if (x.p.v[i].kind == ACT_DELETE)
			seen_delete = true;
		else
			assert_false(seen_delete);
		if (x.p.v[i].kind != ACT_DELETE)
			continue;
		for (k = i + 1; k < x.p.n; k++)
			assert_false(entries_is_under(plan_action_path(
			    &x.p.v[k]), plan_action_path(&x.p.v[i])));
	}
	assert_int_equal(x.p.stats.deletes, 5);
	done(&x);
}

static void
test_plan_nothing_deleted_without_delete(void **state)
{
	static const struct spec dst[] = {
		D("a"), F("a/b", 1), F("c", 1), END
	};
	struct fx	 x;

	(void)state;
	run(&x, none, dst, NULL);
	assert_int_equal(x.rc, 0);
	assert_int_equal(x.p.n, 0);
	done(&x);
}

static const struct spec twelve[] = {
	F("d01", 1), F("d02", 1), F("d03", 1), F("d04", 1), F("d05", 1),
	F("d06", 1), F("d07", 1), F("d08", 1), F("d09", 1), F("d10", 1),
	F("d11", 1), F("d12", 1), END
};

/* Over the limit: an error, no delete, the copies still planned. */
static void
test_plan_max_delete_refuses(void **state)
{
	static const struct spec src[] = { F("new", 3), END };
	struct plan_opts o = PLAN_OPTS_INIT;
	struct fx	 x;

	(void)state;
	o.delete = true;
	o.max_delete = 5;
	run(&x, src, twelve, &o);
	assert_int_equal(x.rc, TS_ERROR);
	assert_string_equal(x.err.msg,
	    "--max-delete 5: refusing to delete 12 entries");
	assert_string_equal(x.str, "copy:new new");
	assert_int_equal(x.p.stats.deletes, 0);
	assert_int_equal(x.p.stats.deletes_refused, 12);
	assert_int_equal(x.p.stats.files_new, 1);
	done(&x);
}

static void
test_plan_max_delete_at_the_limit_is_allowed(void **state)
{
	struct plan_opts o = PLAN_OPTS_INIT;
	struct fx	 x;

	(void)state;
	o.delete = true;
	o.max_delete = 12;
	run(&x, none, twelve, &o);
	assert_int_equal(x.rc, 0);
	assert_int_equal(x.p.stats.deletes, 12);
	assert_int_equal(x.p.stats.deletes_refused, 0);
	done(&x);
}

/* A type change needs deletes too: over the limit it becomes a conflict
 * rather than half done. */
static void
test_plan_max_delete_blocks_type_changes(void **state)
{
	static const struct spec src[] = { D("a"), F("a/f", 1), END };
	static const struct spec dst[] = { F("a", 1), END };
	struct plan_opts o = PLAN_OPTS_INIT;
	struct fx	 x;

	(void)state;
	o.max_delete = 0;
	run(&x, src, dst, &o);
	assert_int_equal(x.rc, TS_ERROR);
	assert_string_equal(x.err.msg,
	    "--max-delete 0: refusing to delete 1 entry");
	assert_string_equal(x.str, "conflict:max-delete a");
	done(&x);
}

static void
add_rule(struct filter *f, enum filter_kind k, const char *pattern)
{
	struct ts_error	 err = { 0 };

	assert_int_equal(filter_add(f, k, pattern, &err), 0);
}

/* Excluded destination entries are never deleted... */
static void
test_plan_excluded_destination_is_kept(void **state)
{
	static const struct spec dst[] = {
		D("cache"), F("cache/a", 1), F("x.log", 1), F("y", 1), END
	};
	struct plan_opts o = PLAN_OPTS_INIT;
	struct filter	 f;

	(void)state;
	filter_init(&f);
	add_rule(&f, FILTER_EXCLUDE, "*.log");
	add_rule(&f, FILTER_EXCLUDE, "cache/");
	o.delete = true;
	o.filter = &f;
	expect(none, dst, &o, "delete:gone y");
	filter_dispose(&f);
}

/* ... unless delete_excluded, which implies delete. */
static void
test_plan_excluded_destination_deleted_with_delete_excluded(void **state)
{
	static const struct spec dst[] = {
		D("cache"), F("cache/a", 1), D("cache/b"), F("cache/b/c", 1),
		F("x.log", 1), END
	};
	struct plan_opts o = PLAN_OPTS_INIT;
	struct filter	 f;

	(void)state;
	filter_init(&f);
	add_rule(&f, FILTER_EXCLUDE, "*.log");
	add_rule(&f, FILTER_EXCLUDE, "cache/");
	o.delete_excluded = true;
	o.filter = &f;
	expect(none, dst, &o, "delete:excluded x.log; "
	    "delete:excluded cache/b/c; delete:excluded cache/b; "
	    "delete:excluded cache/a; delete:excluded cache");
	filter_dispose(&f);
}

/* A directory holding an excluded entry can't be removed: it stays, and
 * so do its parents. */
static void
test_plan_excluded_entry_keeps_its_parents(void **state)
{
	static const struct spec dst[] = {
		D("old"), F("old/a", 1), D("old/in"), F("old/in/keep.log", 1),
		D("old/sub"), F("old/sub/b", 1), END
	};
	struct plan_opts o = PLAN_OPTS_INIT;
	struct filter	 f;

	(void)state;
	filter_init(&f);
	add_rule(&f, FILTER_EXCLUDE, "*.log");
	o.delete = true;
	o.filter = &f;
	expect(none, dst, &o, "delete:gone old/sub/b; delete:gone old/sub; "
	    "delete:gone old/a");
	filter_dispose(&f);
}

static void
test_plan_excluded_source_is_not_copied(void **state)
{
	static const struct spec src[] = {
		D("build"), F("build/o", 1), F("keep", 1), F("x.log", 1), END
	};
	struct plan_opts o = PLAN_OPTS_INIT;
	struct filter	 f;

	(void)state;
	filter_init(&f);
	add_rule(&f, FILTER_EXCLUDE, "*.log");
	add_rule(&f, FILTER_EXCLUDE, "/build/");
	o.filter = &f;
	expect(src, none, &o, "copy:new keep");
	filter_dispose(&f);
}

/* A file may not replace a directory that holds protected entries. */
static void
test_plan_type_change_over_protected_dir_is_conflict(void **state)
{
	static const struct spec src[] = { F("a", 1), END };
	static const struct spec dst[] = {
		D("a"), F("a/x", 1), F("a/x.log", 1), END
	};
	struct plan_opts o = PLAN_OPTS_INIT;
	struct filter	 f;

	(void)state;
	filter_init(&f);
	add_rule(&f, FILTER_EXCLUDE, "*.log");
	o.delete = true;
	o.filter = &f;
	expect(src, dst, &o, "conflict:protected a");
	filter_dispose(&f);
}

/* Checksum, first pass: same-size pairs without hashes are asked for,
 * different sizes are decided at once. */
static void
test_plan_checksum_equal_size_asks_for_hashes(void **state)
{
	static const struct spec src[] = {
		F("a", 5), F("b", 5), F("c", 6), F("d", 1), END
	};
	static const struct spec dst[] = {
		FT("a", 5, T0 + 9 * NS), F("b", 5), F("c", 5), END
	};
	struct plan_opts o = PLAN_OPTS_INIT;
	struct fx	 x;

	(void)state;
	o.checksum = true;
	run(&x, src, dst, &o);
	assert_int_equal(x.rc, 0);
	assert_string_equal(x.str, "need-hash a; need-hash b; copy:size c; "
	    "copy:new d");
	assert_int_equal(x.p.stats.need_hash, 2);
	assert_ptr_equal(x.p.v[0].src, entries_find(&x.s, "a"));
	assert_ptr_equal(x.p.v[0].dst, entries_find(&x.d, "a"));
	done(&x);
}

/* Hashes every ACT_NEED_HASH pair: the same bytes on both sides, unless
 * the path is in differ. */
static void
fill_hashes(struct fx *x, const char *differ)
{
	static const uint8_t h1[32] = { 1 }, h2[32] = { 2 };
	struct ts_error	 err = { 0 };
	const struct action *a;
	size_t		 i;

	for (i = 0; i < x->p.n; i++) {
		a = &x->p.v[i];
		if (a->kind != ACT_NEED_HASH)
			continue;
		assert_int_equal(entries_set_hash(&x->s, a->src, h1, 32, &err),
		    0);
		assert_int_equal(entries_set_hash(&x->d, a->dst,
		    strcmp(a->src->path, differ) == 0 ? h2 : h1, 32, &err), 0);
	}
}

/* The two-pass protocol: plan, hash what it asks for, plan again. */
static void
test_plan_checksum_two_passes(void **state)
{
	static const struct spec src[] = {
		F("a", 5), F("b", 5), F("c", 5), END
	};
	static const struct spec dst[] = {
		FT("a", 5, T0 + 9 * NS), F("b", 5), F("c", 5), END
	};
	struct plan_opts o = PLAN_OPTS_INIT;
	struct fx	 x;

	(void)state;
	o.checksum = true;
	run(&x, src, dst, &o);
	assert_int_equal(x.p.stats.need_hash, 3);
	fill_hashes(&x, "b");
	plan_dispose(&x.p);
	plan_lists(&x, &o);
	assert_int_equal(x.rc, 0);
	/* a: same bytes, other mtime; b: same size and mtime, other bytes. */
	assert_string_equal(x.str, "setattr:attrs/t a; copy:hash b");
	assert_int_equal(x.p.stats.need_hash, 0);
	assert_int_equal(x.p.stats.unchanged, 2);
	assert_int_equal(x.p.stats.files_updated, 1);
	done(&x);
}

/* Equal size, different hash: copied, reason hash, even when the mtimes
 * agree (what only --checksum can see). */
static void
test_plan_checksum_different_hash_is_copied(void **state)
{
	static const struct spec t[] = { F("f", 5), END };
	struct plan_opts o = PLAN_OPTS_INIT;
	struct fx	 x;

	(void)state;
	o.checksum = true;
	run(&x, t, t, &o);
	fill_hashes(&x, "f");
	plan_dispose(&x.p);
	plan_lists(&x, &o);
	assert_string_equal(x.str, "copy:hash f");
	done(&x);
}

/* Equal size, equal hash, other mtime: no copy, only the mtime. */
static void
test_plan_checksum_equal_hash_different_mtime_is_setattr(void **state)
{
	static const struct spec src[] = { F("f", 5), END };
	static const struct spec dst[] = { FT("f", 5, T0 - 3600 * NS), END };
	struct plan_opts o = PLAN_OPTS_INIT;
	struct fx	 x;

	(void)state;
	o.checksum = true;
	run(&x, src, dst, &o);
	fill_hashes(&x, "");
	plan_dispose(&x.p);
	plan_lists(&x, &o);
	assert_string_equal(x.str, "setattr:attrs/t f");
	assert_int_equal(x.p.stats.files_updated, 0);
	done(&x);
}

/* What the walker couldn't list is not deleted: only what is directly in
 * the incomplete directory is spared. */
static void
test_plan_incomplete_dir_protects_its_contents(void **state)
{
	static const struct spec src[] = { D("d"), D("d/ok"), D("e"), END };
	static const struct spec dst[] = {
		D("d"), F("d/unread", 1), D("d/ok"), F("d/ok/gone", 1),
		D("e"), F("e/gone", 1), F("top", 1), END
	};
	struct plan_opts o = PLAN_OPTS_INIT;
	struct fx	 x;

	(void)state;
	o.delete = true;
	build(&x.s, src);
	build(&x.d, dst);
	x.s.v[0].flags |= ENTRY_INCOMPLETE;			/* d */
	plan_lists(&x, &o);
	assert_int_equal(x.rc, 0);
	assert_string_equal(x.str, "delete:gone top; delete:gone e/gone; "
	    "delete:gone d/ok/gone; setattr:contents/t d/ok; "
	    "setattr:contents/t e");
	plan_dispose(&x.p);
	x.s.incomplete_root = true;
	plan_lists(&x, &o);
	assert_string_equal(x.str, "delete:gone e/gone; "
	    "delete:gone d/ok/gone; setattr:contents/t d/ok; "
	    "setattr:contents/t e");
	done(&x);
}

/* Push and pull are the same code with the lists swapped. */
static void
test_plan_directions_swap_with_the_lists(void **state)
{
	static const struct spec local[] = { D("d"), F("d/mine", 1), END };
	static const struct spec remote[] = { F("theirs", 1), END };
	struct plan_opts o = PLAN_OPTS_INIT;
	struct fx	 x;

	(void)state;
	o.delete = true;
	run(&x, local, remote, &o);		/* push */
	assert_string_equal(x.str, "mkdir:new d; copy:new d/mine; "
	    "delete:gone theirs; setattr:new/mt d");
	assert_ptr_equal(x.p.v[1].src, entries_find(&x.s, "d/mine"));
	done(&x);
	run(&x, remote, local, &o);		/* pull */
	assert_string_equal(x.str, "copy:new theirs; delete:gone d/mine; "
	    "delete:gone d");
	assert_ptr_equal(x.p.v[0].src, entries_find(&x.s, "theirs"));
	done(&x);
}

/* Names where byte order and tree order differ merge correctly on both
 * sides: no spurious create or delete. */
static void
test_plan_merge_handles_tricky_names(void **state)
{
	static const struct spec src[] = {
		D("a"), F("a/b", 1), F("a/c", 1), F("a b", 1), F("a-", 1),
		F("a.txt", 1), D("a0"), F("a0/x", 1), F("\xc3\xa9", 1), END
	};
	static const struct spec dst[] = {
		D("a"), F("a/b", 1), F("a b", 1), F("a-", 1), F("a.txt", 1),
		D("a0"), F("a0/x", 1), F("\xc3\xa9", 1), END
	};
	struct plan_opts o = PLAN_OPTS_INIT;

	(void)state;
	o.delete = true;
	expect(src, dst, &o, "copy:new a/c; setattr:contents/t a");
}

static void
test_plan_stats_count_everything(void **state)
{
	static const struct spec src[] = {
		D("n"), F("n/1", 100), F("same", 7), F("grown", 20),
		FM("mode", 1, 0600), L("ln", "x"), END
	};
	static const struct spec dst[] = {
		F("gone", 1), F("grown", 10), FM("mode", 1, 0644), F("same", 7),
		END
	};
	struct plan_opts o = PLAN_OPTS_INIT;
	struct fx	 x;

	(void)state;
	o.delete = true;
	run(&x, src, dst, &o);
	assert_int_equal(x.rc, 0);
	assert_int_equal(x.p.stats.files_new, 1);
	assert_int_equal(x.p.stats.files_updated, 1);
	assert_int_equal(x.p.stats.bytes, 120);
	assert_int_equal(x.p.stats.dirs_created, 1);
	assert_int_equal(x.p.stats.links, 1);
	assert_int_equal(x.p.stats.setattrs, 2);	/* mode, n */
	assert_int_equal(x.p.stats.deletes, 1);
	assert_int_equal(x.p.stats.unchanged, 2);	/* same, mode */
	assert_int_equal(x.p.stats.need_hash, 0);
	assert_int_equal(x.p.stats.conflicts, 0);
	done(&x);
}

static void
test_plan_dispose_accepts_null_and_empty(void **state)
{
	struct plan	 p;

	(void)state;
	plan_dispose(NULL);
	plan_init(&p);
	plan_dispose(&p);
	plan_dispose(&p);
	assert_int_equal(p.n, 0);
}

/* rsync --size-only: equal sizes are unchanged; the mtime is then only an
 * attribute to set, as rsync -t does after its quick check. */
static void
test_plan_size_only_ignores_mtime(void **state)
{
	static const struct spec src[] = {
		FT("a", 5, T0 + 9 * NS), FT("b", 6, T0), F("c", 5), END
	};
	static const struct spec dst[] = {
		FT("a", 5, T0), FT("b", 5, T0), F("c", 5), END
	};
	struct plan_opts o = PLAN_OPTS_INIT;
	struct fx	 x;

	(void)state;
	o.size_only = true;
	run(&x, src, dst, &o);
	assert_int_equal(x.rc, 0);
	assert_string_equal(x.str, "setattr:attrs/t a; copy:size b");
	assert_int_equal(x.p.stats.unchanged, 2);
	done(&x);
}

/* --checksum wins over --size-only, as in rsync's quick check. */
static void
test_plan_size_only_with_checksum_asks_for_hashes(void **state)
{
	static const struct spec src[] = { FT("a", 5, T0 + 9 * NS), END };
	static const struct spec dst[] = { FT("a", 5, T0), END };
	struct plan_opts o = PLAN_OPTS_INIT;

	(void)state;
	o.size_only = true;
	o.checksum = true;
	expect(src, dst, &o, "need-hash a");
}

/* rsync --ignore-existing: whatever exists is left alone (changed files,
 * a type change, attributes); new entries, directories' contents and
 * deletes go on as usual. */
static void
test_plan_ignore_existing_touches_only_new(void **state)
{
	static const struct spec src[] = {
		F("a", 9), D("d"), FM("d/m", 1, 0600), F("d/new", 1),
		F("f2d", 1), L("l", "x"), END
	};
	static const struct spec dst[] = {
		F("a", 1), D("d"), F("d/m", 1), F("d/old", 1), D("f2d"),
		F("f2d/in", 1), L("l", "y"), END
	};
	struct plan_opts o = PLAN_OPTS_INIT;
	struct fx	 x;

	(void)state;
	o.ignore_existing = true;
	o.delete = true;
	run(&x, src, dst, &o);
	assert_int_equal(x.rc, 0);
	assert_string_equal(x.str, "copy:new d/new; delete:gone d/old; "
	    "setattr:contents/t d");
	assert_int_equal(x.p.stats.unchanged, 4);
	done(&x);
}

/* rsync -u: a destination file newer than the source is kept, attributes
 * too; an older one, or one of the same second with another size, is
 * replaced; symlinks and type changes are not affected. */
static void
test_plan_update_keeps_newer_destination_files(void **state)
{
	static const struct spec src[] = {
		FT("newer", 5, T0), FT("older", 5, T0 + 9 * NS),
		FT("same", 6, T0), FT("t", 1, T0), L("z", "x"), END
	};
	static const struct spec dst[] = {
		{ "newer", 'f', 7, T0 + 9 * NS, 0600, NULL },
		FT("older", 5, T0), FT("same", 5, T0 + NS / 2),
		{ "t", 'd', 0, T0 + 9 * NS, 0755, NULL },
		{ "z", 'l', 0, T0 + 9 * NS, 0777, "y" }, END
	};
	struct plan_opts o = PLAN_OPTS_INIT;

	(void)state;
	o.update = true;
	expect(src, dst, &o, "copy:mtime older; copy:size same; "
	    "delete:type t; copy:type t; symlink:target z");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_subsecond_mtime_is_unchanged),
		cmocka_unit_test(test_plan_negative_mtimes_round_down),
		cmocka_unit_test(test_plan_compare_decides_every_reason),
		cmocka_unit_test(test_plan_new_tree_is_created_parents_first),
		cmocka_unit_test(test_plan_same_tree_is_empty),
		cmocka_unit_test(test_plan_size_change_is_copied),
		cmocka_unit_test(test_plan_mtime_change_is_copied),
		cmocka_unit_test(test_plan_mode_change_is_setattr),
		cmocka_unit_test(test_plan_symlink_target_change_is_relinked),
		cmocka_unit_test(test_plan_dir_attrs_are_set_after_contents),
		cmocka_unit_test(
		    test_plan_dir_touched_by_changes_gets_its_mtime_back),
		cmocka_unit_test(test_plan_file_became_dir),
		cmocka_unit_test(test_plan_dir_became_file_with_delete),
		cmocka_unit_test(
		    test_plan_nonempty_dir_became_file_without_delete_is_conflict),
		cmocka_unit_test(test_plan_empty_dir_became_file_without_delete),
		cmocka_unit_test(test_plan_file_became_symlink_and_back),
		cmocka_unit_test(test_plan_deletes_deepest_first_after_copies),
		cmocka_unit_test(test_plan_nothing_deleted_without_delete),
		cmocka_unit_test(test_plan_max_delete_refuses),
		cmocka_unit_test(test_plan_max_delete_at_the_limit_is_allowed),
		cmocka_unit_test(test_plan_max_delete_blocks_type_changes),
		cmocka_unit_test(test_plan_excluded_destination_is_kept),
		cmocka_unit_test(
		    test_plan_excluded_destination_deleted_with_delete_excluded),
		cmocka_unit_test(test_plan_excluded_entry_keeps_its_parents),
		cmocka_unit_test(test_plan_excluded_source_is_not_copied),
		cmocka_unit_test(
		    test_plan_type_change_over_protected_dir_is_conflict),
		cmocka_unit_test(test_plan_checksum_equal_size_asks_for_hashes),
		cmocka_unit_test(test_plan_checksum_two_passes),
		cmocka_unit_test(test_plan_checksum_different_hash_is_copied),
		cmocka_unit_test(
		    test_plan_checksum_equal_hash_different_mtime_is_setattr),
		cmocka_unit_test(test_plan_incomplete_dir_protects_its_contents),
		cmocka_unit_test(test_plan_directions_swap_with_the_lists),
		cmocka_unit_test(test_plan_merge_handles_tricky_names),
		cmocka_unit_test(test_plan_stats_count_everything),
		cmocka_unit_test(test_plan_dispose_accepts_null_and_empty),
		cmocka_unit_test(test_plan_size_only_ignores_mtime),
		cmocka_unit_test(
		    test_plan_size_only_with_checksum_asks_for_hashes),
		cmocka_unit_test(test_plan_ignore_existing_touches_only_new),
		cmocka_unit_test(
		    test_plan_update_keeps_newer_destination_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
