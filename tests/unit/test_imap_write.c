/* test_imap_write.c — quoting, flag and date validation of what we send. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "proto/imap_write.h"

static void test_quoted(void **state)
{
	struct buf b;
	(void)state;
	buf_init(&b, 0);
	assert_true(imap_write_quoted(&b, "INBOX", 5));
	assert_string_equal(b.data, "\"INBOX\"");
	buf_reset(&b);
	assert_true(imap_write_quoted(&b, "a\"b\\c", 5));
	assert_string_equal(b.data, "\"a\\\"b\\\\c\"");
	buf_reset(&b);
	/* CR, LF, NUL and 8-bit bytes cannot be quoted: nothing is written. */
	assert_false(imap_write_quoted(&b, "a\r\nb", 4));
	assert_false(imap_write_quoted(&b, "a\0b", 3));
	assert_false(imap_write_quoted(&b, "\xe5\x8f\x96", 3));
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_flags(void **state)
{
	(void)state;
	assert_true(imap_flag_appendable("\\Seen"));
	assert_true(imap_flag_appendable("\\seen"));
	assert_true(imap_flag_appendable("\\Deleted"));
	assert_true(imap_flag_appendable("$Forwarded"));
	assert_true(imap_flag_appendable("Project_X"));
	assert_false(imap_flag_appendable("\\Recent"));
	assert_false(imap_flag_appendable("\\Whatever"));
	assert_false(imap_flag_appendable(""));
	assert_false(imap_flag_appendable("a b"));
	assert_false(imap_flag_appendable("a)"));
	assert_false(imap_flag_appendable("a\r\nA1 DELETE INBOX"));
	assert_false(imap_flag_appendable("a\"b"));
	assert_false(imap_flag_appendable("\xe8\xa6\x81"));
}

static void test_dates(void **state)
{
	long long t;
	(void)state;
	assert_true(imap_datetime_parse("01-Jan-1970 00:00:00 +0000", &t));
	assert_int_equal(t, 0);
	assert_true(imap_datetime_parse("01-Jan-1970 09:00:00 +0900", &t));
	assert_int_equal(t, 0);
	assert_true(imap_datetime_parse(" 1-Jan-1970 00:00:00 -0330", &t));
	assert_int_equal(t, 3 * 3600 + 30 * 60);
	assert_true(imap_datetime_parse("17-Jul-1996 02:44:25 -0700", &t));
	assert_int_equal(t, 837596665);
	assert_true(imap_datetime_valid("29-Feb-2024 23:59:59 +0545"));
	assert_false(imap_datetime_valid("17-Jul-1996 02:44:25"));
	assert_false(imap_datetime_valid("17-Foo-1996 02:44:25 -0700"));
	assert_false(imap_datetime_valid("17-Jul-1996 02:44:25 -0700\" x"));
	assert_false(imap_datetime_valid("17-Jul-1996 24:44:25 -0700"));
	assert_false(imap_datetime_valid("00-Jul-1996 02:44:25 -0700"));
	assert_false(imap_datetime_valid(""));
}

static void test_json(void **state)
{
	struct buf b;
	int first = 1;
	(void)state;
	buf_init(&b, 0);
	buf_append_char(&b, '{');
	json_key(&b, "name", &first);
	json_str(&b, "取引先/2024 \"q\"\n\x01");
	json_key(&b, "bad", &first);
	json_str(&b, "a\xff" "b");
	json_key(&b, "null", &first);
	json_str(&b, NULL);
	buf_append_char(&b, '}');
	assert_string_equal(b.data, "{\"name\":\"取引先/2024 \\\"q\\\"\\u000a\\u0001\","
				    "\"bad\":\"a\xef\xbf\xbd" "b\",\"null\":null}");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
