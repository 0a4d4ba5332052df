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
#include <sys/uio.h> /* struct iovec: a type, no I/O */

#include "buf.h"

/* What a connection wants next; conn_wants() == 0 means "close me". */
enum {
	CONN_WANT_READ = 1u << 0, /* room to receive and no EOF seen yet */
	CONN_WANT_WRITE = 1u << 1, /* received bytes wait to be echoed */
	CONN_WANT_SHUT = 1u
			 << 2, /* all echoed after EOF: shut the write side */
};

/*
 * Segment mode: received bytes stay in buffers the driver provides (an
 * io_uring provided-buffer ring) and are echoed straight from there. Buffer
 * i is base + i * size, or base + off[i] when the driver keeps an offset
 * table (a buffer consumed in slices, each slice an id of its own); the
 * table chains each connection's buffers in arrival order. The driver owns
 * the memory; the core only does the books.
 */
struct conn_segs {
	uint8_t *base;
	uint32_t size; /* bytes per buffer (per slice, at most) */
	uint32_t count; /* buffers, at most 65536 (ids are 16 bits) */
	uint32_t max_held; /* buffers one connection may hold and still read */
	uint32_t *len; /* per buffer: bytes received into it */
	uint16_t *next; /* per buffer: the next one of its connection */
	uint32_t *off; /* per id: its first byte's offset from base; NULL:
			* id * size */
};

/* Settings and storage shared by every connection of one loop. */
struct conn_env {
	struct buf_cache cache; /* cache.size is the per-connection bound */
	struct conn_segs *segs; /* non-NULL: every conn is in segment mode */
};

/*
 * Segment mode's books. A connection in segment mode may also receive into
 * its own ring (when the shared buffers run out), so it keeps both; ring
 * bytes are always newer than every held buffer: segments may arrive only
 * while the ring is empty and no rx window is lent.
 */
struct conn_seg {
	uint16_t head; /* oldest held buffer: the one being echoed */
	uint16_t tail; /* newest held buffer */
	uint32_t n; /* buffers held: up to all 65536, past the cap */
	uint32_t off; /* bytes of head already sent */
	uint32_t len; /* bytes held and not yet sent */
};

struct conn {
	struct conn_env *env;
	struct buf buf; /* the connection's own ring */
	struct conn_seg seg; /* held provided buffers (segment mode) */
	uint16_t flags; /* CONN_F_*, private to conn.c */
	int16_t err; /* first error, a negative errno; 0 if none */
};

/* conn_env_init - set up shared state; buf_size bytes per connection at most.
 * keep is how many free buffers to cache. Returns 0 or -ENOMEM. */
int conn_env_init(struct conn_env *env, uint32_t buf_size, uint32_t keep);

/* conn_env_fini - release cached buffers; every conn must be reset first. */
void conn_env_fini(struct conn_env *env);

/*
 * conn_env_segs - switch env to segment mode over segs (filled in by the
 * driver, tables included). A max_held of 0 is derived here from the byte
 * bound: buf_size / segs->size buffers, at least 1; a driver whose ids are
 * slices of larger buffers sets its own (the byte bound still holds).
 * Call before any conn_init.
 * Returns 0, or -EINVAL if the table is unusable.
 */
int conn_env_segs(struct conn_env *env, struct conn_segs *segs);

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
 * conn_rx_window - lend the largest contiguous free region of the
 * connection's own ring to receive into, no larger than the room left
 * under the bound (buf_size less every byte held, in held buffers too). Valid while conn_wants() has
 * CONN_WANT_READ and no rx window is lent (in segment mode too: the
 * fallback when the shared buffers have run out).
 * Returns 0 with *len > 0, or -ENOMEM if no storage could be attached (the
 * connection has then failed with -ENOMEM).
 * The window stays lent until conn_rx_commit() or conn_rx_eof().
 */
int conn_rx_window(struct conn *c, uint8_t **p, size_t *len);

/* conn_rx_commit - n bytes (n <= window) landed in the lent window; n == 0
 * just returns the window (EAGAIN, cancelled). */
void conn_rx_commit(struct conn *c, size_t n);

/*
 * conn_rx_segment - segment mode: n > 0 bytes arrived in buffer id, which
 * the connection now holds until they are echoed. Accepted even when reads
 * are no longer wanted (a multishot receive may still be delivering while
 * its cancellation is on the way); conn_wants() then keeps READ off.
 * Only while the own ring is empty and no rx window is lent (ordering).
 */
void conn_rx_segment(struct conn *c, uint16_t id, uint32_t n);

/* conn_seg_drop - segment mode, closing: give up the oldest held buffer
 * unsent. Returns its id for the driver to recycle, or -1 if none is held.
 * No tx window may be lent. */
int conn_seg_drop(struct conn *c);

/* conn_rx_eof - the peer shut its write side; returns any lent rx window.
 * Everything already received is still echoed, then CONN_WANT_SHUT. */
void conn_rx_eof(struct conn *c);

/*
 * conn_tx_window - lend the oldest contiguous run of bytes to send.
 * Only valid while conn_wants() has CONN_WANT_WRITE and no tx window is lent.
 * Returns its length (> 0) and sets *p.
 */
size_t conn_tx_window(struct conn *c, const uint8_t **p);

/*
 * conn_tx_commit - n bytes (n <= window) of the lent tx window were sent;
 * a short send (n smaller than the window) is normal. Returns the window.
 * Segment mode: returns the id of a buffer now fully echoed, which the
 * driver recycles; otherwise (and always in ring mode) -1.
 */
int conn_tx_commit(struct conn *c, size_t n);

/*
 * conn_tx_iov - lend every byte waiting to be echoed, oldest first, as up
 * to max spans: the held buffers in order (segment mode), then the own
 * ring (one or two spans). Fewer bytes are lent when max spans cannot
 * hold them all; the spans are always a prefix of the output stream.
 * Valid when conn_tx_window() is; sets *total (> 0) and returns the number
 * of spans filled (>= 1). Returned with conn_tx_commit_iov(), not
 * conn_tx_commit().
 */
unsigned conn_tx_iov(struct conn *c, struct iovec *iov, unsigned max,
		     size_t *total);

/*
 * conn_tx_commit_iov - n bytes (n <= *total) of the lent spans were sent, a
 * short send included; returns the spans. Stores the ids of the held
 * buffers now fully echoed, oldest first, in done (room for as many ids as
 * spans were lent), for the driver to recycle, and returns their number.
 */
unsigned conn_tx_commit_iov(struct conn *c, size_t n, uint16_t *done);

/* conn_shut_done - the driver shut the write side as CONN_WANT_SHUT asked. */
void conn_shut_done(struct conn *c);

/* conn_fail - the connection hit an error (negative errno): it wants nothing
 * more. Keeps the first error. Lent windows stay lent: the kernel may still
 * write into them, so the driver returns them with their commits (which
 * stay valid after a failure) before conn_reset. */
void conn_fail(struct conn *c, int err);

/* conn_buffered - bytes received and not yet echoed (in either mode). */
size_t conn_buffered(const struct conn *c);

/* conn_ring_idle - the own ring is empty and no rx window is lent: the one
 * state in which segments may arrive (segment mode). */
bool conn_ring_idle(const struct conn *c);

/* conn_rx_room - bytes the connection may still receive under its bound
 * (0 when READ is not wanted for that reason). */
size_t conn_rx_room(const struct conn *c);

/* conn_error - the first error (negative errno), or 0. */
static inline int conn_error(const struct conn *c)
{
	return c->err;
}

#endif
