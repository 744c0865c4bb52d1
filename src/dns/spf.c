/* spf.c — SPF (RFC 7208) parser, check_host() and lint; the contract is in
 * spf.h. Section numbers in comments are RFC 7208's.
 *
 * No globals; all DNS through the caller's dns_lookup_fn. The evaluation's
 * limits (10 DNS terms, 2 void lookups) live in one struct eval shared by
 * the whole recursion, which is what makes them per evaluation rather than
 * per record.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "dns/spf.h"

/* ---------------------------------------------------------------- syntax */

/* ASCII only: record bytes must not change meaning with the locale. */
static bool is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(int c)
{
	return is_alpha(c) || is_digit(c);
}

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static bool is_delim(int c)
{
	return c != 0 && strchr(".-+,/_=", c) != NULL;
}

/* One parsed %{...}: letter (lower case), upper (URL-escape), digits (0 =
 * all), reverse, delimiters (a pointer into the text, dlen bytes). */
struct macro {
	char letter;
	bool upper;
	unsigned digits;
	bool reverse;
	const char *delims;
	size_t dlen;
};

/* Parse "%{...}" at s[*i] (s[*i] == '%', s[*i+1] == '{'). Returns NULL and
 * advances *i past '}', or the reason it is wrong. */
static const char *macro_parse(const char *s, size_t len, size_t *i, bool exp_letters,
			       struct macro *m)
{
	size_t k = *i + 2;
	unsigned long v = 0;
	size_t nd = 0;

	if (k >= len)
		return "a macro is not closed with '}'";
	m->letter = (char)lower((unsigned char)s[k]);
	m->upper = s[k] >= 'A' && s[k] <= 'Z';
	if (!is_alpha((unsigned char)s[k]) || strchr("slodiphvcrt", m->letter) == NULL)
		return "unknown macro letter (use s, l, o, d, i, p, h or v)";
	if (!exp_letters && strchr("crt", m->letter) != NULL)
		return "macro letters c, r and t are allowed only in explanation text";
	k++;
	while (k < len && is_digit((unsigned char)s[k])) {
		if (v < 100000)
			v = v * 10 + (unsigned long)(s[k] - '0');
		nd++;
		k++;
	}
	if (nd > 0 && v == 0)
		return "the macro digit transformer must not be 0 (RFC 7208 section 7.3)";
	m->digits = (unsigned)v;
	m->reverse = false;
	if (k < len && (s[k] == 'r' || s[k] == 'R')) {
		m->reverse = true;
		k++;
	}
	m->delims = s + k;
	while (k < len && is_delim((unsigned char)s[k]))
		k++;
	m->dlen = (size_t)(s + k - m->delims);
	if (k >= len)
		return "a macro is not closed with '}'";
	if (s[k] != '}')
		return "bad macro: after the letter only digits, 'r', the delimiters . - + , / _ = and '}' may follow";
	*i = k + 1;
	return NULL;
}

/* Check a macro-string (§7.1). *ends_macro: the last element is a
 * macro-expand (then domain-end is satisfied). */
static const char *macro_string_check(const char *s, size_t len, bool exp_letters, bool *ends_macro)
{
	size_t i = 0;
	struct macro m;
	const char *why;

	*ends_macro = false;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 1 >= len)
				return "a '%' at the end (write %% for a percent sign)";
			if (s[i + 1] == '%' || s[i + 1] == '_' || s[i + 1] == '-') {
				i += 2;
				*ends_macro = true;
				continue;
			}
			if (s[i + 1] != '{')
				return "'%' must be followed by '{', '%', '_' or '-'";
			why = macro_parse(s, len, &i, exp_letters, &m);
			if (why != NULL)
				return why;
			*ends_macro = true;
			continue;
		}
		if (c < 0x21 || c > 0x7e)
			return "a character that is not visible ASCII";
		*ends_macro = false;
		i++;
	}
	return NULL;
}

/* toplabel (§12): alphanumerics and '-', not starting or ending with '-',
 * and not all digits. */
static bool toplabel_ok(const char *s, size_t len)
{
	bool alpha = false, dash = false;

	if (len == 0 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (is_alpha((unsigned char)s[i]))
			alpha = true;
		else if (s[i] == '-')
			dash = true;
		else if (!is_digit((unsigned char)s[i]))
			return false;
	}
	return alpha || dash;
}

/* domain-spec = macro-string domain-end; domain-end = "." toplabel ["."]
 * / macro-expand. */
static const char *domain_spec_check(const char *s, size_t len)
{
	bool ends_macro;
	const char *why;
	size_t end, dot;

	if (len == 0)
		return "the domain is empty";
	why = macro_string_check(s, len, false, &ends_macro);
	if (why != NULL)
		return why;
	if (ends_macro)
		return NULL;
	end = len;
	if (s[end - 1] == '.')
		end--;
	dot = end;
	while (dot > 0 && s[dot - 1] != '.')
		dot--;
	if (dot == 0)
		return "not a domain name (it needs a dot and a top-level label)";
	if (!toplabel_ok(s + dot, end - dot))
		return "the last label is not a valid top-level label (a bare IP address is not a domain; use ip4:/ip6:)";
	return NULL;
}

/* "0" / %x31-39 0*N DIGIT, at most max. */
static bool cidr_ok(const char *s, size_t len, int max, int *out)
{
	int v = 0;

	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static void syntax_err(struct err *err, const char *term, size_t len, const char *why)
{
	char shown[104];
	size_t n = len < 100 ? len : 100;

	/* The record is anyone's DNS data: show it printable and short. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)term[i];
		shown[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	strcpy(shown + n, len > 100 ? "..." : "");
	err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
		"SPF syntax error in term '%s': %s; the domain owner must fix the record", shown, why);
}

static const struct {
	const char *name;
	enum spf_mech_kind kind;
} mech_names[] = {
	{ "all", SPF_M_ALL },   { "include", SPF_M_INCLUDE }, { "a", SPF_M_A },
	{ "mx", SPF_M_MX },     { "ptr", SPF_M_PTR },         { "ip4", SPF_M_IP4 },
	{ "ip6", SPF_M_IP6 },   { "exists", SPF_M_EXISTS },
};

static const char *parse_mech(const char *t, size_t len, struct spf_mech *m)
{
	size_t i = 0, j;
	const char *rest;
	size_t rlen;
	bool found = false;

	m->qualifier = SPF_PASS;
	if (len > 0 && strchr("+-~?", t[0]) != NULL) {
		m->qualifier = t[0] == '+' ? SPF_PASS : t[0] == '-' ? SPF_FAIL
			     : t[0] == '~' ? SPF_SOFTFAIL : SPF_NEUTRAL;
		i = 1;
	}
	j = i;
	while (j < len && is_alnum((unsigned char)t[j]))
		j++;
	if (j == i)
		return i == 0 ? "not a mechanism or modifier (bad qualifier? use +, -, ~ or ?)"
			      : "a qualifier must be followed by a mechanism";
	for (size_t k = 0; k < sizeof(mech_names) / sizeof(mech_names[0]); k++) {
		if (strlen(mech_names[k].name) == j - i &&
		    strncasecmp(mech_names[k].name, t + i, j - i) == 0) {
			m->kind = mech_names[k].kind;
			found = true;
		}
	}
	if (!found)
		return "unknown mechanism (known: all, include, a, mx, ptr, ip4, ip6, exists)";
	rest = t + j;
	rlen = len - j;
	if (rlen > 0 && rest[0] != ':' && rest[0] != '/')
		return "unknown mechanism (known: all, include, a, mx, ptr, ip4, ip6, exists)";
	m->cidr4 = 32;
	m->cidr6 = 128;

	switch (m->kind) {
	case SPF_M_ALL:
		if (rlen != 0)
			return "'all' takes no argument";
		return NULL;
	case SPF_M_INCLUDE:
	case SPF_M_EXISTS:
	case SPF_M_PTR: {
		const char *why;

		if (rlen == 0) {
			if (m->kind == SPF_M_PTR)
				return NULL;
			return m->kind == SPF_M_INCLUDE ? "include needs a domain (include:domain)"
							: "exists needs a domain (exists:domain)";
		}
		if (rest[0] != ':')
			return "no CIDR length is allowed here";
		why = domain_spec_check(rest + 1, rlen - 1);
		if (why != NULL)
			return why;
		m->domain_spec = xstrndup(rest + 1, rlen - 1);
		return NULL;
	}
	case SPF_M_A:
	case SPF_M_MX: {
		size_t end = rlen, k;
		const char *why;

		/* The CIDR lengths are at the end; '/' may also appear inside
		 * a domain-spec (as a macro literal), so take them from the
		 * right: "//N" first, then "/N". */
		k = end;
		while (k > 0 && is_digit((unsigned char)rest[k - 1]))
			k--;
		if (k >= 2 && k < end && rest[k - 1] == '/' && rest[k - 2] == '/') {
			if (!cidr_ok(rest + k, end - k, 128, &m->cidr6))
				return "bad IPv6 CIDR length (//0 to //128, no leading zero)";
			end = k - 2;
			k = end;
			while (k > 0 && is_digit((unsigned char)rest[k - 1]))
				k--;
		}
		if (k >= 1 && rest[k - 1] == '/' && (k < 2 || rest[k - 2] != '/')) {
			if (!cidr_ok(rest + k, end - k, 32, &m->cidr4))
				return "bad IPv4 CIDR length (/0 to /32, no leading zero)";
			end = k - 1;
		}
		if (end == 0)
			return NULL;
		if (rest[0] != ':')
			return "bad CIDR length (a:domain/24//64)";
		why = domain_spec_check(rest + 1, end - 1);
		if (why != NULL)
			return why;
		m->domain_spec = xstrndup(rest + 1, end - 1);
		return NULL;
	}
	case SPF_M_IP4:
	case SPF_M_IP6: {
		bool v4 = m->kind == SPF_M_IP4;
		char addr[64];
		const char *slash;
		size_t alen;

		if (rlen < 2 || rest[0] != ':')
			return v4 ? "ip4 needs an address (ip4:192.0.2.0/24)"
				  : "ip6 needs an address (ip6:2001:db8::/32)";
		slash = memchr(rest + 1, '/', rlen - 1);
		alen = (size_t)((slash ? slash : rest + rlen) - (rest + 1));
		if (alen == 0 || alen >= sizeof(addr))
			return v4 ? "ip4 needs an address (ip4:192.0.2.0/24)"
				  : "ip6 needs an address (ip6:2001:db8::/32)";
		memcpy(addr, rest + 1, alen);
		addr[alen] = '\0';
		if (inet_pton(v4 ? AF_INET : AF_INET6, addr, m->addr) != 1)
			return v4 ? "not an IPv4 address (dotted quad, e.g. 192.0.2.1)"
				  : "not an IPv6 address";
		if (slash != NULL) {
			size_t clen = (size_t)(rest + rlen - slash - 1);

			if (!cidr_ok(slash + 1, clen, v4 ? 32 : 128, v4 ? &m->cidr4 : &m->cidr6))
				return v4 ? "bad CIDR length (/0 to /32, no leading zero)"
					  : "bad CIDR length (/0 to /128, no leading zero)";
		}
		return NULL;
	}
	}
	return "internal: unknown mechanism kind";
}

static bool parse_term(const char *t, size_t len, struct spf_record *r, struct err *err)
{
	size_t i = 0;
	const char *why;
	struct spf_mech m;

	/* A modifier is name "=" ...; a mechanism never has '=' right after
	 * its name. */
	if (len > 0 && is_alpha((unsigned char)t[0])) {
		while (i < len && (is_alnum((unsigned char)t[i]) || t[i] == '-' || t[i] == '_' || t[i] == '.'))
			i++;
		if (i < len && t[i] == '=') {
			const char *v = t + i + 1;
			size_t vlen = len - i - 1;
			bool ends;

			if ((i == 8 && strncasecmp(t, "redirect", 8) == 0) ||
			    (i == 3 && strncasecmp(t, "exp", 3) == 0)) {
				char **slot = i == 8 ? &r->redirect : &r->exp;

				if (*slot != NULL) {
					syntax_err(err, t, len, i == 8 ? "redirect= appears twice (at most once)"
								       : "exp= appears twice (at most once)");
					return false;
				}
				why = domain_spec_check(v, vlen);
				if (why != NULL) {
					syntax_err(err, t, len, why);
					return false;
				}
				*slot = xstrndup(v, vlen);
				return true;
			}
			why = macro_string_check(v, vlen, true, &ends);
			if (why != NULL) {
				syntax_err(err, t, len, why);
				return false;
			}
			r->unknown_modifiers++;
			return true;
		}
	}
	memset(&m, 0, sizeof(m));
	why = parse_mech(t, len, &m);
	if (why != NULL) {
		free(m.domain_spec);
		syntax_err(err, t, len, why);
		return false;
	}
	m.term = xstrndup(t, len);
	if (m.kind == SPF_M_ALL)
		r->has_all = true;
	r->mech = xreallocarray(r->mech, r->n + 1, sizeof(*r->mech));
	r->mech[r->n++] = m;
	return true;
}

bool spf_is_spf_text(const char *text)
{
	return text != NULL && strncasecmp(text, "v=spf1", 6) == 0 && (text[6] == ' ' || text[6] == '\0');
}

bool spf_parse(const char *record, struct spf_record *out, struct err *err)
{
	const char *p;

	memset(out, 0, sizeof(*out));
	if (!spf_is_spf_text(record)) {
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
			"not an SPF record: it must start with \"v=spf1\" followed by a space or the end");
		return false;
	}
	p = record + 6;
	for (;;) {
		const char *t;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		t = p;
		while (*p != ' ' && *p != '\0')
			p++;
		if (!parse_term(t, (size_t)(p - t), out, err)) {
			spf_record_free(out);
			return false;
		}
	}
	return true;
}

void spf_record_free(struct spf_record *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->mech[i].term);
		free(r->mech[i].domain_spec);
	}
	free(r->mech);
	free(r->redirect);
	free(r->exp);
	memset(r, 0, sizeof(*r));
}

const char *spf_select(const struct dns_answer *a, size_t *count)
{
	const char *found = NULL;

	*count = 0;
	if (a->status != DNS_NOERROR)
		return NULL;
	for (size_t i = 0; i < a->n; i++) {
		if (a->rr[i].type != DNS_T_TXT || a->rr[i].text == NULL)
			continue;
		if (spf_is_spf_text(a->rr[i].text)) {
			(*count)++;
			found = a->rr[i].text;
		}
	}
	return *count == 1 ? found : NULL;
}

const char *spf_verdict_name(enum spf_verdict v)
{
	switch (v) {
	case SPF_NONE: return "none";
	case SPF_NEUTRAL: return "neutral";
	case SPF_PASS: return "pass";
	case SPF_FAIL: return "fail";
	case SPF_SOFTFAIL: return "softfail";
	case SPF_TEMPERROR: return "temperror";
	case SPF_PERMERROR: return "permerror";
	}
	return "?";
}

/* ---------------------------------------------------------------- macros */

struct mctx {
	int family;                 /* AF_INET / AF_INET6 */
	unsigned char ip[16];
	char *sender;               /* full, with "postmaster" filled in */
	const char *local;          /* points into sender */
	const char *odomain;        /* points into sender */
	const char *helo;
};

static bool parse_ip(const char *text, struct mctx *m)
{
	unsigned char a6[16];
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (text == NULL)
		return false;
	if (inet_pton(AF_INET, text, m->ip) == 1) {
		m->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text, a6) != 1)
		return false;
	/* An IPv4-mapped client is an IPv4 client: its SPF is ip4/A. */
	if (memcmp(a6, mapped, 12) == 0) {
		m->family = AF_INET;
		memcpy(m->ip, a6 + 12, 4);
	} else {
		m->family = AF_INET6;
		memcpy(m->ip, a6, 16);
	}
	return true;
}

/* §4.3/§2.4: no sender means postmaster@helo; no local part means
 * postmaster. */
static void mctx_sender(struct mctx *m, const char *sender, const char *helo)
{
	const char *at;

	m->helo = (helo != NULL && helo[0] != '\0') ? helo : "unknown";
	if (sender == NULL || sender[0] == '\0')
		m->sender = xasprintf("postmaster@%s", m->helo);
	else if ((at = strrchr(sender, '@')) == NULL)
		m->sender = xasprintf("postmaster@%s", sender);
	else if (at == sender)
		m->sender = xasprintf("postmaster%s", sender);
	else
		m->sender = xstrdup(sender);
	at = strrchr(m->sender, '@');
	m->odomain = at + 1;
	m->local = m->sender;
}

static void ip_dotted(const struct mctx *m, struct buf *b)
{
	static const char hex[] = "0123456789abcdef";

	if (m->family == AF_INET) {
		buf_printf(b, "%u.%u.%u.%u", m->ip[0], m->ip[1], m->ip[2], m->ip[3]);
		return;
	}
	for (int i = 0; i < 16; i++) {
		if (i > 0)
			buf_append_char(b, '.');
		buf_append_char(b, hex[m->ip[i] >> 4]);
		buf_append_char(b, '.');
		buf_append_char(b, hex[m->ip[i] & 15]);
	}
}

/* Append one macro's value, transformed (§7.3). */
static bool macro_value(const struct mctx *m, const struct macro *mac, const char *domain, struct buf *out)
{
	struct buf val;
	const char *v = "";
	size_t vlen, nparts = 0, first, cap = 0;
	struct part { const char *p; size_t n; } *parts = NULL;
	struct buf joined;
	bool ok = true;

	buf_init(&val, 0);
	switch (mac->letter) {
	case 's': v = m->sender; break;
	case 'l': {
		const char *at = strrchr(m->sender, '@');
		buf_append(&val, m->sender, (size_t)(at - m->sender));
		break;
	}
	case 'o': v = m->odomain; break;
	case 'd': v = domain; break;
	case 'i': ip_dotted(m, &val); break;
	case 'p': v = "unknown"; break;   /* no PTR validation: see spf.h */
	case 'h': v = m->helo; break;
	case 'v': v = m->family == AF_INET ? "in-addr" : "ip6"; break;
	default: v = ""; break;           /* c, r, t: exp only, never reached */
	}
	if (val.data == NULL)
		buf_append_str(&val, v);
	v = val.data ? val.data : "";
	vlen = val.len;

	/* Split on the delimiters (default '.'), keep empty parts. */
	{
		size_t start = 0;

		for (size_t i = 0; i <= vlen; i++) {
			bool d = i == vlen;

			if (!d) {
				if (mac->dlen == 0)
					d = v[i] == '.';
				else
					d = memchr(mac->delims, v[i], mac->dlen) != NULL;
			}
			if (!d)
				continue;
			if (nparts == cap) {
				cap = cap ? cap * 2 : 8;
				parts = xreallocarray(parts, cap, sizeof(*parts));
			}
			parts[nparts].p = v + start;
			parts[nparts].n = i - start;
			nparts++;
			start = i + 1;
		}
	}
	if (mac->reverse) {
		for (size_t i = 0; i < nparts / 2; i++) {
			struct part t = parts[i];
			parts[i] = parts[nparts - 1 - i];
			parts[nparts - 1 - i] = t;
		}
	}
	first = (mac->digits > 0 && mac->digits < nparts) ? nparts - mac->digits : 0;
	buf_init(&joined, 0);
	for (size_t i = first; i < nparts; i++) {
		if (i > first)
			buf_append_char(&joined, '.');
		buf_append(&joined, parts[i].p, parts[i].n);
	}
	for (size_t i = 0; i < joined.len && ok; i++) {
		unsigned char c = (unsigned char)joined.data[i];

		/* Upper-case letters URL-escape (§7.3): all but unreserved. */
		if (mac->upper && !(is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~'))
			ok = buf_printf(out, "%%%02X", c);
		else
			ok = buf_append_char(out, (char)c);
	}
	buf_free(&joined);
	buf_free(&val);
	free(parts);
	return ok;
}

static bool expand(const char *spec, const struct mctx *m, const char *domain, struct buf *out)
{
	size_t len = strlen(spec), i = 0;

	while (i < len) {
		struct macro mac;

		if (spec[i] != '%') {
			if (!buf_append_char(out, spec[i]))
				return false;
			i++;
			continue;
		}
		if (i + 1 < len && spec[i + 1] != '{') {
			const char *s = spec[i + 1] == '%' ? "%" : spec[i + 1] == '_' ? " " : "%20";
			if (!buf_append_str(out, s))
				return false;
			i += 2;
			continue;
		}
		if (macro_parse(spec, len, &i, true, &mac) != NULL)
			return false;
		if (!macro_value(m, &mac, domain, out))
			return false;
	}
	if (out->data == NULL)
		buf_append_str(out, "");
	return true;
}

/* After expansion, a name for a query: trailing dot dropped, left labels
 * dropped to fit 253 (§7.3), then every label 1..63. False if it cannot be
 * a name. */
static bool name_fix(char *name)
{
	size_t len = strlen(name);
	char *p;

	if (len > 0 && name[len - 1] == '.')
		name[--len] = '\0';
	p = name;
	while (len > 253) {
		char *dot = strchr(p, '.');
		if (dot == NULL)
			return false;
		len -= (size_t)(dot + 1 - p);
		p = dot + 1;
	}
	memmove(name, p, len + 1);
	if (len == 0)
		return false;
	for (char *s = name; ; ) {
		char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		if (l == 0 || l > 63)
			return false;
		if (dot == NULL)
			break;
		s = dot + 1;
	}
	return true;
}

char *spf_macro_expand(const char *spec, const char *ip_text, const char *domain,
		       const char *sender, const char *helo, struct err *err)
{
	struct mctx m;
	struct buf out;
	const char *why;
	bool ends;

	memset(&m, 0, sizeof(m));
	why = macro_string_check(spec, strlen(spec), false, &ends);
	if (why != NULL) {
		syntax_err(err, spec, strlen(spec), why);
		return NULL;
	}
	if (!parse_ip(ip_text, &m)) {
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_USAGE, false,
			"'%s' is not an IPv4 or IPv6 address", ip_text ? ip_text : "(null)");
		return NULL;
	}
	mctx_sender(&m, sender, helo);
	buf_init(&out, 1 << 16);
	if (!expand(spec, &m, domain, &out)) {
		buf_free(&out);
		free(m.sender);
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false, "macro expansion of '%s' failed (too long)", spec);
		return NULL;
	}
	free(m.sender);
	return buf_steal(&out);
}

/* ---------------------------------------------------------------- check_host */

struct eval {
	const struct dns_resolver_ref *dns;
	struct mctx m;
	unsigned dns_terms, voids;
	bool local_fail;
};

/* The outcome of one check_host() level or one mechanism. */
struct hres {
	enum spf_verdict v;
	char *mech;    /* owned */
	char *why;     /* owned, errors only */
};

enum lk { LK_OK, LK_VOID, LK_ERR };

static size_t rr_count(const struct dns_answer *a, uint16_t type)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		if (a->rr[i].type == type)
			n++;
	return n;
}

static const char *status_name(enum dns_status s)
{
	switch (s) {
	case DNS_NOERROR: return "NOERROR";
	case DNS_NXDOMAIN: return "NXDOMAIN";
	case DNS_SERVFAIL: return "SERVFAIL";
	case DNS_TIMEOUT: return "timeout";
	}
	return "?";
}

static const char *type_name(uint16_t t)
{
	switch (t) {
	case DNS_T_A: return "A";
	case DNS_T_AAAA: return "AAAA";
	case DNS_T_MX: return "MX";
	case DNS_T_PTR: return "PTR";
	case DNS_T_TXT: return "TXT";
	}
	return "?";
}

/* *a is zeroed here and must be freed by the caller in every case. */
static enum lk lookup(const struct dns_resolver_ref *dns, bool *local_fail, const char *name,
		      uint16_t type, struct dns_answer *a)
{
	struct err err;

	memset(a, 0, sizeof(*a));
	err_clear(&err);
	if (!dns->lookup(dns->ctx, name, type, a, &err)) {
		*local_fail = true;
		a->status = DNS_SERVFAIL;
		return LK_ERR;
	}
	if (a->status == DNS_SERVFAIL || a->status == DNS_TIMEOUT)
		return LK_ERR;
	if (a->status == DNS_NXDOMAIN || rr_count(a, type) == 0)
		return LK_VOID;
	return LK_OK;
}

static void hres_set(struct hres *h, enum spf_verdict v, const char *mech, char *why)
{
	free(h->mech);
	free(h->why);
	h->v = v;
	h->mech = mech ? xstrdup(mech) : NULL;
	h->why = why;
}

static bool count_term(struct eval *e, const char *term, const char *domain, struct hres *h)
{
	if (++e->dns_terms <= SPF_MAX_DNS_TERMS)
		return true;
	hres_set(h, SPF_PERMERROR, term,
		 xasprintf("more than %d DNS-querying terms (include, a, mx, ptr, exists, redirect) over the "
			   "whole evaluation, the limit of RFC 7208 section 4.6.4: the 11th is '%s' in the "
			   "SPF record of %s; flatten or remove includes",
			   SPF_MAX_DNS_TERMS, term, domain));
	return false;
}

static bool count_void(struct eval *e, const char *term, const char *domain, const char *qname, struct hres *h)
{
	if (++e->voids <= SPF_MAX_VOID_LOOKUPS)
		return true;
	hres_set(h, SPF_PERMERROR, term,
		 xasprintf("more than %d void DNS lookups (NXDOMAIN or no answer), the limit of RFC 7208 "
			   "section 4.6.4: the 3rd is %s for '%s' in the SPF record of %s; remove terms "
			   "naming hosts that do not exist",
			   SPF_MAX_VOID_LOOKUPS, qname, term, domain));
	return false;
}

static void temperror(struct hres *h, const char *term, const char *qname, uint16_t type,
		      const struct dns_answer *a)
{
	hres_set(h, SPF_TEMPERROR, term,
		 xasprintf("DNS lookup of %s %s for '%s' failed (%s); a later retry may succeed",
			   qname, type_name(type), term, status_name(a->status)));
}

static bool prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

/* Address records of `name` matching the client; 1 match, 0 none, -1
 * DNS error (h set as temperror when set_err). */
static int addr_match(struct eval *e, const char *name, int c4, int c6, const char *term,
		      bool count_voids, const char *domain, struct hres *h, bool set_err)
{
	uint16_t type = e->m.family == AF_INET ? DNS_T_A : DNS_T_AAAA;
	struct dns_answer a;
	int r = 0;

	switch (lookup(e->dns, &e->local_fail, name, type, &a)) {
	case LK_ERR:
		if (set_err)
			temperror(h, term, name, type, &a);
		r = -1;
		break;
	case LK_VOID:
		if (count_voids && !count_void(e, term, domain, name, h))
			r = -1;
		break;
	case LK_OK:
		for (size_t i = 0; i < a.n; i++) {
			if (a.rr[i].type != type)
				continue;
			if (prefix_match(a.rr[i].addr, e->m.ip, e->m.family == AF_INET ? c4 : c6))
				r = 1;
		}
		break;
	}
	dns_answer_free(&a);
	return r;
}

/* The target of a mechanism: its domain-spec expanded, or the current
 * domain. NULL: it cannot be a name (counted as a void lookup by caller). */
static char *target(struct eval *e, const char *spec, const char *domain)
{
	struct buf b;
	char *name;

	if (spec == NULL)
		return xstrdup(domain);
	buf_init(&b, 1 << 16);
	if (!expand(spec, &e->m, domain, &b)) {
		buf_free(&b);
		return NULL;
	}
	name = buf_steal(&b);
	if (!name_fix(name)) {
		free(name);
		return NULL;
	}
	return name;
}

static void check_host(struct eval *e, const char *domain, struct hres *out);

static bool name_is_within(const char *name, const char *dom)
{
	size_t n = strlen(name), d = strlen(dom);

	if (n == d)
		return strcasecmp(name, dom) == 0;
	return n > d && name[n - d - 1] == '.' && strcasecmp(name + n - d, dom) == 0;
}

static void reverse_name(const struct mctx *m, struct buf *b)
{
	static const char hex[] = "0123456789abcdef";

	if (m->family == AF_INET) {
		buf_printf(b, "%u.%u.%u.%u.in-addr.arpa", m->ip[3], m->ip[2], m->ip[1], m->ip[0]);
		return;
	}
	for (int i = 15; i >= 0; i--)
		buf_printf(b, "%c.%c.", hex[m->ip[i] & 15], hex[m->ip[i] >> 4]);
	buf_append_str(b, "ip6.arpa");
}

/* 1 match, 0 no match, -1 error (h set). */
static int mech_match(struct eval *e, const struct spf_mech *m, const char *domain, struct hres *h)
{
	char *name = NULL;
	int r = 0;

	switch (m->kind) {
	case SPF_M_ALL:
		return 1;
	case SPF_M_IP4:
		return e->m.family == AF_INET && prefix_match(m->addr, e->m.ip, m->cidr4);
	case SPF_M_IP6:
		return e->m.family == AF_INET6 && prefix_match(m->addr, e->m.ip, m->cidr6);
	default:
		break;
	}
	if (!count_term(e, m->term, domain, h))
		return -1;
	name = target(e, m->domain_spec, domain);
	if (name == NULL) {
		/* Would come back NXDOMAIN: void, no match. */
		r = count_void(e, m->term, domain, "(invalid name after macro expansion)", h) ? 0 : -1;
		return r;
	}

	switch (m->kind) {
	case SPF_M_A:
		r = addr_match(e, name, m->cidr4, m->cidr6, m->term, true, domain, h, true);
		break;
	case SPF_M_EXISTS: {
		struct dns_answer a;

		/* Always an A query, whatever the client's family (§5.7). */
		switch (lookup(e->dns, &e->local_fail, name, DNS_T_A, &a)) {
		case LK_ERR:
			temperror(h, m->term, name, DNS_T_A, &a);
			r = -1;
			break;
		case LK_VOID:
			r = count_void(e, m->term, domain, name, h) ? 0 : -1;
			break;
		case LK_OK:
			r = 1;
			break;
		}
		dns_answer_free(&a);
		break;
	}
	case SPF_M_MX: {
		struct dns_answer a;
		size_t n;

		switch (lookup(e->dns, &e->local_fail, name, DNS_T_MX, &a)) {
		case LK_ERR:
			temperror(h, m->term, name, DNS_T_MX, &a);
			r = -1;
			break;
		case LK_VOID:
			r = count_void(e, m->term, domain, name, h) ? 0 : -1;
			break;
		case LK_OK:
			n = rr_count(&a, DNS_T_MX);
			if (n > SPF_MAX_MX_NAMES) {
				hres_set(h, SPF_PERMERROR, m->term,
					 xasprintf("%s has %zu MX records; the mx mechanism allows at most %d "
						   "(RFC 7208 section 4.6.4); use ip4:/ip6: instead",
						   name, n, SPF_MAX_MX_NAMES));
				r = -1;
				break;
			}
			for (size_t i = 0; i < a.n && r == 0; i++) {
				const char *t = a.rr[i].target;

				if (a.rr[i].type != DNS_T_MX || t == NULL || t[0] == '\0' || strcmp(t, ".") == 0)
					continue;    /* null MX (RFC 7505): no host */
				r = addr_match(e, t, m->cidr4, m->cidr6, m->term, false, domain, h, true);
			}
			break;
		}
		dns_answer_free(&a);
		break;
	}
	case SPF_M_PTR: {
		struct dns_answer a;
		struct buf rev;
		size_t seen = 0;

		buf_init(&rev, 0);
		reverse_name(&e->m, &rev);
		switch (lookup(e->dns, &e->local_fail, rev.data, DNS_T_PTR, &a)) {
		case LK_ERR:
			r = 0;   /* §5.5: a PTR lookup error means no match */
			break;
		case LK_VOID:
			r = count_void(e, m->term, domain, rev.data, h) ? 0 : -1;
			break;
		case LK_OK:
			for (size_t i = 0; i < a.n && r == 0 && seen < SPF_MAX_PTR_NAMES; i++) {
				if (a.rr[i].type != DNS_T_PTR || a.rr[i].target == NULL)
					continue;
				seen++;
				/* Only names that would match are worth validating. */
				if (!name_is_within(a.rr[i].target, name))
					continue;
				/* Errors validating a name only drop that name (§5.5). */
				if (addr_match(e, a.rr[i].target, 32, 128, m->term, false, domain, h, false) == 1)
					r = 1;
			}
			break;
		}
		dns_answer_free(&a);
		buf_free(&rev);
		break;
	}
	case SPF_M_INCLUDE: {
		struct hres sub = { SPF_NONE, NULL, NULL };

		check_host(e, name, &sub);
		switch (sub.v) {
		case SPF_PASS:
			r = 1;
			free(h->mech);
			h->mech = xasprintf("%s in %s", sub.mech, m->term);
			break;
		case SPF_FAIL:
		case SPF_SOFTFAIL:
		case SPF_NEUTRAL:
			r = 0;
			break;
		case SPF_TEMPERROR:
		case SPF_PERMERROR:
			hres_set(h, sub.v, NULL, sub.why);
			sub.why = NULL;
			h->mech = xasprintf("%s in %s", sub.mech ? sub.mech : "?", m->term);
			r = -1;
			break;
		case SPF_NONE:
			hres_set(h, SPF_PERMERROR, m->term,
				 xasprintf("'%s' in the SPF record of %s names %s, which has no SPF record "
					   "(RFC 7208 section 5.2: permerror); publish one there or remove the include",
					   m->term, domain, name));
			r = -1;
			break;
		}
		free(sub.mech);
		free(sub.why);
		break;
	}
	default:
		break;
	}
	free(name);
	return r;
}

static bool domain_ok(const char *d)
{
	char *copy;
	bool ok;

	if (d == NULL || strchr(d, '.') == NULL || strlen(d) > 253)
		return false;
	copy = xstrdup(d);
	ok = name_fix(copy) && strchr(copy, '.') != NULL;
	free(copy);
	return ok;
}

static void check_host(struct eval *e, const char *domain, struct hres *out)
{
	struct dns_answer a;
	struct spf_record rec;
	struct err err;
	const char *text;
	size_t count = 0;

	if (!domain_ok(domain)) {
		hres_set(out, SPF_NONE, "",
			 xasprintf("'%s' is not a valid multi-label domain name (RFC 7208 section 4.3)",
				   domain ? domain : "(null)"));
		return;
	}
	switch (lookup(e->dns, &e->local_fail, domain, DNS_T_TXT, &a)) {
	case LK_ERR:
		hres_set(out, SPF_TEMPERROR, "",
			 xasprintf("DNS lookup of %s TXT failed (%s); a later retry may succeed",
				   domain, status_name(a.status)));
		dns_answer_free(&a);
		return;
	case LK_VOID:
		hres_set(out, SPF_NONE, "", xasprintf("%s has no TXT records, so no SPF record", domain));
		dns_answer_free(&a);
		return;
	case LK_OK:
		break;
	}
	text = spf_select(&a, &count);
	if (count == 0) {
		hres_set(out, SPF_NONE, "", xasprintf("%s has no SPF record (no TXT starting with v=spf1)", domain));
		dns_answer_free(&a);
		return;
	}
	if (count > 1) {
		hres_set(out, SPF_PERMERROR, "",
			 xasprintf("%s has %zu SPF records (two SPF records: RFC 7208 section 4.5 permerror); "
				   "merge them into one", domain, count));
		dns_answer_free(&a);
		return;
	}
	err_clear(&err);
	if (!spf_parse(text, &rec, &err)) {
		hres_set(out, SPF_PERMERROR, "", xasprintf("%s: %s", domain, err.msg));
		dns_answer_free(&a);
		return;
	}
	dns_answer_free(&a);

	for (size_t i = 0; i < rec.n; i++) {
		const struct spf_mech *m = &rec.mech[i];
		struct hres h = { SPF_NONE, NULL, NULL };
		int r = mech_match(e, m, domain, &h);

		if (r < 0) {
			hres_set(out, h.v, h.mech, h.why);
			free(h.mech);
			spf_record_free(&rec);
			return;
		}
		if (r > 0) {
			hres_set(out, m->qualifier, h.mech ? h.mech : m->term, NULL);
			free(h.mech);
			free(h.why);
			spf_record_free(&rec);
			return;
		}
		free(h.mech);
		free(h.why);
	}

	/* §6.1: redirect only when nothing matched; with "all" present
	 * something always matched, so it is never reached then. */
	if (rec.redirect != NULL && !rec.has_all) {
		char *term = xasprintf("redirect=%s", rec.redirect);
		char *name;
		struct hres sub = { SPF_NONE, NULL, NULL };

		if (!count_term(e, term, domain, out)) {
			free(term);
			spf_record_free(&rec);
			return;
		}
		name = target(e, rec.redirect, domain);
		if (name == NULL) {
			hres_set(out, SPF_PERMERROR, term,
				 xasprintf("'%s' in the SPF record of %s does not expand to a domain name", term, domain));
		} else {
			check_host(e, name, &sub);
			if (sub.v == SPF_NONE) {
				hres_set(out, SPF_PERMERROR, term,
					 xasprintf("'%s' in the SPF record of %s names %s, which has no SPF record "
						   "(RFC 7208 section 6.1: permerror)", term, domain, name));
			} else {
				char *mech = xasprintf("%s in %s", sub.mech && sub.mech[0] ? sub.mech : "?", term);
				hres_set(out, sub.v, mech, sub.why);
				sub.why = NULL;
				free(mech);
			}
		}
		free(sub.mech);
		free(sub.why);
		free(name);
		free(term);
		spf_record_free(&rec);
		return;
	}
	hres_set(out, SPF_NEUTRAL, "default (no match: neutral)", NULL);
	spf_record_free(&rec);
}

bool spf_check_host(const struct dns_resolver_ref *dns, const char *ip_text, const char *domain,
		    const char *sender, const char *helo, struct spf_result *out)
{
	struct eval e;
	struct hres h = { SPF_NONE, NULL, NULL };
	char *dom;

	memset(out, 0, sizeof(*out));
	memset(&e, 0, sizeof(e));
	e.dns = dns;
	if (!parse_ip(ip_text, &e.m)) {
		out->result = SPF_PERMERROR;
		out->mechanism = xstrdup("");
		out->explanation = xasprintf("'%s' is not an IPv4 or IPv6 address", ip_text ? ip_text : "(null)");
		return false;
	}
	mctx_sender(&e.m, sender, helo);
	/* "example.com." is example.com. */
	dom = xstrdup(domain ? domain : "");
	if (!name_fix(dom))
		dom[0] = '\0';
	check_host(&e, dom, &h);
	free(dom);
	free(e.m.sender);
	out->result = h.v;
	out->mechanism = h.mech ? h.mech : xstrdup("");
	out->explanation = h.why;
	out->dns_terms = e.dns_terms > SPF_MAX_DNS_TERMS ? SPF_MAX_DNS_TERMS + 1 : e.dns_terms;
	out->void_lookups = e.voids;
	if (e.local_fail) {
		/* The lookup function itself failed: not DNS's verdict. */
		out->result = SPF_TEMPERROR;
		return false;
	}
	return true;
}

void spf_result_free(struct spf_result *r)
{
	free(r->mechanism);
	free(r->explanation);
	memset(r, 0, sizeof(*r));
}

/* ---------------------------------------------------------------- lint */

/* Stop descending past this many counted terms: evaluation gives up at 11
 * anyway, and an include loop must end. */
#define LINT_TERM_CAP 40
#define LINT_DEPTH_CAP 12

struct lint_walk {
	const struct dns_resolver_ref *dns;
	struct spf_lint *out;
	bool local_fail;
};

static void lint_problem(struct spf_lint *l, char *msg)
{
	if (l->first_problem == NULL)
		l->first_problem = msg;
	else
		free(msg);
}

static bool has_macro(const char *s)
{
	return s != NULL && strchr(s, '%') != NULL;
}

/* The void-lookup side of lint: resolve a macro-free target the way the
 * term would (A, then AAAA for a: since either family could be asked). */
static void lint_resolve(struct lint_walk *w, const struct spf_mech *m, const char *domain)
{
	const char *name = m->domain_spec ? m->domain_spec : domain;
	char *fixed;
	struct dns_answer a;
	enum lk r;

	if (has_macro(m->domain_spec) || w->out->dns_terms > SPF_MAX_DNS_TERMS)
		return;
	fixed = xstrdup(name);
	if (!name_fix(fixed)) {
		w->out->void_lookups++;
		free(fixed);
		return;
	}
	r = lookup(w->dns, &w->local_fail, fixed, m->kind == SPF_M_MX ? DNS_T_MX : DNS_T_A, &a);
	if (r == LK_VOID && m->kind == SPF_M_A) {
		dns_answer_free(&a);
		r = lookup(w->dns, &w->local_fail, fixed, DNS_T_AAAA, &a);
	}
	if (r == LK_VOID) {
		w->out->void_lookups++;
		lint_problem(w->out, xasprintf("'%s' in the SPF record of %s names %s, which has no %s records "
					       "(a void lookup)", m->term, domain, fixed,
					       m->kind == SPF_M_MX ? "MX" : "address"));
	} else if (r == LK_ERR) {
		w->out->include_temperror = true;
	} else if (m->kind == SPF_M_MX && rr_count(&a, DNS_T_MX) > SPF_MAX_MX_NAMES) {
		lint_problem(w->out, xasprintf("'%s' in the SPF record of %s: %s has more than %d MX records "
					       "(permerror)", m->term, domain, fixed, SPF_MAX_MX_NAMES));
	}
	dns_answer_free(&a);
	free(fixed);
}

/* top: the domain's own record, or one reached from it by redirect (its
 * "all" is the domain's "all"). */
static void lint_domain(struct lint_walk *w, const char *domain, int depth, bool top, bool is_root)
{
	struct spf_lint *l = w->out;
	struct dns_answer a;
	struct spf_record rec;
	struct err err;
	const char *text;
	size_t count = 0;
	enum lk r;

	if (depth > LINT_DEPTH_CAP || l->dns_terms > LINT_TERM_CAP) {
		l->dns_terms_capped = true;
		return;
	}
	r = lookup(w->dns, &w->local_fail, domain, DNS_T_TXT, &a);
	if (r == LK_ERR) {
		l->include_temperror = true;
		if (is_root)
			l->fetch = SPF_TEMPERROR;
		lint_problem(l, xasprintf("DNS lookup of %s TXT failed (%s)", domain, status_name(a.status)));
		dns_answer_free(&a);
		return;
	}
	text = spf_select(&a, &count);
	if (is_root) {
		l->records = count;
		l->fetch = count == 0 ? SPF_NONE : count > 1 ? SPF_PERMERROR : SPF_PASS;
		if (text != NULL)
			l->record = xstrdup(text);
	}
	if (count != 1) {
		if (!is_root) {
			if (count == 0)
				l->include_missing = true;
			lint_problem(l, count == 0 ? xasprintf("%s has no SPF record but is included or redirected to "
							       "(permerror)", domain)
						   : xasprintf("%s has %zu SPF records (permerror)", domain, count));
		}
		dns_answer_free(&a);
		return;
	}
	err_clear(&err);
	if (!spf_parse(text, &rec, &err)) {
		if (l->syntax_error == NULL)
			l->syntax_error = xasprintf("%s: %s", domain, err.msg);
		if (is_root)
			l->fetch = SPF_PERMERROR;
		dns_answer_free(&a);
		return;
	}
	dns_answer_free(&a);

	for (size_t i = 0; i < rec.n; i++) {
		const struct spf_mech *m = &rec.mech[i];

		switch (m->kind) {
		case SPF_M_ALL:
			if (top && m->qualifier == SPF_PASS)
				l->plus_all = true;
			else if (top && m->qualifier == SPF_NEUTRAL)
				l->question_all = true;
			else if (!top && m->qualifier == SPF_PASS)
				l->plus_all_in_include = true;
			break;
		case SPF_M_IP4:
		case SPF_M_IP6:
			break;
		case SPF_M_PTR:
			l->uses_ptr = true;
			l->dns_terms++;
			break;
		case SPF_M_A:
		case SPF_M_MX:
		case SPF_M_EXISTS:
			l->dns_terms++;
			if (m->kind != SPF_M_EXISTS)
				lint_resolve(w, m, domain);
			break;
		case SPF_M_INCLUDE:
			l->dns_terms++;
			if (!has_macro(m->domain_spec)) {
				char *name = xstrdup(m->domain_spec);
				if (name_fix(name))
					lint_domain(w, name, depth + 1, false, false);
				free(name);
			}
			break;
		}
	}
	if (rec.redirect != NULL) {
		if (rec.has_all) {
			l->redirect_ignored = true;
		} else {
			l->dns_terms++;
			if (!has_macro(rec.redirect)) {
				char *name = xstrdup(rec.redirect);
				if (name_fix(name))
					lint_domain(w, name, depth + 1, top, false);
				free(name);
			}
		}
	}
	spf_record_free(&rec);
}

bool spf_lint(const struct dns_resolver_ref *dns, const char *domain, struct spf_lint *out)
{
	struct lint_walk w;

	memset(out, 0, sizeof(*out));
	w.dns = dns;
	w.out = out;
	w.local_fail = false;
	if (!domain_ok(domain)) {
		out->fetch = SPF_NONE;
		lint_problem(out, xasprintf("'%s' is not a valid domain name", domain ? domain : "(null)"));
		return true;
	}
	lint_domain(&w, domain, 0, true, true);
	if (w.local_fail) {
		lint_problem(out, xstrdup("the DNS lookup function failed locally"));
		return false;
	}
	return true;
}

void spf_lint_free(struct spf_lint *l)
{
	free(l->record);
	free(l->syntax_error);
	free(l->first_problem);
	memset(l, 0, sizeof(*l));
}
