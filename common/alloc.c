// SPDX-License-Identifier: MIT
/*
 * alloc.c - allocation failure on demand, for the test builds only
 * (-Dalloc_fault=true; otherwise alloc.h is plain malloc and this file is
 * not built). Counts every call through the wrappers and fails the one
 * ECHO_ALLOC_FAIL names. Must not be used from more than one thread: both
 * servers allocate from their one loop thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"

enum alloc_state {
	ALLOC_UNREAD, /* the environment is read at the first call */
	ALLOC_OFF, /* ECHO_ALLOC_FAIL unset: count, never fail, say nothing */
	ALLOC_ON, /* set: fail call alloc_fail (0: none), report at exit */
};

static enum alloc_state alloc_state;
static unsigned long alloc_n; /* calls so far */
static unsigned long alloc_fail; /* the call that fails, 1-based; 0: none */
static bool alloc_failed; /* it was reached */

/*
 * Printed at exit when ECHO_ALLOC_FAIL is set, so that a test learns the
 * total K from a run with ECHO_ALLOC_FAIL=0 and sees when N passed it.
 * Only calls through these wrappers count: libc's own allocations (the
 * stdio buffer behind the first printf, for one) and liburing's (its op
 * probe; the rings themselves are mmap'd by io_uring_queue_init, not
 * allocated) are neither counted nor failed.
 */
static void alloc_report(void)
{
	fprintf(stderr, "alloc: calls=%lu fail=%lu%s\n", alloc_n, alloc_fail,
		alloc_failed ? " failed" : "");
}

static void alloc_init(void)
{
	const char *v = getenv("ECHO_ALLOC_FAIL");
	char *end;

	alloc_state = ALLOC_OFF;
	if (!v)
		return;
	errno = 0;
	alloc_fail = strtoul(v, &end, 10);
	if (errno || end == v || *end) {
		fprintf(stderr,
			"alloc: ECHO_ALLOC_FAIL=%s is not a number: "
			"counting only\n",
			v);
		alloc_fail = 0;
	}
	alloc_state = ALLOC_ON;
	atexit(alloc_report);
}

/*
 * Count one call; true if it is the one to fail. Only the Nth call fails,
 * not the Nth and every later one: each run then tests one failure site
 * with the rest of the program working, which is what a transient
 * shortage looks like, and the recovery after it (the connection closed,
 * the server serving on, the shutdown freeing everything) is exercised
 * too. Failing every later call would only ever test the first site
 * reached and the shutdown path under starvation.
 */
static bool alloc_fault(void)
{
	if (alloc_state == ALLOC_UNREAD)
		alloc_init();
	/* Atomic: with --threads the loops allocate concurrently (the first
	 * call, which reads the environment, is made before they start). */
	if (__atomic_add_fetch(&alloc_n, 1, __ATOMIC_RELAXED) != alloc_fail)
		return false;
	alloc_failed = true;
	errno = ENOMEM;
	return true;
}

void *alloc_malloc(size_t size)
{
	return alloc_fault() ? NULL : malloc(size);
}

void *alloc_calloc(size_t n, size_t size)
{
	return alloc_fault() ? NULL : calloc(n, size);
}

void *alloc_realloc(void *p, size_t size)
{
	return alloc_fault() ? NULL : realloc(p, size);
}

unsigned long alloc_calls(void)
{
	return alloc_n;
}
