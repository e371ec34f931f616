/*
 * Connections opened ahead of need.  A push or pull over N connections
 * would otherwise open the other N-1 only once the trees are walked and
 * planned, and each costs a dozen round trips.  Opened on threads of their
 * own while the first connection shakes hands, they are ready when the
 * transfers start.  Those the plan does not need are abandoned: a byte on
 * a spare's pipe ends whatever wait it is in (ssh.c), and it is freed.
 * Those open while a remote walk runs are lent to it (spares_lend) until
 * it ends (spares_return), and are the first taken after.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"
#include "sftp.h"
#include "spare.h"

struct spare {
	struct spares	*pool;
	pthread_t	 th;
	int		 cancel[2];	/* pipe: a byte abandons the spare */
	struct ts_conn	*conn;		/* once open */
	struct ts_error	 err;		/* why not, when it failed */
	int		 rc;
	bool		 started;
	/* Its thread is finished.  Not under the pool's mu: spares_keep()
	 * holds that while it joins threads. */
	atomic_bool	 done;
	bool		 lent;		/* its engine was lent (spares_lend) */
	bool		 on_loan;	/* and not returned yet */
	bool		 gone;		/* taken or abandoned */
};

struct spares {
	pthread_mutex_t	 mu;
	const char	*target;
	const struct ts_conn_opts *opts;
	const struct spare_ops *ops;
	/* Spares are taken in the order of order[]: those lent first, once
	 * spares_keep() has sorted them.  next: the first not yet taken. */
	int		*order;
	int		 n, next;
	struct spare	 v[];
};

static void *
spare_main(void *arg)
{
	struct spare	*sp = arg;

	sp->rc = sp->pool->ops->open(&sp->conn, sp->pool->target,
	    sp->pool->opts, sp->cancel[0], &sp->err);
	atomic_store(&sp->done, true);
	return NULL;
}

struct spares *
spares_start(const char *target, const struct ts_conn_opts *opts, int n,
    const struct spare_ops *ops)
{
	struct spares	*p;
	struct spare	*sp;
	int		 i;

	if (n < 1 || (p = calloc(1, sizeof(*p) + (size_t)n *
	    sizeof(p->v[0]))) == NULL)
		return NULL;
	if ((p->order = calloc((size_t)n, sizeof(*p->order))) == NULL) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	p->target = target;
	p->opts = opts;
	p->ops = ops;
	p->n = n;
	for (i = 0; i < n; i++) {
		p->order[i] = i;
		sp = &p->v[i];
		sp->pool = p;
		sp->cancel[0] = sp->cancel[1] = -1;
		if (pipe2(sp->cancel, O_CLOEXEC) != 0 ||
		    pthread_create(&sp->th, NULL, spare_main, sp) != 0)
			sp->rc = error_set(&sp->err, TS_ERROR, "cannot start "
			    "opening a connection");
		else
			sp->started = true;
	}
	return p;
}

/* Waits for the spare's thread (at once once done); its connection no
 * longer listens to the pipe. */
static void
spare_reap(struct spare *sp)
{
	if (sp->started)
		pthread_join(sp->th, NULL);
	sp->started = false;
	if (sp->conn != NULL)
		sp->pool->ops->uncancel(sp->conn);
	if (sp->cancel[0] != -1)
		close(sp->cancel[0]);
	if (sp->cancel[1] != -1)
		close(sp->cancel[1]);
	sp->cancel[0] = sp->cancel[1] = -1;
}

/* Reaps the spare; the caller owns the connection after. */
static void
spare_join(struct spare *sp)
{
	spare_reap(sp);
	sp->gone = true;
}

int
spares_take(struct spares *p, struct ts_conn **out, struct ts_error *err)
{
	struct spare	*sp;

	*out = NULL;
	if (p == NULL)
		return 1;
	pthread_mutex_lock(&p->mu);
	sp = p->next < p->n ? &p->v[p->order[p->next++]] : NULL;
	pthread_mutex_unlock(&p->mu);
	if (sp == NULL)
		return 1;
	spare_join(sp);
	if (sp->conn == NULL) {
		if (err != NULL)
			*err = sp->err;
		return sp->rc != 0 ? sp->rc : TS_ECONN;
	}
	*out = sp->conn;
	sp->conn = NULL;
	return 0;
}

struct sftp *
spares_lend(struct spares *p)
{
	struct spare	*sp = NULL;
	int		 i;

	if (p == NULL)
		return NULL;
	pthread_mutex_lock(&p->mu);
	for (i = p->next; i < p->n && sp == NULL; i++)
		if (atomic_load(&p->v[p->order[i]].done) &&
		    !p->v[p->order[i]].on_loan &&
		    p->v[p->order[i]].conn != NULL)
			sp = &p->v[p->order[i]];
	if (sp != NULL) {
		sp->lent = sp->on_loan = true;
		spare_reap(sp);		/* at once: its thread is done */
	}
	pthread_mutex_unlock(&p->mu);
	return sp != NULL ? sp->pool->ops->sftp(sp->conn) : NULL;
}

int
spares_return(struct spares *p)
{
	struct spare	*sp;
	int		 i, n = 0;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->mu);
	for (i = p->next; i < p->n; i++) {
		sp = &p->v[p->order[i]];
		if (!sp->on_loan)
			continue;
		sp->on_loan = false;
		if (sftp_failed(sp->pool->ops->sftp(sp->conn)) == NULL)
			continue;
		/* Taken later, it fails as a spare that never opened. */
		sp->err = *sftp_failed(sp->pool->ops->sftp(sp->conn));
		sp->rc = sp->err.code != TS_OK ? sp->err.code : TS_ECONN;
		sp->pool->ops->free(sp->conn);
		sp->conn = NULL;
		sp->lent = false;
		n++;
	}
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* Abandons spares order[from, n): all are woken first, then each is
 * joined. */
static void
spares_abandon(struct spares *p, int from)
{
	struct spare	*sp;
	ssize_t		 w;
	int		 i;

	for (i = from; i < p->n; i++) {
		sp = &p->v[p->order[i]];
		if (!sp->gone && sp->cancel[1] != -1) {
			/* An empty pipe of our own takes one byte. */
			w = write(sp->cancel[1], "x", 1);
			(void)w;
		}
	}
	for (i = from; i < p->n; i++) {
		sp = &p->v[p->order[i]];
		if (!sp->gone) {
			spare_join(sp);
			sp->pool->ops->free(sp->conn);
			sp->conn = NULL;
		}
	}
}

int
spares_keep(struct spares *p, int keep)
{
	int	 from, i, k, n = 0, t;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->mu);
	/* Those lent are open and known to work: kept and taken first. */
	for (i = k = p->next; i < p->n; i++)
		if (p->v[p->order[i]].lent) {
			t = p->order[k];
			p->order[k++] = p->order[i];
			p->order[i] = t;
		}
	from = p->next + (keep > 0 ? keep : 0);
	if (from < p->n) {
		n = p->n - from;
		spares_abandon(p, from);
		p->n = from;
	}
	pthread_mutex_unlock(&p->mu);
	return n;
}

void
spares_free(struct spares *p)
{
	if (p == NULL)
		return;
	spares_abandon(p, 0);
	pthread_mutex_destroy(&p->mu);
	free(p->order);
	free(p);
}
