// SPDX-License-Identifier: MIT
/*
 * team.c - one event loop per thread, started, signalled and summed the same
 * way for both drivers.
 *
 * The main thread listens (one listener, or a SO_REUSEPORT group), starts
 * the members, waits for each to say it is ready, prints "listening on",
 * then sleeps in poll() on the signal pipe and on a pipe the members write
 * when they end. It is the only thread that takes signals: the members
 * block them and get 's' or 'u' on their own control pipe instead. The
 * counters cross threads only under the team mutex, when the main thread
 * asks for them (SIGUSR1, --stats) and when a member ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "sig.h"
#include "team.h"

#define TEAM_FDS_PER_MEMBER 6 /* listener, control pipe, poller or ring... */
#define TEAM_REPLY_MS 1000 /* how long to wait for counters from a loop */

struct team {
	const struct opts *o;
	team_fn fn;
	void *cfg;
	unsigned n;
	struct team_member *m;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned nready, nfailed; /* set-up reports */
	int go; /* 0 until all reported; then 1 serve, -1 tear down */
	unsigned round; /* counters requested; members answer in seen[] */
	unsigned *seen;
	bool *done; /* member returned */
	int done_pipe[2]; /* a member ended: wakes the main thread */
	uint64_t eintr; /* the main thread's own interrupted waits */
	struct stats_meter meter; /* uptime, and the previous line for rates */
};

static void team_sum(const struct team *t, struct stats *sum)
{
	unsigned i;

	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < t->n; i++) {
		const struct stats *s = &t->m[i].snap;

#define TEAM_ADD(name, flags, help) sum->name += s->name;
		STATS_COUNTERS(TEAM_ADD)
#undef TEAM_ADD
	}
	/* A sum of peaks bounds the peak from above; it is exact when the
	 * loops peaked together, as they do under an even load. */
	sum->eintr += t->eintr;
	/* A bound per connection: the largest of the loops', not their sum. */
	sum->held_max = 0;
	for (i = 0; i < t->n; i++)
		if (t->m[i].snap.held_max > sum->held_max)
			sum->held_max = t->m[i].snap.held_max;
}

/* The stats line on stderr; the one printed at exit is marked final. */
static void team_print(struct team *t, const struct stats *st, bool final)
{
	char line[2048];

	stats_meter_line(&t->meter, st, clock_ms(), final, line, sizeof(line));
	fputs(line, stderr);
	fflush(stderr);
}

void team_closing(struct team_member *tm)
{
	tm->closing = true;
}

void team_publish(struct team_member *tm, const struct stats *st)
{
	struct team *t = tm->team;

	if (t->n == 1) {
		team_print(t, st, tm->closing);
		return;
	}
	pthread_mutex_lock(&t->mu);
	tm->snap = *st;
	t->seen[tm->id] = t->round;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

int team_ready(struct team_member *tm, int err)
{
	struct team *t = tm->team;
	int go;

	if (t->n == 1) {
		if (err)
			return -ECANCELED;
		printf("listening on %s\n", tm->name);
		fflush(stdout);
		return 0;
	}
	pthread_mutex_lock(&t->mu);
	t->nready++;
	if (err)
		t->nfailed++;
	pthread_cond_broadcast(&t->cv);
	while (!t->go)
		pthread_cond_wait(&t->cv, &t->mu);
	go = t->go;
	pthread_mutex_unlock(&t->mu);
	return go > 0 ? 0 : -ECANCELED;
}

void team_describe(const struct team_member *tm, char *buf, size_t len)
{
	const struct opts *o = tm->team->o;
	size_t at = 0;
	unsigned i;

	buf[0] = '\0';
	if (o->threads > 1)
		at += (size_t)snprintf(buf, len, " threads=%u", o->threads);
	for (i = 0; i < o->ncpus && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%u",
				       i ? "," : " cpus=", o->cpus[i]);
}

static int team_pin(struct team_member *tm, bool thread)
{
	cpu_set_t set;
	int ret;

	if (tm->cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(tm->cpu, &set);
	if (thread)
		ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	else
		ret = sched_setaffinity(0, sizeof(set), &set) ? errno : 0;
	if (ret)
		fprintf(stderr, "%s: cannot pin loop %u to CPU %d: %s\n",
			tm->prog, tm->id, tm->cpu, strerror(ret));
	return -ret;
}

static void *team_thread(void *arg)
{
	struct team_member *tm = arg;
	struct team *t = tm->team;
	char c = 'x';
	ssize_t r;

	if (team_pin(tm, true)) {
		close(tm->lfd);
		team_ready(tm, -EINVAL);
		tm->rc = 1;
	} else {
		tm->rc = t->fn(t->cfg, tm);
	}
	pthread_mutex_lock(&t->mu);
	t->done[tm->id] = true;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	r = write(t->done_pipe[1], &c, 1);
	(void)r;
	return NULL;
}

/* "threads: accepted=A,B,... bytes_in=X,Y,...": how the kernel spread the
 * connections and the bytes over the loops. */
static void team_print_spread(const struct team *t)
{
	unsigned i;

	fputs("threads: accepted=", stderr);
	for (i = 0; i < t->n; i++)
		fprintf(stderr, "%s%llu", i ? "," : "",
			(unsigned long long)t->m[i].snap.accepted);
	fputs(" bytes_in=", stderr);
	for (i = 0; i < t->n; i++)
		fprintf(stderr, "%s%llu", i ? "," : "",
			(unsigned long long)t->m[i].snap.bytes_in);
	fputc('\n', stderr);
	fflush(stderr);
}

/* Tell every member still running: 's' stop, 'u' publish your counters. */
static void team_tell(struct team *t, char c)
{
	unsigned i;
	ssize_t r;

	for (i = 0; i < t->n; i++) {
		r = write(t->m[i].ctl_wr, &c, 1);
		(void)r;
	}
}

/* SIGUSR1 or --stats: collect every member's counters, print the sum. */
static void team_report(struct team *t)
{
	int64_t deadline = clock_ms() + TEAM_REPLY_MS;
	struct stats sum;
	struct timespec ts;
	unsigned i;

	pthread_mutex_lock(&t->mu);
	t->round++;
	pthread_mutex_unlock(&t->mu);
	team_tell(t, 'u');
	pthread_mutex_lock(&t->mu);
	for (;;) {
		for (i = 0; i < t->n; i++)
			if (t->seen[i] != t->round && !t->done[i])
				break;
		if (i == t->n || clock_ms() >= deadline)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&t->cv, &t->mu, &ts);
	}
	team_sum(t, &sum);
	pthread_mutex_unlock(&t->mu);
	team_print(t, &sum, false);
}

/* The main thread while the members serve: signals, --stats, a member
 * that ends on its own (a runtime failure: the others are stopped). */
static void team_watch(struct team *t, int sfd)
{
	struct pollfd pfd[2] = {
		{ .fd = sfd, .events = POLLIN },
		{ .fd = t->done_pipe[0], .events = POLLIN },
	};
	int64_t next = t->o->stats ? clock_ms() + SERVE_STATS_MS : 0, now;
	unsigned sigs;
	int timeout;

	for (;;) {
		timeout = -1;
		if (next) {
			now = clock_ms();
			timeout = next > now ? (int)(next - now) : 0;
		}
		if (poll(pfd, 2, timeout) < 0) {
			if (errno == EINTR)
				t->eintr++;
			continue;
		}
		if (pfd[1].revents)
			return;
		if (pfd[0].revents) {
			sigs = sig_drain(sfd);
			if (sigs & SIG_STOP)
				return;
			if (sigs & SIG_STATS)
				team_report(t);
		}
		if (next && clock_ms() >= next) {
			team_report(t);
			next = clock_ms() + SERVE_STATS_MS;
		}
	}
}

/* One member, on the calling thread: the single-threaded server. */
static int team_run_one(struct team *t, const char *prog)
{
	struct team_member *tm = &t->m[0];
	char name[NET_ADDRSTRLEN];
	int ret, rc;

	ret = net_listen(t->o->host, t->o->port, TEAM_BACKLOG, &tm->lfd, name);
	if (ret) {
		serve_listen_failed(prog, t->o, ret);
		return 1;
	}
	ret = sig_install();
	if (ret < 0) {
		fprintf(stderr, "%s: cannot set up signals: %s\n", prog,
			strerror(-ret));
		close(tm->lfd);
		return 1;
	}
	tm->ctl = ret;
	if (team_pin(tm, false)) {
		close(tm->lfd);
		sig_close();
		return 1;
	}
	tm->name = name;
	rc = t->fn(t->cfg, tm);
	sig_close();
	return rc;
}

static int team_start(struct team *t, const char *prog, int sfd,
		      const char *name)
{
	sigset_t block, old;
	struct stats sum;
	unsigned i, started = 0;
	int rc = 0, err;

	/* Members inherit a mask that keeps signals for the main thread. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (i = 0; i < t->n; i++) {
		err = pthread_create(&t->m[i].th, NULL, team_thread, &t->m[i]);
		if (err) {
			fprintf(stderr, "%s: cannot start thread %u: %s\n",
				prog, i, strerror(err));
			for (; i < t->n; i++)
				close(t->m[i].lfd);
			rc = 1;
			break;
		}
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	pthread_mutex_lock(&t->mu);
	while (t->nready < started)
		pthread_cond_wait(&t->cv, &t->mu);
	if (t->nfailed)
		rc = 1;
	t->go = rc ? -1 : 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);

	if (!rc) {
		printf("listening on %s\n", name);
		fflush(stdout);
		team_watch(t, sfd);
	}
	team_tell(t, 's');
	for (i = 0; i < started; i++) {
		pthread_join(t->m[i].th, NULL);
		if (t->m[i].rc)
			rc = 1;
	}
	if (!t->nfailed && started == t->n) {
		team_print_spread(t);
		team_sum(t, &sum);
		team_print(t, &sum, true);
	}
	return rc;
}

/* Several members, one thread each, on a SO_REUSEPORT listener group. */
static int team_run_many(struct team *t, const char *prog)
{
	char name[NET_ADDRSTRLEN];
	int *lfds, fds[2], sfd, ret, rc = 1;
	unsigned i, made = 0;

	t->seen = alloc_calloc(t->n, sizeof(*t->seen));
	t->done = alloc_calloc(t->n, sizeof(*t->done));
	lfds = alloc_calloc(t->n, sizeof(*lfds));
	if (!t->seen || !t->done || !lfds) {
		fprintf(stderr, "%s: out of memory\n", prog);
		goto out_free;
	}
	if (pipe2(t->done_pipe, O_NONBLOCK | O_CLOEXEC)) {
		fprintf(stderr, "%s: cannot create a pipe: %s\n", prog,
			strerror(errno));
		goto out_free;
	}
	for (; made < t->n; made++) {
		if (pipe2(fds, O_NONBLOCK | O_CLOEXEC)) {
			fprintf(stderr, "%s: cannot create a pipe: %s\n", prog,
				strerror(errno));
			goto out_pipes;
		}
		t->m[made].ctl = fds[0];
		t->m[made].ctl_wr = fds[1];
	}
	ret = net_listen_group(t->o->host, t->o->port, TEAM_BACKLOG, t->n, lfds,
			       name);
	if (ret) {
		serve_listen_failed(prog, t->o, ret);
		goto out_pipes;
	}
	for (i = 0; i < t->n; i++) {
		t->m[i].lfd = lfds[i];
		t->m[i].name = name;
	}
	sfd = sig_install();
	if (sfd < 0) {
		fprintf(stderr, "%s: cannot set up signals: %s\n", prog,
			strerror(-sfd));
		for (i = 0; i < t->n; i++)
			close(lfds[i]);
		goto out_pipes;
	}
	rc = team_start(t, prog, sfd, name);
	sig_close();
out_pipes:
	for (i = 0; i < made; i++) {
		close(t->m[i].ctl);
		close(t->m[i].ctl_wr);
	}
	close(t->done_pipe[0]);
	close(t->done_pipe[1]);
out_free:
	alloc_free(lfds);
	alloc_free(t->seen);
	alloc_free(t->done);
	return rc;
}

int team_run(const struct opts *o, const char *prog, team_fn fn, void *cfg)
{
	struct team t = { .o = o, .fn = fn, .cfg = cfg, .n = o->threads };
	unsigned long nofile;
	unsigned total, i;
	int rc;

	t.m = alloc_calloc(t.n, sizeof(*t.m));
	if (!t.m) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	pthread_mutex_init(&t.mu, NULL);
	pthread_cond_init(&t.cv, NULL);
	stats_meter_init(&t.meter, o->stats_scope, clock_ms());
	/* Fit --max-conns into RLIMIT_NOFILE once, then split it evenly: a
	 * loop's limit is its own (a connection hashed to a full loop waits
	 * in that loop's queue, as with nginx's per-worker limit). */
	total = net_fit_conns(o->max_conns,
			      SERVE_FD_RESERVE + TEAM_FDS_PER_MEMBER * t.n,
			      &nofile);
	if (total < t.n)
		total = t.n;
	for (i = 0; i < t.n; i++) {
		struct team_member *tm = &t.m[i];

		tm->team = &t;
		tm->prog = prog;
		tm->id = i;
		tm->cpu = o->ncpus ? o->cpus[i % o->ncpus] : -1;
		tm->lfd = tm->ctl = tm->ctl_wr = -1;
		tm->max_conns = total / t.n + (i < total % t.n ? 1 : 0);
		tm->max_total = total;
		tm->nofile = nofile;
		tm->quiet = i > 0;
	}
	rc = t.n == 1 ? team_run_one(&t, prog) : team_run_many(&t, prog);
	pthread_cond_destroy(&t.cv);
	pthread_mutex_destroy(&t.mu);
	alloc_free(t.m);
	return rc;
}
