#!/usr/bin/env bash
# Single-file throughput: treesync put/get against the ceiling of the SSH
# channel itself (ssh HOST 'cat > /dev/null') and against OpenSSH's sftp,
# all with the same cipher and MAC, interleaved in one run on a throwaway
# sshd on 127.0.0.1.  Prints a markdown table: median seconds, MB/s, and
# the ratio to ssh-cat.
#
#	bench/put_get.sh [SIZE_MIB [RUNS]]	(default 1024 MiB, 3 runs)
#
# Build first (scripts/setup.sh).  Not a test: the machine is shared, so
# read the ratios, not the absolute figures.
set -euo pipefail

size_mib=${1:-1024}
runs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
export TS_SOURCE_DIR=${TS_SOURCE_DIR:-$(cd "$here/.." && pwd)}
export TREESYNC=${TREESYNC:-$TS_SOURCE_DIR/build/treesync}
[ -x "$TREESYNC" ] || { echo "build first: scripts/setup.sh" >&2; exit 1; }
# shellcheck source=../tests/integration/harness.sh
. "$TS_SOURCE_DIR/tests/integration/harness.sh"
ts_sshd_start --subsystem openssh

# libssh2 1.10 has no AES-GCM or chacha20: every tool gets what it has.
cipher=(-c aes128-ctr -o MACs=hmac-sha2-256)
sshopts=(-F "$TS_SSH_CONFIG" -o BatchMode=yes "${cipher[@]}")

src=$TS_LOCAL/big
echo "generating $size_mib MiB..." >&2
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$src"
bytes=$(stat -c %s "$src")
ssh "${sshopts[@]}" tshost "cp '$src' '$TS_REMOTE/big.src'"

declare -A times
tools=(ssh-cat-put sftp-put treesync-put ssh-cat-get sftp-get treesync-get)

run_one() {
	case $1 in
	ssh-cat-put) ssh "${sshopts[@]}" tshost 'cat > /dev/null' <"$src" ;;
	sftp-put) sftp "${sshopts[@]}" -q -b - tshost >/dev/null \
	    <<<"put $src $TS_REMOTE/big.sftp" ;;
	treesync-put) ts -q put "$src" "tshost:$TS_REMOTE/big.ts" ;;
	ssh-cat-get) ssh "${sshopts[@]}" tshost "cat '$TS_REMOTE/big.src'" \
	    >/dev/null ;;
	sftp-get) rm -f "$TS_LOCAL/got.sftp"
	    sftp "${sshopts[@]}" -q -b - tshost >/dev/null \
	    <<<"get $TS_REMOTE/big.src $TS_LOCAL/got.sftp" ;;
	treesync-get) rm -f "$TS_LOCAL/got.ts"
	    ts -q get "tshost:$TS_REMOTE/big.src" "$TS_LOCAL/got.ts" ;;
	esac
}

for ((r = 1; r <= runs; r++)); do
	for t in "${tools[@]}"; do
		start=$(date +%s.%N)
		run_one "$t"
		end=$(date +%s.%N)
		el=$(awk "BEGIN { print $end - $start }")
		times[$t]+="$el "
		echo "run $r $t: $el s" >&2
	done
done
# Each tool's result is checked: a fast tool that moved nothing is caught.
cmp "$src" "$TS_REMOTE/big.ts" || { echo "treesync put: wrong bytes" >&2; exit 1; }
cmp "$src" "$TS_LOCAL/got.ts" || { echo "treesync get: wrong bytes" >&2; exit 1; }
cmp "$src" "$TS_REMOTE/big.sftp" || { echo "sftp put: wrong bytes" >&2; exit 1; }
cmp "$src" "$TS_LOCAL/got.sftp" || { echo "sftp get: wrong bytes" >&2; exit 1; }

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
minmax() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR==1{m=$1} {x=$1} END {printf "%.2f-%.2f", m, x}'; }

echo
echo "$size_mib MiB, $runs runs, loopback, aes128-ctr + hmac-sha2-256, $(nproc) cores"
echo
echo "| direction | tool | median s | min-max s | MB/s | vs ssh-cat |"
echo "|---|---|---|---|---|---|"
for dir in put get; do
	ceil=$(echo "${times[ssh-cat-$dir]}" | median)
	for t in ssh-cat-$dir sftp-$dir treesync-$dir; do
		med=$(echo "${times[$t]}" | median)
		printf '| %s | %s | %.2f | %s | %.0f | %.0f %% |\n' "$dir" \
		    "${t%-"$dir"}" "$med" "$(echo "${times[$t]}" | minmax)" \
		    "$(awk "BEGIN { print $bytes / $med / 1000000 }")" \
		    "$(awk "BEGIN { print 100 * $ceil / $med }")"
	done
done
