// SPDX-License-Identifier: MIT
/*
 * loop.c - the completion loop behind uring-echo: iteration, dispatch,
 * drive and close.
 *
 * Lends the core's windows (common/conn.c) to the kernel, recv into and
 * send from, and on each completion commits what happened and asks the
 * core what next. A connection is freed only once none of its requests is
 * in flight: cancel, wait for every completion (a zero-copy send's
 * notification included), then close. How accepts and receives are armed
 * is the mode's (mode_*.c, reached through struct uring_mode only); how
 * each SQE is shaped by the feature flags is prep.c's.
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "loop_int.h"
#include "ud.h"

#define LOOP_STOP_MS 500 /* longest wait for cancelled requests at stop */

void loop_refresh_stats(struct serve *sv)
{
	/* sv is the loop's first member. */
	struct loop *l = (struct loop *)sv;

	/* Held by connections or named by completions not yet handled: 0
	 * once every connection is closed, whatever happened to them (and
	 * 0 without provided buffers: the ring is zeroed). */
	l->sv.st.pbufs_out = l->br.count - l->br.avail - l->br.pending;
	l->sv.st.waits = l->r.enters;
	l->sv.st.sq_wakeups = l->r.wakeups;
	l->sv.st.sq_full = l->r.sq_full;
	l->sv.st.submit_busy = l->r.busy;
	l->sv.st.cq_overflow = l->r.cq_backlog;
}

struct io_uring_sqe *loop_sqe(struct loop *l)
{
	struct io_uring_sqe *sqe = ring_sqe(&l->r);

	if (sqe)
		l->inflight++;
	return sqe;
}

bool loop_cancel(struct loop *l, uint64_t target, uint64_t ud, unsigned flags)
{
	struct io_uring_sqe *sqe = loop_sqe(l);

	if (!sqe)
		return false;
	io_uring_prep_cancel64(sqe, target, (int)flags);
	io_uring_sqe_set_data64(sqe, ud);
	l->sv.st.cancels++;
	return true;
}

static void loop_close_end(struct loop *l, struct uring_conn *u)
{
	/* Bytes never echoed: what they are held in goes back. */
	l->mode->drop_held(l, u);
	/* A direct descriptor was closed by its own request (loop_close). */
	if (!l->prep.fixed)
		close(u->fd);
	/* A slot is free again: resume accepting if the limit paused it. */
	if (serve_close(&l->sv, &u->slot))
		l->mode->arm_accept(l);
}

void loop_drop_fd(struct loop *l, int fd)
{
	struct io_uring_sqe *sqe;

	if (!l->prep.fixed) {
		close(fd);
		return;
	}
	/* NULL: the ring is broken, and its teardown empties the table. */
	sqe = loop_sqe(l);
	if (!sqe)
		return;
	prep_close(&l->prep, sqe, fd);
	io_uring_sqe_set_data64(sqe, ud_pack(UD_DROP, 0));
}

/* Once per recv (see ST_RECV_STOP). */
void loop_stop_recv(struct loop *l, struct uring_conn *u)
{
	uint64_t h = uconn_handle(l, u);

	if (!(u->reqs & REQ_RECV) || (u->state & ST_RECV_STOP))
		return;
	if (loop_cancel(l, ud_pack(UD_RECV, h), ud_pack(UD_CANCEL_RECV, h),
			0)) {
		u->reqs |= REQ_RECV_CANCEL;
		u->state |= ST_RECV_STOP;
	}
}

/* Closing starts: cancel what is in flight (a zero-copy send past its
 * result cannot be cancelled: abort the connection instead). */
static void loop_cancel_all(struct loop *l, struct uring_conn *u)
{
	uint64_t h = uconn_handle(l, u);

	u->state |= ST_CLOSING;
	loop_stop_recv(l, u);
	if ((u->reqs & REQ_SEND) && !(u->reqs & REQ_ZC_NOTIF) &&
	    loop_cancel(l, ud_pack(UD_SEND, h), ud_pack(UD_CANCEL_SEND, h), 0))
		u->reqs |= REQ_SEND_CANCEL;
	if (u->reqs & REQ_ZC_NOTIF)
		req_abort(l, u);
}

/* Start closing u: cancel what is in flight; the last completion closes. */
static void loop_close(struct loop *l, struct uring_conn *u)
{
	struct io_uring_sqe *sqe;

	if (!uconn_closing(u))
		loop_cancel_all(l, u);
	if (uconn_busy(u) || (u->reqs & REQ_FD_CLOSE))
		return;
	/* A direct descriptor is closed by a request of its own; the slot is
	 * freed at its completion, so the table slot and the pool slot are
	 * given back together. */
	if (l->prep.fixed && (sqe = loop_sqe(l))) {
		prep_close(&l->prep, sqe, u->fd);
		io_uring_sqe_set_data64(sqe,
					ud_pack(UD_CLOSE, uconn_handle(l, u)));
		u->reqs |= REQ_FD_CLOSE;
		return;
	}
	loop_close_end(l, u);
}

void loop_drive(struct loop *l, struct uring_conn *u)
{
	struct conn *c = uconn_core(u);
	unsigned w;

	if (uconn_closing(u)) {
		loop_close(l, u);
		return;
	}
	w = conn_wants(c);
	/* At the per-connection cap with a recv that stays armed: stop it
	 * (what still arrives before the cancel lands is kept; the cap
	 * bounds it). A recv into the own ring is bounded by its window. */
	if (!(w & CONN_WANT_READ) && uconn_recv_multishot(u))
		loop_stop_recv(l, u);
	/* A send waits for the batch's end (req_send_later), unless this
	 * is that end (req_flush_sends drives each connection it names). */
	if ((w & CONN_WANT_WRITE) && !(u->reqs & REQ_SEND)) {
		if (l->tx_flushing)
			req_send(l, u);
		else if (!(u->state & ST_SEND_WANTED))
			req_send_later(l, u);
	}
	if ((w & CONN_WANT_READ) && !(u->reqs & REQ_RECV))
		l->mode->arm_recv(l, u);
	if ((w & CONN_WANT_SHUT) && !(u->reqs & (REQ_SEND | REQ_SHUT)))
		req_shutdown(l, u);
	if (!conn_wants(c))
		loop_close(l, u);
}

void loop_io_error(struct loop *l, struct uring_conn *u, int res)
{
	/* Cancelled by us, or failing anyway while we close: not news. */
	if (uconn_closing(u))
		return;
	/* Nothing done: loop_drive submits it again. */
	if (res == -EINTR || res == -EAGAIN) {
		l->sv.st.eagain++;
		return;
	}
	conn_fail(uconn_core(u), res);
}

void loop_add_conn(struct loop *l, int fd)
{
	struct uring_conn *u;

	if (l->sv.lstate == SERVE_LISTEN_OFF) {
		loop_drop_fd(l, fd);
		return;
	}
	u = (struct uring_conn *)serve_open(&l->sv);
	if (!u) {
		loop_drop_fd(l, fd);
		return;
	}
	u->fd = fd;
	serve_opened(&l->sv);
	loop_drive(l, u);
}

bool loop_accept_error(struct loop *l, int res)
{
	/* Our own cancel (stop, or a multishot accept near the limit). */
	if (res == -ECANCELED)
		return l->sv.lstate != SERVE_LISTEN_OFF;
	return serve_accept_failed(&l->sv, res);
}

/* --- signals, timers, the completion batch -------------------------- */

void loop_arm_signal(struct loop *l)
{
	uint64_t ud = ud_pack(UD_SIGNAL, 0);
	struct io_uring_sqe *sqe = loop_sqe(l);

	if (!sqe)
		return;
	/* A poll, not a read: the pipe is O_NONBLOCK, and a read on it would
	 * complete at once with -EAGAIN instead of waiting. */
	io_uring_prep_poll_add(sqe, l->sv.sfd, POLLIN);
	io_uring_sqe_set_data64(sqe, ud);
	l->sig_armed = true;
}

static void loop_on_signal(struct loop *l)
{
	l->sig_armed = false;
	if (l->stopping)
		return;
	if (serve_signals(&l->sv)) {
		l->stopping = true;
		return;
	}
	loop_arm_signal(l);
}

/* A stale completion (none arrives: a slot is freed only after its last
 * one, and the tests hold stale at 0) may still name provided buffers the
 * kernel took: give them back rather than lose them from the ring. */
static void loop_stale_bufs(struct loop *l, const struct loop_cqe *c)
{
	struct bufring_take t;
	uint32_t len;
	uint16_t id;
	uint8_t *p;
	int ret;

	if (!(c->flags & IORING_CQE_F_BUFFER))
		return;
	bufring_take_init(&t, (uint16_t)(c->flags >> IORING_CQE_BUFFER_SHIFT),
			  c->res, c->flags);
	while ((ret = bufring_take_next(&l->br, &t, &id, &p, &len)) != 0)
		if (ret > 0)
			bufring_release(&l->br, id);
}

/* A completion of a connection's request (u is live). */
static void loop_on_conn_cqe(struct loop *l, struct uring_conn *u,
			     enum ud_op op, const struct loop_cqe *c)
{
	switch (op) {
	case UD_RECV:
		l->mode->on_recv(l, u, c->res, c->flags);
		break;
	case UD_SEND:
		req_on_send(l, u, c->res, c->flags);
		break;
	case UD_SHUT:
		req_on_shut(l, u, c->res);
		break;
	case UD_ABORT:
		u->reqs &= ~REQ_ABORT;
		loop_drive(l, u);
		break;
	case UD_CLOSE:
		u->reqs &= ~REQ_FD_CLOSE;
		loop_close_end(l, u);
		break;
	case UD_CANCEL_RECV:
		/* 0, -ENOENT (already done) or -EALREADY (finishing): the
		 * recv's own completion comes, or came, either way; until it
		 * does, ST_RECV_STOP keeps another cancel from going out. */
		u->reqs &= ~REQ_RECV_CANCEL;
		loop_drive(l, u);
		break;
	case UD_CANCEL_SEND:
		u->reqs &= ~REQ_SEND_CANCEL;
		loop_drive(l, u);
		break;
	default:
		l->sv.st.stale++;
		break;
	}
}

/* Decode one completion's user_data and hand it to its handler. */
static void loop_on_cqe(struct loop *l, const struct loop_cqe *c)
{
	enum ud_op op = ud_op(c->ud);
	struct uring_conn *u;

	/* liburing's own wait timeout, used only without IORING_FEAT_EXT_ARG. */
	if (c->ud == LIBURING_UDATA_TIMEOUT)
		return;
	/* A multishot request stays in flight while it says "more". */
	if (!(c->flags & IORING_CQE_F_MORE))
		l->inflight--;
	switch (op) {
	case UD_ACCEPT:
		l->mode->on_accept(l, c->res, c->flags);
		return;
	case UD_SIGNAL:
		loop_on_signal(l);
		return;
	case UD_CANCEL:
	case UD_DROP:
		return;
	default:
		break;
	}
	u = (struct uring_conn *)pool_lookup(&l->sv.pool, ud_handle(c->ud));
	if (!u) {
		l->sv.st.stale++;
		loop_stale_bufs(l, c);
		return;
	}
	loop_on_conn_cqe(l, u, op, c);
}

void loop_reap(void *ctx)
{
	struct loop *l = ctx;
	struct io_uring_cqe *cqe;
	struct loop_cqe *grown;
	unsigned head, n = 0;

	/* It only copies, so no handler ever runs re-entered. */
	io_uring_for_each_cqe(&l->r.ring, head, cqe)
	{
		if (l->ncqe == l->cqe_cap) {
			/* Leave the rest on the CQ if memory runs out. */
			grown = alloc_realloc(l->cqes,
					      2 * sizeof(*grown) * l->cqe_cap);
			if (!grown)
				break;
			l->cqes = grown;
			l->cqe_cap *= 2;
		}
		l->cqes[l->ncqe].ud = cqe->user_data;
		l->cqes[l->ncqe].res = cqe->res;
		l->cqes[l->ncqe].flags = cqe->flags;
		l->ncqe++;
		n++;
	}
	io_uring_cq_advance(&l->r.ring, n);
	ring_note_overflow(&l->r);
	l->sv.st.wait_events += n;
}

/* Handle the batch; handlers may append to it (through the reap hook). */
static void loop_dispatch(struct loop *l)
{
	struct loop_cqe c;
	uint32_t i;

	for (i = 0; i < l->ncqe; i++) {
		c = l->cqes[i];
		loop_on_cqe(l, &c);
	}
	l->ncqe = 0;
	req_flush_sends(l);
}

static bool loop_wait_ok(int ret)
{
	return !ret || ret == -ETIME || ret == -EINTR || ret == -EBUSY ||
	       ret == -EAGAIN;
}

int loop_serve(struct loop *l)
{
	int ret;

	while (!l->stopping) {
		/* Sends asked for outside a batch (none today): out first. */
		if (l->ntx_wanted)
			req_flush_sends(l);
		/* Hand the buffers sent since the last wait back to the
		 * kernel in one step (one store of the ring's tail). */
		bufring_publish(&l->br);
		ret = ring_wait(&l->r, serve_timeout(&l->sv, clock_ms()));
		l->sv.st.loops++;
		if (ret == -EINTR)
			l->sv.st.eintr++;
		if (!loop_wait_ok(ret))
			return ret;
		loop_reap(l);
		loop_dispatch(l);
		if (l->r.err)
			return l->r.err;
		/* A lost completion would pin its connection for ever. */
		if (l->r.cq_dropped)
			return -EBADR;
		if (serve_timers(&l->sv))
			l->mode->arm_accept(l);
	}
	return 0;
}

/* loop_stop with requests still out (a broken ring): tear the ring down
 * first, which cancels them, and only then take the windows back and
 * free. */
static void loop_stop_hard(struct loop *l)
{
	struct uring_conn *u;
	uint32_t i;

	/* Some request was never cancelled, or its completion never came:
	 * a bug on a healthy ring, which the tests hold at 0. */
	l->sv.st.stop_left = l->inflight;
	ring_exit(&l->r);
	l->ring_live = false;
	for (i = 0; i < l->sv.pool.cap; i++) {
		u = (struct uring_conn *)pool_at(&l->sv.pool, i);
		if (!u->slot.gen)
			continue;
		if (u->reqs & REQ_RECV_OWN)
			conn_rx_commit(uconn_core(u), 0);
		if (u->reqs & REQ_SEND)
			req_tx_return(l, u, 0);
		u->reqs = 0;
		u->state = 0;
		loop_close_end(l, u);
	}
}

void loop_stop(struct loop *l)
{
	int64_t deadline = clock_ms() + LOOP_STOP_MS, now;
	struct uring_conn *u;
	uint32_t i;

	l->stopping = true;
	l->sv.lstate = SERVE_LISTEN_OFF;
	/* One-shot accepts share their user_data: cancel them all. */
	if (l->accepts)
		loop_cancel(l, ud_pack(UD_ACCEPT, 0), ud_pack(UD_CANCEL, 0),
			    l->accepts > 1 ? IORING_ASYNC_CANCEL_ALL : 0);
	if (l->sig_armed)
		loop_cancel(l, ud_pack(UD_SIGNAL, 0), ud_pack(UD_CANCEL, 0), 0);
	for (i = 0; i < l->sv.pool.cap; i++) {
		u = (struct uring_conn *)pool_at(&l->sv.pool, i);
		if (u->slot.gen)
			loop_close(l, u);
	}
	while (l->inflight && !l->r.err && (now = clock_ms()) < deadline) {
		if (!loop_wait_ok(ring_wait(&l->r, (int)(deadline - now))))
			break;
		loop_reap(l);
		loop_dispatch(l);
	}
	if (l->inflight)
		loop_stop_hard(l);
}
