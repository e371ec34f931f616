/*
 * The SSH layer, the transport under the SFTP engine: a byte stream to the
 * server's sftp subsystem and commands run with a stdin.  Two kinds behind
 * the same functions: one TCP connection and one libssh2 session (always
 * non-blocking, so that every wait is a poll() with a timeout), or the
 * system's ssh as a child process (sshproc.c).
 */
#ifndef TS_SSH_H
#define TS_SSH_H

#include <libssh2.h>

#include "buf.h"
#include "sshproc.h"
#include "treesync.h"

struct ssh_opts {
	const char	*host;		/* to connect to (HostName) */
	int		 port;
	const char	*user;
	const char	*const *identities;	/* tried in order, after the agent */
	size_t		 n_identities;
	bool		 identities_only; /* no agent keys */
	const char	*const *known_hosts;	/* [0] records new keys */
	size_t		 n_known_hosts;
	bool		 accept_new;
	int		 connect_timeout_ms;
	int		 io_timeout_ms;
	int		 keepalive_s;
	ts_passphrase_fn *passphrase;
	void		*passphrase_payload;
	int		 cancel_fd;	/* readable: give up; -1: none */
	/* Told, once the key exchange is done (before the host key is
	 * checked), how long connecting took since the TCP connect began:
	 * about three round trips.  NULL: nobody asks. */
	void		(*on_handshake)(void *arg, int ms);
	void		*on_handshake_arg;
	/* Not NULL: the openssh transport, with these words for ssh (the
	 * fields above but host, io_timeout_ms and cancel_fd unused). */
	const struct sshproc_opts *openssh;
	bool		 compress;	/* offer zlib compression */
};

struct ssh {
	int		 fd;
	LIBSSH2_SESSION	*session;
	int		 io_timeout_ms;
	int		 cancel_fd;	/* as in ssh_opts */
	int		 auth_ms;	/* logging in took: three round trips */
	char		 host[256];	/* for messages */
	char		 auth[160];	/* how it logged in, for probe */
	bool		 broken;	/* failed: no goodbye on free */
	int		 port;
	struct sshproc	*proc;		/* the openssh transport, or NULL */
};

/* Connects, checks the host key, logs in; *out is the caller's. */
int	ssh_connect(struct ssh **out, const struct ssh_opts *o,
	    struct ts_error *err);
void	ssh_free(struct ssh *s);		/* NULL is fine */
/* No more use of s: under openssh, its ssh starts saying goodbye now, so
 * that connections hung up together close in one round trip, not one
 * each; ssh_free still follows. */
void	ssh_hangup(struct ssh *s);
/* The connection failed: no goodbye on free, and no new session rides
 * the same ssh connection (openssh). */
void	ssh_set_broken(struct ssh *s);

/* Waits up to timeout_ms for the socket to be ready in the directions
 * libssh2 last blocked on (and for input when want_read).  Returns 0,
 * or TS_ECONN when the time ran out or the socket failed. */
int	ssh_wait(struct ssh *s, int timeout_ms, bool want_read,
	    struct ts_error *err);
/* ssh_wait() for n sessions (at most SSH_WAIT_MAX, none with a
 * cancel_fd), always for input: returns 0 once any is ready, or TS_ECONN
 * when none was for timeout_ms. */
#define SSH_WAIT_MAX	16
int	ssh_wait_many(struct ssh *const *v, size_t n, int timeout_ms);
/* Records libssh2's last error on this session; returns the ts_code. */
int	ssh_error(struct ssh *s, int rc, struct ts_error *err, const char *what);
/* Sends a keepalive when one is due. */
void	ssh_keepalive(struct ssh *s);

/* Opens a session channel with a large window and starts the subsystem
 * (e.g. "sftp").  *out is the caller's, freed with ssh_channel_close.
 * Under openssh, ssh started the sftp subsystem itself: *out is NULL. */
int	ssh_open_subsystem(LIBSSH2_CHANNEL **out, struct ssh *s,
	    const char *name, struct ts_error *err);
void	ssh_channel_close(struct ssh *s, LIBSSH2_CHANNEL *ch);
/* The subsystem's stream, non-blocking: bytes moved, 0 at its end,
 * LIBSSH2_ERROR_EAGAIN, or another negative number for ssh_error(). */
ssize_t	ssh_stream_write(struct ssh *s, LIBSSH2_CHANNEL *ch,
	    const void *data, size_t len);
ssize_t	ssh_stream_read(struct ssh *s, LIBSSH2_CHANNEL *ch, void *data,
	    size_t len);

/*
 * Runs cmd over an exec channel, writes in[0..inlen) to its stdin then
 * EOF, and collects stdout into out (stderr is discarded).  Returns 0 with
 * *exit_status set (-1 when the server sent none), or an error when the
 * channel could not be used or stdout passed out's maximum.
 */
int	ssh_exec(struct ssh *s, const char *cmd, const void *in, size_t inlen,
	    struct buf *out, int *exit_status, struct ts_error *err);

/*
 * The same in two steps, under the openssh transport: ssh_exec_start
 * opens the session and starts cmd now (*out NULL under libssh2, where a
 * session belongs to one thread's loop: call ssh_exec then), and
 * ssh_exec_finish feeds it in and collects later, with the session's
 * round trips already behind.  ssh_exec_finish, or ssh_exec_drop when
 * the command is not wanted, ends it.
 */
struct ssh_cmd;
int	ssh_exec_start(struct ssh *s, const char *cmd, struct ssh_cmd **out,
	    struct ts_error *err);
int	ssh_exec_finish(struct ssh *s, struct ssh_cmd *c, const void *in,
	    size_t inlen, struct buf *out, int *exit_status,
	    struct ts_error *err);
void	ssh_exec_drop(struct ssh_cmd *c);

#endif
