/*
 * The bytes a run moves, counted where uploads send and downloads receive
 * data: for the progress line, and with --bwlimit held to a rate by one
 * token bucket shared by every connection (each a thread), so the run as
 * a whole stays at the rate.
 */
#ifndef TS_RATELIMIT_H
#define TS_RATELIMIT_H

#include <stdint.h>

#include "treesync.h"

struct ratelimit;

/* A counter, and with rate > 0 a bucket of rate bytes a second; the
 * caller frees it with ratelimit_free.  TS_ENOMEM. */
int	ratelimit_new(struct ratelimit **out, uint64_t rate,
	    struct ts_error *err);
void	ratelimit_free(struct ratelimit *rl);	/* NULL is fine */

/*
 * Accounts for n bytes about to be sent (or just received) and sleeps
 * for as long as the run is ahead of the rate.  NULL rl: returns at
 * once.  Thread-safe.
 */
void	ratelimit_take(struct ratelimit *rl, uint64_t n);
/* The bytes taken so far (retried ones again); 0 for NULL. */
uint64_t ratelimit_moved(struct ratelimit *rl);

#endif
