/* SPDX-License-Identifier: MIT */
/*
 * dial.h - client sockets: connect with a time bound, check an idle one.
 *
 * All return 0 / an fd, or a negative errno; none prints or exits.
 */
#ifndef LOAD_DIAL_H
#define LOAD_DIAL_H

/*
 * dial_tcp - a TCP connection to host (numeric IPv4 or IPv6):port, within
 * timeout_ms. The socket is non-blocking, close-on-exec, with TCP_NODELAY
 * (small echoed messages must not wait for Nagle). Returns the fd, or
 * -EINVAL (not a numeric address), -ETIMEDOUT, or the connect error.
 */
int dial_tcp(const char *host, unsigned port, int timeout_ms);

/* dial_alive - peek at a connection that should be silent: 0 if it is still
 * open with nothing to read, -EPIPE if the peer closed it, -EPROTO if bytes
 * arrived, or the socket error (e.g. -ECONNRESET). */
int dial_alive(int fd);

#endif
