/* folder_map.c — which folder on new receives an old folder.
 *
 * Contract: see folder_map.h (rules 1-6). Decisions the header leaves open,
 * made here so that no two old folders silently merge by accident and no
 * name the new server would refuse is produced:
 *   - An old folder that has its own SPECIAL-USE attribute is special as a
 *     whole, at any depth ("[Gmail]/Sent Mail" with \Sent becomes new's \Sent
 *     folder). Without one, only a top-level name or the first component of
 *     a deeper name is looked up in the localized list.
 *   - When several new folders are registered with one use, the first one
 *     registered wins. For the fallback by localized name only new folders
 *     registered with SPECIAL_NONE qualify (one the server marks for another
 *     use is never borrowed), and one spelled like the old folder is
 *     preferred, so "Sent Items" stays "Sent Items" when new has it too.
 *   - An empty component (old "INBOX.a..b", or an empty name) becomes "_"
 *     and sets *renamed_r, as "a//b" would be refused or collapsed to "a/b".
 *   - A flat new server (sep '\0') has no level to create: components are
 *     joined with the old separator, which is an ordinary character there.
 *   - A prefix without a trailing separator ("INBOX" with sep '.') matches
 *     only up to a separator, and is joined to the rest with one.
 *
 * ASCII letters in localized names compare case-insensitively; other bytes
 * exactly, so callers should hand over names in NFC (as servers send them).
 * No I/O, no globals other than constant tables.
 */
#include "folder_map.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "../core/buf.h"

struct target {
	char *name;
	enum special_use use;
};

struct folder_map {
	char old_sep, new_sep;
	char *old_prefix, *new_prefix;
	struct target *targets;
	size_t ntargets, cap;
};

struct named_use {
	const char *name;
	enum special_use use;
};

/* Well-known names that servers and clients create without (or before)
 * SPECIAL-USE. "Outbox" and 送信トレイ are deliberately absent: they hold
 * mail not yet sent. */
static const struct named_use localized[] = {
	{ "Sent", SPECIAL_SENT },
	{ "Sent Messages", SPECIAL_SENT },
	{ "Sent Items", SPECIAL_SENT },
	{ "Sent Mail", SPECIAL_SENT },
	{ "Sent-Mail", SPECIAL_SENT },
	{ "送信済み", SPECIAL_SENT },
	{ "送信済みメール", SPECIAL_SENT },
	{ "送信済みアイテム", SPECIAL_SENT },
	{ "送信済メール", SPECIAL_SENT },
	{ "Gesendet", SPECIAL_SENT },
	{ "Gesendete Objekte", SPECIAL_SENT },
	{ "Gesendete Elemente", SPECIAL_SENT },
	{ "Envoyés", SPECIAL_SENT },
	{ "Éléments envoyés", SPECIAL_SENT },
	{ "Messages envoyés", SPECIAL_SENT },
	{ "Enviados", SPECIAL_SENT },
	{ "Elementos enviados", SPECIAL_SENT },
	{ "Correo enviado", SPECIAL_SENT },
	{ "Mensajes enviados", SPECIAL_SENT },

	{ "Drafts", SPECIAL_DRAFTS },
	{ "Draft", SPECIAL_DRAFTS },
	{ "下書き", SPECIAL_DRAFTS },
	{ "草稿", SPECIAL_DRAFTS },
	{ "Entwürfe", SPECIAL_DRAFTS },
	{ "Brouillons", SPECIAL_DRAFTS },
	{ "Borradores", SPECIAL_DRAFTS },

	{ "Trash", SPECIAL_TRASH },
	{ "Deleted Messages", SPECIAL_TRASH },
	{ "Deleted Items", SPECIAL_TRASH },
	{ "Bin", SPECIAL_TRASH },
	{ "ゴミ箱", SPECIAL_TRASH },
	{ "ごみ箱", SPECIAL_TRASH },
	{ "削除済み", SPECIAL_TRASH },
	{ "削除済みアイテム", SPECIAL_TRASH },
	{ "削除済みメール", SPECIAL_TRASH },
	{ "Papierkorb", SPECIAL_TRASH },
	{ "Gelöschte Objekte", SPECIAL_TRASH },
	{ "Gelöschte Elemente", SPECIAL_TRASH },
	{ "Corbeille", SPECIAL_TRASH },
	{ "Éléments supprimés", SPECIAL_TRASH },
	{ "Papelera", SPECIAL_TRASH },
	{ "Elementos eliminados", SPECIAL_TRASH },

	{ "Junk", SPECIAL_JUNK },
	{ "Spam", SPECIAL_JUNK },
	{ "Junk E-mail", SPECIAL_JUNK },
	{ "Junk Email", SPECIAL_JUNK },
	{ "Junk Mail", SPECIAL_JUNK },
	{ "Bulk Mail", SPECIAL_JUNK },
	{ "迷惑メール", SPECIAL_JUNK },
	{ "Spamverdacht", SPECIAL_JUNK },
	{ "Junk-E-Mail", SPECIAL_JUNK },
	{ "Courrier indésirable", SPECIAL_JUNK },
	{ "Indésirables", SPECIAL_JUNK },
	{ "Pourriel", SPECIAL_JUNK },
	{ "Correo no deseado", SPECIAL_JUNK },

	{ "Archive", SPECIAL_ARCHIVE },
	{ "Archives", SPECIAL_ARCHIVE },
	{ "アーカイブ", SPECIAL_ARCHIVE },
	{ "Archiv", SPECIAL_ARCHIVE },
	{ "Archivo", SPECIAL_ARCHIVE },
	{ "Archivos", SPECIAL_ARCHIVE },
};

/* RFC 6154 names first (special_use_attr returns these), then the older
 * XLIST spellings some servers still send. */
static const struct named_use attrs[] = {
	{ "\\Sent", SPECIAL_SENT },
	{ "\\Drafts", SPECIAL_DRAFTS },
	{ "\\Trash", SPECIAL_TRASH },
	{ "\\Junk", SPECIAL_JUNK },
	{ "\\Archive", SPECIAL_ARCHIVE },
	{ "\\All", SPECIAL_ALL },
	{ "\\Flagged", SPECIAL_FLAGGED },
	{ "\\Spam", SPECIAL_JUNK },
	{ "\\AllMail", SPECIAL_ALL },
	{ "\\Starred", SPECIAL_FLAGGED },
};

static unsigned char ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Compare n bytes; ASCII letters without case, everything else exactly.
 * Independent of the C locale, which must not change folder mapping. */
static bool ascii_ncase_eq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return false;
	}
	return true;
}

static bool name_eq(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && ascii_ncase_eq(a, b, alen);
}

static enum special_use use_from_name_n(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof localized / sizeof localized[0]; i++) {
		if (name_eq(s, n, localized[i].name))
			return localized[i].use;
	}
	return SPECIAL_NONE;
}

enum special_use special_use_from_name(const char *leaf)
{
	if (leaf == NULL)
		return SPECIAL_NONE;
	return use_from_name_n(leaf, strlen(leaf));
}

enum special_use special_use_from_attr(const char *attr)
{
	if (attr == NULL)
		return SPECIAL_NONE;
	for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
		if (name_eq(attr, strlen(attr), attrs[i].name))
			return attrs[i].use;
	}
	return SPECIAL_NONE;
}

const char *special_use_attr(enum special_use use)
{
	if (use == SPECIAL_NONE)
		return NULL;
	for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
		if (attrs[i].use == use)
			return attrs[i].name;
	}
	return NULL;
}

/* The part of name after prefix, or NULL when name is outside it. Only the
 * "INBOX" of a prefix is case-insensitive (IMAP says so of INBOX alone). */
static const char *strip_prefix(const char *name, const char *prefix, char sep)
{
	size_t plen = strlen(prefix);
	size_t ci = 0;

	if (plen == 0)
		return name;
	if (plen >= 5 && ascii_ncase_eq(prefix, "INBOX", 5))
		ci = 5;
	if (strlen(name) < plen || !ascii_ncase_eq(name, prefix, ci) ||
	    memcmp(name + ci, prefix + ci, plen - ci) != 0)
		return NULL;
	name += plen;
	if (sep == '\0' || prefix[plen - 1] == sep || *name == '\0')
		return name;
	if (*name == sep)
		return name + 1;
	return NULL;    /* "INBOXfoo" is not under prefix "INBOX" */
}

struct folder_map *folder_map_new(const struct folder_side *old_side,
				  const struct folder_side *new_side)
{
	struct folder_map *m = xcalloc(1, sizeof *m);

	m->old_sep = old_side->sep;
	m->new_sep = new_side->sep;
	m->old_prefix = xstrdup(old_side->prefix ? old_side->prefix : "");
	m->new_prefix = xstrdup(new_side->prefix ? new_side->prefix : "");
	return m;
}

void folder_map_free(struct folder_map **mp)
{
	struct folder_map *m = *mp;

	if (m == NULL)
		return;
	for (size_t i = 0; i < m->ntargets; i++)
		free(m->targets[i].name);
	free(m->targets);
	free(m->old_prefix);
	free(m->new_prefix);
	free(m);
	*mp = NULL;
}

void folder_map_add_target(struct folder_map *m, const char *new_name, enum special_use use)
{
	if (m->ntargets == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->targets = xreallocarray(m->targets, m->cap, sizeof *m->targets);
	}
	m->targets[m->ntargets].name = xstrdup(new_name);
	m->targets[m->ntargets].use = use;
	m->ntargets++;
}

/* Rule 4's fallbacks: the new folder marked with `use`, else a top-level
 * unmarked new folder with a localized name for it (preferring one spelled
 * `leaf`), else NULL. */
static const char *find_target(const struct folder_map *m, enum special_use use,
			       const char *leaf, size_t leaf_len)
{
	const char *by_name = NULL;

	for (size_t i = 0; i < m->ntargets; i++) {
		if (m->targets[i].use == use)
			return m->targets[i].name;
	}
	for (size_t i = 0; i < m->ntargets; i++) {
		if (m->targets[i].use != SPECIAL_NONE)
			continue;
		const char *rest = strip_prefix(m->targets[i].name, m->new_prefix, m->new_sep);
		if (rest == NULL || *rest == '\0')
			continue;
		if (m->new_sep != '\0' && strchr(rest, m->new_sep) != NULL)
			continue;
		if (special_use_from_name(rest) != use)
			continue;
		if (name_eq(leaf, leaf_len, rest))
			return m->targets[i].name;
		if (by_name == NULL)
			by_name = m->targets[i].name;
	}
	return by_name;
}

/* Rule 5 for one component [p, p+n): the new separator becomes '_', and an
 * empty component becomes "_". */
static void append_component(const struct folder_map *m, struct buf *out,
			     const char *p, size_t n, bool *renamed)
{
	if (n == 0) {
		buf_append_char(out, '_');
		*renamed = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (m->new_sep != '\0' && c == m->new_sep) {
			c = '_';
			*renamed = true;
		}
		buf_append_char(out, c);
	}
}

/* Rules 3 and 5: append the components of rest from index `from` on, joined
 * by the new separator; sep_first puts one before the first as well. */
static void append_components(const struct folder_map *m, struct buf *out,
			      const char *rest, size_t from, bool sep_first,
			      bool *renamed)
{
	char join = m->new_sep != '\0' ? m->new_sep : m->old_sep;
	const char *p = rest;
	size_t idx = 0;
	bool sep = sep_first;

	for (;;) {
		const char *end = m->old_sep != '\0' ? strchr(p, m->old_sep) : NULL;
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (idx >= from) {
			if (sep && join != '\0')
				buf_append_char(out, join);
			append_component(m, out, p, n, renamed);
			sep = true;
		}
		if (end == NULL)
			break;
		p = end + 1;
		idx++;
	}
}

char *folder_map_name(const struct folder_map *m, const char *old_name,
		      enum special_use old_use, bool *renamed_r)
{
	bool renamed = false;
	struct buf out;

	if (old_name == NULL)
		old_name = "";
	if (renamed_r != NULL)
		*renamed_r = false;

	/* Rule 1. */
	if (name_eq(old_name, strlen(old_name), "INBOX"))
		return xstrdup("INBOX");

	/* Rule 2. */
	const char *rest = strip_prefix(old_name, m->old_prefix, m->old_sep);
	if (rest == NULL)
		rest = old_name;

	/* Rule 3: where the first and last components are. */
	const char *first_end = m->old_sep != '\0' ? strchr(rest, m->old_sep) : NULL;
	size_t first_len = first_end != NULL ? (size_t)(first_end - rest) : strlen(rest);
	const char *last = m->old_sep != '\0' ? strrchr(rest, m->old_sep) : NULL;
	last = last != NULL ? last + 1 : rest;

	/* Rule 4. */
	enum special_use use = old_use;
	bool whole = true;
	if (use == SPECIAL_NONE) {
		use = use_from_name_n(rest, first_len);
		whole = first_end == NULL;
	}
	if (use != SPECIAL_NONE) {
		const char *leaf = whole ? last : rest;
		size_t leaf_len = whole ? strlen(last) : first_len;
		const char *target = find_target(m, use, leaf, leaf_len);
		if (target != NULL) {
			if (whole)
				return xstrdup(target);
			buf_init(&out, 0);
			buf_append_str(&out, target);
			append_components(m, &out, rest, 1, true, &renamed);
			if (renamed_r != NULL)
				*renamed_r = renamed;
			return buf_steal(&out);
		}
	}

	/* Rules 5 and 6. A prefix without its trailing separator ("INBOX"
	 * on a '.' server) still needs one before the first component. */
	size_t plen = strlen(m->new_prefix);
	bool sep_first = plen > 0 && m->new_sep != '\0' &&
			 m->new_prefix[plen - 1] != m->new_sep;
	buf_init(&out, 0);
	buf_append_str(&out, m->new_prefix);
	append_components(m, &out, rest, 0, sep_first, &renamed);
	if (renamed_r != NULL)
		*renamed_r = renamed;
	return buf_steal(&out);
}
