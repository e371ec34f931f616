/*
 * The remote walk (see walk_remote.h).  Reply-driven, as xfer.c: each
 * open directory is a small state machine in a slot (OPENDIR, READDIR
 * until EOF, CLOSE), symlinks and attribute-less entries wait in a queue
 * of path requests (READLINK, LSTAT), directories found wait on a stack.
 * Callbacks only move state and add entries; walker_kick(), between two
 * sftp_pump_many() calls, sends whatever the engines have room for.  So
 * no callback ever sends, and an engine failing in the middle of a send
 * (which runs every pending callback at once) finds consistent state.
 *
 * Engines lent during the walk (walk_remote_opts.lend) each get slots of
 * their own, since a handle belongs to its session; path requests go to
 * whichever engine has least in flight.  All are driven by this thread,
 * so nothing here locks.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cancel.h"
#include "error.h"
#include "log.h"
#include "walk_remote.h"

#define NS_PER_SEC	1000000000LL
/* A relative path, bytes: past any server's PATH_MAX (Linux 4096, Windows
 * 32767), and it bounds what a server inventing an endless chain of
 * directories can make us hold. */
#define WALK_PATH_MAX	(32 * 1024)
#define LINK_MAX_LEN	(1024 * 1024)	/* symlink target, bytes */
#define ROOT_DIR	SIZE_MAX	/* "entry index" of the root */
#define SHOWN_MAX	100		/* bytes of a name shown in a message */
/* READDIRs in flight on one handle: 2 at first (a small directory's names
 * and its EOF, in one round trip), doubled by every reply with names. */
#define READDIR_START	2
#define READDIR_MAX	16
#define ENGINES_MAX	SFTP_PUMP_MAX

/* File types in SFTP permissions: the POSIX S_IF* values (draft-02 5). */
#define T_MASK		0170000
#define T_FIFO		0010000
#define T_CHR		0020000
#define T_DIR		0040000
#define T_BLK		0060000
#define T_REG		0100000
#define T_LNK		0120000
#define T_SOCK		0140000

struct walker;

enum rdir_state {
	RD_FREE,		/* slot unused */
	RD_OPENING,		/* OPENDIR in flight */
	RD_STAT,		/* the root's OPENDIR failed: waits for the
				 * STAT sent with it, which tells "missing"
				 * from "not a directory" */
	RD_LISTING,		/* handle open: READDIRs until the end */
	RD_CLOSE,		/* done or failed: CLOSE to send */
	RD_CLOSING,		/* CLOSE in flight */
};

/*
 * One directory being listed: a server handle, while open.  Several
 * READDIRs may be in flight on it: the server must answer them as if sent
 * one at a time (draft-02, 6.1), so each reply holds the next names, in
 * whatever order the replies come; all after the end are EOF.
 */
struct rdir {
	struct walker	*w;
	struct engine	*e;		/* the session its handle is of */
	enum rdir_state	 state;
	size_t		 self;		/* its entry, or ROOT_DIR */
	size_t		 parent;	/* its parent's entry, or ROOT_DIR */
	struct sftp_handle handle;	/* RD_LISTING, RD_CLOSE */
	unsigned	 pending;	/* its requests in flight */
	unsigned	 window;	/* READDIRs it may have in flight */
	bool		 eof;		/* the end (or an error) was seen */
};

/* An engine listing with us, and the directory slots bound to it. */
struct engine {
	struct sftp	*s;
	struct rdir	*slots;		/* nslots; busy not RD_FREE */
	size_t		 nslots, busy;
	size_t		 opened;	/* directories it listed */
};

/* What the STAT of the root sent beside its OPENDIR said. */
enum root_stat {
	RS_WAIT,		/* no reply yet */
	RS_OTHER,		/* a directory, or a failure of another kind */
	RS_NOT_DIR,
	RS_MISSING,
};

/* A directory found, waiting for a free slot. */
struct qdir {
	size_t		 self, parent;
};

enum pend_op {
	P_LSTAT,		/* READDIR gave too few attributes */
	P_READLINK,		/* a symlink: its target */
};

/* A path request, queued until the engine has room, then its payload. */
struct pend {
	struct pend	*next;
	struct walker	*w;
	enum pend_op	 op;
	size_t		 parent;	/* the directory holding it */
	struct sftp_attrs attrs;	/* from READDIR (or LSTAT) */
	char		 rel[];		/* path from the root */
};

struct walker {
	struct entries	*out;
	struct engine	 eng[ENGINES_MAX];
	size_t		 neng;
	const char	*root;		/* as the caller named it */
	char		*rroot;		/* the root in requests */
	bool		 login;		/* root "": paths below are plain rel */
	struct walk_remote_opts o;
	struct walk_problems *wp;	/* may be NULL */
	size_t		 busy;		/* slots not RD_FREE, of all engines */
	struct qdir	*q;		/* stack of directories to open */
	size_t		 qn, qcap;
	struct pend	*phead, **ptail; /* path requests not yet sent */
	size_t		*gone;		/* dirs that vanished before OPENDIR */
	size_t		 ngone, gcap;
	char		*pbuf;		/* a path being built (callbacks) */
	size_t		 pcap;
	char		*rbuf;		/* a request's remote path (kick) */
	size_t		 rcap;
	char		*lbuf;		/* a symlink target, NUL-terminated */
	size_t		 lcap;
	uint32_t	 inflight;	/* our requests in the engines */
	uint32_t	 closing;	/* of them, CLOSEs: the walk ends
					 * without waiting for their replies */
	struct rdir	*root_slot;	/* while the root is open(ing) */
	enum root_stat	 root_stat;
	bool		 root_missing;
	struct ts_error	 root_err;	/* why the root's OPENDIR failed */
	struct ts_error	 fatal;		/* what stops the walk; first wins */
};

bool
walk_remote_name_ok(const char *name, size_t len)
{
	if (len == 0 || (len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	return memchr(name, '/', len) == NULL && memchr(name, '\0', len) ==
	    NULL;
}

/*
 * Quotes len bytes of s for a one-line message into buf: '"', '\' and
 * control bytes escaped C-style, at most SHOWN_MAX bytes of s ("..."
 * marks the cut).  Bytes from 0x80 pass, so UTF-8 names stay readable.
 */
static const char *
shown(char *buf, size_t size, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t		 i, o = 0;
	unsigned char	 c;

	assert(size >= 8);
	for (i = 0; i < len && i < SHOWN_MAX && o + 5 < size; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c == '\n' || c == '\t' || c == '\r') {
			buf[o++] = '\\';
			buf[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
		} else if (c < 0x20 || c == 0x7f) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		} else
			buf[o++] = (char)c;
	}
	if (i < len && o + 4 <= size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* A relative path for messages; the root is shown as the caller named it. */
static const char *
shown_rel(const struct walker *w, char *buf, size_t size, const char *rel)
{
	if (*rel == '\0')
		rel = *w->root != '\0' ? w->root : ".";
	return shown(buf, size, rel, strlen(rel));
}

static int __attribute__((format(printf, 3, 4)))
set_fatal(struct walker *w, int code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	error_setv(&w->fatal, code, fmt, ap);
	va_end(ap);
	return code;
}

static int
oom(struct walker *w)
{
	return set_fatal(w, TS_ENOMEM, "out of memory");
}

static bool
stopping(const struct walker *w)
{
	return w->fatal.code != TS_OK;
}

/* Makes *buf hold at least need bytes (need is bounded by the caller). */
static int
grow(struct walker *w, char **buf, size_t *cap, size_t need)
{
	size_t	 n;
	char	*p;

	if (need <= *cap)
		return 0;
	for (n = *cap == 0 ? 256 : *cap; n < need; n *= 2)
		;
	if ((p = realloc(*buf, n)) == NULL)
		return oom(w);
	*buf = p;
	*cap = n;
	return 0;
}

static void
mark_incomplete(struct walker *w, size_t dir)
{
	if (dir == ROOT_DIR)
		w->out->incomplete_root = true;
	else
		w->out->v[dir].flags |= ENTRY_INCOMPLETE;
}

/*
 * Counts a problem with path (relative) and flags dir (an entry, or
 * ROOT_DIR) as listed incompletely, as walk_local does.  Returns the
 * problem's error to fill in, or NULL when only counted (the list is
 * full, or memory ran out: then the walk stops).
 */
static struct ts_error *
problem(struct walker *w, size_t dir, const char *path)
{
	struct walk_problems *wp = w->wp;
	struct walk_problem *v;
	size_t		 cap;

	mark_incomplete(w, dir);
	if (wp == NULL)
		return NULL;
	wp->total++;
	if (wp->n >= WALK_PROBLEMS_MAX)
		return NULL;
	if (wp->n == wp->cap) {
		cap = wp->cap == 0 ? 16 : wp->cap * 2;
		if ((v = realloc(wp->v, cap * sizeof(*v))) == NULL) {
			oom(w);
			return NULL;
		}
		wp->v = v;
		wp->cap = cap;
	}
	v = &wp->v[wp->n];
	if ((v->path = strdup(path)) == NULL) {
		oom(w);
		return NULL;
	}
	error_clear(&v->err);
	wp->n++;
	return &v->err;
}

static void __attribute__((format(printf, 5, 6)))
problemf(struct walker *w, size_t dir, const char *path, int code,
    const char *fmt, ...)
{
	struct ts_error	*e;
	va_list		 ap;

	if ((e = problem(w, dir, path)) == NULL)
		return;
	va_start(ap, fmt);
	error_setv(e, code, fmt, ap);
	va_end(ap);
}

/* A failed STATUS reply about path, as a problem: `what "path": reason`. */
static void
problem_status(struct walker *w, size_t dir, const char *path,
    const struct sftp_reply *r, const char *what)
{
	struct ts_error	*e;
	char		 sp[SHOWN_MAX * 4 + 8];

	if ((e = problem(w, dir, path)) == NULL)
		return;
	sftp_status_error(e, r->status, r->msg, r->msg_len, what,
	    shown_rel(w, sp, sizeof(sp), path));
}

/* The path of rel in requests, in w->rbuf ("root/rel"; the root alone
 * for ""; rel itself below the login directory).  NULL when out of
 * memory. */
static const char *
remote_path(struct walker *w, const char *rel)
{
	size_t	 rn = strlen(w->rroot), n = strlen(rel);
	bool	 slash = rn > 0 && w->rroot[rn - 1] != '/';

	if (*rel == '\0')
		return w->rroot;
	if (w->login)
		return rel;
	if (grow(w, &w->rbuf, &w->rcap, rn + 1 + n + 1) != 0)
		return NULL;
	memcpy(w->rbuf, w->rroot, rn);
	if (slash)
		w->rbuf[rn++] = '/';
	memcpy(w->rbuf + rn, rel, n + 1);
	return w->rbuf;
}

static const char *
slot_rel(const struct walker *w, const struct rdir *d)
{
	return d->self == ROOT_DIR ? "" : w->out->v[d->self].path;
}

static void
slot_free(struct walker *w, struct rdir *d)
{
	assert(d->state != RD_FREE && w->busy > 0 && d->e->busy > 0);
	d->state = RD_FREE;
	w->busy--;
	d->e->busy--;
	if (d == w->root_slot)
		w->root_slot = NULL;
}

static int
queue_dir(struct walker *w, size_t self, size_t parent)
{
	struct qdir	*q;
	size_t		 cap;

	if (w->qn == w->qcap) {
		cap = w->qcap == 0 ? 64 : w->qcap * 2;
		if ((q = realloc(w->q, cap * sizeof(*q))) == NULL)
			return oom(w);
		w->q = q;
		w->qcap = cap;
	}
	w->q[w->qn].self = self;
	w->q[w->qn].parent = parent;
	w->qn++;
	return 0;
}

static int
queue_pend(struct walker *w, enum pend_op op, size_t parent, const char *rel,
    const struct sftp_attrs *a)
{
	struct pend	*p;
	size_t		 n = strlen(rel);

	if ((p = malloc(sizeof(*p) + n + 1)) == NULL)
		return oom(w);
	p->next = NULL;
	p->w = w;
	p->op = op;
	p->parent = parent;
	p->attrs = *a;
	memcpy(p->rel, rel, n + 1);
	*w->ptail = p;
	w->ptail = &p->next;
	return 0;
}

static struct pend *
pend_pop(struct walker *w)
{
	struct pend	*p = w->phead;

	if (p != NULL && (w->phead = p->next) == NULL)
		w->ptail = &w->phead;
	return p;
}

/*
 * Stops all work still to send: queued directories and path requests are
 * dropped, open handles are closed once their READDIRs have answered.
 * With the session gone nothing can be sent at all, and handles die with
 * it: a slot is free once no request of its is in flight (the engine
 * fails each of them, and each failure comes back here).
 */
static void
drop_work(struct walker *w)
{
	struct pend	*p;
	struct rdir	*d;
	struct engine	*e;
	bool		 dead;
	size_t		 i, k;

	w->qn = 0;
	while ((p = pend_pop(w)) != NULL)
		free(p);
	for (k = 0; k < w->neng; k++)
	for (e = &w->eng[k], dead = sftp_failed(e->s) != NULL, i = 0;
	    i < e->nslots; i++) {
		d = &e->slots[i];
		if (d->state == RD_FREE)
			continue;
		if (dead || d->state == RD_STAT) {
			if (d->pending == 0)
				slot_free(w, d);
		} else if (d->state == RD_LISTING) {
			d->eof = true;
			if (d->pending == 0)
				d->state = RD_CLOSE;
		}
	}
}

/* Engine s failed: its error is the walk's. */
static void
session_failed(struct walker *w, struct sftp *s)
{
	const struct ts_error *f = sftp_failed(s);

	if (f != NULL && f->code != TS_OK)
		error_set(&w->fatal, f->code, "%s", f->msg);
	else
		set_fatal(w, TS_ECONN, "the SFTP session failed");
	drop_work(w);
}

/* What the plan needs and a (READDIR or LSTAT) reply lacks, or NULL. */
/* The owner of the entry just added, when the server says it. */
static void
set_owner(struct walker *w, const struct sftp_attrs *a)
{
	if ((a->flags & SSH_FILEXFER_ATTR_UIDGID) != 0) {
		w->out->v[w->out->n - 1].uid = a->uid;
		w->out->v[w->out->n - 1].gid = a->gid;
	}
}

static const char *
attrs_missing(const struct sftp_attrs *a)
{
	uint32_t	 t = a->perm & T_MASK;

	if ((a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) == 0)
		return "type";
	if (t == T_REG && (a->flags & SSH_FILEXFER_ATTR_SIZE) == 0)
		return "size";
	if ((t == T_REG || t == T_DIR) &&
	    (a->flags & SSH_FILEXFER_ATTR_ACMODTIME) == 0)
		return "mtime";
	return NULL;
}

static int64_t
mtime_ns(const struct sftp_attrs *a)
{
	if ((a->flags & SSH_FILEXFER_ATTR_ACMODTIME) == 0)
		return 0;		/* a symlink's: compared by target */
	return (int64_t)a->mtime * NS_PER_SEC;
}

static const char *
special_kind(uint32_t t)
{
	switch (t) {
	case T_FIFO:
		return "fifo";
	case T_SOCK:
		return "socket";
	case T_CHR:
		return "character device";
	case T_BLK:
		return "block device";
	default:
		return "special file";
	}
}

/* Adds rel, entry of directory parent, with attributes a: directories
 * are queued to be listed, symlinks to be read. */
static void
visit(struct walker *w, size_t parent, const char *rel,
    const struct sftp_attrs *a, bool stated)
{
	const char	*missing;
	char		 sp[SHOWN_MAX * 4 + 8];
	bool		 ex;

	if ((missing = attrs_missing(a)) != NULL) {
		if (!stated) {
			queue_pend(w, P_LSTAT, parent, rel, a);
			return;
		}
		problemf(w, parent, rel, TS_EREMOTE, "the server gives no %s "
		    "for \"%s\": skipped", missing,
		    shown_rel(w, sp, sizeof(sp), rel));
		return;
	}
	switch (a->perm & T_MASK) {
	case T_DIR:
		if (entries_add(w->out, rel, ENTRY_DIR, 0, mtime_ns(a), a->perm,
		    NULL, &w->fatal) != 0)
			return;
		set_owner(w, a);
		/* Listed either way (see walk_remote.h); entered only when
		 * included or when its contents may be deleted. */
		ex = filter_excluded(w->o.filter, rel, true);
		if (!ex || w->o.descend_excluded)
			queue_dir(w, w->out->n - 1, parent);
		return;
	case T_REG:
		if (entries_add(w->out, rel, ENTRY_FILE, a->size, mtime_ns(a),
		    a->perm, NULL, &w->fatal) == 0)
			set_owner(w, a);
		return;
	case T_LNK:
		queue_pend(w, P_READLINK, parent, rel, a);
		return;
	default:
		/* Nothing the other side could hold: say so, no error. */
		if (!filter_excluded(w->o.filter, rel, false))
			log_msg(TS_LOG_WARN, "skipping %s \"%s\" on the server",
			    special_kind(a->perm & T_MASK),
			    shown_rel(w, sp, sizeof(sp), rel));
		return;
	}
}

/* One name of directory d's READDIR reply. */
static void
take_name(struct walker *w, struct rdir *d, const char *dir,
    const struct sftp_name *nm)
{
	char	 sn[SHOWN_MAX * 4 + 8], sd[SHOWN_MAX * 4 + 8];
	size_t	 dn = strlen(dir), need;

	/* Every server lists these two: they are no entries. */
	if ((nm->name_len == 1 && nm->name[0] == '.') || (nm->name_len == 2 &&
	    nm->name[0] == '.' && nm->name[1] == '.'))
		return;
	if (!walk_remote_name_ok(nm->name, nm->name_len)) {
		problemf(w, d->self, dir, TS_EREMOTE, "server returned an "
		    "unsafe name \"%s\" in \"%s\": refused",
		    shown(sn, sizeof(sn), nm->name, nm->name_len),
		    shown_rel(w, sd, sizeof(sd), dir));
		return;
	}
	need = dn + 1 + nm->name_len + 1;
	if (need > WALK_PATH_MAX) {
		problemf(w, d->self, dir, TS_EREMOTE, "\"%s/%s\": path too "
		    "long",
		    shown_rel(w, sd, sizeof(sd), dir),
		    shown(sn, sizeof(sn), nm->name, nm->name_len));
		return;
	}
	if (grow(w, &w->pbuf, &w->pcap, need) != 0)
		return;
	memcpy(w->pbuf, dir, dn);
	if (dn > 0)
		w->pbuf[dn++] = '/';
	memcpy(w->pbuf + dn, nm->name, nm->name_len);
	w->pbuf[dn + nm->name_len] = '\0';
	visit(w, d->self, w->pbuf, &nm->attrs, false);
}

static void
take_names(struct walker *w, struct rdir *d, const struct sftp_reply *r)
{
	struct sftp_name_iter	 it;
	struct sftp_name	 nm;
	struct ts_error		 e = { 0 };
	const char		*dir = slot_rel(w, d);	/* in the arena */
	char			 sd[SHOWN_MAX * 4 + 8];
	int			 rc = 0;

	sftp_name_iter_init(&it, r);
	while (!stopping(w) && (rc = sftp_name_next(&it, &nm, &e)) == 1)
		take_name(w, d, dir, &nm);
	if (!stopping(w) && rc < 0)
		set_fatal(w, TS_EREMOTE, "list remote directory \"%s\": %s",
		    shown_rel(w, sd, sizeof(sd), dir), e.msg);
}

/* The root couldn't be opened (w->root_err); its STAT says why. */
static void
root_failed(struct walker *w)
{
	char	 sp[SHOWN_MAX * 4 + 8];

	if (w->root_stat == RS_NOT_DIR)
		set_fatal(w, TS_EINVAL, "remote path \"%s\" is not a directory",
		    shown_rel(w, sp, sizeof(sp), ""));
	else if (w->root_stat == RS_MISSING && w->root_err.code == TS_ENOENT)
		w->root_missing = true;
	else
		error_set(&w->fatal, w->root_err.code, "%s", w->root_err.msg);
}

/* The STAT of the root, sent beside its OPENDIR: needed only when that
 * fails, and then without waiting one more round trip. */
static void
root_stat_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct walker	*w = payload;
	struct rdir	*d = w->root_slot;

	w->inflight--;
	if (sftp_failed(s) != NULL) {
		session_failed(w, s);
		return;
	}
	if (r->type == SSH_FXP_ATTRS &&
	    (r->attrs.flags & SSH_FILEXFER_ATTR_PERMISSIONS) != 0 &&
	    (r->attrs.perm & T_MASK) != T_DIR)
		w->root_stat = RS_NOT_DIR;
	else if (r->type == SSH_FXP_STATUS &&
	    r->status == SSH_FX_NO_SUCH_FILE)
		w->root_stat = RS_MISSING;
	else
		w->root_stat = RS_OTHER;
	if (d != NULL && d->state == RD_STAT) {
		if (!stopping(w))
			root_failed(w);
		slot_free(w, d);
	}
}

/* OPENDIR failed for d. */
static void
open_failed(struct walker *w, struct rdir *d, const struct sftp_reply *r)
{
	const char	*rel = slot_rel(w, d);
	char		 sp[SHOWN_MAX * 4 + 8];

	if (d->self == ROOT_DIR) {
		sftp_status_error(&w->root_err, r->status, r->msg, r->msg_len,
		    "list remote directory", shown_rel(w, sp, sizeof(sp), ""));
		if (w->root_stat == RS_WAIT) {
			d->state = RD_STAT;
			return;
		}
		root_failed(w);
		slot_free(w, d);
		return;
	}
	if (r->status == SSH_FX_NO_SUCH_FILE) {
		/* Gone (or no longer a directory: OpenSSH says ENOTDIR so)
		 * since its parent was read: dropped, as walk_local does. */
		problem_status(w, d->parent, rel, r, "open remote directory");
		if (w->ngone == w->gcap) {
			size_t	 cap = w->gcap == 0 ? 16 : w->gcap * 2;
			size_t	*g;

			if ((g = realloc(w->gone, cap * sizeof(*g))) == NULL) {
				oom(w);
				slot_free(w, d);
				return;
			}
			w->gone = g;
			w->gcap = cap;
		}
		w->gone[w->ngone++] = d->self;
	} else	/* kept, so the other side keeps what it holds */
		problem_status(w, d->self, rel, r, "open remote directory");
	slot_free(w, d);
}

/* Replies to a directory's requests: one step of its state machine. */
static void
dir_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct rdir	*d = payload;
	struct walker	*w = d->w;

	w->inflight--;
	d->pending--;
	if (d->state == RD_CLOSING)
		w->closing--;
	if (sftp_failed(s) != NULL) {	/* the handle died with it */
		session_failed(w, s);
		return;
	}
	switch (d->state) {
	case RD_OPENING:
		if (r->type != SSH_FXP_HANDLE) {
			if (stopping(w))
				slot_free(w, d);
			else
				open_failed(w, d, r);
			break;
		}
		d->handle = r->handle;
		d->window = READDIR_START;
		d->eof = stopping(w);
		d->state = stopping(w) ? RD_CLOSE : RD_LISTING;
		break;
	case RD_LISTING:
		/* A NAME without names would have us ask forever: it ends
		 * the listing as EOF does.  Names may still come after the
		 * end was seen (replies in any order), and are taken. */
		if (r->type == SSH_FXP_NAME && r->count > 0) {
			if (!stopping(w))
				take_names(w, d, r);
			if (d->window < READDIR_MAX)
				d->window *= 2;
		} else {
			if (!d->eof && r->type == SSH_FXP_STATUS &&
			    r->status != SSH_FX_EOF && !stopping(w))
				problem_status(w, d->self, slot_rel(w, d), r,
				    "read remote directory");
			d->eof = true;
		}
		if (stopping(w))
			d->eof = true;
		if (d->eof && d->pending == 0)
			d->state = RD_CLOSE;
		break;
	case RD_CLOSING:	/* a failed CLOSE leaves nothing to do */
		slot_free(w, d);
		break;
	default:
		assert(!"reply in a state without a request");
		break;
	}
}

/* The target of p, a symlink, from a READLINK reply. */
static void
link_reply(struct walker *w, struct pend *p, const struct sftp_reply *r)
{
	struct sftp_name_iter	 it;
	struct sftp_name	 nm;
	char			 sp[SHOWN_MAX * 4 + 8];

	if (r->type != SSH_FXP_NAME) {
		problem_status(w, p->parent, p->rel, r, "read remote symlink");
		return;
	}
	sftp_name_iter_init(&it, r);
	if (sftp_name_next(&it, &nm, NULL) != 1 || nm.name_len == 0 ||
	    nm.name_len > LINK_MAX_LEN ||
	    memchr(nm.name, '\0', nm.name_len) != NULL) {
		problemf(w, p->parent, p->rel, TS_EREMOTE, "read remote "
		    "symlink \"%s\": the server returned no valid target",
		    shown_rel(w, sp, sizeof(sp), p->rel));
		return;
	}
	if (grow(w, &w->lbuf, &w->lcap, nm.name_len + 1) != 0)
		return;
	memcpy(w->lbuf, nm.name, nm.name_len);
	w->lbuf[nm.name_len] = '\0';
	if (entries_add(w->out, p->rel, ENTRY_SYMLINK, nm.name_len,
	    mtime_ns(&p->attrs), p->attrs.perm, w->lbuf, &w->fatal) == 0)
		set_owner(w, &p->attrs);
}

static void
pend_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct pend	*p = payload;
	struct walker	*w = p->w;

	w->inflight--;
	if (sftp_failed(s) != NULL)
		session_failed(w, s);
	else if (!stopping(w) && p->op == P_READLINK)
		link_reply(w, p, r);
	else if (!stopping(w) && r->type == SSH_FXP_ATTRS)
		visit(w, p->parent, p->rel, &r->attrs, true);
	else if (!stopping(w))
		problem_status(w, p->parent, p->rel, r, "stat");
	free(p);
}

/* After a request (of directory d, or NULL) was handed to engine s
 * (rc 0) or refused: the session failed, and its callback will not run. */
static bool
sent(struct walker *w, struct sftp *s, struct rdir *d, int rc)
{
	if (rc == 0) {
		w->inflight++;
		if (d != NULL)
			d->pending++;
		return true;
	}
	session_failed(w, s);
	return false;
}

/* Sends a directory's next requests, as many as it may have and there is
 * room for.  A refused send fails the session, which frees the slot. */
static void
dir_send(struct walker *w, struct rdir *d)
{
	struct sftp	*s = d->e->s;

	switch (d->state) {
	case RD_CLOSE:
		d->state = RD_CLOSING;	/* the handle is gone once sent */
		if (sent(w, s, d, sftp_close(s, &d->handle, dir_on_reply, d)))
			w->closing++;
		break;
	case RD_LISTING:
		while (!d->eof && d->pending < d->window && w->phead == NULL &&
		    sftp_room(s, 0))
			if (!sent(w, s, d, sftp_readdir(s, &d->handle,
			    dir_on_reply, d)))
				break;
		break;
	default:
		break;
	}
}

static void
pend_send(struct walker *w, struct sftp *s, struct pend *p)
{
	const char	*path;
	int		 rc;

	if ((path = remote_path(w, p->rel)) == NULL) {
		free(p);
		return;
	}
	if (p->op == P_LSTAT)
		rc = sftp_stat(s, path, false, pend_on_reply, p);
	else
		rc = sftp_readlink(s, path, pend_on_reply, p);
	if (!sent(w, s, NULL, rc))
		free(p);
}

/* Opens the directory on top of the stack in a free slot of e.  The
 * root's STAT goes with its OPENDIR (see root_stat_on_reply). */
static void
open_next(struct walker *w, struct engine *e)
{
	struct rdir	*d = NULL;
	const char	*path;
	size_t		 i;

	for (i = 0; i < e->nslots && d == NULL; i++)
		if (e->slots[i].state == RD_FREE)
			d = &e->slots[i];
	assert(d != NULL);
	w->qn--;
	d->self = w->q[w->qn].self;
	d->parent = w->q[w->qn].parent;
	if ((path = remote_path(w, slot_rel(w, d))) == NULL)
		return;
	d->state = RD_OPENING;
	d->pending = 0;
	w->busy++;
	e->busy++;
	e->opened++;
	if (d->self == ROOT_DIR)
		w->root_slot = d;
	if (sent(w, e->s, d, sftp_opendir(e->s, path, dir_on_reply, d)) &&
	    d->self == ROOT_DIR)
		sent(w, e->s, NULL, sftp_stat(e->s, path, true,
		    root_stat_on_reply, w));
}

/* The engine with room that has least in flight, or NULL. */
static struct engine *
least_busy(struct walker *w, bool want_slot)
{
	struct engine	*e, *best = NULL;
	size_t		 k;

	for (k = 0; k < w->neng; k++) {
		e = &w->eng[k];
		if (sftp_failed(e->s) != NULL || !sftp_room(e->s, 0) ||
		    (want_slot && e->busy == e->nslots))
			continue;
		if (best == NULL || sftp_in_flight(e->s) <
		    sftp_in_flight(best->s))
			best = e;
	}
	return best;
}

/*
 * Sends what there is room for, most useful first: CLOSEs (they free
 * server handles), queued path requests, READDIRs, then OPENDIRs.  A
 * READDIR waits while path requests are queued, so that queue holds at
 * most the symlinks of the replies in flight: memory stays bounded.
 * A failed session (here or inside a send) frees the slots.
 */
static void
walker_kick(struct walker *w)
{
	struct engine	*e;
	struct pend	*p;
	size_t		 i, k;

	if (!stopping(w) && cancel_requested())
		set_fatal(w, TS_ECANCELED, "interrupted");
	for (k = 0; k < w->neng; k++)
		if (sftp_failed(w->eng[k].s) != NULL)
			session_failed(w, w->eng[k].s);
	if (stopping(w))
		drop_work(w);
	for (k = 0; k < w->neng; k++)
		for (e = &w->eng[k], i = 0; i < e->nslots &&
		    sftp_room(e->s, 0); i++)
			if (e->slots[i].state == RD_CLOSE)
				dir_send(w, &e->slots[i]);
	while (w->phead != NULL && !stopping(w) &&
	    (e = least_busy(w, false)) != NULL) {
		p = pend_pop(w);
		pend_send(w, e->s, p);
	}
	for (k = 0; k < w->neng; k++)
		for (e = &w->eng[k], i = 0; i < e->nslots && w->phead == NULL &&
		    sftp_room(e->s, 0) && !stopping(w); i++)
			if (e->slots[i].state == RD_LISTING)
				dir_send(w, &e->slots[i]);
	while (w->qn > 0 && !stopping(w) &&
	    (e = least_busy(w, true)) != NULL)
		open_next(w, e);
}

/*
 * Once only CLOSEs are in flight, the walk is done: their replies change
 * nothing (a failed CLOSE leaves nothing to do), and waiting for them
 * held every push back by a round trip.  The engines keep them, their
 * replies unseen: the slots go with the walk.
 */
static void
forget_closes(struct walker *w)
{
	struct engine	*e;
	struct rdir	*d;
	size_t		 i, k;

	for (k = 0; k < w->neng; k++)
		for (e = &w->eng[k], i = 0; i < e->nslots; i++) {
			d = &e->slots[i];
			if (d->state != RD_CLOSING)
				continue;
			sftp_forget(e->s, d);
			d->pending--;
			w->inflight--;
			w->closing--;
			slot_free(w, d);
		}
}

static bool
walker_has_work(const struct walker *w)
{
	return w->inflight > w->closing || w->busy > w->closing || w->qn > 0 ||
	    w->phead != NULL;
}

/* Adds engine s, with as many directory slots as it may open handles. */
static int
add_engine(struct walker *w, struct sftp *s)
{
	struct engine	*e = &w->eng[w->neng];
	size_t		 i;

	assert(w->neng < ENGINES_MAX);
	e->s = s;
	e->nslots = sftp_max_handles(s) > 0 ? sftp_max_handles(s) : 1;
	if ((e->slots = calloc(e->nslots, sizeof(*e->slots))) == NULL)
		return oom(w);
	for (i = 0; i < e->nslots; i++) {
		e->slots[i].w = w;
		e->slots[i].e = e;
	}
	w->neng++;
	return 0;
}

/* Takes what engines the caller lends, while there is work to share. */
static void
borrow_engines(struct walker *w)
{
	struct sftp	*s;

	while (w->o.lend != NULL && w->neng < ENGINES_MAX && !stopping(w) &&
	    (w->qn > 0 || w->busy > 0) &&
	    (s = w->o.lend(w->o.lend_arg)) != NULL)
		add_engine(w, s);
}

static uint32_t
walker_in_flight(const struct walker *w)
{
	uint32_t	 n = 0;
	size_t		 k;

	for (k = 0; k < w->neng; k++)
		n += sftp_in_flight(w->eng[k].s);
	return n;
}

static bool
walker_any_failed(const struct walker *w)
{
	size_t	 k;

	for (k = 0; k < w->neng; k++)
		if (sftp_failed(w->eng[k].s) != NULL)
			return true;
	return false;
}

static int
size_cmp(const void *a, const void *b)
{
	size_t	 x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Takes the directories that vanished before they were opened out of the
 * list (indices change: the walk is over). */
static void
drop_gone(struct walker *w)
{
	struct entries	*l = w->out;
	size_t		 i, k = 0, g = 0;

	if (w->ngone == 0)
		return;
	qsort(w->gone, w->ngone, sizeof(w->gone[0]), size_cmp);
	for (i = 0; i < l->n; i++) {
		if (g < w->ngone && w->gone[g] == i) {
			g++;
			continue;
		}
		l->v[k++] = l->v[i];
	}
	l->n = k;
}

static int
entry_cmp(const void *a, const void *b)
{
	return entries_path_cmp(((const struct entry *)a)->path,
	    ((const struct entry *)b)->path);
}

/*
 * Sorts the list.  A path listed twice (a name the server repeated, or a
 * file renamed while its directory was read) would fail entries_sort: it
 * is kept once (the directory, if one of them is), as a problem of its
 * parent.
 */
static int
sort_unique(struct walker *w, struct ts_error *err)
{
	struct entries	*l = w->out;
	struct ts_error	 e = { 0 };
	const char	*path, *slash;
	char		 sp[SHOWN_MAX * 4 + 8];
	size_t		 i, j, k, plen;

	if (entries_sort(l, &e) == 0)
		return 0;
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(l->v[0]), entry_cmp);
	for (i = 0, k = 0; i < l->n; i++) {
		if (k == 0 || strcmp(l->v[k - 1].path, l->v[i].path) != 0) {
			l->v[k++] = l->v[i];
			continue;
		}
		if (l->v[i].type == ENTRY_DIR && l->v[k - 1].type != ENTRY_DIR)
			l->v[k - 1] = l->v[i];
		/* Its parent precedes it: everything between is inside. */
		path = l->v[k - 1].path;
		slash = strrchr(path, '/');
		plen = slash != NULL ? (size_t)(slash - path) : 0;
		j = ROOT_DIR;
		if (slash != NULL)
			for (j = k - 1; j-- > 0; )
				if (strncmp(l->v[j].path, path, plen) == 0 &&
				    l->v[j].path[plen] == '\0')
					break;
		problemf(w, j, path, TS_EREMOTE,
		    "the server listed \"%s\" twice: kept once",
		    shown_rel(w, sp, sizeof(sp), path));
		if (stopping(w))
			break;
	}
	l->n = k;
	if (stopping(w))
		return error_set(err, w->fatal.code, "%s", w->fatal.msg);
	return entries_sort(l, err);
}

/* Says how the directories spread over the engines. */
static void
log_engines(const struct walker *w)
{
	char	 list[ENGINES_MAX * 24];
	size_t	 k, o = 0, total = 0;

	list[0] = '\0';
	for (k = 0; k < w->neng; k++) {
		total += w->eng[k].opened;
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%zu",
		    k > 0 ? " + " : "", w->eng[k].opened);
	}
	log_msg(TS_LOG_DEBUG, "remote walk: %zu directories listed over %zu "
	    "connections (%s)", total, w->neng, list);
}

int
walk_remote(struct entries *out, struct sftp *s, const char *root,
    const struct walk_remote_opts *o, struct walk_problems *problems,
    bool *root_missing, struct ts_error *err)
{
	static const struct walk_remote_opts defaults = WALK_REMOTE_OPTS_INIT;
	struct walker	 w;
	struct pend	*p;
	struct sftp	*sv[ENGINES_MAX];
	size_t		 k, n = strlen(root);
	int		 rc;

	assert(out->n == 0);
	if (root_missing != NULL)
		*root_missing = false;
	memset(&w, 0, sizeof(w));
	w.out = out;
	w.root = root;
	w.o = o != NULL ? *o : defaults;
	w.wp = problems;
	w.ptail = &w.phead;
	/* "a/b/" is "a/b"; "/" stays: "//x" is not what anyone wants. */
	while (n > 1 && root[n - 1] == '/')
		n--;
	w.login = n == 0;
	w.rroot = w.login ? strdup(".") : strndup(root, n);
	if (w.rroot == NULL || add_engine(&w, s) != 0) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	queue_dir(&w, ROOT_DIR, ROOT_DIR);
	for (;;) {
		borrow_engines(&w);
		walker_kick(&w);
		if (!walker_has_work(&w))
			break;
		/* Something we wait for must be in an engine, or the loop
		 * would spin: a slot waits only on its own request or on
		 * room, which only requests in flight take. */
		assert(walker_in_flight(&w) > 0 || walker_any_failed(&w));
		if (walker_in_flight(&w) == 0 && !walker_any_failed(&w)) {
			set_fatal(&w, TS_ERROR, "remote walk: internal error: "
			    "nothing in flight");
			drop_work(&w);
			if (!walker_has_work(&w))
				break;
		}
		/* A failure reaches us as replies: see dir_on_reply. */
		for (k = 0; k < w.neng; k++)
			sv[k] = w.eng[k].s;
		sftp_pump_many(sv, w.neng);
	}
	forget_closes(&w);
	assert(w.inflight == 0 && w.busy == 0);
	if (w.neng > 1)
		log_engines(&w);
	if (stopping(&w)) {
		rc = error_set(err, w.fatal.code, "%s", w.fatal.msg);
		goto out;
	}
	if (w.root_missing) {
		if (root_missing != NULL)
			*root_missing = true;
		rc = entries_sort(out, err);
		goto out;
	}
	drop_gone(&w);
	rc = sort_unique(&w, err);
out:
	while ((p = pend_pop(&w)) != NULL)
		free(p);
	free(w.rroot);
	for (k = 0; k < w.neng; k++)
		free(w.eng[k].slots);
	free(w.q);
	free(w.gone);
	free(w.pbuf);
	free(w.rbuf);
	free(w.lbuf);
	return rc;
}
