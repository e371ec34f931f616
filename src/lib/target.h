/*
 * Targets: where a tree lives on a server.  Two spellings are accepted:
 * scp's "[user@]host:path" and the URL "sftp://[user@]host[:port][/path]".
 */
#ifndef TS_TARGET_H
#define TS_TARGET_H

#include <stdbool.h>

#include "treesync.h"

struct target {
	char	*user;		/* NULL if not given */
	char	*host;		/* host name or alias; IPv6 without brackets */
	int	 port;		/* 0 if not given */
	char	*path;		/* "" means the login directory */
};

/*
 * Parses s into *out, whose strings the caller then owns (release them
 * with target_dispose).  On failure *out is zeroed and err says why
 * (TS_EINVAL), or TS_ENOMEM.
 */
int	target_parse(struct target *out, const char *s,
	    struct ts_error *err);
/* Zeroed or NULL is fine. */
void	target_dispose(struct target *t);
/* Whether s names a remote place (host:path or sftp://) rather than a
 * local path; "./a:b" and "/x/y:z" are local, as they are for scp. */
bool	target_is_remote(const char *s);

#endif
