/* smtp_reply.c — resumable SMTP reply parser; the contract is smtp_reply.h.
 *
 * A line is accumulated whole (to its LF) before it is looked at, so each
 * decision is taken on complete data and the result never depends on how
 * the input was split. Each line's text is copied, NUL-terminated, into one
 * store; the table of line pointers is built only when the reply is
 * complete, because the store may move while it grows.
 *
 * SECURITY: the server is not trusted. Every byte is counted against
 * max_bytes before it is stored, lines against max_lines; a CR that does
 * not end a line and a NUL are refused so that reply text (which ends up in
 * logs and in DSNs sent to senders) cannot carry line breaks.
 */
#include "smtp_reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"

struct smtp_reply_parser {
	struct smtp_reply_limits lim;
	struct buf line;       /* the current line, without its LF */
	struct buf store;      /* texts of the lines so far, each with a NUL */
	size_t *offsets;       /* of each line's text in store */
	const char **ptrs;     /* built when the reply is complete */
	size_t nlines;
	size_t wire;           /* bytes of this reply received so far */
	unsigned code;
	bool returned;         /* the last feed returned DONE */
	bool dead;
	struct smtp_reply reply;
	char error[160];
};

struct smtp_reply_parser *smtp_reply_parser_new(const struct smtp_reply_limits *limits)
{
	struct smtp_reply_parser *p = xcalloc(1, sizeof *p);

	if (limits != NULL)
		p->lim = *limits;
	if (p->lim.max_bytes == 0)
		p->lim.max_bytes = 64 * 1024;
	if (p->lim.max_lines == 0)
		p->lim.max_lines = 100;
	/* Bounded by max_bytes already; the buffers' own bound is a backstop. */
	buf_init(&p->line, p->lim.max_bytes + 1);
	buf_init(&p->store, p->lim.max_bytes + p->lim.max_lines + 1);
	p->offsets = xreallocarray(NULL, p->lim.max_lines, sizeof *p->offsets);
	p->ptrs = xreallocarray(NULL, p->lim.max_lines, sizeof *p->ptrs);
	return p;
}

void smtp_reply_parser_free(struct smtp_reply_parser **pp)
{
	struct smtp_reply_parser *p = *pp;

	if (p == NULL)
		return;
	buf_free(&p->line);
	buf_free(&p->store);
	free(p->offsets);
	free(p->ptrs);
	free(p);
	*pp = NULL;
}

static enum smtp_reply_result die(struct smtp_reply_parser *p, const char *what)
{
	snprintf(p->error, sizeof p->error, "the server's reply %s", what);
	p->dead = true;
	return SMTP_REPLY_ERROR;
}

static bool digits(const char *s, size_t n, unsigned *v)
{
	*v = 0;
	if (n == 0 || n > 3)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

/* "class.subject.detail" at the start of the first line's text. */
static void parse_enhanced(struct smtp_reply *r, const char *t)
{
	const char *d1 = strchr(t, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	unsigned c, s, d;

	r->text = t;
	if (d2 == NULL)
		return;
	size_t n3 = strspn(d2 + 1, "0123456789");
	const char *end = d2 + 1 + n3;
	if (*end != '\0' && *end != ' ')
		return;
	if (!digits(t, (size_t)(d1 - t), &c) || d1 - t != 1 ||
	    !digits(d1 + 1, (size_t)(d2 - d1 - 1), &s) || !digits(d2 + 1, n3, &d))
		return;
	if (c != r->code / 100)
		return;
	r->has_enhanced = true;
	r->enh_class = c;
	r->enh_subject = s;
	r->enh_detail = d;
	snprintf(r->enhanced, sizeof r->enhanced, "%u.%u.%u", c, s, d);
	while (*end == ' ')
		end++;
	r->text = end;
}

/* One complete line (without LF) in p->line. */
static enum smtp_reply_result take_line(struct smtp_reply_parser *p, bool *last)
{
	char *l = p->line.data;
	size_t n = p->line.len;
	unsigned code;

	if (n > 0 && l[n - 1] == '\r')
		n--;
	if (memchr(l, '\0', n) != NULL)
		return die(p, "contains a NUL byte");
	if (memchr(l, '\r', n) != NULL)
		return die(p, "contains a CR that does not end a line");
	if (n < 3 || !digits(l, 3, &code) || l[0] < '2' || l[0] > '5' || l[1] > '5')
		return die(p, "line does not start with a reply code (2xx to 5xx)");
	if (n > 3 && l[3] != ' ' && l[3] != '-')
		return die(p, "code is not followed by a space or a hyphen");
	if (p->nlines > 0 && code != p->code)
		return die(p, "changes its reply code between lines");
	if (p->nlines == p->lim.max_lines)
		return die(p, "has too many lines");
	p->code = code;
	p->offsets[p->nlines++] = p->store.len;
	size_t tlen = n > 4 ? n - 4 : 0;
	if (!buf_append(&p->store, l + (tlen > 0 ? 4 : 0), tlen) ||
	    !buf_append_char(&p->store, '\0'))
		return die(p, "is too long");
	*last = !(n > 3 && l[3] == '-');
	buf_reset(&p->line);
	return SMTP_REPLY_NEED_MORE;
}

enum smtp_reply_result smtp_reply_feed(struct smtp_reply_parser *p, const char *in, size_t len,
				       size_t *used_r)
{
	size_t pos = 0;

	*used_r = 0;
	if (p->dead)
		return SMTP_REPLY_ERROR;
	if (p->returned) {
		p->returned = false;
		buf_reset(&p->store);
		p->nlines = 0;
		p->wire = 0;
		memset(&p->reply, 0, sizeof p->reply);
	}
	while (pos < len) {
		const char *lf = memchr(in + pos, '\n', len - pos);
		size_t n = lf != NULL ? (size_t)(lf - (in + pos)) + 1 : len - pos;
		bool last = false;

		if (n > p->lim.max_bytes - p->wire)
			return die(p, "is longer than the limit");
		p->wire += n;
		if (!buf_append(&p->line, in + pos, lf != NULL ? n - 1 : n))
			return die(p, "is longer than the limit");
		pos += n;
		if (lf == NULL)
			break;
		if (take_line(p, &last) == SMTP_REPLY_ERROR)
			return SMTP_REPLY_ERROR;
		if (!last)
			continue;
		for (size_t i = 0; i < p->nlines; i++)
			p->ptrs[i] = p->store.data + p->offsets[i];
		p->reply.code = p->code;
		p->reply.lines = p->ptrs;
		p->reply.line_count = p->nlines;
		p->reply.enhanced[0] = '\0';
		parse_enhanced(&p->reply, p->ptrs[0]);
		p->returned = true;
		*used_r = pos;
		return SMTP_REPLY_DONE;
	}
	*used_r = pos;
	return SMTP_REPLY_NEED_MORE;
}

const struct smtp_reply *smtp_reply_get(const struct smtp_reply_parser *p)
{
	return p->returned ? &p->reply : NULL;
}

const char *smtp_reply_error(const struct smtp_reply_parser *p)
{
	return p->dead ? p->error : NULL;
}

static bool word_is(const char *s, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(s, kw, n) == 0;
}

bool smtp_reply_ehlo(const struct smtp_reply *r, struct smtp_ehlo *out)
{
	memset(out, 0, sizeof *out);
	if (r == NULL || r->code != 250)
		return false;
	for (size_t i = 1; i < r->line_count; i++) {
		const char *s = r->lines[i];
		size_t kn = strcspn(s, " ");
		const char *arg = s + kn;

		while (*arg == ' ')
			arg++;
		if (word_is(s, kn, "PIPELINING")) {
			out->pipelining = true;
		} else if (word_is(s, kn, "STARTTLS")) {
			out->starttls = true;
		} else if (word_is(s, kn, "8BITMIME")) {
			out->eightbitmime = true;
		} else if (word_is(s, kn, "SMTPUTF8")) {
			out->smtputf8 = true;
		} else if (word_is(s, kn, "ENHANCEDSTATUSCODES")) {
			out->enhancedstatuscodes = true;
		} else if (word_is(s, kn, "SIZE")) {
			uint64_t v = 0;
			size_t an = strcspn(arg, " ");
			bool ok = an > 0 && an <= 20;
			for (size_t k = 0; ok && k < an; k++) {
				unsigned dg = (unsigned)(arg[k] - '0');
				if (dg > 9 || v > (UINT64_MAX - dg) / 10)
					ok = false;
				else
					v = v * 10 + dg;
			}
			out->size = true;
			out->size_max = ok ? v : 0;
		}
	}
	return true;
}
