/* smtp_cmd.c — parse one SMTP command line; the contract is smtp_cmd.h.
 *
 * The line is first checked as a whole (length, control octets, UTF-8), so
 * the grammar below only ever sees printable text and every later check can
 * be about syntax. The path is parsed by hand, position by position, along
 * RFC 5321 §4.1.2; every copy into the fixed arrays of struct smtp_cmd is
 * preceded by a length check against the RFC limit, which is also the array
 * size.
 *
 * SECURITY: the line comes from any host on the Internet. Addresses go into
 * the queue's envelope and into Received: headers, so a CR, LF or NUL must
 * never survive (rejected up front), and UTF-8 must be well formed (no
 * overlong forms that a later decoder could turn into a control octet).
 */
#include "smtp_cmd.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

struct reply {
	unsigned code;
	const char *enhanced;
	const char *text;
};

static const struct reply replies[] = {
	[SMTP_CMD_ERR_NONE] = { 0, "", "" },
	[SMTP_CMD_ERR_TOO_LONG] = { 500, "5.5.2", "Line too long" },
	[SMTP_CMD_ERR_BAD_CHAR] = { 500, "5.5.2",
		"Control character, bare CR or LF, NUL or invalid UTF-8 in command" },
	[SMTP_CMD_ERR_UNKNOWN] = { 500, "5.5.2", "Command not recognized" },
	[SMTP_CMD_ERR_SYNTAX] = { 501, "5.5.4", "Syntax error in parameters or arguments" },
	[SMTP_CMD_ERR_BAD_SENDER] = { 501, "5.1.7", "Bad sender address syntax" },
	[SMTP_CMD_ERR_BAD_RCPT] = { 501, "5.1.3", "Bad recipient address syntax" },
	[SMTP_CMD_ERR_TOO_LONG_PATH] = { 501, "5.1.3", "Path too long" },
	[SMTP_CMD_ERR_PARAM_UNKNOWN] = { 555, "5.5.4",
		"MAIL FROM/RCPT TO parameters not recognized or not implemented" },
	[SMTP_CMD_ERR_PARAM_BAD] = { 501, "5.5.4", "Invalid or repeated parameter" },
	[SMTP_CMD_ERR_UTF8] = { 553, "5.6.7", "Non-ASCII address without SMTPUTF8" },
};

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_VERB_HELO }, { "EHLO", SMTP_VERB_EHLO },
	{ "MAIL", SMTP_VERB_MAIL }, { "RCPT", SMTP_VERB_RCPT },
	{ "DATA", SMTP_VERB_DATA }, { "RSET", SMTP_VERB_RSET },
	{ "NOOP", SMTP_VERB_NOOP }, { "QUIT", SMTP_VERB_QUIT },
	{ "VRFY", SMTP_VERB_VRFY }, { "STARTTLS", SMTP_VERB_STARTTLS },
	{ "HELP", SMTP_VERB_HELP },
};

const char *smtp_verb_name(enum smtp_verb verb)
{
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (verbs[i].verb == verb)
			return verbs[i].name;
	return "unknown";
}

static bool fail(struct smtp_cmd *cmd, enum smtp_cmd_error e)
{
	cmd->error = e;
	cmd->reply_code = replies[e].code;
	cmd->enhanced = replies[e].enhanced;
	cmd->text = replies[e].text;
	/* A bad or too long path of the sender is 5.1.7, of a recipient 5.1.3. */
	if (e == SMTP_CMD_ERR_TOO_LONG_PATH && cmd->verb == SMTP_VERB_MAIL)
		cmd->enhanced = "5.1.7";
	return false;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs,
 * no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* The parse position inside the line. */
struct cur {
	const unsigned char *s;
	size_t pos, len;
	bool utf8;        /* a non-ASCII octet was seen in the address */
};

static int peek(const struct cur *c)
{
	return c->pos < c->len ? c->s[c->pos] : -1;
}

/* Non-ASCII run at the cursor (already known to be valid UTF-8). */
static bool take_utf8(struct cur *c)
{
	if (c->pos >= c->len || c->s[c->pos] < 0x80)
		return false;
	c->pos += utf8_seq(c->s + c->pos, c->len - c->pos);
	c->utf8 = true;
	return true;
}

/* sub-domain *("." sub-domain); labels of letters, digits, hyphens (not at
 * either end) or UTF-8 (U-labels, checked for form only). */
static bool parse_domain_name(struct cur *c)
{
	size_t start = c->pos;

	for (;;) {
		size_t lstart = c->pos;
		int last = -1;
		for (;;) {
			int ch = peek(c);
			if (ch >= 0 && (is_alpha((unsigned char)ch) || is_digit((unsigned char)ch))) {
				c->pos++;
			} else if (ch == '-' && c->pos > lstart) {
				c->pos++;
			} else if (ch >= 0x80) {
				take_utf8(c);
			} else {
				break;
			}
			last = c->s[c->pos - 1];
		}
		if (c->pos == lstart || last == '-' || c->pos - lstart > 63)
			return false;
		if (peek(c) != '.')
			break;
		c->pos++;
	}
	return c->pos - start <= SMTP_DOMAIN_MAX;
}

/* "[" (IPv4 | "IPv6:" IPv6 | tag ":" dcontent) "]" */
static bool parse_addr_literal(struct cur *c)
{
	char tmp[64];
	size_t start = ++c->pos;
	size_t colon = 0;

	while (c->pos < c->len && c->s[c->pos] != ']') {
		unsigned char ch = c->s[c->pos];
		/* dcontent: %d33-90 / %d94-126 */
		if (ch < 33 || ch > 126 || ch == '[' || ch == '\\')
			return false;
		if (ch == ':' && colon == 0)
			colon = c->pos;
		c->pos++;
	}
	if (c->pos >= c->len)
		return false;
	size_t n = c->pos - start;
	c->pos++;
	if (n == 0)
		return false;
	if (colon == 0 || (n > 5 && strncasecmp((const char *)c->s + start, "IPv6:", 5) == 0)) {
		unsigned char a[16];
		if (n >= sizeof tmp)
			return false;
		memcpy(tmp, c->s + start, n);
		tmp[n] = '\0';
		if (colon == 0)
			return inet_pton(AF_INET, tmp, a) == 1;
		return inet_pton(AF_INET6, tmp + 5, a) == 1;
	}
	/* General-address-literal: Standardized-tag is Ldh-str. */
	for (size_t i = start; i < colon; i++) {
		unsigned char ch = c->s[i];
		if (!is_alpha(ch) && !is_digit(ch) && ch != '-')
			return false;
	}
	return colon > start && colon + 1 < start + n;
}

static bool parse_domain(struct cur *c)
{
	size_t start = c->pos;

	if (peek(c) == '[') {
		if (!parse_addr_literal(c))
			return false;
		return c->pos - start <= SMTP_DOMAIN_MAX;
	}
	return parse_domain_name(c);
}

/* Local-part; decoded into out (quotes and escapes removed). Returns false
 * on bad syntax; *too_long when only a length limit was passed. */
static bool parse_local(struct cur *c, char *out, bool *too_long)
{
	size_t start = c->pos, o = 0;

	if (peek(c) == '"') {
		c->pos++;
		for (;;) {
			int ch = peek(c);
			if (ch < 0)
				return false;
			if (ch == '"') {
				c->pos++;
				break;
			}
			size_t from = c->pos;
			if (ch == '\\') {
				/* quoted-pairSMTP: %d92 %d32-126 */
				c->pos++;
				ch = peek(c);
				if (ch < 32 || ch > 126)
					return false;
				from = c->pos;
				c->pos++;
			} else if (ch >= 0x80) {
				take_utf8(c);
			} else if (ch >= 32 && ch <= 126) {
				c->pos++;
			} else {
				return false;
			}
			size_t n = c->pos - from;
			if (o + n > SMTP_LOCAL_MAX) {
				*too_long = true;
				return false;
			}
			memcpy(out + o, c->s + from, n);
			o += n;
		}
	} else {
		for (;;) {
			size_t astart = c->pos;
			for (;;) {
				int ch = peek(c);
				if (ch >= 0 && ch < 0x80 && is_atext((unsigned char)ch))
					c->pos++;
				else if (!take_utf8(c))
					break;
			}
			if (c->pos == astart)
				return false;
			if (peek(c) != '.')
				break;
			c->pos++;
		}
		if (c->pos - start > SMTP_LOCAL_MAX) {
			*too_long = true;
			return false;
		}
		o = c->pos - start;
		memcpy(out, c->s + start, o);
	}
	out[o] = '\0';
	if (c->pos - start > SMTP_LOCAL_MAX) {
		*too_long = true;
		return false;
	}
	return true;
}

/* "<" [A-d-l ":"] Mailbox ">" or "<>". Leaves the cursor after ">". */
static bool parse_path(struct cur *c, struct smtp_cmd *cmd, enum smtp_cmd_error bad)
{
	bool too_long = false;
	size_t start = c->pos;

	if (peek(c) != '<')
		return fail(cmd, bad);
	c->pos++;
	if (peek(c) == '>') {
		c->pos++;
		if (cmd->verb != SMTP_VERB_MAIL)
			return fail(cmd, bad);
		cmd->null_path = true;
		return true;
	}
	/* A source route is obsolete (RFC 5321 §4.1.2, C.): accept, drop. */
	if (peek(c) == '@') {
		for (;;) {
			c->pos++;
			if (!parse_domain_name(c))
				return fail(cmd, bad);
			if (peek(c) == ':')
				break;
			if (peek(c) != ',')
				return fail(cmd, bad);
			c->pos++;
			if (peek(c) != '@')
				return fail(cmd, bad);
		}
		c->pos++;
	}
	size_t mbox = c->pos;
	if (!parse_local(c, cmd->local, &too_long))
		return fail(cmd, too_long ? SMTP_CMD_ERR_TOO_LONG_PATH : bad);
	size_t dom = c->pos;
	if (peek(c) == '@') {
		c->pos++;
		dom = c->pos;
		if (!parse_domain(c))
			return fail(cmd, c->pos - dom > SMTP_DOMAIN_MAX ?
				    SMTP_CMD_ERR_TOO_LONG_PATH : bad);
	} else if (!(cmd->verb == SMTP_VERB_RCPT && strcasecmp(cmd->local, "postmaster") == 0 &&
		     c->s[mbox] != '"')) {
		return fail(cmd, bad);
	}
	if (peek(c) != '>')
		return fail(cmd, bad);
	c->pos++;
	if (c->pos - start > SMTP_PATH_MAX)
		return fail(cmd, SMTP_CMD_ERR_TOO_LONG_PATH);
	/* Lengths are bounded by the checks above and the array sizes. */
	memcpy(cmd->addr, c->s + mbox, c->pos - 1 - mbox);
	cmd->addr[c->pos - 1 - mbox] = '\0';
	if (c->pos - 1 > dom) {
		memcpy(cmd->domain, c->s + dom, c->pos - 1 - dom);
		cmd->domain[c->pos - 1 - dom] = '\0';
	}
	cmd->utf8_addr = c->utf8;
	return true;
}

static bool keyword_is(const unsigned char *s, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp((const char *)s, kw, n) == 0;
}

/* *(SP esmtp-param), after the path. */
static bool parse_params(struct cur *c, struct smtp_cmd *cmd)
{
	while (c->pos < c->len) {
		if (c->s[c->pos] != ' ')
			return fail(cmd, SMTP_CMD_ERR_SYNTAX);
		while (peek(c) == ' ')
			c->pos++;
		if (c->pos == c->len)
			break;   /* trailing spaces */
		size_t k = c->pos;
		while (c->pos < c->len && c->s[c->pos] != '=' && c->s[c->pos] != ' ')
			c->pos++;
		size_t klen = c->pos - k;
		const unsigned char *v = NULL;
		size_t vlen = 0;
		if (peek(c) == '=') {
			v = c->s + ++c->pos;
			while (c->pos < c->len && c->s[c->pos] != ' ')
				c->pos++;
			vlen = (size_t)(c->s + c->pos - v);
		}
		/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
		if (klen == 0 || c->s[k] == '-')
			return fail(cmd, SMTP_CMD_ERR_PARAM_BAD);
		for (size_t i = k; i < k + klen; i++)
			if (!is_alpha(c->s[i]) && !is_digit(c->s[i]) && c->s[i] != '-')
				return fail(cmd, SMTP_CMD_ERR_PARAM_BAD);
		/* esmtp-value = 1*(%d33-60 / %d62-126) */
		if (v != NULL) {
			if (vlen == 0)
				return fail(cmd, SMTP_CMD_ERR_PARAM_BAD);
			for (size_t i = 0; i < vlen; i++)
				if (v[i] < 33 || v[i] > 126 || v[i] == '=')
					return fail(cmd, SMTP_CMD_ERR_PARAM_BAD);
		}
		const unsigned char *kw = c->s + k;
		if (cmd->verb != SMTP_VERB_MAIL)
			return fail(cmd, SMTP_CMD_ERR_PARAM_UNKNOWN);
		if (keyword_is(kw, klen, "SIZE")) {
			if (cmd->has_size || v == NULL || vlen > 20)
				return fail(cmd, SMTP_CMD_ERR_PARAM_BAD);
			uint64_t n = 0;
			for (size_t i = 0; i < vlen; i++) {
				if (!is_digit(v[i]) || n > (UINT64_MAX - (v[i] - '0')) / 10)
					return fail(cmd, SMTP_CMD_ERR_PARAM_BAD);
				n = n * 10 + (uint64_t)(v[i] - '0');
			}
			cmd->has_size = true;
			cmd->size = n;
		} else if (keyword_is(kw, klen, "BODY")) {
			if (cmd->body != SMTP_BODY_NONE || v == NULL)
				return fail(cmd, SMTP_CMD_ERR_PARAM_BAD);
			if (keyword_is(v, vlen, "7BIT"))
				cmd->body = SMTP_BODY_7BIT;
			else if (keyword_is(v, vlen, "8BITMIME"))
				cmd->body = SMTP_BODY_8BITMIME;
			else
				return fail(cmd, SMTP_CMD_ERR_PARAM_BAD);
		} else if (keyword_is(kw, klen, "SMTPUTF8")) {
			if (cmd->smtputf8 || v != NULL)
				return fail(cmd, SMTP_CMD_ERR_PARAM_BAD);
			cmd->smtputf8 = true;
		} else {
			return fail(cmd, SMTP_CMD_ERR_PARAM_UNKNOWN);
		}
	}
	return true;
}

/* "FROM:" / "TO:" then optional spaces, path, params. */
static bool parse_mail_rcpt(struct cur *c, struct smtp_cmd *cmd, bool utf8_ok)
{
	const char *kw = cmd->verb == SMTP_VERB_MAIL ? "FROM:" : "TO:";
	enum smtp_cmd_error bad = cmd->verb == SMTP_VERB_MAIL ?
		SMTP_CMD_ERR_BAD_SENDER : SMTP_CMD_ERR_BAD_RCPT;
	size_t n = strlen(kw);

	if (c->len - c->pos < n || strncasecmp((const char *)c->s + c->pos, kw, n) != 0)
		return fail(cmd, SMTP_CMD_ERR_SYNTAX);
	c->pos += n;
	/* Not RFC 5321, but many clients send "MAIL FROM: <a@b>". */
	while (peek(c) == ' ')
		c->pos++;
	if (!parse_path(c, cmd, bad))
		return false;
	if (!parse_params(c, cmd))
		return false;
	if (cmd->verb == SMTP_VERB_MAIL)
		utf8_ok = cmd->smtputf8;
	if (cmd->utf8_addr && !utf8_ok)
		return fail(cmd, SMTP_CMD_ERR_UTF8);
	return true;
}

bool smtp_cmd_parse(const char *line, size_t len, bool utf8_ok, struct smtp_cmd *cmd)
{
	const unsigned char *s = (const unsigned char *)line;
	struct cur c = { .s = s, .pos = 0, .len = len, .utf8 = false };

	memset(cmd, 0, sizeof *cmd);
	fail(cmd, SMTP_CMD_ERR_NONE);
	if (len > SMTP_CMD_LINE_MAX)
		return fail(cmd, SMTP_CMD_ERR_TOO_LONG);
	for (size_t i = 0; i < len;) {
		if (s[i] < 0x20 || s[i] == 0x7F)
			return fail(cmd, SMTP_CMD_ERR_BAD_CHAR);
		size_t n = utf8_seq(s + i, len - i);
		if (n == 0)
			return fail(cmd, SMTP_CMD_ERR_BAD_CHAR);
		i += n;
	}

	size_t vlen = 0;
	while (vlen < len && s[vlen] != ' ')
		vlen++;
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (keyword_is(s, vlen, verbs[i].name))
			cmd->verb = verbs[i].verb;
	if (cmd->verb == SMTP_VERB_UNKNOWN)
		return fail(cmd, SMTP_CMD_ERR_UNKNOWN);
	c.pos = vlen;

	if (cmd->verb == SMTP_VERB_MAIL || cmd->verb == SMTP_VERB_RCPT) {
		if (peek(&c) != ' ')
			return fail(cmd, SMTP_CMD_ERR_SYNTAX);
		c.pos++;
		return parse_mail_rcpt(&c, cmd, utf8_ok);
	}

	/* Other verbs: an optional argument, trailing spaces ignored. */
	while (peek(&c) == ' ')
		c.pos++;
	size_t end = len;
	while (end > c.pos && s[end - 1] == ' ')
		end--;
	size_t alen = end - c.pos;
	memcpy(cmd->arg, s + c.pos, alen);
	cmd->arg[alen] = '\0';
	switch (cmd->verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
	case SMTP_VERB_VRFY:
		if (alen == 0)
			return fail(cmd, SMTP_CMD_ERR_SYNTAX);
		break;
	case SMTP_VERB_DATA:
	case SMTP_VERB_RSET:
	case SMTP_VERB_QUIT:
	case SMTP_VERB_STARTTLS:
		if (alen != 0)
			return fail(cmd, SMTP_CMD_ERR_SYNTAX);
		break;
	default:
		break;
	}
	return true;
}
