/* fuzz_identity.c — libFuzzer target for src/sync/identity.c.
 *
 * 1. ident_parse_headers on the raw input: msgid and trace are non-empty C
 *    strings of at most 1000 bytes without surrounding whitespace (msgid
 *    without any), hdrkey is 64 lowercase hex digits; parsing is
 *    deterministic; an input without CR parses the same once every LF is
 *    turned into CRLF.
 * 2. The same bytes describe two small ident arrays (3 bytes a message,
 *    from tiny alphabets so that keys collide) and the hashes need_bodies
 *    hands back. ident_match must call need_bodies at most once per side,
 *    src first, with exactly the indices the rules ask for, ascending; its
 *    pairs must be sorted by src, use each dst once, and equal those of a
 *    plain O(n*m) transcription of the rules; a failing need_bodies must
 *    make it fail with err set and no pairs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "sync/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXN 9

static void check_parsed(const struct ident *id)
{
	if (id->msgid != NULL) {
		size_t n = strlen(id->msgid);
		if (n == 0 || n > 1000)
			abort();
		for (size_t i = 0; i < n; i++)
			if (id->msgid[i] == ' ' || id->msgid[i] == '\t' || id->msgid[i] == '\r')
				abort();
	}
	if (id->trace != NULL) {
		size_t n = strlen(id->trace);
		if (n == 0 || n > 1000)
			abort();
		if (strchr(" \t\r", id->trace[0]) || strchr(" \t\r", id->trace[n - 1]))
			abort();
	}
	for (int i = 0; i < 64; i++)
		if (!((id->hdrkey[i] >= '0' && id->hdrkey[i] <= '9') ||
		      (id->hdrkey[i] >= 'a' && id->hdrkey[i] <= 'f')))
			abort();
	if (id->hdrkey[64] != '\0')
		abort();
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_same(const struct ident *a, const struct ident *b)
{
	if (!same_str(a->msgid, b->msgid) || !same_str(a->trace, b->trace) ||
	    strcmp(a->hdrkey, b->hdrkey) != 0)
		abort();
}

static void fuzz_parse(const uint8_t *data, size_t size)
{
	struct ident a = { 0 }, b = { 0 };
	char *copy = xmalloc(size ? size : 1);

	memcpy(copy, data, size);
	ident_parse_headers(&a, copy, size);
	check_parsed(&a);
	ident_parse_headers(&b, copy, size);
	check_same(&a, &b);
	ident_free(&b);
	free(copy);

	if (memchr(data, '\r', size) == NULL) {
		char *crlf = xmalloc(2 * size + 1);
		size_t n = 0;
		for (size_t i = 0; i < size; i++) {
			if (data[i] == '\n')
				crlf[n++] = '\r';
			crlf[n++] = (char)data[i];
		}
		ident_parse_headers(&b, crlf, n);
		check_same(&a, &b);
		ident_free(&b);
		free(crlf);
	}
	ident_free(&a);
}

/* ---- matcher ---- */

struct fz {
	uint8_t resp[2][MAXN];      /* per message: body answer, 3 = none */
	bool want[2][MAXN];         /* indices the rules ask hashes for */
	int calls[2];
	int fail_side;              /* -1: never fail */
};

static bool fz_need(void *ctx, int side, struct ident *v, const size_t *idx, size_t n,
		    struct err *err)
{
	struct fz *f = ctx;
	bool asked[MAXN] = { false };

	if (side != 0 && side != 1)
		abort();
	if (f->calls[side]++ > 0 || (side == 0 && f->calls[1] > 0) || n == 0 || n > MAXN)
		abort();
	for (size_t k = 0; k < n; k++) {
		if (idx[k] >= MAXN || (k > 0 && idx[k] <= idx[k - 1]) || v[idx[k]].has_body)
			abort();
		asked[idx[k]] = true;
	}
	for (size_t i = 0; i < MAXN; i++)
		if (asked[i] != f->want[side][i])
			abort();
	if (side == f->fail_side) {
		err_set(err, ERR_SCOPE_FOLDER, ERR_KIND_CONNECT, true, "fuzz: fetch failed");
		return false;
	}
	for (size_t k = 0; k < n; k++) {
		unsigned r = f->resp[side][idx[k]] & 3;
		if (r < 3) {
			memset(v[idx[k]].body, (int)r, 32);
			v[idx[k]].has_body = true;
		}
	}
	return true;
}

static bool same_key(const struct ident *a, const struct ident *b)
{
	if (a->msgid != NULL || b->msgid != NULL)
		return a->msgid != NULL && b->msgid != NULL && strcmp(a->msgid, b->msgid) == 0;
	return strcmp(a->hdrkey, b->hdrkey) == 0;
}

static bool rule_ok(int rule, const struct ident *s, const struct ident *d)
{
	if (rule == 1)
		return s->trace && d->trace && strcmp(s->trace, d->trace) == 0;
	if (rule == 2)
		return same_key(s, d) && s->size == d->size && s->date == d->date;
	return same_key(s, d) && s->has_body && d->has_body && memcmp(s->body, d->body, 32) == 0;
}

/* Rules 1..last as the header states them: src in order, lowest free dst. */
static void reference(const struct ident *s, size_t ns, const struct ident *d, size_t nd,
		      int last, size_t *s2d, bool *used)
{
	for (int rule = 1; rule <= last; rule++)
		for (size_t i = 0; i < ns; i++)
			for (size_t j = 0; j < nd && s2d[i] == SIZE_MAX; j++)
				if (!used[j] && rule_ok(rule, &s[i], &d[j])) {
					s2d[i] = j;
					used[j] = true;
				}
}

static const char *const traces[4] = { NULL, "t1", "t2", NULL };
static const char *const msgids[4] = { NULL, "<a>", "<b>", NULL };
static const char *const keys[2] = {
	"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	"1accb859802b71b6aee73289241622f82d7b94ae9f2e3dc953a0d49aecda913b",
};

/* Message bytes: b0 = trace(2) msgid(2) hdrkey(1) preset-hash(1) preset
 * value(2); b1 = size(1) date(1) answer(2) ...; b2 unused but kept so that
 * every third byte starts a message. */
static void build(struct ident *v, size_t n, const uint8_t *p, uint8_t *ans)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *b = p + 3 * i;
		memset(&v[i], 0, sizeof v[i]);
		v[i].uid = (uint32_t)i + 1;
		v[i].trace = traces[b[0] & 3] ? xstrdup(traces[b[0] & 3]) : NULL;
		v[i].msgid = msgids[(b[0] >> 2) & 3] ? xstrdup(msgids[(b[0] >> 2) & 3]) : NULL;
		memcpy(v[i].hdrkey, keys[(b[0] >> 4) & 1], 65);
		if (b[0] & 0x20) {
			memset(v[i].body, (b[0] >> 6) & 3, 32);
			v[i].has_body = true;
		}
		v[i].size = b[1] & 1;
		v[i].date = (b[1] >> 1) & 1;
		ans[i] = (b[1] >> 2) & 3;
	}
}

static void fuzz_match(const uint8_t *data, size_t size)
{
	uint8_t buf[2 + 6 * MAXN] = { 0 };
	struct ident s[MAXN], d[MAXN];
	size_t ns, nd, s2d[MAXN], k;
	bool used[MAXN] = { false }, sleft[MAXN], dleft[MAXN];
	struct fz f = { .fail_side = -1 };
	struct ident_pair *p = NULL;
	size_t np = 0;
	struct err err;

	memcpy(buf, data, size < sizeof buf ? size : sizeof buf);
	ns = buf[0] % (MAXN + 1);
	nd = (buf[0] >> 4) % (MAXN + 1);
	if (buf[1] & 0x80)
		f.fail_side = buf[1] & 1;
	build(s, ns, buf + 2, f.resp[0]);
	build(d, nd, buf + 2 + 3 * MAXN, f.resp[1]);

	/* Which hashes the rules ask for: members of a rule 3/4 key group on
	 * both sides after rules 1-2, that lack one. */
	for (size_t i = 0; i < ns; i++)
		s2d[i] = SIZE_MAX;
	reference(s, ns, d, nd, 2, s2d, used);
	for (size_t i = 0; i < ns; i++)
		sleft[i] = s2d[i] == SIZE_MAX;
	for (size_t j = 0; j < nd; j++)
		dleft[j] = !used[j];
	for (size_t i = 0; i < ns; i++)
		for (size_t j = 0; j < nd; j++)
			if (sleft[i] && dleft[j] && same_key(&s[i], &d[j])) {
				f.want[0][i] |= !s[i].has_body;
				f.want[1][j] |= !d[j].has_body;
			}

	err_clear(&err);
	bool ok = ident_match(s, ns, d, nd, fz_need, &f, &p, &np, &err);
	bool any0 = false, any1 = false;
	for (size_t i = 0; i < MAXN; i++) {
		any0 |= f.want[0][i];
		any1 |= f.want[1][i];
	}
	bool src_failed = f.fail_side == 0 && any0;
	if (f.calls[0] != any0 || f.calls[1] != (any1 && !src_failed))
		abort();
	bool should_fail = src_failed || (f.fail_side == 1 && any1);
	if (ok == should_fail)
		abort();
	if (!ok) {
		if (!err_is_set(&err) || p != NULL || np != 0)
			abort();
		goto out;
	}

	/* Invariants on their own, then equality with the reference. */
	bool dst_seen[MAXN] = { false };
	for (k = 0; k < np; k++) {
		if (p[k].src >= ns || p[k].dst >= nd || dst_seen[p[k].dst] ||
		    (k > 0 && p[k].src <= p[k - 1].src))
			abort();
		dst_seen[p[k].dst] = true;
		if (!rule_ok(1, &s[p[k].src], &d[p[k].dst]) &&
		    !rule_ok(2, &s[p[k].src], &d[p[k].dst]) &&
		    !rule_ok(3, &s[p[k].src], &d[p[k].dst]))
			abort();
	}
	for (size_t i = 0; i < ns; i++)
		s2d[i] = SIZE_MAX;
	memset(used, 0, sizeof used);
	reference(s, ns, d, nd, 3, s2d, used);
	k = 0;
	for (size_t i = 0; i < ns; i++) {
		if (s2d[i] == SIZE_MAX)
			continue;
		if (k >= np || p[k].src != i || p[k].dst != s2d[i])
			abort();
		k++;
	}
	if (k != np)
		abort();
out:
	free(p);
	for (size_t i = 0; i < ns; i++)
		ident_free(&s[i]);
	for (size_t j = 0; j < nd; j++)
		ident_free(&d[j]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parse(data, size);
	fuzz_match(data, size);
	return 0;
}
