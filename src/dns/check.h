/* check.h — the checks engine of `mailshift dns check` (issue 5): for each
 * domain being migrated it asks DNS what the cutover depends on and fills
 * a report of items {section, status, code, message, advice}.
 *
 * Sections, in report order (one per phase of the issue):
 *   auth   the domain's NS, each server asked directly (RD clear) for the
 *          SOA: AA set, serials agree;
 *   mx     records, preferences, TTL readiness (earliest safe cutover),
 *          null MX, MX to a CNAME or to a name without address, reverse
 *          DNS and forward-confirmed reverse DNS of every MX address;
 *   spf    spf_lint() of the domain and spf_check_host() of every sending
 *          IP of old and new (both must pass during the parallel run);
 *   dkim   old and new selectors published, valid, not revoked, >= 1024
 *          bits (2048 recommended), the new key matching its private key;
 *   dmarc  one valid record, the organizational domain, whether mail from
 *          the new server aligns (SPF pass or DKIM d= the domain);
 *   extra  MTA-STS TXT record; with in->sts_fetch, the HTTPS policy
 *          (fetched from the addresses in->dns gives for mta-sts.<domain>)
 *          parsed strictly, and whether its mx: patterns cover the new MX
 *          and every current MX; TLS-RPT TXT record; with --smtp and
 *          in->smtp_probe, whether the new MX offers STARTTLS with a
 *          certificate that verifies.
 *
 * Contract:
 *  - No printing and no network I/O of its own: every question goes
 *    through in->dns (recursive-style), a lookup made by in->make_auth for
 *    one authoritative server address, in->sts_fetch or in->smtp_probe, so
 *    tests drive it with tables. Without sts_fetch (smtp_probe) the item
 *    mta-sts.policy-not-checked (smtp.not-implemented) says so. The only file it reads is a side's dkim_key (PEM).
 *  - Codes are stable short ids ("mx.ttl-high", "spf.plus-all"): scripts
 *    and tests match on them; the wording of message/advice may change.
 *    Every item has a one-sentence advice (may say "nothing to do").
 *  - check_run() returns false only for bad input (a sending IP that is
 *    not an address, no domain) with err set: the CLI's exit status 2.
 *    Everything DNS says, failures included, becomes items.
 *  - Time: in->now is the only clock (the earliest cutover is now + the
 *    MX TTL), so tests are deterministic.
 *
 * Ownership: check_report_free() releases every string of the report.
 */
#ifndef MS_DNS_CHECK_H
#define MS_DNS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/err.h"
#include "dns/dns_lookup.h"

enum check_section {
	CHECK_SEC_AUTH = 0,
	CHECK_SEC_MX,
	CHECK_SEC_SPF,
	CHECK_SEC_DKIM,
	CHECK_SEC_DMARC,
	CHECK_SEC_EXTRA,
	CHECK_SEC_COUNT,
};

enum check_status {
	CHECK_OK = 0,
	CHECK_INFO,
	CHECK_WARN,
	CHECK_FAIL,
};

struct check_item {
	char *domain;               /* the domain the item is about */
	enum check_section section;
	enum check_status status;
	char *code;                 /* stable id, e.g. "mx.ttl-high" */
	char *message;              /* what we found */
	char *advice;               /* one sentence: what to do */
};

/* The recommended MX TTL before a cutover (seconds). */
#define CHECK_MX_TTL_READY 300u

struct check_report {
	struct check_item *items;   /* in section order within each domain */
	size_t n;
	/* The latest earliest-safe-cutover time over the domains whose MX TTL
	 * is still above CHECK_MX_TTL_READY (now + that TTL), 0 when none. */
	time_t earliest_cutover;
};

/* One side (old or new) of the migration; every field may be NULL. */
struct check_side {
	const char *mx_host;        /* the host of [old]/[new] smtp */
	const char *sending_ips;    /* "192.0.2.10, 2001:db8::25" (comma/space list) */
	const char *dkim_selector;
	const char *dkim_key;       /* PEM private key the side signs with */
};

/* Make a lookup that asks the authoritative server at ip (text, v4 or v6)
 * directly with RD clear. On success *lookup_r and *lctx_r are set; free_auth
 * releases *lctx_r. False with err set when the lookup cannot be made (the
 * server is then reported as not answering). */
typedef bool (*check_make_auth_fn)(void *ctx, const char *ip, dns_lookup_fn *lookup_r,
				   void **lctx_r, struct err *err);
typedef void (*check_free_auth_fn)(void *ctx, void *lctx);

/* Fetch https://mta-sts.<domain>/.well-known/mta-sts.txt from one of addrs
 * (see dns/mta_sts.h): *body_r (caller frees) and *len_r, or false with err
 * saying why. */
typedef bool (*check_sts_fetch_fn)(void *ctx, const char *domain, const char *const *addrs,
				   size_t n_addrs, char **body_r, size_t *len_r, struct err *err);
/* Connect to the SMTP server host, STARTTLS when offered (certificate
 * verified): *starttls_r says whether TLS was set up. False with err when
 * the connection or the TLS handshake/verification failed. */
typedef bool (*check_smtp_probe_fn)(void *ctx, const char *host, bool *starttls_r,
				    struct err *err);

struct check_input {
	const char *const *domains;
	size_t n_domains;
	struct check_side old_side, new_side;
	struct dns_resolver_ref dns;        /* recursive-style lookups */
	check_make_auth_fn make_auth;       /* NULL: the auth section says it was skipped */
	check_free_auth_fn free_auth;
	void *auth_ctx;
	time_t now;
	bool smtp;                          /* --smtp was asked for */
	check_sts_fetch_fn sts_fetch;       /* NULL: the policy is not fetched */
	void *sts_ctx;
	check_smtp_probe_fn smtp_probe;     /* NULL: --smtp says it is not implemented */
	void *smtp_ctx;
};

bool check_run(const struct check_input *in, struct check_report *out, struct err *err);
void check_report_free(struct check_report *r);

/* The number of items with status st. */
size_t check_report_count(const struct check_report *r, enum check_status st);
/* The first item with code (and domain, unless NULL), or NULL: for tests. */
const struct check_item *check_report_find(const struct check_report *r, const char *domain,
					   const char *code);

const char *check_status_name(enum check_status st);      /* "OK" "INFO" "WARN" "FAIL" */
const char *check_section_name(enum check_section sec);   /* "auth" "mx" ... */
const char *check_section_title(enum check_section sec);  /* "Authoritative servers" ... */

/* Split a comma/space list of IP addresses into a NULL-terminated array of
 * canonical address texts (caller frees each and the array). False with
 * err naming `what` and the bad entry when one is not an address. */
bool check_parse_ips(const char *list, const char *what, char ***ips_r, size_t *n_r,
		     struct err *err);

#endif
