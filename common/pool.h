/* SPDX-License-Identifier: MIT */
/*
 * pool.h - preallocated connection slots named by index + generation.
 *
 * Each driver keeps its own connection struct, which begins with a
 * struct pool_slot; the pool holds cap of them (elem bytes each). A handle
 * is (generation << 32 | index). Freeing a slot bumps its generation, so an
 * event or completion that carries an old handle is recognised as stale and
 * dropped, never acted on. No syscalls here.
 */
#ifndef ECHO_POOL_H
#define ECHO_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"

#define POOL_NONE UINT32_MAX /* end of a slot list */

/* The pool's part of a driver's connection struct: its first member. */
struct pool_slot {
	struct conn conn;
	uint32_t gen; /* 0 while free; never 0 while in use */
	uint32_t link; /* free list while free; the driver's list while used */
	uint32_t index; /* this slot's place in the pool, fixed at init */
};

struct pool {
	unsigned char *mem; /* cap elements of elem bytes */
	size_t elem;
	uint32_t cap;
	uint32_t used;
	uint32_t free_head;
	uint32_t next_gen; /* generations are unique across the pool */
};

/* pool_init - allocate cap (>= 1) elements of elem bytes, each a driver's
 * connection struct that begins with a struct pool_slot (elem at least
 * that, and a multiple of its alignment). Returns 0, -EINVAL or -ENOMEM. */
int pool_init(struct pool *p, uint32_t cap, size_t elem);

/* pool_fini - free the slots; conns still in use are not reset. */
void pool_fini(struct pool *p);

/* pool_alloc - take a free slot, its conn initialised against env and the
 * driver's bytes after the slot zeroed. Returns the slot, or NULL when all
 * cap slots are in use. */
struct pool_slot *pool_alloc(struct pool *p, struct conn_env *env);

/* pool_free - reset the slot's conn, bump its generation, make it free.
 * Every handle to it becomes stale. */
void pool_free(struct pool *p, struct pool_slot *s);

/* pool_at - the slot at index i (< cap), in use or not. */
static inline struct pool_slot *pool_at(const struct pool *p, uint32_t i)
{
	return (struct pool_slot *)(void *)(p->mem + (size_t)i * p->elem);
}

/* pool_handle - the handle naming s as it is now. */
static inline uint64_t pool_handle(const struct pool *p,
				   const struct pool_slot *s)
{
	(void)p;
	return (uint64_t)s->gen << 32 | s->index;
}

/* pool_lookup - the slot a handle names, or NULL if the handle is stale
 * (slot freed or reused since) or out of range. */
struct pool_slot *pool_lookup(struct pool *p, uint64_t handle);

/* pool_index - index of s in the pool. */
static inline uint32_t pool_index(const struct pool *p,
				  const struct pool_slot *s)
{
	(void)p;
	return s->index;
}

#endif
