// SPDX-License-Identifier: MIT
/*
 * repro_segs_65536.c - known bug in common/conn.c: conn_env_segs accepts
 * up to 65536 provided buffers (conn.h: "ids are 16 bits"), and max_held
 * may be as large, but a connection counts the buffers it holds in a
 * uint16_t (struct conn_seg.n): holding all 65536 wraps it to 0. Exits 1
 * while the bug is there, 0 once fixed. (uring-echo caps --bufs at 32768
 * today, so the server itself cannot get there.)
 */
#include <stdio.h>
#include <stdlib.h>

#include "conn.h"

#define NBUF 65536u

int main(void)
{
	static uint8_t mem[NBUF];
	static uint32_t len[NBUF];
	static uint16_t next[NBUF];
	struct conn_segs segs = {
		.base = mem,
		.size = 1,
		.count = NBUF,
		.len = len,
		.next = next,
	};
	struct conn_env env;
	struct conn c;
	uint32_t id;
	unsigned w;

	/* One byte per buffer; a 64 KiB bound: max_held is 65536. */
	if (conn_env_init(&env, NBUF, 0) || conn_env_segs(&env, &segs))
		return 2;
	conn_init(&c, &env);
	for (id = 0; id < NBUF; id++) {
		mem[id] = (uint8_t)id;
		/* READ stays on up to the cap, so each arrival is in turn. */
		if (!(conn_wants(&c) & CONN_WANT_READ)) {
			printf("READ off after %u buffers: not reached\n", id);
			return 2;
		}
		conn_rx_segment(&c, (uint16_t)id, 1);
	}
	w = conn_wants(&c);
	printf("held %u buffers, %zu bytes: seg.n = %u, wants = 0x%x\n", NBUF,
	       conn_buffered(&c), (unsigned)c.seg.n, w);
	/* At the cap: WRITE only. With the bug seg.n reads 0, so READ is
	 * back on, and conn_tx_window would look in the empty own ring
	 * (its assert fires) instead of at buffer 0. */
	if (w != CONN_WANT_WRITE || c.seg.n == 0) {
		printf("BUG: expected wants 0x%x (WRITE) with %u buffers "
		       "held, got wants 0x%x and seg.n %u\n",
		       CONN_WANT_WRITE, NBUF, w, (unsigned)c.seg.n);
		return 1;
	}
	return 0;
}
