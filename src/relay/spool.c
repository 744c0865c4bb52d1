/* spool.c — the relay's durable queue on disk; the contract is spool.h.
 *
 * Durability rests on one ordering: data → fsync(file) → rename(tmp/ID →
 * queue/ID) → fsync(queue/). A name in queue/ therefore always points at a
 * complete file whose data reached the disk, and the 250 is sent only
 * after the folder entry did too. Anything else found after a crash is
 * either in tmp/ (never acknowledged: dropped at the next exclusive open)
 * or a delivery log line that may be lost (at-least-once, never skipped).
 *
 * Choices the header leaves open, fixed here:
 *   - Every header line is "key SP value" (the value may be empty, then
 *     the line ends in the space; a bare "key" is read as empty too).
 *     message-id is written only when there is one. flags is a comma list,
 *     possibly empty. An unknown flag is damage, not something to skip: a
 *     flag changes how a message must be sent.
 *   - A recipient's primary is the first of its DESTS ("new,old": both,
 *     new's failures bounce). A writer given primary 0 takes the
 *     envelope's primary when the recipient goes there, else its only
 *     destination. The envelope's primary may be bounce (a DSN message).
 *   - size is written as 20 zero-padded digits so commit can fill in the
 *     real data size in place (the header goes out before the data).
 *     spool_load checks it against the file size: a short file is damaged.
 *   - A sender that really is the text "<>" is written "%3C>", so that the
 *     bare "<>" keeps meaning the null path.
 *   - Delivery log: TEXT "-" means none (an empty text is none too; a text
 *     that is "-" is written "%2D"). The dsn line is
 *     "TIME - - dsn 0 DSN-ID". The last line for a (recipient,
 *     destination) decides its state. Lines that cannot be used are
 *     skipped rather than failing the message: after a power loss a log may
 *     hold a torn line with later appends glued to it, or blocks of NULs,
 *     and skipping a line can only make a delivery happen again. When the
 *     log does not end in a newline, spool_record first closes the torn
 *     line with TORN_MARK: a raw tab, which no field may hold, so the
 *     fragment can never pass for a line (a bare newline could: a line cut
 *     inside its text looks whole) and the next line starts clean. For the
 *     same reason a dsn line's last field must be "-" or an ID.
 *   - A log text is cut at LOG_TEXT_MAX escaped octets: it is a server's
 *     reply, and a log line should stay one modest write().
 *   - Removing deletes ID before ID.st (a crash in between leaves only a
 *     stray log, not a message delivered again); moving renames ID before
 *     ID.st. The exclusive open tidies what such a crash leaves: a log
 *     without its message follows the message to the other folder, or is
 *     deleted.
 *
 * SECURITY: IDs given by callers (the queue command passes what the
 * administrator typed) are checked with spool_id_valid before they become
 * part of a path, so "../x" can never reach outside the spool. Files are
 * created 0600 and folders 0700; a spool folder writable by group or
 * others is refused, since whoever writes there chooses where mail goes.
 * The parsers treat file contents as untrusted (a fuzzer drives them).
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/buf.h"

#define SPOOL_MAGIC "mailshift-spool "
#define SPOOL_FORMAT 1
#define WRITER_BUF (64 * 1024)
#define HEADER_MAX (16u * 1024 * 1024)
#define LOG_MAX (64u * 1024 * 1024)
/* A delivery log past this size is rewritten with one line per recipient
 * and destination (the last one) before the next append: a message retried
 * for days to many recipients never reaches LOG_MAX, which would make it
 * unloadable. */
#define LOG_COMPACT (1024u * 1024)
#define LOG_TEXT_MAX 2000
#define SIZE_DIGITS 20
#define TORN_MARK "\t(torn)\n"

static const char id_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

struct spool {
	char *path;
	char *tmp_dir, *queue_dir, *hold_dir;
	int queue_fd, hold_fd;   /* for fsync after a rename or unlink */
	int lock_fd;             /* -1 unless SPOOL_EXCLUSIVE */
};

struct spool_writer {
	struct spool *sp;
	char id[SPOOL_ID_SIZE];
	char *tmp_path;
	int fd;
	off_t size_off;          /* where the 20 size digits sit in the file */
	uint64_t data_size;
	char *buf;
	size_t used;
	bool failed;
};

/* ---- small helpers ---- */

static bool errno_retry(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EIO || e == EAGAIN || e == EINTR ||
	       e == ENOMEM || e == EMFILE || e == ENFILE;
}

static bool io_err(struct err *err, enum err_scope scope, const char *what, const char *path)
{
	int e = errno;

	err_set(err, scope, ERR_KIND_IO, errno_retry(e), "%s %s: %s", what, path, strerror(e));
	return false;
}

static bool write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t r = write(fd, c, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		if (r == 0) {
			errno = EIO;
			return false;
		}
		c += r;
		n -= (size_t)r;
	}
	return true;
}

static const char *where_name(enum spool_where where)
{
	return where == SPOOL_HOLD ? "hold" : "queue";
}

static const char *where_dir(const struct spool *sp, enum spool_where where)
{
	return where == SPOOL_HOLD ? sp->hold_dir : sp->queue_dir;
}

static int where_fd(const struct spool *sp, enum spool_where where)
{
	return where == SPOOL_HOLD ? sp->hold_fd : sp->queue_fd;
}

static bool check_id(const char *id, struct err *err)
{
	if (id != NULL && spool_id_valid(id))
		return true;
	err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_USAGE, false,
		"\"%.40s\" is not a spool message ID (%d characters of 0-9 and A-Z)",
		id ? id : "(null)", SPOOL_ID_LEN);
	return false;
}

/* ---- escaping ---- */

static bool must_escape(unsigned char c)
{
	return c == '%' || c < 0x21 || c == 0x7f;
}

static void escape_append(struct buf *b, const char *s, size_t n, size_t limit)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t start = b->len;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (limit != 0 && b->len - start + 3 > limit)
			break;
		if (must_escape(c)) {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			buf_append(b, e, 3);
		} else {
			buf_append_char(b, (char)c);
		}
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* NULL when the value holds a raw octet that should have been escaped, a
 * broken %XX, or %00 (a C string cannot hold it, and we never write it). */
static char *unescape(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int hi, lo;
			if (n - i < 3)
				goto bad;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto bad;
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else if (must_escape(c)) {
			goto bad;
		} else {
			*o++ = (char)c;
		}
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

static bool parse_u64(const char *s, size_t n, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;

	if (n == 0 || n > SIZE_DIGITS)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*v_r = v;
	return true;
}

static bool token_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* ---- destinations, IDs ---- */

const char *spool_dest_name(unsigned dest)
{
	switch (dest) {
	case SPOOL_OLD: return "old";
	case SPOOL_NEW: return "new";
	case SPOOL_BOUNCE: return "bounce";
	default: return NULL;
	}
}

unsigned spool_dest_parse(const char *name)
{
	if (name == NULL)
		return 0;
	if (strcmp(name, "old") == 0)
		return SPOOL_OLD;
	if (strcmp(name, "new") == 0)
		return SPOOL_NEW;
	if (strcmp(name, "bounce") == 0)
		return SPOOL_BOUNCE;
	return 0;
}

/* SPOOL_NDEST for anything but a single known bit, so a mistake shows as
 * an index out of range rather than as the wrong destination. */
unsigned spool_dest_index(unsigned dest)
{
	switch (dest) {
	case SPOOL_OLD: return 0;
	case SPOOL_NEW: return 1;
	case SPOOL_BOUNCE: return 2;
	default: return SPOOL_NDEST;
	}
}

static unsigned dest_token(const char *s, size_t n)
{
	if (token_is(s, n, "old"))
		return SPOOL_OLD;
	if (token_is(s, n, "new"))
		return SPOOL_NEW;
	if (token_is(s, n, "bounce"))
		return SPOOL_BOUNCE;
	return 0;
}

static bool dests_valid(unsigned d)
{
	return d == SPOOL_OLD || d == SPOOL_NEW || d == (SPOOL_OLD | SPOOL_NEW) ||
	       d == SPOOL_BOUNCE;
}

/* "old", "new", "old,new", "new,old" or "bounce", the recipient's primary
 * first; 0 for anything else. */
static unsigned parse_dests(const char *s, size_t n, unsigned *primary_r)
{
	unsigned d = 0;
	size_t i = 0;

	while (i <= n) {
		size_t j = i;
		while (j < n && s[j] != ',')
			j++;
		unsigned one = dest_token(s + i, j - i);
		if (one == 0 || (d & one))
			return 0;
		if (d == 0)
			*primary_r = one;
		d |= one;
		i = j + 1;
	}
	return dests_valid(d) ? d : 0;
}

/* A recipient's primary as written: 0 (not set by the caller) means the
 * envelope's primary when the recipient goes there, else its only
 * destination. 0 back: no sensible primary. */
static unsigned rcpt_primary(const struct spool_env *e, const struct spool_rcpt *r)
{
	unsigned p = r->primary;

	if (p == 0)
		p = (r->dests & e->primary) ? e->primary : r->dests;
	if (spool_dest_name(p) == NULL || !(r->dests & p))
		return 0;
	return p;
}

static _Atomic uint64_t id_last_us;

static void random_bytes(unsigned char *p, size_t n)
{
	static _Atomic uint64_t fallback;
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, 0);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		/* No getrandom (an old kernel): uniqueness still holds through
		 * the strictly increasing time part within this process; mix
		 * what varies between processes. */
		uint64_t x = atomic_fetch_add(&fallback, 0x9E3779B97F4A7C15ULL) ^
			     ((uint64_t)getpid() << 20) ^ (uint64_t)clock();
		for (; got < n; got++) {
			x ^= x >> 31;
			x *= 0xBF58476D1CE4E5B9ULL;
			p[got] = (unsigned char)(x >> 56);
		}
	}
}

/* The time part is made strictly increasing within the process, so two
 * IDs made one after the other are unique and in order even in the same
 * microsecond; the random part separates processes. */
void spool_new_id(char out[SPOOL_ID_SIZE])
{
	struct timespec ts;
	unsigned char r[5];
	uint64_t now, last, us, rnd;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	last = atomic_load(&id_last_us);
	do {
		us = now > last ? now : last + 1;
	} while (!atomic_compare_exchange_weak(&id_last_us, &last, us));
	random_bytes(r, sizeof r);
	rnd = (uint64_t)r[0] << 32 | (uint64_t)r[1] << 24 | (uint64_t)r[2] << 16 |
	      (uint64_t)r[3] << 8 | r[4];
	for (int i = 11; i >= 0; i--) {
		out[i] = id_alphabet[us & 31];
		us >>= 5;
	}
	for (int i = 19; i >= 12; i--) {
		out[i] = id_alphabet[rnd & 31];
		rnd >>= 5;
	}
	out[SPOOL_ID_LEN] = '\0';
}

bool spool_id_valid(const char *s)
{
	if (s == NULL)
		return false;
	for (size_t i = 0; i < SPOOL_ID_LEN; i++)
		if (s[i] == '\0' || strchr(id_alphabet, s[i]) == NULL)
			return false;
	return s[SPOOL_ID_LEN] == '\0';
}

/* ---- envelope and status structs ---- */

void spool_env_free(struct spool_env *e)
{
	if (e == NULL)
		return;
	free(e->client);
	free(e->helo);
	free(e->sender);
	free(e->message_id);
	for (size_t i = 0; i < e->nrcpt; i++)
		free(e->rcpts[i].addr);
	free(e->rcpts);
	memset(e, 0, sizeof *e);
}

void spool_status_free(struct spool_status *s)
{
	if (s == NULL)
		return;
	if (s->st != NULL)
		for (size_t i = 0; i < s->nrcpt * SPOOL_NDEST; i++)
			free(s->st[i].last_text);
	free(s->st);
	memset(s, 0, sizeof *s);
}

/* ---- the envelope header: parse ---- */

enum {
	K_ID = 1 << 0, K_ARRIVAL = 1 << 1, K_CLIENT = 1 << 2, K_HELO = 1 << 3,
	K_SENDER = 1 << 4, K_MSGID = 1 << 5, K_PRIMARY = 1 << 6, K_FLAGS = 1 << 7,
	K_SIZE = 1 << 8,
};
#define K_REQUIRED (K_ID | K_ARRIVAL | K_CLIENT | K_HELO | K_SENDER | K_PRIMARY | K_FLAGS | K_SIZE)

static const struct {
	const char *name;
	unsigned bit;
} env_keys[] = {
	{ "id", K_ID }, { "arrival", K_ARRIVAL }, { "client", K_CLIENT }, { "helo", K_HELO },
	{ "sender", K_SENDER }, { "message-id", K_MSGID }, { "primary", K_PRIMARY },
	{ "flags", K_FLAGS }, { "size", K_SIZE },
};

static bool parse_flags(const char *s, size_t n, struct spool_env *out)
{
	size_t i = 0;

	if (n == 0)
		return true;
	while (i <= n) {
		size_t j = i;
		while (j < n && s[j] != ',')
			j++;
		if (token_is(s + i, j - i, "smtputf8") && !out->smtputf8)
			out->smtputf8 = true;
		else if (token_is(s + i, j - i, "8bitmime") && !out->eightbit)
			out->eightbit = true;
		else
			return false;
		i = j + 1;
	}
	return true;
}

/* One known key's value; false with *why set when it is bad. */
static bool env_field(unsigned bit, const char *v, size_t vn, struct spool_env *out,
		      const char **why)
{
	uint64_t num;
	char **str = NULL;

	switch (bit) {
	case K_ID:
		if (vn != SPOOL_ID_LEN)
			goto bad_id;
		memcpy(out->id, v, vn);
		out->id[vn] = '\0';
		if (!spool_id_valid(out->id))
			goto bad_id;
		return true;
	case K_ARRIVAL:
		if (!parse_u64(v, vn, INT64_MAX, &num)) {
			*why = "arrival is not a number of seconds";
			return false;
		}
		out->arrival = (int64_t)num;
		return true;
	case K_SIZE:
		if (!parse_u64(v, vn, UINT64_MAX, &num)) {
			*why = "size is not a number of octets";
			return false;
		}
		out->size = num;
		return true;
	case K_PRIMARY:
		out->primary = dest_token(v, vn);
		if (out->primary == 0) {
			*why = "primary is not old, new or bounce";
			return false;
		}
		return true;
	case K_FLAGS:
		if (!parse_flags(v, vn, out)) {
			*why = "flags holds something other than smtputf8 and 8bitmime";
			return false;
		}
		return true;
	case K_SENDER:
		if (token_is(v, vn, "<>")) {
			out->sender = xstrdup("");
			return true;
		}
		str = &out->sender;
		break;
	case K_CLIENT:
		str = &out->client;
		break;
	case K_HELO:
		str = &out->helo;
		break;
	case K_MSGID:
		str = &out->message_id;
		break;
	}
	*str = unescape(v, vn);
	if (*str == NULL) {
		*why = "a value holds a raw control octet or a bad %XX escape";
		return false;
	}
	return true;
bad_id:
	*why = "id is not a spool message ID";
	return false;
}

static bool env_rcpt(const char *v, size_t vn, struct spool_env *out, size_t *cap,
		     const char **why)
{
	const char *sp = memchr(v, ' ', vn);
	unsigned d, primary = 0;
	char *addr;

	if (sp == NULL) {
		*why = "rcpt needs destinations and an address";
		return false;
	}
	d = parse_dests(v, (size_t)(sp - v), &primary);
	if (d == 0) {
		*why = "rcpt destinations are not old, new, old,new, new,old or bounce";
		return false;
	}
	addr = unescape(sp + 1, vn - (size_t)(sp - v) - 1);
	if (addr == NULL) {
		*why = "rcpt address holds a raw control octet or a bad %XX escape";
		return false;
	}
	if (out->nrcpt == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		out->rcpts = xreallocarray(out->rcpts, *cap, sizeof *out->rcpts);
	}
	out->rcpts[out->nrcpt].addr = addr;
	out->rcpts[out->nrcpt].dests = d;
	out->rcpts[out->nrcpt].primary = primary;
	out->nrcpt++;
	return true;
}

static bool key_syntax(const char *k, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '-'))
			return false;
	return true;
}

bool spool_parse_env(const char *text, size_t len, struct spool_env *out, size_t *data_off_r,
		     struct err *err)
{
	const size_t mlen = sizeof SPOOL_MAGIC - 1;
	const char *why = NULL;
	size_t pos, lineno = 1, cap = 0;
	unsigned seen = 0;
	bool ended = false;
	const char *nl;

	memset(out, 0, sizeof *out);
	if (len < mlen || memcmp(text, SPOOL_MAGIC, mlen) != 0) {
		err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false,
			"it does not start with \"mailshift-spool\": not a spool message file");
		return false;
	}
	nl = memchr(text, '\n', len);
	if (nl == NULL) {
		why = "the file ends inside the envelope header";
		goto bad;
	}
	if (!token_is(text + mlen, (size_t)(nl - text) - mlen, "1")) {
		uint64_t v;
		if (parse_u64(text + mlen, (size_t)(nl - text) - mlen, UINT64_MAX, &v) &&
		    v > SPOOL_FORMAT)
			err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false,
				"it was written by a newer mailshift (spool format %" PRIu64
				", this one reads %d): run the newer mailshift on this spool", v,
				SPOOL_FORMAT);
		else
			err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false,
				"line 1: unknown spool format version");
		return false;
	}
	pos = (size_t)(nl - text) + 1;
	while (pos < len) {
		const char *line = text + pos;
		size_t n, k = 0;

		nl = memchr(line, '\n', len - pos);
		if (nl == NULL)
			break;
		n = (size_t)(nl - line);
		pos += n + 1;
		lineno++;
		if (n == 0) {
			ended = true;
			break;
		}
		while (k < n && line[k] != ' ')
			k++;
		if (!key_syntax(line, k)) {
			why = "not a \"key value\" line";
			goto bad;
		}
		const char *v = k < n ? line + k + 1 : line + n;
		size_t vn = k < n ? n - k - 1 : 0;
		if (token_is(line, k, "rcpt")) {
			if (!env_rcpt(v, vn, out, &cap, &why))
				goto bad;
			continue;
		}
		unsigned bit = 0;
		for (size_t i = 0; i < sizeof env_keys / sizeof env_keys[0]; i++)
			if (token_is(line, k, env_keys[i].name))
				bit = env_keys[i].bit;
		if (bit == 0)
			continue;       /* a newer relay's key */
		if (seen & bit) {
			why = "a key appears twice";
			goto bad;
		}
		seen |= bit;
		if (!env_field(bit, v, vn, out, &why))
			goto bad;
	}
	if (!ended) {
		why = "the file ends inside the envelope header (no empty line)";
		goto bad;
	}
	if ((seen & K_REQUIRED) != K_REQUIRED || out->nrcpt == 0) {
		unsigned missing = K_REQUIRED & ~seen;
		const char *name = "rcpt";
		for (size_t i = 0; i < sizeof env_keys / sizeof env_keys[0]; i++)
			if (missing & env_keys[i].bit) {
				name = env_keys[i].name;
				break;
			}
		spool_env_free(out);
		err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false,
			"the envelope header has no %s line", name);
		return false;
	}
	*data_off_r = pos;
	return true;
bad:
	spool_env_free(out);
	err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false, "line %zu: %s", lineno, why);
	return false;
}

/* ---- the envelope header: write ---- */

static void put_field(struct buf *b, const char *key, const char *value)
{
	buf_append_str(b, key);
	buf_append_char(b, ' ');
	if (value != NULL)
		escape_append(b, value, strlen(value), 0);
	buf_append_char(b, '\n');
}

/* *size_off_r: where the size digits are, from the start of b. */
static void env_format(struct buf *b, const struct spool_env *e, size_t *size_off_r)
{
	buf_printf(b, "%s%d\nid %s\narrival %" PRId64 "\n", SPOOL_MAGIC, SPOOL_FORMAT, e->id,
		   e->arrival < 0 ? 0 : e->arrival);
	put_field(b, "client", e->client);
	put_field(b, "helo", e->helo);
	if (e->sender[0] == '\0')
		buf_append_str(b, "sender <>\n");
	else if (strcmp(e->sender, "<>") == 0)
		buf_append_str(b, "sender %3C>\n");
	else
		put_field(b, "sender", e->sender);
	if (e->message_id != NULL)
		put_field(b, "message-id", e->message_id);
	buf_printf(b, "primary %s\nflags %s%s%s\nsize ", spool_dest_name(e->primary),
		   e->smtputf8 ? "smtputf8" : "", e->smtputf8 && e->eightbit ? "," : "",
		   e->eightbit ? "8bitmime" : "");
	*size_off_r = b->len;
	buf_printf(b, "%0*d\n", SIZE_DIGITS, 0);
	for (size_t i = 0; i < e->nrcpt; i++) {
		unsigned p = rcpt_primary(e, &e->rcpts[i]), rest = e->rcpts[i].dests & ~p;
		buf_printf(b, "rcpt %s%s%s ", spool_dest_name(p), rest ? "," : "",
			   rest ? spool_dest_name(rest) : "");
		escape_append(b, e->rcpts[i].addr, strlen(e->rcpts[i].addr), 0);
		buf_append_char(b, '\n');
	}
	buf_append_char(b, '\n');
}

/* ---- the delivery log: parse ---- */

/* Splits a line into exactly n space-separated fields. */
static bool split_fields(const char *s, size_t len, const char **f, size_t *fn, size_t n)
{
	size_t i = 0, k = 0;

	while (k < n) {
		size_t j = i;
		while (j < len && s[j] != ' ')
			j++;
		f[k] = s + i;
		fn[k] = j - i;
		k++;
		if (j == len)
			break;
		i = j + 1;
	}
	return k == n && f[n - 1] + fn[n - 1] == s + len;
}

static void log_line(const char *s, size_t n, struct spool_status *out)
{
	const char *f[6];
	size_t fn[6];
	uint64_t time, rcpt, attempts;
	enum spool_outcome oc;
	char *text = NULL;
	unsigned dest;

	if (!split_fields(s, n, f, fn, 6) || !parse_u64(f[0], fn[0], INT64_MAX, &time) ||
	    !parse_u64(f[4], fn[4], UINT32_MAX, &attempts))
		return;
	if (token_is(f[3], fn[3], "dsn")) {
		char id[SPOOL_ID_SIZE] = "";
		if (fn[5] == SPOOL_ID_LEN) {
			memcpy(id, f[5], SPOOL_ID_LEN);
			id[SPOOL_ID_LEN] = '\0';
		}
		if (token_is(f[1], fn[1], "-") && token_is(f[2], fn[2], "-") &&
		    (token_is(f[5], fn[5], "-") || spool_id_valid(id)))
			out->dsn_sent = true;
		return;
	}
	if (token_is(f[3], fn[3], "done"))
		oc = SPOOL_DONE;
	else if (token_is(f[3], fn[3], "defer"))
		oc = SPOOL_PENDING;
	else if (token_is(f[3], fn[3], "fail"))
		oc = SPOOL_FAILED;
	else if (token_is(f[3], fn[3], "expired"))
		oc = SPOOL_EXPIRED;
	else
		return;
	dest = dest_token(f[1], fn[1]);
	if (dest == 0 || !parse_u64(f[2], fn[2], UINT64_MAX, &rcpt) || rcpt >= out->nrcpt)
		return;
	if (!token_is(f[5], fn[5], "-")) {
		text = unescape(f[5], fn[5]);
		if (text == NULL)
			return;
	}
	struct spool_state *st = &out->st[rcpt * SPOOL_NDEST + spool_dest_index(dest)];
	st->outcome = oc;
	st->attempts = (unsigned)attempts;
	st->last_time = (int64_t)time;
	free(st->last_text);
	st->last_text = text;
}

bool spool_parse_log(const char *text, size_t len, size_t nrcpt, struct spool_status *out)
{
	size_t pos = 0;

	memset(out, 0, sizeof *out);
	if (nrcpt > SIZE_MAX / SPOOL_NDEST / sizeof *out->st)
		return false;
	out->st = xcalloc(nrcpt * SPOOL_NDEST, sizeof *out->st);
	out->nrcpt = nrcpt;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		if (nl == NULL)
			break;          /* torn by a crash mid-write */
		log_line(text + pos, (size_t)(nl - (text + pos)), out);
		pos = (size_t)(nl - text) + 1;
	}
	return true;
}

/* ---- open, close, lock ---- */

static bool check_dir(const char *path, bool top, struct err *err)
{
	struct stat st;

	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		int e = errno;
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, false,
			"cannot create spool folder %s: %s%s", path, strerror(e),
			top && e == ENOENT ? " (create its parent folder first, or set [relay] spool)"
					   : "");
		return false;
	}
	if (stat(path, &st) != 0)
		return io_err(err, ERR_SCOPE_RUN, "cannot read spool folder", path);
	if (!S_ISDIR(st.st_mode)) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, false,
			"spool folder %s is not a folder: move that file away or set [relay] spool",
			path);
		return false;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, false,
			"spool folder %s is writable by group or others (mode %04o), so they "
			"could add or change queued mail: run \"chmod go-w %s\" (0700 owned by the "
			"relay's user is best)", path, (unsigned)(st.st_mode & 07777), path);
		return false;
	}
	return true;
}

/* Remove what receiving left in tmp/: no 250 was ever sent for it. */
static bool empty_tmp(struct spool *sp, struct err *err)
{
	DIR *d = opendir(sp->tmp_dir);
	struct dirent *de;

	if (d == NULL)
		return io_err(err, ERR_SCOPE_RUN, "cannot read spool folder", sp->tmp_dir);
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    S_ISDIR(st.st_mode))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) != 0 && errno != ENOENT) {
			char *p = xasprintf("%s/%s", sp->tmp_dir, de->d_name);
			io_err(err, ERR_SCOPE_RUN, "cannot remove unfinished spool file", p);
			free(p);
			closedir(d);
			return false;
		}
	}
	closedir(d);
	return true;
}

/* A log without its message: the crash came between the two renames of a
 * move (the log follows the message) or the two unlinks of a remove. */
static void tidy_logs(struct spool *sp, enum spool_where where)
{
	enum spool_where other = where == SPOOL_QUEUE ? SPOOL_HOLD : SPOOL_QUEUE;
	int fd = where_fd(sp, where), ofd = where_fd(sp, other);
	DIR *d = opendir(where_dir(sp, where));
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char id[SPOOL_ID_SIZE];
		size_t n = strlen(de->d_name);

		if (n != SPOOL_ID_LEN + 3 || strcmp(de->d_name + SPOOL_ID_LEN, ".st") != 0)
			continue;
		memcpy(id, de->d_name, SPOOL_ID_LEN);
		id[SPOOL_ID_LEN] = '\0';
		if (!spool_id_valid(id) || faccessat(fd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		if (faccessat(ofd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
		    faccessat(ofd, de->d_name, F_OK, AT_SYMLINK_NOFOLLOW) != 0)
			renameat(fd, de->d_name, ofd, de->d_name);
		else
			unlinkat(fd, de->d_name, 0);
	}
	closedir(d);
}

struct spool *spool_open(const char *path, int flags, struct err *err)
{
	struct spool *sp = xcalloc(1, sizeof *sp);
	char *lock = NULL;

	sp->path = xstrdup(path);
	sp->tmp_dir = xasprintf("%s/tmp", path);
	sp->queue_dir = xasprintf("%s/queue", path);
	sp->hold_dir = xasprintf("%s/hold", path);
	sp->queue_fd = sp->hold_fd = sp->lock_fd = -1;
	if (!check_dir(path, true, err) || !check_dir(sp->tmp_dir, false, err) ||
	    !check_dir(sp->queue_dir, false, err) || !check_dir(sp->hold_dir, false, err))
		goto fail;
	sp->queue_fd = open(sp->queue_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->queue_fd < 0) {
		io_err(err, ERR_SCOPE_RUN, "cannot open spool folder", sp->queue_dir);
		goto fail;
	}
	sp->hold_fd = open(sp->hold_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->hold_fd < 0) {
		io_err(err, ERR_SCOPE_RUN, "cannot open spool folder", sp->hold_dir);
		goto fail;
	}
	if (flags & SPOOL_EXCLUSIVE) {
		/* Read-only is enough for flock, and leaves the file usable by
		 * whichever user owns it. */
		lock = xasprintf("%s/lock", path);
		sp->lock_fd = open(lock, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (sp->lock_fd < 0) {
			io_err(err, ERR_SCOPE_RUN, "cannot open spool lock file", lock);
			goto fail;
		}
		if (flock(sp->lock_fd, LOCK_EX | LOCK_NB) != 0) {
			if (errno == EWOULDBLOCK)
				err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, false,
					"another mailshift relay is running on spool %s: stop it "
					"first, or give this one another [relay] spool", path);
			else
				io_err(err, ERR_SCOPE_RUN, "cannot lock", lock);
			goto fail;
		}
		if (!empty_tmp(sp, err))
			goto fail;
		tidy_logs(sp, SPOOL_QUEUE);
		tidy_logs(sp, SPOOL_HOLD);
		fsync(sp->queue_fd);
		fsync(sp->hold_fd);
	}
	free(lock);
	return sp;
fail:
	free(lock);
	spool_close(&sp);
	return NULL;
}

void spool_close(struct spool **spp)
{
	struct spool *sp = *spp;

	if (sp == NULL)
		return;
	if (sp->queue_fd >= 0)
		close(sp->queue_fd);
	if (sp->hold_fd >= 0)
		close(sp->hold_fd);
	if (sp->lock_fd >= 0)
		close(sp->lock_fd);
	free(sp->path);
	free(sp->tmp_dir);
	free(sp->queue_dir);
	free(sp->hold_dir);
	free(sp);
	*spp = NULL;
}

bool spool_locked(struct spool *sp)
{
	char *lock;
	int fd;
	bool held;

	if (sp->lock_fd >= 0)
		return true;
	lock = xasprintf("%s/lock", sp->path);
	fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(lock);
	if (fd < 0)
		return false;   /* no relay ever ran here */
	held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	if (!held)
		flock(fd, LOCK_UN);
	close(fd);
	return held;
}

const char *spool_path(const struct spool *sp)
{
	return sp->path;
}

/* ---- receiving ---- */

static bool env_writable(const struct spool_env *e, struct err *err)
{
	const char *why = NULL;

	if (!spool_id_valid(e->id))
		why = "the envelope has no valid ID";
	else if (spool_dest_name(e->primary) == NULL)
		why = "primary is not one of SPOOL_OLD, SPOOL_NEW, SPOOL_BOUNCE";
	else if (e->sender == NULL)
		why = "the envelope has no sender (use \"\" for <>)";
	else if (e->nrcpt == 0 || e->rcpts == NULL)
		why = "the envelope has no recipient";
	for (size_t i = 0; why == NULL && i < e->nrcpt; i++)
		if (e->rcpts[i].addr == NULL || !dests_valid(e->rcpts[i].dests) ||
		    rcpt_primary(e, &e->rcpts[i]) == 0)
			why = "a recipient has no address, bad destinations or a primary "
			      "that is not one of them";
	if (why == NULL)
		return true;
	err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_INTERNAL, false, "cannot spool message: %s", why);
	return false;
}

static bool writer_flush(struct spool_writer *w)
{
	if (w->used == 0)
		return true;
	if (!write_all(w->fd, w->buf, w->used))
		return false;
	w->used = 0;
	return true;
}

static bool writer_put(struct spool_writer *w, const void *p, size_t n, struct err *err)
{
	if (w->failed) {
		err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false,
			"spool file %s: an earlier write failed", w->tmp_path);
		return false;
	}
	if (n > WRITER_BUF - w->used && !writer_flush(w))
		goto fail;
	if (n >= WRITER_BUF) {
		if (!write_all(w->fd, p, n))
			goto fail;
	} else if (n > 0) {
		memcpy(w->buf + w->used, p, n);
		w->used += n;
	}
	return true;
fail:
	w->failed = true;
	return io_err(err, ERR_SCOPE_MESSAGE, "cannot write spool file", w->tmp_path);
}

static void writer_free(struct spool_writer *w, bool unlink_tmp)
{
	if (w->fd >= 0)
		close(w->fd);
	if (unlink_tmp)
		unlink(w->tmp_path);
	free(w->tmp_path);
	free(w->buf);
	free(w);
}

struct spool_writer *spool_writer_begin(struct spool *sp, const struct spool_env *env,
					struct err *err)
{
	struct spool_writer *w;
	struct spool_env e;
	struct buf b;
	size_t off;

	if (!env_writable(env, err))
		return NULL;
	w = xcalloc(1, sizeof *w);
	w->sp = sp;
	memcpy(w->id, env->id, SPOOL_ID_SIZE);
	w->tmp_path = xasprintf("%s/%s", sp->tmp_dir, env->id);
	w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w->fd < 0) {
		io_err(err, ERR_SCOPE_MESSAGE, "cannot create spool file", w->tmp_path);
		writer_free(w, false);
		return NULL;
	}
	w->buf = xmalloc(WRITER_BUF);
	e = *env;
	if (e.client == NULL)
		e.client = "";
	if (e.helo == NULL)
		e.helo = "";
	buf_init(&b, 0);
	env_format(&b, &e, &off);
	w->size_off = (off_t)off;
	bool ok = writer_put(w, b.data, b.len, err);
	buf_free(&b);
	if (!ok) {
		writer_free(w, true);
		return NULL;
	}
	return w;
}

bool spool_writer_write(struct spool_writer *w, const void *data, size_t len, struct err *err)
{
	if (!writer_put(w, data, len, err))
		return false;
	w->data_size += len;
	return true;
}

bool spool_writer_commit(struct spool_writer **wp, struct err *err)
{
	struct spool_writer *w = *wp;
	char digits[SIZE_DIGITS + 1];
	char *dst = NULL;
	const char *what;

	*wp = NULL;
	if (w == NULL) {
		err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_INTERNAL, false, "no spool writer to commit");
		return false;
	}
	if (w->failed) {
		err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false,
			"spool file %s was not written whole (an earlier write failed)",
			w->tmp_path);
		writer_free(w, true);
		return false;
	}
	snprintf(digits, sizeof digits, "%0*" PRIu64, SIZE_DIGITS, w->data_size);
	what = "cannot write spool file";
	if (!writer_flush(w))
		goto fail;
	ssize_t r;
	do
		r = pwrite(w->fd, digits, SIZE_DIGITS, w->size_off);
	while (r < 0 && errno == EINTR);
	if (r != SIZE_DIGITS) {
		if (r >= 0)
			errno = EIO;
		goto fail;
	}
	what = "cannot sync spool file";
	if (fsync(w->fd) != 0)
		goto fail;
	what = "cannot close spool file";
	int fd = w->fd;
	w->fd = -1;
	if (close(fd) != 0)
		goto fail;
	dst = xasprintf("%s/%s", w->sp->queue_dir, w->id);
	what = "cannot move into the queue spool file";
	if (rename(w->tmp_path, dst) != 0)
		goto fail;
	if (fsync(w->sp->queue_fd) != 0) {
		/* Not known to be on disk, so not accepted: take it back, or a
		 * client retrying after our 4xx would get it twice. */
		io_err(err, ERR_SCOPE_MESSAGE, "cannot sync spool folder", w->sp->queue_dir);
		unlink(dst);
		free(dst);
		writer_free(w, false);
		return false;
	}
	free(dst);
	writer_free(w, false);
	return true;
fail:
	io_err(err, ERR_SCOPE_MESSAGE, what, w->tmp_path);
	free(dst);
	writer_free(w, true);
	return false;
}

void spool_writer_abort(struct spool_writer **wp)
{
	if (*wp == NULL)
		return;
	writer_free(*wp, true);
	*wp = NULL;
}

/* ---- listing and reading ---- */

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, SPOOL_ID_SIZE);
}

bool spool_list(struct spool *sp, enum spool_where where, char (**ids_r)[SPOOL_ID_SIZE],
		size_t *n_r, struct err *err)
{
	char (*ids)[SPOOL_ID_SIZE] = NULL;
	size_t n = 0, cap = 0;
	DIR *d = opendir(where_dir(sp, where));
	struct dirent *de;

	*ids_r = NULL;
	*n_r = 0;
	if (d == NULL)
		return io_err(err, ERR_SCOPE_RUN, "cannot read spool folder", where_dir(sp, where));
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (!spool_id_valid(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = xreallocarray(ids, cap, sizeof *ids);
		}
		memcpy(ids[n++], de->d_name, SPOOL_ID_SIZE);
		errno = 0;
	}
	if (errno != 0) {
		io_err(err, ERR_SCOPE_RUN, "cannot read spool folder", where_dir(sp, where));
		closedir(d);
		free(ids);
		return false;
	}
	closedir(d);
	if (n > 1)
		qsort(ids, n, sizeof *ids, id_cmp);
	*ids_r = ids;
	*n_r = n;
	return true;
}

void spool_ids_free(char (*ids)[SPOOL_ID_SIZE])
{
	free(ids);
}

bool spool_find(struct spool *sp, const char *id, enum spool_where *where_r)
{
	if (!spool_id_valid(id))
		return false;
	if (faccessat(sp->queue_fd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		*where_r = SPOOL_QUEUE;
		return true;
	}
	if (faccessat(sp->hold_fd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		*where_r = SPOOL_HOLD;
		return true;
	}
	return false;
}

static void damaged(struct err *err, const char *path)
{
	char why[sizeof err->msg];

	snprintf(why, sizeof why, "%s", err->msg);
	err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false,
		"spool file %s is damaged: %s; the relay cannot deliver it: move it out of the "
		"spool folder to look at it", path, why);
}

/* Opens a message file and reads its envelope; *fd_r (when not NULL)
 * keeps the open file. */
static bool load_env(struct spool *sp, enum spool_where where, const char *id,
		     struct spool_env *env, int *fd_r, size_t *data_off_r, struct err *err)
{
	char *path;
	struct buf b;
	struct stat st;
	int fd;
	size_t off;

	memset(env, 0, sizeof *env);
	if (!check_id(id, err))
		return false;
	path = xasprintf("%s/%s", where_dir(sp, where), id);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false,
				"no message %s in %s/ of spool %s", id, where_name(where), sp->path);
		else
			io_err(err, ERR_SCOPE_MESSAGE, "cannot open spool file", path);
		free(path);
		return false;
	}
	/* Read only as far as the empty line: the data may be large. */
	buf_init(&b, HEADER_MAX);
	for (;;) {
		char chunk[8192];
		size_t from = b.len ? b.len - 1 : 0;
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			io_err(err, ERR_SCOPE_MESSAGE, "cannot read spool file", path);
			goto fail;
		}
		if (r == 0)
			break;
		if (!buf_append(&b, chunk, (size_t)r)) {
			err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false,
				"no end of the envelope header in the first %u octets", HEADER_MAX);
			damaged(err, path);
			goto fail;
		}
		if (memmem(b.data + from, b.len - from, "\n\n", 2) != NULL)
			break;
	}
	if (!spool_parse_env(b.data ? b.data : "", b.len, env, &off, err)) {
		damaged(err, path);
		goto fail;
	}
	if (strcmp(env->id, id) != 0) {
		err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false, "it holds message %s", env->id);
		damaged(err, path);
		goto fail_env;
	}
	if (fstat(fd, &st) != 0) {
		io_err(err, ERR_SCOPE_MESSAGE, "cannot read spool file", path);
		goto fail_env;
	}
	if ((uint64_t)st.st_size < off || (uint64_t)st.st_size - off != env->size) {
		err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false,
			"it holds %" PRIu64 " octets of data where its header says %" PRIu64,
			(uint64_t)st.st_size < off ? 0 : (uint64_t)st.st_size - off, env->size);
		damaged(err, path);
		goto fail_env;
	}
	buf_free(&b);
	free(path);
	*data_off_r = off;
	if (fd_r != NULL)
		*fd_r = fd;
	else
		close(fd);
	return true;
fail_env:
	spool_env_free(env);
fail:
	buf_free(&b);
	free(path);
	close(fd);
	return false;
}

static bool read_log(const char *path, struct buf *b, struct err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		if (errno == ENOENT)
			return true;    /* never tried yet */
		return io_err(err, ERR_SCOPE_MESSAGE, "cannot open delivery log", path);
	}
	for (;;) {
		char chunk[16384];
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			io_err(err, ERR_SCOPE_MESSAGE, "cannot read delivery log", path);
			close(fd);
			return false;
		}
		if (r == 0)
			break;
		if (!buf_append(b, chunk, (size_t)r)) {
			err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false,
				"delivery log %s is larger than %u octets: move the message to "
				"hold/ and look at it", path, LOG_MAX);
			close(fd);
			return false;
		}
	}
	close(fd);
	return true;
}

bool spool_load(struct spool *sp, enum spool_where where, const char *id, struct spool_env *env,
		struct spool_status *status, struct err *err)
{
	size_t off;
	struct buf b;
	char *path;
	bool ok;

	if (status != NULL)
		memset(status, 0, sizeof *status);
	if (!load_env(sp, where, id, env, NULL, &off, err))
		return false;
	if (status == NULL)
		return true;
	path = xasprintf("%s/%s.st", where_dir(sp, where), id);
	buf_init(&b, LOG_MAX);
	ok = read_log(path, &b, err) &&
	     spool_parse_log(b.data ? b.data : "", b.len, env->nrcpt, status);
	buf_free(&b);
	free(path);
	if (!ok)
		spool_env_free(env);
	return ok;
}

bool spool_open_data(struct spool *sp, enum spool_where where, const char *id, int *fd_r,
		     uint64_t *size_r, struct err *err)
{
	struct spool_env env;
	size_t off;
	int fd;

	if (!load_env(sp, where, id, &env, &fd, &off, err))
		return false;
	*size_r = env.size;
	spool_env_free(&env);
	if (lseek(fd, (off_t)off, SEEK_SET) < 0) {
		char *path = xasprintf("%s/%s", where_dir(sp, where), id);
		io_err(err, ERR_SCOPE_MESSAGE, "cannot read spool file", path);
		free(path);
		close(fd);
		return false;
	}
	*fd_r = fd;
	return true;
}

/* ---- the delivery log: append ---- */

static const char *const outcome_words[] = {
	[SPOOL_PENDING] = "defer", [SPOOL_DONE] = "done",
	[SPOOL_FAILED] = "fail", [SPOOL_EXPIRED] = "expired",
};

static void log_format(struct buf *b, int64_t t, unsigned dest, size_t rcpt,
		       enum spool_outcome outcome, unsigned attempts, const char *text)
{
	buf_printf(b, "%lld %s %zu %s %u ", (long long)t, spool_dest_name(dest), rcpt,
		   outcome_words[outcome], attempts);
	if (text == NULL || text[0] == '\0')
		buf_append_char(b, '-');
	else if (strcmp(text, "-") == 0)
		buf_append_str(b, "%2D");
	else
		escape_append(b, text, strlen(text), LOG_TEXT_MAX);
	buf_append_char(b, '\n');
}

/* Rewrite queue/ID.st with the last line of each (recipient, destination):
 * the state it describes is unchanged (temp file, rename: a crash leaves
 * the old log or the new one). */
static bool log_compact(struct spool *sp, const char *id, struct err *err)
{
	struct spool_env env;
	struct spool_status st;
	struct buf b;
	bool ok;

	if (!spool_load(sp, SPOOL_QUEUE, id, &env, &st, err))
		return false;
	buf_init(&b, 0);
	for (size_t i = 0; i < st.nrcpt; i++)
		for (unsigned d = 0; d < SPOOL_NDEST; d++) {
			const struct spool_state *x = &st.st[i * SPOOL_NDEST + d];
			if (x->attempts > 0)
				log_format(&b, x->last_time, 1u << d, i, x->outcome, x->attempts,
					   x->last_text);
		}
	if (st.dsn_sent)
		buf_printf(&b, "%lld - - dsn 0 -\n", (long long)time(NULL));
	char *tmp = xasprintf("%s/%s.st.tmp", sp->queue_dir, id);
	char *path = xasprintf("%s/%s.st", sp->queue_dir, id);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	ok = fd >= 0 && write_all(fd, b.data ? b.data : "", b.len);
	if (fd >= 0)
		close(fd);
	ok = ok && rename(tmp, path) == 0;
	if (!ok) {
		io_err(err, ERR_SCOPE_MESSAGE, "cannot rewrite delivery log", path);
		unlink(tmp);
	}
	free(tmp);
	free(path);
	buf_free(&b);
	spool_env_free(&env);
	spool_status_free(&st);
	return ok;
}

static bool log_append(struct spool *sp, const char *id, const struct buf *line,
		       struct err *err)
{
	char *path;
	struct stat st;
	int fd;
	bool ok;

	if (faccessat(sp->queue_fd, id, F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
		err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false,
			"no message %s in queue/ of spool %s (held or removed meanwhile)", id,
			sp->path);
		return false;
	}
	path = xasprintf("%s/%s.st", sp->queue_dir, id);
	if (stat(path, &st) == 0 && st.st_size > (off_t)LOG_COMPACT) {
		struct err e2;
		err_clear(&e2);
		if (!log_compact(sp, id, &e2))
			log_warn("%s", e2.msg);
	}
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		io_err(err, ERR_SCOPE_MESSAGE, "cannot open delivery log", path);
		free(path);
		return false;
	}
	char last = '\n';
	struct buf out;
	buf_init(&out, 0);
	if (fstat(fd, &st) == 0 && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1 &&
	    last != '\n')
		buf_append_str(&out, TORN_MARK);
	buf_append(&out, line->data, line->len);
	ssize_t r;
	do
		r = write(fd, out.data, out.len);
	while (r < 0 && errno == EINTR);
	ok = r == (ssize_t)out.len;
	buf_free(&out);
	if (!ok) {
		if (r >= 0)
			errno = ENOSPC;
		io_err(err, ERR_SCOPE_MESSAGE, "cannot append to delivery log", path);
	}
	close(fd);
	free(path);
	return ok;
}

bool spool_record(struct spool *sp, const char *id, unsigned dest, size_t rcpt,
		  enum spool_outcome outcome, unsigned attempts, const char *text,
		  struct err *err)
{
	struct buf b;
	bool ok;

	if (!check_id(id, err))
		return false;
	if (spool_dest_name(dest) == NULL || (unsigned)outcome > SPOOL_EXPIRED) {
		err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_INTERNAL, false,
			"spool_record: bad destination %u or outcome %d", dest, (int)outcome);
		return false;
	}
	buf_init(&b, 0);
	log_format(&b, time(NULL), dest, rcpt, outcome, attempts, text);
	ok = log_append(sp, id, &b, err);
	buf_free(&b);
	return ok;
}

bool spool_record_dsn(struct spool *sp, const char *id, const char *dsn_id, struct err *err)
{
	struct buf b;
	bool ok;

	if (!check_id(id, err))
		return false;
	buf_init(&b, 0);
	buf_printf(&b, "%lld - - dsn 0 %s\n", (long long)time(NULL),
		   spool_id_valid(dsn_id) ? dsn_id : "-");
	ok = log_append(sp, id, &b, err);
	buf_free(&b);
	return ok;
}

/* ---- hold, release, remove ---- */

bool spool_move(struct spool *sp, const char *id, enum spool_where from, enum spool_where to,
		struct err *err)
{
	char *st_name;

	if (!check_id(id, err))
		return false;
	if (from == to) {
		err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_USAGE, false,
			"message %s: already in %s/", id, where_name(to));
		return false;
	}
	if (renameat(where_fd(sp, from), id, where_fd(sp, to), id) != 0) {
		if (errno == ENOENT) {
			err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false,
				"no message %s in %s/ of spool %s", id, where_name(from), sp->path);
		} else {
			char *p = xasprintf("%s/%s", where_dir(sp, from), id);
			io_err(err, ERR_SCOPE_MESSAGE, "cannot move spool file", p);
			free(p);
		}
		return false;
	}
	st_name = xasprintf("%s.st", id);
	if (renameat(where_fd(sp, from), st_name, where_fd(sp, to), st_name) != 0 &&
	    errno != ENOENT) {
		char *p = xasprintf("%s/%s", where_dir(sp, from), st_name);
		io_err(err, ERR_SCOPE_MESSAGE, "cannot move delivery log", p);
		free(p);
		free(st_name);
		return false;
	}
	free(st_name);
	if (fsync(where_fd(sp, to)) != 0 || fsync(where_fd(sp, from)) != 0)
		return io_err(err, ERR_SCOPE_MESSAGE, "cannot sync spool folders of", sp->path);
	return true;
}

bool spool_remove(struct spool *sp, enum spool_where where, const char *id, struct err *err)
{
	int fd = where_fd(sp, where);
	char *st_name;

	if (!check_id(id, err))
		return false;
	if (unlinkat(fd, id, 0) != 0) {
		if (errno == ENOENT) {
			err_set(err, ERR_SCOPE_MESSAGE, ERR_KIND_IO, false,
				"no message %s in %s/ of spool %s", id, where_name(where), sp->path);
		} else {
			char *p = xasprintf("%s/%s", where_dir(sp, where), id);
			io_err(err, ERR_SCOPE_MESSAGE, "cannot remove spool file", p);
			free(p);
		}
		return false;
	}
	st_name = xasprintf("%s.st", id);
	if (unlinkat(fd, st_name, 0) != 0 && errno != ENOENT) {
		char *p = xasprintf("%s/%s", where_dir(sp, where), st_name);
		io_err(err, ERR_SCOPE_MESSAGE, "cannot remove delivery log", p);
		free(p);
		free(st_name);
		return false;
	}
	free(st_name);
	if (fsync(fd) != 0)
		return io_err(err, ERR_SCOPE_MESSAGE, "cannot sync spool folder", where_dir(sp, where));
	return true;
}
