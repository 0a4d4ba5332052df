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
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"

#define UR_BGID 1 /* our one buffer group */
#define UR_SQ_MIN 64u
#define UR_SQ_MAX 4096u
#define UR_TX_BUDGET (16u << 20) /* send buffer bytes per thread */
#define UR_TX_MIN 4096u /* per connection, unless a message is smaller */
#define UR_RX_BUDGET (32u << 20) /* receive buffer bytes per thread */
#define UR_RX_MIN 2048u
#define UR_RX_MAX (64u * 1024u)
#define UR_BUFS_MIN 64u
#define UR_BUFS_MAX 4096u
#define UR_SETTLE_NS 200000000ull /* teardown: wait for the last CQEs */

/* user_data: what completed, in the high word; the connection below. */
enum ur_op {
	UR_OP_RECV = 1,
	UR_OP_SEND,
	UR_OP_WAKE, /* the poll on the worker's eventfd */
};
#define UR_UD(op, i) ((uint64_t)(op) << 32 | (uint32_t)(i))

/* Setup flags wanted, and the order they are dropped in on -EINVAL:
 * newest first, so an older kernel loses only what it lacks. */
#define UR_WANT                                                    \
	(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | \
	 IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE)
static const unsigned ur_fallback[] = {
	IORING_SETUP_DEFER_TASKRUN,
	IORING_SETUP_SINGLE_ISSUER,
	IORING_SETUP_COOP_TASKRUN,
	IORING_SETUP_SUBMIT_ALL,
};

static const struct {
	unsigned flag;
	const char *name;
} ur_flag_names[] = {
	{ IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER" },
	{ IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN" },
	{ IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN" },
	{ IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL" },
	{ IORING_SETUP_CQSIZE, "CQSIZE" },
};

/* The provided-buffer ring, mapped and registered by hand: liburing 2.3
 * lacks io_uring_setup_buf_ring. Buffers go back in batches. */
struct ur_bufs {
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	uint8_t *mem;
	size_t mem_bytes;
	uint32_t count; /* a power of two */
	uint32_t size;
	uint16_t pending; /* put since the last publish */
};

/* Sizes for a thread with n connections. */
struct ur_size {
	unsigned sq; /* SQ entries; the CQ has four times as many */
	uint32_t txcap; /* send buffer per connection */
	uint32_t rx_size, rx_count; /* the buffer ring */
};

struct ur_conn {
	uint8_t *tx; /* txcap bytes: the send in flight reads them */
	uint32_t send_off, send_len; /* the send in flight: tx[off, +len) */
	uint32_t commit_len; /* queued this iteration, not yet committed */
	bool recv_armed; /* a multishot recv is in the kernel */
	bool queued; /* on the send list */
};

struct ur {
	struct io_uring ring;
	bool ring_up;
	struct ur_size sz;
	struct ur_bufs bufs;
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
	struct flow_count junk; /* what the drain reads */
	int err; /* fatal for the thread, or 0 */
};

static uint32_t ur_pow2(uint64_t v, uint32_t lo, uint32_t hi)
{
	uint32_t p = lo;

	while (p < hi && p < v)
		p *= 2;
	return p;
}

static void ur_sizes(const struct flow_cfg *cfg, unsigned n, struct ur_size *s)
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

/* Set up ring with the best flags the kernel takes; *flags gets them. */
static int ur_ring_init(struct io_uring *ring, unsigned entries,
			unsigned *flags)
{
	struct io_uring_params p;
	unsigned want = UR_WANT;
	size_t i = 0, n = sizeof(ur_fallback) / sizeof(ur_fallback[0]);
	int ret;

	for (;;) {
		memset(&p, 0, sizeof(p));
		p.flags = want;
		p.cq_entries = 4 * entries;
		ret = io_uring_queue_init_params(entries, ring, &p);
		while (ret == -EINVAL && i < n && !(want & ur_fallback[i]))
			i++;
		if (ret != -EINVAL || i == n)
			break;
		want &= ~ur_fallback[i];
		/* Without DEFER_TASKRUN, COOP_TASKRUN at least spares us
		 * the interrupts that would run completions at any time. */
		if (ur_fallback[i] == IORING_SETUP_DEFER_TASKRUN)
			want |= IORING_SETUP_COOP_TASKRUN;
		i++;
	}
	*flags = want;
	return ret;
}

static void *ur_map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void ur_bufs_put(struct ur_bufs *b, uint16_t id)
{
	io_uring_buf_ring_add(b->br, b->mem + (size_t)id * b->size, b->size, id,
			      io_uring_buf_ring_mask(b->count), b->pending++);
}

/* Make every buffer put since the last call visible: one store. */
static void ur_bufs_publish(struct ur_bufs *b)
{
	if (!b->pending)
		return;
	io_uring_buf_ring_advance(b->br, b->pending);
	b->pending = 0;
}

static void ur_bufs_free(struct ur_bufs *b)
{
	if (b->mem)
		munmap(b->mem, b->mem_bytes);
	if (b->br)
		munmap(b->br, b->br_bytes);
	memset(b, 0, sizeof(*b));
}

/* Map count buffers of size bytes, register them as group UR_BGID and
 * offer them all. 0, -ENOMEM, or the registration's error (-EINVAL
 * before Linux 5.19). */
static int ur_bufs_setup(struct ur_bufs *b, struct io_uring *ring,
			 uint32_t count, uint32_t size)
{
	struct io_uring_buf_reg reg;
	uint32_t i;
	int ret;

	memset(b, 0, sizeof(*b));
	b->count = count;
	b->size = size;
	b->br_bytes = (size_t)count * sizeof(struct io_uring_buf);
	b->mem_bytes = (size_t)count * size;
	b->br = ur_map(b->br_bytes);
	b->mem = ur_map(b->mem_bytes);
	if (!b->br || !b->mem) {
		ur_bufs_free(b);
		return -ENOMEM;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)b->br;
	reg.ring_entries = count;
	reg.bgid = UR_BGID;
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret) {
		ur_bufs_free(b);
		return ret;
	}
	io_uring_buf_ring_init(b->br);
	for (i = 0; i < count; i++)
		ur_bufs_put(b, (uint16_t)i);
	ur_bufs_publish(b);
	return 0;
}

static int ur_describe_flags(unsigned flags, char *buf, size_t len)
{
	size_t i, used = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < sizeof(ur_flag_names) / sizeof(ur_flag_names[0]); i++) {
		if (!(flags & ur_flag_names[i].flag))
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? "|" : "",
			     ur_flag_names[i].name);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	return (int)used;
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
	sqe->buf_group = UR_BGID;
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

static int ur_probe(const struct worker_run *run, char *msg, size_t len)
{
	struct io_uring_probe *probe;
	struct ur_size sz;
	struct io_uring ring;
	struct ur_bufs b;
	unsigned flags;
	char names[128];
	int ret;

	ret = ur_ring_init(&ring, 8, &flags);
	if (ret) {
		snprintf(msg, len,
			 "io_uring_setup: %s (check sysctl "
			 "kernel.io_uring_disabled and seccomp)",
			 strerror(-ret));
		return ret;
	}
	probe = io_uring_get_probe_ring(&ring);
	if (!probe || !io_uring_opcode_supported(probe, IORING_OP_SEND) ||
	    !io_uring_opcode_supported(probe, IORING_OP_RECV) ||
	    !io_uring_opcode_supported(probe, IORING_OP_POLL_ADD)) {
		snprintf(msg, len,
			 "io_uring lacks send, recv or poll (needs "
			 "Linux 5.6)");
		ret = -EOPNOTSUPP;
		goto out_probe;
	}
	ret = ur_bufs_setup(&b, &ring, 8, 64);
	if (ret) {
		snprintf(msg, len,
			 "cannot register a provided-buffer ring (needs Linux "
			 "5.19): %s",
			 strerror(-ret));
		goto out_probe;
	}
	ret = ur_probe_recv(&ring);
	if (ret)
		snprintf(msg, len,
			 "multishot recv with a buffer ring failed (needs "
			 "Linux 6.0): %s",
			 strerror(-ret));
	io_uring_unregister_buf_ring(&ring, UR_BGID);
	ur_bufs_free(&b);
	if (!ret) {
		ur_sizes(&run->fcfg, run->thread_conns, &sz);
		ur_describe_flags(flags, names, sizeof(names));
		snprintf(msg, len,
			 "uring (%s, multishot recv into a buffer ring; per "
			 "thread %u x %u B buffers, sends of up to %u B per "
			 "connection)",
			 names, sz.rx_count, sz.rx_size, sz.txcap);
	}
out_probe:
	if (probe)
		io_uring_free_probe(probe);
	io_uring_queue_exit(&ring);
	return ret;
}

static int ur_init(struct worker *w)
{
	struct ur *u = calloc(1, sizeof(*u));
	unsigned i;

	if (!u)
		return -ENOMEM;
	w->eng = u;
	u->live = w->n;
	ur_sizes(&w->run->fcfg, w->n, &u->sz);
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
	unsigned flags;
	int ret;

	ret = ur_ring_init(&u->ring, u->sz.sq, &flags);
	if (ret) {
		fprintf(stderr,
			"echo-load: thread %u: cannot set up the io_uring "
			"(%u entries): %s%s\n",
			w->id, u->sz.sq, strerror(-ret),
			ret == -ENOMEM ? " (RLIMIT_MEMLOCK? see ulimit -l)"
				       : "");
		return ret;
	}
	ret = ur_bufs_setup(&u->bufs, &u->ring, u->sz.rx_count, u->sz.rx_size);
	if (ret) {
		fprintf(stderr,
			"echo-load: thread %u: cannot register %u receive "
			"buffers of %u B: %s\n",
			w->id, u->sz.rx_count, u->sz.rx_size, strerror(-ret));
		io_uring_queue_exit(&u->ring);
		return ret;
	}
	/* Enter by registered index: skips the fd lookup on every enter. */
	io_uring_register_ring_fd(&u->ring);
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
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	int ret;

	if (sqe || u->err)
		return sqe;
	ur_bufs_publish(&u->bufs);
	ur_commit(w, worker_now());
	ret = io_uring_submit(&u->ring);
	if (ret < 0) {
		ur_fatal(w, "io_uring_submit", ret);
		return NULL;
	}
	return io_uring_get_sqe(&u->ring);
}

static void ur_arm_recv(struct worker *w, unsigned i)
{
	struct ur *u = w->eng;
	struct io_uring_sqe *sqe = ur_sqe(w);

	if (!sqe)
		return;
	io_uring_prep_recv_multishot(sqe, w->conns[i].fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = UR_BGID;
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
		if (res > 0 && wc->fd >= 0)
			rc = flow_rx(
			    &wc->f, u->bufs.mem + (size_t)bid * u->bufs.size,
			    (size_t)res, now, u->draining ? NULL : &w->hist,
			    u->draining ? &u->junk : &w->res.fc);
		ur_bufs_put(&u->bufs, bid);
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

	io_uring_for_each_cqe(&u->ring, head, cqe)
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
	io_uring_cq_advance(&u->ring, n);
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

	ur_bufs_publish(&u->bufs);
	now = worker_now();
	ur_commit(w, now);
	if (deadline) {
		ns = deadline > now ? deadline - now : 0;
		ts.tv_sec = (long long)(ns / 1000000000ull);
		ts.tv_nsec = (long long)(ns % 1000000000ull);
		ret = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts,
						       NULL);
	} else {
		ret = io_uring_submit_and_wait(&u->ring, 1);
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
	struct worker_run *run = w->run;
	bool rate = run->fcfg.mode == FLOW_RATE && w->n;
	struct pace_cursor pc;
	uint64_t deadline;
	unsigned i;

	if (rate)
		pace_cursor_init(&pc, &run->pace, w->first, w->first + w->n);
	ur_arm_wake(w);
	for (i = 0; i < w->n; i++) {
		ur_arm_recv(w, i);
		ur_queue(w, i);
	}
	while (!u->err && worker_running(w)) {
		deadline = 0;
		if (rate) {
			worker_release(w, &pc, worker_now(), ur_due);
			deadline = pace_cursor_time(&pc);
		}
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
	unsigned i;

	u->draining = true;
	u->nsendq = 0;
	for (i = 0; i < w->n; i++) {
		if (w->conns[i].fd >= 0 && shutdown(w->conns[i].fd, SHUT_WR))
			ur_fail(w, i, -errno);
	}
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
	io_uring_unregister_buf_ring(&u->ring, UR_BGID);
	io_uring_queue_exit(&u->ring);
	u->ring_up = false;
}

static void ur_destroy(struct worker *w)
{
	struct ur *u = w->eng;

	if (!u)
		return;
	ur_bufs_free(&u->bufs);
	free(u->c);
	free(u->sendq);
	free(u->commit);
	free(u->txmem);
	free(u);
	w->eng = NULL;
}

const struct worker_engine engine_uring = {
	.name = "uring",
	.probe = ur_probe,
	.init = ur_init,
	.start = ur_start,
	.loop = ur_loop,
	.drain = ur_drain,
	.stop = ur_stop,
	.destroy = ur_destroy,
};
