/* copy.c — see copy.h. */
#include "copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "proto/imap_write.h"

#define FETCH_UIDS_PER_COMMAND 1000

struct meta {
	uint32_t uid;
	uint32_t seq;
	uint64_t size;
	char date[32];
	char *flags;         /* "(\Seen $Forwarded)", ready for APPEND */
	char *key;           /* identity key for "already on new", or NULL */
	bool wanted;         /* to be copied in the current pass */
	bool sent;           /* its literal went out in the current pass */
};

struct batch {
	struct copier *cp;
	size_t *idx;
	size_t n, cap;
	uint64_t bytes;
};

struct copier {
	struct copy_job *job;
	struct meta *m;
	size_t n, cap;
	bool seq_valid;
	bool single;             /* retry pass: one message per APPEND */
	bool in_cmd;
	struct batch *batch;
	struct meta *cur;        /* message whose literal is being forwarded */
	bool discard;            /* drop the current literal's bytes */
	size_t *retry;
	size_t nretry, cap_retry;
	uint64_t exists;
	uint64_t progress_msgs, progress_bytes;
	/* keys of messages found on new, sorted, with a used mark each */
	char **have;
	bool *have_used;
	size_t nhave, cap_have;
	bool fetching_new;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void report_fail(struct copier *cp, const struct meta *m, const char *why)
{
	struct copy_job *j = cp->job;

	j->res->failed++;
	if (j->opts->ops && j->opts->ops->message_failed)
		j->opts->ops->message_failed(j->opts->ctx, j->account, j->res->old_name, m->uid,
					     m->size, why);
}

static char *render_flags(const struct imap_arg *list)
{
	struct buf b;

	buf_init(&b, 0);
	buf_append_char(&b, '(');
	bool first = true;
	for (size_t i = 0; i < list->list_count; i++) {
		const char *f = imap_arg_str(&list->list[i]);
		if (f == NULL || list->list[i].type != IMAP_ARG_ATOM || !imap_flag_appendable(f))
			continue;  /* \Recent cannot be set; others would be BAD */
		if (!first)
			buf_append_char(&b, ' ');
		buf_append_str(&b, f);
		first = false;
	}
	buf_append_char(&b, ')');
	return buf_steal(&b);
}

/* "Message-ID: <a@b>\r\n\r\n" → "<a@b>"; "" when absent. */
static char *msgid_value(const char *hdr, size_t len)
{
	const char *colon = memchr(hdr, ':', len);
	if (colon == NULL)
		return xstrdup("");
	const char *p = colon + 1, *end = hdr + len;
	struct buf b;
	buf_init(&b, 0);
	for (; p < end; p++) {
		if (*p == '\r' || *p == '\n' || *p == ' ' || *p == '\t')
			continue;  /* unfold and trim: the value has no spaces */
		buf_append_char(&b, *p);
	}
	return buf_steal(&b);
}

static char *make_key(uint64_t size, const char *date, const char *msgid)
{
	long long t = 0;
	imap_datetime_parse(date, &t);
	return xasprintf("%llu %lld %s", (unsigned long long)size, t, msgid);
}

/* Walk "(NAME value NAME value ...)" of a FETCH response. */
struct fetch_items {
	uint32_t seq, uid;
	bool has_size, has_flags, has_date;
	uint64_t size;
	const struct imap_arg *flags;
	const char *date;
	const struct imap_arg *header;   /* BODY[HEADER.FIELDS ...] */
	const struct imap_arg *body;     /* BODY[] */
};

static bool parse_fetch(const struct imap_response *r, struct fetch_items *it)
{
	uint64_t v;

	memset(it, 0, sizeof *it);
	if (r->status != IMAP_STATUS_NONE || r->arg_count < 3 || !imap_arg_is(&r->args[1], "FETCH") ||
	    r->args[2].type != IMAP_ARG_LIST || !imap_arg_number(&r->args[0], &v) || v > UINT32_MAX)
		return false;
	it->seq = (uint32_t)v;
	const struct imap_arg *l = r->args[2].list;
	size_t n = r->args[2].list_count;
	for (size_t i = 0; i + 1 < n; i += 2) {
		const struct imap_arg *name = &l[i], *val = &l[i + 1];
		const char *s = imap_arg_str(name);
		if (s == NULL)
			return false;
		if (strcasecmp(s, "UID") == 0) {
			if (!imap_arg_number(val, &v) || v == 0 || v > UINT32_MAX)
				return false;
			it->uid = (uint32_t)v;
		} else if (strcasecmp(s, "RFC822.SIZE") == 0) {
			if (!imap_arg_number(val, &it->size))
				return false;
			it->has_size = true;
		} else if (strcasecmp(s, "FLAGS") == 0) {
			if (val->type != IMAP_ARG_LIST)
				return false;
			it->flags = val;
			it->has_flags = true;
		} else if (strcasecmp(s, "INTERNALDATE") == 0) {
			it->date = imap_arg_str(val);
			it->has_date = it->date != NULL;
		} else if (strncasecmp(s, "BODY[HEADER", 11) == 0) {
			it->header = val;
		} else if (strcasecmp(s, "BODY[]") == 0) {
			it->body = val;
		}
	}
	return true;
}

/* ---- pass 1: what old holds ---- */

static bool on_meta(void *ctx, struct imap_client *c, const struct imap_event *ev,
		    struct err *err)
{
	struct copier *cp = ctx;
	struct fetch_items it;

	(void)c;
	(void)err;
	if (ev->type != IMAP_PARSE_RESPONSE)
		return true;
	const struct imap_response *r = ev->resp;
	if (r->status == IMAP_STATUS_NONE && r->arg_count >= 2 && imap_arg_is(&r->args[1], "EXISTS"))
		imap_arg_number(&r->args[0], &cp->exists);
	if (!parse_fetch(r, &it) || it.uid == 0 || !it.has_size || !it.has_date)
		return true;
	const char *msgid = NULL;
	char *mid = NULL;
	if (it.header != NULL && (msgid = imap_arg_str(it.header)) != NULL)
		mid = msgid_value(msgid, it.header->len);
	if (cp->fetching_new) {
		if (cp->nhave == cp->cap_have) {
			cp->cap_have = cp->cap_have ? cp->cap_have * 2 : 256;
			cp->have = xreallocarray(cp->have, cp->cap_have, sizeof *cp->have);
		}
		cp->have[cp->nhave++] = make_key(it.size, it.date, mid ? mid : "");
		free(mid);
		return true;
	}
	if (!it.has_flags || !imap_datetime_valid(it.date)) {
		free(mid);
		return true;
	}
	if (cp->n == cp->cap) {
		cp->cap = cp->cap ? cp->cap * 2 : 256;
		cp->m = xreallocarray(cp->m, cp->cap, sizeof *cp->m);
	}
	struct meta *m = &cp->m[cp->n++];
	memset(m, 0, sizeof *m);
	m->uid = it.uid;
	m->seq = it.seq;
	m->size = it.size;
	snprintf(m->date, sizeof m->date, "%s", it.date);
	m->flags = render_flags(it.flags);
	m->key = mid != NULL ? make_key(it.size, it.date, mid) : NULL;
	free(mid);
	return true;
}

static int cmp_meta_uid(const void *a, const void *b)
{
	const struct meta *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static struct meta *find_uid(struct copier *cp, uint32_t uid)
{
	struct meta k = { .uid = uid };
	if (cp->n == 0)
		return NULL;
	return bsearch(&k, cp->m, cp->n, sizeof *cp->m, cmp_meta_uid);
}

static struct meta *find_seq(struct copier *cp, uint32_t seq)
{
	/* UIDs grow with sequence numbers, so the array is sorted by both. */
	size_t lo = 0, hi = cp->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cp->m[mid].seq == seq)
			return &cp->m[mid];
		if (cp->m[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool run_ok(struct imap_client *c, struct err *err, enum err_scope scope,
		   const char *what, const char *cmd)
{
	struct imap_reply r = { 0 };
	bool ok = imap_client_run(c, &r, err, "%s", cmd);
	if (ok && r.status != IMAP_STATUS_OK) {
		err_set(err, scope, ERR_KIND_REFUSED, false, "%s refused %s: %s",
			imap_client_what(c), what, r.text);
		ok = false;
	}
	imap_reply_clear(&r);
	return ok;
}

/* ---- pass 2: forward literals into APPENDs ---- */

static void append_done(void *ctx, const struct imap_response *tagged)
{
	struct batch *b = ctx;
	struct copier *cp = b->cp;
	struct copy_job *j = cp->job;

	if (tagged == NULL) {
		/* Abandoned with its connection: the folder will be redone. */
	} else if (tagged->status == IMAP_STATUS_OK) {
		for (size_t i = 0; i < b->n; i++) {
			j->res->copied++;
			j->res->bytes += cp->m[b->idx[i]].size;
		}
		cp->progress_msgs += b->n;
		cp->progress_bytes += b->bytes;
		if (j->opts->ops && j->opts->ops->progress)
			j->opts->ops->progress(j->opts->ctx, j->account, cp->progress_msgs,
					       cp->progress_bytes);
	} else if (b->n > 1 && !cp->single) {
		for (size_t i = 0; i < b->n; i++) {
			if (cp->nretry == cp->cap_retry) {
				cp->cap_retry = cp->cap_retry ? cp->cap_retry * 2 : 64;
				cp->retry = xreallocarray(cp->retry, cp->cap_retry,
							  sizeof *cp->retry);
			}
			cp->retry[cp->nretry++] = b->idx[i];
		}
	} else {
		char why[600];
		snprintf(why, sizeof why, "new server said %s: %s%s%s%s",
			 tagged->status == IMAP_STATUS_NO ? "NO" : "BAD",
			 tagged->code ? "[" : "", tagged->code ? tagged->code : "",
			 tagged->code ? "] " : "", tagged->text ? tagged->text : "");
		for (size_t i = 0; i < b->n; i++)
			report_fail(cp, &cp->m[b->idx[i]], why);
	}
	if (cp->batch == b)
		cp->batch = NULL;
	free(b->idx);
	free(b);
}

static bool end_cmd(struct copier *cp, struct err *err)
{
	struct copy_job *j = cp->job;

	if (!cp->in_cmd)
		return true;
	cp->in_cmd = false;
	cp->batch = NULL;
	if (!imap_cmd_end(j->new_c, err))
		return false;
	return imap_client_wait(j->new_c, j->opts->window, err);
}

static bool item_begin(struct copier *cp, struct meta *m, uint64_t size, struct err *err)
{
	struct copy_job *j = cp->job;

	cp->cur = m;
	cp->discard = false;
	m->sent = true;
	if (!cp->in_cmd) {
		struct batch *b = xcalloc(1, sizeof *b);
		b->cp = cp;
		cp->batch = b;
		imap_cmd_begin(j->new_c, append_done, b);
		imap_cmd_add(j->new_c, "APPEND ");
		if (!imap_cmd_add_astring(j->new_c, j->dst_wire, err))
			return false;
		cp->in_cmd = true;
	}
	struct batch *b = cp->batch;
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->idx = xreallocarray(b->idx, b->cap, sizeof *b->idx);
	}
	b->idx[b->n++] = (size_t)(m - cp->m);
	b->bytes += size;
	m->size = size;
	imap_cmd_add(j->new_c, " ");
	imap_cmd_add(j->new_c, m->flags);
	imap_cmd_add(j->new_c, " \"");
	imap_cmd_add(j->new_c, m->date);
	imap_cmd_add(j->new_c, "\" ");
	if (!imap_cmd_literal(j->new_c, size, err)) {
		if (err->kind != ERR_KIND_REFUSED)
			return false;
		/* The server ended the command instead of taking the
		 * literal; append_done() has dealt with its messages. */
		err_clear(err);
		cp->in_cmd = false;
		cp->batch = NULL;
		cp->discard = true;
	}
	return true;
}

static bool item_end(struct copier *cp, struct err *err)
{
	const struct sync_options *o = cp->job->opts;
	bool multi = o->use_multiappend && !cp->single &&
		     imap_client_caps(cp->job->new_c)->multiappend;

	cp->cur = NULL;
	if (cp->discard) {
		cp->discard = false;
		return true;
	}
	struct batch *b = cp->batch;
	if (!multi || b == NULL || b->n >= o->batch_messages || b->bytes >= o->batch_bytes)
		return end_cmd(cp, err);
	return true;
}

static struct meta *lookup(struct copier *cp, uint32_t uid, uint32_t seq)
{
	struct meta *m = NULL;

	if (uid != 0)
		m = find_uid(cp, uid);
	else if (cp->seq_valid)
		m = find_seq(cp, seq);
	if (m == NULL || !m->wanted || m->sent)
		return NULL;
	return m;
}

static bool on_body(void *ctx, struct imap_client *c, const struct imap_event *ev,
		    struct err *err)
{
	struct copier *cp = ctx;
	struct imap_client *nc = cp->job->new_c;
	struct fetch_items it;

	(void)c;
	switch (ev->type) {
	case IMAP_PARSE_LITERAL_BEGIN: {
		struct meta *m = NULL;
		if (strcasecmp(ev->lit->section, "BODY[]") == 0)
			m = lookup(cp, ev->lit->fetch_uid, ev->lit->fetch_seq);
		if (m == NULL) {
			cp->cur = NULL;
			cp->discard = true;
			return true;
		}
		return item_begin(cp, m, ev->lit->size, err);
	}
	case IMAP_PARSE_LITERAL_DATA:
		if (cp->discard || cp->cur == NULL)
			return true;
		return imap_cmd_data(nc, ev->data, ev->len, err);
	case IMAP_PARSE_LITERAL_END:
		if (cp->cur == NULL && cp->discard) {
			cp->discard = false;
			return true;
		}
		return item_end(cp, err);
	case IMAP_PARSE_RESPONSE:
		break;
	default:
		return true;
	}
	const struct imap_response *r = ev->resp;
	if (r->status == IMAP_STATUS_NONE && r->arg_count >= 2 && imap_arg_is(&r->args[1], "EXPUNGE"))
		cp->seq_valid = false;  /* sequence numbers shifted under us */
	if (!parse_fetch(r, &it) || it.body == NULL || it.body->type != IMAP_ARG_STRING)
		return true;
	struct meta *m = lookup(cp, it.uid, it.seq);
	if (m == NULL)
		return true;
	if (!item_begin(cp, m, it.body->len, err))
		return false;
	if (!cp->discard && !imap_cmd_data(nc, it.body->str, it.body->len, err))
		return false;
	return item_end(cp, err);
}

static void uid_set(struct buf *b, const uint32_t *u, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && u[j + 1] == u[j] + 1)
			j++;
		if (b->len > 0)
			buf_append_char(b, ',');
		if (j > i)
			buf_printf(b, "%u:%u", u[i], u[j]);
		else
			buf_printf(b, "%u", u[i]);
		i = j + 1;
	}
}

/* Fetch every wanted message's body and forward it. */
static bool body_pass(struct copier *cp, struct err *err)
{
	struct copy_job *j = cp->job;
	uint32_t *uids = xcalloc(FETCH_UIDS_PER_COMMAND, sizeof *uids);
	struct buf set;
	struct imap_reply *replies = NULL;
	size_t nrep = 0, caprep = 0;
	bool ok = true;

	buf_init(&set, 0);
	imap_client_set_handler(j->old_c, on_body, cp);
	for (size_t i = 0; i < cp->n;) {
		size_t k = 0;
		for (; i < cp->n && k < FETCH_UIDS_PER_COMMAND; i++)
			if (cp->m[i].wanted && !cp->m[i].sent)
				uids[k++] = cp->m[i].uid;
		if (k == 0)
			break;
		buf_reset(&set);
		uid_set(&set, uids, k);
		if (nrep == caprep) {
			caprep = caprep ? caprep * 2 : 8;
			replies = xreallocarray(replies, caprep, sizeof *replies);
		}
		memset(&replies[nrep], 0, sizeof replies[nrep]);
		imap_cmd_begin(j->old_c, imap_reply_store, &replies[nrep++]);
		imap_cmd_add(j->old_c, "UID FETCH ");
		imap_cmd_add(j->old_c, set.data);
		imap_cmd_add(j->old_c, " (UID BODY.PEEK[])");
		if (!imap_cmd_end(j->old_c, err)) {
			ok = false;
			break;
		}
	}
	ok = ok && imap_client_wait(j->old_c, 0, err);
	ok = ok && end_cmd(cp, err);
	ok = ok && imap_client_wait(j->new_c, 0, err);
	for (size_t i = 0; i < nrep; i++) {
		if (ok && replies[i].status != IMAP_STATUS_OK) {
			err_set(err, ERR_SCOPE_FOLDER, ERR_KIND_REFUSED, false,
				"old server refused to fetch messages of '%s': %s",
				j->res->old_name, replies[i].text);
			ok = false;
		}
		imap_reply_clear(&replies[i]);
	}
	imap_client_set_handler(j->old_c, NULL, NULL);
	free(replies);
	free(uids);
	buf_free(&set);
	return ok;
}

/* ---- the folder ---- */

static bool open_old(struct copier *cp, struct err *err)
{
	struct copy_job *j = cp->job;
	char *q = imap_quote(j->src->wire);
	char *cmd = xasprintf("EXAMINE %s", q ? q : "\"\"");
	bool ok;

	imap_client_set_handler(j->old_c, on_meta, cp);
	ok = run_ok(j->old_c, err, ERR_SCOPE_FOLDER, "to open the folder", cmd);
	free(cmd);
	free(q);
	if (ok && cp->exists > 0) {
		const char *items = j->dst_exists
			? "UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE "
			  "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
			: "UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)";
		ok = run_ok(j->old_c, err, ERR_SCOPE_FOLDER, "to list messages", items);
	}
	imap_client_set_handler(j->old_c, NULL, NULL);
	if (ok && cp->n > 0)
		qsort(cp->m, cp->n, sizeof *cp->m, cmp_meta_uid);
	return ok;
}

/* What new already holds in the target folder, as identity keys. */
static bool scan_new(struct copier *cp, struct err *err)
{
	struct copy_job *j = cp->job;
	char *q = imap_quote(j->dst_wire);
	char *cmd = xasprintf("EXAMINE %s", q ? q : "\"\"");
	uint64_t saved = cp->exists;
	bool ok;

	cp->exists = 0;
	cp->fetching_new = true;
	imap_client_set_handler(j->new_c, on_meta, cp);
	ok = run_ok(j->new_c, err, ERR_SCOPE_FOLDER, "to open the target folder", cmd);
	if (ok && cp->exists > 0)
		ok = run_ok(j->new_c, err, ERR_SCOPE_FOLDER, "to list messages",
			    "UID FETCH 1:* (UID RFC822.SIZE INTERNALDATE "
			    "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])");
	/* Leave the folder: APPENDs to a selected folder would flood us
	 * with EXISTS responses. */
	if (ok)
		ok = run_ok(j->new_c, err, ERR_SCOPE_FOLDER, "to close the folder", "CLOSE");
	imap_client_set_handler(j->new_c, NULL, NULL);
	cp->fetching_new = false;
	cp->exists = saved;
	free(cmd);
	free(q);
	if (ok) {
		if (cp->nhave > 0)
			qsort(cp->have, cp->nhave, sizeof *cp->have, cmp_str);
		cp->have_used = xcalloc(cp->nhave ? cp->nhave : 1, sizeof *cp->have_used);
	}
	return ok;
}

/* Mark old messages that new holds already (each copy on new matches
 * one copy on old: duplicates are counted, not collapsed). */
static void match_existing(struct copier *cp)
{
	for (size_t i = 0; i < cp->n; i++) {
		struct meta *m = &cp->m[i];
		if (m->key == NULL || cp->nhave == 0)
			continue;
		char **hit = bsearch(&m->key, cp->have, cp->nhave, sizeof *cp->have, cmp_str);
		if (hit == NULL)
			continue;
		size_t h = (size_t)(hit - cp->have);
		while (h > 0 && strcmp(cp->have[h - 1], m->key) == 0)
			h--;
		for (; h < cp->nhave && strcmp(cp->have[h], m->key) == 0; h++) {
			if (!cp->have_used[h]) {
				cp->have_used[h] = true;
				m->wanted = false;
				cp->job->res->skipped++;
				break;
			}
		}
	}
}

static bool ensure_target(struct copier *cp, struct err *err)
{
	struct copy_job *j = cp->job;
	struct imap_reply r = { 0 };
	char *q = imap_quote(j->dst_wire);
	bool ok;

	if (q == NULL) {
		err_set(err, ERR_SCOPE_FOLDER, ERR_KIND_INTERNAL, false,
			"cannot name folder '%s' on the new server", j->dst_wire);
		return false;
	}
	if (!j->dst_exists) {
		ok = imap_client_run(j->new_c, &r, err, "CREATE %s", q);
		if (ok && r.status != IMAP_STATUS_OK &&
		    !(r.code && strcasecmp(r.code, "ALREADYEXISTS") == 0)) {
			err_set(err, ERR_SCOPE_FOLDER, ERR_KIND_REFUSED, false,
				"new server refused to create folder '%s': %s", j->res->new_name,
				r.text);
			ok = false;
		}
		if (!ok)
			goto out;
	}
	ok = imap_client_run(j->new_c, &r, err, "SUBSCRIBE %s", q);
	if (ok && r.status != IMAP_STATUS_OK && j->opts->ops && j->opts->ops->warning) {
		char msg[700];
		snprintf(msg, sizeof msg, "new server refused to subscribe '%s': %s",
			 j->res->new_name, r.text);
		j->opts->ops->warning(j->opts->ctx, j->account, msg);
	}
out:
	imap_reply_clear(&r);
	free(q);
	return ok;
}

static void copier_free(struct copier *cp)
{
	for (size_t i = 0; i < cp->n; i++) {
		free(cp->m[i].flags);
		free(cp->m[i].key);
	}
	for (size_t i = 0; i < cp->nhave; i++)
		free(cp->have[i]);
	free(cp->have);
	free(cp->have_used);
	free(cp->m);
	free(cp->retry);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool copy_folder(struct copy_job *job, struct err *err)
{
	struct copier cp = { .job = job, .seq_valid = true };
	const struct sync_options *o = job->opts;
	double t0 = now();
	bool ok;

	if (job->src->noselect)
		return ensure_target(&cp, err);
	ok = ensure_target(&cp, err) && open_old(&cp, err);
	if (ok && job->dst_exists)
		ok = scan_new(&cp, err);
	if (!ok)
		goto out;
	job->res->total += cp.n;
	for (size_t i = 0; i < cp.n; i++)
		cp.m[i].wanted = true;
	match_existing(&cp);

	uint64_t limit = imap_client_caps(job->new_c)->appendlimit;
	uint64_t want = 0, want_bytes = 0;
	for (size_t i = 0; i < cp.n; i++) {
		struct meta *m = &cp.m[i];
		if (!m->wanted)
			continue;
		if (limit > 0 && m->size > limit) {
			char why[200];
			snprintf(why, sizeof why,
				 "larger than the new server's APPENDLIMIT (%llu bytes)",
				 (unsigned long long)limit);
			m->wanted = false;
			report_fail(&cp, m, why);
			continue;
		}
		want++;
		want_bytes += m->size;
	}
	if (o->ops && o->ops->folder_begin)
		o->ops->folder_begin(o->ctx, job->account, job->res->old_name, job->res->new_name,
				     want, want_bytes);
	if (want > 0)
		ok = body_pass(&cp, err);
	if (ok && cp.nretry > 0) {
		/* A MULTIAPPEND was refused as a whole: redo its messages
		 * one by one so only the bad one fails. */
		for (size_t i = 0; i < cp.n; i++)
			cp.m[i].wanted = false;
		for (size_t i = 0; i < cp.nretry; i++) {
			cp.m[cp.retry[i]].wanted = true;
			cp.m[cp.retry[i]].sent = false;
		}
		cp.nretry = 0;
		cp.single = true;
		ok = body_pass(&cp, err);
	}
	/* A wanted message the old server never sent (expunged meanwhile)
	 * is neither copied nor failed: it no longer exists on old. */
out:
	if (!ok) {
		/* Pending APPENDs point into this copier: settle them now. */
		imap_client_abort(job->new_c);
		imap_client_abort(job->old_c);
	}
	job->res->seconds += now() - t0;
	copier_free(&cp);
	return ok;
}
