#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hostkey.h"

/*
 * Real public keys, made with ssh-keygen -t ed25519/ecdsa/rsa; their
 * fingerprints are what ssh-keygen -lf printed for them.
 */
#define ED_A	"AAAAC3NzaC1lZDI1NTE5AAAAIP28Sh2ncfu4u8tHuYCqPmIEuhIgGlsZym" \
		"YViQKRTaiJ"
#define ED_A_FP	"SHA256:ugZfwaMVu2jcMHb37ttCz1HgRThdUVx5RcfUbvSFR2U"
#define ED_B	"AAAAC3NzaC1lZDI1NTE5AAAAIHmhbNQl5u+FMzUgXgxUi1K+xaKrQpgn4u" \
		"Kkah4EYQfS"
#define EC_A	"AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFLlt1" \
		"trVE7JLyiJJJH2bdwfrNc+ZA4th5Ksjp2+iE5klk/bimuVqXer0ALzXH5k" \
		"OA5oAxxOuvA5+e2O0Yj7slw="
#define EC_A_FP	"SHA256:F9l15TOmDGzdyOidUi6NCRwFeDQqDpeCCYVzLPVVtK8"
#define RSA_A	"AAAAB3NzaC1yc2EAAAADAQABAAAAgQC+Ogyk/jrC5HeFc2CEtiSUCPhE4x" \
		"H6d7nqYsPaQKqj9oEnwH2/WezxZ/kMXhyfIOywyn0yOyBeQKhYxU7X+Q0a" \
		"zf/xUPBd+7MM/aKQzo5hhT/5UBHzQyUr5sDdsTUMdNGwasBW1+lzgmLZ/P" \
		"zbDc01BQK/7n73sdpFCF0mNrrrDw=="
#define RSA_A_FP "SHA256:VzMC6WqkfKBFkSVDRrAWWem6qbWMUp+6Cs7ECX2CvcU"

/* "[127.0.0.1]:2222 ssh-ed25519 ED_A" after ssh-keygen -H -f (9.2p1). */
#define KEYGEN_HASHED	"|1|jzccvCp78vop94fV4JdVz+Zly+I=|" \
			"g8Hk+86l5ewKW/XIKzZPrIBQN6c="

struct key {
	uint8_t	 b[1024];
	size_t	 len;
};

/* Decodes a padded base64 key into k. */
static void
key_from_b64(struct key *k, const char *b64)
{
	size_t	 n = strlen(b64);
	int	 len;

	assert_true(n / 4 * 3 <= sizeof(k->b));
	len = EVP_DecodeBlock(k->b, (const unsigned char *)b64, (int)n);
	assert_true(len > 0);
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	while (n > 0 && b64[n - 1] == '=') {
		len--;
		n--;
	}
	k->len = (size_t)len;
}

/* Checks text as known_hosts file "kh" for host:port and key b64. */
static struct hostkey_check
check(const char *text, const char *host, int port, const char *b64)
{
	struct hostkey_check	 out;
	struct key		 k;

	key_from_b64(&k, b64);
	assert_int_equal(hostkey_check_text(&out, text, strlen(text), "kh",
	    host, port, k.b, k.len), 0);
	return out;
}

static void
test_hostkey_plain_entry_matches(void **state)
{
	struct hostkey_check	 r;

	(void)state;
	r = check("# mine\n\nhost.example ssh-ed25519 " ED_A " comment\n",
	    "host.example", 22, ED_A);
	assert_int_equal(r.result, HOSTKEY_MATCH);
	assert_string_equal(r.file, "kh");
	assert_int_equal(r.line, 3);
	assert_false(r.other_types);
}

/* Port 0 (not given) and 22 both look up the bare name. */
static void
test_hostkey_default_port_is_bare_name(void **state)
{
	const char	*kh = "h ssh-ed25519 " ED_A "\n";

	(void)state;
	assert_int_equal(check(kh, "h", 0, ED_A).result, HOSTKEY_MATCH);
	assert_int_equal(check(kh, "h", 22, ED_A).result, HOSTKEY_MATCH);
	/* ssh never writes "[h]:22", and never looks it up either. */
	assert_int_equal(check("[h]:22 ssh-ed25519 " ED_A "\n", "h", 22,
	    ED_A).result, HOSTKEY_UNKNOWN);
}

static void
test_hostkey_port_entry_matches_its_port(void **state)
{
	struct hostkey_check	 r;

	(void)state;
	r = check("[127.0.0.1]:2222 ssh-ed25519 " ED_A "\n", "127.0.0.1",
	    2222, ED_A);
	assert_int_equal(r.result, HOSTKEY_MATCH);
	assert_int_equal(r.line, 1);
}

static void
test_hostkey_port_entry_ignores_other_port(void **state)
{
	const char	*kh = "[127.0.0.1]:2222 ssh-ed25519 " ED_B "\n";

	(void)state;
	/* A different key would be CHANGED if the line applied. */
	assert_int_equal(check(kh, "127.0.0.1", 2223, ED_A).result,
	    HOSTKEY_UNKNOWN);
	assert_int_equal(check(kh, "127.0.0.1", 22, ED_A).result,
	    HOSTKEY_UNKNOWN);
}

static void
test_hostkey_bare_host_ignores_other_port(void **state)
{
	struct hostkey_check	 r;

	(void)state;
	r = check("127.0.0.1 ssh-ed25519 " ED_B "\n", "127.0.0.1", 2222,
	    ED_A);
	assert_int_equal(r.result, HOSTKEY_UNKNOWN);
	assert_false(r.other_types);
}

static void
test_hostkey_comma_list(void **state)
{
	const char	*kh = "alpha,beta.example,10.0.0.7 ssh-ed25519 " ED_A
			    "\n";

	(void)state;
	assert_int_equal(check(kh, "alpha", 22, ED_A).result, HOSTKEY_MATCH);
	assert_int_equal(check(kh, "beta.example", 22, ED_A).result,
	    HOSTKEY_MATCH);
	assert_int_equal(check(kh, "10.0.0.7", 22, ED_A).result,
	    HOSTKEY_MATCH);
	assert_int_equal(check(kh, "beta", 22, ED_A).result, HOSTKEY_UNKNOWN);
	assert_int_equal(check(kh, "alpha.x", 22, ED_A).result,
	    HOSTKEY_UNKNOWN);
}

static void
test_hostkey_wildcards(void **state)
{
	const char	*kh = "*.example.com,192.168.1.? ssh-ed25519 " ED_A
			    "\n";

	(void)state;
	assert_int_equal(check(kh, "a.example.com", 22, ED_A).result,
	    HOSTKEY_MATCH);
	assert_int_equal(check(kh, "a.b.example.com", 22, ED_A).result,
	    HOSTKEY_MATCH);
	assert_int_equal(check(kh, "example.com", 22, ED_A).result,
	    HOSTKEY_UNKNOWN);
	assert_int_equal(check(kh, "192.168.1.5", 22, ED_A).result,
	    HOSTKEY_MATCH);
	assert_int_equal(check(kh, "192.168.1.50", 22, ED_A).result,
	    HOSTKEY_UNKNOWN);
	/* The pattern is matched against "[host]:port" on other ports. */
	assert_int_equal(check(kh, "a.example.com", 2222, ED_A).result,
	    HOSTKEY_UNKNOWN);
	assert_int_equal(check("[*.example.com]:* ssh-ed25519 " ED_A "\n",
	    "a.example.com", 2222, ED_A).result, HOSTKEY_MATCH);
}

/* One matching negated pattern makes the whole line not apply. */
static void
test_hostkey_negation_excludes_line(void **state)
{
	const char	*kh = "*.example.com,!bad.example.com ssh-ed25519 "
			    ED_B "\n";

	(void)state;
	assert_int_equal(check(kh, "good.example.com", 22, ED_A).result,
	    HOSTKEY_CHANGED);
	assert_int_equal(check(kh, "bad.example.com", 22, ED_A).result,
	    HOSTKEY_UNKNOWN);
	/* Negation alone never makes a line apply. */
	assert_int_equal(check("!bad ssh-ed25519 " ED_B "\n", "good", 22,
	    ED_A).result, HOSTKEY_UNKNOWN);
}

static void
test_hostkey_names_ignore_case(void **state)
{
	(void)state;
	assert_int_equal(check("Host.Example.COM ssh-ed25519 " ED_A "\n",
	    "host.example.com", 22, ED_A).result, HOSTKEY_MATCH);
	assert_int_equal(check("host.example.com ssh-ed25519 " ED_A "\n",
	    "HOST.example.com", 22, ED_A).result, HOSTKEY_MATCH);
}

/* Builds "|1|salt|HMAC-SHA1(salt, name)" the way HashKnownHosts does. */
static void
hash_name(char *out, size_t size, const char *name, const uint8_t *salt)
{
	uint8_t		 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	char		 s64[32], m64[32];

	assert_non_null(HMAC(EVP_sha1(), salt, 20, (const uint8_t *)name,
	    strlen(name), mac, &maclen));
	assert_int_equal(maclen, 20);
	EVP_EncodeBlock((unsigned char *)s64, salt, 20);
	EVP_EncodeBlock((unsigned char *)m64, mac, 20);
	snprintf(out, size, "|1|%s|%s", s64, m64);
}

static void
test_hostkey_hashed_entry_matches(void **state)
{
	uint8_t		 salt[20];
	char		 hashed[80], kh[256];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)(i * 37 + 11);
	hash_name(hashed, sizeof(hashed), "[127.0.0.1]:2222", salt);
	snprintf(kh, sizeof(kh), "%s ssh-ed25519 %s\n", hashed, ED_A);
	assert_int_equal(check(kh, "127.0.0.1", 2222, ED_A).result,
	    HOSTKEY_MATCH);
	assert_int_equal(check(kh, "127.0.0.1", 2223, ED_A).result,
	    HOSTKEY_UNKNOWN);
	assert_int_equal(check(kh, "127.0.0.1", 22, ED_A).result,
	    HOSTKEY_UNKNOWN);
	assert_int_equal(check(kh, "127.0.0.1", 2222, ED_B).result,
	    HOSTKEY_CHANGED);
}

/* A line ssh-keygen -H wrote, so we agree with OpenSSH, not only with
 * ourselves. */
static void
test_hostkey_hashed_entry_from_ssh_keygen(void **state)
{
	const char	*kh = KEYGEN_HASHED " ssh-ed25519 " ED_A "\n";

	(void)state;
	assert_int_equal(check(kh, "127.0.0.1", 2222, ED_A).result,
	    HOSTKEY_MATCH);
	assert_int_equal(check(kh, "127.0.0.1", 22, ED_A).result,
	    HOSTKEY_UNKNOWN);
	assert_int_equal(check(kh, "127.0.0.2", 2222, ED_A).result,
	    HOSTKEY_UNKNOWN);
}

static void
test_hostkey_malformed_hashed_entries_are_skipped(void **state)
{
	const char	*kh =
	    "|1|jzccvCp78vop94fV4JdVz+Zly+I=| ssh-ed25519 " ED_B "\n"
	    "|1|jzccvCp78vop94fV4JdVz+Zly+I= ssh-ed25519 " ED_B "\n"
	    "|2|jzccvCp78vop94fV4JdVz+Zly+I=|g8Hk+86l5ewKW/XIKzZPrIBQN6c= "
	    "ssh-ed25519 " ED_B "\n"
	    "|1|jzcc|g8Hk+86l5ewKW/XIKzZPrIBQN6c= ssh-ed25519 " ED_B "\n"
	    "|1|!zccvCp78vop94fV4JdVz+Zly+I=|g8Hk+86l5ewKW/XIKzZPrIBQN6c= "
	    "ssh-ed25519 " ED_B "\n"
	    KEYGEN_HASHED " ssh-ed25519 " ED_A "\n";
	struct hostkey_check	 r;

	(void)state;
	r = check(kh, "127.0.0.1", 2222, ED_A);
	assert_int_equal(r.result, HOSTKEY_MATCH);
	assert_int_equal(r.line, 6);
}

/* @revoked wins over a line that lists the same key, before or after. */
static void
test_hostkey_revoked_wins(void **state)
{
	struct hostkey_check	 r;

	(void)state;
	r = check("h ssh-ed25519 " ED_A "\n"
	    "@revoked * ssh-ed25519 " ED_A "\n", "h", 22, ED_A);
	assert_int_equal(r.result, HOSTKEY_REVOKED);
	assert_int_equal(r.line, 2);
	r = check("@revoked h ssh-ed25519 " ED_A "\n"
	    "h ssh-ed25519 " ED_A "\n", "h", 22, ED_A);
	assert_int_equal(r.result, HOSTKEY_REVOKED);
	assert_int_equal(r.line, 1);
}

static void
test_hostkey_revoked_needs_same_key_and_host(void **state)
{
	(void)state;
	assert_int_equal(check("@revoked * ssh-ed25519 " ED_B "\n"
	    "h ssh-ed25519 " ED_A "\n", "h", 22, ED_A).result, HOSTKEY_MATCH);
	assert_int_equal(check("@revoked other ssh-ed25519 " ED_A "\n"
	    "h ssh-ed25519 " ED_A "\n", "h", 22, ED_A).result, HOSTKEY_MATCH);
	/* A revoked key of the same type is not "the" key of the host. */
	assert_int_equal(check("@revoked h ssh-ed25519 " ED_B "\n", "h", 22,
	    ED_A).result, HOSTKEY_UNKNOWN);
}

/* Host certificates are not used: a CA line vouches for nothing. */
static void
test_hostkey_cert_authority_is_skipped(void **state)
{
	(void)state;
	assert_int_equal(check("@cert-authority h ssh-ed25519 " ED_A "\n",
	    "h", 22, ED_A).result, HOSTKEY_UNKNOWN);
	assert_int_equal(check("@cert-authority h ssh-ed25519 " ED_B "\n",
	    "h", 22, ED_A).result, HOSTKEY_UNKNOWN);
	assert_int_equal(check("@bogus h ssh-ed25519 " ED_A "\n", "h", 22,
	    ED_A).result, HOSTKEY_UNKNOWN);
}

static void
test_hostkey_changed_reports_first_line(void **state)
{
	struct hostkey_check	 r;

	(void)state;
	r = check("other ssh-ed25519 " ED_A "\n"
	    "h ecdsa-sha2-nistp256 " EC_A "\n"
	    "h ssh-ed25519 " ED_B "\n"
	    "h2 ssh-ed25519 " ED_A "\n"
	    "h ssh-ed25519 " ED_B "\n", "h", 22, ED_A);
	assert_int_equal(r.result, HOSTKEY_CHANGED);
	assert_string_equal(r.file, "kh");
	assert_int_equal(r.line, 3);
	assert_false(r.other_types);
}

/* An old key left in the file does not hide the one that is listed. */
static void
test_hostkey_match_beats_changed(void **state)
{
	struct hostkey_check	 r;

	(void)state;
	r = check("h ssh-ed25519 " ED_B "\nh ssh-ed25519 " ED_A "\n", "h", 22,
	    ED_A);
	assert_int_equal(r.result, HOSTKEY_MATCH);
	assert_int_equal(r.line, 2);
}

static void
test_hostkey_garbage_lines_are_skipped(void **state)
{
	static const char	 kh[] =
	    "h\n"					/* one field */
	    "h ssh-ed25519\n"				/* no key */
	    "h ssh-ed25519 # comment\n"			/* no key */
	    "h # ssh-ed25519 " ED_B "\n"		/* no type */
	    "h ssh-ed25519 AAAA!!!!\n"			/* bad base64 */
	    "h ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHmhbNQl5u\n" /* cut */
	    "h ssh-rsa " ED_B "\n"			/* type mismatch */
	    "h ssh-ed25519 AAAAAA==\n"		/* no type inside */
	    "h 2048 65537 1234567890\n"			/* SSH-1 RSA */
	    "\x01\x02\xff\xfe binary\n"
	    "@revoked\n"
	    "   \t  \r\n"
	    "h ssh-ed25519 \0 " ED_B "\n"		/* NUL byte */
	    "\th ssh-ed25519 " ED_A " trailing comment\r\n";
	struct hostkey_check	 r;
	struct key		 k;

	(void)state;
	key_from_b64(&k, ED_A);
	assert_int_equal(hostkey_check_text(&r, kh, sizeof(kh) - 1, "kh", "h",
	    22, k.b, k.len), 0);
	assert_int_equal(r.result, HOSTKEY_MATCH);
	assert_int_equal(r.line, 14);
}

/* The type field must name the key's own type, as ssh(1) requires. */
static void
test_hostkey_type_field_must_match_key(void **state)
{
	struct hostkey_check	 r;

	(void)state;
	r = check("h ssh-rsa " ED_B "\n", "h", 22, ED_A);
	assert_int_equal(r.result, HOSTKEY_UNKNOWN);
	assert_false(r.other_types);
}

static void
test_hostkey_other_types_are_reported(void **state)
{
	struct hostkey_check	 r;

	(void)state;
	r = check("h ecdsa-sha2-nistp256 " EC_A "\n", "h", 22, ED_A);
	assert_int_equal(r.result, HOSTKEY_UNKNOWN);
	assert_true(r.other_types);
	assert_string_equal(r.file, "");
	assert_int_equal(r.line, 0);
}

static void
test_hostkey_unknown_host(void **state)
{
	struct hostkey_check	 r;

	(void)state;
	r = check("other ecdsa-sha2-nistp256 " EC_A "\n", "h", 22, ED_A);
	assert_int_equal(r.result, HOSTKEY_UNKNOWN);
	assert_false(r.other_types);
	r = check("", "h", 22, ED_A);
	assert_int_equal(r.result, HOSTKEY_UNKNOWN);
}

static void
test_hostkey_malformed_server_key_is_refused(void **state)
{
	struct hostkey_check	 r;
	struct ts_error		 err = { 0 };
	const uint8_t		 bad[] = { 0, 0, 0, 9, 's', 's', 'h' };
	const char		*files[] = { "/nonexistent/kh" };

	(void)state;
	assert_int_equal(hostkey_check_text(&r, "", 0, "kh", "h", 22, bad,
	    sizeof(bad)), TS_EINVAL);
	assert_int_equal(hostkey_check(&r, files, 1, "h", 22, bad, 2, &err),
	    TS_EINVAL);
	assert_int_equal(err.code, TS_EINVAL);
}

/* A temporary directory for file tests, and the files made in it. */
struct tmp {
	char	 dir[64];
	char	 path[4][128];
};

static void
tmp_make(struct tmp *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_hostkey.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
}

static const char *
tmp_file(struct tmp *t, int i, const char *name, const char *text)
{
	FILE	*f;
	char	 p[sizeof(t->path[0])];

	/* Through p: t->dir and t->path share the object t. */
	snprintf(p, sizeof(p), "%s/%s", t->dir, name);
	memcpy(t->path[i], p, sizeof(p));
	if (text != NULL) {
		assert_non_null(f = fopen(t->path[i], "w"));
		assert_int_equal(fputs(text, f) >= 0, 1);
		assert_int_equal(fclose(f), 0);
	}
	return t->path[i];
}

static void
tmp_remove(struct tmp *t)
{
	int	 i;

	for (i = 0; i < 4; i++)
		if (t->path[i][0] != '\0')
			unlink(t->path[i]);
	rmdir(t->dir);
}

static void
test_hostkey_files_are_read_in_turn(void **state)
{
	struct tmp		 t;
	struct hostkey_check	 r;
	struct ts_error		 err = { 0 };
	struct key		 k;
	const char		*files[3];

	(void)state;
	tmp_make(&t);
	files[0] = tmp_file(&t, 0, "missing", NULL);
	files[1] = tmp_file(&t, 1, "kh1", "h ssh-ed25519 " ED_B "\n");
	files[2] = tmp_file(&t, 2, "kh2", "x ssh-ed25519 " ED_B "\n"
	    "h ssh-ed25519 " ED_A "\n");
	key_from_b64(&k, ED_A);
	assert_int_equal(hostkey_check(&r, files, 3, "h", 22, k.b, k.len,
	    &err), 0);
	assert_int_equal(r.result, HOSTKEY_MATCH);
	assert_string_equal(r.file, files[2]);
	assert_int_equal(r.line, 2);
	/* Without the second file, the first one's other key decides. */
	assert_int_equal(hostkey_check(&r, files, 2, "h", 22, k.b, k.len,
	    &err), 0);
	assert_int_equal(r.result, HOSTKEY_CHANGED);
	assert_string_equal(r.file, files[1]);
	assert_int_equal(r.line, 1);
	assert_int_equal(err.code, TS_OK);
	tmp_remove(&t);
}

static void
test_hostkey_unreadable_file_is_an_error(void **state)
{
	struct tmp		 t;
	struct hostkey_check	 r;
	struct ts_error		 err = { 0 };
	struct key		 k;
	const char		*files[1];

	(void)state;
	tmp_make(&t);
	files[0] = t.dir;		/* a directory cannot be read */
	key_from_b64(&k, ED_A);
	assert_int_equal(hostkey_check(&r, files, 1, "h", 22, k.b, k.len,
	    &err), TS_ELOCAL);
	assert_non_null(strstr(err.msg, t.dir));
	tmp_remove(&t);
}

static void
test_hostkey_known_types_in_file_order(void **state)
{
	struct tmp	 t;
	struct ts_error	 err = { 0 };
	const char	*files[3];
	char		 types[256];

	(void)state;
	tmp_make(&t);
	files[0] = tmp_file(&t, 0, "kh1",
	    "h ecdsa-sha2-nistp256 " EC_A "\n"
	    "other ssh-rsa " RSA_A "\n"
	    "@revoked h ssh-rsa " RSA_A "\n"
	    "@cert-authority h ssh-rsa " RSA_A "\n"
	    "h ssh-ed25519 " ED_A "\n");
	files[1] = tmp_file(&t, 1, "missing", NULL);
	files[2] = tmp_file(&t, 2, "kh2",
	    "h ssh-ed25519 " ED_B "\n"
	    "h ssh-rsa " RSA_A "\n"
	    "h ecdsa-sha2-nistp256 " EC_A "\n");
	assert_int_equal(hostkey_known_types(types, sizeof(types), files, 3,
	    "h", 22, &err), 0);
	/* ssh-rsa becomes the signature algorithms libssh2 negotiates. */
	assert_string_equal(types, "ecdsa-sha2-nistp256,ssh-ed25519,"
	    "rsa-sha2-512,rsa-sha2-256,ssh-rsa");
	assert_int_equal(hostkey_known_types(types, sizeof(types), files, 3,
	    "h", 2222, &err), 0);
	assert_string_equal(types, "");
	assert_int_equal(hostkey_known_types(types, sizeof(types), files, 3,
	    "other", 22, &err), 0);
	assert_string_equal(types, "rsa-sha2-512,rsa-sha2-256,ssh-rsa");
	tmp_remove(&t);
}

static void
test_hostkey_known_types_too_small_is_refused(void **state)
{
	struct ts_error	 err = { 0 };
	const char	*kh = "h ssh-ed25519 " ED_A "\n";
	char		 types[12];
	struct tmp	 t;
	const char	*files[1];

	(void)state;
	tmp_make(&t);
	files[0] = tmp_file(&t, 0, "kh", kh);
	/* "ssh-ed25519" and its NUL take 12 bytes. */
	assert_int_equal(hostkey_known_types(types, 11, files, 1, "h", 22,
	    &err), TS_EINVAL);
	assert_int_equal(err.code, TS_EINVAL);
	assert_string_equal(types, "");
	assert_int_equal(hostkey_known_types(types, sizeof(types), files, 1,
	    "h", 22, NULL), 0);
	assert_string_equal(types, "ssh-ed25519");
	tmp_remove(&t);
}

static void
test_hostkey_add_then_check(void **state)
{
	struct tmp		 t;
	struct hostkey_check	 r;
	struct ts_error		 err = { 0 };
	struct stat		 st;
	struct key		 a, b;
	const char		*files[1];
	char			 dir[128], text[512];
	FILE			*f;
	size_t			 n;

	(void)state;
	tmp_make(&t);
	key_from_b64(&a, ED_A);
	key_from_b64(&b, EC_A);
	/* Neither the directory nor the file exist yet. */
	snprintf(dir, sizeof(dir), "%s/ssh", t.dir);
	files[0] = tmp_file(&t, 0, "ssh/known_hosts", NULL);
	assert_int_equal(hostkey_add(files[0], "Srv.Example", 2222, a.b, a.len,
	    &err), 0);
	assert_int_equal(hostkey_add(files[0], "srv.example", 22, b.b, b.len,
	    &err), 0);
	assert_int_equal(err.code, TS_OK);

	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(files[0], &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_non_null(f = fopen(files[0], "r"));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_string_equal(text, "[srv.example]:2222 ssh-ed25519 " ED_A "\n"
	    "srv.example ecdsa-sha2-nistp256 " EC_A "\n");

	assert_int_equal(hostkey_check(&r, files, 1, "srv.example", 2222, a.b,
	    a.len, &err), 0);
	assert_int_equal(r.result, HOSTKEY_MATCH);
	assert_int_equal(r.line, 1);
	assert_int_equal(hostkey_check(&r, files, 1, "srv.example", 22, b.b,
	    b.len, &err), 0);
	assert_int_equal(r.result, HOSTKEY_MATCH);
	assert_int_equal(r.line, 2);
	assert_int_equal(hostkey_check(&r, files, 1, "srv.example", 22, a.b,
	    a.len, &err), 0);
	assert_int_equal(r.result, HOSTKEY_UNKNOWN);
	assert_true(r.other_types);
	tmp_remove(&t);
	rmdir(dir);
	rmdir(t.dir);
}

/* A last line without its newline is finished, not joined to ours. */
static void
test_hostkey_add_after_unterminated_line(void **state)
{
	struct tmp		 t;
	struct hostkey_check	 r;
	struct ts_error		 err = { 0 };
	struct key		 a, b;
	const char		*files[1];

	(void)state;
	tmp_make(&t);
	key_from_b64(&a, ED_A);
	key_from_b64(&b, ED_B);
	files[0] = tmp_file(&t, 0, "kh", "one ssh-ed25519 " ED_B);
	assert_int_equal(hostkey_add(files[0], "two", 22, a.b, a.len, &err),
	    0);
	assert_int_equal(hostkey_check(&r, files, 1, "one", 22, b.b, b.len,
	    &err), 0);
	assert_int_equal(r.result, HOSTKEY_MATCH);
	assert_int_equal(hostkey_check(&r, files, 1, "two", 22, a.b, a.len,
	    &err), 0);
	assert_int_equal(r.result, HOSTKEY_MATCH);
	assert_int_equal(r.line, 2);
	tmp_remove(&t);
}

/* A name that would not read back as itself is never written. */
static void
test_hostkey_add_refuses_bad_host(void **state)
{
	struct tmp	 t;
	struct ts_error	 err = { 0 };
	struct key	 a;
	const char	*file;
	struct stat	 st;

	(void)state;
	tmp_make(&t);
	key_from_b64(&a, ED_A);
	file = tmp_file(&t, 0, "kh", NULL);
	assert_int_equal(hostkey_add(file, "a b", 22, a.b, a.len, &err),
	    TS_EINVAL);
	assert_int_equal(err.code, TS_EINVAL);
	assert_int_equal(hostkey_add(file, "a,b", 22, a.b, a.len, NULL),
	    TS_EINVAL);
	assert_int_equal(hostkey_add(file, "*", 22, a.b, a.len, NULL),
	    TS_EINVAL);
	assert_int_equal(hostkey_add(file, "|1|x", 22, a.b, a.len, NULL),
	    TS_EINVAL);
	assert_int_equal(hostkey_add(file, "", 22, a.b, a.len, NULL),
	    TS_EINVAL);
	assert_int_equal(hostkey_add(file, "h\n", 22, a.b, a.len, NULL),
	    TS_EINVAL);
	assert_int_equal(hostkey_add(file, "h", 22, a.b, 3, NULL), TS_EINVAL);
	assert_int_equal(stat(file, &st), -1);
	tmp_remove(&t);
}

static void
test_hostkey_fingerprint_as_ssh_keygen(void **state)
{
	char		 fp[HOSTKEY_FINGERPRINT_SIZE];
	struct key	 k;

	(void)state;
	key_from_b64(&k, ED_A);
	assert_int_equal(hostkey_fingerprint(fp, sizeof(fp), k.b, k.len), 0);
	assert_string_equal(fp, ED_A_FP);
	key_from_b64(&k, EC_A);
	assert_int_equal(hostkey_fingerprint(fp, sizeof(fp), k.b, k.len), 0);
	assert_string_equal(fp, EC_A_FP);
	key_from_b64(&k, RSA_A);
	assert_int_equal(hostkey_fingerprint(fp, sizeof(fp), k.b, k.len), 0);
	assert_string_equal(fp, RSA_A_FP);
	assert_int_equal(hostkey_fingerprint(fp, sizeof(fp) - 1, k.b, k.len),
	    TS_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostkey_plain_entry_matches),
		cmocka_unit_test(test_hostkey_default_port_is_bare_name),
		cmocka_unit_test(test_hostkey_port_entry_matches_its_port),
		cmocka_unit_test(test_hostkey_port_entry_ignores_other_port),
		cmocka_unit_test(test_hostkey_bare_host_ignores_other_port),
		cmocka_unit_test(test_hostkey_comma_list),
		cmocka_unit_test(test_hostkey_wildcards),
		cmocka_unit_test(test_hostkey_negation_excludes_line),
		cmocka_unit_test(test_hostkey_names_ignore_case),
		cmocka_unit_test(test_hostkey_hashed_entry_matches),
		cmocka_unit_test(test_hostkey_hashed_entry_from_ssh_keygen),
		cmocka_unit_test(
		    test_hostkey_malformed_hashed_entries_are_skipped),
		cmocka_unit_test(test_hostkey_revoked_wins),
		cmocka_unit_test(test_hostkey_revoked_needs_same_key_and_host),
		cmocka_unit_test(test_hostkey_cert_authority_is_skipped),
		cmocka_unit_test(test_hostkey_changed_reports_first_line),
		cmocka_unit_test(test_hostkey_match_beats_changed),
		cmocka_unit_test(test_hostkey_garbage_lines_are_skipped),
		cmocka_unit_test(test_hostkey_type_field_must_match_key),
		cmocka_unit_test(test_hostkey_other_types_are_reported),
		cmocka_unit_test(test_hostkey_unknown_host),
		cmocka_unit_test(test_hostkey_malformed_server_key_is_refused),
		cmocka_unit_test(test_hostkey_files_are_read_in_turn),
		cmocka_unit_test(test_hostkey_unreadable_file_is_an_error),
		cmocka_unit_test(test_hostkey_known_types_in_file_order),
		cmocka_unit_test(test_hostkey_known_types_too_small_is_refused),
		cmocka_unit_test(test_hostkey_add_then_check),
		cmocka_unit_test(test_hostkey_add_after_unterminated_line),
		cmocka_unit_test(test_hostkey_add_refuses_bad_host),
		cmocka_unit_test(test_hostkey_fingerprint_as_ssh_keygen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
