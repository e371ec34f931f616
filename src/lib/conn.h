/* What other library files may use of a connection. */
#ifndef TS_CONN_H
#define TS_CONN_H

#include "sftp.h"
#include "treesync.h"

int	conn_open(struct ts_conn **out, const char *target,
	    const struct ts_conn_opts *opts, struct ts_error *err);
/* The same; a byte written to cancel_fd abandons it (spare.c). */
int	conn_open_cancelable(struct ts_conn **out, const char *target,
	    const struct ts_conn_opts *opts, int cancel_fd,
	    struct ts_error *err);
/* The connection no longer listens to its cancel_fd. */
void	conn_uncancel(struct ts_conn *c);
/* Done with c (ts_conn_free follows): its ssh may say goodbye now, with
 * the other connections hung up at the same time.  NULL is fine. */
void	conn_hangup(struct ts_conn *c);
/* A connection opened ahead for c (opts.spares): as spares_take. */
int	conn_take_spare(struct ts_conn *c, struct ts_conn **out,
	    struct ts_error *err);
/* Lends c's next open spare to a walk, as spares_lend. */
struct sftp *conn_lend_spare(struct ts_conn *c);
/* Takes back c's spares lent, as spares_return. */
int	conn_return_spares(struct ts_conn *c);
/* Abandons c's spares but the next keep. */
void	conn_keep_spares(struct ts_conn *c, int keep);
/* Opens one more connection to the same server, as like was opened. */
int	conn_clone(struct ts_conn **out, const struct ts_conn *like,
	    struct ts_error *err);
/* The connection's SFTP engine; borrowed. */
struct sftp *conn_sftp(struct ts_conn *c);

#endif
