/* test_throttle.c — the throttling messages of real servers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sync/throttle.h"

static void test_hints(void **state)
{
	(void)state;
	assert_int_equal(throttle_hint_ms("Request is throttled. Suggested Backoff Time: 3000 "
					  "milliseconds"), 3000);
	assert_int_equal(throttle_hint_ms("Request is throttled. Suggested Backoff Time: 12 seconds"),
			 12000);
	assert_int_equal(throttle_hint_ms("Suggested Backoff Time: 99999999 milliseconds"),
			 600000);
	assert_int_equal(throttle_hint_ms("[UNAVAILABLE] Account exceeded command or bandwidth "
					  "limits. k3mb..."), 60000);
	assert_int_equal(throttle_hint_ms("Too many simultaneous connections. (Failure)"), 60000);
	assert_int_equal(throttle_hint_ms("[THROTTLED] slow down"), 30000);
	assert_int_equal(throttle_hint_ms("[UNAVAILABLE] Temporary System Error"), 30000);
	assert_int_equal(throttle_hint_ms("Mail size is larger than the maximum size"), 0);
	assert_int_equal(throttle_hint_ms("closed the connection unexpectedly"), 0);
	assert_int_equal(throttle_hint_ms(""), 0);
	assert_int_equal(throttle_hint_ms(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_hints) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
