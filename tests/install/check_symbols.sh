#!/usr/bin/env bash
# Only the ts_ API leaves libtreesync: every symbol the shared library
# exports (nm -D) and every global the static archive defines must start
# with ts_, so that a program linking either cannot clash with our
# internal names (ssh_connect, buf_init, ...).
#
#	check_symbols.sh LIBTREESYNC.so LIBTREESYNC.a
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: check_symbols.sh LIB.so LIB.a" >&2; exit 2; }
status=0
# check WHAT: reads "ADDRESS TYPE NAME" lines of defined symbols on stdin.
check() {
	local what=$1 all bad n
	all=$(awk 'NF == 3 { print $3 }')
	n=$(grep -c '^ts_' <<<"$all" || true)
	bad=$(grep -v '^ts_' <<<"$all" || true)
	if [ "$n" -eq 0 ]; then
		echo "FAIL: $what: no ts_ symbol at all" >&2
		status=1
	elif [ -n "$bad" ]; then
		echo "FAIL: $what: symbols without the ts_ prefix:" >&2
		sed 's/^/  /' <<<"$bad" >&2
		status=1
	else
		echo "ok: $what: $n symbols, all ts_"
	fi
}
nm -D --defined-only "$1" | check "$1 (nm -D)"
nm -g --defined-only "$2" | check "$2 (nm -g)"
exit "$status"
