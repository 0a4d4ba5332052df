#!/usr/bin/env bash
# Mutation check for the e2e suite: break the server one way at a time (in
# a scratch clone) and require the scenario that guards that behaviour to
# fail. Not part of `meson test` (it rebuilds 13 times); run it by hand:
#   tests/mutants/run.sh [BACKEND_ARGS...]     default: --backend epoll
set -u
top=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$top" "$work/src"
cd "$work/src" || exit 1
meson setup b >/dev/null || exit 1
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--backend epoll)
caught=0 missed=0

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
	elif timeout 120 b/tests/test_e2e "$sc" -- b/readiness/ready-echo \
		"${args[@]}" >"$work/$name.log" 2>&1; then
		echo "MISSED  $name: $sc still passes"
		missed=$((missed + 1))
	else
		echo "caught  $name by $sc"
		caught=$((caught + 1))
	fi
	for f in "${files[@]}"; do
		mv "$f.orig" "$f"
	done
}

mutant drop-bytes echo_bytes readiness/loop.c \
	's/conn_rx_commit(c, (size_t)n);/conn_rx_commit(c, n > 1 ? (size_t)n - 1 : (size_t)n);/'
mutant large-corrupt echo_large readiness/loop.c \
	's/l->sv.st.bytes_in += (uint64_t)n;/l->sv.st.bytes_in += (uint64_t)n; if (l->sv.st.bytes_in > (40u << 20) \&\& n > 9) p[7] ^= 1;/'
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
	's/if (l->pool.used >= l->max_conns) {/if (0) {/'
mutant no-clamp low_ulimit common/net.c \
	's/return (unsigned)(have - reserve);/return want;/'
mutant reuseport port_in_use common/net.c \
	's/SO_REUSEADDR, &one, sizeof(one)) ||/SO_REUSEADDR, \&one, sizeof(one)) || setsockopt(s, SOL_SOCKET, SO_REUSEPORT, \&one, sizeof(one)) ||/'
mutant lax-port bad_args common/opts.c \
	's/opts_uint(optarg, 0, 65535, &v)/opts_uint(optarg, 0, 99999, \&v)/'
mutant ignore-term signals common/sig.c \
	's/got |= buf\[i\] == .u. ? SIG_STATS : SIG_STOP;/got |= SIG_STATS;/'
mutant fd-leak no_leak readiness/loop.c \
	's/^\tclose(s->fd);$/\tif (s->fd % 7) close(s->fd);/'
mutant small-pool many_conns readiness/loop.c \
	's/ret = pool_init(&l->pool, l->max_conns);/ret = pool_init(\&l->pool, l->max_conns > 9000 ? 9000 : l->max_conns);/'
mutant reset-kills reset readiness/loop.c \
	's/conn_fail(c, -errno);\n\treturn true;/abort();/;s/^\tconn_fail(c, -errno);$/\tif (errno == ECONNRESET || errno == EPIPE) abort(); conn_fail(c, -errno);/'

case " ${args[*]} " in
*" select "*)
	mutant no-fd-limit fd_setsize readiness/loop.c \
		's/if (l->fd_limit \&\& fd >= l->fd_limit) {/if (0) {/'
	;;
esac

echo "mutants: $caught caught, $missed missed"
[ "$missed" -eq 0 ]
