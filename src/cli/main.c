/* main.c — the mailshift command: dispatch to a subcommand (git style). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "cli/commands.h"

#define MAILSHIFT_VERSION "0.1.0"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailshift COMMAND [options]\n"
		"\n"
		"Parallel-run mail migration: copy and keep in sync an old and a new mail server.\n"
		"\n"
		"commands:\n"
		"  sync      copy every folder, message, flag and date from old to new (IMAP),\n"
		"            then only what changed (--watch to keep going, --reverse for rollback)\n"
		"  verify    prove that every message of old is on new (exit 0 only then)\n"
		"  relay     the dual-delivery SMTP relay: old, new or both by group phase\n"
		"  queue     list / show / flush / hold / release / delete relay queue entries\n"
		"  trace     the life of one relayed message (queue id or Message-ID)\n"
		"  status    groups and phases, relay counters per destination, queue\n"
		"  dns       check: MX/TTL, SPF, DKIM, DMARC for old and new; watch: the MX\n"
		"            switch spreading across resolvers\n"
		"  help      this text; 'mailshift COMMAND --help' for a command's options\n"
		"  version   print the version\n"
		"\n"
		"Every command takes -c FILE (default ./mailshift.conf, then\n"
		"/etc/mailshift/mailshift.conf). See docs/ for each command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	/* A peer that closes while we write must be an error we report,
	 * not a signal that kills the run (OpenSSL writes with write(2)). */
	signal(SIGPIPE, SIG_IGN);
	OPENSSL_init_ssl(0, NULL);
	if (strcmp(cmd, "sync") == 0)
		return cmd_sync(argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(cmd, "relay") == 0)
		return cmd_relay(argc - 1, argv + 1);
	if (strcmp(cmd, "queue") == 0)
		return cmd_queue(argc - 1, argv + 1);
	if (strcmp(cmd, "trace") == 0)
		return cmd_trace(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(cmd, "dns") == 0)
		return cmd_dns(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("mailshift %s\n", MAILSHIFT_VERSION);
		return EXIT_OK;
	}
	fprintf(stderr, "mailshift: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
