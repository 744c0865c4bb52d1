/* check.c — the checks of `mailshift dns check`; see check.h for the
 * contract. Every finding becomes an item with a stable code; nothing is
 * printed here. */
#include "dns/check.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "dns/dkim.h"
#include "dns/dmarc.h"
#include "dns/mta_sts.h"
#include "dns/spf.h"

struct run {
	const struct check_input *in;
	struct check_report *rep;
	const char *domain;
	enum check_section sec;
	char **ips[2];              /* old, new sending IPs */
	size_t n_ips[2];
	/* filled by the SPF and DKIM sections for the DMARC alignment */
	bool new_spf_pass;
	bool new_dkim_ok;
};

static const char *const side_name[2] = { "old", "new" };

static void add(struct run *r, enum check_status st, const char *code, char *advice,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* advice is taken over (allocated by the caller). */
static void add(struct run *r, enum check_status st, const char *code, char *advice,
		const char *fmt, ...)
{
	struct check_report *rep = r->rep;
	struct check_item *it;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	rep->items = xreallocarray(rep->items, rep->n + 1, sizeof(*rep->items));
	it = &rep->items[rep->n++];
	it->domain = xstrdup(r->domain);
	it->section = r->sec;
	it->status = st;
	it->code = xstrdup(code);
	it->message = msg;
	it->advice = advice;
}

/* Lower case, no trailing dot: how dns_rr names are written. */
static char *name_norm(const char *s)
{
	char *n = xstrdup(s ? s : "");
	size_t len = strlen(n);

	while (len > 0 && n[len - 1] == '.')
		n[--len] = '\0';
	for (char *p = n; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return n;
}

static bool name_eq(const char *a, const char *b)
{
	char *x, *y;
	bool eq;

	if (a == NULL || b == NULL)
		return false;
	x = name_norm(a);
	y = name_norm(b);
	eq = strcmp(x, y) == 0;
	free(x);
	free(y);
	return eq;
}

static const char *dns_status_text(enum dns_status st)
{
	switch (st) {
	case DNS_NOERROR: return "NOERROR";
	case DNS_NXDOMAIN: return "NXDOMAIN";
	case DNS_SERVFAIL: return "SERVFAIL";
	case DNS_TIMEOUT: return "timeout";
	}
	return "?";
}

/* A local failure of the lookup function is shown as SERVFAIL: the check
 * cannot conclude either way. */
static void ask(const struct dns_resolver_ref *d, const char *name, uint16_t type,
		struct dns_answer *a)
{
	struct err err;

	memset(a, 0, sizeof(*a));
	err_clear(&err);
	if (!d->lookup(d->ctx, name, type, a, &err)) {
		dns_answer_free(a);
		memset(a, 0, sizeof(*a));
		a->status = DNS_SERVFAIL;
	}
}

static size_t count_type(const struct dns_answer *a, uint16_t type)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		if (a->rr[i].type == type)
			n++;
	return n;
}

static void addr_text(const struct dns_rr *rr, char *out, size_t len)
{
	if (inet_ntop(rr->family, rr->addr, out, (socklen_t)len) == NULL)
		snprintf(out, len, "?");
}

/* The A and AAAA addresses of name, as text; *nx when the name does not
 * exist, *cname_r (allocated) when name itself is a CNAME. */
static char **addresses(const struct dns_resolver_ref *d, const char *name, size_t *n_r,
			bool *nx, bool *dnsfail, char **cname_r)
{
	static const uint16_t types[2] = { DNS_T_A, DNS_T_AAAA };
	char **v = NULL;
	size_t n = 0;

	*nx = false;
	*dnsfail = false;
	if (cname_r != NULL)
		*cname_r = NULL;
	for (int t = 0; t < 2; t++) {
		struct dns_answer a;

		ask(d, name, types[t], &a);
		if (a.status == DNS_NXDOMAIN)
			*nx = true;
		else if (a.status != DNS_NOERROR)
			*dnsfail = true;
		for (size_t i = 0; i < a.n; i++) {
			const struct dns_rr *rr = &a.rr[i];
			char buf[INET6_ADDRSTRLEN];

			if (rr->type == DNS_T_CNAME && cname_r != NULL && *cname_r == NULL &&
			    rr->name != NULL && name_eq(rr->name, name))
				*cname_r = xstrdup(rr->target ? rr->target : "");
			if (rr->type != types[t])
				continue;
			addr_text(rr, buf, sizeof(buf));
			v = xreallocarray(v, n + 1, sizeof(*v));
			v[n++] = xstrdup(buf);
		}
		dns_answer_free(&a);
	}
	*n_r = n;
	return v;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char *fmt_time(time_t t)
{
	struct tm tm;
	char buf[64];

	if (gmtime_r(&t, &tm) == NULL)
		return xstrdup("?");
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	return xstrdup(buf);
}

static char *fmt_duration(uint32_t s)
{
	if (s >= 86400 && s % 3600 == 0)
		return xasprintf("%u h", s / 3600);
	if (s >= 3600)
		return xasprintf("%u h %u min", s / 3600, s % 3600 / 60);
	if (s >= 60)
		return xasprintf("%u min", (s + 59) / 60);
	return xasprintf("%u s", s);
}

/* ------------------------------------------------------------ 1. auth */

struct ns_answer {
	char *host, *ip;
	uint32_t serial;
};

/* RFC 1982 serial number arithmetic: is a newer than b? */
static bool serial_newer(uint32_t a, uint32_t b)
{
	return a != b && (int32_t)(a - b) > 0;
}

static void ask_ns(struct run *r, const char *host, const char *ip, struct ns_answer **v, size_t *n)
{
	const struct check_input *in = r->in;
	struct dns_resolver_ref auth = { NULL, NULL };
	struct dns_answer a;
	struct err err;
	const struct dns_rr *soa = NULL;

	err_clear(&err);
	if (!in->make_auth(in->auth_ctx, ip, &auth.lookup, &auth.ctx, &err)) {
		add(r, CHECK_FAIL, "ns.no-answer",
		    xasprintf("check the address of %s and that it serves the zone", host),
		    "cannot ask %s (%s): %s", host, ip, err.msg);
		return;
	}
	ask(&auth, r->domain, DNS_T_SOA, &a);
	if (in->free_auth != NULL)
		in->free_auth(in->auth_ctx, auth.ctx);
	for (size_t i = 0; i < a.n; i++)
		if (a.rr[i].type == DNS_T_SOA && soa == NULL)
			soa = &a.rr[i];
	if (a.status == DNS_NOERROR && soa != NULL && !a.authoritative) {
		add(r, CHECK_FAIL, "ns.not-authoritative",
		    xasprintf("load the zone %s on %s or remove %s from the NS records: a lame server "
			      "makes resolvers retry and may serve stale data", r->domain, host, host),
		    "%s (%s) answers the SOA of %s without the AA flag: it is not authoritative for it",
		    host, ip, r->domain);
	} else if (a.status == DNS_NOERROR && soa != NULL) {
		add(r, CHECK_OK, "ns.answer", xstrdup("nothing to do"),
		    "%s (%s) answers authoritatively, SOA serial %u", host, ip, soa->soa.serial);
		*v = xreallocarray(*v, *n + 1, sizeof(**v));
		(*v)[*n].host = xstrdup(host);
		(*v)[*n].ip = xstrdup(ip);
		(*v)[*n].serial = soa->soa.serial;
		(*n)++;
	} else if (a.status == DNS_NOERROR || a.status == DNS_NXDOMAIN) {
		add(r, CHECK_FAIL, "ns.no-zone",
		    xasprintf("load the zone %s on %s or remove %s from the NS records", r->domain,
			      host, host),
		    "%s (%s) has no SOA for %s (%s): it does not serve the zone", host, ip, r->domain,
		    dns_status_text(a.status));
	} else {
		add(r, CHECK_FAIL, "ns.no-answer",
		    xasprintf("make %s (%s) answer on port 53 (UDP and TCP), or remove it from the "
			      "NS records", host, ip),
		    "%s (%s) did not answer the SOA query for %s (%s)", host, ip, r->domain,
		    dns_status_text(a.status));
	}
	dns_answer_free(&a);
}

static void check_auth(struct run *r)
{
	struct dns_answer a;
	struct ns_answer *ans = NULL;
	size_t n_ans = 0;
	struct buf list;
	size_t n_ns;

	r->sec = CHECK_SEC_AUTH;
	ask(&r->in->dns, r->domain, DNS_T_NS, &a);
	n_ns = count_type(&a, DNS_T_NS);
	if (a.status == DNS_NXDOMAIN) {
		add(r, CHECK_FAIL, "ns.nxdomain",
		    xasprintf("check the spelling of %s and its delegation at the registrar", r->domain),
		    "%s does not exist (NXDOMAIN)", r->domain);
		dns_answer_free(&a);
		return;
	}
	if (a.status != DNS_NOERROR || n_ns == 0) {
		add(r, CHECK_FAIL, a.status != DNS_NOERROR ? "ns.dns-error" : "ns.none",
		    xasprintf("check the delegation of %s at its parent zone and that the resolver "
			      "can reach its servers", r->domain),
		    "no NS records for %s (%s)", r->domain, dns_status_text(a.status));
		dns_answer_free(&a);
		return;
	}
	buf_init(&list, 0);
	for (size_t i = 0; i < a.n; i++)
		if (a.rr[i].type == DNS_T_NS)
			buf_printf(&list, "%s%s", list.len ? ", " : "", a.rr[i].target);
	add(r, CHECK_INFO, "ns.list", xstrdup("nothing to do"), "NS of %s: %s", r->domain,
	    list.data);
	buf_free(&list);
	if (r->in->make_auth == NULL) {
		add(r, CHECK_INFO, "ns.skipped",
		    xstrdup("run the check where the authoritative servers can be reached to compare "
			    "their serials"),
		    "the authoritative servers were not asked directly");
		dns_answer_free(&a);
		return;
	}
	for (size_t i = 0; i < a.n; i++) {
		const char *host = a.rr[i].target;
		size_t n_addr;
		bool nx, fail;
		char **addr;

		if (a.rr[i].type != DNS_T_NS || host == NULL)
			continue;
		addr = addresses(&r->in->dns, host, &n_addr, &nx, &fail, NULL);
		if (n_addr == 0)
			add(r, CHECK_WARN, "ns.no-address",
			    xasprintf("give %s an A record (and glue at the parent if it is inside %s)",
				      host, r->domain),
			    "name server %s has no address (%s)", host,
			    nx ? "NXDOMAIN" : fail ? "DNS failure" : "no A/AAAA");
		for (size_t j = 0; j < n_addr; j++)
			ask_ns(r, host, addr[j], &ans, &n_ans);
		strv_free(addr, n_addr);
	}
	dns_answer_free(&a);
	if (n_ans > 0) {
		uint32_t newest = ans[0].serial;
		bool agree = true;

		for (size_t i = 1; i < n_ans; i++) {
			if (ans[i].serial != newest)
				agree = false;
			if (serial_newer(ans[i].serial, newest))
				newest = ans[i].serial;
		}
		if (agree)
			add(r, CHECK_OK, "ns.serial", xstrdup("nothing to do"),
			    "all %zu authoritative answers carry serial %u", n_ans, newest);
		for (size_t i = 0; agree == false && i < n_ans; i++) {
			if (ans[i].serial == newest)
				continue;
			add(r, CHECK_WARN, "ns.serial-mismatch",
			    xasprintf("wait until %s has the zone with serial %u (check NOTIFY and zone "
				      "transfers) before relying on a change", ans[i].host, newest),
			    "%s (%s) still serves serial %u; the newest is %u", ans[i].host, ans[i].ip,
			    ans[i].serial, newest);
		}
	}
	for (size_t i = 0; i < n_ans; i++) {
		free(ans[i].host);
		free(ans[i].ip);
	}
	free(ans);
}

/* ------------------------------------------------------------ 2. MX */

static char *reverse_name(const char *ip)
{
	unsigned char b[16];
	struct buf o;

	if (inet_pton(AF_INET, ip, b) == 1)
		return xasprintf("%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
	if (inet_pton(AF_INET6, ip, b) != 1)
		return NULL;
	buf_init(&o, 0);
	for (int i = 15; i >= 0; i--)
		buf_printf(&o, "%x.%x.", b[i] & 0xf, b[i] >> 4);
	buf_append_str(&o, "ip6.arpa");
	return buf_steal(&o);
}

static void check_rdns(struct run *r, const char *host, const char *ip)
{
	char *rev = reverse_name(ip);
	struct dns_answer a;
	struct buf names;
	bool confirmed = false;

	if (rev == NULL)
		return;
	ask(&r->in->dns, rev, DNS_T_PTR, &a);
	free(rev);
	if (count_type(&a, DNS_T_PTR) == 0) {
		add(r, CHECK_WARN, "mx.rdns-missing",
		    xasprintf("ask whoever runs the address block of %s to set its PTR to %s: many "
			      "servers distrust hosts without reverse DNS", ip, host),
		    "%s (%s of %s) has no reverse DNS (%s)", ip, host, r->domain,
		    dns_status_text(a.status));
		dns_answer_free(&a);
		return;
	}
	buf_init(&names, 0);
	for (size_t i = 0; i < a.n && !confirmed; i++) {
		size_t n;
		bool nx, fail;
		char **v;

		if (a.rr[i].type != DNS_T_PTR)
			continue;
		buf_printf(&names, "%s%s", names.len ? ", " : "", a.rr[i].target);
		v = addresses(&r->in->dns, a.rr[i].target, &n, &nx, &fail, NULL);
		for (size_t j = 0; j < n; j++)
			if (strcmp(v[j], ip) == 0)
				confirmed = true;
		if (confirmed)
			add(r, CHECK_OK, "mx.fcrdns", xstrdup("nothing to do"),
			    "%s -> %s -> %s: forward-confirmed reverse DNS", ip, a.rr[i].target, ip);
		strv_free(v, n);
	}
	if (!confirmed)
		add(r, CHECK_WARN, "mx.fcrdns-mismatch",
		    xasprintf("make the PTR of %s name a host whose A/AAAA is %s (for example %s)",
			      ip, ip, host),
		    "%s has reverse DNS %s, which does not resolve back to %s", ip, names.data, ip);
	buf_free(&names);
	dns_answer_free(&a);
}

static void check_mx_host(struct run *r, const char *host)
{
	size_t n;
	bool nx, fail;
	char *cname;
	char **v = addresses(&r->in->dns, host, &n, &nx, &fail, &cname);
	struct buf list;

	if (cname != NULL)
		add(r, CHECK_FAIL, "mx.cname",
		    xasprintf("point the MX at %s itself: an MX must name a host, not an alias "
			      "(RFC 2181 10.3), and some senders refuse it", cname),
		    "MX target %s is a CNAME (to %s)", host, cname);
	if (n == 0) {
		add(r, CHECK_FAIL, fail && !nx ? "mx.dns-error" : "mx.no-address",
		    xasprintf("give %s an A (or AAAA) record, or point the MX at a host that has one",
			      host),
		    "MX target %s has no address (%s)", host,
		    nx ? "NXDOMAIN" : fail ? "DNS failure" : "no A or AAAA record");
	} else {
		buf_init(&list, 0);
		for (size_t i = 0; i < n; i++)
			buf_printf(&list, "%s%s", i ? ", " : "", v[i]);
		add(r, CHECK_OK, "mx.address", xstrdup("nothing to do"), "%s has address %s", host,
		    list.data);
		buf_free(&list);
		for (size_t i = 0; i < n; i++)
			check_rdns(r, host, v[i]);
	}
	free(cname);
	strv_free(v, n);
}

static void check_mx(struct run *r)
{
	const struct check_side *old = &r->in->old_side, *new = &r->in->new_side;
	struct dns_answer a;
	size_t n_mx;
	uint32_t ttl = 0;
	bool has_old = false, has_new = false, null_mx = false;

	r->sec = CHECK_SEC_MX;
	ask(&r->in->dns, r->domain, DNS_T_MX, &a);
	n_mx = count_type(&a, DNS_T_MX);
	if (a.status != DNS_NOERROR || n_mx == 0) {
		add(r, CHECK_FAIL, a.status == DNS_NOERROR || a.status == DNS_NXDOMAIN ? "mx.none"
										  : "mx.dns-error",
		    xasprintf("publish MX 10 %s for %s", new->mx_host ? new->mx_host
			      : old->mx_host ? old->mx_host : "<mail host>", r->domain),
		    "no MX record for %s (%s): senders fall back to its A record or give up",
		    r->domain, dns_status_text(a.status));
		dns_answer_free(&a);
		return;
	}
	for (size_t i = 0; i < a.n; i++) {
		const struct dns_rr *rr = &a.rr[i];

		if (rr->type != DNS_T_MX)
			continue;
		if (rr->target == NULL || rr->target[0] == '\0' || strcmp(rr->target, ".") == 0) {
			null_mx = true;
			continue;
		}
		if (rr->ttl > ttl)
			ttl = rr->ttl;
		has_old |= name_eq(rr->target, old->mx_host);
		has_new |= name_eq(rr->target, new->mx_host);
		add(r, CHECK_INFO, "mx.record", xstrdup("nothing to do"),
		    "MX %u %s, TTL %u s", rr->preference, rr->target, rr->ttl);
	}
	if (null_mx) {
		add(r, CHECK_FAIL, "mx.null",
		    xasprintf("if %s really receives no mail this is intentional and the migration "
			      "does not apply; otherwise replace the null MX with MX 10 %s", r->domain,
			      new->mx_host ? new->mx_host : "<mail host>"),
		    "%s has a null MX (\"0 .\", RFC 7505): it says it accepts no mail%s", r->domain,
		    n_mx > 1 ? ", and other MX records beside it, which RFC 7505 forbids" : "");
		dns_answer_free(&a);
		return;
	}

	if (new->mx_host != NULL && has_new && !has_old) {
		add(r, CHECK_OK, "mx.switched",
		    xstrdup("keep the old server receiving until `mailshift dns watch` shows every "
			    "resolver switched"),
		    "the MX points at the new server %s", new->mx_host);
	} else if (new->mx_host != NULL && has_new && has_old) {
		add(r, CHECK_INFO, "mx.both",
		    xstrdup("make sure both servers deliver into the same mailboxes (mailshift relay) "
			    "until the old MX is removed"),
		    "the MX names both the old server %s and the new server %s", old->mx_host,
		    new->mx_host);
	} else if (ttl > CHECK_MX_TTL_READY) {
		time_t at = r->in->now + (time_t)ttl;
		char *when = fmt_time(at), *dur = fmt_duration(ttl);

		add(r, CHECK_WARN, "mx.ttl-high",
		    xasprintf("lower the MX TTL to %u s now; the earliest safe cutover is %s (now + "
			      "the old TTL of %u s)", CHECK_MX_TTL_READY, when, ttl),
		    "MX TTL is %u s: after a change resolvers may keep the old MX for up to %s", ttl,
		    dur);
		if (at > r->rep->earliest_cutover)
			r->rep->earliest_cutover = at;
		free(when);
		free(dur);
	} else {
		add(r, CHECK_OK, "mx.ttl-ready",
		    xstrdup("switch the MX once the TTL has been this low for at least the previous "
			    "TTL (resolvers keep what they cached before the change)"),
		    "MX TTL is %u s (at most %u s)", ttl, CHECK_MX_TTL_READY);
	}
	if (new->mx_host != NULL && old->mx_host != NULL && !has_new && !has_old)
		add(r, CHECK_WARN, "mx.unexpected",
		    xasprintf("check [old] smtp and [new] smtp (or --old-mx/--new-mx) against the MX "
			      "of %s", r->domain),
		    "the MX names neither the old server %s nor the new server %s", old->mx_host,
		    new->mx_host);

	for (size_t i = 0; i < a.n; i++)
		if (a.rr[i].type == DNS_T_MX)
			check_mx_host(r, a.rr[i].target);
	dns_answer_free(&a);
}

/* ------------------------------------------------------------ 3. SPF */

static void check_spf_ip(struct run *r, int side, const char *ip)
{
	struct spf_result res;
	char *sender = xasprintf("postmaster@%s", r->domain);
	bool v6 = strchr(ip, ':') != NULL;

	memset(&res, 0, sizeof(res));
	if (!spf_check_host(&r->in->dns, ip, r->domain, sender, NULL, &res)) {
		add(r, CHECK_FAIL, "spf.ip-error", xstrdup("check the address and the resolver"),
		    "%s %s: SPF could not be evaluated%s%s", side_name[side], ip,
		    res.explanation ? ": " : "", res.explanation ? res.explanation : "");
	} else if (res.result == SPF_PASS) {
		add(r, CHECK_OK, "spf.ip-pass", xstrdup("nothing to do"),
		    "%s sending IP %s: pass (%s)", side_name[side], ip,
		    res.mechanism ? res.mechanism : "?");
	} else {
		char *advice;

		if (res.result == SPF_PERMERROR || res.result == SPF_TEMPERROR)
			advice = xasprintf("fix the SPF record of %s (see the record checks above), then "
					   "make sure it contains %s:%s", r->domain, v6 ? "ip6" : "ip4", ip);
		else
			advice = xasprintf("add %s:%s to the SPF record of %s (before its 'all'): both "
					   "servers must pass during the parallel run", v6 ? "ip6" : "ip4",
					   ip, r->domain);
		add(r, CHECK_FAIL, "spf.ip-not-pass", advice,
		    "%s sending IP %s: %s, decided by %s%s%s", side_name[side], ip,
		    spf_verdict_name(res.result), res.mechanism ? res.mechanism : "?",
		    res.explanation ? " — " : "", res.explanation ? res.explanation : "");
	}
	if (side == 1 && res.result != SPF_PASS)
		r->new_spf_pass = false;
	spf_result_free(&res);
	free(sender);
}

static void check_spf(struct run *r)
{
	struct spf_lint l;
	bool ok = true;

	r->sec = CHECK_SEC_SPF;
	spf_lint(&r->in->dns, r->domain, &l);
	if (l.fetch == SPF_NONE) {
		ok = false;
		add(r, CHECK_FAIL, "spf.none",
		    xasprintf("publish a TXT record \"v=spf1 ... -all\" at %s naming the old and new "
			      "sending IPs", r->domain),
		    "%s has no SPF record%s%s", r->domain, l.first_problem ? ": " : "",
		    l.first_problem ? l.first_problem : "");
	} else if (l.fetch == SPF_TEMPERROR) {
		ok = false;
		add(r, CHECK_FAIL, "spf.dns-error", xstrdup("run the check again; if it persists, check "
							    "the authoritative servers"),
		    "the SPF record of %s could not be fetched: %s", r->domain,
		    l.first_problem ? l.first_problem : "DNS failure");
	} else if (l.records > 1) {
		ok = false;
		add(r, CHECK_FAIL, "spf.multiple",
		    xasprintf("merge the %zu SPF records of %s into one: with two, every receiver "
			      "gets permerror", l.records, r->domain),
		    "%s has %zu SPF records (RFC 7208 4.5: permerror)", r->domain, l.records);
	} else if (l.record != NULL) {
		add(r, l.syntax_error ? CHECK_INFO : CHECK_OK, "spf.record", xstrdup("nothing to do"),
		    "SPF record: %s", l.record);
	}
	if (l.syntax_error != NULL) {
		ok = false;
		add(r, CHECK_FAIL, "spf.syntax",
		    xstrdup("correct the record (RFC 7208 section 12): receivers treat a syntax error "
			    "as permerror"),
		    "SPF syntax error: %s", l.syntax_error);
	}
	if (l.dns_terms > SPF_MAX_DNS_TERMS || l.dns_terms_capped) {
		ok = false;
		add(r, CHECK_FAIL, "spf.too-many-lookups",
		    xstrdup("flatten includes or replace a/mx terms by ip4/ip6: more than 10 DNS "
			    "lookups is a permerror (RFC 7208 4.6.4)"),
		    "the SPF tree of %s needs %s%u DNS lookups (limit %d)", r->domain,
		    l.dns_terms_capped ? "more than " : "", l.dns_terms, SPF_MAX_DNS_TERMS);
	} else if (l.fetch == SPF_PASS) {
		add(r, CHECK_OK, "spf.lookups", xstrdup("nothing to do"),
		    "the SPF tree needs %u of at most %d DNS lookups", l.dns_terms, SPF_MAX_DNS_TERMS);
	}
	if (l.void_lookups > SPF_MAX_VOID_LOOKUPS) {
		ok = false;
		add(r, CHECK_FAIL, "spf.void-lookups",
		    xstrdup("remove the terms naming hosts that do not exist: more than 2 void "
			    "lookups is a permerror (RFC 7208 4.6.4)"),
		    "the SPF tree of %s has %u void lookups (limit %d)%s%s", r->domain, l.void_lookups,
		    SPF_MAX_VOID_LOOKUPS, l.first_problem ? ": " : "",
		    l.first_problem ? l.first_problem : "");
	}
	if (l.plus_all) {
		ok = false;
		add(r, CHECK_FAIL, "spf.plus-all",
		    xstrdup("end the record with -all (or ~all): +all authorizes every host on the "
			    "Internet to send as the domain"),
		    "the SPF record of %s ends in +all", r->domain);
	}
	if (l.plus_all_in_include) {
		ok = false;
		add(r, CHECK_FAIL, "spf.plus-all-include",
		    xstrdup("remove the include whose record has +all: it passes every host"),
		    "a record included by the SPF of %s has +all", r->domain);
	}
	if (l.question_all)
		add(r, CHECK_WARN, "spf.neutral-all",
		    xstrdup("end the record with -all (or ~all): ?all gives unlisted hosts neutral, "
			    "which protects nothing"),
		    "the SPF record of %s ends in ?all", r->domain);
	if (l.uses_ptr)
		add(r, CHECK_WARN, "spf.ptr",
		    xstrdup("replace ptr by ip4/ip6 terms: ptr is slow, unreliable and deprecated "
			    "(RFC 7208 5.5)"),
		    "the SPF tree of %s uses ptr", r->domain);
	if (l.redirect_ignored)
		add(r, CHECK_WARN, "spf.redirect-ignored",
		    xstrdup("remove either redirect= or the all term: with all present the redirect "
			    "is never used"),
		    "an SPF record of %s has both redirect= and all", r->domain);
	if (l.include_missing) {
		ok = false;
		add(r, CHECK_FAIL, "spf.include-missing",
		    xstrdup("remove or fix the include: an included domain without SPF is a "
			    "permerror"),
		    "%s", l.first_problem ? l.first_problem : "an included domain has no SPF record");
	}
	if (ok && l.fetch == SPF_PASS)
		add(r, CHECK_OK, "spf.lint", xstrdup("nothing to do"),
		    "one SPF record, valid syntax, within the lookup limits");
	spf_lint_free(&l);

	r->new_spf_pass = r->n_ips[1] > 0;
	for (int side = 0; side < 2; side++)
		for (size_t i = 0; i < r->n_ips[side]; i++)
			check_spf_ip(r, side, r->ips[side][i]);
	if (r->n_ips[0] + r->n_ips[1] == 0)
		add(r, CHECK_INFO, "spf.no-ips",
		    xstrdup("set [old] and [new] sending_ips (or --old-ips/--new-ips) to check that "
			    "both servers pass"),
		    "no sending IPs given: the SPF result of the servers was not checked");
}

/* ------------------------------------------------------------ 4. DKIM */

static void check_dkim_side(struct run *r, int side, const struct check_side *s)
{
	struct dkim_result res;
	struct err err;
	char *name;

	if (s->dkim_selector == NULL || s->dkim_selector[0] == '\0') {
		add(r, CHECK_INFO, "dkim.no-selector",
		    xasprintf("set [%s] dkim_selector (or --%s-selector) to check its key",
			      side_name[side], side_name[side]),
		    "no DKIM selector given for the %s server", side_name[side]);
		return;
	}
	memset(&res, 0, sizeof(res));
	err_clear(&err);
	name = xasprintf("%s._domainkey.%s", s->dkim_selector, r->domain);
	if (!dkim_lookup(&r->in->dns, s->dkim_selector, r->domain, &res, &err)) {
		switch (res.status) {
		case DKIM_NONE:
			add(r, CHECK_FAIL, "dkim.missing",
			    xasprintf("publish the %s server's public key at %s (TXT \"v=DKIM1; k=rsa; "
				      "p=...\") before it signs mail", side_name[side], name),
			    "%s selector %s: no key at %s", side_name[side], s->dkim_selector, name);
			break;
		case DKIM_MULTIPLE:
			add(r, CHECK_FAIL, "dkim.multiple",
			    xasprintf("keep exactly one TXT record at %s", name),
			    "%s selector %s: %s", side_name[side], s->dkim_selector, err.msg);
			break;
		case DKIM_INVALID:
			add(r, CHECK_FAIL, "dkim.invalid",
			    xasprintf("republish the key at %s from the key file (split the base64 "
				      "into strings of at most 255 characters, nothing cut)", name),
			    "%s selector %s: %s", side_name[side], s->dkim_selector, err.msg);
			break;
		default:
			add(r, CHECK_FAIL, "dkim.dns-error",
			    xstrdup("run the check again; if it persists, check the authoritative "
				    "servers"),
			    "%s selector %s: %s", side_name[side], s->dkim_selector, err.msg);
			break;
		}
		goto out;
	}
	if (res.key.revoked) {
		add(r, CHECK_FAIL, "dkim.revoked",
		    xasprintf("publish the %s server's current key at %s, or configure a selector that "
			      "is in use", side_name[side], name),
		    "%s selector %s: the key at %s is revoked (empty p=)", side_name[side],
		    s->dkim_selector, name);
		goto out;
	}
	if (res.key.type == DKIM_KEY_RSA && res.key.bits < 1024) {
		add(r, CHECK_FAIL, "dkim.weak-key",
		    xasprintf("generate a 2048-bit RSA key for the %s server and publish it (receivers "
			      "ignore signatures with keys under 1024 bits, RFC 8301)", side_name[side]),
		    "%s selector %s: %d-bit RSA key", side_name[side], s->dkim_selector, res.key.bits);
		goto out;
	}
	if (res.key.type == DKIM_KEY_RSA && res.key.bits < 2048)
		add(r, CHECK_WARN, "dkim.short-key",
		    xstrdup("move to a 2048-bit RSA key when convenient (RFC 8301 recommends it)"),
		    "%s selector %s: %d-bit RSA key", side_name[side], s->dkim_selector, res.key.bits);
	else
		add(r, CHECK_OK, "dkim.key", xstrdup("nothing to do"),
		    "%s selector %s: %d-bit %s key published at %s", side_name[side],
		    s->dkim_selector, res.key.bits, dkim_key_type_name(res.key.type), name);
	if (res.key.testing)
		add(r, CHECK_INFO, "dkim.testing",
		    xstrdup("remove t=y once signing works: receivers may treat failures leniently"),
		    "%s selector %s is in testing mode (t=y)", side_name[side], s->dkim_selector);
	if (side == 1)
		r->new_dkim_ok = true;
	if (s->dkim_key != NULL && s->dkim_key[0] != '\0') {
		bool match = false;

		err_clear(&err);
		if (!dkim_key_matches_private(&res.key, s->dkim_key, &match, &err))
			add(r, CHECK_FAIL, "dkim.private-key",
			    xasprintf("check [%s] dkim_key: it must be an unencrypted PEM private key",
				      side_name[side]),
			    "%s", err.msg);
		else if (!match)
			add(r, CHECK_FAIL, "dkim.key-mismatch",
			    xasprintf("publish the public half of %s at %s, or configure the key that "
				      "belongs to it", s->dkim_key, name),
			    "the key at %s does not match the %s server's private key %s", name,
			    side_name[side], s->dkim_key);
		else
			add(r, CHECK_OK, "dkim.key-match", xstrdup("nothing to do"),
			    "the key at %s matches the private key %s", name, s->dkim_key);
	}
out:
	dkim_result_free(&res);
	free(name);
}

static void check_dkim(struct run *r)
{
	r->sec = CHECK_SEC_DKIM;
	r->new_dkim_ok = false;
	check_dkim_side(r, 0, &r->in->old_side);
	check_dkim_side(r, 1, &r->in->new_side);
}

/* ------------------------------------------------------------ 5. DMARC */

static void check_alignment(struct run *r)
{
	const struct check_side *n = &r->in->new_side;

	if (r->n_ips[1] == 0 && (n->dkim_selector == NULL || n->dkim_selector[0] == '\0')) {
		add(r, CHECK_INFO, "dmarc.alignment-skipped",
		    xstrdup("set [new] sending_ips and dkim_selector to check alignment"),
		    "no new sending IPs or selector: DMARC alignment of the new server not checked");
		return;
	}
	/* The From domain is the domain itself: SPF is checked for
	 * postmaster@domain and DKIM signs with d=domain, so both identifiers
	 * align strictly when they pass. */
	if (r->new_spf_pass || r->new_dkim_ok) {
		add(r, CHECK_OK, "dmarc.aligned", xstrdup("nothing to do"),
		    "mail from the new server aligns: %s%s%s", r->new_spf_pass ? "SPF passes for " : "",
		    r->new_spf_pass ? r->domain : "",
		    r->new_dkim_ok ? (r->new_spf_pass ? " and DKIM d= it is published"
						    : "DKIM d= the domain with a published key") : "");
	} else {
		add(r, CHECK_WARN, "dmarc.not-aligned",
		    xasprintf("add the new sending IPs to the SPF of %s or publish the new DKIM "
			      "selector, or receivers apply the DMARC policy to the new server's mail",
			      r->domain),
		    "mail from the new server would pass neither aligned SPF nor aligned DKIM");
	}
}

static void check_dmarc(struct run *r)
{
	struct dmarc_result res;
	struct err err;

	r->sec = CHECK_SEC_DMARC;
	memset(&res, 0, sizeof(res));
	err_clear(&err);
	dmarc_lookup(&r->in->dns, r->domain, &res, &err);
	switch (res.status) {
	case DMARC_FOUND:
		add(r, CHECK_OK, "dmarc.record", xstrdup("nothing to do"),
		    "DMARC p=%s at %s: %s", dmarc_policy_name(res.rec.p), res.found_at, res.text);
		add(r, CHECK_INFO, "dmarc.org-domain", xstrdup("nothing to do"),
		    "organizational domain %s (Public Suffix List); the record %s", res.org_domain,
		    res.from_org ? "is the organizational domain's (no record at the domain itself)"
				 : "is the domain's own");
		if (res.rec.p_not_second)
			add(r, CHECK_WARN, "dmarc.p-not-second",
			    xstrdup("put p= right after v=DMARC1 (RFC 7489 6.3): some receivers insist"),
			    "p= is not the second tag of %s", res.found_at);
		if (res.rec.p == DMARC_P_NONE)
			add(r, CHECK_INFO, "dmarc.policy-none",
			    xstrdup("keep p=none through the cutover and tighten it once reports show "
				    "both servers aligned"),
			    "policy none: receivers only report");
		break;
	case DMARC_NONE:
		if (res.ignored != NULL)
			add(r, CHECK_FAIL, "dmarc.malformed",
			    xasprintf("rewrite it as \"v=DMARC1; p=...\": v=DMARC1 must be the first tag, "
				      "exactly"),
			    "a TXT record at _dmarc.%s mentions DMARC but is not a DMARC record, so "
			    "receivers ignore it: %s", res.domain ? res.domain : r->domain, res.ignored);
		else
			add(r, CHECK_WARN, "dmarc.none",
			    xasprintf("publish \"v=DMARC1; p=none; rua=mailto:...\" at _dmarc.%s to see "
				      "how receivers judge both servers' mail", r->domain),
			    "no DMARC record for %s (nor at its organizational domain %s)", r->domain,
			    res.org_domain ? res.org_domain : "?");
		break;
	case DMARC_INVALID:
		add(r, CHECK_FAIL, "dmarc.invalid",
		    xstrdup("correct the record (RFC 7489 6.4): receivers ignore an invalid one"),
		    "%s", err.msg);
		break;
	case DMARC_MULTIPLE:
		add(r, CHECK_FAIL, "dmarc.multiple",
		    xstrdup("keep exactly one DMARC record: with two, receivers ignore both"), "%s",
		    err.msg);
		break;
	case DMARC_DNS_FAIL:
		add(r, CHECK_FAIL, "dmarc.dns-error",
		    xstrdup("run the check again; if it persists, check the authoritative servers"),
		    "%s", err.msg);
		break;
	}
	dmarc_result_free(&res);
	check_alignment(r);
}

/* ------------------------------------------------------------ 6. extras */

static void trim(char **s, char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

/* Check a "v=X; a=b; ..." record: v first, each field name=value; returns
 * an allocated problem text or NULL. check_field decides a field. */
static char *tag_record_problem(const char *text, const char *version,
				char *(*check_field)(const char *name, const char *value, bool *seen),
				bool *seen)
{
	char *copy = xstrdup(text), *p = copy, *problem = NULL;
	bool first = true;

	while (problem == NULL && p != NULL) {
		char *semi = strchr(p, ';'), *end = semi ? semi : p + strlen(p);
		char *s = p, *eq;

		p = semi ? semi + 1 : NULL;
		trim(&s, &end);
		if (s == end) {
			if (p == NULL && !first)
				break;       /* a trailing ';' */
			problem = xstrdup("an empty field");
			break;
		}
		*end = '\0';
		eq = strchr(s, '=');
		if (first) {
			if (strncmp(s, "v=", 2) != 0 || strcmp(s + 2, version) != 0)
				problem = xasprintf("the record must start with v=%s", version);
			first = false;
			continue;
		}
		if (eq == NULL || eq == s)
			problem = xasprintf("'%s' is not name=value", s);
		else {
			*eq = '\0';
			problem = check_field(s, eq + 1, seen);
		}
	}
	free(copy);
	return problem;
}

static char *sts_field(const char *name, const char *value, bool *seen)
{
	size_t n = strlen(value);

	if (strcmp(name, "id") != 0)
		return NULL;
	if (*seen)
		return xstrdup("id= appears twice");
	*seen = true;
	if (n == 0 || n > 32)
		return xasprintf("id=%s must be 1 to 32 letters or digits", value);
	for (const char *c = value; *c; c++)
		if (!isalnum((unsigned char)*c))
			return xasprintf("id=%s must be 1 to 32 letters or digits", value);
	return NULL;
}

static char *tlsrpt_field(const char *name, const char *value, bool *seen)
{
	char *copy, *tok, *save = NULL, *problem = NULL;

	if (strcmp(name, "rua") != 0)
		return NULL;
	if (*seen)
		return xstrdup("rua= appears twice");
	*seen = true;
	copy = xstrdup(value);
	for (tok = strtok_r(copy, ",", &save); tok != NULL && problem == NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		char *s = tok, *e = tok + strlen(tok);

		trim(&s, &e);
		*e = '\0';
		if (strncasecmp(s, "mailto:", 7) != 0 && strncasecmp(s, "https:", 6) != 0)
			problem = xasprintf("rua URI '%s' is neither mailto: nor https:", s);
		else if (strlen(s) <= 7)
			problem = xasprintf("rua URI '%s' is empty", s);
	}
	if (problem == NULL && value[strspn(value, " \t,")] == '\0')
		problem = xstrdup("rua= is empty");
	free(copy);
	return problem;
}

/* True when exactly one valid record is published. */
static bool check_txt_policy(struct run *r, const char *label, const char *version,
			     const char *code, const char *what, const char *required,
			     char *(*check_field)(const char *, const char *, bool *),
			     const char *absent_advice)
{
	char *name = xasprintf("%s.%s", label, r->domain);
	char *prefix = xasprintf("v=%s", version);
	struct dns_answer a;
	const char *rec = NULL;
	size_t count = 0;
	char codebuf[64];
	bool valid = false;

	ask(&r->in->dns, name, DNS_T_TXT, &a);
	for (size_t i = 0; i < a.n; i++) {
		const char *t = a.rr[i].text;

		if (a.rr[i].type != DNS_T_TXT || t == NULL || strncmp(t, prefix, strlen(prefix)) != 0)
			continue;
		if (t[strlen(prefix)] != '\0' && t[strlen(prefix)] != ';' &&
		    t[strlen(prefix)] != ' ' && t[strlen(prefix)] != '\t')
			continue;
		count++;
		rec = t;
	}
	if (a.status != DNS_NOERROR && a.status != DNS_NXDOMAIN) {
		snprintf(codebuf, sizeof(codebuf), "%s.dns-error", code);
		add(r, CHECK_WARN, codebuf, xstrdup("run the check again"),
		    "the %s record at %s could not be fetched (%s)", what, name,
		    dns_status_text(a.status));
	} else if (count == 0) {
		snprintf(codebuf, sizeof(codebuf), "%s.none", code);
		add(r, CHECK_INFO, codebuf, xstrdup(absent_advice), "no %s record at %s", what, name);
	} else if (count > 1) {
		snprintf(codebuf, sizeof(codebuf), "%s.multiple", code);
		add(r, CHECK_WARN, codebuf, xasprintf("keep exactly one %s record at %s", what, name),
		    "%zu %s records at %s: senders ignore them all", count, what, name);
	} else {
		bool seen = false;
		char *problem = tag_record_problem(rec, version, check_field, &seen);

		if (problem == NULL && !seen)
			problem = xasprintf("%s= is missing", required);
		if (problem != NULL) {
			snprintf(codebuf, sizeof(codebuf), "%s.invalid", code);
			add(r, CHECK_WARN, codebuf,
			    xasprintf("correct the %s record at %s: senders ignore an invalid one", what,
				      name),
			    "%s record at %s: %s: %s", what, name, problem, rec);
		} else {
			snprintf(codebuf, sizeof(codebuf), "%s.record", code);
			add(r, CHECK_OK, codebuf, xstrdup("nothing to do"), "%s record at %s: %s", what,
			    name, rec);
			valid = true;
		}
		free(problem);
	}
	dns_answer_free(&a);
	free(prefix);
	free(name);
	return valid;
}

/* One host the policy must cover: FAIL (enforce) or WARN (testing) when
 * no mx: pattern matches it. */
static void sts_cover(struct run *r, const struct mta_sts_policy *p, const char *url,
		      const char *host, const char *which)
{
	const char *pat = mta_sts_covers(p, host);

	if (pat != NULL) {
		add(r, CHECK_OK, "mta-sts.mx-covered", xstrdup("nothing to do"),
		    "the MTA-STS policy at %s covers the %s MX %s (mx: %s)", url, which, host, pat);
		return;
	}
	if (p->mode == MTA_STS_NONE) {
		add(r, CHECK_INFO, "mta-sts.mx-not-covered",
		    xasprintf("add \"mx: %s\" to the policy before switching it to testing or "
			      "enforce", host),
		    "the MTA-STS policy at %s (mode none) does not list the %s MX %s", url, which,
		    host);
		return;
	}
	add(r, p->mode == MTA_STS_ENFORCE ? CHECK_FAIL : CHECK_WARN, "mta-sts.mx-not-covered",
	    xasprintf("add \"mx: %s\" to %s and change the id= of the _mta-sts TXT record; "
		      "senders keep a cached policy up to max_age (%lu s), so do it that long "
		      "before the cutover", host, url, p->max_age),
	    "the policy's mx list does not cover the %s MX: add mx: %s (mode %s, policy at %s)",
	    which, host, mta_sts_mode_name(p->mode), url);
}

static void check_sts_policy(struct run *r)
{
	char *host = xasprintf("mta-sts.%s", r->domain);
	char *url = xasprintf("https://%s/.well-known/mta-sts.txt", host);
	char **addrs = NULL, *body = NULL;
	size_t n_addrs = 0, len = 0;
	struct mta_sts_policy pol;
	struct dns_answer mx;
	struct err err;
	bool nx, dnsfail;

	/* in->dns's view, so the names of a test lab work too */
	addrs = addresses(&r->in->dns, host, &n_addrs, &nx, &dnsfail, NULL);
	if (n_addrs == 0 && dnsfail) {
		add(r, CHECK_WARN, "mta-sts.dns-error", xstrdup("run the check again"),
		    "the address of %s could not be fetched", host);
		goto out;
	}
	if (n_addrs == 0) {
		add(r, CHECK_FAIL, "mta-sts.no-policy-host",
		    xasprintf("publish an A or AAAA record for %s and serve %s, or remove the "
			      "_mta-sts TXT record", host, url),
		    "the _mta-sts TXT record is published but %s has no address", host);
		goto out;
	}
	err_clear(&err);
	if (!r->in->sts_fetch(r->in->sts_ctx, r->domain, (const char *const *)addrs, n_addrs,
			      &body, &len, &err)) {
		add(r, CHECK_FAIL, "mta-sts.fetch-failed",
		    xasprintf("serve the policy at %s over HTTPS with a valid certificate for %s, "
			      "status 200 and Content-Type text/plain", url, host),
		    "the MTA-STS policy could not be fetched: %s", err.msg);
		goto out;
	}
	err_clear(&err);
	if (!mta_sts_parse(body, len, &pol, &err)) {
		add(r, CHECK_FAIL, "mta-sts.policy-invalid",
		    xasprintf("correct %s: senders treat an invalid policy as absent", url),
		    "%s: %s", url, err.msg);
		goto out;
	}
	add(r, CHECK_OK, "mta-sts.policy", xstrdup("nothing to do"),
	    "MTA-STS policy at %s: mode %s, max_age %lu s, %zu mx pattern(s)", url,
	    mta_sts_mode_name(pol.mode), pol.max_age, pol.n_mx);
	if (r->in->new_side.mx_host != NULL)
		sts_cover(r, &pol, url, r->in->new_side.mx_host, "new");
	ask(&r->in->dns, r->domain, DNS_T_MX, &mx);
	for (size_t i = 0; i < mx.n; i++) {
		const char *t = mx.rr[i].target;

		if (mx.rr[i].type != DNS_T_MX || t == NULL || t[0] == '\0' ||
		    name_eq(t, r->in->new_side.mx_host))
			continue;
		sts_cover(r, &pol, url, t, "current");
	}
	dns_answer_free(&mx);
	mta_sts_policy_free(&pol);
out:
	free(body);
	strv_free(addrs, n_addrs);
	free(url);
	free(host);
}

static void check_smtp(struct run *r)
{
	const char *host = r->in->new_side.mx_host;
	bool tls = false;
	struct err err;

	if (r->in->smtp_probe == NULL) {
		add(r, CHECK_INFO, "smtp.not-implemented",
		    xstrdup("test STARTTLS by hand (swaks --tls)"),
		    "the --smtp STARTTLS check of the new MX is not available here");
		return;
	}
	if (host == NULL) {
		add(r, CHECK_INFO, "smtp.no-host",
		    xstrdup("set [new] smtp or give --new-mx HOST"),
		    "--smtp: no new MX host to connect to");
		return;
	}
	err_clear(&err);
	if (!r->in->smtp_probe(r->in->smtp_ctx, host, &tls, &err)) {
		add(r, CHECK_FAIL, err.kind == ERR_KIND_TLS ? "smtp.tls-failed" : "smtp.connect-failed",
		    xstrdup(err.kind == ERR_KIND_TLS
				    ? "install a certificate for the MX host name from a public CA "
				      "(senders using MTA-STS or DANE verify it)"
				    : "check that the new MX accepts connections on port 25 from here"),
		    "%s", err.msg);
	} else if (!tls) {
		add(r, CHECK_WARN, "smtp.no-starttls",
		    xstrdup("enable STARTTLS on the new MX (senders deliver in clear text, and "
			    "MTA-STS senders in enforce mode will not deliver at all)"),
		    "new MX %s: STARTTLS not offered", host);
	} else {
		add(r, CHECK_OK, "smtp.starttls", xstrdup("nothing to do"),
		    "new MX %s offers STARTTLS and its certificate verifies", host);
	}
}

static void check_extra(struct run *r)
{
	bool sts;

	r->sec = CHECK_SEC_EXTRA;
	sts = check_txt_policy(r, "_mta-sts", "STSv1", "mta-sts", "MTA-STS", "id", sts_field,
			       "publish MTA-STS (a TXT record and an HTTPS policy) if senders "
			       "should require TLS to the new MX");
	if (r->in->sts_fetch == NULL)
		add(r, CHECK_INFO, "mta-sts.policy-not-checked",
		    xasprintf("check https://mta-sts.%s/.well-known/mta-sts.txt by hand: its mx: "
			      "lines must cover the new MX", r->domain),
		    "the MTA-STS HTTPS policy (and whether its mx list covers the new host) is "
		    "not fetched here");
	else if (sts)
		check_sts_policy(r);
	check_txt_policy(r, "_smtp._tls", "TLSRPTv1", "tlsrpt", "TLS-RPT", "rua", tlsrpt_field,
			 "publish \"v=TLSRPTv1; rua=mailto:...\" at _smtp._tls to hear about TLS "
			 "failures delivering to the new MX");
	if (r->in->smtp)
		check_smtp(r);
}

/* ------------------------------------------------------------ API */

bool check_parse_ips(const char *list, const char *what, char ***ips_r, size_t *n_r,
		     struct err *err)
{
	char *copy = xstrdup(list ? list : ""), *tok, *save = NULL;
	char **v = NULL;
	size_t n = 0;

	for (tok = strtok_r(copy, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save)) {
		unsigned char b[16];
		char text[INET6_ADDRSTRLEN];
		int af = strchr(tok, ':') ? AF_INET6 : AF_INET;

		if (inet_pton(af, tok, b) != 1 || inet_ntop(af, b, text, sizeof(text)) == NULL) {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
				"%s: '%s' is not an IP address: write addresses like 192.0.2.10 or "
				"2001:db8::25, separated by commas", what, tok);
			strv_free(v, n);
			free(copy);
			return false;
		}
		v = xreallocarray(v, n + 2, sizeof(*v));
		v[n++] = xstrdup(text);
		v[n] = NULL;
	}
	free(copy);
	*ips_r = v;
	*n_r = n;
	return true;
}

bool check_run(const struct check_input *in, struct check_report *out, struct err *err)
{
	struct run r;
	bool ok = true;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	r.in = in;
	r.rep = out;
	if (in->n_domains == 0) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_USAGE, false,
			"no domain to check: give --domain D or set [migration] domains");
		return false;
	}
	if (!check_parse_ips(in->old_side.sending_ips, "old sending IPs", &r.ips[0], &r.n_ips[0],
			     err) ||
	    !check_parse_ips(in->new_side.sending_ips, "new sending IPs", &r.ips[1], &r.n_ips[1],
			     err)) {
		ok = false;
		goto out;
	}
	for (size_t i = 0; i < in->n_domains; i++) {
		char *d = name_norm(in->domains[i]);

		if (d[0] == '\0') {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_USAGE, false,
				"an empty domain name: give domains like example.co.jp");
			free(d);
			ok = false;
			goto out;
		}
		r.domain = d;
		check_auth(&r);
		check_mx(&r);
		check_spf(&r);
		check_dkim(&r);
		check_dmarc(&r);
		check_extra(&r);
		free(d);
	}
out:
	strv_free(r.ips[0], r.n_ips[0]);
	strv_free(r.ips[1], r.n_ips[1]);
	if (!ok)
		check_report_free(out);
	return ok;
}

void check_report_free(struct check_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].domain);
		free(r->items[i].code);
		free(r->items[i].message);
		free(r->items[i].advice);
	}
	free(r->items);
	memset(r, 0, sizeof(*r));
}

size_t check_report_count(const struct check_report *r, enum check_status st)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].status == st)
			n++;
	return n;
}

const struct check_item *check_report_find(const struct check_report *r, const char *domain,
					   const char *code)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->items[i].code, code) == 0 &&
		    (domain == NULL || strcmp(r->items[i].domain, domain) == 0))
			return &r->items[i];
	return NULL;
}

const char *check_status_name(enum check_status st)
{
	switch (st) {
	case CHECK_OK: return "OK";
	case CHECK_INFO: return "INFO";
	case CHECK_WARN: return "WARN";
	case CHECK_FAIL: return "FAIL";
	}
	return "?";
}

const char *check_section_name(enum check_section sec)
{
	static const char *const names[CHECK_SEC_COUNT] = { "auth", "mx", "spf", "dkim", "dmarc",
							    "extra" };

	return (unsigned)sec < CHECK_SEC_COUNT ? names[sec] : "?";
}

const char *check_section_title(enum check_section sec)
{
	static const char *const titles[CHECK_SEC_COUNT] = {
		"1. Authoritative servers", "2. MX", "3. SPF", "4. DKIM", "5. DMARC",
		"6. MTA-STS, TLS-RPT, SMTP",
	};

	return (unsigned)sec < CHECK_SEC_COUNT ? titles[sec] : "?";
}
