/* Remote file-system steps, one request at a time (rfs.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rfs.h"

char *
rfs_join(const char *dir, const char *name)
{
	char	*p;
	size_t	 n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0)
		return strdup(name);
	if (asprintf(&p, "%.*s%s%s", (int)n, dir, dir[n - 1] == '/' ? "" : "/",
	    name) < 0)
		return NULL;
	return p;
}

int
rfs_wait(struct sftp *s, int sent, struct sftp_call *call, const char *what,
    const char *path, struct ts_error *err)
{
	const struct ts_error	*f;

	if (sent != 0) {
		f = sftp_failed(s);
		return error_set(err, f != NULL ? f->code : TS_ECONN, "%s",
		    f != NULL ? f->msg : "connection lost");
	}
	return sftp_call_wait(s, call, what, path, err);
}

int
rfs_stat(struct sftp *s, const char *path, struct sftp_attrs *out,
    struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	int			 rc;

	rc = rfs_wait(s, sftp_stat(s, path, false, sftp_call_cb, &call), &call,
	    "stat", path, err);
	if (rc == 0 && out != NULL)
		*out = call.attrs;
	return rc;
}

int
rfs_remove(struct sftp *s, const char *path, struct ts_error *err)
{
	struct sftp_call	 call = { 0 };

	return rfs_wait(s, sftp_remove(s, path, sftp_call_cb, &call), &call,
	    "remove", path, err);
}

bool
rfs_is_dir(const struct sftp_attrs *a)
{
	return (a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) != 0 &&
	    (a->perm & 0170000) == 0040000;
}
