/* cmd_dns.c — `mailshift dns check|watch`: dispatches watch to
 * cmd_dns_watch() and runs check: gathers the domains and the old/new
 * servers from the configuration and the options (options win), runs the
 * checks engine (dns/check.h) over the resolver (dns/resolver.h), and
 * renders the report grouped by domain and section, as text or --json.
 *
 * Exit status of check: 0 no FAIL (WARN alone is 0), 1 any FAIL, 2 usage
 * or configuration error.
 *
 * Authoritative servers are asked at their NS addresses on port 53, or on
 * --ns-port (the lab's NSD servers listen on one random port each).
 *
 * The network checks the engine leaves to its caller live here: the
 * MTA-STS policy fetch (dns/mta_sts.h; port 443 or --mta-sts-port, the
 * system's CAs or --mta-sts-ca) and --smtp, a connection to the new MX
 * (port 25 or --smtp-port, the system's CAs or --smtp-ca) through the
 * relay's SMTP client with STARTTLS when offered, certificate verified.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/json.h"
#include "core/url.h"
#include "dns/check.h"
#include "dns/mta_sts.h"
#include "dns/resolver.h"
#include "relay/smtp_client.h"

static void usage_dns(FILE *f)
{
	fprintf(f,
		"usage: mailshift dns check [options]\n"
		"       mailshift dns watch [options]   (see mailshift dns watch --help)\n");
}

static void usage_check(FILE *f)
{
	fprintf(f,
		"usage: mailshift dns check [-c FILE] [--domain D]... [--old-mx HOST] [--new-mx HOST]\n"
		"         [--old-ips LIST] [--new-ips LIST] [--old-selector S] [--new-selector S]\n"
		"         [--new-dkim-key PEM] [--resolver IP[:PORT]] [--ns-port PORT] [--json]\n"
		"         [--mta-sts-ca PEM] [--mta-sts-port PORT] [--smtp [--smtp-port PORT] [--smtp-ca PEM]]\n"
		"\n"
		"Cutover readiness of the domains: authoritative servers, MX and TTL, SPF for the\n"
		"old and new sending IPs, DKIM selectors, DMARC, MTA-STS (the HTTPS policy too)/TLS-RPT,\n"
		"and with --smtp whether the new MX offers STARTTLS. Defaults come from\n"
		"the configuration (-c FILE, or ./mailshift.conf): [migration] domains, [old]/[new]\n"
		"smtp host, sending_ips, dkim_selector, dkim_key. Exit 0: no FAIL, 1: a FAIL, 2: usage.\n");
}

struct auth_ctx {
	unsigned port;      /* 0: 53 */
};

static bool make_auth(void *ctx, const char *ip, dns_lookup_fn *lookup_r, void **lctx_r,
		      struct err *err)
{
	const struct auth_ctx *a = ctx;
	unsigned port = a->port ? a->port : 53;
	char *server = strchr(ip, ':') ? xasprintf("[%s]:%u", ip, port) : xasprintf("%s:%u", ip, port);
	struct resolver *r = resolver_new_authoritative(server, 0, 0, err);

	free(server);
	if (r == NULL)
		return false;
	*lookup_r = resolver_lookup;
	*lctx_r = r;
	return true;
}

static void free_auth(void *ctx, void *lctx)
{
	struct resolver *r = lctx;

	(void)ctx;
	resolver_free(&r);
}

struct net_ctx {
	unsigned sts_port;          /* 0: 443 */
	const char *sts_ca;
	unsigned smtp_port;         /* 0: 25 */
	const char *smtp_ca;
};

static bool sts_fetch(void *ctx, const char *domain, const char *const *addrs, size_t n_addrs,
		      char **body_r, size_t *len_r, struct err *err)
{
	const struct net_ctx *n = ctx;
	struct mta_sts_fetch_opts o = {
		.domain = domain, .addrs = addrs, .n_addrs = n_addrs,
		.port = n->sts_port, .ca_file = n->sts_ca,
	};

	return mta_sts_fetch(&o, body_r, len_r, err);
}

static bool smtp_probe(void *ctx, const char *host, bool *starttls_r, struct err *err)
{
	const struct net_ctx *n = ctx;
	char me[256] = "localhost";
	struct smtp_client_opts o = {
		.what = "new MX", .host = host, .port = n->smtp_port ? n->smtp_port : 25,
		.tls = SMTP_TLS_MAY, .verify = true, .ca_file = n->smtp_ca, .helo_name = me,
		.timeout_ms = 30000,
	};
	struct smtp_client *c;

	if (gethostname(me, sizeof(me) - 1) != 0 || me[0] == '\0')
		snprintf(me, sizeof(me), "localhost");
	c = smtp_client_connect(&o, err);
	if (c == NULL)
		return false;
	*starttls_r = smtp_client_tls(c);
	smtp_client_close(&c);
	return true;
}

/* A port option's value, or 0 with a message. */
static unsigned port_arg(const char *opt, const char *v)
{
	char *end;
	long p = strtol(v, &end, 10);

	if (*v == '\0' || *end != '\0' || p < 1 || p > 65535) {
		fprintf(stderr, "mailshift dns check: %s '%s' is not a port (1-65535)\n", opt, v);
		return 0;
	}
	return (unsigned)p;
}

static char *fmt_utc(time_t t)
{
	struct tm tm;
	char buf[64];

	if (gmtime_r(&t, &tm) == NULL)
		return xstrdup("?");
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(buf);
}

static void render_text(const struct check_report *rep, FILE *f)
{
	const char *domain = NULL;
	int sec = -1;

	for (size_t i = 0; i < rep->n; i++) {
		const struct check_item *it = &rep->items[i];

		if (domain == NULL || strcmp(domain, it->domain) != 0) {
			fprintf(f, "%s== %s ==\n", domain ? "\n" : "", it->domain);
			domain = it->domain;
			sec = -1;
		}
		if ((int)it->section != sec) {
			sec = (int)it->section;
			fprintf(f, "%s\n", check_section_title(it->section));
		}
		fprintf(f, "  %-4s  %s [%s]\n", check_status_name(it->status), it->message, it->code);
		if (it->status != CHECK_OK && it->advice != NULL &&
		    strcmp(it->advice, "nothing to do") != 0)
			fprintf(f, "        -> %s\n", it->advice);
	}
	fprintf(f, "\nsummary: %zu OK, %zu WARN, %zu FAIL, %zu INFO\n",
		check_report_count(rep, CHECK_OK), check_report_count(rep, CHECK_WARN),
		check_report_count(rep, CHECK_FAIL), check_report_count(rep, CHECK_INFO));
	if (rep->earliest_cutover != 0) {
		char *t = fmt_utc(rep->earliest_cutover);
		fprintf(f, "earliest safe MX cutover (after lowering the TTL now): %s\n", t);
		free(t);
	}
}

static void render_json(const struct check_report *rep, time_t now, FILE *f)
{
	struct buf b;
	int first = 1;
	char *t;

	buf_init(&b, 0);
	buf_append_char(&b, '{');
	json_key(&b, "now", &first);
	t = fmt_utc(now);
	json_str(&b, t);
	free(t);
	json_key(&b, "earliest_cutover", &first);
	if (rep->earliest_cutover != 0) {
		t = fmt_utc(rep->earliest_cutover);
		json_str(&b, t);
		free(t);
	} else {
		buf_append_str(&b, "null");
	}
	json_key(&b, "summary", &first);
	buf_printf(&b, "{\"ok\":%zu,\"warn\":%zu,\"fail\":%zu,\"info\":%zu}",
		   check_report_count(rep, CHECK_OK), check_report_count(rep, CHECK_WARN),
		   check_report_count(rep, CHECK_FAIL), check_report_count(rep, CHECK_INFO));
	json_key(&b, "items", &first);
	buf_append_char(&b, '[');
	for (size_t i = 0; i < rep->n; i++) {
		const struct check_item *it = &rep->items[i];
		int f1 = 1;

		if (i > 0)
			buf_append_char(&b, ',');
		buf_append_char(&b, '{');
		json_key(&b, "domain", &f1);
		json_str(&b, it->domain);
		json_key(&b, "section", &f1);
		json_str(&b, check_section_name(it->section));
		json_key(&b, "status", &f1);
		json_str(&b, check_status_name(it->status));
		json_key(&b, "code", &f1);
		json_str(&b, it->code);
		json_key(&b, "message", &f1);
		json_str(&b, it->message);
		json_key(&b, "advice", &f1);
		json_str(&b, it->advice);
		buf_append_char(&b, '}');
	}
	buf_append_str(&b, "]}\n");
	fwrite(b.data, 1, b.len, f);
	buf_free(&b);
}

/* The host of an smtp URL from the configuration, or NULL (message printed). */
static bool url_host(const char *url, const char *what, char **host_r)
{
	struct url u = { 0 };
	struct err err;

	*host_r = NULL;
	if (url == NULL)
		return true;
	err_clear(&err);
	if (!url_parse(url, what, &u, &err)) {
		fprintf(stderr, "mailshift dns check: %s\n", err.msg);
		return false;
	}
	*host_r = xstrdup(u.host);
	url_free(&u);
	return true;
}

static void add_domains(char ***v, size_t *n, const char *list)
{
	char *copy = xstrdup(list), *tok, *save = NULL;

	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		*v = xreallocarray(*v, *n + 1, sizeof(**v));
		(*v)[(*n)++] = xstrdup(tok);
	}
	free(copy);
}

enum {
	OPT_DOMAIN = 256, OPT_OLD_MX, OPT_NEW_MX, OPT_OLD_IPS, OPT_NEW_IPS, OPT_OLD_SEL,
	OPT_NEW_SEL, OPT_OLD_KEY, OPT_NEW_KEY, OPT_RESOLVER, OPT_NS_PORT, OPT_SMTP, OPT_JSON,
	OPT_STS_CA, OPT_STS_PORT, OPT_SMTP_PORT, OPT_SMTP_CA,
};

static int cmd_dns_check(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "domain", required_argument, NULL, OPT_DOMAIN },
		{ "old-mx", required_argument, NULL, OPT_OLD_MX },
		{ "new-mx", required_argument, NULL, OPT_NEW_MX },
		{ "old-ips", required_argument, NULL, OPT_OLD_IPS },
		{ "new-ips", required_argument, NULL, OPT_NEW_IPS },
		{ "old-selector", required_argument, NULL, OPT_OLD_SEL },
		{ "new-selector", required_argument, NULL, OPT_NEW_SEL },
		{ "old-dkim-key", required_argument, NULL, OPT_OLD_KEY },
		{ "new-dkim-key", required_argument, NULL, OPT_NEW_KEY },
		{ "resolver", required_argument, NULL, OPT_RESOLVER },
		{ "ns-port", required_argument, NULL, OPT_NS_PORT },
		{ "smtp", no_argument, NULL, OPT_SMTP },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "mta-sts-ca", required_argument, NULL, OPT_STS_CA },
		{ "mta-sts-port", required_argument, NULL, OPT_STS_PORT },
		{ "smtp-port", required_argument, NULL, OPT_SMTP_PORT },
		{ "smtp-ca", required_argument, NULL, OPT_SMTP_CA },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *config_path = NULL, *resolver_addr = NULL;
	const char *opt[OPT_JSON + 1] = { 0 };
	char **domains = NULL, *old_mx = NULL, *new_mx = NULL;
	size_t n_domains = 0;
	struct config *cfg = NULL;
	struct resolver *res = NULL;
	struct auth_ctx actx = { 0 };
	struct net_ctx nctx = { 0 };
	struct check_input in;
	struct check_report rep;
	struct err err;
	bool json = false, smtp = false;
	int c, rc = EXIT_USAGE;

	optind = 0;   /* full reinit: main may have used getopt */
	while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'h': usage_check(stdout); rc = EXIT_OK; goto out;
		case OPT_DOMAIN: add_domains(&domains, &n_domains, optarg); break;
		case OPT_RESOLVER: resolver_addr = optarg; break;
		case OPT_NS_PORT: {
			char *end;
			long p = strtol(optarg, &end, 10);

			if (*optarg == '\0' || *end != '\0' || p < 1 || p > 65535) {
				fprintf(stderr, "mailshift dns check: --ns-port '%s' is not a port "
						"(1-65535)\n", optarg);
				goto out;
			}
			actx.port = (unsigned)p;
			break;
		}
		case OPT_SMTP: smtp = true; break;
		case OPT_STS_CA: nctx.sts_ca = optarg; break;
		case OPT_SMTP_CA: nctx.smtp_ca = optarg; break;
		case OPT_STS_PORT:
			if ((nctx.sts_port = port_arg("--mta-sts-port", optarg)) == 0)
				goto out;
			break;
		case OPT_SMTP_PORT:
			if ((nctx.smtp_port = port_arg("--smtp-port", optarg)) == 0)
				goto out;
			break;
		case OPT_JSON: json = true; break;
		case OPT_OLD_MX: case OPT_NEW_MX: case OPT_OLD_IPS: case OPT_NEW_IPS:
		case OPT_OLD_SEL: case OPT_NEW_SEL: case OPT_OLD_KEY: case OPT_NEW_KEY:
			opt[c] = optarg;
			break;
		default: usage_check(stderr); goto out;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mailshift dns check: unexpected argument '%s'\n", argv[optind]);
		usage_check(stderr);
		goto out;
	}
	if (config_path == NULL && access("mailshift.conf", F_OK) == 0)
		config_path = "mailshift.conf";
	if (config_path != NULL) {
		err_clear(&err);
		cfg = config_load(config_path, &err);
		if (cfg == NULL) {
			fprintf(stderr, "mailshift dns check: %s\n", err.msg);
			goto out;
		}
		if (n_domains == 0 && cfg->domains != NULL)
			add_domains(&domains, &n_domains, cfg->domains);
		if (!url_host(cfg->old_server.smtp, "[old] smtp", &old_mx) ||
		    !url_host(cfg->new_server.smtp, "[new] smtp", &new_mx))
			goto out;
	}
	if (opt[OPT_OLD_MX]) {
		free(old_mx);
		old_mx = xstrdup(opt[OPT_OLD_MX]);
	}
	if (opt[OPT_NEW_MX]) {
		free(new_mx);
		new_mx = xstrdup(opt[OPT_NEW_MX]);
	}
	if (n_domains == 0) {
		fprintf(stderr, "mailshift dns check: no domain to check: give --domain D or set "
				"[migration] domains in the configuration\n");
		goto out;
	}

	memset(&in, 0, sizeof(in));
	in.domains = (const char *const *)domains;
	in.n_domains = n_domains;
#define PICK(o, field) (opt[o] ? opt[o] : cfg ? cfg->field : NULL)
	in.old_side.mx_host = old_mx;
	in.old_side.sending_ips = PICK(OPT_OLD_IPS, old_server.sending_ips);
	in.old_side.dkim_selector = PICK(OPT_OLD_SEL, old_server.dkim_selector);
	in.old_side.dkim_key = PICK(OPT_OLD_KEY, old_server.dkim_key);
	in.new_side.mx_host = new_mx;
	in.new_side.sending_ips = PICK(OPT_NEW_IPS, new_server.sending_ips);
	in.new_side.dkim_selector = PICK(OPT_NEW_SEL, new_server.dkim_selector);
	in.new_side.dkim_key = PICK(OPT_NEW_KEY, new_server.dkim_key);
#undef PICK
	err_clear(&err);
	res = resolver_new(resolver_addr, 0, 0, &err);
	if (res == NULL) {
		fprintf(stderr, "mailshift dns check: --resolver: %s\n", err.msg);
		goto out;
	}
	in.dns.lookup = resolver_lookup;
	in.dns.ctx = res;
	in.make_auth = make_auth;
	in.free_auth = free_auth;
	in.auth_ctx = &actx;
	in.now = time(NULL);
	in.smtp = smtp;
	in.sts_fetch = sts_fetch;
	in.sts_ctx = &nctx;
	in.smtp_probe = smtp_probe;
	in.smtp_ctx = &nctx;

	err_clear(&err);
	if (!check_run(&in, &rep, &err)) {
		fprintf(stderr, "mailshift dns check: %s\n", err.msg);
		goto out;
	}
	if (json)
		render_json(&rep, in.now, stdout);
	else
		render_text(&rep, stdout);
	fflush(stdout);
	rc = check_report_count(&rep, CHECK_FAIL) > 0 ? 1 : EXIT_OK;
	check_report_free(&rep);
out:
	resolver_free(&res);
	for (size_t i = 0; i < n_domains; i++)
		free(domains[i]);
	free(domains);
	free(old_mx);
	free(new_mx);
	config_free(&cfg);
	return rc;
}

int cmd_dns(int argc, char **argv)
{
	if (argc < 2) {
		usage_dns(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "check") == 0)
		return cmd_dns_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "watch") == 0)
		return cmd_dns_watch(argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage_dns(stdout);
		return EXIT_OK;
	}
	fprintf(stderr, "mailshift dns: unknown subcommand '%s'\n", argv[1]);
	usage_dns(stderr);
	return EXIT_USAGE;
}
