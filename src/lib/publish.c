/*
 * Publish: a local tree as a release on one or more servers, switched
 * into place atomically, the old ones rotated; rollback and listing.
 *
 * A run walks the local tree once (ltree.c: every target gets the same
 * files), then, in order, on every target before the next step on any:
 * checks the root (creates it if missing), takes the lock (rlock.c, as
 * backup), reads `current`, makes sure the server can make a symlink and
 * replace it atomically (else stops before anything is sent), clears what
 * a killed run left at a temporary name, and chooses the release's
 * directory; then uploads to each target in turn (a push of that tree
 * into .NAME.in-progress with --delete, link_dest the current release,
 * every file verified and flushed); then, only when every target has its
 * release complete, renames each to its final name and switches
 * `current` on each, back to back; then prunes each switched target; and
 * removes every lock, whatever happened.  So a failed upload anywhere
 * switches nothing anywhere, and a release with a final name is always
 * complete.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cancel.h"
#include "conn.h"
#include "entries.h"
#include "error.h"
#include "path.h"
#include "job.h"
#include "log.h"
#include "ltree.h"
#include "publish.h"
#include "rfs.h"
#include "rlock.h"
#include "rmtree.h"
#include "sftp.h"
#include "tempname.h"
#include "walk_remote.h"
#include "version.h"

/* --- names and decisions (pure) ----------------------------------------- */

static bool
name_char_ok(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '.' || c == '_' || c == '-' || c == '+');
}

/* Whether s[0..n) is a release name (ts_publish_release_valid). */
static bool
name_valid(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0 || n > PUBLISH_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!name_char_ok(s[i], i == 0))
			return false;
	return true;
}

bool
ts_publish_release_valid(const char *name)
{
	return name != NULL && name_valid(name, strlen(name));
}

enum backup_kind
publish_name_kind(const char *entry, const char **name, size_t *len)
{
	size_t		 n = strlen(entry), k;

	*name = entry;
	*len = n;
	if (name_valid(entry, n))
		return BACKUP_COMPLETE;
	if (entry[0] != '.')
		return BACKUP_FOREIGN;
	*name = entry + 1;
	if (tempname_marked(entry, TEMPNAME_IN_PROGRESS, &k) &&
	    name_valid(entry + 1, (*len = k)))
		return BACKUP_IN_PROGRESS;
	if (tempname_marked(entry, TEMPNAME_REMOVING, &k) &&
	    name_valid(entry + 1, (*len = k)))
		return BACKUP_REMOVING;
	return BACKUP_FOREIGN;
}

bool
publish_link_release(const char *target, char *out, size_t size)
{
	const char	*base, *p;
	size_t		 n = strlen(target);

	while (n > 1 && target[n - 1] == '/')
		n--;
	for (p = target + n; p > target && p[-1] != '/'; p--)
		;
	base = p;
	if (p == target || !name_valid(base, (size_t)(target + n - base)))
		return false;
	/* The directory holding it must be "releases". */
	p--;
	while (p > target && p[-1] != '/')
		p--;
	if (base - 1 - p != 8 || strncmp(p, "releases", 8) != 0)
		return false;
	if ((size_t)(target + n - base) >= size)
		return false;
	memcpy(out, base, (size_t)(target + n - base));
	out[target + n - base] = '\0';
	return true;
}

static int
rel_cmp(const void *a, const void *b)
{
	const struct publish_rel *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

void
publish_sort(struct publish_rel *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), rel_cmp);
}

void
publish_prune_plan(const struct publish_rel *v, size_t n, size_t keep,
    const char *current, struct backup_snap *out)
{
	struct tm	 tm;
	time_t		 t;
	size_t		 i, k = 0, first, cur = n;

	for (i = 0; i < n; i++)
		if (v[i].kind == BACKUP_IN_PROGRESS) {
			memset(&out[k], 0, sizeof(out[k]));
			out[k].name = v[i].name;
			out[k].kind = v[i].kind;
			out[k].keep = false;
			out[k].reason = "incomplete";
			k++;
		}
	first = k;
	for (i = 0; i < n; i++) {
		if (v[i].kind != BACKUP_COMPLETE &&
		    v[i].kind != BACKUP_REMOVING)
			continue;
		memset(&out[k], 0, sizeof(out[k]));
		out[k].name = v[i].name;
		out[k].kind = v[i].kind;
		/* A stamp that sorts as the mtime does: backup's plan orders
		 * by stamps.  Publish keeps release mtimes distinct. */
		t = (time_t)v[i].mtime;
		if (gmtime_r(&t, &tm) == NULL || strftime(out[k].stamp,
		    sizeof(out[k].stamp), "%Y%m%d-%H%M%S", &tm) == 0)
			snprintf(out[k].stamp, sizeof(out[k].stamp), "00000000-"
			    "000000");
		k++;
	}
	backup_prune_plan(out + first, k - first, keep, current);
	/* The release before current stays, for a rollback. */
	for (i = first; i < k; i++)
		if (out[i].kind == BACKUP_COMPLETE && current != NULL &&
		    strcmp(out[i].name, current) == 0)
			cur = i;
	if (cur == n)
		return;
	for (i = cur; i-- > first; )
		if (out[i].kind == BACKUP_COMPLETE) {
			if (!out[i].keep) {
				out[i].keep = true;
				out[i].reason = "previous";
			}
			break;
		}
}

/* --- one target ----------------------------------------------------------- */

/* The entries of ROOT/releases that are ours. */
struct rel_list {
	struct publish_rel *v;
	size_t		 n, cap;
	char		**names;	/* owned; v[i].name points in them */
};

struct target {
	struct ts_conn	*c;
	struct sftp	*s;
	const char	*root;
	struct ts_publish_result *res;
	char		*rel_dir;	/* ROOT/releases */
	char		*cur_path;	/* ROOT/current */
	char		*ip_path;	/* releases/.NAME.in-progress */
	char		*final_path;	/* ROOT/releases/NAME */
	struct rlock	 lock;
	struct ts_conn	*own;		/* opened after c was lost */
	const struct ltree *tree;	/* the local tree, walked once */
	bool		 exists;	/* NAME is complete there already */
	int64_t		 newest;	/* the newest release's mtime, or 0 */
};

static void
rel_list_dispose(struct rel_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* A ts_dirent_fn: keeps the directories whose names are ours. */
static int
rel_list_add(const struct ts_dirent *d, void *payload)
{
	struct rel_list		*l = payload;
	struct publish_rel	*v;
	char			**nv;
	const char		*name;
	size_t			 len, cap;
	enum backup_kind	 k;

	/* Only directories of ours: a file by such a name is foreign. */
	if (!d->st.has_mode || (d->st.mode & 0170000) != 0040000 ||
	    (k = publish_name_kind(d->name, &name, &len)) == BACKUP_FOREIGN)
		return 0;
	if (l->n == l->cap) {
		cap = l->cap != 0 ? l->cap * 2 : 16;
		if ((v = realloc(l->v, cap * sizeof(*v))) == NULL)
			return TS_ENOMEM;
		l->v = v;
		if ((nv = realloc(l->names, cap * sizeof(*nv))) == NULL)
			return TS_ENOMEM;
		l->names = nv;
		l->cap = cap;
	}
	if ((l->names[l->n] = strdup(d->name)) == NULL)
		return TS_ENOMEM;
	l->v[l->n].name = l->names[l->n];
	l->v[l->n].mtime = d->st.mtime;
	l->v[l->n].kind = k;
	l->n++;
	return 0;
}

/* Lists ROOT/releases (missing: empty), oldest first. */
static int
rel_list(struct target *t, struct rel_list *l, struct ts_error *err)
{
	struct ts_error	 e = { 0 };
	size_t		 i;
	int		 rc;

	memset(l, 0, sizeof(*l));
	rc = ts_list(t->c, t->rel_dir, false, rel_list_add, l, &e);
	if (rc == TS_ENOENT && sftp_failed(t->s) == NULL)
		return 0;
	if (rc == TS_ENOMEM)
		return error_set(err, TS_ENOMEM, "out of memory");
	if (rc != 0)
		return error_set(err, rc, "%s", e.msg);
	/* Sorting moves v[] only: each name still points into names[]. */
	publish_sort(l->v, l->n);
	for (i = 0; i < l->n; i++)
		if (l->v[i].kind == BACKUP_COMPLETE && l->v[i].mtime > 0 &&
		    l->v[i].mtime > t->newest)
			t->newest = l->v[i].mtime;
	return 0;
}

/* The entry of kind k named name (a directory name under releases). */
static const struct publish_rel *
rel_find(const struct rel_list *l, const char *name, enum backup_kind k)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].kind == k && strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

/*
 * Reads ROOT/current into res->previous: "" when there is none.  Anything
 * but a symlink to releases/NAME there is not ours: refused, since the
 * switch would replace it.
 */
static int
read_current(struct target *t, struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	struct sftp_attrs	 a;
	struct ts_error		 e = { 0 };
	int			 rc;

	t->res->previous[0] = '\0';
	if ((rc = rfs_stat(t->s, t->cur_path, &a, &e)) != 0) {
		if (rc == TS_ENOENT && sftp_failed(t->s) == NULL)
			return 0;
		return error_set(err, rc, "%s", e.msg);
	}
	if ((a.perm & 0170000) != 0120000)
		return error_set(err, TS_EREMOTE, "\"%s\" is not a symlink: "
		    "publish switches it as one; move it away first",
		    t->cur_path);
	rc = sftp_call_wait(t->s, sftp_readlink(t->s, t->cur_path, sftp_call_cb,
	    &call), &call, "readlink", t->cur_path, err);
	if (rc == 0 && (call.name == NULL || !publish_link_release(call.name,
	    t->res->previous, sizeof(t->res->previous))))
		rc = error_set(err, TS_EREMOTE, "\"%s\" points to \"%s\", not "
		    "to a release under releases/: move it away first",
		    t->cur_path, call.name != NULL ? call.name : "");
	sftp_call_dispose(&call);
	return rc;
}

/*
 * Whether the server can make a symlink and rename one over another
 * atomically: the switch needs both, and must be known possible before
 * anything is sent.  A symlink made and removed at once shows the first.
 */
static int
check_symlinks(struct target *t, struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	struct ts_error		 e = { 0 };
	char			*probe;
	int			 rc;

	if (!sftp_has(t->s, SFTP_EXT_POSIX_RENAME))
		return error_set(err, TS_EREMOTE, "the server offers no "
		    "posix-rename@openssh.com, so \"current\" cannot be "
		    "switched atomically: publish needs it; push into a "
		    "directory instead");
	if ((probe = path_join(t->root, PUBLISH_PROBE_NAME)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	rfs_remove(t->s, probe, NULL);	/* a killed run's */
	rc = sftp_call_wait(t->s, sftp_symlink(t->s, probe, "releases", sftp_call_cb,
	    &call), &call, "symlink", probe, &e);
	if (rc == 0)
		rc = rfs_remove(t->s, probe, err);
	else if (sftp_failed(t->s) != NULL)
		error_set(err, rc, "%s", e.msg);
	else
		rc = error_set(err, TS_EREMOTE, "the server cannot make "
		    "symbolic links (%s), and publish switches \"current\" "
		    "as one: allow them, or push into a directory instead",
		    e.msg);
	free(probe);
	return rc;
}

static int
collect_stale_tmp(const struct ts_dirent *d, void *payload)
{
	struct rel_list	*l = payload;
	char		**nv;

	if (strncmp(d->name, ".current.", 9) != 0 ||
	    !tempname_parse(d->name, NULL))
		return 0;
	if ((nv = realloc(l->names, (l->n + 1) * sizeof(*nv))) == NULL)
		return TS_ENOMEM;
	l->names = nv;
	if ((l->names[l->n] = strdup(d->name)) == NULL)
		return TS_ENOMEM;
	l->n++;
	return 0;
}

/* Removes the next `current` links a killed run left (under the lock, no
 * other run makes one).  Best effort. */
static void
sweep_stale_tmp(struct target *t)
{
	struct rel_list	 l = { 0 };
	char		*p;
	size_t		 i;

	if (ts_list(t->c, t->root, false, collect_stale_tmp, &l, NULL) == 0)
		for (i = 0; i < l.n; i++)
			if ((p = path_join(t->root, l.names[i])) != NULL) {
				rfs_remove(t->s, p, NULL);
				free(p);
			}
	for (i = 0; i < l.n; i++)
		free(l.names[i]);
	free(l.names);
}

/* The root exists (with create, made if missing) and is a directory. */
static int
check_root(struct target *t, bool create, struct ts_error *err)
{
	struct sftp_attrs	 a;
	int			 rc;

	if (create && *t->root != '\0' &&
	    (rc = ts_mkdir(t->c, t->root, true, err)) != 0)
		return rc;
	if ((rc = rfs_stat(t->s, *t->root != '\0' ? t->root : ".", &a,
	    err)) != 0)
		return rc;
	/* A symlink as root is fine: look at what it points to. */
	if ((a.perm & 0170000) == 0120000) {
		struct sftp_call call = { 0 };

		rc = sftp_call_wait(t->s, sftp_stat(t->s, t->root, true,
		    sftp_call_cb, &call), &call, "stat", t->root, err);
		if (rc != 0)
			return rc;
		a = call.attrs;
	}
	if (!rfs_is_dir(&a))
		return error_set(err, TS_EINVAL, "remote path \"%s\" is not a "
		    "directory", t->root);
	return 0;
}

/* The paths of a target's root for the release name; TS_ENOMEM. */
static int
target_paths(struct target *t, const char *name)
{
	char	*ip = NULL;

	if ((t->rel_dir = path_join(t->root, "releases")) == NULL ||
	    (t->cur_path = path_join(t->root, "current")) == NULL ||
	    (ip = tempname_mark(name, TEMPNAME_IN_PROGRESS)) == NULL ||
	    (t->ip_path = path_join(t->rel_dir, ip)) == NULL ||
	    (t->final_path = path_join(t->rel_dir, name)) == NULL) {
		free(ip);
		return TS_ENOMEM;
	}
	free(ip);
	return 0;
}

static void
target_dispose(struct target *t)
{
	free(t->rel_dir);
	free(t->cur_path);
	free(t->ip_path);
	free(t->final_path);
	rlock_dispose(&t->lock);
	ts_conn_free(t->own);
}

/*
 * Opens the connection again when it was lost (ts_push reconnects its
 * own, not the caller's): the steps after an upload that survived a drop
 * must still run, and the lock be removed.
 */
static int
target_engine(struct target *t, struct ts_error *err)
{
	struct ts_conn	*c2;
	int		 rc;

	if (sftp_failed(t->s) == NULL)
		return 0;
	log_msg(TS_LOG_WARN, "connection lost: %s; reconnecting",
	    sftp_failed(t->s)->msg);
	if ((rc = conn_clone(&c2, t->c, err)) != 0)
		return rc;
	ts_conn_free(t->own);
	t->own = t->c = c2;
	t->s = t->lock.s = conn_sftp(c2);
	return 0;
}

/* Records a target's failure in its result; returns the code. */
static int
target_fail(struct target *t, const struct ts_error *e)
{
	if (t->res->code == TS_OK) {
		t->res->code = e->code != TS_OK ? e->code : TS_ERROR;
		snprintf(t->res->error, sizeof(t->res->error), "%s", e->msg);
	}
	return t->res->code;
}

/*
 * Whether the complete release at final_path holds exactly local_dir (a
 * dry-run push with --delete plans nothing): a release is never changed
 * once it has its final name.
 */
static int
same_release(struct target *t, const char *local_dir,
    const struct ts_publish_opts *o, struct ts_error *err)
{
	struct ts_sync_opts	 so = o->sync;
	struct ts_summary	 sum;
	int			 rc;

	so.dry_run = true;
	so.delete_extra = true;
	so.link_dest = NULL;
	so.progress = NULL;
	if ((rc = job_push_tree(&sum, t->c, t->tree, local_dir, t->final_path,
	    &so, NULL, NULL, err)) != 0)
		return rc;
	if (sum.files_created + sum.files_updated + sum.files_deleted +
	    sum.dirs_created + sum.symlinks + sum.attrs_set > 0)
		return error_set(err, TS_EINVAL, "release \"%s\" exists "
		    "already under \"%s\" with other content; a release is "
		    "never changed: publish under a new --release",
		    t->res->release, t->rel_dir);
	return 0;
}

/* Before any upload: the root, the lock, current, symlinks, the
 * release's directory. */
static int
target_prepare(struct target *t, const char *local_dir,
    const struct ts_publish_opts *o, struct ts_error *err)
{
	struct rel_list		 l;
	struct ts_error		 e = { 0 };
	int			 rc;

	if ((rc = check_root(t, true, err)) != 0 ||
	    (rc = rlock_take(&t->lock, t->s, t->root, PUBLISH_LOCK_NAME,
	    "publish", "release", t->res->release, o->break_lock, err)) != 0 ||
	    (rc = read_current(t, err)) != 0 ||
	    (rc = check_symlinks(t, err)) != 0)
		return rc;
	sweep_stale_tmp(t);
	if ((rc = ts_mkdir(t->c, t->rel_dir, false, &e)) != 0) {
		/* An existing directory is what we want. */
		struct sftp_attrs a;

		if (sftp_failed(t->s) != NULL ||
		    rfs_stat(t->s, t->rel_dir, &a, NULL) != 0 ||
		    !rfs_is_dir(&a))
			return error_set(err, rc, "%s", e.msg);
	}
	if ((rc = rel_list(t, &l, err)) != 0)
		return rc;
	t->exists = rel_find(&l, t->res->release, BACKUP_COMPLETE) != NULL;
	if (t->exists) {
		log_msg(TS_LOG_INFO, "release \"%s\" exists already: checking "
		    "that it holds the same files", t->final_path);
		if ((rc = same_release(t, local_dir, o, err)) == 0)
			t->res->uploaded = true;
	} else if (rel_find(&l, strrchr(t->ip_path, '/') + 1,
	    BACKUP_IN_PROGRESS) != NULL)
		log_msg(TS_LOG_INFO, "finishing the unfinished upload \"%s\"",
		    t->ip_path);
	else
		rc = ts_mkdir(t->c, t->ip_path, false, err);
	rel_list_dispose(&l);
	return rc;
}

/*
 * Uploads into the in-progress directory: --delete (a resumed one ends
 * exact), flushed, verified, unchanged files linked from the current
 * release.  Then stamps the directory's mtime with the publication time,
 * after every release there: the rotation orders releases by it.
 */
static int
target_upload(struct target *t, const char *local_dir,
    const struct ts_publish_opts *o, ts_item_fn *fn, void *payload,
    struct ts_error *err)
{
	struct ts_sync_opts	 so = o->sync;
	struct sftp_call	 call = { 0 };
	struct sftp_attrs	 a;
	struct ts_error		 e = { 0 };
	char			*ld = NULL;
	int64_t			 now;
	int			 rc;

	if (t->exists)
		return 0;
	if (t->res->previous[0] != '\0' &&
	    (ld = path_join(t->rel_dir, t->res->previous)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	so.dry_run = false;
	so.delete_extra = true;
	so.fsync = true;		/* a crash must not empty a live file */
	so.link_dest = ld;
	so.checksum = false;		/* nothing to compare with yet */
	rc = job_push_tree(&t->res->sum, t->c, t->tree, local_dir, t->ip_path,
	    &so, fn, payload, &e);
	free(ld);
	if (rc == 0 && o->sync.checksum && t->res->sum.files_linked > 0) {
		/* -c: files were linked by size and mtime; a second push by
		 * hash replaces any that differ, as backup does. */
		struct ts_summary sum2;

		so.link_dest = NULL;
		so.checksum = true;
		rc = job_push_tree(&sum2, t->c, t->tree, local_dir,
		    t->ip_path, &so, fn, payload, &e);
		t->res->sum.files_created += sum2.files_updated;
		t->res->sum.files_linked -= sum2.files_updated <
		    t->res->sum.files_linked ? sum2.files_updated :
		    t->res->sum.files_linked;
		t->res->sum.bytes_sent += sum2.bytes_sent;
		t->res->sum.errors += sum2.errors;
	}
	if (rc != 0)
		return error_set(err, rc, "%s", e.msg);
	if ((rc = target_engine(t, err)) != 0)
		return rc;
	now = (int64_t)time(NULL);
	memset(&a, 0, sizeof(a));
	a.flags = SSH_FILEXFER_ATTR_ACMODTIME;
	a.mtime = a.atime = (uint32_t)(now > t->newest ? now : t->newest + 1);
	if ((rc = sftp_call_wait(t->s, sftp_setstat(t->s, t->ip_path, &a,
	    sftp_call_cb, &call), &call, "set the time of", t->ip_path,
	    err)) != 0)
		return rc;
	t->res->uploaded = true;
	return 0;
}

/*
 * Points ROOT/current at releases/name: a new symlink at a temporary
 * name, renamed over current with posix-rename (rename(2) on the server:
 * a reader of current/... sees the old target or the new one, never
 * none).  The link is relative, so it holds wherever ROOT is mounted.
 */
static int
switch_current(struct target *t, const char *name, struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	char			*tmp = NULL, *to = NULL;
	int			 rc;

	if (asprintf(&to, "releases/%s", name) < 0 ||
	    tempname_make(&tmp, t->cur_path, TEMPNAME_TMP) != 0) {
		free(to);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	rc = sftp_call_wait(t->s, sftp_symlink(t->s, tmp, to, sftp_call_cb, &call),
	    &call, "symlink", tmp, err);
	if (rc == 0) {
		memset(&call, 0, sizeof(call));
		rc = sftp_call_wait(t->s, sftp_posix_rename(t->s, tmp, t->cur_path,
		    sftp_call_cb, &call), &call, "rename", tmp, err);
		if (rc != 0)
			rfs_remove(t->s, tmp, NULL);
	}
	free(tmp);
	free(to);
	return rc;
}

/* The release gets its final name (plain rename: never over another),
 * then current points to it. */
static int
target_switch(struct target *t, struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	int			 rc;

	if ((rc = target_engine(t, err)) != 0)
		return rc;
	if (!t->exists && (rc = sftp_call_wait(t->s, sftp_rename(t->s, t->ip_path,
	    t->final_path, sftp_call_cb, &call), &call, "rename", t->ip_path,
	    err)) != 0)
		return rc;
	t->exists = true;
	if (strcmp(t->res->previous, t->res->release) != 0 &&
	    (rc = switch_current(t, t->res->release, err)) != 0)
		return rc;
	t->res->switched = true;
	return 0;
}

/* Lists the releases again and removes what the rotation says, telling
 * pfn of each decision.  One removal failing does not stop the others. */
static int
target_prune(struct target *t, size_t keep, ts_prune_fn *pfn, void *payload,
    struct ts_error *err)
{
	struct rel_list		 l;
	struct backup_snap	*v;
	struct ts_prune_item	 pi;
	struct ts_error		 e;
	size_t			 i;
	int			 rc, first = 0;

	if ((rc = target_engine(t, err)) != 0 ||
	    (rc = rel_list(t, &l, err)) != 0)
		return rc;
	if ((v = calloc(l.n + 1, sizeof(*v))) == NULL) {
		rel_list_dispose(&l);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	publish_prune_plan(l.v, l.n, keep, t->res->release, v);
	for (i = 0; i < l.n; i++) {
		memset(&pi, 0, sizeof(pi));
		memset(&e, 0, sizeof(e));
		pi.name = v[i].name;
		pi.keep = v[i].keep;
		pi.reason = v[i].reason;
		if (v[i].keep) {
			if (v[i].kind == BACKUP_COMPLETE)
				t->res->kept++;
		} else {
			t->res->removed++;
			if ((pi.code = rmtree_prune(t->s, t->rel_dir, v[i].name,
			    v[i].kind == BACKUP_COMPLETE, &e)) != 0) {
				pi.error = e.msg;
				if (first == 0) {
					first = e.code;
					error_set(err, e.code, "%s", e.msg);
				}
			}
		}
		if (pfn != NULL)
			pfn(&pi, payload);
	}
	free(v);
	rel_list_dispose(&l);
	return first;
}

/*
 * Removes the lock.  When the run's connection was lost (the upload's
 * retries ran out), one more is opened for it: a lock left behind would
 * stop every later run until someone removes it.
 */
static void
target_unlock(struct target *t)
{
	struct ts_error	 e = { 0 };
	int		 rc = t->res->code;

	if (!t->lock.held)
		return;
	if (target_engine(t, &e) != 0) {
		log_msg(TS_LOG_WARN, "the lock \"%s\" is left behind (%s): "
		    "remove it, or run again with --break-lock", t->lock.path,
		    e.msg);
		return;
	}
	rlock_release(&t->lock, &rc, &e);
	if (rc != 0 && t->res->code == TS_OK)
		target_fail(t, &e);
}

/* --- the runs ---------------------------------------------------------- */

/* The release's name: the option, or now in UTC. */
static int
choose_name(char *out, size_t size, const struct ts_publish_opts *o,
    struct ts_error *err)
{
	struct tm	 tm;
	time_t		 now;

	if (o->release != NULL) {
		if (!ts_publish_release_valid(o->release))
			return error_set(err, TS_EINVAL, "bad release name "
			    "\"%s\": 1 to %d letters, digits, '.', '_', '-' "
			    "or '+', starting with a letter or digit",
			    o->release, PUBLISH_NAME_MAX);
		snprintf(out, size, "%s", o->release);
		return 0;
	}
	now = time(NULL);
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(out, size, "%Y%m%d-%H%M%S", &tm) == 0)
		return error_set(err, TS_ERROR, "cannot read the clock");
	return 0;
}

/*
 * The run's code from the targets': 0 when all switched and nothing
 * failed; TS_ESPLIT when some switched and some did not; else the first
 * failure of a target that did not switch (none switched), or of one
 * that did (every one switched, then a rotation or the lock failed).
 */
static int
run_code(struct target *t, size_t n, const char *what, struct ts_error *err)
{
	size_t	 i, switched = 0, failed = n, late = n;

	for (i = 0; i < n; i++) {
		if (t[i].res->switched)
			switched++;
		if (t[i].res->code == TS_OK)
			continue;
		if (!t[i].res->switched && failed == n)
			failed = i;
		if (t[i].res->switched && late == n)
			late = i;
	}
	if (failed == n && late == n)
		return 0;
	if (switched == n)
		return error_set(err, t[late].res->code, "%s on every target, "
		    "but: %s", what, t[late].res->error);
	if (switched > 0)
		return error_set(err, TS_ESPLIT, "%s on %zu of %zu targets "
		    "only; the first that did not: %s", what, switched, n,
		    failed != n ? t[failed].res->error : "stopped before it");
	return error_set(err, t[failed].res->code, "%s", t[failed].res->error);
}

/* Sets up t[0..n) and clears out[0..n) for the release name. */
static int
targets_init(struct target *t, struct ts_publish_result *out,
    struct ts_conn *const *conns, const char *const *roots, size_t n,
    const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		snprintf(out[i].release, sizeof(out[i].release), "%s", name);
		t[i].c = conns[i];
		t[i].s = conn_sftp(conns[i]);
		t[i].root = roots[i] != NULL ? roots[i] : "";
		t[i].res = &out[i];
		if (target_paths(&t[i], name) != 0)
			return TS_ENOMEM;
	}
	return 0;
}

int
ts_publish(struct ts_publish_result *out, struct ts_conn *const *conns,
    const char *const *roots, size_t n, const char *local_dir,
    const struct ts_publish_opts *o, ts_item_fn *fn, ts_prune_fn *pfn,
    void *payload, struct ts_error *err)
{
	static const struct ts_publish_opts defaults = TS_PUBLISH_OPTS_INIT;
	struct target	*t = NULL;
	struct ltree	 tree;
	struct ts_error	 e;
	char		 name[PUBLISH_NAME_MAX + 1];
	size_t		 i;
	bool		 ok = true;
	int		 rc;

	if (o == NULL)
		o = &defaults;
	for (i = 0; i < n; i++)
		memset(&out[i], 0, sizeof(out[i]));
	if (n == 0)
		return error_set(err, TS_EINVAL, "publish needs a target");
	if ((rc = version_check_opts(o->version, TS_PUBLISH_OPTS_VERSION,
	    "ts_publish_opts", err)) != 0 ||
	    (rc = version_check_opts(o->sync.version, TS_SYNC_OPTS_VERSION,
	    "ts_sync_opts", err)) != 0)
		return rc;
	if (o->keep < 1)
		return error_set(err, TS_EINVAL, "bad keep %d: at least 1",
		    o->keep);
	if (o->sync.dry_run)
		return error_set(err, TS_EINVAL, "publish has no dry run; "
		    "diff against the current release shows what it would "
		    "send");
	if ((rc = choose_name(name, sizeof(name), o, err)) != 0)
		return rc;
	/* The local tree is walked once, before any server is changed:
	 * every target gets the same files. */
	if ((rc = ltree_walk(&tree, local_dir, &o->sync, err)) != 0) {
		ltree_dispose(&tree);
		return rc;
	}
	if ((t = calloc(n, sizeof(*t))) == NULL) {
		ltree_dispose(&tree);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	if (targets_init(t, out, conns, roots, n, name) != 0) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		t[i].tree = &tree;
	/* Every step on every target before the next: no upload starts
	 * before every target is known able to switch. */
	for (i = 0; i < n && ok; i++) {
		memset(&e, 0, sizeof(e));
		if (target_prepare(&t[i], local_dir, o, &e) != 0)
			ok = target_fail(&t[i], &e) == TS_OK;
	}
	for (i = 0; i < n && ok; i++) {
		memset(&e, 0, sizeof(e));
		if (cancel_requested())
			error_set(&e, TS_ECANCELED, "interrupted");
		if (e.code != TS_OK ||
		    target_upload(&t[i], local_dir, o, fn, payload, &e) != 0)
			ok = target_fail(&t[i], &e) == TS_OK;
	}
	/* The switches, back to back, only when every release is there. */
	for (i = 0; i < n && ok && !cancel_requested(); i++) {
		memset(&e, 0, sizeof(e));
		if (target_switch(&t[i], &e) != 0)
			target_fail(&t[i], &e);
	}
	for (i = 0; i < n; i++) {
		if (!t[i].res->switched)
			continue;
		memset(&e, 0, sizeof(e));
		if (target_prune(&t[i], (size_t)o->keep, pfn, payload, &e) != 0)
			target_fail(&t[i], &e);
	}
	if (!ok || cancel_requested())
		for (i = 0; i < n; i++)
			if (t[i].res->code == TS_OK) {
				memset(&e, 0, sizeof(e));
				error_set(&e, cancel_requested() ?
				    TS_ECANCELED : TS_ERROR, cancel_requested() ?
				    "interrupted before the switch" :
				    "another target failed");
				target_fail(&t[i], &e);
				/* Not this target's own failure. */
				if (!cancel_requested())
					t[i].res->code = TS_OK;
			}
	for (i = 0; i < n; i++)
		target_unlock(&t[i]);
	rc = run_code(t, n, "switched", err);
out:
	for (i = 0; t != NULL && i < n; i++)
		target_dispose(&t[i]);
	free(t);
	ltree_dispose(&tree);
	return rc;
}

/* Rollback on one target: the lock, current, and the complete release
 * published right before it, into res->release. */
static int
rollback_prepare(struct target *t, const struct ts_publish_opts *o,
    struct ts_error *err)
{
	struct rel_list		 l;
	size_t			 i, cur;
	int			 rc;

	if ((rc = check_root(t, false, err)) != 0 ||
	    (rc = rlock_take(&t->lock, t->s, t->root, PUBLISH_LOCK_NAME,
	    "publish", "release", "(rollback)", o->break_lock, err)) != 0 ||
	    (rc = read_current(t, err)) != 0)
		return rc;
	if (t->res->previous[0] == '\0')
		return error_set(err, TS_ENOENT, "\"%s\" does not exist: "
		    "nothing to roll back", t->cur_path);
	if ((rc = check_symlinks(t, err)) != 0 ||
	    (rc = rel_list(t, &l, err)) != 0)
		return rc;
	for (cur = 0; cur < l.n; cur++)
		if (l.v[cur].kind == BACKUP_COMPLETE &&
		    strcmp(l.v[cur].name, t->res->previous) == 0)
			break;
	if (cur == l.n)
		rc = error_set(err, TS_ENOENT, "the current release \"%s\" is "
		    "not under \"%s\"", t->res->previous, t->rel_dir);
	for (i = cur; rc == 0 && i-- > 0; )
		if (l.v[i].kind == BACKUP_COMPLETE)
			break;
	if (rc == 0 && i == (size_t)-1)
		rc = error_set(err, TS_ENOENT, "\"%s\" is the oldest release "
		    "under \"%s\": there is none before it to roll back to",
		    t->res->previous, t->rel_dir);
	if (rc == 0) {
		snprintf(t->res->release, sizeof(t->res->release), "%s",
		    l.v[i].name);
		t->exists = true;
		t->res->uploaded = true;
	}
	rel_list_dispose(&l);
	return rc;
}

int
ts_publish_rollback(struct ts_publish_result *out,
    struct ts_conn *const *conns, const char *const *roots, size_t n,
    const struct ts_publish_opts *o, struct ts_error *err)
{
	static const struct ts_publish_opts defaults = TS_PUBLISH_OPTS_INIT;
	struct target	*t = NULL;
	struct ts_error	 e;
	size_t		 i;
	bool		 ok = true;
	int		 rc;

	if (o == NULL)
		o = &defaults;
	if ((rc = version_check_opts(o->version, TS_PUBLISH_OPTS_VERSION,
	    "ts_publish_opts", err)) != 0)
		return rc;
	if (n == 0)
		return error_set(err, TS_EINVAL, "rollback needs a target");
	if ((t = calloc(n, sizeof(*t))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if (targets_init(t, out, conns, roots, n, "") != 0) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n && ok; i++) {
		memset(&e, 0, sizeof(e));
		if (rollback_prepare(&t[i], o, &e) != 0)
			ok = target_fail(&t[i], &e) == TS_OK;
	}
	for (i = 0; i < n && ok && !cancel_requested(); i++) {
		memset(&e, 0, sizeof(e));
		if (switch_current(&t[i], t[i].res->release, &e) != 0)
			target_fail(&t[i], &e);
		else
			t[i].res->switched = true;
	}
	if (!ok || cancel_requested())
		for (i = 0; i < n; i++)
			if (t[i].res->code == TS_OK && !t[i].res->switched) {
				memset(&e, 0, sizeof(e));
				error_set(&e, TS_ECANCELED, "%s",
				    cancel_requested() ? "interrupted" :
				    "another target failed");
				target_fail(&t[i], &e);
				if (!cancel_requested())
					t[i].res->code = TS_OK;
			}
	for (i = 0; i < n; i++)
		target_unlock(&t[i]);
	rc = run_code(t, n, "rolled back", err);
out:
	for (i = 0; t != NULL && i < n; i++)
		target_dispose(&t[i]);
	free(t);
	return rc;
}

/* The size and number of files of the tree under dir. */
static int
tree_size(struct sftp *s, const char *dir, uint64_t *size, uint64_t *files,
    struct ts_error *err)
{
	struct walk_problems	 wp;
	struct entries		 l;
	bool			 missing = false;
	size_t			 i;
	int			 rc;

	*size = *files = 0;
	entries_init(&l);
	walk_problems_init(&wp);
	rc = walk_remote(&l, s, dir, NULL, &wp, &missing, err);
	for (i = 0; rc == 0 && i < l.n; i++)
		if (l.v[i].type == ENTRY_FILE) {
			*size += l.v[i].size;
			(*files)++;
		}
	entries_dispose(&l);
	walk_problems_dispose(&wp);
	return rc;
}

int
ts_publish_list(struct ts_conn *c, const char *root, ts_release_fn *fn,
    void *payload, struct ts_error *err)
{
	struct ts_publish_result res;
	struct target		 t;
	struct rel_list		 l = { 0 };
	struct ts_release	 r;
	char			*dir;
	size_t			 i, pass;
	int			 rc;

	memset(&t, 0, sizeof(t));
	memset(&res, 0, sizeof(res));
	t.c = c;
	t.s = conn_sftp(c);
	t.root = root != NULL ? root : "";
	t.res = &res;
	if (target_paths(&t, "x") != 0) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = check_root(&t, false, err)) != 0 ||
	    (rc = read_current(&t, err)) != 0)
		goto out;
	if ((rc = rel_list(&t, &l, err)) != 0)
		goto out;
	/* Unfinished uploads first, then the releases oldest first. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < l.n; i++) {
			if ((l.v[i].kind == BACKUP_IN_PROGRESS) !=
			    (pass == 0) || l.v[i].kind == BACKUP_REMOVING)
				continue;
			memset(&r, 0, sizeof(r));
			r.name = l.v[i].name;
			r.mtime = l.v[i].mtime;
			r.complete = l.v[i].kind == BACKUP_COMPLETE;
			r.current = r.complete &&
			    strcmp(r.name, res.previous) == 0;
			if ((dir = path_join(t.rel_dir, l.v[i].name)) == NULL) {
				rc = error_set(err, TS_ENOMEM, "out of memory");
				goto out;
			}
			rc = tree_size(t.s, dir, &r.size, &r.files, err);
			free(dir);
			if (rc != 0)
				goto out;
			fn(&r, payload);
		}
out:
	rel_list_dispose(&l);
	target_dispose(&t);
	return rc;
}
