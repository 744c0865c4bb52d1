/* commit.c — make accepted messages durable off the event loop.
 *
 * spool_writer_commit() costs two fsyncs (the file, then the queue
 * folder): about 1.5 ms on the disks we measured, during which a loop that
 * did it itself would serve no other session. A few threads do the commits
 * instead, so the fsyncs of many sessions overlap (the file system folds
 * them into shared journal commits: group commit) while the loop goes on.
 * The session waits, reading nothing, until its commit is back; only then
 * does it answer 250 (session_committed()).
 *
 * Ownership: a job holds the session pointer; the session is not freed
 * while its commit is out (session.c keeps it, marked dead, when the
 * client goes away meanwhile).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/alloc.h"
#include "core/log.h"
#include "relay/relay_int.h"

struct commit_job {
	struct commit_job *next;
	struct session *s;
	struct spool_writer *w;
	bool ok;
	char *error;
};

struct commit_pool {
	struct relay *r;
	pthread_t *threads;
	unsigned nthreads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct commit_job *todo, *todo_tail;
	struct commit_job *done, *done_tail;
	bool stop;
	int pipe[2];
	struct event *ev;
};

static void push(struct commit_job **head, struct commit_job **tail, struct commit_job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void *worker(void *arg)
{
	struct commit_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->todo == NULL && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->todo == NULL)
			break;   /* stopping, and nothing left to commit */
		struct commit_job *j = p->todo;
		p->todo = j->next;
		if (p->todo == NULL)
			p->todo_tail = NULL;
		pthread_mutex_unlock(&p->lock);

		struct err err;
		err_clear(&err);
		j->ok = spool_writer_commit(&j->w, &err);
		if (!j->ok) {
			j->error = xstrdup(err.msg);
			spool_writer_abort(&j->w);
		}
		pthread_mutex_lock(&p->lock);
		push(&p->done, &p->done_tail, j);
		char c = 1;
		if (write(p->pipe[1], &c, 1) < 0 && errno != EAGAIN)
			log_error("relay: cannot wake the event loop: %s", strerror(errno));
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void on_done(evutil_socket_t fd, short what, void *ctx)
{
	struct commit_pool *p = ctx;
	char b[256];
	(void)what;

	while (read(fd, b, sizeof b) > 0)
		;
	pthread_mutex_lock(&p->lock);
	struct commit_job *j = p->done;
	p->done = p->done_tail = NULL;
	pthread_mutex_unlock(&p->lock);
	while (j) {
		struct commit_job *next = j->next;
		session_committed(j->s, j->ok, j->error);
		free(j->error);
		free(j);
		j = next;
	}
}

struct commit_pool *commit_pool_new(struct relay *r, unsigned threads, struct err *err)
{
	struct commit_pool *p = xcalloc(1, sizeof *p);

	p->r = r;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pipe2(p->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_INTERNAL, false, "pipe: %s", strerror(errno));
		free(p);
		return NULL;
	}
	p->ev = event_new(r->base, p->pipe[0], EV_READ | EV_PERSIST, on_done, p);
	event_add(p->ev, NULL);
	p->threads = xcalloc(threads, sizeof *p->threads);
	for (unsigned i = 0; i < threads; i++)
		if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) == 0)
			p->nthreads++;
	if (p->nthreads == 0) {
		err_set(err, ERR_SCOPE_RUN, ERR_KIND_INTERNAL, false,
			"cannot start the queue commit threads");
		commit_pool_free(&p);
		return NULL;
	}
	return p;
}

void commit_submit(struct commit_pool *p, struct session *s, struct spool_writer *w)
{
	struct commit_job *j = xcalloc(1, sizeof *j);

	j->s = s;
	j->w = w;
	pthread_mutex_lock(&p->lock);
	push(&p->todo, &p->todo_tail, j);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void commit_pool_free(struct commit_pool **pp)
{
	struct commit_pool *p = *pp;

	if (p == NULL)
		return;
	/* Commits asked for are finished (the files are complete; whether
	 * the client saw its 250 or not, the message is then delivered, as
	 * after a crash at that moment); their sessions are not told. */
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	while (p->done) {
		struct commit_job *j = p->done;
		p->done = j->next;
		free(j->error);
		free(j);
	}
	if (p->ev)
		event_free(p->ev);
	close(p->pipe[0]);
	close(p->pipe[1]);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->threads);
	free(p);
	*pp = NULL;
}
