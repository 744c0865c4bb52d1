/* store_backend.h — private: what a state store backend provides.
 *
 * store.c owns the public interface (store.h): it picks a backend from the
 * spec, checks arguments and the transaction state machine once for every
 * backend, and forwards each call through `struct store_ops`. A backend
 * (store_sqlite.c today, store_pg.c later) embeds `struct store` as the
 * first member of its own handle and implements the ops; it never sees a
 * NULL string argument, a nested begin or a commit without begin, because
 * store.c refuses those before calling it.
 *
 * Backend contract, beyond store.h:
 *   - errors name the store as an administrator knows it (the state file's
 *     path, or host/db without user or password) and the database's own
 *     message; never SQL with values in it;
 *   - err kind ERR_KIND_IO, scope ERR_SCOPE_ACCOUNT, retry true only when
 *     the database was busy or unreachable;
 *   - commit either makes the transaction durable or leaves no transaction
 *     open (it rolls back itself), so store.c can always clear in_tx;
 *   - rollback is safe when the database already ended the transaction;
 *   - close discards an open transaction.
 * Not for use outside src/store/ and its tests.
 */
#ifndef MS_STORE_BACKEND_H
#define MS_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

struct store_ops {
	const char *name;           /* "sqlite", for debug logs */
	void (*close)(struct store *s);
	bool (*begin)(struct store *s, struct err *err);
	bool (*commit)(struct store *s, struct err *err);
	void (*rollback)(struct store *s);
	bool (*folder_get)(struct store *s, const char *account, const char *direction,
			   const char *src_name, struct store_folder *out, bool *found_r,
			   struct err *err);
	bool (*folder_list)(struct store *s, const char *account, const char *direction,
			    struct store_folder **out, size_t *count_r, struct err *err);
	bool (*folder_put)(struct store *s, struct store_folder *f, struct err *err);
	bool (*folder_delete)(struct store *s, int64_t folder_id, struct err *err);
	bool (*msgs_load)(struct store *s, int64_t folder_id, struct store_msg **out,
			  size_t *count_r, struct err *err);
	bool (*msg_put)(struct store *s, int64_t folder_id, const struct store_msg *m,
			struct err *err);
	bool (*msg_delete)(struct store *s, int64_t folder_id, uint32_t src_uid,
			   struct err *err);
	bool (*msgs_clear)(struct store *s, int64_t folder_id, struct err *err);
	/* e->trace_id and e->event are not NULL; the other strings may be. */
	bool (*relay_event_add)(struct store *s, const struct store_relay_event *e,
				struct err *err);
	/* store.c has trimmed the key and taken off its <>: `bare` is not
	 * empty and `angled` is "<bare>". Matches trace_id = bare or
	 * message_id in (bare, angled), then returns every event of the
	 * matching trace ids; *out and *count_r are 0 on entry. */
	bool (*relay_events_find)(struct store *s, const char *bare, const char *angled,
				  struct store_relay_event **out, size_t *count_r,
				  struct err *err);
	/* removed_r is never NULL here. */
	bool (*relay_events_prune)(struct store *s, int64_t cutoff_ms, size_t *removed_r,
				   struct err *err);
	bool (*relay_counter_add)(struct store *s, const char *dest, const char *name,
				  int64_t delta, struct err *err);
	bool (*relay_counters)(struct store *s, struct store_relay_counter **out,
			       size_t *count_r, struct err *err);
};

/* The part of every handle that store.c reads and writes. */
struct store {
	const struct store_ops *ops;
	int schema_version;         /* set by the backend's open */
	bool in_tx;                 /* owned by store.c */
};

/* SQLite: `path` is the part after "sqlite:" (":memory:" for a private
 * in-memory database, for tests and dry runs). */
struct store *store_sqlite_open(const char *path, struct err *err);

/* The SQLite schema scripts, exposed so tests can build a file as an older
 * mailshift left it: script i upgrades user_version i to i + 1, and
 * store_sqlite_migration_count == STORE_SCHEMA_VERSION. */
extern const char *const store_sqlite_migrations[];
extern const size_t store_sqlite_migration_count;
/* PRAGMA application_id of a mailshift state file ("MSst"). */
#define STORE_SQLITE_APPLICATION_ID 0x4d537374

#endif
