/* SPDX-License-Identifier: MIT */
/*
 * test_report.c - unit tests for the result forms (report.h): the CSV
 * header and row agree field by field, the JSON line has every key, odd
 * labels are escaped, and the derived columns are computed right.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "report.h"

/* The columns the benchmark scripts rely on. */
static const char *const required[] = {
	"label",     "mode",   "conns",	      "idle",	       "size",
	"depth",     "rate",   "duration_s",  "msgs",	       "msgs_per_s",
	"mib_per_s", "p50_us", "p90_us",      "p99_us",	       "p999_us",
	"max_us",    "errors", "gen_cpu_pct", "gen_saturated", "engine",
};

static int count_char(const char *s, char c)
{
	int n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

/* Is name one of the comma-separated columns of the header line? */
static int has_column(const char *head, const char *name)
{
	size_t n = strlen(name);
	const char *p = head;

	for (;;) {
		if (!strncmp(p, name, n) && (p[n] == ',' || p[n] == '\n'))
			return 1;
		p = strchr(p, ',');
		if (!p)
			return 0;
		p++;
	}
}

static struct report sample(struct hist *h)
{
	struct report r = {
		.label = "run-1",
		.mode = "pipeline",
		.engine = "uring",
		.conns = 4,
		.threads = 2,
		.size = 64,
		.depth = 8,
		.duration_s = 2.0,
		.msgs = 1000,
		.bytes = 2 * 1024 * 1024,
		.gen_cpu_pct = 50.0,
		.gen_thread_max_pct = 30.0,
	};
	int i;

	hist_reset(h);
	for (i = 1; i <= 1000; i++)
		hist_record(h, (uint64_t)i * 1000);
	report_fill(&r, h);
	return r;
}

static void test_fill(void **state)
{
	struct hist *h = malloc(sizeof(*h));
	struct report r = sample(h);

	(void)state;
	assert_true(r.msgs_per_s == 500.0);
	assert_true(r.mib_per_s == 1.0);
	assert_true(r.p50_us >= 500.0 && r.p50_us <= 504.0);
	assert_true(r.p99_us >= 990.0 && r.p99_us <= 998.0);
	assert_true(r.max_us == 1000.0);
	assert_true(r.mean_us == 500.5);
	assert_int_equal(r.gen_saturated, 0);
	/* One busy thread is enough, or the total over all threads. */
	r.gen_thread_max_pct = 95.0;
	report_fill(&r, h);
	assert_int_equal(r.gen_saturated, 1);
	r.gen_thread_max_pct = 0;
	r.gen_cpu_pct = 185.0;
	report_fill(&r, h);
	assert_int_equal(r.gen_saturated, 1);
	free(h);
}

static void test_csv(void **state)
{
	struct hist *h = malloc(sizeof(*h));
	struct report r = sample(h);
	char head[2048], row[2048];
	size_t i;

	(void)state;
	assert_true(report_csv_header(head, sizeof(head)) < (int)sizeof(head));
	assert_true(report_csv_row(&r, row, sizeof(row)) < (int)sizeof(row));
	assert_int_equal(head[strlen(head) - 1], '\n');
	assert_int_equal(row[strlen(row) - 1], '\n');
	assert_int_equal(count_char(head, ','), count_char(row, ','));
	assert_int_equal(count_char(head, '\n'), 1);
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (!has_column(head, required[i]))
			fail_msg("header lacks %s: %s", required[i], head);
	}
	assert_true(strncmp(head, "label,mode,conns,", 17) == 0);
	assert_true(strncmp(row, "run-1,pipeline,4,", 17) == 0);
	/* Columns are only ever appended: the engine came last. */
	assert_true(strlen(head) > 8 &&
		    !strcmp(head + strlen(head) - 8, ",engine\n"));
	assert_true(strlen(row) > 7 &&
		    !strcmp(row + strlen(row) - 7, ",uring\n"));
	free(h);
}

static void test_json(void **state)
{
	struct hist *h = malloc(sizeof(*h));
	struct report r = sample(h);
	char line[2048], key[64];
	size_t i;

	(void)state;
	report_json(&r, line, sizeof(line));
	assert_int_equal(line[0], '{');
	assert_int_equal(count_char(line, '\n'), 1);
	assert_true(strstr(line, "}\n") == line + strlen(line) - 2);
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		snprintf(key, sizeof(key), "\"%s\":", required[i]);
		if (!strstr(line, key))
			fail_msg("json lacks %s: %s", key, line);
	}
	assert_non_null(strstr(line, "\"label\":\"run-1\""));
	assert_non_null(strstr(line, "\"msgs\":1000,"));
	free(h);
}

/* Labels that would break either form are quoted or escaped. */
static void test_escape(void **state)
{
	struct hist *h = malloc(sizeof(*h));
	struct report r = sample(h);
	char line[2048];

	(void)state;
	r.label = "a,\"b\"\\c\n";
	report_csv_row(&r, line, sizeof(line));
	assert_true(strncmp(line, "\"a,\"\"b\"\"\\c\n\",", 13) == 0);
	report_json(&r, line, sizeof(line));
	assert_non_null(strstr(line, "\"label\":\"a,\\\"b\\\"\\\\c\\u000a\""));
	free(h);
}

/* Truncation: NUL-terminated, returns the length needed. */
static void test_truncate(void **state)
{
	struct hist *h = malloc(sizeof(*h));
	struct report r = sample(h);
	char full[2048], small[16];
	int need;

	(void)state;
	need = report_json(&r, full, sizeof(full));
	assert_int_equal(need, (int)strlen(full));
	assert_int_equal(report_json(&r, small, sizeof(small)), need);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_true(strncmp(small, full, sizeof(small) - 1) == 0);
	assert_true(report_text(&r, full, sizeof(full)) > 0);
	assert_non_null(strstr(full, "p99.9"));
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fill),	 cmocka_unit_test(test_csv),
		cmocka_unit_test(test_json),	 cmocka_unit_test(test_escape),
		cmocka_unit_test(test_truncate),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
