/*
 * The settings of a libssh2 connection, each chosen the one way: the
 * command line (ts_conn_opts) over the target (user@host:port) over
 * ssh_config over the default.  Pure: the caller reads the config, the
 * home directory and the local user; the unit tests feed them.
 */
#ifndef TS_CONN_SETTINGS_H
#define TS_CONN_SETTINGS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "sshconf.h"
#include "target.h"
#include "treesync.h"

#define CONN_MAX_IDENTITIES	24
#define CONN_MAX_KNOWN_HOSTS	6

struct conn_settings {
	const char	*host;		/* to connect to: HostName, or as given */
	int		 port;
	const char	*user;
	/* Keys to try, in order: --identity, the config's IdentityFile
	 * lines, else the usual defaults that are readable. */
	const char	*ids[CONN_MAX_IDENTITIES];
	size_t		 nids;
	bool		 identities_only;
	const char	*khs[CONN_MAX_KNOWN_HOSTS];
	size_t		 nkh;
	bool		 accept_new;
	int		 connect_timeout_ms, io_timeout_ms;
	int		 keepalive_s;
	/* Room for the default paths ids and khs may point to. */
	char		 defpaths[3][PATH_MAX], kh_default[PATH_MAX];
};

/*
 * Fills *s from o, t and cf (borrowed: s points into them), home (the
 * user's home directory) and local_user (the login name here).
 * readable(path) says whether a default key may be offered (access(2)
 * with R_OK when NULL).
 */
void	conn_settings_choose(struct conn_settings *s,
	    const struct ts_conn_opts *o, const struct target *t,
	    const struct sshconf *cf, const char *home, const char *local_user,
	    bool (*readable)(const char *path));

#endif
