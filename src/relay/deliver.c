/* deliver.c — delivery workers: a pool of threads per destination.
 *
 * Each worker takes one job (a message for some recipients at one
 * destination), delivers it with its own smtp_client and hands the job back
 * with the results through relay_post_result(). The connection is kept
 * for the next job (connection reuse) and closed after IDLE_CLOSE seconds
 * without work. The number of workers is the destination's concurrency
 * limit: a slow or dead server ties up its own workers only.
 *
 * Workers read the spool (spool_open_data) but never write it, never touch
 * the store and never call into the event loop: all outcomes are applied by
 * the loop thread (qmgr.c), so the queue state has one writer.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "relay/relay_int.h"

#define IDLE_CLOSE 5

struct deliver_pool {
	struct relay *r;
	unsigned dest;
	struct smtp_client_opts opts;
	char *host, *ca_file, *helo, *what;
	pthread_t *threads;
	unsigned nthreads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct deliver_job *head, *tail;
	unsigned busy;              /* submitted, not yet returned */
	bool stop;
};

void deliver_job_free(struct deliver_job *j)
{
	if (j == NULL)
		return;
	free(j->sender);
	for (size_t i = 0; i < j->n; i++) {
		free(j->rcpts[i]);
		if (j->res)
			smtp_rcpt_result_clear(&j->res[i]);
	}
	free(j->rcpts);
	free(j->rcpt_idx);
	free(j->res);
	free(j->conn_error);
	free(j->peer);
	free(j);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool any_result(const struct deliver_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		if (j->res[i].code != 0)
			return true;
	return false;
}

static void run_job(struct deliver_pool *p, struct smtp_client **cp, struct deliver_job *j)
{
	struct err err;
	double t0 = now_s();

	err_clear(&err);
	j->res = xcalloc(j->n ? j->n : 1, sizeof *j->res);
	/* A reused connection that the server closed meanwhile fails at once:
	 * one fresh try before calling it a failure. */
	for (int attempt = 0; attempt < 2; attempt++) {
		bool reused = *cp != NULL;
		int fd = -1;
		uint64_t size = 0;

		err_clear(&err);
		if (!spool_open_data(p->r->spool, j->where, j->id, &fd, &size, &err)) {
			j->conn_failed = true;
			j->local_error = true;
			j->conn_error = xasprintf("cannot read the queue file: %s", err.msg);
			return;
		}
		if (*cp == NULL)
			*cp = smtp_client_connect(&p->opts, &err);
		bool ok = false;
		if (*cp != NULL) {
			free(j->peer);
			j->peer = xstrdup(smtp_client_peer(*cp));
			ok = smtp_client_send(*cp, j->sender, (const char *const *)j->rcpts, j->n,
					      fd, size, j->smtputf8, j->eightbit, j->res, &err);
			if (!ok || !smtp_client_usable(*cp))
				smtp_client_close(cp);
		}
		close(fd);
		if (ok || !reused || any_result(j))
			break;
	}
	if (err_is_set(&err)) {
		/* recipients without a result are deferred by the loop */
		j->conn_failed = !any_result(j);
		j->conn_error = xstrdup(err.msg);
	}
	j->seconds = now_s() - t0;
}

static void *worker(void *arg)
{
	struct deliver_pool *p = arg;
	struct smtp_client *c = NULL;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->head == NULL && !p->stop) {
			if (c != NULL) {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += IDLE_CLOSE;
				if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) != 0 &&
				    p->head == NULL) {
					pthread_mutex_unlock(&p->lock);
					smtp_client_close(&c);
					pthread_mutex_lock(&p->lock);
				}
			} else {
				pthread_cond_wait(&p->cond, &p->lock);
			}
		}
		if (p->stop)
			break;
		struct deliver_job *j = p->head;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		j->next = NULL;
		pthread_mutex_unlock(&p->lock);
		run_job(p, &c, j);
		relay_post_result(p->r, j);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	smtp_client_close(&c);
	return NULL;
}

struct deliver_pool *deliver_pool_new(struct relay *r, unsigned dest,
				      const struct smtp_client_opts *opts, unsigned threads)
{
	struct deliver_pool *p = xcalloc(1, sizeof *p);

	p->r = r;
	p->dest = dest;
	p->opts = *opts;
	p->host = xstrdup(opts->host);
	p->what = xstrdup(opts->what ? opts->what : spool_dest_name(dest));
	p->helo = xstrdup(opts->helo_name ? opts->helo_name : "localhost");
	p->ca_file = opts->ca_file ? xstrdup(opts->ca_file) : NULL;
	p->opts.host = p->host;
	p->opts.what = p->what;
	p->opts.helo_name = p->helo;
	p->opts.ca_file = p->ca_file;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->threads = xcalloc(threads ? threads : 1, sizeof *p->threads);
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) != 0) {
			log_error("relay: cannot start a delivery thread for %s", p->what);
			break;
		}
		p->nthreads++;
	}
	return p;
}

void deliver_pool_submit(struct deliver_pool *p, struct deliver_job *j)
{
	pthread_mutex_lock(&p->lock);
	j->next = NULL;
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->busy++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

unsigned deliver_pool_busy(struct deliver_pool *p)
{
	/* only the loop thread changes busy (submit / result), so no lock */
	return p->busy;
}

/* Called by the loop when a job of this pool came back. */
void deliver_pool_done(struct deliver_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->busy--;
	pthread_mutex_unlock(&p->lock);
}

void deliver_pool_free(struct deliver_pool **pp)
{
	struct deliver_pool *p = *pp;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	/* jobs never started: the messages stay queued on disk */
	while (p->head) {
		struct deliver_job *j = p->head;
		p->head = j->next;
		deliver_job_free(j);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->threads);
	free(p->host);
	free(p->what);
	free(p->helo);
	free(p->ca_file);
	free(p);
	*pp = NULL;
}
