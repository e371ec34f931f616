/*
 * put (and backup's file PATHs) with the signature store: the file is
 * sent as a delta when the store knows the server's copy, else whole,
 * and its signature is kept once it is in place.
 */
#ifndef TS_DELTA_PUT_H
#define TS_DELTA_PUT_H

#include <sys/stat.h>

#include "treesync.h"
#include "xfer.h"

/*
 * Uploads local file fd (handed over; st its fstat, src its name) to
 * remote path dst as ts_put does, with opts->cache_dir set: as a delta
 * from opts->delta_base (or dst) when it can, checked by hash on the
 * server; whole otherwise, or when the delta does not check out.
 */
int	delta_put(struct ts_xfer_result *res, struct ts_conn *c, int fd,
	    const struct stat *st, const char *src, const char *dst,
	    const struct ts_put_opts *opts, const struct xfer_opts *xo,
	    struct ts_error *err);

/* get with a store: keeps the signature of local file path, just
 * received from remote path remote, as what the server holds.  Best
 * effort. */
void	delta_keep_got(const char *cache_dir, const char *path,
	    const char *remote);

#endif
