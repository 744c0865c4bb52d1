/* conn.c — see conn.h.
 *
 * SECURITY: certificate verification is on unless the caller turns it off
 * (only for "tls = none" configurations, where TLS is not used anyway). The
 * minimum protocol is TLS 1.2. Host names are checked with SSL_set1_host,
 * IP literals with X509_VERIFY_PARAM_set1_ip_asc, as RFC 6125 asks.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "alloc.h"
#include "buf.h"

struct conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char *what;
	char *host;
	unsigned port;
	bool verify;
	char *ca_file;
	int timeout_ms;
	struct buf wbuf;
	unsigned long long bytes_in, bytes_out;
};

static bool is_ip_literal(const char *host)
{
	unsigned char tmp[16];
	return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

static bool wait_fd(struct conn *c, short events, const char *doing, struct err *err)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };

	for (;;) {
		int n = poll(&pfd, 1, c->timeout_ms);
		if (n > 0)
			return true;
		if (n == 0) {
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONNECT, true,
				"%s %s:%u: timed out after %d s while %s", c->what, c->host,
				c->port, c->timeout_ms / 1000, doing);
			return false;
		}
		if (errno != EINTR) {
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONNECT, true, "%s %s:%u: poll: %s",
				c->what, c->host, c->port, strerror(errno));
			return false;
		}
	}
}

static int connect_one(struct conn *c, const struct addrinfo *ai, struct err *err)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			ai->ai_protocol);
	if (fd < 0) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONNECT, true, "%s %s:%u: socket: %s",
			c->what, c->host, c->port, strerror(errno));
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONNECT, true,
			"%s %s:%u: cannot connect: %s", c->what, c->host, c->port, strerror(errno));
		close(fd);
		return -1;
	}
	c->fd = fd;
	if (!wait_fd(c, POLLOUT, "connecting", err)) {
		close(fd);
		c->fd = -1;
		return -1;
	}
	int soerr = 0;
	socklen_t len = sizeof soerr;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
	if (soerr != 0) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONNECT, true,
			"%s %s:%u: cannot connect: %s", c->what, c->host, c->port, strerror(soerr));
		close(fd);
		c->fd = -1;
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

struct conn *conn_open(const struct conn_opts *opts, struct err *err)
{
	struct conn *c = xcalloc(1, sizeof *c);
	char port[16];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;

	c->fd = -1;
	c->what = xstrdup(opts->what ? opts->what : "server");
	c->host = xstrdup(opts->host);
	c->port = opts->port;
	c->verify = opts->verify;
	c->ca_file = opts->ca_file ? xstrdup(opts->ca_file) : NULL;
	c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 120000;
	buf_init(&c->wbuf, 0);

	snprintf(port, sizeof port, "%u", opts->port);
	int gai = getaddrinfo(opts->host, port, &hints, &res);
	if (gai != 0) {
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONNECT, true,
			"%s: cannot resolve host '%s': %s", c->what, opts->host, gai_strerror(gai));
		conn_close(&c);
		return NULL;
	}
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		if (connect_one(c, ai, err) >= 0)
			break;
	}
	freeaddrinfo(res);
	if (c->fd < 0) {
		conn_close(&c);
		return NULL;
	}
	if (opts->implicit_tls && !conn_starttls(c, err)) {
		conn_close(&c);
		return NULL;
	}
	return c;
}

static void tls_error(struct conn *c, const char *doing, struct err *err)
{
	unsigned long e = ERR_get_error();
	char reason[256] = "unknown error";

	if (c->ssl != NULL) {
		long vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK) {
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_TLS, false,
				"%s %s:%u: TLS certificate not accepted: %s (for a private CA set "
				"ca_file to its PEM file; check the server's certificate names %s)",
				c->what, c->host, c->port, X509_verify_cert_error_string(vr), c->host);
			ERR_clear_error();
			return;
		}
	}
	if (e != 0)
		ERR_error_string_n(e, reason, sizeof reason);
	ERR_clear_error();
	err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_TLS, false, "%s %s:%u: TLS %s failed: %s",
		c->what, c->host, c->port, doing, reason);
}

bool conn_starttls(struct conn *c, struct err *err)
{
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL) {
		tls_error(c, "setup", err);
		return false;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (c->verify) {
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
		int ok = c->ca_file ? SSL_CTX_load_verify_locations(c->ctx, c->ca_file, NULL)
				    : SSL_CTX_set_default_verify_paths(c->ctx);
		if (ok != 1) {
			ERR_clear_error();
			err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONFIG, false,
				"%s: cannot load CA file '%s' (it must be a readable PEM file)",
				c->what, c->ca_file ? c->ca_file : "(system default)");
			return false;
		}
	}
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL) {
		tls_error(c, "setup", err);
		return false;
	}
	SSL_set_fd(c->ssl, c->fd);
	if (is_ip_literal(c->host)) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->host);
	} else {
		SSL_set_tlsext_host_name(c->ssl, c->host);
		SSL_set1_host(c->ssl, c->host);
	}
	for (;;) {
		ERR_clear_error();
		int r = SSL_connect(c->ssl);
		if (r == 1)
			return true;
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ) {
			if (!wait_fd(c, POLLIN, "in the TLS handshake", err))
				return false;
		} else if (e == SSL_ERROR_WANT_WRITE) {
			if (!wait_fd(c, POLLOUT, "in the TLS handshake", err))
				return false;
		} else {
			tls_error(c, "handshake", err);
			return false;
		}
	}
}

ssize_t conn_read(struct conn *c, void *buf, size_t n, struct err *err)
{
	for (;;) {
		if (c->ssl != NULL) {
			ERR_clear_error();
			int r = SSL_read(c->ssl, buf, n > 1 << 30 ? 1 << 30 : (int)n);
			if (r > 0) {
				c->bytes_in += (unsigned)r;
				return r;
			}
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_ZERO_RETURN)
				return 0;
			if (e == SSL_ERROR_WANT_READ) {
				if (!wait_fd(c, POLLIN, "waiting for data", err))
					return -1;
				continue;
			}
			if (e == SSL_ERROR_WANT_WRITE) {
				if (!wait_fd(c, POLLOUT, "waiting for data", err))
					return -1;
				continue;
			}
			if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
				/* Peer closed without close_notify: treat like EOF,
				 * the protocol layer knows whether that was expected. */
				return 0;
			}
			tls_error(c, "read", err);
			err->retry = true;
			err->kind = ERR_KIND_CONNECT;
			return -1;
		}
		ssize_t r = read(c->fd, buf, n);
		if (r > 0) {
			c->bytes_in += (size_t)r;
			return r;
		}
		if (r == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!wait_fd(c, POLLIN, "waiting for data", err))
				return -1;
			continue;
		}
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONNECT, true, "%s %s:%u: read: %s",
			c->what, c->host, c->port, strerror(errno));
		return -1;
	}
}

static bool write_raw(struct conn *c, const char *p, size_t n, struct err *err)
{
	while (n > 0) {
		if (c->ssl != NULL) {
			ERR_clear_error();
			int r = SSL_write(c->ssl, p, n > 1 << 30 ? 1 << 30 : (int)n);
			if (r > 0) {
				p += r;
				n -= (size_t)r;
				c->bytes_out += (unsigned)r;
				continue;
			}
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
				if (!wait_fd(c, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN,
					     "sending", err))
					return false;
				continue;
			}
			tls_error(c, "write", err);
			err->retry = true;
			err->kind = ERR_KIND_CONNECT;
			return false;
		}
		ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			c->bytes_out += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!wait_fd(c, POLLOUT, "sending", err))
				return false;
			continue;
		}
		err_set(err, ERR_SCOPE_ACCOUNT, ERR_KIND_CONNECT, true, "%s %s:%u: write: %s",
			c->what, c->host, c->port, r < 0 ? strerror(errno) : "connection closed");
		return false;
	}
	return true;
}

bool conn_flush(struct conn *c, struct err *err)
{
	if (c->wbuf.len == 0)
		return true;
	bool ok = write_raw(c, c->wbuf.data, c->wbuf.len, err);
	buf_reset(&c->wbuf);
	return ok;
}

bool conn_write(struct conn *c, const void *buf, size_t n, struct err *err)
{
	if (c->wbuf.len + n <= CONN_WBUF_MAX) {
		buf_append(&c->wbuf, buf, n);
		if (c->wbuf.len < CONN_WBUF_MAX)
			return true;
		return conn_flush(c, err);
	}
	if (!conn_flush(c, err))
		return false;
	if (n >= CONN_WBUF_MAX / 2)
		return write_raw(c, buf, n, err);
	buf_append(&c->wbuf, buf, n);
	return true;
}

int conn_fd(const struct conn *c)
{
	return c->fd;
}

bool conn_has_buffered(const struct conn *c)
{
	return c->ssl != NULL && SSL_pending(c->ssl) > 0;
}

bool conn_is_tls(const struct conn *c)
{
	return c->ssl != NULL;
}

unsigned long long conn_bytes_in(const struct conn *c)
{
	return c->bytes_in;
}

unsigned long long conn_bytes_out(const struct conn *c)
{
	return c->bytes_out;
}

void conn_close(struct conn **cp)
{
	struct conn *c = *cp;

	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->wbuf);
	free(c->what);
	free(c->host);
	free(c->ca_file);
	free(c);
	*cp = NULL;
}
