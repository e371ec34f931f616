#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "error.h"

/* A name as long as a file name may be (NAME_MAX), of one letter. */
static void
long_name(char *buf, size_t n, char c)
{
	memset(buf, c, n);
	buf[n] = '\0';
}

/* A message that fits is kept as it is, to the byte. */
static void
test_error_short_message_is_whole(void **state)
{
	struct ts_error	 err = { 0 };

	(void)state;
	assert_int_equal(error_set(&err, TS_EREMOTE, "open \"%s\": %s",
	    "d/a.txt", "failure"), TS_EREMOTE);
	assert_string_equal(err.msg, "open \"d/a.txt\": failure");
}

/* A 255-byte name leaves no room for the reason in 256 bytes: the name
 * is shortened in its middle, the reason after it survives. */
static void
test_error_long_path_keeps_reason(void **state)
{
	struct ts_error	 err = { 0 };
	char		 name[256];
	size_t		 n;

	(void)state;
	long_name(name, 255, 'x');
	name[0] = 'H';
	name[254] = 'T';
	error_set(&err, TS_EACCES, "open \"%s\": permission denied", name);
	n = strlen(err.msg);
	assert_true(n < sizeof(err.msg));
	assert_non_null(strstr(err.msg, "\": permission denied"));
	assert_int_equal(strcmp(err.msg + n - strlen("permission denied"),
	    "permission denied"), 0);
	assert_int_equal(strncmp(err.msg, "open \"H", 7), 0);
	assert_non_null(strstr(err.msg, "...x"));
	assert_non_null(strstr(err.msg, "T\": "));
	/* As long as it may be: nothing was cut that did not need to be. */
	assert_int_equal(n, sizeof(err.msg) - 1);
}

/* Two long paths share the cut; the reason and the text between the
 * paths stay whole. */
static void
test_error_two_long_paths_keep_reason(void **state)
{
	struct ts_error	 err = { 0 };
	char		 a[256], b[256];
	const char	*p;

	(void)state;
	long_name(a, 255, 'a');
	long_name(b, 255, 'b');
	error_set(&err, TS_EREMOTE, "rename \"%s\" to \"%s\": failure", a, b);
	assert_true(strlen(err.msg) < sizeof(err.msg));
	assert_int_equal(strncmp(err.msg, "rename \"a", 9), 0);
	assert_non_null(p = strstr(err.msg, "a\" to \"b"));
	assert_non_null(strstr(p, "b\": failure"));
	assert_int_equal(strcmp(err.msg + strlen(err.msg) - 9, ": failure"),
	    0);
	/* Both names keep a visible part, each marked as cut. */
	assert_non_null(strstr(err.msg, "a...a"));
	assert_non_null(strstr(err.msg, "b...b"));
}

/* The strerror text error_set_errno appends is a reason too. */
static void
test_error_errno_reason_survives_long_path(void **state)
{
	struct ts_error	 err = { 0 };
	char		 name[256];

	(void)state;
	long_name(name, 255, 'n');
	assert_int_equal(error_set_errno(&err, ENOENT, "open \"/tmp/%s\"",
	    name), TS_ENOENT);
	assert_int_equal(err.sys_errno, ENOENT);
	assert_true(strlen(err.msg) < sizeof(err.msg));
	assert_non_null(strstr(err.msg, "\": no such file or directory"));
	assert_int_equal(strncmp(err.msg, "open \"/tmp/n", 12), 0);
}

/* A cut never splits a UTF-8 character: the name stays valid text. */
static void
test_error_cut_keeps_utf8_whole(void **state)
{
	struct ts_error	 err = { 0 };
	char		 name[300];
	size_t		 i;
	const unsigned char *p;

	(void)state;
	for (i = 0; i + 2 <= 254; i += 2)
		memcpy(name + i, "\xc3\xa9", 2);	/* e acute */
	name[i] = '\0';
	error_set(&err, TS_EREMOTE, "open \"%s\": failure", name);
	assert_non_null(strstr(err.msg, "\": failure"));
	/* Every lead byte is followed by its continuation byte. */
	for (p = (const unsigned char *)err.msg; *p != '\0'; p++) {
		if (*p == 0xc3)
			assert_true(p[1] == 0xa9);
		else if (*p == 0xa9)
			assert_true(p[-1] == 0xc3);
	}
}

/* With no quoted text to shorten, the end is cut as before: one line of
 * at most 255 bytes, whatever the length. */
static void
test_error_unquoted_long_message_is_cut(void **state)
{
	struct ts_error	 err = { 0 };
	char		 text[1000];

	(void)state;
	long_name(text, 999, 'z');
	error_set(&err, TS_ERROR, "%s", text);
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
}

/* A caller's own printf-like wrapper, as the walkers have. */
static int __attribute__((format(printf, 3, 4)))
wrapper(struct ts_error *err, int code, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = error_setv(err, code, fmt, ap);
	va_end(ap);
	return rc;
}

/* error_setv shortens as error_set does: the reason survives. */
static void
test_error_setv_keeps_reason(void **state)
{
	struct ts_error	 err = { 0 };
	char		 name[256];

	(void)state;
	long_name(name, 255, 'v');
	assert_int_equal(wrapper(&err, TS_EREMOTE, "list remote directory "
	    "\"%s\": %s", name, "permission denied"), TS_EREMOTE);
	assert_int_equal(err.code, TS_EREMOTE);
	assert_non_null(strstr(err.msg, "\": permission denied"));
}

/* The first error recorded wins, long or not. */
static void
test_error_first_wins(void **state)
{
	struct ts_error	 err = { 0 };

	(void)state;
	error_set(&err, TS_ENOENT, "first");
	error_set(&err, TS_EACCES, "second");
	assert_int_equal(err.code, TS_ENOENT);
	assert_string_equal(err.msg, "first");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_short_message_is_whole),
		cmocka_unit_test(test_error_long_path_keeps_reason),
		cmocka_unit_test(test_error_two_long_paths_keep_reason),
		cmocka_unit_test(test_error_errno_reason_survives_long_path),
		cmocka_unit_test(test_error_cut_keeps_utf8_whole),
		cmocka_unit_test(test_error_unquoted_long_message_is_cut),
		cmocka_unit_test(test_error_setv_keeps_reason),
		cmocka_unit_test(test_error_first_wins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
