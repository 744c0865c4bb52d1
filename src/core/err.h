/* err.h — errors that say how far they reach and whether a retry can help.
 *
 * Functions that can fail take a `struct err *err` last and return false (or
 * NULL / -1) on failure after filling it. The message is one sentence for an
 * administrator: it names the input (file:line, folder, UID, server) and,
 * where we know it, what to do. It never contains a password or token.
 */
#ifndef MS_ERR_H
#define MS_ERR_H

#include <stdbool.h>

enum err_scope {
	ERR_SCOPE_NONE = 0,
	ERR_SCOPE_MESSAGE,  /* one message could not be handled; go on */
	ERR_SCOPE_FOLDER,   /* one folder; other folders go on */
	ERR_SCOPE_ACCOUNT,  /* this account stops; other accounts go on */
	ERR_SCOPE_RUN,      /* nothing can go on (bad usage, bad config) */
};

enum err_kind {
	ERR_KIND_NONE = 0,
	ERR_KIND_USAGE,     /* bad command line */
	ERR_KIND_CONFIG,    /* bad configuration or accounts file */
	ERR_KIND_AUTH,      /* credentials refused */
	ERR_KIND_CONNECT,   /* could not reach, or lost, the server */
	ERR_KIND_TLS,       /* TLS handshake or certificate verification */
	ERR_KIND_PROTOCOL,  /* the server said something we cannot accept */
	ERR_KIND_REFUSED,   /* the server refused an operation (NO) */
	ERR_KIND_IO,        /* local file system */
	ERR_KIND_INTERNAL,
};

struct err {
	enum err_scope scope;
	enum err_kind kind;
	bool retry;         /* a later retry (reconnect) may succeed */
	char msg[768];
};

void err_clear(struct err *e);
void err_set(struct err *e, enum err_scope scope, enum err_kind kind, bool retry,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Prepend context ("old server mail.example.jp: ") to an error set deeper down. */
void err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool err_is_set(const struct err *e);

#endif
