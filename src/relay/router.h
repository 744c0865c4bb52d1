/* router.h — where a recipient's mail goes, by the phase of its group.
 *
 * Pure (no I/O): built from the configuration, asked once per RCPT.
 *   phase old  → the old server
 *   phase both → old and new
 *   phase new  → new, plus old when keep_old_copy
 * A recipient of no group follows default_phase. Whether a recipient is
 * accepted at all: its domain must be one of [migration] domains
 * (case-insensitive; never an open relay); with recipients = known it must
 * also be an account of some group (the CSVs' email column,
 * case-insensitive). "postmaster" (any case, no domain, RFC 5321 §4.5.1) is
 * always accepted and routed like default_phase.
 *
 * The router is immutable once built: SIGHUP builds a new one and the
 * relay swaps it between transactions, so a message is routed once, at
 * RCPT time, and that routing is written into its spool file.
 *
 * Ownership: router_new copies what it needs from the config; the config
 * may be freed after.
 */
#ifndef MS_ROUTER_H
#define MS_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

enum router_phase { ROUTER_PHASE_OLD = 0, ROUTER_PHASE_BOTH, ROUTER_PHASE_NEW };

struct router_route {
	bool accept;            /* false: 550 5.1.1 (unknown) or 550 5.7.1 (relay denied) */
	unsigned reply_code;    /* when !accept */
	const char *enhanced;   /* "5.1.1" / "5.7.1" */
	const char *text;       /* static: "User unknown in relay recipient table" ... */
	unsigned dests;         /* SPOOL_OLD | SPOOL_NEW (spool.h bits) when accept */
	unsigned primary;       /* the one of dests whose permanent failure bounces
				 * to the sender: old in phase old, new in phase
				 * new, router_primary() in phase both */
	const char *group;      /* the group's name, or NULL (default phase) */
	enum router_phase phase;
};

struct router;
/* Errors: a group phase or [relay] default_phase/primary/recipients value
 * that is not one of the allowed words (names the key, says the choices);
 * no [migration] domains. */
struct router *router_new(const struct config *cfg, struct err *err);
void router_free(struct router **rp);
/* addr: "local@domain" as smtp_cmd hands it out (quoted local parts kept
 * quoted), or "postmaster". */
void router_route(const struct router *r, const char *addr, struct router_route *out);
/* SPOOL_OLD or SPOOL_NEW: whose permanent failure bounces in phase both. */
unsigned router_primary(const struct router *r);
const char *router_phase_name(enum router_phase p);

#endif
