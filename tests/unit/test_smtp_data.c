/* test_smtp_data.c — unit tests of the resumable DATA reader.
 *
 * Every input goes through check(): fed whole, one byte at a time, and
 * split in two at every position; each run must give the same message
 * bytes, the same result and the same number of consumed bytes, equal to
 * the expected ones. Runs handed out must lie inside the consumed input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/buf.h"
#include "proto/smtp_data.h"

struct outcome {
	struct buf msg;
	enum smtp_data_result res;
	size_t used;      /* total bytes consumed up to the end (or all) */
	uint64_t size;
};

/* Feeds in[0..len) in pieces: split > 0 cuts once at split, step > 0 feeds
 * step bytes at a time. Stops at an END result. */
static void run(const char *in, size_t len, uint64_t max, size_t split, size_t step,
		struct outcome *o)
{
	struct smtp_data d;
	size_t pos = 0;

	smtp_data_init(&d, max);
	buf_init(&o->msg, 0);
	o->res = SMTP_DATA_MORE;
	while (pos < len) {
		size_t n = len - pos;
		if (step > 0 && n > step)
			n = step;
		if (split > 0 && pos < split && pos + n > split)
			n = split - pos;
		const char *p = in + pos;
		size_t left = n;
		while (left > 0) {
			size_t used;
			const char *r;
			size_t rl;
			o->res = smtp_data_feed(&d, p, left, &used, &r, &rl);
			assert_true(used <= left);
			assert_true(r >= p && r + rl <= p + used);
			assert_true(buf_append(&o->msg, r, rl));
			p += used;
			left -= used;
			pos += used;
			if (o->res != SMTP_DATA_MORE)
				goto out;
			assert_true(used > 0);
		}
	}
out:
	o->used = pos;
	o->size = smtp_data_size(&d);
	assert_int_equal(d.out, o->msg.len);
	assert_true(o->msg.len <= pos);
	if (o->res != SMTP_DATA_MORE) {
		size_t used;
		const char *r;
		size_t rl;
		/* Finished: stays finished, consumes nothing. */
		assert_int_equal(smtp_data_feed(&d, "x", 1, &used, &r, &rl), o->res);
		assert_int_equal(used, 0);
		assert_int_equal(rl, 0);
	}
}

static void check_max(const char *in, size_t len, uint64_t max, enum smtp_data_result res,
		      const char *want, size_t want_len, size_t want_used)
{
	struct outcome o;

	run(in, len, max, 0, 0, &o);
	assert_int_equal(o.res, res);
	assert_int_equal(o.used, want_used);
	if (want != NULL) {
		assert_int_equal(o.msg.len, want_len);
		assert_memory_equal(o.msg.data ? o.msg.data : "", want, want_len);
	}
	struct outcome ref = o;
	for (size_t step = 1; step <= 3; step++) {
		run(in, len, max, 0, step, &o);
		assert_int_equal(o.res, ref.res);
		assert_int_equal(o.used, ref.used);
		assert_int_equal(o.size, ref.size);
		assert_int_equal(o.msg.len, ref.msg.len);
		if (o.msg.len)
			assert_memory_equal(o.msg.data, ref.msg.data, o.msg.len);
		buf_free(&o.msg);
	}
	for (size_t split = 1; split < len; split++) {
		run(in, len, max, split, 0, &o);
		assert_int_equal(o.res, ref.res);
		assert_int_equal(o.used, ref.used);
		assert_int_equal(o.size, ref.size);
		assert_int_equal(o.msg.len, ref.msg.len);
		if (o.msg.len)
			assert_memory_equal(o.msg.data, ref.msg.data, o.msg.len);
		buf_free(&o.msg);
	}
	buf_free(&ref.msg);
}

#define CHECK(in, res, want, used) \
	check_max(in, sizeof(in) - 1, 0, res, want, sizeof(want) - 1, used)
/* Error results: the message bytes do not matter (they are discarded). */
#define CHECK_ERR(in, res, used) check_max(in, sizeof(in) - 1, 0, res, NULL, 0, used)

static void test_plain(void **state)
{
	(void)state;
	CHECK("Subject: x\r\n\r\nhello\r\n.\r\n", SMTP_DATA_END,
	      "Subject: x\r\n\r\nhello\r\n", 24);
	/* Empty message. */
	CHECK(".\r\n", SMTP_DATA_END, "", 3);
	/* Bytes after the end are the next command's. */
	CHECK("a\r\n.\r\nQUIT\r\n", SMTP_DATA_END, "a\r\n", 6);
	/* Not ended yet. */
	CHECK("a\r\nb\r\n", SMTP_DATA_MORE, "a\r\nb\r\n", 6);
	CHECK("a\r\n.", SMTP_DATA_MORE, "a\r\n", 4);
	CHECK("a\r\n.\r", SMTP_DATA_MORE, "a\r\n", 5);
	/* 8-bit and NUL are passed through untouched. */
	CHECK("\xe6\x97\xa5\0x\r\n.\r\n", SMTP_DATA_END, "\xe6\x97\xa5\0x\r\n", 10);
}

static void test_dot_unstuffing(void **state)
{
	(void)state;
	CHECK("..\r\n.\r\n", SMTP_DATA_END, ".\r\n", 7);
	CHECK("a\r\n..b\r\n...\r\n.\r\n", SMTP_DATA_END, "a\r\n.b\r\n..\r\n", 16);
	CHECK(".x\r\n.\r\n", SMTP_DATA_END, "x\r\n", 7);
	/* A dot not at the start of a line stays. */
	CHECK("a.\r\nb.c\r\n.\r\n", SMTP_DATA_END, "a.\r\nb.c\r\n", 12);
	/* ". " is not the end. */
	CHECK("a\r\n. \r\n.\r\n", SMTP_DATA_END, "a\r\n \r\n", 10);
}

static void test_smuggling(void **state)
{
	(void)state;
	/* The known variants: never an end, always an error, and the reader
	 * goes on to the real end. */
	CHECK_ERR("a\n.\nMAIL FROM:<x@y>\r\n.\r\n", SMTP_DATA_END_BARE_NEWLINE, 24);
	CHECK_ERR("a\r.\rMAIL FROM:<x@y>\r\n.\r\n", SMTP_DATA_END_BARE_NEWLINE, 24);
	CHECK_ERR("a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n", SMTP_DATA_END_BARE_NEWLINE, 25);
	CHECK_ERR("a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n", SMTP_DATA_END_BARE_NEWLINE, 25);
	CHECK_ERR("a\r.\r\nMAIL FROM:<x@y>\r\n.\r\n", SMTP_DATA_END_BARE_NEWLINE, 25);
	CHECK_ERR("a\r\n.\r\r\n.\r\n", SMTP_DATA_END_BARE_NEWLINE, 10);
	CHECK_ERR("a\r\n.\rx\r\n.\r\n", SMTP_DATA_END_BARE_NEWLINE, 11);
	CHECK_ERR(".\n.\r\n", SMTP_DATA_MORE, 5);
	CHECK_ERR(".\n.\r\n\r\n.\r\n", SMTP_DATA_END_BARE_NEWLINE, 10);
	CHECK_ERR("\n.\r\n.\r\n", SMTP_DATA_END_BARE_NEWLINE, 7);
	CHECK_ERR("a\r\r\n.\r\n", SMTP_DATA_END_BARE_NEWLINE, 7);
	CHECK_ERR("a\n\r\n.\r\n", SMTP_DATA_END_BARE_NEWLINE, 7);
	/* Never ends on a smuggled marker, even with no real end. */
	CHECK_ERR("a\n.\n", SMTP_DATA_MORE, 4);
	CHECK_ERR("a\r.\r", SMTP_DATA_MORE, 4);
	CHECK_ERR("a\r\n.\n", SMTP_DATA_MORE, 5);
	CHECK_ERR("a\n.\r\n", SMTP_DATA_MORE, 5);

	/* Output stops at the first bare newline. */
	struct outcome o;
	const char in[] = "ok\r\nbad\nmore\r\n.\r\n";
	run(in, sizeof in - 1, 0, 0, 0, &o);
	assert_int_equal(o.res, SMTP_DATA_END_BARE_NEWLINE);
	assert_int_equal(o.msg.len, 7);
	assert_memory_equal(o.msg.data, "ok\r\nbad", 7);
	assert_int_equal(o.size, 14);
	buf_free(&o.msg);
}

static void test_size_limit(void **state)
{
	(void)state;
	/* Exactly at the limit is fine. */
	check_max("abc\r\n.\r\n", 8, 5, SMTP_DATA_END, "abc\r\n", 5, 8);
	/* One over: consumed to the end, nothing past the limit handed out. */
	check_max("abcd\r\n.\r\nRSET\r\n", 15, 5, SMTP_DATA_END_TOO_BIG, "abcd\r", 5, 9);
	check_max("..........\r\n.\r\n", 16, 4, SMTP_DATA_END_TOO_BIG, "....", 4, 15);

	struct outcome o;
	char big[5000];
	memset(big, 'x', sizeof big);
	memcpy(big + sizeof big - 5, "\r\n.\r\n", 5);
	run(big, sizeof big, 1000, 0, 7, &o);
	assert_int_equal(o.res, SMTP_DATA_END_TOO_BIG);
	assert_int_equal(o.msg.len, 1000);
	assert_int_equal(o.size, sizeof big - 3);
	assert_int_equal(o.used, sizeof big);
	buf_free(&o.msg);

	/* Both errors: bare newline wins. */
	check_max("abcdef\n\r\n.\r\n", 12, 3, SMTP_DATA_END_BARE_NEWLINE, NULL, 0, 12);
}

static void test_state_is_small(void **state)
{
	(void)state;
	assert_true(sizeof(struct smtp_data) <= 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_dot_unstuffing),
		cmocka_unit_test(test_smuggling),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_state_is_small),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
