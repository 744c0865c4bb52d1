/* smtp_client.h — the relay's SMTP client: delivers spooled messages to a
 * destination server (the old or the new server, or the bounce relay), by
 * SMTP or, straight into a mail store such as Dovecot, by LMTP.
 *
 * Blocking, one connection per struct smtp_client, built on core/conn (so
 * every wait has the connection's timeout) and proto/smtp_reply. A
 * delivery worker thread owns one client at a time and reuses it for
 * several transactions (connection reuse, RSET between them).
 *
 * Connect: greeting (a non-2xx greeting is a refusal with the server's
 * words), EHLO (HELO when EHLO is refused), STARTTLS when the server offers
 * it and opts->tls allows (the certificate is verified by default, ca_file
 * for a private CA), EHLO again over TLS. Bytes the server sends after its
 * STARTTLS reply and before the handshake are an error (the response
 * injection of CVE-2011-0411, client side).
 *
 * One transaction (smtp_client_send): MAIL FROM with SIZE= (when offered),
 * BODY=8BITMIME (when the message is 8-bit and it is offered) and SMTPUTF8
 * (when needed; a server without SMTPUTF8 gets a permanent 553 5.6.7 for
 * every recipient without sending anything, RFC 6531 §3.2); all RCPT TOs;
 * DATA. With PIPELINING, MAIL, the RCPTs and DATA go in one write and the
 * replies are read after (RFC 2920); without it, one at a time. The data
 * is streamed from the spool file descriptor and dot-stuffed on the fly, so
 * memory does not grow with the message; a message over the server's SIZE
 * is refused as 552 5.3.4 for every recipient without sending it. When no
 * recipient was accepted, DATA's reply (503/554 to a pipelined DATA) is
 * ignored, and a RSET ends the transaction.
 *
 * LMTP (RFC 2033, opts->lmtp; e.g. Dovecot's LMTP server): LHLO instead
 * of EHLO, with no HELO fallback (a refused LHLO is a refusal). PIPELINING
 * is implied (RFC 2033 §4.2 requires it of every LMTP server): MAIL, the
 * RCPTs and DATA always go in one write, whatever LHLO announced. After the
 * end of data the server sends one reply per accepted recipient, in RCPT
 * order, and each becomes that recipient's result. STARTTLS (LHLO again
 * over TLS), SIZE, SMTPUTF8, 8BITMIME, dot-stuffing and 421 are as for
 * SMTP; a 421 among the per-recipient replies is the result of that
 * recipient and of every later one. An LMTP server that answers 354 to a
 * DATA with no accepted recipient (RFC 2033 §4.2 says it must not) is left
 * at once: every result is known, the connection becomes unusable.
 *
 * Results per recipient: the RCPT reply when it was not 2xx, else the reply
 * to the end of data (LMTP: that recipient's own reply to it). A reply is
 * kept as code, enhanced code (from the reply, or "" when the server sent
 * none) and the first line's text. The final reply text usually names the
 * remote queue id ("250 2.0.0 Ok: queued as 4Xy..."), which the relay logs
 * for trace.
 *
 * Errors (false return): the connection failed, timed out, or the server
 * spoke garbage or closed it, before every result was known. err says what
 * (ERR_KIND_CONNECT / ERR_KIND_TLS / ERR_KIND_PROTOCOL, retry true); the
 * caller defers every recipient whose result is not known (code == 0) and
 * must close the client (smtp_client_usable() is false). Which results are
 * kept then:
 *  - SMTP: none. The end-of-data reply is the only result for the accepted
 *    recipients, so a false return means it never came, and every entry is
 *    cleared (RCPT refusals included: they are simply asked again).
 *  - LMTP: exactly the entries whose code is 2xx, i.e. the recipients whose
 *    own end-of-data reply was read and said delivered; the server has
 *    committed those, and retrying them would deliver twice. Every other
 *    entry (RCPT refusals, non-2xx per-recipient replies, recipients whose
 *    reply did not come) is cleared, as for SMTP.
 *
 * Ownership: the caller owns the results array; smtp_rcpt_result_clear()
 * frees each entry's text.
 */
#ifndef MS_SMTP_CLIENT_H
#define MS_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum smtp_client_tls {
	SMTP_TLS_MAY = 0,    /* STARTTLS when offered, verified; plaintext when not offered */
	SMTP_TLS_REQUIRE,    /* STARTTLS required (a server without it is a deferral) */
	SMTP_TLS_NONE,       /* never STARTTLS (tls = none, loopback tests) */
};

struct smtp_client_opts {
	const char *what;          /* "new server", for messages */
	const char *host;
	unsigned port;
	bool implicit_tls;         /* smtps:// */
	enum smtp_client_tls tls;
	bool verify;               /* verify certificate and host (default true) */
	const char *ca_file;
	const char *helo_name;     /* our host name for EHLO (LHLO) */
	int timeout_ms;            /* per wait; 0: 300 s (RFC 5321 §4.5.3.2 spirit) */
	bool lmtp;                 /* speak LMTP (RFC 2033), see above */
};

struct smtp_rcpt_result {
	unsigned code;             /* 0: not known */
	char enhanced[16];         /* "2.0.0" or "" */
	char *text;                /* first line's text, or NULL */
};
void smtp_rcpt_result_clear(struct smtp_rcpt_result *r);

struct smtp_client;

struct smtp_client *smtp_client_connect(const struct smtp_client_opts *opts, struct err *err);
/* rcpts: nrcpt addresses (without brackets). fd/size: the data (read from
 * the fd's current position). per_rcpt: nrcpt zeroed entries. */
bool smtp_client_send(struct smtp_client *c, const char *sender, const char *const *rcpts,
		      size_t nrcpt, int fd, uint64_t size, bool smtputf8, bool eightbit,
		      struct smtp_rcpt_result *per_rcpt, struct err *err);
/* True while the connection can take another transaction. */
bool smtp_client_usable(const struct smtp_client *c);
/* "host:port" the client talks to, and whether TLS is on (for logs). */
const char *smtp_client_peer(const struct smtp_client *c);
bool smtp_client_tls(const struct smtp_client *c);
/* QUIT (best effort) and free; sets *cp to NULL. */
void smtp_client_close(struct smtp_client **cp);

#endif
