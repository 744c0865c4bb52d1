/* test_dns_check.c — src/dns/check.c against a table-driven fake DNS that
 * mirrors the lab's zones (lab/README.md, "The DNS lab"): migration.test in
 * the states old / both / new, and broken.test with one fault per name;
 * plus the authoritative view (serials, AA) through a fake make_auth.
 *
 * The fake: (name, type, ttl, data) rows; a name with rows of other types
 * answers NOERROR/NODATA, an unknown name NXDOMAIN; a CNAME row is
 * returned and followed for other types, as a server does.
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
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/alloc.h"
#include "dns/check.h"

struct row {
	char *name;
	uint16_t type;
	uint32_t ttl;
	char *data;     /* A/AAAA address, MX "pref host" ("0 " null MX), NS/CNAME/PTR target,
			 * TXT text, SOA serial */
};

struct fake {
	struct row *r;
	size_t n;
	bool not_aa;
	bool down;      /* answers nothing (timeout) */
};

static void add(struct fake *f, const char *name, uint16_t type, uint32_t ttl, const char *data)
{
	f->r = xreallocarray(f->r, f->n + 1, sizeof(*f->r));
	f->r[f->n].name = xstrdup(name);
	f->r[f->n].type = type;
	f->r[f->n].ttl = ttl;
	f->r[f->n].data = xstrdup(data);
	f->n++;
}

static void fake_free(struct fake *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->r[i].name);
		free(f->r[i].data);
	}
	free(f->r);
	memset(f, 0, sizeof(*f));
}

static void put_rr(struct dns_answer *out, const struct row *e)
{
	struct dns_rr *rr;

	out->rr = xreallocarray(out->rr, out->n + 1, sizeof(*out->rr));
	rr = &out->rr[out->n++];
	memset(rr, 0, sizeof(*rr));
	rr->name = xstrdup(e->name);
	rr->type = e->type;
	rr->ttl = e->ttl;
	switch (e->type) {
	case DNS_T_A:
		rr->family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, e->data, rr->addr), 1);
		break;
	case DNS_T_AAAA:
		rr->family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, e->data, rr->addr), 1);
		break;
	case DNS_T_MX:
		rr->preference = (uint16_t)atoi(e->data);
		rr->target = xstrdup(strchr(e->data, ' ') + 1);
		break;
	case DNS_T_NS:
	case DNS_T_CNAME:
	case DNS_T_PTR:
		rr->target = xstrdup(e->data);
		break;
	case DNS_T_TXT:
		rr->text = xstrdup(e->data);
		break;
	case DNS_T_SOA:
		rr->soa.mname = xstrdup("ns1");
		rr->soa.rname = xstrdup("hostmaster");
		rr->soa.serial = (uint32_t)strtoul(e->data, NULL, 10);
		break;
	}
}

static bool fake_lookup(void *ctx, const char *name, uint16_t type, struct dns_answer *out,
			struct err *err)
{
	struct fake *f = ctx;
	char cur[256];

	(void)err;
	if (f->down) {
		out->status = DNS_TIMEOUT;
		return true;
	}
	out->authoritative = !f->not_aa;
	snprintf(cur, sizeof(cur), "%s", name);
	for (int hop = 0; hop < 8; hop++) {
		bool exists = false, found = false;
		const struct row *cname = NULL;

		for (size_t i = 0; i < f->n; i++) {
			if (strcasecmp(f->r[i].name, cur) != 0)
				continue;
			exists = true;
			if (f->r[i].type == type) {
				put_rr(out, &f->r[i]);
				found = true;
			} else if (f->r[i].type == DNS_T_CNAME) {
				cname = &f->r[i];
			}
		}
		if (!exists) {
			out->status = DNS_NXDOMAIN;
			return true;
		}
		if (found || cname == NULL) {
			out->status = DNS_NOERROR;
			return true;
		}
		put_rr(out, cname);
		snprintf(cur, sizeof(cur), "%s", cname->data);
	}
	out->status = DNS_SERVFAIL;
	return true;
}

/* ------------------------------------------------------------ keys */

static EVP_PKEY *k2048, *k2048b, *k1024, *k512;
static char pem_new[64], pem_other[64];

static char *spki_b64(EVP_PKEY *k)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);
	char *o;

	assert_true(n > 0);
	o = xcalloc(1, (size_t)n * 2 + 4);
	EVP_EncodeBlock((unsigned char *)o, der, n);
	OPENSSL_free(der);
	return o;
}

static char *dkim_txt(EVP_PKEY *k)
{
	char *b = spki_b64(k), *t = xasprintf("v=DKIM1; k=rsa; p=%s", b);

	free(b);
	return t;
}

static void write_pem(char *path, EVP_PKEY *k)
{
	int fd;
	FILE *f;

	strcpy(path, "/tmp/test_dns_check.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	k2048 = EVP_RSA_gen(2048);
	k2048b = EVP_RSA_gen(2048);
	k1024 = EVP_RSA_gen(1024);
	k512 = EVP_RSA_gen(512);
	if (!k2048 || !k2048b || !k1024 || !k512)
		return -1;
	write_pem(pem_new, k2048b);
	write_pem(pem_other, k1024);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(pem_new);
	unlink(pem_other);
	EVP_PKEY_free(k2048);
	EVP_PKEY_free(k2048b);
	EVP_PKEY_free(k1024);
	EVP_PKEY_free(k512);
	return 0;
}

/* ------------------------------------------------------------ zones */

static void hosts(struct fake *f)
{
	add(f, "mx.old-host.test", DNS_T_A, 300, "192.0.2.10");
	add(f, "mx.new-host.test", DNS_T_A, 300, "198.51.100.20");
	add(f, "10.2.0.192.in-addr.arpa", DNS_T_PTR, 300, "mx.old-host.test");
	add(f, "20.100.51.198.in-addr.arpa", DNS_T_PTR, 300, "mx.new-host.test");
}

/* The recursive view of migration.test in a state of the lab. */
static void migration(struct fake *f, const char *state)
{
	const char *d = "migration.test";
	bool old = strcmp(state, "old") == 0;
	char *t;

	hosts(f);
	add(f, d, DNS_T_NS, 3600, "ns1.migration.test");
	add(f, d, DNS_T_NS, 3600, "ns2.migration.test");
	add(f, "ns1.migration.test", DNS_T_A, 3600, "192.0.2.53");
	add(f, "ns2.migration.test", DNS_T_A, 3600, "192.0.2.54");
	add(f, d, DNS_T_SOA, 3600, "2026010101");
	add(f, d, DNS_T_MX, old ? 86400 : 300,
	    strcmp(state, "new") == 0 ? "10 mx.new-host.test" : "10 mx.old-host.test");
	add(f, d, DNS_T_TXT, 300, old ? "v=spf1 ip4:192.0.2.10 -all"
				    : "v=spf1 ip4:192.0.2.10 ip4:198.51.100.20 -all");
	add(f, "_dmarc.migration.test", DNS_T_TXT, 300,
	    "v=DMARC1; p=quarantine; rua=mailto:dmarc@migration.test");
	t = dkim_txt(k2048);
	add(f, "default._domainkey.migration.test", DNS_T_TXT, 300, t);
	free(t);
	if (!old) {
		t = dkim_txt(k2048b);
		add(f, "ms2026._domainkey.migration.test", DNS_T_TXT, 300, t);
		free(t);
	}
}

static void broken(struct fake *f)
{
	const char *b = "broken.test";
	char name[128], *t, *k;

	hosts(f);
	add(f, b, DNS_T_NS, 3600, "ns1.broken.test");
	add(f, "ns1.broken.test", DNS_T_A, 3600, "192.0.2.53");
	add(f, b, DNS_T_TXT, 300, "v=spf1 ip4:192.0.2.10 -all");
	add(f, b, DNS_T_TXT, 300, "v=spf1 ip4:198.51.100.20 -all");
	add(f, "lookups.broken.test", DNS_T_TXT, 300,
	    "v=spf1 include:i1.broken.test include:i2.broken.test -all");
	add(f, "i1.broken.test", DNS_T_TXT, 300,
	    "v=spf1 a:h1.broken.test a:h2.broken.test a:h3.broken.test include:i3.broken.test -all");
	add(f, "i2.broken.test", DNS_T_TXT, 300,
	    "v=spf1 a:h4.broken.test a:h5.broken.test a:h6.broken.test -all");
	add(f, "i3.broken.test", DNS_T_TXT, 300, "v=spf1 a:h7.broken.test a:h8.broken.test -all");
	for (int i = 1; i <= 8; i++) {
		char ip[32];

		snprintf(name, sizeof(name), "h%d.broken.test", i);
		snprintf(ip, sizeof(ip), "203.0.113.%d", i);
		add(f, name, DNS_T_A, 300, ip);
	}
	add(f, "plusall.broken.test", DNS_T_TXT, 300, "v=spf1 +all");
	add(f, "neutral.broken.test", DNS_T_TXT, 300, "v=spf1 ip4:192.0.2.10 ?all");
	add(f, "ptr.broken.test", DNS_T_TXT, 300, "v=spf1 ptr -all");
	add(f, "void.broken.test", DNS_T_TXT, 300,
	    "v=spf1 a:nx1.void.broken.test a:nx2.void.broken.test a:nx3.void.broken.test -all");
	add(f, "syntax.broken.test", DNS_T_TXT, 300, "v=spf1 ip4:999.1.1.1 foo:bar -al");
	add(f, "badmarc.broken.test", DNS_T_TXT, 300, "v=spf1 ip4:192.0.2.10 -all");
	add(f, "_dmarc.badmarc.broken.test", DNS_T_TXT, 300, "p=reject; v=DMARC1");
	add(f, "twodmarc.broken.test", DNS_T_TXT, 300, "v=spf1 ip4:192.0.2.10 -all");
	add(f, "_dmarc.twodmarc.broken.test", DNS_T_TXT, 300, "v=DMARC1; p=none");
	add(f, "_dmarc.twodmarc.broken.test", DNS_T_TXT, 300, "v=DMARC1; p=reject");
	k = spki_b64(k2048);
	t = xasprintf("v=DKIM1; k=rsa; p=%.196s", k);
	add(f, "trunc._domainkey.broken.test", DNS_T_TXT, 300, t);
	free(t);
	free(k);
	t = dkim_txt(k512);
	add(f, "weak._domainkey.broken.test", DNS_T_TXT, 300, t);
	free(t);
	t = dkim_txt(k1024);
	add(f, "short._domainkey.broken.test", DNS_T_TXT, 300, t);
	free(t);
	add(f, "revoked._domainkey.broken.test", DNS_T_TXT, 300, "v=DKIM1; k=rsa; p=");
	add(f, "cnamemx.broken.test", DNS_T_MX, 300, "10 alias.broken.test");
	add(f, "alias.broken.test", DNS_T_CNAME, 300, "mx.old-host.test");
	add(f, "noaddr.broken.test", DNS_T_MX, 300, "10 noaddr-mx.broken.test");
	add(f, "noaddr-mx.broken.test", DNS_T_TXT, 300, "exists");
	add(f, "nullmx.broken.test", DNS_T_MX, 300, "0 ");
	/* rDNS faults (not in the lab) */
	add(f, "nordns.broken.test", DNS_T_MX, 300, "10 nordns-mx.broken.test");
	add(f, "nordns-mx.broken.test", DNS_T_A, 300, "203.0.113.77");
	add(f, "badrdns.broken.test", DNS_T_MX, 300, "10 badrdns-mx.broken.test");
	add(f, "badrdns-mx.broken.test", DNS_T_A, 300, "203.0.113.78");
	add(f, "78.113.0.203.in-addr.arpa", DNS_T_PTR, 300, "elsewhere.broken.test");
	add(f, "elsewhere.broken.test", DNS_T_A, 300, "203.0.113.99");
	/* MTA-STS and TLS-RPT (not in the lab) */
	add(f, "_mta-sts.sts.broken.test", DNS_T_TXT, 300, "v=STSv1; id=20260101T000000");
	add(f, "_smtp._tls.sts.broken.test", DNS_T_TXT, 300,
	    "v=TLSRPTv1; rua=mailto:tls@broken.test,https://r.broken.test/tls");
	add(f, "_mta-sts.badsts.broken.test", DNS_T_TXT, 300, "v=STSv1; id=not-alnum!");
	add(f, "_smtp._tls.badsts.broken.test", DNS_T_TXT, 300, "v=TLSRPTv1; rua=ftp://x");
	add(f, "_mta-sts.nosts.broken.test", DNS_T_TXT, 300, "v=STSv1");
}

/* ------------------------------------------------------------ auth fakes */

struct auth_table {
	const char *ip[4];
	struct fake *f[4];
	unsigned made, freed;
};

static bool fake_make_auth(void *ctx, const char *ip, dns_lookup_fn *lookup_r, void **lctx_r,
			   struct err *err)
{
	struct auth_table *t = ctx;

	for (int i = 0; i < 4 && t->ip[i]; i++) {
		if (strcmp(t->ip[i], ip) == 0) {
			*lookup_r = fake_lookup;
			*lctx_r = t->f[i];
			t->made++;
			return true;
		}
	}
	err_set(err, ERR_SCOPE_NONE, ERR_KIND_CONNECT, false, "no such server %s", ip);
	return false;
}

static void fake_free_auth(void *ctx, void *lctx)
{
	struct auth_table *t = ctx;

	(void)lctx;
	t->freed++;
}

#define NOW ((time_t)1767225600)   /* 2026-01-01 00:00:00 UTC */

struct world {
	struct fake rec, ns1, ns2;
	struct auth_table auth;
	struct check_input in;
	struct check_report rep;
	const char *domains[1];
};

static void world_init(struct world *w, const char *domain)
{
	memset(w, 0, sizeof(*w));
	w->domains[0] = domain;
	add(&w->ns1, "migration.test", DNS_T_SOA, 3600, "2026010101");
	add(&w->ns2, "migration.test", DNS_T_SOA, 3600, "2026010101");
	w->auth.ip[0] = "192.0.2.53";
	w->auth.f[0] = &w->ns1;
	w->auth.ip[1] = "192.0.2.54";
	w->auth.f[1] = &w->ns2;
	w->in.domains = w->domains;
	w->in.n_domains = 1;
	w->in.old_side = (struct check_side){ "mx.old-host.test", "192.0.2.10", "default", NULL };
	w->in.new_side = (struct check_side){ "mx.new-host.test", "198.51.100.20", "ms2026", pem_new };
	w->in.dns.lookup = fake_lookup;
	w->in.dns.ctx = &w->rec;
	w->in.make_auth = fake_make_auth;
	w->in.free_auth = fake_free_auth;
	w->in.auth_ctx = &w->auth;
	w->in.now = NOW;
}

static void world_run(struct world *w)
{
	struct err err;

	err_clear(&err);
	assert_true(check_run(&w->in, &w->rep, &err));
	assert_int_equal(w->auth.made, w->auth.freed);
}

static void world_free(struct world *w)
{
	check_report_free(&w->rep);
	fake_free(&w->rec);
	fake_free(&w->ns1);
	fake_free(&w->ns2);
}

static void dump(const struct check_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		fprintf(stderr, "  %s %-5s %-22s %s | %s\n", r->items[i].domain,
			check_status_name(r->items[i].status), r->items[i].code, r->items[i].message,
			r->items[i].advice);
}

/* The item with code must exist with status st; returns it. */
static const struct check_item *expect(const struct check_report *r, const char *domain,
				       const char *code, enum check_status st)
{
	const struct check_item *it = check_report_find(r, domain, code);

	if (it == NULL || it->status != st) {
		dump(r);
		fail_msg("%s: expected %s %s, got %s", domain, check_status_name(st), code,
			 it ? check_status_name(it->status) : "nothing");
	}
	assert_non_null(it->advice);
	assert_true(strlen(it->advice) > 0);
	return it;
}

static void absent(const struct check_report *r, const char *code)
{
	if (check_report_find(r, NULL, code) != NULL) {
		dump(r);
		fail_msg("unexpected item %s", code);
	}
}

/* Any FAIL item with a message containing text. */
static bool fail_with(const struct check_report *r, const char *code, const char *text)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].status == CHECK_FAIL && strcmp(r->items[i].code, code) == 0 &&
		    strstr(r->items[i].message, text) != NULL)
			return true;
	return false;
}

/* ------------------------------------------------------------ tests */

static void test_state_old(void **state)
{
	struct world w;
	const struct check_item *it;

	(void)state;
	world_init(&w, "migration.test");
	migration(&w.rec, "old");
	world_run(&w);

	expect(&w.rep, "migration.test", "ns.serial", CHECK_OK);
	assert_int_equal(w.auth.made, 2);
	it = expect(&w.rep, "migration.test", "mx.ttl-high", CHECK_WARN);
	assert_non_null(strstr(it->message, "86400"));
	assert_non_null(strstr(it->advice, "lower the MX TTL to 300 s now"));
	assert_non_null(strstr(it->advice, "2026-01-02 00:00:00 UTC"));
	assert_int_equal(w.rep.earliest_cutover, NOW + 86400);
	expect(&w.rep, "migration.test", "mx.fcrdns", CHECK_OK);
	absent(&w.rep, "mx.switched");

	expect(&w.rep, "migration.test", "spf.lint", CHECK_OK);
	assert_true(fail_with(&w.rep, "spf.ip-not-pass", "198.51.100.20"));
	assert_false(fail_with(&w.rep, "spf.ip-not-pass", "192.0.2.10"));
	it = expect(&w.rep, "migration.test", "spf.ip-not-pass", CHECK_FAIL);
	assert_non_null(strstr(it->advice, "add ip4:198.51.100.20 to the SPF record"));
	assert_non_null(strstr(it->message, "-all"));   /* the mechanism that decided */
	expect(&w.rep, "migration.test", "spf.ip-pass", CHECK_OK);

	expect(&w.rep, "migration.test", "dkim.key", CHECK_OK);         /* default */
	it = expect(&w.rep, "migration.test", "dkim.missing", CHECK_FAIL);
	assert_non_null(strstr(it->message, "ms2026"));
	expect(&w.rep, "migration.test", "dmarc.record", CHECK_OK);
	expect(&w.rep, "migration.test", "dmarc.org-domain", CHECK_INFO);
	expect(&w.rep, "migration.test", "dmarc.not-aligned", CHECK_WARN);
	expect(&w.rep, "migration.test", "mta-sts.none", CHECK_INFO);
	expect(&w.rep, "migration.test", "mta-sts.policy-not-checked", CHECK_INFO);
	expect(&w.rep, "migration.test", "tlsrpt.none", CHECK_INFO);
	absent(&w.rep, "smtp.not-implemented");
	/* sections come in order */
	for (size_t i = 1; i < w.rep.n; i++)
		assert_true(w.rep.items[i - 1].section <= w.rep.items[i].section);
	world_free(&w);
}

static void test_state_both(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "migration.test");
	migration(&w.rec, "both");
	w.in.smtp = true;
	world_run(&w);
	expect(&w.rep, "migration.test", "mx.ttl-ready", CHECK_OK);
	assert_int_equal(w.rep.earliest_cutover, 0);
	absent(&w.rep, "mx.ttl-high");
	absent(&w.rep, "spf.ip-not-pass");
	assert_int_equal(check_report_count(&w.rep, CHECK_FAIL), 0);
	assert_int_equal(check_report_count(&w.rep, CHECK_WARN), 0);
	expect(&w.rep, "migration.test", "dkim.key-match", CHECK_OK);
	expect(&w.rep, "migration.test", "dmarc.aligned", CHECK_OK);
	expect(&w.rep, "migration.test", "smtp.not-implemented", CHECK_INFO);
	world_free(&w);
}

static void test_state_new(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "migration.test");
	migration(&w.rec, "new");
	world_run(&w);
	expect(&w.rep, "migration.test", "mx.switched", CHECK_OK);
	absent(&w.rep, "mx.ttl-ready");
	assert_int_equal(check_report_count(&w.rep, CHECK_FAIL), 0);
	world_free(&w);
}

static void test_key_mismatch(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "migration.test");
	migration(&w.rec, "both");
	w.in.new_side.dkim_key = pem_other;
	world_run(&w);
	expect(&w.rep, "migration.test", "dkim.key-mismatch", CHECK_FAIL);
	absent(&w.rep, "dkim.key-match");
	check_report_free(&w.rep);
	w.in.new_side.dkim_key = "/nonexistent/key.pem";
	world_run(&w);
	expect(&w.rep, "migration.test", "dkim.private-key", CHECK_FAIL);
	world_free(&w);
}

static void test_auth_view(void **state)
{
	struct world w;
	const struct check_item *it;

	(void)state;
	world_init(&w, "migration.test");
	migration(&w.rec, "both");
	free(w.ns2.r[0].data);
	w.ns2.r[0].data = xstrdup("2026010100");
	world_run(&w);
	it = expect(&w.rep, "migration.test", "ns.serial-mismatch", CHECK_WARN);
	assert_non_null(strstr(it->message, "ns2.migration.test"));
	assert_non_null(strstr(it->message, "still serves serial 2026010100"));
	absent(&w.rep, "ns.serial");
	check_report_free(&w.rep);

	w.ns2.not_aa = true;
	world_run(&w);
	it = expect(&w.rep, "migration.test", "ns.not-authoritative", CHECK_FAIL);
	assert_non_null(strstr(it->message, "ns2.migration.test"));
	check_report_free(&w.rep);

	w.ns2.not_aa = false;
	w.ns2.down = true;
	world_run(&w);
	expect(&w.rep, "migration.test", "ns.no-answer", CHECK_FAIL);
	check_report_free(&w.rep);

	/* no way to ask the servers: said, not failed */
	w.ns2.down = false;
	w.in.make_auth = NULL;
	world_run(&w);
	expect(&w.rep, "migration.test", "ns.skipped", CHECK_INFO);
	world_free(&w);
}

struct broken_case {
	const char *domain;
	const char *old_selector;
	const char *code;
	enum check_status st;
	const char *in_message;
};

static void test_broken(void **state)
{
	static const struct broken_case cases[] = {
		{ "broken.test", NULL, "spf.multiple", CHECK_FAIL, "2 SPF records" },
		{ "lookups.broken.test", NULL, "spf.too-many-lookups", CHECK_FAIL, "11 DNS lookups" },
		{ "plusall.broken.test", NULL, "spf.plus-all", CHECK_FAIL, "+all" },
		{ "neutral.broken.test", NULL, "spf.neutral-all", CHECK_WARN, "?all" },
		{ "ptr.broken.test", NULL, "spf.ptr", CHECK_WARN, "ptr" },
		{ "void.broken.test", NULL, "spf.void-lookups", CHECK_FAIL, "3 void lookups" },
		{ "syntax.broken.test", NULL, "spf.syntax", CHECK_FAIL, "syntax" },
		{ "badmarc.broken.test", NULL, "dmarc.malformed", CHECK_FAIL, "p=reject; v=DMARC1" },
		{ "twodmarc.broken.test", NULL, "dmarc.multiple", CHECK_FAIL, "2 DMARC records" },
		{ "broken.test", "trunc", "dkim.invalid", CHECK_FAIL, "trunc" },
		{ "broken.test", "weak", "dkim.weak-key", CHECK_FAIL, "512-bit" },
		{ "broken.test", "short", "dkim.short-key", CHECK_WARN, "1024-bit" },
		{ "broken.test", "revoked", "dkim.revoked", CHECK_FAIL, "revoked" },
		{ "cnamemx.broken.test", NULL, "mx.cname", CHECK_FAIL, "alias.broken.test" },
		{ "noaddr.broken.test", NULL, "mx.no-address", CHECK_FAIL, "noaddr-mx.broken.test" },
		{ "nullmx.broken.test", NULL, "mx.null", CHECK_FAIL, "null MX" },
		{ "nordns.broken.test", NULL, "mx.rdns-missing", CHECK_WARN, "203.0.113.77" },
		{ "badrdns.broken.test", NULL, "mx.fcrdns-mismatch", CHECK_WARN, "elsewhere" },
		{ "sts.broken.test", NULL, "mta-sts.record", CHECK_OK, "STSv1" },
		{ "sts.broken.test", NULL, "tlsrpt.record", CHECK_OK, "TLSRPTv1" },
		{ "badsts.broken.test", NULL, "mta-sts.invalid", CHECK_WARN, "id=" },
		{ "badsts.broken.test", NULL, "tlsrpt.invalid", CHECK_WARN, "ftp://x" },
		{ "nosts.broken.test", NULL, "mta-sts.invalid", CHECK_WARN, "id= is missing" },
		{ "nosts.broken.test", NULL, "ns.nxdomain", CHECK_FAIL, "NXDOMAIN" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct broken_case *c = &cases[i];
		const struct check_item *it;
		struct world w;

		world_init(&w, c->domain);
		broken(&w.rec);
		w.in.old_side = (struct check_side){ NULL, NULL, c->old_selector, NULL };
		w.in.new_side = (struct check_side){ NULL, NULL, NULL, NULL };
		world_run(&w);
		it = expect(&w.rep, c->domain, c->code, c->st);
		if (strstr(it->message, c->in_message) == NULL) {
			dump(&w.rep);
			fail_msg("%s %s: message lacks '%s'", c->domain, c->code, c->in_message);
		}
		world_free(&w);
	}
}

/* The null MX and CNAME cases do not also claim the domain is fine. */
static void test_broken_no_false_ok(void **state)
{
	struct world w;

	(void)state;
	world_init(&w, "nullmx.broken.test");
	broken(&w.rec);
	world_run(&w);
	absent(&w.rep, "mx.ttl-ready");
	absent(&w.rep, "mx.address");
	world_free(&w);

	world_init(&w, "cnamemx.broken.test");
	broken(&w.rec);
	world_run(&w);
	/* the alias does resolve: the address is shown, but the CNAME fails */
	expect(&w.rep, "cnamemx.broken.test", "mx.address", CHECK_OK);
	assert_true(check_report_count(&w.rep, CHECK_FAIL) > 0);
	world_free(&w);
}

static void test_bad_input(void **state)
{
	struct world w;
	struct check_report rep;
	struct err err;

	(void)state;
	world_init(&w, "migration.test");
	migration(&w.rec, "old");
	w.in.new_side.sending_ips = "198.51.100.20, 300.1.1.1";
	err_clear(&err);
	assert_false(check_run(&w.in, &rep, &err));
	assert_non_null(strstr(err.msg, "300.1.1.1"));
	assert_int_equal(rep.n, 0);
	w.in.new_side.sending_ips = NULL;
	w.in.n_domains = 0;
	err_clear(&err);
	assert_false(check_run(&w.in, &rep, &err));
	assert_non_null(strstr(err.msg, "--domain"));
	world_free(&w);
}

static void test_parse_ips(void **state)
{
	char **v;
	size_t n;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_true(check_parse_ips(" 192.0.2.10,2001:DB8::25  198.51.100.20,", "x", &v, &n, &err));
	assert_int_equal(n, 3);
	assert_string_equal(v[0], "192.0.2.10");
	assert_string_equal(v[1], "2001:db8::25");
	assert_string_equal(v[2], "198.51.100.20");
	assert_null(v[3]);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	assert_true(check_parse_ips(NULL, "x", &v, &n, &err));
	assert_int_equal(n, 0);
	assert_false(check_parse_ips("mx.example", "--new-ips", &v, &n, &err));
	assert_non_null(strstr(err.msg, "--new-ips"));
}

/* Two domains: items carry their domain, both are checked. */
static void test_two_domains(void **state)
{
	struct world w;
	const char *d[2] = { "migration.test", "plusall.broken.test" };

	(void)state;
	world_init(&w, "migration.test");
	migration(&w.rec, "both");
	broken(&w.rec);
	w.in.domains = d;
	w.in.n_domains = 2;
	world_run(&w);
	expect(&w.rep, "migration.test", "mx.ttl-ready", CHECK_OK);
	expect(&w.rep, "plusall.broken.test", "spf.plus-all", CHECK_FAIL);
	assert_null(check_report_find(&w.rep, "migration.test", "spf.plus-all"));
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_old),
		cmocka_unit_test(test_state_both),
		cmocka_unit_test(test_state_new),
		cmocka_unit_test(test_key_mismatch),
		cmocka_unit_test(test_auth_view),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_broken_no_false_ok),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_parse_ips),
		cmocka_unit_test(test_two_domains),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
