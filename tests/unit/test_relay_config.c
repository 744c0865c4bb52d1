/* test_relay_config.c — [relay] settings: the new keys reach struct
 * config_relay without an "unknown key" warning, relay_settings_load turns
 * them into numbers and URLs with the documented defaults, and every bad
 * value (including ones config_parse never lets through, set by hand here)
 * is an error that names the key and says what is allowed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/config.h"
#include "relay/relay_config.h"
#include "relay/smtp_client.h"

static void assert_contains(const char *hay, const char *needle)
{
	if (hay == NULL || strstr(hay, needle) == NULL) {
		print_message("'%s'\n  does not contain '%s'\n", hay ? hay : "(null)", needle);
		fail();
	}
}

/* stderr capture, to prove the new keys raise no warning */
static int saved_stderr = -1;
static FILE *capture_file;

static void capture_start(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	assert_non_null(capture_file);
	saved_stderr = dup(2);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fileno(capture_file), 2) >= 0);
}

static char *capture_end(void)
{
	char *s;
	long n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	n = ftell(capture_file);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	rewind(capture_file);
	if (n > 0)
		assert_int_equal(fread(s, 1, (size_t)n, capture_file), (size_t)n);
	fclose(capture_file);
	return s;
}

static const char base_conf[] =
	"[migration]\ndomains = example.jp\n"
	"[old]\nsmtp = smtp://old.example.jp:2525\n"
	"[new]\nsmtp = smtps://new.example.jp\n";

static struct config *parse(const char *text)
{
	struct err err;
	struct config *c = config_parse("/etc/mailshift/t.conf", text, strlen(text), &err);

	if (c == NULL)
		print_message("parse failed: %s\n", err.msg);
	assert_non_null(c);
	return c;
}

static void test_parse_size_duration(void **state)
{
	uint64_t sz = 0;
	int64_t d = 0;

	(void)state;
	assert_true(relay_parse_size("50M", &sz));
	assert_true(sz == UINT64_C(50) * 1024 * 1024);
	assert_true(relay_parse_size("1k", &sz));
	assert_true(sz == 1024);
	assert_true(relay_parse_size("123", &sz));
	assert_true(sz == 123);
	assert_true(relay_parse_size("1024G", &sz));
	assert_true(sz == UINT64_C(1) << 40);
	assert_false(relay_parse_size("1025G", &sz));
	assert_false(relay_parse_size("50Q", &sz));
	assert_false(relay_parse_size("", &sz));
	assert_false(relay_parse_size("0", &sz));
	assert_false(relay_parse_size("5 M", &sz));
	assert_false(relay_parse_size("-5", &sz));
	assert_false(relay_parse_size("99999999999999999999999", &sz));
	assert_false(relay_parse_size(NULL, &sz));

	assert_true(relay_parse_duration("5d", &d));
	assert_int_equal(d, 5 * 86400);
	assert_true(relay_parse_duration("90", &d));
	assert_int_equal(d, 90);
	assert_true(relay_parse_duration("15m", &d));
	assert_int_equal(d, 900);
	assert_true(relay_parse_duration("2H", &d));
	assert_int_equal(d, 7200);
	assert_true(relay_parse_duration("300s", &d));
	assert_int_equal(d, 300);
	assert_true(relay_parse_duration("1w", &d));
	assert_int_equal(d, 7 * 86400);
	assert_false(relay_parse_duration("5x", &d));
	assert_false(relay_parse_duration("0", &d));
	assert_false(relay_parse_duration("m", &d));
	assert_false(relay_parse_duration("5dd", &d));
	assert_false(relay_parse_duration("9999d", &d));   /* over ten years */
	assert_false(relay_parse_duration("99999999999999999999999", &d));
}

static void test_defaults(void **state)
{
	struct config *c = parse(base_conf);
	struct relay_settings s;
	struct err err;

	(void)state;
	assert_true(relay_settings_load(c, &s, &err));
	/* config.c's documented default for listen wins over the header's */
	assert_int_equal(s.nlisten, 1);
	assert_string_equal(s.listen[0].host, "0.0.0.0");
	assert_int_equal(s.listen[0].port, 25);
	assert_null(s.hostname);
	assert_null(s.user);
	assert_string_equal(s.spool, "/var/spool/mailshift");
	assert_false(s.keep_old_copy);
	assert_true(s.max_message_size == UINT64_C(50) * 1024 * 1024);
	assert_int_equal(s.queue_lifetime, 5 * 86400);
	assert_int_equal(s.nretry, 4);
	assert_int_equal(s.retry[0], 60);
	assert_int_equal(s.retry[1], 300);
	assert_int_equal(s.retry[2], 900);
	assert_int_equal(s.retry[3], 3600);
	assert_null(s.tls_cert);
	assert_null(s.tls_key);
	assert_int_equal(s.max_connections, 200);
	assert_int_equal(s.max_per_client, 50);
	assert_int_equal(s.max_recipients, 1000);
	assert_int_equal(s.concurrency, 10);
	assert_int_equal(s.timeout, 300);
	assert_int_equal(s.data_timeout, 600);
	assert_string_equal(s.old_smtp.host, "old.example.jp");
	assert_int_equal(s.old_smtp.port, 2525);
	assert_false(s.old_smtp.implicit_tls);
	assert_string_equal(s.new_smtp.host, "new.example.jp");
	assert_int_equal(s.new_smtp.port, 465);
	assert_true(s.new_smtp.implicit_tls);
	/* bounce relay: the primary's (old by default) */
	assert_string_equal(s.bounce_relay.host, "old.example.jp");
	assert_int_equal(s.bounce_relay.port, 2525);
	assert_int_equal(s.smtp_tls_old, SMTP_TLS_MAY);
	assert_int_equal(s.smtp_tls_new, SMTP_TLS_MAY);
	assert_true(s.verify_old);
	assert_true(s.verify_new);
	assert_null(s.ca_old);
	assert_null(s.ca_new);
	relay_settings_free(&s);
	assert_null(s.listen);
	relay_settings_free(&s);        /* twice is harmless */
	config_free(&c);
}

static void test_all_keys(void **state)
{
	static const char text[] =
		"[migration]\ndomains = example.jp\n"
		"[old]\nsmtp = smtp://old.example.jp\ntls = none\nca_file = old-ca.pem\n"
		"[new]\nsmtp = smtp://new.example.jp:587\nca_file = /etc/ca/new.pem\n"
		"[relay]\n"
		"listen = 127.0.0.1:2525, [::1]:2526 ,localhost:25\n"
		"hostname = mx1.example.jp\n"
		"spool = spool\n"
		"user = mailshift\n"
		"primary = new\n"
		"keep_old_copy = YES\n"
		"max_message_size = 10k\n"
		"queue_lifetime = 2h\n"
		"retry_intervals = 30s, 2m,1h\n"
		"tls_cert = c.pem\n"
		"tls_key = k.pem\n"
		"max_connections = 50\n"
		"max_per_client = 5\n"
		"timeout = 1m\n"
		"data_timeout = 20m\n"
		"max_recipients = 100\n"
		"concurrency = 3\n"
		"smtp_tls = Require\n";
	struct config *c;
	struct relay_settings s;
	struct err err;
	char *warnings;

	(void)state;
	capture_start();
	c = parse(text);
	warnings = capture_end();
	assert_string_equal(warnings, "");      /* no "unknown key" for the new keys */
	free(warnings);
	/* raw strings as config.c keeps them */
	assert_string_equal(c->relay.retry_intervals, "30s, 2m,1h");
	assert_string_equal(c->relay.max_connections, "50");
	assert_string_equal(c->relay.timeout, "1m");
	assert_string_equal(c->relay.smtp_tls, "require");
	assert_null(c->relay.bounce_relay);

	assert_true(relay_settings_load(c, &s, &err));
	assert_int_equal(s.nlisten, 3);
	assert_string_equal(s.listen[0].host, "127.0.0.1");
	assert_int_equal(s.listen[0].port, 2525);
	assert_string_equal(s.listen[1].host, "::1");
	assert_int_equal(s.listen[1].port, 2526);
	assert_string_equal(s.listen[2].host, "localhost");
	assert_int_equal(s.listen[2].port, 25);
	assert_string_equal(s.hostname, "mx1.example.jp");
	assert_string_equal(s.spool, "/etc/mailshift/spool");
	assert_string_equal(s.user, "mailshift");
	assert_true(s.keep_old_copy);
	assert_true(s.max_message_size == 10240);
	assert_int_equal(s.queue_lifetime, 7200);
	assert_int_equal(s.nretry, 3);
	assert_int_equal(s.retry[0], 30);
	assert_int_equal(s.retry[1], 120);
	assert_int_equal(s.retry[2], 3600);
	assert_string_equal(s.tls_cert, "/etc/mailshift/c.pem");
	assert_string_equal(s.tls_key, "/etc/mailshift/k.pem");
	assert_int_equal(s.max_connections, 50);
	assert_int_equal(s.max_per_client, 5);
	assert_int_equal(s.timeout, 60);
	assert_int_equal(s.data_timeout, 1200);
	assert_int_equal(s.max_recipients, 100);
	assert_int_equal(s.concurrency, 3);
	/* primary = new: bounces go through new's smtp */
	assert_string_equal(s.bounce_relay.host, "new.example.jp");
	assert_int_equal(s.bounce_relay.port, 587);
	/* explicit smtp_tls applies to both; tls = none still drops verification */
	assert_int_equal(s.smtp_tls_old, SMTP_TLS_REQUIRE);
	assert_int_equal(s.smtp_tls_new, SMTP_TLS_REQUIRE);
	assert_false(s.verify_old);
	assert_true(s.verify_new);
	assert_string_equal(s.ca_old, "/etc/mailshift/old-ca.pem");
	assert_string_equal(s.ca_new, "/etc/ca/new.pem");
	relay_settings_free(&s);
	config_free(&c);
}

static void test_bounce_relay_and_tls_none(void **state)
{
	static const char text[] =
		"[migration]\ndomains = example.jp\n"
		"[old]\nsmtp = smtp://127.0.0.1:2501\ntls = none\n"
		"[new]\nsmtp = smtp://127.0.0.1:2502\n"
		"[relay]\nbounce_relay = smtp://[::1]:2600\n";
	struct config *c = parse(text);
	struct relay_settings s;
	struct err err;

	(void)state;
	assert_true(relay_settings_load(c, &s, &err));
	assert_string_equal(s.bounce_relay.host, "::1");
	assert_int_equal(s.bounce_relay.port, 2600);
	/* default smtp_tls: may, but none for a server with tls = none */
	assert_int_equal(s.smtp_tls_old, SMTP_TLS_NONE);
	assert_int_equal(s.smtp_tls_new, SMTP_TLS_MAY);
	relay_settings_free(&s);
	config_free(&c);
}

/* config_parse refuses bad values of the new keys with file:line */
static void test_config_rejects(void **state)
{
	static const struct {
		const char *line;
		const char *msg;
	} cases[] = {
		{ "max_connections = 0", "t.conf:8: [relay] max_connections = '0' is not allowed; "
		  "use a whole number from 1 to 1000000" },
		{ "max_per_client = lots", "max_per_client = 'lots' is not allowed" },
		{ "concurrency = 1000001", "concurrency = '1000001' is not allowed" },
		{ "max_recipients =", "max_recipients = '' is not allowed" },
		{ "timeout = 5y", "[relay] timeout = '5y' is not a duration" },
		{ "data_timeout = 0", "data_timeout = '0' is not a duration" },
		{ "retry_intervals = 1m,,5m", "retry_intervals = '1m,,5m' is not a list of durations" },
		{ "retry_intervals = 1m, soon", "is not a list of durations" },
		{ "smtp_tls = always", "smtp_tls = 'always' is not allowed; use one of: may, "
		  "require, none" },
		{ "bounce_relay = imap://x", "bounce_relay" },
		{ "listen = 127.0.0.1:25,", "is not an address to listen on" },
		{ "listen = 127.0.0.1:25, [::1]", "is not an address to listen on" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *text = xasprintf("%s[relay]\n%s\n", base_conf, cases[i].line);
		struct err err;
		struct config *c = config_parse("t.conf", text, strlen(text), &err);

		if (c != NULL)
			print_message("accepted: %s\n", cases[i].line);
		assert_null(c);
		assert_contains(err.msg, cases[i].msg);
		free(text);
	}
}

static void replace(char **slot, const char *v)
{
	free(*slot);
	*slot = v != NULL ? xstrdup(v) : NULL;
}

/* Values config_parse would never let through, set by hand: the loader
 * checks again and names the key. */
static void test_load_rejects(void **state)
{
	static const struct {
		size_t off;
		const char *val;
		const char *msg;
	} cases[] = {
		{ offsetof(struct config_relay, max_message_size), "50Q",
		  "t.conf: [relay] max_message_size = 50Q: not a size" },
		{ offsetof(struct config_relay, queue_lifetime), "forever",
		  "[relay] queue_lifetime = forever: not a duration" },
		{ offsetof(struct config_relay, retry_intervals), "1m,x",
		  "[relay] retry_intervals = 1m,x: not a list of durations" },
		{ offsetof(struct config_relay, retry_intervals),
		  "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,"
		  "1s,1s,1s,1s,1s,1s", "too many intervals" },
		{ offsetof(struct config_relay, listen), "0.0.0.0",
		  "[relay] listen = 0.0.0.0: '0.0.0.0' is not an address to listen on" },
		{ offsetof(struct config_relay, listen), "[::1:25", "not an address to listen on" },
		{ offsetof(struct config_relay, listen), "[nothost]:25", "not an address to listen" },
		{ offsetof(struct config_relay, listen), "a b:25", "not an address to listen on" },
		{ offsetof(struct config_relay, listen), "h:70000", "not an address to listen on" },
		{ offsetof(struct config_relay, keep_old_copy), "maybe",
		  "[relay] keep_old_copy = maybe is not allowed; use one of: yes, no" },
		{ offsetof(struct config_relay, max_connections), "-1",
		  "[relay] max_connections = -1: not allowed; use a whole number from 1" },
		{ offsetof(struct config_relay, concurrency), "",
		  "[relay] concurrency = : not allowed" },
		{ offsetof(struct config_relay, timeout), "1 m", "[relay] timeout = 1 m: not a duration" },
		{ offsetof(struct config_relay, data_timeout), "0s", "data_timeout = 0s: not a duration" },
		{ offsetof(struct config_relay, smtp_tls), "sometimes",
		  "[relay] smtp_tls = sometimes is not allowed; use one of: may, require, none" },
		{ offsetof(struct config_relay, bounce_relay), "imaps://x",
		  "[relay] bounce_relay = imaps://x is not an SMTP address" },
		{ offsetof(struct config_relay, bounce_relay), "smtp://",
		  "[relay] bounce_relay" },
		{ offsetof(struct config_relay, tls_cert), "/c.pem",
		  "tls_cert and tls_key go together" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct config *c = parse(base_conf);
		struct relay_settings s;
		struct err err;

		replace(&c->path, "t.conf");
		replace((char **)(void *)((char *)&c->relay + cases[i].off), cases[i].val);
		memset(&s, 0x5a, sizeof s);
		if (relay_settings_load(c, &s, &err)) {
			print_message("accepted case %zu: %s\n", i, cases[i].val);
			fail();
		}
		assert_contains(err.msg, cases[i].msg);
		assert_int_equal(err.kind, ERR_KIND_CONFIG);
		/* nothing to free after a failure */
		assert_null(s.listen);
		assert_null(s.spool);
		config_free(&c);
	}
}

static void test_missing_smtp(void **state)
{
	static const char no_old[] =
		"[migration]\ndomains = example.jp\n[new]\nsmtp = smtp://new.example.jp\n";
	static const char no_new[] =
		"[migration]\ndomains = example.jp\n[old]\nsmtp = smtp://old.example.jp\n";
	struct config *c;
	struct relay_settings s;
	struct err err;

	(void)state;
	c = parse(no_old);
	assert_false(relay_settings_load(c, &s, &err));
	assert_contains(err.msg, "[old] smtp is not set");
	assert_contains(err.msg, "under [old]");
	config_free(&c);
	c = parse(no_new);
	assert_false(relay_settings_load(c, &s, &err));
	assert_contains(err.msg, "[new] smtp is not set");
	config_free(&c);

	/* a hand-built smtp value of the wrong kind */
	c = parse(base_conf);
	replace(&c->old_server.smtp, "imaps://old.example.jp");
	assert_false(relay_settings_load(c, &s, &err));
	assert_contains(err.msg, "[old] smtp = imaps://old.example.jp is not an SMTP address");
	config_free(&c);
}

/* A struct config built by hand with every relay key NULL gets the
 * header's defaults (listen 127.0.0.1:25 here: config.c fills in its own
 * 0.0.0.0:25 before this point). */
static void test_hand_built_nulls(void **state)
{
	struct config *c = xcalloc(1, sizeof *c);
	struct relay_settings s;
	struct err err;

	(void)state;
	c->old_server.smtp = xstrdup("smtp://o.example");
	c->new_server.smtp = xstrdup("smtp://n.example");
	assert_true(relay_settings_load(c, &s, &err));
	assert_int_equal(s.nlisten, 1);
	assert_string_equal(s.listen[0].host, "127.0.0.1");
	assert_int_equal(s.listen[0].port, 25);
	assert_string_equal(s.spool, "/var/spool/mailshift");
	assert_true(s.max_message_size == UINT64_C(50) * 1024 * 1024);
	assert_int_equal(s.nretry, 4);
	assert_int_equal(s.max_connections, 200);
	assert_string_equal(s.bounce_relay.host, "o.example");
	relay_settings_free(&s);
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size_duration),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_bounce_relay_and_tls_none),
		cmocka_unit_test(test_config_rejects),
		cmocka_unit_test(test_load_rejects),
		cmocka_unit_test(test_missing_smtp),
		cmocka_unit_test(test_hand_built_nulls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
