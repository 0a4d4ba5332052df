// SPDX-License-Identifier: MIT
/*
 * test_segs.c - the core in segment mode: bytes that arrive in provided
 * buffers are echoed from them, in order, and every buffer is handed back
 * exactly once (after its last byte is sent, or dropped at close).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conn.h"

#define NBUF 32
#define BSIZE 8

/* A fake provided-buffer ring: free ids on a stack, ownership tracked. */
struct ring {
	uint8_t mem[NBUF * BSIZE];
	uint32_t len[NBUF];
	uint16_t next[NBUF];
	uint32_t off[NBUF]; /* where each id starts, when sliced */
	uint16_t free[NBUF];
	int nfree;
	bool held[NBUF];
	struct conn_segs segs;
	struct conn_env env;
};

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void ring_init(struct ring *r, uint32_t buf_size)
{
	int i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < NBUF; i++)
		r->free[r->nfree++] = (uint16_t)(NBUF - 1 - i);
	r->segs.base = r->mem;
	r->segs.size = BSIZE;
	r->segs.count = NBUF;
	r->segs.len = r->len;
	r->segs.next = r->next;
	assert_int_equal(conn_env_init(&r->env, buf_size, 2), 0);
	assert_int_equal(conn_env_segs(&r->env, &r->segs), 0);
}

/* The kernel picks a free buffer and fills it with n bytes of src. */
static uint16_t ring_fill(struct ring *r, const uint8_t *src, uint32_t n)
{
	uint16_t id;

	assert_true(r->nfree > 0);
	id = r->free[--r->nfree];
	assert_false(r->held[id]);
	r->held[id] = true;
	memcpy(r->mem + (r->segs.off ? r->off[id] : id * BSIZE), src, n);
	return id;
}

/* Ids name slices at offsets of the driver's choosing (conn_segs.off):
 * here scattered, id i at slot (i * 7) % NBUF, so that a core computing
 * base + id * size would echo other bytes. */
static void ring_slice(struct ring *r)
{
	int i;

	for (i = 0; i < NBUF; i++)
		r->off[i] = (uint32_t)((i * 7) % NBUF) * BSIZE;
	r->segs.off = r->off;
}

static void ring_give_back(struct ring *r, int id)
{
	assert_true(id >= 0 && id < NBUF);
	assert_true(r->held[id]); /* never recycled twice */
	r->held[id] = false;
	r->free[r->nfree++] = (uint16_t)id;
}

static void test_env_segs_checks(void **state)
{
	struct conn_env env;
	struct conn_segs bad = { 0 };
	struct ring r;

	(void)state;
	assert_int_equal(conn_env_init(&env, 64, 0), 0);
	assert_int_equal(conn_env_segs(&env, &bad), -EINVAL);
	assert_null(env.segs);
	conn_env_fini(&env);

	/* max_held comes from the byte bound: 20 / 8 -> 2; 4 / 8 -> 1. */
	ring_init(&r, 20);
	assert_int_equal(r.segs.max_held, 2);
	conn_env_fini(&r.env);
	ring_init(&r, 16);
	assert_int_equal(r.segs.max_held, 2);
	conn_env_fini(&r.env);
	ring_init(&r, 16 * 1024);
	assert_int_equal(r.segs.max_held, 2048);
	conn_env_fini(&r.env);

	/* A cap the driver set (ids are slices) is kept. */
	memset(&r, 0, sizeof(r));
	r.segs.base = r.mem;
	r.segs.size = BSIZE;
	r.segs.count = NBUF;
	r.segs.len = r.len;
	r.segs.next = r.next;
	r.segs.max_held = 5;
	assert_int_equal(conn_env_init(&r.env, 16 * 1024, 0), 0);
	assert_int_equal(conn_env_segs(&r.env, &r.segs), 0);
	assert_int_equal(r.segs.max_held, 5);
	conn_env_fini(&r.env);
}

/* A send lent as spans (conn_tx_iov), possibly still in flight. */
struct model_tx {
	struct iovec iov[8];
	unsigned n;
	size_t total;
	bool lent;
};

/* Lend up to 1-8 spans; they must hold the oldest bytes, in order. */
static void model_tx_lend(struct conn *c, struct model_tx *t, uint64_t *s,
			  const uint8_t *in, size_t out_pos)
{
	size_t off = 0;
	unsigned i, max = 1 + (unsigned)(rng_next(s) % 8);

	t->n = conn_tx_iov(c, t->iov, max, &t->total);
	assert_true(t->n >= 1 && t->n <= max);
	assert_true(t->total > 0 && t->total <= conn_buffered(c));
	for (i = 0; i < t->n; i++) {
		assert_true(t->iov[i].iov_len > 0);
		assert_memory_equal(t->iov[i].iov_base, in + out_pos + off,
				    t->iov[i].iov_len);
		off += t->iov[i].iov_len;
	}
	assert_int_equal(off, t->total);
	t->lent = true;
}

/* The kernel sent k of the lent bytes (a short send when k < total):
 * copy them out of the spans (still intact), commit, recycle. */
static void model_tx_commit(struct ring *r, struct conn *c, struct model_tx *t,
			    size_t k, uint8_t *out, size_t *out_pos)
{
	uint16_t done[8];
	size_t left = k, m;
	unsigned i, nd;

	for (i = 0; i < t->n && left; i++) {
		m = t->iov[i].iov_len < left ? t->iov[i].iov_len : left;
		memcpy(out + *out_pos, t->iov[i].iov_base, m);
		*out_pos += m;
		left -= m;
	}
	nd = conn_tx_commit_iov(c, k, done);
	assert_true(nd <= t->n);
	for (i = 0; i < nd; i++)
		ring_give_back(r, done[i]);
	t->lent = false;
}

/* Random arrivals and short sends: output equals input, ids come back. */
static void run_model(uint64_t seed, uint32_t buf_size, bool eof)
{
	static uint8_t in[4096], out[4096];
	struct ring r;
	struct conn c;
	size_t in_pos = 0, out_pos = 0, total;
	uint64_t s = seed;
	const uint8_t *p;
	size_t n;
	unsigned w;
	int id, steps = 0;

	ring_init(&r, buf_size);
	total = 1 + rng_next(&s) % sizeof(in);
	for (n = 0; n < total; n++)
		in[n] = (uint8_t)rng_next(&s);
	conn_init(&c, &r.env);
	assert_int_equal(conn_wants(&c), CONN_WANT_READ);

	while (out_pos < total || conn_wants(&c)) {
		assert_true(++steps < 100000);
		w = conn_wants(&c);
		assert_true(conn_buffered(&c) == in_pos - out_pos);
		/* READ exactly while fewer than max_held buffers are held. */
		if (in_pos < total)
			assert_int_equal(!!(w & CONN_WANT_READ),
					 c.seg.n < r.segs.max_held);
		assert_int_equal(!!(w & CONN_WANT_WRITE), in_pos > out_pos);
		if ((w & CONN_WANT_READ) && in_pos < total &&
		    rng_next(&s) % 2) {
			uint32_t k = 1 + rng_next(&s) % BSIZE;

			if (k > total - in_pos)
				k = (uint32_t)(total - in_pos);
			id = ring_fill(&r, in + in_pos, k);
			conn_rx_segment(&c, (uint16_t)id, k);
			in_pos += k;
			if (in_pos == total && eof)
				conn_rx_eof(&c);
			continue;
		}
		if (w & CONN_WANT_WRITE) {
			n = conn_tx_window(&c, &p);
			assert_true(n > 0 && n <= BSIZE);
			if (rng_next(&s) % 3 == 0)
				n = rng_next(&s) % (n + 1);
			memcpy(out + out_pos, p, n);
			out_pos += n;
			id = conn_tx_commit(&c, n);
			if (id >= 0)
				ring_give_back(&r, id);
			continue;
		}
		if (w & CONN_WANT_SHUT) {
			conn_shut_done(&c);
			continue;
		}
		if (!eof && in_pos == total && out_pos == total)
			break;
	}
	assert_int_equal(out_pos, total);
	assert_memory_equal(in, out, total);
	assert_int_equal(r.nfree, NBUF);
	if (eof)
		assert_int_equal(conn_wants(&c), 0);
	conn_reset(&c);
	conn_env_fini(&r.env);
}

static void test_model(void **state)
{
	uint64_t seed;

	(void)state;
	for (seed = 1; seed <= 300; seed++) {
		run_model(seed * 0x9e3779b97f4a7c15ull, 16, seed & 1);
		run_model(seed * 0x2545f4914f6cdd1dull, 64, !(seed & 1));
		run_model(seed + 12345, 8 * NBUF, true);
	}
}

/*
 * Mixed: buffers when the ring is idle, the own ring otherwise (the
 * fallback when the shared pool is empty). Output must equal input.
 */
static void run_mixed(uint64_t seed, uint32_t buf_size, bool iov, int *nseg,
		      int *nring)
{
	struct model_tx tx = { .lent = false };
	static uint8_t in[8192], out[8192];
	struct ring r;
	struct conn c;
	size_t in_pos = 0, out_pos = 0, total, n;
	uint64_t s = seed;
	const uint8_t *p;
	uint8_t *w8;
	unsigned w;
	int id, steps = 0, segs = 0, rings = 0;

	ring_init(&r, buf_size);
	if (iov && (seed & 1))
		ring_slice(&r);
	total = 1 + rng_next(&s) % sizeof(in);
	for (n = 0; n < total; n++)
		in[n] = (uint8_t)rng_next(&s);
	conn_init(&c, &r.env);
	while (out_pos < total) {
		assert_true(++steps < 200000);
		w = conn_wants(&c);
		assert_int_equal(conn_buffered(&c), in_pos - out_pos);
		assert_true(c.buf.len <= buf_size);
		if ((w & CONN_WANT_READ) && in_pos < total &&
		    rng_next(&s) % 2) {
			size_t k;

			if (conn_ring_idle(&c) && r.nfree && rng_next(&s) % 2) {
				k = 1 + rng_next(&s) % BSIZE;
				if (k > total - in_pos)
					k = total - in_pos;
				id = ring_fill(&r, in + in_pos, (uint32_t)k);
				conn_rx_segment(&c, (uint16_t)id, (uint32_t)k);
				segs++;
			} else {
				assert_int_equal(conn_rx_window(&c, &w8, &n),
						 0);
				k = rng_next(&s) % (n + 1);
				if (k > total - in_pos)
					k = total - in_pos;
				memcpy(w8, in + in_pos, k);
				conn_rx_commit(&c, k);
				rings++;
			}
			in_pos += k;
			continue;
		}
		if (tx.lent) {
			/* The send completes, perhaps short. */
			n = tx.total;
			if (rng_next(&s) % 3 == 0)
				n = rng_next(&s) % (n + 1);
			model_tx_commit(&r, &c, &tx, n, out, &out_pos);
			continue;
		}
		if ((w & CONN_WANT_WRITE) && iov) {
			/* Lent as spans, committed in a later step: receives
			 * may land meanwhile, never in the lent bytes. */
			model_tx_lend(&c, &tx, &s, in, out_pos);
			continue;
		}
		if (w & CONN_WANT_WRITE) {
			n = conn_tx_window(&c, &p);
			if (rng_next(&s) % 3 == 0)
				n = rng_next(&s) % (n + 1);
			memcpy(out + out_pos, p, n);
			out_pos += n;
			id = conn_tx_commit(&c, n);
			if (id >= 0)
				ring_give_back(&r, id);
		}
	}
	assert_memory_equal(in, out, total);
	assert_int_equal(r.nfree, NBUF);
	assert_int_equal(r.env.cache.live, 0);
	*nseg += segs;
	*nring += rings;
	conn_reset(&c);
	conn_env_fini(&r.env);
}

/* 900 mixed runs over three bounds; both receive paths taken often. */
static void mixed_runs(bool iov)
{
	uint64_t seed;
	int nseg = 0, nring = 0;

	for (seed = 1; seed <= 300; seed++) {
		run_mixed(seed * 0x9e3779b97f4a7c15ull, 16, iov, &nseg, &nring);
		run_mixed(seed * 0x2545f4914f6cdd1dull, 37, iov, &nseg, &nring);
		run_mixed(seed + 777, 8 * NBUF, iov, &nseg, &nring);
	}
	/* Both paths were taken, many times over. */
	assert_true(nseg > 10000);
	assert_true(nring > 10000);
}

static void test_mixed(void **state)
{
	(void)state;
	mixed_runs(false);
}

/* The same, sending all that is held in one request (spans, up to 8),
 * which stays in flight while receives land; for odd seeds the ids are
 * slices at offsets the driver chose. */
static void test_mixed_iov(void **state)
{
	(void)state;
	mixed_runs(true);
}

/* Arrivals beyond max_held are still taken (a multishot receive cannot be
 * refused); READ stays off until the connection is back under the cap. */
static void test_over_cap(void **state)
{
	struct ring r;
	struct conn c;
	const uint8_t *p;
	uint8_t msg[BSIZE] = "abcdefg";
	int i, id;

	(void)state;
	ring_init(&r, 2 * BSIZE);
	conn_init(&c, &r.env);
	for (i = 0; i < 4; i++) {
		id = ring_fill(&r, msg, BSIZE);
		conn_rx_segment(&c, (uint16_t)id, BSIZE);
	}
	assert_int_equal(conn_wants(&c), CONN_WANT_WRITE);
	assert_int_equal(conn_buffered(&c), 4 * BSIZE);
	for (i = 0; i < 3; i++) {
		assert_int_equal(conn_tx_window(&c, &p), BSIZE);
		ring_give_back(&r, conn_tx_commit(&c, BSIZE));
		assert_int_equal(conn_wants(&c),
				 i < 2 ? CONN_WANT_WRITE
				       : CONN_WANT_READ | CONN_WANT_WRITE);
	}
	assert_int_equal(conn_tx_window(&c, &p), BSIZE);
	ring_give_back(&r, conn_tx_commit(&c, BSIZE));
	assert_int_equal(conn_wants(&c), CONN_WANT_READ);
	assert_int_equal(r.nfree, NBUF);
	conn_reset(&c);
	conn_env_fini(&r.env);
}

/*
 * Held buffers and the own ring share one byte bound: with held bytes, the
 * ring's rx window shrinks to the room left, READ stops once the bytes
 * reach the bound even while buffers are below max_held, and the room is
 * what conn_rx_room reports.
 */
static void test_shared_bound(void **state)
{
	struct ring r;
	struct conn c;
	uint8_t msg[BSIZE] = "abcdefg", *w;
	const uint8_t *p;
	size_t len;
	int id;

	(void)state;
	/* max_held 3 (3 * BSIZE + 4 bytes: 3 buffers fit, not 4). */
	ring_init(&r, 3 * BSIZE + 4);
	conn_init(&c, &r.env);
	assert_int_equal(conn_rx_room(&c), 3 * BSIZE + 4);
	id = ring_fill(&r, msg, BSIZE);
	conn_rx_segment(&c, (uint16_t)id, BSIZE);
	id = ring_fill(&r, msg, BSIZE);
	conn_rx_segment(&c, (uint16_t)id, BSIZE);
	assert_int_equal(conn_rx_room(&c), BSIZE + 4);
	/* The pool ran dry: the ring may take only the room left. */
	assert_int_equal(conn_rx_window(&c, &w, &len), 0);
	assert_int_equal(len, BSIZE + 4);
	conn_rx_commit(&c, BSIZE + 4);
	assert_int_equal(conn_buffered(&c), 3 * BSIZE + 4);
	assert_int_equal(conn_rx_room(&c), 0);
	/* Two buffers held, below max_held, but the bytes are at the bound. */
	assert_int_equal(conn_wants(&c), CONN_WANT_WRITE);
	assert_int_equal(conn_tx_window(&c, &p), BSIZE);
	ring_give_back(&r, conn_tx_commit(&c, BSIZE));
	assert_int_equal(conn_wants(&c), CONN_WANT_READ | CONN_WANT_WRITE);
	assert_int_equal(conn_rx_room(&c), BSIZE);
	while (conn_buffered(&c)) {
		len = conn_tx_window(&c, &p);
		id = conn_tx_commit(&c, len);
		if (id >= 0)
			ring_give_back(&r, id);
	}
	assert_int_equal(r.nfree, NBUF);
	conn_reset(&c);
	conn_env_fini(&r.env);
}

/* Closing with buffers held: drop hands each back once, partly sent too. */
static void test_drop_on_close(void **state)
{
	struct ring r;
	struct conn c;
	const uint8_t *p;
	uint8_t msg[BSIZE] = "0123456";
	int i, id;

	(void)state;
	ring_init(&r, 8 * BSIZE);
	conn_init(&c, &r.env);
	for (i = 0; i < 5; i++) {
		id = ring_fill(&r, msg, BSIZE - 1);
		conn_rx_segment(&c, (uint16_t)id, BSIZE - 1);
	}
	/* Half of the first buffer goes out, then the peer resets. */
	assert_int_equal(conn_tx_window(&c, &p), BSIZE - 1);
	assert_int_equal(conn_tx_commit(&c, 3), -1);
	assert_int_equal(conn_buffered(&c), 5 * (BSIZE - 1) - 3);
	conn_fail(&c, -ECONNRESET);
	assert_int_equal(conn_wants(&c), 0);
	while ((id = conn_seg_drop(&c)) >= 0)
		ring_give_back(&r, id);
	assert_int_equal(conn_buffered(&c), 0);
	assert_int_equal(r.nfree, NBUF);
	conn_reset(&c);
	conn_env_fini(&r.env);
}

/* EOF with buffers held: all echoed, then SHUT, then close. */
static void test_eof(void **state)
{
	struct ring r;
	struct conn c;
	const uint8_t *p;
	uint8_t msg[BSIZE] = "xyz";
	int id;

	(void)state;
	ring_init(&r, 4 * BSIZE);
	conn_init(&c, &r.env);
	conn_rx_eof(&c);
	assert_int_equal(conn_wants(&c), CONN_WANT_SHUT);
	conn_init(&c, &r.env);
	id = ring_fill(&r, msg, 3);
	conn_rx_segment(&c, (uint16_t)id, 3);
	conn_rx_eof(&c);
	assert_int_equal(conn_wants(&c), CONN_WANT_WRITE);
	assert_int_equal(conn_tx_window(&c, &p), 3);
	assert_memory_equal(p, "xyz", 3);
	ring_give_back(&r, conn_tx_commit(&c, 3));
	assert_int_equal(conn_wants(&c), CONN_WANT_SHUT);
	conn_shut_done(&c);
	assert_int_equal(conn_wants(&c), 0);
	conn_reset(&c);
	conn_env_fini(&r.env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_segs_checks),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_mixed_iov),
		cmocka_unit_test(test_over_cap),
		cmocka_unit_test(test_shared_bound),
		cmocka_unit_test(test_drop_on_close),
		cmocka_unit_test(test_eof),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
