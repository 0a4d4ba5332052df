// SPDX-License-Identifier: MIT
/*
 * sig.c - the self-pipe: signals become bytes the event loop can watch.
 *
 * The handler is async-signal-safe (one write, errno preserved). Works the
 * same with select, poll, epoll and io_uring, which is why it is used
 * instead of signalfd or ppoll-style masks.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "sig.h"

static int sig_pipe[2] = { -1, -1 };

static void sig_handler(int signo)
{
	int saved = errno;
	char c = (signo == SIGUSR1) ? 'u' : 's';
	ssize_t r;

	/* If the pipe is full a wake-up is already pending: dropping is fine. */
	r = write(sig_pipe[1], &c, 1);
	(void)r;
	errno = saved;
}

int sig_install(void)
{
	struct sigaction sa;

	if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC))
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_handler;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocking wait must return so the loop looks. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	/* A peer that resets while we write must not kill the server. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return sig_pipe[0];
}

unsigned sig_drain(int rfd)
{
	char buf[64];
	unsigned got = 0;
	ssize_t n, i;

	while ((n = read(rfd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			got |= buf[i] == 'u' ? SIG_STATS : SIG_STOP;
	}
	return got;
}

void sig_close(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	sig_pipe[0] = sig_pipe[1] = -1;
}
