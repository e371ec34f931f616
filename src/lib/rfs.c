/* Remote file-system steps, one request at a time (rfs.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rfs.h"

int
rfs_stat(struct sftp *s, const char *path, struct sftp_attrs *out,
    struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	int			 rc;

	rc = sftp_call_wait(s, sftp_stat(s, path, false, sftp_call_cb, &call), &call,
	    "stat", path, err);
	if (rc == 0 && out != NULL)
		*out = call.attrs;
	return rc;
}

int
rfs_remove(struct sftp *s, const char *path, struct ts_error *err)
{
	struct sftp_call	 call = { 0 };

	return sftp_call_wait(s, sftp_remove(s, path, sftp_call_cb, &call), &call,
	    "remove", path, err);
}

bool
rfs_is_dir(const struct sftp_attrs *a)
{
	return (a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) != 0 &&
	    (a->perm & 0170000) == 0040000;
}
