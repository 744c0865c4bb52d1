/* dns_msg.c — DNS query builder and reply parser; the contract is dns_msg.h.
 *
 * The parser reads the whole message once, front to back, with a cursor
 * that is checked against the end before every read. Records are decoded
 * straight into the answer; any failure frees what was decoded, so the
 * caller sees either a complete answer or none.
 *
 * SECURITY: the reply is hostile until proven otherwise (a spoofed UDP
 * packet needs no connection). Names are expanded into a fixed 255-octet
 * buffer; a compression pointer must point before the fragment it sits in,
 * so each jump goes strictly backwards and no loop can be built, and the
 * number of jumps is capped as well. Record counts are capped before
 * anything is allocated for them, and every RDATA is read within its own
 * RDLENGTH. Names are lower-cased and escaped so that what reaches the
 * checks, logs and JSON is plain printable ASCII.
 */
#include "dns_msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/alloc.h"

#define DNS_HDR 12
#define DNS_WIRE_MAX 255
#define DNS_MSG_MAX 65535
#define DNS_T_OPT 41
#define DNS_C_IN 1
/* A 255-octet name has at most 127 labels; more jumps than that are abuse. */
#define DNS_MAX_JUMPS 127

/* ---- names in text form (ours) ---- */

static bool name_octet_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '\\' && c != '.';
}

/* Text name to wire form (case kept); *wlen includes the root octet. */
static bool name_to_wire(const char *name, unsigned char *wire, size_t *wlen)
{
	size_t len, w = 0;

	if (name == NULL)
		return false;
	len = strlen(name);
	if (len > 1 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	size_t i = 0;
	while (i < len) {
		size_t start = i;
		while (i < len && name[i] != '.') {
			if (!name_octet_ok((unsigned char)name[i]))
				return false;
			i++;
		}
		size_t l = i - start;
		if (l == 0 || l > 63)
			return false;
		wire[w++] = (unsigned char)l;
		memcpy(wire + w, name + start, l);
		w += l;
		if (i < len) {
			i++;               /* the dot */
			if (i == len)
				return false;   /* "a.." after trimming one dot */
		}
	}
	wire[w++] = 0;
	*wlen = w;                 /* <= 253 + 2 */
	return true;
}

bool dns_msg_name_valid(const char *name)
{
	unsigned char wire[DNS_WIRE_MAX + 2];
	size_t wlen;

	return name_to_wire(name, wire, &wlen);
}

static void put16(unsigned char *b, unsigned v)
{
	b[0] = (unsigned char)(v >> 8);
	b[1] = (unsigned char)v;
}

bool dns_msg_query(struct buf *out, uint16_t id, const char *name, uint16_t type, bool rd,
		   uint16_t edns_udp_size)
{
	unsigned char q[DNS_HDR + DNS_WIRE_MAX + 2 + 4 + 11];
	size_t wlen, n = 0;

	if (!name_to_wire(name, q + DNS_HDR, &wlen))
		return false;
	memset(q, 0, DNS_HDR);
	put16(q, id);
	q[2] = rd ? 0x01 : 0x00;   /* QR 0, opcode QUERY, RD */
	put16(q + 4, 1);
	put16(q + 10, edns_udp_size ? 1 : 0);
	n = DNS_HDR + wlen;
	put16(q + n, type);
	put16(q + n + 2, DNS_C_IN);
	n += 4;
	if (edns_udp_size) {
		q[n++] = 0;                        /* root owner */
		put16(q + n, DNS_T_OPT);
		put16(q + n + 2, edns_udp_size < 512 ? 512 : edns_udp_size);
		memset(q + n + 4, 0, 6);           /* ext-rcode, version, flags, rdlen */
		n += 10;
	}
	return buf_append(out, q, n);
}

/* ---- the reply ---- */

struct rdr {
	const unsigned char *p;
	size_t n;
	struct err *err;
	char where[48];            /* "answer record 3" */
};

static bool fail(struct rdr *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(struct rdr *r, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (r->where[0] != '\0')
		err_set(r->err, ERR_SCOPE_MESSAGE, ERR_KIND_PROTOCOL, true, "%s: %s", r->where,
			what);
	else
		err_set(r->err, ERR_SCOPE_MESSAGE, ERR_KIND_PROTOCOL, true, "%s", what);
	return false;
}

static unsigned get16(const unsigned char *b)
{
	return (unsigned)b[0] << 8 | b[1];
}

static uint32_t get32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static char lower(unsigned char c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

/* Read the name at *pos, whose in-place octets must lie before `lim`;
 * *pos moves past them. wire gets the expansion, lower-cased. */
static bool read_name(struct rdr *r, size_t *pos, size_t lim, unsigned char *wire,
		      size_t *wlen)
{
	size_t i = *pos, frag = *pos, w = 0, end = 0;
	unsigned jumps = 0;
	bool jumped = false;

	for (;;) {
		if (i >= lim)
			return fail(r, "a name runs past the end of its %s",
				    jumped || lim == r->n ? "message" : "record");
		unsigned c = r->p[i];
		if (c == 0) {
			wire[w++] = 0;
			if (!jumped)
				end = i + 1;
			break;
		}
		if ((c & 0xc0) == 0xc0) {
			if (i + 1 >= lim)
				return fail(r, "a compression pointer is cut off");
			size_t t = (c & 0x3f) << 8 | r->p[i + 1];
			if (t < DNS_HDR)
				return fail(r, "a compression pointer points into the header");
			if (t >= frag)
				return fail(r, "a compression pointer points forward or loops "
					    "(offset %zu at %zu)", t, i);
			if (++jumps > DNS_MAX_JUMPS)
				return fail(r, "a name has more than %d compression pointers",
					    DNS_MAX_JUMPS);
			if (!jumped)
				end = i + 2;
			jumped = true;
			i = frag = t;
			lim = r->n;
			continue;
		}
		if (c & 0xc0)
			return fail(r, "a name has a label of unknown type 0x%02x", c);
		if (c >= lim - i)
			return fail(r, "a name runs past the end of its %s",
				    jumped || lim == r->n ? "message" : "record");
		if (w + 1 + c + 1 > DNS_WIRE_MAX)
			return fail(r, "a name is longer than 255 octets");
		wire[w++] = (unsigned char)c;
		for (unsigned k = 0; k < c; k++)
			wire[w++] = (unsigned char)lower(r->p[i + 1 + k]);
		i += 1 + c;
	}
	*pos = end;
	*wlen = w;
	return true;
}

/* Wire form (already checked) to text; see dns_msg.h for the escapes. */
static char *wire_to_text(const unsigned char *wire)
{
	char t[DNS_NAME_TEXT_MAX + 8];
	size_t o = 0, i = 0;

	while (wire[i] != 0) {
		unsigned l = wire[i++];
		if (o > 0)
			t[o++] = '.';
		for (unsigned k = 0; k < l; k++, i++) {
			unsigned char c = wire[i];
			if (name_octet_ok(c)) {
				t[o++] = (char)c;
			} else {
				t[o++] = '\\';
				t[o++] = (char)('0' + c / 100);
				t[o++] = (char)('0' + c / 10 % 10);
				t[o++] = (char)('0' + c % 10);
			}
		}
	}
	t[o] = '\0';
	return xstrdup(t);
}

static bool read_name_text(struct rdr *r, size_t *pos, size_t lim, char **out)
{
	unsigned char wire[DNS_WIRE_MAX + 1];
	size_t wlen;

	if (!read_name(r, pos, lim, wire, &wlen))
		return false;
	*out = wire_to_text(wire);
	return true;
}

/* Fixed part of a record after its owner name. */
struct rr_head {
	unsigned type, class;
	uint32_t ttl;
	size_t rdata, rdlen;       /* offset and length of the RDATA */
};

static bool read_rr_head(struct rdr *r, size_t *pos, struct rr_head *h)
{
	if (r->n - *pos < 10)
		return fail(r, "the record is cut off after its name");
	const unsigned char *b = r->p + *pos;
	h->type = get16(b);
	h->class = get16(b + 2);
	h->ttl = get32(b + 4);
	h->rdlen = get16(b + 8);
	h->rdata = *pos + 10;
	if (h->rdlen > r->n - h->rdata)
		return fail(r, "the record's data (%zu octets) runs past the end of the message",
			    h->rdlen);
	*pos = h->rdata + h->rdlen;
	return true;
}

static bool rdata_end(struct rdr *r, size_t pos, size_t end, unsigned type)
{
	if (pos != end)
		return fail(r, "the type %u record has %zu octets of data after its fields", type,
			    end - pos);
	return true;
}

static bool read_soa(struct rdr *r, const struct rr_head *h, struct dns_soa *soa)
{
	size_t pos = h->rdata, end = h->rdata + h->rdlen;

	if (!read_name_text(r, &pos, end, &soa->mname) || !read_name_text(r, &pos, end, &soa->rname))
		return false;
	if (end - pos != 20)
		return fail(r, "the SOA record's numbers take %zu octets, not 20", end - pos);
	const unsigned char *b = r->p + pos;
	soa->serial = get32(b);
	soa->refresh = get32(b + 4);
	soa->retry = get32(b + 8);
	soa->expire = get32(b + 12);
	soa->minimum = get32(b + 16);
	return true;
}

static bool read_txt(struct rdr *r, const struct rr_head *h, struct dns_rr *rr)
{
	size_t pos = h->rdata, end = h->rdata + h->rdlen, o = 0;
	/* The concatenation is shorter than the RDATA (length octets dropped). */
	char *t = xmalloc(h->rdlen + 1);

	while (pos < end) {
		size_t l = r->p[pos++];
		if (l > end - pos) {
			free(t);
			return fail(r, "a TXT character-string runs past the record's end");
		}
		memcpy(t + o, r->p + pos, l);
		o += l;
		pos += l;
	}
	t[o] = '\0';
	if (memchr(t, '\0', o) != NULL) {
		free(t);
		rr->txt_has_nul = true;
		return true;
	}
	rr->text = t;
	return true;
}

static void soa_free(struct dns_soa *s)
{
	free(s->mname);
	free(s->rname);
	memset(s, 0, sizeof *s);
}

static uint32_t ttl_of(uint32_t ttl)
{
	return ttl & 0x80000000u ? 0 : ttl;
}

static bool read_answer_rr(struct rdr *r, size_t *pos, struct dns_rr *rr)
{
	struct rr_head h;
	size_t dpos, end;

	if (!read_name_text(r, pos, r->n, &rr->name) || !read_rr_head(r, pos, &h))
		return false;
	if (h.class != DNS_C_IN)
		return fail(r, "the record has class %u, not IN", h.class);
	rr->type = (uint16_t)h.type;
	rr->ttl = ttl_of(h.ttl);
	dpos = h.rdata;
	end = h.rdata + h.rdlen;
	switch (h.type) {
	case DNS_T_A:
		if (h.rdlen != 4)
			return fail(r, "the A record has %zu octets of data, not 4", h.rdlen);
		rr->family = AF_INET;
		memcpy(rr->addr, r->p + dpos, 4);
		return true;
	case DNS_T_AAAA:
		if (h.rdlen != 16)
			return fail(r, "the AAAA record has %zu octets of data, not 16", h.rdlen);
		rr->family = AF_INET6;
		memcpy(rr->addr, r->p + dpos, 16);
		return true;
	case DNS_T_MX:
		if (h.rdlen < 3)
			return fail(r, "the MX record is too short (%zu octets)", h.rdlen);
		rr->preference = (uint16_t)get16(r->p + dpos);
		dpos += 2;
		/* fall through */
	case DNS_T_NS:
	case DNS_T_CNAME:
	case DNS_T_PTR:
		if (!read_name_text(r, &dpos, end, &rr->target))
			return false;
		return rdata_end(r, dpos, end, h.type);
	case DNS_T_TXT:
		return read_txt(r, &h, rr);
	case DNS_T_SOA:
		return read_soa(r, &h, &rr->soa);
	default:
		return true;               /* kept with type and TTL only */
	}
}

static bool read_answers(struct rdr *r, size_t *pos, unsigned count, struct dns_answer *out)
{
	if (count == 0)
		return true;
	out->rr = xcalloc(count, sizeof *out->rr);
	for (unsigned i = 0; i < count; i++) {
		snprintf(r->where, sizeof r->where, "answer record %u", i + 1);
		out->n = i + 1;            /* so a failure frees this one too */
		if (!read_answer_rr(r, pos, &out->rr[i]))
			return false;
	}
	return true;
}

/* The authority section: only its first SOA is kept, and only when the
 * answer is negative. Other records are checked for shape and skipped. */
static bool read_authority(struct rdr *r, size_t *pos, unsigned count, bool negative,
			   struct dns_answer *out)
{
	for (unsigned i = 0; i < count; i++) {
		unsigned char wire[DNS_WIRE_MAX + 1];
		size_t wlen;
		struct rr_head h;

		snprintf(r->where, sizeof r->where, "authority record %u", i + 1);
		if (!read_name(r, pos, r->n, wire, &wlen) || !read_rr_head(r, pos, &h))
			return false;
		if (h.type != DNS_T_SOA || h.class != DNS_C_IN || !negative || out->has_neg_soa)
			continue;
		if (!read_soa(r, &h, &out->neg_soa)) {
			soa_free(&out->neg_soa);
			return false;
		}
		out->has_neg_soa = true;
		uint32_t ttl = ttl_of(h.ttl);
		out->neg_ttl = ttl < out->neg_soa.minimum ? ttl : out->neg_soa.minimum;
	}
	return true;
}

/* The additional section: only OPT matters (its extended RCODE bits). */
static bool read_additional(struct rdr *r, size_t *pos, unsigned count, unsigned *ext_rcode)
{
	bool seen_opt = false;

	for (unsigned i = 0; i < count; i++) {
		unsigned char wire[DNS_WIRE_MAX + 1];
		size_t wlen;
		struct rr_head h;

		snprintf(r->where, sizeof r->where, "additional record %u", i + 1);
		if (!read_name(r, pos, r->n, wire, &wlen) || !read_rr_head(r, pos, &h))
			return false;
		if (h.type != DNS_T_OPT)
			continue;
		if (seen_opt)
			return fail(r, "a second OPT record (RFC 6891 allows one)");
		if (wlen != 1)
			return fail(r, "the OPT record's owner is not the root");
		seen_opt = true;
		*ext_rcode = h.ttl >> 24;
	}
	return true;
}

/* Header and question; `out` gets flags and status. */
static bool read_top(struct rdr *r, size_t *pos, uint16_t expect_id, const char *expect_name,
		     uint16_t expect_type, struct dns_answer *out, unsigned counts[3],
		     unsigned *rcode)
{
	unsigned char want[DNS_WIRE_MAX + 2], got[DNS_WIRE_MAX + 1];
	size_t wantlen, gotlen;
	const unsigned char *p = r->p;

	if (r->n > DNS_MSG_MAX)
		return fail(r, "the message is %zu octets, over the 65535 a DNS message can have",
			    r->n);
	if (r->n < DNS_HDR)
		return fail(r, "the message is %zu octets, shorter than a DNS header", r->n);
	if (!(p[2] & 0x80))
		return fail(r, "the message is a query, not a reply (QR is not set)");
	if ((p[2] >> 3 & 0x0f) != 0)
		return fail(r, "the reply has opcode %u, not QUERY", p[2] >> 3 & 0x0f);
	if (get16(p) != expect_id)
		return fail(r, "the reply has id %u, not the query's %u", get16(p), expect_id);
	out->authoritative = p[2] & 0x04;
	out->truncated = p[2] & 0x02;
	*rcode = p[3] & 0x0f;
	if (get16(p + 4) != 1)
		return fail(r, "the reply has %u questions, not 1", get16(p + 4));
	for (int i = 0; i < 3; i++) {
		counts[i] = get16(p + 6 + 2 * i);
		if (counts[i] > DNS_MSG_MAX_RRS)
			return fail(r, "the reply claims %u records in one section, over the "
				    "limit of %d", counts[i], DNS_MSG_MAX_RRS);
	}
	if (!name_to_wire(expect_name, want, &wantlen)) {
		err_set(r->err, ERR_SCOPE_MESSAGE, ERR_KIND_INTERNAL, false,
			"the name asked for is not a valid DNS name");
		return false;
	}
	for (size_t i = 0; i < wantlen; i++)
		want[i] = (unsigned char)lower(want[i]);
	snprintf(r->where, sizeof r->where, "question");
	*pos = DNS_HDR;
	if (!read_name(r, pos, r->n, got, &gotlen))
		return false;
	if (r->n - *pos < 4)
		return fail(r, "the question is cut off after its name");
	unsigned qtype = get16(p + *pos), qclass = get16(p + *pos + 2);
	*pos += 4;
	if (gotlen != wantlen || memcmp(got, want, wantlen) != 0 || qtype != expect_type ||
	    qclass != DNS_C_IN) {
		char *g = wire_to_text(got);
		fail(r, "the reply is for %s type %u class %u, not %s type %u", g[0] ? g : ".",
		     qtype, qclass, expect_name, expect_type);
		free(g);
		return false;
	}
	return true;
}

static bool read_sections(struct rdr *r, size_t pos, const unsigned counts[3],
			  uint16_t expect_type, unsigned *ext_rcode, unsigned rcode,
			  struct dns_answer *out)
{
	bool negative;

	if (!read_answers(r, &pos, counts[0], out))
		return false;
	negative = rcode == 3;
	if (rcode == 0) {
		negative = true;
		for (size_t i = 0; i < out->n; i++)
			if (out->rr[i].type == expect_type)
				negative = false;
	}
	if (!read_authority(r, &pos, counts[1], negative, out) ||
	    !read_additional(r, &pos, counts[2], ext_rcode))
		return false;
	r->where[0] = '\0';
	if (pos != r->n)
		return fail(r, "the reply has %zu octets after its last record", r->n - pos);
	return true;
}

bool dns_msg_parse(const unsigned char *p, size_t n, uint16_t expect_id, const char *expect_name,
		   uint16_t expect_type, struct dns_answer *out, struct err *err)
{
	struct rdr r = { .p = p, .n = n, .err = err };
	unsigned counts[3], rcode = 0, ext_rcode = 0;
	size_t pos = 0;

	memset(out, 0, sizeof *out);
	if (!read_top(&r, &pos, expect_id, expect_name, expect_type, out, counts, &rcode)) {
		dns_answer_free(out);
		return false;
	}
	if (!read_sections(&r, pos, counts, expect_type, &ext_rcode, rcode, out)) {
		if (!out->truncated) {
			dns_answer_free(out);
			return false;
		}
		/* A cut-off reply is expected with TC: keep the flags only. */
		bool aa = out->authoritative;
		dns_answer_free(out);
		out->authoritative = aa;
		out->truncated = true;
		ext_rcode = 0;
		err_clear(err);
	}
	rcode |= ext_rcode << 4;
	out->status = rcode == 0 ? DNS_NOERROR : rcode == 3 ? DNS_NXDOMAIN : DNS_SERVFAIL;
	return true;
}
