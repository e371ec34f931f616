/*
 * One file put with the signature store (delta_put.h): the same steps as
 * a push's upload in act.c, on one connection and waiting for each.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "delta.h"
#include "delta_put.h"
#include "error.h"
#include "log.h"
#include "sigstore.h"
#include "ssh.h"
#include "xfer_run.h"

static const char *
base_name(const char *path)
{
	const char	*slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

static void
put_tap(const void *p, size_t n, void *payload)
{
	delta_stream_feed(payload, p, n);
}

/* Whether the server runs commands: a delta-built file is checked by
 * hash there, and without that no delta is tried. */
static bool
runs_commands(struct ts_conn *c)
{
	struct buf	 out;
	int		 status = -1;
	bool		 ok;

	buf_init(&out, 256);
	ok = ssh_exec(sftp_ssh(conn_sftp(c)), "echo treesync-exec", NULL, 0,
	    &out, &status, NULL) == 0 && out.len > 0 &&
	    memmem(out.data, out.len, "treesync-exec", 13) != NULL;
	buf_dispose(&out);
	return ok;
}

/* The signature of the server's copy to start from, loaded, or NULL;
 * *bst what the server says of that copy, base_hex its content. */
static struct delta_sig *
put_base(struct sigstore *st, struct ts_conn *c, const char *base,
    struct ts_stat *bst, char base_hex[HASH_HEX_MAX])
{
	struct delta_sig	*sig = NULL;
	struct ts_error		 e = { 0 };
	FILE			*bf;

	if (!sftp_has(conn_sftp(c), SFTP_EXT_COPY_DATA) ||
	    ts_stat(bst, c, base, true, NULL) != 0 ||
	    (bst->mode & 0170000) != 0100000 || !bst->has_size ||
	    !bst->has_times || bst->size < DELTA_MIN_SIZE ||
	    sigstore_find(st, base_name(base), bst->size, bst->mtime, &bf,
	    base_hex) != 0)
		return NULL;
	if (delta_sig_load(&sig, bf, &e) != 0) {
		log_msg(TS_LOG_WARN, "\"%s\": %s; sending it whole", base,
		    e.msg);
		sigstore_forget(st, base_name(base), bst->size, bst->mtime,
		    base_hex);
	}
	fclose(bf);
	if (sig != NULL && !runs_commands(c)) {
		delta_sig_free(sig);
		sig = NULL;
	}
	return sig;
}

int
delta_put(struct ts_xfer_result *res, struct ts_conn *c, int fd,
    const struct stat *st, const char *src, const char *dst,
    const struct ts_put_opts *opts, const struct xfer_opts *xo,
    struct ts_error *err)
{
	const char		*base = opts->delta_base != NULL ?
				    opts->delta_base : dst;
	struct sigstore		*store = NULL;
	struct delta_sig	*sig = NULL;
	struct delta_stream	*ds = NULL;
	struct ts_error		 e = { 0 };
	struct ts_stat		 bst;
	struct delta		 d;
	struct xfer		*x = NULL;
	char			 hex[HASH_HEX_MAX], base_hex[HASH_HEX_MAX];
	struct xfer_opts	 xw;
	char			*sigtmp = NULL;
	FILE			*sigf = NULL;
	bool			 woke = false;
	int			 dfd, rc;

	delta_init(&d);
	memset(&bst, 0, sizeof(bst));
	hex[0] = '\0';
	/* The store only speeds things up: without it, the file goes whole. */
	if (sigstore_open(&store, opts->cache_dir, SIGSTORE_MAX_BYTES,
	    &e) != 0 || sigstore_begin(store, &sigf, &sigtmp, &e) != 0) {
		log_msg(TS_LOG_WARN, "signature store: %s", e.msg);
		error_clear(&e);
		goto whole;
	}
	if (!opts->whole_file)
		sig = put_base(store, c, base, &bst, base_hex);
	/* A delta is made as it is sent (xfer.c); its signature and SHA-256
	 * come with it. */
	if (sig != NULL) {
		if (delta_stream_new_delta(&ds, (uint64_t)st->st_size, sigf,
		    sig, bst.size, false, &e) != 0) {
			log_msg(TS_LOG_WARN, "\"%s\": %s; sending it whole", src,
			    e.msg);
			error_clear(&e);
			goto scan;
		}
		if ((dfd = dup(fd)) == -1) {
			close(fd);
			rc = error_set_errno(err, errno, "dup");
			goto out;
		}
		if ((rc = xfer_upload_delta(&x, conn_sftp(c), dfd, st, src, dst,
		    base, &d, ds, xo, xfer_run_wake, &woke, &e)) == 0)
			rc = xfer_run(res, c, x, &woke, true, dst, "put", &e);
		xfer_free(x);
		x = NULL;
		if (rc == 0 && delta_stream_end(ds, hex)) {
			res->delta = true;
			res->bytes_literal = d.literal;
			res->bytes_matched = d.matched;
			close(fd);
			goto out;
		}
		if (rc == 0) {		/* in place, but no signature */
			res->delta = true;
			res->bytes_literal = d.literal;
			res->bytes_matched = d.matched;
			close(fd);
			sigstore_abort(store, sigf, sigtmp);
			sigf = NULL;
			goto out;
		}
		if (rc == TS_ECONN || rc == TS_ECANCELED || rc == TS_ELOCAL) {
			close(fd);
			rc = error_set(err, e.code, "%s", e.msg);
			goto out;
		}
		log_msg(TS_LOG_WARN, "\"%s\": the delta did not check out (%s); "
		    "sending it whole", dst, e.msg);
		sigstore_forget(store, base_name(base), bst.size, bst.mtime,
		    base_hex);
		error_clear(&e);
		memset(res, 0, sizeof(*res));
		delta_stream_free(ds);
		ds = NULL;
		/* The signature is written again below, from the start. */
		sigstore_abort(store, sigf, sigtmp);
		sigf = NULL;
		sigtmp = NULL;
		if (sigstore_begin(store, &sigf, &sigtmp, &e) != 0) {
			error_clear(&e);
			goto whole;
		}
	}
scan:
	/* Sent whole: the signature and content key are made from the bytes
	 * as they are read for sending, so the file is read once. */
	delta_stream_free(ds);
	ds = NULL;
	if (sigf != NULL && delta_stream_new(&ds, (uint64_t)st->st_size, sigf,
	    &e) != 0) {
		log_msg(TS_LOG_WARN, "signature store: %s", e.msg);
		error_clear(&e);
		sigstore_abort(store, sigf, sigtmp);
		sigf = NULL;
		sigtmp = NULL;
	}
whole:
	woke = false;
	xw = *xo;
	if (ds != NULL) {
		xw.tap = put_tap;
		xw.tap_payload = ds;
	}
	if ((rc = xfer_upload(&x, conn_sftp(c), fd, st, src, dst, &xw,
	    xfer_run_wake, &woke, err)) == 0)
		rc = xfer_run(res, c, x, &woke, true, dst, "put", err);
	xfer_free(x);
	if (rc == 0)
		res->bytes_literal = res->bytes;
	/* Not every byte went through the tap (holes skipped): no entry. */
	if (rc == 0 && sigf != NULL && (ds == NULL ||
	    !delta_stream_end(ds, hex))) {
		sigstore_abort(store, sigf, sigtmp);
		sigf = NULL;
	}
out:
	if (sigf != NULL && rc == 0)
		sigstore_commit(store, sigf, sigtmp, base_name(dst),
		    (uint64_t)st->st_size, (int64_t)st->st_mtim.tv_sec, hex);
	else if (sigf != NULL)
		sigstore_abort(store, sigf, sigtmp);
	delta_stream_free(ds);
	delta_dispose(&d);
	sigstore_free(store);
	return rc;
}

struct delta_got {
	struct sigstore		*store;
	struct delta_stream	*ds;
	FILE			*sig;
	char			*sigtmp;
};

struct delta_got *
delta_got_begin(const char *cache_dir, uint64_t size)
{
	struct delta_got	*g;
	struct ts_error		 e = { 0 };

	if (cache_dir == NULL || size < DELTA_MIN_SIZE ||
	    (g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	if (sigstore_open(&g->store, cache_dir, SIGSTORE_MAX_BYTES, &e) != 0 ||
	    sigstore_begin(g->store, &g->sig, &g->sigtmp, &e) != 0 ||
	    delta_stream_new(&g->ds, size, g->sig, &e) != 0) {
		log_msg(TS_LOG_DEBUG, "signature store: %s", e.msg);
		delta_got_end(g, false, NULL, NULL);
		return NULL;
	}
	return g;
}

void
delta_got_tap(const void *p, size_t n, void *payload)
{
	delta_stream_feed(((struct delta_got *)payload)->ds, p, n);
}

void
delta_got_end(struct delta_got *g, bool ok, const char *path,
    const char *remote)
{
	struct stat	 st;
	char		 hex[HASH_HEX_MAX];

	if (g == NULL)
		return;
	if (ok && g->ds != NULL && delta_stream_end(g->ds, hex) &&
	    stat(path, &st) == 0)
		sigstore_commit(g->store, g->sig, g->sigtmp, base_name(remote),
		    (uint64_t)st.st_size, (int64_t)st.st_mtim.tv_sec, hex);
	else if (g->sig != NULL)
		sigstore_abort(g->store, g->sig, g->sigtmp);
	delta_stream_free(g->ds);
	sigstore_free(g->store);
	free(g);
}
