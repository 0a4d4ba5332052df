// SPDX-License-Identifier: MIT
/*
 * worker.c - the generator thread's loop: edge-triggered epoll, batched
 * reads and writes, bounded rounds per connection per wakeup.
 *
 * Only translates between sockets and flow.c; what to send and what an echo
 * means is decided there. Per message: the send/recv calls, two clock reads.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pattern.h"
#include "worker.h"

#define WORKER_EVENTS 256
#define WORKER_BUF (256u * 1024u) /* largest send, largest recv */
#define WORKER_ROUNDS 16 /* recv + send rounds per connection per wakeup */
#define WORKER_RELEASE_MAX 65536 /* rate slots released per wakeup */
#define WORKER_COMPLAINTS 8 /* error lines per run, all threads */
#define WORKER_DRAIN_NS 1000000000ull /* wait for the last echoes, at most */
/* The eventfd's tag; connections are tagged by their index. Slots are
 * never reused within a run, so a stale event finds fd < 0 and is dropped:
 * no generation is needed. */
#define WORKER_TAG_WAKE UINT64_MAX

struct worker_conn {
	int fd; /* -1 once closed */
	bool rd; /* believed readable (edge-triggered: until drained) */
	bool wr; /* believed writable (until a short send) */
	bool hup; /* the peer shut its side: read on to the EOF */
	bool queued; /* on the pending list */
	struct worker_conn *next;
	struct flow f;
};

static uint64_t worker_now(void)
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
	struct epoll_event ev = { .events = EPOLLIN };
	uint32_t cap = run->fcfg.rec_cap;
	unsigned i;

	memset(w, 0, sizeof(*w));
	w->run = run;
	w->id = id;
	w->cpu = cpu;
	w->first = first;
	w->epfd = -1;
	w->evfd = -1;
	w->pend_tail = &w->pend;
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
	w->txbuf = malloc(WORKER_BUF);
	w->rxbuf = malloc(WORKER_BUF);
	if ((cap && !w->recs) || !w->txbuf || !w->rxbuf)
		return -ENOMEM;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		return -errno;
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->evfd < 0)
		return -errno;
	ev.data.u64 = WORKER_TAG_WAKE;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev))
		return -errno;
	for (i = 0; i < n; i++) {
		struct worker_conn *c = &w->conns[i];

		flow_init(&c->f, &run->fcfg, first + i,
			  pat_seed(run->seed, first + i),
			  cap ? w->recs + (size_t)i * cap : NULL);
		/* A new socket is writable: send at once, no event needed. */
		c->wr = true;
		/*
		 * Registered once, edge-triggered, for everything: interest
		 * never changes, so the loop makes no epoll_ctl calls.
		 */
		ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
		ev.data.u64 = i;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev))
			return -errno;
	}
	return 0;
}

static void worker_enqueue(struct worker *w, struct worker_conn *c)
{
	if (c->queued)
		return;
	c->queued = true;
	c->next = NULL;
	*w->pend_tail = c;
	w->pend_tail = &c->next;
}

/* Close c after an error; say why (a bounded number of lines per run). */
static void worker_fail(struct worker *w, struct worker_conn *c, int err)
{
	struct flow *f = &c->f;
	unsigned no = f->id;

	if (err == -EPROTO)
		w->res.verify_errors++;
	else
		w->res.conn_errors++;
	close(c->fd);
	c->fd = -1;
	if (w->tx_owner == c)
		w->tx_owner = NULL;
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

/* One recv: 1 if it moved bytes, 0 if none were there, -1 if c closed. */
static int worker_recv(struct worker *w, struct worker_conn *c)
{
	ssize_t n = recv(c->fd, w->rxbuf, WORKER_BUF, 0);
	int rc;

	if (n > 0) {
		rc = flow_rx(&c->f, w->rxbuf, (size_t)n, worker_now(), &w->hist,
			     &w->res.fc);
		if (rc) {
			worker_fail(w, c, rc);
			return -1;
		}
		/*
		 * epoll(7): a short read on a stream socket means its queue is
		 * empty, so skip the recv that would only say EAGAIN. Not after
		 * a hang-up: the FIN waits behind the data and no new edge
		 * would report it.
		 */
		if ((size_t)n < WORKER_BUF && !c->hup)
			c->rd = false;
		return 1;
	}
	if (n == 0) {
		worker_fail(w, c, -EPIPE);
		return -1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->rd = false;
		return 0;
	}
	if (errno == EINTR)
		return 1;
	worker_fail(w, c, -errno);
	return -1;
}

/*
 * The bytes to send next, at most WORKER_BUF: what the last fill left in
 * txbuf when it was for this connection (a short send leaves the rest
 * there), else a fresh fill. *n gets their count.
 */
static const uint8_t *worker_tx_bytes(struct worker *w, struct worker_conn *c,
				      size_t *n)
{
	uint64_t avail = flow_tx_avail(&c->f), off = c->f.tx_off, left;

	if (avail > WORKER_BUF)
		avail = WORKER_BUF;
	if (w->tx_owner == c && off >= w->tx_base &&
	    off < w->tx_base + w->tx_len) {
		left = w->tx_base + w->tx_len - off;
		/* Reuse unless refilling would send much more at once. */
		if (left >= avail || left >= WORKER_BUF / 4) {
			*n = (size_t)(left < avail ? left : avail);
			return w->txbuf + (off - w->tx_base);
		}
	}
	*n = flow_tx_fill(&c->f, w->txbuf, WORKER_BUF);
	w->tx_owner = c;
	w->tx_base = off;
	w->tx_len = *n;
	return w->txbuf;
}

/* One send of everything allowed (up to WORKER_BUF): like worker_recv. */
static int worker_send(struct worker *w, struct worker_conn *c)
{
	size_t n;
	const uint8_t *p = worker_tx_bytes(w, c, &n);
	uint64_t now = worker_now();
	ssize_t s = send(c->fd, p, n, MSG_NOSIGNAL);

	if (s > 0) {
		flow_tx_commit(&c->f, (size_t)s, now);
		/* A short send means the socket buffer is full; an EPOLLOUT
		 * edge follows when it drains. */
		if ((size_t)s < n)
			c->wr = false;
		return 1;
	}
	if (s < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		c->wr = false;
		return 0;
	}
	if (s < 0 && errno == EINTR)
		return 1;
	worker_fail(w, c, s < 0 ? -errno : -EIO);
	return -1;
}

/* Read everything available and write everything allowed, for at most
 * WORKER_ROUNDS rounds; with work left, c goes to the back of the list. */
static void worker_service(struct worker *w, struct worker_conn *c)
{
	int round, moved, rc;

	for (round = 0; round < WORKER_ROUNDS; round++) {
		moved = 0;
		if (c->rd) {
			rc = worker_recv(w, c);
			if (rc < 0)
				return;
			moved |= rc;
		}
		if (c->wr && flow_tx_avail(&c->f)) {
			rc = worker_send(w, c);
			if (rc < 0)
				return;
			moved |= rc;
		}
		if (!moved)
			return;
	}
	if (c->rd || (c->wr && flow_tx_avail(&c->f)))
		worker_enqueue(w, c);
}

/* Rate mode: release every slot due by now to its connection. */
static void worker_release(struct worker *w, struct pace_cursor *pc,
			   uint64_t now)
{
	struct worker_conn *c;
	int i;

	for (i = 0; i < WORKER_RELEASE_MAX && pace_cursor_time(pc) <= now;
	     i++) {
		c = &w->conns[pace_cursor_next(pc) - w->first];
		if (c->fd < 0)
			continue;
		flow_release(&c->f, 1);
		worker_enqueue(w, c);
	}
}

/* Block until events, a phase change, or the deadline (0: none). */
static int worker_wait(struct worker *w, struct epoll_event *ev,
		       uint64_t deadline, uint64_t now)
{
	struct timespec ts = { 0, 0 };
	uint64_t ns = 0;
	int ms;

	if (w->pend)
		deadline = now;
	if (deadline) {
		ns = deadline > now ? deadline - now : 0;
		ts.tv_sec = (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
	}
	if (w->run->precise_timer)
		return epoll_pwait2(w->epfd, ev, WORKER_EVENTS,
				    deadline ? &ts : NULL, NULL);
	ms = deadline ? (int)((ns + 999999u) / 1000000u) : -1;
	return epoll_wait(w->epfd, ev, WORKER_EVENTS, ms);
}

/* Dispatch one batch of events: note what each connection can do. */
static void worker_events(struct worker *w, struct epoll_event *ev, int n)
{
	struct worker_conn *c;
	uint64_t junk;
	int i;

	for (i = 0; i < n; i++) {
		if (ev[i].data.u64 == WORKER_TAG_WAKE) {
			if (read(w->evfd, &junk, sizeof(junk)) < 0 &&
			    errno != EAGAIN)
				perror("echo-load: eventfd");
			continue;
		}
		c = &w->conns[ev[i].data.u64];
		if (c->fd < 0)
			continue;
		if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			c->rd = true;
		if (ev[i].events & (EPOLLRDHUP | EPOLLHUP))
			c->hup = true;
		if (ev[i].events & (EPOLLOUT | EPOLLERR))
			c->wr = true;
		worker_enqueue(w, c);
	}
}

/* Service every connection queued before this call. */
static void worker_run_pending(struct worker *w)
{
	struct worker_conn *c = w->pend, *next;

	w->pend = NULL;
	w->pend_tail = &w->pend;
	for (; c; c = next) {
		next = c->next;
		c->queued = false;
		if (c->fd >= 0)
			worker_service(w, c);
	}
}

static void worker_measure_begin(struct worker *w, uint64_t *t0, uint64_t *cpu0)
{
	hist_reset(&w->hist);
	w->res.fc = (struct flow_count){ 0 };
	*t0 = worker_now();
	*cpu0 = worker_cpu_ns();
}

static void worker_loop(struct worker *w)
{
	struct epoll_event ev[WORKER_EVENTS];
	struct worker_run *run = w->run;
	bool rate = run->fcfg.mode == FLOW_RATE && w->n;
	uint64_t now, t0 = 0, cpu0 = 0, deadline;
	struct pace_cursor pc;
	int seen = WORKER_WARMUP, phase, n;
	unsigned i;

	if (rate)
		pace_cursor_init(&pc, &run->pace, w->first, w->first + w->n);
	for (i = 0; i < w->n; i++)
		worker_enqueue(w, &w->conns[i]);
	for (;;) {
		phase = atomic_load_explicit(&run->phase, memory_order_acquire);
		if (phase != seen && seen == WORKER_WARMUP)
			worker_measure_begin(w, &t0, &cpu0);
		if (phase == WORKER_STOP)
			break;
		seen = phase;
		now = worker_now();
		deadline = 0;
		if (rate) {
			worker_release(w, &pc, now);
			deadline = pace_cursor_time(&pc);
		}
		n = worker_wait(w, ev, deadline, now);
		if (n < 0 && errno != EINTR) {
			w->res.err = -errno;
			perror("echo-load: epoll_wait");
			break;
		}
		worker_events(w, ev, n > 0 ? n : 0);
		worker_run_pending(w);
	}
	w->res.cpu_ns = worker_cpu_ns() - cpu0;
	w->res.wall_ns = worker_now() - t0;
}

/* Drain: read c to the server's EOF, verifying; 1 once c is closed. */
static int worker_drain_conn(struct worker *w, struct worker_conn *c)
{
	struct flow_count junk = { 0 };
	ssize_t n;
	int rc;

	for (;;) {
		n = recv(c->fd, w->rxbuf, WORKER_BUF, 0);
		if (n > 0) {
			rc =
			    flow_rx(&c->f, w->rxbuf, (size_t)n, 0, NULL, &junk);
			if (!rc)
				continue;
			worker_fail(w, c, rc);
			return 1;
		}
		if (n == 0) {
			close(c->fd);
			c->fd = -1;
			return 1;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->rd = false;
			return 0;
		}
		if (errno != EINTR) {
			worker_fail(w, c, -errno);
			return 1;
		}
	}
}

/*
 * After the measured interval: shut our write sides and read the echoes
 * still in flight up to each server EOF (verified, not counted), so the
 * server sees orderly closes rather than resets. Bounded by WORKER_DRAIN_NS;
 * connections still open then are closed by worker_destroy.
 */
static void worker_drain(struct worker *w)
{
	uint64_t end = worker_now() + WORKER_DRAIN_NS, now;
	struct epoll_event ev[WORKER_EVENTS];
	struct worker_conn *c;
	unsigned i, open = 0;
	int n, k;

	/* Sending is over: forget the pending list (it would make every
	 * wait below return at once). */
	w->pend = NULL;
	w->pend_tail = &w->pend;
	for (i = 0; i < w->n; i++) {
		c = &w->conns[i];
		if (c->fd < 0)
			continue;
		if (shutdown(c->fd, SHUT_WR)) {
			worker_fail(w, c, -errno);
			continue;
		}
		c->rd = true;
		open++;
	}
	while (open && (now = worker_now()) < end) {
		for (i = 0; i < w->n; i++) {
			c = &w->conns[i];
			if (c->fd >= 0 && c->rd)
				open -= (unsigned)worker_drain_conn(w, c);
		}
		if (!open)
			break;
		n = worker_wait(w, ev, end, now);
		for (k = 0; k < n; k++) {
			if (ev[k].data.u64 != WORKER_TAG_WAKE)
				w->conns[ev[k].data.u64].rd = true;
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	cpu_set_t set;

	if (w->cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			w->res.err = -errno;
	}
	/* Open loop wants sends on time: the default 50 us slack of timed
	 * waits would bunch them up. */
	if (w->run->fcfg.mode == FLOW_RATE)
		prctl(PR_SET_TIMERSLACK, 1ul, 0ul, 0ul, 0ul);
	pthread_mutex_lock(&w->run->lock);
	w->run->ready++;
	pthread_cond_broadcast(&w->run->cond);
	while (!w->run->go)
		pthread_cond_wait(&w->run->cond, &w->run->lock);
	pthread_mutex_unlock(&w->run->lock);
	if (!w->res.err) {
		worker_loop(w);
		worker_drain(w);
	}
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
	for (i = 0; w->conns && i < w->n; i++) {
		if (w->conns[i].fd >= 0)
			close(w->conns[i].fd);
	}
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->evfd >= 0)
		close(w->evfd);
	free(w->conns);
	free(w->recs);
	free(w->txbuf);
	free(w->rxbuf);
	w->conns = NULL;
	w->recs = NULL;
	w->txbuf = NULL;
	w->rxbuf = NULL;
	w->n = 0;
	w->epfd = -1;
	w->evfd = -1;
	w->run = NULL;
}
