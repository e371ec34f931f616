/* Connections opened ahead of need, on threads of their own. */
#ifndef TS_SPARE_H
#define TS_SPARE_H

#include "treesync.h"

struct spares;
struct sftp;

/* How spares are opened and handled: the connection layer's calls, given
 * by it (conn.c), so that this file needs none of its headers. */
struct spare_ops {
	/* Opens a connection to target with opts; a byte on cancel_fd cuts
	 * the wait short (ts_conn_open otherwise). */
	int	(*open)(struct ts_conn **out, const char *target,
		    const struct ts_conn_opts *opts, int cancel_fd,
		    struct ts_error *err);
	/* The connection no longer listens to cancel_fd. */
	void	(*uncancel)(struct ts_conn *c);
	struct sftp *(*sftp)(struct ts_conn *c);
	void	(*free)(struct ts_conn *c);
};

/* Starts opening n connections to target with opts through ops (all
 * borrowed: they must outlive the pool).  NULL when n < 1 or nothing
 * could be started. */
struct spares *spares_start(const char *target,
	    const struct ts_conn_opts *opts, int n,
	    const struct spare_ops *ops);
/* Waits for the next spare.  Returns 0 with *out (the caller owns it),
 * 1 when none is left, or the error that spare failed with. */
int	spares_take(struct spares *p, struct ts_conn **out,
	    struct ts_error *err);
/* The engine of a spare that is open and not on loan, or NULL: the pool
 * keeps the connection (spares_take() gives it, lent ones first). */
struct sftp *spares_lend(struct spares *p);
/* Takes back every spare on loan: those whose session failed are closed
 * (taken later, they fail as spares that never opened).  Returns how
 * many were closed. */
int	spares_return(struct spares *p);
/* Abandons every spare not taken but the next keep (those lent first);
 * returns how many. */
int	spares_keep(struct spares *p, int keep);
/* Abandons what is left and frees the pool; NULL is fine. */
void	spares_free(struct spares *p);

#endif
