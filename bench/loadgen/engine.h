/* SPDX-License-Identifier: MIT */
/*
 * engine.h - the interface between the generator thread (worker.c) and its
 * I/O engines, a file each (engine_epoll.c, engine_uring.c).
 *
 * worker.c runs the thread: pinning, the start line, phases, results, and
 * the bookkeeping both engines share (the pace schedule, echoes counted or
 * only verified, the drain's shutdowns). An engine only moves bytes
 * between the sockets and flow.c; what to send and what an echo means is
 * decided there. Each engine exports one const struct worker_engine and
 * keeps its state in w->eng. Not for main.c.
 */
#ifndef LOAD_ENGINE_H
#define LOAD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "pace.h"
#include "worker.h"

#define WORKER_BUF (256u * 1024u) /* largest send, largest recv */
#define WORKER_RELEASE_MAX 65536 /* rate slots released per wakeup */
#define WORKER_DRAIN_NS 1000000000ull /* wait for the last echoes, at most */

/* One active connection: its socket and its traffic. */
struct worker_conn {
	int fd; /* -1 once closed */
	struct flow f;
};

struct worker_engine {
	const char *name;
	/*
	 * probe - can this engine run on this kernel with run's settings?
	 * Called once by main before any worker exists. 0 with a one-line
	 * description of what it will use in msg, or -errno with a one-line
	 * reason in msg (no program name, no newline). NULL: always works.
	 */
	int (*probe)(const struct worker_run *run, char *msg, size_t len);
	/* init - main thread, connections and flows ready: allocate w->eng
	 * and register what needs no thread. 0 or -errno; destroy undoes it
	 * even after a failure. */
	int (*init)(struct worker *w);
	/* start - in the thread, pinned, before the start line: set up what
	 * must belong to the thread. 0, or -errno after printing why.
	 * NULL: nothing to do. */
	int (*start)(struct worker *w);
	/* loop - traffic until worker_running() says stop; then drain. */
	void (*loop)(struct worker *w);
	/* drain - shut the write sides and read the echoes in flight to each
	 * server EOF (verified, not counted), at most WORKER_DRAIN_NS. */
	void (*drain)(struct worker *w);
	/* stop - in the thread, last: tear down what start set up. NULL:
	 * nothing to do. */
	void (*stop)(struct worker *w);
	/* destroy - main thread, thread gone: free w->eng (connections are
	 * closed by worker.c). Must accept w->eng NULL. */
	void (*destroy)(struct worker *w);
};

extern const struct worker_engine engine_epoll;
#ifdef LOAD_HAVE_URING
extern const struct worker_engine engine_uring;
#endif

/* worker_now - CLOCK_MONOTONIC in ns. */
uint64_t worker_now(void);

/*
 * worker_running - look at the run's phase: at the end of the warm-up
 * reset the histogram and counters and start the clocks; at WORKER_STOP
 * note the thread's CPU and wall time in w->res and return false.
 */
bool worker_running(struct worker *w);

/* worker_fail - close connection i after error err (-EPROTO: a wrong byte,
 * -EPIPE: closed by the server, else the socket error), count it and say
 * why (a bounded number of lines per run, all threads). */
void worker_fail(struct worker *w, unsigned i, int err);

/* worker_pace_init - in rate mode, with connections: point pc at this
 * thread's share of the schedule and return true; else false. */
bool worker_pace_init(struct worker *w, struct pace_cursor *pc);

/* worker_release - rate mode: release every slot of pc due by now (at most
 * WORKER_RELEASE_MAX) to its open connection and call due(w, i) for it.
 * Returns when the next slot is due (ns), the engine's wait deadline. */
uint64_t worker_release(struct worker *w, struct pace_cursor *pc, uint64_t now,
			void (*due)(struct worker *w, unsigned i));

/* worker_echoed - n echoed bytes of connection i arrived in buf at now:
 * verified, then timed and counted, or while draining verified only.
 * 0, or -EPROTO (a wrong byte: the caller closes i). */
int worker_echoed(struct worker *w, unsigned i, const void *buf, size_t n,
		  uint64_t now, bool draining);

/* worker_shut_writes - the drain begins: shut the write side of every
 * open connection; one that fails goes to fail(w, i, -errno). Returns
 * how many are still open. */
unsigned worker_shut_writes(struct worker *w,
			    void (*fail)(struct worker *w, unsigned i,
					 int err));

#endif
