/* throttle.h — recognise a server telling us to slow down.
 *
 * Big hosted servers throttle migrations and say so in words, not codes:
 * Microsoft 365 answers "Request is throttled. Suggested Backoff Time: 3000
 * milliseconds"; Gmail closes with "* BYE [UNAVAILABLE] ... Account exceeded
 * command or bandwidth limits"; RFC 5530 servers use [LIMIT] or
 * [UNAVAILABLE]. Pure function, no I/O.
 */
#ifndef MS_THROTTLE_H
#define MS_THROTTLE_H

/* Milliseconds to wait before trying again (capped at 10 minutes), or 0
 * when text is not a throttling message. */
unsigned throttle_hint_ms(const char *text);

#endif
