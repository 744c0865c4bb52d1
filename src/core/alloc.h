/* alloc.h — allocation that either succeeds or does not return.
 *
 * Like Postfix's mymalloc: a mail migration that runs out of memory has no
 * sensible partial recovery, and checking every malloc() invites bugs that
 * lose mail. On failure these print one line to stderr and abort().
 * Memory returned is owned by the caller and released with free().
 */
#ifndef MS_ALLOC_H
#define MS_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* xreallocarray checks count*size for overflow before growing. */
void *xreallocarray(void *p, size_t count, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a freshly allocated string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
