/* What other library files may use of a connection. */
#ifndef TS_CONN_H
#define TS_CONN_H

#include "sftp.h"
#include "treesync.h"

int	conn_open(struct ts_conn **out, const char *target,
	    const struct ts_conn_opts *opts, struct ts_error *err);
/* Opens one more connection to the same server, as like was opened. */
int	conn_clone(struct ts_conn **out, const struct ts_conn *like,
	    struct ts_error *err);
/* The connection's SFTP engine; borrowed. */
struct sftp *conn_sftp(struct ts_conn *c);

#endif
