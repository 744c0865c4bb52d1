/* cmd_queue.c — `mailshift queue list|show ID|flush|hold ID|release ID|delete ID`,
 * the relay's postqueue/postsuper.
 *
 * list and show read the spool files (read-only; safe while the relay
 * runs: files appear by rename and logs only grow). Changes go through the
 * running relay's control socket so that its in-memory queue agrees; with
 * no relay running (the spool's lock is free) they change the files
 * directly.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "relay/spool.h"

#define DEFAULT_SPOOL "/var/spool/mailshift"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailshift queue [-c FILE] [--json] list\n"
		"       mailshift queue [-c FILE] show ID\n"
		"       mailshift queue [-c FILE] flush | hold ID | release ID | delete ID\n"
		"\n"
		"The relay's queue (the [relay] spool folder): messages accepted and not yet\n"
		"delivered to every destination, and messages on hold.\n"
		"  list      one entry per message: id, arrival, size, sender, and per recipient\n"
		"            where each destination stands (done, deferred with the last reply)\n"
		"  show ID   envelope, delivery log and header of one message\n"
		"  flush     retry every deferred message now\n"
		"  hold ID   keep a message from being delivered; release ID to let it go\n"
		"  delete ID remove a message for good (no bounce)\n"
		"Exit status: 0 done, 1 the message or request was refused, 2 usage/config.\n");
}

static const char *outcome_name(enum spool_outcome o, unsigned attempts)
{
	switch (o) {
	case SPOOL_DONE: return "done";
	case SPOOL_FAILED: return "failed";
	case SPOOL_EXPIRED: return "expired";
	default: return attempts ? "deferred" : "queued";
	}
}

static void fmt_time(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	localtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static const unsigned dest_bits[SPOOL_NDEST] = { SPOOL_OLD, SPOOL_NEW, SPOOL_BOUNCE };

static void print_entry(struct buf *b, const struct spool_env *e, const struct spool_status *st,
			enum spool_where where, bool json, bool *first)
{
	char t[32];
	fmt_time(e->arrival, t, sizeof t);
	if (json) {
		int f = 1;
		if (!*first)
			buf_append_char(b, ',');
		*first = false;
		buf_append_char(b, '{');
		json_key(b, "id", &f);
		json_str(b, e->id);
		json_key(b, "where", &f);
		json_str(b, where == SPOOL_HOLD ? "hold" : "queue");
		json_key(b, "arrival", &f);
		buf_printf(b, "%lld", (long long)e->arrival);
		json_key(b, "size", &f);
		buf_printf(b, "%llu", (unsigned long long)e->size);
		json_key(b, "sender", &f);
		json_str(b, e->sender);
		json_key(b, "message_id", &f);
		json_str(b, e->message_id);
		json_key(b, "recipients", &f);
		buf_append_char(b, '[');
		for (size_t i = 0; i < e->nrcpt; i++) {
			int g = 1;
			buf_append_str(b, i ? ",{" : "{");
			json_key(b, "address", &g);
			json_str(b, e->rcpts[i].addr);
			for (unsigned d = 0; d < SPOOL_NDEST; d++) {
				if (!(e->rcpts[i].dests & dest_bits[d]))
					continue;
				const struct spool_state *s = &st->st[i * SPOOL_NDEST + d];
				int h = 1;
				json_key(b, spool_dest_name(dest_bits[d]), &g);
				buf_append_char(b, '{');
				json_key(b, "state", &h);
				json_str(b, outcome_name(s->outcome, s->attempts));
				json_key(b, "attempts", &h);
				buf_printf(b, "%u", s->attempts);
				json_key(b, "last", &h);
				json_str(b, s->last_text);
				buf_append_char(b, '}');
			}
			buf_append_char(b, '}');
		}
		buf_append_str(b, "]}");
		return;
	}
	buf_printf(b, "%s  %s  %8llu  <%s>%s\n", e->id, t, (unsigned long long)e->size,
		   e->sender, where == SPOOL_HOLD ? "  [on hold]" : "");
	for (size_t i = 0; i < e->nrcpt; i++) {
		buf_printf(b, "    %s", e->rcpts[i].addr);
		for (unsigned d = 0; d < SPOOL_NDEST; d++) {
			if (!(e->rcpts[i].dests & dest_bits[d]))
				continue;
			const struct spool_state *s = &st->st[i * SPOOL_NDEST + d];
			buf_printf(b, "  %s=%s", spool_dest_name(dest_bits[d]),
				   outcome_name(s->outcome, s->attempts));
			if (s->outcome == SPOOL_PENDING && s->attempts && s->last_text)
				buf_printf(b, " (%u tries, last: %.120s)", s->attempts, s->last_text);
		}
		buf_append_char(b, '\n');
	}
}

static int do_list(struct spool *sp, bool json)
{
	static const enum spool_where wh[] = { SPOOL_QUEUE, SPOOL_HOLD };
	struct buf b;
	struct err err;
	bool first = true;
	size_t total = 0;

	buf_init(&b, 0);
	if (json)
		buf_append_str(&b, "{\"messages\":[");
	for (size_t w = 0; w < 2; w++) {
		char (*ids)[SPOOL_ID_SIZE] = NULL;
		size_t n = 0;
		err_clear(&err);
		if (!spool_list(sp, wh[w], &ids, &n, &err)) {
			fprintf(stderr, "mailshift queue: %s\n", err.msg);
			buf_free(&b);
			return EXIT_USAGE;
		}
		for (size_t i = 0; i < n; i++) {
			struct spool_env e = { 0 };
			struct spool_status st = { 0 };
			err_clear(&err);
			if (!spool_load(sp, wh[w], ids[i], &e, &st, &err)) {
				/* gone meanwhile (delivered) or damaged: say so, go on */
				if (spool_find(sp, ids[i], &(enum spool_where){ 0 }))
					fprintf(stderr, "mailshift queue: %s\n", err.msg);
				continue;
			}
			print_entry(&b, &e, &st, wh[w], json, &first);
			total++;
			spool_env_free(&e);
			spool_status_free(&st);
		}
		spool_ids_free(ids);
	}
	if (json)
		buf_printf(&b, "],\"count\":%zu}\n", total);
	else
		buf_printf(&b, total ? "-- %zu message(s)\n" : "Mail queue is empty\n", total);
	fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
	return EXIT_OK;
}

static int do_show(struct spool *sp, const char *id, bool json)
{
	enum spool_where where;
	struct spool_env e = { 0 };
	struct spool_status st = { 0 };
	struct err err;
	struct buf b;
	bool first = true;

	if (!spool_find(sp, id, &where)) {
		fprintf(stderr, "mailshift queue: %s: no such message in the queue or on hold "
				"(delivered ones: mailshift trace %s)\n", id, id);
		return EXIT_PARTIAL;
	}
	err_clear(&err);
	if (!spool_load(sp, where, id, &e, &st, &err)) {
		fprintf(stderr, "mailshift queue: %s\n", err.msg);
		return EXIT_PARTIAL;
	}
	buf_init(&b, 0);
	print_entry(&b, &e, &st, where, json, &first);
	if (json) {
		buf_append_char(&b, '\n');
	} else {
		int fd = -1;
		uint64_t size = 0;
		buf_printf(&b, "client: %s  helo: %s  message-id: %s\n", e.client, e.helo,
			   e.message_id ? e.message_id : "-");
		if (spool_open_data(sp, where, id, &fd, &size, &err)) {
			char h[16384];
			ssize_t k = read(fd, h, sizeof h - 1);
			close(fd);
			if (k > 0) {
				h[k] = '\0';
				char *end = strstr(h, "\r\n\r\n");
				if (end)
					end[2] = '\0';
				buf_append_str(&b, "-- header --\n");
				for (char *p = h; *p; p++)
					if (*p != '\r')
						buf_append_char(&b, *p);
			}
		}
	}
	fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
	spool_env_free(&e);
	spool_status_free(&st);
	return EXIT_OK;
}

/* One request to the running relay; its one-line answer. */
static int control(struct spool *sp, const char *req)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char path[sizeof sun.sun_path];
	char ans[512];
	size_t n = 0;

	snprintf(path, sizeof path, "%s/control", spool_path(sp));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		fprintf(stderr, "mailshift queue: the relay holds the spool but its control "
				"socket %s does not answer: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_CONNECT;
	}
	char *line = xasprintf("%s\n", req);
	if (write(fd, line, strlen(line)) < 0) {
		free(line);
		close(fd);
		return EXIT_CONNECT;
	}
	free(line);
	for (;;) {
		ssize_t k = read(fd, ans + n, sizeof ans - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
		if (memchr(ans, '\n', n) || n == sizeof ans - 1)
			break;
	}
	close(fd);
	ans[n] = '\0';
	ans[strcspn(ans, "\n")] = '\0';
	if (strcmp(ans, "ok") == 0)
		return EXIT_OK;
	fprintf(stderr, "mailshift queue: %s: %s\n", req,
		strncmp(ans, "error ", 6) == 0 ? ans + 6 : "no answer from the relay");
	return EXIT_PARTIAL;
}

static int offline(struct spool *sp, const char *verb, const char *id)
{
	struct err err;
	enum spool_where where;

	if (strcmp(verb, "flush") == 0) {
		printf("no relay is running on %s: the queue is delivered when it starts\n",
		       spool_path(sp));
		return EXIT_OK;
	}
	if (!spool_find(sp, id, &where)) {
		fprintf(stderr, "mailshift queue: %s: no such message\n", id);
		return EXIT_PARTIAL;
	}
	err_clear(&err);
	bool ok;
	if (strcmp(verb, "hold") == 0)
		ok = where == SPOOL_QUEUE && spool_move(sp, id, SPOOL_QUEUE, SPOOL_HOLD, &err);
	else if (strcmp(verb, "release") == 0)
		ok = where == SPOOL_HOLD && spool_move(sp, id, SPOOL_HOLD, SPOOL_QUEUE, &err);
	else
		ok = spool_remove(sp, where, id, &err);
	if (!ok) {
		fprintf(stderr, "mailshift queue: %s %s: %s\n", verb, id,
			err_is_set(&err) ? err.msg
					 : where == SPOOL_HOLD ? "already on hold" : "not on hold");
		return EXIT_PARTIAL;
	}
	return EXIT_OK;
}

int cmd_queue(int argc, char **argv)
{
	const char *cpath = NULL;
	bool json = false;
	struct err err;
	int rc = cli_parse_common(argc, argv, usage, &cpath, &json);

	if (rc >= 0)
		return rc;
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *verb = argv[optind];
	const char *id = optind + 1 < argc ? argv[optind + 1] : NULL;
	bool needs_id = strcmp(verb, "show") == 0 || strcmp(verb, "hold") == 0 ||
			strcmp(verb, "release") == 0 || strcmp(verb, "delete") == 0;
	bool known = needs_id || strcmp(verb, "list") == 0 || strcmp(verb, "flush") == 0;
	if (!known || (needs_id && (id == NULL || optind + 2 != argc)) ||
	    (!needs_id && optind + 1 != argc)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (id && !spool_id_valid(id)) {
		fprintf(stderr, "mailshift queue: '%s' is not a queue id (20 characters, as "
				"'queue list' shows)\n", id);
		return EXIT_USAGE;
	}
	struct config *cfg = cli_load_config("queue", cpath);
	if (cfg == NULL)
		return EXIT_USAGE;
	err_clear(&err);
	struct spool *sp = spool_open(cfg->relay.spool ? cfg->relay.spool : DEFAULT_SPOOL, 0,
				      &err);
	config_free(&cfg);
	if (sp == NULL) {
		fprintf(stderr, "mailshift queue: %s\n", err.msg);
		return EXIT_USAGE;
	}
	if (strcmp(verb, "list") == 0) {
		rc = do_list(sp, json);
	} else if (strcmp(verb, "show") == 0) {
		rc = do_show(sp, id, json);
	} else if (spool_locked(sp)) {
		char *req = id ? xasprintf("%s %s", verb, id) : xstrdup(verb);
		rc = control(sp, req);
		free(req);
	} else {
		rc = offline(sp, verb, id);
	}
	spool_close(&sp);
	return rc;
}
