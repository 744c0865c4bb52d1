/* copy.h — the copy pipeline: stream messages from the source folder into
 * APPENDs on the destination folder (internal to the sync engine).
 *
 * The source server streams message literals (UID FETCH BODY.PEEK[]) and
 * each literal is forwarded, chunk by chunk, into an APPEND on the
 * destination — a MULTIAPPEND of up to batch_messages messages when the
 * server offers it, with non-synchronizing literals under LITERAL+ — while up
 * to `window` APPEND commands await their answer. No message is ever held
 * whole in memory. A MULTIAPPEND the server refuses is redone one message per
 * APPEND, so one bad message fails alone, with the server's words. Messages
 * over the destination's APPENDLIMIT are reported without being sent.
 *
 * The caller has opened the source folder (EXAMINE) on src_c and made sure
 * the destination folder exists. Each message's outcome is written back
 * into its struct copy_msg; on_copied runs as soon as the destination
 * confirmed it (with the new UID when the server has UIDPLUS), so the
 * caller can record progress durably batch by batch.
 */
#ifndef MS_COPY_H
#define MS_COPY_H

#include <stdbool.h>
#include <stdint.h>

#include "sync/sync.h"

enum copy_state { COPY_PENDING = 0, COPY_DONE, COPY_FAILED };

struct copy_msg {
	uint32_t uid;           /* source UID */
	uint32_t seq;           /* source sequence number, 0 if unknown */
	uint64_t size;          /* RFC822.SIZE (the literal's size wins) */
	char date[32];          /* INTERNALDATE, verbatim */
	char *flags;            /* "(\Seen ...)" for APPEND (owned by the caller) */
	uint32_t dst_uid;       /* result: from APPENDUID, 0 if unknown */
	enum copy_state state;  /* result */
};

struct copy_job {
	struct imap_client *src_c;
	struct imap_client *dst_c;
	const char *src_name;           /* UTF-8, for reports */
	const char *dst_wire;           /* destination folder, modified UTF-7 */
	const struct sync_options *opts;
	const char *account;
	struct sync_folder_result *res; /* copied/failed/bytes are added to */
	void (*on_copied)(void *ctx, struct copy_msg *m);
	void *ctx;
};

/* msgs sorted by uid. false: the folder could not be done (err scope says
 * how far that reaches; with ERR_SCOPE_ACCOUNT and retry, reconnect). */
bool copy_messages(struct copy_job *job, struct copy_msg *msgs, size_t n, struct err *err);

#endif
