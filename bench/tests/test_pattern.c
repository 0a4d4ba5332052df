/* SPDX-License-Identifier: MIT */
/*
 * test_pattern.c - unit tests for the verification stream (pattern.h): a
 * correct echo passes at every alignment, and a flipped, dropped, reordered
 * or foreign byte is reported at the offset where it lands.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pattern.h"

#define LEN 4096u
#define SEED 0x1234abcdull

/* The first index where a and b differ, or -1. */
static ssize_t first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (a[i] != b[i])
			return (ssize_t)i;
	}
	return -1;
}

/* Random access: a fill at any offset is that slice of one long fill. */
static void test_random_access(void **state)
{
	uint8_t whole[LEN], part[LEN];
	size_t off, len;

	(void)state;
	pat_fill(SEED, 0, whole, LEN);
	for (off = 0; off < 40; off++) {
		for (len = 0; len <= 40; len++) {
			memset(part, 0xee, sizeof(part));
			pat_fill(SEED, off, part, len);
			assert_memory_equal(part, whole + off, len);
			assert_int_equal(part[len], 0xee); /* no overrun */
			assert_int_equal(pat_check(SEED, off, whole + off, len),
					 -1);
		}
		assert_int_equal(pat_byte(SEED, off), whole[off]);
	}
	assert_int_equal(pat_check(SEED, 1000, whole + 1000, LEN - 1000), -1);
}

/* A flipped byte anywhere, at any alignment, is found at its index. */
static void test_flip(void **state)
{
	uint8_t buf[256];
	size_t off, i, len = 100;

	(void)state;
	for (off = 0; off < 16; off++) {
		for (i = 0; i < len; i++) {
			pat_fill(SEED, off, buf, len);
			buf[i] ^= 0x01;
			assert_int_equal(pat_check(SEED, off, buf, len),
					 (ssize_t)i);
			buf[i] ^= 0x81; /* another bit pattern */
			assert_int_equal(pat_check(SEED, off, buf, len),
					 (ssize_t)i);
		}
	}
}

/* A dropped byte shifts the rest: found where the shifted stream first
 * differs from the expected one (at the drop unless the neighbours are
 * equal, a 1 in 256 chance). */
static void test_drop(void **state)
{
	uint8_t want[LEN], got[LEN];
	size_t k;
	ssize_t at;

	(void)state;
	pat_fill(SEED, 0, want, LEN);
	for (k = 0; k < 300; k++) {
		memcpy(got, want, k);
		memcpy(got + k, want + k + 1, LEN - k - 1);
		at = first_diff(got, want, LEN - 1);
		assert_true(at >= (ssize_t)k);
		assert_int_equal(pat_check(SEED, 0, got, LEN - 1), at);
	}
}

/* Two messages swapped: found at the first byte of the first one. */
static void test_reorder(void **state)
{
	uint8_t want[LEN], got[LEN];
	size_t size = 64, a = 3, b = 7;

	(void)state;
	pat_fill(SEED, 0, want, LEN);
	memcpy(got, want, LEN);
	memcpy(got + a * size, want + b * size, size);
	memcpy(got + b * size, want + a * size, size);
	assert_int_equal(pat_check(SEED, 0, got, LEN),
			 first_diff(got, want, LEN));
	assert_true(pat_check(SEED, 0, got, LEN) < (ssize_t)(a * size + 4));
	assert_true(pat_check(SEED, 0, got, LEN) >= (ssize_t)(a * size));
	/* The same bytes one message later in the stream do not pass. */
	assert_true(pat_check(SEED, size, want, size) >= 0);
}

/* Another connection's bytes (same offset, other seed) are foreign. */
static void test_foreign(void **state)
{
	uint64_t s0 = pat_seed(1, 0), s1 = pat_seed(1, 1);
	uint8_t mine[LEN], other[LEN];
	size_t i;

	(void)state;
	assert_true(s0 != s1);
	assert_true(pat_seed(2, 0) != s0);
	pat_fill(s0, 0, mine, LEN);
	pat_fill(s1, 0, other, LEN);
	assert_int_equal(pat_check(s0, 0, other, LEN),
			 first_diff(other, mine, LEN));
	assert_true(pat_check(s0, 0, other, LEN) < 4);
	/* One foreign byte in the middle of a correct echo. */
	for (i = 500; i < 520; i++) {
		pat_fill(s0, 0, mine, LEN);
		mine[i] = other[i] != mine[i] ? other[i] : (uint8_t)~mine[i];
		assert_int_equal(pat_check(s0, 0, mine, LEN), (ssize_t)i);
	}
}

/* Across the 64 KiB lap boundary: random access holds, a flip anywhere in
 * a long buffer (many compare blocks) is found, and a whole lap moved by
 * exactly one lap (same table words, other key) does not pass. */
static void test_laps(void **state)
{
	enum { LAP = 65536, N = 3 * LAP };
	uint8_t *whole = malloc(N), *part = malloc(N);
	size_t off, i;

	(void)state;
	pat_fill(SEED, 0, whole, N);
	for (off = LAP - 24; off < LAP + 24; off++) {
		pat_fill(SEED, off, part, 50);
		assert_memory_equal(part, whole + off, 50);
		assert_int_equal(pat_byte(SEED, off), whole[off]);
	}
	assert_int_equal(pat_check(SEED, 0, whole, N), -1);
	assert_int_equal(pat_check(SEED, 3, whole + 3, N - 3), -1);
	for (i = LAP - 700; i < LAP + 700; i += 7) {
		whole[i] ^= 0x10;
		assert_int_equal(pat_check(SEED, 0, whole, N), (ssize_t)i);
		assert_int_equal(pat_check(SEED, 5, whole + 5, N - 5),
				 (ssize_t)i - 5);
		whole[i] ^= 0x10;
	}
	assert_true(pat_check(SEED, LAP, whole, 4096) >= 0);
	assert_true(pat_check(SEED, LAP, whole, 4096) < 8);
	free(whole);
	free(part);
}

/* Different seeds give unrelated streams: about 1/256 equal bytes. */
static void test_streams_differ(void **state)
{
	uint8_t a[LEN], b[LEN];
	size_t i, same = 0;

	(void)state;
	pat_fill(pat_seed(7, 10), 0, a, LEN);
	pat_fill(pat_seed(7, 11), 0, b, LEN);
	for (i = 0; i < LEN; i++)
		same += a[i] == b[i];
	assert_true(same < 64);
	/* And a stream is not its own shift. */
	pat_fill(pat_seed(7, 10), 8, b, LEN);
	for (i = 0, same = 0; i < LEN; i++)
		same += a[i] == b[i];
	assert_true(same < 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_access),
		cmocka_unit_test(test_flip),
		cmocka_unit_test(test_drop),
		cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_foreign),
		cmocka_unit_test(test_laps),
		cmocka_unit_test(test_streams_differ),
	};

	return cmocka_run_group_tests_name("pattern", tests, NULL, NULL);
}
