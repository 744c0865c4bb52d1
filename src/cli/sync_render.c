/* sync_render.c — see sync_render.h. */
#include "sync_render.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"

struct failure {
	char *account, *folder, *why;
	uint32_t uid;
	uint64_t size;
};

struct sync_render {
	bool json, quiet, progress;
	bool line_shown;
	double last_progress;
	char *cur_folder;
	uint64_t folder_want, folder_want_bytes;
	double folder_t0;
	struct failure *fail;
	size_t nfail;
	struct buf accounts;   /* JSON array items, or text summary */
	size_t naccounts;
	uint64_t copied, skipped, failed, bytes, total;
	uint64_t matched, flags_updated, expunged;
	size_t nfailed_accounts;
	char summary[256];
	struct buf would;      /* --dry-run lines */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void clear_line(struct sync_render *r)
{
	if (r->line_shown) {
		fputs("\r\033[K", stderr);
		r->line_shown = false;
	}
}

static void on_folder_begin(void *ctx, const char *account, const char *old_name,
			    const char *new_name, uint64_t to_copy, uint64_t bytes)
{
	struct sync_render *r = ctx;
	(void)account;
	(void)new_name;
	free(r->cur_folder);
	r->cur_folder = xstrdup(old_name);
	r->folder_want = to_copy;
	r->folder_want_bytes = bytes;
	r->folder_t0 = now();
}

static void on_progress(void *ctx, const char *account, uint64_t msgs, uint64_t bytes)
{
	struct sync_render *r = ctx;
	double t = now();

	if (!r->progress || t - r->last_progress < 0.2)
		return;
	r->last_progress = t;
	double el = t - r->folder_t0;
	fprintf(stderr, "\r\033[K%s %s: %llu/%llu messages, %.1f/%.1f MB, %.0f msgs/s", account,
		r->cur_folder ? r->cur_folder : "", (unsigned long long)msgs,
		(unsigned long long)r->folder_want, (double)bytes / 1e6,
		(double)r->folder_want_bytes / 1e6, el > 0 ? (double)msgs / el : 0.0);
	r->line_shown = true;
}

static void on_message_failed(void *ctx, const char *account, const char *folder, uint32_t uid,
			      uint64_t size, const char *why)
{
	struct sync_render *r = ctx;

	r->fail = xreallocarray(r->fail, r->nfail + 1, sizeof *r->fail);
	r->fail[r->nfail++] = (struct failure){ .account = xstrdup(account),
						.folder = xstrdup(folder),
						.why = xstrdup(why),
						.uid = uid,
						.size = size };
	if (!r->json) {
		clear_line(r);
		fprintf(stderr, "mailshift: %s: folder '%s' UID %u (%llu bytes) not copied: %s\n",
			account, folder, uid, (unsigned long long)size, why);
	}
}

static void on_folder_end(void *ctx, const char *account, const struct sync_folder_result *f)
{
	struct sync_render *r = ctx;
	(void)account;
	if (r->json || r->quiet)
		return;
	clear_line(r);
	if (f->error != NULL)
		fprintf(stderr, "mailshift: %s: folder '%s' failed: %s\n", account, f->old_name,
			f->error);
}

static void on_warning(void *ctx, const char *account, const char *msg)
{
	struct sync_render *r = ctx;
	clear_line(r);
	if (!r->quiet)
		fprintf(stderr, "mailshift: warning: %s: %s\n", account, msg);
}

static void on_would(void *ctx, const char *account, const char *what)
{
	struct sync_render *r = ctx;
	if (r->json) {
		int first = 1;
		if (r->would.len > 0)
			buf_append_char(&r->would, ',');
		buf_append_char(&r->would, '{');
		json_key(&r->would, "account", &first);
		json_str(&r->would, account);
		json_key(&r->would, "would", &first);
		json_str(&r->would, what);
		buf_append_char(&r->would, '}');
		return;
	}
	clear_line(r);
	printf("%s: would %s\n", account, what);
}

static const struct sync_report_ops ops = {
	.would = on_would,
	.folder_begin = on_folder_begin,
	.progress = on_progress,
	.message_failed = on_message_failed,
	.folder_end = on_folder_end,
	.warning = on_warning,
};

const struct sync_report_ops *sync_render_ops(void)
{
	return &ops;
}

struct sync_render *sync_render_new(bool json, bool quiet, bool progress)
{
	struct sync_render *r = xcalloc(1, sizeof *r);
	r->json = json;
	r->quiet = quiet;
	r->progress = progress && !json && !quiet;
	buf_init(&r->accounts, 0);
	buf_init(&r->would, 0);
	return r;
}

static const char *kind_name(enum err_kind k)
{
	switch (k) {
	case ERR_KIND_AUTH: return "auth";
	case ERR_KIND_CONNECT: return "connect";
	case ERR_KIND_TLS: return "tls";
	case ERR_KIND_CONFIG: return "config";
	case ERR_KIND_USAGE: return "usage";
	case ERR_KIND_PROTOCOL: return "protocol";
	case ERR_KIND_REFUSED: return "refused";
	case ERR_KIND_IO: return "io";
	case ERR_KIND_INTERNAL: return "internal";
	default: return NULL;
	}
}

static const char *status_of(const struct sync_account_result *a)
{
	bool folder_err = false;
	for (size_t i = 0; i < a->folder_count; i++)
		folder_err |= a->folders[i].error != NULL;
	if (err_is_set(&a->err))
		return a->copied + a->skipped > 0 ? "partial" : "failed";
	if (folder_err || a->failed > 0)
		return "partial";
	return "ok";
}

static void json_account(struct sync_render *r, const struct sync_account_result *a)
{
	struct buf *b = &r->accounts;
	int first = 1;

	if (r->naccounts > 0)
		buf_append_char(b, ',');
	buf_append_char(b, '{');
	json_key(b, "account", &first);
	json_str(b, a->account);
	json_key(b, "status", &first);
	json_str(b, status_of(a));
	json_key(b, "error", &first);
	json_str(b, err_is_set(&a->err) ? a->err.msg : NULL);
	json_key(b, "error_kind", &first);
	json_str(b, err_is_set(&a->err) ? kind_name(a->err.kind) : NULL);
	json_key(b, "messages", &first);
	buf_printf(b, "%llu", (unsigned long long)a->total);
	json_key(b, "copied", &first);
	buf_printf(b, "%llu", (unsigned long long)a->copied);
	json_key(b, "skipped", &first);
	buf_printf(b, "%llu", (unsigned long long)a->skipped);
	json_key(b, "failed", &first);
	buf_printf(b, "%llu", (unsigned long long)a->failed);
	json_key(b, "matched", &first);
	buf_printf(b, "%llu", (unsigned long long)a->matched);
	json_key(b, "flags_updated", &first);
	buf_printf(b, "%llu", (unsigned long long)a->flags_updated);
	json_key(b, "expunged", &first);
	buf_printf(b, "%llu", (unsigned long long)a->expunged);
	json_key(b, "bytes", &first);
	buf_printf(b, "%llu", (unsigned long long)a->bytes);
	json_key(b, "seconds", &first);
	buf_printf(b, "%.3f", a->seconds);
	json_key(b, "msgs_per_sec", &first);
	buf_printf(b, "%.1f", a->seconds > 0 ? (double)a->copied / a->seconds : 0.0);
	json_key(b, "reconnects", &first);
	buf_printf(b, "%u", a->reconnects);
	json_key(b, "folders", &first);
	buf_append_char(b, '[');
	for (size_t i = 0; i < a->folder_count; i++) {
		const struct sync_folder_result *f = &a->folders[i];
		int ff = 1;
		if (i > 0)
			buf_append_char(b, ',');
		buf_append_char(b, '{');
		json_key(b, "old", &ff);
		json_str(b, f->old_name);
		json_key(b, "new", &ff);
		json_str(b, f->new_name);
		json_key(b, "renamed", &ff);
		buf_append_str(b, f->renamed ? "true" : "false");
		json_key(b, "messages", &ff);
		buf_printf(b, "%llu", (unsigned long long)f->total);
		json_key(b, "copied", &ff);
		buf_printf(b, "%llu", (unsigned long long)f->copied);
		json_key(b, "skipped", &ff);
		buf_printf(b, "%llu", (unsigned long long)f->skipped);
		json_key(b, "failed", &ff);
		buf_printf(b, "%llu", (unsigned long long)f->failed);
		json_key(b, "matched", &ff);
		buf_printf(b, "%llu", (unsigned long long)f->matched);
		json_key(b, "flags_updated", &ff);
		buf_printf(b, "%llu", (unsigned long long)f->flags_updated);
		json_key(b, "expunged", &ff);
		buf_printf(b, "%llu", (unsigned long long)f->expunged);
		json_key(b, "gone", &ff);
		buf_printf(b, "%llu", (unsigned long long)f->gone);
		json_key(b, "unchanged", &ff);
		buf_append_str(b, f->unchanged ? "true" : "false");
		json_key(b, "bytes", &ff);
		buf_printf(b, "%llu", (unsigned long long)f->bytes);
		json_key(b, "seconds", &ff);
		buf_printf(b, "%.3f", f->seconds);
		json_key(b, "error", &ff);
		json_str(b, f->error);
		buf_append_char(b, '}');
	}
	buf_append_char(b, ']');
	json_key(b, "failures", &first);
	buf_append_char(b, '[');
	bool any = false;
	for (size_t i = 0; i < r->nfail; i++) {
		const struct failure *x = &r->fail[i];
		if (strcmp(x->account, a->account) != 0)
			continue;
		int ff = 1;
		if (any)
			buf_append_char(b, ',');
		any = true;
		buf_append_char(b, '{');
		json_key(b, "folder", &ff);
		json_str(b, x->folder);
		json_key(b, "uid", &ff);
		buf_printf(b, "%u", x->uid);
		json_key(b, "size", &ff);
		buf_printf(b, "%llu", (unsigned long long)x->size);
		json_key(b, "reason", &ff);
		json_str(b, x->why);
		buf_append_char(b, '}');
	}
	buf_append_str(b, "]}");
}

/* Terminal columns of a UTF-8 string: East Asian wide characters take
 * two, so Japanese folder names line up with ASCII ones. */
static size_t columns(const char *s)
{
	size_t cols = 0;
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned cp;
		size_t n;
		if (*p < 0x80) { cp = *p; n = 1; }
		else if ((*p & 0xe0) == 0xc0 && p[1]) { cp = (unsigned)(*p & 0x1f) << 6 | (p[1] & 0x3f); n = 2; }
		else if ((*p & 0xf0) == 0xe0 && p[1] && p[2]) {
			cp = (unsigned)(*p & 0x0f) << 12 | (unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
			n = 3;
		} else if ((*p & 0xf8) == 0xf0 && p[1] && p[2] && p[3]) { cp = 0x20000; n = 4; }
		else { cp = '?'; n = 1; }
		bool wide = (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
			    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
			    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
			    (cp >= 0xffe0 && cp <= 0xffe6) || cp >= 0x1f300;
		cols += wide ? 2 : 1;
		p += n;
	}
	return cols;
}

static void pad(struct buf *b, const char *s, size_t width)
{
	size_t c = columns(s);
	buf_append_str(b, s);
	for (; c < width; c++)
		buf_append_char(b, ' ');
}

static void text_account(struct sync_render *r, const struct sync_account_result *a)
{
	struct buf *b = &r->accounts;
	double rate = a->seconds > 0 ? (double)a->copied / a->seconds : 0.0;

	buf_printf(b, "%s: %s — %llu messages in %zu folders: %llu copied, %llu already there "
		   "(%llu recognised by identity), %llu flags updated, %llu expunged, "
		   "%llu failed; %.1f MB in %.1f s (%.0f msgs/s, %.1f MB/s)\n",
		   a->account, status_of(a), (unsigned long long)a->total, a->folder_count,
		   (unsigned long long)a->copied, (unsigned long long)a->skipped,
		   (unsigned long long)a->matched, (unsigned long long)a->flags_updated,
		   (unsigned long long)a->expunged, (unsigned long long)a->failed, (double)a->bytes / 1e6, a->seconds, rate,
		   a->seconds > 0 ? (double)a->bytes / 1e6 / a->seconds : 0.0);
	if (err_is_set(&a->err))
		buf_printf(b, "  error: %s\n", a->err.msg);
	for (size_t i = 0; i < a->folder_count; i++) {
		const struct sync_folder_result *f = &a->folders[i];
		buf_append_str(b, "  ");
		pad(b, f->old_name, 28);
		buf_append_str(b, " -> ");
		pad(b, f->new_name, 24);
		buf_printf(b, " %6llu copied %6llu there %4llu failed %9.1f MB%s%s\n",
			   (unsigned long long)f->copied,
			   (unsigned long long)f->skipped, (unsigned long long)f->failed,
			   (double)f->bytes / 1e6, f->error ? "  ERROR: " : "",
			   f->error ? f->error : "");
	}
}

void sync_render_account(struct sync_render *r, const struct sync_account_result *a)
{
	clear_line(r);
	if (r->json)
		json_account(r, a);
	else
		text_account(r, a);
	r->naccounts++;
	r->copied += a->copied;
	r->skipped += a->skipped;
	r->failed += a->failed;
	r->bytes += a->bytes;
	r->total += a->total;
	r->matched += a->matched;
	r->flags_updated += a->flags_updated;
	r->expunged += a->expunged;
	if (strcmp(status_of(a), "ok") != 0)
		r->nfailed_accounts++;
}

const char *sync_render_summary(struct sync_render *r)
{
	snprintf(r->summary, sizeof r->summary,
		 "%zu accounts (%zu with problems): %llu copied, %llu recognised on the "
		 "destination, %llu flags updated, %llu expunged, %llu failed",
		 r->naccounts, r->nfailed_accounts, (unsigned long long)r->copied,
		 (unsigned long long)r->matched, (unsigned long long)r->flags_updated,
		 (unsigned long long)r->expunged, (unsigned long long)r->failed);
	return r->summary;
}

void sync_render_finish(struct sync_render **rp, int exit_code)
{
	struct sync_render *r = *rp;

	clear_line(r);
	if (r->json) {
		printf("{\"accounts\":[%s],\"messages\":%llu,\"copied\":%llu,\"skipped\":%llu,"
		       "\"matched\":%llu,\"flags_updated\":%llu,\"expunged\":%llu,"
		       "\"failed\":%llu,\"bytes\":%llu,\"would\":[%s],\"exit\":%d}\n",
		       r->accounts.data ? r->accounts.data : "", (unsigned long long)r->total,
		       (unsigned long long)r->copied, (unsigned long long)r->skipped,
		       (unsigned long long)r->matched, (unsigned long long)r->flags_updated,
		       (unsigned long long)r->expunged,
		       (unsigned long long)r->failed, (unsigned long long)r->bytes,
		       r->would.data ? r->would.data : "", exit_code);
	} else if (!r->quiet) {
		fputs(r->accounts.data ? r->accounts.data : "", stdout);
		if (r->naccounts > 1)
			printf("total: %zu accounts, %llu copied, %llu already there, %llu failed\n",
			       r->naccounts, (unsigned long long)r->copied,
			       (unsigned long long)r->skipped, (unsigned long long)r->failed);
	}
	fflush(stdout);
	for (size_t i = 0; i < r->nfail; i++) {
		free(r->fail[i].account);
		free(r->fail[i].folder);
		free(r->fail[i].why);
	}
	free(r->fail);
	free(r->cur_folder);
	buf_free(&r->accounts);
	buf_free(&r->would);
	free(r);
	*rp = NULL;
}
