/* store.h — the sync state store: what mailshift knows about each account's
 * folder pairs between runs, so a rerun copies only what changed and a
 * crashed run resumes without duplicates.
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
 * each with its own handle on the same file).
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

#define STORE_SCHEMA_VERSION 3

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

#endif
