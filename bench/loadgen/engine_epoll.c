// SPDX-License-Identifier: MIT
/*
 * engine_epoll.c - the readiness engine: edge-triggered epoll, batched
 * reads and writes, bounded rounds per connection per wakeup.
 *
 * Only translates between sockets and flow.c. Per message: the send/recv
 * calls it shares with other messages, two clock reads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

#define EP_EVENTS 256
#define EP_ROUNDS 16 /* recv + send rounds per connection per wakeup */
#define EP_NONE UINT32_MAX /* no connection owns the send buffer */
/* The eventfd's tag; connections are tagged by their index. Slots are
 * never reused within a run, so a stale event finds fd < 0 and is dropped:
 * no generation is needed. */
#define EP_TAG_WAKE UINT64_MAX

struct ep_conn {
	bool rd; /* believed readable (edge-triggered: until drained) */
	bool wr; /* believed writable (until a short send) */
	bool hup; /* the peer shut its side: read on to the EOF */
	bool queued; /* on the pending list */
	struct ep_conn *next;
};

struct ep {
	int epfd;
	struct ep_conn *c; /* parallel to w->conns */
	uint8_t *txbuf; /* stream bytes [tx_base, +tx_len) of tx_owner */
	uint32_t tx_owner;
	uint64_t tx_base;
	size_t tx_len;
	uint8_t *rxbuf;
	struct ep_conn *pend; /* connections with work left, FIFO */
	struct ep_conn **pend_tail;
};

static int ep_init(struct worker *w)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct ep *e = calloc(1, sizeof(*e));
	unsigned i;

	if (!e)
		return -ENOMEM;
	w->eng = e;
	e->epfd = -1;
	e->tx_owner = EP_NONE;
	e->pend_tail = &e->pend;
	e->c = calloc(w->n ? w->n : 1, sizeof(*e->c));
	e->txbuf = malloc(WORKER_BUF);
	e->rxbuf = malloc(WORKER_BUF);
	if (!e->c || !e->txbuf || !e->rxbuf)
		return -ENOMEM;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0)
		return -errno;
	ev.data.u64 = EP_TAG_WAKE;
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, w->evfd, &ev))
		return -errno;
	for (i = 0; i < w->n; i++) {
		/* A new socket is writable: send at once, no event needed. */
		e->c[i].wr = true;
		/*
		 * Registered once, edge-triggered, for everything: interest
		 * never changes, so the loop makes no epoll_ctl calls.
		 */
		ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
		ev.data.u64 = i;
		if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, w->conns[i].fd, &ev))
			return -errno;
	}
	return 0;
}

static unsigned ep_index(const struct ep *e, const struct ep_conn *c)
{
	return (unsigned)(c - e->c);
}

static void ep_enqueue(struct ep *e, struct ep_conn *c)
{
	if (c->queued)
		return;
	c->queued = true;
	c->next = NULL;
	*e->pend_tail = c;
	e->pend_tail = &c->next;
}

/* Close connection i after an error. */
static void ep_fail(struct worker *w, unsigned i, int err)
{
	struct ep *e = w->eng;

	if (e->tx_owner == i)
		e->tx_owner = EP_NONE;
	worker_fail(w, i, err);
}

/* One recv: 1 if it moved bytes, 0 if none were there, -1 if i closed. */
static int ep_recv(struct worker *w, unsigned i)
{
	struct ep *e = w->eng;
	struct ep_conn *c = &e->c[i];
	struct worker_conn *wc = &w->conns[i];
	ssize_t n = recv(wc->fd, e->rxbuf, WORKER_BUF, 0);
	int rc;

	if (n > 0) {
		rc = worker_echoed(w, i, e->rxbuf, (size_t)n, worker_now(),
				   false);
		if (rc) {
			ep_fail(w, i, rc);
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
		ep_fail(w, i, -EPIPE);
		return -1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->rd = false;
		return 0;
	}
	if (errno == EINTR)
		return 1;
	ep_fail(w, i, -errno);
	return -1;
}

/*
 * The bytes to send next, at most WORKER_BUF: what the last fill left in
 * txbuf when it was for this connection (a short send leaves the rest
 * there), else a fresh fill. *n gets their count.
 */
static const uint8_t *ep_tx_bytes(struct ep *e, struct worker_conn *wc,
				  unsigned i, size_t *n)
{
	uint64_t avail = flow_tx_avail(&wc->f), off = wc->f.tx_off, left;

	if (avail > WORKER_BUF)
		avail = WORKER_BUF;
	if (e->tx_owner == i && off >= e->tx_base &&
	    off < e->tx_base + e->tx_len) {
		left = e->tx_base + e->tx_len - off;
		/* Reuse unless refilling would send much more at once. */
		if (left >= avail || left >= WORKER_BUF / 4) {
			*n = (size_t)(left < avail ? left : avail);
			return e->txbuf + (off - e->tx_base);
		}
	}
	*n = flow_tx_fill(&wc->f, e->txbuf, WORKER_BUF);
	e->tx_owner = i;
	e->tx_base = off;
	e->tx_len = *n;
	return e->txbuf;
}

/* One send of everything allowed (up to WORKER_BUF): like ep_recv. */
static int ep_send(struct worker *w, unsigned i)
{
	struct ep *e = w->eng;
	struct worker_conn *wc = &w->conns[i];
	size_t n;
	const uint8_t *p = ep_tx_bytes(e, wc, i, &n);
	uint64_t now = worker_now();
	ssize_t s = send(wc->fd, p, n, MSG_NOSIGNAL);

	if (s > 0) {
		flow_tx_commit(&wc->f, (size_t)s, now);
		/* A short send means the socket buffer is full; an EPOLLOUT
		 * edge follows when it drains. */
		if ((size_t)s < n)
			e->c[i].wr = false;
		return 1;
	}
	if (s < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		e->c[i].wr = false;
		return 0;
	}
	if (s < 0 && errno == EINTR)
		return 1;
	ep_fail(w, i, s < 0 ? -errno : -EIO);
	return -1;
}

/* Read everything available and write everything allowed, for at most
 * EP_ROUNDS rounds; with work left, c goes to the back of the list. */
static void ep_service(struct worker *w, struct ep_conn *c)
{
	struct ep *e = w->eng;
	unsigned i = ep_index(e, c);
	struct flow *f = &w->conns[i].f;
	int round, moved, rc;

	for (round = 0; round < EP_ROUNDS; round++) {
		moved = 0;
		if (c->rd) {
			rc = ep_recv(w, i);
			if (rc < 0)
				return;
			moved |= rc;
		}
		if (c->wr && flow_tx_avail(f)) {
			rc = ep_send(w, i);
			if (rc < 0)
				return;
			moved |= rc;
		}
		if (!moved)
			return;
	}
	if (c->rd || (c->wr && flow_tx_avail(f)))
		ep_enqueue(e, c);
}

/* Rate mode: slot due for connection i. */
static void ep_due(struct worker *w, unsigned i)
{
	struct ep *e = w->eng;

	ep_enqueue(e, &e->c[i]);
}

/* Block until events, a phase change, or the deadline (0: none). */
static int ep_wait(struct worker *w, struct epoll_event *ev, uint64_t deadline,
		   uint64_t now)
{
	struct ep *e = w->eng;
	struct timespec ts = { 0, 0 };
	uint64_t ns = 0;
	int ms;

	if (e->pend)
		deadline = now;
	if (deadline) {
		ns = deadline > now ? deadline - now : 0;
		ts.tv_sec = (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
	}
	if (w->run->precise_timer)
		return epoll_pwait2(e->epfd, ev, EP_EVENTS,
				    deadline ? &ts : NULL, NULL);
	ms = deadline ? (int)((ns + 999999u) / 1000000u) : -1;
	return epoll_wait(e->epfd, ev, EP_EVENTS, ms);
}

/* Dispatch one batch of events: note what each connection can do. */
static void ep_events(struct worker *w, struct epoll_event *ev, int n)
{
	struct ep *e = w->eng;
	struct ep_conn *c;
	uint64_t junk;
	int i;

	for (i = 0; i < n; i++) {
		if (ev[i].data.u64 == EP_TAG_WAKE) {
			if (read(w->evfd, &junk, sizeof(junk)) < 0 &&
			    errno != EAGAIN)
				perror("echo-load: eventfd");
			continue;
		}
		if (w->conns[ev[i].data.u64].fd < 0)
			continue;
		c = &e->c[ev[i].data.u64];
		if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			c->rd = true;
		if (ev[i].events & (EPOLLRDHUP | EPOLLHUP))
			c->hup = true;
		if (ev[i].events & (EPOLLOUT | EPOLLERR))
			c->wr = true;
		ep_enqueue(e, c);
	}
}

/* Service every connection queued before this call. */
static void ep_run_pending(struct worker *w)
{
	struct ep *e = w->eng;
	struct ep_conn *c = e->pend, *next;

	e->pend = NULL;
	e->pend_tail = &e->pend;
	for (; c; c = next) {
		next = c->next;
		c->queued = false;
		if (w->conns[ep_index(e, c)].fd >= 0)
			ep_service(w, c);
	}
}

static void ep_loop(struct worker *w)
{
	struct epoll_event ev[EP_EVENTS];
	struct ep *e = w->eng;
	struct pace_cursor pc;
	bool rate = worker_pace_init(w, &pc);
	uint64_t now, deadline;
	unsigned i;
	int n;

	for (i = 0; i < w->n; i++)
		ep_enqueue(e, &e->c[i]);
	while (worker_running(w)) {
		now = worker_now();
		deadline = rate ? worker_release(w, &pc, now, ep_due) : 0;
		n = ep_wait(w, ev, deadline, now);
		if (n < 0 && errno != EINTR) {
			w->res.err = -errno;
			perror("echo-load: epoll_wait");
			break;
		}
		ep_events(w, ev, n > 0 ? n : 0);
		ep_run_pending(w);
	}
}

/* Drain: read i to the server's EOF, verifying; 1 once i is closed. */
static int ep_drain_conn(struct worker *w, unsigned i)
{
	struct ep *e = w->eng;
	struct worker_conn *wc = &w->conns[i];
	ssize_t n;
	int rc;

	for (;;) {
		n = recv(wc->fd, e->rxbuf, WORKER_BUF, 0);
		if (n > 0) {
			rc = worker_echoed(w, i, e->rxbuf, (size_t)n, 0, true);
			if (!rc)
				continue;
			ep_fail(w, i, rc);
			return 1;
		}
		if (n == 0) {
			close(wc->fd);
			wc->fd = -1;
			return 1;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			e->c[i].rd = false;
			return 0;
		}
		if (errno != EINTR) {
			ep_fail(w, i, -errno);
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
static void ep_drain(struct worker *w)
{
	uint64_t end = worker_now() + WORKER_DRAIN_NS, now;
	struct epoll_event ev[EP_EVENTS];
	struct ep *e = w->eng;
	unsigned i, open;
	int n, k;

	/* Sending is over: forget the pending list (it would make every
	 * wait below return at once). */
	e->pend = NULL;
	e->pend_tail = &e->pend;
	open = worker_shut_writes(w, ep_fail);
	for (i = 0; i < w->n; i++)
		e->c[i].rd = w->conns[i].fd >= 0;
	while (open && (now = worker_now()) < end) {
		for (i = 0; i < w->n; i++) {
			if (w->conns[i].fd >= 0 && e->c[i].rd)
				open -= (unsigned)ep_drain_conn(w, i);
		}
		if (!open)
			break;
		n = ep_wait(w, ev, end, now);
		for (k = 0; k < n; k++) {
			if (ev[k].data.u64 != EP_TAG_WAKE)
				e->c[ev[k].data.u64].rd = true;
		}
	}
}

static void ep_destroy(struct worker *w)
{
	struct ep *e = w->eng;

	if (!e)
		return;
	if (e->epfd >= 0)
		close(e->epfd);
	free(e->c);
	free(e->txbuf);
	free(e->rxbuf);
	free(e);
	w->eng = NULL;
}

const struct worker_engine engine_epoll = {
	.name = "epoll",
	.init = ep_init,
	.loop = ep_loop,
	.drain = ep_drain,
	.destroy = ep_destroy,
};
