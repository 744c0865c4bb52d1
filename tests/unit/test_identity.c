/* test_identity.c — message identity (src/sync/identity.c).
 *
 * Header blocks are written the way servers hand them back for
 * IDENTITY_FETCH_ITEM (CRLF or LF, folded, any order and case), parsed from
 * exact-size heap copies so that any read past len trips ASan. Matcher tests
 * build the migration cases of design.md (relay and Postfix bcc copies,
 * own copies, reused Message-IDs, duplicates) and check the exact pairs and
 * the exact need_bodies calls; a randomized test compares the matcher with
 * a plain O(n*m) transcription of the rules; a 100k x 100k run is timed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "sync/identity.h"

/* ---- helpers ---- */

static void parse_n(struct ident *id, const char *hdr, size_t len)
{
	char *copy = xmalloc(len ? len : 1);    /* exact size: no NUL after it */

	memcpy(copy, hdr, len);
	memset(id, 0, sizeof *id);
	ident_parse_headers(id, copy, len);
	free(copy);
}

static void parse(struct ident *id, const char *hdr)
{
	parse_n(id, hdr, strlen(hdr));
}

static void sha_hex(const void *p, size_t n, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	struct body_hash h;

	body_hash_init(&h);
	body_hash_feed(&h, p, n);
	body_hash_final(&h, md);
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

#define assert_str_or_null(got, want)                                            \
	do {                                                                     \
		if ((want) == NULL)                                              \
			assert_null(got);                                        \
		else {                                                           \
			assert_non_null(got);                                    \
			assert_string_equal((got), (want));                      \
		}                                                                \
	} while (0)

static void check_msgid(const char *block, const char *want)
{
	struct ident id;

	parse(&id, block);
	if ((want == NULL) != (id.msgid == NULL) ||
	    (want != NULL && strcmp(want, id.msgid) != 0))
		fail_msg("block \"%s\": msgid \"%s\", want \"%s\"", block,
			 id.msgid ? id.msgid : "(null)", want ? want : "(null)");
	ident_free(&id);
}

static const char FULL_CRLF[] =
	"Message-ID: <20240101.abc@mail.example.jp>\r\n"
	"X-Mailshift-Trace: ms1-7f3a9c\r\n"
	"Date: Mon, 1 Jan 2024 10:00:00 +0900\r\n"
	"From: Taro <taro@example.jp>\r\n"
	"Subject: Hello world\r\n"
	"\r\n";
/* python3: sha256(b'Mon, 1 Jan 2024 10:00:00 +0900\0Taro <taro@example.jp>\0Hello world') */
static const char FULL_KEY[] = "1accb859802b71b6aee73289241622f82d7b94ae9f2e3dc953a0d49aecda913b";
/* python3: sha256(b'\0\0') */
static const char EMPTY_KEY[] = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7";

/* ---- header parsing ---- */

static void test_parse_basic(void **state)
{
	struct ident id;

	(void)state;
	parse(&id, FULL_CRLF);
	assert_string_equal(id.msgid, "<20240101.abc@mail.example.jp>");
	assert_string_equal(id.trace, "ms1-7f3a9c");
	assert_string_equal(id.hdrkey, FULL_KEY);
	ident_free(&id);
	assert_null(id.msgid);
	assert_null(id.trace);
	ident_free(&id);        /* twice is harmless */
}

static void test_parse_lf_and_order(void **state)
{
	struct ident id;

	(void)state;
	/* LF only, other order, other case, no final blank line. */
	parse(&id, "subject: Hello world\n"
		   "FROM: Taro <taro@example.jp>\n"
		   "x-mailshift-trace:   ms1-7f3a9c  \n"
		   "DATE:Mon, 1 Jan 2024 10:00:00 +0900\n"
		   "message-id: <20240101.abc@mail.example.jp>");
	assert_string_equal(id.msgid, "<20240101.abc@mail.example.jp>");
	assert_string_equal(id.trace, "ms1-7f3a9c");
	assert_string_equal(id.hdrkey, FULL_KEY);
	ident_free(&id);
}

static void test_parse_folded(void **state)
{
	struct ident a, b, c, d;

	(void)state;
	parse(&a, "Subject: a long\r\n subject\r\n\tline\r\n\r\n");
	parse(&b, "Subject: a long subject\tline\r\n\r\n");
	assert_string_equal(a.hdrkey, b.hdrkey);
	/* The whitespace after a fold is kept: not the same as without it. */
	parse(&c, "Subject: a longsubjectline\r\n\r\n");
	assert_string_not_equal(a.hdrkey, c.hdrkey);
	/* A value starting on the continuation line, trimmed. */
	parse(&d, "Subject:\r\n   a long subject\tline  \r\n\r\n");
	assert_string_equal(d.hdrkey, b.hdrkey);
	ident_free(&a);
	ident_free(&b);
	ident_free(&c);
	ident_free(&d);

	/* Folded full block equals the unfolded one. */
	parse(&a, "Message-ID:\r\n <20240101.abc@mail.example.jp>\r\n"
		  "X-Mailshift-Trace:\r\n ms1-7f3a9c\r\n"
		  "Date: Mon, 1 Jan 2024\r\n 10:00:00 +0900\r\n"
		  "From: Taro\r\n <taro@example.jp>\r\n"
		  "Subject: Hello\r\n world\r\n\r\n");
	assert_string_equal(a.msgid, "<20240101.abc@mail.example.jp>");
	assert_string_equal(a.trace, "ms1-7f3a9c");
	assert_string_equal(a.hdrkey, FULL_KEY);
	ident_free(&a);
}

static void test_parse_missing(void **state)
{
	struct ident id;

	(void)state;
	parse_n(&id, "", 0);
	assert_null(id.msgid);
	assert_null(id.trace);
	assert_string_equal(id.hdrkey, EMPTY_KEY);
	ident_parse_headers(&id, NULL, 0);
	assert_string_equal(id.hdrkey, EMPTY_KEY);

	parse(&id, "\r\n");
	assert_null(id.msgid);
	assert_null(id.trace);
	assert_string_equal(id.hdrkey, EMPTY_KEY);

	/* Present but empty is the same as absent. */
	parse(&id, "Message-ID:\r\nX-Mailshift-Trace:   \r\nDate:\r\nFrom: \r\nSubject:\t\r\n\r\n");
	assert_null(id.msgid);
	assert_null(id.trace);
	assert_string_equal(id.hdrkey, EMPTY_KEY);

	/* Which field is missing matters: From "x" is not Subject "x". */
	struct ident a, b;
	parse(&a, "From: x\r\n\r\n");
	parse(&b, "Subject: x\r\n\r\n");
	assert_string_not_equal(a.hdrkey, b.hdrkey);
	assert_string_not_equal(a.hdrkey, EMPTY_KEY);
}

static void test_parse_repeated(void **state)
{
	struct ident a, b;

	(void)state;
	parse(&a, "Message-ID: <first@x>\r\n"
		  "Subject: one\r\n"
		  "Message-ID: <second@x>\r\n"
		  "Subject: two\r\n"
		  " more of two\r\n"
		  "X-Mailshift-Trace: t1\r\n"
		  "X-Mailshift-Trace: t2\r\n\r\n");
	assert_string_equal(a.msgid, "<first@x>");
	assert_string_equal(a.trace, "t1");
	parse(&b, "Subject: one\r\n\r\n");
	/* The second Subject's continuation must not extend the first. */
	assert_string_equal(a.hdrkey, b.hdrkey);
	ident_free(&a);
	ident_free(&b);
}

static void test_parse_msgid_forms(void **state)
{
	(void)state;
	check_msgid("Message-ID: <a@b>\r\n\r\n", "<a@b>");
	check_msgid("Message-ID:    <a@b>   \r\n\r\n", "<a@b>");
	check_msgid("Message-Id: <CaSe@Example.JP>\r\n", "<CaSe@Example.JP>");
	check_msgid("Message-ID: (comment) <a@b> (more)\r\n", "<a@b>");
	check_msgid("Message-ID: (see <x@y> (nested <z>) \\) <q>) <a@b>\r\n", "<a@b>");
	check_msgid("Message-ID: <a@b> <c@d>\r\n", "<a@b>");
	check_msgid("Message-ID: <a\r\n @b>\r\n", "<a@b>");
	check_msgid("Message-ID: < a@b >\r\n", "<a@b>");
	check_msgid("Message-ID: a@b\r\n", "a@b");
	check_msgid("Message-ID: a@b (comment)\r\n", "a@b");
	check_msgid("Message-ID: a b\r\n", NULL);
	check_msgid("Message-ID: a(x)b\r\n", NULL);
	check_msgid("Message-ID: <>\r\n", NULL);
	check_msgid("Message-ID: < \t>\r\n", NULL);
	check_msgid("Message-ID: <abc@def\r\n", "<abc@def");
	check_msgid("Message-ID: (only a comment)\r\n", NULL);
	check_msgid("Message-ID: (unclosed <a@b>\r\n", NULL);
	check_msgid("Message-ID:\r\n", NULL);
	check_msgid("Message-ID : <ws@colon>\r\n", "<ws@colon>");
	check_msgid("Resent-Message-ID: <not@this>\r\n", NULL);
	check_msgid("Message-ID-X: <not@this>\r\n", NULL);
}

static void test_parse_block_end(void **state)
{
	struct ident id;

	(void)state;
	/* No final blank line, last line without a line end. */
	parse(&id, "Subject: Hello world\r\nMessage-ID: <a@b>");
	assert_string_equal(id.msgid, "<a@b>");
	ident_free(&id);
	/* CR without LF at the very end. */
	parse(&id, "Message-ID: <a@b>\r");
	assert_string_equal(id.msgid, "<a@b>");
	ident_free(&id);
	/* What follows the blank line is not header. */
	parse(&id, "Subject: x\r\n\r\nMessage-ID: <body@x>\r\nX-Mailshift-Trace: t\r\n");
	assert_null(id.msgid);
	assert_null(id.trace);
	ident_free(&id);
}

static void test_parse_garbage(void **state)
{
	struct ident id, ref;

	(void)state;
	parse(&id, "\x01\x02\xff garbage without any colon \x7f");
	assert_null(id.msgid);
	assert_null(id.trace);
	assert_string_equal(id.hdrkey, EMPTY_KEY);

	/* An mbox From_ line is not the From field; its continuation neither. */
	parse(&id, "From taro@example.jp Mon Jan  1 10:00:00 2024\r\n"
		   " Subject: no\r\n"
		   "Subject: yes\r\n\r\n");
	parse(&ref, "Subject: yes\r\n\r\n");
	assert_string_equal(id.hdrkey, ref.hdrkey);

	/* A continuation before any field, a name with a control byte, an
	 * empty name. */
	parse(&id, " Message-ID: <cont@x>\r\n"
		   "Mess\x01age-ID: <ctl@x>\r\n"
		   ": <empty@x>\r\n"
		   "Subject: yes\r\n\r\n");
	assert_null(id.msgid);
	assert_string_equal(id.hdrkey, ref.hdrkey);

	/* A field after a garbage line is still found. */
	parse(&id, "garbage\r\n continued garbage\r\nMessage-ID: <a@b>\r\n\r\n");
	assert_string_equal(id.msgid, "<a@b>");
	ident_free(&id);

	/* Bare CR is an ordinary byte, not a line end. */
	parse(&id, "Subject: a\rMessage-ID: <a@b>\r\n\r\n");
	assert_null(id.msgid);
	ident_free(&id);
}

static void test_parse_nul(void **state)
{
	static const char a[] = "X-Other: a\0b\r\nMessage-ID: <m@x>\r\nSubject: s\0t\r\n\r\n";
	static const char b[] = "Message-ID: <m\0x>\r\nX-Mailshift-Trace: t\0u\r\n\r\n";
	struct ident id, ref;

	(void)state;
	/* NUL is an ordinary byte: scanning goes on past it. */
	parse_n(&id, a, sizeof a - 1);
	assert_string_equal(id.msgid, "<m@x>");
	parse(&ref, "Subject: s\r\n\r\n");
	assert_string_not_equal(id.hdrkey, ref.hdrkey);
	ident_free(&id);
	/* A Message-ID or trace with NUL cannot be a C string: absent. */
	parse_n(&id, b, sizeof b - 1);
	assert_null(id.msgid);
	assert_null(id.trace);
}

static void test_parse_long(void **state)
{
	size_t big = 200000;
	char *blk = xmalloc(big + 64);
	struct ident id;
	int n;

	(void)state;
	/* msgid of exactly 1000 bytes is kept, 1001 is not. */
	n = sprintf(blk, "Message-ID: <");
	memset(blk + n, 'a', 998);
	strcpy(blk + n + 998, ">\r\nX-Mailshift-Trace: ");
	n = (int)strlen(blk);
	memset(blk + n, 't', 1000);
	strcpy(blk + n + 1000, "\r\n\r\n");
	parse(&id, blk);
	assert_non_null(id.msgid);
	assert_int_equal(strlen(id.msgid), 1000);
	assert_non_null(id.trace);
	assert_int_equal(strlen(id.trace), 1000);
	ident_free(&id);

	n = sprintf(blk, "Message-ID: <");
	memset(blk + n, 'a', 999);
	strcpy(blk + n + 999, ">\r\nX-Mailshift-Trace: ");
	n = (int)strlen(blk);
	memset(blk + n, 't', 1001);
	strcpy(blk + n + 1001, "\r\n\r\n");
	parse(&id, blk);
	assert_null(id.msgid);
	assert_null(id.trace);

	/* A huge folded Subject still gives a key, and the same key as its
	 * unfolded spelling. */
	char *flat = xmalloc(big + 64);
	n = sprintf(blk, "Subject: ");
	int m = sprintf(flat, "Subject: ");
	for (size_t i = 0; i < big / 10; i++) {
		memcpy(blk + n, "word\r\n ab", 9);
		memcpy(flat + m, "word ab", 7);
		n += 9;
		m += 7;
	}
	strcpy(blk + n, "\r\n\r\n");
	strcpy(flat + m, "\r\n\r\n");
	struct ident f;
	parse(&id, blk);
	parse(&f, flat);
	assert_string_equal(id.hdrkey, f.hdrkey);
	assert_string_not_equal(id.hdrkey, EMPTY_KEY);
	free(flat);
	free(blk);
}

static void test_parse_prefix_only(void **state)
{
	struct ident id;

	(void)state;
	/* Only len bytes count, whatever lies behind them. */
	parse_n(&id, "Message-ID: <a@b>", 15);
	assert_string_equal(id.msgid, "<a@");
	ident_free(&id);
	parse_n(&id, FULL_CRLF, 10);
	assert_null(id.msgid);
	assert_string_equal(id.hdrkey, EMPTY_KEY);
}

/* ---- body hash ---- */

static void test_body_hash_vectors(void **state)
{
	char hex[65];
	static const char two[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	(void)state;
	sha_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	/* FIPS 180-2 two-block vector, one byte at a time. */
	struct body_hash h;
	unsigned char md[32], md2[32];
	body_hash_init(&h);
	for (size_t i = 0; i < sizeof two - 1; i++)
		body_hash_feed(&h, two + i, 1);
	body_hash_final(&h, md);
	assert_null(h.ctx);
	body_hash_init(&h);
	body_hash_feed(&h, two, sizeof two - 1);
	body_hash_final(&h, md2);
	assert_memory_equal(md, md2, 32);
	sha_hex(two, sizeof two - 1, hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

	/* A million 'a' in uneven chunks, as a literal streams in. */
	char chunk[4096];
	memset(chunk, 'a', sizeof chunk);
	body_hash_init(&h);
	size_t left = 1000000, k = 0;
	while (left > 0) {
		size_t n = (k++ * 977) % 4096 + 1;
		if (n > left)
			n = left;
		body_hash_feed(&h, chunk, n);
		body_hash_feed(&h, chunk, 0);
		left -= n;
	}
	body_hash_final(&h, md);
	static const unsigned char want[32] = {
		0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92, 0x81, 0xa1, 0xc7,
		0xe2, 0x84, 0xd7, 0x3e, 0x67, 0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97,
		0x20, 0x0e, 0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0,
	};
	assert_memory_equal(md, want, 32);
}

/* ---- matcher ---- */

/* need_bodies double: bodies[side][i] is message i's body text (NULL: the
 * hash cannot be had); records every call. */
struct fake {
	const char *const *bodies[2];
	int calls[2];
	size_t idx[2][64];
	size_t n[2];
	bool fail_side[2];
};

static void hash_into(struct ident *id, const char *body)
{
	struct body_hash h;

	body_hash_init(&h);
	body_hash_feed(&h, body, strlen(body));
	body_hash_final(&h, id->body);
	id->has_body = true;
}

static bool fake_need(void *ctx, int side, struct ident *v, const size_t *idx, size_t n,
		      struct err *err)
{
	struct fake *f = ctx;

	assert_true(side == 0 || side == 1);
	f->calls[side]++;
	f->n[side] = n;
	if (n <= 64)
		memcpy(f->idx[side], idx, n * sizeof *idx);
	if (f->fail_side[side]) {
		err_set(err, ERR_SCOPE_FOLDER, ERR_KIND_CONNECT, true,
			"old server: connection lost while fetching bodies");
		return false;
	}
	for (size_t k = 0; k < n; k++) {
		const char *b = f->bodies[side] ? f->bodies[side][idx[k]] : NULL;
		assert_false(v[idx[k]].has_body);
		if (b != NULL)
			hash_into(&v[idx[k]], b);
	}
	return true;
}

static bool never_called(void *ctx, int side, struct ident *v, const size_t *idx, size_t n,
			 struct err *err)
{
	(void)ctx;
	(void)side;
	(void)v;
	(void)idx;
	(void)n;
	(void)err;
	fail_msg("need_bodies called although no body hash is needed");
	return false;
}

static void mk(struct ident *id, const char *hdr, uint64_t size, long long date)
{
	parse(id, hdr);
	id->uid = 0;
	id->size = size;
	id->date = date;
}

static void free_all(struct ident *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ident_free(&v[i]);
}

/* Run the matcher and compare with "s:d s:d ..." */
static void expect_pairs(struct ident *src, size_t ns, struct ident *dst, size_t nd,
			 ident_need_bodies_cb *cb, void *ctx, const char *want)
{
	struct ident_pair *p = (void *)1;
	size_t np = 99;
	struct err err;
	char got[512] = "";

	err_clear(&err);
	assert_true(ident_match(src, ns, dst, nd, cb, ctx, &p, &np, &err));
	assert_false(err_is_set(&err));
	for (size_t k = 0; k < np; k++) {
		size_t l = strlen(got);
		snprintf(got + l, sizeof got - l, "%s%zu:%zu", k ? " " : "", p[k].src, p[k].dst);
	}
	if (np == 0)
		assert_null(p);
	if (strcmp(got, want) != 0)
		fail_msg("pairs \"%s\", want \"%s\"", got, want);
	free(p);
}

static void test_match_trace(void **state)
{
	struct ident s[2], d[3];
	struct fake f = { 0 };

	(void)state;
	/* Same trace wins over everything else: different size, date, even a
	 * different Message-ID (a server rewrote it), no body needed. */
	mk(&s[0], "X-Mailshift-Trace: t1\r\nMessage-ID: <a@x>\r\n\r\n", 100, 1000);
	mk(&s[1], "X-Mailshift-Trace: t2\r\nMessage-ID: <b@x>\r\n\r\n", 100, 1000);
	mk(&d[0], "X-Mailshift-Trace: t2\r\nMessage-ID: <b@x>\r\n\r\n", 180, 1005);
	mk(&d[1], "X-Mailshift-Trace: t9\r\nMessage-ID: <zz@x>\r\n\r\n", 100, 1000);
	mk(&d[2], "Message-ID: <a-rewritten@x>\r\nX-Mailshift-Trace: t1\r\n\r\n", 120, 2000);
	expect_pairs(s, 2, d, 3, never_called, NULL, "0:2 1:0");
	expect_pairs(s, 2, d, 3, fake_need, &f, "0:2 1:0");
	assert_int_equal(f.calls[0] + f.calls[1], 0);
	free_all(s, 2);
	free_all(d, 3);
}

static void test_match_own_copy(void **state)
{
	struct ident s[3], d[3];

	(void)state;
	/* Copies mailshift made: same Message-ID (or headers), size, date. */
	mk(&s[0], "Message-ID: <a@x>\r\nSubject: one\r\n\r\n", 1234, 1700000000);
	mk(&s[1], "Subject: no id\r\nFrom: a@x\r\nDate: Mon, 1 Jan 2024\r\n\r\n", 500, 1700000001);
	mk(&s[2], "Message-ID: <c@x>\r\n\r\n", 77, 1700000002);
	mk(&d[0], "Message-ID: <c@x>\r\n\r\n", 77, 1700000002);
	mk(&d[1], "Date: Mon, 1 Jan 2024\r\nFrom: a@x\r\nSubject: no id\r\n\r\n", 500, 1700000001);
	mk(&d[2], "Message-ID: <a@x>\r\nSubject: one\r\n\r\n", 1234, 1700000000);
	expect_pairs(s, 3, d, 3, never_called, NULL, "0:2 1:1 2:0");
	free_all(s, 3);
	free_all(d, 3);
}

static void test_match_relay_copy(void **state)
{
	struct ident s[1], d[1];
	static const char *const sb[] = { "Hello Hanako,\r\nsee you.\r\n" };
	static const char *const db[] = { "Hello Hanako,\r\nsee you.\r\n" };
	struct fake f = { .bodies = { sb, db } };

	(void)state;
	/* Each server prepended its own Received: lines: sizes and arrival
	 * times differ, the requested header fields and the body do not. */
	mk(&s[0], "Message-ID: <relay@x>\r\nDate: Mon, 1 Jan 2024\r\nSubject: hi\r\n\r\n",
	   2400, 1700000000);
	mk(&d[0], "Message-ID: <relay@x>\r\nDate: Mon, 1 Jan 2024\r\nSubject: hi\r\n\r\n",
	   2515, 1700000003);
	expect_pairs(s, 1, d, 1, fake_need, &f, "0:0");
	assert_int_equal(f.calls[0], 1);
	assert_int_equal(f.calls[1], 1);
	assert_int_equal(f.n[0], 1);
	assert_int_equal(f.idx[0][0], 0);
	assert_int_equal(f.n[1], 1);
	assert_int_equal(f.idx[1][0], 0);
	free_all(s, 1);
	free_all(d, 1);
}

static void test_match_postfix_bcc(void **state)
{
	struct ident s[2], d[2];
	static const char *const sb[] = { "unrelated", "The quarterly report.\r\n" };
	static const char *const db[] = { "The quarterly report.\r\n", "unused" };
	struct fake f = { .bodies = { sb, db } };

	(void)state;
	/* The bcc copy comes back folded differently and in another order;
	 * src[0] is an unrelated message with a Message-ID nobody shares. */
	mk(&s[0], "Message-ID: <lonely@x>\r\n\r\n", 10, 5);
	mk(&s[1], "Message-ID: <Q3.report@corp.example.jp>\r\n"
		  "Subject: Quarterly report\r\n\r\n", 40100, 1700000000);
	mk(&d[0], "subject: Quarterly\n report\nmessage-id:\n <Q3.report@corp.example.jp>\n",
	   40388, 1699999998);
	mk(&d[1], "Message-ID: <other@x>\r\n\r\n", 10, 5);
	expect_pairs(s, 2, d, 2, fake_need, &f, "1:0");
	/* Only the candidates were asked for. */
	assert_int_equal(f.calls[0], 1);
	assert_int_equal(f.n[0], 1);
	assert_int_equal(f.idx[0][0], 1);
	assert_int_equal(f.calls[1], 1);
	assert_int_equal(f.n[1], 1);
	assert_int_equal(f.idx[1][0], 0);
	assert_false(s[0].has_body);
	assert_false(d[1].has_body);
	free_all(s, 2);
	free_all(d, 2);
}

static void test_match_reused_msgid(void **state)
{
	struct ident s[1], d[1];
	static const char *const sb[] = { "Invoice for March" };
	static const char *const db[] = { "Invoice for April" };
	struct fake f = { .bodies = { sb, db } };

	(void)state;
	/* A sender that reuses one Message-ID for different mails. */
	mk(&s[0], "Message-ID: <invoice@billing>\r\n\r\n", 900, 100);
	mk(&d[0], "Message-ID: <invoice@billing>\r\n\r\n", 901, 200);
	expect_pairs(s, 1, d, 1, fake_need, &f, "");
	assert_int_equal(f.calls[0], 1);
	assert_int_equal(f.calls[1], 1);
	assert_true(s[0].has_body);
	assert_true(d[0].has_body);
	free_all(s, 1);
	free_all(d, 1);
}

static void test_match_counted(void **state)
{
	struct ident s[2], d[2];
	static const char *const body2[] = { "same body", "same body" };
	struct fake f = { .bodies = { body2, body2 } };

	(void)state;
	/* Held twice on src, once on dst: one pair, one left to copy. */
	mk(&s[0], "Message-ID: <twice@x>\r\n\r\n", 300, 10);
	mk(&s[1], "Message-ID: <twice@x>\r\n\r\n", 300, 10);
	mk(&d[0], "Message-ID: <twice@x>\r\n\r\n", 300, 10);
	expect_pairs(s, 2, d, 1, never_called, NULL, "0:0");
	/* Twice on both: two pairs. */
	mk(&d[1], "Message-ID: <twice@x>\r\n\r\n", 300, 10);
	expect_pairs(s, 2, d, 2, never_called, NULL, "0:0 1:1");
	free_all(d, 2);

	/* The same with relay-style copies that need hashes. */
	mk(&d[0], "Message-ID: <twice@x>\r\n\r\n", 333, 11);
	expect_pairs(s, 2, d, 1, fake_need, &f, "0:0");
	assert_int_equal(f.n[0], 2);
	assert_int_equal(f.n[1], 1);
	free_all(s, 2);
	free_all(d, 1);

	memset(&f.calls, 0, sizeof f.calls);
	mk(&s[0], "Message-ID: <twice@x>\r\n\r\n", 300, 10);
	mk(&s[1], "Message-ID: <twice@x>\r\n\r\n", 300, 12);
	mk(&d[0], "Message-ID: <twice@x>\r\n\r\n", 333, 11);
	mk(&d[1], "Message-ID: <twice@x>\r\n\r\n", 333, 13);
	expect_pairs(s, 2, d, 2, fake_need, &f, "0:0 1:1");
	free_all(s, 2);
	free_all(d, 2);

	/* Held once on src, twice on dst: one pair, the lowest dst. */
	mk(&s[0], "Message-ID: <twice@x>\r\n\r\n", 300, 10);
	mk(&d[0], "Message-ID: <twice@x>\r\n\r\n", 333, 11);
	mk(&d[1], "Message-ID: <twice@x>\r\n\r\n", 333, 13);
	expect_pairs(s, 1, d, 2, fake_need, &f, "0:0");
	free_all(s, 1);
	free_all(d, 2);
}

static void test_match_no_msgid(void **state)
{
	struct ident s[3], d[3];
	static const char *const sb[] = { "note body", "other", "draft A" };
	static const char *const db[] = { "draft B", "unused", "note body" };
	struct fake f = { .bodies = { sb, db } };

	(void)state;
	/* No Message-ID: Date/From/Subject plus the body decide. */
	mk(&s[0], "Date: Tue, 2 Jan 2024\r\nFrom: a@x\r\nSubject: note\r\n\r\n", 50, 1);
	mk(&s[1], "Subject: unique\r\n\r\n", 60, 2);
	mk(&s[2], "Subject: draft\r\n\r\n", 70, 3);
	mk(&d[0], "Subject: draft\r\n\r\n", 75, 4);
	mk(&d[1], "Message-ID: <has-one@x>\r\nSubject: note\r\n\r\n", 50, 1);
	mk(&d[2], "Subject: note\r\nDate: Tue, 2 Jan 2024\r\nFrom: a@x\r\n\r\n", 55, 5);
	/* s0-d2: same headers and body -> pair. s2-d0: same headers, body
	 * differs -> both stay. d1 has a Message-ID: never a candidate for a
	 * message without one. */
	expect_pairs(s, 3, d, 3, fake_need, &f, "0:2");
	assert_int_equal(f.n[0], 2);
	assert_int_equal(f.idx[0][0], 0);
	assert_int_equal(f.idx[0][1], 2);
	assert_int_equal(f.n[1], 2);
	assert_int_equal(f.idx[1][0], 0);
	assert_int_equal(f.idx[1][1], 2);
	free_all(s, 3);
	free_all(d, 3);
}

static void test_match_need_bodies_once(void **state)
{
	struct ident s[6], d[5];
	static const char *const sb[] = { "b0", "b1", "b2", "b3", "b4", "b5" };
	static const char *const db[] = { "b1", "b0", "zz", "b3", "b5" };
	struct fake f = { .bodies = { sb, db } };

	(void)state;
	mk(&s[0], "Message-ID: <m0>\r\n\r\n", 1, 1);
	mk(&s[1], "Message-ID: <m1>\r\n\r\n", 1, 1);
	mk(&s[2], "Message-ID: <m2>\r\n\r\n", 1, 1);   /* own copy of d2 */
	mk(&s[3], "Subject: s3\r\n\r\n", 1, 1);
	mk(&s[4], "Message-ID: <m4>\r\n\r\n", 1, 1);   /* no candidate */
	mk(&s[5], "Subject: s5\r\n\r\n", 1, 1);
	mk(&d[0], "Message-ID: <m1>\r\n\r\n", 2, 2);
	mk(&d[1], "Message-ID: <m0>\r\n\r\n", 2, 2);
	mk(&d[2], "Message-ID: <m2>\r\n\r\n", 1, 1);
	mk(&d[3], "Subject: s3\r\n\r\n", 2, 2);
	mk(&d[4], "Subject: s5\r\n\r\n", 2, 2);
	/* s5's hash is known already: it is not asked for again. */
	hash_into(&s[5], "b5");
	expect_pairs(s, 6, d, 5, fake_need, &f, "0:1 1:0 2:2 3:3 5:4");
	assert_int_equal(f.calls[0], 1);
	assert_int_equal(f.calls[1], 1);
	assert_int_equal(f.n[0], 3);
	assert_int_equal(f.idx[0][0], 0);
	assert_int_equal(f.idx[0][1], 1);
	assert_int_equal(f.idx[0][2], 3);
	assert_int_equal(f.n[1], 4);
	assert_int_equal(f.idx[1][0], 0);
	assert_int_equal(f.idx[1][1], 1);
	assert_int_equal(f.idx[1][2], 3);
	assert_int_equal(f.idx[1][3], 4);
	assert_false(s[2].has_body);
	assert_false(s[4].has_body);
	assert_false(d[2].has_body);

	/* A hash that cannot be had: that message matches nothing by 3-4. */
	static const char *const sb2[] = { NULL, "b1", NULL, "b3", NULL, "b5" };
	struct fake g = { .bodies = { sb2, db } };
	for (size_t i = 0; i < 6; i++)
		s[i].has_body = false;
	for (size_t i = 0; i < 5; i++)
		d[i].has_body = false;
	expect_pairs(s, 6, d, 5, fake_need, &g, "1:0 2:2 3:3 5:4");
	assert_false(s[0].has_body);
	free_all(s, 6);
	free_all(d, 5);
}

static void test_match_need_bodies_fails(void **state)
{
	struct ident s[1], d[1];
	static const char *const b[] = { "x" };
	struct ident_pair *p = (void *)1;
	size_t np = 7;
	struct err err;

	(void)state;
	mk(&s[0], "Message-ID: <m>\r\n\r\n", 1, 1);
	mk(&d[0], "Message-ID: <m>\r\n\r\n", 2, 2);
	for (int side = 0; side < 2; side++) {
		struct fake f = { .bodies = { b, b } };
		f.fail_side[side] = true;
		s[0].has_body = d[0].has_body = false;
		err_clear(&err);
		assert_false(ident_match(s, 1, d, 1, fake_need, &f, &p, &np, &err));
		assert_true(err_is_set(&err));
		assert_int_equal(err.kind, ERR_KIND_CONNECT);
		assert_non_null(strstr(err.msg, "connection lost"));
		assert_null(p);
		assert_int_equal(np, 0);
		/* A failing src side stops before dst is asked. */
		assert_int_equal(f.calls[1], side == 0 ? 0 : 1);
	}
	free_all(s, 1);
	free_all(d, 1);
}

static void test_match_empty(void **state)
{
	struct ident s[1];

	(void)state;
	expect_pairs(NULL, 0, NULL, 0, never_called, NULL, "");
	mk(&s[0], "Message-ID: <m>\r\n\r\n", 1, 1);
	expect_pairs(s, 1, NULL, 0, never_called, NULL, "");
	expect_pairs(NULL, 0, s, 1, never_called, NULL, "");
	/* No need_bodies at all: candidates without a hash simply stay. */
	struct ident d[1];
	mk(&d[0], "Message-ID: <m>\r\n\r\n", 2, 2);
	expect_pairs(s, 1, d, 1, NULL, NULL, "");
	hash_into(&s[0], "x");
	hash_into(&d[0], "x");
	expect_pairs(s, 1, d, 1, NULL, NULL, "0:0");
	free_all(s, 1);
	free_all(d, 1);
}

/* ---- randomized comparison with a plain transcription of the rules ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static const char *const bodies_pool[] = { "A", "B", "C" };

static bool random_need(void *ctx, int side, struct ident *v, const size_t *idx, size_t n,
			struct err *err)
{
	const unsigned char (*choice)[64] = ctx;

	(void)err;
	for (size_t k = 0; k < n; k++) {
		unsigned c = choice[side][idx[k]];
		if (c < 3)
			hash_into(&v[idx[k]], bodies_pool[c]);
	}
	return true;
}

static bool same_key(const struct ident *a, const struct ident *b)
{
	if (a->msgid != NULL || b->msgid != NULL)
		return a->msgid != NULL && b->msgid != NULL && strcmp(a->msgid, b->msgid) == 0;
	return strcmp(a->hdrkey, b->hdrkey) == 0;
}

/* The rules as the brief states them, O(n*m), on final has_body states. */
static void reference(const struct ident *s, size_t ns, const struct ident *d, size_t nd,
		      size_t *s2d)
{
	bool used[64] = { false };

	for (size_t i = 0; i < ns; i++)
		s2d[i] = SIZE_MAX;
	for (int rule = 1; rule <= 3; rule++)
		for (size_t i = 0; i < ns; i++) {
			if (s2d[i] != SIZE_MAX)
				continue;
			for (size_t j = 0; j < nd; j++) {
				bool ok;
				if (used[j])
					continue;
				if (rule == 1)
					ok = s[i].trace && d[j].trace &&
					     strcmp(s[i].trace, d[j].trace) == 0;
				else if (rule == 2)
					ok = same_key(&s[i], &d[j]) && s[i].size == d[j].size &&
					     s[i].date == d[j].date;
				else
					ok = same_key(&s[i], &d[j]) && s[i].has_body &&
					     d[j].has_body &&
					     memcmp(s[i].body, d[j].body, 32) == 0;
				if (ok) {
					s2d[i] = j;
					used[j] = true;
					break;
				}
			}
		}
}

static void test_match_random_vs_reference(void **state)
{
	static const char *const hdrs[] = {
		"Message-ID: <a>\r\n\r\n",
		"Message-ID: <b>\r\n\r\n",
		"X-Mailshift-Trace: t1\r\nMessage-ID: <a>\r\n\r\n",
		"X-Mailshift-Trace: t2\r\nMessage-ID: <b>\r\n\r\n",
		"X-Mailshift-Trace: t1\r\n\r\n",
		"Subject: s\r\n\r\n",
		"Subject: r\r\n\r\n",
		"\r\n",
	};

	(void)state;
	for (int round = 0; round < 3000; round++) {
		struct ident s[64], d[64];
		unsigned char choice[2][64];
		size_t ns = rnd(20), nd = rnd(20), s2d[64];
		struct ident_pair *p;
		size_t np;
		struct err err;

		for (size_t i = 0; i < ns; i++) {
			mk(&s[i], hdrs[rnd(8)], rnd(2), rnd(2));
			choice[0][i] = (unsigned char)rnd(4);
			if (rnd(5) == 0)
				hash_into(&s[i], bodies_pool[rnd(3)]);
		}
		for (size_t j = 0; j < nd; j++) {
			mk(&d[j], hdrs[rnd(8)], rnd(2), rnd(2));
			choice[1][j] = (unsigned char)rnd(4);
			if (rnd(5) == 0)
				hash_into(&d[j], bodies_pool[rnd(3)]);
		}
		assert_true(ident_match(s, ns, d, nd, random_need, choice, &p, &np, &err));
		reference(s, ns, d, nd, s2d);
		size_t k = 0;
		for (size_t i = 0; i < ns; i++) {
			if (s2d[i] == SIZE_MAX)
				continue;
			if (k >= np || p[k].src != i || p[k].dst != s2d[i])
				fail_msg("round %d: pair %zu differs from the reference", round, k);
			k++;
		}
		assert_int_equal(k, np);
		free(p);
		free_all(s, ns);
		free_all(d, nd);
	}
}

/* ---- 100k x 100k ---- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_match_100k(void **state)
{
	const size_t n = 100000;
	struct ident *s = xcalloc(n, sizeof *s), *d = xcalloc(n, sizeof *d);
	char hdr[128];
	struct ident_pair *p;
	size_t np;
	struct err err;
	double t0, t1, t2;

	(void)state;
	t0 = now();
	for (size_t i = 0; i < n; i++) {
		/* Every 10th without Message-ID, 1% of them sharing one. */
		if (i % 10 == 0)
			snprintf(hdr, sizeof hdr, "Subject: note %zu\r\n\r\n", i % 1000 ? i : 0);
		else
			snprintf(hdr, sizeof hdr, "Message-ID: <%zu.%zu@example.jp>\r\n\r\n",
				 i * 7919 % n, i);
		mk(&s[i], hdr, 1000 + i % 5000, 1700000000 + (long long)i);
		/* dst holds the same set in reverse order. */
		mk(&d[n - 1 - i], hdr, 1000 + i % 5000, 1700000000 + (long long)i);
	}
	t1 = now();
	assert_true(ident_match(s, n, d, n, never_called, NULL, &p, &np, &err));
	t2 = now();
	assert_int_equal(np, n);
	for (size_t k = 0; k < np; k++) {
		assert_int_equal(p[k].src, k);
		assert_int_equal(p[k].dst, n - 1 - k);
	}
	print_message("100k x 100k own-copy match: %.3f s (parse %.3f s)\n", t2 - t1, t1 - t0);
	assert_true(t2 - t1 < 5.0);
	free(p);

	/* Worst case for a per-key scan: 100k messages without any header
	 * on each side, all sharing one key; half have equal bodies. */
	for (size_t i = 0; i < n; i++) {
		ident_free(&s[i]);
		ident_free(&d[i]);
		parse(&s[i], "\r\n");
		parse(&d[i], "\r\n");
		s[i].size = 1;
		d[i].size = 2;
		char b[32];
		snprintf(b, sizeof b, "%zu", i);
		hash_into(&s[i], b);
		snprintf(b, sizeof b, "%zu", i % 2 ? i : n + i);
		hash_into(&d[i], b);
	}
	t1 = now();
	assert_true(ident_match(s, n, d, n, never_called, NULL, &p, &np, &err));
	t2 = now();
	assert_int_equal(np, n / 2);
	for (size_t k = 0; k < np; k++) {
		assert_int_equal(p[k].src, 2 * k + 1);
		assert_int_equal(p[k].dst, 2 * k + 1);
	}
	print_message("100k x 100k one shared key, body hashes: %.3f s\n", t2 - t1);
	assert_true(t2 - t1 < 5.0);
	free(p);
	free_all(s, n);
	free_all(d, n);
	free(s);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_basic),
		cmocka_unit_test(test_parse_lf_and_order),
		cmocka_unit_test(test_parse_folded),
		cmocka_unit_test(test_parse_missing),
		cmocka_unit_test(test_parse_repeated),
		cmocka_unit_test(test_parse_msgid_forms),
		cmocka_unit_test(test_parse_block_end),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_parse_nul),
		cmocka_unit_test(test_parse_long),
		cmocka_unit_test(test_parse_prefix_only),
		cmocka_unit_test(test_body_hash_vectors),
		cmocka_unit_test(test_match_trace),
		cmocka_unit_test(test_match_own_copy),
		cmocka_unit_test(test_match_relay_copy),
		cmocka_unit_test(test_match_postfix_bcc),
		cmocka_unit_test(test_match_reused_msgid),
		cmocka_unit_test(test_match_counted),
		cmocka_unit_test(test_match_no_msgid),
		cmocka_unit_test(test_match_need_bodies_once),
		cmocka_unit_test(test_match_need_bodies_fails),
		cmocka_unit_test(test_match_empty),
		cmocka_unit_test(test_match_random_vs_reference),
		cmocka_unit_test(test_match_100k),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
