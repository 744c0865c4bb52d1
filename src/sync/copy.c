/* copy.c — see copy.h. */
#include "copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "imap/imap_util.h"
#include "sync/throttle.h"

#define FETCH_UIDS_PER_COMMAND 1000

struct batch {
	struct copier *cp;
	size_t *idx;
	size_t n, cap;
	uint64_t bytes;
};

struct copier {
	struct copy_job *job;
	struct copy_msg *m;
	size_t n;
	bool *wanted;            /* per message: to be sent in this pass */
	bool *sent;              /* per message: its literal went out in this pass */
	bool seq_valid;
	bool single;             /* retry pass: one message per APPEND */
	bool in_cmd;
	struct batch *batch;
	struct copy_msg *cur;    /* message whose literal is being forwarded */
	bool discard;            /* drop the current literal's bytes */
	size_t *retry;
	size_t nretry, cap_retry;
	uint64_t progress_msgs, progress_bytes;
	uint64_t paced_msgs, paced_bytes;
	double t0;
	unsigned throttle_ms;      /* the server asked for a pause */
	unsigned throttle_retries;
};

static void report_fail(struct copier *cp, struct copy_msg *m, const char *why)
{
	struct copy_job *j = cp->job;

	m->state = COPY_FAILED;
	j->res->failed++;
	if (j->opts->ops && j->opts->ops->message_failed)
		j->opts->ops->message_failed(j->opts->ctx, j->account, j->src_name, m->uid, m->size,
					     why);
}

static int cmp_msg_uid(const void *a, const void *b)
{
	const struct copy_msg *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static struct copy_msg *find_uid(struct copier *cp, uint32_t uid)
{
	struct copy_msg k = { .uid = uid };
	if (cp->n == 0)
		return NULL;
	return bsearch(&k, cp->m, cp->n, sizeof *cp->m, cmp_msg_uid);
}

static struct copy_msg *find_seq(struct copier *cp, uint32_t seq)
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

/* APPENDUID uidvalidity uid-set: the new UIDs, in the order appended. */
static void note_appenduid(struct batch *b, const char *code)
{
	struct copier *cp = b->cp;
	uint32_t *uids = NULL;
	size_t n = 0;

	if (code == NULL || strncasecmp(code, "APPENDUID ", 10) != 0)
		return;
	const char *p = strchr(code + 10, ' ');
	if (p == NULL || !imap_uid_set_parse(p + 1, &uids, &n, b->n) || n != b->n) {
		free(uids);
		return;
	}
	for (size_t i = 0; i < n; i++)
		cp->m[b->idx[i]].dst_uid = uids[i];
	free(uids);
}

static void append_done(void *ctx, const struct imap_response *tagged)
{
	struct batch *b = ctx;
	struct copier *cp = b->cp;
	struct copy_job *j = cp->job;

	if (tagged == NULL) {
		/* Abandoned with its connection: the caller redoes the folder. */
	} else if (tagged->status == IMAP_STATUS_OK) {
		note_appenduid(b, tagged->code);
		for (size_t i = 0; i < b->n; i++) {
			struct copy_msg *m = &cp->m[b->idx[i]];
			m->state = COPY_DONE;
			j->res->copied++;
			j->res->bytes += m->size;
			if (j->on_copied)
				j->on_copied(j->ctx, m);
		}
		cp->progress_msgs += b->n;
		cp->progress_bytes += b->bytes;
		if (j->opts->ops && j->opts->ops->progress)
			j->opts->ops->progress(j->opts->ctx, j->account, cp->progress_msgs,
					       cp->progress_bytes);
	} else if ((b->n > 1 && !cp->single) ||
		   (throttle_hint_ms(tagged->text) > 0 && cp->throttle_retries < 3)) {
		/* Refused as a batch, or the server asks us to slow down:
		 * redo these messages one by one (after the pause). */
		unsigned hint = throttle_hint_ms(tagged->text);
		if (hint > cp->throttle_ms)
			cp->throttle_ms = hint;
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
		snprintf(why, sizeof why, "%s said %s: %s%s%s%s", imap_client_what(j->dst_c),
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
	if (!imap_cmd_end(j->dst_c, err))
		return false;
	return imap_client_wait(j->dst_c, j->opts->window, err);
}

static bool item_begin(struct copier *cp, struct copy_msg *m, uint64_t size, struct err *err)
{
	struct copy_job *j = cp->job;
	size_t i = (size_t)(m - cp->m);

	cp->cur = m;
	cp->discard = false;
	cp->sent[i] = true;
	if (!cp->in_cmd) {
		struct batch *b = xcalloc(1, sizeof *b);
		b->cp = cp;
		cp->batch = b;
		imap_cmd_begin(j->dst_c, append_done, b);
		imap_cmd_add(j->dst_c, "APPEND ");
		if (!imap_cmd_add_astring(j->dst_c, j->dst_wire, err))
			return false;
		cp->in_cmd = true;
	}
	struct batch *b = cp->batch;
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->idx = xreallocarray(b->idx, b->cap, sizeof *b->idx);
	}
	b->idx[b->n++] = i;
	b->bytes += size;
	m->size = size;
	imap_cmd_add(j->dst_c, " ");
	imap_cmd_add(j->dst_c, m->flags);
	imap_cmd_add(j->dst_c, " \"");
	imap_cmd_add(j->dst_c, m->date);
	imap_cmd_add(j->dst_c, "\" ");
	if (!imap_cmd_literal(j->dst_c, size, err)) {
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

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --max-bytes-per-second / --max-messages-per-second: when ahead of the
 * allowed pace, send what is buffered and wait. */
static void pace(struct copier *cp, uint64_t size)
{
	const struct sync_options *o = cp->job->opts;
	double ahead = 0;

	cp->paced_msgs++;
	cp->paced_bytes += size;
	if (o->max_messages_per_second == 0 && o->max_bytes_per_second == 0)
		return;
	double el = now() - cp->t0;
	if (o->max_messages_per_second > 0) {
		double want = (double)cp->paced_msgs / (double)o->max_messages_per_second;
		if (want - el > ahead)
			ahead = want - el;
	}
	if (o->max_bytes_per_second > 0) {
		double want = (double)cp->paced_bytes / (double)o->max_bytes_per_second;
		if (want - el > ahead)
			ahead = want - el;
	}
	if (ahead > 0.001) {
		struct timespec ts = { .tv_sec = (time_t)ahead,
				       .tv_nsec = (long)((ahead - (double)(time_t)ahead) * 1e9) };
		nanosleep(&ts, NULL);
	}
}

static bool item_end(struct copier *cp, struct err *err)
{
	const struct sync_options *o = cp->job->opts;
	bool multi = o->use_multiappend && !cp->single &&
		     imap_client_caps(cp->job->dst_c)->multiappend;
	uint64_t size = cp->cur ? cp->cur->size : 0;

	cp->cur = NULL;
	if (cp->discard) {
		cp->discard = false;
		return true;
	}
	struct batch *b = cp->batch;
	if (sync_stop_requested) {
		/* Stop between messages: finish the APPEND in flight and
		 * let its confirmation be recorded, then give up the rest. */
		if (!end_cmd(cp, err) || !imap_client_wait(cp->job->dst_c, 0, err))
			return false;
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_INTERNAL, false,
			"interrupted (what was copied is recorded)");
		return false;
	}
	bool ok = true;
	if (!multi || b == NULL || b->n >= o->batch_messages || b->bytes >= o->batch_bytes)
		ok = end_cmd(cp, err);
	if (ok && (o->max_messages_per_second || o->max_bytes_per_second)) {
		if (!end_cmd(cp, err) || !imap_client_wait(cp->job->dst_c, o->window, err))
			return false;
	}
	pace(cp, size);
	return ok;
}

static struct copy_msg *lookup(struct copier *cp, uint32_t uid, uint32_t seq)
{
	struct copy_msg *m = NULL;

	if (uid != 0)
		m = find_uid(cp, uid);
	else if (cp->seq_valid && seq != 0)
		m = find_seq(cp, seq);
	if (m == NULL)
		return NULL;
	size_t i = (size_t)(m - cp->m);
	if (!cp->wanted[i] || cp->sent[i])
		return NULL;
	return m;
}

static bool on_body(void *ctx, struct imap_client *c, const struct imap_event *ev,
		    struct err *err)
{
	struct copier *cp = ctx;
	struct imap_client *dc = cp->job->dst_c;
	struct imap_fetch it;

	(void)c;
	switch (ev->type) {
	case IMAP_PARSE_LITERAL_BEGIN: {
		struct copy_msg *m = NULL;
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
		return imap_cmd_data(dc, ev->data, ev->len, err);
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
	if (!imap_fetch_parse(r, &it) || it.body == NULL || it.body->type != IMAP_ARG_STRING)
		return true;
	struct copy_msg *m = lookup(cp, it.uid, it.seq);
	if (m == NULL)
		return true;
	if (!item_begin(cp, m, it.body->len, err))
		return false;
	if (!cp->discard && !imap_cmd_data(dc, it.body->str, it.body->len, err))
		return false;
	return item_end(cp, err);
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
	memset(cp->sent, 0, cp->n * sizeof *cp->sent);
	imap_client_set_handler(j->src_c, on_body, cp);
	for (size_t i = 0; i < cp->n;) {
		size_t k = 0;
		for (; i < cp->n && k < FETCH_UIDS_PER_COMMAND; i++)
			if (cp->wanted[i])
				uids[k++] = cp->m[i].uid;
		if (k == 0)
			break;
		buf_reset(&set);
		imap_uid_set(&set, uids, k);
		if (nrep == caprep) {
			caprep = caprep ? caprep * 2 : 8;
			replies = xreallocarray(replies, caprep, sizeof *replies);
		}
		memset(&replies[nrep], 0, sizeof replies[nrep]);
		imap_cmd_begin(j->src_c, imap_reply_store, &replies[nrep++]);
		imap_cmd_add(j->src_c, "UID FETCH ");
		imap_cmd_add(j->src_c, set.data);
		imap_cmd_add(j->src_c, " (UID BODY.PEEK[])");
		if (!imap_cmd_end(j->src_c, err)) {
			ok = false;
			break;
		}
	}
	ok = ok && imap_client_wait(j->src_c, 0, err);
	ok = ok && end_cmd(cp, err);
	ok = ok && imap_client_wait(j->dst_c, 0, err);
	for (size_t i = 0; i < nrep; i++) {
		if (ok && replies[i].status != IMAP_STATUS_OK) {
			err_set(err, ERR_SCOPE_FOLDER, ERR_KIND_REFUSED, false,
				"%s refused to fetch messages of '%s': %s",
				imap_client_what(j->src_c), j->src_name, replies[i].text);
			ok = false;
		}
		imap_reply_clear(&replies[i]);
	}
	if (!ok) {
		/* Settle what is pending while the replies still exist. */
		imap_client_abort(j->src_c);
		imap_client_abort(j->dst_c);
	}
	imap_client_set_handler(j->src_c, NULL, NULL);
	free(replies);
	free(uids);
	buf_free(&set);
	return ok;
}

bool copy_messages(struct copy_job *job, struct copy_msg *msgs, size_t n, struct err *err)
{
	struct copier cp = { .job = job, .m = msgs, .n = n, .seq_valid = true, .t0 = now() };
	const struct sync_options *o = job->opts;
	uint64_t limit = imap_client_caps(job->dst_c)->appendlimit;
	bool ok = true, any = false;

	cp.wanted = xcalloc(n ? n : 1, sizeof *cp.wanted);
	cp.sent = xcalloc(n ? n : 1, sizeof *cp.sent);
	for (size_t i = 0; i < n; i++) {
		struct copy_msg *m = &msgs[i];
		m->state = COPY_PENDING;
		m->dst_uid = 0;
		if (limit > 0 && m->size > limit) {
			char why[200];
			snprintf(why, sizeof why,
				 "larger than the %s's APPENDLIMIT (%llu bytes)",
				 imap_client_what(job->dst_c), (unsigned long long)limit);
			report_fail(&cp, m, why);
			continue;
		}
		cp.wanted[i] = true;
		any = true;
	}
	if (any)
		ok = body_pass(&cp, err);
	while (ok && cp.nretry > 0 && !sync_stop_requested) {
		/* A MULTIAPPEND was refused as a whole: redo its messages
		 * one by one so only the bad one fails. A throttled server
		 * gets the pause it asked for first. */
		if (cp.throttle_ms > 0) {
			struct timespec ts = { .tv_sec = cp.throttle_ms / 1000,
					       .tv_nsec = (long)(cp.throttle_ms % 1000) * 1000000L };
			sync_warn(o, job->account, "%s is throttling: pausing %u ms",
				  imap_client_what(job->dst_c), cp.throttle_ms);
			nanosleep(&ts, NULL);
			cp.throttle_ms = 0;
			cp.throttle_retries++;
		}
		memset(cp.wanted, 0, n * sizeof *cp.wanted);
		for (size_t i = 0; i < cp.nretry; i++)
			cp.wanted[cp.retry[i]] = true;
		cp.nretry = 0;
		cp.single = true;
		ok = body_pass(&cp, err);
	}
	/* A wanted message the source never sent (expunged meanwhile) stays
	 * COPY_PENDING: neither copied nor failed, it no longer exists. */
	free(cp.wanted);
	free(cp.sent);
	free(cp.retry);
	return ok;
}
