/* watch.h — the propagation watch behind `mailshift dns watch`: poll the MX
 * (and, optionally, the SPF record) of some domains at several resolvers and
 * tell, change by change, how far the switch to the new MX host has spread.
 *
 * The engine does no printing and no DNS itself. It asks through a
 * watch_lookup_multi_fn (the CLI passes resolver_multi_lookup over its
 * resolvers; unit tests pass a table) and reports through struct
 * watch_report callbacks, which the CLI renders as text or JSON lines.
 *
 * Converged: a resolver has converged for a domain when its MX answer is
 * NOERROR, has at least one MX, and EVERY MX of the best (lowest)
 * preference is the expected host. "Contains the expected host" is not
 * enough: with `10 new, 10 old` senders still pick old half of the time.
 * MX records of a worse preference (old kept as a backup at 20) do not
 * prevent convergence: senders use them only when the best ones fail.
 * A resolver counts as converged when it has converged for every domain.
 * The SPF record (--spf) is watched and its changes reported, but it never
 * affects convergence.
 *
 * A change is an answer that differs from the same resolver's previous
 * answer for the same domain and record: another status (NOERROR,
 * NXDOMAIN, SERVFAIL, TIMEOUT) or another set of records. TTLs counting
 * down are not changes. The first poll reports every resolver's answer as
 * a change from nothing (previous NULL).
 *
 * ETA: a resolver that has not converged holds an answer it may keep for
 * its remaining TTL; after that it must ask again. So "by poll time + TTL"
 * is an upper bound for it, PROVIDED the authoritative servers already
 * publish the new MX. The ETA of a poll is the latest such bound over the
 * resolvers not converged; resolvers that time out or fail have no TTL and
 * are counted as unknown instead. When the answer came from an
 * authoritative server (AA flag), the TTL is the zone's own: the bound is
 * then how long caches could keep the current answer if the zone switched
 * now.
 *
 * Timing: watch_run() polls at once, then every interval; it returns
 * WATCH_CONVERGED as soon as a poll finds every resolver converged,
 * WATCH_TIMEOUT when the timeout passes first (never polling past it),
 * WATCH_NO_ANSWER when no resolver gave a usable MX answer (NOERROR or
 * NXDOMAIN) in the first poll: a list of resolvers that all time out or
 * refuse can never converge. Clocks and sleep are injectable for tests.
 *
 * Ownership: watch_new() copies what it keeps from the options (strings
 * included); watch_free() releases it. Pointers handed to the callbacks
 * are valid only during the call.
 * Threads: a struct watch is used by one thread at a time.
 */
#ifndef MS_WATCH_H
#define MS_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "dns/dns_lookup.h"

/* Ask every one of the n resolvers (name, type) at once; out[i] (zeroed by
 * the caller) is the i-th resolver's answer, released by the engine with
 * dns_answer_free(). False only for a local failure (err set). */
typedef bool (*watch_lookup_multi_fn)(void *ctx, size_t n, const char *name, uint16_t type,
				      struct dns_answer *out, struct err *err);

enum watch_record {
	WATCH_REC_MX = 0,
	WATCH_REC_SPF,
};

/* What one resolver answered for one domain and record. */
struct watch_state {
	enum dns_status status;
	char **items;           /* MX: "10 mx.new-host.test"; SPF: the record text; sorted */
	size_t n_items;
	uint32_t ttl;           /* remaining TTL: min over the RRset, the negative TTL on
				 * NXDOMAIN/NODATA (0 without SOA); 0 on SERVFAIL/TIMEOUT */
	bool has_ttl;           /* false on SERVFAIL/TIMEOUT */
	bool authoritative;     /* AA flag */
	bool converged;         /* MX only (see above); false for SPF */
	int64_t asked;          /* wall-clock seconds of the poll that got it */
};

/* Counts after a poll, shared by change events and poll summaries. */
struct watch_progress {
	size_t converged;       /* resolvers converged for every domain */
	size_t total;           /* resolvers */
	int64_t eta;            /* wall-clock seconds (upper bound), 0 when none known */
	bool eta_authoritative; /* the bound comes from an authoritative (zone) TTL */
	size_t eta_unknown;     /* not converged and without a TTL (timeout, SERVFAIL) */
};

struct watch_change {
	size_t resolver;        /* index in watch_opts.servers */
	const char *server;
	const char *domain;
	enum watch_record record;
	const struct watch_state *prev;   /* NULL on the first poll */
	const struct watch_state *now;
	struct watch_progress progress;   /* after this poll */
};

struct watch_poll_info {
	unsigned poll;          /* 1 for the first */
	int64_t wall;           /* wall-clock seconds at the poll */
	size_t changes;         /* change events this poll */
	struct watch_progress progress;
};

struct watch_report {
	void (*change)(void *ctx, const struct watch_change *c);     /* may be NULL */
	void (*polled)(void *ctx, const struct watch_poll_info *p);  /* may be NULL */
	void *ctx;
};

struct watch_clock {
	int64_t (*mono_ms)(void *ctx);          /* monotonic milliseconds */
	int64_t (*wall_s)(void *ctx);           /* seconds since the epoch */
	void (*sleep_ms)(void *ctx, int64_t ms);
	void *ctx;
};

struct watch_opts {
	const char *const *servers;   /* names for reports ("127.0.0.1:5301"), n_servers >= 1 */
	size_t n_servers;
	const char *const *domains;   /* n_domains >= 1, any case, optional trailing dot */
	size_t n_domains;
	const char *expect;           /* the new MX host, any case, optional trailing dot */
	bool spf;                     /* also watch the SPF TXT record */
	int64_t interval_ms;          /* between polls (start to start); 0: 30000 */
	int64_t timeout_ms;           /* 0: none */
	watch_lookup_multi_fn lookup;
	void *lookup_ctx;
	struct watch_report report;
	const struct watch_clock *clock;   /* NULL: the real clocks and nanosleep */
};

enum watch_result {
	WATCH_CONVERGED = 0,
	WATCH_TIMEOUT,
	WATCH_NO_ANSWER,
	WATCH_ERROR,            /* a local failure of the lookup; err set */
};

struct watch;

/* NULL with err set (usage) for a malformed domain or expected host, or no
 * servers/domains/lookup. */
struct watch *watch_new(const struct watch_opts *o, struct err *err);
void watch_free(struct watch **wp);

/* One poll: every domain (and record) at every resolver; reports changes and
 * the poll. Returns false only when the lookup fails locally. */
bool watch_poll(struct watch *w, struct err *err);
/* Poll until converged / timeout / no answer (see above). */
enum watch_result watch_run(struct watch *w, struct err *err);

/* After at least one poll: whether every resolver has converged. */
bool watch_converged(const struct watch *w);
/* The latest state of (resolver, domain, record), NULL before the first poll. */
const struct watch_state *watch_state_get(const struct watch *w, size_t resolver, size_t domain,
					  enum watch_record record);
struct watch_progress watch_progress_get(const struct watch *w);
unsigned watch_polls(const struct watch *w);
/* The domain names as the engine uses them (normalized). */
const char *watch_domain(const struct watch *w, size_t domain);

const char *watch_status_name(enum dns_status s);   /* "NOERROR", "TIMEOUT", ... */
const char *watch_record_name(enum watch_record r); /* "MX", "SPF" */

#endif
