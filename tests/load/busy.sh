#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# busy.sh - run a command while every CPU is kept busy by other work, as on
# a user's laptop that is compiling something meanwhile.
#
#   tests/load/busy.sh [-n SPINNERS] CMD [ARGS...]
#
# Starts SPINNERS (default: one per online CPU) busy loops at the same
# priority as CMD, runs CMD, then stops the loops it started (by PID, also
# when interrupted) and exits with CMD's status. The loops do no I/O and
# allocate nothing: they take CPU time, nothing else, so what a test
# measures in wall-clock time stretches and what it measures in its own
# CPU time does not.
set -euo pipefail

n=$(nproc)
if [ "${1:-}" = -n ]; then
	n=${2:?busy.sh: -n needs a number}
	shift 2
fi
case "$n" in
'' | *[!0-9]*)
	echo "busy.sh: -n expects a number, got '$n'" >&2
	exit 2
	;;
esac
if [ "$#" -eq 0 ]; then
	echo "usage: busy.sh [-n SPINNERS] CMD [ARGS...]" >&2
	exit 2
fi

pids=()
stop() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	pids=()
}
trap stop EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

for ((i = 0; i < n; i++)); do
	# A subshell that only spins: bash arithmetic, no forks.
	( while :; do :; done ) &
	pids+=($!)
done
echo "busy.sh: $n busy loops (pids ${pids[*]}) while: $*"
t0=$(date +%s)
rc=0
"$@" || rc=$?
echo "busy.sh: took $(($(date +%s) - t0)) s under load, exit $rc"
exit "$rc"
