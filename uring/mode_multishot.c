// SPDX-License-Identifier: MIT
/*
 * mode_multishot.c - --mode multishot: multishot accept, multishot recv
 * into a ring of provided buffers; the echo is sent from the buffer the
 * bytes arrived in.
 *
 * Falls back to the connection's own ring (the loop's service) when the
 * shared pool runs dry. Reaches the loop only through loop_int.h; exports
 * one symbol, uring_mode_multishot.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "loop_int.h"
#include "modes.h"
#include "team.h"
#include "ud.h"

#define MS_BGID 0 /* the buffer group of the provided-buffer ring */
/* Largest provided buffer. The kernel takes buffers FIFO, so under load
 * every one is touched: bufs x this is resident (2 MiB by default). */
#define MS_BUF_MAX 4096u
/* Consumed incrementally, a buffer holds the receives of many connections
 * in turn; MS_INC_SLICES ids name their pieces (the most 16 bits allow). */
#define MS_INC_BUF (32u * 1024u)
#define MS_INC_SLICES 65536u
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

/* A multishot recv posts one CQE per provided buffer it fills, and a
 * multishot accept one per connection waiting in the backlog. */
static unsigned ms_cq_extra(const struct uring_config *cfg)
{
	return cfg->bufs + 4096;
}

/* Map and register count buffers of size bytes (slices > 0: consumed
 * incrementally); LOOP_MODE_UNAVAILABLE, with why, if that cannot be. */
static int ms_setup_ring(struct loop *l, uint32_t count, uint32_t size,
			 uint32_t slices, char *why, size_t whylen)
{
	char what[96];
	int ret;

	ret = bufring_setup(&l->br, count, size);
	if (!ret && slices)
		ret = bufring_slices(&l->br, slices);
	if (ret) {
		bufring_free(&l->br, NULL);
		snprintf(why, whylen,
			 "cannot allocate a buffer ring of %u x %u bytes: %s",
			 count, size, strerror(-ret));
		return LOOP_MODE_UNAVAILABLE;
	}
	ret = bufring_register(&l->br, &l->r.ring, MS_BGID);
	if (!ret)
		return 0;
	/* Only the registration is charged to RLIMIT_MEMLOCK: an -ENOMEM
	 * from bufring_setup is plain lack of memory. */
	bufring_free(&l->br, NULL);
	snprintf(what, sizeof(what),
		 "cannot register a buffer ring of %u x %u bytes", count, size);
	if (!ring_memlock_why(ret, what, why, whylen))
		snprintf(why, whylen, "%s: %s", what, strerror(-ret));
	return LOOP_MODE_UNAVAILABLE;
}

/*
 * The pool: cfg->bufs buffers of 4 KiB (at most the per-connection bound),
 * or, where buffers can be consumed incrementally (Linux 6.12), the same
 * bytes as buffers of MS_INC_BUF, each filled by as many receives as fit.
 */
static int ms_setup_bufs(struct loop *l, const struct uring_config *cfg,
			 char *why, size_t whylen)
{
	uint32_t size =
	    cfg->o.buf_size < MS_BUF_MAX ? cfg->o.buf_size : MS_BUF_MAX;
	uint32_t count = cfg->bufs;

	if (cfg->no_buf_inc)
		l->inc_off = "--no-buf-inc";
	else if (size < MS_BUF_MAX)
		l->inc_off = "buf-size<4k";
	else if (!ring_kernel_at_least(6, 12))
		l->inc_off = "needs-Linux-6.12";
	if (!l->inc_off) {
		count = cfg->bufs / (MS_INC_BUF / MS_BUF_MAX);
		if (!count)
			count = 1;
		if (!ms_setup_ring(l, count, MS_INC_BUF,
				   cfg->slices ? cfg->slices : MS_INC_SLICES,
				   why, whylen))
			return 0;
		l->inc_off = "refused";
		count = cfg->bufs;
	}
	return ms_setup_ring(l, count, size, 0, why, whylen);
}

/* Multishot needs multishot recv (Linux 6.0) and a registered buffer ring
 * (5.19). */
static int ms_setup(struct loop *l, const struct uring_config *cfg, char *why,
		    size_t whylen)
{
	int ret;

	if (!ring_kernel_at_least(6, 0)) {
		snprintf(why, whylen,
			 "--mode multishot: multishot recv needs Linux 6.0");
		return LOOP_MODE_UNAVAILABLE;
	}
	ret = ms_setup_bufs(l, cfg, why, whylen);
	if (ret)
		return ret;
	/* Slices are counted as 4 KiB buffers would be. A multishot recv
	 * stops at its byte limit exactly only as a bundle (without, its
	 * last receive may fill a whole buffer past it: with 32 KiB buffers,
	 * too far past the per-connection bound). */
	if (l->br.slices) {
		l->br.segs.max_held = cfg->o.buf_size / MS_BUF_MAX;
		/* --slices is there to make ids run out: keep none back. */
		if (cfg->slices)
			l->br.reserve = 0;
		if (l->r.ring.features & IORING_FEAT_RECVSEND_BUNDLE)
			l->prep.bundle = true;
	}
	l->prep.bgid = MS_BGID;
	/* A multishot recv stops itself at the connection's bound (6.17);
	 * before, only a cancel stops it, and it may overshoot meanwhile. */
	l->prep.recv_limit = !cfg->no_recv_limit && ring_kernel_at_least(6, 17);
	ret = conn_env_segs(&l->sv.env, &l->br.segs);
	if (ret) {
		snprintf(why, whylen, "cannot use the buffer ring: %s",
			 strerror(-ret));
		return ret;
	}
	return 0;
}

static void ms_describe(const struct loop *l, char *buf, size_t len)
{
	char inc[48];

	/* Whole buffers say why: the fallback is never silent. */
	if (l->br.slices)
		snprintf(inc, sizeof(inc), " inc slices=%u", l->br.slices);
	else
		snprintf(inc, sizeof(inc), " inc=off(%s)",
			 l->inc_off ? l->inc_off : "?");
	snprintf(buf, len, " bufs=%ux%u%s max-held=%u recv-cap=%s", l->br.count,
		 l->br.size, inc, l->br.segs.max_held,
		 l->prep.recv_limit ? "limit" : "cancel");
}

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
	room = l->sv.max_conns - l->sv.pool.used - l->accepts;
	if (room == 0 && l->accepts == 0) {
		serve_pause_full(&l->sv);
		return;
	}
	multi = l->accepts == 0 && room > MS_ACCEPT_MULTI_ROOM;
	while (room > 0 && (multi || l->accepts < MS_ACCEPT_BATCH)) {
		sqe = loop_sqe(l);
		if (!sqe)
			return;
		prep_accept(&l->prep, sqe, l->sv.lfd, multi);
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

/* Stop a multishot accept that must not go on: the room left no longer
 * holds a backlog, out of descriptors (it would fail again at once), or
 * shutting down. */
static void ms_accept_maybe_cancel(struct loop *l, bool go_on)
{
	if (!l->accept_multi || l->accept_cancelling)
		return;
	if (go_on && l->sv.lstate == SERVE_LISTEN_ON &&
	    l->sv.max_conns - l->sv.pool.used > MS_ACCEPT_MULTI_ROOM)
		return;
	if (loop_cancel(l, ud_pack(UD_ACCEPT, 0), ud_pack(UD_CANCEL, 0), 0))
		l->accept_cancelling = true;
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
		if (l->sv.pool.used < l->sv.max_conns ||
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
	ms_accept_maybe_cancel(l, go_on);
	if (!go_on)
		return;
	if (was_multi && !more && res >= 0)
		l->sv.st.rearms++;
	ms_arm_accept(l);
}

static void ms_arm_recv(struct loop *l, struct uring_conn *u)
{
	uint64_t ud = ud_pack(UD_RECV, uconn_handle(l, u));
	struct conn *c = uconn_core(u);
	struct io_uring_sqe *sqe;

	/*
	 * Provided buffers only while the own ring is idle (ring bytes must
	 * stay newer than held buffers) and the pool has some. Otherwise one
	 * recv into the connection's own ring: when stuck readers hold the
	 * whole pool, the others still make progress.
	 */
	if (!conn_ring_idle(c) && bufring_can_take(&l->br) &&
	    !(u->state & ST_NOBUF) && (u->reqs & REQ_SEND)) {
		/* Own-ring bytes (after an -ENOBUFS) are still going out:
		 * arm the multishot recv once that send completes and the
		 * ring is idle, instead of staying on one-shot recvs into the
		 * ring for as long as the peer keeps the ping-pong going. */
		l->sv.st.ring_waits++;
		return;
	}
	if (!conn_ring_idle(c) || !bufring_can_take(&l->br) ||
	    (u->state & ST_NOBUF)) {
		req_recv_own(l, u);
		return;
	}
	sqe = loop_sqe(l);
	if (!sqe) {
		conn_fail(c, l->r.err);
		return;
	}
	prep_recv_multishot(&l->prep, sqe, u->fd, (uint32_t)conn_rx_room(c));
	io_uring_sqe_set_data64(sqe, ud);
	u->reqs |= REQ_RECV;
	l->sv.st.recv_calls++;
}

/*
 * A piece that found no slice id free, or that arrived after one such:
 * its bytes are copied to the connection's own ring, newer than every
 * held piece, and the multishot recv is stopped; the connection goes on
 * from its own ring, as after -ENOBUFS. Only when there is no room there
 * either does it fail.
 */
static void ms_copy_in(struct loop *l, struct uring_conn *u, const uint8_t *p,
		       uint32_t n)
{
	struct conn *c = uconn_core(u);
	uint8_t *w;
	size_t k;

	l->sv.st.slice_copies++;
	u->state |= ST_NOBUF;
	loop_stop_recv(l, u);
	while (n && !conn_error(c)) {
		if (!(conn_wants(c) & CONN_WANT_READ) ||
		    conn_rx_window(c, &w, &k)) {
			conn_fail(c, -ENOBUFS);
			return;
		}
		if (k > n)
			k = n;
		memcpy(w, p, k);
		conn_rx_commit(c, k);
		p += k;
		n -= (uint32_t)k;
	}
}

/*
 * A completion named provided buffer id with res bytes in it and, for a
 * bundle, in the buffers the kernel took after it, each filled to its end
 * but the last. The connection holds the pieces: kept, not copied, the
 * echo is sent from them.
 */
static void ms_take(struct loop *l, struct uring_conn *u, uint16_t id, int res,
		    unsigned flags)
{
	struct conn *c = uconn_core(u);
	struct bufring_take t;
	unsigned pieces = 0;
	uint32_t k;
	uint16_t sid;
	uint8_t *p;
	int ret;

	bufring_take_init(&t, id, res, flags);
	while ((ret = bufring_take_next(&l->br, &t, &sid, &p, &k)) != 0) {
		pieces++;
		if (ret > 0 && conn_ring_idle(c) && !conn_error(c)) {
			conn_rx_segment(c, sid, k);
			continue;
		}
		if (!conn_error(c))
			ms_copy_in(l, u, p, k);
		if (ret > 0)
			bufring_release(&l->br, sid);
	}
	if (res <= 0)
		return;
	l->sv.st.bytes_in += (uint64_t)res;
	if (pieces > 1)
		l->sv.st.bundles++;
	serve_held(&l->sv, conn_buffered(c));
	if (!(conn_wants(c) & CONN_WANT_READ) && !conn_error(c))
		l->sv.st.full++;
}

/* The multishot recv ended (no MORE) with res; drive arms a new one if
 * the core wants to read. */
static void ms_recv_ended(struct loop *l, struct uring_conn *u, int res)
{
	u->reqs &= ~REQ_RECV;
	u->state &= ~ST_RECV_STOP;
	if (res == 0) {
		conn_rx_eof(uconn_core(u));
	} else if (res == -ENOBUFS) {
		/* Flow control, not an error: the next recv goes to the own
		 * ring, and buffers are tried again after. */
		l->sv.st.enobufs++;
		u->state |= ST_NOBUF;
	} else if (res == -ECANCELED && !uconn_closing(u)) {
		/* Our own cancel at the per-connection cap. */
	} else if (res < 0) {
		loop_io_error(l, u, res);
	} else {
		l->sv.st.rearms++;
	}
}

static void ms_on_recv(struct loop *l, struct uring_conn *u, int res,
		       unsigned flags)
{
	uint16_t id;

	if (u->reqs & REQ_RECV_OWN) {
		req_on_recv_own(l, u, res);
		return;
	}
	if (flags & IORING_CQE_F_BUFFER) {
		id = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);
		ms_take(l, u, id, res, flags);
	}
	if (!(flags & IORING_CQE_F_MORE))
		ms_recv_ended(l, u, res);
	loop_drive(l, u);
}

/* Closing: the buffers of bytes never echoed go back to the kernel. */
static void ms_drop_held(struct loop *l, struct uring_conn *u)
{
	int id;

	while ((id = conn_seg_drop(uconn_core(u))) >= 0)
		bufring_release(&l->br, (uint16_t)id);
}

const struct uring_mode uring_mode_multishot = {
	.name = "multishot",
	.bundles = true,
	.cq_extra = ms_cq_extra,
	.setup = ms_setup,
	.describe = ms_describe,
	.arm_accept = ms_arm_accept,
	.on_accept = ms_on_accept,
	.arm_recv = ms_arm_recv,
	.on_recv = ms_on_recv,
	.drop_held = ms_drop_held,
};
