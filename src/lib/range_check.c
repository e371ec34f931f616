/*
 * Range checks of a delta-built file (see range_check.h).  The command
 * takes "path\0skip\0count\0" triples on stdin (xargs -0 -n 3: no name
 * is ever parsed by a shell) and prints "SKIP HASH" for each once
 * hashed; xargs runs each as soon as its triple has come.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "log.h"
#include "range_check.h"

#define RANGE_CMD "LC_ALL=C xargs -0 -n 3 sh -c 'h=$(dd if=\"$1\" " \
	"bs=1048576 skip=\"$2\" count=\"$3\" 2>/dev/null | xxhsum -H2) && " \
	"printf \"%s %s\\n\" \"$2\" \"${h%% *}\"' sh"

struct range_check {
	struct ssh	*ssh;
	struct ssh_cmd	*cmd;
	char		*path;
	uint32_t	 mib;
	uint64_t	 n, asked;
	bool		 dead;		/* the command went: whole file */
	struct buf	 out;
};

struct range_check *
range_check_start(struct ssh *ssh, const char *path, uint64_t size,
    uint32_t range_mib)
{
	struct range_check *rc;
	struct ts_error	 e = { 0 };
	uint64_t	 bytes = (uint64_t)range_mib << 20;

	if (size == 0 || range_mib == 0 || (rc = calloc(1, sizeof(*rc))) ==
	    NULL)
		return NULL;
	rc->ssh = ssh;
	rc->mib = range_mib;
	rc->n = (size + bytes - 1) / bytes;
	buf_init(&rc->out, 4096 + rc->n * (24 + HASH_HEX_MAX));
	if ((rc->path = strdup(path)) == NULL ||
	    ssh_exec_start(ssh, RANGE_CMD, &rc->cmd, &e) != 0 ||
	    rc->cmd == NULL) {
		if (e.code != TS_OK)
			log_msg(TS_LOG_DEBUG, "range check: %s", e.msg);
		range_check_drop(rc);
		return NULL;
	}
	return rc;
}

uint64_t
range_check_ranges(const struct range_check *rc)
{
	return rc->n;
}

uint64_t
range_check_asked(const struct range_check *rc)
{
	return rc->asked;
}

int
range_check_ask_next(struct range_check *rc, struct ts_error *err)
{
	struct buf	 in;
	char		 num[2][24];
	int		 n0, n1, r;

	if (rc->dead || rc->asked == rc->n)
		return 0;
	n0 = snprintf(num[0], sizeof(num[0]), "%llu",
	    (unsigned long long)(rc->asked * rc->mib));
	n1 = snprintf(num[1], sizeof(num[1]), "%u", rc->mib);
	buf_init(&in, (size_t)-1);
	if (buf_append(&in, rc->path, strlen(rc->path) + 1) != 0 ||
	    buf_append(&in, num[0], (size_t)n0 + 1) != 0 ||
	    buf_append(&in, num[1], (size_t)n1 + 1) != 0) {
		buf_dispose(&in);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	r = ssh_exec_feed(rc->ssh, rc->cmd, in.data, in.len, &rc->out, err);
	buf_dispose(&in);
	if (r != 0) {
		log_msg(TS_LOG_DEBUG, "range check of \"%s\": %s", rc->path,
		    err->msg);
		rc->dead = true;
		error_clear(err);
		return 0;
	}
	rc->asked++;
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

uint64_t
range_check_parse(const char *out, size_t len, uint32_t range_mib,
    uint64_t n, char (*hex)[HASH_HEX_MAX])
{
	const char	*p = out, *end = out + len, *nl;
	uint64_t	 skip, good = 0;
	size_t		 i;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;		/* an unfinished line is no answer */
		skip = 0;
		for (i = 0; p + i < nl && p[i] >= '0' && p[i] <= '9' &&
		    i < 19; i++)
			skip = skip * 10 + (uint64_t)(p[i] - '0');
		if (i == 0 || p[i] != ' ' || nl - (p + i + 1) != 32 ||
		    range_mib == 0 || skip % range_mib != 0 ||
		    skip / range_mib >= n)
			continue;
		for (i = (size_t)(p + i + 1 - out); out + i < nl; i++)
			if (hexval(out[i]) < 0)
				break;
		if (out + i != nl)
			continue;
		memcpy(hex[skip / range_mib], nl - 32, 32);
		hex[skip / range_mib][32] = '\0';
		good++;
	}
	return good;
}

int
range_check_finish(struct range_check *rc, const char *const *local,
    struct ts_error *err)
{
	char		(*hex)[HASH_HEX_MAX] = NULL;
	struct ts_error	 e = { 0 };
	uint64_t	 k;
	int		 status, r = -1;

	while (!rc->dead && rc->asked < rc->n)
		(void)range_check_ask_next(rc, &e);
	if (rc->dead)
		goto out;
	r = ssh_exec_finish(rc->ssh, rc->cmd, NULL, 0, &rc->out, &status, &e);
	rc->cmd = NULL;
	if (r != 0) {
		log_msg(TS_LOG_DEBUG, "range check of \"%s\": %s", rc->path,
		    e.msg);
		r = -1;
		goto out;
	}
	r = -1;
	if ((hex = calloc(rc->n, sizeof(*hex))) == NULL)
		goto out;
	(void)range_check_parse((const char *)rc->out.data, rc->out.len,
	    rc->mib, rc->n, hex);
	for (k = 0; k < rc->n; k++)
		if (hex[k][0] == '\0' || local[k] == NULL) {
			log_msg(TS_LOG_DEBUG, "range check of \"%s\": no hash "
			    "of range %llu (exit status %d): the whole file "
			    "is hashed instead", rc->path,
			    (unsigned long long)k, status);
			goto out;
		}
	r = 1;
	for (k = 0; k < rc->n; k++)
		if (strcmp(hex[k], local[k]) != 0) {
			error_set(err, TS_EVERIFY, "XXH128 of MiB %llu-%llu on "
			    "the server (%.16s...) differs from the bytes sent "
			    "(%.16s...)", (unsigned long long)(k * rc->mib),
			    (unsigned long long)((k + 1) * rc->mib),
			    hex[k], local[k]);
			r = 0;
			break;
		}
	if (r == 1)
		log_msg(TS_LOG_DEBUG, "\"%s\": XXH128 of its %llu ranges equal "
		    "on the server", rc->path, (unsigned long long)rc->n);
out:
	free(hex);
	range_check_drop(rc);
	return r;
}

void
range_check_drop(struct range_check *rc)
{
	if (rc == NULL)
		return;
	ssh_exec_drop(rc->cmd);
	buf_dispose(&rc->out);
	free(rc->path);
	free(rc);
}
