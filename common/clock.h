/* SPDX-License-Identifier: MIT */
/*
 * clock.h - monotonic milliseconds for the loops' timers (vDSO, no syscall).
 */
#ifndef ECHO_CLOCK_H
#define ECHO_CLOCK_H

#include <stdint.h>
#include <time.h>

/* clock_ms - milliseconds on CLOCK_MONOTONIC. */
static inline int64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
