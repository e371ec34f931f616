/*
 * A worker pool: N connections, one thread each, a queue of items (plain
 * numbers the client gives meaning to), retries, reconnects with backoff,
 * and the sweep of temporary files a dropped connection left behind.  It
 * knows nothing of what an item is: it calls back into its client through
 * struct pool_ops (as walk_remote gets connections through `lend`).
 */
#ifndef TS_POOL_H
#define TS_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "treesync.h"

#define POOL_MAX_WORKERS	64

struct pool;
struct sftp;

/* One connection and the thread that drives it. */
struct pool_worker {
	struct pool	*pool;
	int		 id;
	struct ts_conn	*conn;		/* the caller's, or owned */
	bool		 owned;
	struct sftp	*s;		/* conn's engine */
	void		*user;		/* the client's, per connection */
	pthread_t	 th;
	bool		 started;
	bool		 dead;		/* lost its connection for good */
	int		 reconnects;	/* so far; retries at most */
	unsigned	 gen;		/* the last batch it saw */
};

/* What the pool asks of its client; payload is pool_init's. */
struct pool_ops {
	/* Starts item on w; it ends with pool_done() or pool_retry(), from
	 * any thread, now or later. */
	void	(*start)(struct pool_worker *w, size_t item, void *payload);
	/* Whether w may start one more item now (its own limits). */
	bool	(*room)(struct pool_worker *w, void *payload);
	/* Whether w has items in flight. */
	bool	(*busy)(struct pool_worker *w, void *payload);
	/* Moves w's items in flight along once (pumps its engine). */
	void	(*step)(struct pool_worker *w, void *payload);
	/* w's connection is open, or was replaced: a new w->s. */
	void	(*connected)(struct pool_worker *w, void *payload);
	/* Opens one more connection like the first; with spare, one opened
	 * ahead may be taken.  The pool owns *out. */
	int	(*connect)(struct ts_conn **out, bool spare, void *payload,
		    struct ts_error *err);
	/* On the thread of pool_run, about ten times a second while a batch
	 * runs (last false), and once at its end (last true): reports,
	 * progress.  May be NULL. */
	void	(*tick)(bool last, void *payload);
};

struct pool {
	const struct pool_ops *ops;
	void		*payload;
	struct pool_worker w[POOL_MAX_WORKERS]; /* w[0]: the caller's */
	int		 nw;
	int		 retries;	/* reconnects per worker */
	/* Shared between workers: everything below, under mu. */
	pthread_mutex_t	 mu;
	pthread_cond_t	 work_cv;	/* a batch or a retry to take */
	pthread_cond_t	 done_cv;	/* an item finished */
	const size_t	*batch;		/* the items of the running batch */
	size_t		 batch_n, batch_next;
	size_t		 pending;	/* of the batch, not finished */
	size_t		*retry;		/* items to start again, or added */
	size_t		 nretry, retry_cap;
	unsigned	 gen;		/* batch number */
	bool		 quit;
	int		 connecting;	/* extra connections being opened */
	int		 refused;	/* extra connections the server refused */
	struct ts_error	 refused_error;	/* the first refusal */
	struct ts_error	 last_conn_error;
};

/* An empty pool of one worker on c (borrowed), the caller's connection. */
void	pool_init(struct pool *p, const struct pool_ops *ops, void *payload,
	    struct ts_conn *c, int retries);
/* Stops the threads and closes the connections the pool owns. */
void	pool_dispose(struct pool *p);
/* Worker 0 gets connection c (owned from now on), replacing its own. */
void	pool_replace_first(struct pool *p, struct ts_conn *c);
/* Grows to want workers (want - 1 more connections, opened on their own
 * threads) and starts a thread per worker. */
void	pool_start(struct pool *p, int want);
/* Stops the threads; the connections stay for pool_sweep(). */
void	pool_stop(struct pool *p);
/*
 * Carries out items[0..n) over every worker; returns 0 when all are done,
 * or -1 when no worker is left: the items not done are dropped (the
 * client fails them; pool_last_error() says why).  items must have room
 * for no more than n; retried items never count twice.
 */
int	pool_run(struct pool *p, const size_t *items, size_t n);
/* Item finished (thread-safe); n: how many at once. */
void	pool_done(struct pool *p, size_t n);
/* Item back to the queue, to start again on any worker (thread-safe). */
void	pool_retry(struct pool *p, size_t item);
/* Adds item to the running batch, to start on any worker, as if it had
 * been in it from the start (thread-safe).  Returns 0, or -1 when no
 * batch is running (or out of memory): then it is not done. */
int	pool_add(struct pool *p, size_t item);
/* Workers with a live connection (progress reports). */
int	pool_connections(struct pool *p);
/* The last connection error seen, "" if none (copied out). */
void	pool_last_error(struct pool *p, struct ts_error *out);
/*
 * Removes the remote files paths[0..n) over a live connection, many at
 * once, best effort.  Returns how many are gone, or -1 when no
 * connection is left.
 */
long	pool_sweep(struct pool *p, char *const *paths, size_t n);
/* The engine of a worker whose connection is live, or NULL; for the
 * caller's own requests once the threads are stopped. */
struct sftp *pool_live(struct pool *p);

#endif
