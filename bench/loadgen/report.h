/* SPDX-License-Identifier: MIT */
/*
 * report.h - one run's results and their text forms: a CSV header and row,
 * one JSON object, a human table. Formatting into a caller's buffer only.
 *
 * The field list below is the machine-readable contract, in column order;
 * add fields at the end so scripts that index columns keep working.
 */
#ifndef LOAD_REPORT_H
#define LOAD_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "hist.h"

/* S(name): string; U(name): unsigned integer; F(name, decimals): real. */
#define REPORT_FIELDS(S, U, F)   \
	S(label)                 \
	S(mode)                  \
	U(conns)                 \
	U(idle)                  \
	U(threads)               \
	U(size)                  \
	U(depth)                 \
	U(rate)                  \
	F(warmup_s, 3)           \
	F(duration_s, 3)         \
	U(msgs)                  \
	U(bytes)                 \
	F(msgs_per_s, 1)         \
	F(mib_per_s, 3)          \
	F(p50_us, 2)             \
	F(p90_us, 2)             \
	F(p99_us, 2)             \
	F(p999_us, 2)            \
	F(max_us, 2)             \
	F(mean_us, 2)            \
	U(errors)                \
	U(verify_errors)         \
	U(conn_errors)           \
	F(gen_cpu_pct, 1)        \
	F(gen_thread_max_pct, 1) \
	U(gen_saturated)         \
	S(engine)

struct report {
#define REPORT_S(name) const char *name;
#define REPORT_U(name) uint64_t name;
#define REPORT_F(name, dec) double name;
	REPORT_FIELDS(REPORT_S, REPORT_U, REPORT_F)
#undef REPORT_S
#undef REPORT_U
#undef REPORT_F
};

/* A generator thread at or above this share of its core is saturated. */
#define REPORT_SATURATED_PCT 90.0

/*
 * report_fill - derive the rates, latency columns (from h, ns) and the
 * saturation flag from the counts already in r (msgs, bytes, duration_s,
 * threads, gen_cpu_pct, gen_thread_max_pct).
 */
void report_fill(struct report *r, const struct hist *h);

/* report_csv_header, report_csv_row, report_json, report_text - write one
 * form (newline-terminated, NUL-terminated, truncated to len) into buf;
 * return the length needed, like snprintf. */
int report_csv_header(char *buf, size_t len);
int report_csv_row(const struct report *r, char *buf, size_t len);
int report_json(const struct report *r, char *buf, size_t len);
int report_text(const struct report *r, char *buf, size_t len);

/*
 * report_hgrm - h (ns) in HdrHistogram's percentile-distribution text form
 * (.hgrm: "Value Percentile TotalCount 1/(1-Percentile)" lines, values
 * divided by unit_ns, e.g. 1000 for microseconds, then the #[Mean ...]
 * footer); returns the length needed, like snprintf (at most about 80
 * bytes a line, a few hundred lines).
 */
int report_hgrm(const struct hist *h, double unit_ns, char *buf, size_t len);

#endif
