/* conn.h — one TCP connection, optionally TLS (OpenSSL), with timeouts.
 *
 * The IMAP client (and later the relay's SMTP client) sit on this. The
 * socket is non-blocking underneath and every wait goes through poll() with
 * the connection's timeout, so a silent server costs at most `timeout_ms`
 * per operation and never hangs a run.
 *
 * TLS: certificate chain and host name (or IP address) are verified unless
 * the caller asks for no verification; a failure names the server, the
 * reason OpenSSL gives, and what to do (ca_file for a private CA).
 * conn_starttls() upgrades a plaintext connection in place (the caller must
 * have discarded anything the server sent before: see imap_client.c).
 *
 * Writes are buffered (conn_write) until conn_flush() or until the buffer
 * holds CONN_WBUF_MAX bytes; big chunks pass straight through.
 *
 * Ownership: conn_open() returns a connection the caller closes with
 * conn_close(), which also frees it and sets the pointer to NULL.
 */
#ifndef MS_CONN_H
#define MS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

#define CONN_WBUF_MAX (64 * 1024)

struct conn_opts {
	const char *what;      /* "old server", for messages */
	const char *host;
	unsigned port;
	bool implicit_tls;     /* TLS right after connect (imaps) */
	bool verify;           /* verify the certificate and host (default true) */
	const char *ca_file;   /* PEM bundle; NULL: the system's trust store */
	int timeout_ms;        /* per read/write/connect wait; 0: 120 s */
};

struct conn;

struct conn *conn_open(const struct conn_opts *opts, struct err *err);
bool conn_starttls(struct conn *c, struct err *err);
/* Read what is available (waiting for at least one byte): >0 bytes, 0 on a
 * clean end of stream, -1 on error (err set). */
ssize_t conn_read(struct conn *c, void *buf, size_t n, struct err *err);
bool conn_write(struct conn *c, const void *buf, size_t n, struct err *err);
bool conn_flush(struct conn *c, struct err *err);
bool conn_is_tls(const struct conn *c);
/* For poll(): readable means the peer sent something (or closed). */
int conn_fd(const struct conn *c);
/* Bytes already decrypted and waiting inside TLS (poll would not see them). */
bool conn_has_buffered(const struct conn *c);
/* Bytes read and written so far, for throughput figures. */
unsigned long long conn_bytes_in(const struct conn *c);
unsigned long long conn_bytes_out(const struct conn *c);
void conn_close(struct conn **cp);

#endif
