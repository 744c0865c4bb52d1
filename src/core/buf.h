/* buf.h — growable byte buffer with a hard maximum.
 *
 * Every buffer fed from the network has a bound (like curl's dynbuf): an
 * append that would pass `max` fails and leaves the buffer unchanged, so a
 * hostile peer cannot make us allocate without limit. The data is always
 * NUL-terminated (not counted in len) so text can be used as a C string.
 * The buffer owns its memory; buf_free() releases it.
 */
#ifndef MS_BUF_H
#define MS_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;   /* NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;   /* 0 means no bound: only for data we produce ourselves */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);           /* len = 0, memory kept */
bool buf_append(struct buf *b, const void *p, size_t n);
bool buf_append_str(struct buf *b, const char *s);
bool buf_append_char(struct buf *b, char c);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Hand the data to the caller (who frees it); the buffer is left empty. */
char *buf_steal(struct buf *b);

#endif
