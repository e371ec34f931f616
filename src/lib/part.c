/*
 * A byte range moved on one connection: OPEN, a window of WRITEs (or
 * READs) kept full while the engine has room, CLOSE.  Nothing else: the
 * temporary file, the checks and the rename belong to the job.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cancel.h"
#include "error.h"
#include "flush_ahead.h"
#include "part.h"

enum part_state { P_OPEN, P_DATA, P_CLOSE, P_DONE };

struct part {
	struct sftp	*s;
	bool		 upload;
	enum part_state	 state;
	int		 fd;		/* local file, borrowed */
	char		*remote;
	uint64_t	 next, end;	/* the next byte to request, the last+1 */
	uint32_t	 in_flight;	/* data requests */
	bool		 failing;	/* an error came: drain, close, done */
	struct sftp_handle handle;
	uint8_t		*chunk;		/* upload: the bytes of one WRITE */
	struct ratelimit *rate;		/* --bwlimit, or NULL */
	struct flush_ahead flushed;	/* download: written back early */
	part_fn		*fn;
	void		*payload;
	struct ts_error	 err;
};

/* One READ in flight: its reply does not say which bytes it carries. */
struct part_read {
	struct part	*p;
	uint64_t	 off;
	uint32_t	 len;
};

static void	part_send(struct part *p);

static void
part_finish(struct part *p)
{
	p->state = P_DONE;
	p->fn(p, p->payload);
}

/* Keeps the first error; the part stops asking for more. */
static void
part_error_status(struct part *p, const struct sftp_reply *r,
    const char *what)
{
	if (p->err.code == TS_OK)
		sftp_status_error(&p->err, r->status, r->msg, r->msg_len, what,
		    p->remote);
	p->failing = true;
}

/* A request could not be sent: the session is gone. */
static void
part_lost(struct part *p)
{
	const struct ts_error	*why = sftp_failed(p->s);

	if (p->err.code == TS_OK) {
		if (why != NULL)
			p->err = *why;
		else
			error_set(&p->err, TS_ECONN, "connection lost");
	}
	p->failing = true;
}

static void
part_on_close(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct part	*p = payload;

	(void)s;
	if (r->type == SSH_FXP_STATUS && r->status != SSH_FX_OK)
		part_error_status(p, r, "close");
	part_finish(p);
}

/* No data request is in flight and none will be sent: close the handle. */
static void
part_close(struct part *p)
{
	p->state = P_CLOSE;
	if (sftp_close(p->s, &p->handle, part_on_close, p) != 0) {
		part_lost(p);
		part_finish(p);
	}
}

static void
part_on_write(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct part	*p = payload;

	(void)s;
	p->in_flight--;
	if (r->type != SSH_FXP_STATUS || r->status != SSH_FX_OK) {
		if (r->type == SSH_FXP_STATUS)
			part_error_status(p, r, "write");
		else {
			if (p->err.code == TS_OK)
				error_set(&p->err, TS_EREMOTE, "write \"%s\": "
				    "unexpected reply", p->remote);
			p->failing = true;
		}
	}
	part_send(p);
}

static int
part_send_read(struct part *p, uint64_t off, uint32_t len);

static void
part_on_read(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct part_read	*rq = payload;
	struct part		*p = rq->p;
	uint64_t		 off = rq->off;
	uint32_t		 len = rq->len, done = 0;
	ssize_t			 n;

	(void)s;
	free(rq);
	p->in_flight--;
	if (p->failing)
		;
	else if (r->type == SSH_FXP_STATUS) {
		if (r->status == SSH_FX_EOF) {
			error_set(&p->err, TS_EREMOTE, "\"%s\" shrank on the "
			    "server while being read", p->remote);
			p->failing = true;
		} else
			part_error_status(p, r, "read");
	} else if (r->type != SSH_FXP_DATA || r->data_len == 0 ||
	    r->data_len > len) {
		error_set(&p->err, TS_EREMOTE, "read \"%s\": the server returned "
		    "%s", p->remote, r->type != SSH_FXP_DATA ?
		    "an unexpected reply" : "a wrong amount of data");
		p->failing = true;
	} else {
		ratelimit_take(p->rate, r->data_len);
		while (done < r->data_len) {
			n = pwrite(p->fd, r->data + done, r->data_len - done,
			    (off_t)(off + done));
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1) {
				error_set_errno(&p->err, errno, "write the "
				    "local copy of \"%s\"", p->remote);
				p->failing = true;
				break;
			}
			done += (uint32_t)n;
		}
		flush_ahead(&p->flushed, p->fd, done);
		/* A short read is legal: ask again for the rest. */
		if (!p->failing && r->data_len < len)
			(void)part_send_read(p, off + r->data_len,
			    len - r->data_len);
	}
	part_send(p);
}

static int
part_send_read(struct part *p, uint64_t off, uint32_t len)
{
	struct part_read	*rq;

	if ((rq = malloc(sizeof(*rq))) == NULL) {
		error_set(&p->err, TS_ENOMEM, "out of memory");
		p->failing = true;
		return -1;
	}
	rq->p = p;
	rq->off = off;
	rq->len = len;
	if (sftp_read(p->s, &p->handle, off, len, part_on_read, rq) != 0) {
		free(rq);
		part_lost(p);
		return -1;
	}
	p->in_flight++;
	return 0;
}

static int
part_send_write(struct part *p, uint32_t want)
{
	ssize_t	 n;

	do {
		n = pread(p->fd, p->chunk, want, (off_t)p->next);
	} while (n == -1 && errno == EINTR);
	if (n <= 0) {
		if (n == 0) {
			error_set(&p->err, TS_ELOCAL, "\"%s\": the local file "
			    "shrank while being sent", p->remote);
			p->err.sys_errno = EAGAIN;
		} else
			error_set_errno(&p->err, errno, "read the local file "
			    "for \"%s\"", p->remote);
		p->failing = true;
		return -1;
	}
	ratelimit_take(p->rate, (uint64_t)n);
	if (sftp_write(p->s, &p->handle, p->next, p->chunk, (uint32_t)n,
	    part_on_write, p) != 0) {
		part_lost(p);
		return -1;
	}
	p->in_flight++;
	p->next += (uint64_t)n;
	return 0;
}

/* Fills the window; closes once every byte is acknowledged, or once the
 * requests of a failing part have all answered. */
static void
part_send(struct part *p)
{
	uint32_t	 max, want;

	if (p->state != P_DATA)
		return;
	if (!p->failing && cancel_requested()) {
		error_set(&p->err, TS_ECANCELED, "interrupted");
		p->failing = true;
	}
	max = p->upload ? sftp_max_write(p->s) : sftp_max_read(p->s);
	while (!p->failing && p->next < p->end && sftp_room(p->s, max)) {
		want = p->end - p->next < max ? (uint32_t)(p->end - p->next) :
		    max;
		if ((p->upload ? part_send_write(p, want) :
		    part_send_read(p, p->next, want)) != 0)
			break;
		if (!p->upload)
			p->next += want;
	}
	if (p->in_flight > 0 || (!p->failing && p->next < p->end))
		return;
	if (sftp_failed(p->s) != NULL) {
		part_lost(p);
		part_finish(p);
	} else
		part_close(p);
}

static void
part_on_open(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct part	*p = payload;

	(void)s;
	if (r->type != SSH_FXP_HANDLE) {
		if (r->type == SSH_FXP_STATUS)
			part_error_status(p, r, "open");
		else
			error_set(&p->err, TS_EREMOTE, "open \"%s\": unexpected "
			    "reply", p->remote);
		part_finish(p);
		return;
	}
	p->handle = r->handle;
	p->state = P_DATA;
	part_send(p);
}

static int
part_start(struct part **out, struct sftp *s, bool upload, int fd,
    const char *remote, uint64_t off, uint64_t len, part_fn *fn,
    void *payload, struct ts_error *err)
{
	struct part	*p;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->remote = strdup(remote)) == NULL ||
	    (upload && (p->chunk = malloc(SFTP_IO_MAX)) == NULL)) {
		part_free(p);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	p->s = s;
	p->upload = upload;
	p->fd = fd;
	p->next = off;
	p->end = off + len;
	p->fn = fn;
	p->payload = payload;
	/* The first range to open the temporary file creates it. */
	if (sftp_open(s, remote, upload ? SSH_FXF_WRITE | SSH_FXF_CREAT :
	    SSH_FXF_READ, NULL,
	    part_on_open, p) != 0) {
		part_lost(p);
		*err = p->err;
		part_free(p);
		return err->code;
	}
	*out = p;
	return 0;
}

int
part_upload(struct part **out, struct sftp *s, int fd, const char *remote,
    uint64_t off, uint64_t len, part_fn *fn, void *payload,
    struct ts_error *err)
{
	return part_start(out, s, true, fd, remote, off, len, fn, payload, err);
}

int
part_download(struct part **out, struct sftp *s, const char *remote, int fd,
    uint64_t off, uint64_t len, part_fn *fn, void *payload,
    struct ts_error *err)
{
	return part_start(out, s, false, fd, remote, off, len, fn, payload,
	    err);
}

void
part_set_rate(struct part *p, struct ratelimit *rl)
{
	p->rate = rl;
}

void
part_kick(struct part *p)
{
	part_send(p);
}

bool
part_done(const struct part *p)
{
	return p->state == P_DONE;
}

int
part_result(const struct part *p, struct ts_error *err)
{
	if (err != NULL && p->err.code != TS_OK)
		*err = p->err;
	return p->err.code;
}

void
part_free(struct part *p)
{
	if (p == NULL)
		return;
	free(p->remote);
	free(p->chunk);
	free(p);
}
