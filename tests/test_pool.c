/* SPDX-License-Identifier: MIT */
/*
 * test_pool.c - unit tests for the connection pool (pool.h).
 *
 * Handles are index + generation: a freed or reused slot's old handles must
 * look up to nothing, whatever the order of allocs and frees.
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

#include "pool.h"

#define CAP 8u

/* A driver's connection struct: the slot first, then the driver's fields. */
struct tconn {
	struct pool_slot slot;
	int fd;
	uint32_t io;
};

#define TSIZE sizeof(struct tconn)

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

static uint64_t make_handle(uint32_t gen, uint32_t idx)
{
	return (uint64_t)gen << 32 | idx;
}

/* check_live - a slot in use: fields as pool.h promises, handle resolves. */
static void check_live(struct pool *p, struct pool_slot *s)
{
	uint64_t h = pool_handle(p, s);

	assert_true(s >= pool_at(p, 0) && s <= pool_at(p, p->cap - 1));
	assert_int_not_equal(s->gen, 0);
	assert_int_equal(h, make_handle(s->gen, pool_index(p, s)));
	assert_ptr_equal(pool_lookup(p, h), s);
}

static void test_init_bad_cap(void **state)
{
	struct pool p;

	assert_int_equal(pool_init(&p, 0, TSIZE), -EINVAL);
}

static void test_alloc_to_cap(void **state)
{
	struct conn_env env;
	struct pool p;
	struct pool_slot *s[CAP];

	assert_int_equal(conn_env_init(&env, 16, 2), 0);
	assert_int_equal(pool_init(&p, CAP, TSIZE), 0);
	assert_int_equal(p.cap, CAP);
	assert_int_equal(p.used, 0);
	for (uint32_t i = 0; i < CAP; i++) {
		s[i] = pool_alloc(&p, &env);
		assert_non_null(s[i]);
		assert_int_equal(p.used, i + 1);
		check_live(&p, s[i]);
		for (uint32_t j = 0; j < i; j++) {
			assert_ptr_not_equal(s[i], s[j]);
			assert_true(pool_handle(&p, s[i]) !=
				    pool_handle(&p, s[j]));
		}
	}
	assert_null(pool_alloc(&p, &env));
	assert_null(pool_alloc(&p, &env));
	assert_int_equal(p.used, CAP);
	for (uint32_t i = 0; i < CAP; i++)
		check_live(&p, s[i]);
	for (uint32_t i = 0; i < CAP; i++)
		pool_free(&p, s[i]);
	assert_int_equal(p.used, 0);
	pool_fini(&p);
	conn_env_fini(&env);
}

static void test_alloc_initialises(void **state)
{
	struct conn_env env;
	struct pool p;
	struct pool_slot *s;

	assert_int_equal(conn_env_init(&env, 16, 2), 0);
	assert_int_equal(pool_init(&p, 2, TSIZE), 0);
	for (int round = 0; round < 4; round++) {
		s = pool_alloc(&p, &env);
		assert_non_null(s);
		assert_ptr_equal(s->conn.env, &env);
		assert_int_equal(conn_wants(&s->conn), CONN_WANT_READ);
		assert_int_equal(conn_buffered(&s->conn), 0);
		assert_int_equal(conn_error(&s->conn), 0);
		assert_int_equal(((struct tconn *)s)->fd, 0);
		assert_int_equal(((struct tconn *)s)->io, 0);
		/* The driver dirties its fields; the next alloc zeroes them. */
		((struct tconn *)s)->fd = 42 + round;
		((struct tconn *)s)->io = 0xdeadbeef;
		s->link = 7;
		conn_fail(&s->conn, -EPIPE);
		pool_free(&p, s);
	}
	pool_fini(&p);
	conn_env_fini(&env);
}

static void test_stale_after_free(void **state)
{
	struct conn_env env;
	struct pool p;
	struct pool_slot *s, *t;
	uint64_t old, h;

	assert_int_equal(conn_env_init(&env, 16, 2), 0);
	assert_int_equal(pool_init(&p, 1, TSIZE), 0);
	s = pool_alloc(&p, &env);
	assert_non_null(s);
	old = pool_handle(&p, s);
	pool_free(&p, s);
	assert_int_equal(p.used, 0);
	assert_null(pool_lookup(&p, old));

	/* The only slot is reused: a new name, the old one still stale. */
	t = pool_alloc(&p, &env);
	assert_ptr_equal(t, s);
	h = pool_handle(&p, t);
	assert_true(h != old);
	assert_int_equal((uint32_t)h, (uint32_t)old);
	assert_null(pool_lookup(&p, old));
	assert_ptr_equal(pool_lookup(&p, h), t);
	check_live(&p, t);
	pool_free(&p, t);
	assert_null(pool_lookup(&p, old));
	assert_null(pool_lookup(&p, h));
	pool_fini(&p);
	conn_env_fini(&env);
}

static void test_lookup_out_of_range(void **state)
{
	struct conn_env env;
	struct pool p;
	struct pool_slot *s;

	assert_int_equal(conn_env_init(&env, 16, 2), 0);
	assert_int_equal(pool_init(&p, CAP, TSIZE), 0);
	s = pool_alloc(&p, &env);
	assert_non_null(s);
	assert_null(pool_lookup(&p, 0));
	assert_null(pool_lookup(&p, make_handle(s->gen, CAP)));
	assert_null(pool_lookup(&p, make_handle(s->gen, CAP + 1)));
	assert_null(pool_lookup(&p, make_handle(s->gen, UINT32_MAX)));
	assert_null(pool_lookup(&p, UINT64_MAX));
	/* Generation 0 never names a live slot, even at a live index. */
	assert_null(pool_lookup(&p, make_handle(0, pool_index(&p, s))));
	/* Free slots have no valid handle at all. */
	for (uint32_t i = 0; i < CAP; i++) {
		if (i == pool_index(&p, s))
			continue;
		assert_null(pool_lookup(&p, make_handle(0, i)));
		assert_null(pool_lookup(&p, make_handle(s->gen, i)));
	}
	/* Wrong generation at the right index. */
	assert_null(
	    pool_lookup(&p, make_handle(s->gen + 1, pool_index(&p, s))));
	assert_null(
	    pool_lookup(&p, make_handle(s->gen - 1, pool_index(&p, s))));
	check_live(&p, s);
	pool_free(&p, s);
	pool_fini(&p);
	conn_env_fini(&env);
}

/* A full pool with one slot freed hands out exactly that slot. */
static void test_free_list_reuse(void **state)
{
	struct conn_env env;
	struct pool p;
	struct pool_slot *s[CAP];

	assert_int_equal(conn_env_init(&env, 16, 2), 0);
	assert_int_equal(pool_init(&p, CAP, TSIZE), 0);
	for (uint32_t i = 0; i < CAP; i++)
		s[i] = pool_alloc(&p, &env);
	for (uint32_t i = 0; i < CAP; i++) {
		uint32_t k = (i * 5 + 3) % CAP;
		uint64_t old = pool_handle(&p, s[k]);
		struct pool_slot *t;

		pool_free(&p, s[k]);
		assert_int_equal(p.used, CAP - 1);
		t = pool_alloc(&p, &env);
		assert_ptr_equal(t, s[k]);
		assert_int_equal(p.used, CAP);
		assert_null(pool_lookup(&p, old));
		check_live(&p, t);
		assert_null(pool_alloc(&p, &env));
	}
	for (uint32_t i = 0; i < CAP; i++)
		pool_free(&p, s[i]);
	pool_fini(&p);
	conn_env_fini(&env);
}

/* pool_free resets the conn: its buffer goes back to the env's cache. */
static void test_free_returns_storage(void **state)
{
	struct conn_env env;
	struct pool p;
	struct pool_slot *s;
	uint8_t *w;
	size_t len;

	assert_int_equal(conn_env_init(&env, 16, 2), 0);
	assert_int_equal(pool_init(&p, 2, TSIZE), 0);
	s = pool_alloc(&p, &env);
	assert_non_null(s);
	assert_int_equal(env.cache.live, 0);
	assert_int_equal(conn_rx_window(&s->conn, &w, &len), 0);
	memcpy(w, "abc", 3);
	conn_rx_commit(&s->conn, 3);
	assert_int_equal(env.cache.live, 1);
	pool_free(&p, s);
	assert_int_equal(env.cache.live, 0);
	pool_fini(&p);
	conn_env_fini(&env);
}

/*
 * Random allocs and frees: every handle ever issued is unique, live ones
 * resolve, freed ones stay stale for good, used matches the model.
 */
static void test_random_churn(void **state)
{
	enum { N = 4000 };
	static uint64_t issued[N];
	static bool alive[N];
	struct conn_env env;
	struct pool p;
	struct pool_slot *held[CAP];
	uint32_t nheld = 0, nissued = 0;
	uint64_t s = 12345;

	assert_int_equal(conn_env_init(&env, 16, 2), 0);
	assert_int_equal(pool_init(&p, CAP, TSIZE), 0);
	while (nissued < N) {
		if (nheld < CAP && (nheld == 0 || rng_below(&s, 2))) {
			struct pool_slot *t = pool_alloc(&p, &env);

			assert_non_null(t);
			check_live(&p, t);
			for (uint32_t i = 0; i < nissued; i++)
				assert_true(issued[i] != pool_handle(&p, t));
			alive[nissued] = true;
			issued[nissued++] = pool_handle(&p, t);
			held[nheld++] = t;
		} else {
			uint32_t k = rng_below(&s, nheld);
			uint64_t h = pool_handle(&p, held[k]);

			for (uint32_t i = 0; i < nissued; i++) {
				if (issued[i] == h)
					alive[i] = false;
			}
			pool_free(&p, held[k]);
			held[k] = held[--nheld];
		}
		assert_int_equal(p.used, nheld);
		if (nheld == CAP)
			assert_null(pool_alloc(&p, &env));
		if (nissued % 97 == 0) {
			for (uint32_t i = 0; i < nissued; i++) {
				struct pool_slot *t =
				    pool_lookup(&p, issued[i]);

				if (alive[i])
					assert_non_null(t);
				else
					assert_null(t);
			}
		}
	}
	while (nheld)
		pool_free(&p, held[--nheld]);
	for (uint32_t i = 0; i < nissued; i++)
		assert_null(pool_lookup(&p, issued[i]));
	assert_int_equal(p.used, 0);
	pool_fini(&p);
	conn_env_fini(&env);
}

/*
 * Generations near the 32-bit wrap: a live slot's generation is never 0
 * and a reused slot never gets its previous generation back.
 */
static void test_generation_wrap(void **state)
{
	struct conn_env env;
	struct pool p;

	assert_int_equal(conn_env_init(&env, 16, 2), 0);
	assert_int_equal(pool_init(&p, 2, TSIZE), 0);
	p.next_gen = UINT32_MAX - 3;
	for (int i = 0; i < 10; i++) {
		struct pool_slot *s = pool_alloc(&p, &env);
		uint64_t h;

		assert_non_null(s);
		check_live(&p, s);
		h = pool_handle(&p, s);
		pool_free(&p, s);
		assert_null(pool_lookup(&p, h));
	}
	pool_fini(&p);
	conn_env_fini(&env);
}

/* pool_fini with slots still in use: nothing buffered, so nothing leaks. */
static void test_fini_with_used(void **state)
{
	struct conn_env env;
	struct pool p;

	assert_int_equal(conn_env_init(&env, 16, 2), 0);
	assert_int_equal(pool_init(&p, 3, TSIZE), 0);
	assert_non_null(pool_alloc(&p, &env));
	assert_non_null(pool_alloc(&p, &env));
	assert_int_equal(p.used, 2);
	pool_fini(&p);
	assert_int_equal(env.cache.live, 0);
	conn_env_fini(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_bad_cap),
		cmocka_unit_test(test_alloc_to_cap),
		cmocka_unit_test(test_alloc_initialises),
		cmocka_unit_test(test_stale_after_free),
		cmocka_unit_test(test_lookup_out_of_range),
		cmocka_unit_test(test_free_list_reuse),
		cmocka_unit_test(test_free_returns_storage),
		cmocka_unit_test(test_random_churn),
		cmocka_unit_test(test_generation_wrap),
		cmocka_unit_test(test_fini_with_used),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
