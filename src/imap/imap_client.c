/* imap_client.c — see imap_client.h.
 *
 * SECURITY: credentials leave only over TLS (or with an explicit tls_none),
 * are built into a buffer that is wiped after sending, and are never logged.
 * Server input is bounded by the parser's limits; everything we send that
 * came from the server is quoted by imap_write helpers.
 */
#include "imap_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/conn.h"
#include "core/log.h"
#include "proto/imap_write.h"

#define RBUF_SIZE (64 * 1024)

struct pending {
	unsigned tag;
	imap_done_cb *done;
	void *ctx;
};

struct imap_client {
	struct conn *conn;
	struct imap_parser *parser;
	char *what;
	char *host;
	unsigned port;
	struct imap_caps caps;
	bool caps_known;
	char *bye;

	unsigned char *rbuf;
	size_t rpos, rlen;

	unsigned next_tag;
	unsigned cur_tag;      /* command being built, 0 if none */
	bool cur_done;         /* its tagged response already arrived */
	bool got_continuation;
	char *continuation;    /* text of the last "+", for SASL */
	struct pending *pend;
	size_t npend, cap_pend;

	imap_event_cb *handler;
	void *handler_ctx;
	bool broken;           /* a wait failed: the connection is unusable */
};

static struct imap_parser *new_parser(void)
{
	struct imap_parser_limits lim = {
		.max_response_bytes = 4 * 1024 * 1024,
		.max_depth = 32,
		/* Message bodies above 64 KiB are streamed; smaller ones come
		 * whole in their response, which is cheaper to handle. */
		.stream_literal_min = 64 * 1024,
	};
	return imap_parser_new(&lim);
}

const struct imap_caps *imap_client_caps(const struct imap_client *c)
{
	return &c->caps;
}

const char *imap_client_what(const struct imap_client *c)
{
	return c->what;
}

bool imap_client_is_tls(const struct imap_client *c)
{
	return conn_is_tls(c->conn);
}

unsigned long long imap_client_bytes_in(const struct imap_client *c)
{
	return conn_bytes_in(c->conn);
}

const char *imap_client_bye(const struct imap_client *c)
{
	return c->bye;
}

static bool pump(struct imap_client *c, struct err *err);

bool imap_client_idle_start(struct imap_client *c, struct err *err)
{
	imap_cmd_begin(c, NULL, NULL);
	imap_cmd_add(c, "IDLE");
	if (!imap_cmd_end(c, err) || !conn_flush(c->conn, err))
		return false;
	c->got_continuation = false;
	while (!c->got_continuation && c->npend > 0)
		if (!pump(c, err))
			return false;
	if (!c->got_continuation) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_REFUSED, false, "%s refused IDLE", c->what);
		return false;
	}
	/* The pending IDLE never completes: closing the client ends it. */
	c->broken = true;
	return true;
}

int imap_client_fd(const struct imap_client *c)
{
	return conn_fd(c->conn);
}

bool imap_client_has_input(const struct imap_client *c)
{
	return c->rpos < c->rlen || conn_has_buffered(c->conn);
}

void imap_client_set_handler(struct imap_client *c, imap_event_cb *cb, void *ctx)
{
	c->handler = cb;
	c->handler_ctx = ctx;
}

size_t imap_client_pending(const struct imap_client *c)
{
	return c->npend;
}

void imap_reply_clear(struct imap_reply *r)
{
	free(r->code);
	free(r->text);
	r->code = NULL;
	r->text = NULL;
	r->status = IMAP_STATUS_NONE;
}

void imap_reply_store(void *ctx, const struct imap_response *tagged)
{
	struct imap_reply *r = ctx;

	imap_reply_clear(r);
	if (tagged == NULL)
		return;
	r->status = tagged->status;
	r->code = tagged->code ? xstrdup(tagged->code) : NULL;
	r->text = xstrdup(tagged->text ? tagged->text : "");
}

char *imap_quote(const char *s)
{
	struct buf b;

	buf_init(&b, 0);
	if (!imap_write_quoted(&b, s, strlen(s))) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* Capabilities come from CAPABILITY responses and [CAPABILITY ...] codes. */
static void caps_reset(struct imap_caps *k)
{
	memset(k, 0, sizeof *k);
}

static void caps_add(struct imap_caps *k, const char *w)
{
	static const struct {
		const char *name;
		size_t off;
	} table[] = {
#define CAP(n, f) { n, offsetof(struct imap_caps, f) }
		CAP("IMAP4rev1", imap4rev1), CAP("STARTTLS", starttls),
		CAP("LOGINDISABLED", logindisabled), CAP("SASL-IR", sasl_ir),
		CAP("AUTH=PLAIN", auth_plain), CAP("AUTH=LOGIN", auth_login),
		CAP("AUTH=XOAUTH2", auth_xoauth2), CAP("LITERAL+", literal_plus),
		CAP("LITERAL-", literal_minus), CAP("UIDPLUS", uidplus),
		CAP("NAMESPACE", namespace_), CAP("SPECIAL-USE", special_use),
		CAP("MULTIAPPEND", multiappend), CAP("CONDSTORE", condstore),
		CAP("QRESYNC", qresync), CAP("IDLE", idle),
		CAP("LIST-EXTENDED", list_extended), CAP("LIST-STATUS", list_status),
		CAP("ENABLE", enable), CAP("MOVE", move), CAP("ESEARCH", esearch),
		CAP("UTF8=ACCEPT", utf8_accept), CAP("ID", id), CAP("UNSELECT", unselect),
#undef CAP
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		if (strcasecmp(w, table[i].name) == 0) {
			*(bool *)((char *)k + table[i].off) = true;
			return;
		}
	}
	if (strncasecmp(w, "APPENDLIMIT=", 12) == 0) {
		unsigned long long v = strtoull(w + 12, NULL, 10);
		k->appendlimit = v;
	}
}

static void caps_from_words(struct imap_client *c, const char *words)
{
	char *copy = xstrdup(words), *save = NULL;

	caps_reset(&c->caps);
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
		caps_add(&c->caps, w);
	free(copy);
	c->caps_known = true;
}

static void caps_from_args(struct imap_client *c, const struct imap_response *r)
{
	caps_reset(&c->caps);
	for (size_t i = 1; i < r->arg_count; i++) {
		const char *w = imap_arg_str(&r->args[i]);
		if (w != NULL)
			caps_add(&c->caps, w);
	}
	c->caps_known = true;
}

static void note_code(struct imap_client *c, const char *code)
{
	if (code != NULL && strncasecmp(code, "CAPABILITY ", 11) == 0)
		caps_from_words(c, code + 11);
}

static bool dispatch_tagged(struct imap_client *c, const struct imap_response *r,
			    struct err *err)
{
	unsigned tag = 0;
	const char *t = r->tag;

	if (t[0] == 'A')
		tag = (unsigned)strtoul(t + 1, NULL, 10);
	for (size_t i = 0; i < c->npend; i++) {
		if (c->pend[i].tag != tag)
			continue;
		struct pending p = c->pend[i];
		memmove(&c->pend[i], &c->pend[i + 1], (c->npend - i - 1) * sizeof *c->pend);
		c->npend--;
		if (tag == c->cur_tag)
			c->cur_done = true;
		note_code(c, r->code);
		if (p.done != NULL)
			p.done(p.ctx, r);
		return true;
	}
	err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_PROTOCOL, false,
		"%s %s:%u answered a command we did not send (tag %.40s)", c->what, c->host,
		c->port, t);
	return false;
}

static bool dispatch(struct imap_client *c, enum imap_parse_result type, const unsigned char *data,
		     size_t len, struct err *err)
{
	struct imap_event ev = { .type = type };

	if (type == IMAP_PARSE_RESPONSE) {
		const struct imap_response *r = imap_parser_response(c->parser);
		if (r->kind == IMAP_RESP_TAGGED)
			return dispatch_tagged(c, r, err);
		if (r->kind == IMAP_RESP_CONTINUATION) {
			c->got_continuation = true;
			free(c->continuation);
			c->continuation = xstrdup(r->text ? r->text : "");
			return true;
		}
		if (r->status == IMAP_STATUS_BYE) {
			free(c->bye);
			c->bye = xstrdup(r->text ? r->text : "");
		}
		note_code(c, r->code);
		if (r->status == IMAP_STATUS_NONE && r->arg_count > 0 &&
		    imap_arg_is(&r->args[0], "CAPABILITY"))
			caps_from_args(c, r);
		ev.resp = r;
	} else {
		ev.lit = imap_parser_literal(c->parser);
		ev.data = data;
		ev.len = len;
	}
	if (c->handler != NULL)
		return c->handler(c->handler_ctx, c, &ev, err);
	return true;
}

static bool lost(struct imap_client *c, struct err *err)
{
	if (c->bye != NULL)
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONNECT, true,
			"%s %s:%u closed the connection: %s", c->what, c->host, c->port, c->bye);
	else
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONNECT, true,
			"%s %s:%u closed the connection unexpectedly", c->what, c->host, c->port);
	return false;
}

/* Process exactly one parser event, reading from the network if needed. */
static bool pump_one(struct imap_client *c, struct err *err)
{
	for (;;) {
		/* Feed first, even with nothing new: the parser may hold an
		 * event (the end of a literal) that needs no more input. */
		size_t used = 0;
		const unsigned char *in = c->rbuf + c->rpos;
		enum imap_parse_result r = imap_parser_feed(c->parser, in, c->rlen - c->rpos, &used);
		c->rpos += used;
		switch (r) {
		case IMAP_PARSE_NEED_MORE:
			break;
		case IMAP_PARSE_ERROR:
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_PROTOCOL, false, "%s %s:%u: %s",
				c->what, c->host, c->port, imap_parser_error(c->parser));
			return false;
		default:
			return dispatch(c, r, in, used, err);
		}
		if (!conn_flush(c->conn, err))
			return false;
		ssize_t n = conn_read(c->conn, c->rbuf, RBUF_SIZE, err);
		if (n < 0)
			return false;
		if (n == 0)
			return lost(c, err);
		c->rpos = 0;
		c->rlen = (size_t)n;
	}
}

void imap_client_abort(struct imap_client *c)
{
	c->broken = true;
	while (c->npend > 0) {
		struct pending p = c->pend[--c->npend];
		if (p.done != NULL)
			p.done(p.ctx, NULL);
	}
	c->cur_done = true;
}

static bool pump(struct imap_client *c, struct err *err)
{
	if (c->broken) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONNECT, true,
			"%s %s:%u: connection already failed", c->what, c->host, c->port);
		return false;
	}
	if (pump_one(c, err))
		return true;
	imap_client_abort(c);
	return false;
}

bool imap_client_wait(struct imap_client *c, size_t max_pending, struct err *err)
{
	if (!c->broken && !conn_flush(c->conn, err)) {
		imap_client_abort(c);
		return false;
	}
	while (c->npend > max_pending)
		if (!pump(c, err))
			return false;
	return true;
}

void imap_cmd_begin(struct imap_client *c, imap_done_cb *done, void *ctx)
{
	char tag[24];

	if (c->npend == c->cap_pend) {
		c->cap_pend = c->cap_pend ? c->cap_pend * 2 : 16;
		c->pend = xreallocarray(c->pend, c->cap_pend, sizeof *c->pend);
	}
	unsigned t = ++c->next_tag;
	c->pend[c->npend++] = (struct pending){ .tag = t, .done = done, .ctx = ctx };
	c->cur_tag = t;
	c->cur_done = false;
	snprintf(tag, sizeof tag, "A%u ", t);
	struct err ignore;
	conn_write(c->conn, tag, strlen(tag), &ignore);
}

void imap_cmd_add(struct imap_client *c, const char *text)
{
	struct err ignore;
	/* Errors surface at the next flush, which reports them. */
	conn_write(c->conn, text, strlen(text), &ignore);
}

bool imap_cmd_data(struct imap_client *c, const void *p, size_t n, struct err *err)
{
	return conn_write(c->conn, p, n, err);
}

bool imap_cmd_literal(struct imap_client *c, uint64_t size, struct err *err)
{
	char hdr[48];
	bool nonsync = c->caps.literal_plus || (c->caps.literal_minus && size <= 4096);

	snprintf(hdr, sizeof hdr, "{%llu%s}\r\n", (unsigned long long)size, nonsync ? "+" : "");
	if (!conn_write(c->conn, hdr, strlen(hdr), err))
		return false;
	if (nonsync)
		return true;
	c->got_continuation = false;
	if (!conn_flush(c->conn, err))
		return false;
	while (!c->got_continuation && !c->cur_done)
		if (!pump(c, err))
			return false;
	if (c->cur_done) {
		err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_REFUSED, false,
			"%s refused the command before its literal", c->what);
		return false;
	}
	return true;
}

bool imap_cmd_add_astring(struct imap_client *c, const char *s, struct err *err)
{
	char *q = imap_quote(s);

	if (q != NULL) {
		imap_cmd_add(c, q);
		free(q);
		return true;
	}
	size_t n = strlen(s);
	return imap_cmd_literal(c, n, err) && imap_cmd_data(c, s, n, err);
}

bool imap_cmd_end(struct imap_client *c, struct err *err)
{
	c->cur_tag = 0;
	return conn_write(c->conn, "\r\n", 2, err);
}

bool imap_client_run(struct imap_client *c, struct imap_reply *reply, struct err *err,
		     const char *fmt, ...)
{
	va_list ap;
	char *cmd;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		cmd = NULL;
	va_end(ap);
	if (cmd == NULL)
		abort();
	imap_reply_clear(reply);
	imap_cmd_begin(c, imap_reply_store, reply);
	imap_cmd_add(c, cmd);
	free(cmd);
	if (!imap_cmd_end(c, err))
		return false;
	while (reply->status == IMAP_STATUS_NONE)
		if (!pump(c, err))
			return false;
	return true;
}

/* ---- connection set-up ---- */

static bool read_greeting(struct imap_client *c, struct err *err)
{
	for (;;) {
		size_t used = 0;
		if (c->rpos == c->rlen) {
			ssize_t n = conn_read(c->conn, c->rbuf, RBUF_SIZE, err);
			if (n < 0)
				return false;
			if (n == 0)
				return lost(c, err);
			c->rpos = 0;
			c->rlen = (size_t)n;
		}
		enum imap_parse_result r = imap_parser_feed(c->parser, c->rbuf + c->rpos,
							    c->rlen - c->rpos, &used);
		c->rpos += used;
		if (r == IMAP_PARSE_NEED_MORE)
			continue;
		if (r != IMAP_PARSE_RESPONSE) {
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_PROTOCOL, false,
				"%s %s:%u did not greet like an IMAP server%s%s", c->what, c->host,
				c->port, r == IMAP_PARSE_ERROR ? ": " : "",
				r == IMAP_PARSE_ERROR ? imap_parser_error(c->parser) : "");
			return false;
		}
		const struct imap_response *g = imap_parser_response(c->parser);
		if (g->kind != IMAP_RESP_UNTAGGED ||
		    (g->status != IMAP_STATUS_OK && g->status != IMAP_STATUS_PREAUTH)) {
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONNECT, true,
				"%s %s:%u refused the connection: %s", c->what, c->host, c->port,
				g->text ? g->text : "");
			return false;
		}
		note_code(c, g->code);
		return true;
	}
}

static bool refresh_caps(struct imap_client *c, struct err *err)
{
	struct imap_reply r = { 0 };
	bool ok = imap_client_run(c, &r, err, "CAPABILITY");
	if (ok && r.status != IMAP_STATUS_OK) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_PROTOCOL, false,
			"%s %s:%u refused CAPABILITY: %s", c->what, c->host, c->port, r.text);
		ok = false;
	}
	imap_reply_clear(&r);
	return ok;
}

static bool starttls(struct imap_client *c, const struct imap_endpoint *ep, struct err *err)
{
	struct imap_reply r = { 0 };

	if (!c->caps.starttls) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_TLS, false,
			"%s %s:%u does not offer STARTTLS; use imaps:// if it has implicit TLS, "
			"or set tls = none only for a trusted loopback test", c->what, c->host,
			c->port);
		return false;
	}
	if (!imap_client_run(c, &r, err, "STARTTLS"))
		return false;
	if (r.status != IMAP_STATUS_OK) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_TLS, false,
			"%s %s:%u refused STARTTLS: %s", c->what, c->host, c->port, r.text);
		imap_reply_clear(&r);
		return false;
	}
	imap_reply_clear(&r);
	if (c->rpos != c->rlen) {
		/* CVE-2011-0411 class: plaintext injected after the OK would be
		 * taken as if it came over TLS. */
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_TLS, false,
			"%s %s:%u sent data after its STARTTLS OK, before TLS began "
			"(response injection); refusing to continue", c->what, c->host, c->port);
		return false;
	}
	(void)ep;
	if (!conn_starttls(c->conn, err))
		return false;
	imap_parser_free(&c->parser);
	c->parser = new_parser();
	c->caps_known = false;
	return refresh_caps(c, err);
}

static char *b64(const unsigned char *p, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

static void wipe_buf(struct buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	buf_free(b);
}

static bool auth_failed(struct imap_client *c, const struct imap_endpoint *ep,
			const struct imap_reply *r, const char *mech, struct err *err)
{
	err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_AUTH, false,
		"%s %s:%u refused %s login for user '%s'%s%s%s: %s", c->what, c->host, c->port,
		mech, ep->user, ep->admin_user ? " (as admin '" : "",
		ep->admin_user ? ep->admin_user : "", ep->admin_user ? "')" : "",
		r->text ? r->text : "");
	return false;
}

/* AUTHENTICATE with one initial response (PLAIN, XOAUTH2). */
static bool sasl_one(struct imap_client *c, const struct imap_endpoint *ep, const char *mech,
		     struct buf *raw, struct err *err)
{
	struct imap_reply r = { 0 };
	char *enc = b64((const unsigned char *)raw->data, raw->len);
	size_t enclen = strlen(enc);
	bool ok = false;

	imap_cmd_begin(c, imap_reply_store, &r);
	imap_cmd_add(c, "AUTHENTICATE ");
	imap_cmd_add(c, mech);
	if (c->caps.sasl_ir) {
		imap_cmd_add(c, " ");
		conn_write(c->conn, enc, enclen, err);
		imap_cmd_end(c, err);
	} else {
		imap_cmd_end(c, err);
		c->got_continuation = false;
		if (!conn_flush(c->conn, err))
			goto out;
		while (!c->got_continuation && r.status == IMAP_STATUS_NONE)
			if (!pump(c, err))
				goto out;
		if (r.status == IMAP_STATUS_NONE) {
			conn_write(c->conn, enc, enclen, err);
			conn_write(c->conn, "\r\n", 2, err);
		}
	}
	c->got_continuation = false;
	if (!conn_flush(c->conn, err))
		goto out;
	while (r.status == IMAP_STATUS_NONE) {
		if (!pump(c, err))
			goto out;
		if (c->got_continuation) {
			/* XOAUTH2 error details come as a challenge; the
			 * client answers with an empty line to get the NO. */
			c->got_continuation = false;
			conn_write(c->conn, "\r\n", 2, err);
			if (!conn_flush(c->conn, err))
				goto out;
		}
	}
	ok = r.status == IMAP_STATUS_OK;
	if (!ok)
		auth_failed(c, ep, &r, mech, err);
out:
	explicit_bzero(enc, enclen);
	free(enc);
	imap_reply_clear(&r);
	return ok;
}

static bool login(struct imap_client *c, const struct imap_endpoint *ep, struct err *err)
{
	struct buf raw;
	enum auth_mech mech = ep->auth;
	bool ok;

	if (ep->secret == NULL) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_AUTH, false,
			"%s: no password for user '%s' (give it in the accounts CSV, a "
			"password file or the environment)", c->what, ep->user);
		return false;
	}
	if (c->caps.logindisabled && !conn_is_tls(c->conn)) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_AUTH, false,
			"%s %s:%u disallows login without TLS (LOGINDISABLED); use imaps:// "
			"or imap:// with TLS", c->what, c->host, c->port);
		return false;
	}
	if (mech == AUTH_AUTO)
		mech = (c->caps.auth_plain || ep->admin_user) ? AUTH_PLAIN : AUTH_LOGIN;
	if (mech == AUTH_LOGIN && ep->admin_user != NULL) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONFIG, false,
			"%s: an admin user needs AUTHENTICATE PLAIN (auth = plain or auto), "
			"LOGIN cannot name the account to open", c->what);
		return false;
	}
	buf_init(&raw, 0);
	switch (mech) {
	case AUTH_PLAIN:
	case AUTH_AUTO:
		/* RFC 4616: authzid NUL authcid NUL passwd */
		if (ep->admin_user != NULL)
			buf_append_str(&raw, ep->user);
		buf_append_char(&raw, '\0');
		buf_append_str(&raw, ep->admin_user ? ep->admin_user : ep->user);
		buf_append_char(&raw, '\0');
		buf_append_str(&raw, ep->secret);
		ok = sasl_one(c, ep, "PLAIN", &raw, err);
		break;
	case AUTH_XOAUTH2:
		buf_printf(&raw, "user=%s\001auth=Bearer %s\001\001", ep->user, ep->secret);
		ok = sasl_one(c, ep, "XOAUTH2", &raw, err);
		break;
	case AUTH_LOGIN:
	default: {
		struct imap_reply r = { 0 };
		imap_cmd_begin(c, imap_reply_store, &r);
		imap_cmd_add(c, "LOGIN ");
		ok = imap_cmd_add_astring(c, ep->user, err);
		imap_cmd_add(c, " ");
		ok = ok && imap_cmd_add_astring(c, ep->secret, err) && imap_cmd_end(c, err);
		while (ok && r.status == IMAP_STATUS_NONE)
			ok = pump(c, err);
		if (ok && r.status != IMAP_STATUS_OK)
			ok = auth_failed(c, ep, &r, "LOGIN", err);
		imap_reply_clear(&r);
		break;
	}
	}
	wipe_buf(&raw);
	return ok;
}

struct imap_client *imap_client_connect(const struct imap_endpoint *ep, struct err *err)
{
	struct conn_opts o = {
		.what = ep->what,
		.host = ep->host,
		.port = ep->port,
		.implicit_tls = ep->implicit_tls,
		.verify = !ep->tls_none,
		.ca_file = ep->ca_file,
		.timeout_ms = ep->timeout_ms,
	};
	struct imap_client *c = xcalloc(1, sizeof *c);

	c->what = xstrdup(ep->what ? ep->what : "server");
	c->host = xstrdup(ep->host);
	c->port = ep->port;
	c->rbuf = xmalloc(RBUF_SIZE);
	c->parser = new_parser();
	c->conn = conn_open(&o, err);
	if (c->conn == NULL)
		goto fail;
	if (!read_greeting(c, err))
		goto fail;
	if (!c->caps_known && !refresh_caps(c, err))
		goto fail;
	if (!ep->implicit_tls && !ep->tls_none && !starttls(c, ep, err))
		goto fail;
	c->caps_known = false;
	if (!login(c, ep, err))
		goto fail;
	/* Capabilities often change after login (APPENDLIMIT, MULTIAPPEND…):
	 * servers send them in the OK code; ask if they did not. */
	if (!c->caps_known) {
		if (!refresh_caps(c, err))
			goto fail;
	}
	if (ep->no_literal_plus)
		c->caps.literal_plus = c->caps.literal_minus = false;
	return c;
fail:
	imap_client_close(&c);
	return NULL;
}

void imap_client_close(struct imap_client **cp)
{
	struct imap_client *c = *cp;

	if (c == NULL)
		return;
	if (c->conn != NULL && c->npend == 0 && !c->broken) {
		struct err ignore;
		imap_cmd_begin(c, NULL, NULL);
		imap_cmd_add(c, "LOGOUT");
		if (imap_cmd_end(c, &ignore))
			conn_flush(c->conn, &ignore);
	}
	conn_close(&c->conn);
	imap_parser_free(&c->parser);
	free(c->pend);
	free(c->rbuf);
	free(c->bye);
	free(c->continuation);
	free(c->what);
	free(c->host);
	free(c);
	*cp = NULL;
}
