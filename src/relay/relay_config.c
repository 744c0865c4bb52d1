/* relay_config.c — the [relay] section (and [old]/[new] smtp) as typed
 * settings; the contract is relay_config.h.
 *
 * config_load() has already checked most values (with file:line), but a
 * struct config may also be built by hand (tests, a future reload path),
 * so every value is checked again here: this file is the one place that
 * turns the strings into numbers, and it must never accept what
 * config.c would refuse. A key left NULL takes its default from the table
 * in relay_config.h.
 *
 * Pure: no I/O, no globals. On failure *out is left empty (nothing to free).
 */
#include "relay/relay_config.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "relay/smtp_client.h"

#define SIZE_MAX_BYTES (UINT64_C(1) << 40)               /* 1 TiB, as config.c */
#define DURATION_MAX ((int64_t)10 * 366 * 86400)         /* ten years */
#define LISTEN_MAX 16
#define RETRY_MAX 32
#define COUNT_LIMIT 1000000u

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

bool relay_parse_size(const char *text, uint64_t *out)
{
	uint64_t n = 0, mult = 1;
	const char *s = text;

	if (s == NULL || !is_digit(*s))
		return false;
	while (is_digit(*s)) {
		if (n > SIZE_MAX_BYTES)
			return false;
		n = n * 10 + (uint64_t)(*s++ - '0');
	}
	switch (*s) {
	case '\0': break;
	case 'k': case 'K': mult = 1024; s++; break;
	case 'm': case 'M': mult = UINT64_C(1024) * 1024; s++; break;
	case 'g': case 'G': mult = UINT64_C(1024) * 1024 * 1024; s++; break;
	default: return false;
	}
	if (*s != '\0' || n == 0 || n > SIZE_MAX_BYTES / mult)
		return false;
	*out = n * mult;
	return true;
}

/* 'w' is accepted too because config.c accepts it for queue_lifetime. */
bool relay_parse_duration(const char *text, int64_t *out)
{
	int64_t n = 0, mult = 1;
	const char *s = text;

	if (s == NULL || !is_digit(*s))
		return false;
	while (is_digit(*s)) {
		if (n > DURATION_MAX)
			return false;
		n = n * 10 + (*s++ - '0');
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
	if (*s != '\0' || n == 0 || n > DURATION_MAX / mult)
		return false;
	*out = n * mult;
	return true;
}

static bool fail(struct err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(struct err *err, const char *fmt, ...)
{
	char msg[sizeof err->msg];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "%s", msg);
	return false;
}

/* Next comma-separated item of *sp, trimmed, as a new string; NULL at the end. */
static char *next_item(const char **sp)
{
	const char *s = *sp, *c;
	size_t n;

	if (s == NULL)
		return NULL;
	c = strchr(s, ',');
	n = c != NULL ? (size_t)(c - s) : strlen(s);
	*sp = c != NULL ? c + 1 : NULL;
	while (n > 0 && is_blank(*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_blank(s[n - 1]))
		n--;
	return xstrndup(s, n);
}

static bool parse_port(const char *s, unsigned *out)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	*out = (unsigned)v;
	return true;
}

/* "host:port" or "[v6]:port"; host a name or IPv4 address. */
static bool parse_listen_one(const char *item, struct relay_listen *out)
{
	const char *colon = strrchr(item, ':');
	unsigned port;

	if (colon == NULL || !parse_port(colon + 1, &port))
		return false;
	if (item[0] == '[') {
		unsigned char bin[16];
		size_t n = (size_t)(colon - item);
		char *addr;
		bool ok;

		if (n < 3 || item[n - 1] != ']')
			return false;
		addr = xstrndup(item + 1, n - 2);
		ok = inet_pton(AF_INET6, addr, bin) == 1;
		if (!ok) {
			free(addr);
			return false;
		}
		out->host = addr;
		out->port = port;
		return true;
	}
	if (colon == item)
		return false;
	for (const char *s = item; s < colon; s++) {
		char c = *s;

		if (!is_digit(c) && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    c != '.' && c != '-' && c != '_')
			return false;
	}
	out->host = xstrndup(item, (size_t)(colon - item));
	out->port = port;
	return true;
}

static bool load_listen(const char *path, const char *text, struct relay_settings *s,
			struct err *err)
{
	const char *rest = text;
	char *item;

	while ((item = next_item(&rest)) != NULL) {
		struct relay_listen l;

		if (s->nlisten == LISTEN_MAX) {
			free(item);
			return fail(err, "%s: [relay] listen = %s: more than %d addresses; listen "
				    "on fewer (0.0.0.0:25 covers every IPv4 address)", path, text,
				    LISTEN_MAX);
		}
		if (!parse_listen_one(item, &l)) {
			fail(err, "%s: [relay] listen = %s: '%s' is not an address to listen on; "
			     "write ADDRESS:PORT, e.g. 0.0.0.0:25 or [::]:25, several separated by "
			     "commas", path, text, item);
			free(item);
			return false;
		}
		free(item);
		s->listen = xreallocarray(s->listen, s->nlisten + 1, sizeof *s->listen);
		s->listen[s->nlisten++] = l;
	}
	return true;
}

static bool load_retry(const char *path, const char *text, struct relay_settings *s,
		       struct err *err)
{
	const char *rest = text;
	char *item;

	while ((item = next_item(&rest)) != NULL) {
		int64_t v;

		if (s->nretry == RETRY_MAX || !relay_parse_duration(item, &v)) {
			fail(err, "%s: [relay] retry_intervals = %s: %s; write at most %d "
			     "durations (a number with an optional s, m, h, d or w suffix) "
			     "separated by commas, e.g. 1m,5m,15m,1h", path, text,
			     s->nretry == RETRY_MAX ? "too many intervals" : "not a list of durations",
			     RETRY_MAX);
			free(item);
			return false;
		}
		free(item);
		s->retry = xreallocarray(s->retry, s->nretry + 1, sizeof *s->retry);
		s->retry[s->nretry++] = v;
	}
	return true;
}

static bool load_duration(const char *path, const char *key, const char *text, const char *def,
			  int64_t *out, struct err *err)
{
	if (text == NULL)
		text = def;
	if (!relay_parse_duration(text, out))
		return fail(err, "%s: [relay] %s = %s: not a duration; write a number with an "
			    "optional s, m, h, d or w suffix (at most ten years), e.g. %s", path,
			    key, text, def);
	return true;
}

static bool load_count(const char *path, const char *key, const char *text, unsigned def,
		       unsigned *out, struct err *err)
{
	unsigned long v = 0;
	const char *s = text;

	if (text == NULL) {
		*out = def;
		return true;
	}
	for (; is_digit(*s) && v <= COUNT_LIMIT; s++)
		v = v * 10 + (unsigned long)(*s - '0');
	if (text[0] == '\0' || *s != '\0' || v < 1 || v > COUNT_LIMIT)
		return fail(err, "%s: [relay] %s = %s: not allowed; use a whole number from 1 "
			    "to %u", path, key, text, COUNT_LIMIT);
	*out = (unsigned)v;
	return true;
}

static bool load_smtp_url(const char *path, const char *what, const char *text,
			  struct url *out, struct err *err)
{
	char label[128];

	snprintf(label, sizeof label, "%s: %s", path, what);
	if (!url_parse(text, label, out, err)) {
		err->kind = ERR_KIND_CONFIG;
		return false;
	}
	if (strncmp(out->scheme, "smtp", 4) != 0 && strcmp(out->scheme, "lmtp") != 0) {
		url_free(out);
		return fail(err, "%s: %s = %s is not an SMTP address; use smtp://host[:port], "
			    "smtps://host[:port] or lmtp://host[:port]", path, what, text);
	}
	return true;
}

static bool load_smtp_tls(const char *path, const char *text, const struct config *cfg,
			  struct relay_settings *s, struct err *err)
{
	int mode;

	if (text == NULL) {
		s->smtp_tls_old = cfg->old_server.tls == TLS_NONE ? SMTP_TLS_NONE : SMTP_TLS_MAY;
		s->smtp_tls_new = cfg->new_server.tls == TLS_NONE ? SMTP_TLS_NONE : SMTP_TLS_MAY;
		return true;
	}
	if (strcasecmp(text, "may") == 0)
		mode = SMTP_TLS_MAY;
	else if (strcasecmp(text, "require") == 0)
		mode = SMTP_TLS_REQUIRE;
	else if (strcasecmp(text, "none") == 0)
		mode = SMTP_TLS_NONE;
	else
		return fail(err, "%s: [relay] smtp_tls = %s is not allowed; use one of: may, "
			    "require, none", path, text);
	/* An explicit choice is the administrator's for both servers; a
	 * server's tls = none still turns certificate checks off (verify_*). */
	s->smtp_tls_old = mode;
	s->smtp_tls_new = mode;
	return true;
}

bool relay_settings_load(const struct config *cfg, struct relay_settings *out, struct err *err)
{
	const struct config_relay *r = &cfg->relay;
	const char *path = cfg->path != NULL ? cfg->path : "config";
	const char *kc = r->keep_old_copy;
	const char *mms = r->max_message_size != NULL ? r->max_message_size : "50M";
	struct relay_settings s;

	memset(&s, 0, sizeof s);
	memset(out, 0, sizeof *out);

	if (!load_listen(path, r->listen != NULL ? r->listen : "127.0.0.1:25", &s, err))
		goto fail;
	s.hostname = r->hostname != NULL && r->hostname[0] != '\0' ? xstrdup(r->hostname) : NULL;
	s.spool = xstrdup(r->spool != NULL && r->spool[0] != '\0' ? r->spool :
			  "/var/spool/mailshift");
	s.user = r->user != NULL && r->user[0] != '\0' ? xstrdup(r->user) : NULL;

	if (kc == NULL || strcasecmp(kc, "no") == 0) {
		s.keep_old_copy = false;
	} else if (strcasecmp(kc, "yes") == 0) {
		s.keep_old_copy = true;
	} else {
		fail(err, "%s: [relay] keep_old_copy = %s is not allowed; use one of: yes, no",
		     path, kc);
		goto fail;
	}

	if (!relay_parse_size(mms, &s.max_message_size)) {
		fail(err, "%s: [relay] max_message_size = %s: not a size; write a number of "
		     "bytes with an optional K, M or G suffix, e.g. 50M (at most 1024G)", path, mms);
		goto fail;
	}
	if (!load_duration(path, "queue_lifetime", r->queue_lifetime, "5d", &s.queue_lifetime,
			   err))
		goto fail;
	if (!load_retry(path, r->retry_intervals != NULL ? r->retry_intervals : "1m,5m,15m,1h",
			&s, err))
		goto fail;

	if ((r->tls_cert == NULL) != (r->tls_key == NULL)) {
		fail(err, "%s: [relay] tls_cert and tls_key go together; set both (certificate "
		     "chain and its key) or neither", path);
		goto fail;
	}
	if (r->tls_cert != NULL) {
		s.tls_cert = xstrdup(r->tls_cert);
		s.tls_key = xstrdup(r->tls_key);
	}

	if (!load_count(path, "max_connections", r->max_connections, 200, &s.max_connections,
			err) ||
	    !load_count(path, "max_per_client", r->max_per_client, 50, &s.max_per_client, err) ||
	    !load_count(path, "max_recipients", r->max_recipients, 1000, &s.max_recipients,
			err) ||
	    !load_count(path, "concurrency", r->concurrency, 10, &s.concurrency, err))
		goto fail;
	if (!load_duration(path, "timeout", r->timeout, "300s", &s.timeout, err) ||
	    !load_duration(path, "data_timeout", r->data_timeout, "600s", &s.data_timeout, err))
		goto fail;

	if (cfg->old_server.smtp == NULL) {
		fail(err, "%s: [old] smtp is not set; the relay delivers the old server's mail "
		     "there: add 'smtp = smtp://HOST:25' under [old]", path);
		goto fail;
	}
	if (cfg->new_server.smtp == NULL) {
		fail(err, "%s: [new] smtp is not set; the relay delivers the new server's mail "
		     "there: add 'smtp = smtp://HOST:25' under [new]", path);
		goto fail;
	}
	if (!load_smtp_url(path, "[old] smtp", cfg->old_server.smtp, &s.old_smtp, err) ||
	    !load_smtp_url(path, "[new] smtp", cfg->new_server.smtp, &s.new_smtp, err))
		goto fail;
	if (r->bounce_relay != NULL) {
		if (!load_smtp_url(path, "[relay] bounce_relay", r->bounce_relay, &s.bounce_relay,
				   err))
			goto fail;
	} else {
		bool new_primary = r->primary != NULL && strcasecmp(r->primary, "new") == 0;
		const char *u = new_primary ? cfg->new_server.smtp : cfg->old_server.smtp;

		if (!load_smtp_url(path, new_primary ? "[new] smtp" : "[old] smtp", u,
				   &s.bounce_relay, err))
			goto fail;
	}

	if (!load_smtp_tls(path, r->smtp_tls, cfg, &s, err))
		goto fail;
	s.verify_old = cfg->old_server.tls != TLS_NONE;
	s.verify_new = cfg->new_server.tls != TLS_NONE;
	s.ca_old = cfg->old_server.ca_file != NULL ? xstrdup(cfg->old_server.ca_file) : NULL;
	s.ca_new = cfg->new_server.ca_file != NULL ? xstrdup(cfg->new_server.ca_file) : NULL;

	*out = s;
	return true;
fail:
	relay_settings_free(&s);
	return false;
}

void relay_settings_free(struct relay_settings *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nlisten; i++)
		free(s->listen[i].host);
	free(s->listen);
	free(s->hostname);
	free(s->spool);
	free(s->user);
	free(s->retry);
	free(s->tls_cert);
	free(s->tls_key);
	url_free(&s->old_smtp);
	url_free(&s->new_smtp);
	url_free(&s->bounce_relay);
	free(s->ca_old);
	free(s->ca_new);
	memset(s, 0, sizeof *s);
}
