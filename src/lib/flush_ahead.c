/*
 * Writing back ahead of the fsync (flush_ahead.h).  Linux has
 * sync_file_range for it; elsewhere the fsync does all the work, as
 * before.
 */
#include <fcntl.h>

#include "flush_ahead.h"

/* Often enough that little is left for the fsync, rarely enough that the
 * calls cost nothing next to the bytes. */
#define FLUSH_AHEAD_BYTES	(8u << 20)

void
flush_ahead(struct flush_ahead *fa, int fd, size_t n)
{
	fa->pending += n;
	if (fa->pending < FLUSH_AHEAD_BYTES)
		return;
	fa->pending = 0;
#ifdef SYNC_FILE_RANGE_WRITE
	/* The whole file: pages already being written are left alone. */
	(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
	(void)fd;
#endif
}
