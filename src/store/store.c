/* store.c — the state store's front door: picks a backend from the spec and
 * forwards every call through its ops table (see store_backend.h).
 *
 * What lives here rather than in each backend: spec parsing, the checks on
 * arguments (a NULL key string is a caller bug, reported as
 * ERR_KIND_INTERNAL rather than crashing inside a database driver), the
 * transaction state machine (nested begin and commit without begin are
 * errors; rollback without begin does nothing), and the *_free functions,
 * which only release memory we allocated and need no backend.
 *
 * Spec errors are ERR_KIND_CONFIG / ERR_SCOPE_RUN: every account would
 * fail the same way, so nothing can go on. The spec is never echoed when it
 * may be a PostgreSQL URL, which can carry a password.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "store/store_backend.h"

struct store *store_open(const char *spec, struct err *err)
{
	struct store *s;

	if (spec == NULL || spec[0] == '\0') {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
			"no state store given: set [migration] state, e.g. "
			"sqlite:/var/lib/mailshift/state.db");
		return NULL;
	}
	if (strncasecmp(spec, "sqlite:", 7) == 0) {
		if (spec[7] == '\0') {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
				"state store 'sqlite:' needs a file, e.g. "
				"sqlite:/var/lib/mailshift/state.db");
			return NULL;
		}
		s = store_sqlite_open(spec + 7, err);
	} else if (strncasecmp(spec, "postgresql://", 13) == 0 ||
		   strncasecmp(spec, "postgres://", 11) == 0) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
			"the PostgreSQL state backend is not built yet; use sqlite:PATH "
			"in [migration] state");
		return NULL;
	} else {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
			"unknown kind of state store in [migration] state; use "
			"sqlite:/path/to/state.db or postgresql://host/db");
		return NULL;
	}
	if (s != NULL)
		s->in_tx = false;
	return s;
}

void store_close(struct store **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	(*sp)->ops->close(*sp);
	*sp = NULL;
}

int store_schema_version(struct store *s)
{
	return s->schema_version;
}

static bool bad_arg(struct err *err, const char *fn, const char *what)
{
	err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_INTERNAL, false,
		"%s called without %s (a bug in mailshift)", fn, what);
	return false;
}

bool store_begin(struct store *s, struct err *err)
{
	if (s->in_tx)
		return bad_arg(err, "store_begin", "ending the previous transaction");
	if (!s->ops->begin(s, err))
		return false;
	s->in_tx = true;
	return true;
}

bool store_commit(struct store *s, struct err *err)
{
	if (!s->in_tx)
		return bad_arg(err, "store_commit", "a transaction begun");
	/* The backend's commit either succeeds or rolls back: no transaction
	 * is left open either way (store_backend.h). */
	s->in_tx = false;
	return s->ops->commit(s, err);
}

void store_rollback(struct store *s)
{
	if (!s->in_tx)
		return;
	s->in_tx = false;
	s->ops->rollback(s);
}

bool store_folder_get(struct store *s, const char *account, const char *direction,
		      const char *src_name, struct store_folder *out, bool *found_r,
		      struct err *err)
{
	*found_r = false;
	if (account == NULL || direction == NULL || src_name == NULL)
		return bad_arg(err, "store_folder_get", "account, direction and folder name");
	return s->ops->folder_get(s, account, direction, src_name, out, found_r, err);
}

bool store_folder_list(struct store *s, const char *account, const char *direction,
		       struct store_folder **out, size_t *count_r, struct err *err)
{
	*out = NULL;
	*count_r = 0;
	if (account == NULL || direction == NULL)
		return bad_arg(err, "store_folder_list", "account and direction");
	return s->ops->folder_list(s, account, direction, out, count_r, err);
}

bool store_folder_put(struct store *s, struct store_folder *f, struct err *err)
{
	if (f->account == NULL || f->direction == NULL || f->src_name == NULL ||
	    f->dst_name == NULL)
		return bad_arg(err, "store_folder_put", "account, direction and folder names");
	if (f->id < 0)
		return bad_arg(err, "store_folder_put", "a valid folder id");
	return s->ops->folder_put(s, f, err);
}

bool store_folder_delete(struct store *s, int64_t folder_id, struct err *err)
{
	return s->ops->folder_delete(s, folder_id, err);
}

void store_folder_free(struct store_folder *f)
{
	if (f == NULL)
		return;
	free(f->account);
	free(f->direction);
	free(f->src_name);
	free(f->dst_name);
	f->account = f->direction = f->src_name = f->dst_name = NULL;
}

void store_folder_list_free(struct store_folder *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_folder_free(&v[i]);
	free(v);
}

bool store_msgs_load(struct store *s, int64_t folder_id, struct store_msg **out,
		     size_t *count_r, struct err *err)
{
	*out = NULL;
	*count_r = 0;
	return s->ops->msgs_load(s, folder_id, out, count_r, err);
}

bool store_msg_put(struct store *s, int64_t folder_id, const struct store_msg *m,
		   struct err *err)
{
	return s->ops->msg_put(s, folder_id, m, err);
}

bool store_msg_delete(struct store *s, int64_t folder_id, uint32_t src_uid, struct err *err)
{
	return s->ops->msg_delete(s, folder_id, src_uid, err);
}

bool store_msgs_clear(struct store *s, int64_t folder_id, struct err *err)
{
	return s->ops->msgs_clear(s, folder_id, err);
}

void store_msgs_free(struct store_msg *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].src_flags);
		free(v[i].dst_flags);
		free(v[i].pending_key);
		free(v[i].flags_base);
	}
	free(v);
}

/* --- relay ----------------------------------------------------------------- */

bool store_relay_event_add(struct store *s, const struct store_relay_event *e,
			   struct err *err)
{
	if (e == NULL || e->trace_id == NULL || e->event == NULL)
		return bad_arg(err, "store_relay_event_add", "a trace id and an event");
	return s->ops->relay_event_add(s, e, err);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The key as an administrator may paste it: a trace id, a Message-ID with
 * or without its <>, perhaps with blanks copied around it. Normalised here
 * once so every backend matches the same way. */
bool store_relay_events_find(struct store *s, const char *key,
			     struct store_relay_event **out, size_t *count_r,
			     struct err *err)
{
	const char *start, *end;
	char *bare, *angled;
	bool ok;

	*out = NULL;
	*count_r = 0;
	if (key == NULL)
		return bad_arg(err, "store_relay_events_find", "a trace id or Message-ID");
	start = key;
	end = key + strlen(key);
	while (start < end && is_blank(*start))
		start++;
	while (end > start && is_blank(end[-1]))
		end--;
	if (start < end && *start == '<')
		start++;
	if (end > start && end[-1] == '>')
		end--;
	/* An empty key would match events stored with an empty Message-ID,
	 * which no one asked for. */
	if (start == end)
		return true;
	bare = xstrndup(start, (size_t)(end - start));
	angled = xasprintf("<%s>", bare);
	ok = s->ops->relay_events_find(s, bare, angled, out, count_r, err);
	free(angled);
	free(bare);
	return ok;
}

void store_relay_events_free(struct store_relay_event *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].trace_id);
		free(v[i].message_id);
		free(v[i].event);
		free(v[i].dest);
		free(v[i].rcpt);
		free(v[i].detail);
	}
	free(v);
}

bool store_relay_events_prune(struct store *s, int64_t cutoff_ms, size_t *removed_r,
			      struct err *err)
{
	size_t removed = 0;
	bool ok = s->ops->relay_events_prune(s, cutoff_ms, &removed, err);

	if (removed_r != NULL)
		*removed_r = ok ? removed : 0;
	return ok;
}

bool store_relay_counter_add(struct store *s, const char *dest, const char *name,
			     int64_t delta, struct err *err)
{
	if (dest == NULL || name == NULL)
		return bad_arg(err, "store_relay_counter_add", "a destination and a name");
	return s->ops->relay_counter_add(s, dest, name, delta, err);
}

bool store_relay_counters(struct store *s, struct store_relay_counter **out,
			  size_t *count_r, struct err *err)
{
	*out = NULL;
	*count_r = 0;
	return s->ops->relay_counters(s, out, count_r, err);
}

void store_relay_counters_free(struct store_relay_counter *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].dest);
		free(v[i].name);
	}
	free(v);
}
