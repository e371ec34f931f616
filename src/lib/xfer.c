/*
 * Uploads and downloads as reply-driven state machines (see STYLE.md):
 * each step sends requests and returns; the replies run the next step.
 * An upload sends its closing requests right behind its last WRITE, so a
 * small file costs three round trips: OPEN, the data with the close, and
 * the rename; during the last it holds no handle and no local file.
 * A file is only ever written under a temporary name and renamed into
 * place after its size (and, when asked, its hash) checked out, so a
 * reader never sees a half-written file at its final name.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cancel.h"
#include "error.h"
#include "flush_ahead.h"
#include "log.h"
#include "tempname.h"
#include "xfer.h"

enum xfer_state {
	X_OPEN,			/* opening the remote file */
	X_OPEN_BASE,		/* delta upload: the temp file open, the old
				 * file's OPEN (sent with it) not answered */
	X_FSTAT0,		/* download: size of the source */
	X_DATA,			/* writes or reads in flight; an upload sends
				 * its tail here too (upload_send_tail) */
	X_CLOSING,		/* upload: all sent, the CLOSE last; waiting
				 * for the flight's replies */
	X_FSTAT,		/* download: the source again, compared */
	X_CLOSE,		/* download */
	X_VERIFY,		/* paused for the caller's hash check */
	X_RENAME,		/* posix-rename, or plain rename */
	X_BACKUP,		/* fallback: dst moved aside */
	X_RENAME2,		/* fallback: tmp into place */
	X_RESTORE,		/* fallback failed: backup moved back */
	X_DROP_BACKUP,
	X_CLEANUP,		/* closing and removing the temp file */
	X_DONE,
};

/* A READ reply that came ahead of earlier ones, kept until the hash can
 * take it in order. */
struct pending {
	struct pending	*next;
	uint64_t	 off;
	uint32_t	 len;
	uint8_t		 data[];
};

struct xfer {
	struct sftp	*s;
	bool		 upload;
	enum xfer_state	 state;
	struct xfer_opts opts;
	char		*src, *dst, *tmp, *backup;
	int		 fd;		/* local file, or -1 */
	int		 dirfd;		/* download: the destination directory */
	const char	*name;		/* download: dst's and tmp's last */
	const char	*tmpname;	/* components, opened under dirfd */
	struct stat	 st;		/* upload: the local file at open */
	struct sftp_handle handle;
	bool		 have_handle;
	uint64_t	 size;		/* bytes to move */
	uint64_t	 next_off;	/* next offset to request */
	uint64_t	 wire;		/* file bytes written or read: the
					 * size, but for holes skipped (-S) */
	uint64_t	 hashed;	/* bytes taken in file order (hash, tap) */
	struct flush_ahead flushed;	/* download: written back early */
	uint32_t	 in_flight;	/* requests of the data phase: WRITEs
					 * and the tail, or READs */
	unsigned	 tail;		/* upload: tail requests sent so far */
	struct pending	*ahead;		/* out-of-order READ replies */
	struct sftp_attrs rattrs;	/* download: the source at open;
					 * upload: the temp file's FSTAT */
	struct hash	 hash;
	char		 hex[HASH_HEX_MAX];
	struct delta	*delta;		/* delta upload: the commands, */
	struct delta_stream *scan;	/* made by this as they are sent */
	bool		 prescan_failed; /* the first part's scan, done while
					 * the OPENs were out: fails the
					 * upload at its first send (err) */
	size_t		 dnext;		/* the command at next_off */
	char		*base;		/* the old file, copied from */
	struct sftp_handle bhandle;
	bool		 have_bhandle;
	bool		 base_opening;	/* its OPEN not answered yet: the
					 * transfer cannot end before */
	struct ts_error	 base_err;	/* why it could not be opened */
	bool		 rename_fallback;
	bool		 dst_replaced;	/* fallback renamed dst away */
	bool		 set_owner;	/* -o/-g: uid, gid ((uint32_t)-1:
					 * left as it is) */
	uint32_t	 uid, gid;
	bool		 owner_denied;	/* the account may not: skipped */
	xfer_fn		*fn;
	void		*payload;
	struct ts_error	 err;
};

static void	xfer_on_reply(struct sftp *s, const struct sftp_reply *r,
		    void *payload);
static void	xfer_finish(struct xfer *x);
static void	xfer_cleaned(struct xfer *x);
static void	upload_base_opened(struct xfer *x);
static sftp_cb	upload_on_write, upload_on_setstat, upload_on_fstat,
		    upload_on_fsync, upload_on_close, upload_on_owner,
		    upload_on_copy;

void
xfer_opts_for(struct xfer_opts *o, enum ts_verify verify, bool keep_mode)
{
	memset(o, 0, sizeof(*o));
	o->hash = verify == TS_VERIFY_HASH;
	o->hash_kind = HASH_SHA256;
	o->keep_mode = keep_mode;
	o->mode_mask = 0777 & ~xfer_local_umask();
	o->stop_at_verify = o->hash;
	o->skip_size_check = verify == TS_VERIFY_NONE;
}

mode_t
xfer_local_umask(void)
{
	FILE		*f;
	char		 line[128];
	unsigned	 mask;
	mode_t		 old;

	if ((f = fopen("/proc/self/status", "re")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "Umask: %o", &mask) == 1) {
				fclose(f);
				return (mode_t)mask & 0777;
			}
		fclose(f);
	}
	old = umask(022);
	umask(old);
	return old;
}

static struct xfer *
xfer_new(struct sftp *s, const char *src, const char *dst,
    const struct xfer_opts *o, xfer_fn *fn, void *payload)
{
	struct xfer	*x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->s = s;
	x->fd = -1;
	x->dirfd = -1;
	x->opts = *o;
	x->fn = fn;
	x->payload = payload;
	x->src = strdup(src);
	x->dst = dst != NULL ? strdup(dst) : NULL;
	if (x->src == NULL || (dst != NULL && x->dst == NULL) ||
	    (o->hash && hash_init(&x->hash, o->hash_kind) != 0)) {
		xfer_free(x);
		return NULL;
	}
	return x;
}

/* Sends the next step's request; a refused send means the engine failed,
 * and its failure becomes ours. */
static void
xfer_sent(struct xfer *x, int rc)
{
	/* A session failing inside a send runs the pending callbacks first,
	 * which may have finished the transfer already. */
	if (rc != 0 && x->state != X_DONE) {
		const struct ts_error *f = sftp_failed(x->s);

		if (f != NULL)
			error_set(&x->err, f->code, "%s", f->msg);
		else
			error_set(&x->err, TS_ERROR, "request refused");
		/* The session is gone: a remote temporary file stays for the
		 * next run to remove, a local one goes now. */
		if (!x->upload && x->tmp != NULL)
			unlinkat(x->dirfd, x->tmpname, 0);
		x->state = X_DONE;
		xfer_finish(x);
	}
}

/* Whether a failed upload's temporary file stays: a partial upload cut
 * by the connection or an interrupt, which the next run continues. */
static bool
xfer_keeps_tmp(const struct xfer *x)
{
	return x->upload && x->opts.part_key != NULL &&
	    (x->err.code == TS_ECANCELED || x->err.code == TS_ECONN);
}

/* Goes to cleanup after a failure: close the handle, remove the temp. */
static void
xfer_cleanup(struct xfer *x)
{
	x->state = X_CLEANUP;
	if (x->have_bhandle) {		/* only read: nothing to wait for */
		x->have_bhandle = false;
		(void)sftp_close(x->s, &x->bhandle, NULL, NULL);
	}
	if (x->have_handle) {
		x->have_handle = false;
		xfer_sent(x, sftp_close(x->s, &x->handle, xfer_on_reply, x));
		return;
	}
	if (x->upload && x->tmp != NULL && !xfer_keeps_tmp(x))
		xfer_sent(x, sftp_remove(x->s, x->tmp, xfer_on_reply, x));
	else {
		if (!x->upload && x->tmp != NULL)
			unlinkat(x->dirfd, x->tmpname, 0);
		xfer_cleaned(x);
	}
}

/* Cleaned up: done, once the old file's OPEN has answered (its reply
 * then calls xfer_cleanup again, to close what it opened). */
static void
xfer_cleaned(struct xfer *x)
{
	if (x->base_opening)
		return;
	x->state = X_DONE;
	xfer_finish(x);
}

static void
xfer_finish(struct xfer *x)
{
	if (x->fd != -1) {
		close(x->fd);
		x->fd = -1;
	}
	if (x->fn != NULL)
		x->fn(x, x->payload);
}

static void	xfer_fail_data(struct xfer *x);

/* An interrupted transfer stops sending and cleans up once the requests
 * in flight have answered. */
static bool
xfer_canceled(struct xfer *x)
{
	if (x->state != X_DATA || !cancel_requested())
		return false;
	error_set(&x->err, TS_ECANCELED, "interrupted");
	xfer_fail_data(x);
	return true;
}

/*
 * Upload: what follows the last WRITE, sent right behind it instead of
 * one round trip each: FSETSTAT (times, mode), FSTAT (the size, checked
 * once all replies are in), FSYNC when offered, CLOSE.  A server handles
 * the requests on one handle as if each waited for the one before (draft
 * section 6.1), so these see every write; only the replies may come in
 * any order.  Each goes out when the engine has room; a reply or
 * xfer_kick() resumes.
 */
static void
upload_send_tail(struct xfer *x)
{
	struct sftp_attrs a;
	int		 rc;

	while (x->state == X_DATA && sftp_room(x->s, 0)) {
		switch (x->tail++) {
		case 0:		/* first: a chown clears set-id bits */
			if (!x->set_owner)
				continue;
			memset(&a, 0, sizeof(a));
			a.flags = SSH_FILEXFER_ATTR_UIDGID;
			a.uid = x->uid;
			a.gid = x->gid;
			rc = sftp_fsetstat(x->s, &x->handle, &a, upload_on_owner,
			    x);
			break;
		case 1:
			memset(&a, 0, sizeof(a));
			a.flags = SSH_FILEXFER_ATTR_ACMODTIME;
			a.atime = (uint32_t)x->st.st_atim.tv_sec;
			a.mtime = (uint32_t)x->st.st_mtim.tv_sec;
			/* A file ending in a hole: no write made it that long
			 * (the server truncates before it sets the times). */
			if (x->opts.sparse) {
				a.flags |= SSH_FILEXFER_ATTR_SIZE;
				a.size = x->size;
			}
			if (x->opts.keep_mode) {
				a.flags |= SSH_FILEXFER_ATTR_PERMISSIONS;
				a.perm = x->st.st_mode & 07777;
			}
			rc = sftp_fsetstat(x->s, &x->handle, &a,
			    upload_on_setstat, x);
			break;
		case 2:
			rc = sftp_fstat(x->s, &x->handle, upload_on_fstat, x);
			break;
		case 3:
			if (!x->opts.fsync || !sftp_has(x->s, SFTP_EXT_FSYNC))
				continue;
			rc = sftp_fsync(x->s, &x->handle, upload_on_fsync, x);
			break;
		default:
			/* Gone once the close is sent: a failure in the
			 * flight must only remove the file, not close it. */
			x->have_handle = false;
			x->state = X_CLOSING;
			rc = sftp_close(x->s, &x->handle, upload_on_close, x);
			break;
		}
		if (rc != 0) {
			xfer_sent(x, rc);
			return;
		}
		x->in_flight++;
	}
}

/*
 * Upload with sparse (-S): a hole of the local file is skipped, never
 * sent (the server's file gets one there too, and its size from the
 * tail's FSETSTAT); its zeros are hashed all the same, so the hash is of
 * the whole file.  Returns how much of want to read at next_off: 0 when
 * it moved next_off past a hole instead.
 */
static uint32_t
upload_skip_hole(struct xfer *x, uint32_t want)
{
	static const uint8_t	 zeros[65536];
	off_t			 data, hole;
	uint64_t		 gap;

	data = lseek(x->fd, (off_t)x->next_off, SEEK_DATA);
	if (data == -1 && errno != ENXIO)
		return want;		/* no SEEK_DATA here: all data */
	gap = data == -1 ? x->size - x->next_off :
	    (uint64_t)data > x->size ? x->size - x->next_off :
	    (uint64_t)data - x->next_off;
	if (gap > 0) {
		for (uint64_t left = gap; x->opts.hash && left > 0; ) {
			size_t	 k = left < sizeof(zeros) ? left : sizeof(zeros);

			hash_update(&x->hash, zeros, k);
			left -= k;
		}
		x->next_off += gap;
		return 0;
	}
	hole = lseek(x->fd, (off_t)x->next_off, SEEK_HOLE);
	if (hole != -1 && (uint64_t)hole > x->next_off &&
	    (uint64_t)hole - x->next_off < want)
		want = (uint32_t)((uint64_t)hole - x->next_off);
	return want;
}

/*
 * One WRITE of want bytes of the local file at next_off, read straight
 * into the request (no copy in between); *data points at them there.
 * Returns 0; 1 when the engine refused it (xfer_sent's); -1 after
 * recording why nothing was read (a file that shrank is worth sending
 * again): the caller fails the data phase.
 */
static int
upload_write_next(struct xfer *x, uint32_t want, const uint8_t **data,
    ssize_t *n)
{
	if (sftp_write_pread(x->s, &x->handle, x->fd, x->next_off, want, data,
	    n, upload_on_write, x) != 0)
		return 1;
	if (*n > 0)
		return 0;
	if (*n == 0) {
		error_set(&x->err, TS_ELOCAL, "\"%s\" shrank while being sent",
		    x->src);
		x->err.sys_errno = EAGAIN;
	} else
		error_set_errno(&x->err, errno, "read \"%s\"", x->src);
	return -1;
}

/* A delta's scan failed (x->err says why): a local file that changed is
 * worth sending again. */
static void
upload_scan_failed(struct xfer *x)
{
	if (x->err.sys_errno == 0 && x->err.code == TS_ELOCAL)
		x->err.sys_errno = EAGAIN;
}

/*
 * Delta upload: the commands in order, as the engine has room: a copy is
 * one copy-data request, however long (the server loops over it), a
 * literal the WRITEs of the local file's bytes at the same offset.  The
 * server takes a handle's requests in order, so the tail that follows
 * sees every byte.  When the commands made so far are sent, the next
 * part of the file is matched (delta_stream_scan), one part a call: the
 * engine sends what is queued between calls, so the server copies the
 * first parts while the rest is read.  next_off is where the commands
 * sent end: a part may extend the last command, and its rest goes then.
 */
static void
upload_send_delta(struct xfer *x)
{
	uint32_t		 max = sftp_max_write(x->s), want;
	const struct delta_cmd	*c;
	const uint8_t		*data;
	uint64_t		 end;
	ssize_t			 n;
	bool			 scanned = false;
	int			 rc;

	if (x->prescan_failed) {
		x->prescan_failed = false;
		xfer_fail_data(x);
		return;
	}
	while (x->state == X_DATA) {
		while (x->dnext < x->delta->n &&
		    x->delta->v[x->dnext].off + x->delta->v[x->dnext].len <=
		    x->next_off)
			x->dnext++;
		if (x->dnext == x->delta->n) {
			if (delta_stream_check(x->scan) != NULL) {
				snprintf(x->hex, sizeof(x->hex), "%s",
				    delta_stream_check(x->scan));
				upload_send_tail(x);
				return;
			}
			/* One part ahead of the server: it copies one while
			 * the next is read, even when only its replies call
			 * here (conn.c's put). */
			if (scanned && x->in_flight >= 2)
				return;		/* the engine sends these */
			scanned = true;
			if (delta_stream_scan(x->scan, x->fd, x->delta,
			    &x->err) < 0) {
				upload_scan_failed(x);
				xfer_fail_data(x);	/* after the acks */
				return;
			}
			if (x->dnext > 0)
				x->dnext--;	/* it may have grown */
			continue;
		}
		c = &x->delta->v[x->dnext];
		end = c->off + c->len;
		if (c->copy) {
			if (!sftp_room(x->s, 0))
				break;
			rc = sftp_copy_data(x->s, &x->bhandle, c->base_off +
			    (x->next_off - c->off), end - x->next_off,
			    &x->handle, x->next_off, upload_on_copy, x);
			x->next_off = end;
		} else {
			if (!sftp_room(x->s, max))
				break;
			want = end - x->next_off < max ?
			    (uint32_t)(end - x->next_off) : max;
			if ((rc = upload_write_next(x, want, &data, &n)) < 0) {
				xfer_fail_data(x);	/* after the acks */
				return;
			}
			if (rc == 0)
				x->next_off += (uint64_t)n;
		}
		if (rc != 0) {
			xfer_sent(x, -1);
			return;
		}
		x->in_flight++;
	}
}

/* Upload: reads the next chunks of the local file and sends them, as long
 * as the engine has room, then the tail.  Hashes what it reads, so the
 * hash is of the bytes sent. */
static void
upload_send_writes(struct xfer *x)
{
	uint32_t	 max = sftp_max_write(x->s);
	const uint8_t	*data;
	ssize_t		 n;
	uint32_t	 want;
	int		 rc;

	if (xfer_canceled(x))
		return;
	if (x->delta != NULL) {
		upload_send_delta(x);
		return;
	}
	while (x->state == X_DATA && x->next_off < x->size &&
	    sftp_room(x->s, max)) {
		want = x->size - x->next_off < max ?
		    (uint32_t)(x->size - x->next_off) : max;
		if (x->opts.sparse && (want = upload_skip_hole(x, want)) == 0)
			continue;
		if ((rc = upload_write_next(x, want, &data, &n)) > 0) {
			xfer_sent(x, -1);
			return;
		}
		if (rc < 0) {
			xfer_fail_data(x);	/* after the acks */
			return;
		}
		if (x->opts.hash)
			hash_update(&x->hash, data, (size_t)n);
		if (x->opts.tap != NULL)
			x->opts.tap(data, (size_t)n, x->opts.tap_payload);
		ratelimit_take(x->opts.rate, (uint64_t)n);
		x->in_flight++;
		x->next_off += (uint64_t)n;
		x->wire += (uint64_t)n;
	}
	if (x->state == X_DATA && x->next_off == x->size)
		upload_send_tail(x);
}

/* Download: hashes bytes in file order, keeping replies that came early. */
/* The downloaded bytes in file order: the hash, the tap. */
static void
download_in_order(struct xfer *x, const uint8_t *data, uint32_t len)
{
	if (x->opts.hash)
		hash_update(&x->hash, data, len);
	if (x->opts.tap != NULL)
		x->opts.tap(data, len, x->opts.tap_payload);
	x->hashed += len;
}

static int
download_take(struct xfer *x, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct pending	*p, **pp;

	/* A new file reads zeros where nothing was written: a hole. */
	if (x->fd != -1 && !(x->opts.sparse && len > 0 && data[0] == 0 &&
	    memcmp(data, data + 1, len - 1) == 0)) {
		size_t	 done = 0;
		ssize_t	 n;

		while (done < len) {
			n = pwrite(x->fd, data + done, len - done,
			    (off_t)(off + done));
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1)
				return error_set_errno(&x->err, errno, "write \"%s\"",
				    x->tmp);
			done += (size_t)n;
		}
		flush_ahead(&x->flushed, x->fd, len);
	}
	if (!x->opts.hash && x->opts.tap == NULL)
		return 0;
	if (off != x->hashed) {
		if ((p = malloc(sizeof(*p) + len)) == NULL)
			return error_set(&x->err, TS_ENOMEM, "out of memory");
		p->off = off;
		p->len = len;
		memcpy(p->data, data, len);
		for (pp = &x->ahead; *pp != NULL && (*pp)->off < off;
		    pp = &(*pp)->next)
			;
		p->next = *pp;
		*pp = p;
		return 0;
	}
	download_in_order(x, data, len);
	while ((p = x->ahead) != NULL && p->off == x->hashed) {
		download_in_order(x, p->data, p->len);
		x->ahead = p->next;
		free(p);
	}
	return 0;
}

/* One READ in flight: the reply does not say which bytes it carries. */
struct read_req {
	struct xfer	*x;
	uint64_t	 off;
	uint32_t	 len;
};

static void	read_on_reply(struct sftp *s, const struct sftp_reply *r,
		    void *payload);

static int
download_send_read(struct xfer *x, uint64_t off, uint32_t len)
{
	struct read_req	*rq;

	if ((rq = malloc(sizeof(*rq))) == NULL)
		return error_set(&x->err, TS_ENOMEM, "out of memory");
	rq->x = x;
	rq->off = off;
	rq->len = len;
	if (sftp_read(x->s, &x->handle, off, len, read_on_reply, rq) != 0) {
		free(rq);
		xfer_sent(x, -1);
		return -1;
	}
	x->in_flight++;
	return 0;
}

static void
download_send_reads(struct xfer *x)
{
	uint32_t	 max = sftp_max_read(x->s), want;

	if (xfer_canceled(x))
		return;
	while (x->state == X_DATA && x->next_off < x->size &&
	    sftp_room(x->s, max)) {
		want = x->size - x->next_off < max ?
		    (uint32_t)(x->size - x->next_off) : max;
		if (download_send_read(x, x->next_off, want) != 0)
			return;
		x->next_off += want;
	}
	if (x->state == X_DATA && x->next_off >= x->size &&
	    x->in_flight == 0) {
		/* Compare with the source as we opened it: a file that grew or
		 * changed while we read it is not what we have. */
		x->state = X_FSTAT;
		xfer_sent(x, sftp_fstat(x->s, &x->handle, xfer_on_reply, x));
	}
}

void
xfer_kick(struct xfer *x)
{
	if (x->state != X_DATA)
		return;
	if (x->upload)
		upload_send_writes(x);
	else
		download_send_reads(x);
}

/* A failure while data requests are in flight: clean up once the last
 * of them has answered, so no reply arrives for a freed transfer. */
static void
xfer_fail_data(struct xfer *x)
{
	if (x->in_flight == 0)
		xfer_cleanup(x);
	else
		x->state = X_CLEANUP;
}

static void
read_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct read_req	*rq = payload;
	struct xfer	*x = rq->x;
	uint64_t	 off = rq->off;
	uint32_t	 len = rq->len;

	free(rq);
	x->in_flight--;
	if (x->state == X_CLEANUP) {
		if (x->in_flight == 0)
			xfer_cleanup(x);
		return;
	}
	if (r->type == SSH_FXP_STATUS) {
		/* EOF before the size we saw at open: the file shrank. */
		if (r->status == SSH_FX_EOF)
			error_set(&x->err, TS_EREMOTE, "\"%s\" shrank on the "
			    "server while being read", x->src);
		else
			sftp_status_error(&x->err, r->status, r->msg,
			    r->msg_len, "read", x->src);
		xfer_fail_data(x);
		return;
	}
	if (r->data_len == 0) {
		error_set(&x->err, TS_EREMOTE, "\"%s\": the server returned an "
		    "empty read", x->src);
		xfer_fail_data(x);
		return;
	}
	x->wire += r->data_len;
	if (download_take(x, off, r->data, r->data_len) != 0) {
		xfer_fail_data(x);
		return;
	}
	/* Received already: waiting here delays the next READs. */
	ratelimit_take(x->opts.rate, r->data_len);
	/* A short read is legal: ask again for the rest of the range. */
	if (r->data_len < len &&
	    download_send_read(x, off + r->data_len, len - r->data_len) != 0)
		return;
	download_send_reads(x);
	(void)s;
}

/* Upload: the next step after the temp file is closed.  A delta's old
 * file is closed only behind the rename, its reply not waited for: while
 * open it keeps its blocks, so the rename replacing it returns at once,
 * and the server frees them (some 80 ms per 256 MiB here) at the close,
 * while this run goes on. */
static void
xfer_rename(struct xfer *x)
{
	/* Written at its final name already: nothing to move. */
	if (x->opts.in_place) {
		free(x->tmp);
		x->tmp = NULL;
		x->state = X_DONE;
		xfer_finish(x);
		return;
	}
	x->state = X_RENAME;
	if (sftp_has(x->s, SFTP_EXT_POSIX_RENAME))
		xfer_sent(x, sftp_posix_rename(x->s, x->tmp, x->dst,
		    xfer_on_reply, x));
	else
		xfer_sent(x, sftp_rename(x->s, x->tmp, x->dst, xfer_on_reply,
		    x));
	if (x->state == X_RENAME && x->have_bhandle) {
		x->have_bhandle = false;
		(void)sftp_close(x->s, &x->bhandle, NULL, NULL);
	}
}

/* Download: the temp file holds every byte; make it durable, give it the
 * source's mtime and mode, and move it into place. */
static void
download_commit(struct xfer *x)
{
	struct timespec	 times[2];
	if (x->fd == -1) {		/* read-back: nothing to keep */
		x->state = X_DONE;
		xfer_finish(x);
		return;
	}
	/* -o/-g, before the mode: a chown clears set-id bits.  Only root
	 * may give a file away: elsewhere skipped, and said by the caller. */
	if (x->set_owner && fchown(x->fd, (uid_t)x->uid, (gid_t)x->gid) != 0)
		x->owner_denied = true;
	/* Holes at the end are no bytes yet: the size makes them. */
	if (x->opts.sparse && ftruncate(x->fd, (off_t)x->size) != 0) {
		error_set_errno(&x->err, errno, "truncate \"%s\"", x->tmp);
		xfer_cleanup(x);
		return;
	}
	if (x->opts.keep_mode &&
	    (x->rattrs.flags & SSH_FILEXFER_ATTR_PERMISSIONS) != 0) {
		if (fchmod(x->fd, x->rattrs.perm & x->opts.mode_mask) != 0) {
			error_set_errno(&x->err, errno, "chmod \"%s\"", x->tmp);
			xfer_cleanup(x);
			return;
		}
	}
	if (fsync(x->fd) != 0) {
		error_set_errno(&x->err, errno, "fsync \"%s\"", x->tmp);
		xfer_cleanup(x);
		return;
	}
	if ((x->rattrs.flags & SSH_FILEXFER_ATTR_ACMODTIME) != 0) {
		times[0].tv_sec = x->rattrs.atime;
		times[1].tv_sec = x->rattrs.mtime;
		times[0].tv_nsec = times[1].tv_nsec = 0;
		if (futimens(x->fd, times) != 0) {
			error_set_errno(&x->err, errno, "set times of \"%s\"",
			    x->tmp);
			xfer_cleanup(x);
			return;
		}
	}
	if (close(x->fd) != 0) {
		x->fd = -1;
		error_set_errno(&x->err, errno, "close \"%s\"", x->tmp);
		xfer_cleanup(x);
		return;
	}
	x->fd = -1;
	if (renameat(x->dirfd, x->tmpname, x->dirfd, x->name) != 0) {
		error_set_errno(&x->err, errno, "rename \"%s\" to \"%s\"",
		    x->tmp, x->dst);
		xfer_cleanup(x);
		return;
	}
	free(x->tmp);
	x->tmp = NULL;
	x->state = X_DONE;
	xfer_finish(x);
}

/* The temporary file is complete and closed: pause for the caller's hash
 * check, or move it into place. */
static void
xfer_closed(struct xfer *x)
{
	if (x->opts.stop_at_verify) {
		x->state = X_VERIFY;
		if (x->fn != NULL)
			x->fn(x, x->payload);
	} else if (x->upload)
		xfer_rename(x);
	else
		download_commit(x);
}

/* Upload: no reply of the flight is outstanding.  After a failure only
 * the cleanup is left; else every request succeeded, the CLOSE included,
 * and the file is checked before it may reach its final name. */
static void
upload_landed(struct xfer *x)
{
	struct stat	 now;

	if (x->state == X_CLEANUP) {
		xfer_cleanup(x);	/* CLOSE unless sent, then REMOVE */
		return;
	}
	assert(x->state == X_CLOSING);
	/* A file that changed while we read it is not what we sent. */
	if (fstat(x->fd, &now) == 0 && (now.st_size != x->st.st_size ||
	    now.st_mtim.tv_sec != x->st.st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != x->st.st_mtim.tv_nsec)) {
		error_set(&x->err, TS_ELOCAL, "\"%s\" changed while being "
		    "sent", x->src);
		x->err.sys_errno = EAGAIN;	/* worth sending again */
		xfer_cleanup(x);
		return;
	}
	/* A file at its final name is trusted: check it first. */
	if (!x->opts.skip_size_check &&
	    (x->rattrs.flags & SSH_FILEXFER_ATTR_SIZE) != 0 &&
	    x->rattrs.size != x->size) {
		error_set(&x->err, TS_EVERIFY, "\"%s\": %llu bytes on the "
		    "server, %llu sent", x->dst,
		    (unsigned long long)x->rattrs.size,
		    (unsigned long long)x->size);
		xfer_cleanup(x);
		return;
	}
	if (x->opts.hash)
		hash_final(&x->hash, x->hex);
	/* Read and checked: the rename needs neither the file nor the
	 * handle, so both go now and the caller may start another file. */
	close(x->fd);
	x->fd = -1;
	xfer_closed(x);
}

/* Upload: one reply of the flight, a WRITE's or the tail's.  The first
 * failure is the one reported and stops the sending; the flight ends
 * when no reply is outstanding, whatever order they came in. */
static void
upload_flight_reply(struct xfer *x, const struct sftp_reply *r,
    const char *what)
{
	x->in_flight--;
	if (r->type == SSH_FXP_STATUS && r->status != SSH_FX_OK) {
		sftp_status_error(&x->err, r->status, r->msg, r->msg_len,
		    what, x->tmp);
		x->state = X_CLEANUP;
	}
	if (x->state == X_DATA)
		upload_send_writes(x);		/* there is room again */
	else if (x->in_flight == 0)
		upload_landed(x);
}

static void
upload_on_write(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	(void)s;
	upload_flight_reply(payload, r, "write");
}

static void
upload_on_copy(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	(void)s;
	upload_flight_reply(payload, r, "copy-data into");
}

static void
upload_on_setstat(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	(void)s;
	upload_flight_reply(payload, r, "set times of");
}

/* The owner's FSETSTAT: an account that may not chown (not root) is no
 * failure of the upload; the caller hears of it (xfer_owner_denied). */
static void
upload_on_owner(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct xfer		*x = payload;
	struct sftp_reply	 ok = *r;

	(void)s;
	if (r->type == SSH_FXP_STATUS && r->status != SSH_FX_OK) {
		x->owner_denied = true;
		ok.status = SSH_FX_OK;
	}
	upload_flight_reply(x, &ok, "set the owner of");
}

static void
upload_on_fstat(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct xfer	*x = payload;

	(void)s;
	if (r->type == SSH_FXP_ATTRS)
		x->rattrs = r->attrs;	/* checked when the flight is in */
	upload_flight_reply(x, r, "stat");
}

static void
upload_on_fsync(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	(void)s;
	upload_flight_reply(payload, r, "fsync");
}

static void
upload_on_close(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	(void)s;
	upload_flight_reply(payload, r, "close");
}

static void
xfer_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct xfer	*x = payload;
	bool		 ok = r->type != SSH_FXP_STATUS || r->status == SSH_FX_OK;

	(void)s;
	if (!ok && x->state != X_CLEANUP && x->state != X_RENAME &&
	    x->state != X_RENAME2 && x->state != X_BACKUP &&
	    x->state != X_DROP_BACKUP && x->state != X_RESTORE) {
		static const char *const what[] = {
			[X_OPEN] = "open", [X_OPEN_BASE] = "open",
			[X_FSTAT0] = "stat",
			[X_FSTAT] = "stat", [X_CLOSE] = "close",
		};
		const char *w = x->state < sizeof(what) / sizeof(what[0]) &&
		    what[x->state] != NULL ? what[x->state] : "transfer";

		/* The usual cause of a failed create: no such directory. */
		if (x->state == X_OPEN && x->upload &&
		    r->status == SSH_FX_NO_SUCH_FILE) {
			const char *slash = strrchr(x->dst, '/');

			error_set(&x->err, TS_ENOENT, "remote directory \"%.*s\" "
			    "does not exist (create it with treesync mkdir -p)",
			    slash != NULL ? (int)(slash - x->dst) : 1,
			    slash != NULL ? x->dst : ".");
		}

		sftp_status_error(&x->err, r->status, r->msg, r->msg_len, w,
		    x->state == X_OPEN_BASE ? x->base :
		    x->upload && x->state != X_OPEN ? x->tmp :
		    x->upload ? x->dst : x->src);
		if (x->state == X_CLOSE)
			x->have_handle = false;
		if (x->state == X_OPEN && x->upload) {
			free(x->tmp);	/* nothing was created */
			x->tmp = NULL;
		}
		xfer_cleanup(x);
		return;
	}
	switch (x->state) {
	case X_OPEN:		/* r->handle: created exclusively, or opened */
		x->handle = r->handle;
		x->have_handle = true;
		if (x->upload && x->delta != NULL) {
			x->state = X_OPEN_BASE;
			if (!x->base_opening)
				upload_base_opened(x);
		} else if (x->upload) {
			x->state = X_DATA;
			upload_send_writes(x);
		} else {
			x->state = X_FSTAT0;
			xfer_sent(x, sftp_fstat(x->s, &x->handle, xfer_on_reply,
			    x));
		}
		break;
	case X_FSTAT0:		/* download: how much there is to read */
		x->rattrs = r->attrs;
		if ((r->attrs.flags & SSH_FILEXFER_ATTR_SIZE) == 0) {
			error_set(&x->err, TS_EREMOTE, "the server did not say "
			    "the size of \"%s\"", x->src);
			xfer_cleanup(x);
			break;
		}
		x->size = r->attrs.size;
		x->state = X_DATA;
		download_send_reads(x);
		break;
	case X_FSTAT:		/* download: the source as we opened it? */
		if (r->attrs.size != x->rattrs.size ||
		    r->attrs.mtime != x->rattrs.mtime) {
			error_set(&x->err, TS_EREMOTE, "\"%s\" changed on the "
			    "server while being read", x->src);
			xfer_cleanup(x);
			break;
		}
		x->state = X_CLOSE;
		x->have_handle = false;	/* gone once the close is sent */
		xfer_sent(x, sftp_close(x->s, &x->handle, xfer_on_reply, x));
		break;
	case X_CLOSE:		/* download */
		if (x->opts.hash && x->hashed != x->size) {
			error_set(&x->err, TS_ERROR, "\"%s\": internal error: "
			    "hashed %llu of %llu bytes", x->src,
			    (unsigned long long)x->hashed,
			    (unsigned long long)x->size);
			xfer_cleanup(x);
			break;
		}
		if (x->opts.hash)
			hash_final(&x->hash, x->hex);
		xfer_closed(x);
		break;
	case X_RENAME:
		if (ok) {
			free(x->tmp);
			x->tmp = NULL;
			x->state = X_DONE;
			xfer_finish(x);
			break;
		}
		if (sftp_has(x->s, SFTP_EXT_POSIX_RENAME)) {
			sftp_status_error(&x->err, r->status, r->msg,
			    r->msg_len, "rename to", x->dst);
			xfer_cleanup(x);
			break;
		}
		/* Plain v3 RENAME will not replace an existing file: move the
		 * old one aside first, so it is never lost (section 6.5). */
		x->rename_fallback = true;
		if (x->backup == NULL && tempname_make(&x->backup, x->dst,
		    TEMPNAME_OLD) != 0) {
			error_set(&x->err, TS_ENOMEM, "out of memory");
			xfer_cleanup(x);
			break;
		}
		log_msg(TS_LOG_INFO, "the server has no posix-rename: replacing "
		    "\"%s\" through a backup name", x->dst);
		x->state = X_BACKUP;
		xfer_sent(x, sftp_rename(x->s, x->dst, x->backup, xfer_on_reply,
		    x));
		break;
	case X_BACKUP:
		if (!ok) {
			sftp_status_error(&x->err, r->status, r->msg,
			    r->msg_len, "rename to", x->dst);
			xfer_cleanup(x);
			break;
		}
		x->dst_replaced = true;
		x->state = X_RENAME2;
		xfer_sent(x, sftp_rename(x->s, x->tmp, x->dst, xfer_on_reply, x));
		break;
	case X_RENAME2:
		if (!ok) {	/* put the old file back where it was */
			sftp_status_error(&x->err, r->status, r->msg,
			    r->msg_len, "rename to", x->dst);
			x->state = X_RESTORE;
			xfer_sent(x, sftp_rename(x->s, x->backup, x->dst,
			    xfer_on_reply, x));
			break;
		}
		free(x->tmp);
		x->tmp = NULL;
		x->state = X_DROP_BACKUP;
		xfer_sent(x, sftp_remove(x->s, x->backup, xfer_on_reply, x));
		break;
	case X_DROP_BACKUP:
		if (!ok)
			log_msg(TS_LOG_WARN, "could not remove \"%s\", the old "
			    "version of \"%s\"", x->backup, x->dst);
		x->state = X_DONE;
		xfer_finish(x);
		break;
	case X_RESTORE:
		if (!ok)
			log_msg(TS_LOG_ERROR, "the old \"%s\" is kept as \"%s\"",
			    x->dst, x->backup);
		xfer_cleanup(x);
		break;
	case X_CLEANUP:		/* the close answered: now remove the temp */
		if (x->upload && x->tmp != NULL && !xfer_keeps_tmp(x)) {
			char	*tmp = x->tmp;

			x->tmp = NULL;
			xfer_sent(x, sftp_remove(x->s, tmp, xfer_on_reply, x));
			free(tmp);
			break;
		}
		if (!x->upload && x->tmp != NULL)
			unlinkat(x->dirfd, x->tmpname, 0);
		xfer_cleaned(x);
		break;
	case X_OPEN_BASE:	/* upload_on_base_open's */
	case X_DATA:
	case X_CLOSING:
	case X_VERIFY:
	case X_DONE:
		break;
	}
}

/* Delta upload: both files are open, or the old one could not be. */
static void
upload_base_opened(struct xfer *x)
{
	if (!x->have_bhandle) {
		x->err = x->base_err;
		xfer_cleanup(x);
		return;
	}
	x->state = X_DATA;
	upload_send_writes(x);
}

/* The old file's OPEN, sent right behind the temp file's: one round trip
 * for both.  The server may answer them in either order. */
static void
upload_on_base_open(struct sftp *s, const struct sftp_reply *r,
    void *payload)
{
	struct xfer	*x = payload;

	(void)s;
	x->base_opening = false;
	if (r->type == SSH_FXP_HANDLE) {
		x->bhandle = r->handle;
		x->have_bhandle = true;
	} else
		sftp_status_error(&x->base_err, r->status, r->msg, r->msg_len,
		    "open", x->base);
	if (x->state == X_OPEN_BASE)	/* the temp file's came first */
		upload_base_opened(x);
	else if (x->state == X_CLEANUP)	/* waited for this one */
		xfer_cleanup(x);
}

int
xfer_upload(struct xfer **out, struct sftp *s, int fd, const struct stat *st,
    const char *src, const char *dst, const struct xfer_opts *o, xfer_fn *fn,
    void *payload, struct ts_error *err)
{
	struct xfer		*x;
	struct sftp_attrs	 a;
	int			 rc;

	*out = NULL;
	if ((x = xfer_new(s, src, dst, o, fn, payload)) == NULL ||
	    (o->in_place ? (x->tmp = strdup(dst)) == NULL ? -1 : 0 :
	    o->part_key != NULL ? tempname_make_part(&x->tmp, dst,
	    o->part_key) : tempname_make(&x->tmp, dst, TEMPNAME_TMP)) != 0) {
		close(fd);
		xfer_free(x);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	x->upload = true;
	x->fd = fd;
	x->st = *st;
	assert(S_ISREG(st->st_mode));
	x->size = (uint64_t)x->st.st_size;
	/* Private until complete: the final mode is set before the rename. */
	memset(&a, 0, sizeof(a));
	a.flags = SSH_FILEXFER_ATTR_PERMISSIONS;
	a.perm = 0600;
	x->state = X_OPEN;
	if (sftp_open(s, x->tmp, SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_EXCL |
	    SSH_FXF_TRUNC, &a, xfer_on_reply, x) != 0) {
		rc = error_set(err, sftp_failed(s)->code, "%s",
		    sftp_failed(s)->msg);
		xfer_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

int
xfer_upload_delta(struct xfer **out, struct sftp *s, int fd,
    const struct stat *st, const char *src, const char *dst,
    const char *base, struct delta *d, struct delta_stream *ds,
    const struct xfer_opts *o, xfer_fn *fn, void *payload,
    struct ts_error *err)
{
	struct xfer_opts oo = *o;
	char		*b;
	int		 rc;

	*out = NULL;
	assert(sftp_has(s, SFTP_EXT_COPY_DATA));
	if ((b = strdup(base)) == NULL) {
		close(fd);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	/* The bytes sent are not the file: the whole of it is checked by
	 * its hash on the server, always, before the rename. */
	oo.hash = false;
	oo.stop_at_verify = true;
	if ((rc = xfer_upload(out, s, fd, st, src, dst, &oo, fn, payload,
	    err)) != 0) {
		free(b);
		return rc;
	}
	(*out)->base = b;
	(*out)->delta = d;
	(*out)->scan = ds;
	if (sftp_open(s, b, SSH_FXF_READ, NULL, upload_on_base_open, *out) !=
	    0) {
		/* The engine failed: the temp file's OPEN fails with it. */
		error_set(&(*out)->base_err, TS_ECONN, "%s",
		    sftp_failed(s) != NULL ? sftp_failed(s)->msg :
		    "request refused");
		return 0;
	}
	(*out)->base_opening = true;
	/* The first part is matched while the OPENs are out: its commands
	 * go as soon as both handles are in. */
	if (delta_stream_scan(ds, (*out)->fd, d, &(*out)->err) < 0) {
		upload_scan_failed(*out);
		(*out)->prescan_failed = true;
	}
	return 0;
}

static const char *
last_component(const char *path)
{
	const char	*slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

int
xfer_download_at(struct xfer **out, struct sftp *s, const char *src,
    int dirfd, const char *dst, const struct xfer_opts *o, xfer_fn *fn,
    void *payload, struct ts_error *err)
{
	struct xfer	*x;
	int		 rc;

	*out = NULL;
	if ((x = xfer_new(s, src, dst, o, fn, payload)) == NULL ||
	    (dst != NULL && tempname_make(&x->tmp, dst, TEMPNAME_TMP) != 0) ||
	    (dst != NULL && (x->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) ==
	    -1)) {
		xfer_free(x);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	if (dst != NULL) {
		x->name = last_component(x->dst);
		x->tmpname = last_component(x->tmp);
		/* O_NOFOLLOW and O_EXCL: never write through a symlink, even
		 * one planted at the temporary name. */
		if ((x->fd = openat(x->dirfd, x->tmpname, O_WRONLY | O_CREAT |
		    O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) == -1) {
			rc = error_set_errno(err, errno, "create \"%s\"", x->tmp);
			free(x->tmp);
			x->tmp = NULL;
			xfer_free(x);
			return rc;
		}
	}
	x->state = X_OPEN;
	if (sftp_open(s, src, SSH_FXF_READ, NULL, xfer_on_reply, x) != 0) {
		rc = error_set(err, sftp_failed(s)->code, "%s",
		    sftp_failed(s)->msg);
		if (x->tmp != NULL)
			unlinkat(x->dirfd, x->tmpname, 0);
		xfer_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

int
xfer_download(struct xfer **out, struct sftp *s, const char *src,
    const char *dst, const struct xfer_opts *o, xfer_fn *fn, void *payload,
    struct ts_error *err)
{
	const char	*base;
	char		*dir;
	int		 dirfd, rc;

	*out = NULL;
	if (dst == NULL)
		return xfer_download_at(out, s, src, -1, NULL, o, fn, payload,
		    err);
	base = last_component(dst);
	if ((dir = base == dst ? strdup(".") : strndup(dst,
	    (size_t)(base - dst))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		rc = error_set_errno(err, errno, "local directory \"%s\"", dir);
		free(dir);
		return rc;
	}
	free(dir);
	rc = xfer_download_at(out, s, src, dirfd, dst, o, fn, payload, err);
	close(dirfd);
	return rc;
}

bool
xfer_holds_files(const struct xfer *x)
{
	return x->fd != -1 || x->have_handle || x->have_bhandle;
}

bool
xfer_abandon(struct xfer *x, int code, const char *msg)
{
	if (!x->upload || x->state != X_DATA)
		return false;
	error_set(&x->err, code, "%s", msg);
	xfer_fail_data(x);
	return true;
}

enum xfer_phase
xfer_phase(const struct xfer *x)
{
	if (x->state == X_DONE)
		return XFER_DONE;
	return x->state == X_VERIFY ? XFER_VERIFY : XFER_RUNNING;
}

void
xfer_commit(struct xfer *x, bool ok, const struct ts_error *why)
{
	assert(x->state == X_VERIFY);
	if (!ok) {
		error_set(&x->err, why != NULL ? why->code : TS_EVERIFY, "%s",
		    why != NULL ? why->msg : "verification failed");
		xfer_cleanup(x);
		return;
	}
	if (x->upload)
		xfer_rename(x);
	else
		download_commit(x);
}

const char *
xfer_tmp_path(const struct xfer *x)
{
	return x->tmp;
}

const char *
xfer_remote_path(const struct xfer *x)
{
	return x->upload ? x->tmp : x->src;
}

int
xfer_errno(const struct xfer *x)
{
	return x->err.sys_errno;
}

const char *
xfer_hash(const struct xfer *x)
{
	return x->hex;
}

uint64_t
xfer_bytes(const struct xfer *x)
{
	return x->size;
}

uint64_t
xfer_wire_bytes(const struct xfer *x)
{
	return x->wire;
}

int
xfer_result(const struct xfer *x, struct ts_error *err)
{
	if (x->err.code != TS_OK && err != NULL && err->code == TS_OK)
		*err = x->err;
	return x->err.code;
}

void
xfer_set_owner(struct xfer *x, uint32_t uid, uint32_t gid)
{
	x->set_owner = true;
	x->uid = uid;
	x->gid = gid;
}

bool
xfer_owner_denied(const struct xfer *x)
{
	return x->owner_denied;
}

bool
xfer_used_rename_fallback(const struct xfer *x)
{
	return x->rename_fallback;
}

void
xfer_free(struct xfer *x)
{
	struct pending	*p;

	if (x == NULL)
		return;
	assert(x->state == X_DONE || x->state == X_OPEN ||
	    x->in_flight == 0);
	if (x->fd != -1)
		close(x->fd);
	if (x->dirfd != -1)
		close(x->dirfd);
	while ((p = x->ahead) != NULL) {
		x->ahead = p->next;
		free(p);
	}
	hash_dispose(&x->hash);
	free(x->src);
	free(x->dst);
	free(x->tmp);
	free(x->backup);
	free(x->base);
	free(x);
}
