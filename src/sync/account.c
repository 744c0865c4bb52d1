/* account.c — sync one account: connect to both servers, map the source
 * folders onto destination folders, follow renames and deletions, sync
 * each folder (folder_sync.c), and recover from dropped connections by
 * reconnecting and redoing the folder (what already arrived is recognised
 * and skipped, so a redo never duplicates). See sync.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "imap/imap_util.h"
#include "store/store.h"
#include "sync/folder_map.h"
#include "sync/folder_sync.h"
#include "sync/mailbox.h"
#include "sync/sync.h"
#include "sync/throttle.h"

volatile int sync_stop_requested;

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
	struct imap_client *src_c, *dst_c;
	struct mailbox_list src_l, dst_l;
};

static void session_close(struct session *s)
{
	imap_client_close(&s->src_c);
	imap_client_close(&s->dst_c);
	mailbox_list_free(&s->src_l);
	mailbox_list_free(&s->dst_l);
}

static bool session_open(const struct imap_endpoint *src, const struct imap_endpoint *dst,
			 struct session *s, struct err *err)
{
	memset(s, 0, sizeof *s);
	s->src_c = imap_client_connect(src, err);
	if (s->src_c == NULL)
		goto fail;
	s->dst_c = imap_client_connect(dst, err);
	if (s->dst_c == NULL)
		goto fail;
	if (!mailbox_list_fetch(s->src_c, &s->src_l, err) ||
	    !mailbox_list_fetch(s->dst_c, &s->dst_l, err))
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
	while (!sync_stop_requested && nanosleep(&ts, &ts) != 0)
		;
}

static struct folder_map *build_map(const struct session *s)
{
	struct folder_side os = { .sep = s->src_l.sep, .prefix = s->src_l.prefix };
	struct folder_side ns = { .sep = s->dst_l.sep, .prefix = s->dst_l.prefix };
	struct folder_map *map = folder_map_new(&os, &ns);

	for (size_t i = 0; i < s->dst_l.count; i++)
		folder_map_add_target(map, s->dst_l.boxes[i].utf8, s->dst_l.boxes[i].use);
	return map;
}

#define warn sync_warn

/* Folders the state knows but the source no longer lists: renamed (a new
 * source folder has the same UIDVALIDITY: rename on the destination too
 * and carry the state over) or deleted (with --delete, remove what we
 * copied there; the folder itself when nothing else is left). */
static bool follow_renames(const char *account, const char *direction, struct store *st,
			   struct session *s, struct folder_map *map, const struct sync_options *o,
			   struct err *err)
{
	struct store_folder *known = NULL;
	size_t nknown = 0;
	bool ok = true;

	if (st == NULL)
		return true;
	if (!store_folder_list(st, account, direction, &known, &nknown, err))
		return false;
	for (size_t i = 0; i < nknown && ok; i++) {
		struct store_folder *f = &known[i];
		if (mailbox_list_find(&s->src_l, f->src_name) != NULL)
			continue;
		/* Which listed source folder, unknown to the state, has its UIDVALIDITY? */
		const struct mailbox *to = NULL;
		for (size_t k = 0; k < s->src_l.count && to == NULL && f->src_uidvalidity != 0; k++) {
			const struct mailbox *m = &s->src_l.boxes[k];
			bool f2 = false;
			struct store_folder tmp;
			if (m->noselect)
				continue;
			if (!store_folder_get(st, account, direction, m->utf8, &tmp, &f2, err)) {
				ok = false;
				break;
			}
			if (f2) {
				store_folder_free(&tmp);
				continue;
			}
			struct imap_mailbox_status ms;
			bool ex = false;
			if (!imap_status(s->src_c, m->wire, &ms, &ex, err)) {
				ok = false;
				break;
			}
			if (ex && ms.uidvalidity == f->src_uidvalidity)
				to = m;
		}
		if (!ok)
			break;
		if (to != NULL) {
			bool renamed = false;
			char *dst = folder_map_name(map, to->utf8, to->use, &renamed);
			bool dst_taken = mailbox_list_find(&s->dst_l, dst) != NULL;
			bool old_there = mailbox_list_find(&s->dst_l, f->dst_name) != NULL;
			if (o->dry_run) {
				sync_would(o, account, "rename folder '%s' to '%s'", f->dst_name, dst);
			} else if (old_there && !dst_taken && strcmp(dst, f->dst_name) != 0) {
				char *ow = mailbox_wire_name(f->dst_name), *nw = mailbox_wire_name(dst);
				char *oq = ow ? imap_quote(ow) : NULL, *nq = nw ? imap_quote(nw) : NULL;
				if (oq && nq)
					ok = imap_run_ok(s->dst_c, ERR_SCOPE_FOLDER, "to rename a folder",
							 err, "RENAME %s %s", oq, nq);
				free(ow); free(nw); free(oq); free(nq);
				if (ok) {
					warn(o, account, "folder '%s' was renamed to '%s' on the %s: "
						"renamed '%s' to '%s' on the %s", f->src_name, to->utf8,
					     imap_client_what(s->src_c), f->dst_name, dst,
					     imap_client_what(s->dst_c));
					/* the list must know the new name now */
					mailbox_list_free(&s->dst_l);
					ok = mailbox_list_fetch(s->dst_c, &s->dst_l, err);
				} else if (err->scope == ERR_SCOPE_FOLDER) {
					warn(o, account, "%s", err->msg);
					err_clear(err);
					ok = true;
				}
			}
			if (ok && !o->dry_run) {
				free(f->src_name);
				f->src_name = xstrdup(to->utf8);
				free(f->dst_name);
				f->dst_name = xstrdup(dst);
				ok = store_folder_put(st, f, err);
			}
			free(dst);
			continue;
		}
		/* Deleted on the source. */
		if (!o->delete_) {
			warn(o, account, "folder '%s' no longer exists on the %s; '%s' is kept on the "
				"%s (--delete removes it)", f->src_name, imap_client_what(s->src_c),
			     f->dst_name, imap_client_what(s->dst_c));
			continue;
		}
		if (o->dry_run) {
			sync_would(o, account, "delete folder '%s' (gone from the source)", f->dst_name);
			continue;
		}
		const struct mailbox *dm = mailbox_list_find(&s->dst_l, f->dst_name);
		if (dm != NULL && strcmp(f->dst_name, "INBOX") != 0 && dm->use == SPECIAL_NONE) {
			/* Remove only what came from the source; delete the folder
			 * when it is then empty (mail delivered there directly stays). */
			struct store_msg *v = NULL;
			size_t n = 0;
			ok = store_msgs_load(st, f->id, &v, &n, err);
			char *q = imap_quote(dm->wire);
			struct imap_mailbox_status ms;
			memset(&ms, 0, sizeof ms);
			imap_client_set_handler(s->dst_c, imap_select_handler, &ms);
			ok = ok && q && imap_run_ok(s->dst_c, ERR_SCOPE_FOLDER, "to open a folder", err,
						    "SELECT %s", q);
			imap_client_set_handler(s->dst_c, NULL, NULL);
			if (ok && n > 0 && imap_client_caps(s->dst_c)->uidplus) {
				uint32_t *u = xcalloc(n, sizeof *u);
				size_t k = 0;
				for (size_t x = 0; x < n; x++)
					if (v[x].dst_uid)
						u[k++] = v[x].dst_uid;
				/* dst uids ascend with src uids for our copies; sort anyway */
				for (size_t x = 1; x < k; x++)
					for (size_t y = x; y > 0 && u[y - 1] > u[y]; y--) {
						uint32_t t = u[y]; u[y] = u[y - 1]; u[y - 1] = t;
					}
				struct buf set;
				buf_init(&set, 0);
				imap_uid_set(&set, u, k);
				if (k > 0)
					ok = imap_run_ok(s->dst_c, ERR_SCOPE_FOLDER, "to mark deleted", err,
							 "UID STORE %s +FLAGS.SILENT (\\Deleted)", set.data) &&
					     imap_run_ok(s->dst_c, ERR_SCOPE_FOLDER, "to expunge", err,
							 "UID EXPUNGE %s", set.data);
				buf_free(&set);
				free(u);
				if (ok)
					ms.exists = ms.exists >= k ? ms.exists - k : 0;
			}
			if (ok && imap_client_caps(s->dst_c)->unselect)
				ok = imap_run_ok(s->dst_c, ERR_SCOPE_FOLDER, "to leave a folder", err,
						 "UNSELECT");
			if (ok && ms.exists == 0)
				ok = imap_run_ok(s->dst_c, ERR_SCOPE_FOLDER, "to delete a folder", err,
						 "DELETE %s", q);
			else if (ok)
				warn(o, account, "folder '%s' kept on the %s: it holds %llu messages "
					"that did not come from the %s", f->dst_name,
				     imap_client_what(s->dst_c), (unsigned long long)ms.exists,
				     imap_client_what(s->src_c));
			free(q);
			store_msgs_free(v, n);
			if (!ok && err->scope == ERR_SCOPE_FOLDER) {
				warn(o, account, "%s", err->msg);
				err_clear(err);
				ok = true;
				continue;
			}
		}
		ok = ok && store_folder_delete(st, f->id, err);
	}
	store_folder_list_free(known, nknown);
	if (ok) {
		mailbox_list_free(&s->dst_l);
		ok = mailbox_list_fetch(s->dst_c, &s->dst_l, err);
	}
	return ok;
}

bool sync_account_run(const struct sync_account *a, const struct sync_options *o,
		      struct sync_account_result *res)
{
	struct session s;
	struct folder_map *map = NULL;
	struct store *st = NULL;
	unsigned attempts = 0;
	double t0 = now();
	char **done_names = NULL;
	size_t ndone = 0;
	const char *direction = o->reverse ? "reverse" : "forward";
	const struct imap_endpoint *src = o->reverse ? &a->new_ep : &a->old_ep;
	const struct imap_endpoint *dst = o->reverse ? &a->old_ep : &a->new_ep;

	memset(res, 0, sizeof *res);
	res->account = xstrdup(a->label);
	err_clear(&res->err);
	if (o->state != NULL) {
		st = store_open(o->state, &res->err);
		if (st == NULL)
			goto finish;
	}

	for (;;) {
		struct err err;
		err_clear(&err);
		if (!session_open(src, dst, &s, &err)) {
			if (err.retry && attempts < o->retries && !sync_stop_requested) {
				warn(o, a->label, "%s", err.msg);
				unsigned ms = o->retry_delay_ms << attempts, hint = throttle_hint_ms(err.msg);
				sleep_ms(hint > ms ? hint : ms);
				attempts++;
				res->reconnects++;
				continue;
			}
			res->err = err;
			break;
		}
		map = build_map(&s);
		bool lost = false;
		if (ndone == 0 && !follow_renames(a->label, direction, st, &s, map, o, &err)) {
			if (err.retry && attempts < o->retries) {
				warn(o, a->label, "%s", err.msg);
				attempts++;
				res->reconnects++;
				lost = true;
			} else {
				res->err = err;
			}
			folder_map_free(&map);
			session_close(&s);
			if (lost) {
				sleep_ms(o->retry_delay_ms << (attempts - 1));
				continue;
			}
			break;
		}
		for (size_t i = 0; i < s.src_l.count; i++) {
			const struct mailbox *sb = &s.src_l.boxes[i];
			if (sync_stop_requested) {
				err_set(&res->err, ERR_SCOPE_RUN, ERR_KIND_INTERNAL, false,
					"interrupted (what was copied is recorded)");
				break;
			}
			/* After a reconnect the list is fetched again; skip
			 * the folders finished before the connection dropped. */
			bool finished = false;
			for (size_t d = 0; d < ndone && !finished; d++)
				finished = strcmp(done_names[d], sb->utf8) == 0;
			if (finished)
				continue;
			bool renamed = false;
			char *dname = folder_map_name(map, sb->utf8, sb->use, &renamed);
			char *wire = mailbox_wire_name(dname);
			struct sync_folder_result *fr = NULL;
			for (size_t k = 0; k < res->folder_count; k++)
				if (strcmp(res->folders[k].old_name, sb->utf8) == 0)
					fr = &res->folders[k];
			if (fr == NULL) {
				res->folders = xreallocarray(res->folders, res->folder_count + 1,
							     sizeof *res->folders);
				fr = &res->folders[res->folder_count++];
				memset(fr, 0, sizeof *fr);
				fr->old_name = xstrdup(sb->utf8);
				fr->new_name = xstrdup(dname);
				fr->renamed = renamed;
			}
			if (wire == NULL) {
				fr->error = xasprintf("folder name '%s' is not valid UTF-8", dname);
				free(dname);
				continue;
			}
			struct folder_job job = {
				.src_c = s.src_c,
				.dst_c = s.dst_c,
				.src = sb,
				.dst_name = dname,
				.dst_wire = wire,
				.dst_exists = mailbox_list_find(&s.dst_l, dname) != NULL ||
					      strcmp(dname, "INBOX") == 0,
				.opts = o,
				.account = a->label,
				.direction = direction,
				.store = st,
				.res = fr,
			};
			/* A redo starts the folder's counters afresh: what
			 * arrived before the drop is found again (skipped). */
			uint64_t copied0 = fr->copied;
			fr->total = fr->skipped = fr->matched = fr->failed = 0;
			fr->flags_updated = fr->expunged = fr->gone = 0;
			bool ok = folder_sync(&job, &err);
			free(wire);
			free(dname);
			/* Messages copied before a drop are found on the
			 * destination by the redo: this run copied them. */
			if (copied0 > 0) {
				uint64_t d = copied0 < fr->matched ? copied0 : fr->matched;
				fr->matched -= d;
				fr->skipped -= d < fr->skipped ? d : fr->skipped;
			}
			if (ok || err.scope == ERR_SCOPE_FOLDER || err.scope == ERR_SCOPE_MESSAGE) {
				if (!ok) {
					free(fr->error);
					fr->error = xstrdup(err.msg);
				}
				if (o->ops && o->ops->folder_end)
					o->ops->folder_end(o->ctx, a->label, fr);
				done_names = xreallocarray(done_names, ndone + 1, sizeof *done_names);
				done_names[ndone++] = xstrdup(sb->utf8);
				err_clear(&err);
				continue;
			}
			if (err.retry && attempts < o->retries && !sync_stop_requested) {
				warn(o, a->label, "%s", err.msg);
				memcpy(res->last_warning, err.msg, sizeof res->last_warning);
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
			unsigned ms = o->retry_delay_ms << (attempts - 1);
			unsigned hint = throttle_hint_ms(res->last_warning);
			sleep_ms(hint > ms ? hint : ms);
			continue;
		}
		break;
	}
	for (size_t d = 0; d < ndone; d++)
		free(done_names[d]);
	free(done_names);
finish:
	store_close(&st);
	for (size_t k = 0; k < res->folder_count; k++) {
		struct sync_folder_result *f = &res->folders[k];
		res->copied += f->copied;
		res->skipped += f->skipped;
		res->failed += f->failed;
		res->bytes += f->bytes;
		res->total += f->total;
		res->matched += f->matched;
		res->flags_updated += f->flags_updated;
		res->expunged += f->expunged;
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
