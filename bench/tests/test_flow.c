/* SPDX-License-Identifier: MIT */
/*
 * test_flow.c - unit tests for one connection's bookkeeping (flow.h):
 * send limits per mode, latency from the send of a message's first byte to
 * the read of its last, with sends and reads split at every offset, and
 * wrong or surplus echoed bytes reported where they are.
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
#include "pattern.h"

#define SEED 0xfeedull

struct fx {
	struct flow_cfg cfg;
	struct flow f;
	struct flow_rec rec[512];
	struct hist h;
	struct flow_count cnt;
};

static struct fx *fx_new(enum flow_mode mode, uint32_t size, uint32_t depth)
{
	struct fx *x = calloc(1, sizeof(*x));

	x->cfg = (struct flow_cfg){
		.mode = mode,
		.size = size,
		.depth = depth,
		.rec_cap = flow_rec_cap(mode, depth),
	};
	assert_true(x->cfg.rec_cap <= 512);
	flow_init(&x->f, &x->cfg, 0, SEED, x->rec);
	hist_reset(&x->h);
	return x;
}

/* Send up to max of what is allowed at time now; returns bytes sent. */
static size_t tx(struct fx *x, size_t max, uint64_t now)
{
	uint8_t buf[8192];
	size_t n =
	    flow_tx_fill(&x->f, buf, max < sizeof(buf) ? max : sizeof(buf));

	assert_int_equal(pat_check(SEED, x->f.tx_off, buf, n), -1);
	flow_tx_commit(&x->f, n, now);
	return n;
}

/* The server echoes n more bytes, read at time now. */
static int rx(struct fx *x, size_t n, uint64_t now)
{
	uint8_t buf[8192];

	assert_true(n <= sizeof(buf));
	pat_fill(SEED, x->f.rx_off, buf, n);
	return flow_rx(&x->f, buf, n, now, &x->h, &x->cnt);
}

static void test_pingpong(void **state)
{
	struct fx *x = fx_new(FLOW_PINGPONG, 100, 1);
	uint64_t t = 1000;
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		assert_int_equal(flow_tx_avail(&x->f), 100);
		/* Two partial sends: the first carries the first byte. */
		assert_int_equal(tx(x, 30, t), 30);
		assert_int_equal(tx(x, 1000, t + 5), 70);
		assert_int_equal(flow_tx_avail(&x->f), 0);
		assert_int_equal(rx(x, 99, t + 50), 0);
		assert_int_equal(x->cnt.msgs, (uint64_t)i);
		assert_int_equal(flow_tx_avail(&x->f), 0); /* not done yet */
		assert_int_equal(rx(x, 1, t + 70), 0);
		assert_int_equal(x->cnt.msgs, (uint64_t)i + 1);
		t += 1000;
	}
	assert_int_equal(x->h.min, 70);
	assert_int_equal(x->h.max, 70);
	assert_int_equal(x->cnt.bytes, 500);
	free(x);
}

/* Pipeline, depth 4: sends split at every size, echoes byte by byte;
 * each latency is its last byte's read time minus its first byte's send
 * time, and in flight never exceeds the depth. */
static void test_pipeline_split(void **state)
{
	uint32_t size = 5, depth = 4, total = 20 * 5;
	uint64_t sent_at[20], t, k, off, before, want_sum;
	size_t chunk, n;

	(void)state;
	for (chunk = 1; chunk <= 23; chunk++) {
		struct fx *x = fx_new(FLOW_PIPELINE, size, depth);

		want_sum = 0;
		assert_int_equal(flow_tx_avail(&x->f), size * depth);
		while (x->cnt.msgs < 20) {
			while (flow_tx_avail(&x->f) && x->f.tx_off < total) {
				off = x->f.tx_off;
				t = 1000 * (off + 1);
				n = total - off < chunk ? total - off : chunk;
				n = tx(x, n, t);
				for (k = (off + size - 1) / size;
				     k * size < off + n; k++)
					sent_at[k] = t;
			}
			assert_true(x->f.tx_off - x->f.rx_off <= size * depth);
			before = x->cnt.msgs;
			t = 1000000 + x->f.rx_off;
			assert_int_equal(rx(x, 1, t), 0);
			if (x->cnt.msgs > before)
				want_sum += t - sent_at[before];
		}
		assert_int_equal(x->h.count, 20);
		assert_int_equal(x->h.sum, want_sum);
		assert_int_equal(x->f.rec_len, 0);
		free(x);
	}
}

/* Exact latencies with a hand-made schedule: 3 messages in one send. */
static void test_pipeline_batch(void **state)
{
	struct fx *x = fx_new(FLOW_PIPELINE, 10, 3);

	(void)state;
	assert_int_equal(tx(x, 1000, 100), 30); /* messages 0, 1, 2 */
	assert_int_equal(flow_tx_avail(&x->f), 0);
	assert_int_equal(rx(x, 15, 150), 0); /* message 0: 50 */
	assert_int_equal(flow_tx_avail(&x->f), 10);
	assert_int_equal(tx(x, 4, 160), 4); /* first byte of message 3 */
	assert_int_equal(tx(x, 100, 170), 6);
	assert_int_equal(rx(x, 25, 400), 0); /* 1, 2: 300; 3: 240 */
	assert_int_equal(x->cnt.msgs, 4);
	assert_int_equal(x->h.min, 50);
	assert_int_equal(x->h.max, 300);
	assert_int_equal(x->h.sum, 50 + 300 + 300 + 240);
	assert_int_equal(x->f.rec_len, 0); /* nothing in flight */
	free(x);
}

/* Stream: sends are not held back by echoes, only by the record ring
 * (one record per send that starts a message): when it is full, only the
 * current message may be finished. */
static void test_stream(void **state)
{
	struct fx *x = fx_new(FLOW_STREAM, 8, 0);
	uint32_t cap = x->cfg.rec_cap;
	uint32_t i;

	(void)state;
	assert_true(flow_tx_avail(&x->f) > (1ull << 40));
	for (i = 0; i < cap; i++)
		assert_int_equal(tx(x, 3, 10 + i), 3); /* some start none */
	/* 256 sends of 3 bytes started 96 messages: ring not full. */
	assert_true(x->f.rec_len < cap);
	for (i = 0; x->f.rec_len < cap && i < 4 * cap; i++)
		tx(x, 8, 5000);
	assert_int_equal(x->f.rec_len, cap);
	/* Full, mid-message or at a boundary: at most to the boundary. */
	assert_true(flow_tx_avail(&x->f) < 8);
	assert_int_equal((x->f.tx_off + flow_tx_avail(&x->f)) % 8, 0);
	if (flow_tx_avail(&x->f))
		tx(x, 8, 5001);
	assert_int_equal(flow_tx_avail(&x->f), 0);
	/* Echo the first 16 bytes: records free up, sending resumes. */
	assert_int_equal(rx(x, 16, 6000), 0);
	assert_true(flow_tx_avail(&x->f) > 0);
	/* Message 0 started at t=10 (first send), message 1 at t=12. */
	assert_int_equal(x->h.max, 6000 - 10);
	assert_int_equal(x->h.min, 6000 - 12);
	/* Echo the rest in odd pieces: every message counted once. */
	while (x->f.rx_off < x->f.tx_off) {
		size_t n = x->f.tx_off - x->f.rx_off;

		assert_int_equal(rx(x, n < 7 ? n : 7, 7000), 0);
	}
	assert_int_equal(x->cnt.msgs, x->f.tx_off / 8);
	assert_int_equal(x->cnt.bytes, x->f.tx_off);
	free(x);
}

/* Stream with --depth: at most depth messages in flight. */
static void test_stream_depth(void **state)
{
	struct fx *x = fx_new(FLOW_STREAM, 8, 2);

	(void)state;
	assert_int_equal(flow_tx_avail(&x->f), 16);
	tx(x, 100, 1);
	assert_int_equal(flow_tx_avail(&x->f), 0);
	assert_int_equal(rx(x, 8, 2), 0);
	assert_int_equal(flow_tx_avail(&x->f), 8);
	free(x);
}

/* A wrong byte at every offset: -EPROTO, its offset and both values,
 * and nothing counted. */
static void test_wrong_byte(void **state)
{
	uint8_t buf[64];
	size_t i;

	(void)state;
	for (i = 0; i < 40; i++) {
		struct fx *x = fx_new(FLOW_PIPELINE, 10, 4);

		tx(x, 1000, 1);
		assert_int_equal(rx(x, 3, 2), 0);
		pat_fill(SEED, 3, buf, 37);
		buf[i % 37] ^= 0x40;
		assert_int_equal(flow_rx(&x->f, buf, 37, 3, &x->h, &x->cnt),
				 -EPROTO);
		assert_int_equal(x->f.err_off, 3 + i % 37);
		assert_int_equal(x->f.err_want, pat_byte(SEED, 3 + i % 37));
		assert_int_equal(x->f.err_got, buf[i % 37]);
		assert_int_equal(x->cnt.msgs, 0);
		assert_int_equal(x->cnt.bytes, 3);
		free(x);
	}
}

/* Bytes beyond what was sent are foreign even if they "look right". */
static void test_surplus(void **state)
{
	struct fx *x = fx_new(FLOW_PINGPONG, 10, 1);
	uint8_t buf[32];

	(void)state;
	tx(x, 100, 1);
	pat_fill(SEED, 0, buf, 11); /* the stream's own next byte */
	assert_int_equal(flow_rx(&x->f, buf, 11, 2, &x->h, &x->cnt), -EPROTO);
	assert_int_equal(x->f.err_off, 10);
	assert_int_equal(x->f.err_want, -1);
	assert_int_equal(x->cnt.msgs, 0);
	free(x);
}

/* Without a histogram (draining after the run): verified and counted,
 * no latency recorded. */
static void test_no_hist(void **state)
{
	struct fx *x = fx_new(FLOW_PIPELINE, 10, 2);
	uint8_t buf[20];

	(void)state;
	tx(x, 100, 1);
	pat_fill(SEED, 0, buf, 20);
	assert_int_equal(flow_rx(&x->f, buf, 20, 5, NULL, &x->cnt), 0);
	assert_int_equal(x->cnt.msgs, 2);
	assert_int_equal(x->h.count, 0);
	free(x);
}

static void test_rec_cap(void **state)
{
	(void)state;
	assert_int_equal(flow_rec_cap(FLOW_PINGPONG, 1), 2);
	assert_int_equal(flow_rec_cap(FLOW_PIPELINE, 8), 8);
	assert_int_equal(flow_rec_cap(FLOW_PIPELINE, 9), 16);
	assert_int_equal(flow_rec_cap(FLOW_PIPELINE, 4096), 4096);
	assert_int_equal(flow_rec_cap(FLOW_STREAM, 0), 256);
	assert_int_equal(flow_rec_cap(FLOW_STREAM, 3), 4);
	assert_int_equal(flow_rec_cap(FLOW_RATE, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pingpong),
		cmocka_unit_test(test_pipeline_split),
		cmocka_unit_test(test_pipeline_batch),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stream_depth),
		cmocka_unit_test(test_wrong_byte),
		cmocka_unit_test(test_surplus),
		cmocka_unit_test(test_no_hist),
		cmocka_unit_test(test_rec_cap),
	};

	return cmocka_run_group_tests_name("flow", tests, NULL, NULL);
}
