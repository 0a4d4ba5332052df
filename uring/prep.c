// SPDX-License-Identifier: MIT
/*
 * prep.c - fill SQEs for a connection's requests as the features want.
 *
 * The one place that knows a direct descriptor needs IOSQE_FIXED_FILE and
 * which sends go zero-copy; everything else is liburing's prep helpers.
 */
#include <sys/socket.h>

#include "prep.h"

/* Requests on a connection name its table slot instead of an fd. */
static void prep_file(const struct prep *p, struct io_uring_sqe *sqe)
{
	if (p->fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
}

void prep_accept(const struct prep *p, struct io_uring_sqe *sqe, int lfd,
		 bool multishot)
{
	/* SOCK_CLOEXEC only for real descriptors: the kernel refuses it
	 * (-EINVAL) with a direct one, which no exec can inherit anyway. */
	if (p->fixed && multishot)
		io_uring_prep_multishot_accept_direct(sqe, lfd, NULL, NULL, 0);
	else if (p->fixed)
		/* liburing 2.3 adds 1 to the index without special-casing
		 * IORING_FILE_INDEX_ALLOC (fixed in 2.4), so pass it less 1,
		 * as its own multishot helper does. */
		io_uring_prep_accept_direct(sqe, lfd, NULL, NULL, 0,
					    IORING_FILE_INDEX_ALLOC - 1);
	else if (multishot)
		io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL,
					       SOCK_CLOEXEC);
	else
		io_uring_prep_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
}

void prep_recv(const struct prep *p, struct io_uring_sqe *sqe, int fd,
	       void *buf, size_t len)
{
	io_uring_prep_recv(sqe, fd, buf, len, 0);
	prep_file(p, sqe);
}

void prep_recv_multishot(const struct prep *p, struct io_uring_sqe *sqe, int fd,
			 uint32_t limit)
{
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	/* sqe->optlen in newer headers; liburing 2.3 names the same field
	 * file_index. Kernels before 6.17 refuse it (-EINVAL). */
	if (p->recv_limit)
		sqe->file_index = limit;
	if (p->bundle)
		sqe->ioprio |= IORING_RECVSEND_BUNDLE;
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = p->bgid;
	prep_file(p, sqe);
}

bool prep_send(const struct prep *p, struct io_uring_sqe *sqe, int fd,
	       const void *buf, size_t len, bool zc)
{
	zc = zc && p->zc_min && len >= p->zc_min;
	/* SIGPIPE is ignored too (sig_install), but say it here as well. */
	if (zc)
		io_uring_prep_send_zc(sqe, fd, buf, len, MSG_NOSIGNAL,
				      p->zc_flags);
	else
		io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
	prep_file(p, sqe);
	return zc;
}

bool prep_sendmsg(const struct prep *p, struct io_uring_sqe *sqe, int fd,
		  const struct msghdr *msg, size_t len, bool zc)
{
	zc = zc && p->zc_min && len >= p->zc_min;
	if (zc)
		io_uring_prep_sendmsg_zc(sqe, fd, msg, MSG_NOSIGNAL);
	else
		io_uring_prep_sendmsg(sqe, fd, msg, MSG_NOSIGNAL);
	/* The zero-copy flags ride in ioprio, as for IORING_OP_SEND_ZC. */
	if (zc)
		sqe->ioprio |= p->zc_flags;
	prep_file(p, sqe);
	return zc;
}

void prep_shutdown(const struct prep *p, struct io_uring_sqe *sqe, int fd)
{
	io_uring_prep_shutdown(sqe, fd, SHUT_WR);
	prep_file(p, sqe);
}

void prep_abort(const struct prep *p, struct io_uring_sqe *sqe, int fd)
{
	/* Static: the kernel reads it when it takes the SQE, which under
	 * SQPOLL is some time after this returns. */
	static const struct sockaddr unspec = { .sa_family = AF_UNSPEC };

	io_uring_prep_connect(sqe, fd, &unspec, sizeof(unspec));
	prep_file(p, sqe);
}

void prep_close(const struct prep *p, struct io_uring_sqe *sqe, int fd)
{
	io_uring_prep_close_direct(sqe, (unsigned)fd);
}
