// SPDX-License-Identifier: MIT
/*
 * bufring.c - map, register, refill and free the provided-buffer ring.
 *
 * Set up in two steps, so that running out of memory (setup) and being
 * refused the registration (register: locked memory, old kernels) are
 * told apart. Buffers are recycled in batches: bufring_put writes the
 * entry, and bufring_publish moves the tail once per loop iteration.
 * Incremental consumption adds slices: ids for the parts of a buffer, with
 * a count per buffer of the slices still held.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc.h"
#include "bufring.h"

/* Populated: the kernel takes buffers in turn, so under load every page of
 * the pool is touched anyway; resident from the start, it is a fixed cost
 * that RSS shows at once instead of one that grows with the traffic. */
static void *bufring_map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int bufring_setup(struct bufring *b, uint32_t count, uint32_t size)
{
	memset(b, 0, sizeof(*b));
	if (!count || count > 32768 || (count & (count - 1)) || !size)
		return -EINVAL;
	b->count = count;
	b->size = size;
	b->br_bytes = (size_t)count * sizeof(struct io_uring_buf);
	b->mem_bytes = (size_t)count * size;
	b->segs.len = alloc_calloc(count, sizeof(*b->segs.len));
	b->segs.next = alloc_calloc(count, sizeof(*b->segs.next));
	b->succ = alloc_calloc(count, sizeof(*b->succ));
	if (!b->segs.len || !b->segs.next || !b->succ)
		goto err_free_tables;
	b->br = bufring_map(b->br_bytes);
	if (!b->br)
		goto err_free_tables;
	b->mem = bufring_map(b->mem_bytes);
	if (!b->mem)
		goto err_unmap_ring;
	b->segs.base = b->mem;
	b->segs.size = size;
	b->segs.count = count;
	return 0;

err_unmap_ring:
	munmap(b->br, b->br_bytes);
err_free_tables:
	alloc_free(b->segs.len);
	alloc_free(b->segs.next);
	alloc_free(b->succ);
	memset(b, 0, sizeof(*b));
	return -ENOMEM;
}

int bufring_register(struct bufring *b, struct io_uring *ring, uint16_t bgid)
{
	struct io_uring_buf_reg reg;
	uint32_t i;
	int ret;

	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)b->br;
	reg.ring_entries = b->count;
	reg.bgid = bgid;
	/* liburing 2.3 names the kernel's flags field pad. */
	if (b->slices)
		reg.pad = IOU_PBUF_RING_INC;
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret)
		return ret;
	b->bgid = bgid;
	b->registered = true;
	io_uring_buf_ring_init(b->br);
	for (i = 0; i < b->count; i++)
		bufring_put(b, (uint16_t)i);
	bufring_publish(b);
	return 0;
}

void bufring_put(struct bufring *b, uint16_t id)
{
	io_uring_buf_ring_add(b->br, b->mem + (size_t)id * b->size, b->size, id,
			      io_uring_buf_ring_mask(b->count), b->pending++);
	/* Entries are taken in the order they are added. */
	b->succ[b->last] = id;
	b->last = id;
}

void bufring_publish(struct bufring *b)
{
	if (!b->pending)
		return;
	io_uring_buf_ring_advance(b->br, b->pending);
	b->avail += b->pending;
	b->pending = 0;
}

static void bufring_free_slices(struct bufring *b)
{
	alloc_free(b->used);
	alloc_free(b->refs);
	alloc_free(b->retired);
	alloc_free(b->sbuf);
	alloc_free(b->sfree);
	alloc_free(b->segs.off);
	b->used = b->refs = NULL;
	b->retired = NULL;
	b->sbuf = b->sfree = NULL;
	b->segs.off = NULL;
	b->slices = 0;
}

int bufring_slices(struct bufring *b, uint32_t slices)
{
	uint32_t *len, *off;
	uint16_t *next;

	if (!b->br || b->registered || !slices || slices > 65536)
		return -EINVAL;
	b->used = alloc_calloc(b->count, sizeof(*b->used));
	b->refs = alloc_calloc(b->count, sizeof(*b->refs));
	b->retired = alloc_calloc(b->count, sizeof(*b->retired));
	b->sbuf = alloc_calloc(slices, sizeof(*b->sbuf));
	b->sfree = alloc_calloc(slices, sizeof(*b->sfree));
	b->segs.off = off = alloc_calloc(slices, sizeof(*off));
	len = alloc_calloc(slices, sizeof(*len));
	next = alloc_calloc(slices, sizeof(*next));
	if (!b->used || !b->refs || !b->retired || !b->sbuf || !b->sfree ||
	    !off || !len || !next) {
		alloc_free(len);
		alloc_free(next);
		bufring_free_slices(b);
		return -ENOMEM;
	}
	/* The core's tables are indexed by slice from now on. */
	alloc_free(b->segs.len);
	alloc_free(b->segs.next);
	b->segs.len = len;
	b->segs.next = next;
	b->segs.count = slices;
	b->slices = slices;
	b->reserve = BUFRING_SLICE_RESERVE(slices);
	b->nfree = b->fresh = 0;
	return 0;
}

/* Every slice of buffer id was echoed and the kernel is done with it. */
static void bufring_recycle(struct bufring *b, uint16_t id)
{
	b->used[id] = 0;
	b->retired[id] = 0;
	bufring_put(b, id);
}

static int bufring_slice_get(struct bufring *b)
{
	if (b->nfree)
		return b->sfree[--b->nfree];
	if (b->fresh < b->slices)
		return (int)b->fresh++;
	return -1;
}

/* One piece of an incremental walk: the next part of buffer t->id. */
static int bufring_take_slice(struct bufring *b, struct bufring_take *t,
			      uint16_t *id, uint8_t **p, uint32_t *len)
{
	uint16_t bid = t->id;
	uint32_t k = b->size - b->used[bid];
	int s = -1;

	*p = b->mem + (size_t)bid * b->size + b->used[bid];
	if (t->left < k)
		k = t->left;
	if (k) {
		s = bufring_slice_get(b);
		if (s >= 0) {
			b->segs.off[s] = bid * b->size + b->used[bid];
			b->sbuf[s] = bid;
			b->refs[bid]++;
		} else {
			b->lost++;
		}
	}
	b->used[bid] += k;
	t->left -= k;
	if (t->left)
		t->id = bufring_succ(b, bid);
	/* Every buffer a bundle filled before its last one is full, so done
	 * with; the last one is kept for more unless the completion says not. */
	if (t->left || !t->more) {
		b->retired[bid] = 1;
		bufring_taken(b);
		if (!b->refs[bid])
			bufring_recycle(b, bid);
	}
	*id = (uint16_t)s;
	*len = k;
	return s >= 0 ? 1 : -ENOSPC;
}

int bufring_take_next(struct bufring *b, struct bufring_take *t, uint16_t *id,
		      uint8_t **p, uint32_t *len)
{
	uint16_t bid = t->id;

	if (t->empty) {
		/* No bytes: a whole buffer goes straight back. Incremental:
		 * the kernel keeps a buffer it put nothing in (it returns
		 * one named with no bytes to its ring), so nothing to do;
		 * were it retired after all, the cost is one buffer of the
		 * pool, where putting it back while the kernel still offers
		 * it would hand its bytes out twice. */
		t->empty = false;
		if (!b->slices) {
			bufring_taken(b);
			bufring_put(b, bid);
		}
		return 0;
	}
	if (!t->left)
		return 0;
	if (b->slices)
		return bufring_take_slice(b, t, id, p, len);
	*len = t->left < b->size ? t->left : b->size;
	*id = bid;
	*p = b->mem + (size_t)bid * b->size;
	bufring_taken(b);
	t->left -= *len;
	if (t->left)
		t->id = bufring_succ(b, bid);
	return 1;
}

void bufring_release(struct bufring *b, uint16_t id)
{
	uint16_t bid;

	if (!b->slices) {
		bufring_put(b, id);
		return;
	}
	bid = b->sbuf[id];
	b->sfree[b->nfree++] = id;
	if (--b->refs[bid] == 0 && b->retired[bid])
		bufring_recycle(b, bid);
}

void bufring_free(struct bufring *b, struct io_uring *ring)
{
	if (!b->br)
		return;
	if (b->registered && ring)
		io_uring_unregister_buf_ring(ring, b->bgid);
	bufring_free_slices(b);
	alloc_free(b->segs.len);
	alloc_free(b->segs.next);
	alloc_free(b->succ);
	munmap(b->mem, b->mem_bytes);
	munmap(b->br, b->br_bytes);
	memset(b, 0, sizeof(*b));
}
