/*
 * The openssh transport: the system's ssh client as a child process, the
 * SFTP stream on its stdin and stdout, its stderr kept for messages.
 * ssh.c drives it behind the same functions as a libssh2 session.
 */
#ifndef TS_SSHPROC_H
#define TS_SSHPROC_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "treesync.h"

/* What becomes ssh's command line; NULL or 0: ssh's own choice (its
 * config decides). */
struct sshproc_opts {
	const char	*rsh;		/* -e COMMAND; NULL: "ssh" */
	const char	*host;		/* as the user gave it: an alias */
	int		 port;
	const char	*user;
	const char	*config;	/* -F */
	const char	*identity;
	const char	*known_hosts;
	bool		 accept_new;
	int		 connect_timeout_s;
	int		 keepalive_s;
	bool		 compress;	/* -z: ssh -C */
	bool		 no_mux;	/* a login of its own, never a ride */
	const char	*connect_helper; /* ts_conn_opts.connect_helper */
	/* Not NULL: ssh asks for key passphrases through it (SSH_ASKPASS),
	 * else ssh runs in batch mode and never asks. */
	ts_passphrase_fn *passphrase;
	void		*passphrase_payload;
};

struct sshproc;

/* Returned by sshproc_read and sshproc_write when ssh is gone or the
 * stream ended: sshproc_error then says why. */
#define SSHPROC_DEAD	(-1000)

/* Starts ssh with the sftp subsystem; *out is the caller's.  Fails only
 * when ssh cannot be started: a refused login shows as SSHPROC_DEAD on
 * the first read. */
int	sshproc_start(struct sshproc **out, const struct sshproc_opts *o,
	    struct ts_error *err);
/* Ends the stream and reaps ssh: politely unless broken.  NULL is fine. */
void	sshproc_free(struct sshproc *p, bool broken);
/* Ends the stream only: ssh says goodbye to the server (a round trip)
 * while the caller hangs up its other connections; sshproc_free reaps. */
void	sshproc_hangup(struct sshproc *p);

/* The connection failed: a session that stalls or dies most likely went
 * down with the connection it rides, so new ones log in afresh. */
void	sshproc_retire(struct sshproc *p);

/* Non-blocking: bytes moved, LIBSSH2_ERROR_EAGAIN (the same number, so
 * callers test one value), or SSHPROC_DEAD. */
ssize_t	sshproc_write(struct sshproc *p, const void *data, size_t len);
ssize_t	sshproc_read(struct sshproc *p, void *data, size_t len);

/* Fills up to SSHPROC_POLL_MAX pollfds (the stream, ssh's stderr, its
 * passphrase questions) and returns how many; sshproc_polled() then reads
 * what ssh said, and answers. */
#define SSHPROC_POLL_MAX	3
int	sshproc_poll_prepare(struct sshproc *p, bool want_read,
	    struct pollfd *pfd);
void	sshproc_polled(struct sshproc *p, const struct pollfd *pfd, int n);

/* Waits for ssh to end and records why the stream ended: ssh's own line
 * quoted, the code from what it said (host key, login, connection).
 * Returns the code. */
int	sshproc_error(struct sshproc *p, const char *host, const char *what,
	    struct ts_error *err);

/* Runs cmd on the server over the same connection (its control socket),
 * as ssh_exec() does. */
int	sshproc_exec(struct sshproc *p, const char *cmd, const void *in,
	    size_t inlen, struct buf *out, int *exit_status, int timeout_ms,
	    int cancel_fd, struct ts_error *err);

/* The same in two steps, so that a command starts (its session opened,
 * the command running on the server) before its input is known:
 * sshproc_exec_finish then feeds it in and collects; it, or
 * sshproc_exec_drop when the command is not wanted, ends *out. */
int	sshproc_exec_start(struct sshproc *p, const char *cmd,
	    struct sshproc **out, struct ts_error *err);
int	sshproc_exec_finish(struct sshproc *p, struct sshproc *c,
	    const void *in, size_t inlen, struct buf *out, int *exit_status,
	    int timeout_ms, int cancel_fd, struct ts_error *err);
void	sshproc_exec_drop(struct sshproc *c);

/* Where the program that runs for "ssh" (or the first word of rsh) is,
 * in out; returns false when it is not on PATH. */
bool	sshproc_find(const char *rsh, char *out, size_t size);

#endif
