/* test_url.c — url_parse(): schemes, default ports, users (raw and
 * percent-encoded), IPv6, and every error with its message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/url.h"

static void expect_ok(const char *text, const char *scheme, const char *user, const char *host,
		      unsigned port, bool tls)
{
	struct url u;
	struct err err;

	err_clear(&err);
	if (!url_parse(text, "--old", &u, &err)) {
		print_message("'%s' failed: %s\n", text, err.msg);
		fail();
	}
	assert_string_equal(u.scheme, scheme);
	if (user == NULL)
		assert_null(u.user);
	else
		assert_string_equal(u.user, user);
	assert_string_equal(u.host, host);
	assert_int_equal(u.port, port);
	assert_int_equal(u.implicit_tls, tls);
	url_free(&u);
	assert_null(u.scheme);
	assert_null(u.host);
	assert_null(u.user);
}

/* what: the label given to url_parse; want: a substring of the message. */
static void expect_fail(const char *text, const char *what, const char *want)
{
	struct url u;
	struct err err;

	err_clear(&err);
	if (url_parse(text, what, &u, &err)) {
		print_message("'%s' parsed but should fail\n", text);
		url_free(&u);
		fail();
	}
	assert_int_equal(err.kind, ERR_KIND_USAGE);
	assert_int_equal(err.scope, ERR_SCOPE_RUN);
	/* nothing left allocated and url_free stays safe */
	assert_null(u.scheme);
	assert_null(u.user);
	assert_null(u.host);
	url_free(&u);
	if (strstr(err.msg, want) == NULL) {
		print_message("'%s': message '%s' lacks '%s'\n", text, err.msg, want);
		fail();
	}
	/* every message starts with the input's name */
	if (what != NULL)
		assert_int_equal(strncmp(err.msg, what, strlen(what)), 0);
}

static void test_default_ports(void **state)
{
	(void)state;
	expect_ok("imap://mail.example.jp", "imap", NULL, "mail.example.jp", 143, false);
	expect_ok("imaps://mail.old-host.jp", "imaps", NULL, "mail.old-host.jp", 993, true);
	expect_ok("smtp://mail.old-host.jp", "smtp", NULL, "mail.old-host.jp", 25, false);
	expect_ok("smtps://mx.example.jp", "smtps", NULL, "mx.example.jp", 465, true);
}

static void test_explicit_port_and_case(void **state)
{
	(void)state;
	expect_ok("imap://127.0.0.1:1143", "imap", NULL, "127.0.0.1", 1143, false);
	expect_ok("IMAPS://Mail.Example.JP:10993", "imaps", NULL, "Mail.Example.JP", 10993, true);
	expect_ok("SmTp://h:2525", "smtp", NULL, "h", 2525, false);
	expect_ok("imaps://h:1", "imaps", NULL, "h", 1, true);
	expect_ok("imaps://h:65535", "imaps", NULL, "h", 65535, true);
	expect_ok("smtp://mail.old-host.jp:25", "smtp", NULL, "mail.old-host.jp", 25, false);
	/* a lone trailing slash is tolerated (copied from a browser bar) */
	expect_ok("imaps://h/", "imaps", NULL, "h", 993, true);
	expect_ok("imaps://h:994/", "imaps", NULL, "h", 994, true);
	expect_ok("imap://under_score-host.example", "imap", NULL, "under_score-host.example",
		  143, false);
}

static void test_ipv6(void **state)
{
	(void)state;
	expect_ok("imap://[::1]:1143", "imap", NULL, "::1", 1143, false);
	expect_ok("imaps://[2001:db8::1]", "imaps", NULL, "2001:db8::1", 993, true);
	expect_ok("smtp://[::ffff:192.0.2.1]:25", "smtp", NULL, "::ffff:192.0.2.1", 25, false);
	expect_ok("imaps://alice@[::1]:993/", "imaps", "alice", "::1", 993, true);
}

static void test_users(void **state)
{
	(void)state;
	expect_ok("imap://alice@mail.x", "imap", "alice", "mail.x", 143, false);
	/* raw '@' in the user: the last '@' separates user from host */
	expect_ok("imaps://alice@example.jp@mail.x", "imaps", "alice@example.jp", "mail.x", 993,
		  true);
	expect_ok("imaps://a@b@c@mail.x:1993", "imaps", "a@b@c", "mail.x", 1993, true);
	/* percent-encoded '@', in either case */
	expect_ok("imap://alice%40example.jp@mail.x:143", "imap", "alice@example.jp", "mail.x",
		  143, false);
	expect_ok("imap://alice%40Example.jp@mail.x", "imap", "alice@Example.jp", "mail.x", 143,
		  false);
	expect_ok("imap://a%2fb%2Fc@h", "imap", "a/b/c", "h", 143, false);
	expect_ok("imap://%25percent@h", "imap", "%percent", "h", 143, false);
	expect_ok("imap://x%3Ay@h", "imap", "x:y", "h", 143, false);
	/* UTF-8 bytes pass through, raw or encoded */
	expect_ok("imap://%C3%A9t%C3%A9@h", "imap", "\xc3\xa9t\xc3\xa9", "h", 143, false);
}

static void test_scheme_errors(void **state)
{
	struct url u;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_false(url_parse("http://x", "--old", &u, &err));
	assert_string_equal(err.msg,
			    "--old: unknown scheme 'http' in 'http://x' (use imap:// or imaps://)");
	/* an SMTP-named input gets the SMTP hint */
	expect_fail("https://x", "mailshift.conf:7: [new] smtp",
		    "unknown scheme 'https' in 'https://x' (use smtp://, smtps:// or lmtp://)");
	expect_fail("imapx://x", "--new", "unknown scheme 'imapx'");
	expect_fail("://x", "--new", "unknown scheme ''");
	expect_fail("mail.example.jp", "--old", "no scheme in 'mail.example.jp'; write it as "
		    "imaps://mail.example.jp");
	expect_fail("mail.example.jp:993", "--old", "no scheme");
	expect_fail("imap:/h", "--old", "no scheme");
}

static void test_port_errors(void **state)
{
	(void)state;
	expect_fail("imap://h:0", "--old", "bad port '0' in 'imap://h:0'");
	expect_fail("imap://h:65536", "--old", "bad port '65536'");
	expect_fail("imap://h:99999999999999999999", "--old", "bad port");
	expect_fail("imap://h:12a", "--old", "bad port '12a'");
	expect_fail("imap://h:-1", "--old", "bad port '-1'");
	expect_fail("imap://h:", "--old", "empty port after ':'");
	expect_fail("imap://h:/", "--old", "empty port");
	expect_fail("imap://[::1]:x", "--old", "bad port 'x'");
	expect_fail("imap://h:1:2", "--old", "IPv6 addresses in brackets");
}

static void test_host_errors(void **state)
{
	(void)state;
	expect_fail("imap://", "--old", "empty host in 'imap://'");
	expect_fail("imap://:143", "--old", "empty host");
	expect_fail("imap://alice@", "--old", "empty host");
	expect_fail("imap:///", "--old", "empty host");
	expect_fail("imap://[::1", "--old", "unterminated '[' in 'imap://[::1'");
	expect_fail("imap://[::1:143", "--old", "unterminated '['");
	expect_fail("imap://[]", "--old", "empty host '[]'");
	expect_fail("imap://[zz::1]", "--old", "'[zz::1]' in 'imap://[zz::1]' is not an IPv6");
	expect_fail("imap://[192.0.2.1]", "--old", "not an IPv6 address");
	expect_fail("imap://[::1]x", "--old", "unexpected 'x' after the host");
	expect_fail("imap://::1", "--old", "write IPv6 addresses in brackets, as in "
		    "imap://[::1]:143 ('imap://::1')");
	expect_fail("smtps://::1", "--old", "as in smtps://[::1]:465");
	expect_fail("imap://2001:db8::1:143", "--old", "IPv6 addresses in brackets");
	expect_fail("imap://h$st", "--old", "bad character '$' in the host");
	expect_fail("imap://h%41", "--old", "bad character '%'");
	expect_fail("imap://h\xc3\xa9", "--old", "non-ASCII host name");
	expect_fail("imap://h/INBOX", "--old", "unexpected path '/INBOX'");
	expect_fail("imap://h:143/x", "--old", "unexpected path '/x'");
	expect_fail("imap://h?x", "--old", "bad character '?'");
}

static void test_user_errors(void **state)
{
	struct url u;
	struct err err;

	(void)state;
	expect_fail("imap://@h", "--old", "empty user name before '@'");
	expect_fail("imap://a%00b@h", "--old", "control character (%00)");
	expect_fail("imap://a%0Ab@h", "--old", "control character (%0A)");
	expect_fail("imap://a%7fb@h", "--old", "control character (%7F)");
	expect_fail("imap://a%4@h", "--old", "bad percent escape");
	expect_fail("imap://a%@h", "--old", "bad percent escape");
	expect_fail("imap://a%zz@h", "--old", "bad percent escape");
	expect_fail("imap://a%4", "--old", "bad character '%'");

	/* a password in the address is refused without echoing it */
	err_clear(&err);
	assert_false(url_parse("imaps://alice:hunter2@mail.x", "--old", &u, &err));
	assert_non_null(strstr(err.msg, "holds a password"));
	assert_null(strstr(err.msg, "hunter2"));
	assert_null(strstr(err.msg, "alice"));
}

static void test_text_errors(void **state)
{
	struct url u;
	struct err err;
	char big[3000];

	(void)state;
	expect_fail("", "--old", "empty address");
	expect_fail(NULL, "--old", "empty address");
	expect_fail("imap://h x", "--old", "space or control character");
	expect_fail(" imap://h", "--old", "space or control character");
	expect_fail("imap://h\r\n", "--old", "space or control character");
	expect_fail("imap://h\t", "--old", "space or control character");
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memcpy(big, "imap://", 7);
	expect_fail(big, "--old", "longer than 2048");

	/* a NULL label still gives a message */
	err_clear(&err);
	assert_false(url_parse("http://x", NULL, &u, &err));
	assert_string_equal(err.msg,
			    "address: unknown scheme 'http' in 'http://x' (use imap:// or imaps://)");
	url_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_ports),
		cmocka_unit_test(test_explicit_port_and_case),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_scheme_errors),
		cmocka_unit_test(test_port_errors),
		cmocka_unit_test(test_host_errors),
		cmocka_unit_test(test_user_errors),
		cmocka_unit_test(test_text_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
