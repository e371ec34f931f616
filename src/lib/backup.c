/*
 * Backup: one dated snapshot per run under a remote root, verified,
 * hard-linked from the previous one, then the rotation.
 *
 * A run, in order: check the PATHs (all before anything is changed);
 * create ROOT if missing; take the lock ROOT/.treesync-backup.lock (an
 * exclusive create, so two runs can never both hold it); list ROOT and
 * choose the names; build the snapshot under .STAMP.in-progress, each
 * PATH as its base name (a directory with ts_push, link_dest pointing at
 * the same base name in the newest complete snapshot; a file with ts_put
 * or one HARDLINK); rename it to its final name only when every item is
 * there and verified; then prune; and remove the lock, whatever happened.
 * A failed run stops before the rename: nothing is pruned, and its
 * in-progress directory is left for the next run to remove (or, when it
 * runs with the same stamp, to finish: the push into it sends only what
 * is missing).
 *
 * The lock is never broken automatically: a run that died (kill -9, a
 * lost connection) leaves it, and the next run refuses with TS_ELOCKED
 * and a message naming the lock, its host and pid and its age, until the
 * lock is removed or break_lock is asked for (docs/backup.md).
 *
 * This file is the run; the rules it follows (names, what a rotation
 * keeps) are backup_rules.c, the lock is rlock.c, the removal of a
 * snapshot rmtree.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "cancel.h"
#include "conn.h"
#include "entries.h"
#include "error.h"
#include "path.h"
#include "hash.h"
#include "local_open.h"
#include "log.h"
#include "metadata.h"
#include "rfs.h"
#include "rlock.h"
#include "rmtree.h"
#include "tempname.h"
#include "sftp.h"
#include "verify.h"
#include "walk_remote.h"
#include "version.h"


/* --- one run ---------------------------------------------------------- */

/* One entry of ROOT's listing. */
struct root_ent {
	char		*name;
	bool		 is_dir;
};

struct root_list {
	struct root_ent	*v;
	size_t		 n, cap;
};

struct backup {
	struct ts_conn	*c;
	struct sftp	*s;
	const struct ts_backup_opts *o;
	const char	*root;
	struct ts_backup_result *res;
	ts_item_fn	*fn;
	ts_prune_fn	*pfn;
	void		*payload;
	char		 stamp[BACKUP_STAMP_LEN + 1];
	char		**bases;	/* each PATH's name in the snapshot */
	struct rlock	 lock;
	char		*ip_path;	/* ROOT/.STAMP.in-progress */
	const char	*base;		/* the PATH being sent: its base name */
	uint64_t	 failed;	/* items that failed */
	char		 first_fail[200]; /* the first one's message */
};

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- listing ROOT ------------------------------------------------------- */

static int
root_list_add(const struct ts_dirent *d, void *payload)
{
	struct root_list	*l = payload;
	struct root_ent		*v;

	if (l->n == l->cap) {
		size_t	 cap = l->cap != 0 ? l->cap * 2 : 32;

		if ((v = realloc(l->v, cap * sizeof(*v))) == NULL)
			return TS_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if ((l->v[l->n].name = strdup(d->name)) == NULL)
		return TS_ENOMEM;
	l->v[l->n].is_dir = d->st.has_mode && (d->st.mode & 0170000) ==
	    0040000;
	l->n++;
	return 0;
}

static void
root_list_dispose(struct root_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int
root_list(struct backup *b, struct root_list *l, struct ts_error *err)
{
	int	 rc;

	memset(l, 0, sizeof(*l));
	rc = ts_list(b->c, b->root, false, root_list_add, l, err);
	if (rc == TS_ENOMEM)
		return error_set(err, TS_ENOMEM, "out of memory");
	return rc;
}

static const struct root_ent *
root_find(const struct root_list *l, const char *name)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

/* --- the rotation --------------------------------------------------------- */

/*
 * Lists ROOT again and decides about every name of ours (backup.h), then
 * removes what goes, oldest first, telling pfn of each decision.  One
 * removal failing does not stop the others; the first error is returned.
 */
static int
backup_prune(struct backup *b, struct ts_error *err)
{
	struct root_list	 rl;
	struct backup_snap	*v = NULL;
	struct ts_prune_item	 pi;
	struct ts_error		 e;
	size_t			 i, n = 0;
	int			 rc, first = 0;

	if ((rc = root_list(b, &rl, err)) != 0)
		return rc;
	if ((v = calloc(rl.n + 1, sizeof(*v))) == NULL) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < rl.n; i++) {
		/* Only directories of ours; a file or a symlink by such a
		 * name is foreign. */
		if (!rl.v[i].is_dir)
			continue;
		v[n].kind = backup_name_kind(rl.v[i].name, v[n].stamp);
		if (v[n].kind == BACKUP_FOREIGN)
			continue;
		v[n].name = rl.v[i].name;
		n++;
	}
	backup_prune_plan(v, n, (size_t)b->o->keep, b->res->snapshot);
	for (i = 0; i < n; i++) {
		memset(&pi, 0, sizeof(pi));
		memset(&e, 0, sizeof(e));
		pi.name = v[i].name;
		pi.keep = v[i].keep;
		pi.reason = v[i].reason;
		pi.dry_run = b->o->prune_dry_run;
		if (v[i].keep) {
			if (v[i].kind == BACKUP_COMPLETE)
				b->res->kept++;
		} else {
			b->res->removed++;
			if (!b->o->prune_dry_run &&
			    (pi.code = rmtree_prune(b->s, b->root, v[i].name,
			    v[i].kind == BACKUP_COMPLETE, &e)) != 0) {
				pi.error = e.msg;
				if (first == 0) {
					first = e.code;
					error_set(err, e.code, "%s", e.msg);
				}
			}
		}
		if (b->pfn != NULL)
			b->pfn(&pi, b->payload);
	}
	rc = first;
out:
	free(v);
	root_list_dispose(&rl);
	return rc;
}

/* --- sending the PATHs ------------------------------------------------------ */

static void
sum_add(struct ts_summary *to, const struct ts_summary *s)
{
	to->files_scanned += s->files_scanned;
	to->files_created += s->files_created;
	to->files_updated += s->files_updated;
	to->files_deleted += s->files_deleted;
	to->files_unchanged += s->files_unchanged;
	to->dirs_created += s->dirs_created;
	to->symlinks += s->symlinks;
	to->attrs_set += s->attrs_set;
	to->bytes_sent += s->bytes_sent;
	to->bytes_literal += s->bytes_literal;
	to->bytes_matched += s->bytes_matched;
	to->files_linked += s->files_linked;
	to->errors += s->errors;
	if (to->hash_used == NULL)
		to->hash_used = s->hash_used;
	if (to->hash_where == NULL)
		to->hash_where = s->hash_where;
}

/* Hands an item to the caller with its path inside the snapshot
 * ("base/path"), and remembers the first failure for the message. */
static void
backup_report(struct backup *b, const struct ts_item *it)
{
	struct ts_item	 copy = *it;
	char		*p = NULL;

	if (it->path == NULL || it->path[0] == '\0')
		copy.path = b->base;
	else if ((p = path_join(b->base, it->path)) != NULL)
		copy.path = p;
	if ((it->code != TS_OK || it->action == TS_ITEM_CONFLICT ||
	    (it->action == TS_ITEM_SKIP && it->code != TS_OK))) {
		if (b->failed++ == 0)
			snprintf(b->first_fail, sizeof(b->first_fail), "%s",
			    it->error != NULL ? it->error : it->reason != NULL ?
			    it->reason : copy.path);
	}
	if (b->fn != NULL)
		b->fn(&copy, b->payload);
	free(p);
}

static void
backup_item(const struct ts_item *it, void *payload)
{
	backup_report(payload, it);
}

/* Reports one item of our own making (a PATH's directory or file). */
static void
report_one(struct backup *b, enum ts_item_action action,
    enum ts_item_type type, uint64_t size, int code, const char *error)
{
	struct ts_item	 it;

	memset(&it, 0, sizeof(it));
	it.action = action;
	it.type = type;
	it.path = "";
	it.reason = "new";
	it.size = size;
	it.created = true;
	it.code = code;
	it.error = code != TS_OK ? error : NULL;
	backup_report(b, &it);
}

/*
 * A directory PATH: creates ip/base (reported as a mkdir), then pushes
 * into it with --delete (a resumed snapshot ends up exact) and link_dest
 * at the same name in the newest snapshot.  With -c, files were linked by
 * size and mtime: a second push by hash replaces any that differ.
 */
static int
send_dir(struct backup *b, const char *path, const char *dst,
    const char *link_dest, struct ts_error *err)
{
	struct ts_sync_opts	 so = b->o->sync;
	struct ts_summary	 sum;
	struct ts_sync_opts	 so2;
	struct ts_error		 e = { 0 };
	struct sftp_attrs	 a;
	int			 rc;

	if (rfs_stat(b->s, dst, &a, NULL) != 0) {
		if (sftp_failed(b->s) != NULL)
			return error_set(err, sftp_failed(b->s)->code, "%s",
			    sftp_failed(b->s)->msg);
		if ((rc = ts_mkdir(b->c, dst, false, &e)) != 0) {
			report_one(b, TS_ITEM_MKDIR, TS_TYPE_DIR, 0, rc, e.msg);
			return error_set(err, rc, "%s", e.msg);
		}
		report_one(b, TS_ITEM_MKDIR, TS_TYPE_DIR, 0, TS_OK, NULL);
		b->res->sum.dirs_created++;
	}
	so.dry_run = false;
	so.fsync = true;		/* a backup must survive the server's crash */
	so.delete_extra = true;
	so.link_dest = link_dest;
	so.checksum = false;		/* nothing to compare with yet */
	rc = ts_push(&sum, b->c, path, dst, &so, backup_item, b, &e);
	sum_add(&b->res->sum, &sum);
	if (rc == 0 && b->o->sync.checksum && sum.files_linked > 0) {
		so2 = so;
		so2.link_dest = NULL;
		so2.checksum = true;
		rc = ts_push(&sum, b->c, path, dst, &so2, backup_item, b, &e);
		/* Only files linked by mistake are sent: they are new. */
		b->res->sum.files_created += sum.files_updated;
		b->res->sum.files_linked -= sum.files_updated <
		    b->res->sum.files_linked ? sum.files_updated :
		    b->res->sum.files_linked;
		b->res->sum.bytes_sent += sum.bytes_sent;
		b->res->sum.errors += sum.errors;
	}
	if (rc != 0 && rc != TS_EPARTIAL)
		error_set(err, rc, "%s", e.msg);
	return rc;
}

/* SHA-256 of local file path into hex; 0 or -1. */
static int
hash_local(const char *path, char *hex)
{
	struct hash	 h;
	struct stat	 st;
	uint8_t		 buf[65536];
	ssize_t		 n;
	int		 fd;

	if (local_open_named(&fd, &st, path, NULL) != 0)
		return -1;
	if (hash_init(&h, HASH_SHA256) != 0) {
		close(fd);
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		hash_update(&h, buf, (size_t)n);
	hash_final(&h, hex);
	hash_dispose(&h);
	close(fd);
	return n == 0 ? 0 : -1;
}

/* -c: whether the remote file dst has the bytes of local file path, by
 * SHA-256 on the server (or read back when it runs no commands). */
static bool
same_by_hash(struct backup *b, const char *path, const char *dst)
{
	char	 mine[HASH_HEX_MAX], theirs[1][HASH_HEX_MAX];

	if (hash_local(path, mine) != 0)
		return false;
	if (verify_remote_hash(sftp_ssh(b->s), HASH_SHA256, &dst, 1, theirs,
	    NULL) != 0 && (sftp_failed(b->s) != NULL ||
	    verify_read_back(b->s, dst, HASH_SHA256, theirs[0], NULL) != 0))
		return false;
	return strcmp(mine, theirs[0]) == 0;
}

/*
 * A file PATH: one HARDLINK from the newest snapshot when it is unchanged
 * there (size, mtime, mode; with -c, and its SHA-256), else an upload
 * through ts_put (verified, renamed into place, replacing a link made).
 */
static int
send_file(struct backup *b, const char *path, const struct stat *st,
    const char *dst, const char *link_from, struct ts_error *err)
{
	struct ts_put_opts	 po = TS_PUT_OPTS_INIT;
	struct ts_xfer_result	 xr;
	struct sftp_call	 call = { 0 };
	struct sftp_attrs	 a;
	struct ts_error		 e = { 0 };
	int			 rc;

	b->res->sum.files_scanned++;
	if (link_from != NULL && sftp_has(b->s, SFTP_EXT_HARDLINK) &&
	    rfs_stat(b->s, link_from, &a, NULL) == 0 &&
	    (a.flags & SSH_FILEXFER_ATTR_SIZE) != 0 &&
	    (a.flags & SSH_FILEXFER_ATTR_ACMODTIME) != 0 &&
	    (a.perm & 0170000) == 0100000 && a.size == (uint64_t)st->st_size &&
	    a.mtime == (uint32_t)st->st_mtim.tv_sec &&
	    (a.perm & 07777) == (st->st_mode & 07777)) {
		/* A resumed snapshot may have it already: link anew. */
		rfs_remove(b->s, dst, NULL);
		if (sftp_call_wait(b->s, sftp_hardlink(b->s, link_from, dst,
		    sftp_call_cb, &call), &call, "hard-link", dst, &e) == 0 &&
		    (!b->o->sync.checksum || same_by_hash(b, path, dst))) {
			report_one(b, TS_ITEM_HARDLINK, TS_TYPE_FILE,
			    (uint64_t)st->st_size, TS_OK, NULL);
			b->res->sum.files_linked++;
			return 0;
		}
		if (sftp_failed(b->s) != NULL)
			return error_set(err, sftp_failed(b->s)->code, "%s",
			    sftp_failed(b->s)->msg);
		if (e.code != TS_OK)
			log_msg(TS_LOG_INFO, "%s; sending it instead", e.msg);
		error_clear(&e);
	}
	po.verify = b->o->sync.verify;
	po.keep_mode = true;
	po.fsync = true;
	po.cache_dir = b->o->sync.cache_dir;
	po.whole_file = b->o->sync.whole_file;
	po.delta_base = link_from;	/* the previous snapshot's copy */
	memset(&xr, 0, sizeof(xr));
	rc = ts_put(&xr, b->c, path, dst, &po, &e);
	report_one(b, TS_ITEM_UPLOAD, TS_TYPE_FILE, (uint64_t)st->st_size, rc,
	    e.msg);
	if (rc != 0) {
		b->res->sum.errors++;
		/* One file failing is a failed item, as in a push. */
		return rc == TS_ECONN || rc == TS_ECANCELED || rc == TS_ENOMEM ?
		    error_set(err, rc, "%s", e.msg) : TS_EPARTIAL;
	}
	b->res->sum.files_created++;
	b->res->sum.bytes_sent += xr.delta ? xr.bytes_literal : xr.bytes;
	b->res->sum.bytes_literal += xr.delta ? xr.bytes_literal : xr.bytes;
	b->res->sum.bytes_matched += xr.bytes_matched;
	if (xr.hash_checked && b->res->sum.hash_where == NULL)
		b->res->sum.hash_where = xr.hash_method != NULL &&
		    strcmp(xr.hash_method, "read-back") == 0 ? "read-back" :
		    "server";
	return 0;
}

/*
 * The metadata record (metadata.h) of every PATH, at the snapshot's root:
 * written to a private local file, then hard-linked from the newest
 * snapshot when that one's has the same bytes (by hash), else uploaded
 * and verified like the data.
 */
static int
send_record(struct backup *b, const char *const *paths, size_t npaths,
    struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	struct ts_put_opts	 po = TS_PUT_OPTS_INIT;
	struct ts_xfer_result	 xr;
	struct sftp_attrs	 a;
	struct stat		 st;
	struct ts_error		 e = { 0 };
	char			*local = NULL, *dst = NULL, *from = NULL;
	int			 rc;

	if ((rc = meta_write_temp(&local, paths,
	    (const char *const *)b->bases, npaths, err)) != 0)
		return rc;
	if ((dst = path_join(b->ip_path, META_NAME)) == NULL ||
	    (b->res->link_from[0] != '\0' && (from = path_join(b->root,
	    b->res->link_from)) == NULL) || stat(local, &st) != 0) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	if (from != NULL) {
		char	*old = path_join(from, META_NAME);

		free(from);
		from = old;
	}
	/* Unchanged since the newest snapshot: one link, checked by hash. */
	if (from != NULL && sftp_has(b->s, SFTP_EXT_HARDLINK) &&
	    rfs_stat(b->s, from, &a, NULL) == 0 &&
	    (a.flags & SSH_FILEXFER_ATTR_SIZE) != 0 &&
	    a.size == (uint64_t)st.st_size) {
		rfs_remove(b->s, dst, NULL);
		if (sftp_call_wait(b->s, sftp_hardlink(b->s, from, dst, sftp_call_cb,
		    &call), &call, "hard-link", dst, &e) == 0 &&
		    same_by_hash(b, local, dst)) {
			log_msg(TS_LOG_INFO, "metadata record unchanged: linked "
			    "from \"%s\"", from);
			goto out;
		}
		if (sftp_failed(b->s) != NULL) {
			rc = error_set(err, sftp_failed(b->s)->code, "%s",
			    sftp_failed(b->s)->msg);
			goto out;
		}
	}
	po.verify = b->o->sync.verify;
	po.keep_mode = false;
	po.fsync = true;
	memset(&xr, 0, sizeof(xr));
	if ((rc = ts_put(&xr, b->c, local, dst, &po, &e)) != 0)
		error_set(err, rc, "the metadata record: %s", e.msg);
out:
	if (local != NULL)
		unlink(local);
	free(local);
	free(dst);
	free(from);
	return rc;
}

/*
 * Checks the PATHs before anything is changed: each must be a directory
 * or a regular file (symlinks followed), and their base names (the names
 * in the snapshot) distinct.  Fills b->bases.
 */
static int
check_paths(struct backup *b, const char *const *paths, size_t npaths,
    struct ts_error *err)
{
	struct stat	 st;
	char		*copy, *end, *base, *real = NULL;
	size_t		 i, j;

	if (npaths == 0)
		return error_set(err, TS_EINVAL, "backup needs at least one "
		    "local path");
	if ((b->bases = calloc(npaths, sizeof(*b->bases))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	for (i = 0; i < npaths; i++) {
		if (stat(paths[i], &st) != 0)
			return error_set_errno(err, errno, "local path \"%s\"",
			    paths[i]);
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			return error_set(err, TS_EINVAL, "local path \"%s\" is "
			    "neither a directory nor a regular file", paths[i]);
		if ((copy = strdup(paths[i])) == NULL)
			return error_set(err, TS_ENOMEM, "out of memory");
		for (end = copy + strlen(copy); end > copy + 1 &&
		    end[-1] == '/'; )
			*--end = '\0';
		base = strrchr(copy, '/') != NULL ? strrchr(copy, '/') + 1 :
		    copy;
		/* ".", "..", "dir/.": the directory's real name. */
		if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
			if ((real = realpath(paths[i], NULL)) == NULL) {
				free(copy);
				return error_set_errno(err, errno, "local path "
				    "\"%s\"", paths[i]);
			}
			base = strrchr(real, '/') + 1;
		}
		if (*base == '\0') {
			free(copy);
			free(real);
			return error_set(err, TS_EINVAL, "cannot back up \"/\" "
			    "as one path: name its directories");
		}
		b->bases[i] = strdup(base);
		free(copy);
		free(real);
		real = NULL;
		if (b->bases[i] == NULL)
			return error_set(err, TS_ENOMEM, "out of memory");
		if (strcmp(b->bases[i], META_NAME) == 0)
			return error_set(err, TS_EINVAL, "\"%s\": the name %s is "
			    "the snapshot's metadata record", paths[i],
			    META_NAME);
		for (j = 0; j < i; j++)
			if (strcmp(b->bases[i], b->bases[j]) == 0)
				return error_set(err, TS_EINVAL, "\"%s\" and "
				    "\"%s\" would both be \"%s\" in the snapshot",
				    paths[j], paths[i], b->bases[i]);
	}
	return 0;
}

/* The run's stamp: the option, or now in local time. */
static int
choose_stamp(struct backup *b, struct ts_error *err)
{
	struct tm	 tm;
	time_t		 now;

	if (b->o->stamp != NULL) {
		if (!backup_stamp_valid(b->o->stamp))
			return error_set(err, TS_EINVAL, "bad stamp \"%s\": "
			    "expected YYYYMMDD-HHMMSS, a valid local date and "
			    "time", b->o->stamp);
		memcpy(b->stamp, b->o->stamp, sizeof(b->stamp));
		return 0;
	}
	now = time(NULL);
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(b->stamp, sizeof(b->stamp), "%Y%m%d-%H%M%S", &tm) !=
	    BACKUP_STAMP_LEN)
		return error_set(err, TS_ERROR, "cannot read the clock");
	return 0;
}

/*
 * Names the snapshot from ROOT's listing: YYYYMMDD, or YYYYMMDD-HHMMSS
 * when anything by that name exists; the in-progress name; and the
 * newest complete snapshot to link from.
 */
static int
choose_names(struct backup *b, const struct root_list *rl,
    struct ts_error *err)
{
	const struct root_ent	*e;
	const char		*newest = NULL;
	char			 stamp[BACKUP_STAMP_LEN + 1];
	char			 date[9];
	char			*ip;
	size_t			 i;

	memcpy(date, b->stamp, 8);
	date[8] = '\0';
	if (root_find(rl, date) == NULL)
		snprintf(b->res->snapshot, sizeof(b->res->snapshot), "%s", date);
	else if (root_find(rl, b->stamp) == NULL)
		snprintf(b->res->snapshot, sizeof(b->res->snapshot), "%s",
		    b->stamp);
	else
		return error_set(err, TS_EINVAL, "\"%s\" and \"%s\" exist already "
		    "under \"%s\": one backup a second at most", date, b->stamp,
		    b->root);
	if ((ip = tempname_mark(b->stamp, TEMPNAME_IN_PROGRESS)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	snprintf(b->res->in_progress, sizeof(b->res->in_progress), "%s", ip);
	free(ip);
	for (i = 0; i < rl->n; i++)
		if (rl->v[i].is_dir && backup_name_kind(rl->v[i].name, stamp) ==
		    BACKUP_COMPLETE && (newest == NULL ||
		    strcmp(rl->v[i].name, newest) > 0))
			newest = rl->v[i].name;
	if (newest != NULL)
		snprintf(b->res->link_from, sizeof(b->res->link_from), "%s",
		    newest);
	if ((b->ip_path = path_join(b->root, b->res->in_progress)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if ((e = root_find(rl, b->res->in_progress)) != NULL) {
		if (!e->is_dir)
			return error_set(err, TS_EREMOTE, "\"%s\" is in the way: "
			    "not a directory", b->ip_path);
		log_msg(TS_LOG_INFO, "finishing the unfinished snapshot \"%s\"",
		    b->ip_path);
		return 0;
	}
	return ts_mkdir(b->c, b->ip_path, false, err);
}

/* Sends every PATH into the in-progress directory; 0, or the first error
 * (TS_EPARTIAL when only items failed). */
static int
send_paths(struct backup *b, const char *const *paths, size_t npaths,
    struct ts_error *err)
{
	struct stat	 st;
	char		*dst = NULL, *from = NULL, *ld = NULL;
	size_t		 i;
	int		 rc, worst = 0;

	if (b->res->link_from[0] != '\0')
		log_msg(TS_LOG_INFO, "unchanged files are hard-linked from "
		    "\"%s\"", b->res->link_from);
	for (i = 0; i < npaths && worst != TS_ECONN && worst != TS_ECANCELED;
	    i++) {
		if (cancel_requested()) {
			worst = error_set(err, TS_ECANCELED, "interrupted");
			break;
		}
		b->base = b->bases[i];
		from = NULL;
		ld = NULL;
		if ((dst = path_join(b->ip_path, b->base)) == NULL ||
		    (b->res->link_from[0] != '\0' && ((from = path_join(b->root,
		    b->res->link_from)) == NULL || (ld = path_join(from,
		    b->base)) == NULL))) {
			free(dst);
			free(from);
			return error_set(err, TS_ENOMEM, "out of memory");
		}
		if (stat(paths[i], &st) != 0)
			rc = error_set_errno(err, errno, "local path \"%s\"",
			    paths[i]);
		else if (S_ISDIR(st.st_mode))
			rc = send_dir(b, paths[i], dst, ld, err);
		else
			rc = send_file(b, paths[i], &st, dst, ld, err);
		if (rc != 0 && (worst == 0 || worst == TS_EPARTIAL))
			worst = rc;
		free(dst);
		free(from);
		free(ld);
	}
	b->base = NULL;
	if (worst == TS_EPARTIAL)
		error_set(err, TS_EPARTIAL, "%llu item%s could not be backed up, "
		    "so the snapshot is not complete; the first: %s",
		    (unsigned long long)b->failed, b->failed == 1 ? "" : "s",
		    b->first_fail);
	return worst;
}

static int
backup_rename(struct backup *b, struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	char			*to;
	int			 rc;

	if ((to = path_join(b->root, b->res->snapshot)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	/* Plain v3 RENAME: it never replaces an existing name. */
	rc = sftp_call_wait(b->s, sftp_rename(b->s, b->ip_path, to, sftp_call_cb,
	    &call), &call, "rename", b->ip_path, err);
	free(to);
	return rc;
}

int
ts_backup(struct ts_backup_result *out, struct ts_conn *c,
    const char *const *paths, size_t npaths, const char *root,
    const struct ts_backup_opts *o, ts_item_fn *fn, ts_prune_fn *pfn,
    void *payload, struct ts_error *err)
{
	static const struct ts_backup_opts defaults = TS_BACKUP_OPTS_INIT;
	struct ts_backup_result	 res;
	struct root_list	 rl = { 0 };
	struct backup		 b;
	struct ts_error		 e = { 0 };
	struct sftp_attrs	 a;
	double			 t0 = now_s();
	size_t			 i;
	int			 rc;

	memset(&res, 0, sizeof(res));
	memset(&b, 0, sizeof(b));
	if (root == NULL)
		root = "";
	b.c = c;
	b.s = conn_sftp(c);
	b.o = o != NULL ? o : &defaults;
	b.root = root;
	b.res = &res;
	b.fn = fn;
	b.pfn = pfn;
	b.payload = payload;
	if ((rc = version_check_opts(b.o->version, TS_BACKUP_OPTS_VERSION,
	    "ts_backup_opts", &e)) != 0 ||
	    (rc = version_check_opts(b.o->sync.version, TS_SYNC_OPTS_VERSION,
	    "ts_sync_opts", &e)) != 0)
		goto out;
	if (b.o->keep < 1) {
		rc = error_set(&e, TS_EINVAL, "bad keep %d: at least 1",
		    b.o->keep);
		goto out;
	}
	if (b.o->sync.dry_run) {
		rc = error_set(&e, TS_EINVAL, "backup has no dry run; "
		    "--prune-dry-run shows what the rotation would remove");
		goto out;
	}
	if ((rc = choose_stamp(&b, &e)) != 0 ||
	    (rc = check_paths(&b, paths, npaths, &e)) != 0)
		goto out;
	if (*root != '\0' && (rc = ts_mkdir(c, root, true, &e)) != 0)
		goto out;
	if ((rc = rfs_stat(b.s, *root != '\0' ? root : ".", &a, &e)) != 0)
		goto out;
	if (!rfs_is_dir(&a)) {
		rc = error_set(&e, TS_EINVAL, "remote path \"%s\" is not a "
		    "directory", root);
		goto out;
	}
	if ((rc = rlock_take(&b.lock, b.s, root, BACKUP_LOCK_NAME, "backup",
	    "stamp", b.stamp, b.o->break_lock, &e)) != 0 ||
	    (rc = root_list(&b, &rl, &e)) != 0 ||
	    (rc = choose_names(&b, &rl, &e)) != 0)
		goto out;
	if ((rc = send_paths(&b, paths, npaths, &e)) != 0 ||
	    (rc = send_record(&b, paths, npaths, &e)) != 0)
		goto out;
	if (cancel_requested()) {
		rc = error_set(&e, TS_ECANCELED, "interrupted");
		goto out;
	}
	if ((rc = backup_rename(&b, &e)) != 0)
		goto out;
	res.complete = true;
	rc = backup_prune(&b, &e);
out:
	rlock_release(&b.lock, &rc, &e);
	if (b.o->sync.verify == TS_VERIFY_HASH && res.sum.hash_where != NULL)
		res.sum.hash_used = "sha256";
	res.sum.elapsed = now_s() - t0;
	if (rc != 0 && err != NULL && err->code == TS_OK)
		*err = e;
	root_list_dispose(&rl);
	if (b.bases != NULL)
		for (i = 0; i < npaths; i++)
			free(b.bases[i]);
	free(b.bases);
	rlock_dispose(&b.lock);
	free(b.ip_path);
	if (out != NULL)
		*out = res;
	return rc;
}
