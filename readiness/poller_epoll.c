// SPDX-License-Identifier: MIT
/*
 * poller_epoll.c - the epoll(7) backend: the tag travels in data.u64, so
 * there is no fd table. Level-triggered, or edge-triggered with POLLER_EDGE
 * (IN and OUT always watched; the caller must drain to EAGAIN). Static names
 * use ep_ (as fs/eventpoll.c does): epoll_create, _ctl and _wait are libc's.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "alloc.h"
#include "poller.h"

/* Registered at the end of this file. */
static const struct poller_ops poller_epoll_ops;

/* Events fetched per wait; a larger max is clamped to this. */
#define EP_MAX_EVENTS 1024

struct ep_poller {
	struct poller base;
	int epfd;
	struct epoll_event ev[EP_MAX_EVENTS];
};

static struct ep_poller *ep_state(struct poller *p)
{
	return (struct ep_poller *)p;
}

static int ep_create(struct poller **pp, unsigned max_fds, unsigned flags)
{
	struct ep_poller *s;

	if (flags & ~POLLER_EDGE)
		return -EINVAL;
	s = alloc_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		int err = -errno;

		alloc_free(s);
		return err;
	}
	s->base.ops = &poller_epoll_ops;
	s->base.flags = flags;
	*pp = &s->base;
	return 0;
}

static void ep_destroy(struct poller *p)
{
	struct ep_poller *s = ep_state(p);

	close(s->epfd);
	alloc_free(s);
}

static int ep_ctl(struct poller *p, int op, int fd, uint64_t tag,
		  unsigned events)
{
	struct ep_poller *s = ep_state(p);
	struct epoll_event e = { 0 };

	if (fd < 0)
		return -EINVAL;
	if (p->flags & POLLER_EDGE) {
		e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	} else {
		if (events & POLLER_IN)
			e.events |= EPOLLIN | EPOLLRDHUP;
		if (events & POLLER_OUT)
			e.events |= EPOLLOUT;
	}
	e.data.u64 = tag;
	if (epoll_ctl(s->epfd, op, fd, &e) < 0)
		return -errno;
	return 0;
}

static int ep_add(struct poller *p, int fd, uint64_t tag, unsigned events)
{
	return ep_ctl(p, EPOLL_CTL_ADD, fd, tag, events);
}

/*
 * Edge-triggered, the registered events never change, but the tag may, and
 * without an fd table we cannot tell: always issue the MOD. It re-arms the
 * edge, so at worst the caller sees one spurious event and reads EAGAIN.
 */
static int ep_mod(struct poller *p, int fd, uint64_t tag, unsigned events)
{
	return ep_ctl(p, EPOLL_CTL_MOD, fd, tag, events);
}

static int ep_del(struct poller *p, int fd)
{
	struct ep_poller *s = ep_state(p);

	if (fd < 0)
		return -EINVAL;
	if (epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
		return -errno;
	return 0;
}

static int ep_wait(struct poller *p, struct poller_event *ev, int max,
		   int timeout_ms)
{
	struct ep_poller *s = ep_state(p);
	int i, n;

	if (!ev || max <= 0)
		return -EINVAL;
	if (max > EP_MAX_EVENTS)
		max = EP_MAX_EVENTS;
	n = epoll_wait(s->epfd, s->ev, max, timeout_ms < 0 ? -1 : timeout_ms);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		uint32_t re = s->ev[i].events;
		unsigned events = 0;

		if (re & (EPOLLIN | EPOLLRDHUP))
			events |= POLLER_IN;
		/* Edge-triggered callers need this: the FIN's edge may come
		 * with the last data, and no further edge follows it. */
		if (re & (EPOLLRDHUP | EPOLLHUP))
			events |= POLLER_HUP;
		if (re & EPOLLOUT)
			events |= POLLER_OUT;
		/* Reported whether asked for or not; the read says which. */
		if (re & (EPOLLERR | EPOLLHUP))
			events |= POLLER_ERR | POLLER_IN;
		ev[i].tag = s->ev[i].data.u64;
		ev[i].events = events;
	}
	return n;
}

/* epoll: no fd limit; POLLER_EDGE supported. */
static const struct poller_ops poller_epoll_ops = {
	.name = "epoll",
	.flags = POLLER_EDGE,
	.create = ep_create,
	.destroy = ep_destroy,
	.add = ep_add,
	.mod = ep_mod,
	.del = ep_del,
	.wait = ep_wait,
	.fd_limit = 0,
	.pref = 300,
};
POLLER_REGISTER(poller_epoll_ops)
