/* cmd_trace.c — `mailshift trace ID-or-Message-ID`: the life of one relayed
 * message from the state store: received (client, size, time), delivered
 * to old and to new (time, the remote reply with its queue id), deferrals,
 * bounces; and, while it is still queued, where it stands now. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/json.h"
#include "store/store.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailshift trace [-c FILE] [--json] ID|MESSAGE-ID\n"
		"\n"
		"What the relay did with a message: its queue id (also the X-Mailshift-Trace\n"
		"header of both copies) or its Message-ID (every message carrying it).\n"
		"Exit status: 0 found, 1 nothing recorded, 2 usage/config.\n");
}

int cmd_trace(int argc, char **argv)
{
	const char *cpath = NULL;
	bool json = false;
	struct err err;
	int rc = cli_parse_common(argc, argv, usage, &cpath, &json);

	if (rc >= 0)
		return rc;
	if (optind + 1 != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *key = argv[optind];
	struct config *cfg = cli_load_config("trace", cpath);
	if (cfg == NULL)
		return EXIT_USAGE;
	err_clear(&err);
	if (cfg->state == NULL) {
		fprintf(stderr, "mailshift trace: %s has no [migration] state: the relay records "
				"nothing to trace without it\n", cpath);
		config_free(&cfg);
		return EXIT_USAGE;
	}
	struct store *st = store_open(cfg->state, &err);
	config_free(&cfg);
	if (st == NULL) {
		fprintf(stderr, "mailshift trace: %s\n", err.msg);
		return EXIT_USAGE;
	}
	struct store_relay_event *v = NULL;
	size_t n = 0;
	if (!store_relay_events_find(st, key, &v, &n, &err)) {
		fprintf(stderr, "mailshift trace: %s\n", err.msg);
		store_close(&st);
		return EXIT_USAGE;
	}
	store_close(&st);
	struct buf b;
	buf_init(&b, 0);
	if (json)
		buf_append_str(&b, "{\"events\":[");
	for (size_t i = 0; i < n; i++) {
		const struct store_relay_event *e = &v[i];
		if (json) {
			int f = 1;
			buf_append_str(&b, i ? ",{" : "{");
			json_key(&b, "time_ms", &f);
			buf_printf(&b, "%lld", (long long)e->time_ms);
			json_key(&b, "id", &f);
			json_str(&b, e->trace_id);
			json_key(&b, "message_id", &f);
			json_str(&b, e->message_id);
			json_key(&b, "event", &f);
			json_str(&b, e->event);
			json_key(&b, "dest", &f);
			json_str(&b, e->dest);
			json_key(&b, "rcpt", &f);
			json_str(&b, e->rcpt);
			json_key(&b, "detail", &f);
			json_str(&b, e->detail);
			buf_append_char(&b, '}');
			continue;
		}
		time_t t = (time_t)(e->time_ms / 1000);
		struct tm tm;
		char ts[32];
		localtime_r(&t, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
		buf_printf(&b, "%s.%03d  %s  %-9s %-6s %s%s%s%s%s\n", ts, (int)(e->time_ms % 1000),
			   e->trace_id, e->event, e->dest ? e->dest : "", e->rcpt ? "<" : "",
			   e->rcpt ? e->rcpt : "", e->rcpt ? "> " : "", e->detail ? e->detail : "",
			   e->message_id && strcmp(e->event, "received") == 0 ? "" : "");
		if (e->message_id && strcmp(e->event, "received") == 0)
			buf_printf(&b, "%*smessage-id=%s\n", 49, "", e->message_id);
	}
	if (json)
		buf_printf(&b, "],\"count\":%zu}\n", n);
	else if (n == 0)
		buf_printf(&b, "nothing recorded for %s\n", key);
	fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
	store_relay_events_free(v, n);
	return n > 0 ? EXIT_OK : EXIT_PARTIAL;
}
