#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "version.h"

/* The runtime version is the header's. */
static void
test_version_matches_header(void **state)
{
	char	 want[32];

	(void)state;
	snprintf(want, sizeof(want), "%d.%d.%d", TS_VERSION_MAJOR,
	    TS_VERSION_MINOR, TS_VERSION_PATCH);
	assert_string_equal(ts_version(), want);
	assert_string_equal(TS_VERSION_STRING, want);
}

/* A struct that skipped its _INIT macro (version 0) or comes from a newer
 * header is refused with a message naming it; known versions pass. */
static void
test_version_opts_unknown_refused(void **state)
{
	struct ts_error	 err = { 0 };

	(void)state;
	assert_int_equal(version_check_opts(TS_SYNC_OPTS_VERSION,
	    TS_SYNC_OPTS_VERSION, "ts_sync_opts", &err), 0);
	assert_int_equal(err.code, TS_OK);
	assert_int_equal(version_check_opts(0, TS_SYNC_OPTS_VERSION,
	    "ts_sync_opts", &err), TS_EINVAL);
	assert_int_equal(err.code, TS_EINVAL);
	assert_non_null(strstr(err.msg, "struct ts_sync_opts has version 0"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(version_check_opts(TS_SYNC_OPTS_VERSION + 1,
	    TS_SYNC_OPTS_VERSION, "ts_sync_opts", &err), TS_EINVAL);
}

/* A program built against version 1 of ts_conn_opts passes a struct that
 * ends before connect_helper: nothing past it is read (ASan would say). */
static void
test_version_conn_opts_v1_read_no_further(void **state)
{
	struct ts_conn_opts	 full = TS_CONN_OPTS_INIT;
	struct ts_conn		*c = NULL;
	struct ts_error		 err = { 0 };
	size_t			 v1 = offsetof(struct ts_conn_opts,
				    connect_helper);
	void			*o;

	(void)state;
	full.version = 1;
	full.transport = TS_TRANSPORT_LIBSSH2;
	full.port = 1;			/* nothing listens: refused at once */
	full.connect_timeout = 2;
	assert_non_null(o = malloc(v1));
	memcpy(o, &full, v1);
	assert_int_not_equal(ts_conn_open(&c, "127.0.0.1:/x", o, &err), 0);
	assert_null(c);
	assert_int_equal(err.code, TS_ECONN);
	free(o);
}

/* The fields with a default other than 0 (padding may differ: no memcmp). */
static void
sync_opts_equal(const struct ts_sync_opts *a, const struct ts_sync_opts *b)
{
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->hash, b->hash);
	assert_int_equal(a->max_delete, b->max_delete);
	assert_int_equal(a->jobs, b->jobs);
	assert_int_equal(a->retries, b->retries);
	assert_int_equal(a->partial, b->partial);
	assert_int_equal(a->dry_run, b->dry_run);
	assert_int_equal(a->delete_extra, b->delete_extra);
	assert_int_equal(a->fsync, b->fsync);
	assert_null(a->rules);
	assert_null(a->link_dest);
	assert_null(a->cache_dir);
}

/* Every job starts from the same defaults: backup once had no retries
 * where push had 3. */
static void
test_version_opts_defaults_agree(void **state)
{
	struct ts_sync_opts	 so = TS_SYNC_OPTS_INIT;
	struct ts_backup_opts	 bo = TS_BACKUP_OPTS_INIT;
	struct ts_publish_opts	 po = TS_PUBLISH_OPTS_INIT;
	struct ts_restore_opts	 ro = TS_RESTORE_OPTS_INIT;
	struct ts_conn_opts	 co = TS_CONN_OPTS_INIT;
	struct ts_put_opts	 pu = TS_PUT_OPTS_INIT;
	struct ts_probe_opts	 pr = TS_PROBE_OPTS_INIT;

	(void)state;
	assert_int_equal(so.version, TS_SYNC_OPTS_VERSION);
	assert_int_equal(so.retries, -1);
	assert_int_equal(so.max_delete, -1);
	assert_int_equal(so.verify, TS_VERIFY_SIZE);
	/* Only verify differs, and on purpose: a backup or a release is
	 * checked by hash. */
	assert_int_equal(bo.sync.verify, TS_VERIFY_HASH);
	assert_int_equal(po.sync.verify, TS_VERIFY_HASH);
	assert_int_equal(ro.sync.verify, TS_VERIFY_SIZE);
	sync_opts_equal(&bo.sync, &so);
	sync_opts_equal(&po.sync, &so);
	sync_opts_equal(&ro.sync, &so);
	assert_int_equal(bo.version, TS_BACKUP_OPTS_VERSION);
	assert_int_equal(po.version, TS_PUBLISH_OPTS_VERSION);
	assert_int_equal(ro.version, TS_RESTORE_OPTS_VERSION);
	assert_int_equal(co.version, TS_CONN_OPTS_VERSION);
	assert_int_equal(pu.version, TS_PUT_OPTS_VERSION);
	assert_true(pu.keep_mode);
	assert_int_equal(pr.version, TS_PROBE_OPTS_VERSION);
	assert_true(pr.write);
}

/* Every code has its own words. */
static void
test_version_strerror_names_every_code(void **state)
{
	int	 c;

	(void)state;
	for (c = TS_OK; c >= TS_ESPLIT; c--)
		assert_string_not_equal(ts_strerror(c), "unknown error");
	assert_string_equal(ts_strerror(TS_ESPLIT - 1), "unknown error");
	assert_string_equal(ts_strerror(1), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_matches_header),
		cmocka_unit_test(test_version_opts_unknown_refused),
		cmocka_unit_test(test_version_conn_opts_v1_read_no_further),
		cmocka_unit_test(test_version_opts_defaults_agree),
		cmocka_unit_test(test_version_strerror_names_every_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
