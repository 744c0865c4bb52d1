/* imap_client.h — an IMAP4rev1 client connection: TLS, capabilities,
 * authentication, and pipelined commands with streamed literals.
 *
 * Model. Commands are written with imap_cmd_begin() … imap_cmd_end() into
 * the connection's write buffer and need not wait for each other
 * (pipelining); each carries a completion callback that receives its tagged
 * response. Everything else the server sends — untagged data and the
 * streamed literals inside it — goes to the client's event handler as it
 * arrives (imap_client_set_handler). imap_client_wait(c, n) sends what is
 * buffered and processes server output until at most n commands are still
 * pending; it is the only place that blocks on reading.
 *
 * Literals we send: imap_cmd_literal() announces one. With LITERAL+ (or
 * LITERAL- and at most 4096 bytes) it is non-synchronizing and returns at
 * once; otherwise it waits for the server's "+" (processing other responses
 * meanwhile). If the server refuses the command instead of sending "+",
 * imap_cmd_literal() returns false with err->kind == ERR_KIND_REFUSED: the
 * command is over (its callback has run) and the caller must not send the
 * literal's bytes.
 *
 * Security: passwords and tokens are only ever sent after TLS is up, unless
 * the endpoint says tls_none; LOGINDISABLED is honoured; STARTTLS discards
 * nothing silently — bytes that arrive after the STARTTLS OK and before the
 * handshake are an error (a man in the middle injecting responses). Nothing
 * sent during authentication is logged.
 *
 * Ownership: imap_client_connect() returns a client that the caller closes
 * with imap_client_close(). Events and responses passed to callbacks are
 * valid only during the call.
 */
#ifndef MS_IMAP_CLIENT_H
#define MS_IMAP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "proto/imap_parser.h"

struct imap_endpoint {
	const char *what;        /* "old server" / "new server" */
	const char *host;
	unsigned port;
	bool implicit_tls;       /* imaps:// */
	bool tls_none;           /* imap:// with "tls = none": no TLS at all */
	const char *ca_file;
	enum auth_mech auth;
	const char *user;        /* the mailbox owner */
	const char *admin_user;  /* log in as this user on behalf of `user` */
	const char *secret;      /* password of user (or admin), or OAuth2 token */
	int timeout_ms;
	bool no_literal_plus;    /* ignore LITERAL+/LITERAL- (buggy servers, tests) */
};

struct imap_caps {
	bool imap4rev1, starttls, logindisabled, sasl_ir;
	bool auth_plain, auth_login, auth_xoauth2;
	bool literal_plus, literal_minus, uidplus, namespace_, special_use;
	bool multiappend, condstore, qresync, idle, list_extended, list_status;
	bool enable, move, esearch, utf8_accept, id, unselect;
	uint64_t appendlimit;    /* 0: none advertised */
};

struct imap_event {
	enum imap_parse_result type;   /* RESPONSE, LITERAL_BEGIN, LITERAL_DATA, LITERAL_END */
	const struct imap_response *resp;     /* RESPONSE */
	const struct imap_literal_info *lit;  /* LITERAL_* */
	const unsigned char *data;            /* LITERAL_DATA */
	size_t len;
};

struct imap_client;

/* Return false (with err set) to abort processing; imap_client_wait()
 * then returns false with that error. */
typedef bool imap_event_cb(void *ctx, struct imap_client *c, const struct imap_event *ev,
			   struct err *err);
/* tagged is NULL when the command was abandoned (imap_client_abort). */
typedef void imap_done_cb(void *ctx, const struct imap_response *tagged);

struct imap_client *imap_client_connect(const struct imap_endpoint *ep, struct err *err);
/* LOGOUT (best effort, short wait) and free. */
void imap_client_close(struct imap_client **cp);

const struct imap_caps *imap_client_caps(const struct imap_client *c);
const char *imap_client_what(const struct imap_client *c);
bool imap_client_is_tls(const struct imap_client *c);
unsigned long long imap_client_bytes_in(const struct imap_client *c);
/* Text of the last untagged BYE, or NULL. */
const char *imap_client_bye(const struct imap_client *c);

void imap_client_set_handler(struct imap_client *c, imap_event_cb *cb, void *ctx);

/* IDLE (RFC 2177) on the selected folder: send it and wait for the
 * server's "+". Afterwards anything readable on imap_client_fd() — or
 * imap_client_has_input() — means the folder changed (or the server
 * gave up); the caller then simply closes the client. */
bool imap_client_idle_start(struct imap_client *c, struct err *err);
int imap_client_fd(const struct imap_client *c);
bool imap_client_has_input(const struct imap_client *c);

/* Building a command. */
void imap_cmd_begin(struct imap_client *c, imap_done_cb *done, void *ctx);
void imap_cmd_add(struct imap_client *c, const char *text);
/* Mailbox names, user names…: quoted when possible, else a literal. */
bool imap_cmd_add_astring(struct imap_client *c, const char *s, struct err *err);
bool imap_cmd_literal(struct imap_client *c, uint64_t size, struct err *err);
bool imap_cmd_data(struct imap_client *c, const void *p, size_t n, struct err *err);
bool imap_cmd_end(struct imap_client *c, struct err *err);

size_t imap_client_pending(const struct imap_client *c);
bool imap_client_wait(struct imap_client *c, size_t max_pending, struct err *err);

/* Give up on every pending command: each completion callback runs now
 * with tagged == NULL (so callers can free what they attached) and the
 * client is marked broken (every later wait fails). Runs by itself when
 * waiting fails, so callbacks never outlive the caller's stack frame;
 * call it yourself before dropping a client that failed elsewhere (e.g.
 * a handler error on another connection). */
void imap_client_abort(struct imap_client *c);

/* A finished command's outcome, copied out of the parser. */
struct imap_reply {
	enum imap_status status;   /* OK / NO / BAD; NONE if not finished */
	char *code;                /* or NULL */
	char *text;
};
void imap_reply_clear(struct imap_reply *r);
/* imap_done_cb that fills a struct imap_reply (ctx). */
void imap_reply_store(void *ctx, const struct imap_response *tagged);

/* Run one simple command (fmt is the text after the tag; arguments from
 * elsewhere must be quoted by the caller, e.g. with imap_quote) and wait
 * for it. Returns false only on connection/protocol errors; a NO/BAD is
 * reported in *reply. */
bool imap_client_run(struct imap_client *c, struct imap_reply *reply, struct err *err,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "s" quoted for a command, caller frees; NULL when s cannot be quoted
 * (needs a literal: use imap_cmd_add_astring). */
char *imap_quote(const char *s);

#endif
