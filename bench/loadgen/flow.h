/* SPDX-License-Identifier: MIT */
/*
 * flow.h - one connection's traffic as bookkeeping: what may be sent now,
 * which bytes, and what an echo completes (verified, timed, counted).
 *
 * Sans-I/O: the worker lends buffers and timestamps, flow never calls the
 * kernel, so unit tests drive it with simulated time. No allocation.
 */
#ifndef LOAD_FLOW_H
#define LOAD_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "pace.h"

enum flow_mode {
	FLOW_PINGPONG, /* one message in flight */
	FLOW_PIPELINE, /* depth messages in flight */
	FLOW_STREAM, /* send and receive independently (depth 0: unbounded) */
	FLOW_RATE, /* open loop: messages released by the pace schedule */
};

/* The start time of the messages that one send began. */
struct flow_rec {
	uint64_t msg; /* first message whose first byte went in that send */
	uint64_t t; /* ns, taken just before the send */
};

/* Shared by all connections of a run; read-only while it runs. */
struct flow_cfg {
	enum flow_mode mode;
	uint32_t size; /* message bytes, > 0 */
	uint32_t depth; /* messages in flight at most; 0: no bound (stream) */
	uint32_t rec_cap; /* send records per connection, a power of two
			   * (see flow_rec_cap); 0 in rate mode */
	const struct pace *pace; /* rate mode: the schedule */
};

/* Counters a flow adds to (one set per worker thread). */
struct flow_count {
	uint64_t msgs; /* messages fully echoed */
	uint64_t bytes; /* payload bytes echoed */
};

struct flow {
	const struct flow_cfg *cfg;
	uint64_t seed; /* of this connection's byte stream */
	uint32_t id; /* connection number in the pace schedule */
	uint32_t rec_head, rec_len; /* ring of cfg->rec_cap send records */
	struct flow_rec *rec;
	uint64_t tx_off; /* stream bytes sent */
	uint64_t rx_off; /* stream bytes echoed and verified */
	uint64_t due; /* rate: messages released so far */
	/* After flow_rx returned -EPROTO: where and what. */
	uint64_t err_off; /* stream offset of the first wrong byte */
	int err_want; /* the byte expected there, -1 if none was sent */
	int err_got; /* the byte received */
};

/* flow_rec_cap - send records a connection needs for cfg's mode and depth
 * (0 for rate mode); allocate this many struct flow_rec per connection. */
uint32_t flow_rec_cap(enum flow_mode mode, uint32_t depth);

/* flow_init - a new connection with stream seed and schedule number id;
 * rec holds cfg->rec_cap records and stays owned by the caller. */
void flow_init(struct flow *f, const struct flow_cfg *cfg, uint32_t id,
	       uint64_t seed, struct flow_rec *rec);

/* flow_release - rate mode: n more messages are due for sending. */
void flow_release(struct flow *f, uint64_t n);

/* flow_tx_avail - how many bytes may be sent now (0: wait for echoes,
 * for the schedule, or for a send record to free up). */
uint64_t flow_tx_avail(const struct flow *f);

/* flow_tx_fill - write the next min(flow_tx_avail, cap) bytes to send into
 * buf; returns that count. Nothing is committed until flow_tx_commit. */
size_t flow_tx_fill(const struct flow *f, void *buf, size_t cap);

/* flow_tx_commit - n (<= what flow_tx_fill returned) bytes were sent by a
 * send that started at time now (ns). */
void flow_tx_commit(struct flow *f, size_t n, uint64_t now);

/*
 * flow_rx - n echoed bytes arrived in buf; now is the time they were read.
 * Verifies them against the stream, then records in h the latency of every
 * message they complete (from its first byte's send, or in rate mode from
 * its intended time; h NULL: none) and adds to cnt. Returns 0, or -EPROTO
 * if a byte is wrong or was never sent (err_* say which; nothing counted).
 */
int flow_rx(struct flow *f, const void *buf, size_t n, uint64_t now,
	    struct hist *h, struct flow_count *cnt);

#endif
