// SPDX-License-Identifier: MIT
/*
 * stats.c - the counters' one-line text form, with uptime and rates
 * (formatting only: no I/O, no clock; the caller passes the time).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "stats.h"

/* Accumulate the needed length even once buf is full, like snprintf. */
#define STATS_PUT(fmt, ...)                                                \
	do {                                                               \
		n = snprintf(off < len ? buf + off : NULL,                 \
			     off < len ? len - off : 0, fmt, __VA_ARGS__); \
		if (n < 0)                                                 \
			return n;                                          \
		off += (size_t)n;                                          \
	} while (0)

/* Per second over ms milliseconds, without overflowing on large deltas. */
static uint64_t stats_rate(uint64_t now, uint64_t then, int64_t ms)
{
	uint64_t d = now > then ? now - then : 0;

	if (ms <= 0)
		return 0;
	return d / (uint64_t)ms * 1000u +
	       d % (uint64_t)ms * 1000u / (uint64_t)ms;
}

int stats_format(const struct stats *s, const struct stats_when *w, char *buf,
		 size_t len)
{
	static const struct stats zero;
	const struct stats *p = w->prev ? w->prev : &zero;
	size_t off = 0;
	int n;

	if (len)
		buf[0] = '\0';
	STATS_PUT("stats: final=%d uptime_ms=%" PRId64 " interval_ms=%" PRId64,
		  w->final ? 1 : 0, w->uptime_ms, w->interval_ms);
#define STATS_ONE(name, flags, help) \
	if ((flags)&w->scope)        \
		STATS_PUT(" %s=%" PRIu64, #name, s->name);
	STATS_COUNTERS(STATS_ONE)
#undef STATS_ONE
#define STATS_PER_S(name, flags, help)                  \
	if (((flags)&w->scope) && ((flags)&STATS_RATE)) \
		STATS_PUT(" %s_per_s=%" PRIu64, #name,  \
			  stats_rate(s->name, p->name, w->interval_ms));
	STATS_COUNTERS(STATS_PER_S)
#undef STATS_PER_S
	STATS_PUT("%s", "\n");
	return (int)off;
}

void stats_meter_init(struct stats_meter *m, unsigned scope, int64_t now_ms)
{
	memset(m, 0, sizeof(*m));
	m->scope = scope ? scope : STATS_BOTH;
	m->start_ms = m->last_ms = now_ms;
}

int stats_meter_line(struct stats_meter *m, const struct stats *s,
		     int64_t now_ms, bool final, char *buf, size_t len)
{
	struct stats_when w = {
		.scope = m->scope,
		.final = final,
		.uptime_ms = now_ms - m->start_ms,
		.interval_ms = now_ms - m->last_ms,
		.prev = &m->last,
	};
	int n = stats_format(s, &w, buf, len);

	m->last = *s;
	m->last_ms = now_ms;
	return n;
}
