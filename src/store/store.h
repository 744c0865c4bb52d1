/* store.h — the state store: what mailshift knows between runs. For the
 * sync: each account's folder pairs, so a rerun copies only what changed
 * and a crashed run resumes without duplicates. For the relay (schema 4):
 * what happened to each message (`mailshift trace`) and per-destination
 * counters (`mailshift status`).
 *
 * One interface, several backends: "sqlite:/path/state.db" today (one
 * file, WAL, created mode 0600), "postgresql://..." later (many workers).
 * Callers never see SQL. Every function returns false with err set on
 * failure (err->kind ERR_KIND_IO, scope ERR_SCOPE_ACCOUNT; a busy database
 * is waited for up to 30 s before that).
 *
 * Schema: versioned; store_open() upgrades an older file in one
 * transaction and refuses a newer one ("state file was written by a newer
 * mailshift (schema N, this one knows M): upgrade mailshift"). Passwords are
 * never stored (there is no column for them).
 *
 * Concurrency: one `struct store` per thread (accounts run in parallel,
 * each with its own handle on the same file). The relay and the sync may
 * use the same file from different processes at once: writers take turns
 * (the busy wait above), readers do not block writers.
 *
 * Ownership: structs returned are owned by the caller and released with
 * the matching *_free; strings passed in are copied.
 */
#ifndef MS_STORE_H
#define MS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define STORE_SCHEMA_VERSION 4

struct store;

/* One folder pair of one account in one direction ("forward": old → new,
 * "reverse": new → old). Key: (account, direction, src_name). */
struct store_folder {
	int64_t id;                 /* set by store_folder_put */
	char *account;
	char *direction;
	char *src_name;             /* UTF-8 */
	char *dst_name;             /* UTF-8 */
	uint32_t src_uidvalidity;
	uint32_t dst_uidvalidity;
	uint32_t src_uidnext;       /* src UIDNEXT when last synced */
	uint32_t dst_uidnext;       /* dst UIDNEXT after last sync */
	uint64_t src_modseq;        /* HIGHESTMODSEQ when last synced, 0: none */
	uint64_t dst_modseq;
};

/* One message known on both sides: src UID → dst UID, with the flags last
 * seen on each side ("\\Seen $Forwarded": sorted, space-separated). */
struct store_msg {
	uint32_t src_uid;
	uint32_t dst_uid;
	char *src_flags;
	char *dst_flags;
	/* A copy in flight (schema 2): written before the APPEND with
	 * dst_uid 0 and the message's identity key, replaced once the
	 * destination confirms it. A row still pending at the next run is a
	 * copy a killed run may have made: its key finds it on the
	 * destination even if the source message is gone by then. NULL
	 * otherwise. */
	char *pending_key;
	/* A flag update in flight (schema 3): written before the STORE on
	 * the destination, with src_flags the source flags being applied and
	 * flags_base the flags that may be removed if the source no longer
	 * has them (the source's flags before; for a first match, none of the
	 * destination's own). NULL once the STORE is confirmed. A row still
	 * carrying a base at the next run is a STORE a killed run may or may
	 * not have made: that run compares the destination's real flags
	 * instead of trusting src_flags. */
	char *flags_base;
};

struct store *store_open(const char *spec, struct err *err);
void store_close(struct store **sp);
/* The schema version of an open store (for tests and `status`). */
int store_schema_version(struct store *s);

bool store_begin(struct store *s, struct err *err);
bool store_commit(struct store *s, struct err *err);
void store_rollback(struct store *s);

/* *found_r false (and *out untouched) when there is no such folder. */
bool store_folder_get(struct store *s, const char *account, const char *direction,
		      const char *src_name, struct store_folder *out, bool *found_r,
		      struct err *err);
/* Every folder of an account in one direction, ordered by src_name. */
bool store_folder_list(struct store *s, const char *account, const char *direction,
		       struct store_folder **out, size_t *count_r, struct err *err);
/* Insert (f->id == 0: sets it) or update by id. */
bool store_folder_put(struct store *s, struct store_folder *f, struct err *err);
/* Drop a folder pair and all its messages. */
bool store_folder_delete(struct store *s, int64_t folder_id, struct err *err);
void store_folder_free(struct store_folder *f);
void store_folder_list_free(struct store_folder *v, size_t n);

/* All messages of a folder pair, ordered by src_uid. */
bool store_msgs_load(struct store *s, int64_t folder_id, struct store_msg **out,
		     size_t *count_r, struct err *err);
/* Insert or replace by (folder_id, src_uid). */
bool store_msg_put(struct store *s, int64_t folder_id, const struct store_msg *m,
		   struct err *err);
bool store_msg_delete(struct store *s, int64_t folder_id, uint32_t src_uid, struct err *err);
/* Forget every message of a folder pair (UIDVALIDITY changed). */
bool store_msgs_clear(struct store *s, int64_t folder_id, struct err *err);
void store_msgs_free(struct store_msg *v, size_t n);

/* --- relay (schema 4) ---------------------------------------------------- */

/* One thing that happened to one message in the relay. The store keeps the
 * words as given: the vocabulary below is the relay's, not checked here. */
struct store_relay_event {
	int64_t time_ms;        /* unix time in milliseconds */
	char *trace_id;         /* the relay's message/trace id (20 chars); required */
	char *message_id;       /* Message-ID header, or NULL */
	char *event;            /* "received", "delivered", "deferred", "bounced", "failed",
				 * "expired", "dsn", "held", "released", "deleted"; required */
	char *dest;             /* "old", "new", "bounce" or NULL */
	char *rcpt;             /* recipient or NULL */
	char *detail;           /* free text: client and size, the remote reply with its
				 * queue id, ... or NULL */
};

/* Records one event (strings copied; NULL optional fields stay NULL).
 * Meant to be called in batches inside store_begin/store_commit. */
bool store_relay_event_add(struct store *s, const struct store_relay_event *e,
			   struct err *err);
/* All events of the messages whose trace id equals key, or whose
 * message_id equals key (with or without <>; surrounding blanks ignored),
 * ordered by time then insertion. "All events of the messages": once one
 * event of a trace id matches (e.g. "received", the one that usually
 * carries the Message-ID), every event of that trace id is returned, and
 * a Message-ID seen on several messages returns the events of each.
 * Nothing found: true, *out NULL, *count_r 0 (also for an empty key).
 * *out freed with store_relay_events_free. */
bool store_relay_events_find(struct store *s, const char *key,
			     struct store_relay_event **out, size_t *count_r,
			     struct err *err);
void store_relay_events_free(struct store_relay_event *v, size_t n);
/* Events older than cutoff_ms (time_ms < cutoff_ms) removed
 * (housekeeping); *removed_r, when not NULL, gets how many. */
bool store_relay_events_prune(struct store *s, int64_t cutoff_ms, size_t *removed_r,
			      struct err *err);

struct store_relay_counter {
	char *dest;
	char *name;
	int64_t value;
};

/* value += delta for (dest, name), created at 0 when missing, in one
 * statement (no read-modify-write race between processes). Names used:
 * accepted, delivered, deferred, bounced, failed, expired, queued (a
 * gauge: +1 on accept, -1 on final outcome). */
bool store_relay_counter_add(struct store *s, const char *dest, const char *name,
			     int64_t delta, struct err *err);
/* Every counter, ordered by dest then name (byte order). */
bool store_relay_counters(struct store *s, struct store_relay_counter **out,
			  size_t *count_r, struct err *err);
void store_relay_counters_free(struct store_relay_counter *v, size_t n);

#endif
