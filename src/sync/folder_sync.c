/* folder_sync.c — see folder_sync.h. */
#include "folder_sync.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "imap/imap_util.h"
#include "proto/imap_write.h"
#include "sync/copy.h"
#include "sync/ident_fetch.h"
#include "sync/identity.h"

struct smsg {
	uint32_t uid, seq;
	uint64_t size;
	char date[32];
	long long epoch;
	char *canon;          /* canonical flags */
	char *append;         /* "(...)" for APPEND */
	bool pending;         /* a killed run may have copied it (journal row) */
};

struct dmsg {
	uint32_t uid;
	uint64_t size;
	long long epoch;
	char *canon;
};

struct mapent {
	struct store_msg m;
	bool alive;           /* still on the source */
};

struct fs {
	struct folder_job *job;
	struct imap_mailbox_status sst, dst_st;
	bool dst_selected;
	bool dst_exists;
	struct store_folder f;
	bool have_f;
	struct smsg *s;
	size_t ns, caps;
	struct dmsg *d;
	size_t nd, capd;
	struct mapent *map;
	size_t nmap, capmap;
	bool listing_dst;
	/* flag deltas: one per destination UID */
	struct delta { uint32_t dst_uid; char *add, *remove; } *deltas;
	size_t ndeltas, capdeltas;
	/* State written only once the server has done the work, so that a
	 * kill in between makes the next run redo it rather than forget it. */
	/* base: NULL when no STORE is needed, else the flags_base journaled
	 * before the STORE (see store_msg.flags_base) */
	struct pending_rec { uint32_t src_uid, dst_uid; char *flags, *base; } *prec;
	size_t nprec, capprec;
	size_t *flagged;         /* map entries whose new source flags await the STORE */
	size_t nflagged;
	uint32_t *gone_src;      /* map entries to forget once expunged on the destination */
	size_t ngone_src;
	bool rebuild;            /* the folder's map was dropped (UIDVALIDITY changed) */
	size_t *orphan;          /* pending rows whose source message is gone */
	size_t norphan;
	/* map entries whose flag STORE a killed run left in flight, with the
	 * index of their source message: compared with the destination */
	struct recon { size_t map, src; } *recon;
	size_t nrecon;
	bool dst_listed;
};

#define warn(fs, ...) sync_warn((fs)->job->opts, (fs)->job->account, __VA_ARGS__)
#define would(fs, ...) sync_would((fs)->job->opts, (fs)->job->account, __VA_ARGS__)

/* ---- listing ---- */

static bool on_list(void *ctx, struct imap_client *c, const struct imap_event *ev,
		    struct err *err)
{
	struct fs *fs = ctx;
	struct imap_fetch it;
	long long t = 0;

	(void)c;
	(void)err;
	if (!imap_fetch_listing(ev, &it, &t))
		return true;
	if (fs->listing_dst) {
		if (fs->nd == fs->capd) {
			fs->capd = fs->capd ? fs->capd * 2 : 256;
			fs->d = xreallocarray(fs->d, fs->capd, sizeof *fs->d);
		}
		fs->d[fs->nd++] = (struct dmsg){ .uid = it.uid, .size = it.size, .epoch = t,
						 .canon = imap_flags_canon(it.flags) };
		return true;
	}
	if (fs->ns == fs->caps) {
		fs->caps = fs->caps ? fs->caps * 2 : 256;
		fs->s = xreallocarray(fs->s, fs->caps, sizeof *fs->s);
	}
	struct smsg *m = &fs->s[fs->ns++];
	memset(m, 0, sizeof *m);
	m->uid = it.uid;
	m->seq = it.seq;
	m->size = it.size;
	m->epoch = t;
	snprintf(m->date, sizeof m->date, "%s", it.date);
	m->canon = imap_flags_canon(it.flags);
	m->append = imap_flags_append_list(it.flags);
	return true;
}

static int cmp_smsg(const void *a, const void *b)
{
	const struct smsg *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int cmp_dmsg(const void *a, const void *b)
{
	const struct dmsg *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static bool list_side(struct fs *fs, struct imap_client *c, bool dst, struct err *err)
{
	bool ok;

	fs->listing_dst = dst;
	imap_client_set_handler(c, on_list, fs);
	ok = imap_run_ok(c, ERR_SCOPE_FOLDER, "to list messages", err,
			 "UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)");
	imap_client_set_handler(c, NULL, NULL);
	if (dst && fs->nd > 0)
		qsort(fs->d, fs->nd, sizeof *fs->d, cmp_dmsg);
	if (!dst && fs->ns > 0)
		qsort(fs->s, fs->ns, sizeof *fs->s, cmp_smsg);
	return ok;
}

static bool select_dst(struct fs *fs, struct err *err);

/* The destination's listing, made at most once per folder pass (several
 * steps need it; a second listing would double fs->d). */
static bool list_dst_once(struct fs *fs, struct err *err)
{
	if (fs->dst_listed)
		return true;
	if (!select_dst(fs, err) || !list_side(fs, fs->job->dst_c, true, err))
		return false;
	fs->dst_listed = true;
	return true;
}

/* ---- opening ---- */

static bool ensure_dst(struct fs *fs, struct err *err)
{
	struct folder_job *j = fs->job;
	struct imap_reply r = { 0 };
	char *q = imap_quote(j->dst_wire);
	bool ok = true;

	fs->dst_exists = j->dst_exists;
	if (q == NULL) {
		err_set(err, ERR_SCOPE_FOLDER, ERR_KIND_INTERNAL, false,
			"cannot name folder '%s' on the %s", j->dst_name, imap_client_what(j->dst_c));
		return false;
	}
	if (!j->dst_exists) {
		if (j->opts->dry_run) {
			would(fs, "create folder '%s' on the %s", j->dst_name,
			      imap_client_what(j->dst_c));
			goto out;
		}
		ok = imap_client_run(j->dst_c, &r, err, "CREATE %s", q);
		if (ok && r.status != IMAP_STATUS_OK &&
		    !(r.code && strcasecmp(r.code, "ALREADYEXISTS") == 0)) {
			err_set(err, ERR_SCOPE_FOLDER, ERR_KIND_REFUSED, false,
				"%s refused to create folder '%s': %s", imap_client_what(j->dst_c),
				j->dst_name, r.text);
			ok = false;
		}
		if (!ok)
			goto out;
		fs->dst_exists = true;
	}
	if (!j->opts->dry_run) {
		ok = imap_client_run(j->dst_c, &r, err, "SUBSCRIBE %s", q);
		if (ok && r.status != IMAP_STATUS_OK)
			warn(fs, "%s refused to subscribe '%s': %s", imap_client_what(j->dst_c),
			     j->dst_name, r.text);
	}
out:
	imap_reply_clear(&r);
	free(q);
	return ok;
}

static bool examine_src(struct fs *fs, struct err *err)
{
	struct folder_job *j = fs->job;
	char *q = imap_quote(j->src->wire);
	bool condstore = imap_client_caps(j->src_c)->condstore;
	bool ok;

	memset(&fs->sst, 0, sizeof fs->sst);
	imap_client_set_handler(j->src_c, imap_select_handler, &fs->sst);
	ok = imap_run_ok(j->src_c, ERR_SCOPE_FOLDER, "to open the folder", err, "EXAMINE %s%s",
			 q ? q : "\"\"", condstore ? " (CONDSTORE)" : "");
	imap_client_set_handler(j->src_c, NULL, NULL);
	free(q);
	return ok;
}

static bool select_dst(struct fs *fs, struct err *err)
{
	struct folder_job *j = fs->job;
	char *q;
	bool ok;

	if (fs->dst_selected)
		return true;
	q = imap_quote(j->dst_wire);
	memset(&fs->dst_st, 0, sizeof fs->dst_st);
	imap_client_set_handler(j->dst_c, imap_select_handler, &fs->dst_st);
	ok = imap_run_ok(j->dst_c, ERR_SCOPE_FOLDER, "to open the target folder", err, "SELECT %s",
			 q ? q : "\"\"");
	imap_client_set_handler(j->dst_c, NULL, NULL);
	free(q);
	fs->dst_selected = ok;
	return ok;
}

/* ---- the map (source UID → destination UID) ---- */

static int cmp_mapent(const void *a, const void *b)
{
	const struct mapent *x = a, *y = b;
	return x->m.src_uid < y->m.src_uid ? -1 : x->m.src_uid > y->m.src_uid;
}

static void map_add(struct fs *fs, uint32_t src_uid, uint32_t dst_uid, const char *sflags,
		    const char *dflags)
{
	if (fs->nmap == fs->capmap) {
		fs->capmap = fs->capmap ? fs->capmap * 2 : 256;
		fs->map = xreallocarray(fs->map, fs->capmap, sizeof *fs->map);
	}
	fs->map[fs->nmap++] = (struct mapent){
		.m = { .src_uid = src_uid, .dst_uid = dst_uid, .src_flags = xstrdup(sflags),
		       .dst_flags = xstrdup(dflags) },
		.alive = true,
	};
}

static bool record(struct fs *fs, uint32_t src_uid, uint32_t dst_uid, const char *sflags,
		   const char *dflags, struct err *err)
{
	struct folder_job *j = fs->job;
	struct store_msg m = { .src_uid = src_uid, .dst_uid = dst_uid,
			       .src_flags = (char *)sflags, .dst_flags = (char *)dflags };

	map_add(fs, src_uid, dst_uid, sflags, dflags);
	if (j->store == NULL || j->opts->dry_run || !fs->have_f)
		return true;
	return store_msg_put(j->store, fs->f.id, &m, err);
}

/* ---- identity ---- */


static int cmp_ident_uid(const void *a, const void *b)
{
	const struct ident *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Pair unmapped source messages with unmapped destination messages. */
static bool dedupe(struct fs *fs, const size_t *su, size_t nsu, const size_t *du, size_t ndu,
		   bool *paired, struct err *err)
{
	struct folder_job *j = fs->job;
	struct ident *sv = xcalloc(nsu ? nsu : 1, sizeof *sv);
	struct ident *dv = xcalloc(ndu ? ndu : 1, sizeof *dv);
	struct ident_pair *pairs = NULL;
	size_t np = 0;
	bool ok;

	for (size_t i = 0; i < nsu; i++) {
		const struct smsg *m = &fs->s[su[i]];
		sv[i].uid = m->uid;
		sv[i].size = m->size;
		sv[i].date = m->epoch;
	}
	for (size_t i = 0; i < ndu; i++) {
		const struct dmsg *m = &fs->d[du[i]];
		dv[i].uid = m->uid;
		dv[i].size = m->size;
		dv[i].date = m->epoch;
	}
	qsort(sv, nsu, sizeof *sv, cmp_ident_uid);
	qsort(dv, ndu, sizeof *dv, cmp_ident_uid);
	ok = ident_fetch_headers(j->src_c, sv, nsu, err) &&
	     ident_fetch_headers(j->dst_c, dv, ndu, err);
	struct ident_sides nc = { .c = { j->src_c, j->dst_c }, .n = { nsu, ndu } };
	ok = ok && ident_match(sv, nsu, dv, ndu, ident_fetch_need_bodies, &nc, &pairs, &np, err);
	for (size_t p = 0; ok && p < np; p++) {
		/* su/du are ascending by uid like sv/dv, so indices agree */
		const struct smsg *sm = &fs->s[su[pairs[p].src]];
		const struct dmsg *dm = &fs->d[du[pairs[p].dst]];
		paired[pairs[p].src] = true;
		/* A first match (mail delivered to both) gets the source's
		 * flags added. After a UIDVALIDITY change the pair was synced
		 * before, and a copy a killed run made is ours: in both cases
		 * the destination is made equal to the source (a flag removed
		 * on the source since must go). */
		bool exact = fs->rebuild || sm->pending;
		char *add = imap_flags_minus(sm->canon, dm->canon);
		char *rem = exact ? imap_flags_minus(dm->canon, sm->canon) : xstrdup("");
		char *base = NULL;
		if (add[0] != '\0' || rem[0] != '\0') {
			/* what a rerun after a kill may remove: for an exact match
			 * all the destination had, for a first match nothing of
			 * the destination's own */
			base = xstrdup(exact ? dm->canon : "");
			if (fs->ndeltas == fs->capdeltas) {
				fs->capdeltas = fs->capdeltas ? fs->capdeltas * 2 : 64;
				fs->deltas = xreallocarray(fs->deltas, fs->capdeltas,
							   sizeof *fs->deltas);
			}
			fs->deltas[fs->ndeltas++] = (struct delta){ .dst_uid = dm->uid, .add = add,
								    .remove = rem };
		} else {
			free(add);
			free(rem);
		}
		j->res->matched++;
		j->res->skipped++;
		if (fs->nprec == fs->capprec) {
			fs->capprec = fs->capprec ? fs->capprec * 2 : 64;
			fs->prec = xreallocarray(fs->prec, fs->capprec, sizeof *fs->prec);
		}
		fs->prec[fs->nprec++] = (struct pending_rec){ .src_uid = sm->uid, .dst_uid = dm->uid,
							      .flags = xstrdup(sm->canon),
							      .base = base };
	}
	for (size_t i = 0; i < nsu; i++)
		ident_free(&sv[i]);
	for (size_t i = 0; i < ndu; i++)
		ident_free(&dv[i]);
	free(sv);
	free(dv);
	free(pairs);
	return ok;
}

/* ---- flags and expunges on the destination ---- */

static int cmp_delta(const void *a, const void *b)
{
	const struct delta *x = a, *y = b;
	int c = strcmp(x->add, y->add);
	if (c == 0)
		c = strcmp(x->remove, y->remove);
	if (c == 0)
		c = x->dst_uid < y->dst_uid ? -1 : x->dst_uid > y->dst_uid;
	return c;
}

static bool apply_deltas(struct fs *fs, struct err *err)
{
	struct folder_job *j = fs->job;

	if (fs->ndeltas == 0)
		return true;
	if (j->opts->dry_run) {
		would(fs, "update flags of %zu messages in '%s'", fs->ndeltas, j->dst_name);
		return true;
	}
	if (!select_dst(fs, err))
		return false;
	qsort(fs->deltas, fs->ndeltas, sizeof *fs->deltas, cmp_delta);
	for (size_t i = 0; i < fs->ndeltas;) {
		size_t k = i;
		while (k < fs->ndeltas && strcmp(fs->deltas[k].add, fs->deltas[i].add) == 0 &&
		       strcmp(fs->deltas[k].remove, fs->deltas[i].remove) == 0 && k - i < 1000)
			k++;
		uint32_t *u = xcalloc(k - i, sizeof *u);
		for (size_t x = i; x < k; x++)
			u[x - i] = fs->deltas[x].dst_uid;
		struct buf set;
		buf_init(&set, 0);
		imap_uid_set(&set, u, k - i);
		bool ok = true;
		if (fs->deltas[i].add[0] != '\0')
			ok = imap_run_ok(j->dst_c, ERR_SCOPE_FOLDER, "to set flags", err,
					 "UID STORE %s +FLAGS.SILENT (%s)", set.data,
					 fs->deltas[i].add);
		if (ok && fs->deltas[i].remove[0] != '\0')
			ok = imap_run_ok(j->dst_c, ERR_SCOPE_FOLDER, "to clear flags", err,
					 "UID STORE %s -FLAGS.SILENT (%s)", set.data,
					 fs->deltas[i].remove);
		buf_free(&set);
		free(u);
		if (!ok)
			return false;
		j->res->flags_updated += k - i;
		i = k;
	}
	return true;
}

static bool expunge_dst(struct fs *fs, const uint32_t *u, size_t n, struct err *err)
{
	struct folder_job *j = fs->job;

	if (n == 0)
		return true;
	if (j->opts->dry_run) {
		would(fs, "expunge %zu messages from '%s'", n, j->dst_name);
		return true;
	}
	if (!imap_client_caps(j->dst_c)->uidplus) {
		warn(fs, "%s lacks UIDPLUS: cannot expunge only the %zu messages removed from "
			 "'%s'; left in place", imap_client_what(j->dst_c), n, j->src->utf8);
		return true;
	}
	if (!select_dst(fs, err))
		return false;
	for (size_t i = 0; i < n;) {
		size_t k = n - i > 1000 ? 1000 : n - i;
		struct buf set;
		buf_init(&set, 0);
		imap_uid_set(&set, u + i, k);
		bool ok = imap_run_ok(j->dst_c, ERR_SCOPE_FOLDER, "to mark messages deleted", err,
				      "UID STORE %s +FLAGS.SILENT (\\Deleted)", set.data) &&
			  imap_run_ok(j->dst_c, ERR_SCOPE_FOLDER, "to expunge messages", err,
				      "UID EXPUNGE %s", set.data);
		buf_free(&set);
		if (!ok)
			return false;
		i += k;
	}
	j->res->expunged += n;
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Before the flag STOREs: every row whose destination flags are about to
 * change is written with its flags_base, in one transaction (no network
 * inside), so that a STORE a killed run made is never taken for one it
 * did not make. Without this, a flag added by a killed run and removed on
 * the source before the next run stayed on the destination for good. */
static bool journal_flags(struct fs *fs, struct err *err)
{
	struct folder_job *j = fs->job;
	bool ok, any = false;

	if (j->store == NULL || j->opts->dry_run || !fs->have_f)
		return true;
	for (size_t i = 0; i < fs->nflagged && !any; i++)
		any = fs->map[fs->flagged[i]].m.flags_base != NULL;
	for (size_t i = 0; i < fs->nprec && !any; i++)
		any = fs->prec[i].base != NULL;
	if (!any)
		return true;
	ok = store_begin(j->store, err);
	for (size_t i = 0; ok && i < fs->nflagged; i++) {
		const struct store_msg *m = &fs->map[fs->flagged[i]].m;
		if (m->flags_base != NULL)
			ok = store_msg_put(j->store, fs->f.id, m, err);
	}
	for (size_t i = 0; ok && i < fs->nprec; i++) {
		const struct pending_rec *p = &fs->prec[i];
		struct store_msg r = { .src_uid = p->src_uid, .dst_uid = p->dst_uid,
				       .src_flags = p->flags, .dst_flags = p->flags,
				       .flags_base = p->base };
		if (p->base != NULL)
			ok = store_msg_put(j->store, fs->f.id, &r, err);
	}
	if (ok)
		return store_commit(j->store, err);
	store_rollback(j->store);
	return false;
}

/* After the flag STOREs went through: record the pairs found by identity
 * and the source flags now applied (flags_base cleared: confirmed). */
static bool persist_after_flags(struct fs *fs, struct err *err)
{
	struct folder_job *j = fs->job;
	bool ok = true;

	for (size_t i = 0; ok && i < fs->nprec; i++)
		ok = record(fs, fs->prec[i].src_uid, fs->prec[i].dst_uid, fs->prec[i].flags,
			    fs->prec[i].flags, err);
	for (size_t i = 0; ok && i < fs->nflagged && j->store && !j->opts->dry_run; i++) {
		struct store_msg *m = &fs->map[fs->flagged[i]].m;
		free(m->flags_base);
		m->flags_base = NULL;
		free(m->dst_flags);
		m->dst_flags = xstrdup(m->src_flags);
		ok = store_msg_put(j->store, fs->f.id, m, err);
	}
	return ok;
}

/* ---- copying ---- */

static void on_copied(void *ctx, struct copy_msg *m)
{
	struct fs *fs = ctx;
	struct err e;
	const char *canon = "";

	/* canonical flags of the source message */
	struct smsg k = { .uid = m->uid };
	struct smsg *s = fs->ns ? bsearch(&k, fs->s, fs->ns, sizeof *fs->s, cmp_smsg) : NULL;
	if (s != NULL)
		canon = s->canon;
	err_clear(&e);
	if (!record(fs, m->uid, m->dst_uid, canon, canon, &e))
		warn(fs, "state store: %s", e.msg);
}

/* The identity key a pending row carries: size, arrival time and
 * Message-ID (or the Date/From/Subject hash) — enough to find our own
 * byte-identical copy on the destination, with no source to compare to. */
static char *pending_key_of(const struct ident *id)
{
	return xasprintf("%llu %lld %s%s", (unsigned long long)id->size, id->date,
			 id->msgid ? "" : "h:", id->msgid ? id->msgid : id->hdrkey);
}

/* Before copying: one pending row per message, in one transaction (no
 * network inside it), so that a copy made by a run killed before it could
 * record the new UID is found again even if the source message is expunged
 * before the next run. */
static bool journal_copies(struct fs *fs, const size_t *idx, size_t n, struct err *err)
{
	struct folder_job *j = fs->job;
	struct ident *v;
	bool ok;

	if (j->store == NULL || !fs->have_f || n == 0)
		return true;
	v = xcalloc(n, sizeof *v);
	for (size_t i = 0; i < n; i++) {
		const struct smsg *m = &fs->s[idx[i]];
		v[i].uid = m->uid;
		v[i].size = m->size;
		v[i].date = m->epoch;
	}
	/* idx ascends with uids, so v is sorted as ident_fetch wants */
	ok = ident_fetch_headers(j->src_c, v, n, err) && store_begin(j->store, err);
	for (size_t i = 0; ok && i < n; i++) {
		const struct smsg *m = &fs->s[idx[i]];
		struct store_msg r = { .src_uid = m->uid, .dst_uid = 0, .src_flags = m->canon,
				       .dst_flags = m->canon, .pending_key = pending_key_of(&v[i]) };
		ok = store_msg_put(j->store, fs->f.id, &r, err);
		free(r.pending_key);
	}
	if (ok)
		ok = store_commit(j->store, err);
	else if (j->store != NULL)
		store_rollback(j->store);
	for (size_t i = 0; i < n; i++)
		ident_free(&v[i]);
	free(v);
	return ok;
}

static bool copy_new(struct fs *fs, const size_t *idx, size_t n, struct err *err)
{
	struct folder_job *j = fs->job;
	struct copy_msg *cm;
	bool ok;

	if (n == 0)
		return true;
	if (j->opts->dry_run) {
		uint64_t bytes = 0;
		for (size_t i = 0; i < n; i++)
			bytes += fs->s[idx[i]].size;
		would(fs, "copy %zu messages (%.1f MB) from '%s' to '%s'", n, (double)bytes / 1e6,
		      j->src->utf8, j->dst_name);
		return true;
	}
	if (!journal_copies(fs, idx, n, err))
		return false;
	cm = xcalloc(n, sizeof *cm);
	for (size_t i = 0; i < n; i++) {
		const struct smsg *s = &fs->s[idx[i]];
		cm[i].uid = s->uid;
		cm[i].seq = s->seq;
		cm[i].size = s->size;
		memcpy(cm[i].date, s->date, sizeof cm[i].date);
		cm[i].flags = s->append;
	}
	struct copy_job cj = {
		.src_c = j->src_c,
		.dst_c = j->dst_c,
		.src_name = j->src->utf8,
		.dst_wire = j->dst_wire,
		.opts = j->opts,
		.account = j->account,
		.res = j->res,
		.on_copied = on_copied,
		.ctx = fs,
	};
	/* Each confirmed copy is recorded at once (its own small commit:
	 * WAL, no fsync): a kill at any moment loses at most the APPENDs in
	 * flight, which the next run recognises by identity. No transaction
	 * is held across network I/O, so parallel accounts never wait. */
	ok = copy_messages(&cj, cm, n, err);
	free(cm);
	return ok;
}

/* Pending rows whose source message is gone: with --delete, find the copy
 * a killed run made (same key among the destination's unrecorded
 * messages) and expunge it like any message expunged on the source;
 * without --delete the copy stays, like every such message. Either way
 * the row is forgotten once that is done. */
static bool resolve_orphans(struct fs *fs, uint32_t *gone, size_t *ngone, struct err *err)
{
	struct folder_job *j = fs->job;
	bool ok = true;

	if (j->opts->delete_ && fs->dst_exists && !j->opts->dry_run) {
		ok = list_dst_once(fs, err);
		/* candidates: destination messages no live row accounts for */
		uint32_t *known = xcalloc(fs->nmap ? fs->nmap : 1, sizeof *known);
		size_t nk = 0;
		for (size_t i = 0; i < fs->nmap; i++)
			if (fs->map[i].m.dst_uid != 0)
				known[nk++] = fs->map[i].m.dst_uid;
		if (nk > 0)
			qsort(known, nk, sizeof *known, cmp_u32);
		struct ident *v = xcalloc(fs->nd ? fs->nd : 1, sizeof *v);
		size_t nv = 0;
		for (size_t i = 0; ok && i < fs->nd; i++) {
			if (nk > 0 && bsearch(&fs->d[i].uid, known, nk, sizeof *known, cmp_u32))
				continue;
			bool cand = false;
			char pre[64];
			snprintf(pre, sizeof pre, "%llu %lld ", (unsigned long long)fs->d[i].size,
				 fs->d[i].epoch);
			for (size_t o = 0; o < fs->norphan && !cand; o++)
				cand = strncmp(fs->map[fs->orphan[o]].m.pending_key, pre,
					       strlen(pre)) == 0;
			if (cand)
				v[nv++] = (struct ident){ .uid = fs->d[i].uid, .size = fs->d[i].size,
							  .date = fs->d[i].epoch };
		}
		if (ok && nv > 0)
			ok = ident_fetch_headers(j->dst_c, v, nv, err);
		for (size_t o = 0; ok && o < fs->norphan; o++) {
			const char *key = fs->map[fs->orphan[o]].m.pending_key;
			for (size_t i = 0; i < nv; i++) {
				char *k = pending_key_of(&v[i]);
				bool hit = v[i].uid != 0 && strcmp(k, key) == 0;
				free(k);
				if (hit) {
					gone[(*ngone)++] = v[i].uid;
					v[i].uid = 0;   /* each copy answers one row */
					j->res->gone++;
					break;
				}
			}
		}
		for (size_t i = 0; i < nv; i++)
			ident_free(&v[i]);
		free(v);
		free(known);
	}
	/* Forget the rows: with --delete only after the expunge went through
	 * (folder_sync does that with the other expunged ones). */
	for (size_t o = 0; ok && o < fs->norphan; o++) {
		uint32_t su = fs->map[fs->orphan[o]].m.src_uid;
		if (j->opts->delete_)
			fs->gone_src[fs->ngone_src++] = su;
		else if (j->store && !j->opts->dry_run)
			ok = store_msg_delete(j->store, fs->f.id, su, err);
	}
	return ok;
}

/* Rows a killed run left with a flag STORE in flight: the STORE may or
 * may not have been done, so the destination's real flags decide. Flags
 * the source has now are added; flags it had when the row was written
 * (or was about to get) and no longer has are removed; flags only the
 * destination ever had stay. */
static bool reconcile_flags(struct fs *fs, struct err *err)
{
	if (fs->dst_exists && !list_dst_once(fs, err))
		return false;
	for (size_t i = 0; i < fs->nrecon; i++) {
		struct mapent *e = &fs->map[fs->recon[i].map];
		const char *now = fs->s[fs->recon[i].src].canon;
		struct dmsg k = { .uid = e->m.dst_uid };
		const struct dmsg *dm =
			fs->nd ? bsearch(&k, fs->d, fs->nd, sizeof *fs->d, cmp_dmsg) : NULL;
		char *base = imap_flags_union(e->m.flags_base, e->m.src_flags);
		char *add = dm ? imap_flags_minus(now, dm->canon) : xstrdup("");
		char *extra = dm ? imap_flags_minus(dm->canon, now) : xstrdup("");
		char *rem = imap_flags_and(extra, base);
		free(extra);
		free(e->m.src_flags);
		e->m.src_flags = xstrdup(now);
		free(e->m.flags_base);
		e->m.flags_base = NULL;
		if (add[0] != '\0' || rem[0] != '\0') {
			if (fs->ndeltas == fs->capdeltas) {
				fs->capdeltas = fs->capdeltas ? fs->capdeltas * 2 : 64;
				fs->deltas = xreallocarray(fs->deltas, fs->capdeltas,
							   sizeof *fs->deltas);
			}
			fs->deltas[fs->ndeltas++] = (struct delta){ .dst_uid = e->m.dst_uid,
								    .add = add, .remove = rem };
			e->m.flags_base = base;    /* still in flight until the STORE */
		} else {
			free(add);
			free(rem);
			free(base);
		}
		/* persisted (confirmed) after the STOREs either way */
		fs->flagged[fs->nflagged++] = fs->recon[i].map;
	}
	return true;
}

/* ---- the folder ---- */

static void fs_free(struct fs *fs)
{
	for (size_t i = 0; i < fs->ns; i++) {
		free(fs->s[i].canon);
		free(fs->s[i].append);
	}
	for (size_t i = 0; i < fs->nd; i++)
		free(fs->d[i].canon);
	for (size_t i = 0; i < fs->nmap; i++) {
		free(fs->map[i].m.src_flags);
		free(fs->map[i].m.dst_flags);
		free(fs->map[i].m.pending_key);
		free(fs->map[i].m.flags_base);
	}
	for (size_t i = 0; i < fs->ndeltas; i++) {
		free(fs->deltas[i].add);
		free(fs->deltas[i].remove);
	}
	for (size_t i = 0; i < fs->nprec; i++) {
		free(fs->prec[i].flags);
		free(fs->prec[i].base);
	}
	free(fs->recon);
	free(fs->prec);
	free(fs->flagged);
	free(fs->gone_src);
	free(fs->orphan);
	free(fs->deltas);
	free(fs->s);
	free(fs->d);
	free(fs->map);
	if (fs->have_f)
		store_folder_free(&fs->f);
}

static bool load_state(struct fs *fs, bool *unchanged, struct err *err)
{
	struct folder_job *j = fs->job;
	bool found = false;

	*unchanged = false;
	if (j->store == NULL)
		return true;
	memset(&fs->f, 0, sizeof fs->f);
	if (!store_folder_get(j->store, j->account, j->direction, j->src->utf8, &fs->f, &found,
			      err))
		return false;
	if (!found) {
		fs->f.account = xstrdup(j->account);
		fs->f.direction = xstrdup(j->direction);
		fs->f.src_name = xstrdup(j->src->utf8);
		fs->f.dst_name = xstrdup(j->dst_name);
		fs->have_f = true;
		if (!j->opts->dry_run && !store_folder_put(j->store, &fs->f, err))
			return false;
		return true;
	}
	fs->have_f = true;
	bool same_src = fs->f.src_uidvalidity == fs->sst.uidvalidity;
	bool same_dst = fs->f.dst_uidvalidity == fs->dst_st.uidvalidity;
	if (same_src && same_dst && fs->sst.highestmodseq != 0 &&
	    fs->f.src_modseq == fs->sst.highestmodseq && fs->f.src_uidnext == fs->sst.uidnext &&
	    strcmp(fs->f.dst_name, j->dst_name) == 0) {
		*unchanged = true;
		return true;
	}
	if (!same_src || !same_dst) {
		fs->rebuild = fs->f.src_uidvalidity != 0 || fs->f.dst_uidvalidity != 0;
		if (fs->rebuild)
			warn(fs, "UIDVALIDITY of '%s' changed on the %s (folder recreated or "
				 "server restored): matching its messages again by identity",
			     same_src ? j->dst_name : j->src->utf8,
			     same_src ? imap_client_what(j->dst_c) : imap_client_what(j->src_c));
		if (!j->opts->dry_run && !store_msgs_clear(j->store, fs->f.id, err))
			return false;
		return true;
	}
	struct store_msg *v = NULL;
	size_t n = 0;
	if (!store_msgs_load(j->store, fs->f.id, &v, &n, err))
		return false;
	fs->map = xcalloc(n ? n : 1, sizeof *fs->map);
	fs->capmap = n ? n : 1;
	for (size_t i = 0; i < n; i++)
		fs->map[i] = (struct mapent){ .m = v[i], .alive = false };
	fs->nmap = n;
	free(v);  /* strings moved into fs->map */
	return true;
}

static bool save_state(struct fs *fs, struct err *err)
{
	struct folder_job *j = fs->job;
	struct imap_mailbox_status st;
	bool exists = false;

	if (j->store == NULL || j->opts->dry_run || !fs->have_f)
		return true;
	/* The destination's UIDNEXT after our APPENDs. */
	if (!imap_status(j->dst_c, j->dst_wire, &st, &exists, err))
		return false;
	fs->f.src_uidvalidity = fs->sst.uidvalidity;
	fs->f.src_uidnext = fs->sst.uidnext;
	fs->f.src_modseq = fs->sst.highestmodseq;
	if (exists) {
		fs->f.dst_uidvalidity = st.uidvalidity;
		fs->f.dst_uidnext = st.uidnext;
		fs->f.dst_modseq = st.highestmodseq;
	}
	free(fs->f.dst_name);
	fs->f.dst_name = xstrdup(j->dst_name);
	return store_folder_put(j->store, &fs->f, err);
}

bool folder_sync(struct folder_job *j, struct err *err)
{
	struct fs fs = { .job = j };
	bool ok, unchanged = false;
	size_t *unm = NULL, nunm = 0;
	uint32_t *gone = NULL;
	size_t ngone = 0;

	ok = ensure_dst(&fs, err);
	if (!ok || j->src->noselect)
		goto out;
	ok = examine_src(&fs, err);
	if (ok && fs.dst_exists) {
		bool ex = false;
		ok = imap_status(j->dst_c, j->dst_wire, &fs.dst_st, &ex, err);
	}
	ok = ok && load_state(&fs, &unchanged, err);
	if (!ok)
		goto out;
	if (unchanged) {
		j->res->total = fs.sst.exists;
		j->res->skipped = fs.sst.exists;
		j->res->unchanged = true;
		goto out;
	}
	if (fs.sst.exists > 0 && !(ok = list_side(&fs, j->src_c, false, err)))
		goto out;
	j->res->total = fs.ns;

	/* Merge the source listing with the map (both by source UID). */
	if (fs.nmap > 0)
		qsort(fs.map, fs.nmap, sizeof *fs.map, cmp_mapent);
	unm = xcalloc(fs.ns ? fs.ns : 1, sizeof *unm);
	gone = xcalloc(fs.nmap ? fs.nmap : 1, sizeof *gone);
	fs.gone_src = xcalloc(fs.nmap ? fs.nmap : 1, sizeof *fs.gone_src);
	fs.orphan = xcalloc(fs.nmap ? fs.nmap : 1, sizeof *fs.orphan);
	fs.flagged = xcalloc(fs.nmap ? fs.nmap : 1, sizeof *fs.flagged);
	fs.recon = xcalloc(fs.nmap ? fs.nmap : 1, sizeof *fs.recon);
	size_t a = 0, b = 0;
	while (a < fs.ns || b < fs.nmap) {
		if (b == fs.nmap || (a < fs.ns && fs.s[a].uid < fs.map[b].m.src_uid)) {
			unm[nunm++] = a++;
		} else if (fs.map[b].m.pending_key != NULL && a < fs.ns &&
			   fs.map[b].m.src_uid == fs.s[a].uid) {
			/* A copy a killed run may have made: look again. */
			fs.map[b].alive = false;
			fs.s[a].pending = true;
			unm[nunm++] = a++;
			b++;
		} else if (fs.map[b].m.pending_key != NULL) {
			/* ... and its source is gone meanwhile. */
			fs.map[b].alive = false;
			fs.orphan[fs.norphan++] = b;
			b++;
		} else if (a == fs.ns || fs.map[b].m.src_uid < fs.s[a].uid) {
			fs.map[b].alive = false;
			if (j->opts->delete_ && fs.map[b].m.dst_uid != 0) {
				/* forgotten once expunged on the destination */
				gone[ngone++] = fs.map[b].m.dst_uid;
				fs.gone_src[fs.ngone_src++] = fs.map[b].m.src_uid;
			} else if (j->store != NULL && !j->opts->dry_run) {
				/* stays on the destination: only forget it */
				ok = store_msg_delete(j->store, fs.f.id, fs.map[b].m.src_uid, err);
			}
			j->res->gone++;
			b++;
		} else {
			struct mapent *e = &fs.map[b];
			e->alive = true;
			j->res->skipped++;
			if (e->m.flags_base != NULL) {
				fs.recon[fs.nrecon++] = (struct recon){ .map = b, .src = a };
			} else if (strcmp(e->m.src_flags, fs.s[a].canon) != 0) {
				char *add = imap_flags_minus(fs.s[a].canon, e->m.src_flags);
				char *rem = imap_flags_minus(e->m.src_flags, fs.s[a].canon);
				if (fs.ndeltas == fs.capdeltas) {
					fs.capdeltas = fs.capdeltas ? fs.capdeltas * 2 : 64;
					fs.deltas = xreallocarray(fs.deltas, fs.capdeltas,
								  sizeof *fs.deltas);
				}
				fs.deltas[fs.ndeltas++] = (struct delta){ .dst_uid = e->m.dst_uid,
									  .add = add,
									  .remove = rem };
				e->m.flags_base = e->m.src_flags;
				e->m.src_flags = xstrdup(fs.s[a].canon);
				fs.flagged[fs.nflagged++] = b;
			}
			a++;
			b++;
		}
		if (!ok)
			goto out;
	}

	if (fs.nrecon > 0 && !(ok = reconcile_flags(&fs, err)))
		goto out;

	/* Unmapped source messages may already be on the destination. */
	bool *paired = xcalloc(nunm ? nunm : 1, sizeof *paired);
	if (nunm > 0 && fs.dst_exists && fs.dst_st.exists > 0) {
		ok = list_dst_once(&fs, err);
		if (ok) {
			/* destination UIDs the map accounts for */
			uint32_t *known = xcalloc(fs.nmap ? fs.nmap : 1, sizeof *known);
			size_t nk = 0;
			for (size_t i = 0; i < fs.nmap; i++)
				if (fs.map[i].alive)
					known[nk++] = fs.map[i].m.dst_uid;
			if (nk > 0)
				qsort(known, nk, sizeof *known, cmp_u32);
			size_t *du = xcalloc(fs.nd ? fs.nd : 1, sizeof *du), ndu = 0;
			for (size_t i = 0; i < fs.nd; i++)
				if (nk == 0 || !bsearch(&fs.d[i].uid, known, nk, sizeof *known, cmp_u32))
					du[ndu++] = i;
			if (ndu > 0)
				ok = dedupe(&fs, unm, nunm, du, ndu, paired, err);
			free(du);
			free(known);
		}
	}
	if (ok) {
		size_t k = 0;
		for (size_t i = 0; i < nunm; i++)
			if (!paired[i])
				unm[k++] = unm[i];
		nunm = k;
	}
	free(paired);
	if (!ok)
		goto out;

	const struct sync_options *o = j->opts;
	if (o->ops && o->ops->folder_begin) {
		uint64_t bytes = 0;
		for (size_t i = 0; i < nunm; i++)
			bytes += fs.s[unm[i]].size;
		o->ops->folder_begin(o->ctx, j->account, j->src->utf8, j->dst_name, nunm, bytes);
	}
	/* One APPEND per message goes faster into the selected folder:
	 * Dovecot then keeps it open between APPENDs instead of opening and
	 * syncing its index for each (measured: 2,000 messages in 4.4 s
	 * instead of 6.3 s). A MULTIAPPEND opens it once anyway. */
	bool multi = o->use_multiappend && imap_client_caps(j->dst_c)->multiappend;
	if (nunm > 0 && fs.dst_exists && !o->dry_run && !multi)
		ok = select_dst(&fs, err);
	ok = ok && copy_new(&fs, unm, nunm, err);
	ok = ok && journal_flags(&fs, err);
	ok = ok && apply_deltas(&fs, err);
	ok = ok && persist_after_flags(&fs, err);
	if (ok && fs.norphan > 0)
		ok = resolve_orphans(&fs, gone, &ngone, err);
	if (ok && o->delete_ && (ngone > 0 || fs.ngone_src > 0)) {
		if (ngone > 0) {
			qsort(gone, ngone, sizeof *gone, cmp_u32);
			ok = expunge_dst(&fs, gone, ngone, err);
		}
		for (size_t i = 0; ok && i < fs.ngone_src && j->store && !o->dry_run; i++)
			ok = store_msg_delete(j->store, fs.f.id, fs.gone_src[i], err);
	}
	ok = ok && save_state(&fs, err);
out:
	if (!ok) {
		imap_client_abort(j->dst_c);
		imap_client_abort(j->src_c);
	}
	if (fs.dst_selected && ok && imap_client_caps(j->dst_c)->unselect) {
		struct err e2;
		err_clear(&e2);
		/* Never CLOSE: it would expunge every \Deleted message, also
		 * those copied with that flag or marked by the user. Without
		 * UNSELECT the next SELECT deselects without expunging. */
		imap_run_ok(j->dst_c, ERR_SCOPE_FOLDER, "to leave the folder", &e2, "UNSELECT");
	}
	free(unm);
	free(gone);
	fs_free(&fs);
	return ok;
}
