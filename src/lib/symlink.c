/*
 * Making symlinks on servers that take SYMLINK's two paths in either
 * order: one request, read back while the order is not known, corrected
 * when it was wrong.  See symlink.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "error.h"
#include "log.h"
#include "path.h"
#include "symlink.h"
#include "tempname.h"

enum mk_step {
	MK_SYMLINK,		/* SYMLINK sent in order `order` */
	MK_READBACK,		/* READLINK linkpath: is it there? */
	MK_MISPLACED,		/* READLINK target: made the other way round? */
	MK_REMOVE,		/* REMOVE of the misplaced link */
};

struct mk {
	struct sftp	*s;
	struct link_facts *f;
	char		*linkpath, *target;
	int		 order;		/* LINK_ORDER_DRAFT or _OPENSSH */
	bool		 verify;	/* read back: the order is a guess */
	bool		 flipped;	/* the other order was tried too */
	enum mk_step	 step;
	struct ts_error	 first;		/* the first order's failure */
	symlink_done_fn	*done;
	void		*payload;
};

static void	mk_on_reply(struct sftp *s, const struct sftp_reply *r,
		    void *payload);

int
symlink_unsupported_error(struct ts_error *err, const struct link_facts *f,
    const char *linkpath)
{
	return error_set(err, TS_EREMOTE, "symlink \"%s\": the server cannot "
	    "create symlinks (%s)", linkpath,
	    sftp_status_str(atomic_load(&f->none_status)));
}

static void
mk_finish(struct mk *m, int code, const struct ts_error *e)
{
	m->done(code, e, m->payload);
	free(m->linkpath);
	free(m->target);
	free(m);
}

/* The engine refused a request (the session failed): no reply will come. */
static void
mk_sent(struct mk *m, int rc)
{
	struct ts_error	 e = { 0 };

	if (rc == 0)
		return;
	if (sftp_failed(m->s) != NULL)
		e = *sftp_failed(m->s);
	else
		error_set(&e, rc, "symlink \"%s\": connection lost",
		    m->linkpath);
	mk_finish(m, e.code != TS_OK ? e.code : TS_ECONN, &e);
}

static void
mk_send_symlink(struct mk *m)
{
	m->step = MK_SYMLINK;
	mk_sent(m, sftp_symlink_as(m->s, m->linkpath, m->target,
	    m->order == LINK_ORDER_OPENSSH, mk_on_reply, m));
}

/* Tries the other order, once; false when both were tried. */
static bool
mk_flip(struct mk *m)
{
	if (m->flipped)
		return false;
	m->flipped = true;
	m->order = m->order == LINK_ORDER_DRAFT ? LINK_ORDER_OPENSSH :
	    LINK_ORDER_DRAFT;
	log_msg(TS_LOG_DEBUG, "symlink \"%s\": trying SYMLINK's other "
	    "argument order", m->linkpath);
	mk_send_symlink(m);
	return true;
}

/* Ends with the first order's failure when there was one: the second
 * order was only a try, its failure says less. */
static void
mk_fail(struct mk *m, const struct sftp_reply *r, const char *what,
    const char *path)
{
	struct ts_error	 e = { 0 };

	if (m->first.code != TS_OK)
		e = m->first;
	else if (r != NULL)
		sftp_status_error(&e, r->status, r->msg, r->msg_len, what,
		    path);
	else
		error_set(&e, TS_EREMOTE, "%s \"%s\": the server reported "
		    "success but made no symlink there", what, path);
	mk_finish(m, e.code, &e);
}

/* Whether a NAME reply's first name is exactly want. */
static bool
name_is(const struct sftp_reply *r, const char *want)
{
	struct sftp_name_iter	 it;
	struct sftp_name	 nm;

	if (r->type != SSH_FXP_NAME)
		return false;
	sftp_name_iter_init(&it, r);
	return sftp_name_next(&it, &nm, NULL) == 1 &&
	    nm.name_len == strlen(want) &&
	    memcmp(nm.name, want, nm.name_len) == 0;
}

/* The order is right: the rest of the run uses it without reading back. */
static void
mk_learned(struct mk *m)
{
	int	 unknown = LINK_ORDER_UNKNOWN;

	if (atomic_compare_exchange_strong(&m->f->order, &unknown, m->order))
		log_msg(m->flipped ? TS_LOG_INFO : TS_LOG_DEBUG, "the server "
		    "takes SYMLINK's paths in %s order",
		    m->order == LINK_ORDER_DRAFT ? "draft-02's (linkpath, "
		    "targetpath)" : "OpenSSH's (targetpath, linkpath)");
	if (m->flipped)
		atomic_store(&m->f->fixed, true);
}

static void
mk_on_reply(struct sftp *s, const struct sftp_reply *r, void *payload)
{
	struct mk	*m = payload;

	(void)s;
	switch (m->step) {
	case MK_SYMLINK:
		if (r->status == SSH_FX_OK) {
			if (!m->verify) {
				mk_finish(m, 0, NULL);
				return;
			}
			m->step = MK_READBACK;
			mk_sent(m, sftp_readlink(m->s, m->linkpath,
			    mk_on_reply, m));
			return;
		}
		/* draft-02 section 7: "operation unsupported" is the
		 * answer of a server that has no symlinks at all. */
		if (r->status == SSH_FX_OP_UNSUPPORTED) {
			atomic_store(&m->f->none_status, r->status);
			atomic_store(&m->f->order, LINK_ORDER_NONE);
			log_msg(TS_LOG_DEBUG, "the server cannot create "
			    "symlinks");
			memset(&m->first, 0, sizeof(m->first));
			symlink_unsupported_error(&m->first, m->f,
			    m->linkpath);
			mk_fail(m, r, "symlink", m->linkpath);
			return;
		}
		/* The wrong order asks for a link at the target's path: its
		 * directory may not exist, or something is there already. */
		if (m->verify && m->first.code == TS_OK)
			sftp_status_error(&m->first, r->status, r->msg,
			    r->msg_len, "symlink", m->linkpath);
		if (m->verify && mk_flip(m))
			return;
		mk_fail(m, r, "symlink", m->linkpath);
		return;
	case MK_READBACK:
		/* Anything at linkpath is ours: it did not exist before. */
		if (r->type == SSH_FXP_NAME) {
			mk_learned(m);
			mk_finish(m, 0, NULL);
			return;
		}
		m->step = MK_MISPLACED;
		mk_sent(m, sftp_readlink(m->s, m->target, mk_on_reply, m));
		return;
	case MK_MISPLACED:
		/* Only a link at the target's path pointing to linkpath is
		 * ours to remove: anything else there is not. */
		if (!name_is(r, m->linkpath)) {
			mk_fail(m, NULL, "symlink", m->linkpath);
			return;
		}
		m->step = MK_REMOVE;
		mk_sent(m, sftp_remove(m->s, m->target, mk_on_reply, m));
		return;
	case MK_REMOVE:
		if (r->status != SSH_FX_OK) {
			struct ts_error	 e = { 0 };

			sftp_status_error(&e, r->status, r->msg, r->msg_len,
			    "remove the misplaced symlink", m->target);
			mk_finish(m, e.code, &e);
			return;
		}
		log_msg(TS_LOG_DEBUG, "symlink \"%s\" was made at \"%s\": "
		    "removed, made again in the other order", m->linkpath,
		    m->target);
		if (!mk_flip(m))
			mk_fail(m, NULL, "symlink", m->linkpath);
		return;
	}
}

int
symlink_make(struct sftp *s, struct link_facts *f, const char *linkpath,
    const char *target, symlink_done_fn *done, void *payload,
    struct ts_error *err)
{
	struct mk	*m;
	int		 order = atomic_load(&f->order);
	int		 rc;

	if (order == LINK_ORDER_NONE)
		return symlink_unsupported_error(err, f, linkpath);
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->linkpath = strdup(linkpath)) == NULL ||
	    (m->target = strdup(target)) == NULL) {
		if (m != NULL)
			free(m->linkpath);
		free(m);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	m->s = s;
	m->f = f;
	m->done = done;
	m->payload = payload;
	m->verify = order == LINK_ORDER_UNKNOWN;
	if (m->verify)
		order = sftp_symlink_swapped(s) ? LINK_ORDER_OPENSSH :
		    LINK_ORDER_DRAFT;
	m->order = order;
	m->step = MK_SYMLINK;
	rc = sftp_symlink_as(s, linkpath, target, order == LINK_ORDER_OPENSSH,
	    mk_on_reply, m);
	if (rc != 0) {
		free(m->linkpath);
		free(m->target);
		free(m);
		if (sftp_failed(s) != NULL)
			return error_set(err, sftp_failed(s)->code, "%s",
			    sftp_failed(s)->msg);
		return error_set(err, rc, "symlink \"%s\": connection lost",
		    linkpath);
	}
	return 0;
}

struct learn {
	bool		 done;
	struct ts_error	 e;
};

static void
learn_done(int code, const struct ts_error *e, void *payload)
{
	struct learn	*l = payload;

	l->done = true;
	if (code != 0 && e != NULL)
		l->e = *e;
}

int
symlink_learn(struct sftp *s, struct link_facts *f, const char *dir,
    struct ts_error *why, struct ts_error *err)
{
	struct learn	 l = { 0 };
	char		*lp = NULL, *tp = NULL, *base = NULL;
	int		 rc = 0;

	if (atomic_load(&f->order) != LINK_ORDER_UNKNOWN)
		return 0;
	/* Named as temporary files (tempname.h): a run cut here leaves
	 * nothing a later run would take for the user's. */
	if ((base = path_join(dir, "link")) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	rc = tempname_make(&lp, base, TEMPNAME_TMP);
	free(base);
	if (rc != 0)
		return error_set(err, TS_ENOMEM, "out of memory");
	/* The target's name differs from the link's in its first letter
	 * only: absolute, so a wrong order cannot leave dir. */
	if ((tp = strdup(lp)) == NULL) {
		free(lp);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	memcpy(strrchr(tp, '/') != NULL ? strrchr(tp, '/') + 1 : tp, ".targ", 5);
	if ((rc = symlink_make(s, f, lp, tp, learn_done, &l, err)) != 0)
		goto out;
	while (!l.done)
		if ((rc = sftp_pump(s, err)) != 0 && !l.done)
			goto out;
	rc = 0;
	if (l.e.code != TS_OK && why != NULL)
		*why = l.e;
	/* Made or not: nothing of ours may stay. */
	sftp_remove(s, lp, NULL, NULL);
	sftp_remove(s, tp, NULL, NULL);
	rc = sftp_drain(s, err);
out:
	free(lp);
	free(tp);
	return rc;
}
