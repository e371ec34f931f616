/*
 * A program can run a job after canceling one: ts_cancel() makes a push
 * stop with TS_ECANCELED (and send nothing), ts_cancel_reset() lets the
 * next push run to the end.  Built against the installed library, with
 * treesync.h alone, as any program embedding it.
 *
 *	cancel_again LOCAL_DIR [USER@]HOST:DIR SSH_CONFIG
 */
#include <stdio.h>

#include <treesync.h>

int
main(int argc, char **argv)
{
	struct ts_conn_opts	 co = TS_CONN_OPTS_INIT;
	struct ts_sync_opts	 so = TS_SYNC_OPTS_INIT;
	struct ts_summary	 sum = { 0 };
	struct ts_error		 err = { 0 };
	struct ts_conn		*c = NULL;
	int			 rc, ok = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: cancel_again LOCAL_DIR HOST:DIR "
		    "SSH_CONFIG\n");
		return 2;
	}
	co.ssh_config = argv[3];
	if ((rc = ts_global_init(&err)) != 0 ||
	    (rc = ts_conn_open(&c, argv[2], &co, &err)) != 0) {
		fprintf(stderr, "cancel_again: %s\n", err.msg);
		return 1;
	}
	ts_cancel();
	rc = ts_push(&sum, c, argv[1], ts_conn_path(c), &so, NULL, NULL,
	    &err);
	if (rc != TS_ECANCELED || sum.files_created != 0)
		fprintf(stderr, "cancel_again: canceled push returned %d (%s), "
		    "%llu files created; want %d, none\n", rc, err.msg,
		    (unsigned long long)sum.files_created, TS_ECANCELED);
	else
		ok++;
	ts_cancel_reset();
	err = (struct ts_error){ 0 };
	rc = ts_push(&sum, c, argv[1], ts_conn_path(c), &so, NULL, NULL,
	    &err);
	if (rc != 0 || sum.files_created == 0)
		fprintf(stderr, "cancel_again: push after ts_cancel_reset "
		    "returned %d (%s), %llu files created\n", rc, err.msg,
		    (unsigned long long)sum.files_created);
	else
		ok++;
	printf("canceled, reset, pushed %llu files\n",
	    (unsigned long long)sum.files_created);
	ts_conn_free(c);
	ts_global_cleanup();
	return ok == 2 ? 0 : 1;
}
