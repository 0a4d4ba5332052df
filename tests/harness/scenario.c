// SPDX-License-Identifier: MIT
/*
 * scenario.c - the one main of the scenario programs (see scenario.h):
 * argument dispatch through a table, one cmocka test, the exit status.
 * No scenario lives here, and nothing here knows which program runs.
 */
#include "scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

bool h_skipped;

char **h_server_cmd(int argc, char **argv)
{
	return argc >= 2 && !strcmp(argv[0], "--") ? argv + 1 : NULL;
}

static int h_usage(const struct h_prog *p)
{
	fprintf(stderr, "usage: %s SCENARIO %s\nscenarios:", p->prog, p->args);
	for (size_t i = 0; i < p->count; i++)
		fprintf(stderr, " %s", p->table[i].name);
	fprintf(stderr, "\n");
	return 2;
}

int h_main(const struct h_prog *p, int argc, char **argv)
{
	struct CMUnitTest test[1] = { { .teardown_func = p->teardown } };
	int rc;

	for (size_t i = 0; argc >= 2 && i < p->count; i++) {
		if (!strcmp(argv[1], p->table[i].name)) {
			test[0].name = p->table[i].name;
			test[0].test_func = p->table[i].fn;
		}
	}
	if (!test[0].test_func)
		return h_usage(p);
	rc = p->init ? p->init(argc - 2, argv + 2) : 0;
	if (rc == 2)
		return h_usage(p);
	if (rc)
		return rc;
	atexit(h_srv_cleanup_all);
	rc = cmocka_run_group_tests_name(p->group, test, NULL, NULL);
	return rc == 0 && h_skipped ? 77 : rc;
}
