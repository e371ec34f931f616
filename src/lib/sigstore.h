/*
 * The local signature store: block signatures of file contents the
 * servers hold, so a changed file can be sent as a delta without running
 * anything on the server.  Signatures are keyed by content (64 hex
 * digits from its XXH128: delta.c), so one entry serves every copy of
 * the same bytes: a renamed file, another
 * target, a backup's previous snapshot.  A server file finds its content
 * through what it looked like when treesync wrote it: its name, size and
 * mtime.  That guess is never trusted: a file built from it is checked
 * whole by hash before it is used (delta.h, act.c).
 */
#ifndef TS_SIGSTORE_H
#define TS_SIGSTORE_H

#include <stdint.h>
#include <stdio.h>

#include "hash.h"
#include "treesync.h"

/* Bytes of signatures kept; the least recently used go first. */
#define SIGSTORE_MAX_BYTES	(256ull << 20)

struct sigstore;

/* Opens the store in dir, creating it (and its parents) when missing.
 * *out is the caller's. */
int	sigstore_open(struct sigstore **out, const char *dir,
	    uint64_t max_bytes, struct ts_error *err);
void	sigstore_free(struct sigstore *st);		/* NULL is fine */

/*
 * The signature of what a server file named name (its last component)
 * with this size and mtime (seconds) was recorded holding: *sig open for
 * reading (the caller's to fclose), content its key.  Returns 0, or
 * TS_ENOENT when there is none.  A hit counts as a use (LRU).
 */
int	sigstore_find(struct sigstore *st, const char *name, uint64_t size,
	    int64_t mtime, FILE **sig, char content[HASH_HEX_MAX]);

/* A new signature: *f (written by the caller) at *tmp, a temporary name
 * in the store; both go to sigstore_commit or sigstore_abort. */
int	sigstore_begin(struct sigstore *st, FILE **f, char **tmp,
	    struct ts_error *err);
/* Keeps the signature at tmp as content's and records that a server file
 * named name, of size and mtime, holds content.  Frees tmp, closes f. */
void	sigstore_commit(struct sigstore *st, FILE *f, char *tmp,
	    const char *name, uint64_t size, int64_t mtime,
	    const char *content);
void	sigstore_abort(struct sigstore *st, FILE *f, char *tmp);
/* The two halves of sigstore_commit: keep the signature at tmp as
 * content's (frees tmp, closes f; 0 or -1), and record that a server
 * file holds content.  A partial upload keeps its signature before it
 * starts, so the next run can check the part already there. */
int	sigstore_keep(struct sigstore *st, FILE *f, char *tmp,
	    const char *content);
void	sigstore_record(struct sigstore *st, const char *name, uint64_t size,
	    int64_t mtime, const char *content);
/* The signature of the content whose key starts with the hex digits
 * of prefix: *sig as sigstore_find's, content the whole hash.  Returns
 * 0, or TS_ENOENT. */
int	sigstore_find_content(struct sigstore *st, const char *prefix,
	    FILE **sig, char content[HASH_HEX_MAX]);
/* Drops content's signature and the record of name, size, mtime: a
 * delta built from them did not check out. */
void	sigstore_forget(struct sigstore *st, const char *name, uint64_t size,
	    int64_t mtime, const char *content);

#endif
