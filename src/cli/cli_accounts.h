/* cli_accounts.h — the accounts a command works on (shared by sync and
 * verify): one account from --old/--new, or the configuration's groups.
 *
 * Ownership: cli_accounts_collect() fills an array (and keeps the config
 * its strings point into) that cli_accounts_free() releases; secrets are
 * wiped then.
 */
#ifndef MS_CLI_ACCOUNTS_H
#define MS_CLI_ACCOUNTS_H

#include <getopt.h>
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

/* The options every command that reaches both servers takes. Codes are
 * above any character so commands can add their own short options. */
enum {
	CLI_O_OLD = 1000, CLI_O_NEW, CLI_O_OPF, CLI_O_NPF, CLI_O_OCA, CLI_O_NCA, CLI_O_CA,
	CLI_O_OTLS, CLI_O_NTLS, CLI_O_OAUTH, CLI_O_NAUTH, CLI_O_OADM, CLI_O_NADM, CLI_O_GROUP,
	CLI_O_ACCOUNT, CLI_O_TIMEOUT, CLI_O_NOLITPLUS,
};
#define CLI_TARGET_LONGOPTS \
	{ "config", required_argument, NULL, 'c' }, \
	{ "old", required_argument, NULL, CLI_O_OLD }, \
	{ "new", required_argument, NULL, CLI_O_NEW }, \
	{ "old-password-file", required_argument, NULL, CLI_O_OPF }, \
	{ "new-password-file", required_argument, NULL, CLI_O_NPF }, \
	{ "old-ca-file", required_argument, NULL, CLI_O_OCA }, \
	{ "new-ca-file", required_argument, NULL, CLI_O_NCA }, \
	{ "ca-file", required_argument, NULL, CLI_O_CA }, \
	{ "old-tls", required_argument, NULL, CLI_O_OTLS }, \
	{ "new-tls", required_argument, NULL, CLI_O_NTLS }, \
	{ "old-auth", required_argument, NULL, CLI_O_OAUTH }, \
	{ "new-auth", required_argument, NULL, CLI_O_NAUTH }, \
	{ "old-admin", required_argument, NULL, CLI_O_OADM }, \
	{ "new-admin", required_argument, NULL, CLI_O_NADM }, \
	{ "group", required_argument, NULL, CLI_O_GROUP }, \
	{ "account", required_argument, NULL, CLI_O_ACCOUNT }, \
	{ "timeout", required_argument, NULL, CLI_O_TIMEOUT }, \
	{ "no-literal-plus", no_argument, NULL, CLI_O_NOLITPLUS }

/* Apply option c (from getopt_long) when it is one of the above. */
bool cli_target_option(struct cli_target *t, int c, const char *arg);

/* 0, or an exit status after printing the reason. */
int cli_accounts_collect(struct cli_target *t, struct config **cfg_r, struct acct **v_r,
			 size_t *n_r);
void cli_accounts_free(struct config **cfg, struct acct *v, size_t n);
void cli_owned_free(struct owned *o);
int cli_exit_for_kind(enum err_kind k);

#endif
