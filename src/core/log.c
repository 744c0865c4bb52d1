/* log.c — see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "log_syslog.h"

static enum log_level current = LOG_WARN;
static bool to_syslog;

void log_set_level(enum log_level level)
{
	current = level;
}

enum log_level log_get_level(void)
{
	return current;
}

void log_use_syslog(const char *ident)
{
	log_syslog_open(ident);
	to_syslog = true;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug", "trace" };
	va_list ap;
	char *msg;

	if (level > current)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg == NULL)
		return;
	if (to_syslog) {
		log_syslog_write((int)level, msg);
	} else {
		/* one write per line, so lines of several threads never mix */
		char *line;
		if (asprintf(&line, "mailshift: %s: %s\n", names[level], msg) >= 0) {
			fputs(line, stderr);
			free(line);
		}
	}
	free(msg);
}
