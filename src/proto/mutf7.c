/* mutf7.c — IMAP modified UTF-7 (RFC 3501 §5.1.3) <-> UTF-8.
 *
 * Contract: see mutf7.h. Decoding accepts exactly the strings the encoder
 * produces, so that every folder name has one spelling: decode(x) succeeds
 * only when encode(decode(x)) == x. Beyond the rules listed in mutf7.h this
 * means two further refusals:
 *   - a shift that ends right where another begins ("&AKM-&AKM-"): the
 *     encoder would have written one shift ("&AKMAow-");
 *   - U+0000 anywhere, in either direction: callers treat names as C
 *     strings, and a NUL would silently cut "a\0b" and "a\0c" to one "a".
 *
 * SECURITY: input is untrusted network data. No recursion, no globals, all
 * output goes through the caller's bounded struct buf, and every loop moves
 * forward by at least one input byte.
 */
#include "mutf7.h"

#include <stdint.h>

/* RFC 3501 modified BASE64: RFC 2045's alphabet with ',' in place of '/'. */
static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* Printable US-ASCII represents itself and must never be base64-encoded. */
static bool is_direct(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

static bool put_utf8(struct buf *out, uint32_t c)
{
	unsigned char b[4];
	size_t n;

	if (c < 0x80) {
		b[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (unsigned char)(0xc0 | (c >> 6));
		b[1] = (unsigned char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (c >> 12));
		b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (c >> 18));
		b[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (c & 0x3f));
		n = 4;
	}
	return buf_append(out, b, n);
}

/* Decode one shift: in[0] is the first byte after '&'. On success *used_r
 * is the number of bytes consumed including the closing '-'. */
static bool decode_shift(const unsigned char *in, size_t len, struct buf *out,
			 size_t *used_r)
{
	uint32_t bits = 0;      /* pending bits, right-aligned */
	unsigned nbits = 0;     /* how many of them */
	uint32_t high = 0;      /* a high surrogate awaiting its low half */
	size_t units = 0;
	size_t i;

	for (i = 0; i < len && in[i] != '-'; i++) {
		int v = b64_value(in[i]);
		if (v < 0)
			return false;   /* not base64, or input ended in the shift */
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t u = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		units++;
		if (high != 0) {
			if (u < 0xdc00 || u > 0xdfff)
				return false;   /* high surrogate without its low half */
			if (!put_utf8(out, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00)))
				return false;
			high = 0;
		} else if (u >= 0xd800 && u <= 0xdbff) {
			high = u;
		} else if (u >= 0xdc00 && u <= 0xdfff) {
			return false;           /* low surrogate first */
		} else if (u == 0 || is_direct(u)) {
			return false;           /* NUL, or ASCII that must be written plain */
		} else if (!put_utf8(out, u)) {
			return false;
		}
	}
	if (i == len)
		return false;                   /* "&..." not closed by '-' */
	if (i == 0) {
		*used_r = 1;                    /* "&-" */
		return buf_append_char(out, '&');
	}
	/* The canonical form pads only to the next 6-bit boundary, with zeros:
	 * a whole spare base64 character or a set padding bit is another
	 * spelling of the same name. */
	if (units == 0 || high != 0 || nbits >= 6 || bits != 0)
		return false;
	*used_r = i + 1;
	return true;
}

bool mutf7_to_utf8(const char *in, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	bool after_shift = false;   /* the previous byte closed a non-empty shift */
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		if (c == '&') {
			size_t used;
			bool empty = i + 1 < len && s[i + 1] == '-';
			if (after_shift && !empty)
				return false;   /* "-&": the encoder would have merged them */
			if (!decode_shift(s + i + 1, len - i - 1, out, &used))
				return false;
			i += 1 + used;
			after_shift = !empty;
			continue;
		}
		if (!is_direct(c))
			return false;           /* control or 8-bit byte outside a shift */
		if (!buf_append_char(out, (char)c))
			return false;
		after_shift = false;
		i++;
	}
	return true;
}

/* Decode one UTF-8 sequence at s (len > 0) per RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF. Returns its length, or 0 if invalid. */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp_r)
{
	unsigned char c = s[0];
	uint32_t cp, min;
	size_t n;

	if (c < 0x80) {
		*cp_r = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return 0;       /* continuation byte, C0/C1 overlong lead, F5..FF */
	}
	if (len < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		size_t n = utf8_next(p + i, len - i, &cp);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Flush the pending bits of a shift (zero-padded to 6) and close it. */
static bool close_shift(struct buf *out, uint32_t bits, unsigned nbits)
{
	if (nbits > 0 &&
	    !buf_append_char(out, b64_chars[(bits << (6 - nbits)) & 0x3f]))
		return false;
	return buf_append_char(out, '-');
}

bool utf8_to_mutf7(const char *in, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	bool shifted = false;
	uint32_t bits = 0;
	unsigned nbits = 0;
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_next(s + i, len - i, &cp);
		if (n == 0 || cp == 0)
			return false;
		i += n;
		if (is_direct(cp)) {
			if (shifted) {
				if (!close_shift(out, bits, nbits))
					return false;
				shifted = false;
				bits = 0;
				nbits = 0;
			}
			if (!(cp == '&' ? buf_append(out, "&-", 2)
					: buf_append_char(out, (char)cp)))
				return false;
			continue;
		}
		if (!shifted) {
			if (!buf_append_char(out, '&'))
				return false;
			shifted = true;
		}
		uint32_t u[2];
		int nu = 1;
		if (cp >= 0x10000) {
			u[0] = 0xd800 + ((cp - 0x10000) >> 10);
			u[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
			nu = 2;
		} else {
			u[0] = cp;
		}
		for (int k = 0; k < nu; k++) {
			bits = (bits << 16) | u[k];
			nbits += 16;
			while (nbits >= 6) {
				nbits -= 6;
				if (!buf_append_char(out, b64_chars[(bits >> nbits) & 0x3f]))
					return false;
			}
			bits &= (1u << nbits) - 1;
		}
	}
	if (shifted)
		return close_shift(out, bits, nbits);
	return true;
}
