/* log_syslog.c — see log_syslog.h. Facility mail, like every MTA, so the
 * relay's lines land in the administrator's maillog next to Postfix's. */
#include "log_syslog.h"

#include <syslog.h>

void log_syslog_open(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_syslog_write(int level, const char *msg)
{
	/* log.h: 0 error, 1 warning, 2 info, 3 debug, 4 trace */
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_DEBUG };
	syslog(prio[level >= 0 && level <= 4 ? level : 2], "%s", msg);
}
