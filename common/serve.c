// SPDX-License-Identifier: MIT
/*
 * serve.c - the driver skeleton shared by both drivers: member set-up and
 * teardown, accounting, the pause at the limit, accept policy, timers,
 * signals and the stats line.
 *
 * Bookkeeping apart from the lines it prints, the control pipe it reads
 * and the listener it closes; the drivers call it at the same points
 * (open, close, accept failure, once per loop iteration for the timers).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "serve.h"
#include "sig.h"
#include "team.h"

void serve_init(struct serve *sv, const char *prog, bool stats_1s)
{
	memset(sv, 0, sizeof(*sv));
	sv->prog = prog;
	sv->lstate = SERVE_LISTEN_ON;
	if (stats_1s)
		sv->next_stats = clock_ms() + SERVE_STATS_MS;
}

void *serve_member_new(struct team_member *tm, size_t size)
{
	void *l = alloc_calloc(1, size);

	if (!l) {
		fprintf(stderr, "%s: out of memory\n", tm->prog);
		close(tm->lfd);
		team_ready(tm, -ENOMEM);
	}
	return l;
}

int serve_member_init(struct serve *sv, struct team_member *tm,
		      const struct opts *o, size_t conn_size)
{
	int ret;

	serve_init(sv, tm->prog, o->stats && o->threads == 1);
	sv->tm = tm;
	sv->lfd = tm->lfd;
	sv->sfd = tm->ctl;
	sv->max_conns = tm->max_conns;
	ret = pool_init(&sv->pool, sv->max_conns, conn_size);
	if (ret) {
		fprintf(stderr, "%s: cannot allocate %u connections: %s\n",
			sv->prog, sv->max_conns, strerror(-ret));
		goto err_listener;
	}
	ret = conn_env_init(&sv->env, o->buf_size, SERVE_BUF_KEEP);
	if (ret) {
		fprintf(stderr, "%s: cannot allocate buffers: %s\n", sv->prog,
			strerror(-ret));
		goto err_pool;
	}
	return 0;

err_pool:
	pool_fini(&sv->pool);
err_listener:
	close(sv->lfd);
	sv->lfd = -1;
	return ret;
}

void serve_member_fini(struct serve *sv)
{
	conn_env_fini(&sv->env);
	pool_fini(&sv->pool);
	if (sv->lfd >= 0)
		close(sv->lfd);
	sv->lfd = -1;
}

void serve_member_end(struct serve *sv)
{
	team_closing(sv->tm);
	serve_print_stats(sv);
}

bool serve_full(struct serve *sv)
{
	if (sv->pool.used < sv->max_conns)
		return false;
	serve_pause_full(sv);
	return true;
}

struct pool_slot *serve_open(struct serve *sv)
{
	struct pool_slot *s = pool_alloc(&sv->pool, &sv->env);

	if (!s)
		sv->st.accept_errors++;
	return s;
}

bool serve_close(struct serve *sv, struct pool_slot *s)
{
	serve_closed(sv, conn_error(&s->conn));
	pool_free(&sv->pool, s);
	if (sv->lstate != SERVE_LISTEN_FULL)
		return false;
	sv->lstate = SERVE_LISTEN_ON;
	return true;
}

bool serve_signals(struct serve *sv)
{
	unsigned sigs = sig_drain(sv->sfd);

	if (sigs & SIG_STATS)
		serve_print_stats(sv);
	return sigs & SIG_STOP;
}

void serve_opened(struct serve *sv)
{
	sv->st.accepted++;
	if (++sv->st.active > sv->st.peak)
		sv->st.peak = sv->st.active;
}

void serve_closed(struct serve *sv, int err)
{
	/* ENOTCONN: shutdown(2) of a socket the peer has reset meanwhile. */
	if (err == -ECONNRESET || err == -EPIPE || err == -ENOTCONN)
		sv->st.resets++;
	else if (err == -ENOMEM)
		sv->st.nomem++;
	else if (err)
		sv->st.conn_errors++;
	sv->st.closed++;
	sv->st.active--;
}

bool serve_accept_failed(struct serve *sv, int err)
{
	switch (err) {
	case -EINTR:
	case -ECONNABORTED:
	case -EPROTO:
	case -EPERM:
		/* This connection died in the queue; the next may not. */
		sv->st.accept_errors++;
		return true;
	case -EMFILE:
	case -ENFILE:
	case -ENOBUFS:
	case -ENOMEM:
		sv->st.emfile++;
		break;
	default:
		sv->st.accept_errors++;
		break;
	}
	sv->lstate = SERVE_LISTEN_BACKOFF;
	sv->retry_at = clock_ms() + SERVE_BACKOFF_MS;
	return false;
}

int serve_timeout(const struct serve *sv, int64_t now)
{
	int64_t t = -1, u;

	if (sv->lstate == SERVE_LISTEN_BACKOFF)
		t = sv->retry_at > now ? sv->retry_at - now : 0;
	if (sv->next_stats) {
		u = sv->next_stats > now ? sv->next_stats - now : 0;
		if (t < 0 || u < t)
			t = u;
	}
	return (int)t;
}

bool serve_timers(struct serve *sv)
{
	bool resume = false;
	int64_t now;

	/* Most iterations: no timer set, and no clock read. */
	if (sv->lstate != SERVE_LISTEN_BACKOFF && !sv->next_stats)
		return false;
	now = clock_ms();

	if (sv->lstate == SERVE_LISTEN_BACKOFF && now >= sv->retry_at) {
		sv->lstate = SERVE_LISTEN_ON;
		resume = true;
	}
	if (sv->next_stats && now >= sv->next_stats) {
		serve_print_stats(sv);
		sv->next_stats = now + SERVE_STATS_MS;
	}
	return resume;
}

void serve_listen_failed(const char *prog, const struct opts *o, int err)
{
	fprintf(stderr, "%s: cannot listen on %s:%u: %s\n", prog, o->host,
		o->port,
		err == -EADDRINUSE ? "address already in use" : strerror(-err));
}

void serve_print_stats(struct serve *sv)
{
	sv->st.bufs_live = sv->env.cache.live;
	if (sv->refresh)
		sv->refresh(sv);
	team_publish(sv->tm, &sv->st);
}

void serve_warn_nofile(const struct serve *sv, unsigned long nofile,
		       unsigned asked, unsigned got)
{
	if (got < asked)
		fprintf(stderr,
			"%s: warning: RLIMIT_NOFILE is %lu: --max-conns "
			"clamped from %u to %u (raise it with ulimit -n)\n",
			sv->prog, nofile, asked, got);
}
