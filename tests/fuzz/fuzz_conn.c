// SPDX-License-Identifier: MIT
/*
 * fuzz_conn.c - libFuzzer harness for the sans-I/O core (common/conn.c).
 *
 * The input is a script: five bytes of configuration, then events for eight
 * connections, four in a ring-mode env and four in a segment-mode env over
 * a fake provided-buffer table, each taken from and given back to a pool
 * (common/pool.c) as a driver does. A model of each connection (bytes in
 * and out, windows lent, buffers held) is compared with the core after
 * every event; any difference aborts. No I/O: this drives the core alone.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "fuzz.h"
#include "pool.h"

#define FZ_HALF 4 /* connections per env */
#define FZ_CONNS (2 * FZ_HALF)
#define FZ_NBUF 16 /* provided buffers, at most */
#define FZ_BSIZE 16 /* bytes per provided buffer, at most */
#define FZ_RING_MAX 64 /* largest per-connection bound tried */
#define FZ_DRAIN_MAX 100000 /* steps to finish one connection, at most */
#define FZ_POISON 0x5a /* fills a freed slot's conn: nobody may touch it */

#define FZ_CHECK(cond)                                    \
	do {                                              \
		if (!(cond))                              \
			fz_fail(__LINE__, #cond, fz_cur); \
	} while (0)

enum fz_state {
	FZ_IDLE, /* never opened */
	FZ_OPEN,
	FZ_CLOSED, /* given back to the pool: its handle is stale */
};

/* The driver's side of segment mode: buffer memory and who holds what. */
struct fz_table {
	uint8_t mem[FZ_NBUF * FZ_BSIZE];
	uint32_t len[FZ_NBUF];
	uint16_t next[FZ_NBUF];
	uint32_t off[FZ_NBUF]; /* sliced: where each id starts */
	int owner[FZ_NBUF]; /* -1 free, else the slot holding it */
	struct conn_segs segs;
};

/* One connection and the model of what the core must be doing with it. */
struct fz_conn {
	struct pool_slot *s; /* while open */
	struct conn *c; /* &s->conn */
	uint64_t handle; /* names it in the pool; stale once closed */
	uint64_t old; /* the handle of the one before, 0 if none */
	struct pool *pool;
	struct conn_env *env;
	int slot;
	bool seg_mode;
	enum fz_state state;
	uint64_t seed; /* names this connection's byte stream */
	uint64_t rx; /* stream bytes received (committed or arrived) */
	uint64_t tx; /* stream bytes sent: always a prefix of rx */
	uint64_t ring; /* of rx - tx, those in the own ring */
	int err; /* first failure, as conn_fail stores it */
	bool eof;
	bool shut;
	uint8_t *rxp; /* the lent rx window */
	size_t rxlen;
	bool rx_lent;
	const uint8_t *txp; /* the lent tx window */
	size_t txlen;
	bool tx_lent;
	bool tx_seg; /* it is the oldest held buffer (iov: held ones only) */
	unsigned iov_max; /* 0: sends lend one window; else up to this many
			   * spans (conn_tx_iov), chosen per connection */
	struct iovec iov[FZ_NBUF + 2]; /* the lent spans */
	unsigned niov;
	uint16_t held[FZ_NBUF]; /* held buffer ids, a queue, oldest first */
	unsigned hhead;
	unsigned hn;
	uint32_t hoff; /* bytes of the oldest held buffer already sent */
	unsigned late; /* arrivals while READ was off, since hn <= max_held */
};

struct fz {
	const uint8_t *in;
	size_t left;
	struct conn_env env[2]; /* [0] ring mode, [1] segment mode */
	struct pool pool[2]; /* FZ_HALF slots each */
	bool poisoned[2][FZ_HALF]; /* a freed slot, poisoned since */
	struct fz_table tab;
	struct fz_conn conn[FZ_CONNS];
	uint64_t next_seed;
	unsigned step;
};

static struct fz fz_global;
static const struct fz_conn *fz_cur; /* for the failure message */

static void fz_fail(int line, const char *what, const struct fz_conn *fc)
{
	fprintf(stderr, "fuzz_conn: step %u: line %d: check failed: %s\n",
		fz_global.step, line, what);
	if (fc)
		fprintf(stderr,
			"fuzz_conn: conn %d (%s): rx %llu tx %llu ring %llu "
			"held %u err %d eof %d shut %d wants 0x%x\n",
			fc->slot, fc->seg_mode ? "segments" : "ring",
			(unsigned long long)fc->rx, (unsigned long long)fc->tx,
			(unsigned long long)fc->ring, fc->hn, fc->err, fc->eof,
			fc->shut, fc->state == FZ_OPEN ? conn_wants(fc->c) : 0);
	abort();
}

static uint8_t fz_byte(struct fz *f)
{
	if (!f->left)
		return 0;
	f->left--;
	return *f->in++;
}

/* Byte off of the stream seed: a hash, so reordered or stale bytes (from
 * a recycled chunk of another connection) show. */
static uint8_t fz_pat(uint64_t seed, uint64_t off)
{
	uint64_t z = seed + off * 0x9e3779b97f4a7c15ull;

	z ^= z >> 31;
	z *= 0xbf58476d1ce4e5b9ull;
	z ^= z >> 29;
	return (uint8_t)(z >> 24);
}

/*
 * The n bytes at p are the next ones to send: stream bytes tx onwards.
 * Differences are or-ed, then tested once: a comparison per byte would
 * be traced (-fsanitize=fuzzer) and slow every run down.
 */
static bool fz_is_stream_at(const struct fz_conn *fc, size_t off,
			    const uint8_t *p, size_t n)
{
	uint8_t diff = 0;
	size_t i;

	for (i = 0; i < n; i++)
		diff |= p[i] ^ fz_pat(fc->seed, fc->tx + off + i);
	return diff == 0;
}

static bool fz_is_stream(const struct fz_conn *fc, const uint8_t *p, size_t n)
{
	return fz_is_stream_at(fc, 0, p, n);
}

/* A commit amount in [0, max] from one byte: the full window half the
 * time, as a socket with plenty of data or room would give. */
static size_t fz_amount(uint8_t a, size_t max)
{
	if (a >= 128)
		return max;
	return a % (max + 1);
}

static uint32_t fz_cap(const struct fz_conn *fc)
{
	return fc->env->cache.size;
}

static uint32_t fz_max_held(const struct fz *f)
{
	return f->tab.segs.max_held;
}

/* Where buffer id starts: at id * size, or where the driver put it. */
static uint8_t *fz_seg_ptr(const struct fz_table *t, uint32_t id)
{
	if (t->segs.off)
		return (uint8_t *)t->mem + t->off[id];
	return (uint8_t *)t->mem + (size_t)id * t->segs.size;
}

/* The i-th oldest buffer the connection holds, by the model. */
static uint16_t fz_held_id(const struct fz_conn *fc, unsigned i)
{
	return fc->held[(fc->hhead + i) % FZ_NBUF];
}

static uint16_t fz_head(const struct fz_conn *fc)
{
	return fz_held_id(fc, 0);
}

/* Bytes held in provided buffers and not yet sent, by the model. */
static uint64_t fz_held_bytes(const struct fz *f, const struct fz_conn *fc)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < fc->hn; i++)
		n += f->tab.len[fz_held_id(fc, i)];
	return n - fc->hoff;
}

static bool fz_in_ring(const struct fz_conn *fc, const uint8_t *p, size_t n)
{
	const uint8_t *base = fc->c->buf.data;

	return base && p >= base && n <= fz_cap(fc) &&
	       (size_t)(p - base) <= fz_cap(fc) - n;
}

/* A buffer id comes back from the core: it must be the oldest held one. */
static void fz_recycle(struct fz *f, struct fz_conn *fc, int id)
{
	FZ_CHECK(fc->hn > 0 && id == fz_head(fc));
	FZ_CHECK(f->tab.owner[id] == fc->slot);
	f->tab.owner[id] = -1;
	fc->hhead = (fc->hhead + 1) % FZ_NBUF;
	fc->hn--;
	fc->hoff = 0;
}

/* --- invariants --------------------------------------------------------- */

/* A freed slot's conn stays as poisoned: neither the pool nor the core
 * touches a closed connection. */
static void fz_check_pool(struct fz *f, int m)
{
	static uint8_t poison[sizeof(struct conn)];
	const struct pool *p = &f->pool[m];
	uint32_t i;

	FZ_CHECK(p->cap == FZ_HALF && p->used <= FZ_HALF);
	for (i = 0; i < p->cap; i++) {
		if (!f->poisoned[m][i])
			continue;
		FZ_CHECK(pool_at(p, i)->gen == 0);
		memset(poison, FZ_POISON, sizeof(poison));
		FZ_CHECK(!memcmp(&pool_at(p, i)->conn, poison, sizeof(poison)));
	}
}

/* What conn_wants() must say, from the model alone (conn.h's contract). */
static unsigned fz_expected_wants(const struct fz *f, const struct fz_conn *fc)
{
	uint64_t buffered = fc->rx - fc->tx;
	/* Every byte held counts against the bound, held buffers too. */
	bool room = buffered < fz_cap(fc);
	unsigned w = 0;

	if (fc->seg_mode)
		room = room && fc->hn < fz_max_held(f);
	if (fc->err)
		return 0;
	if (!fc->eof && room)
		w |= CONN_WANT_READ;
	if (buffered)
		w |= CONN_WANT_WRITE;
	else if (fc->eof && !fc->shut)
		w |= CONN_WANT_SHUT;
	return w;
}

static void fz_check_conn(struct fz *f, struct fz_conn *fc)
{
	const struct conn *c = fc->c;
	uint64_t buffered = fc->rx - fc->tx;
	unsigned i;
	bool need;

	fz_cur = fc;
	/* A closed connection's handle never names a slot again (its
	 * stale events are dropped); an open one's names its slot. */
	if (fc->state == FZ_CLOSED)
		FZ_CHECK(pool_lookup(fc->pool, fc->handle) == NULL);
	if (fc->old)
		FZ_CHECK(pool_lookup(fc->pool, fc->old) == NULL);
	if (fc->state != FZ_OPEN)
		return;
	FZ_CHECK(pool_lookup(fc->pool, fc->handle) == fc->s);
	/* Sent bytes are a prefix of received ones (their values are
	 * checked as each tx window is lent and committed). */
	FZ_CHECK(fc->tx <= fc->rx);
	FZ_CHECK(conn_buffered(c) == buffered);
	FZ_CHECK(conn_error(c) == fc->err);
	FZ_CHECK(c->buf.len == fc->ring);
	FZ_CHECK(fc->ring <= fz_cap(fc));
	FZ_CHECK(fz_held_bytes(f, fc) + fc->ring == buffered);
	FZ_CHECK(conn_ring_idle(c) == (fc->ring == 0 && !fc->rx_lent));
	if (fc->seg_mode) {
		FZ_CHECK(c->seg.n == fc->hn);
		for (i = 0; i < fc->hn; i++)
			FZ_CHECK(f->tab.owner[fz_held_id(fc, i)] == fc->slot);
		/* Over the cap only by arrivals made while READ was off. */
		FZ_CHECK(fc->hn <= fz_max_held(f) + fc->late);
		if (fc->hn <= fz_max_held(f))
			fc->late = 0;
	} else {
		FZ_CHECK(fc->hn == 0);
		FZ_CHECK(buffered <= fz_cap(fc));
	}
	/* Storage is attached exactly while bytes or a window need it: an
	 * idle connection costs no buffer. */
	need = fc->ring || fc->rx_lent || (fc->tx_lent && !fc->tx_seg);
	FZ_CHECK(!!c->buf.data == need);
	/* READ iff room and no EOF nor error (never at the bound); WRITE iff
	 * bytes wait and no error; SHUT once all is echoed after EOF; 0
	 * after an error or after the shut. */
	FZ_CHECK(conn_wants(c) == fz_expected_wants(f, fc));
}

static void fz_check_all(struct fz *f)
{
	uint64_t live[2] = { 0, 0 };
	unsigned owned[FZ_CONNS] = { 0 };
	uint32_t id;
	int i;

	for (i = 0; i < FZ_CONNS; i++) {
		struct fz_conn *fc = &f->conn[i];

		fz_check_conn(f, fc);
		if (fc->state == FZ_OPEN && fc->c->buf.data)
			live[fc->seg_mode]++;
	}
	fz_cur = NULL;
	fz_check_pool(f, 0);
	fz_check_pool(f, 1);
	/* Every chunk handed out is attached to an open connection. */
	FZ_CHECK(f->env[0].cache.live == live[0]);
	FZ_CHECK(f->env[1].cache.live == live[1]);
	/* Every provided buffer is free or held by exactly one connection,
	 * the one whose queue names it. */
	for (id = 0; id < f->tab.segs.count; id++) {
		int o = f->tab.owner[id];

		if (o < 0)
			continue;
		FZ_CHECK(o >= FZ_HALF && o < FZ_CONNS);
		FZ_CHECK(f->conn[o].state == FZ_OPEN);
		owned[o]++;
	}
	for (i = 0; i < FZ_CONNS; i++)
		if (f->conn[i].state == FZ_OPEN)
			FZ_CHECK(owned[i] == f->conn[i].hn);
}

/* --- events ------------------------------------------------------------- */

/* Take a pool slot: the pool initialises its conn against the env. */
static void fz_open(struct fz *f, struct fz_conn *fc)
{
	int slot = (int)(fc - f->conn);
	bool seg_mode = slot >= FZ_HALF;
	struct pool *p = &f->pool[seg_mode];
	uint64_t old = fc->handle;

	if (fc->state == FZ_OPEN)
		return;
	memset(fc, 0, sizeof(*fc));
	fc->old = old;
	fc->slot = slot;
	fc->seg_mode = seg_mode;
	fc->pool = p;
	fc->env = &f->env[seg_mode];
	fc->seed = ++f->next_seed * 0xd1342543de82ef95ull;
	/* One send window, or spans: one, a few, or all there can be. */
	fc->iov_max = (unsigned[]){ 0, 1, 3, FZ_NBUF + 2 }[f->next_seed % 4];
	/* Each model connection holds at most one of the FZ_HALF slots. */
	fc->s = pool_alloc(p, fc->env);
	FZ_CHECK(fc->s != NULL);
	f->poisoned[seg_mode][pool_index(p, fc->s)] = false;
	fc->c = &fc->s->conn;
	fc->handle = pool_handle(p, fc->s);
	fc->state = FZ_OPEN;
}

/* Where the free span after the newest byte starts, and its length: up
 * to the end of the storage or to the oldest byte (buf.h's layout). */
static uint32_t fz_free_span(const struct fz_conn *fc, uint32_t *at)
{
	const struct buf *b = &fc->c->buf;
	uint32_t cap = fz_cap(fc), tail = b->head + b->len;

	if (tail >= cap) {
		*at = tail - cap;
		return b->head - *at;
	}
	*at = tail;
	return cap - tail;
}

static bool fz_overlap(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	return !(a + an <= b || b + bn <= a);
}

/* Does [p, p + n) overlap the lent tx window or any lent span? */
static bool fz_tx_overlaps(const struct fz_conn *fc, const uint8_t *p, size_t n)
{
	unsigned i;

	if (!fc->iov_max)
		return fz_overlap(p, n, fc->txp, fc->txlen);
	for (i = 0; i < fc->niov; i++)
		if (fz_overlap(p, n, fc->iov[i].iov_base, fc->iov[i].iov_len))
			return true;
	return false;
}

/* Lend an rx window, if the core wants to read and none is out. */
static void fz_rx_lend(struct fz_conn *fc)
{
	uint32_t at, span;
	size_t i;

	if (fc->rx_lent || !(conn_wants(fc->c) & CONN_WANT_READ))
		return;
	if (conn_rx_window(fc->c, &fc->rxp, &fc->rxlen)) {
		/* Out of memory: the core failed the connection itself. */
		if (!fc->err)
			fc->err = -ENOMEM;
		return;
	}
	fc->rx_lent = true;
	FZ_CHECK(fc->rxlen > 0 && fc->rxlen <= fz_cap(fc) - fc->ring);
	FZ_CHECK(fz_in_ring(fc, fc->rxp, fc->rxlen));
	/* All of the free span that follows the newest byte, up to the room
	 * left under the bound. */
	span = fz_free_span(fc, &at);
	if (span > fz_cap(fc) - (fc->rx - fc->tx))
		span = fz_cap(fc) - (uint32_t)(fc->rx - fc->tx);
	FZ_CHECK(fc->rxp == fc->c->buf.data + at && fc->rxlen == span);
	if (fc->tx_lent && !fc->tx_seg)
		FZ_CHECK(!fz_tx_overlaps(fc, fc->rxp, fc->rxlen));
	/* The whole window must be free space: scribble on all of it. A
	 * byte still waiting to be echoed would come out wrong. */
	for (i = 0; i < fc->rxlen; i++)
		fc->rxp[i] = (uint8_t)~fz_pat(fc->seed, fc->rx + i);
}

/* The kernel wrote k bytes into the lent rx window (k == 0: returned). */
static void fz_rx_commit(struct fz_conn *fc, size_t k)
{
	size_t i;

	if (!fc->rx_lent)
		return;
	for (i = 0; i < k; i++)
		fc->rxp[i] = fz_pat(fc->seed, fc->rx + i);
	conn_rx_commit(fc->c, k);
	fc->rx_lent = false;
	fc->rx += k;
	fc->ring += k;
}

/* A multishot receive filled a provided buffer the kernel chose. */
static void fz_seg_arrive(struct fz *f, struct fz_conn *fc, uint8_t a,
			  uint8_t b)
{
	struct fz_table *t = &f->tab;
	uint32_t i, id = 0, n;
	bool found = false, late;
	uint8_t *p;

	/* Only while the own ring is idle (the core's ordering rule); a
	 * receive never delivers bytes after the peer's EOF. */
	if (!fc->seg_mode || fc->eof || !conn_ring_idle(fc->c))
		return;
	for (i = 0; i < t->segs.count && !found; i++) {
		id = (a + i) % t->segs.count;
		found = t->owner[id] < 0;
	}
	if (!found)
		return;
	/* Late: a multishot receive may still deliver while its cancel
	 * (READ off: at the cap, or failed) is on the way. */
	late = !(conn_wants(fc->c) & CONN_WANT_READ);
	n = 1 + b % t->segs.size;
	p = fz_seg_ptr(t, id);
	for (i = 0; i < t->segs.size; i++)
		p[i] = i < n ? fz_pat(fc->seed, fc->rx + i) : (uint8_t)~i;
	t->owner[id] = fc->slot;
	conn_rx_segment(fc->c, (uint16_t)id, n);
	fc->held[(fc->hhead + fc->hn) % FZ_NBUF] = (uint16_t)id;
	fc->hn++;
	fc->rx += n;
	if (late)
		fc->late++;
}

/* The lent spans are the oldest unsent bytes, in order: held buffers
 * first (each from its start, the oldest from hoff), then the ring. */
static void fz_tx_check_iov(struct fz *f, struct fz_conn *fc)
{
	const struct fz_table *t = &f->tab;
	size_t off = 0;
	unsigned i;
	uint16_t id;

	FZ_CHECK(fc->niov >= 1 && fc->niov <= fc->iov_max);
	FZ_CHECK(fc->txlen > 0 && fc->txlen <= fc->rx - fc->tx);
	fc->tx_seg = true;
	for (i = 0; i < fc->niov; i++) {
		const uint8_t *p = fc->iov[i].iov_base;
		size_t n = fc->iov[i].iov_len;

		FZ_CHECK(n > 0);
		if (i < fc->hn) {
			id = fz_held_id(fc, i);
			FZ_CHECK(p == fz_seg_ptr(t, id) + (i ? 0 : fc->hoff));
			FZ_CHECK(n == t->len[id] - (i ? 0 : fc->hoff));
		} else {
			FZ_CHECK(fz_in_ring(fc, p, n));
			fc->tx_seg = false;
		}
		FZ_CHECK(fz_is_stream_at(fc, off, p, n));
		off += n;
	}
	FZ_CHECK(off == fc->txlen);
	/* Every byte, when there were spans enough for it. */
	if (fc->iov_max >= fc->hn + 2)
		FZ_CHECK(fc->txlen == fc->rx - fc->tx);
	else if (fc->iov_max <= fc->hn)
		FZ_CHECK(fc->niov == fc->iov_max);
}

/* Lend a tx window: the oldest unsent bytes, in order. */
static void fz_tx_lend(struct fz *f, struct fz_conn *fc)
{
	const struct fz_table *t = &f->tab;

	if (fc->tx_lent || !(conn_wants(fc->c) & CONN_WANT_WRITE))
		return;
	if (fc->iov_max) {
		fc->niov = conn_tx_iov(fc->c, fc->iov, fc->iov_max, &fc->txlen);
		fc->tx_lent = true;
		fz_tx_check_iov(f, fc);
		return;
	}
	fc->txlen = conn_tx_window(fc->c, &fc->txp);
	fc->tx_lent = true;
	fc->tx_seg = fc->hn > 0;
	FZ_CHECK(fc->txlen > 0 && fc->txlen <= fc->rx - fc->tx);
	if (fc->tx_seg) {
		/* Held buffers go first: they are older than ring bytes. */
		FZ_CHECK(fc->txp == fz_seg_ptr(t, fz_head(fc)) + fc->hoff);
		FZ_CHECK(fc->txlen == t->len[fz_head(fc)] - fc->hoff);
	} else {
		FZ_CHECK(fz_in_ring(fc, fc->txp, fc->txlen));
		FZ_CHECK(fc->txlen <= fc->ring);
	}
	FZ_CHECK(fz_is_stream(fc, fc->txp, fc->txlen));
}

/* k bytes of the lent spans were sent: the held buffers they finish
 * come back oldest first, once each; the rest came from the ring. */
static void fz_tx_commit_iov(struct fz *f, struct fz_conn *fc, size_t k)
{
	uint16_t done[FZ_NBUF + 2];
	size_t off = 0, left = k, m;
	unsigned i, nd, want = 0;
	bool partial = false;

	for (i = 0; i < fc->niov; i++) {
		FZ_CHECK(fz_is_stream_at(fc, off, fc->iov[i].iov_base,
					 fc->iov[i].iov_len));
		off += fc->iov[i].iov_len;
	}
	/* Which held buffers k bytes finish, by the model. */
	for (i = 0; i < fc->niov && i < fc->hn && left; i++) {
		m = fc->iov[i].iov_len;
		if (left < m) {
			partial = true;
			break;
		}
		left -= m;
		want++;
	}
	nd = conn_tx_commit_iov(fc->c, k, done);
	fc->tx_lent = false;
	FZ_CHECK(nd == want);
	fc->tx += k;
	for (i = 0; i < nd; i++)
		fz_recycle(f, fc, done[i]);
	if (partial) {
		fc->hoff += (uint32_t)left;
		left = 0;
	}
	fc->ring -= left;
}

/* k bytes of the lent tx window were sent (k == 0: returned). */
static void fz_tx_commit(struct fz *f, struct fz_conn *fc, size_t k)
{
	int id;

	if (!fc->tx_lent)
		return;
	if (fc->iov_max) {
		fz_tx_commit_iov(f, fc, k);
		return;
	}
	/* Still intact: nothing wrote into it while it was lent. */
	FZ_CHECK(fz_is_stream(fc, fc->txp, fc->txlen));
	id = conn_tx_commit(fc->c, k);
	fc->tx_lent = false;
	fc->tx += k;
	if (!fc->tx_seg) {
		FZ_CHECK(id == -1);
		fc->ring -= k;
		return;
	}
	fc->hoff += (uint32_t)k;
	if (fc->hoff < f->tab.len[fz_head(fc)]) {
		FZ_CHECK(id == -1);
		return;
	}
	/* The oldest buffer is fully echoed: it comes back, once. */
	fz_recycle(f, fc, id);
}

static void fz_eof(struct fz_conn *fc)
{
	if (fc->eof)
		return;
	conn_rx_eof(fc->c);
	fc->eof = true;
	fc->rx_lent = false;
}

static void fz_fail_conn(struct fz_conn *fc, uint8_t a)
{
	static const int errs[] = { -ECONNRESET, -EPIPE,  -ENOMEM,
				    -ETIMEDOUT,	 -EIO,	  -32767,
				    -32768,	 INT_MIN, -ENOBUFS };
	int e = errs[a % (sizeof(errs) / sizeof(errs[0]))];

	conn_fail(fc->c, e);
	/* The first error is kept; one that does not fit is -EIO. */
	if (!fc->err)
		fc->err = e < -32767 ? -EIO : e;
}

static void fz_shut(struct fz_conn *fc)
{
	if (!(conn_wants(fc->c) & CONN_WANT_SHUT))
		return;
	conn_shut_done(fc->c);
	fc->shut = true;
}

/*
 * The driver closes: lent windows come back with their commits, held
 * buffers are dropped (each handed back once), then the slot goes back to
 * the pool, which resets the conn: the one reset. The conn is poisoned:
 * any later use would show.
 */
static void fz_close(struct fz *f, struct fz_conn *fc, uint8_t a)
{
	int id;

	if (fc->state != FZ_OPEN)
		return;
	if (fc->rx_lent)
		fz_rx_commit(fc, fz_amount(a, fc->rxlen));
	if (fc->tx_lent)
		fz_tx_commit(f, fc, fz_amount((uint8_t)(a * 7), fc->txlen));
	if (fc->seg_mode) {
		while ((id = conn_seg_drop(fc->c)) >= 0)
			fz_recycle(f, fc, id);
		/* Dropped bytes, sent or not, are no longer buffered. */
		FZ_CHECK(fc->hn == 0 && conn_buffered(fc->c) == fc->ring);
	}
	pool_free(fc->pool, fc->s);
	FZ_CHECK(fc->c->buf.data == NULL);
	memset(fc->c, FZ_POISON, sizeof(*fc->c));
	f->poisoned[fc->seg_mode][pool_index(fc->pool, fc->s)] = true;
	fc->state = FZ_CLOSED;
	fc->s = NULL;
	fc->c = NULL;
}

/* One turn of a readiness driver: do what the core wants, once. */
static void fz_drive(struct fz *f, struct fz_conn *fc, uint8_t a)
{
	unsigned w = conn_wants(fc->c);

	if ((w & CONN_WANT_READ) && !fc->rx_lent) {
		fz_rx_lend(fc);
		fz_rx_commit(fc, fz_amount(a, fc->rxlen));
	}
	w = conn_wants(fc->c);
	if ((w & CONN_WANT_WRITE) && !fc->tx_lent) {
		fz_tx_lend(f, fc);
		fz_tx_commit(f, fc, fz_amount((uint8_t)(a >> 1), fc->txlen));
	}
	fz_shut(fc);
	if (!conn_wants(fc->c) && !fc->rx_lent && !fc->tx_lent)
		fz_close(f, fc, 0);
}

/*
 * The end of the script: each connection still open gets its windows
 * back and, unless it failed, EOF; then it must echo every byte, ask for
 * the shut, and want nothing more, within a bounded number of steps.
 */
static void fz_finish(struct fz *f, struct fz_conn *fc)
{
	unsigned w;
	int steps;

	if (fc->state != FZ_OPEN)
		return;
	fz_rx_commit(fc, 0);
	fz_tx_commit(f, fc, 0);
	fz_eof(fc);
	for (steps = 0; (w = conn_wants(fc->c)) != 0; steps++) {
		FZ_CHECK(steps < FZ_DRAIN_MAX);
		FZ_CHECK(!(w & CONN_WANT_READ));
		if (w & CONN_WANT_WRITE) {
			fz_tx_lend(f, fc);
			fz_tx_commit(f, fc, fc->txlen);
		} else {
			fz_shut(fc);
		}
		fz_check_all(f);
	}
	FZ_CHECK(fc->err || (fc->tx == fc->rx && fc->shut));
	fz_close(f, fc, 0);
	fz_check_all(f);
}

enum {
	FZ_OP_OPEN,
	FZ_OP_RX_LEND,
	FZ_OP_RX_COMMIT,
	FZ_OP_RX_RETURN,
	FZ_OP_RX,
	FZ_OP_SEG,
	FZ_OP_TX_LEND,
	FZ_OP_TX_COMMIT,
	FZ_OP_TX,
	FZ_OP_EOF,
	FZ_OP_FAIL,
	FZ_OP_SHUT,
	FZ_OP_CLOSE,
	FZ_OP_DRIVE,
	FZ_NOPS,
};

/* Decode and apply one event: a byte naming connection and operation,
 * then the operation's argument bytes. */
static void fz_event(struct fz *f)
{
	uint8_t op = fz_byte(f);
	struct fz_conn *fc = &f->conn[op % FZ_CONNS];
	uint8_t a, b;

	op = (uint8_t)((op / FZ_CONNS) % FZ_NOPS);
	if (op == FZ_OP_OPEN) {
		fz_open(f, fc);
		return;
	}
	if (fc->state != FZ_OPEN)
		return;
	switch (op) {
	case FZ_OP_RX_LEND:
		fz_rx_lend(fc);
		break;
	case FZ_OP_RX_COMMIT:
		a = fz_byte(f);
		if (fc->rx_lent)
			fz_rx_commit(fc, fz_amount(a, fc->rxlen));
		break;
	case FZ_OP_RX_RETURN:
		fz_rx_commit(fc, 0);
		break;
	case FZ_OP_RX:
		a = fz_byte(f);
		if (!fc->rx_lent) {
			fz_rx_lend(fc);
			fz_rx_commit(fc, fz_amount(a, fc->rxlen));
		}
		break;
	case FZ_OP_SEG:
		a = fz_byte(f);
		b = fz_byte(f);
		fz_seg_arrive(f, fc, a, b);
		break;
	case FZ_OP_TX_LEND:
		fz_tx_lend(f, fc);
		break;
	case FZ_OP_TX_COMMIT:
		a = fz_byte(f);
		if (fc->tx_lent)
			fz_tx_commit(f, fc, fz_amount(a, fc->txlen));
		break;
	case FZ_OP_TX:
		a = fz_byte(f);
		if (!fc->tx_lent) {
			fz_tx_lend(f, fc);
			fz_tx_commit(f, fc, fz_amount(a, fc->txlen));
		}
		break;
	case FZ_OP_EOF:
		fz_eof(fc);
		break;
	case FZ_OP_FAIL:
		fz_fail_conn(fc, fz_byte(f));
		break;
	case FZ_OP_SHUT:
		fz_shut(fc);
		break;
	case FZ_OP_CLOSE:
		fz_close(f, fc, fz_byte(f));
		break;
	case FZ_OP_DRIVE:
		fz_drive(f, fc, fz_byte(f));
		break;
	}
}

/* Five bytes: the ring-mode bound, the cache size, and the segment
 * table's buffer size, buffer count and byte bound. */
static void fz_setup(struct fz *f)
{
	struct fz_table *t = &f->tab;
	uint32_t ring_size = 1 + fz_byte(f) % FZ_RING_MAX;
	uint8_t kb = fz_byte(f);
	uint32_t keep = kb % 4;
	uint32_t size = 1 + fz_byte(f) % FZ_BSIZE;
	uint32_t count = 1 + fz_byte(f) % FZ_NBUF;
	uint32_t seg_bound = 1 + fz_byte(f) % FZ_RING_MAX;
	uint32_t i;

	FZ_CHECK(conn_env_init(&f->env[0], ring_size, keep) == 0);
	FZ_CHECK(conn_env_init(&f->env[1], seg_bound, keep) == 0);
	FZ_CHECK(pool_init(&f->pool[0], FZ_HALF, sizeof(struct pool_slot)) ==
		 0);
	FZ_CHECK(pool_init(&f->pool[1], FZ_HALF, sizeof(struct pool_slot)) ==
		 0);
	for (i = 0; i < FZ_NBUF; i++)
		t->owner[i] = -1;
	t->segs.base = t->mem;
	t->segs.size = size;
	t->segs.count = count;
	t->segs.len = t->len;
	t->segs.next = t->next;
	/* Bit 2 of the cache byte: ids are slices the driver placed, in
	 * reverse order (the core must not assume id * size). */
	if (kb & 4) {
		for (i = 0; i < count; i++)
			t->off[i] = (count - 1 - i) * size;
		t->segs.off = t->off;
	}
	FZ_CHECK(conn_env_segs(&f->env[1], &t->segs) == 0);
	/* max_held comes from the byte bound, at least one buffer. */
	FZ_CHECK(t->segs.max_held == (seg_bound / size ? seg_bound / size : 1));
	for (i = 0; i < FZ_CONNS; i++)
		fz_open(f, &f->conn[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *f = &fz_global;
	uint32_t id;
	int i;

	memset(f, 0, sizeof(*f));
	f->in = data;
	f->left = size;
	fz_setup(f);
	fz_check_all(f);
	while (f->left) {
		f->step++;
		fz_event(f);
		fz_check_all(f);
	}
	for (i = 0; i < FZ_CONNS; i++)
		fz_finish(f, &f->conn[i]);
	/* Every provided buffer came back; every chunk is in the cache. */
	fz_cur = NULL;
	for (id = 0; id < f->tab.segs.count; id++)
		FZ_CHECK(f->tab.owner[id] == -1);
	FZ_CHECK(f->env[0].cache.live == 0 && f->env[1].cache.live == 0);
	FZ_CHECK(f->pool[0].used == 0 && f->pool[1].used == 0);
	pool_fini(&f->pool[0]);
	pool_fini(&f->pool[1]);
	conn_env_fini(&f->env[0]);
	conn_env_fini(&f->env[1]);
	return 0;
}
