/*
 * Names differing only in case, and whether a server folds them into one.
 * See caseclash.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "caseclash.h"
#include "tempname.h"
#include "error.h"
#include "path.h"

struct keyed {
	const char	*path;
	size_t		 idx;
};

static int
keyed_cmp(const void *a, const void *b)
{
	const struct keyed	*x = a, *y = b;
	int			 c = strcasecmp(x->path, y->path);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int
clash_cmp(const void *a, const void *b)
{
	const struct case_clash	*x = a, *y = b;

	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int
case_clashes(const struct entries *l, struct case_clash **out, size_t *n,
    struct ts_error *err)
{
	struct keyed	*k;
	struct case_clash *v = NULL;
	size_t		 i, g, m = 0, w;

	*out = NULL;
	*n = 0;
	if (l->n < 2)
		return 0;
	if ((k = malloc(l->n * sizeof(*k))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	for (i = 0; i < l->n; i++) {
		k[i].path = l->v[i].path;
		k[i].idx = i;
	}
	/* Equal but for case: neighbours, the earliest entry first. */
	qsort(k, l->n, sizeof(*k), keyed_cmp);
	for (i = 1; i < l->n; i++)
		if (strcasecmp(k[i].path, k[i - 1].path) == 0)
			m++;
	if (m == 0) {
		free(k);
		return 0;
	}
	if ((v = malloc(m * sizeof(*v))) == NULL) {
		free(k);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	m = 0;
	for (i = 1, g = 0; i < l->n; i++) {
		if (strcasecmp(k[i].path, k[g].path) != 0) {
			g = i;
			continue;
		}
		v[m].idx = k[i].idx;
		v[m].keep = k[g].idx;
		m++;
	}
	free(k);
	qsort(v, m, sizeof(*v), clash_cmp);
	/* Inside a directory left out: it goes with it, unreported.  A
	 * directory's contents follow it in the list. */
	for (i = 0, w = 0; i < m; i++) {
		if (w > 0 && entries_is_under(l->v[v[i].idx].path,
		    l->v[v[w - 1].idx].path))
			continue;
		v[w++] = v[i];
	}
	*out = v;
	*n = w;
	return 0;
}

/* STAT of path: *found is 1 when there, 0 when not, -1 for another
 * answer.  Returns 0, or the session's failure. */
static int
exists(struct sftp *s, const char *path, int *found, struct ts_error *err)
{
	struct sftp_call c;
	int		 rc;

	*found = -1;
	memset(&c, 0, sizeof(c));
	rc = sftp_call_wait(s, sftp_stat(s, path, false, sftp_call_cb, &c), &c,
	    "stat", path, NULL);
	sftp_call_dispose(&c);
	if (sftp_failed(s) != NULL)
		return error_set(err, sftp_failed(s)->code, "%s",
		    sftp_failed(s)->msg);
	*found = rc == 0 ? 1 : c.status == SSH_FX_NO_SUCH_FILE ? 0 : -1;
	return 0;
}

int
case_folds(struct sftp *s, const char *existing, const char *other,
    const char *dir, bool may_write, int *out, struct ts_error *err)
{
	struct sftp_call c;
	struct sftp_attrs a;
	char		*up = NULL, *low = NULL;
	int		 rc = 0;

	*out = -1;
	if (existing != NULL)
		return exists(s, other, out, err);
	if (!may_write)
		return 0;
	/* Named as our temporary files (tempname.h): no push copies or
	 * deletes one, and a cut run's are swept. */
	if ((low = path_join(dir, "CASE")) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	rc = tempname_make(&up, low, TEMPNAME_TMP);
	free(low);
	if (rc != 0 || (low = strdup(up)) == NULL) {
		free(up);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	memcpy(strrchr(low, '/') + 1, ".case", 5);
	memset(&a, 0, sizeof(a));
	memset(&c, 0, sizeof(c));
	if (sftp_call_wait(s, sftp_open(s, up, SSH_FXF_WRITE | SSH_FXF_CREAT |
	    SSH_FXF_EXCL, &a, sftp_call_cb, &c), &c, "create", up, NULL) != 0) {
		if (sftp_failed(s) != NULL)
			rc = error_set(err, sftp_failed(s)->code, "%s",
			    sftp_failed(s)->msg);
		goto out;		/* cannot tell: -1 */
	}
	sftp_close(s, &c.handle, NULL, NULL);
	rc = exists(s, low, out, err);
	sftp_remove(s, up, NULL, NULL);
	if (rc == 0 && sftp_drain(s, err) != 0)
		rc = err != NULL ? err->code : TS_ECONN;
out:
	free(up);
	free(low);
	return rc;
}
