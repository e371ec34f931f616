/*
 * Targets: scp's "[user@]host:path" and curl's "sftp://" URLs.  Pure: no
 * socket, file or clock.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "target.h"

#define SFTP_SCHEME	"sftp://"
#define SFTP_SCHEME_LEN	(sizeof(SFTP_SCHEME) - 1)
#define QUOTE_MAX	120	/* longest input quoted whole */

/*
 * Records "bad target "<s>": <why>" as TS_EINVAL.  A very long input is
 * cut short with "..." so the reason still fits in the message.
 */
static int __attribute__((format(printf, 3, 4)))
bad(struct ts_error *err, const char *s, const char *fmt, ...)
{
	char	 why[192];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (strlen(s) > QUOTE_MAX)
		return error_set(err, TS_EINVAL, "bad target \"%.*s...\": %s",
		    QUOTE_MAX - 3, s, why);
	return error_set(err, TS_EINVAL, "bad target \"%s\": %s", s, why);
}

static int
nomem(struct ts_error *err)
{
	return error_set(err, TS_ENOMEM, "out of memory parsing a target");
}

/*
 * Where the host part of an scp-style target ends: the ':' before the
 * path, or NULL when s is a local path.  This is OpenSSH's colon()
 * (misc.c): a leading ':' belongs to a file name, brackets after the
 * start or an '@' may hold an IPv6 address with colons, and a '/' before
 * the first ':' makes s a path, so "./a:b" and "/x/y:z" stay local.
 */
static const char *
scp_colon(const char *s)
{
	bool	 bracket = false;

	if (*s == ':')
		return NULL;
	if (*s == '[')
		bracket = true;
	for (; *s != '\0'; s++) {
		if (s[0] == '@' && s[1] == '[')
			bracket = true;
		if (s[0] == ']' && s[1] == ':' && bracket)
			return s + 1;
		if (s[0] == ':' && !bracket)
			return s;
		if (s[0] == '/')
			return NULL;
	}
	return NULL;
}

static bool
is_sftp_url(const char *s)
{
	/* URL schemes are case-insensitive (RFC 3986 section 3.1). */
	return strncasecmp(s, SFTP_SCHEME, SFTP_SCHEME_LEN) == 0;
}

bool
target_is_remote(const char *s)
{
	return is_sftp_url(s) || scp_colon(s) != NULL;
}

bool
ts_target_is_remote(const char *s)
{
	return target_is_remote(s);
}

static char *
dup_n(const char *p, size_t n)
{
	char	*d;

	if ((d = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes the n bytes at p, with %XX escapes (RFC 3986 section 2.1), into
 * a new string at *out.  "%00" is refused: no name can hold a NUL.
 */
static int
pct_decode(char **out, const char *p, size_t n, const char *s,
    struct ts_error *err)
{
	char	*d;
	size_t	 i, j;
	int	 hi, lo;

	*out = NULL;
	if ((d = malloc(n + 1)) == NULL)
		return nomem(err);
	for (i = j = 0; i < n; i++) {
		if (p[i] != '%') {
			d[j++] = p[i];
			continue;
		}
		if (n - i < 3) {		/* "%" needs two hex digits */
			free(d);
			return bad(err, s, "'%%' must start an escape "
			    "like %%20");
		}
		hi = hexval(p[i + 1]);
		lo = hexval(p[i + 2]);
		if (hi < 0 || lo < 0) {
			free(d);
			return bad(err, s, "bad escape \"%.3s\"", p + i);
		}
		if (hi == 0 && lo == 0) {
			free(d);
			return bad(err, s, "\"%%00\" is not allowed");
		}
		d[j++] = (char)(hi << 4 | lo);
		i += 2;
	}
	d[j] = '\0';
	*out = d;
	return 0;
}

static bool
has_control(const char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

/*
 * A host must be a name an SSH connection can use.  A leading '-' is
 * refused as ssh(1) does (valid_hostname in ssh.c): it would read as an
 * option wherever the name ends up on a command line.
 */
static int
check_host(const char *host, const char *s, struct ts_error *err)
{
	if (*host == '\0')
		return bad(err, s, "empty host");
	if (*host == '-')
		return bad(err, s, "host must not start with '-'");
	if (has_control(host) || strpbrk(host, " \t/@[]") != NULL)
		return bad(err, s, "host \"%s\" has characters a host name "
		    "cannot have", host);
	return 0;
}

static int
check_user(const char *user, const char *s, struct ts_error *err)
{
	if (*user == '\0')
		return bad(err, s, "empty user before '@'");
	/* In a URL, "user:secret@" carries a password; we never take one. */
	if (strchr(user, ':') != NULL)
		return bad(err, s, "user must not contain ':' (passwords in "
		    "targets are not supported)");
	if (has_control(user))
		return bad(err, s, "user has control characters");
	return 0;
}

/* Parses the n bytes at p as a TCP port, 1..65535, decimal digits only. */
static int
parse_port(int *out, const char *p, size_t n, const char *s,
    struct ts_error *err)
{
	long	 v = 0;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' || v > 65535)
			break;
		v = v * 10 + (p[i] - '0');
	}
	if (n == 0 || i < n || v < 1 || v > 65535)
		return bad(err, s, "bad port \"%.*s\" (expected 1..65535)",
		    (int)(n > 16 ? 16 : n), p);
	*out = (int)v;
	return 0;
}

/*
 * "[user@]host:path": the path is taken verbatim, as scp does, and an
 * empty one means the login directory.  colon is scp_colon(s).
 */
static int
parse_scp(struct target *t, const char *s, const char *colon,
    struct ts_error *err)
{
	const char	*h, *at, *p;
	size_t		 hlen;
	int		 rc;

	/* The user ends at the last '@' before any '[' (user@[v6]:path). */
	at = NULL;
	for (p = s; p < colon && *p != '['; p++)
		if (*p == '@')
			at = p;
	h = s;
	if (at != NULL) {
		if ((t->user = dup_n(s, (size_t)(at - s))) == NULL)
			return nomem(err);
		if ((rc = check_user(t->user, s, err)) != 0)
			return rc;
		h = at + 1;
	}
	hlen = (size_t)(colon - h);
	/* scp_colon only ends a bracketed host at "]:". */
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if ((t->host = dup_n(h, hlen)) == NULL)
		return nomem(err);
	if ((rc = check_host(t->host, s, err)) != 0)
		return rc;
	if ((t->path = strdup(colon + 1)) == NULL)
		return nomem(err);
	return 0;
}

/*
 * "sftp://[user@]host[:port][/path]", RFC 3986 syntax with curl's
 * conventions for the path: "/path" is absolute, "/~/path" is relative
 * to the login directory, and no path at all means the login directory.
 */
static int
parse_url(struct target *t, const char *s, struct ts_error *err)
{
	const char	*auth, *aend, *at, *h, *hend, *p, *rb;
	const char	*path;
	size_t		 colons;
	int		 rc;

	/* A '?' or '#' would start a query or fragment, which mean nothing
	 * here; refusing beats silently dropping part of a file name. */
	if (strpbrk(s, "?#") != NULL)
		return bad(err, s, "write '?' as %%3F and '#' as %%23 in a "
		    "URL");
	auth = s + SFTP_SCHEME_LEN;
	if ((aend = strchr(auth, '/')) == NULL)
		aend = auth + strlen(auth);

	/* userinfo ends at the last '@' of the authority (section 3.2.1). */
	at = NULL;
	for (p = auth; p < aend; p++)
		if (*p == '@')
			at = p;
	h = auth;
	if (at != NULL) {
		if ((rc = pct_decode(&t->user, auth, (size_t)(at - auth), s,
		    err)) != 0)
			return rc;
		if ((rc = check_user(t->user, s, err)) != 0)
			return rc;
		h = at + 1;
	}

	if (*h == '[') {		/* IP-literal, section 3.2.2 */
		if ((rb = memchr(h, ']', (size_t)(aend - h))) == NULL)
			return bad(err, s, "missing ']' after IPv6 address");
		if ((rc = pct_decode(&t->host, h + 1, (size_t)(rb - h - 1), s,
		    err)) != 0)
			return rc;
		hend = rb + 1;
		if (hend != aend && *hend != ':')
			return bad(err, s, "unexpected text after ']'");
	} else {
		colons = 0;
		for (p = h, hend = NULL; p < aend; p++)
			if (*p == ':' && colons++ == 0)
				hend = p;
		if (colons > 1)
			return bad(err, s, "write IPv6 addresses in brackets, "
			    "as in sftp://[::1]/path");
		if (hend == NULL)
			hend = aend;
		if ((rc = pct_decode(&t->host, h, (size_t)(hend - h), s,
		    err)) != 0)
			return rc;
	}
	if ((rc = check_host(t->host, s, err)) != 0)
		return rc;
	if (hend != aend && (rc = parse_port(&t->port, hend + 1,
	    (size_t)(aend - hend - 1), s, err)) != 0)
		return rc;

	/* The raw "/~" is checked, so "/%7E/" still names a directory "~". */
	path = aend;
	if (strcmp(path, "/~") == 0)
		path += 2;
	else if (strncmp(path, "/~/", 3) == 0)
		path += 3;
	return pct_decode(&t->path, path, strlen(path), s, err);
}

int
target_parse(struct target *out, const char *s, struct ts_error *err)
{
	const char	*colon;
	int		 rc;

	memset(out, 0, sizeof(*out));
	if (is_sftp_url(s))
		rc = parse_url(out, s, err);
	else if ((colon = scp_colon(s)) != NULL)
		rc = parse_scp(out, s, colon, err);
	else
		rc = bad(err, s, "expected [user@]host:path or "
		    "sftp://[user@]host[:port]/path");
	if (rc != 0)
		target_dispose(out);
	return rc;
}

void
target_dispose(struct target *t)
{
	if (t == NULL)
		return;
	free(t->user);
	free(t->host);
	free(t->path);
	memset(t, 0, sizeof(*t));
}
