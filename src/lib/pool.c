/*
 * The worker pool: -j connections, one thread each, each with many items
 * in flight on its pipelined SFTP channel.  Workers take items from the
 * running batch one at a time, so small files spread over every
 * connection and a slow one never holds the others up.  A connection
 * that drops is opened again with backoff; the items that were in flight
 * on it go back to the queue (the client's start callback, failing them
 * with TS_ECONN, calls pool_retry) on whichever worker takes them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cancel.h"
#include "conn.h"
#include "error.h"
#include "log.h"
#include "pool.h"
#include "rmtree.h"
#include "sftp.h"

static void
worker_init(struct pool_worker *w, struct pool *p, int id, struct ts_conn *c,
    bool owned)
{
	void	*user = w->user;	/* the client's, set once */

	memset(w, 0, sizeof(*w));
	w->user = user;
	w->pool = p;
	w->id = id;
	w->conn = c;
	w->owned = owned;
	w->s = c != NULL ? conn_sftp(c) : NULL;
}

void
pool_init(struct pool *p, const struct pool_ops *ops, void *payload,
    struct ts_conn *c, int retries)
{
	memset(p, 0, sizeof(*p));	/* no user yet: worker_init keeps it */
	p->ops = ops;
	p->payload = payload;
	p->retries = retries;
	p->nw = 1;
	worker_init(&p->w[0], p, 0, c, false);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work_cv, NULL);
	pthread_cond_init(&p->done_cv, NULL);
}

void
pool_dispose(struct pool *p)
{
	int	 k;

	pool_stop(p);
	/* All say goodbye at once, then each is reaped. */
	for (k = 0; k < p->nw; k++)
		if (p->w[k].owned)
			conn_hangup(p->w[k].conn);
	for (k = 0; k < p->nw; k++)
		if (p->w[k].owned)
			ts_conn_free(p->w[k].conn);
	free(p->retry);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work_cv);
	pthread_cond_destroy(&p->done_cv);
}

void
pool_replace_first(struct pool *p, struct ts_conn *c)
{
	if (p->w[0].owned)
		ts_conn_free(p->w[0].conn);
	worker_init(&p->w[0], p, 0, c, true);
	if (p->ops->connected != NULL)
		p->ops->connected(&p->w[0], p->payload);
}

/* The next item of the running batch for this worker: a retry first. */
static bool
worker_take(struct pool *p, size_t *item)
{
	bool	 ok = true;

	pthread_mutex_lock(&p->mu);
	if (p->nretry > 0)
		*item = p->retry[--p->nretry];
	else if (p->batch_next < p->batch_n)
		*item = p->batch[p->batch_next++];
	else
		ok = false;
	pthread_mutex_unlock(&p->mu);
	return ok;
}

static void
sleep_ms(int ms)
{
	struct timespec	 ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR &&
	    !cancel_requested())
		;
}

/* Opens the worker's connection again, with backoff.  Returns 0, or -1
 * when the server stays out of reach (the worker is then dead). */
static int
worker_reconnect(struct pool_worker *w)
{
	static const int	 delays[] = { 250, 1000, 2000, 4000, 8000 };
	struct pool		*p = w->pool;
	struct ts_conn		*c = NULL;
	struct ts_error		 e = { 0 };
	size_t			 i;

	pthread_mutex_lock(&p->mu);
	p->last_conn_error = *sftp_failed(w->s);
	pthread_mutex_unlock(&p->mu);
	if (w->reconnects++ >= p->retries) {
		log_msg(TS_LOG_WARN, "connection %d lost: %s; not reconnecting "
		    "(--retries %d)", w->id + 1, sftp_failed(w->s)->msg,
		    p->retries);
		return -1;
	}
	log_msg(TS_LOG_WARN, "connection %d lost: %s; reconnecting", w->id + 1,
	    sftp_failed(w->s)->msg);
	for (i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
		sleep_ms(delays[i]);
		if (cancel_requested())
			return -1;
		error_clear(&e);
		if (p->ops->connect(&c, false, p->payload, &e) == 0)
			break;
		c = NULL;
		log_msg(TS_LOG_INFO, "connection %d: %s", w->id + 1, e.msg);
		/* A host key or login refused will not get better. */
		if (e.code == TS_EHOSTKEY || e.code == TS_EAUTH)
			break;
	}
	if (c == NULL) {
		log_msg(TS_LOG_WARN, "connection %d: giving up: %s", w->id + 1,
		    e.msg);
		return -1;
	}
	if (w->owned)
		ts_conn_free(w->conn);
	pthread_mutex_lock(&p->mu);	/* pool_connections() reads s */
	w->conn = c;
	w->owned = true;
	w->s = conn_sftp(c);
	pthread_mutex_unlock(&p->mu);
	p->ops->connected(w, p->payload);
	log_msg(TS_LOG_INFO, "connection %d: reconnected", w->id + 1);
	return 0;
}

/* Works on the running batch until nothing of it is left to take and
 * nothing is in flight here. */
static void
worker_batch(struct pool_worker *w)
{
	struct pool		*p = w->pool;
	const struct pool_ops	*ops = p->ops;
	size_t			 item;
	bool			 more;

	while (!w->dead) {
		more = true;
		while (ops->room(w, p->payload) && sftp_failed(w->s) == NULL &&
		    (more = worker_take(p, &item)))
			ops->start(w, item, p->payload);
		if (ops->busy(w, p->payload)) {
			ops->step(w, p->payload);
			continue;
		}
		if (sftp_failed(w->s) != NULL) {
			if (worker_reconnect(w) != 0) {
				pthread_mutex_lock(&p->mu);
				w->dead = true;
				pthread_cond_broadcast(&p->done_cv);
				pthread_mutex_unlock(&p->mu);
			}
			continue;
		}
		if (more)
			continue;
		/* Idle: others may still hand back work (a retry), until the
		 * batch is finished. */
		pthread_mutex_lock(&p->mu);
		if (p->pending == 0 || p->quit) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		if (p->nretry == 0) {
			struct timespec	 ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100 * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&p->work_cv, &p->mu, &ts);
		}
		pthread_mutex_unlock(&p->mu);
	}
}

/* Opens an extra worker's connection on its own thread, so that they all
 * shake hands at once while worker 0 already works.  When the server
 * refuses some (MaxStartups, MaxSessions, a per-user limit), the pool
 * carries on with the others, and the last attempt to finish says so. */
static int
worker_connect(struct pool_worker *w)
{
	struct pool	*p = w->pool;
	struct ts_conn	*c = NULL;
	struct ts_error	 e = { 0 };
	int		 rc;

	rc = p->ops->connect(&c, true, p->payload, &e);
	pthread_mutex_lock(&p->mu);
	if (rc == 0) {
		w->conn = c;
		w->s = conn_sftp(c);
		log_msg(TS_LOG_DEBUG, "connection %d of %d open", w->id + 1,
		    p->nw);
	} else {
		w->dead = true;
		if (p->refused++ == 0)
			p->refused_error = e;
		pthread_cond_broadcast(&p->done_cv);
	}
	if (--p->connecting == 0 && p->refused > 0)
		log_msg(TS_LOG_WARN, "the server took %d of %d connections "
		    "(%s); carrying on with %d", p->nw - p->refused, p->nw,
		    p->refused_error.msg, p->nw - p->refused);
	pthread_mutex_unlock(&p->mu);
	if (rc == 0)
		p->ops->connected(w, p->payload);
	return rc;
}

static void *
worker_main(void *arg)
{
	struct pool_worker	*w = arg;
	struct pool		*p = w->pool;

	if (w->conn == NULL && worker_connect(w) != 0)
		return NULL;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->quit && w->gen == p->gen)
			pthread_cond_wait(&p->work_cv, &p->mu);
		if (p->quit) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		w->gen = p->gen;
		pthread_mutex_unlock(&p->mu);
		worker_batch(w);
	}
	return NULL;
}

void
pool_start(struct pool *p, int want)
{
	int	 k;

	if (want < 1)
		want = 1;
	if (want > POOL_MAX_WORKERS)
		want = POOL_MAX_WORKERS;
	for (k = p->nw; k < want; k++)
		worker_init(&p->w[k], p, k, NULL, true);
	p->nw = want;
	p->connecting = want - 1;
	p->refused = 0;
	for (k = 0; k < p->nw; k++)
		if (pthread_create(&p->w[k].th, NULL, worker_main,
		    &p->w[k]) == 0)
			p->w[k].started = true;
		else {
			pthread_mutex_lock(&p->mu);
			p->w[k].dead = true;
			if (k > 0)
				p->connecting--;
			pthread_mutex_unlock(&p->mu);
		}
}

void
pool_stop(struct pool *p)
{
	int	 k;

	pthread_mutex_lock(&p->mu);
	p->quit = true;
	pthread_cond_broadcast(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
	for (k = 0; k < p->nw; k++) {
		if (p->w[k].started)
			pthread_join(p->w[k].th, NULL);
		p->w[k].started = false;
	}
	p->quit = false;
}

/* Under mu. */
static int
workers_alive(struct pool *p)
{
	int	 k, n = 0;

	for (k = 0; k < p->nw; k++)
		n += p->w[k].started && !p->w[k].dead;
	return n;
}

int
pool_run(struct pool *p, const size_t *items, size_t n)
{
	struct timespec	 ts;
	size_t		*v;
	int		 rc = 0;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&p->mu);
	/* Room for every item, and for the whole files of split ones (an
	 * item may stand for part of another). */
	if ((v = realloc(p->retry, (n + POOL_MAX_WORKERS) *
	    sizeof(*v))) != NULL) {
		p->retry = v;
		p->retry_cap = n + POOL_MAX_WORKERS;
	}
	p->nretry = 0;
	p->batch = items;
	p->batch_n = n;
	p->batch_next = 0;
	p->pending = v != NULL ? n : 0;
	p->gen++;
	pthread_cond_broadcast(&p->work_cv);
	while (p->pending > 0) {
		if (workers_alive(p) == 0) {
			/* Every worker is dead: what is left is dropped. */
			p->nretry = 0;
			p->batch_next = p->batch_n;
			p->pending = 0;
			rc = -1;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&p->done_cv, &p->mu, &ts);
		pthread_mutex_unlock(&p->mu);
		if (p->ops->tick != NULL)
			p->ops->tick(false, p->payload);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	if (v == NULL)
		rc = -1;
	if (p->ops->tick != NULL)
		p->ops->tick(true, p->payload);
	return rc;
}

void
pool_done(struct pool *p, size_t n)
{
	pthread_mutex_lock(&p->mu);
	p->pending = p->pending > n ? p->pending - n : 0;
	/* The waiting caller reports and draws progress on its own ticks;
	 * woken for every item, it took a context switch per file from the
	 * processes that move them. */
	if (p->pending == 0)
		pthread_cond_broadcast(&p->done_cv);
	pthread_mutex_unlock(&p->mu);
}

void
pool_retry(struct pool *p, size_t item)
{
	pthread_mutex_lock(&p->mu);
	if (p->retry != NULL && p->nretry < p->retry_cap) {
		p->retry[p->nretry++] = item;
		pthread_cond_broadcast(&p->work_cv);
	}
	pthread_mutex_unlock(&p->mu);
}

int
pool_add(struct pool *p, size_t item)
{
	size_t	*v;
	int	 rc = -1;

	pthread_mutex_lock(&p->mu);
	if (p->pending == 0 || p->retry == NULL)
		goto out;		/* no batch running */
	if (p->nretry == p->retry_cap) {
		if ((v = realloc(p->retry, (p->retry_cap + 64) *
		    sizeof(*v))) == NULL)
			goto out;
		p->retry = v;
		p->retry_cap += 64;
	}
	p->retry[p->nretry++] = item;
	p->pending++;
	pthread_cond_broadcast(&p->work_cv);
	rc = 0;
out:
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int
pool_connections(struct pool *p)
{
	int	 k, n = 0;

	pthread_mutex_lock(&p->mu);
	for (k = 0; k < p->nw; k++)
		n += !p->w[k].dead && p->w[k].s != NULL;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void
pool_last_error(struct pool *p, struct ts_error *out)
{
	pthread_mutex_lock(&p->mu);
	*out = p->last_conn_error;
	pthread_mutex_unlock(&p->mu);
}

struct sftp *
pool_live(struct pool *p)
{
	int	 k;

	for (k = 0; k < p->nw; k++)
		if (!p->w[k].dead && p->w[k].s != NULL &&
		    sftp_failed(p->w[k].s) == NULL)
			return p->w[k].s;
	return NULL;
}

long
pool_sweep(struct pool *p, char *const *paths, size_t n)
{
	struct sftp	*s = pool_live(p);

	if (s == NULL)
		return -1;
	/* A file whose OPEN never reached the server is not there: gone
	 * too (rmtree counts it). */
	return (long)rmtree_remove_files(s, paths, n);
}
