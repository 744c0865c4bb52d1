/* watch.c — the propagation watch engine; see watch.h for the contract
 * (what "converged", a change and the ETA mean).
 *
 * States live in one array indexed by (domain, record, resolver). A poll
 * asks each (domain, record) of all resolvers at once, builds the new
 * states, and only then reports the changes, so every event of a poll
 * carries the progress as it stands after the whole poll.
 */
#include "dns/watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/alloc.h"

struct watch {
	char **servers;
	size_t n_servers;
	char **domains;
	size_t n_domains;
	char *expect;
	size_t n_records;               /* 1 (MX) or 2 (MX, SPF) */
	int64_t interval_ms, timeout_ms;
	watch_lookup_multi_fn lookup;
	void *lookup_ctx;
	struct watch_report report;
	struct watch_clock clock;
	struct watch_state *st;         /* n_domains * n_records * n_servers */
	bool *have;
	unsigned polls;
	struct watch_progress progress;
};

/* ---------------------------------------------------------------- clocks */

static int64_t real_mono_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_wall_s(void *ctx)
{
	(void)ctx;
	return (int64_t)time(NULL);
}

static void real_sleep_ms(void *ctx, int64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000 };

	(void)ctx;
	while (ms > 0 && nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static const struct watch_clock real_clock = {
	.mono_ms = real_mono_ms, .wall_s = real_wall_s, .sleep_ms = real_sleep_ms, .ctx = NULL,
};

/* ---------------------------------------------------------------- states */

static void state_release(struct watch_state *s)
{
	for (size_t i = 0; i < s->n_items; i++)
		free(s->items[i]);
	free(s->items);
	memset(s, 0, sizeof *s);
}

static bool state_same(const struct watch_state *a, const struct watch_state *b)
{
	if (a->status != b->status || a->n_items != b->n_items)
		return false;
	for (size_t i = 0; i < a->n_items; i++)
		if (strcmp(a->items[i], b->items[i]) != 0)
			return false;
	return true;
}

/* MX items are "PREF HOST": order by preference as a number, then host. */
static int mx_item_cmp(const void *pa, const void *pb)
{
	const char *a = *(char *const *)pa, *b = *(char *const *)pb;
	unsigned long x = strtoul(a, NULL, 10), y = strtoul(b, NULL, 10);

	if (x != y)
		return x < y ? -1 : 1;
	return strcmp(a, b);
}

static int str_cmp(const void *pa, const void *pb)
{
	return strcmp(*(char *const *)pa, *(char *const *)pb);
}

static bool is_spf(const char *t)
{
	return t != NULL && strncasecmp(t, "v=spf1", 6) == 0 && (t[6] == '\0' || t[6] == ' ');
}

static void state_add(struct watch_state *s, char *item, uint32_t ttl)
{
	s->items = xreallocarray(s->items, s->n_items + 1, sizeof *s->items);
	s->items[s->n_items++] = item;
	if (!s->has_ttl || ttl < s->ttl)
		s->ttl = ttl;
	s->has_ttl = true;
}

/* Without records of the type asked (NXDOMAIN, NODATA), the negative TTL
 * is how long a cache keeps that; the SOA is the only place it comes from. */
static void state_negative(struct watch_state *s, const struct dns_answer *a)
{
	if (a->has_neg_soa) {
		s->ttl = a->neg_ttl;
		s->has_ttl = true;
	}
}

static void state_from_mx(struct watch_state *s, const struct dns_answer *a, const char *expect)
{
	uint16_t best = 0;
	bool any = false;

	s->status = a->status;
	s->authoritative = a->authoritative;
	if (a->status != DNS_NOERROR && a->status != DNS_NXDOMAIN)
		return;
	for (size_t i = 0; i < a->n; i++) {
		const struct dns_rr *r = &a->rr[i];
		if (r->type != DNS_T_MX)
			continue;
		/* the null MX (RFC 7505) has the root as target */
		const char *t = r->target && r->target[0] ? r->target : ".";
		state_add(s, xasprintf("%u %s", (unsigned)r->preference, t), r->ttl);
		if (!any || r->preference < best)
			best = r->preference;
		any = true;
	}
	if (!any) {
		state_negative(s, a);
		return;
	}
	qsort(s->items, s->n_items, sizeof *s->items, mx_item_cmp);
	s->converged = a->status == DNS_NOERROR;
	for (size_t i = 0; i < a->n && s->converged; i++) {
		const struct dns_rr *r = &a->rr[i];
		if (r->type == DNS_T_MX && r->preference == best &&
		    (r->target == NULL || strcasecmp(r->target, expect) != 0))
			s->converged = false;
	}
}

static void state_from_spf(struct watch_state *s, const struct dns_answer *a)
{
	s->status = a->status;
	s->authoritative = a->authoritative;
	if (a->status != DNS_NOERROR && a->status != DNS_NXDOMAIN)
		return;
	for (size_t i = 0; i < a->n; i++) {
		const struct dns_rr *r = &a->rr[i];
		if (r->type == DNS_T_TXT && !r->txt_has_nul && is_spf(r->text))
			state_add(s, xstrdup(r->text), r->ttl);
	}
	if (s->n_items == 0) {
		/* no SPF among the TXT records: the TXT RRset's TTL still says how
		 * long that lasts in a cache */
		for (size_t i = 0; i < a->n; i++)
			if (a->rr[i].type == DNS_T_TXT && (!s->has_ttl || a->rr[i].ttl < s->ttl)) {
				s->ttl = a->rr[i].ttl;
				s->has_ttl = true;
			}
		if (!s->has_ttl)
			state_negative(s, a);
		return;
	}
	qsort(s->items, s->n_items, sizeof *s->items, str_cmp);
}

/* ---------------------------------------------------------------- engine */

static size_t idx(const struct watch *w, size_t d, size_t rec, size_t s)
{
	return (d * w->n_records + rec) * w->n_servers + s;
}

static char **strv_copy(const char *const *v, size_t n)
{
	char **o = xcalloc(n, sizeof *o);

	for (size_t i = 0; i < n; i++)
		o[i] = xstrdup(v[i]);
	return o;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

struct watch *watch_new(const struct watch_opts *o, struct err *err)
{
	if (o->n_servers == 0 || o->n_domains == 0 || o->lookup == NULL || o->expect == NULL) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_USAGE, false,
			"dns watch needs at least one resolver, one domain and the expected MX host");
		return NULL;
	}
	char *expect = dns_name_normalize(o->expect);
	if (expect == NULL) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_USAGE, false,
			"expected MX host '%s' is not a host name: write it like mx.example.jp "
			"(internationalised names in their xn-- form)", o->expect);
		return NULL;
	}
	struct watch *w = xcalloc(1, sizeof *w);
	w->expect = expect;
	w->domains = xcalloc(o->n_domains, sizeof *w->domains);
	w->n_domains = o->n_domains;
	for (size_t i = 0; i < o->n_domains; i++) {
		w->domains[i] = dns_name_normalize(o->domains[i]);
		if (w->domains[i] == NULL) {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_USAGE, false,
				"domain '%s' is not a domain name: write it like example.jp "
				"(internationalised names in their xn-- form)", o->domains[i]);
			watch_free(&w);
			return NULL;
		}
	}
	w->servers = strv_copy(o->servers, o->n_servers);
	w->n_servers = o->n_servers;
	w->n_records = o->spf ? 2 : 1;
	w->interval_ms = o->interval_ms > 0 ? o->interval_ms : 30000;
	w->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 0;
	w->lookup = o->lookup;
	w->lookup_ctx = o->lookup_ctx;
	w->report = o->report;
	w->clock = o->clock ? *o->clock : real_clock;
	size_t n = w->n_domains * w->n_records * w->n_servers;
	w->st = xcalloc(n, sizeof *w->st);
	w->have = xcalloc(n, sizeof *w->have);
	w->progress.total = w->n_servers;
	return w;
}

void watch_free(struct watch **wp)
{
	struct watch *w = *wp;

	if (w == NULL)
		return;
	if (w->st != NULL)
		for (size_t i = 0; i < w->n_domains * w->n_records * w->n_servers; i++)
			state_release(&w->st[i]);
	free(w->st);
	free(w->have);
	strv_free(w->servers, w->n_servers);
	strv_free(w->domains, w->n_domains);
	free(w->expect);
	free(w);
	*wp = NULL;
}

static void progress_compute(struct watch *w)
{
	struct watch_progress p = { .total = w->n_servers };

	for (size_t s = 0; s < w->n_servers; s++) {
		bool conv = true, unknown = false;
		for (size_t d = 0; d < w->n_domains; d++) {
			size_t i = idx(w, d, WATCH_REC_MX, s);
			const struct watch_state *st = &w->st[i];
			if (w->have[i] && st->converged)
				continue;
			conv = false;
			if (!w->have[i] || !st->has_ttl) {
				unknown = true;
				continue;
			}
			int64_t by = st->asked + (int64_t)st->ttl;
			if (by > p.eta) {
				p.eta = by;
				p.eta_authoritative = st->authoritative;
			} else if (by == p.eta && st->authoritative) {
				p.eta_authoritative = true;
			}
		}
		if (conv)
			p.converged++;
		if (unknown)
			p.eta_unknown++;
	}
	w->progress = p;
}

bool watch_poll(struct watch *w, struct err *err)
{
	size_t n = w->n_servers, per = w->n_domains * w->n_records * n;
	struct dns_answer *ans = xcalloc(n, sizeof *ans);
	struct watch_state *prev = xcalloc(per, sizeof *prev);
	bool *changed = xcalloc(per, sizeof *changed), *had = xcalloc(per, sizeof *had);
	int64_t wall = w->clock.wall_s(w->clock.ctx);
	bool ok = true;

	for (size_t d = 0; d < w->n_domains && ok; d++) {
		for (size_t rec = 0; rec < w->n_records && ok; rec++) {
			uint16_t type = rec == WATCH_REC_MX ? DNS_T_MX : DNS_T_TXT;
			memset(ans, 0, n * sizeof *ans);
			if (!w->lookup(w->lookup_ctx, n, w->domains[d], type, ans, err)) {
				ok = false;
				for (size_t s = 0; s < n; s++)
					dns_answer_free(&ans[s]);
				break;
			}
			for (size_t s = 0; s < n; s++) {
				size_t i = idx(w, d, rec, s);
				struct watch_state ns = { 0 };
				if (rec == WATCH_REC_MX)
					state_from_mx(&ns, &ans[s], w->expect);
				else
					state_from_spf(&ns, &ans[s]);
				ns.asked = wall;
				dns_answer_free(&ans[s]);
				had[i] = w->have[i];
				changed[i] = !w->have[i] || !state_same(&w->st[i], &ns);
				prev[i] = w->st[i];
				w->st[i] = ns;
				w->have[i] = true;
			}
		}
	}
	free(ans);
	if (ok) {
		w->polls++;
		progress_compute(w);
		struct watch_poll_info info = { .poll = w->polls, .wall = wall, .progress = w->progress };
		for (size_t d = 0; d < w->n_domains; d++)
			for (size_t rec = 0; rec < w->n_records; rec++)
				for (size_t s = 0; s < n; s++) {
					size_t i = idx(w, d, rec, s);
					if (!changed[i])
						continue;
					info.changes++;
					struct watch_change c = {
						.resolver = s, .server = w->servers[s], .domain = w->domains[d],
						.record = (enum watch_record)rec, .prev = had[i] ? &prev[i] : NULL,
						.now = &w->st[i], .progress = w->progress,
					};
					if (w->report.change)
						w->report.change(w->report.ctx, &c);
				}
		if (w->report.polled)
			w->report.polled(w->report.ctx, &info);
	}
	for (size_t i = 0; i < per; i++)
		state_release(&prev[i]);
	free(prev);
	free(changed);
	free(had);
	return ok;
}

bool watch_converged(const struct watch *w)
{
	return w->polls > 0 && w->progress.converged == w->n_servers;
}

/* A usable answer: the resolver really answered for the MX (not a
 * timeout, not a failure or refusal). */
static bool any_usable(const struct watch *w)
{
	for (size_t d = 0; d < w->n_domains; d++)
		for (size_t s = 0; s < w->n_servers; s++) {
			const struct watch_state *st = &w->st[idx(w, d, WATCH_REC_MX, s)];
			if (st->status == DNS_NOERROR || st->status == DNS_NXDOMAIN)
				return true;
		}
	return false;
}

enum watch_result watch_run(struct watch *w, struct err *err)
{
	const struct watch_clock *c = &w->clock;
	int64_t start = c->mono_ms(c->ctx);
	int64_t deadline = w->timeout_ms ? start + w->timeout_ms : 0;

	for (;;) {
		int64_t t0 = c->mono_ms(c->ctx);
		if (!watch_poll(w, err))
			return WATCH_ERROR;
		if (watch_converged(w))
			return WATCH_CONVERGED;
		if (w->polls == 1 && !any_usable(w))
			return WATCH_NO_ANSWER;
		int64_t now = c->mono_ms(c->ctx), next = t0 + w->interval_ms;
		if (deadline) {
			if (now >= deadline)
				return WATCH_TIMEOUT;
			if (next >= deadline) {
				c->sleep_ms(c->ctx, deadline - now);
				return WATCH_TIMEOUT;
			}
		}
		if (next > now)
			c->sleep_ms(c->ctx, next - now);
	}
}

const struct watch_state *watch_state_get(const struct watch *w, size_t resolver, size_t domain,
					  enum watch_record record)
{
	if (resolver >= w->n_servers || domain >= w->n_domains || (size_t)record >= w->n_records)
		return NULL;
	size_t i = idx(w, domain, record, resolver);
	return w->have[i] ? &w->st[i] : NULL;
}

struct watch_progress watch_progress_get(const struct watch *w)
{
	return w->progress;
}

unsigned watch_polls(const struct watch *w)
{
	return w->polls;
}

const char *watch_domain(const struct watch *w, size_t domain)
{
	return domain < w->n_domains ? w->domains[domain] : NULL;
}

const char *watch_status_name(enum dns_status s)
{
	switch (s) {
	case DNS_NOERROR: return "NOERROR";
	case DNS_NXDOMAIN: return "NXDOMAIN";
	case DNS_SERVFAIL: return "SERVFAIL";
	case DNS_TIMEOUT: return "TIMEOUT";
	}
	return "?";
}

const char *watch_record_name(enum watch_record r)
{
	return r == WATCH_REC_SPF ? "SPF" : "MX";
}
