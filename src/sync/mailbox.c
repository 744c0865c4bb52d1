/* mailbox.c — see mailbox.h. */
#include "mailbox.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "proto/mutf7.h"

struct list_ctx {
	struct mailbox_list *out;
	size_t cap;
	bool have_ns;
	char ns_sep;
	char *ns_prefix;
	bool list_sep_seen;
	char list_sep;
};

static char *decode_name(const char *wire)
{
	struct buf b;

	buf_init(&b, 0);
	if (mutf7_to_utf8(wire, strlen(wire), &b))
		return buf_steal(&b);
	buf_free(&b);
	/* Some servers send raw UTF-8 instead of modified UTF-7: take it
	 * as is when it is valid UTF-8 (it round-trips to the same wire
	 * name below, so we still address the right folder). */
	return xstrdup(wire);
}

char *mailbox_wire_name(const char *utf8)
{
	struct buf b;

	buf_init(&b, 0);
	if (!utf8_to_mutf7(utf8, strlen(utf8), &b)) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static void on_namespace(struct list_ctx *lc, const struct imap_response *r)
{
	/* NAMESPACE (("INBOX." ".")(...)) NIL NIL: the first personal one. */
	if (r->arg_count < 2 || r->args[1].type != IMAP_ARG_LIST || r->args[1].list_count == 0)
		return;
	const struct imap_arg *ns = &r->args[1].list[0];
	if (ns->type != IMAP_ARG_LIST || ns->list_count < 2)
		return;
	const char *prefix = imap_arg_str(&ns->list[0]);
	const char *sep = imap_arg_str(&ns->list[1]);
	if (prefix == NULL)
		return;
	lc->have_ns = true;
	free(lc->ns_prefix);
	lc->ns_prefix = decode_name(prefix);
	lc->ns_sep = sep != NULL ? sep[0] : '\0';
}

static void on_list(struct list_ctx *lc, const struct imap_response *r)
{
	if (r->arg_count < 4 || r->args[1].type != IMAP_ARG_LIST)
		return;
	const char *wire = imap_arg_str(&r->args[3]);
	if (wire == NULL || wire[0] == '\0' || strlen(wire) != r->args[3].len)
		return;
	const char *sep = imap_arg_str(&r->args[2]);
	if (!lc->list_sep_seen) {
		lc->list_sep_seen = true;
		lc->list_sep = sep != NULL ? sep[0] : '\0';
	}
	struct mailbox_list *l = lc->out;
	if (l->count == lc->cap) {
		lc->cap = lc->cap ? lc->cap * 2 : 32;
		l->boxes = xreallocarray(l->boxes, lc->cap, sizeof *l->boxes);
	}
	struct mailbox *m = &l->boxes[l->count++];
	memset(m, 0, sizeof *m);
	m->wire = xstrdup(wire);
	m->utf8 = strcasecmp(wire, "INBOX") == 0 ? xstrdup("INBOX") : decode_name(wire);
	const struct imap_arg *attrs = &r->args[1];
	for (size_t i = 0; i < attrs->list_count; i++) {
		const char *a = imap_arg_str(&attrs->list[i]);
		if (a == NULL)
			continue;
		if (strcasecmp(a, "\\Noselect") == 0 || strcasecmp(a, "\\NonExistent") == 0)
			m->noselect = true;
		enum special_use u = special_use_from_attr(a);
		if (u != SPECIAL_NONE)
			m->use = u;
	}
}

static bool on_event(void *ctx, struct imap_client *c, const struct imap_event *ev,
		     struct err *err)
{
	struct list_ctx *lc = ctx;
	(void)c;
	(void)err;
	if (ev->type != IMAP_PARSE_RESPONSE || ev->resp->status != IMAP_STATUS_NONE ||
	    ev->resp->arg_count == 0)
		return true;
	if (imap_arg_is(&ev->resp->args[0], "NAMESPACE"))
		on_namespace(lc, ev->resp);
	else if (imap_arg_is(&ev->resp->args[0], "LIST"))
		on_list(lc, ev->resp);
	return true;
}

static int cmp_box(const void *a, const void *b)
{
	const struct mailbox *x = a, *y = b;
	/* INBOX first, then by name, so parents come before children. */
	bool xi = strcmp(x->utf8, "INBOX") == 0, yi = strcmp(y->utf8, "INBOX") == 0;
	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->utf8, y->utf8);
}

bool mailbox_list_fetch(struct imap_client *c, struct mailbox_list *out, struct err *err)
{
	struct list_ctx lc = { .out = out };
	struct imap_reply r = { 0 };
	const struct imap_caps *caps = imap_client_caps(c);
	bool ok = false;

	memset(out, 0, sizeof *out);
	imap_client_set_handler(c, on_event, &lc);
	if (caps->namespace_) {
		if (!imap_client_run(c, &r, err, "NAMESPACE"))
			goto out;
	}
	if (caps->special_use && caps->list_extended)
		ok = imap_client_run(c, &r, err, "LIST \"\" \"*\" RETURN (SPECIAL-USE)");
	else
		ok = imap_client_run(c, &r, err, "LIST \"\" \"*\"");
	if (!ok)
		goto out;
	if (r.status != IMAP_STATUS_OK) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_REFUSED, false,
			"%s refused to list folders: %s", imap_client_what(c), r.text);
		ok = false;
		goto out;
	}
	out->sep = lc.have_ns ? lc.ns_sep : lc.list_sep;
	if (lc.have_ns) {
		out->prefix = lc.ns_prefix;
		lc.ns_prefix = NULL;
	} else {
		/* No NAMESPACE: a Courier-style server still keeps every
		 * folder under "INBOX.", which is then the prefix in effect. */
		char pre[2] = { out->sep, '\0' };
		bool all_under = out->count > 1 && out->sep != '\0';
		for (size_t i = 0; all_under && i < out->count; i++) {
			const char *n = out->boxes[i].utf8;
			all_under = strcmp(n, "INBOX") == 0 ||
				    (strncasecmp(n, "INBOX", 5) == 0 && n[5] == out->sep);
		}
		out->prefix = all_under ? xasprintf("INBOX%s", pre) : xstrdup("");
	}
	if (out->count > 0)
		qsort(out->boxes, out->count, sizeof *out->boxes, cmp_box);
out:
	imap_client_set_handler(c, NULL, NULL);
	free(lc.ns_prefix);
	imap_reply_clear(&r);
	if (!ok)
		mailbox_list_free(out);
	return ok;
}

void mailbox_list_free(struct mailbox_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		free(l->boxes[i].wire);
		free(l->boxes[i].utf8);
	}
	free(l->boxes);
	free(l->prefix);
	memset(l, 0, sizeof *l);
}

const struct mailbox *mailbox_list_find(const struct mailbox_list *l, const char *utf8)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->boxes[i].utf8, utf8) == 0)
			return &l->boxes[i];
	return NULL;
}
