/* relay_int.h — private to src/relay: the state the relay's modules share.
 *
 * Everything here belongs to the main (event loop) thread unless a field
 * says otherwise. Workers see only struct deliver_job / deliver_result.
 */
#ifndef MS_RELAY_INT_H
#define MS_RELAY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "core/config.h"
#include "relay/relay_config.h"
#include "relay/router.h"
#include "relay/smtp_client.h"
#include "relay/spool.h"
#include "store/store.h"

struct relay;

/* ---- delivery (deliver.c) ---- */

/* One message to one destination, for some of its recipients. */
struct deliver_job {
	struct deliver_job *next;
	char id[SPOOL_ID_SIZE];
	unsigned dest;              /* SPOOL_OLD / SPOOL_NEW / SPOOL_BOUNCE */
	enum spool_where where;
	char *sender;
	bool smtputf8, eightbit;
	size_t n;                   /* recipients in this job */
	size_t *rcpt_idx;           /* their indices in the envelope */
	char **rcpts;               /* their addresses */
	/* filled by the worker */
	struct smtp_rcpt_result *res;
	bool conn_failed;           /* no result for any recipient */
	bool local_error;           /* ... because of our side (the queue file) */
	char *conn_error;           /* why, when conn_failed */
	char *peer;                 /* "host:port" it talked to, or NULL */
	double seconds;
};
void deliver_job_free(struct deliver_job *j);

struct deliver_pool;
/* Starts `threads` workers for dest with the given client options (copied). */
struct deliver_pool *deliver_pool_new(struct relay *r, unsigned dest,
				      const struct smtp_client_opts *opts, unsigned threads);
/* Hands a job to the pool (never blocks). */
void deliver_pool_submit(struct deliver_pool *p, struct deliver_job *j);
/* Jobs submitted and not yet returned. */
unsigned deliver_pool_busy(struct deliver_pool *p);
/* The loop got a job of this pool back. */
void deliver_pool_done(struct deliver_pool *p);
/* Stops the workers (after their current job) and frees the pool; jobs
 * not started are freed without a result (for the end of the run only:
 * their messages stay queued on disk). */
void deliver_pool_free(struct deliver_pool **pp);
/* Workers push finished jobs here; the loop drains it (qmgr_results). */
void relay_post_result(struct relay *r, struct deliver_job *j);

/* ---- the queue manager (qmgr.c) ---- */

/* A message the relay holds (in queue/ or hold/). */
struct qmsg {
	struct spool_env env;
	struct spool_status st;
	enum spool_where where;
	int64_t next_try[SPOOL_NDEST];  /* unix s; 0: now */
	bool busy[SPOOL_NDEST];          /* a job for it is out */
	bool dead;                       /* removed or deleted while busy */
};

void qmgr_init(struct relay *r);
/* Re-queue what the spool holds (at start). */
bool qmgr_load(struct relay *r, struct err *err);
/* A message the session has just committed (env is moved into the qmsg). */
void qmgr_accepted(struct relay *r, struct spool_env *env);
/* Dispatch what is due (called after each change). */
void qmgr_run(struct relay *r);
/* The 1 s timer: the store's "queued" gauge, then qmgr_run. */
void qmgr_tick(struct relay *r);
/* Drain workers' results. */
void qmgr_results(struct relay *r);
/* Control operations; false with a reason in *why (static or owned by r). */
void qmgr_flush(struct relay *r);
bool qmgr_hold(struct relay *r, const char *id, const char **why);
bool qmgr_release(struct relay *r, const char *id, const char **why);
bool qmgr_delete(struct relay *r, const char *id, const char **why);
void qmgr_free(struct relay *r);

/* ---- events, counters, logs (events.c) ---- */

/* One line in the log (like Postfix's maillog) and one row in the store. */
void relay_event(struct relay *r, const char *trace_id, const char *message_id,
		 const char *event, unsigned dest, const char *rcpt, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
void relay_count(struct relay *r, unsigned dest, const char *name, int64_t delta);
/* Commit what was recorded since the last flush (one transaction). */
void relay_events_flush(struct relay *r);

/* ---- queue commits off the loop (commit.c) ---- */

struct commit_pool;
struct session;
struct commit_pool *commit_pool_new(struct relay *r, unsigned threads, struct err *err);
/* Commit w in a worker; session_committed(s, ...) is called in the loop
 * when it is done. */
void commit_submit(struct commit_pool *p, struct session *s, struct spool_writer *w);
void commit_pool_free(struct commit_pool **pp);

/* ---- sessions (session.c) ---- */

struct session;
void session_accept(struct relay *r, evutil_socket_t fd, const struct sockaddr *sa, int salen);
/* Close every session with 421 (stop). */
void session_close_all(struct relay *r);
/* The commit of the session's message is done: reply 250 (or 451) and go on. */
void session_committed(struct session *s, bool ok, const char *error);

/* ---- the control socket (control.c) ---- */

bool control_open(struct relay *r, struct err *err);
void control_close(struct relay *r);

/* ---- the relay ---- */

struct client_count {
	char ip[64];
	unsigned n;
};

struct relay {
	struct event_base *base;
	const char *config_path;
	struct config *cfg;
	struct relay_settings set;
	struct router *router;
	char *hostname;
	struct spool *spool;
	struct store *store;
	SSL_CTX *tls;                    /* NULL: no STARTTLS offered */

	/* sessions */
	struct session *sessions;        /* doubly linked */
	unsigned nsessions;
	struct client_count *clients;    /* per-IP session counts */
	size_t nclients, capclients;
	struct evconnlistener **listeners;
	size_t nlisteners;

	/* queue */
	struct qmsg **msgs;              /* sorted by id */
	size_t nmsgs, capmsgs;
	struct deliver_pool *pool[SPOOL_NDEST];
	struct commit_pool *commit;
	struct event *tick;              /* 1 s timer: due retries */
	/* "run the queue soon": a one-shot event of its own. (Activating the
	 * persistent tick by hand made libevent 2.1 drop its timeout: the
	 * relay then never retried a deferred message.) */
	struct event *kick;
	int64_t dest_wait[SPOOL_NDEST];  /* a destination's connection failed: not before */
	bool dest_probe[SPOOL_NDEST];    /* ... and then one job at a time until one connects */
	/* the "queued" gauge in the store: deliveries still to make, set from
	 * the in-memory queue (exact: loaded from the spool) once a second */
	int64_t queued_written[SPOOL_NDEST];
	bool queued_known;
	bool run_soon;

	/* results from workers */
	pthread_mutex_t res_lock;
	struct deliver_job *res_head, *res_tail;
	int res_pipe[2];
	struct event *res_ev;

	/* store batching: events and counters go in one transaction per
	 * loop turn (relay_events_flush) */
	bool store_tx;
	bool store_broken_warned;

	/* control */
	evutil_socket_t control_fd;
	struct evconnlistener *control;
	char *control_path;

	struct event *sig_term, *sig_int, *sig_hup, *sig_usr1;
	bool stopping;
};

#endif
