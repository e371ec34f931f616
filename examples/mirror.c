/*
 * mirror: makes a directory on a server equal to a local one with
 * libtreesync, showing progress; Ctrl-C stops it cleanly.
 *
 *	cc -o mirror mirror.c $(pkg-config --cflags --libs treesync)
 *	./mirror LOCAL_DIR [USER@]HOST:DIR [SSH_CONFIG]
 */
#include <signal.h>
#include <stdio.h>

#include <treesync.h>

/* On the caller's thread, at most ten times a second. */
static void
on_progress(const struct ts_progress *p, void *payload)
{
	(void)payload;
	fprintf(stderr, "\r%llu/%llu files, %llu/%llu bytes",
	    (unsigned long long)p->files_done,
	    (unsigned long long)p->files_total,
	    (unsigned long long)p->bytes_done,
	    (unsigned long long)p->bytes_total);
}

/* Every change in order; a failed one carries its own message. */
static void
on_item(const struct ts_item *it, void *payload)
{
	(void)payload;
	if (it->code != TS_OK)
		fprintf(stderr, "\n%s: %s\n", it->path, it->error);
}

static void
on_signal(int sig)
{
	(void)sig;
	ts_cancel();		/* the push removes its temporary files */
}

int
main(int argc, char **argv)
{
	struct ts_conn_opts	 co = TS_CONN_OPTS_INIT;
	struct ts_sync_opts	 so = TS_SYNC_OPTS_INIT;
	struct ts_summary	 sum = { 0 };
	struct ts_error		 err = { 0 };
	struct ts_conn		*c = NULL;
	int			 rc;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: mirror LOCAL_DIR [USER@]HOST:DIR "
		    "[SSH_CONFIG]\n");
		return 2;
	}
	if (argc == 4)
		co.ssh_config = argv[3];
	if ((rc = ts_global_init(&err)) != 0)
		goto out;
	signal(SIGINT, on_signal);
	if ((rc = ts_conn_open(&c, argv[2], &co, &err)) != 0)
		goto out;
	so.verify = TS_VERIFY_HASH;	/* compare hashes after each upload */
	so.progress = on_progress;
	rc = ts_push(&sum, c, argv[1], ts_conn_path(c), &so, on_item, NULL,
	    &err);
	fprintf(stderr, "\n");
	printf("libtreesync %s: %llu created, %llu updated, %llu unchanged, "
	    "%llu bytes sent\n", ts_version(),
	    (unsigned long long)sum.files_created,
	    (unsigned long long)sum.files_updated,
	    (unsigned long long)sum.files_unchanged,
	    (unsigned long long)sum.bytes_sent);
out:
	if (rc != 0)
		fprintf(stderr, "mirror: %s (%s)\n", err.msg, ts_strerror(rc));
	ts_conn_free(c);
	ts_global_cleanup();
	return rc == 0 ? 0 : 1;
}
