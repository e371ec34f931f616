#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "publish.h"

/* A release name is one safe path component: never a path, "..", a
 * hidden name or an option. */
static void
test_publish_release_names_are_single_safe_names(void **state)
{
	char	 long_name[PUBLISH_NAME_MAX + 2];

	(void)state;
	assert_true(ts_publish_release_valid("v1.4.2"));
	assert_true(ts_publish_release_valid("20261204-203000"));
	assert_true(ts_publish_release_valid("9f3c2ab"));
	assert_true(ts_publish_release_valid("1.0+build_7"));
	assert_false(ts_publish_release_valid(NULL));
	assert_false(ts_publish_release_valid(""));
	assert_false(ts_publish_release_valid("."));
	assert_false(ts_publish_release_valid(".."));
	assert_false(ts_publish_release_valid("../x"));
	assert_false(ts_publish_release_valid("x/y"));
	assert_false(ts_publish_release_valid(".hidden"));
	assert_false(ts_publish_release_valid("-rf"));
	assert_false(ts_publish_release_valid("a b"));
	assert_false(ts_publish_release_valid("a\nb"));
	assert_false(ts_publish_release_valid("caf\xc3\xa9"));
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_false(ts_publish_release_valid(long_name));
	long_name[PUBLISH_NAME_MAX] = '\0';
	assert_true(ts_publish_release_valid(long_name));
}

/* The names under ROOT/releases publish makes, and only those. */
static void
test_publish_name_kinds(void **state)
{
	const char	*name;
	size_t		 len;

	(void)state;
	assert_int_equal(publish_name_kind("v2", &name, &len), BACKUP_COMPLETE);
	assert_int_equal(len, 2);
	assert_int_equal(publish_name_kind(".v2.in-progress", &name, &len),
	    BACKUP_IN_PROGRESS);
	assert_int_equal(len, 2);
	assert_memory_equal(name, "v2", 2);
	assert_int_equal(publish_name_kind(".v2.removing", &name, &len),
	    BACKUP_REMOVING);
	assert_int_equal(publish_name_kind(".in-progress", &name, &len),
	    BACKUP_FOREIGN);
	assert_int_equal(publish_name_kind("..in-progress", &name, &len),
	    BACKUP_FOREIGN);
	assert_int_equal(publish_name_kind(".notes", &name, &len),
	    BACKUP_FOREIGN);
	assert_int_equal(publish_name_kind("a b", &name, &len),
	    BACKUP_FOREIGN);
}

/* current's target names a release only as releases/NAME. */
static void
test_publish_link_release(void **state)
{
	char	 out[PUBLISH_NAME_MAX + 1];

	(void)state;
	assert_true(publish_link_release("releases/v1", out, sizeof(out)));
	assert_string_equal(out, "v1");
	assert_true(publish_link_release("/srv/www/releases/v2/", out,
	    sizeof(out)));
	assert_string_equal(out, "v2");
	assert_false(publish_link_release("v1", out, sizeof(out)));
	assert_false(publish_link_release("elsewhere/v1", out, sizeof(out)));
	assert_false(publish_link_release("xreleases/v1", out, sizeof(out)));
	assert_false(publish_link_release("releases/..", out, sizeof(out)));
	assert_false(publish_link_release("releases/", out, sizeof(out)));
	assert_false(publish_link_release("releases/v1", out, 2));
}

static const struct backup_snap *
find(const struct backup_snap *v, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	fail_msg("%s not planned", name);
	return NULL;
}

/* Newest N by publication time (not by name), current and the one before
 * it always; unfinished uploads removed and never counted. */
static void
test_publish_prune_keeps_newest_current_and_previous(void **state)
{
	/* "a" was published last: names do not order releases. */
	const struct publish_rel v[] = {
		{ "b", 1000, BACKUP_COMPLETE },
		{ "c", 1001, BACKUP_COMPLETE },
		{ "d", 1002, BACKUP_COMPLETE },
		{ ".e.in-progress", 2000, BACKUP_IN_PROGRESS },
		{ "a", 1003, BACKUP_COMPLETE },
		{ ".z.removing", 5, BACKUP_REMOVING },
	};
	struct backup_snap	 out[6];
	size_t			 n = sizeof(v) / sizeof(v[0]);

	(void)state;
	/* After a rollback to c: c and b, its predecessor, stay. */
	publish_prune_plan(v, n, 1, "c", out);
	assert_true(find(out, n, "a")->keep);
	assert_string_equal(find(out, n, "a")->reason, "newest");
	assert_true(find(out, n, "c")->keep);
	assert_string_equal(find(out, n, "c")->reason, "current");
	assert_true(find(out, n, "b")->keep);
	assert_string_equal(find(out, n, "b")->reason, "previous");
	assert_false(find(out, n, "d")->keep);
	assert_string_equal(find(out, n, "d")->reason, "expired");
	assert_false(find(out, n, ".e.in-progress")->keep);
	assert_string_equal(find(out, n, ".e.in-progress")->reason,
	    "incomplete");
	assert_false(find(out, n, ".z.removing")->keep);
	/* The in-progress one does not count toward keep. */
	publish_prune_plan(v, n, 2, "a", out);
	assert_true(find(out, n, "a")->keep);
	assert_true(find(out, n, "d")->keep);
	assert_false(find(out, n, "c")->keep);
	assert_false(find(out, n, "b")->keep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_publish_release_names_are_single_safe_names),
		cmocka_unit_test(test_publish_name_kinds),
		cmocka_unit_test(test_publish_link_release),
		cmocka_unit_test(
		    test_publish_prune_keeps_newest_current_and_previous),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
