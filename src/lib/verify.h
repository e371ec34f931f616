/* Hashing files on the server, to compare with what we sent or got. */
#ifndef TS_VERIFY_H
#define TS_VERIFY_H

#include <pthread.h>
#include <stdbool.h>

#include "hash.h"
#include "sftp.h"

/*
 * Hashes n remote files with one command over an exec channel
 * (sha256sum, or xxhsum -H2 for HASH_XXH128); the names go on stdin,
 * NUL-separated, never into the command line.  hex[i] gets each file's
 * hash, or "" when the server could not hash that file.  Returns 0, or
 * TS_EREMOTE when the server cannot run the command at all (no exec,
 * no such tool): callers then read the files back over SFTP.
 */
int	verify_remote_hash(struct ssh *ssh, enum hash_kind kind,
	    const char *const *paths, size_t n, char (*hex)[HASH_HEX_MAX],
	    struct ts_error *err);

/* The hash command of kind started now, ahead of its file names (its
 * session's round trips then overlap the transfer), or NULL where the
 * transport cannot (libssh2) or it failed: verify_remote_hash_started
 * takes it, ssh_exec_drop drops it unused. */
struct ssh_cmd *verify_hash_start(struct ssh *ssh, enum hash_kind kind);
/* verify_remote_hash through started (taken; NULL: a new command).  A
 * started command that failed is tried once more afresh. */
int	verify_remote_hash_started(struct ssh *ssh, struct ssh_cmd *started,
	    enum hash_kind kind, const char *const *paths, size_t n,
	    char (*hex)[HASH_HEX_MAX], struct ts_error *err);

/* What the server can run, found out with one command (no file name in
 * it): whether it runs commands at all, and which hash programs it has. */
struct server_tools {
	bool		 exec;
	bool		 sha256sum, xxhsum;
};
void	verify_server_tools(struct ssh *ssh, struct server_tools *out);

/*
 * The same question asked early, beside the walk: under openssh the
 * command is an ssh process of its own, so a thread can wait for it
 * while the connection lists the tree (three round trips taken off the
 * first delta or hash check).  Under libssh2 a session is one thread's
 * at a time: nothing starts, and tools_probe_take says so.
 */
struct tools_probe {
	pthread_mutex_t	 mu;
	pthread_cond_t	 answer;	/* signalled with answered */
	pthread_t	 th;
	struct ssh	*ssh;
	bool		 started, joined;
	bool		 answered;	/* the thread has set t */
	struct server_tools t;
};
void	tools_probe_init(struct tools_probe *p);
void	tools_probe_start(struct tools_probe *p, struct ssh *ssh);
/* The answer, waited for: false when no probe was started. */
bool	tools_probe_take(struct tools_probe *p, struct server_tools *out);
/* Whether a started probe is still waiting for the server's answer. */
bool	tools_probe_pending(struct tools_probe *p);
void	tools_probe_dispose(struct tools_probe *p);	/* waits for it */

/*
 * The parser behind verify_remote_hash, pure: fills hex[i] for each of
 * paths[0..n) that out (the command's output, outlen bytes, from the
 * server and so untrusted) reports, leaves the others alone, and
 * returns how many it filled.
 */
size_t	verify_parse_output(enum hash_kind kind, const char *const *paths,
	    size_t n, const uint8_t *out, size_t outlen,
	    char (*hex)[HASH_HEX_MAX]);

/* Hashes a remote file by reading it over SFTP (servers without exec). */
int	verify_read_back(struct sftp *s, const char *path, enum hash_kind kind,
	    char *hex, struct ts_error *err);

#endif
