/* test_spool.c — the relay's durable queue (spool.h) on a real file system.
 *
 * Every test works in a fresh mkdtemp() folder (spool at DIR/spool). Where
 * the API cannot make a file (a damaged header, a log torn by a crash, a
 * leftover in tmp/) the test writes it with plain POSIX calls, in the
 * format spool.h describes. The 5 MB round trip goes through the writer in
 * uneven chunks, some larger than its buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "unit/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "relay/spool.h"

struct tmp {
	char dir[64];
	char spool[128];
};

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof *t);

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof t->dir, "/tmp/ms-spool-XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(t->spool, sizeof t->spool, "%s/spool", t->dir);
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

static struct spool *open_ok(const char *path, int flags)
{
	struct err err;
	struct spool *sp;

	err_clear(&err);
	sp = spool_open(path, flags, &err);
	if (sp == NULL) {
		print_message("spool_open(%s): %s\n", path, err.msg);
		fail();
	}
	return sp;
}

/* Entries in DIR/sub other than . and .. */
static size_t count_entries(const char *dir, const char *sub)
{
	char p[256];
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	snprintf(p, sizeof p, "%s/%s", dir, sub);
	d = opendir(p);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static bool exists(const char *dir, const char *sub, const char *name)
{
	char p[256];

	snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
	return access(p, F_OK) == 0;
}

static void write_file(const char *path, const void *data, size_t n, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | flags, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

static char *read_file(const char *path, size_t *n_r)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	if (n_r != NULL)
		*n_r = (size_t)n;
	return s;
}

/* An envelope with two recipients; strings are borrowed. */
static struct spool_rcpt two_rcpts[] = {
	{ "alice@example.jp", SPOOL_OLD | SPOOL_NEW, SPOOL_NEW },
	{ "bob@example.jp", SPOOL_NEW, SPOOL_NEW },
};

static void sample_env(struct spool_env *e)
{
	memset(e, 0, sizeof *e);
	spool_new_id(e->id);
	e->arrival = 1760000000;
	e->client = "[192.0.2.1]:40000";
	e->helo = "mx.sender.example";
	e->sender = "carol@sender.example";
	e->message_id = "<abc@sender.example>";
	e->primary = SPOOL_OLD;
	e->smtputf8 = false;
	e->eightbit = true;
	e->size = 999;        /* ignored by the writer */
	e->rcpts = two_rcpts;
	e->nrcpt = 2;
}

/* Spool a message with the given data, written in chunks of the sizes in
 * steps (cycled; 0 ends the list). */
static void spool_msg(struct spool *sp, const struct spool_env *e, const char *data, size_t n,
		      const size_t *steps)
{
	struct err err;
	struct spool_writer *w;
	size_t pos = 0, k = 0;

	err_clear(&err);
	w = spool_writer_begin(sp, e, &err);
	if (w == NULL) {
		print_message("begin: %s\n", err.msg);
		fail();
	}
	while (pos < n) {
		size_t c = steps ? steps[k++] : n;
		if (steps && steps[k] == 0)
			k = 0;
		if (c > n - pos)
			c = n - pos;
		assert_true(spool_writer_write(w, data + pos, c, &err));
		pos += c;
	}
	if (!spool_writer_commit(&w, &err)) {
		print_message("commit: %s\n", err.msg);
		fail();
	}
	assert_null(w);
}

static void read_data(struct spool *sp, enum spool_where where, const char *id, char **data_r,
		      uint64_t *size_r)
{
	struct err err;
	int fd = -1;
	uint64_t size = 0, got = 0;
	char *d;

	err_clear(&err);
	if (!spool_open_data(sp, where, id, &fd, &size, &err)) {
		print_message("open_data: %s\n", err.msg);
		fail();
	}
	d = malloc(size + 1);
	assert_non_null(d);
	for (;;) {
		ssize_t r = read(fd, d + got, size + 1 - got);
		assert_true(r >= 0);
		if (r == 0)
			break;
		got += (uint64_t)r;
		assert_true(got <= size);
	}
	close(fd);
	assert_int_equal(got, size);
	*data_r = d;
	*size_r = size;
}

static void test_open_creates_folders(void **state)
{
	struct tmp *t = *state;
	struct spool *sp = open_ok(t->spool, 0);
	const char *subs[] = { "", "/tmp", "/queue", "/hold" };
	char p[256];
	struct stat st;

	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s%s", t->spool, subs[i]);
		assert_int_equal(stat(p, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 0777, 0700);
	}
	assert_string_equal(spool_path(sp), t->spool);
	assert_false(spool_locked(sp));
	spool_close(&sp);
	assert_null(sp);

	/* A parent that does not exist is an error naming the path. */
	struct err err;
	snprintf(p, sizeof p, "%s/no/such/spool", t->dir);
	err_clear(&err);
	assert_null(spool_open(p, 0, &err));
	assert_int_equal(err.kind, ERR_KIND_IO);
	assert_contains(err.msg, p);
}

static void test_open_refuses_writable(void **state)
{
	struct tmp *t = *state;
	struct err err;
	char q[256];

	assert_int_equal(mkdir(t->spool, 0700), 0);
	assert_int_equal(chmod(t->spool, 0770), 0);
	err_clear(&err);
	assert_null(spool_open(t->spool, SPOOL_EXCLUSIVE, &err));
	assert_contains(err.msg, t->spool);
	assert_contains(err.msg, "writable by group or others");
	assert_contains(err.msg, "chmod go-w");

	/* A writable subfolder too. */
	assert_int_equal(chmod(t->spool, 0700), 0);
	struct spool *sp = open_ok(t->spool, 0);
	spool_close(&sp);
	snprintf(q, sizeof q, "%s/queue", t->spool);
	assert_int_equal(chmod(q, 0702), 0);
	err_clear(&err);
	assert_null(spool_open(t->spool, 0, &err));
	assert_contains(err.msg, q);
}

static void test_round_trip(void **state)
{
	struct tmp *t = *state;
	struct spool *sp = open_ok(t->spool, SPOOL_EXCLUSIVE);
	struct spool_env e, got;
	struct spool_status st;
	struct err err;
	static const char small[] = "Received: from x\r\nSubject: hi\r\n\r\nline\r\n"
				    ".leading dot\r\n\0binary\xff\xfe\r\n\r\n";
	const size_t big_n = 5 * 1024 * 1024 + 17;
	char *big = malloc(big_n), *d;
	uint64_t size;
	char (*ids)[SPOOL_ID_SIZE];
	size_t n;
	static const size_t steps[] = { 1, 7, 65536, 100000, 3, 65535, 200000, 0 };

	assert_non_null(big);
	uint32_t x = 12345;
	for (size_t i = 0; i < big_n; i++) {
		x = x * 1103515245 + 12345;
		big[i] = (char)(x >> 16);
		if (i % 77 == 75)
			big[i] = '\r';
		if (i % 77 == 76)
			big[i] = '\n';
	}

	sample_env(&e);
	spool_msg(sp, &e, small, sizeof small - 1, NULL);
	struct spool_env e2;
	sample_env(&e2);
	e2.message_id = NULL;
	e2.smtputf8 = true;
	e2.eightbit = false;
	e2.primary = SPOOL_NEW;
	e2.sender = "";
	e2.client = "local";
	spool_msg(sp, &e2, big, big_n, steps);
	/* An empty message is a message too; this one shaped as a DSN. */
	struct spool_env e3;
	struct spool_rcpt dsn_rcpt = { "carol@sender.example", SPOOL_BOUNCE, SPOOL_BOUNCE };
	sample_env(&e3);
	e3.sender = "";
	e3.primary = SPOOL_BOUNCE;
	e3.rcpts = &dsn_rcpt;
	e3.nrcpt = 1;
	spool_msg(sp, &e3, "", 0, NULL);
	assert_int_equal(count_entries(t->spool, "tmp"), 0);

	err_clear(&err);
	assert_true(spool_list(sp, SPOOL_QUEUE, &ids, &n, &err));
	assert_int_equal(n, 3);
	assert_string_equal(ids[0], e.id);
	assert_string_equal(ids[1], e2.id);
	assert_string_equal(ids[2], e3.id);
	spool_ids_free(ids);
	assert_true(spool_list(sp, SPOOL_HOLD, &ids, &n, &err));
	assert_int_equal(n, 0);
	spool_ids_free(ids);

	/* First message: every field back. */
	assert_true(spool_load(sp, SPOOL_QUEUE, e.id, &got, &st, &err));
	assert_string_equal(got.id, e.id);
	assert_int_equal(got.arrival, 1760000000);
	assert_string_equal(got.client, e.client);
	assert_string_equal(got.helo, e.helo);
	assert_string_equal(got.sender, e.sender);
	assert_string_equal(got.message_id, e.message_id);
	assert_int_equal(got.primary, SPOOL_OLD);
	assert_false(got.smtputf8);
	assert_true(got.eightbit);
	assert_int_equal(got.size, sizeof small - 1);
	assert_int_equal(got.nrcpt, 2);
	assert_string_equal(got.rcpts[0].addr, "alice@example.jp");
	assert_int_equal(got.rcpts[0].dests, SPOOL_OLD | SPOOL_NEW);
	assert_int_equal(got.rcpts[0].primary, SPOOL_NEW);
	assert_string_equal(got.rcpts[1].addr, "bob@example.jp");
	assert_int_equal(got.rcpts[1].dests, SPOOL_NEW);
	assert_int_equal(got.rcpts[1].primary, SPOOL_NEW);
	assert_int_equal(st.nrcpt, 2);
	assert_false(st.dsn_sent);
	for (size_t i = 0; i < 2 * SPOOL_NDEST; i++) {
		assert_int_equal(st.st[i].outcome, SPOOL_PENDING);
		assert_int_equal(st.st[i].attempts, 0);
		assert_int_equal(st.st[i].last_time, 0);
		assert_null(st.st[i].last_text);
	}
	spool_status_free(&st);
	spool_env_free(&got);
	read_data(sp, SPOOL_QUEUE, e.id, &d, &size);
	assert_int_equal(size, sizeof small - 1);
	assert_memory_equal(d, small, sizeof small - 1);
	free(d);

	/* The 5 MB one, loaded without status. */
	assert_true(spool_load(sp, SPOOL_QUEUE, e2.id, &got, NULL, &err));
	assert_string_equal(got.sender, "");
	assert_null(got.message_id);
	assert_string_equal(got.client, "local");
	assert_int_equal(got.primary, SPOOL_NEW);
	assert_true(got.smtputf8);
	assert_false(got.eightbit);
	assert_int_equal(got.size, big_n);
	spool_env_free(&got);
	read_data(sp, SPOOL_QUEUE, e2.id, &d, &size);
	assert_int_equal(size, big_n);
	assert_memory_equal(d, big, big_n);
	free(d);

	read_data(sp, SPOOL_QUEUE, e3.id, &d, &size);
	assert_int_equal(size, 0);
	free(d);
	assert_true(spool_load(sp, SPOOL_QUEUE, e3.id, &got, NULL, &err));
	assert_int_equal(got.primary, SPOOL_BOUNCE);
	assert_int_equal(got.nrcpt, 1);
	assert_int_equal(got.rcpts[0].dests, SPOOL_BOUNCE);
	assert_int_equal(got.rcpts[0].primary, SPOOL_BOUNCE);
	assert_int_equal(got.size, 0);
	spool_env_free(&got);

	/* The file is as spool.h says: magic line, null sender as <>. */
	char p[256];
	snprintf(p, sizeof p, "%s/queue/%s", t->spool, e2.id);
	char *f = read_file(p, NULL);
	assert_memory_equal(f, "mailshift-spool 1\n", 18);
	assert_contains(f, "\nsender <>\n");
	assert_contains(f, "\nflags smtputf8\n");
	assert_contains(f, "\nrcpt new,old alice@example.jp\n");
	free(f);
	struct stat sb;
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	free(big);
	spool_close(&sp);
}

static void test_abort(void **state)
{
	struct tmp *t = *state;
	struct spool *sp = open_ok(t->spool, SPOOL_EXCLUSIVE);
	struct spool_env e;
	struct spool_writer *w;
	struct err err;
	static char chunk[100000];

	sample_env(&e);
	err_clear(&err);
	w = spool_writer_begin(sp, &e, &err);
	assert_non_null(w);
	assert_int_equal(count_entries(t->spool, "tmp"), 1);
	assert_true(spool_writer_write(w, chunk, sizeof chunk, &err));
	assert_true(spool_writer_write(w, "x", 1, &err));
	spool_writer_abort(&w);
	assert_null(w);
	spool_writer_abort(&w);         /* a second abort is harmless */
	assert_int_equal(count_entries(t->spool, "tmp"), 0);
	assert_int_equal(count_entries(t->spool, "queue"), 0);
	enum spool_where where;
	assert_false(spool_find(sp, e.id, &where));

	/* The same ID can be used again after an abort. */
	w = spool_writer_begin(sp, &e, &err);
	assert_non_null(w);
	spool_writer_abort(&w);

	/* An envelope the writer cannot write: no file at all. */
	e.nrcpt = 0;
	err_clear(&err);
	assert_null(spool_writer_begin(sp, &e, &err));
	assert_int_equal(err.kind, ERR_KIND_INTERNAL);
	sample_env(&e);
	e.primary = SPOOL_OLD | SPOOL_NEW;
	assert_null(spool_writer_begin(sp, &e, &err));
	sample_env(&e);
	struct spool_rcpt bad_primary = { "x@example.jp", SPOOL_OLD, SPOOL_NEW };
	e.rcpts = &bad_primary;
	e.nrcpt = 1;
	assert_null(spool_writer_begin(sp, &e, &err));
	sample_env(&e);
	strcpy(e.id, "not-an-id");
	assert_null(spool_writer_begin(sp, &e, &err));
	assert_int_equal(count_entries(t->spool, "tmp"), 0);
	assert_int_equal(count_entries(t->spool, "queue"), 0);
	spool_close(&sp);
}

static void test_escaping(void **state)
{
	struct tmp *t = *state;
	struct spool *sp = open_ok(t->spool, SPOOL_EXCLUSIVE);
	struct spool_rcpt rc[] = {
		/* primary 0: the envelope's (old) or the only destination */
		{ "\"john doe\"@example.jp", SPOOL_OLD, 0 },
		{ "100%@example.jp", SPOOL_NEW, 0 },
		{ "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.jp", SPOOL_OLD | SPOOL_NEW, 0 },
		{ "tab\there\r\nnl\x7f@example.jp", SPOOL_BOUNCE, 0 },
		{ "-", SPOOL_OLD, SPOOL_OLD },
	};
	struct spool_env e, got;
	struct err err;
	char p[256];

	sample_env(&e);
	e.rcpts = rc;
	e.nrcpt = sizeof rc / sizeof rc[0];
	e.sender = "<>";                /* the text, not the null path */
	e.helo = "[IPv6:2001:db8::1] with space";
	e.message_id = "";
	e.client = NULL;                /* written as empty */
	spool_msg(sp, &e, "x\r\n", 3, NULL);

	snprintf(p, sizeof p, "%s/queue/%s", t->spool, e.id);
	char *f = read_file(p, NULL);
	assert_contains(f, "\nrcpt old \"john%20doe\"@example.jp\n");
	assert_contains(f, "\nrcpt new 100%25@example.jp\n");
	assert_contains(f, "\nrcpt old,new \xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b");
	assert_contains(f, "\nrcpt bounce tab%09here%0D%0Anl%7F@example.jp\n");
	assert_contains(f, "\nsender %3C>\n");
	assert_contains(f, "\nhelo [IPv6:2001:db8::1]%20with%20space\n");
	assert_contains(f, "\nclient \n");
	/* Every header line has at most the spaces the format puts there. */
	for (char *l = f; *l != '\n'; l = strchr(l, '\n') + 1) {
		size_t spaces = 0;
		for (char *c = l; *c != '\n'; c++)
			spaces += *c == ' ';
		assert_true(spaces <= (strncmp(l, "rcpt ", 5) == 0 ? 2u : 1u));
	}
	free(f);

	err_clear(&err);
	assert_true(spool_load(sp, SPOOL_QUEUE, e.id, &got, NULL, &err));
	assert_int_equal(got.nrcpt, e.nrcpt);
	for (size_t i = 0; i < e.nrcpt; i++) {
		assert_string_equal(got.rcpts[i].addr, rc[i].addr);
		assert_int_equal(got.rcpts[i].dests, rc[i].dests);
	}
	assert_int_equal(got.rcpts[0].primary, SPOOL_OLD);
	assert_int_equal(got.rcpts[1].primary, SPOOL_NEW);
	assert_int_equal(got.rcpts[2].primary, SPOOL_OLD);
	assert_int_equal(got.rcpts[3].primary, SPOOL_BOUNCE);
	assert_string_equal(got.sender, "<>");
	assert_string_equal(got.helo, e.helo);
	assert_string_equal(got.client, "");
	assert_non_null(got.message_id);
	assert_string_equal(got.message_id, "");
	spool_env_free(&got);
	spool_close(&sp);
}

static void test_delivery_log(void **state)
{
	struct tmp *t = *state;
	struct spool *sp = open_ok(t->spool, SPOOL_EXCLUSIVE);
	struct spool_env e, got;
	struct spool_status st;
	struct err err;
	char p[256];
	char dsn_id[SPOOL_ID_SIZE];
	time_t before = time(NULL);

	sample_env(&e);
	spool_msg(sp, &e, "x\r\n", 3, NULL);
	err_clear(&err);
	assert_true(spool_record(sp, e.id, SPOOL_OLD, 0, SPOOL_PENDING, 1,
				 "451 4.3.0 try later", &err));
	assert_true(spool_record(sp, e.id, SPOOL_OLD, 0, SPOOL_DONE, 2, "250 2.0.0 Ok: queued",
				 &err));
	assert_true(spool_record(sp, e.id, SPOOL_NEW, 0, SPOOL_PENDING, 1, NULL, &err));
	assert_true(spool_record(sp, e.id, SPOOL_NEW, 1, SPOOL_FAILED, 1,
				 "550 5.1.1 <bob@example.jp>: no such user\r\nsecond line", &err));
	assert_true(spool_record(sp, e.id, SPOOL_BOUNCE, 1, SPOOL_EXPIRED, 7, "-", &err));

	assert_true(spool_load(sp, SPOOL_QUEUE, e.id, &got, &st, &err));
	assert_int_equal(st.nrcpt, 2);
	struct spool_state *s = &st.st[0 * SPOOL_NDEST + spool_dest_index(SPOOL_OLD)];
	assert_int_equal(s->outcome, SPOOL_DONE);
	assert_int_equal(s->attempts, 2);
	assert_string_equal(s->last_text, "250 2.0.0 Ok: queued");
	assert_true(s->last_time >= (int64_t)before && s->last_time <= (int64_t)time(NULL));
	s = &st.st[0 * SPOOL_NDEST + spool_dest_index(SPOOL_NEW)];
	assert_int_equal(s->outcome, SPOOL_PENDING);
	assert_int_equal(s->attempts, 1);
	assert_true(s->last_time >= (int64_t)before);
	assert_null(s->last_text);
	s = &st.st[1 * SPOOL_NDEST + spool_dest_index(SPOOL_NEW)];
	assert_int_equal(s->outcome, SPOOL_FAILED);
	assert_string_equal(s->last_text, "550 5.1.1 <bob@example.jp>: no such user\r\nsecond line");
	s = &st.st[1 * SPOOL_NDEST + spool_dest_index(SPOOL_BOUNCE)];
	assert_int_equal(s->outcome, SPOOL_EXPIRED);
	assert_int_equal(s->attempts, 7);
	assert_string_equal(s->last_text, "-");
	s = &st.st[1 * SPOOL_NDEST + spool_dest_index(SPOOL_OLD)];
	assert_int_equal(s->outcome, SPOOL_PENDING);
	assert_int_equal(s->last_time, 0);
	assert_false(st.dsn_sent);
	spool_status_free(&st);
	spool_env_free(&got);

	/* One line per record, each a single line. */
	snprintf(p, sizeof p, "%s/queue/%s.st", t->spool, e.id);
	char *f = read_file(p, NULL);
	size_t lines = 0;
	for (char *c = f; *c; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 5);
	assert_contains(f, " old 0 done 2 250%202.0.0%20Ok:%20queued\n");
	assert_contains(f, " new 0 defer 1 -\n");
	free(f);

	/* A crash tore the last line: it is ignored, and the next record
	 * still counts. */
	static const char torn[] = "1760000100 old 0 fail 3 550%20tor";
	write_file(p, torn, sizeof torn - 1, O_APPEND);
	assert_true(spool_load(sp, SPOOL_QUEUE, e.id, &got, &st, &err));
	s = &st.st[0 * SPOOL_NDEST + spool_dest_index(SPOOL_OLD)];
	assert_int_equal(s->outcome, SPOOL_DONE);
	assert_int_equal(s->attempts, 2);
	spool_status_free(&st);
	spool_env_free(&got);

	spool_new_id(dsn_id);
	assert_true(spool_record(sp, e.id, SPOOL_NEW, 0, SPOOL_DONE, 2, "250 ok", &err));
	assert_true(spool_record_dsn(sp, e.id, dsn_id, &err));
	assert_true(spool_load(sp, SPOOL_QUEUE, e.id, &got, &st, &err));
	s = &st.st[0 * SPOOL_NDEST + spool_dest_index(SPOOL_NEW)];
	assert_int_equal(s->outcome, SPOOL_DONE);
	assert_int_equal(s->attempts, 2);
	assert_string_equal(s->last_text, "250 ok");
	assert_true(st.dsn_sent);
	s = &st.st[0 * SPOOL_NDEST + spool_dest_index(SPOOL_OLD)];
	assert_int_equal(s->outcome, SPOOL_DONE);       /* the torn fail did not count */
	spool_status_free(&st);
	spool_env_free(&got);
	f = read_file(p, NULL);
	assert_contains(f, "550%20tor\t(torn)\n");     /* the torn line was closed off */
	assert_contains(f, " - - dsn 0 ");
	assert_contains(f, dsn_id);
	free(f);

	/* Bad arguments. */
	err_clear(&err);
	assert_false(spool_record(sp, e.id, SPOOL_OLD | SPOOL_NEW, 0, SPOOL_DONE, 1, NULL, &err));
	assert_int_equal(err.kind, ERR_KIND_INTERNAL);
	err_clear(&err);
	assert_false(spool_record(sp, "../../etc/passwd", SPOOL_OLD, 0, SPOOL_DONE, 1, NULL,
				  &err));
	assert_true(err_is_set(&err));
	char other[SPOOL_ID_SIZE];
	spool_new_id(other);
	err_clear(&err);
	assert_false(spool_record(sp, other, SPOOL_OLD, 0, SPOOL_DONE, 1, NULL, &err));
	assert_contains(err.msg, other);
	assert_false(exists(t->spool, "queue", other));
	spool_close(&sp);
}

/* The log parser alone: last line wins, debris skipped. */
/* A log that keeps growing (a message retried for days) is rewritten with
 * the last line of each recipient and destination once it passes 1 MiB:
 * it stays small, and what it says is unchanged. */
static void test_log_compaction(void **state)
{
	struct tmp *t = *state;
	struct spool *sp = open_ok(t->spool, SPOOL_EXCLUSIVE);
	struct spool_env e, got;
	struct spool_status st;
	struct err err;
	char text[400], path[300];
	struct stat sb;

	sample_env(&e);   /* two recipients */
	spool_msg(sp, &e, "x\r\n", 3, NULL);
	err_clear(&err);
	memset(text, 'z', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	assert_true(spool_record(sp, e.id, SPOOL_OLD, 0, SPOOL_DONE, 1, "250 ok", &err));
	unsigned n = 0;
	for (; n < 6000; n++) {
		text[0] = (char)('a' + n % 26);
		assert_true(spool_record(sp, e.id, SPOOL_NEW, n % 2, SPOOL_PENDING, n / 2 + 1,
					 text, &err));
	}
	assert_true(spool_record_dsn(sp, e.id, e.id, &err));
	snprintf(path, sizeof path, "%s/queue/%s.st", t->spool, e.id);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size < 1100 * 1024);   /* 6000 lines of 400 would be 2.4 MB */
	assert_true(spool_load(sp, SPOOL_QUEUE, e.id, &got, &st, &err));
	struct spool_state *s = &st.st[0 * SPOOL_NDEST + spool_dest_index(SPOOL_OLD)];
	assert_int_equal(s->outcome, SPOOL_DONE);
	assert_int_equal(s->attempts, 1);
	assert_string_equal(s->last_text, "250 ok");
	for (unsigned r = 0; r < 2; r++) {
		s = &st.st[r * SPOOL_NDEST + spool_dest_index(SPOOL_NEW)];
		assert_int_equal(s->outcome, SPOOL_PENDING);
		assert_int_equal(s->attempts, 3000);
		text[0] = (char)('a' + (5998 + r) % 26);
		assert_string_equal(s->last_text, text);
	}
	assert_true(st.dsn_sent);
	spool_status_free(&st);
	spool_env_free(&got);   /* (e holds static strings) */
	spool_close(&sp);
}

static void test_parse_log(void **state)
{
	static const char log[] =
		"100 old 0 defer 1 451%20later\n"
		"junk\n"
		"\0\0\0\0\n"
		"101 old 5 done 1 -\n"              /* rcpt out of range */
		"102 sideways 0 done 1 -\n"
		"103 new 1 done 1 ok\n"
		"104 new 1 done 1 bad%escape\n"
		"105 new 1 done 1 two words\n"
		"106 old 0 fail 2 550%20no\n"
		"1 - - dsn 0 -\n"
		"2 - - dsn 0 01K1A5K4EY31056PWGC\n"  /* a torn ID */
		"107 old 0 done 9 ok";               /* torn */
	struct spool_status st;

	(void)state;
	assert_true(spool_parse_log(log, sizeof log - 1, 2, &st));
	assert_int_equal(st.nrcpt, 2);
	assert_true(st.dsn_sent);
	assert_int_equal(st.st[0].outcome, SPOOL_FAILED);
	assert_int_equal(st.st[0].attempts, 2);
	assert_int_equal(st.st[0].last_time, 106);
	assert_string_equal(st.st[0].last_text, "550 no");
	assert_int_equal(st.st[SPOOL_NDEST + 1].outcome, SPOOL_DONE);
	assert_int_equal(st.st[SPOOL_NDEST + 1].last_time, 103);
	assert_string_equal(st.st[SPOOL_NDEST + 1].last_text, "ok");
	assert_int_equal(st.st[1].outcome, SPOOL_PENDING);
	assert_int_equal(st.st[1].last_time, 0);
	spool_status_free(&st);
	assert_false(spool_parse_log("", 0, SIZE_MAX / 2, &st));
	/* A torn dsn line, closed off by a later record, is no dsn line. */
	static const char torn_dsn[] = "1 - - dsn 0 01K1A5K4\t(torn)\n2 old 0 done 1 -\n";
	assert_true(spool_parse_log(torn_dsn, sizeof torn_dsn - 1, 1, &st));
	assert_false(st.dsn_sent);
	assert_int_equal(st.st[0].outcome, SPOOL_DONE);
	spool_status_free(&st);
}

static void test_hold_and_remove(void **state)
{
	struct tmp *t = *state;
	struct spool *sp = open_ok(t->spool, SPOOL_EXCLUSIVE);
	struct spool_env e, e2, got;
	struct spool_status st;
	struct err err;
	enum spool_where where;
	char (*ids)[SPOOL_ID_SIZE];
	size_t n;
	char stname[SPOOL_ID_SIZE + 3];

	sample_env(&e);
	sample_env(&e2);
	spool_msg(sp, &e, "one\r\n", 5, NULL);
	spool_msg(sp, &e2, "two\r\n", 5, NULL);
	err_clear(&err);
	assert_true(spool_record(sp, e.id, SPOOL_OLD, 0, SPOOL_DONE, 1, "250 ok", &err));
	snprintf(stname, sizeof stname, "%s.st", e.id);

	assert_true(spool_move(sp, e.id, SPOOL_QUEUE, SPOOL_HOLD, &err));
	assert_true(spool_find(sp, e.id, &where));
	assert_int_equal(where, SPOOL_HOLD);
	assert_true(exists(t->spool, "hold", e.id));
	assert_true(exists(t->spool, "hold", stname));
	assert_false(exists(t->spool, "queue", e.id));
	assert_false(exists(t->spool, "queue", stname));
	assert_true(spool_list(sp, SPOOL_QUEUE, &ids, &n, &err));
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], e2.id);
	spool_ids_free(ids);
	assert_true(spool_list(sp, SPOOL_HOLD, &ids, &n, &err));
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], e.id);
	spool_ids_free(ids);

	/* Held: readable with its state, but not recorded to. */
	assert_true(spool_load(sp, SPOOL_HOLD, e.id, &got, &st, &err));
	assert_int_equal(st.st[0].outcome, SPOOL_DONE);
	spool_status_free(&st);
	spool_env_free(&got);
	err_clear(&err);
	assert_false(spool_load(sp, SPOOL_QUEUE, e.id, &got, NULL, &err));
	assert_contains(err.msg, e.id);
	err_clear(&err);
	assert_false(spool_record(sp, e.id, SPOOL_OLD, 0, SPOOL_DONE, 1, NULL, &err));
	assert_false(exists(t->spool, "queue", stname));
	err_clear(&err);
	assert_false(spool_move(sp, e.id, SPOOL_QUEUE, SPOOL_HOLD, &err));
	assert_contains(err.msg, e.id);

	/* Released: back with its log. */
	assert_true(spool_move(sp, e.id, SPOOL_HOLD, SPOOL_QUEUE, &err));
	assert_true(spool_find(sp, e.id, &where));
	assert_int_equal(where, SPOOL_QUEUE);
	assert_true(spool_load(sp, SPOOL_QUEUE, e.id, &got, &st, &err));
	assert_int_equal(st.st[0].outcome, SPOOL_DONE);
	assert_string_equal(st.st[0].last_text, "250 ok");
	spool_status_free(&st);
	spool_env_free(&got);
	/* Moving one with no log yet works too. */
	assert_true(spool_move(sp, e2.id, SPOOL_QUEUE, SPOOL_HOLD, &err));
	assert_true(spool_find(sp, e2.id, &where));
	assert_int_equal(where, SPOOL_HOLD);

	/* Removed for good, log and all. */
	assert_true(spool_remove(sp, SPOOL_QUEUE, e.id, &err));
	assert_false(spool_find(sp, e.id, &where));
	assert_false(exists(t->spool, "queue", stname));
	err_clear(&err);
	assert_false(spool_remove(sp, SPOOL_QUEUE, e.id, &err));
	assert_contains(err.msg, e.id);
	assert_true(spool_remove(sp, SPOOL_HOLD, e2.id, &err));
	assert_int_equal(count_entries(t->spool, "queue"), 0);
	assert_int_equal(count_entries(t->spool, "hold"), 0);

	/* IDs that are not IDs never become paths. */
	assert_false(spool_find(sp, "../lock", &where));
	err_clear(&err);
	assert_false(spool_remove(sp, SPOOL_QUEUE, "../lock", &err));
	assert_int_equal(err.kind, ERR_KIND_USAGE);
	assert_int_equal(access(t->spool, F_OK), 0);
	spool_close(&sp);
}

static void test_list_ignores_others(void **state)
{
	struct tmp *t = *state;
	struct spool *sp = open_ok(t->spool, 0);
	struct err err;
	char (*ids)[SPOOL_ID_SIZE];
	size_t n;
	char p[256];
	/* Sorted order differs from creation order. */
	const char *names[] = { "ZZZZZZZZZZZZZZZZZZZZ", "00000000000000000001",
				"0123456789ABCDEFGHJK" };

	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/queue/%s", t->spool, names[i]);
		write_file(p, "x", 1, 0);
	}
	const char *junk[] = { "notes.txt", "0123456789ABCDEFGHJK.st", "0123456789ABCDEFGHJI",
			       "0123456789abcdefghjk", "0123456789ABCDEFGHJKX" };
	for (size_t i = 0; i < 5; i++) {
		snprintf(p, sizeof p, "%s/queue/%s", t->spool, junk[i]);
		write_file(p, "x", 1, 0);
	}
	err_clear(&err);
	assert_true(spool_list(sp, SPOOL_QUEUE, &ids, &n, &err));
	assert_int_equal(n, 3);
	assert_string_equal(ids[0], "00000000000000000001");
	assert_string_equal(ids[1], "0123456789ABCDEFGHJK");
	assert_string_equal(ids[2], "ZZZZZZZZZZZZZZZZZZZZ");
	spool_ids_free(ids);
	spool_close(&sp);
}

static void test_lock(void **state)
{
	struct tmp *t = *state;
	struct spool *relay = open_ok(t->spool, SPOOL_EXCLUSIVE);
	struct spool *cmd, *second;
	struct err err;

	assert_true(spool_locked(relay));
	err_clear(&err);
	second = spool_open(t->spool, SPOOL_EXCLUSIVE, &err);
	assert_null(second);
	assert_contains(err.msg, "another mailshift relay is running on spool");
	assert_contains(err.msg, t->spool);

	cmd = open_ok(t->spool, 0);
	assert_true(spool_locked(cmd));
	assert_true(spool_locked(cmd));         /* asking does not change it */
	spool_close(&relay);
	assert_false(spool_locked(cmd));
	relay = open_ok(t->spool, SPOOL_EXCLUSIVE);
	assert_true(spool_locked(cmd));
	spool_close(&relay);
	spool_close(&cmd);
}

static void test_exclusive_open_tidies(void **state)
{
	struct tmp *t = *state;
	struct spool *sp = open_ok(t->spool, SPOOL_EXCLUSIVE);
	struct spool_env e, e2;
	struct spool_writer *w;
	struct err err;
	char p[256], stname[SPOOL_ID_SIZE + 3], stname2[SPOOL_ID_SIZE + 3], orphan[64];

	sample_env(&e);
	sample_env(&e2);
	spool_msg(sp, &e, "x\r\n", 3, NULL);
	spool_msg(sp, &e2, "y\r\n", 3, NULL);
	err_clear(&err);
	assert_true(spool_record(sp, e.id, SPOOL_OLD, 0, SPOOL_DONE, 1, NULL, &err));
	/* A message being received when the relay died. */
	struct spool_env e3;
	sample_env(&e3);
	w = spool_writer_begin(sp, &e3, &err);
	assert_non_null(w);
	assert_true(spool_writer_write(w, "partial", 7, &err));
	spool_close(&sp);
	/* (the writer's fd is still open: the crash is simulated by not
	 * finishing it; abort it at the end) */
	snprintf(p, sizeof p, "%s/tmp/leftover", t->spool);
	write_file(p, "z", 1, 0);

	/* Crash between the renames of a move: message in hold, log in queue. */
	snprintf(stname, sizeof stname, "%s.st", e.id);
	snprintf(p, sizeof p, "%s/queue/%s", t->spool, e.id);
	char q[256];
	snprintf(q, sizeof q, "%s/hold/%s", t->spool, e.id);
	assert_int_equal(rename(p, q), 0);
	/* Crash between the unlinks of a remove: a log alone. */
	snprintf(stname2, sizeof stname2, "%s.st", e2.id);
	snprintf(p, sizeof p, "%s/queue/%s", t->spool, e2.id);
	assert_int_equal(unlink(p), 0);
	snprintf(p, sizeof p, "%s/queue/%s", t->spool, stname2);
	write_file(p, "1 old 0 done 1 -\n", 17, 0);
	snprintf(orphan, sizeof orphan, "%s", stname2);

	/* A queue command does not touch any of it. */
	sp = open_ok(t->spool, 0);
	spool_close(&sp);
	assert_int_equal(count_entries(t->spool, "tmp"), 2);
	assert_true(exists(t->spool, "queue", stname));

	sp = open_ok(t->spool, SPOOL_EXCLUSIVE);
	assert_int_equal(count_entries(t->spool, "tmp"), 0);
	assert_false(exists(t->spool, "queue", stname));
	assert_true(exists(t->spool, "hold", stname));
	assert_false(exists(t->spool, "queue", orphan));
	assert_int_equal(count_entries(t->spool, "queue"), 0);
	struct spool_env got;
	struct spool_status st;
	assert_true(spool_load(sp, SPOOL_HOLD, e.id, &got, &st, &err));
	assert_int_equal(st.st[0].outcome, SPOOL_DONE);
	spool_status_free(&st);
	spool_env_free(&got);
	spool_writer_abort(&w);
	spool_close(&sp);
}

#define NIDS 100000

static int decode(char c)
{
	static const char a[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	const char *p = strchr(a, c);
	return p ? (int)(p - a) : -1;
}

static void test_ids(void **state)
{
	char (*ids)[SPOOL_ID_SIZE] = malloc(NIDS * sizeof *ids);
	struct timespec ts;
	uint64_t us = 0, now;

	(void)state;
	assert_non_null(ids);
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	for (size_t i = 0; i < NIDS; i++) {
		spool_new_id(ids[i]);
		assert_true(spool_id_valid(ids[i]));
		if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0) {
			print_message("%s then %s\n", ids[i - 1], ids[i]);
			fail();
		}
	}
	/* The first 12 characters are the time in microseconds. */
	for (int i = 0; i < 12; i++)
		us = us * 32 + (uint64_t)decode(ids[0][i]);
	assert_true(us >= now && us < now + 5000000);
	free(ids);

	assert_false(spool_id_valid(""));
	assert_false(spool_id_valid("0123456789ABCDEFGHJ"));
	assert_false(spool_id_valid("0123456789ABCDEFGHJKM"));
	assert_false(spool_id_valid("0123456789ABCDEFGHIK"));     /* I */
	assert_false(spool_id_valid("0123456789ABCDEFGHJk"));
	assert_false(spool_id_valid("../../../etc/passwd0"));
	assert_true(spool_id_valid("0123456789ABCDEFGHJK"));
	assert_false(spool_id_valid(NULL));

	assert_string_equal(spool_dest_name(SPOOL_OLD), "old");
	assert_string_equal(spool_dest_name(SPOOL_BOUNCE), "bounce");
	assert_null(spool_dest_name(SPOOL_OLD | SPOOL_NEW));
	assert_int_equal(spool_dest_parse("new"), SPOOL_NEW);
	assert_int_equal(spool_dest_parse("both"), 0);
	assert_int_equal(spool_dest_index(SPOOL_NEW), 1);
	assert_int_equal(spool_dest_index(SPOOL_BOUNCE), 2);
}

#define NTHREADS 4
#define PER_THREAD 25000

static void *id_thread(void *arg)
{
	char (*ids)[SPOOL_ID_SIZE] = arg;

	for (size_t i = 0; i < PER_THREAD; i++)
		spool_new_id(ids[i]);
	return NULL;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_ids_threads(void **state)
{
	char (*ids)[SPOOL_ID_SIZE] = malloc(NTHREADS * PER_THREAD * sizeof *ids);
	pthread_t th[NTHREADS];

	(void)state;
	assert_non_null(ids);
	for (size_t i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, id_thread, ids + i * PER_THREAD), 0);
	for (size_t i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	qsort(ids, NTHREADS * PER_THREAD, sizeof *ids, cmp_id);
	for (size_t i = 1; i < NTHREADS * PER_THREAD; i++)
		assert_true(strcmp(ids[i - 1], ids[i]) < 0);
	free(ids);
}

/* Writes DIR/queue/ID with the given header and data, as a damaged or
 * hand-made file would be. */
static void put_msg(const struct tmp *t, const char *id, const char *text)
{
	char p[256];

	snprintf(p, sizeof p, "%s/queue/%s", t->spool, id);
	write_file(p, text, strlen(text), O_TRUNC);
}

/* A good file for id with 5 octets of data, except that the line for key
 * is replaced by line (dropped when line is NULL); key NULL adds line
 * before the empty line. */
static void make_hdr(char *out, size_t n, const char *id, const char *key, const char *line)
{
	char idline[64];
	const char *std[] = { idline, "arrival 5", "client local", "helo h", "sender <>",
			      "primary old", "flags ", "size 5", "rcpt old a@b" };
	size_t len;

	snprintf(idline, sizeof idline, "id %s", id);
	len = (size_t)snprintf(out, n, "mailshift-spool 1\n");
	for (size_t i = 0; i < sizeof std / sizeof std[0]; i++) {
		const char *l = std[i];
		if (key != NULL && strncmp(l, key, strlen(key)) == 0 && l[strlen(key)] == ' ') {
			l = line;
			if (l == NULL)
				continue;
		}
		len += (size_t)snprintf(out + len, n - len, "%s\n", l);
	}
	if (key == NULL)
		len += (size_t)snprintf(out + len, n - len, "%s\n", line);
	snprintf(out + len, n - len, "\nhello");
}

static void load_fails(struct spool *sp, const char *id, const char *needle)
{
	struct spool_env e;
	struct spool_status st;
	struct err err;
	int fd = -1;
	uint64_t size;

	err_clear(&err);
	if (spool_load(sp, SPOOL_QUEUE, id, &e, &st, &err)) {
		spool_env_free(&e);
		spool_status_free(&st);
		print_message("load of %s succeeded, wanted '%s'\n", id, needle);
		fail();
	}
	assert_int_equal(err.kind, ERR_KIND_IO);
	assert_contains(err.msg, "damaged");
	assert_contains(err.msg, id);           /* names the file */
	assert_contains(err.msg, needle);
	assert_null(e.rcpts);
	err_clear(&err);
	assert_false(spool_open_data(sp, SPOOL_QUEUE, id, &fd, &size, &err));
	assert_contains(err.msg, needle);
}

static void test_damaged(void **state)
{
	struct tmp *t = *state;
	struct spool *sp = open_ok(t->spool, 0);
	char id[SPOOL_ID_SIZE], other[SPOOL_ID_SIZE], hdr[1024], line[64];
	struct spool_env e;
	struct err err;

	spool_new_id(id);
	/* The good file first, so each failure below is for its own reason;
	 * an unknown key is skipped, an unpadded size read. */
	make_hdr(hdr, sizeof hdr, id, NULL, "future-key whatever you like");
	put_msg(t, id, hdr);
	err_clear(&err);
	if (!spool_load(sp, SPOOL_QUEUE, id, &e, NULL, &err)) {
		print_message("%s\n", err.msg);
		fail();
	}
	assert_int_equal(e.size, 5);
	assert_string_equal(e.rcpts[0].addr, "a@b");
	assert_string_equal(e.sender, "");
	spool_env_free(&e);

	static const char *const cases[][3] = {
		/* key, its line instead, what the error says */
		{ "helo", NULL, "no helo line" },
		{ "size", NULL, "no size line" },
		{ "rcpt", NULL, "no rcpt line" },
		{ "arrival", "arrival 12x", "line 3: arrival is not a number" },
		{ "arrival", "arrival 99999999999999999999", "arrival is not a number" },
		{ "arrival", "arrival -5", "arrival is not a number" },
		{ "size", "size 6", "5 octets of data where its header says 6" },
		{ "size", "size 4", "5 octets of data where its header says 4" },
		{ "size", "size", "size is not a number" },
		{ "rcpt", "rcpt old a b@c", "line 10: rcpt address" },
		{ "rcpt", "rcpt old,bounce a@b", "rcpt destinations" },
		{ "rcpt", "rcpt old,old a@b", "rcpt destinations" },
		{ "rcpt", "rcpt a@b", "rcpt needs destinations and an address" },
		{ "primary", "primary both", "primary is not old, new or bounce" },
		{ "rcpt", "rcpt old,new,old a@b", "rcpt destinations" },
		{ "rcpt", "rcpt bounce,old a@b", "rcpt destinations" },
		{ "flags", "flags smtputf8,requiretls", "flags holds" },
		{ "flags", "flags smtputf8,", "flags holds" },
		{ NULL, "helo again", "appears twice" },
		{ NULL, "Sender x", "not a \"key value\" line" },
		{ "client", "client %4", "bad %XX" },
		{ "client", "client a%00b", "bad %XX" },
		{ "client", "client a\tb", "raw control octet" },
		{ "id", "id ../../etc/passwd", "id is not a spool message ID" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		make_hdr(hdr, sizeof hdr, id, cases[i][0], cases[i][1]);
		put_msg(t, id, hdr);
		load_fails(sp, id, cases[i][2]);
	}

	/* The file holds another message. */
	spool_new_id(other);
	snprintf(line, sizeof line, "id %s", other);
	make_hdr(hdr, sizeof hdr, id, "id", line);
	put_msg(t, id, hdr);
	load_fails(sp, id, other);

	/* No end of header; not a spool file; a newer one. */
	snprintf(hdr, sizeof hdr, "mailshift-spool 1\nid %s\narrival 5\n", id);
	put_msg(t, id, hdr);
	load_fails(sp, id, "ends inside the envelope header");
	put_msg(t, id, "From: someone\n\nhello");
	load_fails(sp, id, "not a spool message file");
	put_msg(t, id, "mailshift-spool 2\nid x\n\n");
	load_fails(sp, id, "newer mailshift");
	put_msg(t, id, "");
	load_fails(sp, id, "not a spool message file");

	/* A missing message is not "damaged", but says which one. */
	spool_new_id(other);
	err_clear(&err);
	assert_false(spool_load(sp, SPOOL_QUEUE, other, &e, NULL, &err));
	assert_contains(err.msg, other);
	assert_contains(err.msg, "no message");
	spool_close(&sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_folders, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_writable, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_abort, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_escaping, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_delivery_log, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_log_compaction, tmp_setup, tmp_teardown),
		cmocka_unit_test(test_parse_log),
		cmocka_unit_test_setup_teardown(test_hold_and_remove, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_list_ignores_others, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_lock, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_exclusive_open_tidies, tmp_setup, tmp_teardown),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_ids_threads),
		cmocka_unit_test_setup_teardown(test_damaged, tmp_setup, tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
