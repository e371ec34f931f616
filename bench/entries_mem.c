/*
 * Memory per entry of an entry list, as the process sees it (RSS), for
 * N entries (default 1,000,000) shaped like a source tree: directories of
 * 20 to 40 files, paths about 59 bytes long.  Not part of the build:
 *
 *   cc -O2 -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
 *       -Isrc/lib -Iinclude bench/entries_mem.c src/lib/entries.c \
 *       src/lib/error.c -o /tmp/entries_mem && /tmp/entries_mem
 *
 * Measured (x86-64, glibc 2.36), sorted list: 1,000,000 entries, RSS
 * +109 MB, 109.1 bytes per entry (entries_mem_usage: 109.0); 1,100,000
 * and 700,000 entries: RSS 109.1 per entry, entries_mem_usage 126.6 and
 * 129.5, as it counts the array's reserved but untouched growth slack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entries.h"

/* Resident set size in bytes, from /proc/self/statm. */
static size_t
rss(void)
{
	unsigned long	 size, res;
	FILE		*f;

	if ((f = fopen("/proc/self/statm", "r")) == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return res * 4096;
}

int
main(int argc, char **argv)
{
	struct entries	 l;
	struct ts_error	 err = { 0 };
	char		 path[256];
	size_t		 want = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	size_t		 n = 0, chars = 0, d = 0, f, before;

	before = rss();
	entries_init(&l);
	while (n < want) {
		snprintf(path, sizeof(path), "home/alice/projects/"
		    "component_%02zu/src/module_%04zu", d % 50, d);
		if (entries_add(&l, path, ENTRY_DIR, 0, 0, 0755, NULL,
		    &err) != 0)
			goto fail;
		chars += strlen(path);
		n++;
		for (f = 0; f < 20 + d % 21 && n < want; f++, n++) {
			snprintf(path, sizeof(path), "home/alice/projects/"
			    "component_%02zu/src/module_%04zu/file_%03zu.c",
			    d % 50, d, f);
			if (entries_add(&l, path, ENTRY_FILE, 1000 + f, 0, 0644,
			    NULL, &err) != 0)
				goto fail;
			chars += strlen(path);
		}
		d++;
	}
	if (entries_sort(&l, &err) != 0)
		goto fail;
	printf("%zu entries, paths %.1f bytes on average\n", l.n,
	    (double)chars / (double)l.n);
	printf("rss:   %zu bytes, %.1f per entry\n", rss() - before,
	    (double)(rss() - before) / (double)l.n);
	printf("usage: %zu bytes, %.1f per entry (entries_mem_usage)\n",
	    entries_mem_usage(&l),
	    (double)entries_mem_usage(&l) / (double)l.n);
	entries_dispose(&l);
	return 0;
fail:
	fprintf(stderr, "entries_mem: %s\n", err.msg);
	return 1;
}
