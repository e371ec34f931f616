/* One transfer driven to its end on a connection (xfer_run.h). */
#include <stdbool.h>
#include <string.h>

#include "conn.h"
#include "error.h"
#include "log.h"
#include "verify.h"
#include "xfer.h"
#include "xfer_run.h"

void
xfer_run_wake(struct xfer *x, void *payload)
{
	(void)x;
	*(bool *)payload = true;
}

int
xfer_run(struct ts_xfer_result *res, struct ts_conn *c, struct xfer *x,
    bool *woke, bool upload, const char *remote, const char *what,
    struct ts_error *err)
{
	struct sftp	*s = conn_sftp(c);
	char		 theirs[1][HASH_HEX_MAX];
	struct ts_error	 why = { 0 };
	const char	*paths[1];
	int		 rc;

	while (xfer_phase(x) == XFER_RUNNING) {
		*woke = false;
		xfer_kick(x);
		while (!*woke)
			if (sftp_pump(s, NULL) != 0)
				break;
		if (sftp_failed(s) != NULL && xfer_phase(x) ==
		    XFER_RUNNING)
			continue;	/* the failure reaches x as a reply */
	}
	if (xfer_phase(x) == XFER_VERIFY) {
		/* Hash on the server; without exec, read the bytes back. */
		paths[0] = upload ? xfer_tmp_path(x) : remote;
		res->hash_method = "sha256sum";
		rc = verify_remote_hash(sftp_ssh(s), HASH_SHA256, paths, 1, theirs,
		    NULL);
		if (rc != 0 && sftp_failed(s) == NULL) {
			log_msg(TS_LOG_INFO, "the server cannot hash files; "
			    "checking \"%s\" by read-back over SFTP", remote);
			res->hash_method = "read-back";
			rc = verify_read_back(s, paths[0], HASH_SHA256,
			    theirs[0], &why);
		}
		if (rc == 0 && strcmp(theirs[0], xfer_hash(x)) != 0)
			error_set(&why, TS_EVERIFY, "%s \"%s\": SHA-256 on the "
			    "server (%.16s...) differs from the bytes %s "
			    "(%.16s...)", what, remote, theirs[0],
			    upload ? "sent" : "received", xfer_hash(x));
		else if (rc != 0 && why.code == TS_OK)
			error_set(&why, TS_EVERIFY, "%s \"%s\": could not hash "
			    "it on the server", what, remote);
		res->hash_checked = why.code == TS_OK;
		*woke = false;
		xfer_commit(x, why.code == TS_OK, &why);
		while (xfer_phase(x) != XFER_DONE)
			if (sftp_pump(s, NULL) != 0 &&
			    xfer_phase(x) != XFER_DONE)
				continue;
	}
	res->bytes = xfer_bytes(x);
	res->rename_fallback = xfer_used_rename_fallback(x);
	return xfer_result(x, err);
}

