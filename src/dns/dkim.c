/* dkim.c — DKIM key record parser, key decoding, lookup and private-key
 * match (see dkim.h for the contract).
 *
 * SECURITY: the record comes from someone's DNS. Values reach error
 * messages only through show() (bounded, printable ASCII only); the
 * base64 decoder is our own and bounded by the input; OpenSSL decodes the
 * DER, and we insist it consumes all of it.
 */
#include "dns/dkim.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/alloc.h"

#define SHOW_MAX 64
#define TRUNCATED "truncated or damaged key (a TXT record split badly?)"

static void show(char dst[SHOW_MAX + 4], const char *s, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n && k < SHOW_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (i < n) {
		memcpy(dst + k, "...", 3);
		k += 3;
	}
	dst[k] = '\0';
}

/* FWS in RFC 6376 is WSP with optional CRLF folding. */
static bool is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && is_fws(**s))
		(*s)++;
	while (*e > *s && is_fws((*e)[-1]))
		(*e)--;
}

static bool is(const char *s, size_t n, const char *kw)
{
	return strlen(kw) == n && memcmp(s, kw, n) == 0;
}

const char *dkim_key_type_name(enum dkim_key_type t)
{
	return t == DKIM_KEY_ED25519 ? "ed25519" : "rsa";
}

void dkim_key_free(struct dkim_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	for (size_t i = 0; i < k->n_unknown; i++)
		free(k->unknown[i]);
	free(k->unknown);
	memset(k, 0, sizeof *k);
}

/* Base64 (RFC 6376 base64string: FWS allowed anywhere, '=' padding only
 * at the end). Returns 1 and a malloc'ed buffer, 0 for a bad character
 * (*bad set to it), -1 when the length or padding is wrong. */
static int b64_decode(const char *s, size_t n, unsigned char **out_r, size_t *len_r, char *bad)
{
	unsigned char *o = xmalloc(n / 4 * 3 + 3);
	uint32_t acc = 0;
	size_t sym = 0, len = 0, pad = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned v;

		if (is_fws((char)c))
			continue;
		if (c == '=') {
			pad++;
			sym++;
			continue;
		}
		if (pad > 0)
			goto short_;   /* data after padding */
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else {
			*bad = (char)c;
			free(o);
			return 0;
		}
		acc = (acc << 6) | v;
		if (++sym % 4 == 0) {
			o[len++] = (unsigned char)(acc >> 16);
			o[len++] = (unsigned char)(acc >> 8);
			o[len++] = (unsigned char)acc;
			acc = 0;
		}
	}
	if (sym % 4 != 0 || pad > 2)
		goto short_;
	if (pad > 0) {
		/* the last quantum had 4 - pad data symbols */
		size_t data = 4 - pad;
		acc <<= 6 * pad;
		if (data == 2) {
			o[len++] = (unsigned char)(acc >> 16);
		} else {
			o[len++] = (unsigned char)(acc >> 16);
			o[len++] = (unsigned char)(acc >> 8);
		}
	}
	*out_r = o;
	*len_r = len;
	return 1;
short_:
	free(o);
	return -1;
}

static bool decode_key(struct dkim_key *k, const unsigned char *der, size_t len,
		       struct err *err)
{
	const unsigned char *q = der;
	EVP_PKEY *pk;

	if (len > 16384)   /* far beyond any real key; keeps OpenSSL's work bounded */
		goto damaged;
	if (k->type == DKIM_KEY_ED25519) {
		if (len == 32) {
			k->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32);
			if (k->pkey == NULL)
				goto damaged;
			goto done;
		}
		pk = d2i_PUBKEY(NULL, &q, (long)len);
		if (pk != NULL && EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519) {
			EVP_PKEY_free(pk);
			err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
				"DKIM key record: p= holds an ed25519 key wrapped in a "
				"SubjectPublicKeyInfo; RFC 8463 wants only the bare 32-byte key "
				"(base64 of its last 32 bytes), or verifiers cannot use it");
			return false;
		}
		EVP_PKEY_free(pk);
		goto damaged;
	}

	pk = d2i_PUBKEY(NULL, &q, (long)len);
	if (pk != NULL && q == der + len) {
		int id = EVP_PKEY_get_base_id(pk);
		if (id != EVP_PKEY_RSA) {
			EVP_PKEY_free(pk);
			err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
				"DKIM key record: p= holds %s key but k= says rsa%s",
				id == EVP_PKEY_ED25519 ? "an ed25519" : "a non-RSA",
				id == EVP_PKEY_ED25519 ? ": add k=ed25519 and publish the bare "
				"32-byte key (RFC 8463)" : "; only rsa and ed25519 are defined");
			return false;
		}
		k->pkey = pk;
		goto done;
	}
	EVP_PKEY_free(pk);
	/* Not an SPKI: a bare PKCS#1 RSAPublicKey, as some publishers do. */
	q = der;
	pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)len);
	if (pk != NULL && q == der + len) {
		k->pkey = pk;
		k->bare_rsa = true;
		goto done;
	}
	EVP_PKEY_free(pk);
damaged:
	ERR_clear_error();
	err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
		"DKIM key record: p= is a " TRUNCATED ": %zu bytes after base64 decoding do "
		"not form a whole %s public key; publish the key again", len,
		dkim_key_type_name(k->type));
	return false;
done:
	ERR_clear_error();
	k->bits = EVP_PKEY_get_bits(k->pkey);
	return true;
}

/* Walk a colon-separated list, calling fn on each FWS-trimmed item. */
static void each_item(const char *v, size_t n, void (*fn)(struct dkim_key *, const char *, size_t),
		      struct dkim_key *k)
{
	const char *end = v + n, *s = v;

	for (;;) {
		const char *e = memchr(s, ':', (size_t)(end - s));
		const char *a = s, *b = e ? e : end;
		trim(&a, &b);
		fn(k, a, (size_t)(b - a));
		if (e == NULL)
			return;
		s = e + 1;
	}
}

static void h_item(struct dkim_key *k, const char *s, size_t n)
{
	if (is(s, n, "sha256"))
		k->h_sha256 = true;
	else if (is(s, n, "sha1"))
		k->h_sha1 = true;
}

static void s_item(struct dkim_key *k, const char *s, size_t n)
{
	if (is(s, n, "*") || is(s, n, "email"))
		k->email_ok = true;
}

static void t_item(struct dkim_key *k, const char *s, size_t n)
{
	if (is(s, n, "y"))
		k->testing = true;
	else if (is(s, n, "s"))
		k->strict_domain = true;
}

static bool valid_tag_name(const char *s, size_t n)
{
	if (n == 0 || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

bool dkim_key_parse(const char *txt, struct dkim_key *out, struct err *err)
{
	struct dkim_key k = { 0 };
	const char *s = txt, *end = txt + strlen(txt);
	const char *pv = NULL, *pe = NULL;
	char **names = NULL;
	size_t n_names = 0, idx = 0;
	char sh[SHOW_MAX + 4];
	bool ok = false;

	memset(out, 0, sizeof *out);
	k.email_ok = true;
	for (const char *c = txt; c < end; c++) {
		unsigned char u = (unsigned char)*c;
		if ((u < 0x20 && !is_fws(*c)) || u == 0x7f) {
			err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
				"DKIM key record contains a control character (byte %u at offset "
				"%zu): only printable text is allowed", (unsigned)u,
				(size_t)(c - txt));
			return false;
		}
	}

	for (;;) {
		const char *e = memchr(s, ';', (size_t)(end - s));
		const char *a = s, *b = e ? e : end;

		trim(&a, &b);
		if (a < b) {
			const char *eq = memchr(a, '=', (size_t)(b - a));
			const char *na = a, *nb = eq ? eq : b, *va, *vb;
			size_t nl, vl;

			show(sh, a, (size_t)(b - a));
			if (eq == NULL) {
				err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
					"DKIM key record: '%s' is not tag=value: separate tags "
					"with ';'", sh);
				goto out;
			}
			trim(&na, &nb);
			nl = (size_t)(nb - na);
			va = eq + 1;
			vb = b;
			trim(&va, &vb);
			vl = (size_t)(vb - va);
			if (!valid_tag_name(na, nl)) {
				err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
					"DKIM key record: '%s' does not start with a tag name "
					"(letters, digits, '_')", sh);
				goto out;
			}
			for (size_t i = 0; i < n_names; i++) {
				if (is(na, nl, names[i])) {
					show(sh, na, nl);
					err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
						"DKIM key record: the tag %s appears twice: the whole "
						"record is invalid (RFC 6376 section 3.2); keep only one", sh);
					goto out;
				}
			}
			names = xreallocarray(names, n_names + 1, sizeof *names);
			names[n_names++] = xstrndup(na, nl);

			show(sh, va, vl);
			if (is(na, nl, "v")) {
				if (idx != 0) {
					err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
						"DKIM key record: v= must be the first tag (or be left "
						"out)");
					goto out;
				}
				if (!is(va, vl, "DKIM1")) {
					err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
						"DKIM key record: v=%s is not allowed: the version must "
						"be exactly DKIM1 (or v= left out)", sh);
					goto out;
				}
				k.has_version = true;
			} else if (is(na, nl, "k")) {
				if (is(va, vl, "rsa")) {
					k.type = DKIM_KEY_RSA;
				} else if (is(va, vl, "ed25519")) {
					k.type = DKIM_KEY_ED25519;
				} else {
					err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
						"DKIM key record: k=%s is not a key type verifiers "
						"know: allowed are rsa (the default) or ed25519", sh);
					goto out;
				}
			} else if (is(na, nl, "p")) {
				pv = va;
				pe = vb;
			} else if (is(na, nl, "h")) {
				k.has_h = true;
				each_item(va, vl, h_item, &k);
			} else if (is(na, nl, "s")) {
				k.email_ok = false;
				each_item(va, vl, s_item, &k);
			} else if (is(na, nl, "t")) {
				each_item(va, vl, t_item, &k);
			} else if (!is(na, nl, "n")) {
				k.unknown = xreallocarray(k.unknown, k.n_unknown + 1,
							  sizeof *k.unknown);
				k.unknown[k.n_unknown++] = xstrndup(na, nl);
			}
			idx++;
		}
		if (e == NULL)
			break;
		s = e + 1;
	}

	if (pv == NULL) {
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
			"DKIM key record has no p= tag (the public key): publish the record "
			"your signing server generated, with p=");
		goto out;
	}
	if (pv == pe) {
		k.revoked = true;
	} else {
		unsigned char *der = NULL;
		size_t len = 0;
		char bad = 0;
		int rc = b64_decode(pv, (size_t)(pe - pv), &der, &len, &bad);

		if (rc == 0) {
			show(sh, &bad, 1);
			err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
				"DKIM key record: p= contains '%s', which is not base64: a "
				TRUNCATED, sh);
			goto out;
		}
		if (rc < 0) {
			err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
				"DKIM key record: p= is not whole base64 (wrong length or "
				"padding): a " TRUNCATED);
			goto out;
		}
		bool dec = decode_key(&k, der, len, err);
		free(der);
		if (!dec)
			goto out;
	}
	ok = true;
out:
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	if (ok)
		*out = k;
	else
		dkim_key_free(&k);
	return ok;
}

/* ---- lookup ---- */

void dkim_result_free(struct dkim_result *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->text);
	dkim_key_free(&r->key);
	memset(r, 0, sizeof *r);
}

bool dkim_lookup(const struct dns_resolver_ref *dns, const char *selector, const char *domain,
		 struct dkim_result *out, struct err *err)
{
	char *sel = dns_name_normalize(selector), *dom = dns_name_normalize(domain);
	struct dns_answer a = { 0 };
	const struct dns_rr *found = NULL;
	size_t count = 0;
	bool ok = false;
	char sh[SHOW_MAX + 4];

	out->status = DKIM_DNS_FAIL;
	if (sel == NULL || dom == NULL) {
		const char *what = sel == NULL ? selector : domain;
		show(sh, what ? what : "", what ? strlen(what) : 0);
		out->status = DKIM_INVALID;
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
			"'%s' is not a valid DKIM %s: use letters, digits, '-' and dots", sh,
			sel == NULL ? "selector" : "domain");
		goto done;
	}
	out->name = xasprintf("%s._domainkey.%s", sel, dom);
	if (strlen(out->name) > 253) {
		out->status = DKIM_INVALID;
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
			"%s is longer than a DNS name can be", out->name);
		goto done;
	}
	if (!dns->lookup(dns->ctx, out->name, DNS_T_TXT, &a, err))
		goto done;
	if (a.status == DNS_SERVFAIL || a.status == DNS_TIMEOUT) {
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_CONNECT, true,
			"cannot look up the DKIM key at %s: the DNS server %s; try again later",
			out->name, a.status == DNS_TIMEOUT ? "did not answer in time" : "failed");
		goto done;
	}
	for (size_t i = 0; a.status == DNS_NOERROR && i < a.n; i++) {
		if (a.rr[i].type != DNS_T_TXT)
			continue;
		if (count++ == 0)
			found = &a.rr[i];
	}
	if (count == 0) {
		out->status = DKIM_NONE;
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
			"no DKIM key is published at %s (%s): publish the selector's TXT record",
			out->name, a.status == DNS_NXDOMAIN ? "no such name" : "no TXT record");
		goto done;
	}
	if (count > 1) {
		out->status = DKIM_MULTIPLE;
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
			"%s has %zu TXT records: verifiers cannot tell which key is meant; keep "
			"only the key record", out->name, count);
		goto done;
	}
	out->status = DKIM_INVALID;
	if (found->text == NULL) {
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
			"%s: the DKIM key record contains a NUL byte: publish it again", out->name);
		goto done;
	}
	out->text = xstrdup(found->text);
	if (!dkim_key_parse(found->text, &out->key, err)) {
		err_prefix(err, "%s: ", out->name);
		goto done;
	}
	out->status = DKIM_FOUND;
	ok = true;
done:
	dns_answer_free(&a);
	free(sel);
	free(dom);
	return ok;
}

/* ---- private key match ---- */

/* Never prompt for a passphrase: an encrypted key simply fails to load. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

bool dkim_key_matches_private(const struct dkim_key *k, const char *pem_path, bool *match_r,
			      struct err *err)
{
	EVP_PKEY *priv;
	FILE *f;

	*match_r = false;
	if (k->pkey == NULL) {
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
			"the published DKIM key is revoked (empty p=): there is no key to compare "
			"with %s", pem_path);
		return false;
	}
	f = fopen(pem_path, "r");
	if (f == NULL) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, false,
			"cannot open the DKIM private key %s: %s", pem_path, strerror(errno));
		return false;
	}
	priv = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (priv == NULL) {
		ERR_clear_error();
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
			"%s is not an unencrypted PEM private key: give the signing key in PEM "
			"(an encrypted one needs its passphrase removed first)", pem_path);
		return false;
	}
	/* 1 equal; 0 different; negative: different types or not comparable */
	*match_r = EVP_PKEY_eq(k->pkey, priv) == 1;
	EVP_PKEY_free(priv);
	ERR_clear_error();
	return true;
}
