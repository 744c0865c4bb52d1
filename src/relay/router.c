/* router.c — where a recipient's mail goes, by the phase of its group; the
 * contract is router.h.
 *
 * Built once from the configuration: the [migration] domains (lower case,
 * sorted), every group's accounts (lower-cased address → group, sorted),
 * and the [relay] words. Asked once per RCPT with two binary searches, so
 * a hundred thousand accounts cost nothing per message.
 *
 * SECURITY: the first question is always "is the domain ours?". Nothing
 * else (an account, postmaster@ some domain) can make the relay accept a
 * recipient at a domain outside [migration] domains: an open relay is the
 * one mistake an MX cannot make. The only address without a domain that is
 * accepted is the bare "postmaster" RFC 5321 §4.5.1 requires.
 *
 * Addresses are compared without regard to ASCII case (local parts too:
 * the CSV column is matched case-insensitively, which is what every
 * mail server we migrate between does). A quoted local part whose content
 * needs no quoting ("alice"@example.jp) is the same mailbox as the
 * unquoted one (RFC 5321 §2.4), so it is unquoted before the lookup.
 *
 * Pure: no I/O, no globals; immutable once built (see router.h).
 */
#include "relay/router.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "relay/spool.h"

#define DOMAIN_MAX 253

struct router_account {
	char *addr;         /* lower case */
	size_t group;
};

struct router_group {
	char *name;
	enum router_phase phase;
};

struct router {
	char **domains;     /* lower case, sorted, unique */
	size_t ndomains;
	struct router_account *accounts;
	size_t naccounts;
	struct router_group *groups;
	size_t ngroups;
	enum router_phase default_phase;
	unsigned primary;   /* SPOOL_OLD or SPOOL_NEW */
	bool keep_old_copy;
	bool known_only;
};

static const char text_unknown[] = "User unknown in relay recipient table";
static const char text_denied[] = "Relay access denied";

const char *router_phase_name(enum router_phase p)
{
	switch (p) {
	case ROUTER_PHASE_OLD: return "old";
	case ROUTER_PHASE_BOTH: return "both";
	case ROUTER_PHASE_NEW: return "new";
	}
	return "?";
}

static char *lower_dup(const char *s, size_t n)
{
	char *d = xstrndup(s, n);

	for (char *p = d; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return d;
}

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_account(const void *a, const void *b)
{
	return strcmp(((const struct router_account *)a)->addr,
		      ((const struct router_account *)b)->addr);
}

static bool parse_phase(const char *word, enum router_phase *out)
{
	if (strcasecmp(word, "old") == 0)
		*out = ROUTER_PHASE_OLD;
	else if (strcasecmp(word, "both") == 0)
		*out = ROUTER_PHASE_BOTH;
	else if (strcasecmp(word, "new") == 0)
		*out = ROUTER_PHASE_NEW;
	else
		return false;
	return true;
}

static bool config_error(struct err *err, const struct config *cfg, const char *what,
			 const char *val, const char *choices)
{
	err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "%s: %s = '%s' is not allowed; use "
		"one of: %s", cfg->path != NULL ? cfg->path : "config", what, val, choices);
	return false;
}

/* A domain as an administrator lists it: labels of letters, digits, '-'
 * (and UTF-8 octets, for a domain written in its own script), no empty
 * label, no '-' at a label's edge. */
static bool valid_domain(const char *d, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (c == '-' && label == 0)
			return false;
		if (!(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    c != '-' && c < 0x80)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && d[n - 1] != '-';
}

static bool load_domains(struct router *r, const struct config *cfg, struct err *err)
{
	const char *path = cfg->path != NULL ? cfg->path : "config";
	const char *s = cfg->domains != NULL ? cfg->domains : "";
	size_t k = 0;

	for (;;) {
		while (*s == ',' || *s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		size_t n = strcspn(s, ", \t");

		if (!valid_domain(s, n)) {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "%s: [migration] "
				"domains: '%.*s' is not a domain name; list the mail domains "
				"being migrated, e.g. domains = example.co.jp, example.jp", path,
				(int)n, s);
			return false;
		}
		r->domains = xreallocarray(r->domains, r->ndomains + 1, sizeof *r->domains);
		r->domains[r->ndomains++] = lower_dup(s, n);
		s += n;
	}
	if (r->ndomains == 0) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "%s: [migration] domains is "
			"not set; the relay accepts mail only for those domains: add e.g. "
			"'domains = example.co.jp' under [migration]", path);
		return false;
	}
	qsort(r->domains, r->ndomains, sizeof *r->domains, cmp_str_ptr);
	for (size_t i = 0; i < r->ndomains; i++) {
		if (k > 0 && strcmp(r->domains[k - 1], r->domains[i]) == 0) {
			free(r->domains[i]);
			continue;
		}
		r->domains[k++] = r->domains[i];
	}
	r->ndomains = k;
	return true;
}

static bool load_words(struct router *r, const struct config *cfg, struct err *err)
{
	const struct config_relay *c = &cfg->relay;

	if (c->default_phase == NULL)
		r->default_phase = ROUTER_PHASE_OLD;
	else if (!parse_phase(c->default_phase, &r->default_phase))
		return config_error(err, cfg, "[relay] default_phase", c->default_phase,
				    "old, both, new");
	if (c->primary == NULL || strcasecmp(c->primary, "old") == 0)
		r->primary = SPOOL_OLD;
	else if (strcasecmp(c->primary, "new") == 0)
		r->primary = SPOOL_NEW;
	else
		return config_error(err, cfg, "[relay] primary", c->primary, "old, new");
	if (c->recipients == NULL || strcasecmp(c->recipients, "domain") == 0)
		r->known_only = false;
	else if (strcasecmp(c->recipients, "known") == 0)
		r->known_only = true;
	else
		return config_error(err, cfg, "[relay] recipients", c->recipients, "domain, known");
	if (c->keep_old_copy == NULL || strcasecmp(c->keep_old_copy, "no") == 0)
		r->keep_old_copy = false;
	else if (strcasecmp(c->keep_old_copy, "yes") == 0)
		r->keep_old_copy = true;
	else
		return config_error(err, cfg, "[relay] keep_old_copy", c->keep_old_copy, "yes, no");
	return true;
}

static bool load_groups(struct router *r, const struct config *cfg, struct err *err)
{
	size_t total = 0, k = 0;

	r->groups = xcalloc(cfg->group_count ? cfg->group_count : 1, sizeof *r->groups);
	for (size_t g = 0; g < cfg->group_count; g++) {
		const struct config_group *cg = &cfg->groups[g];
		struct router_group *rg = &r->groups[r->ngroups++];

		rg->name = xstrdup(cg->name != NULL ? cg->name : "");
		if (cg->phase == NULL) {
			rg->phase = ROUTER_PHASE_OLD;
		} else if (!parse_phase(cg->phase, &rg->phase)) {
			char what[160];

			snprintf(what, sizeof what, "[group %s] phase", rg->name);
			return config_error(err, cfg, what, cg->phase, "old, both, new");
		}
		total += cg->account_count;
	}
	if (total == 0)
		return true;
	r->accounts = xreallocarray(NULL, total, sizeof *r->accounts);
	for (size_t g = 0; g < cfg->group_count; g++) {
		const struct config_group *cg = &cfg->groups[g];

		for (size_t i = 0; i < cg->account_count; i++) {
			const char *e = cg->accounts[i].email;

			if (e == NULL || e[0] == '\0')
				continue;
			r->accounts[k].addr = lower_dup(e, strlen(e));
			r->accounts[k].group = g;
			k++;
		}
	}
	r->naccounts = k;
	qsort(r->accounts, r->naccounts, sizeof *r->accounts, cmp_account);
	/* config.c refuses an address in two groups; a hand-built config that
	 * has one gets the first group in sorted order, deterministically. */
	return true;
}

struct router *router_new(const struct config *cfg, struct err *err)
{
	struct router *r = xcalloc(1, sizeof *r);

	if (!load_domains(r, cfg, err) || !load_words(r, cfg, err) || !load_groups(r, cfg, err)) {
		router_free(&r);
		return NULL;
	}
	return r;
}

void router_free(struct router **rp)
{
	struct router *r;

	if (rp == NULL || *rp == NULL)
		return;
	r = *rp;
	for (size_t i = 0; i < r->ndomains; i++)
		free(r->domains[i]);
	free(r->domains);
	for (size_t i = 0; i < r->naccounts; i++)
		free(r->accounts[i].addr);
	free(r->accounts);
	for (size_t i = 0; i < r->ngroups; i++)
		free(r->groups[i].name);
	free(r->groups);
	free(r);
	*rp = NULL;
}

unsigned router_primary(const struct router *r)
{
	return r->primary;
}

static bool our_domain(const struct router *r, const char *domain)
{
	size_t lo = 0, hi = r->ndomains;
	char *d = lower_dup(domain, strlen(domain));
	bool found = false;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(d, r->domains[mid]);

		if (c == 0) {
			found = true;
			break;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	free(d);
	return found;
}

static bool atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL || c >= 0x80;
}

/* The lookup key of addr (local part and domain, lower case), with a
 * quoted local part unquoted when its content is a plain dot-atom. */
static char *lookup_key(const char *addr, const char *at)
{
	size_t llen = (size_t)(at - addr);
	char *key;

	if (llen >= 2 && addr[0] == '"' && addr[llen - 1] == '"') {
		char *local = xmalloc(llen);
		size_t n = 0;
		bool plain = true;

		for (size_t i = 1; i + 1 < llen; i++) {
			char c = addr[i];

			if (c == '\\' && i + 2 < llen)
				c = addr[++i];
			local[n++] = c;
		}
		local[n] = '\0';
		if (n == 0 || local[0] == '.' || local[n - 1] == '.')
			plain = false;
		for (size_t i = 0; plain && i < n; i++) {
			if (local[i] == '.' ? local[i + 1] == '.' : !atext((unsigned char)local[i]))
				plain = false;
		}
		if (plain) {
			char *joined = xasprintf("%s%s", local, at);

			free(local);
			key = lower_dup(joined, strlen(joined));
			free(joined);
			return key;
		}
		free(local);
	}
	return lower_dup(addr, strlen(addr));
}

static const struct router_account *find_account(const struct router *r, const char *key)
{
	struct router_account probe = { (char *)(uintptr_t)key, 0 };

	if (r->naccounts == 0)
		return NULL;
	return bsearch(&probe, r->accounts, r->naccounts, sizeof *r->accounts, cmp_account);
}

static void accept_as(const struct router *r, const struct router_group *g,
		      struct router_route *out)
{
	enum router_phase p = g != NULL ? g->phase : r->default_phase;

	out->accept = true;
	out->group = g != NULL ? g->name : NULL;
	out->phase = p;
	switch (p) {
	case ROUTER_PHASE_OLD:
		out->dests = SPOOL_OLD;
		out->primary = SPOOL_OLD;
		break;
	case ROUTER_PHASE_BOTH:
		out->dests = SPOOL_OLD | SPOOL_NEW;
		out->primary = r->primary;
		break;
	case ROUTER_PHASE_NEW:
		/* users read new now; the old copy is a backup */
		out->dests = SPOOL_NEW | (r->keep_old_copy ? SPOOL_OLD : 0u);
		out->primary = SPOOL_NEW;
		break;
	}
}

static void refuse(struct router_route *out, const char *enhanced, const char *text)
{
	out->accept = false;
	out->reply_code = 550;
	out->enhanced = enhanced;
	out->text = text;
}

void router_route(const struct router *r, const char *addr, struct router_route *out)
{
	const char *at;
	const struct router_account *acc;
	char *key;
	bool postmaster;

	memset(out, 0, sizeof *out);
	out->phase = r->default_phase;
	if (addr == NULL) {
		refuse(out, "5.7.1", text_denied);
		return;
	}
	if (strcasecmp(addr, "postmaster") == 0) {
		accept_as(r, NULL, out);
		return;
	}
	at = strrchr(addr, '@');
	if (at == NULL || at == addr || !our_domain(r, at + 1)) {
		refuse(out, "5.7.1", text_denied);
		return;
	}
	key = lookup_key(addr, at);
	acc = find_account(r, key);
	/* postmaster@ each of our domains must work too (RFC 5321 §4.5.1),
	 * even when it is in no CSV. */
	postmaster = strncmp(key, "postmaster@", 11) == 0;
	free(key);
	if (acc != NULL) {
		accept_as(r, &r->groups[acc->group], out);
		return;
	}
	if (r->known_only && !postmaster) {
		refuse(out, "5.1.1", text_unknown);
		return;
	}
	accept_as(r, NULL, out);
}
