/* Connections opened ahead of need, on threads of their own. */
#ifndef TS_SPARE_H
#define TS_SPARE_H

#include "treesync.h"

struct spares;
struct sftp;

/* Starts opening n connections to target with opts (borrowed: they must
 * outlive the pool).  NULL when n < 1 or nothing could be started. */
struct spares *spares_start(const char *target,
	    const struct ts_conn_opts *opts, int n);
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
