/* config.c — the migration's configuration file (INI) and loading its CSVs.
 *
 * Contract (see config.h and docs/config.md, which lists every key): a line
 * is blank, a comment (';' or '#' first), a section header ("[old]",
 * "[group sales]"), or "key = value". Keys and section names are
 * case-insensitive; values are trimmed; ';' or '#' after whitespace starts a
 * comment, so "a = b;c" keeps "b;c" and a value may contain '='. Lines may
 * end in CRLF; a UTF-8 byte order mark at the start is skipped.
 *
 * What is an error and what a warning follows one rule: a file written for a
 * newer mailshift must still run here, so an unknown section or key only
 * warns (file:line via log_warn); anything we do understand but cannot
 * accept (a key outside a section or in another section than its own, a
 * duplicate key or group, a value outside
 * its allowed set, a bad address) is an error naming file:line and, where the
 * values are a fixed set, listing them. The first error stops the parse.
 *
 * Settings the relay does not need ([old]/[new] imap) are not required
 * here: each command checks what it needs, so a relay-only host can omit
 * them. Defaults are filled in after the parse so callers never see NULL for
 * a key that has one (see the table in docs/config.md).
 *
 * Relative paths (accounts, ca_file, dkim_key, admin_password_file, spool,
 * tls_cert, tls_key, sqlite: state) are resolved against the folder of the
 * config file: a service started from / must find the same files as the
 * administrator who tested in /etc/mailshift.
 *
 * SECURITY: the config file itself holds no passwords (they live in the
 * CSVs and *_password_file files); values are echoed in messages, except
 * "state", which may be a PostgreSQL URL with a password in it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "alloc.h"
#include "buf.h"
#include "log.h"
#include "url.h"

#define CONFIG_MAX (1024 * 1024)        /* a config is a page or two */
#define ACCOUNTS_MAX (256 * 1024 * 1024) /* ~a million accounts */
#define SYNC_JOBS_MAX 256
#define KEYS_MAX 32             /* per section; [relay] has the most */
#define COUNT_MAX 1000000

enum section {
	SEC_NONE = 0, SEC_MIGRATION, SEC_OLD, SEC_NEW, SEC_RELAY, SEC_DNS, SEC_SYNC, SEC_GROUP,
	SEC_UNKNOWN,
};

enum key_type {
	KT_STR,         /* verbatim */
	KT_PATH,        /* resolved against the config file's folder */
	KT_LIST,        /* comma-separated, no empty item */
	KT_STATE,       /* sqlite:PATH or postgresql://... */
	KT_URL_IMAP,
	KT_URL_SMTP,
	KT_TLS,
	KT_AUTH,
	KT_PHASE,
	KT_OLDNEW,
	KT_YESNO,
	KT_RECIPIENTS,
	KT_SIZE,
	KT_DURATION,
	KT_LISTEN,      /* one or more ADDRESS:PORT, comma-separated */
	KT_JOBS,
	KT_COUNT,       /* a whole number from 1 to COUNT_MAX, kept as a string */
	KT_DURATIONS,   /* comma-separated durations (retry_intervals) */
	KT_SMTP_TLS,
	KT_ACCOUNTS,    /* group accounts file: kept as written, resolved later */
};

struct key_def {
	const char *name;
	enum key_type type;
	size_t off;     /* into the struct of the section */
};

static const struct key_def migration_keys[] = {
	{ "domains", KT_LIST, offsetof(struct config, domains) },
	{ "state", KT_STATE, offsetof(struct config, state) },
	{ NULL, KT_STR, 0 },
};

static const struct key_def server_keys[] = {
	{ "imap", KT_URL_IMAP, offsetof(struct config_server, imap) },
	{ "smtp", KT_URL_SMTP, offsetof(struct config_server, smtp) },
	{ "tls", KT_TLS, offsetof(struct config_server, tls) },
	{ "ca_file", KT_PATH, offsetof(struct config_server, ca_file) },
	{ "auth", KT_AUTH, offsetof(struct config_server, auth) },
	{ "admin_user", KT_STR, offsetof(struct config_server, admin_user) },
	{ "admin_password_file", KT_PATH, offsetof(struct config_server, admin_password_file) },
	{ "sending_ips", KT_LIST, offsetof(struct config_server, sending_ips) },
	{ "dkim_selector", KT_STR, offsetof(struct config_server, dkim_selector) },
	{ "dkim_key", KT_PATH, offsetof(struct config_server, dkim_key) },
	{ NULL, KT_STR, 0 },
};

static const struct key_def relay_keys[] = {
	{ "listen", KT_LISTEN, offsetof(struct config_relay, listen) },
	{ "hostname", KT_STR, offsetof(struct config_relay, hostname) },
	{ "spool", KT_PATH, offsetof(struct config_relay, spool) },
	{ "user", KT_STR, offsetof(struct config_relay, user) },
	{ "default_phase", KT_PHASE, offsetof(struct config_relay, default_phase) },
	{ "primary", KT_OLDNEW, offsetof(struct config_relay, primary) },
	{ "keep_old_copy", KT_YESNO, offsetof(struct config_relay, keep_old_copy) },
	{ "recipients", KT_RECIPIENTS, offsetof(struct config_relay, recipients) },
	{ "max_message_size", KT_SIZE, offsetof(struct config_relay, max_message_size) },
	{ "queue_lifetime", KT_DURATION, offsetof(struct config_relay, queue_lifetime) },
	{ "tls_cert", KT_PATH, offsetof(struct config_relay, tls_cert) },
	{ "tls_key", KT_PATH, offsetof(struct config_relay, tls_key) },
	{ "retry_intervals", KT_DURATIONS, offsetof(struct config_relay, retry_intervals) },
	{ "max_connections", KT_COUNT, offsetof(struct config_relay, max_connections) },
	{ "max_per_client", KT_COUNT, offsetof(struct config_relay, max_per_client) },
	{ "timeout", KT_DURATION, offsetof(struct config_relay, timeout) },
	{ "data_timeout", KT_DURATION, offsetof(struct config_relay, data_timeout) },
	{ "max_recipients", KT_COUNT, offsetof(struct config_relay, max_recipients) },
	{ "concurrency", KT_COUNT, offsetof(struct config_relay, concurrency) },
	{ "bounce_relay", KT_URL_SMTP, offsetof(struct config_relay, bounce_relay) },
	{ "smtp_tls", KT_SMTP_TLS, offsetof(struct config_relay, smtp_tls) },
	{ NULL, KT_STR, 0 },
};

static const struct key_def dns_keys[] = {
	{ "resolvers", KT_LIST, offsetof(struct config, dns_resolvers) },
	{ NULL, KT_STR, 0 },
};

static const struct key_def sync_keys[] = {
	{ "jobs", KT_JOBS, offsetof(struct config, sync_jobs) },
	{ NULL, KT_STR, 0 },
};

static const struct key_def group_keys[] = {
	{ "phase", KT_PHASE, offsetof(struct config_group, phase) },
	{ "accounts", KT_ACCOUNTS, offsetof(struct config_group, accounts_file) },
	{ NULL, KT_STR, 0 },
};

static const char *const tls_values[] = { "verify", "none", NULL };
static const char *const auth_values[] = { "auto", "login", "plain", "xoauth2", NULL };
static const char *const phase_values[] = { "old", "both", "new", NULL };
static const char *const oldnew_values[] = { "old", "new", NULL };
static const char *const yesno_values[] = { "yes", "no", NULL };
static const char *const recipients_values[] = { "domain", "known", NULL };
static const char *const smtp_tls_values[] = { "may", "require", "none", NULL };

/* Per-group parse state, parallel to cfg->groups. */
struct group_state {
	int line;               /* of the [group NAME] header */
	int seen[KEYS_MAX];
};

struct parser {
	const char *name;
	struct config *cfg;
	struct err *err;
	enum section sec;
	char sec_label[96];     /* "[old]", "[group sales]" for messages */
	size_t group;           /* current group when sec == SEC_GROUP */
	int seen_migration[KEYS_MAX];
	int seen_old[KEYS_MAX];
	int seen_new[KEYS_MAX];
	int seen_relay[KEYS_MAX];
	int seen_dns[KEYS_MAX];
	int seen_sync[KEYS_MAX];
	struct group_state *gs;
};

static bool cfg_error(struct parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool cfg_error(struct parser *p, int line, const char *fmt, ...)
{
	char msg[sizeof p->err->msg];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	err_set(p->err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "%s:%d: %s", p->name, line, msg);
	return false;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Trim blanks at both ends of [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
	while (*n > 0 && is_blank(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_blank((*s)[*n - 1]))
		(*n)--;
}

static char *resolve_path(const char *cfg_name, const char *value)
{
	const char *slash = strrchr(cfg_name, '/');

	if (value[0] == '/' || slash == NULL)
		return xstrdup(value);
	return xasprintf("%.*s/%s", (int)(slash - cfg_name), cfg_name, value);
}

static void join_values(char *out, size_t outsz, const char *const *vals)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; vals[i] != NULL; i++) {
		int n = snprintf(out + used, outsz - used, "%s%s", i ? ", " : "", vals[i]);
		if (n < 0 || (size_t)n >= outsz - used)
			return;
		used += (size_t)n;
	}
}

/* Returns the index of the value in vals (case-insensitive), or -1 after
 * setting an error that lists the allowed values. */
static int choose(struct parser *p, int line, const char *key, const char *val,
		  const char *const *vals)
{
	char list[128];

	for (int i = 0; vals[i] != NULL; i++) {
		if (strcasecmp(val, vals[i]) == 0)
			return i;
	}
	join_values(list, sizeof list, vals);
	cfg_error(p, line, "%s %s = '%s' is not allowed; use one of: %s", p->sec_label, key,
		  val, list);
	return -1;
}

/* "50M": a number with an optional K, M or G suffix (powers of 1024), at
 * most 1 TiB so consumers can multiply without overflow. */
static bool valid_size(const char *v)
{
	uint64_t n = 0, mult = 1;
	const char *s = v;

	if (!is_digit(*s))
		return false;
	while (is_digit(*s)) {
		if (n > (UINT64_C(1) << 40))
			return false;
		n = n * 10 + (uint64_t)(*s++ - '0');
	}
	switch (*s) {
	case '\0': break;
	case 'k': case 'K': mult = 1024; s++; break;
	case 'm': case 'M': mult = 1024 * 1024; s++; break;
	case 'g': case 'G': mult = 1024 * 1024 * 1024; s++; break;
	default: return false;
	}
	return *s == '\0' && n > 0 && n <= (UINT64_C(1) << 40) / mult;
}

/* "5d": a number with an optional s, m, h, d or w suffix (seconds when
 * none), at most ten years. */
static bool valid_duration(const char *v)
{
	uint64_t n = 0, mult = 1;
	const uint64_t max = UINT64_C(10) * 366 * 86400;
	const char *s = v;

	if (!is_digit(*s))
		return false;
	while (is_digit(*s)) {
		if (n > max)
			return false;
		n = n * 10 + (uint64_t)(*s++ - '0');
	}
	switch (*s) {
	case '\0': break;
	case 's': case 'S': s++; break;
	case 'm': case 'M': mult = 60; s++; break;
	case 'h': case 'H': mult = 3600; s++; break;
	case 'd': case 'D': mult = 86400; s++; break;
	case 'w': case 'W': mult = 7 * 86400; s++; break;
	default: return false;
	}
	return *s == '\0' && n > 0 && n <= max / mult;
}

static bool valid_port(const char *s, size_t n)
{
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* ADDRESS:PORT, with an IPv6 address in brackets. The address may be a
 * host name ("localhost") or an IP address. */
static bool valid_listen_one(const char *v)
{
	const char *colon = strrchr(v, ':');

	if (colon == NULL || !valid_port(colon + 1, strlen(colon + 1)))
		return false;
	if (v[0] == '[') {
		char addr[INET6_ADDRSTRLEN + 1];
		unsigned char bin[16];
		size_t n = (size_t)(colon - v);

		if (n < 3 || v[n - 1] != ']' || n - 2 >= sizeof addr)
			return false;
		memcpy(addr, v + 1, n - 2);
		addr[n - 2] = '\0';
		return inet_pton(AF_INET6, addr, bin) == 1;
	}
	if (colon == v)
		return false;
	for (const char *s = v; s < colon; s++) {
		if (!is_alnum(*s) && *s != '.' && *s != '-' && *s != '_')
			return false;
	}
	return true;
}

/* True when every comma-separated item of v (trimmed) passes one(). */
static bool each_item(const char *v, bool (*one)(const char *))
{
	const char *s = v;

	for (;;) {
		const char *c = strchr(s, ',');
		size_t n = c != NULL ? (size_t)(c - s) : strlen(s);
		char *item;
		bool ok;

		trim(&s, &n);
		item = xstrndup(s, n);
		ok = one(item);
		free(item);
		if (!ok)
			return false;
		if (c == NULL)
			return true;
		s = c + 1;
	}
}

/* Several addresses, comma-separated ("0.0.0.0:25, [::]:25"). */
static bool valid_listen(const char *v)
{
	return each_item(v, valid_listen_one);
}

/* Each comma-separated item a duration ("1m, 5m, 1h"). */
static bool valid_durations(const char *v)
{
	return each_item(v, valid_duration);
}

static bool valid_list(const char *v)
{
	const char *s = v;

	for (;;) {
		const char *c = strchr(s, ',');
		size_t n = c != NULL ? (size_t)(c - s) : strlen(s);

		trim(&s, &n);
		if (n == 0)
			return false;
		if (c == NULL)
			return true;
		s = c + 1;
	}
}

static bool valid_group_name(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	}
	return true;
}

static bool check_url(struct parser *p, int line, const char *key, const char *val, bool imap)
{
	char what[160];
	struct url u;

	snprintf(what, sizeof what, "%s:%d: %s %s", p->name, line, p->sec_label, key);
	if (!url_parse(val, what, &u, p->err)) {
		p->err->kind = ERR_KIND_CONFIG;
		return false;
	}
	/* lmtp:// is an SMTP-side address too: the relay may deliver into a
	 * mail store's LMTP server (Dovecot, Cyrus) directly */
	bool is_imap = strncmp(u.scheme, "imap", 4) == 0;
	url_free(&u);
	if (is_imap != imap)
		return cfg_error(p, line, "%s %s = '%s' is not an %s address; use %s", p->sec_label,
				 key, val, imap ? "IMAP" : "SMTP", imap ?
				 "imap:// (STARTTLS) or imaps://" : "smtp://, smtps:// or lmtp://");
	return true;
}

static void section_keys(struct parser *p, const struct key_def **keys_r, void **base_r,
			 int **seen_r)
{
	struct config *cfg = p->cfg;

	switch (p->sec) {
	case SEC_MIGRATION:
		*keys_r = migration_keys, *base_r = cfg, *seen_r = p->seen_migration;
		break;
	case SEC_OLD:
		*keys_r = server_keys, *base_r = &cfg->old_server, *seen_r = p->seen_old;
		break;
	case SEC_NEW:
		*keys_r = server_keys, *base_r = &cfg->new_server, *seen_r = p->seen_new;
		break;
	case SEC_RELAY:
		*keys_r = relay_keys, *base_r = &cfg->relay, *seen_r = p->seen_relay;
		break;
	case SEC_DNS:
		*keys_r = dns_keys, *base_r = cfg, *seen_r = p->seen_dns;
		break;
	case SEC_SYNC:
		*keys_r = sync_keys, *base_r = cfg, *seen_r = p->seen_sync;
		break;
	case SEC_GROUP:
		*keys_r = group_keys, *base_r = &cfg->groups[p->group],
			*seen_r = p->gs[p->group].seen;
		break;
	default:
		*keys_r = NULL, *base_r = NULL, *seen_r = NULL;
		break;
	}
}

/* Check one value and store it. An empty value leaves a string key unset
 * (as if the line were absent); keys with a fixed set of values or a number
 * reject it like any other bad value. */
static bool set_value(struct parser *p, int line, const struct key_def *k, void *base,
		      const char *val)
{
	char **slot = (char **)(void *)((char *)base + k->off);
	int i;

	switch (k->type) {
	case KT_TLS:
		if ((i = choose(p, line, k->name, val, tls_values)) < 0)
			return false;
		*(enum tls_mode *)(void *)((char *)base + k->off) = i == 0 ? TLS_VERIFY : TLS_NONE;
		return true;
	case KT_AUTH: {
		static const enum auth_mech mechs[] = { AUTH_AUTO, AUTH_LOGIN, AUTH_PLAIN,
							AUTH_XOAUTH2 };
		if ((i = choose(p, line, k->name, val, auth_values)) < 0)
			return false;
		*(enum auth_mech *)(void *)((char *)base + k->off) = mechs[i];
		return true;
	}
	case KT_PHASE:
	case KT_OLDNEW:
	case KT_YESNO:
	case KT_RECIPIENTS:
	case KT_SMTP_TLS: {
		const char *const *vals = k->type == KT_PHASE ? phase_values :
			k->type == KT_OLDNEW ? oldnew_values :
			k->type == KT_YESNO ? yesno_values :
			k->type == KT_SMTP_TLS ? smtp_tls_values : recipients_values;
		if ((i = choose(p, line, k->name, val, vals)) < 0)
			return false;
		*slot = xstrdup(vals[i]);
		return true;
	}
	case KT_JOBS: {
		unsigned long v = 0;
		const char *s = val;

		for (; is_digit(*s) && v <= SYNC_JOBS_MAX; s++)
			v = v * 10 + (unsigned long)(*s - '0');
		if (val[0] == '\0' || *s != '\0' || v < 1 || v > SYNC_JOBS_MAX)
			return cfg_error(p, line, "%s %s = '%s' is not allowed; use a whole number "
					 "from 1 to %d", p->sec_label, k->name, val, SYNC_JOBS_MAX);
		*(unsigned *)(void *)((char *)base + k->off) = (unsigned)v;
		return true;
	}
	case KT_SIZE:
		if (!valid_size(val))
			return cfg_error(p, line, "%s %s = '%s' is not a size; write a number with "
					 "an optional K, M or G suffix, e.g. 50M (at most 1024G)",
					 p->sec_label, k->name, val);
		*slot = xstrdup(val);
		return true;
	case KT_DURATION:
		if (!valid_duration(val))
			return cfg_error(p, line, "%s %s = '%s' is not a duration; write a number "
					 "with an optional s, m, h, d or w suffix, e.g. 5d",
					 p->sec_label, k->name, val);
		*slot = xstrdup(val);
		return true;
	case KT_DURATIONS:
		if (!valid_durations(val))
			return cfg_error(p, line, "%s %s = '%s' is not a list of durations; write "
					 "numbers with an optional s, m, h, d or w suffix separated "
					 "by commas, e.g. 1m,5m,15m,1h", p->sec_label, k->name, val);
		*slot = xstrdup(val);
		return true;
	case KT_COUNT: {
		unsigned long v = 0;
		const char *s = val;

		for (; is_digit(*s) && v <= COUNT_MAX; s++)
			v = v * 10 + (unsigned long)(*s - '0');
		if (val[0] == '\0' || *s != '\0' || v < 1 || v > COUNT_MAX)
			return cfg_error(p, line, "%s %s = '%s' is not allowed; use a whole number "
					 "from 1 to %d", p->sec_label, k->name, val, COUNT_MAX);
		*slot = xstrdup(val);
		return true;
	}
	default:
		break;
	}

	/* string-valued keys */
	if (val[0] == '\0')
		return true;
	switch (k->type) {
	case KT_URL_IMAP:
	case KT_URL_SMTP:
		if (!check_url(p, line, k->name, val, k->type == KT_URL_IMAP))
			return false;
		*slot = xstrdup(val);
		return true;
	case KT_LIST:
		if (!valid_list(val))
			return cfg_error(p, line, "%s %s = '%s' has an empty item; separate "
					 "items with single commas", p->sec_label, k->name, val);
		*slot = xstrdup(val);
		return true;
	case KT_LISTEN:
		if (!valid_listen(val))
			return cfg_error(p, line, "%s %s = '%s' is not an address to listen on; "
					 "write ADDRESS:PORT, e.g. 0.0.0.0:25 or [::]:25 "
					 "(several separated by commas)",
					 p->sec_label, k->name, val);
		*slot = xstrdup(val);
		return true;
	case KT_STATE:
		if (strncasecmp(val, "sqlite:", 7) == 0) {
			const char *path = val + 7;

			if (path[0] == '\0')
				return cfg_error(p, line, "%s %s: 'sqlite:' needs a file, e.g. "
						 "sqlite:/var/lib/mailshift/state.db", p->sec_label,
						 k->name);
			if (path[0] != '/' && path[0] != ':') {
				char *abs = resolve_path(p->name, path);
				*slot = xasprintf("sqlite:%s", abs);
				free(abs);
			} else {
				*slot = xstrdup(val);
			}
			return true;
		}
		if (strncasecmp(val, "postgresql://", 13) == 0 ||
		    strncasecmp(val, "postgres://", 11) == 0) {
			*slot = xstrdup(val);
			return true;
		}
		/* not echoed: a connection string may hold a password */
		return cfg_error(p, line, "%s %s: unknown kind of state store; use "
				 "sqlite:/path/to/state.db or postgresql://host/db",
				 p->sec_label, k->name);
	case KT_PATH:
		*slot = resolve_path(p->name, val);
		return true;
	case KT_STR:
	case KT_ACCOUNTS:
	default:
		*slot = xstrdup(val);
		return true;
	}
}

/* Where a key we know belongs: a key in the wrong section is an error (the
 * contract in config.h), unlike a key nobody knows (a warning). */
static const char *key_home(const char *key, size_t klen)
{
	static const struct {
		const struct key_def *keys;
		const char *where;
	} homes[] = {
		{ migration_keys, "[migration]" }, { server_keys, "[old] or [new]" },
		{ relay_keys, "[relay]" }, { dns_keys, "[dns]" }, { sync_keys, "[sync]" },
		{ group_keys, "a [group NAME] section" },
	};

	for (size_t h = 0; h < sizeof homes / sizeof homes[0]; h++) {
		for (const struct key_def *k = homes[h].keys; k->name != NULL; k++) {
			if (strlen(k->name) == klen && strncasecmp(k->name, key, klen) == 0)
				return homes[h].where;
		}
	}
	return NULL;
}

static bool parse_key_line(struct parser *p, int line, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	const struct key_def *keys;
	void *base;
	int *seen;

	if (eq == NULL)
		return cfg_error(p, line, "expected 'key = value', '[section]' or a comment");
	const char *key = s;
	size_t klen = (size_t)(eq - s);
	trim(&key, &klen);
	if (klen == 0)
		return cfg_error(p, line, "missing key before '='; write 'key = value'");
	for (size_t i = 0; i < klen; i++) {
		if (!is_alnum(key[i]) && key[i] != '_' && key[i] != '-' && key[i] != '.')
			return cfg_error(p, line, "bad key '%.*s'; keys are words like "
					 "admin_password_file (letters, digits, '_')",
					 (int)klen, key);
	}

	/* The value: a ';' or '#' preceded by a blank starts a comment. */
	const char *v = eq + 1;
	size_t vlen = (size_t)(s + n - v);
	for (size_t i = 1; i < vlen; i++) {
		if ((v[i] == ';' || v[i] == '#') && is_blank(v[i - 1])) {
			vlen = i;
			break;
		}
	}
	trim(&v, &vlen);

	if (p->sec == SEC_NONE)
		return cfg_error(p, line, "key '%.*s' is outside any section; put it under its "
				 "[section] header", (int)klen, key);
	if (p->sec == SEC_UNKNOWN)
		return true;    /* warned once at the header */

	section_keys(p, &keys, &base, &seen);
	for (int i = 0; keys[i].name != NULL; i++) {
		if (strlen(keys[i].name) != klen || strncasecmp(keys[i].name, key, klen) != 0)
			continue;
		if (seen[i] != 0)
			return cfg_error(p, line, "duplicate key '%s' in %s (first on line %d); "
					 "keep one", keys[i].name, p->sec_label, seen[i]);
		seen[i] = line;
		char *val = xstrndup(v, vlen);
		bool ok = set_value(p, line, &keys[i], base, val);
		free(val);
		return ok;
	}
	const char *home = key_home(key, klen);
	if (home != NULL)
		return cfg_error(p, line, "'%.*s' does not belong in %s; move it to %s",
				 (int)klen, key, p->sec_label, home);
	log_warn("%s:%d: unknown key '%.*s' in %s ignored; check its spelling (see "
		 "docs/config.md)", p->name, line, (int)klen, key, p->sec_label);
	return true;
}

static bool parse_section_line(struct parser *p, int line, const char *s, size_t n)
{
	static const struct {
		const char *name;
		enum section sec;
	} names[] = {
		{ "migration", SEC_MIGRATION }, { "old", SEC_OLD }, { "new", SEC_NEW },
		{ "relay", SEC_RELAY }, { "dns", SEC_DNS }, { "sync", SEC_SYNC },
	};
	const char *close = memchr(s, ']', n);

	if (close == NULL)
		return cfg_error(p, line, "section header without ']'; write [section]");
	const char *after = close + 1;
	size_t alen = (size_t)(s + n - after);
	trim(&after, &alen);
	if (alen > 0 && after[0] != ';' && after[0] != '#')
		return cfg_error(p, line, "unexpected text after the section header; put a "
				 "comment after ';'");
	const char *name = s + 1;
	size_t nlen = (size_t)(close - name);
	trim(&name, &nlen);
	if (nlen == 0)
		return cfg_error(p, line, "empty section name '[]'");

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strlen(names[i].name) == nlen && strncasecmp(names[i].name, name, nlen) == 0) {
			p->sec = names[i].sec;
			snprintf(p->sec_label, sizeof p->sec_label, "[%s]", names[i].name);
			return true;
		}
	}

	if (nlen >= 5 && strncasecmp(name, "group", 5) == 0 && (nlen == 5 || is_blank(name[5]))) {
		const char *g = name + 5;
		size_t glen = nlen - 5;
		struct config *cfg = p->cfg;

		trim(&g, &glen);
		if (glen == 0)
			return cfg_error(p, line, "[group] needs a name: write [group NAME]");
		if (!valid_group_name(g, glen))
			return cfg_error(p, line, "group name '%.*s' may only use letters, digits, "
					 "'.', '_' and '-'", (int)glen, g);
		for (size_t i = 0; i < cfg->group_count; i++) {
			if (strlen(cfg->groups[i].name) == glen &&
			    strncasecmp(cfg->groups[i].name, g, glen) == 0)
				return cfg_error(p, line, "duplicate group '%.*s' (first on line %d); "
						 "merge them or rename one", (int)glen, g,
						 p->gs[i].line);
		}
		cfg->groups = xreallocarray(cfg->groups, cfg->group_count + 1, sizeof *cfg->groups);
		p->gs = xreallocarray(p->gs, cfg->group_count + 1, sizeof *p->gs);
		memset(&cfg->groups[cfg->group_count], 0, sizeof cfg->groups[0]);
		memset(&p->gs[cfg->group_count], 0, sizeof p->gs[0]);
		cfg->groups[cfg->group_count].name = xstrndup(g, glen);
		p->gs[cfg->group_count].line = line;
		p->group = cfg->group_count++;
		p->sec = SEC_GROUP;
		snprintf(p->sec_label, sizeof p->sec_label, "[group %.*s]", (int)glen, g);
		return true;
	}

	log_warn("%s:%d: unknown section [%.*s] ignored with its keys; check its spelling "
		 "(see docs/config.md)", p->name, line, (int)nlen, name);
	p->sec = SEC_UNKNOWN;
	snprintf(p->sec_label, sizeof p->sec_label, "[%.*s]", (int)nlen, name);
	return true;
}

static int key_line(const struct key_def *keys, const int *seen, const char *name)
{
	for (int i = 0; keys[i].name != NULL; i++) {
		if (strcmp(keys[i].name, name) == 0)
			return seen[i];
	}
	return 0;
}

static void set_default(char **slot, const char *value)
{
	if (*slot == NULL)
		*slot = xstrdup(value);
}

/* Read an accounts CSV: a regular file only (a FIFO or device could block
 * or never end), bounded, allocated once at its final size so the passwords
 * in it are in one buffer the caller wipes. */
static char *read_accounts_file(const char *path, size_t *len_r, struct err *err)
{
	struct stat st;
	char *data;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, false, "cannot open accounts file %s: %s; "
			"check the path (relative paths start at the config file's folder)",
			path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, false, "accounts file %s is not a regular "
			"file", path);
		close(fd);
		return NULL;
	}
	if (st.st_size > ACCOUNTS_MAX) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, false, "accounts file %s is larger than "
			"%d MiB; split it into several groups", path, ACCOUNTS_MAX / (1024 * 1024));
		close(fd);
		return NULL;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH))
		log_warn("accounts file %s is readable by group or others and holds passwords; "
			 "run chmod 600 %s", path, path);
	size_t cap = (size_t)st.st_size + 1;
	data = xmalloc(cap);
	for (;;) {
		ssize_t n = read(fd, data + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, false, "cannot read accounts file "
				"%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, true, "accounts file %s changed "
				"while it was read; try again", path);
			goto fail;
		}
	}
	close(fd);
	data[len] = '\0';
	*len_r = len;
	return data;
fail:
	explicit_bzero(data, cap);
	free(data);
	close(fd);
	return NULL;
}

static int cmp_account_ptr(const void *a, const void *b)
{
	const struct config_account *x = *(const struct config_account *const *)a;
	const struct config_account *y = *(const struct config_account *const *)b;

	return strcasecmp(x->email, y->email);
}

/* The relay routes a recipient by its group; an address in two groups would
 * have two phases. Each CSV already refused its own duplicates. */
static bool check_cross_group(struct parser *p)
{
	struct config *cfg = p->cfg;
	const struct config_account **v;
	size_t n = 0, k = 0;
	bool ok = true;

	for (size_t g = 0; g < cfg->group_count; g++)
		n += cfg->groups[g].account_count;
	if (n < 2 || cfg->group_count < 2)
		return true;
	v = xreallocarray(NULL, n, sizeof *v);
	for (size_t g = 0; g < cfg->group_count; g++) {
		for (size_t i = 0; i < cfg->groups[g].account_count; i++)
			v[k++] = &cfg->groups[g].accounts[i];
	}
	qsort(v, n, sizeof *v, cmp_account_ptr);
	for (size_t i = 1; i < n && ok; i++) {
		if (strcasecmp(v[i - 1]->email, v[i]->email) != 0)
			continue;
		const struct config_group *ga = NULL, *gb = NULL;
		for (size_t g = 0; g < cfg->group_count; g++) {
			const struct config_group *gr = &cfg->groups[g];

			if (v[i - 1] >= gr->accounts && v[i - 1] < gr->accounts + gr->account_count)
				ga = gr;
			if (v[i] >= gr->accounts && v[i] < gr->accounts + gr->account_count)
				gb = gr;
		}
		/* name the earlier group first, as the file is read */
		if (ga > gb) {
			const struct config_group *t = ga;
			const struct config_account *ta = v[i - 1];

			ga = gb;
			gb = t;
			v[i - 1] = v[i];
			v[i] = ta;
		}
		err_set(p->err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "%s:%d: '%s' is also in "
			"group '%s' (%s:%d); an account belongs to one group only",
			gb->accounts_path, v[i]->line, v[i]->email, ga->name, ga->accounts_path,
			v[i - 1]->line);
		ok = false;
	}
	free(v);
	return ok;
}

static bool finish(struct parser *p)
{
	struct config *cfg = p->cfg;
	struct config_relay *r = &cfg->relay;
	int cert_line = key_line(relay_keys, p->seen_relay, "tls_cert");
	int key_line_ = key_line(relay_keys, p->seen_relay, "tls_key");

	if ((r->tls_cert == NULL) != (r->tls_key == NULL))
		return cfg_error(p, cert_line ? cert_line : key_line_, "[relay] tls_cert and "
				 "tls_key go together; set both (certificate chain and its key) "
				 "or neither");

	set_default(&cfg->state, "sqlite:/var/lib/mailshift/state.db");
	set_default(&r->listen, "0.0.0.0:25");
	set_default(&r->spool, "/var/spool/mailshift");
	set_default(&r->default_phase, "old");
	set_default(&r->primary, "old");
	set_default(&r->keep_old_copy, "no");
	set_default(&r->recipients, "domain");
	set_default(&r->max_message_size, "50M");
	set_default(&r->queue_lifetime, "5d");
	set_default(&r->retry_intervals, "1m,5m,15m,1h");
	set_default(&r->max_connections, "200");
	set_default(&r->max_per_client, "50");   /* as Postfix's smtpd_client_connection_count_limit */
	set_default(&r->timeout, "300s");
	set_default(&r->data_timeout, "600s");
	set_default(&r->max_recipients, "1000");
	set_default(&r->concurrency, "10");
	if (cfg->sync_jobs == 0)
		cfg->sync_jobs = 1;

	for (size_t i = 0; i < cfg->group_count; i++) {
		struct config_group *g = &cfg->groups[i];
		size_t len = 0;
		char *data;
		bool ok;

		set_default(&g->phase, "old");
		if (g->accounts_file == NULL)
			return cfg_error(p, p->gs[i].line, "[group %s] has no accounts file; add "
					 "'accounts = FILE.csv'", g->name);
		g->accounts_path = resolve_path(p->name, g->accounts_file);
		data = read_accounts_file(g->accounts_path, &len, p->err);
		if (data == NULL) {
			err_prefix(p->err, "%s:%d: [group %s]: ", p->name,
				   key_line(group_keys, p->gs[i].seen, "accounts"), g->name);
			return false;
		}
		ok = config_parse_accounts(g->accounts_path, data, len, &g->accounts,
					   &g->account_count, p->err);
		explicit_bzero(data, len);
		free(data);
		if (!ok)
			return false;
	}
	return check_cross_group(p);
}

struct config *config_parse(const char *name, const char *text, size_t len, struct err *err)
{
	struct parser p;
	struct err local;
	const char *s = text, *end = text + len;
	int line = 0;
	bool ok = true;

	memset(&p, 0, sizeof p);
	if (name == NULL)
		name = "config";
	if (text == NULL)
		s = end = "";
	if (err == NULL)
		err = &local;
	err_clear(err);
	p.name = name;
	p.err = err;
	p.cfg = xcalloc(1, sizeof *p.cfg);
	p.cfg->path = xstrdup(name);

	if (end - s >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	while (ok && s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl != NULL ? nl : end;
		const char *l = s;
		size_t n = (size_t)(e - s);

		line++;
		s = nl != NULL ? nl + 1 : end;
		if (memchr(l, '\0', n) != NULL) {
			ok = cfg_error(&p, line, "NUL byte; the file is not text");
			break;
		}
		if (n > 0 && l[n - 1] == '\r')
			n--;
		for (size_t i = 0; i < n && ok; i++) {
			unsigned char c = (unsigned char)l[i];

			if ((c < 0x20 && c != '\t') || c == 0x7f)
				ok = cfg_error(&p, line, "control character (0x%02x); save the file as "
					       "plain text with LF or CRLF line ends", c);
		}
		if (!ok)
			break;
		trim(&l, &n);
		if (n == 0 || l[0] == ';' || l[0] == '#')
			continue;
		if (l[0] == '[')
			ok = parse_section_line(&p, line, l, n);
		else
			ok = parse_key_line(&p, line, l, n);
	}
	if (ok)
		ok = finish(&p);
	free(p.gs);
	if (!ok) {
		config_free(&p.cfg);
		return NULL;
	}
	return p.cfg;
}

struct config *config_load(const char *path, struct err *err)
{
	struct buf b;
	char chunk[8192];
	bool failed = false;
	int fd;

	if (path == NULL) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_USAGE, false, "no configuration file: none "
			"given with -c, and neither ./mailshift.conf nor "
			"/etc/mailshift/mailshift.conf exists");
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, false, "cannot open configuration file "
			"%s: %s", path, strerror(errno));
		return NULL;
	}
	buf_init(&b, CONFIG_MAX);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, false, "cannot read configuration "
				"file %s: %s", path, strerror(errno));
			failed = true;
			break;
		}
		if (n == 0)
			break;
		if (!buf_append(&b, chunk, (size_t)n)) {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "configuration file %s "
				"is larger than %d KiB; is it the right file?", path,
				CONFIG_MAX / 1024);
			failed = true;
			break;
		}
	}
	close(fd);
	if (failed) {
		buf_free(&b);
		return NULL;
	}
	struct config *cfg = config_parse(path, b.data != NULL ? b.data : "", b.len, err);
	buf_free(&b);
	return cfg;
}

static void server_free(struct config_server *s)
{
	free(s->imap);
	free(s->smtp);
	free(s->ca_file);
	free(s->admin_user);
	free(s->admin_password_file);
	free(s->sending_ips);
	free(s->dkim_selector);
	free(s->dkim_key);
}

void config_free(struct config **cp)
{
	struct config *c;

	if (cp == NULL || *cp == NULL)
		return;
	c = *cp;
	free(c->path);
	free(c->domains);
	free(c->state);
	server_free(&c->old_server);
	server_free(&c->new_server);
	free(c->relay.listen);
	free(c->relay.hostname);
	free(c->relay.spool);
	free(c->relay.user);
	free(c->relay.default_phase);
	free(c->relay.primary);
	free(c->relay.keep_old_copy);
	free(c->relay.recipients);
	free(c->relay.max_message_size);
	free(c->relay.queue_lifetime);
	free(c->relay.tls_cert);
	free(c->relay.tls_key);
	free(c->relay.retry_intervals);
	free(c->relay.max_connections);
	free(c->relay.max_per_client);
	free(c->relay.timeout);
	free(c->relay.data_timeout);
	free(c->relay.max_recipients);
	free(c->relay.concurrency);
	free(c->relay.bounce_relay);
	free(c->relay.smtp_tls);
	free(c->dns_resolvers);
	for (size_t i = 0; i < c->group_count; i++) {
		struct config_group *g = &c->groups[i];

		free(g->name);
		free(g->phase);
		free(g->accounts_file);
		free(g->accounts_path);
		for (size_t j = 0; j < g->account_count; j++) {
			struct config_account *a = &g->accounts[j];

			free(a->email);
			free(a->old_user);
			free(a->new_user);
			secret_free(&a->old_password);
			secret_free(&a->new_password);
		}
		free(g->accounts);
	}
	free(c->groups);
	free(c);
	*cp = NULL;
}

const char *config_default_path(void)
{
	static const char *const candidates[] = {
		"./mailshift.conf",
		"/etc/mailshift/mailshift.conf",
	};
	struct stat st;

	for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
		if (stat(candidates[i], &st) == 0)
			return candidates[i];
	}
	return NULL;
}
