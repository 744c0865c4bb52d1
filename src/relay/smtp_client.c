/* smtp_client.c — the relay's blocking SMTP delivery client; the contract
 * is smtp_client.h.
 *
 * Every reply goes through one resumable parser fed from a small read
 * buffer; bytes that arrive after a complete reply stay in that buffer for
 * the next one, which is what makes pipelined replies (RFC 2920) and the
 * STARTTLS injection check simple: "nothing left over" is rpos == rlen.
 *
 * A transaction ends in one of two ways: every recipient has a result
 * (return true, even when the connection died afterwards: the caller only
 * needs to know whether it may reuse it, smtp_client_usable()), or a
 * result is missing because the connection failed (return false, every
 * result cleared so the caller defers them all; LMTP keeps the 2xx ones,
 * see below).
 *
 * LMTP (RFC 2033) differs in three places only: the greeting verb (LHLO,
 * no HELO fallback), pipelining whatever LHLO says, and the end of data,
 * which is answered once per accepted recipient. The recipients those
 * replies belong to are the ones still without a result after the RCPT
 * replies, taken in RCPT order; so the RCPT loop must leave accepted
 * recipients at code 0, which it does for SMTP too. When the connection
 * breaks in the middle of those replies, the 2xx ones already read are
 * final deliveries (the server has committed them), so smtp_client_send
 * keeps exactly the 2xx results on failure: a retry must not deliver them
 * a second time.
 *
 * 421 (RFC 5321 §3.8, "service not available, closing channel") may come
 * as the reply to any command. We take it as the result of every recipient
 * whose result is not known yet and stop there: it is a 4xx, so the caller
 * defers those recipients just as it would after a failure, while results
 * the server already gave (a 550 for one RCPT) are kept instead of being
 * retried for nothing. The connection is unusable afterwards. A 421 seen
 * after every result is known (to RSET, to QUIT) only makes it unusable.
 *
 * SECURITY: the server is not trusted. Replies are bounded by the parser's
 * limits and carry no CR, LF or NUL into results. Addresses are checked
 * for bytes that could end or extend a command line before anything is
 * sent. The message is sent with every line end as CRLF (a bare CR or LF
 * becomes CRLF), so a receiving server that is lax about line ends cannot
 * be made to see an early end of data (SMTP smuggling); the spool holds
 * CRLF data anyway, so this changes nothing for well-formed messages.
 */
#include "smtp_client.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/conn.h"
#include "proto/smtp_reply.h"

#define DATA_CHUNK (64 * 1024)
#define DEFAULT_TIMEOUT_MS 300000
/* QUIT is a courtesy: a server that does not answer soon is not waited for. */
#define QUIT_WAIT_MS 5000
/* RFC 5321 §4.5.3.1.3 allows a path of 256 octets; room for SMTPUTF8. */
#define ADDR_MAX 512

struct smtp_client {
	struct conn *conn;
	struct smtp_reply_parser *parser;
	char rbuf[4096];
	size_t rpos, rlen;     /* unparsed bytes are rbuf[rpos .. rlen) */
	struct smtp_ehlo ehlo; /* all false after HELO */
	bool usable;
	char *what;
	char *peer;
	char *helo_name;
	int timeout_ms;
	bool lmtp;
};

/* Line-start state of the dot-stuffer, carried across chunks. */
struct stuffer {
	bool line_start;
	bool after_cr;         /* last byte was a CR, already sent as CRLF */
};

void smtp_rcpt_result_clear(struct smtp_rcpt_result *r)
{
	free(r->text);
	memset(r, 0, sizeof *r);
}

static void result_set(struct smtp_rcpt_result *r, unsigned code, const char *enhanced,
		       const char *text)
{
	free(r->text);
	r->code = code;
	snprintf(r->enhanced, sizeof r->enhanced, "%s", enhanced != NULL ? enhanced : "");
	r->text = text != NULL ? xstrdup(text) : NULL;
}

static void result_from_reply(struct smtp_rcpt_result *r, const struct smtp_reply *rep)
{
	result_set(r, rep->code, rep->has_enhanced ? rep->enhanced : "", rep->text);
}

/* Recipients that were sent and have no result yet get this reply. */
static void results_fill(struct smtp_rcpt_result *res, const bool *sent, size_t n,
			 const struct smtp_reply *rep)
{
	for (size_t i = 0; i < n; i++) {
		if (sent[i] && res[i].code == 0)
			result_from_reply(&res[i], rep);
	}
}

static void results_fill_local(struct smtp_rcpt_result *res, size_t n, unsigned code,
			       const char *enhanced, const char *text)
{
	for (size_t i = 0; i < n; i++) {
		if (res[i].code == 0)
			result_set(&res[i], code, enhanced, text);
	}
}

/* An address we can put between < and > on one command line. */
static bool addr_ok(const char *a, bool empty_ok)
{
	size_t n = strlen(a);

	if ((n == 0 && !empty_ok) || n > ADDR_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)a; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return false;
	}
	return true;
}

/* The next reply, or NULL with err set; the connection is then unusable.
 * `after` names the command answered, for the message. */
static const struct smtp_reply *read_reply(struct smtp_client *c, const char *after,
					   struct err *err)
{
	for (;;) {
		size_t used = 0;
		enum smtp_reply_result r = smtp_reply_feed(c->parser, c->rbuf + c->rpos,
							   c->rlen - c->rpos, &used);
		c->rpos += used;
		if (r == SMTP_REPLY_DONE)
			return smtp_reply_get(c->parser);
		if (r == SMTP_REPLY_ERROR) {
			c->usable = false;
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_PROTOCOL, true,
				"%s %s: %s (answering %s); dropping the connection", c->what,
				c->peer, smtp_reply_error(c->parser), after);
			return NULL;
		}
		c->rpos = c->rlen = 0;
		ssize_t n = conn_read(c->conn, c->rbuf, sizeof c->rbuf, err);
		if (n < 0) {
			c->usable = false;
			return NULL;
		}
		if (n == 0) {
			c->usable = false;
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONNECT, true,
				"%s %s closed the connection instead of answering %s", c->what,
				c->peer, after);
			return NULL;
		}
		c->rlen = (size_t)n;
	}
}

/* One command line (CRLF added), buffered until the next flush. */
static bool put_cmd(struct smtp_client *c, struct err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool put_cmd(struct smtp_client *c, struct err *err, const char *fmt, ...)
{
	char line[ADDR_MAX + 128];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line - 2) {
		/* Addresses are checked against ADDR_MAX first: a bug if reached. */
		c->usable = false;
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_INTERNAL, false,
			"%s %s: command line too long", c->what, c->peer);
		return false;
	}
	memcpy(line + n, "\r\n", 2);
	if (!conn_write(c->conn, line, (size_t)n + 2, err)) {
		c->usable = false;
		return false;
	}
	return true;
}

static bool flush(struct smtp_client *c, struct err *err)
{
	if (!conn_flush(c->conn, err)) {
		c->usable = false;
		return false;
	}
	return true;
}

/* EHLO, or HELO when the server refuses EHLO (RFC 5321 §3.2). LMTP has
 * LHLO only (RFC 2033 §4.1): a server that refuses it is no LMTP server. */
static bool say_hello(struct smtp_client *c, struct err *err)
{
	const struct smtp_reply *r;
	const char *verb = c->lmtp ? "LHLO" : "EHLO";

	if (!put_cmd(c, err, "%s %s", verb, c->helo_name) || !flush(c, err))
		return false;
	if ((r = read_reply(c, verb, err)) == NULL)
		return false;
	if (r->code == 250) {
		smtp_reply_ehlo(r, &c->ehlo);
		return true;
	}
	memset(&c->ehlo, 0, sizeof c->ehlo);
	if (c->lmtp) {
		c->usable = false;
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_REFUSED, true,
			"%s %s refused our LMTP greeting (LHLO %s): %u %s; check that this "
			"port is an LMTP listener", c->what, c->peer, c->helo_name, r->code,
			r->lines[0]);
		return false;
	}
	if (r->code / 100 == 5) {
		if (!put_cmd(c, err, "HELO %s", c->helo_name) || !flush(c, err))
			return false;
		if ((r = read_reply(c, "HELO", err)) == NULL)
			return false;
		if (r->code / 100 == 2)
			return true;
	}
	c->usable = false;
	err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_REFUSED, true,
		"%s %s refused our greeting (EHLO/HELO %s): %u %s", c->what, c->peer,
		c->helo_name, r->code, r->lines[0]);
	return false;
}

static bool starttls(struct smtp_client *c, struct err *err)
{
	const struct smtp_reply *r;

	if (!put_cmd(c, err, "STARTTLS") || !flush(c, err))
		return false;
	if ((r = read_reply(c, "STARTTLS", err)) == NULL)
		return false;
	if (r->code != 220) {
		/* It offered STARTTLS: going on in plaintext now would let anyone
		 * who can make it fail read the mail. Defer instead. */
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_TLS, true,
			"%s %s offered STARTTLS but refused it: %u %s", c->what, c->peer,
			r->code, r->lines[0]);
		return false;
	}
	/* CVE-2011-0411 class, client side: bytes sent after the 220 and
	 * before the handshake would later be read as if they came over TLS.
	 * They are either already in our buffer or waiting in the socket (a
	 * TLS server says nothing before our ClientHello). */
	struct pollfd pfd = { .fd = conn_fd(c->conn), .events = POLLIN };
	if (c->rpos != c->rlen || poll(&pfd, 1, 0) > 0) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_TLS, true,
			"%s %s sent data after its STARTTLS reply, before TLS began "
			"(response injection?); refusing to continue", c->what, c->peer);
		return false;
	}
	if (!conn_starttls(c->conn, err))
		return false;
	/* Nothing from the plaintext session is kept: a fresh parser and a
	 * fresh EHLO, whose keywords replace the old ones (RFC 3207 §4.2). */
	smtp_reply_parser_free(&c->parser);
	c->parser = smtp_reply_parser_new(NULL);
	c->rpos = c->rlen = 0;
	memset(&c->ehlo, 0, sizeof c->ehlo);
	return say_hello(c, err);
}

struct smtp_client *smtp_client_connect(const struct smtp_client_opts *opts, struct err *err)
{
	struct smtp_client *c = xcalloc(1, sizeof *c);
	const struct smtp_reply *r;

	c->what = xstrdup(opts->what != NULL ? opts->what : "server");
	c->peer = xasprintf(strchr(opts->host, ':') != NULL ? "[%s]:%u" : "%s:%u", opts->host,
			    opts->port);
	c->helo_name = xstrdup(opts->helo_name != NULL && opts->helo_name[0] != '\0'
				       ? opts->helo_name : "localhost");
	c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->lmtp = opts->lmtp;
	if (!addr_ok(c->helo_name, false) || strchr(c->helo_name, ' ') != NULL) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
			"%s: the host name for EHLO/LHLO ('%s') must be one word without control "
			"characters (check the relay's hostname setting)", c->what, c->helo_name);
		goto fail;
	}

	struct conn_opts co = {
		.what = c->what,
		.host = opts->host,
		.port = opts->port,
		.implicit_tls = opts->implicit_tls,
		.verify = opts->verify,
		.ca_file = opts->ca_file,
		.timeout_ms = c->timeout_ms,
	};
	c->conn = conn_open(&co, err);
	if (c->conn == NULL)
		goto fail;
	c->parser = smtp_reply_parser_new(NULL);

	if ((r = read_reply(c, "our connection (greeting)", err)) == NULL)
		goto fail;
	if (r->code / 100 != 2) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_REFUSED, true,
			"%s %s refused the connection: %u %s", c->what, c->peer, r->code,
			r->lines[0]);
		goto fail;
	}
	if (!say_hello(c, err))
		goto fail;
	if (!opts->implicit_tls && opts->tls != SMTP_TLS_NONE) {
		if (c->ehlo.starttls) {
			if (!starttls(c, err))
				goto fail;
		} else if (opts->tls == SMTP_TLS_REQUIRE) {
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_TLS, true,
				"%s %s does not offer STARTTLS and TLS is required; mail is "
				"deferred (check the server's TLS setup, or its address)",
				c->what, c->peer);
			goto fail;
		}
	}
	c->usable = true;
	return c;
fail:
	c->usable = false;
	smtp_client_close(&c);
	return NULL;
}

/* Dot-stuffing (RFC 5321 §4.5.2) and line-end repair of one chunk into out,
 * which must hold 2 * n bytes: each input byte gives at most two. */
static size_t stuff(struct stuffer *st, const char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = in[i];

		if (ch == '\n' && st->after_cr) {
			st->after_cr = false;
			continue;
		}
		st->after_cr = false;
		if (ch == '\r' || ch == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			st->after_cr = ch == '\r';
			st->line_start = true;
			continue;
		}
		if (ch == '.' && st->line_start)
			out[o++] = '.';
		out[o++] = ch;
		st->line_start = false;
	}
	return o;
}

/* The end of data: a CRLF when the last line has none, then ".CRLF". */
static size_t stuff_end(const struct stuffer *st, char *out)
{
	size_t o = 0;

	if (!st->line_start) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

/* After 354: size bytes from fd, stuffed, and the end of data. A local read
 * failure cannot be signalled inside DATA without committing a truncated
 * message, so it drops the connection (the server discards the data). */
static bool send_data(struct smtp_client *c, int fd, uint64_t size, struct err *err)
{
	char *in = xmalloc(DATA_CHUNK), *out = xmalloc(2 * DATA_CHUNK + 8);
	struct stuffer st = { .line_start = true };
	uint64_t left = size;
	bool ok = false;

	while (left > 0) {
		size_t want = left < DATA_CHUNK ? (size_t)left : DATA_CHUNK;
		ssize_t n = read(fd, in, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, true,
				"reading the spooled message for %s %s: %s after %llu of %llu "
				"bytes; the connection was dropped so nothing is delivered",
				c->what, c->peer, n < 0 ? strerror(errno) : "end of file",
				(unsigned long long)(size - left), (unsigned long long)size);
			c->usable = false;
			conn_close(&c->conn);
			goto out;
		}
		left -= (uint64_t)n;
		size_t m = stuff(&st, in, (size_t)n, out);
		if (!conn_write(c->conn, out, m, err)) {
			c->usable = false;
			goto out;
		}
	}
	size_t m = stuff_end(&st, out);
	ok = conn_write(c->conn, out, m, err) && conn_flush(c->conn, err);
	if (!ok)
		c->usable = false;
out:
	free(in);
	free(out);
	return ok;
}

/* Ends a transaction that did not reach the end of data. Every result is
 * known by then, so a failure here only makes the connection unusable. */
static void rset(struct smtp_client *c)
{
	struct err e;
	const struct smtp_reply *r;

	err_clear(&e);
	if (!c->usable || !put_cmd(c, &e, "RSET") || !flush(c, &e))
		return;
	if ((r = read_reply(c, "RSET", &e)) == NULL)
		return;
	if (r->code != 250)
		c->usable = false;
}

/* A reply to DATA, or to the end of data, that ends the transaction. */
static void last_reply(struct smtp_client *c, const struct smtp_reply *r,
		       struct smtp_rcpt_result *res, const bool *sent, size_t n)
{
	results_fill(res, sent, n, r);
	if (r->code == 421)
		c->usable = false;
}

struct txn {
	const char *mail;      /* the MAIL FROM line */
	const char *const *rcpts;
	size_t n;
	const bool *sent;      /* passed the local checks */
	struct smtp_rcpt_result *res;
	int fd;
	uint64_t size;
};

/* Without PIPELINING: one command, one reply. */
static bool txn_lockstep(struct smtp_client *c, const struct txn *t, struct err *err)
{
	const struct smtp_reply *r;
	size_t accepted = 0;

	if (!put_cmd(c, err, "%s", t->mail) || !flush(c, err))
		return false;
	if ((r = read_reply(c, "MAIL FROM", err)) == NULL)
		return false;
	if (r->code / 100 != 2) {
		last_reply(c, r, t->res, t->sent, t->n);
		rset(c);
		return true;
	}
	for (size_t i = 0; i < t->n; i++) {
		if (!t->sent[i])
			continue;
		if (!put_cmd(c, err, "RCPT TO:<%s>", t->rcpts[i]) || !flush(c, err))
			return false;
		if ((r = read_reply(c, "RCPT TO", err)) == NULL)
			return false;
		if (r->code == 421) {
			last_reply(c, r, t->res, t->sent, t->n);
			return true;
		}
		if (r->code / 100 == 2)
			accepted++;
		else
			result_from_reply(&t->res[i], r);
	}
	if (accepted == 0) {
		rset(c);
		return true;
	}
	if (!put_cmd(c, err, "DATA") || !flush(c, err))
		return false;
	if ((r = read_reply(c, "DATA", err)) == NULL)
		return false;
	if (r->code != 354) {
		last_reply(c, r, t->res, t->sent, t->n);
		if (c->usable)
			rset(c);
		return true;
	}
	if (!send_data(c, t->fd, t->size, err))
		return false;
	if ((r = read_reply(c, "the end of the message data", err)) == NULL)
		return false;
	last_reply(c, r, t->res, t->sent, t->n);
	return true;
}

/* LMTP's answer to the end of data (RFC 2033 §4.2): one reply per
 * accepted recipient, in RCPT order. Accepted recipients are the sent ones
 * without a result yet. A 421 is the last reply the server sends: it
 * becomes the result of that recipient and of all those still waiting. */
static bool lmtp_replies(struct smtp_client *c, const struct txn *t, struct err *err)
{
	char after[ADDR_MAX + 64];

	for (size_t i = 0; i < t->n; i++) {
		const struct smtp_reply *r;

		if (!t->sent[i] || t->res[i].code != 0)
			continue;
		snprintf(after, sizeof after, "the end of the message data for <%s>",
			 t->rcpts[i]);
		if ((r = read_reply(c, after, err)) == NULL)
			return false;
		if (r->code == 421) {
			last_reply(c, r, t->res, t->sent, t->n);
			return true;
		}
		result_from_reply(&t->res[i], r);
	}
	return true;
}

/* With PIPELINING (RFC 2920 §3.1; always for LMTP): MAIL, every RCPT and
 * DATA in one write, then their replies in order. */
static bool txn_pipelined(struct smtp_client *c, const struct txn *t, struct err *err)
{
	const struct smtp_reply *r;
	size_t accepted = 0;
	bool mail_ok;

	if (!put_cmd(c, err, "%s", t->mail))
		return false;
	for (size_t i = 0; i < t->n; i++) {
		if (t->sent[i] && !put_cmd(c, err, "RCPT TO:<%s>", t->rcpts[i]))
			return false;
	}
	if (!put_cmd(c, err, "DATA") || !flush(c, err))
		return false;

	if ((r = read_reply(c, "MAIL FROM", err)) == NULL)
		return false;
	if (r->code == 421) {
		last_reply(c, r, t->res, t->sent, t->n);
		return true;
	}
	mail_ok = r->code / 100 == 2;
	if (!mail_ok)
		results_fill(t->res, t->sent, t->n, r);
	for (size_t i = 0; i < t->n; i++) {
		if (!t->sent[i])
			continue;
		if ((r = read_reply(c, "RCPT TO", err)) == NULL)
			return false;
		if (r->code == 421) {
			last_reply(c, r, t->res, t->sent, t->n);
			return true;
		}
		if (!mail_ok)
			continue;   /* 503s that only echo the MAIL refusal */
		if (r->code / 100 == 2)
			accepted++;
		else
			result_from_reply(&t->res[i], r);
	}
	if ((r = read_reply(c, "DATA", err)) == NULL)
		return false;
	if (r->code == 421) {
		last_reply(c, r, t->res, t->sent, t->n);
		return true;
	}
	if (accepted == 0) {
		/* Every result is known; DATA's 503/554 is expected. A server
		 * that still says 354 gets an empty message, which RFC 2920 §3.1
		 * asks for ("send a single dot"); its reply is of no interest. */
		if (r->code == 354 && c->lmtp) {
			/* How many replies a lone dot would get is anyone's guess
			 * from a server this far off RFC 2033; leaving is safe,
			 * since nothing can be delivered without a recipient. */
			c->usable = false;
			return true;
		}
		if (r->code == 354) {
			struct err e;
			err_clear(&e);
			if (!put_cmd(c, &e, ".") || !flush(c, &e) ||
			    (r = read_reply(c, "an empty message", &e)) == NULL)
				return true;
			if (r->code == 421) {
				c->usable = false;
				return true;
			}
		}
		rset(c);
		return true;
	}
	if (r->code != 354) {
		last_reply(c, r, t->res, t->sent, t->n);
		if (c->usable)
			rset(c);
		return true;
	}
	if (!send_data(c, t->fd, t->size, err))
		return false;
	if (c->lmtp)
		return lmtp_replies(c, t, err);
	if ((r = read_reply(c, "the end of the message data", err)) == NULL)
		return false;
	last_reply(c, r, t->res, t->sent, t->n);
	return true;
}

bool smtp_client_send(struct smtp_client *c, const char *sender, const char *const *rcpts,
		      size_t nrcpt, int fd, uint64_t size, bool smtputf8, bool eightbit,
		      struct smtp_rcpt_result *per_rcpt, struct err *err)
{
	char text[256];

	if (!c->usable || c->conn == NULL) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONNECT, true,
			"%s %s: the connection can no longer be used", c->what, c->peer);
		return false;
	}
	if (nrcpt == 0)
		return true;

	/* Refusals decided here, before anything is sent. */
	if (!addr_ok(sender, true)) {
		results_fill_local(per_rcpt, nrcpt, 501, "5.1.7",
				   "sender address contains characters SMTP cannot carry");
		return true;
	}
	if (smtputf8 && !c->ehlo.smtputf8) {
		snprintf(text, sizeof text, "%s %s does not support SMTPUTF8, which this "
			 "message needs", c->what, c->peer);
		results_fill_local(per_rcpt, nrcpt, 553, "5.6.7", text);
		return true;
	}
	if (c->ehlo.size && c->ehlo.size_max > 0 && size > c->ehlo.size_max) {
		snprintf(text, sizeof text, "message size %llu exceeds the limit of %llu "
			 "bytes of %s %s", (unsigned long long)size,
			 (unsigned long long)c->ehlo.size_max, c->what, c->peer);
		results_fill_local(per_rcpt, nrcpt, 552, "5.3.4", text);
		return true;
	}
	bool *sent = xcalloc(nrcpt, sizeof *sent);
	size_t nsent = 0;
	for (size_t i = 0; i < nrcpt; i++) {
		if (!addr_ok(rcpts[i], false)) {
			result_set(&per_rcpt[i], 501, "5.1.3",
				   "recipient address contains characters SMTP cannot carry");
			continue;
		}
		sent[i] = true;
		nsent++;
	}
	if (nsent == 0) {
		free(sent);
		return true;
	}

	/* RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8. A message marked
	 * 8-bit is sent as is when 8BITMIME is not offered: converting it is
	 * not this client's job, and nearly every server takes it. */
	char *mail = xasprintf("MAIL FROM:<%s>", sender);
	if (c->ehlo.size) {
		char *m = xasprintf("%s SIZE=%llu", mail, (unsigned long long)size);
		free(mail);
		mail = m;
	}
	if ((eightbit || smtputf8) && c->ehlo.eightbitmime) {
		char *m = xasprintf("%s BODY=8BITMIME", mail);
		free(mail);
		mail = m;
	}
	if (smtputf8) {
		char *m = xasprintf("%s SMTPUTF8", mail);
		free(mail);
		mail = m;
	}

	struct txn t = {
		.mail = mail, .rcpts = rcpts, .n = nrcpt, .sent = sent, .res = per_rcpt,
		.fd = fd, .size = size,
	};
	bool ok = c->ehlo.pipelining || c->lmtp ? txn_pipelined(c, &t, err)
						 : txn_lockstep(c, &t, err);
	if (!ok) {
		c->usable = false;
		for (size_t i = 0; i < nrcpt; i++) {
			/* LMTP: a 2xx here is a delivery the server committed. */
			if (c->lmtp && per_rcpt[i].code / 100 == 2)
				continue;
			smtp_rcpt_result_clear(&per_rcpt[i]);
		}
	}
	free(mail);
	free(sent);
	return ok;
}

bool smtp_client_usable(const struct smtp_client *c)
{
	return c != NULL && c->usable && c->conn != NULL;
}

const char *smtp_client_peer(const struct smtp_client *c)
{
	return c->peer;
}

bool smtp_client_tls(const struct smtp_client *c)
{
	return c->conn != NULL && conn_is_tls(c->conn);
}

void smtp_client_close(struct smtp_client **cp)
{
	struct smtp_client *c = *cp;

	if (c == NULL)
		return;
	if (c->conn != NULL && c->usable) {
		struct err e;
		err_clear(&e);
		if (put_cmd(c, &e, "QUIT") && flush(c, &e)) {
			struct pollfd pfd = { .fd = conn_fd(c->conn), .events = POLLIN };
			int wait = c->timeout_ms < QUIT_WAIT_MS ? c->timeout_ms : QUIT_WAIT_MS;
			if (c->rpos != c->rlen || conn_has_buffered(c->conn) ||
			    poll(&pfd, 1, wait) > 0)
				(void)read_reply(c, "QUIT", &e);
		}
	}
	conn_close(&c->conn);
	smtp_reply_parser_free(&c->parser);
	free(c->what);
	free(c->peer);
	free(c->helo_name);
	free(c);
	*cp = NULL;
}
