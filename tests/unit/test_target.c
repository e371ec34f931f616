#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "target.h"

#define FORMS	"expected [user@]host:path or " \
		"sftp://[user@]host[:port]/path"

/* Parses s, which must succeed, into *t. */
static void
parse_ok(struct target *t, const char *s)
{
	struct ts_error	 err = { 0 };

	assert_int_equal(target_parse(t, s, &err), 0);
	assert_int_equal(err.code, TS_OK);
}

/* Parses s, which must fail with TS_EINVAL and leave *t empty. */
static void
parse_bad(const char *s, const char *msg)
{
	struct target	 t;
	struct ts_error	 err = { 0 };

	assert_int_equal(target_parse(&t, s, &err), TS_EINVAL);
	assert_int_equal(err.code, TS_EINVAL);
	assert_null(t.user);
	assert_null(t.host);
	assert_null(t.path);
	assert_int_equal(t.port, 0);
	if (msg != NULL)
		assert_string_equal(err.msg, msg);
}

static void
test_target_scp_user_host_path(void **state)
{
	struct target	 t;

	(void)state;
	parse_ok(&t, "alice@backup.example.org:/srv/data");
	assert_string_equal(t.user, "alice");
	assert_string_equal(t.host, "backup.example.org");
	assert_int_equal(t.port, 0);
	assert_string_equal(t.path, "/srv/data");
	target_dispose(&t);
}

static void
test_target_scp_without_user(void **state)
{
	struct target	 t;

	(void)state;
	parse_ok(&t, "web:site/www");
	assert_null(t.user);
	assert_string_equal(t.host, "web");
	assert_string_equal(t.path, "site/www");
	target_dispose(&t);
}

/* "host:" is the login directory, as for scp. */
static void
test_target_scp_empty_path_is_login_dir(void **state)
{
	struct target	 t;

	(void)state;
	parse_ok(&t, "host:");
	assert_string_equal(t.host, "host");
	assert_string_equal(t.path, "");
	target_dispose(&t);
}

/* The path is taken verbatim: colons, '@' and '%' in it are plain. */
static void
test_target_scp_path_is_verbatim(void **state)
{
	struct target	 t;

	(void)state;
	parse_ok(&t, "h:a:b@c%20d");
	assert_null(t.user);
	assert_string_equal(t.host, "h");
	assert_string_equal(t.path, "a:b@c%20d");
	target_dispose(&t);
}

static void
test_target_scp_ipv6_in_brackets(void **state)
{
	struct target	 t;

	(void)state;
	parse_ok(&t, "[2001:db8::1]:/srv");
	assert_null(t.user);
	assert_string_equal(t.host, "2001:db8::1");
	assert_string_equal(t.path, "/srv");
	target_dispose(&t);
	parse_ok(&t, "bob@[::1]:x");
	assert_string_equal(t.user, "bob");
	assert_string_equal(t.host, "::1");
	assert_string_equal(t.path, "x");
	target_dispose(&t);
}

/* Logins such as e-mail addresses hold '@': the last one ends the user. */
static void
test_target_scp_user_with_at(void **state)
{
	struct target	 t;

	(void)state;
	parse_ok(&t, "me@example.com@sftp.example.net:in");
	assert_string_equal(t.user, "me@example.com");
	assert_string_equal(t.host, "sftp.example.net");
	target_dispose(&t);
}

static void
test_target_local_paths_are_not_remote(void **state)
{
	(void)state;
	assert_false(target_is_remote("./a:b"));
	assert_false(target_is_remote("/x/y:z"));
	assert_false(target_is_remote("dir/x:y"));
	assert_false(target_is_remote(":leading-colon"));
	assert_false(target_is_remote("plain"));
	assert_false(target_is_remote(""));
	assert_false(target_is_remote("[::1"));
}

static void
test_target_remote_forms_are_remote(void **state)
{
	(void)state;
	assert_true(target_is_remote("h:"));
	assert_true(target_is_remote("u@h:/p"));
	assert_true(target_is_remote("[::1]:p"));
	assert_true(target_is_remote("u@[::1]:p/q"));
	assert_true(target_is_remote("sftp://h"));
	assert_true(target_is_remote("SFTP://h/x"));
}

static void
test_target_local_path_is_refused_with_forms(void **state)
{
	(void)state;
	parse_bad("./a:b", "bad target \"./a:b\": " FORMS);
	parse_bad("foo", "bad target \"foo\": " FORMS);
}

static void
test_target_url_full(void **state)
{
	struct target	 t;

	(void)state;
	parse_ok(&t, "sftp://alice@host.example:2222/srv/data");
	assert_string_equal(t.user, "alice");
	assert_string_equal(t.host, "host.example");
	assert_int_equal(t.port, 2222);
	assert_string_equal(t.path, "/srv/data");
	target_dispose(&t);
}

static void
test_target_url_without_path_is_login_dir(void **state)
{
	struct target	 t;

	(void)state;
	parse_ok(&t, "sftp://host");
	assert_null(t.user);
	assert_string_equal(t.host, "host");
	assert_int_equal(t.port, 0);
	assert_string_equal(t.path, "");
	target_dispose(&t);
}

static void
test_target_url_root(void **state)
{
	struct target	 t;

	(void)state;
	parse_ok(&t, "sftp://host/");
	assert_string_equal(t.path, "/");
	target_dispose(&t);
}

/* curl's convention: "/~/path" is relative to the login directory. */
static void
test_target_url_tilde_is_login_dir(void **state)
{
	struct target	 t;

	(void)state;
	parse_ok(&t, "sftp://host/~/docs/x");
	assert_string_equal(t.path, "docs/x");
	target_dispose(&t);
	parse_ok(&t, "sftp://host/~/");
	assert_string_equal(t.path, "");
	target_dispose(&t);
	parse_ok(&t, "sftp://host/~");
	assert_string_equal(t.path, "");
	target_dispose(&t);
	/* An escaped tilde is a directory named "~" under the root. */
	parse_ok(&t, "sftp://host/%7E/x");
	assert_string_equal(t.path, "/~/x");
	target_dispose(&t);
}

static void
test_target_url_percent_decoding(void **state)
{
	struct target	 t;

	(void)state;
	parse_ok(&t, "sftp://me%40corp@h/my%20dir/%3F%23%25");
	assert_string_equal(t.user, "me@corp");
	assert_string_equal(t.path, "/my dir/?#%");
	target_dispose(&t);
}

static void
test_target_url_ipv6_with_port(void **state)
{
	struct target	 t;

	(void)state;
	parse_ok(&t, "sftp://u@[::1]:2222/x");
	assert_string_equal(t.user, "u");
	assert_string_equal(t.host, "::1");
	assert_int_equal(t.port, 2222);
	assert_string_equal(t.path, "/x");
	target_dispose(&t);
}

static void
test_target_url_scheme_is_case_insensitive(void **state)
{
	struct target	 t;

	(void)state;
	parse_ok(&t, "SFTP://h:22");
	assert_string_equal(t.host, "h");
	assert_int_equal(t.port, 22);
	assert_string_equal(t.path, "");
	target_dispose(&t);
}

static void
test_target_empty_host_is_refused(void **state)
{
	(void)state;
	parse_bad("u@:path", "bad target \"u@:path\": empty host");
	parse_bad("sftp:///srv", "bad target \"sftp:///srv\": empty host");
	parse_bad("sftp://u@:22/x", NULL);
	parse_bad("[]:x", NULL);
}

static void
test_target_empty_user_is_refused(void **state)
{
	(void)state;
	parse_bad("@h:x", "bad target \"@h:x\": empty user before '@'");
	parse_bad("sftp://@h/x", NULL);
}

static void
test_target_bad_port_is_refused(void **state)
{
	(void)state;
	parse_bad("sftp://h:0/x",
	    "bad target \"sftp://h:0/x\": bad port \"0\" (expected 1..65535)");
	parse_bad("sftp://h:65536/x", NULL);
	parse_bad("sftp://h:99999999999999999999/x", NULL);
	parse_bad("sftp://h:abc/x", NULL);
	parse_bad("sftp://h:/x", NULL);
	parse_bad("sftp://h:-1", NULL);
	parse_bad("sftp://[::1]:x/", NULL);
}

static void
test_target_port_bounds_are_accepted(void **state)
{
	struct target	 t;

	(void)state;
	parse_ok(&t, "sftp://h:1");
	assert_int_equal(t.port, 1);
	target_dispose(&t);
	parse_ok(&t, "sftp://h:65535/");
	assert_int_equal(t.port, 65535);
	target_dispose(&t);
}

/* "user:password@" is refused, escaped or not: we never take passwords. */
static void
test_target_user_with_colon_is_refused(void **state)
{
	(void)state;
	parse_bad("sftp://u:pw@h/x", "bad target \"sftp://u:pw@h/x\": user "
	    "must not contain ':' (passwords in targets are not supported)");
	parse_bad("sftp://u%3Apw@h/x", NULL);
}

static void
test_target_bad_escape_is_refused(void **state)
{
	(void)state;
	parse_bad("sftp://h/a%zzb", "bad target \"sftp://h/a%zzb\": "
	    "bad escape \"%zz\"");
	parse_bad("sftp://h/a%2", NULL);
	parse_bad("sftp://h/a%", NULL);
	parse_bad("sftp://h/a%00b", NULL);
}

static void
test_target_url_query_chars_are_refused(void **state)
{
	(void)state;
	parse_bad("sftp://h/a?b", NULL);
	parse_bad("sftp://h/a#b", NULL);
}

static void
test_target_url_bare_ipv6_is_refused(void **state)
{
	(void)state;
	parse_bad("sftp://::1/x", "bad target \"sftp://::1/x\": write IPv6 "
	    "addresses in brackets, as in sftp://[::1]/path");
	parse_bad("sftp://[::1/x", NULL);
	parse_bad("sftp://[::1]x/y", NULL);
}

/* A host such as "-oProxyCommand=x" must never reach anything as an option. */
static void
test_target_dash_host_is_refused(void **state)
{
	(void)state;
	parse_bad("-oProxyCommand=x:y", NULL);
	parse_bad("sftp://-h/x", NULL);
	parse_bad("my host:x", NULL);
}

static void
test_target_long_input_is_shortened_in_message(void **state)
{
	char		 s[400];
	struct target	 t;
	struct ts_error	 err = { 0 };

	(void)state;
	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	assert_int_equal(target_parse(&t, s, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "...\": expected"));
}

static void
test_target_dispose_accepts_null_and_zeroed(void **state)
{
	struct target	 t = { 0 };

	(void)state;
	target_dispose(NULL);
	target_dispose(&t);
	target_dispose(&t);
}

/* Callers that need no message may pass a NULL err. */
static void
test_target_null_err_is_fine(void **state)
{
	struct target	 t;

	(void)state;
	assert_int_equal(target_parse(&t, "nope", NULL), TS_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_scp_user_host_path),
		cmocka_unit_test(test_target_scp_without_user),
		cmocka_unit_test(test_target_scp_empty_path_is_login_dir),
		cmocka_unit_test(test_target_scp_path_is_verbatim),
		cmocka_unit_test(test_target_scp_ipv6_in_brackets),
		cmocka_unit_test(test_target_scp_user_with_at),
		cmocka_unit_test(test_target_local_paths_are_not_remote),
		cmocka_unit_test(test_target_remote_forms_are_remote),
		cmocka_unit_test(test_target_local_path_is_refused_with_forms),
		cmocka_unit_test(test_target_url_full),
		cmocka_unit_test(test_target_url_without_path_is_login_dir),
		cmocka_unit_test(test_target_url_root),
		cmocka_unit_test(test_target_url_tilde_is_login_dir),
		cmocka_unit_test(test_target_url_percent_decoding),
		cmocka_unit_test(test_target_url_ipv6_with_port),
		cmocka_unit_test(test_target_url_scheme_is_case_insensitive),
		cmocka_unit_test(test_target_empty_host_is_refused),
		cmocka_unit_test(test_target_empty_user_is_refused),
		cmocka_unit_test(test_target_bad_port_is_refused),
		cmocka_unit_test(test_target_port_bounds_are_accepted),
		cmocka_unit_test(test_target_user_with_colon_is_refused),
		cmocka_unit_test(test_target_bad_escape_is_refused),
		cmocka_unit_test(test_target_url_query_chars_are_refused),
		cmocka_unit_test(test_target_url_bare_ipv6_is_refused),
		cmocka_unit_test(test_target_dash_host_is_refused),
		cmocka_unit_test(
		    test_target_long_input_is_shortened_in_message),
		cmocka_unit_test(test_target_dispose_accepts_null_and_zeroed),
		cmocka_unit_test(test_target_null_err_is_fine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
