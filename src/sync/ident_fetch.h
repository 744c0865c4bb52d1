/* ident_fetch.h — get what identity.h needs from a server: the identity
 * header fields, and body hashes streamed from BODY.PEEK[TEXT] (a body is
 * never held in memory). Used by the sync engine and by verify.
 *
 * The ident arrays are the caller's, sorted by uid; results are written
 * into them.
 */
#ifndef MS_IDENT_FETCH_H
#define MS_IDENT_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_client.h"
#include "sync/identity.h"

struct ident *ident_find(struct ident *v, size_t n, uint32_t uid);
/* Fill trace/msgid/hdrkey of every ident (in the selected folder). */
bool ident_fetch_headers(struct imap_client *c, struct ident *v, size_t n, struct err *err);
/* Fill body/has_body of v[idx[0..nidx)]. */
bool ident_fetch_bodies(struct imap_client *c, struct ident *v, size_t n, const size_t *idx,
			size_t nidx, struct err *err);

/* An ident_need_bodies_cb (identity.h) for ident_match(): ctx is a
 * struct ident_sides naming each side's connection and array size. */
struct ident_sides {
	struct imap_client *c[2];
	size_t n[2];
};
bool ident_fetch_need_bodies(void *ctx, int side, struct ident *v, const size_t *idx, size_t n,
			     struct err *err);

#endif
