/*
 * A push plans against a tree walked ahead (ts_tree_walk) and sends
 * from the directory that was walked: after the walk the program moves
 * LOCAL_DIR aside, puts a new directory in its place and adds a file to
 * the old one; ts_push_walked must send what the walk saw, read from the
 * old directory, and nothing of the new one.  Built against the installed
 * library, with treesync.h alone.
 *
 *	walk_ahead LOCAL_DIR [USER@]HOST:DIR SSH_CONFIG
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <treesync.h>

/* Writes text to path; false on failure. */
static int
write_file(const char *path, const char *text)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL)
		return 0;
	fputs(text, f);
	return fclose(f) == 0;
}

int
main(int argc, char **argv)
{
	struct ts_conn_opts	 co = TS_CONN_OPTS_INIT;
	struct ts_sync_opts	 so = TS_SYNC_OPTS_INIT;
	struct ts_summary	 sum = { 0 };
	struct ts_error		 err = { 0 };
	struct ts_conn		*c = NULL;
	struct ts_tree		*t = NULL;
	char			 old[4096], path[4200];
	int			 rc;

	if (argc != 4) {
		fprintf(stderr, "usage: walk_ahead LOCAL_DIR HOST:DIR "
		    "SSH_CONFIG\n");
		return 2;
	}
	co.ssh_config = argv[3];
	if ((rc = ts_global_init(&err)) != 0 ||
	    (rc = ts_tree_walk(&t, argv[1], &so, &err)) != 0) {
		fprintf(stderr, "walk_ahead: %s\n", err.msg);
		return 1;
	}
	snprintf(old, sizeof(old), "%s.old", argv[1]);
	snprintf(path, sizeof(path), "%s/late.txt", old);
	if (rename(argv[1], old) != 0 || mkdir(argv[1], 0755) != 0 ||
	    !write_file(path, "after the walk\n")) {
		perror("walk_ahead: replacing the directory");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/other.txt", argv[1]);
	if (!write_file(path, "not walked\n")) {
		perror("walk_ahead: other.txt");
		return 1;
	}
	if ((rc = ts_conn_open(&c, argv[2], &co, &err)) != 0) {
		fprintf(stderr, "walk_ahead: %s\n", err.msg);
		return 1;
	}
	rc = ts_push_walked(&sum, c, t, argv[1], ts_conn_path(c), &so, NULL,
	    NULL, &err);
	if (rc != 0)
		fprintf(stderr, "walk_ahead: push returned %d (%s)\n", rc,
		    err.msg);
	printf("pushed %llu files walked ahead\n",
	    (unsigned long long)sum.files_created);
	ts_tree_free(t);
	ts_conn_free(c);
	ts_global_cleanup();
	return rc == 0 ? 0 : 1;
}
