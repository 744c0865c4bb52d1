/* test_smtp_cmd.c — unit tests of the SMTP command line parser: verbs,
 * paths, parameters, limits, and injection attempts (CR, LF, NUL, control
 * characters, bad UTF-8), each with the reply it maps to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "proto/smtp_cmd.h"

static struct smtp_cmd cmd;

static bool parse(const char *s, bool utf8_ok)
{
	return smtp_cmd_parse(s, strlen(s), utf8_ok, &cmd);
}

/* Parse must fail with error e and reply "code enh". */
static void bad(const char *s, bool utf8_ok, enum smtp_cmd_error e, unsigned code,
		const char *enh)
{
	assert_false(smtp_cmd_parse(s, strlen(s), utf8_ok, &cmd));
	assert_int_equal(cmd.error, e);
	assert_int_equal(cmd.reply_code, code);
	assert_string_equal(cmd.enhanced, enh);
	assert_true(cmd.text[0] != '\0');
}

static void bad_n(const char *s, size_t n, enum smtp_cmd_error e)
{
	assert_false(smtp_cmd_parse(s, n, false, &cmd));
	assert_int_equal(cmd.error, e);
}

static void test_verbs(void **state)
{
	(void)state;
	assert_true(parse("EHLO client.example.org", false));
	assert_int_equal(cmd.verb, SMTP_VERB_EHLO);
	assert_string_equal(cmd.arg, "client.example.org");
	assert_true(parse("helo  x  ", false));
	assert_int_equal(cmd.verb, SMTP_VERB_HELO);
	assert_string_equal(cmd.arg, "x");
	assert_true(parse("data", false));
	assert_int_equal(cmd.verb, SMTP_VERB_DATA);
	assert_true(parse("QUIT ", false));
	assert_int_equal(cmd.verb, SMTP_VERB_QUIT);
	assert_true(parse("RSET", false));
	assert_true(parse("StartTLS", false));
	assert_int_equal(cmd.verb, SMTP_VERB_STARTTLS);
	assert_true(parse("NOOP", false));
	assert_true(parse("NOOP hello", false));
	assert_string_equal(cmd.arg, "hello");
	assert_true(parse("HELP", false));
	assert_int_equal(cmd.verb, SMTP_VERB_HELP);
	assert_true(parse("VRFY postmaster", false));
	assert_int_equal(cmd.verb, SMTP_VERB_VRFY);
	assert_string_equal(smtp_verb_name(SMTP_VERB_RCPT), "RCPT");

	bad("EHLO", false, SMTP_CMD_ERR_SYNTAX, 501, "5.5.4");
	bad("HELO   ", false, SMTP_CMD_ERR_SYNTAX, 501, "5.5.4");
	bad("VRFY", false, SMTP_CMD_ERR_SYNTAX, 501, "5.5.4");
	bad("DATA x", false, SMTP_CMD_ERR_SYNTAX, 501, "5.5.4");
	bad("STARTTLS now", false, SMTP_CMD_ERR_SYNTAX, 501, "5.5.4");
	bad("DATAX", false, SMTP_CMD_ERR_UNKNOWN, 500, "5.5.2");
	assert_int_equal(cmd.verb, SMTP_VERB_UNKNOWN);
	bad("AUTH PLAIN x", false, SMTP_CMD_ERR_UNKNOWN, 500, "5.5.2");
	bad("", false, SMTP_CMD_ERR_UNKNOWN, 500, "5.5.2");
	bad(" DATA", false, SMTP_CMD_ERR_UNKNOWN, 500, "5.5.2");
	bad("GET / HTTP/1.0", false, SMTP_CMD_ERR_UNKNOWN, 500, "5.5.2");
}

static void test_mail(void **state)
{
	(void)state;
	assert_true(parse("MAIL FROM:<alice@example.org>", false));
	assert_int_equal(cmd.verb, SMTP_VERB_MAIL);
	assert_string_equal(cmd.addr, "alice@example.org");
	assert_string_equal(cmd.local, "alice");
	assert_string_equal(cmd.domain, "example.org");
	assert_false(cmd.null_path);
	assert_false(cmd.has_size);

	assert_true(parse("mail from:<>", false));
	assert_true(cmd.null_path);
	assert_string_equal(cmd.addr, "");

	assert_true(parse("MAIL FROM: <a.b+c@x-y.example> SIZE=12345 BODY=8bitmime", false));
	assert_string_equal(cmd.addr, "a.b+c@x-y.example");
	assert_true(cmd.has_size);
	assert_int_equal(cmd.size, 12345);
	assert_int_equal(cmd.body, SMTP_BODY_8BITMIME);
	assert_false(cmd.smtputf8);

	assert_true(parse("MAIL FROM:<a@b> BODY=7BIT SIZE=18446744073709551615", false));
	assert_int_equal(cmd.body, SMTP_BODY_7BIT);
	assert_true(cmd.size == UINT64_MAX);

	/* Quoted local part: addr keeps the quotes, local is decoded. */
	assert_true(parse("MAIL FROM:<\"john \\\"q\\\" doe\"@example.org>", false));
	assert_string_equal(cmd.addr, "\"john \\\"q\\\" doe\"@example.org");
	assert_string_equal(cmd.local, "john \"q\" doe");

	/* Source route: checked and dropped. */
	assert_true(parse("MAIL FROM:<@a.example,@b.example:u@d.example>", false));
	assert_string_equal(cmd.addr, "u@d.example");
	assert_string_equal(cmd.domain, "d.example");

	/* Address literals. */
	assert_true(parse("MAIL FROM:<u@[192.0.2.1]>", false));
	assert_string_equal(cmd.domain, "[192.0.2.1]");
	assert_true(parse("MAIL FROM:<u@[IPv6:2001:db8::1]>", false));
	assert_true(parse("MAIL FROM:<u@[x-tag:stuff]>", false));
	bad("MAIL FROM:<u@[192.0.2.300]>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<u@[IPv6:zz::1]>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<u@[]>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");

	/* Syntax. */
	bad("MAIL FROM:alice@example.org", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<alice@example.org", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<alice>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<.a@b>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<a..b@c>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<a.@c>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<a@-c.example>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<a@c-.example>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<a@c..example>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<a@c.example.>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<a b@c>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<a@b@c>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<\"unterminated@c>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<@a:>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL FROM:<Postmaster>", false, SMTP_CMD_ERR_BAD_SENDER, 501, "5.1.7");
	bad("MAIL TO:<a@b>", false, SMTP_CMD_ERR_SYNTAX, 501, "5.5.4");
	bad("MAIL", false, SMTP_CMD_ERR_SYNTAX, 501, "5.5.4");
	bad("MAIL FROM:<a@b>SIZE=1", false, SMTP_CMD_ERR_SYNTAX, 501, "5.5.4");

	/* Parameters. */
	bad("MAIL FROM:<a@b> AUTH=<>", false, SMTP_CMD_ERR_PARAM_UNKNOWN, 555, "5.5.4");
	bad("MAIL FROM:<a@b> RET=HDRS", false, SMTP_CMD_ERR_PARAM_UNKNOWN, 555, "5.5.4");
	bad("MAIL FROM:<a@b> SIZE=12a", false, SMTP_CMD_ERR_PARAM_BAD, 501, "5.5.4");
	bad("MAIL FROM:<a@b> SIZE=", false, SMTP_CMD_ERR_PARAM_BAD, 501, "5.5.4");
	bad("MAIL FROM:<a@b> SIZE", false, SMTP_CMD_ERR_PARAM_BAD, 501, "5.5.4");
	bad("MAIL FROM:<a@b> SIZE=18446744073709551616", false, SMTP_CMD_ERR_PARAM_BAD, 501, "5.5.4");
	bad("MAIL FROM:<a@b> SIZE=1 SIZE=2", false, SMTP_CMD_ERR_PARAM_BAD, 501, "5.5.4");
	bad("MAIL FROM:<a@b> BODY=BINARYMIME", false, SMTP_CMD_ERR_PARAM_BAD, 501, "5.5.4");
	bad("MAIL FROM:<a@b> SMTPUTF8=yes", false, SMTP_CMD_ERR_PARAM_BAD, 501, "5.5.4");
	bad("MAIL FROM:<a@b> =x", false, SMTP_CMD_ERR_PARAM_BAD, 501, "5.5.4");
}

static void test_rcpt(void **state)
{
	(void)state;
	assert_true(parse("RCPT TO:<bob@example.jp>", false));
	assert_int_equal(cmd.verb, SMTP_VERB_RCPT);
	assert_string_equal(cmd.addr, "bob@example.jp");
	assert_true(parse("rcpt to:<Postmaster>", false));
	assert_string_equal(cmd.addr, "Postmaster");
	assert_string_equal(cmd.domain, "");
	assert_true(parse("RCPT TO:<bob@example.jp>  ", false));

	bad("RCPT TO:<>", false, SMTP_CMD_ERR_BAD_RCPT, 501, "5.1.3");
	bad("RCPT TO:<bob>", false, SMTP_CMD_ERR_BAD_RCPT, 501, "5.1.3");
	bad("RCPT TO:bob@example.jp", false, SMTP_CMD_ERR_BAD_RCPT, 501, "5.1.3");
	bad("RCPT FROM:<bob@example.jp>", false, SMTP_CMD_ERR_SYNTAX, 501, "5.5.4");
	bad("RCPT TO:<bob@example.jp> NOTIFY=NEVER", false, SMTP_CMD_ERR_PARAM_UNKNOWN, 555, "5.5.4");
	bad("RCPT TO:<bob@example.jp> SIZE=1", false, SMTP_CMD_ERR_PARAM_UNKNOWN, 555, "5.5.4");
}

static void test_utf8(void **state)
{
	(void)state;
	const char *m = "MAIL FROM:<\xe7\x94\xb0\xe4\xb8\xad@\xe4\xbe\x8b.jp> SMTPUTF8";
	assert_true(parse(m, false));
	assert_true(cmd.smtputf8);
	assert_true(cmd.utf8_addr);
	assert_string_equal(cmd.local, "\xe7\x94\xb0\xe4\xb8\xad");
	bad("MAIL FROM:<\xe7\x94\xb0@example.jp>", false, SMTP_CMD_ERR_UTF8, 553, "5.6.7");
	assert_true(parse("RCPT TO:<\xe7\x94\xb0@example.jp>", true));
	assert_true(cmd.utf8_addr);
	bad("RCPT TO:<\xe7\x94\xb0@example.jp>", false, SMTP_CMD_ERR_UTF8, 553, "5.6.7");
	/* Quoted local part with UTF-8. */
	assert_true(parse("RCPT TO:<\"\xc3\xa9 x\"@example.jp>", true));
	assert_string_equal(cmd.local, "\xc3\xa9 x");
	/* Malformed UTF-8: overlong '/', surrogate, lone continuation, 0xFF. */
	bad("RCPT TO:<\xc0\xaf@example.jp>", true, SMTP_CMD_ERR_BAD_CHAR, 500, "5.5.2");
	bad("RCPT TO:<\xed\xa0\x80@example.jp>", true, SMTP_CMD_ERR_BAD_CHAR, 500, "5.5.2");
	bad("RCPT TO:<\x80@example.jp>", true, SMTP_CMD_ERR_BAD_CHAR, 500, "5.5.2");
	bad("RCPT TO:<a@example.jp\xff>", true, SMTP_CMD_ERR_BAD_CHAR, 500, "5.5.2");
	bad("RCPT TO:<a@example.jp\xe7\x94>", true, SMTP_CMD_ERR_BAD_CHAR, 500, "5.5.2");
}

static void test_injection(void **state)
{
	(void)state;
	/* Anything that could end a line or a header inside one command. */
	bad("RCPT TO:<a@b>\r\nDATA", false, SMTP_CMD_ERR_BAD_CHAR, 500, "5.5.2");
	bad("RCPT TO:<a@b>\nDATA", false, SMTP_CMD_ERR_BAD_CHAR, 500, "5.5.2");
	bad("RCPT TO:<a\r@b>", false, SMTP_CMD_ERR_BAD_CHAR, 500, "5.5.2");
	bad("MAIL FROM:<\"a\rX-Evil: 1\"@b>", false, SMTP_CMD_ERR_BAD_CHAR, 500, "5.5.2");
	bad("MAIL FROM:<a@b>\r", false, SMTP_CMD_ERR_BAD_CHAR, 500, "5.5.2");
	bad("EHLO x\tY", false, SMTP_CMD_ERR_BAD_CHAR, 500, "5.5.2");
	bad("EHLO x\x7f", false, SMTP_CMD_ERR_BAD_CHAR, 500, "5.5.2");
	bad("EHLO x\x1b[31m", false, SMTP_CMD_ERR_BAD_CHAR, 500, "5.5.2");
	bad_n("RCPT TO:<a\0@b>", 14, SMTP_CMD_ERR_BAD_CHAR);
	bad_n("DATA\0", 5, SMTP_CMD_ERR_BAD_CHAR);
	bad_n("EHLO x\0\r\nRCPT TO:<v@w>", 22, SMTP_CMD_ERR_BAD_CHAR);
	/* A quoted pair cannot smuggle a control character either. */
	bad("RCPT TO:<\"a\\\x01\"@b>", false, SMTP_CMD_ERR_BAD_CHAR, 500, "5.5.2");
	/* '>' inside a quoted local part does not close the path. */
	assert_true(parse("RCPT TO:<\"a>b\"@c.example>", false));
	assert_string_equal(cmd.addr, "\"a>b\"@c.example");
}

static void test_limits(void **state)
{
	char line[700], local[80], dom[300];
	(void)state;

	/* 510 octets is the longest line. */
	memset(line, 'x', sizeof line);
	memcpy(line, "NOOP ", 5);
	assert_true(smtp_cmd_parse(line, 510, false, &cmd));
	assert_int_equal(strlen(cmd.arg), 505);
	bad_n(line, 511, SMTP_CMD_ERR_TOO_LONG);
	assert_int_equal(cmd.reply_code, 500);

	/* Local part: 64 ok, 65 too long (also when quoted). */
	memset(local, 'l', 64);
	local[64] = '\0';
	snprintf(line, sizeof line, "RCPT TO:<%s@example.jp>", local);
	assert_true(parse(line, false));
	assert_int_equal(strlen(cmd.local), 64);
	snprintf(line, sizeof line, "RCPT TO:<%sl@example.jp>", local);
	bad(line, false, SMTP_CMD_ERR_TOO_LONG_PATH, 501, "5.1.3");
	snprintf(line, sizeof line, "MAIL FROM:<\"%s\"@example.jp>", local + 2);
	assert_true(parse(line, false));
	snprintf(line, sizeof line, "MAIL FROM:<\"%s\"@example.jp>", local + 1);
	bad(line, false, SMTP_CMD_ERR_TOO_LONG_PATH, 501, "5.1.7");

	/* Label 63 ok, 64 not. */
	memset(dom, 'd', 64);
	dom[64] = '\0';
	snprintf(line, sizeof line, "RCPT TO:<a@%s.jp>", dom + 1);
	assert_true(parse(line, false));
	snprintf(line, sizeof line, "RCPT TO:<a@%s.jp>", dom);
	bad(line, false, SMTP_CMD_ERR_BAD_RCPT, 501, "5.1.3");

	/* Path 256 with brackets ok, 257 not: a 248-octet domain of labels. */
	size_t n = 0;
	while (n + 50 < 246) {
		memset(dom + n, 'd', 49);
		dom[n + 49] = '.';
		n += 50;
	}
	memset(dom + n, 'e', 246 - n);
	dom[246] = '\0';
	/* "<" + "abcdefg" + "@" + 246 + ">" = 256 */
	snprintf(line, sizeof line, "RCPT TO:<abcdefg@%s>", dom);
	assert_true(parse(line, false));
	assert_int_equal(strlen(cmd.addr), 254);
	snprintf(line, sizeof line, "RCPT TO:<abcdefgh@%s>", dom);
	bad(line, false, SMTP_CMD_ERR_TOO_LONG_PATH, 501, "5.1.3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
