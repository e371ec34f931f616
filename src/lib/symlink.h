/*
 * Making symlinks on a server whose SYMLINK argument order is not known
 * for sure.  draft-02 (section 6.10) sends linkpath, then targetpath;
 * OpenSSH's sftp-server reads them the other way round (PROTOCOL 4.1), and
 * other servers follow one or the other, some choosing by the client's
 * version string, so no guess from the server's is safe.  Until a run has
 * seen one symlink read back right, every symlink it makes is read back
 * (READLINK); one made the wrong way round is removed and made again in
 * the other order, and the order that worked holds for the rest of the
 * run, on every connection.
 */
#ifndef TS_SYMLINK_H
#define TS_SYMLINK_H

#include <stdatomic.h>

#include "sftp.h"

enum link_order {
	LINK_ORDER_UNKNOWN,		/* guess, read back, learn */
	LINK_ORDER_DRAFT,		/* linkpath, targetpath */
	LINK_ORDER_OPENSSH,		/* targetpath, linkpath */
	LINK_ORDER_NONE,		/* the server cannot make symlinks */
};

/* What one run learned about its server's symlinks: shared by all of its
 * connections (to the same server), so atomic.  Zeroed: unknown. */
struct link_facts {
	atomic_int	 order;		/* enum link_order */
	atomic_uint	 none_status;	/* NONE: the SSH_FX_* it answered */
	atomic_bool	 fixed;		/* the first guess was wrong */
};

/* Called once with the outcome: 0, or the error (borrowed for the call);
 * TS_EREMOTE with the server's "unsupported" when it cannot make links. */
typedef void	symlink_done_fn(int code, const struct ts_error *e,
		    void *payload);

/*
 * Makes linkpath (which must not exist) a symlink to target on s, in the
 * order f says, or, while f knows none, in the likelier one, read back and
 * corrected.  Returns 0 when under way (done is then called once, from
 * sftp_pump), or an error without calling done: the session failed, or f
 * already knows that the server cannot make symlinks (TS_EREMOTE).
 */
int	symlink_make(struct sftp *s, struct link_facts *f,
	    const char *linkpath, const char *target, symlink_done_fn *done,
	    void *payload, struct ts_error *err);

/*
 * Learns f's order before a run makes real symlinks: one link between two
 * new names in dir (named as our temporary files), read back, removed.  A
 * link made the wrong way round lands at a name nobody else uses, so its
 * removal can hit nothing else, where a real link's target may name a
 * file being uploaded at that moment.  f stays unknown when dir cannot be
 * written (the real links are then read back); why gets the test link's
 * failure, if any.  Returns 0, or the session's failure.
 */
int	symlink_learn(struct sftp *s, struct link_facts *f, const char *dir,
	    struct ts_error *why, struct ts_error *err);

/* "the server cannot create symlinks (operation unsupported)": the one
 * wording of the reason, for f's NONE. */
int	symlink_unsupported_error(struct ts_error *err,
	    const struct link_facts *f, const char *linkpath);

#endif
