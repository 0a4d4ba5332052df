// SPDX-License-Identifier: MIT
/*
 * pace.c - slot times with 128-bit products, so long runs at high rates
 * neither overflow nor drift (each time is computed, never accumulated).
 */
#include "pace.h"

uint64_t pace_slot_time(const struct pace *p, uint64_t n)
{
	return p->t0 + (uint64_t)((unsigned __int128)n * PACE_NS / p->rate);
}

uint64_t pace_intended(const struct pace *p, uint32_t conn, uint64_t k)
{
	return pace_slot_time(p, k * p->conns + conn);
}

uint64_t pace_due(const struct pace *p, uint32_t conn, uint64_t now)
{
	unsigned __int128 slots;

	if (now < p->t0)
		return 0;
	/*
	 * Slot n is due when floor(n * NS / rate) <= now - t0, that is when
	 * n * NS < (now - t0 + 1) * rate: the due slots are 0 .. N-1 with
	 * N = ceil((now - t0 + 1) * rate / NS).
	 */
	slots =
	    (((unsigned __int128)(now - p->t0) + 1u) * p->rate + PACE_NS - 1u) /
	    PACE_NS;
	if (slots <= conn)
		return 0;
	return (uint64_t)((slots - conn + p->conns - 1u) / p->conns);
}

void pace_cursor_init(struct pace_cursor *c, const struct pace *p, uint32_t lo,
		      uint32_t hi)
{
	c->p = p;
	c->lo = lo;
	c->hi = hi;
	c->conn = lo;
	c->k = 0;
}

uint64_t pace_cursor_time(const struct pace_cursor *c)
{
	return pace_intended(c->p, c->conn, c->k);
}

uint32_t pace_cursor_next(struct pace_cursor *c)
{
	uint32_t conn = c->conn;

	if (++c->conn == c->hi) {
		c->conn = c->lo;
		c->k++;
	}
	return conn;
}
