// SPDX-License-Identifier: MIT
/*
 * poller_select.c - the select(2) backend: fixed fd_sets, tags indexed by fd.
 *
 * Refuses fds at or above FD_SETSIZE (FD_SET on them corrupts memory) and
 * edge triggering. select has no hang-up bit: EOF and errors show as readable
 * or writable, and an fd added with no events is never reported.
 */
#include <errno.h>
#include <sys/select.h>

#include "alloc.h"
#include "poller.h"

/* Registered at the end of this file. */
static const struct poller_ops poller_select_ops;

struct select_poller {
	struct poller base;
	fd_set added; /* every registered fd, watched or not */
	fd_set rd; /* interest; copied before each select() */
	fd_set wr;
	int max_fd; /* highest registered fd, -1 if none */
	int next; /* where the next scan of ready fds starts */
	uint64_t tags[FD_SETSIZE];
};

static struct select_poller *select_state(struct poller *p)
{
	return (struct select_poller *)p;
}

static int select_create(struct poller **pp, unsigned max_fds, unsigned flags)
{
	struct select_poller *s;

	if (flags)
		return -EINVAL;
	s = alloc_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.ops = &poller_select_ops;
	s->base.flags = flags;
	FD_ZERO(&s->added);
	FD_ZERO(&s->rd);
	FD_ZERO(&s->wr);
	s->max_fd = -1;
	*pp = &s->base;
	return 0;
}

static void select_destroy(struct poller *p)
{
	alloc_free(p);
}

static void select_set(struct select_poller *s, int fd, uint64_t tag,
		       unsigned events)
{
	s->tags[fd] = tag;
	if (events & POLLER_IN)
		FD_SET(fd, &s->rd);
	else
		FD_CLR(fd, &s->rd);
	if (events & POLLER_OUT)
		FD_SET(fd, &s->wr);
	else
		FD_CLR(fd, &s->wr);
}

static int select_add(struct poller *p, int fd, uint64_t tag, unsigned events)
{
	struct select_poller *s = select_state(p);

	if (fd < 0 || fd >= FD_SETSIZE)
		return -EINVAL;
	if (FD_ISSET(fd, &s->added))
		return -EEXIST;
	FD_SET(fd, &s->added);
	select_set(s, fd, tag, events);
	if (fd > s->max_fd)
		s->max_fd = fd;
	return 0;
}

static int select_mod(struct poller *p, int fd, uint64_t tag, unsigned events)
{
	struct select_poller *s = select_state(p);

	if (fd < 0)
		return -EINVAL;
	if (fd >= FD_SETSIZE || !FD_ISSET(fd, &s->added))
		return -ENOENT;
	select_set(s, fd, tag, events);
	return 0;
}

static int select_del(struct poller *p, int fd)
{
	struct select_poller *s = select_state(p);

	if (fd < 0)
		return -EINVAL;
	if (fd >= FD_SETSIZE || !FD_ISSET(fd, &s->added))
		return -ENOENT;
	FD_CLR(fd, &s->added);
	FD_CLR(fd, &s->rd);
	FD_CLR(fd, &s->wr);
	while (s->max_fd >= 0 && !FD_ISSET(s->max_fd, &s->added))
		s->max_fd--;
	return 0;
}

static int select_wait(struct poller *p, struct poller_event *ev, int max,
		       int timeout_ms)
{
	struct select_poller *s = select_state(p);
	struct timeval tv, *tvp = NULL;
	fd_set rd = s->rd, wr = s->wr;
	int nfds = s->max_fd + 1;
	int ready, seen = 0, n = 0, i, fd = 0;

	if (!ev || max <= 0)
		return -EINVAL;
	if (timeout_ms >= 0) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		tvp = &tv;
	}
	ready = select(nfds, &rd, &wr, NULL, tvp);
	if (ready < 0)
		return -errno;
	/*
	 * Scan from a rotating start so that, with more ready fds than max,
	 * low fds are not always served first; the rest stay ready (level
	 * triggered) and the next wait reports them. ready counts bits, so an
	 * fd both readable and writable counts twice.
	 */
	for (i = 0; i < nfds && seen < ready && n < max; i++) {
		unsigned events = 0;

		fd = (s->next + i) % nfds;
		if (FD_ISSET(fd, &rd)) {
			events |= POLLER_IN;
			seen++;
		}
		if (FD_ISSET(fd, &wr)) {
			events |= POLLER_OUT;
			seen++;
		}
		if (events) {
			ev[n].tag = s->tags[fd];
			ev[n].events = events;
			n++;
		}
	}
	if (n > 0)
		s->next = fd + 1;
	return n;
}

/* select: fd_limit FD_SETSIZE, level-triggered only (POLLER_EDGE: -EINVAL). */
static const struct poller_ops poller_select_ops = {
	.name = "select",
	.flags = 0,
	.create = select_create,
	.destroy = select_destroy,
	.add = select_add,
	.mod = select_mod,
	.del = select_del,
	.wait = select_wait,
	.fd_limit = FD_SETSIZE,
	.pref = 100,
};
POLLER_REGISTER(poller_select_ops)
