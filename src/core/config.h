/* config.h — the migration's configuration file (INI) and the accounts CSVs.
 *
 * One file describes the whole migration (see ../shared/design.md and
 * docs/config.md). Syntax: "[section]" or "[group NAME]" headers, "key = value"
 * lines, comments starting with ';' or '#' at the start of a line or after
 * whitespace in a value ("a = b ; note"), blank lines. Keys and section names
 * are case-insensitive; values are trimmed. Any error names the file and
 * line ("mailshift.conf:12: ...") and says what to do.
 *
 * Keys are a contract with administrators' files: unknown keys produce a
 * warning (file:line, via log_warn) rather than an error so that a newer
 * file still runs, but a key in the wrong place or a bad value is an error.
 *
 * Accounts CSV (per group, "accounts = sales.csv", relative to the config
 * file's folder): RFC 4180 CSV with a header row naming the columns
 * email,old_user,old_password,new_user,new_password (any order; extra columns
 * ignored; old_user/new_user default to email; the password columns may be
 * empty when [old]/[new] admin_user is set). A file readable by group or
 * others gets a warning (it holds passwords). Passwords are kept in memory
 * only and are never printed.
 *
 * Ownership: config_load() returns a struct the caller releases with
 * config_free(); every string inside belongs to it.
 */
#ifndef MS_CONFIG_H
#define MS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

enum tls_mode {
	TLS_VERIFY = 0,   /* verify certificate and host name (default) */
	TLS_NONE,         /* "tls = none": plaintext allowed (loopback tests only) */
};

enum auth_mech {
	AUTH_AUTO = 0,    /* AUTHENTICATE PLAIN if offered, else LOGIN */
	AUTH_LOGIN,
	AUTH_PLAIN,
	AUTH_XOAUTH2,     /* the "password" is an OAuth2 access token */
};

struct config_server {
	char *imap;                 /* URL: imaps://host[:port] or imap://host[:port] */
	char *smtp;                 /* URL, used by the relay */
	enum tls_mode tls;
	char *ca_file;              /* optional private CA (PEM) */
	enum auth_mech auth;        /* "auth = auto|login|plain|xoauth2" */
	char *admin_user;           /* master/admin user logging in for every account */
	char *admin_password_file;
	char *sending_ips;          /* kept verbatim for the DNS checks */
	char *dkim_selector;
	char *dkim_key;
};

struct config_account {
	char *email;
	char *old_user;
	char *old_password;  /* NULL when the column is absent or empty */
	char *new_user;
	char *new_password;
	int line;            /* line in the CSV, for messages */
};

struct config_group {
	char *name;
	char *phase;            /* old | both | new */
	char *accounts_file;    /* as written in the config */
	char *accounts_path;    /* resolved against the config file's folder */
	struct config_account *accounts;
	size_t account_count;
};

/* Kept as checked strings; relay/relay_config.c turns them into numbers.
 * bounce_relay and smtp_tls stay NULL when unset (their defaults depend on
 * other keys, see relay_config.h); the others get their defaults. */
struct config_relay {
	char *listen, *hostname, *spool, *user, *default_phase, *primary;
	char *keep_old_copy, *recipients, *max_message_size, *queue_lifetime;
	char *tls_cert, *tls_key;
	char *retry_intervals, *max_connections, *max_per_client, *timeout, *data_timeout;
	char *max_recipients, *concurrency, *bounce_relay, *smtp_tls;
};

struct config {
	char *path;
	/* [migration] */
	char *domains;
	char *state;
	/* [old] [new] */
	struct config_server old_server;
	struct config_server new_server;
	struct config_relay relay;
	/* [dns] */
	char *dns_resolvers;
	/* [sync] (optional tuning) */
	unsigned sync_jobs;             /* "jobs", default 1 */
	struct config_group *groups;
	size_t group_count;
};

/* Parse the file at path and every group's accounts CSV. */
struct config *config_load(const char *path, struct err *err);
/* Parse config text from memory; `name` is used in messages and to resolve
 * relative accounts paths (its folder); CSVs are read from disk. */
struct config *config_parse(const char *name, const char *text, size_t len, struct err *err);
void config_free(struct config **cp);

/* Parse one CSV text (for tests and for config_parse). */
bool config_parse_accounts(const char *name, const char *text, size_t len,
			   struct config_account **accounts_r, size_t *count_r, struct err *err);

/* Which file to use when -c is not given: ./mailshift.conf, then
 * /etc/mailshift/mailshift.conf; NULL when neither exists. */
const char *config_default_path(void);

/* Read a secret (password or token) from a file: the first line, without
 * its line end. Warns (log_warn) when the file is readable by group or
 * others. The caller frees the result (after wiping it, see secret_free). */
char *secret_read_file(const char *path, struct err *err);
/* Overwrite and free a secret. */
void secret_free(char **sp);

#endif
