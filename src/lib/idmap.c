/* Owners by name between this machine and the server (idmap.h). */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "idmap.h"
#include "log.h"

#define IDMAP_CACHE	64	/* ids looked up, of each kind and way */

struct name_id {
	char		*name;
	uint32_t	 id;
};

struct cached {
	uint32_t	 from, to;
};

struct idmap {
	struct name_id	*v[2];		/* the server's users, groups */
	size_t		 n[2];
	struct cached	 cache[2][2][IDMAP_CACHE];	/* [group][to_local] */
	size_t		 ncache[2][2];
};

/* Reads "name:x:id:..." lines of a passwd or group file at path. */
static int
parse_file(struct idmap *m, int kind, const char *path, struct ts_error *err)
{
	struct name_id	*v;
	char		*line = NULL, *name, *id, *save;
	size_t		 cap = 0;
	FILE		*f;

	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		name = strtok_r(line, ":", &save);
		(void)strtok_r(NULL, ":", &save);
		if (name == NULL || (id = strtok_r(NULL, ":", &save)) == NULL)
			continue;
		if ((v = realloc(m->v[kind], (m->n[kind] + 1) *
		    sizeof(*v))) == NULL) {
			free(line);
			fclose(f);
			return error_set(err, TS_ENOMEM, "out of memory");
		}
		m->v[kind] = v;
		if ((v[m->n[kind]].name = strdup(name)) == NULL) {
			free(line);
			fclose(f);
			return error_set(err, TS_ENOMEM, "out of memory");
		}
		v[m->n[kind]++].id = (uint32_t)strtoul(id, NULL, 10);
	}
	free(line);
	fclose(f);
	return 0;
}

int
idmap_load(struct idmap **out, struct ts_conn *c, struct ts_error *err)
{
	static const char *const remote[] = { "/etc/passwd", "/etc/group" };
	const char	*tmpdir = getenv("TMPDIR");
	struct idmap	*m;
	struct ts_error	 e;
	char		 dir[4096], path[4200];
	int		 k, rc = 0;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	snprintf(dir, sizeof(dir), "%s/treesync-ids-XXXXXX", tmpdir != NULL &&
	    *tmpdir != '\0' ? tmpdir : "/tmp");
	if (mkdtemp(dir) == NULL) {
		log_msg(TS_LOG_INFO, "owners go by id: no private directory "
		    "for the server's names");
		*out = m;
		return 0;
	}
	for (k = 0; k < 2 && rc == 0; k++) {
		snprintf(path, sizeof(path), "%s/%d", dir, k);
		memset(&e, 0, sizeof(e));
		if (ts_get(NULL, c, remote[k], path, NULL, &e) != 0)
			log_msg(TS_LOG_INFO, "owners go by id: cannot read the "
			    "server's %s: %s", remote[k], e.msg);
		else
			rc = parse_file(m, k, path, err);
		unlink(path);
	}
	rmdir(dir);
	if (rc != 0) {
		idmap_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void
idmap_free(struct idmap *m)
{
	size_t	 i;
	int	 k;

	if (m == NULL)
		return;
	for (k = 0; k < 2; k++) {
		for (i = 0; i < m->n[k]; i++)
			free(m->v[k][i].name);
		free(m->v[k]);
	}
	free(m);
}

/* The local name of id into buf; false when it has none. */
static bool
local_name(uint32_t id, bool group, char *buf, size_t size)
{
	char		 tmp[4096];
	struct passwd	 pw, *pp = NULL;
	struct group	 gr, *gp = NULL;

	if (group ? getgrgid_r((gid_t)id, &gr, tmp, sizeof(tmp), &gp) != 0 ||
	    gp == NULL : getpwuid_r((uid_t)id, &pw, tmp, sizeof(tmp), &pp) != 0 ||
	    pp == NULL)
		return false;
	snprintf(buf, size, "%s", group ? gp->gr_name : pp->pw_name);
	return true;
}

static bool
local_id(const char *name, bool group, uint32_t *id)
{
	char		 tmp[4096];
	struct passwd	 pw, *pp = NULL;
	struct group	 gr, *gp = NULL;

	if (group) {
		if (getgrnam_r(name, &gr, tmp, sizeof(tmp), &gp) != 0 ||
		    gp == NULL)
			return false;
		*id = (uint32_t)gp->gr_gid;
		return true;
	}
	if (getpwnam_r(name, &pw, tmp, sizeof(tmp), &pp) != 0 || pp == NULL)
		return false;
	*id = (uint32_t)pp->pw_uid;
	return true;
}

static uint32_t
lookup(const struct idmap *m, uint32_t id, bool group, bool to_local)
{
	char		 name[256];
	size_t		 i;
	uint32_t	 out;
	int		 k = group ? 1 : 0;

	if (to_local) {
		for (i = 0; i < m->n[k]; i++)
			if (m->v[k][i].id == id)
				return local_id(m->v[k][i].name, group, &out) ?
				    out : id;
		return id;
	}
	if (!local_name(id, group, name, sizeof(name)))
		return id;
	for (i = 0; i < m->n[k]; i++)
		if (strcmp(m->v[k][i].name, name) == 0)
			return m->v[k][i].id;
	return id;
}

uint32_t
idmap_map(struct idmap *m, uint32_t id, bool group, bool to_local)
{
	struct cached	*c = m->cache[group][to_local];
	size_t		*n = &m->ncache[group][to_local], i;
	uint32_t	 to;

	for (i = 0; i < *n; i++)
		if (c[i].from == id)
			return c[i].to;
	to = lookup(m, id, group, to_local);
	if (*n < IDMAP_CACHE) {
		c[*n].from = id;
		c[(*n)++].to = to;
	}
	return to;
}
