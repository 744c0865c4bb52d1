/* cli_accounts.h — the accounts a command works on (shared by sync and
 * verify): one account from --old/--new, or the configuration's groups.
 *
 * Ownership: cli_accounts_collect() fills an array (and keeps the config
 * its strings point into) that cli_accounts_free() releases; secrets are
 * wiped then.
 */
#ifndef MS_CLI_ACCOUNTS_H
#define MS_CLI_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/url.h"
#include "sync/sync.h"

struct side_opts {
	const char *url;
	const char *password_file;
	const char *ca_file;
	const char *tls;
	const char *auth;
	const char *admin;
};

/* Connection options common to the commands that talk to both servers. */
struct cli_target {
	const char *config;
	struct side_opts old_side, new_side;
	const char *group, *account;
	int timeout;
	bool no_literal_plus;
};

/* The pieces an endpoint points into; freed after the run. */
struct owned {
	struct url url;
	char *secret;
};

/* One account to sync and the secrets/URLs its endpoints point into. */
struct acct {
	struct sync_account a;
	struct owned oo, on;
};

/* 0, or an exit status after printing the reason. */
int cli_accounts_collect(struct cli_target *t, struct config **cfg_r, struct acct **v_r,
			 size_t *n_r);
void cli_accounts_free(struct config **cfg, struct acct *v, size_t n);
void cli_owned_free(struct owned *o);
int cli_exit_for_kind(enum err_kind k);

#endif
