// SPDX-License-Identifier: MIT
/*
 * main.c - echo-load: connect, run the workers through warm-up and the
 * measured interval, merge their results, print them, pick the exit code.
 *
 * exit() happens only here; everything below returns 0 / -errno.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dial.h"
#include "net.h"
#include "report.h"
#include "worker.h"

#define LOAD_CONNECT_MS 5000
#define LOAD_SPARE_FDS 32 /* stdio, epoll and eventfds, slack */

static volatile sig_atomic_t load_stop;

static void load_on_signal(int sig)
{
	(void)sig;
	load_stop = 1;
}

static uint64_t load_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* User + sys CPU of the whole process (every thread), ns. */
static uint64_t load_cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
		   1000000000ull +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
		   1000ull;
}

/* Sleep until the monotonic deadline, or until SIGINT/SIGTERM. */
static void load_sleep_until(uint64_t deadline)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline / 1000000000ull),
		.tv_nsec = (long)(deadline % 1000000000ull),
	};

	while (!load_stop &&
	       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
		;
}

/* Does epoll_pwait2 (Linux 5.11) work here? Probe once, with no wait. */
static bool load_probe_pwait2(void)
{
	struct timespec zero = { 0, 0 };
	struct epoll_event ev;
	int fd = epoll_create1(EPOLL_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = epoll_pwait2(fd, &ev, 1, &zero, NULL) >= 0;
	close(fd);
	return ok;
}

static int load_signals(void)
{
	struct sigaction sa = { .sa_handler = load_on_signal };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		return -errno;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL))
		return -errno;
	return 0;
}

/* Connect n sockets into fds; on failure close them and say so. */
static int load_dial(const struct cli *c, int *fds, unsigned n,
		     const char *what)
{
	unsigned i;
	int fd;

	for (i = 0; i < n; i++) {
		fd = dial_tcp(c->host, c->port, LOAD_CONNECT_MS);
		if (fd < 0) {
			fprintf(stderr,
				"echo-load: cannot connect to %s port %u "
				"(%s connection %u of %u): %s\n",
				c->host, c->port, what, i + 1, n,
				strerror(-fd));
			while (i--)
				close(fds[i]);
			return fd;
		}
		fds[i] = fd;
	}
	return 0;
}

/*
 * Pick the engine: the one asked for, or the first that works here (the
 * io_uring one, if built, else epoll), saying why when it falls back.
 * desc gets the engine's configuration. 0, or -errno (said why).
 */
static int load_engine(const struct cli *c, struct worker_run *run, char *desc,
		       size_t len)
{
	const struct worker_engine *e;
	char why[256];
	int rc;

	if (c->engine) {
		e = worker_engine_find(c->engine);
		if (!e) {
			fprintf(stderr,
				"echo-load: --engine %s: not in this build "
				"(built without liburing)\n",
				c->engine);
			return -EOPNOTSUPP;
		}
		rc = worker_engine_probe(e, run, desc, len);
		if (rc) {
			fprintf(stderr, "echo-load: --engine %s: %s\n",
				c->engine, desc);
			return rc;
		}
		run->engine = e;
		return 0;
	}
	e = worker_engine_find("uring");
	if (!e) {
		fputs("echo-load: no io_uring engine in this build (built "
		      "without liburing): using epoll\n",
		      stderr);
	} else if (worker_engine_probe(e, run, why, sizeof(why))) {
		fprintf(stderr,
			"echo-load: io_uring engine unavailable: %s: "
			"using epoll\n",
			why);
	} else {
		snprintf(desc, len, "%s", why);
		run->engine = e;
		return 0;
	}
	run->engine = worker_engine_find("epoll");
	return worker_engine_probe(run->engine, run, desc, len);
}

static void load_banner(const struct cli *c, const struct worker_run *run,
			const char *engine)
{
	const char *timer = "io_uring_enter (ns)";
	unsigned i;

	if (run->engine == worker_engine_find("epoll"))
		timer = run->precise_timer ? "epoll_pwait2 (ns)"
					   : "epoll_wait (ms)";
	fprintf(stderr,
		"echo-load: %s port %u, mode %s, conns %u, idle %u, threads "
		"%u, size %u, depth %u, rate %llu, warmup %.3f s, duration "
		"%.3f s, seed %llu, engine %s, timer %s, cpus ",
		c->host, c->port, cli_mode_name(c->mode), c->conns, c->idle,
		c->threads, c->size, c->depth, (unsigned long long)c->rate,
		(double)c->warmup_ns / 1e9, (double)c->duration_ns / 1e9,
		(unsigned long long)c->seed, engine, timer);
	for (i = 0; i < c->ncpus && i < c->threads; i++)
		fprintf(stderr, "%s%d", i ? "," : "", c->cpus[i]);
	fprintf(stderr, "%s\n", c->ncpus ? "" : "any");
}

/* Announce a phase to every worker. */
static void load_phase(struct worker_run *run, struct worker *w, unsigned n,
		       int phase)
{
	unsigned i;

	atomic_store_explicit(&run->phase, phase, memory_order_release);
	for (i = 0; i < n; i++)
		worker_wake(&w[i]);
}

/* Count idle connections the server closed, reset or wrote to. */
static uint64_t load_check_idle(const int *fds, unsigned n)
{
	uint64_t bad = 0;
	unsigned i;
	int rc;

	for (i = 0; i < n; i++) {
		rc = dial_alive(fds[i]);
		if (!rc)
			continue;
		if (!bad++)
			fprintf(stderr, "echo-load: idle connection %u: %s\n",
				i + 1,
				rc == -EPIPE	? "closed by the server"
				: rc == -EPROTO ? "the server sent bytes"
						: strerror(-rc));
	}
	return bad;
}

/* Write h to path in the .hgrm form (microseconds); 0 or -errno. */
static int load_write_hdr(const char *path, const struct hist *h)
{
	int need = report_hgrm(h, 1000.0, NULL, 0);
	char *text = malloc((size_t)need + 1u);
	FILE *f;
	int rc = 0;

	if (!text)
		return -ENOMEM;
	report_hgrm(h, 1000.0, text, (size_t)need + 1u);
	f = fopen(path, "w");
	if (!f || fputs(text, f) == EOF)
		rc = -errno;
	if (f && fclose(f) && !rc)
		rc = -errno;
	free(text);
	return rc;
}

/* Merge the workers' results into r and their histograms into h. */
static void load_merge(const struct cli *c, struct worker *w, uint64_t wall_ns,
		       uint64_t cpu_ns, struct report *r, struct hist *h)
{
	double pct;
	unsigned i;

	hist_reset(h);
	for (i = 0; i < c->threads; i++) {
		hist_merge(h, &w[i].hist);
		r->msgs += w[i].res.fc.msgs;
		r->bytes += w[i].res.fc.bytes;
		r->verify_errors += w[i].res.verify_errors;
		r->conn_errors += w[i].res.conn_errors;
		pct = w[i].res.wall_ns ? 100.0 * (double)w[i].res.cpu_ns /
					     (double)w[i].res.wall_ns
				       : 0.0;
		if (pct > r->gen_thread_max_pct)
			r->gen_thread_max_pct = pct;
	}
	r->errors = r->verify_errors + r->conn_errors;
	r->gen_cpu_pct = wall_ns ? 100.0 * (double)cpu_ns / (double)wall_ns : 0;
	report_fill(r, h);
}

/* Print r in the form --csv / --json / text asks for (the text goes to
 * stderr when stdout has the machine form). */
static void load_print(const struct cli *c, const struct report *r)
{
	char text[2048], line[4096];

	report_text(r, text, sizeof(text));
	fputs(text, c->out == CLI_OUT_TEXT ? stdout : stderr);
	if (c->out == CLI_OUT_CSV) {
		report_csv_header(line, sizeof(line));
		fputs(line, stdout);
		report_csv_row(r, line, sizeof(line));
		fputs(line, stdout);
	} else if (c->out == CLI_OUT_JSON) {
		report_json(r, line, sizeof(line));
		fputs(line, stdout);
	}
	fflush(stdout);
}

/* The exit status of a printed run: 1 if a thread failed, a byte or a
 * connection went wrong, or nothing was echoed; else 0. */
static int load_verdict(const struct cli *c, const struct worker *w,
			const struct report *r)
{
	unsigned i;

	for (i = 0; i < c->threads; i++) {
		if (w[i].res.err) {
			fprintf(stderr, "echo-load: thread %u failed: %s\n", i,
				strerror(-w[i].res.err));
			return 1;
		}
	}
	if (r->errors) {
		fprintf(stderr, "echo-load: %llu errors\n",
			(unsigned long long)r->errors);
		return 1;
	}
	if (!r->msgs) {
		fprintf(stderr, "echo-load: no message was echoed in the "
				"measured interval\n");
		return 1;
	}
	return 0;
}

/* Merge the workers into r and h; print; return the exit status. */
static int load_report(const struct cli *c, const struct worker_run *run,
		       struct worker *w, uint64_t wall_ns, uint64_t cpu_ns,
		       uint64_t idle_bad, struct hist *h)
{
	struct report r = {
		.label = c->label,
		.engine = worker_engine_name(run->engine),
		.mode = cli_mode_name(c->mode),
		.conns = c->conns,
		.idle = c->idle,
		.threads = c->threads,
		.size = c->size,
		.depth = c->depth,
		.rate = c->rate,
		.warmup_s = (double)c->warmup_ns / 1e9,
		.duration_s = (double)wall_ns / 1e9,
		.conn_errors = idle_bad,
	};
	int rc;

	load_merge(c, w, wall_ns, cpu_ns, &r, h);
	load_print(c, &r);
	if (c->hdr && (rc = load_write_hdr(c->hdr, h))) {
		fprintf(stderr, "echo-load: --hdr %s: %s\n", c->hdr,
			strerror(-rc));
		return 1;
	}
	if (h->clamped)
		fprintf(stderr,
			"echo-load: %llu latencies above 60 s were counted "
			"as 60 s\n",
			(unsigned long long)h->clamped);
	return load_verdict(c, w, &r);
}

/*
 * Start the workers, run warm-up and measurement, stop and join them.
 * *wall_ns and *cpu_ns get the measured interval and the process CPU in it.
 * 0, or -errno if a worker could not start (nothing measured).
 */
static int load_drive(const struct cli *c, struct worker_run *run,
		      struct worker *w, uint64_t *wall_ns, uint64_t *cpu_ns)
{
	uint64_t t0, tm0 = 0, cpu0 = 0;
	sigset_t block, old;
	unsigned i, started = 0;
	int rc = 0;

	/* Workers inherit a mask without SIGINT/SIGTERM, so main gets them. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (i = 0; i < c->threads && !rc; i++) {
		rc = worker_start(&w[i]);
		started += !rc;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		fprintf(stderr, "echo-load: cannot start a thread: %s\n",
			strerror(-rc));
	worker_await(run, started);
	for (i = 0; i < started && !rc; i++) {
		rc = w[i].res.err;
		if (rc && w[i].res.pin_failed)
			fprintf(stderr,
				"echo-load: cannot pin thread %u to CPU %d: "
				"%s\n",
				i, w[i].cpu, strerror(-rc));
		else if (rc)
			fprintf(stderr,
				"echo-load: thread %u cannot start: %s\n", i,
				strerror(-rc));
	}
	t0 = load_now();
	run->pace.t0 = t0;
	if (rc) {
		atomic_store(&run->phase, WORKER_STOP);
	} else if (!c->warmup_ns) {
		atomic_store(&run->phase, WORKER_MEASURE);
		tm0 = t0;
		cpu0 = load_cpu_ns();
	}
	worker_go(run);
	if (!rc && c->warmup_ns) {
		load_sleep_until(t0 + c->warmup_ns);
		if (load_stop) {
			fprintf(stderr, "echo-load: stopped during warm-up\n");
			rc = -EINTR;
		} else {
			tm0 = load_now();
			cpu0 = load_cpu_ns();
			load_phase(run, w, started, WORKER_MEASURE);
		}
	}
	if (!rc)
		load_sleep_until(tm0 + c->duration_ns);
	*wall_ns = load_now() - tm0;
	*cpu_ns = load_cpu_ns() - cpu0;
	load_phase(run, w, started, WORKER_STOP);
	for (i = 0; i < started; i++)
		worker_join(&w[i]);
	return rc;
}

/* Thread i's first connection: the connections are spread evenly. */
static unsigned load_share(const struct cli *c, unsigned i)
{
	return (unsigned)((uint64_t)i * c->conns / c->threads);
}

/*
 * Hand each worker its share of fds (all c->conns of them). Afterwards
 * every fd belongs to a worker, even on failure: worker_destroy on every
 * worker (calloc'ed, so safe even if never initialised) closes them all.
 */
static int load_workers(const struct cli *c, struct worker_run *run,
			struct worker *w, const int *fds)
{
	unsigned i, first, n, j;
	int rc;

	for (i = 0; i < c->threads; i++) {
		first = load_share(c, i);
		n = load_share(c, i + 1u) - first;
		rc = worker_init(&w[i], run, i,
				 c->ncpus ? c->cpus[i % c->ncpus] : -1,
				 fds + first, first, n);
		if (rc) {
			fprintf(stderr, "echo-load: thread %u: %s\n", i,
				strerror(-rc));
			for (j = load_share(c, i + 1u); j < c->conns; j++)
				close(fds[j]);
			return rc;
		}
	}
	return 0;
}

/* Every CPU that --cpu gives a thread must be one we may run on. */
static int load_check_cpus(const struct cli *c)
{
	cpu_set_t set;
	unsigned i;

	if (!c->ncpus)
		return 0;
	if (sched_getaffinity(0, sizeof(set), &set))
		return -errno;
	for (i = 0; i < c->ncpus && i < c->threads; i++) {
		if (!CPU_ISSET(c->cpus[i], &set)) {
			fprintf(stderr,
				"echo-load: --cpu: CPU %d is not available to "
				"this process\n",
				c->cpus[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* The process may run c: enough descriptors, the CPUs it names, the
 * signal handlers in place. 0, or -1 after saying why. */
static int load_prepare(const struct cli *c)
{
	unsigned long want = (unsigned long)c->conns + c->idle +
			     2ul * c->threads + LOAD_SPARE_FDS;
	unsigned long have = net_nofile(want);

	if (have < want) {
		fprintf(stderr,
			"echo-load: %lu descriptors needed, ulimit -n allows "
			"%lu\n",
			want, have);
		return -1;
	}
	if (load_check_cpus(c))
		return -1;
	if (load_signals()) {
		perror("echo-load: sigaction");
		return -1;
	}
	return 0;
}

/* Fill in run from c, settle the engine (its description into engine)
 * and set up what the workers share. 0, or -1 after saying why; undone by
 * worker_run_destroy only when it returned 0. */
static int load_run_init(const struct cli *c, struct worker_run *run,
			 char *engine, size_t len)
{
	int rc;

	run->fcfg = (struct flow_cfg){
		.mode = c->mode,
		.size = c->size,
		.depth = c->depth,
		.rec_cap = flow_rec_cap(c->mode, c->depth),
		.pace = &run->pace,
	};
	run->pace =
	    (struct pace){ .rate = c->rate ? c->rate : 1, .conns = c->conns };
	run->seed = c->seed;
	run->thread_conns = (c->conns + c->threads - 1u) / c->threads;
	run->precise_timer = load_probe_pwait2();
	if (load_engine(c, run, engine, len))
		return -1;
	rc = worker_run_init(run);
	if (rc) {
		fprintf(stderr, "echo-load: %s\n", strerror(-rc));
		return -1;
	}
	return 0;
}

/* Everything after parsing; returns the exit status. */
static int load_main(const struct cli *c)
{
	struct worker_run *run = NULL;
	struct worker *w = NULL;
	int *idle = NULL, *fds = NULL, status = 1;
	uint64_t wall_ns = 0, cpu_ns = 0, idle_bad;
	struct hist *h = NULL;
	char engine[256];
	unsigned i;

	if (load_prepare(c))
		return 1;
	run = calloc(1, sizeof(*run));
	w = calloc(c->threads, sizeof(*w));
	idle = calloc(c->idle ? c->idle : 1, sizeof(*idle));
	fds = calloc(c->conns, sizeof(*fds));
	h = malloc(sizeof(*h));
	if (!run || !w || !idle || !fds || !h) {
		fputs("echo-load: out of memory\n", stderr);
		goto out_free;
	}
	if (load_run_init(c, run, engine, sizeof(engine)))
		goto out_free;
	load_banner(c, run, engine);

	/* Idle ones first: they take the low descriptors a select or poll
	 * server scans before reaching the busy ones. */
	if (load_dial(c, idle, c->idle, "idle"))
		goto out_run;
	if (load_dial(c, fds, c->conns, "active"))
		goto out_idle;
	if (load_workers(c, run, w, fds))
		goto out_workers;

	if (load_drive(c, run, w, &wall_ns, &cpu_ns))
		goto out_workers;
	idle_bad = load_check_idle(idle, c->idle);
	status = load_report(c, run, w, wall_ns, cpu_ns, idle_bad, h);

out_workers:
	for (i = 0; i < c->threads; i++)
		worker_destroy(&w[i]);
out_idle:
	for (i = 0; i < c->idle; i++)
		close(idle[i]);
out_run:
	worker_run_destroy(run);
out_free:
	free(h);
	free(fds);
	free(idle);
	free(w);
	free(run);
	return status;
}

int main(int argc, char **argv)
{
	struct cli c;
	int rc = cli_parse(&c, argc, argv);

	if (rc == CLI_EXIT)
		exit(0);
	if (rc != CLI_RUN)
		exit(2);
	exit(load_main(&c));
}
