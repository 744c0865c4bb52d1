/* accounts.c — parse one group's accounts CSV (config_parse_accounts).
 *
 * Contract (see config.h): RFC 4180 CSV. Fields may be quoted with '"', a
 * quote inside quotes is written "", and quoted fields may hold commas and
 * line ends. Lines end in LF or CRLF; a UTF-8 byte order mark at the start is
 * skipped; blank lines are skipped. The first row is a header naming the
 * columns (case-insensitive, any order): email is required; old_user,
 * old_password, new_user, new_password are optional; other columns are
 * ignored. old_user/new_user default to the email; empty passwords are NULL.
 * Every row has as many fields as the header: a row with more is almost
 * always an unquoted comma in a password, and guessing would log in with the
 * wrong secret. Errors name "file:line" (the line where the row starts).
 * No I/O, no globals.
 *
 * SECURITY: the text holds passwords. Password fields are allocated at their
 * final size (no reallocation leaves copies behind), discarded fields are
 * wiped before they are freed, and no message ever quotes a password field.
 * Emails and user names are quoted in messages; they are not secrets.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"

struct csv_field {
	char *s;
	size_t len;
};

struct csv {
	const char *name;
	const char *p;
	const char *end;
	int line;
};

enum csv_column { COL_EMAIL, COL_OLD_USER, COL_OLD_PASSWORD, COL_NEW_USER, COL_NEW_PASSWORD,
		  COL_COUNT };

static const char *const column_names[COL_COUNT] = {
	"email", "old_user", "old_password", "new_user", "new_password",
};

static void wipe_free(char *s, size_t len)
{
	if (s == NULL)
		return;
	explicit_bzero(s, len);
	free(s);
}

static void fields_free(struct csv_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wipe_free(f[i].s, f[i].len);
	free(f);
}

static bool csv_error(struct csv *c, int line, struct err *err, const char *what)
{
	err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "%s:%d: %s", c->name, line, what);
	return false;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* A quoted field: c->p is just past the opening quote. */
static bool csv_quoted(struct csv *c, struct csv_field *f, struct err *err)
{
	int start = c->line;
	size_t n = 0;
	int lines = 0;
	const char *r = c->p;

	/* First pass: find the closing quote and the decoded length, so the
	 * field is allocated once at its final size. */
	for (;;) {
		if (r >= c->end)
			return csv_error(c, start, err, "a quoted field is not closed; add the "
					 "closing '\"' (a quote inside quotes is written \"\")");
		if (*r == '\0')
			return csv_error(c, c->line + lines, err, "NUL byte; the file is not text "
					 "(save it as UTF-8 CSV)");
		if (*r == '"') {
			if (r + 1 < c->end && r[1] == '"') {
				n++;
				r += 2;
				continue;
			}
			break;
		}
		if (*r == '\n')
			lines++;
		n++;
		r++;
	}
	f->s = xmalloc(n + 1);
	f->len = n;
	size_t j = 0;
	for (const char *q = c->p; q < r; q++) {
		f->s[j++] = *q;
		if (*q == '"')
			q++;
	}
	f->s[j] = '\0';
	c->line += lines;
	r++;
	while (r < c->end && is_blank(*r))
		r++;
	if (r < c->end && *r != ',' && *r != '\n' &&
	    !(*r == '\r' && r + 1 < c->end && r[1] == '\n') && !(*r == '\r' && r + 1 == c->end)) {
		wipe_free(f->s, f->len);
		f->s = NULL;
		f->len = 0;
		return csv_error(c, c->line, err, "text after a closing quote; inside a quoted "
				 "field write a quote as \"\"");
	}
	c->p = r;
	return true;
}

static bool csv_unquoted(struct csv *c, struct csv_field *f, struct err *err)
{
	const char *s = c->p;
	const char *r = s;

	while (r < c->end && *r != ',' && *r != '\n') {
		if (*r == '\0')
			return csv_error(c, c->line, err, "NUL byte; the file is not text "
					 "(save it as UTF-8 CSV)");
		if (*r == '\r' && r + 1 < c->end && r[1] != '\n')
			return csv_error(c, c->line, err, "a CR without LF; save the file with "
					 "LF or CRLF line ends");
		r++;
	}
	size_t n = (size_t)(r - s);
	if (n > 0 && s[n - 1] == '\r')
		n--;
	f->s = xmalloc(n + 1);
	memcpy(f->s, s, n);
	f->s[n] = '\0';
	f->len = n;
	c->p = r;
	return true;
}

/* Read one row. Returns 1 with the fields, 0 at the end of the text, -1 on
 * error. *line_r is the line where the row starts. */
static int csv_row(struct csv *c, struct csv_field **fields_r, size_t *count_r, bool *quoted_r,
		   int *line_r, struct err *err)
{
	struct csv_field *fields = NULL;
	size_t n = 0, cap = 0;

	*fields_r = NULL;
	*count_r = 0;
	*quoted_r = false;
	if (c->p >= c->end)
		return 0;
	*line_r = c->line;
	for (;;) {
		struct csv_field f = { NULL, 0 };
		const char *q = c->p;

		while (q < c->end && is_blank(*q))
			q++;
		if (q < c->end && *q == '"') {
			c->p = q + 1;
			*quoted_r = true;
			if (!csv_quoted(c, &f, err))
				goto fail;
		} else if (!csv_unquoted(c, &f, err)) {
			goto fail;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			fields = xreallocarray(fields, cap, sizeof *fields);
		}
		fields[n++] = f;
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		/* end of row: skip the line end (a CR before it was consumed or
		 * stripped with the field) */
		while (c->p < c->end && *c->p == '\r')
			c->p++;
		if (c->p < c->end && *c->p == '\n') {
			c->p++;
			c->line++;
		}
		break;
	}
	*fields_r = fields;
	*count_r = n;
	return 1;
fail:
	fields_free(fields, n);
	return -1;
}

static char *trim_dup(const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && is_blank(s[n - 1]))
		n--;
	while (n > 0 && is_blank(*s)) {
		s++;
		n--;
	}
	return xstrndup(s, n);
}

static bool has_space_or_control(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch <= 0x20 || ch == 0x7f)
			return true;
	}
	return false;
}

static void account_clear(struct config_account *a)
{
	free(a->email);
	free(a->old_user);
	free(a->new_user);
	if (a->old_password != NULL)
		wipe_free(a->old_password, strlen(a->old_password));
	if (a->new_password != NULL)
		wipe_free(a->new_password, strlen(a->new_password));
	memset(a, 0, sizeof *a);
}

static void accounts_free(struct config_account *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		account_clear(&a[i]);
	free(a);
}

static bool row_is_blank(const struct csv_field *f, size_t n, bool quoted)
{
	if (n != 1 || quoted)
		return false;
	for (size_t i = 0; i < f[0].len; i++) {
		if (!is_blank(f[0].s[i]))
			return false;
	}
	return true;
}

static bool check_user(struct csv *c, int line, const char *col, const char *v, struct err *err)
{
	if (has_space_or_control(v)) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "%s:%d: %s '%s' contains a "
			"space or control character; fix the value", c->name, line, col, v);
		return false;
	}
	return true;
}

/* Sort by email (case-insensitive: mailboxes differing only in case are
 * the same account on every server we migrate between), then by line. */
static int cmp_email(const void *a, const void *b)
{
	const struct config_account *x = *(const struct config_account *const *)a;
	const struct config_account *y = *(const struct config_account *const *)b;
	int r = strcasecmp(x->email, y->email);

	if (r != 0)
		return r;
	return (x->line > y->line) - (x->line < y->line);
}

/* Report the duplicate whose second occurrence comes first in the file:
 * that is the one an administrator reading from the top meets first. O(n
 * log n) so a CSV of many thousand accounts stays instant. */
static bool check_duplicates(struct csv *c, struct config_account *a, size_t n, struct err *err)
{
	const struct config_account **v;
	const struct config_account *first = NULL, *second = NULL;

	if (n < 2)
		return true;
	v = xreallocarray(NULL, n, sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = &a[i];
	qsort(v, n, sizeof *v, cmp_email);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && strcasecmp(v[i]->email, v[j]->email) == 0)
			j++;
		if (j > i + 1 && (second == NULL || v[i + 1]->line < second->line)) {
			first = v[i];
			second = v[i + 1];
		}
		i = j;
	}
	free(v);
	if (second == NULL)
		return true;
	err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "%s:%d: duplicate email '%s' "
		"(also on line %d); keep one row per account", c->name, second->line,
		second->email, first->line);
	return false;
}

bool config_parse_accounts(const char *name, const char *text, size_t len,
			   struct config_account **accounts_r, size_t *count_r, struct err *err)
{
	struct csv c = { name != NULL ? name : "accounts", text, text + len, 1 };
	struct csv_field *f = NULL;
	size_t nf = 0, header_n = 0;
	int col[COL_COUNT];
	struct config_account *acc = NULL;
	size_t nacc = 0, acc_cap = 0;
	bool quoted = false;
	int line = 0, r;

	*accounts_r = NULL;
	*count_r = 0;
	if (text == NULL)
		c.p = c.end = "";
	if (c.end - c.p >= 3 && memcmp(c.p, "\xef\xbb\xbf", 3) == 0)
		c.p += 3;

	/* header */
	do {
		fields_free(f, nf);
		r = csv_row(&c, &f, &nf, &quoted, &line, err);
		if (r < 0)
			return false;
		if (r == 0) {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "%s: no header row; the "
				"first row must name the columns, e.g. email,old_user,old_password,"
				"new_user,new_password", c.name);
			return false;
		}
	} while (row_is_blank(f, nf, quoted));
	for (int k = 0; k < COL_COUNT; k++)
		col[k] = -1;
	for (size_t i = 0; i < nf; i++) {
		char *h = trim_dup(f[i].s);

		for (int k = 0; k < COL_COUNT; k++) {
			if (strcasecmp(h, column_names[k]) != 0)
				continue;
			if (col[k] >= 0) {
				err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "%s:%d: column '%s' "
					"appears twice in the header; keep one", c.name, line,
					column_names[k]);
				free(h);
				fields_free(f, nf);
				return false;
			}
			col[k] = (int)i;
		}
		free(h);
	}
	header_n = nf;
	fields_free(f, nf);
	f = NULL;
	nf = 0;
	if (col[COL_EMAIL] < 0) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "%s:%d: the header row has no "
			"'email' column; the first row must name the columns, e.g. "
			"email,old_user,old_password,new_user,new_password", c.name, line);
		return false;
	}

	for (;;) {
		r = csv_row(&c, &f, &nf, &quoted, &line, err);
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		if (row_is_blank(f, nf, quoted)) {
			fields_free(f, nf);
			f = NULL;
			nf = 0;
			continue;
		}
		if (nf != header_n) {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "%s:%d: %zu fields but the "
				"header has %zu; put quotes around a value that contains a comma",
				c.name, line, nf, header_n);
			goto fail;
		}
		if (nacc == acc_cap) {
			acc_cap = acc_cap ? acc_cap * 2 : 16;
			acc = xreallocarray(acc, acc_cap, sizeof *acc);
		}
		struct config_account *a = &acc[nacc++];
		memset(a, 0, sizeof *a);
		a->line = line;
		a->email = trim_dup(f[col[COL_EMAIL]].s);
		if (a->email[0] == '\0') {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "%s:%d: empty email; every "
				"row needs the account's address", c.name, line);
			goto fail;
		}
		if (!check_user(&c, line, "email", a->email, err))
			goto fail;
		const char *at = strrchr(a->email, '@');
		if (at == NULL || at == a->email || at[1] == '\0') {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "%s:%d: email '%s' is not "
				"an address (user@domain); write the full address", c.name, line,
				a->email);
			goto fail;
		}
		const int users[2] = { COL_OLD_USER, COL_NEW_USER };
		char **user_slot[2] = { &a->old_user, &a->new_user };
		for (int k = 0; k < 2; k++) {
			if (col[users[k]] >= 0)
				*user_slot[k] = trim_dup(f[col[users[k]]].s);
			if (*user_slot[k] != NULL && (*user_slot[k])[0] == '\0') {
				free(*user_slot[k]);
				*user_slot[k] = NULL;
			}
			if (*user_slot[k] == NULL)
				*user_slot[k] = xstrdup(a->email);
			else if (!check_user(&c, line, column_names[users[k]], *user_slot[k], err))
				goto fail;
		}
		/* Passwords are taken exactly as written, spaces included: they
		 * are moved, not copied, so no second copy needs wiping. */
		const int pws[2] = { COL_OLD_PASSWORD, COL_NEW_PASSWORD };
		char **pw_slot[2] = { &a->old_password, &a->new_password };
		for (int k = 0; k < 2; k++) {
			int i = col[pws[k]];

			if (i >= 0 && f[i].len > 0) {
				*pw_slot[k] = f[i].s;
				f[i].s = NULL;
				f[i].len = 0;
			}
		}
		fields_free(f, nf);
		f = NULL;
		nf = 0;
	}
	if (!check_duplicates(&c, acc, nacc, err))
		goto fail;
	*accounts_r = acc;
	*count_r = nacc;
	return true;
fail:
	fields_free(f, nf);
	accounts_free(acc, nacc);
	return false;
}
