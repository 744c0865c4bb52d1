/* fuzz_smtp_reply.c — libFuzzer target for the SMTP reply parser.
 *
 * Input layout: byte 0 picks the limits, bytes 1..4 drive the chunking,
 * the rest is what the "server" sends. Parsed whole and in chunks; a hash
 * of every reply (code, enhanced code, lines, EHLO keywords) and of the
 * error must agree. Also checks the contract of each reply: code in range,
 * lines free of CR, LF and NUL, within the limits.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static void mix(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++) {
		*h ^= c[i];
		*h *= 0x100000001b3ULL;
	}
}

static void reply(uint64_t *h, const struct smtp_reply *r, const struct smtp_reply_limits *lim)
{
	struct smtp_ehlo e;

	CHECK(r != NULL);
	CHECK(r->code >= 200 && r->code <= 559);
	CHECK(r->line_count >= 1 && r->line_count <= lim->max_lines);
	mix(h, &r->code, sizeof r->code);
	mix(h, r->enhanced, strlen(r->enhanced) + 1);
	mix(h, r->text, strlen(r->text) + 1);
	CHECK(r->has_enhanced == (r->enhanced[0] != '\0'));
	for (size_t i = 0; i < r->line_count; i++) {
		size_t n = strlen(r->lines[i]);
		CHECK(n <= lim->max_bytes);
		CHECK(strchr(r->lines[i], '\r') == NULL && strchr(r->lines[i], '\n') == NULL);
		mix(h, r->lines[i], n + 1);
	}
	if (smtp_reply_ehlo(r, &e))
		CHECK(r->code == 250);
	mix(h, &e, sizeof e);
}

static uint64_t parse(const struct smtp_reply_limits *lim, const char *in, size_t len,
		      const uint8_t *chunking)
{
	struct smtp_reply_parser *p = smtp_reply_parser_new(lim);
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t pos = 0;
	unsigned k = 0;

	while (pos < len) {
		size_t n = len - pos;
		if (chunking != NULL) {
			uint8_t c = chunking[k++ % 4];
			size_t want = c & 0x80 ? (size_t)(c & 0x7f) * 29 + 1 : (size_t)(c % 7) + 1;
			if (want < n)
				n = want;
		}
		const char *s = in + pos;
		size_t left = n;
		while (left > 0) {
			size_t used;
			enum smtp_reply_result res = smtp_reply_feed(p, s, left, &used);
			CHECK(used <= left);
			if (res == SMTP_REPLY_ERROR) {
				const char *e = smtp_reply_error(p);
				CHECK(e != NULL && e[0] != '\0');
				mix(&h, e, strlen(e));
				CHECK(smtp_reply_feed(p, s, left, &used) == SMTP_REPLY_ERROR && used == 0);
				smtp_reply_parser_free(&p);
				CHECK(p == NULL);
				return h;
			}
			if (res == SMTP_REPLY_DONE)
				reply(&h, smtp_reply_get(p), lim);
			else
				CHECK(used == left);
			s += used;
			left -= used;
		}
		pos += n;
	}
	smtp_reply_parser_free(&p);
	return h ^ 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply_limits lim;

	if (size < 5)
		return 0;
	lim.max_bytes = data[0] & 1 ? 64 : 4096;
	lim.max_lines = data[0] & 2 ? 3 : 100;
	const char *in = (const char *)data + 5;
	CHECK(parse(&lim, in, size - 5, NULL) == parse(&lim, in, size - 5, data + 1));
	return 0;
}
