/* ident_fetch.c — see ident_fetch.h. */
#include "ident_fetch.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "imap/imap_util.h"

#define UIDS_PER_COMMAND 1000

struct id_ctx {
	struct ident *v;
	size_t n;
	struct body_hash h;
	struct ident *cur;   /* the literal being hashed */
};

struct ident *ident_find(struct ident *v, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].uid == uid)
			return &v[mid];
		if (v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool on_header(void *ctx, struct imap_client *c, const struct imap_event *ev,
		      struct err *err)
{
	struct id_ctx *ic = ctx;
	struct imap_fetch it;

	(void)c;
	(void)err;
	if (ev->type != IMAP_PARSE_RESPONSE || !imap_fetch_parse(ev->resp, &it) || it.uid == 0)
		return true;
	struct ident *id = ident_find(ic->v, ic->n, it.uid);
	if (id == NULL)
		return true;
	/* a server repeating the fields for one UID: the last answer wins */
	free(id->msgid);
	free(id->trace);
	id->msgid = id->trace = NULL;
	if (it.header != NULL && it.header->type == IMAP_ARG_STRING)
		ident_parse_headers(id, it.header->str, (size_t)it.header->len);
	else
		ident_parse_headers(id, "", 0);
	return true;
}

static void drop_partial(struct id_ctx *ic)
{
	if (ic->cur != NULL) {
		unsigned char junk[32];
		body_hash_final(&ic->h, junk);
		ic->cur = NULL;
	}
}

static bool on_text(void *ctx, struct imap_client *c, const struct imap_event *ev,
		    struct err *err)
{
	struct id_ctx *ic = ctx;
	struct imap_fetch it;

	(void)c;
	(void)err;
	switch (ev->type) {
	case IMAP_PARSE_LITERAL_BEGIN:
		drop_partial(ic);
		if (strcasecmp(ev->lit->section, "BODY[TEXT]") == 0 && ev->lit->fetch_uid != 0)
			ic->cur = ident_find(ic->v, ic->n, ev->lit->fetch_uid);
		if (ic->cur != NULL)
			body_hash_init(&ic->h);
		return true;
	case IMAP_PARSE_LITERAL_DATA:
		if (ic->cur != NULL)
			body_hash_feed(&ic->h, ev->data, ev->len);
		return true;
	case IMAP_PARSE_LITERAL_END:
		if (ic->cur != NULL) {
			body_hash_final(&ic->h, ic->cur->body);
			ic->cur->has_body = true;
			ic->cur = NULL;
		}
		return true;
	case IMAP_PARSE_RESPONSE:
		break;
	default:
		return true;
	}
	/* Small bodies come inline in the response. */
	if (!imap_fetch_parse(ev->resp, &it) || it.uid == 0 || it.text == NULL ||
	    it.text->type != IMAP_ARG_STRING)
		return true;
	struct ident *id = ident_find(ic->v, ic->n, it.uid);
	if (id == NULL || id->has_body)
		return true;
	struct body_hash h;
	body_hash_init(&h);
	body_hash_feed(&h, it.text->str, (size_t)it.text->len);
	body_hash_final(&h, id->body);
	id->has_body = true;
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static bool fetch(struct imap_client *c, struct ident *v, size_t n, const size_t *idx,
		  size_t nidx, const char *item, imap_event_cb *cb, struct err *err)
{
	struct id_ctx ic = { .v = v, .n = n };
	uint32_t *uids = xcalloc(nidx ? nidx : 1, sizeof *uids);
	bool ok = true;

	for (size_t i = 0; i < nidx; i++)
		uids[i] = v[idx ? idx[i] : i].uid;
	qsort(uids, nidx, sizeof *uids, cmp_u32);
	imap_client_set_handler(c, cb, &ic);
	for (size_t i = 0; i < nidx && ok; i += UIDS_PER_COMMAND) {
		struct buf set;
		buf_init(&set, 0);
		imap_uid_set(&set, uids + i, nidx - i > UIDS_PER_COMMAND ? UIDS_PER_COMMAND : nidx - i);
		ok = imap_run_ok(c, ERR_SCOPE_FOLDER, "to fetch message identity", err,
				 "UID FETCH %s (UID %s)", set.data, item);
		buf_free(&set);
	}
	imap_client_set_handler(c, NULL, NULL);
	drop_partial(&ic);
	free(uids);
	return ok;
}

bool ident_fetch_headers(struct imap_client *c, struct ident *v, size_t n, struct err *err)
{
	return fetch(c, v, n, NULL, n, IDENTITY_FETCH_ITEM, on_header, err);
}

bool ident_fetch_bodies(struct imap_client *c, struct ident *v, size_t n, const size_t *idx,
			size_t nidx, struct err *err)
{
	return fetch(c, v, n, idx, nidx, "BODY.PEEK[TEXT]", on_text, err);
}

bool ident_fetch_need_bodies(void *ctx, int side, struct ident *v, const size_t *idx, size_t n,
			     struct err *err)
{
	struct ident_sides *sd = ctx;
	return ident_fetch_bodies(sd->c[side], v, sd->n[side], idx, n, err);
}
