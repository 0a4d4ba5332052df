# shellcheck shell=bash
# args.sh - argument checks shared by compare.sh and engines.sh (sourced).
# The caller sets prog (its name, for messages) before using them.

# bad OPTION VALUE WHY: one line naming both, a hint, exit 2.
bad() {
	echo "$prog: $1: '$2' $3" >&2
	echo "Try '$prog --help'" >&2
	exit 2
}

# secs OPTION VALUE MIN: VALUE (N, N.N, with s or ms) in seconds, >= MIN.
secs() {
	local v=$2 mul=1
	case $v in
	*ms) v=${v%ms}; mul=0.001 ;;
	*s) v=${v%s} ;;
	esac
	[[ $v =~ ^([0-9]+([.][0-9]*)?|[.][0-9]+)$ ]] ||
		bad "$1" "$2" "is not a time (seconds, or with an s or ms suffix)"
	v=$(awk -v v="$v" -v m="$mul" 'BEGIN { printf "%.6g", v * m }')
	awk -v v="$v" -v min="$3" 'BEGIN { exit !(v >= min) }' ||
		bad "$1" "$2" "is below $3 s"
	echo "$v"
}
