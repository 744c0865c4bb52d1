/* fuzz_imap_parser.c — libFuzzer target for the IMAP response parser.
 *
 * Input layout: byte 0 picks the limits, bytes 1..4 drive the chunking,
 * the rest is what the "server" sends. The input is parsed twice, once
 * whole and once in chunks whose sizes come from bytes 1..4, and each run
 * is folded into a hash of everything observable (events, every byte of
 * every response tree, literal descriptions, streamed data, the error).
 * The two hashes must agree: chunking must never change the result.
 * Besides what ASan/UBSan catch, it checks the contract of every event:
 * used <= len, NEED_MORE consumes all, LITERAL_DATA consumes at least one
 * byte and no more than the literal has left, LITERAL_END consumes
 * nothing and comes exactly when the announced size has been streamed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/imap_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

struct run {
	uint64_t h;           /* hash of all that was observed */
	uint64_t streamed;    /* bytes delivered as LITERAL_DATA */
	uint64_t announced;   /* sum of the sizes of finished streamed literals */
	uint64_t lit_left;
	bool in_lit;
	unsigned max_depth;
};

static void mix(struct run *r, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++) {
		r->h ^= c[i];
		r->h *= 0x100000001b3ULL;
	}
}

static void mix_u64(struct run *r, uint64_t v)
{
	mix(r, &v, sizeof v);
}

static void walk(struct run *r, const struct imap_arg *a, unsigned depth)
{
	uint64_t num;

	CHECK(depth <= r->max_depth + 1);
	mix_u64(r, (uint64_t)a->type);
	mix_u64(r, a->literal);
	switch (a->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_STRING:
		CHECK(a->str != NULL);
		CHECK(a->str[a->len] == '\0');
		mix_u64(r, a->len);
		mix(r, a->str, (size_t)a->len);
		CHECK(imap_arg_str(a) == a->str);
		if (a->type == IMAP_ARG_ATOM) {
			CHECK(a->len > 0 && strlen(a->str) == a->len);
			CHECK(imap_arg_is(a, a->str));
		}
		if (imap_arg_number(a, &num))
			mix_u64(r, num);
		break;
	case IMAP_ARG_NIL:
		CHECK(a->str == NULL && imap_arg_str(a) == NULL);
		break;
	case IMAP_ARG_LIST:
		CHECK(a->str == NULL);
		CHECK(depth < r->max_depth + 1);
		mix_u64(r, a->list_count);
		for (size_t i = 0; i < a->list_count; i++)
			walk(r, &a->list[i], depth + 1);
		break;
	case IMAP_ARG_LITERAL_STREAMED:
		CHECK(a->str == NULL && a->literal);
		mix_u64(r, a->len);
		break;
	default:
		CHECK(0);
	}
}

static void mix_str(struct run *r, const char *s)
{
	if (s == NULL) {
		mix_u64(r, 0xdead);
		return;
	}
	mix(r, s, strlen(s) + 1);
}

static void response(struct run *r, const struct imap_response *resp)
{
	CHECK(resp != NULL);
	mix_u64(r, resp->kind);
	mix_u64(r, resp->status);
	mix_str(r, resp->tag);
	mix_str(r, resp->code);
	mix_str(r, resp->text);
	mix_u64(r, resp->arg_count);
	switch (resp->kind) {
	case IMAP_RESP_TAGGED:
		CHECK(resp->tag != NULL && resp->text != NULL && resp->arg_count == 0);
		CHECK(resp->status == IMAP_STATUS_OK || resp->status == IMAP_STATUS_NO ||
		      resp->status == IMAP_STATUS_BAD);
		break;
	case IMAP_RESP_CONTINUATION:
		CHECK(resp->tag == NULL && resp->text != NULL && resp->code == NULL);
		CHECK(resp->arg_count == 0 && resp->status == IMAP_STATUS_NONE);
		break;
	case IMAP_RESP_UNTAGGED:
		CHECK(resp->tag == NULL);
		if (resp->status == IMAP_STATUS_NONE)
			CHECK(resp->text == NULL && resp->code == NULL && resp->arg_count > 0);
		else
			CHECK(resp->text != NULL && resp->arg_count == 0);
		break;
	default:
		CHECK(0);
	}
	for (size_t i = 0; i < resp->arg_count; i++)
		walk(r, &resp->args[i], 1);
}

/* Feeds one chunk to the end; false once the parser is dead. */
static bool feed(struct run *r, struct imap_parser *p, const uint8_t *in, size_t len)
{
	unsigned idle = 0;

	for (;;) {
		size_t used = (size_t)-1;
		enum imap_parse_result res = imap_parser_feed(p, in, len, &used);
		const struct imap_literal_info *li;

		CHECK(used <= len);
		idle = used == 0 ? idle + 1 : 0;
		CHECK(idle < 4);
		/* How many DATA and NEED_MORE events there are depends on the
		 * chunking; the other events must come alike. */
		if (res != IMAP_PARSE_LITERAL_DATA && res != IMAP_PARSE_NEED_MORE)
			mix_u64(r, res);
		switch (res) {
		case IMAP_PARSE_NEED_MORE:
			CHECK(used == len);
			return true;
		case IMAP_PARSE_RESPONSE:
			CHECK(!r->in_lit);
			response(r, imap_parser_response(p));
			break;
		case IMAP_PARSE_LITERAL_BEGIN:
			CHECK(!r->in_lit);
			li = imap_parser_literal(p);
			CHECK(li != NULL && li->section != NULL);
			mix_u64(r, li->size);
			mix_str(r, li->section);
			mix_u64(r, li->fetch_seq);
			mix_u64(r, li->fetch_uid);
			mix_u64(r, li->literal8);
			r->in_lit = true;
			r->lit_left = li->size;
			break;
		case IMAP_PARSE_LITERAL_DATA:
			CHECK(r->in_lit && used > 0 && used <= r->lit_left);
			r->lit_left -= used;
			r->streamed += used;
			mix(r, in, used);
			break;
		case IMAP_PARSE_LITERAL_END:
			CHECK(r->in_lit && used == 0 && r->lit_left == 0);
			li = imap_parser_literal(p);
			CHECK(li != NULL);
			r->announced += li->size;
			r->in_lit = false;
			break;
		case IMAP_PARSE_ERROR:
			CHECK(imap_parser_error(p) != NULL && imap_parser_error(p)[0] != '\0');
			mix_str(r, imap_parser_error(p));
			CHECK(imap_parser_feed(p, in, len, &used) == IMAP_PARSE_ERROR && used == 0);
			return false;
		default:
			CHECK(0);
		}
		in += used;
		len -= used;
	}
}

static uint64_t parse(const struct imap_parser_limits *lim, const uint8_t *in, size_t len,
		      const uint8_t *chunking)
{
	struct run r = { .h = 0xcbf29ce484222325ULL, .max_depth = lim->max_depth };
	struct imap_parser *p = imap_parser_new(lim);
	size_t pos = 0;
	unsigned k = 0;
	bool alive = true;

	while (alive && pos < len) {
		size_t n = len - pos;
		if (chunking != NULL) {
			/* Mostly tiny chunks, sometimes large ones. */
			uint8_t c = chunking[k++ % 4];
			size_t want = c & 0x80 ? (size_t)(c & 0x7f) * 61 + 1 : (size_t)(c % 9) + 1;
			if (want < n)
				n = want;
		}
		alive = feed(&r, p, in + pos, n);
		pos += n;
	}
	if (alive)
		alive = feed(&r, p, NULL, 0);
	/* Streamed bytes are exactly the announced sizes, plus what came of a
	 * literal the input ended in. */
	CHECK(r.streamed >= r.announced);
	if (!r.in_lit)
		CHECK(r.streamed == r.announced);
	imap_parser_free(&p);
	CHECK(p == NULL);
	mix_u64(&r, r.streamed);
	mix_u64(&r, alive);
	return r.h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t stream_min[4] = { 0, 1, 16, 300 };
	struct imap_parser_limits lim;

	if (size < 5)
		return 0;
	uint8_t cfg = data[0];
	memset(&lim, 0, sizeof lim);
	lim.max_response_bytes = cfg & 0x10 ? 256 : 4096;
	lim.max_depth = cfg & 0x20 ? 3 : 8;
	lim.stream_literal_min = stream_min[cfg & 3];
	lim.max_literal_size = cfg & 0x40 ? 100 : 1 << 20;

	uint64_t whole = parse(&lim, data + 5, size - 5, NULL);
	uint64_t chunked = parse(&lim, data + 5, size - 5, data + 1);
	CHECK(whole == chunked);
	return 0;
}
