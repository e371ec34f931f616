/*
 * treesync probe: what a server can do, asked and measured the way the
 * other commands would find it out, so that what probe shows is what a
 * push or pull will do there.  Behaviour is measured in a temporary
 * directory under the target, named like our temporary files (so a push
 * never copies or deletes one a killed probe left), and removed at the end.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "conn.h"
#include "error.h"
#include "path.h"
#include "job.h"
#include "log.h"
#include "sftp.h"
#include "ssh.h"
#include "symlink.h"
#include "tempname.h"
#include "verify.h"
#include "version.h"

#define PROBE_RTT_TRIES		5
#define PROBE_SPEED_BYTES	(4u << 20)
#define PROBE_MTIME		1234567890	/* 2009: never "now" */
#define PROBE_MAX_CONNS		64

/* Every extension treesync knows; the text is shown by probe and
 * explained in docs/servers.md. */
static const struct {
	const char	*name;
	bool		 used;
	const char	*use, *without;
} known_ext[] = {
	{ "posix-rename@openssh.com", true,
	    "replaces a file at its final name atomically",
	    "a replaced file is renamed aside first, then the new one into "
	    "place: for a moment the name is absent" },
	{ "fsync@openssh.com", true,
	    "--fsync and backup: each file reaches the server's disk before "
	    "its rename",
	    "--fsync and backup cannot ask the server to flush files to disk" },
	{ "hardlink@openssh.com", true,
	    "backup and --link-dest: unchanged files hard-linked, not sent",
	    "backup and --link-dest send unchanged files again" },
	{ "limits@openssh.com", true,
	    "read and write sizes, files open at once",
	    "32 KiB reads and writes, at most 64 files open per connection" },
	{ "statvfs@openssh.com", false,
	    "only probe, for the free space", NULL },
	{ "copy-data", false, "not yet (delta transfers)", NULL },
	{ "lsetstat@openssh.com", false,
	    "no: SFTP v3 sets no symlink attributes treesync keeps", NULL },
	{ "expand-path@openssh.com", false,
	    "no: relative paths already start at the login directory", NULL },
};

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sends one request (rc is what sending it returned) and waits for its
 * reply into *c; returns 0 or the error, `what "path": reason`. */
static int
call(struct sftp *s, struct sftp_call *c, int rc, const char *what,
    const char *path, struct ts_error *err)
{
	return sftp_call_wait(s, rc, c, what, path, err);
}

static void
probe_ssh(struct ts_probe *p, struct ssh *ssh)
{
	static const struct {
		int	 type;
		size_t	 off;
	} methods[] = {
		{ LIBSSH2_METHOD_KEX, offsetof(struct ts_probe, kex) },
		{ LIBSSH2_METHOD_HOSTKEY, offsetof(struct ts_probe, hostkey) },
		{ LIBSSH2_METHOD_CRYPT_CS, offsetof(struct ts_probe, cipher) },
		{ LIBSSH2_METHOD_MAC_CS, offsetof(struct ts_probe, mac) },
	};
	const char	*v;
	size_t		 i;

	snprintf(p->auth, sizeof(p->auth), "%s", ssh->auth);
	/* The system's ssh keeps the handshake to itself. */
	if (ssh->proc != NULL) {
		snprintf(p->transport, sizeof(p->transport), "openssh (the "
		    "system's ssh)");
		return;
	}
	if (ssh->session == NULL)
		return;
	if ((v = libssh2_session_banner_get(ssh->session)) != NULL)
		snprintf(p->server_version, sizeof(p->server_version), "%s", v);
	snprintf(p->transport, sizeof(p->transport), "libssh2 %s",
	    libssh2_version(0) != NULL ? libssh2_version(0) : "");
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if ((v = libssh2_session_methods(ssh->session,
		    methods[i].type)) != NULL)
			snprintf((char *)p + methods[i].off, sizeof(p->kex),
			    "%s", v);
}

/* The least of a few SFTP round trips (REALPATH of "."): what every
 * request waiting for the one before it costs. */
static int
probe_rtt(struct ts_probe *p, struct sftp *s, struct ts_error *err)
{
	struct sftp_call c;
	double		 t, best = -1;
	int		 i, rc;

	for (i = 0; i < PROBE_RTT_TRIES; i++) {
		memset(&c, 0, sizeof(c));
		t = now_s();
		rc = call(s, &c, sftp_realpath(s, ".", sftp_call_cb, &c),
		    "realpath", ".", err);
		t = now_s() - t;
		sftp_call_dispose(&c);
		if (rc != 0)
			return rc;
		if (best < 0 || t < best)
			best = t;
	}
	p->rtt_ms = best * 1000;
	return 0;
}

/* Opens jobs - 1 more connections and holds them all at once, as -j
 * would: how many the server takes (MaxStartups, MaxSessions, limits per
 * user). */
static void
probe_conns(struct ts_probe *p, struct ts_conn *c, int jobs)
{
	struct ts_conn	*more[PROBE_MAX_CONNS];
	struct ts_error	 e = { 0 };
	int		 n = 0, i;

	p->conns_wanted = jobs;
	p->conns_open = 1;
	while (p->conns_open < jobs && n < PROBE_MAX_CONNS) {
		if (conn_clone(&more[n], c, &e) != 0) {
			snprintf(p->conns_error, sizeof(p->conns_error), "%s",
			    e.msg);
			break;
		}
		n++;
		p->conns_open++;
	}
	for (i = 0; i < n; i++)
		ts_conn_free(more[i]);
}

static void
probe_exts(struct ts_probe *p, struct sftp *s)
{
	struct sftp_call c;
	struct sftp_limits lim;
	size_t		 i;

	p->sftp_version = sftp_version(s);
	snprintf(p->extensions, sizeof(p->extensions), "%s",
	    sftp_extensions(s));
	for (i = 0; i < sizeof(known_ext) / sizeof(known_ext[0]) &&
	    i < TS_PROBE_EXT_MAX; i++) {
		p->ext[i].name = known_ext[i].name;
		p->ext[i].offered = sftp_has_named(s, known_ext[i].name);
		p->ext[i].used = known_ext[i].used;
		p->ext[i].use = known_ext[i].use;
		p->ext[i].without = known_ext[i].without;
	}
	p->next = i;
	if (sftp_has(s, SFTP_EXT_LIMITS)) {
		memset(&c, 0, sizeof(c));
		if (call(s, &c, sftp_limits(s, sftp_call_cb, &c), "limits",
		    ".", NULL) == 0 && c.type == SSH_FXP_EXTENDED_REPLY &&
		    sftp_dec_limits(&lim, c.ext, c.ext_len, NULL) == 0) {
			p->limits_stated = true;
			p->max_packet = lim.max_packet_len;
			p->max_read = lim.max_read_len;
			p->max_write = lim.max_write_len;
			p->max_handles = lim.max_open_handles;
		}
		sftp_call_dispose(&c);
	}
	p->use_read = sftp_max_read(s);
	p->use_write = sftp_max_write(s);
	p->use_handles = sftp_max_handles(s);
}

/* Runs commands? Which hash programs?  Asked as a push asks. */
static void
probe_exec(struct ts_probe *p, struct sftp *s)
{
	struct server_tools	 t;

	verify_server_tools(sftp_ssh(s), &t);
	p->exec = t.exec ? TS_PROBE_YES : TS_PROBE_NO;
	p->sha256sum = t.sha256sum ? TS_PROBE_YES : TS_PROBE_NO;
	p->xxhsum = t.xxhsum ? TS_PROBE_YES : TS_PROBE_NO;
}

static void
probe_statvfs(struct ts_probe *p, struct sftp *s, const char *path)
{
	struct sftp_call	 c;
	struct sftp_statvfs	 v;
	uint64_t		 unit;

	p->statvfs = TS_PROBE_NO;
	if (!sftp_has_named(s, "statvfs@openssh.com"))
		return;
	memset(&c, 0, sizeof(c));
	if (call(s, &c, sftp_statvfs(s, path, sftp_call_cb, &c), "statvfs",
	    path, NULL) == 0 && c.type == SSH_FXP_EXTENDED_REPLY &&
	    sftp_dec_statvfs(&v, c.ext, c.ext_len, NULL) == 0) {
		unit = v.frsize != 0 ? v.frsize : v.bsize;
		p->statvfs = TS_PROBE_YES;
		p->free_bytes = v.bavail * unit;
		p->total_bytes = v.blocks * unit;
	} else
		p->statvfs = TS_PROBE_UNKNOWN;
	sftp_call_dispose(&c);
}

/* Makes file path with len bytes; with mtime, sets it (FSETSTAT) before
 * the close, as an upload does. */
static int
make_file(struct sftp *s, const char *path, const uint8_t *data,
    uint32_t len, uint32_t mtime, struct ts_error *err)
{
	struct sftp_call c;
	struct sftp_attrs a;
	struct sftp_handle h;
	int		 rc;

	memset(&a, 0, sizeof(a));
	a.flags = SSH_FILEXFER_ATTR_PERMISSIONS;
	a.perm = 0600;
	memset(&c, 0, sizeof(c));
	if ((rc = call(s, &c, sftp_open(s, path, SSH_FXF_WRITE |
	    SSH_FXF_CREAT | SSH_FXF_EXCL, &a, sftp_call_cb, &c), "create",
	    path, err)) != 0)
		return rc;
	h = c.handle;
	memset(&c, 0, sizeof(c));
	rc = call(s, &c, sftp_write(s, &h, 0, data, len, sftp_call_cb, &c),
	    "write", path, err);
	if (rc == 0 && mtime != 0) {
		a.flags = SSH_FILEXFER_ATTR_ACMODTIME;
		a.atime = a.mtime = mtime;
		memset(&c, 0, sizeof(c));
		rc = call(s, &c, sftp_fsetstat(s, &h, &a, sftp_call_cb, &c),
		    "set the mtime of", path, err);
	}
	memset(&c, 0, sizeof(c));
	if (call(s, &c, sftp_close(s, &h, sftp_call_cb, &c), "close", path,
	    rc == 0 ? err : NULL) != 0 && rc == 0)
		rc = err != NULL ? err->code : TS_EREMOTE;
	return rc;
}

/* Learns the symlink order the way every push does (symlink_learn): whether
 * the server can, in which order, and whether the first guess was right. */
static int
probe_symlink(struct ts_probe *p, struct sftp *s, const char *dir,
    struct ts_error *err)
{
	struct link_facts f;
	struct ts_error	 why = { 0 };
	int		 rc, order;

	memset(&f, 0, sizeof(f));
	if ((rc = symlink_learn(s, &f, dir, &why, err)) != 0)
		return rc;
	order = atomic_load(&f.order);
	if (order == LINK_ORDER_NONE)
		p->symlinks = TS_PROBE_NO;
	else if (order != LINK_ORDER_UNKNOWN) {
		p->symlinks = TS_PROBE_YES;
		p->symlink_order = order == LINK_ORDER_DRAFT ? "draft-02" :
		    "openssh";
		p->symlink_guess_right = atomic_load(&f.fixed) ?
		    TS_PROBE_NO : TS_PROBE_YES;
	} else if (why.code != TS_OK)
		snprintf(p->measure_error, sizeof(p->measure_error), "%s",
		    why.msg);
	return 0;
}

/* Measures in dir: symlinks, setstat, case, rename.  A measurement the
 * server fails is left unknown with the reason; the session failing
 * stops them all. */
static int
probe_measure(struct ts_probe *p, struct sftp *s, const char *dir,
    struct ts_error *err)
{
	struct sftp_call c;
	struct ts_error	 e = { 0 };
	char		*f = path_join(dir, "file");
	char		*cu = path_join(dir, "Case-Probe");
	char		*cl = path_join(dir, "case-probe");
	char		*r1 = path_join(dir, "r1");
	char		*r2 = path_join(dir, "r2");
	int		 rc;

	if (f == NULL || cu == NULL || cl == NULL || r1 == NULL ||
	    r2 == NULL) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = probe_symlink(p, s, dir, err)) != 0)
		goto out;

	/* An upload sets the mtime before the close: does it stay? */
	if (make_file(s, f, (const uint8_t *)"probe", 5, PROBE_MTIME,
	    &e) == 0) {
		memset(&c, 0, sizeof(c));
		if (call(s, &c, sftp_stat(s, f, false, sftp_call_cb, &c),
		    "stat", f, &e) == 0)
			p->setstat_mtime = (c.attrs.flags &
			    SSH_FILEXFER_ATTR_ACMODTIME) != 0 &&
			    c.attrs.mtime == PROBE_MTIME ? TS_PROBE_YES :
			    TS_PROBE_NO;
	}
	if (e.code == TS_ECONN) {
		rc = error_set(err, e.code, "%s", e.msg);
		goto out;
	}

	/* Case: one name made, the other looked up. */
	if (make_file(s, cu, (const uint8_t *)"", 0, 0, &e) == 0) {
		memset(&c, 0, sizeof(c));
		rc = call(s, &c, sftp_stat(s, cl, false, sftp_call_cb, &c),
		    "stat", cl, NULL);
		p->case_insensitive = rc == 0 ? TS_PROBE_YES : rc == TS_ENOENT ?
		    TS_PROBE_NO : TS_PROBE_UNKNOWN;
		rc = 0;
	}

	/* Plain v3 RENAME onto an existing file (draft-02 6.5: fails). */
	if (make_file(s, r1, (const uint8_t *)"1", 1, 0, &e) == 0 &&
	    make_file(s, r2, (const uint8_t *)"2", 1, 0, &e) == 0) {
		memset(&c, 0, sizeof(c));
		p->rename_replaces = call(s, &c, sftp_rename(s, r1, r2,
		    sftp_call_cb, &c), "rename", r1, NULL) == 0 ?
		    TS_PROBE_YES : TS_PROBE_NO;
	}
	if (e.code != TS_OK && p->measure_error[0] == '\0')
		snprintf(p->measure_error, sizeof(p->measure_error), "%s",
		    e.msg);
	if (sftp_failed(s) != NULL)
		rc = error_set(err, sftp_failed(s)->code, "%s",
		    sftp_failed(s)->msg);
out:
	free(f);
	free(cu);
	free(cl);
	free(r1);
	free(r2);
	return rc;
}

struct speed {
	uint64_t	 done;		/* bytes acknowledged or received */
	uint32_t	 replies;
	struct ts_error	 e;
};

static void
speed_cb(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct speed	*sp = payload;

	(void)s;
	sp->replies++;
	if (r->type == SSH_FXP_DATA)
		sp->done += r->data_len;
	else if (r->type == SSH_FXP_STATUS && r->status != SSH_FX_OK &&
	    r->status != SSH_FX_EOF)
		sftp_status_error(&sp->e, r->status, r->msg, r->msg_len,
		    "speed sample", "");
}

/* Writes then reads back PROBE_SPEED_BYTES, requests pipelined as a
 * transfer pipelines them: the rates a big file would get. */
static int
probe_speed(struct ts_probe *p, struct sftp *s, const char *dir,
    struct ts_error *err)
{
	struct sftp_call c;
	struct sftp_attrs a;
	struct sftp_handle h;
	struct speed	 sp;
	uint8_t		*data = NULL;
	char		*path = path_join(dir, "speed");
	uint64_t	 off;
	uint32_t	 sent, n, chunk;
	double		 t;
	int		 rc;

	if (path == NULL || (data = malloc(SFTP_IO_MAX)) == NULL) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	for (off = 0; off < SFTP_IO_MAX; off++)	/* not compressible */
		data[off] = (uint8_t)(off * 2654435761u >> 13);
	memset(&a, 0, sizeof(a));
	memset(&c, 0, sizeof(c));
	if ((rc = call(s, &c, sftp_open(s, path, SSH_FXF_WRITE | SSH_FXF_CREAT |
	    SSH_FXF_EXCL, &a, sftp_call_cb, &c), "create", path, err)) != 0)
		goto out;
	h = c.handle;
	memset(&sp, 0, sizeof(sp));
	chunk = sftp_max_write(s);
	t = now_s();
	for (off = 0, sent = 0; sp.replies < sent || off < PROBE_SPEED_BYTES;) {
		while (off < PROBE_SPEED_BYTES && sftp_room(s, chunk)) {
			n = PROBE_SPEED_BYTES - off < chunk ?
			    (uint32_t)(PROBE_SPEED_BYTES - off) : chunk;
			if ((rc = sftp_write(s, &h, off, data, n, speed_cb,
			    &sp)) != 0)
				break;
			off += n;
			sent++;
		}
		if (rc != 0 || (rc = sftp_pump(s, err)) != 0)
			break;
	}
	p->up_bytes_per_s = PROBE_SPEED_BYTES / (now_s() - t);
	memset(&c, 0, sizeof(c));
	call(s, &c, sftp_close(s, &h, sftp_call_cb, &c), "close", path, NULL);
	if (rc == 0 && sp.e.code != TS_OK)
		rc = error_set(err, sp.e.code, "%s", sp.e.msg);
	if (rc != 0)
		goto out;

	memset(&c, 0, sizeof(c));
	if ((rc = call(s, &c, sftp_open(s, path, SSH_FXF_READ, &a,
	    sftp_call_cb, &c), "open", path, err)) != 0)
		goto out;
	h = c.handle;
	memset(&sp, 0, sizeof(sp));
	chunk = sftp_max_read(s);
	t = now_s();
	for (off = 0, sent = 0; sp.replies < sent || off < PROBE_SPEED_BYTES;) {
		while (off < PROBE_SPEED_BYTES && sftp_room(s, chunk)) {
			if ((rc = sftp_read(s, &h, off, chunk, speed_cb,
			    &sp)) != 0)
				break;
			off += chunk;
			sent++;
		}
		if (rc != 0 || (rc = sftp_pump(s, err)) != 0)
			break;
	}
	p->down_bytes_per_s = (double)sp.done / (now_s() - t);
	memset(&c, 0, sizeof(c));
	call(s, &c, sftp_close(s, &h, sftp_call_cb, &c), "close", path, NULL);
	if (rc == 0 && sp.e.code != TS_OK)
		rc = error_set(err, sp.e.code, "%s", sp.e.msg);
	/* A READ may return less than asked (draft-02 6.4): the rate is
	 * of what came back. */
	if (rc == 0 && sp.done == 0)
		rc = error_set(err, TS_EREMOTE, "speed sample \"%s\": nothing "
		    "read back", path);
	if (rc == 0)
		p->speed_bytes = PROBE_SPEED_BYTES;
out:
	free(data);
	free(path);
	return rc;
}

/* Removes what the measurements may have left in dir, then dir. */
static int
probe_cleanup(struct sftp *s, const char *dir, struct ts_error *err)
{
	static const char *const names[] = {
		"file", "Case-Probe", "r1", "r2", "speed",
	};
	struct sftp_call c;
	size_t		 i;
	char		*p;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((p = path_join(dir, names[i])) == NULL)
			continue;
		memset(&c, 0, sizeof(c));
		call(s, &c, sftp_remove(s, p, sftp_call_cb, &c), "remove", p,
		    NULL);
		free(p);
	}
	memset(&c, 0, sizeof(c));
	return call(s, &c, sftp_rmdir(s, dir, sftp_call_cb, &c), "remove the "
	    "probe directory", dir, err);
}

int
ts_probe(struct ts_probe *out, struct ts_conn *c, const char *path,
    const struct ts_probe_opts *o, struct ts_error *err)
{
	static const struct ts_probe_opts defaults = TS_PROBE_OPTS_INIT;
	struct sftp	*s = conn_sftp(c);
	struct sftp_call call_;
	struct sftp_attrs a;
	struct ts_error	 me = { 0 };
	char		*dir = NULL, *tmp = NULL;
	int		 rc;

	memset(out, 0, sizeof(*out));
	out->exec = out->sha256sum = out->xxhsum = out->statvfs =
	    out->symlinks = out->symlink_guess_right = out->setstat_mtime =
	    out->case_insensitive = out->rename_replaces = TS_PROBE_UNKNOWN;
	if (o == NULL)
		o = &defaults;
	if ((rc = version_check_opts(o->version, TS_PROBE_OPTS_VERSION,
	    "ts_probe_opts", err)) != 0)
		return rc;
	if (path == NULL || path[0] == '\0')
		path = ".";
	probe_ssh(out, sftp_ssh(s));
	probe_exts(out, s);
	memset(&call_, 0, sizeof(call_));
	rc = call(s, &call_, sftp_stat(s, path, true, sftp_call_cb, &call_),
	    "stat", path, &me);
	if (rc == TS_ENOENT)
		return error_set(err, TS_ENOENT, "remote directory \"%s\" does "
		    "not exist", path);
	if (rc != 0)
		return error_set(err, rc, "%s", me.msg);
	error_clear(&me);
	if ((call_.attrs.flags & SSH_FILEXFER_ATTR_PERMISSIONS) != 0 &&
	    (call_.attrs.perm & 0170000) != 0040000)
		return error_set(err, TS_EINVAL, "\"%s\" is not a directory",
		    path);
	if ((rc = probe_rtt(out, s, err)) != 0)
		return rc;
	probe_exec(out, s);
	probe_statvfs(out, s, path);
	probe_conns(out, c, o->jobs > 0 ? o->jobs : 4);
	if (!o->write)
		return 0;

	/* A temporary name (tempname.h): a probe cut short leaves a
	 * directory the next run's sweep knows is no user's. */
	if ((tmp = path_join(path, "probe")) == NULL ||
	    tempname_make(&dir, tmp, TEMPNAME_TMP) != 0) {
		free(tmp);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	free(tmp);
	memset(&a, 0, sizeof(a));
	a.flags = SSH_FILEXFER_ATTR_PERMISSIONS;
	a.perm = 0700;
	memset(&call_, 0, sizeof(call_));
	if ((rc = call(s, &call_, sftp_mkdir(s, dir, &a, sftp_call_cb,
	    &call_), "mkdir", dir, &me)) != 0) {
		/* Nothing measured: say why; what was found stands. */
		snprintf(out->measure_error, sizeof(out->measure_error), "%s",
		    me.msg);
		free(dir);
		return rc == TS_ECONN ? error_set(err, rc, "%s", me.msg) : 0;
	}
	rc = probe_measure(out, s, dir, err);
	if (rc == 0 && o->speed)
		rc = probe_speed(out, s, dir, err);
	if (sftp_failed(s) == NULL && probe_cleanup(s, dir, rc == 0 ? err :
	    NULL) != 0 && rc == 0)
		rc = err != NULL ? err->code : TS_EREMOTE;
	free(dir);
	return rc;
}
