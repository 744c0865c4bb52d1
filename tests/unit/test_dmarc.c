/* test_dmarc.c — unit tests of the strict DMARC parser, record discovery
 * (with the organizational-domain fallback through the real Public Suffix
 * List) and alignment. DNS comes from a table-driven fake dns_lookup_fn
 * that also records which names were asked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "dns/dmarc.h"
#include "testutil.h"

/* ---- fake DNS ---- */

struct zone_entry {
	const char *name;
	enum dns_status status;
	const char *txt[4];      /* NULL-terminated; "\x01CNAME" adds a CNAME rr */
};

struct fake_dns {
	const struct zone_entry *zone;
	char asked[8][128];
	size_t n_asked;
};

static bool fake_lookup(void *ctx, const char *name, uint16_t type, struct dns_answer *out,
			struct err *err)
{
	struct fake_dns *f = ctx;

	(void)err;
	assert_int_equal(type, DNS_T_TXT);
	if (f->n_asked < 8)
		snprintf(f->asked[f->n_asked++], sizeof f->asked[0], "%s", name);
	out->status = DNS_NXDOMAIN;
	for (const struct zone_entry *z = f->zone; z && z->name; z++) {
		if (strcasecmp(z->name, name) != 0)
			continue;
		out->status = z->status;
		for (size_t i = 0; z->txt[i]; i++) {
			struct dns_rr *rr;
			out->rr = xreallocarray(out->rr, out->n + 1, sizeof *out->rr);
			rr = &out->rr[out->n++];
			memset(rr, 0, sizeof *rr);
			rr->name = xstrdup(name);
			rr->ttl = 300;
			if (strcmp(z->txt[i], "\x01" "CNAME") == 0) {
				rr->type = DNS_T_CNAME;
				rr->target = xstrdup("elsewhere.example");
			} else {
				rr->type = DNS_T_TXT;
				rr->text = xstrdup(z->txt[i]);
			}
		}
		break;
	}
	return true;
}

/* ---- parser: good records ---- */

static void test_parse_full(void **state)
{
	struct dmarc_record r;
	struct err e = { 0 };

	(void)state;
	assert_true(dmarc_parse("v=DMARC1; p=reject; sp=quarantine; pct=50; adkim=s; aspf=r; "
				"fo=1:d; rf=afrf; ri=3600; rua=mailto:a@example.com!10m, "
				"mailto:b@example.net; ruf=mailto:f@example.com!500; foo=bar; "
				"Zz_9=1", &r, &e));
	assert_int_equal(r.p, DMARC_P_REJECT);
	assert_int_equal(r.sp, DMARC_P_QUARANTINE);
	assert_int_equal(r.pct, 50);
	assert_true(r.has_pct);
	assert_true(r.adkim_strict);
	assert_false(r.aspf_strict);
	assert_int_equal(r.fo, DMARC_FO_1 | DMARC_FO_D);
	assert_true(r.has_rf);
	assert_int_equal(r.ri, 3600);
	assert_int_equal(r.n_rua, 2);
	assert_string_equal(r.rua[0].uri, "mailto:a@example.com");
	assert_true(r.rua[0].has_limit);
	assert_int_equal(r.rua[0].limit, 10 * 1024 * 1024);
	assert_string_equal(r.rua[1].uri, "mailto:b@example.net");
	assert_false(r.rua[1].has_limit);
	assert_int_equal(r.n_ruf, 1);
	assert_int_equal(r.ruf[0].limit, 500);
	assert_int_equal(r.n_unknown, 2);
	assert_string_equal(r.unknown[0], "foo");
	assert_string_equal(r.unknown[1], "zz_9");
	assert_false(r.p_not_second);
	dmarc_record_free(&r);
}

static void test_parse_minimal_defaults(void **state)
{
	struct dmarc_record r;
	struct err e = { 0 };

	(void)state;
	assert_true(dmarc_parse("v=DMARC1;p=none", &r, &e));
	assert_int_equal(r.p, DMARC_P_NONE);
	assert_int_equal(r.sp, DMARC_P_UNSET);
	assert_int_equal(r.pct, 100);
	assert_false(r.has_pct);
	assert_false(r.adkim_strict);
	assert_int_equal(r.fo, DMARC_FO_0);
	assert_int_equal(r.ri, 86400);
	assert_int_equal(r.n_rua + r.n_ruf + r.n_unknown, 0);
	dmarc_record_free(&r);

	/* whitespace around everything, keyword case, trailing ';' */
	assert_true(dmarc_parse("  v = DMARC1 ;\tP = Quarantine ; pct = 0 ; ", &r, &e));
	assert_int_equal(r.p, DMARC_P_QUARANTINE);
	assert_int_equal(r.pct, 0);
	assert_true(r.has_pct);
	dmarc_record_free(&r);
}

static void test_parse_p_not_second(void **state)
{
	struct dmarc_record r;
	struct err e = { 0 };

	(void)state;
	assert_true(dmarc_parse("v=DMARC1; rua=mailto:d@example.com; p=none", &r, &e));
	assert_true(r.p_not_second);
	assert_int_equal(r.p, DMARC_P_NONE);
	dmarc_record_free(&r);
}

/* ---- parser: bad records ---- */

struct bad_case {
	const char *txt;
	const char *msg;   /* a substring of the error */
};

static const struct bad_case bad_cases[] = {
	{ "p=reject", "does not start with v=DMARC1" },
	{ "p=reject; v=DMARC1", "does not start with v=DMARC1 (it starts with 'p=reject')" },
	{ "", "is empty" },
	{ "  ", "is empty" },
	{ " ; ;", "does not start with v=DMARC1 (it starts with ';')" },
	{ ";v=DMARC1; p=none", "does not start with v=DMARC1 (it starts with ';')" },
	{ "v=dmarc1; p=none", "v=dmarc1 is not allowed: the version must be exactly DMARC1" },
	{ "v=DMARC2; p=none", "exactly DMARC1" },
	{ "v=DMARC1", "has no p= tag" },
	{ "v=DMARC1; rua=mailto:a@example.com", "has no p= tag: add p=none, p=quarantine or "
	  "p=reject" },
	{ "v=DMARC1; p=block", "p=block is not a policy: allowed are none, quarantine or reject" },
	{ "v=DMARC1; p=", "p= is not a policy" },
	{ "v=DMARC1; p=none; sp=all", "sp=all is not a policy" },
	{ "v=DMARC1; p=none; pct=101", "pct=101 is not allowed: pct must be a whole number from "
	  "0 to 100" },
	{ "v=DMARC1; p=none; pct=-1", "pct=-1 is not allowed" },
	{ "v=DMARC1; p=none; pct=5.5", "pct=5.5 is not allowed" },
	{ "v=DMARC1; p=none; pct=0100", "pct=0100 is not allowed" },
	{ "v=DMARC1; p=none; pct=", "pct= is not allowed" },
	{ "v=DMARC1; p=none; adkim=x", "adkim=x is not allowed: allowed are r (relaxed) or s" },
	{ "v=DMARC1; p=none; aspf=relaxed", "aspf=relaxed is not allowed" },
	{ "v=DMARC1; p=none; fo=2", "fo=2 is not allowed: allowed is a colon-separated list of "
	  "0, 1, d and s" },
	{ "v=DMARC1; p=none; fo=1::d", "fo=1::d is not allowed" },
	{ "v=DMARC1; p=none; rf=iodef", "rf=iodef is not allowed: the only report format" },
	{ "v=DMARC1; p=none; ri=abc", "ri=abc is not allowed" },
	{ "v=DMARC1; p=none; ri=4294967296", "ri=4294967296 is not allowed" },
	{ "v=DMARC1; p=none; rua=http://example.com/report", "rua= entry "
	  "'http://example.com/report' is not a mailto: URI" },
	{ "v=DMARC1; p=none; ruf=https://example.com/", "ruf= entry" },
	{ "v=DMARC1; p=none; rua=mailto:", "is not a mailto: URI" },
	{ "v=DMARC1; p=none; rua=mailto:nobody", "is not a mailto: URI" },
	{ "v=DMARC1; p=none; rua=mailto:@example.com", "is not a mailto: URI" },
	{ "v=DMARC1; p=none; rua=mailto:a b@example.com", "is not a mailto: URI" },
	{ "v=DMARC1; p=none; rua=mailto:a@example.com,", "rua= has an empty entry" },
	{ "v=DMARC1; p=none; rua=mailto:a@example.com!10x", "bad size limit after '!'" },
	{ "v=DMARC1; p=none; rua=mailto:a@example.com!", "bad size limit" },
	{ "v=DMARC1; p=none; rua=mailto:a@example.com!m", "bad size limit" },
	{ "v=DMARC1; p=none; rua=mailto:a@example.com!99999999999999999999t", "bad size limit" },
	{ "v=DMARC1; p=none; p=reject", "the tag p appears twice: receivers ignore the whole "
	  "record" },
	{ "v=DMARC1; p=none; V=DMARC1", "the tag V appears twice" },
	{ "v=DMARC1; p=none; rua=mailto:a@example.com; rua=mailto:b@example.com",
	  "the tag rua appears twice" },
	{ "v=DMARC1; p=none; x=1; X=2", "the tag X appears twice" },
	{ "v=DMARC1; p=none; garbage", "'garbage' is not tag=value" },
	{ "v=DMARC1; p=none; =5", "does not start with a tag name" },
	{ "v=DMARC1; p=none; 9x=5", "does not start with a tag name" },
	{ "v=DMARC1; p=none\n; pct=5", "contains a control character" },
	{ "v=DMARC1; p=\x1b[31mred", "contains a control character" },
};

static void test_parse_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		struct dmarc_record r;
		struct err e = { 0 };
		bool ok = dmarc_parse(bad_cases[i].txt, &r, &e);
		if (ok)
			print_message("accepted: %s\n", bad_cases[i].txt);
		assert_false(ok);
		assert_true(err_is_set(&e));
		assert_contains(e.msg, bad_cases[i].msg);
		/* nothing to free on failure: the record is empty */
		assert_null(r.rua);
		assert_null(r.unknown);
		assert_int_equal(r.p, DMARC_P_UNSET);
	}
}

/* Values echoed into messages are bounded and printable. */
static void test_parse_message_is_sanitised(void **state)
{
	struct dmarc_record r;
	struct err e = { 0 };
	char txt[600];

	(void)state;
	snprintf(txt, sizeof txt, "v=DMARC1; p=%0500d", 7);
	assert_false(dmarc_parse(txt, &r, &e));
	assert_contains(e.msg, "...");
	assert_true(strlen(e.msg) < 200);
	assert_false(dmarc_parse("v=DMARC1; p=\xff\xfe", &r, &e));
	assert_contains(e.msg, "p=?? is not a policy");
}

/* ---- lookup ---- */

static const struct zone_entry zone[] = {
	{ "_dmarc.good.example", DNS_NOERROR,
	  { "v=spf1 -all", "v=DMARC1; p=reject; rua=mailto:d@good.example", NULL } },
	{ "_dmarc.two.example", DNS_NOERROR,
	  { "v=DMARC1; p=none", "v=DMARC1; p=reject", NULL } },
	{ "_dmarc.three.example", DNS_NOERROR,
	  { "v=DMARC1; p=none", "v=DMARC1; p=reject", "v=DMARC1; p=quarantine", NULL } },
	{ "_dmarc.bad.example", DNS_NOERROR, { "v=DMARC1; p=none; pct=101", NULL } },
	{ "_dmarc.nov.example", DNS_NOERROR, { "p=reject; v=DMARC1", NULL } },
	{ "_dmarc.lower.example", DNS_NOERROR, { "v=dmarc1; p=reject", NULL } },
	{ "_dmarc.upper-tag.example", DNS_NOERROR, { "V = DMARC1; p=reject", NULL } },
	{ "_dmarc.fail.example", DNS_SERVFAIL, { NULL } },
	{ "_dmarc.slow.example", DNS_TIMEOUT, { NULL } },
	{ "_dmarc.empty.example", DNS_NOERROR, { NULL } },
	{ "_dmarc.cname.example", DNS_NOERROR,
	  { "\x01" "CNAME", "v=DMARC1; p=quarantine", NULL } },
	{ "_dmarc.example.co.jp", DNS_NOERROR, { "v=DMARC1; p=quarantine; sp=reject", NULL } },
	{ "_dmarc.example.com", DNS_NOERROR,
	  { "v=DMARC1; p=none", "v=DMARC1 ; p=none", NULL } },
	{ NULL, DNS_NOERROR, { NULL } },
};

static void lookup(struct fake_dns *f, const char *domain, struct dmarc_result *res,
		   struct err *e, bool expect_ok)
{
	struct dns_resolver_ref ref = { fake_lookup, f };

	memset(f, 0, sizeof *f);
	f->zone = zone;
	memset(res, 0, sizeof *res);
	memset(e, 0, sizeof *e);
	assert_int_equal(dmarc_lookup(&ref, domain, res, e), expect_ok);
	assert_int_equal(err_is_set(e), !expect_ok);
}

static void test_lookup_good(void **state)
{
	struct fake_dns f;
	struct dmarc_result res;
	struct err e;

	(void)state;
	lookup(&f, "Good.Example.", &res, &e, true);
	assert_int_equal(res.status, DMARC_FOUND);
	assert_string_equal(res.domain, "good.example");
	assert_string_equal(res.found_at, "_dmarc.good.example");
	assert_false(res.from_org);
	assert_string_equal(res.text, "v=DMARC1; p=reject; rua=mailto:d@good.example");
	assert_int_equal(res.rec.p, DMARC_P_REJECT);
	assert_null(res.ignored);
	assert_int_equal(f.n_asked, 1);
	assert_string_equal(f.asked[0], "_dmarc.good.example");
	dmarc_result_free(&res);

	/* CNAME records in the answer are not TXT records */
	lookup(&f, "cname.example", &res, &e, true);
	assert_int_equal(res.status, DMARC_FOUND);
	assert_int_equal(res.rec.p, DMARC_P_QUARANTINE);
	dmarc_result_free(&res);

	/* the tag name is case-insensitive, WSP around '=' allowed (ABNF) */
	lookup(&f, "upper-tag.example", &res, &e, true);
	assert_int_equal(res.status, DMARC_FOUND);
	dmarc_result_free(&res);
}

static void test_lookup_two_records(void **state)
{
	struct fake_dns f;
	struct dmarc_result res;
	struct err e;

	(void)state;
	lookup(&f, "two.example", &res, &e, false);
	assert_int_equal(res.status, DMARC_MULTIPLE);
	assert_contains(e.msg, "_dmarc.two.example has 2 DMARC records: receivers ignore both");
	assert_string_equal(res.found_at, "_dmarc.two.example");
	assert_int_equal(res.rec.p, DMARC_P_UNSET);
	dmarc_result_free(&res);

	lookup(&f, "three.example", &res, &e, false);
	assert_int_equal(res.status, DMARC_MULTIPLE);
	assert_contains(e.msg, "3 DMARC records: receivers ignore all of them");
	dmarc_result_free(&res);

	/* two at the org domain, reached by fallback, are just as bad */
	lookup(&f, "mail.example.com", &res, &e, false);
	assert_int_equal(res.status, DMARC_MULTIPLE);
	assert_true(res.from_org);
	assert_string_equal(res.found_at, "_dmarc.example.com");
	dmarc_result_free(&res);
}

static void test_lookup_invalid(void **state)
{
	struct fake_dns f;
	struct dmarc_result res;
	struct err e;

	(void)state;
	lookup(&f, "bad.example", &res, &e, false);
	assert_int_equal(res.status, DMARC_INVALID);
	assert_contains(e.msg, "_dmarc.bad.example: DMARC record: pct=101 is not allowed");
	assert_string_equal(res.text, "v=DMARC1; p=none; pct=101");
	dmarc_result_free(&res);
}

static void test_lookup_not_dmarc(void **state)
{
	struct fake_dns f;
	struct dmarc_result res;
	struct err e;

	(void)state;
	/* without v first it is not a DMARC record at all: receivers see none */
	lookup(&f, "nov.example", &res, &e, true);
	assert_int_equal(res.status, DMARC_NONE);
	assert_string_equal(res.ignored, "p=reject; v=DMARC1");
	assert_null(res.found_at);
	dmarc_result_free(&res);

	/* the version value is exact: v=dmarc1 is not DMARC1 */
	lookup(&f, "lower.example", &res, &e, true);
	assert_int_equal(res.status, DMARC_NONE);
	assert_string_equal(res.ignored, "v=dmarc1; p=reject");
	dmarc_result_free(&res);

	lookup(&f, "empty.example", &res, &e, true);
	assert_int_equal(res.status, DMARC_NONE);
	assert_null(res.ignored);
	dmarc_result_free(&res);

	lookup(&f, "nothing.example", &res, &e, true);
	assert_int_equal(res.status, DMARC_NONE);
	assert_int_equal(f.n_asked, 1);   /* nothing.example is its own org domain */
	dmarc_result_free(&res);
}

static void test_lookup_dns_failure(void **state)
{
	struct fake_dns f;
	struct dmarc_result res;
	struct err e;

	(void)state;
	lookup(&f, "fail.example", &res, &e, false);
	assert_int_equal(res.status, DMARC_DNS_FAIL);
	assert_true(e.retry);
	assert_contains(e.msg, "_dmarc.fail.example");
	dmarc_result_free(&res);

	lookup(&f, "slow.example", &res, &e, false);
	assert_int_equal(res.status, DMARC_DNS_FAIL);
	assert_contains(e.msg, "did not answer in time");
	dmarc_result_free(&res);

	lookup(&f, "bad..example", &res, &e, false);
	assert_contains(e.msg, "is not a domain name");
	assert_int_equal(f.n_asked, 0);
	dmarc_result_free(&res);
}

/* a.b.example.co.jp has no record; the PSL says co.jp is a public suffix,
 * so the org domain is example.co.jp, asked directly (not b.example.co.jp). */
static void test_lookup_org_fallback(void **state)
{
	struct fake_dns f;
	struct dmarc_result res;
	struct err e;

	(void)state;
	lookup(&f, "a.b.example.co.jp", &res, &e, true);
	assert_int_equal(res.status, DMARC_FOUND);
	assert_string_equal(res.domain, "a.b.example.co.jp");
	assert_string_equal(res.org_domain, "example.co.jp");
	assert_true(res.from_org);
	assert_string_equal(res.found_at, "_dmarc.example.co.jp");
	assert_int_equal(res.rec.p, DMARC_P_QUARANTINE);
	assert_int_equal(res.rec.sp, DMARC_P_REJECT);
	assert_int_equal(f.n_asked, 2);
	assert_string_equal(f.asked[0], "_dmarc.a.b.example.co.jp");
	assert_string_equal(f.asked[1], "_dmarc.example.co.jp");
	dmarc_result_free(&res);

	/* a SERVFAIL at the domain must not fall back (no conclusion yet) */
	static const struct zone_entry z2[] = {
		{ "_dmarc.x.example.co.jp", DNS_SERVFAIL, { NULL } },
		{ "_dmarc.example.co.jp", DNS_NOERROR, { "v=DMARC1; p=none", NULL } },
		{ NULL, DNS_NOERROR, { NULL } },
	};
	struct dns_resolver_ref ref = { fake_lookup, &f };
	memset(&f, 0, sizeof f);
	f.zone = z2;
	memset(&res, 0, sizeof res);
	assert_false(dmarc_lookup(&ref, "x.example.co.jp", &res, &e));
	assert_int_equal(res.status, DMARC_DNS_FAIL);
	assert_int_equal(f.n_asked, 1);
	dmarc_result_free(&res);
}

/* ---- organizational domain and alignment ---- */

static void test_org_domain(void **state)
{
	static const char *const cases[][2] = {
		{ "a.b.example.co.jp", "example.co.jp" },
		{ "EXAMPLE.CO.JP.", "example.co.jp" },
		{ "co.jp", "co.jp" },
		{ "mail.example.com", "example.com" },
		{ "example.com", "example.com" },
		{ "x.y.example.org.uk", "example.org.uk" },
		{ "a.b.c.nosuchtld", "c.nosuchtld" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *o = dmarc_org_domain(cases[i][0]);
		assert_non_null(o);
		assert_string_equal(o, cases[i][1]);
		free(o);
	}
	assert_null(dmarc_org_domain(""));
	assert_null(dmarc_org_domain("."));
	assert_null(dmarc_org_domain("a..b"));
	assert_null(dmarc_org_domain("a b.com"));
	assert_null(dmarc_org_domain(NULL));
}

static void test_aligned(void **state)
{
	(void)state;
	assert_true(dmarc_aligned("example.co.jp", "mail.example.co.jp", false));
	assert_false(dmarc_aligned("example.co.jp", "mail.example.co.jp", true));
	assert_true(dmarc_aligned("Example.CO.jp.", "example.co.jp", true));
	assert_false(dmarc_aligned("example.co.jp", "other.co.jp", false));
	/* a public suffix is not an organization shared by its registrants */
	assert_false(dmarc_aligned("a.co.jp", "b.co.jp", false));
	assert_false(dmarc_aligned("example.co.jp", "example.jp", false));
	assert_false(dmarc_aligned(NULL, "example.com", false));
	assert_false(dmarc_aligned("example.com", "", true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_parse_minimal_defaults),
		cmocka_unit_test(test_parse_p_not_second),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_message_is_sanitised),
		cmocka_unit_test(test_lookup_good),
		cmocka_unit_test(test_lookup_two_records),
		cmocka_unit_test(test_lookup_invalid),
		cmocka_unit_test(test_lookup_not_dmarc),
		cmocka_unit_test(test_lookup_dns_failure),
		cmocka_unit_test(test_lookup_org_fallback),
		cmocka_unit_test(test_org_domain),
		cmocka_unit_test(test_aligned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
