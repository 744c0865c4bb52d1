/* relay_config.h — the [relay] section (and the [old]/[new] smtp URLs)
 * turned into typed settings, checked once at start and on SIGHUP.
 *
 * Pure: no I/O beyond what config_load already did. Every error names the
 * key as the administrator wrote it ("[relay] max_message_size = 50Q: ...")
 * and says what is allowed.
 *
 * Keys (docs/config.md; defaults in brackets):
 *   listen            host:port or [v6]:port [127.0.0.1:25]; several
 *                     separated by commas
 *   hostname          our name in the greeting, EHLO, Received: and DSNs
 *                     [gethostname() is the caller's business: NULL here]
 *   spool             [/var/spool/mailshift]
 *   user              unprivileged user after binding [none: stay as is]
 *   default_phase     old | both | new [old]
 *   primary           old | new [old]
 *   keep_old_copy     yes | no [no]
 *   recipients        domain | known [domain]
 *   max_message_size  bytes with optional K/M/G suffix (powers of 1024) [50M]
 *   queue_lifetime    duration: N with s/m/h/d suffix (plain N: seconds) [5d]
 *   retry_intervals   durations separated by commas: the waits after the
 *                     1st, 2nd ... failure; the last one repeats
 *                     [1m,5m,15m,1h]
 *   tls_cert, tls_key PEM files for STARTTLS [none: no STARTTLS offered]
 *   max_connections   [200]     max_per_client [50]
 *   timeout           idle time of a client before 421 [300s]
 *   data_timeout      time for the whole DATA of one message [600s] (slow
 *                     clients cannot hold a slot forever)
 *   max_recipients    per message [1000]
 *   concurrency       delivery connections per destination [10]
 *   bounce_relay      smtp://host:port where DSNs to outside senders go
 *                     [the primary server's smtp]
 *   smtp_tls          may | require | none: STARTTLS to old/new [may;
 *                     none when that server's tls = none]
 * [old] smtp, [new] smtp: smtp://host[:port] or smtps://; required for the
 * relay (an error names the missing one).
 */
#ifndef MS_RELAY_CONFIG_H
#define MS_RELAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/url.h"

struct relay_listen {
	char *host;     /* "127.0.0.1", "::1", "0.0.0.0" */
	unsigned port;
};

struct relay_settings {
	struct relay_listen *listen;
	size_t nlisten;
	char *hostname;            /* NULL: not set */
	char *spool;
	char *user;                /* NULL: not set */
	bool keep_old_copy;
	uint64_t max_message_size;
	int64_t queue_lifetime;    /* seconds */
	int64_t *retry;            /* seconds */
	size_t nretry;
	char *tls_cert, *tls_key;  /* both or neither */
	unsigned max_connections, max_per_client, max_recipients, concurrency;
	int64_t timeout, data_timeout;
	struct url old_smtp, new_smtp, bounce_relay;
	int smtp_tls_old, smtp_tls_new;   /* enum smtp_client_tls */
	bool verify_old, verify_new;      /* [old]/[new] tls != none */
	char *ca_old, *ca_new;            /* [old]/[new] ca_file or NULL */
};

bool relay_settings_load(const struct config *cfg, struct relay_settings *out, struct err *err);
void relay_settings_free(struct relay_settings *s);

/* Helpers, exposed for tests: "50M" → bytes; "5d" → seconds. */
bool relay_parse_size(const char *text, uint64_t *out);
bool relay_parse_duration(const char *text, int64_t *out);

#endif
