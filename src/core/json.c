/* json.c — see json.h. */
#include "json.h"

#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

void json_str(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	if (s == NULL) {
		buf_append_str(b, "null");
		return;
	}
	buf_append_char(b, '"');
	while (*p) {
		if (*p == '"' || *p == '\\') {
			buf_append_char(b, '\\');
			buf_append_char(b, (char)*p++);
		} else if (*p < 0x20) {
			buf_printf(b, "\\u%04x", *p++);
		} else {
			size_t n = utf8_len(p);
			if (n == 0) {
				buf_append_str(b, "\xef\xbf\xbd");
				p++;
			} else {
				buf_append(b, p, n);
				p += n;
			}
		}
	}
	buf_append_char(b, '"');
}

void json_key(struct buf *b, const char *key, int *first)
{
	if (!*first)
		buf_append_char(b, ',');
	*first = 0;
	json_str(b, key);
	buf_append_char(b, ':');
}
