/* SPDX-License-Identifier: MIT */
/*
 * test_buf.c - unit tests for the byte ring and its chunk cache (buf.h).
 *
 * Every head position and fill level of a small odd ring, random walks
 * against a FIFO model, and the cache's LIFO reuse, keep bound and live count.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"

#define CAP 7u

/* xorshift64*: deterministic, seeded per test. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
	return n ? (uint32_t)(rng_next(s) >> 33) % n : 0;
}

/* A FIFO of what the ring should hold, oldest first. */
struct model {
	uint8_t q[4096];
	uint32_t len;
	uint8_t next; /* value of the next byte written */
};

/* check_state - fields in range and agreeing with the model. */
static void check_state(const struct buf *b, uint32_t cap,
			const struct model *m)
{
	assert_true(b->head < cap);
	assert_true(b->len <= cap);
	assert_int_equal(b->len, m->len);
	assert_int_equal(buf_space(b, cap), cap - m->len);
}

/*
 * write_n - write up to want bytes through wspan/produce (at most two spans
 * are ever needed); returns how many were written.
 */
static uint32_t write_n(struct buf *b, uint32_t cap, struct model *m,
			uint32_t want)
{
	uint32_t done = 0;
	int calls = 0;

	while (done < want) {
		uint8_t *p = NULL;
		uint32_t space = buf_space(b, cap);
		uint32_t tail = (b->head + b->len) % cap;
		uint32_t n = buf_wspan(b, cap, &p);

		if (space == 0) {
			assert_int_equal(n, 0);
			break;
		}
		assert_true(n > 0);
		assert_true(n <= space);
		assert_non_null(p);
		assert_true(p >= b->data && p + n <= b->data + cap);
		/* Free space follows the filled bytes. */
		if (b->len > 0)
			assert_ptr_equal(p, b->data + tail);
		if (n > want - done)
			n = want - done;
		for (uint32_t i = 0; i < n; i++) {
			p[i] = m->next;
			m->q[m->len++] = m->next++;
		}
		buf_produce(b, cap, n);
		done += n;
		calls++;
		check_state(b, cap, m);
	}
	assert_true(calls <= 2);
	return done;
}

/* read_n - consume up to want bytes through rspan, checking FIFO order. */
static uint32_t read_n(struct buf *b, uint32_t cap, struct model *m,
		       uint32_t want)
{
	uint32_t done = 0;
	int calls = 0;

	while (done < want) {
		const uint8_t *p = NULL;
		uint32_t len = b->len;
		uint32_t n = buf_rspan(b, cap, &p);

		if (len == 0) {
			assert_int_equal(n, 0);
			break;
		}
		assert_true(n > 0);
		assert_true(n <= len);
		assert_non_null(p);
		assert_ptr_equal(p, b->data + b->head);
		assert_true(p + n <= b->data + cap);
		if (n > want - done)
			n = want - done;
		assert_memory_equal(p, m->q, n);
		memmove(m->q, m->q + n, m->len - n);
		m->len -= n;
		buf_consume(b, cap, n);
		done += n;
		calls++;
		check_state(b, cap, m);
	}
	assert_true(calls <= 2);
	return done;
}

static void test_cache_init_fini(void **state)
{
	struct buf_cache bc;

	assert_int_equal(buf_cache_init(&bc, CAP, 2), 0);
	assert_int_equal(bc.size, CAP);
	assert_int_equal(bc.keep, 2);
	assert_int_equal(bc.nfree, 0);
	assert_int_equal(bc.live, 0);
	buf_cache_fini(&bc);
}

static void test_no_storage(void **state)
{
	struct buf b = { 0 };
	uint8_t *w = (uint8_t *)&b;
	const uint8_t *r = (const uint8_t *)&b;

	assert_int_equal(buf_space(&b, CAP), 0);
	assert_int_equal(buf_wspan(&b, CAP, &w), 0);
	assert_int_equal(buf_rspan(&b, CAP, &r), 0);
}

static void test_attach_detach(void **state)
{
	struct buf_cache bc;
	struct buf b = { 0 };
	uint8_t *first;

	assert_int_equal(buf_cache_init(&bc, CAP, 2), 0);
	assert_int_equal(buf_attach(&b, &bc), 0);
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_space(&b, CAP), CAP);
	assert_int_equal(bc.live, 1);
	first = b.data;

	/* Attaching again while storage is held changes nothing. */
	assert_int_equal(buf_attach(&b, &bc), 0);
	assert_ptr_equal(b.data, first);
	assert_int_equal(bc.live, 1);

	/* The whole chunk is writable: ASan checks the bounds. */
	memset(b.data, 0xAB, CAP);

	buf_detach(&b, &bc);
	assert_null(b.data);
	assert_int_equal(bc.live, 0);
	assert_int_equal(bc.nfree, 1);
	assert_int_equal(buf_space(&b, CAP), 0);
	buf_cache_fini(&bc);
}

/* Detach after data went through: an emptied ring returns its storage. */
static void test_detach_after_use(void **state)
{
	struct buf_cache bc;
	struct buf b = { 0 };
	struct model m = { .len = 0 };

	assert_int_equal(buf_cache_init(&bc, CAP, 1), 0);
	assert_int_equal(buf_attach(&b, &bc), 0);
	assert_int_equal(write_n(&b, CAP, &m, 5), 5);
	assert_int_equal(read_n(&b, CAP, &m, 5), 5);
	assert_int_equal(b.len, 0);
	buf_detach(&b, &bc);
	assert_null(b.data);
	assert_int_equal(bc.live, 0);
	buf_cache_fini(&bc);
}

static void test_cache_lifo(void **state)
{
	struct buf_cache bc;
	struct buf a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	uint8_t *pa, *pb;

	assert_int_equal(buf_cache_init(&bc, CAP, 4), 0);
	assert_int_equal(buf_attach(&a, &bc), 0);
	assert_int_equal(buf_attach(&b, &bc), 0);
	assert_ptr_not_equal(a.data, b.data);
	pa = a.data;
	pb = b.data;
	buf_detach(&a, &bc);
	buf_detach(&b, &bc);
	assert_int_equal(bc.nfree, 2);
	assert_int_equal(bc.live, 0);

	/* The chunk returned last is handed out first. */
	assert_int_equal(buf_attach(&c, &bc), 0);
	assert_ptr_equal(c.data, pb);
	assert_int_equal(buf_attach(&d, &bc), 0);
	assert_ptr_equal(d.data, pa);
	assert_int_equal(bc.nfree, 0);
	assert_int_equal(bc.live, 2);
	buf_detach(&c, &bc);
	buf_detach(&d, &bc);
	buf_cache_fini(&bc);
}

static void check_keep(uint32_t keep)
{
	enum { N = 10 };
	struct buf_cache bc;
	struct buf b[N];

	memset(b, 0, sizeof(b));
	assert_int_equal(buf_cache_init(&bc, 64, keep), 0);
	for (int round = 0; round < 3; round++) {
		for (uint32_t i = 0; i < N; i++) {
			assert_int_equal(buf_attach(&b[i], &bc), 0);
			assert_non_null(b[i].data);
			assert_int_equal(bc.live, i + 1);
			assert_true(bc.nfree <= keep);
		}
		for (uint32_t i = 0; i < N; i++) {
			for (uint32_t j = 0; j < i; j++)
				assert_ptr_not_equal(b[i].data, b[j].data);
		}
		for (uint32_t i = 0; i < N; i++) {
			buf_detach(&b[i], &bc);
			assert_null(b[i].data);
			assert_int_equal(bc.live, N - 1 - i);
			assert_true(bc.nfree <= keep);
		}
		/* More than keep came back: exactly keep are held. */
		assert_int_equal(bc.nfree, keep);
	}
	/* LeakSanitizer checks that fini frees what the cache held. */
	buf_cache_fini(&bc);
}

static void test_cache_keep_bound(void **state)
{
	check_keep(3);
}

static void test_cache_keep_one(void **state)
{
	check_keep(1);
}

static void test_cache_keep_zero(void **state)
{
	check_keep(0);
}

/*
 * Every head position and every fill level of a cap-7 ring: the write spans
 * cover exactly the free space in at most two calls, the read spans exactly
 * the filled bytes, in FIFO order.
 */
static void test_spans_every_position(void **state)
{
	struct buf_cache bc;

	assert_int_equal(buf_cache_init(&bc, CAP, 1), 0);
	for (uint32_t head = 0; head < CAP; head++) {
		for (uint32_t len = 0; len <= CAP; len++) {
			struct buf b = { 0 };
			struct model m = { .len = 0, .next = 100 };
			uint32_t space = CAP - len;

			assert_int_equal(buf_attach(&b, &bc), 0);
			/* Place len known bytes at head, wrapping. */
			b.head = head;
			b.len = len;
			for (uint32_t i = 0; i < len; i++) {
				b.data[(head + i) % CAP] = m.next;
				m.q[m.len++] = m.next++;
			}
			check_state(&b, CAP, &m);
			assert_int_equal(write_n(&b, CAP, &m, CAP), space);
			assert_int_equal(b.len, CAP);
			assert_int_equal(buf_space(&b, CAP), 0);
			assert_int_equal(read_n(&b, CAP, &m, CAP), CAP);
			assert_int_equal(b.len, 0);

			/* And the read side alone, from the same start. */
			b.head = head;
			b.len = len;
			m.len = 0;
			for (uint32_t i = 0; i < len; i++) {
				b.data[(head + i) % CAP] = m.next;
				m.q[m.len++] = m.next++;
			}
			assert_int_equal(read_n(&b, CAP, &m, CAP), len);
			assert_int_equal(b.len, 0);
			buf_detach(&b, &bc);
		}
	}
	assert_int_equal(bc.live, 0);
	buf_cache_fini(&bc);
}

/* Span lengths at each position, one produce or consume at a time. */
static void test_span_bounds(void **state)
{
	struct buf_cache bc;

	assert_int_equal(buf_cache_init(&bc, CAP, 1), 0);
	for (uint32_t head = 0; head < CAP; head++) {
		for (uint32_t len = 0; len <= CAP; len++) {
			struct buf b = { 0 };
			uint8_t *w = NULL;
			const uint8_t *r = NULL;
			uint32_t nw, nr;

			assert_int_equal(buf_attach(&b, &bc), 0);
			b.head = head;
			b.len = len;
			nw = buf_wspan(&b, CAP, &w);
			nr = buf_rspan(&b, CAP, &r);
			assert_true(nw <= CAP - len);
			assert_true(nr <= len);
			assert_int_equal(nw == 0, len == CAP);
			assert_int_equal(nr == 0, len == 0);
			if (nw)
				assert_true(w >= b.data &&
					    w + nw <= b.data + CAP);
			if (nr) {
				assert_ptr_equal(r, b.data + head);
				/* Largest contiguous filled run from head. */
				assert_int_equal(
				    nr, len < CAP - head ? len : CAP - head);
			}
			if (nw && len) {
				uint32_t tail = (head + len) % CAP;
				uint32_t room =
				    tail >= head ? CAP - tail : head - tail;

				assert_ptr_equal(w, b.data + tail);
				assert_int_equal(nw, room);
			}
			b.len = 0;
			buf_detach(&b, &bc);
		}
	}
	buf_cache_fini(&bc);
}

/* Random produce/consume walks against the FIFO model, several caps. */
static void test_random_walk(void **state)
{
	static const uint32_t caps[] = { 1, 2, 7, 16, 37, 64 };

	for (size_t ci = 0; ci < sizeof(caps) / sizeof(caps[0]); ci++) {
		uint32_t cap = caps[ci];

		for (uint64_t seed = 1; seed <= 20; seed++) {
			uint64_t s = seed * 0x9E3779B97F4A7C15ull;
			struct buf_cache bc;
			struct buf b = { 0 };
			struct model m = { .len = 0 };

			assert_int_equal(buf_cache_init(&bc, cap, 1), 0);
			assert_int_equal(buf_attach(&b, &bc), 0);
			for (int step = 0; step < 500; step++) {
				uint32_t want = rng_below(&s, cap + 2);

				if (rng_below(&s, 2))
					write_n(&b, cap, &m, want);
				else
					read_n(&b, cap, &m, want);
				check_state(&b, cap, &m);
			}
			read_n(&b, cap, &m, cap);
			assert_int_equal(b.len, 0);
			buf_detach(&b, &bc);
			assert_int_equal(bc.live, 0);
			buf_cache_fini(&bc);
		}
	}
}

/* One byte at a time all the way round, several times. */
static void test_byte_by_byte(void **state)
{
	struct buf_cache bc;
	struct buf b = { 0 };
	struct model m = { .len = 0 };

	assert_int_equal(buf_cache_init(&bc, CAP, 1), 0);
	assert_int_equal(buf_attach(&b, &bc), 0);
	for (uint32_t i = 0; i < 5 * CAP; i++) {
		assert_int_equal(write_n(&b, CAP, &m, 1), 1);
		assert_int_equal(read_n(&b, CAP, &m, 1), 1);
	}
	for (uint32_t i = 0; i < 3 * CAP; i++) {
		while (b.len < CAP)
			assert_int_equal(write_n(&b, CAP, &m, 1), 1);
		assert_int_equal(write_n(&b, CAP, &m, 1), 0);
		assert_int_equal(read_n(&b, CAP, &m, 1), 1);
	}
	read_n(&b, CAP, &m, CAP);
	buf_detach(&b, &bc);
	buf_cache_fini(&bc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_init_fini),
		cmocka_unit_test(test_no_storage),
		cmocka_unit_test(test_attach_detach),
		cmocka_unit_test(test_detach_after_use),
		cmocka_unit_test(test_cache_lifo),
		cmocka_unit_test(test_cache_keep_bound),
		cmocka_unit_test(test_cache_keep_one),
		cmocka_unit_test(test_cache_keep_zero),
		cmocka_unit_test(test_spans_every_position),
		cmocka_unit_test(test_span_bounds),
		cmocka_unit_test(test_random_walk),
		cmocka_unit_test(test_byte_by_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
