/* SPDX-License-Identifier: MIT */
/*
 * team.h - N event loops, one per thread, built the same way for both
 * drivers (--threads N, --cpus LIST).
 *
 * Each loop (a "member") is the driver's ordinary single-threaded loop with
 * its own listener (SO_REUSEPORT group, see net_listen_group), its own pool,
 * buffers and poller or ring: nothing mutable is shared on the hot path.
 * The main thread owns the signals: it forwards SIGINT/SIGTERM and SIGUSR1
 * to every member over a pipe (the same bytes as the self-pipe, so a loop
 * reads its control pipe exactly as it reads sig.c's pipe), sums the
 * members' counters and prints the one stats line.
 *
 * With --threads 1 there is no extra thread: the member runs on the main
 * thread with the listener of net_listen and sig.c's pipe, exactly as the
 * single-threaded server always did.
 */
#ifndef ECHO_TEAM_H
#define ECHO_TEAM_H

#include <pthread.h>
#include <stdbool.h>

#include "net.h"
#include "opts.h"
#include "serve.h"
#include "stats.h"

/* The listen backlog of every listener: at most this many connections
 * (one more, as Linux counts) wait to be accepted. */
#define TEAM_BACKLOG 4096

struct team;

struct team_member {
	struct team *team;
	const char *prog;
	unsigned id; /* 0..threads-1 */
	int cpu; /* pinned to this CPU, or -1 */
	int lfd; /* this loop's listener; the member closes it */
	int ctl; /* read end: 's' stop, 'u' stats (sig_drain reads it) */
	int ctl_wr; /* write end, main thread side (-1 with one thread) */
	const char *name; /* the bound "HOST:PORT" */
	unsigned max_conns; /* this loop's share of --max-conns */
	unsigned max_total; /* --max-conns as fitted to RLIMIT_NOFILE */
	unsigned long nofile; /* RLIMIT_NOFILE in force */
	bool quiet; /* not member 0: skip the start-up description lines */
	int rc; /* the member's return: 0, or 1 after a runtime failure */
	struct stats snap; /* last counters published */
	bool closing; /* team_closing: the next publish is the last */
	pthread_t th;
};

/*
 * team_fn - run one member: set up (printing one line and calling
 * team_ready(tm, -errno) on failure), call team_ready(tm, 0), serve until
 * told to stop, close everything, publish the final counters with
 * team_publish, and return 0 (clean stop) or 1 (runtime failure).
 */
typedef int (*team_fn)(void *cfg, struct team_member *tm);

/*
 * team_run - listen on o->host:o->port, start o->threads members running
 * fn(cfg, member) and print "listening on HOST:PORT" once all are ready;
 * on SIGINT/SIGTERM stop them all and print the summed counters. Returns
 * the process exit code: 0 after a clean stop, 1 after a failure (one
 * line on stderr names it).
 */
int team_run(const struct opts *o, const char *prog, team_fn fn, void *cfg);

/*
 * team_ready - a member's set-up is over: err 0 (ready) or -errno (it
 * printed why and will return 1). Waits until every member has reported.
 * Returns 0 if all are ready: the member serves (the "listening on" line
 * is printed once, here with one thread, else by the main thread).
 * Returns -ECANCELED if any failed: the member tears down without a word,
 * so that the failure stays one line.
 */
int team_ready(struct team_member *tm, int err);

/* team_publish - hand a member's counters to the main thread, which sums
 * them into the stats line. With one thread, print the line directly. */
void team_publish(struct team_member *tm, const struct stats *st);

/* team_closing - the member stops: its next team_publish hands over its
 * last counters (with one thread, printed as the final line). */
void team_closing(struct team_member *tm);

/* team_describe - " threads=N cpus=LIST", or "" for one unpinned thread:
 * appended to a driver's start-up description line. */
void team_describe(const struct team_member *tm, char *buf, size_t len);

#endif
