/* dsn.c — writes a delivery status notification; the contract is dsn.h.
 *
 * Layout (RFC 6522 multipart/report, report-type=delivery-status):
 *   our header fields (7-bit; folded at 78 where a space allows)
 *   part 1  text/plain     a few sentences for a person, one paragraph per
 *                          recipient with the server's words
 *   part 2  message/delivery-status   (RFC 3464 §2: per-message fields, a
 *                          blank line, then per-recipient blocks)
 *   part 3  text/rfc822-headers, or message/global-headers when the
 *           original header block holds 8-bit octets (RFC 6533 §6.3);
 *           left out when the caller has no header block
 * The three parts are built first and the boundary is chosen after, so it
 * can be proven absent from them (an original header line could otherwise
 * spell our delimiter and cut the report short).
 *
 * SECURITY: everything that comes from outside (recipient addresses,
 * reply text from remote servers, the original header block, even our
 * own host name and the sender) is cleaned before it is written: CR, LF,
 * NUL and other control characters never reach the output as such, so no
 * input can start a new header field, a new DSN field or a MIME boundary
 * line. Lines are cut or folded so none passes 998 octets (RFC 5322 §2.1.1).
 *
 * 8-bit octets appear only in parts 1 and 3 (part 1 when a recipient
 * address is UTF-8, part 3 for an 8-bit original header block); the
 * top-level Content-Transfer-Encoding then says 8bit, and the caller
 * should spool the DSN as 8BITMIME/SMTPUTF8 (memchr for an octet >= 0x80).
 * Part 2 and the header fields are always 7-bit: a UTF-8 address is written
 * as RFC 6533 utf-8-addr-xtext (\x{HEX}).
 *
 * Pure: no I/O, no globals; gmtime_r only formats the caller's times.
 */
#include "proto/dsn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"

#define LINE_SOFT 78            /* fold header fields here when a space allows */
#define LINE_HARD 998           /* RFC 5322 §2.1.1 */
#define VALUE_MAX 900           /* a cleaned field value, so no line can pass LINE_HARD */
#define HOST_MAX 253
#define SEED_MAX 40
#define CUT_MARK " [...]"

/* Length of the valid UTF-8 sequence at s (at most n octets), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n, unsigned *cp_r)
{
	unsigned cp;
	size_t len;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	} else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2, cp = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3, cp = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4, cp = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	*cp_r = cp;
	return len;
}

/* A copy of s that is safe inside one line: tab, CR and LF become spaces,
 * other control characters '?', and octets >= 0x80 are kept only when
 * they form valid UTF-8 and utf8 is true ('?' otherwise). Cut to at most
 * max octets (on a character boundary) with "..." to show the cut. */
static char *clean(const char *s, size_t max, bool utf8)
{
	struct buf b;
	size_t n = s != NULL ? strlen(s) : 0;

	buf_init(&b, 0);
	buf_append(&b, "", 0);
	for (size_t i = 0; i < n;) {
		const unsigned char *u = (const unsigned char *)s + i;
		unsigned cp;
		size_t len = 1;
		char c = (char)*u;

		if (*u == '\t' || *u == '\r' || *u == '\n') {
			c = ' ';
		} else if (*u < 0x20 || *u == 0x7f) {
			c = '?';
		} else if (*u >= 0x80) {
			len = utf8 ? utf8_len(u, n - i, &cp) : 0;
			if (len == 0) {
				c = '?';
				len = 1;
			}
		}
		if (len == 1)
			buf_append_char(&b, c);
		else
			buf_append(&b, u, len);
		i += len;
	}
	if (b.len > max) {
		size_t keep = max > 3 ? max - 3 : 0;

		while (keep > 0 && ((unsigned char)b.data[keep] & 0xc0) == 0x80)
			keep--;
		b.len = keep;
		buf_append_str(&b, "...");
	}
	return buf_steal(&b);
}

static bool has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return true;
	}
	return false;
}

/* RFC 6533 utf-8-addr-xtext: printable ASCII except '+', '=', '\' as is,
 * everything else as \x{HEX} of its code point (an invalid octet as
 * U+FFFD). 7-bit, no spaces, no controls. */
static char *addr_xtext(const char *s)
{
	struct buf b;
	size_t n = strlen(s);

	buf_init(&b, 0);
	buf_append(&b, "", 0);
	for (size_t i = 0; i < n && b.len < VALUE_MAX - 16;) {
		const unsigned char *u = (const unsigned char *)s + i;
		unsigned cp = 0xfffd;
		size_t len = utf8_len(u, n - i, &cp);

		if (len == 0) {
			len = 1;
			cp = 0xfffd;
		}
		if (cp > 0x20 && cp < 0x7f && cp != '+' && cp != '=' && cp != '\\')
			buf_append_char(&b, (char)cp);
		else
			buf_printf(&b, "\\x{%02X}", cp);
		i += len;
	}
	return buf_steal(&b);
}

/* "Thu, 5 Mar 2026 10:20:30 +0000" without the locale (strftime's %a and
 * %b follow LC_TIME). */
static void format_date(int64_t t, char out[40])
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
					    "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11) {
		snprintf(out, 40, "Thu, 1 Jan 1970 00:00:00 +0000");
		return;
	}
	snprintf(out, 40, "%s, %d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* One header or DSN field, "Name: value", folded before a space when the
 * line would pass LINE_SOFT. value must be clean (no CR/LF) and at most
 * VALUE_MAX octets, so even an unfoldable value stays under LINE_HARD. */
static void put_field(struct buf *b, const char *name, const char *value)
{
	size_t col = strlen(name) + 2;
	const char *s = value;
	bool first = true;

	buf_printf(b, "%s: ", name);
	while (*s == ' ')
		s++;
	while (*s != '\0') {
		size_t sp = strspn(s, " ");
		size_t w = strcspn(s + sp, " ");

		/* never fold before trailing blanks: a line of only blanks is
		 * obsolete syntax (RFC 5322 §4.2) */
		if (!first && sp > 0 && w > 0 && col + sp + w > LINE_SOFT) {
			buf_append_str(b, "\r\n");
			col = 0;
		}
		buf_append(b, s, sp + w);
		col += sp + w;
		s += sp + w;
		first = false;
	}
	buf_append_str(b, "\r\n");
}

/* Running text for part 1, wrapped at 76 columns where a space allows
 * (and cut hard at 900 where it does not), each continuation line
 * indented by `indent` spaces. text must be clean. */
static void put_text(struct buf *b, const char *text, size_t indent)
{
	size_t col = 0;
	bool empty = true;      /* no word on this line yet */
	const char *s = text;

	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		size_t word = strcspn(s, " ");

		if (!empty && col + 1 + word > 76) {
			buf_append_str(b, "\r\n");
			for (col = 0; col < indent; col++)
				buf_append_char(b, ' ');
			empty = true;
		}
		if (!empty) {
			buf_append_char(b, ' ');
			col++;
		}
		while (word > VALUE_MAX) {
			buf_append(b, s, VALUE_MAX);
			buf_append_str(b, "\r\n");
			s += VALUE_MAX;
			word -= VALUE_MAX;
			col = 0;
		}
		buf_append(b, s, word);
		col += word;
		s += word;
		empty = false;
	}
	buf_append_str(b, "\r\n");
}

static const char *status_of(const struct dsn_rcpt *r, char out[16])
{
	const char *e = r->enhanced;
	unsigned cls = r->delayed ? 4 : 5;

	/* class.subject.detail, RFC 3463: class 2/4/5, 1-3 digits, 1-3 digits */
	if (e != NULL && (e[0] == '4' || e[0] == '5') && e[1] == '.') {
		size_t a = strspn(e + 2, "0123456789");

		if (a >= 1 && a <= 3 && e[2 + a] == '.') {
			size_t d = strspn(e + 3 + a, "0123456789");

			if (d >= 1 && d <= 3 && e[3 + a + d] == '\0') {
				snprintf(out, 16, "%s", e);
				return out;
			}
		}
	}
	if (r->code >= 400 && r->code < 500)
		cls = 4;
	else if (r->code >= 500 && r->code < 600)
		cls = 5;
	snprintf(out, 16, "%u.0.0", cls);
	return out;
}

static void human_part(struct buf *p, const struct dsn_input *in, const char *host,
		       bool all_delayed)
{
	buf_printf(p, "This is the mail system at host %s.\r\n\r\n", host);
	if (all_delayed)
		put_text(p, "This is a warning only: your message has not been delivered yet "
			 "to the recipients below. The mail system will keep trying; you do "
			 "not need to send it again.", 0);
	else
		put_text(p, "Your message could not be delivered to one or more recipients. "
			 "The reasons are below; the headers of your message are attached.", 0);
	buf_append_str(p, "\r\n");
	put_text(p, "If you need help, send mail to the postmaster of this system and "
		 "include this report.", 0);
	for (size_t i = 0; i < in->nrcpt; i++) {
		const struct dsn_rcpt *r = &in->rcpts[i];
		char *addr = clean(r->addr, 300, true);
		char *text = clean(r->text != NULL ? r->text : "", VALUE_MAX, true);
		char *mta = clean(r->remote_mta, HOST_MAX, false);
		bool enh = r->enhanced != NULL && r->enhanced[0] != '\0';
		char *e = clean(enh ? r->enhanced : "", 16, false);
		const char *what = r->delayed ? "delayed" : "failed";
		char *line;

		if (r->code != 0 && r->remote_mta != NULL)
			line = xasprintf("<%s>: %s: host %s said: %u%s%s %s", addr, what, mta,
					 r->code, enh ? " " : "", e, text);
		else if (r->code != 0)
			line = xasprintf("<%s>: %s: %u%s%s %s", addr, what, r->code, enh ? " " : "",
					 e, text);
		else
			line = xasprintf("<%s>: %s: %s", addr, what,
					 text[0] != '\0' ? text : "no reason recorded");
		free(e);
		buf_append_str(p, "\r\n");
		put_text(p, line, 4);
		free(line);
		free(addr);
		free(text);
		free(mta);
	}
}

static void status_part(struct buf *p, const struct dsn_input *in, const char *host)
{
	char date[40];

	{
		char *v = xasprintf("dns; %s", host);

		put_field(p, "Reporting-MTA", v);
		free(v);
	}
	if (in->trace_id != NULL && in->trace_id[0] != '\0') {
		char *t = clean(in->trace_id, 128, false);

		put_field(p, "X-Mailshift-Trace", t);
		free(t);
	}
	if (in->arrival > 0) {
		format_date(in->arrival, date);
		put_field(p, "Arrival-Date", date);
	}
	for (size_t i = 0; i < in->nrcpt; i++) {
		const struct dsn_rcpt *r = &in->rcpts[i];
		const char *a = r->addr != NULL ? r->addr : "";
		char st[16], *v;

		buf_append_str(p, "\r\n");
		if (has_8bit(a, strlen(a))) {
			char *x = addr_xtext(a);

			v = xasprintf("utf-8; %s", x);
			free(x);
		} else {
			char *c = clean(a, VALUE_MAX - 8, false);

			v = xasprintf("rfc822; %s", c);
			free(c);
		}
		put_field(p, "Final-Recipient", v);
		free(v);
		put_field(p, "Action", r->delayed ? "delayed" : "failed");
		put_field(p, "Status", status_of(r, st));
		if (r->remote_mta != NULL && r->remote_mta[0] != '\0') {
			char *m = clean(r->remote_mta, HOST_MAX, false);

			v = xasprintf("dns; %s", m);
			put_field(p, "Remote-MTA", v);
			free(v);
			free(m);
		}
		if (r->code != 0 || (r->text != NULL && r->text[0] != '\0')) {
			char *t = clean(r->text != NULL ? r->text : "", VALUE_MAX - 40, false);
			bool enh = r->enhanced != NULL && r->enhanced[0] != '\0';
			char *e = clean(enh ? r->enhanced : "", 16, false);

			if (r->code != 0)
				v = xasprintf("smtp; %u%s%s%s%s", r->code, enh ? " " : "", e,
					      t[0] != '\0' ? " " : "", t);
			else
				v = xasprintf("X-Mailshift; %s", t);
			put_field(p, "Diagnostic-Code", v);
			free(v);
			free(t);
			free(e);
		}
		if (r->last_attempt > 0) {
			format_date(r->last_attempt, date);
			put_field(p, "Last-Attempt-Date", date);
		}
	}
}

/* The original header block, one line at a time: CRLF line ends, NUL and
 * stray CR replaced, empty lines dropped (a header block has none), lines
 * over LINE_HARD cut on a character boundary and marked. */
static void headers_part(struct buf *p, const char *h, size_t n)
{
	const size_t keep_max = LINE_HARD - (sizeof CUT_MARK - 1);
	size_t i = 0;

	while (i < n) {
		const char *nl = memchr(h + i, '\n', n - i);
		size_t end = nl != NULL ? (size_t)(nl - h) : n;
		size_t len = end - i, start = p->len;

		if (len > 0 && h[end - 1] == '\r')
			len--;
		if (len > 0) {
			size_t keep = len;

			if (len > LINE_HARD) {
				keep = keep_max;
				/* back off to the start of a UTF-8 character */
				while (keep > 0 && ((unsigned char)h[i + keep] & 0xc0) == 0x80)
					keep--;
			}
			buf_append(p, h + i, keep);
			for (size_t k = start; k < p->len; k++) {
				if (p->data[k] == '\0' || p->data[k] == '\r')
					p->data[k] = '?';
			}
			if (keep < len)
				buf_append_str(p, CUT_MARK);
			buf_append_str(p, "\r\n");
		}
		i = end + 1;
	}
}

static bool contains(const struct buf *b, const char *needle)
{
	return b->len > 0 && memmem(b->data, b->len, needle, strlen(needle)) != NULL;
}

static char *host_token(const char *s)
{
	char *h = clean(s != NULL && s[0] != '\0' ? s : "localhost", HOST_MAX, false);

	for (char *c = h; *c != '\0'; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_'))
			*c = '-';
	}
	return h;
}

bool dsn_write(struct buf *out, const struct dsn_input *in)
{
	struct buf p1, p2, p3, m;
	char *host = host_token(in->reporting_mta);
	char seed[SEED_MAX + 1], boundary[80], delim[84], date[40];
	bool all_delayed = in->nrcpt > 0, eight_text, eight_hdr, ok;
	size_t k = 0;

	for (size_t i = 0; i < in->nrcpt; i++) {
		if (!in->rcpts[i].delayed)
			all_delayed = false;
	}
	for (const char *s = in->boundary_seed; s != NULL && *s != '\0' && k < SEED_MAX; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9'))
			seed[k++] = *s;
	}
	if (k == 0)
		k = (size_t)snprintf(seed, sizeof seed, "%llX", (unsigned long long)in->now);
	seed[k] = '\0';

	buf_init(&p1, 0);
	buf_init(&p2, 0);
	buf_init(&p3, 0);
	buf_init(&m, 0);
	human_part(&p1, in, host, all_delayed);
	status_part(&p2, in, host);
	if (in->headers != NULL && in->headers_len > 0)
		headers_part(&p3, in->headers, in->headers_len);
	eight_text = has_8bit(p1.data, p1.len);
	eight_hdr = has_8bit(p3.data, p3.len);

	for (unsigned n = 0;; n++) {
		if (n == 0)
			snprintf(boundary, sizeof boundary, "=_ms-dsn_%s", seed);
		else
			snprintf(boundary, sizeof boundary, "=_ms-dsn_%s_%u", seed, n);
		snprintf(delim, sizeof delim, "--%s", boundary);
		if (!contains(&p1, delim) && !contains(&p2, delim) && !contains(&p3, delim))
			break;
	}

	buf_printf(&m, "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n", host);
	{
		char *to = in->sender != NULL ? clean(in->sender, VALUE_MAX, false) : NULL;

		/* A UTF-8 sender cannot go into a 7-bit To: field; the envelope
		 * still carries it, which is what delivers the DSN. */
		if (to == NULL || to[0] == '\0' || has_8bit(in->sender, strlen(in->sender))) {
			put_field(&m, "To", "undisclosed-recipients:;");
		} else {
			char *v = xasprintf("<%s>", to);

			put_field(&m, "To", v);
			free(v);
		}
		free(to);
	}
	put_field(&m, "Subject", all_delayed ? "Delayed Mail (still being retried)" :
		  "Undelivered Mail Returned to Sender");
	format_date(in->now, date);
	put_field(&m, "Date", date);
	buf_printf(&m, "Message-ID: <%s.dsn@%s>\r\n", seed, host);
	put_field(&m, "Auto-Submitted", "auto-replied");
	put_field(&m, "MIME-Version", "1.0");
	buf_printf(&m, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
		   "\tboundary=\"%s\"\r\n", boundary);
	buf_printf(&m, "Content-Transfer-Encoding: %s\r\n", eight_text || eight_hdr ? "8bit" :
		   "7bit");
	buf_append_str(&m, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

	buf_printf(&m, "%s\r\nContent-Description: Notification\r\n"
		   "Content-Type: text/plain; charset=%s\r\n", delim,
		   eight_text ? "utf-8" : "us-ascii");
	if (eight_text)
		buf_append_str(&m, "Content-Transfer-Encoding: 8bit\r\n");
	buf_append_str(&m, "\r\n");
	buf_append(&m, p1.data, p1.len);

	buf_printf(&m, "\r\n%s\r\nContent-Description: Delivery report\r\n"
		   "Content-Type: message/delivery-status\r\n\r\n", delim);
	buf_append(&m, p2.data, p2.len);

	if (p3.len > 0) {
		buf_printf(&m, "\r\n%s\r\nContent-Description: Undelivered Message Headers\r\n"
			   "Content-Type: %s\r\n", delim,
			   eight_hdr ? "message/global-headers" : "text/rfc822-headers");
		if (eight_hdr)
			buf_append_str(&m, "Content-Transfer-Encoding: 8bit\r\n");
		buf_append_str(&m, "\r\n");
		buf_append(&m, p3.data, p3.len);
	}
	buf_printf(&m, "\r\n%s--\r\n", delim);
	/* One append: out gets the whole DSN or, at its bound, nothing. */
	ok = buf_append(out, m.data, m.len);
	buf_free(&m);

	buf_free(&p1);
	buf_free(&p2);
	buf_free(&p3);
	free(host);
	return ok;
}
