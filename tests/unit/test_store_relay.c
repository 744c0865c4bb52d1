/* test_store_relay.c — the relay's records in the state store (store.h,
 * schema 4): per-message events for `mailshift trace` and per-destination
 * counters for `mailshift status`, on the SQLite backend.
 *
 * Every test works in a fresh mkdtemp() folder. The helpers that set a
 * file up behind the store's back (raw_exec, raw_int, make_file_at_version)
 * are small copies of test_store.c's: the upgrade test builds a version-3
 * file from the migration scripts themselves, as mailshift 3 left it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "unit/testutil.h"
#include "unit/store_testutil.h"

#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	snprintf(t->dir, sizeof t->dir, "/tmp/ms-relay-XXXXXX");
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

static void add_event(struct store *s, int64_t time_ms, const char *trace_id,
		      const char *message_id, const char *event, const char *dest,
		      const char *rcpt, const char *detail)
{
	struct store_relay_event e = {
		time_ms, (char *)trace_id, (char *)message_id, (char *)event,
		(char *)dest, (char *)rcpt, (char *)detail,
	};

	CHECK(store_relay_event_add(s, &e, E));
}

/* The events found for key, as "trace:event:dest" joined by spaces ("-"
 * for a NULL dest), so one string comparison checks set and order. */
static char *found_str(struct store *s, const char *key)
{
	struct store_relay_event *v = (struct store_relay_event *)1;
	size_t n = 99, len = 1;
	char *out;

	CHECK(store_relay_events_find(s, key, &v, &n, E));
	if (n == 0)
		assert_null(v);
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i].trace_id) + strlen(v[i].event) +
		       (v[i].dest != NULL ? strlen(v[i].dest) : 1) + 3;
	out = calloc(1, len);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(out, " ");
		strcat(out, v[i].trace_id);
		strcat(out, ":");
		strcat(out, v[i].event);
		strcat(out, ":");
		strcat(out, v[i].dest != NULL ? v[i].dest : "-");
	}
	store_relay_events_free(v, n);
	return out;
}

static void assert_found(struct store *s, const char *key, const char *want)
{
	char *got = found_str(s, key);

	if (strcmp(got, want) != 0) {
		print_message("key '%s':\n  got  '%s'\n  want '%s'\n", key, got, want);
		free(got);
		fail();
	}
	free(got);
}

/* The counters as "dest/name=value" joined by spaces. */
static void assert_counters(struct store *s, const char *want)
{
	struct store_relay_counter *v = (struct store_relay_counter *)1;
	size_t n = 99;
	char got[1024] = "";

	CHECK(store_relay_counters(s, &v, &n, E));
	if (n == 0)
		assert_null(v);
	for (size_t i = 0; i < n; i++) {
		size_t used = strlen(got);

		snprintf(got + used, sizeof got - used, "%s%s/%s=%lld", i > 0 ? " " : "",
			 v[i].dest, v[i].name, (long long)v[i].value);
	}
	store_relay_counters_free(v, n);
	if (strcmp(got, want) != 0) {
		print_message("counters:\n  got  '%s'\n  want '%s'\n", got, want);
		fail();
	}
}

#define T1 "AAAAAAAAAAAAAAAAAAA1"
#define T2 "AAAAAAAAAAAAAAAAAAA2"
#define T3 "AAAAAAAAAAAAAAAAAAA3"

/* --- events ----------------------------------------------------------------- */

/* A relay's day in small: three messages, written in one batch, events
 * not in time order; only "received" carries the Message-ID. */
static void fill_three_messages(struct store *s)
{
	CHECK(store_begin(s, E));
	add_event(s, 1000, T1, "<one@example.jp>", "received", NULL, NULL,
		  "from 192.0.2.1 size 1234");
	add_event(s, 1005, T2, "<two@example.jp>", "received", NULL, NULL, NULL);
	/* Same millisecond: insertion order decides. */
	add_event(s, 1010, T1, NULL, "delivered", "old", "a@example.jp", "250 2.0.0 Ok: queued as 4XyZ");
	add_event(s, 1010, T1, NULL, "deferred", "new", "a@example.jp", "451 4.3.0 try later");
	/* Recorded late but earlier in time: time decides. */
	add_event(s, 1001, T1, NULL, "held", NULL, NULL, NULL);
	add_event(s, 5000, T1, NULL, "delivered", "new", "a@example.jp", "250 ok id=77");
	add_event(s, 2000, T2, NULL, "bounced", "old", "b@example.jp", "550 5.1.1 no such user");
	add_event(s, 2001, T2, NULL, "dsn", "bounce", NULL, NULL);
	/* A third message reusing the first one's Message-ID, without <>. */
	add_event(s, 3000, T3, "one@example.jp", "received", NULL, NULL, NULL);
	add_event(s, 3001, T3, NULL, "failed", "new", "c@example.jp", NULL);
	CHECK(store_commit(s, E));
}

static void test_find_by_trace_id_ordered(void **state)
{
	struct tmp *t = *state;
	struct store *s = open_ok(t->spec);

	fill_three_messages(s);
	assert_found(s, T1, T1 ":received:- " T1 ":held:- " T1 ":delivered:old "
		     T1 ":deferred:new " T1 ":delivered:new");
	assert_found(s, T2, T2 ":received:- " T2 ":bounced:old " T2 ":dsn:bounce");
	assert_found(s, "  " T3 "\n", T3 ":received:- " T3 ":failed:new");
	/* A prefix or another case is another id. */
	assert_found(s, "AAAAAAAAAAAAAAAAAAA", "");
	assert_found(s, "aaaaaaaaaaaaaaaaaaa1", "");
	store_close(&s);
}

static void test_find_by_message_id(void **state)
{
	struct tmp *t = *state;
	struct store *s = open_ok(t->spec);
	const char *both = T1 ":received:- " T1 ":held:- " T1 ":delivered:old "
		T1 ":deferred:new " T3 ":received:- " T3 ":failed:new " T1 ":delivered:new";

	fill_three_messages(s);
	/* With and without <>, stored with and without them: the events of
	 * every message that carried that Message-ID, including those of its
	 * events that carry none, merged in time order. */
	assert_found(s, "<one@example.jp>", both);
	assert_found(s, "one@example.jp", both);
	assert_found(s, " <one@example.jp> ", both);
	assert_found(s, "<two@example.jp>", T2 ":received:- " T2 ":bounced:old " T2 ":dsn:bounce");
	assert_found(s, "two@example.jp", T2 ":received:- " T2 ":bounced:old " T2 ":dsn:bounce");
	/* Only an exact match. */
	assert_found(s, "<one@example.j>", "");
	assert_found(s, "ONE@example.jp", "");
	assert_found(s, "example.jp", "");
	/* An empty key finds nothing, not the messages without a Message-ID. */
	assert_found(s, "", "");
	assert_found(s, "<>", "");
	assert_found(s, "   ", "");
	store_close(&s);
}

static void test_fields_round_trip(void **state)
{
	struct tmp *t = *state;
	struct store *s = open_ok(t->spec);
	struct store_relay_event *v;
	char detail[4000];
	size_t n;

	for (size_t i = 0; i < sizeof detail - 1; i++)
		detail[i] = (char)('a' + i % 26);
	detail[sizeof detail - 1] = '\0';
	add_event(s, INT64_C(1767225600123), T1, NULL, "received", NULL, NULL, NULL);
	add_event(s, INT64_C(1767225600124), T1, "<x@y>", "delivered", "old",
		  "\xe5\xb1\xb1\xe7\x94\xb0@example.jp", detail);
	add_event(s, INT64_C(1767225600125), T1, "", "deleted", "", "", "");

	CHECK(store_relay_events_find(s, T1, &v, &n, E));
	assert_int_equal(n, 3);
	assert_true(v[0].time_ms == INT64_C(1767225600123));
	assert_string_equal(v[0].trace_id, T1);
	assert_string_equal(v[0].event, "received");
	assert_null(v[0].message_id);
	assert_null(v[0].dest);
	assert_null(v[0].rcpt);
	assert_null(v[0].detail);

	assert_true(v[1].time_ms == INT64_C(1767225600124));
	assert_string_equal(v[1].message_id, "<x@y>");
	assert_string_equal(v[1].event, "delivered");
	assert_string_equal(v[1].dest, "old");
	assert_string_equal(v[1].rcpt, "\xe5\xb1\xb1\xe7\x94\xb0@example.jp");
	assert_string_equal(v[1].detail, detail);

	/* Empty strings stay empty strings, distinct from NULL. */
	assert_non_null(v[2].message_id);
	assert_string_equal(v[2].message_id, "");
	assert_string_equal(v[2].dest, "");
	assert_string_equal(v[2].rcpt, "");
	assert_string_equal(v[2].detail, "");
	store_relay_events_free(v, n);
	store_relay_events_free(NULL, 0);
	/* An event stored with an empty Message-ID is not what an empty key
	 * asks for. */
	assert_found(s, "", "");
	assert_found(s, "<>", "");
	assert_int_equal(raw_int(t->path, "SELECT count(*) FROM relay_events WHERE"
				 " message_id IS NULL AND detail IS NULL"), 1);
	store_close(&s);
}

static void test_bad_args(void **state)
{
	struct tmp *t = *state;
	struct store *s = open_ok(t->spec);
	struct store_relay_event e = { 1, NULL, NULL, (char *)"received", NULL, NULL, NULL };
	struct store_relay_event *v = (struct store_relay_event *)1;
	struct err err;
	size_t n = 5;

	err_clear(&err);
	assert_false(store_relay_event_add(s, &e, &err));
	assert_int_equal(err.kind, ERR_KIND_INTERNAL);
	assert_non_null(strstr(err.msg, "store_relay_event_add"));
	e.trace_id = (char *)T1;
	e.event = NULL;
	err_clear(&err);
	assert_false(store_relay_event_add(s, &e, &err));
	assert_int_equal(err.kind, ERR_KIND_INTERNAL);
	err_clear(&err);
	assert_false(store_relay_event_add(s, NULL, &err));
	assert_int_equal(err.kind, ERR_KIND_INTERNAL);

	err_clear(&err);
	assert_false(store_relay_events_find(s, NULL, &v, &n, &err));
	assert_int_equal(err.kind, ERR_KIND_INTERNAL);
	assert_null(v);
	assert_int_equal(n, 0);

	err_clear(&err);
	assert_false(store_relay_counter_add(s, NULL, "accepted", 1, &err));
	assert_int_equal(err.kind, ERR_KIND_INTERNAL);
	err_clear(&err);
	assert_false(store_relay_counter_add(s, "old", NULL, 1, &err));
	assert_int_equal(err.kind, ERR_KIND_INTERNAL);
	/* Nothing reached the file. */
	assert_int_equal(raw_int(t->path, "SELECT count(*) FROM relay_events"), 0);
	assert_int_equal(raw_int(t->path, "SELECT count(*) FROM relay_counters"), 0);
	store_close(&s);
}

static void test_prune(void **state)
{
	struct tmp *t = *state;
	struct store *s = open_ok(t->spec);
	size_t removed = 99;

	fill_three_messages(s);
	/* Strictly older than the cutoff: the 1010 events stay. */
	CHECK(store_relay_events_prune(s, 1010, &removed, E));
	assert_int_equal(removed, 3);
	assert_found(s, T1, T1 ":delivered:old " T1 ":deferred:new " T1 ":delivered:new");
	/* T2's "received" is gone, and with it the only row naming its
	 * Message-ID; its trace id still finds what is left. */
	assert_found(s, "<two@example.jp>", "");
	assert_found(s, T2, T2 ":bounced:old " T2 ":dsn:bounce");

	CHECK(store_relay_events_prune(s, 1010, &removed, E));
	assert_int_equal(removed, 0);
	CHECK(store_relay_events_prune(s, 3001, NULL, E));
	assert_int_equal(raw_int(t->path, "SELECT count(*) FROM relay_events"), 2);
	assert_found(s, T3, T3 ":failed:new");

	/* Inside a transaction, rolled back: nothing removed. */
	CHECK(store_begin(s, E));
	CHECK(store_relay_events_prune(s, INT64_MAX, &removed, E));
	assert_int_equal(removed, 2);
	store_rollback(s);
	assert_int_equal(raw_int(t->path, "SELECT count(*) FROM relay_events"), 2);

	/* After a prune took the newest row (a clock step back made it the
	 * oldest in time), a new event still sorts after an older one of the
	 * same millisecond: ids are given again only above those left. */
	add_event(s, 4000, "Y", NULL, "c", NULL, NULL, NULL);
	add_event(s, 10, "Q", NULL, "x", NULL, NULL, NULL);
	CHECK(store_relay_events_prune(s, 11, &removed, E));
	assert_int_equal(removed, 1);
	add_event(s, 4000, "Y", NULL, "d", NULL, NULL, NULL);
	assert_found(s, "Y", "Y:c:- Y:d:-");
	assert_found(s, "Q", "");
	store_close(&s);
}

/* --- counters --------------------------------------------------------------- */

static void test_counters(void **state)
{
	struct tmp *t = *state;
	struct store *s = open_ok(t->spec);

	assert_counters(s, "");
	CHECK(store_relay_counter_add(s, "old", "accepted", 1, E));
	CHECK(store_relay_counter_add(s, "old", "queued", 1, E));
	CHECK(store_relay_counter_add(s, "new", "accepted", 1, E));
	CHECK(store_relay_counter_add(s, "new", "queued", 1, E));
	CHECK(store_relay_counter_add(s, "old", "accepted", 1, E));
	CHECK(store_relay_counter_add(s, "old", "queued", 1, E));
	CHECK(store_relay_counter_add(s, "old", "delivered", 1, E));
	CHECK(store_relay_counter_add(s, "old", "queued", -1, E));
	assert_counters(s, "new/accepted=1 new/queued=1 "
			"old/accepted=2 old/delivered=1 old/queued=1");

	/* A negative delta on a missing counter starts from 0. */
	CHECK(store_relay_counter_add(s, "bounce", "queued", -1, E));
	/* Zero creates it at 0. */
	CHECK(store_relay_counter_add(s, "bounce", "expired", 0, E));
	/* Large values are kept exactly. */
	CHECK(store_relay_counter_add(s, "new", "delivered", INT64_C(5000000000), E));
	CHECK(store_relay_counter_add(s, "new", "delivered", INT64_C(5000000000), E));
	CHECK(store_relay_counter_add(s, "new", "queued", -1, E));
	/* Byte order: "Z" before "a". */
	CHECK(store_relay_counter_add(s, "old", "Zeta", 3, E));
	assert_counters(s, "bounce/expired=0 bounce/queued=-1 "
			"new/accepted=1 new/delivered=10000000000 new/queued=0 "
			"old/Zeta=3 old/accepted=2 old/delivered=1 old/queued=1");

	/* One row per (dest, name), whatever the number of adds. */
	assert_int_equal(raw_int(t->path, "SELECT count(*) FROM relay_counters"), 9);

	/* A rolled-back batch changes nothing; a committed one is seen by
	 * another handle (`mailshift status` in another process). */
	CHECK(store_begin(s, E));
	CHECK(store_relay_counter_add(s, "old", "accepted", 100, E));
	CHECK(store_relay_counter_add(s, "old", "failed", 1, E));
	store_rollback(s);
	{
		struct store *other = open_ok(t->spec);

		assert_counters(other, "bounce/expired=0 bounce/queued=-1 "
				"new/accepted=1 new/delivered=10000000000 new/queued=0 "
				"old/Zeta=3 old/accepted=2 old/delivered=1 old/queued=1");
		CHECK(store_begin(s, E));
		CHECK(store_relay_counter_add(s, "old", "failed", 1, E));
		add_event(s, 7, T1, NULL, "failed", "old", NULL, NULL);
		/* Not visible before the commit. */
		assert_found(other, T1, "");
		CHECK(store_commit(s, E));
		assert_found(other, T1, T1 ":failed:old");
		assert_counters(other, "bounce/expired=0 bounce/queued=-1 "
				"new/accepted=1 new/delivered=10000000000 new/queued=0 "
				"old/Zeta=3 old/accepted=2 old/delivered=1 old/failed=1 "
				"old/queued=1");
		store_close(&other);
	}
	store_relay_counters_free(NULL, 0);
	store_close(&s);
}

/* Two handles (the relay and, say, a second relay or a repair tool)
 * bumping the same counters in small batches at once: the busy wait and
 * the single-statement add lose no update. */
#define ADDERS 3
#define ADDER_TXS 40
#define ADDER_PER_TX 5

struct adder {
	const char *spec;
	int n;
	pthread_barrier_t *barrier;
	char failure[800];
};

static void *adder_run(void *arg)
{
	struct adder *a = arg;
	struct store *s = NULL;
	struct err err;
	char trace[32];

	err_clear(&err);
	snprintf(trace, sizeof trace, "T%019d", a->n);
	s = store_open(a->spec, &err);
	pthread_barrier_wait(a->barrier);
	if (s == NULL)
		goto fail;
	for (int tx = 0; tx < ADDER_TXS; tx++) {
		if (!store_begin(s, &err))
			goto fail;
		for (int i = 0; i < ADDER_PER_TX; i++) {
			struct store_relay_event e = { tx * 100 + i, trace, NULL,
						       (char *)"delivered", (char *)"old",
						       NULL, NULL };

			if (!store_relay_counter_add(s, "old", "delivered", 1, &err) ||
			    !store_relay_counter_add(s, "old", "queued", -1, &err) ||
			    !store_relay_event_add(s, &e, &err)) {
				store_rollback(s);
				goto fail;
			}
		}
		if (!store_commit(s, &err))
			goto fail;
	}
	store_close(&s);
	return NULL;
fail:
	snprintf(a->failure, sizeof a->failure, "adder %d: %s", a->n, err.msg);
	store_close(&s);
	return NULL;
}

static void test_counters_concurrent(void **state)
{
	struct tmp *t = *state;
	struct adder a[ADDERS];
	pthread_t th[ADDERS];
	pthread_barrier_t barrier;
	struct store *s = open_ok(t->spec);
	char want[200];

	assert_int_equal(pthread_barrier_init(&barrier, NULL, ADDERS), 0);
	for (int i = 0; i < ADDERS; i++) {
		memset(&a[i], 0, sizeof a[i]);
		a[i].spec = t->spec;
		a[i].n = i;
		a[i].barrier = &barrier;
		assert_int_equal(pthread_create(&th[i], NULL, adder_run, &a[i]), 0);
	}
	for (int i = 0; i < ADDERS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&barrier);
	for (int i = 0; i < ADDERS; i++) {
		if (a[i].failure[0] != '\0') {
			print_message("%s\n", a[i].failure);
			fail();
		}
	}
	snprintf(want, sizeof want, "old/delivered=%d old/queued=%d",
		 ADDERS * ADDER_TXS * ADDER_PER_TX, -ADDERS * ADDER_TXS * ADDER_PER_TX);
	assert_counters(s, want);
	assert_int_equal(raw_int(t->path, "SELECT count(*) FROM relay_events"),
			 ADDERS * ADDER_TXS * ADDER_PER_TX);
	store_close(&s);
}

/* --- schema ----------------------------------------------------------------- */

/* A version-3 file (sync data only, a copy and a flag update in flight) is
 * upgraded to 4 keeping every row, and the relay tables work at once. */
static void test_upgrade_from_v3(void **state)
{
	struct tmp *t = *state;
	struct store_msg *v = NULL;
	struct store_folder f;
	struct store *s;
	bool found;
	size_t n = 0;

	make_file_at_version(t->path, 3);
	raw_exec(t->path, "INSERT INTO folders (id, account, direction, src_name, dst_name,"
			  " src_uidvalidity, src_uidnext) VALUES"
			  " (1, 'a@example.jp', 'forward', 'INBOX', 'INBOX', 42, 9);"
			  "INSERT INTO messages (folder_id, src_uid, dst_uid, src_flags, dst_flags,"
			  " pending_key, flags_base) VALUES"
			  " (1, 7, 70, '\\Seen', '\\Seen', NULL, '$Junk'),"
			  " (1, 8, 0, '', '', '123 456 <k@x>', NULL)");
	assert_int_equal(raw_int(t->path, "SELECT count(*) FROM sqlite_master"
				 " WHERE name LIKE 'relay%'"), 0);

	s = open_ok(t->spec);
	assert_int_equal(store_schema_version(s), 4);
	assert_int_equal(raw_int(t->path, "PRAGMA user_version"), 4);
	CHECK(store_folder_get(s, "a@example.jp", "forward", "INBOX", &f, &found, E));
	assert_true(found);
	assert_int_equal(f.id, 1);
	assert_int_equal(f.src_uidvalidity, 42);
	assert_int_equal(f.src_uidnext, 9);
	store_folder_free(&f);
	CHECK(store_msgs_load(s, 1, &v, &n, E));
	assert_int_equal(n, 2);
	assert_int_equal(v[0].src_uid, 7);
	assert_int_equal(v[0].dst_uid, 70);
	assert_string_equal(v[0].src_flags, "\\Seen");
	assert_null(v[0].pending_key);
	assert_string_equal(v[0].flags_base, "$Junk");
	assert_int_equal(v[1].src_uid, 8);
	assert_string_equal(v[1].pending_key, "123 456 <k@x>");
	assert_null(v[1].flags_base);
	store_msgs_free(v, n);

	/* The new tables and their indexes are there and usable. */
	assert_int_equal(raw_int(t->path, "SELECT count(*) FROM sqlite_master WHERE name IN"
				 " ('relay_events', 'relay_counters', 'relay_events_by_trace',"
				 " 'relay_events_by_message_id')"), 4);
	add_event(s, 1, T1, "<m@x>", "received", NULL, NULL, NULL);
	CHECK(store_relay_counter_add(s, "new", "accepted", 1, E));
	assert_found(s, "m@x", T1 ":received:-");
	assert_counters(s, "new/accepted=1");
	store_close(&s);

	/* Reopening an upgraded file changes nothing. */
	s = open_ok(t->spec);
	assert_int_equal(store_schema_version(s), 4);
	assert_found(s, T1, T1 ":received:-");
	assert_int_equal(raw_int(t->path, "SELECT count(*) FROM messages"), 2);
	store_close(&s);
}

/* A fresh in-memory store (dry runs) has the relay tables too. */
static void test_memory_store(void **state)
{
	struct store *s = open_ok("sqlite::memory:");

	(void)state;
	add_event(s, 2, T2, NULL, "delivered", "new", NULL, NULL);
	add_event(s, 1, T2, "<q@x>", "received", NULL, NULL, NULL);
	CHECK(store_relay_counter_add(s, "new", "delivered", 2, E));
	assert_found(s, "<q@x>", T2 ":received:- " T2 ":delivered:new");
	assert_counters(s, "new/delivered=2");
	store_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_find_by_trace_id_ordered, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_find_by_message_id, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_fields_round_trip, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_prune, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_counters, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_counters_concurrent, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_from_v3, tmp_setup, tmp_teardown),
		cmocka_unit_test(test_memory_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
