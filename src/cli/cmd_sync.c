/* cmd_sync.c — `mailshift sync`: copy old → new for one account given on
 * the command line, or for every account of the configuration file.
 *
 * SECURITY: passwords come from files or the environment, never argv
 * (which every local user can read in /proc). They are wiped after use.
 */
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli_accounts.h"
#include "cli/commands.h"
#include "cli/sync_render.h"
#include "core/alloc.h"
#include "core/config.h"
#include "core/log.h"
#include "core/url.h"
#include "sync/sync.h"


struct opts {
	struct cli_target t;
	bool json, quiet, no_multiappend;
	bool delete_, reverse, dry_run;
	const char *state;
	long batch, window, jobs, watch;
	unsigned long long max_bps, max_mps;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailshift sync [-c FILE] [--group G] [--account EMAIL] [--json]\n"
		"       mailshift sync --old imap[s]://USER@HOST[:PORT] --new imap[s]://USER@HOST[:PORT]\n"
		"                      [--old-password-file F] [--new-password-file F] [options]\n"
		"\n"
		"Copies every folder, message, flag, keyword and arrival date from the old\n"
		"server to the new one. Messages already on new are skipped.\n"
		"\n"
		"  -c, --config FILE        configuration (default ./mailshift.conf,\n"
		"                           then /etc/mailshift/mailshift.conf)\n"
		"  --group G, --account E   only this group / account of the configuration\n"
		"  --old URL, --new URL     one-account mode; passwords from\n"
		"  --old-password-file F    ... these files, or MAILSHIFT_OLD_PASSWORD /\n"
		"  --new-password-file F        MAILSHIFT_NEW_PASSWORD\n"
		"  --old-ca-file F, --new-ca-file F, --ca-file F   private CA (PEM)\n"
		"  --old-tls none|verify, --new-tls none|verify     none: loopback tests only\n"
		"  --old-auth M, --new-auth M   auto|login|plain|xoauth2 (token as password)\n"
		"  --old-admin U, --new-admin U log in as admin U for the account (PLAIN\n"
		"                           authorization identity); the password file then\n"
		"                           holds the admin's password\n"
		"  --state SPEC             state store (sqlite:PATH); default: [migration] state\n"
		"                           in config mode, none in one-account mode\n"
		"  --delete                 propagate expunges and deleted folders old -> new\n"
		"  --reverse                sync new -> old (rollback)\n"
		"  --dry-run                show what would be copied, flagged, deleted\n"
		"  --jobs N                 accounts in parallel (default [sync] jobs, or 1)\n"
		"  --watch SECS             keep syncing every SECS seconds until interrupted\n"
		"  --max-bytes-per-second N, --max-messages-per-second N   per account\n"
		"  --json                   one JSON document on stdout (a line per pass with --watch)\n"
		"  -q, --quiet              only errors\n"
		"  --no-multiappend         one APPEND per message even if MULTIAPPEND is offered\n"
		"  --no-literal-plus        synchronizing literals even if LITERAL+ is offered\n"
		"  --batch N                messages per MULTIAPPEND (default 100)\n"
		"  --window N               APPEND commands in flight (default 8)\n"
		"  --timeout SECS           network timeout (default 120)\n"
		"\n"
		"exit: 0 all copied, 1 partial failure, 2 usage/config, 3 authentication,\n"
		"      4 connection, 5 TLS/certificate\n");
}


static void on_signal(int sig)
{
	(void)sig;
	sync_stop_requested = 1;
}


struct run {
	struct sync_options so;
	struct sync_render *render;
	pthread_mutex_t lock;     /* counters and renderer, with --jobs */
	size_t accounts, ok_accounts, failed_accounts;
	int first_kind_exit;
	bool mixed;
};


static void run_account(struct run *run, const struct sync_account *a)
{
	struct sync_account_result res;
	bool ok = sync_account_run(a, &run->so, &res);

	pthread_mutex_lock(&run->lock);
	sync_render_account(run->render, &res);
	run->accounts++;
	if (ok) {
		run->ok_accounts++;
	} else if (err_is_set(&res.err) && res.copied == 0) {
		int e = cli_exit_for_kind(res.err.kind);
		if (run->failed_accounts == 0)
			run->first_kind_exit = e;
		else if (run->first_kind_exit != e)
			run->mixed = true;
		run->failed_accounts++;
	} else {
		run->mixed = true;
		run->failed_accounts++;
	}
	pthread_mutex_unlock(&run->lock);
	sync_account_result_free(&res);
}

struct pool {
	struct run *run;
	struct acct *v;
	size_t n, next;
	pthread_mutex_t lock;
};

static void *worker(void *arg)
{
	struct pool *p = arg;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		size_t i = p->next < p->n && !sync_stop_requested ? p->next++ : p->n;
		pthread_mutex_unlock(&p->lock);
		if (i >= p->n)
			return NULL;
		run_account(p->run, &p->v[i].a);
	}
}

/* One pass over every account, `jobs` at a time; one account's failure
 * never stops the others. */
static void run_pass(struct run *run, struct acct *v, size_t n, long jobs)
{
	struct pool p = { .run = run, .v = v, .n = n };
	size_t nt = jobs < 1 ? 1 : (size_t)jobs;

	if (nt > n)
		nt = n;
	if (nt <= 1) {
		for (size_t i = 0; i < n && !sync_stop_requested; i++)
			run_account(run, &v[i].a);
		return;
	}
	pthread_mutex_init(&p.lock, NULL);
	pthread_t *t = xcalloc(nt, sizeof *t);
	for (size_t i = 0; i < nt; i++)
		pthread_create(&t[i], NULL, worker, &p);
	for (size_t i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	free(t);
	pthread_mutex_destroy(&p.lock);
}

#define IDLE_MAX_ACCOUNTS 64

/* --watch between passes: wait `secs`, but wake up as soon as new mail
 * arrives in a source INBOX — IDLE (RFC 2177) on each account's INBOX
 * where the server offers it (up to IDLE_MAX_ACCOUNTS connections), plain
 * sleep otherwise. */
static void watch_wait(struct acct *v, size_t n, long secs, bool reverse)
{
	struct imap_client *c[IDLE_MAX_ACCOUNTS];
	struct pollfd pfd[IDLE_MAX_ACCOUNTS];
	size_t nc = 0;

	for (size_t i = 0; i < n && i < IDLE_MAX_ACCOUNTS && !sync_stop_requested; i++) {
		struct err err;
		err_clear(&err);
		const struct imap_endpoint *ep = reverse ? &v[i].a.new_ep : &v[i].a.old_ep;
		struct imap_client *x = imap_client_connect(ep, &err);
		if (x == NULL)
			continue;
		struct imap_reply r = { 0 };
		bool ok = imap_client_caps(x)->idle && imap_client_run(x, &r, &err, "EXAMINE INBOX") &&
			  r.status == IMAP_STATUS_OK && imap_client_idle_start(x, &err);
		imap_reply_clear(&r);
		if (!ok) {
			imap_client_close(&x);
			continue;
		}
		c[nc] = x;
		pfd[nc] = (struct pollfd){ .fd = imap_client_fd(x), .events = POLLIN };
		nc++;
	}
	bool woken = false;
	for (long t = 0; t < secs * 10 && !sync_stop_requested && !woken; t++) {
		for (size_t i = 0; i < nc && !woken; i++)
			woken = imap_client_has_input(c[i]);
		if (!woken && nc > 0 && poll(pfd, nc, 100) > 0)
			woken = true;
		else if (nc == 0) {
			struct timespec ts = { .tv_sec = 0, .tv_nsec = 100000000L };
			nanosleep(&ts, NULL);
		}
	}
	for (size_t i = 0; i < nc; i++)
		imap_client_close(&c[i]);
}

static int run_exit(const struct run *run)
{
	if (run->failed_accounts == 0)
		return EXIT_OK;
	/* A specific code only when it tells the whole story: every account
	 * failed, and all for the same reason. */
	if (run->ok_accounts == 0 && !run->mixed)
		return run->first_kind_exit;
	return EXIT_PARTIAL;
}


int cmd_sync(int argc, char **argv)
{
	enum { O_JSON = 256, O_NOMULTI, O_BATCH, O_WINDOW, O_STATE, O_DELETE, O_REVERSE,
	       O_DRYRUN, O_JOBS, O_WATCH, O_MAXBPS, O_MAXMPS };
	static const struct option lo[] = {
		CLI_TARGET_LONGOPTS,
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "no-multiappend", no_argument, NULL, O_NOMULTI },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "state", required_argument, NULL, O_STATE },
		{ "delete", no_argument, NULL, O_DELETE },
		{ "reverse", no_argument, NULL, O_REVERSE },
		{ "dry-run", no_argument, NULL, O_DRYRUN },
		{ "jobs", required_argument, NULL, O_JOBS },
		{ "watch", required_argument, NULL, O_WATCH },
		{ "max-bytes-per-second", required_argument, NULL, O_MAXBPS },
		{ "max-messages-per-second", required_argument, NULL, O_MAXMPS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .t.timeout = 120, .batch = 100, .window = 8, .jobs = 0, .watch = 0 };
	int c, verbose = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:qvh", lo, NULL)) != -1) {
		switch (c) {
		case O_JSON: o.json = true; break;
		case 'q': o.quiet = true; break;
		case 'v': verbose++; break;
		case O_NOMULTI: o.no_multiappend = true; break;
		case O_STATE: o.state = optarg; break;
		case O_DELETE: o.delete_ = true; break;
		case O_REVERSE: o.reverse = true; break;
		case O_DRYRUN: o.dry_run = true; break;
		case O_JOBS: o.jobs = strtol(optarg, NULL, 10); break;
		case O_WATCH: o.watch = strtol(optarg, NULL, 10); break;
		case O_MAXBPS: o.max_bps = strtoull(optarg, NULL, 10); break;
		case O_MAXMPS: o.max_mps = strtoull(optarg, NULL, 10); break;
		case O_BATCH: o.batch = strtol(optarg, NULL, 10); break;
		case O_WINDOW: o.window = strtol(optarg, NULL, 10); break;
		case 'h': usage(stdout); return EXIT_OK;
		default:
			if (cli_target_option(&o.t, c, optarg))
				break;
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mailshift sync: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (o.batch < 1 || o.batch > 100000 || o.window < 1 || o.window > 1000 ||
	    o.t.timeout < 1 || o.jobs < 0 || o.jobs > 256 || o.watch < 0) {
		fprintf(stderr, "mailshift sync: --batch 1..100000, --window 1..1000, "
				"--timeout >= 1, --jobs 1..256, --watch >= 1\n");
		return EXIT_USAGE;
	}
	if (verbose)
		log_set_level(verbose > 1 ? LOG_DEBUG : LOG_INFO);

	struct acct *accts = NULL;
	size_t naccts = 0;
	struct config *cfg = NULL;
	int crc = cli_accounts_collect(&o.t, &cfg, &accts, &naccts);
	if (crc != 0)
		return crc;
	if (cfg != NULL) {
		if (o.state == NULL)
			o.state = cfg->state;
		if (o.jobs == 0)
			o.jobs = cfg->sync_jobs;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	int rc = EXIT_OK, last_complete_rc = EXIT_OK;
	for (unsigned pass = 1;; pass++) {
		struct run run = { 0 };
		pthread_mutex_init(&run.lock, NULL);
		sync_options_default(&run.so);
		run.so.use_multiappend = !o.no_multiappend;
		run.so.batch_messages = (unsigned)o.batch;
		run.so.window = (unsigned)o.window;
		run.so.delete_ = o.delete_;
		run.so.reverse = o.reverse;
		run.so.dry_run = o.dry_run;
		run.so.state = o.state;
		run.so.max_bytes_per_second = o.max_bps;
		run.so.max_messages_per_second = o.max_mps;
		run.render = sync_render_new(o.json, o.quiet || (o.watch > 0 && !o.json),
					     isatty(STDERR_FILENO));
		run.so.ops = sync_render_ops();
		run.so.ctx = run.render;
		time_t t0 = time(NULL);
		run_pass(&run, accts, naccts, o.jobs);
		rc = run_exit(&run);
		if (!sync_stop_requested)
			last_complete_rc = rc;
		if (o.watch > 0 && !o.json) {
			struct tm tm;
			char ts[32];
			localtime_r(&t0, &tm);
			strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
			printf("pass %u at %s: %s\n", pass, ts, sync_render_summary(run.render));
		}
		sync_render_finish(&run.render, rc);
		pthread_mutex_destroy(&run.lock);
		if (o.watch <= 0 || sync_stop_requested)
			break;
		watch_wait(accts, naccts, o.watch, o.reverse);
		if (sync_stop_requested)
			break;
	}
	cli_accounts_free(&cfg, accts, naccts);
	if (sync_stop_requested && o.watch > 0)
		/* --watch runs until interrupted: a pass cut short by the
		 * signal stopped cleanly; report the last complete one. */
		return last_complete_rc;
	if (sync_stop_requested && rc == EXIT_OK)
		rc = EXIT_PARTIAL;
	return rc;
}
