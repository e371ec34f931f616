#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ltree.h"

static char	 root[64];

static void
put(const char *rel, const char *data)
{
	char	 p[256];
	FILE	*f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_non_null(f = fopen(p, "w"));
	fputs(data, f);
	fclose(f);
}

static int
setup(void **state)
{
	char	 p[256];

	(void)state;
	snprintf(root, sizeof(root), "%s/test_ltree.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(root));
	snprintf(p, sizeof(p), "%s/sub", root);
	assert_int_equal(mkdir(p, 0755), 0);
	put("a.txt", "a");
	put("sub/b.txt", "bb");
	put("sub/skip.tmp", "x");
	return 0;
}

static int
teardown(void **state)
{
	char	 cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* The walk a push would make (its rules), and a copy a push can own:
 * the same entries, in order. */
static void
test_ltree_walks_as_push_and_copies(void **state)
{
	struct ts_filter_rule	 rule = { false, "*.tmp", false };
	struct ts_sync_opts	 so = TS_SYNC_OPTS_INIT;
	struct ts_error		 err = { 0 };
	struct ltree		 t;
	struct entries		 copy;
	size_t			 i;

	(void)state;
	so.rules = &rule;
	so.nrules = 1;
	assert_int_equal(ltree_walk(&t, root, &so, &err), 0);
	assert_int_equal(t.src.n, 3);		/* a.txt sub sub/b.txt */
	assert_string_equal(t.src.v[0].path, "a.txt");
	assert_string_equal(t.src.v[1].path, "sub");
	assert_string_equal(t.src.v[2].path, "sub/b.txt");
	entries_init(&copy);
	assert_int_equal(ltree_copy(&copy, &t, &err), 0);
	assert_int_equal(copy.n, t.src.n);
	for (i = 0; i < copy.n; i++) {
		assert_string_equal(copy.v[i].path, t.src.v[i].path);
		assert_ptr_not_equal(copy.v[i].path, t.src.v[i].path);
		assert_int_equal(copy.v[i].size, t.src.v[i].size);
		assert_int_equal(copy.v[i].mtime_ns, t.src.v[i].mtime_ns);
		assert_int_equal(copy.v[i].mode, t.src.v[i].mode);
		assert_int_equal(copy.v[i].type, t.src.v[i].type);
	}
	entries_dispose(&copy);
	ltree_dispose(&t);
}

/* A missing directory is the walk's error, as for a push. */
static void
test_ltree_missing_dir(void **state)
{
	struct ts_error	 err = { 0 };
	struct ltree	 t;
	char		 p[128];

	(void)state;
	snprintf(p, sizeof(p), "%s/nope", root);
	assert_int_equal(ltree_walk(&t, p, NULL, &err), TS_ENOENT);
	ltree_dispose(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ltree_walks_as_push_and_copies),
		cmocka_unit_test(test_ltree_missing_dir),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
