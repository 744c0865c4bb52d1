/* events.c — what the relay did, for people and for `mailshift trace`.
 *
 * Each event is one log line (like Postfix's maillog: the trace id first,
 * then key=value fields) and one row in the state store; counters per
 * destination are kept in the store for `mailshift status`. Store writes
 * are batched: the first event opens a transaction, relay_events_flush()
 * (called at the end of each loop turn) commits it, so 10,000 messages do
 * not cost 40,000 fsyncs. The store is a record, not the queue: if it
 * fails, the relay logs it once and keeps delivering (the spool is the
 * truth about what must be delivered).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/log.h"
#include "relay/relay_int.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void store_failed(struct relay *r, const struct err *err)
{
	if (!r->store_broken_warned)
		log_error("relay: state store: %s (events and counters are not recorded; "
			  "delivery goes on)", err->msg);
	r->store_broken_warned = true;
}

static bool tx(struct relay *r)
{
	struct err err;

	if (r->store == NULL)
		return false;
	if (r->store_tx)
		return true;
	err_clear(&err);
	if (!store_begin(r->store, &err)) {
		store_failed(r, &err);
		return false;
	}
	r->store_tx = true;
	return true;
}

void relay_event(struct relay *r, const char *trace_id, const char *message_id,
		 const char *event, unsigned dest, const char *rcpt, const char *fmt, ...)
{
	va_list ap;
	char *detail;
	struct err err;

	va_start(ap, fmt);
	if (vasprintf(&detail, fmt, ap) < 0)
		abort();
	va_end(ap);
	const char *dn = dest ? spool_dest_name(dest) : NULL;
	log_info("relay: %s: %s%s%s%s%s%s%s%s %s", trace_id, event, dn ? " dest=" : "", dn ? dn : "",
		 rcpt ? " to=<" : "", rcpt ? rcpt : "", rcpt ? ">" : "",
		 message_id ? " message-id=" : "", message_id ? message_id : "", detail);
	if (tx(r)) {
		struct store_relay_event e = {
			.time_ms = now_ms(),
			.trace_id = (char *)trace_id,
			.message_id = (char *)message_id,
			.event = (char *)event,
			.dest = (char *)dn,
			.rcpt = (char *)rcpt,
			.detail = detail,
		};
		err_clear(&err);
		if (!store_relay_event_add(r->store, &e, &err))
			store_failed(r, &err);
	}
	free(detail);
}

void relay_count(struct relay *r, unsigned dest, const char *name, int64_t delta)
{
	struct err err;

	if (!tx(r))
		return;
	err_clear(&err);
	if (!store_relay_counter_add(r->store, spool_dest_name(dest), name, delta, &err))
		store_failed(r, &err);
}

void relay_events_flush(struct relay *r)
{
	struct err err;

	if (!r->store_tx)
		return;
	r->store_tx = false;
	err_clear(&err);
	if (!store_commit(r->store, &err))
		store_failed(r, &err);
}
