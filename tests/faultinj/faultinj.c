// SPDX-License-Identifier: MIT
/*
 * faultinj.c - an LD_PRELOAD library that makes a server's socket calls
 * fail on purpose: accept4, recv, send, epoll_wait, poll, select and
 * epoll_ctl return an error instead of calling the kernel, or call it with
 * a shorter length, as FAULTINJ says. Counts go to FAULTINJ_OUT at exit:
 * the process's own stdout and stderr stay untouched (a server's last
 * stderr line is its stats line), unless FAULTINJ is malformed.
 *
 *   FAULTINJ       rules, comma-separated: CALL:FAULT[:OPT]...
 *                  CALL   accept4 recv send epoll_wait poll select epoll_ctl
 *                  FAULT  an errno name (EINTR EAGAIN ECONNRESET EPIPE
 *                         ENOBUFS ENOMEM EMFILE ENFILE ECONNABORTED EPROTO
 *                         ENOSPC ETIMEDOUT), or "short": recv and send move
 *                         1..len-1 bytes for real, epoll_wait takes fewer
 *                         events
 *                  OPT    every=N (eligible calls 1, N+1, 2N+1...: even a
 *                         short run sees the fault; the default is
 *                         every=1), p=F (probability, FAULTINJ_SEED seeds
 *                         it), after=N (spare the first N), max=N (at most
 *                         N faults)
 *   FAULTINJ_SEED  random seed (default 1)
 *   FAULTINJ_OUT   file the counts are appended to at exit, one line per
 *                  rule: "faultinj: pid=P rule=R calls=C injected=I"
 *                  ("-" means stderr)
 *   FAULTINJ_COMM  act only in the process of this name (ignored if unset)
 *
 * epoll_ctl faults hit only ADD and MOD of connected sockets, never the
 * listener or the signal pipe, so that start-up itself does not fail.
 * The first rule of a call that fires wins. A bad FAULTINJ exits with 3,
 * saying why on stderr.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define FI_MAX_RULES 32
#define FI_SHORT (-1) /* the fault that is not an errno */

enum fi_call {
	FI_ACCEPT4,
	FI_RECV,
	FI_SEND,
	FI_EPOLL_WAIT,
	FI_POLL,
	FI_SELECT,
	FI_EPOLL_CTL,
	FI_NCALLS,
};

static const char *const fi_call_names[FI_NCALLS] = {
	"accept4", "recv", "send", "epoll_wait", "poll", "select", "epoll_ctl",
};

static const struct {
	const char *name;
	int err;
} fi_errnos[] = {
	{ "EINTR", EINTR },
	{ "EAGAIN", EAGAIN },
	{ "ECONNRESET", ECONNRESET },
	{ "EPIPE", EPIPE },
	{ "ENOBUFS", ENOBUFS },
	{ "ENOMEM", ENOMEM },
	{ "EMFILE", EMFILE },
	{ "ENFILE", ENFILE },
	{ "ECONNABORTED", ECONNABORTED },
	{ "EPROTO", EPROTO },
	{ "ENOSPC", ENOSPC },
	{ "ETIMEDOUT", ETIMEDOUT },
};

struct fi_rule {
	char text[64]; /* as written, for the counts */
	enum fi_call call;
	int fault; /* an errno, or FI_SHORT */
	unsigned long every; /* 0: use p */
	double p;
	unsigned long after;
	unsigned long max; /* 0: no limit */
	unsigned long calls; /* eligible calls seen */
	unsigned long injected;
};

static struct fi_rule fi_rules[FI_MAX_RULES];
static int fi_nrules;
static bool fi_active;
static uint64_t fi_rng = 1;

static ssize_t (*fi_real_recv)(int, void *, size_t, int);
static ssize_t (*fi_real_send)(int, const void *, size_t, int);
static int (*fi_real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*fi_real_epoll_wait)(int, struct epoll_event *, int, int);
static int (*fi_real_poll)(struct pollfd *, nfds_t, int);
static int (*fi_real_select)(int, fd_set *, fd_set *, fd_set *,
			     struct timeval *);
static int (*fi_real_epoll_ctl)(int, int, int, struct epoll_event *);

/* xorshift64*: reproducible for a given FAULTINJ_SEED. */
static uint64_t fi_rand(void)
{
	fi_rng ^= fi_rng >> 12;
	fi_rng ^= fi_rng << 25;
	fi_rng ^= fi_rng >> 27;
	return fi_rng * 0x2545f4914f6cdd1dull;
}

static void fi_bad(const char *what, const char *rule)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "faultinj: %s in rule '%s'\n", what,
			 rule);

	if (write(2, msg, (size_t)n) < 0)
		_exit(3);
	_exit(3);
}

static void fi_parse_opt(struct fi_rule *r, const char *opt)
{
	char *end;

	if (!strncmp(opt, "every=", 6)) {
		r->every = strtoul(opt + 6, &end, 10);
		if (*end || r->every == 0)
			fi_bad("bad every=", r->text);
	} else if (!strncmp(opt, "p=", 2)) {
		r->p = strtod(opt + 2, &end);
		if (*end || r->p <= 0 || r->p > 1)
			fi_bad("bad p=", r->text);
		r->every = 0;
	} else if (!strncmp(opt, "after=", 6)) {
		r->after = strtoul(opt + 6, &end, 10);
		if (*end)
			fi_bad("bad after=", r->text);
	} else if (!strncmp(opt, "max=", 4)) {
		r->max = strtoul(opt + 4, &end, 10);
		if (*end)
			fi_bad("bad max=", r->text);
	} else {
		fi_bad("unknown option", r->text);
	}
}

/* One rule, CALL:FAULT[:OPT]..., modified in place (strtok). */
static void fi_parse_rule(char *text)
{
	struct fi_rule *r;
	char *save = NULL, *tok;
	size_t i;

	if (fi_nrules == FI_MAX_RULES)
		fi_bad("too many rules", text);
	r = &fi_rules[fi_nrules++];
	/* The counts name the rule as written: never cut it short. */
	if (strlen(text) >= sizeof(r->text))
		fi_bad("rule too long", text);
	snprintf(r->text, sizeof(r->text), "%s", text);
	r->every = 1;
	tok = strtok_r(text, ":", &save);
	for (i = 0; tok && i < FI_NCALLS; i++)
		if (!strcmp(tok, fi_call_names[i]))
			break;
	if (!tok || i == FI_NCALLS)
		fi_bad("unknown call", r->text);
	r->call = (enum fi_call)i;
	tok = strtok_r(NULL, ":", &save);
	if (!tok)
		fi_bad("missing fault", r->text);
	if (!strcmp(tok, "short")) {
		if (r->call != FI_RECV && r->call != FI_SEND &&
		    r->call != FI_EPOLL_WAIT)
			fi_bad("short is for recv, send, epoll_wait", r->text);
		r->fault = FI_SHORT;
	} else {
		for (i = 0; i < sizeof(fi_errnos) / sizeof(fi_errnos[0]); i++)
			if (!strcmp(tok, fi_errnos[i].name))
				break;
		if (i == sizeof(fi_errnos) / sizeof(fi_errnos[0]))
			fi_bad("unknown fault", r->text);
		r->fault = fi_errnos[i].err;
	}
	while ((tok = strtok_r(NULL, ":", &save)))
		fi_parse_opt(r, tok);
}

static void *fi_sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p)
		fi_bad("dlsym failed", name);
	return p;
}

__attribute__((constructor)) static void fi_init(void)
{
	const char *spec = getenv("FAULTINJ");
	const char *seed = getenv("FAULTINJ_SEED");
	const char *comm = getenv("FAULTINJ_COMM");
	char *copy, *save = NULL, *tok;

	fi_real_recv = fi_sym("recv");
	fi_real_send = fi_sym("send");
	fi_real_accept4 = fi_sym("accept4");
	fi_real_epoll_wait = fi_sym("epoll_wait");
	fi_real_poll = fi_sym("poll");
	fi_real_select = fi_sym("select");
	fi_real_epoll_ctl = fi_sym("epoll_ctl");
	if (!spec || !*spec)
		return;
	if (comm && strcmp(comm, program_invocation_short_name))
		return;
	if (seed)
		fi_rng = strtoull(seed, NULL, 0) * 0x9e3779b97f4a7c15ull | 1;
	copy = strdup(spec);
	if (!copy)
		fi_bad("out of memory", spec);
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		fi_parse_rule(tok);
	free(copy);
	fi_active = fi_nrules > 0;
}

/* Append the counts to FAULTINJ_OUT: one write per line, so that several
 * processes may share the file. */
__attribute__((destructor)) static void fi_fini(void)
{
	const char *path = getenv("FAULTINJ_OUT");
	char line[256];
	int fd, i, n;

	if (!fi_active || !path || !*path)
		return;
	if (!strcmp(path, "-"))
		fd = 2;
	else
		fd =
		    open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	for (i = 0; i < fi_nrules; i++) {
		const struct fi_rule *r = &fi_rules[i];

		n = snprintf(
		    line, sizeof(line),
		    "faultinj: pid=%d rule=%s calls=%lu injected=%lu\n",
		    (int)getpid(), r->text, r->calls, r->injected);
		if (write(fd, line, (size_t)n) < 0)
			break;
	}
	if (fd != 2)
		close(fd);
}

/*
 * The fault for this call, or 0 for none. Only calls a rule can apply to
 * count for its every= and after= (a short recv or send needs len >= 2).
 */
static int fi_pick(enum fi_call call, size_t len)
{
	int i;

	if (!fi_active)
		return 0;
	for (i = 0; i < fi_nrules; i++) {
		struct fi_rule *r = &fi_rules[i];
		bool fire;

		if (r->call != call || (r->fault == FI_SHORT && len < 2))
			continue;
		r->calls++;
		if (r->calls <= r->after || (r->max && r->injected >= r->max))
			continue;
		if (r->every)
			fire = (r->calls - r->after - 1) % r->every == 0;
		else
			fire = (double)(fi_rand() >> 11) * 0x1.0p-53 < r->p;
		if (fire) {
			r->injected++;
			return r->fault;
		}
	}
	return 0;
}

/* A length in [1, len - 1] (len >= 2). */
static size_t fi_shorter(size_t len)
{
	return 1 + (size_t)(fi_rand() % (len - 1));
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	int f = fi_pick(FI_RECV, len);

	if (f == FI_SHORT)
		return fi_real_recv(fd, buf, fi_shorter(len), flags);
	if (f) {
		errno = f;
		return -1;
	}
	return fi_real_recv(fd, buf, len, flags);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	int f = fi_pick(FI_SEND, len);

	if (f == FI_SHORT)
		return fi_real_send(fd, buf, fi_shorter(len), flags);
	if (f) {
		errno = f;
		return -1;
	}
	return fi_real_send(fd, buf, len, flags);
}

/* A fake accept error leaves the connection queued: the next accept
 * takes it, as after a real EINTR or ECONNABORTED of another one. */
int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	int f = fi_pick(FI_ACCEPT4, 0);

	if (f) {
		errno = f;
		return -1;
	}
	return fi_real_accept4(fd, addr, alen, flags);
}

/* A spurious EINTR returns at once: the wait never happened. */
int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	int f = fi_pick(FI_EPOLL_WAIT, max > 0 ? (size_t)max : 0);

	if (f == FI_SHORT)
		return fi_real_epoll_wait(
		    epfd, ev, (int)fi_shorter((size_t)max), timeout);
	if (f) {
		errno = f;
		return -1;
	}
	return fi_real_epoll_wait(epfd, ev, max, timeout);
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	int f = fi_pick(FI_POLL, 0);

	if (f) {
		errno = f;
		return -1;
	}
	return fi_real_poll(fds, n, timeout);
}

int select(int n, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
	int f = fi_pick(FI_SELECT, 0);

	if (f) {
		errno = f;
		return -1;
	}
	return fi_real_select(n, rd, wr, ex, tv);
}

/* A connected socket: not a listener, not a pipe or other file. */
static bool fi_is_conn(int fd)
{
	struct stat st;
	int on = 0;
	socklen_t sl = sizeof(on);

	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &sl) < 0)
		return false;
	return !on;
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int f = 0;

	if (fi_active && (op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) &&
	    fi_is_conn(fd))
		f = fi_pick(FI_EPOLL_CTL, 0);
	if (f) {
		errno = f;
		return -1;
	}
	return fi_real_epoll_ctl(epfd, op, fd, ev);
}
