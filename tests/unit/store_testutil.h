/* store_testutil.h — what the state-store suites (test_store, test_store_relay)
 * share: opening a store that must open, CHECK() for calls taking an err,
 * raw SQL on a state file behind the store's back, and a file as an older
 * mailshift left it. Header-only (static inline), after <cmocka.h>. */
#ifndef MS_STORE_TESTUTIL_H
#define MS_STORE_TESTUTIL_H

#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>

#include "core/err.h"
#include "store/store.h"
#include "store/store_backend.h"

static inline struct store *open_ok(const char *spec)
{
	struct err err;
	struct store *s;

	err_clear(&err);
	s = store_open(spec, &err);
	if (s == NULL) {
		print_message("store_open(%s): %s\n", spec, err.msg);
		fail();
	}
	return s;
}

#define CHECK(call) do { \
		struct err e_; \
		err_clear(&e_); \
		if (!(call)) { \
			print_message("%s: %s\n", #call, e_.msg); \
			fail(); \
		} \
	} while (0)
/* Within CHECK, `E` is the err to pass. */
#define E (&e_)

static inline void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
					 NULL), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		print_message("raw_exec: %s\n", msg);
		sqlite3_free(msg);
		sqlite3_close(db);
		fail();
	}
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static inline long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	return v;
}

/* A state file as mailshift at schema `version` left it (0: a file that
 * exists but was never opened by mailshift). */
static inline void make_file_at_version(const char *path, int version)
{
	sqlite3 *db = NULL;
	char sql[128];

	assert_true(version >= 0 && (size_t)version <= store_sqlite_migration_count);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
					 NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	for (int v = 0; v < version; v++)
		assert_int_equal(sqlite3_exec(db, store_sqlite_migrations[v], NULL, NULL, NULL),
				 SQLITE_OK);
	if (version > 0) {
		snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d",
			 STORE_SQLITE_APPLICATION_ID, version);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	assert_int_equal(chmod(path, 0600), 0);
}

#endif
