/* spf.h — our own SPF (RFC 7208) record parser, check_host() evaluator and
 * lint, for `mailshift dns check` (issue 5, point 3).
 *
 * No network I/O of its own and no globals: every DNS question goes through
 * the caller's dns_lookup_fn (src/dns/dns_lookup.h), so the same code runs
 * against a test's table and against real servers.
 *
 * Parse: spf_parse() takes one record text ("v=spf1 ..."), checks the whole
 * RFC 7208 §12 grammar (qualifiers, the eight mechanisms, dual CIDR lengths
 * "a:host/24//64", redirect= and exp= at most once each, unknown modifiers
 * name=macro-string, macro syntax including "domain-end") and fills a
 * struct spf_record. Any syntax error fails with err naming the term and
 * why; in an evaluation that is a permerror. The record text is DNS data
 * from anyone: the parser is fuzzed (tests/fuzz/fuzz_spf.c).
 *
 * Select: spf_select() picks the one TXT string starting with "v=spf1"
 * (case-insensitive, then a space or the end) among a domain's TXT records:
 * none is "none", two or more is a permerror ("two SPF records").
 *
 * Evaluate: spf_check_host() is RFC 7208 §4 check_host(ip, domain, sender)
 * with these rules, all exactly as §4.6.4 and §5:
 *  - at most 10 DNS-querying terms (include, a, mx, ptr, exists, redirect)
 *    counted over the WHOLE evaluation, nested includes and redirects
 *    included; the 11th is a permerror;
 *  - at most 2 void lookups (NXDOMAIN, or NOERROR without a record of the
 *    asked type) over the whole evaluation; the 3rd is a permerror. Counted
 *    for the term's own query (a: A or AAAA, mx: MX, ptr: PTR, exists: A;
 *    an include or redirect of a name without SPF is a permerror anyway);
 *    the address lookups of MX hosts and PTR names are not counted;
 *  - mx: more than 10 MX names is a permerror; ptr: at most 10 names are
 *    considered, and only those within the target are validated by an
 *    address lookup (same outcome as validating all, fewer queries); the
 *    address lookups of MX hosts and PTR names are not DNS terms;
 *  - SERVFAIL/timeout in a, mx, exists, include, redirect (or of the
 *    domain's own TXT) is a temperror; in ptr it only makes ptr not match
 *    (§5.5);
 *  - include maps per the table of §5.2 (none in the included domain is a
 *    permerror); redirect is followed only when no mechanism matched and the
 *    record has no "all" (if it has one, "all" always decides);
 *  - macros are expanded in include/a/mx/ptr/exists/redirect targets (§7.3,
 *    %{i} in dotted nibbles for IPv6); %{p} always expands to "unknown": we
 *    do not spend DNS lookups validating the client's name for it (allowed
 *    by §7.3, and "p" is discouraged anyway). A target that expands to an
 *    invalid name (empty label, label over 63) matches nothing and counts as
 *    a void lookup, as the query would have come back NXDOMAIN;
 *  - no sender ("" or NULL) is postmaster@helo, a sender without '@' is
 *    postmaster@sender; a NULL helo expands as "unknown" for %{h};
 *  - an IPv4-mapped IPv6 client ("::ffff:192.0.2.1") is treated as IPv4;
 *  - exp= is syntax-checked but never fetched: the check report does not
 *    need the explanation text and the lookup would cost a query.
 *
 * Where libspf2 differs (why we do not use it for the check; the cases are
 * backed by tests in tests/unit/test_spf.c, "libspf2_*"):
 *  - libspf2 counts the 10-lookup limit per record, not per evaluation: a
 *    record with 3 includes whose records each have 3 DNS terms (12 in all,
 *    no record over 10) passes there; here it is a permerror, as §4.6.4
 *    says ("... over the whole evaluation, including nested includes").
 *  - libspf2 has no void-lookup limit: a record with three a: mechanisms
 *    naming nonexistent hosts ends at its "-all"/"+all" there; here the
 *    third void lookup is a permerror (§4.6.4).
 *
 * Lint: spf_lint() looks at the domain's SPF the way an administrator needs
 * for the check report: how many SPF records, syntax, the DNS-querying
 * terms over the reachable include/redirect tree counted as a worst-case
 * evaluation would (every term evaluated), void lookups met while resolving
 * the targets that need no client data (targets with macros are skipped),
 * and flags: +all, ?all, ptr, redirect made useless by all, included
 * domains without SPF. Wording (WARN/FAIL) is the caller's.
 *
 * Memory: everything a struct owns is released by its _free function, which
 * leaves it zeroed and may be called twice.
 */
#ifndef MS_DNS_SPF_H
#define MS_DNS_SPF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "dns/dns_lookup.h"

#define SPF_MAX_DNS_TERMS 10
#define SPF_MAX_VOID_LOOKUPS 2
#define SPF_MAX_MX_NAMES 10
#define SPF_MAX_PTR_NAMES 10

enum spf_verdict {
	SPF_NONE = 0,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

enum spf_mech_kind {
	SPF_M_ALL,
	SPF_M_INCLUDE,
	SPF_M_A,
	SPF_M_MX,
	SPF_M_PTR,
	SPF_M_IP4,
	SPF_M_IP6,
	SPF_M_EXISTS,
};

struct spf_mech {
	enum spf_mech_kind kind;
	enum spf_verdict qualifier;  /* PASS (+, default), FAIL (-), SOFTFAIL (~), NEUTRAL (?) */
	char *term;                  /* the term as written, e.g. "-ip4:192.0.2.0/24" */
	char *domain_spec;           /* include/a/mx/ptr/exists target, unexpanded; NULL = current domain */
	int cidr4, cidr6;            /* a, mx, ip4, ip6: prefix lengths (32 / 128 when not given) */
	unsigned char addr[16];      /* ip4: 4 octets, ip6: 16 */
};

struct spf_record {
	struct spf_mech *mech;
	size_t n;
	char *redirect;              /* domain-spec of redirect=, or NULL */
	char *exp;                   /* domain-spec of exp=, or NULL */
	size_t unknown_modifiers;
	bool has_all;
};

/* Parse one record text. On failure err says which term and why, *out is
 * left empty. */
bool spf_parse(const char *record, struct spf_record *out, struct err *err);
void spf_record_free(struct spf_record *r);

/* True if text is an SPF record's start: "v=spf1" (any case) followed by a
 * space or the end. */
bool spf_is_spf_text(const char *text);

/* From an answer to a TXT query: the one SPF record text (borrowed from a)
 * or NULL. *count is the number of SPF records found; count > 1 is the
 * permerror "two SPF records". */
const char *spf_select(const struct dns_answer *a, size_t *count);

struct spf_result {
	enum spf_verdict result;
	/* What decided, e.g. "ip4:192.0.2.0/24 in include:_spf.example.com",
	 * "-all", "default (no match: neutral)"; for errors the term that caused
	 * it. Owned. */
	char *mechanism;
	/* Errors (permerror/temperror/none): one sentence saying why. Owned,
	 * NULL for a match. */
	char *explanation;
	unsigned dns_terms;          /* DNS-querying terms evaluated */
	unsigned void_lookups;
};

/* RFC 7208 check_host(). ip_text: the client, IPv4 or IPv6 text; domain:
 * the domain whose SPF is checked (normally the sender's); sender: the
 * MAIL FROM address (NULL or "" means the null sender: postmaster@helo);
 * helo: the HELO/EHLO name or NULL. Returns false only for local failures
 * (a bad ip_text, or the lookup function failing locally): everything DNS
 * says is in out. out is filled in any case (free with spf_result_free). */
bool spf_check_host(const struct dns_resolver_ref *dns, const char *ip_text, const char *domain,
		    const char *sender, const char *helo, struct spf_result *out);
void spf_result_free(struct spf_result *r);

const char *spf_verdict_name(enum spf_verdict v);   /* "pass", "permerror", ... */

/* Expand a domain-spec's macros as check_host() does (§7), with the current
 * domain `domain`. Returns an allocated string, or NULL with err set for a
 * syntax error or a bad ip_text. Exposed for tests and for the report. */
char *spf_macro_expand(const char *spec, const char *ip_text, const char *domain,
		       const char *sender, const char *helo, struct err *err);

struct spf_lint {
	enum spf_verdict fetch;      /* NONE: no record; PERMERROR: two or more or
				      * syntax; TEMPERROR: DNS failed; PASS: one
				      * record that parses */
	size_t records;              /* SPF records at the domain itself */
	char *record;                /* the record text, or NULL */
	char *syntax_error;          /* first syntax error in the tree (with domain), or NULL */
	unsigned dns_terms;          /* worst-case DNS-querying terms, whole tree */
	bool dns_terms_capped;       /* stopped counting (loop or huge tree) */
	unsigned void_lookups;       /* met while resolving macro-free targets */
	bool plus_all;               /* "+all" or "all" in the domain's record */
	bool question_all;           /* "?all" in the domain's record */
	bool plus_all_in_include;    /* +all in an included record: include passes everyone */
	bool uses_ptr;               /* ptr anywhere in the tree (deprecated, §5.5) */
	bool redirect_ignored;       /* a record has both redirect= and all: redirect never used */
	bool include_missing;        /* an include/redirect target has no SPF record */
	bool include_temperror;      /* a DNS failure somewhere in the tree */
	char *first_problem;         /* a sentence naming the first tree problem, or NULL */
};

/* Returns false only for local failures (err text in first_problem). */
bool spf_lint(const struct dns_resolver_ref *dns, const char *domain, struct spf_lint *out);
void spf_lint_free(struct spf_lint *l);

#endif
