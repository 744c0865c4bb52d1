/* dns_msg.h — DNS messages on the wire (RFC 1035 §4, RFC 6891 EDNS):
 * build a query, parse the reply into dns_lookup.h's struct dns_answer.
 *
 * No I/O, no globals. The resolver (c-ares sending to chosen servers)
 * hands us the raw reply bytes; everything in them is untrusted.
 *
 * Names, both ways:
 *  - Text form has no trailing dot (one is tolerated on input), labels
 *    1..63 octets, at most 253 characters (255 octets on the wire). Input
 *    names are printable ASCII without space or backslash (so no escapes
 *    are needed and none are read); LDH is not required (_dmarc,
 *    sel._domainkey); case is kept in queries. IDNs must be given as
 *    A-labels (xn--...).
 *  - Names read from a reply come out lower-cased (ASCII), no trailing
 *    dot, the root name as "". An octet a query name could not contain
 *    ('.', '\\', space, control, >= 0x80) inside a label is written as
 *    \DDD (RFC 1035 §5.1), so the text never carries control characters
 *    and never reads as a different name. At most DNS_NAME_TEXT_MAX chars.
 */
#ifndef MS_DNS_MSG_H
#define MS_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "dns/dns_lookup.h"

#define DNS_NAME_TEXT_MAX 1016   /* 254 label octets as \DDD: an upper bound */
#define DNS_MSG_MAX_RRS   1000   /* per section; more is refused */

/* True when `name` is acceptable to dns_msg_query (see above). */
bool dns_msg_name_valid(const char *name);

/* Append a query for (name, type, class IN) to `out`: a 12-octet header
 * with `id`, RD if `rd`, one question, and an OPT record advertising
 * `edns_udp_size` (raised to 512 when lower) unless it is 0. For TCP the
 * caller puts the two-octet length in front. False, with `out` unchanged,
 * when the name is not valid or `out` reaches its bound. */
bool dns_msg_query(struct buf *out, uint16_t id, const char *name, uint16_t type, bool rd,
		   uint16_t edns_udp_size);

/* Parse the reply p[0..n) to the query (expect_id, expect_name,
 * expect_type, class IN) into *out, which is overwritten (zeroed first; on
 * success the caller releases it with dns_answer_free(); on failure it is
 * left zeroed). out->server is left NULL for the caller to fill.
 *
 * Checked: at most 65535 octets; QR set, opcode QUERY, the id; exactly one
 * question, equal (case-insensitively) to the expected one; every section
 * whole and well-formed to the last octet (at most DNS_MSG_MAX_RRS records
 * each, nothing after the last); compression pointers only backwards (to
 * before the name fragment they sit in, never into the header), so loops
 * cannot be built; names at most 255 octets expanded; class IN in the
 * answer section; the RDATA of A, AAAA, NS, CNAME, PTR, MX, TXT and SOA
 * exactly the size its type needs; at most one OPT.
 *
 * Filled: status from the RCODE (with the OPT's extended bits): 0
 * NOERROR, 3 NXDOMAIN, anything else SERVFAIL; the AA and TC flags; every
 * answer-section record in order (TTLs with the top bit set read as 0, RFC
 * 2181 §8); on NXDOMAIN, or NOERROR without an answer of expect_type, the
 * first SOA of the authority section as neg_soa with neg_ttl =
 * min(its TTL, its minimum) (RFC 2308 §5).
 *
 * A reply with TC set is kept even if its sections are cut short: header
 * and question are checked as usual; when the rest does not parse, the
 * answer is returned with truncated set and no records (retrying over TCP
 * is the resolver's business).
 *
 * On failure err says what was wrong in a phrase meant to follow the
 * caller's "DNS reply from SERVER: " (ERR_KIND_PROTOCOL, retry true).
 * An expect_name dns_msg_name_valid() refuses is the caller's mistake:
 * ERR_KIND_INTERNAL, retry false. */
bool dns_msg_parse(const unsigned char *p, size_t n, uint16_t expect_id, const char *expect_name,
		   uint16_t expect_type, struct dns_answer *out, struct err *err);

#endif
