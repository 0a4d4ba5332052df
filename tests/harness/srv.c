/* SPDX-License-Identifier: MIT */
/*
 * srv.c - the harness's child processes: start a program on pipes, wait
 * for its listening line, read its output and stats lines, stop it.
 *
 * Black box only: a command line, pipes, signals and wait status. No
 * assertions here; every helper returns 0 / -errno or a value.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define H_MAX_ARGS 64
#define H_LISTEN_MS 5000
#define H_OUT_MAX (64u << 20) /* keep at most this much of a child's output */

static struct h_srv *h_reg[H_MAX_SERVERS];

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
	if (st->setup && st->setup(st->ctx))
		_exit(H_EXIT_SETUP);
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

bool h_srv_read(struct h_srv *s, int timeout_ms)
{
	if (s->out_fd < 0 && s->err_fd < 0)
		return false;
	h_srv_poll(s, timeout_ms);
	return true;
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

int h_srv_exit_code(const struct h_srv *s)
{
	if (s->pid > 0 || s->status == -1)
		return -1;
	if (WIFSIGNALED(s->status))
		return 128 + WTERMSIG(s->status);
	return WIFEXITED(s->status) ? WEXITSTATUS(s->status) : -1;
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

	/* Started before and not freed: free it now, not leak it. */
	for (int i = 0; i < H_MAX_SERVERS; i++)
		if (h_reg[i] == s)
			h_srv_free(s);
	memset(s, 0, sizeof(*s));
	s->out_fd = s->err_fd = -1;
	if (!st)
		st = &none;
	s->out_cap = s->err_cap = 4096;
	s->out = calloc(1, s->out_cap);
	s->err = calloc(1, s->err_cap);
	if (!s->out || !s->err) {
		h_srv_free(s);
		return -ENOMEM;
	}
	/* Registered from here on, so that h_srv_cleanup_all frees the
	 * buffers even if the fork fails. */
	h_reg_add(s);
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
	if (st->no_listen)
		return 0;

	deadline = h_now_ms() + (st->listen_ms ? st->listen_ms : H_LISTEN_MS);
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

int h_srv_run(struct h_srv *s, char *const *cmd, const struct h_start *st,
	      int timeout_ms)
{
	struct h_start run = { 0 };
	int rc;

	if (st)
		run = *st;
	run.no_listen = true;
	rc = h_srv_start(s, cmd, &run);
	return rc ? rc : h_srv_wait(s, timeout_ms, NULL);
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

void h_fail(const char *prog, int nlines, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: FAIL: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	h_srv_diag(nlines);
	exit(1);
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
