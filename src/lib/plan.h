/*
 * The planner: merges two sorted entry lists into the actions that make
 * the destination tree equal to the source tree.  Pure: no I/O, no clock.
 *
 * Direction: the planner knows only "source" and "destination".  A push
 * plans with src = local list, dst = remote list; a pull with src =
 * remote, dst = local.  Actions point at the entries of both lists.
 *
 * Unchanged: same type, same size, same mtime to the second (servers keep
 * whole seconds, so floor(mtime_ns / 1e9) is compared), or with checksum,
 * same type, same size and same hash.  Symlinks compare by target only
 * (SFTP v3 can't set a link's times).  Modes compare as permission bits.
 *
 * Order of plan->v, which is a valid order to run the actions in:
 *  1. in tree order (a directory before its contents): ACT_MKDIR, ACT_COPY,
 *     ACT_SYMLINK, ACT_SETATTR of files, ACT_NEED_HASH, ACT_CONFLICT, and
 *     the ACT_DELETEs that make way for a type change, each group deepest
 *     first, right before the action that creates the new type;
 *  2. the --delete deletes, deepest first (children before parents);
 *  3. ACT_SETATTR of directories, deepest first: a directory's mtime
 *     changes when entries are created or removed in it, so mtimes (and
 *     modes, which may forbid writing) are set once nothing else will
 *     touch it.  Every created directory gets one (reason REASON_NEW), so
 *     does one whose mode or mtime differ (REASON_ATTRS) and one whose
 *     direct contents this plan changes (REASON_CONTENTS, which reports
 *     may leave out: rsync doesn't itemize it).  The root itself is no
 *     entry and gets none.
 *
 * Checksum mode, two passes: when opts->checksum is set and a pair of
 * files of equal size lacks a hash on either side, the plan holds an
 * ACT_NEED_HASH action for the pair (src and dst set) in place of a
 * decision, counted in stats.need_hash.  The caller hashes those files
 * (both sides, the same algorithm), records the hashes with
 * entries_set_hash(), disposes of the plan and builds it again; the second
 * plan has no ACT_NEED_HASH left.  Pairs of different sizes are never
 * hashed.  Equal hashes with different mtimes give an ACT_SETATTR (mtime).
 *
 * Excludes (opts->filter): an excluded source entry is as if absent, and
 * an excluded directory hides everything under it.  An excluded
 * destination entry is never touched unless delete_excluded, which then
 * deletes it (delete_excluded implies delete, as in rsync).  A
 * destination directory that must go but holds an excluded entry is kept
 * (with the excluded entry's ancestors) when it is a --delete, or gives an
 * ACT_CONFLICT when it is a type change.
 *
 * Type changes (a file became a directory or a symlink, or the reverse):
 * the old entry is deleted, then the new one created.  A directory
 * replaced by a non-directory goes with all its contents only with
 * delete; without it, a non-empty directory gives an ACT_CONFLICT
 * (REASON_NOT_EMPTY), as rsync without --delete or --force.
 *
 * Incomplete listings: nothing directly in a source directory flagged
 * ENTRY_INCOMPLETE (or in the root, when src->incomplete_root) is deleted:
 * a file the walker couldn't read must not vanish from the destination.
 */
#ifndef TS_PLAN_H
#define TS_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "entries.h"
#include "filter.h"
#include "treesync.h"

enum action_kind {
	ACT_NONE,		/* unchanged; only from plan_compare */
	ACT_MKDIR,		/* create directory src (attrs: phase 3) */
	ACT_COPY,		/* transfer file src: an upload for a push, a
				 * download for a pull; sets mtime and mode */
	ACT_SYMLINK,		/* create symlink src (replacing dst if set) */
	ACT_SETATTR,		/* set attrs (ATTR_*) of dst from src */
	ACT_DELETE,		/* remove dst (a directory: already empty) */
	ACT_NEED_HASH,		/* checksum: hash src and dst, plan again */
	ACT_CONFLICT,		/* src can't replace dst; nothing is done:
				 * report it (see reason) */
};

enum plan_reason {
	REASON_NONE,
	REASON_NEW,		/* not in the destination */
	REASON_SIZE,		/* sizes differ */
	REASON_MTIME,		/* same size, mtimes differ (in seconds) */
	REASON_HASH,		/* checksum: same size, hashes differ */
	REASON_TYPE,		/* the type changed: the delete making way,
				 * and the creation after it */
	REASON_TARGET,		/* symlink: the target changed */
	REASON_ATTRS,		/* setattr: mode or mtime differed */
	REASON_CONTENTS,	/* setattr of a dir: restore its mtime after
				 * changes inside it */
	REASON_GONE,		/* delete: not in the source */
	REASON_EXCLUDED,	/* delete: excluded, with delete_excluded */
	REASON_NOT_EMPTY,	/* conflict: directory to replace is not
				 * empty and delete is off */
	REASON_PROTECTED,	/* conflict: directory to replace holds
				 * excluded entries */
	REASON_MAX_DELETE,	/* conflict: replacing needs deletes and
				 * max_delete was exceeded */
};

#define ATTR_MODE	0x01
#define ATTR_MTIME	0x02
#define ATTR_OWNER	0x04	/* uid and/or gid (-o, -g) */

struct action {
	const struct entry *src;	/* source entry; NULL for a delete */
	const struct entry *dst;	/* destination entry, NULL if none */
	uint8_t		 kind;		/* enum action_kind */
	uint8_t		 reason;	/* enum plan_reason */
	uint8_t		 attrs;		/* ACT_SETATTR: ATTR_* to set */
};

struct plan_opts {
	bool		 delete;	/* remove what the source lacks */
	bool		 delete_excluded; /* also excluded entries; implies
					 * delete */
	long		 max_delete;	/* -1: no limit */
	bool		 checksum;	/* equal sizes compare by hash */
	const struct filter *filter;	/* NULL: nothing excluded */
	bool		 owner, group;	/* -o, -g: uid, gid are attributes */
	/* rsync's quick-check variants, for files (and for ignore_existing,
	 * symlinks too); checksum wins over size_only, as in rsync. */
	bool		 size_only;	/* equal sizes are unchanged; a
					 * differing mtime is then only an
					 * attribute (ACT_SETATTR) */
	bool		 ignore_existing; /* a non-directory source entry
					 * whose path exists in the
					 * destination, as anything, is
					 * left alone */
	bool		 update;	/* a destination file newer (in whole
					 * seconds) than its source file is
					 * left alone; type changes are not */
};
#define PLAN_OPTS_INIT \
	{ false, false, -1, false, NULL, false, false, false, false, false }

struct plan_stats {
	uint64_t	 files_new;	/* ACT_COPY, REASON_NEW */
	uint64_t	 files_updated;	/* ACT_COPY, any other reason */
	uint64_t	 bytes;		/* sum of the sizes to copy */
	uint64_t	 dirs_created;	/* ACT_MKDIR */
	uint64_t	 links;		/* ACT_SYMLINK */
	uint64_t	 setattrs;	/* ACT_SETATTR, files and dirs */
	uint64_t	 deletes;	/* ACT_DELETE, all reasons */
	uint64_t	 unchanged;	/* files and symlinks left as they are
					 * (a setattr included) */
	uint64_t	 need_hash;	/* ACT_NEED_HASH */
	uint64_t	 conflicts;	/* ACT_CONFLICT */
	uint64_t	 deletes_refused; /* over max_delete: deletes planned
					 * then dropped */
};

struct plan {
	struct action	*v;		/* v[0..n), in the order above */
	size_t		 n, cap;
	struct plan_stats stats;
};

void	plan_init(struct plan *p);
void	plan_dispose(struct plan *p);		/* zeroed or NULL is fine */

/*
 * Plans the actions turning dst into src, both sorted (entries_sort), into
 * p, which must be empty (plan_init).  opts may be NULL (PLAN_OPTS_INIT).
 * Returns 0, or TS_ENOMEM.  When the deletes (all of them, those making
 * way for a type change too) would exceed max_delete it returns TS_ERROR
 * ("--max-delete 5: refusing to delete 12 entries") and still fills p,
 * without any delete: the type changes that needed one are ACT_CONFLICT
 * (REASON_MAX_DELETE); the caller may carry out the rest.
 * The actions point into src and dst: keep both lists unchanged (but for
 * entries_set_hash) while p is in use.
 */
int	plan_build(struct plan *p, const struct entries *src,
	    const struct entries *dst, const struct plan_opts *opts,
	    struct ts_error *err);

/*
 * Compares one pair with the same path; src or dst may be NULL (not on
 * that side), not both.  Fills *act (src, dst, kind, reason, attrs) with
 * the decision for the pair alone: ACT_NONE, ACT_COPY, ACT_MKDIR,
 * ACT_SYMLINK, ACT_SETATTR (a directory's mode or mtime included),
 * ACT_DELETE (src NULL), ACT_NEED_HASH; a type change gives the creation
 * of src with REASON_TYPE (plan_build puts the deletes before it, and
 * there the creation has dst NULL: the old entry is gone by then).
 * Excludes and the delete options are plan_build's business.  opts may
 * be NULL.  Returns 0.
 */
int	plan_compare(struct action *act, const struct entry *src,
	    const struct entry *dst, const struct plan_opts *opts);

/* Lower-case names for reports: "mkdir", "copy", ...; "new", "size", ...
 * The reporter may call ACT_COPY "upload" or "download". */
const char *plan_kind_name(enum action_kind kind);
const char *plan_reason_name(enum plan_reason reason);

/* The path an action is about (src's, else dst's); borrowed. */
const char *plan_action_path(const struct action *a);

#endif
