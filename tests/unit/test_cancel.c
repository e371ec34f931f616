#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cancel.h"
#include "treesync.h"

/* A program that canceled one job must be able to run the next. */
static void
test_cancel_reset_lets_the_next_job_run(void **state)
{
	(void)state;
	assert_false(cancel_requested());
	ts_cancel();
	assert_true(cancel_requested());
	ts_cancel();			/* a second Ctrl-C: still canceled */
	assert_true(cancel_requested());
	ts_cancel_reset();
	assert_false(cancel_requested());
	ts_cancel();			/* and the next job can be canceled */
	assert_true(cancel_requested());
	ts_cancel_reset();
	assert_false(cancel_requested());
}

/* Resetting with no cancel pending changes nothing. */
static void
test_cancel_reset_without_cancel_is_harmless(void **state)
{
	(void)state;
	ts_cancel_reset();
	assert_false(cancel_requested());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cancel_reset_lets_the_next_job_run),
		cmocka_unit_test(test_cancel_reset_without_cancel_is_harmless),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
