/* SPDX-License-Identifier: MIT */
/*
 * test_report.c - unit tests for the result forms (report.h): the CSV
 * header and row agree field by field, the JSON line has every key, odd
 * labels are escaped, and the derived columns are computed right.
 */
#include <math.h>
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

/* The .hgrm form: header, monotonic lines at HdrHistogram's levels, the
 * 100% line at max, the footer's mean, max and count. */
static void test_hgrm(void **state)
{
	static const char head[] = "       Value     Percentile TotalCount "
				   "1/(1-Percentile)\n\n";
	static char buf[65536];
	double val, pct, inv, last_val = 0, last_pct = -1, mean, max;
	unsigned long long tot, last_tot = 0, count;
	struct hist h;
	char *line, *save;
	int n, need, fields, lines = 0, saw_half = 0, saw_last = 0;
	uint64_t i;

	(void)state;
	hist_reset(&h);
	for (i = 1; i <= 1000; i++)
		hist_record(&h, i * 1000u); /* 1 .. 1000 us */
	need = report_hgrm(&h, 1000.0, buf, sizeof(buf));
	assert_true(need > 0 && (size_t)need < sizeof(buf));
	assert_int_equal(report_hgrm(&h, 1000.0, NULL, 0), need);
	assert_memory_equal(buf, head, strlen(head));
	for (line = strtok_r(buf + strlen(head), "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			break;
		fields =
		    sscanf(line, "%lf %lf %llu %lf", &val, &pct, &tot, &inv);
		lines++;
		assert_true(fields == 4 || (fields == 3 && pct == 1.0));
		assert_true(val >= last_val && pct > last_pct &&
			    tot >= last_tot && tot <= 1000);
		if (fields == 4)
			assert_true(fabs(inv - 1.0 / (1.0 - pct)) < 0.01);
		if (pct == 0.5) {
			/* The 500th value, 500 us, at most 1/128 above. */
			saw_half = 1;
			assert_true(val >= 500.0 && val <= 500.0 * 129 / 128);
			/* Its bucket (2048 ns wide) may hold 501 us too. */
			assert_true(tot >= 500 && tot <= 502);
		}
		if (fields == 3) {
			saw_last = 1;
			assert_true(val == 1000.0 && tot == 1000);
		}
		last_val = val, last_pct = pct, last_tot = tot;
	}
	assert_true(saw_half && saw_last && lines > 20 && lines < 200);
	n = sscanf(line, "#[Mean = %lf,", &mean);
	assert_int_equal(n, 1);
	assert_true(fabs(mean - 500.5) < 0.001);
	line = strtok_r(NULL, "\n", &save);
	n = sscanf(line, "#[Max = %lf, Total count = %llu]", &max, &count);
	assert_int_equal(n, 2);
	assert_true(max == 1000.0 && count == 1000);
	assert_non_null(strtok_r(NULL, "\n", &save));
	assert_null(strtok_r(NULL, "\n", &save));

	/* Empty: the header and the footer only. */
	hist_reset(&h);
	report_hgrm(&h, 1000.0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "Total count    =            0]"));
	assert_null(strstr(buf, "0.000000000000"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fill),	 cmocka_unit_test(test_csv),
		cmocka_unit_test(test_json),	 cmocka_unit_test(test_escape),
		cmocka_unit_test(test_truncate), cmocka_unit_test(test_hgrm),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
