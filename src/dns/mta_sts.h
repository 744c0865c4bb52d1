/* mta_sts.h — the MTA-STS policy file (RFC 8461): a strict parser of its
 * text (§3.2), the mx: pattern match (§4.1), and the HTTPS fetch of
 * https://mta-sts.<domain>/.well-known/mta-sts.txt (§3.3).
 *
 * Parser contract (mta_sts_parse, mta_sts_mx_match, mta_sts_covers): no
 * I/O, no globals; the text is network input and may hold anything
 * (NUL bytes included). Lines end in LF or CRLF; each is "key: value"
 * (spaces/tabs around the value ignored). version: STSv1, mode:
 * enforce|testing|none and max_age: 0..31557600 must each appear exactly
 * once; mx: one or more times (at least once unless mode is none), each a
 * host name or "*." and a host name. Keys and values are case-sensitive as
 * in the RFC's ABNF; unknown keys with a valid name are ignored (§3.2).
 * Empty lines are accepted only at the end. Errors name the line number.
 *
 * Match (§4.1): case-insensitive, a trailing dot ignored; "*.example.com"
 * matches exactly one extra leftmost label ("mx.example.com", not
 * "example.com" nor "a.b.example.com").
 *
 * Fetch contract (mta_sts_fetch): connects to the given addresses (the
 * caller resolved mta-sts.<domain> through its own DNS view) in turn on
 * port 443 (or opts->port), TLS with SNI and the certificate verified for
 * mta-sts.<domain> (system trust store, or opts->ca_file), HTTP/1.1 GET
 * with Connection: close. Only a 200 is accepted (a redirect is an error,
 * §3.3), the Content-Type must be text/plain, the body at most
 * MTA_STS_MAX_BODY bytes, the whole exchange within opts->timeout_ms
 * (0: 10 s). Chunked transfer coding is decoded. Blocking; errors say
 * which address and what went wrong.
 *
 * Ownership: mta_sts_policy_free() releases the mx array; *body_r from
 * mta_sts_fetch() is the caller's (free()), NUL-terminated for convenience.
 */
#ifndef MS_DNS_MTA_STS_H
#define MS_DNS_MTA_STS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define MTA_STS_MAX_AGE_MAX 31557600UL
#define MTA_STS_MAX_BODY (64 * 1024)

enum mta_sts_mode {
	MTA_STS_ENFORCE = 0,
	MTA_STS_TESTING,
	MTA_STS_NONE,
};

struct mta_sts_policy {
	enum mta_sts_mode mode;
	unsigned long max_age;
	char **mx;                 /* patterns as written, e.g. "*.example.com" */
	size_t n_mx;
};

bool mta_sts_parse(const char *text, size_t len, struct mta_sts_policy *out, struct err *err);
void mta_sts_policy_free(struct mta_sts_policy *p);
const char *mta_sts_mode_name(enum mta_sts_mode m);

/* Whether pattern (an mx: value) matches host. */
bool mta_sts_mx_match(const char *pattern, const char *host);
/* The first mx: pattern of p that matches host, or NULL. */
const char *mta_sts_covers(const struct mta_sts_policy *p, const char *host);

struct mta_sts_fetch_opts {
	const char *domain;            /* the policy domain; host is mta-sts.<domain> */
	const char *const *addrs;      /* IPv4/IPv6 address texts to try, in order */
	size_t n_addrs;
	unsigned port;                 /* 0: 443 */
	const char *ca_file;           /* NULL: the system's trust store */
	int timeout_ms;                /* whole exchange; 0: 10 s */
};

bool mta_sts_fetch(const struct mta_sts_fetch_opts *o, char **body_r, size_t *len_r,
		   struct err *err);

#endif
