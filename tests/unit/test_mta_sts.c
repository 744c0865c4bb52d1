/* test_mta_sts.c — the MTA-STS policy parser (RFC 8461 §3.2), each
 * malformed case with the line it names, and the mx: match of §4.1. The
 * fetch is tested against a real HTTPS server in t_dns_check.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "dns/mta_sts.h"

static void good(void **state)
{
	static const char text[] = "version: STSv1\r\nmode: enforce\r\nmx: mx.new-host.test\r\n"
				   "mx: *.old-host.test\r\nmax_age: 604800\r\n";
	struct mta_sts_policy p;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_true(mta_sts_parse(text, strlen(text), &p, &err));
	assert_int_equal(p.mode, MTA_STS_ENFORCE);
	assert_int_equal(p.max_age, 604800);
	assert_int_equal(p.n_mx, 2);
	assert_string_equal(p.mx[0], "mx.new-host.test");
	assert_string_equal(p.mx[1], "*.old-host.test");
	assert_string_equal(mta_sts_covers(&p, "MX.New-Host.test."), "mx.new-host.test");
	assert_string_equal(mta_sts_covers(&p, "mail.old-host.test"), "*.old-host.test");
	assert_null(mta_sts_covers(&p, "old-host.test"));
	assert_null(mta_sts_covers(&p, "mx.other.test"));
	mta_sts_policy_free(&p);
	assert_null(p.mx);
}

static void good_variants(void **state)
{
	/* LF only, no final newline, tabs around values, extension ignored,
	 * trailing empty lines, max_age bounds, mode none without mx */
	static const char *const ok[] = {
		"version: STSv1\nmode: testing\nmx: a.test\nmax_age: 0",
		"version:\tSTSv1 \nmode:testing\nmx:  a.test\t\nmax_age: 31557600\n\n\n",
		"mode: enforce\nmx: a.test\nmax_age: 86400\nversion: STSv1\nfoo_bar.x-y: anything\n",
		"version: STSv1\nmode: none\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmx: a.test.\nmax_age: 0000000001\n",
	};
	struct mta_sts_policy p;
	struct err err;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		err_clear(&err);
		if (!mta_sts_parse(ok[i], strlen(ok[i]), &p, &err))
			fail_msg("case %zu refused: %s", i, err.msg);
		mta_sts_policy_free(&p);
	}
	err_clear(&err);
	assert_true(mta_sts_parse(ok[1], strlen(ok[1]), &p, &err));
	assert_int_equal(p.mode, MTA_STS_TESTING);
	assert_int_equal(p.max_age, 31557600);
	assert_string_equal(p.mx[0], "a.test");
	mta_sts_policy_free(&p);
	assert_true(mta_sts_parse(ok[3], strlen(ok[3]), &p, &err));
	assert_int_equal(p.mode, MTA_STS_NONE);
	assert_int_equal(p.n_mx, 0);
	mta_sts_policy_free(&p);
}

struct bad_case {
	const char *text;
	const char *msg;        /* expected in the error */
};

static void malformed(void **state)
{
	static const struct bad_case bad[] = {
		{ "version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n", "line 1: version 'STSv2'" },
		{ "version: stsv1\nmode: enforce\nmx: a.test\nmax_age: 1\n", "line 1: version" },
		{ "version: STSv1\nmode: Enforce\nmx: a.test\nmax_age: 1\n", "line 2: mode 'Enforce'" },
		{ "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557601\n",
		  "line 4: max_age '31557601' is over" },
		{ "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 99999999999\n",
		  "line 4: max_age '99999999999' is not 1 to 10 digits" },
		{ "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n", "line 4: max_age '-1'" },
		{ "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: \n", "line 4: max_age ''" },
		{ "version: STSv1\nmode: enforce\nmx: a..test\nmax_age: 1\n", "line 3: mx 'a..test'" },
		{ "version: STSv1\nmode: enforce\nmx: *a.test\nmax_age: 1\n", "line 3: mx '*a.test'" },
		{ "version: STSv1\nmode: enforce\nmx: a.*.test\nmax_age: 1\n", "line 3: mx" },
		{ "version: STSv1\nmode: enforce\nmx: -a.test\nmax_age: 1\n", "line 3: mx" },
		{ "version: STSv1\nmode: enforce\nmx: *.\nmax_age: 1\n", "line 3: mx" },
		{ "version: STSv1\nmode: enforce\nmx:\nmax_age: 1\n", "line 3: mx ''" },
		{ "version: STSv1\nversion: STSv1\nmode: enforce\nmx: a.test\nmax_age: 1\n",
		  "line 2: version: appears twice" },
		{ "version: STSv1\nmode: enforce\nmode: testing\nmx: a.test\nmax_age: 1\n",
		  "line 3: mode: appears twice" },
		{ "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 1\nmax_age: 2\n",
		  "line 5: max_age: appears twice" },
		{ "version: STSv1\nmode: enforce\nmx a.test\nmax_age: 1\n", "line 3: 'mx a.test' is not key: value" },
		{ "version: STSv1\n mode: enforce\nmx: a.test\nmax_age: 1\n", "line 2: ' mode' is not a field name" },
		{ "version: STSv1\nmode: enforce\n\nmx: a.test\nmax_age: 1\n",
		  "line 4: a field after the empty line 3" },
		{ "version: STSv1\nmode: enforce\rmx: a.test\nmax_age: 1\n", "line 2: a stray CR" },
		{ "mode: enforce\nmx: a.test\nmax_age: 1\n", "version: is missing" },
		{ "version: STSv1\nmx: a.test\nmax_age: 1\n", "mode: is missing" },
		{ "version: STSv1\nmode: enforce\nmx: a.test\n", "max_age: is missing" },
		{ "version: STSv1\nmode: enforce\nmax_age: 1\n", "mode enforce without any mx:" },
		{ "version: STSv1\nmode: testing\nmax_age: 1\n", "mode testing without any mx:" },
		{ "", "version: is missing" },
		{ "<html>404</html>\n", "line 1: '<html>404</html>' is not key: value" },
	};
	struct mta_sts_policy p;
	struct err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&err);
		if (mta_sts_parse(bad[i].text, strlen(bad[i].text), &p, &err)) {
			mta_sts_policy_free(&p);
			fail_msg("case %zu accepted: %s", i, bad[i].text);
		}
		if (strstr(err.msg, bad[i].msg) == NULL)
			fail_msg("case %zu: '%s' not in '%s'", i, bad[i].msg, err.msg);
		assert_null(p.mx);
		assert_int_equal(p.n_mx, 0);
	}
}

static void nul_byte(void **state)
{
	static const char text[] = "version: STSv1\nmode: enforce\nmx: a.te\0st\nmax_age: 1\n";
	struct mta_sts_policy p;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_false(mta_sts_parse(text, sizeof(text) - 1, &p, &err));
	assert_non_null(strstr(err.msg, "line 3: a stray CR or NUL byte"));
}

static void wildcard(void **state)
{
	(void)state;
	assert_true(mta_sts_mx_match("*.example.com", "mx.example.com"));
	assert_true(mta_sts_mx_match("*.example.com", "MX1.Example.COM."));
	assert_true(mta_sts_mx_match("*.example.com.", "mx.example.com"));
	assert_false(mta_sts_mx_match("*.example.com", "example.com"));
	assert_false(mta_sts_mx_match("*.example.com", "a.b.example.com"));
	assert_false(mta_sts_mx_match("*.example.com", ".example.com"));
	assert_false(mta_sts_mx_match("*.example.com", "mx.example.co"));
	assert_false(mta_sts_mx_match("*.example.com", "mxexample.com"));
	assert_true(mta_sts_mx_match("mx.example.com", "MX.example.com."));
	assert_false(mta_sts_mx_match("mx.example.com", "mx.example.com.au"));
	assert_false(mta_sts_mx_match("mx.example.com", "x.example.com"));
	assert_false(mta_sts_mx_match("mx.example.com", "*.example.com"));
	assert_false(mta_sts_mx_match("mx.example.com", ""));
	assert_false(mta_sts_mx_match("", ""));
	assert_false(mta_sts_mx_match(NULL, "a"));
	assert_false(mta_sts_mx_match("a", NULL));
}

static void fetch_no_address(void **state)
{
	struct mta_sts_fetch_opts o = { .domain = "example.test" };
	char *body = (char *)"x";
	size_t len = 1;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_false(mta_sts_fetch(&o, &body, &len, &err));
	assert_null(body);
	assert_int_equal(len, 0);
	assert_non_null(strstr(err.msg, "mta-sts.example.test has no address"));
}

static void fetch_refused(void **state)
{
	/* port 1 on loopback: nothing listens there */
	static const char *const addrs[] = { "127.0.0.1", "not-an-ip" };
	struct mta_sts_fetch_opts o = { .domain = "example.test", .addrs = addrs, .n_addrs = 2,
					.port = 1, .timeout_ms = 2000 };
	char *body = NULL;
	size_t len = 0;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_false(mta_sts_fetch(&o, &body, &len, &err));
	assert_null(body);
	/* the last address tried is the one the error names */
	assert_non_null(strstr(err.msg, "https://mta-sts.example.test:1/.well-known/mta-sts.txt"));
	assert_non_null(strstr(err.msg, "'not-an-ip' is not an IP address"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good),
		cmocka_unit_test(good_variants),
		cmocka_unit_test(malformed),
		cmocka_unit_test(nul_byte),
		cmocka_unit_test(wildcard),
		cmocka_unit_test(fetch_no_address),
		cmocka_unit_test(fetch_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
