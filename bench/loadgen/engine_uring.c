// SPDX-License-Identifier: MIT
/*
 * engine_uring.c - the io_uring engine: one ring per thread, a multishot
 * recv per connection into a provided-buffer ring, the sends of a whole
 * loop iteration issued by one io_uring_enter that also waits.
 *
 * Only translates between completions and flow.c. One send in flight per
 * connection, so bytes cannot overtake each other; its bytes are committed
 * to the flow just before the enter that issues them, with one clock read
 * for the batch, so an echo can never arrive ahead of its own commit.
 *
 * The ring's setup with flag fallback and the provided-buffer ring are
 * uring-echo's (uring/ring.c, uring/bufring.c, linked as a library). Its
 * submission and wait stay here: ring_sqe and ring_wait do not commit the
 * queued sends before an enter, and time out in ms, where the rate mode's
 * schedule needs ns.
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bufring.h"
#include "engine.h"
#include "engine_uring.h"
#include "ring.h"

#define UR_SETTLE_NS 200000000ull /* teardown: wait for the last CQEs */

/* user_data: what completed, in the high word; the connection below. */
enum ur_op {
	UR_OP_RECV = 1,
	UR_OP_SEND,
	UR_OP_WAKE, /* the poll on the worker's eventfd */
};
#define UR_UD(op, i) ((uint64_t)(op) << 32 | (uint32_t)(i))

struct ur_conn {
	uint8_t *tx; /* txcap bytes: the send in flight reads them */
	uint32_t send_off, send_len; /* the send in flight: tx[off, +len) */
	uint32_t commit_len; /* queued this iteration, not yet committed */
	bool recv_armed; /* a multishot recv is in the kernel */
	bool queued; /* on the send list */
};

struct ur {
	struct ring ring;
	bool ring_up;
	struct engine_uring_size sz;
	struct bufring bufs;
	struct ur_conn *c; /* parallel to w->conns */
	uint8_t *txmem;
	uint32_t *sendq; /* connections that may have bytes to send */
	unsigned nsendq;
	uint32_t *commit; /* sends queued, to commit before the enter */
	unsigned ncommit;
	unsigned inflight; /* requests the kernel holds */
	unsigned live; /* connections still open */
	bool wake_armed;
	bool draining; /* echoes verified, not counted; no more sends */
	bool stopping; /* teardown: let everything complete */
	int err; /* fatal for the thread, or 0 */
};

static int ur_init(struct worker *w)
{
	struct ur *u = calloc(1, sizeof(*u));
	unsigned i;

	if (!u)
		return -ENOMEM;
	w->eng = u;
	u->live = w->n;
	engine_uring_sizes(&w->run->fcfg, w->n, &u->sz);
	u->c = calloc(w->n ? w->n : 1, sizeof(*u->c));
	u->sendq = calloc(w->n ? w->n : 1, sizeof(*u->sendq));
	u->commit = calloc(w->n ? w->n : 1, sizeof(*u->commit));
	u->txmem = malloc((size_t)(w->n ? w->n : 1) * u->sz.txcap);
	if (!u->c || !u->sendq || !u->commit || !u->txmem)
		return -ENOMEM;
	for (i = 0; i < w->n; i++)
		u->c[i].tx = u->txmem + (size_t)i * u->sz.txcap;
	return 0;
}

/* In the thread: SINGLE_ISSUER ties the ring to the task that made it. */
static int ur_start(struct worker *w)
{
	struct ur *u = w->eng;
	struct ring_config cfg = {
		.entries = u->sz.sq,
		.cq_entries = 4 * u->sz.sq,
		.sq_cpu = -1,
	};
	char why[256];
	int ret;

	/* ring_init registers the ring fd: every enter skips its lookup. */
	ret = ring_init(&u->ring, &cfg, why, sizeof(why));
	if (ret) {
		fprintf(stderr,
			"echo-load: thread %u: cannot set up the io_uring "
			"(%u entries): %s%s\n",
			w->id, u->sz.sq, strerror(-ret),
			ret == -ENOMEM ? " (RLIMIT_MEMLOCK? see ulimit -l)"
				       : "");
		return ret;
	}
	ret = bufring_setup(&u->bufs, u->sz.rx_count, u->sz.rx_size);
	if (!ret)
		ret = bufring_register(&u->bufs, &u->ring.ring,
				       ENGINE_URING_BGID);
	if (ret) {
		fprintf(stderr,
			"echo-load: thread %u: cannot register %u receive "
			"buffers of %u B: %s\n",
			w->id, u->sz.rx_count, u->sz.rx_size, strerror(-ret));
		bufring_free(&u->bufs, &u->ring.ring);
		ring_exit(&u->ring);
		return ret;
	}
	u->ring_up = true;
	return 0;
}

/* Commit every send queued since the last enter, as started at now. */
static void ur_commit(struct worker *w, uint64_t now)
{
	struct ur *u = w->eng;
	uint32_t i;
	unsigned k;

	for (k = 0; k < u->ncommit; k++) {
		i = u->commit[k];
		flow_tx_commit(&w->conns[i].f, u->c[i].commit_len, now);
		u->c[i].commit_len = 0;
	}
	u->ncommit = 0;
}

static void ur_fatal(struct worker *w, const char *what, int err)
{
	struct ur *u = w->eng;

	if (u->err)
		return;
	u->err = err;
	w->res.err = err;
	fprintf(stderr, "echo-load: thread %u: %s: %s\n", w->id, what,
		strerror(-err));
}

/* A free SQE. When the SQ is full, what is queued is committed and
 * submitted first. NULL only after a fatal submit error. */
static struct io_uring_sqe *ur_sqe(struct worker *w)
{
	struct ur *u = w->eng;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring.ring);
	int ret;

	if (sqe || u->err)
		return sqe;
	bufring_publish(&u->bufs);
	ur_commit(w, worker_now());
	ret = io_uring_submit(&u->ring.ring);
	if (ret < 0) {
		ur_fatal(w, "io_uring_submit", ret);
		return NULL;
	}
	return io_uring_get_sqe(&u->ring.ring);
}

static void ur_arm_recv(struct worker *w, unsigned i)
{
	struct ur *u = w->eng;
	struct io_uring_sqe *sqe = ur_sqe(w);

	if (!sqe)
		return;
	io_uring_prep_recv_multishot(sqe, w->conns[i].fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = ENGINE_URING_BGID;
	io_uring_sqe_set_data64(sqe, UR_UD(UR_OP_RECV, i));
	u->c[i].recv_armed = true;
	u->inflight++;
}

static void ur_arm_wake(struct worker *w)
{
	struct ur *u = w->eng;
	struct io_uring_sqe *sqe = ur_sqe(w);

	if (!sqe)
		return;
	io_uring_prep_poll_add(sqe, w->evfd, POLLIN);
	io_uring_sqe_set_data64(sqe, UR_UD(UR_OP_WAKE, 0));
	u->wake_armed = true;
	u->inflight++;
}

/* Send tx[off, off + len) of connection i: all of it, or an error. */
static void ur_send(struct worker *w, unsigned i, uint32_t off, uint32_t len)
{
	struct ur *u = w->eng;
	struct io_uring_sqe *sqe = ur_sqe(w);
	struct ur_conn *c = &u->c[i];

	if (!sqe)
		return;
	io_uring_prep_send(sqe, w->conns[i].fd, c->tx + off, len,
			   MSG_WAITALL | MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, UR_UD(UR_OP_SEND, i));
	c->send_off = off;
	c->send_len = len;
	u->inflight++;
}

/* Connection i may have bytes to send: look at it before the next enter. */
static void ur_queue(struct worker *w, unsigned i)
{
	struct ur *u = w->eng;

	if (u->c[i].queued || u->draining)
		return;
	u->c[i].queued = true;
	u->sendq[u->nsendq++] = i;
}

/* Send what each queued connection may send now, unless it has a send in
 * flight (its completion queues it again). */
static void ur_send_queued(struct worker *w)
{
	struct ur *u = w->eng;
	struct ur_conn *c;
	unsigned k, i;
	size_t n;

	for (k = 0; k < u->nsendq && !u->err; k++) {
		i = u->sendq[k];
		c = &u->c[i];
		c->queued = false;
		if (w->conns[i].fd < 0 || c->send_len ||
		    !flow_tx_avail(&w->conns[i].f))
			continue;
		n = flow_tx_fill(&w->conns[i].f, c->tx, u->sz.txcap);
		ur_send(w, i, 0, (uint32_t)n);
		if (!c->send_len)
			continue;
		c->commit_len = (uint32_t)n;
		u->commit[u->ncommit++] = i;
	}
	u->nsendq = 0;
}

/*
 * Close connection i after an error. Shut it first: that ends its armed
 * recv and any send in flight (their late completions find fd < 0 and are
 * dropped), and the server sees the close now, not at our exit.
 */
static void ur_fail(struct worker *w, unsigned i, int err)
{
	struct ur *u = w->eng;

	shutdown(w->conns[i].fd, SHUT_RDWR);
	worker_fail(w, i, err);
	u->live--;
}

static void ur_sent(struct worker *w, unsigned i, int res)
{
	struct ur *u = w->eng;
	struct ur_conn *c = &u->c[i];
	uint32_t off = c->send_off, len = c->send_len;

	c->send_len = 0;
	u->inflight--;
	if (w->conns[i].fd < 0 || u->draining)
		return;
	if (res <= 0) {
		ur_fail(w, i, res < 0 ? res : -EPIPE);
		return;
	}
	/* MSG_WAITALL sends everything unless the socket fails meanwhile;
	 * older kernels may stop short: send the rest, already committed. */
	if ((uint32_t)res < len) {
		ur_send(w, i, off + (uint32_t)res, len - (uint32_t)res);
		return;
	}
	ur_queue(w, i);
}

/* Drain: connection i reached the server's EOF, all echoes verified. */
static void ur_close(struct worker *w, unsigned i)
{
	struct ur *u = w->eng;

	close(w->conns[i].fd);
	w->conns[i].fd = -1;
	u->live--;
}

static void ur_received(struct worker *w, unsigned i,
			const struct io_uring_cqe *cqe, uint64_t now)
{
	struct ur *u = w->eng;
	struct worker_conn *wc = &w->conns[i];
	bool more = cqe->flags & IORING_CQE_F_MORE;
	uint16_t bid;
	int res = cqe->res, rc = 0;

	if (!more) {
		u->c[i].recv_armed = false;
		u->inflight--;
	}
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		bufring_taken(&u->bufs);
		if (res > 0 && wc->fd >= 0)
			rc = worker_echoed(
			    w, i, u->bufs.mem + (size_t)bid * u->bufs.size,
			    (size_t)res, now, u->draining);
		bufring_put(&u->bufs, bid);
	}
	if (wc->fd < 0)
		return;
	if (rc) {
		ur_fail(w, i, rc);
	} else if (res > 0) {
		/* Its echoes may let it send more (closed loop). */
		ur_queue(w, i);
		if (!more)
			ur_arm_recv(w, i);
	} else if (res == -ENOBUFS) {
		/* The pool ran dry between two reaps; the buffers put back
		 * this round are published before the re-armed recv goes. */
		ur_arm_recv(w, i);
	} else if (res == 0 && u->draining) {
		ur_close(w, i);
	} else {
		ur_fail(w, i, res == 0 ? -EPIPE : res);
	}
}

static void ur_woken(struct worker *w)
{
	struct ur *u = w->eng;
	uint64_t junk;

	u->wake_armed = false;
	u->inflight--;
	if (read(w->evfd, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
		perror("echo-load: eventfd");
	if (!u->stopping)
		ur_arm_wake(w);
}

/* Handle every CQE there is; one clock read (now) for all of them. */
static void ur_reap(struct worker *w, uint64_t now)
{
	struct ur *u = w->eng;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	uint32_t i;

	io_uring_for_each_cqe(&u->ring.ring, head, cqe)
	{
		i = (uint32_t)cqe->user_data;
		switch (cqe->user_data >> 32) {
		case UR_OP_RECV:
			ur_received(w, i, cqe, now);
			break;
		case UR_OP_SEND:
			ur_sent(w, i, cqe->res);
			break;
		case UR_OP_WAKE:
			ur_woken(w);
			break;
		}
		n++;
	}
	io_uring_cq_advance(&u->ring.ring, n);
}

/*
 * One iteration's kernel crossing: publish the buffers put back, commit
 * the queued sends, then submit them and wait for a completion (or the
 * deadline, 0: none) in one io_uring_enter, and handle what came.
 */
static void ur_enter(struct worker *w, uint64_t deadline)
{
	struct ur *u = w->eng;
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	uint64_t now, ns;
	int ret;

	bufring_publish(&u->bufs);
	now = worker_now();
	ur_commit(w, now);
	if (deadline) {
		ns = deadline > now ? deadline - now : 0;
		ts.tv_sec = (long long)(ns / 1000000000ull);
		ts.tv_nsec = (long long)(ns % 1000000000ull);
		ret = io_uring_submit_and_wait_timeout(&u->ring.ring, &cqe, 1,
						       &ts, NULL);
	} else {
		ret = io_uring_submit_and_wait(&u->ring.ring, 1);
	}
	/* Timeouts, signals and a busy CQ are harmless: reap, go on. */
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY &&
	    ret != -EAGAIN) {
		ur_fatal(w, "io_uring_enter", ret);
		return;
	}
	ur_reap(w, worker_now());
}

static void ur_due(struct worker *w, unsigned i)
{
	ur_queue(w, i);
}

static void ur_loop(struct worker *w)
{
	struct ur *u = w->eng;
	struct pace_cursor pc;
	bool rate = worker_pace_init(w, &pc);
	uint64_t deadline;
	unsigned i;

	ur_arm_wake(w);
	for (i = 0; i < w->n; i++) {
		ur_arm_recv(w, i);
		ur_queue(w, i);
	}
	while (!u->err && worker_running(w)) {
		deadline =
		    rate ? worker_release(w, &pc, worker_now(), ur_due) : 0;
		ur_send_queued(w);
		ur_enter(w, deadline);
	}
}

/*
 * After the measured interval: shut our write sides and read the echoes
 * still in flight up to each server EOF (verified, not counted), so the
 * server sees orderly closes. Bounded by WORKER_DRAIN_NS; connections
 * still open then are closed by worker_destroy.
 */
static void ur_drain(struct worker *w)
{
	struct ur *u = w->eng;
	uint64_t end = worker_now() + WORKER_DRAIN_NS;

	u->draining = true;
	u->nsendq = 0;
	worker_shut_writes(w, ur_fail);
	while (u->live && !u->err && worker_now() < end)
		ur_enter(w, end);
}

/*
 * Tear the ring down with nothing in flight: the kernel must be done with
 * our buffers before they are unmapped. The connections still open (the
 * drain timed out) are shut, which ends their recvs and sends, and closed
 * uncounted, as the epoll engine leaves them; a self-wake ends the poll.
 */
static void ur_stop(struct worker *w)
{
	struct ur *u = w->eng;
	uint64_t end;
	unsigned i;

	if (!u || !u->ring_up)
		return;
	u->draining = true;
	u->stopping = true;
	for (i = 0; i < w->n; i++) {
		if (w->conns[i].fd < 0)
			continue;
		shutdown(w->conns[i].fd, SHUT_RDWR);
		ur_close(w, i);
	}
	if (u->wake_armed)
		worker_wake(w);
	end = worker_now() + UR_SETTLE_NS;
	while (u->inflight && !u->err && worker_now() < end)
		ur_enter(w, end);
	/* The ring first: its end takes the registration and whatever did
	 * not settle with it, before the buffers are unmapped. */
	ring_exit(&u->ring);
	bufring_free(&u->bufs, NULL);
	u->ring_up = false;
}

static void ur_destroy(struct worker *w)
{
	struct ur *u = w->eng;

	if (!u)
		return;
	bufring_free(&u->bufs, NULL); /* unless ur_stop did */
	free(u->c);
	free(u->sendq);
	free(u->commit);
	free(u->txmem);
	free(u);
	w->eng = NULL;
}

const struct worker_engine engine_uring = {
	.name = "uring",
	.probe = engine_uring_probe,
	.init = ur_init,
	.start = ur_start,
	.loop = ur_loop,
	.drain = ur_drain,
	.stop = ur_stop,
	.destroy = ur_destroy,
};
