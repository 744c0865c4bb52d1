/* test_store.c — the sync state store (store.h) on its SQLite backend.
 *
 * Every test works in a fresh mkdtemp() folder. Where the store's own API
 * cannot set a file up (a newer schema, another program's database, a
 * damaged row) the test writes it with the sqlite3 API directly.
 * make_file_at_version() builds a file as an older mailshift left it, from
 * the migration scripts themselves, so a schema-upgrade test for version
 * 2 needs only a call and a few rows.
 *
 * test_many_messages prints how long 100,000 puts (one transaction) and
 * one load take.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "unit/testutil.h"
#include "unit/store_testutil.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "store/store.h"
#include "store/store_backend.h"

struct tmp {
	char dir[64];
	char path[128];
	char spec[160];
};

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof *t);

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof t->dir, "/tmp/ms-store-XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(t->path, sizeof t->path, "%s/state.db", t->dir);
	snprintf(t->spec, sizeof t->spec, "sqlite:%s", t->path);
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;

	testutil_rmtree(t->dir);
	free(t);
	return 0;
}

/* stderr capture, for log_warn */
static int saved_stderr = -1;
static FILE *capture_file;

static void capture_start(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	assert_non_null(capture_file);
	saved_stderr = dup(2);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fileno(capture_file), 2) >= 0);
}

static char *capture_end(void)
{
	char *s;
	long n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	n = ftell(capture_file);
	s = calloc(1, (size_t)n + 1);
	rewind(capture_file);
	if (n > 0)
		assert_int_equal(fread(s, 1, (size_t)n, capture_file), (size_t)n);
	fclose(capture_file);
	return s;
}

/* Opening must fail; returns the error for the caller to inspect. */
static struct err open_fails(const char *spec)
{
	struct err err;
	struct store *s;

	err_clear(&err);
	s = store_open(spec, &err);
	if (s != NULL) {
		store_close(&s);
		print_message("store_open(%s) succeeded\n", spec);
		fail();
	}
	assert_true(err_is_set(&err));
	return err;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static struct store_folder folder(const char *account, const char *direction,
				  const char *src, const char *dst)
{
	struct store_folder f = { 0 };

	f.account = (char *)account;
	f.direction = (char *)direction;
	f.src_name = (char *)src;
	f.dst_name = (char *)dst;
	return f;
}

static int64_t add_folder(struct store *s, const char *account, const char *direction,
			  const char *src)
{
	struct store_folder f = folder(account, direction, src, src);

	CHECK(store_folder_put(s, &f, E));
	assert_true(f.id > 0);
	return f.id;
}

static void put_msg(struct store *s, int64_t fid, uint32_t src, uint32_t dst,
		    const char *sf, const char *df)
{
	struct store_msg m = { src, dst, (char *)sf, (char *)df, NULL, NULL };

	CHECK(store_msg_put(s, fid, &m, E));
}

static size_t count_msgs(struct store *s, int64_t fid)
{
	struct store_msg *v;
	size_t n;

	CHECK(store_msgs_load(s, fid, &v, &n, E));
	store_msgs_free(v, n);
	return n;
}

static bool folder_exists(struct store *s, const char *account, const char *direction,
			  const char *src)
{
	struct store_folder f;
	bool found;

	CHECK(store_folder_get(s, account, direction, src, &f, &found, E));
	if (found)
		store_folder_free(&f);
	return found;
}

/* --- opening --------------------------------------------------------------- */

static void test_create_open_reopen(void **state)
{
	struct tmp *t = *state;
	struct store *s;
	mode_t old_umask;
	char side[300];

	/* A permissive umask must not widen the file. */
	old_umask = umask(0);
	s = open_ok(t->spec);
	umask(old_umask);
	assert_int_equal(store_schema_version(s), STORE_SCHEMA_VERSION);
	assert_int_equal(store_schema_version(s), STORE_SCHEMA_VERSION);
	assert_int_equal(mode_of(t->path), 0600);
	add_folder(s, "a@example.jp", "forward", "INBOX");
	/* While open, WAL side files exist and are as private as the file. */
	snprintf(side, sizeof side, "%s-wal", t->path);
	assert_int_equal(mode_of(side), 0600);
	snprintf(side, sizeof side, "%s-shm", t->path);
	assert_int_equal(mode_of(side), 0600);
	store_close(&s);
	assert_null(s);
	store_close(&s);        /* NULL is fine */

	assert_int_equal(raw_int(t->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(raw_int(t->path, "PRAGMA application_id"),
			 STORE_SQLITE_APPLICATION_ID);
	assert_int_equal(raw_int(t->path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"),
			 1);

	s = open_ok(t->spec);
	assert_int_equal(store_schema_version(s), STORE_SCHEMA_VERSION);
	assert_true(folder_exists(s, "a@example.jp", "forward", "INBOX"));
	store_close(&s);
	assert_int_equal(mode_of(t->path), 0600);
}

static void test_relative_and_memory(void **state)
{
	struct tmp *t = *state;
	char cwd[512];
	struct store *s;

	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(t->dir), 0);
	s = open_ok("sqlite:rel.db");
	add_folder(s, "a", "forward", "INBOX");
	store_close(&s);
	assert_int_equal(mode_of("rel.db"), 0600);
	assert_int_equal(chdir(cwd), 0);

	/* Case-insensitive scheme, as config.c accepts it. */
	s = open_ok("SQLite::memory:");
	assert_int_equal(store_schema_version(s), STORE_SCHEMA_VERSION);
	add_folder(s, "a", "forward", "INBOX");
	assert_true(folder_exists(s, "a", "forward", "INBOX"));
	store_close(&s);
}

static void test_wide_mode_warns_and_sidecars_narrowed(void **state)
{
	struct tmp *t = *state;
	struct store *a, *b;
	char wal[300], shm[300], want[400], *out;

	a = open_ok(t->spec);
	add_folder(a, "a", "forward", "INBOX");
	snprintf(wal, sizeof wal, "%s-wal", t->path);
	snprintf(shm, sizeof shm, "%s-shm", t->path);
	assert_int_equal(chmod(t->path, 0644), 0);
	assert_int_equal(chmod(wal, 0644), 0);
	assert_int_equal(chmod(shm, 0640), 0);

	capture_start();
	b = open_ok(t->spec);
	out = capture_end();
	snprintf(want, sizeof want, "state file %s is open to other users (mode 0644)",
		 t->path);
	assert_contains(out, want);
	snprintf(want, sizeof want, "run chmod 600 %s", t->path);
	assert_contains(out, want);
	free(out);
	assert_int_equal(mode_of(wal), 0600);
	assert_int_equal(mode_of(shm), 0600);
	/* The file itself is the administrator's: warned about, not changed. */
	assert_int_equal(mode_of(t->path), 0644);
	store_close(&b);
	store_close(&a);

	/* A private file opens silently. */
	assert_int_equal(chmod(t->path, 0600), 0);
	capture_start();
	b = open_ok(t->spec);
	out = capture_end();
	assert_string_equal(out, "");
	free(out);
	store_close(&b);
}

static void test_newer_schema_refused(void **state)
{
	struct tmp *t = *state;
	struct store *s = open_ok(t->spec);
	struct err err;
	char want[400];

	store_close(&s);
	raw_exec(t->path, "PRAGMA user_version = 99");
	err = open_fails(t->spec);
	snprintf(want, sizeof want, "state file %s was written by a newer mailshift "
		 "(schema 99, this one knows %d): upgrade mailshift", t->path,
		 STORE_SCHEMA_VERSION);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.kind, ERR_KIND_IO);
	assert_int_equal(err.scope, ERR_SCOPE_ACCOUNT);
	/* Refused without touching it. */
	assert_int_equal(raw_int(t->path, "PRAGMA user_version"), 99);
}

static void test_not_sqlite(void **state)
{
	struct tmp *t = *state;
	char text[4096], want[400];
	struct err err;
	int fd;

	for (size_t i = 0; i < sizeof text; i++)
		text[i] = (char)('a' + i % 26);
	fd = open(t->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof text), (ssize_t)sizeof text);
	close(fd);

	err = open_fails(t->spec);
	snprintf(want, sizeof want, "state file %s is not an SQLite database", t->path);
	assert_contains(err.msg, want);
	assert_contains(err.msg, "point [migration] state at a new file");
	assert_int_equal(err.kind, ERR_KIND_IO);

	/* A short text file (a config pasted in the wrong place). */
	fd = open(t->path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[migration]\nstate = x\n", 22), 22);
	close(fd);
	err = open_fails(t->spec);
	assert_contains(err.msg, want);
}

static void test_foreign_database_refused(void **state)
{
	struct tmp *t = *state;
	struct err err;
	char want[400];

	raw_exec(t->path, "CREATE TABLE customers (id INTEGER, name TEXT)");
	assert_int_equal(chmod(t->path, 0600), 0);
	err = open_fails(t->spec);
	snprintf(want, sizeof want, "state file %s is an SQLite database but not a "
		 "mailshift state file", t->path);
	assert_contains(err.msg, want);
	/* Nothing of ours was added. */
	assert_int_equal(raw_int(t->path, "SELECT count(*) FROM sqlite_master"), 1);

	/* Another program's application_id, even without tables. */
	remove(t->path);
	raw_exec(t->path, "PRAGMA application_id = 1234");
	assert_int_equal(chmod(t->path, 0600), 0);
	err = open_fails(t->spec);
	assert_contains(err.msg, want);
}

static void test_missing_parent(void **state)
{
	struct tmp *t = *state;
	char spec[300], want[600];
	struct err err;

	snprintf(spec, sizeof spec, "sqlite:%s/nope/state.db", t->dir);
	err = open_fails(spec);
	snprintf(want, sizeof want, "state file %s/nope/state.db: the folder %s/nope does "
		 "not exist: create the folder %s/nope or change [migration] state",
		 t->dir, t->dir, t->dir);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.kind, ERR_KIND_IO);

	/* The parent is a file. */
	raw_exec(t->path, "PRAGMA user_version = 0");
	snprintf(spec, sizeof spec, "sqlite:%s/sub.db", t->path);
	err = open_fails(spec);
	assert_contains(err.msg, "is not a folder");

	/* The state "file" is a folder. */
	snprintf(spec, sizeof spec, "sqlite:%s", t->dir);
	err = open_fails(spec);
	assert_contains(err.msg, "is not a regular file");
}

static void test_bad_specs(void **state)
{
	struct err err;

	(void)state;
	err = open_fails("postgresql://mailshift:s3cret@db.example.jp/mailshift");
	assert_string_equal(err.msg, "the PostgreSQL state backend is not built yet; use "
			    "sqlite:PATH in [migration] state");
	assert_int_equal(err.kind, ERR_KIND_CONFIG);
	assert_int_equal(err.scope, ERR_SCOPE_RUN);
	err = open_fails("postgres://u:s3cret@h/db");
	assert_contains(err.msg, "PostgreSQL state backend is not built yet");
	err = open_fails("mysql://u:s3cret@h/db");
	assert_contains(err.msg, "unknown kind of state store");
	assert_null(strstr(err.msg, "s3cret"));
	err = open_fails("sqlite:");
	assert_contains(err.msg, "needs a file");
	err = open_fails("");
	assert_contains(err.msg, "set [migration] state");
	err = open_fails(NULL);
	assert_contains(err.msg, "set [migration] state");
}

/* The helper future upgrade tests rely on: a version-0 file (exists, never
 * opened by mailshift) is brought to the current version, and a file at
 * the current version keeps its rows. */
static void test_upgrade_from_older_file(void **state)
{
	struct tmp *t = *state;
	struct store_folder f;
	struct store *s;
	bool found;

	make_file_at_version(t->path, 0);
	assert_int_equal(raw_int(t->path, "PRAGMA user_version"), 0);
	s = open_ok(t->spec);
	assert_int_equal(store_schema_version(s), STORE_SCHEMA_VERSION);
	add_folder(s, "a", "forward", "INBOX");
	store_close(&s);
	assert_int_equal(raw_int(t->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);

	remove(t->path);
	make_file_at_version(t->path, STORE_SCHEMA_VERSION);
	raw_exec(t->path, "INSERT INTO folders (account, direction, src_name, dst_name,"
		 " src_uidvalidity) VALUES ('a', 'forward', 'Sent', 'Sent Items', 42)");
	s = open_ok(t->spec);
	CHECK(store_folder_get(s, "a", "forward", "Sent", &f, &found, E));
	assert_true(found);
	assert_string_equal(f.dst_name, "Sent Items");
	assert_int_equal(f.src_uidvalidity, 42);
	store_folder_free(&f);
	store_close(&s);
}

/* --- folders --------------------------------------------------------------- */

/* A version-1 file with data is upgraded to the current version keeping
 * its rows, and the newer columns (pending_key, flags_base) round-trip
 * (NULL stays NULL). */
static void test_upgrade_v1_keeps_data(void **state)
{
	struct tmp *t = *state;
	struct err err;
	struct store_msg *v = NULL;
	size_t n = 0;

	make_file_at_version(t->path, 1);
	raw_exec(t->path, "INSERT INTO folders (id, account, direction, src_name, dst_name) "
			  "VALUES (1, 'a', 'forward', 'INBOX', 'INBOX');"
			  "INSERT INTO messages (folder_id, src_uid, dst_uid, src_flags, dst_flags) "
			  "VALUES (1, 7, 70, '\\Seen', '\\Seen')");
	err_clear(&err);
	struct store *s = store_open(t->spec, &err);
	assert_non_null(s);
	assert_int_equal(store_schema_version(s), STORE_SCHEMA_VERSION);
	assert_true(store_msgs_load(s, 1, &v, &n, &err));
	assert_int_equal(n, 1);
	assert_int_equal(v[0].src_uid, 7);
	assert_int_equal(v[0].dst_uid, 70);
	assert_string_equal(v[0].src_flags, "\\Seen");
	assert_null(v[0].pending_key);
	assert_null(v[0].flags_base);
	store_msgs_free(v, n);
	struct store_msg p = { 8, 0, (char *)"", (char *)"", (char *)"123 456 <k@x>", NULL };
	struct store_msg q = { 9, 90, (char *)"\\Seen", (char *)"\\Seen", NULL, (char *)"$Junk" };
	assert_true(store_msg_put(s, 1, &p, &err));
	assert_true(store_msg_put(s, 1, &q, &err));
	assert_true(store_msgs_load(s, 1, &v, &n, &err));
	assert_int_equal(n, 3);
	assert_string_equal(v[1].pending_key, "123 456 <k@x>");
	assert_null(v[1].flags_base);
	assert_null(v[2].pending_key);
	assert_string_equal(v[2].flags_base, "$Junk");
	store_msgs_free(v, n);
	store_close(&s);
}

static void test_folder_put_get(void **state)
{
	struct tmp *t = *state;
	struct store *s = open_ok(t->spec);
	struct store_folder f = folder("a@example.jp", "forward", "INBOX", "INBOX");
	struct store_folder g, sentinel = { .id = -7 };
	struct err err;
	bool found;
	int64_t id;

	f.src_uidvalidity = UINT32_MAX;
	f.dst_uidvalidity = 1;
	f.src_uidnext = 4000000000u;
	f.dst_uidnext = 17;
	f.src_modseq = UINT64_MAX - 5;          /* above INT64_MAX: same bits back */
	f.dst_modseq = (uint64_t)INT64_MAX;
	CHECK(store_folder_put(s, &f, E));
	assert_true(f.id > 0);
	id = f.id;

	CHECK(store_folder_get(s, "a@example.jp", "forward", "INBOX", &g, &found, E));
	assert_true(found);
	assert_int_equal(g.id, id);
	assert_string_equal(g.account, "a@example.jp");
	assert_string_equal(g.direction, "forward");
	assert_string_equal(g.src_name, "INBOX");
	assert_string_equal(g.dst_name, "INBOX");
	assert_int_equal(g.src_uidvalidity, UINT32_MAX);
	assert_int_equal(g.dst_uidvalidity, 1);
	assert_int_equal(g.src_uidnext, 4000000000u);
	assert_int_equal(g.dst_uidnext, 17);
	assert_true(g.src_modseq == UINT64_MAX - 5);
	assert_true(g.dst_modseq == (uint64_t)INT64_MAX);
	store_folder_free(&g);
	assert_null(g.account);

	/* Update by id, including the key (a renamed folder). */
	f.src_name = "Posteingang";
	f.dst_name = "Inbox";
	f.src_uidnext = 5;
	f.src_modseq = 0;
	CHECK(store_folder_put(s, &f, E));
	assert_int_equal(f.id, id);
	assert_false(folder_exists(s, "a@example.jp", "forward", "INBOX"));
	CHECK(store_folder_get(s, "a@example.jp", "forward", "Posteingang", &g, &found, E));
	assert_true(found);
	assert_int_equal(g.id, id);
	assert_string_equal(g.dst_name, "Inbox");
	assert_int_equal(g.src_uidnext, 5);
	assert_true(g.src_modseq == 0);
	store_folder_free(&g);
	assert_int_equal(raw_int(t->path, "SELECT count(*) FROM folders"), 1);
	assert_true(raw_int(t->path, "SELECT updated_at FROM folders") > 1700000000);

	/* Not found: *out untouched. */
	g = sentinel;
	found = true;
	CHECK(store_folder_get(s, "a@example.jp", "forward", "Nope", &g, &found, E));
	assert_false(found);
	assert_int_equal(g.id, -7);
	assert_null(g.account);

	/* The same key inserted twice is a caller bug, reported. */
	f = folder("a@example.jp", "forward", "Posteingang", "x");
	err_clear(&err);
	assert_false(store_folder_put(s, &f, &err));
	assert_contains(err.msg, "already recorded");
	assert_contains(err.msg, t->path);
	assert_null(strstr(err.msg, "INSERT"));

	/* Updating an id that is not there. */
	f.id = id + 100;
	err_clear(&err);
	assert_false(store_folder_put(s, &f, &err));
	assert_contains(err.msg, "no folder pair with id");

	/* NULL key strings are refused before reaching SQLite. */
	f = folder("a", "forward", NULL, "x");
	err_clear(&err);
	assert_false(store_folder_put(s, &f, &err));
	assert_int_equal(err.kind, ERR_KIND_INTERNAL);
	err_clear(&err);
	assert_false(store_folder_get(s, NULL, "forward", "INBOX", &g, &found, &err));
	assert_int_equal(err.kind, ERR_KIND_INTERNAL);
	store_close(&s);
}

static void test_folder_list(void **state)
{
	struct tmp *t = *state;
	struct store *s = open_ok(t->spec);
	static const char *const names[] = { "Sent", "INBOX", "\xc3\x84rger", "Archive/2020",
					     "Drafts", "Archive" };
	static const char *const sorted[] = { "Archive", "Archive/2020", "Drafts", "INBOX",
					      "Sent", "\xc3\x84rger" };
	struct store_folder *v;
	size_t n;

	for (size_t i = 0; i < 6; i++)
		add_folder(s, "a@example.jp", "forward", names[i]);
	add_folder(s, "a@example.jp", "reverse", "INBOX");
	add_folder(s, "b@example.jp", "forward", "INBOX");
	add_folder(s, "b@example.jp", "forward", "Zeta");

	CHECK(store_folder_list(s, "a@example.jp", "forward", &v, &n, E));
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(v[i].src_name, sorted[i]);
		assert_string_equal(v[i].account, "a@example.jp");
		assert_string_equal(v[i].direction, "forward");
	}
	store_folder_list_free(v, n);

	CHECK(store_folder_list(s, "a@example.jp", "reverse", &v, &n, E));
	assert_int_equal(n, 1);
	assert_string_equal(v[0].direction, "reverse");
	store_folder_list_free(v, n);

	CHECK(store_folder_list(s, "b@example.jp", "forward", &v, &n, E));
	assert_int_equal(n, 2);
	assert_string_equal(v[0].src_name, "INBOX");
	assert_string_equal(v[1].src_name, "Zeta");
	store_folder_list_free(v, n);

	CHECK(store_folder_list(s, "c@example.jp", "forward", &v, &n, E));
	assert_int_equal(n, 0);
	assert_null(v);
	store_folder_list_free(v, n);

	/* Same src_name, different account/direction: distinct pairs. */
	assert_int_equal(raw_int(t->path,
				 "SELECT count(*) FROM folders WHERE src_name = 'INBOX'"), 3);
	store_close(&s);
}

/* --- messages -------------------------------------------------------------- */

static void test_messages(void **state)
{
	struct tmp *t = *state;
	struct store *s = open_ok(t->spec);
	int64_t f1 = add_folder(s, "a", "forward", "INBOX");
	int64_t f2 = add_folder(s, "a", "forward", "Sent");
	struct store_msg *v, nullflags = { 9, 90, NULL, NULL, NULL, NULL };
	struct err err;
	size_t n;

	put_msg(s, f1, 30, 3, "\\Seen", "\\Seen");
	put_msg(s, f1, 10, 1, "", "");
	put_msg(s, f1, UINT32_MAX, 4000000000u, "$Forwarded \\Answered \\Seen",
		"\\Answered");
	put_msg(s, f1, 20, 2, "\\Flagged", "");
	put_msg(s, f1, 1, 100, "\xe6\x97\xa5\xe6\x9c\xac", "x");
	CHECK(store_msg_put(s, f1, &nullflags, E));
	put_msg(s, f2, 10, 77, "\\Deleted", "\\Deleted");

	CHECK(store_msgs_load(s, f1, &v, &n, E));
	assert_int_equal(n, 6);
	assert_int_equal(v[0].src_uid, 1);
	assert_string_equal(v[0].src_flags, "\xe6\x97\xa5\xe6\x9c\xac");
	assert_int_equal(v[1].src_uid, 9);
	assert_string_equal(v[1].src_flags, "");    /* NULL stored as "" */
	assert_string_equal(v[1].dst_flags, "");
	assert_int_equal(v[2].src_uid, 10);
	assert_int_equal(v[2].dst_uid, 1);
	assert_non_null(v[2].src_flags);
	assert_string_equal(v[2].src_flags, "");
	assert_string_equal(v[2].dst_flags, "");
	assert_int_equal(v[3].src_uid, 20);
	assert_string_equal(v[3].src_flags, "\\Flagged");
	assert_int_equal(v[4].src_uid, 30);
	assert_int_equal(v[5].src_uid, UINT32_MAX);
	assert_int_equal(v[5].dst_uid, 4000000000u);
	assert_string_equal(v[5].src_flags, "$Forwarded \\Answered \\Seen");
	assert_string_equal(v[5].dst_flags, "\\Answered");
	store_msgs_free(v, n);

	/* Replace by (folder, src_uid). */
	put_msg(s, f1, 20, 222, "\\Flagged \\Seen", "\\Seen");
	CHECK(store_msgs_load(s, f1, &v, &n, E));
	assert_int_equal(n, 6);
	assert_int_equal(v[3].src_uid, 20);
	assert_int_equal(v[3].dst_uid, 222);
	assert_string_equal(v[3].src_flags, "\\Flagged \\Seen");
	assert_string_equal(v[3].dst_flags, "\\Seen");
	store_msgs_free(v, n);

	/* Delete one; deleting a missing one is fine. */
	CHECK(store_msg_delete(s, f1, 30, E));
	CHECK(store_msg_delete(s, f1, 31, E));
	CHECK(store_msgs_load(s, f1, &v, &n, E));
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_true(v[i].src_uid != 30);
	store_msgs_free(v, n);

	/* Folders are separate. */
	CHECK(store_msgs_load(s, f2, &v, &n, E));
	assert_int_equal(n, 1);
	assert_int_equal(v[0].dst_uid, 77);
	store_msgs_free(v, n);

	/* Clear one folder (UIDVALIDITY changed): the other keeps its rows. */
	CHECK(store_msgs_clear(s, f1, E));
	CHECK(store_msgs_load(s, f1, &v, &n, E));
	assert_int_equal(n, 0);
	assert_null(v);
	store_msgs_free(v, n);
	assert_int_equal(count_msgs(s, f2), 1);
	assert_true(folder_exists(s, "a", "forward", "INBOX"));

	/* A message for a folder pair that does not exist. */
	err_clear(&err);
	assert_false(store_msg_put(s, f2 + 1000, &nullflags, &err));
	assert_contains(err.msg, "no folder pair with id");
	store_close(&s);
}

static void test_folder_delete_cascades(void **state)
{
	struct tmp *t = *state;
	struct store *s = open_ok(t->spec);
	int64_t f1 = add_folder(s, "a", "forward", "INBOX");
	int64_t f2 = add_folder(s, "a", "forward", "Sent");
	char sql[128];

	for (uint32_t u = 1; u <= 50; u++) {
		put_msg(s, f1, u, u + 1000, "\\Seen", "\\Seen");
		put_msg(s, f2, u, u + 2000, "", "");
	}
	CHECK(store_folder_delete(s, f1, E));
	assert_false(folder_exists(s, "a", "forward", "INBOX"));
	assert_int_equal(count_msgs(s, f1), 0);
	assert_int_equal(count_msgs(s, f2), 50);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM messages WHERE folder_id = %lld",
		 (long long)f1);
	assert_int_equal(raw_int(t->path, sql), 0);
	assert_int_equal(raw_int(t->path, "SELECT count(*) FROM messages"), 50);
	/* Deleting again is not an error. */
	CHECK(store_folder_delete(s, f1, E));
	store_close(&s);
}

static void test_damaged_uid(void **state)
{
	struct tmp *t = *state;
	struct store *s = open_ok(t->spec);
	int64_t fid = add_folder(s, "a", "forward", "INBOX");
	struct store_msg *v = (struct store_msg *)1;
	struct err err;
	size_t n = 99;

	put_msg(s, fid, 1, 1, "", "");
	put_msg(s, fid, 2, 2, "", "");
	raw_exec(t->path, "UPDATE messages SET dst_uid = 4294967296 WHERE src_uid = 2");
	err_clear(&err);
	assert_false(store_msgs_load(s, fid, &v, &n, &err));
	assert_contains(err.msg, "out of range");
	assert_contains(err.msg, t->path);
	assert_null(v);
	assert_int_equal(n, 0);
	store_close(&s);
}

/* --- transactions ---------------------------------------------------------- */

static void test_transactions(void **state)
{
	struct tmp *t = *state;
	struct store *s = open_ok(t->spec);
	struct store *other = open_ok(t->spec);
	struct err err;
	int64_t fid;

	/* Rollback discards. */
	CHECK(store_begin(s, E));
	fid = add_folder(s, "a", "forward", "INBOX");
	put_msg(s, fid, 1, 1, "", "");
	assert_true(folder_exists(s, "a", "forward", "INBOX"));
	store_rollback(s);
	assert_false(folder_exists(s, "a", "forward", "INBOX"));
	assert_int_equal(count_msgs(s, fid), 0);
	store_rollback(s);      /* without a transaction: nothing */

	/* Nested begin is an error and leaves the outer one alone. */
	CHECK(store_begin(s, E));
	fid = add_folder(s, "a", "forward", "INBOX");
	err_clear(&err);
	assert_false(store_begin(s, &err));
	assert_int_equal(err.kind, ERR_KIND_INTERNAL);
	assert_contains(err.msg, "store_begin");
	put_msg(s, fid, 7, 70, "\\Seen", "");
	/* Not visible to another handle before commit. */
	assert_false(folder_exists(other, "a", "forward", "INBOX"));
	CHECK(store_commit(s, E));
	assert_true(folder_exists(other, "a", "forward", "INBOX"));
	assert_int_equal(count_msgs(other, fid), 1);

	/* Commit without begin. */
	err_clear(&err);
	assert_false(store_commit(s, &err));
	assert_int_equal(err.kind, ERR_KIND_INTERNAL);

	/* After a commit, a new transaction works. */
	CHECK(store_begin(s, E));
	put_msg(s, fid, 8, 80, "", "");
	CHECK(store_commit(s, E));
	assert_int_equal(count_msgs(other, fid), 2);

	/* Closing with a transaction open discards it. */
	CHECK(store_begin(s, E));
	put_msg(s, fid, 9, 90, "", "");
	store_close(&s);
	assert_int_equal(count_msgs(other, fid), 2);

	/* ... and releases the write lock: the other handle can write. */
	CHECK(store_begin(other, E));
	put_msg(other, fid, 10, 100, "", "");
	CHECK(store_commit(other, E));
	assert_int_equal(count_msgs(other, fid), 3);
	store_close(&other);
}

/* --- threads --------------------------------------------------------------- */

#define THREADS 4
#define THREAD_TXS 20
#define THREAD_MSGS_PER_TX 100

struct worker {
	const char *spec;
	int n;
	pthread_barrier_t *barrier;
	char failure[800];
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	char account[32];
	struct store_folder f = { 0 };
	struct store *s;
	struct err err;

	snprintf(account, sizeof account, "user%d@example.jp", w->n);
	err_clear(&err);
	/* All open at once on a file that does not exist yet: one creates
	 * it, one migrates it, the others wait. */
	pthread_barrier_wait(w->barrier);
	s = store_open(w->spec, &err);
	if (s == NULL)
		goto fail;
	f.account = account;
	f.direction = "forward";
	f.src_name = "INBOX";
	f.dst_name = "INBOX";
	if (!store_folder_put(s, &f, &err))
		goto fail;
	for (int tx = 0; tx < THREAD_TXS; tx++) {
		if (!store_begin(s, &err))
			goto fail;
		for (int i = 0; i < THREAD_MSGS_PER_TX; i++) {
			uint32_t uid = (uint32_t)(tx * THREAD_MSGS_PER_TX + i + 1);
			struct store_msg m = { uid, uid + 5, "\\Seen", "", NULL, NULL };

			if (!store_msg_put(s, f.id, &m, &err)) {
				store_rollback(s);
				goto fail;
			}
		}
		f.src_uidnext = (uint32_t)((tx + 1) * THREAD_MSGS_PER_TX + 1);
		if (!store_folder_put(s, &f, &err) || !store_commit(s, &err)) {
			store_rollback(s);
			goto fail;
		}
	}
	store_close(&s);
	return NULL;
fail:
	snprintf(w->failure, sizeof w->failure, "worker %d: %s", w->n, err.msg);
	store_close(&s);
	return NULL;
}

static void test_threads(void **state)
{
	struct tmp *t = *state;
	struct worker w[THREADS];
	pthread_t th[THREADS];
	pthread_barrier_t barrier;
	struct store *s;

	assert_int_equal(pthread_barrier_init(&barrier, NULL, THREADS), 0);
	for (int i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof w[i]);
		w[i].spec = t->spec;
		w[i].n = i;
		w[i].barrier = &barrier;
		assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&barrier);
	for (int i = 0; i < THREADS; i++) {
		if (w[i].failure[0] != '\0') {
			print_message("%s\n", w[i].failure);
			fail();
		}
	}

	s = open_ok(t->spec);
	for (int i = 0; i < THREADS; i++) {
		char account[32];
		struct store_folder f;
		bool found;

		snprintf(account, sizeof account, "user%d@example.jp", i);
		CHECK(store_folder_get(s, account, "forward", "INBOX", &f, &found, E));
		assert_true(found);
		assert_int_equal(f.src_uidnext, THREAD_TXS * THREAD_MSGS_PER_TX + 1);
		assert_int_equal(count_msgs(s, f.id), THREAD_TXS * THREAD_MSGS_PER_TX);
		store_folder_free(&f);
	}
	store_close(&s);
	assert_int_equal(raw_int(t->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(mode_of(t->path), 0600);
}

/* --- volume ---------------------------------------------------------------- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#define MANY 100000u

static void test_many_messages(void **state)
{
	struct tmp *t = *state;
	struct store *s = open_ok(t->spec);
	int64_t fid = add_folder(s, "big@example.jp", "forward", "INBOX");
	struct store_msg *v;
	size_t n;
	double t0, t_put, t_load;

	t0 = now_ms();
	CHECK(store_begin(s, E));
	/* Descending, so the load's ordering is the store's doing. */
	for (uint32_t i = 0; i < MANY; i++) {
		uint32_t uid = MANY - i;

		put_msg(s, fid, uid, uid * 2, (uid % 3) != 0 ? "\\Seen" : "",
			(uid % 5) == 0 ? "\\Flagged \\Seen" : "\\Seen");
	}
	CHECK(store_commit(s, E));
	t_put = now_ms() - t0;

	t0 = now_ms();
	CHECK(store_msgs_load(s, fid, &v, &n, E));
	t_load = now_ms() - t0;
	assert_int_equal(n, MANY);
	for (size_t i = 0; i < n; i++) {
		uint32_t uid = (uint32_t)i + 1;

		if (v[i].src_uid != uid || v[i].dst_uid != uid * 2 ||
		    strcmp(v[i].src_flags, (uid % 3) != 0 ? "\\Seen" : "") != 0 ||
		    strcmp(v[i].dst_flags, (uid % 5) == 0 ? "\\Flagged \\Seen" : "\\Seen") != 0) {
			print_message("row %zu wrong: %u %u '%s' '%s'\n", i, v[i].src_uid,
				      v[i].dst_uid, v[i].src_flags, v[i].dst_flags);
			fail();
		}
	}
	store_msgs_free(v, n);
	print_message("100000 messages: put in one transaction %.1f ms, load %.1f ms\n",
		      t_put, t_load);
	store_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_open_reopen, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_relative_and_memory, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_wide_mode_warns_and_sidecars_narrowed,
						tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_not_sqlite, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_foreign_database_refused, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_missing_parent, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_bad_specs, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_from_older_file, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_v1_keeps_data, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_folder_put_get, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_folder_list, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_messages, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_folder_delete_cascades, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_damaged_uid, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_transactions, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_threads, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_many_messages, tmp_setup, tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
