/* SPDX-License-Identifier: MIT */
/*
 * harness.c - start/stop a server binary, loopback TCP clients, /proc.
 *
 * Black box only: a command line, sockets, pipes, signals and /proc/PID.
 * No assertions here; every helper returns 0 / -errno or a value.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define H_MAX_ARGS 64
#define H_LISTEN_MS 5000
#define H_OUT_MAX (64u << 20) /* keep at most this much of a child's output */
#define H_RXBUF (256u << 10)

static struct h_srv *h_reg[H_MAX_SERVERS];

int64_t h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void h_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int h_left_ms(int64_t deadline)
{
	int64_t left = deadline - h_now_ms();

	return left < 0 ? 0 : (int)left;
}

unsigned long h_nofile_max(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

unsigned long h_nofile_hard(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	return rl.rlim_max;
}

/* --- the byte stream ---------------------------------------------------- */

void h_rng_seed(struct h_rng *r, uint64_t seed)
{
	/* splitmix64 scrambles nearby seeds into unrelated states. */
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	r->s = z ? z : 1;
	r->word = 0;
	r->left = 0;
}

uint64_t h_rng_next(struct h_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

uint64_t h_rng_below(struct h_rng *r, uint64_t n)
{
	return h_rng_next(r) % n;
}

void h_rng_fill(struct h_rng *r, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len && r->left) {
		*p++ = (uint8_t)r->word;
		r->word >>= 8;
		r->left--;
		len--;
	}
	while (len >= 8) {
		uint64_t w = h_rng_next(r);

		for (int i = 0; i < 8; i++)
			p[i] = (uint8_t)(w >> (8 * i));
		p += 8;
		len -= 8;
	}
	if (len) {
		r->word = h_rng_next(r);
		r->left = 8;
		while (len--) {
			*p++ = (uint8_t)r->word;
			r->word >>= 8;
			r->left--;
		}
	}
}

ssize_t h_rng_check(struct h_rng *r, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint8_t want[4096];
	size_t off = 0;

	while (off < len) {
		size_t n = len - off < sizeof(want) ? len - off : sizeof(want);

		h_rng_fill(r, want, n);
		if (memcmp(want, p + off, n) != 0) {
			for (size_t i = 0; i < n; i++)
				if (want[i] != p[off + i])
					return (ssize_t)(off + i);
		}
		off += n;
	}
	return -1;
}

/* --- the server process ------------------------------------------------- */

static void h_reg_add(struct h_srv *s)
{
	for (int i = 0; i < H_MAX_SERVERS; i++) {
		if (!h_reg[i]) {
			h_reg[i] = s;
			return;
		}
	}
}

static void h_reg_del(struct h_srv *s)
{
	for (int i = 0; i < H_MAX_SERVERS; i++)
		if (h_reg[i] == s)
			h_reg[i] = NULL;
}

/* The child between fork and exec: set up descriptors, limits, signals. */
static void h_child(char **argv, const struct h_start *st, int ofd, int efd,
		    pid_t parent)
{
	struct sigaction sa;
	sigset_t none;
	int nul;

	/* Never outlive the test, whatever happens to it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	nul = open("/dev/null", O_RDONLY);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(ofd, 1) < 0 || dup2(efd, 2) < 0)
		_exit(127);
	close_range(3, ~0u, 0);

	/* Default dispositions and an empty mask, so the server sees signals
	 * (SIGPIPE included) exactly as a shell would give them. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (st->nofile) {
		struct rlimit rl = { st->nofile, st->nofile };

		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			dprintf(2, "harness: setrlimit(%lu): %s\n", st->nofile,
				strerror(errno));
			_exit(127);
		}
	}
	for (int i = 0; i < st->extra_fds; i++)
		if (open("/dev/null", O_RDONLY) < 0)
			_exit(127);
	for (int i = 0; st->env && st->env[i]; i++) {
		char kv[512];
		char *eq;

		snprintf(kv, sizeof(kv), "%s", st->env[i]);
		eq = strchr(kv, '=');
		if (eq) {
			*eq = '\0';
			setenv(kv, eq + 1, 1);
		}
	}
	execvp(argv[0], argv);
	dprintf(2, "harness: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Append what fd has to *buf; returns 0 at EOF, 1 if it may have more. */
static int h_drain(int fd, char **buf, size_t *len, size_t *cap)
{
	char tmp[16384];

	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 1 : 0;
		if (n == 0)
			return 0;
		if (*len + (size_t)n + 1 > *cap && *len < H_OUT_MAX) {
			size_t ncap = *cap ? *cap : 4096;
			char *nb;

			while (ncap < *len + (size_t)n + 1)
				ncap *= 2;
			nb = realloc(*buf, ncap);
			if (!nb)
				continue;
			*buf = nb;
			*cap = ncap;
		}
		if (*len + (size_t)n + 1 <= *cap) {
			memcpy(*buf + *len, tmp, (size_t)n);
			*len += (size_t)n;
			(*buf)[*len] = '\0';
		}
	}
}

void h_srv_pump(struct h_srv *s)
{
	if (s->out_fd >= 0 &&
	    !h_drain(s->out_fd, &s->out, &s->out_len, &s->out_cap)) {
		close(s->out_fd);
		s->out_fd = -1;
	}
	if (s->err_fd >= 0 &&
	    !h_drain(s->err_fd, &s->err, &s->err_len, &s->err_cap)) {
		close(s->err_fd);
		s->err_fd = -1;
	}
}

/* Wait up to ms for output from s (or just sleep if its pipes are shut). */
static void h_srv_poll(struct h_srv *s, int ms)
{
	struct pollfd p[2];
	int n = 0;

	if (s->out_fd >= 0)
		p[n++] = (struct pollfd){ .fd = s->out_fd, .events = POLLIN };
	if (s->err_fd >= 0)
		p[n++] = (struct pollfd){ .fd = s->err_fd, .events = POLLIN };
	if (n)
		poll(p, (nfds_t)n, ms);
	else
		h_sleep_ms(ms);
	h_srv_pump(s);
}

/* Reap s if it has exited; true if it has (now or before). */
static bool h_srv_reap(struct h_srv *s)
{
	int st;
	pid_t r;

	if (s->pid <= 0)
		return true;
	r = waitpid(s->pid, &st, WNOHANG);
	if (r == s->pid || (r < 0 && errno == ECHILD)) {
		/* ECHILD: reaped elsewhere; -1 reads as no clean exit. */
		s->status = r == s->pid ? st : -1;
		s->pid = 0;
		s->exit_ms = h_now_ms();
		/* Its output ends at EOF, unless something else holds the
		 * pipe; give up on that after a second. */
		for (int64_t end = h_now_ms() + 1000;
		     (s->out_fd >= 0 || s->err_fd >= 0) && h_now_ms() < end;)
			h_srv_poll(s, 10);
		return true;
	}
	return false;
}

bool h_srv_alive(struct h_srv *s)
{
	return !h_srv_reap(s);
}

static int h_parse_listen(struct h_srv *s)
{
	const char *pfx = "listening on ";
	char *nl = strchr(s->out, '\n');
	char *colon, *end;
	unsigned long port;

	if (strncmp(s->out, pfx, strlen(pfx)) != 0)
		return -EPROTO;
	*nl = '\0';
	colon = strrchr(s->out, ':');
	port = colon ? strtoul(colon + 1, &end, 10) : 0;
	*nl = '\n';
	if (!colon || end != nl || port == 0 || port > 65535)
		return -EPROTO;
	s->port = (unsigned)port;
	return 0;
}

int h_srv_start(struct h_srv *s, char *const *cmd, const struct h_start *st)
{
	static const struct h_start none;
	char *argv[H_MAX_ARGS];
	int op[2], ep[2], argc = 0, rc;
	size_t off = 0;
	pid_t parent = getpid();
	int64_t deadline;

	memset(s, 0, sizeof(*s));
	s->out_fd = s->err_fd = -1;
	if (!st)
		st = &none;
	for (int i = 0; cmd[i] && argc < H_MAX_ARGS - 1; i++)
		argv[argc++] = cmd[i];
	for (int i = 0; st->args && st->args[i] && argc < H_MAX_ARGS - 1; i++)
		argv[argc++] = (char *)st->args[i];
	argv[argc] = NULL;
	for (int i = 0; i < argc && off < sizeof(s->cmdline); i++)
		off +=
		    (size_t)snprintf(s->cmdline + off, sizeof(s->cmdline) - off,
				     "%s%s", i ? " " : "", argv[i]);

	if (pipe2(op, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(ep, O_CLOEXEC) < 0) {
		rc = -errno;
		close(op[0]);
		close(op[1]);
		return rc;
	}
	s->pid = fork();
	if (s->pid == 0)
		h_child(argv, st, op[1], ep[1], parent);
	rc = -errno;
	close(op[1]);
	close(ep[1]);
	s->out_fd = op[0];
	s->err_fd = ep[0];
	fcntl(s->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(s->err_fd, F_SETFL, O_NONBLOCK);
	if (s->pid < 0) {
		s->pid = 0;
		return rc;
	}
	h_reg_add(s);
	if (st->no_listen)
		return 0;

	deadline = h_now_ms() + H_LISTEN_MS;
	for (;;) {
		h_srv_pump(s);
		if (s->out && strchr(s->out, '\n'))
			return h_parse_listen(s);
		if (h_srv_reap(s))
			return -ECHILD;
		if (h_now_ms() >= deadline)
			return -ETIMEDOUT;
		h_srv_poll(s, 10);
	}
}

int h_srv_wait(struct h_srv *s, int timeout_ms, int64_t *ms)
{
	int64_t t0 = h_now_ms(), deadline = t0 + timeout_ms;

	for (;;) {
		if (h_srv_reap(s)) {
			if (ms)
				*ms = h_now_ms() - t0;
			return 0;
		}
		if (h_now_ms() >= deadline) {
			if (ms)
				*ms = h_now_ms() - t0;
			return -ETIMEDOUT;
		}
		h_srv_poll(s, 10);
	}
}

int h_srv_stop(struct h_srv *s, int sig, int timeout_ms, int64_t *ms)
{
	int64_t t0 = h_now_ms();
	int rc;

	if (h_srv_reap(s)) {
		if (ms)
			*ms = 0;
		return 0;
	}
	kill(s->pid, sig ? sig : SIGTERM);
	rc = h_srv_wait(s, timeout_ms, NULL);
	if (ms)
		*ms = (rc ? h_now_ms() : s->exit_ms) - t0;
	if (rc == -ETIMEDOUT && s->pid > 0) {
		kill(s->pid, SIGKILL);
		h_srv_wait(s, 5000, NULL);
	}
	return rc;
}

void h_srv_free(struct h_srv *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &s->status, 0);
		s->pid = 0;
	}
	if (s->out_fd >= 0)
		close(s->out_fd);
	if (s->err_fd >= 0)
		close(s->err_fd);
	s->out_fd = s->err_fd = -1;
	free(s->out);
	free(s->err);
	s->out = s->err = NULL;
	s->out_len = s->out_cap = s->err_len = s->err_cap = 0;
	h_reg_del(s);
}

void h_srv_cleanup_all(void)
{
	for (int i = 0; i < H_MAX_SERVERS; i++) {
		struct h_srv *s = h_reg[i];

		if (!s)
			continue;
		/* SIGTERM first, so a sanitizer gets to write its report. */
		if (s->pid > 0)
			h_srv_stop(s, SIGTERM, 2000, NULL);
		h_srv_free(s);
	}
}

static void h_print_state(const struct h_srv *s)
{
	if (s->pid > 0)
		fprintf(stderr, "running (pid %d)", (int)s->pid);
	else if (s->status == -1)
		fprintf(stderr, "exit status lost (ECHILD)");
	else if (WIFEXITED(s->status))
		fprintf(stderr, "exited %d", WEXITSTATUS(s->status));
	else if (WIFSIGNALED(s->status))
		fprintf(stderr, "killed by signal %d", WTERMSIG(s->status));
	else
		fprintf(stderr, "status 0x%x", (unsigned)s->status);
}

void h_srv_diag(int nlines)
{
	for (int i = 0; i < H_MAX_SERVERS; i++) {
		struct h_srv *s = h_reg[i];
		const char *p;
		int seen = 0;

		if (!s)
			continue;
		h_srv_pump(s);
		h_srv_reap(s);
		fprintf(stderr, "--- server: %s\n--- state: ", s->cmdline);
		h_print_state(s);
		fprintf(stderr, "\n--- stdout (%zu bytes): %.200s\n",
			s->out_len, s->out ? s->out : "");
		p = s->err ? s->err + s->err_len : NULL;
		while (p && p > s->err) {
			p--;
			if (*p == '\n' && p + 1 < s->err + s->err_len &&
			    ++seen >= nlines) {
				p++;
				break;
			}
		}
		fprintf(stderr, "--- stderr tail (%zu bytes):\n%s\n--- end\n",
			s->err_len, p ? p : "");
	}
}

/* --- stderr contents ---------------------------------------------------- */

int h_lines(const char *text)
{
	int n = 0;

	for (; text && *text; text++)
		n += *text == '\n';
	return n;
}

int h_count_lines_with(const char *text, const char *needle)
{
	int n = 0;

	while (text && *text) {
		const char *nl = strchr(text, '\n');
		const char *hit;

		if (!nl)
			break;
		hit = strstr(text, needle);
		if (hit && hit < nl)
			n++;
		text = nl + 1;
	}
	return n;
}

void h_last_line(const char *text, char *buf, size_t len)
{
	const char *end, *start;

	buf[0] = '\0';
	if (!text || !*text)
		return;
	end = text + strlen(text);
	while (end > text && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	start = end;
	while (start > text && start[-1] != '\n')
		start--;
	snprintf(buf, len, "%.*s", (int)(end - start), start);
}

/* The start of the last complete line of s's stderr holding "stats:". */
static const char *h_stats_line(const struct h_srv *s, const char **end)
{
	const char *p = s->err, *best = NULL;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		const char *hit;

		if (!nl)
			break;
		hit = strstr(p, "stats:");
		if (hit && hit < nl) {
			best = hit + strlen("stats:");
			*end = nl;
		}
		p = nl + 1;
	}
	return best;
}

static int h_stats_count(const struct h_srv *s)
{
	return h_count_lines_with(s->err, "stats:");
}

int h_srv_stats(struct h_srv *s, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	int before;

	h_srv_pump(s);
	before = h_stats_count(s);
	if (h_srv_reap(s) || kill(s->pid, SIGUSR1) < 0)
		return -ESRCH;
	for (;;) {
		h_srv_pump(s);
		if (h_stats_count(s) > before)
			return 0;
		if (h_srv_reap(s))
			return -ESRCH;
		if (h_now_ms() >= deadline)
			return -ETIMEDOUT;
		h_srv_poll(s, 10);
	}
}

long long h_srv_stat(const struct h_srv *s, const char *name)
{
	const char *end = NULL, *p = h_stats_line(s, &end);
	size_t nlen = strlen(name);

	while (p && p < end) {
		while (p < end && *p == ' ')
			p++;
		if ((size_t)(end - p) > nlen && !strncmp(p, name, nlen) &&
		    p[nlen] == '=')
			return strtoll(p + nlen + 1, NULL, 10);
		while (p < end && *p != ' ')
			p++;
	}
	return -1;
}

long long h_srv_stat_now(struct h_srv *s, const char *name)
{
	if (h_srv_stats(s, 2000) < 0)
		return -1;
	return h_srv_stat(s, name);
}

/* --- /proc -------------------------------------------------------------- */

int h_proc_fds(pid_t pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

static int h_read_proc(pid_t pid, const char *what, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	return 0;
}

long h_proc_rss_kib(pid_t pid)
{
	char buf[4096];
	const char *p;
	int rc = h_read_proc(pid, "status", buf, sizeof(buf));

	if (rc < 0)
		return rc;
	p = strstr(buf, "\nVmRSS:");
	if (!p)
		return -ENOENT;
	return strtol(p + strlen("\nVmRSS:"), NULL, 10);
}

long long h_proc_cpu_ticks(pid_t pid)
{
	char buf[1024];
	unsigned long long ut = 0, st = 0;
	const char *p;
	int rc = h_read_proc(pid, "stat", buf, sizeof(buf));

	if (rc < 0)
		return rc;
	/* Field 2 is "(comm)" and may hold spaces or ')': start after the
	 * last ')'; then the state is field 3 and utime, stime are 14, 15. */
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &ut, &st) != 2)
		return -EPROTO;
	return (long long)(ut + st);
}

long long h_proc_cpu_ns(pid_t pid)
{
	char path[64], buf[128];
	unsigned long long ns, sum = 0;
	struct dirent *d;
	DIR *dir;
	int rc;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "task/%.20s/schedstat", d->d_name);
		/* A thread that exits meanwhile has no more time to add. */
		rc = h_read_proc(pid, path, buf, sizeof(buf));
		if (rc < 0 || sscanf(buf, "%llu", &ns) != 1)
			continue;
		sum += ns;
	}
	closedir(dir);
	return (long long)sum;
}

bool h_proc_asan(pid_t pid)
{
	const char *env = getenv("E2E_ASAN");
	char path[64], line[512];
	bool found = false;
	FILE *f;

#if defined(__SANITIZE_ADDRESS__)
	/* One meson build sanitizes every target: the server as well. */
	return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return true;
#endif
#endif
	if (env && !strcmp(env, "1"))
		return true;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "libasan") || strstr(line, "rt.asan");
	fclose(f);
	return found;
}

bool h_have_ipv6_loopback(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	a.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* --- clients ------------------------------------------------------------ */

int h_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

int h_connected(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t sl = sizeof(int);
	int err = 0, n;

	do {
		n = poll(&p, 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
		return -errno;
	return -err;
}

int h_connect(const char *host, unsigned port, int rcvbuf, int sndbuf,
	      bool nonblock)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t alen;
	int one = 1, fd, rc;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		alen = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		alen = sizeof(*a6);
	} else {
		return -EINVAL;
	}
	fd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Buffer sizes only bind the window if set before the handshake.
	 * No Nagle: the tests choose their own segmentation. */
	if ((rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				      sizeof(rcvbuf)) < 0) ||
	    (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
				      sizeof(sndbuf)) < 0) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		goto fail;
	if (connect(fd, (struct sockaddr *)&ss, alen) < 0 &&
	    errno != EINPROGRESS)
		goto fail;
	if (nonblock)
		return fd;
	/* Even a "blocking" connect waits only so long: a full backlog
	 * drops SYNs, and a retransmitting connect would outlast a test. */
	rc = h_connected(fd, 5000);
	if (rc == 0)
		rc = h_nonblock(fd, false);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
fail:
	rc = -errno;
	close(fd);
	return rc;
}

int h_rst(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int rc = 0;

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Poll one fd for events within the time left; 1 ready, 0 timed out. */
static int h_poll1(int fd, short events, int64_t deadline, short *revents)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	do {
		n = poll(&p, 1, h_left_ms(deadline));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*revents = p.revents;
	return n;
}

int h_send_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	const char *p = buf;
	short rev;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		int rc;

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		rc = h_poll1(fd, POLLOUT, deadline, &rev);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

int h_recv_exact(int fd, void *buf, size_t len, int timeout_ms, size_t *got)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	size_t have = 0;
	short rev;
	int rc = 0;

	while (have < len) {
		ssize_t n =
		    recv(fd, (char *)buf + have, len - have, MSG_DONTWAIT);

		if (n > 0) {
			have += (size_t)n;
			continue;
		}
		if (n == 0) {
			rc = -EPIPE;
			break;
		}
		if (errno != EAGAIN && errno != EINTR) {
			rc = -errno;
			break;
		}
		rc = h_poll1(fd, POLLIN, deadline, &rev);
		if (rc <= 0) {
			rc = rc ? rc : -ETIMEDOUT;
			break;
		}
		rc = 0;
	}
	if (got)
		*got = have;
	return rc;
}

int h_recv_eof(int fd, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	short rev;

	for (;;) {
		char c;
		ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
		int rc;

		if (n == 0)
			return 0;
		if (n > 0)
			return 1;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		rc = h_poll1(fd, POLLIN, deadline, &rev);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return -ETIMEDOUT;
	}
}

int h_readable(int fd, int timeout_ms)
{
	short rev = 0;
	int rc = h_poll1(fd, POLLIN, h_now_ms() + timeout_ms, &rev);

	return rc;
}

/* The state of one h_echo_run. */
struct h_run {
	const struct h_echo *e;
	struct h_rng tx, rx, seg;
	uint8_t *txb; /* the current segment (stream mode) */
	size_t chunk; /* largest segment */
	size_t seg_start; /* stream offset of the current segment */
	size_t seg_end; /* == seg_start: no segment yet */
	size_t sent;
	size_t rcvd;
};

/* Send what the socket takes; 0 or -errno. */
static int h_run_send(int fd, struct h_run *r)
{
	const struct h_echo *e = r->e;

	for (int rounds = 0; r->sent < e->len && rounds < 256; rounds++) {
		const uint8_t *src;
		ssize_t n;

		if (r->sent == r->seg_end) {
			size_t want = r->chunk;

			if (e->seg_seed)
				want =
				    1 + (size_t)h_rng_below(&r->seg, r->chunk);
			if (want > e->len - r->sent)
				want = e->len - r->sent;
			r->seg_start = r->sent;
			r->seg_end = r->sent + want;
			if (!e->data)
				h_rng_fill(&r->tx, r->txb, want);
		}
		src = e->data ? (const uint8_t *)e->data + r->sent
			      : r->txb + (r->sent - r->seg_start);
		n = send(fd, src, r->seg_end - r->sent,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		r->sent += (size_t)n;
	}
	return 0;
}

/* Receive and verify what has arrived; 0, 1 at EOF, or -errno. */
static int h_run_recv(int fd, struct h_run *r, uint8_t *buf, size_t *at)
{
	const struct h_echo *e = r->e;

	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n = recv(fd, buf, H_RXBUF, MSG_DONTWAIT);
		ssize_t bad = -1;

		if (n == 0)
			return 1;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (r->rcvd + (size_t)n > e->len) {
			*at = e->len;
			return -EPROTO;
		}
		if (e->data) {
			const uint8_t *want =
			    (const uint8_t *)e->data + r->rcvd;

			if (memcmp(want, buf, (size_t)n) != 0)
				for (bad = 0; want[bad] == buf[bad]; bad++)
					;
		} else {
			bad = h_rng_check(&r->rx, buf, (size_t)n);
		}
		if (bad >= 0) {
			*at = r->rcvd + (size_t)bad;
			return -EPROTO;
		}
		r->rcvd += (size_t)n;
	}
	return 0;
}

int h_echo_run(int fd, const struct h_echo *e, size_t *at)
{
	int64_t deadline = h_now_ms() + (e->timeout_ms ? e->timeout_ms : 10000);
	struct h_run r = { .e = e, .chunk = e->chunk ? e->chunk : 65536 };
	static uint8_t rxb[H_RXBUF];
	size_t dummy;
	bool shut = false;
	int rc = 0;

	if (!at)
		at = &dummy;
	*at = 0;
	h_rng_seed(&r.tx, e->seed);
	h_rng_seed(&r.rx, e->seed);
	h_rng_seed(&r.seg, e->seg_seed);
	if (!e->data) {
		r.txb = malloc(r.chunk);
		if (!r.txb)
			return -ENOMEM;
	}
	for (;;) {
		short rev = 0;

		if (!e->shut_wr && r.rcvd == e->len)
			break;

		if (e->shut_wr && !shut && r.sent == e->len) {
			if (shutdown(fd, SHUT_WR) < 0) {
				rc = -errno;
				break;
			}
			shut = true;
		}
		rc = h_poll1(fd, POLLIN | (r.sent < e->len ? POLLOUT : 0),
			     deadline, &rev);
		if (rc < 0)
			break;
		if (rc == 0) {
			*at = r.rcvd;
			rc = -ETIMEDOUT;
			break;
		}
		rc = 0;
		if (rev & (POLLIN | POLLERR | POLLHUP)) {
			rc = h_run_recv(fd, &r, rxb, at);
			if (rc == 1 && r.rcvd < e->len) {
				*at = r.rcvd;
				rc = -EPIPE;
			}
			if (rc == 1 || rc < 0)
				break;
		}
		if (r.sent < e->len && (rev & POLLOUT)) {
			rc = h_run_send(fd, &r);
			if (rc < 0)
				break;
		}
	}
	if (rc == 1)
		rc = 0;
	free(r.txb);
	return rc;
}

int h_echo_buf(int fd, const void *buf, size_t len, int timeout_ms)
{
	struct h_echo e = { .data = buf, .len = len, .timeout_ms = timeout_ms };

	return h_echo_run(fd, &e, NULL);
}

int h_echo_small(int fd, uint64_t tag, int timeout_ms)
{
	uint8_t msg[8];

	for (int i = 0; i < 8; i++)
		msg[i] = (uint8_t)(tag >> (8 * i));
	return h_echo_buf(fd, msg, sizeof(msg), timeout_ms);
}

static void h_put_tag(uint8_t msg[8], uint64_t tag)
{
	for (int i = 0; i < 8; i++)
		msg[i] = (uint8_t)(tag >> (8 * i));
}

int h_send_tag(int fd, uint64_t tag)
{
	uint8_t msg[8];

	h_put_tag(msg, tag);
	return h_send_all(fd, msg, sizeof(msg), 2000);
}

int h_recv_tag(int fd, uint64_t tag, int timeout_ms)
{
	uint8_t msg[8], want[8];
	int rc = h_recv_exact(fd, msg, sizeof(msg), timeout_ms, NULL);

	h_put_tag(want, tag);
	if (rc == 0 && memcmp(msg, want, sizeof(msg)))
		rc = -EPROTO;
	return rc;
}

const char *h_err_str(int rc)
{
	return rc ? strerror(rc < 0 ? -rc : rc) : "ok";
}
