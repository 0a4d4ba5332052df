#!/bin/sh
# SPDX-License-Identifier: MIT
#
# e2e.sh - one e2e scenario against a server that runs under the fault
# injector, then proof that every fault rule fired.
#
#   e2e.sh TEST_E2E SCENARIO FAULTINJ_SO RULES -- SERVER_CMD...
#
# Only the server is preloaded (through env(1) in its command line): the
# test client must not suffer the faults. RULES travel in FAULTINJ, which
# test_e2e passes on to the servers it starts; each server appends its
# counts to one file at exit. The scenario's own verdict comes first (77,
# skip, passes through); then a rule that never fired fails the test,
# since the scenario would have proved nothing about it.
set -u

if [ $# -lt 6 ] || [ "$5" != "--" ]; then
	echo "usage: e2e.sh TEST_E2E SCENARIO FAULTINJ_SO RULES -- SERVER..." >&2
	exit 2
fi
t=$1
scenario=$2
lib=$3
rules=$4
shift 5

# Under ASan the sanitizer runtime wants to be the first library loaded;
# the preload comes before it and forwards to its interceptors, so the
# check is off. Exported (not set in env's arguments) so that a scenario
# that adds its own ASan options keeps this one.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

out=$(mktemp "${TMPDIR:-/tmp}/faultinj-e2e.XXXXXX")
trap 'rm -f "$out"' EXIT

FAULTINJ=$rules FAULTINJ_SEED=${FAULTINJ_SEED:-1} FAULTINJ_OUT=$out \
	"$t" "$scenario" -- env LD_PRELOAD="$lib" "$@"
rc=$?
cat "$out"
[ "$rc" -ne 0 ] && exit "$rc"

fail=0
for rule in $(echo "$rules" | tr ',' ' '); do
	n=$(awk -v r="rule=$rule" '$3 == r { split($5, a, "="); s += a[2] }
		END { print s + 0 }' "$out")
	echo "e2e.sh: $rule: $n faults injected"
	if [ "$n" -eq 0 ]; then
		echo "e2e.sh: FAIL: $rule never fired (the scenario proved" \
			"nothing about it)"
		fail=1
	fi
done
exit "$fail"
