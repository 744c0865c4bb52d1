/* test_dns_msg.c — the DNS query builder and reply parser (proto/dns_msg.h)
 * and dns_answer_free. Replies are built with a small builder below, byte
 * by byte, so each malformation is exactly the one the test names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/alloc.h"
#include "proto/dns_msg.h"
#include "testutil.h"

/* ---- test-only reply builder ---- */

struct pkt {
	unsigned char b[70000];
	size_t n;
};

static void p8(struct pkt *p, unsigned v)
{
	p->b[p->n++] = (unsigned char)v;
}

static void p16(struct pkt *p, unsigned v)
{
	p8(p, v >> 8 & 0xff);
	p8(p, v & 0xff);
}

static void p32(struct pkt *p, uint32_t v)
{
	p16(p, v >> 16);
	p16(p, v & 0xffff);
}

static void pbytes(struct pkt *p, const void *d, size_t n)
{
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

/* Uncompressed name from "a.b.c" ("" is the root). */
static void pname(struct pkt *p, const char *s)
{
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		p8(p, (unsigned)l);
		pbytes(p, s, l);
		s += l;
		if (*s == '.')
			s++;
	}
	p8(p, 0);
}

static void pptr(struct pkt *p, unsigned off)
{
	p16(p, 0xc000 | off);
}

/* Header (QR set, RD RA) and one question. */
static void phead(struct pkt *p, unsigned id, unsigned flags_lo, const char *qname,
		  unsigned qtype, unsigned an, unsigned ns, unsigned ar)
{
	p->n = 0;
	p16(p, id);
	p8(p, 0x81 | (flags_lo >> 8));     /* QR, RD, plus AA/TC bits given */
	p8(p, 0x80 | (flags_lo & 0xff));   /* RA, RCODE */
	p16(p, 1);
	p16(p, an);
	p16(p, ns);
	p16(p, ar);
	pname(p, qname);
	p16(p, qtype);
	p16(p, 1);
}

/* RR head: owner as pointer to the question name (offset 12). */
static void prr(struct pkt *p, unsigned type, uint32_t ttl, unsigned rdlen)
{
	pptr(p, 12);
	p16(p, type);
	p16(p, 1);
	p32(p, ttl);
	p16(p, rdlen);
}

#define AA 0x400
#define TC 0x200

static bool parse(const struct pkt *p, unsigned id, const char *name, unsigned type,
		  struct dns_answer *a, struct err *e)
{
	err_clear(e);
	return dns_msg_parse(p->b, p->n, (uint16_t)id, name, (uint16_t)type, a, e);
}

static void assert_zeroed(const struct dns_answer *a)
{
	struct dns_answer z;
	memset(&z, 0, sizeof z);
	assert_memory_equal(a, &z, sizeof z);
}

static void assert_fails(const struct pkt *p, unsigned id, const char *name, unsigned type,
			 const char *why)
{
	struct dns_answer a;
	struct err e;

	assert_false(parse(p, id, name, type, &a, &e));
	assert_true(err_is_set(&e));
	assert_int_equal(e.kind, ERR_KIND_PROTOCOL);
	assert_contains(e.msg, why);
	assert_zeroed(&a);
}

/* ---- query builder ---- */

static void test_query_bytes(void **state)
{
	(void)state;
	struct buf b;
	static const unsigned char want[] = {
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1,
		7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'C', 'o', 'm', 0,
		0, 15, 0, 1,
		0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0,
	};

	buf_init(&b, 0);
	assert_true(dns_msg_query(&b, 0x1234, "Example.Com", DNS_T_MX, true, 1232));
	assert_int_equal(b.len, sizeof want);
	assert_memory_equal(b.data, want, sizeof want);

	/* No EDNS, no RD, trailing dot tolerated: same name on the wire. */
	buf_reset(&b);
	assert_true(dns_msg_query(&b, 7, "Example.Com.", DNS_T_MX, false, 0));
	assert_int_equal(b.len, 12 + 13 + 4);
	assert_int_equal((unsigned char)b.data[2], 0);
	assert_int_equal((unsigned char)b.data[11], 0);
	assert_memory_equal(b.data + 12, want + 12, 13);

	/* An EDNS size below 512 is raised to 512. */
	buf_reset(&b);
	assert_true(dns_msg_query(&b, 7, "a", DNS_T_A, true, 100));
	assert_int_equal((unsigned char)b.data[b.len - 8], 0x02);
	assert_int_equal((unsigned char)b.data[b.len - 7], 0x00);

	/* Bound reached: false, buffer unchanged. */
	struct buf small;
	buf_init(&small, 20);
	assert_false(dns_msg_query(&small, 7, "example.com", DNS_T_A, true, 0));
	assert_int_equal(small.len, 0);
	buf_free(&small);
	buf_free(&b);
}

static void test_name_validation(void **state)
{
	(void)state;
	char l63[64], l64[65], n253[254], n254[255];
	struct buf b;

	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(l64, 'a', 64);
	l64[64] = '\0';
	/* 63.63.63.61 = 253 characters */
	snprintf(n253, sizeof n253, "%s.%s.%s.%.61s", l63, l63, l63, l63);
	assert_int_equal(strlen(n253), 253);
	snprintf(n254, sizeof n254, "%s.%s.%s.%.62s", l63, l63, l63, l63);
	assert_int_equal(strlen(n254), 254);

	assert_true(dns_msg_name_valid("example.com"));
	assert_true(dns_msg_name_valid("_dmarc.Example.com"));
	assert_true(dns_msg_name_valid("sel._domainkey.example.com"));
	assert_true(dns_msg_name_valid("a"));
	assert_true(dns_msg_name_valid("example.com."));
	assert_true(dns_msg_name_valid(l63));
	assert_true(dns_msg_name_valid(n253));
	char n253dot[256];
	snprintf(n253dot, sizeof n253dot, "%s.", n253);
	assert_true(dns_msg_name_valid(n253dot));

	assert_false(dns_msg_name_valid(NULL));
	assert_false(dns_msg_name_valid(""));
	assert_false(dns_msg_name_valid("."));
	assert_false(dns_msg_name_valid(".."));
	assert_false(dns_msg_name_valid("a..b"));
	assert_false(dns_msg_name_valid(".a"));
	assert_false(dns_msg_name_valid("a.."));
	assert_false(dns_msg_name_valid(l64));
	assert_false(dns_msg_name_valid(n254));
	assert_false(dns_msg_name_valid("a\tb.com"));
	assert_false(dns_msg_name_valid("a\nb.com"));
	assert_false(dns_msg_name_valid("a\x7f" "b.com"));
	assert_false(dns_msg_name_valid("a b.com"));
	assert_false(dns_msg_name_valid("a\\.b.com"));
	assert_false(dns_msg_name_valid("caf\xc3\xa9.com"));

	buf_init(&b, 0);
	assert_false(dns_msg_query(&b, 1, "a..b", DNS_T_A, true, 0));
	assert_false(dns_msg_query(&b, 1, n254, DNS_T_A, true, 0));
	assert_int_equal(b.len, 0);
	assert_true(dns_msg_query(&b, 1, n253, DNS_T_A, true, 0));
	assert_int_equal(b.len, 12 + 255 + 4);
	buf_free(&b);
}

/* The builder's query with QR set parses as an empty NOERROR reply. */
static void test_query_roundtrip(void **state)
{
	(void)state;
	struct buf b;
	struct dns_answer a;
	struct err e;

	buf_init(&b, 0);
	assert_true(dns_msg_query(&b, 0xbeef, "_DMARC.Example.COM", DNS_T_TXT, true, 1232));
	err_clear(&e);
	assert_false(dns_msg_parse((unsigned char *)b.data, b.len, 0xbeef, "_dmarc.example.com",
				   DNS_T_TXT, &a, &e));
	assert_contains(e.msg, "QR is not set");
	b.data[2] |= (char)0x80;
	assert_true(dns_msg_parse((unsigned char *)b.data, b.len, 0xbeef, "_dmarc.example.com",
				  DNS_T_TXT, &a, &e));
	assert_int_equal(a.status, DNS_NOERROR);
	assert_int_equal(a.n, 0);
	assert_false(a.has_neg_soa);
	dns_answer_free(&a);
	buf_free(&b);
}

/* ---- replies ---- */

static void build_mx(struct pkt *p)
{
	/* example.com MX 10 mx1.example.com, MX 20 mx2.other.org; target of
	 * the first compressed against the question name. */
	phead(p, 0x4242, AA, "Example.COM", DNS_T_MX, 2, 0, 0);
	prr(p, DNS_T_MX, 3600, 2 + 4 + 2);
	p16(p, 10);
	p8(p, 3);
	pbytes(p, "MX1", 3);
	pptr(p, 12);
	prr(p, DNS_T_MX, 0x80000001u, 2 + 15);
	p16(p, 20);
	pname(p, "mx2.other.org");
}

static void test_mx(void **state)
{
	(void)state;
	struct pkt *p = calloc(1, sizeof *p);
	struct dns_answer a;
	struct err e;

	build_mx(p);
	assert_true(parse(p, 0x4242, "example.com", DNS_T_MX, &a, &e));
	assert_int_equal(a.status, DNS_NOERROR);
	assert_true(a.authoritative);
	assert_false(a.truncated);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.rr[0].name, "example.com");
	assert_int_equal(a.rr[0].type, DNS_T_MX);
	assert_int_equal(a.rr[0].ttl, 3600);
	assert_int_equal(a.rr[0].preference, 10);
	assert_string_equal(a.rr[0].target, "mx1.example.com");
	assert_int_equal(a.rr[1].preference, 20);
	assert_string_equal(a.rr[1].target, "mx2.other.org");
	assert_int_equal(a.rr[1].ttl, 0);   /* top bit set reads as 0 */
	assert_false(a.has_neg_soa);
	assert_null(a.server);
	dns_answer_free(&a);
	assert_zeroed(&a);
	dns_answer_free(&a);                /* idempotent */
	assert_zeroed(&a);
	free(p);
}

static void test_a_aaaa_cname(void **state)
{
	(void)state;
	struct pkt *p = calloc(1, sizeof *p);
	struct dns_answer a;
	struct err e;
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x53 };

	phead(p, 1, 0, "www.example.com", DNS_T_AAAA, 3, 0, 0);
	size_t cname_rdata = p->n + 12;
	prr(p, DNS_T_CNAME, 300, 6);
	p8(p, 3);
	pbytes(p, "Web", 3);
	pptr(p, 12 + 4);                    /* example.com of the question */
	pptr(p, (unsigned)cname_rdata);     /* owner: web.example.com */
	p16(p, DNS_T_AAAA);
	p16(p, 1);
	p32(p, 60);
	p16(p, 16);
	pbytes(p, v6, 16);
	prr(p, DNS_T_A, 60, 4);             /* odd, but an A is an A */
	pbytes(p, "\xc0\x00\x02\x01", 4);
	assert_true(parse(p, 1, "WWW.example.com", DNS_T_AAAA, &a, &e));
	assert_int_equal(a.n, 3);
	assert_int_equal(a.rr[0].type, DNS_T_CNAME);
	assert_string_equal(a.rr[0].target, "web.example.com");
	assert_string_equal(a.rr[1].name, "web.example.com");
	assert_int_equal(a.rr[1].family, AF_INET6);
	assert_memory_equal(a.rr[1].addr, v6, 16);
	assert_int_equal(a.rr[2].family, AF_INET);
	assert_memory_equal(a.rr[2].addr, "\xc0\x00\x02\x01", 4);
	assert_false(a.has_neg_soa);
	dns_answer_free(&a);

	/* Wrong RDATA sizes. */
	phead(p, 1, 0, "a.example", DNS_T_A, 1, 0, 0);
	prr(p, DNS_T_A, 60, 5);
	pbytes(p, "\1\2\3\4\5", 5);
	assert_fails(p, 1, "a.example", DNS_T_A, "not 4");
	phead(p, 1, 0, "a.example", DNS_T_AAAA, 1, 0, 0);
	prr(p, DNS_T_AAAA, 60, 4);
	pbytes(p, "\1\2\3\4", 4);
	assert_fails(p, 1, "a.example", DNS_T_AAAA, "not 16");
	/* A CNAME whose name ends before its RDATA does. */
	phead(p, 1, 0, "a.example", DNS_T_CNAME, 1, 0, 0);
	prr(p, DNS_T_CNAME, 60, 4);
	pptr(p, 12);
	p16(p, 0);
	assert_fails(p, 1, "a.example", DNS_T_CNAME, "after its fields");
	/* A name in RDATA running past RDLENGTH (but not past the message). */
	phead(p, 1, 0, "a.example", DNS_T_NS, 1, 0, 0);
	prr(p, DNS_T_NS, 60, 3);
	pname(p, "ns.example");
	assert_fails(p, 1, "a.example", DNS_T_NS, "past the end of its record");
	free(p);
}

static void test_soa_and_ptr(void **state)
{
	(void)state;
	struct pkt *p = calloc(1, sizeof *p);
	struct dns_answer a;
	struct err e;

	phead(p, 9, AA, "example.com", DNS_T_SOA, 1, 0, 0);
	prr(p, DNS_T_SOA, 86400, 6 + 7 + 20);
	size_t rdlen_at = p->n - 1;
	p8(p, 3);
	pbytes(p, "NS1", 3);
	pptr(p, 12);
	p8(p, 4);
	pbytes(p, "Host", 4);
	pptr(p, 12);
	p32(p, 2026010101u);
	p32(p, 7200);
	p32(p, 3600);
	p32(p, 1209600);
	p32(p, 300);
	assert_true(parse(p, 9, "example.com", DNS_T_SOA, &a, &e));
	assert_int_equal(a.n, 1);
	assert_string_equal(a.rr[0].soa.mname, "ns1.example.com");
	assert_string_equal(a.rr[0].soa.rname, "host.example.com");
	assert_int_equal(a.rr[0].soa.serial, 2026010101u);
	assert_int_equal(a.rr[0].soa.refresh, 7200);
	assert_int_equal(a.rr[0].soa.retry, 3600);
	assert_int_equal(a.rr[0].soa.expire, 1209600);
	assert_int_equal(a.rr[0].soa.minimum, 300);
	dns_answer_free(&a);

	/* SOA with 19 octets of numbers. */
	p->b[rdlen_at] = 32;
	p->n--;
	assert_fails(p, 9, "example.com", DNS_T_SOA, "not 20");

	/* PTR, and an unknown type kept with type and TTL. */
	phead(p, 9, 0, "1.2.0.192.in-addr.arpa", DNS_T_PTR, 2, 0, 0);
	prr(p, DNS_T_PTR, 120, 13);
	pname(p, "MX1.Example");
	prr(p, 99, 77, 3);
	pbytes(p, "xyz", 3);
	assert_true(parse(p, 9, "1.2.0.192.in-addr.arpa", DNS_T_PTR, &a, &e));
	assert_int_equal(a.n, 2);
	assert_string_equal(a.rr[0].target, "mx1.example");
	assert_int_equal(a.rr[1].type, 99);
	assert_int_equal(a.rr[1].ttl, 77);
	assert_null(a.rr[1].target);
	assert_null(a.rr[1].text);
	dns_answer_free(&a);
	free(p);
}

/* Null MX (RFC 7505): the target is the root, given as "". */
static void test_null_mx_and_escapes(void **state)
{
	(void)state;
	struct pkt *p = calloc(1, sizeof *p);
	struct dns_answer a;
	struct err e;

	phead(p, 3, 0, "example.com", DNS_T_MX, 2, 0, 0);
	prr(p, DNS_T_MX, 60, 3);
	p16(p, 0);
	p8(p, 0);
	prr(p, DNS_T_MX, 60, 2 + 7 + 4 + 1);
	p16(p, 5);
	p8(p, 6);
	pbytes(p, "a.b\\\x01\xff", 6);
	p8(p, 3);
	pbytes(p, "X Y", 3);
	p8(p, 0);
	assert_true(parse(p, 3, "example.com", DNS_T_MX, &a, &e));
	assert_int_equal(a.n, 2);
	assert_string_equal(a.rr[0].target, "");
	assert_string_equal(a.rr[1].target, "a\\046b\\092\\001\\255.x\\032y");
	dns_answer_free(&a);
	free(p);
}

static void test_txt(void **state)
{
	(void)state;
	struct pkt *p = calloc(1, sizeof *p);
	struct dns_answer a;
	struct err e;
	char big[301];

	/* 300 octets split 255 + 45, as a publisher must. */
	for (int i = 0; i < 300; i++)
		big[i] = (char)('a' + i % 26);
	big[300] = '\0';
	phead(p, 5, 0, "Sel._DomainKey.example.com", DNS_T_TXT, 2, 0, 0);
	prr(p, DNS_T_TXT, 60, 1 + 255 + 1 + 45);
	p8(p, 255);
	pbytes(p, big, 255);
	p8(p, 45);
	pbytes(p, big + 255, 45);
	prr(p, DNS_T_TXT, 60, 0);           /* empty RDATA: empty text */
	assert_true(parse(p, 5, "sel._domainkey.example.com", DNS_T_TXT, &a, &e));
	assert_int_equal(a.n, 2);
	assert_string_equal(a.rr[0].name, "sel._domainkey.example.com");
	assert_non_null(a.rr[0].text);
	assert_int_equal(strlen(a.rr[0].text), 300);
	assert_string_equal(a.rr[0].text, big);
	assert_false(a.rr[0].txt_has_nul);
	assert_string_equal(a.rr[1].text, "");
	dns_answer_free(&a);

	/* Empty strings inside are fine: "v=spf1" "" " -all". */
	phead(p, 5, 0, "example.com", DNS_T_TXT, 1, 0, 0);
	prr(p, DNS_T_TXT, 60, 7 + 1 + 6);
	p8(p, 6);
	pbytes(p, "v=spf1", 6);
	p8(p, 0);
	p8(p, 5);
	pbytes(p, " -all", 5);
	assert_true(parse(p, 5, "example.com", DNS_T_TXT, &a, &e));
	assert_string_equal(a.rr[0].text, "v=spf1 -all");
	dns_answer_free(&a);

	/* A NUL inside. */
	phead(p, 5, 0, "example.com", DNS_T_TXT, 1, 0, 0);
	prr(p, DNS_T_TXT, 60, 6);
	p8(p, 5);
	pbytes(p, "v=\0sp", 5);
	assert_true(parse(p, 5, "example.com", DNS_T_TXT, &a, &e));
	assert_int_equal(a.n, 1);
	assert_null(a.rr[0].text);
	assert_true(a.rr[0].txt_has_nul);
	dns_answer_free(&a);

	/* A character-string longer than what is left of the RDATA. */
	phead(p, 5, 0, "example.com", DNS_T_TXT, 1, 0, 0);
	prr(p, DNS_T_TXT, 60, 4);
	p8(p, 5);
	pbytes(p, "abc", 3);
	p->b[11] = 1;                       /* the message goes on, the RDATA does not */
	p8(p, 0);
	p16(p, 1);
	p16(p, 1);
	p32(p, 0);
	p16(p, 0);
	assert_fails(p, 5, "example.com", DNS_T_TXT, "character-string");
	free(p);
}

static void build_nxdomain(struct pkt *p, unsigned rcode, uint32_t soa_ttl, uint32_t minimum)
{
	phead(p, 77, AA | rcode, "nope.example.com", DNS_T_A, 0, 2, 0);
	pptr(p, 12 + 5);                    /* example.com */
	p16(p, DNS_T_SOA);
	p16(p, 1);
	p32(p, soa_ttl);
	p16(p, 5 + 2 + 20);
	p8(p, 2);
	pbytes(p, "ns", 2);
	pptr(p, 12 + 5);
	pptr(p, 12 + 5);
	p32(p, 42);
	p32(p, 1);
	p32(p, 2);
	p32(p, 3);
	p32(p, minimum);
	/* A second SOA is ignored (the first one counts). */
	pptr(p, 12 + 5);
	p16(p, DNS_T_SOA);
	p16(p, 1);
	p32(p, 1);
	p16(p, 2 + 20);
	p8(p, 0);
	p8(p, 0);
	for (int i = 0; i < 20; i++)
		p8(p, 0);
}

static void test_nxdomain_negative_ttl(void **state)
{
	(void)state;
	struct pkt *p = calloc(1, sizeof *p);
	struct dns_answer a;
	struct err e;

	build_nxdomain(p, 3, 3600, 300);
	assert_true(parse(p, 77, "nope.example.com", DNS_T_A, &a, &e));
	assert_int_equal(a.status, DNS_NXDOMAIN);
	assert_true(a.authoritative);
	assert_int_equal(a.n, 0);
	assert_null(a.rr);
	assert_true(a.has_neg_soa);
	assert_string_equal(a.neg_soa.mname, "ns.example.com");
	assert_string_equal(a.neg_soa.rname, "example.com");
	assert_int_equal(a.neg_soa.serial, 42);
	assert_int_equal(a.neg_soa.minimum, 300);
	assert_int_equal(a.neg_ttl, 300);
	dns_answer_free(&a);

	build_nxdomain(p, 3, 60, 300);
	assert_true(parse(p, 77, "nope.example.com", DNS_T_A, &a, &e));
	assert_int_equal(a.neg_ttl, 60);
	dns_answer_free(&a);

	/* NODATA: NOERROR, no answer. */
	build_nxdomain(p, 0, 900, 600);
	assert_true(parse(p, 77, "nope.example.com", DNS_T_A, &a, &e));
	assert_int_equal(a.status, DNS_NOERROR);
	assert_true(a.has_neg_soa);
	assert_int_equal(a.neg_ttl, 600);
	dns_answer_free(&a);

	/* Other RCODEs are SERVFAIL (2 SERVFAIL, 5 REFUSED, 4 NOTIMP). */
	static const unsigned rcodes[] = { 1, 2, 4, 5, 9 };
	for (size_t i = 0; i < sizeof rcodes / sizeof rcodes[0]; i++) {
		build_nxdomain(p, rcodes[i], 60, 60);
		assert_true(parse(p, 77, "nope.example.com", DNS_T_A, &a, &e));
		assert_int_equal(a.status, DNS_SERVFAIL);
		assert_false(a.has_neg_soa);
		dns_answer_free(&a);
	}
	free(p);
}

/* An answer of another type only (a CNAME) counts as NODATA for the SOA;
 * an answer of the asked type does not. Extended RCODE via OPT. */
static void test_nodata_and_opt(void **state)
{
	(void)state;
	struct pkt *p = calloc(1, sizeof *p);
	struct dns_answer a;
	struct err e;

	phead(p, 8, 0, "example.com", DNS_T_A, 1, 1, 1);
	prr(p, DNS_T_A, 60, 4);
	pbytes(p, "\1\2\3\4", 4);
	prr(p, DNS_T_SOA, 60, 22);
	p8(p, 0);
	p8(p, 0);
	for (int i = 0; i < 20; i++)
		p8(p, 1);
	p8(p, 0);                           /* OPT */
	p16(p, 41);
	p16(p, 1232);
	p32(p, 0);
	p16(p, 0);
	assert_true(parse(p, 8, "example.com", DNS_T_A, &a, &e));
	assert_int_equal(a.status, DNS_NOERROR);
	assert_false(a.has_neg_soa);
	dns_answer_free(&a);
	assert_true(parse(p, 8, "example.com", DNS_T_MX, &a, &e) == false);

	/* Extended RCODE 1 (BADVERS = 16): not NOERROR. */
	p->b[p->n - 6] = 1;
	assert_true(parse(p, 8, "example.com", DNS_T_A, &a, &e));
	assert_int_equal(a.status, DNS_SERVFAIL);
	dns_answer_free(&a);

	/* Two OPTs. */
	p->b[p->n - 6] = 0;
	p->b[11] = 2;
	p8(p, 0);
	p16(p, 41);
	p16(p, 1232);
	p32(p, 0);
	p16(p, 0);
	assert_fails(p, 8, "example.com", DNS_T_A, "second OPT");
	free(p);
}

static void test_mismatch(void **state)
{
	(void)state;
	struct pkt *p = calloc(1, sizeof *p);
	struct dns_answer a;
	struct err e;

	build_mx(p);
	assert_fails(p, 0x4243, "example.com", DNS_T_MX, "id 16962, not the query's 16963");
	assert_fails(p, 0x4242, "example.org", DNS_T_MX, "not example.org");
	assert_fails(p, 0x4242, "www.example.com", DNS_T_MX, "not www.example.com");
	assert_fails(p, 0x4242, "com", DNS_T_MX, "not com");
	assert_fails(p, 0x4242, "example.com", DNS_T_A, "type 15 class 1");
	/* Case-insensitive match both ways, trailing dot tolerated. */
	assert_true(parse(p, 0x4242, "EXAMPLE.com.", DNS_T_MX, &a, &e));
	dns_answer_free(&a);
	/* A bad expected name is our mistake, not the server's. */
	assert_false(parse(p, 0x4242, "bad..name", DNS_T_MX, &a, &e));
	assert_int_equal(e.kind, ERR_KIND_INTERNAL);

	/* Class CH in the question. */
	struct pkt *q = calloc(1, sizeof *q);
	memcpy(q, p, sizeof *q);
	q->b[12 + 13 + 3] = 3;
	assert_fails(q, 0x4242, "example.com", DNS_T_MX, "class 3");
	/* Two questions, zero questions. */
	memcpy(q, p, sizeof *q);
	q->b[5] = 2;
	assert_fails(q, 0x4242, "example.com", DNS_T_MX, "2 questions");
	q->b[5] = 0;
	assert_fails(q, 0x4242, "example.com", DNS_T_MX, "0 questions");
	/* Opcode NOTIFY. */
	memcpy(q, p, sizeof *q);
	q->b[2] |= 4 << 3;
	assert_fails(q, 0x4242, "example.com", DNS_T_MX, "opcode 4");
	/* Class CH in an answer record. */
	memcpy(q, p, sizeof *q);
	q->b[12 + 17 + 2 + 2 + 1] = 3;
	assert_fails(q, 0x4242, "example.com", DNS_T_MX, "answer record 1: the record has class 3");
	/* Too many records claimed. */
	memcpy(q, p, sizeof *q);
	q->b[6] = 0x03;
	q->b[7] = 0xe9;                     /* 1001 */
	assert_fails(q, 0x4242, "example.com", DNS_T_MX, "over the limit of 1000");
	/* Trailing garbage. */
	memcpy(q, p, sizeof *q);
	q->b[q->n++] = 0;
	assert_fails(q, 0x4242, "example.com", DNS_T_MX, "1 octets after its last record");
	/* Over 65535 octets. */
	memcpy(q, p, sizeof *q);
	q->n = 65536;
	assert_fails(q, 0x4242, "example.com", DNS_T_MX, "over the 65535");
	free(q);
	free(p);
}

static void test_compression(void **state)
{
	(void)state;
	struct pkt *p = calloc(1, sizeof *p);
	struct dns_answer a;
	struct err e;

	/* Valid chain: owner -> CNAME target -> question name. */
	phead(p, 2, 0, "example.com", DNS_T_CNAME, 2, 0, 0);
	size_t t1 = p->n + 12;
	prr(p, DNS_T_CNAME, 5, 4);
	p8(p, 1);
	pbytes(p, "b", 1);
	pptr(p, 12);
	pptr(p, (unsigned)t1);
	p16(p, DNS_T_CNAME);
	p16(p, 1);
	p32(p, 5);
	p16(p, 4);
	p8(p, 1);
	pbytes(p, "c", 1);
	pptr(p, (unsigned)t1);
	assert_true(parse(p, 2, "example.com", DNS_T_CNAME, &a, &e));
	assert_string_equal(a.rr[1].name, "b.example.com");
	assert_string_equal(a.rr[1].target, "c.b.example.com");
	dns_answer_free(&a);

	/* Pointer to itself. */
	phead(p, 2, 0, "example.com", DNS_T_CNAME, 1, 0, 0);
	size_t at = p->n;
	pptr(p, (unsigned)at);
	p16(p, DNS_T_CNAME);
	p16(p, 1);
	p32(p, 5);
	p16(p, 2);
	pptr(p, 12);
	assert_fails(p, 2, "example.com", DNS_T_CNAME, "forward or loops");

	/* Loop through a label: "a" then a pointer back to the "a". */
	phead(p, 2, 0, "example.com", DNS_T_CNAME, 1, 0, 0);
	prr(p, DNS_T_CNAME, 5, 4);
	at = p->n;
	p8(p, 1);
	pbytes(p, "a", 1);
	pptr(p, (unsigned)at);
	assert_fails(p, 2, "example.com", DNS_T_CNAME, "forward or loops");

	/* Two names pointing at each other: the second may point back to the
	 * first, but the first's pointer forward is refused. */
	phead(p, 2, 0, "example.com", DNS_T_CNAME, 1, 0, 0);
	prr(p, DNS_T_CNAME, 5, 4);
	at = p->n;
	p8(p, 1);
	pbytes(p, "x", 1);
	pptr(p, (unsigned)at + 4);          /* forward, to the next bytes */
	p->b[11] = 1;                       /* an additional record follows */
	p8(p, 1);
	pbytes(p, "y", 1);
	pptr(p, (unsigned)at);
	p16(p, 1);
	p16(p, 1);
	p32(p, 0);
	p16(p, 4);
	p32(p, 0);
	assert_fails(p, 2, "example.com", DNS_T_CNAME, "forward or loops");

	/* Out of bounds (past the message) — also forward. */
	phead(p, 2, 0, "example.com", DNS_T_CNAME, 1, 0, 0);
	prr(p, DNS_T_CNAME, 5, 2);
	pptr(p, 0x3fff);
	assert_fails(p, 2, "example.com", DNS_T_CNAME, "forward or loops");
	/* Into the header. */
	phead(p, 2, 0, "example.com", DNS_T_CNAME, 1, 0, 0);
	prr(p, DNS_T_CNAME, 5, 2);
	pptr(p, 4);
	assert_fails(p, 2, "example.com", DNS_T_CNAME, "into the header");
	/* Cut-off pointer at the end of the RDATA. */
	phead(p, 2, 0, "example.com", DNS_T_CNAME, 1, 0, 0);
	prr(p, DNS_T_CNAME, 5, 1);
	p8(p, 0xc0);
	p8(p, 12);
	p->b[11] = 0;
	assert_fails(p, 2, "example.com", DNS_T_CNAME, "cut off");
	/* Label type 01 (extended, RFC 6891 withdrew it). */
	phead(p, 2, 0, "example.com", DNS_T_CNAME, 1, 0, 0);
	prr(p, DNS_T_CNAME, 5, 2);
	p8(p, 0x41);
	p8(p, 0);
	assert_fails(p, 2, "example.com", DNS_T_CNAME, "unknown type 0x41");

	/* Expansion over 255 octets via pointers: a 200-octet name in the
	 * first record, then "x{62}" + pointer to it in the second. */
	phead(p, 2, 0, "example.com", DNS_T_TXT, 2, 0, 0);
	prr(p, DNS_T_TXT, 5, 1);
	p8(p, 0);
	size_t longname = p->n;
	for (int i = 0; i < 4; i++) {
		p8(p, 50);
		for (int k = 0; k < 50; k++)
			p8(p, 'q');
	}
	p8(p, 0);                           /* 205 octets */
	p16(p, DNS_T_TXT);
	p16(p, 1);
	p32(p, 1);
	p16(p, 0);
	assert_true(parse(p, 2, "example.com", DNS_T_TXT, &a, &e));
	assert_int_equal(strlen(a.rr[1].name), 4 * 51 - 1);
	dns_answer_free(&a);
	p->b[7] = 3;
	p8(p, 62);
	for (int k = 0; k < 62; k++)
		p8(p, 'x');
	pptr(p, (unsigned)longname);
	p16(p, DNS_T_TXT);
	p16(p, 1);
	p32(p, 1);
	p16(p, 0);
	assert_fails(p, 2, "example.com", DNS_T_TXT, "longer than 255");
	free(p);
}

/* Every proper prefix of a good reply must fail cleanly (ASan watches). */
static void check_prefixes(const struct pkt *p, unsigned id, const char *name, unsigned type)
{
	struct dns_answer a;
	struct err e;

	for (size_t len = 0; len < p->n; len++) {
		unsigned char *copy = malloc(len ? len : 1);
		memcpy(copy, p->b, len);
		err_clear(&e);
		if (dns_msg_parse(copy, len, (uint16_t)id, name, (uint16_t)type, &a, &e)) {
			print_message("prefix of %zu octets parsed\n", len);
			fail();
		}
		assert_true(err_is_set(&e));
		assert_true(e.msg[0] != '\0');
		assert_zeroed(&a);
		free(copy);
	}
	assert_true(dns_msg_parse(p->b, p->n, (uint16_t)id, name, (uint16_t)type, &a, &e));
	dns_answer_free(&a);
}

static void test_truncated_everywhere(void **state)
{
	(void)state;
	struct pkt *p = calloc(1, sizeof *p);

	build_mx(p);
	check_prefixes(p, 0x4242, "example.com", DNS_T_MX);
	build_nxdomain(p, 3, 3600, 300);
	check_prefixes(p, 77, "nope.example.com", DNS_T_A);
	phead(p, 5, 0, "example.com", DNS_T_TXT, 1, 0, 1);
	prr(p, DNS_T_TXT, 60, 7);
	p8(p, 6);
	pbytes(p, "v=spf1", 6);
	p8(p, 0);
	p16(p, 41);
	p16(p, 1232);
	p32(p, 0);
	p16(p, 0);
	check_prefixes(p, 5, "example.com", DNS_T_TXT);
	free(p);
}

/* TC set: header and question still checked, a cut-off rest tolerated. */
static void test_tc(void **state)
{
	(void)state;
	struct pkt *p = calloc(1, sizeof *p);
	struct dns_answer a;
	struct err e;

	build_mx(p);
	p->b[2] |= 0x02;
	assert_true(parse(p, 0x4242, "example.com", DNS_T_MX, &a, &e));
	assert_true(a.truncated);
	assert_int_equal(a.n, 2);           /* whole, so kept */
	dns_answer_free(&a);
	p->n -= 5;
	assert_true(parse(p, 0x4242, "example.com", DNS_T_MX, &a, &e));
	assert_true(a.truncated);
	assert_true(a.authoritative);
	assert_false(err_is_set(&e));
	assert_int_equal(a.n, 0);
	assert_null(a.rr);
	assert_int_equal(a.status, DNS_NOERROR);
	dns_answer_free(&a);
	p->n = 12 + 10;                     /* the question cut: still an error */
	assert_fails(p, 0x4242, "example.com", DNS_T_MX, "question: a name runs past");
	free(p);
}

static void test_free_zeroed(void **state)
{
	(void)state;
	struct dns_answer a;

	memset(&a, 0, sizeof a);
	dns_answer_free(&a);
	assert_zeroed(&a);
	dns_answer_free(NULL);
	a.server = xstrdup("192.0.2.53:53");
	a.has_neg_soa = true;
	a.neg_soa.mname = xstrdup("ns.example");
	dns_answer_free(&a);
	assert_zeroed(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_bytes),
		cmocka_unit_test(test_name_validation),
		cmocka_unit_test(test_query_roundtrip),
		cmocka_unit_test(test_mx),
		cmocka_unit_test(test_a_aaaa_cname),
		cmocka_unit_test(test_soa_and_ptr),
		cmocka_unit_test(test_null_mx_and_escapes),
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_nxdomain_negative_ttl),
		cmocka_unit_test(test_nodata_and_opt),
		cmocka_unit_test(test_mismatch),
		cmocka_unit_test(test_compression),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_tc),
		cmocka_unit_test(test_free_zeroed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
