#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "filter.h"

struct row {
	const char	*pattern;	/* one --exclude rule */
	const char	*path;
	bool		 is_dir;
	bool		 excluded;
};

/* Patterns x paths x is_dir -> excluded, one exclude rule each. */
static const struct row rows[] = {
	/* No '/': the last component, at any depth. */
	{ "*.o",	"a.o",		false,	true },
	{ "*.o",	"x/y/a.o",	false,	true },
	{ "*.o",	"a.o/b",	false,	false },
	{ "*.o",	"a.c",		false,	false },
	{ "*.o",	".o",		false,	true },
	{ "foo",	"foo",		true,	true },
	{ "foo",	"x/foo",	false,	true },
	{ "foo",	"foobar",	false,	false },
	{ "foo",	"afoo",		false,	false },
	{ "*",		"a/b",		false,	true },
	{ "a*",		"abc/d",	false,	false },
	/* Leading '/': anchored to the root. */
	{ "/foo",	"foo",		false,	true },
	{ "/foo",	"x/foo",	false,	false },
	{ "/a*",	"abc/d",	false,	false },
	{ "/a*/d",	"abc/d",	false,	true },
	{ "/a/*",	"a/x",		false,	true },
	{ "/a/*",	"a/x/y",	false,	false },
	{ "/a/**",	"a/x/y",	false,	true },
	{ "/a/**",	"a",		true,	false },
	{ "/a?b",	"a/b",		false,	false },
	/* Trailing '/': directories only. */
	{ "foo/",	"foo",		true,	true },
	{ "foo/",	"foo",		false,	false },
	{ "foo/",	"x/foo",	true,	true },
	{ "*/",		"x",		true,	true },
	{ "*/",		"x",		false,	false },
	{ "/a/b/",	"a/b",		true,	true },
	{ "a/b/",	"x/a/b",	true,	true },
	{ "a/b/",	"x/a/b",	false,	false },
	/* Inner '/': the end of the path, at a component boundary. */
	{ "b/c",	"b/c",		false,	true },
	{ "b/c",	"a/b/c",	false,	true },
	{ "b/c",	"ab/c",		false,	false },
	{ "b/c",	"b/c/d",	false,	false },
	{ "b/*.c",	"x/b/y.c",	false,	true },
	{ "b/*.c",	"b/x/y.c",	false,	false },
	/* "**" crosses '/', may match no directory between slashes, and
	 * makes the pattern match whole paths. */
	{ "a/**/b",	"a/b",		false,	true },
	{ "a/**/b",	"a/x/y/b",	false,	true },
	{ "a/**/b",	"a/xb",		false,	false },
	{ "a/**/b",	"z/a/x/b",	false,	true },
	{ "**/b",	"b",		false,	true },
	{ "**/b",	"x/y/b",	false,	true },
	{ "**/b",	"x/yb",		false,	false },
	{ "**",		"a/b/c",	false,	true },
	{ "foo**",	"x/foobar/baz",	false,	true },
	{ "foo**",	"x/bar/baz",	false,	false },
	{ "a**z",	"a/b/z",	false,	true },
	{ "/x/**.tmp",	"x/a/b.tmp",	false,	true },
	/* "d", a slash, "***": the directory and all in it. */
	{ "x/***",	"x",		true,	true },
	{ "x/***",	"x/a/b",	false,	true },
	{ "x/***",	"xa",		false,	false },
	{ "x/***",	"y/x/a",	false,	true },
	{ "/x/***",	"y/x/a",	false,	false },
	/* '?' is one character, never '/'. */
	{ "?.c",	"a.c",		false,	true },
	{ "?.c",	"ab.c",		false,	false },
	{ "?.c",	".c",		false,	false },
	{ "a?b",	"a/b",		false,	false },
	{ "???",	"\xc3\xa9t",	false,	true },	/* bytes, not chars */
	/* Classes. */
	{ "[abc].txt",	"b.txt",	false,	true },
	{ "[abc].txt",	"d.txt",	false,	false },
	{ "[!abc].txt",	"d.txt",	false,	true },
	{ "[!abc].txt",	"a.txt",	false,	false },
	{ "[^abc].txt",	"a.txt",	false,	false },
	{ "[a-c]x",	"bx",		false,	true },
	{ "[a-c]x",	"dx",		false,	false },
	{ "[]]",	"]",		false,	true },
	{ "[!]]",	"a",		false,	true },
	{ "[!]]",	"]",		false,	false },
	{ "[a\\-z]",	"-",		false,	true },
	{ "[a\\-z]",	"m",		false,	false },
	{ "[a-]",	"-",		false,	true },
	{ "/a[/]b",	"a/b",		false,	false },
	{ "/a[!x]b",	"a/b",		false,	false },
	{ "[0-9][0-9]",	"42",		false,	true },
	{ "[0-9][0-9]",	"4a",		false,	false },
	/* Backslash escapes. */
	{ "\\*",	"*",		false,	true },
	{ "\\*",	"a",		false,	false },
	{ "\\[x]",	"[x]",		false,	true },
	{ "\\?",	"a",		false,	false },
	{ "a\\\\b",	"a\\b",		false,	true },
	/* Odd names are plain bytes. */
	{ "a b",	"d/a b",	false,	true },
	{ "-x",		"-x",		false,	true },
	{ "\xc3\xa9*",	"\xc3\xa9t\xc3\xa9",	false,	true },
	{ "*\n*",	"a\nb",		false,	true },
	{ "'q\"",	"'q\"",		false,	true },
	/* Backtracking stays cheap and right. */
	{ "*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
							false,	false },
	{ "**a**a**a**a**a**b", "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a",
							false,	false },
	{ "*a*b",	"xaxxbxxb",	false,	true },
};

static void
test_filter_pattern_table(void **state)
{
	struct ts_error	 err;
	struct filter	 f;
	size_t		 i, bad = 0;
	bool		 got;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&err, 0, sizeof(err));
		filter_init(&f);
		assert_int_equal(filter_add(&f, FILTER_EXCLUDE, rows[i].pattern,
		    &err), 0);
		got = filter_excluded(&f, rows[i].path, rows[i].is_dir);
		if (got != rows[i].excluded) {
			print_error("row %zu: \"%s\" on \"%s\"%s: got %s\n", i,
			    rows[i].pattern, rows[i].path,
			    rows[i].is_dir ? " (dir)" : "",
			    got ? "excluded" : "included");
			bad++;
		}
		filter_dispose(&f);
	}
	assert_int_equal(bad, 0);
}

/* The first matching rule decides; no match means included. */
static void
test_filter_first_match_wins(void **state)
{
	struct ts_error	 err = { 0 };
	struct filter	 f;

	(void)state;
	filter_init(&f);
	assert_int_equal(filter_add(&f, FILTER_INCLUDE, "keep.o", &err), 0);
	assert_int_equal(filter_add(&f, FILTER_EXCLUDE, "*.o", &err), 0);
	assert_false(filter_excluded(&f, "x/keep.o", false));
	assert_true(filter_excluded(&f, "x/other.o", false));
	assert_false(filter_excluded(&f, "x/other.c", false));
	filter_dispose(&f);

	filter_init(&f);
	assert_int_equal(filter_add(&f, FILTER_EXCLUDE, "*.o", &err), 0);
	assert_int_equal(filter_add(&f, FILTER_INCLUDE, "keep.o", &err), 0);
	assert_true(filter_excluded(&f, "x/keep.o", false));
	filter_dispose(&f);
}

/* The rsync idiom: include some, exclude the rest. */
static void
test_filter_include_then_exclude_all(void **state)
{
	struct ts_error	 err = { 0 };
	struct filter	 f;

	(void)state;
	filter_init(&f);
	assert_int_equal(filter_add(&f, FILTER_INCLUDE, "*/", &err), 0);
	assert_int_equal(filter_add(&f, FILTER_INCLUDE, "*.c", &err), 0);
	assert_int_equal(filter_add(&f, FILTER_EXCLUDE, "*", &err), 0);
	assert_false(filter_excluded(&f, "src", true));
	assert_false(filter_excluded(&f, "src/a.c", false));
	assert_true(filter_excluded(&f, "src/a.h", false));
	assert_true(filter_excluded(&f, "README", false));
	filter_dispose(&f);
}

static void
test_filter_null_or_empty_excludes_nothing(void **state)
{
	struct filter	 f;

	(void)state;
	assert_false(filter_excluded(NULL, "a", false));
	filter_init(&f);
	assert_false(filter_excluded(&f, "a", true));
	filter_dispose(&f);
	filter_dispose(&f);
	filter_dispose(NULL);
}

static void
test_filter_bad_patterns_are_refused(void **state)
{
	static const struct {
		const char	*pattern, *msg;
	} bad[] = {
		{ "", "bad pattern \"\": empty pattern" },
		{ "/", "bad pattern \"/\": empty pattern" },
		{ "[ab", "bad pattern \"[ab\": no ']' for '['" },
		{ "x[]", "bad pattern \"x[]\": no ']' for '['" },
		{ "[!]", "bad pattern \"[!]\": no ']' for '['" },
		{ "[a\\]", "bad pattern \"[a\\]\": no ']' for '['" },
		{ "ab\\", "bad pattern \"ab\\\": '\\' at the end" },
	};
	struct ts_error	 err;
	struct filter	 f;
	size_t		 i;

	(void)state;
	filter_init(&f);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(filter_add(&f, FILTER_EXCLUDE,
		    bad[i].pattern, &err), TS_EINVAL);
		assert_string_equal(err.msg, bad[i].msg);
	}
	assert_int_equal(f.n, 0);
	filter_dispose(&f);
}

/* --exclude-from: comments, blank lines, "+ " and "- ", CRLF. */
static void
test_filter_text_rules(void **state)
{
	static const char text[] =
	    "# a comment\n"
	    "; another\n"
	    "\n"
	    "+ keep.log\n"
	    "- *.log\n"
	    "*.tmp\r\n"
	    "build/\n"
	    "-nodash\n"
	    "+plus";			/* no final newline */
	struct ts_error	 err = { 0 };
	struct filter	 f;

	(void)state;
	filter_init(&f);
	assert_int_equal(filter_add_text(&f, "ex", text, sizeof(text) - 1,
	    &err), 0);
	assert_int_equal(f.n, 6);
	assert_false(filter_excluded(&f, "d/keep.log", false));
	assert_true(filter_excluded(&f, "d/a.log", false));
	assert_true(filter_excluded(&f, "b.tmp", false));
	assert_false(filter_excluded(&f, "b.tmp\r", false));
	assert_true(filter_excluded(&f, "x/build", true));
	assert_false(filter_excluded(&f, "x/build", false));
	assert_true(filter_excluded(&f, "-nodash", false));
	assert_true(filter_excluded(&f, "+plus", false));
	assert_false(filter_excluded(&f, "# a comment", false));
	filter_dispose(&f);
}

static void
test_filter_text_error_names_the_line(void **state)
{
	static const char text[] = "ok\n\n[bad\n";
	struct ts_error	 err = { 0 };
	struct filter	 f;

	(void)state;
	filter_init(&f);
	assert_int_equal(filter_add_text(&f, "ex.txt", text, sizeof(text) - 1,
	    &err), TS_EINVAL);
	assert_string_equal(err.msg, "exclude file \"ex.txt\", line 3: bad "
	    "pattern \"[bad\": no ']' for '['");
	filter_dispose(&f);
}

static void
test_filter_file_is_read(void **state)
{
	char		 path[] = "/tmp/ts-filter-XXXXXX";
	static const char text[] = "+ a.o\n*.o\n";
	struct ts_error	 err = { 0 };
	struct filter	 f;
	int		 fd;

	(void)state;
	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, text, sizeof(text) - 1), sizeof(text) - 1);
	close(fd);
	filter_init(&f);
	assert_int_equal(filter_add_file(&f, path, &err), 0);
	unlink(path);
	assert_false(filter_excluded(&f, "a.o", false));
	assert_true(filter_excluded(&f, "b.o", false));
	filter_dispose(&f);
}

static void
test_filter_missing_file_is_enoent(void **state)
{
	struct ts_error	 err = { 0 };
	struct filter	 f;

	(void)state;
	filter_init(&f);
	assert_int_equal(filter_add_file(&f, "/nonexistent/ts-ex", &err),
	    TS_ENOENT);
	assert_string_equal(err.msg, "open exclude file \"/nonexistent/ts-ex\""
	    ": no such file or directory");
	filter_dispose(&f);
}

/* filter_match tolerates what filter_add refuses: no overrun, no match. */
static void
test_filter_match_unchecked_pattern_is_safe(void **state)
{
	(void)state;
	assert_false(filter_match("[ab", "a"));
	assert_false(filter_match("[", "["));
	assert_true(filter_match("a\\", "a\\"));
	assert_false(filter_match("*[", "x"));
}

/*
 * Found by fuzz_filter: each "**" between slashes tries matching no
 * directory as well as some, and a failure that ran out of text was
 * forgotten there, so this took 2^40 steps (a ctest timeout) instead of
 * a few hundred.
 */
static void
test_filter_many_starstar_dirs_end_quickly(void **state)
{
	char	 p[256] = "", t[256] = "";
	int	 i;

	(void)state;
	for (i = 0; i < 40; i++) {
		strcat(p, "**/");
		strcat(t, "a/");
	}
	strcat(p, "x");
	strcat(t, "b");
	assert_false(filter_match(p, t));
	t[strlen(t) - 1] = 'x';
	assert_true(filter_match(p, t));
	assert_true(filter_match("a/**/**/b", "a/b"));
	assert_true(filter_match("**/x/**/y", "q/x/y"));
}

/* --files-from: the names listed, what is under them, and the
 * directories on the way; the rules still apply to those. */
static void
test_filter_files_from_lets_only_the_list_through(void **state)
{
	static const char list[] = "./a/b.txt\n/d//e/\n\nz\r\n";
	struct filter	 f;
	struct ts_error	 err = { 0 };

	(void)state;
	filter_init(&f);
	assert_int_equal(filter_add_only_text(&f, "l", list, strlen(list),
	    false, &err), 0);
	assert_int_equal(filter_add(&f, FILTER_EXCLUDE, "*.o", &err), 0);
	assert_false(filter_excluded(&f, "a", true));	/* on the way */
	assert_true(filter_excluded(&f, "a", false));	/* a file "a" is not */
	assert_false(filter_excluded(&f, "a/b.txt", false));
	assert_true(filter_excluded(&f, "a/c.txt", false));
	assert_true(filter_excluded(&f, "a/b.txt2", false));
	assert_false(filter_excluded(&f, "d", true));
	assert_false(filter_excluded(&f, "d/e", true));
	assert_false(filter_excluded(&f, "d/e/x/y", false));	/* under */
	assert_true(filter_excluded(&f, "d/e/x/y.o", false));	/* a rule */
	assert_true(filter_excluded(&f, "d/f", false));
	assert_true(filter_excluded(&f, "d.", true));
	assert_false(filter_excluded(&f, "z", false));
	assert_true(filter_excluded(&f, "y", false));
	filter_dispose(&f);
}

/* -0: names end with NUL, so newlines in them are names, not ends. */
static void
test_filter_files_from_nul_separated(void **state)
{
	static const char list[] = "a\nb\0c\0";
	struct filter	 f;
	struct ts_error	 err = { 0 };

	(void)state;
	filter_init(&f);
	assert_int_equal(filter_add_only_text(&f, "l", list,
	    sizeof(list) - 1, true, &err), 0);
	assert_false(filter_excluded(&f, "a\nb", false));
	assert_false(filter_excluded(&f, "c", false));
	assert_true(filter_excluded(&f, "a", false));
	filter_dispose(&f);
}

/* ".." would name something outside the tree; an empty list would send
 * nothing while looking like success; "." is the whole tree. */
static void
test_filter_files_from_refuses_dotdot_and_empty(void **state)
{
	struct filter	 f;
	struct ts_error	 err = { 0 };

	(void)state;
	filter_init(&f);
	assert_int_equal(filter_add_only_text(&f, "l", "a\n../x\n", 7, false,
	    &err), TS_EINVAL);
	assert_string_equal(err.msg, "--files-from \"l\", line 2: a name "
	    "with \"..\" or a NUL (-0?)");
	filter_dispose(&f);
	filter_init(&f);
	assert_int_equal(filter_add_only_text(&f, "l", "\n\n", 2, false,
	    &err), TS_EINVAL);
	filter_dispose(&f);
	filter_init(&f);
	assert_int_equal(filter_add_only_text(&f, "l", "x\n.\n", 4, false,
	    &err), 0);
	assert_false(filter_excluded(&f, "anything/at/all", false));
	filter_dispose(&f);
}

/* Found by fuzz_filter: hundreds of "**" runs took seconds a path; a
 * pattern may hold FILTER_MAX_STARS runs of '*', and is refused past it. */
static void
test_filter_too_many_stars_are_refused(void **state)
{
	struct filter	 f;
	struct ts_error	 err = { 0 };
	char		 p[256] = "";
	int		 i;

	(void)state;
	filter_init(&f);
	for (i = 0; i < FILTER_MAX_STARS; i++)
		strcat(p, i % 2 == 0 ? "**/" : "*a");
	assert_int_equal(filter_add(&f, FILTER_EXCLUDE, p, &err), 0);
	strcat(p, "***");
	assert_int_equal(filter_add(&f, FILTER_EXCLUDE, p, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "too many '*' runs"));
	assert_int_equal(filter_add(&f, FILTER_EXCLUDE, "\\*\\*\\*\\*\\*"
	    "\\*\\*\\*\\*\\*\\*\\*\\*\\*\\*\\*\\*\\*", &err), 0);
	filter_dispose(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_pattern_table),
		cmocka_unit_test(test_filter_first_match_wins),
		cmocka_unit_test(test_filter_include_then_exclude_all),
		cmocka_unit_test(test_filter_null_or_empty_excludes_nothing),
		cmocka_unit_test(test_filter_bad_patterns_are_refused),
		cmocka_unit_test(test_filter_text_rules),
		cmocka_unit_test(test_filter_text_error_names_the_line),
		cmocka_unit_test(test_filter_file_is_read),
		cmocka_unit_test(test_filter_missing_file_is_enoent),
		cmocka_unit_test(test_filter_match_unchecked_pattern_is_safe),
		cmocka_unit_test(test_filter_many_starstar_dirs_end_quickly),
		cmocka_unit_test(test_filter_too_many_stars_are_refused),
		cmocka_unit_test(
		    test_filter_files_from_lets_only_the_list_through),
		cmocka_unit_test(test_filter_files_from_nul_separated),
		cmocka_unit_test(
		    test_filter_files_from_refuses_dotdot_and_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
