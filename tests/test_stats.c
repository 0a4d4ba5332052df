/* SPDX-License-Identifier: MIT */
/*
 * test_stats.c - unit tests for the stats line (stats.h).
 *
 * The line is read by scripts: "stats: final=F uptime_ms=U interval_ms=I",
 * then the program's own counters as name=value, then the rates, one
 * newline; snprintf's truncation contract for short buffers; the meter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "stats.h"

#define LINE_MAX_LEN 4096

static const struct {
	const char *name;
	unsigned flags;
} counters[] = {
#define STATS_NAME(name, flags, help) { #name, flags },
	STATS_COUNTERS(STATS_NAME)
#undef STATS_NAME
};

#define NCOUNTERS (sizeof(counters) / sizeof(counters[0]))

/* set_all - give every counter a distinct value derived from base. */
static void set_all(struct stats *s, uint64_t base)
{
	uint64_t *v = (uint64_t *)s;

	assert_int_equal(sizeof(*s), NCOUNTERS * sizeof(uint64_t));
	for (size_t i = 0; i < NCOUNTERS; i++)
		v[i] = base + i * 1000003u;
}

/* format - the whole line, checking the return against strlen. */
static size_t format(const struct stats *s, const struct stats_when *w,
		     char *line)
{
	int n = stats_format(s, w, line, LINE_MAX_LEN);

	assert_true(n > 0);
	assert_true(n < LINE_MAX_LEN);
	assert_int_equal(strlen(line), (size_t)n);
	return (size_t)n;
}

/* expect_tok - the next token at *p is "name=value"; step over it. */
static void expect_tok(const char **p, const char *name, uint64_t value)
{
	char tok[128];
	size_t n;

	n = (size_t)snprintf(tok, sizeof(tok), "%s=%llu", name,
			     (unsigned long long)value);
	if (strncmp(*p, tok, n) || ((*p)[n] != ' ' && (*p)[n] != '\n'))
		fail_msg("expected token '%s' at '%.60s'", tok, *p);
	*p += n + ((*p)[n] == ' ');
}

/*
 * check_line - "stats: final=F uptime_ms=U interval_ms=I", then one
 * name=value token per counter in w->scope in table order, then one
 * name_per_s per rate counter in scope; single spaces, one newline.
 */
static void check_line(const char *line, const struct stats *s,
		       const struct stats_when *w, const uint64_t *rates)
{
	const uint64_t *v = (const uint64_t *)s;
	size_t len = strlen(line), r = 0;
	const char *p = line + 7;
	char name[64];

	assert_true(len > 8);
	assert_memory_equal(line, "stats: ", 7);
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1));
	expect_tok(&p, "final", w->final ? 1 : 0);
	expect_tok(&p, "uptime_ms", (uint64_t)w->uptime_ms);
	expect_tok(&p, "interval_ms", (uint64_t)w->interval_ms);
	for (size_t i = 0; i < NCOUNTERS; i++)
		if (counters[i].flags & w->scope)
			expect_tok(&p, counters[i].name, v[i]);
	for (size_t i = 0; i < NCOUNTERS; i++) {
		if (!(counters[i].flags & w->scope) ||
		    !(counters[i].flags & STATS_RATE))
			continue;
		snprintf(name, sizeof(name), "%s_per_s", counters[i].name);
		expect_tok(&p, name, rates ? rates[r++] : 0);
	}
	assert_int_equal(*p, '\n');
}

static const struct stats_when when_both = {
	.scope = STATS_BOTH,
	.uptime_ms = 1500,
	.interval_ms = 1000,
};

static void test_zero(void **state)
{
	struct stats s;
	char line[LINE_MAX_LEN];

	memset(&s, 0, sizeof(s));
	format(&s, &when_both, line);
	check_line(line, &s, &when_both, NULL);
	assert_non_null(strstr(line, " accepted=0"));
}

static void test_named_values(void **state)
{
	struct stats s;
	char line[LINE_MAX_LEN];

	memset(&s, 0, sizeof(s));
	s.accepted = 3;
	s.bytes_in = 12345678901ull;
	s.bytes_out = UINT64_MAX;
	s.bufs_live = 7;
	format(&s, &when_both, line);
	assert_non_null(strstr(line, "stats: final=0 uptime_ms=1500 "
				     "interval_ms=1000 accepted=3 "));
	assert_non_null(strstr(line, "accepted=3"));
	assert_non_null(strstr(line, "bytes_in=12345678901"));
	assert_non_null(strstr(line, "bytes_out=18446744073709551615"));
	assert_non_null(strstr(line, "bufs_live=7"));
}

static void test_every_counter(void **state)
{
	struct stats s;
	char line[LINE_MAX_LEN];

	struct stats_when w = { .scope = STATS_BOTH };

	set_all(&s, 1);
	format(&s, &w, line);
	check_line(line, &s, &w, NULL); /* no interval: no rate */
	set_all(&s, UINT64_MAX - 100000000ull);
	format(&s, &w, line);
	check_line(line, &s, &w, NULL);
}

/* Every buffer length from 0 to the whole line and beyond. */
static void test_truncation(void **state)
{
	struct stats s;
	char full[LINE_MAX_LEN];
	char buf[LINE_MAX_LEN + 8];
	size_t n;

	set_all(&s, 42);
	n = format(&s, &when_both, full);
	for (size_t len = 0; len <= n + 2; len++) {
		memset(buf, 'Z', sizeof(buf));
		assert_int_equal(stats_format(&s, &when_both, buf, len),
				 (int)n);
		if (len == 0) {
			assert_int_equal(buf[0], 'Z');
			continue;
		}
		/* A prefix of the line, NUL-terminated, nothing past len. */
		assert_int_equal(strlen(buf), len - 1 < n ? len - 1 : n);
		assert_memory_equal(buf, full, strlen(buf));
		assert_int_equal(buf[len], 'Z');
	}
	/* snprintf allows a NULL buffer when len is 0, to measure. */
	assert_int_equal(stats_format(&s, &when_both, NULL, 0), (int)n);
}

/* Each program shows its own counters only: ready-echo none of the
 * io_uring ones, uring-echo no epoll_ctl count. */
static void test_scope(void **state)
{
	struct stats_when ready = { .scope = STATS_READY };
	struct stats_when uring = { .scope = STATS_URING };
	char line[LINE_MAX_LEN];
	struct stats s;
	size_t nready = 0;

	set_all(&s, 5);
	format(&s, &ready, line);
	check_line(line, &s, &ready, NULL);
	assert_null(strstr(line, " zc_sends="));
	assert_null(strstr(line, " cancels="));
	assert_non_null(strstr(line, " ctls="));
	format(&s, &uring, line);
	check_line(line, &s, &uring, NULL);
	assert_non_null(strstr(line, " zc_sends="));
	assert_null(strstr(line, " ctls="));
	for (size_t i = 0; i < NCOUNTERS; i++)
		nready += !!(counters[i].flags & STATS_READY);
	/* 19 io_uring-only counters (pbufs_out, stop_left, sendmsgs,
	 * send_spans and slice_copies among them). */
	assert_int_equal(nready, NCOUNTERS - 19);
}

/* The meter: uptime from the start, rates over the interval since the
 * previous line, the final mark on request. */
static void test_meter(void **state)
{
	struct stats_meter m;
	char line[LINE_MAX_LEN];
	struct stats s;

	memset(&s, 0, sizeof(s));
	stats_meter_init(&m, STATS_READY, 1000);
	s.accepted = 10;
	s.bytes_in = 4000;
	s.active = 9;
	stats_meter_line(&m, &s, 3000, false, line, sizeof(line));
	assert_non_null(strstr(line, "stats: final=0 uptime_ms=2000 "
				     "interval_ms=2000 "));
	assert_non_null(strstr(line, " accepted_per_s=5 "));
	assert_non_null(strstr(line, " bytes_in_per_s=2000 "));
	assert_null(strstr(line, "active_per_s"));
	s.bytes_in = 5000;
	stats_meter_line(&m, &s, 3500, true, line, sizeof(line));
	assert_non_null(strstr(line, "stats: final=1 uptime_ms=2500 "
				     "interval_ms=500 "));
	assert_non_null(strstr(line, " accepted_per_s=0 "));
	assert_non_null(strstr(line, " bytes_in_per_s=2000 "));
	assert_non_null(strstr(line, " accepted=10 "));
}

/* A rate of a huge delta does not overflow; a zero interval gives 0. */
static void test_rate_edges(void **state)
{
	struct stats prev, s;
	struct stats_when w = { .scope = STATS_BOTH,
				.interval_ms = 1000,
				.prev = &prev };
	char line[LINE_MAX_LEN];

	memset(&prev, 0, sizeof(prev));
	memset(&s, 0, sizeof(s));
	s.bytes_out = UINT64_MAX;
	format(&s, &w, line);
	assert_non_null(strstr(line, " bytes_out_per_s=18446744073709551615"));
	w.interval_ms = 0;
	format(&s, &w, line);
	assert_non_null(strstr(line, " bytes_out_per_s=0"));
	/* A counter below its previous value (cannot happen) rates 0. */
	prev.waits = 10;
	w.interval_ms = 1000;
	format(&s, &w, line);
	assert_non_null(strstr(line, " waits_per_s=0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero),
		cmocka_unit_test(test_named_values),
		cmocka_unit_test(test_every_counter),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_meter),
		cmocka_unit_test(test_rate_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
