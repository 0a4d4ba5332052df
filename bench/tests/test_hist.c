/* SPDX-License-Identifier: MIT */
/*
 * test_hist.c - unit tests for the latency histogram (hist.h): bucket
 * arithmetic, quantiles of known values within the stated precision,
 * merge, reset, max and out-of-range clamping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "hist.h"

/* The value at quantile q of 1..n (times unit), the way hist counts it. */
static uint64_t exact_quantile(uint64_t n, double q, uint64_t unit)
{
	uint64_t rank = (uint64_t)(q * (double)n);

	if ((double)rank < q * (double)n)
		rank++;
	return (rank ? rank : 1) * unit;
}

/* v is at or above want and at most 1/128 above it. */
static void assert_close(uint64_t v, uint64_t want)
{
	if (v < want || v > want + want / HIST_SUB)
		fail_msg("got %llu, want %llu (+%llu)", (unsigned long long)v,
			 (unsigned long long)want,
			 (unsigned long long)(want / HIST_SUB));
}

static void test_buckets(void **state)
{
	uint64_t s = 88172645463325252ull, v;
	unsigned i;

	(void)state;
	assert_int_equal(hist_bucket_low(0), 0);
	/* Contiguous, and each no wider than 1/128 of its low end. */
	for (i = 0; i + 1 < HIST_BUCKETS; i++) {
		assert_int_equal(hist_bucket_high(i) + 1,
				 hist_bucket_low(i + 1));
		if (i >= HIST_SUB)
			assert_true(hist_bucket_high(i) - hist_bucket_low(i) +
					1 <=
				    hist_bucket_low(i) / HIST_SUB);
	}
	assert_int_equal(hist_bucket(HIST_MAX_NS), HIST_BUCKETS - 1);
	assert_true(hist_bucket_high(HIST_BUCKETS - 1) >= HIST_MAX_NS);
	/* Every value falls in the bucket whose bounds hold it. */
	for (i = 0; i < 100000; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		v = s % (HIST_MAX_NS + 1) >> (s % 36);
		assert_in_range(v, hist_bucket_low(hist_bucket(v)),
				hist_bucket_high(hist_bucket(v)));
	}
	for (v = 0; v < 1024; v++)
		assert_in_range(v, hist_bucket_low(hist_bucket(v)),
				hist_bucket_high(hist_bucket(v)));
}

static void test_empty(void **state)
{
	struct hist *h = malloc(sizeof(*h));

	(void)state;
	hist_reset(h);
	assert_int_equal(h->count, 0);
	assert_int_equal(hist_value_at(h, 0.5), 0);
	assert_int_equal(hist_value_at(h, 1.0), 0);
	assert_true(hist_mean(h) == 0.0);
	free(h);
}

/* 1..10000 us: every quantile within 1/128 above the exact one. */
static void test_known_values(void **state)
{
	static const double qs[] = { 0.0, 0.01, 0.25,  0.5,
				     0.9, 0.99, 0.999, 0.9999 };
	struct hist *h = malloc(sizeof(*h));
	uint64_t i, n = 10000;

	(void)state;
	hist_reset(h);
	for (i = n; i >= 1; i--) /* any order */
		hist_record(h, i * 1000);
	assert_int_equal(h->count, n);
	assert_int_equal(h->min, 1000);
	assert_int_equal(h->max, n * 1000);
	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		assert_close(hist_value_at(h, qs[i]),
			     exact_quantile(n, qs[i], 1000));
	assert_int_equal(hist_value_at(h, 1.0), n * 1000);
	assert_true(hist_mean(h) == 5000500.0);
	free(h);
}

/* Small values are exact; one value is every quantile. */
static void test_exact_small(void **state)
{
	struct hist *h = malloc(sizeof(*h));
	uint64_t v;

	(void)state;
	for (v = 0; v < HIST_SUB; v++) {
		hist_reset(h);
		hist_record(h, v);
		assert_int_equal(hist_value_at(h, 0.0), v);
		assert_int_equal(hist_value_at(h, 0.5), v);
		assert_int_equal(hist_value_at(h, 0.999), v);
	}
	/* A big single value: kept within [min, max], so exact too. */
	hist_reset(h);
	hist_record(h, 123456789);
	assert_int_equal(hist_value_at(h, 0.5), 123456789);
	free(h);
}

/* A bimodal mix: p50 in the low mode, p99.9 in the high one. */
static void test_modes(void **state)
{
	struct hist *h = malloc(sizeof(*h));
	int i;

	(void)state;
	hist_reset(h);
	for (i = 0; i < 998; i++)
		hist_record(h, 20000); /* 20 us */
	hist_record(h, 5000000); /* 5 ms */
	hist_record(h, 7000000); /* 7 ms */
	assert_close(hist_value_at(h, 0.5), 20000);
	assert_close(hist_value_at(h, 0.99), 20000);
	assert_close(hist_value_at(h, 0.999), 5000000);
	assert_int_equal(hist_value_at(h, 1.0), 7000000);
	free(h);
}

static void test_merge(void **state)
{
	struct hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct hist *all = malloc(sizeof(*all));
	uint64_t i;
	unsigned k;

	(void)state;
	hist_reset(a);
	hist_reset(b);
	hist_reset(all);
	for (i = 1; i <= 5000; i++) {
		hist_record(i % 2 ? a : b, i * 777);
		hist_record(all, i * 777);
	}
	hist_merge(a, b);
	assert_int_equal(a->count, all->count);
	assert_int_equal(a->sum, all->sum);
	assert_int_equal(a->min, all->min);
	assert_int_equal(a->max, all->max);
	for (k = 0; k < HIST_BUCKETS; k++)
		assert_int_equal(a->b[k], all->b[k]);
	assert_int_equal(hist_value_at(a, 0.99), hist_value_at(all, 0.99));
	/* Merging an empty one changes nothing, into an empty one copies. */
	hist_reset(b);
	hist_merge(a, b);
	assert_int_equal(a->min, all->min);
	assert_int_equal(a->count, all->count);
	hist_merge(b, all);
	assert_int_equal(b->min, all->min);
	assert_int_equal(b->max, all->max);
	assert_int_equal(hist_value_at(b, 0.5), hist_value_at(all, 0.5));
	free(a);
	free(b);
	free(all);
}

static void test_reset(void **state)
{
	struct hist *h = malloc(sizeof(*h));
	unsigned k;

	(void)state;
	hist_reset(h);
	hist_record(h, 5);
	hist_record(h, HIST_MAX_NS * 2);
	hist_reset(h);
	assert_int_equal(h->count, 0);
	assert_int_equal(h->max, 0);
	assert_int_equal(h->min, UINT64_MAX);
	assert_int_equal(h->clamped, 0);
	for (k = 0; k < HIST_BUCKETS; k++)
		assert_int_equal(h->b[k], 0);
	hist_record(h, 42);
	assert_int_equal(hist_value_at(h, 0.5), 42);
	assert_int_equal(h->min, 42);
	free(h);
}

/* Above 60 s: the top bucket, counted as clamped; max stays true. */
static void test_clamp(void **state)
{
	struct hist *h = malloc(sizeof(*h));

	(void)state;
	hist_reset(h);
	hist_record(h, 100ull * 1000000000ull);
	hist_record(h, UINT64_MAX / 4);
	hist_record(h, HIST_MAX_NS);
	assert_int_equal(h->clamped, 2);
	assert_int_equal(h->count, 3);
	assert_int_equal(h->b[HIST_BUCKETS - 1], 3);
	assert_int_equal(h->max, UINT64_MAX / 4);
	assert_close(hist_value_at(h, 0.5), HIST_MAX_NS);
	assert_int_equal(hist_value_at(h, 1.0), UINT64_MAX / 4);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_known_values),
		cmocka_unit_test(test_exact_small),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_clamp),
	};

	return cmocka_run_group_tests_name("hist", tests, NULL, NULL);
}
