/* Temporary names: one strict form, within 255 bytes, and the rule that
 * says whose they are. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tempname.h"

static const char *
base_of(const char *p)
{
	const char	*s = strrchr(p, '/');

	return s != NULL ? s + 1 : p;
}

/* What tempname_make writes, tempname_parse reads back as this run's. */
static void
test_tempname_made_name_parses_as_ours(void **state)
{
	struct tempname_info	 i;
	char			*t;

	(void)state;
	assert_int_equal(tempname_make(&t, "dir/sub/file.txt", TEMPNAME_TMP),
	    0);
	assert_true(strncmp(t, "dir/sub/.file.txt.treesync-tmp.", 31) == 0);
	assert_true(tempname_parse(base_of(t), &i));
	assert_int_equal(i.kind, TEMPNAME_TMP);
	assert_int_equal(i.pid, (uint32_t)getpid());
	/* This process's own files are never another run's orphans. */
	assert_false(tempname_is_orphan(&i, i.started + 7 * 86400));
	free(t);
	assert_int_equal(tempname_make(&t, "a", TEMPNAME_OLD), 0);
	assert_true(tempname_parse(t, &i));
	assert_int_equal(i.kind, TEMPNAME_OLD);
	free(t);
}

/* A 255-byte name still gets a temporary name of at most 255 bytes, and
 * a multi-byte character is never cut in two. */
static void
test_tempname_long_names_stay_within_255_bytes(void **state)
{
	char	 name[256], utf[256], *t;

	(void)state;
	memset(name, 'a', 255);
	name[255] = '\0';
	assert_int_equal(tempname_make(&t, name, TEMPNAME_TMP), 0);
	assert_true(strlen(t) <= 255);
	assert_true(tempname_parse(t, NULL));
	free(t);
	/* 127 two-byte characters and one byte: 255 bytes. */
	for (int i = 0; i < 127; i++)
		memcpy(utf + 2 * i, "\xc3\xa9", 2);
	utf[254] = 'x';
	utf[255] = '\0';
	assert_int_equal(tempname_make(&t, utf, TEMPNAME_TMP), 0);
	assert_true(strlen(t) <= 255);
	/* After the leading '.', whole characters only. */
	assert_true(strstr(t, "\xc3.treesync-tmp.") == NULL);
	assert_true(tempname_parse(t, NULL));
	free(t);
}

/* Look-alikes are a user's files: only the exact form is ours. */
static void
test_tempname_look_alikes_are_not_ours(void **state)
{
	static const char *const not_ours[] = {
		".y.treesync-tmp.z",
		".x.treesync-old.12345678",
		".f.treesync-tmp.abcdefgh",		/* the old form */
		"f.treesync-tmp.0000001zzzzzz00001-abcdef",	/* no dot */
		".treesync-tmp.0000001zzzzzz00001-abcdef",	/* no name */
		".f.treesync-tmp.0000001zzzzzz00001-abcdeF",	/* upper */
		".f.treesync-tmp.0000001zzzzzz00001_abcdef",
		".f.treesync-tmp.0000001zzzzzz00001-abcdefg",
		".f.treesync-tmp.0000001zzzzzz0001-abcdef",
		".f.treesync-xxx.0000001zzzzzz00001-abcdef",
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(not_ours) / sizeof(not_ours[0]); i++)
		assert_false(tempname_parse(not_ours[i], NULL));
	assert_true(tempname_parse(".f.treesync-tmp.0000001zzzzzz00001-abcdef",
	    NULL));
}

/* Another machine's run: left alone for a day, then an orphan. */
static void
test_tempname_foreign_runs_age_out(void **state)
{
	struct tempname_info	 i;

	(void)state;
	assert_true(tempname_parse(".f.treesync-tmp.0000001zzzzzz00001-abcdef",
	    &i));
	assert_int_equal(i.started, 1);
	assert_false(tempname_is_orphan(&i, 1 + TEMPNAME_FOREIGN_AGE));
	assert_true(tempname_is_orphan(&i, 2 + TEMPNAME_FOREIGN_AGE));
}

/* The marks of whole trees, and the visible name in a temporary one. */
static void
test_tempname_marks_and_visible(void **state)
{
	const char	*vis;
	size_t		 len;
	char		*t;

	(void)state;
	t = tempname_mark("20261204", TEMPNAME_IN_PROGRESS);
	assert_string_equal(t, ".20261204.in-progress");
	assert_true(tempname_marked(t, TEMPNAME_IN_PROGRESS, &len));
	assert_int_equal(len, 8);
	assert_false(tempname_marked(t, TEMPNAME_REMOVING, &len));
	free(t);
	t = tempname_mark("r1", TEMPNAME_REMOVING);
	assert_string_equal(t, ".r1.removing");
	assert_true(tempname_marked(t, TEMPNAME_REMOVING, &len));
	assert_int_equal(len, 2);
	free(t);
	assert_false(tempname_marked("..removing", TEMPNAME_REMOVING, &len));
	assert_false(tempname_marked("x.removing", TEMPNAME_REMOVING, &len));
	assert_int_equal(tempname_make_part(&t, "d/big.iso",
	    "0123456789abcdef0123456789abcdef"), 0);
	assert_true(tempname_visible(base_of(t), &vis, &len));
	assert_int_equal(len, 7);
	assert_memory_equal(vis, "big.iso", 7);
	free(t);
	assert_false(tempname_visible("big.iso", &vis, &len));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tempname_made_name_parses_as_ours),
		cmocka_unit_test(test_tempname_marks_and_visible),
		cmocka_unit_test(test_tempname_long_names_stay_within_255_bytes),
		cmocka_unit_test(test_tempname_look_alikes_are_not_ours),
		cmocka_unit_test(test_tempname_foreign_runs_age_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
