/*
 * A token bucket that may go into debt: a caller takes the bytes it is
 * about to move at once, then sleeps until the bucket is back to zero.
 * One big write thus waits after itself rather than blocking everyone
 * before it, and however the threads interleave, the bytes taken by time
 * t never exceed rate * t plus the burst, so the run keeps to the rate
 * over any span longer than a few chunks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "error.h"
#include "ratelimit.h"

/* Bytes that may go at once after a pause: a tenth of a second's worth,
 * and at least one SFTP write, so a slow rate still moves whole chunks. */
#define RATELIMIT_BURST_MIN	(64 * 1024)

struct ratelimit {
	pthread_mutex_t	 mu;
	double		 rate;		/* bytes a second */
	double		 burst;		/* most tokens the bucket holds */
	double		 tokens;	/* negative: owed, to be slept off */
	double		 last;		/* when tokens was right, seconds */
	_Atomic uint64_t moved;		/* bytes taken, for progress */
};

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
ratelimit_new(struct ratelimit **out, uint64_t rate, struct ts_error *err)
{
	struct ratelimit	*rl;

	*out = NULL;
	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	pthread_mutex_init(&rl->mu, NULL);
	rl->rate = (double)rate;
	rl->burst = rl->rate / 10 > RATELIMIT_BURST_MIN ? rl->rate / 10 :
	    RATELIMIT_BURST_MIN;
	rl->tokens = 0;		/* no burst at the start */
	rl->last = now_s();
	*out = rl;
	return 0;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl);
}

void
ratelimit_take(struct ratelimit *rl, uint64_t n)
{
	struct timespec	 ts;
	double		 t, wait;

	if (rl == NULL || n == 0)
		return;
	atomic_fetch_add(&rl->moved, n);
	if (rl->rate == 0)		/* counted only */
		return;
	pthread_mutex_lock(&rl->mu);
	t = now_s();
	rl->tokens += (t - rl->last) * rl->rate;
	if (rl->tokens > rl->burst)
		rl->tokens = rl->burst;
	rl->last = t;
	rl->tokens -= (double)n;
	wait = rl->tokens < 0 ? -rl->tokens / rl->rate : 0;
	pthread_mutex_unlock(&rl->mu);
	if (wait <= 0)
		return;
	ts.tv_sec = (time_t)wait;
	ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

uint64_t
ratelimit_moved(struct ratelimit *rl)
{
	return rl != NULL ? atomic_load(&rl->moved) : 0;
}
