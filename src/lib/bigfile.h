/* One big file over several connections, for put and get. */
#ifndef TS_BIGFILE_H
#define TS_BIGFILE_H

#include "sftp.h"
#include "treesync.h"

/* How many ranges a file of size bytes is worth with jobs connections;
 * 1: move it whole, on one. */
int	bigfile_parts(uint64_t size, int jobs);
/* Uploads local src to remote target (a file path) in nparts ranges. */
int	bigfile_put(struct ts_xfer_result *res, struct ts_conn *c,
	    const char *src, const char *target, const struct ts_put_opts *o,
	    int nparts, struct ts_error *err);
/* Downloads remote src (attributes was) to local target in nparts. */
int	bigfile_get(struct ts_xfer_result *res, struct ts_conn *c,
	    const char *src, const struct sftp_attrs *was, const char *target,
	    const struct ts_put_opts *o, int nparts, struct ts_error *err);

#endif
