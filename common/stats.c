// SPDX-License-Identifier: MIT
/*
 * stats.c - the counters' one-line text form (formatting only, no I/O).
 */
#include <inttypes.h>
#include <stdio.h>

#include "stats.h"

int stats_format(const struct stats *s, char *buf, size_t len)
{
	size_t off = 0;
	int n;

	/* Accumulate the needed length even once buf is full, like snprintf. */
#define STATS_PUT(fmt, ...)                                                \
	do {                                                               \
		n = snprintf(off < len ? buf + off : NULL,                 \
			     off < len ? len - off : 0, fmt, __VA_ARGS__); \
		if (n < 0)                                                 \
			return n;                                          \
		off += (size_t)n;                                          \
	} while (0)

	if (len)
		buf[0] = '\0';
	STATS_PUT("%s", "stats:");
#define STATS_ONE(name, help) STATS_PUT(" %s=%" PRIu64, #name, s->name);
	STATS_COUNTERS(STATS_ONE)
#undef STATS_ONE
	STATS_PUT("%s", "\n");
#undef STATS_PUT
	return (int)off;
}
