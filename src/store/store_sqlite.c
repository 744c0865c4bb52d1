/* store_sqlite.c — the SQLite state store backend ("sqlite:PATH").
 *
 * One file, WAL journal, one connection per `struct store` (the contract
 * gives each thread its own handle, so connections are opened NOMUTEX and
 * SQLite's own file locking serialises writers; a writer waits up to 30 s
 * for another before giving up with a retryable error).
 *
 * The file: created by us with mode 0600 before SQLite opens it (SQLite
 * would create it with 0644 less the umask, and its -wal and -shm files
 * copy the database file's mode). It lists accounts and folder names (and,
 * from schema 4, relay recipients and Message-IDs), so
 * an existing file open to group or others gets a warning, and -wal/-shm
 * files open to them are narrowed to 0600. The folder it lives in must
 * exist: creating /var/lib/mailshift is the package's or the
 * administrator's job, and a typo should not silently create a tree.
 *
 * Schema: PRAGMA user_version is the schema version and PRAGMA
 * application_id marks the file as ours, so pointing `state` at another
 * program's database is refused instead of adding our tables to it.
 * store_sqlite_migrations[i] takes version i to i + 1; an older file is
 * upgraded in one BEGIN IMMEDIATE transaction (re-reading the version
 * inside it, so two workers opening a fresh file at once migrate it once),
 * a newer one is refused.
 *
 * Values: UIDs are stored as integers and checked on the way back (a value
 * outside uint32 means a damaged or hand-edited file). MODSEQs are uint64
 * in the API and int64 in SQLite: we store the same 64 bits (values above
 * INT64_MAX come back as negative integers in SQL and exactly as they were
 * through this API). RFC 7162 limits mod-sequences to 63 bits, and no
 * query here compares modseqs in SQL, so nothing is clamped.
 *
 * Relay records (schema 4): relay_events is append-only, one row per
 * event, read back by trace id or Message-ID and pruned by age;
 * relay_counters is one row per (dest, name), bumped by a single UPSERT
 * so the relay and a concurrent reader or writer never lose an update.
 *
 * Errors name the state file and carry sqlite3_errmsg(), which for our
 * statements (all fixed text with bound parameters) never contains a value.
 *
 * SECURITY: no column holds a password; the path is the only thing from
 * the configuration that reaches messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "store/store_backend.h"

/* --- schema ------------------------------------------------------------- */

static const char schema_v1[] =
	"CREATE TABLE folders ("
	" id INTEGER PRIMARY KEY,"
	" account TEXT NOT NULL,"
	" direction TEXT NOT NULL,"
	" src_name TEXT NOT NULL,"
	" dst_name TEXT NOT NULL,"
	" src_uidvalidity INTEGER NOT NULL DEFAULT 0,"
	" dst_uidvalidity INTEGER NOT NULL DEFAULT 0,"
	" src_uidnext INTEGER NOT NULL DEFAULT 0,"
	" dst_uidnext INTEGER NOT NULL DEFAULT 0,"
	" src_modseq INTEGER NOT NULL DEFAULT 0,"
	" dst_modseq INTEGER NOT NULL DEFAULT 0,"
	" updated_at INTEGER NOT NULL DEFAULT 0,"       /* unix seconds */
	" UNIQUE (account, direction, src_name));"
	"CREATE TABLE messages ("
	" folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,"
	" src_uid INTEGER NOT NULL,"
	" dst_uid INTEGER NOT NULL,"
	" src_flags TEXT NOT NULL DEFAULT '',"
	" dst_flags TEXT NOT NULL DEFAULT '',"
	" PRIMARY KEY (folder_id, src_uid)) WITHOUT ROWID;"
	"CREATE INDEX messages_by_dst ON messages (folder_id, dst_uid);";

/* Version 2: copies in flight (see store_msg.pending_key). */
static const char schema_v2[] =
	"ALTER TABLE messages ADD COLUMN pending_key TEXT;";

/* Version 3: flag updates in flight (see store_msg.flags_base). */
static const char schema_v3[] =
	"ALTER TABLE messages ADD COLUMN flags_base TEXT;";

/* Version 4: the relay's per-message events and per-destination counters
 * (see store.h). id orders events of the same millisecond as inserted;
 * without AUTOINCREMENT a pruned tail's ids may be given again, but only
 * above every id still present, so that order holds. Most events carry
 * no Message-ID (only "received" needs it), hence the partial index; the
 * time index keeps the prune from scanning the whole table while it
 * holds the write lock the sync also wants. */
static const char schema_v4[] =
	"CREATE TABLE relay_events ("
	" id INTEGER PRIMARY KEY,"
	" time_ms INTEGER NOT NULL,"                    /* unix milliseconds */
	" trace_id TEXT NOT NULL,"
	" message_id TEXT,"
	" event TEXT NOT NULL,"
	" dest TEXT,"
	" rcpt TEXT,"
	" detail TEXT);"
	"CREATE INDEX relay_events_by_trace ON relay_events (trace_id);"
	"CREATE INDEX relay_events_by_message_id ON relay_events (message_id)"
	" WHERE message_id IS NOT NULL;"
	"CREATE INDEX relay_events_by_time ON relay_events (time_ms);"
	"CREATE TABLE relay_counters ("
	" dest TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" value INTEGER NOT NULL,"
	" PRIMARY KEY (dest, name)) WITHOUT ROWID;";

const char *const store_sqlite_migrations[] = {
	schema_v1,
	schema_v2,
	schema_v3,
	schema_v4,
};
const size_t store_sqlite_migration_count =
	sizeof store_sqlite_migrations / sizeof store_sqlite_migrations[0];

_Static_assert(sizeof store_sqlite_migrations / sizeof store_sqlite_migrations[0] ==
	       STORE_SCHEMA_VERSION, "one migration script per schema version");

/* --- statements, prepared once per handle -------------------------------- */

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_FOLDER_GET,
	ST_FOLDER_LIST,
	ST_FOLDER_INSERT,
	ST_FOLDER_UPDATE,
	ST_FOLDER_DELETE,
	ST_MSGS_LOAD,
	ST_MSG_PUT,
	ST_MSG_DELETE,
	ST_MSGS_CLEAR,
	ST_RELAY_EVENT_ADD,
	ST_RELAY_EVENTS_FIND,
	ST_RELAY_EVENTS_PRUNE,
	ST_RELAY_COUNTER_ADD,
	ST_RELAY_COUNTERS,
	ST_COUNT
};

#define FOLDER_COLS "id, account, direction, src_name, dst_name, src_uidvalidity, " \
	"dst_uidvalidity, src_uidnext, dst_uidnext, src_modseq, dst_modseq"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_FOLDER_GET] = "SELECT " FOLDER_COLS " FROM folders"
		" WHERE account = ?1 AND direction = ?2 AND src_name = ?3",
	/* BINARY collation: UTF-8 byte order, i.e. code point order, the
	 * same on every machine; the UNIQUE index serves it. */
	[ST_FOLDER_LIST] = "SELECT " FOLDER_COLS " FROM folders"
		" WHERE account = ?1 AND direction = ?2 ORDER BY src_name",
	[ST_FOLDER_INSERT] = "INSERT INTO folders (account, direction, src_name, dst_name,"
		" src_uidvalidity, dst_uidvalidity, src_uidnext, dst_uidnext, src_modseq,"
		" dst_modseq, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[ST_FOLDER_UPDATE] = "UPDATE folders SET account = ?1, direction = ?2, src_name = ?3,"
		" dst_name = ?4, src_uidvalidity = ?5, dst_uidvalidity = ?6, src_uidnext = ?7,"
		" dst_uidnext = ?8, src_modseq = ?9, dst_modseq = ?10, updated_at = ?11"
		" WHERE id = ?12",
	[ST_FOLDER_DELETE] = "DELETE FROM folders WHERE id = ?1",
	[ST_MSGS_LOAD] = "SELECT src_uid, dst_uid, src_flags, dst_flags, pending_key, flags_base"
		" FROM messages"
		" WHERE folder_id = ?1 ORDER BY src_uid",
	[ST_MSG_PUT] = "INSERT OR REPLACE INTO messages (folder_id, src_uid, dst_uid,"
		" src_flags, dst_flags, pending_key, flags_base) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_MSG_DELETE] = "DELETE FROM messages WHERE folder_id = ?1 AND src_uid = ?2",
	[ST_MSGS_CLEAR] = "DELETE FROM messages WHERE folder_id = ?1",
	[ST_RELAY_EVENT_ADD] = "INSERT INTO relay_events (time_ms, trace_id, message_id,"
		" event, dest, rcpt, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	/* The inner query finds the messages (by either index), the outer
	 * one all their events: later events usually carry no Message-ID. */
	[ST_RELAY_EVENTS_FIND] = "SELECT time_ms, trace_id, message_id, event, dest, rcpt,"
		" detail FROM relay_events WHERE trace_id IN"
		" (SELECT trace_id FROM relay_events"
		"  WHERE trace_id = ?1 OR message_id = ?1 OR message_id = ?2)"
		" ORDER BY time_ms, id",
	[ST_RELAY_EVENTS_PRUNE] = "DELETE FROM relay_events WHERE time_ms < ?1",
	[ST_RELAY_COUNTER_ADD] = "INSERT INTO relay_counters (dest, name, value)"
		" VALUES (?1, ?2, ?3)"
		" ON CONFLICT (dest, name) DO UPDATE SET value = value + excluded.value",
	/* BINARY collation, primary key order: no sort. */
	[ST_RELAY_COUNTERS] = "SELECT dest, name, value FROM relay_counters"
		" ORDER BY dest, name",
};

struct sqlite_store {
	struct store base;          /* first: store.c hands us &base */
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[ST_COUNT];
};

static struct sqlite_store *sq(struct store *s)
{
	return (struct sqlite_store *)s;
}

/* --- errors -------------------------------------------------------------- */

static const char *hint_for(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return "another mailshift process kept it locked for more than 30 s; "
		       "retry later";
	case SQLITE_FULL:
		return "the disk is full: free some space";
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return "mailshift cannot write it: check the owner and mode of the file, "
		       "its -wal and -shm files and its folder";
	case SQLITE_CANTOPEN:
		return "check that the file and its folder exist and that mailshift may "
		       "write both";
	case SQLITE_CORRUPT:
		return "the file is damaged: restore it from a backup, or move it away to "
		       "start afresh (every folder will then be compared again)";
	case SQLITE_IOERR:
		return "the file system reported an error: check the disk and the "
		       "system log";
	case SQLITE_NOMEM:
		return "out of memory";
	default:
		return NULL;
	}
}

static bool fail_rc(const char *path, sqlite3 *db, int rc, const char *what,
		    struct err *err)
{
	int prim = rc & 0xff;
	const char *hint = hint_for(rc);
	const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

	err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_IO,
		prim == SQLITE_BUSY || prim == SQLITE_LOCKED,
		"state file %s: %s: %s%s%s", path, what, msg,
		hint != NULL ? "; " : "", hint != NULL ? hint : "");
	return false;
}

static bool fail(struct sqlite_store *q, int rc, const char *what, struct err *err)
{
	return fail_rc(q->path, q->db, rc, what, err);
}

/* --- statement helpers --------------------------------------------------- */

static sqlite3_stmt *stmt_get(struct sqlite_store *q, enum stmt_id id, struct err *err)
{
	int rc;

	if (q->stmt[id] != NULL)
		return q->stmt[id];
	rc = sqlite3_prepare_v3(q->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
				&q->stmt[id], NULL);
	if (rc != SQLITE_OK) {
		fail(q, rc, "cannot prepare a statement", err);
		sqlite3_finalize(q->stmt[id]);
		q->stmt[id] = NULL;
		return NULL;
	}
	return q->stmt[id];
}

/* Text bound SQLITE_STATIC: every caller resets the statement before the
 * strings it bound can go away. */
static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s != NULL ? s : "", -1, SQLITE_STATIC);
}

/* Steps a statement that returns no rows, then resets it. */
static bool run(struct sqlite_store *q, sqlite3_stmt *st, const char *what, struct err *err)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE) {
		fail(q, rc, what, err);
		sqlite3_reset(st);
		return false;
	}
	sqlite3_reset(st);
	return true;
}

static bool col_uid(sqlite3_stmt *st, int i, uint32_t *out)
{
	sqlite3_int64 v = sqlite3_column_int64(st, i);

	if (v < 0 || v > (sqlite3_int64)UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static char *col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);

	if (t == NULL)
		return xstrdup("");
	return xstrndup((const char *)t, (size_t)n);
}

/* NULL stays NULL (optional fields). */
static char *col_str_or_null(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : col_str(st, i);
}

/* NULL is bound as SQL NULL, not "" (unlike bind_text). */
static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static bool damaged(struct sqlite_store *q, const char *what, struct err *err)
{
	err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_IO, false,
		"state file %s: %s out of range; the file is damaged or was edited by hand: "
		"restore it from a backup, or move it away to start afresh",
		q->path, what);
	return false;
}

/* --- opening ------------------------------------------------------------- */

/* The folder must exist; the file is created 0600 if it does not. */
static bool prepare_file(const char *path, struct err *err)
{
	struct stat st;
	char *copy = xstrdup(path);
	const char *dir = dirname(copy);
	int fd;

	if (stat(dir, &st) != 0) {
		if (errno == ENOENT)
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_IO, false,
				"state file %s: the folder %s does not exist: create the "
				"folder %s or change [migration] state", path, dir, dir);
		else
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_IO, false,
				"state file %s: cannot reach the folder %s: %s: check its "
				"permissions or change [migration] state", path, dir,
				strerror(errno));
		free(copy);
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_IO, false,
			"state file %s: %s is not a folder: change [migration] state",
			path, dir);
		free(copy);
		return false;
	}

	if (stat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_IO, false,
				"state file %s is not a regular file: point [migration] "
				"state at a file", path);
			free(copy);
			return false;
		}
		if ((st.st_mode & 077) != 0)
			log_warn("state file %s is open to other users (mode %04o); it lists "
				 "accounts and folders: run chmod 600 %s",
				 path, (unsigned)(st.st_mode & 07777), path);
		free(copy);
		return true;
	}
	if (errno != ENOENT) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_IO, false,
			"state file %s: cannot check it: %s: check the permissions of %s",
			path, strerror(errno), dir);
		free(copy);
		return false;
	}

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		/* Another worker's handle created it a moment ago: fine. */
		if (errno == EEXIST) {
			free(copy);
			return true;
		}
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_IO, false,
			"state file %s: cannot create it: %s: check that mailshift may "
			"write in %s", path, strerror(errno), dir);
		free(copy);
		return false;
	}
	/* The umask may have taken bits away; 0600 is what we promise. */
	if (fchmod(fd, 0600) != 0)
		log_warn("state file %s: cannot set mode 0600: %s", path, strerror(errno));
	close(fd);
	free(copy);
	return true;
}

/* -wal and -shm inherit the database file's mode when SQLite creates them;
 * this narrows ones left wider by an earlier run or an earlier mode. */
static void tighten_sidecars(const char *path)
{
	static const char *const suffixes[] = { "-wal", "-shm" };
	struct stat st;

	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		char *p = xasprintf("%s%s", path, suffixes[i]);

		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0 &&
		    chmod(p, 0600) != 0)
			log_warn("state file %s is open to other users and chmod 600 failed: "
				 "%s", p, strerror(errno));
		free(p);
	}
}

struct identity {
	sqlite3_int64 application_id;
	sqlite3_int64 user_version;
	sqlite3_int64 objects;          /* tables, indexes, ... in the file */
};

/* One statement, so the three values come from one snapshot. */
static bool read_identity(struct sqlite_store *q, struct identity *id, struct err *err)
{
	static const char sql[] =
		"SELECT (SELECT application_id FROM pragma_application_id),"
		" (SELECT user_version FROM pragma_user_version),"
		" (SELECT count(*) FROM sqlite_master)";
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			id->application_id = sqlite3_column_int64(st, 0);
			id->user_version = sqlite3_column_int64(st, 1);
			id->objects = sqlite3_column_int64(st, 2);
			rc = SQLITE_OK;
		}
	}
	if (rc != SQLITE_OK) {
		if ((rc & 0xff) == SQLITE_NOTADB)
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_IO, false,
				"state file %s is not an SQLite database (%s): point "
				"[migration] state at a new file, or move this one away",
				q->path, sqlite3_errmsg(q->db));
		else
			fail(q, rc, "cannot read the schema version", err);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK;
}

/* Ours, a fresh (empty) file, or refused. */
static bool check_identity(struct sqlite_store *q, const struct identity *id,
			   struct err *err)
{
	bool fresh = id->application_id == 0 && id->user_version == 0 && id->objects == 0;

	if (!fresh && id->application_id != STORE_SQLITE_APPLICATION_ID) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_IO, false,
			"state file %s is an SQLite database but not a mailshift state file "
			"(another program's data?): point [migration] state at a new file",
			q->path);
		return false;
	}
	if (id->user_version > STORE_SCHEMA_VERSION) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_IO, false,
			"state file %s was written by a newer mailshift (schema %lld, this one "
			"knows %d): upgrade mailshift", q->path,
			(long long)id->user_version, STORE_SCHEMA_VERSION);
		return false;
	}
	if (id->user_version < 0) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_IO, false,
			"state file %s has schema version %lld, which no mailshift writes: "
			"restore it from a backup, or move it away to start afresh",
			q->path, (long long)id->user_version);
		return false;
	}
	return true;
}

static bool exec(struct sqlite_store *q, const char *sql, const char *what, struct err *err)
{
	int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK || fail(q, rc, what, err);
}

/* Brings the file to STORE_SCHEMA_VERSION in one transaction. */
static bool migrate(struct sqlite_store *q, struct err *err)
{
	struct identity id;
	char pragma[96];

	if (!exec(q, "BEGIN IMMEDIATE", "cannot start the schema upgrade", err))
		return false;
	/* Another handle may have upgraded it since we looked. */
	if (!read_identity(q, &id, err) || !check_identity(q, &id, err))
		goto fail;
	for (sqlite3_int64 v = id.user_version; v < STORE_SCHEMA_VERSION; v++) {
		char what[64];

		snprintf(what, sizeof what, "cannot upgrade the schema to version %lld",
			 (long long)v + 1);
		if (!exec(q, store_sqlite_migrations[v], what, err))
			goto fail;
	}
	snprintf(pragma, sizeof pragma, "PRAGMA application_id = %d; PRAGMA user_version = %d",
		 STORE_SQLITE_APPLICATION_ID, STORE_SCHEMA_VERSION);
	if (!exec(q, pragma, "cannot record the schema version", err))
		goto fail;
	if (!exec(q, "COMMIT", "cannot commit the schema upgrade", err))
		goto fail;
	if (id.user_version != STORE_SCHEMA_VERSION)
		log_info("state file %s: schema upgraded from version %lld to %d", q->path,
			 (long long)id.user_version, STORE_SCHEMA_VERSION);
	return true;
fail:
	if (!sqlite3_get_autocommit(q->db))
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return false;
}

static bool configure(struct sqlite_store *q, bool memory, struct err *err)
{
	struct identity id;
	sqlite3_stmt *st = NULL;
	int rc;

	sqlite3_extended_result_codes(q->db, 1);
	rc = sqlite3_busy_timeout(q->db, 30000);
	if (rc != SQLITE_OK)
		return fail(q, rc, "cannot set the busy timeout", err);
	/* Look before changing anything: a foreign or newer file is left as
	 * it was. */
	if (!read_identity(q, &id, err) || !check_identity(q, &id, err))
		return false;

	if (!memory) {
		/* Switching to WAL needs the file to itself for a moment, and
		 * SQLite may answer BUSY at once instead of calling the busy
		 * handler (seen with several workers opening a new file
		 * together): retry for as long as the busy timeout. */
		for (int tries = 0;; tries++) {
			rc = sqlite3_prepare_v2(q->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
			if (rc == SQLITE_OK)
				rc = sqlite3_step(st);
			if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
				break;
			sqlite3_finalize(st);
			st = NULL;
			if (tries >= 3000)
				break;
			sqlite3_sleep(10);
		}
		if (rc == SQLITE_ROW) {
			const char *mode = (const char *)sqlite3_column_text(st, 0);

			/* E.g. a file system without shared memory: it still
			 * works, with readers and writers blocking each other. */
			if (mode == NULL || strcmp(mode, "wal") != 0)
				log_warn("state file %s: cannot use WAL mode (got %s); parallel "
					 "accounts will wait for each other", q->path,
					 mode != NULL ? mode : "nothing");
			rc = SQLITE_OK;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_OK)
			return fail(q, rc, "cannot switch to WAL mode", err);
	}
	if (!exec(q, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
		  "cannot configure the connection", err))
		return false;
	if (id.user_version < STORE_SCHEMA_VERSION && !migrate(q, err))
		return false;
	q->base.schema_version = STORE_SCHEMA_VERSION;
	return true;
}

static const struct store_ops sqlite_ops;

static void sqlite_close(struct store *s)
{
	struct sqlite_store *q = sq(s);
	int rc;

	if (q->db != NULL && !sqlite3_get_autocommit(q->db))
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(q->stmt[i]);
	rc = sqlite3_close(q->db);
	if (rc != SQLITE_OK)
		log_warn("state file %s: closing it failed: %s", q->path, sqlite3_errstr(rc));
	free(q->path);
	free(q);
}

struct store *store_sqlite_open(const char *path, struct err *err)
{
	bool memory = strcmp(path, ":memory:") == 0;
	struct sqlite_store *q;
	sqlite3 *db = NULL;
	int rc;

	/* NOMUTEX needs a library built thread-safe (Debian's is); one built
	 * with SQLITE_THREADSAFE=0 would corrupt memory with parallel accounts. */
	if (!sqlite3_threadsafe()) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_INTERNAL, false,
			"state file %s: this SQLite library was built without thread "
			"support; install a standard libsqlite3", path);
		return NULL;
	}
	if (!memory && !prepare_file(path, err))
		return NULL;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			     SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		fail_rc(path, db, rc, "cannot open it", err);
		sqlite3_close(db);
		return NULL;
	}
	q = xcalloc(1, sizeof *q);
	q->base.ops = &sqlite_ops;
	q->db = db;
	q->path = xstrdup(path);
	if (!configure(q, memory, err)) {
		sqlite_close(&q->base);
		return NULL;
	}
	if (!memory)
		tighten_sidecars(path);
	return &q->base;
}

/* --- transactions -------------------------------------------------------- */

static bool sqlite_begin(struct store *s, struct err *err)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = stmt_get(q, ST_BEGIN, err);

	return st != NULL && run(q, st, "cannot begin a transaction", err);
}

static bool sqlite_commit(struct store *s, struct err *err)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = stmt_get(q, ST_COMMIT, err);

	if (st != NULL && run(q, st, "cannot commit", err))
		return true;
	/* store_backend.h: a failed commit leaves no transaction open. */
	if (!sqlite3_get_autocommit(q->db))
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return false;
}

static void sqlite_rollback(struct store *s)
{
	struct sqlite_store *q = sq(s);
	struct err err;
	sqlite3_stmt *st;

	/* SQLite ends a transaction itself after some errors (disk full). */
	if (sqlite3_get_autocommit(q->db))
		return;
	err_clear(&err);
	st = stmt_get(q, ST_ROLLBACK, &err);
	if (st == NULL || !run(q, st, "cannot roll back", &err))
		log_warn("%s", err.msg);
}

/* --- folders ------------------------------------------------------------- */

static bool read_folder(struct sqlite_store *q, sqlite3_stmt *st, struct store_folder *f,
			struct err *err)
{
	struct store_folder t = { 0 };

	t.id = sqlite3_column_int64(st, 0);
	if (!col_uid(st, 5, &t.src_uidvalidity) || !col_uid(st, 6, &t.dst_uidvalidity) ||
	    !col_uid(st, 7, &t.src_uidnext) || !col_uid(st, 8, &t.dst_uidnext))
		return damaged(q, "a folder's UIDVALIDITY or UIDNEXT is", err);
	t.src_modseq = (uint64_t)sqlite3_column_int64(st, 9);
	t.dst_modseq = (uint64_t)sqlite3_column_int64(st, 10);
	t.account = col_str(st, 1);
	t.direction = col_str(st, 2);
	t.src_name = col_str(st, 3);
	t.dst_name = col_str(st, 4);
	*f = t;
	return true;
}

static bool sqlite_folder_get(struct store *s, const char *account, const char *direction,
			      const char *src_name, struct store_folder *out, bool *found_r,
			      struct err *err)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = stmt_get(q, ST_FOLDER_GET, err);
	bool ok = true;
	int rc;

	if (st == NULL)
		return false;
	bind_text(st, 1, account);
	bind_text(st, 2, direction);
	bind_text(st, 3, src_name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		ok = read_folder(q, st, out, err);
		*found_r = ok;
	} else if (rc != SQLITE_DONE) {
		ok = fail(q, rc, "cannot read a folder pair", err);
	}
	sqlite3_reset(st);
	return ok;
}

static bool sqlite_folder_list(struct store *s, const char *account, const char *direction,
			       struct store_folder **out, size_t *count_r, struct err *err)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = stmt_get(q, ST_FOLDER_LIST, err);
	struct store_folder *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (st == NULL)
		return false;
	bind_text(st, 1, account);
	bind_text(st, 2, direction);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof *v);
		}
		if (!read_folder(q, st, &v[n], err))
			goto fail;
		n++;
	}
	if (rc != SQLITE_DONE) {
		fail(q, rc, "cannot list folder pairs", err);
		goto fail;
	}
	sqlite3_reset(st);
	*out = v;
	*count_r = n;
	return true;
fail:
	sqlite3_reset(st);
	store_folder_list_free(v, n);
	return false;
}

static void bind_folder(sqlite3_stmt *st, const struct store_folder *f)
{
	bind_text(st, 1, f->account);
	bind_text(st, 2, f->direction);
	bind_text(st, 3, f->src_name);
	bind_text(st, 4, f->dst_name);
	sqlite3_bind_int64(st, 5, f->src_uidvalidity);
	sqlite3_bind_int64(st, 6, f->dst_uidvalidity);
	sqlite3_bind_int64(st, 7, f->src_uidnext);
	sqlite3_bind_int64(st, 8, f->dst_uidnext);
	/* Same 64 bits; see the comment at the top. */
	sqlite3_bind_int64(st, 9, (sqlite3_int64)f->src_modseq);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)f->dst_modseq);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)time(NULL));
}

static bool sqlite_folder_put(struct store *s, struct store_folder *f, struct err *err)
{
	struct sqlite_store *q = sq(s);
	bool insert = f->id == 0;
	sqlite3_stmt *st = stmt_get(q, insert ? ST_FOLDER_INSERT : ST_FOLDER_UPDATE, err);
	int rc;

	if (st == NULL)
		return false;
	bind_folder(st, f);
	if (!insert)
		sqlite3_bind_int64(st, 12, f->id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		if (rc == SQLITE_CONSTRAINT_UNIQUE)
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_INTERNAL, false,
				"state file %s: account %s, %s, folder %s is already recorded "
				"under another id (a bug in mailshift)", q->path, f->account,
				f->direction, f->src_name);
		else
			fail(q, rc, "cannot save a folder pair", err);
		sqlite3_reset(st);
		return false;
	}
	sqlite3_reset(st);
	if (insert) {
		f->id = sqlite3_last_insert_rowid(q->db);
	} else if (sqlite3_changes(q->db) == 0) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_INTERNAL, false,
			"state file %s: no folder pair with id %lld to update (deleted "
			"meanwhile?)", q->path, (long long)f->id);
		return false;
	}
	return true;
}

/* Deleting an id that is not there is not an error: the goal is reached. */
static bool sqlite_folder_delete(struct store *s, int64_t folder_id, struct err *err)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = stmt_get(q, ST_FOLDER_DELETE, err);

	if (st == NULL)
		return false;
	sqlite3_bind_int64(st, 1, folder_id);
	return run(q, st, "cannot delete a folder pair", err);
}

/* --- messages ------------------------------------------------------------ */

/* One indexed range scan (the primary key is (folder_id, src_uid), so rows
 * come out in order without a sort) and a doubling array: 100k rows is a
 * few tens of milliseconds. */
static bool sqlite_msgs_load(struct store *s, int64_t folder_id, struct store_msg **out,
			     size_t *count_r, struct err *err)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = stmt_get(q, ST_MSGS_LOAD, err);
	struct store_msg *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (st == NULL)
		return false;
	sqlite3_bind_int64(st, 1, folder_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_msg *m;

		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 256;
			v = xreallocarray(v, cap, sizeof *v);
		}
		m = &v[n];
		if (!col_uid(st, 0, &m->src_uid) || !col_uid(st, 1, &m->dst_uid)) {
			damaged(q, "a message UID is", err);
			goto fail;
		}
		m->src_flags = col_str(st, 2);
		m->dst_flags = col_str(st, 3);
		m->pending_key = sqlite3_column_type(st, 4) == SQLITE_NULL ? NULL : col_str(st, 4);
		m->flags_base = sqlite3_column_type(st, 5) == SQLITE_NULL ? NULL : col_str(st, 5);
		n++;
	}
	if (rc != SQLITE_DONE) {
		fail(q, rc, "cannot load the messages of a folder pair", err);
		goto fail;
	}
	sqlite3_reset(st);
	*out = v;
	*count_r = n;
	return true;
fail:
	sqlite3_reset(st);
	store_msgs_free(v, n);
	return false;
}

static bool sqlite_msg_put(struct store *s, int64_t folder_id, const struct store_msg *m,
			   struct err *err)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = stmt_get(q, ST_MSG_PUT, err);
	int rc;

	if (st == NULL)
		return false;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, m->src_uid);
	sqlite3_bind_int64(st, 3, m->dst_uid);
	bind_text(st, 4, m->src_flags);     /* NULL is stored as "" */
	bind_text(st, 5, m->dst_flags);
	if (m->pending_key != NULL)
		sqlite3_bind_text(st, 6, m->pending_key, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	if (m->flags_base != NULL)
		sqlite3_bind_text(st, 7, m->flags_base, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_INTERNAL, false,
				"state file %s: no folder pair with id %lld to record a "
				"message in (a bug in mailshift)", q->path, (long long)folder_id);
		else
			fail(q, rc, "cannot save a message", err);
		sqlite3_reset(st);
		return false;
	}
	sqlite3_reset(st);
	return true;
}

static bool sqlite_msg_delete(struct store *s, int64_t folder_id, uint32_t src_uid,
			      struct err *err)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = stmt_get(q, ST_MSG_DELETE, err);

	if (st == NULL)
		return false;
	sqlite3_bind_int64(st, 1, folder_id);
	sqlite3_bind_int64(st, 2, src_uid);
	return run(q, st, "cannot delete a message", err);
}

static bool sqlite_msgs_clear(struct store *s, int64_t folder_id, struct err *err)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = stmt_get(q, ST_MSGS_CLEAR, err);

	if (st == NULL)
		return false;
	sqlite3_bind_int64(st, 1, folder_id);
	return run(q, st, "cannot forget the messages of a folder pair", err);
}

/* --- relay --------------------------------------------------------------- */

static bool sqlite_relay_event_add(struct store *s, const struct store_relay_event *e,
				   struct err *err)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = stmt_get(q, ST_RELAY_EVENT_ADD, err);

	if (st == NULL)
		return false;
	sqlite3_bind_int64(st, 1, e->time_ms);
	bind_text(st, 2, e->trace_id);
	bind_text_or_null(st, 3, e->message_id);
	bind_text(st, 4, e->event);
	bind_text_or_null(st, 5, e->dest);
	bind_text_or_null(st, 6, e->rcpt);
	bind_text_or_null(st, 7, e->detail);
	return run(q, st, "cannot record a relay event", err);
}

static bool sqlite_relay_events_find(struct store *s, const char *bare, const char *angled,
				     struct store_relay_event **out, size_t *count_r,
				     struct err *err)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = stmt_get(q, ST_RELAY_EVENTS_FIND, err);
	struct store_relay_event *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (st == NULL)
		return false;
	bind_text(st, 1, bare);
	bind_text(st, 2, angled);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_relay_event *e;

		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof *v);
		}
		e = &v[n++];
		e->time_ms = sqlite3_column_int64(st, 0);
		e->trace_id = col_str(st, 1);
		e->message_id = col_str_or_null(st, 2);
		e->event = col_str(st, 3);
		e->dest = col_str_or_null(st, 4);
		e->rcpt = col_str_or_null(st, 5);
		e->detail = col_str_or_null(st, 6);
	}
	if (rc != SQLITE_DONE) {
		fail(q, rc, "cannot read the relay's events", err);
		sqlite3_reset(st);
		store_relay_events_free(v, n);
		return false;
	}
	sqlite3_reset(st);
	*out = v;
	*count_r = n;
	return true;
}

static bool sqlite_relay_events_prune(struct store *s, int64_t cutoff_ms, size_t *removed_r,
				      struct err *err)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = stmt_get(q, ST_RELAY_EVENTS_PRUNE, err);

	if (st == NULL)
		return false;
	sqlite3_bind_int64(st, 1, cutoff_ms);
	if (!run(q, st, "cannot remove old relay events", err))
		return false;
	*removed_r = (size_t)sqlite3_changes64(q->db);
	return true;
}

static bool sqlite_relay_counter_add(struct store *s, const char *dest, const char *name,
				     int64_t delta, struct err *err)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = stmt_get(q, ST_RELAY_COUNTER_ADD, err);

	if (st == NULL)
		return false;
	bind_text(st, 1, dest);
	bind_text(st, 2, name);
	sqlite3_bind_int64(st, 3, delta);
	return run(q, st, "cannot update a relay counter", err);
}

static bool sqlite_relay_counters(struct store *s, struct store_relay_counter **out,
				  size_t *count_r, struct err *err)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = stmt_get(q, ST_RELAY_COUNTERS, err);
	struct store_relay_counter *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (st == NULL)
		return false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_relay_counter *c;

		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof *v);
		}
		c = &v[n++];
		c->dest = col_str(st, 0);
		c->name = col_str(st, 1);
		c->value = sqlite3_column_int64(st, 2);
	}
	if (rc != SQLITE_DONE) {
		fail(q, rc, "cannot read the relay's counters", err);
		sqlite3_reset(st);
		store_relay_counters_free(v, n);
		return false;
	}
	sqlite3_reset(st);
	*out = v;
	*count_r = n;
	return true;
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sqlite_close,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.folder_get = sqlite_folder_get,
	.folder_list = sqlite_folder_list,
	.folder_put = sqlite_folder_put,
	.folder_delete = sqlite_folder_delete,
	.msgs_load = sqlite_msgs_load,
	.msg_put = sqlite_msg_put,
	.msg_delete = sqlite_msg_delete,
	.msgs_clear = sqlite_msgs_clear,
	.relay_event_add = sqlite_relay_event_add,
	.relay_events_find = sqlite_relay_events_find,
	.relay_events_prune = sqlite_relay_events_prune,
	.relay_counter_add = sqlite_relay_counter_add,
	.relay_counters = sqlite_relay_counters,
};
