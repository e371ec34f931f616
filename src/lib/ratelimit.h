/*
 * --bwlimit: one token bucket for a whole run, shared by every connection
 * (each a thread), so the run as a whole stays at the rate.
 */
#ifndef TS_RATELIMIT_H
#define TS_RATELIMIT_H

#include <stdint.h>

#include "treesync.h"

struct ratelimit;

/* A bucket of rate bytes a second; the caller frees it with
 * ratelimit_free.  TS_ENOMEM, or TS_EINVAL for a rate of 0. */
int	ratelimit_new(struct ratelimit **out, uint64_t rate,
	    struct ts_error *err);
void	ratelimit_free(struct ratelimit *rl);	/* NULL is fine */

/*
 * Accounts for n bytes about to be sent (or just received) and sleeps
 * for as long as the run is ahead of the rate.  NULL rl: returns at
 * once.  Thread-safe.
 */
void	ratelimit_take(struct ratelimit *rl, uint64_t n);

#endif
