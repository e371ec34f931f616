/*
 * Small remote file-system steps shared by backup, publish and their
 * helpers (the lock, the tree removal): one request sent and waited for,
 * on an engine nothing else drives meanwhile.
 */
#ifndef TS_RFS_H
#define TS_RFS_H

#include <stdbool.h>

#include "sftp.h"

/* LSTAT of path into *out (may be NULL). */
int	rfs_stat(struct sftp *s, const char *path, struct sftp_attrs *out,
	    struct ts_error *err);
int	rfs_remove(struct sftp *s, const char *path, struct ts_error *err);
/* Whether the attributes say "directory". */
bool	rfs_is_dir(const struct sftp_attrs *a);

#endif
