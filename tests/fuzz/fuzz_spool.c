/* fuzz_spool.c — libFuzzer target for the spool file parsers (spool.h):
 * spool_parse_env (message file header) and spool_parse_log (delivery log).
 *
 * The input is a spool file as it would lie on disk. It is parsed as a
 * message file; when that succeeds, the rest after the header is parsed as
 * a delivery log for that envelope (so one corpus file can hold both). The
 * whole input is also parsed as a log for 4 recipients.
 *
 * Checks, beyond "no crash, no leak, no UB":
 *   - a parsed envelope keeps the contract (valid ID, a recipient at least,
 *     destinations and primaries that make sense, the header ends in an
 *     empty line at data_off) and an error leaves it empty with a message;
 *   - the header alone parses to the same thing (no peeking past it);
 *   - round trip: the envelope written back in the documented format by
 *     this file's own writer (independent of spool.c's) parses to an equal
 *     envelope, ending exactly where the written header ends;
 *   - a log's states are in range, and the bytes after its last newline
 *     (a torn line) change nothing.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->p = realloc(o->p, o->cap);
		CHECK(o->p != NULL);
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_escaped(struct out *o, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '%' || c < 0x21 || c == 0x7f) {
			char e[4];
			snprintf(e, sizeof e, "%%%02x", c);   /* lower case: read too */
			put(o, e, 3);
		} else {
			put(o, s, 1);
		}
	}
}

static const char *dname(unsigned d)
{
	const char *n = spool_dest_name(d);
	CHECK(n != NULL);
	return n;
}

static void write_env(struct out *o, const struct spool_env *e)
{
	char num[64];

	puts_(o, "mailshift-spool 1\n");
	/* Keys in another order than spool.c writes them, and a key from the
	 * future, to show the order does not matter. */
	puts_(o, "rcpt-count-hint 7\nsize ");
	snprintf(num, sizeof num, "%llu\n", (unsigned long long)e->size);
	puts_(o, num);
	for (size_t i = 0; i < e->nrcpt; i++) {
		unsigned rest = e->rcpts[i].dests & ~e->rcpts[i].primary;
		puts_(o, "rcpt ");
		puts_(o, dname(e->rcpts[i].primary));
		if (rest) {
			puts_(o, ",");
			puts_(o, dname(rest));
		}
		puts_(o, " ");
		put_escaped(o, e->rcpts[i].addr);
		puts_(o, "\n");
	}
	puts_(o, "id ");
	puts_(o, e->id);
	snprintf(num, sizeof num, "\narrival %lld\nclient ", (long long)e->arrival);
	puts_(o, num);
	put_escaped(o, e->client);
	puts_(o, "\nhelo ");
	put_escaped(o, e->helo);
	puts_(o, "\nsender ");
	if (e->sender[0] == '\0')
		puts_(o, "<>");
	else if (strcmp(e->sender, "<>") == 0)
		puts_(o, "%3c>");
	else
		put_escaped(o, e->sender);
	if (e->message_id != NULL) {
		puts_(o, "\nmessage-id ");
		put_escaped(o, e->message_id);
	}
	puts_(o, "\nprimary ");
	puts_(o, dname(e->primary));
	puts_(o, "\nflags ");
	if (e->eightbit)
		puts_(o, e->smtputf8 ? "8bitmime,smtputf8" : "8bitmime");
	else if (e->smtputf8)
		puts_(o, "smtputf8");
	puts_(o, "\n\n");
}

static void check_env(const struct spool_env *e, const char *text, size_t off)
{
	CHECK(spool_id_valid(e->id));
	CHECK(e->client != NULL && e->helo != NULL && e->sender != NULL);
	CHECK(spool_dest_name(e->primary) != NULL);
	CHECK(e->nrcpt >= 1 && e->rcpts != NULL);
	for (size_t i = 0; i < e->nrcpt; i++) {
		unsigned d = e->rcpts[i].dests, p = e->rcpts[i].primary;
		CHECK(e->rcpts[i].addr != NULL);
		CHECK(d == SPOOL_OLD || d == SPOOL_NEW || d == (SPOOL_OLD | SPOOL_NEW) ||
		      d == SPOOL_BOUNCE);
		CHECK(spool_dest_name(p) != NULL && (d & p));
	}
	CHECK(off >= 2 && text[off - 1] == '\n' && text[off - 2] == '\n');
}

static bool str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void same_env(const struct spool_env *a, const struct spool_env *b)
{
	CHECK(strcmp(a->id, b->id) == 0);
	CHECK(a->arrival == b->arrival && a->size == b->size && a->primary == b->primary);
	CHECK(a->smtputf8 == b->smtputf8 && a->eightbit == b->eightbit);
	CHECK(str_eq(a->client, b->client) && str_eq(a->helo, b->helo));
	CHECK(str_eq(a->sender, b->sender) && str_eq(a->message_id, b->message_id));
	CHECK(a->nrcpt == b->nrcpt);
	for (size_t i = 0; i < a->nrcpt; i++) {
		CHECK(strcmp(a->rcpts[i].addr, b->rcpts[i].addr) == 0);
		CHECK(a->rcpts[i].dests == b->rcpts[i].dests);
		CHECK(a->rcpts[i].primary == b->rcpts[i].primary);
	}
}

static void check_log(const char *text, size_t len, size_t nrcpt)
{
	struct spool_status a, b;
	size_t whole = len;

	CHECK(spool_parse_log(text, len, nrcpt, &a));
	CHECK(a.nrcpt == nrcpt && a.st != NULL);
	while (whole > 0 && text[whole - 1] != '\n')
		whole--;
	CHECK(spool_parse_log(text, whole, nrcpt, &b));
	CHECK(a.dsn_sent == b.dsn_sent);
	for (size_t i = 0; i < nrcpt * SPOOL_NDEST; i++) {
		const struct spool_state *s = &a.st[i];
		CHECK(s->outcome >= SPOOL_PENDING && s->outcome <= SPOOL_EXPIRED);
		CHECK(s->last_time >= 0);
		CHECK(s->outcome == b.st[i].outcome && s->attempts == b.st[i].attempts);
		CHECK(s->last_time == b.st[i].last_time);
		CHECK(str_eq(s->last_text, b.st[i].last_text));
	}
	spool_status_free(&a);
	spool_status_free(&b);
	CHECK(a.st == NULL && a.nrcpt == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct spool_env e, e2, e3;
	struct err err;
	size_t off = 0, off2 = 0, off3 = 0;

	check_log(text, size, 4);

	err_clear(&err);
	if (!spool_parse_env(text, size, &e, &off, &err)) {
		CHECK(err_is_set(&err) && err.msg[0] != '\0');
		CHECK(e.rcpts == NULL && e.nrcpt == 0 && e.client == NULL && e.sender == NULL);
		return 0;
	}
	CHECK(off <= size);
	check_env(&e, text, off);

	/* The header alone is enough. */
	CHECK(spool_parse_env(text, off, &e2, &off2, &err));
	CHECK(off2 == off);
	same_env(&e, &e2);
	spool_env_free(&e2);

	/* Written back by an independent writer, read again. */
	struct out o = { 0 };
	write_env(&o, &e);
	put(&o, "trailing data\r\n", 15);
	err_clear(&err);
	if (!spool_parse_env(o.p, o.len, &e3, &off3, &err)) {
		fprintf(stderr, "round trip failed: %s\n%s", err.msg, o.p);
		__builtin_trap();
	}
	CHECK(off3 == o.len - 15);
	same_env(&e, &e3);
	spool_env_free(&e3);
	free(o.p);

	check_log(text + off, size - off, e.nrcpt);
	spool_env_free(&e);
	CHECK(e.rcpts == NULL && e.nrcpt == 0);
	return 0;
}
