// SPDX-License-Identifier: MIT
/*
 * net.c - listener, accept and descriptor-limit helpers (these do syscalls).
 *
 * Shared by both drivers so that socket setup is written once. Every
 * function returns 0 / -errno and leaves printing to its caller.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
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

/* The socket address for host:port; -EINVAL if host is not numeric. */
static int net_addr(const char *host, unsigned port,
		    struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (void *)ss;
	struct sockaddr_in6 *s6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
	} else {
		return -EINVAL;
	}
	return 0;
}

/* One socket bound to ss: SO_REUSEADDR, plus SO_REUSEPORT if group; then
 * listening if backlog > 0. Returns the fd or -errno. */
static int net_bind_one(const struct sockaddr_storage *ss, socklen_t len,
			bool group, int backlog)
{
	int one = 1, s, ret;

	s = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		   0);
	if (s < 0)
		return -errno;
	/* SO_REUSEADDR only skips TIME_WAIT on restart: Linux still refuses a
	 * second listener on the same address. SO_REUSEPORT would not. */
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (group &&
	     setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		goto err_close;
	if (bind(s, (const struct sockaddr *)ss, len))
		goto err_close;
	if (backlog > 0 && listen(s, backlog))
		goto err_close;
	return s;

err_close:
	ret = -errno;
	close(s);
	return ret;
}

/* Fill name from the address fd is bound to. */
static int net_bound_name(int fd, struct sockaddr_storage *ss,
			  char name[NET_ADDRSTRLEN])
{
	socklen_t len = sizeof(*ss);

	if (getsockname(fd, (struct sockaddr *)ss, &len))
		return -errno;
	return net_name(ss, name);
}

int net_listen(const char *host, unsigned port, int backlog, int *fd,
	       char name[NET_ADDRSTRLEN])
{
	struct sockaddr_storage ss;
	socklen_t len;
	int s, ret;

	ret = net_addr(host, port, &ss, &len);
	if (ret)
		return ret;
	s = net_bind_one(&ss, len, false, backlog);
	if (s < 0)
		return s;
	ret = net_bound_name(s, &ss, name);
	if (ret) {
		close(s);
		return ret;
	}
	*fd = s;
	return 0;
}

int net_listen_group(const char *host, unsigned port, int backlog, unsigned n,
		     int *fds, char name[NET_ADDRSTRLEN])
{
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned i = 0;
	int probe, ret;

	ret = net_addr(host, port, &ss, &len);
	if (ret)
		return ret;
	/*
	 * The probe: bound without SO_REUSEPORT and not listening. It fails
	 * with -EADDRINUSE if anyone listens on the port, a SO_REUSEPORT
	 * group included (the kernel would let a bare SO_REUSEPORT socket of
	 * the same user join that group silently). While it stays bound, our
	 * group may still bind beside it: two SO_REUSEADDR sockets conflict
	 * only if one of them listens. Port 0 is resolved here, once.
	 */
	probe = net_bind_one(&ss, len, false, 0);
	if (probe < 0)
		return probe;
	ret = net_bound_name(probe, &ss, name);
	if (ret)
		goto err;
	for (i = 0; i < n; i++) {
		ret = net_bind_one(&ss, len, true, backlog);
		if (ret < 0)
			goto err;
		fds[i] = ret;
	}
	close(probe);
	return 0;

err:
	while (i > 0)
		close(fds[--i]);
	close(probe);
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

bool net_is_loopback(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ss;
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return false;
	if (ss.ss_family == AF_INET)
		return (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
	if (ss.ss_family != AF_INET6)
		return false;
	if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
		return a6->sin6_addr.s6_addr[12] == 127;
	return IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
}
