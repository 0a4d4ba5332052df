/* SPDX-License-Identifier: MIT */
/*
 * net.c - the harness's loopback TCP clients and its seeded byte stream:
 * connect, send, receive, verify a duplex echo of any length.
 *
 * No assertions here; every helper returns 0 / -errno or a value.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define H_RXBUF (256u << 10)

static int h_left_ms(int64_t deadline)
{
	int64_t left = deadline - h_now_ms();

	return left < 0 ? 0 : (int)left;
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
