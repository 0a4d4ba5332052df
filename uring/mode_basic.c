// SPDX-License-Identifier: MIT
/*
 * mode_basic.c - --mode basic: one-shot accept and recv, one of each in
 * flight; a connection receives into its own ring (the loop's service).
 *
 * The one-to-one translation of the readiness loop. Reaches the loop only
 * through loop_int.h; exports one symbol, uring_mode_basic.
 */
#include "loop_int.h"
#include "modes.h"
#include "ud.h"

static unsigned basic_cq_extra(const struct uring_config *cfg)
{
	return 0;
}

static int basic_setup(struct loop *l, const struct uring_config *cfg,
		       char *why, size_t whylen)
{
	return 0;
}

static void basic_describe(const struct loop *l, char *buf, size_t len)
{
	if (len)
		buf[0] = '\0';
}

static void basic_arm_accept(struct loop *l)
{
	uint64_t ud = ud_pack(UD_ACCEPT, 0);
	struct io_uring_sqe *sqe;

	if (l->sv.lstate != SERVE_LISTEN_ON || l->accepts)
		return;
	/* Full: leave the rest in the backlog until a slot frees. */
	if (serve_full(&l->sv))
		return;
	sqe = loop_sqe(l);
	if (!sqe)
		return;
	/* Blocking sockets: io_uring polls for us (see setup.c). */
	prep_accept(&l->prep, sqe, l->sv.lfd, false);
	io_uring_sqe_set_data64(sqe, ud);
	l->accepts = 1;
	l->sv.st.accept_calls++;
}

static void basic_on_accept(struct loop *l, int res, unsigned flags)
{
	l->accepts = 0;
	if (res >= 0)
		loop_add_conn(l, res);
	else if (!loop_accept_error(l, res))
		return;
	basic_arm_accept(l);
}

static void basic_on_recv(struct loop *l, struct uring_conn *u, int res,
			  unsigned flags)
{
	req_on_recv_own(l, u, res);
}

/* Nothing is held but the own ring, which the core gives back itself. */
static void basic_drop_held(struct loop *l, struct uring_conn *u)
{
}

const struct uring_mode uring_mode_basic = {
	.name = "basic",
	.cq_extra = basic_cq_extra,
	.setup = basic_setup,
	.describe = basic_describe,
	.arm_accept = basic_arm_accept,
	.on_accept = basic_on_accept,
	.arm_recv = req_recv_own,
	.on_recv = basic_on_recv,
	.drop_held = basic_drop_held,
};
