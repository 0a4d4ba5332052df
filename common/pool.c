// SPDX-License-Identifier: MIT
/*
 * pool.c - preallocated connection slots with index + generation handles.
 *
 * One allocation at start-up; alloc and free are O(1) through a LIFO free
 * list (a recently freed slot is still warm in cache). No syscalls.
 */
#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <string.h>

#include "alloc.h"
#include "pool.h"

int pool_init(struct pool *p, uint32_t cap, size_t elem)
{
	struct pool_slot *s;
	uint32_t i;

	memset(p, 0, sizeof(*p));
	p->free_head = POOL_NONE;
	p->next_gen = 1;
	if (cap == 0 || cap >= POOL_NONE || elem < sizeof(struct pool_slot) ||
	    elem % alignof(struct pool_slot))
		return -EINVAL;
	p->mem = alloc_calloc(cap, elem);
	if (!p->mem)
		return -ENOMEM;
	p->cap = cap;
	p->elem = elem;
	/* Build the free list so that slot 0 is handed out first. */
	for (i = cap; i-- > 0;) {
		s = pool_at(p, i);
		s->index = i;
		s->link = p->free_head;
		p->free_head = i;
	}
	return 0;
}

void pool_fini(struct pool *p)
{
	alloc_free(p->mem);
	p->mem = NULL;
	p->cap = 0;
}

struct pool_slot *pool_alloc(struct pool *p, struct conn_env *env)
{
	struct pool_slot *s;

	if (p->free_head == POOL_NONE)
		return NULL;
	s = pool_at(p, p->free_head);
	p->free_head = s->link;
	p->used++;
	/* Generations come from one pool-wide counter that skips 0, so a
	 * handle is never reused until 2^32 allocations have passed. */
	s->gen = p->next_gen++;
	if (p->next_gen == 0)
		p->next_gen = 1;
	s->link = POOL_NONE;
	memset(s + 1, 0, p->elem - sizeof(*s));
	conn_init(&s->conn, env);
	return s;
}

void pool_free(struct pool *p, struct pool_slot *s)
{
	assert(s->gen != 0);
	conn_reset(&s->conn);
	s->gen = 0;
	s->link = p->free_head;
	p->free_head = s->index;
	p->used--;
}

struct pool_slot *pool_lookup(struct pool *p, uint64_t handle)
{
	uint32_t idx = (uint32_t)handle;
	uint32_t gen = (uint32_t)(handle >> 32);
	struct pool_slot *s;

	if (idx >= p->cap || gen == 0)
		return NULL;
	s = pool_at(p, idx);
	return s->gen == gen ? s : NULL;
}
