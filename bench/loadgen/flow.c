// SPDX-License-Identifier: MIT
/*
 * flow.c - send limits per mode, send records, echo verification and timing.
 *
 * Message k is stream bytes [k * size, (k + 1) * size). Its latency runs from
 * the send that carried its first byte to the read that carried its last.
 */
#include <errno.h>

#include "flow.h"
#include "pattern.h"

/* Stream mode: send calls whose messages may be unfinished at once. */
#define FLOW_STREAM_RECS 256u

uint32_t flow_rec_cap(enum flow_mode mode, uint32_t depth)
{
	uint32_t cap = 2;

	if (mode == FLOW_RATE)
		return 0;
	if (mode == FLOW_STREAM && !depth)
		return FLOW_STREAM_RECS;
	/*
	 * Every live record holds at least one started, unfinished message,
	 * and at most depth are in flight: depth records always suffice.
	 */
	while (cap < depth)
		cap *= 2;
	return cap;
}

void flow_init(struct flow *f, const struct flow_cfg *cfg, uint32_t id,
	       uint64_t seed, struct flow_rec *rec)
{
	*f = (struct flow){
		.cfg = cfg,
		.seed = seed,
		.id = id,
		.rec = rec,
		.err_want = -1,
		.err_got = -1,
	};
}

void flow_release(struct flow *f, uint64_t n)
{
	f->due += n;
}

/* Messages whose first byte has been sent. */
static uint64_t flow_started(const struct flow *f)
{
	return (f->tx_off + f->cfg->size - 1u) / f->cfg->size;
}

uint64_t flow_tx_avail(const struct flow *f)
{
	const struct flow_cfg *cfg = f->cfg;
	uint64_t lim, avail, to_end;

	switch (cfg->mode) {
	case FLOW_RATE:
		lim = f->due * cfg->size;
		break;
	case FLOW_STREAM:
		if (!cfg->depth) {
			lim = UINT64_MAX;
			break;
		}
		/* fall through */
	default:
		lim = (f->rx_off / cfg->size + cfg->depth) * cfg->size;
		break;
	}
	avail = lim > f->tx_off ? lim - f->tx_off : 0;
	if (cfg->rec_cap && f->rec_len == cfg->rec_cap) {
		/* No record left for a new message: finish the current one. */
		to_end = flow_started(f) * cfg->size - f->tx_off;
		if (avail > to_end)
			avail = to_end;
	}
	return avail;
}

size_t flow_tx_fill(const struct flow *f, void *buf, size_t cap)
{
	uint64_t avail = flow_tx_avail(f);
	size_t n = avail < cap ? (size_t)avail : cap;

	pat_fill(f->seed, f->tx_off, buf, n);
	return n;
}

void flow_tx_commit(struct flow *f, size_t n, uint64_t now)
{
	uint32_t mask = f->cfg->rec_cap - 1u;
	uint64_t first = flow_started(f);

	/* Does this send carry the first byte of message `first`? */
	if (f->cfg->rec_cap && n && first * f->cfg->size < f->tx_off + n) {
		f->rec[(f->rec_head + f->rec_len) & mask] =
		    (struct flow_rec){ .msg = first, .t = now };
		f->rec_len++;
	}
	f->tx_off += n;
}

/* Send time of message k (records older than k are dropped). */
static uint64_t flow_start_time(struct flow *f, uint64_t k)
{
	uint32_t mask = f->cfg->rec_cap - 1u;

	if (f->cfg->mode == FLOW_RATE)
		return pace_intended(f->cfg->pace, f->id, k);
	while (f->rec_len > 1 && f->rec[(f->rec_head + 1u) & mask].msg <= k) {
		f->rec_head = (f->rec_head + 1u) & mask;
		f->rec_len--;
	}
	return f->rec[f->rec_head].t;
}

/* Note the first wrong byte, at buffer index i. */
static int flow_bad(struct flow *f, const uint8_t *buf, size_t i)
{
	f->err_off = f->rx_off + i;
	f->err_got = buf[i];
	f->err_want =
	    f->err_off < f->tx_off ? pat_byte(f->seed, f->err_off) : -1;
	return -EPROTO;
}

int flow_rx(struct flow *f, const void *buf, size_t n, uint64_t now,
	    struct hist *h, struct flow_count *cnt)
{
	uint64_t sent = f->tx_off - f->rx_off, k, end, t;
	size_t ok = n < sent ? n : (size_t)sent;
	ssize_t bad = pat_check(f->seed, f->rx_off, buf, ok);

	if (bad >= 0)
		return flow_bad(f, buf, (size_t)bad);
	if (n > ok) /* more bytes than were ever sent: foreign */
		return flow_bad(f, buf, ok);
	k = f->rx_off / f->cfg->size;
	f->rx_off += n;
	end = f->rx_off / f->cfg->size;
	cnt->msgs += end - k;
	cnt->bytes += n;
	for (; h && k < end; k++) {
		t = flow_start_time(f, k);
		hist_record(h, now > t ? now - t : 0);
	}
	if (!f->cfg->rec_cap || !f->rec_len)
		return 0;
	/* Free the records of finished messages now, so sends can go on. */
	if (end >= flow_started(f)) {
		f->rec_head = 0;
		f->rec_len = 0;
	} else {
		flow_start_time(f, end);
	}
	return 0;
}
