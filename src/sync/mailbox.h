/* mailbox.h — what folders a server has: NAMESPACE and LIST, decoded.
 *
 * Ownership: mailbox_list_fetch() fills a list the caller releases with
 * mailbox_list_free(). Names are kept both as sent on the wire (modified
 * UTF-7, for commands) and as UTF-8 (for mapping and reports).
 */
#ifndef MS_MAILBOX_H
#define MS_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "imap/imap_client.h"
#include "sync/folder_map.h"

struct mailbox {
	char *wire;          /* as the server names it (modified UTF-7) */
	char *utf8;
	bool noselect;       /* \Noselect or \NonExistent: holds no messages */
	enum special_use use;
};

struct mailbox_list {
	char sep;            /* hierarchy separator ('\0' if flat) */
	char *prefix;        /* personal namespace prefix, UTF-8 ("" if none) */
	struct mailbox *boxes;
	size_t count;
};

bool mailbox_list_fetch(struct imap_client *c, struct mailbox_list *out, struct err *err);
void mailbox_list_free(struct mailbox_list *l);
const struct mailbox *mailbox_list_find(const struct mailbox_list *l, const char *utf8);
/* UTF-8 → wire name (modified UTF-7); caller frees; NULL if not valid UTF-8. */
char *mailbox_wire_name(const char *utf8);

#endif
