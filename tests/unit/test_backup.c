#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backup.h"

static enum backup_kind
kind(const char *name, char *stamp)
{
	char	 buf[BACKUP_STAMP_LEN + 1];

	return backup_name_kind(name, stamp != NULL ? stamp : buf);
}

/* Valid dates and times only: a name that merely looks like one is
 * foreign, so the rotation never touches it. */
static void
test_backup_stamp_valid_dates_only(void **state)
{
	(void)state;
	assert_true(backup_stamp_valid("20261101-020000"));
	assert_true(backup_stamp_valid("20240229-235959"));	/* leap day */
	assert_false(backup_stamp_valid("20250229-000000"));
	assert_false(backup_stamp_valid("21000229-000000"));	/* not leap */
	assert_true(backup_stamp_valid("20000229-000000"));	/* 400 rule */
	assert_false(backup_stamp_valid("20261131-000000"));
	assert_false(backup_stamp_valid("20261301-000000"));
	assert_false(backup_stamp_valid("20261100-000000"));
	assert_false(backup_stamp_valid("20261101-240000"));
	assert_false(backup_stamp_valid("20261101-026000"));
	assert_false(backup_stamp_valid("20261101-020060"));
	assert_false(backup_stamp_valid("20261101020000"));
	assert_false(backup_stamp_valid("20261101_020000"));
	assert_false(backup_stamp_valid("20261101-02000"));
	assert_false(backup_stamp_valid("2026110a-020000"));
	assert_false(backup_stamp_valid(""));
}

static void
test_backup_name_kinds(void **state)
{
	char	 st[BACKUP_STAMP_LEN + 1];

	(void)state;
	assert_int_equal(kind("20261101", st), BACKUP_COMPLETE);
	assert_string_equal(st, "20261101");
	assert_int_equal(kind("20261101-140000", st), BACKUP_COMPLETE);
	assert_string_equal(st, "20261101-140000");
	assert_int_equal(kind(".20261101-140000.in-progress", st),
	    BACKUP_IN_PROGRESS);
	assert_string_equal(st, "20261101-140000");
	assert_int_equal(kind(".20261101.removing", st), BACKUP_REMOVING);
	assert_string_equal(st, "20261101");
	assert_int_equal(kind(".20261101-140000.removing", st),
	    BACKUP_REMOVING);
	assert_string_equal(st, "20261101-140000");
	/* foreign: everything else */
	assert_int_equal(kind("notes", st), BACKUP_FOREIGN);
	assert_string_equal(st, "");
	assert_int_equal(kind("2026-not-a-snapshot", NULL), BACKUP_FOREIGN);
	assert_int_equal(kind("2026110", NULL), BACKUP_FOREIGN);
	assert_int_equal(kind("202611011", NULL), BACKUP_FOREIGN);
	assert_int_equal(kind("20261131", NULL), BACKUP_FOREIGN);
	assert_int_equal(kind("20261101-1400", NULL), BACKUP_FOREIGN);
	assert_int_equal(kind("20261101-140000.bak", NULL), BACKUP_FOREIGN);
	assert_int_equal(kind(".20261101.in-progress", NULL), BACKUP_FOREIGN);
	assert_int_equal(kind("20261101-140000.in-progress", NULL),
	    BACKUP_FOREIGN);
	assert_int_equal(kind(".20261101-140000.in-progress.x", NULL),
	    BACKUP_FOREIGN);
	assert_int_equal(kind(".removing", NULL), BACKUP_FOREIGN);
	assert_int_equal(kind("..removing", NULL), BACKUP_FOREIGN);
	assert_int_equal(kind(".notes.removing", NULL), BACKUP_FOREIGN);
	assert_int_equal(kind(BACKUP_LOCK_NAME, NULL), BACKUP_FOREIGN);
	assert_int_equal(kind("", NULL), BACKUP_FOREIGN);
}

/* A snapshot named by its date alone stands for the whole day. */
static void
test_backup_leftover_older_than_snapshot(void **state)
{
	(void)state;
	assert_true(backup_leftover_older("20261101-020000", "20261102"));
	assert_true(backup_leftover_older("20261101-235959", "20261101"));
	assert_false(backup_leftover_older("20261102-000000", "20261101"));
	assert_true(backup_leftover_older("20261101-020000",
	    "20261101-030000"));
	assert_false(backup_leftover_older("20261101-030000",
	    "20261101-030000"));
	assert_false(backup_leftover_older("20261101-040000",
	    "20261101-030000"));
}

/* The decisions about v[0..n), as "name:k|r:reason;" oldest first. */
static void
render(char *out, size_t size, struct backup_snap *v, size_t n)
{
	size_t	 i, len = 0;

	out[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, size - len, "%s:%s:%s;",
		    v[i].name, v[i].keep ? "k" : "r", v[i].reason);
}

static size_t
load(struct backup_snap *v, const char *const *names)
{
	size_t	 n;

	for (n = 0; names[n] != NULL; n++) {
		memset(&v[n], 0, sizeof(v[n]));
		v[n].name = names[n];
		v[n].kind = backup_name_kind(names[n], v[n].stamp);
		assert_int_not_equal(v[n].kind, BACKUP_FOREIGN);
	}
	return n;
}

static void
test_backup_prune_keeps_newest(void **state)
{
	static const char *const names[] = { "20261103", "20261101",
	    "20261105", "20261102", "20261104", NULL };
	struct backup_snap	 v[8];
	char			 s[512];
	size_t			 n = load(v, names);

	(void)state;
	backup_prune_plan(v, n, 3, "20261105");
	render(s, sizeof(s), v, n);
	assert_string_equal(s, "20261101:r:expired;20261102:r:expired;"
	    "20261103:k:newest;20261104:k:newest;20261105:k:newest;");
}

/* "20261101" came before "20261101-140000" the same day. */
static void
test_backup_prune_same_day_order(void **state)
{
	static const char *const names[] = { "20261101-140000", "20261101",
	    "20261102", NULL };
	struct backup_snap	 v[8];
	char			 s[512];
	size_t			 n = load(v, names);

	(void)state;
	backup_prune_plan(v, n, 2, NULL);
	render(s, sizeof(s), v, n);
	assert_string_equal(s, "20261101:r:expired;20261101-140000:k:newest;"
	    "20261102:k:newest;");
}

/* Leftovers never count toward keep: older ones go, newer ones stay;
 * unfinished removals always go. */
static void
test_backup_prune_leftovers(void **state)
{
	static const char *const names[] = { "20261103",
	    ".20261101-020000.in-progress", "20261102",
	    ".20261103-010000.in-progress", ".20261104-020000.in-progress",
	    ".20261102.removing", NULL };
	struct backup_snap	 v[8];
	char			 s[512];
	size_t			 n = load(v, names);

	(void)state;
	backup_prune_plan(v, n, 2, "20261103");
	render(s, sizeof(s), v, n);
	assert_string_equal(s,
	    ".20261101-020000.in-progress:r:stale;"
	    ".20261102.removing:r:removing;"
	    "20261102:k:newest;"
	    "20261103:k:newest;"
	    ".20261103-010000.in-progress:r:stale;"
	    ".20261104-020000.in-progress:k:in-progress;");
}

/* A run stamped in the past keeps its own snapshot. */
static void
test_backup_prune_keeps_current(void **state)
{
	static const char *const names[] = { "20261105", "20261104",
	    "20261101", NULL };
	struct backup_snap	 v[8];
	char			 s[512];
	size_t			 n = load(v, names);

	(void)state;
	backup_prune_plan(v, n, 1, "20261101");
	render(s, sizeof(s), v, n);
	assert_string_equal(s, "20261101:k:current;20261104:r:expired;"
	    "20261105:k:newest;");
}

/* Without any complete snapshot, leftovers are kept. */
static void
test_backup_prune_no_complete(void **state)
{
	static const char *const names[] = { ".20261101-020000.in-progress",
	    NULL };
	struct backup_snap	 v[4];
	char			 s[256];
	size_t			 n = load(v, names);

	(void)state;
	backup_prune_plan(v, n, 3, NULL);
	render(s, sizeof(s), v, n);
	assert_string_equal(s, ".20261101-020000.in-progress:k:in-progress;");
	backup_prune_plan(v, 0, 3, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backup_stamp_valid_dates_only),
		cmocka_unit_test(test_backup_name_kinds),
		cmocka_unit_test(test_backup_leftover_older_than_snapshot),
		cmocka_unit_test(test_backup_prune_keeps_newest),
		cmocka_unit_test(test_backup_prune_same_day_order),
		cmocka_unit_test(test_backup_prune_leftovers),
		cmocka_unit_test(test_backup_prune_keeps_current),
		cmocka_unit_test(test_backup_prune_no_complete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
