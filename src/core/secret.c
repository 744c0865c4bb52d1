/* secret.c — read a password or token from a file, and wipe secrets.
 *
 * Contract (see config.h): secret_read_file() returns the first line of a
 * regular file without its line end (LF or CRLF); an empty first line, a
 * missing or unreadable file, a NUL byte or a first line longer than
 * SECRET_MAX bytes is an error. A file readable by group or others gets a
 * warning (log_warn) recommending chmod 600. secret_free() overwrites the
 * secret with explicit_bzero() (which the compiler may not drop) and frees it.
 *
 * SECURITY: no message contains any byte of the file. The read buffer is
 * allocated once at a fixed size (never reallocated, which would leave a copy
 * behind) and wiped before it is freed. Only regular files are accepted: a
 * FIFO or a device could block the run or feed it without end.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"

/* OAuth2 access tokens run to a few kilobytes; passwords to a few dozen. */
#define SECRET_MAX 65536

char *secret_read_file(const char *path, struct err *err)
{
	struct stat st;
	char *buf, *line = NULL;
	size_t len = 0;
	char *nl = NULL;
	int fd;

	if (path == NULL || path[0] == '\0') {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "empty password file name; "
			"give the path of a file holding the password on its first line");
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, false, "cannot open password file %s: %s; "
			"check the path and permissions", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, false, "password file %s is not a regular "
			"file; put the password on the first line of a plain file", path);
		close(fd);
		return NULL;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH))
		log_warn("password file %s is readable by group or others; run chmod 600 %s",
			 path, path);

	buf = xmalloc(SECRET_MAX + 1);
	while (nl == NULL && len < SECRET_MAX + 1) {
		ssize_t n = read(fd, buf + len, SECRET_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, false, "cannot read password file "
				"%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	size_t end = nl != NULL ? (size_t)(nl - buf) : len;
	if (end > SECRET_MAX) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "password file %s: the first "
			"line is longer than %d bytes; put only the password on it", path, SECRET_MAX);
		goto out;
	}
	if (end > 0 && buf[end - 1] == '\r')
		end--;
	if (memchr(buf, '\0', end) != NULL) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "password file %s contains a "
			"NUL byte; it must be text", path);
		goto out;
	}
	if (end == 0) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false, "password file %s: the first "
			"line is empty; put the password on the first line", path);
		goto out;
	}
	line = xmalloc(end + 1);
	memcpy(line, buf, end);
	line[end] = '\0';
out:
	explicit_bzero(buf, SECRET_MAX + 1);
	free(buf);
	close(fd);
	return line;
}

void secret_free(char **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	explicit_bzero(*sp, strlen(*sp));
	free(*sp);
	*sp = NULL;
}
