/* dns_lookup.h — the question/answer interface the DNS checks (SPF, DKIM,
 * DMARC, MX, MTA-STS) are written against.
 *
 * The checks never talk to the network themselves: they call a
 * dns_lookup_fn, which the real resolver (c-ares against chosen servers,
 * src/dns/resolver.c) or a test's table implements. So the SPF evaluator
 * can be tested against RFC 7208's corner cases with a table, and run
 * against real NSD servers in the integration tests with the same code.
 *
 * Ownership: a dns_lookup_fn fills *out (zeroed by the caller) with
 * memory the caller releases with dns_answer_free().
 */
#ifndef MS_DNS_LOOKUP_H
#define MS_DNS_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum dns_type {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
};

/* The outcome of one query. */
enum dns_status {
	DNS_NOERROR = 0,   /* the name exists; rr may still be empty (NODATA) */
	DNS_NXDOMAIN,      /* the name does not exist */
	DNS_SERVFAIL,      /* the server failed, refused, or answered garbage */
	DNS_TIMEOUT,       /* no answer in time */
};

struct dns_soa {
	char *mname, *rname;
	uint32_t serial, refresh, retry, expire, minimum;
};

/* One resource record of the answer section (after any CNAME chain the
 * server followed: CNAME records are included, in order). */
struct dns_rr {
	char *name;              /* owner, lower case, no trailing dot */
	uint16_t type;           /* enum dns_type (others are kept, unparsed) */
	uint32_t ttl;
	/* by type: */
	char *target;            /* NS, CNAME, PTR, MX: the name (lower case, no dot) */
	uint16_t preference;     /* MX */
	int family;              /* A: AF_INET, AAAA: AF_INET6 */
	unsigned char addr[16];  /* A: 4 octets, AAAA: 16 */
	char *text;              /* TXT: the character-strings concatenated (RFC 7208
				  * §3.3), NUL-free (a TXT with a NUL is kept as
				  * text NULL and txt_has_nul true) */
	bool txt_has_nul;
	struct dns_soa soa;      /* SOA */
};

struct dns_answer {
	enum dns_status status;
	bool authoritative;      /* the AA flag */
	bool truncated;          /* TC: a TCP retry is the resolver's business */
	struct dns_rr *rr;
	size_t n;
	/* SOA of the authority section on NXDOMAIN/NODATA (negative TTL), if any */
	bool has_neg_soa;
	struct dns_soa neg_soa;
	uint32_t neg_ttl;
	char *server;            /* "192.0.2.53:53" that answered, or NULL */
};

void dns_answer_free(struct dns_answer *a);

/* A host or record name as the checks compare it: lower case, one trailing
 * dot dropped, ASCII labels of 1..63 letters, digits, '-' or '_' (record
 * names like _dmarc, selector._domainkey), at most 253 octets. A new
 * string, or NULL when d is malformed (internationalised names must come
 * in their xn-- form). */
char *dns_name_normalize(const char *d);

/* Ask for (name, type). Returns false only for local failures (err set);
 * every DNS outcome, including timeouts, is in out->status. name has no
 * trailing dot and may be any case. */
typedef bool (*dns_lookup_fn)(void *ctx, const char *name, uint16_t type,
			      struct dns_answer *out, struct err *err);

struct dns_resolver_ref {
	dns_lookup_fn lookup;
	void *ctx;
};

#endif
