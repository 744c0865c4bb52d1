/* sync.h — the sync engine's public interface: copy one account's mail
 * from an old IMAP server to a new one.
 *
 * The engine never prints: it reports through `struct sync_report_ops`
 * (which the CLI renders as a progress line, text or JSON) and fills a
 * `struct sync_account_result` that the caller owns and releases with
 * sync_account_result_free().
 *
 * Failure reach (see core/err.h): a message the new server refuses is
 * reported and the run goes on; a folder that cannot be opened or created is
 * reported and the other folders go on; a dropped connection is retried
 * (reconnect, redo the folder: messages already copied are recognised and
 * skipped) up to `retries` times; bad credentials stop the account.
 */
#ifndef MS_SYNC_H
#define MS_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "imap/imap_client.h"

struct sync_folder_result {
	char *old_name;        /* UTF-8 */
	char *new_name;        /* UTF-8 */
	bool renamed;          /* a separator character had to be replaced */
	uint64_t total;        /* messages in the old folder */
	uint64_t copied;
	uint64_t skipped;      /* already on new (known from the state, or by identity) */
	uint64_t matched;      /* of skipped: recognised on new by identity this run */
	uint64_t failed;
	uint64_t flags_updated;
	uint64_t expunged;     /* removed on the destination (--delete) */
	uint64_t gone;         /* expunged on the source since the last run */
	bool unchanged;        /* nothing changed on the source (CONDSTORE): not scanned */
	uint64_t bytes;        /* bytes copied */
	double seconds;
	char *error;           /* folder-level failure, or NULL */
};

struct sync_account_result {
	char *account;
	struct sync_folder_result *folders;
	size_t folder_count;
	uint64_t copied, skipped, failed, bytes, total;
	uint64_t matched, flags_updated, expunged;
	double seconds;
	struct err err;        /* account-level failure (kind NONE when none) */
	unsigned reconnects;
	char last_warning[768];  /* the last connection trouble, for back-off hints */
};

struct sync_report_ops {
	void (*folder_begin)(void *ctx, const char *account, const char *old_name,
			     const char *new_name, uint64_t to_copy, uint64_t bytes);
	void (*progress)(void *ctx, const char *account, uint64_t msgs, uint64_t bytes);
	void (*message_failed)(void *ctx, const char *account, const char *folder, uint32_t uid,
			       uint64_t size, const char *why);
	void (*folder_end)(void *ctx, const char *account, const struct sync_folder_result *f);
	void (*warning)(void *ctx, const char *account, const char *msg);
	/* --dry-run: what would be done (one line each) */
	void (*would)(void *ctx, const char *account, const char *what);
};

/* Set from a signal handler: finish the APPENDs in flight, record them,
 * and stop (the run reports ERR_KIND_INTERNAL "interrupted"). */
extern volatile int sync_stop_requested;

struct sync_options {
	bool use_multiappend;      /* default true: when the new server offers it */
	unsigned batch_messages;   /* per MULTIAPPEND; default 100 */
	uint64_t batch_bytes;      /* per MULTIAPPEND; default 16 MiB */
	unsigned window;           /* APPEND commands in flight; default 8 */
	unsigned retries;          /* reconnects per account; default 3 */
	unsigned retry_delay_ms;   /* first back-off; default 1000, doubling */
	const char *state;         /* state store spec ("sqlite:PATH"), NULL: none */
	bool reverse;              /* new → old (rollback) */
	bool delete_;              /* propagate expunges and deleted folders */
	bool dry_run;              /* change nothing anywhere (state included) */
	uint64_t max_bytes_per_second;     /* per account, 0: unlimited */
	uint64_t max_messages_per_second;
	const struct sync_report_ops *ops;
	void *ctx;
};

struct sync_account {
	const char *label;         /* account name for reports (email) */
	struct imap_endpoint old_ep;
	struct imap_endpoint new_ep;
};

void sync_options_default(struct sync_options *o);
/* Report a warning / a --dry-run line through o->ops (report.c). */
void sync_warn(const struct sync_options *o, const char *account, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void sync_would(const struct sync_options *o, const char *account, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Returns true when every message was copied or already there. */
bool sync_account_run(const struct sync_account *acct, const struct sync_options *opts,
		      struct sync_account_result *res);
void sync_account_result_free(struct sync_account_result *res);

#endif
