/* SPDX-License-Identifier: MIT */
/*
 * test_load.c - `test_load SCENARIO ECHO_LOAD READY_ECHO [ENGINE]`: echo-load
 * end to end, one scenario per process, every echo-load run with --engine
 * ENGINE if given (exit 77 if this kernel cannot run it).
 *
 * Against ready-echo on port 0 in every mode (the machine-readable line must
 * be complete), and against evil servers written here, which must be caught.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "scenario.h"

#define T_RUN_MS 20000 /* one echo-load run, generous: only a hang hits it */
#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const char *load_bin; /* echo-load */
static const char *server_bin; /* ready-echo */
static const char *engine; /* --engine for every echo-load run, or NULL */
static bool deny_uring; /* children start with io_uring_setup refused */

/* ---- child processes -------------------------------------------------- */

static struct h_srv *live_server; /* killed by the teardown if still up */

/* Start argv (no listening line awaited), io_uring refused if deny_uring. */
static void proc_start(struct h_srv *p, const char *const *argv)
{
	static int eperm = EPERM;
	struct h_start st = { .no_listen = true,
			      .setup = deny_uring ? h_deny_uring : NULL,
			      .ctx = &eperm };

	assert_int_equal(h_srv_start(p, (char *const *)argv, &st), 0);
}

/* ---- ready-echo ------------------------------------------------------- */

/* Start ready-echo on host, port 0, with extra args; returns its port. */
static unsigned server_start(struct h_srv *s, const char *host,
			     const char *backend)
{
	int rc = h_srv_start(s,
			     (char *const *)ARGV(server_bin, "--host", host,
						 "--port", "0", "--backend",
						 backend),
			     NULL);

	live_server = s;
	if (rc)
		fail_msg("no listening line from %s (%s): stdout '%s' stderr "
			 "'%s'",
			 server_bin, h_err_str(rc), s->out ? s->out : "",
			 s->err ? s->err : "");
	return s->port;
}

/* SIGTERM the server: it must exit 0 within 5 s. */
static void server_stop(struct h_srv *s)
{
	assert_int_equal(kill(s->pid, SIGTERM), 0);
	if (h_srv_wait(s, 5000, NULL))
		fail_msg("server ignored SIGTERM; stderr: %s", s->err);
	live_server = NULL;
	if (h_srv_exit_code(s) != 0)
		fail_msg("server exit %d; stderr: %s", h_srv_exit_code(s),
			 s->err);
}

/* ---- echo-load --------------------------------------------------------- */

/* Run echo-load with args (NULL-terminated) plus --port port; returns its
 * exit code; p holds its output. */
static int load_run(struct h_srv *p, unsigned port, const char *const *args)
{
	const char *argv[64];
	char portbuf[16];
	int n = 0;

	snprintf(portbuf, sizeof(portbuf), "%u", port);
	argv[n++] = load_bin;
	argv[n++] = "--port";
	argv[n++] = portbuf;
	if (engine) {
		argv[n++] = "--engine";
		argv[n++] = engine;
	}
	for (; *args && n < 62; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	proc_start(p, argv);
	if (h_srv_wait(p, T_RUN_MS, NULL)) {
		h_srv_stop(p, SIGKILL, 5000, NULL);
		fail_msg("echo-load did not finish; stderr: %s", p->err);
	}
	/* A sanitizer report exits 1 too: never mistake it for a verdict. */
	if (strstr(p->err, "Sanitizer") || strstr(p->err, "runtime error:"))
		fail_msg("sanitizer report from echo-load: %s", p->err);
	return h_srv_exit_code(p);
}

/* The columns every machine-readable line must have. */
static const char *const columns[] = {
	"label",     "mode",   "conns",	      "idle",	       "size",
	"depth",     "rate",   "duration_s",  "msgs",	       "msgs_per_s",
	"mib_per_s", "p50_us", "p90_us",      "p99_us",	       "p999_us",
	"max_us",    "errors", "gen_cpu_pct", "gen_saturated", "engine",
};

#define NCOLS_MAX 64

struct row {
	char buf[4096];
	char *name[NCOLS_MAX];
	char *value[NCOLS_MAX];
	int n;
};

static void row_copy(struct row *r, const char *out)
{
	size_t n = strlen(out);

	memset(r, 0, sizeof(*r));
	if (n >= sizeof(r->buf))
		fail_msg("stdout too long: %zu bytes", n);
	memcpy(r->buf, out, n + 1);
}

/* Split stdout into exactly a CSV header and one row of as many fields. */
static void csv_parse(const char *out, struct row *r)
{
	char *head, *vals, *nl, *a, *b;

	row_copy(r, out);
	head = r->buf;
	nl = strchr(head, '\n');
	if (!nl)
		fail_msg("no CSV header in stdout: '%s'", out);
	*nl = '\0';
	vals = nl + 1;
	nl = strchr(vals, '\n');
	if (!nl || nl[1])
		fail_msg("stdout is not a header and one row: '%s'", out);
	*nl = '\0';
	/* strsep, not strtok: an empty field (the default label) counts. */
	a = strsep(&head, ",");
	b = strsep(&vals, ",");
	while (a && b && r->n < NCOLS_MAX) {
		r->name[r->n] = a;
		r->value[r->n++] = b;
		a = strsep(&head, ",");
		b = strsep(&vals, ",");
	}
	if (a || b)
		fail_msg("header and row differ in length: '%s'", out);
}

/* Split a one-line JSON object of plain "key":value pairs. */
static void json_parse(const char *out, struct row *r)
{
	char *p, *end, *key;

	row_copy(r, out);
	p = r->buf;
	end = strchr(p, '\n');
	if (*p != '{' || !end || end[1] || end[-1] != '}')
		fail_msg("stdout is not one JSON object line: '%s'", out);
	end[-1] = '\0';
	p++;
	while (*p && r->n < NCOLS_MAX) {
		if (*p != '"')
			fail_msg("bad JSON at '%s'", p);
		key = ++p;
		p = strchr(p, '"');
		assert_non_null(p);
		*p++ = '\0';
		if (*p++ != ':')
			fail_msg("bad JSON after key %s", key);
		r->name[r->n] = key;
		if (*p == '"') { /* string values hold no quote here */
			r->value[r->n] = ++p;
			p = strchr(p, '"');
			assert_non_null(p);
			*p++ = '\0';
		} else {
			r->value[r->n] = p;
			p += strcspn(p, ",");
		}
		r->n++;
		if (*p == ',')
			*p++ = '\0';
	}
}

static const char *field(const struct row *r, const char *name)
{
	int i;

	for (i = 0; i < r->n; i++) {
		if (!strcmp(r->name[i], name))
			return r->value[i];
	}
	fail_msg("no field %s", name);
	return NULL;
}

static double num(const struct row *r, const char *name)
{
	return strtod(field(r, name), NULL);
}

/* Every column present; a clean run: messages, no errors, sane numbers. */
static void check_clean(const struct row *r, const char *mode)
{
	size_t i;

	for (i = 0; i < sizeof(columns) / sizeof(columns[0]); i++)
		(void)field(r, columns[i]);
	assert_string_equal(field(r, "mode"), mode);
	assert_true(num(r, "msgs") > 0);
	assert_true(num(r, "msgs_per_s") > 0);
	assert_true(num(r, "mib_per_s") > 0);
	assert_int_equal((int)num(r, "errors"), 0);
	assert_true(num(r, "p50_us") > 0);
	assert_true(num(r, "p50_us") <= num(r, "p90_us"));
	assert_true(num(r, "p90_us") <= num(r, "p99_us"));
	assert_true(num(r, "p99_us") <= num(r, "p999_us"));
	assert_true(num(r, "p999_us") <= num(r, "max_us"));
	assert_true(num(r, "duration_s") > 0.3);
	assert_true(num(r, "gen_cpu_pct") > 0);
	assert_true(!strcmp(field(r, "gen_saturated"), "0") ||
		    !strcmp(field(r, "gen_saturated"), "1"));
	if (engine)
		assert_string_equal(field(r, "engine"), engine);
}

/* One clean run of echo-load against ready-echo; r gets its output. */
static void clean_run(const char *host, const char *backend,
		      const char *const *args, bool json, struct row *r)
{
	static struct h_srv srv, load;
	unsigned port = server_start(&srv, host, backend);
	int rc = load_run(&load, port, args);

	if (rc != 0)
		fail_msg("echo-load exit %d; stderr: %s", rc, load.err);
	if (json)
		json_parse(load.out, r);
	else
		csv_parse(load.out, r);
	/* The human table goes to stderr with --csv/--json. */
	assert_non_null(strstr(load.err, "latency us"));
	server_stop(&srv);
}

/* ---- evil servers ------------------------------------------------------ */

enum evil_kind {
	EVIL_FLIP, /* byte 1000 of each connection XOR 0x20 */
	EVIL_DROP, /* byte 1000 left out */
	EVIL_EXTRA, /* a byte added before byte 1000 */
	EVIL_CLOSE, /* closes after echoing 1000 bytes */
	EVIL_SILENT, /* reads, never echoes */
	EVIL_STALL, /* stops echoing for 300 ms once, at byte 3200 */
};

#define EVIL_AT 1000u
#define EVIL_CONNS 16

struct evil {
	enum evil_kind kind;
	int lfd;
	int stop[2]; /* a byte here ends the thread */
	unsigned port;
	pthread_t tid;
};

static int send_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t s;

	while (n) {
		s = send(fd, p, n, MSG_NOSIGNAL);
		if (s <= 0)
			return -1;
		p += s;
		n -= (size_t)s;
	}
	return 0;
}

/* Echo buf (stream offset off) to fd, done the evil way; -1: close fd. */
static int evil_echo(struct evil *e, int fd, uint64_t off, uint8_t *buf,
		     size_t n, bool *stalled)
{
	size_t at = EVIL_AT - off;
	bool here = off <= EVIL_AT && EVIL_AT < off + n;
	uint8_t extra = 'X';

	switch (e->kind) {
	case EVIL_FLIP:
		if (here)
			buf[at] ^= 0x20;
		return send_all(fd, buf, n);
	case EVIL_DROP:
		if (!here)
			return send_all(fd, buf, n);
		if (send_all(fd, buf, at))
			return -1;
		return send_all(fd, buf + at + 1, n - at - 1);
	case EVIL_EXTRA:
		if (!here)
			return send_all(fd, buf, n);
		if (send_all(fd, buf, at) || send_all(fd, &extra, 1))
			return -1;
		return send_all(fd, buf + at, n - at);
	case EVIL_CLOSE:
		if (!here)
			return send_all(fd, buf, n);
		send_all(fd, buf, at);
		return -1;
	case EVIL_SILENT:
		return 0;
	case EVIL_STALL:
		if (off + n > 3200 && !*stalled) {
			*stalled = true;
			usleep(300 * 1000);
		}
		return send_all(fd, buf, n);
	}
	return -1;
}

static void *evil_main(void *arg)
{
	struct evil *e = arg;
	struct pollfd pfd[EVIL_CONNS + 2];
	uint64_t off[EVIL_CONNS + 2] = { 0 };
	bool stalled = false;
	static uint8_t buf[65536];
	int n = 2, i, fd;
	ssize_t got;

	pfd[0] = (struct pollfd){ .fd = e->stop[0], .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = e->lfd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, (nfds_t)n, -1) < 0)
			continue;
		if (pfd[0].revents)
			break;
		if ((pfd[1].revents & POLLIN) && n < EVIL_CONNS + 2) {
			fd = accept(e->lfd, NULL, NULL);
			if (fd >= 0) {
				off[n] = 0;
				pfd[n++] = (struct pollfd){ .fd = fd,
							    .events = POLLIN };
			}
		}
		for (i = 2; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			got = recv(pfd[i].fd, buf, sizeof(buf), 0);
			if (got > 0 && !evil_echo(e, pfd[i].fd, off[i], buf,
						  (size_t)got, &stalled)) {
				off[i] += (uint64_t)got;
				continue;
			}
			/* Closed, or closing on purpose: swap the last in. */
			close(pfd[i].fd);
			pfd[i] = pfd[--n];
			off[i] = off[n];
			i--;
		}
	}
	for (i = 2; i < n; i++)
		close(pfd[i].fd);
	return NULL;
}

static void evil_start(struct evil *e, enum evil_kind kind)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	e->kind = kind;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	e->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(e->lfd >= 0);
	assert_int_equal(bind(e->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(e->lfd, 64), 0);
	assert_int_equal(getsockname(e->lfd, (struct sockaddr *)&a, &len), 0);
	e->port = ntohs(a.sin_port);
	assert_int_equal(pipe(e->stop), 0);
	assert_int_equal(pthread_create(&e->tid, NULL, evil_main, e), 0);
}

static void evil_stop(struct evil *e)
{
	assert_int_equal(write(e->stop[1], "x", 1), 1);
	pthread_join(e->tid, NULL);
	close(e->lfd);
	close(e->stop[0]);
	close(e->stop[1]);
}

/* echo-load against an evil server: exit 1, and the row says why. */
static void evil_run(enum evil_kind kind, const char *counter, const char *say)
{
	static struct h_srv load;
	struct evil e;
	struct row r;
	int rc;

	evil_start(&e, kind);
	rc = load_run(&load, e.port,
		      ARGV("--conns", "2", "--size", "100", "--duration", "0.5",
			   "--warmup", "0", "--csv"));
	evil_stop(&e);
	if (rc != 1)
		fail_msg("echo-load exit %d, want 1; stderr: %s", rc, load.err);
	csv_parse(load.out, &r);
	if (counter) {
		assert_true(num(&r, counter) >= 1);
		assert_true(num(&r, "errors") >= num(&r, counter));
	}
	if (!strstr(load.err, say))
		fail_msg("stderr lacks '%s': %s", say, load.err);
}

/* ---- scenarios --------------------------------------------------------- */

static void t_pingpong(void **state)
{
	struct row r;

	(void)state;
	clean_run("127.0.0.1", "epoll",
		  ARGV("--mode", "pingpong", "--conns", "4", "--size", "64",
		       "--duration", "1", "--warmup", "0.2", "--label", "pp",
		       "--csv"),
		  false, &r);
	check_clean(&r, "pingpong");
	assert_string_equal(field(&r, "label"), "pp");
	assert_string_equal(field(&r, "conns"), "4");
	assert_string_equal(field(&r, "depth"), "1");
	assert_string_equal(field(&r, "rate"), "0");
}

static void t_pipeline(void **state)
{
	struct row r;

	(void)state;
	clean_run("127.0.0.1", "poll",
		  ARGV("--mode", "pipeline", "--depth", "16", "--conns", "3",
		       "--size", "100", "--duration", "1", "--warmup", "0.2",
		       "--csv"),
		  false, &r);
	check_clean(&r, "pipeline");
	assert_string_equal(field(&r, "depth"), "16");
}

static void t_stream(void **state)
{
	struct row r;

	(void)state;
	clean_run("127.0.0.1", "epoll",
		  ARGV("--mode", "stream", "--conns", "2", "--size", "16k",
		       "--duration", "1", "--warmup", "0.2", "--csv"),
		  false, &r);
	check_clean(&r, "stream");
	assert_string_equal(field(&r, "size"), "16384");
	assert_true(num(&r, "mib_per_s") > 1.0);
}

static void t_rate(void **state)
{
	struct row r;
	double got;

	(void)state;
	clean_run("127.0.0.1", "select",
		  ARGV("--mode", "rate", "--rate", "2000", "--conns", "4",
		       "--duration", "1", "--warmup", "0.2", "--csv"),
		  false, &r);
	check_clean(&r, "rate");
	assert_string_equal(field(&r, "rate"), "2000");
	/* Open loop on an idle server: the asked-for rate, give or take. */
	got = num(&r, "msgs_per_s");
	if (got < 1600 || got > 2400)
		fail_msg("msgs_per_s %.1f, want about 2000", got);
}

static void t_json(void **state)
{
	struct row r;

	(void)state;
	clean_run("127.0.0.1", "epoll",
		  ARGV("--mode", "pipeline", "--conns", "2", "--duration",
		       "0.5", "--warmup", "0.1", "--json", "--label", "j 1"),
		  true, &r);
	check_clean(&r, "pipeline");
	assert_string_equal(field(&r, "label"), "j 1");
	assert_string_equal(field(&r, "depth"), "8");
}

/* Pin both threads to one CPU we are allowed to use. */
static void t_threads(void **state)
{
	char cpu[16];
	cpu_set_t set;
	struct row r;
	int c;

	(void)state;
	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	for (c = 0; c < CPU_SETSIZE && !CPU_ISSET(c, &set); c++)
		;
	snprintf(cpu, sizeof(cpu), "%d", c);
	clean_run("127.0.0.1", "epoll",
		  ARGV("--mode", "pingpong", "--threads", "2", "--conns", "5",
		       "--cpu", cpu, "--duration", "0.5", "--warmup", "0.1",
		       "--csv"),
		  false, &r);
	check_clean(&r, "pingpong");
	assert_string_equal(field(&r, "threads"), "2");
}

static void t_idle(void **state)
{
	struct row r;

	(void)state;
	clean_run("127.0.0.1", "poll",
		  ARGV("--idle", "100", "--conns", "2", "--duration", "0.5",
		       "--warmup", "0.1", "--csv"),
		  false, &r);
	check_clean(&r, "pingpong");
	assert_string_equal(field(&r, "idle"), "100");
}

static void t_ipv6(void **state)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	struct row r;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	(void)state;
	a.sin6_addr = in6addr_loopback;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		if (fd >= 0)
			close(fd);
		H_SKIP("no IPv6 loopback");
	}
	close(fd);
	clean_run("::1", "epoll",
		  ARGV("--host", "::1", "--mode", "pipeline", "--duration",
		       "0.5", "--warmup", "0", "--csv"),
		  false, &r);
	check_clean(&r, "pipeline");
}

/*
 * No coordinated omission: the server stalls 300 ms once. Open loop keeps
 * its schedule, so about 300 messages are late and each is charged from
 * its intended send time: the tail shows the stall, not one sample.
 */
static void t_rate_stall(void **state)
{
	static struct h_srv load;
	struct evil e;
	struct row r;
	int rc;

	(void)state;
	evil_start(&e, EVIL_STALL);
	rc = load_run(&load, e.port,
		      ARGV("--mode", "rate", "--rate", "1000", "--size", "16",
			   "--duration", "1", "--warmup", "0", "--csv"));
	evil_stop(&e);
	if (rc)
		fail_msg("echo-load exit %d; stderr: %s", rc, load.err);
	csv_parse(load.out, &r);
	if (num(&r, "max_us") < 250000 || num(&r, "p90_us") < 50000)
		fail_msg("stall hidden: p90 %s us, max %s us",
			 field(&r, "p90_us"), field(&r, "max_us"));
	assert_true(num(&r, "msgs") >= 800);
}

static void t_evil_flip(void **state)
{
	(void)state;
	evil_run(EVIL_FLIP, "verify_errors",
		 "wrong byte at stream offset 1000:");
}

static void t_evil_drop(void **state)
{
	(void)state;
	evil_run(EVIL_DROP, "verify_errors", "wrong byte at stream offset");
}

static void t_evil_extra(void **state)
{
	(void)state;
	evil_run(EVIL_EXTRA, "verify_errors", "at stream offset 10");
}

static void t_evil_close(void **state)
{
	(void)state;
	evil_run(EVIL_CLOSE, "conn_errors", "closed by the server after");
}

static void t_evil_silent(void **state)
{
	(void)state;
	evil_run(EVIL_SILENT, NULL, "no message was echoed");
}

/* SIGINT ends the run early: what was measured is reported, exit 0. */
static void t_sigint(void **state)
{
	static struct h_srv srv, load;
	char port[16];
	struct row r;

	(void)state;
	snprintf(port, sizeof(port), "%u",
		 server_start(&srv, "127.0.0.1", "epoll"));
	proc_start(&load, ARGV(load_bin, "--port", port, "--engine",
			       engine ? engine : "auto", "--duration", "60",
			       "--warmup", "0.2", "--csv"));
	usleep(800 * 1000);
	assert_int_equal(kill(load.pid, SIGINT), 0);
	if (h_srv_wait(&load, 5000, NULL)) {
		h_srv_stop(&load, SIGKILL, 5000, NULL);
		fail_msg("echo-load ignored SIGINT; stderr: %s", load.err);
	}
	if (h_srv_exit_code(&load) != 0)
		fail_msg("exit %d; stderr: %s", h_srv_exit_code(&load),
			 load.err);
	csv_parse(load.out, &r);
	check_clean(&r, "pingpong");
	assert_true(num(&r, "duration_s") < 5);
	server_stop(&srv);
}

/* Nothing listens: exit 1 with a line naming the cause. */
static void t_no_server(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	static struct h_srv load;
	socklen_t len = sizeof(a);
	int fd, rc;

	(void)state;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd); /* bound, never listening, now closed: refused */
	rc = load_run(&load, ntohs(a.sin_port),
		      ARGV("--duration", "0.2", "--csv"));
	assert_int_equal(rc, 1);
	assert_non_null(strstr(load.err, "cannot connect"));
	assert_string_equal(load.out, "");
}

static void t_bad_usage(void **state)
{
	const char *const *bad[] = {
		ARGV("--mode", "nope"),
		ARGV("--conns", "0"),
		ARGV("--conns", "-1"),
		ARGV("--size", "0"),
		ARGV("--size", "12q"),
		ARGV("--mode", "rate"), /* no --rate */
		ARGV("--rate", "100"), /* not rate mode */
		ARGV("--mode", "pingpong", "--depth", "4"),
		ARGV("--mode", "rate", "--rate", "10", "--depth", "2"),
		ARGV("--duration", "0"),
		ARGV("--duration", "1e3"),
		ARGV("--duration", "1h"),
		ARGV("--duration", "1 s"),
		ARGV("--warmup", "-1"),
		ARGV("--threads", "3", "--conns", "2"),
		ARGV("--cpu", "1-0"),
		ARGV("--cpu", "a"),
		ARGV("--cpus", "a"),
		ARGV("--csv=1"),
		ARGV("--csv", "--json"),
		ARGV("--label", "a,b"),
		ARGV("--host", "localhost"),
		ARGV("--port", "70000"),
		ARGV("--bogus"),
		ARGV("extra"),
		ARGV("--engine", "select"),
		ARGV("--engine"),
	};
	static struct h_srv p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = load_run(&p, 9, bad[i]);

		const char *nl = strchr(p.err, '\n');

		/* One error line, then the hint (not the whole usage). */
		if (rc != 2 || !nl || strncmp(p.err, "echo-load: ", 11) ||
		    strcmp(nl + 1, "Try 'echo-load --help' for more "
				   "information.\n"))
			fail_msg("case %zu (%s): exit %d, stderr %s", i,
				 bad[i][0], rc, p.err);
	}
	/* Without --port at all. */
	proc_start(&p, ARGV(load_bin, "--conns", "1"));
	assert_int_equal(h_srv_wait(&p, 5000, NULL), 0);
	assert_int_equal(h_srv_exit_code(&p), 2);
	proc_start(&p, ARGV(load_bin, "--help"));
	assert_int_equal(h_srv_wait(&p, 5000, NULL), 0);
	assert_int_equal(h_srv_exit_code(&p), 0);
	assert_non_null(strstr(p.out, "--mode"));
	proc_start(&p, ARGV(load_bin, "-h"));
	assert_int_equal(h_srv_wait(&p, 5000, NULL), 0);
	assert_int_equal(h_srv_exit_code(&p), 0);
	assert_non_null(strstr(p.out, "--mode"));
	proc_start(&p, ARGV(load_bin, "--version"));
	assert_int_equal(h_srv_wait(&p, 5000, NULL), 0);
	assert_int_equal(h_srv_exit_code(&p), 0);
	assert_non_null(strstr(p.out, "echo-load "));
}

/*
 * Many connections on one thread: more sends in one loop iteration than
 * the io_uring engine's submission queue holds (4096), so it must submit
 * part of the batch early; every byte is still verified.
 */
static void t_many(void **state)
{
	char conns[16];
	struct rlimit rl;
	unsigned long n = 5000;
	struct row r;

	(void)state;
	/* echo-load and ready-echo each need one descriptor per connection;
	 * both raise their soft limit up to the hard one. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < 2 * n + 200)
		n = rl.rlim_max > 400 ? (unsigned long)(rl.rlim_max - 200) / 2
				      : 100;
	snprintf(conns, sizeof(conns), "%lu", n);
	clean_run("127.0.0.1", "epoll",
		  ARGV("--conns", conns, "--duration", "0.5", "--warmup", "0.2",
		       "--csv"),
		  false, &r);
	check_clean(&r, "pingpong");
	assert_string_equal(field(&r, "conns"), conns);
}

/* Messages far larger than a socket buffer: every send fills the socket
 * and waits for room, its echo arrives in many pieces. */
static void t_stream_big(void **state)
{
	struct row r;

	(void)state;
	clean_run("127.0.0.1", "epoll",
		  ARGV("--mode", "stream", "--conns", "3", "--size", "1m",
		       "--duration", "1", "--warmup", "0.2", "--csv"),
		  false, &r);
	check_clean(&r, "stream");
	assert_true(num(&r, "mib_per_s") > 1.0);
}

/* Deep pipeline with odd-sized messages: sends carry many messages and
 * echoes end mid-message. */
static void t_pipeline_deep(void **state)
{
	struct row r;

	(void)state;
	clean_run("127.0.0.1", "epoll",
		  ARGV("--mode", "pipeline", "--depth", "64", "--conns", "5",
		       "--size", "1000", "--threads", "2", "--duration", "1",
		       "--warmup", "0.2", "--csv"),
		  false, &r);
	check_clean(&r, "pipeline");
	assert_string_equal(field(&r, "depth"), "64");
}

/* Does `echo-load --engine uring` run here? (It checks before dialling.) */
static bool uring_works(void)
{
	static struct h_srv p;

	proc_start(&p, ARGV(load_bin, "--port", "9", "--engine", "uring",
			    "--duration", "0.1", "--warmup", "0"));
	if (h_srv_wait(&p, 5000, NULL)) {
		h_srv_stop(&p, SIGKILL, 5000, NULL);
		return false;
	}
	return !strstr(p.err, "--engine uring:");
}

/* Without --engine: io_uring where it works, else epoll, said so. */
static void t_engine_auto(void **state)
{
	const char *want = uring_works() ? "uring" : "epoll";
	static struct h_srv srv, load;
	unsigned port;
	struct row r;

	(void)state;
	engine = NULL;
	port = server_start(&srv, "127.0.0.1", "epoll");
	if (load_run(&load, port,
		     ARGV("--conns", "3", "--duration", "0.5", "--warmup",
			  "0.1", "--csv")))
		fail_msg("echo-load failed; stderr: %s", load.err);
	server_stop(&srv);
	csv_parse(load.out, &r);
	check_clean(&r, "pingpong");
	assert_string_equal(field(&r, "engine"), want);
	if (!strcmp(want, "epoll") && !strstr(load.err, "using epoll"))
		fail_msg("fell back to epoll without saying why: %s", load.err);
	if (!strstr(load.err,
		    strcmp(want, "uring") ? "engine epoll" : "engine uring ("))
		fail_msg("the start-up line lacks the engine: %s", load.err);
}

/*
 * io_uring refused (a seccomp filter, as in Docker): by default echo-load
 * says why and runs on epoll; --engine uring fails with the reason.
 */
static void t_engine_fallback(void **state)
{
	static struct h_srv srv, load, probe;
	unsigned port;
	struct row r;
	int rc;

	(void)state;
	engine = NULL;
	deny_uring = true;
	proc_start(&probe, ARGV(load_bin, "--version"));
	assert_int_equal(h_srv_wait(&probe, 5000, NULL), 0);
	if (h_srv_exit_code(&probe) == H_EXIT_SETUP) {
		H_SKIP("cannot install a seccomp filter");
	}
	deny_uring = false;
	port = server_start(&srv, "127.0.0.1", "epoll");
	deny_uring = true;
	rc = load_run(&load, port,
		      ARGV("--conns", "2", "--duration", "0.5", "--warmup",
			   "0.1", "--csv"));
	if (rc)
		fail_msg("echo-load exit %d; stderr: %s", rc, load.err);
	csv_parse(load.out, &r);
	check_clean(&r, "pingpong");
	assert_string_equal(field(&r, "engine"), "epoll");
	if ((!strstr(load.err, "io_uring engine unavailable: io_uring_setup: "
			       "Operation not permitted") ||
	     !strstr(load.err, "using epoll")) &&
	    !strstr(load.err, "built without liburing"))
		fail_msg("no fallback note: %s", load.err);
	if (!strstr(load.err, "built without liburing")) {
		rc = load_run(
		    &load, port,
		    ARGV("--engine", "uring", "--duration", "0.3", "--csv"));
		assert_int_equal(rc, 1);
		if (!strstr(load.err, "--engine uring: io_uring_setup: "
				      "Operation not permitted"))
			fail_msg("no reason given: %s", load.err);
		assert_string_equal(load.out, "");
	}
	deny_uring = false;
	server_stop(&srv);
}

static int teardown(void **state)
{
	(void)state;
	if (live_server)
		h_srv_free(live_server);
	live_server = NULL;
	return 0;
}

static const struct h_scenario load_scenarios[] = {
	{ "pingpong", t_pingpong },
	{ "pipeline", t_pipeline },
	{ "stream", t_stream },
	{ "rate", t_rate },
	{ "json", t_json },
	{ "threads", t_threads },
	{ "idle", t_idle },
	{ "ipv6", t_ipv6 },
	{ "rate_stall", t_rate_stall },
	{ "evil_flip", t_evil_flip },
	{ "evil_drop", t_evil_drop },
	{ "evil_extra", t_evil_extra },
	{ "evil_close", t_evil_close },
	{ "evil_silent", t_evil_silent },
	{ "no_server", t_no_server },
	{ "bad_usage", t_bad_usage },
	{ "sigint", t_sigint },
	{ "many", t_many },
	{ "stream_big", t_stream_big },
	{ "pipeline_deep", t_pipeline_deep },
	{ "engine_auto", t_engine_auto },
	{ "engine_fallback", t_engine_fallback },
};

static int load_init(int argc, char **argv)
{
	if (argc != 2 && argc != 3)
		return 2;
	load_bin = argv[0];
	server_bin = argv[1];
	engine = argc == 3 ? argv[2] : NULL;
	signal(SIGPIPE, SIG_IGN);
	if (engine && !strcmp(engine, "uring") && !uring_works()) {
		printf("skipped: echo-load --engine uring does not run here\n");
		return 77;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct h_prog prog = {
		.prog = "test_load",
		.group = "load",
		.args = "ECHO_LOAD READY_ECHO [ENGINE]",
		H_TABLE(load_scenarios),
		.init = load_init,
		.teardown = teardown,
	};

	return h_main(&prog, argc, argv);
}
