/*
 * The OpenSSH client configuration, read the way ssh(1) reads it
 * (readconf.c): line by line, the first value obtained for a keyword wins,
 * and only the blocks whose Host patterns match apply.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "sshconf.h"

#define MAX_DEPTH	16		/* readconf.c READCONF_MAX_DEPTH */
#define MAX_FILE	(4 << 20)	/* bytes read from one file */
#define MAX_WORDS	256		/* words on one line */
#define MAX_PATH_LEN	4096		/* an expanded file name */
#define PW_BUF_SIZE	16384		/* getpw*_r() scratch space */

enum keyword {
	K_HOST, K_MATCH, K_INCLUDE, K_HOSTNAME, K_USER, K_PORT,
	K_IDENTITYFILE, K_IDENTITIESONLY, K_KNOWNHOSTS, K_STRICT,
	K_CONNECTTIMEOUT, K_ALIVE, K_UNSUPPORTED,
};

/* The keywords we use, spelt as ssh_config(5) does for messages. */
static const struct {
	const char	*name;
	enum keyword	 kw;
} keywords[] = {
	{ "Host",			K_HOST },
	{ "Match",			K_MATCH },
	{ "Include",			K_INCLUDE },
	{ "HostName",			K_HOSTNAME },
	{ "User",			K_USER },
	{ "Port",			K_PORT },
	{ "IdentityFile",		K_IDENTITYFILE },
	{ "IdentitiesOnly",		K_IDENTITIESONLY },
	{ "UserKnownHostsFile",		K_KNOWNHOSTS },
	{ "StrictHostKeyChecking",	K_STRICT },
	{ "ConnectTimeout",		K_CONNECTTIMEOUT },
	{ "ServerAliveInterval",	K_ALIVE },
	/* They change where or how to connect: ignoring them would reach
	 * another machine, or fail in a way that hides why.  "none" (or
	 * "no") is their default, and fine. */
	{ "ProxyJump",			K_UNSUPPORTED },
	{ "ProxyCommand",		K_UNSUPPORTED },
	{ "CertificateFile",		K_UNSUPPORTED },
	{ "HostKeyAlias",		K_UNSUPPORTED },
	{ "KnownHostsCommand",		K_UNSUPPORTED },
	{ "PKCS11Provider",		K_UNSUPPORTED },
	{ "SecurityKeyProvider",	K_UNSUPPORTED },
	{ "CanonicalizeHostname",	K_UNSUPPORTED },
	{ "GSSAPIAuthentication",	K_UNSUPPORTED },
	{ "RemoteCommand",		K_UNSUPPORTED },
};

/* One parse, across the file and the files it includes. */
struct parse {
	struct sshconf	*c;
	const char	*host;		/* as given; Host lines match it */
	const char	*user;		/* as given, or NULL */
	struct ts_error	*err;
	/* Where 0 is a value of its own, "set yet?" needs a flag. */
	bool		 have_timeout, have_alive, have_known_hosts;
	char		*home;		/* looked up when needed */
	char		*luser;
};

/* A line of a file, for messages. */
struct where {
	const char	*file;
	int		 line;
};

static int	parse_text(struct parse *, const char *, size_t, const char *,
		    int, bool, bool *);

static int __attribute__((format(printf, 3, 4)))
conf_error(struct parse *ps, const struct where *w, const char *fmt, ...)
{
	char	 why[224];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return error_set(ps->err, TS_EINVAL, "\"%s\" line %d: %s", w->file,
	    w->line, why);
}

static int
nomem(struct parse *ps)
{
	return error_set(ps->err, TS_ENOMEM, "out of memory reading the ssh "
	    "configuration");
}

static void
conf_reset(struct sshconf *c)
{
	memset(c, 0, sizeof(*c));
	c->identities_only = -1;
	c->strict_host_key = -1;
}

/* a followed by b, in a new string; NULL for want of memory. */
static char *
concat(const char *a, const char *b)
{
	size_t	 na = strlen(a), nb = strlen(b);
	char	*s;

	if ((s = malloc(na + nb + 1)) == NULL)
		return NULL;
	memcpy(s, a, na);
	memcpy(s + na, b, nb + 1);
	return s;
}

void
sshconf_dispose(struct sshconf *c)
{
	int	 i;

	if (c == NULL)
		return;
	free(c->hostname);
	free(c->user);
	for (i = 0; i < c->n_identity_files; i++)
		free(c->identity_files[i]);
	for (i = 0; i < c->n_known_hosts; i++)
		free(c->known_hosts[i]);
	conf_reset(c);
}

/*
 * Matches s against a pattern with '*' (any run) and '?' (any one
 * character), case-sensitively, as OpenSSH's match_pattern() does for
 * Host lines.  On a mismatch it retries from the last '*', one character
 * further on.
 */
static bool
match_pattern(const char *s, const char *p)
{
	const char	*star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p != '\0' && (*p == '?' || *p == *s)) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star + 1;
			s = ++resume;
		} else
			return false;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/*
 * Splits s in place into at most max words, as OpenSSH's argv_split()
 * does for ssh_config: blanks separate words, '"' or '\'' quote blanks
 * (also mid-word), a backslash escapes a quote, a backslash or a blank,
 * and a '#' at the start of a word ends the line.  Returns the number of
 * words, -1 for an unterminated quote, -2 for too many words.
 */
static int
split_words(char *s, char **av, int max)
{
	char	*r = s, *w, quote;
	int	 n = 0;

	for (;;) {
		r += strspn(r, " \t\r\f\v");
		if (*r == '\0' || *r == '#')
			return n;
		if (n == max)
			return -2;
		av[n++] = w = r;
		for (quote = 0; *r != '\0'; r++) {
			if (r[0] == '\\' && (r[1] == '\'' || r[1] == '"' ||
			    r[1] == '\\' || (quote == 0 && r[1] == ' ')))
				*w++ = *++r;
			else if (quote == 0 && strchr(" \t\r\f\v", *r) != NULL)
				break;
			else if (quote == 0 && (*r == '"' || *r == '\''))
				quote = *r;
			else if (quote != 0 && *r == quote)
				quote = 0;
			else
				*w++ = *r;
		}
		if (quote != 0)
			return -1;
		if (*r != '\0')
			r++;
		*w = '\0';		/* w <= r - 1 here, or r is the end */
	}
}

/*
 * The home directory: $HOME when set, so tests and containers can move
 * it, else the password file's.  Cached in ps; NULL if neither exists.
 */
static const char *
home_dir(struct parse *ps)
{
	struct passwd	 pw, *res = NULL;
	char		*scratch;
	const char	*h;

	if (ps->home != NULL)
		return ps->home;
	if ((h = getenv("HOME")) != NULL && *h != '\0')
		return ps->home = strdup(h);
	if ((scratch = malloc(PW_BUF_SIZE)) == NULL)
		return NULL;
	if (getpwuid_r(getuid(), &pw, scratch, PW_BUF_SIZE, &res) == 0 &&
	    res != NULL)
		ps->home = strdup(pw.pw_dir);
	free(scratch);
	return ps->home;
}

/* The local user's name (%u), from the password file, else $USER. */
static const char *
local_user(struct parse *ps)
{
	struct passwd	 pw, *res = NULL;
	char		*scratch;
	const char	*u;

	if (ps->luser != NULL)
		return ps->luser;
	if ((scratch = malloc(PW_BUF_SIZE)) == NULL)
		return NULL;
	if (getpwuid_r(getuid(), &pw, scratch, PW_BUF_SIZE, &res) == 0 &&
	    res != NULL)
		ps->luser = strdup(pw.pw_name);
	else if ((u = getenv("USER")) != NULL && *u != '\0')
		ps->luser = strdup(u);
	free(scratch);
	return ps->luser;
}

/* Inside expand(): past MAX_PATH_LEN.  It returns TS_EINVAL instead. */
#define E_TOOLONG	1

/* Appends n bytes to b: 0, E_TOOLONG past b's maximum, or TS_ENOMEM. */
static int
put(struct buf *b, const char *p, size_t n)
{
	if (n > b->max - b->len)
		return E_TOOLONG;
	return buf_append(b, p, n) == 0 ? 0 : TS_ENOMEM;
}

/* Appends the home directory of user name (n bytes) to b: "~name/". */
static int
put_user_home(struct buf *b, const char *name, size_t n, char *why,
    size_t whysz)
{
	struct passwd	 pw, *res = NULL;
	char		*scratch, *user;
	int		 rc;

	scratch = malloc(PW_BUF_SIZE);
	user = strndup(name, n);
	if (scratch == NULL || user == NULL)
		rc = TS_ENOMEM;
	else if (getpwnam_r(user, &pw, scratch, PW_BUF_SIZE, &res) != 0 ||
	    res == NULL) {
		snprintf(why, whysz, "no user \"%s\" for \"~%s\"", user, user);
		rc = TS_EINVAL;
	} else
		rc = put(b, pw.pw_dir, strlen(pw.pw_dir));
	free(user);
	free(scratch);
	return rc;
}

#define X_TILDE	0x1	/* a leading "~" or "~user" */
#define X_ENV	0x2	/* "${VAR}" */
/* IdentityFile, UserKnownHostsFile */
#define X_PATH	(X_TILDE | X_ENV)
#define PATH_TOKENS	"%dhinu"
#define HOSTNAME_TOKENS	"%h"

/*
 * Expands raw into a new string at *out: what flags ask for, and the
 * %-tokens listed in tokens (NULL: '%' is a plain character), of
 * ssh_config(5) TOKENS: %% %d home, %h host (h), %i uid, %n the host as
 * given, %u local user.  Each is expanded once: a value holding '%' or
 * '$' stays as it is.  Returns 0, TS_ENOMEM, or TS_EINVAL with the reason
 * in why.
 */
static int
expand(char **out, struct parse *ps, const char *raw, int flags,
    const char *tokens, const char *h, char *why, size_t whysz)
{
	struct buf	 b;
	const char	*p = raw, *v, *end;
	char		 num[32], *name;
	size_t		 n;
	int		 rc = 0;

	*out = NULL;
	buf_init(&b, MAX_PATH_LEN);
	if ((flags & X_TILDE) != 0 && *p == '~') {
		n = strcspn(p + 1, "/");
		if (n != 0)
			rc = put_user_home(&b, p + 1, n, why, whysz);
		else if ((v = home_dir(ps)) != NULL)
			rc = put(&b, v, strlen(v));
		else {
			snprintf(why, whysz, "no home directory for \"~\"");
			rc = TS_EINVAL;
		}
		p += 1 + n;
	}
	for (; *p != '\0' && rc == 0; p++) {
		v = NULL;
		if ((flags & X_ENV) != 0 && p[0] == '$' && p[1] == '{') {
			if ((end = strchr(p + 2, '}')) == NULL) {
				snprintf(why, whysz, "\"${\" without \"}\"");
				rc = TS_EINVAL;
				break;
			}
			if ((name = strndup(p + 2, (size_t)(end - p - 2))) ==
			    NULL) {
				rc = TS_ENOMEM;
				break;
			}
			if ((v = getenv(name)) == NULL) {
				snprintf(why, whysz, "environment variable "
				    "\"%s\" is not set", name);
				rc = TS_EINVAL;
			}
			free(name);
			p = end;
		} else if (tokens != NULL && p[0] == '%') {
			if (p[1] == '\0' || strchr(tokens, p[1]) == NULL) {
				snprintf(why, whysz, "unsupported token "
				    "\"%%%.1s\"", p + 1);
				rc = TS_EINVAL;
				break;
			}
			switch (*++p) {
			case '%':
				v = "%";
				break;
			case 'd':
				v = home_dir(ps);
				break;
			case 'h':
				v = h;
				break;
			case 'i':
				snprintf(num, sizeof(num), "%lu",
				    (unsigned long)getuid());
				v = num;
				break;
			case 'n':
				v = ps->host;
				break;
			case 'u':
				v = local_user(ps);
				break;
			}
			if (v == NULL) {
				snprintf(why, whysz, "no value for \"%%%c\"",
				    *p);
				rc = TS_EINVAL;
			}
		}
		if (rc == 0)
			rc = v != NULL ? put(&b, v, strlen(v)) : put(&b, p, 1);
	}
	if (rc == 0)
		rc = put(&b, "", 1);
	if (rc == 0) {
		*out = (char *)b.data;
		return 0;
	}
	if (rc == E_TOOLONG) {
		snprintf(why, whysz, "longer than %d bytes", MAX_PATH_LEN);
		rc = TS_EINVAL;
	}
	buf_dispose(&b);
	return rc;
}

/* Expands raw and drops the result: to report bad tokens at their line. */
static int
check_expand(struct parse *ps, const struct where *w, const char *kw,
    const char *raw, int flags, const char *tokens)
{
	char	*x, why[160];
	int	 rc;

	if ((rc = expand(&x, ps, raw, flags, tokens, ps->host, why,
	    sizeof(why))) == TS_ENOMEM)
		return nomem(ps);
	if (rc != 0)
		return conf_error(ps, w, "bad %s \"%s\": %s", kw, raw, why);
	free(x);
	return 0;
}

/* yes/no and their synonyms; returns 1, 0 or -1 for neither. */
static int
parse_flag(const char *s)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0)
		return 1;
	if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0)
		return 0;
	return -1;
}

static int
parse_port(const char *s)
{
	long	 v = 0;

	if (*s == '\0')
		return -1;
	for (; *s >= '0' && *s <= '9' && v <= 65535; s++)
		v = v * 10 + (*s - '0');
	return *s == '\0' && v >= 1 && v <= 65535 ? (int)v : -1;
}

/*
 * Seconds in OpenSSH's time format (misc.c convtime): a number, or
 * numbers each with a unit s, m, h, d or w, as in "1m30s".  -1 if bad.
 */
static int
parse_time(const char *s)
{
	long	 total = 0, v, mult;

	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		if (*s < '0' || *s > '9')
			return -1;
		for (v = 0; *s >= '0' && *s <= '9'; s++)
			if ((v = v * 10 + (*s - '0')) > INT_MAX)
				return -1;
		switch (*s) {
		case '\0':
			mult = 1;
			break;
		case 's': case 'S':
			mult = 1;
			s++;
			break;
		case 'm': case 'M':
			mult = 60;
			s++;
			break;
		case 'h': case 'H':
			mult = 60 * 60;
			s++;
			break;
		case 'd': case 'D':
			mult = 24 * 60 * 60;
			s++;
			break;
		case 'w': case 'W':
			mult = 7 * 24 * 60 * 60;
			s++;
			break;
		default:
			return -1;
		}
		if (v > (INT_MAX - total) / mult)
			return -1;
		total += v * mult;
	}
	return (int)total;
}

/*
 * Reads all of path into b.  A file that does not exist sets *missing
 * and is no error.  With checkperm, a file someone else may write is
 * refused, as ssh(1) refuses it (readconf.c, SSHCONF_CHECKPERM): who can
 * change it chooses which keys and hosts we trust.
 */
static int
read_file(struct buf *b, const char *path, bool checkperm, bool *missing,
    struct ts_error *err)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 room;
	int		 fd, rc = 0;

	*missing = false;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			*missing = true;
			return 0;
		}
		return error_set_errno(err, errno, "open \"%s\"", path);
	}
	if (fstat(fd, &st) == -1) {
		rc = error_set_errno(err, errno, "stat \"%s\"", path);
		goto out;
	}
	if (checkperm && ((st.st_uid != 0 && st.st_uid != getuid()) ||
	    (st.st_mode & 022) != 0)) {
		rc = error_set(err, TS_ELOCAL, "bad owner or permissions on "
		    "\"%s\": others may write it", path);
		goto out;
	}
	for (;;) {
		if ((room = b->max - b->len) == 0) {
			rc = error_set(err, TS_ELOCAL, "\"%s\" is larger "
			    "than %d bytes", path, MAX_FILE);
			goto out;
		}
		if (room > 65536)
			room = 65536;
		if (buf_reserve(b, room) != 0) {
			rc = error_set(err, TS_ENOMEM, "out of memory "
			    "reading \"%s\"", path);
			goto out;
		}
		if ((n = read(fd, b->data + b->len, room)) == -1) {
			if (errno == EINTR)
				continue;
			rc = error_set_errno(err, errno, "read \"%s\"", path);
			goto out;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
out:
	close(fd);
	return rc;
}

/*
 * Include: each argument is a glob(3) pattern, taken relative to ~/.ssh
 * unless it starts with '/' or '~' (ssh_config(5)); patterns matching
 * nothing are fine.  An included file starts in the includer's state,
 * and a Host line in it never matches when the Include sits in a block
 * that does not apply (readconf.c SSHCONF_NEVERMATCH).  The includer's
 * state is restored afterwards, whatever the file did to it.
 */
static int
do_include(struct parse *ps, const struct where *w, char **av, int ac,
    int depth, bool never, bool *active)
{
	struct buf	 data;
	glob_t		 g;
	char		*rel, *pat, why[160];
	bool		 missing, saved = *active;
	size_t		 j;
	int		 i, grc, rc = 0;

	if (depth + 1 > MAX_DEPTH)
		return conf_error(ps, w, "Include nested more than %d deep",
		    MAX_DEPTH);
	for (i = 0; i < ac && rc == 0; i++) {
		rel = NULL;
		if (av[i][0] != '/' && av[i][0] != '~' &&
		    (rel = concat("~/.ssh/", av[i])) == NULL)
			return nomem(ps);
		rc = expand(&pat, ps, rel != NULL ? rel : av[i], X_TILDE,
		    NULL, ps->host, why, sizeof(why));
		free(rel);
		if (rc == TS_ENOMEM)
			return nomem(ps);
		if (rc != 0)
			return conf_error(ps, w, "bad Include \"%s\": %s",
			    av[i], why);
		grc = glob(pat, 0, NULL, &g);
		free(pat);
		if (grc != 0) {
			globfree(&g);
			if (grc == GLOB_NOMATCH)
				continue;
			return conf_error(ps, w, "bad Include \"%s\": cannot "
			    "list the files it names", av[i]);
		}
		for (j = 0; j < g.gl_pathc && rc == 0; j++) {
			buf_init(&data, MAX_FILE);
			rc = read_file(&data, g.gl_pathv[j], true, &missing,
			    ps->err);
			if (rc == 0 && !missing)
				rc = parse_text(ps, (const char *)data.data,
				    data.len, g.gl_pathv[j], depth + 1,
				    never || !saved, active);
			buf_dispose(&data);
			*active = saved;
		}
		globfree(&g);
	}
	return rc;
}

/*
 * Whether s matches a comma-separated pattern list: no negated pattern
 * ("!p") matches and some other one does (OpenSSH match_pattern_list).
 * Host names compare without case, as ssh(1) lowercases them.
 */
static bool
match_list(const char *s, const char *list, bool nocase)
{
	char	 pat[256], low[256];
	size_t	 n, i;
	bool	 pos = false, neg;

	snprintf(low, sizeof(low), "%s", s);
	for (i = 0; nocase && low[i] != '\0'; i++)
		if (low[i] >= 'A' && low[i] <= 'Z')
			low[i] = (char)(low[i] - 'A' + 'a');
	while (*list != '\0') {
		n = strcspn(list, ",");
		neg = *list == '!';
		if (n - neg < sizeof(pat)) {
			memcpy(pat, list + neg, n - neg);
			pat[n - neg] = '\0';
			for (i = 0; nocase && pat[i] != '\0'; i++)
				if (pat[i] >= 'A' && pat[i] <= 'Z')
					pat[i] = (char)(pat[i] - 'A' + 'a');
			if (match_pattern(low, pat)) {
				if (neg)
					return false;
				pos = true;
			}
		}
		list += n + (list[n] == ',');
	}
	return pos;
}

/*
 * Match: the block applies when every criterion holds ("!" negates one).
 * host is the HostName as set so far (else the name given), originalhost
 * the name given, user the remote user (given, else set so far, else the
 * local one), localuser ours (ssh_config(5) Match).  Criteria we cannot
 * evaluate are refused, naming them: skipping the block could be as
 * wrong as applying it.
 */
static int
do_match(struct parse *ps, const struct where *w, char **av, int ac,
    bool never, bool *active)
{
	const char	*crit, *v, *lu;
	bool		 result = true, neg, m;
	int		 i;

	if (ac == 0)
		return conf_error(ps, w, "Match needs criteria");
	for (i = 0; i < ac; i++) {
		neg = av[i][0] == '!';
		crit = av[i] + neg;
		if (strcasecmp(crit, "all") == 0) {
			if (ac != 1 || neg)
				return conf_error(ps, w, "Match all must "
				    "appear alone");
			continue;
		}
		if (strcasecmp(crit, "host") != 0 &&
		    strcasecmp(crit, "originalhost") != 0 &&
		    strcasecmp(crit, "user") != 0 &&
		    strcasecmp(crit, "localuser") != 0) {
			*active = false;
			if (!result || never)
				return 0;	/* not reached by ssh either */
			return conf_error(ps, w, "Match %s is not supported by "
			    "the libssh2 transport; use --transport openssh",
			    crit);
		}
		if (i + 1 == ac)
			return conf_error(ps, w, "Match %s needs a pattern "
			    "list", crit);
		v = av[++i];
		if (strcasecmp(crit, "host") == 0)
			m = match_list(ps->c->hostname != NULL ?
			    ps->c->hostname : ps->host, v, true);
		else if (strcasecmp(crit, "originalhost") == 0)
			m = match_list(ps->host, v, true);
		else if (strcasecmp(crit, "user") == 0) {
			lu = ps->user != NULL ? ps->user : ps->c->user != NULL ?
			    ps->c->user : local_user(ps);
			m = lu != NULL && match_list(lu, v, false);
		} else {
			lu = local_user(ps);
			m = lu != NULL && match_list(lu, v, false);
		}
		if (m == neg)
			result = false;
	}
	*active = result && !never;
	return 0;
}

/*
 * Host: the block applies when the host matches one of the patterns and
 * none of the negated ones ("!pattern"), which exclude it whatever else
 * matched (ssh_config(5) PATTERNS).
 */
static int
do_host(struct parse *ps, const struct where *w, char **av, int ac,
    bool never, bool *active)
{
	bool	 pos = false, neg = false, negated;
	int	 i;

	if (ac == 0)
		return conf_error(ps, w, "Host needs a pattern");
	for (i = 0; i < ac; i++) {
		negated = av[i][0] == '!';
		if (av[i][negated] == '\0')
			return conf_error(ps, w, "empty pattern in Host");
		if (match_pattern(ps->host, av[i] + negated)) {
			if (negated)
				neg = true;
			else
				pos = true;
		}
	}
	*active = pos && !neg && !never;
	return 0;
}

static int
one_value(struct parse *ps, const struct where *w, const char *kw, int ac)
{
	if (ac == 0)
		return conf_error(ps, w, "missing value for %s", kw);
	if (ac > 1)
		return conf_error(ps, w, "too many values for %s", kw);
	return 0;
}

static int
set_string(struct parse *ps, char **dst, const char *v, bool active)
{
	if (active && *dst == NULL && (*dst = strdup(v)) == NULL)
		return nomem(ps);
	return 0;
}

/*
 * One setting.  Values are checked in every block, applying or not, as
 * ssh(1) checks them, so a typo shows whichever host is asked for; they
 * are kept only in a block that applies and only if not set before.
 */
static int
do_setting(struct parse *ps, const struct where *w, enum keyword kw,
    const char *kwname, char **av, int ac, bool active)
{
	struct sshconf	*c = ps->c;
	int		 i, v, rc;

	if (kw == K_KNOWNHOSTS) {
		/* The first line wins whole (readconf.c: it fills the list
		 * only while the list is empty). */
		if (ac == 0)
			return conf_error(ps, w, "missing value for %s",
			    kwname);
		if (ac > SSHCONF_MAX_KNOWN_HOSTS)
			return conf_error(ps, w, "more than %d files for %s",
			    SSHCONF_MAX_KNOWN_HOSTS, kwname);
		for (i = 0; i < ac; i++) {
			if (strcasecmp(av[i], "none") == 0 && ac > 1)
				return conf_error(ps, w, "%s \"none\" must "
				    "appear alone", kwname);
			if ((rc = check_expand(ps, w, kwname, av[i], X_PATH,
			    PATH_TOKENS)) != 0)
				return rc;
		}
		if (!active || ps->have_known_hosts)
			return 0;
		ps->have_known_hosts = true;
		if (strcasecmp(av[0], "none") == 0) {
			c->known_hosts_none = true;
			return 0;
		}
		for (i = 0; i < ac; i++) {
			if ((c->known_hosts[i] = strdup(av[i])) == NULL)
				return nomem(ps);
			c->n_known_hosts++;
		}
		return 0;
	}

	if ((rc = one_value(ps, w, kwname, ac)) != 0)
		return rc;
	switch (kw) {
	case K_HOSTNAME:
		/* HostName takes %h, the host as given (ssh_config(5)). */
		if ((rc = check_expand(ps, w, kwname, av[0], 0,
		    HOSTNAME_TOKENS)) != 0)
			return rc;
		return set_string(ps, &c->hostname, av[0], active);
	case K_USER:
		return set_string(ps, &c->user, av[0], active);
	case K_PORT:
		if ((v = parse_port(av[0])) == -1)
			return conf_error(ps, w, "bad %s \"%s\"", kwname,
			    av[0]);
		if (active && c->port == 0)
			c->port = v;
		return 0;
	case K_IDENTITYFILE:
		/* Every IdentityFile that applies is tried, in order;
		 * ssh(1) drops repeats (readconf.c). */
		if ((rc = check_expand(ps, w, kwname, av[0], X_PATH,
		    PATH_TOKENS)) != 0)
			return rc;
		if (!active)
			return 0;
		for (i = 0; i < c->n_identity_files; i++)
			if (strcmp(c->identity_files[i], av[0]) == 0)
				return 0;
		if (c->n_identity_files == SSHCONF_MAX_IDENTITY_FILES)
			return conf_error(ps, w, "more than %d %s lines",
			    SSHCONF_MAX_IDENTITY_FILES, kwname);
		if ((c->identity_files[i] = strdup(av[0])) == NULL)
			return nomem(ps);
		c->n_identity_files++;
		return 0;
	case K_IDENTITIESONLY:
		if ((v = parse_flag(av[0])) == -1)
			return conf_error(ps, w, "bad %s \"%s\" (expected yes "
			    "or no)", kwname, av[0]);
		if (active && c->identities_only == -1)
			c->identities_only = v;
		return 0;
	case K_STRICT:
		/* "ask" is "yes" for us: we never ask. */
		if ((v = parse_flag(av[0])) == -1) {
			if (strcasecmp(av[0], "ask") == 0)
				v = 1;
			else if (strcasecmp(av[0], "off") == 0)
				v = 0;
			else if (strcasecmp(av[0], "accept-new") == 0)
				v = 2;
			else
				return conf_error(ps, w, "bad %s \"%s\" "
				    "(expected yes, no or accept-new)",
				    kwname, av[0]);
		}
		if (active && c->strict_host_key == -1)
			c->strict_host_key = v;
		return 0;
	case K_CONNECTTIMEOUT:
	case K_ALIVE:
		if ((v = parse_time(av[0])) == -1)
			return conf_error(ps, w, "bad %s \"%s\" (expected "
			    "seconds)", kwname, av[0]);
		if (active && kw == K_CONNECTTIMEOUT && !ps->have_timeout) {
			ps->have_timeout = true;
			c->connect_timeout = v;
		}
		if (active && kw == K_ALIVE && !ps->have_alive) {
			ps->have_alive = true;
			c->server_alive_interval = v;
		}
		return 0;
	default:
		return 0;
	}
}

/*
 * One line: "Keyword value...", "Keyword=value" or "Keyword = value";
 * keywords are case-insensitive and unknown ones are ignored.
 */
static int
parse_line(struct parse *ps, char *line, const struct where *w, int depth,
    bool never, bool *active)
{
	char	*av[MAX_WORDS], *kw, *p, *sep;
	size_t	 i;
	int	 ac;

	p = line + strspn(line, " \t\r\f\v");
	if (*p == '\0' || *p == '#')
		return 0;
	kw = p;
	p += strcspn(p, " \t\r\f\v=");
	if (*p != '\0') {
		/* At most one '=', with blanks either side (strdelim). */
		sep = p;
		p += strspn(p, " \t\r\f\v");
		if (*p == '=')
			p++;
		*sep = '\0';
	}
	if ((ac = split_words(p, av, MAX_WORDS)) == -1)
		return conf_error(ps, w, "unterminated quote");
	if (ac == -2)
		return conf_error(ps, w, "more than %d words", MAX_WORDS);
	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strcasecmp(kw, keywords[i].name) == 0)
			break;
	if (i == sizeof(keywords) / sizeof(keywords[0]))
		return 0;

	switch (keywords[i].kw) {
	case K_HOST:
		return do_host(ps, w, av, ac, never, active);
	case K_MATCH:
		return do_match(ps, w, av, ac, never, active);
	case K_INCLUDE:
		if (ac == 0)
			return conf_error(ps, w, "Include needs a file");
		return do_include(ps, w, av, ac, depth, never, active);
	case K_UNSUPPORTED:
		if (!*active || (ac == 1 && (strcasecmp(av[0], "none") == 0 ||
		    strcasecmp(av[0], "no") == 0)))
			return 0;
		return conf_error(ps, w, "%s is not supported by the libssh2 "
		    "transport; use --transport openssh", keywords[i].name);
	default:
		return do_setting(ps, w, keywords[i].kw, keywords[i].name, av,
		    ac, *active);
	}
}

/*
 * Parses len bytes of text, named file in messages, at Include depth
 * depth.  *active says whether the lines before the next Host or Match
 * apply; never makes every Host and Match line false.
 */
static int
parse_text(struct parse *ps, const char *text, size_t len, const char *file,
    int depth, bool never, bool *active)
{
	struct where	 w = { file, 0 };
	const char	*nl;
	char		*line;
	size_t		 off, n;
	int		 rc;

	for (off = 0; off < len; off += n + 1) {
		nl = memchr(text + off, '\n', len - off);
		n = nl != NULL ? (size_t)(nl - (text + off)) : len - off;
		w.line++;
		if ((line = strndup(text + off, n)) == NULL)
			return nomem(ps);
		rc = parse_line(ps, line, &w, depth, never, active);
		free(line);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void
lowercase(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/*
 * Expands the kept values, now that all of them are known: %h in a file
 * name is the HostName (itself expanded), lowercased as ssh(1) does, and
 * the HostName may come after the IdentityFile line.
 */
static int
finish(struct parse *ps)
{
	struct sshconf	*c = ps->c;
	char		*x, *h, why[160];
	int		 i, rc;

	if (c->hostname != NULL) {
		if ((rc = expand(&x, ps, c->hostname, 0, HOSTNAME_TOKENS,
		    ps->host, why, sizeof(why))) != 0)
			goto fail;
		free(c->hostname);
		c->hostname = x;
	}
	if ((h = strdup(c->hostname != NULL ? c->hostname : ps->host)) ==
	    NULL)
		return nomem(ps);
	lowercase(h);
	for (i = 0, rc = 0; i < c->n_identity_files && rc == 0; i++) {
		if ((rc = expand(&x, ps, c->identity_files[i], X_PATH,
		    PATH_TOKENS, h, why, sizeof(why))) == 0) {
			free(c->identity_files[i]);
			c->identity_files[i] = x;
		}
	}
	for (i = 0; i < c->n_known_hosts && rc == 0; i++) {
		if ((rc = expand(&x, ps, c->known_hosts[i], X_PATH,
		    PATH_TOKENS, h, why, sizeof(why))) == 0) {
			free(c->known_hosts[i]);
			c->known_hosts[i] = x;
		}
	}
	free(h);
	if (rc == 0)
		return 0;
fail:
	/* Each value was expanded once already, at its line. */
	if (rc == TS_ENOMEM)
		return nomem(ps);
	return error_set(ps->err, TS_EINVAL, "bad ssh configuration: %s",
	    why);
}

static void
parse_init(struct parse *ps, struct sshconf *out, const char *host,
    struct ts_error *err)
{
	memset(ps, 0, sizeof(*ps));
	conf_reset(out);
	ps->c = out;
	ps->host = host;
	ps->err = err;
}

/* Parses the top-level text and expands what it kept; cleans up ps. */
static int
parse_top(struct parse *ps, const char *text, size_t len, const char *file)
{
	bool	 active = true;	/* lines before any Host: all hosts */
	int	 rc;

	if ((rc = parse_text(ps, text, len, file != NULL ? file : "(config)",
	    0, false, &active)) == 0)
		rc = finish(ps);
	if (rc != 0)
		sshconf_dispose(ps->c);
	free(ps->home);
	free(ps->luser);
	return rc;
}

int
sshconf_parse(struct sshconf *out, const char *text, size_t len,
    const char *host, const char *user, const char *file,
    struct ts_error *err)
{
	struct parse	 ps;

	parse_init(&ps, out, host, err);
	ps.user = user;
	return parse_top(&ps, text, len, file);
}

int
sshconf_load(struct sshconf *out, const char *path, const char *host,
    const char *user, struct ts_error *err)
{
	struct parse	 ps;
	struct buf	 data;
	char		*def = NULL;
	const char	*home;
	bool		 missing;
	int		 rc;

	parse_init(&ps, out, host, err);
	ps.user = user;
	buf_init(&data, MAX_FILE);
	if (path != NULL && strcasecmp(path, "none") == 0) {
		rc = 0;			/* ssh -F none: no file at all */
		goto out;
	}
	if (path == NULL) {
		if ((home = home_dir(&ps)) == NULL) {
			rc = error_set(err, TS_ELOCAL, "cannot find the home "
			    "directory for ~/.ssh/config");
			goto out;
		}
		if ((def = concat(home, "/.ssh/config")) == NULL) {
			rc = nomem(&ps);
			goto out;
		}
	}
	/* ssh(1) checks the permissions of ~/.ssh/config, not of -F. */
	rc = read_file(&data, path != NULL ? path : def, path == NULL,
	    &missing, err);
	if (rc == 0 && missing && path != NULL)
		rc = error_set(err, TS_ENOENT, "ssh configuration \"%s\" "
		    "does not exist", path);
	if (rc != 0 || missing)
		goto out;
	rc = parse_top(&ps, (const char *)data.data, data.len,
	    path != NULL ? path : def);
	ps.home = ps.luser = NULL;	/* freed by parse_top */
out:
	free(ps.home);
	free(ps.luser);
	free(def);
	buf_dispose(&data);
	return rc;
}
