/* Removing a remote tree, pipelined (rmtree.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cancel.h"
#include "entries.h"
#include "error.h"
#include "path.h"
#include "log.h"
#include "rfs.h"
#include "rmtree.h"
#include "tempname.h"
#include "walk_remote.h"

#define RMTREE_CHMOD_PASSES	64		/* levels of locked dirs */

enum rm_kind { RM_REMOVE, RM_RMDIR, RM_CHMOD };

/* Requests of one batch in flight; the first error wins. */
struct rmq {
	struct sftp	*s;
	size_t		 active;
	struct ts_error	 err;
	bool		 keep_going;	/* best effort: errors stop nothing */
	size_t		 gone;		/* removed, or gone already */
};

struct rmop {
	struct rmq	*q;
	char		*path;
	const char	*what;
};

static void
rm_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct rmop	*op = payload;

	/* Gone already is what we wanted.  A failing session answers
	 * every request: those are not gone. */
	if (sftp_failed(s) == NULL && r->type == SSH_FXP_STATUS &&
	    (r->status == SSH_FX_OK || r->status == SSH_FX_NO_SUCH_FILE))
		op->q->gone++;
	else if (r->type == SSH_FXP_STATUS && r->status != SSH_FX_OK &&
	    r->status != SSH_FX_NO_SUCH_FILE)
		sftp_status_error(&op->q->err, r->status, r->msg, r->msg_len,
		    op->what, op->path);
	op->q->active--;
	free(op->path);
	free(op);
}

/* Sends one request, waiting for room in the engine first. */
static void
rm_send(struct rmq *q, enum rm_kind k, const char *dir, const char *rel,
    uint32_t perm)
{
	struct sftp_attrs	 a;
	struct rmop		*op;
	int			 rc;

	while (!sftp_room(q->s, 0) && sftp_failed(q->s) == NULL)
		sftp_pump(q->s, NULL);
	if (sftp_failed(q->s) != NULL ||
	    (q->err.code != TS_OK && !q->keep_going))
		return;
	/* A sweep after an interrupt is wanted: it runs to its end. */
	if (!q->keep_going && cancel_requested()) {
		error_set(&q->err, TS_ECANCELED, "interrupted");
		return;
	}
	if ((op = calloc(1, sizeof(*op))) == NULL ||
	    (op->path = rel != NULL ? path_join(dir, rel) : strdup(dir)) == NULL) {
		free(op);
		error_set(&q->err, TS_ENOMEM, "out of memory");
		return;
	}
	op->q = q;
	switch (k) {
	case RM_REMOVE:
		op->what = "remove";
		rc = sftp_remove(q->s, op->path, rm_on_reply, op);
		break;
	case RM_RMDIR:
		op->what = "rmdir";
		rc = sftp_rmdir(q->s, op->path, rm_on_reply, op);
		break;
	default:
		op->what = "chmod";
		memset(&a, 0, sizeof(a));
		a.flags = SSH_FILEXFER_ATTR_PERMISSIONS;
		a.perm = perm;
		rc = sftp_setstat(q->s, op->path, &a, rm_on_reply, op);
		break;
	}
	if (rc != 0) {		/* the session failed: no reply will come */
		free(op->path);
		free(op);
		return;
	}
	q->active++;
}

/* Waits for the batch; 0 or its first error. */
static int
rm_wait(struct rmq *q, struct ts_error *err)
{
	const struct ts_error	*f;

	/* A failing session fails every pending request: active reaches 0. */
	while (q->active > 0)
		sftp_pump(q->s, NULL);
	if ((f = sftp_failed(q->s)) != NULL)
		error_set(&q->err, f->code, "%s", f->msg);
	if (q->err.code != TS_OK)
		return error_set(err, q->err.code, "%s", q->err.msg);
	return 0;
}

size_t
rmtree_remove_files(struct sftp *s, char *const *paths, size_t n)
{
	struct rmq	 q = { s, 0, { 0 }, true, 0 };
	size_t		 i;

	for (i = 0; i < n && sftp_failed(s) == NULL; i++) {
		log_msg(TS_LOG_INFO, "removing \"%s\"", paths[i]);
		rm_send(&q, RM_REMOVE, paths[i], NULL, 0);
	}
	(void)rm_wait(&q, NULL);
	return q.gone;
}


/*
 * Removes the directory dir and everything in it over SFTP: directories
 * we may not write or enter (a snapshot keeps its sources' modes) are
 * made u+rwx first, level by level, walking again after each; then every
 * file and symlink at once, then directories deepest first, one level at
 * a time (a directory must be empty before it goes).  Files are only
 * unlinked, never changed: their inodes may be shared with snapshots
 * that stay.  A dir already gone is fine.
 */
int
rmtree_remove(struct sftp *s, const char *dir, struct ts_error *err)
{
	struct walk_problems	 wp;
	struct entries		 l;
	struct rmq		 q = { s, 0, { 0 }, false, 0 };
	struct sftp_attrs	 a;
	const struct entry	*e;
	bool			 missing = false;
	size_t			 i, fixed;
	int			 rc, pass, d, maxd = 0;

	entries_init(&l);
	walk_problems_init(&wp);
	if ((rc = rfs_stat(s, dir, &a, NULL)) != 0 || !rfs_is_dir(&a)) {
		if (rc == 0)		/* not a directory: one remove */
			rc = rfs_remove(s, dir, err);
		else if (sftp_failed(s) != NULL)
			rc = error_set(err, sftp_failed(s)->code, "%s",
			    sftp_failed(s)->msg);
		else
			rc = 0;		/* gone */
		goto out;
	}
	if ((a.perm & 0700) != 0700) {
		rm_send(&q, RM_CHMOD, dir, NULL, (a.perm & 07777) | 0700);
		if ((rc = rm_wait(&q, err)) != 0)
			goto out;
	}
	for (pass = 0; ; pass++) {
		if ((rc = walk_remote(&l, s, dir, NULL, &wp, &missing,
		    err)) != 0 || missing)
			goto out;
		for (i = 0, fixed = 0; i < l.n; i++) {
			e = &l.v[i];
			if (e->type == ENTRY_DIR && (e->mode & 0700) != 0700) {
				rm_send(&q, RM_CHMOD, dir, e->path,
				    (e->mode & 07777) | 0700);
				fixed++;
			}
		}
		if ((rc = rm_wait(&q, err)) != 0)
			goto out;
		if (fixed == 0 || pass == RMTREE_CHMOD_PASSES)
			break;
		entries_dispose(&l);
		walk_problems_dispose(&wp);
		entries_init(&l);
		walk_problems_init(&wp);
	}
	for (i = 0; i < l.n; i++) {
		if (l.v[i].type != ENTRY_DIR)
			rm_send(&q, RM_REMOVE, dir, l.v[i].path, 0);
		else if ((d = path_depth(l.v[i].path)) > maxd)
			maxd = d;
	}
	if ((rc = rm_wait(&q, err)) != 0)
		goto out;
	for (d = maxd; d >= 0; d--) {
		for (i = 0; i < l.n; i++)
			if (l.v[i].type == ENTRY_DIR &&
			    path_depth(l.v[i].path) == d)
				rm_send(&q, RM_RMDIR, dir, l.v[i].path, 0);
		if ((rc = rm_wait(&q, err)) != 0)
			goto out;
	}
	rm_send(&q, RM_RMDIR, dir, NULL, 0);
	rc = rm_wait(&q, err);
out:
	entries_dispose(&l);
	walk_problems_dispose(&wp);
	return rc;
}

/*
 * Removes one snapshot or leftover.  A complete snapshot is first renamed
 * to .NAME.removing, so an interrupted removal never leaves a partial tree
 * under a final name (the next rotation finishes it).
 */
int
rmtree_prune(struct sftp *s, const char *root, const char *name,
    bool rename_first, struct ts_error *err)
{
	struct sftp_call	 call = { 0 };
	char			*from = NULL, *to = NULL, *tmp = NULL;
	int			 rc;

	if ((from = path_join(root, name)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if (rename_first) {
		if ((tmp = tempname_mark(name, TEMPNAME_REMOVING)) == NULL ||
		    (to = path_join(root, tmp)) == NULL) {
			rc = error_set(err, TS_ENOMEM, "out of memory");
			goto out;
		}
		if (sftp_call_wait(s, sftp_rename(s, from, to, sftp_call_cb,
		    &call), &call, "rename", from, NULL) == 0) {
			free(from);
			from = to;
			to = NULL;
		} else
			log_msg(TS_LOG_INFO, "cannot rename \"%s\" before "
			    "removing it; removing it in place", from);
	}
	rc = rmtree_remove(s, from, err);
out:
	free(from);
	free(to);
	free(tmp);
	return rc;
}
