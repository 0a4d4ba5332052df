#!/usr/bin/env bash
# Mutation check for the e2e suite: break a server one way at a time (in a
# scratch clone) and require the scenario that guards that behaviour to
# fail. Not part of `meson test` (it rebuilds once per mutant, about 40
# times); run it by hand:
#   tests/mutants/run.sh                    ready-echo (epoll) and uring-echo
#   tests/mutants/run.sh --backend select   ready-echo with these arguments
#   tests/mutants/run.sh --uring            uring-echo only
set -u
top=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$top" "$work/src"
cd "$work/src" || exit 1
meson setup b >/dev/null && ninja -C b >/dev/null || exit 1
ready=1 uring=1
args=("$@")
if [ "${1:-}" = --uring ]; then
	ready=0
	args=()
elif [ ${#args[@]} -gt 0 ]; then
	uring=0
fi
[ ${#args[@]} -eq 0 ] && args=(--backend epoll)
caught=0 missed=0
srv=() # the server command the next mutants run against

# mutant NAME SCENARIO FILE SED-EXPRESSION [FILE SED-EXPRESSION...]
mutant() {
	local name=$1 sc=$2 f changed=0
	local -a files=()
	shift 2
	while [ $# -ge 2 ]; do
		f=$1
		cp "$f" "$f.orig"
		files+=("$f")
		sed -i "$2" "$f"
		cmp -s "$f" "$f.orig" || changed=$((changed + 1))
		shift 2
	done
	if [ "$changed" -ne ${#files[@]} ]; then
		echo "BROKEN MUTANT $name: a pattern did not match"
		missed=$((missed + 1))
	elif ! ninja -C b >/dev/null 2>&1; then
		echo "BROKEN MUTANT $name: does not build"
		missed=$((missed + 1))
	elif timeout 120 b/tests/test_e2e "$sc" -- "${srv[@]}" \
		>"$work/$name.log" 2>&1; then
		echo "MISSED  $name: $sc still passes (${srv[*]#b/})"
		missed=$((missed + 1))
	else
		echo "caught  $name by $sc"
		caught=$((caught + 1))
	fi
	for f in "${files[@]}"; do
		mv "$f.orig" "$f"
	done
}

ready_mutants() {
srv=(b/readiness/ready-echo "${args[@]}")
mutant drop-bytes echo_bytes readiness/loop.c \
	's/conn_rx_commit(c, (size_t)n);/conn_rx_commit(c, n > 1 ? (size_t)n - 1 : (size_t)n);/'
mutant large-corrupt echo_large readiness/loop.c \
	's/serve_rx(&l->sv, c, (size_t)n);/serve_rx(\&l->sv, c, (size_t)n); if (l->sv.st.bytes_in > (40u << 20) \&\& n > 9) p[7] ^= 1;/'
mutant unbounded slow_reader common/conn.c \
	's/return buf_cache_init(&env->cache, buf_size, keep);/return buf_cache_init(\&env->cache, buf_size * 512u, keep);/'
mutant eof-leak half_close readiness/loop.c \
	's/if (w \& CONN_WANT_SHUT) {/if (0) {/'
mutant eof-drops half_close readiness/loop.c \
	's/^\t\tconn_rx_eof(c);$/\t\tconn_fail(c, -EPIPE);/'
mutant sigpipe reset common/sig.c \
	's/sa.sa_handler = SIG_IGN;/sa.sa_handler = SIG_DFL;/'
mutant emfile-spin emfile common/serve.h \
	's/#define SERVE_BACKOFF_MS 100/#define SERVE_BACKOFF_MS 0/'
mutant no-limit max_conns readiness/loop.c \
	's/if (serve_full(&l->sv)) {/if (0) {/'
mutant no-clamp low_ulimit common/net.c \
	's/return (unsigned)(have - reserve);/return want;/'
mutant reuseport port_in_use common/net.c \
	's/SO_REUSEADDR, &one, sizeof(one)) ||/SO_REUSEADDR, \&one, sizeof(one)) || setsockopt(s, SOL_SOCKET, SO_REUSEPORT, \&one, sizeof(one)) ||/'
mutant lax-port bad_args common/opts.c \
	's/opts_uint(arg, 0, 65535, &v)/opts_uint(arg, 0, 99999, \&v)/'
mutant ignore-term signals common/sig.c \
	's/got |= buf\[i\] == .u. ? SIG_STATS : SIG_STOP;/got |= SIG_STATS;/'
mutant fd-leak no_leak readiness/loop.c \
	's/^\tclose(s->fd);$/\tif (s->fd % 7) close(s->fd);/'
mutant small-pool many_conns common/serve.c \
	's/ret = pool_init(&sv->pool, sv->max_conns, conn_size);/ret = pool_init(\&sv->pool, sv->max_conns > 9000 ? 9000 : sv->max_conns, conn_size);/'
mutant reset-kills reset readiness/loop.c \
	's/conn_fail(c, -errno);\n\treturn true;/abort();/;s/^\tconn_fail(c, -errno);$/\tif (errno == ECONNRESET || errno == EPIPE) abort(); conn_fail(c, -errno);/'

case " ${args[*]} " in
*" select "*)
	mutant no-fd-limit fd_setsize readiness/loop.c \
		's/if (l->fd_limit \&\& fd >= l->fd_limit) {/if (0) {/'
	;;
esac

# A second server on the port must fail even with --threads, whose
# listeners form a SO_REUSEPORT group: the probe socket has no SO_REUSEPORT.
srv=(b/readiness/ready-echo --backend epoll --threads 2)
mutant reuseport-probe port_in_use common/net.c \
	's/probe = net_bind_one(&ss, len, false, 0);/probe = net_bind_one(\&ss, len, true, 0);/'
}

# uring-echo: one mutant per behaviour and mode, the four abuse defects
# (accept past the limit, the cancel livelock, zero-copy on loopback, the
# per-connection bound) among them.
uring_mutants() {
local u=b/uring/uring-echo
srv=("$u" --mode multishot)
mutant ms-lost-rearm echo_large uring/mode_multishot.c \
	's/^\tu->reqs \&= ~REQ_RECV;$/\tif (res <= 0) u->reqs \&= ~REQ_RECV;/'
mutant ms-buf-twice stress uring/reqs.c \
	's/^\t\tbufring_release(&l->br, done\[i\]);$/\t\t{ bufring_release(\&l->br, done[i]); bufring_release(\&l->br, done[i]); }/'
mutant ms-buf-never stress uring/reqs.c \
	's/^\t\tbufring_release(&l->br, done\[i\]);$/\t\t(void)0;/'
# Incremental buffers: a buffer the kernel retired never goes back; one it
# still fills goes back (its bytes handed out twice); slices at the wrong
# offset.
mutant ms-inc-never-retire stress uring/bufring.c \
	's/if (t->left || !t->more) {/if (t->left) {/'
mutant ms-inc-ignore-more stress uring/bufring.c \
	's/if (t->left || !t->more) {/if (1) {/'
mutant ms-inc-slice-offset echo_bytes uring/bufring.c \
	's/b->segs.off\[s\] = bid \* b->size + b->used\[bid\];/b->segs.off[s] = bid * b->size;/'
mutant ms-no-cancel-at-close signals uring/loop.c \
	's/^\tloop_stop_recv(l, u);$/\t(void)0;/'
mutant ms-accept-past-limit accept_burst uring/mode_multishot.c \
	's/multi = l->accepts == 0 \&\& room > MS_ACCEPT_MULTI_ROOM;/multi = l->accepts == 0;/'
mutant ms-unbounded-recv stuck_readers uring/mode_multishot.c \
	's/(uint32_t)conn_rx_room(c));/0);/'
mutant core-ring-past-bound stuck_readers common/conn.c \
	's/room = conn_buffered(c) < c->env->cache.size;/room = c->buf.len < c->env->cache.size;/'
srv=("$u" --mode multishot --no-buf-inc --bufs 4)
mutant ms-enobufs-error stress uring/mode_multishot.c \
	's/} else if (res == -ENOBUFS) {/} else if (0) {/'
srv=("$u" --mode multishot --no-recv-limit --ring-entries 4)
# The livelock of a cancel re-issued while its recv's -ECANCELED waited in
# deferred task work that submit-only enters never ran: both halves
# reverted. (Either fix alone ends it, so neither half alone is visible.)
mutant cancel-livelock stuck_readers uring/loop.c \
	's/if (!(u->reqs \& REQ_RECV) || (u->state \& ST_RECV_STOP))/if (!(u->reqs \& REQ_RECV) || (u->reqs \& REQ_RECV_CANCEL))/' \
	uring/ring.c 's/ret = ring_submit_events(r);/ret = ring_submit(r);/'
srv=("$u" --mode multishot --send-zc=1)
mutant zc-on-loopback small_window uring/setup.c \
	's/^\t    cfg->zc_min \&\& !cfg->zc_loopback \&\& net_is_loopback(l->sv.lfd);/\t    0 \&\& net_is_loopback(l->sv.lfd);/'
srv=("$u" --mode basic)
mutant basic-lost-rearm echo_bytes uring/reqs.c \
	's/^\tu->reqs \&= ~(REQ_RECV | REQ_RECV_OWN);$/\tif (res <= 0) u->reqs \&= ~(REQ_RECV | REQ_RECV_OWN);/'
mutant basic-short-send slow_reader uring/reqs.c \
	's/req_tx_return(l, u, (size_t)res);/req_tx_return(l, u, u->tx_len);/'
mutant basic-no-cancel-at-close signals uring/loop.c \
	's/^\tloop_stop_recv(l, u);$/\t(void)0;/'
mutant basic-accept-past-limit max_conns uring/mode_basic.c \
	's/if (serve_full(&l->sv))/if (0)/'
# A slot freed while a request is still out: its completion finds the
# slot reused (stale > 0) or acts on a stranger. (A mutant that acts on a
# stale completion has nothing to act on: none arrives, stale stays 0.)
mutant close-while-busy signals uring/loop.c \
	's/if (uconn_busy(u) || (u->reqs \& REQ_FD_CLOSE))/if (u->reqs \& REQ_FD_CLOSE)/'
# The probe without SO_REUSEPORT guards uring-echo's listener group too.
srv=("$u" --threads 2)
mutant reuseport-probe port_in_use common/net.c \
	's/probe = net_bind_one(&ss, len, false, 0);/probe = net_bind_one(\&ss, len, true, 0);/'
}

[ "$ready" -eq 1 ] && ready_mutants
[ "$uring" -eq 1 ] && [ -x b/uring/uring-echo ] && uring_mutants

echo "mutants: $caught caught, $missed missed"
[ "$missed" -eq 0 ]
