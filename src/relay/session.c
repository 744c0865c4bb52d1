/* session.c — one inbound SMTP session of the relay (RFC 5321 server side).
 *
 * Runs in the event loop: bytes arrive in the bufferevent's input buffer,
 * complete command lines go through proto/smtp_cmd (syntax), then policy
 * (state, limits, the router), then action. DATA streams through
 * proto/smtp_data (dot-unstuffing, smuggling defence, size limit) into a
 * spool_writer; the first octets are held back until the header block is
 * complete so that the Message-ID can go into the envelope (for trace).
 *
 * The 250 after DATA is sent only once spool_writer_commit() returned:
 * the message and its envelope are on disk, fsynced, renamed into queue/.
 *
 * SECURITY
 *  - Never an open relay: every RCPT goes through the router (domains,
 *    known recipients).
 *  - Lines are bounded (512 with CRLF); an overlong line is discarded to
 *    its end and answered 500; control characters never reach the spool
 *    or a header (smtp_cmd refuses them; the HELO name is sanitised again
 *    for Received:).
 *  - DATA: only <CRLF>.<CRLF> ends it; bare CR/LF → 550 and nothing queued
 *    (SMTP smuggling); over max_message_size → 552 and nothing queued.
 *  - STARTTLS: input the client pipelined after STARTTLS is discarded
 *    before the handshake (CVE-2011-0411) and the session starts over.
 *  - Slow clients: an idle timeout per command and a total time for DATA;
 *    too many errors end the session; the read buffer is capped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "proto/smtp_cmd.h"
#include "proto/smtp_data.h"
#include "relay/relay_int.h"

#define HDR_HOLD_MAX (256 * 1024)   /* header octets held back for the Message-ID */
#define READ_HIGH_WATER (256 * 1024)
#define MAX_ERRORS 10
/* Replies waiting for a client that does not read: past OUT_HIGH the
 * session stops taking commands until they drain to OUT_LOW (a client that
 * pipelines NOOPs and never reads cannot grow our memory). */
#define OUT_HIGH (64 * 1024)
#define OUT_LOW (16 * 1024)
#define CLOSE_WAIT_MAX 10   /* seconds to push out a last reply */

enum sstate { S_CMD, S_DATA, S_COMMIT, S_CLOSING };

struct session {
	struct session *prev, *next;
	struct relay *r;
	struct bufferevent *bev;
	enum sstate state;
	char ip[64];
	char client[96];            /* "[ip]:port" */
	char helo[256];             /* sanitised; "" before HELO/EHLO */
	bool esmtp, tls, discarding;
	unsigned errors;
	/* transaction */
	bool in_tx;
	char *sender;
	bool smtputf8, eightbit;
	struct spool_rcpt *rcpts;
	size_t nrcpt, caprcpt;
	/* DATA */
	struct smtp_data dp;
	struct buf hdr;             /* held back until the header block ends */
	bool hdr_done, write_failed;
	struct spool_writer *w;
	struct spool_env env;       /* what the writer was begun with */
	struct event *data_timer;
	struct timespec t0;
	bool dead;                  /* the client left while a commit was out */
	bool throttled;             /* reading paused: too many replies unread */
	struct event *close_ev;     /* S_CLOSING: frees the session once flushed */
	int close_polls;
	bool counted;               /* in r->nsessions and the per-client count */
};

static void on_read(struct bufferevent *bev, void *ctx);
static void on_write(struct bufferevent *bev, void *ctx);
static void on_event(struct bufferevent *bev, short what, void *ctx);

/* ---- helpers ---- */

static void vreply(struct session *s, const char *fmt, va_list ap)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	evbuffer_add_vprintf(out, fmt, ap);
	evbuffer_add(out, "\r\n", 2);
}

static void reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
}

static void client_count(struct relay *r, const char *ip, int delta)
{
	for (size_t i = 0; i < r->nclients; i++) {
		if (strcmp(r->clients[i].ip, ip) != 0)
			continue;
		r->clients[i].n += delta;
		if (r->clients[i].n == 0)
			r->clients[i] = r->clients[--r->nclients];
		return;
	}
	if (delta <= 0)
		return;
	if (r->nclients == r->capclients) {
		r->capclients = r->capclients ? r->capclients * 2 : 64;
		r->clients = xreallocarray(r->clients, r->capclients, sizeof *r->clients);
	}
	snprintf(r->clients[r->nclients].ip, sizeof r->clients[r->nclients].ip, "%s", ip);
	r->clients[r->nclients++].n = (unsigned)delta;
}

static unsigned client_sessions(struct relay *r, const char *ip)
{
	for (size_t i = 0; i < r->nclients; i++)
		if (strcmp(r->clients[i].ip, ip) == 0)
			return r->clients[i].n;
	return 0;
}

static void tx_reset(struct session *s)
{
	free(s->sender);
	s->sender = NULL;
	for (size_t i = 0; i < s->nrcpt; i++)
		free(s->rcpts[i].addr);
	s->nrcpt = 0;
	s->in_tx = false;
	s->smtputf8 = s->eightbit = false;
	if (s->w != NULL)
		spool_writer_abort(&s->w);
	buf_reset(&s->hdr);
	s->hdr_done = s->write_failed = false;
	spool_env_free(&s->env);
	memset(&s->env, 0, sizeof s->env);
	if (s->data_timer)
		evtimer_del(s->data_timer);
}

/* A session stops counting against max_connections/max_per_client as soon
 * as it closes: a client that QUITs and connects again at once (as
 * smtp-source does) must not find its old session still counted. */
static void uncount(struct session *s)
{
	if (!s->counted)
		return;
	s->counted = false;
	client_count(s->r, s->ip, -1);
	s->r->nsessions--;
}

static void session_free(struct session *s)
{
	struct relay *r = s->r;

	tx_reset(s);
	free(s->rcpts);
	buf_free(&s->hdr);
	if (s->data_timer)
		event_free(s->data_timer);
	s->data_timer = NULL;
	if (s->close_ev)
		event_free(s->close_ev);
	if (s->bev)
		bufferevent_free(s->bev);
	if (s->prev)
		s->prev->next = s->next;
	else
		r->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	uncount(s);
	free(s);
}

/* Bytes still to send: ours, and under TLS the encrypted ones below. */
static size_t unsent(struct session *s)
{
	size_t n = evbuffer_get_length(bufferevent_get_output(s->bev));
	struct bufferevent *under = bufferevent_get_underlying(s->bev);
	if (under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

/* S_CLOSING: checked every 50 ms until the last reply left (or
 * CLOSE_WAIT_MAX passed), then the session is freed. Never freed in the
 * middle of a callback that still uses it: only from this event. */
static void on_close_poll(evutil_socket_t fd, short what, void *ctx)
{
	struct session *s = ctx;
	(void)fd;
	(void)what;
	if (unsent(s) == 0 || ++s->close_polls >= CLOSE_WAIT_MAX * 20) {
		session_free(s);
		return;
	}
	evtimer_add(s->close_ev, &(struct timeval){ .tv_usec = 50 * 1000 });
}

/* Stop reading; the session is freed once its last reply is out. */
static void close_after_reply(struct session *s)
{
	if (s->state == S_CLOSING)
		return;
	s->state = S_CLOSING;
	uncount(s);
	bufferevent_disable(s->bev, EV_READ);
	event_active(s->close_ev, EV_TIMEOUT, 0);
}

static void error_reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void error_reply(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
	if (++s->errors >= MAX_ERRORS) {
		log_info("relay: %s: too many errors, disconnecting", s->client);
		reply(s, "421 4.7.0 %s Error: too many errors", s->r->hostname);
		close_after_reply(s);
	}
}

/* Printable ASCII only, no parentheses (they would end a Received:
 * comment), at most sizeof s->helo - 1 octets. */
static void sanitize(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	for (; *src && i + 1 < cap; src++) {
		unsigned char c = (unsigned char)*src;
		dst[i++] = c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '\\' ? (char)c : '?';
	}
	dst[i] = '\0';
}

static bool is_ascii(const char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return false;
	return true;
}

/* The Message-ID of a header block ("<...>"), or NULL. */
static char *find_message_id(const char *h, size_t n)
{
	size_t pos = 0;
	while (pos < n) {
		const char *nl = memchr(h + pos, '\n', n - pos);
		size_t end = nl ? (size_t)(nl - h) : n;
		if (end - pos >= 11 && strncasecmp(h + pos, "Message-ID:", 11) == 0) {
			/* the value may be folded onto the next lines */
			size_t vend = end;
			while (vend + 1 < n && (h[vend + 1] == ' ' || h[vend + 1] == '\t')) {
				const char *n2 = memchr(h + vend + 1, '\n', n - vend - 1);
				vend = n2 ? (size_t)(n2 - h) : n;
			}
			const char *lt = memchr(h + pos, '<', vend - pos);
			if (lt == NULL)
				return NULL;
			const char *gt = memchr(lt, '>', (size_t)(h + vend - lt));
			if (gt == NULL || gt - lt > 995)
				return NULL;
			for (const char *p = lt; p <= gt; p++)
				if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
					return NULL;
			return xasprintf("%.*s", (int)(gt - lt + 1), lt);
		}
		if (end == pos || (end == pos + 1 && h[pos] == '\r'))
			break;   /* end of the header block */
		pos = nl ? end + 1 : n;
	}
	return NULL;
}

/* ---- DATA ---- */

static void data_fail(struct session *s, const char *why)
{
	if (!s->write_failed)
		log_error("relay: %s: cannot queue a message: %s", s->client, why);
	s->write_failed = true;
	if (s->w != NULL)
		spool_writer_abort(&s->w);
}

/* Our Received: and trace header, then the held header octets. */
static void data_start_writer(struct session *s)
{
	struct relay *r = s->r;
	struct err err;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	s->hdr_done = true;
	s->env.message_id = find_message_id(s->hdr.data, s->hdr.len);
	err_clear(&err);
	s->w = spool_writer_begin(r->spool, &s->env, &err);
	if (s->w == NULL) {
		data_fail(s, err.msg);
		return;
	}
	localtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
	const char *proto = s->smtputf8 ? (s->tls ? "UTF8SMTPS" : "UTF8SMTP")
					 : s->esmtp ? (s->tls ? "ESMTPS" : "ESMTP") : "SMTP";
	char *rcv;
	if (s->nrcpt == 1 && is_ascii(s->rcpts[0].addr))
		rcv = xasprintf("Received: from %s (%s)\r\n\tby %s (mailshift) with %s id %s\r\n"
				"\tfor <%s>; %s\r\n",
				s->helo[0] ? s->helo : "unknown", s->client, r->hostname, proto,
				s->env.id, s->rcpts[0].addr, date);
	else
		rcv = xasprintf("Received: from %s (%s)\r\n\tby %s (mailshift) with %s id %s;\r\n"
				"\t%s\r\n",
				s->helo[0] ? s->helo : "unknown", s->client, r->hostname, proto,
				s->env.id, date);
	char *trace = xasprintf("X-Mailshift-Trace: %s\r\n", s->env.id);
	bool ok = spool_writer_write(s->w, rcv, strlen(rcv), &err) &&
		  spool_writer_write(s->w, trace, strlen(trace), &err) &&
		  spool_writer_write(s->w, s->hdr.data, s->hdr.len, &err);
	free(rcv);
	free(trace);
	buf_reset(&s->hdr);
	if (!ok)
		data_fail(s, err.msg);
}

static void data_out(struct session *s, const char *p, size_t n)
{
	struct err err;

	if (s->write_failed || n == 0 || s->dp.too_big || s->dp.bare_newline)
		return;
	if (!s->hdr_done) {
		size_t from = s->hdr.len >= 3 ? s->hdr.len - 3 : 0;
		buf_append(&s->hdr, p, n);
		/* the header block ends at the first empty line; only the new
		 * octets (and 3 before) are searched, or a long header sent in
		 * many small runs would cost quadratic time */
		bool end = s->hdr.len >= 2 && memcmp(s->hdr.data, "\r\n", 2) == 0;
		if (!end && s->hdr.len >= 4)
			end = memmem(s->hdr.data + from, s->hdr.len - from, "\r\n\r\n", 4) != NULL;
		if (end || s->hdr.len >= HDR_HOLD_MAX)
			data_start_writer(s);
		return;
	}
	err_clear(&err);
	if (!spool_writer_write(s->w, p, n, &err))
		data_fail(s, err.msg);
}

static void data_end(struct session *s, enum smtp_data_result res)
{
	struct relay *r = s->r;
	uint64_t size = smtp_data_size(&s->dp);

	evtimer_del(s->data_timer);
	bufferevent_set_timeouts(s->bev, &(struct timeval){ .tv_sec = r->set.timeout },
				 &(struct timeval){ .tv_sec = r->set.timeout });
	s->state = S_CMD;
	if (res == SMTP_DATA_END_BARE_NEWLINE) {
		log_info("relay: %s: rejected: bare CR or LF in message data (SMTP smuggling "
			 "defence), from=<%s>", s->client, s->sender);
		tx_reset(s);
		error_reply(s, "550 5.5.2 Error: bare <CR> or <LF> received in message data; "
			       "lines must end in <CR><LF>");
		return;
	}
	if (res == SMTP_DATA_END_TOO_BIG) {
		log_info("relay: %s: rejected: message of %llu bytes over max_message_size, "
			 "from=<%s>", s->client, (unsigned long long)size, s->sender);
		tx_reset(s);
		error_reply(s, "552 5.3.4 Error: message file too big");
		return;
	}
	if (!s->hdr_done && !s->write_failed)
		data_start_writer(s);
	if (s->write_failed || s->w == NULL) {
		reply(s, "451 4.3.0 Error: queue file write error; try again later");
		tx_reset(s);
		return;
	}
	/* The fsyncs run in a commit thread; nothing is read meanwhile
	 * (pipelined commands wait in the buffer). */
	s->env.size = size;
	s->state = S_COMMIT;
	bufferevent_disable(s->bev, EV_READ);
	struct spool_writer *w = s->w;
	s->w = NULL;
	commit_submit(r->commit, s, w);
}

void session_committed(struct session *s, bool ok, const char *error)
{
	struct relay *r = s->r;

	if (!ok) {
		log_error("relay: %s: cannot queue a message: %s", s->client, error);
		if (!s->dead)
			reply(s, "451 4.3.0 Error: queue file write error; try again later");
	} else {
		/* On disk: now, and only now, the 250. */
		if (!s->dead)
			reply(s, "250 2.0.0 Ok: queued as %s", s->env.id);
		else
			log_info("relay: %s: %s: the client left before its 250; the message is "
				 "queued and will be delivered (it may send it again)", s->env.id,
				 s->client);
		unsigned dests = 0;
		for (size_t i = 0; i < s->env.nrcpt; i++)
			dests |= s->env.rcpts[i].dests;
		relay_event(r, s->env.id, s->env.message_id, "received", 0, NULL,
			    "client=%s helo=%s from=<%s> size=%llu nrcpt=%zu%s%s", s->client,
			    s->helo[0] ? s->helo : "-", s->env.sender,
			    (unsigned long long)s->env.size, s->env.nrcpt, s->tls ? " tls" : "",
			    s->smtputf8 ? " smtputf8" : "");
		for (unsigned d = SPOOL_OLD; d <= SPOOL_NEW; d <<= 1)
			if (dests & d)
				relay_count(r, d, "accepted", 1);
		struct spool_env env = s->env;
		memset(&s->env, 0, sizeof s->env);
		qmgr_accepted(r, &env);
	}
	tx_reset(s);
	if (s->dead) {
		session_free(s);
		return;
	}
	s->state = S_CMD;
	bufferevent_enable(s->bev, EV_READ);
	on_read(s->bev, s);   /* commands that arrived meanwhile */
}

static void data_feed(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	while (s->state == S_DATA && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		size_t used = 0, rl = 0;
		const char *run = NULL;
		enum smtp_data_result res =
			smtp_data_feed(&s->dp, v.iov_base, v.iov_len, &used, &run, &rl);
		if (rl > 0)
			data_out(s, run, rl);   /* run points into v: before the drain */
		evbuffer_drain(in, used);
		if (res != SMTP_DATA_MORE)
			data_end(s, res);
	}
}

static void on_data_timeout(evutil_socket_t fd, short what, void *ctx)
{
	struct session *s = ctx;
	(void)fd;
	(void)what;
	log_info("relay: %s: DATA took longer than data_timeout, disconnecting", s->client);
	tx_reset(s);
	reply(s, "421 4.4.2 %s Error: timeout exceeded", s->r->hostname);
	close_after_reply(s);
}

/* ---- commands ---- */

static void cmd_ehlo(struct session *s, const struct smtp_cmd *c, bool ehlo)
{
	struct relay *r = s->r;

	tx_reset(s);
	sanitize(s->helo, sizeof s->helo, c->arg);
	s->esmtp = ehlo;
	if (!ehlo) {
		reply(s, "250 %s", r->hostname);
		return;
	}
	reply(s, "250-%s", r->hostname);
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %llu", (unsigned long long)r->set.max_message_size);
	if (r->tls != NULL && !s->tls)
		reply(s, "250-STARTTLS");
	reply(s, "250-ENHANCEDSTATUSCODES");
	reply(s, "250-8BITMIME");
	reply(s, "250 SMTPUTF8");
}

static void cmd_starttls(struct session *s)
{
	struct relay *r = s->r;

	if (r->tls == NULL || s->tls) {
		error_reply(s, "502 5.5.1 Error: command not implemented");
		return;
	}
	if (s->in_tx) {
		error_reply(s, "503 5.5.1 Error: STARTTLS inside a mail transaction");
		return;
	}
	SSL *ssl = SSL_new(r->tls);
	if (ssl == NULL) {
		reply(s, "454 4.7.0 TLS not available due to local problem");
		return;
	}
	reply(s, "220 2.0.0 Ready to start TLS");
	/* Anything the client sent after STARTTLS was sent in the clear and
	 * must not be taken as coming through TLS (CVE-2011-0411). */
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t junk = evbuffer_get_length(in);
	if (junk > 0) {
		log_info("relay: %s: discarded %zu bytes sent after STARTTLS before the "
			 "TLS handshake", s->client, junk);
		evbuffer_drain(in, junk);
	}
	struct bufferevent *tls = bufferevent_openssl_filter_new(
		r->base, s->bev, ssl, BUFFEREVENT_SSL_ACCEPTING,
		BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (tls == NULL) {
		SSL_free(ssl);
		close_after_reply(s);
		return;
	}
	s->bev = tls;
	s->tls = true;
	s->esmtp = false;
	s->helo[0] = '\0';
	bufferevent_setcb(tls, on_read, on_write, on_event, s);
	bufferevent_setwatermark(tls, EV_READ, 0, READ_HIGH_WATER);
	bufferevent_setwatermark(tls, EV_WRITE, OUT_LOW, 0);
	bufferevent_set_timeouts(tls, &(struct timeval){ .tv_sec = r->set.timeout },
				 &(struct timeval){ .tv_sec = r->set.timeout });
	bufferevent_enable(tls, EV_READ | EV_WRITE);
}

static void cmd_mail(struct session *s, const struct smtp_cmd *c)
{
	struct relay *r = s->r;

	if (s->helo[0] == '\0') {
		error_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->in_tx) {
		error_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if ((c->smtputf8 || c->body == SMTP_BODY_8BITMIME) && !s->esmtp) {
		error_reply(s, "503 5.5.1 Error: parameters need EHLO");
		return;
	}
	if (c->has_size && c->size > r->set.max_message_size) {
		error_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	s->sender = xstrdup(c->addr);
	s->smtputf8 = c->smtputf8;
	s->eightbit = c->body == SMTP_BODY_8BITMIME;
	s->in_tx = true;
	reply(s, "250 2.1.0 Ok");
}

static void cmd_rcpt(struct session *s, const struct smtp_cmd *c)
{
	struct relay *r = s->r;
	struct router_route rt;

	if (!s->in_tx) {
		error_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->nrcpt >= r->set.max_recipients) {
		reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	const char *addr = c->domain[0] ? c->addr : "postmaster";
	/* "victim%elsewhere@ours", "\"victim@elsewhere\"@ours", "elsewhere!victim@ours":
	 * ours by the domain, but a server behind us that trusts us may route
	 * them out (percent hack, bang paths): never an open relay by proxy. */
	if (strpbrk(c->local, "@%!") != NULL) {
		log_info("relay: %s: reject RCPT <%s>: routing characters in the local part, "
			 "from=<%s>", s->client, c->addr, s->sender);
		error_reply(s, "550 5.7.1 <%s>: Recipient address rejected: source routing "
			       "(%%, !, @ in the local part) is not allowed", c->addr);
		return;
	}
	router_route(r->router, addr, &rt);
	if (!rt.accept) {
		log_info("relay: %s: reject RCPT <%s>: %u %s %s, from=<%s>", s->client, c->addr,
			 rt.reply_code, rt.enhanced, rt.text, s->sender);
		error_reply(s, "%u %s <%s>: Recipient address rejected: %s", rt.reply_code,
			    rt.enhanced, c->addr, rt.text);
		return;
	}
	if (s->nrcpt == s->caprcpt) {
		s->caprcpt = s->caprcpt ? s->caprcpt * 2 : 8;
		s->rcpts = xreallocarray(s->rcpts, s->caprcpt, sizeof *s->rcpts);
	}
	s->rcpts[s->nrcpt++] = (struct spool_rcpt){ .addr = xstrdup(c->addr), .dests = rt.dests,
						    .primary = rt.primary };
	reply(s, "250 2.1.5 Ok");
}

static void cmd_data(struct session *s)
{
	struct relay *r = s->r;

	if (!s->in_tx) {
		error_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->nrcpt == 0) {
		error_reply(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	/* The envelope the writer will be begun with (once the header is in). */
	memset(&s->env, 0, sizeof s->env);
	spool_new_id(s->env.id);
	s->env.arrival = time(NULL);
	s->env.client = xstrdup(s->client);
	s->env.helo = xstrdup(s->helo);
	s->env.sender = xstrdup(s->sender);
	s->env.primary = router_primary(r->router);
	s->env.smtputf8 = s->smtputf8;
	s->env.eightbit = s->eightbit;
	s->env.nrcpt = s->nrcpt;
	s->env.rcpts = xcalloc(s->nrcpt, sizeof *s->env.rcpts);
	for (size_t i = 0; i < s->nrcpt; i++) {
		s->env.rcpts[i] = s->rcpts[i];
		s->env.rcpts[i].addr = xstrdup(s->rcpts[i].addr);
	}
	smtp_data_init(&s->dp, r->set.max_message_size);
	buf_reset(&s->hdr);
	s->hdr_done = s->write_failed = false;
	s->state = S_DATA;
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	evtimer_add(s->data_timer, &(struct timeval){ .tv_sec = r->set.data_timeout });
}

static void command(struct session *s, const char *line, size_t len)
{
	struct smtp_cmd c;

	if (!smtp_cmd_parse(line, len, s->smtputf8, &c)) {
		error_reply(s, "%u %s Error: %s", c.reply_code, c.enhanced, c.text);
		return;
	}
	switch (c.verb) {
	case SMTP_VERB_EHLO:
		cmd_ehlo(s, &c, true);
		break;
	case SMTP_VERB_HELO:
		cmd_ehlo(s, &c, false);
		break;
	case SMTP_VERB_STARTTLS:
		cmd_starttls(s);
		break;
	case SMTP_VERB_MAIL:
		cmd_mail(s, &c);
		break;
	case SMTP_VERB_RCPT:
		cmd_rcpt(s, &c);
		break;
	case SMTP_VERB_DATA:
		cmd_data(s);
		break;
	case SMTP_VERB_RSET:
		tx_reset(s);
		reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_VERB_NOOP:
		reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_VERB_HELP:
		reply(s, "214 2.0.0 See RFC 5321");
		break;
	case SMTP_VERB_VRFY:
		error_reply(s, "502 5.5.1 VRFY command is disabled");
		break;
	case SMTP_VERB_QUIT:
		reply(s, "221 2.0.0 Bye");
		close_after_reply(s);
		break;
	default:
		error_reply(s, "500 5.5.2 Error: command not recognized");
		break;
	}
}

/* ---- events ---- */

static void on_read(struct bufferevent *bev, void *ctx)
{
	struct session *s = ctx;
	struct evbuffer *in = bufferevent_get_input(bev);
	char line[SMTP_CMD_LINE_MAX + 3];

	while (s->state != S_CLOSING && s->state != S_COMMIT) {
		if (s->state == S_DATA) {
			data_feed(s);
			if (s->state == S_DATA)
				return;
			continue;
		}
		if (bev != s->bev)
			return;   /* STARTTLS swapped the bufferevent: the new one reads */
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) > OUT_HIGH) {
			s->throttled = true;
			bufferevent_disable(s->bev, EV_READ);
			return;   /* on_write resumes */
		}
		size_t eol = 0;
		struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_LF);
		if (p.pos < 0) {
			size_t have = evbuffer_get_length(in);
			if (have > SMTP_CMD_LINE_MAX + 2) {
				/* drop it; the rest of the line goes when its LF comes */
				evbuffer_drain(in, have);
				s->discarding = true;
			}
			return;
		}
		size_t n = (size_t)p.pos;
		if (s->discarding || n > SMTP_CMD_LINE_MAX + 1) {
			evbuffer_drain(in, n + eol);
			s->discarding = false;
			error_reply(s, "500 5.5.2 Error: line too long");
			continue;
		}
		evbuffer_remove(in, line, n + eol);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		command(s, line, n);
	}
}

static void on_write(struct bufferevent *bev, void *ctx)
{
	struct session *s = ctx;
	if (s->state == S_CLOSING) {
		if (unsent(s) == 0)
			event_active(s->close_ev, EV_TIMEOUT, 0);   /* free it now */
		return;
	}
	if (s->throttled && s->state == S_CMD &&
	    evbuffer_get_length(bufferevent_get_output(bev)) <= OUT_LOW) {
		s->throttled = false;
		bufferevent_enable(bev, EV_READ);
		on_read(bev, s);
	}
}

static void on_event(struct bufferevent *bev, short what, void *ctx)
{
	struct session *s = ctx;
	(void)bev;
	if (what & BEV_EVENT_TIMEOUT) {
		if (s->state == S_CLOSING)
			return;   /* on_close_poll gives up after CLOSE_WAIT_MAX */
		log_info("relay: %s: idle for %llds, disconnecting", s->client,
			 (long long)s->r->set.timeout);
		tx_reset(s);
		reply(s, "421 4.4.2 %s Error: timeout exceeded", s->r->hostname);
		close_after_reply(s);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (s->state == S_COMMIT) {
			/* freed when its commit is back (commit.c holds s) */
			s->dead = true;
			bufferevent_disable(s->bev, EV_READ | EV_WRITE);
			return;
		}
		if (s->state == S_DATA)
			log_info("relay: %s: connection lost during DATA; nothing queued",
				 s->client);
		session_free(s);
	}
}

void session_accept(struct relay *r, evutil_socket_t fd, const struct sockaddr *sa, int salen)
{
	char ip[64] = "?";
	unsigned port = 0;

	(void)salen;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
		port = ntohs(in6->sin6_port);
	}
	if (r->stopping || r->nsessions >= r->set.max_connections ||
	    client_sessions(r, ip) >= r->set.max_per_client) {
		char msg[256];
		int n = snprintf(msg, sizeof msg, "421 4.7.0 %s Error: too many connections%s\r\n",
				 r->hostname,
				 r->nsessions >= r->set.max_connections ? "" : " from your address");
		if (n < 0 || (size_t)n >= sizeof msg)
			n = (int)sizeof msg - 1;
		/* best effort, never blocks the loop */
		if (send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			(void)errno;
		log_info("relay: [%s]:%u: refused: %s", ip, port,
			 r->stopping ? "stopping" : r->nsessions >= r->set.max_connections
							    ? "max_connections reached"
							    : "max_per_client reached");
		evutil_closesocket(fd);
		return;
	}
	struct session *s = xcalloc(1, sizeof *s);
	s->r = r;
	snprintf(s->ip, sizeof s->ip, "%s", ip);
	snprintf(s->client, sizeof s->client, "[%s]:%u", ip, port);
	buf_init(&s->hdr, HDR_HOLD_MAX + SMTP_CMD_LINE_MAX * 200);
	s->bev = bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE);
	s->data_timer = evtimer_new(r->base, on_data_timeout, s);
	s->close_ev = evtimer_new(r->base, on_close_poll, s);
	if (s->bev == NULL || s->data_timer == NULL || s->close_ev == NULL) {
		if (s->bev == NULL)
			evutil_closesocket(fd);
		if (s->data_timer)
			event_free(s->data_timer);
		if (s->close_ev)
			event_free(s->close_ev);
		if (s->bev)
			bufferevent_free(s->bev);
		buf_free(&s->hdr);
		free(s);
		return;
	}
	s->next = r->sessions;
	if (r->sessions)
		r->sessions->prev = s;
	r->sessions = s;
	r->nsessions++;
	client_count(r, ip, 1);
	s->counted = true;
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, READ_HIGH_WATER);
	bufferevent_setwatermark(s->bev, EV_WRITE, OUT_LOW, 0);
	/* the write timeout counts only while replies wait: a client that
	 * stops reading is dropped after `timeout` too */
	bufferevent_set_timeouts(s->bev, &(struct timeval){ .tv_sec = r->set.timeout },
				 &(struct timeval){ .tv_sec = r->set.timeout });
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	reply(s, "220 %s ESMTP mailshift", r->hostname);
}

void session_close_all(struct relay *r)
{
	while (r->sessions != NULL) {
		struct session *s = r->sessions;
		/* best effort, plaintext only (the loop is ending: nothing
		 * would encrypt and flush a TLS reply) */
		if (!s->tls && s->state != S_CLOSING) {
			char msg[300];
			int n = snprintf(msg, sizeof msg, "421 4.3.2 %s Service shutting down\r\n",
					 r->hostname);
			if (n > 0 && (size_t)n < sizeof msg &&
			    send(bufferevent_getfd(s->bev), msg, (size_t)n,
				 MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				(void)errno;
		}
		session_free(s);
	}
}
