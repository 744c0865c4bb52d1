/* url.h — server addresses: imap://[user@]host[:port], imaps://...,
 * smtp://host[:port], smtps://..., lmtp://host[:port] (default port 24)
 *
 * The user part may be percent-encoded (alice%40example.jp) and may also be
 * written raw with '@' in it: the last '@' before the host separates user
 * from host. IPv6 hosts are written in brackets ([::1]:993). Default ports:
 * imap 143, imaps 993, smtp 25, smtps 465. No I/O.
 */
#ifndef MS_URL_H
#define MS_URL_H

#include <stdbool.h>

#include "err.h"

struct url {
	char *scheme;    /* lower case: "imap", "imaps", "smtp", "smtps" */
	char *user;      /* decoded, or NULL */
	char *host;      /* without brackets */
	unsigned port;
	bool implicit_tls;  /* imaps, smtps */
};

/* `what` names the input in messages ("--old", "mailshift.conf:7 [old] imap"). */
bool url_parse(const char *text, const char *what, struct url *out, struct err *err);
void url_free(struct url *u);

#endif
