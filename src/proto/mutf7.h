/* mutf7.h — IMAP modified UTF-7 mailbox names (RFC 3501 §5.1.3) <-> UTF-8.
 *
 * Pure functions, no I/O. Folder names arrive from the network, so decoding
 * is strict: it rejects what RFC 3501 forbids (bad base64, a non-empty
 * "&...-" that holds nothing or could have been written as plain ASCII,
 * "&" runs not closed by "-", unpaired UTF-16 surrogates, padding bits that
 * are not zero, bytes >= 0x80 or control characters outside shifts) rather
 * than guessing, because two spellings of one name would make two folders.
 * Decoding "&-" gives "&". Encoding takes well-formed UTF-8 (no overlongs, no
 * surrogates, nothing above U+10FFFF) and produces the canonical form.
 *
 * Output is appended to `out` (which the caller owns); on failure false is
 * returned and `out` may hold a partial result that the caller discards.
 */
#ifndef MS_MUTF7_H
#define MS_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/buf.h"

bool mutf7_to_utf8(const char *in, size_t len, struct buf *out);
bool utf8_to_mutf7(const char *in, size_t len, struct buf *out);
/* True when s is well-formed UTF-8 (as utf8_to_mutf7 requires). */
bool utf8_valid(const char *s, size_t len);

#endif
