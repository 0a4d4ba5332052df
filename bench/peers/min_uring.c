// SPDX-License-Identifier: MIT
/*
 * min_uring.c - a minimal single-file io_uring echo server: the counterpart
 * of min_epoll.c, the reference row that shows what uring-echo's shared core
 * costs. Multishot accept, multishot recv into a provided-buffer ring, each
 * buffer sent back as it is and recycled when its send completes.
 *
 * Small but correct: one send in flight per connection (bytes keep their
 * order), received buffers queued behind it, short sends finished, -ENOBUFS
 * re-armed when buffers come back, EOF closes once every queued byte is
 * sent, identity in user_data is op | generation | fd. No limits, no stats.
 * Usage: min-uring [PORT] [--host ADDR] (port 0 or absent: any; address
 * 127.0.0.1 unless given); prints "listening on ADDR:PORT"; SIGINT/SIGTERM
 * exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

#define MU_ENTRIES 4096
#define MU_NBUFS 4096 /* the most; MIN_URING_BUFS=N (a power of two) less */
#define MU_BUF 8192
#define MU_BGID 1
#define MU_MAX_FDS (1u << 20)
#define MU_NONE 0xffff /* no buffer: the end of a queue */
/* Buffers one connection may hold queued: past it its recv is cancelled,
 * and armed again when half have been sent, so a client that does not
 * read cannot take the whole ring from the others. */
#define MU_CAP 32

/* user_data: op in the top byte, the fd slot's generation, the fd. */
enum { MU_ACCEPT = 1, MU_RECV, MU_SEND, MU_SIGNAL, MU_IGNORE };
#define MU_UD(op, gen, fd) \
	((uint64_t)(op) << 56 | (uint64_t)((gen)&0xffffff) << 32 | (fd))
#define MU_UD_OP(ud) ((unsigned)((ud) >> 56))
#define MU_UD_GEN(ud) ((uint32_t)((ud) >> 32) & 0xffffff)
#define MU_UD_FD(ud) ((int)(uint32_t)(ud))

/* One slot per fd; gen changes at every close, so a stale completion for
 * an earlier connection on the same fd number is dropped. */
struct mu_conn {
	uint32_t gen;
	uint8_t open, recv_armed, sending, eof, err, waiting;
	uint8_t paused, cancelling; /* over MU_CAP; a cancel in flight */
	uint16_t head, tail; /* FIFO of buffer ids, linked by mu_next[] */
	uint16_t qlen; /* buffers in that FIFO */
	uint32_t off; /* bytes of the head buffer already sent */
	int next_wait; /* the list of connections waiting for buffers */
};

static struct io_uring mu_ring;
static struct io_uring_buf_ring *mu_br;
static char *mu_mem;
static uint16_t mu_next[MU_NBUFS], mu_len[MU_NBUFS];
static unsigned mu_nbufs = MU_NBUFS;
static unsigned mu_free, mu_pending; /* buffers in the ring; to publish */
static struct mu_conn *mu_conns;
static unsigned mu_nconns;
static int mu_wait_head = -1;

static struct io_uring_sqe *mu_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&mu_ring);

	/* SQ full: hand what is queued to the kernel and take a fresh one. */
	while (!sqe) {
		io_uring_submit(&mu_ring);
		sqe = io_uring_get_sqe(&mu_ring);
	}
	return sqe;
}

/* Give buffer bid back to the ring (published before the next enter). */
static void mu_recycle(uint16_t bid)
{
	mu_free++;
	io_uring_buf_ring_add(mu_br, mu_mem + (size_t)bid * MU_BUF, MU_BUF, bid,
			      io_uring_buf_ring_mask(mu_nbufs), mu_pending++);
}

static void mu_arm_recv(int fd, struct mu_conn *c)
{
	struct io_uring_sqe *sqe = mu_sqe();

	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = MU_BGID;
	io_uring_sqe_set_data64(sqe, MU_UD(MU_RECV, c->gen, fd));
	c->recv_armed = 1;
}

/* End the armed multishot recv; its last CQE says -ECANCELED. */
static void mu_cancel_recv(int fd, struct mu_conn *c)
{
	struct io_uring_sqe *sqe;

	if (!c->recv_armed || c->cancelling)
		return;
	sqe = mu_sqe();
	io_uring_prep_cancel64(sqe, MU_UD(MU_RECV, c->gen, fd), 0);
	io_uring_sqe_set_data64(sqe, MU_UD(MU_IGNORE, 0, 0));
	c->cancelling = 1;
}

/* Arm the recv again if it is down and nothing stands in the way: EOF,
 * an error, a wait for buffers, or a queue not yet drained to half. */
static void mu_resume(int fd, struct mu_conn *c)
{
	if (c->recv_armed || c->eof || c->err || c->waiting)
		return;
	if (c->qlen >= MU_CAP || (c->paused && c->qlen > MU_CAP / 2)) {
		c->paused = 1;
		return;
	}
	c->paused = 0;
	mu_arm_recv(fd, c);
}

/* Send the rest of the head buffer, if any and none is in flight. */
static void mu_send_head(int fd, struct mu_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->sending || c->head == MU_NONE)
		return;
	sqe = mu_sqe();
	io_uring_prep_send(sqe, fd, mu_mem + (size_t)c->head * MU_BUF + c->off,
			   mu_len[c->head] - c->off, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, MU_UD(MU_SEND, c->gen, fd));
	c->sending = 1;
}

/* Close once nothing is in flight: after EOF when every queued byte went
 * out, after an error at once (queued buffers go back to the ring). */
static void mu_maybe_close(int fd, struct mu_conn *c)
{
	if (!c->eof && !c->err)
		return;
	/* An armed recv would outlive the fd: cancel it, then wait. */
	if (c->err)
		mu_cancel_recv(fd, c);
	if (c->recv_armed || c->sending || (!c->err && c->head != MU_NONE))
		return;
	while (c->head != MU_NONE) {
		mu_recycle(c->head);
		c->head = mu_next[c->head];
	}
	close(fd);
	c->gen++;
	c->open = 0;
}

static void mu_on_recv(int fd, struct mu_conn *c, int res, unsigned flags)
{
	uint16_t bid = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);

	c->recv_armed = !!(flags & IORING_CQE_F_MORE);
	if (!c->recv_armed)
		c->cancelling = 0;
	if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
		c->qlen++;
		mu_len[bid] = (uint16_t)res;
		mu_next[bid] = MU_NONE;
		if (c->head == MU_NONE)
			c->head = bid;
		else
			mu_next[c->tail] = bid;
		c->tail = bid;
		mu_send_head(fd, c);
		if (c->qlen >= MU_CAP)
			mu_cancel_recv(fd, c);
	} else if (res == -ENOBUFS) {
		/* The ring ran dry: re-arm when a send gives a buffer back. */
		if (!c->waiting) {
			c->waiting = 1;
			c->next_wait = mu_wait_head;
			mu_wait_head = fd;
		}
		return;
	} else if (res == -ECANCELED && !c->err) {
		/* Our own cancel over MU_CAP: mu_resume decides. */
	} else {
		if (flags & IORING_CQE_F_BUFFER)
			mu_recycle(bid);
		if (res == 0)
			c->eof = 1;
		else
			c->err = 1;
	}
	mu_resume(fd, c);
	mu_maybe_close(fd, c);
}

static void mu_on_send(int fd, struct mu_conn *c, int res)
{
	c->sending = 0;
	if (res < 0) {
		c->err = 1;
	} else {
		c->off += (uint32_t)res;
		if (c->off >= mu_len[c->head]) {
			mu_recycle(c->head);
			c->head = mu_next[c->head];
			c->qlen--;
			c->off = 0;
		}
		mu_send_head(fd, c);
		mu_resume(fd, c);
	}
	mu_maybe_close(fd, c);
}

static void mu_on_accept(int lfd, int res, unsigned flags)
{
	struct io_uring_sqe *sqe;
	struct mu_conn *c;

	if (res >= 0 && (unsigned)res >= mu_nconns) {
		close(res);
	} else if (res >= 0) {
		c = &mu_conns[res];
		/* waiting stays: the slot may still be on the wait list,
		 * which checks it when it comes to it. */
		c->open = 1;
		c->eof = c->err = c->sending = c->paused = 0;
		c->cancelling = 0;
		c->head = MU_NONE;
		c->qlen = 0;
		c->off = 0;
		mu_arm_recv(res, c);
	}
	if (!(flags & IORING_CQE_F_MORE)) {
		sqe = mu_sqe();
		io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, 0);
		io_uring_sqe_set_data64(sqe, MU_UD(MU_ACCEPT, 0, lfd));
	}
}

/* Give the waiting connections their recv back while buffers are free. */
static void mu_rearm_waiting(void)
{
	struct mu_conn *c;
	int fd;

	while (mu_wait_head >= 0 && mu_free > 0) {
		fd = mu_wait_head;
		c = &mu_conns[fd];
		mu_wait_head = c->next_wait;
		c->waiting = 0;
		if (c->open)
			mu_resume(fd, c);
	}
}

static int mu_setup(void)
{
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE,
				     .cq_entries = 4 * MU_ENTRIES };
	struct io_uring_buf_reg reg = { .bgid = MU_BGID };
	const char *env = getenv("MIN_URING_BUFS");
	const char *how = "SINGLE_ISSUER|DEFER_TASKRUN";
	struct rlimit rl;
	unsigned i;
	int ret;

	/* A smaller ring for the tests that need -ENOBUFS to happen. */
	if (env && atoi(env) > 0 && atoi(env) < MU_NBUFS)
		mu_nbufs = 1u << (31 - __builtin_clz((unsigned)atoi(env)));
	reg.ring_entries = mu_nbufs;
	p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init_params(MU_ENTRIES, &mu_ring, &p);
	if (ret == -EINVAL) {
		/* Before Linux 6.1: plain task work, said on stderr. */
		how = "no SINGLE_ISSUER|DEFER_TASKRUN (refused)";
		p.flags = IORING_SETUP_CQSIZE;
		ret = io_uring_queue_init_params(MU_ENTRIES, &mu_ring, &p);
	}
	if (ret < 0)
		return ret;
	mu_br =
	    mmap(NULL, MU_NBUFS * sizeof(struct io_uring_buf),
		 PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* Populated now: the ring hands buffers out in turn, so touching them
	 * lazily would make RSS grow with traffic, not with connections, and
	 * compare.sh's memory per idle connection would count it. */
	mu_mem = mmap(NULL, (size_t)MU_NBUFS * MU_BUF, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mu_br == MAP_FAILED || mu_mem == MAP_FAILED)
		return -ENOMEM;
	reg.ring_addr = (uint64_t)(uintptr_t)mu_br;
	ret = io_uring_register_buf_ring(&mu_ring, &reg, 0);
	if (ret < 0)
		return ret;
	io_uring_buf_ring_init(mu_br);
	for (i = 0; i < mu_nbufs; i++)
		mu_recycle((uint16_t)i);
	io_uring_buf_ring_advance(mu_br, (int)mu_pending);
	mu_pending = 0;
	mu_nconns = MU_MAX_FDS;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < MU_MAX_FDS)
		mu_nconns = (unsigned)rl.rlim_cur;
	mu_conns = calloc(mu_nconns, sizeof(*mu_conns));
	if (!mu_conns)
		return -ENOMEM;
	fprintf(stderr, "min-uring: ring %u entries (%s), %u buffers of %u B\n",
		MU_ENTRIES, how, mu_nbufs, MU_BUF);
	return 0;
}

/* A usage error: one line naming what and the value, then the hint;
 * returns -1. */
static int mu_bad(const char *what, const char *val, const char *why)
{
	fprintf(stderr,
		"min-uring: %s '%s'%s\nTry 'min-uring --help' for more "
		"information.\n",
		what, val, why);
	return -1;
}

/* argv into *port and *addr: 0 to run, 1 after printing the help, -1 on
 * bad usage (after one line naming it, and the hint). */
static int mu_args(int argc, char **argv, long *port, struct in_addr *addr)
{
	char *end;
	int i, seen = 0;

	*port = 0;
	addr->s_addr = htonl(INADDR_LOOPBACK);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("Usage: min-uring [PORT] [--host ADDR]\n"
			       "  listens on ADDR:PORT (127.0.0.1 unless "
			       "--host; port 0 or absent: any free one),\n"
			       "  echoes every byte\n");
			return 1;
		}
		if (!strcmp(argv[i], "--host")) {
			if (i + 1 == argc)
				return mu_bad("--host", "", ": needs a value");
			if (inet_pton(AF_INET, argv[++i], addr) != 1)
				return mu_bad(
				    "--host", argv[i],
				    ": expected a numeric IPv4 address");
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1])
			return mu_bad("unknown option", argv[i], "");
		*port = strtol(argv[i], &end, 10);
		if (seen++)
			return mu_bad("unexpected argument", argv[i], "");
		if (!*argv[i] || *end || *port < 0 || *port > 65535)
			return mu_bad("port", argv[i], ": expected 0..65535");
	}
	return 0;
}

static int mu_listen(int port, struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (lfd < 0)
		return -1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Accepted sockets inherit TCP_NODELAY from the listener on Linux. */
	setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)sa, sizeof(*sa)) ||
	    listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)sa, &len)) {
		close(lfd);
		return -1;
	}
	return lfd;
}

/* One completion; 1 if it says to stop (a signal), else 0. */
static int mu_complete(int lfd, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	unsigned op = MU_UD_OP(ud);
	int fd = MU_UD_FD(ud);
	struct mu_conn *c;

	/* The kernel took a buffer from the ring. */
	if (cqe->flags & IORING_CQE_F_BUFFER)
		mu_free--;
	if (op == MU_ACCEPT) {
		mu_on_accept(lfd, cqe->res, cqe->flags);
		return 0;
	}
	if (op == MU_SIGNAL)
		return 1;
	if (op != MU_RECV && op != MU_SEND)
		return 0;
	c = &mu_conns[fd];
	if (!c->open || (c->gen & 0xffffff) != MU_UD_GEN(ud)) {
		/* Stale: its buffer, if any, is still ours. */
		if (cqe->flags & IORING_CQE_F_BUFFER)
			mu_recycle(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		return 0;
	}
	if (op == MU_RECV)
		mu_on_recv(fd, c, cqe->res, cqe->flags);
	else
		mu_on_send(fd, c, cqe->res);
	return 0;
}

/* Serve until a signal's read completes; 0, or 1 if waiting failed. */
static int mu_serve(int lfd)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen;
	int ret, stop = 0;

	while (!stop) {
		if (mu_pending) {
			io_uring_buf_ring_advance(mu_br, (int)mu_pending);
			mu_pending = 0;
		}
		ret = io_uring_submit_and_wait(&mu_ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EBUSY) {
			fprintf(stderr, "min-uring: wait: %s\n",
				strerror(-ret));
			return 1;
		}
		seen = 0;
		io_uring_for_each_cqe(&mu_ring, head, cqe)
		{
			seen++;
			stop |= mu_complete(lfd, cqe);
		}
		io_uring_cq_advance(&mu_ring, seen);
		mu_rearm_waiting();
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct signalfd_siginfo si;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct io_uring_sqe *sqe;
	int lfd, sfd, ret;
	char host[INET_ADDRSTRLEN];
	long port;
	sigset_t mask;

	ret = mu_args(argc, argv, &port, &sa.sin_addr);
	if (ret > 0)
		return 0;
	if (ret < 0) {
		return 2;
	}
	/* Signals arrive as a read on a signalfd: no race with the wait. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	lfd = mu_listen((int)port, &sa);
	if (sfd < 0 || lfd < 0) {
		perror("min-uring: listen");
		return 1;
	}
	ret = mu_setup();
	if (ret < 0) {
		fprintf(stderr, "min-uring: io_uring setup: %s\n",
			strerror(-ret));
		return 1;
	}
	inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host));
	printf("listening on %s:%u\n", host, ntohs(sa.sin_port));
	fflush(stdout);
	/* A failed accept without F_MORE arms the first multishot accept. */
	mu_on_accept(lfd, -EAGAIN, 0);
	sqe = mu_sqe();
	io_uring_prep_read(sqe, sfd, &si, sizeof(si), 0);
	io_uring_sqe_set_data64(sqe, MU_UD(MU_SIGNAL, 0, sfd));
	return mu_serve(lfd);
}
