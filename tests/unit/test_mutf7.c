/* test_mutf7.c — modified UTF-7 decoder and encoder (src/proto/mutf7.c).
 *
 * Expected encodings were computed outside this code (python3: UTF-16BE,
 * base64, '/' -> ',', no '=' padding), so the tests do not merely check that
 * the encoder and decoder agree with each other. Every rejection rule of
 * mutf7.h has at least one case, and a seeded random round trip covers
 * ASCII, BMP, astral and control characters mixed together.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "proto/mutf7.h"

struct pair {
	const char *utf8;
	const char *mutf7;
};

static const struct pair known[] = {
	/* RFC 3501 §5.1.3 example. */
	{ "~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ "送信済みメール", "&kAFP4W4IMH8w4TD8MOs-" },
	{ "送信済み", "&kAFP4W4IMH8-" },
	{ "迷惑メール", "&j,dg0TDhMPww6w-" },
	{ "取引先", "&U9ZfFVFI-" },
	{ "ゴミ箱", "&MLQw33ux-" },
	{ "下書き", "&Tgtm+DBN-" },
	{ "アーカイブ", "&MKIw,DCrMKQw1g-" },
	{ "INBOX.取引先.2024", "INBOX.&U9ZfFVFI-.2024" },
	{ "一二三", "&TgBOjE4J-" },
	/* Astral plane: UTF-16 surrogate pairs inside one shift. */
	{ "😀", "&2D3eAA-" },
	{ "a😀b", "a&2D3eAA-b" },
	{ "𝄞𝄞", "&2DTdHtg03R4-" },
	{ "🇯🇵", "&2Dzd79g83fU-" },
	/* '&' itself, and '-' right after a shift. */
	{ "&", "&-" },
	{ "Tom & Jerry", "Tom &- Jerry" },
	{ "£&", "&AKM-&-" },
	{ "&£", "&-&AKM-" },
	{ "日本語-", "&ZeVnLIqe--" },
	/* Latin, one shift per non-ASCII run. */
	{ "é", "&AOk-" },
	{ "€", "&IKw-" },
	{ "Entwürfe", "Entw&APw-rfe" },
	{ "Éléments envoyés", "&AMk-l&AOk-ments envoy&AOk-s" },
	{ "Ünïcödé/x", "&ANw-n&AO8-c&APY-d&AOk-/x" },
	/* Controls and DEL are not printable, so they go in base64. */
	{ "\x01", "&AAE-" },
	{ "a\x7f" "b", "a&AH8-b" },
	/* Plain ASCII is untouched. */
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "Sent Messages", "Sent Messages" },
	{ "-", "-" },
	{ "a-b+c,d/e", "a-b+c,d/e" },
};

static void check_decode(const char *in, const char *want)
{
	struct buf b;

	buf_init(&b, 4096);
	if (!mutf7_to_utf8(in, strlen(in), &b))
		fail_msg("decode of \"%s\" failed", in);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.len ? b.data : "", want, strlen(want));
	buf_free(&b);
}

static void check_encode(const char *in, const char *want)
{
	struct buf b;

	buf_init(&b, 4096);
	if (!utf8_to_mutf7(in, strlen(in), &b))
		fail_msg("encode of \"%s\" failed", in);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.len ? b.data : "", want, strlen(want));
	buf_free(&b);
}

static void test_known_decode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		check_decode(known[i].mutf7, known[i].utf8);
}

static void test_known_encode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		check_encode(known[i].utf8, known[i].mutf7);
}

static bool decodes(const char *in, size_t len)
{
	struct buf b;

	buf_init(&b, 4096);
	bool ok = mutf7_to_utf8(in, len, &b);
	buf_free(&b);
	return ok;
}

#define REJECT(s) do { \
	if (decodes((s), sizeof(s) - 1)) \
		fail_msg("decoder accepted \"%s\"", (s)); \
} while (0)

static void test_reject_bad_base64(void **state)
{
	(void)state;
	REJECT("&U,B*Fw-");
	REJECT("&U/BTFw-");         /* RFC 2045 '/' is not modified base64 */
	REJECT("&AKM=-");           /* no '=' padding */
	REJECT("&AK M-");
	REJECT("&AK\xc3\xa9-");
}

static void test_reject_empty_or_ascii_shift(void **state)
{
	(void)state;
	REJECT("&A-");              /* 6 bits: no UTF-16 unit at all */
	REJECT("&AA-");             /* 12 bits: still none */
	REJECT("&AGE-");            /* 'a' must be written plain */
	REJECT("&ACY-");            /* '&' must be "&-" */
	REJECT("&ACA-");            /* space */
	REJECT("&AH4-");            /* '~' */
	REJECT("&AOkALQ-");         /* 'é' then '-' in base64 */
	REJECT("&AAA-");            /* U+0000 */
}

static void test_reject_unclosed(void **state)
{
	(void)state;
	REJECT("&");
	REJECT("a&");
	REJECT("&U,BTFw");
	REJECT("&U,BTFw.x");        /* '.' is not base64 and does not close */
	REJECT("~peter/mail/&U,BTFw-/&ZeVnLIqe");
}

static void test_reject_surrogates(void **state)
{
	(void)state;
	REJECT("&2D0-");            /* high surrogate alone */
	REJECT("&3gA-");            /* low surrogate alone */
	REJECT("&3gDYPQ-");         /* low then high */
	REJECT("&2D3YPQ-");         /* two highs */
	REJECT("&2D0AYQ-");         /* high then 'a' */
	REJECT("&2D0A6Q-");         /* high then 'é' */
	REJECT("&AOnYPQ-");         /* 'é' then a dangling high */
	REJECT("&2D0-&3gA-");       /* a pair split across two shifts */
}

static void test_reject_padding(void **state)
{
	(void)state;
	check_decode("&AKM-", "£");
	REJECT("&AKN-");            /* padding bits 01 */
	REJECT("&AKP-");            /* padding bits 11 */
	REJECT("&AKMA-");           /* a spare base64 character */
	REJECT("&AKMAAA-");
	check_decode("&2D3eAA-", "😀");
	REJECT("&2D3eAB-");         /* 36 bits: the last 4 must be zero */
	REJECT("&2D3eAAA-");
}

static void test_reject_outside_shift(void **state)
{
	(void)state;
	REJECT("\xe6\x97\xa5");     /* raw UTF-8 */
	REJECT("caf\xc3\xa9");
	REJECT("\x80");
	REJECT("\xff");
	REJECT("a\tb");
	REJECT("\n");
	REJECT("a\x7f");
	REJECT("a\0b");             /* NUL inside the given length */
}

static void test_reject_adjacent_shifts(void **state)
{
	(void)state;
	/* "&AKMAow-" is the one spelling of "£ã"; two shifts are another. */
	check_decode("&AKMA4w-", "£ã");
	REJECT("&AKM-&AOM-");
	/* An empty shift ("&-") next to a real one is fine: it is '&'. */
	check_decode("&AKM-&-&AKM-", "£&£");
	check_decode("&-&-", "&&");
}

static bool encodes(const char *in, size_t len)
{
	struct buf b;

	buf_init(&b, 4096);
	bool ok = utf8_to_mutf7(in, len, &b);
	buf_free(&b);
	return ok;
}

#define ENC_REJECT(s) do { \
	assert_false(utf8_valid((s), sizeof(s) - 1)); \
	if (encodes((s), sizeof(s) - 1)) \
		fail_msg("encoder accepted \"%s\"", (s)); \
} while (0)

static void test_encode_rejects_bad_utf8(void **state)
{
	(void)state;
	ENC_REJECT("\xc0\xaf");             /* overlong '/' */
	ENC_REJECT("\xc1\xbf");
	ENC_REJECT("\xe0\x80\xaf");         /* overlong 3-byte */
	ENC_REJECT("\xf0\x8f\xbf\xbf");     /* overlong 4-byte */
	ENC_REJECT("\xed\xa0\x80");         /* U+D800 */
	ENC_REJECT("\xed\xbf\xbf");         /* U+DFFF */
	ENC_REJECT("\xf4\x90\x80\x80");     /* above U+10FFFF */
	ENC_REJECT("\xf5\x80\x80\x80");
	ENC_REJECT("\xe6\x97");             /* truncated */
	ENC_REJECT("a\x80");                /* lone continuation */
	ENC_REJECT("\xff");
	ENC_REJECT("\xe6\x41\xa5");         /* continuation expected */

	/* U+0000 is well-formed UTF-8 but not a name: see mutf7.c. */
	assert_true(utf8_valid("a\0b", 3));
	assert_false(encodes("a\0b", 3));

	assert_true(utf8_valid("\xed\x9f\xbf", 3));        /* U+D7FF */
	assert_true(utf8_valid("\xee\x80\x80", 3));        /* U+E000 */
	assert_true(utf8_valid("\xf4\x8f\xbf\xbf", 4));    /* U+10FFFF */
	check_encode("\xf4\x8f\xbf\xbf", "&2,,f,w-");
	check_decode("&2,,f,w-", "\xf4\x8f\xbf\xbf");
}

static void test_buffer_bound(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4);
	assert_false(mutf7_to_utf8("&ZeVnLIqe-", 10, &b));  /* 9 bytes of UTF-8 */
	buf_free(&b);
	buf_init(&b, 4);
	assert_false(utf8_to_mutf7("日本語", strlen("日本語"), &b));
	buf_free(&b);
	buf_init(&b, 9);
	assert_true(mutf7_to_utf8("&ZeVnLIqe-", 10, &b));
	assert_string_equal(b.data, "日本語");
	buf_free(&b);
}

static void test_appends(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_true(buf_append_str(&b, "x:"));
	assert_true(mutf7_to_utf8("&U9ZfFVFI-", 10, &b));
	assert_string_equal(b.data, "x:取引先");
	buf_free(&b);
}

/* xorshift: deterministic, so a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static uint32_t random_cp(void)
{
	switch (rnd() % 6) {
	case 0:
	case 1:
		return 0x20 + rnd() % 0x5f;             /* printable ASCII */
	case 2:
		return "&-&,+/"[rnd() % 6];             /* the awkward ones */
	case 3:
		return 1 + rnd() % 0x7f;                /* incl. controls, DEL */
	case 4: {
		uint32_t c = 0x80 + rnd() % (0x10000 - 0x80);
		return (c >= 0xd800 && c <= 0xdfff) ? 0x3042 : c;
	}
	default:
		return 0x10000 + rnd() % 0x100000;
	}
}

static size_t put_cp(char *p, uint32_t c)
{
	if (c < 0x80) {
		p[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		p[0] = (char)(0xc0 | (c >> 6));
		p[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		p[0] = (char)(0xe0 | (c >> 12));
		p[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		p[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | (c >> 18));
	p[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	p[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

static void test_random_round_trip(void **state)
{
	char in[200];
	struct buf enc, dec, again;

	(void)state;
	buf_init(&enc, 0);
	buf_init(&dec, 0);
	buf_init(&again, 0);
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = 0, chars = rnd() % 40;
		for (size_t k = 0; k < chars; k++)
			n += put_cp(in + n, random_cp());
		assert_true(utf8_valid(in, n));

		buf_reset(&enc);
		buf_reset(&dec);
		buf_reset(&again);
		assert_true(utf8_to_mutf7(in, n, &enc));
		for (size_t k = 0; k < enc.len; k++) {
			unsigned char c = (unsigned char)enc.data[k];
			assert_true(c >= 0x20 && c <= 0x7e);
		}
		if (!mutf7_to_utf8(enc.data ? enc.data : "", enc.len, &dec))
			fail_msg("iteration %d: decode of own output \"%s\" failed",
				 iter, enc.data);
		assert_int_equal(dec.len, n);
		assert_memory_equal(dec.len ? dec.data : "", in, n);
		/* Canonical: encoding the decoded name gives the same bytes. */
		assert_true(utf8_to_mutf7(dec.data ? dec.data : "", dec.len, &again));
		assert_int_equal(again.len, enc.len);
		assert_memory_equal(again.len ? again.data : "", enc.data ? enc.data : "",
				    enc.len);
	}
	buf_free(&enc);
	buf_free(&dec);
	buf_free(&again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_decode),
		cmocka_unit_test(test_known_encode),
		cmocka_unit_test(test_reject_bad_base64),
		cmocka_unit_test(test_reject_empty_or_ascii_shift),
		cmocka_unit_test(test_reject_unclosed),
		cmocka_unit_test(test_reject_surrogates),
		cmocka_unit_test(test_reject_padding),
		cmocka_unit_test(test_reject_outside_shift),
		cmocka_unit_test(test_reject_adjacent_shifts),
		cmocka_unit_test(test_encode_rejects_bad_utf8),
		cmocka_unit_test(test_buffer_bound),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_random_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
