/* test_watch.c — the dns watch engine (src/dns/watch.c) against a table of
 * answers per resolver and a fake clock: convergence (best preference only),
 * change detection (TTL countdown is not a change), ETA from TTLs,
 * timeouts and SERVFAIL as states, the run loop's exits, SPF watching.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "dns/watch.h"

#include "testutil.h"

#define MAXS 6
#define WALL0 1700000000

/* One resolver's current answers. mx/txt: NULL = timeout, "SERVFAIL",
 * "NXDOMAIN", "" = NODATA, else records separated by ',' ("10 a.test,20 b.test")
 * or, for TXT, by '|'. */
struct fake_srv {
	const char *mx;
	const char *txt;
	uint32_t ttl;
	bool aa;
	char domain[64];   /* when set, only this domain has the records (others NODATA) */
};

struct fake {
	struct fake_srv srv[MAXS];
	size_t n;
	unsigned calls;
	bool fail;          /* a local failure */
	int64_t mono;       /* fake clock, ms */
	int64_t slept;
	/* script: after poll k, set server s's mx to v */
	struct { unsigned poll; size_t s; const char *mx; } script[8];
	size_t n_script;
	/* what was reported */
	struct buf log;
	unsigned changes, polled;
	struct watch_progress last;
};

static void add_rr(struct dns_answer *a, uint16_t type, uint32_t ttl, const char *item)
{
	a->rr = xreallocarray(a->rr, a->n + 1, sizeof *a->rr);
	struct dns_rr *r = &a->rr[a->n++];
	memset(r, 0, sizeof *r);
	r->name = xstrdup("owner.test");
	r->type = type;
	r->ttl = ttl;
	if (type == DNS_T_MX) {
		char *sp = strchr(item, ' ');
		r->preference = (uint16_t)strtoul(item, NULL, 10);
		r->target = xstrdup(sp ? sp + 1 : "");
	} else {
		r->text = xstrdup(item);
	}
}

static void fill(struct dns_answer *a, const char *spec, uint16_t type, uint32_t ttl, bool aa)
{
	a->authoritative = aa;
	if (spec == NULL) {
		a->status = DNS_TIMEOUT;
		a->authoritative = false;
		return;
	}
	if (strcmp(spec, "SERVFAIL") == 0) {
		a->status = DNS_SERVFAIL;
		return;
	}
	if (strcmp(spec, "NXDOMAIN") == 0 || spec[0] == '\0') {
		a->status = spec[0] ? DNS_NXDOMAIN : DNS_NOERROR;
		a->has_neg_soa = true;
		a->neg_ttl = 60;
		a->neg_soa.mname = xstrdup("ns1.test");
		a->neg_soa.rname = xstrdup("hostmaster.test");
		return;
	}
	char *copy = xstrdup(spec), *save = NULL;
	for (char *t = strtok_r(copy, type == DNS_T_MX ? "," : "|", &save); t;
	     t = strtok_r(NULL, type == DNS_T_MX ? "," : "|", &save))
		add_rr(a, type, ttl, t);
	free(copy);
	a->status = DNS_NOERROR;
}

static bool fake_lookup(void *ctx, size_t n, const char *name, uint16_t type,
			struct dns_answer *out, struct err *err)
{
	struct fake *f = ctx;

	assert_int_equal(n, f->n);
	f->calls++;
	if (f->fail) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_INTERNAL, false, "no sockets left");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const struct fake_srv *s = &f->srv[i];
		out[i].server = xasprintf("10.0.0.%zu:53", i + 1);
		if (s->domain[0] && strcmp(s->domain, name) != 0 && s->mx != NULL) {
			fill(&out[i], "", type, s->ttl, s->aa);
			continue;
		}
		fill(&out[i], type == DNS_T_MX ? s->mx : s->txt, type, s->ttl, s->aa);
	}
	return true;
}

static int64_t fake_mono(void *ctx)
{
	return ((struct fake *)ctx)->mono;
}

static int64_t fake_wall(void *ctx)
{
	return WALL0 + ((struct fake *)ctx)->mono / 1000;
}

static void fake_sleep(void *ctx, int64_t ms)
{
	struct fake *f = ctx;

	assert_true(ms > 0);
	f->mono += ms;
	f->slept += ms;
}

static void join_items(struct buf *b, const struct watch_state *s)
{
	if (s->status != DNS_NOERROR || s->n_items == 0) {
		buf_append_str(b, watch_status_name(s->status));
		return;
	}
	for (size_t i = 0; i < s->n_items; i++)
		buf_printf(b, "%s%s", i ? "," : "", s->items[i]);
}

static void on_change(void *ctx, const struct watch_change *c)
{
	struct fake *f = ctx;

	f->changes++;
	buf_printf(&f->log, "%s %s %s ", c->server, c->domain, watch_record_name(c->record));
	if (c->prev)
		join_items(&f->log, c->prev);
	else
		buf_append_str(&f->log, "-");
	buf_append_str(&f->log, " > ");
	join_items(&f->log, c->now);
	buf_printf(&f->log, "%s %zu/%zu\n", c->now->converged ? " ok" : "", c->progress.converged,
		   c->progress.total);
}

static void on_poll(void *ctx, const struct watch_poll_info *p)
{
	struct fake *f = ctx;

	f->polled++;
	assert_int_equal(p->poll, f->polled);
	f->last = p->progress;
	for (size_t i = 0; i < f->n_script; i++)
		if (f->script[i].poll == p->poll)
			f->srv[f->script[i].s].mx = f->script[i].mx;
}

static const char *const names[MAXS] = { "r1", "r2", "r3", "r4", "r5", "r6" };
static const char *const one_domain[] = { "migration.test" };

static struct fake *fake_new(size_t n, const char *mx, uint32_t ttl)
{
	struct fake *f = xcalloc(1, sizeof *f);

	f->n = n;
	for (size_t i = 0; i < n; i++) {
		f->srv[i].mx = mx;
		f->srv[i].txt = "v=spf1 ip4:192.0.2.10 -all|google-site-verification=x";
		f->srv[i].ttl = ttl;
	}
	buf_init(&f->log, 0);
	return f;
}

static void fake_free(struct fake *f)
{
	buf_free(&f->log);
	free(f);
}

static struct watch_clock clock_of(struct fake *f)
{
	return (struct watch_clock){ .mono_ms = fake_mono, .wall_s = fake_wall, .sleep_ms = fake_sleep, .ctx = f };
}

static struct watch *mk(struct fake *f, const struct watch_clock *clk, const char *const *domains,
			size_t nd, bool spf, int64_t interval, int64_t timeout)
{
	struct watch_opts o = {
		.servers = names, .n_servers = f->n, .domains = domains, .n_domains = nd,
		.expect = "MX.New-Host.test.", .spf = spf, .interval_ms = interval,
		.timeout_ms = timeout, .lookup = fake_lookup, .lookup_ctx = f,
		.report = { .change = on_change, .polled = on_poll, .ctx = f }, .clock = clk,
	};
	struct err err;
	err_clear(&err);
	struct watch *w = watch_new(&o, &err);
	assert_non_null(w);
	return w;
}

#define OLD "10 mx.old-host.test"
#define NEW "10 mx.new-host.test"

static void test_first_poll_and_convergence_rule(void **state)
{
	(void)state;
	struct fake *f = fake_new(5, OLD, 300);
	f->srv[1].mx = NEW;
	f->srv[2].mx = "20 mx.old-host.test,10 mx.new-host.test";      /* old only as backup */
	f->srv[3].mx = "10 mx.new-host.test,10 mx.old-host.test";      /* half to old */
	f->srv[4].mx = "10 MX.NEW-HOST.TEST";                           /* case */
	struct watch_clock clk = clock_of(f);
	struct watch *w = mk(f, &clk, one_domain, 1, false, 0, 0);
	struct err err;

	err_clear(&err);
	assert_true(watch_poll(w, &err));
	assert_int_equal(f->changes, 5);
	assert_string_equal(f->log.data,
			    "r1 migration.test MX - > 10 mx.old-host.test 3/5\n"
			    "r2 migration.test MX - > 10 mx.new-host.test ok 3/5\n"
			    "r3 migration.test MX - > 10 mx.new-host.test,20 mx.old-host.test ok 3/5\n"
			    "r4 migration.test MX - > 10 mx.new-host.test,10 mx.old-host.test 3/5\n"
			    "r5 migration.test MX - > 10 MX.NEW-HOST.TEST ok 3/5\n");
	assert_false(watch_converged(w));
	assert_int_equal(watch_progress_get(w).converged, 3);
	assert_int_equal(watch_polls(w), 1);
	watch_free(&w);
	assert_null(w);
	fake_free(f);
}

static void test_change_only_when_answer_differs(void **state)
{
	(void)state;
	struct fake *f = fake_new(3, OLD, 300);
	struct watch_clock clk = clock_of(f);
	struct watch *w = mk(f, &clk, one_domain, 1, false, 0, 0);
	struct err err;

	err_clear(&err);
	assert_true(watch_poll(w, &err));
	assert_int_equal(f->changes, 3);
	/* TTLs counting down and another order of the same records: no change */
	f->srv[0].ttl = 250;
	f->srv[1].mx = "10 mx.old-host.test";
	f->mono += 50000;
	assert_true(watch_poll(w, &err));
	assert_int_equal(f->changes, 3);
	assert_int_equal(watch_state_get(w, 0, 0, WATCH_REC_MX)->ttl, 250);
	/* one resolver switches: exactly one line, with the previous answer */
	buf_reset(&f->log);
	f->srv[1].mx = NEW;
	assert_true(watch_poll(w, &err));
	assert_int_equal(f->changes, 4);
	assert_string_equal(f->log.data,
			    "r2 migration.test MX 10 mx.old-host.test > 10 mx.new-host.test ok 1/3\n");
	/* a preference change is a change too */
	buf_reset(&f->log);
	f->srv[1].mx = "20 mx.new-host.test";
	assert_true(watch_poll(w, &err));
	assert_string_equal(f->log.data,
			    "r2 migration.test MX 10 mx.new-host.test > 20 mx.new-host.test ok 1/3\n");
	watch_free(&w);
	fake_free(f);
}

static void test_timeout_and_servfail_are_states(void **state)
{
	(void)state;
	struct fake *f = fake_new(3, OLD, 300);
	struct watch_clock clk = clock_of(f);
	struct watch *w = mk(f, &clk, one_domain, 1, false, 0, 0);
	struct err err;

	err_clear(&err);
	f->srv[2].mx = NULL;
	assert_true(watch_poll(w, &err));
	assert_contains(f->log.data, "r3 migration.test MX - > TIMEOUT 0/3\n");
	assert_int_equal(watch_progress_get(w).eta_unknown, 1);
	buf_reset(&f->log);
	f->srv[2].mx = "SERVFAIL";
	f->srv[1].mx = NULL;
	assert_true(watch_poll(w, &err));
	assert_string_equal(f->log.data,
			    "r2 migration.test MX 10 mx.old-host.test > TIMEOUT 0/3\n"
			    "r3 migration.test MX TIMEOUT > SERVFAIL 0/3\n");
	buf_reset(&f->log);
	f->srv[1].mx = NEW;
	f->srv[2].mx = NEW;
	assert_true(watch_poll(w, &err));
	assert_string_equal(f->log.data,
			    "r2 migration.test MX TIMEOUT > 10 mx.new-host.test ok 2/3\n"
			    "r3 migration.test MX SERVFAIL > 10 mx.new-host.test ok 2/3\n");
	const struct watch_state *s = watch_state_get(w, 2, 0, WATCH_REC_MX);
	assert_true(s->has_ttl);
	assert_int_equal(s->ttl, 300);
	watch_free(&w);
	fake_free(f);
}

static void test_eta_from_ttl(void **state)
{
	(void)state;
	struct fake *f = fake_new(4, OLD, 300);
	f->srv[0].ttl = 120;
	f->srv[1].ttl = 3600;
	f->srv[1].aa = true;
	f->srv[2].mx = NEW;
	f->srv[2].ttl = 86400;      /* converged: its TTL does not matter */
	f->srv[3].mx = NULL;
	f->mono = 10000;
	struct watch_clock clk = clock_of(f);
	struct watch *w = mk(f, &clk, one_domain, 1, false, 0, 0);
	struct err err;

	err_clear(&err);
	assert_true(watch_poll(w, &err));
	struct watch_progress p = watch_progress_get(w);
	assert_int_equal(p.converged, 1);
	assert_int_equal(p.total, 4);
	assert_int_equal(p.eta, WALL0 + 10 + 3600);
	assert_true(p.eta_authoritative);
	assert_int_equal(p.eta_unknown, 1);
	assert_int_equal(watch_state_get(w, 0, 0, WATCH_REC_MX)->asked, WALL0 + 10);

	/* a recursive resolver's countdown: the bound stays where it was */
	f->srv[1].mx = NEW;
	f->srv[3].mx = NEW;
	f->srv[0].ttl = 60;
	f->mono += 60000;
	assert_true(watch_poll(w, &err));
	p = watch_progress_get(w);
	assert_int_equal(p.converged, 3);
	assert_int_equal(p.eta, WALL0 + 10 + 120);
	assert_false(p.eta_authoritative);
	assert_int_equal(p.eta_unknown, 0);

	/* NXDOMAIN: the negative TTL from the SOA */
	f->srv[0].mx = "NXDOMAIN";
	assert_true(watch_poll(w, &err));
	p = watch_progress_get(w);
	assert_int_equal(p.eta, WALL0 + 70 + 60);
	assert_int_equal(watch_state_get(w, 0, 0, WATCH_REC_MX)->status, DNS_NXDOMAIN);

	f->srv[0].mx = NEW;
	assert_true(watch_poll(w, &err));
	assert_true(watch_converged(w));
	assert_int_equal(watch_progress_get(w).eta, 0);
	watch_free(&w);
	fake_free(f);
}

static void test_run_converges_when_last_switches(void **state)
{
	(void)state;
	struct fake *f = fake_new(5, OLD, 300);
	f->script[0].poll = 2, f->script[0].s = 0, f->script[0].mx = NEW;
	f->script[1].poll = 2, f->script[1].s = 1, f->script[1].mx = NEW;
	f->script[2].poll = 4, f->script[2].s = 2, f->script[2].mx = NEW;
	f->script[3].poll = 4, f->script[3].s = 3, f->script[3].mx = NEW;
	f->script[4].poll = 5, f->script[4].s = 4, f->script[4].mx = NEW;
	f->n_script = 5;
	struct watch_clock clk = clock_of(f);
	struct watch *w = mk(f, &clk, one_domain, 1, false, 1000, 60000);
	struct err err;

	err_clear(&err);
	assert_int_equal(watch_run(w, &err), WATCH_CONVERGED);
	assert_int_equal(watch_polls(w), 6);       /* poll 6 sees the last switch */
	assert_int_equal(f->mono, 5000);           /* polls at 0,1,..,5 s: no sleep after the last */
	assert_int_equal(f->changes, 5 + 5);
	assert_string_equal(strstr(f->log.data, "r1 migration.test MX 10"),
			    "r1 migration.test MX 10 mx.old-host.test > 10 mx.new-host.test ok 2/5\n"
			    "r2 migration.test MX 10 mx.old-host.test > 10 mx.new-host.test ok 2/5\n"
			    "r3 migration.test MX 10 mx.old-host.test > 10 mx.new-host.test ok 4/5\n"
			    "r4 migration.test MX 10 mx.old-host.test > 10 mx.new-host.test ok 4/5\n"
			    "r5 migration.test MX 10 mx.old-host.test > 10 mx.new-host.test ok 5/5\n");
	assert_int_equal(f->last.converged, 5);
	watch_free(&w);
	fake_free(f);
}

static void test_run_times_out(void **state)
{
	(void)state;
	struct fake *f = fake_new(2, OLD, 300);
	f->srv[0].mx = NEW;
	struct watch_clock clk = clock_of(f);
	struct watch *w = mk(f, &clk, one_domain, 1, false, 2000, 5000);
	struct err err;

	err_clear(&err);
	assert_int_equal(watch_run(w, &err), WATCH_TIMEOUT);
	/* polls at 0, 2, 4 s; the one due at 6 s is past the timeout: stop at 5 s */
	assert_int_equal(watch_polls(w), 3);
	assert_int_equal(f->mono, 5000);
	assert_int_equal(f->last.converged, 1);
	watch_free(&w);
	fake_free(f);
}

/* A slow poll (resolvers timing out) must not push the run past its timeout
 * by a whole interval. */
static bool slow_lookup(void *ctx, size_t n, const char *name, uint16_t type,
			struct dns_answer *out, struct err *err)
{
	struct fake *f = ctx;

	f->mono += 4000;
	return fake_lookup(ctx, n, name, type, out, err);
}

static void test_run_timeout_with_slow_polls(void **state)
{
	(void)state;
	struct fake *f = fake_new(2, OLD, 300);
	struct watch_clock clk = clock_of(f);
	struct watch_opts o = {
		.servers = names, .n_servers = 2, .domains = one_domain, .n_domains = 1,
		.expect = "mx.new-host.test", .interval_ms = 1000, .timeout_ms = 6000,
		.lookup = slow_lookup, .lookup_ctx = f, .clock = &clk,
	};
	struct err err;
	err_clear(&err);
	struct watch *w = watch_new(&o, &err);
	assert_non_null(w);
	assert_int_equal(watch_run(w, &err), WATCH_TIMEOUT);
	assert_int_equal(watch_polls(w), 2);       /* polls end at 4 s and 8 s */
	assert_int_equal(f->mono, 8000);
	assert_int_equal(f->slept, 0);             /* a poll longer than the interval: no sleep */
	watch_free(&w);
	fake_free(f);
}

static void test_run_no_answer(void **state)
{
	(void)state;
	struct fake *f = fake_new(3, NULL, 300);
	struct watch_clock clk = clock_of(f);
	struct watch *w = mk(f, &clk, one_domain, 1, false, 1000, 0);
	struct err err;

	err_clear(&err);
	f->srv[1].mx = "SERVFAIL";     /* a refusing resolver is no answer either */
	assert_int_equal(watch_run(w, &err), WATCH_NO_ANSWER);
	assert_int_equal(watch_polls(w), 1);
	assert_int_equal(f->changes, 3);
	watch_free(&w);

	/* one resolver answering is enough to go on; the others may come back */
	buf_reset(&f->log);
	f->changes = f->polled = 0;
	f->srv[2].mx = OLD;
	f->script[0].poll = 1, f->script[0].s = 0, f->script[0].mx = NEW;
	f->script[1].poll = 1, f->script[1].s = 1, f->script[1].mx = NEW;
	f->script[2].poll = 1, f->script[2].s = 2, f->script[2].mx = NEW;
	f->n_script = 3;
	w = mk(f, &clk, one_domain, 1, false, 1000, 0);
	assert_int_equal(watch_run(w, &err), WATCH_CONVERGED);
	assert_int_equal(watch_polls(w), 2);
	watch_free(&w);
	fake_free(f);
}

static void test_local_failure(void **state)
{
	(void)state;
	struct fake *f = fake_new(2, OLD, 300);
	struct watch_clock clk = clock_of(f);
	struct watch *w = mk(f, &clk, one_domain, 1, false, 1000, 0);
	struct err err;

	err_clear(&err);
	f->fail = true;
	assert_int_equal(watch_run(w, &err), WATCH_ERROR);
	assert_string_equal(err.msg, "no sockets left");
	assert_int_equal(watch_polls(w), 0);
	assert_int_equal(f->changes, 0);
	watch_free(&w);
	fake_free(f);
}

static void test_spf_reported_not_counted(void **state)
{
	(void)state;
	struct fake *f = fake_new(2, NEW, 300);
	struct watch_clock clk = clock_of(f);
	struct watch *w = mk(f, &clk, one_domain, 1, true, 1000, 0);
	struct err err;

	err_clear(&err);
	assert_true(watch_poll(w, &err));
	assert_true(watch_converged(w));
	assert_int_equal(f->changes, 4);
	const struct watch_state *s = watch_state_get(w, 0, 0, WATCH_REC_SPF);
	assert_non_null(s);
	assert_int_equal(s->n_items, 1);       /* the other TXT is not SPF */
	assert_string_equal(s->items[0], "v=spf1 ip4:192.0.2.10 -all");
	assert_false(s->converged);
	buf_reset(&f->log);
	f->srv[1].txt = "v=spf1 ip4:192.0.2.10 ip4:198.51.100.20 -all";
	f->srv[0].txt = "SERVFAIL";
	assert_true(watch_poll(w, &err));
	assert_string_equal(f->log.data,
			    "r1 migration.test SPF v=spf1 ip4:192.0.2.10 -all > SERVFAIL 2/2\n"
			    "r2 migration.test SPF v=spf1 ip4:192.0.2.10 -all > "
			    "v=spf1 ip4:192.0.2.10 ip4:198.51.100.20 -all 2/2\n");
	assert_true(watch_converged(w));
	/* without --spf there is no SPF state */
	watch_free(&w);
	f->polled = 0;
	w = mk(f, &clk, one_domain, 1, false, 1000, 0);
	assert_true(watch_poll(w, &err));
	assert_null(watch_state_get(w, 0, 0, WATCH_REC_SPF));
	watch_free(&w);
	fake_free(f);
}

static void test_all_domains_must_converge(void **state)
{
	(void)state;
	static const char *const two[] = { "Migration.Test.", "other.test" };
	struct fake *f = fake_new(2, NEW, 300);
	strcpy(f->srv[1].domain, "migration.test");   /* r2: other.test has no MX (NODATA) */
	struct watch_clock clk = clock_of(f);
	struct watch *w = mk(f, &clk, two, 2, false, 1000, 0);
	struct err err;

	err_clear(&err);
	assert_true(watch_poll(w, &err));
	assert_string_equal(watch_domain(w, 0), "migration.test");
	assert_int_equal(watch_progress_get(w).converged, 1);
	assert_false(watch_converged(w));
	const struct watch_state *s = watch_state_get(w, 1, 1, WATCH_REC_MX);
	assert_int_equal(s->status, DNS_NOERROR);
	assert_int_equal(s->n_items, 0);
	assert_int_equal(s->ttl, 60);          /* negative TTL */
	assert_contains(f->log.data, "r2 other.test MX - > NOERROR 1/2\n");
	f->srv[1].domain[0] = '\0';
	assert_true(watch_poll(w, &err));
	assert_true(watch_converged(w));
	watch_free(&w);
	fake_free(f);
}

static void test_bad_options(void **state)
{
	(void)state;
	static const char *const bad[] = { "exa mple.test" };
	struct fake *f = fake_new(1, NEW, 300);
	struct watch_opts o = {
		.servers = names, .n_servers = 1, .domains = bad, .n_domains = 1,
		.expect = "mx.new-host.test", .lookup = fake_lookup, .lookup_ctx = f,
	};
	struct err err;

	err_clear(&err);
	assert_null(watch_new(&o, &err));
	assert_contains(err.msg, "domain 'exa mple.test' is not a domain name");
	o.domains = one_domain;
	o.expect = "mx..test";
	err_clear(&err);
	assert_null(watch_new(&o, &err));
	assert_contains(err.msg, "expected MX host 'mx..test'");
	o.expect = "mx.new-host.test";
	o.n_servers = 0;
	err_clear(&err);
	assert_null(watch_new(&o, &err));
	assert_int_equal(err.kind, ERR_KIND_USAGE);
	assert_int_equal(f->calls, 0);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_poll_and_convergence_rule),
		cmocka_unit_test(test_change_only_when_answer_differs),
		cmocka_unit_test(test_timeout_and_servfail_are_states),
		cmocka_unit_test(test_eta_from_ttl),
		cmocka_unit_test(test_run_converges_when_last_switches),
		cmocka_unit_test(test_run_times_out),
		cmocka_unit_test(test_run_timeout_with_slow_polls),
		cmocka_unit_test(test_run_no_answer),
		cmocka_unit_test(test_local_failure),
		cmocka_unit_test(test_spf_reported_not_counted),
		cmocka_unit_test(test_all_domains_must_converge),
		cmocka_unit_test(test_bad_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
