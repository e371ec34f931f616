#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "entries.h"

#define T0	1700000000LL	/* a fixed time: tests read no clock */

static void
add_ok(struct entries *l, const char *path, enum entry_type type)
{
	struct ts_error	 err = { 0 };

	assert_int_equal(entries_add(l, path, type, 0, T0 * 1000000000LL,
	    0644, type == ENTRY_SYMLINK ? "target" : NULL, &err), 0);
}

static int
sign(int x)
{
	return (x > 0) - (x < 0);
}

/* The order by its definition: split into components, compare those
 * byte-wise, a shorter list of components first. */
static int
reference_cmp(const char *a, const char *b)
{
	size_t	 na, nb, n;
	int	 c;

	for (;;) {
		na = strcspn(a, "/");
		nb = strcspn(b, "/");
		n = na < nb ? na : nb;
		if ((c = memcmp(a, b, n)) != 0)
			return sign(c);
		if (na != nb)
			return na < nb ? -1 : 1;
		a += na;
		b += nb;
		if (*a == '\0' || *b == '\0')
			return (*a != '\0') - (*b != '\0');
		a++;
		b++;
	}
}

/* Names whose byte order differs from the component order. */
static void
test_entries_sort_tricky_names(void **state)
{
	static const char *const in[] = {
	    "a.txt", "b", "a b", "\xc3\xa9t\xc3\xa9", "a/b/c", "a-", "a",
	    "a/\xc3\xa4", "a/b", "-x", "a/b c", "a/b/c d", ".hidden", "A",
	};
	static const char *const want[] = {
	    "-x", ".hidden", "A", "a", "a/b", "a/b/c", "a/b/c d", "a/b c",
	    "a/\xc3\xa4", "a b", "a-", "a.txt", "b", "\xc3\xa9t\xc3\xa9",
	};
	struct entries	 l;
	struct ts_error	 err = { 0 };
	size_t		 i;

	(void)state;
	entries_init(&l);
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		add_ok(&l, in[i], strcmp(in[i], "a") == 0 ? ENTRY_DIR :
		    ENTRY_FILE);
	assert_int_equal(entries_sort(&l, &err), 0);
	assert_true(l.sorted);
	assert_int_equal(l.n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < l.n; i++)
		assert_string_equal(l.v[i].path, want[i]);
	entries_dispose(&l);
}

/* A directory's contents follow it, contiguous, before its siblings. */
static void
test_entries_cmp_puts_contents_after_their_dir(void **state)
{
	(void)state;
	assert_true(entries_path_cmp("a", "a/b") < 0);
	assert_true(entries_path_cmp("a/b", "a b") < 0);
	assert_true(entries_path_cmp("a/b", "a-") < 0);
	assert_true(entries_path_cmp("a/b", "a.txt") < 0);
	assert_true(entries_path_cmp("a/zzz", "a.txt") < 0);
	assert_true(entries_path_cmp("a", "a/") < 0);
	assert_true(entries_path_cmp("a/", "a/b") < 0);
	assert_true(entries_path_cmp("a/", "a b") < 0);
	assert_true(entries_path_cmp("a/\xff", "a!") < 0);
	assert_true(entries_path_cmp("\xc3\xa9", "z") > 0);	/* unsigned */
	assert_int_equal(entries_path_cmp("a/b", "a/b"), 0);
	assert_true(entries_path_cmp("", "a") < 0);
}

/* entries_path_cmp agrees with the component-wise definition on every
 * pair of a set of awkward names. */
static void
test_entries_cmp_matches_componentwise_definition(void **state)
{
	static const char *const names[] = {
	    "a", "a/", "a/b", "a b", "a-", "a.txt", "a/b/c", "a/b.c", "a/b c",
	    "ab", "a/a", "a0", "a\x01", "a/\x01", "\xc3\xa9", "\xff", "a/\xff",
	    "-", ".", "b/a", "b", "ba/", "b/a/", "a!b/c", "a/!",
	};
	size_t	 i, j, n = sizeof(names) / sizeof(names[0]);

	(void)state;
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			if (sign(entries_path_cmp(names[i], names[j])) !=
			    reference_cmp(names[i], names[j]))
				fail_msg("\"%s\" vs \"%s\"", names[i],
				    names[j]);
}

static void
test_entries_find_by_path(void **state)
{
	static const char *const names[] = {
	    "a", "a/b", "a b", "a.txt", "c/d/e", "c", "c/d", "z",
	};
	struct entries	 l;
	struct ts_error	 err = { 0 };
	const struct entry *e;
	size_t		 i;

	(void)state;
	entries_init(&l);
	assert_null(entries_find(&l, "a"));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		add_ok(&l, names[i], ENTRY_FILE);
	assert_int_equal(entries_sort(&l, &err), 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_non_null(e = entries_find(&l, names[i]));
		assert_string_equal(e->path, names[i]);
	}
	assert_null(entries_find(&l, "a/"));
	assert_null(entries_find(&l, "b"));
	assert_null(entries_find(&l, "c/d/e/f"));
	assert_null(entries_find(&l, "zz"));
	assert_null(entries_find(&l, ""));
	entries_dispose(&l);
}

/* Paths come from servers too: only clean relative paths get in. */
static void
test_entries_bad_paths_are_refused(void **state)
{
	static const char *const bad[] = {
	    "", "/a", "a/", "a//b", "./a", "a/./b", "a/.", "..", "a/../b",
	    "/", ".",
	};
	static const char *const good[] = {
	    ".a", "..a", "a..", "-a", "a\nb", "a/.b", "...", " ",
	};
	struct entries	 l;
	struct ts_error	 err;
	size_t		 i;

	(void)state;
	entries_init(&l);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(entries_add(&l, bad[i], ENTRY_FILE, 0, 0, 0,
		    NULL, &err), TS_EINVAL);
		assert_int_equal(err.code, TS_EINVAL);
		assert_non_null(strstr(err.msg, "bad entry path"));
	}
	assert_int_equal(l.n, 0);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		add_ok(&l, good[i], ENTRY_FILE);
	assert_int_equal(l.n, sizeof(good) / sizeof(good[0]));
	entries_dispose(&l);
}

static void
test_entries_duplicate_is_an_error(void **state)
{
	struct entries	 l;
	struct ts_error	 err = { 0 };

	(void)state;
	entries_init(&l);
	add_ok(&l, "x/y", ENTRY_FILE);
	add_ok(&l, "x", ENTRY_DIR);
	add_ok(&l, "x/y", ENTRY_SYMLINK);
	assert_int_equal(entries_sort(&l, &err), TS_ERROR);
	assert_string_equal(err.msg, "duplicate entry \"x/y\"");
	entries_dispose(&l);
}

/* A list added in order (as walk_local makes it) is only checked: kept
 * as it is, and a duplicate in it is still an error. */
static void
test_entries_sorted_input_is_checked(void **state)
{
	struct entries	 l;
	struct ts_error	 err = { 0 };

	(void)state;
	entries_init(&l);
	add_ok(&l, "a", ENTRY_DIR);
	add_ok(&l, "a/x", ENTRY_FILE);
	add_ok(&l, "a b", ENTRY_FILE);
	add_ok(&l, "a.txt", ENTRY_FILE);
	assert_int_equal(entries_sort(&l, &err), 0);
	assert_string_equal(l.v[0].path, "a");
	assert_string_equal(l.v[1].path, "a/x");
	assert_string_equal(l.v[2].path, "a b");
	assert_string_equal(l.v[3].path, "a.txt");
	add_ok(&l, "a.txt", ENTRY_FILE);
	assert_int_equal(entries_sort(&l, &err), TS_ERROR);
	assert_string_equal(err.msg, "duplicate entry \"a.txt\"");
	entries_dispose(&l);
}

/* Every field is kept; the mode loses its type bits; a link is copied. */
static void
test_entries_fields_are_kept(void **state)
{
	struct entries	 l;
	struct ts_error	 err = { 0 };
	char		 target[] = "../t";
	const struct entry *e;

	(void)state;
	entries_init(&l);
	assert_int_equal(entries_add(&l, "f", ENTRY_FILE, 123,
	    T0 * 1000000000LL + 5, 0100755, "ignored", &err), 0);
	assert_int_equal(entries_add(&l, "l", ENTRY_SYMLINK, 4, -7, 0120777,
	    target, &err), 0);
	target[0] = 'X';
	assert_int_equal(entries_sort(&l, &err), 0);
	assert_non_null(e = entries_find(&l, "f"));
	assert_int_equal(e->type, ENTRY_FILE);
	assert_int_equal(e->size, 123);
	assert_int_equal(e->mtime_ns, T0 * 1000000000LL + 5);
	assert_int_equal(e->mode, 0755);
	assert_null(e->link);
	assert_null(e->hash);
	assert_int_equal(e->flags, 0);
	assert_non_null(e = entries_find(&l, "l"));
	assert_string_equal(e->link, "../t");
	assert_int_equal(e->mtime_ns, -7);
	assert_int_equal(e->mode, 0777);
	entries_dispose(&l);
}

static void
test_entries_hash_is_set_on_one_entry(void **state)
{
	struct entries	 l;
	struct ts_error	 err = { 0 };
	uint8_t		 h[32];
	const struct entry *e;

	(void)state;
	memset(h, 0xab, sizeof(h));
	entries_init(&l);
	add_ok(&l, "a", ENTRY_FILE);
	add_ok(&l, "b", ENTRY_FILE);
	assert_int_equal(entries_sort(&l, &err), 0);
	e = entries_find(&l, "b");
	assert_int_equal(entries_set_hash(&l, e, h, 16, &err), 0);
	assert_non_null(e->hash);
	assert_int_equal(e->hash->len, 16);
	assert_memory_equal(e->hash->bytes, h, 16);
	assert_null(entries_find(&l, "a")->hash);
	entries_dispose(&l);
}

static void
test_entries_dispose_accepts_null_and_empty(void **state)
{
	struct entries	 l;

	(void)state;
	entries_dispose(NULL);
	entries_init(&l);
	entries_dispose(&l);
	entries_dispose(&l);
	assert_int_equal(entries_mem_usage(&l), 0);
}

/*
 * The memory target: under 200 bytes per entry, all-in.  A million
 * entries shaped like a source tree (directories of 20 to 40 files, paths
 * 59 bytes long on average); the figure is printed.  Measured: 109 bytes
 * per entry (48 the struct, 60 the path with its NUL, the rest the
 * array's growth slack, which at other counts reaches about 130).
 */
static void
test_entries_memory_per_entry_under_200_bytes(void **state)
{
	struct entries	 l;
	struct ts_error	 err = { 0 };
	char		 path[256];
	size_t		 n = 0, chars = 0, d = 0, f, usage;
	double		 per;

	(void)state;
	entries_init(&l);
	while (n < 1000000) {
		snprintf(path, sizeof(path), "home/alice/projects/"
		    "component_%02zu/src/module_%04zu", d % 50, d);
		assert_int_equal(entries_add(&l, path, ENTRY_DIR, 0, 0, 0755,
		    NULL, &err), 0);
		chars += strlen(path);
		n++;
		for (f = 0; f < 20 + d % 21 && n < 1000000; f++, n++) {
			snprintf(path, sizeof(path), "home/alice/projects/"
			    "component_%02zu/src/module_%04zu/file_%03zu.c",
			    d % 50, d, f);
			assert_int_equal(entries_add(&l, path, ENTRY_FILE,
			    1000 + f, 0, 0644, NULL, &err), 0);
			chars += strlen(path);
		}
		d++;
	}
	assert_int_equal(entries_sort(&l, &err), 0);
	usage = entries_mem_usage(&l);
	per = (double)usage / (double)l.n;
	print_message("%zu entries, paths %.1f bytes on average: %zu bytes, "
	    "%.1f bytes per entry\n", l.n, (double)chars / (double)l.n, usage,
	    per);
	assert_true(per < 200.0);
	entries_dispose(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entries_sort_tricky_names),
		cmocka_unit_test(test_entries_cmp_puts_contents_after_their_dir),
		cmocka_unit_test(test_entries_cmp_matches_componentwise_definition),
		cmocka_unit_test(test_entries_find_by_path),
		cmocka_unit_test(test_entries_bad_paths_are_refused),
		cmocka_unit_test(test_entries_duplicate_is_an_error),
		cmocka_unit_test(test_entries_sorted_input_is_checked),
		cmocka_unit_test(test_entries_fields_are_kept),
		cmocka_unit_test(test_entries_hash_is_set_on_one_entry),
		cmocka_unit_test(test_entries_dispose_accepts_null_and_empty),
		cmocka_unit_test(test_entries_memory_per_entry_under_200_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
