#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# engines.sh - echo-load's own engines side by side: can one generator core
# keep one server core busy?
#
# For each connection count and repeat, runs echo-load --engine epoll and
# --engine uring (order rotated per repeat) against a fresh server pinned
# to CPU 1, the generator pinned to CPU 0, and measures over the generator's
# measured interval: messages/s, generator and server CPU per message (the
# server's from /proc), the generator's syscalls per message (with perf,
# when it can count raw_syscalls:sys_enter) and the CPU everything else on
# the machine used. Prints the raw rows, then medians and uring/epoll
# ratios (markdown).
#
#   bench/engines.sh [--build DIR] [--conns "1 256 1024"] [--size BYTES]
#                    [--mode pingpong|pipeline] [--repeats N]
#                    [--duration T (>= 1 s)] [--warmup T] [--out FILE]
#                    [-- SERVER ARGS...]   (default: ready-echo --backend epoll)
#
# Only loopback is used; every process started here is ended here, by PID.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build-release"
conns_list="1 256 1024"
size=64
mode=pingpong
repeats=3
duration=3
warmup=0.5
out=""

usage() {
	sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//'
	cat <<'EOF'
Durations are seconds, or with an s or ms suffix (3, 3s, 500ms).
Exit status: 0 done, 1 a run failure, 2 bad usage.
EOF
}

prog=engines.sh
# shellcheck source=bench/args.sh
. "$(dirname "$0")/args.sh"

while [ $# -gt 0 ]; do
	opt=$1
	case $opt in
	--build | --conns | --size | --mode | --repeats | --duration | \
		--warmup | --out)
		[ $# -ge 2 ] || {
			echo "engines.sh: $opt needs a value" >&2
			echo "Try 'engines.sh --help'" >&2
			exit 2
		}
		val=$2
		shift
		;;
	esac
	case $opt in
	--build) [ -n "$val" ] || bad "$opt" "$val" "is empty"; build=$val ;;
	--conns)
		for c in ${val//,/ }; do
			[[ $c =~ ^[0-9]+$ ]] && [ "$c" -ge 1 ] &&
				[ "$c" -le 100000 ] ||
				bad "$opt" "$val" "is not a list of connection counts (1 to 100000)"
		done
		[ -n "$val" ] || bad "$opt" "$val" "is empty"
		conns_list=${val//,/ }
		;;
	--size)
		[[ $val =~ ^[0-9]+[kKmM]?$ ]] && [[ ! $val =~ ^0+[kKmM]?$ ]] ||
			bad "$opt" "$val" "is not a size in bytes (k and m suffixes)"
		size=$val
		;;
	--mode)
		case $val in
		pingpong | pipeline) mode=$val ;;
		*) bad "$opt" "$val" "is not pingpong or pipeline" ;;
		esac
		;;
	--repeats)
		[[ $val =~ ^[0-9]+$ ]] && [ "$val" -ge 1 ] && [ "$val" -le 1000 ] ||
			bad "$opt" "$val" "is not a whole number from 1 to 1000"
		repeats=$val
		;;
	--duration) duration=$(secs "$opt" "$val" 1) ;;
	--warmup) warmup=$(secs "$opt" "$val" 0) ;;
	--out) [ -n "$val" ] || bad "$opt" "$val" "is empty"; out=$val ;;
	--) shift; break ;;
	-h | --help) usage; exit 0 ;;
	*)
		echo "engines.sh: unknown argument '$opt'" >&2
		echo "Try 'engines.sh --help'" >&2
		exit 2
		;;
	esac
	shift
done
load="$build/bench/echo-load"
server=("$build/readiness/ready-echo" --backend epoll)
[ $# -gt 0 ] && server=("$@")
[ -x "$load" ] || { echo "engines.sh: no $load (build first)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "engines.sh: needs 2 CPUs" >&2; exit 1; }
[ -n "$out" ] || out=$(mktemp /tmp/engines.XXXXXX.csv)
work=$(mktemp -d /tmp/engines.XXXXXX)
clk=$(getconf CLK_TCK)

srv_pid=""
gen_pid=""
cleanup() {
	[ -n "$gen_pid" ] && kill "$gen_pid" 2>/dev/null
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null
	rm -rf "$work"
	true
}
trap cleanup EXIT

ticks() { # user + sys ticks of one process, all its threads
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
busy() { # busy ticks of the whole machine
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# Can perf count the generator's syscalls here?
perf_ok=0
perf stat -e raw_syscalls:sys_enter -x, -o /dev/null -- true \
	>/dev/null 2>&1 && perf_ok=1

echo "engine,conns,repeat,msgs_per_s,gen_cpu_pct,gen_us_per_msg,srv_cpu_pct,srv_us_per_msg,gen_saturated,p50_us,p99_us,other_cpu_pct,gen_syscalls_per_msg" >"$out"

# run_one ENGINE CONNS REPEAT: one measured run, one row.
run_one() {
	local engine=$1 conns=$2 rep=$3 port
	taskset -c 1 "${server[@]}" --port 0 >"$work/srv.out" 2>"$work/srv.err" &
	srv_pid=$!
	for _ in $(seq 200); do
		grep -q '^listening on ' "$work/srv.out" 2>/dev/null && break
		sleep 0.05
	done
	port=$(head -n1 "$work/srv.out" | sed 's/.*://')
	"$load" --port "$port" --engine "$engine" --mode "$mode" \
		--conns "$conns" --size "$size" --duration "$duration" \
		--warmup "$warmup" --cpu 0 --csv >"$work/gen.csv" \
		2>"$work/gen.err" &
	gen_pid=$!
	# Snapshot inside the generator's measured interval (it starts after
	# connecting and the warm-up), with margins for slow process starts.
	sleep "$warmup"
	sleep 0.2
	local t0 s0 g0 b0 t1 s1 g1 b1 rc=0 win
	win=$(awk -v d="$duration" 'BEGIN { print d - 0.6 }')
	t0=$(date +%s.%N); s0=$(ticks "$srv_pid"); g0=$(ticks "$gen_pid"); b0=$(busy)
	: >"$work/perf"
	if [ "$perf_ok" -eq 1 ]; then
		perf stat -e raw_syscalls:sys_enter -x, -o "$work/perf" \
			-p "$gen_pid" -- sleep "$win" >/dev/null 2>&1 || true
	else
		sleep "$win"
	fi
	local sc
	sc=$(awk -F, '/raw_syscalls/ { print $1 }' "$work/perf")
	t1=$(date +%s.%N); s1=$(ticks "$srv_pid"); g1=$(ticks "$gen_pid"); b1=$(busy)
	# Gone already: the window overran the run, so the machine's other
	# CPU cannot be told apart: drop the row rather than guess.
	if ! kill -0 "$gen_pid" 2>/dev/null; then
		echo "engines.sh: $engine $conns: window overran the run," \
			"row dropped (use a longer --duration)" >&2
		wait "$gen_pid" || true
		gen_pid=""
		kill -TERM "$srv_pid"
		wait "$srv_pid" || true
		srv_pid=""
		return
	fi
	wait "$gen_pid" || rc=$?
	gen_pid=""
	kill -TERM "$srv_pid"
	wait "$srv_pid" || true
	srv_pid=""
	if [ "$rc" -ne 0 ]; then
		echo "engines.sh: $engine $conns: echo-load exit $rc:" >&2
		tail -n 3 "$work/gen.err" >&2
		return
	fi
	awk -F, -v OFS=, -v e="$engine" -v c="$conns" -v r="$rep" \
		-v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" -v g0="$g0" \
		-v g1="$g1" -v b0="$b0" -v b1="$b1" -v clk="$clk" -v sc="$sc" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		{
			mps = $col["msgs_per_s"]; g = $col["gen_cpu_pct"]
			wall = (t1 - t0) * 1e6
			scpu = (s1 - s0) * 1e6 / clk
			other = ((b1 - b0) - (s1 - s0) - (g1 - g0)) * 1e6 / clk
			spm = sc == "" ? "" : sprintf("%.3f", sc / (mps * (t1 - t0)))
			printf "%s,%s,%s,%.0f,%.1f,%.3f,%.1f,%.3f,%s,%s,%s,%.1f,%s\n",
				e, c, r, mps, g, g / 100 * 1e6 / mps,
				100 * scpu / wall, scpu / (mps * (t1 - t0)),
				$col["gen_saturated"], $col["p50_us"],
				$col["p99_us"], 100 * other / wall, spm
		}' "$work/gen.csv" | tee -a "$out"
}

{
	echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ), Linux $(uname -r), liburing $(pkg-config --modversion liburing 2>/dev/null || echo unknown)"
	echo "# server (CPU 1): ${server[*]##*/}; echo-load (CPU 0): --mode $mode --size $size, ${duration}s measured after ${warmup}s warm-up, $repeats repeats"
} >&2
for c in $conns_list; do
	for r in $(seq "$repeats"); do
		if [ $((r % 2)) -eq 1 ]; then order="epoll uring"; else order="uring epoll"; fi
		for e in $order; do
			run_one "$e" "$c" "$r"
		done
	done
done

python3 - "$out" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def med(e, c, k):
    v = [float(r[k]) for r in rows
         if r["engine"] == e and r["conns"] == c and r[k] != ""]
    return statistics.median(v) if v else float("nan")
conns = sorted({r["conns"] for r in rows}, key=int)
print()
print("| conns | engine | msgs/s | gen CPU % | gen us/msg | gen syscalls/msg | srv CPU % | srv us/msg | gen_saturated rows | other CPU % |")
print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
for c in conns:
    for e in ("epoll", "uring"):
        sat = sum(r["gen_saturated"] == "1" for r in rows
                  if r["engine"] == e and r["conns"] == c)
        n = sum(1 for r in rows if r["engine"] == e and r["conns"] == c)
        print("| {} | {} | {:.0f} | {:.0f} | {:.2f} | {:.2f} | {:.0f} | {:.2f} | {}/{} | {:.0f} |".format(
            c, e, med(e, c, "msgs_per_s"), med(e, c, "gen_cpu_pct"),
            med(e, c, "gen_us_per_msg"), med(e, c, "gen_syscalls_per_msg"),
            med(e, c, "srv_cpu_pct"), med(e, c, "srv_us_per_msg"), sat, n,
            med(e, c, "other_cpu_pct")))
print()
print("| conns | msgs/s uring/epoll | gen us/msg uring/epoll | srv CPU % epoll -> uring |")
print("| ---: | ---: | ---: | ---: |")
for c in conns:
    print("| {} | {:.2f}x | {:.2f}x | {:.0f} -> {:.0f} |".format(
        c, med("uring", c, "msgs_per_s") / med("epoll", c, "msgs_per_s"),
        med("uring", c, "gen_us_per_msg") / med("epoll", c, "gen_us_per_msg"),
        med("epoll", c, "srv_cpu_pct"), med("uring", c, "srv_cpu_pct")))
print()
print("raw rows: " + sys.argv[1])
EOF
