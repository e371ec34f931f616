/*
 * Backup: one dated snapshot per run under a remote root, verified,
 * hard-linked from the previous one, then the rotation.
 *
 * A run, in order: check the PATHs (all before anything is changed);
 * create ROOT if missing; take the lock ROOT/.treesync-backup.lock (an
 * exclusive create, so two runs can never both hold it); list ROOT and
 * choose the names; build the snapshot under .STAMP.in-progress, each
 * PATH as its base name (a directory with ts_push, link_dest pointing at
 * the same base name in the newest complete snapshot; a file with ts_put
 * or one HARDLINK); rename it to its final name only when every item is
 * there and verified; then prune; and remove the lock, whatever happened.
 * A failed run stops before the rename: nothing is pruned, and its
 * in-progress directory is left for the next run to remove (or, when it
 * runs with the same stamp, to finish: the push into it sends only what
 * is missing).
 *
 * The lock is never broken automatically: a run that died (kill -9, a
 * lost connection) leaves it, and the next run refuses with TS_ELOCKED
 * and a message naming the lock, its host and pid and its age, until the
 * lock is removed or break_lock is asked for (docs/backup.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "cancel.h"
#include "conn.h"
#include "entries.h"
#include "error.h"
#include "hash.h"
#include "local_open.h"
#include "log.h"
#include "sftp.h"
#include "verify.h"
#include "walk_remote.h"

#define BACKUP_LOCK_STALE	(24 * 3600)	/* older: "probably stale" */
#define BACKUP_LOCK_MAX		1024		/* bytes of a lock we read */
#define BACKUP_CHMOD_PASSES	64		/* levels of locked dirs */

/* --- names and decisions (pure) ------------------------------------- */

static bool
all_digits(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int
num(const char *s, size_t n)
{
	int	 v = 0;

	while (n-- > 0)
		v = v * 10 + (*s++ - '0');
	return v;
}

/* "YYYYMMDD": a real calendar date. */
static bool
date_valid(const char *s)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int	 y, m, d, max;

	if (!all_digits(s, 8))
		return false;
	y = num(s, 4);
	m = num(s + 4, 2);
	d = num(s + 6, 2);
	if (y < 1900 || m < 1 || m > 12 || d < 1)
		return false;
	max = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		max = 29;
	return d <= max;
}

/* "HHMMSS": a time of day. */
static bool
time_valid(const char *s)
{
	return all_digits(s, 6) && num(s, 2) < 24 && num(s + 2, 2) < 60 &&
	    num(s + 4, 2) < 60;
}

bool
backup_stamp_valid(const char *s)
{
	return strlen(s) == BACKUP_STAMP_LEN && s[8] == '-' && date_valid(s) &&
	    time_valid(s + 9);
}

/* A complete snapshot's name of n bytes at s: "YYYYMMDD[-HHMMSS]". */
static bool
snapshot_name_valid(const char *s, size_t n)
{
	if (n == 8)
		return date_valid(s);
	return n == BACKUP_STAMP_LEN && s[8] == '-' && date_valid(s) &&
	    time_valid(s + 9);
}

enum backup_kind
backup_name_kind(const char *name, char stamp[BACKUP_STAMP_LEN + 1])
{
	static const char ip[] = ".in-progress", rm[] = ".removing";
	size_t		 n = strlen(name), k;

	stamp[0] = '\0';
	if (snapshot_name_valid(name, n)) {
		memcpy(stamp, name, n + 1);
		return BACKUP_COMPLETE;
	}
	if (name[0] != '.')
		return BACKUP_FOREIGN;
	if (n == 1 + BACKUP_STAMP_LEN + sizeof(ip) - 1 &&
	    strcmp(name + 1 + BACKUP_STAMP_LEN, ip) == 0 &&
	    snapshot_name_valid(name + 1, BACKUP_STAMP_LEN)) {
		memcpy(stamp, name + 1, BACKUP_STAMP_LEN);
		stamp[BACKUP_STAMP_LEN] = '\0';
		return BACKUP_IN_PROGRESS;
	}
	if (n > sizeof(rm) && strcmp(name + n - (sizeof(rm) - 1), rm) == 0 &&
	    snapshot_name_valid(name + 1, (k = n - 1 - (sizeof(rm) - 1)))) {
		memcpy(stamp, name + 1, k);
		stamp[k] = '\0';
		return BACKUP_REMOVING;
	}
	return BACKUP_FOREIGN;
}

bool
backup_leftover_older(const char *stamp, const char *snap)
{
	if (strlen(snap) == 8)
		return strncmp(stamp, snap, 8) <= 0;
	return strcmp(stamp, snap) < 0;
}

/* Oldest first; at equal stamps, leftovers before the complete one. */
static int
snap_cmp(const void *a, const void *b)
{
	const struct backup_snap *x = a, *y = b;
	int			 c = strcmp(x->stamp, y->stamp);

	if (c != 0)
		return c;
	if ((x->kind == BACKUP_COMPLETE) != (y->kind == BACKUP_COMPLETE))
		return x->kind == BACKUP_COMPLETE ? 1 : -1;
	return strcmp(x->name, y->name);
}

void
backup_prune_plan(struct backup_snap *v, size_t n, size_t keep,
    const char *current)
{
	const struct backup_snap *newest = NULL;
	size_t			 i, seen = 0;

	if (n > 1)
		qsort(v, n, sizeof(*v), snap_cmp);
	/* Complete snapshots, newest first: the first `keep` stay.  Their
	 * names sort as their stamps do ("20261101" < "20261101-140000"). */
	for (i = n; i-- > 0; ) {
		if (v[i].kind != BACKUP_COMPLETE)
			continue;
		if (newest == NULL)
			newest = &v[i];
		if (seen++ < keep) {
			v[i].keep = true;
			v[i].reason = "newest";
		} else if (current != NULL && strcmp(v[i].name, current) == 0) {
			v[i].keep = true;
			v[i].reason = "current";
		} else {
			v[i].keep = false;
			v[i].reason = "expired";
		}
	}
	for (i = 0; i < n; i++) {
		switch (v[i].kind) {
		case BACKUP_IN_PROGRESS:
			v[i].keep = newest == NULL ||
			    !backup_leftover_older(v[i].stamp, newest->stamp);
			v[i].reason = v[i].keep ? "in-progress" : "stale";
			break;
		case BACKUP_REMOVING:
			v[i].keep = false;
			v[i].reason = "removing";
			break;
		default:
			break;
		}
	}
}

/* --- one run ---------------------------------------------------------- */

/* One entry of ROOT's listing. */
struct root_ent {
	char		*name;
	bool		 is_dir;
};

struct root_list {
	struct root_ent	*v;
	size_t		 n, cap;
};

struct backup {
	struct ts_conn	*c;
	struct sftp	*s;
	const struct ts_backup_opts *o;
	const char	*root;
	struct ts_backup_result *res;
	ts_item_fn	*fn;
	ts_prune_fn	*pfn;
	void		*payload;
	char		 stamp[BACKUP_STAMP_LEN + 1];
	char		**bases;	/* each PATH's name in the snapshot */
	char		*lock_path;
	char		*ip_path;	/* ROOT/.STAMP.in-progress */
	bool		 locked;
	const char	*base;		/* the PATH being sent: its base name */
	uint64_t	 failed;	/* items that failed */
	char		 first_fail[200]; /* the first one's message */
};

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "dir/name" for the server; a dir of "" is the login directory. */
static char *
rjoin(const char *dir, const char *name)
{
	char	*p;
	size_t	 n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0)
		return strdup(name);
	if (asprintf(&p, "%.*s%s%s", (int)n, dir, dir[n - 1] == '/' ? "" : "/",
	    name) < 0)
		return NULL;
	return p;
}

/* Waits for one request sent with sftp_call_cb (sent: what sending it
 * returned); 0, or the error as `what "path": reason`. */
static int
call_wait(struct sftp *s, int sent, struct sftp_call *call, const char *what,
    const char *path, struct ts_error *err)
{
	const struct ts_error	*f;

	if (sent != 0) {
		f = sftp_failed(s);
		return error_set(err, f != NULL ? f->code : TS_ECONN, "%s",
		    f != NULL ? f->msg : "connection lost");
	}
	return sftp_call_wait(s, call, what, path, err);
}

static int
backup_stat(struct backup *b, const char *path, struct sftp_attrs *out,
    struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	int			 rc;

	rc = call_wait(b->s, sftp_stat(b->s, path, false, sftp_call_cb, &call),
	    &call, "stat", path, err);
	if (rc == 0 && out != NULL)
		*out = call.attrs;
	return rc;
}

static int
backup_remove(struct backup *b, const char *path, struct ts_error *err)
{
	struct sftp_call	 call = { 0 };

	return call_wait(b->s, sftp_remove(b->s, path, sftp_call_cb, &call),
	    &call, "remove", path, err);
}

static bool
attrs_dir(const struct sftp_attrs *a)
{
	return (a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) != 0 &&
	    (a->perm & 0170000) == 0040000;
}

/* --- the lock ----------------------------------------------------------- */

struct lock_read {
	bool		 done;
	uint32_t	 status;
	size_t		 len;
	char		 buf[BACKUP_LOCK_MAX];
};

static void
lock_read_cb(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct lock_read	*l = payload;
	size_t			 n;

	(void)s;
	l->done = true;
	if (r->type == SSH_FXP_DATA) {
		n = r->data_len < sizeof(l->buf) - 1 ? r->data_len :
		    sizeof(l->buf) - 1;
		memcpy(l->buf, r->data, n);
		l->len = n;
	} else
		l->status = r->type == SSH_FXP_STATUS ? r->status :
		    SSH_FX_BAD_MESSAGE;
}

/* Reads the first bytes of the lock into l->buf (NUL-terminated); 0 or
 * -1.  Best effort: it only makes the message better. */
static int
lock_read(struct backup *b, struct lock_read *l)
{
	struct sftp_call	 call = { 0 };
	struct sftp_handle	 h;
	int			 rc = -1;

	memset(l, 0, sizeof(*l));
	if (call_wait(b->s, sftp_open(b->s, b->lock_path, SSH_FXF_READ, NULL,
	    sftp_call_cb, &call), &call, "open", b->lock_path, NULL) != 0)
		return -1;
	h = call.handle;
	if (sftp_read(b->s, &h, 0, sizeof(l->buf) - 1, lock_read_cb, l) == 0) {
		while (!l->done)
			if (sftp_pump(b->s, NULL) != 0 && !l->done)
				break;
		rc = l->done && l->len > 0 ? 0 : -1;
	}
	l->buf[l->len] = '\0';
	memset(&call, 0, sizeof(call));
	call_wait(b->s, sftp_close(b->s, &h, sftp_call_cb, &call), &call,
	    "close", b->lock_path, NULL);
	return rc;
}

/* The value of "key: value" in the lock, made printable, into out. */
static void
lock_field(const char *text, const char *key, char *out, size_t size)
{
	const char	*p = text;
	size_t		 n = strlen(key), i = 0;

	out[0] = '\0';
	for (; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p != NULL ?
	    p + 1 : NULL)
		if (strncmp(p, key, n) == 0 && p[n] == ':' && p[n + 1] == ' ')
			break;
	if (p == NULL || *p == '\0')
		return;
	for (p += n + 2; *p != '\0' && *p != '\n' && i + 1 < size; p++)
		out[i++] = *p >= 0x20 && *p < 0x7f && *p != '"' ? *p : '?';
	out[i] = '\0';
}

/*
 * Who holds the lock, from its text: "pid N on \"HOST\", since TIME (H h
 * MM min ago)", ", probably stale" past BACKUP_LOCK_STALE.  Returns -1 when
 * the lock cannot be read or is not one of ours.
 */
static int
lock_describe(struct backup *b, char *out, size_t size)
{
	struct lock_read	 l;
	char			 host[64], pid[16], since[40], epoch[24];
	char			 age[64] = "";
	long long		 t, d;
	const char		*open_paren;

	if (lock_read(b, &l) != 0)
		return -1;
	lock_field(l.buf, "host", host, sizeof(host));
	lock_field(l.buf, "pid", pid, sizeof(pid));
	lock_field(l.buf, "started", since, sizeof(since));
	if (pid[0] == '\0' || host[0] == '\0' || since[0] == '\0')
		return -1;
	/* "2026-11-01 02:00:00 +0100 (1793487600)": the age from the epoch */
	if ((open_paren = strchr(since, '(')) != NULL) {
		snprintf(epoch, sizeof(epoch), "%s", open_paren + 1);
		since[open_paren - since > 0 ? open_paren - since - 1 : 0] =
		    '\0';
		t = strtoll(epoch, NULL, 10);
		d = (long long)time(NULL) - t;
		if (t > 0 && d >= 0)
			snprintf(age, sizeof(age), ", %lld h %02lld min ago%s",
			    d / 3600, d / 60 % 60, d >= BACKUP_LOCK_STALE ?
			    ", probably stale" : "");
	}
	snprintf(out, size, "pid %s on \"%s\", since %s%s", pid, host, since,
	    age);
	return 0;
}

/* The error for a lock someone else holds: who, since when, what to do. */
static int
lock_held(struct backup *b, struct ts_error *err)
{
	char	 who[200];

	if (lock_describe(b, who, sizeof(who)) != 0)
		return error_set(err, TS_ELOCKED, "another backup may be "
		    "running: \"%s\" exists; if no backup is running, remove "
		    "it or use --break-lock", b->lock_path);
	return error_set(err, TS_ELOCKED, "another backup is running (%s); if "
	    "it is not, remove \"%s\" or use --break-lock", who, b->lock_path);
}

/*
 * Takes the lock: creates it exclusively (SSH_FXF_EXCL: O_EXCL on the
 * server, so of two runs exactly one succeeds) and writes who holds it.
 * With break_lock, a lock found is removed first, once.
 */
static int
lock_take(struct backup *b, struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	struct sftp_attrs	 a;
	struct sftp_handle	 h;
	struct ts_error		 e = { 0 };
	struct tm		 tm;
	char			 text[512], host[256], when[64], who[200];
	time_t			 now = time(NULL);
	int			 rc, attempt, n;

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
	n = snprintf(text, sizeof(text), "treesync backup lock\nhost: %.200s\n"
	    "pid: %ld\nstarted: %s (%lld)\nstamp: %s\n", host, (long)getpid(),
	    when, (long long)now, b->stamp);
	memset(&a, 0, sizeof(a));
	a.flags = SSH_FILEXFER_ATTR_PERMISSIONS;
	a.perm = 0644;
	for (attempt = 0; ; attempt++) {
		memset(&call, 0, sizeof(call));
		error_clear(&e);
		rc = call_wait(b->s, sftp_open(b->s, b->lock_path, SSH_FXF_WRITE |
		    SSH_FXF_CREAT | SSH_FXF_EXCL, &a, sftp_call_cb, &call), &call,
		    "create lock", b->lock_path, &e);
		if (rc == 0)
			break;
		/* Servers answer an EXCL open of an existing file with a
		 * plain FAILURE (v3 has no "file exists"): look. */
		if (sftp_failed(b->s) != NULL ||
		    backup_stat(b, b->lock_path, NULL, NULL) != 0) {
			if (err->code == TS_OK)
				*err = e;
			return rc;
		}
		if (!b->o->break_lock || attempt > 0)
			return lock_held(b, err);
		if (lock_describe(b, who, sizeof(who)) != 0)
			snprintf(who, sizeof(who), "not written by treesync");
		log_msg(TS_LOG_WARN, "breaking the lock \"%s\" (%s)",
		    b->lock_path, who);
		if ((rc = backup_remove(b, b->lock_path, err)) != 0)
			return rc;
	}
	b->locked = true;
	h = call.handle;
	memset(&call, 0, sizeof(call));
	rc = call_wait(b->s, sftp_write(b->s, &h, 0, text, (uint32_t)n,
	    sftp_call_cb, &call), &call, "write lock", b->lock_path, err);
	memset(&call, 0, sizeof(call));
	if (call_wait(b->s, sftp_close(b->s, &h, sftp_call_cb, &call), &call,
	    "close lock", b->lock_path, rc == 0 ? err : NULL) != 0 && rc == 0)
		rc = err->code;
	return rc;
}

/* Removes the lock if we took it; its failure is an error only when the
 * run had none (the next run would refuse to start). */
static void
lock_release(struct backup *b, int *rc, struct ts_error *err)
{
	struct ts_error	 e = { 0 };

	if (!b->locked)
		return;
	if (backup_remove(b, b->lock_path, &e) == 0) {
		b->locked = false;
		return;
	}
	if (*rc == 0)
		*rc = error_set(err, e.code, "%s; the next backup will refuse "
		    "to start until it is removed", e.msg);
	else
		log_msg(TS_LOG_WARN, "the lock \"%s\" is left behind (%s): "
		    "remove it before the next backup", b->lock_path, e.msg);
}

/* --- listing ROOT ------------------------------------------------------- */

static int
root_list_add(const struct ts_dirent *d, void *payload)
{
	struct root_list	*l = payload;
	struct root_ent		*v;

	if (l->n == l->cap) {
		size_t	 cap = l->cap != 0 ? l->cap * 2 : 32;

		if ((v = realloc(l->v, cap * sizeof(*v))) == NULL)
			return TS_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if ((l->v[l->n].name = strdup(d->name)) == NULL)
		return TS_ENOMEM;
	l->v[l->n].is_dir = d->st.has_mode && (d->st.mode & 0170000) ==
	    0040000;
	l->n++;
	return 0;
}

static void
root_list_dispose(struct root_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int
root_list(struct backup *b, struct root_list *l, struct ts_error *err)
{
	int	 rc;

	memset(l, 0, sizeof(*l));
	rc = ts_list(b->c, b->root, false, root_list_add, l, err);
	if (rc == TS_ENOMEM)
		return error_set(err, TS_ENOMEM, "out of memory");
	return rc;
}

static const struct root_ent *
root_find(const struct root_list *l, const char *name)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

/* --- removing a tree, pipelined ----------------------------------------- */

enum rm_kind { RM_REMOVE, RM_RMDIR, RM_CHMOD };

/* Requests of one batch in flight; the first error wins. */
struct rmq {
	struct sftp	*s;
	size_t		 active;
	struct ts_error	 err;
};

struct rmop {
	struct rmq	*q;
	char		*path;
	const char	*what;
};

static void
rm_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct rmop	*op = payload;

	(void)s;
	/* Gone already is what we wanted. */
	if (r->type == SSH_FXP_STATUS && r->status != SSH_FX_OK &&
	    r->status != SSH_FX_NO_SUCH_FILE)
		sftp_status_error(&op->q->err, r->status, r->msg, r->msg_len,
		    op->what, op->path);
	op->q->active--;
	free(op->path);
	free(op);
}

/* Sends one request, waiting for room in the engine first. */
static void
rm_send(struct rmq *q, enum rm_kind k, const char *dir, const char *rel,
    uint32_t perm)
{
	struct sftp_attrs	 a;
	struct rmop		*op;
	int			 rc;

	while (!sftp_room(q->s, 0) && sftp_failed(q->s) == NULL)
		sftp_pump(q->s, NULL);
	if (sftp_failed(q->s) != NULL || q->err.code != TS_OK)
		return;
	if (cancel_requested()) {
		error_set(&q->err, TS_ECANCELED, "interrupted");
		return;
	}
	if ((op = calloc(1, sizeof(*op))) == NULL ||
	    (op->path = rel != NULL ? rjoin(dir, rel) : strdup(dir)) == NULL) {
		free(op);
		error_set(&q->err, TS_ENOMEM, "out of memory");
		return;
	}
	op->q = q;
	switch (k) {
	case RM_REMOVE:
		op->what = "remove";
		rc = sftp_remove(q->s, op->path, rm_on_reply, op);
		break;
	case RM_RMDIR:
		op->what = "rmdir";
		rc = sftp_rmdir(q->s, op->path, rm_on_reply, op);
		break;
	default:
		op->what = "chmod";
		memset(&a, 0, sizeof(a));
		a.flags = SSH_FILEXFER_ATTR_PERMISSIONS;
		a.perm = perm;
		rc = sftp_setstat(q->s, op->path, &a, rm_on_reply, op);
		break;
	}
	if (rc != 0) {		/* the session failed: no reply will come */
		free(op->path);
		free(op);
		return;
	}
	q->active++;
}

/* Waits for the batch; 0 or its first error. */
static int
rm_wait(struct rmq *q, struct ts_error *err)
{
	const struct ts_error	*f;

	/* A failing session fails every pending request: active reaches 0. */
	while (q->active > 0)
		sftp_pump(q->s, NULL);
	if ((f = sftp_failed(q->s)) != NULL)
		error_set(&q->err, f->code, "%s", f->msg);
	if (q->err.code != TS_OK)
		return error_set(err, q->err.code, "%s", q->err.msg);
	return 0;
}

static int
depth_of(const char *path)
{
	int	 d = 0;

	for (; *path != '\0'; path++)
		d += *path == '/';
	return d;
}

/*
 * Removes the directory dir and everything in it over SFTP: directories
 * we may not write or enter (a snapshot keeps its sources' modes) are
 * made u+rwx first, level by level, walking again after each; then every
 * file and symlink at once, then directories deepest first, one level at
 * a time (a directory must be empty before it goes).  Files are only
 * unlinked, never changed: their inodes may be shared with snapshots
 * that stay.  A dir already gone is fine.
 */
static int
remove_tree(struct backup *b, const char *dir, struct ts_error *err)
{
	struct walk_problems	 wp;
	struct entries		 l;
	struct rmq		 q = { b->s, 0, { 0 } };
	struct sftp_attrs	 a;
	const struct entry	*e;
	bool			 missing = false;
	size_t			 i, fixed;
	int			 rc, pass, d, maxd = 0;

	entries_init(&l);
	walk_problems_init(&wp);
	if ((rc = backup_stat(b, dir, &a, NULL)) != 0 || !attrs_dir(&a)) {
		if (rc == 0)		/* not a directory: one remove */
			rc = backup_remove(b, dir, err);
		else if (sftp_failed(b->s) != NULL)
			rc = error_set(err, sftp_failed(b->s)->code, "%s",
			    sftp_failed(b->s)->msg);
		else
			rc = 0;		/* gone */
		goto out;
	}
	if ((a.perm & 0700) != 0700) {
		rm_send(&q, RM_CHMOD, dir, NULL, (a.perm & 07777) | 0700);
		if ((rc = rm_wait(&q, err)) != 0)
			goto out;
	}
	for (pass = 0; ; pass++) {
		if ((rc = walk_remote(&l, b->s, dir, NULL, &wp, &missing,
		    err)) != 0 || missing)
			goto out;
		for (i = 0, fixed = 0; i < l.n; i++) {
			e = &l.v[i];
			if (e->type == ENTRY_DIR && (e->mode & 0700) != 0700) {
				rm_send(&q, RM_CHMOD, dir, e->path,
				    (e->mode & 07777) | 0700);
				fixed++;
			}
		}
		if ((rc = rm_wait(&q, err)) != 0)
			goto out;
		if (fixed == 0 || pass == BACKUP_CHMOD_PASSES)
			break;
		entries_dispose(&l);
		walk_problems_dispose(&wp);
		entries_init(&l);
		walk_problems_init(&wp);
	}
	for (i = 0; i < l.n; i++) {
		if (l.v[i].type != ENTRY_DIR)
			rm_send(&q, RM_REMOVE, dir, l.v[i].path, 0);
		else if ((d = depth_of(l.v[i].path)) > maxd)
			maxd = d;
	}
	if ((rc = rm_wait(&q, err)) != 0)
		goto out;
	for (d = maxd; d >= 0; d--) {
		for (i = 0; i < l.n; i++)
			if (l.v[i].type == ENTRY_DIR &&
			    depth_of(l.v[i].path) == d)
				rm_send(&q, RM_RMDIR, dir, l.v[i].path, 0);
		if ((rc = rm_wait(&q, err)) != 0)
			goto out;
	}
	rm_send(&q, RM_RMDIR, dir, NULL, 0);
	rc = rm_wait(&q, err);
out:
	entries_dispose(&l);
	walk_problems_dispose(&wp);
	return rc;
}

/* --- the rotation --------------------------------------------------------- */

/*
 * Removes one snapshot or leftover.  A complete snapshot is first renamed
 * to .NAME.removing, so an interrupted removal never leaves a partial tree
 * under a final name (the next rotation finishes it).
 */
static int
prune_one(struct backup *b, const struct backup_snap *v, struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	char			*from = NULL, *to = NULL, *tmp = NULL;
	int			 rc;

	if ((from = rjoin(b->root, v->name)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if (v->kind == BACKUP_COMPLETE) {
		if (asprintf(&tmp, ".%s.removing", v->name) < 0 ||
		    (to = rjoin(b->root, tmp)) == NULL) {
			rc = error_set(err, TS_ENOMEM, "out of memory");
			goto out;
		}
		if (call_wait(b->s, sftp_rename(b->s, from, to, sftp_call_cb,
		    &call), &call, "rename", from, NULL) == 0) {
			free(from);
			from = to;
			to = NULL;
		} else
			log_msg(TS_LOG_INFO, "cannot rename \"%s\" before "
			    "removing it; removing it in place", from);
	}
	rc = remove_tree(b, from, err);
out:
	free(from);
	free(to);
	free(tmp);
	return rc;
}

/*
 * Lists ROOT again and decides about every name of ours (backup.h), then
 * removes what goes, oldest first, telling pfn of each decision.  One
 * removal failing does not stop the others; the first error is returned.
 */
static int
backup_prune(struct backup *b, struct ts_error *err)
{
	struct root_list	 rl;
	struct backup_snap	*v = NULL;
	struct ts_prune_item	 pi;
	struct ts_error		 e;
	size_t			 i, n = 0;
	int			 rc, first = 0;

	if ((rc = root_list(b, &rl, err)) != 0)
		return rc;
	if ((v = calloc(rl.n + 1, sizeof(*v))) == NULL) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < rl.n; i++) {
		/* Only directories of ours; a file or a symlink by such a
		 * name is foreign. */
		if (!rl.v[i].is_dir)
			continue;
		v[n].kind = backup_name_kind(rl.v[i].name, v[n].stamp);
		if (v[n].kind == BACKUP_FOREIGN)
			continue;
		v[n].name = rl.v[i].name;
		n++;
	}
	backup_prune_plan(v, n, (size_t)b->o->keep, b->res->snapshot);
	for (i = 0; i < n; i++) {
		memset(&pi, 0, sizeof(pi));
		memset(&e, 0, sizeof(e));
		pi.name = v[i].name;
		pi.keep = v[i].keep;
		pi.reason = v[i].reason;
		pi.dry_run = b->o->prune_dry_run;
		if (v[i].keep) {
			if (v[i].kind == BACKUP_COMPLETE)
				b->res->kept++;
		} else {
			b->res->removed++;
			if (!b->o->prune_dry_run &&
			    (pi.code = prune_one(b, &v[i], &e)) != 0) {
				pi.error = e.msg;
				if (first == 0) {
					first = e.code;
					error_set(err, e.code, "%s", e.msg);
				}
			}
		}
		if (b->pfn != NULL)
			b->pfn(&pi, b->payload);
	}
	rc = first;
out:
	free(v);
	root_list_dispose(&rl);
	return rc;
}

/* --- sending the PATHs ------------------------------------------------------ */

static void
sum_add(struct ts_summary *to, const struct ts_summary *s)
{
	to->files_scanned += s->files_scanned;
	to->files_created += s->files_created;
	to->files_updated += s->files_updated;
	to->files_deleted += s->files_deleted;
	to->files_unchanged += s->files_unchanged;
	to->dirs_created += s->dirs_created;
	to->symlinks += s->symlinks;
	to->attrs_set += s->attrs_set;
	to->bytes_sent += s->bytes_sent;
	to->bytes_literal += s->bytes_literal;
	to->bytes_matched += s->bytes_matched;
	to->files_linked += s->files_linked;
	to->errors += s->errors;
	if (to->hash_used == NULL)
		to->hash_used = s->hash_used;
	if (to->hash_where == NULL)
		to->hash_where = s->hash_where;
}

/* Hands an item to the caller with its path inside the snapshot
 * ("base/path"), and remembers the first failure for the message. */
static void
backup_report(struct backup *b, const struct ts_item *it)
{
	struct ts_item	 copy = *it;
	char		*p = NULL;

	if (it->path == NULL || it->path[0] == '\0')
		copy.path = b->base;
	else if (asprintf(&p, "%s/%s", b->base, it->path) >= 0)
		copy.path = p;
	else
		p = NULL;
	if ((it->code != TS_OK || it->action == TS_ITEM_CONFLICT ||
	    (it->action == TS_ITEM_SKIP && it->code != TS_OK))) {
		if (b->failed++ == 0)
			snprintf(b->first_fail, sizeof(b->first_fail), "%s",
			    it->error != NULL ? it->error : it->reason != NULL ?
			    it->reason : copy.path);
	}
	if (b->fn != NULL)
		b->fn(&copy, b->payload);
	free(p);
}

static void
backup_item(const struct ts_item *it, void *payload)
{
	backup_report(payload, it);
}

/* Reports one item of our own making (a PATH's directory or file). */
static void
report_one(struct backup *b, enum ts_item_action action,
    enum ts_item_type type, uint64_t size, int code, const char *error)
{
	struct ts_item	 it;

	memset(&it, 0, sizeof(it));
	it.action = action;
	it.type = type;
	it.path = "";
	it.reason = "new";
	it.size = size;
	it.created = true;
	it.code = code;
	it.error = code != TS_OK ? error : NULL;
	backup_report(b, &it);
}

/*
 * A directory PATH: creates ip/base (reported as a mkdir), then pushes
 * into it with --delete (a resumed snapshot ends up exact) and link_dest
 * at the same name in the newest snapshot.  With -c, files were linked by
 * size and mtime: a second push by hash replaces any that differ.
 */
static int
send_dir(struct backup *b, const char *path, const char *dst,
    const char *link_dest, struct ts_error *err)
{
	struct ts_sync_opts	 so = b->o->sync;
	struct ts_summary	 sum;
	struct ts_sync_opts	 so2;
	struct ts_error		 e = { 0 };
	struct sftp_attrs	 a;
	int			 rc;

	if (backup_stat(b, dst, &a, NULL) != 0) {
		if (sftp_failed(b->s) != NULL)
			return error_set(err, sftp_failed(b->s)->code, "%s",
			    sftp_failed(b->s)->msg);
		if ((rc = ts_mkdir(b->c, dst, false, &e)) != 0) {
			report_one(b, TS_ITEM_MKDIR, TS_TYPE_DIR, 0, rc, e.msg);
			return error_set(err, rc, "%s", e.msg);
		}
		report_one(b, TS_ITEM_MKDIR, TS_TYPE_DIR, 0, TS_OK, NULL);
		b->res->sum.dirs_created++;
	}
	so.dry_run = false;
	so.fsync = true;		/* a backup must survive the server's crash */
	so.delete_extra = true;
	so.link_dest = link_dest;
	so.checksum = false;		/* nothing to compare with yet */
	rc = ts_push(&sum, b->c, path, dst, &so, backup_item, b, &e);
	sum_add(&b->res->sum, &sum);
	if (rc == 0 && b->o->sync.checksum && sum.files_linked > 0) {
		so2 = so;
		so2.link_dest = NULL;
		so2.checksum = true;
		rc = ts_push(&sum, b->c, path, dst, &so2, backup_item, b, &e);
		/* Only files linked by mistake are sent: they are new. */
		b->res->sum.files_created += sum.files_updated;
		b->res->sum.files_linked -= sum.files_updated <
		    b->res->sum.files_linked ? sum.files_updated :
		    b->res->sum.files_linked;
		b->res->sum.bytes_sent += sum.bytes_sent;
		b->res->sum.errors += sum.errors;
	}
	if (rc != 0 && rc != TS_EPARTIAL)
		error_set(err, rc, "%s", e.msg);
	return rc;
}

/* SHA-256 of local file path into hex; 0 or -1. */
static int
hash_local(const char *path, char *hex)
{
	struct hash	 h;
	struct stat	 st;
	uint8_t		 buf[65536];
	ssize_t		 n;
	int		 fd;

	if (local_open_named(&fd, &st, path, NULL) != 0)
		return -1;
	if (hash_init(&h, HASH_SHA256) != 0) {
		close(fd);
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		hash_update(&h, buf, (size_t)n);
	hash_final(&h, hex);
	hash_dispose(&h);
	close(fd);
	return n == 0 ? 0 : -1;
}

/* -c: whether the remote file dst has the bytes of local file path, by
 * SHA-256 on the server (or read back when it runs no commands). */
static bool
same_by_hash(struct backup *b, const char *path, const char *dst)
{
	char	 mine[HASH_HEX_MAX], theirs[1][HASH_HEX_MAX];

	if (hash_local(path, mine) != 0)
		return false;
	if (verify_remote_hash(sftp_ssh(b->s), HASH_SHA256, &dst, 1, theirs,
	    NULL) != 0 && (sftp_failed(b->s) != NULL ||
	    verify_read_back(b->s, dst, HASH_SHA256, theirs[0], NULL) != 0))
		return false;
	return strcmp(mine, theirs[0]) == 0;
}

/*
 * A file PATH: one HARDLINK from the newest snapshot when it is unchanged
 * there (size, mtime, mode; with -c, and its SHA-256), else an upload
 * through ts_put (verified, renamed into place, replacing a link made).
 */
static int
send_file(struct backup *b, const char *path, const struct stat *st,
    const char *dst, const char *link_from, struct ts_error *err)
{
	struct ts_put_opts	 po = TS_PUT_OPTS_INIT;
	struct ts_xfer_result	 xr;
	struct sftp_call	 call = { 0 };
	struct sftp_attrs	 a;
	struct ts_error		 e = { 0 };
	int			 rc;

	b->res->sum.files_scanned++;
	if (link_from != NULL && sftp_has(b->s, SFTP_EXT_HARDLINK) &&
	    backup_stat(b, link_from, &a, NULL) == 0 &&
	    (a.flags & SSH_FILEXFER_ATTR_SIZE) != 0 &&
	    (a.flags & SSH_FILEXFER_ATTR_ACMODTIME) != 0 &&
	    (a.perm & 0170000) == 0100000 && a.size == (uint64_t)st->st_size &&
	    a.mtime == (uint32_t)st->st_mtim.tv_sec &&
	    (a.perm & 07777) == (st->st_mode & 07777)) {
		/* A resumed snapshot may have it already: link anew. */
		backup_remove(b, dst, NULL);
		if (call_wait(b->s, sftp_hardlink(b->s, link_from, dst,
		    sftp_call_cb, &call), &call, "hard-link", dst, &e) == 0 &&
		    (!b->o->sync.checksum || same_by_hash(b, path, dst))) {
			report_one(b, TS_ITEM_HARDLINK, TS_TYPE_FILE,
			    (uint64_t)st->st_size, TS_OK, NULL);
			b->res->sum.files_linked++;
			return 0;
		}
		if (sftp_failed(b->s) != NULL)
			return error_set(err, sftp_failed(b->s)->code, "%s",
			    sftp_failed(b->s)->msg);
		if (e.code != TS_OK)
			log_msg(TS_LOG_INFO, "%s; sending it instead", e.msg);
		error_clear(&e);
	}
	po.verify = b->o->sync.verify;
	po.keep_mode = true;
	po.fsync = true;
	po.cache_dir = b->o->sync.cache_dir;
	po.whole_file = b->o->sync.whole_file;
	po.delta_base = link_from;	/* the previous snapshot's copy */
	memset(&xr, 0, sizeof(xr));
	rc = ts_put(&xr, b->c, path, dst, &po, &e);
	report_one(b, TS_ITEM_UPLOAD, TS_TYPE_FILE, (uint64_t)st->st_size, rc,
	    e.msg);
	if (rc != 0) {
		b->res->sum.errors++;
		/* One file failing is a failed item, as in a push. */
		return rc == TS_ECONN || rc == TS_ECANCELED || rc == TS_ENOMEM ?
		    error_set(err, rc, "%s", e.msg) : TS_EPARTIAL;
	}
	b->res->sum.files_created++;
	b->res->sum.bytes_sent += xr.delta ? xr.bytes_literal : xr.bytes;
	b->res->sum.bytes_literal += xr.delta ? xr.bytes_literal : xr.bytes;
	b->res->sum.bytes_matched += xr.bytes_matched;
	if (xr.hash_checked && b->res->sum.hash_where == NULL)
		b->res->sum.hash_where = xr.hash_method != NULL &&
		    strcmp(xr.hash_method, "read-back") == 0 ? "read-back" :
		    "server";
	return 0;
}

/*
 * Checks the PATHs before anything is changed: each must be a directory
 * or a regular file (symlinks followed), and their base names (the names
 * in the snapshot) distinct.  Fills b->bases.
 */
static int
check_paths(struct backup *b, const char *const *paths, size_t npaths,
    struct ts_error *err)
{
	struct stat	 st;
	char		*copy, *end, *base, *real = NULL;
	size_t		 i, j;

	if (npaths == 0)
		return error_set(err, TS_EINVAL, "backup needs at least one "
		    "local path");
	if ((b->bases = calloc(npaths, sizeof(*b->bases))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	for (i = 0; i < npaths; i++) {
		if (stat(paths[i], &st) != 0)
			return error_set_errno(err, errno, "local path \"%s\"",
			    paths[i]);
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			return error_set(err, TS_EINVAL, "local path \"%s\" is "
			    "neither a directory nor a regular file", paths[i]);
		if ((copy = strdup(paths[i])) == NULL)
			return error_set(err, TS_ENOMEM, "out of memory");
		for (end = copy + strlen(copy); end > copy + 1 &&
		    end[-1] == '/'; )
			*--end = '\0';
		base = strrchr(copy, '/') != NULL ? strrchr(copy, '/') + 1 :
		    copy;
		/* ".", "..", "dir/.": the directory's real name. */
		if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
			if ((real = realpath(paths[i], NULL)) == NULL) {
				free(copy);
				return error_set_errno(err, errno, "local path "
				    "\"%s\"", paths[i]);
			}
			base = strrchr(real, '/') + 1;
		}
		if (*base == '\0') {
			free(copy);
			free(real);
			return error_set(err, TS_EINVAL, "cannot back up \"/\" "
			    "as one path: name its directories");
		}
		b->bases[i] = strdup(base);
		free(copy);
		free(real);
		real = NULL;
		if (b->bases[i] == NULL)
			return error_set(err, TS_ENOMEM, "out of memory");
		for (j = 0; j < i; j++)
			if (strcmp(b->bases[i], b->bases[j]) == 0)
				return error_set(err, TS_EINVAL, "\"%s\" and "
				    "\"%s\" would both be \"%s\" in the snapshot",
				    paths[j], paths[i], b->bases[i]);
	}
	return 0;
}

/* The run's stamp: the option, or now in local time. */
static int
choose_stamp(struct backup *b, struct ts_error *err)
{
	struct tm	 tm;
	time_t		 now;

	if (b->o->stamp != NULL) {
		if (!backup_stamp_valid(b->o->stamp))
			return error_set(err, TS_EINVAL, "bad stamp \"%s\": "
			    "expected YYYYMMDD-HHMMSS, a valid local date and "
			    "time", b->o->stamp);
		memcpy(b->stamp, b->o->stamp, sizeof(b->stamp));
		return 0;
	}
	now = time(NULL);
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(b->stamp, sizeof(b->stamp), "%Y%m%d-%H%M%S", &tm) !=
	    BACKUP_STAMP_LEN)
		return error_set(err, TS_ERROR, "cannot read the clock");
	return 0;
}

/*
 * Names the snapshot from ROOT's listing: YYYYMMDD, or YYYYMMDD-HHMMSS
 * when anything by that name exists; the in-progress name; and the
 * newest complete snapshot to link from.
 */
static int
choose_names(struct backup *b, const struct root_list *rl,
    struct ts_error *err)
{
	const struct root_ent	*e;
	const char		*newest = NULL;
	char			 stamp[BACKUP_STAMP_LEN + 1];
	char			 date[9];
	size_t			 i;

	memcpy(date, b->stamp, 8);
	date[8] = '\0';
	if (root_find(rl, date) == NULL)
		snprintf(b->res->snapshot, sizeof(b->res->snapshot), "%s", date);
	else if (root_find(rl, b->stamp) == NULL)
		snprintf(b->res->snapshot, sizeof(b->res->snapshot), "%s",
		    b->stamp);
	else
		return error_set(err, TS_EINVAL, "\"%s\" and \"%s\" exist already "
		    "under \"%s\": one backup a second at most", date, b->stamp,
		    b->root);
	snprintf(b->res->in_progress, sizeof(b->res->in_progress),
	    ".%s.in-progress", b->stamp);
	for (i = 0; i < rl->n; i++)
		if (rl->v[i].is_dir && backup_name_kind(rl->v[i].name, stamp) ==
		    BACKUP_COMPLETE && (newest == NULL ||
		    strcmp(rl->v[i].name, newest) > 0))
			newest = rl->v[i].name;
	if (newest != NULL)
		snprintf(b->res->link_from, sizeof(b->res->link_from), "%s",
		    newest);
	if ((b->ip_path = rjoin(b->root, b->res->in_progress)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if ((e = root_find(rl, b->res->in_progress)) != NULL) {
		if (!e->is_dir)
			return error_set(err, TS_EREMOTE, "\"%s\" is in the way: "
			    "not a directory", b->ip_path);
		log_msg(TS_LOG_INFO, "finishing the unfinished snapshot \"%s\"",
		    b->ip_path);
		return 0;
	}
	return ts_mkdir(b->c, b->ip_path, false, err);
}

/* Sends every PATH into the in-progress directory; 0, or the first error
 * (TS_EPARTIAL when only items failed). */
static int
send_paths(struct backup *b, const char *const *paths, size_t npaths,
    struct ts_error *err)
{
	struct stat	 st;
	char		*dst = NULL, *from = NULL, *ld = NULL;
	size_t		 i;
	int		 rc, worst = 0;

	if (b->res->link_from[0] != '\0')
		log_msg(TS_LOG_INFO, "unchanged files are hard-linked from "
		    "\"%s\"", b->res->link_from);
	for (i = 0; i < npaths && worst != TS_ECONN && worst != TS_ECANCELED;
	    i++) {
		if (cancel_requested()) {
			worst = error_set(err, TS_ECANCELED, "interrupted");
			break;
		}
		b->base = b->bases[i];
		from = NULL;
		ld = NULL;
		if ((dst = rjoin(b->ip_path, b->base)) == NULL ||
		    (b->res->link_from[0] != '\0' && ((from = rjoin(b->root,
		    b->res->link_from)) == NULL || (ld = rjoin(from,
		    b->base)) == NULL))) {
			free(dst);
			free(from);
			return error_set(err, TS_ENOMEM, "out of memory");
		}
		if (stat(paths[i], &st) != 0)
			rc = error_set_errno(err, errno, "local path \"%s\"",
			    paths[i]);
		else if (S_ISDIR(st.st_mode))
			rc = send_dir(b, paths[i], dst, ld, err);
		else
			rc = send_file(b, paths[i], &st, dst, ld, err);
		if (rc != 0 && (worst == 0 || worst == TS_EPARTIAL))
			worst = rc;
		free(dst);
		free(from);
		free(ld);
	}
	b->base = NULL;
	if (worst == TS_EPARTIAL)
		error_set(err, TS_EPARTIAL, "%llu item%s could not be backed up, "
		    "so the snapshot is not complete; the first: %s",
		    (unsigned long long)b->failed, b->failed == 1 ? "" : "s",
		    b->first_fail);
	return worst;
}

static int
backup_rename(struct backup *b, struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	char			*to;
	int			 rc;

	if ((to = rjoin(b->root, b->res->snapshot)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	/* Plain v3 RENAME: it never replaces an existing name. */
	rc = call_wait(b->s, sftp_rename(b->s, b->ip_path, to, sftp_call_cb,
	    &call), &call, "rename", b->ip_path, err);
	free(to);
	return rc;
}

int
ts_backup(struct ts_backup_result *out, struct ts_conn *c,
    const char *const *paths, size_t npaths, const char *root,
    const struct ts_backup_opts *o, ts_item_fn *fn, ts_prune_fn *pfn,
    void *payload, struct ts_error *err)
{
	static const struct ts_backup_opts defaults = TS_BACKUP_OPTS_INIT;
	struct ts_backup_result	 res;
	struct root_list	 rl = { 0 };
	struct backup		 b;
	struct ts_error		 e = { 0 };
	struct sftp_attrs	 a;
	double			 t0 = now_s();
	size_t			 i;
	int			 rc;

	memset(&res, 0, sizeof(res));
	memset(&b, 0, sizeof(b));
	if (root == NULL)
		root = "";
	b.c = c;
	b.s = conn_sftp(c);
	b.o = o != NULL ? o : &defaults;
	b.root = root;
	b.res = &res;
	b.fn = fn;
	b.pfn = pfn;
	b.payload = payload;
	if (b.o->keep < 1) {
		rc = error_set(&e, TS_EINVAL, "bad keep %d: at least 1",
		    b.o->keep);
		goto out;
	}
	if (b.o->sync.dry_run) {
		rc = error_set(&e, TS_EINVAL, "backup has no dry run; "
		    "--prune-dry-run shows what the rotation would remove");
		goto out;
	}
	if ((rc = choose_stamp(&b, &e)) != 0 ||
	    (rc = check_paths(&b, paths, npaths, &e)) != 0)
		goto out;
	if (*root != '\0' && (rc = ts_mkdir(c, root, true, &e)) != 0)
		goto out;
	if ((rc = backup_stat(&b, *root != '\0' ? root : ".", &a, &e)) != 0)
		goto out;
	if (!attrs_dir(&a)) {
		rc = error_set(&e, TS_EINVAL, "remote path \"%s\" is not a "
		    "directory", root);
		goto out;
	}
	if ((b.lock_path = rjoin(root, BACKUP_LOCK_NAME)) == NULL) {
		rc = error_set(&e, TS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = lock_take(&b, &e)) != 0 ||
	    (rc = root_list(&b, &rl, &e)) != 0 ||
	    (rc = choose_names(&b, &rl, &e)) != 0)
		goto out;
	if ((rc = send_paths(&b, paths, npaths, &e)) != 0)
		goto out;
	if (cancel_requested()) {
		rc = error_set(&e, TS_ECANCELED, "interrupted");
		goto out;
	}
	if ((rc = backup_rename(&b, &e)) != 0)
		goto out;
	res.complete = true;
	rc = backup_prune(&b, &e);
out:
	lock_release(&b, &rc, &e);
	if (b.o->sync.verify == TS_VERIFY_HASH && res.sum.hash_where != NULL)
		res.sum.hash_used = "sha256";
	res.sum.elapsed = now_s() - t0;
	if (rc != 0 && err != NULL && err->code == TS_OK)
		*err = e;
	root_list_dispose(&rl);
	if (b.bases != NULL)
		for (i = 0; i < npaths; i++)
			free(b.bases[i]);
	free(b.bases);
	free(b.lock_path);
	free(b.ip_path);
	if (out != NULL)
		*out = res;
	return rc;
}
