#!/bin/sh
# SPDX-License-Identifier: MIT
#
# seeds.sh - write the hand-made seeds of corpus/opts (seed-NN files): one
# argument vector each, arguments separated by NUL bytes. The rest of the
# corpus (and all of corpus/conn) was found by run.sh and minimised with
# libFuzzer -merge=1; see README.md.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)/corpus/opts
mkdir -p "$dir"
i=0
seed() {
	i=$((i + 1))
	printf -- "$1" >"$dir/seed-$(printf %02d "$i")"
}
# printf: \000 is a NUL, so '\0001' is a NUL then "1".
seed '--port\0000'
seed '--port=65535\0--host\0::1'
seed '--host=127.0.0.1\0--max-conns\0001\0--buf-size\00016'
seed '--buf-size=64K\0--stats'
seed '--buf-size\000256M'
seed '--buf-size\000256m\0--max-conns=1000000'
seed '--help'
seed '--version'
seed '--port\00070000'
seed '--port'
seed '--buf-size\00015'
seed '--buf-size\00018446744073709551615k'
seed '--max-conns\0000'
seed '--nope'
seed 'extra'
seed '--backend\0epoll\0--edge'
seed '--backend=nope'
seed '--level\0--level=7\0--level=x'
seed '--\0--port'
seed '-ab'
seed '--h'
seed '--host\0not-an-ip'
seed '--stats=1'
seed '--port\000 1\0--port\000+1\0--port\0000x10'
