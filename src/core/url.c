/* url.c — parse server addresses: scheme://[user@]host[:port][/]
 *
 * Contract (see url.h): schemes imap, imaps, smtp, smtps (any case); the
 * user may be percent-encoded or written raw with '@' in it (the last '@'
 * separates user from host); IPv6 hosts go in brackets; default ports 143,
 * 993, 25, 465. No I/O, no globals.
 *
 * SECURITY: "user:password@" is refused, and that error does not echo the
 * address, because it would put the password into a log or a terminal.
 * Everything else is echoed in errors so the administrator sees what we read.
 */
#include "url.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"

struct url_scheme {
	const char *name;
	unsigned port;
	bool implicit_tls;
};

static const struct url_scheme url_schemes[] = {
	{ "imap", 143, false },
	{ "imaps", 993, true },
	{ "smtp", 25, false },
	{ "smtps", 465, true },
	{ "lmtp", 24, false },   /* RFC 2033: the relay's delivery into a mail store */
};

/* Addresses are typed by hand; anything this long is a paste accident. */
#define URL_MAX 2048

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* url.h has one parser for both protocols, so the hint for a wrong scheme
 * is guessed from how the caller names the input: "... smtp" (the config
 * key, or an --smtp option) wants an SMTP address, anything else ("--old",
 * "[old] imap") an IMAP one. The hint is advice only; the parse result does
 * not depend on it. */
static const char *scheme_hint(const char *what)
{
	size_t n = strlen(what);

	if (n >= 4 && strcasecmp(what + n - 4, "smtp") == 0)
		return "smtp://, smtps:// or lmtp://";
	return "imap:// or imaps://";
}

static const char *example_scheme(const char *what)
{
	size_t n = strlen(what);

	if (n >= 4 && strcasecmp(what + n - 4, "smtp") == 0)
		return "smtp://";
	return "imaps://";
}

static bool url_fail(struct url *out, struct err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool url_fail(struct url *out, struct err *err, const char *fmt, ...)
{
	char msg[sizeof err->msg];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	err_set(err, ERR_SCOPE_RUN, ERR_KIND_USAGE, false, "%s", msg);
	url_free(out);
	return false;
}

/* Decode the user part. Raw bytes other than controls are taken as they
 * are (an '@' in a raw user name is legal: the last '@' ends the user). */
static char *decode_user(const char *s, size_t n, const char *what, const char *text,
			 struct url *out, struct err *err)
{
	char *d = xmalloc(n + 1);
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
			int lo = i + 2 < n ? hex_value(s[i + 2]) : -1;

			if (hi < 0 || lo < 0) {
				free(d);
				url_fail(out, err, "%s: bad percent escape in the user name of '%s' "
					 "(write %%40 for '@', %%25 for '%%')", what, text);
				return NULL;
			}
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
			if (c < 0x20 || c == 0x7f) {
				free(d);
				url_fail(out, err, "%s: the user name in '%s' decodes to a control "
					 "character (%%%02X); remove it", what, text, c);
				return NULL;
			}
		}
		d[j++] = (char)c;
	}
	d[j] = '\0';
	return d;
}

static bool valid_reg_host(const char *h, size_t n, char *bad_r)
{
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_') {
			*bad_r = c;
			return false;
		}
	}
	return true;
}

bool url_parse(const char *text, const char *what, struct url *out, struct err *err)
{
	const struct url_scheme *scheme = NULL;

	memset(out, 0, sizeof *out);
	if (what == NULL)
		what = "address";
	if (text == NULL || text[0] == '\0')
		return url_fail(out, err, "%s: empty address; write %shost[:port]",
				what, example_scheme(what));
	size_t tlen = strlen(text);
	if (tlen > URL_MAX)
		return url_fail(out, err, "%s: address longer than %d bytes; write "
				"scheme://host[:port]", what, URL_MAX);
	for (size_t i = 0; i < tlen; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c <= 0x20 || c == 0x7f)
			return url_fail(out, err, "%s: the address contains a space or control "
					"character; write scheme://host[:port]", what);
	}

	const char *sep = strstr(text, "://");
	if (sep == NULL)
		return url_fail(out, err, "%s: no scheme in '%s'; write it as %s%s",
				what, text, example_scheme(what), text);
	size_t slen = (size_t)(sep - text);
	for (size_t i = 0; i < sizeof url_schemes / sizeof url_schemes[0]; i++) {
		if (strlen(url_schemes[i].name) == slen &&
		    strncasecmp(text, url_schemes[i].name, slen) == 0)
			scheme = &url_schemes[i];
	}
	if (scheme == NULL)
		return url_fail(out, err, "%s: unknown scheme '%.*s' in '%s' (use %s)",
				what, (int)slen, text, text, scheme_hint(what));

	const char *rest = sep + 3;
	const char *at = strrchr(rest, '@');
	const char *hp = rest;
	if (at != NULL) {
		size_t ulen = (size_t)(at - rest);

		if (memchr(rest, ':', ulen) != NULL)
			return url_fail(out, err, "%s: the address holds a password "
					"(user:password@host); keep passwords in the accounts "
					"CSV or a password file, never in an address", what);
		if (ulen == 0)
			return url_fail(out, err, "%s: empty user name before '@' in '%s'; "
					"remove the '@' or write the user", what, text);
		out->user = decode_user(rest, ulen, what, text, out, err);
		if (out->user == NULL)
			return false;
		hp = at + 1;
	}

	const char *p = hp;
	if (*p == '[') {
		const char *close = strchr(p, ']');
		char addr[INET6_ADDRSTRLEN + 1];
		unsigned char bin[16];

		if (close == NULL)
			return url_fail(out, err, "%s: unterminated '[' in '%s'; write IPv6 "
					"addresses as [2001:db8::1]", what, text);
		size_t hlen = (size_t)(close - p - 1);
		if (hlen == 0)
			return url_fail(out, err, "%s: empty host '[]' in '%s'", what, text);
		if (hlen >= sizeof addr)
			return url_fail(out, err, "%s: '%.*s' in '%s' is not an IPv6 address",
					what, (int)(close - p + 1), p, text);
		memcpy(addr, p + 1, hlen);
		addr[hlen] = '\0';
		if (inet_pton(AF_INET6, addr, bin) != 1)
			return url_fail(out, err, "%s: '%.*s' in '%s' is not an IPv6 address",
					what, (int)(close - p + 1), p, text);
		out->host = xstrdup(addr);
		p = close + 1;
	} else {
		const char *q = p;
		size_t colons = 0;
		char bad = 0;

		for (const char *r = p; *r != '\0' && *r != '/'; r++)
			colons += *r == ':';
		if (colons > 1)
			return url_fail(out, err, "%s: write IPv6 addresses in brackets, as in "
					"%s://[::1]:%u ('%s')", what, scheme->name, scheme->port,
					text);
		while (*q != '\0' && *q != ':' && *q != '/')
			q++;
		if (q == p)
			return url_fail(out, err, "%s: empty host in '%s'; write "
					"%shost[:port]", what, text, example_scheme(what));
		if (!valid_reg_host(p, (size_t)(q - p), &bad)) {
			if ((unsigned char)bad >= 0x80)
				return url_fail(out, err, "%s: non-ASCII host name in '%s'; write "
						"its ASCII (xn--) form", what, text);
			return url_fail(out, err, "%s: bad character '%c' in the host of '%s'",
					what, bad, text);
		}
		out->host = xstrndup(p, (size_t)(q - p));
		p = q;
	}

	out->port = scheme->port;
	if (*p == ':') {
		const char *d = ++p;
		unsigned long v = 0;

		while (*p != '\0' && *p != '/')
			p++;
		if (p == d)
			return url_fail(out, err, "%s: empty port after ':' in '%s'; remove "
					"the ':' or write a port (1-65535)", what, text);
		for (const char *r = d; r < p; r++) {
			if (!is_digit(*r) || v > 65535)
				return url_fail(out, err, "%s: bad port '%.*s' in '%s' "
						"(use a number from 1 to 65535)",
						what, (int)(p - d), d, text);
			v = v * 10 + (unsigned long)(*r - '0');
		}
		if (v == 0 || v > 65535)
			return url_fail(out, err, "%s: bad port '%.*s' in '%s' "
					"(use a number from 1 to 65535)", what, (int)(p - d), d, text);
		out->port = (unsigned)v;
	}
	if (*p == '/') {
		if (p[1] != '\0')
			return url_fail(out, err, "%s: unexpected path '%s' in '%s'; write "
					"scheme://host[:port] only", what, p, text);
	} else if (*p != '\0') {
		return url_fail(out, err, "%s: unexpected '%s' after the host in '%s'; "
				"write scheme://host[:port]", what, p, text);
	}

	out->scheme = xstrdup(scheme->name);
	out->implicit_tls = scheme->implicit_tls;
	return true;
}

void url_free(struct url *u)
{
	if (u == NULL)
		return;
	free(u->scheme);
	free(u->user);
	free(u->host);
	u->scheme = NULL;
	u->user = NULL;
	u->host = NULL;
	u->port = 0;
	u->implicit_tls = false;
}
