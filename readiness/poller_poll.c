// SPDX-License-Identifier: MIT
/*
 * poller_poll.c - the poll(2) backend: a dense pollfd array plus a map from
 * fd to array index. del swaps the last entry into the hole. Arrays grow in
 * add (never in wait). Level-triggered only: POLLER_EDGE is refused.
 */
#include <errno.h>
#include <poll.h>

#include "alloc.h"
#include "poller.h"

/* Registered at the end of this file. */
static const struct poller_ops poller_poll_ops;

#define POLL_MIN_CAP 64u

struct poll_poller {
	struct poller base;
	struct pollfd *fds; /* [0, n) are registered, watched or not */
	uint64_t *tags; /* tags[i] belongs to fds[i] */
	unsigned n;
	unsigned cap; /* entries in fds and tags */
	int *idx; /* idx[fd] is fd's entry in fds, or -1 */
	unsigned idx_len;
	unsigned next; /* where the next scan of results starts */
};

static struct poll_poller *poll_state(struct poller *p)
{
	return (struct poll_poller *)p;
}

static short poll_mask(unsigned events)
{
	short mask = 0;

	if (events & POLLER_IN)
		mask |= POLLIN;
	if (events & POLLER_OUT)
		mask |= POLLOUT;
	return mask;
}

static int poll_grow_idx(struct poll_poller *s, unsigned len)
{
	unsigned i;
	int *idx;

	if (len <= s->idx_len)
		return 0;
	idx = alloc_realloc(s->idx, (size_t)len * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (i = s->idx_len; i < len; i++)
		idx[i] = -1;
	s->idx = idx;
	s->idx_len = len;
	return 0;
}

static int poll_grow_fds(struct poll_poller *s, unsigned cap)
{
	struct pollfd *fds;
	uint64_t *tags;

	if (cap <= s->cap)
		return 0;
	fds = alloc_realloc(s->fds, (size_t)cap * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	s->fds = fds;
	tags = alloc_realloc(s->tags, (size_t)cap * sizeof(*tags));
	if (!tags)
		return -ENOMEM;
	s->tags = tags;
	s->cap = cap;
	return 0;
}

static void poll_destroy(struct poller *p)
{
	struct poll_poller *s = poll_state(p);

	alloc_free(s->fds);
	alloc_free(s->tags);
	alloc_free(s->idx);
	alloc_free(s);
}

static int poll_create(struct poller **pp, unsigned max_fds, unsigned flags)
{
	struct poll_poller *s;
	unsigned cap = max_fds > POLL_MIN_CAP ? max_fds : POLL_MIN_CAP;
	int err;

	if (flags)
		return -EINVAL;
	s = alloc_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.ops = &poller_poll_ops;
	s->base.flags = flags;
	/*
	 * max_fds sizes both the array and the map up front; fd numbers may
	 * still exceed it (stdio, listeners), and the map then grows in add.
	 */
	err = poll_grow_fds(s, cap);
	if (!err)
		err = poll_grow_idx(s, cap);
	if (err) {
		poll_destroy(&s->base);
		return err;
	}
	*pp = &s->base;
	return 0;
}

static int poll_add(struct poller *p, int fd, uint64_t tag, unsigned events)
{
	struct poll_poller *s = poll_state(p);
	unsigned ufd = (unsigned)fd;
	int err;

	if (fd < 0)
		return -EINVAL;
	if (ufd < s->idx_len && s->idx[ufd] >= 0)
		return -EEXIST;
	if (ufd >= s->idx_len) {
		/* Double, so that rising fds cost amortised O(1). */
		unsigned len = s->idx_len * 2;

		err = poll_grow_idx(s, ufd < len ? len : ufd + 1);
		if (err)
			return err;
	}
	if (s->n == s->cap) {
		err = poll_grow_fds(s, s->cap * 2);
		if (err)
			return err;
	}
	s->fds[s->n].fd = fd;
	s->fds[s->n].events = poll_mask(events);
	s->fds[s->n].revents = 0;
	s->tags[s->n] = tag;
	s->idx[ufd] = (int)s->n;
	s->n++;
	return 0;
}

static int poll_find(struct poll_poller *s, int fd)
{
	if (fd < 0)
		return -EINVAL;
	if ((unsigned)fd >= s->idx_len || s->idx[fd] < 0)
		return -ENOENT;
	return s->idx[fd];
}

static int poll_mod(struct poller *p, int fd, uint64_t tag, unsigned events)
{
	struct poll_poller *s = poll_state(p);
	int i = poll_find(s, fd);

	if (i < 0)
		return i;
	s->fds[i].events = poll_mask(events);
	s->tags[i] = tag;
	return 0;
}

static int poll_del(struct poller *p, int fd)
{
	struct poll_poller *s = poll_state(p);
	int i = poll_find(s, fd);
	unsigned last;

	if (i < 0)
		return i;
	last = --s->n;
	if ((unsigned)i != last) {
		s->fds[i] = s->fds[last];
		s->tags[i] = s->tags[last];
		s->idx[s->fds[i].fd] = i;
	}
	s->idx[fd] = -1;
	return 0;
}

static int poll_wait(struct poller *p, struct poller_event *ev, int max,
		     int timeout_ms)
{
	struct poll_poller *s = poll_state(p);
	unsigned i, k = 0, n = 0;
	int ready, seen = 0;

	if (!ev || max <= 0)
		return -EINVAL;
	ready = poll(s->fds, s->n, timeout_ms < 0 ? -1 : timeout_ms);
	if (ready < 0)
		return -errno;
	/*
	 * Rotate the scan start so that, with more ready entries than max,
	 * the same ones are not always served first; the rest stay ready and
	 * the next wait reports them. poll reports POLLERR, POLLHUP and
	 * POLLNVAL even for entries with no events: report them as ERR plus
	 * IN so that the caller's read finds the EOF or the error.
	 */
	for (i = 0; i < s->n && seen < ready && n < (unsigned)max; i++) {
		short re;
		unsigned events = 0;

		k = (s->next + i) % s->n;
		re = s->fds[k].revents;
		if (!re)
			continue;
		seen++;
		if (re & POLLIN)
			events |= POLLER_IN;
		if (re & POLLOUT)
			events |= POLLER_OUT;
		if (re & (POLLERR | POLLHUP | POLLNVAL))
			events |= POLLER_ERR | POLLER_IN;
		if (!events)
			continue;
		ev[n].tag = s->tags[k];
		ev[n].events = events;
		n++;
	}
	if (n > 0)
		s->next = k + 1;
	return (int)n;
}

/* poll: no fd limit, level-triggered only (POLLER_EDGE: -EINVAL). */
static const struct poller_ops poller_poll_ops = {
	.name = "poll",
	.flags = 0,
	.create = poll_create,
	.destroy = poll_destroy,
	.add = poll_add,
	.mod = poll_mod,
	.del = poll_del,
	.wait = poll_wait,
	.fd_limit = 0,
	.pref = 200,
};
POLLER_REGISTER(poller_poll_ops)
