/* test_config.c — the config file (INI), the accounts CSV and secrets.
 *
 * The full example from design.md must parse with every value as written;
 * each error must name file:line and what to do; warnings go to stderr,
 * which these tests capture to check them. Files on disk live in a fresh
 * mkdtemp() folder per test. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "unit/testutil.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"

struct tmp {
	char dir[64];
};

static char *path_in(const struct tmp *t, const char *name)
{
	static char p[256];

	snprintf(p, sizeof p, "%s/%s", t->dir, name);
	return p;
}

static void write_file(const struct tmp *t, const char *name, const char *text, size_t len,
		       mode_t mode)
{
	char *p = path_in(t, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void write_str(const struct tmp *t, const char *name, const char *text, mode_t mode)
{
	write_file(t, name, text, strlen(text), mode);
}

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof *t);

	if (t == NULL)
		return -1;
	strcpy(t->dir, "/tmp/test_config.XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;

	testutil_rmtree(t->dir);
	free(t);
	return 0;
}

/* stderr capture, for log_warn */
static int saved_stderr = -1;
static FILE *capture_file;

static void capture_start(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	assert_non_null(capture_file);
	saved_stderr = dup(2);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fileno(capture_file), 2) >= 0);
}

/* Returns what was written to stderr since capture_start (caller frees). */
static char *capture_end(void)
{
	char *s;
	long n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	n = ftell(capture_file);
	s = calloc(1, (size_t)n + 1);
	rewind(capture_file);
	if (n > 0)
		assert_int_equal(fread(s, 1, (size_t)n, capture_file), (size_t)n);
	fclose(capture_file);
	return s;
}

static void assert_prefix(const char *s, const char *prefix)
{
	if (strncmp(s, prefix, strlen(prefix)) != 0) {
		print_message("'%s'\n  does not start with '%s'\n", s, prefix);
		fail();
	}
}

static struct config *parse(const char *text, struct err *err)
{
	return config_parse("t.conf", text, strlen(text), err);
}

/* ---------------------------------------------------------------- */

static const char full_conf[] =
	"; mailshift.conf - the example from design.md, plus the newer keys\n"
	"[migration]\n"
	"domains = example.co.jp, example.jp\n"
	"state   = sqlite:/var/lib/mailshift/state.db      ; or postgresql://host/db (many workers)\n"
	"\n"
	"[old]\n"
	"imap = imaps://mail.old-host.jp                    ; imap://host:port means STARTTLS required\n"
	"smtp = smtp://mail.old-host.jp:25\n"
	"tls  = verify                                      ; verify (default) | none (loopback tests only)\n"
	"ca_file = /etc/mailshift/old-ca.pem                ; optional private CA\n"
	"sending_ips   = 192.0.2.10                         ; for the SPF checks\n"
	"dkim_selector = default\n"
	"; admin_user / admin_password_file: log in for every account as a master/admin user\n"
	"admin_user = master\n"
	"admin_password_file = old-admin.pw\n"
	"auth = plain\n"
	"\n"
	"[new]\n"
	"imap = imaps://mail.new-host.jp\n"
	"smtp = smtp://mail.new-host.jp:25\n"
	"sending_ips   = 198.51.100.20\n"
	"dkim_selector = ms2026\n"
	"dkim_key      = /etc/mailshift/ms2026.pem          ; optional: check the published key matches\n"
	"auth = xoauth2\n"
	"tls = none\n"
	"\n"
	"[relay]\n"
	"listen   = 0.0.0.0:25\n"
	"hostname = mx1.example.co.jp\n"
	"spool    = /var/spool/mailshift\n"
	"user     = mailshift                               ; unprivileged user after binding\n"
	"default_phase = old                                ; for recipients of no group\n"
	"primary  = old                                     ; in phase both: whose failures bounce\n"
	"keep_old_copy = no                                 ; in phase new: old still gets a copy\n"
	"recipients = domain                                ; domain | known (only accounts in the CSVs)\n"
	"max_message_size = 50M\n"
	"queue_lifetime = 5d\n"
	"tls_cert = /etc/mailshift/mx1.crt\n"
	"tls_key = mx1.key\n"
	"\n"
	"[dns]\n"
	"resolvers = 1.1.1.1, 8.8.8.8, 9.9.9.9              ; for dns watch\n"
	"\n"
	"[sync]\n"
	"jobs = 8\n"
	"\n"
	"[group sales]\n"
	"phase    = both                                    ; old | both | new\n"
	"accounts = sales.csv      ; email,old_user,old_password,new_user,new_password (header row)\n"
	"\n"
	"[group support]\n"
	"accounts = support.csv\n";

static const char sales_csv[] =
	"email,old_user,old_password,new_user,new_password\n"
	"alice@example.co.jp,alice,old-secret,alice@example.co.jp,new-secret\n"
	"bob@example.co.jp,,\"pa,ss\"\"word\",,\n";

static void test_full_example(void **state)
{
	struct tmp *t = *state;
	struct err err;
	struct config *c;
	char *warnings;

	write_str(t, "mailshift.conf", full_conf, 0644);
	write_str(t, "sales.csv", sales_csv, 0600);
	write_str(t, "support.csv", "email\ncarol@example.jp\n", 0600);

	capture_start();
	c = config_load(path_in(t, "mailshift.conf"), &err);
	warnings = capture_end();
	if (c == NULL) {
		print_message("%s\n", err.msg);
		fail();
	}
	assert_string_equal(warnings, "");
	free(warnings);

	assert_string_equal(c->path, path_in(t, "mailshift.conf"));
	assert_string_equal(c->domains, "example.co.jp, example.jp");
	assert_string_equal(c->state, "sqlite:/var/lib/mailshift/state.db");

	assert_string_equal(c->old_server.imap, "imaps://mail.old-host.jp");
	assert_string_equal(c->old_server.smtp, "smtp://mail.old-host.jp:25");
	assert_int_equal(c->old_server.tls, TLS_VERIFY);
	assert_string_equal(c->old_server.ca_file, "/etc/mailshift/old-ca.pem");
	assert_string_equal(c->old_server.sending_ips, "192.0.2.10");
	assert_string_equal(c->old_server.dkim_selector, "default");
	assert_null(c->old_server.dkim_key);
	assert_string_equal(c->old_server.admin_user, "master");
	assert_string_equal(c->old_server.admin_password_file, path_in(t, "old-admin.pw"));
	assert_int_equal(c->old_server.auth, AUTH_PLAIN);

	assert_string_equal(c->new_server.imap, "imaps://mail.new-host.jp");
	assert_string_equal(c->new_server.smtp, "smtp://mail.new-host.jp:25");
	assert_int_equal(c->new_server.tls, TLS_NONE);
	assert_null(c->new_server.ca_file);
	assert_string_equal(c->new_server.sending_ips, "198.51.100.20");
	assert_string_equal(c->new_server.dkim_selector, "ms2026");
	assert_string_equal(c->new_server.dkim_key, "/etc/mailshift/ms2026.pem");
	assert_null(c->new_server.admin_user);
	assert_null(c->new_server.admin_password_file);
	assert_int_equal(c->new_server.auth, AUTH_XOAUTH2);

	assert_string_equal(c->relay.listen, "0.0.0.0:25");
	assert_string_equal(c->relay.hostname, "mx1.example.co.jp");
	assert_string_equal(c->relay.spool, "/var/spool/mailshift");
	assert_string_equal(c->relay.user, "mailshift");
	assert_string_equal(c->relay.default_phase, "old");
	assert_string_equal(c->relay.primary, "old");
	assert_string_equal(c->relay.keep_old_copy, "no");
	assert_string_equal(c->relay.recipients, "domain");
	assert_string_equal(c->relay.max_message_size, "50M");
	assert_string_equal(c->relay.queue_lifetime, "5d");
	assert_string_equal(c->relay.tls_cert, "/etc/mailshift/mx1.crt");
	assert_string_equal(c->relay.tls_key, path_in(t, "mx1.key"));

	assert_string_equal(c->dns_resolvers, "1.1.1.1, 8.8.8.8, 9.9.9.9");
	assert_int_equal(c->sync_jobs, 8);

	assert_int_equal(c->group_count, 2);
	struct config_group *g = &c->groups[0];
	assert_string_equal(g->name, "sales");
	assert_string_equal(g->phase, "both");
	assert_string_equal(g->accounts_file, "sales.csv");
	assert_string_equal(g->accounts_path, path_in(t, "sales.csv"));
	assert_int_equal(g->account_count, 2);
	assert_string_equal(g->accounts[0].email, "alice@example.co.jp");
	assert_string_equal(g->accounts[0].old_user, "alice");
	assert_string_equal(g->accounts[0].old_password, "old-secret");
	assert_string_equal(g->accounts[0].new_user, "alice@example.co.jp");
	assert_string_equal(g->accounts[0].new_password, "new-secret");
	assert_int_equal(g->accounts[0].line, 2);
	assert_string_equal(g->accounts[1].email, "bob@example.co.jp");
	assert_string_equal(g->accounts[1].old_user, "bob@example.co.jp");
	assert_string_equal(g->accounts[1].old_password, "pa,ss\"word");
	assert_string_equal(g->accounts[1].new_user, "bob@example.co.jp");
	assert_null(g->accounts[1].new_password);
	assert_int_equal(g->accounts[1].line, 3);

	g = &c->groups[1];
	assert_string_equal(g->name, "support");
	assert_string_equal(g->phase, "old");     /* default */
	assert_int_equal(g->account_count, 1);
	assert_string_equal(g->accounts[0].email, "carol@example.jp");
	assert_string_equal(g->accounts[0].old_user, "carol@example.jp");
	assert_null(g->accounts[0].old_password);

	config_free(&c);
	assert_null(c);
	config_free(&c);
	config_free(NULL);
}

static void test_defaults(void **state)
{
	struct err err;
	struct config *c;

	(void)state;
	c = parse("", &err);
	assert_non_null(c);
	assert_string_equal(c->path, "t.conf");
	assert_null(c->domains);
	assert_string_equal(c->state, "sqlite:/var/lib/mailshift/state.db");
	assert_null(c->old_server.imap);     /* not required at parse time */
	assert_null(c->new_server.imap);
	assert_null(c->old_server.smtp);
	assert_int_equal(c->old_server.tls, TLS_VERIFY);
	assert_int_equal(c->new_server.auth, AUTH_AUTO);
	assert_string_equal(c->relay.listen, "0.0.0.0:25");
	assert_null(c->relay.hostname);
	assert_string_equal(c->relay.spool, "/var/spool/mailshift");
	assert_null(c->relay.user);
	assert_string_equal(c->relay.default_phase, "old");
	assert_string_equal(c->relay.primary, "old");
	assert_string_equal(c->relay.keep_old_copy, "no");
	assert_string_equal(c->relay.recipients, "domain");
	assert_string_equal(c->relay.max_message_size, "50M");
	assert_string_equal(c->relay.queue_lifetime, "5d");
	assert_null(c->relay.tls_cert);
	assert_null(c->relay.tls_key);
	assert_null(c->dns_resolvers);
	assert_int_equal(c->sync_jobs, 1);
	assert_int_equal(c->group_count, 0);
	config_free(&c);

	/* a relay-only file: no [old]/[new] imap at all */
	c = parse("[new]\nsmtp = smtp://mx.new:25\n[relay]\nhostname = mx1\n", &err);
	assert_non_null(c);
	assert_null(c->new_server.imap);
	assert_string_equal(c->new_server.smtp, "smtp://mx.new:25");
	config_free(&c);

	/* a NULL err is allowed */
	c = config_parse("t.conf", "[old]\ntls = x\n", 14, NULL);
	assert_null(c);
}

static void test_syntax(void **state)
{
	struct err err;
	struct config *c;
	static const char text[] =
		"\xef\xbb\xbf"                                  /* BOM, line 1 */
		"  ; indented comment\r\n"
		"# hash comment\r\n"
		"[ OLD ]  ; comment after a header\r\n"
		"IMAP=imap://127.0.0.1:1143\r\n"
		"Tls = NONE\r\n"
		"admin_user = a;b\r\n"                          /* no blank before ';' */
		"dkim_selector = sel#1   # comment\r\n"
		"sending_ips = 192.0.2.1;x ;comment\r\n"
		"Auth = Login\r\n"
		"[Migration]\r\n"
		"state = postgresql://db.example/mailshift?sslmode=require&x=1\r\n"
		"domains=\texample.jp\t\r\n"
		"[RELAY]\r\n"
		"hostname =\r\n"                                /* empty: unset */
		"user = mail shift\r\n"                         /* inner blanks kept */
		"primary = NEW\r\n"
		"keep_old_copy = Yes\r\n"
		"recipients = KNOWN\r\n"
		"default_phase = Both\r\n"
		"listen = [::]:2525\r\n"
		"max_message_size = 1g\r\n"
		"queue_lifetime = 36h\r\n"
		"[group Sales-2026.q1_x]\r\n"
		"Phase = NEW\r\n"
		"accounts = /nonexistent-but-unused\r\n"
		"[Group  Other ]\r\n"
		"accounts = x.csv\r\n";
	/* The groups' CSVs do not exist; the parse fails at the CSV, after
	 * every line above was accepted. Parse without the groups instead. */
	size_t cut = strstr(text, "[group Sales") - text;

	(void)state;
	c = config_parse("t.conf", text, cut, &err);
	if (c == NULL) {
		print_message("%s\n", err.msg);
		fail();
	}
	assert_string_equal(c->old_server.imap, "imap://127.0.0.1:1143");
	assert_int_equal(c->old_server.tls, TLS_NONE);
	assert_string_equal(c->old_server.admin_user, "a;b");
	assert_string_equal(c->old_server.dkim_selector, "sel#1");
	assert_string_equal(c->old_server.sending_ips, "192.0.2.1;x");
	assert_int_equal(c->old_server.auth, AUTH_LOGIN);
	assert_string_equal(c->state, "postgresql://db.example/mailshift?sslmode=require&x=1");
	assert_string_equal(c->domains, "example.jp");
	assert_null(c->relay.hostname);
	assert_string_equal(c->relay.user, "mail shift");
	assert_string_equal(c->relay.primary, "new");
	assert_string_equal(c->relay.keep_old_copy, "yes");
	assert_string_equal(c->relay.recipients, "known");
	assert_string_equal(c->relay.default_phase, "both");
	assert_string_equal(c->relay.listen, "[::]:2525");
	assert_string_equal(c->relay.max_message_size, "1g");
	assert_string_equal(c->relay.queue_lifetime, "36h");
	config_free(&c);

	/* the whole text: fails on the first group's CSV, naming its line */
	c = config_parse("t.conf", text, sizeof text - 1, &err);
	assert_null(c);
	assert_prefix(err.msg, "t.conf:25: [group Sales-2026.q1_x]: cannot open accounts file "
		      "/nonexistent-but-unused");
	assert_int_equal(err.kind, ERR_KIND_IO);

	/* no final line end */
	c = parse("[sync]\njobs = 256", &err);
	assert_non_null(c);
	assert_int_equal(c->sync_jobs, 256);
	config_free(&c);

	/* a section may be reopened; its keys still count once */
	c = parse("[old]\nimap = imaps://a\n[new]\nimap = imaps://b\n[old]\nsmtp = smtp://c\n", &err);
	assert_non_null(c);
	assert_string_equal(c->old_server.imap, "imaps://a");
	assert_string_equal(c->old_server.smtp, "smtp://c");
	assert_string_equal(c->new_server.imap, "imaps://b");
	config_free(&c);
}

static void test_paths(void **state)
{
	struct err err;
	struct config *c;
	static const char text[] =
		"[migration]\nstate = sqlite:state.db\n"
		"[old]\nca_file = ca/old.pem\nadmin_password_file = /abs/pw\n"
		"[new]\ndkim_key = k.pem\n"
		"[relay]\nspool = spool\ntls_cert = c.pem\ntls_key = /k.pem\n";

	(void)state;
	c = config_parse("/etc/ms/mailshift.conf", text, strlen(text), &err);
	assert_non_null(c);
	assert_string_equal(c->state, "sqlite:/etc/ms/state.db");
	assert_string_equal(c->old_server.ca_file, "/etc/ms/ca/old.pem");
	assert_string_equal(c->old_server.admin_password_file, "/abs/pw");
	assert_string_equal(c->new_server.dkim_key, "/etc/ms/k.pem");
	assert_string_equal(c->relay.spool, "/etc/ms/spool");
	assert_string_equal(c->relay.tls_cert, "/etc/ms/c.pem");
	assert_string_equal(c->relay.tls_key, "/k.pem");
	config_free(&c);

	/* a config named without a folder: paths stay as written (cwd) */
	c = config_parse("mailshift.conf", text, strlen(text), &err);
	assert_non_null(c);
	assert_string_equal(c->state, "sqlite:state.db");
	assert_string_equal(c->old_server.ca_file, "ca/old.pem");
	config_free(&c);

	c = config_parse("/mailshift.conf", text, strlen(text), &err);
	assert_non_null(c);
	assert_string_equal(c->old_server.ca_file, "/ca/old.pem");
	config_free(&c);

	c = parse("[migration]\nstate = sqlite::memory:\n", &err);
	assert_non_null(c);
	assert_string_equal(c->state, "sqlite::memory:");
	config_free(&c);
}

struct error_case {
	const char *text;
	const char *prefix;   /* the message starts with this */
	const char *contains; /* and contains this */
};

static const struct error_case error_cases[] = {
	{ "domains = x\n", "t.conf:1: ", "key 'domains' is outside any section" },
	{ "\n; c\nfoo = bar\n[old]\n", "t.conf:3: ", "outside any section" },
	{ "[old]\ntls = maybe\n", "t.conf:2: ",
	  "[old] tls = 'maybe' is not allowed; use one of: verify, none" },
	{ "[new]\ntls =\n", "t.conf:2: ", "use one of: verify, none" },
	{ "[new]\n\nauth = cram-md5\n", "t.conf:3: ",
	  "[new] auth = 'cram-md5' is not allowed; use one of: auto, login, plain, xoauth2" },
	{ "[group a]\nphase = later\n", "t.conf:2: ",
	  "[group a] phase = 'later' is not allowed; use one of: old, both, new" },
	{ "[relay]\ndefault_phase = all\n", "t.conf:2: ", "use one of: old, both, new" },
	{ "[relay]\nprimary = both\n", "t.conf:2: ",
	  "[relay] primary = 'both' is not allowed; use one of: old, new" },
	{ "[relay]\nkeep_old_copy = true\n", "t.conf:2: ", "use one of: yes, no" },
	{ "[relay]\nrecipients = all\n", "t.conf:2: ", "use one of: domain, known" },
	{ "[old]\nimap = http://x\n", "t.conf:2: ",
	  "[old] imap: unknown scheme 'http' in 'http://x' (use imap:// or imaps://)" },
	{ "[old]\nsmtp = http://x\n", "t.conf:2: ", "(use smtp://, smtps:// or lmtp://)" },
	{ "[old]\nimap = mail.old-host.jp\n", "t.conf:2: ", "no scheme" },
	{ "[old]\nimap = imaps://h:70000\n", "t.conf:2: ", "[old] imap: bad port '70000'" },
	{ "[old]\nimap = imaps://[::1\n", "t.conf:2: ", "unterminated '['" },
	{ "[new]\nimap = smtp://x\n", "t.conf:2: ",
	  "[new] imap = 'smtp://x' is not an IMAP address" },
	{ "[old]\nsmtp = imaps://x\n", "t.conf:2: ", "is not an SMTP address" },
	{ "[old]\nimap = imaps://a\n\nIMAP = imaps://b\n", "t.conf:4: ",
	  "duplicate key 'imap' in [old] (first on line 2); keep one" },
	{ "[old]\ntls = none\n[new]\n[old]\ntls = none\n", "t.conf:5: ",
	  "duplicate key 'tls' in [old] (first on line 2)" },
	{ "[group a]\naccounts = a.csv\naccounts = b.csv\n", "t.conf:3: ",
	  "duplicate key 'accounts' in [group a]" },
	{ "[relay]\nhostname =\nhostname = x\n", "t.conf:3: ", "duplicate key 'hostname'" },
	{ "[group sales]\naccounts = x.csv\n[old]\n[group Sales]\n", "t.conf:4: ",
	  "duplicate group 'Sales' (first on line 1)" },
	{ "[group]\n", "t.conf:1: ", "[group] needs a name" },
	{ "[group   ]\n", "t.conf:1: ", "[group] needs a name" },
	{ "[group a b]\n", "t.conf:1: ", "group name 'a b' may only use" },
	{ "[group a/b]\n", "t.conf:1: ", "group name 'a/b'" },
	{ "[old\n", "t.conf:1: ", "section header without ']'" },
	{ "[old] x\n", "t.conf:1: ", "unexpected text after the section header" },
	{ "[]\n", "t.conf:1: ", "empty section name" },
	{ "[old]\nphase = new\n", "t.conf:2: ",
	  "'phase' does not belong in [old]; move it to a [group NAME] section" },
	{ "[relay]\nIMAP = imaps://x\n", "t.conf:2: ",
	  "'IMAP' does not belong in [relay]; move it to [old] or [new]" },
	{ "[group a]\naccounts = a.csv\nlisten = 1.2.3.4:25\n", "t.conf:3: ",
	  "'listen' does not belong in [group a]; move it to [relay]" },
	{ "[migration]\njobs = 2\n", "t.conf:2: ", "move it to [sync]" },
	{ "[sync]\nresolvers = 1.1.1.1\n", "t.conf:2: ", "move it to [dns]" },
	{ "[dns]\ndomains = x.jp\n", "t.conf:2: ", "move it to [migration]" },
	{ "[old]\njust some words\n", "t.conf:2: ", "expected 'key = value'" },
	{ "[old]\n= x\n", "t.conf:2: ", "missing key before '='" },
	{ "[old]\nadmin user = x\n", "t.conf:2: ", "bad key 'admin user'" },
	{ "[sync]\njobs = 0\n", "t.conf:2: ", "[sync] jobs = '0' is not allowed; use a whole "
	  "number from 1 to 256" },
	{ "[sync]\njobs = 257\n", "t.conf:2: ", "from 1 to 256" },
	{ "[sync]\njobs = 99999999999999999999999\n", "t.conf:2: ", "from 1 to 256" },
	{ "[sync]\njobs = -1\n", "t.conf:2: ", "from 1 to 256" },
	{ "[sync]\njobs = 4x\n", "t.conf:2: ", "from 1 to 256" },
	{ "[sync]\njobs =\n", "t.conf:2: ", "from 1 to 256" },
	{ "[relay]\nmax_message_size = 50 MB\n", "t.conf:2: ",
	  "max_message_size = '50 MB' is not a size" },
	{ "[relay]\nmax_message_size = 0\n", "t.conf:2: ", "is not a size" },
	{ "[relay]\nmax_message_size = 1025G\n", "t.conf:2: ", "is not a size" },
	{ "[relay]\nmax_message_size = M\n", "t.conf:2: ", "is not a size" },
	{ "[relay]\nqueue_lifetime = 5 days\n", "t.conf:2: ", "is not a duration" },
	{ "[relay]\nqueue_lifetime = 11y\n", "t.conf:2: ", "is not a duration" },
	{ "[relay]\nqueue_lifetime = 99999w\n", "t.conf:2: ", "is not a duration" },
	{ "[relay]\nlisten = 0.0.0.0\n", "t.conf:2: ",
	  "listen = '0.0.0.0' is not an address to listen on; write ADDRESS:PORT" },
	{ "[relay]\nlisten = :25\n", "t.conf:2: ", "not an address to listen on" },
	{ "[relay]\nlisten = host:0\n", "t.conf:2: ", "not an address to listen on" },
	{ "[relay]\nlisten = [::1:25\n", "t.conf:2: ", "not an address to listen on" },
	{ "[relay]\nlisten = ::1:25\n", "t.conf:2: ", "not an address to listen on" },
	{ "[dns]\nresolvers = 1.1.1.1,,8.8.8.8\n", "t.conf:2: ", "has an empty item" },
	{ "[migration]\ndomains = a.jp,\n", "t.conf:2: ", "has an empty item" },
	{ "[migration]\nstate = sqlite:\n", "t.conf:2: ", "'sqlite:' needs a file" },
	{ "[relay]\ntls_cert = c.pem\n", "t.conf:2: ", "[relay] tls_cert and tls_key go together" },
	{ "[relay]\n\ntls_key = k.pem\n", "t.conf:3: ", "tls_cert and tls_key go together" },
	{ "\n[group a]\nphase = new\n", "t.conf:2: ",
	  "[group a] has no accounts file; add 'accounts = FILE.csv'" },
	{ "[group a]\naccounts = \n", "t.conf:1: ", "has no accounts file" },
	{ "[group a]\naccounts = /nonexistent/x.csv\n", "t.conf:2: ",
	  "[group a]: cannot open accounts file /nonexistent/x.csv" },
	{ "[group a]\naccounts = /dev/null\n", "t.conf:2: ", "is not a regular file" },
	{ "[old]\r\ntls = bad\r\n", "t.conf:2: ", "'bad' is not allowed" },
	{ "[old]\ntls = none\rx\n", "t.conf:2: ", "control character (0x0d)" },
	{ "[old]\ndkim_selector = a\x01\n", "t.conf:2: ", "control character (0x01)" },
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
		const struct error_case *ec = &error_cases[i];
		struct err err;
		struct config *c;

		err_clear(&err);
		c = parse(ec->text, &err);
		if (c != NULL) {
			print_message("case %zu parsed but should fail: %s\n", i, ec->text);
			config_free(&c);
			fail();
		}
		assert_int_equal(err.scope, ERR_SCOPE_RUN);
		assert_true(err.kind == ERR_KIND_CONFIG || err.kind == ERR_KIND_IO);
		assert_prefix(err.msg, ec->prefix);
		assert_contains(err.msg, ec->contains);
	}
}

static void test_nul_byte(void **state)
{
	static const char text[] = "[old]\ntls = verify\nimap = imaps://a\0b\n";
	struct err err;

	(void)state;
	assert_null(config_parse("t.conf", text, sizeof text - 1, &err));
	assert_string_equal(err.msg, "t.conf:3: NUL byte; the file is not text");
}

static void test_state_not_echoed(void **state)
{
	struct err err;

	(void)state;
	assert_null(parse("[migration]\nstate = mysql://u:hunter2@db/x\n", &err));
	assert_prefix(err.msg, "t.conf:2: [migration] state: unknown kind of state store");
	assert_null(strstr(err.msg, "hunter2"));
}

static void test_warnings(void **state)
{
	struct err err;
	struct config *c;
	char *w;

	(void)state;
	capture_start();
	c = parse("[future]\nanything = 1\nimap = not checked\n"
		  "[old]\ncolour = blue\nimap = imaps://h\n"
		  "[group x\xc3\xa9]\n", &err);
	w = capture_end();
	/* the last line is an error (bad group name), the warnings came first */
	assert_null(c);
	assert_prefix(err.msg, "t.conf:7: ");
	assert_contains(w, "t.conf:1: unknown section [future] ignored");
	assert_null(strstr(w, "anything"));     /* keys of an unknown section: one warning */
	assert_contains(w, "t.conf:5: unknown key 'colour' in [old] ignored");
	free(w);

	capture_start();
	c = parse("[future]\na = 1\n[old]\nimap = imaps://h\nnew_thing = 2\n[relay]\n", &err);
	w = capture_end();
	assert_non_null(c);
	assert_string_equal(c->old_server.imap, "imaps://h");
	assert_contains(w, "warning: t.conf:1: unknown section [future]");
	assert_contains(w, "warning: t.conf:5: unknown key 'new_thing' in [old]");
	config_free(&c);
	free(w);

	/* warnings respect the log level */
	log_set_level(LOG_ERROR);
	capture_start();
	c = parse("[old]\nzzz = 1\n", &err);
	w = capture_end();
	log_set_level(LOG_WARN);
	assert_non_null(c);
	assert_string_equal(w, "");
	config_free(&c);
	free(w);
}

/* ---------------------------------------------------------------- CSV */

static bool csv(const char *text, struct config_account **a, size_t *n, struct err *err)
{
	return config_parse_accounts("sales.csv", text, strlen(text), a, n, err);
}

static void free_accounts(struct config_account *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].email);
		free(a[i].old_user);
		free(a[i].new_user);
		secret_free(&a[i].old_password);
		secret_free(&a[i].new_password);
	}
	free(a);
}

static void test_csv_basic(void **state)
{
	struct config_account *a;
	size_t n;
	struct err err;

	(void)state;
	/* any column order, extra columns ignored, case-insensitive header */
	assert_true(csv(" New_Password ,note,EMAIL,old_password, old_user\n"
			"np1,hello,alice@x.jp,op1,alice-old\n"
			",,bob@x.jp,,\n", &a, &n, &err));
	assert_int_equal(n, 2);
	assert_string_equal(a[0].email, "alice@x.jp");
	assert_string_equal(a[0].old_user, "alice-old");
	assert_string_equal(a[0].old_password, "op1");
	assert_string_equal(a[0].new_user, "alice@x.jp");
	assert_string_equal(a[0].new_password, "np1");
	assert_int_equal(a[0].line, 2);
	assert_string_equal(a[1].email, "bob@x.jp");
	assert_string_equal(a[1].old_user, "bob@x.jp");
	assert_null(a[1].old_password);
	assert_null(a[1].new_password);
	assert_int_equal(a[1].line, 3);
	free_accounts(a, n);

	/* header only: no accounts, not an error */
	assert_true(csv("email,old_password\n", &a, &n, &err));
	assert_int_equal(n, 0);
	assert_null(a);

	/* email only, no final line end */
	assert_true(csv("email\ncarol@x.jp", &a, &n, &err));
	assert_int_equal(n, 1);
	assert_string_equal(a[0].email, "carol@x.jp");
	assert_string_equal(a[0].old_user, "carol@x.jp");
	assert_string_equal(a[0].new_user, "carol@x.jp");
	free_accounts(a, n);
}

static void test_csv_quoting(void **state)
{
	struct config_account *a;
	size_t n;
	struct err err;

	(void)state;
	assert_true(csv("email,old_password,new_password,old_user\n"
			"\"a@x.jp\",\"p,1\",\"he said \"\"hi\"\"\",\"olda\"\n"
			"b@x.jp,\"line1\nline2\r\nline3\",\"\",b\n"   /* rows 3-5 */
			"c@x.jp,  \"  spaced  \"  , raw\"quote ,c\n"  /* row 6 */
			"d@x.jp,\"\",,\"\"\n", &a, &n, &err));
	assert_int_equal(n, 4);
	assert_string_equal(a[0].email, "a@x.jp");
	assert_string_equal(a[0].old_password, "p,1");
	assert_string_equal(a[0].new_password, "he said \"hi\"");
	assert_string_equal(a[0].old_user, "olda");
	assert_int_equal(a[0].line, 2);
	assert_string_equal(a[1].old_password, "line1\nline2\r\nline3");
	assert_null(a[1].new_password);
	assert_int_equal(a[1].line, 3);
	/* blanks around a quoted field are outside it; unquoted fields keep them */
	assert_string_equal(a[2].old_password, "  spaced  ");
	assert_string_equal(a[2].new_password, " raw\"quote ");
	assert_int_equal(a[2].line, 6);
	assert_null(a[3].old_password);
	assert_string_equal(a[3].old_user, "d@x.jp");
	assert_int_equal(a[3].line, 7);
	free_accounts(a, n);
}

static void test_csv_line_ends_bom_blank(void **state)
{
	struct config_account *a;
	size_t n;
	struct err err;

	(void)state;
	assert_true(csv("\xef\xbb\xbf\r\n"
			"email,old_password\r\n"
			"\r\n"
			"a@x.jp,pw a \r\n"
			"   \r\n"
			"\n"
			"b@x.jp,\"q\"\r\n"
			"\r\n", &a, &n, &err));
	assert_int_equal(n, 2);
	assert_string_equal(a[0].email, "a@x.jp");
	assert_string_equal(a[0].old_password, "pw a ");   /* kept as written, no CR */
	assert_int_equal(a[0].line, 4);
	assert_string_equal(a[1].old_password, "q");
	assert_int_equal(a[1].line, 7);
	free_accounts(a, n);

	/* emails and users are trimmed; a BOM-only file has no header */
	assert_true(csv("email,new_user\n  e@x.jp  ,\tnu\t\n", &a, &n, &err));
	assert_string_equal(a[0].email, "e@x.jp");
	assert_string_equal(a[0].new_user, "nu");
	free_accounts(a, n);
}

struct csv_error_case {
	const char *text;
	const char *msg;        /* the message starts with this */
};

static const struct csv_error_case csv_errors[] = {
	{ "", "sales.csv: no header row" },
	{ "\xef\xbb\xbf\n\n", "sales.csv: no header row" },
	{ "user,password\nalice@x,pw\n", "sales.csv:1: the header row has no 'email' column" },
	{ "\n\nmail,pw\n", "sales.csv:3: the header row has no 'email' column" },
	{ "email,old_user,EMAIL\n", "sales.csv:1: column 'email' appears twice" },
	{ "email\na@x.jp\nb@x.jp\nA@X.jp\n",
	  "sales.csv:4: duplicate email 'A@X.jp' (also on line 2); keep one row per account" },
	{ "email\nz@x\ny@x\n\"multi\nline@x\"\ny@x\nz@x\n",
	  "sales.csv:4: email 'multi\nline@x' contains a space or control character" },
	{ "email\nz@x\ny@x\nq@x\ny@x\nz@x\n",
	  "sales.csv:5: duplicate email 'y@x' (also on line 3)" },
	{ "email\nbob\n", "sales.csv:2: email 'bob' is not an address (user@domain)" },
	{ "email\n@x.jp\n", "sales.csv:2: email '@x.jp' is not an address" },
	{ "email\nbob@\n", "sales.csv:2: email 'bob@' is not an address" },
	{ "email,old_user\n ,u\n", "sales.csv:2: empty email" },
	{ "email,old_user\nb o@x,u\n", "sales.csv:2: email 'b o@x' contains a space" },
	{ "email,old_user\nbo@x,u v\n", "sales.csv:2: old_user 'u v' contains a space" },
	{ "email,new_user\nbo@x,\"u\tv\"\n", "sales.csv:2: new_user 'u\tv' contains a space" },
	{ "email,old_password\na@x\n", "sales.csv:2: 1 fields but the header has 2" },
	{ "email,old_password\n\na@x,pw,extra\n",
	  "sales.csv:3: 3 fields but the header has 2; put quotes around a value that contains "
	  "a comma" },
	{ "email,old_password\na@x,\"unclosed\nmore\n", "sales.csv:2: a quoted field is not "
	  "closed" },
	{ "email,old_password\na@x,\"pw\"x\n", "sales.csv:2: text after a closing quote" },
	{ "email,old_password\na@x,\"p\nw\"x\n", "sales.csv:3: text after a closing quote" },
	{ "email,old_password\na@x,pw\rx\n", "sales.csv:2: a CR without LF" },
	{ "email\ra@x\r", "sales.csv:1: a CR without LF" },
};

static void test_csv_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof csv_errors / sizeof csv_errors[0]; i++) {
		struct config_account *a = (void *)1;
		size_t n = 99;
		struct err err;

		err_clear(&err);
		if (csv(csv_errors[i].text, &a, &n, &err)) {
			print_message("CSV case %zu parsed but should fail\n", i);
			fail();
		}
		assert_null(a);
		assert_int_equal(n, 0);
		assert_int_equal(err.kind, ERR_KIND_CONFIG);
		assert_prefix(err.msg, csv_errors[i].msg);
	}
}

static void test_csv_nul_and_no_password_in_errors(void **state)
{
	static const char nul[] = "email,old_password\na@x,p\0w\n";
	struct config_account *a;
	size_t n;
	struct err err;

	(void)state;
	assert_false(config_parse_accounts("s.csv", nul, sizeof nul - 1, &a, &n, &err));
	assert_prefix(err.msg, "s.csv:2: NUL byte");
	assert_false(config_parse_accounts("s.csv", "email\n\"a\0", 9, &a, &n, &err));
	assert_prefix(err.msg, "s.csv:2: NUL byte");

	/* errors in rows holding passwords never quote them */
	static const char *const texts[] = {
		"email,old_password,new_password\na@x,hunter2,hunter3,x\n",
		"email,old_password,new_password\nbad,hunter2,hunter3\n",
		"email,old_password\na@x,\"hunter2\"junk\n",
		"email,old_password\na@x,\"hunter2\n",
		"email,old_password\na@x,hunter2\na@x,hunter3\n",
		"email,old_user,old_password\na@x,u u,hunter2\n",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		assert_false(csv(texts[i], &a, &n, &err));
		assert_null(strstr(err.msg, "hunter"));
	}
}

static void test_csv_large(void **state)
{
	/* many rows: the duplicate check must stay fast and find the pair */
	enum { N = 50000 };
	size_t cap = (size_t)N * 40 + 64, len = 0;
	char *text = malloc(cap);
	struct config_account *a;
	size_t n;
	struct err err;

	(void)state;
	len += (size_t)snprintf(text + len, cap - len, "email,old_password\n");
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, cap - len, "user%d@example.jp,pw%d\n", i, i);
	assert_true(config_parse_accounts("big.csv", text, len, &a, &n, &err));
	assert_int_equal(n, N);
	assert_string_equal(a[N - 1].email, "user49999@example.jp");
	assert_int_equal(a[N - 1].line, N + 1);
	free_accounts(a, n);
	len += (size_t)snprintf(text + len, cap - len, "USER777@example.jp,x\n");
	assert_false(config_parse_accounts("big.csv", text, len, &a, &n, &err));
	assert_string_equal(err.msg, "big.csv:50002: duplicate email 'USER777@example.jp' (also "
			    "on line 779); keep one row per account");
	free(text);
}

/* ------------------------------------------------- CSVs through the config */

static void test_csv_on_disk(void **state)
{
	struct tmp *t = *state;
	struct err err;
	struct config *c;
	char *w, *dir_conf;

	assert_int_equal(mkdir(path_in(t, "conf"), 0700), 0);
	dir_conf = strdup(path_in(t, "conf/mailshift.conf"));
	write_str(t, "conf/mailshift.conf",
		  "[group sales]\naccounts = sales.csv\n[group eng]\naccounts = ../eng.csv\n", 0600);
	write_str(t, "conf/sales.csv", "email,old_password\na@x.jp,pw1\n", 0644);
	write_str(t, "eng.csv", "email\nb@x.jp\n", 0600);

	/* relative to the config file's folder, with a warning for 0644 */
	capture_start();
	c = config_load(dir_conf, &err);
	w = capture_end();
	if (c == NULL) {
		print_message("%s\n", err.msg);
		fail();
	}
	assert_string_equal(c->groups[0].accounts_path, path_in(t, "conf/sales.csv"));
	assert_string_equal(c->groups[1].accounts_file, "../eng.csv");
	assert_string_equal(c->groups[1].accounts_path, path_in(t, "conf/../eng.csv"));
	assert_string_equal(c->groups[1].accounts[0].email, "b@x.jp");
	assert_contains(w, "accounts file ");
	assert_contains(w, "conf/sales.csv is readable by group or others");
	assert_contains(w, "chmod 600");
	assert_null(strstr(w, "eng.csv"));      /* 0600: no warning */
	assert_null(strstr(w, "pw1"));
	config_free(&c);
	free(w);

	/* world-readable (0604) warns too; group-writable-only (0620) does not */
	assert_int_equal(chmod(path_in(t, "conf/sales.csv"), 0604), 0);
	assert_int_equal(chmod(path_in(t, "eng.csv"), 0620), 0);
	capture_start();
	c = config_load(dir_conf, &err);
	w = capture_end();
	assert_non_null(c);
	assert_contains(w, "sales.csv is readable");
	assert_null(strstr(w, "eng.csv"));
	config_free(&c);
	free(w);
	assert_int_equal(chmod(path_in(t, "conf/sales.csv"), 0600), 0);

	/* a CSV error names the CSV and its line */
	write_str(t, "eng.csv", "email,old_password\nb@x.jp,1\n\nnot-an-address,2\n", 0600);
	c = config_load(dir_conf, &err);
	assert_null(c);
	assert_contains(err.msg, "eng.csv:4: email 'not-an-address' is not an address");
	assert_prefix(err.msg, path_in(t, "conf/../eng.csv:4: "));

	/* the same address in two groups */
	write_str(t, "eng.csv", "email\nz@x.jp\nq@x.jp\nA@x.JP\n", 0600);
	c = config_load(dir_conf, &err);
	assert_null(c);
	assert_contains(err.msg, "eng.csv:4: 'A@x.JP' is also in group 'sales' (");
	assert_contains(err.msg, "sales.csv:2); an account belongs to one group only");

	/* an empty CSV */
	write_str(t, "eng.csv", "", 0600);
	c = config_load(dir_conf, &err);
	assert_null(c);
	assert_contains(err.msg, "eng.csv: no header row");

	/* a folder is not a CSV */
	write_str(t, "conf/mailshift.conf", "[group a]\naccounts = .\n", 0600);
	c = config_load(dir_conf, &err);
	assert_null(c);
	assert_contains(err.msg, "accounts file ");
	assert_contains(err.msg, "conf/. is not a regular file");
	free(dir_conf);
}

static void test_load_errors(void **state)
{
	struct tmp *t = *state;
	struct err err;
	char *big;

	assert_null(config_load(path_in(t, "missing.conf"), &err));
	assert_int_equal(err.kind, ERR_KIND_IO);
	assert_contains(err.msg, "cannot open configuration file ");
	assert_contains(err.msg, "missing.conf: No such file or directory");

	assert_null(config_load(NULL, &err));
	assert_int_equal(err.kind, ERR_KIND_USAGE);
	assert_contains(err.msg, "no configuration file");

	assert_null(config_load(t->dir, &err));   /* a folder */
	assert_contains(err.msg, "Is a directory");

	/* too large */
	big = malloc(1100 * 1024);
	memset(big, ';', 1100 * 1024);
	write_file(t, "big.conf", big, 1100 * 1024, 0600);
	free(big);
	assert_null(config_load(path_in(t, "big.conf"), &err));
	assert_contains(err.msg, "is larger than 1024 KiB");

	/* a parse error through config_load names the path and line */
	write_str(t, "bad.conf", "[old]\n\ntls = x\n", 0600);
	assert_null(config_load(path_in(t, "bad.conf"), &err));
	assert_prefix(err.msg, path_in(t, "bad.conf:3: [old] tls = 'x'"));
}

/* ----------------------------------------------------------- secrets */

static void expect_secret_error(struct tmp *t, const char *name, const char *text, size_t len,
				const char *want)
{
	struct err err;

	write_file(t, name, text, len, 0600);
	err_clear(&err);
	assert_null(secret_read_file(path_in(t, name), &err));
	assert_contains(err.msg, want);
	assert_null(strstr(err.msg, "hunter"));
}

static void test_secret(void **state)
{
	struct tmp *t = *state;
	struct err err;
	char *s, *w;

	write_str(t, "pw", "hunter2\nsecond line\n", 0600);
	capture_start();
	s = secret_read_file(path_in(t, "pw"), &err);
	w = capture_end();
	assert_non_null(s);
	assert_string_equal(s, "hunter2");
	assert_string_equal(w, "");
	free(w);
	secret_free(&s);
	assert_null(s);
	secret_free(&s);
	secret_free(NULL);

	write_str(t, "pw", "hunter2 with spaces \r\n", 0600);
	s = secret_read_file(path_in(t, "pw"), &err);
	assert_string_equal(s, "hunter2 with spaces ");
	secret_free(&s);

	write_str(t, "pw", "no-line-end", 0600);
	s = secret_read_file(path_in(t, "pw"), &err);
	assert_string_equal(s, "no-line-end");
	secret_free(&s);

	/* readable by others: a warning naming the file, never the content */
	write_str(t, "pw", "hunter2\n", 0644);
	capture_start();
	s = secret_read_file(path_in(t, "pw"), &err);
	w = capture_end();
	assert_string_equal(s, "hunter2");
	assert_contains(w, "readable by group or others; run chmod 600 ");
	assert_contains(w, path_in(t, "pw"));
	assert_null(strstr(w, "hunter2"));
	free(w);
	secret_free(&s);

	/* a long token, exactly at the limit */
	char *tok = malloc(65537);
	memset(tok, 'T', 65536);
	tok[65536] = '\n';
	write_file(t, "tok", tok, 65537, 0600);
	s = secret_read_file(path_in(t, "tok"), &err);
	assert_non_null(s);
	assert_int_equal(strlen(s), 65536);
	secret_free(&s);
	write_file(t, "tok2", tok, 65536, 0600);        /* no line end: fine too */
	s = secret_read_file(path_in(t, "tok2"), &err);
	assert_non_null(s);
	assert_int_equal(strlen(s), 65536);
	secret_free(&s);
	free(tok);

	expect_secret_error(t, "empty", "", 0, "the first line is empty");
	expect_secret_error(t, "nl", "\nhunter2\n", 9, "the first line is empty");
	expect_secret_error(t, "crlf", "\r\nhunter2\n", 10, "the first line is empty");
	expect_secret_error(t, "nul", "hun\0ter", 7, "contains a NUL byte");

	char *huge = malloc(70000);
	memset(huge, 'h', 70000);
	expect_secret_error(t, "huge", huge, 70000, "longer than 65536 bytes");
	free(huge);

	assert_null(secret_read_file(path_in(t, "none"), &err));
	assert_int_equal(err.kind, ERR_KIND_IO);
	assert_contains(err.msg, "cannot open password file ");
	assert_null(secret_read_file(t->dir, &err));
	assert_contains(err.msg, "is not a regular file");
	assert_null(secret_read_file("/dev/zero", &err));
	assert_contains(err.msg, "is not a regular file");
	assert_null(secret_read_file("", &err));
	assert_contains(err.msg, "empty password file name");
}

static void test_default_path(void **state)
{
	struct tmp *t = *state;
	char cwd[4096];
	struct stat st;
	const char *p;

	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(t->dir), 0);
	p = config_default_path();
	if (stat("/etc/mailshift/mailshift.conf", &st) == 0)
		assert_string_equal(p, "/etc/mailshift/mailshift.conf");
	else
		assert_null(p);
	write_str(t, "mailshift.conf", "", 0600);
	p = config_default_path();
	assert_string_equal(p, "./mailshift.conf");
	assert_int_equal(chdir(cwd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_example, tmp_setup, tmp_teardown),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_state_not_echoed),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_csv_basic),
		cmocka_unit_test(test_csv_quoting),
		cmocka_unit_test(test_csv_line_ends_bom_blank),
		cmocka_unit_test(test_csv_errors),
		cmocka_unit_test(test_csv_nul_and_no_password_in_errors),
		cmocka_unit_test(test_csv_large),
		cmocka_unit_test_setup_teardown(test_csv_on_disk, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_secret, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_default_path, tmp_setup, tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
