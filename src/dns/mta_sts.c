/* mta_sts.c — MTA-STS policy parser, mx match and HTTPS fetch; see
 * mta_sts.h for the contract. The parser half does no I/O; the fetch half
 * is the only network code and stays at the end of the file. */
#include "dns/mta_sts.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/alloc.h"
#include "core/buf.h"

/* ------------------------------------------------------------ parser */

void mta_sts_policy_free(struct mta_sts_policy *p)
{
	for (size_t i = 0; i < p->n_mx; i++)
		free(p->mx[i]);
	free(p->mx);
	memset(p, 0, sizeof(*p));
}

const char *mta_sts_mode_name(enum mta_sts_mode m)
{
	switch (m) {
	case MTA_STS_ENFORCE: return "enforce";
	case MTA_STS_TESTING: return "testing";
	case MTA_STS_NONE: return "none";
	}
	return "?";
}

/* A host name: dot-separated labels of letters, digits and inner hyphens,
 * 1..63 each, 253 in all; one trailing dot tolerated. */
static bool host_valid(const char *s, size_t n)
{
	size_t label = 0;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (isalnum(c) || (c == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return s[n - 1] != '-';
}

static bool key_valid(const char *s, size_t n)
{
	if (n == 0 || n > 32 || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool fail_line(struct err *err, size_t line, const char *fmt, const char *arg)
{
	char what[160];

	snprintf(what, sizeof(what), fmt, arg);
	err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
		"MTA-STS policy line %zu: %s (RFC 8461 section 3.2: lines \"version: STSv1\", "
		"\"mode: enforce|testing|none\", \"max_age: SECONDS\", \"mx: HOST\")", line, what);
	return false;
}

/* Field value as a short printable excerpt, for messages. */
static void excerpt(char *dst, size_t size, const char *s, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < n && j + 4 < size; i++)
		dst[j++] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (n > 0 && j + 4 >= size && j < n) {
		memcpy(dst + j, "...", 3);
		j += 3;
	}
	dst[j] = '\0';
}

bool mta_sts_parse(const char *text, size_t len, struct mta_sts_policy *out, struct err *err)
{
	bool seen_version = false, seen_mode = false, seen_age = false, blank_seen = false;
	size_t pos = 0, line = 0, blank_line = 0;
	char ex[80];

	memset(out, 0, sizeof(*out));
	while (pos < len) {
		const char *l = text + pos, *nl = memchr(l, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - l) : len - pos;
		const char *colon, *v, *ve;

		pos += n + (nl ? 1 : 0);
		line++;
		if (n > 0 && l[n - 1] == '\r')
			n--;
		if (memchr(l, '\r', n) != NULL || memchr(l, '\0', n) != NULL) {
			fail_line(err, line, "%s", "a stray CR or NUL byte");
			goto bad;
		}
		if (n == 0) {
			if (!blank_seen)
				blank_line = line;
			blank_seen = true;
			continue;
		}
		if (blank_seen) {
			char num[32];

			snprintf(num, sizeof(num), "%zu", blank_line);
			fail_line(err, line, "a field after the empty line %s", num);
			goto bad;
		}
		colon = memchr(l, ':', n);
		if (colon == NULL) {
			excerpt(ex, sizeof(ex), l, n);
			fail_line(err, line, "'%s' is not key: value", ex);
			goto bad;
		}
		if (!key_valid(l, (size_t)(colon - l))) {
			excerpt(ex, sizeof(ex), l, (size_t)(colon - l));
			fail_line(err, line, "'%s' is not a field name", ex);
			goto bad;
		}
		v = colon + 1;
		ve = l + n;
		while (v < ve && is_wsp(*v))
			v++;
		while (ve > v && is_wsp(ve[-1]))
			ve--;
		excerpt(ex, sizeof(ex), v, (size_t)(ve - v));
#define KEY(k) ((size_t)(colon - l) == strlen(k) && memcmp(l, k, strlen(k)) == 0)
#define VAL(s) ((size_t)(ve - v) == strlen(s) && memcmp(v, s, strlen(s)) == 0)
		if (KEY("version")) {
			if (seen_version) {
				fail_line(err, line, "%s", "version: appears twice");
				goto bad;
			}
			seen_version = true;
			if (!VAL("STSv1")) {
				fail_line(err, line, "version '%s' is not STSv1", ex);
				goto bad;
			}
		} else if (KEY("mode")) {
			if (seen_mode) {
				fail_line(err, line, "%s", "mode: appears twice");
				goto bad;
			}
			seen_mode = true;
			if (VAL("enforce"))
				out->mode = MTA_STS_ENFORCE;
			else if (VAL("testing"))
				out->mode = MTA_STS_TESTING;
			else if (VAL("none"))
				out->mode = MTA_STS_NONE;
			else {
				fail_line(err, line, "mode '%s' is not enforce, testing or none", ex);
				goto bad;
			}
		} else if (KEY("max_age")) {
			unsigned long age = 0;
			size_t nd = (size_t)(ve - v);

			if (seen_age) {
				fail_line(err, line, "%s", "max_age: appears twice");
				goto bad;
			}
			seen_age = true;
			/* 1*10DIGIT; the value bound is checked digit by digit
			 * so no overflow can happen */
			if (nd == 0 || nd > 10) {
				fail_line(err, line, "max_age '%s' is not 1 to 10 digits", ex);
				goto bad;
			}
			for (const char *c = v; c < ve; c++) {
				if (!isdigit((unsigned char)*c)) {
					fail_line(err, line, "max_age '%s' is not a number", ex);
					goto bad;
				}
				age = age * 10 + (unsigned long)(*c - '0');
			}
			if (age > MTA_STS_MAX_AGE_MAX) {
				fail_line(err, line, "max_age '%s' is over 31557600 (one year)", ex);
				goto bad;
			}
			out->max_age = age;
		} else if (KEY("mx")) {
			const char *h = v;

			if (ve - v >= 2 && v[0] == '*' && v[1] == '.')
				h = v + 2;
			if (!host_valid(h, (size_t)(ve - h))) {
				fail_line(err, line, "mx '%s' is not a host name (or *. and a host name)",
					  ex);
				goto bad;
			}
			out->mx = xreallocarray(out->mx, out->n_mx + 1, sizeof(*out->mx));
			out->mx[out->n_mx++] = xstrndup(v, (size_t)(ve - v));
		}
		/* other valid keys: extensions, ignored (§3.2) */
#undef KEY
#undef VAL
	}
	if (!seen_version || !seen_mode || !seen_age) {
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
			"MTA-STS policy: %s is missing (RFC 8461 section 3.2 requires version, mode and "
			"max_age)", !seen_version ? "version:" : !seen_mode ? "mode:" : "max_age:");
		goto bad;
	}
	if (out->n_mx == 0 && out->mode != MTA_STS_NONE) {
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_PROTOCOL, false,
			"MTA-STS policy: mode %s without any mx: line (list every MX host, e.g. "
			"\"mx: mail.example.com\")", mta_sts_mode_name(out->mode));
		goto bad;
	}
	return true;
bad:
	mta_sts_policy_free(out);
	return false;
}

/* Length without one trailing dot. */
static size_t name_len(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && s[n - 1] == '.' ? n - 1 : n;
}

bool mta_sts_mx_match(const char *pattern, const char *host)
{
	size_t pn, hn;

	if (pattern == NULL || host == NULL)
		return false;
	pn = name_len(pattern);
	hn = name_len(host);
	if (pn >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = memchr(host, '.', hn);

		/* exactly one label stands for the '*' */
		if (dot == NULL || dot == host)
			return false;
		return (size_t)(hn - (size_t)(dot + 1 - host)) == pn - 2 &&
		       strncasecmp(dot + 1, pattern + 2, pn - 2) == 0;
	}
	return pn == hn && pn > 0 && strncasecmp(pattern, host, pn) == 0;
}

const char *mta_sts_covers(const struct mta_sts_policy *p, const char *host)
{
	for (size_t i = 0; i < p->n_mx; i++)
		if (mta_sts_mx_match(p->mx[i], host))
			return p->mx[i];
	return NULL;
}

/* ------------------------------------------------------------ fetch */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct fetch {
	const struct mta_sts_fetch_opts *o;
	const char *addr;
	char *host;
	unsigned port;
	long long deadline;
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
};

static int remaining(const struct fetch *f)
{
	long long left = f->deadline - now_ms();

	return left > 0 ? (int)left : 0;
}

static bool fetch_fail(struct fetch *f, struct err *err, enum err_kind kind, const char *fmt,
		       const char *arg)
{
	char what[512];

	snprintf(what, sizeof(what), fmt, arg);
	err_set(err, ERR_SCOPE_NONE, kind, true, "https://%s:%u/.well-known/mta-sts.txt at %s: %s",
		f->host, f->port, f->addr, what);
	return false;
}

static bool wait_io(struct fetch *f, short ev, const char *doing, struct err *err)
{
	struct pollfd p = { .fd = f->fd, .events = ev };
	int left = remaining(f), r;

	if (left == 0)
		return fetch_fail(f, err, ERR_KIND_CONNECT, "timed out %s", doing);
	do
		r = poll(&p, 1, left);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return fetch_fail(f, err, ERR_KIND_CONNECT, "timed out %s", doing);
	if (r < 0)
		return fetch_fail(f, err, ERR_KIND_CONNECT, "poll: %s", strerror(errno));
	return true;
}

static bool tcp_connect(struct fetch *f, struct err *err)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int soerr = 0;
	socklen_t el = sizeof(soerr);

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, f->addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)f->port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, f->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)f->port);
		sl = sizeof(*s6);
	} else {
		return fetch_fail(f, err, ERR_KIND_CONNECT, "'%s' is not an IP address", f->addr);
	}
	f->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fd < 0)
		return fetch_fail(f, err, ERR_KIND_CONNECT, "socket: %s", strerror(errno));
	if (connect(f->fd, (struct sockaddr *)&ss, sl) == 0)
		return true;
	if (errno != EINPROGRESS)
		return fetch_fail(f, err, ERR_KIND_CONNECT, "cannot connect: %s", strerror(errno));
	if (!wait_io(f, POLLOUT, "connecting", err))
		return false;
	if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &soerr, &el) != 0 || soerr != 0)
		return fetch_fail(f, err, ERR_KIND_CONNECT, "cannot connect: %s",
				  strerror(soerr ? soerr : errno));
	return true;
}

/* Wait as SSL asks after a non-positive SSL_* return; false with err set
 * when the call failed for good. */
static bool ssl_retry(struct fetch *f, int r, const char *doing, struct err *err)
{
	int e = SSL_get_error(f->ssl, r);
	char reason[256] = "connection closed";
	unsigned long code;

	if (e == SSL_ERROR_WANT_READ)
		return wait_io(f, POLLIN, doing, err);
	if (e == SSL_ERROR_WANT_WRITE)
		return wait_io(f, POLLOUT, doing, err);
	if (SSL_get_verify_result(f->ssl) != X509_V_OK) {
		long vr = SSL_get_verify_result(f->ssl);

		ERR_clear_error();
		snprintf(reason, sizeof(reason), "%s (the certificate must be valid for %s)",
			 X509_verify_cert_error_string(vr), f->host);
		return fetch_fail(f, err, ERR_KIND_TLS, "TLS certificate not accepted: %s", reason);
	}
	code = ERR_get_error();
	if (code != 0)
		ERR_error_string_n(code, reason, sizeof(reason));
	else if (e == SSL_ERROR_SYSCALL && errno != 0)
		snprintf(reason, sizeof(reason), "%s", strerror(errno));
	ERR_clear_error();
	{
		char what[320];

		snprintf(what, sizeof(what), "%s: %s", doing, reason);
		return fetch_fail(f, err, ERR_KIND_TLS, "TLS failed %s", what);
	}
}

static bool tls_start(struct fetch *f, struct err *err)
{
	int ok, r;

	f->ctx = SSL_CTX_new(TLS_client_method());
	if (f->ctx == NULL)
		return fetch_fail(f, err, ERR_KIND_TLS, "%s", "TLS setup failed");
	SSL_CTX_set_min_proto_version(f->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(f->ctx, SSL_VERIFY_PEER, NULL);
	ok = f->o->ca_file ? SSL_CTX_load_verify_locations(f->ctx, f->o->ca_file, NULL)
			   : SSL_CTX_set_default_verify_paths(f->ctx);
	if (ok != 1) {
		ERR_clear_error();
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
			"MTA-STS: cannot load the CA file '%s' (it must be a readable PEM file)",
			f->o->ca_file ? f->o->ca_file : "(system default)");
		return false;
	}
	f->ssl = SSL_new(f->ctx);
	if (f->ssl == NULL)
		return fetch_fail(f, err, ERR_KIND_TLS, "%s", "TLS setup failed");
	SSL_set_fd(f->ssl, f->fd);
	SSL_set_tlsext_host_name(f->ssl, f->host);
	SSL_set1_host(f->ssl, f->host);
	for (;;) {
		ERR_clear_error();
		r = SSL_connect(f->ssl);
		if (r == 1)
			return true;
		if (!ssl_retry(f, r, "in the handshake", err))
			return false;
	}
}

static bool send_all(struct fetch *f, const char *s, size_t n, struct err *err)
{
	while (n > 0) {
		int r;

		ERR_clear_error();
		r = SSL_write(f->ssl, s, n > INT32_MAX ? INT32_MAX : (int)n);
		if (r > 0) {
			s += r;
			n -= (size_t)r;
		} else if (!ssl_retry(f, r, "sending the request", err)) {
			return false;
		}
	}
	return true;
}

/* Read the whole response (the server closes: Connection: close) into b,
 * at most limit bytes. */
static bool read_all(struct fetch *f, struct buf *b, size_t limit, struct err *err)
{
	char chunk[4096];

	for (;;) {
		int r;

		ERR_clear_error();
		r = SSL_read(f->ssl, chunk, sizeof(chunk));
		if (r > 0) {
			if (b->len + (size_t)r > limit)
				return fetch_fail(f, err, ERR_KIND_PROTOCOL,
						  "the response is over %s bytes (the policy may "
						  "be at most 64 KiB)", "65536");
			buf_append(b, chunk, (size_t)r);
			continue;
		}
		{
			int e = SSL_get_error(f->ssl, r);

			/* a close without close_notify is tolerated: the length
			 * is checked against Content-Length or the chunks */
			if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
				return true;
			if (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) ==
						     SSL_R_UNEXPECTED_EOF_WHILE_READING) {
				ERR_clear_error();
				return true;
			}
		}
		if (!ssl_retry(f, r, "reading the response", err))
			return false;
	}
}

/* The value of header name in the header block hdr (lines after the
 * status line), or NULL; *n_r its length. */
static const char *header(const char *hdr, const char *end, const char *name, size_t *n_r)
{
	size_t nl = strlen(name);

	for (const char *l = hdr; l < end;) {
		const char *e = memchr(l, '\n', (size_t)(end - l));
		const char *le = e ? e : end;

		if ((size_t)(le - l) > nl && l[nl] == ':' && strncasecmp(l, name, nl) == 0) {
			const char *v = l + nl + 1, *ve = le;

			while (v < ve && is_wsp(*v))
				v++;
			while (ve > v && (is_wsp(ve[-1]) || ve[-1] == '\r'))
				ve--;
			*n_r = (size_t)(ve - v);
			return v;
		}
		l = e ? e + 1 : end;
	}
	return NULL;
}

static bool dechunk(struct fetch *f, const char *p, const char *end, struct buf *out,
		    struct err *err)
{
	for (;;) {
		char *ep;
		unsigned long size;
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (eol == NULL || !isxdigit((unsigned char)*p))
			return fetch_fail(f, err, ERR_KIND_PROTOCOL, "%s",
					  "a malformed chunked body");
		errno = 0;
		size = strtoul(p, &ep, 16);
		if (errno != 0 || size > MTA_STS_MAX_BODY || out->len + size > MTA_STS_MAX_BODY)
			return fetch_fail(f, err, ERR_KIND_PROTOCOL, "%s",
					  "the policy is over 64 KiB");
		p = eol + 1;
		if (size == 0)
			return true;
		if ((size_t)(end - p) < size + 2 || p[size] != '\r' || p[size + 1] != '\n')
			return fetch_fail(f, err, ERR_KIND_PROTOCOL, "%s",
					  "a truncated chunked body");
		buf_append(out, p, size);
		p += size + 2;
	}
}

static bool parse_response(struct fetch *f, const struct buf *b, struct buf *body,
			   struct err *err)
{
	const char *s = b->data, *end = s + b->len, *hend, *v, *eol;
	size_t vn, hdr_len;
	int code;
	char status[64];

	if (b->len == 0)
		return fetch_fail(f, err, ERR_KIND_PROTOCOL, "%s", "an empty response");
	hend = memmem(s, b->len, "\r\n\r\n", 4);
	hdr_len = 4;
	if (hend == NULL) {
		hend = memmem(s, b->len, "\n\n", 2);
		hdr_len = 2;
	}
	if (hend == NULL)
		return fetch_fail(f, err, ERR_KIND_PROTOCOL, "%s", "no end of the HTTP headers");
	eol = memchr(s, '\n', (size_t)(hend - s) + 1);
	if (eol != NULL) {
		size_t sl = (size_t)(eol - s);

		if (sl > 0 && s[sl - 1] == '\r')
			sl--;
		excerpt(status, sizeof(status), s, sl);
	} else {
		status[0] = '\0';
	}
	if (eol == NULL || strncmp(s, "HTTP/1.", 7) != 0 || (size_t)(eol - s) < 12 ||
	    s[8] != ' ' || !isdigit((unsigned char)s[9]) || !isdigit((unsigned char)s[10]) ||
	    !isdigit((unsigned char)s[11]))
		return fetch_fail(f, err, ERR_KIND_PROTOCOL, "'%s' is not an HTTP status line",
				  status);
	code = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (code >= 300 && code < 400)
		return fetch_fail(f, err, ERR_KIND_PROTOCOL,
				  "the server answered '%s': RFC 8461 section 3.3 forbids redirects, "
				  "serve the policy itself at this URL", status);
	if (code != 200)
		return fetch_fail(f, err, ERR_KIND_PROTOCOL,
				  "the server answered '%s' (only 200 is accepted)", status);
	v = header(eol + 1, hend + 1, "Content-Type", &vn);
	if (v == NULL || vn < 10 || strncasecmp(v, "text/plain", 10) != 0 ||
	    (vn > 10 && v[10] != ';' && !is_wsp(v[10]))) {
		char ct[80];

		excerpt(ct, sizeof(ct), v ? v : "(none)", v ? vn : 6);
		return fetch_fail(f, err, ERR_KIND_PROTOCOL,
				  "Content-Type is '%s': serve the policy as text/plain "
				  "(RFC 8461 section 3.2)", ct);
	}
	s = hend + hdr_len;
	v = header(eol + 1, hend + 1, "Transfer-Encoding", &vn);
	if (v != NULL && vn == 7 && strncasecmp(v, "chunked", 7) == 0)
		return dechunk(f, s, end, body, err);
	if (v != NULL)
		return fetch_fail(f, err, ERR_KIND_PROTOCOL, "%s",
				  "an unsupported Transfer-Encoding");
	v = header(eol + 1, hend + 1, "Content-Length", &vn);
	if (v != NULL) {
		size_t cl = 0;

		if (vn == 0 || vn > 9)
			return fetch_fail(f, err, ERR_KIND_PROTOCOL, "%s", "a bad Content-Length");
		for (size_t i = 0; i < vn; i++) {
			if (!isdigit((unsigned char)v[i]))
				return fetch_fail(f, err, ERR_KIND_PROTOCOL, "%s",
						  "a bad Content-Length");
			cl = cl * 10 + (size_t)(v[i] - '0');
		}
		if (cl > MTA_STS_MAX_BODY)
			return fetch_fail(f, err, ERR_KIND_PROTOCOL, "%s",
					  "the policy is over 64 KiB");
		if ((size_t)(end - s) < cl)
			return fetch_fail(f, err, ERR_KIND_PROTOCOL, "%s",
					  "the body is shorter than its Content-Length");
		end = s + cl;
	}
	if ((size_t)(end - s) > MTA_STS_MAX_BODY)
		return fetch_fail(f, err, ERR_KIND_PROTOCOL, "%s", "the policy is over 64 KiB");
	buf_append(body, s, (size_t)(end - s));
	return true;
}

static void fetch_close(struct fetch *f)
{
	if (f->ssl != NULL) {
		SSL_free(f->ssl);
		f->ssl = NULL;
	}
	if (f->ctx != NULL) {
		SSL_CTX_free(f->ctx);
		f->ctx = NULL;
	}
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
}

static bool fetch_one(struct fetch *f, char **body_r, size_t *len_r, struct err *err)
{
	struct buf resp, body;
	char *req;
	bool ok;

	buf_init(&resp, 0);
	buf_init(&body, 0);
	req = xasprintf("GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: %s\r\n"
			"User-Agent: mailshift\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
			f->host);
	/* headers get 16 KiB on top of the body limit; chunk framing fits */
	ok = tcp_connect(f, err) && tls_start(f, err) && send_all(f, req, strlen(req), err) &&
	     read_all(f, &resp, MTA_STS_MAX_BODY + 16384, err) &&
	     parse_response(f, &resp, &body, err);
	free(req);
	buf_free(&resp);
	if (!ok) {
		buf_free(&body);
		return false;
	}
	*len_r = body.len;
	/* copied byte for byte: a NUL inside is the parser's to report */
	*body_r = xmalloc(body.len + 1);
	if (body.len > 0)
		memcpy(*body_r, body.data, body.len);
	(*body_r)[body.len] = '\0';
	buf_free(&body);
	return true;
}

bool mta_sts_fetch(const struct mta_sts_fetch_opts *o, char **body_r, size_t *len_r,
		   struct err *err)
{
	struct fetch f;
	bool ok = false;

	*body_r = NULL;
	*len_r = 0;
	if (o->n_addrs == 0) {
		err_set(err, ERR_SCOPE_NONE, ERR_KIND_CONNECT, true,
			"mta-sts.%s has no address: publish an A or AAAA record for it", o->domain);
		return false;
	}
	memset(&f, 0, sizeof(f));
	f.o = o;
	f.host = xasprintf("mta-sts.%s", o->domain);
	f.port = o->port ? o->port : 443;
	f.deadline = now_ms() + (o->timeout_ms > 0 ? o->timeout_ms : 10000);
	f.fd = -1;
	for (size_t i = 0; i < o->n_addrs && !ok; i++) {
		f.addr = o->addrs[i];
		err_clear(err);
		ok = fetch_one(&f, body_r, len_r, err);
		fetch_close(&f);
		if (!ok && err->kind == ERR_KIND_CONFIG)
			break;
	}
	free(f.host);
	return ok;
}
