// SPDX-License-Identifier: MIT
/*
 * conn.c - the echo connection's state machine (sans-I/O).
 *
 * Every protocol decision lives here: echo what came in, in order; stop
 * reading while the output is at its bound; after EOF flush, then shut,
 * then close; on error close. Bytes wait in the connection's own ring
 * (attached on the first receive, given back whenever it is empty and not
 * lent) or, in segment mode, in provided buffers the driver hands over.
 */
#include <assert.h>
#include <errno.h>

#include "conn.h"

enum {
	CONN_F_RX_LENT = 1u << 0, /* an rx window is out with the driver */
	CONN_F_TX_LENT = 1u << 1, /* a tx window is out with the driver */
	CONN_F_EOF = 1u << 2, /* the peer shut its write side */
	CONN_F_SHUT = 1u << 3, /* our write side is shut */
	CONN_F_TX_SEG = 1u << 4, /* the lent tx window is a held buffer */
	CONN_F_TX_IOV = 1u << 5, /* the lent tx window is spans (iov) */
};

int conn_env_init(struct conn_env *env, uint32_t buf_size, uint32_t keep)
{
	env->segs = NULL;
	return buf_cache_init(&env->cache, buf_size, keep);
}

void conn_env_fini(struct conn_env *env)
{
	buf_cache_fini(&env->cache);
}

int conn_env_segs(struct conn_env *env, struct conn_segs *segs)
{
	if (!segs->base || !segs->len || !segs->next || !segs->size ||
	    !segs->count || segs->count > 65536)
		return -EINVAL;
	/* A driver that consumes buffers in slices sets its own cap. */
	if (!segs->max_held)
		segs->max_held = env->cache.size / segs->size;
	if (segs->max_held == 0)
		segs->max_held = 1;
	env->segs = segs;
	return 0;
}

void conn_init(struct conn *c, struct conn_env *env)
{
	c->env = env;
	c->buf.data = NULL;
	c->buf.head = 0;
	c->buf.len = 0;
	c->seg.head = c->seg.tail = 0;
	c->seg.n = 0;
	c->seg.off = c->seg.len = 0;
	c->flags = 0;
	c->err = 0;
}

/* Where buffer (or slice) id starts. */
static uint8_t *conn_seg_ptr(const struct conn_segs *sg, uint32_t id)
{
	return sg->base + (sg->off ? sg->off[id] : (size_t)id * sg->size);
}

/* Give the ring's storage back once nothing refers to it. */
static void conn_maybe_release(struct conn *c)
{
	bool tx_ring =
	    (c->flags & CONN_F_TX_LENT) && !(c->flags & CONN_F_TX_SEG);

	if (c->buf.len == 0 && !(c->flags & CONN_F_RX_LENT) && !tx_ring)
		buf_detach(&c->buf, &c->env->cache);
}

void conn_reset(struct conn *c)
{
	assert(!(c->flags & (CONN_F_RX_LENT | CONN_F_TX_LENT)));
	/* The driver must have recycled every provided buffer it held. */
	assert(c->seg.n == 0);
	c->buf.len = 0;
	buf_detach(&c->buf, &c->env->cache);
	c->flags = 0;
}

unsigned conn_wants(const struct conn *c)
{
	unsigned w = 0;
	bool room;

	if (c->err)
		return 0;
	/* Bytes bound the connection in both modes; in segment mode so do
	 * buffers, each of which is pinned however little it holds. */
	room = conn_buffered(c) < c->env->cache.size;
	if (c->env->segs)
		room = room && c->seg.n < c->env->segs->max_held;
	if (!(c->flags & CONN_F_EOF) && room)
		w |= CONN_WANT_READ;
	if (conn_buffered(c))
		w |= CONN_WANT_WRITE;
	else if ((c->flags & CONN_F_EOF) && !(c->flags & CONN_F_SHUT))
		w |= CONN_WANT_SHUT;
	return w;
}

int conn_rx_window(struct conn *c, uint8_t **p, size_t *len)
{
	int ret;

	assert(conn_wants(c) & CONN_WANT_READ);
	assert(!(c->flags & CONN_F_RX_LENT));
	ret = buf_attach(&c->buf, &c->env->cache);
	if (ret) {
		conn_fail(c, ret);
		return ret;
	}
	*len = buf_wspan(&c->buf, c->env->cache.size, p);
	/* Held buffers count against the bound too (segment mode). */
	if (*len > c->env->cache.size - conn_buffered(c))
		*len = c->env->cache.size - conn_buffered(c);
	assert(*len > 0);
	c->flags |= CONN_F_RX_LENT;
	return 0;
}

void conn_rx_commit(struct conn *c, size_t n)
{
	assert(c->flags & CONN_F_RX_LENT);
	c->flags &= ~CONN_F_RX_LENT;
	if (n)
		buf_produce(&c->buf, c->env->cache.size, (uint32_t)n);
	conn_maybe_release(c);
}

bool conn_ring_idle(const struct conn *c)
{
	return c->buf.len == 0 && !(c->flags & CONN_F_RX_LENT);
}

void conn_rx_segment(struct conn *c, uint16_t id, uint32_t n)
{
	struct conn_segs *sg = c->env->segs;

	assert(sg && id < sg->count && n > 0 && n <= sg->size);
	/* Ring bytes are always newer than held buffers. */
	assert(conn_ring_idle(c));
	sg->len[id] = n;
	if (c->seg.n++ == 0)
		c->seg.head = id;
	else
		sg->next[c->seg.tail] = id;
	c->seg.tail = id;
	c->seg.len += n;
}

/* Unlink the head buffer (bytes accounted by the caller); returns its id. */
static int conn_seg_unlink(struct conn *c)
{
	uint16_t id = c->seg.head;

	c->seg.off = 0;
	if (--c->seg.n)
		c->seg.head = c->env->segs->next[id];
	return id;
}

int conn_seg_drop(struct conn *c)
{
	assert(c->env->segs && !(c->flags & CONN_F_TX_LENT));
	if (c->seg.n == 0)
		return -1;
	c->seg.len -= c->env->segs->len[c->seg.head] - c->seg.off;
	return conn_seg_unlink(c);
}

void conn_rx_eof(struct conn *c)
{
	c->flags &= ~CONN_F_RX_LENT;
	c->flags |= CONN_F_EOF;
	conn_maybe_release(c);
}

size_t conn_tx_window(struct conn *c, const uint8_t **p)
{
	struct conn_segs *sg = c->env->segs;
	size_t n;

	assert(conn_wants(c) & CONN_WANT_WRITE);
	assert(!(c->flags & CONN_F_TX_LENT));
	/* Held buffers first: they are older than anything in the ring. */
	if (sg && c->seg.n) {
		*p = conn_seg_ptr(sg, c->seg.head) + c->seg.off;
		n = sg->len[c->seg.head] - c->seg.off;
		c->flags |= CONN_F_TX_SEG;
	} else {
		n = buf_rspan(&c->buf, c->env->cache.size, p);
		c->flags &= ~CONN_F_TX_SEG;
	}
	assert(n > 0);
	c->flags |= CONN_F_TX_LENT;
	return n;
}

int conn_tx_commit(struct conn *c, size_t n)
{
	struct conn_segs *sg = c->env->segs;

	assert((c->flags & (CONN_F_TX_LENT | CONN_F_TX_IOV)) == CONN_F_TX_LENT);
	c->flags &= ~CONN_F_TX_LENT;
	if (c->flags & CONN_F_TX_SEG) {
		c->flags &= ~CONN_F_TX_SEG;
		assert(n <= sg->len[c->seg.head] - c->seg.off);
		c->seg.off += (uint32_t)n;
		c->seg.len -= (uint32_t)n;
		if (c->seg.off == sg->len[c->seg.head])
			return conn_seg_unlink(c);
		return -1;
	}
	if (n)
		buf_consume(&c->buf, c->env->cache.size, (uint32_t)n);
	conn_maybe_release(c);
	return -1;
}

/* Lend the held buffers as spans, oldest first; false if max cut them. */
static bool conn_tx_iov_segs(struct conn *c, struct iovec *iov, unsigned max,
			     unsigned *n, size_t *total)
{
	struct conn_segs *sg = c->env->segs;
	uint32_t i, id = c->seg.head, off = c->seg.off;

	for (i = 0; i < c->seg.n; i++) {
		if (*n == max)
			return false;
		if (i)
			id = sg->next[id];
		iov[*n].iov_base = conn_seg_ptr(sg, id) + off;
		iov[*n].iov_len = sg->len[id] - off;
		*total += iov[*n].iov_len;
		(*n)++;
		off = 0;
	}
	return true;
}

unsigned conn_tx_iov(struct conn *c, struct iovec *iov, unsigned max,
		     size_t *total)
{
	uint32_t cap = c->env->cache.size, first;
	const uint8_t *p;
	unsigned n = 0;

	assert(conn_wants(c) & CONN_WANT_WRITE);
	assert(!(c->flags & CONN_F_TX_LENT) && max > 0);
	*total = 0;
	c->flags |= CONN_F_TX_LENT | CONN_F_TX_IOV | CONN_F_TX_SEG;
	if (c->seg.n && !conn_tx_iov_segs(c, iov, max, &n, total))
		return n;
	if (n == max || c->buf.len == 0)
		return n;
	/* The ring's bytes: from head to the end of storage, then wrapped. */
	c->flags &= ~CONN_F_TX_SEG;
	first = buf_rspan(&c->buf, cap, &p);
	iov[n].iov_base = (void *)p;
	iov[n].iov_len = first;
	*total += first;
	n++;
	if (first < c->buf.len && n < max) {
		iov[n].iov_base = c->buf.data;
		iov[n].iov_len = c->buf.len - first;
		*total += c->buf.len - first;
		n++;
	}
	return n;
}

unsigned conn_tx_commit_iov(struct conn *c, size_t n, uint16_t *done)
{
	struct conn_segs *sg = c->env->segs;
	uint32_t left, take;
	unsigned k = 0;

	assert(c->flags & CONN_F_TX_LENT && c->flags & CONN_F_TX_IOV);
	c->flags &= ~(CONN_F_TX_LENT | CONN_F_TX_IOV | CONN_F_TX_SEG);
	/* The spans were a prefix of the stream: held buffers, then ring. */
	while (n && c->seg.n) {
		left = sg->len[c->seg.head] - c->seg.off;
		take = n < left ? (uint32_t)n : left;
		c->seg.off += take;
		c->seg.len -= take;
		n -= take;
		if (take < left)
			break;
		done[k++] = (uint16_t)conn_seg_unlink(c);
	}
	if (n)
		buf_consume(&c->buf, c->env->cache.size, (uint32_t)n);
	conn_maybe_release(c);
	return k;
}

void conn_shut_done(struct conn *c)
{
	c->flags |= CONN_F_SHUT;
}

void conn_fail(struct conn *c, int err)
{
	assert(err < 0);
	if (!c->err)
		c->err = (int16_t)(err < -32767 ? -EIO : err);
}

size_t conn_rx_room(const struct conn *c)
{
	size_t held = conn_buffered(c);

	return held < c->env->cache.size ? c->env->cache.size - held : 0;
}

size_t conn_buffered(const struct conn *c)
{
	return (size_t)c->buf.len + c->seg.len;
}
