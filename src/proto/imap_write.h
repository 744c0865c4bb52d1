/* imap_write.h — pieces of IMAP commands, written safely.
 *
 * Everything we send that came from elsewhere (folder names from the other
 * server, flags, dates, user names) goes through these so that no CR, LF or
 * quote can break out of its argument (command injection across servers).
 * No I/O: output is appended to a caller-owned struct buf.
 */
#ifndef MS_IMAP_WRITE_H
#define MS_IMAP_WRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/buf.h"

/* Append s as a quoted string ("..." with \ and " escaped). Returns false
 * (appending nothing) when s holds CR, LF, NUL or bytes >= 0x80: such a value
 * needs a literal, which the caller must send with imap_client_literal(). */
bool imap_write_quoted(struct buf *out, const char *s, size_t len);

/* True when flag may be sent in an APPEND/STORE flag list: one of the system
 * flags \Seen \Answered \Flagged \Deleted \Draft (any case), or a keyword
 * made only of ATOM-CHARs. \Recent and unknown \flags are refused (a server
 * answers BAD to them). */
bool imap_flag_appendable(const char *flag);

/* True when s is an IMAP date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (day may
 * be space-padded), as INTERNALDATE gives it and APPEND takes it. */
bool imap_datetime_valid(const char *s);

/* Parse an IMAP date-time into seconds since the epoch (UTC). */
bool imap_datetime_parse(const char *s, long long *epoch_r);

#endif
