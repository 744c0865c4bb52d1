/* imap_parser.c — resumable parser of IMAP server responses; the contract
 * is imap_parser.h.
 *
 * How it works. A response is read as "segments": the bytes up to and
 * including a LF. A segment is accumulated whole (bounded by
 * max_response_bytes) before it is looked at, so every decision about a
 * segment is taken on complete data: the result never depends on how the
 * input was chunked. A segment that ends in a literal announcement ({N},
 * {N+}, ~{N}) is followed by the literal's bytes and then by the next
 * segment of the same logical line; the stack of open lists survives from
 * one segment to the next. A literal is either copied into the response
 * (inline) or, when it is a large enough FETCH body item, handed to the
 * caller as it arrives (streamed) and never stored.
 *
 * Memory. Strings and finished lists live in an arena that is emptied when
 * the next response starts, so pointers handed out stay valid until the
 * next imap_parser_feed(). Items of lists still open sit on one stack and
 * are copied to the arena when their list closes. The budget
 * max_response_bytes counts every byte of the response that is not
 * streamed (segments with their line ends, inline literals) plus ARG_COST
 * for each item, so the memory held for one response is bounded by a small
 * multiple of max_response_bytes whatever the server sends: a little over
 * once for ordinary responses, below 20 times in the worst case (items of
 * 1.5 wire bytes each, like a""a"", whose 48-byte structs sit on the stack
 * and then in the arena).
 *
 * SECURITY: every byte comes from a server we do not control. Nothing is
 * allocated before it is counted against the budget, literal sizes are
 * checked for overflow and against max_literal_size, nesting is bounded by
 * max_depth, and a parser that saw an error stays dead (a client that
 * skipped bytes could take literal data for commands' responses).
 */
#include "imap_parser.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/buf.h"

#define DEFAULT_MAX_RESPONSE ((size_t)1 << 20)
#define DEFAULT_MAX_DEPTH 32u
#define DEFAULT_MAX_LITERAL ((uint64_t)8 << 30)
/* Our client makes the tags; a longer one is not an echo of ours. */
#define MAX_TAG_LEN 64
/* Budget charged per item, on top of its bytes on the wire: without it a
 * line of one-character atoms would cost 48 bytes of struct per 2 bytes
 * of budget. 8 keeps a big UID SEARCH answer within the default. */
#define ARG_COST 8
#define ARENA_BLOCK 4096
/* Buffers that grew past this for one big response are released after it,
 * so an idle connection does not keep its peak. */
#define KEEP_MAX (64 * 1024)
#define EXCERPT_MAX 32

struct arena_block {
	struct arena_block *next;
	size_t used;
	size_t cap;
	unsigned char data[];
};

enum pstate {
	ST_LINE,       /* accumulating a segment */
	ST_LIT_INLINE, /* copying a literal into the response */
	ST_LIT_STREAM, /* handing a literal over as LITERAL_DATA */
	ST_LIT_END,    /* a streamed literal is complete; LITERAL_END is next */
	ST_DEAD,
};

/* What finishing a segment leads to. */
enum seg_result {
	SEG_ERROR,
	SEG_RESPONSE,
	SEG_STREAM,  /* LITERAL_BEGIN */
	SEG_INLINE,  /* read an inline literal, then the next segment */
};

struct imap_parser {
	struct imap_parser_limits lim;
	enum pstate state;
	enum imap_parse_result last;  /* event of the previous feed */

	struct buf line;              /* current segment */
	size_t spent;                 /* budget used by this response so far */
	bool started;                 /* first segment of the response parsed */

	struct imap_response resp;
	struct arena_block *arena;

	struct imap_arg *stack;       /* items of the open lists, top level first */
	size_t stack_n, stack_cap;
	size_t *opens;                /* stack index where each open list starts */
	size_t depth, opens_cap;

	/* Bit i set: the '[' at segment offset i has no matching ']'. Known
	 * up front so that a line of many unmatched '[' costs one pass, not
	 * one pass per '['. */
	unsigned char *unmatched;
	size_t unmatched_cap;

	size_t uid_scan;              /* next FETCH list item to look at for "UID n" */
	uint32_t uid_seen;

	unsigned char *lit_dst;       /* inline literal: where the next bytes go */
	uint64_t lit_left;            /* bytes of the current literal still to come */
	struct imap_literal_info lit;
	bool lit_valid;

	char err[256];
};

/* ---- arena ---------------------------------------------------------- */

static void *arena_alloc(struct imap_parser *p, size_t n, size_t align)
{
	struct arena_block *b = p->arena;
	size_t pad;

	if (b != NULL) {
		pad = (size_t)(-(uintptr_t)(b->data + b->used) & (align - 1));
		if (pad <= b->cap - b->used && n <= b->cap - b->used - pad) {
			void *r = b->data + b->used + pad;
			b->used += pad + n;
			return r;
		}
	}
	size_t cap = n + align > ARENA_BLOCK ? n + align : ARENA_BLOCK;
	b = xmalloc(sizeof *b + cap);
	b->cap = cap;
	b->used = 0;
	b->next = p->arena;
	p->arena = b;
	pad = (size_t)(-(uintptr_t)b->data & (align - 1));
	b->used = pad + n;
	return b->data + pad;
}

/* Keep one ordinary block so that small responses allocate nothing. */
static void arena_reset(struct imap_parser *p)
{
	struct arena_block *keep = NULL, *b = p->arena;

	while (b != NULL) {
		struct arena_block *next = b->next;
		if (keep == NULL && b->cap == ARENA_BLOCK) {
			keep = b;
			keep->used = 0;
			keep->next = NULL;
		} else {
			free(b);
		}
		b = next;
	}
	p->arena = keep;
}

static void arena_free(struct imap_parser *p)
{
	struct arena_block *b = p->arena;

	while (b != NULL) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
	p->arena = NULL;
}

static char *arena_strndup(struct imap_parser *p, const char *s, size_t n)
{
	char *d = arena_alloc(p, n + 1, 1);
	if (n > 0)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* ---- small helpers -------------------------------------------------- */

static unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool mem_ieq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);

	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return false;
	return true;
}

static bool mem_iprefix(const char *a, size_t alen, const char *prefix)
{
	size_t n = strlen(prefix);
	return alen >= n && mem_ieq(a, n, prefix);
}

/* A short, printable rendering of untrusted bytes for error messages. */
static void excerpt(char *out, size_t outsz, const char *s, size_t n)
{
	size_t o = 0;
	size_t lim = n > EXCERPT_MAX ? EXCERPT_MAX : n;

	for (size_t i = 0; i < lim && o + 5 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	if (n > lim && o + 4 < outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static enum seg_result fail(struct imap_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static enum seg_result fail(struct imap_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof p->err, fmt, ap);
	va_end(ap);
	p->state = ST_DEAD;
	return SEG_ERROR;
}

static bool charge(struct imap_parser *p, size_t n)
{
	if (n > p->lim.max_response_bytes - p->spent)
		return false;
	p->spent += n;
	return true;
}

static bool push_arg(struct imap_parser *p, const struct imap_arg *a)
{
	if (!charge(p, ARG_COST)) {
		fail(p, "IMAP response exceeds %zu bytes (too many items in it)",
		     p->lim.max_response_bytes);
		return false;
	}
	if (p->stack_n == p->stack_cap) {
		p->stack_cap = p->stack_cap ? p->stack_cap * 2 : 32;
		p->stack = xreallocarray(p->stack, p->stack_cap, sizeof *p->stack);
	}
	p->stack[p->stack_n++] = *a;
	return true;
}

/* Move the items stack[from..] into the arena. */
static const struct imap_arg *pop_items(struct imap_parser *p, size_t from, size_t *count_r)
{
	size_t n = p->stack_n - from;
	struct imap_arg *v = NULL;

	if (n > 0) {
		v = arena_alloc(p, n * sizeof *v, _Alignof(struct imap_arg));
		memcpy(v, p->stack + from, n * sizeof *v);
	}
	p->stack_n = from;
	*count_r = n;
	return v;
}

static bool is_body_item(const char *s, size_t n)
{
	return mem_iprefix(s, n, "BODY[") || mem_iprefix(s, n, "BINARY[") ||
	       mem_ieq(s, n, "RFC822") || mem_ieq(s, n, "RFC822.TEXT") ||
	       mem_ieq(s, n, "RFC822.HEADER");
}

/* Digits only, at most max. */
static bool atom_number(const struct imap_arg *a, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (a->type != IMAP_ARG_ATOM || a->len == 0)
		return false;
	for (uint64_t i = 0; i < a->len; i++) {
		unsigned char c = (unsigned char)a->str[i];
		if (c < '0' || c > '9')
			return false;
		unsigned d = c - '0';
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* Marks the '[' that no ']' closes, in one backward pass: a '[' is closed
 * when some ']' after it is not taken by a '[' in between. */
static void find_unmatched(struct imap_parser *p, const char *s, size_t end)
{
	size_t need = end / 8 + 1, closers = 0;

	if (need > p->unmatched_cap) {
		free(p->unmatched);
		p->unmatched = xmalloc(need);
		p->unmatched_cap = need;
	}
	memset(p->unmatched, 0, need);
	for (size_t i = end; i-- > 0;) {
		if (s[i] == ']')
			closers++;
		else if (s[i] == '[' && closers > 0)
			closers--;
		else if (s[i] == '[')
			p->unmatched[i / 8] |= (unsigned char)(1u << (i % 8));
	}
}

/* Index of the ']' that closes the '[' at s[at], or SIZE_MAX. The segment
 * went through find_unmatched(). */
static size_t match_bracket(const struct imap_parser *p, const char *s, size_t at, size_t end)
{
	size_t depth = 0;

	if (p->unmatched[at / 8] & (1u << (at % 8)))
		return SIZE_MAX;
	for (size_t i = at; i < end; i++) {
		if (s[i] == '[') {
			depth++;
		} else if (s[i] == ']') {
			if (--depth == 0)
				return i;
		}
	}
	return SIZE_MAX;
}

/* ---- status responses and continuations ----------------------------- */

static enum imap_status status_word(const char *s, size_t n)
{
	if (mem_ieq(s, n, "OK"))
		return IMAP_STATUS_OK;
	if (mem_ieq(s, n, "NO"))
		return IMAP_STATUS_NO;
	if (mem_ieq(s, n, "BAD"))
		return IMAP_STATUS_BAD;
	if (mem_ieq(s, n, "PREAUTH"))
		return IMAP_STATUS_PREAUTH;
	if (mem_ieq(s, n, "BYE"))
		return IMAP_STATUS_BYE;
	return IMAP_STATUS_NONE;
}

/* s[pos] is just after the status word: "[ SP ['[' code ']'] [SP] text". A
 * '[' without its ']' is taken as text: the line is whole, so a sloppy
 * code cannot desynchronise anything. */
static void status_rest(struct imap_parser *p, const char *s, size_t pos, size_t end)
{
	if (pos < end && s[pos] == ' ')
		pos++;
	p->resp.code = NULL;
	if (pos < end && s[pos] == '[') {
		size_t m = match_bracket(p, s, pos, end);
		if (m != SIZE_MAX) {
			p->resp.code = arena_strndup(p, s + pos + 1, m - pos - 1);
			pos = m + 1;
			if (pos < end && s[pos] == ' ')
				pos++;
		}
	}
	p->resp.text = arena_strndup(p, s + pos, end - pos);
}

/* ---- data ----------------------------------------------------------- */

static void fill_literal_info(struct imap_parser *p, uint64_t size, const char *section,
			      bool lit8)
{
	uint64_t v;

	p->lit.size = size;
	p->lit.section = section;
	p->lit.literal8 = lit8;
	p->lit.fetch_seq = 0;
	p->lit.fetch_uid = 0;
	/* "* N FETCH (" : the FETCH list is the third top-level item. */
	if (p->depth == 0 || p->opens[0] != 2 || !atom_number(&p->stack[0], UINT32_MAX, &v) ||
	    p->stack[1].type != IMAP_ARG_ATOM || !imap_arg_is(&p->stack[1], "FETCH"))
		return;
	p->lit.fetch_seq = (uint32_t)v;
	/* The FETCH list only grows (a nested list becomes one item when it
	 * closes), so its pairs are looked at once each, however many
	 * literals the response holds. */
	size_t to = p->depth > 1 ? p->opens[1] : p->stack_n;
	if (p->uid_scan < p->opens[0])
		p->uid_scan = p->opens[0];
	for (; p->uid_scan + 1 < to; p->uid_scan += 2) {
		const struct imap_arg *k = &p->stack[p->uid_scan];
		if (k->type == IMAP_ARG_ATOM && imap_arg_is(k, "UID") &&
		    atom_number(k + 1, UINT32_MAX, &v))
			p->uid_seen = (uint32_t)v;
	}
	p->lit.fetch_uid = p->uid_seen;
}

/* s[pos] is just after '{'; the announcement must end the segment. */
static enum seg_result literal(struct imap_parser *p, const char *s, size_t pos, size_t end,
			       bool lit8)
{
	uint64_t n = 0;
	size_t digits = 0;

	while (pos < end && s[pos] >= '0' && s[pos] <= '9') {
		unsigned d = (unsigned)(s[pos] - '0');
		if (n > (UINT64_MAX - d) / 10)
			return fail(p, "literal size in IMAP response overflows 64 bits");
		n = n * 10 + d;
		pos++;
		digits++;
	}
	if (pos < end && s[pos] == '+')
		pos++;
	if (digits == 0 || pos >= end || s[pos] != '}')
		return fail(p, "bad literal size in IMAP response");
	if (pos + 1 != end)
		return fail(p, "IMAP literal size is not at the end of its line");
	if (n > p->lim.max_literal_size)
		return fail(p, "IMAP literal of %" PRIu64 " bytes exceeds the limit of %" PRIu64
			    " bytes", n, p->lim.max_literal_size);

	size_t list_start = p->depth > 0 ? p->opens[p->depth - 1] : 0;
	const struct imap_arg *prev = p->stack_n > list_start ? &p->stack[p->stack_n - 1] : NULL;
	struct imap_arg a = { .literal = true };

	if (prev != NULL && prev->type == IMAP_ARG_ATOM && is_body_item(prev->str, prev->len) &&
	    n >= p->lim.stream_literal_min) {
		/* The atom lives in the arena: the pointer survives the push. */
		const char *section = prev->str;
		a.type = IMAP_ARG_LITERAL_STREAMED;
		a.len = n;
		if (!push_arg(p, &a))
			return SEG_ERROR;
		fill_literal_info(p, n, section, lit8);
		p->lit_valid = true;
		p->lit_left = n;
		p->state = n > 0 ? ST_LIT_STREAM : ST_LIT_END;
		return SEG_STREAM;
	}

	if (n > p->lim.max_response_bytes - p->spent)
		return fail(p, "IMAP response exceeds %zu bytes with a literal of %" PRIu64
			    " bytes", p->lim.max_response_bytes, n);
	p->spent += (size_t)n;
	unsigned char *dst = arena_alloc(p, (size_t)n + 1, 1);
	dst[n] = '\0';
	a.type = IMAP_ARG_STRING;
	a.str = (const char *)dst;
	a.len = n;
	if (!push_arg(p, &a))
		return SEG_ERROR;
	p->lit_dst = dst;
	p->lit_left = n;
	p->state = ST_LIT_INLINE;
	return SEG_INLINE;
}

static bool quoted(struct imap_parser *p, const char *s, size_t *posp, size_t end)
{
	size_t i = *posp + 1, n = 0;

	while (i < end && s[i] != '"') {
		if (s[i] == '\\' && ++i == end)
			break;
		n++;
		i++;
	}
	if (i >= end) {
		fail(p, "unterminated quoted string in IMAP response");
		return false;
	}
	char *d = arena_alloc(p, n + 1, 1);
	size_t o = 0;
	for (size_t j = *posp + 1; j < i; j++) {
		if (s[j] == '\\')
			j++;
		d[o++] = s[j];
	}
	d[o] = '\0';
	*posp = i + 1;
	struct imap_arg a = { .type = IMAP_ARG_STRING, .str = d, .len = n };
	return push_arg(p, &a);
}

static bool atom(struct imap_parser *p, const char *s, size_t *posp, size_t end)
{
	size_t start = *posp, pos = *posp;

	while (pos < end) {
		char c = s[pos];
		if (c == ' ' || c == '(' || c == ')' || c == '{' || c == '"')
			break;
		if (c == '[') {
			size_t m = match_bracket(p, s, pos, end);
			if (m != SIZE_MAX) {
				pos = m + 1;
				continue;
			}
		}
		pos++;
	}
	*posp = pos;
	struct imap_arg a = { .type = IMAP_ARG_ATOM };
	if (mem_ieq(s + start, pos - start, "NIL")) {
		a.type = IMAP_ARG_NIL;
	} else {
		a.str = arena_strndup(p, s + start, pos - start);
		a.len = pos - start;
	}
	return push_arg(p, &a);
}

static bool open_list(struct imap_parser *p)
{
	if (p->depth >= p->lim.max_depth) {
		fail(p, "IMAP response nests lists deeper than %u levels", p->lim.max_depth);
		return false;
	}
	if (p->depth == p->opens_cap) {
		p->opens_cap = p->opens_cap ? p->opens_cap * 2 : 8;
		p->opens = xreallocarray(p->opens, p->opens_cap, sizeof *p->opens);
	}
	p->opens[p->depth++] = p->stack_n;
	return true;
}

static bool close_list(struct imap_parser *p)
{
	struct imap_arg a = { .type = IMAP_ARG_LIST };

	if (p->depth == 0) {
		fail(p, "unbalanced ')' in IMAP response");
		return false;
	}
	a.list = pop_items(p, p->opens[--p->depth], &a.list_count);
	return push_arg(p, &a);
}

/* Items of an untagged data response, from s[pos] to the end of the
 * segment (which holds no CR, LF or NUL). */
static enum seg_result tokenize(struct imap_parser *p, const char *s, size_t pos, size_t end)
{
	bool ok = true;

	while (ok && pos < end) {
		switch (s[pos]) {
		case ' ':
			pos++;
			break;
		case '(':
			ok = open_list(p);
			pos++;
			break;
		case ')':
			ok = close_list(p);
			pos++;
			break;
		case '"':
			ok = quoted(p, s, &pos, end);
			break;
		case '{':
			return literal(p, s, pos + 1, end, false);
		case '~':
			if (pos + 1 < end && s[pos + 1] == '{')
				return literal(p, s, pos + 2, end, true);
			ok = atom(p, s, &pos, end);
			break;
		default:
			ok = atom(p, s, &pos, end);
			break;
		}
	}
	if (!ok)
		return SEG_ERROR;
	if (p->depth > 0)
		return fail(p, "unbalanced '(' in IMAP response (a list is still open at the end "
			    "of the line)");
	p->resp.args = pop_items(p, 0, &p->resp.arg_count);
	return SEG_RESPONSE;
}

/* The first segment: tag or '*' or '+', and for status responses the rest. */
static enum seg_result response_start(struct imap_parser *p, const char *s, size_t end)
{
	char ex[EXCERPT_MAX * 4 + 8];
	size_t pos, wend;

	if (end == 0)
		return fail(p, "empty line in IMAP response");
	if (s[0] == '+') {
		if (end > 1 && s[1] != ' ')
			return fail(p, "IMAP continuation '+' is not followed by a space");
		p->resp.kind = IMAP_RESP_CONTINUATION;
		p->resp.text = end > 2 ? arena_strndup(p, s + 2, end - 2) : arena_strndup(p, "", 0);
		return SEG_RESPONSE;
	}
	if (s[0] == '*') {
		if (end < 2 || s[1] != ' ')
			return fail(p, "IMAP untagged response has no space after '*'");
		for (pos = 2; pos < end && s[pos] == ' '; pos++)
			;
		if (pos == end)
			return fail(p, "empty untagged IMAP response");
		p->resp.kind = IMAP_RESP_UNTAGGED;
		for (wend = pos; wend < end && s[wend] != ' '; wend++)
			;
		p->resp.status = status_word(s + pos, wend - pos);
		if (p->resp.status != IMAP_STATUS_NONE) {
			status_rest(p, s, wend, end);
			return SEG_RESPONSE;
		}
		p->started = true;
		return tokenize(p, s, pos, end);
	}

	size_t tend = 0;
	while (tend < end && s[tend] != ' ')
		tend++;
	bool tag_ok = tend > 0 && tend <= MAX_TAG_LEN;
	for (size_t i = 0; tag_ok && i < tend; i++) {
		unsigned char c = (unsigned char)s[i];
		tag_ok = c > 0x20 && c < 0x7f && !strchr("(){%*\"\\+", c);
	}
	if (!tag_ok) {
		excerpt(ex, sizeof ex, s, tend);
		return fail(p, "IMAP response starts with an invalid tag \"%s\"", ex);
	}
	p->resp.kind = IMAP_RESP_TAGGED;
	p->resp.tag = arena_strndup(p, s, tend);
	pos = tend < end ? tend + 1 : end;
	for (wend = pos; wend < end && s[wend] != ' '; wend++)
		;
	p->resp.status = status_word(s + pos, wend - pos);
	if (p->resp.status != IMAP_STATUS_OK && p->resp.status != IMAP_STATUS_NO &&
	    p->resp.status != IMAP_STATUS_BAD) {
		excerpt(ex, sizeof ex, s + pos, wend - pos);
		return fail(p, "tagged IMAP response has status \"%s\" instead of OK, NO or BAD",
			    ex);
	}
	status_rest(p, s, wend, end);
	return SEG_RESPONSE;
}

static enum seg_result segment_done(struct imap_parser *p)
{
	const char *s = p->line.data;
	size_t end = p->line.len - 1;  /* the segment ends in LF */

	p->spent += p->line.len;
	if (end > 0 && s[end - 1] == '\r')
		end--;
	if (memchr(s, '\0', end) != NULL)
		return fail(p, "NUL byte in IMAP response line");
	if (memchr(s, '\r', end) != NULL)
		return fail(p, "carriage return without line feed in IMAP response");
	if (memchr(s, '[', end) != NULL)
		find_unmatched(p, s, end);
	if (!p->started)
		return response_start(p, s, end);
	return tokenize(p, s, 0, end);
}

/* ---- feeding -------------------------------------------------------- */

static void response_reset(struct imap_parser *p)
{
	arena_reset(p);
	memset(&p->resp, 0, sizeof p->resp);
	p->spent = 0;
	p->started = false;
	p->stack_n = 0;
	p->depth = 0;
	p->uid_scan = 0;
	p->uid_seen = 0;
	if (p->unmatched_cap > KEEP_MAX / 8) {
		free(p->unmatched);
		p->unmatched = NULL;
		p->unmatched_cap = 0;
	}
	if (p->stack_cap * sizeof *p->stack > KEEP_MAX) {
		free(p->stack);
		p->stack = NULL;
		p->stack_cap = 0;
	}
	if (p->line.cap > KEEP_MAX)
		buf_free(&p->line);
}

static enum imap_parse_result step(struct imap_parser *p, const unsigned char *in, size_t len,
				   size_t *off)
{
	for (;;) {
		switch (p->state) {
		case ST_DEAD:
			return IMAP_PARSE_ERROR;
		case ST_LIT_END:
			p->state = ST_LINE;
			return IMAP_PARSE_LITERAL_END;
		case ST_LIT_STREAM: {
			/* Always entered at *off == 0: LITERAL_BEGIN ended the
			 * previous feed, so the data is a prefix of `in`. */
			if (*off == len)
				return IMAP_PARSE_NEED_MORE;
			size_t n = len - *off;
			if (n > p->lit_left)
				n = (size_t)p->lit_left;
			*off += n;
			p->lit_left -= n;
			if (p->lit_left == 0)
				p->state = ST_LIT_END;
			return IMAP_PARSE_LITERAL_DATA;
		}
		case ST_LIT_INLINE: {
			size_t n = len - *off;
			if (n > p->lit_left)
				n = (size_t)p->lit_left;
			if (n > 0) {
				memcpy(p->lit_dst, in + *off, n);
				p->lit_dst += n;
				p->lit_left -= n;
				*off += n;
			}
			if (p->lit_left > 0)
				return IMAP_PARSE_NEED_MORE;
			p->state = ST_LINE;
			break;
		}
		case ST_LINE: {
			if (*off == len)
				return IMAP_PARSE_NEED_MORE;
			const unsigned char *lf = memchr(in + *off, '\n', len - *off);
			size_t n = lf != NULL ? (size_t)(lf - (in + *off)) + 1 : len - *off;
			if (n > p->lim.max_response_bytes - p->spent - p->line.len) {
				fail(p, "IMAP response exceeds %zu bytes (server sent a line without "
				     "end?)", p->lim.max_response_bytes);
				return IMAP_PARSE_ERROR;
			}
			buf_append(&p->line, in + *off, n);
			*off += n;
			if (lf == NULL)
				return IMAP_PARSE_NEED_MORE;
			enum seg_result r = segment_done(p);
			buf_reset(&p->line);
			switch (r) {
			case SEG_ERROR:
				return IMAP_PARSE_ERROR;
			case SEG_RESPONSE:
				return IMAP_PARSE_RESPONSE;
			case SEG_STREAM:
				return IMAP_PARSE_LITERAL_BEGIN;
			case SEG_INLINE:
				break;
			}
			break;
		}
		}
	}
}

enum imap_parse_result imap_parser_feed(struct imap_parser *p, const unsigned char *in,
					size_t len, size_t *used_r)
{
	size_t off = 0;

	if (p->last == IMAP_PARSE_RESPONSE)
		response_reset(p);
	else if (p->last == IMAP_PARSE_LITERAL_END)
		p->lit_valid = false;
	enum imap_parse_result r = step(p, in, len, &off);
	p->last = r;
	*used_r = off;
	return r;
}

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof *p);

	if (limits != NULL)
		p->lim = *limits;
	if (p->lim.max_response_bytes == 0)
		p->lim.max_response_bytes = DEFAULT_MAX_RESPONSE;
	/* Sizes derived from the budget (a literal plus its NUL and
	 * alignment) must not wrap. */
	if (p->lim.max_response_bytes > SIZE_MAX / 4)
		p->lim.max_response_bytes = SIZE_MAX / 4;
	if (p->lim.max_depth == 0)
		p->lim.max_depth = DEFAULT_MAX_DEPTH;
	if (p->lim.max_literal_size == 0)
		p->lim.max_literal_size = DEFAULT_MAX_LITERAL;
	/* The budget is checked by hand, against the whole response. */
	buf_init(&p->line, 0);
	p->state = ST_LINE;
	p->last = IMAP_PARSE_NEED_MORE;
	return p;
}

void imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p;

	if (pp == NULL || *pp == NULL)
		return;
	p = *pp;
	arena_free(p);
	buf_free(&p->line);
	free(p->stack);
	free(p->opens);
	free(p->unmatched);
	free(p);
	*pp = NULL;
}

const struct imap_response *imap_parser_response(const struct imap_parser *p)
{
	return p->last == IMAP_PARSE_RESPONSE ? &p->resp : NULL;
}

const struct imap_literal_info *imap_parser_literal(const struct imap_parser *p)
{
	return p->lit_valid ? &p->lit : NULL;
}

const char *imap_parser_error(const struct imap_parser *p)
{
	return p->state == ST_DEAD ? p->err : "";
}

bool imap_arg_is(const struct imap_arg *arg, const char *s)
{
	if (arg == NULL || (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_STRING))
		return false;
	if (arg->len != strlen(s))
		return false;
	return mem_ieq(arg->str, (size_t)arg->len, s);
}

bool imap_arg_number(const struct imap_arg *arg, uint64_t *out)
{
	return arg != NULL && atom_number(arg, INT64_MAX, out);
}

const char *imap_arg_str(const struct imap_arg *arg)
{
	if (arg == NULL || (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_STRING))
		return NULL;
	return arg->str;
}
