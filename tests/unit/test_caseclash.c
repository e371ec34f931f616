#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "caseclash.h"

#define T0	1700000000LL	/* a fixed time: tests read no clock */

static void
add(struct entries *l, const char *path, enum entry_type type)
{
	struct ts_error	 err = { 0 };

	assert_int_equal(entries_add(l, path, type, 0, T0 * 1000000000LL,
	    0644, type == ENTRY_SYMLINK ? "t" : NULL, &err), 0);
}

static const char *
path_of(const struct entries *l, size_t i)
{
	return l->v[i].path;
}

/* A tree without such names has no clash (the common case costs no
 * question to the server). */
static void
test_caseclash_none(void **state)
{
	struct entries		 l;
	struct case_clash	*v;
	size_t			 n;

	(void)state;
	entries_init(&l);
	add(&l, "a", ENTRY_FILE);
	add(&l, "b", ENTRY_DIR);
	add(&l, "b/a", ENTRY_FILE);
	add(&l, "ab", ENTRY_FILE);
	assert_int_equal(entries_sort(&l, NULL), 0);
	assert_int_equal(case_clashes(&l, &v, &n, NULL), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	entries_dispose(&l);
}

/* The first of a group in list order is kept; three of a kind give two. */
static void
test_caseclash_keeps_first(void **state)
{
	struct entries		 l;
	struct case_clash	*v;
	size_t			 n;

	(void)state;
	entries_init(&l);
	add(&l, "x.TXT", ENTRY_FILE);
	add(&l, "X.txt", ENTRY_FILE);
	add(&l, "x.txt", ENTRY_SYMLINK);
	add(&l, "other", ENTRY_FILE);
	assert_int_equal(entries_sort(&l, NULL), 0);
	assert_int_equal(case_clashes(&l, &v, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(path_of(&l, v[0].keep), "X.txt");
	assert_string_equal(path_of(&l, v[0].idx), "x.TXT");
	assert_string_equal(path_of(&l, v[1].keep), "X.txt");
	assert_string_equal(path_of(&l, v[1].idx), "x.txt");
	free(v);
	entries_dispose(&l);
}

/* A directory left out takes its contents along, unreported; a clash
 * inside a kept directory is reported. */
static void
test_caseclash_directory_contents_go_with_it(void **state)
{
	struct entries		 l;
	struct case_clash	*v;
	size_t			 n;

	(void)state;
	entries_init(&l);
	add(&l, "Dir", ENTRY_DIR);
	add(&l, "Dir/f", ENTRY_FILE);
	add(&l, "dir", ENTRY_DIR);
	add(&l, "dir/f", ENTRY_FILE);
	add(&l, "dir/g", ENTRY_FILE);
	add(&l, "keep", ENTRY_DIR);
	add(&l, "keep/A", ENTRY_FILE);
	add(&l, "keep/a", ENTRY_FILE);
	assert_int_equal(entries_sort(&l, NULL), 0);
	assert_int_equal(case_clashes(&l, &v, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(path_of(&l, v[0].idx), "dir");
	assert_string_equal(path_of(&l, v[0].keep), "Dir");
	assert_string_equal(path_of(&l, v[1].idx), "keep/a");
	assert_string_equal(path_of(&l, v[1].keep), "keep/A");
	free(v);
	entries_dispose(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caseclash_none),
		cmocka_unit_test(test_caseclash_keeps_first),
		cmocka_unit_test(test_caseclash_directory_contents_go_with_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
