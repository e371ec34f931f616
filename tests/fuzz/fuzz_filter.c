/*
 * libFuzzer target for include/exclude patterns: an --exclude-from file
 * either loads or names the line it refuses, and matching paths against
 * whatever loaded ends, whatever the patterns.
 *
 * The input is the rules file, then a NUL, then paths to test, one a
 * line.  The rules file is also read as a --files-from list (both ways:
 * lines, and NUL-separated names), and the paths tested against that.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "filter.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

/* Paths from the tests' usual trees, for inputs that bring none. */
static const char *const fixed_paths[] = {
	"a", "a/b", "a/b/c.txt", "x.o", "d/e/f/g.o", ".hidden/x", "a b/c",
};

static void
check_path(const struct filter *f, const char *path)
{
	(void)filter_excluded(f, path, false);
	(void)filter_excluded(f, path, true);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct filter	 f;
	struct ts_error	 err;
	const uint8_t	*nul;
	size_t		 rules_len, i, k;
	char		*paths, *p, *nl;
	int		 rc;

	nul = memchr(data, '\0', size);
	rules_len = nul != NULL ? (size_t)(nul - data) : size;
	filter_init(&f);
	error_clear(&err);
	rc = filter_add_text(&f, "fuzz", (const char *)data, rules_len, &err);
	CHECK(rc == 0 || (rc == TS_EINVAL && err.code == TS_EINVAL) ||
	    rc == TS_ENOMEM);
	for (i = 0; i < sizeof(fixed_paths) / sizeof(fixed_paths[0]); i++)
		check_path(&f, fixed_paths[i]);
	if (nul != NULL) {
		size_t	 n = size - rules_len - 1;

		if ((paths = malloc(n + 1)) == NULL)
			goto out;
		memcpy(paths, nul + 1, n);
		paths[n] = '\0';
		for (p = paths; p != NULL; p = nl) {
			if ((nl = strchr(p, '\n')) != NULL)
				*nl++ = '\0';
			check_path(&f, p);
		}
		free(paths);
	}
out:
	filter_dispose(&f);

	/* The same text as a --files-from list: lines, then names. */
	for (i = 0; i < 2; i++) {
		filter_init(&f);
		error_clear(&err);
		rc = filter_add_only_text(&f, "fuzz", (const char *)data,
		    i == 0 ? rules_len : size, i == 1, &err);
		CHECK(rc == 0 || (rc == TS_EINVAL && err.code == TS_EINVAL) ||
		    rc == TS_ENOMEM);
		if (rc == 0)
			CHECK(f.nonly > 0);
		for (k = 0; rc == 0 && k < f.nonly; k++) {
			CHECK(strstr(f.only[k], "//") == NULL);
			CHECK(f.only[k][0] != '/');
			CHECK(k == 0 || strcmp(f.only[k - 1], f.only[k]) < 0);
			/* Every name listed, and its parents, is let through. */
			CHECK(!filter_excluded(&f, f.only[k], false));
			CHECK(!filter_excluded(&f, f.only[k], true));
		}
		for (k = 0; k < sizeof(fixed_paths) / sizeof(fixed_paths[0]);
		    k++)
			check_path(&f, fixed_paths[k]);
		filter_dispose(&f);
	}
	return 0;
}
