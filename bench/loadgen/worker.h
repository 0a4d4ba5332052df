/* SPDX-License-Identifier: MIT */
/*
 * worker.h - one generator thread: its connections, its own I/O engine
 * (an epoll loop, or an io_uring), its own histogram and counters.
 *
 * Threads share only the read-only run description and the phase; main
 * reads a worker's results after joining it. Nothing here exits.
 */
#ifndef LOAD_WORKER_H
#define LOAD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "hist.h"
#include "pace.h"

enum worker_phase {
	WORKER_WARMUP, /* traffic, not counted */
	WORKER_MEASURE, /* traffic, counted */
	WORKER_STOP, /* leave the loop now */
};

struct worker_engine;

/* What all workers of a run share. */
struct worker_run {
	const struct worker_engine *engine; /* every thread's I/O engine */
	struct flow_cfg fcfg;
	struct pace pace; /* rate mode; t0 is set before worker_go */
	uint64_t seed; /* run seed of the byte streams */
	unsigned thread_conns; /* most connections one thread has */
	bool precise_timer; /* epoll_pwait2 works (else ms timeouts) */
	atomic_int phase; /* enum worker_phase, changed by main only */
	atomic_uint complaints; /* error lines printed so far, bounded */
	/* The start line: workers report ready, then wait for go. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned ready; /* workers pinned and waiting */
	bool go; /* main set pace.t0 and the phase: start */
};

/* Results, valid after worker_join. */
struct worker_result {
	struct flow_count fc; /* msgs and bytes in the measured interval */
	uint64_t verify_errors; /* whole run, warm-up included */
	uint64_t conn_errors; /* whole run: EOF, reset, other errors */
	uint64_t cpu_ns; /* this thread's user + sys CPU while measuring */
	uint64_t wall_ns; /* the measured interval as this thread saw it */
	int err; /* the thread could not run (affinity, engine set-up)
		  * or its wait failed: -errno, and the run fails */
	bool pin_failed; /* err is from pinning to the CPU */
};

struct worker_conn;

struct worker {
	struct worker_run *run;
	unsigned id;
	int cpu; /* pinned to this CPU, or -1 */
	unsigned first; /* global number of its first connection */
	unsigned n; /* its connections */
	struct hist hist; /* measured latencies, ns */
	struct worker_result res;
	/* private to the thread once started */
	pthread_t tid;
	bool started;
	int evfd; /* main writes here to announce a phase change */
	struct worker_conn *conns; /* engine.h */
	struct flow_rec *recs;
	void *eng; /* the engine's own state */
	int seen; /* the phase worker_running saw last */
	uint64_t t0, cpu0; /* wall and CPU clocks when measuring began */
};

/* worker_engine_find - the compiled-in engine called name ("epoll",
 * "uring"), or NULL. */
const struct worker_engine *worker_engine_find(const char *name);

/* worker_engine_name - e's name. */
const char *worker_engine_name(const struct worker_engine *e);

/*
 * worker_engine_probe - can e run here with run's settings? 0 with a
 * one-line description of its configuration in msg, or -errno with a
 * one-line reason in msg (no program name, no newline).
 */
int worker_engine_probe(const struct worker_engine *e,
			const struct worker_run *run, char *msg, size_t len);

/* worker_run_init - set up run's phase and start line (engine, fcfg, pace
 * and seed are the caller's). 0 or -errno. */
int worker_run_init(struct worker_run *run);

/* worker_run_destroy - undo worker_run_init; no worker may be running. */
void worker_run_destroy(struct worker_run *run);

/* worker_await - wait until n started workers are pinned and waiting. */
void worker_await(struct worker_run *run, unsigned n);

/* worker_go - let every waiting worker start (publishes run->pace.t0). */
void worker_go(struct worker_run *run);

/*
 * worker_init - prepare worker id for connections fds[0..n) (numbered
 * first.. in the run), pinned to cpu (-1: not pinned). Takes ownership of
 * the fds: worker_destroy closes them, even if this fails. 0 or -errno.
 */
int worker_init(struct worker *w, struct worker_run *run, unsigned id, int cpu,
		const int *fds, unsigned first, unsigned n);

/* worker_start - start the thread; it pins itself and starts its engine
 * (result in res.err), reports ready and waits for worker_go. 0 or
 * -errno. */
int worker_start(struct worker *w);

/* worker_wake - make the thread look at run->phase now. */
void worker_wake(struct worker *w);

/* worker_join - wait for the thread to leave (after WORKER_STOP). */
void worker_join(struct worker *w);

/* worker_destroy - close the connections and free everything; the thread
 * must not be running. Idempotent; a zeroed worker is left alone. */
void worker_destroy(struct worker *w);

#endif
