// SPDX-License-Identifier: MIT
/*
 * reqs.c - a connection's requests other than the mode's: the send (plain
 * or zero-copy), the shutdown, the abort, and the receive into the
 * connection's own ring, which both modes use; each with its completion,
 * which commits to the core and drives the connection on.
 *
 * Part of the loop (loop_int.h); it decides nothing a mode decides.
 */
#include <errno.h>
#include <sys/socket.h>

#include "loop_int.h"
#include "ud.h"

/*
 * Closing, with a zero-copy send whose result is in: it waits for its
 * notification, which comes once the peer has acknowledged the bytes. No
 * cancel hurries it, and a peer that reads no more would pin the
 * connection for good, so reset the connection instead (what the peer has
 * not read is lost, as in any abortive close); the reset releases the
 * pages and the notification follows.
 */
void req_abort(struct loop *l, struct uring_conn *u)
{
	struct io_uring_sqe *sqe;

	if (u->reqs & REQ_ABORT)
		return;
	sqe = loop_sqe(l);
	if (!sqe)
		return;
	prep_abort(&l->prep, sqe, u->fd);
	io_uring_sqe_set_data64(sqe, ud_pack(UD_ABORT, uconn_handle(l, u)));
	u->reqs |= REQ_ABORT;
	l->sv.st.cancels++;
}

/* A quiet send: its completion will only recycle a buffer, because it
 * carries the connection's last bytes, copied, while a multishot recv
 * stays armed to report what the peer does next. So the next wait need
 * not return for it alone. */
static bool req_send_is_quiet(struct uring_conn *u, size_t len)
{
	struct conn *c = uconn_core(u);

	return uconn_recv_stays_armed(u) && !(u->reqs & REQ_SEND_ZC) &&
	       len == conn_buffered(c) && (conn_wants(c) & CONN_WANT_READ);
}

void req_tx_return(struct loop *l, struct uring_conn *u, size_t n)
{
	uint16_t done[LOOP_TX_SPANS];
	unsigned i, k;

	k = conn_tx_commit_iov(uconn_core(u), n, done);
	for (i = 0; i < k; i++)
		bufring_release(&l->br, done[i]);
}

void req_send(struct loop *l, struct uring_conn *u)
{
	uint64_t ud = ud_pack(UD_SEND, uconn_handle(l, u));
	struct uring_tx *t = &l->tx[pool_index(&l->sv.pool, &u->slot)];
	struct conn *c = uconn_core(u);
	bool zc = !(u->state & ST_ZC_OFF);
	struct io_uring_sqe *sqe;
	unsigned n;
	size_t len;

	n = conn_tx_iov(c, t->iov, LOOP_TX_SPANS, &len);
	sqe = loop_sqe(l);
	if (!sqe) {
		req_tx_return(l, u, 0);
		conn_fail(c, l->r.err);
		return;
	}
	if (n == 1) {
		zc = prep_send(&l->prep, sqe, u->fd, t->iov[0].iov_base, len,
			       zc);
	} else {
		t->msg.msg_iov = t->iov;
		t->msg.msg_iovlen = n;
		zc = prep_sendmsg(&l->prep, sqe, u->fd, &t->msg, len, zc);
		l->sv.st.sendmsgs++;
		l->sv.st.send_spans += n;
	}
	if (zc) {
		u->reqs |= REQ_SEND_ZC;
		l->sv.st.zc_sends++;
	}
	u->state &= ~ST_ZC_OFF;
	io_uring_sqe_set_data64(sqe, ud);
	u->tx_len = (uint32_t)len;
	u->reqs |= REQ_SEND;
	l->sv.st.send_calls++;
	if (req_send_is_quiet(u, len))
		l->r.quiet++;
}

void req_send_later(struct loop *l, struct uring_conn *u)
{
	/* Full only after many closes and reuses in one batch: send now. */
	if (l->ntx_wanted == l->tx_wanted_cap) {
		req_send(l, u);
		return;
	}
	u->state |= ST_SEND_WANTED;
	l->tx_wanted[l->ntx_wanted++] = uconn_handle(l, u);
}

void req_flush_sends(struct loop *l)
{
	struct uring_conn *u;
	uint32_t i;

	l->tx_flushing = true;
	for (i = 0; i < l->ntx_wanted; i++) {
		u = (struct uring_conn *)pool_lookup(&l->sv.pool,
						     l->tx_wanted[i]);
		if (!u || !(u->state & ST_SEND_WANTED))
			continue;
		u->state &= ~ST_SEND_WANTED;
		loop_drive(l, u);
	}
	l->ntx_wanted = 0;
	l->tx_flushing = false;
}

/* Shut the write side, as the core asks once everything is echoed. A
 * direct descriptor is no fd for shutdown(2): then it is a request. */
void req_shutdown(struct loop *l, struct uring_conn *u)
{
	struct conn *c = uconn_core(u);
	struct io_uring_sqe *sqe;

	l->sv.st.shutdowns++;
	if (!l->prep.fixed) {
		if (shutdown(u->fd, SHUT_WR))
			conn_fail(c, -errno);
		else
			conn_shut_done(c);
		return;
	}
	sqe = loop_sqe(l);
	if (!sqe) {
		conn_fail(c, l->r.err);
		return;
	}
	prep_shutdown(&l->prep, sqe, u->fd);
	io_uring_sqe_set_data64(sqe, ud_pack(UD_SHUT, uconn_handle(l, u)));
	u->reqs |= REQ_SHUT;
}

/* The send in flight is over: commit what it sent. */
static void req_send_done(struct loop *l, struct uring_conn *u, int res)
{
	u->reqs &= ~REQ_SEND;
	if (res >= 0) {
		/* A short send is normal: the next one starts at the rest. A
		 * provided buffer fully echoed goes back to the kernel. */
		req_tx_return(l, u, (size_t)res);
		serve_tx(&l->sv, (size_t)res, u->tx_len);
	} else {
		req_tx_return(l, u, 0);
		loop_io_error(l, u, res);
	}
	loop_drive(l, u);
}

/*
 * A send's completion. A zero-copy send has two: its result (flagged MORE)
 * and later a notification that the kernel no longer reads the bytes. Only
 * then may the window be committed: a committed window is recycled (the
 * own ring takes new bytes, a provided buffer goes back to the kernel).
 */
void req_on_send(struct loop *l, struct uring_conn *u, int res, unsigned flags)
{
	if (!(u->reqs & REQ_SEND_ZC)) {
		req_send_done(l, u, res);
		return;
	}
	if (flags & IORING_CQE_F_NOTIF) {
		l->sv.st.zc_notifs++;
		if ((uint32_t)res & IORING_NOTIF_USAGE_ZC_COPIED)
			l->sv.st.zc_copied++;
		res = u->tx_res;
	} else if (flags & IORING_CQE_F_MORE) {
		u->tx_res = res;
		u->reqs |= REQ_ZC_NOTIF;
		/* Cancelled by a close (the result came after it began). */
		if (uconn_closing(u))
			req_abort(l, u);
		return;
	}
	u->reqs &= ~(REQ_SEND_ZC | REQ_ZC_NOTIF);
	if (res == -ENOMEM && !uconn_closing(u)) {
		/* Pinning the pages was refused: without CAP_IPC_LOCK each
		 * zero-copy send in flight is charged to RLIMIT_MEMLOCK.
		 * Send the same bytes again, copying. */
		l->sv.st.zc_refused++;
		req_tx_return(l, u, 0);
		u->reqs &= ~REQ_SEND;
		u->state |= ST_ZC_OFF;
		loop_drive(l, u);
		return;
	}
	req_send_done(l, u, res);
}

/* The shutdown request completed (direct descriptors). */
void req_on_shut(struct loop *l, struct uring_conn *u, int res)
{
	u->reqs &= ~REQ_SHUT;
	if (!uconn_closing(u)) {
		if (res < 0)
			conn_fail(uconn_core(u), res);
		else
			conn_shut_done(uconn_core(u));
	}
	loop_drive(l, u);
}

/* --- the receive into a connection's own ring (both modes) ---------- */

void req_recv_own(struct loop *l, struct uring_conn *u)
{
	uint64_t ud = ud_pack(UD_RECV, uconn_handle(l, u));
	struct conn *c = uconn_core(u);
	struct io_uring_sqe *sqe;
	uint8_t *p;
	size_t len;

	/* On -ENOMEM the core has failed the connection: drive closes it. */
	if (conn_rx_window(c, &p, &len))
		return;
	sqe = loop_sqe(l);
	if (!sqe) {
		conn_rx_commit(c, 0);
		conn_fail(c, l->r.err);
		return;
	}
	prep_recv(&l->prep, sqe, u->fd, p, len);
	io_uring_sqe_set_data64(sqe, ud);
	u->reqs |= REQ_RECV | REQ_RECV_OWN;
	l->sv.st.recv_calls++;
}

void req_on_recv_own(struct loop *l, struct uring_conn *u, int res)
{
	struct conn *c = uconn_core(u);

	u->reqs &= ~(REQ_RECV | REQ_RECV_OWN);
	u->state &= ~(ST_RECV_STOP | ST_NOBUF);
	if (res > 0) {
		conn_rx_commit(c, (size_t)res);
		serve_rx(&l->sv, c, (size_t)res);
	} else if (res == 0) {
		conn_rx_eof(c);
	} else {
		conn_rx_commit(c, 0);
		loop_io_error(l, u, res);
	}
	loop_drive(l, u);
}
