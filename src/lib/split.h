/*
 * A file much bigger than the rest of a batch, moved as byte ranges by
 * several connections at once (part.c moves one range) into one
 * temporary file, so one big file does not leave all connections but one
 * idle.  The connection that ends the last range checks the whole file
 * (the source unchanged, the size, the SHA-256 with --verify=hash), sets
 * its mtime and mode and renames it into place once.  A range that fails
 * fails the file; its temporary file is removed either way.  A transfer
 * beside xfer.c: it knows files, paths and connections, not jobs.
 */
#ifndef TS_SPLIT_H
#define TS_SPLIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "hash.h"
#include "ratelimit.h"
#include "sftp.h"
#include "treesync.h"

struct split;
struct split_range;

/* How a split file moves and is checked. */
struct split_opts {
	enum ts_verify	 verify;
	bool		 fsync;		/* push: fsync@openssh.com if offered */
	mode_t		 mode_mask;	/* pull: the server's mode bits kept */
	struct ratelimit *rate;		/* --bwlimit, shared; NULL: none */
};

/* --verify=hash: the SHA-256 of remote path into hex, over the
 * connection that ends the file (payload: split_range_end's). */
typedef int	split_hash_fn(const char *path, char hex[HASH_HEX_MAX],
		    void *payload, struct ts_error *err);

/*
 * Push: local file fd (handed over, also on failure; st its fstat when
 * opened) to remote path remote, in nparts ranges, through a temporary
 * file beside it.  what names the file in messages (borrowed, as o).
 */
int	split_new_push(struct split **out, int fd, const struct stat *st,
	    const char *remote, const char *what, int nparts,
	    const struct split_opts *o, struct ts_error *err);
/*
 * Pull: remote file remote (size bytes, mtime seconds, as listed) to name
 * in local directory dirfd (handed over, also on failure), through a
 * temporary file created there now.
 */
int	split_new_pull(struct split **out, int dirfd, const char *name,
	    const char *remote, uint64_t size, int64_t mtime,
	    const char *what, int nparts, const struct split_opts *o,
	    struct ts_error *err);
/* Closes the files; an unfinished pull's temporary file is removed.
 * NULL is fine. */
void	split_free(struct split *sp);
/* Push, not finished: the remote temporary file that may be left on
 * the server (borrowed), else NULL. */
const char *split_leftover(const struct split *sp);
/* Push: the final remote path; pull: the source (borrowed). */
const char *split_remote(const struct split *sp);
/* The local file (borrowed), *st its state: push, the source as opened;
 * pull, the received file now.  -1 if none. */
int	split_local(const struct split *sp, struct stat *st);

/*
 * Starts range k (of nparts) on engine s.  On failure the range counts as
 * failed: *finished says whether that ended the file (its outcome in
 * *err, with the cleanup done on s).
 */
int	split_range_start(struct split_range **out, struct split *sp, int k,
	    struct sftp *s, split_hash_fn *hash, void *hash_payload,
	    bool *finished, struct ts_error *err);
/* A range that could not even be started (e the reason) counts as
 * failed: as split_range_start() when that fails. */
bool	split_range_fail(struct split *sp, struct sftp *s,
	    const struct ts_error *e, split_hash_fn *hash, void *hash_payload,
	    struct ts_error *err);
/* Sends more data requests when the engine has room. */
void	split_range_kick(struct split_range *r);
bool	split_range_done(const struct split_range *r);
struct split *split_range_file(const struct split_range *r);
/*
 * Frees a range that is done and counts it.  Returns true when it was the
 * file's last: the file is then checked and renamed (or its temporary
 * file removed) on the range's connection, waiting for replies (never
 * from a callback), and *err says how it went.
 */
bool	split_range_end(struct split_range *r, split_hash_fn *hash,
	    void *hash_payload, struct ts_error *err);

#endif
