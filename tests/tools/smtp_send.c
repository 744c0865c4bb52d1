/* smtp_send.c — test driver for the relay's SMTP client (src/relay/smtp_client.h).
 *
 *   smtp_send [options] HOST PORT SENDER RCPT[,RCPT...] FILE
 *
 * Connects, sends FILE (as spooled: CRLF lines) to the recipients and
 * prints one line per recipient: "RCPT code enhanced text" (enhanced is "-"
 * when the server sent none). Options:
 *   --tls none|may|require   (default none: these are loopback tests)
 *   --ca-file F              private CA for STARTTLS
 *   --no-verify              do not verify the certificate
 *   --implicit-tls           TLS from the start (smtps)
 *   --helo NAME              our EHLO name (default "localhost")
 *   --smtputf8 / --8bit      what the message needs
 *   --timeout MS             per wait
 *   --repeat N               N transactions on one connection
 *   --lmtp                   speak LMTP (RFC 2033) instead of SMTP
 *   --verbose                "tls=on|off usable=yes|no" on stderr at the end
 * Exit: 0 when the transactions ran (whatever the results), 1 on a connection
 * or protocol error (message on stderr; the results the client kept despite
 * it, LMTP's committed 2xx ones, are still printed, the others are not),
 * 2 on bad usage.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/err.h"
#include "relay/smtp_client.h"

static void usage(void)
{
	fprintf(stderr, "usage: smtp_send [--tls none|may|require] [--ca-file F] [--no-verify] "
		"[--implicit-tls] [--helo NAME] [--smtputf8] [--8bit] [--timeout MS] "
		"[--repeat N] [--lmtp] [--verbose] HOST PORT SENDER RCPT[,RCPT...] FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tls", required_argument, NULL, 't' },
		{ "ca-file", required_argument, NULL, 'c' },
		{ "no-verify", no_argument, NULL, 'n' },
		{ "implicit-tls", no_argument, NULL, 'i' },
		{ "helo", required_argument, NULL, 'h' },
		{ "smtputf8", no_argument, NULL, 'u' },
		{ "8bit", no_argument, NULL, '8' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "lmtp", no_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct smtp_client_opts o = {
		.what = "test server", .tls = SMTP_TLS_NONE, .verify = true,
		.helo_name = "localhost",
	};
	bool smtputf8 = false, eightbit = false, verbose = false;
	int repeat = 1, ch;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (strcmp(optarg, "none") == 0)
				o.tls = SMTP_TLS_NONE;
			else if (strcmp(optarg, "may") == 0)
				o.tls = SMTP_TLS_MAY;
			else if (strcmp(optarg, "require") == 0)
				o.tls = SMTP_TLS_REQUIRE;
			else
				usage();
			break;
		case 'c': o.ca_file = optarg; break;
		case 'n': o.verify = false; break;
		case 'i': o.implicit_tls = true; break;
		case 'h': o.helo_name = optarg; break;
		case 'u': smtputf8 = true; break;
		case '8': eightbit = true; break;
		case 'T': o.timeout_ms = atoi(optarg); break;
		case 'r': repeat = atoi(optarg); break;
		case 'v': verbose = true; break;
		case 'l': o.lmtp = true; break;
		default: usage();
		}
	}
	if (argc - optind != 5 || repeat < 1)
		usage();
	o.host = argv[optind];
	o.port = (unsigned)strtoul(argv[optind + 1], NULL, 10);
	const char *sender = argv[optind + 2];
	const char *file = argv[optind + 4];

	/* Recipients: a comma-separated list. */
	char *list = xstrdup(argv[optind + 3]), *save = NULL;
	const char **rcpts = NULL;
	size_t n = 0;
	for (char *r = strtok_r(list, ",", &save); r != NULL; r = strtok_r(NULL, ",", &save)) {
		rcpts = xreallocarray(rcpts, n + 1, sizeof *rcpts);
		rcpts[n++] = r;
	}

	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "smtp_send: cannot read %s\n", file);
		return 2;
	}

	struct err err;
	err_clear(&err);
	int rc = 0;
	struct smtp_client *c = smtp_client_connect(&o, &err);
	if (c == NULL) {
		fprintf(stderr, "smtp_send: %s\n", err.msg);
		rc = 1;
		goto out;
	}
	for (int k = 0; k < repeat; k++) {
		struct smtp_rcpt_result *res = xcalloc(n ? n : 1, sizeof *res);
		lseek(fd, 0, SEEK_SET);
		bool ok = smtp_client_send(c, sender, rcpts, n, fd, (uint64_t)st.st_size, smtputf8,
					   eightbit, res, &err);
		for (size_t i = 0; i < n; i++) {
			if (ok || res[i].code != 0)
				printf("%s %u %s %s\n", rcpts[i], res[i].code,
				       res[i].enhanced[0] ? res[i].enhanced : "-",
				       res[i].text ? res[i].text : "");
		}
		if (!ok) {
			fprintf(stderr, "smtp_send: %s\n", err.msg);
			rc = 1;
		}
		for (size_t i = 0; i < n; i++)
			smtp_rcpt_result_clear(&res[i]);
		free(res);
		if (!ok)
			break;
	}
	fflush(stdout);
	if (verbose)
		fprintf(stderr, "smtp_send: peer=%s tls=%s usable=%s\n", smtp_client_peer(c),
			smtp_client_tls(c) ? "on" : "off", smtp_client_usable(c) ? "yes" : "no");
	smtp_client_close(&c);
out:
	close(fd);
	free(rcpts);
	free(list);
	return rc;
}
