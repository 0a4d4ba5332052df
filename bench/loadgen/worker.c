// SPDX-License-Identifier: MIT
/*
 * worker.c - the generator thread: pinning, the start line, the phases,
 * the connections' flows and error reports, and the table of engines.
 *
 * Moves no bytes itself: the engine (engine_epoll.c, engine_uring.c) does,
 * through the helpers declared in engine.h.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "pattern.h"
#include "worker.h"

#define WORKER_COMPLAINTS 8 /* error lines per run, all threads */

/* Preference order: the first that probes well is the default. */
static const struct worker_engine *const worker_engines[] = {
#ifdef LOAD_HAVE_URING
	&engine_uring,
#endif
	&engine_epoll,
};

const struct worker_engine *worker_engine_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(worker_engines) / sizeof(worker_engines[0]);
	     i++) {
		if (name && !strcmp(worker_engines[i]->name, name))
			return worker_engines[i];
	}
	return NULL;
}

const char *worker_engine_name(const struct worker_engine *e)
{
	return e->name;
}

int worker_engine_probe(const struct worker_engine *e,
			const struct worker_run *run, char *msg, size_t len)
{
	if (!e->probe) {
		snprintf(msg, len, "%s", e->name);
		return 0;
	}
	return e->probe(run, msg, len);
}

uint64_t worker_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t worker_cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru))
		return 0;
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
		   1000000000ull +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
		   1000ull;
}

int worker_init(struct worker *w, struct worker_run *run, unsigned id, int cpu,
		const int *fds, unsigned first, unsigned n)
{
	uint32_t cap = run->fcfg.rec_cap;
	unsigned i;

	memset(w, 0, sizeof(*w));
	w->run = run;
	w->id = id;
	w->cpu = cpu;
	w->first = first;
	w->evfd = -1;
	w->seen = WORKER_WARMUP;
	hist_reset(&w->hist);
	w->conns = calloc(n ? n : 1, sizeof(*w->conns));
	if (!w->conns) {
		for (i = 0; i < n; i++)
			close(fds[i]);
		return -ENOMEM;
	}
	/* From here on worker_destroy closes every fd handed to us. */
	w->n = n;
	for (i = 0; i < n; i++)
		w->conns[i].fd = fds[i];
	w->recs = cap ? calloc((size_t)n * cap, sizeof(*w->recs)) : NULL;
	if (cap && !w->recs)
		return -ENOMEM;
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->evfd < 0)
		return -errno;
	for (i = 0; i < n; i++)
		flow_init(&w->conns[i].f, &run->fcfg, first + i,
			  pat_seed(run->seed, first + i),
			  cap ? w->recs + (size_t)i * cap : NULL);
	return run->engine->init(w);
}

void worker_fail(struct worker *w, unsigned i, int err)
{
	struct worker_conn *c = &w->conns[i];
	struct flow *f = &c->f;
	unsigned no = f->id;

	if (err == -EPROTO)
		w->res.verify_errors++;
	else
		w->res.conn_errors++;
	close(c->fd);
	c->fd = -1;
	if (atomic_fetch_add(&w->run->complaints, 1) >= WORKER_COMPLAINTS)
		return;
	if (err == -EPROTO && f->err_want >= 0)
		fprintf(stderr,
			"echo-load: connection %u: wrong byte at stream offset "
			"%llu: expected 0x%02x, got 0x%02x\n",
			no, (unsigned long long)f->err_off, f->err_want,
			f->err_got);
	else if (err == -EPROTO)
		fprintf(
		    stderr,
		    "echo-load: connection %u: byte 0x%02x at stream offset "
		    "%llu, but only %llu bytes were sent\n",
		    no, f->err_got, (unsigned long long)f->err_off,
		    (unsigned long long)f->tx_off);
	else if (err == -EPIPE)
		fprintf(stderr,
			"echo-load: connection %u: closed by the server after "
			"%llu of %llu bytes echoed\n",
			no, (unsigned long long)f->rx_off,
			(unsigned long long)f->tx_off);
	else
		fprintf(stderr, "echo-load: connection %u: %s\n", no,
			strerror(-err));
}

bool worker_pace_init(struct worker *w, struct pace_cursor *pc)
{
	if (w->run->fcfg.mode != FLOW_RATE || !w->n)
		return false;
	pace_cursor_init(pc, &w->run->pace, w->first, w->first + w->n);
	return true;
}

uint64_t worker_release(struct worker *w, struct pace_cursor *pc, uint64_t now,
			void (*due)(struct worker *w, unsigned i))
{
	unsigned i;
	int k;

	for (k = 0; k < WORKER_RELEASE_MAX && pace_cursor_time(pc) <= now;
	     k++) {
		i = pace_cursor_next(pc) - w->first;
		if (w->conns[i].fd < 0)
			continue;
		flow_release(&w->conns[i].f, 1);
		due(w, i);
	}
	return pace_cursor_time(pc);
}

int worker_echoed(struct worker *w, unsigned i, const void *buf, size_t n,
		  uint64_t now, bool draining)
{
	struct flow_count junk = { 0 };

	if (draining)
		return flow_rx(&w->conns[i].f, buf, n, now, NULL, &junk);
	return flow_rx(&w->conns[i].f, buf, n, now, &w->hist, &w->res.fc);
}

unsigned worker_shut_writes(struct worker *w,
			    void (*fail)(struct worker *w, unsigned i, int err))
{
	unsigned i, open = 0;

	for (i = 0; i < w->n; i++) {
		if (w->conns[i].fd < 0)
			continue;
		if (shutdown(w->conns[i].fd, SHUT_WR))
			fail(w, i, -errno);
		else
			open++;
	}
	return open;
}

/* The measured interval is over: note this thread's CPU and wall time. */
static void worker_clocks(struct worker *w)
{
	w->res.cpu_ns = worker_cpu_ns() - w->cpu0;
	w->res.wall_ns = worker_now() - w->t0;
}

bool worker_running(struct worker *w)
{
	int phase = atomic_load_explicit(&w->run->phase, memory_order_acquire);

	if (phase != w->seen && w->seen == WORKER_WARMUP) {
		hist_reset(&w->hist);
		w->res.fc = (struct flow_count){ 0 };
		w->t0 = worker_now();
		w->cpu0 = worker_cpu_ns();
	}
	w->seen = phase;
	if (phase == WORKER_STOP) {
		worker_clocks(w);
		return false;
	}
	return true;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct worker_engine *e = w->run->engine;
	cpu_set_t set;

	if (w->cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			w->res.err = -errno;
			w->res.pin_failed = true;
		}
	}
	/* Open loop wants sends on time: the default 50 us slack of timed
	 * waits would bunch them up. */
	if (w->run->fcfg.mode == FLOW_RATE)
		prctl(PR_SET_TIMERSLACK, 1ul, 0ul, 0ul, 0ul);
	if (!w->res.err && e->start)
		w->res.err = e->start(w);
	pthread_mutex_lock(&w->run->lock);
	w->run->ready++;
	pthread_cond_broadcast(&w->run->cond);
	while (!w->run->go)
		pthread_cond_wait(&w->run->cond, &w->run->lock);
	pthread_mutex_unlock(&w->run->lock);
	if (!w->res.err) {
		e->loop(w);
		/* A loop that failed left before the stop: close the books. */
		if (w->seen != WORKER_STOP)
			worker_clocks(w);
		e->drain(w);
	}
	if (e->stop)
		e->stop(w);
	return NULL;
}

int worker_run_init(struct worker_run *run)
{
	int rc;

	atomic_init(&run->phase, WORKER_WARMUP);
	atomic_init(&run->complaints, 0);
	run->ready = 0;
	run->go = false;
	rc = pthread_mutex_init(&run->lock, NULL);
	if (rc)
		return -rc;
	rc = pthread_cond_init(&run->cond, NULL);
	if (rc) {
		pthread_mutex_destroy(&run->lock);
		return -rc;
	}
	return 0;
}

void worker_run_destroy(struct worker_run *run)
{
	pthread_cond_destroy(&run->cond);
	pthread_mutex_destroy(&run->lock);
}

void worker_await(struct worker_run *run, unsigned n)
{
	pthread_mutex_lock(&run->lock);
	while (run->ready < n)
		pthread_cond_wait(&run->cond, &run->lock);
	pthread_mutex_unlock(&run->lock);
}

void worker_go(struct worker_run *run)
{
	pthread_mutex_lock(&run->lock);
	run->go = true;
	pthread_cond_broadcast(&run->cond);
	pthread_mutex_unlock(&run->lock);
}

int worker_start(struct worker *w)
{
	int rc = pthread_create(&w->tid, NULL, worker_main, w);

	if (rc)
		return -rc;
	w->started = true;
	return 0;
}

void worker_wake(struct worker *w)
{
	uint64_t one = 1;

	/* Only fails if the counter is saturated: a wakeup is pending. */
	if (write(w->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		perror("echo-load: eventfd");
}

void worker_join(struct worker *w)
{
	if (w->started)
		pthread_join(w->tid, NULL);
	w->started = false;
}

void worker_destroy(struct worker *w)
{
	unsigned i;

	if (!w->run) /* zeroed, never initialised: owns nothing */
		return;
	w->run->engine->destroy(w);
	for (i = 0; w->conns && i < w->n; i++) {
		if (w->conns[i].fd >= 0)
			close(w->conns[i].fd);
	}
	if (w->evfd >= 0)
		close(w->evfd);
	free(w->conns);
	free(w->recs);
	w->conns = NULL;
	w->recs = NULL;
	w->eng = NULL;
	w->n = 0;
	w->evfd = -1;
	w->run = NULL;
}
