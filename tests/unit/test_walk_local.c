#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "walk_local.h"

#define NS	1000000000LL
#define T0	1700000000LL		/* fixed times: tests read no clock */

/* A scratch tree under /tmp, removed after each test. */
struct tree {
	char	 root[64];
	char	 buf[4096];
};

static const char *
at(struct tree *t, const char *rel)
{
	snprintf(t->buf, sizeof(t->buf), "%s/%s", t->root, rel);
	return t->buf;
}

static void
set_mtime(struct tree *t, const char *rel, long long sec, long nsec)
{
	struct timespec	 ts[2] = { { sec, nsec }, { sec, nsec } };

	assert_int_equal(utimensat(AT_FDCWD, at(t, rel), ts,
	    AT_SYMLINK_NOFOLLOW), 0);
}

static void
mk_file(struct tree *t, const char *rel, const char *content)
{
	int	 fd;

	assert_true((fd = open(at(t, rel), O_WRONLY | O_CREAT | O_TRUNC,
	    0644)) != -1);
	assert_int_equal(write(fd, content, strlen(content)),
	    (ssize_t)strlen(content));
	close(fd);
	set_mtime(t, rel, T0, 0);
}

static void
mk_dir(struct tree *t, const char *rel)
{
	assert_int_equal(mkdir(at(t, rel), 0755), 0);
}

static void
mk_link(struct tree *t, const char *rel, const char *target)
{
	assert_int_equal(symlink(target, at(t, rel)), 0);
}

/* rm -rf, making directories writable and searchable first. */
static void
rm_tree(int dfd, const char *name)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd;

	if (unlinkat(dfd, name, 0) == 0)
		return;
	fchmodat(dfd, name, 0700, 0);
	if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)) ==
	    -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			rm_tree(dirfd(d), de->d_name);
	closedir(d);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

static int
setup(void **state)
{
	struct tree	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	strcpy(t->root, "/tmp/ts-walk-XXXXXX");
	if (mkdtemp(t->root) == NULL) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tree	*t = *state;

	rm_tree(AT_FDCWD, t->root);
	free(t);
	return 0;
}

/* Walks t's root, which must succeed; the caller disposes of both. */
static void
walk_ok(struct tree *t, const struct walk_opts *o, struct entries *l,
    struct walk_problems *wp)
{
	struct ts_error	 err = { 0 };

	entries_init(l);
	walk_problems_init(wp);
	assert_int_equal(walk_local(l, t->root, o, wp, &err), 0);
	assert_int_equal(err.code, TS_OK);
	assert_true(l->sorted);
}

static const struct entry *
find(const struct entries *l, const char *path)
{
	const struct entry *e = entries_find(l, path);

	if (e == NULL)
		fail_msg("no entry \"%s\"", path);
	return e;
}

/* Log lines the walk sent, joined. */
static char	 logged[1024];

static void
log_capture(enum ts_log_level level, const char *msg, void *payload)
{
	size_t	 n = strlen(logged);

	(void)payload;
	snprintf(logged + n, sizeof(logged) - n, "%d %s\n", (int)level, msg);
}

static void
test_walk_local_tree_with_symlinks_and_odd_names(void **state)
{
	static const char *const want[] = {
	    "-dash", "a.txt", "dangling", "link", "new\nline", "sub",
	    "sub/b", "sub/dirlink", "with space", "\xc3\xbc.txt",
	};
	struct tree	*t = *state;
	struct entries	 l;
	struct walk_problems wp;
	const struct entry *e;
	size_t		 i;

	mk_file(t, "a.txt", "hello");
	mk_file(t, "with space", "x");
	mk_file(t, "new\nline", "");
	mk_file(t, "-dash", "--");
	mk_file(t, "\xc3\xbc.txt", "u");
	mk_dir(t, "sub");
	mk_file(t, "sub/b", "bb");
	chmod(at(t, "sub/b"), 0751);
	set_mtime(t, "sub/b", T0 + 1, 123456789);
	mk_link(t, "link", "a.txt");
	mk_link(t, "dangling", "no/such/target");
	mk_link(t, "sub/dirlink", "..");
	walk_ok(t, NULL, &l, &wp);
	assert_int_equal(wp.total, 0);
	assert_false(l.incomplete_root);
	assert_int_equal(l.n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < l.n; i++)
		assert_string_equal(l.v[i].path, want[i]);
	e = find(&l, "a.txt");
	assert_int_equal(e->type, ENTRY_FILE);
	assert_int_equal(e->size, 5);
	assert_int_equal(e->mtime_ns, T0 * NS);
	assert_int_equal(e->mode, 0644);
	e = find(&l, "sub/b");
	assert_int_equal(e->mtime_ns, (T0 + 1) * NS + 123456789);
	assert_int_equal(e->mode, 0751);
	assert_int_equal(find(&l, "sub")->type, ENTRY_DIR);
	e = find(&l, "link");
	assert_int_equal(e->type, ENTRY_SYMLINK);
	assert_string_equal(e->link, "a.txt");
	assert_string_equal(find(&l, "dangling")->link, "no/such/target");
	/* Not followed: a symlink to a directory is a symlink. */
	e = find(&l, "sub/dirlink");
	assert_int_equal(e->type, ENTRY_SYMLINK);
	assert_string_equal(e->link, "..");
	entries_dispose(&l);
	walk_problems_dispose(&wp);
}

static void
test_walk_local_empty_dir_is_listed(void **state)
{
	struct tree	*t = *state;
	struct entries	 l;
	struct walk_problems wp;

	mk_dir(t, "empty");
	mk_dir(t, "empty/nested");
	walk_ok(t, NULL, &l, &wp);
	assert_int_equal(l.n, 2);
	assert_int_equal(find(&l, "empty")->type, ENTRY_DIR);
	assert_int_equal(find(&l, "empty/nested")->type, ENTRY_DIR);
	entries_dispose(&l);
	walk_problems_dispose(&wp);

	rm_tree(AT_FDCWD, at(t, "empty"));
	walk_ok(t, NULL, &l, &wp);	/* an empty root is no error */
	assert_int_equal(l.n, 0);
	entries_dispose(&l);
	walk_problems_dispose(&wp);
}

/* A fifo can't be sent: skipped with a notice, and no problem. */
static void
test_walk_local_fifo_is_skipped_with_a_notice(void **state)
{
	struct tree	*t = *state;
	struct entries	 l;
	struct walk_problems wp;

	mk_dir(t, "d");
	assert_int_equal(mkfifo(at(t, "d/pipe"), 0644), 0);
	mk_file(t, "d/f", "x");
	logged[0] = '\0';
	ts_set_log(log_capture, TS_LOG_DEBUG, NULL);
	walk_ok(t, NULL, &l, &wp);
	ts_set_log(NULL, TS_LOG_WARN, NULL);
	assert_int_equal(wp.total, 0);
	assert_int_equal(l.n, 2);
	assert_null(entries_find(&l, "d/pipe"));
	assert_string_equal(logged, "1 skipping fifo \"d/pipe\"\n");
	assert_int_equal(find(&l, "d")->flags, 0);
	entries_dispose(&l);
	walk_problems_dispose(&wp);
}

static void
test_walk_local_missing_root_is_enoent(void **state)
{
	struct tree	*t = *state;
	struct entries	 l;
	struct ts_error	 err = { 0 };
	char		 msg[256];

	(void)t;
	entries_init(&l);
	assert_int_equal(walk_local(&l, at(t, "nope"), NULL, NULL, &err),
	    TS_ENOENT);
	snprintf(msg, sizeof(msg), "local directory \"%s\" does not exist",
	    at(t, "nope"));
	assert_string_equal(err.msg, msg);
	entries_dispose(&l);
}

static void
test_walk_local_root_that_is_a_file_is_einval(void **state)
{
	struct tree	*t = *state;
	struct entries	 l;
	struct ts_error	 err = { 0 };

	mk_file(t, "f", "x");
	entries_init(&l);
	assert_int_equal(walk_local(&l, at(t, "f"), NULL, NULL, &err),
	    TS_EINVAL);
	assert_non_null(strstr(err.msg, "is not a directory"));
	entries_dispose(&l);
	memset(&err, 0, sizeof(err));
	assert_int_equal(walk_local(&l, at(t, "f/x"), NULL, NULL, &err),
	    TS_ENOENT);
	entries_dispose(&l);
}

/* The root may be a symlink to a directory: it is what the user named. */
static void
test_walk_local_root_symlink_is_followed(void **state)
{
	struct tree	*t = *state;
	struct entries	 l;
	struct ts_error	 err = { 0 };
	char		 root[128];

	mk_dir(t, "real");
	mk_file(t, "real/f", "x");
	mk_link(t, "alias", "real");
	snprintf(root, sizeof(root), "%s/alias", t->root);
	entries_init(&l);
	assert_int_equal(walk_local(&l, root, NULL, NULL, &err), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].path, "f");
	entries_dispose(&l);
}

/* An excluded directory is not entered: nothing in it is even looked at
 * (the fifo inside would be logged). */
static void
test_walk_local_excluded_dir_is_not_entered(void **state)
{
	struct tree	*t = *state;
	struct ts_error	 err = { 0 };
	struct walk_opts o = WALK_OPTS_INIT;
	struct filter	 f;
	struct entries	 l;
	struct walk_problems wp;

	mk_dir(t, "build");
	assert_int_equal(mkfifo(at(t, "build/pipe"), 0644), 0);
	mk_file(t, "build/x", "x");
	mk_file(t, "a.o", "x");
	mk_file(t, "a.c", "x");
	mk_file(t, "build.c", "x");
	filter_init(&f);
	assert_int_equal(filter_add(&f, FILTER_EXCLUDE, "build/", &err), 0);
	assert_int_equal(filter_add(&f, FILTER_EXCLUDE, "*.o", &err), 0);
	o.filter = &f;
	logged[0] = '\0';
	ts_set_log(log_capture, TS_LOG_DEBUG, NULL);
	walk_ok(t, &o, &l, &wp);
	ts_set_log(NULL, TS_LOG_WARN, NULL);
	assert_string_equal(logged, "");
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].path, "a.c");
	assert_string_equal(l.v[1].path, "build.c");
	entries_dispose(&l);
	walk_problems_dispose(&wp);
	filter_dispose(&f);
}

/* -L: links become what they point to, directories are walked. */
static void
test_walk_local_follow_links_gives_targets(void **state)
{
	struct tree	*t = *state;
	struct walk_opts o = WALK_OPTS_INIT;
	struct entries	 l;
	struct walk_problems wp;
	const struct entry *e;

	mk_dir(t, "d");
	mk_file(t, "d/f", "four");
	mk_dir(t, "outside");
	mk_file(t, "outside/o", "o");
	mk_link(t, "d/lf", "f");
	mk_link(t, "ld", "outside");
	o.follow_links = true;
	walk_ok(t, &o, &l, &wp);
	assert_int_equal(wp.total, 0);
	e = find(&l, "d/lf");
	assert_int_equal(e->type, ENTRY_FILE);
	assert_int_equal(e->size, 4);
	assert_null(e->link);
	assert_int_equal(find(&l, "ld")->type, ENTRY_DIR);
	assert_int_equal(find(&l, "ld/o")->type, ENTRY_FILE);
	entries_dispose(&l);
	walk_problems_dispose(&wp);
}

/* -L with loops: a link back up the tree and a link to itself are each a
 * problem, the walk ends, and the rest is there. */
static void
test_walk_local_follow_links_stops_at_loops(void **state)
{
	struct tree	*t = *state;
	struct walk_opts o = WALK_OPTS_INIT;
	struct entries	 l;
	struct walk_problems wp;
	size_t		 i;

	mk_dir(t, "a");
	mk_file(t, "a/f", "x");
	mk_link(t, "a/up", "..");
	mk_link(t, "self", "self");
	o.follow_links = true;
	walk_ok(t, &o, &l, &wp);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].path, "a");
	assert_string_equal(l.v[1].path, "a/f");
	assert_int_equal(wp.total, 2);
	assert_int_equal(wp.n, 2);
	for (i = 0; i < wp.n; i++) {
		assert_int_equal(wp.v[i].err.sys_errno, ELOOP);
		assert_true(strcmp(wp.v[i].path, "a/up") == 0 ||
		    strcmp(wp.v[i].path, "self") == 0);
	}
	/* Their directories are incomplete: nothing there gets deleted. */
	assert_true(find(&l, "a")->flags & ENTRY_INCOMPLETE);
	assert_true(l.incomplete_root);
	entries_dispose(&l);
	walk_problems_dispose(&wp);
}

static void
test_walk_local_dangling_link_with_follow_is_a_problem(void **state)
{
	struct tree	*t = *state;
	struct walk_opts o = WALK_OPTS_INIT;
	struct entries	 l;
	struct walk_problems wp;

	mk_dir(t, "d");
	mk_link(t, "d/gone", "nowhere");
	o.follow_links = true;
	walk_ok(t, &o, &l, &wp);
	assert_int_equal(l.n, 1);
	assert_int_equal(wp.total, 1);
	assert_string_equal(wp.v[0].path, "d/gone");
	assert_string_equal(wp.v[0].err.msg, "follow symlink \"d/gone\": "
	    "no such file or directory");
	assert_true(find(&l, "d")->flags & ENTRY_INCOMPLETE);
	entries_dispose(&l);
	walk_problems_dispose(&wp);
}

/*
 * The checks of the unreadable test, run where permissions bite (as
 * root: in a child that became "nobody").  Returns 0, or the number of
 * the first check that failed.
 */
static int
check_unreadable(const char *root)
{
	struct entries	 l;
	struct walk_problems wp;
	struct ts_error	 err = { 0 };
	const struct entry *e;
	int		 rc = 0;
	size_t		 i;

	entries_init(&l);
	walk_problems_init(&wp);
	if (walk_local(&l, root, NULL, &wp, &err) != 0)
		rc = 1;
	else if (wp.total != 2 || wp.n != 2)
		rc = 2;
	else if ((e = entries_find(&l, "locked")) == NULL ||
	    (e->flags & ENTRY_INCOMPLETE) == 0)
		rc = 3;		/* listed, so the other side keeps it */
	else if (entries_find(&l, "secret") != NULL || !l.incomplete_root)
		rc = 4;
	else if (entries_find(&l, "open/ok") == NULL ||
	    entries_find(&l, "open")->flags != 0)
		rc = 5;
	for (i = 0; rc == 0 && i < wp.n; i++) {
		if (wp.v[i].err.sys_errno != EACCES)
			rc = 6;
		else if (strcmp(wp.v[i].path, "locked") == 0 &&
		    strcmp(wp.v[i].err.msg, "open directory \"locked\": "
		    "permission denied") != 0)
			rc = 7;
		else if (strcmp(wp.v[i].path, "secret") == 0 &&
		    strcmp(wp.v[i].err.msg, "read \"secret\": permission "
		    "denied") != 0)
			rc = 8;
	}
	entries_dispose(&l);
	walk_problems_dispose(&wp);
	return rc;
}

/*
 * An unreadable directory and an unreadable file are reported and
 * skipped, the walk goes on.  Root reads everything, so as root the walk
 * runs in a child process that dropped to uid/gid 65534 (nobody).
 */
static void
test_walk_local_unreadable_entries_are_reported(void **state)
{
	struct tree	*t = *state;
	pid_t		 pid;
	int		 status, rc;

	mk_dir(t, "locked");
	mk_file(t, "locked/x", "x");
	mk_file(t, "secret", "s");
	mk_dir(t, "open");
	mk_file(t, "open/ok", "ok");
	assert_int_equal(chmod(t->root, 0755), 0);
	assert_int_equal(chmod(at(t, "locked"), 0), 0);
	assert_int_equal(chmod(at(t, "secret"), 0), 0);
	if (geteuid() != 0) {
		assert_int_equal(check_unreadable(t->root), 0);
		return;
	}
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
		    setuid(65534) != 0)
			_exit(77);
		_exit(check_unreadable(t->root));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if ((rc = WEXITSTATUS(status)) == 77)
		skip();		/* can't drop privileges here */
	if (rc != 0)
		fail_msg("check %d failed", rc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_walk_local_tree_with_symlinks_and_odd_names, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_walk_local_empty_dir_is_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_walk_local_fifo_is_skipped_with_a_notice, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_walk_local_missing_root_is_enoent, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_walk_local_root_that_is_a_file_is_einval, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_walk_local_root_symlink_is_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_walk_local_excluded_dir_is_not_entered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_walk_local_follow_links_gives_targets, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_walk_local_follow_links_stops_at_loops, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_walk_local_dangling_link_with_follow_is_a_problem,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_walk_local_unreadable_entries_are_reported, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
