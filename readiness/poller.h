/* SPDX-License-Identifier: MIT */
/*
 * poller.h - one readiness interface, one small file per backend.
 *
 * Each backend (poller_NAME.c, one for each name in readiness/backends.txt)
 * keeps everything static and registers its one const struct poller_ops
 * with POLLER_REGISTER; the loop picks one at run time by name. Backends
 * know nothing of connections: they map a descriptor to an opaque 64-bit
 * tag and report readiness by tag.
 */
#ifndef ECHO_POLLER_H
#define ECHO_POLLER_H

#include <stdint.h>

enum {
	POLLER_IN = 1u << 0, /* readable (or EOF / error pending) */
	POLLER_OUT = 1u << 1, /* writable */
	POLLER_ERR =
	    1u << 2, /* error or hang-up: a read/write will say which */
	POLLER_HUP = 1u << 3, /* the peer shut its write side (EOF is queued
			       * behind any data): epoll only */
};

enum {
	POLLER_EDGE = 1u << 0, /* edge-triggered (epoll only) */
};

struct poller_event {
	uint64_t tag;
	unsigned events; /* POLLER_* */
};

/* The common head of every backend's state; backends embed it first. */
struct poller {
	const struct poller_ops *ops;
	unsigned flags; /* as passed to create */
};

struct poller_ops {
	const char *name;
	unsigned flags; /* POLLER_EDGE if the backend can do edge triggering */
	/* create - state for up to max_fds descriptors; flags POLLER_EDGE or 0.
	 * Returns 0 or a negative errno. */
	int (*create)(struct poller **pp, unsigned max_fds, unsigned flags);
	void (*destroy)(struct poller *p);
	/* add - watch fd for events (POLLER_IN|POLLER_OUT, possibly 0), report it
	 * as tag. -EINVAL if fd is beyond what the backend can hold (select:
	 * fd >= FD_SETSIZE), -EEXIST if already added. Edge-triggered pollers
	 * watch IN and OUT whatever events says. */
	int (*add)(struct poller *p, int fd, uint64_t tag, unsigned events);
	/* mod - change the interest (and tag) of an added fd. */
	int (*mod)(struct poller *p, int fd, uint64_t tag, unsigned events);
	/* del - stop watching fd (before it is closed). */
	int (*del)(struct poller *p, int fd);
	/* wait - up to max ready events into ev, waiting at most timeout_ms
	 * (-1 forever, 0 not at all). Returns the count (0 on timeout) or a
	 * negative errno (-EINTR when a signal interrupted it). */
	int (*wait)(struct poller *p, struct poller_event *ev, int max,
		    int timeout_ms);
	/* fd_limit - descriptors at or above this cannot be added (0: none). */
	int fd_limit;
	/* pref - rank, unique: the highest is the default, and names are
	 * listed from the lowest up. */
	int pref;
};

/* At most this many backends can register. */
#define POLLER_MAX 8

/*
 * POLLER_REGISTER - put ops into the table before main() runs, as
 * haproxy's pollers do; one line at the end of each backend's file. The
 * library is linked whole (readiness/meson.build), since nothing else
 * names a backend's object file.
 */
#define POLLER_REGISTER(ops)                                                 \
	__attribute__((constructor)) static void poller_register_##ops(void) \
	{                                                                    \
		poller_register(&(ops));                                     \
	}

/* poller_register - add ops to the table, kept in pref order; for
 * POLLER_REGISTER. Beyond POLLER_MAX backends it is a build mistake:
 * asserted, and the extra ones ignored. */
void poller_register(const struct poller_ops *ops);

/* poller_count - backends registered; poller_at - the i-th of them
 * (i < poller_count()), lowest pref first. */
unsigned poller_count(void);
const struct poller_ops *poller_at(unsigned i);

/* poller_find - the backend called name, or NULL. */
const struct poller_ops *poller_find(const char *name);

/* poller_default - the backend with the highest pref (NULL: none). */
const struct poller_ops *poller_default(void);

/* poller_names - the names of the backends whose flags include all of
 * flags, lowest pref first: "select|poll|epoll" for 0, "epoll" for
 * POLLER_EDGE. For usage text and errors; static storage. */
const char *poller_names(unsigned flags);

#endif
