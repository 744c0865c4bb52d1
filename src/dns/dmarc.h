/* dmarc.h — strict DMARC record parser (RFC 7489 §6.3, §6.4), record
 * discovery at _dmarc.<domain> with the organizational-domain fallback
 * (§6.6.3), and identifier alignment (§3.1).
 *
 * Stricter than libopendmarc on purpose: a record whose first tag is not
 * v=DMARC1, a record without p=, a duplicate tag, or two DMARC records at
 * one name are errors, because receivers ignore such records and the
 * administrator must hear it before the cutover.
 *
 * What "a DMARC record" is (exactly): a TXT record whose first tag is
 * "v" (tag names and keyword values are case-insensitive, since RFC 7489's
 * ABNF writes them as quoted strings, RFC 5234 §2.3) followed by optional
 * SP/HTAB, "=", optional SP/HTAB and the value DMARC1 *exactly* (the ABNF
 * gives it as %x44.4d.41.52.43.31 and §6.3 says it "MUST match
 * precisely"), ending at ';', SP/HTAB or the end. "v=dmarc1" is not one.
 * Other TXT records at _dmarc are ignored (but the first one that
 * mentions DMARC is reported, since it is usually a mistyped record).
 *
 * dmarc_parse() is pure (no I/O, no globals). dmarc_lookup() asks only
 * through the dns_lookup_fn it is given. The organizational domain comes
 * from libpsl (psl_latest(): the newer of the distribution's list and the
 * built-in one), loaded once per process and read-only after that: the
 * one process-wide object in this module.
 *
 * Link with -lpsl.
 */
#ifndef MS_DNS_DMARC_H
#define MS_DNS_DMARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "dns/dns_lookup.h"

enum dmarc_policy {
	DMARC_P_UNSET = 0,
	DMARC_P_NONE,
	DMARC_P_QUARANTINE,
	DMARC_P_REJECT,
};

/* fo= options (bit set) */
enum {
	DMARC_FO_0 = 1 << 0,
	DMARC_FO_1 = 1 << 1,
	DMARC_FO_D = 1 << 2,
	DMARC_FO_S = 1 << 3,
};

struct dmarc_uri {
	char *uri;              /* "mailto:..." without the !size suffix */
	bool has_limit;
	uint64_t limit;         /* !size in bytes (k/m/g/t are powers of 1024) */
};

struct dmarc_record {
	enum dmarc_policy p;
	enum dmarc_policy sp;   /* DMARC_P_UNSET when absent (receivers use p) */
	unsigned pct;           /* 100 when absent */
	bool has_pct;
	bool adkim_strict, aspf_strict;   /* r (false) when absent */
	unsigned fo;            /* DMARC_FO_* bits; DMARC_FO_0 when absent */
	bool has_fo;
	uint32_t ri;            /* 86400 when absent */
	bool has_ri;
	bool has_rf;            /* rf= present (its only defined value is afrf) */
	struct dmarc_uri *rua, *ruf;
	size_t n_rua, n_ruf;
	char **unknown;         /* names of tags we do not know (ignored) */
	size_t n_unknown;
	/* WARN: p= is present but not right after v= (RFC 7489 §6.3 wants it
	 * there; some receivers are picky). */
	bool p_not_second;
};

/* Parse one record (the TXT text). On failure returns false, *out is left
 * empty (nothing to free) and err says which tag is wrong and what is
 * allowed. On success release *out with dmarc_record_free(). */
bool dmarc_parse(const char *txt, struct dmarc_record *out, struct err *err);
void dmarc_record_free(struct dmarc_record *r);

enum dmarc_status {
	DMARC_FOUND = 0,        /* rec is valid; found_at says where */
	DMARC_NONE,             /* no DMARC record at the domain or its org domain */
	DMARC_INVALID,          /* a record was found but does not parse */
	DMARC_MULTIPLE,         /* two or more DMARC records at one name */
	DMARC_DNS_FAIL,         /* SERVFAIL / timeout: no conclusion (retry) */
};

struct dmarc_result {
	enum dmarc_status status;
	char *domain;           /* the domain asked about, lower case */
	char *org_domain;       /* its organizational domain (may equal domain) */
	char *found_at;         /* the name the record came from ("_dmarc.X"), or NULL */
	bool from_org;          /* the record is the org domain's (fallback used) */
	char *text;             /* the record's text (FOUND, INVALID), or NULL */
	/* a TXT record at a queried _dmarc name that mentions "dmarc" (any
	 * case) but is not a DMARC record by the rule above, or NULL */
	char *ignored;
	struct dmarc_record rec; /* valid when status == DMARC_FOUND */
};

/* Discover the DMARC record of domain. Returns true when status is
 * DMARC_FOUND or DMARC_NONE; false otherwise (and for a bad domain or a
 * local lookup failure), with err saying why, and out->status saying what
 * kind of failure. *out must be zeroed by the caller; release it with
 * dmarc_result_free() whatever the return value. */
bool dmarc_lookup(const struct dns_resolver_ref *dns, const char *domain,
		  struct dmarc_result *out, struct err *err);
void dmarc_result_free(struct dmarc_result *r);

/* The organizational domain (RFC 7489 §3.2) of domain: the registrable
 * domain by the Public Suffix List, lower case, no trailing dot; the
 * domain itself when it is a public suffix or the PSL knows nothing of it.
 * NULL for an empty or malformed name. Caller frees. */
char *dmarc_org_domain(const char *domain);

/* Identifier alignment (RFC 7489 §3.1): strict means the two names are
 * equal (case-insensitive, trailing dot ignored); relaxed means their
 * organizational domains are equal. False for NULL or empty names. */
bool dmarc_aligned(const char *from_domain, const char *auth_domain, bool strict);

const char *dmarc_policy_name(enum dmarc_policy p);

#endif
