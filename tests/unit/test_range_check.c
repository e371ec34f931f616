#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "range_check.h"

#define H1	"0123456789abcdef0123456789abcdef"
#define H2	"fedcba9876543210fedcba9876543210"

/* The server's "SKIP HASH" lines: each fills its range's hash. */
static void
test_range_check_parse_lines(void **state)
{
	static const char out[] = "32 " H2 "\n0 " H1 "\n";
	char	 hex[3][HASH_HEX_MAX] = { "", "", "" };

	(void)state;
	assert_true(range_check_parse(out, sizeof(out) - 1, 32, 3, hex) == 2);
	assert_string_equal(hex[0], H1);
	assert_string_equal(hex[1], H2);
	assert_string_equal(hex[2], "");
}

/* Output from the server is untrusted: anything not exactly a line of a
 * known range fills nothing, and no line writes past the n ranges. */
static void
test_range_check_parse_refuses_the_rest(void **state)
{
	static const char *const bad[] = {
		"96 " H1 "\n",			/* range 3 of 3: past the end */
		"16 " H1 "\n",			/* not a range's start */
		"0 " H1,			/* no newline: unfinished */
		"0 " H1 "0\n",			/* 33 digits */
		"0 0123456789ABCDEF0123456789abcdef\n",	/* upper case */
		"0  " H1 "\n",			/* two spaces */
		" " H1 "\n",			/* no number */
		"x " H1 "\n",
		"99999999999999999999999 " H1 "\n",	/* too long */
		"0 0123456789abcdef0123456789abcdeg\n",
	};
	char	 hex[3][HASH_HEX_MAX];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(hex, 0, sizeof(hex));
		assert_true(range_check_parse(bad[i], strlen(bad[i]), 32, 3,
		    hex) == 0);
		assert_string_equal(hex[0], "");
		assert_string_equal(hex[1], "");
		assert_string_equal(hex[2], "");
	}
}

/* A bad line does not hide the good ones around it. */
static void
test_range_check_parse_skips_bad_lines(void **state)
{
	static const char out[] = "garbage\n0 " H1 "\ndd: error\n64 " H2
	    "\n";
	char	 hex[3][HASH_HEX_MAX] = { "", "", "" };

	(void)state;
	assert_true(range_check_parse(out, sizeof(out) - 1, 32, 3, hex) == 2);
	assert_string_equal(hex[0], H1);
	assert_string_equal(hex[1], "");
	assert_string_equal(hex[2], H2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_check_parse_lines),
		cmocka_unit_test(test_range_check_parse_refuses_the_rest),
		cmocka_unit_test(test_range_check_parse_skips_bad_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
