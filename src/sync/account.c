/* account.c — sync one account: connect to both servers, map the old
 * folders onto new ones, copy each folder, and recover from dropped
 * connections by reconnecting and redoing the folder (copy.c skips what
 * already arrived, so a redo never duplicates). See sync.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "sync/copy.h"
#include "sync/folder_map.h"
#include "sync/mailbox.h"
#include "sync/sync.h"

void sync_options_default(struct sync_options *o)
{
	memset(o, 0, sizeof *o);
	o->use_multiappend = true;
	o->batch_messages = 100;
	o->batch_bytes = 16 * 1024 * 1024;
	o->window = 8;
	o->retries = 3;
	o->retry_delay_ms = 1000;
}

struct session {
	struct imap_client *old_c, *new_c;
	struct mailbox_list old_l, new_l;
};

static void session_close(struct session *s)
{
	imap_client_close(&s->old_c);
	imap_client_close(&s->new_c);
	mailbox_list_free(&s->old_l);
	mailbox_list_free(&s->new_l);
}

static bool session_open(const struct sync_account *a, struct session *s, struct err *err)
{
	memset(s, 0, sizeof *s);
	s->old_c = imap_client_connect(&a->old_ep, err);
	if (s->old_c == NULL)
		goto fail;
	s->new_c = imap_client_connect(&a->new_ep, err);
	if (s->new_c == NULL)
		goto fail;
	if (!mailbox_list_fetch(s->old_c, &s->old_l, err) ||
	    !mailbox_list_fetch(s->new_c, &s->new_l, err))
		goto fail;
	return true;
fail:
	session_close(s);
	return false;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static struct folder_map *build_map(const struct session *s)
{
	struct folder_side os = { .sep = s->old_l.sep, .prefix = s->old_l.prefix };
	struct folder_side ns = { .sep = s->new_l.sep, .prefix = s->new_l.prefix };
	struct folder_map *map = folder_map_new(&os, &ns);

	for (size_t i = 0; i < s->new_l.count; i++)
		folder_map_add_target(map, s->new_l.boxes[i].utf8, s->new_l.boxes[i].use);
	return map;
}

static void warn(const struct sync_options *o, const char *account, const char *msg)
{
	if (o->ops && o->ops->warning)
		o->ops->warning(o->ctx, account, msg);
}

bool sync_account_run(const struct sync_account *a, const struct sync_options *o,
		      struct sync_account_result *res)
{
	struct session s;
	struct folder_map *map = NULL;
	unsigned attempts = 0;
	double t0 = now();
	char **done_names = NULL;
	size_t ndone = 0;

	memset(res, 0, sizeof *res);
	res->account = xstrdup(a->label);
	err_clear(&res->err);

	for (;;) {
		struct err err;
		err_clear(&err);
		if (!session_open(a, &s, &err)) {
			if (err.retry && attempts < o->retries) {
				warn(o, a->label, err.msg);
				sleep_ms(o->retry_delay_ms << attempts);
				attempts++;
				res->reconnects++;
				continue;
			}
			res->err = err;
			break;
		}
		map = build_map(&s);
		bool lost = false;
		for (size_t i = 0; i < s.old_l.count; i++) {
			const struct mailbox *src = &s.old_l.boxes[i];
			/* After a reconnect the list is fetched again; skip
			 * the folders finished before the connection dropped. */
			bool finished = false;
			for (size_t d = 0; d < ndone && !finished; d++)
				finished = strcmp(done_names[d], src->utf8) == 0;
			if (finished)
				continue;
			bool renamed = false;
			char *dst = folder_map_name(map, src->utf8, src->use, &renamed);
			char *wire = mailbox_wire_name(dst);
			struct sync_folder_result *fr = NULL;
			for (size_t k = 0; k < res->folder_count; k++)
				if (strcmp(res->folders[k].old_name, src->utf8) == 0)
					fr = &res->folders[k];
			if (fr == NULL) {
				res->folders = xreallocarray(res->folders, res->folder_count + 1,
							     sizeof *res->folders);
				fr = &res->folders[res->folder_count++];
				memset(fr, 0, sizeof *fr);
				fr->old_name = xstrdup(src->utf8);
				fr->new_name = xstrdup(dst);
				fr->renamed = renamed;
			}
			if (wire == NULL) {
				fr->error = xasprintf("folder name '%s' is not valid UTF-8", dst);
				free(dst);
				continue;
			}
			struct copy_job job = {
				.old_c = s.old_c,
				.new_c = s.new_c,
				.src = src,
				.dst_wire = wire,
				.dst_exists = mailbox_list_find(&s.new_l, dst) != NULL ||
					      strcmp(dst, "INBOX") == 0,
				.opts = o,
				.account = a->label,
				.res = fr,
			};
			/* A redo starts the folder's counters afresh: what
			 * arrived before the drop now counts as skipped. */
			uint64_t copied0 = fr->copied;
			fr->total = 0;
			fr->skipped = 0;
			fr->failed = 0;
			bool ok = copy_folder(&job, &err);
			free(wire);
			free(dst);
			/* Messages copied before a drop are found on new by the
			 * redo; they were copied by this run, not skipped. */
			fr->skipped -= copied0 < fr->skipped ? copied0 : fr->skipped;
			if (ok || err.scope == ERR_SCOPE_FOLDER || err.scope == ERR_SCOPE_MESSAGE) {
				if (!ok) {
					free(fr->error);
					fr->error = xstrdup(err.msg);
				}
				if (o->ops && o->ops->folder_end)
					o->ops->folder_end(o->ctx, a->label, fr);
				done_names = xreallocarray(done_names, ndone + 1, sizeof *done_names);
				done_names[ndone++] = xstrdup(src->utf8);
				err_clear(&err);
				continue;
			}
			if (err.retry && attempts < o->retries) {
				warn(o, a->label, err.msg);
				attempts++;
				res->reconnects++;
				lost = true;
				break;
			}
			free(fr->error);
			fr->error = xstrdup(err.msg);
			res->err = err;
			break;
		}
		folder_map_free(&map);
		session_close(&s);
		if (lost) {
			sleep_ms(o->retry_delay_ms << (attempts - 1));
			continue;
		}
		break;
	}
	for (size_t d = 0; d < ndone; d++)
		free(done_names[d]);
	free(done_names);

	for (size_t k = 0; k < res->folder_count; k++) {
		struct sync_folder_result *f = &res->folders[k];
		res->copied += f->copied;
		res->skipped += f->skipped;
		res->failed += f->failed;
		res->bytes += f->bytes;
		res->total += f->total;
	}
	res->seconds = now() - t0;
	if (err_is_set(&res->err))
		return false;
	for (size_t k = 0; k < res->folder_count; k++)
		if (res->folders[k].error != NULL)
			return false;
	return res->failed == 0;
}

void sync_account_result_free(struct sync_account_result *res)
{
	for (size_t k = 0; k < res->folder_count; k++) {
		free(res->folders[k].old_name);
		free(res->folders[k].new_name);
		free(res->folders[k].error);
	}
	free(res->folders);
	free(res->account);
	memset(res, 0, sizeof *res);
}
