/* cmd_relay.c — `mailshift relay`: run the dual-delivery SMTP relay in the
 * foreground (systemd runs it as a simple service: dist/mailshift-relay.service). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/config.h"
#include "core/log.h"
#include "relay/relay.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailshift relay [-c FILE] [-q]\n"
		"\n"
		"Run the dual-delivery SMTP relay (foreground). Each recipient's mail goes to\n"
		"the old server, the new one, or both, by its group's phase; a message answered\n"
		"250 is on disk and is delivered whatever crashes.\n"
		"\n"
		"  -c FILE      configuration (default ./mailshift.conf, then\n"
		"               /etc/mailshift/mailshift.conf)\n"
		"  -q           log warnings and errors only (default: one line per event)\n"
		"  --syslog     log to syslog (facility mail) instead of stderr\n"
		"  --announce   print \"listening on HOST:PORT\" on stdout once bound\n"
		"\n"
		"Signals: SIGTERM/SIGINT stop (the queue stays on disk), SIGHUP re-reads the\n"
		"configuration (phases, limits), SIGUSR1 retries every deferred message now.\n");
}

int cmd_relay(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "announce", no_argument, NULL, 'A' },
		{ "syslog", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct relay_run_opts o = { 0 };
	struct err err;
	int c;

	log_set_level(LOG_INFO);
	while ((c = getopt_long(argc, argv, "c:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o.config_path = optarg; break;
		case 'q': log_set_level(LOG_WARN); break;
		case 'A': o.announce = true; break;
		case 'S': log_use_syslog("mailshift/relay"); break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o.config_path == NULL)
		o.config_path = config_default_path();
	if (o.config_path == NULL) {
		fprintf(stderr, "mailshift relay: no configuration: give -c FILE or create "
				"./mailshift.conf\n");
		return EXIT_USAGE;
	}
	err_clear(&err);
	int rc = relay_run(&o, &err);
	if (rc != 0)
		fprintf(stderr, "mailshift relay: %s\n", err_is_set(&err) ? err.msg : "failed");
	return rc == 0 ? EXIT_OK : EXIT_USAGE;
}
