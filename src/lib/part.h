/*
 * One byte range of a file split over several connections: a big file is
 * moved by every connection at once, each writing (or reading) its own
 * range of one temporary file.  A part only moves bytes; the job checks
 * the whole file (size, hash) and renames it once all parts are done.
 */
#ifndef TS_PART_H
#define TS_PART_H

#include <stdint.h>

#include "ratelimit.h"
#include "sftp.h"

struct part;

/* Called on the engine's thread when the part is done (see part_result). */
typedef void	part_fn(struct part *p, void *payload);

/*
 * Upload: writes bytes [off, off + len) of the local file fd (borrowed) to
 * the same offsets of the remote file remote, which must exist (it is
 * opened for writing, neither created nor truncated), then closes it.
 */
int	part_upload(struct part **out, struct sftp *s, int fd,
	    const char *remote, uint64_t off, uint64_t len, part_fn *fn,
	    void *payload, struct ts_error *err);
/*
 * Download: reads bytes [off, off + len) of the remote file and writes
 * them at the same offsets of the local file fd (borrowed).  A file that
 * ends before off + len is an error (it shrank on the server).
 */
int	part_download(struct part **out, struct sftp *s, const char *remote,
	    int fd, uint64_t off, uint64_t len, part_fn *fn, void *payload,
	    struct ts_error *err);

/* Moves the bytes within --bwlimit's rate (rl shared, borrowed). */
void	part_set_rate(struct part *p, struct ratelimit *rl);
/* Sends more data requests when the engine has room. */
void	part_kick(struct part *p);
bool	part_done(const struct part *p);
/* When done: 0, or the first error (sys_errno set for local I/O). */
int	part_result(const struct part *p, struct ts_error *err);
void	part_free(struct part *p);		/* NULL is fine */

#endif
