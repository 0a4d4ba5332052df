// SPDX-License-Identifier: MIT
/*
 * test_run.c - child process plumbing for the uring tests (see
 * test_run.h): pipes, poll with a deadline, the listening line, the
 * stats line, one blocking echo.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_run.h"

static long long trun_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int trun_start(struct trun *t, char *const argv[], int (*setup)(void *ctx),
	       void *ctx)
{
	int po[2], pe[2];

	memset(t, 0, sizeof(*t));
	if (pipe(po))
		return -errno;
	if (pipe(pe)) {
		close(po[0]);
		close(po[1]);
		return -errno;
	}
	t->pid = fork();
	if (t->pid < 0)
		return -errno;
	if (t->pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		close(po[1]);
		close(pe[1]);
		if (setup && setup(ctx))
			_exit(TRUN_SKIP);
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	t->fd[0] = po[0];
	t->fd[1] = pe[0];
	return 0;
}

bool trun_read(struct trun *t, int timeout_ms)
{
	struct pollfd p[2];
	size_t cap[2] = { sizeof(t->out) - 1, sizeof(t->err) - 1 };
	char *buf[2] = { t->out, t->err };
	ssize_t n;
	int i;

	for (i = 0; i < 2; i++)
		p[i] = (struct pollfd){ .fd = t->fd[i], .events = POLLIN };
	if (t->fd[0] < 0 && t->fd[1] < 0)
		return false;
	if (poll(p, 2, timeout_ms) <= 0)
		return true;
	for (i = 0; i < 2; i++) {
		if (p[i].fd < 0 || !p[i].revents)
			continue;
		n = read(p[i].fd, buf[i] + t->len[i], cap[i] - t->len[i]);
		if (n <= 0 || t->len[i] + (size_t)n == cap[i]) {
			close(t->fd[i]);
			t->fd[i] = -1;
		}
		if (n > 0)
			t->len[i] += (size_t)n;
		buf[i][t->len[i]] = '\0';
	}
	return true;
}

int trun_listen(struct trun *t, int timeout_ms)
{
	long long deadline = trun_now_ms() + timeout_ms;
	const char *colon;
	char *nl;

	for (;;) {
		nl = strchr(t->out, '\n');
		if (!strncmp(t->out, "listening on ", 13) && nl) {
			colon = nl;
			while (colon > t->out && *colon != ':')
				colon--;
			t->port = (unsigned)strtoul(colon + 1, NULL, 10);
			return 1;
		}
		if (trun_now_ms() >= deadline)
			return -ETIMEDOUT;
		if (!trun_read(t, (int)(deadline - trun_now_ms())))
			return 0;
	}
}

int trun_wait(struct trun *t, int sig, int timeout_ms)
{
	long long deadline = trun_now_ms() + timeout_ms;
	int rc = 0;

	if (sig && !t->reaped)
		kill(t->pid, sig);
	while (trun_now_ms() < deadline && trun_read(t, 100))
		;
	while (!t->reaped) {
		pid_t r = waitpid(t->pid, &t->status, WNOHANG);

		if (r == t->pid) {
			t->reaped = true;
			break;
		}
		if (trun_now_ms() >= deadline) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, &t->status, 0);
			t->reaped = true;
			rc = -ETIMEDOUT;
			break;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
	for (int i = 0; i < 2; i++)
		if (t->fd[i] >= 0)
			close(t->fd[i]);
	t->fd[0] = t->fd[1] = -1;
	return rc;
}

int trun_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

long long trun_stat(const struct trun *t, const char *name)
{
	const char *line = NULL, *p = t->err, *hit;
	char key[64];

	while ((p = strstr(p, "stats:")) != NULL)
		line = p++;
	if (!line)
		return -1;
	snprintf(key, sizeof(key), " %s=", name);
	hit = strstr(line, key);
	return hit ? strtoll(hit + strlen(key), NULL, 10) : -1;
}

int trun_echo(unsigned port, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 10 };
	size_t sent = 0, got = 0, i;
	unsigned char out[4096], in[4096];
	int fd, rc = 0;
	ssize_t n;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		rc = -errno;
		goto out;
	}
	/* Send and read in turns of at most 4 KiB: never more in flight
	 * than the socket buffers hold, so neither side can block for
	 * good. */
	while (got < len) {
		size_t k = len - sent < sizeof(out) ? len - sent : sizeof(out);

		for (i = 0; i < k; i++)
			out[i] = (unsigned char)((sent + i) * 7 + 1);
		if (k && send(fd, out, k, MSG_NOSIGNAL) != (ssize_t)k) {
			rc = -EIO;
			goto out;
		}
		sent += k;
		while (got < sent) {
			n = recv(fd, in, sizeof(in), 0);
			if (n <= 0) {
				rc = n ? -errno : -ECONNRESET;
				goto out;
			}
			for (i = 0; i < (size_t)n; i++)
				if (in[i] != (unsigned char)((got + i) * 7 + 1))
					rc = -EPROTO;
			got += (size_t)n;
		}
	}
out:
	close(fd);
	return rc;
}
