/* identity.h — is this message on new the same as that one on old?
 *
 * Two copies of one message are rarely byte-identical: when the relay (or a
 * Postfix bcc) delivers a message to both servers, each server prepends its
 * own Received:/Return-Path:/Delivered-To: lines. design.md defines identity:
 *   1. the X-Mailshift-Trace header (same in both copies of relayed mail);
 *   2. else the Message-ID, confirmed by a hash of the body (everything
 *      after the header block) — a Message-ID reused for different content
 *      must not merge two messages;
 *   3. else (no Message-ID) the body hash together with Date, From, Subject.
 * One shortcut, ours: a candidate with the same Message-ID (or, without
 * one, the same Date/From/Subject), the same RFC822.SIZE and the same
 * INTERNALDATE is a copy mailshift itself made (copies are byte-identical
 * and keep the arrival date), so it needs no body hash.
 *
 * Identity is counted, not only matched: each copy on one side matches at
 * most one copy on the other, so a message held twice stays twice.
 *
 * No I/O: headers come in as the literal of
 * BODY.PEEK[HEADER.FIELDS (MESSAGE-ID X-MAILSHIFT-TRACE DATE FROM SUBJECT)]
 * (IDENTITY_FETCH_ITEM) and body hashes are computed by the caller with
 * body_hash_* over BODY.PEEK[TEXT], fed as it streams.
 *
 * Ownership: struct ident owns its strings (ident_free); the matcher
 * returns an array the caller frees.
 */
#ifndef MS_IDENTITY_H
#define MS_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define IDENTITY_FETCH_ITEM \
	"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID X-MAILSHIFT-TRACE DATE FROM SUBJECT)]"
#define IDENTITY_TRACE_HEADER "X-Mailshift-Trace"

struct ident {
	uint32_t uid;
	uint64_t size;             /* RFC822.SIZE */
	long long date;            /* INTERNALDATE, seconds since the epoch */
	char *trace;               /* X-Mailshift-Trace value, trimmed; NULL if absent */
	char *msgid;               /* Message-ID: the <...> token; NULL if absent/empty */
	char hdrkey[65];           /* hex SHA-256 of unfolded Date NUL From NUL Subject */
	unsigned char body[32];    /* SHA-256 of the body, valid when has_body */
	bool has_body;
};

/* Fill id's trace, msgid and hdrkey from a header-fields block (any order,
 * any case, folded lines, CRLF or LF, a missing final blank line, repeated
 * fields: the first wins). Never fails: garbage gives an ident with no
 * trace and no msgid. uid/size/date are left to the caller. */
void ident_parse_headers(struct ident *id, const char *hdr, size_t len);
void ident_free(struct ident *id);

/* SHA-256 over a stream (the message body). */
struct body_hash {
	void *ctx;                 /* EVP_MD_CTX */
};
void body_hash_init(struct body_hash *h);
void body_hash_feed(struct body_hash *h, const void *p, size_t n);
void body_hash_final(struct body_hash *h, unsigned char out[32]);

struct ident_pair {
	size_t src;                /* index into the src array */
	size_t dst;                /* index into the dst array */
};

/* The matcher asks for body hashes once per side, for every message that
 * is a candidate under rules 2–3 and lacks one: it calls need_bodies(ctx,
 * side (0 = src, 1 = dst), idx[], n) and expects has_body/body filled for
 * those (a message whose hash cannot be had keeps has_body false and then
 * matches nothing by rules 2–3). Returning false aborts with err set. */
typedef bool ident_need_bodies_cb(void *ctx, int side, struct ident *v, const size_t *idx,
				  size_t n, struct err *err);

/* Pair src messages with dst messages by the rules above, each dst used at
 * most once. Pairs come ordered by src index. Returns false only when
 * need_bodies fails. */
bool ident_match(struct ident *src, size_t nsrc, struct ident *dst, size_t ndst,
		 ident_need_bodies_cb *need_bodies, void *ctx, struct ident_pair **pairs_r,
		 size_t *npairs_r, struct err *err);

#endif
