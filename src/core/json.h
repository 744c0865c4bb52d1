/* json.h — just enough JSON writing for --json reports.
 * Appends to a caller-owned struct buf; strings are escaped per RFC 8259
 * (control characters as \u00XX; UTF-8 passes through; invalid UTF-8 bytes
 * are replaced by U+FFFD so the output is always valid JSON).
 */
#ifndef MS_JSON_H
#define MS_JSON_H

#include "buf.h"

void json_str(struct buf *b, const char *s);
/* "key": — with a leading comma unless *first, which it then clears. */
void json_key(struct buf *b, const char *key, int *first);

#endif
