/* test_smtp_reply.c — unit tests of the resumable SMTP reply parser.
 *
 * Every input goes through check(): fed whole, one byte at a time and split
 * in two at every position; each run is rendered as a transcript (one line
 * per reply: code, enhanced code, text, lines; or the error) and all must
 * equal the expected transcript.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "proto/smtp_reply.h"

static const struct smtp_reply_limits small = { 200, 5 };

static void render(struct buf *t, const struct smtp_reply *r)
{
	buf_printf(t, "%u [%s] '%s'", r->code, r->enhanced, r->text);
	for (size_t i = 0; i < r->line_count; i++)
		buf_printf(t, " |%s", r->lines[i]);
	buf_append_char(t, '\n');
}

/* split: cut once there; step: feed that many bytes at a time. */
static void run(const char *in, size_t len, const struct smtp_reply_limits *lim, size_t split,
		size_t step, struct buf *t)
{
	struct smtp_reply_parser *p = smtp_reply_parser_new(lim);
	size_t pos = 0;

	buf_init(t, 0);
	while (pos < len) {
		size_t n = len - pos;
		if (step > 0 && n > step)
			n = step;
		if (split > 0 && pos < split && pos + n > split)
			n = split - pos;
		size_t left = n;
		const char *s = in + pos;
		while (left > 0) {
			size_t used;
			enum smtp_reply_result res = smtp_reply_feed(p, s, left, &used);
			assert_true(used <= left);
			if (res == SMTP_REPLY_ERROR) {
				buf_printf(t, "X %s\n", smtp_reply_error(p));
				assert_int_equal(smtp_reply_feed(p, s, left, &used), SMTP_REPLY_ERROR);
				assert_int_equal(used, 0);
				goto out;
			}
			if (res == SMTP_REPLY_DONE)
				render(t, smtp_reply_get(p));
			else
				assert_int_equal(used, left);
			s += used;
			left -= used;
		}
		pos += n;
	}
out:
	smtp_reply_parser_free(&p);
	assert_null(p);
}

static void check_lim(const char *in, const struct smtp_reply_limits *lim, const char *want)
{
	size_t len = strlen(in);
	struct buf t;

	run(in, len, lim, 0, 0, &t);
	assert_string_equal(t.data ? t.data : "", want);
	buf_free(&t);
	run(in, len, lim, 0, 1, &t);
	assert_string_equal(t.data ? t.data : "", want);
	buf_free(&t);
	for (size_t i = 1; i < len; i++) {
		run(in, len, lim, i, 0, &t);
		assert_string_equal(t.data ? t.data : "", want);
		buf_free(&t);
	}
}

#define check(in, want) check_lim(in, NULL, want)

static void test_single(void **state)
{
	(void)state;
	check("220 mx.example.jp ESMTP ready\r\n", "220 [] 'mx.example.jp ESMTP ready' |mx.example.jp ESMTP ready\n");
	check("250 2.1.0 Ok\r\n", "250 [2.1.0] 'Ok' |2.1.0 Ok\n");
	check("250 2.0.0 Ok: queued as 4Xyz\r\n", "250 [2.0.0] 'Ok: queued as 4Xyz' |2.0.0 Ok: queued as 4Xyz\n");
	check("554\r\n", "554 [] '' |\n");
	check("354 \r\n", "354 [] '' |\n");
	/* Class must match the code; otherwise not an enhanced code. */
	check("550 2.1.0 x\r\n", "550 [] '2.1.0 x' |2.1.0 x\n");
	check("550 5.1.1234 x\r\n", "550 [] '5.1.1234 x' |5.1.1234 x\n");
	check("550 5.7.1\r\n", "550 [5.7.1] '' |5.7.1\n");
	/* Bare LF tolerated; pipelined replies come one by one. */
	check("250 a\n251 b\r\n", "250 [] 'a' |a\n251 [] 'b' |b\n");
	check("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
	      "250 [2.1.0] 'Ok' |2.1.0 Ok\n250 [2.1.5] 'Ok' |2.1.5 Ok\n"
	      "354 [] 'End data with <CR><LF>.<CR><LF>' |End data with <CR><LF>.<CR><LF>\n");
	/* Incomplete: nothing yet. */
	check("250-a\r\n250 b", "");
}

static void test_multi(void **state)
{
	(void)state;
	check("250-mx.example.jp\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n",
	      "250 [] 'mx.example.jp' |mx.example.jp |PIPELINING |SIZE 10240000 |8BITMIME\n");
	check("550-5.1.1 no such\r\n550-5.1.1 user\r\n550 5.1.1 here\r\n",
	      "550 [5.1.1] 'no such' |5.1.1 no such |5.1.1 user |5.1.1 here\n");
	check("250-\r\n250 \r\n", "250 [] '' | |\n");
}

static void test_errors(void **state)
{
	(void)state;
	check("250-a\r\n251 b\r\n", "X the server's reply changes its reply code between lines\n");
	check("hello\r\n", "X the server's reply line does not start with a reply code (2xx to 5xx)\n");
	check("25\r\n", "X the server's reply line does not start with a reply code (2xx to 5xx)\n");
	check("150 x\r\n", "X the server's reply line does not start with a reply code (2xx to 5xx)\n");
	check("260 x\r\n", "X the server's reply line does not start with a reply code (2xx to 5xx)\n");
	check("250x\r\n", "X the server's reply code is not followed by a space or a hyphen\n");
	check("250 a\rb\r\n", "X the server's reply contains a CR that does not end a line\n");
	check("250 a\r\r\n", "X the server's reply contains a CR that does not end a line\n");
	/* The first reply is still delivered before the error. */
	struct buf t;
	const char nul[] = "250 ok\r\n250 a\0b\r\n";
	for (size_t step = 1; step < sizeof nul; step++) {
		run(nul, sizeof nul - 1, NULL, 0, step, &t);
		assert_string_equal(t.data, "250 [] 'ok' |ok\nX the server's reply contains a NUL byte\n");
		buf_free(&t);
	}
}

static void test_limits(void **state)
{
	(void)state;
	/* 5 lines fine, 6 too many. */
	check_lim("250-a\r\n250-b\r\n250-c\r\n250-d\r\n250 e\r\n", &small,
		  "250 [] 'a' |a |b |c |d |e\n");
	check_lim("250-a\r\n250-b\r\n250-c\r\n250-d\r\n250-e\r\n250 f\r\n", &small,
		  "X the server's reply has too many lines\n");

	/* Bytes: 200 exactly fine, 201 over, counted across lines. */
	char in[400];
	memset(in, 'x', sizeof in);
	memcpy(in, "250 ", 4);
	memcpy(in + 198, "\r\n", 3);
	char want[500];
	snprintf(want, sizeof want, "250 [] '%.194s' |%.194s\n", in + 4, in + 4);
	check_lim(in, &small, want);
	memcpy(in + 198, "x\r\n", 4);
	check_lim(in, &small, "X the server's reply is longer than the limit\n");
	memcpy(in, "250-", 4);
	memcpy(in + 100, "\r\n250 ", 6);
	check_lim(in, &small, "X the server's reply is longer than the limit\n");

	/* Default limits: an endless line is cut off at 64 KiB. */
	size_t n = 70000;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'y', n);
	memcpy(big, "250 ", 4);
	big[n] = '\0';
	struct buf t;
	run(big, n, NULL, 0, 4096, &t);
	assert_string_equal(t.data, "X the server's reply is longer than the limit\n");
	buf_free(&t);
	free(big);
}

static void test_ehlo(void **state)
{
	struct smtp_reply_parser *p = smtp_reply_parser_new(NULL);
	const char *in = "250-mx.example.jp Hello\r\n250-pipelining\r\n250-SIZE 52428800\r\n"
			 "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
			 "250-AUTH PLAIN\r\n250 SMTPUTF8\r\n";
	struct smtp_ehlo e;
	size_t used;
	(void)state;

	assert_int_equal(smtp_reply_feed(p, in, strlen(in), &used), SMTP_REPLY_DONE);
	assert_int_equal(used, strlen(in));
	assert_true(smtp_reply_ehlo(smtp_reply_get(p), &e));
	assert_true(e.pipelining && e.starttls && e.eightbitmime && e.smtputf8);
	assert_true(e.enhancedstatuscodes && e.size);
	assert_int_equal(e.size_max, 52428800);

	in = "250-x\r\n250 SIZE\r\n";
	assert_int_equal(smtp_reply_feed(p, in, strlen(in), &used), SMTP_REPLY_DONE);
	assert_true(smtp_reply_ehlo(smtp_reply_get(p), &e));
	assert_true(e.size && e.size_max == 0 && !e.pipelining && !e.starttls);

	in = "250-x\r\n250 SIZE 99999999999999999999999\r\n";
	assert_int_equal(smtp_reply_feed(p, in, strlen(in), &used), SMTP_REPLY_DONE);
	assert_true(smtp_reply_ehlo(smtp_reply_get(p), &e));
	assert_true(e.size && e.size_max == 0);

	/* A keyword on the greeting line does not count. */
	in = "250 PIPELINING\r\n";
	assert_int_equal(smtp_reply_feed(p, in, strlen(in), &used), SMTP_REPLY_DONE);
	assert_true(smtp_reply_ehlo(smtp_reply_get(p), &e));
	assert_false(e.pipelining);

	in = "502 5.5.1 no EHLO\r\n";
	assert_int_equal(smtp_reply_feed(p, in, strlen(in), &used), SMTP_REPLY_DONE);
	assert_false(smtp_reply_ehlo(smtp_reply_get(p), &e));
	assert_false(e.pipelining);
	smtp_reply_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_multi),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_ehlo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
