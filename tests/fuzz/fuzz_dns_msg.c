/* fuzz_dns_msg.c — libFuzzer target for the DNS reply parser and the query
 * builder's name validation.
 *
 * The input is a reply as a server would send it; it is parsed expecting
 * its own id and the name "example.com" (the corpus asks that) with the
 * type chosen by the low bits of the last octet, so most inputs get past
 * the header into the sections. Checked on success: every name and TXT
 * text is printable ASCII within its bound, families match types.
 * The input as a C string is also given to the query builder: a name it
 * accepts must come back, QR set, as an empty NOERROR reply to itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/alloc.h"
#include "proto/dns_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static void check_name(const char *s)
{
	CHECK(s != NULL);
	size_t n = strlen(s);
	CHECK(n <= DNS_NAME_TEXT_MAX);
	for (size_t i = 0; i < n; i++)
		CHECK(s[i] > 0x20 && s[i] < 0x7f && !(s[i] >= 'A' && s[i] <= 'Z'));
}

static void check_answer(const struct dns_answer *a)
{
	CHECK(a->n <= DNS_MSG_MAX_RRS);
	CHECK(a->n == 0 || a->rr != NULL);
	for (size_t i = 0; i < a->n; i++) {
		const struct dns_rr *r = &a->rr[i];
		check_name(r->name);
		switch (r->type) {
		case DNS_T_A: CHECK(r->family == AF_INET); break;
		case DNS_T_AAAA: CHECK(r->family == AF_INET6); break;
		case DNS_T_MX: case DNS_T_NS: case DNS_T_CNAME: case DNS_T_PTR:
			check_name(r->target);
			break;
		case DNS_T_TXT: CHECK((r->text == NULL) == r->txt_has_nul); break;
		case DNS_T_SOA: check_name(r->soa.mname); check_name(r->soa.rname); break;
		default: CHECK(r->target == NULL && r->text == NULL); break;
		}
	}
	if (a->has_neg_soa) {
		check_name(a->neg_soa.mname);
		check_name(a->neg_soa.rname);
		CHECK(a->neg_ttl <= a->neg_soa.minimum);
	}
}

static const uint16_t types[8] = { DNS_T_A, DNS_T_AAAA, DNS_T_MX, DNS_T_TXT,
				   DNS_T_SOA, DNS_T_CNAME, DNS_T_NS, DNS_T_PTR };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_answer a;
	struct err e;

	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	uint16_t type = size ? types[data[size - 1] & 7] : DNS_T_A;
	if (dns_msg_parse(data, size, id, "example.com", type, &a, &e)) {
		check_answer(&a);
		dns_answer_free(&a);
	} else {
		CHECK(err_is_set(&e) && e.msg[0] != '\0');
	}
	/* Again with the type the packet asks for, if it looks like one. */
	if (size >= 12 + 13 + 4) {
		uint16_t qt = (uint16_t)(data[25] << 8 | data[26]);
		if (dns_msg_parse(data, size, id, "example.com", qt, &a, &e)) {
			check_answer(&a);
			dns_answer_free(&a);
		}
	}

	char *name = xstrndup((const char *)data, size > 300 ? 300 : size);
	struct buf q;
	buf_init(&q, 0);
	bool ok = dns_msg_query(&q, 0x5151, name, DNS_T_TXT, true, 1232);
	CHECK(ok == dns_msg_name_valid(name));
	if (ok) {
		q.data[2] |= (char)0x80;
		CHECK(dns_msg_parse((unsigned char *)q.data, q.len, 0x5151, name, DNS_T_TXT, &a,
				    &e));
		CHECK(a.status == DNS_NOERROR && a.n == 0 && !a.has_neg_soa);
		dns_answer_free(&a);
	}
	buf_free(&q);
	free(name);
	return 0;
}
