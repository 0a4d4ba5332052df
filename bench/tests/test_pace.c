/* SPDX-License-Identifier: MIT */
/*
 * test_pace.c - unit tests for rate control: intended send times (pace.h)
 * and open-loop latency (flow.h in rate mode), where a stalled server
 * charges every queued message the time since its intended send.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flow.h"
#include "hist.h"
#include "pace.h"
#include "pattern.h"

#define MS 1000000ull
#define T0 (5000ull * MS) /* any start time */

static void test_intended(void **state)
{
	struct pace p = { .t0 = T0, .rate = 1000, .conns = 4 };
	uint32_t c;
	uint64_t k;

	(void)state;
	/* 1000/s over 4 connections: each 250/s, phase-shifted by 1 ms. */
	for (c = 0; c < 4; c++) {
		for (k = 0; k < 100; k++)
			assert_int_equal(pace_intended(&p, c, k),
					 T0 + (4 * k + c) * MS);
	}
	/* A rate that does not divide 1 s: no drift, exact on the second. */
	p = (struct pace){ .t0 = T0, .rate = 3, .conns = 1 };
	assert_int_equal(pace_slot_time(&p, 1), T0 + 333333333);
	assert_int_equal(pace_slot_time(&p, 3), T0 + 1000 * MS);
	assert_int_equal(pace_slot_time(&p, 3000000), T0 + 1000000000 * MS);
	/* A day at 100 million per second does not overflow. */
	p = (struct pace){ .t0 = T0, .rate = 100000000, .conns = 7 };
	assert_int_equal(pace_slot_time(&p, 8640000000000ull),
			 T0 + 86400ull * 1000 * MS);
}

/* pace_due against counting by hand, at and around every slot time. */
static void test_due(void **state)
{
	static const struct pace cases[] = {
		{ T0, 1000, 4 }, { T0, 3, 2 },	   { T0, 7919, 13 },
		{ T0, 1, 1 },	 { 0, 123456, 3 },
	};
	uint64_t now, k, count, n;
	uint32_t c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pace *p = &cases[i];

		if (p->t0)
			assert_int_equal(pace_due(p, 0, p->t0 - 1), 0);
		for (n = 0; n < 60; n++) {
			for (int d = -1; d <= 1; d++) {
				now = pace_slot_time(p, n) + (uint64_t)d;
				if (d < 0 && pace_slot_time(p, n) == p->t0)
					continue;
				for (c = 0; c < p->conns; c++) {
					for (k = 0, count = 0; k < 100; k++)
						count += pace_intended(
							     p, c, k) <= now;
					assert_int_equal(pace_due(p, c, now),
							 count);
				}
			}
		}
	}
}

/* A thread's cursor walks its connections' slots in time order. */
static void test_cursor(void **state)
{
	struct pace p = { .t0 = T0, .rate = 997, .conns = 10 };
	struct pace_cursor pc;
	uint64_t prev = 0, t, seen[10] = { 0 };
	uint32_t c;
	int i;

	(void)state;
	pace_cursor_init(&pc, &p, 3, 7);
	for (i = 0; i < 4000; i++) {
		t = pace_cursor_time(&pc);
		assert_true(t >= prev);
		prev = t;
		c = pace_cursor_next(&pc);
		assert_in_range(c, 3, 6);
		assert_int_equal(t, pace_intended(&p, c, seen[c]));
		seen[c]++;
	}
	for (c = 3; c < 7; c++)
		assert_int_equal(seen[c], 1000);
	/* After the walk, each has exactly the messages due by then. */
	for (c = 3; c < 7; c++)
		assert_int_equal(pace_due(&p, c, prev), seen[c]);
}

/* Echo everything sent so far, in one read at time now. */
static int echo_all(struct flow *f, uint64_t now, struct hist *h,
		    struct flow_count *cnt)
{
	uint8_t buf[4096];
	size_t n = (size_t)(f->tx_off - f->rx_off);

	assert_true(n <= sizeof(buf));
	pat_fill(f->seed, f->rx_off, buf, n);
	return flow_rx(f, buf, n, now, h, cnt);
}

/* Send everything allowed, in one send at time now. */
static size_t send_all(struct flow *f, uint64_t now)
{
	uint8_t buf[4096];
	size_t n = flow_tx_fill(f, buf, sizeof(buf));

	assert_int_equal(pat_check(f->seed, f->tx_off, buf, n), -1);
	flow_tx_commit(f, n, now);
	return n;
}

/* In time: each message's latency is its echo time minus its intended. */
static void test_rate_on_time(void **state)
{
	struct pace p = { .t0 = T0, .rate = 1000, .conns = 1 };
	struct flow_cfg cfg = { .mode = FLOW_RATE, .size = 16, .pace = &p };
	struct hist *h = malloc(sizeof(*h));
	struct flow_count cnt = { 0 };
	struct flow f;
	uint64_t k, now;

	(void)state;
	assert_int_equal(flow_rec_cap(FLOW_RATE, 0), 0);
	hist_reset(h);
	flow_init(&f, &cfg, 0, 99, NULL);
	assert_int_equal(flow_tx_avail(&f), 0);
	for (k = 0; k < 10; k++) {
		now = pace_intended(&p, 0, k);
		flow_release(&f, pace_due(&p, 0, now) - f.due);
		assert_int_equal(flow_tx_avail(&f), 16);
		assert_int_equal(send_all(&f, now), 16);
		assert_int_equal(flow_tx_avail(&f), 0);
		assert_int_equal(echo_all(&f, now + 30000, h, &cnt), 0);
	}
	assert_int_equal(cnt.msgs, 10);
	assert_int_equal(h->min, 30000);
	assert_int_equal(h->max, 30000);
	free(h);
}

/*
 * The server stalls 100 ms after message 0. Closed loop would have sent
 * nothing more and counted one slow message; open loop keeps releasing
 * messages (the sends block, then go late), and each message's latency
 * runs from its intended time: message k gets 100 - k ms.
 */
static void test_rate_stall(void **state)
{
	struct pace p = { .t0 = T0, .rate = 1000, .conns = 1 };
	struct flow_cfg cfg = { .mode = FLOW_RATE, .size = 8, .pace = &p };
	struct hist *h = malloc(sizeof(*h));
	struct flow_count cnt = { 0 };
	uint64_t now, k, stall_end = T0 + 100 * MS;
	struct flow f;

	(void)state;
	hist_reset(h);
	flow_init(&f, &cfg, 0, 7, NULL);
	/* Message 0 goes out on time; then the socket fills: no sends. */
	flow_release(&f, pace_due(&p, 0, T0));
	send_all(&f, T0);
	for (now = T0 + MS; now < stall_end; now += MS)
		flow_release(&f, pace_due(&p, 0, now) - f.due);
	assert_int_equal(f.due, 100);
	assert_int_equal(flow_tx_avail(&f), 99 * 8);
	/* The stall ends: the queued intended sends go out late, echoed. */
	flow_release(&f, pace_due(&p, 0, stall_end) - f.due);
	assert_int_equal(f.due, 101);
	send_all(&f, stall_end);
	assert_int_equal(echo_all(&f, stall_end, h, &cnt), 0);
	assert_int_equal(cnt.msgs, 101);
	assert_int_equal(h->count, 101);
	assert_int_equal(h->max, 100 * MS); /* message 0 */
	assert_int_equal(h->min, 0); /* message 100, due right now */
	/* Half the messages waited 50 ms or more. */
	assert_true(hist_value_at(h, 0.5) >= 50 * MS);
	for (k = 0; k <= 100; k++)
		assert_true(h->b[hist_bucket((100 - k) * MS)] >= 1);
	free(h);
}

/* Two connections share the rate; latency uses each one's own phase. */
static void test_rate_two_conns(void **state)
{
	struct pace p = { .t0 = T0, .rate = 2000, .conns = 2 };
	struct flow_cfg cfg = { .mode = FLOW_RATE, .size = 4, .pace = &p };
	struct hist *h = malloc(sizeof(*h));
	struct flow_count cnt = { 0 };
	struct flow f[2];
	uint64_t now = T0 + 10 * MS;

	(void)state;
	hist_reset(h);
	flow_init(&f[0], &cfg, 0, 1, NULL);
	flow_init(&f[1], &cfg, 1, 2, NULL);
	flow_release(&f[0], pace_due(&p, 0, now));
	flow_release(&f[1], pace_due(&p, 1, now));
	assert_int_equal(f[0].due, 11); /* 0, 1, ... 10 ms */
	assert_int_equal(f[1].due, 10); /* 0.5, 1.5, ... 9.5 ms */
	send_all(&f[1], now);
	assert_int_equal(echo_all(&f[1], now, h, &cnt), 0);
	assert_int_equal(h->max, 10 * MS - MS / 2);
	assert_int_equal(h->min, MS / 2);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intended),
		cmocka_unit_test(test_due),
		cmocka_unit_test(test_cursor),
		cmocka_unit_test(test_rate_on_time),
		cmocka_unit_test(test_rate_stall),
		cmocka_unit_test(test_rate_two_conns),
	};

	return cmocka_run_group_tests_name("pace", tests, NULL, NULL);
}
