/* test_imap_parser.c — unit tests of the resumable IMAP response parser.
 *
 * Every input goes through check(): it is fed whole, one byte at a time,
 * and split in two at every position (plus fixed-size chunks), and each
 * run is rendered as a transcript (responses as trees, streamed literals
 * with their data, errors); all transcripts must be identical and equal
 * to the expected one. So a test states the exact tree once and also
 * proves that chunking cannot change it.
 *
 * Transcript lines:
 *   R <response>         a response; args as A'atom' S'quoted' L'literal'
 *                        NIL (list) STREAM{n}; status responses as
 *                        "<tag|*> STATUS [code]|- 'text'", continuations "+ 'text'"
 *   B n section seq=N uid=N [lit8]   LITERAL_BEGIN
 *   E n 'data'           LITERAL_END with the bytes streamed (fnv64 if long)
 *   X message            ERROR
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <malloc.h>

/* Bytes of heap in use, to show that streaming does not allocate. */
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
size_t __sanitizer_get_current_allocated_bytes(void);
static size_t heap_in_use(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}
#endif

#include "core/alloc.h"
#include "core/buf.h"
#include "proto/imap_parser.h"

/* ---- transcript ----------------------------------------------------- */

struct tr {
	struct buf out;   /* the transcript */
	struct buf lit;   /* data of the streamed literal in progress */
	struct buf all;   /* all streamed data, concatenated */
	bool in_lit;
	uint64_t lit_size;
};

static void tr_init(struct tr *t)
{
	buf_init(&t->out, 0);
	buf_init(&t->lit, 0);
	buf_init(&t->all, 0);
	buf_append_str(&t->out, "");
	t->in_lit = false;
	t->lit_size = 0;
}

static void tr_free(struct tr *t)
{
	buf_free(&t->out);
	buf_free(&t->lit);
	buf_free(&t->all);
}

static void dump_str(struct buf *b, const char *s, size_t n)
{
	buf_append_char(b, '\'');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\'')
			buf_append_str(b, "\\'");
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(b, "\\x%02x", c);
		else
			buf_append_char(b, (char)c);
	}
	buf_append_char(b, '\'');
}

static void dump_arg(struct buf *b, const struct imap_arg *a)
{
	switch (a->type) {
	case IMAP_ARG_ATOM:
		assert_non_null(a->str);
		assert_false(a->literal);
		assert_true(a->len > 0);
		assert_int_equal(strlen(a->str), a->len);
		buf_append_char(b, 'A');
		dump_str(b, a->str, (size_t)a->len);
		break;
	case IMAP_ARG_STRING:
		assert_non_null(a->str);
		assert_int_equal(a->str[a->len], '\0');
		if (!a->literal)
			assert_int_equal(strlen(a->str), a->len);
		buf_append_char(b, a->literal ? 'L' : 'S');
		dump_str(b, a->str, (size_t)a->len);
		break;
	case IMAP_ARG_NIL:
		assert_null(a->str);
		assert_false(a->literal);
		buf_append_str(b, "NIL");
		break;
	case IMAP_ARG_LIST:
		assert_null(a->str);
		assert_false(a->literal);
		if (a->list_count > 0)
			assert_non_null(a->list);
		buf_append_char(b, '(');
		for (size_t i = 0; i < a->list_count; i++) {
			if (i > 0)
				buf_append_char(b, ' ');
			dump_arg(b, &a->list[i]);
		}
		buf_append_char(b, ')');
		break;
	case IMAP_ARG_LITERAL_STREAMED:
		assert_null(a->str);
		assert_true(a->literal);
		buf_printf(b, "STREAM{%" PRIu64 "}", a->len);
		break;
	default:
		fail_msg("bad arg type %d", (int)a->type);
	}
	if (a->type != IMAP_ARG_LIST)
		assert_int_equal(a->list_count, 0);
}

static const char *const status_names[] = { "NONE", "OK", "NO", "BAD", "PREAUTH", "BYE" };

static void dump_status(struct buf *b, const struct imap_response *r)
{
	buf_printf(b, " %s ", status_names[r->status]);
	if (r->code != NULL) {
		buf_append_char(b, '[');
		buf_append_str(b, r->code);
		buf_append_char(b, ']');
	} else {
		buf_append_char(b, '-');
	}
	buf_append_char(b, ' ');
	assert_non_null(r->text);
	dump_str(b, r->text, strlen(r->text));
	assert_null(r->args);
	assert_int_equal(r->arg_count, 0);
}

static void dump_response(struct buf *b, const struct imap_response *r)
{
	buf_append_str(b, "R ");
	switch (r->kind) {
	case IMAP_RESP_TAGGED:
		assert_non_null(r->tag);
		assert_true(r->status == IMAP_STATUS_OK || r->status == IMAP_STATUS_NO ||
			    r->status == IMAP_STATUS_BAD);
		buf_append_str(b, r->tag);
		dump_status(b, r);
		break;
	case IMAP_RESP_CONTINUATION:
		assert_null(r->tag);
		assert_null(r->code);
		assert_int_equal(r->status, IMAP_STATUS_NONE);
		assert_null(r->args);
		assert_int_equal(r->arg_count, 0);
		assert_non_null(r->text);
		buf_append_str(b, "+ ");
		dump_str(b, r->text, strlen(r->text));
		break;
	case IMAP_RESP_UNTAGGED:
		assert_null(r->tag);
		buf_append_char(b, '*');
		if (r->status != IMAP_STATUS_NONE) {
			dump_status(b, r);
			break;
		}
		assert_null(r->code);
		assert_null(r->text);
		assert_true(r->arg_count > 0);
		for (size_t i = 0; i < r->arg_count; i++) {
			buf_append_char(b, ' ');
			dump_arg(b, &r->args[i]);
		}
		break;
	default:
		fail_msg("bad response kind %d", (int)r->kind);
	}
	buf_append_char(b, '\n');
}

static uint64_t fnv64(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Feeds one chunk until the parser wants more; false once it is dead. */
static bool feed_chunk(struct imap_parser *p, const unsigned char *c, size_t n, struct tr *t)
{
	for (;;) {
		size_t used = (size_t)-1;
		enum imap_parse_result r = imap_parser_feed(p, c, n, &used);
		const struct imap_literal_info *li;

		assert_true(used <= n);
		switch (r) {
		case IMAP_PARSE_NEED_MORE:
			assert_int_equal(used, n);
			assert_null(imap_parser_response(p));
			return true;
		case IMAP_PARSE_RESPONSE:
			assert_false(t->in_lit);
			assert_non_null(imap_parser_response(p));
			dump_response(&t->out, imap_parser_response(p));
			break;
		case IMAP_PARSE_LITERAL_BEGIN:
			assert_false(t->in_lit);
			assert_null(imap_parser_response(p));
			li = imap_parser_literal(p);
			assert_non_null(li);
			assert_non_null(li->section);
			buf_printf(&t->out, "B %" PRIu64 " %s seq=%" PRIu32 " uid=%" PRIu32 "%s\n",
				   li->size, li->section, li->fetch_seq, li->fetch_uid,
				   li->literal8 ? " lit8" : "");
			t->in_lit = true;
			t->lit_size = li->size;
			buf_reset(&t->lit);
			break;
		case IMAP_PARSE_LITERAL_DATA:
			assert_true(t->in_lit);
			assert_true(used > 0);
			assert_true(used <= t->lit_size - t->lit.len);
			assert_non_null(imap_parser_literal(p));
			buf_append(&t->lit, c, used);
			buf_append(&t->all, c, used);
			break;
		case IMAP_PARSE_LITERAL_END:
			assert_true(t->in_lit);
			assert_int_equal(used, 0);
			assert_int_equal(t->lit.len, t->lit_size);
			li = imap_parser_literal(p);
			assert_non_null(li);
			assert_int_equal(li->size, t->lit_size);
			buf_printf(&t->out, "E %zu ", t->lit.len);
			if (t->lit.len <= 64)
				dump_str(&t->out, t->lit.data ? t->lit.data : "", t->lit.len);
			else
				buf_printf(&t->out, "fnv=%016" PRIx64,
					   fnv64(t->lit.data, t->lit.len));
			buf_append_char(&t->out, '\n');
			t->in_lit = false;
			break;
		case IMAP_PARSE_ERROR: {
			const char *msg = imap_parser_error(p);
			assert_non_null(msg);
			assert_true(strlen(msg) > 10);
			assert_null(strchr(msg, '\n'));
			buf_printf(&t->out, "X %s\n", msg);
			/* The parser stays dead, with the same message. */
			char *copy = xstrdup(msg);
			size_t u2 = 99;
			assert_int_equal(imap_parser_feed(p, (const unsigned char *)"* OK\r\n", 6, &u2),
					 IMAP_PARSE_ERROR);
			assert_int_equal(u2, 0);
			assert_string_equal(imap_parser_error(p), copy);
			free(copy);
			return false;
		}
		default:
			fail_msg("bad result %d", (int)r);
		}
		c += used;
		n -= used;
	}
}

enum mode { WHOLE, BYTES, SPLIT, FIXED };

static void run(const struct imap_parser_limits *lim, const void *data, size_t len, enum mode mode,
		size_t k, struct tr *t)
{
	const unsigned char *in = data;
	struct imap_parser *p = imap_parser_new(lim);
	size_t pos = 0;
	bool alive = true;

	assert_non_null(p);
	assert_string_equal(imap_parser_error(p), "");
	while (alive && pos < len) {
		size_t n = len - pos;
		if (mode == BYTES)
			n = 1;
		else if (mode == SPLIT && pos < k)
			n = k - pos;
		else if (mode == FIXED && n > k)
			n = k;
		alive = feed_chunk(p, in + pos, n, t);
		pos += n;
	}
	if (alive) {
		size_t used = 7;
		assert_int_equal(imap_parser_feed(p, NULL, 0, &used), IMAP_PARSE_NEED_MORE);
		assert_int_equal(used, 0);
	}
	imap_parser_free(&p);
	assert_null(p);
}

static void check_(const struct imap_parser_limits *lim, const void *in, size_t len,
		   const char *expected, const char *file, int line)
{
	struct tr whole, other;

	tr_init(&whole);
	run(lim, in, len, WHOLE, 0, &whole);
	if (strcmp(whole.out.data, expected) != 0) {
		print_error("%s:%d: transcript\n---- got\n%s---- expected\n%s----\n", file, line,
			    whole.out.data, expected);
		fail();
	}
	for (int mode = BYTES; mode <= FIXED; mode++) {
		size_t kmax = mode == SPLIT ? len : mode == FIXED ? 3 : 1;
		if (mode == SPLIT && len > 8192)
			kmax = 0;
		for (size_t k = 1; k < kmax || (k == 1 && mode == BYTES); k++) {
			size_t kk = mode == FIXED ? (k == 1 ? 7 : 4096) : k;
			tr_init(&other);
			run(lim, in, len, (enum mode)mode, kk, &other);
			if (strcmp(other.out.data, whole.out.data) != 0 ||
			    other.all.len != whole.all.len ||
			    (whole.all.len > 0 &&
			     memcmp(other.all.data, whole.all.data, whole.all.len) != 0)) {
				print_error("%s:%d: mode %d k=%zu differs\n---- got\n%s---- whole\n%s",
					    file, line, mode, kk, other.out.data, whole.out.data);
				fail();
			}
			tr_free(&other);
		}
	}
	tr_free(&whole);
}

#define CHECK(lim, in, expected) check_((lim), (in), sizeof(in) - 1, (expected), __FILE__, __LINE__)

/* ---- status responses ----------------------------------------------- */

static void test_tagged(void **state)
{
	(void)state;
	CHECK(NULL, "a1 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n",
	      "R a1 OK [READ-WRITE] 'Select completed (0.001 + 0.000 secs).'\n");
	CHECK(NULL, "a2 NO [TRYCREATE] Mailbox does not exist: Foo\r\n",
	      "R a2 NO [TRYCREATE] 'Mailbox does not exist: Foo'\n");
	CHECK(NULL, "A0003 bad Error in IMAP command: Unknown command.\r\n",
	      "R A0003 BAD - 'Error in IMAP command: Unknown command.'\n");
	CHECK(NULL, "a4 OK\r\n", "R a4 OK - ''\n");
	CHECK(NULL, "a5 Ok [APPENDUID 38505 3955] Append completed.\r\n",
	      "R a5 OK [APPENDUID 38505 3955] 'Append completed.'\n");
	CHECK(NULL, "a6 NO [ALERT]\r\n", "R a6 NO [ALERT] ''\n");
	CHECK(NULL, "x]y.1 OK [COPYUID 1 2:3 4,5]  two spaces kept\r\n",
	      "R x]y.1 OK [COPYUID 1 2:3 4,5] ' two spaces kept'\n");
	/* A text that only looks like a code or a literal is text. */
	CHECK(NULL, "t OK text [not a code] {5}\r\n", "R t OK - 'text [not a code] {5}'\n");

	/* The struct itself, not only its rendering. */
	struct imap_parser *p = imap_parser_new(NULL);
	const unsigned char in[] = "a1 NO [OVERQUOTA] Quota exceeded\r\n";
	size_t used = 0;
	assert_int_equal(imap_parser_feed(p, in, sizeof in - 1, &used), IMAP_PARSE_RESPONSE);
	assert_int_equal(used, sizeof in - 1);
	const struct imap_response *r = imap_parser_response(p);
	assert_non_null(r);
	assert_int_equal(r->kind, IMAP_RESP_TAGGED);
	assert_string_equal(r->tag, "a1");
	assert_int_equal(r->status, IMAP_STATUS_NO);
	assert_string_equal(r->code, "OVERQUOTA");
	assert_string_equal(r->text, "Quota exceeded");
	assert_null(r->args);
	assert_int_equal(r->arg_count, 0);
	assert_null(imap_parser_literal(p));
	assert_int_equal(imap_parser_feed(p, in, 0, &used), IMAP_PARSE_NEED_MORE);
	assert_int_equal(used, 0);
	assert_null(imap_parser_response(p));
	imap_parser_free(&p);
	imap_parser_free(&p);  /* NULL is fine */
}

static void test_untagged_status(void **state)
{
	(void)state;
	CHECK(NULL,
	      "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
	      "STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n",
	      "R * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
	      "STARTTLS AUTH=PLAIN] 'Dovecot (Debian) ready.'\n");
	CHECK(NULL,
	      "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags "
	      "permitted.\r\n",
	      "R * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] 'Flags "
	      "permitted.'\n");
	CHECK(NULL, "* ok [UIDVALIDITY 1700000000] UIDs valid\r\n",
	      "R * OK [UIDVALIDITY 1700000000] 'UIDs valid'\n");
	CHECK(NULL, "* OK [UNSEEN 3]\r\n", "R * OK [UNSEEN 3] ''\n");
	CHECK(NULL, "* BYE Logging out\r\n", "R * BYE - 'Logging out'\n");
	CHECK(NULL, "* BYE\r\n", "R * BYE - ''\n");
	CHECK(NULL, "* bye [UNAVAILABLE] Server shutting down.\r\n",
	      "R * BYE [UNAVAILABLE] 'Server shutting down.'\n");
	CHECK(NULL, "* PREAUTH [CAPABILITY IMAP4rev1 LITERAL+] Logged in as bob\r\n",
	      "R * PREAUTH [CAPABILITY IMAP4rev1 LITERAL+] 'Logged in as bob'\n");
	CHECK(NULL, "* NO [ALERT] Quota at 95%\r\n", "R * NO [ALERT] 'Quota at 95%'\n");
	CHECK(NULL, "* BAD Unknown\tthing\r\n", "R * BAD - 'Unknown\\x09thing'\n");
	/* Nested brackets are matched; an unclosed '[' is text. */
	CHECK(NULL, "* OK [X [a] b] c\r\n", "R * OK [X [a] b] 'c'\n");
	CHECK(NULL, "* OK [no end here\r\n", "R * OK - '[no end here'\n");
	CHECK(NULL, "* OK []\r\n", "R * OK [] ''\n");
	/* UTF-8 text passes through. */
	CHECK(NULL, "* OK \xe3\x81\x82\r\n", "R * OK - '\\xe3\\x81\\x82'\n");
	/* "OKAY" is not OK: it is data. */
	CHECK(NULL, "* OKAY fine\r\n", "R * A'OKAY' A'fine'\n");
}

static void test_continuation(void **state)
{
	(void)state;
	CHECK(NULL, "+ Ready for literal data\r\n", "R + 'Ready for literal data'\n");
	CHECK(NULL, "+\r\n", "R + ''\n");
	CHECK(NULL, "+ \r\n", "R + ''\n");
	CHECK(NULL, "+ dGVzdA==\r\n", "R + 'dGVzdA=='\n");
	CHECK(NULL, "+ idling\r\n* 3 EXISTS\r\n",
	      "R + 'idling'\n"
	      "R * A'3' A'EXISTS'\n");
	/* A continuation never holds a literal, whatever it looks like. */
	CHECK(NULL, "+ {5}\r\n", "R + '{5}'\n");
}

/* ---- data responses ------------------------------------------------- */

static void test_capability(void **state)
{
	(void)state;
	CHECK(NULL, "* CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ AUTH=PLAIN X-[A B]\r\n",
	      "R * A'CAPABILITY' A'IMAP4rev1' A'SASL-IR' A'ID' A'ENABLE' A'IDLE' A'LITERAL+' "
	      "A'AUTH=PLAIN' A'X-[A B]'\n");

	struct imap_parser *p = imap_parser_new(NULL);
	const unsigned char in[] = "* CAPABILITY IMAP4rev1 MOVE\r\n";
	size_t used;
	assert_int_equal(imap_parser_feed(p, in, sizeof in - 1, &used), IMAP_PARSE_RESPONSE);
	const struct imap_response *r = imap_parser_response(p);
	assert_int_equal(r->kind, IMAP_RESP_UNTAGGED);
	assert_int_equal(r->status, IMAP_STATUS_NONE);
	assert_null(r->tag);
	assert_null(r->code);
	assert_null(r->text);
	assert_int_equal(r->arg_count, 3);
	assert_int_equal(r->args[0].type, IMAP_ARG_ATOM);
	assert_string_equal(r->args[0].str, "CAPABILITY");
	assert_int_equal(r->args[0].len, 10);
	assert_true(imap_arg_is(&r->args[0], "capability"));
	assert_string_equal(imap_arg_str(&r->args[1]), "IMAP4rev1");
	assert_string_equal(r->args[2].str, "MOVE");
	imap_parser_free(&p);
}

static void test_list(void **state)
{
	(void)state;
	CHECK(NULL, "* LIST (\\HasNoChildren) \"/\" INBOX\r\n",
	      "R * A'LIST' (A'\\HasNoChildren') S'/' A'INBOX'\n");
	CHECK(NULL, "* LIST (\\HasChildren \\Noselect) NIL \"\"\r\n",
	      "R * A'LIST' (A'\\HasChildren' A'\\Noselect') NIL S''\n");
	CHECK(NULL, "* LIST (\\HasNoChildren \\Sent) \".\" \"Sent Items\"\r\n",
	      "R * A'LIST' (A'\\HasNoChildren' A'\\Sent') S'.' S'Sent Items'\n");
	CHECK(NULL, "* LIST (\\HasNoChildren) \"/\" \"&ZeVnLIqe-\"\r\n",
	      "R * A'LIST' (A'\\HasNoChildren') S'/' S'&ZeVnLIqe-'\n");
	/* Mailbox name as a literal: inline even with stream_literal_min 0. */
	CHECK(NULL, "* LIST (\\HasNoChildren) \"/\" {9}\r\nFoo (bar)\r\n",
	      "R * A'LIST' (A'\\HasNoChildren') S'/' L'Foo (bar)'\n");
	CHECK(NULL, "* LSUB () \"/\" {11}\r\nRe: \"x\" (y)\r\n",
	      "R * A'LSUB' () S'/' L'Re: \"x\" (y)'\n");
	CHECK(NULL, "* LIST (\\Subscribed) \"/\" \"a\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
	      "R * A'LIST' (A'\\Subscribed') S'/' S'a' (S'CHILDINFO' (S'SUBSCRIBED'))\n");
	CHECK(NULL, "* STATUS \"Sent\" (MESSAGES 2 UIDNEXT 3 UNSEEN 0)\r\n",
	      "R * A'STATUS' S'Sent' (A'MESSAGES' A'2' A'UIDNEXT' A'3' A'UNSEEN' A'0')\n");
}

static void test_namespace(void **state)
{
	(void)state;
	CHECK(NULL, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n",
	      "R * A'NAMESPACE' ((S'' S'/')) NIL NIL\n");
	CHECK(NULL,
	      "* NAMESPACE ((\"INBOX.\" \".\")) ((\"user.\" \".\")) ((\"shared.\" \".\" "
	      "\"X-PARAM\" (\"a\" \"b\")))\r\n",
	      "R * A'NAMESPACE' ((S'INBOX.' S'.')) ((S'user.' S'.')) ((S'shared.' S'.' "
	      "S'X-PARAM' (S'a' S'b')))\n");
}

static void test_misc_data(void **state)
{
	(void)state;
	CHECK(NULL, "* 23 EXISTS\r\n* 0 RECENT\r\n* 4 EXPUNGE\r\n",
	      "R * A'23' A'EXISTS'\n"
	      "R * A'0' A'RECENT'\n"
	      "R * A'4' A'EXPUNGE'\n");
	CHECK(NULL, "* SEARCH 1 4 9\r\n* SEARCH\r\n",
	      "R * A'SEARCH' A'1' A'4' A'9'\n"
	      "R * A'SEARCH'\n");
	CHECK(NULL, "* ESEARCH (TAG \"a7\") UID ALL 1:5,9 MODSEQ 12\r\n",
	      "R * A'ESEARCH' (A'TAG' S'a7') A'UID' A'ALL' A'1:5,9' A'MODSEQ' A'12'\n");
	CHECK(NULL, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\r\n",
	      "R * A'FLAGS' (A'\\Answered' A'\\Flagged' A'\\Deleted' A'\\Seen' A'\\Draft' "
	      "A'$Forwarded')\n");
	CHECK(NULL, "* ID (\"name\" \"Dovecot\") \r\n* ENABLED QRESYNC\r\n",
	      "R * A'ID' (S'name' S'Dovecot')\n"
	      "R * A'ENABLED' A'QRESYNC'\n");
	/* Extra spaces are tolerated. */
	CHECK(NULL, "*  5   EXISTS \r\n", "R * A'5' A'EXISTS'\n");
	/* A bare LF ends a line too, also after a literal announcement. */
	CHECK(NULL, "* 5 EXISTS\n* LIST () \"/\" {3}\nabc\n",
	      "R * A'5' A'EXISTS'\n"
	      "R * A'LIST' () S'/' L'abc'\n");
	/* A '[' extends an atom to its ']'; an unmatched '[' does not. */
	CHECK(NULL, "* FLAGS ($a[b \\Seen) X[(a b) c]<0> [x y] a[]b\r\n",
	      "R * A'FLAGS' (A'$a[b' A'\\Seen') A'X[(a b) c]<0>' A'[x y]' A'a[]b'\n");
	/* Delimiters need no spaces around them; '{' ends an atom. */
	CHECK(NULL, "* X (a)(b)\"c\"d\r\n", "R * A'X' (A'a') (A'b') S'c' A'd'\n");
	CHECK(NULL, "* X a{3}\r\nxyz\r\n", "R * A'X' A'a' L'xyz'\n");
	/* Nested and unmatched brackets: "a[[b]" keeps its first '[' as a
	 * plain character and its second one closed by the ']'. */
	CHECK(NULL, "* X a[[b] c) [[x] y]\r\n",
	      "X unbalanced ')' in IMAP response\n");
	CHECK(NULL, "* X a[[b] c [[x] y]\r\n", "R * A'X' A'a[[b]' A'c' A'[[x] y]'\n");
}

static void test_quoted_nil_lists(void **state)
{
	(void)state;
	CHECK(NULL, "* LIST () \"\\\\\" \"a \\\"quoted\\\" \\\\ name\"\r\n",
	      "R * A'LIST' () S'\\' S'a \"quoted\" \\ name'\n");
	CHECK(NULL, "* X NIL \"NIL\" nil Nil NILS {3}\r\nNIL\r\n",
	      "R * A'X' NIL S'NIL' NIL NIL A'NILS' L'NIL'\n");
	CHECK(NULL, "* X () (()) (((a) b) ()) \"\"\r\n",
	      "R * A'X' () (()) (((A'a') A'b') ()) S''\n");
	/* Any escaped character stands for itself; 8-bit passes. */
	CHECK(NULL, "* X \"\\a\\\\\\\"\" \"\xc3\xa9\"\r\n", "R * A'X' S'a\\\"' S'\\xc3\\xa9'\n");

	/* NIL is NIL and "NIL" is a string, in the struct too. */
	struct imap_parser *p = imap_parser_new(NULL);
	const unsigned char in[] = "* X NIL \"NIL\" ()\r\n";
	size_t used;
	assert_int_equal(imap_parser_feed(p, in, sizeof in - 1, &used), IMAP_PARSE_RESPONSE);
	const struct imap_response *r = imap_parser_response(p);
	assert_int_equal(r->arg_count, 4);
	assert_int_equal(r->args[1].type, IMAP_ARG_NIL);
	assert_null(imap_arg_str(&r->args[1]));
	assert_false(imap_arg_is(&r->args[1], "NIL"));
	assert_int_equal(r->args[2].type, IMAP_ARG_STRING);
	assert_false(r->args[2].literal);
	assert_true(imap_arg_is(&r->args[2], "nil"));
	assert_int_equal(r->args[3].type, IMAP_ARG_LIST);
	assert_int_equal(r->args[3].list_count, 0);
	assert_null(imap_arg_str(&r->args[3]));
	imap_parser_free(&p);
}

/* ---- FETCH and literals --------------------------------------------- */

static void test_fetch_streamed(void **state)
{
	(void)state;
	CHECK(NULL, "* 12 FETCH (UID 345 FLAGS (\\Seen) BODY[] {5}\r\nhello)\r\n",
	      "B 5 BODY[] seq=12 uid=345\n"
	      "E 5 'hello'\n"
	      "R * A'12' A'FETCH' (A'UID' A'345' A'FLAGS' (A'\\Seen') A'BODY[]' STREAM{5})\n");
	/* BODY[] before UID: the UID is not known yet. */
	CHECK(NULL, "* 7 FETCH (BODY[] {3}\r\nabc UID 99)\r\n",
	      "B 3 BODY[] seq=7 uid=0\n"
	      "E 3 'abc'\n"
	      "R * A'7' A'FETCH' (A'BODY[]' STREAM{3} A'UID' A'99')\n");
	/* Two literals in one response; CRLF and ')' inside literal data. */
	CHECK(NULL,
	      "* 3 fetch (UID 10 RFC822.SIZE 44 BODY[HEADER] {6}\r\nH: v\r\n BODY[TEXT] {4}\r\n"
	      "b)\r\n FLAGS (\\Seen \\Flagged))\r\n",
	      "B 6 BODY[HEADER] seq=3 uid=10\n"
	      "E 6 'H: v\\x0d\\x0a'\n"
	      "B 4 BODY[TEXT] seq=3 uid=10\n"
	      "E 4 'b)\\x0d\\x0a'\n"
	      "R * A'3' A'fetch' (A'UID' A'10' A'RFC822.SIZE' A'44' A'BODY[HEADER]' STREAM{6} "
	      "A'BODY[TEXT]' STREAM{4} A'FLAGS' (A'\\Seen' A'\\Flagged'))\n");
	/* Section atoms with spaces and parentheses, partial fetch. */
	CHECK(NULL,
	      "* 1 FETCH (UID 8 BODY[HEADER.FIELDS (DATE FROM)]<0> {2}\r\nab "
	      "body[1.MIME] {1}\r\nc)\r\n",
	      "B 2 BODY[HEADER.FIELDS (DATE FROM)]<0> seq=1 uid=8\n"
	      "E 2 'ab'\n"
	      "B 1 body[1.MIME] seq=1 uid=8\n"
	      "E 1 'c'\n"
	      "R * A'1' A'FETCH' (A'UID' A'8' A'BODY[HEADER.FIELDS (DATE FROM)]<0>' STREAM{2} "
	      "A'body[1.MIME]' STREAM{1})\n");
	CHECK(NULL,
	      "* 2 FETCH (RFC822 {1}\r\na RFC822.HEADER {1}\r\nb rfc822.text {1}\r\nc UID 4)\r\n",
	      "B 1 RFC822 seq=2 uid=0\nE 1 'a'\n"
	      "B 1 RFC822.HEADER seq=2 uid=0\nE 1 'b'\n"
	      "B 1 rfc822.text seq=2 uid=0\nE 1 'c'\n"
	      "R * A'2' A'FETCH' (A'RFC822' STREAM{1} A'RFC822.HEADER' STREAM{1} "
	      "A'rfc822.text' STREAM{1} A'UID' A'4')\n");
	/* Zero-length body: BEGIN then END, no DATA. */
	CHECK(NULL, "* 1 FETCH (UID 2 BODY[] {0}\r\n)\r\n",
	      "B 0 BODY[] seq=1 uid=2\n"
	      "E 0 ''\n"
	      "R * A'1' A'FETCH' (A'UID' A'2' A'BODY[]' STREAM{0})\n");
	/* Not a body item: an ENVELOPE field or RFC822.SIZE is kept inline. */
	CHECK(NULL,
	      "* 4 FETCH (UID 3 ENVELOPE (\"date\" {7}\r\nsubject NIL) RFC822.SIZE {2}\r\n12 "
	      "BODY[] NIL BODY[1] \"q\")\r\n",
	      "R * A'4' A'FETCH' (A'UID' A'3' A'ENVELOPE' (S'date' L'subject' NIL) "
	      "A'RFC822.SIZE' L'12' A'BODY[]' NIL A'BODY[1]' S'q')\n");
	/* A body item outside a FETCH response: streamed, seq=0. */
	CHECK(NULL, "* 5 XFOO (BODY[] {2}\r\nab)\r\n",
	      "B 2 BODY[] seq=0 uid=0\n"
	      "E 2 'ab'\n"
	      "R * A'5' A'XFOO' (A'BODY[]' STREAM{2})\n");
	/* Sequence and UID beyond 32 bits are not made up. */
	CHECK(NULL, "* 4294967296 FETCH (UID 4294967296 BODY[] {1}\r\nz)\r\n",
	      "B 1 BODY[] seq=0 uid=0\n"
	      "E 1 'z'\n"
	      "R * A'4294967296' A'FETCH' (A'UID' A'4294967296' A'BODY[]' STREAM{1})\n");
	CHECK(NULL, "* 4294967295 FETCH (UID 4294967295 BODY[] {1}\r\nz)\r\n",
	      "B 1 BODY[] seq=4294967295 uid=4294967295\n"
	      "E 1 'z'\n"
	      "R * A'4294967295' A'FETCH' (A'UID' A'4294967295' A'BODY[]' STREAM{1})\n");
	/* "UID" as the last item before a nested list has no value in it. */
	CHECK(NULL, "* 6 FETCH (UID (5 BODY[] {1}\r\nq))\r\n",
	      "B 1 BODY[] seq=6 uid=0\n"
	      "E 1 'q'\n"
	      "R * A'6' A'FETCH' (A'UID' (A'5' A'BODY[]' STREAM{1}))\n");
	/* A body literal nested deeper still finds the FETCH list's UID. */
	CHECK(NULL, "* 6 FETCH (UID 77 X (BODY[] {1}\r\nq))\r\n",
	      "B 1 BODY[] seq=6 uid=77\n"
	      "E 1 'q'\n"
	      "R * A'6' A'FETCH' (A'UID' A'77' A'X' (A'BODY[]' STREAM{1}))\n");
}

static void test_fetch_literal_info_struct(void **state)
{
	(void)state;
	struct imap_parser *p = imap_parser_new(NULL);
	const unsigned char in[] = "* 12 FETCH (UID 345 BINARY[1] ~{5}\r\nhe\0lo)\r\n";
	size_t len = sizeof in - 1, used;

	assert_int_equal(imap_parser_feed(p, in, len, &used), IMAP_PARSE_LITERAL_BEGIN);
	assert_int_equal(used, 36);  /* the line up to and including its CRLF */
	const struct imap_literal_info *li = imap_parser_literal(p);
	assert_non_null(li);
	assert_int_equal(li->size, 5);
	assert_string_equal(li->section, "BINARY[1]");
	assert_int_equal(li->fetch_seq, 12);
	assert_int_equal(li->fetch_uid, 345);
	assert_true(li->literal8);
	assert_null(imap_parser_response(p));

	const unsigned char *data = in + used;
	len -= used;
	assert_int_equal(imap_parser_feed(p, data, 2, &used), IMAP_PARSE_LITERAL_DATA);
	assert_int_equal(used, 2);
	assert_int_equal(imap_parser_feed(p, data + 2, 0, &used), IMAP_PARSE_NEED_MORE);
	assert_int_equal(used, 0);
	assert_int_equal(imap_parser_feed(p, data + 2, len - 2, &used), IMAP_PARSE_LITERAL_DATA);
	assert_int_equal(used, 3);  /* exactly the rest of the literal */
	assert_memory_equal(data + 2, "\0lo", 3);
	assert_int_equal(imap_parser_feed(p, data + 5, len - 5, &used), IMAP_PARSE_LITERAL_END);
	assert_int_equal(used, 0);
	assert_non_null(imap_parser_literal(p));
	assert_int_equal(imap_parser_feed(p, data + 5, len - 5, &used), IMAP_PARSE_RESPONSE);
	assert_int_equal(used, 3);
	assert_null(imap_parser_literal(p));
	const struct imap_response *r = imap_parser_response(p);
	assert_int_equal(r->arg_count, 3);
	const struct imap_arg *l = &r->args[2];
	assert_int_equal(l->type, IMAP_ARG_LIST);
	assert_int_equal(l->list_count, 4);
	assert_int_equal(l->list[3].type, IMAP_ARG_LITERAL_STREAMED);
	assert_int_equal(l->list[3].len, 5);
	assert_true(l->list[3].literal);
	assert_null(l->list[3].str);
	imap_parser_free(&p);
}

static void test_fetch_inline_by_size(void **state)
{
	(void)state;
	static const char in[] =
		"* 1 FETCH (UID 5 BODY[HEADER.FIELDS (MESSAGE-ID DATE)] {71}\r\n"
		"Message-ID: <1234@example.jp>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0900\r\n\r\n)\r\n";
	struct imap_parser_limits lim = { .stream_literal_min = 72 };

	CHECK(&lim, in,
	      "R * A'1' A'FETCH' (A'UID' A'5' A'BODY[HEADER.FIELDS (MESSAGE-ID DATE)]' "
	      "L'Message-ID: <1234@example.jp>\\x0d\\x0aDate: Mon, 1 Jan 2024 10:00:00 "
	      "+0900\\x0d\\x0a\\x0d\\x0a')\n");
	lim.stream_literal_min = 71;  /* >= the size: streamed */
	CHECK(&lim, in,
	      "B 71 BODY[HEADER.FIELDS (MESSAGE-ID DATE)] seq=1 uid=5\n"
	      "E 71 fnv=b91eed33d511ee52\n"
	      "R * A'1' A'FETCH' (A'UID' A'5' A'BODY[HEADER.FIELDS (MESSAGE-ID DATE)]' "
	      "STREAM{71})\n");
	/* An inline literal8 keeps its NULs. */
	lim.stream_literal_min = 100;
	CHECK(&lim, "* 9 FETCH (BINARY[] ~{4}\r\na\0b\xff)\r\n",
	      "R * A'9' A'FETCH' (A'BINARY[]' L'a\\x00b\\xff')\n");
}

static void test_literal8_and_plus(void **state)
{
	(void)state;
	CHECK(NULL, "* 1 FETCH (BINARY[] ~{4}\r\na\0b\xff)\r\n",
	      "B 4 BINARY[] seq=1 uid=0 lit8\n"
	      "E 4 'a\\x00b\\xff'\n"
	      "R * A'1' A'FETCH' (A'BINARY[]' STREAM{4})\n");
	CHECK(NULL, "* X ~{3}\r\nabc\r\n", "R * A'X' L'abc'\n");
	CHECK(NULL, "* LIST () \"/\" {3+}\r\nabc\r\n", "R * A'LIST' () S'/' L'abc'\n");
	CHECK(NULL, "* 3 FETCH (BODY[] {2+}\r\nxy)\r\n",
	      "B 2 BODY[] seq=3 uid=0\n"
	      "E 2 'xy'\n"
	      "R * A'3' A'FETCH' (A'BODY[]' STREAM{2})\n");
	/* A '~' not before '{' is an ordinary atom character. */
	CHECK(NULL, "* X ~a a~ ~\r\n", "R * A'X' A'~a' A'a~' A'~'\n");
	/* Literals whose data looks like protocol. */
	CHECK(NULL, "* X {8}\r\n* OK {1}\r\n", "R * A'X' L'* OK {1}'\n");
	CHECK(NULL, "* X {0}\r\n {0}\r\n\r\n", "R * A'X' L'' L''\n");
}

static void test_pipelining(void **state)
{
	(void)state;
	static const char in[] =
		"* 2 EXISTS\r\n"                                  /* 12 */
		"* 1 FETCH (UID 9 BODY[] {3}\r\nabc)\r\n"          /* 29 + 3 + 3 */
		"+ go\r\n"                                        /* 6 */
		"a1 OK done\r\n"                                  /* 12 */
		"* BYE";                                          /* incomplete */
	const unsigned char *p0 = (const unsigned char *)in;
	size_t len = sizeof in - 1, used;
	struct imap_parser *p = imap_parser_new(NULL);

	assert_int_equal(imap_parser_feed(p, p0, len, &used), IMAP_PARSE_RESPONSE);
	assert_int_equal(used, 12);
	assert_string_equal(imap_parser_response(p)->args[1].str, "EXISTS");
	p0 += used, len -= used;
	assert_int_equal(imap_parser_feed(p, p0, len, &used), IMAP_PARSE_LITERAL_BEGIN);
	assert_int_equal(used, 29);
	p0 += used, len -= used;
	assert_int_equal(imap_parser_feed(p, p0, len, &used), IMAP_PARSE_LITERAL_DATA);
	assert_int_equal(used, 3);
	assert_memory_equal(p0, "abc", 3);
	p0 += used, len -= used;
	assert_int_equal(imap_parser_feed(p, p0, len, &used), IMAP_PARSE_LITERAL_END);
	assert_int_equal(used, 0);
	assert_int_equal(imap_parser_feed(p, p0, len, &used), IMAP_PARSE_RESPONSE);
	assert_int_equal(used, 3);
	assert_int_equal(imap_parser_response(p)->arg_count, 3);
	p0 += used, len -= used;
	assert_int_equal(imap_parser_feed(p, p0, len, &used), IMAP_PARSE_RESPONSE);
	assert_int_equal(used, 6);
	assert_string_equal(imap_parser_response(p)->text, "go");
	p0 += used, len -= used;
	assert_int_equal(imap_parser_feed(p, p0, len, &used), IMAP_PARSE_RESPONSE);
	assert_int_equal(used, 12);
	assert_string_equal(imap_parser_response(p)->tag, "a1");
	p0 += used, len -= used;
	assert_int_equal(imap_parser_feed(p, p0, len, &used), IMAP_PARSE_NEED_MORE);
	assert_int_equal(used, 5);
	assert_int_equal(imap_parser_feed(p, (const unsigned char *)" x\r\n", 4, &used),
			 IMAP_PARSE_RESPONSE);
	assert_int_equal(used, 4);
	assert_int_equal(imap_parser_response(p)->status, IMAP_STATUS_BYE);
	assert_string_equal(imap_parser_response(p)->text, "x");
	imap_parser_free(&p);
}

/* A whole Dovecot session, as one stream: every split must agree. */
static void test_dovecot_session(void **state)
{
	(void)state;
	CHECK(NULL,
	      "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
	      "AUTH=PLAIN] Dovecot (Debian) ready.\r\n"
	      "a1 OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE SORT MULTIAPPEND UIDPLUS "
	      "CONDSTORE QRESYNC ESEARCH BINARY MOVE SPECIAL-USE] Logged in\r\n"
	      "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"
	      "a2 OK Namespace completed (0.001 + 0.000 secs).\r\n"
	      "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	      "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n"
	      "* LIST (\\HasNoChildren) \"/\" {9}\r\nFoo (bar)\r\n"
	      "a3 OK List completed (0.001 + 0.000 + 0.001 secs).\r\n"
	      "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
	      "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags "
	      "permitted.\r\n"
	      "* 2 EXISTS\r\n"
	      "* 0 RECENT\r\n"
	      "* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
	      "* OK [UIDNEXT 3] Predicted next UID\r\n"
	      "a4 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n"
	      "* 1 FETCH (UID 1 RFC822.SIZE 21 FLAGS (\\Seen) BODY[] {21}\r\n"
	      "Subject: hi\r\n\r\nbody\r\n)\r\n"
	      "* 2 FETCH (UID 2 RFC822.SIZE 0 FLAGS () BODY[] {0}\r\n)\r\n"
	      "a5 OK Fetch completed (0.001 + 0.000 secs).\r\n"
	      "a6 NO [TRYCREATE] Mailbox does not exist: Archive\r\n"
	      "+ OK\r\n"
	      "a7 OK [APPENDUID 1700000000 3] Append completed (0.002 + 0.000 secs).\r\n"
	      "* BYE Logging out\r\n"
	      "a8 OK Logout completed (0.001 + 0.000 secs).\r\n",
	      "R * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
	      "AUTH=PLAIN] 'Dovecot (Debian) ready.'\n"
	      "R a1 OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE SORT MULTIAPPEND UIDPLUS "
	      "CONDSTORE QRESYNC ESEARCH BINARY MOVE SPECIAL-USE] 'Logged in'\n"
	      "R * A'NAMESPACE' ((S'' S'/')) NIL NIL\n"
	      "R a2 OK - 'Namespace completed (0.001 + 0.000 secs).'\n"
	      "R * A'LIST' (A'\\HasNoChildren') S'/' A'INBOX'\n"
	      "R * A'LIST' (A'\\HasNoChildren' A'\\Sent') S'/' A'Sent'\n"
	      "R * A'LIST' (A'\\HasNoChildren') S'/' L'Foo (bar)'\n"
	      "R a3 OK - 'List completed (0.001 + 0.000 + 0.001 secs).'\n"
	      "R * A'FLAGS' (A'\\Answered' A'\\Flagged' A'\\Deleted' A'\\Seen' A'\\Draft')\n"
	      "R * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] 'Flags "
	      "permitted.'\n"
	      "R * A'2' A'EXISTS'\n"
	      "R * A'0' A'RECENT'\n"
	      "R * OK [UIDVALIDITY 1700000000] 'UIDs valid'\n"
	      "R * OK [UIDNEXT 3] 'Predicted next UID'\n"
	      "R a4 OK [READ-WRITE] 'Select completed (0.001 + 0.000 secs).'\n"
	      "B 21 BODY[] seq=1 uid=1\n"
	      "E 21 'Subject: hi\\x0d\\x0a\\x0d\\x0abody\\x0d\\x0a'\n"
	      "R * A'1' A'FETCH' (A'UID' A'1' A'RFC822.SIZE' A'21' A'FLAGS' (A'\\Seen') "
	      "A'BODY[]' STREAM{21})\n"
	      "B 0 BODY[] seq=2 uid=2\n"
	      "E 0 ''\n"
	      "R * A'2' A'FETCH' (A'UID' A'2' A'RFC822.SIZE' A'0' A'FLAGS' () A'BODY[]' "
	      "STREAM{0})\n"
	      "R a5 OK - 'Fetch completed (0.001 + 0.000 secs).'\n"
	      "R a6 NO [TRYCREATE] 'Mailbox does not exist: Archive'\n"
	      "R + 'OK'\n"
	      "R a7 OK [APPENDUID 1700000000 3] 'Append completed (0.002 + 0.000 secs).'\n"
	      "R * BYE - 'Logging out'\n"
	      "R a8 OK - 'Logout completed (0.001 + 0.000 secs).'\n");
}

/* ---- memory bounds -------------------------------------------------- */

static void test_stream_1mb(void **state)
{
	(void)state;
	const size_t size = 1024 * 1024;
	struct imap_parser_limits lim = { .max_response_bytes = 4096 };
	struct buf in;
	uint32_t x = 2463534242u;
	size_t heap_at_begin = 0, heap_at_end = 0, got = 0;

	buf_init(&in, 0);
	buf_printf(&in, "* 42 FETCH (UID 4242 BODY[] {%zu}\r\n", size);
	size_t data_at = in.len;
	for (size_t i = 0; i < size; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;  /* xorshift32: CR, LF, NUL, ')' all occur */
		buf_append_char(&in, (char)(x & 0xff));
	}
	buf_append_str(&in, " FLAGS (\\Seen))\r\n");
	/* After it, a response that needs nearly all of the 4096-byte budget. */
	buf_append_str(&in, "a1 OK ");
	while (in.len - data_at - size < 17 + 6 + 4000)
		buf_append_char(&in, 'x');
	buf_append_str(&in, "\r\n");

	struct imap_parser *p = imap_parser_new(&lim);
	const unsigned char *c = (const unsigned char *)in.data;
	size_t left = in.len, responses = 0, begins = 0, ends = 0;
	while (left > 0) {
		size_t n = left < 4096 ? left : 4096;
		const unsigned char *chunk = c;
		c += n;
		left -= n;
		for (;;) {
			size_t used;
			enum imap_parse_result r = imap_parser_feed(p, chunk, n, &used);
			if (r == IMAP_PARSE_NEED_MORE)
				break;
			assert_int_not_equal(r, IMAP_PARSE_ERROR);
			if (r == IMAP_PARSE_LITERAL_DATA) {
				/* Zero-copy: the data is the consumed prefix of the input. */
				assert_ptr_equal(chunk, in.data + data_at + got);
				got += used;
			}
			if (r == IMAP_PARSE_LITERAL_BEGIN) {
				heap_at_begin = heap_in_use();
				begins++;
				assert_int_equal(imap_parser_literal(p)->size, size);
				assert_int_equal(imap_parser_literal(p)->fetch_uid, 4242);
			}
			if (r == IMAP_PARSE_LITERAL_END) {
				heap_at_end = heap_in_use();
				ends++;
			}
			if (r == IMAP_PARSE_RESPONSE) {
				const struct imap_response *rr = imap_parser_response(p);
				if (responses++ == 0) {
					const struct imap_arg *l = &rr->args[2];
					assert_int_equal(l->list_count, 6);
					assert_int_equal(l->list[3].type, IMAP_ARG_LITERAL_STREAMED);
					assert_int_equal(l->list[3].len, size);
				} else {
					assert_string_equal(rr->tag, "a1");
					assert_int_equal(strlen(rr->text), 4000);
				}
			}
			chunk += used;
			n -= used;
		}
	}
	assert_int_equal(responses, 2);
	assert_int_equal(begins, 1);
	assert_int_equal(ends, 1);
	assert_int_equal(got, size);
	/* 1 MiB went through and the heap did not move. */
	assert_true(heap_at_begin > 0);
	assert_int_equal(heap_at_end, heap_at_begin);
	imap_parser_free(&p);

	/* The same transcript through every chunking the checker knows. */
	struct tr t;
	tr_init(&t);
	run(&lim, in.data, in.len, BYTES, 1, &t);
	assert_int_equal(t.all.len, size);
	assert_memory_equal(t.all.data, in.data + data_at, size);
	tr_free(&t);

	/* Not a body item: the same literal is inline and breaks the budget. */
	memcpy(in.data + strlen("* 42 FETCH (UID 4242 "), "XODY[]", 6);
	tr_init(&t);
	run(&lim, in.data, in.len, FIXED, 4096, &t);
	assert_string_equal(t.out.data,
			    "X IMAP response exceeds 4096 bytes with a literal of 1048576 bytes\n");
	tr_free(&t);

	buf_free(&in);
}

static void test_limits_exact(void **state)
{
	(void)state;
	struct imap_parser_limits lim = { .max_response_bytes = 64 };
	char line[80];

	/* A status line of exactly 64 bytes fits, 65 do not. */
	memset(line, 'x', sizeof line);
	memcpy(line, "a1 OK ", 6);
	memcpy(line + 62, "\r\n", 2);
	check_(&lim, line, 64, "R a1 OK - 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	       "xxxxxxxx'\n", __FILE__, __LINE__);
	memcpy(line + 62, "x\r\n", 3);
	check_(&lim, line, 65,
	       "X IMAP response exceeds 64 bytes (server sent a line without end?)\n", __FILE__,
	       __LINE__);
	/* No line end at all. */
	check_(&lim, line, 80,
	       "X IMAP response exceeds 64 bytes (server sent a line without end?)\n", __FILE__,
	       __LINE__);
	/* The budget covers the whole response, across literals. */
	CHECK(&lim, "* X {20}\r\n01234567890123456789 {20}\r\n01234567890123456789\r\n",
	      "X IMAP response exceeds 64 bytes with a literal of 20 bytes\n");
	CHECK(&lim, "* X {30}\r\n012345678901234567890123456789 abcdefghijkl\r\n",
	      "X IMAP response exceeds 64 bytes (server sent a line without end?)\n");
	/* Items cost budget too: 10 one-letter atoms. */
	CHECK(&lim, "* a b c d e f g h i j\r\n",
	      "X IMAP response exceeds 64 bytes (too many items in it)\n");
	/* ...but the budget is per response. */
	CHECK(&lim, "* a b c d\r\n* a b c d\r\n* a b c d\r\n",
	      "R * A'a' A'b' A'c' A'd'\nR * A'a' A'b' A'c' A'd'\nR * A'a' A'b' A'c' A'd'\n");

	/* Depth: exactly max_depth levels are fine. */
	struct imap_parser_limits dl = { .max_depth = 3 };
	CHECK(&dl, "* X (((a)))\r\n", "R * A'X' (((A'a')))\n");
	CHECK(&dl, "* X ((((a))))\r\n", "X IMAP response nests lists deeper than 3 levels\n");
	CHECK(&dl, "* X ((() ()) (()))\r\n", "R * A'X' ((() ()) (()))\n");

	/* Literal size cap. */
	struct imap_parser_limits ll = { .max_literal_size = 100 };
	CHECK(&ll, "* 1 FETCH (BODY[] {100}\r\n",
	      "B 100 BODY[] seq=1 uid=0\n");
	CHECK(&ll, "* 1 FETCH (BODY[] {101}\r\n",
	      "X IMAP literal of 101 bytes exceeds the limit of 100 bytes\n");
}

static void test_defaults(void **state)
{
	(void)state;
	struct imap_parser_limits zero = { 0 };
	struct buf in;

	for (int i = 0; i < 2; i++) {
		const struct imap_parser_limits *lim = i == 0 ? NULL : &zero;
		buf_init(&in, 0);
		buf_append_str(&in, "* X ");
		for (int d = 0; d < 32; d++)
			buf_append_char(&in, '(');
		for (int d = 0; d < 32; d++)
			buf_append_char(&in, ')');
		buf_append_str(&in, "\r\n");
		struct tr t;
		tr_init(&t);
		run(lim, in.data, in.len, WHOLE, 0, &t);
		char want[100] = "R * A'X' ";
		for (int d = 0; d < 32; d++)
			strcat(want, "(");
		for (int d = 0; d < 32; d++)
			strcat(want, ")");
		strcat(want, "\n");
		assert_string_equal(t.out.data, want);
		tr_free(&t);

		buf_reset(&in);
		buf_append_str(&in, "* X ");
		for (int d = 0; d < 33; d++)
			buf_append_char(&in, '(');
		buf_append_str(&in, "\r\n");
		tr_init(&t);
		run(lim, in.data, in.len, WHOLE, 0, &t);
		assert_string_equal(t.out.data,
				    "X IMAP response nests lists deeper than 32 levels\n");
		tr_free(&t);

		/* 1 MiB of line is the default bound. */
		buf_reset(&in);
		buf_append_str(&in, "a1 OK ");
		while (in.len < 1024 * 1024 - 2)
			buf_append_char(&in, 'y');
		buf_append_str(&in, "\r\n");
		tr_init(&t);
		run(lim, in.data, in.len, FIXED, 65536, &t);
		/* "R a1 OK - '" text "'\n", the text being all but 8 bytes */
		assert_int_equal(t.out.len, 11 + (1024 * 1024 - 8) + 2);
		assert_memory_equal(t.out.data, "R a1 OK - 'yyy", 14);
		tr_free(&t);
		buf_reset(&in);
		buf_append_str(&in, "a1 OK ");
		while (in.len < 1024 * 1024 - 1)
			buf_append_char(&in, 'y');
		buf_append_str(&in, "\r\n");
		tr_init(&t);
		run(lim, in.data, in.len, FIXED, 65536, &t);
		assert_string_equal(t.out.data, "X IMAP response exceeds 1048576 bytes (server "
				    "sent a line without end?)\n");
		tr_free(&t);

		/* 8 GiB is the default literal cap; streamed sizes need no memory. */
		tr_init(&t);
		run(lim, "* 1 FETCH (BODY[] {8589934592}\r\n", 32, WHOLE, 0, &t);
		assert_string_equal(t.out.data, "B 8589934592 BODY[] seq=1 uid=0\n");
		tr_free(&t);
		tr_init(&t);
		run(lim, "* 1 FETCH (BODY[] {8589934593}\r\n", 32, WHOLE, 0, &t);
		assert_string_equal(t.out.data, "X IMAP literal of 8589934593 bytes exceeds the "
				    "limit of 8589934592 bytes\n");
		tr_free(&t);
		buf_free(&in);
	}
}

/* ---- errors --------------------------------------------------------- */

static void test_errors(void **state)
{
	(void)state;
	/* Literal sizes. */
	CHECK(NULL, "* X {1a}\r\n", "X bad literal size in IMAP response\n");
	CHECK(NULL, "* X {}\r\n", "X bad literal size in IMAP response\n");
	CHECK(NULL, "* X {-1}\r\n", "X bad literal size in IMAP response\n");
	CHECK(NULL, "* X {+}\r\n", "X bad literal size in IMAP response\n");
	CHECK(NULL, "* X {5\r\n", "X bad literal size in IMAP response\n");
	CHECK(NULL, "* X { 5}\r\n", "X bad literal size in IMAP response\n");
	CHECK(NULL, "* X ~{5+1}\r\n", "X bad literal size in IMAP response\n");
	CHECK(NULL, "* X {5}x\r\nabcde\r\n", "X IMAP literal size is not at the end of its line\n");
	CHECK(NULL, "* X {5} \r\n", "X IMAP literal size is not at the end of its line\n");
	CHECK(NULL, "* X {18446744073709551616}\r\n",
	      "X literal size in IMAP response overflows 64 bits\n");
	CHECK(NULL, "* X {99999999999999999999999}\r\n",
	      "X literal size in IMAP response overflows 64 bits\n");
	CHECK(NULL, "* X {18446744073709551615}\r\n",
	      "X IMAP literal of 18446744073709551615 bytes exceeds the limit of 8589934592 "
	      "bytes\n");

	/* Tags. */
	CHECK(NULL, "a\x01 OK\r\n", "X IMAP response starts with an invalid tag \"a\\x01\"\n");
	CHECK(NULL, "(a OK\r\n", "X IMAP response starts with an invalid tag \"(a\"\n");
	CHECK(NULL, "a+b OK\r\n", "X IMAP response starts with an invalid tag \"a+b\"\n");
	CHECK(NULL, "a\"b OK\r\n", "X IMAP response starts with an invalid tag \"a\\\"b\"\n");
	CHECK(NULL, "a%b OK\r\n", "X IMAP response starts with an invalid tag \"a%b\"\n");
	CHECK(NULL, "\xff OK\r\n", "X IMAP response starts with an invalid tag \"\\xff\"\n");
	CHECK(NULL, " OK\r\n", "X IMAP response starts with an invalid tag \"\"\n");
	CHECK(NULL,
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa OK\r\n",
	      "X IMAP response starts with an invalid tag "
	      "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"\n");
	CHECK(NULL,
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa OK\r\n",
	      "R aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa OK - ''\n");
	CHECK(NULL, "HTTP/1.1 400 Bad Request\r\n",
	      "X tagged IMAP response has status \"400\" instead of OK, NO or BAD\n");
	CHECK(NULL, "a1 PREAUTH hi\r\n",
	      "X tagged IMAP response has status \"PREAUTH\" instead of OK, NO or BAD\n");
	CHECK(NULL, "a1 BYE\r\n",
	      "X tagged IMAP response has status \"BYE\" instead of OK, NO or BAD\n");
	CHECK(NULL, "a1\r\n", "X tagged IMAP response has status \"\" instead of OK, NO or BAD\n");
	CHECK(NULL, "a1 OKAY\r\n",
	      "X tagged IMAP response has status \"OKAY\" instead of OK, NO or BAD\n");

	/* Line shapes. */
	CHECK(NULL, "\r\n", "X empty line in IMAP response\n");
	CHECK(NULL, "\n", "X empty line in IMAP response\n");
	CHECK(NULL, "*\r\n", "X IMAP untagged response has no space after '*'\n");
	CHECK(NULL, "*OK\r\n", "X IMAP untagged response has no space after '*'\n");
	CHECK(NULL, "*  \r\n", "X empty untagged IMAP response\n");
	CHECK(NULL, "+x\r\n", "X IMAP continuation '+' is not followed by a space\n");

	/* Lists. */
	CHECK(NULL, "* X a)\r\n", "X unbalanced ')' in IMAP response\n");
	CHECK(NULL, "* X (a))\r\n", "X unbalanced ')' in IMAP response\n");
	CHECK(NULL, "* X (a\r\n",
	      "X unbalanced '(' in IMAP response (a list is still open at the end of the "
	      "line)\n");
	CHECK(NULL, "* 1 FETCH (BODY[] {2}\r\nab\r\n",
	      "B 2 BODY[] seq=1 uid=0\n"
	      "E 2 'ab'\n"
	      "X unbalanced '(' in IMAP response (a list is still open at the end of the "
	      "line)\n");

	/* Bytes that have no place in a line. */
	CHECK(NULL, "* X a\0b\r\n", "X NUL byte in IMAP response line\n");
	CHECK(NULL, "a1 OK te\0xt\r\n", "X NUL byte in IMAP response line\n");
	CHECK(NULL, "a1 OK \"\0\"\r\n", "X NUL byte in IMAP response line\n");
	CHECK(NULL, "* X {1}\r\n\0 \0\r\n", "X NUL byte in IMAP response line\n");
	CHECK(NULL, "* X a\rb\r\n", "X carriage return without line feed in IMAP response\n");
	CHECK(NULL, "* X a\r\r\n", "X carriage return without line feed in IMAP response\n");

	/* Quoted strings end on their line. */
	CHECK(NULL, "* X \"abc\r\n", "X unterminated quoted string in IMAP response\n");
	CHECK(NULL, "* X \"abc\\\"\r\n", "X unterminated quoted string in IMAP response\n");
	CHECK(NULL, "* X \"abc\\\r\n", "X unterminated quoted string in IMAP response\n");
	CHECK(NULL, "* X \"a {3}\r\nbc\"\r\n", "X unterminated quoted string in IMAP response\n");

	/* Responses before the error are still delivered. */
	CHECK(NULL, "* 1 EXISTS\r\na1 OK x\r\n* X )\r\n* 2 EXISTS\r\n",
	      "R * A'1' A'EXISTS'\n"
	      "R a1 OK - 'x'\n"
	      "X unbalanced ')' in IMAP response\n");
}

/* ---- helpers -------------------------------------------------------- */

static void test_arg_helpers(void **state)
{
	(void)state;
	struct imap_parser *p = imap_parser_new(NULL);
	const unsigned char in[] =
		"* X 0 42 9223372036854775807 9223372036854775808 18446744073709551616 "
		"1a \"7\" NIL () {3}\r\nA\0b FLAGS\r\n";
	size_t used;
	uint64_t v;

	assert_int_equal(imap_parser_feed(p, in, sizeof in - 1, &used), IMAP_PARSE_RESPONSE);
	const struct imap_response *r = imap_parser_response(p);
	const struct imap_arg *a = r->args;
	assert_int_equal(r->arg_count, 12);

	v = 99;
	assert_true(imap_arg_number(&a[1], &v));
	assert_int_equal(v, 0);
	assert_true(imap_arg_number(&a[2], &v));
	assert_int_equal(v, 42);
	assert_true(imap_arg_number(&a[3], &v));
	assert_int_equal(v, INT64_MAX);
	assert_false(imap_arg_number(&a[4], &v));  /* 2^63 */
	assert_false(imap_arg_number(&a[5], &v));
	assert_false(imap_arg_number(&a[6], &v));  /* not only digits */
	assert_false(imap_arg_number(&a[7], &v));  /* a string, not an atom */
	assert_false(imap_arg_number(&a[8], &v));
	assert_false(imap_arg_number(&a[9], &v));

	assert_true(imap_arg_is(&a[0], "x"));
	assert_false(imap_arg_is(&a[0], "xy"));
	assert_false(imap_arg_is(&a[0], ""));
	assert_true(imap_arg_is(&a[7], "7"));
	assert_false(imap_arg_is(&a[8], "NIL"));
	assert_false(imap_arg_is(&a[9], ""));
	/* A literal with a NUL matches only on all its bytes. */
	assert_int_equal(a[10].len, 3);
	assert_true(a[10].literal);
	assert_false(imap_arg_is(&a[10], "A"));
	assert_true(imap_arg_is(&a[11], "flags"));
	assert_true(imap_arg_is(&a[11], "FLAGS"));
	assert_false(imap_arg_is(&a[11], "FLAG"));

	assert_string_equal(imap_arg_str(&a[0]), "X");
	assert_string_equal(imap_arg_str(&a[7]), "7");
	assert_null(imap_arg_str(&a[8]));
	assert_null(imap_arg_str(&a[9]));
	assert_memory_equal(imap_arg_str(&a[10]), "A\0b", 4);
	imap_parser_free(&p);
}

/* Responses stay intact when the parser's buffers are reused: parse a
 * large response, then small ones, and compare with a fresh parser. */
static void test_reuse(void **state)
{
	(void)state;
	struct buf in;
	buf_init(&in, 0);
	buf_append_str(&in, "* SEARCH");
	for (int i = 0; i < 20000; i++)
		buf_printf(&in, " %d", i);
	buf_append_str(&in, "\r\n* 1 FETCH (UID 2 FLAGS (\\Seen))\r\n");
	struct imap_parser *p = imap_parser_new(NULL);
	const unsigned char *c = (const unsigned char *)in.data;
	size_t len = in.len, used;
	assert_int_equal(imap_parser_feed(p, c, len, &used), IMAP_PARSE_RESPONSE);
	const struct imap_response *r = imap_parser_response(p);
	assert_int_equal(r->arg_count, 20001);
	assert_string_equal(r->args[20000].str, "19999");
	assert_string_equal(r->args[1].str, "0");
	c += used;
	len -= used;
	assert_int_equal(imap_parser_feed(p, c, len, &used), IMAP_PARSE_RESPONSE);
	r = imap_parser_response(p);
	assert_int_equal(r->arg_count, 3);
	assert_string_equal(r->args[2].list[3].list[0].str, "\\Seen");
	imap_parser_free(&p);
	buf_free(&in);
}

static bool ends_with(const struct buf *b, const char *s)
{
	size_t n = strlen(s);
	return b->len >= n && memcmp(b->data + b->len - n, s, n) == 0;
}

/* Hostile shapes must cost time linear in their size: a line of unmatched
 * '[' (each one could send a naive matcher to the end of the line), and a
 * FETCH with thousands of literals after thousands of items (each literal
 * could rescan the list for "UID"). Linear takes milliseconds even under
 * sanitizers; quadratic would take minutes. */
static void test_linear_time(void **state)
{
	(void)state;
	struct imap_parser_limits lim = { .max_response_bytes = 4 << 20 };
	struct buf in;
	struct tr t;
	clock_t t0 = clock();

	buf_init(&in, 0);
	buf_append_str(&in, "* X a");
	for (int i = 0; i < 1000000; i++)
		buf_append_char(&in, '[');
	buf_append_str(&in, "] b[c]\r\n");
	tr_init(&t);
	run(&lim, in.data, in.len, FIXED, 65536, &t);
	assert_int_equal(t.out.len, 1000000 + 23);
	assert_true(ends_with(&t.out, "[[]' A'b[c]'\n"));
	tr_free(&t);

	buf_reset(&in);
	buf_append_str(&in, "* 1 FETCH (");
	for (int i = 0; i < 40000; i++)
		buf_append_str(&in, "X 1 ");
	buf_append_str(&in, "UID 7");
	for (int i = 0; i < 20000; i++)
		buf_append_str(&in, " BODY[] {0}\r\n");
	buf_append_str(&in, ")\r\n");
	tr_init(&t);
	run(&lim, in.data, in.len, FIXED, 65536, &t);
	assert_non_null(strstr(t.out.data, "B 0 BODY[] seq=1 uid=7\nE 0 ''\n"));
	assert_true(ends_with(&t.out, "A'BODY[]' STREAM{0} A'BODY[]' STREAM{0})\n"));
	/* Every one of the 20000 literals knows the UID. */
	static const char ev[] = "B 0 BODY[] seq=1 uid=7\nE 0 ''\n";
	size_t begins = 0;
	const char *q = t.out.data, *end = t.out.data + t.out.len;
	while ((q = memmem(q, (size_t)(end - q), ev, sizeof ev - 1)) != NULL) {
		begins++;
		q += sizeof ev - 1;
	}
	assert_int_equal(begins, 20000);
	tr_free(&t);
	buf_free(&in);
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 10.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tagged),
		cmocka_unit_test(test_untagged_status),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_capability),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_namespace),
		cmocka_unit_test(test_misc_data),
		cmocka_unit_test(test_quoted_nil_lists),
		cmocka_unit_test(test_fetch_streamed),
		cmocka_unit_test(test_fetch_literal_info_struct),
		cmocka_unit_test(test_fetch_inline_by_size),
		cmocka_unit_test(test_literal8_and_plus),
		cmocka_unit_test(test_pipelining),
		cmocka_unit_test(test_dovecot_session),
		cmocka_unit_test(test_stream_1mb),
		cmocka_unit_test(test_limits_exact),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_arg_helpers),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_linear_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
