/* Cancellation: a flag set from a signal handler, read by every loop. */
#ifndef TS_CANCEL_H
#define TS_CANCEL_H

#include <stdbool.h>

bool	cancel_requested(void);

#endif
