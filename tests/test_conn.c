/* SPDX-License-Identifier: MIT */
/*
 * test_conn.c - unit tests for the sans-I/O echo connection (conn.h).
 *
 * A model-based driver feeds seeded byte streams through rx/tx windows with
 * every chunking and interleaving, checking the echo and wants() each step.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "conn.h"

#define KEEP 4u
#define BIG (64u * 1024u)

/* xorshift64*: deterministic, seeded per run. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static size_t rng_below(uint64_t *s, size_t n)
{
	return n ? (size_t)(rng_next(s) >> 11) % n : 0;
}

static uint64_t seed_of(uint64_t n)
{
	return (n + 1) * 0x9E3779B97F4A7C15ull;
}

/*
 * make_input - len seeded random bytes; when len allows, a shuffled run of
 * all 256 values somewhere inside, and NUL and 0xFF at the two ends.
 */
static void make_input(uint8_t *in, size_t len, uint64_t seed)
{
	uint64_t s = seed_of(seed);

	for (size_t i = 0; i < len; i++)
		in[i] = (uint8_t)(rng_next(&s) >> 56);
	if (len >= 256) {
		size_t at = rng_below(&s, len - 255);

		for (size_t i = 0; i < 256; i++)
			in[at + i] = (uint8_t)i;
		for (size_t i = 255; i > 0; i--) {
			size_t j = rng_below(&s, i + 1);
			uint8_t t = in[at + i];

			in[at + i] = in[at + j];
			in[at + j] = t;
		}
	}
	if (len >= 1)
		in[0] = 0x00;
	if (len >= 2)
		in[len - 1] = 0xFF;
}

/* How much of a window each commit uses. */
enum { CH_ALL, CH_ONE, CH_RANDOM, CH_N };
/* Which side goes first when both could act. */
enum { ORD_RX_FIRST, ORD_TX_FIRST, ORD_RANDOM, ORD_N };
enum { A_RX_OPEN, A_RX_COMMIT, A_TX_OPEN, A_TX_COMMIT, A_EOF, A_SHUT, A_N };

/* The driver: plays the kernel and the peer, and models the connection. */
struct drv {
	struct conn_env *env;
	struct conn c;
	uint32_t cap;
	const uint8_t *in;
	size_t in_len;
	size_t in_pos; /* bytes committed into the conn */
	uint8_t *out;
	size_t out_len; /* bytes sent from the conn */
	uint8_t *rx_p;
	size_t rx_len;
	const uint8_t *tx_p;
	size_t tx_len;
	bool rx_lent, tx_lent;
	bool want_eof; /* end the stream with conn_rx_eof() */
	bool eof, shut, failed;
	bool own_env; /* the only conn of its env: live is exact */
	int err;
	int rx_ch, tx_ch, order;
	uint64_t rng;
};

static void drv_init(struct drv *d, struct conn_env *env, const uint8_t *in,
		     size_t len, uint8_t *out, uint64_t seed)
{
	memset(d, 0, sizeof(*d));
	d->env = env;
	d->cap = env->cache.size;
	d->in = in;
	d->in_len = len;
	d->out = out;
	d->rng = seed_of(seed) ^ 0x5DEECE66Dull;
	conn_init(&d->c, env);
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* drv_holds - whether the conn should hold storage now. */
static bool drv_holds(const struct drv *d)
{
	return conn_buffered(&d->c) > 0 || d->rx_lent || d->tx_lent;
}

/* drv_check - every invariant of the contract, against the model. */
static void drv_check(struct drv *d)
{
	size_t buffered = conn_buffered(&d->c);
	unsigned w = conn_wants(&d->c);

	if (d->failed) {
		assert_int_equal(w, 0);
		assert_int_equal(conn_error(&d->c), d->err);
		return;
	}
	assert_int_equal(conn_error(&d->c), 0);
	assert_int_equal(buffered, d->in_pos - d->out_len);
	assert_true(buffered <= d->cap);
	if (d->shut) {
		assert_int_equal(w, 0);
	} else if (d->eof) {
		assert_int_equal(w,
				 buffered ? CONN_WANT_WRITE : CONN_WANT_SHUT);
	} else {
		unsigned exp = 0;

		if (buffered < d->cap)
			exp |= CONN_WANT_READ;
		if (buffered > 0)
			exp |= CONN_WANT_WRITE;
		assert_int_equal(w, exp);
	}
	if (d->rx_lent)
		assert_true(d->rx_len <= d->cap - buffered);
	if (d->tx_lent)
		assert_true(d->tx_len <= buffered);
	if (d->own_env)
		assert_int_equal(d->env->cache.live, drv_holds(d) ? 1 : 0);
}

static size_t pick(struct drv *d, int ch, size_t max)
{
	switch (ch) {
	case CH_ALL:
		return max;
	case CH_ONE:
		return max ? 1 : 0;
	default:
		return rng_below(&d->rng, max + 1);
	}
}

static void act_rx_open(struct drv *d)
{
	size_t buffered = conn_buffered(&d->c);
	uint8_t *p = NULL;
	size_t len = 0;

	assert_true(conn_wants(&d->c) & CONN_WANT_READ);
	assert_int_equal(conn_rx_window(&d->c, &p, &len), 0);
	assert_non_null(p);
	assert_true(len > 0);
	assert_true(len <= d->cap - buffered);
	/*
	 * The kernel may write anywhere in the window at any time: scribble
	 * on both ends of it, so a window overlapping unsent bytes shows.
	 */
	memset(p, 0xEE, min_sz(len, 64));
	memset(p + len - min_sz(len, 64), 0xEE, min_sz(len, 64));
	d->rx_p = p;
	d->rx_len = len;
	d->rx_lent = true;
}

static void act_rx_commit(struct drv *d)
{
	size_t n = pick(d, d->rx_ch, min_sz(d->rx_len, d->in_len - d->in_pos));

	memcpy(d->rx_p, d->in + d->in_pos, n);
	d->rx_lent = false;
	conn_rx_commit(&d->c, n);
	d->in_pos += n;
}

static void act_tx_open(struct drv *d)
{
	const uint8_t *p = NULL;
	size_t len;

	assert_true(conn_wants(&d->c) & CONN_WANT_WRITE);
	len = conn_tx_window(&d->c, &p);
	assert_true(len > 0);
	assert_true(len <= conn_buffered(&d->c));
	assert_non_null(p);
	d->tx_p = p;
	d->tx_len = len;
	d->tx_lent = true;
}

static void act_tx_commit(struct drv *d)
{
	size_t n = pick(d, d->tx_ch, d->tx_len);

	/* What is sent is the next bytes of the stream, in order. */
	assert_true(d->out_len + d->tx_len <= d->in_pos);
	assert_memory_equal(d->tx_p, d->in + d->out_len, n);
	memcpy(d->out + d->out_len, d->tx_p, n);
	d->tx_lent = false;
	conn_tx_commit(&d->c, n);
	d->out_len += n;
}

static void act_eof(struct drv *d)
{
	conn_rx_eof(&d->c);
	d->rx_lent = false;
	d->eof = true;
}

static void act_shut(struct drv *d)
{
	assert_int_equal(conn_wants(&d->c), CONN_WANT_SHUT);
	assert_int_equal(conn_buffered(&d->c), 0);
	conn_shut_done(&d->c);
	d->shut = true;
}

static bool drv_done(const struct drv *d)
{
	if (d->failed)
		return true;
	if (d->want_eof)
		return d->shut;
	return d->in_pos == d->in_len && !d->rx_lent && !d->tx_lent &&
	       conn_buffered(&d->c) == 0;
}

static int drv_eligible(struct drv *d, int acts[A_N])
{
	unsigned w = conn_wants(&d->c);
	bool more = d->in_pos < d->in_len;
	int n = 0;

	/*
	 * In random order a recv may also be armed when the peer will only
	 * send EOF, so that EOF arrives with a window lent.
	 */
	if ((w & CONN_WANT_READ) && !d->rx_lent && !d->eof &&
	    (more || (d->want_eof && d->order == ORD_RANDOM)))
		acts[n++] = A_RX_OPEN;
	if (d->rx_lent)
		acts[n++] = A_RX_COMMIT;
	if ((w & CONN_WANT_WRITE) && !d->tx_lent)
		acts[n++] = A_TX_OPEN;
	if (d->tx_lent)
		acts[n++] = A_TX_COMMIT;
	if (d->want_eof && !d->eof && !more)
		acts[n++] = A_EOF;
	if (w & CONN_WANT_SHUT)
		acts[n++] = A_SHUT;
	return n;
}

static int drv_choose(struct drv *d, const int *acts, int n)
{
	static const int rx_first[A_N] = { A_RX_COMMIT, A_RX_OPEN, A_EOF,
					   A_TX_COMMIT, A_TX_OPEN, A_SHUT };
	static const int tx_first[A_N] = { A_TX_COMMIT, A_TX_OPEN, A_SHUT,
					   A_RX_COMMIT, A_RX_OPEN, A_EOF };
	const int *pref = d->order == ORD_RX_FIRST ? rx_first : tx_first;

	if (d->order == ORD_RANDOM)
		return acts[rng_below(&d->rng, (size_t)n)];
	for (int i = 0; i < A_N; i++) {
		for (int j = 0; j < n; j++) {
			if (acts[j] == pref[i])
				return pref[i];
		}
	}
	fail_msg("no action chosen");
	return -1;
}

static void drv_fail(struct drv *d, int err)
{
	conn_fail(&d->c, err);
	d->failed = true;
	d->err = err;
	/* Lent windows stay lent after a failure until their commits come
	 * back (an io_uring op in flight still owns the memory). */
	if (d->rx_lent)
		conn_rx_commit(&d->c, 0);
	if (d->tx_lent)
		conn_tx_commit(&d->c, 0);
	d->rx_lent = false;
	d->tx_lent = false;
	drv_check(d);
	/* A second error does not overwrite the first. */
	conn_fail(&d->c, err == -EPIPE ? -ECONNRESET : -EPIPE);
	drv_check(d);
}

/* drv_step - one action; false once the stream is finished. */
static bool drv_step(struct drv *d)
{
	int acts[A_N];
	int n;

	if (drv_done(d))
		return false;
	n = drv_eligible(d, acts);
	assert_true(n > 0); /* never stuck */
	switch (drv_choose(d, acts, n)) {
	case A_RX_OPEN:
		act_rx_open(d);
		break;
	case A_RX_COMMIT:
		act_rx_commit(d);
		break;
	case A_TX_OPEN:
		act_tx_open(d);
		break;
	case A_TX_COMMIT:
		act_tx_commit(d);
		break;
	case A_EOF:
		act_eof(d);
		break;
	case A_SHUT:
		act_shut(d);
		break;
	}
	drv_check(d);
	return true;
}

/* drv_run - run to the end, or fail at step fail_at; returns steps taken. */
static size_t drv_run(struct drv *d, size_t fail_at, int err)
{
	size_t steps = 0;
	size_t limit = 200 * (d->in_len + 100);

	drv_check(d);
	for (;;) {
		if (steps == fail_at && !drv_done(d)) {
			drv_fail(d, err);
			break;
		}
		if (!drv_step(d))
			break;
		assert_true(++steps < limit);
	}
	return steps;
}

/* drv_finish - the echo is exact; reset returns everything. */
static void drv_finish(struct drv *d)
{
	if (!d->failed) {
		assert_int_equal(d->out_len, d->in_len);
		assert_memory_equal(d->out, d->in, d->in_len);
		assert_int_equal(conn_wants(&d->c),
				 d->want_eof ? 0 : CONN_WANT_READ);
	}
	conn_reset(&d->c);
	if (d->own_env)
		assert_int_equal(d->env->cache.live, 0);
}

/* One whole stream through a conn of its own env. */
static size_t run_one(uint32_t cap, size_t len, uint64_t seed, int rx_ch,
		      int tx_ch, int order, bool want_eof, size_t fail_at)
{
	struct conn_env env;
	struct drv d;
	uint8_t *in = malloc(len + 1);
	uint8_t *out = malloc(len + 1);
	size_t steps;

	assert_non_null(in);
	assert_non_null(out);
	make_input(in, len, seed);
	assert_int_equal(conn_env_init(&env, cap, KEEP), 0);
	drv_init(&d, &env, in, len, out, seed);
	d.rx_ch = rx_ch;
	d.tx_ch = tx_ch;
	d.order = order;
	d.want_eof = want_eof;
	d.own_env = true;
	steps = drv_run(&d, fail_at, -ECONNRESET);
	drv_finish(&d);
	conn_env_fini(&env);
	free(in);
	free(out);
	return steps;
}

/* Every chunking on each side, every order, with and without EOF. */
static void model_sweep(uint32_t cap, size_t minlen, size_t maxlen, int seeds)
{
	for (int seed = 0; seed < seeds; seed++) {
		for (int rx = 0; rx < CH_N; rx++) {
			for (int tx = 0; tx < CH_N; tx++) {
				for (int ord = 0; ord < ORD_N; ord++) {
					uint64_t s = seed_of((uint64_t)seed);
					size_t len =
					    minlen +
					    rng_below(&s, maxlen - minlen);

					run_one(cap, len, (uint64_t)seed, rx,
						tx, ord, false, SIZE_MAX);
					run_one(cap, len, (uint64_t)seed + 1000,
						rx, tx, ord, true, SIZE_MAX);
				}
			}
		}
	}
}

static void test_model_cap16(void **state)
{
	model_sweep(16, 200, 700, 12);
}

static void test_model_cap37(void **state)
{
	model_sweep(37, 300, 900, 12);
}

/* Streams longer than the ring, so 64 KiB fills and wraps too. */
static void test_model_cap64k(void **state)
{
	model_sweep(BIG, BIG + 1, BIG + BIG / 4, 1);
}

/* Many random seeds, random everything, short streams. */
static void test_model_many_seeds(void **state)
{
	static const uint32_t caps[] = { 16, 37, 1, 2, BIG };

	for (uint64_t seed = 0; seed < 600; seed++) {
		uint64_t s = seed_of(seed + 7);
		uint32_t cap = caps[seed % 5];
		size_t len = rng_below(&s, 300);

		run_one(cap, len, seed, (int)rng_below(&s, CH_N),
			(int)rng_below(&s, CH_N), (int)rng_below(&s, ORD_N),
			rng_below(&s, 2), SIZE_MAX);
	}
}

static void test_fresh(void **state)
{
	struct conn_env env;
	struct conn c;

	assert_int_equal(conn_env_init(&env, 16, KEEP), 0);
	assert_int_equal(env.cache.size, 16);
	conn_init(&c, &env);
	assert_int_equal(conn_wants(&c), CONN_WANT_READ);
	assert_int_equal(conn_buffered(&c), 0);
	assert_int_equal(conn_error(&c), 0);
	assert_int_equal(env.cache.live, 0);
	conn_reset(&c);
	assert_int_equal(env.cache.live, 0);
	conn_env_fini(&env);
}

static void test_lazy_storage(void **state)
{
	struct conn_env env;
	struct conn c;
	uint8_t *p;
	const uint8_t *q;
	size_t len;

	assert_int_equal(conn_env_init(&env, 37, KEEP), 0);
	conn_init(&c, &env);
	assert_int_equal(env.cache.live, 0);

	/* A cancelled receive on an empty conn gives the storage back. */
	assert_int_equal(conn_rx_window(&c, &p, &len), 0);
	assert_int_equal(env.cache.live, 1);
	assert_int_equal(len, 37);
	conn_rx_commit(&c, 0);
	assert_int_equal(env.cache.live, 0);
	assert_int_equal(conn_wants(&c), CONN_WANT_READ);

	/* Echoed in two short sends: storage held until the last byte. */
	assert_int_equal(conn_rx_window(&c, &p, &len), 0);
	memcpy(p, "hello", 5);
	conn_rx_commit(&c, 5);
	assert_int_equal(env.cache.live, 1);
	assert_int_equal(conn_tx_window(&c, &q), 5);
	assert_memory_equal(q, "hello", 5);
	conn_tx_commit(&c, 3);
	assert_int_equal(env.cache.live, 1);
	assert_int_equal(conn_tx_window(&c, &q), 2);
	assert_memory_equal(q, "lo", 2);
	conn_tx_commit(&c, 2);
	assert_int_equal(env.cache.live, 0);
	assert_int_equal(conn_wants(&c), CONN_WANT_READ);

	/* Drained while a receive is armed: kept until the window returns. */
	assert_int_equal(conn_rx_window(&c, &p, &len), 0);
	p[0] = 'x';
	conn_rx_commit(&c, 1);
	assert_int_equal(conn_rx_window(&c, &p, &len), 0);
	assert_int_equal(conn_tx_window(&c, &q), 1);
	assert_int_equal(q[0], 'x');
	conn_tx_commit(&c, 1);
	assert_int_equal(conn_buffered(&c), 0);
	assert_int_equal(env.cache.live, 1);
	conn_rx_commit(&c, 0);
	assert_int_equal(env.cache.live, 0);

	/* EOF with a window lent on an empty conn returns it too. */
	assert_int_equal(conn_rx_window(&c, &p, &len), 0);
	assert_int_equal(env.cache.live, 1);
	conn_rx_eof(&c);
	assert_int_equal(env.cache.live, 0);
	assert_int_equal(conn_wants(&c), CONN_WANT_SHUT);
	conn_shut_done(&c);
	assert_int_equal(conn_wants(&c), 0);
	conn_reset(&c);
	assert_int_equal(env.cache.live, 0);
	conn_env_fini(&env);
}

/* fill - receive n bytes of in, each window used up to chunk bytes. */
static void fill(struct conn *c, const uint8_t *in, size_t n, size_t chunk)
{
	size_t done = 0;

	while (done < n) {
		uint8_t *p;
		size_t len;

		assert_true(conn_wants(c) & CONN_WANT_READ);
		assert_int_equal(conn_rx_window(c, &p, &len), 0);
		len = min_sz(min_sz(len, chunk), n - done);
		memcpy(p, in + done, len);
		conn_rx_commit(c, len);
		done += len;
	}
}

/* drain - send up to n bytes, checking them against exp. */
static void drain(struct conn *c, const uint8_t *exp, size_t n, size_t chunk)
{
	size_t done = 0;

	while (done < n) {
		const uint8_t *p;
		size_t len;

		assert_true(conn_wants(c) & CONN_WANT_WRITE);
		len = conn_tx_window(c, &p);
		assert_true(len > 0);
		len = min_sz(min_sz(len, chunk), n - done);
		assert_memory_equal(p, exp + done, len);
		conn_tx_commit(c, len);
		done += len;
	}
}

static void check_backpressure(uint32_t cap, size_t chunk)
{
	struct conn_env env;
	struct conn c;
	uint8_t *in = malloc(3 * (size_t)cap);
	uint8_t *p;
	size_t len;

	assert_non_null(in);
	make_input(in, 3 * (size_t)cap, cap + chunk);
	assert_int_equal(conn_env_init(&env, cap, KEEP), 0);
	conn_init(&c, &env);

	/* Exactly cap bytes: full, so no more reading. */
	fill(&c, in, cap, chunk);
	assert_int_equal(conn_buffered(&c), cap);
	assert_int_equal(conn_wants(&c), CONN_WANT_WRITE);

	/* One byte sent: reading resumes, with room for exactly one. */
	drain(&c, in, 1, 1);
	assert_int_equal(conn_wants(&c), CONN_WANT_READ | CONN_WANT_WRITE);
	assert_int_equal(conn_rx_window(&c, &p, &len), 0);
	assert_int_equal(len, 1);
	p[0] = in[cap];
	conn_rx_commit(&c, 1);
	assert_int_equal(conn_wants(&c), CONN_WANT_WRITE);

	/* Round the ring twice more, one byte out and one in. */
	for (size_t i = 1; i < 2 * (size_t)cap; i++) {
		drain(&c, in + i, 1, 1);
		assert_int_equal(conn_wants(&c),
				 CONN_WANT_READ | CONN_WANT_WRITE);
		fill(&c, in + cap + i, 1, chunk);
		assert_int_equal(conn_wants(&c), CONN_WANT_WRITE);
	}
	drain(&c, in + 2 * (size_t)cap, cap, chunk);
	assert_int_equal(conn_wants(&c), CONN_WANT_READ);
	assert_int_equal(env.cache.live, 0);
	conn_reset(&c);
	conn_env_fini(&env);
	free(in);
}

static void test_backpressure(void **state)
{
	static const uint32_t caps[] = { 16, 37, BIG };

	for (size_t i = 0; i < 3; i++) {
		check_backpressure(caps[i], SIZE_MAX);
		check_backpressure(caps[i], 1);
		check_backpressure(caps[i], 5);
	}
}

/*
 * EOF after every prefix of a message, with all bytes already echoed,
 * with some still buffered, and (random order) with a window lent.
 */
static void test_eof_every_offset(void **state)
{
	static const uint32_t caps[] = { 16, 37, BIG };

	for (size_t ci = 0; ci < 3; ci++) {
		for (size_t k = 0; k <= 60; k++) {
			for (int ord = 0; ord < ORD_N; ord++) {
				for (int ch = 0; ch < CH_N; ch++) {
					run_one(caps[ci], k, k, ch, ch, ord,
						true, SIZE_MAX);
					run_one(caps[ci], k, k + 99, ch,
						CH_RANDOM, ord, true, SIZE_MAX);
				}
			}
		}
	}
}

/* EOF with bytes buffered: exactly WANT_WRITE until the last is sent. */
static void test_eof_then_drain(void **state)
{
	struct conn_env env;
	struct conn c;
	uint8_t in[20];
	const uint8_t *p;

	make_input(in, sizeof(in), 3);
	assert_int_equal(conn_env_init(&env, 16, KEEP), 0);
	conn_init(&c, &env);
	fill(&c, in, 16, SIZE_MAX);
	drain(&c, in, 10, SIZE_MAX);
	fill(&c, in + 16, 4, SIZE_MAX); /* wraps */
	conn_rx_eof(&c);
	for (size_t i = 10; i < 20; i++) {
		assert_int_equal(conn_wants(&c), CONN_WANT_WRITE);
		assert_int_equal(conn_buffered(&c), 20 - i);
		assert_true(conn_tx_window(&c, &p) > 0);
		assert_int_equal(p[0], in[i]);
		conn_tx_commit(&c, 1);
	}
	assert_int_equal(conn_wants(&c), CONN_WANT_SHUT);
	assert_int_equal(env.cache.live, 0);
	conn_shut_done(&c);
	assert_int_equal(conn_wants(&c), 0);
	assert_int_equal(conn_error(&c), 0);
	conn_reset(&c);
	conn_env_fini(&env);
}

/*
 * The ring drains completely while a receive is armed: the bytes that then
 * land in the lent window are the next ones echoed.
 */
static void test_drain_with_rx_lent(void **state)
{
	static const uint32_t caps[] = { 16, 37, BIG };

	for (size_t i = 0; i < 3; i++) {
		struct conn_env env;
		struct conn c;
		uint8_t *p;
		const uint8_t *q;
		size_t len;

		assert_int_equal(conn_env_init(&env, caps[i], KEEP), 0);
		conn_init(&c, &env);
		fill(&c, (const uint8_t *)"abcde", 5, SIZE_MAX);
		assert_int_equal(conn_rx_window(&c, &p, &len), 0);
		assert_true(len > 0);
		drain(&c, (const uint8_t *)"abcde", 5, SIZE_MAX);
		assert_int_equal(conn_buffered(&c), 0);
		memcpy(p, "XY", 2);
		conn_rx_commit(&c, 2);
		assert_int_equal(conn_buffered(&c), 2);
		assert_int_equal(conn_tx_window(&c, &q), 2);
		assert_memory_equal(q, "XY", 2);
		conn_tx_commit(&c, 2);
		assert_int_equal(env.cache.live, 0);
		conn_reset(&c);
		conn_env_fini(&env);
	}
}

static void test_eof_fresh(void **state)
{
	struct conn_env env;
	struct conn c;

	assert_int_equal(conn_env_init(&env, 16, KEEP), 0);
	conn_init(&c, &env);
	conn_rx_eof(&c);
	assert_int_equal(conn_wants(&c), CONN_WANT_SHUT);
	assert_int_equal(env.cache.live, 0);
	conn_shut_done(&c);
	assert_int_equal(conn_wants(&c), 0);
	conn_reset(&c);
	conn_env_fini(&env);
}

/*
 * An error at every step of a run, whatever is lent at the time: wants
 * becomes 0, the first error stays, reset afterwards returns the storage.
 */
static void test_fail_every_step(void **state)
{
	static const uint32_t caps[] = { 16, 37, BIG };

	for (size_t ci = 0; ci < 3; ci++) {
		for (int ord = 0; ord < ORD_N; ord++) {
			for (int ch = 0; ch < CH_N; ch++) {
				for (int eof = 0; eof < 2; eof++) {
					size_t len = 45;
					size_t steps =
					    run_one(caps[ci], len, ci + 5, ch,
						    ch, ord, eof, SIZE_MAX);

					for (size_t at = 0; at <= steps; at++)
						run_one(caps[ci], len, ci + 5,
							ch, ch, ord, eof, at);
				}
			}
		}
	}
}

static void test_fail_keeps_first(void **state)
{
	struct conn_env env;
	struct conn c;

	assert_int_equal(conn_env_init(&env, 16, KEEP), 0);
	conn_init(&c, &env);
	conn_fail(&c, -EPIPE);
	assert_int_equal(conn_wants(&c), 0);
	assert_int_equal(conn_error(&c), -EPIPE);
	conn_fail(&c, -ECONNRESET);
	assert_int_equal(conn_error(&c), -EPIPE);
	conn_rx_eof(&c);
	assert_int_equal(conn_wants(&c), 0);
	assert_int_equal(conn_error(&c), -EPIPE);
	conn_reset(&c);
	assert_int_equal(env.cache.live, 0);
	conn_env_fini(&env);
}

/* Fail with both windows lent, then reset: nothing leaks. */
static void test_fail_windows_lent(void **state)
{
	struct conn_env env;
	struct conn c;
	uint8_t in[10];
	uint8_t *p;
	const uint8_t *q;
	size_t len;

	make_input(in, sizeof(in), 11);
	assert_int_equal(conn_env_init(&env, 37, KEEP), 0);
	conn_init(&c, &env);
	assert_int_equal(conn_rx_window(&c, &p, &len), 0);
	conn_fail(&c, -ENOBUFS);
	assert_int_equal(conn_wants(&c), 0);
	assert_int_equal(conn_error(&c), -ENOBUFS);
	/* The window is still lent: storage stays attached until the
	 * completion returns it, even though the connection failed. */
	assert_int_equal(env.cache.live, 1);
	conn_rx_commit(&c, 3);
	assert_int_equal(conn_wants(&c), 0);
	conn_reset(&c);
	assert_int_equal(env.cache.live, 0);

	conn_init(&c, &env);
	assert_int_equal(conn_error(&c), 0);
	assert_int_equal(conn_wants(&c), CONN_WANT_READ);
	fill(&c, in, sizeof(in), SIZE_MAX);
	assert_int_equal(conn_rx_window(&c, &p, &len), 0);
	assert_true(conn_tx_window(&c, &q) > 0);
	conn_fail(&c, -ECONNRESET);
	assert_int_equal(conn_wants(&c), 0);
	assert_int_equal(conn_error(&c), -ECONNRESET);
	/* Completions arrive after the failure: both commits are accepted. */
	conn_tx_commit(&c, 1);
	conn_rx_commit(&c, 0);
	assert_int_equal(conn_wants(&c), 0);
	assert_int_equal(env.cache.live, 1);
	conn_reset(&c);
	assert_int_equal(env.cache.live, 0);
	conn_env_fini(&env);
}

static void test_reset_returns_storage(void **state)
{
	struct conn_env env;
	struct conn c;
	uint8_t in[37];

	make_input(in, sizeof(in), 12);
	assert_int_equal(conn_env_init(&env, 37, KEEP), 0);
	conn_init(&c, &env);
	fill(&c, in, sizeof(in), 7);
	assert_int_equal(env.cache.live, 1);
	conn_reset(&c);
	assert_int_equal(env.cache.live, 0);
	conn_env_fini(&env);
}

/* Many conns on one env: isolated streams, exact live count, clean fini. */
static void test_many_conns(void **state)
{
	enum { N = 64 };
	static struct drv d[N];
	static uint8_t in[N][400], out[N][400];
	struct conn_env env;
	bool open[N];
	int left = N;
	uint64_t s = seed_of(42);

	assert_int_equal(conn_env_init(&env, 37, KEEP), 0);
	for (int i = 0; i < N; i++) {
		size_t len = rng_below(&s, sizeof(in[i]) + 1);

		make_input(in[i], len, (uint64_t)i);
		drv_init(&d[i], &env, in[i], len, out[i], (uint64_t)i);
		d[i].rx_ch = (int)rng_below(&s, CH_N);
		d[i].tx_ch = (int)rng_below(&s, CH_N);
		d[i].order = (int)rng_below(&s, ORD_N);
		d[i].want_eof = rng_below(&s, 2);
		open[i] = true;
	}
	while (left > 0) {
		int i = (int)rng_below(&s, N);
		uint64_t live = 0;

		if (!open[i])
			continue;
		if (!d[i].rx_lent && !d[i].tx_lent && rng_below(&s, 500) == 0) {
			/* The driver closes it mid-stream. */
			conn_reset(&d[i].c);
			open[i] = false;
			left--;
		} else if (!drv_step(&d[i])) {
			drv_finish(&d[i]);
			open[i] = false;
			left--;
		}
		for (int j = 0; j < N; j++)
			live += open[j] && drv_holds(&d[j]);
		assert_int_equal(env.cache.live, live);
		assert_true(env.cache.nfree <= KEEP);
	}
	assert_int_equal(env.cache.live, 0);
	assert_true(env.cache.nfree <= KEEP);
	conn_env_fini(&env);
}

/* The own ring's bytes lent as spans: two when they wrap, in order; one
 * request may then send them all, and a short send keeps the rest. */
static void test_tx_iov_wrap(void **state)
{
	struct conn_env env;
	struct conn c;
	struct iovec iov[4];
	uint8_t *p;
	size_t len, total;
	uint16_t done[4];

	(void)state;
	assert_int_equal(conn_env_init(&env, 8, KEEP), 0);
	conn_init(&c, &env);
	assert_int_equal(conn_rx_window(&c, &p, &len), 0);
	memcpy(p, "abcdef", 6);
	conn_rx_commit(&c, 6);
	assert_int_equal(conn_tx_iov(&c, iov, 4, &total), 1);
	assert_int_equal(total, 6);
	assert_int_equal(conn_tx_commit_iov(&c, 5, done), 0);
	/* "f" at offset 5; receive "ghijk": "gh" at 6..7, "ijk" wraps. */
	assert_int_equal(conn_rx_window(&c, &p, &len), 0);
	assert_int_equal(len, 2);
	memcpy(p, "gh", 2);
	conn_rx_commit(&c, 2);
	assert_int_equal(conn_rx_window(&c, &p, &len), 0);
	memcpy(p, "ijk", 3);
	conn_rx_commit(&c, 3);
	assert_int_equal(conn_tx_iov(&c, iov, 4, &total), 2);
	assert_int_equal(total, 6);
	assert_int_equal(iov[0].iov_len, 3);
	assert_memory_equal(iov[0].iov_base, "fgh", 3);
	assert_int_equal(iov[1].iov_len, 3);
	assert_memory_equal(iov[1].iov_base, "ijk", 3);
	/* One span at most: only the first run is lent. */
	assert_int_equal(conn_tx_commit_iov(&c, 0, done), 0);
	assert_int_equal(conn_tx_iov(&c, iov, 1, &total), 1);
	assert_int_equal(total, 3);
	/* A short send across the wrap point, then the rest. */
	assert_int_equal(conn_tx_commit_iov(&c, 0, done), 0);
	assert_int_equal(conn_tx_iov(&c, iov, 4, &total), 2);
	assert_int_equal(conn_tx_commit_iov(&c, 4, done), 0);
	assert_int_equal(conn_buffered(&c), 2);
	assert_int_equal(conn_tx_iov(&c, iov, 4, &total), 1);
	assert_memory_equal(iov[0].iov_base, "jk", 2);
	assert_int_equal(env.cache.live, 1);
	assert_int_equal(conn_tx_commit_iov(&c, 2, done), 0);
	assert_int_equal(env.cache.live, 0);
	assert_int_equal(conn_wants(&c), CONN_WANT_READ);
	conn_reset(&c);
	conn_env_fini(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh),
		cmocka_unit_test(test_lazy_storage),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_drain_with_rx_lent),
		cmocka_unit_test(test_eof_fresh),
		cmocka_unit_test(test_eof_then_drain),
		cmocka_unit_test(test_eof_every_offset),
		cmocka_unit_test(test_fail_keeps_first),
		cmocka_unit_test(test_fail_windows_lent),
		cmocka_unit_test(test_fail_every_step),
		cmocka_unit_test(test_reset_returns_storage),
		cmocka_unit_test(test_model_cap16),
		cmocka_unit_test(test_model_cap37),
		cmocka_unit_test(test_model_cap64k),
		cmocka_unit_test(test_model_many_seeds),
		cmocka_unit_test(test_many_conns),
		cmocka_unit_test(test_tx_iov_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
