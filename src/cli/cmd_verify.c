/* cmd_verify.c — `mailshift verify`: prove that every message of old is on
 * new, folder by folder, by identity. Exit 0 only when nothing is missing.
 * --fix copies what is missing; --dedupe lists extra copies on new and,
 * with --yes, removes them.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_accounts.h"
#include "cli/commands.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "sync/verify.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mailshift verify [-c FILE] [--group G] [--account EMAIL] [--json]\n"
		"                        [--fix] [--dedupe [--yes]]\n"
		"       mailshift verify --old URL --new URL [password/TLS options as for sync]\n"
		"\n"
		"Compares old and new folder by folder by message identity (trace header,\n"
		"Message-ID confirmed by a body hash, ...). Exit 0 only when nothing on old\n"
		"is missing on new.\n"
		"\n"
		"  --fix       copy the missing messages to new\n"
		"  --dedupe    list extra copies on new of a message of old; with --yes remove them\n"
		"  --json      one JSON document on stdout\n"
		"exit: 0 nothing missing, 1 something missing (or a folder failed),\n"
		"      2 usage, 3 authentication, 4 connection, 5 TLS\n");
}

static void json_msgs(struct buf *b, const char *key, const struct verify_msg *v, size_t n,
		      int *first, int kind)
{
	json_key(b, key, first);
	buf_append_char(b, '[');
	for (size_t i = 0; i < n; i++) {
		int f = 1;
		if (i > 0)
			buf_append_char(b, ',');
		buf_append_char(b, '{');
		json_key(b, "uid", &f);
		buf_printf(b, "%u", v[i].uid);
		if (kind == 1) {
			json_key(b, "old_uid", &f);
			buf_printf(b, "%u", v[i].other_uid);
		}
		if (kind == 2) {
			json_key(b, "new_uid", &f);
			buf_printf(b, "%u", v[i].other_uid);
			json_key(b, "old_flags", &f);
			json_str(b, v[i].flags);
			json_key(b, "new_flags", &f);
			json_str(b, v[i].other_flags);
		}
		json_key(b, "message_id", &f);
		json_str(b, v[i].message_id);
		json_key(b, "date", &f);
		json_str(b, v[i].date);
		json_key(b, "subject", &f);
		json_str(b, v[i].subject);
		json_key(b, "size", &f);
		buf_printf(b, "%llu", (unsigned long long)v[i].size);
		buf_append_char(b, '}');
	}
	buf_append_char(b, ']');
}

static const char *status_of(const struct verify_result *r)
{
	if (err_is_set(&r->err))
		return "error";
	for (size_t i = 0; i < r->folder_count; i++)
		if (r->folders[i].error)
			return "error";
	return r->missing > r->fixed ? "missing" : "ok";
}

static void render_json(struct buf *b, const struct verify_result *r)
{
	int first = 1;

	buf_append_char(b, '{');
	json_key(b, "account", &first);
	json_str(b, r->account);
	json_key(b, "status", &first);
	json_str(b, status_of(r));
	json_key(b, "error", &first);
	json_str(b, err_is_set(&r->err) ? r->err.msg : NULL);
	json_key(b, "missing", &first);
	buf_printf(b, "%llu", (unsigned long long)r->missing);
	json_key(b, "duplicates", &first);
	buf_printf(b, "%llu", (unsigned long long)r->duplicates);
	json_key(b, "flag_mismatches", &first);
	buf_printf(b, "%llu", (unsigned long long)r->flag_diff);
	json_key(b, "only_on_new", &first);
	buf_printf(b, "%llu", (unsigned long long)r->only_on_new);
	json_key(b, "fixed", &first);
	buf_printf(b, "%llu", (unsigned long long)r->fixed);
	json_key(b, "removed", &first);
	buf_printf(b, "%llu", (unsigned long long)r->removed);
	json_key(b, "folders", &first);
	buf_append_char(b, '[');
	for (size_t i = 0; i < r->folder_count; i++) {
		const struct verify_folder *f = &r->folders[i];
		int ff = 1;
		if (i > 0)
			buf_append_char(b, ',');
		buf_append_char(b, '{');
		json_key(b, "old", &ff);
		json_str(b, f->old_name);
		json_key(b, "new", &ff);
		json_str(b, f->new_name);
		json_key(b, "old_count", &ff);
		buf_printf(b, "%llu", (unsigned long long)f->old_count);
		json_key(b, "new_count", &ff);
		buf_printf(b, "%llu", (unsigned long long)f->new_count);
		json_msgs(b, "missing", f->missing, f->nmissing, &ff, 0);
		json_msgs(b, "duplicates", f->duplicates, f->nduplicates, &ff, 1);
		json_msgs(b, "flag_mismatches", f->flag_diff, f->nflag_diff, &ff, 2);
		json_key(b, "only_on_new", &ff);
		buf_printf(b, "%llu", (unsigned long long)f->only_on_new);
		json_key(b, "fixed", &ff);
		buf_printf(b, "%llu", (unsigned long long)f->fixed);
		json_key(b, "removed", &ff);
		buf_printf(b, "%llu", (unsigned long long)f->removed);
		json_key(b, "error", &ff);
		json_str(b, f->error);
		buf_append_char(b, '}');
	}
	buf_append_str(b, "]}");
}

static void render_text(const struct verify_result *r, bool dedupe, bool yes)
{
	uint64_t old_total = 0;
	for (size_t i = 0; i < r->folder_count; i++)
		old_total += r->folders[i].old_count;
	printf("%s: %s — %zu folders, %llu messages on old: %llu missing on new%s, "
	       "%llu duplicates on new, %llu flag mismatches, %llu only on new\n",
	       r->account, status_of(r), r->folder_count, (unsigned long long)old_total,
	       (unsigned long long)r->missing, r->fixed ? " (copied now by --fix)" : "",
	       (unsigned long long)r->duplicates, (unsigned long long)r->flag_diff,
	       (unsigned long long)r->only_on_new);
	if (err_is_set(&r->err))
		printf("  error: %s\n", r->err.msg);
	for (size_t i = 0; i < r->folder_count; i++) {
		const struct verify_folder *f = &r->folders[i];
		if (f->error)
			printf("  %s: ERROR: %s\n", f->old_name, f->error);
		for (size_t k = 0; k < f->nmissing; k++)
			printf("  missing: folder '%s' UID %u Message-ID %s date '%s' subject '%s'%s\n",
			       f->old_name, f->missing[k].uid,
			       f->missing[k].message_id ? f->missing[k].message_id : "(none)",
			       f->missing[k].date, f->missing[k].subject,
			       f->fixed ? " (copied)" : "");
		for (size_t k = 0; k < f->nduplicates && dedupe; k++)
			printf("  duplicate: folder '%s' UID %u on new copies old UID %u%s\n",
			       f->new_name, f->duplicates[k].uid, f->duplicates[k].other_uid,
			       yes ? " (removed)" : " (would remove; add --yes)");
	}
}

int cmd_verify(int argc, char **argv)
{
	enum { O_JSON = 256, O_FIX, O_DEDUPE, O_YES };
	static const struct option lo[] = {
		CLI_TARGET_LONGOPTS,
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, O_JSON },
		{ "fix", no_argument, NULL, O_FIX },
		{ "dedupe", no_argument, NULL, O_DEDUPE },
		{ "yes", no_argument, NULL, O_YES },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_target t = { .timeout = 120 };
	bool json = false, fix = false, dedupe = false, yes = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:vh", lo, NULL)) != -1) {
		switch (c) {
		case O_JSON: json = true; break;
		case O_FIX: fix = true; break;
		case O_DEDUPE: dedupe = true; break;
		case O_YES: yes = true; break;
		case 'v': log_set_level(LOG_INFO); break;
		case 'h': usage(stdout); return EXIT_OK;
		default:
			if (cli_target_option(&t, c, optarg))
				break;
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc || t.timeout < 1 || (yes && !dedupe)) {
		fprintf(stderr, "mailshift verify: %s\n",
			yes && !dedupe ? "--yes goes with --dedupe" : "bad arguments");
		return EXIT_USAGE;
	}
	struct acct *v = NULL;
	size_t n = 0;
	struct config *cfg = NULL;
	int rc = cli_accounts_collect(&t, &cfg, &v, &n);
	if (rc != 0)
		return rc;

	struct sync_options so;
	sync_options_default(&so);
	struct verify_options vo = { .fix = fix, .dedupe = dedupe, .dedupe_yes = yes, .sync = &so };
	struct buf out;
	buf_init(&out, 0);
	size_t bad = 0, failed_kind = 0;
	int kind_exit = EXIT_OK;
	bool mixed = false;
	uint64_t missing = 0;
	for (size_t i = 0; i < n; i++) {
		struct verify_result r;
		bool ok = verify_account(&v[i].a, &vo, &r);
		if (json) {
			if (i > 0)
				buf_append_char(&out, ',');
			render_json(&out, &r);
		} else {
			render_text(&r, dedupe, yes);
		}
		missing += r.missing - r.fixed;
		if (!ok) {
			bad++;
			if (err_is_set(&r.err)) {
				int e = cli_exit_for_kind(r.err.kind);
				if (failed_kind++ == 0)
					kind_exit = e;
				else if (kind_exit != e)
					mixed = true;
			} else {
				mixed = true;
			}
		}
		verify_result_free(&r);
	}
	if (bad == 0)
		rc = EXIT_OK;
	else if (bad == n && !mixed && failed_kind == n)
		rc = kind_exit;
	else
		rc = EXIT_PARTIAL;
	if (json)
		printf("{\"accounts\":[%s],\"missing\":%llu,\"exit\":%d}\n",
		       out.data ? out.data : "", (unsigned long long)missing, rc);
	buf_free(&out);
	cli_accounts_free(&cfg, v, n);
	return rc;
}
