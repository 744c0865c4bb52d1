/* err.c — see err.h. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void err_clear(struct err *e)
{
	e->scope = ERR_SCOPE_NONE;
	e->kind = ERR_KIND_NONE;
	e->retry = false;
	e->msg[0] = '\0';
}

void err_set(struct err *e, enum err_scope scope, enum err_kind kind, bool retry,
	     const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return;
	e->scope = scope;
	e->kind = kind;
	e->retry = retry;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
}

void err_prefix(struct err *e, const char *fmt, ...)
{
	char pre[256], old[sizeof e->msg];
	va_list ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	/* Too long a message is cut at the end, never lost at the start. */
	size_t n = strlen(pre);
	if (n >= sizeof e->msg)
		n = sizeof e->msg - 1;
	memcpy(e->msg, pre, n);
	size_t rest = strnlen(old, sizeof old);
	if (rest > sizeof e->msg - 1 - n)
		rest = sizeof e->msg - 1 - n;
	memcpy(e->msg + n, old, rest);
	e->msg[n + rest] = '\0';
}

bool err_is_set(const struct err *e)
{
	return e->kind != ERR_KIND_NONE;
}
