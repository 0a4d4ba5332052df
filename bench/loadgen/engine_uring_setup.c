// SPDX-License-Identifier: MIT
/*
 * engine_uring_setup.c - the io_uring engine's sizes and its probe: can
 * this kernel run it, and with what.
 *
 * Sizes are computed, not asked for: fixed per-thread budgets shared by
 * the thread's connections. The probe sets up and tears down a ring of its
 * own; it must leave nothing behind, and the engine's rings are made later
 * by each thread (engine_uring.c).
 */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bufring.h"
#include "engine.h"
#include "engine_uring.h"
#include "ring.h"

#define UR_SQ_MIN 64u
#define UR_SQ_MAX 4096u
#define UR_TX_BUDGET (16u << 20) /* send buffer bytes per thread */
#define UR_TX_MIN 4096u /* per connection, unless a message is smaller */
#define UR_RX_BUDGET (32u << 20) /* receive buffer bytes per thread */
#define UR_RX_MIN 2048u
#define UR_RX_MAX (64u * 1024u)
#define UR_BUFS_MIN 64u
#define UR_BUFS_MAX 4096u

static uint32_t ur_pow2(uint64_t v, uint32_t lo, uint32_t hi)
{
	uint32_t p = lo;

	while (p < hi && p < v)
		p *= 2;
	return p;
}

void engine_uring_sizes(const struct flow_cfg *cfg, unsigned n,
			struct engine_uring_size *s)
{
	uint64_t bound =
	    cfg->depth ? (uint64_t)cfg->depth * cfg->size : UINT64_MAX;
	uint64_t tx = UR_TX_BUDGET / (n ? n : 1), rx;

	/* Each connection sends at most what may be in flight at once. */
	if (tx < UR_TX_MIN)
		tx = UR_TX_MIN;
	if (tx > WORKER_BUF)
		tx = WORKER_BUF;
	if (tx > bound)
		tx = bound;
	s->txcap = (uint32_t)tx;
	/* A receive buffer holds what one connection has in flight (a
	 * message in rate mode), or a big chunk when streaming. */
	if (cfg->mode == FLOW_RATE)
		rx = cfg->size;
	else
		rx = bound;
	s->rx_size = ur_pow2(rx, UR_RX_MIN, UR_RX_MAX);
	/* Enough for every connection twice between two reaps. */
	s->rx_count = ur_pow2(2ull * n, UR_BUFS_MIN, UR_BUFS_MAX);
	while (s->rx_count > UR_BUFS_MIN &&
	       (uint64_t)s->rx_count * s->rx_size > UR_RX_BUDGET)
		s->rx_count /= 2;
	s->sq = ur_pow2((uint64_t)n + 8u, UR_SQ_MIN, UR_SQ_MAX);
}

/*
 * The probe's test: a multishot recv with a selected buffer (Linux 6.0)
 * over a socket pair must deliver a byte and stay armed. 0 or -errno.
 */
static int ur_probe_recv(struct io_uring *ring)
{
	struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	bool armed = true;
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_recv_multishot(sqe, sv[0], NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = ENGINE_URING_BGID;
	ret = write(sv[1], "x", 1) == 1 ? 0 : -errno;
	if (!ret)
		ret =
		    io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL);
	if (ret >= 0) {
		armed = cqe->flags & IORING_CQE_F_MORE;
		if (cqe->res < 0)
			ret = cqe->res;
		else if (cqe->res != 1 || !armed ||
			 !(cqe->flags & IORING_CQE_F_BUFFER))
			ret = -EOPNOTSUPP;
		else
			ret = 0;
		io_uring_cqe_seen(ring, cqe);
	}
	/* End the recv before its buffers go: its last CQE says EOF. */
	shutdown(sv[0], SHUT_RDWR);
	while (armed && !io_uring_wait_cqe_timeout(ring, &cqe, &ts)) {
		armed = cqe->flags & IORING_CQE_F_MORE;
		io_uring_cqe_seen(ring, cqe);
	}
	close(sv[0]);
	close(sv[1]);
	return ret;
}

/* The probe's ring: a buffer ring registered and a multishot recv that
 * works. 0, or -errno with the reason in msg. */
static int ur_probe_bufs(struct ring *r, char *msg, size_t len)
{
	struct bufring b;
	int ret;

	ret = bufring_setup(&b, 8, 64);
	if (!ret)
		ret = bufring_register(&b, &r->ring, ENGINE_URING_BGID);
	if (ret) {
		snprintf(msg, len,
			 "cannot register a provided-buffer ring (needs Linux "
			 "5.19): %s",
			 strerror(-ret));
		bufring_free(&b, &r->ring);
		return ret;
	}
	ret = ur_probe_recv(&r->ring);
	if (ret)
		snprintf(msg, len,
			 "multishot recv with a buffer ring failed (needs "
			 "Linux 6.0): %s",
			 strerror(-ret));
	bufring_free(&b, &r->ring);
	return ret;
}

int engine_uring_probe(const struct worker_run *run, char *msg, size_t len)
{
	static const uint8_t ops[] = {
		IORING_OP_SEND,
		IORING_OP_RECV,
		IORING_OP_POLL_ADD,
	};
	struct ring_config cfg = { .entries = 8,
				   .cq_entries = 32,
				   .sq_cpu = -1 };
	struct engine_uring_size sz;
	struct ring r;
	char names[160], why[256];
	int ret;

	ret = ring_init(&r, &cfg, why, sizeof(why));
	if (ret) {
		snprintf(msg, len,
			 "io_uring_setup: %s (check sysctl "
			 "kernel.io_uring_disabled and seccomp)",
			 strerror(-ret));
		return ret;
	}
	ret = ring_require(&r, ops, sizeof(ops), msg, len);
	if (!ret)
		ret = ur_probe_bufs(&r, msg, len);
	if (!ret) {
		engine_uring_sizes(&run->fcfg, run->thread_conns, &sz);
		ring_flags_text(r.flags, names, sizeof(names));
		snprintf(msg, len,
			 "uring (%s, multishot recv into a buffer ring; per "
			 "thread %u x %u B buffers, sends of up to %u B per "
			 "connection)",
			 names, sz.rx_count, sz.rx_size, sz.txcap);
	}
	ring_exit(&r);
	return ret;
}
