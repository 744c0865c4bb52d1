/* commands.h — one function per subcommand; main.c dispatches.
 * Each takes argc/argv starting at the subcommand name and returns the
 * process exit status (see docs/sync.md for the codes). */
#ifndef MS_COMMANDS_H
#define MS_COMMANDS_H

enum exit_code {
	EXIT_OK = 0,
	EXIT_PARTIAL = 1,     /* some messages, folders or accounts failed */
	EXIT_USAGE = 2,       /* bad command line or configuration */
	EXIT_AUTH = 3,        /* credentials refused */
	EXIT_CONNECT = 4,     /* server unreachable or connection lost for good */
	EXIT_TLS = 5,         /* TLS or certificate failure */
};

int cmd_sync(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_relay(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_status(int argc, char **argv);
/* `mailshift dns check|watch`: cmd_dns dispatches; watch lives in cmd_dns_watch.c */
int cmd_dns(int argc, char **argv);
int cmd_dns_watch(int argc, char **argv);

#endif
