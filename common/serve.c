// SPDX-License-Identifier: MIT
/*
 * serve.c - accounting, accept policy and timers shared by both drivers.
 *
 * Pure bookkeeping apart from the stats and warning lines it prints; the
 * drivers call it at the same points (open, close, accept failure, once
 * per loop iteration for the timers).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "serve.h"
#include "team.h"

void serve_init(struct serve *sv, const char *prog, bool stats_1s)
{
	memset(sv, 0, sizeof(*sv));
	sv->prog = prog;
	sv->lstate = SERVE_LISTEN_ON;
	if (stats_1s)
		sv->next_stats = clock_ms() + SERVE_STATS_MS;
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

bool serve_timers(struct serve *sv, int64_t now)
{
	bool resume = false;

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

void serve_print_stats(const struct serve *sv)
{
	struct stats_when w = { .scope = STATS_BOTH };
	char line[2048];

	if (sv->tm) {
		team_publish(sv->tm, &sv->st);
		return;
	}
	stats_format(&sv->st, &w, line, sizeof(line));
	fputs(line, stderr);
	fflush(stderr);
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
