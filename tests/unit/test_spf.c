/* test_spf.c — src/dns/spf.c against a table-driven fake DNS: RFC 7208
 * appendix A, the §4.6.4 limits (10 DNS terms over the whole evaluation,
 * 2 void lookups, 10 MX names), record selection, syntax errors, include
 * and redirect rules, temperror propagation, IPv6 and dual CIDR, the §7.4
 * macro examples, lint, and the two cases where libspf2 is wrong
 * (libspf2_*).
 *
 * The fake: (name, type) -> records; a name with no record of the asked
 * type but some other record answers NOERROR/NODATA, an unknown name
 * NXDOMAIN, and a status entry forces SERVFAIL/TIMEOUT.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "dns/spf.h"

struct fake_entry {
	char *name;
	uint16_t type;       /* 0: the name exists, no data */
	char *data;          /* A/AAAA: address, MX: "pref host", PTR: host, TXT: text */
	enum dns_status status;
	bool forced;         /* status entry */
};

struct fake {
	struct fake_entry *e;
	size_t n;
	unsigned queries;
};

static void fake_add(struct fake *f, const char *name, uint16_t type, const char *data)
{
	f->e = xreallocarray(f->e, f->n + 1, sizeof(*f->e));
	f->e[f->n].name = xstrdup(name);
	f->e[f->n].type = type;
	f->e[f->n].data = data ? xstrdup(data) : NULL;
	f->e[f->n].status = DNS_NOERROR;
	f->e[f->n].forced = false;
	f->n++;
}

static void fake_status(struct fake *f, const char *name, uint16_t type, enum dns_status st)
{
	fake_add(f, name, type, NULL);
	f->e[f->n - 1].status = st;
	f->e[f->n - 1].forced = true;
}

static void fake_free(struct fake *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->e[i].name);
		free(f->e[i].data);
	}
	free(f->e);
	memset(f, 0, sizeof(*f));
}

static bool fake_lookup(void *ctx, const char *name, uint16_t type, struct dns_answer *out, struct err *err)
{
	struct fake *f = ctx;
	bool exists = false;

	(void)err;
	f->queries++;
	for (size_t i = 0; i < f->n; i++) {
		struct fake_entry *e = &f->e[i];

		if (strcasecmp(e->name, name) != 0)
			continue;
		exists = true;
		if (e->forced && e->type == type) {
			out->status = e->status;
			return true;
		}
		if (e->forced || e->type != type)
			continue;
		out->rr = xreallocarray(out->rr, out->n + 1, sizeof(*out->rr));
		struct dns_rr *rr = &out->rr[out->n++];
		memset(rr, 0, sizeof(*rr));
		rr->name = xstrdup(name);
		rr->type = type;
		rr->ttl = 300;
		switch (type) {
		case DNS_T_A:
			rr->family = AF_INET;
			assert_int_equal(inet_pton(AF_INET, e->data, rr->addr), 1);
			break;
		case DNS_T_AAAA:
			rr->family = AF_INET6;
			assert_int_equal(inet_pton(AF_INET6, e->data, rr->addr), 1);
			break;
		case DNS_T_MX: {
			char *sp = strchr(e->data, ' ');
			rr->preference = (uint16_t)atoi(e->data);
			rr->target = xstrdup(sp + 1);
			break;
		}
		case DNS_T_PTR:
			rr->target = xstrdup(e->data);
			break;
		case DNS_T_TXT:
			rr->text = xstrdup(e->data);
			break;
		}
	}
	out->status = exists ? DNS_NOERROR : DNS_NXDOMAIN;
	return true;
}

static struct dns_resolver_ref ref(struct fake *f)
{
	struct dns_resolver_ref r = { fake_lookup, f };
	return r;
}

/* Check ip against domain; the result must be want and, if mech is given,
 * the deciding mechanism must contain it. */
static void expect(struct fake *f, const char *ip, const char *domain, enum spf_verdict want, const char *mech)
{
	struct dns_resolver_ref r = ref(f);
	struct spf_result res;

	assert_true(spf_check_host(&r, ip, domain, "user@example.com", "mx.example.com", &res));
	if (res.result != want || (mech != NULL && strstr(res.mechanism, mech) == NULL)) {
		print_message("%s from %s: got %s (%s; %s), want %s (%s)\n", domain, ip,
			      spf_verdict_name(res.result), res.mechanism,
			      res.explanation ? res.explanation : "-", spf_verdict_name(want),
			      mech ? mech : "-");
		fail();
	}
	if (want == SPF_PERMERROR || want == SPF_TEMPERROR)
		assert_non_null(res.explanation);
	spf_result_free(&res);
}

/* The result, for tests that look at more than the verdict. */
static struct spf_result run(struct fake *f, const char *ip, const char *domain)
{
	struct dns_resolver_ref r = ref(f);
	struct spf_result res;

	assert_true(spf_check_host(&r, ip, domain, "user@example.com", "mx.example.com", &res));
	return res;
}

/* RFC 7208 appendix A's zone. */
static void appendix_zone(struct fake *f)
{
	fake_add(f, "example.com", DNS_T_MX, "10 mail-a.example.com");
	fake_add(f, "example.com", DNS_T_MX, "20 mail-b.example.com");
	fake_add(f, "example.com", DNS_T_A, "192.0.2.10");
	fake_add(f, "example.com", DNS_T_A, "192.0.2.11");
	fake_add(f, "amy.example.com", DNS_T_A, "192.0.2.65");
	fake_add(f, "bob.example.com", DNS_T_A, "192.0.2.66");
	fake_add(f, "mail-a.example.com", DNS_T_A, "192.0.2.129");
	fake_add(f, "mail-b.example.com", DNS_T_A, "192.0.2.130");
	fake_add(f, "example.org", DNS_T_MX, "10 mail-c.example.org");
	fake_add(f, "mail-c.example.org", DNS_T_A, "192.0.2.140");
	fake_add(f, "10.2.0.192.in-addr.arpa", DNS_T_PTR, "example.com");
	fake_add(f, "11.2.0.192.in-addr.arpa", DNS_T_PTR, "example.com");
	fake_add(f, "65.2.0.192.in-addr.arpa", DNS_T_PTR, "amy.example.com");
	fake_add(f, "66.2.0.192.in-addr.arpa", DNS_T_PTR, "bob.example.com");
	fake_add(f, "129.2.0.192.in-addr.arpa", DNS_T_PTR, "mail-a.example.com");
	fake_add(f, "130.2.0.192.in-addr.arpa", DNS_T_PTR, "mail-b.example.com");
	fake_add(f, "140.2.0.192.in-addr.arpa", DNS_T_PTR, "mail-c.example.org");
	fake_add(f, "22.0.120.10.in-addr.arpa", DNS_T_PTR, "mail.example.net");
}

static void with_record(const char *record, void (*body)(struct fake *f))
{
	struct fake f = { 0 };

	appendix_zone(&f);
	fake_add(&f, "example.com", DNS_T_TXT, record);
	body(&f);
	fake_free(&f);
}

static void a1_all(struct fake *f)
{
	expect(f, "192.0.2.1", "example.com", SPF_PASS, "+all");
	expect(f, "10.0.0.4", "example.com", SPF_PASS, "+all");
	expect(f, "2001:db8::1", "example.com", SPF_PASS, "+all");
}

static void a1_a(struct fake *f)
{
	expect(f, "192.0.2.10", "example.com", SPF_PASS, "a");
	expect(f, "192.0.2.11", "example.com", SPF_PASS, "a");
	expect(f, "192.0.2.65", "example.com", SPF_FAIL, "-all");
}

static void a1_a_org(struct fake *f)
{
	expect(f, "192.0.2.10", "example.com", SPF_FAIL, "-all");
	expect(f, "192.0.2.140", "example.com", SPF_FAIL, "-all");
}

static void a1_mx(struct fake *f)
{
	expect(f, "192.0.2.129", "example.com", SPF_PASS, "mx");
	expect(f, "192.0.2.130", "example.com", SPF_PASS, "mx");
	expect(f, "192.0.2.10", "example.com", SPF_FAIL, "-all");
}

static void a1_mx_org(struct fake *f)
{
	expect(f, "192.0.2.140", "example.com", SPF_PASS, "mx:example.org");
	expect(f, "192.0.2.129", "example.com", SPF_FAIL, "-all");
}

static void a1_mx_both(struct fake *f)
{
	expect(f, "192.0.2.129", "example.com", SPF_PASS, "mx");
	expect(f, "192.0.2.130", "example.com", SPF_PASS, "mx");
	expect(f, "192.0.2.140", "example.com", SPF_PASS, "mx:example.org");
	expect(f, "192.0.2.65", "example.com", SPF_FAIL, "-all");
}

static void a1_mx_cidr(struct fake *f)
{
	expect(f, "192.0.2.131", "example.com", SPF_PASS, "mx/30");
	expect(f, "192.0.2.128", "example.com", SPF_PASS, "mx/30");
	expect(f, "192.0.2.141", "example.com", SPF_PASS, "mx:example.org/30");
	expect(f, "192.0.2.132", "example.com", SPF_FAIL, "-all");
}

static void a1_ptr(struct fake *f)
{
	expect(f, "192.0.2.65", "example.com", SPF_PASS, "ptr");
	expect(f, "192.0.2.140", "example.com", SPF_FAIL, "-all");
	expect(f, "10.0.0.4", "example.com", SPF_FAIL, "-all");
}

static void a1_ip4(struct fake *f)
{
	expect(f, "192.0.2.65", "example.com", SPF_FAIL, "-all");
	expect(f, "192.0.2.129", "example.com", SPF_PASS, "ip4:192.0.2.128/28");
}

static void test_appendix_a1(void **state)
{
	(void)state;
	with_record("v=spf1 +all", a1_all);
	with_record("v=spf1 a -all", a1_a);
	with_record("v=spf1 a:example.org -all", a1_a_org);
	with_record("v=spf1 mx -all", a1_mx);
	with_record("v=spf1 mx:example.org -all", a1_mx_org);
	with_record("v=spf1 mx mx:example.org -all", a1_mx_both);
	with_record("v=spf1 mx/30 mx:example.org/30 -all", a1_mx_cidr);
	with_record("v=spf1 ptr -all", a1_ptr);
	with_record("v=spf1 ip4:192.0.2.128/28 -all", a1_ip4);
}

/* Appendix A.4 "multiple requirements": pass only from 192.0.2.0/24 with a
 * reverse name in example.com. The ptr target is written out: with the
 * literal "-ptr" of the RFC its target is ptr._spf.example.com itself. */
static void test_appendix_a4(void **state)
{
	struct fake f = { 0 };

	(void)state;
	appendix_zone(&f);
	fake_add(&f, "example.com", DNS_T_TXT, "v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all");
	fake_add(&f, "ip4._spf.example.com", DNS_T_TXT, "v=spf1 -ip4:192.0.2.0/24 +all");
	fake_add(&f, "ptr._spf.example.com", DNS_T_TXT, "v=spf1 -ptr:example.com +all");
	expect(&f, "192.0.2.65", "example.com", SPF_PASS, "+all");
	expect(&f, "192.0.2.140", "example.com", SPF_FAIL, "+all in -include:ptr._spf.%{d}");
	expect(&f, "10.0.0.4", "example.com", SPF_FAIL, "+all in -include:ip4._spf.%{d}");
	fake_free(&f);
}

/* top includes i1, i1 includes i2, ... i<depth> has the ip4. */
static void chain(struct fake *f, int depth)
{
	char name[32], next[64];

	fake_add(f, "top.test", DNS_T_TXT, "v=spf1 include:i1.test -all");
	for (int i = 1; i <= depth; i++) {
		snprintf(name, sizeof(name), "i%d.test", i);
		if (i == depth)
			fake_add(f, name, DNS_T_TXT, "v=spf1 ip4:192.0.2.1 -all");
		else {
			snprintf(next, sizeof(next), "v=spf1 include:i%d.test -all", i + 1);
			fake_add(f, name, DNS_T_TXT, next);
		}
	}
}

static void test_include_chain_10_ok_11_permerror(void **state)
{
	struct fake f = { 0 };
	struct spf_result r;

	(void)state;
	chain(&f, 10);   /* 10 includes: the 10th DNS term is the last */
	r = run(&f, "192.0.2.1", "top.test");
	assert_int_equal(r.result, SPF_PASS);
	assert_int_equal(r.dns_terms, 10);
	assert_true(strncmp(r.mechanism, "ip4:192.0.2.1 in include:i10.test in include:i9.test", 52) == 0);
	assert_non_null(strstr(r.mechanism, "in include:i1.test"));
	spf_result_free(&r);
	fake_free(&f);

	chain(&f, 11);
	r = run(&f, "192.0.2.1", "top.test");
	assert_int_equal(r.result, SPF_PERMERROR);
	assert_int_equal(r.dns_terms, 11);
	assert_non_null(strstr(r.explanation, "more than 10 DNS-querying terms"));
	assert_non_null(strstr(r.explanation, "include:i11.test"));
	spf_result_free(&r);
	fake_free(&f);
}

/* libspf2 counts per record: here no record has more than 3 DNS terms but
 * the evaluation needs 12. */
static void test_libspf2_limit_per_evaluation(void **state)
{
	struct fake f = { 0 };
	char name[32];

	(void)state;
	for (int s = 1; s <= 3; s++) {
		char rec[128];

		snprintf(name, sizeof(name), "s%d.test", s);
		snprintf(rec, sizeof(rec), "v=spf1 a:h%d1.test a:h%d2.test a:h%d3.test -all", s, s, s);
		fake_add(&f, name, DNS_T_TXT, rec);
		for (int h = 1; h <= 3; h++) {
			snprintf(name, sizeof(name), "h%d%d.test", s, h);
			fake_add(&f, name, DNS_T_A, "198.51.100.1");
		}
	}
	fake_add(&f, "top.test", DNS_T_TXT, "v=spf1 include:s1.test include:s2.test include:s3.test +all");
	/* 3 includes + 9 a = 12: the 11th (a:h32.test) is the permerror */
	expect(&f, "192.0.2.99", "top.test", SPF_PERMERROR, "a:h32.test in include:s3.test");
	/* one a: fewer in the last: exactly 10 is allowed, +all decides */
	fake_add(&f, "top2.test", DNS_T_TXT, "v=spf1 include:s1.test include:s2.test include:t3.test +all");
	fake_add(&f, "t3.test", DNS_T_TXT, "v=spf1 a:h31.test -all");
	expect(&f, "192.0.2.99", "top2.test", SPF_PASS, "+all");
	fake_free(&f);
}

/* libspf2 has no void-lookup limit: it would reach +all here. */
static void test_libspf2_void_lookups(void **state)
{
	struct fake f = { 0 };
	struct spf_result r;

	(void)state;
	fake_add(&f, "two.test", DNS_T_TXT, "v=spf1 a:nx1.test mx:nx2.test +all");
	fake_add(&f, "three.test", DNS_T_TXT, "v=spf1 a:nx1.test a:nodata.test exists:nx3.test +all");
	fake_add(&f, "nodata.test", DNS_T_MX, "10 mx.nodata.test");   /* NOERROR, no A */
	fake_add(&f, "split.test", DNS_T_TXT, "v=spf1 a:nx1.test include:inc.test +all");
	fake_add(&f, "inc.test", DNS_T_TXT, "v=spf1 a:nx2.test a:nx3.test -all");

	r = run(&f, "192.0.2.1", "two.test");
	assert_int_equal(r.result, SPF_PASS);
	assert_int_equal(r.void_lookups, 2);
	spf_result_free(&r);

	r = run(&f, "192.0.2.1", "three.test");
	assert_int_equal(r.result, SPF_PERMERROR);
	assert_string_equal(r.mechanism, "exists:nx3.test");
	assert_non_null(strstr(r.explanation, "void"));
	spf_result_free(&r);
	/* counted over the whole evaluation, across an include */
	expect(&f, "192.0.2.1", "split.test", SPF_PERMERROR, "a:nx3.test in include:inc.test");
	fake_free(&f);
}

static void test_mx_limit(void **state)
{
	struct fake f = { 0 };
	char host[32], mx[48];

	(void)state;
	for (int i = 1; i <= 11; i++) {
		snprintf(host, sizeof(host), "mx%d.eleven.test", i);
		snprintf(mx, sizeof(mx), "%d %s", i, host);
		fake_add(&f, "eleven.test", DNS_T_MX, mx);
		fake_add(&f, host, DNS_T_A, i == 10 ? "192.0.2.10" : "198.51.100.1");
		if (i <= 10) {
			snprintf(host, sizeof(host), "mx%d.ten.test", i);
			snprintf(mx, sizeof(mx), "%d %s", i, host);
			fake_add(&f, "ten.test", DNS_T_MX, mx);
			fake_add(&f, host, DNS_T_A, i == 10 ? "192.0.2.10" : "198.51.100.1");
		}
	}
	fake_add(&f, "eleven.test", DNS_T_TXT, "v=spf1 mx -all");
	fake_add(&f, "ten.test", DNS_T_TXT, "v=spf1 mx -all");
	expect(&f, "192.0.2.10", "ten.test", SPF_PASS, "mx");
	expect(&f, "192.0.2.10", "eleven.test", SPF_PERMERROR, "mx");
	fake_free(&f);
}

static void test_select(void **state)
{
	struct fake f = { 0 };
	struct spf_result r;

	(void)state;
	fake_add(&f, "two.test", DNS_T_TXT, "v=spf1 -all");
	fake_add(&f, "two.test", DNS_T_TXT, "v=spf1 +all");
	fake_add(&f, "case.test", DNS_T_TXT, "V=SPF1 -all");
	fake_add(&f, "case.test", DNS_T_TXT, "v=spf10 +all");           /* not SPF */
	fake_add(&f, "case.test", DNS_T_TXT, "google-site-verification=x");
	fake_add(&f, "bare.test", DNS_T_TXT, "v=spf1");
	fake_add(&f, "other.test", DNS_T_TXT, "v=spf2.0/pra +all");
	fake_add(&f, "a-only.test", DNS_T_A, "192.0.2.1");

	r = run(&f, "192.0.2.1", "two.test");
	assert_int_equal(r.result, SPF_PERMERROR);
	assert_non_null(strstr(r.explanation, "two SPF records"));
	spf_result_free(&r);
	expect(&f, "192.0.2.1", "case.test", SPF_FAIL, "-all");
	expect(&f, "192.0.2.1", "bare.test", SPF_NEUTRAL, "default (no match: neutral)");
	expect(&f, "192.0.2.1", "other.test", SPF_NONE, NULL);
	expect(&f, "192.0.2.1", "a-only.test", SPF_NONE, NULL);
	expect(&f, "192.0.2.1", "nx.test", SPF_NONE, NULL);
	expect(&f, "192.0.2.1", "nodots", SPF_NONE, NULL);
	fake_free(&f);
}

static void parse_ok(const char *rec)
{
	struct spf_record r;
	struct err err;

	err_clear(&err);
	if (!spf_parse(rec, &r, &err)) {
		print_message("'%s': %s\n", rec, err.msg);
		fail();
	}
	spf_record_free(&r);
}

static void parse_bad(const char *rec, const char *term, const char *why)
{
	struct spf_record r;
	struct err err;

	err_clear(&err);
	if (spf_parse(rec, &r, &err)) {
		print_message("'%s' parsed but should not\n", rec);
		spf_record_free(&r);
		fail();
	}
	if ((term && strstr(err.msg, term) == NULL) || strstr(err.msg, why) == NULL) {
		print_message("'%s': %s (want '%s', '%s')\n", rec, err.msg, term ? term : "", why);
		fail();
	}
	assert_int_equal(r.n, 0);
	assert_null(r.mech);
}

static void test_parse(void **state)
{
	struct spf_record r;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_true(spf_parse("v=spf1  a:host.example.com/24//64 mx//64 -ptr:%{d2} "
			      "?exists:%{ir}.%{v}._spf.%{d} include:_spf.example.com ip6:2001:db8::/32 "
			      "ip4:192.0.2.0/24 ~all foo=bar%{l} exp=explain.%{d} ", &r, &err));
	assert_int_equal(r.n, 8);
	assert_int_equal(r.mech[0].kind, SPF_M_A);
	assert_string_equal(r.mech[0].domain_spec, "host.example.com");
	assert_int_equal(r.mech[0].cidr4, 24);
	assert_int_equal(r.mech[0].cidr6, 64);
	assert_int_equal(r.mech[1].kind, SPF_M_MX);
	assert_null(r.mech[1].domain_spec);
	assert_int_equal(r.mech[1].cidr4, 32);
	assert_int_equal(r.mech[1].cidr6, 64);
	assert_int_equal(r.mech[2].qualifier, SPF_FAIL);
	assert_int_equal(r.mech[3].qualifier, SPF_NEUTRAL);
	assert_int_equal(r.mech[5].cidr6, 32);
	assert_int_equal(r.mech[6].cidr4, 24);
	assert_int_equal(r.mech[7].qualifier, SPF_SOFTFAIL);
	assert_string_equal(r.mech[7].term, "~all");
	assert_true(r.has_all);
	assert_string_equal(r.exp, "explain.%{d}");
	assert_int_equal(r.unknown_modifiers, 1);
	spf_record_free(&r);

	parse_ok("v=spf1 a/24 mx:example.com/0//0 ip4:0.0.0.0/0 ip6:::/0 redirect=_spf.example.com.");
	parse_ok("V=SPF1 A MX:EXAMPLE.COM -ALL");
	parse_ok("v=spf1 include:%{l}.%{o} exists:%{i}%%%_%-.x.example ptr");

	parse_bad("v=spf1 !all", "'!all'", "bad qualifier");
	parse_bad("v=spf1 ip4", "'ip4'", "ip4 needs an address");
	parse_bad("v=spf1 ip4:", "'ip4:'", "ip4 needs an address");
	parse_bad("v=spf1 ip4:192.0.2", "'ip4:192.0.2'", "not an IPv4 address");
	parse_bad("v=spf1 ip4:192.0.2.0/33", "'ip4:192.0.2.0/33'", "bad CIDR length");
	parse_bad("v=spf1 ip4:192.0.2.0/024", NULL, "bad CIDR length");
	parse_bad("v=spf1 ip6:2001:db8::/129", NULL, "bad CIDR length");
	parse_bad("v=spf1 ip6:192.0.2.1", NULL, "not an IPv6 address");
	parse_bad("v=spf1 a/33", "'a/33'", "bad IPv4 CIDR length");
	parse_bad("v=spf1 mx:example.com//129", NULL, "bad IPv6 CIDR length");
	parse_bad("v=spf1 a:example.com/", NULL, "bad IPv4 CIDR length");
	parse_bad("v=spf1 redirect=a.example redirect=b.example", "'redirect=b.example'", "redirect= appears twice");
	parse_bad("v=spf1 exp=a.example exp=b.example", NULL, "exp= appears twice");
	parse_bad("v=spf1 include:%{z}.example.com", NULL, "unknown macro letter");
	parse_bad("v=spf1 include:%{d0}.example.com", NULL, "must not be 0");
	parse_bad("v=spf1 exists:%{c}.example.com", NULL, "only in explanation");
	parse_bad("v=spf1 include:%{d", NULL, "not closed");
	parse_bad("v=spf1 include:%{dx}.example.com", NULL, "bad macro");
	parse_bad("v=spf1 include:a%b.example.com", NULL, "'%' must be followed");
	parse_bad("v=spf1 a:192.0.2.1", NULL, "top-level label");
	parse_bad("v=spf1 include:localhost", NULL, "needs a dot");
	parse_bad("v=spf1 include:", NULL, "domain is empty");
	parse_bad("v=spf1 include", NULL, "include needs a domain");
	parse_bad("v=spf1 all:x.example", NULL, "takes no argument");
	parse_bad("v=spf1 foo", "'foo'", "unknown mechanism");
	parse_bad("v=spf1 -", NULL, "qualifier must be followed");
	parse_bad("v=spf1 include:ex\x01mple.com", "ex?mple", "not visible ASCII");
	parse_bad("v=spf10 -all", NULL, "not an SPF record");
}

static void test_syntax_error_is_permerror(void **state)
{
	struct fake f = { 0 };
	struct spf_result r;

	(void)state;
	fake_add(&f, "bad.test", DNS_T_TXT, "v=spf1 ip4:192.0.2.1 ip4 -all");
	fake_add(&f, "inc.test", DNS_T_TXT, "v=spf1 include:bad.test -all");
	r = run(&f, "192.0.2.1", "bad.test");
	assert_int_equal(r.result, SPF_PERMERROR);
	assert_non_null(strstr(r.explanation, "'ip4'"));
	spf_result_free(&r);
	expect(&f, "192.0.2.1", "inc.test", SPF_PERMERROR, "in include:bad.test");
	fake_free(&f);
}

static void test_redirect(void **state)
{
	struct fake f = { 0 };
	struct spf_result r;

	(void)state;
	fake_add(&f, "r.test", DNS_T_TXT, "v=spf1 ip4:198.51.100.1 redirect=_spf.r.test");
	fake_add(&f, "_spf.r.test", DNS_T_TXT, "v=spf1 ip4:192.0.2.0/24 -all");
	fake_add(&f, "all.test", DNS_T_TXT, "v=spf1 redirect=_spf.r.test ?all");
	fake_add(&f, "gone.test", DNS_T_TXT, "v=spf1 redirect=nothing.test");
	fake_add(&f, "nothing.test", DNS_T_A, "192.0.2.1");
	fake_add(&f, "d.test", DNS_T_TXT, "v=spf1 redirect=%{d}.sub.test");
	fake_add(&f, "d.test.sub.test", DNS_T_TXT, "v=spf1 a:host.test -all");
	fake_add(&f, "host.test", DNS_T_A, "192.0.2.7");

	expect(&f, "198.51.100.1", "r.test", SPF_PASS, "ip4:198.51.100.1");
	expect(&f, "192.0.2.5", "r.test", SPF_PASS, "ip4:192.0.2.0/24 in redirect=_spf.r.test");
	expect(&f, "203.0.113.1", "r.test", SPF_FAIL, "-all in redirect=_spf.r.test");
	/* "all" present: redirect never followed */
	r = run(&f, "192.0.2.5", "all.test");
	assert_int_equal(r.result, SPF_NEUTRAL);
	assert_string_equal(r.mechanism, "?all");
	assert_int_equal(r.dns_terms, 0);
	spf_result_free(&r);
	expect(&f, "192.0.2.5", "gone.test", SPF_PERMERROR, "redirect=nothing.test");
	/* redirect counts as a DNS term and changes %{d} */
	r = run(&f, "192.0.2.7", "d.test");
	assert_int_equal(r.result, SPF_PASS);
	assert_string_equal(r.mechanism, "a:host.test in redirect=%{d}.sub.test");
	assert_int_equal(r.dns_terms, 2);
	spf_result_free(&r);
	fake_free(&f);
}

static void test_include_results(void **state)
{
	struct fake f = { 0 };

	(void)state;
	fake_add(&f, "top.test", DNS_T_TXT, "v=spf1 include:none.test -all");
	fake_add(&f, "none.test", DNS_T_A, "192.0.2.1");
	fake_add(&f, "top2.test", DNS_T_TXT, "v=spf1 include:nx.test -all");
	fake_add(&f, "soft.test", DNS_T_TXT, "v=spf1 include:s.test ?include:n.test +include:p.test -all");
	fake_add(&f, "s.test", DNS_T_TXT, "v=spf1 ~all");
	fake_add(&f, "n.test", DNS_T_TXT, "v=spf1 ?all");
	fake_add(&f, "p.test", DNS_T_TXT, "v=spf1 ip4:192.0.2.9 -all");

	expect(&f, "192.0.2.1", "top.test", SPF_PERMERROR, "include:none.test");
	expect(&f, "192.0.2.1", "top2.test", SPF_PERMERROR, "include:nx.test");
	/* softfail/neutral/fail inside: no match, go on */
	expect(&f, "192.0.2.9", "soft.test", SPF_PASS, "ip4:192.0.2.9 in +include:p.test");
	expect(&f, "192.0.2.8", "soft.test", SPF_FAIL, "-all");
	fake_free(&f);
}

static void test_temperror(void **state)
{
	struct fake f = { 0 };

	(void)state;
	fake_add(&f, "top.test", DNS_T_TXT, "v=spf1 include:broken.test +all");
	fake_status(&f, "broken.test", DNS_T_TXT, DNS_SERVFAIL);
	fake_add(&f, "a.test", DNS_T_TXT, "v=spf1 a:slow.test +all");
	fake_status(&f, "slow.test", DNS_T_A, DNS_TIMEOUT);
	fake_add(&f, "mx.test", DNS_T_TXT, "v=spf1 mx +all");
	fake_add(&f, "mx.test", DNS_T_MX, "10 mxhost.test");
	fake_status(&f, "mxhost.test", DNS_T_A, DNS_SERVFAIL);
	fake_add(&f, "deep.test", DNS_T_TXT, "v=spf1 include:a.test -all");
	fake_status(&f, "self.test", DNS_T_TXT, DNS_SERVFAIL);
	/* ptr: a PTR lookup error is no match, not temperror (§5.5) */
	fake_add(&f, "ptr.test", DNS_T_TXT, "v=spf1 ptr -all");
	fake_status(&f, "1.2.0.192.in-addr.arpa", DNS_T_PTR, DNS_SERVFAIL);

	expect(&f, "192.0.2.1", "top.test", SPF_TEMPERROR, "include:broken.test");
	expect(&f, "192.0.2.1", "a.test", SPF_TEMPERROR, "a:slow.test");
	expect(&f, "192.0.2.1", "mx.test", SPF_TEMPERROR, "mx");
	expect(&f, "192.0.2.1", "deep.test", SPF_TEMPERROR, "a:slow.test in include:a.test");
	expect(&f, "192.0.2.1", "self.test", SPF_TEMPERROR, NULL);
	expect(&f, "192.0.2.1", "ptr.test", SPF_FAIL, "-all");
	fake_free(&f);
}

static void test_ipv6(void **state)
{
	struct fake f = { 0 };

	(void)state;
	fake_add(&f, "v6.test", DNS_T_TXT, "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all");
	fake_add(&f, "dual.test", DNS_T_TXT, "v=spf1 a:host.dual.test/24//64 mx/28//48 -all");
	fake_add(&f, "host.dual.test", DNS_T_A, "198.51.100.10");
	fake_add(&f, "host.dual.test", DNS_T_AAAA, "2001:db8:1:2::5");
	fake_add(&f, "dual.test", DNS_T_MX, "10 mx.dual.test");
	fake_add(&f, "mx.dual.test", DNS_T_A, "203.0.113.20");
	fake_add(&f, "mx.dual.test", DNS_T_AAAA, "2001:db8:aaaa::1");

	expect(&f, "2001:db8::1", "v6.test", SPF_PASS, "ip6:2001:db8::/32");
	expect(&f, "2001:db9::1", "v6.test", SPF_FAIL, "-all");
	expect(&f, "192.0.2.77", "v6.test", SPF_PASS, "ip4:192.0.2.0/24");
	/* an IPv4-mapped client is IPv4 */
	expect(&f, "::ffff:192.0.2.77", "v6.test", SPF_PASS, "ip4:192.0.2.0/24");
	/* ip4 does not match an IPv6 client whose bits happen to agree */
	expect(&f, "c000:0201::", "v6.test", SPF_FAIL, "-all");

	expect(&f, "2001:db8:1:2::99", "dual.test", SPF_PASS, "a:host.dual.test/24//64");
	expect(&f, "2001:db8:1:3::1", "dual.test", SPF_FAIL, "-all");
	expect(&f, "198.51.100.200", "dual.test", SPF_PASS, "a:host.dual.test/24//64");
	expect(&f, "198.51.101.1", "dual.test", SPF_FAIL, "-all");
	expect(&f, "2001:db8:aaaa:ffff::1", "dual.test", SPF_PASS, "mx/28//48");
	expect(&f, "2001:db8:aaab::1", "dual.test", SPF_FAIL, "-all");
	expect(&f, "203.0.113.31", "dual.test", SPF_PASS, "mx/28//48");
	expect(&f, "203.0.113.32", "dual.test", SPF_FAIL, "-all");
	fake_free(&f);
}

static void expand_is(const char *spec, const char *ip, const char *want)
{
	struct err err;
	char *got;

	err_clear(&err);
	got = spf_macro_expand(spec, ip, "email.example.com", "strong-bad@email.example.com", "mx.example.org", &err);
	if (got == NULL || strcmp(got, want) != 0) {
		print_message("%s: got '%s' (%s), want '%s'\n", spec, got ? got : "(null)", err.msg, want);
		fail();
	}
	free(got);
}

/* RFC 7208 §7.4. */
static void test_macro_examples(void **state)
{
	const char *v4 = "192.0.2.3", *v6 = "2001:db8::cb01";
	struct err err;

	(void)state;
	expand_is("%{s}", v4, "strong-bad@email.example.com");
	expand_is("%{o}", v4, "email.example.com");
	expand_is("%{d}", v4, "email.example.com");
	expand_is("%{d4}", v4, "email.example.com");
	expand_is("%{d3}", v4, "email.example.com");
	expand_is("%{d2}", v4, "example.com");
	expand_is("%{d1}", v4, "com");
	expand_is("%{dr}", v4, "com.example.email");
	expand_is("%{d2r}", v4, "example.email");
	expand_is("%{l}", v4, "strong-bad");
	expand_is("%{l-}", v4, "strong.bad");
	expand_is("%{lr}", v4, "strong-bad");
	expand_is("%{lr-}", v4, "bad.strong");
	expand_is("%{l1r-}", v4, "strong");
	expand_is("%{ir}.%{v}._spf.%{d2}", v4, "3.2.0.192.in-addr._spf.example.com");
	expand_is("%{lr-}.lp._spf.%{d2}", v4, "bad.strong.lp._spf.example.com");
	expand_is("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", v4, "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
	expand_is("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", v4, "3.2.0.192.in-addr.strong.lp._spf.example.com");
	expand_is("%{d2}.trusted-domains.example.net", v4, "example.com.trusted-domains.example.net");
	expand_is("%{ir}.%{v}._spf.%{d2}", v6,
		  "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
	expand_is("%{i}", v4, "192.0.2.3");
	expand_is("%{p}.%{h}", v4, "unknown.mx.example.org");
	expand_is("%%%_%-", v4, "% %20");
	expand_is("%{L}", v4, "strong-bad");
	expand_is("%{S}", v4, "strong-bad%40email.example.com");

	err_clear(&err);
	assert_null(spf_macro_expand("%{x}", v4, "d.example", NULL, NULL, &err));
	assert_non_null(strstr(err.msg, "unknown macro letter"));
	/* the null sender is postmaster@helo */
	{
		char *s = spf_macro_expand("%{l}@%{o}", v4, "d.example", "", "helo.example", &err);
		assert_string_equal(s, "postmaster@helo.example");
		free(s);
	}
}

/* Macros at work in check_host: exists with %{ir}, %{l} and %{d}. */
static void test_macro_in_evaluation(void **state)
{
	struct fake f = { 0 };

	(void)state;
	fake_add(&f, "example.com", DNS_T_TXT, "v=spf1 -exists:%{ir}.bl.test exists:%{l}.%{d}.ok.test ?all");
	fake_add(&f, "9.2.0.192.bl.test", DNS_T_A, "127.0.0.2");
	fake_add(&f, "user.example.com.ok.test", DNS_T_A, "127.0.0.2");
	expect(&f, "192.0.2.9", "example.com", SPF_FAIL, "-exists:%{ir}.bl.test");
	expect(&f, "192.0.2.10", "example.com", SPF_PASS, "exists:%{l}.%{d}.ok.test");
	fake_free(&f);
}

static void test_lint(void **state)
{
	struct fake f = { 0 };
	struct dns_resolver_ref r = ref(&f);
	struct spf_lint l;

	(void)state;
	fake_add(&f, "lint.test", DNS_T_TXT,
		 "v=spf1 a mx ptr include:i1.test include:gone.test exists:%{i}.x.test a:nx.test +all redirect=r.test");
	fake_add(&f, "lint.test", DNS_T_A, "192.0.2.1");
	fake_add(&f, "lint.test", DNS_T_MX, "10 lint.test");
	fake_add(&f, "i1.test", DNS_T_TXT, "v=spf1 include:i2.test a:nx2.test ?all");
	fake_add(&f, "i2.test", DNS_T_TXT, "v=spf1 mx:i1.test +all");
	fake_add(&f, "i1.test", DNS_T_MX, "10 lint.test");
	fake_add(&f, "gone.test", DNS_T_A, "192.0.2.1");

	assert_true(spf_lint(&r, "lint.test", &l));
	assert_int_equal(l.fetch, SPF_PASS);
	assert_int_equal(l.records, 1);
	assert_null(l.syntax_error);
	/* a mx ptr include include exists a (7) + include a (2) + mx (1) = 10;
	 * redirect is ignored because of +all */
	assert_int_equal(l.dns_terms, 10);
	assert_int_equal(l.void_lookups, 2);          /* nx.test, nx2.test */
	assert_true(l.plus_all);
	assert_false(l.question_all);                 /* ?all is in an include */
	assert_true(l.plus_all_in_include);
	assert_true(l.uses_ptr);
	assert_true(l.redirect_ignored);
	assert_true(l.include_missing);
	assert_non_null(l.first_problem);
	spf_lint_free(&l);
	fake_free(&f);

	r = ref(&f);
	fake_add(&f, "q.test", DNS_T_TXT, "v=spf1 redirect=_spf.q.test");
	fake_add(&f, "_spf.q.test", DNS_T_TXT, "v=spf1 ip4:192.0.2.0/24 ?all");
	fake_add(&f, "two.test", DNS_T_TXT, "v=spf1 -all");
	fake_add(&f, "two.test", DNS_T_TXT, "v=spf1 ~all");
	fake_add(&f, "bad.test", DNS_T_TXT, "v=spf1 ip4:300.1.1.1 -all");
	fake_add(&f, "loop.test", DNS_T_TXT, "v=spf1 include:loop.test -all");
	fake_status(&f, "fail.test", DNS_T_TXT, DNS_SERVFAIL);

	assert_true(spf_lint(&r, "q.test", &l));
	assert_true(l.question_all);                  /* via redirect: the domain's all */
	assert_int_equal(l.dns_terms, 1);
	assert_false(l.redirect_ignored);
	spf_lint_free(&l);
	assert_true(spf_lint(&r, "two.test", &l));
	assert_int_equal(l.records, 2);
	assert_int_equal(l.fetch, SPF_PERMERROR);
	spf_lint_free(&l);
	assert_true(spf_lint(&r, "bad.test", &l));
	assert_int_equal(l.fetch, SPF_PERMERROR);
	assert_non_null(strstr(l.syntax_error, "ip4:300.1.1.1"));
	spf_lint_free(&l);
	assert_true(spf_lint(&r, "loop.test", &l));
	assert_true(l.dns_terms_capped);
	assert_true(l.dns_terms > 10);
	spf_lint_free(&l);
	assert_true(spf_lint(&r, "fail.test", &l));
	assert_int_equal(l.fetch, SPF_TEMPERROR);
	spf_lint_free(&l);
	assert_true(spf_lint(&r, "none.test", &l));
	assert_int_equal(l.fetch, SPF_NONE);
	assert_int_equal(l.records, 0);
	spf_lint_free(&l);
	fake_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_appendix_a1),
		cmocka_unit_test(test_appendix_a4),
		cmocka_unit_test(test_include_chain_10_ok_11_permerror),
		cmocka_unit_test(test_libspf2_limit_per_evaluation),
		cmocka_unit_test(test_libspf2_void_lookups),
		cmocka_unit_test(test_mx_limit),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_syntax_error_is_permerror),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_include_results),
		cmocka_unit_test(test_temperror),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_macro_examples),
		cmocka_unit_test(test_macro_in_evaluation),
		cmocka_unit_test(test_lint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
