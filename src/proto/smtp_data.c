/* smtp_data.c — resumable DATA reader; the contract is smtp_data.h.
 *
 * A byte-at-a-time state machine over "where in a line are we". Only a
 * CRLF puts it at the beginning of a line, and only at the beginning of a
 * line can a '.' start the end marker, which is why no bare CR or LF can
 * forge an end of data (SMTP smuggling, CVE-2023-51766 and friends).
 *
 * Nothing is ever held back for output: the only bytes whose fate is
 * unknown at a chunk boundary are a leading '.' (dropped either way) and
 * the CR after it (".<CR>" followed by anything but LF is a bare CR, an
 * error, and after an error nothing is handed out). So every run handed
 * out is a slice of the caller's input, and the state is a few bytes.
 *
 * SECURITY: the stream comes from any client. The state is bounded, sizes
 * are counted in 64 bits, and the decision where output stops is taken
 * per byte, so it cannot depend on how the network split the input.
 */
#include "smtp_data.h"

enum {
	ST_BOL,     /* at the beginning of a line */
	ST_DOT,     /* a '.' at the beginning of a line */
	ST_DOT_CR,  /* ".<CR>" at the beginning of a line */
	ST_MID,     /* inside a line */
	ST_CR,      /* a CR inside a line (or an empty line's) */
	ST_DONE,
};

void smtp_data_init(struct smtp_data *d, uint64_t max_size)
{
	d->max_size = max_size;
	d->size = 0;
	d->out = 0;
	d->state = ST_BOL;
	d->bare_newline = false;
	d->too_big = false;
}

static enum smtp_data_result end_result(const struct smtp_data *d)
{
	if (d->bare_newline)
		return SMTP_DATA_END_BARE_NEWLINE;
	if (d->too_big)
		return SMTP_DATA_END_TOO_BIG;
	return SMTP_DATA_END;
}

/* Counts one message byte and says whether it may be handed out. */
static bool count(struct smtp_data *d)
{
	d->size++;
	if (d->bare_newline || d->too_big)
		return false;
	if (d->max_size != 0 && d->size > d->max_size) {
		d->too_big = true;
		return false;
	}
	return true;
}

enum smtp_data_result smtp_data_feed(struct smtp_data *d, const char *in, size_t len,
				     size_t *used_r, const char **run_r, size_t *run_len_r)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i, start = 0, n = 0;

	*run_r = in;
	*run_len_r = 0;
	*used_r = 0;
	if (d->state == ST_DONE)
		return end_result(d);

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];
		bool msg = true;   /* c is a byte of the message */

		switch (d->state) {
		case ST_BOL:
			if (c == '.') {
				d->state = ST_DOT;
				msg = false;
				break;
			}
			goto mid;
		case ST_DOT:
			if (c == '\r') {
				d->state = ST_DOT_CR;
				msg = false;
				break;
			}
			goto mid;
		case ST_DOT_CR:
			if (c == '\n') {
				d->state = ST_DONE;
				msg = false;
				break;
			}
			/* ".<CR>x": the CR was bare; it is part of the message
			 * (for the size), never handed out (now an error). */
			d->bare_newline = true;
			d->size++;
			goto mid;
		case ST_CR:
			if (c == '\n') {
				d->state = ST_BOL;
				break;
			}
			d->bare_newline = true;
			goto mid;
		default:
		mid:
			if (c == '\r') {
				d->state = ST_CR;
			} else {
				if (c == '\n')
					d->bare_newline = true;
				d->state = ST_MID;
			}
			break;
		}

		if (msg && count(d)) {
			if (n == 0)
				start = i;
			n++;
		} else if (n > 0 || d->state == ST_DONE) {
			/* The run cannot go on past a byte that is not handed
			 * out; this byte is consumed, the run ends before it. */
			i++;
			break;
		}
	}
	*used_r = i;
	*run_r = in + start;
	*run_len_r = n;
	d->out += n;
	return d->state == ST_DONE ? end_result(d) : SMTP_DATA_MORE;
}

uint64_t smtp_data_size(const struct smtp_data *d)
{
	return d->size;
}

bool smtp_data_too_big(const struct smtp_data *d)
{
	return d->too_big;
}

bool smtp_data_bare_newline(const struct smtp_data *d)
{
	return d->bare_newline;
}
