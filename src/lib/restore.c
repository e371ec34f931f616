/*
 * Restore: a pull of a snapshot, then its metadata record applied to
 * the local tree (metadata.h), so that owners, hard links, xattrs, ACLs,
 * special files and nanosecond mtimes come back as a backup found them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "path.h"
#include "metadata.h"
#include "version.h"

struct problems {
	ts_restore_problem_fn	*fn;
	void			*payload;
};

static void
on_problem(const char *path, const char *what, int e, void *payload)
{
	struct problems	*p = payload;

	if (p->fn != NULL)
		p->fn(path, what, e, p->payload);
}

/* Fetches remote_dir's record into a private local directory; *path is
 * the copy (the caller removes it and its directory).  TS_ENOENT when
 * the snapshot has none. */
static int
fetch_record(struct ts_conn *c, const char *remote_dir, char **dir,
    char **path, struct ts_error *err)
{
	const char	*tmpdir = getenv("TMPDIR");
	char		*src = NULL;
	int		 rc;

	*dir = *path = NULL;
	if (asprintf(dir, "%s/treesync-restore-XXXXXX", tmpdir != NULL &&
	    *tmpdir != '\0' ? tmpdir : "/tmp") < 0) {
		*dir = NULL;
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	if (mkdtemp(*dir) == NULL) {
		rc = error_set_errno(err, errno, "create \"%s\"", *dir);
		free(*dir);
		*dir = NULL;
		return rc;
	}
	if (asprintf(path, "%s/record", *dir) < 0 ||
	    (src = path_join(remote_dir, META_NAME)) == NULL) {
		*path = NULL;
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	rc = ts_get(NULL, c, src, *path, NULL, err);
	free(src);
	return rc;
}

int
ts_restore(struct ts_restore_result *out, struct ts_conn *c,
    const char *remote_dir, const char *local_dir,
    const struct ts_restore_opts *o, ts_item_fn *fn,
    ts_restore_problem_fn *pfn, void *payload, struct ts_error *err)
{
	static const struct ts_restore_opts defaults = TS_RESTORE_OPTS_INIT;
	struct ts_restore_result res;
	struct ts_sync_opts	 so;
	struct ts_filter_rule	*rules = NULL;
	struct meta_apply_opts	 mo;
	struct problems		 pr = { pfn, payload };
	struct ts_error		 e = { 0 };
	char			*dir = NULL, *path = NULL;
	FILE			*f = NULL;
	int			 rc, pulled, root_fd = -1;

	memset(&res, 0, sizeof(res));
	if (o == NULL)
		o = &defaults;
	if ((rc = version_check_opts(o->version, TS_RESTORE_OPTS_VERSION,
	    "ts_restore_opts", &e)) != 0 ||
	    (rc = version_check_opts(o->sync.version, TS_SYNC_OPTS_VERSION,
	    "ts_sync_opts", &e)) != 0)
		goto out;
	/* The record is no part of the tree: left out of the pull. */
	so = o->sync;
	if ((rules = calloc(so.nrules + 1, sizeof(*rules))) == NULL) {
		rc = error_set(&e, TS_ENOMEM, "out of memory");
		goto out;
	}
	rules[0].include = false;
	rules[0].pattern = "/" META_NAME;
	if (so.nrules > 0)
		memcpy(rules + 1, so.rules, so.nrules * sizeof(*rules));
	so.rules = rules;
	so.nrules++;
	so.perms = true;
	so.sparse = true;
	pulled = ts_pull(&res.sum, c, remote_dir, local_dir, &so, fn, payload,
	    &e);
	if (pulled != 0 && pulled != TS_EPARTIAL) {
		rc = pulled;
		goto out;
	}
	if ((rc = fetch_record(c, remote_dir, &dir, &path, &e)) != 0) {
		if (rc != TS_ENOENT)
			goto out;
		log_msg(TS_LOG_WARN, "\"%s\" has no metadata record (not a "
		    "backup snapshot, or one of an older treesync): the data "
		    "is restored, owners, links and attributes are not",
		    remote_dir);
		error_clear(&e);
		rc = pulled;
		if (rc != 0)
			error_set(&e, rc, "%llu of the changes failed; the rest "
			    "is done", (unsigned long long)res.sum.errors);
		goto out;
	}
	res.had_record = true;
	if ((root_fd = open(local_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		rc = error_set_errno(&e, errno, "open \"%s\"", local_dir);
		goto out;
	}
	if ((f = fopen(path, "re")) == NULL) {
		rc = error_set_errno(&e, errno, "open \"%s\"", path);
		goto out;
	}
	memset(&mo, 0, sizeof(mo));
	mo.numeric_ids = o->numeric_ids;
	mo.owners = mo.devices = geteuid() == 0;
	if ((rc = meta_apply(f, root_fd, &mo, on_problem, &pr, &res.entries,
	    &res.not_applied, &e)) != 0)
		goto out;
	if (res.not_applied > 0)
		rc = error_set(&e, TS_EPARTIAL, "%llu part%s of the metadata "
		    "could not be applied (listed above)%s",
		    (unsigned long long)res.not_applied,
		    res.not_applied == 1 ? "" : "s", geteuid() != 0 ?
		    "; owners and devices need root" : "");
	else if (pulled != 0)
		rc = error_set(&e, pulled, "%llu of the changes failed; the rest "
		    "is done", (unsigned long long)res.sum.errors);
out:
	if (f != NULL)
		fclose(f);
	if (root_fd != -1)
		close(root_fd);
	if (path != NULL)
		unlink(path);
	if (dir != NULL)
		rmdir(dir);
	free(path);
	free(dir);
	free(rules);
	if (rc != 0 && err != NULL && err->code == TS_OK)
		*err = e;
	if (out != NULL)
		*out = res;
	return rc;
}
