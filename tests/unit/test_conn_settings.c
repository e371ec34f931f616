/* Each connection setting: the command line over the target over
 * ssh_config over the default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conn_settings.h"

static bool
only_rsa(const char *path)
{
	size_t	 n = strlen(path);

	return n >= 6 && strcmp(path + n - 6, "id_rsa") == 0;
}

static bool
none(const char *path)
{
	(void)path;
	return false;
}

/* Nothing set anywhere: the defaults. */
static void
test_defaults(void **state)
{
	struct ts_conn_opts	 o = TS_CONN_OPTS_INIT;
	struct target		 t = { NULL, "h", 0, "" };
	struct sshconf		 cf;
	struct conn_settings	 s;

	(void)state;
	memset(&cf, 0, sizeof(cf));
	cf.identities_only = cf.strict_host_key = -1;
	conn_settings_choose(&s, &o, &t, &cf, "/home/u", "me", only_rsa);
	assert_string_equal(s.host, "h");
	assert_int_equal(s.port, 22);
	assert_string_equal(s.user, "me");
	assert_int_equal(s.nids, 1);
	assert_string_equal(s.ids[0], "/home/u/.ssh/id_rsa");
	assert_false(s.identities_only);
	assert_int_equal(s.nkh, 1);
	assert_string_equal(s.khs[0], "/home/u/.ssh/known_hosts");
	assert_false(s.accept_new);
	assert_int_equal(s.connect_timeout_ms, 30000);
	assert_int_equal(s.io_timeout_ms, 60000);
	assert_int_equal(s.keepalive_s, 15);
	conn_settings_choose(&s, &o, &t, &cf, "/home/u", "me", none);
	assert_int_equal(s.nids, 0);
}

/* ssh_config over the defaults. */
static void
test_config_over_defaults(void **state)
{
	struct ts_conn_opts	 o = TS_CONN_OPTS_INIT;
	struct target		 t = { NULL, "alias", 0, "" };
	struct sshconf		 cf;
	struct conn_settings	 s;

	(void)state;
	memset(&cf, 0, sizeof(cf));
	cf.hostname = "real.example";
	cf.user = "cfuser";
	cf.port = 2222;
	cf.identity_files[0] = "/k/one";
	cf.identity_files[1] = "/k/two";
	cf.n_identity_files = 2;
	cf.identities_only = 1;
	cf.known_hosts[0] = "/kh/a";
	cf.n_known_hosts = 1;
	cf.strict_host_key = 2;		/* accept-new */
	cf.connect_timeout = 7;
	cf.server_alive_interval = 9;
	conn_settings_choose(&s, &o, &t, &cf, "/home/u", "me", only_rsa);
	assert_string_equal(s.host, "real.example");
	assert_int_equal(s.port, 2222);
	assert_string_equal(s.user, "cfuser");
	assert_int_equal(s.nids, 2);
	assert_string_equal(s.ids[0], "/k/one");
	assert_string_equal(s.ids[1], "/k/two");
	assert_true(s.identities_only);
	assert_int_equal(s.nkh, 1);
	assert_string_equal(s.khs[0], "/kh/a");
	assert_true(s.accept_new);
	assert_int_equal(s.connect_timeout_ms, 7000);
	assert_int_equal(s.keepalive_s, 9);
	cf.strict_host_key = 0;		/* no: accepts too */
	conn_settings_choose(&s, &o, &t, &cf, "/home/u", "me", only_rsa);
	assert_true(s.accept_new);
	cf.strict_host_key = 1;
	conn_settings_choose(&s, &o, &t, &cf, "/home/u", "me", only_rsa);
	assert_false(s.accept_new);
}

/* The target over ssh_config; the command line over both. */
static void
test_target_and_command_line_first(void **state)
{
	struct ts_conn_opts	 o = TS_CONN_OPTS_INIT;
	struct target		 t = { "tuser", "alias", 2200, "" };
	struct sshconf		 cf;
	struct conn_settings	 s;

	(void)state;
	memset(&cf, 0, sizeof(cf));
	cf.hostname = "real.example";
	cf.user = "cfuser";
	cf.port = 2222;
	cf.identity_files[0] = "/k/one";
	cf.n_identity_files = 1;
	cf.identities_only = 0;
	cf.known_hosts[0] = "/kh/a";
	cf.n_known_hosts = 1;
	cf.strict_host_key = 1;
	cf.connect_timeout = 7;
	cf.server_alive_interval = 9;
	conn_settings_choose(&s, &o, &t, &cf, "/home/u", "me", only_rsa);
	assert_int_equal(s.port, 2200);
	assert_string_equal(s.user, "tuser");
	assert_false(s.identities_only);
	o.port = 2300;
	o.identity = "/cli/key";
	o.known_hosts = "/cli/kh";
	o.accept_new = true;
	o.connect_timeout = 3;
	o.io_timeout = 4;
	o.keepalive = 5;
	conn_settings_choose(&s, &o, &t, &cf, "/home/u", "me", only_rsa);
	assert_string_equal(s.host, "real.example");	/* no --host */
	assert_int_equal(s.port, 2300);
	assert_int_equal(s.nids, 2);
	assert_string_equal(s.ids[0], "/cli/key");
	assert_string_equal(s.ids[1], "/k/one");
	assert_true(s.identities_only);		/* --identity: only those */
	assert_int_equal(s.nkh, 1);
	assert_string_equal(s.khs[0], "/cli/kh");
	assert_true(s.accept_new);
	assert_int_equal(s.connect_timeout_ms, 3000);
	assert_int_equal(s.io_timeout_ms, 4000);
	assert_int_equal(s.keepalive_s, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_config_over_defaults),
		cmocka_unit_test(test_target_and_command_line_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
