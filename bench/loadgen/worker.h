/* SPDX-License-Identifier: MIT */
/*
 * worker.h - one generator thread: its connections, its own epoll loop,
 * its own histogram and counters.
 *
 * Threads share only the read-only run description and the phase; main
 * reads a worker's results after joining it. Nothing here exits.
 */
#ifndef LOAD_WORKER_H
#define LOAD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "flow.h"
#include "hist.h"
#include "pace.h"

enum worker_phase {
	WORKER_WARMUP, /* traffic, not counted */
	WORKER_MEASURE, /* traffic, counted */
	WORKER_STOP, /* leave the loop now */
};

/* What all workers of a run share. */
struct worker_run {
	struct flow_cfg fcfg;
	struct pace pace; /* rate mode; t0 is set before worker_go */
	uint64_t seed; /* run seed of the byte streams */
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
	int err; /* the thread could not run (affinity) or its wait
		  * failed: -errno, and the run fails */
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
	int epfd;
	int evfd; /* main writes here to announce a phase change */
	struct worker_conn *conns;
	struct flow_rec *recs;
	uint8_t *txbuf; /* stream bytes [tx_base, +tx_len) of tx_owner */
	struct worker_conn *tx_owner;
	uint64_t tx_base;
	size_t tx_len;
	uint8_t *rxbuf;
	struct worker_conn *pend; /* connections with work left, FIFO */
	struct worker_conn **pend_tail;
};

/* worker_run_init - set up run's phase and start line (fcfg, pace and seed
 * are the caller's). 0 or -errno. */
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

/* worker_start - start the thread; it pins itself (result in res.err),
 * reports ready and waits for worker_go. 0 or -errno. */
int worker_start(struct worker *w);

/* worker_wake - make the thread look at run->phase now. */
void worker_wake(struct worker *w);

/* worker_join - wait for the thread to leave (after WORKER_STOP). */
void worker_join(struct worker *w);

/* worker_destroy - close the connections and free everything; the thread
 * must not be running. Idempotent; a zeroed worker is left alone. */
void worker_destroy(struct worker *w);

#endif
