/* SPDX-License-Identifier: MIT */
/*
 * hist.h - a log-linear latency histogram (HdrHistogram-like), in ns.
 *
 * 128 buckets per power of two (relative width <= 1/128, about 0.8%) from
 * 1 ns up to HIST_MAX_NS (60 s); fixed memory, no allocation, no I/O.
 * One per thread; merged after the run.
 */
#ifndef LOAD_HIST_H
#define LOAD_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7u
#define HIST_SUB (1u << HIST_SUB_BITS) /* buckets per power of two */
#define HIST_MAX_NS 60000000000ull /* larger values land in the top bucket */
#define HIST_TOP_EXP 35u /* floor(log2(HIST_MAX_NS)) */
/* Buckets up to and including the one that holds HIST_MAX_NS. */
#define HIST_BUCKETS                                 \
	(HIST_SUB * (HIST_TOP_EXP - HIST_SUB_BITS) + \
	 (unsigned)(HIST_MAX_NS >> (HIST_TOP_EXP - HIST_SUB_BITS)) + 1u)

struct hist {
	uint64_t count; /* values recorded */
	uint64_t sum; /* of the recorded (unclamped) values, for the mean */
	uint64_t min; /* smallest recorded value; UINT64_MAX when empty */
	uint64_t max; /* largest recorded value, unclamped */
	uint64_t clamped; /* values above HIST_MAX_NS */
	uint64_t b[HIST_BUCKETS];
};

/* hist_reset - empty h. */
void hist_reset(struct hist *h);

/* hist_record - count one value v (ns); values above HIST_MAX_NS are counted
 * in the top bucket and in h->clamped, but h->max keeps the true value. */
void hist_record(struct hist *h, uint64_t v);

/* hist_merge - add every count of src to dst (src unchanged). */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * hist_value_at - the value at quantile q (0..1, e.g. 0.999): the highest
 * value equivalent to the bucket holding the ceil(q * count)-th smallest
 * value, kept within [min, max], so it is never below the true quantile and
 * at most 1/128 above it. 0 when h is empty; q >= 1 gives max.
 */
uint64_t hist_value_at(const struct hist *h, double q);

/* hist_mean - the mean of the recorded values, 0 when empty. */
double hist_mean(const struct hist *h);

/* hist_bucket - the bucket index of v (clamped to the top bucket). */
unsigned hist_bucket(uint64_t v);

/* hist_bucket_low, hist_bucket_high - the smallest and largest value that
 * bucket i holds. */
uint64_t hist_bucket_low(unsigned i);
uint64_t hist_bucket_high(unsigned i);

#endif
