// SPDX-License-Identifier: MIT
/*
 * buf.c - the byte ring and its chunk cache.
 *
 * Arithmetic only; chunks are allocated (alloc.h) only when the cache is
 * empty and freed only when it is full. See docs/design.md for invariants.
 */
#include <assert.h>
#include <errno.h>

#include "alloc.h"
#include "buf.h"

int buf_cache_init(struct buf_cache *bc, uint32_t size, uint32_t keep)
{
	bc->size = size;
	bc->keep = keep;
	bc->nfree = 0;
	bc->live = 0;
	bc->free = NULL;
	if (size == 0)
		return -EINVAL;
	if (keep) {
		bc->free = alloc_calloc(keep, sizeof(*bc->free));
		if (!bc->free)
			return -ENOMEM;
	}
	return 0;
}

void buf_cache_fini(struct buf_cache *bc)
{
	assert(bc->live == 0);
	while (bc->nfree)
		alloc_free(bc->free[--bc->nfree]);
	alloc_free(bc->free);
	bc->free = NULL;
}

int buf_attach(struct buf *b, struct buf_cache *bc)
{
	if (b->data)
		return 0;
	if (bc->nfree) {
		b->data = bc->free[--bc->nfree];
	} else {
		b->data = alloc_malloc(bc->size);
		if (!b->data)
			return -ENOMEM;
	}
	b->head = 0;
	b->len = 0;
	bc->live++;
	return 0;
}

void buf_detach(struct buf *b, struct buf_cache *bc)
{
	assert(b->len == 0);
	if (!b->data)
		return;
	if (bc->nfree < bc->keep)
		bc->free[bc->nfree++] = b->data;
	else
		alloc_free(b->data);
	b->data = NULL;
	b->head = 0;
	bc->live--;
}

uint32_t buf_space(const struct buf *b, uint32_t cap)
{
	return b->data ? cap - b->len : 0;
}

uint32_t buf_wspan(const struct buf *b, uint32_t cap, uint8_t **p)
{
	uint32_t tail, n;

	if (!b->data || b->len == cap) {
		*p = NULL;
		return 0;
	}
	/* The free region starts at the tail; it runs to the end of the
	 * storage or up to head, whichever comes first. */
	tail = b->head + b->len;
	if (tail >= cap) {
		tail -= cap;
		n = b->head - tail;
	} else {
		n = cap - tail;
	}
	*p = b->data + tail;
	return n;
}

uint32_t buf_rspan(const struct buf *b, uint32_t cap, const uint8_t **p)
{
	uint32_t n;

	if (!b->data || b->len == 0) {
		*p = NULL;
		return 0;
	}
	n = cap - b->head;
	if (n > b->len)
		n = b->len;
	*p = b->data + b->head;
	return n;
}

void buf_produce(struct buf *b, uint32_t cap, uint32_t n)
{
	assert(n <= cap - b->len);
	b->len += n;
}

void buf_consume(struct buf *b, uint32_t cap, uint32_t n)
{
	assert(n <= b->len);
	b->len -= n;
	b->head += n;
	if (b->head >= cap)
		b->head -= cap;
	/* head is not rewound when the ring empties: an rx window may be lent
	 * at the old tail. The core detaches empty storage instead, and the
	 * next attach starts at 0. */
}
