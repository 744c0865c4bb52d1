/* smtp_data.h — resumable reader of the SMTP DATA stream (RFC 5321 §4.1.1.4,
 * §4.5.2), hardened against SMTP smuggling.
 *
 * No I/O, no globals, no allocation: struct smtp_data is a few words of
 * state the caller owns (on the stack or inside its session) and sets up
 * with smtp_data_init() after sending 354. Then it feeds bytes as they
 * arrive:
 *
 *     size_t used; const char *run; size_t run_len;
 *     r = smtp_data_feed(d, in, len, &used, &run, &run_len);
 *     append(run, run_len);          // may be 0 bytes
 *     in += used; len -= used;       // always advance by `used`, then loop
 *
 * Each call consumes in[0 .. used) and hands out at most one run of message
 * bytes, which is always a sub-range of that consumed input (no copy, no
 * pending bytes: the reader never holds back output across calls).
 * Results:
 *  - SMTP_DATA_MORE: the end of data is not reached yet; call again with the
 *    rest of the input (used < len) or when more arrives (used == len).
 *  - SMTP_DATA_END: "<CRLF>.<CRLF>" was consumed (in[used - 1] is its LF);
 *    the message is exactly the concatenation of all runs handed out. Bytes
 *    after `used` belong to the next command.
 *  - SMTP_DATA_END_BARE_NEWLINE: the end was found, but a bare CR or bare LF
 *    occurred in the data: reply 550 5.5.2 and queue nothing.
 *  - SMTP_DATA_END_TOO_BIG: the end was found, but the message is over
 *    max_size: reply 552 5.3.4 and queue nothing.
 * Once an END result is returned, later calls return it again with used 0.
 * When both errors occur, BARE_NEWLINE is reported (smtp_data_too_big()
 * still tells).
 *
 * The message as handed out: dot-stuffing removed (a line's leading '.' is
 * dropped), line ends kept as CRLF, including the CRLF that precedes the
 * final ".": so a message always ends in CRLF unless it is empty.
 *
 * Smuggling (like Postfix smtpd_forbid_bare_newline): a line ends only in
 * CRLF. A CR not followed by LF and a LF not preceded by CR are errors, and
 * the byte after them does not start a line, so none of "<LF>.<LF>",
 * "<CR>.<CR>", "<LF>.<CRLF>", "<CRLF>.<LF>", "<CR>.<CRLF>" ends the data;
 * only "<CRLF>.<CRLF>" (or ".<CRLF>" as the very first line) does. The
 * reader keeps consuming to that real end, so the session stays in step
 * with the client, whose later commands are not taken from the message.
 *
 * Once an error is known (the first bare CR/LF, or the byte that would
 * pass max_size) no more runs are handed out; the bytes already handed out
 * must be discarded by the caller. Where the hand-out stops depends only on
 * the input, never on how it was split.
 */
#ifndef MS_SMTP_DATA_H
#define MS_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum smtp_data_result {
	SMTP_DATA_MORE,
	SMTP_DATA_END,
	SMTP_DATA_END_BARE_NEWLINE,
	SMTP_DATA_END_TOO_BIG,
};

struct smtp_data {
	uint64_t max_size;  /* message bytes allowed (after unstuffing) */
	uint64_t size;      /* message bytes seen so far, even past max_size */
	uint64_t out;       /* bytes handed out */
	unsigned char state;
	bool bare_newline;
	bool too_big;
};

/* max_size 0 means no limit (only for tests and trusted input). */
void smtp_data_init(struct smtp_data *d, uint64_t max_size);

enum smtp_data_result smtp_data_feed(struct smtp_data *d, const char *in, size_t len,
				     size_t *used_r, const char **run_r, size_t *run_len_r);

/* The size of the message as sent (dot-unstuffed), counted to the end even
 * when too big or refused: for logs. */
uint64_t smtp_data_size(const struct smtp_data *d);
bool smtp_data_too_big(const struct smtp_data *d);
bool smtp_data_bare_newline(const struct smtp_data *d);

#endif
