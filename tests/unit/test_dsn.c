/* test_dsn.c — the DSN writer: structure (RFC 6522 multipart/report with
 * three parts, the boundary proven absent from the content), the RFC 3464
 * fields, wire rules (CRLF only, lines <= 998, 7-bit headers) and that no
 * input can inject a header, a DSN field or a boundary line.
 *
 * With DSN_SAMPLE_DIR set, the samples are also written there as .eml
 * files, for tests/tools/check_dsn.py (Python's email package) to read. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "proto/dsn.h"

#define T_NOW 1772700000        /* Thu, 5 Mar 2026 08:40:00 +0000 */
#define T_ARRIVAL 1772690000    /* Thu, 5 Mar 2026 05:53:20 +0000 */
#define T_LAST 1772699000       /* Thu, 5 Mar 2026 08:23:20 +0000 */

static const char orig_headers[] =
	"Received: from client.example.org ([192.0.2.7])\r\n"
	"\tby mx1.example.jp with ESMTP id 01J0000000000000000A\r\n"
	"From: Sender <sender@example.org>\r\n"
	"To: bob@example.jp\r\n"
	"Subject: quarterly numbers\r\n"
	"Message-ID: <abc@example.org>\r\n";

static void save_sample(const char *name, const struct buf *b)
{
	const char *dir = getenv("DSN_SAMPLE_DIR");
	char path[512];
	FILE *f;

	if (dir == NULL || dir[0] == '\0')
		return;
	snprintf(path, sizeof path, "%s/%s.eml", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
	assert_int_equal(fclose(f), 0);
}

/* CRLF only, no NUL, ends with CRLF, no line over 998 octets. */
static void check_wire(const struct buf *b)
{
	size_t line = 0;

	assert_true(b->len >= 2);
	assert_memory_equal(b->data + b->len - 2, "\r\n", 2);
	for (size_t i = 0; i < b->len; i++) {
		char c = b->data[i];

		if (c == '\0') {
			print_message("NUL at %zu\n", i);
			fail();
		}
		if (c == '\r') {
			if (i + 1 >= b->len || b->data[i + 1] != '\n') {
				print_message("bare CR at %zu\n", i);
				fail();
			}
			continue;
		}
		if (c == '\n') {
			if (i == 0 || b->data[i - 1] != '\r') {
				print_message("bare LF at %zu\n", i);
				fail();
			}
			line = 0;
			continue;
		}
		if (++line > 998) {
			print_message("line over 998 octets at %zu\n", i);
			fail();
		}
	}
}

static bool any_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return true;
	}
	return false;
}

/* The offset of the line that is exactly `line`, or -1. */
static long find_line(const char *s, const char *line)
{
	size_t n = strlen(line);
	const char *p = s;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == s || p[-1] == '\n') && p[n] == '\r' && p[n + 1] == '\n')
			return p - s;
		p++;
	}
	return -1;
}

static void assert_line(const char *s, const char *line)
{
	if (find_line(s, line) < 0) {
		print_message("no line '%s' in:\n%s\n", line, s);
		fail();
	}
}

static void assert_no_line_starting(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *p = s; p != NULL && *p != '\0';) {
		if (strncmp(p, prefix, n) == 0) {
			print_message("a line starts with '%s':\n%s\n", prefix, s);
			fail();
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
}

static size_t count_lines(const char *s, const char *line)
{
	size_t k = 0, n = strlen(line);

	for (const char *p = s; (p = strstr(p, line)) != NULL; p++) {
		if ((p == s || p[-1] == '\n') && p[n] == '\r' && p[n + 1] == '\n')
			k++;
	}
	return k;
}

/* The boundary parameter of the top-level Content-Type. */
static char *boundary_of(const char *s)
{
	const char *b = strstr(s, "boundary=\"");
	const char *e;

	assert_non_null(b);
	assert_true(b < strstr(s, "\r\n\r\n"));
	b += 10;
	e = strchr(b, '"');
	assert_non_null(e);
	return xstrndup(b, (size_t)(e - b));
}

/* Checks the multipart skeleton and returns part i (0-based): its header
 * and body, between its delimiter line and the next. */
static char *part_of(const char *s, size_t i, size_t nparts)
{
	char *bd = boundary_of(s);
	char *delim = xasprintf("--%s", bd);
	char *close = xasprintf("--%s--", bd);
	const char *p = s;
	char *out;

	assert_int_equal(count_lines(s, delim), nparts);
	assert_int_equal(count_lines(s, close), 1);
	/* the closing delimiter is the last line */
	assert_int_equal((size_t)find_line(s, close) + strlen(close) + 2, strlen(s));
	for (size_t k = 0; k <= i; k++) {
		long off = find_line(p, delim);

		assert_true(off >= 0);
		p += off + (long)strlen(delim) + 2;
	}
	const char *end = strstr(p, "\r\n--");

	while (end != NULL && strncmp(end + 4, bd, strlen(bd)) != 0)
		end = strstr(end + 2, "\r\n--");
	assert_non_null(end);
	out = xstrndup(p, (size_t)(end - p) + 2);
	free(bd);
	free(delim);
	free(close);
	return out;
}

static void write_dsn(struct buf *b, const struct dsn_input *in)
{
	buf_init(b, 0);
	assert_true(dsn_write(b, in));
	assert_non_null(b->data);
	assert_int_equal(strlen(b->data), b->len);  /* no NUL inside */
	check_wire(b);
}

static void test_basic(void **state)
{
	struct dsn_rcpt r = {
		.addr = "bob@example.jp", .code = 550, .enhanced = "5.1.1",
		.text = "<bob@example.jp>: Recipient address rejected: User unknown",
		.remote_mta = "mail.new-host.jp", .last_attempt = T_LAST,
	};
	struct dsn_input in = {
		.reporting_mta = "mx1.example.jp", .trace_id = "01J5ZK3Q8W2M7R9T4X6Y",
		.sender = "sender@example.org", .arrival = T_ARRIVAL, .now = T_NOW,
		.boundary_seed = "01J5ZK3Q8W2M7R9T4X70", .rcpts = &r, .nrcpt = 1,
		.headers = orig_headers, .headers_len = sizeof orig_headers - 1,
	};
	struct buf b;
	char *hdr, *p1, *p2, *p3;

	(void)state;
	write_dsn(&b, &in);
	save_sample("basic", &b);
	assert_false(any_8bit(b.data, b.len));

	hdr = xstrndup(b.data, (size_t)(strstr(b.data, "\r\n\r\n") - b.data) + 2);
	assert_line(hdr, "From: MAILER-DAEMON@mx1.example.jp (Mail Delivery System)");
	assert_line(hdr, "To: <sender@example.org>");
	assert_line(hdr, "Subject: Undelivered Mail Returned to Sender");
	assert_line(hdr, "Date: Thu, 5 Mar 2026 08:40:00 +0000");
	assert_line(hdr, "Message-ID: <01J5ZK3Q8W2M7R9T4X70.dsn@mx1.example.jp>");
	assert_line(hdr, "Auto-Submitted: auto-replied");
	assert_line(hdr, "MIME-Version: 1.0");
	assert_line(hdr, "Content-Type: multipart/report; report-type=delivery-status;");
	assert_line(hdr, "\tboundary=\"=_ms-dsn_01J5ZK3Q8W2M7R9T4X70\"");
	assert_line(hdr, "Content-Transfer-Encoding: 7bit");
	free(hdr);

	p1 = part_of(b.data, 0, 3);
	assert_line(p1, "Content-Type: text/plain; charset=us-ascii");
	assert_line(p1, "This is the mail system at host mx1.example.jp.");
	assert_non_null(strstr(p1, "<bob@example.jp>: failed: host mail.new-host.jp said: 550"));
	free(p1);

	p2 = part_of(b.data, 1, 3);
	assert_line(p2, "Content-Type: message/delivery-status");
	assert_line(p2, "Reporting-MTA: dns; mx1.example.jp");
	assert_line(p2, "X-Mailshift-Trace: 01J5ZK3Q8W2M7R9T4X6Y");
	assert_line(p2, "Arrival-Date: Thu, 5 Mar 2026 05:53:20 +0000");
	assert_line(p2, "Final-Recipient: rfc822; bob@example.jp");
	assert_line(p2, "Action: failed");
	assert_line(p2, "Status: 5.1.1");
	assert_line(p2, "Remote-MTA: dns; mail.new-host.jp");
	/* folded at a space after 78 columns; unfolded it is the reply */
	assert_line(p2, "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.jp>: Recipient address "
		    "rejected:");
	assert_line(p2, " User unknown");
	assert_line(p2, "Last-Attempt-Date: Thu, 5 Mar 2026 08:23:20 +0000");
	/* per-message fields, a blank line, then the recipient block */
	assert_non_null(strstr(p2, "+0000\r\n\r\nFinal-Recipient:"));
	free(p2);

	p3 = part_of(b.data, 2, 3);
	assert_line(p3, "Content-Type: text/rfc822-headers");
	assert_non_null(strstr(p3, orig_headers));
	free(p3);
	buf_free(&b);
}

static void test_status_and_subject(void **state)
{
	struct dsn_rcpt r[] = {
		{ .addr = "a@example.jp", .code = 421, .enhanced = NULL, .text = "try later",
		  .delayed = true },
		{ .addr = "b@example.jp", .code = 451, .enhanced = "4.4.1", .text = NULL,
		  .remote_mta = "new.example.jp", .delayed = true },
	};
	struct dsn_input in = {
		.reporting_mta = "mx1.example.jp", .sender = "s@example.org", .now = T_NOW,
		.boundary_seed = "SEED1", .rcpts = r, .nrcpt = 2,
	};
	struct buf b;
	char *p2;

	(void)state;
	write_dsn(&b, &in);
	save_sample("delayed", &b);
	assert_line(b.data, "Subject: Delayed Mail (still being retried)");
	/* no header block given: two parts only */
	p2 = part_of(b.data, 1, 2);
	assert_int_equal(count_lines(p2, "Action: delayed"), 2);
	assert_line(p2, "Status: 4.0.0");
	assert_line(p2, "Status: 4.4.1");
	assert_line(p2, "Diagnostic-Code: smtp; 421 try later");
	assert_line(p2, "Diagnostic-Code: smtp; 451 4.4.1");
	assert_null(strstr(p2, "Arrival-Date"));      /* arrival unknown: left out */
	assert_null(strstr(p2, "X-Mailshift-Trace"));
	assert_null(strstr(p2, "Last-Attempt-Date"));
	/* two recipient blocks, each after a blank line */
	assert_non_null(strstr(p2, "\r\n\r\nFinal-Recipient: rfc822; a@example.jp\r\n"));
	assert_non_null(strstr(p2, "\r\n\r\nFinal-Recipient: rfc822; b@example.jp\r\n"));
	free(p2);
	buf_free(&b);

	/* a failure among warnings: the undelivered subject; bad enhanced codes
	 * fall back to the reply code's class; no reply: our own reason */
	struct dsn_rcpt r2[] = {
		{ .addr = "c@example.jp", .code = 554, .enhanced = "junk", .text = "no" },
		{ .addr = "d@example.jp", .code = 550, .enhanced = "5.1.1.1", .text = "x" },
		{ .addr = "e@example.jp", .code = 0, .text = "queue lifetime of 5d reached" },
		{ .addr = "f@example.jp", .code = 0 },
		{ .addr = "g@example.jp", .code = 421, .enhanced = "2.0.0", .delayed = true },
	};
	in.rcpts = r2;
	in.nrcpt = 5;
	write_dsn(&b, &in);
	save_sample("mixed", &b);
	assert_line(b.data, "Subject: Undelivered Mail Returned to Sender");
	p2 = part_of(b.data, 1, 2);
	assert_int_equal(count_lines(p2, "Status: 5.0.0"), 4);
	assert_int_equal(count_lines(p2, "Status: 4.0.0"), 1);
	assert_line(p2, "Diagnostic-Code: smtp; 554 junk no");
	assert_line(p2, "Diagnostic-Code: X-Mailshift; queue lifetime of 5d reached");
	assert_int_equal(count_lines(p2, "Action: failed"), 4);
	/* f: no reply and no text: no Diagnostic-Code at all */
	assert_int_equal(strstr(p2, "Final-Recipient: rfc822; f@example.jp\r\nAction: failed\r\n"
				"Status: 5.0.0\r\n\r\n") != NULL, 1);
	free(p2);
	buf_free(&b);
}

static void test_injection(void **state)
{
	struct dsn_rcpt r = {
		.addr = "evil@example.jp\r\nBcc: victim@example.net",
		.code = 550, .enhanced = "5.1.1\r\nX-Evil: 1",
		.text = "gone\r\n--=_ms-dsn_SEED\r\nContent-Type: text/html\r\n\r\n<b>\x01\x7f",
		.remote_mta = "mx.example.net\nReporting-MTA: dns; fake",
	};
	struct dsn_input in = {
		.reporting_mta = "mx1.example.jp\r\nX-Injected: yes",
		.trace_id = "ID\r\nFinal-Recipient: rfc822; fake@x",
		.sender = "s@example.org>\r\nBcc: victim2@example.net",
		.now = T_NOW, .boundary_seed = "SEED\r\n", .rcpts = &r, .nrcpt = 1,
	};
	struct buf b;
	char *p2;

	(void)state;
	write_dsn(&b, &in);
	save_sample("injection", &b);
	assert_no_line_starting(b.data, "Bcc:");
	assert_no_line_starting(b.data, "X-Evil:");
	assert_no_line_starting(b.data, "X-Injected:");
	assert_no_line_starting(b.data, "Content-Type: text/html");
	/* the reply text spells the first boundary: the next one is taken */
	{
		char *bd = boundary_of(b.data);

		assert_string_equal(bd, "=_ms-dsn_SEED_1");
		free(bd);
	}
	assert_int_equal(count_lines(b.data, "--=_ms-dsn_SEED"), 0);
	assert_null(strchr(b.data, '\x01'));
	assert_null(strchr(b.data, '\x7f'));
	/* the host name is a token in From:, Message-ID and Reporting-MTA */
	assert_line(b.data, "From: MAILER-DAEMON@mx1.example.jp--X-Injected--yes (Mail Delivery "
		    "System)");
	p2 = part_of(b.data, 1, 2);
	assert_int_equal(count_lines(p2, "Reporting-MTA: dns; mx1.example.jp--X-Injected--yes"), 1);
	assert_no_line_starting(p2, "Reporting-MTA: dns; fake");
	assert_no_line_starting(p2, "Final-Recipient: rfc822; fake@x");
	assert_int_equal(count_lines(p2, "Action: failed"), 1);
	assert_line(p2, "Final-Recipient: rfc822; evil@example.jp  Bcc: victim@example.net");
	assert_non_null(strstr(p2, "<b>??"));
	/* a bad enhanced code does not become the Status */
	assert_line(p2, "Status: 5.0.0");
	free(p2);
	buf_free(&b);
}

static void test_8bit_headers(void **state)
{
	static const char h8[] = "From: =?UTF-8?B?5bGx55Sw?= <yamada@example.jp>\n"
				 "Subject: \xe4\xbc\x9a\xe8\xad\xb0\n"
				 "\n"
				 "X-Bad: a\0b\rc\n";
	struct dsn_rcpt r = { .addr = "bob@example.jp", .code = 550, .text = "no" };
	struct dsn_input in = {
		.reporting_mta = "mx1.example.jp", .sender = "s@example.org", .now = T_NOW,
		.boundary_seed = "S8", .rcpts = &r, .nrcpt = 1,
		.headers = h8, .headers_len = sizeof h8 - 1,
	};
	struct buf b;
	char *hdr, *p3;

	(void)state;
	write_dsn(&b, &in);
	save_sample("global_headers", &b);
	hdr = xstrndup(b.data, (size_t)(strstr(b.data, "\r\n\r\n") - b.data) + 2);
	assert_false(any_8bit(hdr, strlen(hdr)));      /* our headers stay 7-bit */
	assert_line(hdr, "Content-Transfer-Encoding: 8bit");
	free(hdr);
	p3 = part_of(b.data, 2, 3);
	assert_line(p3, "Content-Type: message/global-headers");
	assert_line(p3, "Content-Transfer-Encoding: 8bit");
	/* LF made CRLF, the blank line dropped, NUL and stray CR replaced */
	assert_non_null(strstr(p3, "\r\n\r\nFrom: =?UTF-8?B?5bGx55Sw?= <yamada@example.jp>\r\n"
			       "Subject: \xe4\xbc\x9a\xe8\xad\xb0\r\nX-Bad: a?b?c\r\n"));
	free(p3);
	/* the delivery-status part stays 7-bit */
	p3 = part_of(b.data, 1, 3);
	assert_false(any_8bit(p3, strlen(p3)));
	free(p3);
	buf_free(&b);
}

static void test_utf8_recipient(void **state)
{
	struct dsn_rcpt r = {
		.addr = "\xe5\xb1\xb1\xe7\x94\xb0+x=y@\xe4\xbe\x8b.jp", .code = 553,
		.enhanced = "5.6.7", .text = "SMTPUTF8 not supported", .last_attempt = T_LAST,
	};
	struct dsn_input in = {
		.reporting_mta = "mx1.example.jp", .sender = "\xe9\x80\x81@example.jp",
		.now = T_NOW, .boundary_seed = "U8", .rcpts = &r, .nrcpt = 1,
		.headers = orig_headers, .headers_len = sizeof orig_headers - 1,
	};
	struct buf b;
	char *hdr, *p1, *p2;

	(void)state;
	write_dsn(&b, &in);
	save_sample("utf8_rcpt", &b);
	hdr = xstrndup(b.data, (size_t)(strstr(b.data, "\r\n\r\n") - b.data) + 2);
	assert_false(any_8bit(hdr, strlen(hdr)));
	assert_line(hdr, "To: undisclosed-recipients:;");
	free(hdr);
	p1 = part_of(b.data, 0, 3);
	assert_line(p1, "Content-Type: text/plain; charset=utf-8");
	assert_non_null(strstr(p1, "<\xe5\xb1\xb1\xe7\x94\xb0+x=y@\xe4\xbe\x8b.jp>: failed"));
	free(p1);
	p2 = part_of(b.data, 1, 3);
	assert_false(any_8bit(p2, strlen(p2)));
	assert_line(p2, "Final-Recipient: utf-8; \\x{5C71}\\x{7530}\\x{2B}x\\x{3D}y@\\x{4F8B}.jp");
	free(p2);
	p2 = part_of(b.data, 2, 3);
	assert_line(p2, "Content-Type: text/rfc822-headers");
	free(p2);
	buf_free(&b);

	/* invalid UTF-8 in an address: U+FFFD in the report, '?' in the text */
	r.addr = "a\xff@example.jp";
	write_dsn(&b, &in);
	assert_non_null(strstr(b.data, "Final-Recipient: utf-8; a\\x{FFFD}@example.jp\r\n"));
	assert_non_null(strstr(b.data, "<a?@example.jp>"));
	assert_false(any_8bit(b.data, b.len));
	buf_free(&b);
}

static void test_long_lines(void **state)
{
	struct buf h, b, text;
	struct dsn_rcpt r = { .addr = "bob@example.jp", .code = 550, .enhanced = "5.7.1",
			      .remote_mta = "mx.example.net" };
	struct dsn_input in = {
		.reporting_mta = "mx1.example.jp", .sender = "s@example.org", .now = T_NOW,
		.boundary_seed = "LONG", .rcpts = &r, .nrcpt = 1,
	};
	char *p3;

	(void)state;
	buf_init(&h, 0);
	buf_append_str(&h, "X-Long: ");
	for (int i = 0; i < 2000; i++)         /* 3-octet characters: a cut must not split one */
		buf_append_str(&h, "\xe3\x81\x82");
	buf_append_str(&h, "\r\nSubject: after\r\n");
	buf_init(&text, 0);
	for (int i = 0; i < 100; i++)
		buf_append_str(&text, "word ");
	buf_append_str(&text, "X");
	for (int i = 0; i < 1500; i++)
		buf_append_char(&text, 'y');       /* one unbreakable run */
	r.text = text.data;
	in.headers = h.data;
	in.headers_len = h.len;
	write_dsn(&b, &in);                    /* check_wire: every line <= 998 */
	save_sample("long", &b);
	p3 = part_of(b.data, 2, 3);
	assert_non_null(strstr(p3, "\xe3\x81\x82 [...]\r\nSubject: after\r\n"));
	{
		const char *x = strstr(p3, "X-Long: ");
		const char *e = strstr(x, "\r\n");

		assert_true(e - x <= 998);
		assert_true(e - x >= 990);
	}
	free(p3);
	/* the diagnostic is cut (with "...") and folded, never over 998 */
	assert_non_null(strstr(b.data, "Diagnostic-Code: smtp; 550 5.7.1 word word"));
	assert_non_null(strstr(b.data, "yyy...\r\n"));
	buf_free(&b);
	buf_free(&h);
	buf_free(&text);
}

static void test_boundary_collision(void **state)
{
	static const char h[] = "Subject: x\r\n--=_ms-dsn_COLL\r\n--=_ms-dsn_COLL_1--\r\n";
	struct dsn_rcpt r = { .addr = "bob@example.jp", .code = 550, .text = "no" };
	struct dsn_input in = {
		.reporting_mta = "mx1.example.jp", .sender = "s@example.org", .now = T_NOW,
		.boundary_seed = "COLL", .rcpts = &r, .nrcpt = 1,
		.headers = h, .headers_len = sizeof h - 1,
	};
	struct buf b;
	char *bd, *p3;

	(void)state;
	write_dsn(&b, &in);
	save_sample("collision", &b);
	bd = boundary_of(b.data);
	assert_string_equal(bd, "=_ms-dsn_COLL_2");
	free(bd);
	p3 = part_of(b.data, 2, 3);    /* also checks three delimiters and one close */
	assert_non_null(strstr(p3, "--=_ms-dsn_COLL\r\n--=_ms-dsn_COLL_1--\r\n"));
	free(p3);
	buf_free(&b);
}

static void test_bound(void **state)
{
	struct dsn_rcpt r = { .addr = "bob@example.jp", .code = 550, .text = "no" };
	struct dsn_input in = {
		.reporting_mta = "mx1.example.jp", .sender = "s@example.org", .now = T_NOW,
		.boundary_seed = "B", .rcpts = &r, .nrcpt = 1,
		.headers = orig_headers, .headers_len = sizeof orig_headers - 1,
	};
	struct buf b;

	(void)state;
	buf_init(&b, 512);
	assert_true(buf_append_str(&b, "keep"));
	assert_false(dsn_write(&b, &in));
	assert_int_equal(b.len, 4);            /* all or nothing */
	assert_string_equal(b.data, "keep");
	buf_free(&b);

	/* appends after what is there */
	buf_init(&b, 64 * 1024);
	assert_true(buf_append_str(&b, "Return-Path: <>\r\n"));
	assert_true(dsn_write(&b, &in));
	assert_int_equal(strncmp(b.data, "Return-Path: <>\r\nFrom: MAILER-DAEMON@", 37), 0);
	buf_free(&b);
}

static void test_defaults(void **state)
{
	/* no host name, no seed, no sender: still a well-formed message */
	struct dsn_rcpt r = { .addr = NULL, .code = 550 };
	struct dsn_input in = { .now = T_NOW, .rcpts = &r, .nrcpt = 1 };
	struct buf b;

	(void)state;
	write_dsn(&b, &in);
	assert_line(b.data, "From: MAILER-DAEMON@localhost (Mail Delivery System)");
	assert_line(b.data, "To: undisclosed-recipients:;");
	assert_line(b.data, "Message-ID: <69A94160.dsn@localhost>");
	assert_line(b.data, "Final-Recipient: rfc822; ");
	free(part_of(b.data, 1, 2));
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_status_and_subject),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_8bit_headers),
		cmocka_unit_test(test_utf8_recipient),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_boundary_collision),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
