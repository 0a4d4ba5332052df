// SPDX-License-Identifier: MIT
/*
 * test_cli.c - unit tests for echo-load's command line (cli.h): times
 * with and without s/ms suffixes, --cpus and its old name --cpu, -h, and
 * the one-line errors. stdout and stderr are sent to /dev/null.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli.h"

#define ARGV(...) ((char *[]){ "echo-load", __VA_ARGS__, NULL })

/* parse - cli_parse of a NULL-terminated argv, streams silenced. */
static int parse(struct cli *c, char **argv)
{
	int out = dup(1), err = dup(2), null = open("/dev/null", O_WRONLY);
	int rc, argc = 0;

	while (argv[argc])
		argc++;
	assert_true(out >= 0 && err >= 0 && null >= 0);
	fflush(stdout);
	fflush(stderr);
	dup2(null, 1);
	dup2(null, 2);
	rc = cli_parse(c, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(out, 1);
	dup2(err, 2);
	close(out);
	close(err);
	close(null);
	return rc;
}

static void test_seconds(void **state)
{
	static const struct {
		const char *s;
		uint64_t want; /* ns; 1 means -EINVAL */
	} cases[] = {
		{ "2", 2000000000ull },
		{ "0.25", 250000000ull },
		{ "2s", 2000000000ull },
		{ "1.5s", 1500000000ull },
		{ "500ms", 500000000ull },
		{ "0.5ms", 500000ull },
		{ "0", 0 },
		{ "0s", 0 },
		{ "0ms", 0 },
		{ "86400s", 86400000000000ull },
		{ "86401", 1 },
		{ "1h", 1 },
		{ "1m", 1 },
		{ "1 s", 1 },
		{ "s", 1 },
		{ "ms", 1 },
		{ ".s", 1 },
		{ "1.2.3s", 1 },
		{ "-1s", 1 },
		{ "+1", 1 },
		{ "1e3", 1 },
		{ "1sms", 1 },
		{ "1mss", 1 },
		{ "", 1 },
	};
	const uint64_t day = 86400ull * 1000000000ull;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 7;
		int rc = cli_seconds(cases[i].s, 0, day, &v);

		if (cases[i].want == 1) {
			if (rc != -EINVAL)
				fail_msg("'%s': accepted as %llu ns",
					 cases[i].s, (unsigned long long)v);
			continue;
		}
		if (rc || v != cases[i].want)
			fail_msg("'%s': rc %d, %llu ns, want %llu", cases[i].s,
				 rc, (unsigned long long)v,
				 (unsigned long long)cases[i].want);
	}
}

static void test_parse_times(void **state)
{
	char **a = ARGV("--port", "7", "--duration", "1s", "--warmup", "200ms");
	struct cli c;

	assert_int_equal(parse(&c, a), CLI_RUN);
	assert_int_equal(c.duration_ns, 1000000000ull);
	assert_int_equal(c.warmup_ns, 200000000ull);
}

static void test_cpus(void **state)
{
	char **a = ARGV("--port", "7", "--cpus", "0,2-3");
	char **b = ARGV("--port", "7", "--cpu", "5");
	char **bad = ARGV("--port", "7", "--cpus", "3-1");
	struct cli c;

	assert_int_equal(parse(&c, a), CLI_RUN);
	assert_int_equal(c.ncpus, 3);
	assert_int_equal(c.cpus[2], 3);
	assert_int_equal(parse(&c, b), CLI_RUN);
	assert_int_equal(c.ncpus, 1);
	assert_int_equal(c.cpus[0], 5);
	assert_int_equal(parse(&c, bad), CLI_USAGE);
}

static void test_help_and_errors(void **state)
{
	struct cli c;

	assert_int_equal(parse(&c, ARGV("-h")), CLI_EXIT);
	assert_int_equal(parse(&c, ARGV("--help")), CLI_EXIT);
	assert_int_equal(parse(&c, ARGV("--version")), CLI_EXIT);
	assert_int_equal(parse(&c, ARGV("--nope")), CLI_USAGE);
	assert_int_equal(parse(&c, ARGV("--port", "7", "--csv=1")), CLI_USAGE);
	assert_int_equal(parse(&c, ARGV("--port", "7", "--duration", "1h")),
			 CLI_USAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seconds),
		cmocka_unit_test(test_parse_times),
		cmocka_unit_test(test_cpus),
		cmocka_unit_test(test_help_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
