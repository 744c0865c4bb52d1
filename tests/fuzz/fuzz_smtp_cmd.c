/* fuzz_smtp_cmd.c — libFuzzer target for the SMTP command line parser.
 *
 * Byte 0 picks utf8_ok, the rest is the line. Besides what ASan/UBSan
 * catch, it checks the contract: no string handed out holds a control
 * octet, every length limit holds, an error always carries its reply, and
 * parsing is a pure function of its input.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/smtp_cmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static void clean(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	CHECK(n <= max);
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp_cmd a, b;

	if (size < 1)
		return 0;
	bool utf8_ok = data[0] & 1;
	const char *line = (const char *)data + 1;
	size_t len = size - 1;
	bool ok = smtp_cmd_parse(line, len, utf8_ok, &a);
	CHECK(ok == (a.error == SMTP_CMD_ERR_NONE));
	if (len > SMTP_CMD_LINE_MAX)
		CHECK(a.error == SMTP_CMD_ERR_TOO_LONG);
	if (memchr(line, '\r', len) || memchr(line, '\n', len) || memchr(line, '\0', len))
		CHECK(!ok);
	if (ok) {
		CHECK(a.reply_code == 0);
		CHECK(a.verb != SMTP_VERB_UNKNOWN);
		clean(a.addr, SMTP_PATH_MAX - 2);
		clean(a.local, SMTP_LOCAL_MAX);
		clean(a.domain, SMTP_DOMAIN_MAX);
		clean(a.arg, SMTP_CMD_LINE_MAX);
		if (a.verb == SMTP_VERB_MAIL || a.verb == SMTP_VERB_RCPT) {
			CHECK(a.null_path == (a.addr[0] == '\0'));
			CHECK(!a.null_path || a.verb == SMTP_VERB_MAIL);
			CHECK(strlen(a.addr) >= strlen(a.domain));
			if (a.utf8_addr)
				CHECK(a.verb == SMTP_VERB_MAIL ? a.smtputf8 : utf8_ok);
		} else {
			CHECK(a.addr[0] == '\0' && !a.has_size && a.body == SMTP_BODY_NONE);
		}
	} else {
		CHECK(a.reply_code == 500 || a.reply_code == 501 || a.reply_code == 553 ||
		      a.reply_code == 555);
		CHECK(a.enhanced != NULL && a.enhanced[0] == '5' && a.text != NULL && a.text[0]);
	}
	CHECK(smtp_cmd_parse(line, len, utf8_ok, &b) == ok);
	CHECK(memcmp(&a, &b, sizeof a) == 0);
	return 0;
}
