/* identity.c — is this message on new the same as that one on old?
 *
 * Contract: see identity.h. Decisions the header leaves open, made here:
 *
 * Header block (ident_parse_headers)
 *   - Lines end at LF; a CR right before the LF belongs to the line end. A
 *     line starting with SP or HTAB continues the field above it; any other
 *     non-empty line starts a field "Name: value" (WSP before the colon is
 *     tolerated, as RFC 5322's obsolete syntax allows). A line without a
 *     colon, or with a name that is not printable ASCII, is skipped together
 *     with its continuation lines: a stray mbox "From " line must not become
 *     the From field. The first empty line ends the block; what follows is
 *     not header.
 *   - Values are unfolded (the line breaks inside a field are removed, the
 *     WSP after them kept) and trimmed of SP, HTAB and CR at both ends. Inner
 *     whitespace is kept as is: both servers hand back the bytes they store.
 *   - NUL bytes are ordinary bytes while scanning (we never stop early, so
 *     the result never depends on where a NUL is). A C string cannot hold
 *     one, so a trace or Message-ID containing NUL is treated as absent; the
 *     hdrkey hashes the bytes as they are.
 *   - Message-ID: RFC 5322 comments "(...)" are skipped while looking for
 *     the first '<'; the id is '<' ... the first '>' after it, with any
 *     whitespace inside removed (an unfolded "<a\r\n @b>" is "<a@b>"), case
 *     kept. "<>" is no id. Without a complete <...>, the value with comments
 *     removed and trimmed is taken when it is non-empty and has no
 *     whitespace, else there is no id.
 *   - A trace or Message-ID longer than IDENT_MAX_VALUE bytes is treated as
 *     absent: no legitimate one is that long, and the matcher keeps them all
 *     in memory for 100k-message folders.
 *   - trace/msgid are overwritten, not freed: hand in a zeroed ident or one
 *     that went through ident_free. uid, size, date and the body hash are
 *     not touched.
 *
 * Matcher (ident_match), the rules in order, each dst used at most once and
 * each src at most once; among equal candidates the lowest dst index wins,
 * src messages taking their turn in index order:
 *   1. equal non-NULL trace;
 *   2. own copy: same msgid (both non-NULL), or both without msgid and the
 *      same hdrkey, and the same size and the same date — no body hash;
 *   3. same msgid and the same body hash;
 *   4. both without msgid, the same hdrkey and the same body hash.
 * "src in index order, each taking the lowest free dst" equals zipping the
 * two index-sorted lists of one key group, so every rule is a sort of both
 * sides by (key, index) and one merge walk: O((n+m) log(n+m)) comparisons
 * for 100k-message folders instead of n*m. Rules 3 and 4 key on (key, body)
 * once the hashes are in, so even thousands of messages that share one key
 * (no headers at all) stay cheap. Rule 1 does not forbid later rules for
 * messages whose traces differ; the header's rules do not ask for it.
 *
 * need_bodies is called at most once for src (side 0), then at most once for
 * dst (side 1), never with n == 0, with the indices in ascending order: the
 * members of every rule 3/4 key group present on both sides after rule 2
 * that do not have has_body yet. A NULL need_bodies means "no hashes to be
 * had": only messages whose has_body is already set can match by 3–4.
 * With no pairs, *pairs_r is NULL.
 *
 * SECURITY: the header block comes from an IMAP server; every read is
 * bounded by len and every kept string by IDENT_MAX_VALUE.
 */
#include "identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "../core/alloc.h"

#define IDENT_MAX_VALUE 1000

/* ---- header block ---- */

enum field { F_MSGID, F_TRACE, F_DATE, F_FROM, F_SUBJECT, F_COUNT };

static const char *const field_names[F_COUNT] = {
	"Message-ID", IDENTITY_TRACE_HEADER, "Date", "From", "Subject",
};

/* Where a field's value lies in the block: from after the colon to the end
 * of its last continuation line, line breaks included. */
struct span {
	size_t start, end;
	bool seen;
};

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int field_lookup(const char *name, size_t n)
{
	for (int f = 0; f < F_COUNT; f++)
		if (strlen(field_names[f]) == n && strncasecmp(name, field_names[f], n) == 0)
			return f;
	return -1;
}

static void scan_fields(const char *hdr, size_t len, struct span sp[F_COUNT])
{
	size_t pos = 0;
	int cur = -1;   /* field that continuation lines extend; -1: none we keep */

	memset(sp, 0, sizeof(struct span) * F_COUNT);
	while (pos < len) {
		const char *nl = memchr(hdr + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - hdr) : len;
		size_t next = nl ? end + 1 : len;

		if (nl && end > pos && hdr[end - 1] == '\r')
			end--;
		if (end == pos)
			break;
		if (hdr[pos] == ' ' || hdr[pos] == '\t') {
			if (cur >= 0)
				sp[cur].end = end;
			pos = next;
			continue;
		}
		cur = -1;
		const char *colon = memchr(hdr + pos, ':', end - pos);
		if (colon != NULL) {
			size_t ne = (size_t)(colon - hdr);
			bool ok = true;

			while (ne > pos && (hdr[ne - 1] == ' ' || hdr[ne - 1] == '\t'))
				ne--;
			for (size_t i = pos; i < ne; i++)
				if ((unsigned char)hdr[i] < 33 || (unsigned char)hdr[i] > 126)
					ok = false;
			int f = ok && ne > pos ? field_lookup(hdr + pos, ne - pos) : -1;
			if (f >= 0 && !sp[f].seen) {
				sp[f].seen = true;
				sp[f].start = (size_t)(colon - hdr) + 1;
				sp[f].end = end;
				cur = f;
			}
		}
		pos = next;
	}
}

/* The unfolded, trimmed value of a field ("" when absent), NUL-terminated;
 * *n_r excludes the terminator. */
static char *unfold(const char *hdr, const struct span *s, size_t *n_r)
{
	size_t cap = s->seen ? s->end - s->start : 0;
	char *v = xmalloc(cap + 1);
	size_t n = 0, a = 0;

	for (size_t i = s->start; s->seen && i < s->end; i++) {
		if (hdr[i] == '\n')
			continue;
		if (hdr[i] == '\r' && i + 1 < s->end && hdr[i + 1] == '\n')
			continue;
		v[n++] = hdr[i];
	}
	while (a < n && is_wsp(v[a]))
		a++;
	while (n > a && is_wsp(v[n - 1]))
		n--;
	memmove(v, v + a, n - a);
	n -= a;
	v[n] = '\0';
	*n_r = n;
	return v;
}

/* A kept string: no NUL inside, not too long, not empty. */
static char *keep(const char *v, size_t n)
{
	if (n == 0 || n > IDENT_MAX_VALUE || memchr(v, '\0', n) != NULL)
		return NULL;
	return xstrndup(v, n);
}

static char *msgid_from(const char *v, size_t n)
{
	char *out = xmalloc(n + 3);
	size_t o = 0, lt = n, depth = 0;
	char *res;

	for (size_t i = 0; i < n && lt == n; i++) {
		if (depth > 0) {
			if (v[i] == '\\')
				i++;
			else if (v[i] == '(')
				depth++;
			else if (v[i] == ')')
				depth--;
		} else if (v[i] == '(') {
			depth = 1;
		} else if (v[i] == '<') {
			lt = i;
		}
	}
	const char *gt = lt < n ? memchr(v + lt, '>', n - lt) : NULL;
	if (gt != NULL) {
		out[o++] = '<';
		for (size_t i = lt + 1; v + i < gt; i++)
			if (!is_wsp(v[i]))
				out[o++] = v[i];
		out[o++] = '>';
		res = o > 2 ? keep(out, o) : NULL;
		free(out);
		return res;
	}
	/* No <...>: the bare value, comments counting as whitespace. */
	depth = 0;
	for (size_t i = 0; i < n; i++) {
		if (depth > 0) {
			if (v[i] == '\\')
				i++;
			else if (v[i] == '(')
				depth++;
			else if (v[i] == ')' && --depth == 0)
				out[o++] = ' ';
		} else if (v[i] == '(') {
			depth = 1;
		} else {
			out[o++] = v[i];
		}
	}
	size_t a = 0;
	while (a < o && is_wsp(out[a]))
		a++;
	while (o > a && is_wsp(out[o - 1]))
		o--;
	res = NULL;
	for (size_t i = a; i < o; i++)
		if (is_wsp(out[i]))
			goto done;
	res = keep(out + a, o - a);
done:
	free(out);
	return res;
}

void ident_parse_headers(struct ident *id, const char *hdr, size_t len)
{
	struct span sp[F_COUNT];
	char *v[F_COUNT];
	size_t n[F_COUNT];
	unsigned char md[32];
	struct body_hash h;
	static const char hex[] = "0123456789abcdef";

	if (hdr == NULL)
		len = 0;
	scan_fields(hdr, len, sp);
	for (int f = 0; f < F_COUNT; f++)
		v[f] = unfold(hdr, &sp[f], &n[f]);

	id->msgid = msgid_from(v[F_MSGID], n[F_MSGID]);
	id->trace = keep(v[F_TRACE], n[F_TRACE]);

	/* The NULs keep "a" "bc" apart from "ab" "c". */
	body_hash_init(&h);
	body_hash_feed(&h, v[F_DATE], n[F_DATE] + 1);
	body_hash_feed(&h, v[F_FROM], n[F_FROM] + 1);
	body_hash_feed(&h, v[F_SUBJECT], n[F_SUBJECT]);
	body_hash_final(&h, md);
	for (int i = 0; i < 32; i++) {
		id->hdrkey[2 * i] = hex[md[i] >> 4];
		id->hdrkey[2 * i + 1] = hex[md[i] & 15];
	}
	id->hdrkey[64] = '\0';

	for (int f = 0; f < F_COUNT; f++)
		free(v[f]);
}

void ident_free(struct ident *id)
{
	if (id == NULL)
		return;
	free(id->trace);
	free(id->msgid);
	id->trace = NULL;
	id->msgid = NULL;
}

/* ---- body hash ---- */

/* A digest that cannot be set up is as fatal as out of memory: without it
 * no identity can be decided, and going on would copy mail twice. */
static void crypto_fail(const char *what)
{
	fprintf(stderr, "mailshift: OpenSSL SHA-256 %s failed\n", what);
	abort();
}

void body_hash_init(struct body_hash *h)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (c == NULL)
		crypto_fail("context allocation");
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		crypto_fail("init");
	h->ctx = c;
}

void body_hash_feed(struct body_hash *h, const void *p, size_t n)
{
	if (n > 0 && EVP_DigestUpdate(h->ctx, p, n) != 1)
		crypto_fail("update");
}

void body_hash_final(struct body_hash *h, unsigned char out[32])
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != 32)
		crypto_fail("final");
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

/* ---- matcher ---- */

struct ref {
	const struct ident *id;
	size_t idx;
};

typedef int key_cmp_fn(const struct ident *a, const struct ident *b);

static int cmp_trace(const struct ident *a, const struct ident *b)
{
	return strcmp(a->trace, b->trace);
}

/* Rules 3-4 key: the msgid, or without one the hdrkey; the two kinds never
 * compare equal. */
static int cmp_key(const struct ident *a, const struct ident *b)
{
	if ((a->msgid == NULL) != (b->msgid == NULL))
		return a->msgid == NULL ? 1 : -1;
	if (a->msgid != NULL)
		return strcmp(a->msgid, b->msgid);
	return strcmp(a->hdrkey, b->hdrkey);
}

static int cmp_own(const struct ident *a, const struct ident *b)
{
	int c = cmp_key(a, b);

	if (c != 0)
		return c;
	if (a->size != b->size)
		return a->size < b->size ? -1 : 1;
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return 0;
}

static int cmp_body(const struct ident *a, const struct ident *b)
{
	int c = cmp_key(a, b);

	return c != 0 ? c : memcmp(a->body, b->body, sizeof a->body);
}

#define REF_SORTER(name, keyfn)                                            \
	static int name(const void *pa, const void *pb)                    \
	{                                                                  \
		const struct ref *a = pa, *b = pb;                         \
		int c = keyfn(a->id, b->id);                               \
		if (c != 0)                                                \
			return c;                                          \
		return a->idx < b->idx ? -1 : a->idx > b->idx;             \
	}

REF_SORTER(sort_trace, cmp_trace)
REF_SORTER(sort_own, cmp_own)
REF_SORTER(sort_key, cmp_key)
REF_SORTER(sort_body, cmp_body)

struct matcher {
	struct ident *src, *dst;
	size_t nsrc, ndst;
	size_t *src_to_dst;   /* SIZE_MAX: unpaired */
	bool *dst_used;
	struct ref *rs, *rd;  /* scratch, nsrc and ndst long */
	size_t nrs, nrd;
};

/* Collect the unpaired messages that rule `want` can look at. */
enum pick { PICK_TRACE, PICK_ALL, PICK_BODY };

static void collect(struct matcher *m, enum pick want)
{
	m->nrs = m->nrd = 0;
	for (size_t i = 0; i < m->nsrc; i++) {
		const struct ident *id = &m->src[i];
		if (m->src_to_dst[i] != SIZE_MAX || (want == PICK_TRACE && id->trace == NULL) ||
		    (want == PICK_BODY && !id->has_body))
			continue;
		m->rs[m->nrs++] = (struct ref){ id, i };
	}
	for (size_t j = 0; j < m->ndst; j++) {
		const struct ident *id = &m->dst[j];
		if (m->dst_used[j] || (want == PICK_TRACE && id->trace == NULL) ||
		    (want == PICK_BODY && !id->has_body))
			continue;
		m->rd[m->nrd++] = (struct ref){ id, j };
	}
}

/* Sort both sides by (key, index) and walk the key groups together.
 * With pair set, the k-th src of a group takes the k-th dst of it; else
 * the groups present on both sides are reported through `mark`. */
static void merge(struct matcher *m, int (*sorter)(const void *, const void *), key_cmp_fn *key,
		  bool pair, bool *src_mark, bool *dst_mark)
{
	size_t i = 0, j = 0;

	qsort(m->rs, m->nrs, sizeof *m->rs, sorter);
	qsort(m->rd, m->nrd, sizeof *m->rd, sorter);
	while (i < m->nrs && j < m->nrd) {
		int c = key(m->rs[i].id, m->rd[j].id);
		if (c < 0) {
			i++;
			continue;
		}
		if (c > 0) {
			j++;
			continue;
		}
		size_t i2 = i + 1, j2 = j + 1;
		while (i2 < m->nrs && key(m->rs[i].id, m->rs[i2].id) == 0)
			i2++;
		while (j2 < m->nrd && key(m->rd[j].id, m->rd[j2].id) == 0)
			j2++;
		if (pair) {
			for (size_t k = 0; i + k < i2 && j + k < j2; k++) {
				m->src_to_dst[m->rs[i + k].idx] = m->rd[j + k].idx;
				m->dst_used[m->rd[j + k].idx] = true;
			}
		} else {
			for (size_t k = i; k < i2; k++)
				src_mark[m->rs[k].idx] = true;
			for (size_t k = j; k < j2; k++)
				dst_mark[m->rd[k].idx] = true;
		}
		i = i2;
		j = j2;
	}
}

/* Ask for the hashes of the marked messages of one side that lack one. */
static bool fetch_bodies(struct ident *v, size_t n, const bool *mark, int side,
			 ident_need_bodies_cb *need_bodies, void *ctx, struct err *err)
{
	size_t *idx = xcalloc(n ? n : 1, sizeof *idx), k = 0;
	bool ok = true;

	for (size_t i = 0; i < n; i++)
		if (mark[i] && !v[i].has_body)
			idx[k++] = i;
	if (k > 0 && need_bodies != NULL) {
		ok = need_bodies(ctx, side, v, idx, k, err);
		if (!ok && err != NULL && !err_is_set(err))
			err_set(err, ERR_SCOPE_FOLDER, ERR_KIND_INTERNAL, false,
				"body hashes for the %s side could not be had; "
				"the folder was left as it is",
				side == 0 ? "source" : "destination");
	}
	free(idx);
	return ok;
}

bool ident_match(struct ident *src, size_t nsrc, struct ident *dst, size_t ndst,
		 ident_need_bodies_cb *need_bodies, void *ctx, struct ident_pair **pairs_r,
		 size_t *npairs_r, struct err *err)
{
	struct matcher m = {
		.src = src, .dst = dst, .nsrc = nsrc, .ndst = ndst,
		.src_to_dst = xmalloc((nsrc ? nsrc : 1) * sizeof(size_t)),
		.dst_used = xcalloc(ndst ? ndst : 1, sizeof(bool)),
		.rs = xcalloc(nsrc ? nsrc : 1, sizeof(struct ref)),
		.rd = xcalloc(ndst ? ndst : 1, sizeof(struct ref)),
	};
	bool *src_mark = xcalloc(nsrc ? nsrc : 1, sizeof(bool));
	bool *dst_mark = xcalloc(ndst ? ndst : 1, sizeof(bool));
	bool ok = false;

	*pairs_r = NULL;
	*npairs_r = 0;
	for (size_t i = 0; i < nsrc; i++)
		m.src_to_dst[i] = SIZE_MAX;

	collect(&m, PICK_TRACE);
	merge(&m, sort_trace, cmp_trace, true, NULL, NULL);
	collect(&m, PICK_ALL);
	merge(&m, sort_own, cmp_own, true, NULL, NULL);

	/* Rules 3-4: which messages are candidates at all, then their hashes
	 * (one round trip per side), then the pairing on (key, hash). */
	collect(&m, PICK_ALL);
	merge(&m, sort_key, cmp_key, false, src_mark, dst_mark);
	if (!fetch_bodies(src, nsrc, src_mark, 0, need_bodies, ctx, err) ||
	    !fetch_bodies(dst, ndst, dst_mark, 1, need_bodies, ctx, err))
		goto out;
	collect(&m, PICK_BODY);
	merge(&m, sort_body, cmp_body, true, NULL, NULL);

	size_t np = 0;
	for (size_t i = 0; i < nsrc; i++)
		np += m.src_to_dst[i] != SIZE_MAX;
	if (np > 0) {
		struct ident_pair *p = xcalloc(np, sizeof *p);
		size_t k = 0;
		for (size_t i = 0; i < nsrc; i++)
			if (m.src_to_dst[i] != SIZE_MAX)
				p[k++] = (struct ident_pair){ i, m.src_to_dst[i] };
		*pairs_r = p;
		*npairs_r = np;
	}
	ok = true;
out:
	free(m.src_to_dst);
	free(m.dst_used);
	free(m.rs);
	free(m.rd);
	free(src_mark);
	free(dst_mark);
	return ok;
}
