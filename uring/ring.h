/* SPDX-License-Identifier: MIT */
/*
 * ring.h - the io_uring: setup with flag fallback, op probe, SQE getter.
 *
 * It knows nothing of connections or user_data; it sets the ring up with
 * the best flags the kernel takes, says what it got, never drops an SQE,
 * and counts only the io_uring_enter calls really made (SQPOLL makes most
 * submits free). Functions return 0 / -errno; none prints or exits.
 */
#ifndef URING_RING_H
#define URING_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/utsname.h>

#include <liburing.h>

/* liburing 2.3 predates these (Linux 6.10, 6.12 and 6.2). */
#ifndef IORING_FEAT_RECVSEND_BUNDLE
#define IORING_FEAT_RECVSEND_BUNDLE (1U << 14)
#endif
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

/* IORING_SETUP_DEFER_TASKRUN: by default if the kernel has it, or forced. */
enum ring_defer {
	RING_DEFER_AUTO, /* on where the kernel has it (Linux 6.1) */
	RING_DEFER_ON, /* on, or fail: --defer-taskrun */
	RING_DEFER_OFF, /* off, COOP_TASKRUN instead: --no-defer-taskrun */
};

struct ring_config {
	unsigned entries; /* SQ entries asked for */
	unsigned cq_entries; /* CQ entries wanted: the worst case in flight */
	bool cq_forced; /* cq_entries exactly, even if it can overflow */
	enum ring_defer defer; /* must be RING_DEFER_OFF with sqpoll */
	bool sqpoll; /* IORING_SETUP_SQPOLL: a kernel thread submits */
	int sq_cpu; /* with sqpoll: the thread's CPU (SQ_AFF), or -1 */
	unsigned sq_idle_ms; /* with sqpoll: spin this long before sleeping */
	unsigned min_wait_us; /* ring_wait's batch budget (not under sqpoll) */
};

struct ring {
	struct io_uring ring;
	unsigned flags; /* IORING_SETUP_* in effect */
	unsigned dropped; /* IORING_SETUP_* wanted, refused by the kernel */
	unsigned sq_entries; /* as the kernel sized them */
	unsigned cq_entries;
	bool cq_forced;
	int sq_cpu; /* SQPOLL thread's CPU, or -1 */
	unsigned sq_idle_ms;
	bool fd_registered; /* io_uring_register_ring_fd worked */
	/* min_wait_us - with IORING_FEAT_MIN_TIMEOUT (Linux 6.12): a wait
	 * aims for *batch completions for up to this long, then returns
	 * with the first; 0: off (always under SQPOLL). batch - the target
	 * (the loop points it at its count of connections), NULL: 1. */
	unsigned min_wait_us;
	const uint32_t *batch;
	uint64_t enters; /* io_uring_enter calls made through here */
	uint64_t wakeups; /* SQPOLL: enters that woke the sleeping thread */
	uint64_t sq_full; /* SQEs that found the SQ full: submitted early */
	uint64_t busy; /* submits refused with -EBUSY/-EAGAIN, retried */
	uint64_t cq_backlog; /* reaps that saw CQEs on the overflow list */
	uint64_t cq_dropped; /* CQEs the kernel lost (cq.koverflow) */
	/* quiet - queued SQEs whose completion needs no action of its own
	 * (ring_wait waits for them plus one more); 0 after any submit. */
	unsigned quiet;
	/* reap - called when the kernel refuses a submit until completions
	 * are taken off the CQ (-EBUSY): copy them out, do not handle them. */
	void (*reap)(void *ctx);
	void *reap_ctx;
	int err; /* first fatal submit error (ring_sqe returned NULL), or 0 */
};

/*
 * ring_init - set up r with the best flags the kernel accepts: on -EINVAL
 * drop the newest optional flag and retry, noting it in r->dropped (SQPOLL,
 * asked for, is never dropped). Registers the ring fd where possible.
 * Returns 0, or -errno with a one-line reason (no program name, no newline)
 * in why: io_uring unavailable (-EPERM, -ENOSYS), RLIMIT_MEMLOCK too small
 * (-ENOMEM), DEFER_TASKRUN forced but missing, SQPOLL refused.
 */
int ring_init(struct ring *r, const struct ring_config *cfg, char *why,
	      size_t whylen);

/* ring_require - check that the kernel supports every IORING_OP_* in ops;
 * 0, or -EOPNOTSUPP with the first missing op and its Linux version in why. */
int ring_require(struct ring *r, const uint8_t *ops, size_t n, char *why,
		 size_t whylen);

/*
 * ring_memlock_why - if err (a negative errno from setting up or
 * registering what) can be RLIMIT_MEMLOCK's doing, write a one-line reason
 * naming it and the remedy into why and return true. It can when err is
 * -ENOMEM, the limit is finite and the process lacks CAP_IPC_LOCK: the
 * kernel then charges the rings and the pinned buffer ring to the user's
 * locked memory (Linux before 5.12, and again on 6.18 as measured).
 */
bool ring_memlock_why(int err, const char *what, char *why, size_t whylen);

/* ring_kernel - the running kernel's release ("6.18.0"), or "unknown";
 * u is the storage it points into. */
const char *ring_kernel(struct utsname *u);

/* ring_kernel_at_least - the running kernel is at least major.minor
 * (false if uname cannot say). */
bool ring_kernel_at_least(int major, int minor);

/* ring_has_op - the kernel supports IORING_OP_* op (false if unknown). */
bool ring_has_op(struct ring *r, uint8_t op);

/*
 * ring_sqe - a free SQE. When the SQ is full, submits what is queued and
 * retries (reaping on -EBUSY; under SQPOLL waking the thread and waiting
 * for room), so no SQE is ever dropped. NULL only on a fatal submit error,
 * then kept in r->err.
 */
struct io_uring_sqe *ring_sqe(struct ring *r);

/* ring_wait - submit everything queued and wait for at least one CQE, at
 * most timeout_ms (< 0: no limit); if CQEs are already waiting, only
 * submit. With r->quiet SQEs queued, wait for quiet + 1 CQEs instead, for
 * at most RING_QUIET_MS (then the next wait is an ordinary one): their
 * completions alone need not wake the loop. With r->min_wait_us, wait for
 * *r->batch CQEs (if more) for up to that long, then for the first one.
 * 0, or -ETIME, -EINTR, -EBUSY, -EAGAIN (all harmless: reap and carry on)
 * or another -errno (fatal). */
int ring_wait(struct ring *r, int timeout_ms);

#define RING_QUIET_MS 10

/* ring_note_overflow - after a reap: count the kernel's overflow state. */
void ring_note_overflow(struct ring *r);

/* ring_describe - "ring-entries=N cq-entries=M flags=A|B ..." into buf
 * (NUL-terminated, truncated); returns its length like snprintf. */
int ring_describe(const struct ring *r, char *buf, size_t len);

/* ring_flags_text - the names of the IORING_SETUP_* flags in flags,
 * "A|B|..." ("none" if none), into buf (NUL-terminated, truncated);
 * returns the names' length, 0 for none. */
int ring_flags_text(unsigned flags, char *buf, size_t len);

/* ring_exit - tear the ring down; in-flight requests are cancelled. */
void ring_exit(struct ring *r);

#endif
