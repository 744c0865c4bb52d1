/* smtp_reply.h — resumable parser of SMTP server replies (RFC 5321 §4.2),
 * for the relay's SMTP client, with enhanced status codes (RFC 2034,
 * RFC 3463) and the EHLO keywords the client cares about.
 *
 * No I/O, no globals. The caller feeds whatever bytes arrived:
 *
 *     size_t used;
 *     switch (smtp_reply_feed(p, in, len, &used)) { ... }
 *     in += used; len -= used;       // always advance by `used`, then loop
 *
 * Results:
 *  - SMTP_REPLY_NEED_MORE: all input consumed (used == len), no reply
 *    complete yet.
 *  - SMTP_REPLY_DONE: one whole reply (all its lines) was consumed;
 *    smtp_reply_get() returns it, valid until the next smtp_reply_feed()
 *    or smtp_reply_parser_free(). Bytes after `used` (pipelined replies)
 *    are the next reply's.
 *  - SMTP_REPLY_ERROR: not an SMTP reply, or over a limit;
 *    smtp_reply_error() says what in one sentence. The parser is dead (every
 *    later feed returns ERROR with used 0): drop the connection, since we no
 *    longer know which reply answers which command.
 *
 * Grammar: each line is 3 digits (first 2..5, second 0..5), then "-" (more
 * lines follow), " " or nothing (the last line), then text, then CRLF; a
 * bare LF is accepted as a line end too (sloppy servers), a CR elsewhere or
 * a NUL is an error. All lines of one reply must carry the same code.
 * Limits: max_bytes (default 64 KiB) for the whole reply as received and
 * max_lines (default 100); a longer reply is an error before it is stored,
 * so memory is bounded by max_bytes plus a small table.
 *
 * Enhanced status code: when the first line's text starts with
 * "class.subject.detail" (class equal to the code's first digit, subject
 * and detail 1..3 digits) followed by a space or the end, it is taken apart
 * into `enh_*`, and `text` points after it. Servers that do not announce
 * ENHANCEDSTATUSCODES rarely send such a thing by accident; the client
 * decides whether to trust it.
 *
 * Memory: the parser owns the reply and its strings.
 */
#ifndef MS_SMTP_REPLY_H
#define MS_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct smtp_reply {
	unsigned code;                /* 200..559 */
	bool has_enhanced;
	unsigned enh_class, enh_subject, enh_detail;
	char enhanced[16];            /* "2.1.5", or "" */
	/* Text of each line after "NNN-" / "NNN ", NUL-terminated, without the
	 * line end; enhanced codes are left in. */
	const char *const *lines;
	size_t line_count;            /* >= 1 */
	const char *text;             /* first line's text after its enhanced code */
};

struct smtp_ehlo {
	bool pipelining;
	bool starttls;
	bool eightbitmime;
	bool smtputf8;
	bool enhancedstatuscodes;
	bool size;
	uint64_t size_max;            /* SIZE n; 0 when no number was given */
};

struct smtp_reply_limits {
	size_t max_bytes;   /* default 64 KiB */
	size_t max_lines;   /* default 100 */
};

enum smtp_reply_result {
	SMTP_REPLY_NEED_MORE,
	SMTP_REPLY_DONE,
	SMTP_REPLY_ERROR,
};

struct smtp_reply_parser;

/* limits may be NULL; fields left 0 take the defaults. */
struct smtp_reply_parser *smtp_reply_parser_new(const struct smtp_reply_limits *limits);
void smtp_reply_parser_free(struct smtp_reply_parser **pp);

enum smtp_reply_result smtp_reply_feed(struct smtp_reply_parser *p, const char *in, size_t len,
				       size_t *used_r);
const struct smtp_reply *smtp_reply_get(const struct smtp_reply_parser *p);
const char *smtp_reply_error(const struct smtp_reply_parser *p);

/* The EHLO keywords of a 250 reply (lines after the first; keywords and
 * parameters are case-insensitive; unknown keywords ignored). False, with
 * *out zeroed, when the reply is not a 250. A SIZE parameter that is not a
 * number (or over 2^64-1) counts as SIZE without a number. */
bool smtp_reply_ehlo(const struct smtp_reply *r, struct smtp_ehlo *out);

#endif
