/* verify.c — see verify.h. */
#include "verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "imap/imap_util.h"
#include "proto/imap_write.h"
#include "sync/copy.h"
#include "sync/folder_map.h"
#include "sync/ident_fetch.h"
#include "sync/identity.h"
#include "sync/mailbox.h"

/* One side's messages, sorted by UID, with identity and what we report. */
struct side {
	struct ident *id;
	char **canon, **append, **date, **subject;
	char (*idate)[32];
	uint32_t *seq;
	size_t n, cap;
};

static void side_free(struct side *s)
{
	for (size_t i = 0; i < s->n; i++) {
		ident_free(&s->id[i]);
		free(s->canon[i]);
		free(s->append[i]);
		free(s->date[i]);
		free(s->subject[i]);
	}
	free(s->id);
	free(s->canon);
	free(s->append);
	free(s->date);
	free(s->subject);
	free(s->idate);
	free(s->seq);
	memset(s, 0, sizeof *s);
}

/* The unfolded value of header `name` in a header block, or "". */
static char *header_value(const char *h, size_t len, const char *name)
{
	size_t nl = strlen(name);
	struct buf b;

	buf_init(&b, 4096);
	for (size_t i = 0; i < len;) {
		size_t e = i;
		while (e < len && h[e] != '\n')
			e++;
		if (e - i > nl && strncasecmp(h + i, name, nl) == 0 && h[i + nl] == ':') {
			size_t p = i + nl + 1;
			for (;;) {
				for (; p < e; p++)
					if (h[p] != '\r')
						buf_append_char(&b, h[p] == '\t' ? ' ' : h[p]);
				if (e + 1 < len && (h[e + 1] == ' ' || h[e + 1] == '\t')) {
					p = e + 1;
					e = p;
					while (e < len && h[e] != '\n')
						e++;
					continue;
				}
				break;
			}
			break;
		}
		i = e + 1;
	}
	char *s = buf_steal(&b);
	/* trim */
	char *st = s;
	while (*st == ' ')
		st++;
	size_t l = strlen(st);
	while (l > 0 && st[l - 1] == ' ')
		l--;
	char *out = xstrndup(st, l);
	free(s);
	return out;
}

static bool on_list(void *ctx, struct imap_client *c, const struct imap_event *ev,
		    struct err *err)
{
	struct side *s = ctx;
	struct imap_fetch it;
	long long t = 0;

	(void)c;
	(void)err;
	if (!imap_fetch_listing(ev, &it, &t))
		return true;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->id = xreallocarray(s->id, s->cap, sizeof *s->id);
		s->canon = xreallocarray(s->canon, s->cap, sizeof *s->canon);
		s->append = xreallocarray(s->append, s->cap, sizeof *s->append);
		s->date = xreallocarray(s->date, s->cap, sizeof *s->date);
		s->subject = xreallocarray(s->subject, s->cap, sizeof *s->subject);
		s->idate = xreallocarray(s->idate, s->cap, sizeof *s->idate);
		s->seq = xreallocarray(s->seq, s->cap, sizeof *s->seq);
	}
	size_t i = s->n++;
	memset(&s->id[i], 0, sizeof s->id[i]);
	s->id[i].uid = it.uid;
	s->id[i].size = it.size;
	s->id[i].date = t;
	const char *h = "";
	size_t hl = 0;
	if (it.header != NULL && it.header->type == IMAP_ARG_STRING) {
		h = it.header->str;
		hl = (size_t)it.header->len;
	}
	ident_parse_headers(&s->id[i], h, hl);
	s->date[i] = header_value(h, hl, "Date");
	s->subject[i] = header_value(h, hl, "Subject");
	s->canon[i] = imap_flags_canon(it.flags);
	s->append[i] = imap_flags_append_list(it.flags);
	snprintf(s->idate[i], sizeof s->idate[i], "%s", it.date);
	s->seq[i] = it.seq;
	return true;
}

static bool list_folder(struct imap_client *c, const char *wire, bool rw, struct side *s,
			struct err *err)
{
	struct imap_mailbox_status st;
	char *q = imap_quote(wire);
	bool ok;

	memset(&st, 0, sizeof st);
	imap_client_set_handler(c, imap_select_handler, &st);
	ok = imap_run_ok(c, ERR_SCOPE_FOLDER, "to open a folder", err, "%s %s",
			 rw ? "SELECT" : "EXAMINE", q ? q : "\"\"");
	imap_client_set_handler(c, NULL, NULL);
	free(q);
	if (ok && st.exists > 0) {
		imap_client_set_handler(c, on_list, s);
		ok = imap_run_ok(c, ERR_SCOPE_FOLDER, "to list messages", err,
				 "UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE %s)",
				 IDENTITY_FETCH_ITEM);
		imap_client_set_handler(c, NULL, NULL);
	}
	/* Servers answer in UID order, but do not rely on it. */
	for (size_t i = 1; ok && i < s->n; i++)
		if (s->id[i - 1].uid > s->id[i].uid) {
			err_set(err, ERR_SCOPE_FOLDER, ERR_KIND_PROTOCOL, false,
				"%s listed messages out of UID order", imap_client_what(c));
			ok = false;
		}
	return ok;
}


static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static struct verify_msg msg_of(const struct side *s, size_t i)
{
	return (struct verify_msg){
		.uid = s->id[i].uid,
		.message_id = s->id[i].msgid ? xstrdup(s->id[i].msgid) : NULL,
		.date = xstrdup(s->date[i]),
		.subject = xstrdup(s->subject[i]),
		.flags = xstrdup(s->canon[i]),
		.size = s->id[i].size,
	};
}

static void push(struct verify_msg **v, size_t *n, struct verify_msg m)
{
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[(*n)++] = m;
}

static bool verify_folder(struct imap_client *oc, struct imap_client *nc, const struct mailbox *ob,
			  const char *new_name, bool new_exists, const struct verify_options *o,
			  const char *account, struct verify_folder *vf, struct err *err)
{
	struct side os = { 0 }, ns = { 0 };
	struct ident_pair *pairs = NULL, *dpairs = NULL;
	size_t np = 0, ndp = 0;
	bool ok;
	char *nwire = mailbox_wire_name(new_name);

	ok = list_folder(oc, ob->wire, false, &os, err);
	if (ok && new_exists && nwire)
		ok = list_folder(nc, nwire, o->dedupe && o->dedupe_yes, &ns, err);
	if (!ok)
		goto out;
	vf->old_count = os.n;
	vf->new_count = ns.n;
	struct ident_sides nd = { .c = { oc, nc }, .n = { os.n, ns.n } };
	ok = ident_match(os.id, os.n, ns.id, ns.n, ident_fetch_need_bodies, &nd, &pairs, &np, err);
	if (!ok)
		goto out;
	bool *opaired = xcalloc(os.n ? os.n : 1, sizeof *opaired);
	bool *npaired = xcalloc(ns.n ? ns.n : 1, sizeof *npaired);
	for (size_t p = 0; p < np; p++) {
		opaired[pairs[p].src] = true;
		npaired[pairs[p].dst] = true;
		if (strcmp(os.canon[pairs[p].src], ns.canon[pairs[p].dst]) != 0) {
			struct verify_msg m = msg_of(&os, pairs[p].src);
			m.other_uid = ns.id[pairs[p].dst].uid;
			m.other_flags = xstrdup(ns.canon[pairs[p].dst]);
			push(&vf->flag_diff, &vf->nflag_diff, m);
		}
	}
	for (size_t i = 0; i < os.n; i++)
		if (!opaired[i])
			push(&vf->missing, &vf->nmissing, msg_of(&os, i));
	/* Extra copies: unpaired new messages that are a copy of something on old. */
	size_t nrest = 0;
	size_t *rest = xcalloc(ns.n ? ns.n : 1, sizeof *rest);
	for (size_t i = 0; i < ns.n; i++)
		if (!npaired[i])
			rest[nrest++] = i;
	if (nrest > 0 && os.n > 0) {
		struct ident *rv = xcalloc(nrest, sizeof *rv);
		for (size_t i = 0; i < nrest; i++)
			rv[i] = ns.id[rest[i]];   /* shallow: not freed here */
		struct ident_sides nd2 = { .c = { oc, nc }, .n = { os.n, nrest } };
		ok = ident_match(os.id, os.n, rv, nrest, ident_fetch_need_bodies, &nd2, &dpairs, &ndp, err);
		for (size_t p = 0; ok && p < ndp; p++) {
			size_t k = rest[dpairs[p].dst];
			struct verify_msg m = msg_of(&ns, k);
			m.other_uid = os.id[dpairs[p].src].uid;
			push(&vf->duplicates, &vf->nduplicates, m);
			npaired[k] = true;
		}
		free(rv);
	}
	free(rest);
	for (size_t i = 0; i < ns.n; i++)
		if (!npaired[i])
			vf->only_on_new++;
	free(opaired);
	free(npaired);
	if (!ok)
		goto out;

	if (o->fix && vf->nmissing > 0 && nwire != NULL) {
		if (!new_exists) {
			char *q = imap_quote(nwire);
			struct imap_reply r = { 0 };
			ok = imap_client_run(nc, &r, err, "CREATE %s", q ? q : "\"\"");
			imap_reply_clear(&r);
			free(q);
		}
		struct copy_msg *cm = xcalloc(vf->nmissing, sizeof *cm);
		for (size_t i = 0; i < vf->nmissing; i++) {
			struct ident *id = ident_find(os.id, os.n, vf->missing[i].uid);
			size_t k = (size_t)(id - os.id);
			cm[i].uid = id->uid;
			cm[i].seq = os.seq[k];
			cm[i].size = id->size;
			memcpy(cm[i].date, os.idate[k], sizeof cm[i].date);
			cm[i].flags = os.append[k];
		}
		struct sync_folder_result fr = { 0 };
		struct copy_job cj = { .src_c = oc, .dst_c = nc, .src_name = ob->utf8,
				       .dst_wire = nwire, .opts = o->sync, .account = account,
				       .res = &fr };
		/* the old folder is still selected (EXAMINE) on oc */
		ok = ok && copy_messages(&cj, cm, vf->nmissing, err);
		vf->fixed = fr.copied;
		free(cm);
	}
	if (ok && o->dedupe && o->dedupe_yes && vf->nduplicates > 0) {
		uint32_t *u = xcalloc(vf->nduplicates, sizeof *u);
		for (size_t i = 0; i < vf->nduplicates; i++)
			u[i] = vf->duplicates[i].uid;
		qsort(u, vf->nduplicates, sizeof *u, cmp_u32);
		struct buf set;
		buf_init(&set, 0);
		imap_uid_set(&set, u, vf->nduplicates);
		if (!imap_client_caps(nc)->uidplus) {
			err_set(err, ERR_SCOPE_FOLDER, ERR_KIND_REFUSED, false,
				"%s lacks UIDPLUS: cannot remove only the duplicates",
				imap_client_what(nc));
			ok = false;
		} else {
			ok = imap_run_ok(nc, ERR_SCOPE_FOLDER, "to mark duplicates deleted", err,
					 "UID STORE %s +FLAGS.SILENT (\\Deleted)", set.data) &&
			     imap_run_ok(nc, ERR_SCOPE_FOLDER, "to expunge duplicates", err,
					 "UID EXPUNGE %s", set.data);
			if (ok)
				vf->removed = vf->nduplicates;
		}
		buf_free(&set);
		free(u);
	}
out:
	free(nwire);
	free(pairs);
	free(dpairs);
	side_free(&os);
	side_free(&ns);
	return ok;
}

bool verify_account(const struct sync_account *a, const struct verify_options *o,
		    struct verify_result *res)
{
	struct imap_client *oc = NULL, *nc = NULL;
	struct mailbox_list ol = { 0 }, nl = { 0 };
	struct folder_map *map = NULL;

	memset(res, 0, sizeof *res);
	res->account = xstrdup(a->label);
	err_clear(&res->err);
	oc = imap_client_connect(&a->old_ep, &res->err);
	if (oc == NULL)
		goto out;
	nc = imap_client_connect(&a->new_ep, &res->err);
	if (nc == NULL)
		goto out;
	if (!mailbox_list_fetch(oc, &ol, &res->err) || !mailbox_list_fetch(nc, &nl, &res->err))
		goto out;
	struct folder_side os = { .sep = ol.sep, .prefix = ol.prefix };
	struct folder_side ns = { .sep = nl.sep, .prefix = nl.prefix };
	map = folder_map_new(&os, &ns);
	for (size_t i = 0; i < nl.count; i++)
		folder_map_add_target(map, nl.boxes[i].utf8, nl.boxes[i].use);
	for (size_t i = 0; i < ol.count; i++) {
		const struct mailbox *ob = &ol.boxes[i];
		if (ob->noselect)
			continue;
		bool renamed;
		char *nn = folder_map_name(map, ob->utf8, ob->use, &renamed);
		res->folders = xreallocarray(res->folders, res->folder_count + 1,
					     sizeof *res->folders);
		struct verify_folder *vf = &res->folders[res->folder_count++];
		memset(vf, 0, sizeof *vf);
		vf->old_name = xstrdup(ob->utf8);
		vf->new_name = nn;
		vf->new_exists = mailbox_list_find(&nl, nn) != NULL || strcmp(nn, "INBOX") == 0;
		struct err e;
		err_clear(&e);
		if (!verify_folder(oc, nc, ob, nn, vf->new_exists, o, a->label, vf, &e)) {
			vf->error = xstrdup(e.msg);
			if (e.scope != ERR_SCOPE_FOLDER && e.scope != ERR_SCOPE_MESSAGE) {
				res->err = e;
				break;
			}
		}
		res->missing += vf->nmissing;
		res->duplicates += vf->nduplicates;
		res->flag_diff += vf->nflag_diff;
		res->only_on_new += vf->only_on_new;
		res->fixed += vf->fixed;
		res->removed += vf->removed;
	}
out:
	folder_map_free(&map);
	mailbox_list_free(&ol);
	mailbox_list_free(&nl);
	imap_client_close(&oc);
	imap_client_close(&nc);
	if (err_is_set(&res->err))
		return false;
	for (size_t i = 0; i < res->folder_count; i++)
		if (res->folders[i].error)
			return false;
	return res->missing == res->fixed;
}

static void msgs_free(struct verify_msg *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].message_id);
		free(v[i].date);
		free(v[i].subject);
		free(v[i].flags);
		free(v[i].other_flags);
	}
	free(v);
}

void verify_result_free(struct verify_result *res)
{
	for (size_t i = 0; i < res->folder_count; i++) {
		struct verify_folder *f = &res->folders[i];
		free(f->old_name);
		free(f->new_name);
		free(f->error);
		msgs_free(f->missing, f->nmissing);
		msgs_free(f->duplicates, f->nduplicates);
		msgs_free(f->flag_diff, f->nflag_diff);
	}
	free(res->folders);
	free(res->account);
	memset(res, 0, sizeof *res);
}
