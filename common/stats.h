/* SPDX-License-Identifier: MIT */
/*
 * stats.h - the counters both servers keep, and their one-line text form.
 *
 * Formatting only (into a caller's buffer): no I/O here. The line is
 * "stats: name=value name=value ...", stable so scripts can read it.
 */
#ifndef ECHO_STATS_H
#define ECHO_STATS_H

#include <stddef.h>
#include <stdint.h>

/* X(name, meaning): one place lists every counter. */
#define STATS_COUNTERS(X)                                                      \
	X(accepted, "connections accepted")                                    \
	X(closed, "connections closed")                                        \
	X(active, "connections open now")                                      \
	X(peak, "most connections open at once")                               \
	X(bytes_in, "bytes received")                                          \
	X(bytes_out, "bytes echoed")                                           \
	X(loops, "event loop iterations")                                      \
	X(waits, "wait calls: select, poll, epoll_wait, io_uring_enter")       \
	X(wait_events, "events or completions returned by waits")              \
	X(ctls, "interest changes: epoll_ctl calls")                           \
	X(accept_calls, "accept calls")                                        \
	X(recv_calls, "recv calls")                                            \
	X(send_calls, "send calls")                                            \
	X(shutdowns, "write sides shut after EOF")                             \
	X(short_sends, "sends that took less than offered")                    \
	X(eagain, "recv or send calls that found nothing to do")               \
	X(full, "times a connection stopped reading: output buffer full")      \
	X(resets, "connections ended by a reset: ECONNRESET, EPIPE, ENOTCONN") \
	X(conn_errors, "connections ended by another error")                   \
	X(stale, "events for a closed or reused connection, dropped")          \
	X(emfile, "accept failures for lack of descriptors, backed off")       \
	X(accept_errors, "other accept failures")                              \
	X(at_limit, "times accepting paused at --max-conns")                   \
	X(refused_fd, "connections refused: descriptor above FD_SETSIZE")      \
	X(nomem, "connections closed: no buffer memory")                       \
	X(bufs_live, "connection buffers allocated now")                       \
	X(held_max, "most bytes one connection held unechoed (its bound)")     \
	X(cancels, "io_uring: cancel requests issued")                         \
	X(enobufs, "io_uring: receives stopped, buffer ring empty (-ENOBUFS)") \
	X(ring_waits, "io_uring: recvs held back until own-ring bytes left")   \
	X(rearms, "io_uring: multishot requests armed again after ending")     \
	X(pbufs_out, "io_uring: provided buffers out of the ring now")         \
	X(stop_left, "io_uring: requests still out at the stop deadline")      \
	X(sq_full, "io_uring: SQ full, submitted early")                       \
	X(submit_busy, "io_uring: submits refused with -EBUSY, retried")       \
	X(cq_overflow, "io_uring: reaps that found CQEs on the overflow list") \
	X(over_limit, "io_uring: accepted past --max-conns in flight, closed") \
	X(zc_sends, "io_uring: zero-copy sends (IORING_OP_SEND_ZC)")           \
	X(zc_notifs, "io_uring: zero-copy notifications: buffer released")     \
	X(zc_copied, "io_uring: zero-copy sends the kernel copied anyway")     \
	X(zc_refused, "io_uring: zero-copy sends refused (-ENOMEM), copied")   \
	X(sq_wakeups, "io_uring: enters that woke the SQPOLL thread")          \
	X(bundles, "io_uring: recv completions that filled several buffers")   \
	X(eintr, "waits interrupted by a signal (EINTR)")

struct stats {
#define STATS_FIELD(name, help) uint64_t name;
	STATS_COUNTERS(STATS_FIELD)
#undef STATS_FIELD
};

/*
 * stats_format - write "stats: a=1 b=2 ...\n" into buf (NUL-terminated,
 * truncated to len). Returns the length it needed, like snprintf.
 */
int stats_format(const struct stats *s, char *buf, size_t len);

#endif
