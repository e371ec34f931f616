#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "walk_remote.h"

/* Names from READDIR are data: only a plain component may be used. */

struct name_case {
	const char	*name;
	size_t		 len;
	bool		 ok;
};

#define C(s, ok)	{ s, sizeof(s) - 1, ok }

static void
check(const struct name_case *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (walk_remote_name_ok(v[i].name, v[i].len) == v[i].ok)
			continue;
		fail_msg("walk_remote_name_ok(\"%.*s\", %zu) should be %s",
		    (int)v[i].len, v[i].name, v[i].len,
		    v[i].ok ? "true" : "false");
	}
}

static void
test_walk_remote_refuses_empty_and_dots(void **state)
{
	static const struct name_case v[] = {
		C("", false), C(".", false), C("..", false),
	};

	(void)state;
	check(v, sizeof(v) / sizeof(v[0]));
}

static void
test_walk_remote_refuses_slash(void **state)
{
	static const struct name_case v[] = {
		C("a/b", false), C("/", false), C("/etc", false),
		C("../escape", false), C("a/", false), C("//", false),
		C("./a", false),
	};

	(void)state;
	check(v, sizeof(v) / sizeof(v[0]));
}

/* The length is the name's: a NUL inside would cut it in C strings. */
static void
test_walk_remote_refuses_nul(void **state)
{
	static const struct name_case v[] = {
		C("a\0b", false), C("\0", false), C("a\0", false),
		C("..\0", false), C("\0..", false),
	};

	(void)state;
	check(v, sizeof(v) / sizeof(v[0]));
}

/* Odd but legal names: the walk must keep them. */
static void
test_walk_remote_accepts_odd_names(void **state)
{
	static const struct name_case v[] = {
		C("a", true), C("...", true), C(".hidden", true),
		C("..hidden", true), C(". ", true), C(".. ", true),
		C(" ..", true), C("-rf", true), C("--delete", true),
		C("with space", true), C("quote\"s'", true),
		C("new\nline", true), C("\n", true), C("tab\there", true),
		C("back\\slash", true), C("caf\xc3\xa9", true),
		C("\xe6\x97\xa5\xe6\x9c\xac", true), C("\xff\xfe", true),
		C("\x1b[31m", true), C("*?[", true),
	};

	(void)state;
	check(v, sizeof(v) / sizeof(v[0]));
}

/* Only len bytes count: a prefix of an unsafe name may be fine. */
static void
test_walk_remote_uses_len_not_nul(void **state)
{
	(void)state;
	assert_true(walk_remote_name_ok("a/b", 1));
	assert_false(walk_remote_name_ok("...", 2));
	assert_false(walk_remote_name_ok("...", 1));
	assert_true(walk_remote_name_ok("..x", 3));
	assert_false(walk_remote_name_ok("abc", 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk_remote_refuses_empty_and_dots),
		cmocka_unit_test(test_walk_remote_refuses_slash),
		cmocka_unit_test(test_walk_remote_refuses_nul),
		cmocka_unit_test(test_walk_remote_accepts_odd_names),
		cmocka_unit_test(test_walk_remote_uses_len_not_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
