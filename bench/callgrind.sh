#!/usr/bin/env bash
# User-space instructions per echoed message, counted by callgrind: the
# server runs under `valgrind --tool=callgrind` on one CPU, echo-load
# (64 B ping-pong) on the other. After a warm-up the counts are zeroed
# (callgrind_control -z) and a stats line asked for (SIGUSR1); DURATION
# seconds later they are dumped (-d) and a second stats line asked for.
# Instructions per message: the dump's total over the messages echoed in
# between (bytes_out difference / size). Start-up, accepting and closing
# stay outside the window; wall-clock noise enters only through batching
# (how many events one wait returns).
#
#   bench/callgrind.sh [--build DIR] [--duration SECS] [--label TEXT]
#                      [--conns "1 256"] [--servers "epoll multishot"]
#
# Builds nothing: DIR (default build-release) must hold a release build
# as bench/compare.sh makes it (-Db_lto=true -Db_ndebug=true
# -Dalloc_fault=false). Prints one row per server and connection count:
#   label server conns size msgs instructions instr_per_msg waits_per_msg
# (waits: the server's blocking waits; at one connection how many a
# message takes varies from run to run, and instructions with it).
# Under valgrind a blocked io_uring wait may not see SIGTERM until
# something completes, so the stop is helped along with a connection.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build-release"
duration=10
label=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo tree)
size=64
conns_list="1 256"
servers="epoll multishot"
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--label) label=$2; shift 2 ;;
	--conns) conns_list=$2; shift 2 ;;
	--servers) servers=$2; shift 2 ;;
	-h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "callgrind.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
command -v callgrind_control >/dev/null ||
	{ echo "callgrind.sh: needs valgrind (callgrind_control)" >&2; exit 1; }
load="$build/bench/echo-load"
[ -x "$load" ] || { echo "callgrind.sh: no $load (build it first)" >&2; exit 1; }
srv_cpu=1 gen_cpu=0
[ "$(nproc)" -ge 2 ] || srv_cpu=0
tmp=$(mktemp -d)
srv_pid=""
trap '[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$tmp"' EXIT

# "bytes_out waits" of the last stats line in $tmp/err
bytes_out() {
	grep '^stats:' "$tmp/err" | tail -n1 |
		sed 's/.* bytes_out=\([0-9]*\).* waits=\([0-9]*\).*/\1 \2/'
}

# stats_line: ask for a stats line (SIGUSR1) and print "bytes_out waits"
stats_line() {
	local n i
	n=$(grep -c '^stats:' "$tmp/err")
	kill -USR1 "$srv_pid"
	for i in $(seq 100); do
		[ "$(grep -c '^stats:' "$tmp/err")" -gt "$n" ] && break
		sleep 0.05
	done
	bytes_out
}

# run NAME CONNS SERVER-ARGS...: one row
run() {
	local name=$1 conns=$2 port="" i ir a b msgs
	shift 2
	rm -f "$tmp"/cg.out*
	taskset -c "$srv_cpu" valgrind --tool=callgrind \
		--callgrind-out-file="$tmp/cg.out" "$@" --port 0 \
		>"$tmp/out" 2>"$tmp/err" &
	srv_pid=$!
	for i in $(seq 200); do
		port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/out")
		[ -n "$port" ] && break
		sleep 0.1
	done
	if [ -z "$port" ]; then
		echo "callgrind.sh: $name did not start" >&2
		cat "$tmp/err" >&2
		return 1
	fi
	"$load" --port "$port" --mode pingpong --conns "$conns" --size "$size" \
		--duration "$((duration + 8))" --warmup 1 --cpu "$gen_cpu" \
		>"$tmp/load" 2>&1 &
	local load_pid=$!
	sleep 2
	callgrind_control -z "$srv_pid" >/dev/null 2>&1
	a=$(stats_line)
	sleep "$duration"
	callgrind_control -d "$srv_pid" >/dev/null 2>&1
	b=$(stats_line)
	wait "$load_pid" || echo "callgrind.sh: echo-load failed" >&2
	kill -TERM "$srv_pid"
	for i in $(seq 100); do
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.2
		{ exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null && exec 3<&-
	done
	wait "$srv_pid"
	srv_pid=""
	ir=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$tmp/cg.out.1")
	awk -v l="$label" -v n="$name" -v c="$conns" -v s="$size" \
		-v a="$a" -v b="$b" -v i="$ir" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		m = int((y[1] - x[1]) / s); w = y[2] - x[2]
		printf "%s %s %d %d %d %d %.1f %.3f\n", l, n, c, s, m, i,
			(m > 0 ? i / m : 0), (m > 0 ? w / m : 0) }'
}

echo "label server conns size msgs instructions instr_per_msg waits_per_msg"
for conns in $conns_list; do
	case " $servers " in *" epoll "*)
		run epoll "$conns" "$build/readiness/ready-echo" --backend epoll ;;
	esac
	case " $servers " in *" multishot "*)
		run multishot "$conns" "$build/uring/uring-echo" --mode multishot ;;
	esac
done
