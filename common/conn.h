/* SPDX-License-Identifier: MIT */
/*
 * conn.h - the sans-I/O echo connection: bytes in, bytes out, wants().
 *
 * This is the only place that decides what to echo, when to stop reading
 * (backpressure), when to shut the write side and when to close. It makes no
 * syscalls and knows nothing of sockets, pollers or rings: drivers lend its
 * windows to the kernel and report back what happened.
 */
#ifndef ECHO_CONN_H
#define ECHO_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* What a connection wants next; conn_wants() == 0 means "close me". */
enum {
	CONN_WANT_READ = 1u << 0, /* room to receive and no EOF seen yet */
	CONN_WANT_WRITE = 1u << 1, /* received bytes wait to be echoed */
	CONN_WANT_SHUT = 1u
			 << 2, /* all echoed after EOF: shut the write side */
};

/* Settings and storage shared by every connection of one loop. */
struct conn_env {
	struct buf_cache cache; /* cache.size is the per-connection bound */
};

struct conn {
	struct conn_env *env;
	struct buf buf;
	uint16_t flags; /* CONN_F_*, private to conn.c */
	int16_t err; /* first error, a negative errno; 0 if none */
};

/* conn_env_init - set up shared state; buf_size bytes per connection at most.
 * keep is how many free buffers to cache. Returns 0 or -ENOMEM. */
int conn_env_init(struct conn_env *env, uint32_t buf_size, uint32_t keep);

/* conn_env_fini - release cached buffers; every conn must be reset first. */
void conn_env_fini(struct conn_env *env);

/* conn_init - start a fresh connection bound to env. Never fails: storage
 * is attached only when bytes arrive, so an idle connection costs no buffer. */
void conn_init(struct conn *c, struct conn_env *env);

/* conn_reset - drop whatever is buffered and return the storage. The conn
 * must not have a window lent out. Call once, when the driver closes it. */
void conn_reset(struct conn *c);

/*
 * conn_wants - CONN_WANT_* bits for the next step; 0 means close now
 * (an error happened, or the echo is finished and the write side is shut).
 */
unsigned conn_wants(const struct conn *c);

/*
 * conn_rx_window - lend the largest contiguous free region to receive into.
 * Only valid while conn_wants() has CONN_WANT_READ and no rx window is lent.
 * Returns 0 with *len > 0, or -ENOMEM if no storage could be attached (the
 * connection has then failed with -ENOMEM).
 * The window stays lent until conn_rx_commit() or conn_rx_eof().
 */
int conn_rx_window(struct conn *c, uint8_t **p, size_t *len);

/* conn_rx_commit - n bytes (n <= window) landed in the lent window; n == 0
 * just returns the window (EAGAIN, cancelled). */
void conn_rx_commit(struct conn *c, size_t n);

/* conn_rx_eof - the peer shut its write side; returns any lent rx window.
 * Everything already received is still echoed, then CONN_WANT_SHUT. */
void conn_rx_eof(struct conn *c);

/*
 * conn_tx_window - lend the oldest contiguous run of bytes to send.
 * Only valid while conn_wants() has CONN_WANT_WRITE and no tx window is lent.
 * Returns its length (> 0) and sets *p.
 */
size_t conn_tx_window(struct conn *c, const uint8_t **p);

/* conn_tx_commit - n bytes (n <= window) of the lent tx window were sent;
 * a short send (n smaller than the window) is normal. Returns the window. */
void conn_tx_commit(struct conn *c, size_t n);

/* conn_shut_done - the driver shut the write side as CONN_WANT_SHUT asked. */
void conn_shut_done(struct conn *c);

/* conn_fail - the connection hit an error (negative errno): it wants nothing
 * more. Keeps the first error. Lent windows stay lent: the kernel may still
 * write into them, so the driver returns them with their commits (which
 * stay valid after a failure) before conn_reset. */
void conn_fail(struct conn *c, int err);

/* conn_buffered - bytes received and not yet echoed. */
size_t conn_buffered(const struct conn *c);

/* conn_error - the first error (negative errno), or 0. */
static inline int conn_error(const struct conn *c)
{
	return c->err;
}

#endif
