/* smtp_cmd.h — parse one SMTP command line received by the relay's server
 * (RFC 5321 §4.1, with SIZE RFC 1870, 8BITMIME RFC 6152, SMTPUTF8 RFC 6531).
 *
 * No I/O, no globals, no allocation: the caller frames the line (reads up
 * to CRLF, bounded), strips the CRLF and hands the rest to smtp_cmd_parse(),
 * which fills a caller-owned struct smtp_cmd. Everything it returns lives in
 * that struct (fixed arrays) or is a static string.
 *
 * Contract:
 *  - The line is at most SMTP_CMD_LINE_MAX (510) octets; longer is
 *    SMTP_CMD_ERR_TOO_LONG (RFC 5321 §4.5.3.1.4: 512 with the CRLF).
 *  - Any octet below 0x20 (CR, LF, NUL, TAB ...), 0x7F, or invalid UTF-8
 *    anywhere in the line is SMTP_CMD_ERR_BAD_CHAR: a CR or LF here means
 *    the client tried to hide a second command or a header in one line.
 *    So no string handed out can ever contain a control character.
 *  - Verbs are case-insensitive; an unknown verb is SMTP_CMD_ERR_UNKNOWN
 *    (verb SMTP_VERB_UNKNOWN). DATA, RSET, QUIT, STARTTLS take no argument;
 *    HELO, EHLO, VRFY need one; NOOP and HELP take an optional one. The
 *    argument is kept in `arg` (trailing spaces dropped).
 *  - "MAIL FROM:<reverse-path> [SP params]", "RCPT TO:<forward-path>
 *    [SP params]" (spaces after the colon tolerated, angle brackets
 *    required). The null path <> only for MAIL. RCPT TO:<Postmaster>
 *    without a domain is accepted (RFC 5321 §4.1.1.3): domain "".
 *    A source route "@a,@b:" is checked and dropped. The mailbox is
 *    local "@" domain: a dot-string or a quoted string (64 octets as sent),
 *    a domain of LDH labels (63 each, 255 in all) or an address literal
 *    ([IPv4], [IPv6:...], [tag:text]); the whole path with its brackets is
 *    at most 256 octets. Non-ASCII (UTF-8) in the address only with
 *    SMTPUTF8: on MAIL the parameter on the same line, on RCPT the caller's
 *    utf8_ok (the transaction's MAIL had SMTPUTF8).
 *  - MAIL parameters: SIZE=<1..20 digits>, BODY=7BIT|8BITMIME, SMTPUTF8
 *    (keywords and values case-insensitive); a repeated or malformed one is
 *    SMTP_CMD_ERR_PARAM_BAD, any other keyword SMTP_CMD_ERR_PARAM_UNKNOWN.
 *    RCPT takes no parameters (we offer no DSN extension). Whether SIZE is
 *    over the limit is policy, left to the session.
 *
 * On success smtp_cmd_parse() returns true and cmd->error is
 * SMTP_CMD_ERR_NONE; on failure it returns false and cmd->reply_code,
 * cmd->enhanced and cmd->text are the reply to send ("501 5.1.3 Bad
 * recipient address syntax"); verb is still set when it was recognised.
 */
#ifndef MS_SMTP_CMD_H
#define MS_SMTP_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_CMD_LINE_MAX 510  /* octets, without the CRLF */
#define SMTP_LOCAL_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_PATH_MAX 256      /* "<" ... ">" included */

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_HELP,
};

enum smtp_cmd_error {
	SMTP_CMD_ERR_NONE = 0,
	SMTP_CMD_ERR_TOO_LONG,      /* 500 5.5.2 */
	SMTP_CMD_ERR_BAD_CHAR,      /* 500 5.5.2: control octet or bad UTF-8 */
	SMTP_CMD_ERR_UNKNOWN,       /* 500 5.5.2: unknown verb (or empty line) */
	SMTP_CMD_ERR_SYNTAX,        /* 501 5.5.4: arguments missing or extra */
	SMTP_CMD_ERR_BAD_SENDER,    /* 501 5.1.7: MAIL path syntax */
	SMTP_CMD_ERR_BAD_RCPT,      /* 501 5.1.3: RCPT path syntax */
	SMTP_CMD_ERR_TOO_LONG_PATH, /* 501 5.1.7 (MAIL) / 5.1.3 (RCPT): a length limit */
	SMTP_CMD_ERR_PARAM_UNKNOWN, /* 555 5.5.4 */
	SMTP_CMD_ERR_PARAM_BAD,     /* 501 5.5.4 */
	SMTP_CMD_ERR_UTF8,          /* 553 5.6.7: non-ASCII address without SMTPUTF8 */
};

enum smtp_body {
	SMTP_BODY_NONE = 0,  /* no BODY= given */
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
};

struct smtp_cmd {
	enum smtp_verb verb;
	enum smtp_cmd_error error;
	/* The reply for an error (static strings); 0 / "" / "" on success. */
	unsigned reply_code;
	const char *enhanced;
	const char *text;

	/* MAIL, RCPT. addr is the mailbox as it may be sent on again
	 * ("local@domain", a quoted local part still quoted), source route
	 * dropped; "" for <>. local is the local part decoded (quotes and
	 * backslash escapes removed). */
	bool null_path;
	bool utf8_addr;                  /* the address has non-ASCII octets */
	char addr[SMTP_PATH_MAX + 1];
	char local[SMTP_LOCAL_MAX + 1];
	char domain[SMTP_DOMAIN_MAX + 1];

	/* MAIL parameters. */
	bool has_size;
	uint64_t size;
	enum smtp_body body;
	bool smtputf8;

	/* HELO, EHLO, VRFY, NOOP, HELP: the argument ("" when none). */
	char arg[SMTP_CMD_LINE_MAX + 1];
};

/* line: the command without its CRLF, len octets (may contain NULs: they
 * are an error). utf8_ok: for RCPT, the transaction allows UTF-8 addresses.
 * Always fills *cmd completely. */
bool smtp_cmd_parse(const char *line, size_t len, bool utf8_ok, struct smtp_cmd *cmd);

/* "MAIL", "RCPT", ... or "unknown", for logs. */
const char *smtp_verb_name(enum smtp_verb verb);

#endif
