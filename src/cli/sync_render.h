/* sync_render.h — how `mailshift sync` shows its work: a live progress
 * line on a terminal, a text summary, or one JSON document (--json).
 * The renderer implements the engine's sync_report_ops; it owns the list of
 * failures it collects and frees them in sync_render_finish(). */
#ifndef MS_SYNC_RENDER_H
#define MS_SYNC_RENDER_H

#include <stdbool.h>
#include <stdio.h>

#include "sync/sync.h"

struct sync_render;

struct sync_render *sync_render_new(bool json, bool quiet, bool progress);
const struct sync_report_ops *sync_render_ops(void);
/* Record one finished account (the renderer copies what it needs). */
void sync_render_account(struct sync_render *r, const struct sync_account_result *res);
/* One line for --watch: "2 accounts: 5 copied, 1 flags updated, ..."
 * (valid until the next call). */
const char *sync_render_summary(struct sync_render *r);
/* Print the summary (text on stdout, or the JSON document) and free. */
void sync_render_finish(struct sync_render **rp, int exit_code);

#endif
