// SPDX-License-Identifier: MIT
/*
 * poller.c - the table of readiness backends, filled by the backends
 * themselves (POLLER_REGISTER) before main() runs, and found by name.
 *
 * Makes no syscalls; written only by the constructors, read-only after.
 */
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "poller.h"

#define POLLER_NAMES_LEN 128

static const struct poller_ops *poller_table[POLLER_MAX];
static unsigned poller_n;

void poller_register(const struct poller_ops *ops)
{
	unsigned i;

	assert(poller_n < POLLER_MAX);
	if (poller_n >= POLLER_MAX)
		return;
	/* Constructors run in link order, which LTO may change: keep the
	 * table in pref order so that what --help lists does not move. */
	for (i = poller_n; i > 0 && poller_table[i - 1]->pref > ops->pref; i--)
		poller_table[i] = poller_table[i - 1];
	poller_table[i] = ops;
	poller_n++;
}

unsigned poller_count(void)
{
	return poller_n;
}

const struct poller_ops *poller_at(unsigned i)
{
	return i < poller_n ? poller_table[i] : NULL;
}

const struct poller_ops *poller_find(const char *name)
{
	unsigned i;

	if (!name)
		return NULL;
	for (i = 0; i < poller_n; i++) {
		if (strcmp(poller_table[i]->name, name) == 0)
			return poller_table[i];
	}
	return NULL;
}

const struct poller_ops *poller_default(void)
{
	return poller_n ? poller_table[poller_n - 1] : NULL;
}

const char *poller_names(unsigned flags)
{
	/* One list per flag set asked for: all, and POLLER_EDGE. */
	static char names[2][POLLER_NAMES_LEN];
	char *buf = names[(flags & POLLER_EDGE) != 0];
	size_t used = 0;
	unsigned i;
	int n;

	buf[0] = '\0';
	for (i = 0; i < poller_n; i++) {
		if ((poller_table[i]->flags & flags) != flags)
			continue;
		n = snprintf(buf + used, POLLER_NAMES_LEN - used, "%s%s",
			     used ? "|" : "", poller_table[i]->name);
		if (n < 0 || (size_t)n >= POLLER_NAMES_LEN - used)
			break;
		used += (size_t)n;
	}
	return buf;
}
