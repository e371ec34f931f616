/*
 * A received file is flushed to disk (fsync) before it is renamed into
 * place.  Started only then, the flush of a big file waits for all of it
 * (0.3 s for 512 MiB here); flush_ahead starts the writing while bytes
 * are still arriving, so the fsync at the end has only the last ones.
 */
#ifndef TS_FLUSH_AHEAD_H
#define TS_FLUSH_AHEAD_H

#include <stddef.h>
#include <stdint.h>

/* Bytes written to a file since its writing back was last started. */
struct flush_ahead {
	uint64_t	 pending;
};

/* n more bytes were written to fd: past a few MiB, the kernel is asked
 * to start writing the file's dirty pages, without waiting for them.
 * Only an early start: errors show up at the fsync. */
void	flush_ahead(struct flush_ahead *fa, int fd, size_t n);

#endif
