/* copy.h — copy one folder from old to new (internal to the sync engine).
 *
 * The pipeline: the old server streams message literals (UID FETCH
 * BODY.PEEK[]) and each literal is forwarded, chunk by chunk, into an APPEND
 * on the new server — a MULTIAPPEND of up to batch_messages messages when the
 * server offers it, with non-synchronizing literals under LITERAL+ — while
 * up to `window` APPEND commands await their answer. No message is ever held
 * whole in memory. A MULTIAPPEND the server refuses is redone one message per
 * APPEND, so one bad message fails alone, with the server's words.
 *
 * Messages already on new (same Message-ID, size and arrival time, counted
 * as a multiset) are skipped, which makes a redo after a dropped connection
 * safe and a rerun cheap. (The full identity rules of design.md come with the
 * differential sync.)
 */
#ifndef MS_COPY_H
#define MS_COPY_H

#include <stdbool.h>

#include "sync/mailbox.h"
#include "sync/sync.h"

struct copy_job {
	struct imap_client *old_c;
	struct imap_client *new_c;
	const struct mailbox *src;      /* old folder */
	const char *dst_wire;           /* new folder, modified UTF-7 */
	bool dst_exists;
	const struct sync_options *opts;
	const char *account;
	struct sync_folder_result *res; /* counters are added to */
};

/* false: the folder could not be done; err says how far that reaches
 * (ERR_SCOPE_FOLDER: go on with the next folder; ERR_SCOPE_ACCOUNT with
 * retry: reconnect and redo this folder). */
bool copy_folder(struct copy_job *job, struct err *err);

#endif
