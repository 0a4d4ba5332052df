// SPDX-License-Identifier: MIT
/*
 * test_chaos.c - destructive faults: `test_chaos FAULTINJ_SO RULES --
 * SERVER_CMD...` runs the server under the fault injector with RULES
 * (connection resets, ENOMEM, EMFILE...) while many short connections
 * echo. A connection may be closed early, but only cleanly (EOF or reset,
 * every byte before it right); the server must survive, go idle without
 * spinning, give back every descriptor, stop on SIGTERM with status 0,
 * and every rule must have fired. Exits 0, 1 on failure, 77 to skip.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define CH_CONNS 600 /* connections in the main run */
#define CH_WARM 20 /* connections before the descriptor baseline */
#define CH_PARALLEL 16 /* open at once */
#define CH_SMALL (4u << 10) /* most connections echo up to this */
#define CH_LARGE (256u << 10) /* one in four up to this */
#define CH_STALL_MS 10000 /* a connection with no progress this long hangs */
#define CH_IDLE_NS (100 * 1000 * 1000LL) /* CPU allowed in one idle second */
#define CH_RULES_MAX 32

#define CHECK(cond, ...)                                       \
	do {                                                   \
		if (!(cond))                                   \
			h_fail("test_chaos", 15, __VA_ARGS__); \
	} while (0)

/* How one connection ended. */
enum ch_end {
	CH_RUNNING,
	CH_EXACT, /* every byte echoed */
	CH_EOF, /* closed early by the server: EOF */
	CH_RST, /* closed early by the server: reset */
};

struct ch_conn {
	int fd;
	struct h_rng tx, rx;
	size_t len, sent, rcvd;
	bool shut_wr; /* half-close after the last byte, expect EOF */
	bool shut;
	int64_t last; /* h_now_ms() of the last progress */
	uint8_t out[16384];
	size_t off, n; /* unsent part of out */
};

struct ch_run {
	unsigned port;
	struct h_rng pick;
	int started, done;
	int ends[4]; /* by enum ch_end */
	uint64_t bytes; /* echoed bytes verified */
	struct ch_conn c[CH_PARALLEL];
};

static struct h_srv ch_srv;
static char ch_out[] = "/tmp/faultinj-chaos.XXXXXX"; /* FAULTINJ_OUT */

static void ch_cleanup(void)
{
	h_srv_cleanup_all();
	unlink(ch_out);
}

static void ch_start_conn(struct ch_run *r, struct ch_conn *c)
{
	uint64_t seed = h_rng_next(&r->pick);
	size_t max = h_rng_below(&r->pick, 4) ? CH_SMALL : CH_LARGE;

	memset(c, 0, sizeof(*c));
	c->fd = h_connect("127.0.0.1", r->port, 0, 0, true);
	CHECK(c->fd >= 0, "connect: %s", h_err_str(c->fd));
	h_rng_seed(&c->tx, seed);
	h_rng_seed(&c->rx, seed);
	c->len = 1 + (size_t)h_rng_below(&r->pick, max);
	c->shut_wr = h_rng_below(&r->pick, 2);
	c->last = h_now_ms();
	r->started++;
}

static void ch_end_conn(struct ch_run *r, struct ch_conn *c, enum ch_end e)
{
	close(c->fd);
	c->fd = -1;
	r->ends[e]++;
	r->done++;
}

/* Send what the socket takes. Returns CH_RUNNING, or how it ended. */
static enum ch_end ch_send(struct ch_conn *c)
{
	ssize_t n;

	while (c->sent < c->len) {
		if (c->off == c->n) {
			c->n = c->len - c->sent;
			if (c->n > sizeof(c->out))
				c->n = sizeof(c->out);
			h_rng_fill(&c->tx, c->out, c->n);
			c->off = 0;
		}
		n = send(c->fd, c->out + c->off, c->n - c->off,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return CH_RUNNING;
		/* The server closed: its echo so far is checked on recv. */
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return CH_RST;
		CHECK(n > 0, "send: %s", strerror(errno));
		c->off += (size_t)n;
		c->sent += (size_t)n;
		c->last = h_now_ms();
	}
	if (c->shut_wr && !c->shut) {
		c->shut = true;
		if (shutdown(c->fd, SHUT_WR) < 0)
			return CH_RST;
	}
	return CH_RUNNING;
}

/* Take and verify what arrived. Returns CH_RUNNING, or how it ended. */
static enum ch_end ch_recv(struct ch_conn *c)
{
	uint8_t in[65536];
	ssize_t n, bad;

	for (;;) {
		n = recv(c->fd, in, sizeof(in), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return CH_RUNNING;
		if (n < 0) {
			CHECK(errno == ECONNRESET,
			      "recv after %zu of %zu bytes: expected data, "
			      "EOF or a reset, got %s",
			      c->rcvd, c->len, strerror(errno));
			return c->rcvd == c->len ? CH_EXACT : CH_RST;
		}
		if (n == 0)
			return c->rcvd == c->len ? CH_EXACT : CH_EOF;
		CHECK(c->rcvd + (size_t)n <= c->len,
		      "echo: %zu bytes back for %zu sent", c->rcvd + (size_t)n,
		      c->len);
		bad = h_rng_check(&c->rx, in, (size_t)n);
		CHECK(bad < 0, "echo: wrong byte at offset %zu of %zu",
		      c->rcvd + (size_t)bad, c->len);
		c->rcvd += (size_t)n;
		c->last = h_now_ms();
		/* Without a half-close the server never ends it: we do. */
		if (c->rcvd == c->len && !c->shut_wr)
			return CH_EXACT;
	}
}

/* Run n connections, CH_PARALLEL at a time, to their ends. */
static void ch_run(struct ch_run *r, int n)
{
	struct pollfd pf[CH_PARALLEL];
	int i, target = r->done + n, running;
	enum ch_end e;

	for (i = 0; i < CH_PARALLEL; i++)
		r->c[i].fd = -1;
	while (r->done < target) {
		running = 0;
		for (i = 0; i < CH_PARALLEL; i++) {
			struct ch_conn *c = &r->c[i];

			if (c->fd < 0 && r->started < target)
				ch_start_conn(r, c);
			pf[i].fd = c->fd;
			pf[i].events = POLLIN;
			if (c->fd >= 0 && c->sent < c->len)
				pf[i].events |= POLLOUT;
			running += c->fd >= 0;
		}
		CHECK(running > 0, "no connection running, %d of %d done",
		      r->done, target);
		poll(pf, CH_PARALLEL, 100);
		for (i = 0; i < CH_PARALLEL; i++) {
			struct ch_conn *c = &r->c[i];

			if (c->fd < 0)
				continue;
			e = ch_recv(c);
			if (e == CH_RUNNING)
				e = ch_send(c);
			/* A failed send: the reset or EOF is in the
			 * receive queue, after what was echoed. */
			if (e == CH_RST && c->sent < c->len)
				e = ch_recv(c) == CH_EOF ? CH_EOF : CH_RST;
			if (e != CH_RUNNING) {
				r->bytes += c->rcvd;
				ch_end_conn(r, c, e);
				continue;
			}
			CHECK(h_now_ms() - c->last < CH_STALL_MS,
			      "connection stalled: %zu of %zu bytes sent, "
			      "%zu echoed, %s, no progress for %d ms",
			      c->sent, c->len, c->rcvd,
			      c->shut ? "half-closed" : "open", CH_STALL_MS);
		}
	}
}

static long long ch_stat_wait(const char *name, long long want, int ms)
{
	int64_t deadline = h_now_ms() + ms;
	long long v;

	for (;;) {
		v = h_srv_stat_now(&ch_srv, name);
		if (v == want || h_now_ms() >= deadline)
			return v;
		h_sleep_ms(50);
	}
}

/* Every rule in rules must have injected a fault: sum the counts the
 * server appended to path at exit. */
static void ch_check_counts(const char *path, const char *rules)
{
	char list[1024], line[512], *rule, *save;
	unsigned long injected, calls;
	FILE *f = fopen(path, "r");

	CHECK(f, "FAULTINJ_OUT %s: %s (did the server exit cleanly?)", path,
	      strerror(errno));
	snprintf(list, sizeof(list), "%s", rules);
	for (rule = strtok_r(list, ",", &save); rule;
	     rule = strtok_r(NULL, ",", &save)) {
		unsigned long sum = 0, seen = 0;
		char name[128];

		rewind(f);
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line,
				   "faultinj: pid=%*d rule=%127s calls=%lu "
				   "injected=%lu",
				   name, &calls, &injected) == 3 &&
			    !strcmp(name, rule)) {
				sum += injected;
				seen += calls;
			}
		}
		printf("  %-32s %8lu calls %6lu faults\n", rule, seen, sum);
		CHECK(sum > 0,
		      "rule %s never fired: this run proved nothing "
		      "about it",
		      rule);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	static struct ch_run run;
	char env_pre[512], env_rules[512], env_out[64], last[512];
	const char *seed = getenv("FAULTINJ_SEED");
	const char *asan_opts = getenv("ASAN_OPTIONS");
	char env_seed[64], env_asan[512];
	struct h_start st = { .args = (const char *const[]){ "--port", "0",
							     NULL } };
	long long accepted, closed, active, t0, cpu_ns;
	int base, n, fd, asan;
	int64_t ms;

	if (argc < 5 || strcmp(argv[3], "--")) {
		fprintf(stderr,
			"usage: test_chaos FAULTINJ_SO RULES -- SERVER...\n");
		return 2;
	}
	fd = mkstemp(ch_out);
	CHECK(fd >= 0, "mkstemp: %s", strerror(errno));
	close(fd);
	atexit(ch_cleanup);
	snprintf(env_pre, sizeof(env_pre), "LD_PRELOAD=%s", argv[1]);
	snprintf(env_rules, sizeof(env_rules), "FAULTINJ=%s", argv[2]);
	snprintf(env_out, sizeof(env_out), "FAULTINJ_OUT=%s", ch_out);
	snprintf(env_seed, sizeof(env_seed), "FAULTINJ_SEED=%s",
		 seed ? seed : "1");
	/* Under ASan the runtime wants to be the first library loaded; the
	 * preload comes first and forwards to its interceptors. */
	snprintf(env_asan, sizeof(env_asan),
		 "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
		 asan_opts ? asan_opts : "", asan_opts ? ":" : "");
	st.env = (const char *const[]){ env_pre,  env_rules, env_out,
					env_seed, env_asan,  NULL };
	h_nofile_max();
	signal(SIGPIPE, SIG_IGN);

	n = h_srv_start(&ch_srv, argv + 4, &st);
	CHECK(n == 0, "server start: %s", h_err_str(n));
	asan = h_proc_asan(ch_srv.pid);
	run.port = ch_srv.port;
	h_rng_seed(&run.pick, 42);

	/* Warm up, so that the baseline holds whatever is opened lazily. */
	ch_run(&run, CH_WARM);
	active = ch_stat_wait("active", 0, 3000);
	CHECK(active == 0, "warm-up: expected active == 0, got %lld", active);
	base = h_proc_fds(ch_srv.pid);

	ms = h_now_ms();
	ch_run(&run, CH_CONNS);
	ms = h_now_ms() - ms;
	printf("%d connections in %lld ms: %d exact, %d closed early "
	       "(%d EOF, %d reset); %llu bytes verified\n",
	       run.done, (long long)ms, run.ends[CH_EXACT],
	       run.ends[CH_EOF] + run.ends[CH_RST], run.ends[CH_EOF],
	       run.ends[CH_RST], (unsigned long long)run.bytes);
	CHECK(h_srv_alive(&ch_srv), "expected the server alive");
	CHECK(run.ends[CH_EXACT] >= run.done / 4,
	      "expected at least a quarter of the connections echoed "
	      "exactly, got %d of %d",
	      run.ends[CH_EXACT], run.done);
	CHECK(run.ends[CH_EOF] + run.ends[CH_RST] > 0,
	      "expected some connections closed early by the faults, none "
	      "were");

	/* Once idle: every connection closed, no spinning, no leak. */
	active = ch_stat_wait("active", 0, 3000);
	accepted = h_srv_stat(&ch_srv, "accepted");
	closed = h_srv_stat(&ch_srv, "closed");
	CHECK(active == 0 && accepted == closed,
	      "idle: expected active 0 and closed == accepted, got active "
	      "%lld, accepted %lld, closed %lld",
	      active, accepted, closed);
	/* Server CPU from schedstat (ns, every thread), not 10 ms ticks. */
	t0 = h_proc_cpu_ns(ch_srv.pid);
	h_sleep_ms(1000);
	cpu_ns = h_proc_cpu_ns(ch_srv.pid) - t0;
	printf("idle: %lld ns of CPU in 1 s\n", cpu_ns);
	CHECK(t0 >= 0 && cpu_ns < CH_IDLE_NS,
	      "idle: expected under %lld ns of CPU in 1 s (no spinning), got "
	      "%lld",
	      CH_IDLE_NS, cpu_ns);
	n = h_proc_fds_wait(ch_srv.pid, base, 1000);
	CHECK(n == base, "idle: expected the fd count back to %d, got %d", base,
	      n);

	/* A clean stop: SIGTERM, status 0, the stats line last. */
	n = h_srv_stop(&ch_srv, SIGTERM, 5000, &ms);
	CHECK(n == 0, "SIGTERM: expected an exit, still running after 5 s");
	CHECK(WIFEXITED(ch_srv.status) && WEXITSTATUS(ch_srv.status) == 0,
	      "SIGTERM: expected exit status 0, got 0x%x",
	      (unsigned)ch_srv.status);
	CHECK(ms <= (asan ? 3000 : 1000), "SIGTERM: exit took %lld ms",
	      (long long)ms);
	h_last_line(ch_srv.err, last, sizeof(last));
	CHECK(!strncmp(last, "stats:", 6),
	      "expected the last stderr line to be the stats line, got '%s'",
	      last);
	printf("%s\n", last);
	ch_check_counts(ch_out, argv[2]);
	return 0;
}
