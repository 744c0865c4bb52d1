/* log.h — diagnostics to stderr.
 *
 * Engines do not print results (they report through their report
 * interfaces); this is for warnings and debugging. Callers must never pass a
 * secret: there is no redaction here, so the rule is enforced where secrets
 * live (they are kept in `struct secret`-like fields that are never logged).
 * The IMAP client logs protocol traces only at LOG_TRACE and masks the
 * arguments of LOGIN/AUTHENTICATE before they reach this module.
 */
#ifndef MS_LOG_H
#define MS_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Send every later line to syslog (facility mail, ident as given) instead
 * of stderr: `mailshift relay --syslog`. */
void log_use_syslog(const char *ident);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_trace(...) log_msg(LOG_TRACE, __VA_ARGS__)

#endif
