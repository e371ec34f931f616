/* treesync put LOCAL TARGET, treesync get TARGET LOCAL */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void
report(const struct cli *o, const char *verb, const char *from,
    const char *to, const struct ts_xfer_result *r)
{
	if (o->quiet)
		return;
	printf("%s ", verb);
	cli_print_name(stdout, from);
	fputs(" -> ", stdout);
	cli_print_name(stdout, to);
	printf(": %llu bytes, %s", (unsigned long long)r->bytes,
	    r->hash_checked ? (strcmp(r->hash_method, "read-back") == 0 ?
	    "SHA-256 verified by read-back" : "SHA-256 verified") :
	    o->verify == TS_VERIFY_NONE ? "not verified" : "size verified");
	if (r->delta)
		printf(", a delta: %llu bytes sent, %llu copied on the server",
		    (unsigned long long)r->bytes_literal,
		    (unsigned long long)r->bytes_matched);
	putchar('\n');
}

static int
transfer(const struct cli *o, bool upload)
{
	struct ts_put_opts	 po = TS_PUT_OPTS_INIT;
	struct ts_xfer_result	 res;
	struct ts_error		 err = { 0 };
	struct ts_conn		*c;
	const char		*local, *remote;
	int			 rc;

	if (o->nargs != 2) {
		fprintf(stderr, "usage: treesync %s\n", upload ?
		    "put LOCAL_FILE [user@]host:path" :
		    "get [user@]host:path LOCAL_FILE");
		return 2;
	}
	if (!cli_one_remote(upload ? "put" : "get", o->args[0], o->args[1]))
		return 2;
	local = upload ? o->args[0] : o->args[1];
	remote = upload ? o->args[1] : o->args[0];
	po.verify = o->verify;
	po.fsync = o->sync.fsync;
	po.cache_dir = o->sync.cache_dir;
	po.whole_file = o->sync.whole_file;
	po.bwlimit = o->sync.bwlimit;
	if ((c = cli_connect(o, remote, 0, &rc)) == NULL)
		return rc;
	if (upload)
		rc = ts_put(&res, c, local, ts_conn_path(c), &po, &err);
	else
		rc = ts_get(&res, c, ts_conn_path(c), local, &po, &err);
	if (rc != 0)
		rc = cli_fail(&err);
	else
		report(o, upload ? "put" : "get", upload ? local : remote,
		    upload ? remote : local, &res);
	ts_conn_free(c);
	return rc;
}

int
cmd_put(const struct cli *o)
{
	return transfer(o, true);
}

int
cmd_get(const struct cli *o)
{
	return transfer(o, false);
}
