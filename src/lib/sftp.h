/*
 * The SFTP request engine: many requests in flight on one channel, each
 * with a continuation called when its reply arrives.  One thread drives
 * one engine with sftp_pump(); callbacks run inside sftp_pump() and may
 * send new requests.
 */
#ifndef TS_SFTP_H
#define TS_SFTP_H

#include "sftp_codec.h"
#include "ssh.h"

struct sftp;

/* Extensions we use, when the server offers them (OpenSSH PROTOCOL 4). */
#define SFTP_EXT_POSIX_RENAME	0x01
#define SFTP_EXT_FSYNC		0x02
#define SFTP_EXT_HARDLINK	0x04
#define SFTP_EXT_STATVFS	0x08
#define SFTP_EXT_LIMITS		0x10
#define SFTP_EXT_COPY_DATA	0x20

/* Called once per request with its reply, which is borrowed for the call.
 * When the session fails, every pending request gets a STATUS reply with
 * SSH_FX_CONNECTION_LOST and the failure's message. */
typedef void	sftp_cb(struct sftp *s, const struct sftp_reply *r,
		    void *payload);

/* Starts SFTP on a new channel of ssh (borrowed; it must outlive the
 * engine), negotiates the version and extensions, and reads the server's
 * limits.  *out is the caller's. */
int	sftp_start(struct sftp **out, struct ssh *ssh, struct ts_error *err);
void	sftp_free(struct sftp *s);		/* NULL is fine */

bool	sftp_has(const struct sftp *s, unsigned ext);
bool	sftp_has_named(const struct sftp *s, const char *name);
struct ssh *sftp_ssh(struct sftp *s);
/* The version the server answered, and the names of every extension it
 * offered, comma-separated (borrowed). */
uint32_t sftp_version(const struct sftp *s);
const char *sftp_extensions(const struct sftp *s);
/* Whether the server takes SYMLINK's arguments in OpenSSH's order, the
 * opposite of the draft's (PROTOCOL 4.1). */
bool	sftp_symlink_swapped(const struct sftp *s);
/* The largest READ and WRITE lengths to use with this server. */
uint32_t sftp_max_read(const struct sftp *s);
uint32_t sftp_max_write(const struct sftp *s);
/* No READ or WRITE is ever bigger, whatever the limits (which may arrive
 * after a transfer began): a buffer this big takes any of them. */
#define SFTP_IO_MAX	(256u * 1024)
/* How many files may be open at once on this server (limits@openssh.com,
 * or our own default). */
uint32_t sftp_max_handles(const struct sftp *s);

/* Whether another request (carrying data bytes of write payload) fits the
 * limits on requests and bytes in flight. */
bool	sftp_room(const struct sftp *s, uint32_t data);
uint32_t sftp_in_flight(const struct sftp *s);
/* The session's failure, or NULL while it works. */
const struct ts_error *sftp_failed(const struct sftp *s);

/* Sends what can be sent, reads what has arrived and runs the callbacks;
 * waits up to the I/O timeout when nothing could move.  Returns 0, or the
 * session's failure (after failing every pending request). */
int	sftp_pump(struct sftp *s, struct ts_error *err);
/* sftp_pump() for n engines (at most SFTP_PUMP_MAX) driven by one
 * thread: waits only when none could move, for whichever answers first.
 * An engine that fails (or times out) fails its requests, as in
 * sftp_pump(); sftp_failed() tells which. */
#define SFTP_PUMP_MAX	16
void	sftp_pump_many(struct sftp *const *v, size_t n);
/* Pumps until no request is in flight. */
int	sftp_drain(struct sftp *s, struct ts_error *err);
/* The replies to the requests in flight with payload will not be looked
 * at: their callbacks are dropped, so payload may be freed. */
void	sftp_forget(struct sftp *s, const void *payload);

/* Requests: each returns 0 when queued, or an error (the session failed;
 * cb is then not called).  cb may be NULL to ignore the reply. */
int	sftp_open(struct sftp *s, const char *path, uint32_t pflags,
	    const struct sftp_attrs *a, sftp_cb *cb, void *payload);
int	sftp_close(struct sftp *s, const struct sftp_handle *h, sftp_cb *cb,
	    void *payload);
int	sftp_read(struct sftp *s, const struct sftp_handle *h, uint64_t off,
	    uint32_t len, sftp_cb *cb, void *payload);
int	sftp_write(struct sftp *s, const struct sftp_handle *h, uint64_t off,
	    const void *data, uint32_t len, sftp_cb *cb, void *payload);
/* A WRITE of what pread() gives of fd at off, up to len bytes, read
 * straight into the request (one copy fewer than sftp_write).  *n is
 * pread's result: when it is 0 or -1 (errno set) nothing was queued and
 * cb is not called.  *data then points at the bytes queued, until the
 * next call on s. */
int	sftp_write_pread(struct sftp *s, const struct sftp_handle *h, int fd,
	    uint64_t off, uint32_t len, const uint8_t **data, ssize_t *n,
	    sftp_cb *cb, void *payload);
int	sftp_fstat(struct sftp *s, const struct sftp_handle *h, sftp_cb *cb,
	    void *payload);
int	sftp_fsetstat(struct sftp *s, const struct sftp_handle *h,
	    const struct sftp_attrs *a, sftp_cb *cb, void *payload);
int	sftp_setstat(struct sftp *s, const char *path,
	    const struct sftp_attrs *a, sftp_cb *cb, void *payload);
int	sftp_stat(struct sftp *s, const char *path, bool follow, sftp_cb *cb,
	    void *payload);
int	sftp_opendir(struct sftp *s, const char *path, sftp_cb *cb,
	    void *payload);
int	sftp_readdir(struct sftp *s, const struct sftp_handle *h, sftp_cb *cb,
	    void *payload);
int	sftp_remove(struct sftp *s, const char *path, sftp_cb *cb,
	    void *payload);
int	sftp_mkdir(struct sftp *s, const char *path,
	    const struct sftp_attrs *a, sftp_cb *cb, void *payload);
int	sftp_rmdir(struct sftp *s, const char *path, sftp_cb *cb,
	    void *payload);
int	sftp_realpath(struct sftp *s, const char *path, sftp_cb *cb,
	    void *payload);
int	sftp_readlink(struct sftp *s, const char *path, sftp_cb *cb,
	    void *payload);
/* Makes linkpath a symlink to target, in the argument order the server
 * expects (see sftp_symlink_swapped). */
int	sftp_symlink(struct sftp *s, const char *linkpath, const char *target,
	    sftp_cb *cb, void *payload);
/* The same in the order given: symlink.c learns which one a server takes. */
int	sftp_symlink_as(struct sftp *s, const char *linkpath,
	    const char *target, bool openssh_order, sftp_cb *cb,
	    void *payload);
/* Plain v3 RENAME: fails when to exists (section 6.5). */
int	sftp_rename(struct sftp *s, const char *from, const char *to,
	    sftp_cb *cb, void *payload);
/* posix-rename@openssh.com: replaces to atomically.  Only when offered. */
int	sftp_posix_rename(struct sftp *s, const char *from, const char *to,
	    sftp_cb *cb, void *payload);
int	sftp_hardlink(struct sftp *s, const char *oldpath, const char *newpath,
	    sftp_cb *cb, void *payload);
int	sftp_fsync(struct sftp *s, const struct sftp_handle *h, sftp_cb *cb,
	    void *payload);
int	sftp_statvfs(struct sftp *s, const char *path, sftp_cb *cb,
	    void *payload);
/* limits@openssh.com: the server's limits.  Only when offered. */
int	sftp_limits(struct sftp *s, sftp_cb *cb, void *payload);
/* copy-data: len bytes at roff of from to woff of to, copied by the
 * server, no data on the wire (PROTOCOL 4.10).  Only when offered. */
int	sftp_copy_data(struct sftp *s, const struct sftp_handle *from,
	    uint64_t roff, uint64_t len, const struct sftp_handle *to,
	    uint64_t woff, sftp_cb *cb, void *payload);

/*
 * A reply kept for a caller that waits for one request: sftp_call_cb
 * copies it (the first name of a NAME reply included), sftp_call_wait
 * pumps until it came.
 */
struct sftp_call {
	bool		 done;
	uint8_t		 type;
	uint32_t	 status;
	char		 msg[200];
	struct sftp_attrs attrs;
	struct sftp_handle handle;
	char		*name;		/* first name of a NAME reply; owned */
	struct sftp_attrs name_attrs;
	uint8_t		 ext[128];	/* EXTENDED_REPLY bytes */
	size_t		 ext_len;
};
void	sftp_call_cb(struct sftp *s, const struct sftp_reply *r, void *payload);
/*
 * The one "send a request and wait" of the library: sent is what sending
 * the request with sftp_call_cb and c returned (the send is written in
 * the call: sftp_call_wait(s, sftp_stat(s, p, ..., sftp_call_cb, &c), &c,
 * ...)).  Pumps until the reply came; returns 0 when it is not a failed
 * STATUS, else the error, recorded as `what "path": reason`, or the
 * session's failure when the request could not be sent or answered.
 */
int	sftp_call_wait(struct sftp *s, int sent, struct sftp_call *c,
	    const char *what, const char *path, struct ts_error *err);
void	sftp_call_dispose(struct sftp_call *c);

/* The one translation of a failed STATUS reply into a ts_error:
 * `what "path": reason`; returns the code (TS_ENOENT, TS_EACCES, ...). */
int	sftp_status_error(struct ts_error *err, uint32_t status,
	    const char *msg, size_t msg_len, const char *what,
	    const char *path);

#endif
