/* imap_util.h — small helpers shared by the sync engine and verify:
 * reading FETCH responses, writing UID sets, flags in canonical form, and
 * running a command that must succeed.
 *
 * Ownership: strings returned are the caller's to free. Pointers inside
 * struct imap_fetch point into the response and live as long as it does.
 */
#ifndef MS_IMAP_UTIL_H
#define MS_IMAP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "imap/imap_client.h"

/* The items of "* N FETCH (...)" that we use. */
struct imap_fetch {
	uint32_t seq, uid;
	bool has_size, has_flags, has_date, has_modseq;
	uint64_t size;
	uint64_t modseq;
	const struct imap_arg *flags;    /* LIST */
	const char *date;                /* INTERNALDATE */
	const struct imap_arg *header;   /* BODY[HEADER...] value */
	const struct imap_arg *text;     /* BODY[TEXT] value */
	const struct imap_arg *body;     /* BODY[] value */
};

/* false when r is not a well-formed FETCH response. */
bool imap_fetch_parse(const struct imap_response *r, struct imap_fetch *out);

/* A FETCH response of a folder listing: true when ev is one and carries
 * UID, FLAGS, RFC822.SIZE and a valid INTERNALDATE (*epoch_r: its time). */
bool imap_fetch_listing(const struct imap_event *ev, struct imap_fetch *out, long long *epoch_r);

/* Append "1:5,7,9:10" for ascending uids. */
void imap_uid_set(struct buf *b, const uint32_t *uids, size_t n);
/* Parse "1:3,7" (as in APPENDUID/COPYUID) into uids, in order; false on
 * bad syntax or more than max values. The caller frees *out. */
bool imap_uid_set_parse(const char *s, uint32_t **out, size_t *n, size_t max);

/* Flags for APPEND: "(\Seen $Forwarded)", only appendable ones. */
char *imap_flags_append_list(const struct imap_arg *list);
/* Flags in canonical form for comparing and storing: appendable flags,
 * system flags capitalised (\Seen), sorted, space-separated ("" if none). */
char *imap_flags_canon(const struct imap_arg *list);
/* "(a b)" from a canonical string. */
char *imap_flags_paren(const char *canon);
/* Flags in `a` that are not in `b` (both canonical), canonical. */
char *imap_flags_minus(const char *a, const char *b);
/* Flags in `a` or `b` (both canonical), canonical. */
char *imap_flags_union(const char *a, const char *b);
/* Flags in both `a` and `b` (both canonical), canonical. */
char *imap_flags_and(const char *a, const char *b);

/* Run a command (text after the tag) and require OK; a NO/BAD becomes an
 * error of the given scope naming `what`. */
bool imap_run_ok(struct imap_client *c, enum err_scope scope, const char *what,
		 struct err *err, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* From "[UIDVALIDITY n]"-style codes and untagged data of SELECT/EXAMINE/STATUS. */
struct imap_mailbox_status {
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	uint64_t exists;
	bool nomodseq;
};
/* An event handler for SELECT/EXAMINE that fills struct imap_mailbox_status (ctx). */
bool imap_select_handler(void *ctx, struct imap_client *c, const struct imap_event *ev,
			 struct err *err);
/* STATUS name (MESSAGES UIDNEXT UIDVALIDITY [HIGHESTMODSEQ]). */
bool imap_status(struct imap_client *c, const char *wire_name, struct imap_mailbox_status *st,
		 bool *exists_r, struct err *err);

#endif
