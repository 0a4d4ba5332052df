#!/bin/sh
# SPDX-License-Identifier: MIT
#
# run.sh - build the fuzz harnesses with libFuzzer, ASan and UBSan (clang)
# and fuzz each one for SECONDS, starting from its committed corpus.
#
#   tests/fuzz/run.sh [SECONDS]      (default 30 per harness)
#
# Self-contained: compiles the harness and the common/ sources it needs
# directly, no meson. New inputs go to a scratch corpus under FUZZ_OUT (a
# temporary directory unless set), never into the committed one; with
# FUZZ_MERGE=1 those that reach code the corpus does not are then added to
# it (libFuzzer -merge=1). Exits non-zero if a harness fails; the failing
# input is kept in FUZZ_OUT and replayed with the command shown.
set -eu

secs=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cc=${CC:-clang}
out=${FUZZ_OUT:-}
keep=1
if [ -z "$out" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/echo-fuzz.XXXXXX")
	keep=0
fi
mkdir -p "$out"

cflags="-std=gnu11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
	-I$root/common -I$here"

# build NAME SOURCES...: fuzz_NAME.c and the common/ sources it needs.
build() {
	name=$1
	shift
	# shellcheck disable=SC2086
	"$cc" $cflags -o "$out/fuzz_$name" "$here/fuzz_$name.c" "$@"
}
build conn "$root/common/conn.c" "$root/common/buf.c" \
	"$root/common/pool.c"
build opts "$root/common/opts.c"

# Leaks are checked at exit too (the harnesses free everything per input).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

fail=0
for h in conn:1024 opts:256; do
	name=${h%%:*}
	maxlen=${h#*:}
	dict=
	[ -f "$here/$name.dict" ] && dict="-dict=$here/$name.dict"
	mkdir -p "$out/corpus-$name"
	echo "run.sh: fuzzing $name for ${secs}s"
	# shellcheck disable=SC2086
	if ! "$out/fuzz_$name" -max_total_time="$secs" -max_len="$maxlen" \
		-timeout=10 -print_final_stats=1 $dict \
		-artifact_prefix="$out/$name-" \
		"$out/corpus-$name" "$here/corpus/$name" \
		>"$out/$name.log" 2>&1; then
		tail -n 40 "$out/$name.log"
		echo "run.sh: $name FAILED; inputs kept in $out:"
		for f in "$out/$name"-*; do
			if [ -e "$f" ]; then
				echo "  $f"
			fi
		done
		echo "run.sh: replay with: $out/fuzz_$name FILE"
		fail=1
		keep=1
		continue
	fi
	grep -E '^(Done|stat::number_of_executed_units|stat::new_units)' \
		"$out/$name.log" || true
	if [ "${FUZZ_MERGE:-0}" = 1 ]; then
		# Only inputs that reach a new edge are added (hit counts do
		# not count): the corpus stays small; nothing is removed.
		before=$(ls "$here/corpus/$name" | wc -l)
		# shellcheck disable=SC2086
		"$out/fuzz_$name" -merge=1 -use_counters=0 \
			-max_len="$maxlen" $dict "$here/corpus/$name" \
			"$out/corpus-$name" >>"$out/$name.log" 2>&1
		echo "run.sh: corpus/$name: $before inputs," \
			"now $(ls "$here/corpus/$name" | wc -l)"
	fi
done

if [ "$keep" = 0 ]; then
	rm -rf "$out"
else
	echo "run.sh: builds, logs and scratch corpora in $out"
fi
exit "$fail"
