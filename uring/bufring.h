/* SPDX-License-Identifier: MIT */
/*
 * bufring.h - a provided-buffer ring for multishot receives.
 *
 * The kernel picks a free buffer for each receive and reports its id; the
 * echo is sent straight from it and only then is it given back. liburing
 * 2.3 lacks io_uring_setup_buf_ring, so the ring is mapped and registered
 * here by hand. The core (common/conn.c) keeps the per-connection books
 * through the conn_segs table this module fills in. It also remembers the
 * order buffers were offered in, which a recv bundle needs (Linux 6.10: one
 * completion names only the first of the consecutive buffers it filled).
 *
 * With incremental consumption (IOU_PBUF_RING_INC, Linux 6.12) a buffer
 * stays at the head of the ring until it is full, and each receive fills
 * only the next part of it: the parts of one buffer may belong to several
 * connections. Each part is then a slice with an id of its own, which the
 * core holds as it would a whole buffer; a buffer goes back to the kernel
 * once the kernel has retired it (a completion without IORING_CQE_F_BUF_MORE)
 * and every slice of it has been echoed.
 */
#ifndef URING_BUFRING_H
#define URING_BUFRING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "conn.h"

struct bufring {
	struct io_uring_buf_ring *br; /* the shared ring of free buffers */
	size_t br_bytes;
	uint8_t *mem; /* count * size bytes of buffers */
	size_t mem_bytes;
	uint32_t count; /* a power of two, at most 32768 */
	uint32_t size;
	uint16_t bgid;
	bool registered; /* with the ring, as buffer group bgid */
	uint16_t pending; /* buffers added since the last publish */
	uint32_t avail; /* buffers the kernel may pick from now */
	uint16_t *succ; /* per buffer: the one offered right after it */
	uint16_t last; /* the buffer offered last */
	struct conn_segs segs; /* indexed by buffer, or by slice (inc) */
	/* Incremental consumption only (slices > 0): */
	uint32_t slices; /* slice ids, at most 65536 */
	uint32_t *used; /* per buffer: bytes the kernel has filled */
	uint32_t *refs; /* per buffer: slices of it still held */
	uint8_t *retired; /* per buffer: the kernel is done with it */
	uint16_t *sbuf; /* per slice: the buffer it lies in */
	uint16_t *sfree; /* slice ids given back, a stack */
	uint32_t nfree; /* ids on that stack */
	uint32_t fresh; /* ids from here up were never handed out */
	uint32_t reserve; /* ids kept back from new receives */
	uint64_t lost; /* pieces that found no free slice id */
};

/*
 * A completion's walk over what it filled: buffer id, then (a bundle) its
 * successors, in pieces the core holds. See bufring_take_init/next.
 */
struct bufring_take {
	uint16_t id; /* buffer the next piece lies in */
	uint32_t left; /* bytes not yet walked */
	bool more; /* the completion had IORING_CQE_F_BUF_MORE */
	bool empty; /* it named a buffer with no bytes in it */
};

/* Slice ids kept by default for the receives already armed when new ones
 * stop being given the ring (bufring_can_take): a sixteenth. */
#define BUFRING_SLICE_RESERVE(slices) ((slices) / 16u)

#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2 /* Linux 6.12; liburing 2.3 predates it */
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4)
#endif

/*
 * bufring_setup - map count buffers of size bytes and the ring of their
 * entries, and allocate the per-buffer tables. Returns 0, -EINVAL (count
 * not a power of two in 1..32768, or size 0) or -ENOMEM (nothing is left
 * allocated). Undone by bufring_free.
 */
int bufring_setup(struct bufring *b, uint32_t count, uint32_t size);

/*
 * bufring_slices - after bufring_setup, before bufring_register: consume
 * buffers incrementally, handing out up to slices (1..65536) slice ids;
 * segs is then indexed by slice, and reserve (BUFRING_SLICE_RESERVE by
 * default; the driver may change it) of them are kept back from new
 * receives. Returns 0, -EINVAL or -ENOMEM (b is left
 * as bufring_setup made it).
 */
int bufring_slices(struct bufring *b, uint32_t slices);

/*
 * bufring_register - register b as buffer group bgid on ring (incremental
 * if bufring_slices was called) and offer every buffer to the kernel.
 * Returns 0 or the registration's error (-EINVAL on kernels before 5.19,
 * or before 6.12 when incremental; -ENOMEM when the locked-memory limit is
 * reached); b stays set up either way.
 */
int bufring_register(struct bufring *b, struct io_uring *ring, uint16_t bgid);

/* bufring_put - give buffer id back to the kernel (seen after publish). */
void bufring_put(struct bufring *b, uint16_t id);

/* bufring_publish - make every buffer put since the last call visible to
 * the kernel: one store of the tail per batch, not one per buffer. */
void bufring_publish(struct bufring *b);

/* bufring_taken - the kernel consumed one buffer (a completion named it). */
static inline void bufring_taken(struct bufring *b)
{
	b->avail--;
}

/*
 * bufring_succ - the buffer the kernel takes after id: the next entry of
 * the ring. A bundle's completion names its first buffer; the others are
 * its successors. Valid while id is consumed and not yet put back: the
 * link is written when its successor is offered and changes only when id
 * itself is offered again, whatever order completions arrive in.
 */
static inline uint16_t bufring_succ(const struct bufring *b, uint16_t id)
{
	return b->succ[id];
}

/* bufring_take_init - start the walk of a completion that named buffer
 * id (IORING_CQE_F_BUFFER) with n bytes (0 if res <= 0), its flags. */
static inline void bufring_take_init(struct bufring_take *t, uint16_t id,
				     int res, unsigned flags)
{
	t->id = id;
	t->left = res > 0 ? (uint32_t)res : 0;
	t->more = flags & IORING_CQE_F_BUF_MORE;
	t->empty = res <= 0;
}

/*
 * bufring_take_next - the next piece of the walk: 1 with its id (a buffer,
 * or a slice with incremental consumption) in *id and its length in *len,
 * which the caller now holds and hands back with bufring_release; 0 when
 * the walk is over; *p is where its bytes are. -ENOSPC: no slice id was
 * free, the piece's *len bytes at *p are the caller's to copy before the
 * next bufring_publish, and nothing is held (the walk goes on). Buffers the kernel is done with leave the
 * count of those it may pick as the walk passes them. Call until it
 * returns 0, even for n == 0: a buffer named with no bytes goes back.
 */
int bufring_take_next(struct bufring *b, struct bufring_take *t, uint16_t *id,
		      uint8_t **p, uint32_t *len);

/* bufring_can_take - a new receive may be given the ring: buffers are
 * offered and (incremental) slice ids are not running short. */
static inline bool bufring_can_take(const struct bufring *b)
{
	return b->avail &&
	       (!b->slices || b->nfree + (b->slices - b->fresh) > b->reserve);
}

/* bufring_release - a piece from bufring_take_next was echoed (or dropped):
 * its buffer goes back to the kernel once nothing else holds it. */
void bufring_release(struct bufring *b, uint16_t id);

/* bufring_free - unregister from ring (if registered; NULL: the ring is
 * gone, and the registration with it), unmap and free the tables. */
void bufring_free(struct bufring *b, struct io_uring *ring);

#endif
