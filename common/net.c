// SPDX-License-Identifier: MIT
/*
 * net.c - listener, accept and descriptor-limit helpers (these do syscalls).
 *
 * Shared by both drivers so that socket setup is written once. Every
 * function returns 0 / -errno and leaves printing to its caller.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

static int net_name(const struct sockaddr_storage *ss, char *name)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(name, NET_ADDRSTRLEN, "[%s]:%u", host,
			 ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(name, NET_ADDRSTRLEN, "%s:%u", host,
			 ntohs(s4->sin_port));
	}
	return 0;
}

int net_listen(const char *host, unsigned port, int backlog, int *fd,
	       char name[NET_ADDRSTRLEN])
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (void *)&ss;
	struct sockaddr_in6 *s6 = (void *)&ss;
	socklen_t len;
	int one = 1, s, ret;

	memset(&ss, 0, sizeof(ss));
	if (port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		len = sizeof(*s6);
	} else {
		return -EINVAL;
	}

	s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	/* SO_REUSEADDR only skips TIME_WAIT on restart: Linux still refuses a
	 * second listener on the same address. SO_REUSEPORT would not. */
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		goto err_close;
	if (bind(s, (struct sockaddr *)&ss, len) || listen(s, backlog))
		goto err_close;
	len = sizeof(ss);
	if (getsockname(s, (struct sockaddr *)&ss, &len))
		goto err_close;
	net_name(&ss, name);
	*fd = s;
	return 0;

err_close:
	ret = -errno;
	close(s);
	return ret;
}

int net_accept(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

unsigned long net_nofile(unsigned long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rlim_t target = want;

		if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max)
			target = rl.rlim_max;
		if (target > rl.rlim_cur) {
			rl.rlim_cur = target;
			if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
				return (unsigned long)target;
			getrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	return rl.rlim_cur == RLIM_INFINITY ? want : (unsigned long)rl.rlim_cur;
}

unsigned net_fit_conns(unsigned want, unsigned reserve, unsigned long *nofile)
{
	unsigned long need = (unsigned long)want + reserve;
	unsigned long have = net_nofile(need);

	*nofile = have;
	if (have >= need)
		return want;
	if (have <= (unsigned long)reserve + 1)
		return 1;
	return (unsigned)(have - reserve);
}
