/* fuzz_spf.c — libFuzzer target for src/dns/spf.c.
 *
 * SPF records are DNS data anyone can publish, so the parser and the
 * evaluator must never crash on them. Two targets on every input:
 *  1. spf_parse() on the bytes up to the first NUL (as a C string); a parse
 *     that succeeds must leave every mechanism with a term and sane CIDR
 *     lengths, and spf_macro_expand() on each domain-spec must succeed.
 *  2. spf_check_host() against a fake DNS whose every TXT answer is that
 *     record and every other query answers one A/AAAA/MX/PTR record (so
 *     includes and redirects recurse into the same record until the
 *     10-term limit stops them): the result must be one of the verdicts and
 *     the counters within the limits.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "dns/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fake_lookup(void *ctx, const char *name, uint16_t type, struct dns_answer *out, struct err *err)
{
	const char *rec = ctx;

	(void)err;
	out->status = DNS_NOERROR;
	out->rr = xcalloc(1, sizeof(*out->rr));
	out->n = 1;
	out->rr[0].name = xstrdup(name);
	out->rr[0].type = type;
	switch (type) {
	case DNS_T_TXT:
		out->rr[0].text = xstrdup(rec);
		break;
	case DNS_T_A:
		out->rr[0].family = AF_INET;
		inet_pton(AF_INET, "192.0.2.1", out->rr[0].addr);
		break;
	case DNS_T_AAAA:
		out->rr[0].family = AF_INET6;
		inet_pton(AF_INET6, "2001:db8::1", out->rr[0].addr);
		break;
	case DNS_T_MX:
		out->rr[0].target = xstrdup("mx.example.com");
		break;
	case DNS_T_PTR:
		out->rr[0].target = xstrdup("host.example.com");
		break;
	default:
		break;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *rec = xstrndup((const char *)data, size);
	struct spf_record r;
	struct err err;

	err_clear(&err);
	if (spf_parse(rec, &r, &err)) {
		for (size_t i = 0; i < r.n; i++) {
			const struct spf_mech *m = &r.mech[i];

			if (m->term == NULL || m->cidr4 < 0 || m->cidr4 > 32 || m->cidr6 < 0 || m->cidr6 > 128)
				abort();
			if (m->domain_spec != NULL) {
				char *x = spf_macro_expand(m->domain_spec, "2001:db8::cb01", "example.com",
							   "a-b@example.com", "helo.example", &err);
				if (x == NULL)
					abort();
				free(x);
			}
		}
		spf_record_free(&r);
	} else if (err.msg[0] == '\0') {
		abort();
	}

	if (spf_is_spf_text(rec)) {
		struct dns_resolver_ref dns = { fake_lookup, rec };
		struct spf_result res;

		for (int v6 = 0; v6 < 2; v6++) {
			spf_check_host(&dns, v6 ? "2001:db8::1" : "192.0.2.1", "example.com",
				       "user@example.com", "helo.example", &res);
			if (res.result > SPF_PERMERROR || res.mechanism == NULL ||
			    res.dns_terms > SPF_MAX_DNS_TERMS + 1 || res.void_lookups > SPF_MAX_VOID_LOOKUPS + 1)
				abort();
			spf_result_free(&res);
		}
	}
	free(rec);
	return 0;
}
