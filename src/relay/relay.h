/* relay.h — the dual-delivery SMTP relay engine (`mailshift relay`).
 *
 * One process: an event loop (libevent) in the main thread runs every
 * inbound SMTP session (session.c), the queue manager (qmgr.c: what to
 * deliver when, retries, bounces, the delivery log and counters) and the
 * control socket (control.c); delivery workers (deliver.c) are threads,
 * a fixed pool per destination ([relay] concurrency), each keeping its
 * connection open between messages. Workers do blocking I/O with timeouts
 * and never touch the loop's data: jobs and results pass through two
 * locked queues and a notification pipe.
 *
 * relay_run() binds the listeners (as root when the port needs it), loads
 * the TLS key, then drops to [relay] user, opens the spool (exclusively)
 * and the state store, re-queues what the spool holds, and serves until
 * SIGTERM/SIGINT (clean stop: sessions closed with 421, deliveries in
 * progress finished or left queued). SIGHUP re-reads the configuration:
 * a new router (phases) and the limits; listen/spool/user/store changes
 * need a restart (a warning says so). SIGUSR1 = flush (retry everything
 * deferred now).
 */
#ifndef MS_RELAY_H
#define MS_RELAY_H

#include <stdbool.h>

#include "core/err.h"

struct relay_run_opts {
	const char *config_path;
	/* For tests: print "listening on HOST:PORT" lines to stdout once
	 * bound (port 0 in listen picks a free one). */
	bool announce;
};

/* Returns the exit status: 0 after a clean stop, else err is set. */
int relay_run(const struct relay_run_opts *opts, struct err *err);

#endif
