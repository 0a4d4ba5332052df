// SPDX-License-Identifier: MIT
/*
 * poller.c - the table of compiled-in readiness backends, found by name.
 *
 * Holds no state and makes no syscalls; each backend is its own small file.
 */
#include <stddef.h>
#include <string.h>

#include "poller.h"

/* Same order as poller_names() lists them. */
static const struct poller_ops *const poller_table[] = {
	&poller_select_ops,
	&poller_poll_ops,
	&poller_epoll_ops,
};

const struct poller_ops *poller_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < sizeof(poller_table) / sizeof(poller_table[0]); i++) {
		if (strcmp(poller_table[i]->name, name) == 0)
			return poller_table[i];
	}
	return NULL;
}

const char *poller_names(void)
{
	return "select|poll|epoll";
}
