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
	struct conn_segs segs;
};

/*
 * bufring_setup - map count buffers of size bytes and the ring of their
 * entries, and allocate the per-buffer tables. Returns 0, -EINVAL (count
 * not a power of two in 1..32768, or size 0) or -ENOMEM (nothing is left
 * allocated). Undone by bufring_free.
 */
int bufring_setup(struct bufring *b, uint32_t count, uint32_t size);

/*
 * bufring_register - register b as buffer group bgid on ring and offer
 * every buffer to the kernel. Returns 0 or the registration's error
 * (-EINVAL on kernels before 5.19, -ENOMEM when the locked-memory limit
 * is reached); b stays set up either way.
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

/* bufring_free - unregister from ring (if registered; NULL: the ring is
 * gone, and the registration with it), unmap and free the tables. */
void bufring_free(struct bufring *b, struct io_uring *ring);

#endif
