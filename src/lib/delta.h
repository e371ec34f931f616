/*
 * Delta uploads: which bytes of a new file the server already holds in
 * the old one.  rsync's algorithm (delta.c, docs/delta.md): the old file's
 * block signatures (rolling checksum and strong hash per block) against one
 * read of the new file give COPY commands (bytes the server copies from
 * the old file with copy-data) and LITERAL ones (bytes sent).
 */
#ifndef TS_DELTA_H
#define TS_DELTA_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hash.h"
#include "treesync.h"

/* Smaller files are always sent whole: a signature and a delta cost
 * more round trips and local work than the bytes they could save. */
#define DELTA_MIN_SIZE	(1u << 20)

/* One step of building the new file: bytes [off, off + len) of it are
 * either copied from base_off of the old file, or sent (the new file's
 * own bytes at off). */
struct delta_cmd {
	uint64_t	 off;
	uint64_t	 len;
	uint64_t	 base_off;
	bool		 copy;
};

struct delta {
	struct delta_cmd *v;
	size_t		 n, cap;
	uint64_t	 literal;	/* bytes to send */
	uint64_t	 matched;	/* bytes the server copies */
};

struct delta_sig;			/* a signature loaded for matching */

void	delta_init(struct delta *d);
void	delta_dispose(struct delta *d);		/* empty is fine */

/* Loads a signature written by delta_scan or a delta_stream and indexes
 * it for matching; *out is the caller's (delta_sig_free).  A damaged
 * one is an error. */
int	delta_sig_load(struct delta_sig **out, FILE *f, struct ts_error *err);
void	delta_sig_free(struct delta_sig *sig);		/* NULL is fine */

/*
 * Reads local file fd (borrowed) from 0 to size once and computes from
 * it: its key in the signature store (hex, always: 64 hex digits made
 * from its XXH128, see delta.c), its XXH128 (xxh, when not NULL:
 * a cheaper check on the server where xxhsum is), its block signature written to
 * sig_out (when not NULL), and with base (the old file's signature, of
 * base_size bytes) the commands that build it from the old file, into d.
 * Returns 0 or an error (a short read: the file changed).
 */
int	delta_scan(int fd, uint64_t size, struct delta_sig *base,
	    uint64_t base_size, FILE *sig_out, char hex[HASH_HEX_MAX],
	    char *xxh, struct delta *d, struct ts_error *err);

/*
 * A signature and content key made from bytes fed in file order as they
 * are read for sending, so a file sent whole is read once.
 * delta_stream_end says whether exactly size bytes came; then hex is
 * their key (as delta_scan's) and the signature is written to out
 * (borrowed).
 */
struct delta_stream;
int	delta_stream_new(struct delta_stream **out, uint64_t size, FILE *sig,
	    struct ts_error *err);
void	delta_stream_feed(struct delta_stream *ds, const void *p, size_t n);

/*
 * A delta made as it is sent: the stream reads the file itself, a part
 * at a time (delta_stream_scan), so the server copies and writes the
 * first parts while the rest is read and matched.  base (handed over)
 * is the old file's signature, of base_size bytes; with xxh, the check
 * hash (delta_stream_check) is XXH128, else SHA-256.  The new file's
 * signature is made from base's where a block of the new file is one of
 * its blocks (the delta found it so), computed only for the others.
 */
int	delta_stream_new_delta(struct delta_stream **out, uint64_t size,
	    FILE *sig, struct delta_sig *base, uint64_t base_size, bool xxh,
	    struct ts_error *err);
/* Reads and matches the next part of fd (borrowed), appending its
 * commands to d: an earlier last command may grow.  Returns 1 once the
 * whole file is done, 0 when there is more, or an error (TS_ELOCAL: the
 * file changed). */
int	delta_stream_scan(struct delta_stream *ds, int fd, struct delta *d,
	    struct ts_error *err);
/* The hash the server's is compared with, once scanned; else NULL. */
const char *delta_stream_check(const struct delta_stream *ds);

bool	delta_stream_end(struct delta_stream *ds, char hex[HASH_HEX_MAX]);
/* Ends the signature where the bytes stopped (an upload cut short): the
 * signature of what was fed, for the next run to continue from.  Returns
 * whether it was written. */
bool	delta_stream_cut(struct delta_stream *ds);
void	delta_stream_free(struct delta_stream *ds);	/* NULL is fine */

#endif
