/* SPDX-License-Identifier: MIT */
/*
 * pace.h - the open-loop schedule: when each message is meant to be sent.
 *
 * Global slot n is due at t0 + n / rate and belongs to connection n % conns,
 * so the total rate is spread evenly and phase-shifted over connections.
 * Latency is measured from these times, not from the actual send. Pure.
 */
#ifndef LOAD_PACE_H
#define LOAD_PACE_H

#include <stdint.h>

#define PACE_NS 1000000000ull

struct pace {
	uint64_t t0; /* ns: intended time of slot 0 */
	uint64_t rate; /* messages per second over all connections, > 0 */
	uint32_t conns; /* connections sharing it, > 0 */
};

/* A walk over the slots of connections [lo, hi), in time order. */
struct pace_cursor {
	const struct pace *p;
	uint32_t lo, hi;
	uint32_t conn; /* connection of the current slot */
	uint64_t k; /* its message number on that connection */
};

/* pace_slot_time - intended time of global slot n. */
uint64_t pace_slot_time(const struct pace *p, uint64_t n);

/* pace_intended - intended send time of message k of connection conn. */
uint64_t pace_intended(const struct pace *p, uint32_t conn, uint64_t k);

/* pace_due - how many messages of conn are due at time now (intended time
 * <= now): the count of k with pace_intended(p, conn, k) <= now. */
uint64_t pace_due(const struct pace *p, uint32_t conn, uint64_t now);

/* pace_cursor_init - start a walk at message 0 of connection lo (lo < hi
 * <= p->conns). */
void pace_cursor_init(struct pace_cursor *c, const struct pace *p, uint32_t lo,
		      uint32_t hi);

/* pace_cursor_time - intended time of the current slot. */
uint64_t pace_cursor_time(const struct pace_cursor *c);

/* pace_cursor_next - return the current slot's connection and move to the
 * next slot of [lo, hi). */
uint32_t pace_cursor_next(struct pace_cursor *c);

#endif
