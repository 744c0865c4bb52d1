/* dmarc.c — strict DMARC record parser, discovery and alignment (see
 * dmarc.h for the contract and for exactly what counts as a DMARC record).
 *
 * SECURITY: every byte parsed here comes from someone's DNS. Values are
 * echoed into error messages only through show(), which bounds them and
 * replaces anything that is not printable ASCII, so a record cannot put
 * terminal escapes or newlines into our output.
 */
#include "dns/dmarc.h"

#include <ctype.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"

#define SHOW_MAX 64

/* A bounded, printable copy of s[0..n) for messages. */
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

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && is_wsp(**s))
		(*s)++;
	while (*e > *s && is_wsp((*e)[-1]))
		(*e)--;
}

/* Case-insensitive compare of s[0..n) with the keyword kw. */
static bool word_is(const char *s, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(s, kw, n) == 0;
}

static bool parse_policy(const char *v, size_t n, enum dmarc_policy *p)
{
	if (word_is(v, n, "none"))
		*p = DMARC_P_NONE;
	else if (word_is(v, n, "quarantine"))
		*p = DMARC_P_QUARANTINE;
	else if (word_is(v, n, "reject"))
		*p = DMARC_P_REJECT;
	else
		return false;
	return true;
}

/* 1*DIGIT into *out, false on anything else or above max. */
static bool parse_uint(const char *v, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
		if (x > max)
			return false;
	}
	*out = x;
	return true;
}

/* Split v[0..n) at sep into WSP-trimmed items; calls fn for each; an
 * empty item is an error (fn sees it with length 0). */
typedef bool (*item_fn)(const char *s, size_t n, void *ctx);

static bool each_item(const char *v, size_t n, char sep, item_fn fn, void *ctx)
{
	const char *end = v + n, *s = v;

	for (;;) {
		const char *e = memchr(s, sep, (size_t)(end - s));
		const char *stop = e ? e : end;
		const char *a = s, *b = stop;
		trim(&a, &b);
		if (!fn(a, (size_t)(b - a), ctx))
			return false;
		if (e == NULL)
			return true;
		s = e + 1;
	}
}

static bool fo_item(const char *s, size_t n, void *ctx)
{
	unsigned *fo = ctx;

	if (n != 1)
		return false;
	switch (tolower((unsigned char)s[0])) {
	case '0': *fo |= DMARC_FO_0; return true;
	case '1': *fo |= DMARC_FO_1; return true;
	case 'd': *fo |= DMARC_FO_D; return true;
	case 's': *fo |= DMARC_FO_S; return true;
	}
	return false;
}

static bool rf_item(const char *s, size_t n, void *ctx)
{
	(void)ctx;
	return word_is(s, n, "afrf");
}

struct uri_ctx {
	const char *tag;
	struct dmarc_uri **list;
	size_t *n;
	struct err *err;
};

/* dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ] (§6.4); we
 * accept only mailto: URIs with an address, since reports go by mail. */
static bool uri_item(const char *s, size_t n, void *ctx)
{
	struct uri_ctx *u = ctx;
	char shown[SHOW_MAX + 4];
	const char *bang = memchr(s, '!', n);
	size_t ulen = bang ? (size_t)(bang - s) : n;
	struct dmarc_uri d = { 0 };

	show(shown, s, n);
	if (n == 0) {
		err_set(u->err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
			"DMARC record: %s= has an empty entry: give comma-separated mailto: URIs",
			u->tag);
		return false;
	}
	const char *at = NULL;
	bool ok = ulen > 7 && strncasecmp(s, "mailto:", 7) == 0;
	for (size_t i = 7; ok && i < ulen && s[i] != '?'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == ',')
			ok = false;
		else if (c == '@' && at == NULL)
			at = s + i;
	}
	if (ok && (at == NULL || at == s + 7 || at + 1 >= s + ulen || at[1] == '?'))
		ok = false;
	if (!ok) {
		err_set(u->err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
			"DMARC record: %s= entry '%s' is not a mailto: URI: reports are only sent "
			"by mail, write mailto:address@domain (optionally with !size, like !10m)",
			u->tag, shown);
		return false;
	}
	if (bang != NULL) {
		const char *z = bang + 1, *ze = s + n;
		uint64_t mult = 1, x;
		if (ze > z) {
			switch (tolower((unsigned char)ze[-1])) {
			case 'k': mult = 1ULL << 10; ze--; break;
			case 'm': mult = 1ULL << 20; ze--; break;
			case 'g': mult = 1ULL << 30; ze--; break;
			case 't': mult = 1ULL << 40; ze--; break;
			}
		}
		if (!parse_uint(z, (size_t)(ze - z), UINT64_MAX / mult / 10, &x)) {
			err_set(u->err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
				"DMARC record: %s= entry '%s' has a bad size limit after '!': allowed "
				"are digits with an optional unit k, m, g or t (like !10m)",
				u->tag, shown);
			return false;
		}
		d.has_limit = true;
		d.limit = x * mult;
	}
	d.uri = xstrndup(s, ulen);
	*u->list = xreallocarray(*u->list, *u->n + 1, sizeof **u->list);
	(*u->list)[(*u->n)++] = d;
	return true;
}

enum tag_id { T_V, T_P, T_SP, T_PCT, T_ADKIM, T_ASPF, T_FO, T_RF, T_RI, T_RUA, T_RUF, T_N };
static const char *const tag_names[T_N] = {
	"v", "p", "sp", "pct", "adkim", "aspf", "fo", "rf", "ri", "rua", "ruf",
};

void dmarc_record_free(struct dmarc_record *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_rua; i++)
		free(r->rua[i].uri);
	for (size_t i = 0; i < r->n_ruf; i++)
		free(r->ruf[i].uri);
	for (size_t i = 0; i < r->n_unknown; i++)
		free(r->unknown[i]);
	free(r->rua);
	free(r->ruf);
	free(r->unknown);
	memset(r, 0, sizeof *r);
}

/* One tag=value; idx counts the non-empty elements before it. */
static bool parse_tag(struct dmarc_record *r, bool seen[T_N], size_t idx, const char *name,
		      size_t nlen, const char *v, size_t vlen, struct err *err)
{
	char sv[SHOW_MAX + 4], sn[SHOW_MAX + 4];
	enum tag_id id = T_N;
	uint64_t x;

	show(sv, v, vlen);
	show(sn, name, nlen);
	for (int i = 0; i < T_N; i++)
		if (word_is(name, nlen, tag_names[i]))
			id = (enum tag_id)i;
	if (id == T_N) {
		for (size_t i = 0; i < r->n_unknown; i++)
			if (word_is(name, nlen, r->unknown[i]))
				goto dup;
		char *low = xstrndup(name, nlen);
		for (char *c = low; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		r->unknown = xreallocarray(r->unknown, r->n_unknown + 1, sizeof *r->unknown);
		r->unknown[r->n_unknown++] = low;
		return true;
	}
	if (seen[id])
		goto dup;
	seen[id] = true;

	switch (id) {
	case T_V:
		/* idx 0 is checked by the caller before anything else */
		if (vlen != 6 || memcmp(v, "DMARC1", 6) != 0) {
			err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
				"DMARC record: v=%s is not allowed: the version must be exactly "
				"DMARC1 (upper case); receivers ignore the record", sv);
			return false;
		}
		return true;
	case T_P:
	case T_SP:
		if (!parse_policy(v, vlen, id == T_P ? &r->p : &r->sp)) {
			err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
				"DMARC record: %s=%s is not a policy: allowed are none, quarantine "
				"or reject", tag_names[id], sv);
			return false;
		}
		if (id == T_P && idx != 1)
			r->p_not_second = true;
		return true;
	case T_PCT:
		if (vlen > 3 || !parse_uint(v, vlen, 100, &x)) {
			err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
				"DMARC record: pct=%s is not allowed: pct must be a whole number "
				"from 0 to 100", sv);
			return false;
		}
		r->pct = (unsigned)x;
		r->has_pct = true;
		return true;
	case T_ADKIM:
	case T_ASPF:
		if (!word_is(v, vlen, "r") && !word_is(v, vlen, "s")) {
			err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
				"DMARC record: %s=%s is not allowed: allowed are r (relaxed) or s "
				"(strict)", tag_names[id], sv);
			return false;
		}
		*(id == T_ADKIM ? &r->adkim_strict : &r->aspf_strict) = word_is(v, vlen, "s");
		return true;
	case T_FO:
		r->fo = 0;
		if (!each_item(v, vlen, ':', fo_item, &r->fo)) {
			err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
				"DMARC record: fo=%s is not allowed: allowed is a colon-separated "
				"list of 0, 1, d and s (like fo=1:d)", sv);
			return false;
		}
		r->has_fo = true;
		return true;
	case T_RF:
		if (!each_item(v, vlen, ':', rf_item, NULL)) {
			err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
				"DMARC record: rf=%s is not allowed: the only report format defined "
				"is afrf", sv);
			return false;
		}
		r->has_rf = true;
		return true;
	case T_RI:
		if (!parse_uint(v, vlen, UINT32_MAX, &x)) {
			err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
				"DMARC record: ri=%s is not allowed: ri must be a whole number of "
				"seconds (like ri=86400)", sv);
			return false;
		}
		r->ri = (uint32_t)x;
		r->has_ri = true;
		return true;
	case T_RUA:
	case T_RUF: {
		struct uri_ctx u = { tag_names[id], id == T_RUA ? &r->rua : &r->ruf,
				     id == T_RUA ? &r->n_rua : &r->n_ruf, err };
		return each_item(v, vlen, ',', uri_item, &u);
	}
	case T_N:
		break;
	}
	return true;
dup:
	err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
		"DMARC record: the tag %s appears twice: receivers ignore the whole record; "
		"keep only one", sn);
	return false;
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

bool dmarc_parse(const char *txt, struct dmarc_record *out, struct err *err)
{
	struct dmarc_record r = { 0 };
	bool seen[T_N] = { false };
	const char *s = txt, *end = txt + strlen(txt);
	char sh[SHOW_MAX + 4];
	size_t idx = 0;

	memset(out, 0, sizeof *out);
	r.pct = 100;
	r.fo = DMARC_FO_0;
	r.ri = 86400;

	for (const char *c = txt; c < end; c++) {
		if ((unsigned char)*c < 0x20 && *c != '\t') {
			err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
				"DMARC record contains a control character (byte %u at offset %zu): "
				"only printable text is allowed", (unsigned)(unsigned char)*c,
				(size_t)(c - txt));
			return false;
		}
	}

	for (;;) {
		const char *e = memchr(s, ';', (size_t)(end - s));
		const char *stop = e ? e : end;
		const char *a = s, *b = stop;

		trim(&a, &b);
		/* A ';' before v=DMARC1 means the record does not start with it
		 * (and discovery would not find it); later empty elements (";;",
		 * a trailing ";") carry nothing and are skipped. */
		if (a == b && idx == 0 && e != NULL) {
			err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
				"DMARC record does not start with v=DMARC1 (it starts with ';'): "
				"receivers ignore it; put v=DMARC1 first");
			goto fail;
		}
		if (a < b) {
			const char *eq = memchr(a, '=', (size_t)(b - a));
			const char *na = a, *nb = eq ? eq : b, *va, *vb;

			show(sh, a, (size_t)(b - a));
			if (idx == 0) {
				const char *t = na, *te = nb;
				trim(&t, &te);
				if (eq == NULL || !word_is(t, (size_t)(te - t), "v")) {
					err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
						"DMARC record does not start with v=DMARC1 (it starts "
						"with '%s'): receivers ignore it; put v=DMARC1 first",
						sh);
					goto fail;
				}
			}
			if (eq == NULL) {
				err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
					"DMARC record: '%s' is not tag=value: separate tags with ';'",
					sh);
				goto fail;
			}
			trim(&na, &nb);
			if (!valid_tag_name(na, (size_t)(nb - na))) {
				err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
					"DMARC record: '%s' does not start with a tag name (letters, "
					"digits, '_')", sh);
				goto fail;
			}
			va = eq + 1;
			vb = b;
			trim(&va, &vb);
			if (!parse_tag(&r, seen, idx, na, (size_t)(nb - na), va, (size_t)(vb - va),
				       err))
				goto fail;
			idx++;
		}
		if (e == NULL)
			break;
		s = e + 1;
	}
	if (idx == 0) {
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
			"DMARC record is empty: it must start with v=DMARC1; p=...");
		goto fail;
	}
	if (r.p == DMARC_P_UNSET) {
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
			"DMARC record has no p= tag: add p=none, p=quarantine or p=reject right "
			"after v=DMARC1");
		goto fail;
	}
	*out = r;
	return true;
fail:
	dmarc_record_free(&r);
	return false;
}

const char *dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_P_NONE: return "none";
	case DMARC_P_QUARANTINE: return "quarantine";
	case DMARC_P_REJECT: return "reject";
	case DMARC_P_UNSET: break;
	}
	return "(unset)";
}

/* ---- organizational domain and alignment ---- */

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t *psl_ctx;

static void psl_init(void)
{
	/* psl_latest() picks the newer of the distribution's list and the
	 * copy built into libpsl; psl_builtin() is the fallback when the
	 * file is missing. Kept for the life of the process. */
	psl_ctx = psl_latest(NULL);
	if (psl_ctx == NULL)
		psl_ctx = psl_builtin();
}

char *dmarc_org_domain(const char *domain)
{
	char *d = dns_name_normalize(domain);
	const char *reg;
	char *o;

	if (d == NULL)
		return NULL;
	pthread_once(&psl_once, psl_init);
	reg = psl_ctx ? psl_registrable_domain(psl_ctx, d) : NULL;
	if (reg == NULL)
		return d;
	o = xstrdup(reg);
	free(d);
	return o;
}

bool dmarc_aligned(const char *from_domain, const char *auth_domain, bool strict)
{
	char *a, *b;
	bool eq;

	if (strict) {
		a = dns_name_normalize(from_domain);
		b = dns_name_normalize(auth_domain);
	} else {
		a = dmarc_org_domain(from_domain);
		b = dmarc_org_domain(auth_domain);
	}
	eq = a != NULL && b != NULL && strcmp(a, b) == 0;
	free(a);
	free(b);
	return eq;
}

/* ---- discovery ---- */

/* The rule in dmarc.h: first tag "v" (any case), WSP, "=", WSP, exactly
 * DMARC1, then ';', WSP or the end. Leading WSP is allowed, as dmarc_parse
 * allows it. */
static bool is_dmarc_record(const char *t)
{
	while (is_wsp(*t))
		t++;
	if (*t != 'v' && *t != 'V')
		return false;
	t++;
	while (is_wsp(*t))
		t++;
	if (*t++ != '=')
		return false;
	while (is_wsp(*t))
		t++;
	if (strncmp(t, "DMARC1", 6) != 0)
		return false;
	t += 6;
	return *t == '\0' || *t == ';' || is_wsp(*t);
}

static bool mentions_dmarc(const char *t)
{
	return strcasestr(t, "dmarc") != NULL;
}

void dmarc_result_free(struct dmarc_result *r)
{
	if (r == NULL)
		return;
	free(r->domain);
	free(r->org_domain);
	free(r->found_at);
	free(r->text);
	free(r->ignored);
	dmarc_record_free(&r->rec);
	memset(r, 0, sizeof *r);
}

/* Query _dmarc.<d>. Returns 1 when it settled the result (out->status set;
 * FOUND, INVALID, MULTIPLE, DNS_FAIL), 0 when there is no DMARC record
 * there, -1 on a local failure (err set). */
static int query_one(const struct dns_resolver_ref *dns, const char *d, bool from_org,
		     struct dmarc_result *out, struct err *err)
{
	struct dns_answer a = { 0 };
	char *name = xasprintf("_dmarc.%s", d);
	const char *found = NULL;
	size_t count = 0;
	int rc = 0;

	if (!dns->lookup(dns->ctx, name, DNS_T_TXT, &a, err)) {
		rc = -1;
		goto out;
	}
	if (a.status == DNS_SERVFAIL || a.status == DNS_TIMEOUT) {
		out->status = DMARC_DNS_FAIL;
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_CONNECT, true,
			"cannot look up the TXT records of %s: the DNS server %s; try again later",
			name, a.status == DNS_TIMEOUT ? "did not answer in time" : "failed");
		rc = 1;
		goto out;
	}
	if (a.status != DNS_NOERROR)
		goto out;
	for (size_t i = 0; i < a.n; i++) {
		const struct dns_rr *rr = &a.rr[i];
		if (rr->type != DNS_T_TXT)
			continue;
		if (rr->text == NULL) {
			if (out->ignored == NULL)
				out->ignored = xstrdup("(a TXT record containing a NUL byte)");
			continue;
		}
		if (is_dmarc_record(rr->text)) {
			if (count++ == 0)
				found = rr->text;
		} else if (out->ignored == NULL && mentions_dmarc(rr->text)) {
			out->ignored = xstrdup(rr->text);
		}
	}
	if (count == 0)
		goto out;
	rc = 1;
	out->found_at = xstrdup(name);
	out->from_org = from_org;
	if (count > 1) {
		out->status = DMARC_MULTIPLE;
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
			"%s has %zu DMARC records: receivers ignore %s; keep only one", name,
			count, count == 2 ? "both" : "all of them");
		goto out;
	}
	out->text = xstrdup(found);
	if (dmarc_parse(found, &out->rec, err)) {
		out->status = DMARC_FOUND;
	} else {
		out->status = DMARC_INVALID;
		err_prefix(err, "%s: ", name);
	}
out:
	dns_answer_free(&a);
	free(name);
	return rc;
}

bool dmarc_lookup(const struct dns_resolver_ref *dns, const char *domain,
		  struct dmarc_result *out, struct err *err)
{
	char shown[SHOW_MAX + 4];
	int rc;

	out->status = DMARC_NONE;
	out->domain = dns_name_normalize(domain);
	if (out->domain == NULL) {
		show(shown, domain ? domain : "", domain ? strlen(domain) : 0);
		out->status = DMARC_INVALID;
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_USAGE, false,
			"'%s' is not a domain name: give an ASCII name like example.co.jp", shown);
		return false;
	}
	out->org_domain = dmarc_org_domain(out->domain);
	rc = query_one(dns, out->domain, false, out, err);
	if (rc == 0 && strcmp(out->org_domain, out->domain) != 0)
		rc = query_one(dns, out->org_domain, true, out, err);
	if (rc < 0) {
		out->status = DMARC_DNS_FAIL;
		return false;
	}
	return out->status == DMARC_FOUND || out->status == DMARC_NONE;
}
