/*
 * Owners by name between this machine and the server, as rsync maps them:
 * a uid or gid goes over as the name it has on one side and comes back as
 * the id that name has on the other; an id without a name (on either
 * side) stays as it is.  The server's names come from its /etc/passwd and
 * /etc/group, read over SFTP (SFTP v3 carries ids only).
 */
#ifndef TS_IDMAP_H
#define TS_IDMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "treesync.h"

struct idmap;

/* Reads the server's names over c; a server that hides them gives an
 * empty map (ids kept), said at TS_LOG_INFO.  Returns 0 or TS_ENOMEM. */
int	idmap_load(struct idmap **out, struct ts_conn *c, struct ts_error *err);
void	idmap_free(struct idmap *m);		/* NULL is fine */

/* An id of the server's as the local one of the same name (to_local), or
 * a local id as the server's (!to_local).  group: a gid, else a uid. */
uint32_t idmap_map(struct idmap *m, uint32_t id, bool group, bool to_local);

#endif
