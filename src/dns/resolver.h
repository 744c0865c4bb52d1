/* resolver.h — DNS queries to chosen servers with c-ares, answers parsed by
 * proto/dns_msg (TTLs, AA flag, SOA serials: what c-ares' own parsers do
 * not give).
 *
 * A struct resolver asks ONE server (ip[:port]) and never caches (the
 * propagation watch needs each server's own current answer and remaining
 * TTL). With no server given it uses the system's resolvers
 * (/etc/resolv.conf), for `dns check` on a real machine. Queries go over
 * UDP with EDNS (1232 octets), falling back to TCP on truncation;
 * recursion desired is set unless the resolver was made for an
 * authoritative server (resolver_new_authoritative: RD clear, so a
 * non-authoritative answer shows as such).
 *
 * resolver_lookup() is a dns_lookup_fn (dns_lookup.h): the SPF, DKIM and
 * DMARC checks run on top of it unchanged.
 *
 * resolver_multi_lookup() asks one question of several resolvers at once
 * (one channel each, one poll loop), for `dns watch`: answers come back in
 * the order of the resolvers.
 *
 * Threads: a struct resolver is used by one thread at a time.
 * Ownership: resolver_free(); answers are freed with dns_answer_free().
 */
#ifndef MS_RESOLVER_H
#define MS_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "dns/dns_lookup.h"

struct resolver;

/* server: "192.0.2.53", "192.0.2.53:5353", "[2001:db8::53]:53", or NULL for
 * the system's resolvers. timeout_ms per try (0: 2000), tries (0: 2).
 * Errors: a server that is not a numeric address (names it, says to write
 * an IP). */
struct resolver *resolver_new(const char *server, int timeout_ms, int tries, struct err *err);
/* The same, RD clear: for asking an authoritative server directly. */
struct resolver *resolver_new_authoritative(const char *server, int timeout_ms, int tries,
					    struct err *err);
void resolver_free(struct resolver **rp);
/* "192.0.2.53:53", or "system" */
const char *resolver_name(const struct resolver *r);

/* dns_lookup_fn: ctx is a struct resolver *. out->server is set. */
bool resolver_lookup(void *ctx, const char *name, uint16_t type, struct dns_answer *out,
		     struct err *err);

/* Ask each of n resolvers (name, type) concurrently; out[i] is rs[i]'s
 * answer (timeouts as status DNS_TIMEOUT). */
bool resolver_multi_lookup(struct resolver *const *rs, size_t n, const char *name,
			   uint16_t type, struct dns_answer *out, struct err *err);

#endif
