/* report.c — formatted warnings and --dry-run lines through the caller's
 * struct sync_report_ops (see sync.h). */
#include <stdarg.h>
#include <stdio.h>

#include "sync/sync.h"

static void say(const struct sync_options *o, const char *account, bool would,
		const char *fmt, va_list ap)
{
	char msg[900];

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (o->ops == NULL)
		return;
	if (would && o->ops->would)
		o->ops->would(o->ctx, account, msg);
	else if (!would && o->ops->warning)
		o->ops->warning(o->ctx, account, msg);
}

void sync_warn(const struct sync_options *o, const char *account, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(o, account, false, fmt, ap);
	va_end(ap);
}

void sync_would(const struct sync_options *o, const char *account, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(o, account, true, fmt, ap);
	va_end(ap);
}
