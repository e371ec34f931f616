/*
 * The SFTP request engine.  Requests are encoded into one outgoing buffer
 * and written as the channel accepts them; replies are framed out of one
 * incoming buffer and matched to their request by id through a table of
 * requests in flight.  Nothing here blocks except sftp_pump()'s bounded
 * wait, so one thread keeps hundreds of requests, over many files, moving
 * on one channel.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "sftp.h"

/* Our limits on what is in flight: enough to fill a long fat pipe
 * (8 MiB over 20 ms is 400 MB/s) without letting memory grow unbounded. */
#define SFTP_MAX_REQUESTS	1024	/* a power of two */
#define SFTP_MAX_BYTES		(8u * 1024 * 1024)
#define SFTP_OUT_MAX		(64u * 1024 * 1024)
#define SFTP_READ_CHUNK		(64u * 1024)
#define SFTP_DEFAULT_IO		32768	/* every server takes this much */
/* With the server's limits: WRITEs as big as it takes (OpenSSH's 255
 * KiB: a quarter of the requests and acks of 64 KiB ones, which put a
 * 1 GiB upload 5-8 % faster here); READs stay at 64 KiB, where bigger
 * ones measured no faster. */
#define SFTP_LARGE_READ		(64u * 1024)
#define SFTP_LARGE_WRITE	SFTP_IO_MAX
#define SFTP_DEFAULT_HANDLES	64	/* when the server states no limit */
#define SFTP_MANY_HANDLES	256	/* ...and when it states a bigger one */

struct sftp_slot {
	uint32_t	 id;
	uint8_t		 type;		/* the request's SSH_FXP_* */
	uint8_t		 expect;	/* the reply type that carries data */
	bool		 in_use;
	uint32_t	 bytes;		/* data bytes counted in flight */
	sftp_cb		*cb;
	void		*payload;
};

struct sftp {
	struct ssh	*ssh;			/* borrowed */
	LIBSSH2_CHANNEL	*ch;
	struct buf	 out;			/* encoded, not yet written */
	size_t		 out_off;		/* written part of out */
	uint8_t		*in;			/* received, not yet handled */
	size_t		 in_off, in_len, in_cap;
	struct sftp_slot slots[SFTP_MAX_REQUESTS * 2];
	uint32_t	 next_id;
	uint32_t	 in_flight;
	uint64_t	 bytes_in_flight;
	bool		 versioned;		/* SSH_FXP_VERSION seen */
	uint32_t	 version;
	unsigned	 ext;			/* SFTP_EXT_* offered */
	char		 ext_names[512];	/* all offered, comma-separated */
	int		 symlink_order;		/* -1 unknown, 0 draft, 1 OpenSSH */
	uint32_t	 max_read, max_write, max_handles;
	bool		 failed;
	struct ts_error	 err;			/* why it failed */
};

#define SLOT_MASK	(SFTP_MAX_REQUESTS * 2 - 1)

static void	sftp_fail(struct sftp *s, const struct ts_error *why);

int
sftp_status_error(struct ts_error *err, uint32_t status, const char *msg,
    size_t msg_len, const char *what, const char *path)
{
	const char	*std = sftp_status_str(status);
	int		 code;

	switch (status) {
	case SSH_FX_NO_SUCH_FILE:
		code = TS_ENOENT;
		break;
	case SSH_FX_PERMISSION_DENIED:
		code = TS_EACCES;
		break;
	case SSH_FX_NO_CONNECTION:
	case SSH_FX_CONNECTION_LOST:
		code = TS_ECONN;
		break;
	default:
		code = TS_EREMOTE;
		break;
	}
	/* Prefer the server's own words; fall back to the standard phrase
	 * when it sent none. */
	if (msg == NULL || msg_len == 0 || (msg_len == strlen(std) &&
	    strncasecmp(msg, std, msg_len) == 0) || msg_len > 160)
		return error_set(err, code, "%s \"%s\": %s", what, path, std);
	/* Our messages are lower case: "No such file" reads "no such file". */
	return error_set(err, code, "%s \"%s\": %c%.*s", what, path,
	    msg_len > 1 && msg[0] >= 'A' && msg[0] <= 'Z' && msg[1] >= 'a' &&
	    msg[1] <= 'z' ? msg[0] - 'A' + 'a' : msg[0], (int)msg_len - 1,
	    msg + 1);
}

static int
sftp_failure(const struct sftp *s, struct ts_error *err)
{
	if (err != NULL && err->code == TS_OK)
		*err = s->err;
	return s->err.code;
}

/* Finds a free id and slot; the caller has checked failed. */
static struct sftp_slot *
sftp_slot_new(struct sftp *s, uint8_t type, uint8_t expect, uint32_t bytes,
    sftp_cb *cb, void *payload)
{
	struct sftp_slot	*sl;

	/* Callers keep in_flight below SFTP_MAX_REQUESTS through sftp_room;
	 * the table has twice that, so a free slot is always near. */
	assert(s->in_flight <= SLOT_MASK);
	do {
		sl = &s->slots[s->next_id & SLOT_MASK];
		s->next_id++;
	} while (sl->in_use);
	sl->id = s->next_id - 1;
	sl->type = type;
	sl->expect = expect;
	sl->in_use = true;
	sl->bytes = bytes;
	sl->cb = cb;
	sl->payload = payload;
	s->in_flight++;
	s->bytes_in_flight += bytes;
	return sl;
}

void
sftp_forget(struct sftp *s, const void *payload)
{
	size_t	 i;

	for (i = 0; i < sizeof(s->slots) / sizeof(s->slots[0]); i++)
		if (s->slots[i].in_use && s->slots[i].payload == payload) {
			s->slots[i].cb = NULL;
			s->slots[i].payload = NULL;
		}
}

static void
sftp_slot_free(struct sftp *s, struct sftp_slot *sl)
{
	sl->in_use = false;
	s->in_flight--;
	s->bytes_in_flight -= sl->bytes;
}

/* Encodes into out; an encoder failure means out passed its maximum. */
static int
sftp_queued(struct sftp *s, struct sftp_slot *sl, int enc_rc)
{
	struct ts_error	 e = { 0 };

	if (enc_rc == 0)
		return 0;
	sftp_slot_free(s, sl);
	error_set(&e, TS_ENOMEM, "SFTP request queue to \"%s\" is full",
	    s->ssh->host);
	sftp_fail(s, &e);
	return e.code;
}

#define SFTP_SEND(s, type, expect, bytes, cb, payload, ENC) do {	\
	struct sftp_slot *sl_;						\
	uint32_t id;							\
	if ((s)->failed)						\
		return (s)->err.code;					\
	sl_ = sftp_slot_new((s), (type), (expect), (bytes), (cb), (payload)); \
	id = sl_->id;							\
	return sftp_queued((s), sl_, (ENC));				\
} while (0)

int
sftp_open(struct sftp *s, const char *path, uint32_t pflags,
    const struct sftp_attrs *a, sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_OPEN, SSH_FXP_HANDLE, 0, cb, payload,
	    sftp_enc_open(&s->out, id, path, pflags, a));
}

int
sftp_close(struct sftp *s, const struct sftp_handle *h, sftp_cb *cb,
    void *payload)
{
	SFTP_SEND(s, SSH_FXP_CLOSE, SSH_FXP_STATUS, 0, cb, payload,
	    sftp_enc_handle_op(&s->out, SSH_FXP_CLOSE, id, h));
}

int
sftp_read(struct sftp *s, const struct sftp_handle *h, uint64_t off,
    uint32_t len, sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_READ, SSH_FXP_DATA, len, cb, payload,
	    sftp_enc_read(&s->out, id, h, off, len));
}

int
sftp_write(struct sftp *s, const struct sftp_handle *h, uint64_t off,
    const void *data, uint32_t len, sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_WRITE, SSH_FXP_STATUS, len, cb, payload,
	    sftp_enc_write(&s->out, id, h, off, data, len));
}

int
sftp_write_pread(struct sftp *s, const struct sftp_handle *h, int fd,
    uint64_t off, uint32_t len, const uint8_t **data, ssize_t *n,
    sftp_cb *cb, void *payload)
{
	struct sftp_slot *sl;
	uint8_t		*room;
	size_t		 start;
	ssize_t		 got;

	*data = NULL;
	*n = -1;
	if (s->failed)
		return s->err.code;
	sl = sftp_slot_new(s, SSH_FXP_WRITE, SSH_FXP_STATUS, len, cb,
	    payload);
	if ((room = sftp_enc_write_room(&s->out, sl->id, h, off, len,
	    &start)) == NULL)
		return sftp_queued(s, sl, -1);
	do {
		got = pread(fd, room, len, (off_t)off);
	} while (got == -1 && errno == EINTR);
	if (got <= 0) {		/* nothing to send: the caller says why */
		int	 saved = errno;

		s->out.len = start;
		sftp_slot_free(s, sl);
		*n = got;
		errno = saved;
		return 0;
	}
	if ((uint32_t)got < len) {
		sftp_enc_write_shrink(&s->out, start, len, (uint32_t)got);
		s->bytes_in_flight -= len - (uint32_t)got;
		sl->bytes = (uint32_t)got;
		room = s->out.data + s->out.len - (size_t)got;
	}
	*data = room;
	*n = got;
	return 0;
}

int
sftp_fstat(struct sftp *s, const struct sftp_handle *h, sftp_cb *cb,
    void *payload)
{
	SFTP_SEND(s, SSH_FXP_FSTAT, SSH_FXP_ATTRS, 0, cb, payload,
	    sftp_enc_handle_op(&s->out, SSH_FXP_FSTAT, id, h));
}

int
sftp_fsetstat(struct sftp *s, const struct sftp_handle *h,
    const struct sftp_attrs *a, sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_FSETSTAT, SSH_FXP_STATUS, 0, cb, payload,
	    sftp_enc_fsetstat(&s->out, id, h, a));
}

int
sftp_setstat(struct sftp *s, const char *path, const struct sftp_attrs *a,
    sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_SETSTAT, SSH_FXP_STATUS, 0, cb, payload,
	    sftp_enc_setstat(&s->out, id, path, a));
}

int
sftp_stat(struct sftp *s, const char *path, bool follow, sftp_cb *cb,
    void *payload)
{
	uint8_t	 t = follow ? SSH_FXP_STAT : SSH_FXP_LSTAT;

	SFTP_SEND(s, t, SSH_FXP_ATTRS, 0, cb, payload,
	    sftp_enc_path_op(&s->out, t, id, path));
}

int
sftp_opendir(struct sftp *s, const char *path, sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_OPENDIR, SSH_FXP_HANDLE, 0, cb, payload,
	    sftp_enc_path_op(&s->out, SSH_FXP_OPENDIR, id, path));
}

int
sftp_readdir(struct sftp *s, const struct sftp_handle *h, sftp_cb *cb,
    void *payload)
{
	SFTP_SEND(s, SSH_FXP_READDIR, SSH_FXP_NAME, 0, cb, payload,
	    sftp_enc_handle_op(&s->out, SSH_FXP_READDIR, id, h));
}

int
sftp_remove(struct sftp *s, const char *path, sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_REMOVE, SSH_FXP_STATUS, 0, cb, payload,
	    sftp_enc_path_op(&s->out, SSH_FXP_REMOVE, id, path));
}

int
sftp_mkdir(struct sftp *s, const char *path, const struct sftp_attrs *a,
    sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_MKDIR, SSH_FXP_STATUS, 0, cb, payload,
	    sftp_enc_mkdir(&s->out, id, path, a));
}

int
sftp_rmdir(struct sftp *s, const char *path, sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_RMDIR, SSH_FXP_STATUS, 0, cb, payload,
	    sftp_enc_path_op(&s->out, SSH_FXP_RMDIR, id, path));
}

int
sftp_realpath(struct sftp *s, const char *path, sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_REALPATH, SSH_FXP_NAME, 0, cb, payload,
	    sftp_enc_path_op(&s->out, SSH_FXP_REALPATH, id, path));
}

int
sftp_readlink(struct sftp *s, const char *path, sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_READLINK, SSH_FXP_NAME, 0, cb, payload,
	    sftp_enc_path_op(&s->out, SSH_FXP_READLINK, id, path));
}

int
sftp_symlink(struct sftp *s, const char *linkpath, const char *target,
    sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_SYMLINK, SSH_FXP_STATUS, 0, cb, payload,
	    sftp_enc_symlink(&s->out, id, linkpath, target,
	    sftp_symlink_swapped(s)));
}

int
sftp_symlink_as(struct sftp *s, const char *linkpath, const char *target,
    bool openssh_order, sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_SYMLINK, SSH_FXP_STATUS, 0, cb, payload,
	    sftp_enc_symlink(&s->out, id, linkpath, target, openssh_order));
}

int
sftp_rename(struct sftp *s, const char *from, const char *to, sftp_cb *cb,
    void *payload)
{
	SFTP_SEND(s, SSH_FXP_RENAME, SSH_FXP_STATUS, 0, cb, payload,
	    sftp_enc_rename(&s->out, id, from, to));
}

int
sftp_posix_rename(struct sftp *s, const char *from, const char *to,
    sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_EXTENDED, SSH_FXP_STATUS, 0, cb, payload,
	    sftp_enc_posix_rename(&s->out, id, from, to));
}

int
sftp_hardlink(struct sftp *s, const char *oldpath, const char *newpath,
    sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_EXTENDED, SSH_FXP_STATUS, 0, cb, payload,
	    sftp_enc_hardlink(&s->out, id, oldpath, newpath));
}

int
sftp_fsync(struct sftp *s, const struct sftp_handle *h, sftp_cb *cb,
    void *payload)
{
	SFTP_SEND(s, SSH_FXP_EXTENDED, SSH_FXP_STATUS, 0, cb, payload,
	    sftp_enc_fsync(&s->out, id, h));
}

int
sftp_statvfs(struct sftp *s, const char *path, sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_EXTENDED, SSH_FXP_EXTENDED_REPLY, 0, cb, payload,
	    sftp_enc_statvfs(&s->out, id, path));
}

int
sftp_copy_data(struct sftp *s, const struct sftp_handle *from, uint64_t roff,
    uint64_t len, const struct sftp_handle *to, uint64_t woff, sftp_cb *cb,
    void *payload)
{
	SFTP_SEND(s, SSH_FXP_EXTENDED, SSH_FXP_STATUS, 0, cb, payload,
	    sftp_enc_copy_data(&s->out, id, from, roff, len, to, woff));
}

int
sftp_limits(struct sftp *s, sftp_cb *cb, void *payload)
{
	SFTP_SEND(s, SSH_FXP_EXTENDED, SSH_FXP_EXTENDED_REPLY, 0, cb, payload,
	    sftp_enc_limits(&s->out, id));
}

/* Fails the session once: every pending request hears of it, so state
 * machines above clean up; later requests are refused. */
static void
sftp_fail(struct sftp *s, const struct ts_error *why)
{
	struct sftp_reply	 r;
	struct sftp_slot	*sl;
	size_t			 i;

	if (s->failed)
		return;
	s->failed = true;
	s->err = *why;
	ssh_set_broken(s->ssh);
	for (i = 0; i < sizeof(s->slots) / sizeof(s->slots[0]); i++) {
		sl = &s->slots[i];
		if (!sl->in_use)
			continue;
		memset(&r, 0, sizeof(r));
		r.type = SSH_FXP_STATUS;
		r.id = sl->id;
		r.status = SSH_FX_CONNECTION_LOST;
		r.msg = s->err.msg;
		r.msg_len = strlen(s->err.msg);
		sftp_slot_free(s, sl);
		if (sl->cb != NULL)
			sl->cb(s, &r, sl->payload);
	}
}

static int
sftp_fail_now(struct sftp *s, struct ts_error *err, int code,
    const char *msg)
{
	struct ts_error	 e = { 0 };

	error_set(&e, code, "%s", msg);
	sftp_fail(s, &e);
	return sftp_failure(s, err);
}

/* The tests reach the fallbacks for servers without an extension on
 * servers that have it: TREESYNC_TEST_HIDE_EXTENSIONS lists names to
 * ignore, comma-separated.  Only test builds (-DTS_TEST_HOOKS=ON) read
 * it: a release never lets the environment change what it does. */
static bool
sftp_ext_hidden(const char *name)
{
#ifdef TS_TEST_HOOKS
	const char	*list = getenv("TREESYNC_TEST_HIDE_EXTENSIONS");
	const char	*p;
	size_t		 n = strlen(name);

	for (p = list; p != NULL && (p = strstr(p, name)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
#else
	(void)name;
#endif
	return false;
}

/* Reads SSH_FXP_VERSION: the version and the extensions offered. */
static int
sftp_on_version(struct sftp *s, const uint8_t *pkt, size_t len)
{
	struct sftp_ext_iter	 it;
	struct sftp_ext_pair	 p;
	struct ts_error		 e = { 0 };
	char			 name[128];
	int			 rc;
	static const struct {
		const char	*name;
		unsigned	 bit;
	} known[] = {
		{ "posix-rename@openssh.com", SFTP_EXT_POSIX_RENAME },
		{ "fsync@openssh.com", SFTP_EXT_FSYNC },
		{ "hardlink@openssh.com", SFTP_EXT_HARDLINK },
		{ "statvfs@openssh.com", SFTP_EXT_STATVFS },
		{ "limits@openssh.com", SFTP_EXT_LIMITS },
		{ "copy-data", SFTP_EXT_COPY_DATA },
	};

	if (sftp_dec_version(&s->version, &it, pkt, len, &e) != 0) {
		sftp_fail(s, &e);
		return e.code;
	}
	while ((rc = sftp_ext_next(&it, &p, &e)) == 1) {
		size_t	 i, n = p.name_len < sizeof(name) - 1 ? p.name_len :
		    sizeof(name) - 1;

		memcpy(name, p.name, n);
		name[n] = '\0';
		if (sftp_ext_hidden(name))
			continue;
		/* Green End's server states its SYMLINK argument order. */
		if (strcmp(name, "symlink-order@rjk.greenend.org.uk") == 0)
			s->symlink_order = p.data_len == 19 &&
			    memcmp(p.data, "targetpath-linkpath", 19) == 0;
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(name, known[i].name) == 0)
				s->ext |= known[i].bit;
		if (strlen(s->ext_names) + n + 2 < sizeof(s->ext_names)) {
			if (s->ext_names[0] != '\0')
				strcat(s->ext_names, ",");
			strcat(s->ext_names, name);
		}
	}
	if (rc < 0) {
		sftp_fail(s, &e);
		return e.code;
	}
	s->versioned = true;
	log_msg(TS_LOG_DEBUG, "SFTP version %u, extensions: %s", s->version,
	    s->ext_names[0] != '\0' ? s->ext_names : "none");
	return 0;
}

/* Hands one reply to the request it answers. */
static int
sftp_dispatch(struct sftp *s, const uint8_t *pkt, size_t len)
{
	struct sftp_reply	 r;
	struct sftp_slot	*sl, copy;
	struct ts_error		 e = { 0 };

	if (!s->versioned)
		return sftp_on_version(s, pkt, len);
	if (sftp_dec_reply(&r, pkt, len, &e) != 0) {
		sftp_fail(s, &e);
		return e.code;
	}
	sl = &s->slots[r.id & SLOT_MASK];
	if (!sl->in_use || sl->id != r.id) {
		error_set(&e, TS_EREMOTE, "SFTP server \"%s\" answered request "
		    "%u, which is not in flight", s->ssh->host, r.id);
		sftp_fail(s, &e);
		return e.code;
	}
	if (r.type != sl->expect && !(r.type == SSH_FXP_STATUS &&
	    r.status != SSH_FX_OK)) {
		error_set(&e, TS_EREMOTE, "SFTP server \"%s\" answered a type %u "
		    "request with a type %u reply", s->ssh->host, sl->type,
		    r.type);
		sftp_fail(s, &e);
		return e.code;
	}
	if (r.type == SSH_FXP_DATA && r.data_len > sl->bytes) {
		error_set(&e, TS_EREMOTE, "SFTP server \"%s\" sent %u bytes for "
		    "a read of %u", s->ssh->host, r.data_len, sl->bytes);
		sftp_fail(s, &e);
		return e.code;
	}
	copy = *sl;
	sftp_slot_free(s, sl);
	if (copy.cb != NULL)
		copy.cb(s, &r, copy.payload);
	return 0;
}

/* Handles every whole packet in the incoming buffer. */
static int
sftp_handle_input(struct sftp *s, struct ts_error *err)
{
	struct ts_error	 e = { 0 };
	uint32_t	 len;
	int		 rc;

	while (!s->failed) {
		rc = sftp_frame(s->in + s->in_off, s->in_len - s->in_off,
		    SFTP_MAX_PACKET, &len, &e);
		if (rc < 0) {
			sftp_fail(s, &e);
			break;
		}
		if (rc == 0)
			break;
		s->in_off += 4;
		rc = sftp_dispatch(s, s->in + s->in_off, len);
		s->in_off += len;
		if (rc != 0)
			break;
	}
	if (s->failed)
		return sftp_failure(s, err);
	/* Keep the unhandled tail at the front, with room to read into. */
	if (s->in_off > 0) {
		memmove(s->in, s->in + s->in_off, s->in_len - s->in_off);
		s->in_len -= s->in_off;
		s->in_off = 0;
	}
	return 0;
}

/* The part of sftp_pump() that never waits: *progress says whether a
 * byte moved either way. */
static int
sftp_io(struct sftp *s, bool *progress, struct ts_error *err)
{
	char		 msg[200];
	ssize_t		 n;

	*progress = false;
	if (s->failed)
		return sftp_failure(s, err);
	while (s->out_off < s->out.len) {
		n = ssh_stream_write(s->ssh, s->ch, (const char *)s->out.data +
		    s->out_off, s->out.len - s->out_off);
		if (n == LIBSSH2_ERROR_EAGAIN)
			break;
		if (n < 0) {
			struct ts_error	 e = { 0 };

			ssh_error(s->ssh, (int)n, &e, "SFTP write");
			sftp_fail(s, &e);
			return sftp_failure(s, err);
		}
		s->out_off += (size_t)n;
		*progress = true;
	}
	if (s->out_off == s->out.len) {
		buf_reset(&s->out);
		s->out_off = 0;
	} else if (s->out_off > 1024 * 1024 && s->out_off >= s->out.len / 2) {
		/* Only once the sent part is the bigger half: each byte is
		 * then moved at most once, where compacting at every MiB
		 * moved the whole window (up to 8 MiB) again and again. */
		buf_consume(&s->out, s->out_off);
		s->out_off = 0;
	}
	/* Before the reads: a send may take waiting packets into libssh2's
	 * queue, and the last call before a wait must be the read that
	 * empties it. */
	ssh_keepalive(s->ssh);
	for (;;) {
		n = ssh_stream_read(s->ssh, s->ch, (char *)s->in + s->in_len,
		    s->in_cap - s->in_len);
		if (n == LIBSSH2_ERROR_EAGAIN)
			break;
		if (n < 0) {
			struct ts_error	 e = { 0 };

			ssh_error(s->ssh, (int)n, &e, "SFTP read");
			sftp_fail(s, &e);
			return sftp_failure(s, err);
		}
		if (n == 0) {
			snprintf(msg, sizeof(msg), "the SFTP server on \"%s\" "
			    "closed the session", s->ssh->host);
			return sftp_fail_now(s, err, TS_ECONN, msg);
		}
		s->in_len += (size_t)n;
		*progress = true;
		if (sftp_handle_input(s, err) != 0)
			return sftp_failure(s, err);
		if (s->in_len == s->in_cap) {
			snprintf(msg, sizeof(msg), "SFTP packet from \"%s\" is "
			    "too large", s->ssh->host);
			return sftp_fail_now(s, err, TS_EREMOTE, msg);
		}
	}
	return 0;
}

/* Whether the engine waits for the server: something to send or a reply
 * to come. */
static bool
sftp_waiting(const struct sftp *s)
{
	return !s->failed && (s->in_flight > 0 || s->out_off < s->out.len ||
	    !s->versioned);
}

static int
sftp_timed_out(struct sftp *s, struct ts_error *err)
{
	char	 msg[200];

	snprintf(msg, sizeof(msg), "the SFTP server on \"%s\" did not answer "
	    "for %d s (see --timeout)", s->ssh->host,
	    s->ssh->io_timeout_ms / 1000);
	return sftp_fail_now(s, err, TS_ECONN, msg);
}

int
sftp_pump(struct sftp *s, struct ts_error *err)
{
	bool	 progress;

	if (sftp_io(s, &progress, err) != 0)
		return sftp_failure(s, err);
	if (progress || !sftp_waiting(s))
		return 0;
	if (ssh_wait(s->ssh, s->ssh->io_timeout_ms, true, NULL) != 0)
		return sftp_timed_out(s, err);
	return 0;
}

void
sftp_pump_many(struct sftp *const *v, size_t n)
{
	struct ssh	*ssh[SFTP_PUMP_MAX];
	bool		 progress, moved = false;
	size_t		 i, k = 0;
	int		 timeout = 0;

	assert(n <= SFTP_PUMP_MAX && SFTP_PUMP_MAX <= SSH_WAIT_MAX);
	for (i = 0; i < n; i++) {
		if (sftp_io(v[i], &progress, NULL) == 0 && progress)
			moved = true;
	}
	if (moved)
		return;
	/* Nothing moved: wait for any engine that waits on its server. */
	for (i = 0; i < n; i++)
		if (sftp_waiting(v[i])) {
			ssh[k++] = v[i]->ssh;
			if (v[i]->ssh->io_timeout_ms > timeout)
				timeout = v[i]->ssh->io_timeout_ms;
		}
	if (k == 0 || ssh_wait_many(ssh, k, timeout) == 0)
		return;
	for (i = 0; i < n; i++)
		if (sftp_waiting(v[i]))
			(void)sftp_timed_out(v[i], NULL);
}

int
sftp_drain(struct sftp *s, struct ts_error *err)
{
	while (s->in_flight > 0 || s->out_off < s->out.len)
		if (sftp_pump(s, err) != 0)
			return sftp_failure(s, err);
	return s->failed ? sftp_failure(s, err) : 0;
}

void
sftp_call_cb(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct sftp_call	*c = payload;
	struct sftp_name_iter	 it;
	struct sftp_name	 nm;
	size_t			 n;

	c->done = true;
	c->type = r->type;
	c->status = r->type == SSH_FXP_STATUS ? r->status : SSH_FX_OK;
	if (r->type == SSH_FXP_STATUS && r->msg != NULL) {
		n = r->msg_len < sizeof(c->msg) - 1 ? r->msg_len :
		    sizeof(c->msg) - 1;
		memcpy(c->msg, r->msg, n);
		c->msg[n] = '\0';
	}
	if (r->type == SSH_FXP_ATTRS)
		c->attrs = r->attrs;
	if (r->type == SSH_FXP_HANDLE)
		c->handle = r->handle;
	if (r->type == SSH_FXP_EXTENDED_REPLY) {
		c->ext_len = r->ext_len < sizeof(c->ext) ? r->ext_len :
		    sizeof(c->ext);
		memcpy(c->ext, r->ext, c->ext_len);
	}
	if (r->type == SSH_FXP_NAME) {
		sftp_name_iter_init(&it, r);
		if (sftp_name_next(&it, &nm, NULL) == 1 &&
		    (c->name = malloc(nm.name_len + 1)) != NULL) {
			memcpy(c->name, nm.name, nm.name_len);
			c->name[nm.name_len] = '\0';
			c->name_attrs = nm.attrs;
		} else
			c->status = SSH_FX_BAD_MESSAGE;
	}
	(void)s;
}

int
sftp_call_wait(struct sftp *s, int sent, struct sftp_call *c,
    const char *what, const char *path, struct ts_error *err)
{
	const struct ts_error	*f;

	if (sent != 0) {	/* the session failed: no reply will come */
		f = sftp_failed(s);
		return error_set(err, f != NULL ? f->code : TS_ECONN, "%s",
		    f != NULL ? f->msg : "connection lost");
	}
	while (!c->done)
		if (sftp_pump(s, err) != 0 && !c->done)
			return sftp_failure(s, err);
	if (c->status != SSH_FX_OK)
		return sftp_status_error(err, c->status, c->msg, strlen(c->msg),
		    what, path);
	return 0;
}

void
sftp_call_dispose(struct sftp_call *c)
{
	free(c->name);
	c->name = NULL;
}

/* The server's own limits bound ours; 0 means none. */
static void
limits_on_reply(struct sftp *unused, const struct sftp_reply *r,
    void *payload)
{
	struct sftp		*s = payload;
	struct sftp_limits	 lim;

	(void)unused;
	if (r->type != SSH_FXP_EXTENDED_REPLY ||
	    sftp_dec_limits(&lim, r->ext, r->ext_len, NULL) != 0)
		return;
	s->max_read = SFTP_LARGE_READ;
	s->max_write = SFTP_LARGE_WRITE;
	s->max_handles = SFTP_MANY_HANDLES;
	if (lim.max_read_len != 0 && lim.max_read_len < s->max_read)
		s->max_read = (uint32_t)lim.max_read_len;
	if (lim.max_write_len != 0 && lim.max_write_len < s->max_write)
		s->max_write = (uint32_t)lim.max_write_len;
	if (lim.max_open_handles != 0 && lim.max_open_handles < s->max_handles)
		s->max_handles = (uint32_t)lim.max_open_handles;
}

int
sftp_start(struct sftp **out, struct ssh *ssh, struct ts_error *err)
{
	struct sftp		*s;
	int			 rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	s->ssh = ssh;
	buf_init(&s->out, SFTP_OUT_MAX);
	s->in_cap = SFTP_MAX_PACKET + 4 + SFTP_READ_CHUNK;
	if ((s->in = malloc(s->in_cap)) == NULL) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto fail;
	}
	s->max_read = s->max_write = SFTP_DEFAULT_IO;
	s->symlink_order = -1;
	s->max_handles = SFTP_DEFAULT_HANDLES;
	if ((rc = ssh_open_subsystem(&s->ch, ssh, "sftp", err)) != 0)
		goto fail;
	if (sftp_enc_init(&s->out, SFTP_VERSION) != 0) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto fail;
	}
	while (!s->versioned)
		if ((rc = sftp_pump(s, err)) != 0)
			goto fail;
	if (s->version < 3) {
		rc = error_set(err, TS_EREMOTE, "the SFTP server on \"%s\" speaks "
		    "version %u; treesync needs version 3", ssh->host,
		    s->version);
		goto fail;
	}
	/* Not waited for: servers answer in order, so the limits are known
	 * before the reply to any OPEN that could lead to a big READ or
	 * WRITE, and the defaults until then suit every server. */
	if ((s->ext & SFTP_EXT_LIMITS) &&
	    (rc = sftp_limits(s, limits_on_reply, s)) != 0) {
		rc = error_set(err, rc, "out of memory");
		goto fail;
	}
	*out = s;
	return 0;
fail:
	sftp_free(s);
	return rc;
}

void
sftp_free(struct sftp *s)
{
	if (s == NULL)
		return;
	/* The channel goes with the session (ssh_free): the goodbye ends
	 * both, and waiting for the server to close the channel first would
	 * cost a round trip per connection. */
	buf_dispose(&s->out);
	free(s->in);
	free(s);
}

bool
sftp_has(const struct sftp *s, unsigned ext)
{
	return (s->ext & ext) == ext;
}

bool
sftp_has_named(const struct sftp *s, const char *name)
{
	size_t		 n = strlen(name);
	const char	*p;

	for (p = s->ext_names; (p = strstr(p, name)) != NULL; p += n)
		if ((p == s->ext_names || p[-1] == ',') &&
		    (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

struct ssh *
sftp_ssh(struct sftp *s)
{
	return s->ssh;
}

uint32_t
sftp_version(const struct sftp *s)
{
	return s->version;
}

const char *
sftp_extensions(const struct sftp *s)
{
	return s->ext_names;
}

bool
sftp_symlink_swapped(const struct sftp *s)
{
	/* OpenSSH's server swaps SYMLINK's arguments (PROTOCOL 4.1); Green
	 * End's says which order it takes; others are taken to be OpenSSH
	 * when they offer the extensions OpenSSH always does. */
	if (s->symlink_order != -1)
		return s->symlink_order == 1;
	return sftp_has_named(s, "posix-rename@openssh.com") &&
	    sftp_has_named(s, "fstatvfs@openssh.com");
}

uint32_t
sftp_max_read(const struct sftp *s)
{
	return s->max_read;
}

uint32_t
sftp_max_write(const struct sftp *s)
{
	return s->max_write;
}

uint32_t
sftp_max_handles(const struct sftp *s)
{
	return s->max_handles;
}

bool
sftp_room(const struct sftp *s, uint32_t data)
{
	return s->in_flight < SFTP_MAX_REQUESTS &&
	    s->bytes_in_flight + data <= SFTP_MAX_BYTES;
}

uint32_t
sftp_in_flight(const struct sftp *s)
{
	return s->in_flight;
}

const struct ts_error *
sftp_failed(const struct sftp *s)
{
	return s->failed ? &s->err : NULL;
}
