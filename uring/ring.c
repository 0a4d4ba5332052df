// SPDX-License-Identifier: MIT
/*
 * ring.c - io_uring setup with flag fallback, op probe and the SQE getter.
 *
 * Tries the best setup flags and drops them newest first on -EINVAL, so
 * one binary runs on older kernels and says what it got. Prints nothing:
 * failures come back as -errno with a one-line reason for the caller.
 * Counts the io_uring_enter calls liburing really makes, and those made
 * here by hand (min-wait batches, which liburing 2.3 cannot ask for).
 */
#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "ring.h"

#define RING_RETRIES 1000 /* submits in a row refused before giving up */
/* A min-wait enter needs an overall timeout: without one, the kernel ends
 * the wait when the min-wait budget runs out, events or not (6.18's
 * io_cqring_min_timer_wakeup), and an idle loop would wake every budget.
 * "No limit" is a day: the loop simply waits again. */
#define RING_FOREVER_S 86400

struct ring_name {
	unsigned v;
	const char *name;
	const char *since; /* the Linux version that added it */
};

/* Setup flags in the order the start-up line shows them. */
static const struct ring_name ring_flag_names[] = {
	{ IORING_SETUP_SQPOLL, "SQPOLL", "5.11" },
	{ IORING_SETUP_SQ_AFF, "SQ_AFF", "5.11" },
	{ IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER", "6.0" },
	{ IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN", "6.1" },
	{ IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN", "5.19" },
	{ IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL", "5.18" },
	{ IORING_SETUP_CQSIZE, "CQSIZE", "5.5" },
	{ IORING_SETUP_CLAMP, "CLAMP", "5.6" },
};

/* On -EINVAL the first of these still set is dropped: newest first, so
 * an older kernel loses only what it lacks. */
static const unsigned ring_fallback[] = {
	IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_SINGLE_ISSUER,
	IORING_SETUP_COOP_TASKRUN,  IORING_SETUP_SUBMIT_ALL,
	IORING_SETUP_CLAMP,	    IORING_SETUP_CQSIZE,
};

static const struct ring_name ring_feat_names[] = {
	{ IORING_FEAT_NODROP, "NODROP", "5.5" },
	{ IORING_FEAT_FAST_POLL, "FAST_POLL", "5.7" },
	{ IORING_FEAT_EXT_ARG, "EXT_ARG", "5.11" },
	{ IORING_FEAT_RECVSEND_BUNDLE, "RECVSEND_BUNDLE", "6.10" },
	{ IORING_FEAT_MIN_TIMEOUT, "MIN_TIMEOUT", "6.12" },
};

static const struct ring_name ring_op_names[] = {
	{ IORING_OP_POLL_ADD, "POLL_ADD", "5.1" },
	{ IORING_OP_TIMEOUT, "TIMEOUT", "5.4" },
	{ IORING_OP_ACCEPT, "ACCEPT", "5.5" },
	{ IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL", "5.5" },
	{ IORING_OP_READ, "READ", "5.6" },
	{ IORING_OP_SEND, "SEND", "5.6" },
	{ IORING_OP_SENDMSG, "SENDMSG", "5.3" },
	{ IORING_OP_RECV, "RECV", "5.6" },
	{ IORING_OP_CONNECT, "CONNECT", "5.5" },
	{ IORING_OP_CLOSE, "CLOSE", "5.6" },
	{ IORING_OP_PROVIDE_BUFFERS, "PROVIDE_BUFFERS", "5.7" },
	{ IORING_OP_SHUTDOWN, "SHUTDOWN", "5.11" },
	{ IORING_OP_SEND_ZC, "SEND_ZC", "6.0" },
	{ IORING_OP_SENDMSG_ZC, "SENDMSG_ZC", "6.1" },
};

#define RING_N(a) (sizeof(a) / sizeof((a)[0]))

static const struct ring_name *ring_find(const struct ring_name *t, size_t n,
					 unsigned v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].v == v)
			return &t[i];
	return NULL;
}

const char *ring_kernel(struct utsname *u)
{
	return uname(u) ? "unknown" : u->release;
}

bool ring_kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

/* CAP_IPC_LOCK exempts a process from RLIMIT_MEMLOCK accounting. */
static bool ring_cap_ipc_lock(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &
	       CAP_TO_MASK(CAP_IPC_LOCK);
}

bool ring_memlock_why(int err, const char *what, char *why, size_t whylen)
{
	struct rlimit rl;

	if (err != -ENOMEM || getrlimit(RLIMIT_MEMLOCK, &rl) ||
	    rl.rlim_cur == RLIM_INFINITY || ring_cap_ipc_lock())
		return false;
	/* The charge is per user, summed over all of its rings, so even a
	 * limit above this ring's size can be used up by others. */
	snprintf(why, whylen,
		 "%s: %s: RLIMIT_MEMLOCK is %llu KiB, too small: the kernel "
		 "charges io_uring rings and buffer rings to the user's locked "
		 "memory: raise it (ulimit -l, or LimitMEMLOCK= in a systemd "
		 "unit) or use a smaller --ring-entries, --max-conns or --bufs",
		 what, strerror(-err), (unsigned long long)rl.rlim_cur / 1024);
	return true;
}

/* A reason for a failed io_uring_setup, as the user can act on it. */
static void ring_why_setup(int err, const struct ring_config *cfg, char *why,
			   size_t whylen)
{
	if (cfg->sqpoll && err == -EPERM) {
		snprintf(why, whylen,
			 "--sqpoll: io_uring_setup refused IORING_SETUP_SQPOLL "
			 "(%s): before Linux 5.11 it needs CAP_SYS_ADMIN",
			 strerror(-err));
		return;
	}
	if (cfg->sqpoll && cfg->sq_cpu >= 0 && err == -EINVAL) {
		snprintf(
		    why, whylen,
		    "--sqpoll=%d: io_uring_setup refused the SQPOLL thread "
		    "on CPU %d (%s): is it online and in this process's "
		    "CPU set?",
		    cfg->sq_cpu, cfg->sq_cpu, strerror(-err));
		return;
	}
	if (err == -EPERM || err == -ENOSYS) {
		snprintf(why, whylen,
			 "io_uring is unavailable (io_uring_setup: %s): check "
			 "sysctl kernel.io_uring_disabled and any seccomp "
			 "profile (Docker's default blocks io_uring)",
			 strerror(-err));
		return;
	}
	/* Ring memory is charged to RLIMIT_MEMLOCK before Linux 5.12, then
	 * to the memory cgroup only, and again to RLIMIT_MEMLOCK on newer
	 * kernels (measured on 6.18: the SQ/CQ rings and the buffer ring). */
	if (ring_memlock_why(err, "cannot set up the io_uring: io_uring_setup",
			     why, whylen))
		return;
	if (err == -ENOMEM) {
		snprintf(why, whylen,
			 "cannot set up the io_uring (io_uring_setup: %s): try "
			 "a smaller --ring-entries or --max-conns",
			 strerror(-err));
		return;
	}
	snprintf(why, whylen, "cannot set up the io_uring (io_uring_setup: %s)",
		 strerror(-err));
}

int ring_init(struct ring *r, const struct ring_config *cfg, char *why,
	      size_t whylen)
{
	struct io_uring_params p;
	struct utsname u;
	unsigned want, f;
	size_t i = 0;
	int ret;

	memset(r, 0, sizeof(*r));
	r->sq_cpu = -1;
	want = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_SUBMIT_ALL |
	       IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
	/* DEFER_TASKRUN runs completions only inside our own io_uring_enter
	 * with GETEVENTS; without it, COOP_TASKRUN at least spares us the
	 * interrupts that would run them at any moment. SQPOLL excludes both
	 * (6.18 refuses them with -EINVAL): requests are issued by the
	 * kernel's thread, which runs their task work itself. */
	if (cfg->sqpoll)
		want |= IORING_SETUP_SQPOLL;
	else if (cfg->defer == RING_DEFER_OFF)
		want |= IORING_SETUP_COOP_TASKRUN;
	else
		want |= IORING_SETUP_DEFER_TASKRUN;
	if (cfg->sqpoll && cfg->sq_cpu >= 0)
		want |= IORING_SETUP_SQ_AFF;
	for (;;) {
		memset(&p, 0, sizeof(p));
		p.flags = want;
		p.sq_thread_idle = cfg->sq_idle_ms;
		p.sq_thread_cpu = cfg->sq_cpu >= 0 ? (unsigned)cfg->sq_cpu : 0;
		/* The kernel wants cq_entries >= sq_entries. */
		p.cq_entries = cfg->cq_entries;
		if (!cfg->cq_forced && p.cq_entries < 2 * cfg->entries)
			p.cq_entries = 2 * cfg->entries;
		ret = io_uring_queue_init_params(cfg->entries, &r->ring, &p);
		if (ret != -EINVAL)
			break;
		while (i < RING_N(ring_fallback) && !(want & ring_fallback[i]))
			i++;
		if (i == RING_N(ring_fallback))
			break;
		f = ring_fallback[i++];
		if (f == IORING_SETUP_DEFER_TASKRUN &&
		    cfg->defer == RING_DEFER_ON) {
			snprintf(
			    why, whylen,
			    "--defer-taskrun: this kernel (Linux %s) lacks "
			    "IORING_SETUP_DEFER_TASKRUN, which needs Linux 6.1 "
			    "(run without it or with --no-defer-taskrun)",
			    ring_kernel(&u));
			return -EOPNOTSUPP;
		}
		want &= ~f;
		r->dropped |= f;
		if (f == IORING_SETUP_DEFER_TASKRUN)
			want |= IORING_SETUP_COOP_TASKRUN;
	}
	if (ret) {
		ring_why_setup(ret, cfg, why, whylen);
		return ret;
	}
	r->flags = r->ring.flags;
	r->sq_entries = p.sq_entries;
	r->cq_entries = p.cq_entries;
	r->cq_forced = cfg->cq_forced;
	if (r->flags & IORING_SETUP_SQPOLL) {
		r->sq_idle_ms = cfg->sq_idle_ms;
		r->sq_cpu = cfg->sq_cpu;
	} else {
		/* Under SQPOLL the waits keep liburing's path (see
		 * ring_wait_min): the thread submits, not the enter. */
		r->min_wait_us = cfg->min_wait_us;
	}
	/* Enter by registered index: skips the fd lookup on every enter. */
	r->fd_registered = io_uring_register_ring_fd(&r->ring) == 1;
	return 0;
}

int ring_require(struct ring *r, const uint8_t *ops, size_t n, char *why,
		 size_t whylen)
{
	const struct ring_name *nm;
	struct io_uring_probe *probe;
	struct utsname u;
	size_t i;

	probe = io_uring_get_probe_ring(&r->ring);
	if (!probe) {
		snprintf(why, whylen,
			 "cannot probe io_uring ops on Linux %s "
			 "(IORING_REGISTER_PROBE needs Linux 5.6)",
			 ring_kernel(&u));
		return -EOPNOTSUPP;
	}
	for (i = 0; i < n; i++) {
		if (io_uring_opcode_supported(probe, ops[i]))
			continue;
		nm = ring_find(ring_op_names, RING_N(ring_op_names), ops[i]);
		snprintf(
		    why, whylen,
		    "io_uring op %s is missing on Linux %s (it needs Linux %s)",
		    nm ? nm->name : "?", ring_kernel(&u), nm ? nm->since : "?");
		io_uring_free_probe(probe);
		return -EOPNOTSUPP;
	}
	io_uring_free_probe(probe);
	return 0;
}

bool ring_has_op(struct ring *r, uint8_t op)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(&r->ring);
	bool ok = probe && io_uring_opcode_supported(probe, op);

	io_uring_free_probe(probe);
	return ok;
}

static unsigned ring_kflags(const struct ring *r)
{
	/* A full barrier first, as liburing does: the flags are read after
	 * the SQ tail was published. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(r->ring.sq.kflags, __ATOMIC_RELAXED);
}

/*
 * Submit what is queued, without waiting. liburing enters the kernel only
 * when it must: SQEs queued (under SQPOLL only to wake a sleeping thread),
 * or CQ overflow or task work to flush. The same test decides what is
 * counted, so that waits stay equal to the enters really made (read just
 * before liburing reads them, the flags may rarely change in between).
 */
static int ring_submit(struct ring *r)
{
	bool queued = io_uring_sq_ready(&r->ring) > 0;
	unsigned kf = ring_kflags(r);
	bool sqpoll = r->flags & IORING_SETUP_SQPOLL;

	/* Submitted apart from a wait: their completions are ordinary. */
	r->quiet = 0;
	if (queued && sqpoll && (kf & IORING_SQ_NEED_WAKEUP))
		r->wakeups++;
	if ((queued && (!sqpoll || (kf & IORING_SQ_NEED_WAKEUP))) ||
	    (kf & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)))
		r->enters++;
	return io_uring_submit(&r->ring);
}

/*
 * Submit without waiting, as ring_submit, but with DEFER_TASKRUN also run
 * the deferred task work: that is where completions are posted, and it
 * runs only in an enter that asks for events. Submitting alone, again and
 * again while completions keep waiting, would never post a cancelled
 * recv's -ECANCELED or a signal poll's completion (a livelock).
 */
static int ring_submit_events(struct ring *r)
{
	if (!(r->flags & IORING_SETUP_DEFER_TASKRUN))
		return ring_submit(r);
	r->quiet = 0;
	r->enters++;
	return io_uring_submit_and_get_events(&r->ring);
}

/* SQPOLL with a full SQ: hand over what is queued and wait until the
 * thread has taken some (waking it in the same enter if it sleeps). */
static int ring_sq_wait(struct ring *r)
{
	int ret = ring_submit(r);

	if (ret < 0 || io_uring_sq_space_left(&r->ring))
		return ret;
	if (ring_kflags(r) & IORING_SQ_NEED_WAKEUP)
		r->wakeups++;
	r->enters++;
	return io_uring_enter((unsigned)r->ring.ring_fd, 0, 0,
			      IORING_ENTER_SQ_WAKEUP | IORING_ENTER_SQ_WAIT,
			      NULL);
}

struct io_uring_sqe *ring_sqe(struct ring *r)
{
	struct io_uring_sqe *sqe;
	unsigned refused = 0;
	int ret;

	while (!(sqe = io_uring_get_sqe(&r->ring))) {
		r->sq_full++;
		if (r->flags & IORING_SETUP_SQPOLL)
			ret = ring_sq_wait(r);
		else
			ret = ring_submit(r);
		if (ret >= 0 || ret == -EINTR)
			continue;
		/* -EBUSY: the CQ and its overflow list are full, the kernel
		 * takes no more until we consume; -EAGAIN: it is short of
		 * memory for requests. Either way, make room and retry. */
		if ((ret == -EBUSY || ret == -EAGAIN) &&
		    ++refused < RING_RETRIES) {
			r->busy++;
			if (r->reap)
				r->reap(r->reap_ctx);
			continue;
		}
		if (!r->err)
			r->err = ret;
		return NULL;
	}
	return sqe;
}

/*
 * Publish the SQEs queued since the last submit, as liburing's internal
 * __io_uring_flush_sq does before its own enters: the tail store makes
 * them the kernel's. Returns how many the kernel has yet to take. Never
 * under SQPOLL, whose thread may read the tail at any moment.
 */
static unsigned ring_flush_sq(struct ring *r)
{
	struct io_uring_sq *sq = &r->ring.sq;
	unsigned tail = sq->sqe_tail;

	if (sq->sqe_head != tail) {
		sq->sqe_head = tail;
		__atomic_store_n(sq->ktail, tail, __ATOMIC_RELEASE);
	}
	return tail - __atomic_load_n(sq->khead, __ATOMIC_RELAXED);
}

/*
 * Submit and wait for want CQEs for up to r->min_wait_us, then return as
 * soon as there is one, within tp overall (NULL: RING_FOREVER_S). One
 * enter, made by hand: liburing 2.3 has no min-wait call, and its getevents
 * argument calls the kernel's min_wait_usec field "pad". The result is
 * the enter's: the count submitted, or -errno.
 */
static int ring_wait_min(struct ring *r, unsigned want,
			 struct __kernel_timespec *tp)
{
	struct __kernel_timespec forever = { .tv_sec = RING_FOREVER_S };
	struct io_uring_getevents_arg arg = {
		.sigmask_sz = _NSIG / 8,
		.pad = r->min_wait_us,
		.ts = (uint64_t)(uintptr_t)(tp ? tp : &forever),
	};
	unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
	unsigned submit = ring_flush_sq(r);
	int fd = r->ring.ring_fd;

	if (r->fd_registered) {
		flags |= IORING_ENTER_REGISTERED_RING;
		fd = r->ring.enter_ring_fd;
	}
	return io_uring_enter2((unsigned)fd, submit, want, flags,
			       (sigset_t *)&arg, sizeof(arg));
}

int ring_wait(struct ring *r, int timeout_ms)
{
	struct __kernel_timespec ts, *tp = NULL;
	struct io_uring_cqe *cqe;
	unsigned want = 1;
	int ret;

	/* Completions already waiting (posted while the last batch was being
	 * handled): do not block, and under SQPOLL do not enter at all
	 * unless the thread sleeps. */
	if (io_uring_cq_ready(&r->ring)) {
		ret = ring_submit_events(r);
		return ret < 0 ? ret : 0;
	}
	if ((r->flags & IORING_SETUP_SQPOLL) && io_uring_sq_ready(&r->ring) &&
	    (ring_kflags(r) & IORING_SQ_NEED_WAKEUP))
		r->wakeups++;
	/*
	 * Quiet SQEs (say, a connection's last bytes echoed, its recv still
	 * armed) complete inline most of the time: waiting for one CQE would
	 * return at once for them and cost a second enter for the event that
	 * matters. Wait for them plus one, bounded: a quiet send held up by a
	 * peer that does not read must not delay a signal or an accept for
	 * long. Under SQPOLL the thread submits; keep it simple there.
	 */
	if (r->quiet && !(r->flags & IORING_SETUP_SQPOLL)) {
		want += r->quiet;
		if (timeout_ms < 0 || timeout_ms > RING_QUIET_MS)
			timeout_ms = RING_QUIET_MS;
	}
	r->quiet = 0;
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
		tp = &ts;
	}
	/* Only when the batch aims higher than the plain wait would: the
	 * min-wait timer costs its own (at one connection, on a 6.18 guest,
	 * 1.7 times the CPU per message for no fewer enters). */
	if (r->min_wait_us && r->batch && *r->batch > want) {
		want = *r->batch;
		ret = ring_wait_min(r, want, tp);
	} else {
		/* One enter both submits and waits; with EXT_ARG the timeout
		 * rides along in it, without it liburing queues a timeout
		 * SQE. */
		ret = io_uring_submit_and_wait_timeout(&r->ring, &cqe, want, tp,
						       NULL);
	}
	r->enters++;
	/* A signal that cuts short a wait which also submitted does not
	 * surface as -EINTR: the kernel returns the count submitted. No CQE
	 * and no -ETIME is that case. */
	if (ret >= 0 && !io_uring_cq_ready(&r->ring))
		return -EINTR;
	return ret < 0 ? ret : 0;
}

void ring_note_overflow(struct ring *r)
{
	unsigned flags = __atomic_load_n(r->ring.sq.kflags, __ATOMIC_RELAXED);
	unsigned lost = __atomic_load_n(r->ring.cq.koverflow, __ATOMIC_RELAXED);

	/* With IORING_FEAT_NODROP the kernel keeps CQEs that found the CQ
	 * full on a list and flags it; cq.koverflow counts only those it
	 * could not keep. */
	if (flags & IORING_SQ_CQ_OVERFLOW)
		r->cq_backlog++;
	r->cq_dropped = lost;
}

static int ring_names(char *buf, size_t len, const struct ring_name *t,
		      size_t n, unsigned v)
{
	size_t i, off = 0;
	int k;

	if (len)
		buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (!(v & t[i].v))
			continue;
		k = snprintf(off < len ? buf + off : NULL,
			     off < len ? len - off : 0, "%s%s", off ? "|" : "",
			     t[i].name);
		if (k > 0)
			off += (size_t)k;
	}
	if (!off)
		snprintf(buf, len, "none");
	return (int)off;
}

int ring_describe(const struct ring *r, char *buf, size_t len)
{
	char flags[160], feat[96], dropped[128], sq[64] = "";

	ring_names(flags, sizeof(flags), ring_flag_names,
		   RING_N(ring_flag_names), r->flags);
	ring_names(feat, sizeof(feat), ring_feat_names, RING_N(ring_feat_names),
		   r->ring.features);
	ring_names(dropped, sizeof(dropped), ring_flag_names,
		   RING_N(ring_flag_names), r->dropped);
	if (r->sq_cpu >= 0)
		snprintf(sq, sizeof(sq), " sq-idle=%ums sq-cpu=%d",
			 r->sq_idle_ms, r->sq_cpu);
	else if (r->flags & IORING_SETUP_SQPOLL)
		snprintf(sq, sizeof(sq), " sq-idle=%ums", r->sq_idle_ms);
	return snprintf(
	    buf, len,
	    "ring-entries=%u cq-entries=%u%s flags=%s feat=%s%s ring-fd=%s%s%s",
	    r->sq_entries, r->cq_entries, r->cq_forced ? " cq-forced" : "",
	    flags, feat, sq, r->fd_registered ? "registered" : "plain",
	    r->dropped ? " fell-back=" : "", r->dropped ? dropped : "");
}

int ring_flags_text(unsigned flags, char *buf, size_t len)
{
	return ring_names(buf, len, ring_flag_names, RING_N(ring_flag_names),
			  flags);
}

void ring_exit(struct ring *r)
{
	io_uring_queue_exit(&r->ring);
}
