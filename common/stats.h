/* SPDX-License-Identifier: MIT */
/*
 * stats.h - the counters both servers keep, and their one-line text form.
 *
 * Formatting only (into a caller's buffer): no I/O, no clock here. The line
 * is "stats: final=F uptime_ms=U interval_ms=I name=value ... name_per_s=R
 * ...", stable so scripts can read it; only the program's own counters.
 */
#ifndef ECHO_STATS_H
#define ECHO_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which program keeps a counter (the scope a line or --help shows), and
 * whether the line carries its rate over the interval as NAME_per_s. */
#define STATS_READY 0x1u /* ready-echo */
#define STATS_URING 0x2u /* uring-echo */
#define STATS_BOTH (STATS_READY | STATS_URING)
#define STATS_RATE 0x4u

/* X(name, flags, meaning): one place lists every counter. */
#define STATS_COUNTERS(X)                                                     \
	X(accepted, STATS_BOTH | STATS_RATE, "connections accepted")          \
	X(closed, STATS_BOTH | STATS_RATE, "connections closed")              \
	X(active, STATS_BOTH, "connections open now")                         \
	X(peak, STATS_BOTH, "most connections open at once")                  \
	X(bytes_in, STATS_BOTH | STATS_RATE, "bytes received")                \
	X(bytes_out, STATS_BOTH | STATS_RATE, "bytes echoed")                 \
	X(loops, STATS_BOTH, "event loop iterations")                         \
	X(waits, STATS_BOTH | STATS_RATE,                                     \
	  "wait calls: select, poll, epoll_wait, io_uring_enter")             \
	X(wait_events, STATS_BOTH, "events or completions returned by waits") \
	X(ctls, STATS_READY, "interest changes: epoll_ctl calls")             \
	X(accept_calls, STATS_BOTH, "accept calls")                           \
	X(recv_calls, STATS_BOTH, "recv calls")                               \
	X(send_calls, STATS_BOTH, "send calls")                               \
	X(shutdowns, STATS_BOTH, "write sides shut after EOF")                \
	X(short_sends, STATS_BOTH, "sends that took less than offered")       \
	X(eagain, STATS_BOTH, "recv or send calls that found nothing to do")  \
	X(full, STATS_BOTH,                                                   \
	  "times a connection stopped reading: output buffer full")           \
	X(resets, STATS_BOTH,                                                 \
	  "connections ended by a reset: ECONNRESET, EPIPE, ENOTCONN")        \
	X(conn_errors, STATS_BOTH, "connections ended by another error")      \
	X(stale, STATS_BOTH,                                                  \
	  "events for a closed or reused connection, dropped")                \
	X(emfile, STATS_BOTH,                                                 \
	  "accept failures for lack of descriptors, backed off")              \
	X(accept_errors, STATS_BOTH, "other accept failures")                 \
	X(at_limit, STATS_BOTH, "times accepting paused at --max-conns")      \
	X(refused_fd, STATS_BOTH,                                             \
	  "connections refused: descriptor above FD_SETSIZE (select)")        \
	X(nomem, STATS_BOTH, "connections closed: no buffer memory")          \
	X(bufs_live, STATS_BOTH, "connection buffers allocated now")          \
	X(held_max, STATS_BOTH,                                               \
	  "most bytes one connection held unechoed (its bound)")              \
	X(cancels, STATS_URING, "cancel requests issued")                     \
	X(enobufs, STATS_URING, "receives stopped: buffer ring empty")        \
	X(ring_waits, STATS_URING,                                            \
	  "recvs held back until own-ring bytes left")                        \
	X(rearms, STATS_URING, "multishot requests armed again after ending") \
	X(pbufs_out, STATS_URING, "provided buffers out of the ring now")     \
	X(stop_left, STATS_URING, "requests still out at the stop deadline")  \
	X(sq_full, STATS_URING, "SQ full, submitted early")                   \
	X(submit_busy, STATS_URING, "submits refused with -EBUSY, retried")   \
	X(cq_overflow, STATS_URING,                                           \
	  "reaps that found CQEs on the overflow list")                       \
	X(over_limit, STATS_URING,                                            \
	  "accepted past --max-conns in flight, closed")                      \
	X(zc_sends, STATS_URING, "zero-copy sends (IORING_OP_SEND_ZC)")       \
	X(zc_notifs, STATS_URING, "zero-copy notifications: buffer released") \
	X(zc_copied, STATS_URING, "zero-copy sends the kernel copied anyway") \
	X(zc_refused, STATS_URING,                                            \
	  "zero-copy sends refused (-ENOMEM), copied")                        \
	X(sq_wakeups, STATS_URING, "enters that woke the SQPOLL thread")      \
	X(bundles, STATS_URING,                                               \
	  "recv completions that filled several buffers")                     \
	X(sendmsgs, STATS_URING,                                              \
	  "sends of several spans in one request (SENDMSG)")                  \
	X(send_spans, STATS_URING, "spans those sends carried")               \
	X(slice_copies, STATS_URING,                                          \
	  "received pieces copied to a connection's own ring")                \
	X(eintr, STATS_BOTH, "waits interrupted by a signal (EINTR)")

struct stats {
#define STATS_FIELD(name, flags, help) uint64_t name;
	STATS_COUNTERS(STATS_FIELD)
#undef STATS_FIELD
};

/* When a line is printed and what it covers. */
struct stats_when {
	unsigned scope; /* STATS_READY, STATS_URING or STATS_BOTH */
	bool final; /* the last line, printed at exit */
	int64_t uptime_ms; /* since the server started */
	int64_t interval_ms; /* since the previous line (or the start) */
	const struct stats *prev; /* counters then, for rates; NULL: zeros */
};

/*
 * stats_format - write "stats: final=0 uptime_ms=U interval_ms=I a=1 b=2
 * ... a_per_s=R ...\n" into buf (NUL-terminated, truncated to len): the
 * counters in w->scope, then the rate over the interval of each STATS_RATE
 * one. Returns the length it needed, like snprintf.
 */
int stats_format(const struct stats *s, const struct stats_when *w, char *buf,
		 size_t len);

/* The printer's memory from one line to the next. */
struct stats_meter {
	unsigned scope;
	int64_t start_ms, last_ms; /* caller's clock, milliseconds */
	struct stats last; /* counters at the previous line */
};

/* stats_meter_init - start counting uptime and the first interval at now. */
void stats_meter_init(struct stats_meter *m, unsigned scope, int64_t now_ms);

/* stats_meter_line - stats_format of s at now (final if final), then
 * remember s and now for the next line's rates. Returns as stats_format. */
int stats_meter_line(struct stats_meter *m, const struct stats *s,
		     int64_t now_ms, bool final, char *buf, size_t len);

#endif
