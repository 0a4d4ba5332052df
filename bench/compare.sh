#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# compare.sh - every server on the same load, side by side.
#
# Builds a release build (build-release/) if needed, then runs a matrix of
# servers x connections x message sizes x modes with one generator
# (echo-load), plus an idle-connection sweep, fixed-rate (equal load)
# cells and memory per idle connection. Server and generator are pinned to
# different CPUs; each cell is repeated with the server order rotated;
# bench/report.py turns the raw rows into medians, ratios against epoll,
# report.md and plots.
#
#   bench/compare.sh [OPTIONS]     (bench/compare.sh --help for the list)
#
# Loopback by default; with --netns the server and the generator run in two
# network namespaces made here, joined by a veth pair, and removed at exit.
# Every process started here is ended here, by PID.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
profile=full
repeats=""
duration=""
warmup=""
only=""
out=""
build="$top/build-release"
no_build=0
dry_run=0
threads_list=""
threads_conns=256
engine=auto
netns=0
# Memory step: the baseline run's seconds, the idle run's, and when in it
# the RSS is read.
mem_run=(1 2 1.5)
rate_pcts=""
rate_only=""
# The io_uring ladder: one uring-ms-FLAG row per flag (where uring-echo
# has it).
ladder_flags="fixed-files sqpoll send-zc bundle"

# server_table: every server compare.sh knows, one "name|kind|command" a
# line, in run order; kind: ready, uring (stats lines), peer (none). The
# one place servers are listed: the readiness rows come from
# readiness/backends.txt (the list of backends; NAME-et: with --edge).
# The commands use the paths set after the build; the names do not.
server_table() {
	local name flag f extra
	while read -r name flag; do
		case $name in '' | '#'*) continue ;; esac
		echo "$name|ready|${ready:-} --backend $name"
		[ "$flag" != edge ] ||
			echo "$name-et|ready|${ready:-} --backend $name --edge"
	done <"$top/readiness/backends.txt"
	echo "min-epoll|peer|${minep:-}"
	echo "py-selectors|peer|${py:-} ${pyecho:-}"
	echo "thread-echo|peer|${threcho:-}"
	echo "uring-basic|uring|${uring:-} --mode basic"
	echo "uring-multishot|uring|${uring:-} --mode multishot"
	echo "min-uring|peer|${minur:-}"
	# --send-zc is off on a loopback listener (the kernel copies every
	# zero-copy send to a local socket); the row forces it to measure it.
	for f in $ladder_flags; do
		extra=""
		[ "$f" = send-zc ] && extra=" --send-zc-loopback"
		echo "uring-ms-$f|uring|${uring:-} --mode multishot --$f$extra"
	done
}
# Every server name compare.sh knows (the ladder's rows appear only when
# uring-echo has the flag).
# All but the ladder's: the reduced matrices' default. Builtins only:
# the usage checks run before anything else, with any PATH.
known_servers=""
plain_servers=""
while IFS='|' read -r n _; do
	known_servers+="$n "
	[[ $n == uring-ms-* ]] || plain_servers+="$n "
done < <(server_table)

usage() {
	cat <<'EOF'
Usage: bench/compare.sh [OPTIONS]
Every server on the same load, side by side: builds a release build
(build-release/) if needed, runs servers x connections x sizes x modes with
one generator (echo-load) pinned apart from the server, an idle sweep,
fixed-rate (equal load) cells and memory per idle connection, then
bench/report.py writes summary.csv, report.md and plots into --out.

  --quick              a reduced matrix, under 3 minutes
  --smoke              seconds-long: one cell of each kind (the test suite)
  --repeats N          repeats of each cell, server order rotated
                       (default 3; 1 with --quick and --smoke)
  --duration T         measured time per run: seconds, or with an s or ms
                       suffix (2.5, 2.5s, 500ms; default 2)
  --warmup T           traffic before measuring, same form (default 0.5)
  --servers A,B,...    only these servers (names below)
  --out DIR            results folder (default results/DATE-TIME)
  --build DIR          the build folder (default build-release)
  --no-build           use --build as it is, do not configure or build
  --threads LIST|none  the threads sweep: epoll and uring-multishot with
                       --threads T for each T (default "1 2" on 2-3 CPUs,
                       up to half the CPUs on more; none with --quick and
                       --smoke)
  --engine E           echo-load's engine: auto (default), epoll, uring
  --rates LIST|none    the fixed-rate cells, as % of the slowest rate-set
                       server's pingpong capacity (default 25,50,75,90;
                       50 with --smoke)
  --rate-servers A,B   the rate set (default: every server but
                       py-selectors)
  --netns              not loopback: the server in one network namespace,
                       the generator in another, joined by a veth pair
                       (with ethtool: GRO on and TSO off, so veth's NAPI
                       and GRO are used; the host's default qdisc); both
                       made here and removed at exit, even after a
                       failure or a signal. Needs root and ip (iproute2)
  --dry-run            print the settings these options give, then exit
  -h, --help           this text

EOF
	echo "Servers: ${plain_servers}and the ladder's uring-ms-FLAG rows" \
		"(FLAG: ${ladder_flags// /, })." | fold -s -w 75 | sed 's/ *$//'
	echo "Exit status: 0 done, 1 a build or run failure, 2 bad usage."
}

prog=compare.sh
# shellcheck source=bench/args.sh
. "$(dirname "$0")/args.sh"

# names OPTION LIST: every comma-separated name must be a known server.
names() {
	local n
	[ -n "$2" ] || bad "$1" "$2" "is empty (a comma-separated server list)"
	for n in ${2//,/ }; do
		case " $(echo $known_servers) " in
		*" $n "*) ;;
		*) bad "$1" "$2" "names an unknown server '$n' (see --help)" ;;
		esac
	done
}

# ints OPTION LIST MIN MAX: a comma- or space-separated list of integers.
ints() {
	local n
	[ -n "$2" ] || bad "$1" "$2" "is empty"
	for n in ${2//,/ }; do
		[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge "$3" ] && [ "$n" -le "$4" ] ||
			bad "$1" "$2" "is not a list of whole numbers from $3 to $4"
	done
}

while [ $# -gt 0 ]; do
	opt=$1
	case $opt in
	--repeats | --duration | --warmup | --servers | --out | --build | \
		--threads | --engine | --rates | --rate-servers)
		[ $# -ge 2 ] || {
			echo "compare.sh: $opt needs a value" >&2
			echo "Try 'compare.sh --help'" >&2
			exit 2
		}
		val=$2
		shift
		;;
	esac
	case $opt in
	--quick) profile=quick ;;
	--smoke) profile=smoke ;;
	--repeats)
		[[ $val =~ ^[0-9]+$ ]] && [ "$val" -ge 1 ] && [ "$val" -le 1000 ] ||
			bad "$opt" "$val" "is not a whole number from 1 to 1000"
		repeats=$val
		;;
	--duration) duration=$(secs "$opt" "$val" 0.2) ;;
	--warmup) warmup=$(secs "$opt" "$val" 0) ;;
	--servers) names "$opt" "$val"; only=$val ;;
	--out) [ -n "$val" ] || bad "$opt" "$val" "is empty"; out=$val ;;
	--build) [ -n "$val" ] || bad "$opt" "$val" "is empty"; build=$val ;;
	--no-build) no_build=1 ;;
	--dry-run) dry_run=1 ;;
	--netns) netns=1 ;;
	--threads)
		[ "$val" = none ] || ints "$opt" "$val" 1 256
		threads_list=${val//,/ }
		;;
	--engine)
		case $val in
		auto | epoll | uring) engine=$val ;;
		*) bad "$opt" "$val" "is not auto, epoll or uring" ;;
		esac
		;;
	--rates)
		[ "$val" = none ] || ints "$opt" "$val" 1 100
		rate_pcts=${val//,/ }
		;;
	--rate-servers) names "$opt" "$val"; rate_only=$val ;;
	-h | --help) usage; exit 0 ;;
	*)
		echo "compare.sh: unknown argument '$opt'" >&2
		echo "Try 'compare.sh --help'" >&2
		exit 2
		;;
	esac
	shift
done
case $profile in
quick)
	conns_list="1 256"
	sizes="64 1024"
	modes="pingpong"
	idle_list="0 2000"
	mem_n=2000
	mem_run=(0.3 1.0 0.7)
	rate_conns=256
	[ -n "$rate_pcts" ] || rate_pcts="50 90"
	[ -n "$threads_list" ] || threads_list=none
	: "${repeats:=1}" "${duration:=0.6}" "${warmup:=0.2}"
	;;
smoke)
	# Seconds-long: one cell per kind (closed loop, pipelined, idle,
	# fixed rate), short runs, a short memory step.
	conns_list="16"
	sizes="64"
	modes="pingpong pipeline"
	idle_list="200"
	mem_n=200
	mem_run=(0.2 0.6 0.4)
	rate_conns=16
	[ -n "$rate_pcts" ] || rate_pcts="50"
	[ -n "$threads_list" ] || threads_list=none
	: "${repeats:=1}" "${duration:=0.3}" "${warmup:=0.1}"
	;;
full)
	conns_list="1 16 256 1024 4096"
	sizes="64 1024 16384"
	modes="pingpong pipeline"
	idle_list="0 1000 4000 8000"
	mem_n=5000
	rate_conns=256
	[ -n "$rate_pcts" ] || rate_pcts="25 50 75 90"
	: "${repeats:=3}" "${duration:=2}" "${warmup:=0.5}"
	;;
esac

if [ "$dry_run" -eq 1 ]; then
	echo "profile=$profile repeats=$repeats duration=$duration" \
		"warmup=$warmup servers=${only:-default} threads=${threads_list:-default}" \
		"engine=$engine rates=${rate_pcts// /,}" \
		"rate_servers=${rate_only:-default} build=$build no_build=$no_build" \
		"netns=$netns"
	exit 0
fi
# --netns is asked for explicitly: if it cannot work, say why and stop (a
# runtime failure, exit 1) before anything is built or written.
if [ "$netns" -eq 1 ]; then
	if ! command -v ip >/dev/null 2>&1; then
		echo "compare.sh: --netns needs ip (iproute2), not found in PATH" >&2
		exit 1
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "compare.sh: --netns needs root to make network namespaces (uid $(id -u))" >&2
		exit 1
	fi
fi
[ -n "$out" ] || out="$top/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out/logs"

# --- build -----------------------------------------------------------------
if [ "$no_build" -eq 0 ]; then
	if [ ! -x "$build/readiness/ready-echo" ] ||
		[ ! -x "$build/bench/echo-load" ]; then
		echo "compare.sh: building a release build in $build" >&2
		meson setup "$build" "$top" --buildtype=release -Dtests=false \
			>"$out/logs/build.log" 2>&1
	fi
	# Both servers built alike and at their best: link-time optimization
	# (the core is a separate library, so without it every conn_* call is
	# a real call), asserts off (NDEBUG; the test builds keep them), no
	# allocation-fault hooks. Applied to an existing build folder too.
	meson configure "$build" -Db_lto=true -Db_ndebug=true \
		-Dalloc_fault=false >>"$out/logs/build.log" 2>&1
	ninja -C "$build" >>"$out/logs/build.log" 2>&1
fi
load="$build/bench/echo-load"
ready="$build/readiness/ready-echo"
uring="$build/uring/uring-echo"
minep="$build/bench/min-epoll"
minur="$build/bench/min-uring"
threcho="$build/bench/thread-echo"
pyecho="$top/bench/peers/selectors_echo.py"
# The interpreter itself, not a version manager's shim (pyenv's costs
# about a second per start).
py=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || echo python3)

# --- network: loopback, or veth between two namespaces (--netns) ------------
# The servers run as "${srv_ns[@]}" CMD ... "${srv_host[@]}", the generator
# as "${gen_ns[@]}" echo-load ... "${gen_host[@]}": empty on loopback.
srv_ns=()
gen_ns=()
srv_host=()
gen_host=()
ns_srv=""
ns_gen=""
net_note="loopback (127.0.0.1), server and generator in the host's network namespace"
veth_note=""

# netns_down: end whatever is left in our namespaces, delete them (the veth
# pair goes with them). Safe to call twice, or after a partial netns_up.
netns_down() {
	[ -n "$ns_srv" ] || return 0
	local ns p
	for ns in "$ns_srv" "$ns_gen"; do
		# Only processes started here can be in a namespace made here;
		# one left behind would keep it alive after its name is gone.
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
	ns_srv=""
}

# netns_up: two namespaces named after this script's PID, a veth pair
# between them (10.199.0.1/30 the server's end, .2 the generator's; no
# other interface and no route, so no packet can leave them), lo and both
# ends up. Exits 1 naming the step that failed; the trap removes the rest.
netns_up() {
	ns_srv="echolab-$$-srv"
	ns_gen="echolab-$$-gen"
	trap netns_down EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	local vs="els$$" vg="elg$$" log="$out/logs/netns.log" step p qd gro i
	local -a steps=(
		"ip netns add $ns_srv"
		"ip netns add $ns_gen"
		"ip link add $vs netns $ns_srv type veth peer name $vg netns $ns_gen"
		"ip -n $ns_srv addr add 10.199.0.1/30 dev $vs"
		"ip -n $ns_gen addr add 10.199.0.2/30 dev $vg"
		"ip -n $ns_srv link set lo up"
		"ip -n $ns_gen link set lo up"
		"ip -n $ns_srv link set $vs up"
		"ip -n $ns_gen link set $vg up"
	)
	for step in "${steps[@]}"; do
		# shellcheck disable=SC2086
		if ! $step >>"$log" 2>&1; then
			echo "compare.sh: --netns: '$step' failed: $(tail -n1 "$log")" >&2
			exit 1
		fi
	done
	# A NIC's receive path, NAPI and GRO: veth receives in its own NAPI,
	# with GRO, only when GRO is on (off by default) and, for TCP, when
	# the sending end does not use TSO (veth_skb_is_eligible_for_gro):
	# so GRO on and TSO off at both ends; the sender then segments in
	# software (GSO), as for a NIC without TSO. The host's default qdisc
	# replaces veth's noqueue.
	gro="GRO off, TSO on (veth's defaults; ethtool is not installed to change them): no veth NAPI, the per-CPU backlog as on loopback"
	if command -v ethtool >/dev/null 2>&1 &&
		ip netns exec "$ns_srv" ethtool -K "$vs" gro on tso off >>"$log" 2>&1 &&
		ip netns exec "$ns_gen" ethtool -K "$vg" gro on tso off >>"$log" 2>&1; then
		gro="GRO on and TSO off at both ends (ethtool -K; veth's defaults are GRO off, TSO on), so TCP is received in veth's own NAPI with GRO and segmented in software (GSO)"
	fi
	qd=$(cat /proc/sys/net/core/default_qdisc 2>/dev/null || echo "")
	if [ -n "$qd" ] && command -v tc >/dev/null 2>&1 &&
		ip netns exec "$ns_srv" tc qdisc replace dev "$vs" root "$qd" >>"$log" 2>&1 &&
		ip netns exec "$ns_gen" tc qdisc replace dev "$vg" root "$qd" >>"$log" 2>&1; then
		qd="qdisc $qd at both ends (net.core.default_qdisc, set with tc; veth's default is noqueue)"
	else
		qd="qdisc: veth's default (noqueue)"
	fi
	# The recorded PID must be the server's own (CPU from /proc/PID, the
	# stop signal by PID): ip netns exec has to exec, not fork.
	ip netns exec "$ns_srv" sleep 5 &
	p=$!
	for ((i = 0; i < 60; i++)); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" != sleep ] || break
		sleep 0.05
	done
	if [ "$i" -eq 60 ]; then
		kill "$p" 2>/dev/null || true
		echo "compare.sh: --netns: 'ip netns exec' does not exec its command here: the server's PID would not be known" >&2
		exit 1
	fi
	kill "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	srv_ns=(ip netns exec "$ns_srv")
	gen_ns=(ip netns exec "$ns_gen")
	srv_host=(--host 10.199.0.1)
	gen_host=(--host 10.199.0.1)
	net_note="veth between network namespaces, NOT loopback: server in $ns_srv (10.199.0.1/30), generator in $ns_gen (10.199.0.2/30), made by compare.sh --netns and removed at exit"
	veth_note="veth: MTU $(ip -n "$ns_srv" -o link show dev "$vs" |
		sed -n 's/.* mtu \([0-9]*\) .*/\1/p') (lo's is 65536), $gro; $qd; the other offloads (GSO, checksums) at veth's defaults; no netem (no delay or loss emulated)"
}

# veth_counts: packets and bytes that crossed the pair, over the server
# namespace's lo (none expected) and through veth's NAPI, for env.txt.
veth_counts() {
	local napi
	if command -v ethtool >/dev/null 2>&1; then
		# veth counts every packet its NAPI received as xdp_packets.
		napi=$(ip netns exec "$ns_srv" ethtool -S "els$$" 2>/dev/null |
			awk '$1 ~ /^rx_queue_[0-9]+_xdp_packets:$/ { n += $2 }
			END { print n + 0 }' || true)
		echo "els$$ received through veth's NAPI: $napi packets"
	fi
	ip -n "$ns_srv" -s -j link show 2>/dev/null | python3 -c '
import json, sys
for l in json.load(sys.stdin):
    s = l["stats64"]
    print("%s in the server namespace: rx %d packets %d bytes, tx %d packets %d bytes" % (
        l["ifname"], s["rx"]["packets"], s["rx"]["bytes"],
        s["tx"]["packets"], s["tx"]["bytes"]))' 2>/dev/null || true
}

[ "$netns" -eq 0 ] || netns_up

# --- CPUs: server and generator on different cores -------------------------
ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then
	srv_cpu=1
	gen_cpu=0
	pin_srv=(taskset -c "$srv_cpu")
	pin_note="server on CPU $srv_cpu, generator on CPU $gen_cpu"
else
	srv_cpu=""
	gen_cpu=""
	pin_srv=()
	pin_note="1 CPU: server and generator share it (numbers are not clean)"
fi
gen_opts=()
[ -n "$gen_cpu" ] && gen_opts=(--cpu "$gen_cpu")
# Every echo-load run below: pinned, and on the same engine.
gen_opts+=(--engine "$engine")

# --- servers ---------------------------------------------------------------
# The table's rows this build can run: the peers and io_uring rows whose
# binary exists, each ladder row only where uring-echo has its flag (the
# kernel may still refuse it at start-up; such a row is skipped and said
# so).
uhelp=""
[ -x "$uring" ] && uhelp=$("$uring" --help 2>&1 || true)
servers=()
while IFS= read -r entry; do
	name=${entry%%|*}
	case $name in
	thread-echo) [ -x "$threcho" ] || continue ;;
	min-uring) [ -x "$uring" ] && [ -x "$minur" ] || continue ;;
	uring-ms-*)
		[ -x "$uring" ] && grep -q -- "--${name#uring-ms-}" <<<"$uhelp" ||
			continue
		;;
	uring-*) [ -x "$uring" ] || continue ;;
	esac
	servers+=("$entry")
done < <(server_table)
if [ "$profile" != full ]; then
	# Reduced matrix: every backend's default and every reference peer
	# (the seed's select and Python rows included), enough to show the
	# comparison works end to end; the ladder's flags are left out.
	keep=${plain_servers% }
	[ -n "$only" ] || only=${keep// /,}
fi
if [ -n "$only" ]; then
	sel=()
	for s in "${servers[@]}"; do
		case ",$only," in *",${s%%|*},"*) sel+=("$s") ;; esac
	done
	servers=("${sel[@]}")
fi

# The fixed-rate cells' servers: every server of the run except the
# Python reference, which is an order of magnitude slower and would set
# everyone's offered load to a trickle (--rate-servers to choose).
if [ -z "$rate_only" ]; then
	for s in "${servers[@]}"; do
		[ "${s%%|*}" = py-selectors ] || rate_only="$rate_only,${s%%|*}"
	done
	rate_only=${rate_only#,}
fi

# --- environment -------------------------------------------------------------
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "network: $net_note"
	[ -z "$veth_note" ] || echo "$veth_note"
	echo "kernel: $(uname -r)"
	echo "liburing: $(pkg-config --modversion liburing 2>/dev/null || echo unknown)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	echo "cpus: $ncpu ($pin_note)"
	echo "memory: $(grep MemTotal /proc/meminfo | awk '{print $2 " kB"}')"
	for v in meltdown spectre_v2 retbleed; do
		f=/sys/devices/system/cpu/vulnerabilities/$v
		[ -r "$f" ] && echo "mitigation $v: $(cat "$f")"
	done
	echo "profile: $profile, repeats $repeats, duration ${duration}s, warm-up ${warmup}s"
	echo "ulimit -n: $(ulimit -n)"
	echo "build: $(meson introspect --buildoptions "$build" 2>/dev/null |
		python3 -c 'import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(" ".join("%s=%s" % (k, o.get(k)) for k in
      ("buildtype", "b_lto", "b_ndebug", "alloc_fault")))' 2>/dev/null ||
		echo unknown)"
	# echo-load settles its engine before it dials: ask it against a
	# port nobody listens on and keep what its start-up lines say.
	gen_says=$("${gen_ns[@]}" "$load" --port 9 --engine "$engine" --duration 0.1 \
		--warmup 0 2>&1 >/dev/null || true)
	echo "generator: echo-load --engine $engine: $(sed -n \
		's/.*, engine \(.*\), timer .*/\1/p' <<<"$gen_says" |
		sed 's/;.*)/)/' | head -n1)"
	grep -E 'using epoll|--engine' <<<"$gen_says" |
		sed 's/^echo-load: /generator note: /' || true
} >"$out/env.txt"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- one server process ------------------------------------------------------
srv_pid=""
srv_port=""
srv_err=""

# srv_start KIND NAME CMD...: start a server on a free port; sets srv_pid,
# srv_port and srv_err; returns 1 if it would not start. Our servers take
# --port 0; the reference peers take the port as their argument.
srv_start() {
	local kind=$1 name=$2
	shift 2
	srv_err="$out/logs/$name.$$.$RANDOM.err"
	local sout="$srv_err.out" i
	local -a port=(--port 0)
	[ "$kind" = peer ] && port=(0)
	"${srv_ns[@]}" "${pin_srv[@]}" "$@" "${port[@]}" "${srv_host[@]}" \
		>"$sout" 2>"$srv_err" &
	srv_pid=$!
	local line=""
	for ((i = 0; i < 100; i++)); do
		# Builtins only: forks are slow on a busy small VM.
		if IFS= read -r line 2>/dev/null <"$sout" &&
			[[ $line == "listening on "* ]]; then
			srv_port=${line##*:}
			return 0
		fi
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.05
	done
	srv_stop
	return 1
}

srv_stop() {
	[ -n "$srv_pid" ] || return 0
	kill -TERM "$srv_pid" 2>/dev/null || true
	local i
	for ((i = 0; i < 40; i++)); do
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$srv_pid" 2>/dev/null || true
	wait "$srv_pid" 2>/dev/null || true
	srv_pid=""
}
trap 'srv_stop; [ -n "${gen_pid:-}" ] && kill "$gen_pid" 2>/dev/null; netns_down; true' EXIT

# The helpers below run several times per run: bash builtins, no forks.
stat_ticks() { # utime + stime of a /proc stat file, in clock ticks
	local line f
	if ! IFS= read -r line 2>/dev/null <"$1"; then
		echo 0
		return
	fi
	# Fields after "(comm) ": state is the 1st, utime the 12th, stime 13th.
	read -ra f <<<"${line##*) }"
	echo $((f[11] + f[12]))
}

# The server's CPU time is read in nanoseconds, per thread, from
# /proc/PID/task/TID/schedstat: the process's stat counts 10 ms ticks, and
# a short cell on a busy machine could read 0 there. cpu_snap PID ARRAY
# fills ARRAY with TID -> ns, and the process's ticks under "ticks".
cpu_snap() {
	local -n m=$2
	local t ns
	m=()
	m[ticks]=$(stat_ticks "/proc/$1/stat")
	for t in /proc/"$1"/task/*; do
		read -r ns _ 2>/dev/null <"$t/schedstat" || continue
		m[${t##*/}]=$ns
	done
}

# cpu_delta_ns A B: ns used between snapshots A and B by the threads alive
# at B (a thread that ended meanwhile takes its time with it: thread-echo
# ends one per connection), or the ticks' delta if that is larger.
cpu_delta_ns() {
	local -n a=$1 b=$2
	local k d=0 ticks
	for k in "${!b[@]}"; do
		[ "$k" = ticks ] && continue
		d=$((d + b[$k] - ${a[$k]:-0}))
	done
	ticks=$(((b[ticks] - a[ticks]) * 1000000000 / clk))
	[ "$ticks" -gt "$d" ] && d=$ticks
	echo "$d"
}

ctx_switches() { # voluntary + involuntary, every thread
	# A thread may end between the glob and cat (thread-echo): not an
	# error, and it must not stop the script (set -e, pipefail).
	{ cat /proc/"$1"/task/*/status 2>/dev/null || true; } |
		awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'
}

rss_kib() {
	local k v rest
	while read -r k v rest; do
		[ "$k" = VmRSS: ] && { echo "$v"; return; }
	done 2>/dev/null <"/proc/$1/status" || true
	echo 0
}

# Ask the server for its counters; print the syscall total it reports.
syscalls_now() { # kind
	local before after line
	[ "$1" = peer ] && { echo ""; return; }
	local i
	before=$(grep -c '^stats:' "$srv_err" || true)
	kill -USR1 "$srv_pid"
	for ((i = 0; i < 100; i++)); do
		after=$(grep -c '^stats:' "$srv_err" || true)
		[ "$after" -gt "$before" ] && break
		sleep 0.01
	done
	line=$(grep '^stats:' "$srv_err" | tail -n1)
	# Kernel crossings the server made: waits are select/poll/epoll_wait
	# or io_uring_enter; the rest are the readiness loop's socket calls
	# (zero for uring-echo, whose I/O is inside io_uring_enter) and
	# shutdown(2), which both make.
	sed 's/^stats://' <<<"$line" | tr ' ' '\n' | awk -F= -v k="$1" '
		$1 == "waits" || $1 == "ctls" || $1 == "shutdowns" { n += $2 }
		k == "ready" && ($1 == "accept_calls" || $1 == "recv_calls" ||
				 $1 == "send_calls") { n += $2 }
		END { print n + 0 }'
}

clk=$(getconf CLK_TCK)
raw="$out/raw.csv"
echo "server,kind,cell,mode,conns,size,idle,repeat,msgs_per_s,mib_per_s,p50_us,p90_us,p99_us,p999_us,max_us,errors,gen_cpu_pct,gen_saturated,srv_cpu_us_per_msg,srv_cpu_pct,syscalls_per_msg,ctx_per_msg,rss_kib,note,gen_engine,offered_rate,load_pct" >"$raw"
# Fixed-rate cells set these for run_one: the offered messages/s and its
# share of the capacity it was derived from (raw.csv's last two columns).
offered_rate=""
load_pct=""

# skip_row ... NOTE: a row that measured nothing, and why.
skip_row() {
	echo "$name,$kind,$cell,$mode,$conns,$size,$idle,$repeat,,,,,,,,,,,,,,,,$1,,$offered_rate,$load_pct" >>"$raw"
}

# One measured run: $1 server entry, $2 cell name, $3.. echo-load args.
run_one() {
	local all=("$@")
	local entry=$1 cell=$2 repeat=$3 mode=$4 conns=$5 size=$6 idle=$7
	shift 7
	local name=${entry%%|*} rest=${entry#*|}
	local kind=${rest%%|*} cmd=${rest#*|}
	local note=${extra_note:-}
	[ -z "${run_retry:-}" ] || note="${note:+$note; }$run_retry"
	# select cannot hold descriptors above FD_SETSIZE: cap and say so.
	if [ "$name" = select ] && [ $((conns + idle)) -gt 1000 ]; then
		if [ "$conns" -gt 1000 ]; then
			skip_row "skipped: FD_SETSIZE"
			return
		fi
		idle=$((1000 - conns))
		note="idle capped at $idle (FD_SETSIZE)"
	fi
	# shellcheck disable=SC2086
	srv_start "$kind" "$name" $cmd || {
		skip_row "skipped: $(head -n1 "$srv_err" | tr ',' ';')"
		return
	}
	head -n 3 "$srv_err" | grep -v '^stats:' >"$out/logs/startup-$name.txt" || true

	local gen_out="$out/logs/gen.$name.$cell.$repeat.csv"
	"${gen_ns[@]}" "$load" "${gen_host[@]}" --port "$srv_port" \
		--label "$name" --duration "$duration" \
		--warmup "$warmup" --idle "$idle" "${gen_opts[@]}" --csv "$@" \
		>"$gen_out" 2>"$gen_out.err" &
	gen_pid=$!
	# Snapshot the server across the generator's measured interval.
	sleep "$warmup"
	sleep 0.05
	local t0 c0 s0 x0 t1 c1 s1 x1 rss
	local -A cpu0 cpu1
	t0=$(date +%s.%N)
	cpu_snap "$srv_pid" cpu0
	s0=$(syscalls_now "$kind")
	x0=$(ctx_switches "$srv_pid")
	sleep "$(awk -v d="$duration" 'BEGIN { print d - 0.1 }')"
	t1=$(date +%s.%N)
	cpu_snap "$srv_pid" cpu1
	c0=0
	c1=$(cpu_delta_ns cpu0 cpu1)
	s1=$(syscalls_now "$kind")
	x1=$(ctx_switches "$srv_pid")
	rss=$(rss_kib "$srv_pid")
	local rc=0
	wait "$gen_pid" || rc=$?
	gen_pid=""
	srv_stop
	local row
	row=$(tail -n1 "$gen_out")
	if [ "$rc" -ne 0 ] || ! grep -q "^$name," <<<"$row"; then
		# A short run on a busy machine can end with nothing echoed: run
		# it once more (a fresh server), and say so in the row.
		if [ -z "${run_retry:-}" ]; then
			echo "compare.sh: $name $cell: generator failed (exit $rc), once more" >&2
			run_retry="retried once after: generator failed (exit $rc)"
			run_one "${all[@]}"
			run_retry=""
			return
		fi
		skip_row "generator failed (exit $rc)"
		return
	fi
	# Columns of echo-load's CSV, by name.
	awk -F, -v OFS=, -v name="$name" -v kind="$kind" -v cell="$cell" \
		-v mode="$mode" -v conns="$conns" -v size="$size" \
		-v idle="$idle" -v rep="$repeat" -v t0="$t0" -v t1="$t1" \
		-v c0="$c0" -v c1="$c1" -v s0="$s0" -v s1="$s1" -v x0="$x0" \
		-v x1="$x1" -v rss="$rss" -v note="$note" \
		-v orate="$offered_rate" -v lpct="$load_pct" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		{
			mps = $col["msgs_per_s"]
			msgs = mps * (t1 - t0)
			cpu_us = (c1 - c0) / 1000
			cpm = msgs > 0 ? cpu_us / msgs : ""
			pct = 100 * cpu_us / ((t1 - t0) * 1e6)
			spm = (s0 != "" && msgs > 0) ? (s1 - s0) / msgs : ""
			xpm = msgs > 0 ? (x1 - x0) / msgs : ""
			print name, kind, cell, mode, conns, size, idle, rep,
			      mps, $col["mib_per_s"], $col["p50_us"],
			      $col["p90_us"], $col["p99_us"], $col["p999_us"],
			      $col["max_us"], $col["errors"], $col["gen_cpu_pct"],
			      $col["gen_saturated"], cpm, pct, spm, xpm, rss, note,
			      $col["engine"], orate, lpct
		}' "$gen_out" >>"$raw"
}

# --- the matrix ----------------------------------------------------------------
cells=()
for mode in $modes; do
	for size in $sizes; do
		for c in $conns_list; do
			cells+=("$mode|$c|$size|0")
		done
	done
done
for i in $idle_list; do
	cells+=("idle|16|64|$i")
done
nserv=${#servers[@]}
total=$(( ${#cells[@]} * nserv * repeats ))
done_runs=0
start=$(date +%s)

progress() {
	local now el eta
	now=$(date +%s)
	el=$((now - start))
	eta=$(( done_runs > 0 ? el * (total - done_runs) / done_runs : 0 ))
	printf '\r[%d/%d] %-16s %-24s elapsed %dm%02ds, ETA %dm%02ds ' \
		"$done_runs" "$total" "$1" "$2" $((el / 60)) $((el % 60)) \
		$((eta / 60)) $((eta % 60)) >&2
}

for cell in "${cells[@]}"; do
	IFS='|' read -r mode conns size idle <<<"$cell"
	for r in $(seq "$repeats"); do
		# Rotate the order of servers from one repeat to the next.
		for k in $(seq 0 $((nserv - 1))); do
			entry=${servers[$(( (k + r - 1) % nserv ))]}
			case $mode in
			pingpong) args=(--mode pingpong --conns "$conns" --size "$size") ; cname="pingpong-c$conns-s$size" ;;
			pipeline) args=(--mode pipeline --depth 8 --conns "$conns" --size "$size") ; cname="pipeline-c$conns-s$size" ;;
			idle) args=(--mode pingpong --conns "$conns" --size "$size") ; cname="idle-i$idle" ;;
			esac
			progress "${entry%%|*}" "$cname"
			run_one "$entry" "$cname" "$r" "$mode" "$conns" "$size" "$idle" "${args[@]}"
			done_runs=$((done_runs + 1))
		done
	done
done
echo >&2

# --- threads sweep -------------------------------------------------------------
# epoll and uring-multishot with --threads T: the server's loops pinned to
# CPUs 1..T and the generator, with as many threads, to the CPUs after
# them, when the machine has the cores; on 2-3 CPUs the loops and the
# generator share CPUs and the rows say so. Rows go to raw.csv as cell
# threads-c$threads_conns-s64; T = 1 keeps the plain names.
if [ -z "$threads_list" ]; then
	if [ "$ncpu" -ge 4 ]; then
		threads_list=$(seq -s ' ' 1 $((ncpu / 2)))
	else
		threads_list="1 2"
	fi
fi
if [ "$threads_list" != none ] && [ "$ncpu" -ge 2 ]; then
	saved_pin_srv=("${pin_srv[@]}")
	saved_gen_opts=("${gen_opts[@]}")
	tcell="threads-c$threads_conns-s64"
	tentries=()
	for t in $threads_list; do
		sfx=""
		[ "$t" -gt 1 ] && sfx="-t$t"
		tentries+=("$t|epoll$sfx|ready|$ready --backend epoll --threads $t")
		[ -x "$uring" ] && tentries+=("$t|uring-multishot$sfx|uring|$uring --mode multishot --threads $t")
	done
	total=$((total + ${#tentries[@]} * repeats))
	for r in $(seq "$repeats"); do
		n=${#tentries[@]}
		for k in $(seq 0 $((n - 1))); do
			te=${tentries[$(( (k + r - 1) % n ))]}
			t=${te%%|*}
			entry=${te#*|}
			if [ $((2 * t)) -le "$ncpu" ]; then
				scpus="1-$t"
				[ "$t" -eq 1 ] && scpus=1
				gcpus="0"
				[ "$t" -gt 1 ] && gcpus="0,$((t + 1))-$((2 * t - 1))"
				tnote=""
			else
				scpus="0-$((ncpu - 1))"
				[ "$t" -eq 1 ] && scpus=1
				gcpus=0
				tnote="loops share CPUs with the generator ($ncpu CPUs)"
			fi
			pin_srv=(taskset -c "$scpus")
			gen_opts=(--cpu "$gcpus" --threads "$t" --engine "$engine")
			[ "$t" -gt 1 ] || tnote=""
			extra_note=$tnote
			progress "${entry%%|*}" "$tcell"
			run_one "$entry" "$tcell" "$r" threads "$threads_conns" 64 0 \
				--mode pingpong --conns "$threads_conns" --size 64
			extra_note=""
			done_runs=$((done_runs + 1))
		done
	done
	pin_srv=("${saved_pin_srv[@]}")
	gen_opts=("${saved_gen_opts[@]}")
	echo >&2
fi

# --- equal load: open loop at fixed rates -----------------------------------------
# Closed-loop cells measure each server at its own throughput, so their
# latencies are throughput-bound. Here every server of the rate set gets
# the same offered load: echo-load --mode rate at rate_pcts % of the
# slowest one's capacity (its median messages/s in pingpong-c$rate_conns-s64
# above), latency timed from each message's intended send time. One .hgrm
# per server, cell and repeat goes to hgrm/.
if [ "$rate_pcts" != none ]; then
	cap_cell="pingpong-c$rate_conns-s64"
	rentries=()
	for entry in "${servers[@]}"; do
		case ",$rate_only," in *",${entry%%|*},"*) rentries+=("$entry") ;; esac
	done
	cap=""
	if [ "${#rentries[@]}" -gt 0 ]; then
		cap=$(python3 - "$raw" "$cap_cell" "$rate_only" <<'EOF'
import csv, statistics, sys
raw, cell, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
got = {}
for r in csv.DictReader(open(raw)):
    if r["cell"] == cell and r["server"] in names and r["msgs_per_s"] \
            and r["errors"] == "0":
        got.setdefault(r["server"], []).append(float(r["msgs_per_s"]))
if got:
    med = {s: statistics.median(v) for s, v in got.items()}
    slow = min(med, key=med.get)
    print("%d %s" % (med[slow], slow))
EOF
)
	fi
	if [ -z "$cap" ]; then
		echo "compare.sh: no capacity measured in $cap_cell for the rate set ($rate_only): no fixed-rate cells" >&2
		echo "rate cells: none (no capacity measured in $cap_cell)" >>"$out/env.txt"
	else
		cap_rate=${cap%% *}
		echo "rate cells: ${rate_pcts// /, } % of $cap_rate msgs/s (${cap#* }'s median in $cap_cell, the slowest of: $rate_only), $rate_conns connections, 64 B" >>"$out/env.txt"
		mkdir -p "$out/hgrm"
		nr=${#rentries[@]}
		npct=$(wc -w <<<"$rate_pcts")
		total=$((total + nr * npct * repeats))
		for pct in $rate_pcts; do
			offered_rate=$((cap_rate * pct / 100))
			[ "$offered_rate" -gt 0 ] || offered_rate=1
			load_pct=$pct
			rcell="rate-c$rate_conns-s64-p$pct"
			for r in $(seq "$repeats"); do
				for k in $(seq 0 $((nr - 1))); do
					entry=${rentries[$(( (k + r - 1) % nr ))]}
					progress "${entry%%|*}" "$rcell"
					run_one "$entry" "$rcell" "$r" rate "$rate_conns" 64 0 \
						--mode rate --rate "$offered_rate" \
						--conns "$rate_conns" --size 64 \
						--hdr "$out/hgrm/${entry%%|*}.$rcell.$r.hgrm"
					done_runs=$((done_runs + 1))
				done
			done
		done
		offered_rate=""
		load_pct=""
		echo >&2
	fi
fi

# --- memory per idle connection ---------------------------------------------------
mem="$out/memory.csv"
echo "server,idle_conns,rss_before_kib,rss_after_kib,bytes_per_conn" >"$mem"
for entry in "${servers[@]}"; do
	name=${entry%%|*}
	rest=${entry#*|}
	kind=${rest%%|*}
	cmd=${rest#*|}
	n=$mem_n
	[ "$name" = select ] && n=900
	progress "$name" "memory-$n"
	# shellcheck disable=SC2086
	srv_start "$kind" "$name" $cmd || continue
	# Baseline after the same single active connection has run alone, so
	# that what it touches (a shared buffer pool, caches) is in both.
	"${gen_ns[@]}" "$load" "${gen_host[@]}" --port "$srv_port" --conns 1 \
		--duration "${mem_run[0]}" \
		--warmup 0.1 \
		"${gen_opts[@]}" --csv >/dev/null 2>&1 || true
	sleep 0.2
	before=$(rss_kib "$srv_pid")
	"${gen_ns[@]}" "$load" "${gen_host[@]}" --port "$srv_port" --idle "$n" --conns 1 \
		--duration "${mem_run[1]}" --warmup 0.1 "${gen_opts[@]}" \
		--csv >/dev/null 2>&1 &
	gen_pid=$!
	sleep "${mem_run[2]}"
	after=$(rss_kib "$srv_pid")
	wait "$gen_pid" || true
	gen_pid=""
	srv_stop
	awk -v s="$name" -v n="$n" -v b="$before" -v a="$after" 'BEGIN {
		printf "%s,%d,%d,%d,%.0f\n", s, n, b, a, (a - b) * 1024 / n }' >>"$mem"
done
echo >&2

if [ -n "$ns_srv" ]; then
	echo "traffic at the end of the run:" >>"$out/env.txt"
	veth_counts | sed 's/^/  /' >>"$out/env.txt"
fi
python3 "$top/bench/report.py" "$out"
echo "compare.sh: results in $out (report.md, raw.csv, summary.csv, plots)" >&2
