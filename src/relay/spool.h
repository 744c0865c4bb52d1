/* spool.h — the relay's durable queue on disk.
 *
 * A message answered 250 must be delivered whatever crashes: the session
 * writes it through a spool_writer (temp file → fsync → rename → fsync of
 * the folder, like OpenSMTPD's queue) and replies 250 only once
 * spool_writer_commit() returned true. From then on the message file is
 * the truth: a restarted relay lists queue/ and delivers what is left.
 *
 * Layout under the spool folder (created 0700 when missing; an existing
 * folder that others can write to is refused):
 *   tmp/     messages being received; emptied at open (never delivered:
 *            no 250 was sent for them)
 *   queue/   ID       one accepted message: envelope header, blank line,
 *                     message data
 *            ID.st    its delivery log (append-only lines, see below)
 *   hold/    ID, ID.st   messages the administrator held
 *   lock     flock()ed by the running relay (spool_open with
 *            SPOOL_EXCLUSIVE); queue commands use it to know whether a
 *            relay runs
 *
 * Message file: the first line is "mailshift-spool 1", then one
 * "key value" line per field, then an empty line, then the message data
 * exactly as it is to be sent (CRLF line ends, not dot-stuffed, our
 * Received: and X-Mailshift-Trace: already in front). Values are written
 * with %XX escapes for '%', octets below 0x21 and 0x7F, so a value never
 * holds a space or a line end. Keys: id, arrival, client, helo, sender
 * ("" written as "<>"), message-id, primary, flags (smtputf8, 8bitmime),
 * size, and one "rcpt DESTS ADDR" per recipient (DESTS: "old", "new",
 * "old,new", "new,old", "bounce"; the first is the recipient's primary).
 * Unknown keys are skipped (a newer relay may add some); a missing
 * required key or a bad value makes the file damaged.
 *
 * Delivery log (ID.st): one line per outcome, written with a single
 * write() (O_APPEND) and no fsync: losing the last lines in a crash only
 * means a delivery is done again (at-least-once), never that one is
 * skipped. Line: "TIME DEST RCPT-INDEX OUTCOME ATTEMPTS ESCAPED-TEXT\n",
 * OUTCOME one of done, defer, fail (permanent), expired, dsn (a bounce was
 * queued for this recipient). A torn last line is ignored.
 *
 * IDs: 20 characters [0-9A-Z] (Crockford base32 without I L O U) from the
 * time in microseconds and 40 random bits: unique, sortable by arrival,
 * safe as a file name and in a header. The same ID is the trace id.
 *
 * Threads: a struct spool may be used from several threads for different
 * messages at once (delivery workers read data while the loop writes new
 * messages); one message's log must be appended by one thread at a time.
 * Errors name the spool file and the system's reason (ERR_KIND_IO).
 */
#ifndef MS_SPOOL_H
#define MS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/err.h"

#define SPOOL_ID_LEN 20
#define SPOOL_ID_SIZE (SPOOL_ID_LEN + 1)

/* Destinations, as a bit set per recipient. */
enum {
	SPOOL_OLD = 1,
	SPOOL_NEW = 2,
	SPOOL_BOUNCE = 4,   /* a DSN to an outside sender, through the bounce relay */
};
#define SPOOL_NDEST 3
/* "old", "new", "bounce" for one bit; NULL otherwise. */
const char *spool_dest_name(unsigned dest);
/* The bit for "old" / "new" / "bounce"; 0 otherwise. */
unsigned spool_dest_parse(const char *name);

enum spool_outcome {
	SPOOL_PENDING = 0,  /* not tried, or deferred: still to deliver */
	SPOOL_DONE,
	SPOOL_FAILED,       /* permanent failure (5xx) */
	SPOOL_EXPIRED,      /* queue_lifetime reached */
};

struct spool_rcpt {
	char *addr;         /* as in RCPT TO, without brackets */
	unsigned dests;     /* SPOOL_OLD | SPOOL_NEW, or SPOOL_BOUNCE */
	unsigned primary;   /* the one of dests whose permanent failure bounces
			     * (the others are shadow copies: retried and
			     * reported, never bounced) */
};

struct spool_env {
	char id[SPOOL_ID_SIZE];
	int64_t arrival;    /* unix seconds */
	char *client;       /* "[192.0.2.1]:port" or "local" */
	char *helo;
	char *sender;       /* "" for the null path <> */
	char *message_id;   /* the Message-ID header, or NULL */
	unsigned primary;   /* SPOOL_OLD or SPOOL_NEW: whose permanent failure bounces
			     * (SPOOL_BOUNCE for a DSN message) */
	bool smtputf8, eightbit;
	uint64_t size;      /* octets of message data */
	struct spool_rcpt *rcpts;
	size_t nrcpt;
};
void spool_env_free(struct spool_env *e);

/* Where each (recipient, destination) stands, from the delivery log. */
struct spool_state {
	enum spool_outcome outcome;
	unsigned attempts;
	int64_t last_time;  /* of the last line for it, 0: never tried */
	char *last_text;    /* the last reply/reason, or NULL */
};
/* st[rcpt * SPOOL_NDEST + dest_index] where dest_index is 0 old, 1 new,
 * 2 bounce (spool_dest_index()). */
struct spool_status {
	struct spool_state *st;
	size_t nrcpt;
	bool dsn_sent;      /* a "dsn" line exists: a bounce was queued */
};
unsigned spool_dest_index(unsigned dest);
void spool_status_free(struct spool_status *s);

enum spool_where { SPOOL_QUEUE, SPOOL_HOLD };

struct spool;
#define SPOOL_EXCLUSIVE 1   /* take the lock (the relay); fails if held */
/* Open (creating the folders when missing). Without SPOOL_EXCLUSIVE the
 * lock is not taken (queue commands); spool_locked() then says whether a
 * relay holds it. */
struct spool *spool_open(const char *path, int flags, struct err *err);
void spool_close(struct spool **sp);
bool spool_locked(struct spool *sp);
const char *spool_path(const struct spool *sp);

/* A fresh ID (thread-safe). */
void spool_new_id(char out[SPOOL_ID_SIZE]);
/* True when s is SPOOL_ID_LEN characters of the ID alphabet. */
bool spool_id_valid(const char *s);

/* Receiving. begin writes the envelope to tmp/ (env->size is ignored: the
 * data written decides it); write appends message data (buffered);
 * commit flushes, fsyncs, renames into queue/ and fsyncs queue/; only then
 * may the session answer 250. abort (also safe after a failed write or
 * commit) removes the temp file. Each ends the writer and frees it. */
struct spool_writer;
struct spool_writer *spool_writer_begin(struct spool *sp, const struct spool_env *env,
					struct err *err);
bool spool_writer_write(struct spool_writer *w, const void *data, size_t len, struct err *err);
bool spool_writer_commit(struct spool_writer **wp, struct err *err);
void spool_writer_abort(struct spool_writer **wp);

/* IDs in queue/ or hold/, sorted (i.e. by arrival); *ids_r freed with
 * spool_ids_free. Files in there that are not IDs are ignored. */
bool spool_list(struct spool *sp, enum spool_where where, char (**ids_r)[SPOOL_ID_SIZE],
		size_t *n_r, struct err *err);
void spool_ids_free(char (*ids)[SPOOL_ID_SIZE]);
/* Which folder holds id; false (no error) when neither does. */
bool spool_find(struct spool *sp, const char *id, enum spool_where *where_r);

/* Envelope and delivery state of a message (status may be NULL). */
bool spool_load(struct spool *sp, enum spool_where where, const char *id, struct spool_env *env,
		struct spool_status *status, struct err *err);
/* The message data for delivery: an fd of its own (close it), positioned
 * at the first octet of data, and the data size. */
bool spool_open_data(struct spool *sp, enum spool_where where, const char *id, int *fd_r,
		     uint64_t *size_r, struct err *err);

/* Append one outcome to the delivery log of a message in queue/.
 * outcome: SPOOL_PENDING is written as "defer". text may be NULL. */
bool spool_record(struct spool *sp, const char *id, unsigned dest, size_t rcpt,
		  enum spool_outcome outcome, unsigned attempts, const char *text,
		  struct err *err);
/* Append the "dsn" line (a bounce was queued for the failed recipients). */
bool spool_record_dsn(struct spool *sp, const char *id, const char *dsn_id, struct err *err);

/* Move between queue/ and hold/ (both files); remove for good. */
bool spool_move(struct spool *sp, const char *id, enum spool_where from, enum spool_where to,
		struct err *err);
bool spool_remove(struct spool *sp, enum spool_where where, const char *id, struct err *err);

/* For tests and fuzzing only: the parsers behind spool_load, without I/O.
 * spool_parse_env reads the envelope header at the start of text (len
 * octets, not NUL-terminated) up to and including its empty line; on
 * success *data_off_r is the offset of the first octet of message data
 * (out->size is the header's value: the caller compares it with the file).
 * On failure out is left empty and err says which line is bad.
 * spool_parse_log fills out (freed with spool_status_free) from a delivery
 * log for an envelope of nrcpt recipients; lines it cannot use (a torn
 * last line, crash debris, an index >= nrcpt) are skipped. False only when
 * nrcpt is too large to hold. */
bool spool_parse_env(const char *text, size_t len, struct spool_env *out, size_t *data_off_r,
		     struct err *err);
bool spool_parse_log(const char *text, size_t len, size_t nrcpt, struct spool_status *out);

#endif
