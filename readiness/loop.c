// SPDX-License-Identifier: MIT
/*
 * loop.c - the readiness event loop behind ready-echo.
 *
 * Waits on a poller, accepts, and moves bytes between sockets and the core
 * (common/conn.c) with recv and send. It keeps only I/O facts per socket
 * (believed readable or writable, interest registered); every decision
 * about what to echo, when to stop reading and when to close is the core's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "conn.h"
#include "loop.h"
#include "net.h"
#include "pool.h"
#include "serve.h"
#include "stats.h"
#include "team.h"

/* Tags 0 and 1 have generation 0, which no live connection ever has. */
#define LOOP_TAG_LISTENER ((uint64_t)0)
#define LOOP_TAG_SIGNAL ((uint64_t)1)

#define LOOP_EVENTS 256 /* events taken per wait */
#define LOOP_ROUNDS 16 /* recv+send rounds per connection per wakeup */
#define LOOP_ACCEPTS 64 /* accepts per wakeup */

/* Per-socket facts kept in ready_conn.io: what the socket is believed
 * to be (CAN_*), what is registered with the poller (WATCH_*), and the
 * loop's own marks. */
enum {
	CAN_READ = 1u << 0, /* believed readable: the last recv was not short */
	CAN_WRITE =
	    1u << 1, /* believed writable: the last send was not short */
	WATCH_IN = 1u << 2, /* POLLER_IN registered (level-triggered only) */
	WATCH_OUT = 1u << 3, /* POLLER_OUT registered (level-triggered only) */
	PENDING = 1u << 4, /* on the pending list (edge-triggered only) */
	PEER_HUP = 1u << 5, /* the peer shut its side: read on until EOF */
};

/* A connection: the pool's slot (the core's state) and the socket's facts. */
struct ready_conn {
	struct pool_slot slot;
	int fd;
	uint32_t io; /* IO_* */
};

struct loop {
	struct serve sv; /* pool, buffers, counters, accept state, timers */
	struct poller *p;
	bool edge;
	int fd_limit;
	bool accept_more; /* try accepting before the next blocking wait */
	uint32_t pend_head; /* edge-triggered: connections with work left */
	uint32_t pend_tail;
	struct poller_event ev[LOOP_EVENTS];
};

static struct ready_conn *loop_conn_at(const struct loop *l, uint32_t i)
{
	return (struct ready_conn *)pool_at(&l->sv.pool, i);
}

/* Edge-triggered only: remember a connection that still has work. */
static void loop_pend(struct loop *l, struct ready_conn *s)
{
	uint32_t idx = s->slot.index;

	if (s->io & PENDING)
		return;
	s->io |= PENDING;
	s->slot.link = POOL_NONE;
	if (l->pend_head == POOL_NONE)
		l->pend_head = idx;
	else
		loop_conn_at(l, l->pend_tail)->slot.link = idx;
	l->pend_tail = idx;
}

static void loop_listen_set(struct loop *l, bool on)
{
	/* Edge-triggered pollers always watch the listener; pausing is just
	 * not calling accept, and resuming tries accept at once since the
	 * edge may already have passed. */
	if (!l->edge) {
		l->p->ops->mod(l->p, l->sv.lfd, LOOP_TAG_LISTENER,
			       on ? POLLER_IN : 0);
		l->sv.st.ctls++;
	}
}

static void loop_close(struct loop *l, struct ready_conn *s)
{
	l->p->ops->del(l->p, s->fd);
	close(s->fd);
	/* A slot is free again: resume accepting if the limit paused it. */
	if (serve_close(&l->sv, &s->slot)) {
		loop_listen_set(l, true);
		l->accept_more = true;
	}
}

/* One recv into the core's window. Returns true if bytes moved. */
static bool loop_recv(struct loop *l, struct ready_conn *s)
{
	struct conn *c = &s->slot.conn;
	uint8_t *p;
	size_t len;
	ssize_t n;

	if (conn_rx_window(c, &p, &len))
		return false;
	do {
		n = recv(s->fd, p, len, 0);
		l->sv.st.recv_calls++;
	} while (n < 0 && errno == EINTR);
	if (n > 0) {
		conn_rx_commit(c, (size_t)n);
		serve_rx(&l->sv, c, (size_t)n);
		/* A short read means the socket is drained (epoll(7)): skip
		 * the recv that would only say EAGAIN. Not so if the peer
		 * hung up: its EOF still waits behind the data, and an edge-
		 * triggered poller will not report it a second time. */
		if ((size_t)n < len && !(s->io & PEER_HUP))
			s->io &= ~CAN_READ;
		return true;
	}
	if (n == 0) {
		conn_rx_eof(c);
		s->io &= ~CAN_READ;
		return true;
	}
	conn_rx_commit(c, 0);
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		l->sv.st.eagain++;
		s->io &= ~CAN_READ;
		return false;
	}
	conn_fail(c, -errno);
	return true;
}

/* One send from the core's window. Returns true if bytes moved. */
static bool loop_send(struct loop *l, struct ready_conn *s)
{
	struct conn *c = &s->slot.conn;
	const uint8_t *p;
	size_t len;
	ssize_t n;

	len = conn_tx_window(c, &p);
	do {
		n = send(s->fd, p, len, MSG_NOSIGNAL);
		l->sv.st.send_calls++;
	} while (n < 0 && errno == EINTR);
	if (n >= 0) {
		conn_tx_commit(c, (size_t)n);
		serve_tx(&l->sv, (size_t)n, len);
		/* Short: the socket buffer is full; wait for writability. */
		if ((size_t)n < len)
			s->io &= ~CAN_WRITE;
		return n > 0;
	}
	conn_tx_commit(c, 0);
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		l->sv.st.eagain++;
		s->io &= ~CAN_WRITE;
		return false;
	}
	conn_fail(c, -errno);
	return true;
}

/* Level-triggered: register what the core wants, only when it changed. */
static int loop_interest(struct loop *l, struct ready_conn *s, unsigned w)
{
	unsigned want = 0, ev = 0;
	int ret;

	if (w & CONN_WANT_READ) {
		want |= WATCH_IN;
		ev |= POLLER_IN;
	}
	if (w & CONN_WANT_WRITE) {
		want |= WATCH_OUT;
		ev |= POLLER_OUT;
	}
	if ((s->io & (WATCH_IN | WATCH_OUT)) == want)
		return 0;
	ret =
	    l->p->ops->mod(l->p, s->fd, pool_handle(&l->sv.pool, &s->slot), ev);
	l->sv.st.ctls++;
	if (ret)
		return ret;
	s->io = (s->io & ~(WATCH_IN | WATCH_OUT)) | want;
	return 0;
}

/*
 * Move bytes for one connection until the socket would block or the round
 * budget is spent, then close it, re-register interest, or (edge-triggered)
 * queue it to continue after the others had their turn.
 */
static void loop_service(struct loop *l, struct ready_conn *s)
{
	struct conn *c = &s->slot.conn;
	unsigned w = conn_wants(c);
	int round, ret;
	bool moved;

	for (round = 0; round < LOOP_ROUNDS && w; round++) {
		moved = false;
		if ((w & CONN_WANT_READ) && (s->io & CAN_READ))
			moved |= loop_recv(l, s);
		w = conn_wants(c);
		if ((w & CONN_WANT_WRITE) && (s->io & CAN_WRITE))
			moved |= loop_send(l, s);
		w = conn_wants(c);
		if (w & CONN_WANT_SHUT) {
			l->sv.st.shutdowns++;
			if (shutdown(s->fd, SHUT_WR))
				conn_fail(c, -errno);
			else
				conn_shut_done(c);
			w = conn_wants(c);
		}
		/* Another round only if it can move bytes: a short recv or
		 * send already said the socket has nothing more for now. */
		if (!moved || !(((w & CONN_WANT_READ) && (s->io & CAN_READ)) ||
				((w & CONN_WANT_WRITE) && (s->io & CAN_WRITE))))
			break;
	}
	if (!w) {
		loop_close(l, s);
		return;
	}
	if (l->edge) {
		if (((w & CONN_WANT_READ) && (s->io & CAN_READ)) ||
		    ((w & CONN_WANT_WRITE) && (s->io & CAN_WRITE)))
			loop_pend(l, s);
		return;
	}
	/* Level-triggered: the poller reports readability again, so forget
	 * it; writability is assumed until a send comes up short. */
	s->io &= ~CAN_READ;
	ret = loop_interest(l, s, w);
	if (ret) {
		conn_fail(c, ret);
		loop_close(l, s);
	}
}

/* Stop watching the listener while accepting is paused (serve.h says
 * why: the limit, or a back-off after running out of descriptors). */
static void loop_pause(struct loop *l)
{
	loop_listen_set(l, false);
}

static void loop_add_conn(struct loop *l, int fd)
{
	struct ready_conn *s;
	int ret;

	if (l->fd_limit && fd >= l->fd_limit) {
		/* select cannot hold it (FD_SET would write out of bounds). */
		close(fd);
		l->sv.st.refused_fd++;
		return;
	}
	s = (struct ready_conn *)serve_open(&l->sv);
	if (!s) {
		close(fd);
		return;
	}
	s->fd = fd;
	s->io = CAN_WRITE;
	ret = l->p->ops->add(l->p, fd, pool_handle(&l->sv.pool, &s->slot),
			     POLLER_IN);
	l->sv.st.ctls++;
	if (ret) {
		close(fd);
		pool_free(&l->sv.pool, &s->slot);
		l->sv.st.accept_errors++;
		return;
	}
	if (!l->edge)
		s->io |= WATCH_IN;
	serve_opened(&l->sv);
}

static void loop_accept(struct loop *l)
{
	int i, fd;

	l->accept_more = false;
	for (i = 0; i < LOOP_ACCEPTS; i++) {
		/* Full: leave the rest in the backlog until a slot frees. */
		if (serve_full(&l->sv)) {
			loop_pause(l);
			return;
		}
		fd = net_accept(l->sv.lfd);
		l->sv.st.accept_calls++;
		if (fd >= 0) {
			loop_add_conn(l, fd);
			continue;
		}
		if (fd == -EAGAIN)
			return;
		if (!serve_accept_failed(&l->sv, fd)) {
			loop_pause(l);
			return;
		}
	}
	/* Budget spent with connections maybe still queued: come back after
	 * serving the others (edge-triggered will not report them again). */
	if (l->edge)
		l->accept_more = true;
}

static void loop_event(struct loop *l, const struct poller_event *e)
{
	struct ready_conn *s;

	if (e->tag == LOOP_TAG_LISTENER) {
		if (l->sv.lstate == SERVE_LISTEN_ON)
			loop_accept(l);
		return;
	}
	s = (struct ready_conn *)pool_lookup(&l->sv.pool, e->tag);
	if (!s) {
		l->sv.st.stale++;
		return;
	}
	if (e->events & (POLLER_IN | POLLER_ERR))
		s->io |= CAN_READ;
	if (e->events & POLLER_HUP)
		s->io |= PEER_HUP;
	if (e->events & (POLLER_OUT | POLLER_ERR))
		s->io |= CAN_WRITE;
	/* A queued connection is served from the queue, so that it is never
	 * closed while linked into it. */
	if (!(s->io & PENDING))
		loop_service(l, s);
}

static void loop_run_pending(struct loop *l)
{
	uint32_t idx = l->pend_head;
	struct ready_conn *s;

	l->pend_head = POOL_NONE;
	while (idx != POOL_NONE) {
		s = loop_conn_at(l, idx);
		idx = s->slot.link;
		s->io &= ~PENDING;
		loop_service(l, s);
	}
}

static int loop_timeout(struct loop *l, int64_t now)
{
	if (l->pend_head != POOL_NONE || l->accept_more)
		return 0;
	return serve_timeout(&l->sv, now);
}

static void loop_timers(struct loop *l)
{
	if (serve_timers(&l->sv)) {
		loop_listen_set(l, true);
		l->accept_more = true;
	}
}

/* Serve until a stop signal; returns 0, or -errno if the poller failed. */
static int loop_serve(struct loop *l)
{
	int n, i;

	for (;;) {
		n = l->p->ops->wait(l->p, l->ev, LOOP_EVENTS,
				    loop_timeout(l, clock_ms()));
		l->sv.st.loops++;
		l->sv.st.waits++;
		if (n == -EINTR)
			l->sv.st.eintr++;
		else if (n < 0)
			return n;
		for (i = 0; i < n; i++) {
			if (l->ev[i].tag == LOOP_TAG_SIGNAL) {
				if (serve_signals(&l->sv))
					return 0;
				continue;
			}
			l->sv.st.wait_events++;
			loop_event(l, &l->ev[i]);
		}
		loop_run_pending(l);
		loop_timers(l);
		if (l->accept_more && l->sv.lstate == SERVE_LISTEN_ON)
			loop_accept(l);
	}
}

/* Start-up warnings, printed once the listener exists so that a failure
 * to listen stays a single line. */
static void loop_warn(const struct loop *l, const struct ready_config *cfg)
{
	const struct team_member *tm = l->sv.tm;

	serve_warn_nofile(&l->sv, tm->nofile, cfg->o.max_conns, tm->max_total);
	if (l->fd_limit &&
	    tm->max_total + SERVE_FD_RESERVE > (unsigned)l->fd_limit)
		fprintf(stderr,
			"%s: warning: select watches descriptors below %d "
			"only: connections beyond about %d are refused\n",
			l->sv.prog, l->fd_limit,
			l->fd_limit - SERVE_FD_RESERVE);
}

/* The poller, watching the listener and the signal or control pipe: 0,
 * or -errno after one line. */
static int loop_poller(struct loop *l, const struct ready_config *cfg)
{
	const char *prog = l->sv.prog;
	int ret;

	ret = cfg->ops->create(&l->p, (unsigned)l->sv.tm->nofile,
			       cfg->edge ? POLLER_EDGE : 0);
	if (ret) {
		fprintf(stderr, "%s: cannot create the %s poller: %s\n", prog,
			cfg->ops->name, strerror(-ret));
		return ret;
	}
	ret = l->p->ops->add(l->p, l->sv.lfd, LOOP_TAG_LISTENER, POLLER_IN);
	if (!ret)
		ret =
		    l->p->ops->add(l->p, l->sv.sfd, LOOP_TAG_SIGNAL, POLLER_IN);
	if (ret) {
		fprintf(stderr, "%s: cannot watch the listener: %s\n", prog,
			strerror(-ret));
		l->p->ops->destroy(l->p);
	}
	return ret;
}

/* The start-up warnings and the one line with the configuration. */
static void loop_announce(const struct loop *l, const struct ready_config *cfg)
{
	const struct team_member *tm = l->sv.tm;
	char team[128];

	loop_warn(l, cfg);
	team_describe(tm, team, sizeof(team));
	fprintf(stderr,
		"%s: backend=%s trigger=%s max-conns=%u buf-size=%u "
		"nofile=%lu%s%s\n",
		l->sv.prog, cfg->ops->name, cfg->edge ? "edge" : "level",
		tm->max_total, cfg->o.buf_size, tm->nofile,
		cfg->o.stats ? " stats=1s" : "", team);
}

/* Stop accepting, then close every connection. */
static void loop_stop(struct loop *l)
{
	struct ready_conn *s;
	uint32_t i;

	l->sv.lstate = SERVE_LISTEN_OFF;
	l->p->ops->del(l->p, l->sv.lfd);
	close(l->sv.lfd);
	l->sv.lfd = -1;
	for (i = 0; i < l->sv.pool.cap; i++) {
		s = loop_conn_at(l, i);
		if (s->slot.gen)
			loop_close(l, s);
	}
}

/* One loop of the team (common/team.h): the whole server with --threads 1. */
static int ready_member(void *arg, struct team_member *tm)
{
	const struct ready_config *cfg = arg;
	struct loop *l;
	int ret, rc = 1;

	l = serve_member_new(tm, sizeof(*l));
	if (!l)
		return 1;
	l->edge = cfg->edge;
	l->pend_head = POOL_NONE;
	l->fd_limit = cfg->ops->fd_limit;
	if (serve_member_init(&l->sv, tm, &cfg->o, sizeof(struct ready_conn)))
		goto err_member;
	if (loop_poller(l, cfg))
		goto err_poller;

	if (team_ready(tm, 0)) {
		/* Another loop failed to set up: stop before serving. */
		rc = 0;
		goto stop;
	}
	if (!tm->quiet)
		loop_announce(l, cfg);
	ret = loop_serve(l);
	if (ret)
		fprintf(stderr, "%s: %s wait failed: %s\n", tm->prog,
			cfg->ops->name, strerror(-ret));
	else
		rc = 0;
stop:
	loop_stop(l);
	serve_member_end(&l->sv);
	l->p->ops->destroy(l->p);
	serve_member_fini(&l->sv);
	alloc_free(l);
	return rc;

err_poller:
	serve_member_fini(&l->sv);
	alloc_free(l);
	team_ready(tm, -EINVAL);
	return 1;
err_member:
	alloc_free(l);
	team_ready(tm, -EINVAL);
	return 1;
}

int ready_run(const struct ready_config *cfg, const char *prog)
{
	return team_run(&cfg->o, prog, ready_member, (void *)cfg);
}
