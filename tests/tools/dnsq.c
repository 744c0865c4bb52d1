/* dnsq.c — a tiny driver of src/dns/resolver.c for the tests (and for
 * looking at the lab by hand).
 *
 *   dnsq [--auth] [--timeout MS] [--tries N] SERVER NAME TYPE
 *   dnsq --multi [--auth] [--timeout MS] [--tries N] NAME TYPE SERVER...
 *
 * SERVER is ip[:port], [ip6]:port, or "system" (/etc/resolv.conf). TYPE is
 * A, AAAA, NS, CNAME, SOA, PTR, MX, TXT or a number. --auth makes the
 * resolver with resolver_new_authoritative (RD clear).
 *
 * Output, one line each (with --multi every line starts "I: ", I the
 * server's position from 1, servers in the order given):
 *   status NOERROR|NXDOMAIN|SERVFAIL|TIMEOUT
 *   aa 0|1
 *   tc 0|1
 *   server ADDR
 *   rr NAME TTL TYPE DATA       one per answer record, in order
 *   negsoa TTL SERIAL MNAME     the negative-caching SOA, if any
 * DATA: A/AAAA the address; NS/CNAME/PTR the name; MX "PREF NAME"; TXT
 * the joined text ("<nul>" when it holds a NUL); SOA "MNAME RNAME SERIAL
 * REFRESH RETRY EXPIRE MINIMUM"; other types "-".
 * Exit: 0 with an answer of any status, 1 when the lookup failed locally
 * (message on stderr), 2 for bad usage.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "dns/dns_lookup.h"
#include "dns/resolver.h"

static const struct {
	const char *name;
	uint16_t type;
} types[] = {
	{ "A", DNS_T_A }, { "NS", DNS_T_NS }, { "CNAME", DNS_T_CNAME }, { "SOA", DNS_T_SOA },
	{ "PTR", DNS_T_PTR }, { "MX", DNS_T_MX }, { "TXT", DNS_T_TXT }, { "AAAA", DNS_T_AAAA },
};

static int usage(void)
{
	fprintf(stderr, "usage: dnsq [--auth] [--timeout MS] [--tries N] SERVER NAME TYPE\n"
			"       dnsq --multi [--auth] [--timeout MS] [--tries N] NAME TYPE SERVER...\n");
	return 2;
}

static bool parse_type(const char *s, uint16_t *t)
{
	char *end;
	unsigned long v;

	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcasecmp(s, types[i].name) == 0) {
			*t = types[i].type;
			return true;
		}
	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 1 || v > 65535)
		return false;
	*t = (uint16_t)v;
	return true;
}

static const char *type_name(uint16_t t, char *tmp, size_t n)
{
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (types[i].type == t)
			return types[i].name;
	snprintf(tmp, n, "TYPE%u", (unsigned)t);
	return tmp;
}

static void print_answer(const char *pre, const struct dns_answer *a)
{
	static const char *st[] = { "NOERROR", "NXDOMAIN", "SERVFAIL", "TIMEOUT" };
	char tmp[64], addr[INET6_ADDRSTRLEN];

	printf("%sstatus %s\n", pre, (unsigned)a->status < 4 ? st[a->status] : "?");
	printf("%saa %d\n", pre, a->authoritative ? 1 : 0);
	printf("%stc %d\n", pre, a->truncated ? 1 : 0);
	printf("%sserver %s\n", pre, a->server ? a->server : "-");
	for (size_t i = 0; i < a->n; i++) {
		const struct dns_rr *r = &a->rr[i];
		printf("%srr %s %" PRIu32 " %s ", pre, r->name, r->ttl,
		       type_name(r->type, tmp, sizeof tmp));
		switch (r->type) {
		case DNS_T_A:
		case DNS_T_AAAA:
			printf("%s\n", inet_ntop(r->family, r->addr, addr, sizeof addr) ? addr : "?");
			break;
		case DNS_T_NS:
		case DNS_T_CNAME:
		case DNS_T_PTR:
			printf("%s\n", r->target);
			break;
		case DNS_T_MX:
			printf("%u %s\n", (unsigned)r->preference, r->target);
			break;
		case DNS_T_TXT:
			printf("%s\n", r->txt_has_nul || r->text == NULL ? "<nul>" : r->text);
			break;
		case DNS_T_SOA:
			printf("%s %s %" PRIu32 " %" PRIu32 " %" PRIu32 " %" PRIu32 " %" PRIu32 "\n",
			       r->soa.mname, r->soa.rname, r->soa.serial, r->soa.refresh,
			       r->soa.retry, r->soa.expire, r->soa.minimum);
			break;
		default:
			printf("-\n");
		}
	}
	if (a->has_neg_soa)
		printf("%snegsoa %" PRIu32 " %" PRIu32 " %s\n", pre, a->neg_ttl, a->neg_soa.serial,
		       a->neg_soa.mname);
}

int main(int argc, char **argv)
{
	bool auth = false, multi = false;
	int timeout = 0, tries = 0, i = 1, rc = 0;
	const char *name;
	uint16_t type;
	struct err err;

	err_clear(&err);
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--auth") == 0)
			auth = true;
		else if (strcmp(argv[i], "--multi") == 0)
			multi = true;
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
			timeout = atoi(argv[++i]);
		else if (strcmp(argv[i], "--tries") == 0 && i + 1 < argc)
			tries = atoi(argv[++i]);
		else
			return usage();
	}
	if (multi ? argc - i < 3 : argc - i != 3)
		return usage();

	char **servers = multi ? &argv[i + 2] : &argv[i];
	size_t n = multi ? (size_t)(argc - i - 2) : 1;
	name = multi ? argv[i] : argv[i + 1];
	if (!parse_type(multi ? argv[i + 1] : argv[i + 2], &type))
		return usage();

	struct resolver **rs = calloc(n, sizeof *rs);
	struct dns_answer *out = calloc(n, sizeof *out);
	if (rs == NULL || out == NULL)
		return 1;
	for (size_t k = 0; k < n; k++) {
		const char *s = strcmp(servers[k], "system") == 0 ? NULL : servers[k];
		rs[k] = auth ? resolver_new_authoritative(s, timeout, tries, &err)
			     : resolver_new(s, timeout, tries, &err);
		if (rs[k] == NULL) {
			fprintf(stderr, "dnsq: %s\n", err.msg);
			rc = 1;
			goto done;
		}
	}
	if (multi ? !resolver_multi_lookup(rs, n, name, type, out, &err)
		  : !resolver_lookup(rs[0], name, type, out, &err)) {
		fprintf(stderr, "dnsq: %s\n", err.msg);
		rc = 1;
		goto done;
	}
	for (size_t k = 0; k < n; k++) {
		char pre[32] = "";
		if (multi)
			snprintf(pre, sizeof pre, "%zu: ", k + 1);
		print_answer(pre, &out[k]);
		dns_answer_free(&out[k]);
	}
done:
	for (size_t k = 0; k < n; k++)
		resolver_free(&rs[k]);
	free(rs);
	free(out);
	return rc;
}
