/* imap_parser.h — resumable parser of IMAP server responses (RFC 3501 §7, §9).
 *
 * No I/O and no globals (like Dovecot's lib-imap/imap-parser): the caller
 * feeds whatever bytes arrived and gets back one event at a time:
 *
 *     size_t used;
 *     switch (imap_parser_feed(p, in, len, &used)) { ... }
 *     in += used; len -= used;       // always advance by `used`, then loop
 *
 * Events:
 *  - IMAP_PARSE_NEED_MORE: all of the input was consumed (used == len) and no
 *    response is complete yet; feed more when it arrives.
 *  - IMAP_PARSE_RESPONSE: one whole response is parsed; imap_parser_response()
 *    returns it, valid until the next call of imap_parser_feed().
 *  - IMAP_PARSE_LITERAL_BEGIN: a *streamed* literal starts (see below);
 *    imap_parser_literal() describes it. Nothing of the literal is consumed.
 *  - IMAP_PARSE_LITERAL_DATA: the literal's next bytes are exactly the
 *    consumed prefix of the input, in[0 .. used). used > 0.
 *  - IMAP_PARSE_LITERAL_END: the streamed literal is complete (used == 0);
 *    parsing of the response continues on the next feed.
 *  - IMAP_PARSE_ERROR: the input is not IMAP or breaks a limit;
 *    imap_parser_error() says what in one sentence. The parser is dead: the
 *    connection must be dropped (there is no way to resynchronise).
 *
 * Streaming: a literal that is the value of a FETCH body item (the atom
 * before it starts with "BODY[", "BINARY[" or is "RFC822", "RFC822.TEXT",
 * "RFC822.HEADER", case-insensitive) and whose size is >= stream_literal_min
 * is never buffered: it is handed over chunk by chunk as LITERAL_DATA, and in
 * the finished response its place holds an IMAP_ARG_LITERAL_STREAMED arg (with
 * its size). Every other literal is kept inline as an IMAP_ARG_STRING and
 * counts against max_response_bytes. Thus memory does not grow with message
 * size, and everything else has a hard bound.
 *
 * Grammar accepted (lenient where real servers are sloppy, strict where a
 * mistake could desynchronise us):
 *  - "+ text"                                      → CONTINUATION, text
 *  - "TAG OK|NO|BAD [code] text"                   → TAGGED, status, code, text
 *  - "* OK|NO|BAD|PREAUTH|BYE [code] text"         → UNTAGGED, status, code, text
 *  - "* anything else" (data: "5 FETCH (...)", "LIST (...) "." INBOX",
 *    "CAPABILITY A B", "SEARCH 1 2", "NAMESPACE ((...)) NIL NIL")
 *                                                  → UNTAGGED, status NONE, args
 *  Args: atoms (any run of chars other than SP, CR, LF, '(', ')', '{', '"';
 *  a '[' inside an atom extends it to the matching ']' including spaces and
 *  parentheses, so "BODY[HEADER.FIELDS (DATE FROM)]<0>" is one atom), NIL
 *  (case-insensitive, unquoted) → IMAP_ARG_NIL, quoted strings with \" and \\
 *  escapes, literals {N}\r\n, {N+}\r\n and literal8 ~{N}\r\n, parenthesised
 *  lists nested up to max_depth. Lines end in CRLF; a bare LF is accepted as
 *  end of line too (some servers), a NUL outside a literal is an error.
 *  Status codes: the text between '[' and the matching ']' is kept verbatim
 *  in `code` ("APPENDUID 38505 3955", "PERMANENTFLAGS (\Seen \*)").
 *
 * Memory: the parser owns everything it returns; pointers stay valid until
 * the next imap_parser_feed() or imap_parser_free().
 */
#ifndef MS_IMAP_PARSER_H
#define MS_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum imap_arg_type {
	IMAP_ARG_ATOM,             /* includes numbers and flags like \Seen */
	IMAP_ARG_STRING,           /* quoted string or inline literal */
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,
	IMAP_ARG_LITERAL_STREAMED, /* a literal handed over as LITERAL_DATA */
};

struct imap_arg {
	enum imap_arg_type type;
	/* ATOM, STRING: the bytes, NUL-terminated; a STRING from a literal may
	 * contain NULs, so use len. NULL for NIL, LIST, LITERAL_STREAMED. */
	const char *str;
	/* ATOM, STRING: length of str. LITERAL_STREAMED: the literal's size. */
	uint64_t len;
	/* LIST: its items. */
	const struct imap_arg *list;
	size_t list_count;
	/* STRING/LITERAL_STREAMED: true when it came as a literal. */
	bool literal;
};

enum imap_resp_kind {
	IMAP_RESP_UNTAGGED,
	IMAP_RESP_TAGGED,
	IMAP_RESP_CONTINUATION,
};

enum imap_status {
	IMAP_STATUS_NONE = 0,  /* untagged data, or a continuation */
	IMAP_STATUS_OK,
	IMAP_STATUS_NO,
	IMAP_STATUS_BAD,
	IMAP_STATUS_PREAUTH,
	IMAP_STATUS_BYE,
};

struct imap_response {
	enum imap_resp_kind kind;
	const char *tag;              /* TAGGED: the tag; else NULL */
	enum imap_status status;
	const char *code;             /* status responses: code without brackets, or NULL */
	const char *text;             /* status responses and continuations: the text ("" if none) */
	const struct imap_arg *args;  /* untagged data: the args after "* " */
	size_t arg_count;
};

struct imap_literal_info {
	uint64_t size;
	const char *section;  /* the body item, e.g. "BODY[]", "BODY[HEADER]", "RFC822" */
	uint32_t fetch_seq;   /* "* N FETCH": N; 0 if not in a FETCH response */
	uint32_t fetch_uid;   /* "UID n" seen earlier in the same FETCH list, else 0 */
	bool literal8;        /* came as ~{N} */
};

struct imap_parser_limits {
	size_t max_response_bytes;     /* all non-streamed bytes of one response; default 1 MiB */
	unsigned max_depth;            /* list nesting; default 32 */
	uint64_t stream_literal_min;   /* body literals this big or bigger are streamed; default 0 (all) */
	uint64_t max_literal_size;     /* any literal; default 8 GiB */
};

enum imap_parse_result {
	IMAP_PARSE_NEED_MORE,
	IMAP_PARSE_RESPONSE,
	IMAP_PARSE_LITERAL_BEGIN,
	IMAP_PARSE_LITERAL_DATA,
	IMAP_PARSE_LITERAL_END,
	IMAP_PARSE_ERROR,
};

struct imap_parser;

/* limits may be NULL for the defaults; fields left 0 take the default
 * (except stream_literal_min, where 0 is meaningful). */
struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
void imap_parser_free(struct imap_parser **pp);

enum imap_parse_result imap_parser_feed(struct imap_parser *p, const unsigned char *in,
					size_t len, size_t *used_r);

const struct imap_response *imap_parser_response(const struct imap_parser *p);
const struct imap_literal_info *imap_parser_literal(const struct imap_parser *p);
const char *imap_parser_error(const struct imap_parser *p);

/* Helpers for consumers. */
/* True when arg is an ATOM or STRING equal to s, ASCII case-insensitive. */
bool imap_arg_is(const struct imap_arg *arg, const char *s);
/* Parse an ATOM made only of digits into *out (fails on overflow of 2^63). */
bool imap_arg_number(const struct imap_arg *arg, uint64_t *out);
/* ATOM, STRING: str; NIL: NULL; else NULL. */
const char *imap_arg_str(const struct imap_arg *arg);

#endif
