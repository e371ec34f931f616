/*
 * put and get: one file to or from the server, verified, renamed into
 * place atomically (ts_put, ts_get in treesync.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "delta_put.h"
#include "error.h"
#include "local_open.h"
#include "log.h"
#include "path.h"
#include "ratelimit.h"
#include "version.h"
#include "xfer.h"
#include "xfer_run.h"

/* Where a copy of src lands when dst may name a directory: dst itself,
 * or dst/basename(src). */
static char *
join_basename(const char *dir, const char *src)
{
	const char	*base = strrchr(src, '/');

	return path_join(dir, base != NULL ? base + 1 : src);
}

/*
 * After a put to target failed with TS_ENOENT: when what stands in the way
 * is a file (target's parent, or an ancestor of it), says so in err, for
 * "the directory does not exist" would send the user to create what is
 * there already.  Returns true when it did; one stat a level, failures
 * only.
 */
static bool
put_parent_is_file(struct ts_conn *c, const char *target, struct ts_error *err)
{
	struct ts_stat	 st;
	char		*dir, *slash;
	bool		 said = false;

	if ((dir = strdup(target)) == NULL)
		return false;
	while ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (ts_stat(&st, c, dir, true, NULL) != 0)
			continue;		/* missing too: look higher */
		if ((st.mode & 0170000) != 0040000) {
			error_set(err, TS_ENOENT, "put \"%s\": \"%s\" is a "
			    "file, not a directory", target, dir);
			said = true;
		}
		break;
	}
	free(dir);
	return said;
}

int
ts_put(struct ts_xfer_result *out, struct ts_conn *c, const char *src,
    const char *dst, const struct ts_put_opts *opts, struct ts_error *err)
{
	struct ts_put_opts	 def = TS_PUT_OPTS_INIT;
	struct ts_xfer_result	 res = { 0 };
	struct xfer_opts	 xo = { 0 };
	struct ts_stat		 st;
	struct ts_error		 e = { 0 };
	struct stat		 lst;
	struct xfer		*x = NULL;
	struct ratelimit	*rl = NULL;
	char			*target = NULL;
	bool			 woke = false;
	int			 fd, rc;

	if (opts == NULL)
		opts = &def;
	if ((rc = version_check_opts(opts->version, TS_PUT_OPTS_VERSION,
	    "ts_put_opts", err)) != 0)
		return rc;
	if (stat(src, &lst) != 0)
		return error_set_errno(err, errno, "local file \"%s\"", src);
	if (S_ISDIR(lst.st_mode))
		return error_set(err, TS_EINVAL, "\"%s\" is a directory; put "
		    "copies one file (use push for trees)", src);
	/* Opened first: a FIFO or a device is refused before the server is
	 * asked anything, and never blocks. */
	if ((rc = local_open_named(&fd, &lst, src, err)) != 0)
		return rc;
	/* An existing directory (or a path ending in '/') receives the file
	 * under its own name. */
	if (*dst == '\0' || dst[strlen(dst) - 1] == '/' ||
	    (ts_stat(&st, c, dst, true, NULL) == 0 &&
	    (st.mode & 0170000) == 0040000))
		target = join_basename(*dst == '\0' ? "." : dst, src);
	else
		target = strdup(dst);
	if (target == NULL) {
		close(fd);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	xfer_opts_for(&xo, opts->verify, opts->keep_mode);
	xo.fsync = opts->fsync;
	if (opts->bwlimit > 0 && (rc = ratelimit_new(&rl, opts->bwlimit,
	    &e)) != 0) {
		close(fd);
		free(target);
		return error_set(err, e.code, "%s", e.msg);
	}
	xo.rate = rl;
	if (opts->cache_dir != NULL && (uint64_t)lst.st_size >= DELTA_MIN_SIZE)
		rc = delta_put(&res, c, fd, &lst, src, target, opts, &xo, &e);
	else if ((rc = xfer_upload(&x, conn_sftp(c), fd, &lst, src, target,
	    &xo, xfer_run_wake, &woke, &e)) == 0)
		rc = xfer_run(&res, c, x, &woke, true, target, "put", &e);
	if (rc != 0 && !(rc == TS_ENOENT && sftp_failed(conn_sftp(c)) == NULL &&
	    put_parent_is_file(c, target, err)) && err != NULL &&
	    err->code == TS_OK)
		*err = e;
	if (res.rename_fallback)
		log_msg(TS_LOG_WARN, "the server has no posix-rename: \"%s\" was "
		    "replaced through a backup name, not atomically", target);
	xfer_free(x);
	ratelimit_free(rl);
	free(target);
	if (out != NULL)
		*out = res;
	return rc;
}

int
ts_get(struct ts_xfer_result *out, struct ts_conn *c, const char *src,
    const char *dst, const struct ts_put_opts *opts, struct ts_error *err)
{
	struct ts_put_opts	 def = TS_PUT_OPTS_INIT;
	struct ts_xfer_result	 res = { 0 };
	struct xfer_opts	 xo = { 0 };
	struct ts_stat		 st;
	struct stat		 lst;
	struct xfer		*x = NULL;
	struct ratelimit	*rl = NULL;
	struct delta_got	*got = NULL;
	char			*target = NULL;
	bool			 woke = false;
	int			 rc;

	memset(&st, 0, sizeof(st));
	if (opts == NULL)
		opts = &def;
	if ((rc = version_check_opts(opts->version, TS_PUT_OPTS_VERSION,
	    "ts_put_opts", err)) != 0)
		return rc;
	if (*src == '\0')
		return error_set(err, TS_EINVAL, "get needs a remote file name");
	/* A directory opens for reading on most servers and fails only at
	 * the first read ("read: failure"): ask first, one round trip.  A
	 * failed stat says nothing the download would not say better. */
	if (ts_stat(&st, c, src, true, NULL) == 0 &&
	    (st.mode & 0170000) == 0040000)
		return error_set(err, TS_EINVAL, "\"%s\" is a directory on the "
		    "server; get copies one file (use treesync pull for "
		    "trees)", src);
	if (*dst == '\0' || dst[strlen(dst) - 1] == '/' ||
	    (stat(dst, &lst) == 0 && S_ISDIR(lst.st_mode)))
		target = join_basename(*dst == '\0' ? "." : dst, src);
	else
		target = strdup(dst);
	if (target == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	xfer_opts_for(&xo, opts->verify, opts->keep_mode);
	if (opts->bwlimit > 0 && (rc = ratelimit_new(&rl, opts->bwlimit,
	    err)) != 0) {
		free(target);
		return rc;
	}
	xo.rate = rl;
	if (st.has_size && (got = delta_got_begin(opts->cache_dir,
	    st.size)) != NULL) {
		xo.tap = delta_got_tap;
		xo.tap_payload = got;
	}
	if ((rc = xfer_download(&x, conn_sftp(c), src, target, &xo,
	    xfer_run_wake, &woke, err)) == 0)
		rc = xfer_run(&res, c, x, &woke, false, src, "get", err);
	delta_got_end(got, rc == 0, target, src);
	xfer_free(x);
	ratelimit_free(rl);
	free(target);
	if (out != NULL)
		*out = res;
	return rc;
}
