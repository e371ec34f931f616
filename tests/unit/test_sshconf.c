#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "sshconf.h"

/*
 * Every test runs with $HOME set to a fresh directory, so ~, %d and
 * Include find only what the test put there.  Files and directories made
 * are recorded and removed, newest first, after the last test.
 */
static char	 home[64];
static char	 made[64][256];
static int	 nmade;

static const char *
home_path(const char *rel)
{
	static char	 p[4][256];
	static int	 i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", home, rel);
	return p[i];
}

static void
make_dir(const char *rel)
{
	const char	*p = home_path(rel);
	struct stat	 st;

	if (stat(p, &st) == 0)
		return;
	assert_int_equal(mkdir(p, 0700), 0);
	assert_true(nmade < 64);
	snprintf(made[nmade++], sizeof(made[0]), "%s", p);
}

static const char *
put_file(const char *rel, const char *text, mode_t mode)
{
	const char	*p = home_path(rel);
	struct stat	 st;
	FILE		*f;

	if (stat(p, &st) != 0) {
		assert_true(nmade < 64);
		snprintf(made[nmade++], sizeof(made[0]), "%s", p);
	}
	assert_non_null(f = fopen(p, "w"));
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(p, mode), 0);
	return p;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(home, sizeof(home), "/tmp/test_sshconf.XXXXXX");
	if (mkdtemp(home) == NULL || setenv("HOME", home, 1) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	while (nmade > 0)
		remove(made[--nmade]);
	rmdir(home);
	return 0;
}

/* Parses text as file "cfg" for host, which must succeed. */
static void
parse(struct sshconf *c, const char *text, const char *host)
{
	struct ts_error	 err = { 0 };

	assert_int_equal(sshconf_parse(c, text, strlen(text), host, NULL,
	    "cfg", &err), 0);
	assert_int_equal(err.code, TS_OK);
}

/* Parses text as file "cfg" for host "h", which must fail with msg. */
static void
parse_bad(const char *text, const char *msg)
{
	struct sshconf	 c;
	struct ts_error	 err = { 0 };

	assert_int_equal(sshconf_parse(&c, text, strlen(text), "h", NULL,
	    "cfg", &err), TS_EINVAL);
	assert_int_equal(err.code, TS_EINVAL);
	if (msg != NULL)
		assert_string_equal(err.msg, msg);
	/* A failed parse leaves nothing set. */
	assert_null(c.hostname);
	assert_int_equal(c.n_identity_files, 0);
	assert_int_equal(c.identities_only, -1);
	sshconf_dispose(&c);
}

static void
test_sshconf_host_block_applies(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "Host other\n"
	    "  HostName other.example\n"
	    "Host backup\n"
	    "  HostName 192.0.2.10\n"
	    "  User archiver\n"
	    "  Port 2222\n", "backup");
	assert_string_equal(c.hostname, "192.0.2.10");
	assert_string_equal(c.user, "archiver");
	assert_int_equal(c.port, 2222);
	assert_int_equal(c.n_identity_files, 0);
	assert_int_equal(c.identities_only, -1);
	assert_int_equal(c.n_known_hosts, 0);
	assert_false(c.known_hosts_none);
	assert_int_equal(c.strict_host_key, -1);
	assert_int_equal(c.connect_timeout, 0);
	assert_int_equal(c.server_alive_interval, 0);
	sshconf_dispose(&c);
}

static void
test_sshconf_nothing_applies(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "Host other\n  User x\n", "backup");
	assert_null(c.hostname);
	assert_null(c.user);
	assert_int_equal(c.port, 0);
	sshconf_dispose(&c);
}

/* ssh_config(5): the first obtained value is used, so specific blocks go
 * first and "Host *" defaults last; lines before any Host apply to all. */
static void
test_sshconf_first_value_wins(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "User early\n"
	    "Host web\n  Port 2200\n  User web-user\n"
	    "Host *\n  Port 22\n  HostName fallback\n", "web");
	assert_string_equal(c.user, "early");
	assert_int_equal(c.port, 2200);
	assert_string_equal(c.hostname, "fallback");
	sshconf_dispose(&c);
}

static void
test_sshconf_keywords_ignore_case_and_take_equals(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "hOsT h\n"
	    "HOSTNAME=a.example\n"
	    "\tport = 2022\n"
	    "user= bob\n"
	    "IdentitiesOnly =yes\n", "h");
	assert_string_equal(c.hostname, "a.example");
	assert_int_equal(c.port, 2022);
	assert_string_equal(c.user, "bob");
	assert_int_equal(c.identities_only, 1);
	sshconf_dispose(&c);
}

static void
test_sshconf_quoted_values(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "IdentityFile \"/keys/my key\"\n"
	    "IdentityFile /keys/a\" b\"c\n"
	    "IdentityFile '/keys/single quoted'\n"
	    "IdentityFile /keys/back\\ slash\n"
	    "UserKnownHostsFile \"/kh/one file\" /kh/two\n", "h");
	assert_int_equal(c.n_identity_files, 4);
	assert_string_equal(c.identity_files[0], "/keys/my key");
	assert_string_equal(c.identity_files[1], "/keys/a bc");
	assert_string_equal(c.identity_files[2], "/keys/single quoted");
	assert_string_equal(c.identity_files[3], "/keys/back slash");
	assert_int_equal(c.n_known_hosts, 2);
	assert_string_equal(c.known_hosts[0], "/kh/one file");
	assert_string_equal(c.known_hosts[1], "/kh/two");
	sshconf_dispose(&c);
}

static void
test_sshconf_comments_and_blank_lines(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "# a comment\n"
	    "\n"
	    "   \t\r\n"
	    "   # indented comment\n"
	    "Port 2022 # trailing comment\n"
	    "User \"#not-a-comment\"\r\n", "h");
	assert_int_equal(c.port, 2022);
	assert_string_equal(c.user, "#not-a-comment");
	sshconf_dispose(&c);
}

static void
test_sshconf_host_patterns(void **state)
{
	struct sshconf	 c;
	const char	*text = "Host alpha *.lan db? \n  Port 2000\n";

	(void)state;
	parse(&c, text, "alpha");
	assert_int_equal(c.port, 2000);
	sshconf_dispose(&c);
	parse(&c, text, "nas.lan");
	assert_int_equal(c.port, 2000);
	sshconf_dispose(&c);
	parse(&c, text, "db1");
	assert_int_equal(c.port, 2000);
	sshconf_dispose(&c);
	parse(&c, text, "db12");
	assert_int_equal(c.port, 0);
	sshconf_dispose(&c);
	parse(&c, text, "alphabet");
	assert_int_equal(c.port, 0);
	sshconf_dispose(&c);
}

/* A matching negated pattern excludes the block, whatever else matched. */
static void
test_sshconf_negated_pattern_excludes_block(void **state)
{
	struct sshconf	 c;
	const char	*text = "Host !bastion *\n  User via-bastion\n"
			    "Host *\n  User direct\n";

	(void)state;
	parse(&c, text, "web");
	assert_string_equal(c.user, "via-bastion");
	sshconf_dispose(&c);
	parse(&c, text, "bastion");
	assert_string_equal(c.user, "direct");
	sshconf_dispose(&c);
	/* A negated pattern alone never makes a block apply. */
	parse(&c, "Host !x\n  User u\n", "web");
	assert_null(c.user);
	sshconf_dispose(&c);
}

/* ssh(1) matches Host patterns against the name as typed. */
static void
test_sshconf_host_match_is_case_sensitive(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "Host Web\n  Port 2000\n", "web");
	assert_int_equal(c.port, 0);
	sshconf_dispose(&c);
}

static void
test_sshconf_identity_files_accumulate(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "Host h\n  IdentityFile /k/one\n  IdentityFile /k/two\n"
	    "Host other\n  IdentityFile /k/not-mine\n"
	    "Host *\n  IdentityFile /k/one\n  IdentityFile /k/three\n", "h");
	assert_int_equal(c.n_identity_files, 3);
	assert_string_equal(c.identity_files[0], "/k/one");
	assert_string_equal(c.identity_files[1], "/k/two");
	assert_string_equal(c.identity_files[2], "/k/three");
	sshconf_dispose(&c);
}

static void
test_sshconf_too_many_identity_files_is_refused(void **state)
{
	char	 text[1024];
	size_t	 n = 0;
	int	 i;

	(void)state;
	for (i = 0; i <= SSHCONF_MAX_IDENTITY_FILES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		    "IdentityFile /k/%d\n", i);
	parse_bad(text, "\"cfg\" line 17: more than 16 IdentityFile lines");
}

/* As in readconf.c, the first UserKnownHostsFile line that applies is
 * the whole list; later lines do not add to it. */
static void
test_sshconf_known_hosts_first_line_wins(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "Host h\n  UserKnownHostsFile /kh/a /kh/b /kh/c\n"
	    "Host *\n  UserKnownHostsFile /kh/default\n", "h");
	assert_int_equal(c.n_known_hosts, 3);
	assert_string_equal(c.known_hosts[0], "/kh/a");
	assert_string_equal(c.known_hosts[1], "/kh/b");
	assert_string_equal(c.known_hosts[2], "/kh/c");
	assert_false(c.known_hosts_none);
	sshconf_dispose(&c);
	parse_bad("UserKnownHostsFile /1 /2 /3 /4 /5\n", "\"cfg\" line 1: "
	    "more than 4 files for UserKnownHostsFile");
}

static void
test_sshconf_known_hosts_none(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "UserKnownHostsFile none\nUserKnownHostsFile /kh/x\n", "h");
	assert_true(c.known_hosts_none);
	assert_int_equal(c.n_known_hosts, 0);
	sshconf_dispose(&c);
	parse_bad("UserKnownHostsFile /kh/x none\n", "\"cfg\" line 1: "
	    "UserKnownHostsFile \"none\" must appear alone");
}

static void
test_sshconf_tilde_and_tokens_are_expanded(void **state)
{
	struct sshconf	 c;
	struct passwd	*pw;
	char		 want[512];

	(void)state;
	assert_non_null(pw = getpwuid(getuid()));
	assert_int_equal(setenv("TS_TEST_KEYDIR", "/env/keys", 1), 0);
	parse(&c, "IdentityFile ~/.ssh/id_%h\n"
	    "IdentityFile %d/k_%u_%i\n"
	    "IdentityFile ${TS_TEST_KEYDIR}/%n%%\n"
	    "IdentityFile ~\n"
	    "IdentityFile /abs/~/not-tilde\n"
	    "UserKnownHostsFile ~/.ssh/kh_%h\n", "MyHost");
	assert_int_equal(c.n_identity_files, 5);
	snprintf(want, sizeof(want), "%s/.ssh/id_myhost", home);
	assert_string_equal(c.identity_files[0], want);
	snprintf(want, sizeof(want), "%s/k_%s_%lu", home, pw->pw_name,
	    (unsigned long)getuid());
	assert_string_equal(c.identity_files[1], want);
	assert_string_equal(c.identity_files[2], "/env/keys/MyHost%");
	assert_string_equal(c.identity_files[3], home);
	assert_string_equal(c.identity_files[4], "/abs/~/not-tilde");
	snprintf(want, sizeof(want), "%s/.ssh/kh_myhost", home);
	assert_string_equal(c.known_hosts[0], want);
	sshconf_dispose(&c);
	unsetenv("TS_TEST_KEYDIR");
}

/* "~user" is that user's home; root exists everywhere. */
static void
test_sshconf_tilde_user_is_expanded(void **state)
{
	struct sshconf	 c;
	struct passwd	*pw;
	char		 want[512];

	(void)state;
	assert_non_null(pw = getpwnam("root"));
	parse(&c, "IdentityFile ~root/.ssh/id\n", "h");
	snprintf(want, sizeof(want), "%s/.ssh/id", pw->pw_dir);
	assert_string_equal(c.identity_files[0], want);
	sshconf_dispose(&c);
	parse_bad("IdentityFile ~no-such-user-ts/.ssh/id\n", NULL);
}

/* %h in a file name is the HostName, even one set on a later line. */
static void
test_sshconf_h_token_is_the_hostname(void **state)
{
	struct sshconf	 c;
	char		 want[512];

	(void)state;
	parse(&c, "Host alias\n  IdentityFile ~/.ssh/%h.key\n"
	    "  HostName Real.Example\n", "alias");
	assert_string_equal(c.hostname, "Real.Example");
	snprintf(want, sizeof(want), "%s/.ssh/real.example.key", home);
	assert_string_equal(c.identity_files[0], want);
	sshconf_dispose(&c);
}

/* HostName takes %h, the host as given (ssh_config(5) TOKENS). */
static void
test_sshconf_hostname_takes_h_token(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "Host *\n  HostName %h.corp.example\n", "db1");
	assert_string_equal(c.hostname, "db1.corp.example");
	sshconf_dispose(&c);
	parse_bad("HostName %u.example\n", "\"cfg\" line 1: bad HostName "
	    "\"%u.example\": unsupported token \"%u\"");
}

static void
test_sshconf_unsupported_tokens_are_refused(void **state)
{
	(void)state;
	parse_bad("Host *\n  IdentityFile ~/.ssh/id_%r\n", "\"cfg\" line 2: "
	    "bad IdentityFile \"~/.ssh/id_%r\": unsupported token \"%r\"");
	parse_bad("UserKnownHostsFile /kh/%p\n", NULL);
	parse_bad("IdentityFile /k/50%\n", NULL);
	parse_bad("IdentityFile /k/${TS_TEST_SURELY_UNSET}\n",
	    "\"cfg\" line 1: bad IdentityFile \"/k/${TS_TEST_SURELY_UNSET}\": environment "
	    "variable \"TS_TEST_SURELY_UNSET\" is not set");
	parse_bad("IdentityFile /k/${HOME\n", NULL);
}

static void
test_sshconf_booleans(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "IdentitiesOnly no\nIdentitiesOnly yes\n", "h");
	assert_int_equal(c.identities_only, 0);
	sshconf_dispose(&c);
	parse(&c, "IdentitiesOnly TRUE\n", "h");
	assert_int_equal(c.identities_only, 1);
	sshconf_dispose(&c);
	parse_bad("IdentitiesOnly maybe\n", "\"cfg\" line 1: bad "
	    "IdentitiesOnly \"maybe\" (expected yes or no)");
}

static void
test_sshconf_strict_host_key_checking(void **state)
{
	static const struct {
		const char	*value;
		int		 want;
	} cases[] = {
		{ "yes", 1 }, { "ask", 1 }, { "true", 1 },
		{ "no", 0 }, { "off", 0 }, { "false", 0 },
		{ "accept-new", 2 }, { "Accept-New", 2 },
	};
	struct sshconf	 c;
	char		 text[64];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "StrictHostKeyChecking %s\n",
		    cases[i].value);
		parse(&c, text, "h");
		assert_int_equal(c.strict_host_key, cases[i].want);
		sshconf_dispose(&c);
	}
	parse_bad("StrictHostKeyChecking sometimes\n", NULL);
}

static void
test_sshconf_times(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "ConnectTimeout 10\nServerAliveInterval 1m30s\n", "h");
	assert_int_equal(c.connect_timeout, 10);
	assert_int_equal(c.server_alive_interval, 90);
	sshconf_dispose(&c);
	/* An explicit 0 is a value too: the later line does not win. */
	parse(&c, "ConnectTimeout 0\nConnectTimeout 10\n", "h");
	assert_int_equal(c.connect_timeout, 0);
	sshconf_dispose(&c);
	parse_bad("ConnectTimeout soon\n", "\"cfg\" line 1: bad "
	    "ConnectTimeout \"soon\" (expected seconds)");
	parse_bad("ServerAliveInterval 5x\n", NULL);
	parse_bad("ServerAliveInterval 99999999999\n", NULL);
}

static void
test_sshconf_bad_port_names_file_and_line(void **state)
{
	struct sshconf	 c;
	struct ts_error	 err = { 0 };
	const char	*text = "Host h\n  User u\n  Port abc\n";

	(void)state;
	assert_int_equal(sshconf_parse(&c, text, strlen(text), "h", NULL,
	    "/path/config", &err), TS_EINVAL);
	assert_string_equal(err.msg, "\"/path/config\" line 3: bad Port "
	    "\"abc\"");
	assert_null(c.user);
	sshconf_dispose(&c);
	parse_bad("Port 0\n", "\"cfg\" line 1: bad Port \"0\"");
	parse_bad("Port 65536\n", NULL);
	parse_bad("Port -1\n", NULL);
	parse_bad("Port 22x\n", NULL);
}

/* ssh(1) checks values in every block, so a typo shows at once. */
static void
test_sshconf_bad_value_in_other_block_is_refused(void **state)
{
	(void)state;
	parse_bad("Host other\n  Port abc\n", "\"cfg\" line 2: bad Port "
	    "\"abc\"");
	parse_bad("Match host other\n  IdentitiesOnly perhaps\n", NULL);
}

static void
test_sshconf_missing_and_extra_values_are_refused(void **state)
{
	(void)state;
	parse_bad("Port\n", "\"cfg\" line 1: missing value for Port");
	parse_bad("User a b\n", "\"cfg\" line 1: too many values for User");
	parse_bad("Host\n", "\"cfg\" line 1: Host needs a pattern");
	parse_bad("Host \"\"\n", "\"cfg\" line 1: empty pattern in Host");
	parse_bad("Match\n", NULL);
	parse_bad("Include\n", NULL);
	parse_bad("UserKnownHostsFile\n", NULL);
}

static void
test_sshconf_unterminated_quote_is_refused(void **state)
{
	(void)state;
	parse_bad("\n\nIdentityFile \"/k/a\n", "\"cfg\" line 3: "
	    "unterminated quote");
}

static void
test_sshconf_unknown_keywords_are_ignored(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "ForwardAgent yes\nNoSuchKeyword x y z\n"
	    "Port 2022\n", "h");
	assert_int_equal(c.port, 2022);
	sshconf_dispose(&c);
}

static void
test_sshconf_match_all_is_host_star(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "Host nothere\n  User a\nMatch all\n  User b\n", "h");
	assert_string_equal(c.user, "b");
	sshconf_dispose(&c);
}

/* Parses text for host and the remote user, which must succeed. */
static void
parse_as(struct sshconf *c, const char *text, const char *host,
    const char *user)
{
	struct ts_error	 err = { 0 };

	assert_int_equal(sshconf_parse(c, text, strlen(text), host, user,
	    "cfg", &err), 0);
}

/* Match host sees the HostName set so far; originalhost the name given;
 * pattern lists take "!" (ssh_config(5) Match, PATTERNS). */
static void
test_sshconf_match_host_is_evaluated(void **state)
{
	static const char text[] = "Host alias\n  HostName Real.Example\n"
	    "Match host real.example\n  User by-host\n"
	    "Match originalhost alias\n  Port 2201\n"
	    "Match host other,!h\n  IdentityFile /k/never\n"
	    "Match host h,x\n  Port 2202\n";
	struct sshconf	 c;

	(void)state;
	parse(&c, text, "alias");
	assert_string_equal(c.user, "by-host");
	assert_int_equal(c.port, 2201);
	assert_int_equal(c.n_identity_files, 0);
	sshconf_dispose(&c);
	parse(&c, text, "h");
	assert_null(c.user);
	assert_int_equal(c.port, 2202);
	assert_int_equal(c.n_identity_files, 0);
	sshconf_dispose(&c);
}

/* Match user: the user given, else the config's User so far, else ours;
 * the criteria of one line must all hold; "!" negates one. */
static void
test_sshconf_match_user_and_localuser(void **state)
{
	struct passwd	*pw = getpwuid(getuid());
	char		 text[512];
	struct sshconf	 c;

	(void)state;
	assert_non_null(pw);
	parse_as(&c, "Match user alice host h\n  Port 2301\n", "h", "alice");
	assert_int_equal(c.port, 2301);
	sshconf_dispose(&c);
	parse_as(&c, "Match user alice host x\n  Port 2301\n", "h", "alice");
	assert_int_equal(c.port, 0);
	sshconf_dispose(&c);
	parse_as(&c, "Match !user alice\n  Port 2302\n", "h", "bob");
	assert_int_equal(c.port, 2302);
	sshconf_dispose(&c);
	parse_as(&c, "Host h\n  User carol\nMatch user carol\n  Port 2303\n",
	    "h", NULL);
	assert_int_equal(c.port, 2303);
	sshconf_dispose(&c);
	snprintf(text, sizeof(text), "Match localuser %s\n  Port 2304\n"
	    "Match user %s\n  User matched-local\n", pw->pw_name, pw->pw_name);
	parse_as(&c, text, "h", NULL);
	assert_int_equal(c.port, 2304);
	assert_string_equal(c.user, "matched-local");
	sshconf_dispose(&c);
}

/* A criterion we cannot evaluate is refused by name, unless an earlier
 * one on the line already failed (ssh would not evaluate it either). */
static void
test_sshconf_match_unsupported_criterion_is_refused(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse_bad("Port 1\nMatch exec \"true\"\n  Port 2\n", "\"cfg\" line 2: "
	    "Match exec is not supported by the libssh2 transport; use "
	    "--transport openssh");
	parse_bad("Match canonical host h\n", NULL);
	parse_bad("Match all host h\n", "\"cfg\" line 1: Match all must "
	    "appear alone");
	parse_bad("Match host\n", "\"cfg\" line 1: Match host needs a "
	    "pattern list");
	parse(&c, "Match host other exec true\n  Port 2\n", "h");
	assert_int_equal(c.port, 0);
	sshconf_dispose(&c);
}

/* What changes where or how to connect is refused, naming the keyword,
 * file and line, when it applies to the host; "none" is fine. */
static void
test_sshconf_unsupported_keyword_is_refused_by_name(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse_bad("Host h\n  ProxyJump bastion\n", "\"cfg\" line 2: ProxyJump "
	    "is not supported by the libssh2 transport; use --transport "
	    "openssh");
	parse_bad("proxycommand nc %h %p\n", "\"cfg\" line 1: ProxyCommand "
	    "is not supported by the libssh2 transport; use --transport "
	    "openssh");
	parse_bad("Match host h\n  CertificateFile ~/.ssh/id-cert.pub\n",
	    NULL);
	parse(&c, "Host other\n  ProxyJump bastion\nHost *\n"
	    "  ProxyJump none\n  CanonicalizeHostname no\n  Port 2401\n", "h");
	assert_int_equal(c.port, 2401);
	sshconf_dispose(&c);
}

static void
test_sshconf_include_is_relative_to_ssh_dir(void **state)
{
	struct sshconf	 c;

	(void)state;
	make_dir(".ssh");
	make_dir(".ssh/inc1");
	put_file(".ssh/inc1/20-b.conf", "Host h\n  User from-b\n"
	    "  IdentityFile /k/b\n", 0600);
	put_file(".ssh/inc1/10-a.conf", "Host h\n  IdentityFile /k/a\n",
	    0600);
	put_file(".ssh/inc1/ignored.txt", "User wrong\n", 0600);
	/* glob(3) sorts: 10-a before 20-b. */
	parse(&c, "Include inc1/*.conf\nHost *\n  User later\n", "h");
	assert_string_equal(c.user, "from-b");
	assert_int_equal(c.n_identity_files, 2);
	assert_string_equal(c.identity_files[0], "/k/a");
	assert_string_equal(c.identity_files[1], "/k/b");
	sshconf_dispose(&c);
}

/* An Include in a block that does not apply adds nothing, even from a
 * "Host *" inside it; afterwards the includer's block goes on as before,
 * whatever Host lines the included file had. */
static void
test_sshconf_include_inside_host_block(void **state)
{
	struct sshconf	 c;
	const char	*inc;
	char		 text[512];

	(void)state;
	make_dir(".ssh");
	inc = put_file(".ssh/inc2.conf", "User from-include\n"
	    "Host *\n  Port 2000\nHost not-this-one\n", 0600);
	snprintf(text, sizeof(text), "Host other\n  Include %s\n"
	    "Host h\n  Include %s\n  IdentityFile /k/after\n", inc, inc);
	parse(&c, text, "h");
	assert_string_equal(c.user, "from-include");
	assert_int_equal(c.port, 2000);
	assert_int_equal(c.n_identity_files, 1);
	sshconf_dispose(&c);
	parse(&c, text, "nobody");
	assert_null(c.user);
	assert_int_equal(c.port, 0);
	assert_int_equal(c.n_identity_files, 0);
	sshconf_dispose(&c);
}

static void
test_sshconf_include_matching_nothing_is_fine(void **state)
{
	struct sshconf	 c;

	(void)state;
	parse(&c, "Include no-such-dir/*.conf ~/.ssh/none-here\nPort 7\n",
	    "h");
	assert_int_equal(c.port, 7);
	sshconf_dispose(&c);
}

static void
test_sshconf_include_depth_is_limited(void **state)
{
	struct sshconf	 c;
	struct ts_error	 err = { 0 };
	const char	*text = "Include loop.conf\n";

	(void)state;
	make_dir(".ssh");
	put_file(".ssh/loop.conf", "Port 1\nInclude loop.conf\n", 0600);
	assert_int_equal(sshconf_parse(&c, text, strlen(text), "h", NULL,
	    "cfg", &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "loop.conf\" line 2: Include nested "
	    "more than 16 deep"));
	sshconf_dispose(&c);
}

/* Whoever may write an included file chooses keys and hosts for us. */
static void
test_sshconf_include_writable_by_others_is_refused(void **state)
{
	struct sshconf	 c;
	struct ts_error	 err = { 0 };
	const char	*text = "Include open.conf\n";

	(void)state;
	make_dir(".ssh");
	put_file(".ssh/open.conf", "Port 1\n", 0666);
	assert_int_equal(sshconf_parse(&c, text, strlen(text), "h", NULL,
	    "cfg", &err), TS_ELOCAL);
	assert_non_null(strstr(err.msg, "bad owner or permissions"));
	sshconf_dispose(&c);
}

static void
test_sshconf_load_reads_default_file(void **state)
{
	struct sshconf	 c;
	struct ts_error	 err = { 0 };

	(void)state;
	make_dir(".ssh");
	put_file(".ssh/config", "Host h\n  Port 2345\n", 0600);
	assert_int_equal(sshconf_load(&c, NULL, "h", NULL, &err), 0);
	assert_int_equal(c.port, 2345);
	sshconf_dispose(&c);
	remove(home_path(".ssh/config"));
}

static void
test_sshconf_load_missing_default_is_fine(void **state)
{
	struct sshconf	 c;
	struct ts_error	 err = { 0 };

	(void)state;
	remove(home_path(".ssh/config"));
	assert_int_equal(sshconf_load(&c, NULL, "h", NULL, &err), 0);
	assert_int_equal(err.code, TS_OK);
	assert_int_equal(c.port, 0);
	assert_int_equal(c.identities_only, -1);
	assert_int_equal(c.strict_host_key, -1);
	sshconf_dispose(&c);
}

static void
test_sshconf_load_missing_named_file_is_an_error(void **state)
{
	struct sshconf	 c;
	struct ts_error	 err = { 0 };

	(void)state;
	assert_int_equal(sshconf_load(&c, home_path("nope"), "h", NULL, &err),
	    TS_ENOENT);
	assert_non_null(strstr(err.msg, "nope\" does not exist"));
	sshconf_dispose(&c);
}

static void
test_sshconf_load_named_file(void **state)
{
	struct sshconf	 c;
	struct ts_error	 err = { 0 };
	const char	*p;

	(void)state;
	/* -F files are not checked for permissions, as in ssh(1). */
	p = put_file("F.conf", "User f\n", 0666);
	assert_int_equal(sshconf_load(&c, p, "h", NULL, &err), 0);
	assert_string_equal(c.user, "f");
	sshconf_dispose(&c);
	assert_int_equal(sshconf_load(&c, "none", "h", NULL, &err), 0);
	assert_null(c.user);
	sshconf_dispose(&c);
}

static void
test_sshconf_load_refuses_writable_default(void **state)
{
	struct sshconf	 c;
	struct ts_error	 err = { 0 };

	(void)state;
	make_dir(".ssh");
	put_file(".ssh/config", "Port 1\n", 0620);
	assert_int_equal(sshconf_load(&c, NULL, "h", NULL, &err), TS_ELOCAL);
	assert_non_null(strstr(err.msg, "bad owner or permissions"));
	sshconf_dispose(&c);
	remove(home_path(".ssh/config"));
}

static void
test_sshconf_dispose_accepts_null_and_zeroed(void **state)
{
	struct sshconf	 c;

	(void)state;
	memset(&c, 0, sizeof(c));
	sshconf_dispose(NULL);
	sshconf_dispose(&c);
	sshconf_dispose(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sshconf_host_block_applies),
		cmocka_unit_test(test_sshconf_nothing_applies),
		cmocka_unit_test(test_sshconf_first_value_wins),
		cmocka_unit_test(
		    test_sshconf_keywords_ignore_case_and_take_equals),
		cmocka_unit_test(test_sshconf_quoted_values),
		cmocka_unit_test(test_sshconf_comments_and_blank_lines),
		cmocka_unit_test(test_sshconf_host_patterns),
		cmocka_unit_test(test_sshconf_negated_pattern_excludes_block),
		cmocka_unit_test(test_sshconf_host_match_is_case_sensitive),
		cmocka_unit_test(test_sshconf_identity_files_accumulate),
		cmocka_unit_test(
		    test_sshconf_too_many_identity_files_is_refused),
		cmocka_unit_test(test_sshconf_known_hosts_first_line_wins),
		cmocka_unit_test(test_sshconf_known_hosts_none),
		cmocka_unit_test(test_sshconf_tilde_and_tokens_are_expanded),
		cmocka_unit_test(test_sshconf_tilde_user_is_expanded),
		cmocka_unit_test(test_sshconf_h_token_is_the_hostname),
		cmocka_unit_test(test_sshconf_hostname_takes_h_token),
		cmocka_unit_test(test_sshconf_unsupported_tokens_are_refused),
		cmocka_unit_test(test_sshconf_booleans),
		cmocka_unit_test(test_sshconf_strict_host_key_checking),
		cmocka_unit_test(test_sshconf_times),
		cmocka_unit_test(test_sshconf_bad_port_names_file_and_line),
		cmocka_unit_test(
		    test_sshconf_bad_value_in_other_block_is_refused),
		cmocka_unit_test(
		    test_sshconf_missing_and_extra_values_are_refused),
		cmocka_unit_test(test_sshconf_unterminated_quote_is_refused),
		cmocka_unit_test(test_sshconf_unknown_keywords_are_ignored),
		cmocka_unit_test(test_sshconf_match_all_is_host_star),
		cmocka_unit_test(test_sshconf_match_host_is_evaluated),
		cmocka_unit_test(test_sshconf_match_user_and_localuser),
		cmocka_unit_test(
		    test_sshconf_match_unsupported_criterion_is_refused),
		cmocka_unit_test(
		    test_sshconf_unsupported_keyword_is_refused_by_name),
		cmocka_unit_test(test_sshconf_include_is_relative_to_ssh_dir),
		cmocka_unit_test(test_sshconf_include_inside_host_block),
		cmocka_unit_test(test_sshconf_include_matching_nothing_is_fine),
		cmocka_unit_test(test_sshconf_include_depth_is_limited),
		cmocka_unit_test(
		    test_sshconf_include_writable_by_others_is_refused),
		cmocka_unit_test(test_sshconf_load_reads_default_file),
		cmocka_unit_test(test_sshconf_load_missing_default_is_fine),
		cmocka_unit_test(
		    test_sshconf_load_missing_named_file_is_an_error),
		cmocka_unit_test(test_sshconf_load_named_file),
		cmocka_unit_test(test_sshconf_load_refuses_writable_default),
		cmocka_unit_test(test_sshconf_dispose_accepts_null_and_zeroed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
