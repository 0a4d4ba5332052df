/* SPDX-License-Identifier: MIT */
/*
 * net.h - socket and process helpers shared by both drivers.
 *
 * These make syscalls, so they live in their own library, apart from the
 * sans-I/O core. All return 0 or a negative errno; none prints or exits.
 */
#ifndef ECHO_NET_H
#define ECHO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_ADDRSTRLEN 64 /* "[v6addr]:port" fits */

/*
 * net_listen - a non-blocking, close-on-exec TCP listener on host:port
 * (numeric IPv4 or IPv6). SO_REUSEADDR (fast restart) but never
 * SO_REUSEPORT, so a second server on a port in use fails with -EADDRINUSE.
 * TCP_NODELAY is set on the listener; Linux copies it to accepted sockets.
 * On success *fd is the socket and name holds the bound "HOST:PORT"
 * ("[HOST]:PORT" for IPv6). -EINVAL means host is not a numeric address.
 */
int net_listen(const char *host, unsigned port, int backlog, int *fd,
	       char name[NET_ADDRSTRLEN]);

/*
 * net_listen_group - n listeners on one host:port, for n event loops: each
 * has SO_REUSEPORT, so the kernel spreads connections over them by a hash
 * of the addresses. A second server on a port in use still fails with
 * -EADDRINUSE: a probe socket without SO_REUSEPORT is bound first and
 * conflicts with any listener there, a SO_REUSEPORT group included. fds
 * gets the n sockets; name as for net_listen.
 */
int net_listen_group(const char *host, unsigned port, int backlog, unsigned n,
		     int *fds, char name[NET_ADDRSTRLEN]);

/* net_is_loopback - the socket fd is bound to a loopback address
 * (127.0.0.0/8, ::1 or an IPv4-mapped 127.x): every peer is then local.
 * False if it is not, or cannot be told. */
bool net_is_loopback(int fd);

/* net_accept - accept4 one connection, non-blocking and close-on-exec.
 * Returns the new fd (>= 0) or a negative errno (-EAGAIN: none pending). */
int net_accept(int lfd);

/*
 * net_nofile - make room for want descriptors: raise the soft
 * RLIMIT_NOFILE towards the hard limit if needed. Returns the soft limit
 * now in force (which may still be below want).
 */
unsigned long net_nofile(unsigned long want);

/*
 * net_fit_conns - how many connections fit in this process's descriptor
 * limit: want, or fewer (at least 1) when RLIMIT_NOFILE, raised towards
 * its hard limit if needed, cannot hold want + reserve. *nofile gets the
 * soft limit now in force. The caller warns when the result is below want.
 */
unsigned net_fit_conns(unsigned want, unsigned reserve, unsigned long *nofile);

#endif
