/* fuzz_smtp_data.c — libFuzzer target for the DATA reader.
 *
 * Input layout: byte 0 picks max_size, bytes 1..4 drive the chunking, the
 * rest is what the client sends after 354. The stream is read twice, whole
 * and in chunks; the message bytes, the result, the bytes consumed and the
 * size must be identical. Every run handed out must lie inside the input
 * consumed by that call, the output never exceeds the input nor max_size,
 * and a message accepted (END) holds only CRLF line ends.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

struct result {
	char *out;
	size_t out_len;
	size_t used;
	enum smtp_data_result res;
	uint64_t size;
};

static void read_all(const char *in, size_t len, uint64_t max, const uint8_t *chunking,
		     struct result *r)
{
	struct smtp_data d;
	size_t pos = 0;
	unsigned k = 0;

	smtp_data_init(&d, max);
	r->out = malloc(len + 1);
	r->out_len = 0;
	r->res = SMTP_DATA_MORE;
	while (pos < len && r->res == SMTP_DATA_MORE) {
		size_t n = len - pos;
		if (chunking != NULL) {
			uint8_t c = chunking[k++ % 4];
			size_t want = c & 0x80 ? (size_t)(c & 0x7f) * 13 + 1 : (size_t)(c % 5) + 1;
			if (want < n)
				n = want;
		}
		const char *p = in + pos;
		size_t left = n;
		while (left > 0 && r->res == SMTP_DATA_MORE) {
			size_t used;
			const char *run;
			size_t rl;
			r->res = smtp_data_feed(&d, p, left, &used, &run, &rl);
			CHECK(used <= left);
			CHECK(used > 0 || r->res != SMTP_DATA_MORE);
			CHECK(run >= p && run + rl <= p + used);
			CHECK(r->out_len + rl <= pos + (size_t)(p - (in + pos)) + used);
			memcpy(r->out + r->out_len, run, rl);
			r->out_len += rl;
			p += used;
			left -= used;
		}
		pos = (size_t)(p - in);
	}
	r->used = pos;
	r->size = smtp_data_size(&d);
	CHECK(r->out_len <= r->used);
	CHECK(r->out_len <= r->size);
	if (max != 0)
		CHECK(r->out_len <= max);
	if (r->res == SMTP_DATA_END) {
		CHECK(r->out_len == r->size);
		for (size_t i = 0; i < r->out_len; i++) {
			if (r->out[i] == '\r')
				CHECK(i + 1 < r->out_len && r->out[i + 1] == '\n');
			if (r->out[i] == '\n')
				CHECK(i > 0 && r->out[i - 1] == '\r');
		}
		CHECK(r->used >= 3 && memcmp(in + r->used - 3, ".\r\n", 3) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t maxes[4] = { 0, 1, 10, 200 };
	struct result whole, chunked;

	if (size < 5)
		return 0;
	uint64_t max = maxes[data[0] & 3];
	const char *in = (const char *)data + 5;
	read_all(in, size - 5, max, NULL, &whole);
	read_all(in, size - 5, max, data + 1, &chunked);
	CHECK(whole.res == chunked.res);
	CHECK(whole.used == chunked.used);
	CHECK(whole.size == chunked.size);
	CHECK(whole.out_len == chunked.out_len);
	CHECK(memcmp(whole.out, chunked.out, whole.out_len) == 0);
	free(whole.out);
	free(chunked.out);
	return 0;
}
