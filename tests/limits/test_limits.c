/* SPDX-License-Identifier: MIT */
/*
 * test_limits.c - the limits suite: `test_limits SCENARIO -- SERVER_CMD...`.
 *
 * Scenarios at scale (10,000 connections, memory per idle connection,
 * 10,000 reset cycles, one flooder against 100 ping-pong clients), each
 * printing its figures on one "limits: row=... scenario=..." line. The
 * server is a black box, as in e2e; a skipped scenario exits 77.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "scenario.h"

#define LO4 "127.0.0.1"
#define T_ECHO 10000 /* ms for one echo: generous, only a hang hits it */
#define BATCH 500 /* connections in flight at once while opening */
#define SELECT_CONNS 1000 /* what fits below FD_SETSIZE (1024) */
#define IDLE_TARGET 1024 /* bytes per idle connection: the target */
#define P99_MS 20.0 /* ping-pong p99 under flood: the bound */

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static char **lim_cmd; /* the server command after "--" */
static char lim_row[64]; /* the row's name in the report lines */
static bool lim_select; /* it runs the select backend */
static bool lim_basic; /* it is uring-echo --mode basic */
static bool lim_multishot; /* it is uring-echo --mode multishot */
static struct h_srv lim_srv[4]; /* servers and generators of a scenario */
static int *lim_fds; /* client descriptors of a scenario */

/* An integer from the environment (the knobs that prove each check can
 * fail, see tests/limits/meson.build), or def. */
static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : def;
}

static double env_double(const char *name, double def)
{
	const char *v = getenv(name);

	return v && *v ? strtod(v, NULL) : def;
}

/* The row's name from the command line: the backend (with "-edge") for
 * ready-echo, "uring-" and the mode for uring-echo. LIMITS_ROW wins. */
static void row_name(char **cmd)
{
	const char *backend = "epoll", *mode = "multishot";
	bool uring = false, edge = false;

	for (int i = 0; cmd[i]; i++) {
		uring |= strstr(cmd[i], "uring-echo") != NULL;
		edge |= !strcmp(cmd[i], "--edge");
		if (!strcmp(cmd[i], "--backend") && cmd[i + 1])
			backend = cmd[i + 1];
		if (!strcmp(cmd[i], "--mode") && cmd[i + 1])
			mode = cmd[i + 1];
	}
	if (getenv("LIMITS_ROW"))
		snprintf(lim_row, sizeof(lim_row), "%s", getenv("LIMITS_ROW"));
	else if (uring)
		snprintf(lim_row, sizeof(lim_row), "uring-%s", mode);
	else
		snprintf(lim_row, sizeof(lim_row), "%s%s", backend,
			 edge ? "-edge" : "");
	lim_select = !uring && !strcmp(backend, "select");
	lim_basic = uring && !strcmp(mode, "basic");
	lim_multishot = uring && !strcmp(mode, "multishot");
}

/* The report line: "limits: row=NAME scenario=NAME " and the figures. */
static void report(const char *scenario, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report(const char *scenario, const char *fmt, ...)
{
	va_list ap;

	printf("limits: row=%s scenario=%s ", lim_row, scenario);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* --- the server --------------------------------------------------------- */

static struct h_srv *start(int i, const struct h_start *st)
{
	struct h_srv *s = &lim_srv[i];
	int rc = h_srv_start(s, lim_cmd, st);

	H_CHECK(rc == 0, "server start: expected a listening line, got %s",
		h_err_str(rc));
	return s;
}

/* True if text holds a sanitizer's report. */
static bool sanitizer_report(const char *text)
{
	return text &&
	       (strstr(text, "Sanitizer") || strstr(text, "runtime error:"));
}

/*
 * Stop s with SIGTERM: exit 0 within a second (3 s under a sanitizer, which
 * checks for leaks at exit), the stats line last, and no sanitizer report
 * anywhere on its stderr (CI runs with abort_on_error=1, so one would also
 * change the exit status).
 */
static void finish(struct h_srv *s)
{
	int lim = h_proc_asan(s->pid) ? 3000 : 1000;
	char last[512];
	int64_t ms = 0;
	int rc = h_srv_stop(s, SIGTERM, 5000, &ms);

	H_CHECK(rc == 0, "SIGTERM: expected an exit, still running after 5 s");
	H_CHECK(!sanitizer_report(s->err),
		"expected no sanitizer report on the server's stderr");
	H_CHECK(WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0,
		"SIGTERM: expected exit status 0, got 0x%x",
		(unsigned)s->status);
	H_CHECK(ms <= lim, "SIGTERM: expected exit within %d ms, took %lld ms",
		lim, (long long)ms);
	h_last_line(s->err, last, sizeof(last));
	H_CHECK(!strncmp(last, "stats:", 6),
		"expected the last stderr line to be the stats line, got '%s'",
		last);
}

/* Poll the counter name until it equals want or timeout_ms passes;
 * returns the last value seen (-1 if none). */
static long long stat_wait(struct h_srv *s, const char *name, long long want,
			   int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	long long v;

	for (;;) {
		v = h_srv_stat_now(s, name);
		if (v == want || h_now_ms() >= deadline)
			return v;
		h_sleep_ms(20);
	}
}

/* --- clients ------------------------------------------------------------ */

/* Open n non-blocking connections, BATCH at a time (the listen backlog
 * is shorter than n), and wait for each handshake. */
static void conn_many(unsigned port, int *fds, int n)
{
	for (int i = 0; i < n; i += BATCH) {
		int end = i + BATCH < n ? i + BATCH : n;

		for (int j = i; j < end; j++) {
			fds[j] = h_connect(LO4, port, 0, 0, true);
			H_CHECK(fds[j] >= 0, "connection %d of %d: %s", j, n,
				h_err_str(fds[j]));
		}
		for (int j = i; j < end; j++) {
			int rc = h_connected(fds[j], 5000);

			H_CHECK(rc == 0, "connection %d of %d: handshake: %s",
				j, n, h_err_str(rc));
		}
	}
}

/* One round trip on each of n connections, BATCH at a time, each with
 * its own tag; returns how many came back intact (all, or the test
 * fails). */
static int verify_all(int *fds, int n, uint64_t salt)
{
	int ok = 0;

	for (int i = 0; i < n; i += BATCH) {
		int end = i + BATCH < n ? i + BATCH : n;

		for (int j = i; j < end; j++) {
			int rc = h_send_tag(fds[j], (uint64_t)j * salt);

			H_CHECK(rc == 0, "conn %d of %d: send: %s", j, n,
				h_err_str(rc));
		}
		for (int j = i; j < end; j++) {
			int rc = h_recv_tag(fds[j], (uint64_t)j * salt, T_ECHO);

			H_CHECK(rc == 0,
				"conn %d of %d: expected its echo, got %s", j,
				n, h_err_str(rc));
			ok++;
		}
	}
	return ok;
}

/* Room for n client descriptors, freed by the teardown (a failed check
 * leaves the test through it). */
static int *fds_alloc(int n)
{
	free(lim_fds);
	lim_fds = calloc((size_t)n, sizeof(int));
	H_CHECK(lim_fds, "out of memory for %d descriptors", n);
	return lim_fds;
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* Connections for the 10k scenarios: 10,000, or what select can hold. */
static int big_n(void)
{
	return (int)env_long("LIMITS_CONNS", lim_select ? SELECT_CONNS : 10000);
}

/* A server for n connections: --max-conns and RLIMIT_NOFILE with room.
 * Skips if our own descriptor limit cannot hold n clients. */
static struct h_srv *start_big(int slot, int n, const char *const *env)
{
	static char maxc[2][16];
	static const char *args[2][5];
	struct h_start st = { .args = args[slot & 1], .env = env };

	if (h_nofile_max() < (unsigned long)n + 100)
		H_SKIP("RLIMIT_NOFILE hard limit %lu is below %d",
		       h_nofile_hard(), n + 100);
	snprintf(maxc[slot & 1], sizeof(maxc[0]), "%d", n + 100);
	args[slot & 1][0] = "--port";
	args[slot & 1][1] = "0";
	args[slot & 1][2] = "--max-conns";
	args[slot & 1][3] = maxc[slot & 1];
	st.nofile = (unsigned long)n + 400;
	return start(slot, &st);
}

/* --- 1. conns10k: 10,000 connections, each verified by a round trip ----- */

static void t_conns10k(void **state)
{
	int n = big_n(), *fds = fds_alloc(n);
	struct h_srv *s;
	long long active, peak, refused, closed_back;
	int base_fds, srv_fds, back_fds, verified;
	int64_t t0, t_conn, t_verify, t_close;

	s = start_big(0, n, NULL);
	base_fds = h_proc_fds(s->pid);
	t0 = h_now_ms();
	conn_many(s->port, fds, n);
	t_conn = h_now_ms() - t0;
	verified = verify_all(fds, n, 2654435761u);
	t_verify = h_now_ms() - t0;

	/* The server's own books agree: n open at once, none refused. */
	active = h_srv_stat_now(s, "active");
	peak = h_srv_stat(s, "peak");
	refused = h_srv_stat(s, "refused_fd");
	srv_fds = h_proc_fds(s->pid);
	H_CHECK(active == n, "expected active == %d, got %lld", n, active);
	H_CHECK(peak == n, "expected peak == %d, got %lld", n, peak);
	H_CHECK(refused == 0, "expected refused_fd == 0, got %lld", refused);

	t0 = h_now_ms();
	close_all(fds, n);
	closed_back = stat_wait(s, "active", 0, 2000);
	back_fds = h_proc_fds_wait(s->pid, base_fds, 2000);
	t_close = h_now_ms() - t0;
	report("conns10k",
	       "conns=%d verified=%d connect_ms=%lld time_ms=%lld "
	       "srv_fds=%d active=%lld peak=%lld close_ms=%lld%s",
	       n, verified, (long long)t_conn, (long long)t_verify, srv_fds,
	       active, peak, (long long)t_close,
	       lim_select ? " capped=FD_SETSIZE" : "");
	H_CHECK(closed_back == 0, "expected active == 0 within 2 s, got %lld",
		closed_back);
	H_CHECK(back_fds == base_fds,
		"expected the server's fds back to %d within 2 s, got %d",
		base_fds, back_fds);
	finish(s);
}

/* --- 2. idle_mem: bytes per idle connection ----------------------------- */

/* What /proc/PID/smaps_rollup says, in KiB. */
struct mem {
	long rss, pss, priv, anon;
};

static long rollup_field(const char *text, const char *name)
{
	const char *p = strstr(text, name);

	return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

static struct mem mem_of(pid_t pid)
{
	char path[64], text[4096];
	struct mem m = { -1, -1, -1, -1 };
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	H_CHECK(f, "cannot open %s: %s", path, strerror(errno));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	m.rss = rollup_field(text, "\nRss:");
	m.pss = rollup_field(text, "\nPss:");
	m.priv = rollup_field(text, "\nPrivate_Clean:") +
		 rollup_field(text, "\nPrivate_Dirty:");
	m.anon = rollup_field(text, "\nAnonymous:");
	H_CHECK(m.rss > 0 && m.pss > 0 && m.priv > 0 && m.anon > 0,
		"unexpected %s", path);
	return m;
}

/* KiB grown over n connections, in bytes per connection. */
static long per_conn(long kib_before, long kib_after, int n)
{
	return (kib_after - kib_before) * 1024 / n;
}

/*
 * Warm-up: 64 connections, 16 round trips each. That fills the chunk
 * cache of the readiness loop and touches every buffer of uring-echo's
 * provided-buffer pool (512 by default, taken in FIFO order), so what
 * grows afterwards belongs to the idle connections alone.
 */
static void warm_up(struct h_srv *s)
{
	int fds[64];

	conn_many(s->port, fds, 64);
	for (int r = 0; r < 16; r++)
		verify_all(fds, 64, 977u + (uint64_t)r);
	close_all(fds, 64);
	H_CHECK(stat_wait(s, "active", 0, 2000) == 0,
		"warm-up: expected active == 0");
	h_sleep_ms(100);
}

/*
 * The bound per row. The issue names epoll and uring-echo multishot for
 * the 1 KiB target; poll and select meet it too, since their arrays are
 * sized by the descriptor limit at start-up (poll: 20 bytes per fd,
 * touched as the array fills; select: fixed fd_sets). uring-echo basic
 * keeps a receive armed on every connection, into the connection's own
 * --buf-size ring (64 KiB of address space): malloc touches the first
 * page of each, so 4 KiB are resident per idle connection, plus the
 * allocator's bookkeeping; 5 KiB bounds that.
 */
static long idle_bound(void)
{
	return env_long("LIMITS_IDLE_MAX", lim_basic ? 5 * 1024 : IDLE_TARGET);
}

/*
 * Memory per idle connection is the server's own memory (heap and
 * mappings, from smaps_rollup) grown from a warm idle server to one with
 * n connections that never send, divided by n. The kernel's memory per
 * socket (socket and TCP state, epoll items, io_uring requests, some KiB
 * each) is not the server's RSS and is not counted here. The pool of
 * --max-conns slots is allocated and touched at start-up, so its cost is
 * reported apart: the start-up memory of this server against one with
 * --max-conns 100, divided by the difference in slots.
 *
 * The server runs with MALLOC_PERTURB_=0: meson sets a random one for
 * every test, and glibc then fills every allocation, which would make
 * basic mode's 64 KiB rings resident in full. We measure the server as it
 * runs in production.
 */
static void t_idle_mem(void **state)
{
	const char *const *env = ARGV("MALLOC_PERTURB_=0");
	int n = big_n(), *fds = fds_alloc(n);
	struct mem m0, m1, m2, small;
	struct h_srv *s, *s2;
	long long active;
	long bytes, bound = idle_bound(), slot, total;

	s = start_big(0, n, env);
	if (h_proc_asan(s->pid))
		H_SKIP("memory per connection under AddressSanitizer measures "
		       "its shadow and quarantine, not the server");
	warm_up(s);
	m0 = mem_of(s->pid);

	conn_many(s->port, fds, n);
	active = stat_wait(s, "active", n, 5000);
	H_CHECK(active == n, "expected active == %d, got %lld", n, active);
	h_sleep_ms(200);
	m1 = mem_of(s->pid);
	bytes = per_conn(m0.priv, m1.priv, n);

	/* They are live connections: each echoes (not measured above). */
	verify_all(fds, n, 40503u);
	m2 = mem_of(s->pid);
	close_all(fds, n);
	H_CHECK(stat_wait(s, "active", 0, 2000) == 0,
		"expected active == 0 after closing all");

	/* The preallocated slots, apart. */
	s2 = start_big(1, 0, env);
	warm_up(s2);
	small = mem_of(s2->pid);
	slot = (m0.rss - small.rss) * 1024 / n;

	/* A connection costs its share of the pool as well. */
	total = bytes + (slot > 0 ? slot : 0);
	report("idle_mem",
	       "conns=%d idle_bytes_per_conn=%ld prealloc_bytes_per_slot=%ld "
	       "total_bytes_per_conn=%ld rss_bytes_per_conn=%ld "
	       "pss_bytes_per_conn=%ld anon_bytes_per_conn=%ld "
	       "after_echo_bytes_per_conn=%ld rss_kib_before=%ld "
	       "rss_kib_idle=%ld bound=%ld%s",
	       n, bytes, slot, total, per_conn(m0.rss, m1.rss, n),
	       per_conn(m0.pss, m1.pss, n), per_conn(m0.anon, m1.anon, n),
	       per_conn(m0.priv, m2.priv, n), m0.rss, m1.rss, bound,
	       lim_select ? " capped=FD_SETSIZE" : "");
	H_CHECK(total <= bound,
		"expected at most %ld bytes per idle connection, measured %ld "
		"(%ld grown: %ld KiB private before, %ld KiB with %d idle; "
		"%ld for its slot)",
		bound, total, bytes, m0.priv, m1.priv, n, slot);
	finish(s2);
	finish(s);
}

/* --- 3. reset_cycles: connect, send, RST; back to idle within a second -- */

#define HELD 8 /* connections some cycles leave open for a while */

/*
 * One cycle: connect, send 1..64 bytes, then by i % 4: read the whole
 * echo and reset; reset at once (twice: racing the server's recv and
 * send); or leave it open and reset it HELD such cycles later, so the
 * server also sees resets of connections with echoes queued.
 */
static void reset_cycle(unsigned port, int i, int *held, struct h_rng *r)
{
	uint8_t out[64], in[64];
	size_t len = 1 + (size_t)h_rng_below(r, sizeof(out));
	int fd = h_connect(LO4, port, 0, 0, false), rc;

	H_CHECK(fd >= 0, "cycle %d: connect: %s", i, h_err_str(fd));
	h_rng_fill(r, out, len);
	rc = h_send_all(fd, out, len, 2000);
	H_CHECK(rc == 0, "cycle %d: send: %s", i, h_err_str(rc));
	switch (i % 4) {
	case 0:
		rc = h_recv_exact(fd, in, len, T_ECHO, NULL);
		H_CHECK(rc == 0 && !memcmp(in, out, len),
			"cycle %d: expected the echo before the reset, got %s",
			i, rc ? h_err_str(rc) : "wrong bytes");
		break;
	case 3:
		if (held[(i / 4) % HELD] >= 0)
			h_rst(held[(i / 4) % HELD]);
		held[(i / 4) % HELD] = fd;
		return;
	}
	h_rst(fd);
}

static void t_reset_cycles(void **state)
{
	int n = (int)env_long("LIMITS_CYCLES", 10000);
	int held[HELD], base_fds, fds = -1;
	struct h_start st = { .args = ARGV("--port", "0") };
	struct h_srv *s = start(0, &st);
	long long acc0, closed0, resets0, err0, active = -1, acc, closed;
	long long resets, errs;
	int64_t t0, t_end, back_ms, deadline;
	struct h_rng r;

	h_rng_seed(&r, 10000);
	for (int i = 0; i < HELD; i++)
		held[i] = -1;
	/* The idle baseline is the server as it started; a warm-up must
	 * come back to it (a leak there would otherwise hide in it). */
	base_fds = h_proc_fds(s->pid);
	for (int i = 0; i < 64; i++)
		reset_cycle(s->port, i, held, &r);
	for (int i = 0; i < HELD; i++) {
		if (held[i] >= 0)
			h_rst(held[i]);
		held[i] = -1;
	}
	H_CHECK(stat_wait(s, "active", 0, 2000) == 0,
		"warm-up: expected active == 0");
	fds = h_proc_fds_wait(s->pid, base_fds, 1000);
	H_CHECK(fds == base_fds,
		"warm-up: expected the server's fds back to %d, "
		"got %d",
		base_fds, fds);
	acc0 = h_srv_stat(s, "accepted");
	closed0 = h_srv_stat(s, "closed");
	resets0 = h_srv_stat(s, "resets");
	err0 = h_srv_stat(s, "conn_errors");

	t0 = h_now_ms();
	for (int i = 0; i < n; i++)
		reset_cycle(s->port, i, held, &r);
	for (int i = 0; i < HELD; i++)
		if (held[i] >= 0)
			h_rst(held[i]);
	t_end = h_now_ms();

	/* Back to idle within a second of the last reset: descriptors (from
	 * /proc, cheap, polled often) and then the open count (stats). */
	deadline = t_end + env_long("LIMITS_SETTLE_MS", 1000);
	for (;;) {
		fds = h_proc_fds(s->pid);
		if (fds == base_fds) {
			active = h_srv_stat_now(s, "active");
			if (active == 0)
				break;
		}
		if (h_now_ms() >= deadline)
			break;
		h_sleep_ms(5);
	}
	back_ms = h_now_ms() - t_end;
	if (active != 0 || fds != base_fds)
		active = h_srv_stat_now(s, "active");
	acc = h_srv_stat(s, "accepted") - acc0;
	closed = h_srv_stat(s, "closed") - closed0;
	resets = h_srv_stat(s, "resets") - resets0;
	errs = h_srv_stat(s, "conn_errors") - err0;
	report("reset_cycles",
	       "cycles=%d time_ms=%lld back_ms=%lld fds_base=%d fds_after=%d "
	       "active=%lld accepted=%lld closed=%lld resets=%lld "
	       "conn_errors=%lld",
	       n, (long long)(t_end - t0), (long long)back_ms, base_fds, fds,
	       active, acc, closed, resets, errs);
	H_CHECK(fds == base_fds,
		"expected the server's fds back to %d within %ld ms of the "
		"last reset, got %d",
		base_fds, env_long("LIMITS_SETTLE_MS", 1000), fds);
	H_CHECK(active == 0,
		"expected active == 0 within %ld ms of the last reset, got "
		"%lld",
		env_long("LIMITS_SETTLE_MS", 1000), active);
	H_CHECK(acc == n && closed == n,
		"expected %d accepted and closed, got %lld and %lld", n, acc,
		closed);
	/* The reset path really ran: the server saw ECONNRESET or EPIPE. */
	H_CHECK(resets > 0, "expected resets > 0, got %lld", resets);
	finish(s);
}

/* --- 4. flood_fair: one flooder, 100 ping-pong clients ------------------ */

/* The number after "key": in one line of JSON; -1 if absent. */
static double json_num(const char *text, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = text ? strstr(text, pat) : NULL;
	return p ? strtod(p + strlen(pat), NULL) : -1;
}

/* Start echo-load (LIMITS_LOAD) with args in slot i, after freeing what
 * the slot held; no waiting. */
static struct h_srv *load_start(int i, const char *const *args)
{
	static char *cmd[2];
	struct h_start st = { .args = args, .no_listen = true };
	struct h_srv *g = &lim_srv[i];
	int rc;

	/* A slot never started is all zeroes: its "descriptors" are 0. */
	if (g->cmdline[0])
		h_srv_free(g);
	cmd[0] = getenv("LIMITS_LOAD");
	rc = h_srv_start(g, cmd, &st);
	H_CHECK(rc == 0, "start %s: %s", cmd[0], h_err_str(rc));
	return g;
}

/* Wait for echo-load in g to finish: exit 0 and one JSON line. */
static void load_wait(struct h_srv *g, int timeout_ms)
{
	int rc = h_srv_wait(g, timeout_ms, NULL);

	H_CHECK(rc == 0, "echo-load: expected an exit within %d ms",
		timeout_ms);
	H_CHECK(WIFEXITED(g->status) && WEXITSTATUS(g->status) == 0,
		"echo-load: expected exit 0, got 0x%x; stderr: %s",
		(unsigned)g->status, g->err ? g->err : "");
	H_CHECK(json_num(g->out, "p99_us") >= 0,
		"echo-load: expected a JSON line, got '%s'",
		g->out ? g->out : "");
	H_CHECK(json_num(g->out, "errors") == 0,
		"echo-load: expected 0 errors (every byte verified): %s",
		g->out);
}

/*
 * CPU time the rest of the machine took, in ticks: every process's user
 * and system time less ours (this test, its reaped children, the live
 * server), plus steal (the hypervisor's other guests). Interrupt and
 * softirq time are left out: loopback TCP spends ours there.
 */
struct cpu_mark {
	long long busy, steal, ours, total;
};

static struct cpu_mark cpu_mark(struct h_srv *s)
{
	unsigned long long v[8] = { 0 };
	struct cpu_mark m = { 0, 0, 0, 0 };
	struct rusage self, kids;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "re");

	H_CHECK(f, "cannot open /proc/stat: %s", strerror(errno));
	H_CHECK(fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		       &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8,
		"unexpected /proc/stat");
	fclose(f);
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	m.busy = (long long)(v[0] + v[1] + v[2]);
	m.steal = (long long)v[7];
	for (int i = 0; i < 8; i++)
		m.total += (long long)v[i];
	m.ours = h_proc_cpu_ticks(s->pid) +
		 (self.ru_utime.tv_sec + self.ru_stime.tv_sec +
		  kids.ru_utime.tv_sec + kids.ru_stime.tv_sec) *
		     hz +
		 (self.ru_utime.tv_usec + self.ru_stime.tv_usec +
		  kids.ru_utime.tv_usec + kids.ru_stime.tv_usec) *
		     hz / 1000000;
	return m;
}

/* Percent of the machine the others took between a and b. */
static double others_pct(struct cpu_mark a, struct cpu_mark b)
{
	long long others =
	    (b.busy - a.busy) - (b.ours - a.ours) + (b.steal - a.steal);

	if (b.total <= a.total)
		return 0;
	return others < 0 ? 0 : 100.0 * (double)others / (b.total - a.total);
}

/* One ping-pong run's figures. */
struct pp {
	double p50, p99, max, mps, msgs;
};

static struct pp pp_of(const struct h_srv *g)
{
	return (struct pp){ json_num(g->out, "p50_us") / 1000,
			    json_num(g->out, "p99_us") / 1000,
			    json_num(g->out, "max_us") / 1000,
			    json_num(g->out, "msgs_per_s"),
			    json_num(g->out, "msgs") };
}

/* The 100 ping-pong clients for secs (after 1 s of warm-up), in slot i. */
static struct pp pingpong(int i, const char *port, const char *secs)
{
	struct h_srv *g =
	    load_start(i, ARGV("--port", port, "--conns", "100", "--duration",
			       secs, "--warmup", "1", "--json"));
	load_wait(g, (int)(strtod(secs, NULL) * 1000) + 30000);
	return pp_of(g);
}

#define FLOOD_QUIET 10.0 /* percent: more taken by others disturbs a run */

/*
 * The 100 clients alone (calibration), then again while one connection
 * streams both ways as fast as it can (64 KiB writes, reading as fast as
 * it can: the server always has input and room to send, so only its
 * per-wakeup budget keeps it from serving that one connection alone).
 * Returns the p99 with the flooder, in ms; *quiet says whether the rest
 * of the machine left us alone meanwhile.
 */
static double flood_attempt(struct h_srv *s, int k, const char *secs,
			    double lim, bool *quiet)
{
	struct cpu_mark c0, c1;
	struct pp base, fl;
	struct h_srv *flood;
	char port[16], fsecs[16];
	double dur = strtod(secs, NULL), srv_mib, others;
	long long in0, in1;
	int64_t t0, t1;

	snprintf(port, sizeof(port), "%u", s->port);
	/* The flooder outlasts the ping-pong run (1 s warm-up, then secs). */
	snprintf(fsecs, sizeof(fsecs), "%.1f", dur + 2.5);
	c0 = cpu_mark(s);
	base = pingpong(1, port, secs);

	/* The flooder's engine is pinned to epoll, as when the bounds were
	 * calibrated: with echo-load's io_uring engine (its default since)
	 * uring-echo multishot moved only 28-45 MiB/s of the flood through
	 * (its one-4-KiB-buffer-per-send echo path; docs/design.md). */
	flood =
	    load_start(2, ARGV("--port", port, "--mode", "stream", "--size",
			       "64k", "--conns", "1", "--duration", fsecs,
			       "--warmup", "0", "--engine", "epoll", "--json"));
	h_sleep_ms(500);
	in0 = h_srv_stat_now(s, "bytes_in");
	t0 = h_now_ms();
	fl = pingpong(3, port, secs);
	in1 = h_srv_stat_now(s, "bytes_in");
	t1 = h_now_ms();
	load_wait(flood, (int)(dur * 1000) + 30000);
	c1 = cpu_mark(s);
	others = others_pct(c0, c1);
	*quiet = others < FLOOD_QUIET;
	/* The flood as the server saw it while the clients ran: its bytes
	 * in, less theirs (64 B per measured message; warm-up ones count as
	 * flood, a few MiB). */
	srv_mib = (double)(in1 - in0 - 64 * (long long)fl.msgs) / (1 << 20) /
		  ((double)(t1 - t0) / 1000);

	report("flood_fair",
	       "attempt=%d base_p50_ms=%.2f base_p99_ms=%.2f "
	       "base_msgs_per_s=%.0f flood_p50_ms=%.2f flood_p99_ms=%.2f "
	       "flood_max_ms=%.2f flood_msgs_per_s=%.0f "
	       "flooder_mib_per_s=%.0f srv_flood_mib_per_s=%.0f "
	       "others_cpu_pct=%.1f bound_ms=%.1f",
	       k, base.p50, base.p99, base.mps, fl.p50, fl.p99, fl.max, fl.mps,
	       json_num(flood->out, "mib_per_s"), srv_mib, others, lim);
	/* The flood really flowed while the clients were measured. Multishot
	 * holds one stream to its per-connection cap of provided buffers and
	 * echoes one 4 KiB buffer per send: measured 32-65 MiB/s here, so its
	 * floor is lower (the others move 200-800). */
	H_CHECK(srv_mib >= (lim_multishot ? 20 : 50),
		"expected the flooder to move at least %d MiB/s through the "
		"server, got %.1f",
		lim_multishot ? 20 : 50, srv_mib);
	return fl.p99;
}

/*
 * The bound holds if one attempt meets it. An attempt that misses it
 * while the rest of the machine took under FLOOD_QUIET percent of the
 * CPUs is a failure at once: that is the server's doing. One that misses
 * it on a busy machine (a shared developer box) says nothing, and is
 * tried again, up to LIMITS_TRIES times; if every attempt was disturbed,
 * the scenario skips, saying so.
 */
static void t_flood_fair(void **state)
{
	struct h_start st = { .args = ARGV("--port", "0"),
			      .env = ARGV("MALLOC_PERTURB_=0") };
	double lim = env_double("LIMITS_P99_MS", P99_MS), p99 = -1;
	const char *secs = getenv("LIMITS_FLOOD_S");
	long tries = env_long("LIMITS_TRIES", 3);
	struct h_srv *s;
	bool quiet = false;
	int k;

	if (!getenv("LIMITS_LOAD"))
		H_SKIP("LIMITS_LOAD (the path of echo-load) is not set");
	s = start(0, &st);
	if (h_proc_asan(s->pid))
		H_SKIP("latency under AddressSanitizer is not the server's");
	secs = secs && *secs ? secs : "3";
	for (k = 1; k <= tries; k++) {
		p99 = flood_attempt(s, k, secs, lim, &quiet);
		if (p99 < lim || quiet)
			break;
	}
	H_CHECK(p99 >= 0, "expected a p99 from echo-load");
	if (p99 >= lim && !quiet)
		H_SKIP("the machine was busy in all %ld attempts (others took "
		       "over %.0f%% of the CPUs): p99 %.2f ms says nothing",
		       tries, FLOOD_QUIET, p99);
	H_CHECK(p99 < lim,
		"expected the ping-pong clients' p99 under %.1f ms with the "
		"flooder, got %.2f ms on a quiet machine",
		lim, p99);
	finish(s);
}

/* --- dispatch ----------------------------------------------------------- */

static int teardown(void **state)
{
	h_srv_cleanup_all();
	free(lim_fds);
	lim_fds = NULL;
	return 0;
}

static const struct h_scenario lim_scenarios[] = {
	{ "conns10k", t_conns10k },
	{ "idle_mem", t_idle_mem },
	{ "reset_cycles", t_reset_cycles },
	{ "flood_fair", t_flood_fair },
};

static int lim_init(int argc, char **argv)
{
	lim_cmd = h_server_cmd(argc, argv);
	if (!lim_cmd)
		return 2;
	row_name(lim_cmd);
	/* About 10,000 client sockets of our own. */
	h_nofile_max();
	return 0;
}

int main(int argc, char **argv)
{
	static const struct h_prog prog = {
		.prog = "test_limits",
		.group = "limits",
		.args = "-- SERVER_CMD [ARGS...]",
		H_TABLE(lim_scenarios),
		.init = lim_init,
		.teardown = teardown,
	};

	return h_main(&prog, argc, argv);
}
