/* Choosing each setting of a connection (conn_settings.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conn_settings.h"

static bool
readable_here(const char *path)
{
	return access(path, R_OK) == 0;
}

void
conn_settings_choose(struct conn_settings *s, const struct ts_conn_opts *o,
    const struct target *t, const struct sshconf *cf, const char *home,
    const char *local_user, bool (*readable)(const char *path))
{
	static const char *const defaults[] = { "id_ed25519", "id_ecdsa",
	    "id_rsa" };
	size_t	 i;

	if (readable == NULL)
		readable = readable_here;
	memset(s, 0, sizeof(*s));
	s->host = cf->hostname != NULL ? cf->hostname : t->host;
	s->port = o->port != 0 ? o->port : t->port != 0 ? t->port :
	    cf->port != 0 ? cf->port : 22;
	s->user = t->user != NULL ? t->user : cf->user != NULL ? cf->user :
	    local_user;
	/* Keys: --identity, then the config's IdentityFile lines, then the
	 * usual defaults when neither named one (as ssh does). */
	if (o->identity != NULL)
		s->ids[s->nids++] = o->identity;
	for (i = 0; i < (size_t)cf->n_identity_files && s->nids < 20; i++)
		s->ids[s->nids++] = cf->identity_files[i];
	if (s->nids == 0)
		for (i = 0; i < 3; i++) {
			snprintf(s->defpaths[i], sizeof(s->defpaths[i]),
			    "%s/.ssh/%s", home, defaults[i]);
			if (readable(s->defpaths[i]))
				s->ids[s->nids++] = s->defpaths[i];
		}
	s->identities_only = cf->identities_only == 1 || o->identity != NULL;
	if (o->known_hosts != NULL)
		s->khs[s->nkh++] = o->known_hosts;
	else {
		for (i = 0; i < (size_t)cf->n_known_hosts && s->nkh < 4; i++)
			s->khs[s->nkh++] = cf->known_hosts[i];
		if (s->nkh == 0) {
			snprintf(s->kh_default, sizeof(s->kh_default),
			    "%s/.ssh/known_hosts", home);
			s->khs[s->nkh++] = s->kh_default;
		}
	}
	s->accept_new = o->accept_new || cf->strict_host_key == 2 ||
	    cf->strict_host_key == 0;
	s->connect_timeout_ms = 1000 * (o->connect_timeout > 0 ?
	    o->connect_timeout : cf->connect_timeout > 0 ?
	    cf->connect_timeout : 30);
	s->io_timeout_ms = 1000 * (o->io_timeout > 0 ? o->io_timeout : 60);
	s->keepalive_s = o->keepalive > 0 ? o->keepalive :
	    cf->server_alive_interval > 0 ? cf->server_alive_interval : 15;
}
