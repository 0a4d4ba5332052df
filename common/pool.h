/* SPDX-License-Identifier: MIT */
/*
 * pool.h - preallocated connection slots named by index + generation.
 *
 * A handle is (generation << 32 | index). Freeing a slot bumps its
 * generation, so an event or completion that carries an old handle is
 * recognised as stale and dropped, never acted on. No syscalls here.
 */
#ifndef ECHO_POOL_H
#define ECHO_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"

#define POOL_NONE UINT32_MAX /* end of a slot list */

struct pool_slot {
	struct conn conn;
	uint32_t gen; /* 0 while free; never 0 while in use */
	uint32_t link; /* free list while free; the driver's list while used */
	/* Driver-owned fields: the pool clears them on alloc, never reads them. */
	int fd;
	uint32_t io;
};

struct pool {
	struct pool_slot *slots;
	uint32_t cap;
	uint32_t used;
	uint32_t free_head;
	uint32_t next_gen; /* generations are unique across the pool */
};

/* pool_init - allocate cap slots (cap >= 1); returns 0 or -ENOMEM/-EINVAL. */
int pool_init(struct pool *p, uint32_t cap);

/* pool_fini - free the slots; conns still in use are not reset. */
void pool_fini(struct pool *p);

/* pool_alloc - take a free slot, its conn initialised against env.
 * Returns the slot, or NULL when all cap slots are in use. */
struct pool_slot *pool_alloc(struct pool *p, struct conn_env *env);

/* pool_free - reset the slot's conn, bump its generation, make it free.
 * Every handle to it becomes stale. */
void pool_free(struct pool *p, struct pool_slot *s);

/* pool_handle - the handle naming s as it is now. */
uint64_t pool_handle(const struct pool *p, const struct pool_slot *s);

/* pool_lookup - the slot a handle names, or NULL if the handle is stale
 * (slot freed or reused since) or out of range. */
struct pool_slot *pool_lookup(struct pool *p, uint64_t handle);

/* pool_index - index of s in the pool. */
static inline uint32_t pool_index(const struct pool *p,
				  const struct pool_slot *s)
{
	return (uint32_t)(s - p->slots);
}

#endif
