/* fuzz_dmarc.c — libFuzzer target for the record parsers fed by anyone's
 * DNS: the DMARC record parser and the DKIM key record parser (with its
 * base64 decoder and OpenSSL key decoding).
 *
 * The input (up to its first NUL) is one TXT record's text. It goes to
 * dmarc_parse() and dkim_key_parse() directly, and to dmarc_lookup() and
 * dkim_lookup() as the only TXT record of a fake DNS, and checks:
 *  - the contract of each result (valid policy, pct <= 100, mailto: URIs;
 *    a key unless revoked; an empty output on failure);
 *  - error messages are non-empty and printable ASCII (DNS data must not
 *    reach a terminal raw);
 *  - lookup and parse agree: a record dmarc_parse() accepts is found as a
 *    DMARC record by dmarc_lookup(), and FOUND/INVALID follow the parse;
 *    dkim_lookup() is FOUND exactly when dkim_key_parse() succeeds;
 *  - dmarc_org_domain() of the text, when it is a name, is a suffix of it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "core/alloc.h"
#include "dns/dkim.h"
#include "dns/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static void check_msg(const struct err *e)
{
	CHECK(e->msg[0] != '\0');
	for (const char *c = e->msg; *c; c++)
		CHECK((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f);
}

/* A fake DNS that has the fuzz text as the only TXT record at the first
 * name asked, and nothing anywhere else (so a fallback finds nothing). */
struct ctx {
	int asked;
	const char *text;
};

static bool one_txt(void *ctx, const char *name, uint16_t type, struct dns_answer *out,
		    struct err *err)
{
	struct ctx *c = ctx;

	(void)err;
	CHECK(type == DNS_T_TXT);
	out->status = DNS_NOERROR;
	if (c->asked++ != 0)
		return true;
	out->rr = xcalloc(1, sizeof *out->rr);
	out->n = 1;
	out->rr[0].name = xstrdup(name);
	out->rr[0].type = DNS_T_TXT;
	out->rr[0].text = xstrdup(c->text);
	return true;
}

static void fuzz_dmarc(const char *txt)
{
	struct dmarc_record r;
	struct err e = { 0 };
	bool ok = dmarc_parse(txt, &r, &e);

	if (ok) {
		CHECK(!e.msg[0]);
		CHECK(r.p == DMARC_P_NONE || r.p == DMARC_P_QUARANTINE || r.p == DMARC_P_REJECT);
		CHECK(r.sp <= DMARC_P_REJECT);
		CHECK(r.pct <= 100);
		CHECK(r.fo != 0 && r.fo < 16);
		for (size_t i = 0; i < r.n_rua; i++)
			CHECK(strncasecmp(r.rua[i].uri, "mailto:", 7) == 0 &&
			      strchr(r.rua[i].uri, '@') != NULL);
		for (size_t i = 0; i < r.n_ruf; i++)
			CHECK(strncasecmp(r.ruf[i].uri, "mailto:", 7) == 0);
		for (size_t i = 0; i < r.n_unknown; i++)
			CHECK(r.unknown[i][0] != '\0');
		dmarc_record_free(&r);
	} else {
		check_msg(&e);
		CHECK(r.rua == NULL && r.ruf == NULL && r.unknown == NULL);
	}

	struct ctx c = { 0, txt };
	struct dns_resolver_ref ref = { one_txt, &c };
	struct dmarc_result res = { 0 };
	struct err e2 = { 0 };
	bool lok = dmarc_lookup(&ref, "mail.example.co.jp", &res, &e2);

	if (ok)
		CHECK(lok && res.status == DMARC_FOUND && !res.from_org);
	if (res.status == DMARC_FOUND)
		CHECK(ok);
	if (res.status == DMARC_INVALID)
		CHECK(!ok && res.text != NULL);
	if (!lok)
		check_msg(&e2);
	dmarc_result_free(&res);
}

static void fuzz_dkim(const char *txt)
{
	struct dkim_key k;
	struct err e = { 0 };
	bool ok = dkim_key_parse(txt, &k, &e);

	if (ok) {
		CHECK(k.revoked == (k.pkey == NULL));
		if (!k.revoked) {
			CHECK(k.bits > 0);
			CHECK(EVP_PKEY_get_base_id(k.pkey) ==
			      (k.type == DKIM_KEY_ED25519 ? EVP_PKEY_ED25519 : EVP_PKEY_RSA));
		}
		dkim_key_free(&k);
	} else {
		check_msg(&e);
		CHECK(k.pkey == NULL && k.unknown == NULL);
	}

	struct ctx c = { 0, txt };
	struct dns_resolver_ref ref = { one_txt, &c };
	struct dkim_result res = { 0 };
	struct err e2 = { 0 };
	bool lok = dkim_lookup(&ref, "sel", "example.com", &res, &e2);
	CHECK(lok == ok);
	CHECK((res.status == DKIM_FOUND) == ok);
	if (!lok)
		check_msg(&e2);
	dkim_result_free(&res);
}

static void fuzz_org(const char *txt)
{
	char *o = dmarc_org_domain(txt);
	size_t n, m;

	if (o == NULL)
		return;
	n = strlen(txt);
	if (n > 0 && txt[n - 1] == '.')
		n--;
	m = strlen(o);
	CHECK(m > 0 && m <= n);
	CHECK(strncasecmp(txt + n - m, o, m) == 0);
	CHECK(m == n || txt[n - m - 1] == '.');
	CHECK(dmarc_aligned(txt, o, false));
	free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *txt;

	if (size > 8192)
		return 0;
	txt = xmalloc(size + 1);
	memcpy(txt, data, size);
	txt[size] = '\0';
	fuzz_dmarc(txt);
	fuzz_dkim(txt);
	fuzz_org(txt);
	free(txt);
	return 0;
}
