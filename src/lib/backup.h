/*
 * Backup: dated snapshots under a remote root, and their rotation.
 *
 * The names under ROOT that backup ever looks at (everything else is
 * foreign and never touched):
 *
 *   YYYYMMDD                    a complete snapshot, the first of its day
 *   YYYYMMDD-HHMMSS             a complete snapshot, when YYYYMMDD existed
 *   .YYYYMMDD-HHMMSS.in-progress  a snapshot being built (or left by a
 *                               run that crashed), named by its run's stamp
 *   .NAME.removing              an old snapshot being removed
 *   .treesync-backup.lock       the lock of the run in progress
 *
 * Dates and times must be valid ones (20261131 is foreign).  The naming
 * and pruning rules are pure and here; ts_backup (backup.c) carries them
 * out over SFTP.
 */
#ifndef TS_BACKUP_H
#define TS_BACKUP_H

#include <stdbool.h>
#include <stddef.h>

#include "treesync.h"

#define BACKUP_LOCK_NAME	".treesync-backup.lock"
#define BACKUP_STAMP_LEN	15		/* "YYYYMMDD-HHMMSS" */

enum backup_kind {
	BACKUP_FOREIGN,			/* not ours: never touched */
	BACKUP_COMPLETE,		/* YYYYMMDD[-HHMMSS] */
	BACKUP_IN_PROGRESS,		/* .YYYYMMDD-HHMMSS.in-progress */
	BACKUP_REMOVING,		/* .YYYYMMDD[-HHMMSS].removing */
};

/* Whether s is a valid "YYYYMMDD-HHMMSS" (a real date and time of day). */
bool	backup_stamp_valid(const char *s);

/*
 * Classifies a name found under ROOT; for ours, copies its stamp into
 * stamp ("YYYYMMDD" or "YYYYMMDD-HHMMSS", NUL-terminated).
 */
enum backup_kind backup_name_kind(const char *name,
	    char stamp[BACKUP_STAMP_LEN + 1]);

/*
 * Whether an in-progress leftover stamped `stamp` (15 characters) is older
 * than the complete snapshot `snap`.  A snapshot named by its date alone
 * stands for that whole day: only a leftover of a later day is newer.
 */
bool	backup_leftover_older(const char *stamp, const char *snap);

/* One name under ROOT that backup considers, and the decision about it. */
struct backup_snap {
	const char	*name;		/* borrowed */
	enum backup_kind kind;
	char		 stamp[BACKUP_STAMP_LEN + 1];
	bool		 keep;		/* set by backup_prune_plan */
	const char	*reason;	/* a keyword; see backup_prune_plan */
};

/*
 * Decides about every entry of v[0..n) (kinds other than BACKUP_FOREIGN)
 * and sorts v by stamp as strings, oldest first ("20261101" before
 * "20261101-140000"; at equal stamps, leftovers first).  Reasons:
 *   keep:   "newest"      one of the newest `keep` complete snapshots
 *           "current"     the snapshot `current` (this run's), kept even
 *                         when older ones are newer (a --stamp in the past)
 *           "in-progress" a leftover not older than the newest complete
 *                         snapshot (backup_leftover_older)
 *   remove: "expired"     a complete snapshot older than the newest `keep`
 *           "stale"       a leftover older than the newest complete one
 *           "removing"    a removal that did not finish
 * current may be NULL.  Pure: no I/O.
 */
void	backup_prune_plan(struct backup_snap *v, size_t n, size_t keep,
	    const char *current);

#endif
