/*
 * One transfer (xfer.h) driven to its end on a connection nothing else
 * drives meanwhile: the bytes, then the SHA-256 on the server (or read
 * back over SFTP where it runs no commands), then the rename.  What put,
 * get and delta_put do with one file.
 */
#ifndef TS_XFER_RUN_H
#define TS_XFER_RUN_H

#include <stdbool.h>

#include "treesync.h"
#include "xfer.h"

/* The xfer_fn that sets *(bool *)payload: the transfer has news. */
void	xfer_run_wake(struct xfer *x, void *payload);
/*
 * Drives x (started with xfer_run_wake and woke) to XFER_DONE: upload
 * says which way it goes, remote and what name it in messages.  Fills
 * *res; returns the transfer's result.
 */
int	xfer_run(struct ts_xfer_result *res, struct ts_conn *c, struct xfer *x,
	    bool *woke, bool upload, const char *remote, const char *what,
	    struct ts_error *err);

#endif
