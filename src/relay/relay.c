/* relay.c — start, run and stop the relay (see relay.h).
 *
 * Order of start matters for security: configuration and TLS key are read
 * and the listening sockets bound while we may still be root; then the
 * process drops to [relay] user for good, and only then opens the spool and
 * the state store, so every file it creates belongs to that user and no
 * session ever runs with privileges.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/alloc.h"
#include "core/log.h"
#include "relay/relay.h"
#include "relay/relay_int.h"

void relay_post_result(struct relay *r, struct deliver_job *j)
{
	pthread_mutex_lock(&r->res_lock);
	j->next = NULL;
	if (r->res_tail)
		r->res_tail->next = j;
	else
		r->res_head = j;
	r->res_tail = j;
	pthread_mutex_unlock(&r->res_lock);
	/* wake the loop; a full pipe already means "wake up" */
	char c = 1;
	if (write(r->res_pipe[1], &c, 1) < 0 && errno != EAGAIN)
		log_error("relay: cannot wake the event loop: %s", strerror(errno));
}

static void on_results(evutil_socket_t fd, short what, void *ctx)
{
	struct relay *r = ctx;
	char b[256];
	(void)what;
	while (read(fd, b, sizeof b) > 0)
		;
	qmgr_results(r);
}

static void on_tick(evutil_socket_t fd, short what, void *ctx)
{
	(void)fd;
	(void)what;
	qmgr_tick(ctx);
}

static void on_kick(evutil_socket_t fd, short what, void *ctx)
{
	(void)fd;
	(void)what;
	qmgr_run(ctx);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *ctx)
{
	(void)l;
	session_accept(ctx, fd, sa, salen);
}

static void on_accept_error(struct evconnlistener *l, void *ctx)
{
	(void)l;
	(void)ctx;
	/* EMFILE and the like: log and go on; the listener keeps running */
	log_error("relay: accept: %s", strerror(errno));
}

/* ---- settings that SIGHUP may change ---- */

static SSL_CTX *tls_context(const struct relay_settings *set, struct err *err)
{
	if (set->tls_cert == NULL)
		return NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, set->tls_cert) != 1) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
			"[relay] tls_cert %s: cannot load the certificate: %s", set->tls_cert,
			ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, set->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
			"[relay] tls_key %s: cannot load the key or it does not match "
			"tls_cert: %s", set->tls_key, ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
fail:
	err_set(err, ERR_SCOPE_RUN, ERR_KIND_TLS, false, "cannot set up TLS: %s",
		ERR_reason_error_string(ERR_get_error()));
	return NULL;
}

static char *our_hostname(const struct relay_settings *set)
{
	char h[256];
	if (set->hostname)
		return xstrdup(set->hostname);
	if (gethostname(h, sizeof h) != 0 || h[0] == '\0')
		return xstrdup("localhost");
	h[sizeof h - 1] = '\0';
	return xstrdup(h);
}

static void client_opts(const struct relay_settings *set, const char *helo, unsigned dest,
			struct smtp_client_opts *o)
{
	const struct url *u = dest == SPOOL_OLD ? &set->old_smtp
			      : dest == SPOOL_NEW ? &set->new_smtp : &set->bounce_relay;
	memset(o, 0, sizeof *o);
	o->what = dest == SPOOL_OLD ? "old server" : dest == SPOOL_NEW ? "new server"
								   : "bounce relay";
	o->host = u->host;
	o->port = u->port;
	o->implicit_tls = u->implicit_tls;
	/* the bounce relay is one of the two servers unless set apart */
	bool old_like = dest == SPOOL_OLD ||
			(dest == SPOOL_BOUNCE && set->bounce_relay.host && set->old_smtp.host &&
			 strcmp(set->bounce_relay.host, set->old_smtp.host) == 0 &&
			 set->bounce_relay.port == set->old_smtp.port);
	o->tls = (enum smtp_client_tls)(old_like ? set->smtp_tls_old : set->smtp_tls_new);
	o->verify = old_like ? set->verify_old : set->verify_new;
	o->ca_file = old_like ? set->ca_old : set->ca_new;
	o->helo_name = helo;
	o->timeout_ms = 300 * 1000;
	o->lmtp = strcmp(u->scheme, "lmtp") == 0;
}

/* ---- signals ---- */

static void on_stop(evutil_socket_t sig, short what, void *ctx)
{
	struct relay *r = ctx;
	(void)what;
	log_info("relay: %s: stopping (the queue stays on disk)", sig == SIGINT ? "SIGINT"
										: "SIGTERM");
	r->stopping = true;
	event_base_loopexit(r->base, NULL);
}

static void on_hup(evutil_socket_t sig, short what, void *ctx)
{
	struct relay *r = ctx;
	struct err err;
	struct relay_settings set;
	(void)sig;
	(void)what;

	err_clear(&err);
	struct config *cfg = config_load(r->config_path, &err);
	struct router *router = cfg ? router_new(cfg, &err) : NULL;
	memset(&set, 0, sizeof set);
	if (router == NULL || !relay_settings_load(cfg, &set, &err)) {
		log_error("relay: SIGHUP: %s; keeping the running configuration", err.msg);
		router_free(&router);
		config_free(&cfg);
		relay_settings_free(&set);
		return;
	}
	if (strcmp(set.spool, r->set.spool) != 0 || set.nlisten != r->set.nlisten ||
	    (set.user == NULL) != (r->set.user == NULL) ||
	    (set.user && strcmp(set.user, r->set.user) != 0) ||
	    set.concurrency != r->set.concurrency)
		log_warn("relay: SIGHUP: listen, spool, user and concurrency changes take "
			 "effect at the next restart");
	/* the delivery pools, the TLS context and the host name are set up
	 * once: say so when the file changed them */
	if (strcmp(set.hostname ? set.hostname : "", r->set.hostname ? r->set.hostname : "") ||
	    strcmp(set.tls_cert ? set.tls_cert : "", r->set.tls_cert ? r->set.tls_cert : "") ||
	    strcmp(set.old_smtp.host, r->set.old_smtp.host) || set.old_smtp.port != r->set.old_smtp.port ||
	    strcmp(set.new_smtp.host, r->set.new_smtp.host) || set.new_smtp.port != r->set.new_smtp.port ||
	    strcmp(set.bounce_relay.host, r->set.bounce_relay.host) ||
	    set.bounce_relay.port != r->set.bounce_relay.port ||
	    set.smtp_tls_old != r->set.smtp_tls_old || set.smtp_tls_new != r->set.smtp_tls_new)
		log_warn("relay: SIGHUP: [old]/[new] smtp, bounce_relay, smtp_tls, hostname and "
			 "tls_cert/tls_key changes take effect at the next restart");
	/* what a reload may change: routing (phases, domains, recipients) and
	 * the limits and timers of new sessions and retries */
	router_free(&r->router);
	r->router = router;
	struct relay_settings old = r->set;
	r->set = set;
	free(r->set.spool);          /* kept: see above */
	r->set.spool = old.spool;
	old.spool = NULL;
	r->set.concurrency = old.concurrency;
	relay_settings_free(&old);
	config_free(&r->cfg);
	r->cfg = cfg;
	log_info("relay: SIGHUP: configuration %s re-read", r->config_path);
}

static void on_usr1(evutil_socket_t sig, short what, void *ctx)
{
	(void)sig;
	(void)what;
	qmgr_flush(ctx);
}

/* ---- start ---- */

static bool bind_all(struct relay *r, bool announce, struct err *err)
{
	r->listeners = xcalloc(r->set.nlisten ? r->set.nlisten : 1, sizeof *r->listeners);
	for (size_t i = 0; i < r->set.nlisten; i++) {
		const struct relay_listen *l = &r->set.listen[i];
		struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_PASSIVE,
					  .ai_socktype = SOCK_STREAM };
		struct addrinfo *ai = NULL;
		char port[16];
		snprintf(port, sizeof port, "%u", l->port);
		if (getaddrinfo(l->host, port, &hints, &ai) != 0 || ai == NULL) {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
				"[relay] listen %s:%u: not a numeric address (write 0.0.0.0:25 "
				"or [::]:25)", l->host, l->port);
			return false;
		}
		struct evconnlistener *lst = evconnlistener_new_bind(
			r->base, on_accept, r,
			LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 512,
			ai->ai_addr, (int)ai->ai_addrlen);
		freeaddrinfo(ai);
		if (lst == NULL) {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
				"[relay] listen %s:%u: cannot listen: %s%s", l->host, l->port,
				strerror(errno),
				errno == EACCES ? " (ports below 1024 need root: start as root "
						  "with [relay] user set)" : "");
			return false;
		}
		evconnlistener_set_error_cb(lst, on_accept_error);
		r->listeners[r->nlisteners++] = lst;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		char host[64] = "?";
		unsigned p = l->port;
		if (getsockname(evconnlistener_get_fd(lst), (struct sockaddr *)&ss, &sl) == 0 &&
		    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, port, sizeof port,
				NI_NUMERICHOST | NI_NUMERICSERV) == 0)
			p = (unsigned)atoi(port);
		log_info("relay: listening on %s:%u", l->host, p);
		if (announce) {
			printf("listening on %s:%u\n", l->host, p);
			fflush(stdout);
		}
	}
	return true;
}

static bool drop_privileges(const struct relay_settings *set, struct err *err)
{
	if (set->user == NULL)
		return true;
	struct passwd *pw = getpwnam(set->user);
	if (pw == NULL) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
			"[relay] user %s: no such user: create it (adduser --system %s) or "
			"change the key", set->user, set->user);
		return false;
	}
	if (geteuid() != 0) {
		if (geteuid() != pw->pw_uid)
			log_warn("relay: [relay] user %s: not started as root, running as uid %u",
				 set->user, (unsigned)geteuid());
		return true;
	}
	if (pw->pw_uid == 0) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_CONFIG, false,
			"[relay] user %s is root: name an unprivileged user", set->user);
		return false;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0 || setuid(0) == 0) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_INTERNAL, false,
			"cannot drop privileges to [relay] user %s: %s", set->user,
			strerror(errno));
		return false;
	}
	log_info("relay: running as %s (uid %u)", set->user, (unsigned)pw->pw_uid);
	return true;
}

static void teardown(struct relay *r)
{
	commit_pool_free(&r->commit);   /* before the sessions it points to */
	session_close_all(r);
	for (unsigned d = 0; d < SPOOL_NDEST; d++)
		deliver_pool_free(&r->pool[d]);
	/* results of jobs that finished while we stopped: record them */
	qmgr_results(r);
	relay_events_flush(r);
	control_close(r);
	for (size_t i = 0; i < r->nlisteners; i++)
		evconnlistener_free(r->listeners[i]);
	free(r->listeners);
	struct event **evs[] = { &r->tick, &r->kick, &r->res_ev, &r->sig_term, &r->sig_int, &r->sig_hup,
				 &r->sig_usr1 };
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
		if (*evs[i]) {
			event_free(*evs[i]);
			*evs[i] = NULL;
		}
	qmgr_free(r);
	free(r->clients);
	if (r->res_pipe[0] >= 0) {
		close(r->res_pipe[0]);
		close(r->res_pipe[1]);
	}
	pthread_mutex_destroy(&r->res_lock);
	store_close(&r->store);
	spool_close(&r->spool);
	if (r->tls)
		SSL_CTX_free(r->tls);
	router_free(&r->router);
	relay_settings_free(&r->set);
	config_free(&r->cfg);
	free(r->hostname);
	if (r->base)
		event_base_free(r->base);
}

int relay_run(const struct relay_run_opts *opts, struct err *err)
{
	struct relay rs, *r = &rs;
	int rc = 2;

	memset(r, 0, sizeof *r);
	r->res_pipe[0] = r->res_pipe[1] = -1;
	pthread_mutex_init(&r->res_lock, NULL);
	r->config_path = opts->config_path;
	r->cfg = config_load(opts->config_path, err);
	if (r->cfg == NULL)
		goto out;
	r->router = router_new(r->cfg, err);
	if (r->router == NULL || !relay_settings_load(r->cfg, &r->set, err))
		goto out;
	if (r->cfg->state == NULL)
		log_warn("relay: no [migration] state: events and counters are not recorded "
			 "(mailshift trace and status will know nothing)");
	r->hostname = our_hostname(&r->set);
	r->tls = tls_context(&r->set, err);
	if (r->set.tls_cert && r->tls == NULL)
		goto out;
	evthread_use_pthreads();
	r->base = event_base_new();
	if (r->base == NULL) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_INTERNAL, false, "cannot start the event loop");
		goto out;
	}
	if (!bind_all(r, opts->announce, err) || !drop_privileges(&r->set, err))
		goto out;
	r->spool = spool_open(r->set.spool, SPOOL_EXCLUSIVE, err);
	if (r->spool == NULL)
		goto out;
	if (r->cfg->state) {
		r->store = store_open(r->cfg->state, err);
		if (r->store == NULL)
			goto out;
	}
	if (pipe2(r->res_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_INTERNAL, false, "pipe: %s", strerror(errno));
		goto out;
	}
	r->res_ev = event_new(r->base, r->res_pipe[0], EV_READ | EV_PERSIST, on_results, r);
	r->tick = event_new(r->base, -1, EV_PERSIST, on_tick, r);
	r->kick = event_new(r->base, -1, 0, on_kick, r);
	r->sig_term = evsignal_new(r->base, SIGTERM, on_stop, r);
	r->sig_int = evsignal_new(r->base, SIGINT, on_stop, r);
	r->sig_hup = evsignal_new(r->base, SIGHUP, on_hup, r);
	r->sig_usr1 = evsignal_new(r->base, SIGUSR1, on_usr1, r);
	event_add(r->res_ev, NULL);
	event_add(r->tick, &(struct timeval){ .tv_sec = 1 });
	event_add(r->sig_term, NULL);
	event_add(r->sig_int, NULL);
	event_add(r->sig_hup, NULL);
	event_add(r->sig_usr1, NULL);
	if (!control_open(r, err))
		goto out;
	/* 4 threads: enough for the fsyncs of many sessions to overlap */
	r->commit = commit_pool_new(r, 4, err);
	if (r->commit == NULL)
		goto out;
	for (unsigned d = SPOOL_OLD, i = 0; d <= SPOOL_BOUNCE; d <<= 1, i++) {
		struct smtp_client_opts o;
		client_opts(&r->set, r->hostname, d, &o);
		unsigned n = d == SPOOL_BOUNCE ? (r->set.concurrency + 1) / 2 : r->set.concurrency;
		r->pool[i] = deliver_pool_new(r, d, &o, n);
	}
	qmgr_init(r);
	if (!qmgr_load(r, err))
		goto out;
	log_info("relay: %s ready (%zu message(s) queued)", r->hostname, r->nmsgs);
	qmgr_run(r);
	event_base_dispatch(r->base);
	rc = 0;
out:
	teardown(r);
	return rc;
}
