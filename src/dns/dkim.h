/* dkim.h — DKIM key records (RFC 6376 §3.6.1, RFC 8463 for ed25519):
 * parse <selector>._domainkey.<domain> TXT, decode the public key with
 * OpenSSL, and check it against the private key a new server will sign
 * with.
 *
 * Tag syntax follows RFC 6376 §3.2: tag=value separated by ';', FWS
 * allowed around both, tag names case-sensitive, a duplicate tag makes
 * the record invalid, unknown tags are ignored (and listed).
 *
 * The key (p=):
 *  - k=rsa (the default): a DER SubjectPublicKeyInfo, as RFC 6376 says;
 *    a bare PKCS#1 RSAPublicKey is accepted too (some publishers put
 *    one there, and many verifiers cope) and flagged in bare_rsa.
 *  - k=ed25519: the bare 32-byte key (RFC 8463 §4.2). A
 *    SubjectPublicKeyInfo there is an error: verifiers will not use it.
 *  - empty p= means the key is revoked (not an error: revoked is set).
 *  - base64 that does not decode to a whole valid key is the error
 *    "truncated or damaged key (a TXT record split badly?)".
 *
 * dkim_key_parse() is pure (no I/O, no globals besides OpenSSL's own).
 * dkim_lookup() asks only through the dns_lookup_fn it is given.
 * dkim_key_matches_private() reads one file. Link with -lcrypto.
 */
#ifndef MS_DNS_DKIM_H
#define MS_DNS_DKIM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "dns/dns_lookup.h"

struct evp_pkey_st;             /* OpenSSL's EVP_PKEY */

enum dkim_key_type {
	DKIM_KEY_RSA = 0,
	DKIM_KEY_ED25519,
};

struct dkim_key {
	enum dkim_key_type type;    /* from k= (rsa when absent) */
	bool has_version;           /* v=DKIM1 was present */
	bool revoked;               /* p= empty: pkey NULL, bits 0 */
	bool bare_rsa;              /* p= held a PKCS#1 RSAPublicKey, not an SPKI */
	int bits;                   /* key size (RSA modulus bits; 256 for ed25519) */
	struct evp_pkey_st *pkey;   /* the public key, NULL when revoked */
	bool testing;               /* t=y */
	bool strict_domain;         /* t=s: no subdomains in i= */
	bool has_h;                 /* h= present: only these hashes are allowed */
	bool h_sha1, h_sha256;
	bool email_ok;              /* s= absent, or lists * or email */
	char **unknown;             /* names of tags we do not know (ignored) */
	size_t n_unknown;
};

/* Parse one key record. On failure returns false, *out is left empty and
 * err says which tag is wrong and what is allowed. On success release with
 * dkim_key_free(). */
bool dkim_key_parse(const char *txt, struct dkim_key *out, struct err *err);
void dkim_key_free(struct dkim_key *k);

enum dkim_status {
	DKIM_FOUND = 0,     /* key valid (it may still be revoked: key.revoked) */
	DKIM_NONE,          /* no TXT record at the name (NXDOMAIN or no data) */
	DKIM_INVALID,       /* the record does not parse */
	DKIM_MULTIPLE,      /* several TXT records at the name */
	DKIM_DNS_FAIL,      /* SERVFAIL / timeout / local failure */
};

struct dkim_result {
	enum dkim_status status;
	char *name;         /* <selector>._domainkey.<domain>, lower case */
	char *text;         /* the record's text (FOUND, INVALID), or NULL */
	struct dkim_key key; /* valid when status == DKIM_FOUND */
};

/* Look up and parse the key of selector at domain. Returns true only for
 * DKIM_FOUND (a revoked key included); otherwise false with err set and
 * out->status saying what kind of failure. *out must be zeroed by the
 * caller; release with dkim_result_free() whatever the return value. */
bool dkim_lookup(const struct dns_resolver_ref *dns, const char *selector, const char *domain,
		 struct dkim_result *out, struct err *err);
void dkim_result_free(struct dkim_result *r);

/* Load the PEM private key at pem_path (unencrypted: we never prompt) and
 * set *match_r to whether its public half equals k's key. False with err
 * set when the file cannot be read or parsed, or k has no key (revoked). */
bool dkim_key_matches_private(const struct dkim_key *k, const char *pem_path, bool *match_r,
			      struct err *err);

const char *dkim_key_type_name(enum dkim_key_type t);

#endif
