/* SPDX-License-Identifier: MIT */
/*
 * test_stats.c - unit tests for the stats line (stats.h).
 *
 * The line is read by scripts: "stats: " then every counter as name=value,
 * one newline, and snprintf's truncation contract for short buffers.
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

static const char *const names[] = {
#define STATS_NAME(name, help) #name,
	STATS_COUNTERS(STATS_NAME)
#undef STATS_NAME
};

#define NCOUNTERS (sizeof(names) / sizeof(names[0]))

/* set_all - give every counter a distinct value derived from base. */
static void set_all(struct stats *s, uint64_t base)
{
	uint64_t *v = (uint64_t *)s;

	assert_int_equal(sizeof(*s), NCOUNTERS * sizeof(uint64_t));
	for (size_t i = 0; i < NCOUNTERS; i++)
		v[i] = base + i * 1000003u;
}

/* format - the whole line, checking the return against strlen. */
static size_t format(const struct stats *s, char *line)
{
	int n = stats_format(s, line, LINE_MAX_LEN);

	assert_true(n > 0);
	assert_true(n < LINE_MAX_LEN);
	assert_int_equal(strlen(line), (size_t)n);
	return (size_t)n;
}

/*
 * check_line - "stats: " then exactly one name=value token per counter,
 * single spaces, one trailing newline.
 */
static void check_line(const char *line, const struct stats *s)
{
	const uint64_t *v = (const uint64_t *)s;
	size_t len = strlen(line);
	bool seen[NCOUNTERS] = { false };
	size_t ntok = 0;
	const char *p;

	assert_true(len > 8);
	assert_memory_equal(line, "stats: ", 7);
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1));
	p = line + 7;
	while (*p != '\n') {
		const char *end = strpbrk(p, " \n");
		const char *eq = memchr(p, '=', (size_t)(end - p));
		char val[32];
		size_t i;

		assert_non_null(eq);
		for (i = 0; i < NCOUNTERS; i++) {
			if (strlen(names[i]) == (size_t)(eq - p) &&
			    !memcmp(p, names[i], (size_t)(eq - p)))
				break;
		}
		assert_true(i < NCOUNTERS); /* a known name */
		assert_false(seen[i]); /* once only */
		seen[i] = true;
		snprintf(val, sizeof(val), "%llu", (unsigned long long)v[i]);
		assert_int_equal((size_t)(end - eq - 1), strlen(val));
		assert_memory_equal(eq + 1, val, strlen(val));
		ntok++;
		p = *end == ' ' ? end + 1 : end;
		assert_true(*p != ' ');
	}
	assert_int_equal(ntok, NCOUNTERS);
}

static void test_zero(void **state)
{
	struct stats s;
	char line[LINE_MAX_LEN];

	memset(&s, 0, sizeof(s));
	format(&s, line);
	check_line(line, &s);
	assert_non_null(strstr(line, "accepted=0"));
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
	format(&s, line);
	check_line(line, &s);
	assert_non_null(strstr(line, "accepted=3"));
	assert_non_null(strstr(line, "bytes_in=12345678901"));
	assert_non_null(strstr(line, "bytes_out=18446744073709551615"));
	assert_non_null(strstr(line, "bufs_live=7"));
}

static void test_every_counter(void **state)
{
	struct stats s;
	char line[LINE_MAX_LEN];

	set_all(&s, 1);
	format(&s, line);
	check_line(line, &s);
	set_all(&s, UINT64_MAX - 100000000ull);
	format(&s, line);
	check_line(line, &s);
}

/* Every buffer length from 0 to the whole line and beyond. */
static void test_truncation(void **state)
{
	struct stats s;
	char full[LINE_MAX_LEN];
	char buf[LINE_MAX_LEN + 8];
	size_t n;

	set_all(&s, 42);
	n = format(&s, full);
	for (size_t len = 0; len <= n + 2; len++) {
		memset(buf, 'Z', sizeof(buf));
		assert_int_equal(stats_format(&s, buf, len), (int)n);
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
	assert_int_equal(stats_format(&s, NULL, 0), (int)n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero),
		cmocka_unit_test(test_named_values),
		cmocka_unit_test(test_every_counter),
		cmocka_unit_test(test_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
