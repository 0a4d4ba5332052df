/* SPDX-License-Identifier: MIT */
/*
 * loop_int.h - the completion loop's inside, for its own files only: the
 * connection and loop structs, the hooks a mode fills in (struct
 * uring_mode), and the services loop.c and reqs.c offer the modes and
 * setup.c.
 *
 * Arrows run one way: the modes and setup.c include this header; loop.c
 * and reqs.c implement it and reach a mode only through its hooks.
 */
#ifndef URING_LOOP_INT_H
#define URING_LOOP_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bufring.h"
#include "conn.h"
#include "loop.h"
#include "pool.h"
#include "prep.h"
#include "ring.h"
#include "serve.h"

/*
 * A connection's requests in flight (uring_conn.reqs): each bit is set
 * when its SQE is prepared and cleared by its last completion. A
 * connection is closed only when none is set.
 */
enum {
	REQ_RECV = 1u << 0, /* a recv */
	REQ_RECV_OWN = 1u << 1, /* that recv is into the own ring (lent) */
	REQ_SEND = 1u << 2, /* a send: its tx window is lent */
	REQ_SEND_ZC = 1u << 3, /* that send is zero-copy */
	REQ_ZC_NOTIF = 1u << 4, /* its result is in, its notification not */
	REQ_RECV_CANCEL = 1u << 5, /* the cancel of the recv */
	REQ_SEND_CANCEL = 1u << 6, /* the cancel of the send */
	REQ_ABORT = 1u << 7, /* the abort (reset) of the connection */
	REQ_SHUT = 1u << 8, /* a shutdown (direct descriptors) */
	REQ_FD_CLOSE = 1u << 9, /* the close of the direct descriptor */
};

/* What a connection has decided (uring_conn.state). */
enum {
	ST_CLOSING = 1u << 0, /* close once no request is in flight */
	/* The recv in flight was asked to end: cleared only by its own last
	 * completion, so it is cancelled once, whatever the cancel's own
	 * completion says and whenever it comes. */
	ST_RECV_STOP = 1u << 1,
	ST_NOBUF = 1u << 2, /* multishot: the pool ran dry; use the own ring */
	ST_ZC_OFF = 1u << 3, /* the next send copies: zero-copy was refused */
	ST_SEND_WANTED = 1u << 4, /* a send goes out at the batch's end */
};

/* Spans one send may carry: the held buffers, then the own ring's one or
 * two runs. All a connection holds goes out in one request (SENDMSG when
 * it is more than one span); 8 covers a 16 KiB message in 4 KiB buffers
 * with room to spare. */
#define LOOP_TX_SPANS 8

/* The spans of the send in flight, and the header of a SENDMSG when there
 * are several: the kernel may read them until the completion. Kept in
 * an array of its own beside the pool, touched only by the slots that
 * send (an idle connection never writes its entry), so that the pool's
 * slots stay small. */
struct uring_tx {
	struct msghdr msg;
	struct iovec iov[LOOP_TX_SPANS];
};

/* A connection: the pool's slot (the core's state) and its requests. */
struct uring_conn {
	struct pool_slot slot;
	int fd;
	uint16_t reqs; /* REQ_* */
	uint16_t state; /* ST_* */
	uint32_t tx_len; /* bytes offered by the send in flight */
	int32_t tx_res; /* a zero-copy send's result, until its notification
			 * says the bytes may be reused */
};

/* A completion copied off the CQ, so that handlers may submit (and the
 * SQE getter may reap) while a batch is being handled. */
struct loop_cqe {
	uint64_t ud;
	int32_t res;
	uint32_t flags;
};

struct loop {
	struct serve sv; /* pool, buffers, counters, accept state, timers */
	const struct uring_mode *mode;
	struct ring r;
	bool ring_live;
	struct prep prep; /* how SQEs are shaped: the feature flags */
	unsigned files; /* --fixed-files: slots in the direct file table */
	bool zc_loopback_off; /* --send-zc refused: a loopback listener */
	/* Provided buffers, set up by a mode that receives into them; left
	 * zeroed otherwise, which makes every bufring call on it a no-op. */
	struct bufring br;
	bool accept_multi; /* the accept in flight is multishot */
	const char *inc_off; /* multishot: why buffers are consumed whole */
	bool accept_cancelling; /* and its cancel is on the way */
	unsigned accepts; /* accept requests in flight */
	bool sig_armed;
	bool stopping;
	uint64_t inflight; /* requests whose last completion is to come */
	struct uring_tx *tx; /* per slot: the spans of its send in flight */
	uint64_t *tx_wanted; /* handles: sends to issue at the batch's end */
	uint32_t ntx_wanted;
	uint32_t tx_wanted_cap; /* twice the slots: stale entries too */
	bool tx_flushing; /* in req_flush_sends: drive sends at once */
	struct loop_cqe *cqes; /* reaped, not yet handled */
	uint32_t ncqe;
	uint32_t cqe_cap;
};

/* mode setup: the mode cannot run on this system (why says why). */
#define LOOP_MODE_UNAVAILABLE 1

/*
 * How connections use the ring: one const struct per mode file. The loop
 * calls these hooks and nothing else of a mode; sends, cancels and closes
 * are the loop's own.
 */
struct uring_mode {
	const char *name;
	bool bundles; /* its receives can take bundles (--bundle) */
	/* cq_extra - CQ entries the mode adds to the loop's own count. */
	unsigned (*cq_extra)(const struct uring_config *cfg);
	/* setup - after the ring: 0; LOOP_MODE_UNAVAILABLE, or -errno
	 * (fatal), with a one-line reason in why. */
	int (*setup)(struct loop *l, const struct uring_config *cfg, char *why,
		     size_t whylen);
	/* describe - the mode's part of the start-up line ("" or " x=y"). */
	void (*describe)(const struct loop *l, char *buf, size_t len);
	void (*arm_accept)(struct loop *l);
	void (*on_accept)(struct loop *l, int res, unsigned flags);
	/* arm_recv - the core wants to read and no recv is in flight. */
	void (*arm_recv)(struct loop *l, struct uring_conn *u);
	void (*on_recv)(struct loop *l, struct uring_conn *u, int res,
			unsigned flags);
	/* drop_held - closing: give back what the connection holds. */
	void (*drop_held)(struct loop *l, struct uring_conn *u);
};

/* The named states a decision reads. */
static inline bool uconn_closing(const struct uring_conn *u)
{
	return u->state & ST_CLOSING;
}

/* A recv that stays armed: multishot, into provided buffers. */
static inline bool uconn_recv_multishot(const struct uring_conn *u)
{
	return (u->reqs & (REQ_RECV | REQ_RECV_OWN)) == REQ_RECV;
}

/* The recv in flight will report what the peer does next: multishot,
 * not asked to stop, and the connection stays open. */
static inline bool uconn_recv_stays_armed(const struct uring_conn *u)
{
	return uconn_recv_multishot(u) &&
	       !(u->state & (ST_RECV_STOP | ST_CLOSING));
}

/* Requests whose completion is still to come, besides a descriptor's
 * close: while any is out, the connection may not close. */
static inline bool uconn_busy(const struct uring_conn *u)
{
	return u->reqs & (REQ_RECV | REQ_SEND | REQ_SHUT | REQ_RECV_CANCEL |
			  REQ_SEND_CANCEL | REQ_ABORT);
}

static inline struct conn *uconn_core(struct uring_conn *u)
{
	return &u->slot.conn;
}

static inline uint64_t uconn_handle(const struct loop *l,
				    const struct uring_conn *u)
{
	return pool_handle(&l->sv.pool, &u->slot);
}

/* --- services for the modes (loop.c) -------------------------------- */

/* loop_sqe - an SQE counted as in flight, or NULL (fatal: kept in
 * l->r.err). The caller prepares it, then sets its user_data. */
struct io_uring_sqe *loop_sqe(struct loop *l);

/* loop_cancel - cancel the request target (every request with that
 * user_data if flags has IORING_ASYNC_CANCEL_ALL); ud is the cancel's
 * own. Returns false if no SQE could be had. */
bool loop_cancel(struct loop *l, uint64_t target, uint64_t ud, unsigned flags);

/* loop_drive - submit what the core wants and is not in flight yet, or
 * close when it wants nothing. Called after every change. */
void loop_drive(struct loop *l, struct uring_conn *u);

/* loop_stop_recv - ask u's recv in flight to end (a cancel, once per recv);
 * what it delivers before the cancel lands is still handled. */
void loop_stop_recv(struct loop *l, struct uring_conn *u);

/* loop_add_conn - an accepted descriptor: a connection, or refused (and
 * closed) when the pool is full or the loop stops. */
void loop_add_conn(struct loop *l, int fd);

/* loop_drop_fd - close a descriptor that never got a slot. */
void loop_drop_fd(struct loop *l, int fd);

/* loop_accept_error - an accept failed with res: true if accepting may
 * go on at once (serve_accept_failed's policy; our own cancels pass). */
bool loop_accept_error(struct loop *l, int res);

/* loop_io_error - a recv or send failed with res (its window returned):
 * not news while closing, retried on -EINTR/-EAGAIN, else fails the
 * connection. */
void loop_io_error(struct loop *l, struct uring_conn *u, int res);

/* --- a connection's requests (reqs.c) ------------------------------ */

/* req_recv_own - one recv into the connection's own ring (the core's rx
 * window); on failure the core has failed the connection. */
void req_recv_own(struct loop *l, struct uring_conn *u);

/* req_on_recv_own - the completion of req_recv_own's recv: commit, EOF
 * or error, then drive. */
void req_on_recv_own(struct loop *l, struct uring_conn *u, int res);

/* req_send - send all the core holds for u, in order, in one request
 * (one send in flight at most). */
void req_send(struct loop *l, struct uring_conn *u);

/* req_send_later - the core wants to send: issue it once this batch of
 * completions is handled (req_flush_sends), so that every buffer the
 * batch delivered goes out in the one request. */
void req_send_later(struct loop *l, struct uring_conn *u);

/* req_flush_sends - issue the sends the batch asked for; entries of
 * connections closed since (their handle is stale) are skipped. */
void req_flush_sends(struct loop *l);

/* req_tx_return - n bytes of the lent spans were sent (0: none, the
 * send failed or never went): commit them and give the provided buffers
 * now fully echoed back to the kernel. */
void req_tx_return(struct loop *l, struct uring_conn *u, size_t n);

/* req_on_send - a send's completion (a zero-copy send has two). */
void req_on_send(struct loop *l, struct uring_conn *u, int res, unsigned flags);

/* req_shutdown - shut the write side, as the core asks. */
void req_shutdown(struct loop *l, struct uring_conn *u);

/* req_on_shut - the shutdown request completed (direct descriptors). */
void req_on_shut(struct loop *l, struct uring_conn *u, int res);

/* req_abort - reset the connection, once: a closing connection's
 * zero-copy send waits for a notification no cancel hurries. */
void req_abort(struct loop *l, struct uring_conn *u);

/* --- services for setup.c (loop.c) ---------------------------------- */

/* loop_reap - copy every visible CQE into the batch; ring's reap hook. */
void loop_reap(void *ctx);

/* loop_arm_signal - poll the signal or control pipe. */
void loop_arm_signal(struct loop *l);

/* loop_serve - serve until a stop signal; 0, or -errno if the ring
 * failed (-EBADR: completions were lost). */
int loop_serve(struct loop *l);

/* loop_stop - stop accepting, close every connection, wait (bounded)
 * until no request is in flight. */
void loop_stop(struct loop *l);

/* loop_refresh_stats - copy what the ring counts into the counters
 * (serve's refresh hook, run before every stats line). */
void loop_refresh_stats(struct serve *sv);

#endif
