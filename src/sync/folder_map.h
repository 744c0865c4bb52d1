/* folder_map.h — which folder on new receives an old folder.
 *
 * Real migrations cross servers that disagree on everything about names:
 * old "INBOX.取引先.2024" (Courier-style: separator '.', personal namespace
 * prefix "INBOX.") must become new "取引先/2024" (separator '/', no prefix),
 * and old "INBOX.Sent", "Sent Messages" or "送信済み" must land in whatever
 * folder the new server marks \Sent. This module decides names only; it does
 * no I/O and works on UTF-8 (the caller converts from/to modified UTF-7).
 *
 * Rules, in order, for one old name:
 *  1. "INBOX" (any case) maps to "INBOX".
 *  2. The old personal prefix is removed when the name starts with it (the
 *     "INBOX" part of a prefix compares case-insensitively). Names outside
 *     the prefix (other namespaces) keep their full name.
 *  3. The rest is split at the old separator into components.
 *  4. Special use: the folder's own SPECIAL-USE attribute (old_use), or when
 *     it has none and it is a top-level folder, its name looked up in the
 *     localized list (special_use_from_name). For a deeper folder, the first
 *     component is looked up the same way, so "Sent.2023" follows "Sent".
 *     A special folder maps to the new folder registered with the same use
 *     (folder_map_add_target); failing that to a top-level new folder whose
 *     name is in that use's localized list; failing that it keeps its name.
 *  5. Components are joined with the new separator. A component that holds
 *     the new separator character gets it replaced by '_' (and *renamed_r
 *     is set) because it would otherwise create a level that old never had.
 *  6. The new personal prefix is prepended.
 *
 * Ownership: the map copies every string it is given; folder_map_name()
 * returns a string the caller frees.
 */
#ifndef MS_FOLDER_MAP_H
#define MS_FOLDER_MAP_H

#include <stdbool.h>

enum special_use {
	SPECIAL_NONE = 0,
	SPECIAL_SENT,
	SPECIAL_DRAFTS,
	SPECIAL_TRASH,
	SPECIAL_JUNK,
	SPECIAL_ARCHIVE,
	SPECIAL_ALL,
	SPECIAL_FLAGGED,
};

struct folder_side {
	char sep;            /* hierarchy separator; '\0' for a flat server */
	const char *prefix;  /* personal namespace prefix in UTF-8 ("INBOX.", or "") */
};

struct folder_map;

struct folder_map *folder_map_new(const struct folder_side *old_side,
				  const struct folder_side *new_side);
void folder_map_free(struct folder_map **mp);

/* Record a folder that exists on new (full UTF-8 name, prefix included) and
 * its special use from LIST (SPECIAL_NONE when it has none). */
void folder_map_add_target(struct folder_map *m, const char *new_name, enum special_use use);

/* The new name (UTF-8, caller frees) for an old folder (full UTF-8 name). */
char *folder_map_name(const struct folder_map *m, const char *old_name,
		      enum special_use old_use, bool *renamed_r);

/* "\\Sent" → SPECIAL_SENT (case-insensitive); unknown → SPECIAL_NONE. */
enum special_use special_use_from_attr(const char *attr);
/* "\\Sent" etc.; NULL for SPECIAL_NONE. */
const char *special_use_attr(enum special_use use);
/* Localized well-known names (English, Japanese, German, French, Spanish,
 * and the names of common clients: "Sent Messages", "Sent Items",
 * "送信済みアイテム", "Gelöschte Elemente", ...), case-insensitive for ASCII. */
enum special_use special_use_from_name(const char *leaf);

#endif
