/*
 * A lock file on the server that keeps two runs on one remote root apart
 * (backup, publish): created exclusively, so of two runs exactly one gets
 * it, holding who took it.  Never broken automatically (docs/backup.md).
 */
#ifndef TS_RLOCK_H
#define TS_RLOCK_H

#include <stdbool.h>

#include "sftp.h"

struct rlock {
	struct sftp	*s;		/* borrowed */
	char		*path;		/* owned */
	const char	*who;		/* "backup", "publish" */
	bool		 held;
};

/*
 * Takes the lock root/name for a run of `who` (its text gets one more
 * line, "key: value").  A lock held by another run is TS_ELOCKED, with a
 * message naming its host, pid and age, and what to do; with break_lock,
 * a lock found is removed first, once, said with a TS_LOG_WARN.  Strings
 * are borrowed but who (kept for rlock_release).  l is set up either
 * way: rlock_dispose it.
 */
int	rlock_take(struct rlock *l, struct sftp *s, const char *root,
	    const char *name, const char *who, const char *key,
	    const char *value, bool break_lock, struct ts_error *err);
/* Removes the lock if held; its failure is an error (into *rc, err) only
 * when the run had none: the next run would refuse to start. */
void	rlock_release(struct rlock *l, int *rc, struct ts_error *err);
void	rlock_dispose(struct rlock *l);

#endif
