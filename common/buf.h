/* SPDX-License-Identifier: MIT */
/*
 * buf.h - fixed-capacity byte ring and the cache its storage comes from.
 *
 * Pure bookkeeping: no syscalls, no sockets. The ring's invariants are in
 * docs/design.md ("Buffer invariants"); every function here keeps them.
 */
#ifndef ECHO_BUF_H
#define ECHO_BUF_H

#include <stddef.h>
#include <stdint.h>

/*
 * A ring of cap bytes (cap is held by the cache, not per buffer).
 * Filled bytes are data[head .. head+len) modulo cap; free space follows.
 * data == NULL means no storage is attached (an idle connection).
 */
struct buf {
	uint8_t *data;
	uint32_t head;
	uint32_t len;
};

/*
 * Storage for rings: chunks of one size, recycled LIFO so that a hot chunk
 * is reused while still in cache. At most keep free chunks are held; the
 * rest go back to the allocator, so an idle server shrinks again.
 */
struct buf_cache {
	uint32_t size; /* bytes per chunk (the ring capacity) */
	uint32_t keep; /* free chunks kept for reuse */
	uint32_t nfree; /* free chunks held now */
	uint64_t live; /* chunks handed out and not yet returned */
	void **free; /* stack of nfree free chunks, keep slots */
};

/* buf_cache_init - prepare a cache of size-byte chunks; returns 0 or -ENOMEM. */
int buf_cache_init(struct buf_cache *bc, uint32_t size, uint32_t keep);

/* buf_cache_fini - free every cached chunk; live chunks must be returned first. */
void buf_cache_fini(struct buf_cache *bc);

/* buf_attach - give b storage if it has none; returns 0 or -ENOMEM. */
int buf_attach(struct buf *b, struct buf_cache *bc);

/* buf_detach - return b's storage to the cache; b must be empty. */
void buf_detach(struct buf *b, struct buf_cache *bc);

/* buf_space - free bytes in the ring (0 when no storage is attached). */
uint32_t buf_space(const struct buf *b, uint32_t cap);

/*
 * buf_wspan / buf_rspan - the largest contiguous free / filled region.
 * Sets *p and returns its length (0 when there is none). The ring may hold
 * more than one span; callers loop, committing what they used.
 */
uint32_t buf_wspan(const struct buf *b, uint32_t cap, uint8_t **p);
uint32_t buf_rspan(const struct buf *b, uint32_t cap, const uint8_t **p);

/* buf_produce - n bytes were written into the free span; n <= buf_space(). */
void buf_produce(struct buf *b, uint32_t cap, uint32_t n);

/* buf_consume - n bytes were taken from the filled span; n <= len. */
void buf_consume(struct buf *b, uint32_t cap, uint32_t n);

#endif
