/* folder_sync.h — bring one destination folder up to date with one source
 * folder (internal to the sync engine; see sync.h).
 *
 * Per folder: open the source read-only (EXAMINE, CONDSTORE when offered);
 * if the state store says nothing changed since the last run (same
 * UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ) stop there. Otherwise list the
 * source (UID FLAGS INTERNALDATE RFC822.SIZE) and compare with the stored
 * source-UID → destination-UID map:
 *  - messages not in the map are first looked for on the destination by
 *    identity (identity.h: trace header, Message-ID + body hash, …) among
 *    destination messages not in the map — mail the relay delivered there,
 *    or copies a crashed run made before recording them — and copied only
 *    when absent (copy.h), each copy recorded as soon as the destination
 *    confirms it;
 *  - flags changed on the source since the last run are applied to the
 *    destination as a delta (+FLAGS/-FLAGS), so flags set on the
 *    destination meanwhile survive; a message recognised by identity gets
 *    the source's flags added;
 *  - messages gone from the source are expunged on the destination with
 *    --delete (only those, by UID), and forgotten otherwise;
 *  - a changed UIDVALIDITY on either side drops the map for that folder and
 *    rebuilds it by identity, so nothing is copied twice.
 * The source is never modified.
 */
#ifndef MS_FOLDER_SYNC_H
#define MS_FOLDER_SYNC_H

#include <stdbool.h>

#include "store/store.h"
#include "sync/mailbox.h"
#include "sync/sync.h"

struct folder_job {
	struct imap_client *src_c;
	struct imap_client *dst_c;
	const struct mailbox *src;     /* source folder */
	const char *dst_name;          /* UTF-8 */
	const char *dst_wire;          /* modified UTF-7 */
	bool dst_exists;
	const struct sync_options *opts;
	const char *account;
	const char *direction;         /* "forward" / "reverse" */
	struct store *store;           /* NULL: no state (identity only) */
	struct sync_folder_result *res;
};

bool folder_sync(struct folder_job *job, struct err *err);

#endif
