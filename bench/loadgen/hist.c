// SPDX-License-Identifier: MIT
/*
 * hist.c - the log-linear histogram: bucket arithmetic, quantiles, merge.
 *
 * Below 128 ns every value has its own bucket; above, each power of two
 * [2^e, 2^(e+1)) is split into 128 equal buckets. Pure arithmetic, no I/O.
 */
#include <string.h>

#include "hist.h"

void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned hist_bucket(uint64_t v)
{
	unsigned e;

	if (v > HIST_MAX_NS)
		v = HIST_MAX_NS;
	if (v < HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	return HIST_SUB * (e - HIST_SUB_BITS + 1u) +
	       (unsigned)(v >> (e - HIST_SUB_BITS)) - HIST_SUB;
}

uint64_t hist_bucket_low(unsigned i)
{
	unsigned shift;

	if (i < HIST_SUB)
		return i;
	shift = i / HIST_SUB - 1u;
	return (uint64_t)(i % HIST_SUB + HIST_SUB) << shift;
}

uint64_t hist_bucket_high(unsigned i)
{
	if (i < HIST_SUB)
		return i;
	return hist_bucket_low(i) + (1ull << (i / HIST_SUB - 1u)) - 1u;
}

void hist_record(struct hist *h, uint64_t v)
{
	h->b[hist_bucket(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	if (v > HIST_MAX_NS)
		h->clamped++;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned i;

	if (!src->count)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum += src->sum;
	dst->clamped += src->clamped;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_value_at(const struct hist *h, double q)
{
	uint64_t rank, seen = 0, v;
	unsigned i;

	if (!h->count)
		return 0;
	if (q >= 1.0)
		return h->max;
	if (q < 0.0)
		q = 0.0;
	/* The rank of the value asked for, 1-based: ceil(q * count), >= 1. */
	rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			break;
	}
	v = hist_bucket_high(i < HIST_BUCKETS ? i : HIST_BUCKETS - 1u);
	if (v > h->max)
		v = h->max;
	if (v < h->min)
		v = h->min;
	return v;
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}
