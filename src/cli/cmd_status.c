/* cmd_status.c — `mailshift status`: one screen for the migration: groups
 * and their phases, the relay's counters per destination (accepted,
 * delivered, deferred, rejected, bounced, expired) from the state store, and
 * what the relay's queue holds now per destination ("queued": deliveries
 * still to make, counted from the spool itself, which stays exact across
 * crashes where a running counter would drift). (Sync lag and DNS state
 * join it later.) */
#include <getopt.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/json.h"
#include "relay/spool.h"
#include "store/store.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailshift status [-c FILE] [--json]\n"
		"\n"
		"Groups and phases, relay counters per destination, the relay's queue.\n");
}

static const unsigned dest_bits[SPOOL_NDEST] = { SPOOL_OLD, SPOOL_NEW, SPOOL_BOUNCE };

/* Messages in a spool folder, and per destination the deliveries not ended. */
static void count_spool(struct spool *sp, enum spool_where where, size_t *n_r,
			uint64_t pend[SPOOL_NDEST])
{
	char (*ids)[SPOOL_ID_SIZE] = NULL;
	size_t n = 0;
	struct err err;

	err_clear(&err);
	*n_r = 0;
	if (!spool_list(sp, where, &ids, &n, &err))
		return;
	for (size_t k = 0; k < n; k++) {
		struct spool_env e = { 0 };
		struct spool_status st = { 0 };
		err_clear(&err);
		if (!spool_load(sp, where, ids[k], &e, &st, &err))
			continue;   /* delivered meanwhile */
		(*n_r)++;
		for (size_t i = 0; i < e.nrcpt; i++)
			for (unsigned d = 0; d < SPOOL_NDEST; d++)
				if ((e.rcpts[i].dests & dest_bits[d]) &&
				    st.st[i * SPOOL_NDEST + d].outcome == SPOOL_PENDING)
					pend[d]++;
		spool_env_free(&e);
		spool_status_free(&st);
	}
	spool_ids_free(ids);
}

/* The counters of one destination, with "queued" from the spool. */
static void dest_json(struct buf *b, const struct store_relay_counter *cv, size_t nc,
		      const char *dest, uint64_t queued)
{
	int k = 1;
	buf_append_char(b, '{');
	for (size_t i = 0; i < nc; i++)
		/* queued: the spool's count (the relay's gauge in the store lags
		 * by up to a second and is absent when no relay ran) */
		if (strcmp(cv[i].dest, dest) == 0 && strcmp(cv[i].name, "queued") != 0) {
			json_key(b, cv[i].name, &k);
			buf_printf(b, "%lld", (long long)cv[i].value);
		}
	json_key(b, "queued", &k);
	buf_printf(b, "%llu", (unsigned long long)queued);
	buf_append_char(b, '}');
}

int cmd_status(int argc, char **argv)
{
	const char *cpath = NULL;
	bool json = false;
	struct err err;
	int rc = cli_parse_common(argc, argv, usage, &cpath, &json);

	if (rc >= 0)
		return rc;
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	struct config *cfg = cli_load_config("status", cpath);
	if (cfg == NULL)
		return EXIT_USAGE;
	err_clear(&err);
	struct store_relay_counter *cv = NULL;
	size_t nc = 0;
	if (cfg->state) {
		struct store *st = store_open(cfg->state, &err);
		if (st == NULL || !store_relay_counters(st, &cv, &nc, &err)) {
			fprintf(stderr, "mailshift status: %s\n", err.msg);
			store_close(&st);
			config_free(&cfg);
			return EXIT_USAGE;
		}
		store_close(&st);
	}
	size_t nq = 0, nh = 0;
	uint64_t pend[SPOOL_NDEST] = { 0 };
	bool relay_running = false;
	struct spool *sp = cfg->relay.spool ? spool_open(cfg->relay.spool, 0, &err) : NULL;
	if (sp) {
		count_spool(sp, SPOOL_QUEUE, &nq, pend);
		count_spool(sp, SPOOL_HOLD, &nh, pend);
		relay_running = spool_locked(sp);
		spool_close(&sp);
	}
	struct buf b;
	buf_init(&b, 0);
	if (json) {
		int f = 1;
		buf_append_char(&b, '{');
		json_key(&b, "groups", &f);
		buf_append_char(&b, '[');
		for (size_t i = 0; i < cfg->group_count; i++) {
			int g = 1;
			buf_append_str(&b, i ? ",{" : "{");
			json_key(&b, "name", &g);
			json_str(&b, cfg->groups[i].name);
			json_key(&b, "phase", &g);
			json_str(&b, cfg->groups[i].phase);
			json_key(&b, "accounts", &g);
			buf_printf(&b, "%zu", cfg->groups[i].account_count);
			buf_append_char(&b, '}');
		}
		buf_append_char(&b, ']');
		json_key(&b, "relay", &f);
		buf_append_char(&b, '{');
		int g = 1;
		json_key(&b, "running", &g);
		buf_append_str(&b, relay_running ? "true" : "false");
		json_key(&b, "queue", &g);
		buf_printf(&b, "%zu", nq);
		json_key(&b, "hold", &g);
		buf_printf(&b, "%zu", nh);
		json_key(&b, "counters", &g);
		buf_append_char(&b, '{');
		int h = 1;
		for (unsigned d = 0; d < SPOOL_NDEST; d++) {
			json_key(&b, spool_dest_name(dest_bits[d]), &h);
			dest_json(&b, cv, nc, spool_dest_name(dest_bits[d]), pend[d]);
		}
		buf_append_str(&b, "}}}\n");
	} else {
		buf_printf(&b, "groups:\n");
		for (size_t i = 0; i < cfg->group_count; i++)
			buf_printf(&b, "  %-20s phase %-5s %zu account(s)\n", cfg->groups[i].name,
				   cfg->groups[i].phase ? cfg->groups[i].phase : "old",
				   cfg->groups[i].account_count);
		buf_printf(&b, "relay: %s; queue: %zu message(s), on hold: %zu\n",
			   relay_running ? "running" : "not running", nq, nh);
		for (unsigned d = 0; d < SPOOL_NDEST; d++) {
			const char *dn = spool_dest_name(dest_bits[d]);
			buf_printf(&b, "  %-7s queued=%llu", dn, (unsigned long long)pend[d]);
			for (size_t i = 0; i < nc; i++)
				if (strcmp(cv[i].dest, dn) == 0 && strcmp(cv[i].name, "queued") != 0)
					buf_printf(&b, " %s=%lld", cv[i].name, (long long)cv[i].value);
			buf_append_char(&b, '\n');
		}
	}
	fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
	store_relay_counters_free(cv, nc);
	config_free(&cfg);
	return EXIT_OK;
}
