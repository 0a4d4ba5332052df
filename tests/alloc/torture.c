// SPDX-License-Identifier: MIT
/*
 * torture.c - allocation torture: `torture -- SERVER_CMD...` runs a short
 * scenario (start, connect, echo, half-close, close, stop) once to learn
 * K, the server's allocation count (common/alloc.h), then again with
 * ECHO_ALLOC_FAIL=N for every N from 1 until N passes the run's count.
 * Each run must either refuse cleanly (exit 1, one stderr line, before
 * "listening on") or serve: every byte echoed, except that the one
 * connection whose allocation failed may be closed early (counted by the
 * server), and a fresh connection afterwards must be served; then SIGTERM,
 * exit 0. Never a signal, never a sanitizer report. Exits 0, 1 on
 * failure, 77 if the server was built without -Dalloc_fault.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define AT_LARGE (300u << 10) /* several 64 KiB rings, many 4 KiB buffers */
#define AT_HALF (20u << 10) /* echoed in random pieces, then half-closed */
#define AT_TIMEOUT_MS 5000 /* per exchange */
#define AT_STOP_MS 5000
#define AT_FRESH_TRIES 2 /* fresh connections after the scenario */
#define AT_MAX_RUNS 1000 /* give up if the count keeps growing */

/* How one run went. */
struct at_run {
	unsigned long n; /* ECHO_ALLOC_FAIL */
	bool listened; /* printed "listening on" */
	unsigned long calls; /* the server's own count, at exit */
	bool failed; /* the Nth call was reached (and failed) */
	int cut; /* connections closed early by the server */
	char refusal[256]; /* the start-up failure line, if refused */
};

static struct h_srv at_srv;

#define CHECK(cond, ...)                                    \
	do {                                                \
		if (!(cond))                                \
			h_fail("torture", 20, __VA_ARGS__); \
	} while (0)

/* What a server wrote (NULL until it writes anything). */
static const char *at_text(const char *s)
{
	return s ? s : "";
}

/* A sanitizer's report anywhere on stderr: ASan, LSan, UBSan. */
static bool at_sanitizer_said(const char *err)
{
	err = at_text(err);
	return strstr(err, "Sanitizer") || strstr(err, "runtime error:");
}

/* Parse "alloc: calls=K fail=N[ failed]"; false if there is none. */
static bool at_alloc_line(const char *err, struct at_run *r)
{
	const char *p = strstr(at_text(err), "alloc: calls=");
	unsigned long fail;
	const char *nl;

	if (!p || sscanf(p, "alloc: calls=%lu fail=%lu", &r->calls, &fail) != 2)
		return false;
	nl = strchr(p, '\n');
	r->failed = nl && nl - p > 7 && !strncmp(nl - 7, " failed", 7);
	return fail == r->n;
}

/*
 * The lines a serving run may print on stderr: the start-up line
 * ("PROG: backend=..." or "PROG: mode=..."), stats lines and the alloc
 * report. Returns the first other line, or NULL.
 */
static const char *at_stray_line(const char *err, char *buf, size_t len)
{
	const char *line, *nl;

	for (line = at_text(err); *line; line = *nl ? nl + 1 : nl) {
		nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line);
		snprintf(buf, len, "%.*s", (int)(nl - line), line);
		if (strncmp(buf, "stats:", 6) && strncmp(buf, "alloc:", 6) &&
		    strncmp(buf, "threads:", 8) && !strstr(buf, ": backend=") &&
		    !strstr(buf, ": mode="))
			return buf;
	}
	return NULL;
}

/* One exchange that may be cut short by the server (its allocation
 * failed); anything else (a wrong byte, a stall) fails the test. */
static bool at_exchange(struct at_run *r, const char *what, int fd,
			const struct h_echo *e)
{
	size_t at = 0;
	int rc = h_echo_run(fd, e, &at);

	if (rc == 0)
		return true;
	/* A reset seen first by poll (SO_ERROR consumed) leaves a closed
	 * socket, on which send says ENOTCONN: also an early close. */
	CHECK(rc == -EPIPE || rc == -ECONNRESET || rc == -ENOTCONN,
	      "N=%lu: %s: expected the echo or an early close, got %s at "
	      "byte %zu of %zu",
	      r->n, what, h_err_str(rc), at, e->len);
	r->cut++;
	return false;
}

static int at_connect(const struct at_run *r, const char *what)
{
	int fd = h_connect("127.0.0.1", at_srv.port, 0, 0, false);

	CHECK(fd >= 0, "N=%lu: %s: connect: %s", r->n, what, h_err_str(fd));
	return fd;
}

/* The scenario against a listening server: three connections open at
 * once, a small echo, a large one, a half-close; then fresh ones. */
static void at_scenario(struct at_run *r)
{
	static const uint8_t small[] = "allocation torture";
	struct h_echo e_small = { .data = small,
				  .len = sizeof(small),
				  .timeout_ms = AT_TIMEOUT_MS };
	struct h_echo e_large = { .seed = 7,
				  .len = AT_LARGE,
				  .timeout_ms = AT_TIMEOUT_MS };
	struct h_echo e_half = { .seed = 11,
				 .len = AT_HALF,
				 .chunk = 3000,
				 .seg_seed = 5,
				 .shut_wr = true,
				 .timeout_ms = AT_TIMEOUT_MS };
	struct h_echo e_fresh = { .seed = 13,
				  .len = 1000,
				  .shut_wr = true,
				  .timeout_ms = AT_TIMEOUT_MS };
	int a, b, c, d, i;
	bool served = false;

	a = at_connect(r, "small");
	b = at_connect(r, "large");
	c = at_connect(r, "half-close");
	at_exchange(r, "small echo", a, &e_small);
	at_exchange(r, "large echo", b, &e_large);
	at_exchange(r, "half-close", c, &e_half);
	close(a);
	close(b);
	close(c);
	/* Only one allocation fails, so a fresh connection is served, unless
	 * that failure was the fresh connection's own: then the next one. */
	for (i = 0; i < AT_FRESH_TRIES && !served; i++) {
		d = at_connect(r, "fresh");
		served = at_exchange(r, "fresh connection", d, &e_fresh);
		close(d);
	}
	CHECK(served,
	      "N=%lu: no fresh connection was served after the "
	      "scenario",
	      r->n);
}

/* One run with ECHO_ALLOC_FAIL=n (0: count only); judged here. */
static void at_run(char *const *cmd, struct at_run *r)
{
	char env_fail[64], line[512];
	const char *stray;
	struct h_start st = {
		.args = (const char *const[]){ "--port", "0", "--max-conns",
					       "64", NULL },
	};
	long long nomem, accept_errors;
	int rc, status;

	snprintf(env_fail, sizeof(env_fail), "ECHO_ALLOC_FAIL=%lu", r->n);
	st.env = (const char *const[]){ env_fail, NULL };
	rc = h_srv_start(&at_srv, cmd, &st);
	if (rc == -ECHILD) {
		/* It exited before listening: a clean refusal, or not. */
		status = at_srv.status;
		CHECK(!at_sanitizer_said(at_srv.err),
		      "N=%lu: a sanitizer report at start-up", r->n);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		      "N=%lu: refused at start-up: expected exit status 1, "
		      "got 0x%x%s",
		      r->n, (unsigned)status,
		      WIFSIGNALED(status) ? " (killed by a signal)" : "");
		CHECK(at_alloc_line(at_srv.err, r),
		      "N=%lu: expected the 'alloc: calls=K fail=%lu' report "
		      "on stderr",
		      r->n, r->n);
		CHECK(r->failed,
		      "N=%lu: exit 1 at start-up, but call %lu was never "
		      "made: the refusal is not ours",
		      r->n, r->n);
		CHECK(!at_srv.out_len, "N=%lu: refused, yet stdout has '%s'",
		      r->n, at_srv.out);
		CHECK(h_lines(at_srv.err) == 2,
		      "N=%lu: expected one line naming the cause (and the "
		      "alloc report) on stderr, got %d lines",
		      r->n, h_lines(at_srv.err));
		snprintf(r->refusal, sizeof(r->refusal), "%.*s",
			 (int)strcspn(at_srv.err, "\n"), at_srv.err);
		h_srv_free(&at_srv);
		return;
	}
	CHECK(rc == 0, "N=%lu: server start: %s", r->n, h_err_str(rc));
	r->listened = true;
	at_scenario(r);
	CHECK(h_srv_alive(&at_srv), "N=%lu: the server died while serving",
	      r->n);
	rc = h_srv_stop(&at_srv, SIGTERM, AT_STOP_MS, NULL);
	CHECK(rc == 0, "N=%lu: no exit within %d ms of SIGTERM", r->n,
	      AT_STOP_MS);
	status = at_srv.status;
	CHECK(!at_sanitizer_said(at_srv.err), "N=%lu: a sanitizer report",
	      r->n);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "N=%lu: SIGTERM: expected exit status 0, got 0x%x%s", r->n,
	      (unsigned)status,
	      WIFSIGNALED(status) ? " (killed by a signal)" : "");
	CHECK(at_alloc_line(at_srv.err, r),
	      "N=%lu: expected the 'alloc: calls=K fail=%lu' report on stderr "
	      "(is the server built with -Dalloc_fault=true?)",
	      r->n, r->n);
	stray = at_stray_line(at_srv.err, line, sizeof(line));
	CHECK(!stray, "N=%lu: unexpected line on stderr: '%s'", r->n, stray);
	/* A connection closed early is the failed allocation's, and the
	 * server must have counted it: out of memory, or (a poller that
	 * could not grow) an accept error. */
	nomem = h_srv_stat(&at_srv, "nomem");
	accept_errors = h_srv_stat(&at_srv, "accept_errors");
	CHECK(r->cut <= 1 && (!r->cut || r->failed),
	      "N=%lu: %d connections closed early (at most the one whose "
	      "allocation failed may be)",
	      r->n, r->cut);
	CHECK(nomem + accept_errors == r->cut,
	      "N=%lu: %d connections closed early, but the server counted "
	      "nomem=%lld accept_errors=%lld",
	      r->n, r->cut, nomem, accept_errors);
	h_srv_free(&at_srv);
}

int main(int argc, char **argv)
{
	struct at_run r = { 0 };
	unsigned long k, n, refused = 0, served = 0, cut = 0;
	int64_t t0 = h_now_ms();

	if (argc < 3 || strcmp(argv[1], "--")) {
		fprintf(stderr, "usage: torture -- SERVER_CMD [ARGS...]\n");
		return 2;
	}
	/* Line by line, so that a log shows every run up to a failure. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	atexit(h_srv_cleanup_all);
	signal(SIGPIPE, SIG_IGN);

	/* Learn K: the scenario with no failure at all. */
	r.n = 0;
	at_run(argv + 2, &r);
	if (!r.calls) {
		printf("SKIP: no allocation counted: the server is built "
		       "without -Dalloc_fault=true\n");
		return 77;
	}
	CHECK(!r.cut, "N=0: %d connections closed early with no failure",
	      r.cut);
	k = r.calls;
	printf("K=%lu allocation calls without failures\n", k);

	/*
	 * Every N from 1: the run ends when a run's own count stays below N
	 * (N passed the total) and N is past K. Runs may differ a little in
	 * their count (when a chunk is reused from the cache depends on
	 * timing), so K is checked, not assumed.
	 */
	for (n = 1;; n++) {
		CHECK(n <= AT_MAX_RUNS,
		      "still reaching call %lu: the count "
		      "keeps growing",
		      n);
		memset(&r, 0, sizeof(r));
		r.n = n;
		at_run(argv + 2, &r);
		if (!r.failed) {
			CHECK(r.listened && !r.cut,
			      "N=%lu: call %lu never made, yet not served "
			      "cleanly",
			      n, n);
			printf("N=%lu: not reached (calls=%lu): served\n", n,
			       r.calls);
			if (n > k)
				break;
			continue;
		}
		if (!r.listened) {
			refused++;
			printf("N=%lu: refused: %s\n", n, r.refusal);
		} else {
			served++;
			cut += (unsigned long)r.cut;
			printf("N=%lu: served%s\n", n,
			       r.cut ? ", its connection closed early" : "");
		}
	}
	printf("PASS: K=%lu; N=1..%lu: %lu refused at start-up, %lu served "
	       "(%lu with one connection closed early), in %lld ms\n",
	       k, n, refused, served, cut, (long long)(h_now_ms() - t0));
	return 0;
}
