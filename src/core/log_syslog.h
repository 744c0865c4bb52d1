/* log_syslog.h — private to log.c: the syslog(3) side of logging, in a file
 * of its own because <syslog.h> defines LOG_INFO and LOG_DEBUG as macros,
 * which would clash with log.h's level names. level is a log.h level. */
#ifndef MS_LOG_SYSLOG_H
#define MS_LOG_SYSLOG_H
void log_syslog_open(const char *ident);
void log_syslog_write(int level, const char *msg);
#endif
