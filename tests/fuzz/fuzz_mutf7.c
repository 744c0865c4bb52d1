/* fuzz_mutf7.c — libFuzzer target for src/proto/mutf7.c.
 *
 * Two properties on every input:
 *  1. Canonical decoding: if the bytes decode, encoding the result gives the
 *     same bytes back (one spelling per name), and the result is valid UTF-8.
 *  2. Round trip: if the bytes are valid UTF-8 without NUL, they encode, the
 *     encoding is printable ASCII, and it decodes to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "proto/mutf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct buf a, b;

	buf_init(&a, 1 << 16);
	buf_init(&b, 1 << 16);
	if (mutf7_to_utf8(in, size, &a)) {
		const char *s = a.data ? a.data : "";
		if (!utf8_valid(s, a.len) || memchr(s, '\0', a.len) != NULL)
			abort();
		if (!utf8_to_mutf7(s, a.len, &b))
			abort();
		if (b.len != size || (size > 0 && memcmp(b.data, data, size) != 0))
			abort();
	}
	buf_reset(&a);
	buf_reset(&b);
	if (utf8_valid(in, size) && memchr(in, '\0', size) == NULL) {
		if (!utf8_to_mutf7(in, size, &a))
			abort();
		for (size_t i = 0; i < a.len; i++)
			if ((unsigned char)a.data[i] < 0x20 || (unsigned char)a.data[i] > 0x7e)
				abort();
		if (!mutf7_to_utf8(a.data ? a.data : "", a.len, &b))
			abort();
		if (b.len != size || (size > 0 && memcmp(b.data, data, size) != 0))
			abort();
	}
	buf_free(&a);
	buf_free(&b);
	return 0;
}
