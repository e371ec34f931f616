/*
 * The metadata record of a backup snapshot (docs/metadata.md): what SFTP
 * cannot store on an ordinary account, kept beside the data in one
 * line-oriented file, and applied again by a restore.  Owners and groups
 * (names and ids), modes, mtimes to the nanosecond, extended attributes
 * (POSIX ACLs are among them), hard-link groups, and the special files
 * (FIFOs, sockets, devices) a backup cannot send as data.
 */
#ifndef TS_METADATA_H
#define TS_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "treesync.h"

#define META_NAME	".treesync-metadata"	/* at the snapshot's root */
#define META_VERSION	1

/*
 * Writes the record of local paths[0..n) to f, each PATH under its name
 * in the snapshot, bases[i] ("": the PATH is the root, and only what it
 * holds is recorded, as push --metadata does).  Entries a walk cannot read are skipped and
 * counted in *skipped.  Returns 0, or TS_ELOCAL/TS_ENOMEM with err set.
 */
int	meta_write(FILE *f, const char *const *paths, const char *const *bases,
	    size_t n, uint64_t *skipped, struct ts_error *err);

/*
 * The record of paths[0..n) (as meta_write) in a new private file under
 * $TMPDIR (or /tmp); *out is its path, the caller's to unlink and free.
 * Entries that could not be read are said at TS_LOG_WARN.  Returns 0, or
 * the error (*out NULL, nothing left behind).
 */
int	meta_write_temp(char **out, const char *const *paths,
	    const char *const *bases, size_t n, struct ts_error *err);

/* Called for every part of the record that could not be applied. */
typedef void	meta_problem_fn(const char *path, const char *what, int e,
		    void *payload);

struct meta_apply_opts {
	bool		 numeric_ids;	/* ids as recorded, not by name */
	bool		 owners;	/* chown: only root may */
	bool		 devices;	/* mknod of devices: only root may */
};

/*
 * Applies the record read from f to the tree under root_fd (a restored
 * snapshot): special files made, hard links joined, xattrs, owners,
 * modes, then mtimes (directories last, deepest first).  Never follows a
 * symlink on the way.  Every part that fails goes to fn and is counted
 * in *failed; *applied counts entries done.  Returns 0 (failures or
 * not), or TS_EREMOTE for a record it cannot read, TS_ENOMEM.
 */
int	meta_apply(FILE *f, int root_fd, const struct meta_apply_opts *o,
	    meta_problem_fn *fn, void *payload, uint64_t *applied,
	    uint64_t *failed, struct ts_error *err);

#endif
