/* SPDX-License-Identifier: MIT */
/*
 * sig.h - signals turned into readable bytes (the self-pipe).
 *
 * A handler only writes one byte per signal into a non-blocking pipe; the
 * loop watches the read end like any other descriptor, so a signal that
 * arrives just before a blocking wait still wakes it. SIGPIPE is ignored.
 */
#ifndef ECHO_SIG_H
#define ECHO_SIG_H

enum {
	SIG_STOP = 1u << 0, /* SIGINT or SIGTERM: shut down */
	SIG_STATS = 1u << 1, /* SIGUSR1: print the counters now */
};

/* sig_install - create the pipe and the handlers; returns the read end
 * (>= 0) or a negative errno. Call once per process. */
int sig_install(void);

/* sig_drain - read everything pending on the pipe; returns SIG_* bits. */
unsigned sig_drain(int rfd);

/* sig_close - restore default handlers and close the pipe. */
void sig_close(void);

#endif
