/* verify.h — prove new ⊇ old: compare the two servers folder by folder
 * by message identity (identity.h), fetching headers and sizes, and bodies
 * only to confirm a candidate.
 *
 * Per old folder (mapped like sync maps it): the messages of old missing
 * on new, extra copies on new of a message of old (duplicates), pairs whose
 * flags differ, and the number of messages only on new (expected during a
 * parallel run: mail delivered there first). With fix, missing messages
 * are copied (copy.h); with dedupe, extra copies are expunged from new
 * (only when dedupe_yes; else they are listed as what would be removed).
 *
 * Ownership: the result is the caller's; verify_result_free() releases it.
 */
#ifndef MS_VERIFY_H
#define MS_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/sync.h"

struct verify_msg {
	uint32_t uid;          /* on the side it belongs to */
	uint32_t other_uid;    /* flag mismatch: the new UID; duplicate: old UID it copies */
	char *message_id;      /* or NULL */
	char *date;            /* Date: header, raw ("" if none) */
	char *subject;         /* Subject: header, raw ("" if none) */
	char *flags;           /* old flags (canonical) */
	char *other_flags;     /* new flags (flag mismatches) */
	uint64_t size;
};

struct verify_folder {
	char *old_name, *new_name;
	bool new_exists;
	uint64_t old_count, new_count;
	struct verify_msg *missing;     size_t nmissing;
	struct verify_msg *duplicates;  size_t nduplicates;   /* uid: on new */
	struct verify_msg *flag_diff;   size_t nflag_diff;    /* uid: on old */
	uint64_t only_on_new;
	uint64_t fixed;                 /* copied by --fix */
	uint64_t removed;               /* expunged by --dedupe --yes */
	char *error;
};

struct verify_result {
	char *account;
	struct verify_folder *folders;
	size_t folder_count;
	uint64_t missing, duplicates, flag_diff, only_on_new, fixed, removed;
	struct err err;
};

struct verify_options {
	bool fix;
	bool dedupe;
	bool dedupe_yes;
	const struct sync_options *sync;   /* pipeline settings for --fix */
};

bool verify_account(const struct sync_account *a, const struct verify_options *o,
		    struct verify_result *res);
void verify_result_free(struct verify_result *res);

#endif
