/* imap_write.c — see imap_write.h. */
#include "imap_write.h"

#include <string.h>
#include <strings.h>
#include <time.h>

bool imap_write_quoted(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80)
			return false;
	}
	buf_append_char(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_append_char(out, '\\');
		buf_append_char(out, s[i]);
	}
	buf_append_char(out, '"');
	return true;
}

static bool atom_char(unsigned char c)
{
	/* ATOM-CHAR: any CHAR except atom-specials: ( ) { SP CTL % * " \ ] */
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

bool imap_flag_appendable(const char *flag)
{
	static const char *const system[] = { "\\Seen", "\\Answered", "\\Flagged", "\\Deleted",
					      "\\Draft" };
	if (flag[0] == '\\') {
		for (size_t i = 0; i < sizeof system / sizeof system[0]; i++)
			if (strcasecmp(flag, system[i]) == 0)
				return true;
		return false;
	}
	if (flag[0] == '\0' || strlen(flag) > 200)
		return false;
	for (const char *p = flag; *p; p++)
		if (!atom_char((unsigned char)*p))
			return false;
	return true;
}

static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static bool digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

bool imap_datetime_parse(const char *s, long long *epoch_r)
{
	/* "dd-Mon-yyyy hh:mm:ss +zzzz", day " d" or "dd" */
	int day, year, hh, mm, ss, tz;
	if (strlen(s) != 26)
		return false;
	if (s[0] == ' ') {
		if (!digits(s + 1, 1, &day))
			return false;
	} else if (!digits(s, 2, &day)) {
		return false;
	}
	if (s[2] != '-' || s[6] != '-' || s[11] != ' ' || s[14] != ':' || s[17] != ':' ||
	    s[20] != ' ' || (s[21] != '+' && s[21] != '-'))
		return false;
	int mon = -1;
	for (int i = 0; i < 12; i++)
		if (strncasecmp(s + 3, months[i], 3) == 0)
			mon = i;
	if (mon < 0 || !digits(s + 7, 4, &year) || !digits(s + 12, 2, &hh) ||
	    !digits(s + 15, 2, &mm) || !digits(s + 18, 2, &ss) || !digits(s + 22, 4, &tz))
		return false;
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || tz % 100 > 59)
		return false;
	struct tm tm = { .tm_year = year - 1900, .tm_mon = mon, .tm_mday = day,
			 .tm_hour = hh, .tm_min = mm, .tm_sec = ss };
	long long t = (long long)timegm(&tm);
	long long off = (tz / 100) * 3600 + (tz % 100) * 60;
	*epoch_r = s[21] == '+' ? t - off : t + off;
	return true;
}

bool imap_datetime_valid(const char *s)
{
	long long t;
	return imap_datetime_parse(s, &t);
}
