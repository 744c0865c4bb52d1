/* test_router.c — phase routing and who is accepted at all.
 *
 * Configs are built by hand (what config_parse would produce) so each test
 * states exactly the groups and words it routes by; one test goes through
 * config_parse with a real CSV to prove the two fit together. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/config.h"
#include "relay/router.h"
#include "relay/spool.h"

static void assert_contains(const char *hay, const char *needle)
{
	if (hay == NULL || strstr(hay, needle) == NULL) {
		print_message("'%s'\n  does not contain '%s'\n", hay ? hay : "(null)", needle);
		fail();
	}
}

static struct config *mkcfg(const char *domains)
{
	struct config *c = xcalloc(1, sizeof *c);

	c->path = xstrdup("t.conf");
	c->domains = domains != NULL ? xstrdup(domains) : NULL;
	c->relay.default_phase = xstrdup("old");
	c->relay.primary = xstrdup("old");
	c->relay.keep_old_copy = xstrdup("no");
	c->relay.recipients = xstrdup("domain");
	return c;
}

static void set(char **slot, const char *v)
{
	free(*slot);
	*slot = v != NULL ? xstrdup(v) : NULL;
}

/* emails: NULL-terminated */
static void add_group(struct config *c, const char *name, const char *phase, ...)
{
	struct config_group *g;
	va_list ap;
	const char *e;

	c->groups = xreallocarray(c->groups, c->group_count + 1, sizeof *c->groups);
	g = &c->groups[c->group_count++];
	memset(g, 0, sizeof *g);
	g->name = xstrdup(name);
	g->phase = phase != NULL ? xstrdup(phase) : NULL;
	va_start(ap, phase);
	while ((e = va_arg(ap, const char *)) != NULL) {
		g->accounts = xreallocarray(g->accounts, g->account_count + 1, sizeof *g->accounts);
		memset(&g->accounts[g->account_count], 0, sizeof g->accounts[0]);
		g->accounts[g->account_count].email = xstrdup(e);
		g->accounts[g->account_count].old_user = xstrdup(e);
		g->accounts[g->account_count].new_user = xstrdup(e);
		g->account_count++;
	}
	va_end(ap);
}

static struct router *build(struct config *c)
{
	struct err err;
	struct router *r = router_new(c, &err);

	if (r == NULL)
		print_message("router_new: %s\n", err.msg);
	assert_non_null(r);
	return r;
}

static void expect_accept(const struct router *r, const char *addr, unsigned dests,
			  const char *group, enum router_phase phase)
{
	struct router_route rt;

	router_route(r, addr, &rt);
	if (!rt.accept) {
		print_message("refused %s: %u %s %s\n", addr, rt.reply_code, rt.enhanced, rt.text);
		fail();
	}
	if (rt.dests != dests) {
		print_message("%s: dests %u, expected %u\n", addr, rt.dests, dests);
		fail();
	}
	if (group == NULL)
		assert_null(rt.group);
	else
		assert_string_equal(rt.group, group);
	assert_int_equal(rt.phase, phase);
	/* whose permanent failure bounces: the server the user reads */
	unsigned want_primary = phase == ROUTER_PHASE_OLD ? SPOOL_OLD
				: phase == ROUTER_PHASE_NEW ? SPOOL_NEW : router_primary(r);
	assert_int_equal(rt.primary, want_primary);
	assert_true(rt.dests & rt.primary);
}

static void expect_refuse(const struct router *r, const char *addr, const char *enhanced)
{
	struct router_route rt;

	router_route(r, addr, &rt);
	if (rt.accept) {
		print_message("accepted %s (dests %u)\n", addr, rt.dests);
		fail();
	}
	assert_int_equal(rt.reply_code, 550);
	assert_string_equal(rt.enhanced, enhanced);
	assert_non_null(rt.text);
	assert_true(rt.text[0] != '\0');
	assert_int_equal(rt.dests, 0);
}

static void test_phases(void **state)
{
	struct config *c = mkcfg("example.jp, example.co.jp");
	struct router *r;

	(void)state;
	add_group(c, "sales", "old", "alice@example.jp", NULL);
	add_group(c, "dev", "both", "bob@example.jp", "carol@example.co.jp", NULL);
	add_group(c, "ops", "new", "dave@example.jp", NULL);
	r = build(c);
	config_free(&c);        /* the router keeps copies */

	expect_accept(r, "alice@example.jp", SPOOL_OLD, "sales", ROUTER_PHASE_OLD);
	expect_accept(r, "bob@example.jp", SPOOL_OLD | SPOOL_NEW, "dev", ROUTER_PHASE_BOTH);
	expect_accept(r, "carol@example.co.jp", SPOOL_OLD | SPOOL_NEW, "dev", ROUTER_PHASE_BOTH);
	expect_accept(r, "dave@example.jp", SPOOL_NEW, "ops", ROUTER_PHASE_NEW);
	/* of no group: default_phase old */
	expect_accept(r, "nobody@example.jp", SPOOL_OLD, NULL, ROUTER_PHASE_OLD);
	assert_int_equal(router_primary(r), SPOOL_OLD);
	router_free(&r);
	assert_null(r);
	router_free(&r);
}

static void test_keep_old_copy_default_phase_primary(void **state)
{
	struct config *c = mkcfg("example.jp");
	struct router *r;

	(void)state;
	set(&c->relay.keep_old_copy, "yes");
	set(&c->relay.default_phase, "new");
	set(&c->relay.primary, "new");
	add_group(c, "ops", "new", "dave@example.jp", NULL);
	add_group(c, "dev", "both", "bob@example.jp", NULL);
	add_group(c, "sales", "old", "alice@example.jp", NULL);
	r = build(c);
	config_free(&c);

	expect_accept(r, "dave@example.jp", SPOOL_NEW | SPOOL_OLD, "ops", ROUTER_PHASE_NEW);
	expect_accept(r, "bob@example.jp", SPOOL_OLD | SPOOL_NEW, "dev", ROUTER_PHASE_BOTH);
	expect_accept(r, "alice@example.jp", SPOOL_OLD, "sales", ROUTER_PHASE_OLD);
	/* default_phase new, with keep_old_copy */
	expect_accept(r, "x@example.jp", SPOOL_NEW | SPOOL_OLD, NULL, ROUTER_PHASE_NEW);
	assert_int_equal(router_primary(r), SPOOL_NEW);
	router_free(&r);

	c = mkcfg("example.jp");
	set(&c->relay.default_phase, "both");
	r = build(c);
	config_free(&c);
	expect_accept(r, "x@example.jp", SPOOL_OLD | SPOOL_NEW, NULL, ROUTER_PHASE_BOTH);
	expect_accept(r, "postmaster", SPOOL_OLD | SPOOL_NEW, NULL, ROUTER_PHASE_BOTH);
	router_free(&r);

	/* NULL words (a hand-built config): old, old, no, domain */
	c = mkcfg("example.jp");
	set(&c->relay.default_phase, NULL);
	set(&c->relay.primary, NULL);
	set(&c->relay.keep_old_copy, NULL);
	set(&c->relay.recipients, NULL);
	add_group(c, "g", NULL, "a@example.jp", NULL);
	r = build(c);
	config_free(&c);
	expect_accept(r, "a@example.jp", SPOOL_OLD, "g", ROUTER_PHASE_OLD);
	expect_accept(r, "z@example.jp", SPOOL_OLD, NULL, ROUTER_PHASE_OLD);
	assert_int_equal(router_primary(r), SPOOL_OLD);
	router_free(&r);
}

static void test_never_open_relay(void **state)
{
	struct config *c = mkcfg("example.jp");
	struct router *r;

	(void)state;
	/* an account at a domain that is not migrated is still not relayed */
	add_group(c, "g", "both", "alice@example.jp", "eve@elsewhere.org", NULL);
	r = build(c);
	config_free(&c);
	expect_refuse(r, "someone@gmail.com", "5.7.1");
	expect_refuse(r, "eve@elsewhere.org", "5.7.1");
	expect_refuse(r, "alice@sub.example.jp", "5.7.1");
	expect_refuse(r, "alice@example.jp.evil.org", "5.7.1");
	expect_refuse(r, "alice@xexample.jp", "5.7.1");
	expect_refuse(r, "alice@[192.0.2.1]", "5.7.1");
	expect_refuse(r, "alice@", "5.7.1");
	expect_refuse(r, "@example.jp", "5.7.1");
	expect_refuse(r, "alice", "5.7.1");
	expect_refuse(r, "", "5.7.1");
	expect_refuse(r, NULL, "5.7.1");
	expect_refuse(r, "postmaster@gmail.com", "5.7.1");
	/* the last '@' is the domain's: a quoted '@' does not smuggle one in */
	expect_refuse(r, "\"x@example.jp\"@evil.org", "5.7.1");
	expect_accept(r, "\"x@evil.org\"@example.jp", SPOOL_OLD, NULL, ROUTER_PHASE_OLD);
	{
		struct router_route rt;

		router_route(r, "x@evil.org", &rt);
		assert_string_equal(rt.text, "Relay access denied");
	}
	router_free(&r);
}

static void test_known_recipients(void **state)
{
	struct config *c = mkcfg("example.jp example.co.jp");     /* spaces separate too */
	struct router *r;
	struct router_route rt;

	(void)state;
	set(&c->relay.recipients, "known");
	add_group(c, "sales", "both", "Alice@Example.JP", "bob@example.co.jp", NULL);
	r = build(c);
	config_free(&c);

	expect_accept(r, "alice@example.jp", SPOOL_OLD | SPOOL_NEW, "sales", ROUTER_PHASE_BOTH);
	expect_accept(r, "ALICE@EXAMPLE.JP", SPOOL_OLD | SPOOL_NEW, "sales", ROUTER_PHASE_BOTH);
	expect_accept(r, "Bob@Example.Co.Jp", SPOOL_OLD | SPOOL_NEW, "sales", ROUTER_PHASE_BOTH);
	/* a quoted local part that needs no quoting is the same mailbox */
	expect_accept(r, "\"alice\"@example.jp", SPOOL_OLD | SPOOL_NEW, "sales",
		      ROUTER_PHASE_BOTH);
	expect_refuse(r, "\"ali ce\"@example.jp", "5.1.1");
	expect_refuse(r, "carol@example.jp", "5.1.1");
	expect_refuse(r, "alice@example.co.jp", "5.1.1");   /* known at the other domain only */
	router_route(r, "carol@example.jp", &rt);
	assert_string_equal(rt.text, "User unknown in relay recipient table");
	/* unknown domain is still 5.7.1, not 5.1.1 */
	expect_refuse(r, "alice@other.jp", "5.7.1");
	/* postmaster: bare (RFC 5321 §4.5.1), any case, and at our domains */
	expect_accept(r, "postmaster", SPOOL_OLD, NULL, ROUTER_PHASE_OLD);
	expect_accept(r, "PostMaster", SPOOL_OLD, NULL, ROUTER_PHASE_OLD);
	expect_accept(r, "POSTMASTER@example.co.jp", SPOOL_OLD, NULL, ROUTER_PHASE_OLD);
	expect_refuse(r, "postmaster2@example.jp", "5.1.1");
	expect_refuse(r, "postmaster@evil.org", "5.7.1");
	router_free(&r);
}

static void test_domain_case(void **state)
{
	struct config *c = mkcfg(" Example.JP,,example.co.jp ,EXAMPLE.jp");
	struct router *r;

	(void)state;
	add_group(c, "g", "new", "dave@EXAMPLE.jp", NULL);
	r = build(c);
	config_free(&c);
	expect_accept(r, "x@example.jp", SPOOL_OLD, NULL, ROUTER_PHASE_OLD);
	expect_accept(r, "x@EXAMPLE.JP", SPOOL_OLD, NULL, ROUTER_PHASE_OLD);
	expect_accept(r, "x@Example.Co.Jp", SPOOL_OLD, NULL, ROUTER_PHASE_OLD);
	expect_accept(r, "DAVE@example.JP", SPOOL_NEW, "g", ROUTER_PHASE_NEW);
	router_free(&r);
}

static void expect_new_error(struct config *c, const char *msg)
{
	struct err err;
	struct router *r = router_new(c, &err);

	if (r != NULL) {
		print_message("router_new accepted; expected '%s'\n", msg);
		router_free(&r);
		fail();
	}
	assert_contains(err.msg, msg);
	assert_int_equal(err.kind, ERR_KIND_CONFIG);
	config_free(&c);
}

static void test_errors(void **state)
{
	struct config *c;

	(void)state;
	c = mkcfg("example.jp");
	add_group(c, "sales", "both", "a@example.jp", NULL);
	add_group(c, "dev", "later", "b@example.jp", NULL);
	expect_new_error(c, "t.conf: [group dev] phase = 'later' is not allowed; use one of: "
			 "old, both, new");

	c = mkcfg("example.jp");
	set(&c->relay.default_phase, "newest");
	expect_new_error(c, "[relay] default_phase = 'newest' is not allowed; use one of: old, "
			 "both, new");

	c = mkcfg("example.jp");
	set(&c->relay.primary, "both");
	expect_new_error(c, "[relay] primary = 'both' is not allowed; use one of: old, new");

	c = mkcfg("example.jp");
	set(&c->relay.recipients, "all");
	expect_new_error(c, "[relay] recipients = 'all' is not allowed; use one of: domain, "
			 "known");

	c = mkcfg("example.jp");
	set(&c->relay.keep_old_copy, "sometimes");
	expect_new_error(c, "[relay] keep_old_copy = 'sometimes' is not allowed");

	c = mkcfg(NULL);
	expect_new_error(c, "[migration] domains is not set");
	c = mkcfg(" , ,");
	expect_new_error(c, "[migration] domains is not set");
	c = mkcfg("example.jp, user@example.org");
	expect_new_error(c, "[migration] domains: 'user@example.org' is not a domain name");
	c = mkcfg("example..jp");
	expect_new_error(c, "'example..jp' is not a domain name");
	c = mkcfg("-example.jp");
	expect_new_error(c, "is not a domain name");
	c = mkcfg("example.jp.");
	expect_new_error(c, "is not a domain name");
}

static void test_phase_name(void **state)
{
	(void)state;
	assert_string_equal(router_phase_name(ROUTER_PHASE_OLD), "old");
	assert_string_equal(router_phase_name(ROUTER_PHASE_BOTH), "both");
	assert_string_equal(router_phase_name(ROUTER_PHASE_NEW), "new");
}

/* Through config_parse and a real CSV: what the relay will really see. */
static void test_from_config_file(void **state)
{
	char dir[] = "/tmp/test_router.XXXXXX";
	char csv[128], conf[128];
	static const char csv_text[] = "email,old_user\nCarol@Example.JP,carol\n";
	static const char conf_fmt[] =
		"[migration]\ndomains = example.jp\n"
		"[relay]\nrecipients = KNOWN\ndefault_phase = Both\n"
		"[group Sales]\nphase = NEW\naccounts = %s\n";
	struct config *c;
	struct router *r;
	struct err err;
	char *text;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(csv, sizeof csv, "%s/s.csv", dir);
	snprintf(conf, sizeof conf, "%s/m.conf", dir);
	fd = open(csv, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, csv_text, strlen(csv_text)), (ssize_t)strlen(csv_text));
	close(fd);
	text = xasprintf(conf_fmt, "s.csv");
	c = config_parse(conf, text, strlen(text), &err);
	free(text);
	if (c == NULL)
		print_message("%s\n", err.msg);
	assert_non_null(c);
	r = build(c);
	config_free(&c);
	expect_accept(r, "carol@example.jp", SPOOL_NEW, "Sales", ROUTER_PHASE_NEW);
	expect_refuse(r, "dan@example.jp", "5.1.1");
	expect_accept(r, "postmaster", SPOOL_OLD | SPOOL_NEW, NULL, ROUTER_PHASE_BOTH);
	router_free(&r);
	unlink(csv);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phases),
		cmocka_unit_test(test_keep_old_copy_default_phase_primary),
		cmocka_unit_test(test_never_open_relay),
		cmocka_unit_test(test_known_recipients),
		cmocka_unit_test(test_domain_case),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_phase_name),
		cmocka_unit_test(test_from_config_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
