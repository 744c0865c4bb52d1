/* dsn.h — writes a delivery status notification (RFC 3464, RFC 3461 §6,
 * RFC 6522 multipart/report) for recipients the relay could not deliver.
 *
 * Pure: builds the whole message in memory from the failed recipients and
 * the original message's header block (text/rfc822-headers: the body of the
 * original is not returned, as Postfix does by default for large
 * messages; this also keeps the bounce small). No I/O, no globals except
 * what the caller passes (time, host name, a unique boundary seed).
 *
 * Output: CRLF line ends, 7-bit headers (an 8-bit or UTF-8 original header
 * block goes in as message/global-headers per RFC 6533 instead of
 * text/rfc822-headers), lines at most 998 octets (longer original header
 * lines are cut at 998 with the cut marked), From: MAILER-DAEMON@hostname,
 * To: the original sender (undisclosed-recipients:; when it is not
 * ASCII: the envelope carries it), Subject: "Undelivered Mail Returned to
 * Sender" ("Delayed Mail (still being retried)" when every recipient is a
 * warning),
 * Auto-Submitted: auto-replied (RFC 3834), a Message-ID and Date. The
 * report part has Reporting-MTA: dns; hostname, X-Mailshift-Trace of the
 * original, Arrival-Date, and per recipient: Final-Recipient: rfc822; addr
 * (utf-8; addr for a non-ASCII one, RFC 6533), Action: failed (or
 * delayed for a warning), Status: the enhanced code (from the reply, else
 * 5.0.0 / 4.0.0 by the reply code), Remote-MTA: dns; host (when known),
 * Diagnostic-Code: smtp; the reply (control characters replaced), and
 * Last-Attempt-Date.
 *
 * The output holds 8-bit octets only in the human-readable part (a UTF-8
 * recipient address) and in a message/global-headers part; the top-level
 * Content-Transfer-Encoding then says 8bit and the caller spools the DSN as
 * 8BITMIME (SMTPUTF8 when an address is UTF-8). The delivery-status part
 * is always 7-bit (a UTF-8 address as RFC 6533 utf-8-addr-xtext).
 *
 * The envelope of a DSN is the null sender <> to the original sender; the
 * relay never sends one for a message whose sender was <> (no bounce
 * loops) — that check is the caller's.
 */
#ifndef MS_DSN_H
#define MS_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct dsn_rcpt {
	const char *addr;          /* the failed recipient */
	unsigned code;             /* the reply code that decided (e.g. 550), or 0 */
	const char *enhanced;      /* "5.1.1" or "" / NULL */
	const char *text;          /* the server's words or our reason, may be NULL */
	const char *remote_mta;    /* host name of the server that answered, or NULL */
	int64_t last_attempt;      /* unix seconds */
	bool delayed;              /* a warning (Action: delayed), not a failure */
};

struct dsn_input {
	const char *reporting_mta; /* our host name */
	const char *trace_id;
	const char *sender;        /* the original envelope sender (To: of the DSN) */
	int64_t arrival;           /* unix seconds */
	int64_t now;
	const char *boundary_seed; /* unique per DSN, e.g. the new spool ID */
	const struct dsn_rcpt *rcpts;
	size_t nrcpt;
	const char *headers;       /* the original header block (without the blank line) */
	size_t headers_len;
};

/* Appends the whole DSN message to out (which the caller owns). False only
 * when out's bound is hit. */
bool dsn_write(struct buf *out, const struct dsn_input *in);

#endif
