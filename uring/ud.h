/* SPDX-License-Identifier: MIT */
/*
 * ud.h - io_uring user_data: op | generation | index, never a bare fd.
 *
 * Bits 0-27 hold the pool index, 28-31 the op, 32-63 the pool generation,
 * so clearing the op bits gives the pool handle. Ops that belong to no
 * connection (accept, signal) use generation 0, which no live slot has.
 */
#ifndef URING_UD_H
#define URING_UD_H

#include <assert.h>
#include <stdint.h>

#define UD_INDEX_BITS 28
#define UD_INDEX_MAX ((1u << UD_INDEX_BITS) - 1)
#define UD_OP_SHIFT UD_INDEX_BITS
#define UD_OP_MASK ((uint64_t)0xf << UD_OP_SHIFT)

/* Op 0 is never used, so user_data 0 is never valid; op 15 is avoided
 * because liburing's own timeouts use user_data ~0 (LIBURING_UDATA_TIMEOUT). */
enum ud_op {
	UD_ACCEPT = 1, /* the listener's accept (generation 0) */
	UD_SIGNAL = 2, /* poll on the signal self-pipe (generation 0) */
	UD_CANCEL = 3, /* a cancel aimed at a generation-0 op */
	UD_RECV = 4, /* a connection's recv */
	UD_SEND = 5, /* a connection's send */
	UD_CANCEL_RECV = 6, /* the cancel of a connection's recv */
	UD_CANCEL_SEND = 7, /* the cancel of a connection's send */
	UD_SHUT = 8, /* a connection's shutdown (direct descriptors) */
	UD_CLOSE = 9, /* the close of a connection's direct descriptor */
	UD_DROP = 10, /* the close of a direct descriptor of no slot */
	UD_ABORT = 11, /* a connection's abort: reset, drop unsent bytes */
	UD_OP_MAX = 14,
};

/* ud_pack - user_data for op on the slot named by handle (gen << 32 | idx,
 * as pool_handle() returns it); handle 0 for ops of no connection. */
static inline uint64_t ud_pack(enum ud_op op, uint64_t handle)
{
	assert((uint32_t)handle <= UD_INDEX_MAX && op <= UD_OP_MAX);
	return handle | (uint64_t)op << UD_OP_SHIFT;
}

/* ud_op - the op a user_data was packed with. */
static inline enum ud_op ud_op(uint64_t ud)
{
	return (enum ud_op)((ud & UD_OP_MASK) >> UD_OP_SHIFT);
}

/* ud_handle - the pool handle (generation << 32 | index), for pool_lookup. */
static inline uint64_t ud_handle(uint64_t ud)
{
	return ud & ~UD_OP_MASK;
}

#endif
