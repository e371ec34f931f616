/*
 * Remote hashing.  The command line is fixed text; file names reach the
 * server only as data on stdin (xargs -0), so no name is ever parsed by a
 * shell.  sha256sum -z ends each output record with NUL and leaves names
 * unescaped, so any name (newlines included) comes back intact.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "ssh.h"
#include "verify.h"
#include "xfer.h"

#define VERIFY_CMD_SHA256	"LC_ALL=C xargs -0 -r sha256sum -z --"
#define VERIFY_CMD_XXH128	"LC_ALL=C xargs -0 -r xxhsum -H2 --"

static bool
is_hex(const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

/*
 * Reads what sha256sum -z or xxhsum -H2 printed: records are
 * "<hex>  <name>" (or " *<name>"), in input order, ended by NUL (sha256)
 * or newline (xxhsum); a file the server could not read has no record,
 * and a record for no name asked about is skipped.
 */
size_t
verify_parse_output(enum hash_kind kind, const char *const *paths, size_t n,
    const uint8_t *out, size_t outlen, char (*hex)[HASH_HEX_MAX])
{
	size_t		 i, next = 0, hexlen, p, end, found = 0;
	char		 sep = kind == HASH_SHA256 ? '\0' : '\n';

	hexlen = kind == HASH_SHA256 ? 64 : 32;
	for (p = 0; p < outlen; p = end + 1) {
		const char	*rec = (const char *)out + p, *name;
		size_t		 len;

		end = p;
		while (end < outlen && out[end] != (uint8_t)sep)
			end++;
		len = end - p;
		if (len < hexlen + 2 || !is_hex(rec, hexlen) ||
		    rec[hexlen] != ' ' ||
		    (rec[hexlen + 1] != ' ' && rec[hexlen + 1] != '*'))
			continue;
		name = rec + hexlen + 2;
		len -= hexlen + 2;
		for (i = next; i < n; i++)
			if (strlen(paths[i]) == len &&
			    memcmp(paths[i], name, len) == 0)
				break;
		if (i == n)
			continue;
		memcpy(hex[i], rec, hexlen);
		hex[i][hexlen] = '\0';
		next = i + 1;
		found++;
	}
	return found;
}

static const char *
hash_cmd(enum hash_kind kind)
{
	return kind == HASH_SHA256 ? VERIFY_CMD_SHA256 : VERIFY_CMD_XXH128;
}

struct ssh_cmd *
verify_hash_start(struct ssh *ssh, enum hash_kind kind)
{
	struct ssh_cmd	*c = NULL;

	if (ssh_exec_start(ssh, hash_cmd(kind), &c, NULL) != 0)
		return NULL;
	return c;
}

int
verify_remote_hash(struct ssh *ssh, enum hash_kind kind,
    const char *const *paths, size_t n, char (*hex)[HASH_HEX_MAX],
    struct ts_error *err)
{
	return verify_remote_hash_started(ssh, NULL, kind, paths, n, hex,
	    err);
}

int
verify_remote_hash_started(struct ssh *ssh, struct ssh_cmd *started,
    enum hash_kind kind, const char *const *paths, size_t n,
    char (*hex)[HASH_HEX_MAX], struct ts_error *err)
{
	struct buf	 in, out;
	size_t		 i, hexlen, outmax = 4096;
	int		 status, rc;

	hexlen = kind == HASH_SHA256 ? 64 : 32;
	for (i = 0; i < n; i++) {
		hex[i][0] = '\0';
		outmax += hexlen + 4 + strlen(paths[i]);
		/* xxhsum output is newline-separated: such names need sha256. */
		if (kind == HASH_XXH128 && strpbrk(paths[i], "\n\\") != NULL) {
			ssh_exec_drop(started);
			return error_set(err, TS_EREMOTE, "xxhsum cannot report "
			    "\"%s\"", paths[i]);
		}
	}
	buf_init(&in, (size_t)-1);
	buf_init(&out, outmax);
	for (i = 0; i < n; i++)
		if (buf_append(&in, paths[i], strlen(paths[i]) + 1) != 0) {
			buf_dispose(&in);
			ssh_exec_drop(started);
			return error_set(err, TS_ENOMEM, "out of memory");
		}
	rc = -1;
	if (started != NULL) {
		struct ts_error	 e = { 0 };

		rc = ssh_exec_finish(ssh, started, in.data, in.len, &out,
		    &status, &e);
		if (rc == TS_ECANCELED)
			error_set(err, rc, "%s", e.msg);
		else if (rc != 0) {	/* its session went: a new one */
			log_msg(TS_LOG_DEBUG, "the hash command started ahead "
			    "failed (%s): running it again", e.msg);
			buf_reset(&out);
		} else if (n > 0 && verify_parse_output(kind, paths, n,
		    out.data, out.len, hex) == 0) {
			/* Ended before it read a name (killed, say): a new
			 * one costs a session, a read-back the whole file. */
			log_msg(TS_LOG_DEBUG, "the hash command started ahead "
			    "answered nothing (exit status %d): running it "
			    "again", status);
			buf_reset(&out);
			rc = -1;
		}
	}
	if (rc != 0 && rc != TS_ECANCELED)
		rc = ssh_exec(ssh, hash_cmd(kind), in.data, in.len, &out,
		    &status, err);
	buf_dispose(&in);
	if (rc != 0)
		goto out;
	if (verify_parse_output(kind, paths, n, out.data, out.len, hex) == 0 &&
	    n > 0) {
		/* Nothing usable: no exec (ForceCommand internal-sftp), or no
		 * such tool; the caller falls back to reading back. */
		rc = error_set(err, TS_EREMOTE, "the server cannot run %s "
		    "(exit status %d)", kind == HASH_SHA256 ? "sha256sum" :
		    "xxhsum", status);
	}
out:
	buf_dispose(&out);
	return rc;
}

static void
read_back_done(struct xfer *x, void *payload)
{
	(void)x;
	*(bool *)payload = true;
}

void
verify_server_tools(struct ssh *ssh, struct server_tools *out)
{
	struct buf	 buf;
	int		 status = -1;

	memset(out, 0, sizeof(*out));
	buf_init(&buf, 4096);
	if (ssh_exec(ssh, "echo treesync-exec; command -v sha256sum "
	    ">/dev/null 2>&1 && echo has-sha256sum; command -v xxhsum "
	    ">/dev/null 2>&1 && echo has-xxhsum", NULL, 0, &buf, &status,
	    NULL) == 0 && buf.len > 0 &&
	    memmem(buf.data, buf.len, "treesync-exec", 13) != NULL) {
		out->exec = true;
		out->sha256sum = memmem(buf.data, buf.len, "has-sha256sum",
		    13) != NULL;
		out->xxhsum = memmem(buf.data, buf.len, "has-xxhsum", 10) !=
		    NULL;
	}
	buf_dispose(&buf);
}

void
tools_probe_init(struct tools_probe *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->answer, NULL);
}

static void *
tools_probe_main(void *arg)
{
	struct tools_probe	*p = arg;
	struct server_tools	 t;

	verify_server_tools(p->ssh, &t);
	pthread_mutex_lock(&p->mu);
	p->t = t;
	p->answered = true;
	pthread_cond_broadcast(&p->answer);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

void
tools_probe_start(struct tools_probe *p, struct ssh *ssh)
{
	pthread_mutex_lock(&p->mu);
	if (!p->started && ssh != NULL && ssh->proc != NULL) {
		p->ssh = ssh;
		p->started = pthread_create(&p->th, NULL, tools_probe_main,
		    p) == 0;
	}
	pthread_mutex_unlock(&p->mu);
}

bool
tools_probe_take(struct tools_probe *p, struct server_tools *out)
{
	bool	 started;

	pthread_mutex_lock(&p->mu);
	while (p->started && !p->answered)
		pthread_cond_wait(&p->answer, &p->mu);
	started = p->started;
	if (started)
		*out = p->t;
	pthread_mutex_unlock(&p->mu);
	return started;
}

bool
tools_probe_pending(struct tools_probe *p)
{
	bool	 pending;

	pthread_mutex_lock(&p->mu);
	pending = p->started && !p->answered;
	pthread_mutex_unlock(&p->mu);
	return pending;
}

void
tools_probe_dispose(struct tools_probe *p)
{
	if (p->started && !p->joined) {
		pthread_join(p->th, NULL);
		p->joined = true;
	}
	pthread_cond_destroy(&p->answer);
	pthread_mutex_destroy(&p->mu);
}

int
verify_read_back(struct sftp *s, const char *path, enum hash_kind kind,
    char *hex, struct ts_error *err)
{
	struct xfer_opts o = { .hash = true, .hash_kind = kind };
	struct xfer	*x = NULL;
	bool		 done = false;
	int		 rc;

	if ((rc = xfer_download(&x, s, path, NULL, &o, read_back_done, &done,
	    err)) != 0)
		return rc;
	while (!done)
		if ((rc = sftp_pump(s, err)) != 0 && !done)
			break;
	if (done && (rc = xfer_result(x, err)) == 0)
		strcpy(hex, xfer_hash(x));
	xfer_free(x);
	return rc;
}
