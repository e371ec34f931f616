/*
 * Publish: releases under a remote root, and the `current` symlink.
 *
 *   ROOT/current                  a symlink to releases/NAME (relative)
 *   ROOT/.current.treesync-tmp.*  the next `current`, before its rename
 *   ROOT/.treesync-publish.lock   the lock of the run in progress
 *   ROOT/.treesync-publish.probe  a symlink made and removed at once, to
 *                                 learn whether the server makes them
 *   ROOT/releases/NAME            a complete release (its directory's
 *                                 mtime: when it was published)
 *   ROOT/releases/.NAME.in-progress  a release being uploaded, or what a
 *                                 failed run left
 *   ROOT/releases/.NAME.removing  an old release being removed
 *
 * Anything else is foreign and never touched.  The naming and the
 * rotation's decisions are pure and here; ts_publish (publish.c) carries
 * them out over SFTP.
 */
#ifndef TS_PUBLISH_H
#define TS_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backup.h"			/* struct backup_snap, the plan */
#include "treesync.h"

#define PUBLISH_LOCK_NAME	".treesync-publish.lock"
#define PUBLISH_PROBE_NAME	".treesync-publish.probe"
#define PUBLISH_NAME_MAX	100

/* What a name under ROOT/releases is; for ours, *name (of len bytes)
 * is the release's name.  Kinds as backup's. */
enum backup_kind publish_name_kind(const char *entry, const char **name,
	    size_t *len);

/* The release a `current` link's target names ("releases/NAME", or a
 * path ending so), copied into out; false when it names none. */
bool	publish_link_release(const char *target, char *out, size_t size);

/* One release under ROOT/releases. */
struct publish_rel {
	const char	*name;		/* borrowed */
	int64_t		 mtime;
	enum backup_kind kind;
};

/* Sorts v oldest first: by mtime, then by name. */
void	publish_sort(struct publish_rel *v, size_t n);

/*
 * Decides about the releases v[0..n) (complete, in-progress, removing)
 * with backup's rules (backup_prune_plan) on stamps made from their
 * mtimes, and two more: the release `current` names and the one complete
 * release before it are kept ("current", "previous"), and in-progress
 * ones are removed ("incomplete"): under the lock, no upload runs.
 * Fills out[0..n) (sorted oldest first).  Pure.
 */
void	publish_prune_plan(const struct publish_rel *v, size_t n,
	    size_t keep, const char *current, struct backup_snap *out);

#endif
