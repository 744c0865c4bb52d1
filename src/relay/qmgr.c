/* qmgr.c — the relay's queue manager: what to deliver where and when.
 *
 * Every message in the spool has, per recipient and destination, an
 * outcome (spool.h). The loop thread alone decides and records outcomes;
 * workers only deliver. A (recipient, destination) pair ends as done,
 * failed or expired; a message whose pairs all ended leaves the spool.
 *
 * Failures:
 *  - 4xx, a lost connection, a dead server: deferred, retried after
 *    [relay] retry_intervals (the last interval repeats) until
 *    queue_lifetime, then expired.
 *  - 5xx at the recipient's primary destination: failed, and a DSN goes
 *    to the sender (never for a null sender, never for a DSN).
 *  - 5xx at a shadow destination (the copy users do not read yet, e.g.
 *    new in phase both, where the account may not exist yet): never
 *    bounced to an outside sender; retried like a 4xx, counted as
 *    "rejected" and logged as a warning for the admin, and at
 *    queue_lifetime expired without a bounce.
 * A destination whose connection fails is left alone until its first
 * retry interval has passed, so a dead server does not tie up workers
 * with one timeout per queued message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "proto/dsn.h"
#include "relay/relay_int.h"

#define INFLIGHT_PER_THREAD 2

static const unsigned dest_bits[SPOOL_NDEST] = { SPOOL_OLD, SPOOL_NEW, SPOOL_BOUNCE };

/* ---- the table of messages (sorted by id) ---- */

static size_t lower_bound(struct relay *r, const char *id)
{
	size_t lo = 0, hi = r->nmsgs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(r->msgs[mid]->env.id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct qmsg *find(struct relay *r, const char *id)
{
	size_t i = lower_bound(r, id);
	return i < r->nmsgs && strcmp(r->msgs[i]->env.id, id) == 0 ? r->msgs[i] : NULL;
}

static void insert(struct relay *r, struct qmsg *q)
{
	size_t i = lower_bound(r, q->env.id);
	if (r->nmsgs == r->capmsgs) {
		r->capmsgs = r->capmsgs ? r->capmsgs * 2 : 256;
		r->msgs = xreallocarray(r->msgs, r->capmsgs, sizeof *r->msgs);
	}
	memmove(&r->msgs[i + 1], &r->msgs[i], (r->nmsgs - i) * sizeof *r->msgs);
	r->msgs[i] = q;
	r->nmsgs++;
}

static void qmsg_free(struct qmsg *q)
{
	spool_env_free(&q->env);
	spool_status_free(&q->st);
	free(q);
}

static void drop(struct relay *r, struct qmsg *q)
{
	size_t i = lower_bound(r, q->env.id);
	if (i < r->nmsgs && r->msgs[i] == q) {
		memmove(&r->msgs[i], &r->msgs[i + 1], (r->nmsgs - i - 1) * sizeof *r->msgs);
		r->nmsgs--;
	}
	qmsg_free(q);
}

static struct spool_state *state_of(struct qmsg *q, size_t rcpt, unsigned di)
{
	return &q->st.st[rcpt * SPOOL_NDEST + di];
}

static bool pending(struct qmsg *q, size_t rcpt, unsigned di)
{
	return (q->env.rcpts[rcpt].dests & dest_bits[di]) &&
	       state_of(q, rcpt, di)->outcome == SPOOL_PENDING;
}

static bool all_final(struct qmsg *q)
{
	for (size_t i = 0; i < q->env.nrcpt; i++)
		for (unsigned d = 0; d < SPOOL_NDEST; d++)
			if (pending(q, i, d))
				return false;
	return true;
}

static bool any_busy(const struct qmsg *q)
{
	for (unsigned d = 0; d < SPOOL_NDEST; d++)
		if (q->busy[d])
			return true;
	return false;
}

static void set_state(struct qmsg *q, size_t rcpt, unsigned di, enum spool_outcome o,
		      const char *text)
{
	struct spool_state *s = state_of(q, rcpt, di);
	s->outcome = o;
	s->attempts++;
	s->last_time = time(NULL);
	free(s->last_text);
	s->last_text = text ? xstrdup(text) : NULL;
}

static void record(struct relay *r, struct qmsg *q, size_t rcpt, unsigned di,
		   enum spool_outcome o, const char *text)
{
	struct err err;

	set_state(q, rcpt, di, o, text);
	err_clear(&err);
	if (!spool_record(r->spool, q->env.id, dest_bits[di], rcpt, o,
			  state_of(q, rcpt, di)->attempts, text, &err))
		log_error("relay: %s: %s (the delivery may be repeated after a restart)",
			  q->env.id, err.msg);
}

static unsigned pending_pairs(struct qmsg *q, unsigned di);

static int64_t retry_after(struct relay *r, unsigned attempts)
{
	if (r->set.nretry == 0)
		return 300;
	size_t k = attempts == 0 ? 0 : attempts - 1;
	if (k >= r->set.nretry)
		k = r->set.nretry - 1;
	return r->set.retry[k];
}

static void finish_if_done(struct relay *r, struct qmsg *q)
{
	struct err err;

	if (any_busy(q) || !all_final(q))
		return;
	err_clear(&err);
	if (!spool_remove(r->spool, q->where, q->env.id, &err))
		log_error("relay: %s: %s", q->env.id, err.msg);
	else
		log_info("relay: %s: removed (every delivery ended)", q->env.id);
	drop(r, q);
}

/* ---- bounces ---- */

/* The header block of a queued message (for text/rfc822-headers). */
static char *read_headers(struct relay *r, struct qmsg *q, size_t *len_r)
{
	struct err err;
	int fd = -1;
	uint64_t size = 0;
	char *b = xmalloc(65536 + 1);
	size_t n = 0;

	*len_r = 0;
	err_clear(&err);
	if (!spool_open_data(r->spool, q->where, q->env.id, &fd, &size, &err)) {
		free(b);
		return NULL;
	}
	while (n < 65536) {
		ssize_t k = read(fd, b + n, 65536 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	b[n] = '\0';
	char *end = memmem(b, n, "\r\n\r\n", 4);
	*len_r = end ? (size_t)(end - b) + 2 : n;
	return b;
}

struct failed {
	size_t rcpt;
	unsigned code;
	char enhanced[16];
	char *text;
	char *peer;
};

/* Queue one DSN for the failed recipients. True when it is on disk, or
 * when none is due (null sender, or the failure is a DSN's own): only then
 * may the caller record the failures as final. False: nothing was queued
 * and the failures must stay pending, so that a later pass tries again
 * (recording them first lost the bounce when the relay stopped in between
 * or the spool refused the DSN). */
static bool bounce(struct relay *r, struct qmsg *q, unsigned di, struct failed *f, size_t nf)
{
	struct err err;

	if (nf == 0)
		return true;
	if (q->env.sender[0] == '\0' || di == spool_dest_index(SPOOL_BOUNCE)) {
		for (size_t i = 0; i < nf; i++)
			log_warn("relay: %s: to=<%s>: undeliverable and no one to tell (null "
				 "sender): dropped", q->env.id, q->env.rcpts[f[i].rcpt].addr);
		return true;
	}
	struct dsn_rcpt *dr = xcalloc(nf, sizeof *dr);
	for (size_t i = 0; i < nf; i++) {
		char host[256] = "";
		if (f[i].peer) {
			snprintf(host, sizeof host, "%s", f[i].peer);
			char *colon = strrchr(host, ':');
			if (colon)
				*colon = '\0';
		}
		dr[i] = (struct dsn_rcpt){ .addr = q->env.rcpts[f[i].rcpt].addr,
					   .code = f[i].code,
					   .enhanced = f[i].enhanced,
					   .text = f[i].text,
					   .remote_mta = host[0] ? xstrdup(host) : NULL,
					   .last_attempt = time(NULL) };
	}
	size_t hlen = 0;
	char *hdr = read_headers(r, q, &hlen);
	struct spool_env env = { 0 };
	spool_new_id(env.id);
	struct dsn_input in = {
		.reporting_mta = r->hostname,
		.trace_id = q->env.id,
		.sender = q->env.sender,
		.arrival = q->env.arrival,
		.now = time(NULL),
		.boundary_seed = env.id,
		.rcpts = dr,
		.nrcpt = nf,
		.headers = hdr ? hdr : "",
		.headers_len = hlen,
	};
	struct buf msg;
	buf_init(&msg, 1024 * 1024);
	bool ok = dsn_write(&msg, &in);
	free(hdr);
	for (size_t i = 0; i < nf; i++)
		free((char *)dr[i].remote_mta);
	free(dr);
	env.arrival = time(NULL);
	env.client = xstrdup("local");
	env.helo = xstrdup(r->hostname);
	env.sender = xstrdup("");
	env.primary = SPOOL_BOUNCE;
	env.size = msg.len;
	/* dsn.c may write 8-bit octets (a UTF-8 recipient, original headers) */
	for (size_t i = 0; i < msg.len && !env.eightbit; i++)
		env.eightbit = (unsigned char)msg.data[i] >= 0x80;
	for (const char *p = q->env.sender; *p && !env.smtputf8; p++)
		env.smtputf8 = (unsigned char)*p >= 0x80;
	env.nrcpt = 1;
	env.rcpts = xcalloc(1, sizeof *env.rcpts);
	env.rcpts[0] = (struct spool_rcpt){ .addr = xstrdup(q->env.sender),
					    .dests = SPOOL_BOUNCE, .primary = SPOOL_BOUNCE };
	err_clear(&err);
	struct spool_writer *w = ok ? spool_writer_begin(r->spool, &env, &err) : NULL;
	if (w == NULL || !spool_writer_write(w, msg.data, msg.len, &err) ||
	    !spool_writer_commit(&w, &err)) {
		if (w)
			spool_writer_abort(&w);
		log_error("relay: %s: cannot queue a bounce to <%s>: %s (the failure stays "
			  "queued; the bounce is tried again)", q->env.id, q->env.sender,
			  ok ? err.msg : "bounce too large");
		buf_free(&msg);
		spool_env_free(&env);
		return false;
	}
	buf_free(&msg);
	err_clear(&err);
	if (!spool_record_dsn(r->spool, q->env.id, env.id, &err))
		log_error("relay: %s: %s", q->env.id, err.msg);
	relay_event(r, q->env.id, q->env.message_id, "dsn", 0, q->env.sender,
		    "bounce %s to <%s> for %zu recipient(s)", env.id, q->env.sender, nf);
	relay_event(r, env.id, NULL, "received", 0, NULL,
		    "client=local from=<> size=%zu nrcpt=1 (bounce of %s)", (size_t)env.size,
		    q->env.id);
	relay_count(r, SPOOL_BOUNCE, "accepted", 1);
	qmgr_accepted(r, &env);
	return true;
}

/* ---- dispatch ---- */

static void expire(struct relay *r, struct qmsg *q, unsigned di)
{
	struct failed *f = xcalloc(q->env.nrcpt, sizeof *f);
	size_t nf = 0;

	/* the bounce first (see bounce()), then the final outcomes */
	for (size_t i = 0; i < q->env.nrcpt; i++) {
		if (!pending(q, i, di) || q->env.rcpts[i].primary != dest_bits[di])
			continue;
		const char *last = state_of(q, i, di)->last_text;
		f[nf] = (struct failed){ .rcpt = i, .code = 0,
					 .text = xasprintf("delivery time expired%s%s",
							   last ? ": " : "", last ? last : "") };
		snprintf(f[nf].enhanced, sizeof f[nf].enhanced, "4.4.7");
		nf++;
	}
	bool bounced = bounce(r, q, di, f, nf);
	for (size_t i = 0; i < q->env.nrcpt; i++) {
		if (!pending(q, i, di))
			continue;
		bool primary = q->env.rcpts[i].primary == dest_bits[di];
		const char *last = state_of(q, i, di)->last_text;
		char *why = xasprintf("delivery time expired%s%s", last ? ": " : "",
				      last ? last : "");
		if (primary && !bounced) {
			q->next_try[di] = time(NULL) + retry_after(r, 1);
			free(why);
			continue;
		}
		record(r, q, i, di, SPOOL_EXPIRED, why);
		relay_event(r, q->env.id, q->env.message_id, "expired", dest_bits[di],
			    q->env.rcpts[i].addr, "%s", why);
		relay_count(r, dest_bits[di], "expired", 1);
		if (!primary)
			log_warn("relay: %s: to=<%s> dest=%s: shadow copy expired after "
				 "queue_lifetime (not bounced to the sender)",
				 q->env.id, q->env.rcpts[i].addr, spool_dest_name(dest_bits[di]));
		free(why);
	}
	for (size_t i = 0; i < nf; i++)
		free(f[i].text);
	free(f);
}

static bool dispatch(struct relay *r, struct qmsg *q, unsigned di)
{
	struct deliver_job *j = xcalloc(1, sizeof *j);

	memcpy(j->id, q->env.id, sizeof j->id);
	j->dest = dest_bits[di];
	j->where = q->where;
	j->sender = xstrdup(q->env.sender);
	j->smtputf8 = q->env.smtputf8;
	j->eightbit = q->env.eightbit;
	j->rcpt_idx = xcalloc(q->env.nrcpt, sizeof *j->rcpt_idx);
	j->rcpts = xcalloc(q->env.nrcpt, sizeof *j->rcpts);
	for (size_t i = 0; i < q->env.nrcpt; i++)
		if (pending(q, i, di)) {
			j->rcpt_idx[j->n] = i;
			j->rcpts[j->n++] = xstrdup(q->env.rcpts[i].addr);
		}
	q->busy[di] = true;
	deliver_pool_submit(r->pool[di], j);
	return true;
}

/* Keep the store's "queued" gauge equal to what the queue holds. Counted
 * from the queue rather than by +1/-1 on events, which would drift over
 * crashes (an event batch lost, a delivery made twice). */
static void update_gauge(struct relay *r)
{
	int64_t n[SPOOL_NDEST] = { 0 };

	if (r->store == NULL)
		return;
	if (!r->queued_known) {
		struct store_relay_counter *cv = NULL;
		size_t nc = 0;
		struct err err;
		err_clear(&err);
		if (!store_relay_counters(r->store, &cv, &nc, &err))
			return;
		for (size_t i = 0; i < nc; i++)
			for (unsigned d = 0; d < SPOOL_NDEST; d++)
				if (strcmp(cv[i].name, "queued") == 0 &&
				    strcmp(cv[i].dest, spool_dest_name(dest_bits[d])) == 0)
					r->queued_written[d] = cv[i].value;
		store_relay_counters_free(cv, nc);
		r->queued_known = true;
	}
	for (size_t k = 0; k < r->nmsgs; k++)
		for (unsigned d = 0; d < SPOOL_NDEST; d++)
			n[d] += pending_pairs(r->msgs[k], d);
	for (unsigned d = 0; d < SPOOL_NDEST; d++)
		if (n[d] != r->queued_written[d]) {
			relay_count(r, dest_bits[d], "queued", n[d] - r->queued_written[d]);
			r->queued_written[d] = n[d];
		}
}

void qmgr_tick(struct relay *r)
{
	update_gauge(r);
	qmgr_run(r);
}

void qmgr_run(struct relay *r)
{
	int64_t now = time(NULL);

	r->run_soon = false;
	for (size_t k = 0; k < r->nmsgs; k++) {
		struct qmsg *q = r->msgs[k];
		if (q->where != SPOOL_QUEUE || q->dead)
			continue;
		for (unsigned d = 0; d < SPOOL_NDEST; d++) {
			if (q->busy[d] || r->pool[d] == NULL)
				continue;
			bool any = false;
			for (size_t i = 0; i < q->env.nrcpt && !any; i++)
				any = pending(q, i, d);
			if (!any || q->next_try[d] > now)
				continue;
			if (now - q->env.arrival >= r->set.queue_lifetime) {
				expire(r, q, d);
				continue;
			}
			if (r->dest_wait[d] > now ||
			    (r->dest_probe[d] && deliver_pool_busy(r->pool[d]) > 0))
				continue;
			if (deliver_pool_busy(r->pool[d]) >=
			    INFLIGHT_PER_THREAD * r->set.concurrency)
				continue;
			dispatch(r, q, d);
		}
	}
	/* expired messages may be complete now */
	for (size_t k = 0; k < r->nmsgs;) {
		struct qmsg *q = r->msgs[k];
		size_t before = r->nmsgs;
		if (q->where == SPOOL_QUEUE)
			finish_if_done(r, q);
		if (r->nmsgs == before)
			k++;
	}
	relay_events_flush(r);
}

/* ---- results ---- */

static void apply(struct relay *r, struct deliver_job *j)
{
	unsigned di = spool_dest_index(j->dest);
	struct qmsg *q = find(r, j->id);
	int64_t now = time(NULL);

	if (r->pool[di] != NULL)     /* NULL: stopping, the pool is gone */
		deliver_pool_done(r->pool[di]);
	if (q == NULL)
		return;
	q->busy[di] = false;
	if (q->dead) {
		if (!any_busy(q))
			drop(r, q);
		return;
	}
	struct failed *f = xcalloc(j->n ? j->n : 1, sizeof *f);
	size_t nf = 0;
	unsigned max_attempts = 0;
	bool deferred = false;
	const char *dname = spool_dest_name(j->dest);

	if (j->conn_failed && j->local_error) {
		/* this message's problem (its queue file), not the server's */
		log_error("relay: %s: dest=%s: %s", j->id, dname, j->conn_error);
	} else if (j->conn_failed) {
		log_warn("relay: %s: dest=%s: %s", j->id, dname, j->conn_error);
		r->dest_wait[di] = now + retry_after(r, 1);
		r->dest_probe[di] = true;
	} else if (r->dest_probe[di]) {
		log_info("relay: dest=%s answers again", dname);
		r->dest_probe[di] = false;   /* qmgr_results runs the queue next */
	}
	for (size_t k = 0; k < j->n; k++) {
		size_t i = j->rcpt_idx[k];
		const struct smtp_rcpt_result *res = &j->res[k];
		const char *addr = q->env.rcpts[i].addr;
		bool primary = q->env.rcpts[i].primary == j->dest;
		char *text;

		if (j->conn_failed || res->code == 0)
			text = xstrdup(j->conn_error ? j->conn_error : "no reply from the server");
		else
			text = xasprintf("%u%s%s %s", res->code, res->enhanced[0] ? " " : "",
					 res->enhanced, res->text ? res->text : "");
		if (res->code >= 200 && res->code < 300) {
			record(r, q, i, di, SPOOL_DONE, text);
			relay_event(r, q->env.id, q->env.message_id, "delivered", j->dest, addr,
				    "relay=%s delay=%.2f (%s)", j->peer ? j->peer : "?",
				    j->seconds, text);
			relay_count(r, j->dest, "delivered", 1);
		} else if (res->code >= 500 && primary) {
			/* recorded after the bounce is queued, below */
			f[nf] = (struct failed){ .rcpt = i, .code = res->code,
						 .text = xstrdup(res->text ? res->text : ""),
						 .peer = j->peer ? xstrdup(j->peer) : NULL };
			snprintf(f[nf].enhanced, sizeof f[nf].enhanced, "%s", res->enhanced);
			nf++;
		} else {
			/* 4xx, no answer, or 5xx at a shadow destination */
			record(r, q, i, di, SPOOL_PENDING, text);
			unsigned a = state_of(q, i, di)->attempts;
			if (a > max_attempts)
				max_attempts = a;
			deferred = true;
			if (res->code >= 500) {
				log_warn("relay: %s: to=<%s> dest=%s: shadow copy rejected, will "
					 "retry and never bounce: %s", q->env.id, addr, dname, text);
				relay_event(r, q->env.id, q->env.message_id, "rejected", j->dest,
					    addr, "relay=%s (%s)", j->peer ? j->peer : "?", text);
				relay_count(r, j->dest, "rejected", 1);
			} else {
				relay_event(r, q->env.id, q->env.message_id, "deferred", j->dest,
					    addr, "relay=%s (%s)", j->peer ? j->peer : "-", text);
				relay_count(r, j->dest, "deferred", 1);
			}
		}
		free(text);
	}
	bool bounced = bounce(r, q, di, f, nf);
	for (size_t k = 0; k < nf; k++) {
		size_t i = f[k].rcpt;
		char *text = xasprintf("%u%s%s %s", f[k].code, f[k].enhanced[0] ? " " : "",
				       f[k].enhanced, f[k].text);
		if (bounced) {
			record(r, q, i, di, SPOOL_FAILED, text);
			relay_event(r, q->env.id, q->env.message_id, "bounced", j->dest,
				    q->env.rcpts[i].addr, "relay=%s (%s)", j->peer ? j->peer : "?",
				    text);
			relay_count(r, j->dest, "bounced", 1);
		} else {
			/* delivered again next time, and refused again: then the
			 * bounce is tried again */
			record(r, q, i, di, SPOOL_PENDING, text);
			deferred = true;
			if (state_of(q, i, di)->attempts > max_attempts)
				max_attempts = state_of(q, i, di)->attempts;
		}
		free(text);
	}
	if (deferred)
		q->next_try[di] = now + retry_after(r, max_attempts);
	for (size_t k = 0; k < nf; k++) {
		free(f[k].text);
		free(f[k].peer);
	}
	free(f);
	finish_if_done(r, q);
}

void qmgr_results(struct relay *r)
{
	pthread_mutex_lock(&r->res_lock);
	struct deliver_job *j = r->res_head;
	r->res_head = r->res_tail = NULL;
	pthread_mutex_unlock(&r->res_lock);
	while (j) {
		struct deliver_job *next = j->next;
		apply(r, j);
		deliver_job_free(j);
		j = next;
	}
	qmgr_run(r);
}

/* ---- intake ---- */

void qmgr_accepted(struct relay *r, struct spool_env *env)
{
	struct qmsg *q = xcalloc(1, sizeof *q);

	q->env = *env;
	memset(env, 0, sizeof *env);
	q->where = SPOOL_QUEUE;
	q->st.nrcpt = q->env.nrcpt;
	q->st.st = xcalloc(q->env.nrcpt * SPOOL_NDEST + 1, sizeof *q->st.st);
	insert(r, q);
	if (!r->run_soon && r->kick != NULL) {
		r->run_soon = true;
		event_active(r->kick, EV_TIMEOUT, 0);
	}
}

bool qmgr_load(struct relay *r, struct err *err)
{
	static const enum spool_where wh[] = { SPOOL_QUEUE, SPOOL_HOLD };

	for (size_t w = 0; w < 2; w++) {
		char (*ids)[SPOOL_ID_SIZE] = NULL;
		size_t n = 0;
		if (!spool_list(r->spool, wh[w], &ids, &n, err))
			return false;
		for (size_t i = 0; i < n; i++) {
			struct qmsg *q = xcalloc(1, sizeof *q);
			struct err e2;
			err_clear(&e2);
			if (!spool_load(r->spool, wh[w], ids[i], &q->env, &q->st, &e2)) {
				log_error("relay: %s: left in the spool, not delivered: %s", ids[i],
					  e2.msg);
				free(q);
				continue;
			}
			q->where = wh[w];
			insert(r, q);
			/* a delivery done but not yet logged when we stopped is done
			 * again (at-least-once): this line explains such a copy */
			char what[64] = "";
			for (unsigned d = 0; d < SPOOL_NDEST; d++) {
				if (pending_pairs(q, d) > 0)
					snprintf(what + strlen(what), sizeof what - strlen(what),
						 " %s", spool_dest_name(dest_bits[d]));
			}
			if (what[0] && wh[w] == SPOOL_QUEUE)
				log_info("relay: %s: requeued at start, still to deliver to:%s",
					 q->env.id, what);
		}
		if (n > 0)
			log_info("relay: %zu message(s) found in %s", n,
				 wh[w] == SPOOL_QUEUE ? "the queue" : "hold");
		spool_ids_free(ids);
	}
	return true;
}

void qmgr_init(struct relay *r)
{
	r->msgs = NULL;
	r->nmsgs = r->capmsgs = 0;
}

void qmgr_free(struct relay *r)
{
	for (size_t i = 0; i < r->nmsgs; i++)
		qmsg_free(r->msgs[i]);
	free(r->msgs);
	r->msgs = NULL;
	r->nmsgs = 0;
}

/* ---- control ---- */

void qmgr_flush(struct relay *r)
{
	for (size_t k = 0; k < r->nmsgs; k++)
		memset(r->msgs[k]->next_try, 0, sizeof r->msgs[k]->next_try);
	memset(r->dest_wait, 0, sizeof r->dest_wait);
	memset(r->dest_probe, 0, sizeof r->dest_probe);
	log_info("relay: flush: every deferred message is tried now");
	qmgr_run(r);
}

static unsigned pending_pairs(struct qmsg *q, unsigned di)
{
	unsigned n = 0;
	for (size_t i = 0; i < q->env.nrcpt; i++)
		n += pending(q, i, di);
	return n;
}

bool qmgr_hold(struct relay *r, const char *id, const char **why)
{
	struct qmsg *q = find(r, id);
	struct err err;

	if (q == NULL || q->dead) {
		*why = "no such message in the queue";
		return false;
	}
	if (q->where == SPOOL_HOLD) {
		*why = "already on hold";
		return false;
	}
	if (any_busy(q)) {
		*why = "being delivered right now; try again in a moment";
		return false;
	}
	err_clear(&err);
	if (!spool_move(r->spool, id, SPOOL_QUEUE, SPOOL_HOLD, &err)) {
		log_error("relay: %s: %s", id, err.msg);
		/* the message file may have moved even so: follow it */
		spool_find(r->spool, id, &q->where);
		*why = "cannot move the queue file (see the relay's log)";
		return false;
	}
	q->where = SPOOL_HOLD;
	relay_event(r, id, q->env.message_id, "held", 0, NULL, "by the administrator");
	relay_events_flush(r);
	return true;
}

bool qmgr_release(struct relay *r, const char *id, const char **why)
{
	struct qmsg *q = find(r, id);
	struct err err;

	if (q == NULL || q->where != SPOOL_HOLD) {
		*why = "no such message on hold";
		return false;
	}
	err_clear(&err);
	if (!spool_move(r->spool, id, SPOOL_HOLD, SPOOL_QUEUE, &err)) {
		log_error("relay: %s: %s", id, err.msg);
		spool_find(r->spool, id, &q->where);
		*why = "cannot move the queue file (see the relay's log)";
		return false;
	}
	q->where = SPOOL_QUEUE;
	memset(q->next_try, 0, sizeof q->next_try);
	relay_event(r, id, q->env.message_id, "released", 0, NULL, "by the administrator");
	qmgr_run(r);
	return true;
}

bool qmgr_delete(struct relay *r, const char *id, const char **why)
{
	struct qmsg *q = find(r, id);
	struct err err;

	if (q == NULL || q->dead) {
		*why = "no such message";
		return false;
	}
	if (any_busy(q)) {
		*why = "being delivered right now; try again in a moment";
		return false;
	}
	err_clear(&err);
	if (!spool_remove(r->spool, q->where, id, &err)) {
		log_error("relay: %s: %s", id, err.msg);
		*why = "cannot remove the queue file (see the relay's log)";
		return false;
	}
	relay_event(r, id, q->env.message_id, "deleted", 0, NULL, "by the administrator");
	relay_events_flush(r);
	drop(r, q);
	return true;
}
