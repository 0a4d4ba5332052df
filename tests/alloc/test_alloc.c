// SPDX-License-Identifier: MIT
/*
 * test_alloc.c - the allocation wrappers (common/alloc.h) in the fault
 * build. meson runs it with ECHO_ALLOC_FAIL=3: calls 1 and 2 succeed, the
 * third fails with ENOMEM (a realloc leaving its block untouched), and
 * every later call succeeds again. Tests run in order, sharing the count.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"

static char *block;

static void test_before_n(void **state)
{
	char *p;

	assert_int_equal(alloc_calls(), 0);
	p = alloc_malloc(16); /* call 1 */
	assert_non_null(p);
	alloc_free(p);
	block = alloc_calloc(4, 4); /* call 2 */
	assert_non_null(block);
	assert_int_equal(block[15], 0);
	memcpy(block, "kept", 5);
	assert_int_equal(alloc_calls(), 2);
}

static void test_nth_fails(void **state)
{
	errno = 0;
	assert_null(alloc_realloc(block, 64)); /* call 3 */
	assert_int_equal(errno, ENOMEM);
	/* A failed realloc leaves the block as it was. */
	assert_string_equal(block, "kept");
	assert_int_equal(alloc_calls(), 3);
}

static void test_after_n(void **state)
{
	char *p;

	block = alloc_realloc(block, 64); /* call 4 */
	assert_non_null(block);
	assert_string_equal(block, "kept");
	p = alloc_malloc(8); /* call 5 */
	assert_non_null(p);
	alloc_free(p);
	alloc_free(block);
	alloc_free(NULL);
	assert_int_equal(alloc_calls(), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_before_n),
		cmocka_unit_test(test_nth_fails),
		cmocka_unit_test(test_after_n),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
