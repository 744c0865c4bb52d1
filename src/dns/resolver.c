/* resolver.c — resolver.h with c-ares 1.18: one ares channel per resolver,
 * our own query bytes (proto/dns_msg) handed to ares_send(), the raw reply
 * parsed by dns_msg_parse().
 *
 * Why ares_send() and not ares_query()/ares_search(): we need the reply
 * itself (TTLs, AA, the negative SOA), and no search list, no hosts file,
 * no rewriting of the name: "localhost" is asked of the server like any
 * other name. c-ares still does the transport: UDP, the switch to TCP when
 * a reply is truncated (or longer than the EDNS size we advertise), the
 * retries and their timeouts, and matching the reply to the query.
 *
 * ARES_FLAG_NOCHECKRESP makes c-ares hand SERVFAIL/REFUSED replies back
 * raw instead of trying the next server, so they show as DNS_SERVFAIL
 * from the server that gave them. c-ares delivers only a reply whose id
 * and question match the query it sent; 1.18 sends our (random) id as is,
 * later versions may put in one of their own. So the parser is told to
 * expect the id the reply carries: the id check is c-ares', and stays
 * right whichever id it used.
 *
 * Outcomes: a reply that parses is the answer; one that does not (or that
 * c-ares calls malformed) is DNS_SERVFAIL ("answered garbage"); no reply
 * in time, or a refused connection (a dead port answers UDP with an ICMP
 * port unreachable), is DNS_TIMEOUT. Only local trouble (no memory, a name
 * no query can carry, poll failing) returns false.
 *
 * Time: c-ares doubles the timeout of each round of retries (200, 400,
 * 800 ms), but resolver.h promises timeout_ms per try. So c-ares is told
 * one try (each server once, timeout_ms each) and the retries are ours: a
 * fresh query, with a fresh id, up to `tries` times. A try is also cut at
 * timeout_ms * servers by our own deadline, should c-ares overrun it.
 *
 * The event loop: ares_getsock() for each channel still waiting, one
 * poll() over all their sockets, ares_process_fd() for what is ready (it
 * also runs each channel's timeouts).
 */
#include "dns/resolver.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "proto/dns_msg.h"

#define RESOLVER_EDNS_SIZE 1232   /* DNS flag day 2020: no IP fragmentation */
#define RESOLVER_DEFAULT_TIMEOUT_MS 2000
#define RESOLVER_DEFAULT_TRIES 2

struct resolver {
	ares_channel ch;
	char *name;          /* "127.0.0.1:53", "[::1]:53" or "system" */
	bool rd;
	int timeout_ms;
	int tries;
	int nservers;        /* for the overall deadline */
};

/* One question in flight on one channel. */
struct pending {
	struct resolver *r;
	const char *name;
	uint16_t type;
	struct dns_answer *out;
	long long deadline_ms;
	int tries_left;
	bool resend;         /* the last try timed out: send again */
	bool done;
	bool local_fail;
	struct err err;
};

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_status = ARES_SUCCESS;

/* ares_library_init() is not thread-safe and matters only on Windows, but
 * is documented as required: once per process, never cleaned up (another
 * thread's resolver may still use the library). */
static void library_init(void)
{
	ares_init_status = ares_library_init(ARES_LIB_INIT_ALL);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "1.2.3.4", "1.2.3.4:53", "[::1]:53", "[::1]" or a bare "::1" into node. */
static bool parse_server(const char *s, struct ares_addr_port_node *node, char **name,
			 struct err *err)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_s = NULL, *colon;
	size_t hl;
	long port = 53;

	memset(node, 0, sizeof *node);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			goto bad;
		hl = (size_t)(close - s - 1);
		if (hl == 0 || hl >= sizeof host)
			goto bad;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (close[1] == ':')
			port_s = close + 2;
		if (inet_pton(AF_INET6, host, &node->addr.addr6) != 1)
			goto bad;
		node->family = AF_INET6;
	} else if ((colon = strchr(s, ':')) != NULL && strchr(colon + 1, ':') == NULL) {
		hl = (size_t)(colon - s);
		if (hl == 0 || hl >= sizeof host)
			goto bad;
		memcpy(host, s, hl);
		host[hl] = '\0';
		port_s = colon + 1;
		if (inet_pton(AF_INET, host, &node->addr.addr4) != 1)
			goto bad;
		node->family = AF_INET;
	} else {
		if (strlen(s) >= sizeof host)
			goto bad;
		strcpy(host, s);
		if (inet_pton(AF_INET, host, &node->addr.addr4) == 1)
			node->family = AF_INET;
		else if (inet_pton(AF_INET6, host, &node->addr.addr6) == 1)
			node->family = AF_INET6;
		else
			goto bad;
	}
	if (port_s != NULL) {
		char *end;
		if (port_s[0] < '0' || port_s[0] > '9')
			goto bad;
		errno = 0;
		port = strtol(port_s, &end, 10);
		if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
			goto bad;
	}
	node->udp_port = (int)port;
	node->tcp_port = (int)port;
	if (node->family == AF_INET6)
		*name = xasprintf("[%s]:%ld", host, port);
	else
		*name = xasprintf("%s:%ld", host, port);
	return true;
bad:
	err_set(err, ERR_SCOPE_RUN, ERR_KIND_USAGE, false,
		"DNS server '%s' is not a numeric address: write an IP address, optionally with a "
		"port, as 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53", s);
	return false;
}

static struct resolver *resolver_make(const char *server, int timeout_ms, int tries, bool rd,
				      struct err *err)
{
	struct ares_addr_port_node node;
	struct ares_options opt;
	struct resolver *r;
	char *name = NULL;
	char lookups[] = "b";   /* never the hosts file */
	int rc, mask;

	if (server != NULL && !parse_server(server, &node, &name, err))
		return NULL;
	pthread_once(&ares_once, library_init);
	if (ares_init_status != ARES_SUCCESS) {
		free(name);
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_INTERNAL, false,
			"c-ares could not be initialised: %s", ares_strerror(ares_init_status));
		return NULL;
	}
	r = xcalloc(1, sizeof *r);
	r->name = name != NULL ? name : xstrdup("system");
	r->rd = rd;
	r->timeout_ms = timeout_ms > 0 ? timeout_ms : RESOLVER_DEFAULT_TIMEOUT_MS;
	r->tries = tries > 0 ? tries : RESOLVER_DEFAULT_TRIES;

	memset(&opt, 0, sizeof opt);
	opt.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_EDNS | ARES_FLAG_NOSEARCH;
	if (!rd)
		opt.flags |= ARES_FLAG_NORECURSE;
	opt.timeout = r->timeout_ms;   /* ms with ARES_OPT_TIMEOUTMS */
	opt.tries = 1;                 /* the retries are ours (top of file) */
	opt.ednspsz = RESOLVER_EDNS_SIZE;
	opt.lookups = lookups;
	mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_EDNSPSZ |
	       ARES_OPT_LOOKUPS | ARES_OPT_NOROTATE;
	rc = ares_init_options(&r->ch, &opt, mask);
	if (rc != ARES_SUCCESS) {
		err_set(err, ERR_SCOPE_RUN, rc == ARES_ENOMEM ? ERR_KIND_INTERNAL : ERR_KIND_CONFIG,
			false, "DNS resolver %s: c-ares could not start: %s%s", r->name,
			ares_strerror(rc),
			server == NULL ? " (check /etc/resolv.conf, or name a server)" : "");
		free(r->name);
		free(r);
		return NULL;
	}
	if (server != NULL) {
		node.next = NULL;
		rc = ares_set_servers_ports(r->ch, &node);
		if (rc != ARES_SUCCESS) {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_INTERNAL, false,
				"DNS resolver %s: c-ares refused the server: %s", r->name,
				ares_strerror(rc));
			ares_destroy(r->ch);
			free(r->name);
			free(r);
			return NULL;
		}
		r->nservers = 1;
	} else {
		struct ares_addr_port_node *list = NULL;
		r->nservers = 0;
		if (ares_get_servers_ports(r->ch, &list) == ARES_SUCCESS)
			for (struct ares_addr_port_node *p = list; p != NULL; p = p->next)
				r->nservers++;
		ares_free_data(list);
		if (r->nservers < 1)
			r->nservers = 1;
	}
	return r;
}

struct resolver *resolver_new(const char *server, int timeout_ms, int tries, struct err *err)
{
	return resolver_make(server, timeout_ms, tries, true, err);
}

struct resolver *resolver_new_authoritative(const char *server, int timeout_ms, int tries,
					    struct err *err)
{
	return resolver_make(server, timeout_ms, tries, false, err);
}

void resolver_free(struct resolver **rp)
{
	struct resolver *r;

	if (rp == NULL || *rp == NULL)
		return;
	r = *rp;
	ares_destroy(r->ch);
	free(r->name);
	free(r);
	*rp = NULL;
}

const char *resolver_name(const struct resolver *r)
{
	return r->name;
}

static void answer_empty(struct pending *q, enum dns_status st)
{
	dns_answer_free(q->out);
	q->out->status = st;
}

static void on_reply(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct pending *q = arg;
	struct err perr;

	(void)timeouts;
	if (q->done)
		return;
	if ((status == ARES_ETIMEOUT || status == ARES_ECONNREFUSED ||
	     status == ARES_ECANCELLED) && q->tries_left > 0) {
		q->resend = true;   /* by run(), not from inside c-ares */
		return;
	}
	q->done = true;
	switch (status) {
	case ARES_SUCCESS:
		err_clear(&perr);
		if (abuf == NULL || alen < 2) {
			answer_empty(q, DNS_SERVFAIL);
			break;
		}
		/* c-ares matched the reply to the query by id (see the top of
		 * the file) */
		if (!dns_msg_parse(abuf, (size_t)alen, (uint16_t)(abuf[0] << 8 | abuf[1]), q->name,
				   q->type, q->out, &perr)) {
			if (perr.kind == ERR_KIND_INTERNAL) {
				q->local_fail = true;
				q->err = perr;
			}
			answer_empty(q, DNS_SERVFAIL);
		}
		break;
	case ARES_ETIMEOUT:
	case ARES_ECONNREFUSED:
	case ARES_ECANCELLED:      /* our deadline */
	case ARES_EDESTRUCTION:
		answer_empty(q, DNS_TIMEOUT);
		break;
	case ARES_ENOMEM:
	case ARES_EBADQUERY:
	case ARES_ENOTINITIALIZED:
		q->local_fail = true;
		err_set(&q->err, ERR_SCOPE_RUN, ERR_KIND_INTERNAL, false,
			"DNS query for %s to %s: c-ares: %s", q->name, q->r->name,
			ares_strerror(status));
		answer_empty(q, DNS_SERVFAIL);
		break;
	default:                   /* EBADRESP, EFORMERR, ESERVFAIL, ...: a bad server */
		answer_empty(q, DNS_SERVFAIL);
		break;
	}
	if (!q->local_fail)
		q->out->server = xstrdup(q->r->name);
}

/* Build and send q's query; false (q->err set) when it cannot be built. */
static bool send_one(struct pending *q)
{
	struct buf b;
	uint16_t id;
	long long budget;

	if (!dns_msg_name_valid(q->name)) {
		err_set(&q->err, ERR_SCOPE_MESSAGE, ERR_KIND_USAGE, false,
			"'%s' is not a DNS name that can be asked (labels of 1-63 printable "
			"characters, at most 253 in all; IDNs as xn--)", q->name);
		q->local_fail = true;
		return false;
	}
	/* the id is all that ties a UDP reply to our query: not guessable */
	if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id)
		id = (uint16_t)(now_ms() ^ (long long)(uintptr_t)q);
	buf_init(&b, 0);
	if (!dns_msg_query(&b, id, q->name, q->type, q->r->rd, RESOLVER_EDNS_SIZE)) {
		buf_free(&b);
		err_set(&q->err, ERR_SCOPE_RUN, ERR_KIND_INTERNAL, false,
			"could not build the DNS query for %s", q->name);
		q->local_fail = true;
		return false;
	}
	budget = (long long)q->r->timeout_ms * q->r->nservers;
	q->deadline_ms = now_ms() + budget;
	q->tries_left--;
	q->resend = false;
	/* May call on_reply at once (e.g. out of memory). */
	ares_send(q->r->ch, (const unsigned char *)b.data, (int)b.len, on_reply, q);
	buf_free(&b);
	return true;
}

/* Run every channel of qs until each query is done. */
static bool run(struct pending *qs, size_t n, struct err *err)
{
	struct pollfd *pfd = NULL;
	size_t *owner = NULL, cap = 0;

	for (;;) {
		size_t np = 0;
		long long now = now_ms(), wait_ms = -1;
		bool waiting = false;
		int prc;

		for (size_t i = 0; i < n; i++) {
			ares_socket_t socks[ARES_GETSOCK_MAXNUM];
			struct timeval tv, *tvp;
			long long left;
			int bits;

			if (qs[i].done)
				continue;
			if (qs[i].resend && !send_one(&qs[i])) {
				/* the name was good for the first try: cannot happen */
				qs[i].done = true;
				continue;
			}
			if (now >= qs[i].deadline_ms) {
				ares_cancel(qs[i].r->ch);   /* on_reply: ECANCELLED */
				continue;
			}
			waiting = true;
			bits = ares_getsock(qs[i].r->ch, socks, ARES_GETSOCK_MAXNUM);
			for (int k = 0; k < ARES_GETSOCK_MAXNUM; k++) {
				short ev = 0;
				/* ares.h's ARES_GETSOCK_WRITABLE shifts a signed 1
				 * into the sign bit for k = 15: test the bits here */
				if ((unsigned)bits & (1u << k))
					ev |= POLLIN;
				if ((unsigned)bits & (1u << (k + ARES_GETSOCK_MAXNUM)))
					ev |= POLLOUT;
				if (ev == 0)
					continue;
				if (np == cap) {
					cap = cap ? cap * 2 : 16;
					pfd = xreallocarray(pfd, cap, sizeof *pfd);
					owner = xreallocarray(owner, cap, sizeof *owner);
				}
				pfd[np].fd = socks[k];
				pfd[np].events = ev;
				pfd[np].revents = 0;
				owner[np++] = i;
			}
			left = qs[i].deadline_ms - now;
			tvp = ares_timeout(qs[i].r->ch, NULL, &tv);
			if (tvp != NULL) {
				/* rounded up: waking a millisecond early would spin */
				long long t = (long long)tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000;
				if (t < left)
					left = t;
			}
			if (wait_ms < 0 || left < wait_ms)
				wait_ms = left;
		}
		if (!waiting) {
			/* a cancel above may still have to be seen through */
			bool all = true;
			for (size_t i = 0; i < n; i++)
				all = all && qs[i].done;
			if (all)
				break;
			continue;
		}
		if (wait_ms > INT_MAX)
			wait_ms = INT_MAX;
		prc = poll(pfd, (nfds_t)np, (int)wait_ms);
		if (prc < 0 && errno != EINTR) {
			err_set(err, ERR_SCOPE_RUN, ERR_KIND_INTERNAL, true,
				"waiting for DNS replies: poll: %s", strerror(errno));
			for (size_t i = 0; i < n; i++)
				if (!qs[i].done)
					ares_cancel(qs[i].r->ch);
			free(pfd);
			free(owner);
			return false;
		}
		for (size_t j = 0; j < np && prc > 0; j++) {
			short re = pfd[j].revents;
			ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

			if (re == 0 || qs[owner[j]].done)
				continue;
			/* errors and hangups are read: that is where c-ares sees them */
			if (re & (POLLIN | POLLERR | POLLHUP | POLLNVAL))
				rfd = pfd[j].fd;
			if (re & POLLOUT)
				wfd = pfd[j].fd;
			ares_process_fd(qs[owner[j]].r->ch, rfd, wfd);
		}
		/* timeouts and retries of the channels that had nothing to read */
		for (size_t i = 0; i < n; i++)
			if (!qs[i].done)
				ares_process_fd(qs[i].r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	}
	free(pfd);
	free(owner);
	return true;
}

static bool lookup_many(struct resolver *const *rs, size_t n, const char *name, uint16_t type,
			struct dns_answer *out, struct err *err)
{
	struct pending *qs;
	bool ok = true;

	qs = xcalloc(n ? n : 1, sizeof *qs);
	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof out[i]);
		qs[i].r = rs[i];
		qs[i].name = name;
		qs[i].type = type;
		qs[i].out = &out[i];
		qs[i].tries_left = rs[i]->tries;
		err_clear(&qs[i].err);
	}
	for (size_t i = 0; i < n && ok; i++) {
		if (!send_one(&qs[i])) {
			*err = qs[i].err;
			ok = false;
			/* nothing was sent for i and after; stop the earlier ones */
			for (size_t k = 0; k < i; k++)
				ares_cancel(rs[k]->ch);
		}
	}
	if (ok)
		ok = run(qs, n, err);
	for (size_t i = 0; ok && i < n; i++)
		if (qs[i].local_fail) {
			*err = qs[i].err;
			ok = false;
		}
	if (!ok)
		for (size_t i = 0; i < n; i++)
			dns_answer_free(&out[i]);
	free(qs);
	return ok;
}

bool resolver_lookup(void *ctx, const char *name, uint16_t type, struct dns_answer *out,
		     struct err *err)
{
	struct resolver *r = ctx;

	return lookup_many(&r, 1, name, type, out, err);
}

bool resolver_multi_lookup(struct resolver *const *rs, size_t n, const char *name,
			   uint16_t type, struct dns_answer *out, struct err *err)
{
	return lookup_many(rs, n, name, type, out, err);
}
