/* SPDX-License-Identifier: MIT */
/*
 * prep.h - SQEs for a connection's requests, as the feature flags want
 * them: direct descriptors (--fixed-files), zero-copy sends (--send-zc),
 * recv bundles (--bundle). Fills SQEs only: no syscalls, no state, no
 * user_data (the loop sets it).
 */
#ifndef URING_PREP_H
#define URING_PREP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <liburing.h>

/* liburing 2.3 lacks the flag (Linux 6.10): one multishot recv completion
 * may then cover several consecutive provided buffers. */
#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE (1U << 4)
#endif

struct prep {
	bool fixed; /* connection fds are direct descriptors (table indexes) */
	bool bundle; /* multishot recvs take bundles of buffers */
	bool recv_limit; /* a multishot recv can be given a byte limit */
	uint16_t bgid; /* the provided-buffer group */
	uint32_t zc_min; /* sends of at least this many bytes are zero-copy;
			  * 0: none */
	unsigned zc_flags; /* IORING_SEND_ZC_* for every zero-copy send */
};

/* prep_accept - accept on the (ordinary) listener lfd; multishot or one
 * connection. With fixed, into a free slot of the file table. */
void prep_accept(const struct prep *p, struct io_uring_sqe *sqe, int lfd,
		 bool multishot);

/* prep_recv - one recv of at most len bytes into buf. */
void prep_recv(const struct prep *p, struct io_uring_sqe *sqe, int fd,
	       void *buf, size_t len);

/* prep_recv_multishot - a multishot recv into the provided buffers, taking
 * bundles if p->bundle. With p->recv_limit (Linux 6.17) it ends by itself
 * once it has received limit bytes (a bundle stops exactly there; a single
 * buffer may take up to one buffer more); otherwise limit is ignored. */
void prep_recv_multishot(const struct prep *p, struct io_uring_sqe *sqe, int fd,
			 uint32_t limit);

/* prep_send - send len bytes of buf (never raising SIGPIPE); zero-copy if
 * zc and len >= p->zc_min. Returns true if zero-copy: then a notification
 * completion follows the result, and only after it may buf be reused. */
bool prep_send(const struct prep *p, struct io_uring_sqe *sqe, int fd,
	       const void *buf, size_t len, bool zc);

/* prep_sendmsg - send the msg's iovec in one request (never raising
 * SIGPIPE); zero-copy if zc and len (the iovec's total) >= p->zc_min, as
 * prep_send. msg and its iovec must stay put until the completion. */
bool prep_sendmsg(const struct prep *p, struct io_uring_sqe *sqe, int fd,
		  const struct msghdr *msg, size_t len, bool zc);

/* prep_shutdown - shut the write side (IORING_OP_SHUTDOWN: for direct
 * descriptors, which shutdown(2) cannot name). */
void prep_shutdown(const struct prep *p, struct io_uring_sqe *sqe, int fd);

/* prep_abort - reset the connection (connect to AF_UNSPEC: TCP drops what
 * it still holds to send, zero-copy pages included, and sends RST). */
void prep_abort(const struct prep *p, struct io_uring_sqe *sqe, int fd);

/* prep_close - close a direct descriptor (frees its table slot). */
void prep_close(const struct prep *p, struct io_uring_sqe *sqe, int fd);

#endif
