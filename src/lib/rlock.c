/*
 * The lock of a run on a remote root (rlock.h).  It holds the host name,
 * the pid and the start time, so that a refused run can say who holds it
 * and since when.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "path.h"
#include "log.h"
#include "rfs.h"
#include "rlock.h"

#define RLOCK_STALE	(24 * 3600)	/* older: "probably stale" */
#define RLOCK_MAX	1024		/* bytes of a lock we read */

struct lock_read {
	bool		 done;
	uint32_t	 status;
	size_t		 len;
	char		 buf[RLOCK_MAX];
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
lock_read(struct rlock *b, struct lock_read *l)
{
	struct sftp_call	 call = { 0 };
	struct sftp_handle	 h;
	int			 rc = -1;

	memset(l, 0, sizeof(*l));
	if (sftp_call_wait(b->s, sftp_open(b->s, b->path, SSH_FXF_READ, NULL,
	    sftp_call_cb, &call), &call, "open", b->path, NULL) != 0)
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
	sftp_call_wait(b->s, sftp_close(b->s, &h, sftp_call_cb, &call), &call,
	    "close", b->path, NULL);
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
 * MM min ago)", ", probably stale" past RLOCK_STALE.  Returns -1 when
 * the lock cannot be read or is not one of ours.
 */
static int
lock_describe(struct rlock *b, char *out, size_t size)
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
			    d / 3600, d / 60 % 60, d >= RLOCK_STALE ?
			    ", probably stale" : "");
	}
	snprintf(out, size, "pid %s on \"%s\", since %s%s", pid, host, since,
	    age);
	return 0;
}

/* The error for a lock someone else holds: who, since when, what to do. */
static int
lock_held(struct rlock *b, struct ts_error *err)
{
	char	 who[200];

	if (lock_describe(b, who, sizeof(who)) != 0)
		return error_set(err, TS_ELOCKED, "another %s may be "
		    "running: \"%s\" exists; if no %s is running, remove "
		    "it or use --break-lock", b->who, b->path, b->who);
	return error_set(err, TS_ELOCKED, "another %s is running (%s); if "
	    "it is not, remove \"%s\" or use --break-lock", b->who, who,
	    b->path);
}

/*
 * Takes the lock: creates it exclusively (SSH_FXF_EXCL: O_EXCL on the
 * server, so of two runs exactly one succeeds) and writes who holds it.
 * With break_lock, a lock found is removed first, once.
 */
int
rlock_take(struct rlock *b, struct sftp *s, const char *root,
    const char *name, const char *kind, const char *key, const char *value,
    bool break_lock, struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	struct sftp_attrs	 a;
	struct sftp_handle	 h;
	struct ts_error		 e = { 0 };
	struct tm		 tm;
	char			 text[512], host[256], when[64], who[200];
	time_t			 now = time(NULL);
	int			 rc, attempt, n;

	memset(b, 0, sizeof(*b));
	b->s = s;
	b->who = kind;
	if ((b->path = path_join(root, name)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
	n = snprintf(text, sizeof(text), "treesync %s lock\nhost: %.200s\n"
	    "pid: %ld\nstarted: %s (%lld)\n%s: %.100s\n", b->who, host,
	    (long)getpid(), when, (long long)now, key, value);
	memset(&a, 0, sizeof(a));
	a.flags = SSH_FILEXFER_ATTR_PERMISSIONS;
	a.perm = 0644;
	for (attempt = 0; ; attempt++) {
		memset(&call, 0, sizeof(call));
		error_clear(&e);
		rc = sftp_call_wait(b->s, sftp_open(b->s, b->path, SSH_FXF_WRITE |
		    SSH_FXF_CREAT | SSH_FXF_EXCL, &a, sftp_call_cb, &call), &call,
		    "create lock", b->path, &e);
		if (rc == 0)
			break;
		/* Servers answer an EXCL open of an existing file with a
		 * plain FAILURE (v3 has no "file exists"): look. */
		if (sftp_failed(b->s) != NULL ||
		    rfs_stat(b->s, b->path, NULL, NULL) != 0) {
			if (err->code == TS_OK)
				*err = e;
			return rc;
		}
		if (!break_lock || attempt > 0)
			return lock_held(b, err);
		if (lock_describe(b, who, sizeof(who)) != 0)
			snprintf(who, sizeof(who), "not written by treesync");
		log_msg(TS_LOG_WARN, "breaking the lock \"%s\" (%s)",
		    b->path, who);
		if ((rc = rfs_remove(b->s, b->path, err)) != 0)
			return rc;
	}
	b->held = true;
	h = call.handle;
	memset(&call, 0, sizeof(call));
	rc = sftp_call_wait(b->s, sftp_write(b->s, &h, 0, text, (uint32_t)n,
	    sftp_call_cb, &call), &call, "write lock", b->path, err);
	memset(&call, 0, sizeof(call));
	if (sftp_call_wait(b->s, sftp_close(b->s, &h, sftp_call_cb, &call), &call,
	    "close lock", b->path, rc == 0 ? err : NULL) != 0 && rc == 0)
		rc = err->code;
	return rc;
}

void
rlock_release(struct rlock *b, int *rc, struct ts_error *err)
{
	struct ts_error	 e = { 0 };

	if (!b->held)
		return;
	if (rfs_remove(b->s, b->path, &e) == 0) {
		b->held = false;
		return;
	}
	if (*rc == 0)
		*rc = error_set(err, e.code, "%s; the next %s will refuse "
		    "to start until it is removed", e.msg, b->who);
	else
		log_msg(TS_LOG_WARN, "the lock \"%s\" is left behind (%s): "
		    "remove it before the next %s", b->path, e.msg, b->who);
}

void
rlock_dispose(struct rlock *l)
{
	free(l->path);
	l->path = NULL;
}
