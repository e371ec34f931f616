/*
 * A delta-built file checked range by range while it is built: one
 * command on the server for the file, started with the upload, hashes
 * each range (XXH128 of `dd ... | xxhsum`) as soon as every request
 * writing it has answered.  The whole file is still checked, but once
 * its last byte is there only the last range is left to hash, where the
 * whole file's hash took the server tens of milliseconds per 256 MiB.
 * Under libssh2 nothing starts: the caller checks the whole file.
 */
#ifndef TS_RANGE_CHECK_H
#define TS_RANGE_CHECK_H

#include <stdint.h>

#include "hash.h"
#include "ssh.h"

/* Ranges are range_mib MiB (dd counts in MiB), the last one shorter. */
struct range_check;

/* Starts the command for remote file path of size bytes; NULL when the
 * transport cannot (libssh2), or it failed (then: the whole file). */
struct range_check *range_check_start(struct ssh *ssh, const char *path,
	    uint64_t size, uint32_t range_mib);
uint64_t range_check_ranges(const struct range_check *rc);
/* The ranges asked for so far: 0..asked-1. */
uint64_t range_check_asked(const struct range_check *rc);
/* Asks for the hash of the next range (in order). */
int	range_check_ask_next(struct range_check *rc, struct ts_error *err);

/*
 * Asks for the ranges left, waits for every answer and compares range k
 * with local[k] (hex, all ranges).  Returns 1 when all are equal, 0 when
 * one differs (err says which), -1 when the server could not answer
 * every range (check the whole file instead).  Frees rc.
 */
int	range_check_finish(struct range_check *rc, const char *const *local,
	    struct ts_error *err);
void	range_check_drop(struct range_check *rc);	/* NULL is fine */

/* Reads the command's output: "SKIP HEX" lines, SKIP the range's start
 * in MiB.  Fills hex[k] of the ranges found (n of them, range_mib each);
 * returns how many lines were good.  Pure, for the tests. */
uint64_t range_check_parse(const char *out, size_t len, uint32_t range_mib,
	    uint64_t n, char (*hex)[HASH_HEX_MAX]);

#endif
