// SPDX-License-Identifier: MIT
/*
 * bufring.c - map, register, refill and free the provided-buffer ring.
 *
 * Set up in two steps, so that running out of memory (setup) and being
 * refused the registration (register: locked memory, old kernels) are
 * told apart. Buffers are recycled in batches: bufring_put writes the
 * entry, and bufring_publish moves the tail once per loop iteration.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc.h"
#include "bufring.h"

static void *bufring_map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

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

void bufring_free(struct bufring *b, struct io_uring *ring)
{
	if (!b->br)
		return;
	if (b->registered && ring)
		io_uring_unregister_buf_ring(ring, b->bgid);
	alloc_free(b->segs.len);
	alloc_free(b->segs.next);
	alloc_free(b->succ);
	munmap(b->mem, b->mem_bytes);
	munmap(b->br, b->br_bytes);
	memset(b, 0, sizeof(*b));
}
