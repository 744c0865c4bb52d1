/* cmd_dns_watch.c — `mailshift dns watch`: how far the switch to the new MX
 * has spread across resolvers (src/dns/watch.h does the watching; this file
 * gathers the options, asks through src/dns/resolver.h and renders).
 *
 * Domains: --domain (repeatable) or [migration] domains. Resolvers:
 * --resolver IP[:PORT] (repeatable) or [dns] resolvers or a default list
 * of large public resolvers. Expected MX host: --expect or the host of
 * [new] smtp. The configuration is read only when -c is given or something
 * is missing from the command line.
 *
 * Output: one line per change (text, or a JSON object per line with
 * --json), then a final line (JSON: "event":"summary"). Exit status: 0 all
 * resolvers converged for every domain, 1 --timeout passed first, 2 usage
 * or configuration, 4 no resolver gave a usable answer in the first poll
 * (or a local failure to send queries).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/json.h"
#include "core/url.h"
#include "dns/resolver.h"
#include "dns/watch.h"

#define MAX_LIST 64
#define MAX_SECS 31536000L   /* a year: more is a typo */

static const char *const default_resolvers[] = {
	"1.1.1.1", "8.8.8.8", "9.9.9.9", "208.67.222.222", "1.0.0.1", "8.8.4.4",
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailshift dns watch [-c FILE] [--resolver IP[:PORT]]... [--domain D]...\n"
		"                           [--expect HOST] [--interval SECS] [--timeout SECS]\n"
		"                           [--spf] [--json]\n"
		"\n"
		"Asks every resolver for the MX of each domain every --interval seconds (default\n"
		"30; the first poll at once) and prints a line per change. A resolver has\n"
		"converged when every MX of the best preference is the expected host (--expect,\n"
		"or the host of [new] smtp). The ETA is an upper bound from the TTLs of the\n"
		"answers still old. --spf also reports changes of the SPF record.\n"
		"Domains: --domain or [migration] domains. Resolvers: --resolver or [dns]\n"
		"resolvers, else 1.1.1.1 8.8.8.8 9.9.9.9 208.67.222.222 1.0.0.1 8.8.4.4.\n"
		"Exit status: 0 all resolvers converged, 1 --timeout passed first (default: no\n"
		"timeout), 2 usage/config, 4 no resolver answered the first poll.\n");
}

struct strv {
	char *v[MAX_LIST];
	size_t n;
};

/* Split a comma/space separated list into sv; false when it has too many. */
static bool strv_split(struct strv *sv, const char *text)
{
	char *copy = xstrdup(text), *save = NULL;
	bool ok = true;

	for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (sv->n == MAX_LIST) {
			ok = false;
			break;
		}
		sv->v[sv->n++] = xstrdup(t);
	}
	free(copy);
	return ok;
}

static void strv_clear(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	sv->n = 0;
}

static bool parse_secs(const char *opt, const char *s, long min, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < min || v > MAX_SECS) {
		fprintf(stderr, "mailshift dns watch: %s %s: give a whole number of seconds, "
				"%ld to %ld\n", opt, s, min, MAX_SECS);
		return false;
	}
	*out = v;
	return true;
}

/* ---------------------------------------------------------------- rendering */

struct render {
	bool json;
	const char *expect;
};

static void hms(char *out, size_t cap, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	strftime(out, cap, "%H:%M:%S", &tm);
}

static void text_answer(struct buf *b, const struct watch_state *s, enum watch_record rec)
{
	if (s->status == DNS_NOERROR && s->n_items > 0) {
		for (size_t i = 0; i < s->n_items; i++)
			buf_printf(b, "%s%s", i ? ", " : "", s->items[i]);
	} else if (s->status == DNS_NOERROR) {
		buf_printf(b, "no %s record", watch_record_name(rec));
	} else {
		buf_append_str(b, watch_status_name(s->status));
	}
}

static void json_answer(struct buf *b, const struct watch_state *s, int *first)
{
	json_key(b, "status", first);
	json_str(b, watch_status_name(s->status));
	json_key(b, "answer", first);
	buf_append_char(b, '[');
	for (size_t i = 0; i < s->n_items; i++) {
		if (i)
			buf_append_char(b, ',');
		json_str(b, s->items[i]);
	}
	buf_append_char(b, ']');
	json_key(b, "ttl", first);
	if (s->has_ttl)
		buf_printf(b, "%u", (unsigned)s->ttl);
	else
		buf_append_str(b, "null");
	json_key(b, "authoritative", first);
	buf_append_str(b, s->authoritative ? "true" : "false");
}

static void json_progress(struct buf *b, const struct watch_progress *p, int *first)
{
	json_key(b, "converged_resolvers", first);
	buf_printf(b, "%zu", p->converged);
	json_key(b, "resolvers", first);
	buf_printf(b, "%zu", p->total);
	json_key(b, "eta", first);
	if (p->eta)
		buf_printf(b, "%lld", (long long)p->eta);
	else
		buf_append_str(b, "null");
	json_key(b, "eta_authoritative", first);
	buf_append_str(b, p->eta_authoritative ? "true" : "false");
	json_key(b, "eta_unknown", first);
	buf_printf(b, "%zu", p->eta_unknown);
}

static void text_progress(struct buf *b, const struct watch_progress *p)
{
	char t[16];

	buf_printf(b, "%zu/%zu resolvers converged", p->converged, p->total);
	if (p->converged == p->total)
		return;
	if (p->eta) {
		hms(t, sizeof t, p->eta);
		buf_printf(b, "; the rest by %s at the latest (%s)", t,
			   p->eta_authoritative ? "zone TTL, once the zone has switched" : "TTL");
	}
	if (p->eta_unknown)
		buf_printf(b, "; %zu without an answer (no ETA)", p->eta_unknown);
}

static void on_change(void *ctx, const struct watch_change *c)
{
	const struct render *r = ctx;
	struct buf b;
	char t[16];

	buf_init(&b, 0);
	if (r->json) {
		int f = 1;
		buf_append_char(&b, '{');
		json_key(&b, "event", &f);
		json_str(&b, "change");
		json_key(&b, "time", &f);
		buf_printf(&b, "%lld", (long long)c->now->asked);
		json_key(&b, "resolver", &f);
		json_str(&b, c->server);
		json_key(&b, "domain", &f);
		json_str(&b, c->domain);
		json_key(&b, "record", &f);
		json_str(&b, watch_record_name(c->record));
		json_answer(&b, c->now, &f);
		if (c->record == WATCH_REC_MX) {
			json_key(&b, "converged", &f);
			buf_append_str(&b, c->now->converged ? "true" : "false");
		}
		json_key(&b, "previous", &f);
		if (c->prev) {
			int pf = 1;
			buf_append_char(&b, '{');
			json_answer(&b, c->prev, &pf);
			buf_append_char(&b, '}');
		} else {
			buf_append_str(&b, "null");
		}
		json_progress(&b, &c->progress, &f);
		buf_append_str(&b, "}\n");
	} else {
		hms(t, sizeof t, c->now->asked);
		buf_printf(&b, "%s  %s  %s %s: ", t, c->server, c->domain, watch_record_name(c->record));
		if (c->prev) {
			text_answer(&b, c->prev, c->record);
			buf_append_str(&b, " -> ");
		}
		text_answer(&b, c->now, c->record);
		if (c->now->has_ttl && c->now->n_items > 0)
			buf_printf(&b, " (TTL %u%s)", (unsigned)c->now->ttl,
				   c->now->authoritative ? ", authoritative" : "");
		if (c->record == WATCH_REC_MX)
			buf_append_str(&b, c->now->converged ? "  converged" : "  not converged");
		buf_append_str(&b, "; ");
		text_progress(&b, &c->progress);
		buf_append_char(&b, '\n');
	}
	fwrite(b.data, 1, b.len, stdout);
	fflush(stdout);   /* a line per change as it happens, also into a pipe */
	buf_free(&b);
}

static const char *result_name(enum watch_result res)
{
	switch (res) {
	case WATCH_CONVERGED: return "converged";
	case WATCH_TIMEOUT: return "timeout";
	case WATCH_NO_ANSWER: return "no_answer";
	case WATCH_ERROR: return "error";
	}
	return "?";
}

static void summary(const struct render *r, const struct watch *w, enum watch_result res,
		    const struct strv *servers, size_t n_domains, bool spf, int64_t elapsed,
		    const struct err *err)
{
	struct watch_progress p = watch_progress_get(w);
	struct buf b;

	buf_init(&b, 0);
	if (r->json) {
		int f = 1;
		buf_append_char(&b, '{');
		json_key(&b, "event", &f);
		json_str(&b, "summary");
		json_key(&b, "result", &f);
		json_str(&b, result_name(res));
		if (res == WATCH_ERROR) {
			json_key(&b, "error", &f);
			json_str(&b, err->msg);
		}
		json_key(&b, "expect", &f);
		json_str(&b, r->expect);
		json_key(&b, "polls", &f);
		buf_printf(&b, "%u", watch_polls(w));
		json_key(&b, "elapsed_s", &f);
		buf_printf(&b, "%lld", (long long)elapsed);
		json_progress(&b, &p, &f);
		json_key(&b, "states", &f);
		buf_append_char(&b, '[');
		int sf = 1;
		for (size_t d = 0; d < n_domains; d++)
			for (int rec = 0; rec < (spf ? 2 : 1); rec++)
				for (size_t s = 0; s < servers->n; s++) {
					const struct watch_state *st = watch_state_get(w, s, d, (enum watch_record)rec);
					if (st == NULL)
						continue;
					int ef = 1;
					buf_append_str(&b, sf ? "{" : ",{");
					sf = 0;
					json_key(&b, "resolver", &ef);
					json_str(&b, servers->v[s]);
					json_key(&b, "domain", &ef);
					json_str(&b, watch_domain(w, d));
					json_key(&b, "record", &ef);
					json_str(&b, watch_record_name((enum watch_record)rec));
					json_answer(&b, st, &ef);
					if (rec == WATCH_REC_MX) {
						json_key(&b, "converged", &ef);
						buf_append_str(&b, st->converged ? "true" : "false");
					}
					buf_append_char(&b, '}');
				}
		buf_append_str(&b, "]}\n");
		fwrite(b.data, 1, b.len, stdout);
		buf_free(&b);
		return;
	}
	/* text: the outcome, and for anything but success, who is behind */
	switch (res) {
	case WATCH_CONVERGED:
		buf_printf(&b, "all %zu resolvers answer %s for every domain (%u polls, %lld s)\n",
			   p.total, r->expect, watch_polls(w), (long long)elapsed);
		break;
	case WATCH_TIMEOUT:
		buf_printf(&b, "timeout after %lld s: ", (long long)elapsed);
		text_progress(&b, &p);
		buf_append_char(&b, '\n');
		break;
	case WATCH_NO_ANSWER:
		buf_printf(&b, "no resolver gave a usable answer in the first poll: check the "
			       "addresses and that they answer queries from this host\n");
		break;
	case WATCH_ERROR:
		buf_printf(&b, "stopped: %s\n", err->msg);
		break;
	}
	if (res != WATCH_CONVERGED)
		for (size_t d = 0; d < n_domains; d++)
			for (size_t s = 0; s < servers->n; s++) {
				const struct watch_state *st = watch_state_get(w, s, d, WATCH_REC_MX);
				if (st == NULL || st->converged)
					continue;
				buf_printf(&b, "  %s  %s: ", servers->v[s], watch_domain(w, d));
				text_answer(&b, st, WATCH_REC_MX);
				buf_append_char(&b, '\n');
			}
	FILE *out = res == WATCH_CONVERGED || res == WATCH_TIMEOUT ? stdout : stderr;
	fwrite(b.data, 1, b.len, out);
	buf_free(&b);
}

/* ---------------------------------------------------------------- lookups */

struct resolvers {
	struct resolver **v;
	size_t n;
};

static bool multi_lookup(void *ctx, size_t n, const char *name, uint16_t type,
			 struct dns_answer *out, struct err *err)
{
	struct resolvers *rs = ctx;

	return resolver_multi_lookup((struct resolver *const *)rs->v, n < rs->n ? n : rs->n, name,
				     type, out, err);
}

static int64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* ---------------------------------------------------------------- command */

int cmd_dns_watch(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "resolver", required_argument, NULL, 'r' },
		{ "domain", required_argument, NULL, 'd' },
		{ "expect", required_argument, NULL, 'e' },
		{ "interval", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ "spf", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct strv servers = { .n = 0 }, domains = { .n = 0 };
	const char *cpath = NULL;
	char *expect = NULL;
	long interval = 30, timeout = 0;
	bool spf = false, json = false;
	struct config *cfg = NULL;
	struct resolvers rs = { 0 };
	struct watch *w = NULL;
	struct err err;
	int rc = EXIT_USAGE, c;

	err_clear(&err);
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': cpath = optarg; break;
		case 'r':
		case 'd':
			if (!strv_split(c == 'r' ? &servers : &domains, optarg)) {
				fprintf(stderr, "mailshift dns watch: more than %d %s\n", MAX_LIST,
					c == 'r' ? "resolvers" : "domains");
				goto out;
			}
			break;
		case 'e': free(expect); expect = xstrdup(optarg); break;
		case 'i': if (!parse_secs("--interval", optarg, 1, &interval)) goto out; break;
		case 't': if (!parse_secs("--timeout", optarg, 0, &timeout)) goto out; break;
		case 's': spf = true; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); rc = EXIT_OK; goto out;
		default: usage(stderr); goto out;
		}
	}
	if (optind != argc) {
		usage(stderr);
		goto out;
	}

	/* The configuration fills only what the command line leaves out. The
	 * resolvers have a default, so they alone never require a file. */
	if (cpath != NULL || domains.n == 0 || expect == NULL) {
		cfg = cli_load_config("dns watch", cpath);
		if (cfg == NULL)
			goto out;
		if (domains.n == 0 && cfg->domains != NULL && !strv_split(&domains, cfg->domains)) {
			fprintf(stderr, "mailshift dns watch: %s: [migration] domains has more than %d "
					"names\n", cfg->path, MAX_LIST);
			goto out;
		}
		if (servers.n == 0 && cfg->dns_resolvers != NULL &&
		    !strv_split(&servers, cfg->dns_resolvers)) {
			fprintf(stderr, "mailshift dns watch: %s: [dns] resolvers has more than %d "
					"entries\n", cfg->path, MAX_LIST);
			goto out;
		}
		if (expect == NULL && cfg->new_server.smtp != NULL) {
			struct url u;
			char *what = xasprintf("%s [new] smtp", cfg->path);
			bool ok = url_parse(cfg->new_server.smtp, what, &u, &err);
			free(what);
			if (!ok) {
				fprintf(stderr, "mailshift dns watch: %s\n", err.msg);
				goto out;
			}
			expect = xstrdup(u.host);
			url_free(&u);
		}
	}
	if (domains.n == 0) {
		fprintf(stderr, "mailshift dns watch: no domain to watch: give --domain D or set "
				"[migration] domains\n");
		goto out;
	}
	if (expect == NULL) {
		fprintf(stderr, "mailshift dns watch: no expected MX host: give --expect HOST or set "
				"[new] smtp\n");
		goto out;
	}
	if (servers.n == 0)
		for (size_t i = 0; i < sizeof default_resolvers / sizeof *default_resolvers; i++)
			servers.v[servers.n++] = xstrdup(default_resolvers[i]);

	/* A try per query no longer than the interval keeps polls on time;
	 * two tries ride over a lost UDP packet. */
	int try_ms = interval >= 4 ? 2000 : (int)interval * 500;
	rs.v = xcalloc(servers.n, sizeof *rs.v);
	for (size_t i = 0; i < servers.n; i++) {
		rs.v[i] = resolver_new(servers.v[i], try_ms, 2, &err);
		if (rs.v[i] == NULL) {
			fprintf(stderr, "mailshift dns watch: --resolver %s: %s\n", servers.v[i], err.msg);
			goto out;
		}
		rs.n++;
	}

	struct render r = { .json = json };
	struct watch_opts o = {
		.servers = (const char *const *)servers.v, .n_servers = servers.n,
		.domains = (const char *const *)domains.v, .n_domains = domains.n,
		.expect = expect, .spf = spf,
		.interval_ms = (int64_t)interval * 1000, .timeout_ms = (int64_t)timeout * 1000,
		.lookup = multi_lookup, .lookup_ctx = &rs,
		.report = { .change = on_change, .polled = NULL, .ctx = &r },
	};
	w = watch_new(&o, &err);
	if (w == NULL) {
		fprintf(stderr, "mailshift dns watch: %s\n", err.msg);
		goto out;
	}
	/* render the names as the engine compares them */
	char *norm = dns_name_normalize(expect);
	free(expect);
	expect = norm;
	r.expect = expect;

	int64_t t0 = mono_s();
	enum watch_result res = watch_run(w, &err);
	summary(&r, w, res, &servers, domains.n, spf, mono_s() - t0, &err);
	switch (res) {
	case WATCH_CONVERGED: rc = EXIT_OK; break;
	case WATCH_TIMEOUT: rc = EXIT_PARTIAL; break;
	case WATCH_NO_ANSWER:
	case WATCH_ERROR: rc = EXIT_CONNECT; break;
	}
out:
	watch_free(&w);
	for (size_t i = 0; i < rs.n; i++)
		resolver_free(&rs.v[i]);
	free(rs.v);
	strv_clear(&servers);
	strv_clear(&domains);
	free(expect);
	config_free(&cfg);
	return rc;
}
