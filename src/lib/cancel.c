/*
 * ts_cancel() may run in a signal handler: it only stores to a lock-free
 * atomic.  Transfers see the flag before each request they would send,
 * stop, and remove their temporary files; jobs start nothing new.  The
 * flag stays set until ts_cancel_reset(), so that a job started just
 * after a Ctrl-C stops too rather than running as if none came.
 */
#include <stdatomic.h>

#include "cancel.h"
#include "treesync.h"

static atomic_int	 canceled;

void
ts_cancel(void)
{
	atomic_store(&canceled, 1);
}

bool
cancel_requested(void)
{
	return atomic_load(&canceled) != 0;
}

void
ts_cancel_reset(void)
{
	atomic_store(&canceled, 0);
}
