/*
 * known_hosts: each line is "[marker] hostnames keytype base64 [comment]"
 * (sshd(8) SSH_KNOWN_HOSTS FILE FORMAT).  Lines are matched the way
 * OpenSSH's hostfile.c matches them; a line we cannot use is skipped,
 * never a reason to stop reading, since other tools write these files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "error.h"
#include "hostkey.h"

#define MAX_FILE	(16 << 20)	/* bytes read from one file */
#define MAX_HOST	1024		/* a host name we look up or add */
#define MAX_NAME	(MAX_HOST + 8)	/* "[host]:65535" */
#define SHA1_LEN	20
#define SHA256_LEN	32
#define HASH_MAGIC	"|1|"		/* hostfile.h HASH_MAGIC */
#define MAX_TYPES	32		/* distinct key types per host */
#define MAX_TYPE_LEN	64

/* Whitespace between fields; '\r' so that CRLF files read the same. */
#define BLANKS		" \t\r"

enum marker { MARK_NONE, MARK_REVOKED };

/* One usable line for the host being looked up. */
struct entry {
	enum marker	 marker;
	const uint8_t	*blob;		/* the decoded key */
	size_t		 bloblen;
	const uint8_t	*type;		/* the type name inside blob */
	size_t		 typelen;
	int		 line;
};

typedef void	entry_fn(const struct entry *e, const char *file,
		    void *payload);

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64val(char c)
{
	const char	*p;

	if (c == '\0' || (p = strchr(b64chars, c)) == NULL)
		return -1;
	return (int)(p - b64chars);
}

/*
 * Decodes the n characters at s, padded base64 as OpenSSH writes it
 * (b64_pton refuses leftover bits without padding), into out, which has
 * room for n / 4 * 3 bytes.  Returns the decoded length, or -1.
 */
static long
b64_decode(uint8_t *out, const char *s, size_t n)
{
	size_t	 i, o = 0;
	int	 v[4], k, pad;

	if (n == 0 || n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad != 0 || (v[k] = b64val(s[i + k])) < 0)
				return -1;
		}
		out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (uint8_t)(v[1] << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (uint8_t)(v[2] << 6 | v[3]);
	}
	return (long)o;
}

/* Encodes n bytes into out, which has room for (n + 2) / 3 * 4 + 1. */
static void
b64_encode(char *out, const uint8_t *in, size_t n, bool pad)
{
	uint32_t	 v;
	size_t		 i;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		*out++ = b64chars[v >> 18];
		*out++ = b64chars[v >> 12 & 63];
		*out++ = b64chars[v >> 6 & 63];
		*out++ = b64chars[v & 63];
	}
	if (i < n) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		*out++ = b64chars[v >> 18];
		*out++ = b64chars[v >> 12 & 63];
		if (i + 1 < n)
			*out++ = b64chars[v >> 6 & 63];
		else if (pad)
			*out++ = '=';
		if (pad)
			*out++ = '=';
	}
	*out = '\0';
}

/*
 * The key type name that starts a key blob (RFC 4253 section 6.6: a
 * string, then the key): a printable name with no blanks, or -1.
 */
static int
blob_type(const uint8_t **type, size_t *typelen, const uint8_t *blob,
    size_t len)
{
	uint32_t	 n;
	size_t		 i;

	if (blob == NULL || len < 4)
		return -1;
	n = get_u32(blob);
	if (n == 0 || n > len - 4 || n >= MAX_TYPE_LEN)
		return -1;
	for (i = 0; i < n; i++)
		if (blob[4 + i] <= ' ' || blob[4 + i] >= 0x7f)
			return -1;
	*type = blob + 4;
	*typelen = n;
	return 0;
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * Matches s against the n-byte pattern p, '*' any run and '?' any one
 * character, ignoring ASCII case as OpenSSH's match_hostname() does.
 * On a mismatch it retries from the last '*', one character further.
 */
static bool
match_pattern(const char *s, const char *p, size_t n)
{
	const char	*end = p + n, *star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (p < end && *p == '*') {
			star = p++;
			resume = s;
		} else if (p < end && (*p == '?' || lower(*p) == lower(*s))) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star + 1;
			s = ++resume;
		} else
			return false;
	}
	while (p < end && *p == '*')
		p++;
	return p == end;
}

/*
 * A comma-separated list of patterns, any of them negated with '!'
 * (OpenSSH match_pattern_list): 1 if one pattern matches and no negated
 * one does, 0 if none matches, -1 if a negated one matches.
 */
static int
match_list(const char *name, const char *list, size_t n)
{
	const char	*p = list, *end = list + n, *comma;
	bool		 negated, positive = false;

	while (p < end) {
		if ((comma = memchr(p, ',', (size_t)(end - p))) == NULL)
			comma = end;
		negated = *p == '!';
		if (match_pattern(name, p + negated,
		    (size_t)(comma - p - negated))) {
			if (negated)
				return -1;
			positive = true;
		}
		p = comma + 1;
	}
	return positive;
}

/*
 * A hashed name, "|1|base64(salt)|base64(HMAC-SHA1(salt, name))", as
 * HashKnownHosts writes it (hostfile.c host_hash).  A malformed one
 * matches nothing.
 */
static bool
match_hashed(const char *name, const char *field, size_t n)
{
	uint8_t		 salt[SHA1_LEN + 3], want[SHA1_LEN + 3];
	uint8_t		 got[EVP_MAX_MD_SIZE];
	const char	*s, *bar, *end = field + n;
	unsigned int	 gotlen = 0;

	if (n < sizeof(HASH_MAGIC) - 1 ||
	    memcmp(field, HASH_MAGIC, sizeof(HASH_MAGIC) - 1) != 0)
		return false;
	s = field + sizeof(HASH_MAGIC) - 1;
	if ((bar = memchr(s, '|', (size_t)(end - s))) == NULL)
		return false;
	/* Both are 20 bytes: 28 base64 characters each. */
	if (bar - s != 28 || end - (bar + 1) != 28 ||
	    b64_decode(salt, s, 28) != SHA1_LEN ||
	    b64_decode(want, bar + 1, 28) != SHA1_LEN)
		return false;
	if (HMAC(EVP_sha1(), salt, SHA1_LEN, (const uint8_t *)name,
	    strlen(name), got, &gotlen) == NULL || gotlen != SHA1_LEN)
		return false;
	return memcmp(got, want, SHA1_LEN) == 0;
}

/* The next blank-separated field of the line [*p, end), or NULL. */
static const char *
next_field(const char **p, const char *end, size_t *n)
{
	const char	*f;

	while (*p < end && strchr(BLANKS, **p) != NULL && **p != '\0')
		(*p)++;
	if (*p == end)
		return NULL;
	f = *p;
	while (*p < end && (strchr(BLANKS, **p) == NULL || **p == '\0'))
		(*p)++;
	*n = (size_t)(*p - f);
	return f;
}

/*
 * Parses one line and, when it is a usable line for name, hands it to
 * fn.  Returns 0, or TS_ENOMEM; a line it cannot use is simply skipped
 * (hostfile.c does the same: a bad line is logged and passed over).
 */
static int
scan_line(const char *p, const char *end, int lineno, const char *file,
    const char *name, entry_fn *fn, void *payload)
{
	struct entry	 e;
	const char	*hosts, *type, *b64;
	size_t		 hostslen, typelen, b64len, n;
	uint8_t		*blob;
	long		 bloblen;
	int		 m;

	memset(&e, 0, sizeof(e));
	e.line = lineno;
	if ((hosts = next_field(&p, end, &hostslen)) == NULL ||
	    hosts[0] == '#')
		return 0;
	if (hosts[0] == '@') {
		/* @cert-authority keys sign host certificates: we only
		 * ever see plain keys, so those lines never apply. */
		if (hostslen == 8 && memcmp(hosts, "@revoked", 8) == 0)
			e.marker = MARK_REVOKED;
		else
			return 0;
		if ((hosts = next_field(&p, end, &hostslen)) == NULL)
			return 0;
	}
	if ((type = next_field(&p, end, &typelen)) == NULL ||
	    type[0] == '#' || (b64 = next_field(&p, end, &b64len)) == NULL)
		return 0;
	/* Anything after the key is a comment. */

	if (hosts[0] == '|')
		m = match_hashed(name, hosts, hostslen);
	else
		m = match_list(name, hosts, hostslen);
	if (m != 1)
		return 0;

	if ((blob = malloc(b64len / 4 * 3 + 3)) == NULL)
		return TS_ENOMEM;
	bloblen = b64_decode(blob, b64, b64len);
	/* The blob names its own type; ssh(1) refuses a line whose type
	 * field says otherwise (sshkey.c sshkey_read). */
	if (bloblen > 0 && blob_type(&e.type, &n, blob, (size_t)bloblen) ==
	    0 && n == typelen && memcmp(e.type, type, n) == 0) {
		e.blob = blob;
		e.bloblen = (size_t)bloblen;
		e.typelen = n;
		fn(&e, file, payload);
	}
	free(blob);
	return 0;
}

/* Hands fn every usable line for name in len bytes of text. */
static int
scan_text(const char *text, size_t len, const char *file, const char *name,
    entry_fn *fn, void *payload)
{
	const char	*p = text, *end = text + len, *nl;
	int		 lineno = 0, rc;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		lineno++;
		if ((rc = scan_line(p, nl, lineno, file, name, fn,
		    payload)) != 0)
			return rc;
		p = nl + 1;
	}
	return 0;
}

/*
 * The name known_hosts files use for host:port (OpenSSH put_host_port):
 * the bare host on the default port, else "[host]:port"; lowercased, as
 * ssh(1) lowercases the host before looking it up.
 */
static int
host_name(char *out, const char *host, int port)
{
	size_t	 i;

	if (host == NULL || *host == '\0' || strlen(host) > MAX_HOST ||
	    port < 0 || port > 65535)
		return -1;
	if (port == 0 || port == 22)
		snprintf(out, MAX_NAME, "%s", host);
	else
		snprintf(out, MAX_NAME, "[%s]:%d", host, port);
	for (i = 0; out[i] != '\0'; i++)
		out[i] = lower(out[i]);
	return 0;
}

/*
 * Reads all of path into b.  A missing file (or a missing directory on
 * the way to it) sets *missing and is no error.
 */
static int
read_file(struct buf *b, const char *path, bool *missing,
    struct ts_error *err)
{
	ssize_t	 n;
	size_t	 room;
	int	 fd, rc = 0;

	*missing = false;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT || errno == ENOTDIR) {
			*missing = true;
			return 0;
		}
		return error_set_errno(err, errno, "open \"%s\"", path);
	}
	for (;;) {
		if ((room = b->max - b->len) == 0) {
			rc = error_set(err, TS_ELOCAL, "\"%s\" is larger "
			    "than %d bytes", path, MAX_FILE);
			break;
		}
		if (room > 65536)
			room = 65536;
		if (buf_reserve(b, room) != 0) {
			rc = error_set(err, TS_ENOMEM, "out of memory "
			    "reading \"%s\"", path);
			break;
		}
		if ((n = read(fd, b->data + b->len, room)) == -1) {
			if (errno == EINTR)
				continue;
			rc = error_set_errno(err, errno, "read \"%s\"", path);
			break;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	close(fd);
	return rc;
}

/*
 * Reads each file in turn (missing ones are fine) and hands fn every
 * usable line for name.
 */
static int
scan_files(const char *const *files, size_t nfiles, const char *name,
    entry_fn *fn, void *payload, struct ts_error *err)
{
	struct buf	 data;
	bool		 missing;
	size_t		 i;
	int		 rc = 0;

	for (i = 0; i < nfiles && rc == 0; i++) {
		buf_init(&data, MAX_FILE);
		rc = read_file(&data, files[i], &missing, err);
		if (rc == 0 && !missing &&
		    (rc = scan_text((const char *)data.data, data.len,
		    files[i], name, fn, payload)) == TS_ENOMEM)
			error_set(err, rc, "out of memory reading \"%s\"",
			    files[i]);
		buf_dispose(&data);
	}
	return rc;
}

/* The first line of one kind, and the file it was in. */
struct hit {
	bool	 found;
	char	 file[256];
	int	 line;
};

struct check {
	const uint8_t	*key;
	size_t		 keylen;
	const uint8_t	*type;
	size_t		 typelen;
	struct hit	 revoked, match, changed;
	bool		 other_types;
};

static void
hit(struct hit *h, const char *file, int line)
{
	if (h->found)
		return;
	h->found = true;
	snprintf(h->file, sizeof(h->file), "%s", file);
	h->line = line;
}

static void
check_entry(const struct entry *e, const char *file, void *payload)
{
	struct check	*c = payload;
	bool		 same_key, same_type;

	same_key = e->bloblen == c->keylen &&
	    memcmp(e->blob, c->key, c->keylen) == 0;
	same_type = e->typelen == c->typelen &&
	    memcmp(e->type, c->type, c->typelen) == 0;
	if (e->marker == MARK_REVOKED) {
		if (same_key)
			hit(&c->revoked, file, e->line);
	} else if (same_key)
		hit(&c->match, file, e->line);
	else if (same_type)
		hit(&c->changed, file, e->line);
	else
		c->other_types = true;
}

static int
check_init(struct check *c, struct hostkey_check *out, char *name,
    const char *host, int port, const uint8_t *key, size_t keylen,
    struct ts_error *err)
{
	memset(out, 0, sizeof(*out));
	out->result = HOSTKEY_UNKNOWN;
	memset(c, 0, sizeof(*c));
	c->key = key;
	c->keylen = keylen;
	if (blob_type(&c->type, &c->typelen, key, keylen) != 0)
		return error_set(err, TS_EINVAL, "malformed host key for "
		    "\"%s\"", host != NULL ? host : "");
	if (host_name(name, host, port) != 0)
		return error_set(err, TS_EINVAL, "bad host \"%s\" port %d "
		    "for known_hosts", host != NULL ? host : "", port);
	return 0;
}

/*
 * The verdict, whatever the order of the lines: a revoked key is refused
 * even where another line lists it (hostfile.c check_key_not_revoked),
 * a listed key anywhere is a match, and only then does another key of
 * the same type mean the key changed.
 */
static void
check_finish(struct hostkey_check *out, const struct check *c)
{
	const struct hit	*h = NULL;

	if (c->revoked.found) {
		out->result = HOSTKEY_REVOKED;
		h = &c->revoked;
	} else if (c->match.found) {
		out->result = HOSTKEY_MATCH;
		h = &c->match;
	} else if (c->changed.found) {
		out->result = HOSTKEY_CHANGED;
		h = &c->changed;
	} else {
		out->result = HOSTKEY_UNKNOWN;
		out->other_types = c->other_types;
		return;
	}
	memcpy(out->file, h->file, sizeof(out->file));
	out->line = h->line;
}

int
hostkey_check(struct hostkey_check *out, const char *const *files,
    size_t nfiles, const char *host, int port, const uint8_t *key,
    size_t keylen, struct ts_error *err)
{
	struct check	 c;
	char		 name[MAX_NAME];
	int		 rc;

	if ((rc = check_init(&c, out, name, host, port, key, keylen,
	    err)) != 0)
		return rc;
	if ((rc = scan_files(files, nfiles, name, check_entry, &c,
	    err)) != 0)
		return rc;
	check_finish(out, &c);
	return 0;
}

int
hostkey_check_text(struct hostkey_check *out, const char *text, size_t len,
    const char *file, const char *host, int port, const uint8_t *key,
    size_t keylen)
{
	struct check	 c;
	char		 name[MAX_NAME];
	int		 rc;

	if ((rc = check_init(&c, out, name, host, port, key, keylen,
	    NULL)) != 0)
		return rc;
	if ((rc = scan_text(text, len, file != NULL ? file : "", name,
	    check_entry, &c)) != 0)
		return rc;
	check_finish(out, &c);
	return 0;
}

struct types {
	char	 name[MAX_TYPES][MAX_TYPE_LEN];
	size_t	 n;
};

static void
types_entry(const struct entry *e, const char *file, void *payload)
{
	struct types	*t = payload;
	size_t		 i;

	(void)file;
	/* Revoked keys are no reason to prefer a type. */
	if (e->marker != MARK_NONE)
		return;
	for (i = 0; i < t->n; i++)
		if (strlen(t->name[i]) == e->typelen &&
		    memcmp(t->name[i], e->type, e->typelen) == 0)
			return;
	if (t->n == MAX_TYPES)
		return;
	/* blob_type keeps typelen below MAX_TYPE_LEN. */
	memcpy(t->name[t->n], e->type, e->typelen);
	t->name[t->n][e->typelen] = '\0';
	t->n++;
}

int
hostkey_known_types(char *out, size_t size, const char *const *files,
    size_t nfiles, const char *host, int port, struct ts_error *err)
{
	struct types	 t;
	char		 name[MAX_NAME];
	const char	*alg;
	size_t		 i, used = 0, n;
	int		 rc;

	if (size == 0)
		return error_set(err, TS_EINVAL, "no room for key types");
	out[0] = '\0';
	if (host_name(name, host, port) != 0)
		return error_set(err, TS_EINVAL, "bad host \"%s\" port %d "
		    "for known_hosts", host != NULL ? host : "", port);
	t.n = 0;
	if ((rc = scan_files(files, nfiles, name, types_entry, &t, err)) != 0)
		return rc;
	for (i = 0; i < t.n; i++) {
		alg = t.name[i];
		/* An RSA key signs with any of these algorithms (RFC 8332);
		 * the SHA-2 ones first, as ssh(1) prefers them. */
		if (strcmp(alg, "ssh-rsa") == 0)
			alg = "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
		n = strlen(alg) + (used != 0);
		if (n >= size - used) {
			out[0] = '\0';
			return error_set(err, TS_EINVAL, "the key types known "
			    "for \"%s\" need more than %zu bytes", name, size);
		}
		snprintf(out + used, size - used, "%s%s", used != 0 ? "," : "",
		    alg);
		used += n;
	}
	return 0;
}

/*
 * Whether host can be written as a known_hosts name that reads back as
 * itself: no blanks or commas (they split fields and lists), no pattern
 * characters, no leading marker or hash characters.
 */
static bool
host_writable(const char *host)
{
	const char	*p;

	if (host == NULL || *host == '\0' || strlen(host) > MAX_HOST)
		return false;
	if (*host == '@' || *host == '|' || *host == '#')
		return false;
	for (p = host; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f ||
		    strchr(",*?![]", *p) != NULL)
			return false;
	return true;
}

/* Creates the directory that will hold file, private as ~/.ssh is. */
static int
make_parent(const char *file, struct ts_error *err)
{
	const char	*slash;
	char		*dir;
	int		 rc = 0;

	if ((slash = strrchr(file, '/')) == NULL || slash == file)
		return 0;
	if ((dir = strndup(file, (size_t)(slash - file))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		rc = error_set_errno(err, errno, "create directory \"%s\"",
		    dir);
	free(dir);
	return rc;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
hostkey_add(const char *file, const char *host, int port,
    const uint8_t *key, size_t keylen, struct ts_error *err)
{
	const uint8_t	*type;
	struct stat	 st;
	size_t		 typelen, n;
	char		 name[MAX_NAME], *line = NULL, last;
	int		 fd = -1, rc = 0;

	if (blob_type(&type, &typelen, key, keylen) != 0)
		return error_set(err, TS_EINVAL, "malformed host key for "
		    "\"%s\"", host != NULL ? host : "");
	if (!host_writable(host) || host_name(name, host, port) != 0)
		return error_set(err, TS_EINVAL, "cannot record host \"%s\" "
		    "in \"%s\"", host != NULL ? host : "", file);
	/* "\n" name " " type " " base64 "\n" */
	n = 1 + strlen(name) + 1 + typelen + 1 + (keylen + 2) / 3 * 4 + 2;
	if ((line = malloc(n)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	line[0] = '\n';
	snprintf(line + 1, n - 1, "%s %.*s ", name, (int)typelen,
	    (const char *)type);
	b64_encode(line + strlen(line), key, keylen, true);
	strcat(line, "\n");

	if ((rc = make_parent(file, err)) != 0)
		goto out;
	/* Read as well, to see how the file ends. */
	if ((fd = open(file, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) == -1) {
		rc = error_set_errno(err, errno, "open \"%s\"", file);
		goto out;
	}
	/* A last line without its newline would swallow ours. */
	if (fstat(fd, &st) == -1) {
		rc = error_set_errno(err, errno, "stat \"%s\"", file);
		goto out;
	}
	last = '\n';
	if (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == -1) {
		rc = error_set_errno(err, errno, "read \"%s\"", file);
		goto out;
	}
	n = strlen(line);
	/* One write, so that with O_APPEND the line lands in one piece;
	 * fsync, so that a trust decision outlives a crash. */
	if (write_all(fd, line + (last == '\n'), n - (last == '\n')) != 0 ||
	    fsync(fd) != 0) {
		rc = error_set_errno(err, errno, "write \"%s\"", file);
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = error_set_errno(err, errno, "write \"%s\"", file);
		goto out;
	}
	fd = -1;
out:
	if (fd != -1)
		close(fd);
	free(line);
	return rc;
}

int
hostkey_fingerprint(char *out, size_t size, const uint8_t *key,
    size_t keylen)
{
	uint8_t		 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;

	if (size < HOSTKEY_FINGERPRINT_SIZE)
		return TS_EINVAL;
	if (EVP_Digest(key, keylen, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != SHA256_LEN)
		return TS_ERROR;
	memcpy(out, "SHA256:", 7);
	b64_encode(out + 7, md, mdlen, false);
	return 0;
}
