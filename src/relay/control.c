/* control.c — the relay's control socket: how `mailshift queue` talks to a
 * running relay (like postqueue talking to Postfix's qmgr).
 *
 * A unix socket "control" in the spool folder, mode 0600, owned by the
 * relay's user: whoever can use it can already read the spool. One line
 * per connection: "flush", "hold ID", "release ID", "delete ID"; one line
 * back: "ok" or "error REASON"; then the relay closes. Queue changes go
 * through the relay so that its in-memory queue and the files never
 * disagree; when no relay runs, `mailshift queue` changes the files itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "core/alloc.h"
#include "core/log.h"
#include "relay/relay_int.h"

#define CONTROL_LINE_MAX 256

static void ctl_free(struct bufferevent *bev)
{
	bufferevent_free(bev);
}

static void on_ctl_write(struct bufferevent *bev, void *ctx)
{
	(void)ctx;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		ctl_free(bev);
}

static void on_ctl_event(struct bufferevent *bev, short what, void *ctx)
{
	(void)ctx;
	(void)what;
	ctl_free(bev);
}

static void execute(struct relay *r, const char *line, struct evbuffer *out)
{
	const char *why = NULL;
	bool ok = false;
	const char *arg = strchr(line, ' ');
	size_t vl = arg ? (size_t)(arg - line) : strlen(line);
	if (arg)
		arg++;

	if (vl == 5 && strncmp(line, "flush", 5) == 0 && arg == NULL) {
		qmgr_flush(r);
		ok = true;
	} else if (arg != NULL && !spool_id_valid(arg)) {
		why = "not a queue id";
	} else if (vl == 4 && strncmp(line, "hold", 4) == 0 && arg) {
		ok = qmgr_hold(r, arg, &why);
	} else if (vl == 7 && strncmp(line, "release", 7) == 0 && arg) {
		ok = qmgr_release(r, arg, &why);
	} else if (vl == 6 && strncmp(line, "delete", 6) == 0 && arg) {
		ok = qmgr_delete(r, arg, &why);
	} else {
		why = "unknown request";
	}
	if (ok)
		evbuffer_add_printf(out, "ok\n");
	else
		evbuffer_add_printf(out, "error %s\n", why);
}

static void on_ctl_read(struct bufferevent *bev, void *ctx)
{
	struct relay *r = ctx;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = 0;
	char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);

	if (line == NULL) {
		if (evbuffer_get_length(in) > CONTROL_LINE_MAX)
			ctl_free(bev);
		return;
	}
	bufferevent_disable(bev, EV_READ);
	execute(r, line, bufferevent_get_output(bev));
	free(line);
	bufferevent_setcb(bev, NULL, on_ctl_write, on_ctl_event, r);
}

static void on_ctl_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			  int salen, void *ctx)
{
	struct relay *r = ctx;
	(void)l;
	(void)sa;
	(void)salen;
	struct bufferevent *bev = bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		evutil_closesocket(fd);
		return;
	}
	bufferevent_setcb(bev, on_ctl_read, NULL, on_ctl_event, r);
	bufferevent_set_timeouts(bev, &(struct timeval){ .tv_sec = 10 },
				 &(struct timeval){ .tv_sec = 10 });
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

bool control_open(struct relay *r, struct err *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	r->control_path = xasprintf("%s/control", spool_path(r->spool));
	if (strlen(r->control_path) >= sizeof sun.sun_path) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
			"[relay] spool %s: the path is too long for the control socket "
			"(%zu octets at most): choose a shorter spool path",
			spool_path(r->spool), sizeof sun.sun_path - 9);
		return false;
	}
	memcpy(sun.sun_path, r->control_path, strlen(r->control_path) + 1);
	unlink(r->control_path);   /* a stale one: we hold the spool's lock */
	mode_t old = umask(0077);
	r->control = evconnlistener_new_bind(r->base, on_ctl_accept, r,
					     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
					     (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (r->control == NULL) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_IO, false,
			"cannot create the control socket %s: %s", r->control_path,
			strerror(errno));
		return false;
	}
	return true;
}

void control_close(struct relay *r)
{
	if (r->control) {
		evconnlistener_free(r->control);
		r->control = NULL;
		unlink(r->control_path);
	}
	free(r->control_path);
	r->control_path = NULL;
}
