/* path_join: the one joiner of remote (and local) paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "path.h"

static void
check(const char *dir, const char *name, const char *want)
{
	char	*p = path_join(dir, name);

	assert_non_null(p);
	assert_string_equal(p, want);
	free(p);
}

static void
test_path_join(void **state)
{
	(void)state;
	check("a", "b", "a/b");
	check("a/", "b/c", "a/b/c");
	check("a///", "b", "a/b");
	check("/", "b", "/b");
	check("//", "b", "/b");
	check("/srv/x", "", "/srv/x");
	check("/srv/x/", "", "/srv/x");
	/* "" is the login directory on the server. */
	check("", "b", "b");
	check("", "", ".");
	check(".", "b", "./b");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_join),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
