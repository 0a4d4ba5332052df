// SPDX-License-Identifier: MIT
/*
 * test_bufring.c - the provided-buffer ring's books, without a kernel.
 *
 * The ring is set up but never registered: the tests play the kernel,
 * feeding bufring_take_* the completions it would post (buffer id, bytes,
 * IORING_CQE_F_BUF_MORE) and checking what the walk hands out, where the
 * bytes are, and when a buffer goes back (the count the kernel may pick
 * from, avail, and the entries added to the shared ring).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bufring.h"

#define COUNT 4u
#define SIZE 1024u

/* What the ring does when a buffer is offered: avail counts it after the
 * publish; "offered" is the number of entries added since setup. */
static uint32_t offered(const struct bufring *b)
{
	return b->avail + b->pending;
}

/* Set up COUNT buffers of SIZE, all offered, as bufring_register would
 * (it is the registration that a test without a kernel cannot do). */
static void br_init(struct bufring *b, uint32_t slices)
{
	uint32_t i;

	assert_int_equal(bufring_setup(b, COUNT, SIZE), 0);
	if (slices)
		assert_int_equal(bufring_slices(b, slices), 0);
	io_uring_buf_ring_init(b->br);
	for (i = 0; i < COUNT; i++)
		bufring_put(b, (uint16_t)i);
	bufring_publish(b);
	assert_int_equal(b->avail, COUNT);
}

struct piece {
	int ret;
	uint16_t id;
	uint8_t *p;
	uint32_t len;
};

/* Walk one completion; returns the pieces (at most max). */
static unsigned walk(struct bufring *b, uint16_t bid, int res, unsigned flags,
		     struct piece *out, unsigned max)
{
	struct bufring_take t;
	unsigned n = 0;
	struct piece pc;

	bufring_take_init(&t, bid, res, flags);
	while ((pc.ret = bufring_take_next(b, &t, &pc.id, &pc.p, &pc.len))) {
		assert_true(n < max);
		out[n++] = pc;
	}
	return n;
}

/* Whole buffers: one piece per buffer, given back on release. */
static void test_whole(void **state)
{
	struct bufring b;
	struct piece pc[4];

	(void)state;
	br_init(&b, 0);
	assert_int_equal(walk(&b, 2, 100, 0, pc, 4), 1);
	assert_int_equal(pc[0].ret, 1);
	assert_int_equal(pc[0].id, 2);
	assert_int_equal(pc[0].len, 100);
	assert_ptr_equal(pc[0].p, b.mem + 2 * SIZE);
	assert_int_equal(b.avail, COUNT - 1);
	bufring_release(&b, 2);
	assert_int_equal(offered(&b), COUNT);
	/* A buffer named with no bytes goes straight back. */
	assert_int_equal(walk(&b, 1, 0, 0, pc, 4), 0);
	assert_int_equal(offered(&b), COUNT);
	bufring_free(&b, NULL);
}

/* A bundle over whole buffers: the successors in offer order. */
static void test_whole_bundle(void **state)
{
	struct bufring b;
	struct piece pc[4];

	(void)state;
	br_init(&b, 0);
	assert_int_equal(walk(&b, 1, (int)(2 * SIZE + 5), 0, pc, 4), 3);
	assert_int_equal(pc[0].id, 1);
	assert_int_equal(pc[1].id, 2);
	assert_int_equal(pc[2].id, 3);
	assert_int_equal(pc[0].len, SIZE);
	assert_int_equal(pc[2].len, 5);
	assert_int_equal(b.avail, COUNT - 3);
	bufring_free(&b, NULL);
}

/* Incremental: receives fill one buffer in turn; it goes back only once
 * the kernel retired it and every slice was released, in any order. */
static void test_inc_slices(void **state)
{
	struct bufring b;
	struct piece a[2], c[2], d[2];

	(void)state;
	br_init(&b, 64);
	assert_int_equal(walk(&b, 0, 100, IORING_CQE_F_BUF_MORE, a, 2), 1);
	assert_int_equal(walk(&b, 0, 200, IORING_CQE_F_BUF_MORE, c, 2), 1);
	assert_ptr_equal(a[0].p, b.mem);
	assert_ptr_equal(c[0].p, b.mem + 100);
	assert_int_not_equal(a[0].id, c[0].id);
	assert_int_equal(b.segs.off[c[0].id], 100);
	/* Still the kernel's: nothing leaves the count it picks from. */
	assert_int_equal(b.avail, COUNT);
	bufring_release(&b, a[0].id);
	assert_int_equal(offered(&b), COUNT);
	/* The rest of it, retired (no BUF_MORE), while c still holds it. */
	assert_int_equal(walk(&b, 0, (int)(SIZE - 300), 0, d, 2), 1);
	assert_ptr_equal(d[0].p, b.mem + 300);
	assert_int_equal(b.avail, COUNT - 1);
	bufring_release(&b, d[0].id);
	assert_int_equal(offered(&b), COUNT - 1);
	bufring_release(&b, c[0].id);
	assert_int_equal(offered(&b), COUNT);
	/* Back in the ring from its start. */
	assert_int_equal(b.used[0], 0);
	bufring_free(&b, NULL);
}

/* Incremental bundle: the tail of one buffer, then the next one's start;
 * the first retires, the last stays while BUF_MORE says so. */
static void test_inc_bundle(void **state)
{
	struct bufring b;
	struct piece a[2], c[3];

	(void)state;
	br_init(&b, 64);
	assert_int_equal(
	    walk(&b, 0, (int)(SIZE - 24), IORING_CQE_F_BUF_MORE, a, 2), 1);
	assert_int_equal(walk(&b, 0, 24 + 10, IORING_CQE_F_BUF_MORE, c, 3), 2);
	assert_ptr_equal(c[0].p, b.mem + SIZE - 24);
	assert_int_equal(c[0].len, 24);
	assert_ptr_equal(c[1].p, b.mem + SIZE);
	assert_int_equal(c[1].len, 10);
	assert_int_equal(b.avail, COUNT - 1);
	bufring_release(&b, a[0].id);
	bufring_release(&b, c[0].id);
	assert_int_equal(offered(&b), COUNT);
	bufring_release(&b, c[1].id);
	assert_int_equal(offered(&b), COUNT);
	bufring_free(&b, NULL);
}

/* No bytes with incremental buffers: the kernel keeps the buffer. */
static void test_inc_empty(void **state)
{
	struct bufring b;
	struct piece a[2];

	(void)state;
	br_init(&b, 64);
	assert_int_equal(walk(&b, 0, 0, 0, a, 2), 0);
	assert_int_equal(walk(&b, 0, -ENOBUFS, 0, a, 2), 0);
	assert_int_equal(b.avail, COUNT);
	assert_int_equal(b.pending, 0);
	bufring_free(&b, NULL);
}

/* Slice ids run out: the piece says where its bytes are, holds nothing,
 * and ids freed are handed out again. can_take stops short of the end. */
static void test_inc_out_of_ids(void **state)
{
	struct bufring b;
	struct piece a[20], x[1];
	unsigned i;

	(void)state;
	br_init(&b, 16);
	for (i = 0; i < 16; i++) {
		assert_int_equal(
		    walk(&b, 0, 1, IORING_CQE_F_BUF_MORE, &a[i], 1), 1);
		assert_int_equal(a[i].ret, 1);
		assert_int_equal(bufring_can_take(&b), i + 1 < 15);
	}
	assert_int_equal(walk(&b, 0, 7, IORING_CQE_F_BUF_MORE, x, 1), 1);
	assert_int_equal(x[0].ret, -ENOSPC);
	assert_ptr_equal(x[0].p, b.mem + 16);
	assert_int_equal(x[0].len, 7);
	assert_int_equal(b.lost, 1);
	bufring_release(&b, a[3].id);
	assert_int_equal(walk(&b, 0, 1, IORING_CQE_F_BUF_MORE, x, 1), 1);
	assert_int_equal(x[0].ret, 1);
	assert_int_equal(x[0].id, a[3].id);
	assert_int_equal(b.segs.off[x[0].id], 23);
	/* Retire it: it goes back when the last of the 16 slices does. */
	assert_int_equal(walk(&b, 0, (int)(SIZE - 24), 0, x, 1), 1);
	assert_int_equal(x[0].ret, -ENOSPC);
	for (i = 0; i < 16; i++) /* a[3]'s id is the one taken again */
		bufring_release(&b, a[i].id);
	assert_int_equal(offered(&b), COUNT);
	bufring_free(&b, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_whole_bundle),
		cmocka_unit_test(test_inc_slices),
		cmocka_unit_test(test_inc_bundle),
		cmocka_unit_test(test_inc_empty),
		cmocka_unit_test(test_inc_out_of_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
