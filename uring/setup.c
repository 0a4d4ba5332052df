// SPDX-License-Identifier: MIT
/*
 * setup.c - one uring-echo loop set up and torn down: the ring with its
 * feature flags, the probes, the mode (and its fallback to basic), and the
 * start-up line; then loop.c serves.
 *
 * The only file that picks a mode (modes.h): the table below.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "loop_int.h"
#include "modes.h"
#include "net.h"
#include "team.h"

#define SETUP_OPS_PER_CONN 4 /* recv, send and a cancel of each */
#define SETUP_OPS_EXTRA 8 /* accept, signal poll, their cancels */
#define SETUP_FILES_SPARE 8 /* direct descriptors besides --max-conns */
/* --sqpoll: how long the kernel thread polls an idle SQ before it sleeps
 * (and the next submit must wake it); it spins on a CPU meanwhile. Well
 * under SERVE_BACKOFF_MS, so that a server paused at EMFILE, retrying an
 * accept every 100 ms, leaves the thread asleep most of the time. */
#define SETUP_SQ_IDLE_MS 10

/* The modes, by name; the first needs nothing and is the fallback. */
static const struct uring_mode *const setup_modes[] = {
	&uring_mode_basic,
	&uring_mode_multishot,
};

#define SETUP_NMODES (sizeof(setup_modes) / sizeof(setup_modes[0]))

/* The IORING_OP_* every mode needs, probed at start-up. */
static const uint8_t setup_ops[] = {
	IORING_OP_ACCEPT,  IORING_OP_RECV,	   IORING_OP_SEND,
	IORING_OP_SENDMSG, IORING_OP_ASYNC_CANCEL, IORING_OP_POLL_ADD,
};

const struct uring_mode *uring_mode_find(const char *name)
{
	size_t i;

	for (i = 0; i < SETUP_NMODES; i++)
		if (!strcmp(setup_modes[i]->name, name))
			return setup_modes[i];
	return NULL;
}

const struct uring_mode *uring_mode_default(void)
{
	return &uring_mode_multishot;
}

bool uring_mode_bundles(const struct uring_mode *m)
{
	return m->bundles;
}

const char *uring_mode_names(void)
{
	static char names[64];
	size_t i, off = 0;
	const char *sep = "";

	for (i = 0; i < SETUP_NMODES && off < sizeof(names); i++) {
		off += (size_t)snprintf(names + off, sizeof(names) - off,
					"%s%s", sep, setup_modes[i]->name);
		sep = ", ";
	}
	return names;
}

/* Zero-copy sends (Linux 6.0), checked after the ring; 0 or -errno with
 * a one-line reason in why. */
static int setup_zc(struct loop *l, const struct uring_config *cfg,
		    const char *kernel, char *why, size_t whylen)
{
	/* A send of several spans is SENDMSG_ZC (Linux 6.1). */
	static const uint8_t zc_ops[] = { IORING_OP_CONNECT,
					  IORING_OP_SENDMSG_ZC };
	int ret;

	if (!cfg->zc_min)
		return 0;
	if (!ring_has_op(&l->r, IORING_OP_SEND_ZC)) {
		snprintf(why, whylen,
			 "--send-zc: this kernel (Linux %s) lacks "
			 "IORING_OP_SEND_ZC, which needs Linux 6.0 (run "
			 "without --send-zc)",
			 kernel);
		return -EOPNOTSUPP;
	}
	/* A connection that must close while its peer sits on zero-copy
	 * bytes is reset with a connect request (see loop_abort). */
	ret = ring_require(&l->r, zc_ops, sizeof(zc_ops), why, whylen);
	if (ret)
		return ret;
	/*
	 * Every zero-copy send to a local socket is copied anyway (the
	 * kernel's MSG_ZEROCOPY notes: a deferred copy, reported as
	 * IORING_NOTIF_USAGE_ZC_COPIED), so on a loopback listener it cannot
	 * pay; and a peer with a small receive window gets one segment per
	 * probe timer (measured: 64 KiB to a 2 KiB SO_RCVBUF in 13 s against
	 * 0.0 s copying). Refused there, unless forced to exercise the path.
	 */
	l->zc_loopback_off =
	    cfg->zc_min && !cfg->zc_loopback && net_is_loopback(l->sv.lfd);
	l->prep.zc_min = l->zc_loopback_off ? 0 : cfg->zc_min;
	/* Linux 6.2 can say whether a zero-copy send was copied anyway (as
	 * it is over loopback); earlier kernels refuse the flag. */
	if (ring_kernel_at_least(6, 2))
		l->prep.zc_flags = IORING_SEND_ZC_REPORT_USAGE;
	return 0;
}

/* Direct descriptors: a sparse file table (Linux 5.19). */
static int setup_fixed(struct loop *l, unsigned long nofile, char *why,
		       size_t whylen)
{
	static const uint8_t fixed_ops[] = { IORING_OP_CLOSE,
					     IORING_OP_SHUTDOWN };
	int ret;

	ret = ring_require(&l->r, fixed_ops, sizeof(fixed_ops), why, whylen);
	if (ret)
		return ret;
	/* The kernel refuses a table larger than RLIMIT_NOFILE, which
	 * --max-conns is already clamped to (less a reserve). */
	l->files = l->sv.max_conns + SETUP_FILES_SPARE;
	if (l->files > nofile)
		l->files = (unsigned)nofile;
	ret = io_uring_register_files_sparse(&l->r.ring, l->files);
	if (ret) {
		snprintf(why, whylen,
			 "--fixed-files: cannot register a file table of %u "
			 "slots (%s)%s",
			 l->files, strerror(-ret),
			 ret == -EINVAL ? ": direct accept into a sparse "
					  "table needs Linux 5.19"
					: "");
		return ret;
	}
	l->prep.fixed = true;
	return 0;
}

/*
 * The feature flags the kernel must support, checked and set up after the
 * ring: direct descriptors (5.19), zero-copy sends (6.0), recv bundles
 * (6.10), min-wait batches (6.12). A flag the kernel lacks is an error naming the version, never
 * silently ignored. Returns 0 or -errno with a one-line reason in why.
 */
static int setup_features(struct loop *l, const struct uring_config *cfg,
			  unsigned long nofile, char *why, size_t whylen)
{
	struct utsname u;
	const char *kernel = ring_kernel(&u);
	int ret;

	ret = setup_zc(l, cfg, kernel, why, whylen);
	if (ret)
		return ret;
	if (cfg->bundle &&
	    !(l->r.ring.features & IORING_FEAT_RECVSEND_BUNDLE)) {
		snprintf(why, whylen,
			 "--bundle: this kernel (Linux %s) lacks recv bundles "
			 "(IORING_FEAT_RECVSEND_BUNDLE): the feature needs "
			 "Linux 6.10 (run without --bundle)",
			 kernel);
		return -EOPNOTSUPP;
	}
	l->prep.bundle = cfg->bundle;
	if (cfg->min_wait_us &&
	    !(l->r.ring.features & IORING_FEAT_MIN_TIMEOUT)) {
		snprintf(why, whylen,
			 "--min-wait: this kernel (Linux %s) lacks min-wait "
			 "batches (IORING_FEAT_MIN_TIMEOUT): the feature needs "
			 "Linux 6.12 (run without --min-wait)",
			 kernel);
		return -EOPNOTSUPP;
	}
	/* A wait aims for one completion per connection: each has a recv
	 * armed, so no more can come from a ping-pong load, and a single
	 * connection waits for its one completion as without min-wait. */
	l->r.batch = &l->sv.pool.used;
	return cfg->fixed ? setup_fixed(l, nofile, why, whylen) : 0;
}

/* The ring, sized, probed, with the feature flags: 0 or -errno (why). */
static int setup_ring(struct loop *l, const struct uring_config *cfg, char *why,
		      size_t whylen)
{
	static const uint8_t timeout_op[] = { IORING_OP_TIMEOUT };
	struct ring_config rcfg;
	int ret;

	/* Size the CQ for every request that can be out at once, so that
	 * completions never wait in the kernel's overflow list (unless
	 * --cq-entries forces a size). A zero-copy send posts two CQEs. */
	rcfg.entries = cfg->ring_entries;
	rcfg.cq_entries =
	    (SETUP_OPS_PER_CONN + (cfg->zc_min ? 1 : 0)) * l->sv.max_conns +
	    SETUP_OPS_EXTRA + l->mode->cq_extra(cfg);
	rcfg.cq_forced = cfg->cq_entries > 0;
	if (rcfg.cq_forced)
		rcfg.cq_entries = cfg->cq_entries;
	rcfg.defer = cfg->defer;
	rcfg.sqpoll = cfg->sqpoll;
	rcfg.sq_cpu = cfg->sq_cpu;
	rcfg.sq_idle_ms = SETUP_SQ_IDLE_MS;
	rcfg.min_wait_us = cfg->min_wait_us;
	ret = ring_init(&l->r, &rcfg, why, whylen);
	if (ret)
		return ret;
	l->ring_live = true;
	l->r.reap = loop_reap;
	l->r.reap_ctx = l;
	ret = ring_require(&l->r, setup_ops, sizeof(setup_ops), why, whylen);
	/* Without EXT_ARG, liburing times waits out with a TIMEOUT request. */
	if (!ret && !(l->r.ring.features & IORING_FEAT_EXT_ARG))
		ret = ring_require(&l->r, timeout_op, 1, why, whylen);
	if (!ret)
		ret = setup_features(l, cfg, l->sv.tm->nofile, why, whylen);
	return ret;
}

/*
 * The mode's own set-up. Asked for with --mode (or --bundle): a mode that
 * cannot run here fails with the reason. As the default: fall back to
 * basic, and say why in note once serving. Returns 0 or -errno (why).
 */
static int setup_mode(struct loop *l, const struct uring_config *cfg, char *why,
		      size_t whylen, char *note, size_t notelen)
{
	int ret = l->mode->setup(l, cfg, why, whylen);

	if (ret != LOOP_MODE_UNAVAILABLE)
		return ret;
	/* Bundles are multishot receives: no fallback for them either. */
	if (cfg->mode_set || cfg->bundle)
		return -EOPNOTSUPP;
	snprintf(note, notelen, "%s", why);
	l->mode = setup_modes[0];
	return l->mode->setup(l, cfg, why, whylen);
}

/* Accepting and the signal pipe armed: 0 or -errno after one line. */
static int setup_start(struct loop *l, const char *prog)
{
	int fl;

	l->cqe_cap = l->r.cq_entries;
	l->cqes = alloc_calloc(l->cqe_cap, sizeof(*l->cqes));
	if (!l->cqes) {
		fprintf(stderr,
			"%s: cannot allocate a batch of %u completions: %s\n",
			prog, l->cqe_cap, strerror(ENOMEM));
		return -ENOMEM;
	}
	/* Untouched pages cost nothing: a slot's spans are written only
	 * when it sends. */
	l->tx = alloc_calloc(l->sv.pool.cap, sizeof(*l->tx));
	l->tx_wanted_cap = 2 * l->sv.pool.cap;
	l->tx_wanted = alloc_calloc(l->tx_wanted_cap, sizeof(*l->tx_wanted));
	if (!l->tx || !l->tx_wanted) {
		fprintf(stderr,
			"%s: cannot allocate the send spans of %u "
			"connections: %s\n",
			prog, l->sv.pool.cap, strerror(ENOMEM));
		return -ENOMEM;
	}
	/* On an O_NONBLOCK listener some kernels complete an accept with
	 * -EAGAIN instead of waiting for a connection (liburing issue #364);
	 * io_uring never blocks the thread on a blocking socket anyway. */
	fl = fcntl(l->sv.lfd, F_GETFL);
	if (fl < 0 || fcntl(l->sv.lfd, F_SETFL, fl & ~O_NONBLOCK)) {
		fl = errno;
		fprintf(stderr, "%s: cannot set up the listener: %s\n", prog,
			strerror(fl));
		return -fl;
	}
	l->sv.lstate = SERVE_LISTEN_ON;
	l->mode->arm_accept(l);
	loop_arm_signal(l);
	if (l->r.err) {
		fprintf(stderr, "%s: cannot submit to the io_uring: %s\n", prog,
			strerror(-l->r.err));
		return l->r.err;
	}
	return 0;
}

/* " fixed-files=N send-zc>=M bundle min-wait=Uus": the features in use,
 * for the start-up line (SQPOLL is in the ring's part). */
static void setup_describe(const struct loop *l, const struct uring_config *cfg,
			   char *buf, size_t len)
{
	char files[32] = "", zc[32] = "", mw[32] = "";

	if (l->prep.fixed)
		snprintf(files, sizeof(files), " fixed-files=%u", l->files);
	if (l->prep.zc_min)
		snprintf(zc, sizeof(zc), " send-zc>=%u", l->prep.zc_min);
	else if (l->zc_loopback_off)
		snprintf(zc, sizeof(zc), " send-zc=off(loopback)");
	if (l->r.min_wait_us)
		snprintf(mw, sizeof(mw), " min-wait=%uus", l->r.min_wait_us);
	else if (cfg->min_wait_us)
		snprintf(mw, sizeof(mw), " min-wait=off(sqpoll)");
	snprintf(buf, len, "%s%s%s%s", files, zc,
		 l->prep.bundle ? " bundle" : "", mw);
}

/* Start-up warnings and the one line with the effective configuration,
 * printed once the listener exists so a failure to listen stays one line.
 * note: why the default mode fell back, or "". */
static void setup_announce(const struct loop *l, const struct uring_config *cfg,
			   const char *note)
{
	const struct team_member *tm = l->sv.tm;
	const char *prog = tm->prog;
	char desc[384], mode[128], feat[128], team[128];

	serve_warn_nofile(&l->sv, tm->nofile, cfg->o.max_conns, tm->max_total);
	if (l->zc_loopback_off)
		fprintf(stderr,
			"%s: --send-zc: off on a loopback listener: the kernel "
			"copies every zero-copy send to a local socket, and a "
			"peer with a small receive window would crawl "
			"(--send-zc-loopback forces it)\n",
			prog);
	if (cfg->min_wait_us && !l->r.min_wait_us)
		fprintf(stderr,
			"%s: --min-wait: off under --sqpoll: the kernel thread "
			"submits, and waits keep their usual path\n",
			prog);
	if (note[0])
		fprintf(stderr, "%s: multishot unavailable (%s): using basic\n",
			prog, note);
	ring_describe(&l->r, desc, sizeof(desc));
	l->mode->describe(l, mode, sizeof(mode));
	setup_describe(l, cfg, feat, sizeof(feat));
	team_describe(tm, team, sizeof(team));
	fprintf(stderr,
		"%s: mode=%s %s max-conns=%u buf-size=%u%s%s nofile=%lu%s%s\n",
		prog, l->mode->name, desc, tm->max_total, cfg->o.buf_size, mode,
		feat, tm->nofile, cfg->o.stats ? " stats=1s" : "", team);
}

static void setup_fail(struct loop *l, int err)
{
	if (err == -EBADR)
		fprintf(stderr,
			"%s: io_uring lost %llu completions (CQ overflow)\n",
			l->sv.prog, (unsigned long long)l->r.cq_dropped);
	else
		fprintf(stderr, "%s: io_uring_enter failed: %s\n", l->sv.prog,
			strerror(-err));
}

/* Serve until stopped; the member's return code. */
static int setup_serve(struct loop *l, const struct uring_config *cfg,
		       const char *note)
{
	int ret, rc = 1;

	if (team_ready(l->sv.tm, 0)) {
		/* Another loop failed to set up: stop before serving. */
		rc = 0;
		goto stop;
	}
	if (!l->sv.tm->quiet)
		setup_announce(l, cfg, note);
	ret = loop_serve(l);
	if (ret)
		setup_fail(l, ret);
	else
		rc = 0;
stop:
	loop_stop(l);
	serve_member_end(&l->sv);
	return rc;
}

/* One loop of the team (common/team.h): the whole server with --threads 1. */
static int uring_member(void *arg, struct team_member *tm)
{
	const struct uring_config *cfg = arg;
	char why[512], note[512] = "";
	bool ready = false;
	struct loop *l;
	int rc = 1;

	l = serve_member_new(tm, sizeof(*l));
	if (!l)
		return 1;
	l->mode = cfg->mode;
	if (serve_member_init(&l->sv, tm, &cfg->o, sizeof(struct uring_conn)))
		goto err_member;
	l->sv.refresh = loop_refresh_stats;
	if (setup_ring(l, cfg, why, sizeof(why)) ||
	    setup_mode(l, cfg, why, sizeof(why), note, sizeof(note))) {
		fprintf(stderr, "%s: %s\n", tm->prog, why);
		goto err_ring;
	}
	if (setup_start(l, tm->prog))
		goto err_ring;
	ready = true;
	rc = setup_serve(l, cfg, note);
err_ring:
	alloc_free(l->cqes);
	alloc_free(l->tx);
	alloc_free(l->tx_wanted);
	/* A ring torn down at stop (loop_stop) took the registration with
	 * it; the buffers and tables are still ours to free. */
	bufring_free(&l->br, l->ring_live ? &l->r.ring : NULL);
	if (l->ring_live)
		ring_exit(&l->r);
	serve_member_fini(&l->sv);
err_member:
	if (!ready)
		team_ready(tm, -EINVAL);
	alloc_free(l);
	return rc;
}

int uring_run(const struct uring_config *cfg, const char *prog)
{
	return team_run(&cfg->o, prog, uring_member, (void *)cfg);
}
