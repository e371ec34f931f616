/*
 * Small remote file-system steps shared by backup, publish and their
 * helpers (the lock, the tree removal): one request sent and waited for,
 * on an engine nothing else drives meanwhile.
 */
#ifndef TS_RFS_H
#define TS_RFS_H

#include <stdbool.h>

#include "sftp.h"

/* "dir/name" for the server; a dir of "" is the login directory.  The
 * caller frees it; NULL when out of memory. */
char	*rfs_join(const char *dir, const char *name);
/* Waits for one request sent with sftp_call_cb (sent: what sending it
 * returned); 0, or the error as `what "path": reason`. */
int	rfs_wait(struct sftp *s, int sent, struct sftp_call *call,
	    const char *what, const char *path, struct ts_error *err);
/* LSTAT of path into *out (may be NULL). */
int	rfs_stat(struct sftp *s, const char *path, struct sftp_attrs *out,
	    struct ts_error *err);
int	rfs_remove(struct sftp *s, const char *path, struct ts_error *err);
/* Whether the attributes say "directory". */
bool	rfs_is_dir(const struct sftp_attrs *a);

#endif
