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

/*
 * get with a store: the signature of what the server holds, made from
 * the bytes as they arrive (the download's tap, in file order), so the
 * file is not read again.  delta_got_begin returns NULL when there is
 * nothing to keep (a small file, no store); delta_got_end keeps the
 * signature under remote path remote when ok and every one of the size
 * bytes came, local file path (as received) giving its mtime, and frees
 * g.  Best effort: a store that fails only costs the next delta.
 */
struct delta_got;
struct delta_got *delta_got_begin(const char *cache_dir, uint64_t size);
void	delta_got_tap(const void *p, size_t n, void *payload);
void	delta_got_end(struct delta_got *g, bool ok, const char *path,
	    const char *remote);

#endif
