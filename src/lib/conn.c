/*
 * The public connection API: a target and the user's ssh config become
 * an SSH session with an SFTP engine on it; single-file commands (stat,
 * ls, mkdir, put, get) run on top.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "conn_settings.h"
#include "error.h"
#include "log.h"
#include "path.h"
#include "spare.h"
#include "ssh.h"
#include "sshconf.h"
#include "sshproc.h"
#include "target.h"
#include "version.h"

/* Spares (ts_conn_opts.spares) pay when the server is far: when the TCP
 * connect and key exchange (three round trips, and the server's fork)
 * took this long, they start then; else when logging in (three round
 * trips) took the other. */
#define CONN_SPARES_MIN_HANDSHAKE_MS	50
#define CONN_SPARES_MIN_AUTH_MS		30
/* Under openssh only the whole login is seen: process start, connect,
 * key exchange and login, and the SFTP version. */
#define CONN_SPARES_MIN_OPENSSH_MS	150

struct ts_conn {
	struct ssh	*ssh;
	struct sftp	*sftp;
	char		*path;		/* the target's path */
	/* What it was opened with, so workers can open more like it. */
	char		*target;
	struct ts_conn_opts opts;
	char		*ssh_config, *identity, *known_hosts, *rsh;
	/* Asked for with opts.spares: more like it, being opened. */
	struct ts_conn_opts spare_opts;
	int		 want_spares;	/* opts.spares: how many open early */
	struct spares	*spares;
};

int
ts_global_init(struct ts_error *err)
{
	if (libssh2_init(0) != 0)
		return error_set(err, TS_ERROR, "libssh2 failed to start");
	return 0;
}

void
ts_global_cleanup(void)
{
	libssh2_exit();
}

/* What the password database says of us, read once: getpwuid() is not
 * thread-safe, and spares open connections on threads of their own
 * (a data race ThreadSanitizer found). */
static pthread_once_t	 who_once = PTHREAD_ONCE_INIT;
static char		 who_home[PATH_MAX], who_user[256];

static void
who_init(void)
{
	struct passwd	 pw, *res = NULL;
	char		 buf[16384];	/* getpwuid_r() scratch space */

	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) != 0)
		res = NULL;
	if (res != NULL && res->pw_dir != NULL)
		snprintf(who_home, sizeof(who_home), "%s", res->pw_dir);
	if (res != NULL && res->pw_name != NULL)
		snprintf(who_user, sizeof(who_user), "%s", res->pw_name);
}

static const char *
home_dir(void)
{
	const char	*h = getenv("HOME");

	if (h != NULL && *h != '\0')
		return h;
	pthread_once(&who_once, who_init);
	return who_home[0] != '\0' ? who_home : "/";
}

static const char *
local_user(void)
{
	const char	*u = getenv("USER");

	pthread_once(&who_once, who_init);
	if (who_user[0] != '\0')
		return who_user;
	return u != NULL ? u : "root";
}

/* The others open now, behind c, their dozen round trips hidden by its
 * login and walk. */
/* How spare.c opens and handles connections: ours, called back. */
static const struct spare_ops conn_spare_ops = {
	.open = conn_open_cancelable,
	.uncancel = conn_uncancel,
	.sftp = conn_sftp,
	.free = ts_conn_free,
};

static void
conn_start_spares(struct ts_conn *c, int n, const char *what, int ms)
{
	if (n < 1 || c->spares != NULL)
		return;
	log_msg(TS_LOG_DEBUG, "%s took %d ms: opening %d more connection%s "
	    "now", what, ms, n, n == 1 ? "" : "s");
	c->spares = spares_start(c->target, &c->spare_opts, n,
	    &conn_spare_ops);
}

/* ssh_opts.on_handshake of a connection that wants spares. */
static void
conn_handshaken(void *arg, int ms)
{
	struct ts_conn	*c = arg;

	if (ms >= CONN_SPARES_MIN_HANDSHAKE_MS)
		conn_start_spares(c, c->want_spares, "connecting", ms);
}

/* A connection not yet open, keeping what it was opened with so that
 * workers can open more like it; 0 or TS_ENOMEM. */
static int
conn_new(struct ts_conn **out, const struct target *t, const char *target,
    const struct ts_conn_opts *opts)
{
	struct ts_conn	*c;

	if ((*out = c = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = strdup(t->path)) == NULL ||
	    (c->target = strdup(target)) == NULL ||
	    (opts->ssh_config != NULL &&
	    (c->ssh_config = strdup(opts->ssh_config)) == NULL) ||
	    (opts->identity != NULL &&
	    (c->identity = strdup(opts->identity)) == NULL) ||
	    (opts->known_hosts != NULL &&
	    (c->known_hosts = strdup(opts->known_hosts)) == NULL) ||
	    (opts->rsh != NULL && (c->rsh = strdup(opts->rsh)) == NULL))
		return TS_ENOMEM;
	c->opts = *opts;
	c->opts.ssh_config = c->ssh_config;
	c->opts.identity = c->identity;
	c->opts.known_hosts = c->known_hosts;
	c->opts.rsh = c->rsh;
	c->opts.spares = 0;
	/* Spares never ask for a passphrase nor record a host key: they
	 * fail instead, and the job opens those after this one. */
	c->spare_opts = c->opts;
	c->spare_opts.accept_new = false;
	c->spare_opts.passphrase = NULL;
	/* Spares open early only to a distant server.  To a near one they
	 * would cost more CPU than time they save: the job opens them after
	 * planning, and only as many as the plan needs. */
	c->want_spares = opts->spares;
	return 0;
}

/*
 * Which transport o asks for, auto resolved: openssh when -e names a
 * command or an ssh is on PATH (what the user's "ssh HOST" runs), else
 * libssh2.  why (may be NULL) gets the reason, for -v.
 */
static enum ts_transport
conn_transport(const struct ts_conn_opts *o, char *why, size_t size)
{
	char	 prog[PATH_MAX], dummy[8];

	if (why == NULL) {
		why = dummy;
		size = sizeof(dummy);
	}
	switch (o->transport) {
	case TS_TRANSPORT_OPENSSH:
		snprintf(why, size, "as asked");
		return TS_TRANSPORT_OPENSSH;
	case TS_TRANSPORT_AUTO:
		if (o->rsh != NULL) {
			snprintf(why, size, "an ssh command was given (-e)");
			return TS_TRANSPORT_OPENSSH;
		}
		if (sshproc_find(NULL, prog, sizeof(prog))) {
			snprintf(why, size, "%s is on PATH", prog);
			return TS_TRANSPORT_OPENSSH;
		}
		snprintf(why, size, "no ssh program on PATH");
		return TS_TRANSPORT_LIBSSH2;
	default:
		snprintf(why, size, "as asked");
		return TS_TRANSPORT_LIBSSH2;
	}
}

/*
 * The openssh transport's half of conn_open_cancelable: ssh reads the
 * user's config itself, so only what the caller set becomes an option
 * and the host goes as the user wrote it.
 */
static int
conn_open_openssh(struct ts_conn *c, const struct target *t,
    const struct ts_conn_opts *opts, int cancel_fd, struct ts_error *err)
{
	struct sshproc_opts	 po;
	struct ssh_opts		 so;
	long long		 t0;
	struct timespec		 ts;
	int			 rc, ms;

	memset(&po, 0, sizeof(po));
	po.rsh = opts->rsh;
	po.host = t->host;
	po.port = opts->port != 0 ? opts->port : t->port;
	po.user = t->user;
	po.config = opts->ssh_config;
	po.identity = opts->identity;
	po.known_hosts = opts->known_hosts;
	po.accept_new = opts->accept_new;
	po.connect_timeout_s = opts->connect_timeout;
	po.keepalive_s = opts->keepalive;
	po.passphrase = opts->passphrase;
	po.passphrase_payload = opts->passphrase_payload;
	po.compress = opts->compress;
	po.no_mux = opts->no_mux;
	po.connect_helper = opts->connect_helper;
	memset(&so, 0, sizeof(so));
	so.host = t->host;
	so.port = po.port;
	so.io_timeout_ms = 1000 * (opts->io_timeout > 0 ? opts->io_timeout :
	    60);
	so.cancel_fd = cancel_fd;
	so.openssh = &po;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if ((rc = ssh_connect(&c->ssh, &so, err)) != 0)
		return rc;
	/* The first reply needs ssh's connect, key exchange and login:
	 * waiting for it covers them, under the connect timeout when one
	 * was set (ssh's own ConnectTimeout stops at the key exchange). */
	if (opts->connect_timeout > 0)
		c->ssh->io_timeout_ms = 1000 * opts->connect_timeout;
	else if (c->ssh->io_timeout_ms < 30000)
		c->ssh->io_timeout_ms = 30000;
	if ((rc = sftp_start(&c->sftp, c->ssh, err)) != 0)
		return rc;
	c->ssh->io_timeout_ms = so.io_timeout_ms;
	/* ssh does not say when its key exchange ended: the whole login
	 * (about nine round trips) stands for the handshake and login. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ms = (int)((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - t0);
	c->ssh->auth_ms = ms;
	if (ms >= CONN_SPARES_MIN_OPENSSH_MS)
		conn_start_spares(c, c->want_spares, "connecting", ms);
	return 0;
}

int
conn_open_cancelable(struct ts_conn **out, const char *target,
    const struct ts_conn_opts *opts, int cancel_fd, struct ts_error *err)
{
	struct ts_conn_opts	 none = TS_CONN_OPTS_INIT;
	struct target		 t = { 0 };
	struct sshconf		 cf = { 0 };
	struct conn_settings	 cs;
	struct ssh_opts		 so;
	struct ts_conn		*c = NULL;
	int			 rc;

	*out = NULL;
	if (opts == NULL)
		opts = &none;
	if ((rc = target_parse(&t, target, err)) != 0)
		return rc;
	if (conn_transport(opts, NULL, 0) == TS_TRANSPORT_OPENSSH) {
		if ((rc = conn_new(&c, &t, target, opts)) != 0) {
			rc = error_set(err, rc, "out of memory");
			goto out;
		}
		c->opts.transport = TS_TRANSPORT_OPENSSH;
		c->spare_opts.transport = TS_TRANSPORT_OPENSSH;
		if ((rc = conn_open_openssh(c, &t, opts, cancel_fd, err)) != 0)
			goto out;
		*out = c;
		c = NULL;	/* transferred */
		goto out;
	}
	if ((rc = sshconf_load(&cf, opts->ssh_config, t.host, t.user,
	    err)) != 0)
		goto out;
	/* Each setting from the first that sets it (conn_settings.c). */
	conn_settings_choose(&cs, opts, &t, &cf, home_dir(), local_user(),
	    NULL);
	memset(&so, 0, sizeof(so));
	so.host = cs.host;
	so.port = cs.port;
	so.user = cs.user;
	so.identities = cs.ids;
	so.n_identities = cs.nids;
	so.identities_only = cs.identities_only;
	so.known_hosts = cs.khs;
	so.n_known_hosts = cs.nkh;
	so.accept_new = cs.accept_new;
	so.connect_timeout_ms = cs.connect_timeout_ms;
	so.io_timeout_ms = cs.io_timeout_ms;
	so.keepalive_s = cs.keepalive_s;
	so.passphrase = opts->passphrase;
	so.passphrase_payload = opts->passphrase_payload;
	so.cancel_fd = cancel_fd;
	so.compress = opts->compress;

	if ((rc = conn_new(&c, &t, target, opts)) != 0) {
		rc = error_set(err, rc, "out of memory");
		goto out;
	}
	c->opts.transport = TS_TRANSPORT_LIBSSH2;
	c->spare_opts.transport = TS_TRANSPORT_LIBSSH2;
	so.on_handshake = conn_handshaken;
	so.on_handshake_arg = c;
	if ((rc = ssh_connect(&c->ssh, &so, err)) != 0)
		goto out;
	if (c->ssh->auth_ms >= CONN_SPARES_MIN_AUTH_MS)
		conn_start_spares(c, c->want_spares, "logging in",
		    c->ssh->auth_ms);
	if ((rc = sftp_start(&c->sftp, c->ssh, err)) != 0)
		goto out;
	*out = c;
	c = NULL;	/* transferred */
out:
	ts_conn_free(c);
	sshconf_dispose(&cf);
	target_dispose(&t);
	return rc;
}

int
conn_open(struct ts_conn **out, const char *target,
    const struct ts_conn_opts *opts, struct ts_error *err)
{
	return conn_open_cancelable(out, target, opts, -1, err);
}

int
ts_conn_open(struct ts_conn **out, const char *target,
    const struct ts_conn_opts *opts, struct ts_error *err)
{
	struct ts_conn_opts	 o = TS_CONN_OPTS_INIT;
	char			 why[PATH_MAX + 32];

	*out = NULL;
	if (opts != NULL && version_check_opts(opts->version,
	    TS_CONN_OPTS_VERSION, "ts_conn_opts", err) != 0)
		return TS_EINVAL;
	/* A version 1 struct ends before connect_helper. */
	if (opts != NULL && opts->version >= 2)
		o = *opts;
	else if (opts != NULL)
		memcpy(&o, opts, offsetof(struct ts_conn_opts, connect_helper));
	/* Said once, for the first connection: the others are like it. */
	o.transport = conn_transport(&o, why, sizeof(why));
	log_msg(TS_LOG_INFO, "transport: %s (%s)", o.transport ==
	    TS_TRANSPORT_OPENSSH ? "openssh" : "libssh2", why);
	return conn_open(out, target, &o, err);
}

void
conn_uncancel(struct ts_conn *c)
{
	c->ssh->cancel_fd = -1;
}

int
conn_take_spare(struct ts_conn *c, struct ts_conn **out,
    struct ts_error *err)
{
	return spares_take(c->spares, out, err);
}

struct sftp *
conn_lend_spare(struct ts_conn *c)
{
	return spares_lend(c->spares);
}

int
conn_return_spares(struct ts_conn *c)
{
	return spares_return(c->spares);
}

void
conn_keep_spares(struct ts_conn *c, int keep)
{
	int	 n;

	if ((n = spares_keep(c->spares, keep)) > 0)
		log_msg(TS_LOG_DEBUG, "closed %d connection%s opened ahead: "
		    "the plan needs %d", n, n == 1 ? "" : "s", keep + 1);
}

void
conn_hangup(struct ts_conn *c)
{
	if (c != NULL)
		ssh_hangup(c->ssh);
}

void
ts_conn_free(struct ts_conn *c)
{
	if (c == NULL)
		return;
	spares_free(c->spares);
	sftp_free(c->sftp);
	ssh_free(c->ssh);
	free(c->path);
	free(c->target);
	free(c->ssh_config);
	free(c->identity);
	free(c->known_hosts);
	free(c->rsh);
	free(c);
}

int
conn_clone(struct ts_conn **out, const struct ts_conn *like,
    struct ts_error *err)
{
	struct ts_conn_opts	 o = like->opts;

	/* The first connection recorded a new host key if it was asked to;
	 * the key must not change under a second one. */
	o.accept_new = false;
	o.spares = 0;
	return conn_open(out, like->target, &o, err);
}

const char *
ts_conn_path(const struct ts_conn *c)
{
	return c->path;
}

bool
ts_conn_has_extension(const struct ts_conn *c, const char *name)
{
	return sftp_has_named(c->sftp, name);
}

struct sftp *
conn_sftp(struct ts_conn *c)
{
	return c->sftp;
}

/* An empty path means the login directory, which SFTP calls ".". */
static const char *
rpath(const char *p)
{
	return *p == '\0' ? "." : p;
}

static void
stat_from_attrs(struct ts_stat *st, const struct sftp_attrs *a)
{
	memset(st, 0, sizeof(*st));
	st->has_size = (a->flags & SSH_FILEXFER_ATTR_SIZE) != 0;
	st->has_ids = (a->flags & SSH_FILEXFER_ATTR_UIDGID) != 0;
	st->has_mode = (a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) != 0;
	st->has_times = (a->flags & SSH_FILEXFER_ATTR_ACMODTIME) != 0;
	st->size = a->size;
	st->uid = a->uid;
	st->gid = a->gid;
	st->mode = a->perm;
	st->mtime = a->mtime;
	st->atime = a->atime;
}

int
ts_stat(struct ts_stat *out, struct ts_conn *c, const char *path, bool follow,
    struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	int			 rc;

	if ((rc = sftp_call_wait(c->sftp, sftp_stat(c->sftp, rpath(path),
	    follow, sftp_call_cb, &call), &call, "stat", rpath(path),
	    err)) != 0)
		return rc;
	stat_from_attrs(out, &call.attrs);
	return 0;
}

int
ts_realpath(char **out, struct ts_conn *c, const char *path,
    struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	int			 rc;

	*out = NULL;
	if ((rc = sftp_call_wait(c->sftp, sftp_realpath(c->sftp, rpath(path),
	    sftp_call_cb, &call), &call, "resolve", rpath(path), err)) != 0) {
		sftp_call_dispose(&call);
		return rc;
	}
	*out = call.name;
	return 0;
}

/*
 * mkdir -p: MKDIR the whole path first, one round trip when its parent
 * exists (the usual case); when that fails, whatever is there must be a
 * directory, and a missing parent is made first, the same way.
 */
static int
mkdir_parents(struct ts_conn *c, char *path, const char *shown,
    struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	struct ts_stat		 st;
	struct ts_error		 e = { 0 };
	char			*slash;
	int			 rc;

	rc = sftp_call_wait(c->sftp, sftp_mkdir(c->sftp, rpath(path), NULL,
	    sftp_call_cb, &call), &call, "mkdir", path, &e);
	sftp_call_dispose(&call);
	if (rc == 0)
		return 0;
	if (sftp_failed(c->sftp) != NULL)	/* no answer will come */
		return error_set(err, e.code, "%s", e.msg);
	error_clear(&e);
	if ((rc = ts_stat(&st, c, path, true, NULL)) == 0) {
		if ((st.mode & 0170000) == 0040000)
			return 0;
		return error_set(err, TS_EREMOTE, "mkdir \"%s\": \"%s\" exists "
		    "and is not a directory", shown, path);
	}
	slash = strrchr(path, '/');
	if (rc == TS_ENOENT && slash != NULL && slash != path) {
		*slash = '\0';
		rc = mkdir_parents(c, path, shown, err);
		*slash = '/';
		if (rc != 0)
			return rc;
	}
	/* Again, now that the parent exists; its error is the answer,
	 * unless another run made the directory meanwhile. */
	memset(&call, 0, sizeof(call));
	rc = sftp_call_wait(c->sftp, sftp_mkdir(c->sftp, rpath(path), NULL,
	    sftp_call_cb, &call), &call, "mkdir", path, &e);
	sftp_call_dispose(&call);
	if (rc != 0 && ts_stat(&st, c, path, true, NULL) == 0 &&
	    (st.mode & 0170000) == 0040000)
		return 0;
	if (rc != 0)
		return error_set(err, e.code, "%s", e.msg);
	return 0;
}

int
ts_mkdir(struct ts_conn *c, const char *path, bool parents,
    struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	char			*copy, *p;
	int			 rc;

	if (!parents) {
		return sftp_call_wait(c->sftp, sftp_mkdir(c->sftp, rpath(path),
		    NULL, sftp_call_cb, &call), &call, "mkdir", path, err);
	}
	if ((copy = strdup(path)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	/* "a/b/" is "a/b". */
	for (p = copy + strlen(copy); p > copy + 1 && p[-1] == '/'; )
		*--p = '\0';
	rc = mkdir_parents(c, copy, path, err);
	free(copy);
	return rc;
}

/* The names of one directory, gathered by READDIR replies. */
struct listing {
	struct ts_dirent	*ents;
	size_t			 n, cap;
	bool			 eof, done;
	uint32_t		 status;
	int			 rc;
};

static int
dirent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ts_dirent *)a)->name,
	    ((const struct ts_dirent *)b)->name);
}

static void
listing_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct listing		*l = payload;
	struct sftp_name_iter	 it;
	struct sftp_name	 nm;
	struct ts_dirent	*d;
	int			 rc;

	(void)s;
	l->done = true;
	if (r->type == SSH_FXP_STATUS) {
		l->eof = r->status == SSH_FX_EOF;
		l->status = r->status;
		return;
	}
	sftp_name_iter_init(&it, r);
	while ((rc = sftp_name_next(&it, &nm, NULL)) == 1) {
		if ((nm.name_len == 1 && nm.name[0] == '.') ||
		    (nm.name_len == 2 && memcmp(nm.name, "..", 2) == 0))
			continue;
		if (l->n == l->cap) {
			size_t	 cap = l->cap != 0 ? l->cap * 2 : 64;

			if ((d = realloc(l->ents, cap * sizeof(*d))) == NULL) {
				l->rc = TS_ENOMEM;
				return;
			}
			l->ents = d;
			l->cap = cap;
		}
		d = &l->ents[l->n];
		memset(d, 0, sizeof(*d));
		if ((d->name = strndup(nm.name, nm.name_len)) == NULL) {
			l->rc = TS_ENOMEM;
			return;
		}
		stat_from_attrs(&d->st, &nm.attrs);
		l->n++;
	}
	if (rc < 0)
		l->rc = TS_EREMOTE;
}

static void
listing_dispose(struct listing *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++) {
		free((char *)l->ents[i].name);
		free((char *)l->ents[i].link);
	}
	free(l->ents);
}

int
ts_list(struct ts_conn *c, const char *path, bool links, ts_dirent_fn *fn,
    void *payload, struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	struct sftp_handle	 h;
	struct listing		 l = { 0 };
	struct ts_stat		 st;
	size_t			 i;
	char			*full;
	int			 rc;

	if ((rc = sftp_call_wait(c->sftp, sftp_opendir(c->sftp, rpath(path),
	    sftp_call_cb, &call), &call, "list", rpath(path), err)) != 0) {
		/* A file is listed as itself, as ls does. */
		if (rc == TS_EREMOTE || rc == TS_ENOENT) {
			struct ts_dirent d = { 0 };

			if (ts_stat(&st, c, path, false, NULL) == 0 &&
			    (st.mode & 0170000) != 0040000) {
				error_clear(err);
				d.name = path;
				d.st = st;
				return fn(&d, payload);
			}
		}
		return rc;
	}
	h = call.handle;
	while (!l.eof && l.rc == 0) {
		l.done = false;
		if ((rc = sftp_readdir(c->sftp, &h, listing_on_reply, &l)) != 0)
			goto out;
		while (!l.done)
			if ((rc = sftp_pump(c->sftp, err)) != 0 && !l.done)
				goto out;
		if (!l.eof && l.status != SSH_FX_OK) {
			rc = sftp_status_error(err, l.status, NULL, 0, "list",
			    rpath(path));
			goto out;
		}
	}
	if (l.rc != 0) {
		rc = error_set(err, l.rc, "list \"%s\": %s", rpath(path),
		    l.rc == TS_ENOMEM ? "out of memory" :
		    "malformed reply from the server");
		goto out;
	}
	if (l.n > 0)
		qsort(l.ents, l.n, sizeof(*l.ents), dirent_cmp);
	for (i = 0; i < l.n && rc == 0; i++) {
		if (links && (l.ents[i].st.mode & 0170000) == 0120000 &&
		    (full = path_join(rpath(path), l.ents[i].name)) != NULL) {
			memset(&call, 0, sizeof(call));
			if (sftp_call_wait(c->sftp, sftp_readlink(c->sftp,
			    full, sftp_call_cb, &call), &call, "readlink", full,
			    NULL) == 0)
				l.ents[i].link = call.name;
			else
				sftp_call_dispose(&call);
			free(full);
		}
		rc = fn(&l.ents[i], payload);
	}
out:
	memset(&call, 0, sizeof(call));
	sftp_call_wait(c->sftp, sftp_close(c->sftp, &h, sftp_call_cb, &call),
	    &call, "close", rpath(path), NULL);
	listing_dispose(&l);
	return rc;
}
