/* SPDX-License-Identifier: MIT */
/*
 * scenario.h - the one main of the scenario programs (test_e2e,
 * test_limits, test_load): `PROG SCENARIO ARGS...` runs one scenario of a
 * table as one cmocka test, in its own process; a skipped one exits 77.
 *
 * The program brings its table, its argument parser and its teardown;
 * h_main does the dispatch, the usage line and the exit status.
 */
#ifndef ECHO_TEST_SCENARIO_H
#define ECHO_TEST_SCENARIO_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>

/* One scenario: its name on the command line and its test. */
struct h_scenario {
	const char *name;
	CMUnitTestFunction fn;
};

/* A program of scenarios. */
struct h_prog {
	const char *prog; /* the program's name, for the usage line */
	const char *group; /* the cmocka group the test runs in */
	const char *args; /* the usage line's words after SCENARIO */
	const struct h_scenario *table;
	size_t count;
	/* init - the arguments after SCENARIO (argv[argc] is NULL), before
	 * the test: 0 to run it, 2 for a usage error (h_main prints the
	 * usage), or the status to exit with at once (77: skip, said why). */
	int (*init)(int argc, char **argv);
	CMFixtureFunction teardown; /* after the test, failed or not */
};

/* Set by H_SKIP: the scenario skipped, h_main exits 77. */
extern bool h_skipped;

/* A failed check prints what was expected and seen, then the servers'
 * stderr tails, then fails the test (cmocka longjmps to the teardown). */
#define H_CHECK(cond, fmt, ...)                       \
	do {                                          \
		if (!(cond)) {                        \
			h_srv_diag(15);               \
			fail_msg(fmt, ##__VA_ARGS__); \
		}                                     \
	} while (0)

/* Skip the scenario, saying why: the program exits 77. */
#define H_SKIP(fmt, ...)                                            \
	do {                                                        \
		print_message("skipped: " fmt "\n", ##__VA_ARGS__); \
		h_skipped = true;                                   \
		skip();                                             \
	} while (0)

/* H_TABLE - a struct h_prog's table and count from one array. */
#define H_TABLE(t) .table = (t), .count = sizeof(t) / sizeof((t)[0])

/* h_server_cmd - the command after a leading "--" in argv (argc words),
 * or NULL if there is none. */
char **h_server_cmd(int argc, char **argv);

/*
 * h_main - run `PROG SCENARIO ARGS...`: find SCENARIO in p->table, pass
 * ARGS to p->init, run the scenario as one cmocka test with p->teardown,
 * and free every child left at exit (h_srv_cleanup_all). Returns main's
 * status: 0, 1 (failed), 77 (skipped), 2 (usage, printed with the list
 * of scenarios), or what p->init returned.
 */
int h_main(const struct h_prog *p, int argc, char **argv);

#endif
