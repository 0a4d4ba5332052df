// SPDX-License-Identifier: MIT
/*
 * pool.c - preallocated connection slots with index + generation handles.
 *
 * One allocation at start-up; alloc and free are O(1) through a LIFO free
 * list (a recently freed slot is still warm in cache). No syscalls.
 */
#include <assert.h>
#include <errno.h>

#include "alloc.h"
#include "pool.h"

int pool_init(struct pool *p, uint32_t cap)
{
	uint32_t i;

	p->slots = NULL;
	p->cap = 0;
	p->used = 0;
	p->free_head = POOL_NONE;
	p->next_gen = 1;
	if (cap == 0 || cap >= POOL_NONE)
		return -EINVAL;
	p->slots = alloc_calloc(cap, sizeof(*p->slots));
	if (!p->slots)
		return -ENOMEM;
	p->cap = cap;
	/* Build the free list so that slot 0 is handed out first. */
	for (i = cap; i-- > 0;) {
		p->slots[i].fd = -1;
		p->slots[i].link = p->free_head;
		p->free_head = i;
	}
	return 0;
}

void pool_fini(struct pool *p)
{
	alloc_free(p->slots);
	p->slots = NULL;
	p->cap = 0;
}

struct pool_slot *pool_alloc(struct pool *p, struct conn_env *env)
{
	struct pool_slot *s;

	if (p->free_head == POOL_NONE)
		return NULL;
	s = &p->slots[p->free_head];
	p->free_head = s->link;
	p->used++;
	/* Generations come from one pool-wide counter that skips 0, so a
	 * handle is never reused until 2^32 allocations have passed. */
	s->gen = p->next_gen++;
	if (p->next_gen == 0)
		p->next_gen = 1;
	s->link = POOL_NONE;
	s->fd = -1;
	s->io = 0;
	conn_init(&s->conn, env);
	return s;
}

void pool_free(struct pool *p, struct pool_slot *s)
{
	assert(s->gen != 0);
	conn_reset(&s->conn);
	s->gen = 0;
	s->fd = -1;
	s->io = 0;
	s->link = p->free_head;
	p->free_head = pool_index(p, s);
	p->used--;
}

uint64_t pool_handle(const struct pool *p, const struct pool_slot *s)
{
	return (uint64_t)s->gen << 32 | pool_index(p, s);
}

struct pool_slot *pool_lookup(struct pool *p, uint64_t handle)
{
	uint32_t idx = (uint32_t)handle;
	uint32_t gen = (uint32_t)(handle >> 32);

	if (idx >= p->cap || gen == 0 || p->slots[idx].gen != gen)
		return NULL;
	return &p->slots[idx];
}
