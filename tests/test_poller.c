// SPDX-License-Identifier: MIT
/*
 * test_poller.c - one conformance suite, run once per readiness backend.
 *
 * argv[1] picks the backend: a name of readiness/backends.txt, or NAME-edge
 * (with POLLER_EDGE) for one that takes it. The build passes that list
 * (POLLER_LIST, POLLER_EDGE_LIST) so that the table can be checked against
 * it. Every test drives non-blocking AF_UNIX socketpairs and closes what
 * it opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "poller.h"

/* High bits set, so that a backend truncating tags to 32 bits fails. */
#define TAG(i) (0xabcd000000000000ull | (uint64_t)(i))
#define MAXEV 16

static const struct poller_ops *ops; /* the backend under test */
static unsigned pflags; /* POLLER_EDGE for epoll-edge */

struct fx {
	struct poller *p;
	int sv[2]; /* sv[0] is watched, sv[1] is the peer */
};

static int is_edge(void)
{
	return (pflags & POLLER_EDGE) != 0;
}

static int is_select(void)
{
	return strcmp(ops->name, "select") == 0;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	/* A small max_fds, so that the many-fd tests make poll grow. */
	if (ops->create(&f->p, 8, pflags) != 0) {
		free(f);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       f->sv) < 0) {
		ops->destroy(f->p);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	if (f->sv[0] >= 0)
		close(f->sv[0]);
	if (f->sv[1] >= 0)
		close(f->sv[1]);
	ops->destroy(f->p);
	free(f);
	return 0;
}

static void put(int fd, size_t len)
{
	char buf[64];

	assert_in_range(len, 1, sizeof(buf));
	memset(buf, 'x', len);
	assert_int_equal(write(fd, buf, len), len);
}

static void drain(int fd, size_t len)
{
	char buf[64];

	assert_in_range(len, 1, sizeof(buf));
	assert_int_equal(read(fd, buf, sizeof(buf)), len);
}

static int pwait(struct poller *p, struct poller_event *ev, int max,
		 int timeout_ms)
{
	return p->ops->wait(p, ev, max, timeout_ms);
}

/* Waits for exactly one event, for tag, and returns its events. */
static unsigned wait_one(struct poller *p, uint64_t tag, int timeout_ms)
{
	struct poller_event ev[MAXEV];

	assert_int_equal(pwait(p, ev, MAXEV, timeout_ms), 1);
	assert_int_equal(ev[0].tag, tag);
	return ev[0].events;
}

/*
 * Edge-triggered pollers watch OUT whatever was asked, so a fresh socket
 * reports one writable edge; consume it so that the test starts quiet.
 */
static void settle(struct fx *f, uint64_t tag)
{
	if (is_edge())
		assert_int_equal(wait_one(f->p, tag, 0), POLLER_OUT);
}

static int pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			  0, sv);
}

/* True if name is one of list's '|'-separated names. */
static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = list; (p = strstr(p, name)); p += n) {
		if ((p == list || p[-1] == '|') && (p[n] == '|' || !p[n]))
			return true;
	}
	return false;
}

/* The table holds the backends of the build's list, each once, in pref
 * order; names, lookup and the default agree with it. */
static void test_find(void **state)
{
	const struct poller_ops *o, *prev = NULL;
	char list[256], *save = NULL, *name;
	unsigned i, count = 0;

	assert_null(poller_find("nope"));
	assert_null(poller_find(""));
	assert_null(poller_find(NULL));
	assert_null(poller_at(poller_count()));
	for (i = 0; i < poller_count(); i++) {
		o = poller_at(i);
		assert_non_null(o);
		assert_true(listed(POLLER_LIST, o->name));
		assert_ptr_equal(poller_find(o->name), o);
		if (prev)
			assert_true(prev->pref < o->pref);
		prev = o;
	}
	assert_ptr_equal(poller_default(), prev);
	/* Every name of the list is in the table, with its edge flag. */
	snprintf(list, sizeof(list), "%s", POLLER_LIST);
	for (name = strtok_r(list, "|", &save); name;
	     name = strtok_r(NULL, "|", &save)) {
		o = poller_find(name);
		assert_non_null(o);
		assert_int_equal(listed(POLLER_EDGE_LIST, name),
				 (o->flags & POLLER_EDGE) != 0);
		assert_true(listed(poller_names(0), name));
		assert_int_equal(listed(poller_names(POLLER_EDGE), name),
				 (o->flags & POLLER_EDGE) != 0);
		count++;
	}
	assert_int_equal(count, poller_count());
}

static void test_create_flags(void **state)
{
	struct poller *p = NULL;

	/* POLLER_EDGE exactly where the list says "edge". */
	assert_int_equal(ops->flags,
			 listed(POLLER_EDGE_LIST, ops->name) ? POLLER_EDGE : 0);
	assert_int_equal(ops->fd_limit, is_select() ? FD_SETSIZE : 0);
	if (!(ops->flags & POLLER_EDGE))
		assert_int_equal(ops->create(&p, 16, POLLER_EDGE), -EINVAL);
	assert_int_equal(ops->create(&p, 16, 1u << 7), -EINVAL);
	assert_int_equal(ops->create(&p, 16, pflags), 0);
	assert_ptr_equal(p->ops, ops);
	assert_int_equal(p->flags, pflags);
	ops->destroy(p);
}

static void test_timeout(void **state)
{
	struct fx *f = *state;
	struct poller_event ev[MAXEV];
	int64_t t0, dt;

	/* Nothing registered at all: still a plain sleep. */
	t0 = clock_ms();
	assert_int_equal(pwait(f->p, ev, MAXEV, 20), 0);
	assert_in_range(clock_ms() - t0, 15, 1000);

	assert_int_equal(ops->add(f->p, f->sv[0], TAG(1), POLLER_IN), 0);
	settle(f, TAG(1));
	t0 = clock_ms();
	assert_int_equal(pwait(f->p, ev, MAXEV, 50), 0);
	dt = clock_ms() - t0;
	assert_in_range(dt, 45, 1000);
	t0 = clock_ms();
	assert_int_equal(pwait(f->p, ev, MAXEV, 0), 0);
	assert_in_range(clock_ms() - t0, 0, 20);
	assert_int_equal(ops->del(f->p, f->sv[0]), 0);
}

static void test_readable(void **state)
{
	struct fx *f = *state;
	unsigned events;

	assert_int_equal(ops->add(f->p, f->sv[0], TAG(1), POLLER_IN), 0);
	settle(f, TAG(1));
	put(f->sv[1], 5);
	events = wait_one(f->p, TAG(1), 1000);
	if (is_edge())
		assert_int_equal(events & (POLLER_IN | POLLER_ERR), POLLER_IN);
	else
		assert_int_equal(events, POLLER_IN);
	drain(f->sv[0], 5);
	assert_int_equal(ops->del(f->p, f->sv[0]), 0);
}

static void test_mod_out(void **state)
{
	struct fx *f = *state;
	struct poller_event ev[MAXEV];
	unsigned events;

	assert_int_equal(ops->add(f->p, f->sv[0], TAG(1), POLLER_IN), 0);
	settle(f, TAG(1));
	put(f->sv[1], 1);
	events = wait_one(f->p, TAG(1), 1000);
	assert_int_equal(events & POLLER_IN, POLLER_IN);

	/* Data is still pending, but only OUT is wanted now. */
	assert_int_equal(ops->mod(f->p, f->sv[0], TAG(1), POLLER_OUT), 0);
	events = wait_one(f->p, TAG(1), 1000);
	assert_int_equal(events & POLLER_OUT, POLLER_OUT);
	if (!is_edge()) {
		assert_int_equal(events, POLLER_OUT);
		/* Level-triggered: still writable, still reported. */
		assert_int_equal(wait_one(f->p, TAG(1), 0), POLLER_OUT);
		assert_int_equal(
		    ops->mod(f->p, f->sv[0], TAG(1), POLLER_IN | POLLER_OUT),
		    0);
		assert_int_equal(wait_one(f->p, TAG(1), 0),
				 POLLER_IN | POLLER_OUT);
	} else {
		assert_int_equal(pwait(f->p, ev, MAXEV, 0), 0);
	}
	drain(f->sv[0], 1);
	assert_int_equal(ops->del(f->p, f->sv[0]), 0);
}

static void test_mod_tag(void **state)
{
	struct fx *f = *state;
	unsigned events;

	assert_int_equal(ops->add(f->p, f->sv[0], TAG(1), POLLER_IN), 0);
	settle(f, TAG(1));
	put(f->sv[1], 1);
	assert_int_equal(ops->mod(f->p, f->sv[0], TAG(2), POLLER_IN), 0);
	events = wait_one(f->p, TAG(2), 1000);
	assert_int_equal(events & POLLER_IN, POLLER_IN);
	if (!is_edge())
		assert_int_equal(wait_one(f->p, TAG(2), 0), POLLER_IN);
	drain(f->sv[0], 1);
	assert_int_equal(ops->del(f->p, f->sv[0]), 0);
}

static void test_del(void **state)
{
	struct fx *f = *state;
	struct poller_event ev[MAXEV];
	int other[2];

	/* A higher fd stays registered, so the deleted one is in range. */
	assert_int_equal(pair(other), 0);
	assert_int_equal(ops->add(f->p, other[0], TAG(99), 0), 0);
	if (is_edge())
		assert_int_equal(wait_one(f->p, TAG(99), 0), POLLER_OUT);
	assert_int_equal(ops->add(f->p, f->sv[0], TAG(1), POLLER_IN), 0);
	put(f->sv[1], 1);
	assert_int_equal(ops->del(f->p, f->sv[0]), 0);
	assert_int_equal(pwait(f->p, ev, MAXEV, 50), 0);
	assert_int_equal(ops->del(f->p, other[0]), 0);
	close(other[0]);
	close(other[1]);
	assert_int_equal(ops->del(f->p, f->sv[0]), -ENOENT);
	assert_int_equal(ops->mod(f->p, f->sv[0], TAG(1), POLLER_IN), -ENOENT);

	/* The fd can come back, under a new tag. */
	assert_int_equal(ops->add(f->p, f->sv[0], TAG(3), POLLER_IN), 0);
	assert_int_equal(wait_one(f->p, TAG(3), 1000) & POLLER_IN, POLLER_IN);
	drain(f->sv[0], 1);
	assert_int_equal(ops->del(f->p, f->sv[0]), 0);
}

/*
 * Deleting an entry other than the last must leave the others intact (poll
 * swaps the last entry into the hole and must re-index it).
 */
static void test_del_middle(void **state)
{
	enum { N = 4 };
	struct fx *f = *state;
	struct poller_event ev[MAXEV];
	int sv[N][2], i, n, seen_b = 0, seen_d = 0;

	for (i = 0; i < N; i++) {
		assert_int_equal(pair(sv[i]), 0);
		assert_int_equal(ops->add(f->p, sv[i][0], TAG(i), POLLER_IN),
				 0);
		put(sv[i][1], 1);
	}
	/* Delete the first and third; then retag the one that was last. */
	assert_int_equal(ops->del(f->p, sv[0][0]), 0);
	assert_int_equal(ops->del(f->p, sv[2][0]), 0);
	assert_int_equal(ops->mod(f->p, sv[3][0], TAG(33), POLLER_IN), 0);
	n = pwait(f->p, ev, MAXEV, 1000);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		assert_int_equal(ev[i].events & POLLER_IN, POLLER_IN);
		if (ev[i].tag == TAG(1))
			seen_b++;
		else if (ev[i].tag == TAG(33))
			seen_d++;
		else
			fail_msg("unexpected tag %#llx",
				 (unsigned long long)ev[i].tag);
	}
	assert_int_equal(seen_b, 1);
	assert_int_equal(seen_d, 1);
	assert_int_equal(ops->del(f->p, sv[3][0]), 0);
	assert_int_equal(ops->del(f->p, sv[1][0]), 0);
	assert_int_equal(ops->del(f->p, sv[0][0]), -ENOENT);
	assert_int_equal(pwait(f->p, ev, MAXEV, 0), 0);
	for (i = 0; i < N; i++) {
		close(sv[i][0]);
		close(sv[i][1]);
	}
}

static void test_peer_close(void **state)
{
	struct fx *f = *state;
	char c;
	unsigned events;

	assert_int_equal(ops->add(f->p, f->sv[0], TAG(1), POLLER_IN), 0);
	settle(f, TAG(1));
	close(f->sv[1]);
	f->sv[1] = -1;
	events = wait_one(f->p, TAG(1), 1000);
	assert_int_equal(events & POLLER_IN, POLLER_IN);
	if (!is_select())
		assert_int_equal(events & POLLER_ERR, POLLER_ERR);
	assert_int_equal(read(f->sv[0], &c, 1), 0);
	assert_int_equal(ops->del(f->p, f->sv[0]), 0);
}

/* A caller that only wanted OUT must still learn of the hang-up. */
static void test_peer_close_out_only(void **state)
{
	struct fx *f = *state;
	char c = 'x';
	unsigned events;

	assert_int_equal(ops->add(f->p, f->sv[0], TAG(1), POLLER_OUT), 0);
	close(f->sv[1]);
	f->sv[1] = -1;
	events = wait_one(f->p, TAG(1), 1000);
	if (is_select()) {
		/* No hang-up bit in select: the write will say. */
		assert_int_equal(events, POLLER_OUT);
	} else {
		assert_int_equal(events & (POLLER_ERR | POLLER_IN),
				 POLLER_ERR | POLLER_IN);
		assert_int_equal(read(f->sv[0], &c, 1), 0);
	}
	assert_int_equal(send(f->sv[0], &c, 1, MSG_NOSIGNAL), -1);
	assert_int_equal(errno, EPIPE);
	assert_int_equal(ops->del(f->p, f->sv[0]), 0);
}

static void test_events_zero(void **state)
{
	struct fx *f = *state;
	struct poller_event ev[MAXEV];
	unsigned events;

	assert_int_equal(ops->add(f->p, f->sv[0], TAG(1), 0), 0);
	put(f->sv[1], 1);
	if (is_edge()) {
		/* Edge-triggered pollers watch IN and OUT whatever. */
		events = wait_one(f->p, TAG(1), 1000);
		assert_int_equal(events & POLLER_IN, POLLER_IN);
	} else {
		assert_int_equal(pwait(f->p, ev, MAXEV, 50), 0);
	}
	assert_int_equal(ops->mod(f->p, f->sv[0], TAG(1), POLLER_IN), 0);
	assert_int_equal(wait_one(f->p, TAG(1), 1000) & POLLER_IN, POLLER_IN);
	drain(f->sv[0], 1);

	/* Nothing wanted, then the peer hangs up. */
	assert_int_equal(ops->mod(f->p, f->sv[0], TAG(2), 0), 0);
	if (is_edge())
		settle(f, TAG(2));
	else
		assert_int_equal(pwait(f->p, ev, MAXEV, 0), 0);
	close(f->sv[1]);
	f->sv[1] = -1;
	if (is_select()) {
		assert_int_equal(pwait(f->p, ev, MAXEV, 50), 0);
	} else {
		events = wait_one(f->p, TAG(2), 1000);
		assert_int_equal(events & (POLLER_ERR | POLLER_IN),
				 POLLER_ERR | POLLER_IN);
	}
	assert_int_equal(ops->del(f->p, f->sv[0]), 0);
}

static void test_errors(void **state)
{
	struct fx *f = *state;
	struct poller_event ev[MAXEV];

	assert_int_equal(ops->add(f->p, f->sv[0], TAG(1), POLLER_IN), 0);
	assert_int_equal(ops->add(f->p, f->sv[0], TAG(1), POLLER_IN), -EEXIST);
	assert_int_equal(ops->add(f->p, f->sv[0], TAG(2), 0), -EEXIST);
	assert_int_equal(ops->del(f->p, f->sv[1]), -ENOENT);
	assert_int_equal(ops->mod(f->p, f->sv[1], TAG(2), POLLER_IN), -ENOENT);
	assert_int_equal(ops->add(f->p, -1, TAG(2), POLLER_IN), -EINVAL);
	assert_int_equal(ops->mod(f->p, -1, TAG(2), POLLER_IN), -EINVAL);
	assert_int_equal(ops->del(f->p, -1), -EINVAL);
	assert_int_equal(pwait(f->p, ev, 0, 0), -EINVAL);
	/* The failed calls changed nothing. */
	settle(f, TAG(1));
	put(f->sv[1], 1);
	assert_int_equal(wait_one(f->p, TAG(1), 1000) & POLLER_IN, POLLER_IN);
	drain(f->sv[0], 1);
	assert_int_equal(ops->del(f->p, f->sv[0]), 0);
}

static void test_undrained(void **state)
{
	struct fx *f = *state;
	struct poller_event ev[MAXEV];

	assert_int_equal(ops->add(f->p, f->sv[0], TAG(1), POLLER_IN), 0);
	settle(f, TAG(1));
	put(f->sv[1], 1);
	assert_int_equal(wait_one(f->p, TAG(1), 1000) & POLLER_IN, POLLER_IN);
	if (is_edge()) {
		/* No new edge: silence, although a byte is pending. */
		assert_int_equal(pwait(f->p, ev, MAXEV, 0), 0);
		put(f->sv[1], 1);
		assert_int_equal(wait_one(f->p, TAG(1), 1000) & POLLER_IN,
				 POLLER_IN);
		assert_int_equal(pwait(f->p, ev, MAXEV, 0), 0);
		drain(f->sv[0], 2);
	} else {
		assert_int_equal(wait_one(f->p, TAG(1), 0), POLLER_IN);
		assert_int_equal(wait_one(f->p, TAG(1), 0), POLLER_IN);
		drain(f->sv[0], 1);
		assert_int_equal(pwait(f->p, ev, MAXEV, 0), 0);
	}
	assert_int_equal(ops->del(f->p, f->sv[0]), 0);
}

/*
 * npairs readable pairs on p, tagged TAG(i); returns 0 or -1 (then
 * everything opened so far is closed again).
 */
static int open_pairs(struct poller *p, int (*sv)[2], int npairs)
{
	int i;

	for (i = 0; i < npairs; i++) {
		if (pair(sv[i]) < 0)
			break;
		if (ops->add(p, sv[i][0], TAG(i), POLLER_IN) < 0) {
			close(sv[i][0]);
			close(sv[i][1]);
			break;
		}
		put(sv[i][1], 1);
	}
	if (i == npairs)
		return 0;
	while (i-- > 0) {
		ops->del(p, sv[i][0]);
		close(sv[i][0]);
		close(sv[i][1]);
	}
	return -1;
}

static void close_pairs(struct poller *p, int (*sv)[2], int npairs)
{
	int i;

	for (i = 0; i < npairs; i++) {
		assert_int_equal(ops->del(p, sv[i][0]), 0);
		close(sv[i][0]);
		close(sv[i][1]);
	}
}

/* Checks a batch: tags in range, no duplicates; returns their indexes. */
static void check_batch(const struct poller_event *ev, int n, int npairs,
			int *idx)
{
	int i, j;

	for (i = 0; i < n; i++) {
		assert_int_equal(ev[i].tag & ~0xffffull, TAG(0));
		idx[i] = (int)(ev[i].tag - TAG(0));
		assert_in_range(idx[i], 0, npairs - 1);
		assert_int_equal(ev[i].events & POLLER_IN, POLLER_IN);
		for (j = 0; j < i; j++)
			assert_int_not_equal(idx[i], idx[j]);
	}
}

/*
 * Every ready fd is reported exactly once (drained on receipt), each wait
 * filling up to max, so ceil(300 / 64) waits see them all.
 */
static void test_many(void **state)
{
	enum { NPAIRS = 300, MAX = 64 };
	struct fx *f = *state;
	struct poller_event ev[MAX];
	int sv[NPAIRS][2], idx[MAX];
	int count[NPAIRS] = { 0 };
	int left = NPAIRS, waits = 0, n, i;

	if (open_pairs(f->p, sv, NPAIRS) < 0)
		skip();
	while (left > 0 && waits < 2 * NPAIRS / MAX) {
		n = pwait(f->p, ev, MAX, 1000);
		waits++;
		assert_int_equal(n, left < MAX ? left : MAX);
		check_batch(ev, n, NPAIRS, idx);
		for (i = 0; i < n; i++) {
			count[idx[i]]++;
			drain(sv[idx[i]][0], 1);
		}
		left -= n;
	}
	assert_int_equal(waits, (NPAIRS + MAX - 1) / MAX);
	for (i = 0; i < NPAIRS; i++)
		assert_int_equal(count[i], 1);
	assert_int_equal(pwait(f->p, ev, MAX, 0), 0);
	close_pairs(f->p, sv, NPAIRS);
}

/*
 * More ready fds than max, none drained: successive waits must not serve
 * the same subset, and ceil(n / max) waits must reach every fd.
 */
static void test_fairness(void **state)
{
	enum { NPAIRS = 40, MAX = 8, ROUNDS = NPAIRS / MAX };
	struct fx *f = *state;
	struct poller_event ev[MAX];
	int sv[NPAIRS][2], idx[MAX], first[MAX];
	int count[NPAIRS] = { 0 };
	int r, i, j, n, same = 0;

	if (open_pairs(f->p, sv, NPAIRS) < 0)
		skip();
	for (r = 0; r < ROUNDS; r++) {
		n = pwait(f->p, ev, MAX, 1000);
		assert_int_equal(n, MAX);
		check_batch(ev, n, NPAIRS, idx);
		for (i = 0; i < n; i++)
			count[idx[i]]++;
		if (r == 0)
			memcpy(first, idx, sizeof(first));
		if (r != 1)
			continue;
		for (i = 0; i < n; i++) {
			for (j = 0; j < n; j++)
				same += idx[i] == first[j];
		}
		assert_int_not_equal(same, MAX);
	}
	for (i = 0; i < NPAIRS; i++)
		assert_int_equal(count[i], 1);
	/* Level-triggered, the undrained fds are all still ready. */
	n = pwait(f->p, ev, MAX, 0);
	assert_int_equal(n, is_edge() ? 0 : MAX);
	close_pairs(f->p, sv, NPAIRS);
}

/* select must refuse an fd >= FD_SETSIZE; the others must handle it. */
static void test_high_fd(void **state)
{
	struct fx *f = *state;
	struct rlimit old, rl;
	int hi;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	if (rl.rlim_cur < FD_SETSIZE + 16) {
		rl.rlim_cur = FD_SETSIZE + 16;
		if (rl.rlim_max < rl.rlim_cur ||
		    setrlimit(RLIMIT_NOFILE, &rl) < 0)
			skip();
	}
	hi = fcntl(f->sv[0], F_DUPFD_CLOEXEC, FD_SETSIZE);
	if (hi < 0) {
		setrlimit(RLIMIT_NOFILE, &old);
		skip();
	}
	assert_in_range(hi, FD_SETSIZE, INT32_MAX);
	if (is_select()) {
		assert_int_equal(ops->add(f->p, hi, TAG(9), POLLER_IN),
				 -EINVAL);
		assert_int_equal(ops->mod(f->p, hi, TAG(9), POLLER_IN),
				 -ENOENT);
		assert_int_equal(ops->del(f->p, hi), -ENOENT);
		/* And the poller still works for ordinary fds. */
		assert_int_equal(ops->add(f->p, f->sv[0], TAG(1), POLLER_IN),
				 0);
		put(f->sv[1], 1);
		assert_int_equal(wait_one(f->p, TAG(1), 1000), POLLER_IN);
		assert_int_equal(ops->del(f->p, f->sv[0]), 0);
	} else {
		assert_int_equal(ops->add(f->p, hi, TAG(9), POLLER_IN), 0);
		settle(f, TAG(9));
		put(f->sv[1], 1);
		assert_int_equal(wait_one(f->p, TAG(9), 1000) & POLLER_IN,
				 POLLER_IN);
		assert_int_equal(ops->del(f->p, hi), 0);
	}
	drain(f->sv[0], 1);
	close(hi);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

static void on_alarm(int sig)
{
}

/* A signal interrupts a wait with -EINTR, long before its timeout. */
static void test_eintr(void **state)
{
	struct fx *f = *state;
	struct poller_event ev[MAXEV];
	struct sigaction sa, old;
	struct itimerval it = { .it_value = { .tv_usec = 20000 } };
	int64_t t0;
	int n;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	assert_int_equal(ops->add(f->p, f->sv[0], TAG(1), POLLER_IN), 0);
	settle(f, TAG(1));
	t0 = clock_ms();
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	n = pwait(f->p, ev, MAXEV, 5000);
	assert_int_equal(n, -EINTR);
	assert_in_range(clock_ms() - t0, 0, 2000);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	assert_int_equal(ops->del(f->p, f->sv[0]), 0);
}

#define FX_TEST(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(int argc, char **argv)
{
	const char *edge;
	char name[64];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_create_flags),
		FX_TEST(test_timeout),
		FX_TEST(test_readable),
		FX_TEST(test_mod_out),
		FX_TEST(test_mod_tag),
		FX_TEST(test_del),
		FX_TEST(test_del_middle),
		FX_TEST(test_peer_close),
		FX_TEST(test_peer_close_out_only),
		FX_TEST(test_events_zero),
		FX_TEST(test_errors),
		FX_TEST(test_undrained),
		FX_TEST(test_many),
		FX_TEST(test_fairness),
		FX_TEST(test_high_fd),
		FX_TEST(test_eintr),
	};

	/* NAME-edge: backend NAME, edge-triggered. */
	if (argc == 2 &&
	    snprintf(name, sizeof(name), "%s", argv[1]) < (int)sizeof(name)) {
		edge = strstr(name, "-edge");
		if (edge && !edge[5]) {
			name[edge - name] = '\0';
			pflags = POLLER_EDGE;
		}
		ops = poller_find(name);
		if (ops && (ops->flags & pflags) != pflags)
			ops = NULL;
	}
	if (!ops) {
		fprintf(stderr, "usage: %s %s (or NAME-edge for %s)\n", argv[0],
			poller_names(0), poller_names(POLLER_EDGE));
		return 2;
	}
	return cmocka_run_group_tests_name(argv[1], tests, NULL, NULL);
}
