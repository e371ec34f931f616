#!/usr/bin/env bash
# Remote commands under the openssh transport: what one costs through the
# connection's own control master (what treesync does) against a new ssh
# login per command, on a throwaway sshd on 127.0.0.1.  Prints the median
# wall time of N runs of "true" each way, and of a hash batch ("sha256sum"
# of one small file, as --verify=hash runs it).
#
#	bench/exec_mux.sh [N]	(default 20)
set -euo pipefail

n=${1:-20}
here=$(cd "$(dirname "$0")" && pwd)
export TS_SOURCE_DIR=${TS_SOURCE_DIR:-$(cd "$here/.." && pwd)}
export TREESYNC=${TREESYNC:-$TS_SOURCE_DIR/build/treesync}
unset TS_TRANSPORT
# shellcheck source=../tests/integration/harness.sh
. "$TS_SOURCE_DIR/tests/integration/harness.sh"
ts_sshd_start

ctl=$TS_TMP/c
base=(ssh -F "$TS_SSH_CONFIG" -x -a -T -oBatchMode=yes)
# A master as treesync starts it, its stdin a FIFO this shell holds open.
mkfifo "$TS_TMP/in"
exec 3<>"$TS_TMP/in"
"${base[@]}" -oControlMaster=yes -oControlPath="$ctl" \
    -oControlPersist=no -s tshost sftp <"$TS_TMP/in" >/dev/null &
ts_cleanup_add "kill $! 2>/dev/null"
for ((i = 0; i < 100; i++)); do
	[ -S "$ctl" ] && break
	sleep 0.1
done
[ -S "$ctl" ] || { echo "the master did not start" >&2; exit 1; }
echo small >"$TS_REMOTE/f"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timeit() {
	local s e
	s=$(date +%s.%N)
	"$@" </dev/null >/dev/null
	e=$(date +%s.%N)
	awk "BEGIN { print $e - $s }"
}

echo "| command | one ssh login each (s) | through the control master (s) |"
echo "|---|---|---|"
for cmd in true "sha256sum -z $TS_REMOTE/f"; do
	own=$(for ((i = 0; i < n; i++)); do
		timeit "${base[@]}" tshost "$cmd"
	done | median)
	mux=$(for ((i = 0; i < n; i++)); do
		timeit "${base[@]}" -oControlMaster=no -oControlPath="$ctl" \
		    tshost "$cmd"
	done | median)
	printf '| `%s` | %.3f | %.3f |\n' "${cmd%% *}" "$own" "$mux"
done
