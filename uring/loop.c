// SPDX-License-Identifier: MIT
/*
 * loop.c - the completion loop behind uring-echo.
 *
 * Lends the core's windows (common/conn.c) to the kernel, recv into and
 * send from, and on each completion commits what happened and asks the
 * core what next. A connection is freed only once none of its requests is
 * in flight: cancel, wait for every completion (a zero-copy send's
 * notification included), then close. How each SQE is shaped by the
 * feature flags is prep.c's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "conn.h"
#include "loop.h"
#include "net.h"
#include "pool.h"
#include "bufring.h"
#include "prep.h"
#include "ring.h"
#include "serve.h"
#include "sig.h"
#include "stats.h"
#include "team.h"
#include "ud.h"

#define LOOP_STOP_MS 500 /* longest wait for cancelled requests at stop */
#define LOOP_BUF_KEEP 64 /* free connection buffers kept for reuse */
#define LOOP_OPS_PER_CONN 4 /* recv, send and a cancel of each */
#define LOOP_OPS_EXTRA 8 /* accept, signal poll, their cancels */
#define LOOP_FILES_SPARE 8 /* direct descriptors besides --max-conns */
/* --sqpoll: how long the kernel thread polls an idle SQ before it sleeps
 * (and the next submit must wake it); it spins on a CPU meanwhile. Well
 * under LOOP_BACKOFF_MS, so that a server paused at EMFILE, retrying an
 * accept every 100 ms, leaves the thread asleep most of the time. */
#define LOOP_SQ_IDLE_MS 10
#define MS_BGID 0 /* the buffer group of the provided-buffer ring */
/* Largest provided buffer. The kernel takes buffers FIFO, so under load
 * every one is touched: bufs x this is resident (2 MiB by default). */
#define MS_BUF_MAX 4096u
/*
 * A multishot accept takes every connection waiting in the backlog at once,
 * and cannot be told how many. So it is armed only while the room left
 * under --max-conns holds a full backlog and a margin, and cancelled once
 * it does not; below that, up to MS_ACCEPT_BATCH one-shot accepts are in
 * flight, never more than the room left: a connection past the limit
 * waits in the backlog, as with a readiness loop, instead of being reset.
 */
#define MS_ACCEPT_SLACK 64u
#define MS_ACCEPT_MULTI_ROOM (TEAM_BACKLOG + 1u + MS_ACCEPT_SLACK)
#define MS_ACCEPT_BATCH 8u

/* A connection's requests, kept in uring_conn.io. */
enum {
	IO_RECV = 1u << 0, /* a recv is in flight: rx window lent */
	IO_SEND = 1u << 1, /* a send is in flight: tx window lent */
	IO_RECV_CANCEL = 1u << 2, /* the cancel of that recv is in flight */
	IO_SEND_CANCEL = 1u << 3, /* the cancel of that send is in flight */
	IO_CLOSING = 1u << 4, /* close once none of the above is set */
	IO_RING_RECV = 1u << 5, /* the recv in flight is into the own ring */
	IO_NOBUF = 1u << 6, /* multishot: the pool ran dry; use the own ring */
	IO_SHUT = 1u << 7, /* a shutdown request is in flight */
	IO_CLOSE = 1u << 8, /* the close of a direct descriptor is in flight */
	IO_ZC = 1u << 9, /* the send in flight is zero-copy */
	IO_ZC_NOTIF = 1u << 10, /* its result is in, its notification is not */
	IO_ZC_OFF = 1u << 11, /* the next send copies: zero-copy was refused */
	IO_ABORT = 1u << 12, /* the abort of the connection is in flight */
	/* The recv in flight was asked to end: cleared only by its own last
	 * completion, so it is cancelled once, whatever the cancel's own
	 * completion says and whenever it comes. */
	IO_RECV_STOP = 1u << 13,
};

#define IO_CANCELS (IO_RECV_CANCEL | IO_SEND_CANCEL | IO_ABORT)
#define IO_BUSY (IO_RECV | IO_SEND | IO_SHUT | IO_CANCELS)

/* A completion copied off the CQ, so that handlers may submit (and the
 * SQE getter may reap) while a batch is being handled. */
struct loop_cqe {
	uint64_t ud;
	int32_t res;
	uint32_t flags;
};

struct loop;

/* A connection: the pool's slot (the core's state) and its requests. */
struct uring_conn {
	struct pool_slot slot;
	int fd;
	uint32_t io; /* IO_* */
	uint32_t tx_len; /* bytes offered by the send in flight */
	int32_t tx_res; /* a zero-copy send's result, until its notification
			 * says the bytes may be reused */
};

/* What differs between modes: how accepts and receives are armed and
 * completed. Sends, cancels and closes are shared. */
struct loop_mode {
	const char *name;
	const uint8_t *ops; /* IORING_OP_* it needs, probed at start-up */
	size_t nops;
	void (*arm_accept)(struct loop *l);
	void (*on_accept)(struct loop *l, int res, unsigned flags);
	void (*arm_recv)(struct loop *l, struct uring_conn *s);
	void (*on_recv)(struct loop *l, struct uring_conn *s, int res,
			unsigned flags);
	bool segments; /* receives land in the provided-buffer ring */
};

struct loop {
	struct serve sv; /* counters, accept state, timers */
	const struct loop_mode *mode;
	struct ring r;
	bool ring_live;
	struct pool pool;
	struct conn_env env;
	struct prep prep; /* how SQEs are shaped: the feature flags */
	unsigned files; /* --fixed-files: slots in the direct file table */
	bool zc_loopback_off; /* --send-zc refused: a loopback listener */
	struct bufring br; /* multishot: the provided buffers */
	bool br_live;
	bool accept_multi; /* the accept in flight is multishot */
	bool accept_cancelling; /* and its cancel is on the way */
	unsigned max_conns;
	int lfd;
	int sfd; /* signal or control pipe: sig_drain bytes */
	struct team_member *tm;
	unsigned accepts; /* accept requests in flight */
	bool sig_armed;
	bool stopping;
	uint64_t inflight; /* requests whose last completion is to come */
	struct loop_cqe *cqes; /* reaped, not yet handled */
	uint32_t ncqe;
	uint32_t cqe_cap;
};

/* Copy what the ring counts into the shared counters. */
static void loop_refresh_stats(struct loop *l)
{
	l->sv.st.bufs_live = l->env.cache.live;
	/* Held by connections or named by completions not yet handled: 0
	 * once every connection is closed, whatever happened to them. */
	if (l->br_live)
		l->sv.st.pbufs_out = l->br.count - l->br.avail - l->br.pending;
	l->sv.st.waits = l->r.enters;
	l->sv.st.sq_wakeups = l->r.wakeups;
	l->sv.st.sq_full = l->r.sq_full;
	l->sv.st.submit_busy = l->r.busy;
	l->sv.st.cq_overflow = l->r.cq_backlog;
}

static void loop_print_stats(struct loop *l)
{
	loop_refresh_stats(l);
	team_publish(l->tm, &l->sv.st);
}

/* An SQE counted as in flight, or NULL (fatal: kept in l->r.err). The
 * caller prepares it, then sets its user_data. */
static struct io_uring_sqe *loop_sqe(struct loop *l)
{
	struct io_uring_sqe *sqe = ring_sqe(&l->r);

	if (sqe)
		l->inflight++;
	return sqe;
}

/* Cancel the request target (every request with that user_data if flags
 * has IORING_ASYNC_CANCEL_ALL); ud is the cancel's own. */
static bool loop_cancel(struct loop *l, uint64_t target, uint64_t ud,
			unsigned flags)
{
	struct io_uring_sqe *sqe = loop_sqe(l);

	if (!sqe)
		return false;
	io_uring_prep_cancel64(sqe, target, (int)flags);
	io_uring_sqe_set_data64(sqe, ud);
	l->sv.st.cancels++;
	return true;
}

static void loop_close_end(struct loop *l, struct uring_conn *s)
{
	serve_closed(&l->sv, conn_error(&s->slot.conn));
	if (l->br_live) {
		int id;

		/* Bytes never echoed: their buffers go back to the kernel. */
		while ((id = conn_seg_drop(&s->slot.conn)) >= 0)
			bufring_put(&l->br, (uint16_t)id);
	}
	/* A direct descriptor was closed by its own request (loop_close). */
	if (!l->prep.fixed)
		close(s->fd);
	pool_free(&l->pool, &s->slot);
	/* A slot is free again: resume accepting if the limit paused it. */
	if (l->sv.lstate == SERVE_LISTEN_FULL) {
		l->sv.lstate = SERVE_LISTEN_ON;
		l->mode->arm_accept(l);
	}
}

/* Close a direct descriptor that never got a slot (refused, or accepted
 * while shutting down); a real one is closed at once. */
static void loop_drop_fd(struct loop *l, int fd)
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

/*
 * Closing, with a zero-copy send whose result is in: it waits for its
 * notification, which comes once the peer has acknowledged the bytes. No
 * cancel hurries it, and a peer that reads no more would pin the
 * connection for good, so reset the connection instead (what the peer has
 * not read is lost, as in any abortive close); the reset releases the
 * pages and the notification follows.
 */
static void loop_abort(struct loop *l, struct uring_conn *s)
{
	struct io_uring_sqe *sqe;

	if (s->io & IO_ABORT)
		return;
	sqe = loop_sqe(l);
	if (!sqe)
		return;
	prep_abort(&l->prep, sqe, s->fd);
	io_uring_sqe_set_data64(
	    sqe, ud_pack(UD_ABORT, pool_handle(&l->pool, &s->slot)));
	s->io |= IO_ABORT;
	l->sv.st.cancels++;
}

/* Ask the recv in flight to end, once per recv (see IO_RECV_STOP). */
static void loop_stop_recv(struct loop *l, struct uring_conn *s)
{
	uint64_t h = pool_handle(&l->pool, &s->slot);

	if ((s->io & (IO_RECV | IO_RECV_STOP)) != IO_RECV)
		return;
	if (loop_cancel(l, ud_pack(UD_RECV, h), ud_pack(UD_CANCEL_RECV, h), 0))
		s->io |= IO_RECV_CANCEL | IO_RECV_STOP;
}

/* Start closing s: cancel what is in flight; the last completion closes. */
static void loop_close(struct loop *l, struct uring_conn *s)
{
	uint64_t h = pool_handle(&l->pool, &s->slot);
	struct io_uring_sqe *sqe;

	if (!(s->io & IO_CLOSING)) {
		s->io |= IO_CLOSING;
		loop_stop_recv(l, s);
		if ((s->io & IO_SEND) && !(s->io & IO_ZC_NOTIF) &&
		    loop_cancel(l, ud_pack(UD_SEND, h),
				ud_pack(UD_CANCEL_SEND, h), 0))
			s->io |= IO_SEND_CANCEL;
		if (s->io & IO_ZC_NOTIF)
			loop_abort(l, s);
	}
	if (s->io & (IO_BUSY | IO_CLOSE))
		return;
	/* A direct descriptor is closed by a request of its own; the slot is
	 * freed at its completion, so the table slot and the pool slot are
	 * given back together. */
	if (l->prep.fixed && (sqe = loop_sqe(l))) {
		prep_close(&l->prep, sqe, s->fd);
		io_uring_sqe_set_data64(sqe, ud_pack(UD_CLOSE, h));
		s->io |= IO_CLOSE;
		return;
	}
	loop_close_end(l, s);
}

static void loop_send(struct loop *l, struct uring_conn *s)
{
	uint64_t ud = ud_pack(UD_SEND, pool_handle(&l->pool, &s->slot));
	struct io_uring_sqe *sqe;
	const uint8_t *p;
	size_t len;

	len = conn_tx_window(&s->slot.conn, &p);
	sqe = loop_sqe(l);
	if (!sqe) {
		conn_tx_commit(&s->slot.conn, 0);
		conn_fail(&s->slot.conn, l->r.err);
		return;
	}
	if (prep_send(&l->prep, sqe, s->fd, p, len, !(s->io & IO_ZC_OFF))) {
		s->io |= IO_ZC;
		l->sv.st.zc_sends++;
	}
	s->io &= ~IO_ZC_OFF;
	io_uring_sqe_set_data64(sqe, ud);
	s->tx_len = (uint32_t)len;
	s->io |= IO_SEND;
	l->sv.st.send_calls++;
	/* The connection's last bytes, a multishot recv armed to report
	 * what the peer does next: this completion will only recycle a
	 * buffer, so the next wait need not return for it alone. */
	if (l->mode->segments && !(s->io & IO_ZC) &&
	    len == conn_buffered(&s->slot.conn) &&
	    (conn_wants(&s->slot.conn) & CONN_WANT_READ) && (s->io & IO_RECV) &&
	    !(s->io & (IO_RECV_STOP | IO_RING_RECV | IO_CLOSING)))
		l->r.quiet++;
}

/* Shut the write side, as the core asks once everything is echoed. A
 * direct descriptor is no fd for shutdown(2): then it is a request. */
static void loop_shutdown(struct loop *l, struct uring_conn *s)
{
	struct io_uring_sqe *sqe;

	l->sv.st.shutdowns++;
	if (!l->prep.fixed) {
		if (shutdown(s->fd, SHUT_WR))
			conn_fail(&s->slot.conn, -errno);
		else
			conn_shut_done(&s->slot.conn);
		return;
	}
	sqe = loop_sqe(l);
	if (!sqe) {
		conn_fail(&s->slot.conn, l->r.err);
		return;
	}
	prep_shutdown(&l->prep, sqe, s->fd);
	io_uring_sqe_set_data64(
	    sqe, ud_pack(UD_SHUT, pool_handle(&l->pool, &s->slot)));
	s->io |= IO_SHUT;
}

/*
 * Submit what the core wants and nothing is in flight for yet; close when
 * it wants nothing. Called after every change: accept and each completion.
 */
static void loop_drive(struct loop *l, struct uring_conn *s)
{
	struct conn *c = &s->slot.conn;
	unsigned w;

	if (s->io & IO_CLOSING) {
		loop_close(l, s);
		return;
	}
	w = conn_wants(c);
	/* Multishot, at the per-connection cap: stop the recv (what still
	 * arrives before the cancel lands is kept; the cap bounds it). */
	if (!(w & CONN_WANT_READ) && !(s->io & IO_RING_RECV) &&
	    l->mode->segments)
		loop_stop_recv(l, s);
	if ((w & CONN_WANT_WRITE) && !(s->io & IO_SEND))
		loop_send(l, s);
	if ((w & CONN_WANT_READ) && !(s->io & IO_RECV))
		l->mode->arm_recv(l, s);
	if ((w & CONN_WANT_SHUT) && !(s->io & (IO_SEND | IO_SHUT)))
		loop_shutdown(l, s);
	if (!conn_wants(c))
		loop_close(l, s);
}

/* A recv or send failed with res (its window already returned). */
static void loop_io_error(struct loop *l, struct uring_conn *s, int res)
{
	/* Cancelled by us, or failing anyway while we close: not news. */
	if (s->io & IO_CLOSING)
		return;
	/* Nothing done: loop_drive submits it again. */
	if (res == -EINTR || res == -EAGAIN) {
		l->sv.st.eagain++;
		return;
	}
	conn_fail(&s->slot.conn, res);
}

/* The send in flight is over: commit what it sent. */
static void loop_send_done(struct loop *l, struct uring_conn *s, int res)
{
	uint32_t len = s->tx_len;
	int id;

	s->io &= ~IO_SEND;
	if (res >= 0) {
		/* A short send is normal: the next one starts at the rest. A
		 * provided buffer fully echoed goes back to the kernel. */
		id = conn_tx_commit(&s->slot.conn, (size_t)res);
		if (id >= 0)
			bufring_put(&l->br, (uint16_t)id);
		l->sv.st.bytes_out += (uint64_t)res;
		if ((uint32_t)res < len)
			l->sv.st.short_sends++;
	} else {
		conn_tx_commit(&s->slot.conn, 0);
		loop_io_error(l, s, res);
	}
	loop_drive(l, s);
}

/*
 * A send's completion. A zero-copy send has two: its result (flagged MORE)
 * and later a notification that the kernel no longer reads the bytes. Only
 * then may the window be committed: a committed window is recycled (the
 * own ring takes new bytes, a provided buffer goes back to the kernel).
 */
static void loop_on_send(struct loop *l, struct uring_conn *s, int res,
			 unsigned flags)
{
	if (!(s->io & IO_ZC)) {
		loop_send_done(l, s, res);
		return;
	}
	if (flags & IORING_CQE_F_NOTIF) {
		l->sv.st.zc_notifs++;
		if ((uint32_t)res & IORING_NOTIF_USAGE_ZC_COPIED)
			l->sv.st.zc_copied++;
		res = s->tx_res;
	} else if (flags & IORING_CQE_F_MORE) {
		s->tx_res = res;
		s->io |= IO_ZC_NOTIF;
		/* Cancelled by a close (the result came after it began). */
		if (s->io & IO_CLOSING)
			loop_abort(l, s);
		return;
	}
	s->io &= ~(IO_ZC | IO_ZC_NOTIF);
	if (res == -ENOMEM && !(s->io & IO_CLOSING)) {
		/* Pinning the pages was refused: without CAP_IPC_LOCK each
		 * zero-copy send in flight is charged to RLIMIT_MEMLOCK.
		 * Send the same bytes again, copying. */
		l->sv.st.zc_refused++;
		conn_tx_commit(&s->slot.conn, 0);
		s->io &= ~IO_SEND;
		s->io |= IO_ZC_OFF;
		loop_drive(l, s);
		return;
	}
	loop_send_done(l, s, res);
}

/* The shutdown request completed (direct descriptors). */
static void loop_on_shut(struct loop *l, struct uring_conn *s, int res)
{
	s->io &= ~IO_SHUT;
	if (!(s->io & IO_CLOSING)) {
		if (res < 0)
			conn_fail(&s->slot.conn, res);
		else
			conn_shut_done(&s->slot.conn);
	}
	loop_drive(l, s);
}

static void loop_add_conn(struct loop *l, int fd)
{
	struct uring_conn *s;

	if (l->sv.lstate == SERVE_LISTEN_OFF) {
		loop_drop_fd(l, fd);
		return;
	}
	s = (struct uring_conn *)pool_alloc(&l->pool, &l->env);
	if (!s) {
		loop_drop_fd(l, fd);
		l->sv.st.accept_errors++;
		return;
	}
	s->fd = fd;
	serve_opened(&l->sv);
	loop_drive(l, s);
}

/* An accept failed with res; true if accepting may go on at once. */
static bool loop_accept_error(struct loop *l, int res)
{
	/* Our own cancel (stop, or a multishot accept near the limit). */
	if (res == -ECANCELED)
		return l->sv.lstate != SERVE_LISTEN_OFF;
	return serve_accept_failed(&l->sv, res);
}

/* --- basic mode: one-shot accept and recv, one of each in flight ---- */

static void basic_arm_accept(struct loop *l)
{
	uint64_t ud = ud_pack(UD_ACCEPT, 0);
	struct io_uring_sqe *sqe;

	if (l->sv.lstate != SERVE_LISTEN_ON || l->accepts)
		return;
	if (l->pool.used >= l->max_conns) {
		/* Leave the rest in the backlog until a slot frees. */
		l->sv.st.at_limit++;
		l->sv.lstate = SERVE_LISTEN_FULL;
		return;
	}
	sqe = loop_sqe(l);
	if (!sqe)
		return;
	/* Blocking sockets: io_uring polls for us (see uring_run). */
	prep_accept(&l->prep, sqe, l->lfd, false);
	io_uring_sqe_set_data64(sqe, ud);
	l->accepts = 1;
	l->sv.st.accept_calls++;
}

static void basic_on_accept(struct loop *l, int res, unsigned flags)
{
	l->accepts = 0;
	if (res >= 0)
		loop_add_conn(l, res);
	else if (!loop_accept_error(l, res))
		return;
	basic_arm_accept(l);
}

static void basic_arm_recv(struct loop *l, struct uring_conn *s)
{
	uint64_t ud = ud_pack(UD_RECV, pool_handle(&l->pool, &s->slot));
	struct io_uring_sqe *sqe;
	uint8_t *p;
	size_t len;

	/* On -ENOMEM the core has failed the connection: drive closes it. */
	if (conn_rx_window(&s->slot.conn, &p, &len))
		return;
	sqe = loop_sqe(l);
	if (!sqe) {
		conn_rx_commit(&s->slot.conn, 0);
		conn_fail(&s->slot.conn, l->r.err);
		return;
	}
	prep_recv(&l->prep, sqe, s->fd, p, len);
	io_uring_sqe_set_data64(sqe, ud);
	s->io |= IO_RECV | IO_RING_RECV;
	l->sv.st.recv_calls++;
}

static void basic_on_recv(struct loop *l, struct uring_conn *s, int res,
			  unsigned flags)
{
	struct conn *c = &s->slot.conn;

	s->io &= ~(IO_RECV | IO_RECV_STOP | IO_RING_RECV | IO_NOBUF);
	if (res > 0) {
		conn_rx_commit(c, (size_t)res);
		l->sv.st.bytes_in += (uint64_t)res;
		serve_held(&l->sv, conn_buffered(c));
		if (conn_buffered(c) == l->env.cache.size)
			l->sv.st.full++;
	} else if (res == 0) {
		conn_rx_eof(c);
	} else {
		conn_rx_commit(c, 0);
		loop_io_error(l, s, res);
	}
	loop_drive(l, s);
}

static const uint8_t basic_ops[] = {
	IORING_OP_ACCEPT,	IORING_OP_RECV,	    IORING_OP_SEND,
	IORING_OP_ASYNC_CANCEL, IORING_OP_POLL_ADD,
};

static const uint8_t ms_ops[] = {
	IORING_OP_ACCEPT,	IORING_OP_RECV,	    IORING_OP_SEND,
	IORING_OP_ASYNC_CANCEL, IORING_OP_POLL_ADD,
};

/* --- multishot mode: multishot accept, multishot recv into the ring --- */

/* Top up the accepts in flight: one multishot while the room left is
 * large, else one-shot ones, at most the room left (see MS_ACCEPT_*). */
static void ms_arm_accept(struct loop *l)
{
	uint64_t ud = ud_pack(UD_ACCEPT, 0);
	struct io_uring_sqe *sqe;
	uint32_t room;
	bool multi;

	if (l->sv.lstate != SERVE_LISTEN_ON || l->accept_multi)
		return;
	/* Each accept in flight may bring one connection: count it in. */
	room = l->max_conns - l->pool.used - l->accepts;
	if (room == 0 && l->accepts == 0) {
		l->sv.st.at_limit++;
		l->sv.lstate = SERVE_LISTEN_FULL;
		return;
	}
	multi = l->accepts == 0 && room > MS_ACCEPT_MULTI_ROOM;
	while (room > 0 && (multi || l->accepts < MS_ACCEPT_BATCH)) {
		sqe = loop_sqe(l);
		if (!sqe)
			return;
		prep_accept(&l->prep, sqe, l->lfd, multi);
		io_uring_sqe_set_data64(sqe, ud);
		l->accepts++;
		l->sv.st.accept_calls++;
		room--;
		if (multi) {
			l->accept_multi = true;
			return;
		}
	}
}

static void ms_on_accept(struct loop *l, int res, unsigned flags)
{
	bool more = flags & IORING_CQE_F_MORE;
	bool was_multi = l->accept_multi;
	bool go_on = true;

	if (!more) {
		/* A one-shot accept, or the multishot one (then the only
		 * accept in flight), has ended. */
		l->accepts--;
		l->accept_multi = false;
		l->accept_cancelling = false;
	}
	if (res >= 0) {
		if (l->pool.used < l->max_conns ||
		    l->sv.lstate == SERVE_LISTEN_OFF) {
			loop_add_conn(l, res);
		} else {
			/* Only a multishot accept can get here, and only if
			 * more than a backlog arrived while it drained one. */
			loop_drop_fd(l, res);
			l->sv.st.over_limit++;
		}
	} else {
		go_on = loop_accept_error(l, res);
	}
	/* Stop a multishot accept that must not go on: the room left no
	 * longer holds a backlog, out of descriptors (it would fail again
	 * at once), or shutting down. */
	if (l->accept_multi && !l->accept_cancelling &&
	    (!go_on || l->sv.lstate != SERVE_LISTEN_ON ||
	     l->max_conns - l->pool.used <= MS_ACCEPT_MULTI_ROOM)) {
		if (loop_cancel(l, ud_pack(UD_ACCEPT, 0), ud_pack(UD_CANCEL, 0),
				0))
			l->accept_cancelling = true;
	}
	if (!go_on)
		return;
	if (was_multi && !more && res >= 0)
		l->sv.st.rearms++;
	ms_arm_accept(l);
}

static void ms_arm_recv(struct loop *l, struct uring_conn *s)
{
	uint64_t ud = ud_pack(UD_RECV, pool_handle(&l->pool, &s->slot));
	struct io_uring_sqe *sqe;

	/*
	 * Provided buffers only while the own ring is idle (ring bytes must
	 * stay newer than held buffers) and the pool has some. Otherwise one
	 * recv into the connection's own ring: when stuck readers hold the
	 * whole pool, the others still make progress.
	 */
	if (!conn_ring_idle(&s->slot.conn) && l->br.avail &&
	    !(s->io & IO_NOBUF) && (s->io & IO_SEND)) {
		/* Own-ring bytes (after an -ENOBUFS) are still going out:
		 * arm the multishot recv once that send completes and the
		 * ring is idle, instead of staying on one-shot recvs into the
		 * ring for as long as the peer keeps the ping-pong going. */
		l->sv.st.ring_waits++;
		return;
	}
	if (!conn_ring_idle(&s->slot.conn) || !l->br.avail ||
	    (s->io & IO_NOBUF)) {
		basic_arm_recv(l, s);
		return;
	}
	sqe = loop_sqe(l);
	if (!sqe) {
		conn_fail(&s->slot.conn, l->r.err);
		return;
	}
	prep_recv_multishot(&l->prep, sqe, s->fd,
			    (uint32_t)conn_rx_room(&s->slot.conn));
	io_uring_sqe_set_data64(sqe, ud);
	s->io |= IO_RECV;
	l->sv.st.recv_calls++;
}

/*
 * n > 0 bytes arrived in provided buffer id and, for a bundle, in the
 * buffers the kernel took after it from the ring, each filled whole but
 * the last. The connection holds them: kept, not copied, the echo is sent
 * from them.
 */
static void ms_take(struct loop *l, struct uring_conn *s, uint16_t id,
		    uint32_t n)
{
	struct conn *c = &s->slot.conn;
	uint32_t k;

	l->sv.st.bytes_in += n;
	if (n > l->br.size)
		l->sv.st.bundles++;
	for (;;) {
		k = n < l->br.size ? n : l->br.size;
		bufring_taken(&l->br);
		conn_rx_segment(c, id, k);
		n -= k;
		if (!n)
			break;
		id = bufring_succ(&l->br, id);
	}
	serve_held(&l->sv, conn_buffered(c));
	if (!(conn_wants(c) & CONN_WANT_READ) && !conn_error(c))
		l->sv.st.full++;
}

static void ms_on_recv(struct loop *l, struct uring_conn *s, int res,
		       unsigned flags)
{
	struct conn *c = &s->slot.conn;
	uint16_t id;

	if (s->io & IO_RING_RECV) {
		basic_on_recv(l, s, res, flags);
		return;
	}
	if (flags & IORING_CQE_F_BUFFER) {
		id = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);
		if (res > 0) {
			ms_take(l, s, id, (uint32_t)res);
		} else {
			bufring_taken(&l->br);
			bufring_put(&l->br, id);
		}
	}
	if (!(flags & IORING_CQE_F_MORE)) {
		/* The multishot recv ended; drive arms a new one if wanted. */
		s->io &= ~(IO_RECV | IO_RECV_STOP);
		if (res == 0) {
			conn_rx_eof(c);
		} else if (res == -ENOBUFS) {
			/* Flow control, not an error: the next recv goes to
			 * the own ring, and buffers are tried again after. */
			l->sv.st.enobufs++;
			s->io |= IO_NOBUF;
		} else if (res == -ECANCELED && !(s->io & IO_CLOSING)) {
			/* Our own cancel at the per-connection cap. */
		} else if (res < 0) {
			loop_io_error(l, s, res);
		} else {
			l->sv.st.rearms++;
		}
	}
	loop_drive(l, s);
}

/* Once per loop iteration: hand the buffers sent since the last call back
 * to the kernel in one step (one store of the ring's tail). */
static void ms_refill(struct loop *l)
{
	if (l->br_live)
		bufring_publish(&l->br);
}

/* Indexed by enum uring_mode; no handlers: a mode not built yet. */
static const struct loop_mode loop_modes[] = {
	[URING_MODE_BASIC] = {
		.name = "basic",
		.ops = basic_ops,
		.nops = sizeof(basic_ops),
		.arm_accept = basic_arm_accept,
		.on_accept = basic_on_accept,
		.arm_recv = basic_arm_recv,
		.on_recv = basic_on_recv,
	},
	[URING_MODE_MULTISHOT] = {
		.name = "multishot",
		.ops = ms_ops,
		.nops = sizeof(ms_ops),
		.arm_accept = ms_arm_accept,
		.on_accept = ms_on_accept,
		.arm_recv = ms_arm_recv,
		.on_recv = ms_on_recv,
		.segments = true,
	},
};

#define LOOP_NMODES (sizeof(loop_modes) / sizeof(loop_modes[0]))

int uring_mode_find(const char *name, enum uring_mode *m)
{
	size_t i;

	for (i = 0; i < LOOP_NMODES; i++) {
		if (strcmp(loop_modes[i].name, name))
			continue;
		if (!loop_modes[i].arm_accept)
			return -ENOSYS;
		*m = (enum uring_mode)i;
		return 0;
	}
	return -EINVAL;
}

const char *uring_mode_names(void)
{
	static char names[64];
	size_t i, off = 0;
	const char *sep = "";

	for (i = 0; i < LOOP_NMODES && off < sizeof(names); i++) {
		if (!loop_modes[i].arm_accept)
			continue;
		off += (size_t)snprintf(names + off, sizeof(names) - off,
					"%s%s", sep, loop_modes[i].name);
		sep = ", ";
	}
	return names;
}

/* --- signals, timers, the completion batch -------------------------- */

static void loop_arm_signal(struct loop *l)
{
	uint64_t ud = ud_pack(UD_SIGNAL, 0);
	struct io_uring_sqe *sqe = loop_sqe(l);

	if (!sqe)
		return;
	/* A poll, not a read: the pipe is O_NONBLOCK, and a read on it would
	 * complete at once with -EAGAIN instead of waiting. */
	io_uring_prep_poll_add(sqe, l->sfd, POLLIN);
	io_uring_sqe_set_data64(sqe, ud);
	l->sig_armed = true;
}

static void loop_on_signal(struct loop *l, int res)
{
	unsigned sigs;

	l->sig_armed = false;
	if (l->stopping)
		return;
	sigs = sig_drain(l->sfd);
	if (sigs & SIG_STATS)
		loop_print_stats(l);
	if (sigs & SIG_STOP) {
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
	uint16_t id = (uint16_t)(c->flags >> IORING_CQE_BUFFER_SHIFT);
	uint32_t n = c->res > 0 ? (uint32_t)c->res : 0;

	if (!(c->flags & IORING_CQE_F_BUFFER) || !l->br_live)
		return;
	for (;;) {
		/* Read the successor first: putting id back may relink it. */
		uint16_t next = bufring_succ(&l->br, id);

		bufring_taken(&l->br);
		bufring_put(&l->br, id);
		if (n <= l->br.size)
			break;
		n -= l->br.size;
		id = next;
	}
}

static void loop_cqe(struct loop *l, const struct loop_cqe *c)
{
	enum ud_op op = ud_op(c->ud);
	struct uring_conn *s;

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
		loop_on_signal(l, c->res);
		return;
	case UD_CANCEL:
	case UD_DROP:
		return;
	default:
		break;
	}
	s = (struct uring_conn *)pool_lookup(&l->pool, ud_handle(c->ud));
	if (!s) {
		l->sv.st.stale++;
		loop_stale_bufs(l, c);
		return;
	}
	switch (op) {
	case UD_RECV:
		l->mode->on_recv(l, s, c->res, c->flags);
		break;
	case UD_SEND:
		loop_on_send(l, s, c->res, c->flags);
		break;
	case UD_SHUT:
		loop_on_shut(l, s, c->res);
		break;
	case UD_ABORT:
		s->io &= ~IO_ABORT;
		loop_drive(l, s);
		break;
	case UD_CLOSE:
		s->io &= ~IO_CLOSE;
		loop_close_end(l, s);
		break;
	case UD_CANCEL_RECV:
		/* 0, -ENOENT (already done) or -EALREADY (finishing): the
		 * recv's own completion comes, or came, either way; until it
		 * does, IO_RECV_STOP keeps another cancel from going out. */
		s->io &= ~IO_RECV_CANCEL;
		loop_drive(l, s);
		break;
	case UD_CANCEL_SEND:
		s->io &= ~IO_SEND_CANCEL;
		loop_drive(l, s);
		break;
	default:
		l->sv.st.stale++;
		break;
	}
}

/* Copy every visible CQE into the batch and advance the CQ once. Also the
 * ring's reap hook: it only copies, so no handler ever runs re-entered. */
static void loop_reap(void *ctx)
{
	struct loop *l = ctx;
	struct io_uring_cqe *cqe;
	struct loop_cqe *grown;
	unsigned head, n = 0;

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
		loop_cqe(l, &c);
	}
	l->ncqe = 0;
}

static int loop_timeout(struct loop *l, int64_t now)
{
	return serve_timeout(&l->sv, now);
}

static void loop_timers(struct loop *l)
{
	if (l->sv.lstate != SERVE_LISTEN_BACKOFF && !l->sv.next_stats)
		return;
	loop_refresh_stats(l);
	if (serve_timers(&l->sv, clock_ms()))
		l->mode->arm_accept(l);
}

static bool loop_wait_ok(int ret)
{
	return !ret || ret == -ETIME || ret == -EINTR || ret == -EBUSY ||
	       ret == -EAGAIN;
}

/* Serve until a stop signal; returns 0, or -errno if the ring failed. */
static int loop_serve(struct loop *l)
{
	int ret;

	while (!l->stopping) {
		ms_refill(l);
		ret = ring_wait(&l->r, loop_timeout(l, clock_ms()));
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
		loop_timers(l);
	}
	return 0;
}

/* Stop accepting, close every connection, and wait (a bounded time) for
 * every request to complete, so that no buffer is freed under the kernel. */
static void loop_stop(struct loop *l)
{
	int64_t deadline = clock_ms() + LOOP_STOP_MS, now;
	struct uring_conn *s;
	uint32_t i;

	l->stopping = true;
	l->sv.lstate = SERVE_LISTEN_OFF;
	/* One-shot accepts share their user_data: cancel them all. */
	if (l->accepts)
		loop_cancel(l, ud_pack(UD_ACCEPT, 0), ud_pack(UD_CANCEL, 0),
			    l->accepts > 1 ? IORING_ASYNC_CANCEL_ALL : 0);
	if (l->sig_armed)
		loop_cancel(l, ud_pack(UD_SIGNAL, 0), ud_pack(UD_CANCEL, 0), 0);
	for (i = 0; i < l->pool.cap; i++) {
		s = (struct uring_conn *)pool_at(&l->pool, i);
		if (s->slot.gen)
			loop_close(l, s);
	}
	while (l->inflight && !l->r.err && (now = clock_ms()) < deadline) {
		if (!loop_wait_ok(ring_wait(&l->r, (int)(deadline - now))))
			break;
		loop_reap(l);
		loop_dispatch(l);
	}
	if (!l->inflight)
		return;
	/* Some request was never cancelled, or its completion never came:
	 * a bug on a healthy ring, which the tests hold at 0. */
	l->sv.st.stop_left = l->inflight;
	/* Requests still out (a broken ring): tear the ring down first, which
	 * cancels them, and only then take the windows back and free. */
	ring_exit(&l->r);
	l->ring_live = false;
	for (i = 0; i < l->pool.cap; i++) {
		s = (struct uring_conn *)pool_at(&l->pool, i);
		if (!s->slot.gen)
			continue;
		if (s->io & IO_RING_RECV)
			conn_rx_commit(&s->slot.conn, 0);
		if (s->io & IO_SEND)
			conn_tx_commit(&s->slot.conn, 0);
		s->io = 0;
		loop_close_end(l, s);
	}
}

/* Start-up warnings, printed once the listener exists so that a failure
 * to listen stays a single line. */
static void loop_warn(const struct loop *l, const struct uring_config *cfg)
{
	serve_warn_nofile(&l->sv, l->tm->nofile, cfg->o.max_conns,
			  l->tm->max_total);
}

static void loop_fail(struct loop *l, int err)
{
	if (err == -EBADR)
		fprintf(stderr,
			"%s: io_uring lost %llu completions (CQ overflow)\n",
			l->sv.prog, (unsigned long long)l->r.cq_dropped);
	else
		fprintf(stderr, "%s: io_uring_enter failed: %s\n", l->sv.prog,
			strerror(-err));
}

/* " fixed-files=N send-zc>=M bundle": the features in use, for the
 * start-up line (SQPOLL is in the ring's part). */
static void loop_describe(const struct loop *l, char *buf, size_t len)
{
	char files[32] = "", zc[32] = "";

	if (l->prep.fixed)
		snprintf(files, sizeof(files), " fixed-files=%u", l->files);
	if (l->prep.zc_min)
		snprintf(zc, sizeof(zc), " send-zc>=%u", l->prep.zc_min);
	else if (l->zc_loopback_off)
		snprintf(zc, sizeof(zc), " send-zc=off(loopback)");
	snprintf(buf, len, "%s%s%s", files, zc,
		 l->prep.bundle ? " bundle" : "");
}

/* The running kernel is at least major.minor (uname; false if unknown). */
static bool loop_kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

/*
 * Multishot needs multishot recv (Linux 6.0) and a registered buffer ring
 * (5.19). Asked for with --mode: fail with the reason. As the default:
 * fall back to basic and say so in note. Returns 0 or -errno.
 */
static int loop_setup_multishot(struct loop *l, const struct uring_config *cfg,
				char *note, size_t notelen)
{
	uint32_t size =
	    cfg->o.buf_size < MS_BUF_MAX ? cfg->o.buf_size : MS_BUF_MAX;
	int ret;

	if (!loop_kernel_at_least(6, 0)) {
		ret = -EOPNOTSUPP;
		snprintf(note, notelen,
			 "--mode multishot: multishot recv needs Linux 6.0");
		goto fallback;
	}
	ret = bufring_setup(&l->br, cfg->bufs, size);
	if (ret) {
		snprintf(note, notelen,
			 "cannot allocate a buffer ring of %u x %u bytes: %s",
			 cfg->bufs, size, strerror(-ret));
		goto fallback;
	}
	ret = bufring_register(&l->br, &l->r.ring, MS_BGID);
	if (ret) {
		char what[96];

		/* Only the registration is charged to RLIMIT_MEMLOCK: an
		 * -ENOMEM from bufring_setup is plain lack of memory. */
		bufring_free(&l->br, NULL);
		snprintf(what, sizeof(what),
			 "cannot register a buffer ring of %u x %u bytes",
			 cfg->bufs, size);
		if (!ring_memlock_why(ret, what, note, notelen))
			snprintf(note, notelen, "%s: %s", what, strerror(-ret));
		goto fallback;
	}
	l->br_live = true;
	/* A multishot recv stops itself at the connection's bound (6.17);
	 * before, only a cancel stops it, and it may overshoot meanwhile. */
	l->prep.recv_limit = !cfg->no_recv_limit && loop_kernel_at_least(6, 17);
	ret = conn_env_segs(&l->env, &l->br.segs);
	if (ret) {
		snprintf(note, notelen, "cannot use the buffer ring: %s",
			 strerror(-ret));
		return ret;
	}
	note[0] = '\0';
	return 0;

fallback:
	/* Bundles are multishot receives: no fallback for them either. */
	if (cfg->mode_set || cfg->bundle)
		return ret;
	l->mode = &loop_modes[URING_MODE_BASIC];
	return 0;
}

/*
 * The feature flags the kernel must support, checked and set up after the
 * ring: direct descriptors (a sparse file table, Linux 5.19), zero-copy
 * sends (6.0), recv bundles (6.10). A flag the kernel lacks is an error
 * naming the version, never silently ignored. Returns 0 or -errno with a
 * one-line reason in why.
 */
static int loop_setup_features(struct loop *l, const struct uring_config *cfg,
			       unsigned long nofile, char *why, size_t whylen)
{
	static const uint8_t fixed_ops[] = { IORING_OP_CLOSE,
					     IORING_OP_SHUTDOWN };
	static const uint8_t zc_ops[] = { IORING_OP_CONNECT };
	struct utsname u;
	const char *kernel = uname(&u) ? "unknown" : u.release;
	int ret;

	l->prep.bgid = MS_BGID;
	if (cfg->zc_min && !ring_has_op(&l->r, IORING_OP_SEND_ZC)) {
		snprintf(why, whylen,
			 "--send-zc: this kernel (Linux %s) lacks "
			 "IORING_OP_SEND_ZC, which needs Linux 6.0 (run "
			 "without --send-zc)",
			 kernel);
		return -EOPNOTSUPP;
	}
	/* A connection that must close while its peer sits on zero-copy
	 * bytes is reset with a connect request (see loop_close). */
	ret = cfg->zc_min
		  ? ring_require(&l->r, zc_ops, sizeof(zc_ops), why, whylen)
		  : 0;
	if (ret)
		return ret;
	/*
	 * Every zero-copy send to a local socket is copied anyway (the
	 * kernel's MSG_ZEROCOPY notes: a deferred copy, reported as
	 * IORING_NOTIF_USAGE_ZC_COPIED), so on a loopback listener it cannot
	 * pay; and a peer with a small receive window gets one segment per
	 * probe timer (measured: 64 KiB to a 2 KiB SO_RCVBUF in 13 s against
	 * 0.0 s copying). Refused there, unless forced to exercise the path.
	 */
	l->zc_loopback_off =
	    cfg->zc_min && !cfg->zc_loopback && net_is_loopback(l->lfd);
	l->prep.zc_min = l->zc_loopback_off ? 0 : cfg->zc_min;
	/* Linux 6.2 can say whether a zero-copy send was copied anyway (as
	 * it is over loopback); earlier kernels refuse the flag. */
	if (loop_kernel_at_least(6, 2))
		l->prep.zc_flags = IORING_SEND_ZC_REPORT_USAGE;
	if (cfg->bundle &&
	    !(l->r.ring.features & IORING_FEAT_RECVSEND_BUNDLE)) {
		snprintf(why, whylen,
			 "--bundle: this kernel (Linux %s) lacks recv bundles "
			 "(IORING_FEAT_RECVSEND_BUNDLE): the feature needs "
			 "Linux 6.10 (run without --bundle)",
			 kernel);
		return -EOPNOTSUPP;
	}
	l->prep.bundle = cfg->bundle;
	if (!cfg->fixed)
		return 0;
	ret = ring_require(&l->r, fixed_ops, sizeof(fixed_ops), why, whylen);
	if (ret)
		return ret;
	/* The kernel refuses a table larger than RLIMIT_NOFILE, which
	 * --max-conns is already clamped to (less a reserve). */
	l->files = l->max_conns + LOOP_FILES_SPARE;
	if (l->files > nofile)
		l->files = (unsigned)nofile;
	ret = io_uring_register_files_sparse(&l->r.ring, l->files);
	if (ret) {
		snprintf(why, whylen,
			 "--fixed-files: cannot register a file table of %u "
			 "slots (%s)%s",
			 l->files, strerror(-ret),
			 ret == -EINVAL ? ": direct accept into a sparse "
					  "table needs Linux 5.19"
					: "");
		return ret;
	}
	l->prep.fixed = true;
	return 0;
}

/* One loop of the team (common/team.h): the whole server with --threads 1. */
static int uring_member(void *arg, struct team_member *tm)
{
	static const uint8_t timeout_op[] = { IORING_OP_TIMEOUT };
	const struct uring_config *cfg = arg;
	const char *prog = tm->prog;
	struct ring_config rcfg;
	char why[512], desc[384], note[512] = "";
	char feat[96], team[128];
	unsigned long nofile = tm->nofile;
	bool ready = false;
	struct loop *l;
	int ret, fl, rc = 1;

	l = alloc_calloc(1, sizeof(*l));
	if (!l) {
		fprintf(stderr, "%s: out of memory\n", prog);
		close(tm->lfd);
		team_ready(tm, -ENOMEM);
		return 1;
	}
	/* With threads, the main thread prints --stats lines for all. */
	serve_init(&l->sv, prog, cfg->o.stats && cfg->o.threads == 1);
	l->sv.tm = tm;
	l->mode = &loop_modes[cfg->mode];
	l->tm = tm;
	l->lfd = tm->lfd;
	l->sfd = tm->ctl;
	l->max_conns = tm->max_conns;

	ret = pool_init(&l->pool, l->max_conns, sizeof(struct uring_conn));
	if (ret) {
		fprintf(stderr, "%s: cannot allocate %u connections: %s\n",
			prog, l->max_conns, strerror(-ret));
		goto err_free;
	}
	ret = conn_env_init(&l->env, cfg->o.buf_size, LOOP_BUF_KEEP);
	if (ret) {
		fprintf(stderr, "%s: cannot allocate buffers: %s\n", prog,
			strerror(-ret));
		goto err_pool;
	}

	/* Size the CQ for every request that can be out at once, so that
	 * completions never wait in the kernel's overflow list (unless
	 * --cq-entries forces a size). A zero-copy send posts two CQEs. */
	rcfg.entries = cfg->ring_entries;
	rcfg.cq_entries =
	    (LOOP_OPS_PER_CONN + (cfg->zc_min ? 1 : 0)) * l->max_conns +
	    LOOP_OPS_EXTRA;
	/* A multishot recv posts one CQE per provided buffer it fills, and a
	 * multishot accept one per connection waiting in the backlog. */
	if (l->mode->segments)
		rcfg.cq_entries += cfg->bufs + 4096;
	rcfg.cq_forced = cfg->cq_entries > 0;
	if (rcfg.cq_forced)
		rcfg.cq_entries = cfg->cq_entries;
	rcfg.defer = cfg->defer;
	rcfg.sqpoll = cfg->sqpoll;
	rcfg.sq_cpu = cfg->sq_cpu;
	rcfg.sq_idle_ms = LOOP_SQ_IDLE_MS;
	ret = ring_init(&l->r, &rcfg, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "%s: %s\n", prog, why);
		goto err_env;
	}
	l->ring_live = true;
	l->r.reap = loop_reap;
	l->r.reap_ctx = l;
	ret =
	    ring_require(&l->r, l->mode->ops, l->mode->nops, why, sizeof(why));
	/* Without EXT_ARG, liburing times waits out with a TIMEOUT request. */
	if (!ret && !(l->r.ring.features & IORING_FEAT_EXT_ARG))
		ret = ring_require(&l->r, timeout_op, 1, why, sizeof(why));
	if (!ret)
		ret = loop_setup_features(l, cfg, nofile, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "%s: %s\n", prog, why);
		goto err_ring;
	}
	if (l->mode->segments) {
		ret = loop_setup_multishot(l, cfg, note, sizeof(note));
		if (ret) {
			fprintf(stderr, "%s: %s\n", prog, note);
			goto err_ring;
		}
	}
	l->cqe_cap = l->r.cq_entries;
	l->cqes = alloc_calloc(l->cqe_cap, sizeof(*l->cqes));
	if (!l->cqes) {
		fprintf(stderr,
			"%s: cannot allocate a batch of %u completions: %s\n",
			prog, l->cqe_cap, strerror(ENOMEM));
		goto err_ring;
	}

	/* On an O_NONBLOCK listener some kernels complete an accept with
	 * -EAGAIN instead of waiting for a connection (liburing issue #364);
	 * io_uring never blocks the thread on a blocking socket anyway. */
	fl = fcntl(l->lfd, F_GETFL);
	if (fl < 0 || fcntl(l->lfd, F_SETFL, fl & ~O_NONBLOCK)) {
		fprintf(stderr, "%s: cannot set up the listener: %s\n", prog,
			strerror(errno));
		goto err_cqes;
	}
	l->sv.lstate = SERVE_LISTEN_ON;
	l->mode->arm_accept(l);
	loop_arm_signal(l);
	if (l->r.err) {
		fprintf(stderr, "%s: cannot submit to the io_uring: %s\n", prog,
			strerror(-l->r.err));
		goto err_cqes;
	}

	ready = true;
	if (team_ready(tm, 0)) {
		/* Another loop failed to set up: stop before serving. */
		rc = 0;
		goto stop;
	}
	ring_describe(&l->r, desc, sizeof(desc));
	if (tm->quiet)
		goto serve;
	loop_warn(l, cfg);
	if (l->zc_loopback_off)
		fprintf(stderr,
			"%s: --send-zc: off on a loopback listener: the kernel "
			"copies every zero-copy send to a local socket, and a "
			"peer with a small receive window would crawl "
			"(--send-zc-loopback forces it)\n",
			prog);
	if (note[0]) {
		/* The default mode fell back: say why, once. */
		fprintf(stderr, "%s: multishot unavailable (%s): using basic\n",
			prog, note);
		note[0] = '\0';
	}
	if (l->br_live)
		snprintf(note, sizeof(note),
			 " bufs=%ux%u max-held=%u recv-cap=%s", l->br.count,
			 l->br.size, l->br.segs.max_held,
			 l->prep.recv_limit ? "limit" : "cancel");
	loop_describe(l, feat, sizeof(feat));
	team_describe(tm, team, sizeof(team));
	fprintf(stderr,
		"%s: mode=%s %s max-conns=%u buf-size=%u%s%s nofile=%lu%s%s\n",
		prog, l->mode->name, desc, tm->max_total, cfg->o.buf_size, note,
		feat, nofile, cfg->o.stats ? " stats=1s" : "", team);

serve:
	ret = loop_serve(l);
	if (ret)
		loop_fail(l, ret);
	else
		rc = 0;
stop:
	loop_stop(l);
	team_closing(tm);
	loop_print_stats(l);
err_cqes:
	alloc_free(l->cqes);
err_ring:
	/* A ring torn down at stop (loop_stop) took the registration with
	 * it; the buffers and tables are still ours to free. */
	if (l->br_live)
		bufring_free(&l->br, l->ring_live ? &l->r.ring : NULL);
	if (l->ring_live)
		ring_exit(&l->r);
err_env:
	conn_env_fini(&l->env);
err_pool:
	pool_fini(&l->pool);
err_free:
	close(tm->lfd);
	if (!ready)
		team_ready(tm, -EINVAL);
	alloc_free(l);
	return rc;
}

int uring_run(const struct uring_config *cfg, const char *prog)
{
	return team_run(&cfg->o, prog, uring_member, (void *)cfg);
}
