/* SPDX-License-Identifier: MIT */
/*
 * alloc.h - the allocator every server allocation goes through.
 *
 * Built with -Dalloc_fault=true (the default, for the test builds), one
 * chosen call can be made to fail: ECHO_ALLOC_FAIL=N in the environment
 * fails the Nth call, so a test can walk every allocation of a run. Built
 * without it, the wrappers are plain malloc, calloc and realloc, inline.
 */
#ifndef ECHO_ALLOC_H
#define ECHO_ALLOC_H

#include <stddef.h>
#include <stdlib.h>

#ifdef ECHO_ALLOC_FAULT

/* alloc_malloc, alloc_calloc, alloc_realloc - as malloc, calloc and
 * realloc, each counted as one call; the call ECHO_ALLOC_FAIL names
 * returns NULL with errno ENOMEM (a failed realloc leaves p untouched). */
void *alloc_malloc(size_t size);
void *alloc_calloc(size_t n, size_t size);
void *alloc_realloc(void *p, size_t size);

/* alloc_calls - the calls made so far by this process (0 when the fault
 * build is off). */
unsigned long alloc_calls(void);

#else

static inline void *alloc_malloc(size_t size)
{
	return malloc(size);
}

static inline void *alloc_calloc(size_t n, size_t size)
{
	return calloc(n, size);
}

static inline void *alloc_realloc(void *p, size_t size)
{
	return realloc(p, size);
}

static inline unsigned long alloc_calls(void)
{
	return 0;
}

#endif

/* alloc_free - free p (NULL is fine); never counted, never fails. */
static inline void alloc_free(void *p)
{
	free(p);
}

#endif
