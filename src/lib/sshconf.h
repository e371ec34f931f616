/*
 * The OpenSSH client configuration (ssh_config(5)): the few keywords
 * treesync uses, with ssh's rules for which value applies to a host.
 *
 * Differences from ssh(1), on purpose or for now:
 * - Only the one file is read, not /etc/ssh/ssh_config as well.
 * - Match evaluates all, host, originalhost, user and localuser; any other
 *   criterion (exec, canonical, final, localnetwork, tagged...) is refused
 *   by name, as are keywords that change how to connect and that the
 *   libssh2 transport cannot do (ProxyJump, ProxyCommand, CertificateFile,
 *   ...): the message names the file and line and says --transport
 *   openssh, which runs ssh(1) and so does all of them.
 * - ~ and %d are $HOME when it is set, else the home in the password file.
 * - IdentityFile and UserKnownHostsFile take the tokens %% %d %h %i %n %u
 *   and ${VAR}; other tokens (%p, %r, %C...) are refused, since the final
 *   port and remote user are only known to the caller.
 */
#ifndef TS_SSHCONF_H
#define TS_SSHCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "treesync.h"

#define SSHCONF_MAX_IDENTITY_FILES	16
#define SSHCONF_MAX_KNOWN_HOSTS		4

struct sshconf {
	char	*hostname;		/* NULL if not set; %h expanded */
	char	*user;			/* NULL if not set */
	int	 port;			/* 0 if not set */
	char	*identity_files[SSHCONF_MAX_IDENTITY_FILES];
					/* tilde-expanded, in order */
	int	 n_identity_files;
	int	 identities_only;	/* -1 unset, 0 no, 1 yes */
	char	*known_hosts[SSHCONF_MAX_KNOWN_HOSTS];
					/* UserKnownHostsFile, tilde-expanded */
	int	 n_known_hosts;
	int	 strict_host_key;	/* -1 unset, 0 no, 1 yes,
					 * 2 accept-new */
	int	 connect_timeout;	/* seconds, 0 if not set */
	int	 server_alive_interval;	/* seconds, 0 if not set */
	bool	 known_hosts_none;	/* "UserKnownHostsFile none": no
					 * user file at all, n_known_hosts
					 * is 0 */
};

/*
 * Reads path (NULL: ~/.ssh/config; a missing default file is fine, a
 * missing -F file is an error; "none" reads nothing, as ssh -F none) and
 * fills out with the settings for host, the name as the user gave it,
 * and user, the remote user given with it (NULL: none; Match user then
 * sees the config's User, else the local user, as ssh(1) does).
 * On failure out holds no settings and err says which file and line.
 * The caller releases out with sshconf_dispose.
 */
int	sshconf_load(struct sshconf *out, const char *path, const char *host,
	    const char *user, struct ts_error *err);
/* The same over text already in memory; file names only appear in
 * messages (Include still reads files). */
int	sshconf_parse(struct sshconf *out, const char *text, size_t len,
	    const char *host, const char *user, const char *file,
	    struct ts_error *err);
/* Leaves c holding no settings; zeroed or NULL is fine. */
void	sshconf_dispose(struct sshconf *c);

#endif
