/* imap_util.c — see imap_util.h. */
#include "imap_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "proto/imap_write.h"

bool imap_fetch_parse(const struct imap_response *r, struct imap_fetch *it)
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
		} else if (strcasecmp(s, "MODSEQ") == 0) {
			if (val->type == IMAP_ARG_LIST && val->list_count == 1 &&
			    imap_arg_number(&val->list[0], &it->modseq))
				it->has_modseq = true;
		} else if (strncasecmp(s, "BODY[HEADER", 11) == 0) {
			it->header = val;
		} else if (strcasecmp(s, "BODY[TEXT]") == 0) {
			it->text = val;
		} else if (strcasecmp(s, "BODY[]") == 0) {
			it->body = val;
		}
	}
	return true;
}

bool imap_fetch_listing(const struct imap_event *ev, struct imap_fetch *it, long long *epoch_r)
{
	return ev->type == IMAP_PARSE_RESPONSE && imap_fetch_parse(ev->resp, it) && it->uid != 0 &&
	       it->has_flags && it->has_size && it->has_date &&
	       imap_datetime_parse(it->date, epoch_r);
}

void imap_uid_set(struct buf *b, const uint32_t *u, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && u[j + 1] == u[j] + 1)
			j++;
		if (i > 0)
			buf_append_char(b, ',');
		if (j > i)
			buf_printf(b, "%u:%u", u[i], u[j]);
		else
			buf_printf(b, "%u", u[i]);
		i = j + 1;
	}
}

static bool parse_u32(const char **p, uint32_t *v)
{
	unsigned long long x = 0;
	const char *s = *p;
	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9') {
		x = x * 10 + (unsigned)(*s - '0');
		if (x > UINT32_MAX)
			return false;
		s++;
	}
	*p = s;
	*v = (uint32_t)x;
	return x != 0;
}

bool imap_uid_set_parse(const char *s, uint32_t **out, size_t *n, size_t max)
{
	uint32_t *v = NULL;
	size_t k = 0, cap = 0;

	for (;;) {
		uint32_t a, b;
		if (!parse_u32(&s, &a))
			goto bad;
		b = a;
		if (*s == ':') {
			s++;
			if (!parse_u32(&s, &b))
				goto bad;
		}
		uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
		if ((uint64_t)hi - lo + 1 > max - k)
			goto bad;
		for (uint64_t u = lo; u <= hi; u++) {
			if (k == cap) {
				cap = cap ? cap * 2 : 16;
				v = xreallocarray(v, cap, sizeof *v);
			}
			v[k++] = (uint32_t)u;
		}
		if (*s == ',') {
			s++;
			continue;
		}
		if (*s == '\0' || *s == ' ' || *s == ']')
			break;
		goto bad;
	}
	*out = v;
	*n = k;
	return true;
bad:
	free(v);
	return false;
}

static int cmp_flag(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *canon_system(const char *f)
{
	static const char *const sys[] = { "\\Seen", "\\Answered", "\\Flagged", "\\Deleted",
					   "\\Draft" };
	for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
		if (strcasecmp(f, sys[i]) == 0)
			return sys[i];
	return f;
}

/* Split a canonical string or collect from a list into a sorted vector. */
static char **flag_vec_from_list(const struct imap_arg *list, size_t *n)
{
	char **v = xcalloc(list->list_count + 1, sizeof *v);
	size_t k = 0;
	for (size_t i = 0; i < list->list_count; i++) {
		const char *f = imap_arg_str(&list->list[i]);
		if (f == NULL || list->list[i].type != IMAP_ARG_ATOM || !imap_flag_appendable(f))
			continue;
		v[k++] = xstrdup(canon_system(f));
	}
	if (k > 0)
		qsort(v, k, sizeof *v, cmp_flag);
	/* drop duplicates */
	size_t w = 0;
	for (size_t i = 0; i < k; i++) {
		if (w > 0 && strcmp(v[w - 1], v[i]) == 0) {
			free(v[i]);
			continue;
		}
		v[w++] = v[i];
	}
	*n = w;
	return v;
}

static char *join(char **v, size_t n, bool paren)
{
	struct buf b;
	buf_init(&b, 0);
	if (paren)
		buf_append_char(&b, '(');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_append_char(&b, ' ');
		buf_append_str(&b, v[i]);
	}
	if (paren)
		buf_append_char(&b, ')');
	return buf_steal(&b);
}

static void vec_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

char *imap_flags_append_list(const struct imap_arg *list)
{
	size_t n;
	char **v = flag_vec_from_list(list, &n);
	char *s = join(v, n, true);
	vec_free(v, n);
	return s;
}

char *imap_flags_canon(const struct imap_arg *list)
{
	size_t n;
	char **v = flag_vec_from_list(list, &n);
	char *s = join(v, n, false);
	vec_free(v, n);
	return s;
}

char *imap_flags_paren(const char *canon)
{
	return xasprintf("(%s)", canon);
}

char *imap_flags_minus(const char *a, const char *b)
{
	struct buf out;
	char *ca = xstrdup(a), *save = NULL;

	buf_init(&out, 0);
	for (char *f = strtok_r(ca, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
		bool found = false;
		const char *p = b;
		size_t fl = strlen(f);
		while (*p && !found) {
			const char *e = strchr(p, ' ');
			size_t l = e ? (size_t)(e - p) : strlen(p);
			found = l == fl && memcmp(p, f, l) == 0;
			p = e ? e + 1 : p + l;
		}
		if (!found) {
			if (out.len > 0)
				buf_append_char(&out, ' ');
			buf_append_str(&out, f);
		}
	}
	free(ca);
	return buf_steal(&out);
}

char *imap_flags_union(const char *a, const char *b)
{
	char *extra = imap_flags_minus(b, a);
	char *all = xasprintf("%s%s%s", a, a[0] && extra[0] ? " " : "", extra);
	size_t n = 0, cap = 8;
	char **v = xcalloc(cap, sizeof *v), *save = NULL;

	for (char *f = strtok_r(all, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
		if (n == cap)
			v = xreallocarray(v, cap *= 2, sizeof *v);
		v[n++] = f;
	}
	if (n > 0)
		qsort(v, n, sizeof *v, cmp_flag);
	char *out = join(v, n, false);
	free(v);
	free(all);
	free(extra);
	return out;
}

char *imap_flags_and(const char *a, const char *b)
{
	char *only_a = imap_flags_minus(a, b);
	char *out = imap_flags_minus(a, only_a);
	free(only_a);
	return out;
}

bool imap_run_ok(struct imap_client *c, enum err_scope scope, const char *what,
		 struct err *err, const char *fmt, ...)
{
	struct imap_reply r = { 0 };
	va_list ap;
	char *cmd;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	bool ok = imap_client_run(c, &r, err, "%s", cmd);
	free(cmd);
	if (ok && r.status != IMAP_STATUS_OK) {
		err_set(err, scope, ERR_KIND_REFUSED, false, "%s refused %s: %s",
			imap_client_what(c), what, r.text ? r.text : "");
		ok = false;
	}
	imap_reply_clear(&r);
	return ok;
}

static void status_code(struct imap_mailbox_status *st, const char *code)
{
	if (code == NULL)
		return;
	if (strncasecmp(code, "UIDVALIDITY ", 12) == 0)
		st->uidvalidity = (uint32_t)strtoul(code + 12, NULL, 10);
	else if (strncasecmp(code, "UIDNEXT ", 8) == 0)
		st->uidnext = (uint32_t)strtoul(code + 8, NULL, 10);
	else if (strncasecmp(code, "HIGHESTMODSEQ ", 14) == 0)
		st->highestmodseq = strtoull(code + 14, NULL, 10);
	else if (strcasecmp(code, "NOMODSEQ") == 0)
		st->nomodseq = true;
}

bool imap_select_handler(void *ctx, struct imap_client *c, const struct imap_event *ev,
			 struct err *err)
{
	struct imap_mailbox_status *st = ctx;
	(void)c;
	(void)err;
	if (ev->type != IMAP_PARSE_RESPONSE)
		return true;
	const struct imap_response *r = ev->resp;
	if (r->status == IMAP_STATUS_OK)
		status_code(st, r->code);
	else if (r->status == IMAP_STATUS_NONE && r->arg_count >= 2 &&
		 imap_arg_is(&r->args[1], "EXISTS"))
		imap_arg_number(&r->args[0], &st->exists);
	return true;
}

struct status_ctx {
	struct imap_mailbox_status *st;
	bool seen;
};

static bool on_status(void *ctx, struct imap_client *c, const struct imap_event *ev,
		      struct err *err)
{
	struct status_ctx *sc = ctx;
	(void)c;
	(void)err;
	if (ev->type != IMAP_PARSE_RESPONSE)
		return true;
	const struct imap_response *r = ev->resp;
	if (r->status != IMAP_STATUS_NONE || r->arg_count < 3 || !imap_arg_is(&r->args[0], "STATUS") ||
	    r->args[2].type != IMAP_ARG_LIST)
		return true;
	const struct imap_arg *l = r->args[2].list;
	for (size_t i = 0; i + 1 < r->args[2].list_count; i += 2) {
		uint64_t v = 0;
		if (!imap_arg_number(&l[i + 1], &v))
			continue;
		if (imap_arg_is(&l[i], "MESSAGES"))
			sc->st->exists = v;
		else if (imap_arg_is(&l[i], "UIDNEXT"))
			sc->st->uidnext = (uint32_t)v;
		else if (imap_arg_is(&l[i], "UIDVALIDITY"))
			sc->st->uidvalidity = (uint32_t)v;
		else if (imap_arg_is(&l[i], "HIGHESTMODSEQ"))
			sc->st->highestmodseq = v;
	}
	sc->seen = true;
	return true;
}

bool imap_status(struct imap_client *c, const char *wire_name, struct imap_mailbox_status *st,
		 bool *exists_r, struct err *err)
{
	struct status_ctx sc = { .st = st };
	struct imap_reply r = { 0 };
	char *q = imap_quote(wire_name);
	bool ok;

	memset(st, 0, sizeof *st);
	imap_client_set_handler(c, on_status, &sc);
	ok = imap_client_run(c, &r, err, "STATUS %s (MESSAGES UIDNEXT UIDVALIDITY%s)",
			     q ? q : "\"\"",
			     imap_client_caps(c)->condstore ? " HIGHESTMODSEQ" : "");
	imap_client_set_handler(c, NULL, NULL);
	*exists_r = ok && r.status == IMAP_STATUS_OK && sc.seen;
	imap_reply_clear(&r);
	free(q);
	return ok;
}
