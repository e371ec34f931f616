#!/usr/bin/env bash
# Single-file throughput: treesync put/get under both transports (libssh2,
# and openssh: the system's ssh as a child process) against the ceiling of
# the SSH channel itself (ssh HOST 'cat > FILE', 'cat FILE') and against
# OpenSSH's sftp, interleaved in one run on a throwaway sshd on 127.0.0.1.
# Prints a markdown table: median seconds, MB/s, the ratio to ssh-cat, and
# the client side's CPU seconds per GiB (user + system of the tool and the
# ssh processes it runs, from GNU time).
#
#	bench/put_get.sh [SIZE_MIB [RUNS]]	(default 1024 MiB, 3 runs)
#
# Every OpenSSH tool uses its default cipher (chacha20-poly1305 or AES-GCM);
# libssh2 1.10 has neither and uses aes128-ctr + hmac-sha2-256.  With
# PUTGET_CIPHER=aes128-ctr every tool gets that cipher and hmac-sha2-256
# (the older, like-for-like comparison).
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
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
unset TS_TRANSPORT	# each row names its transport
# shellcheck source=../tests/integration/harness.sh
. "$TS_SOURCE_DIR/tests/integration/harness.sh"
ts_sshd_start --subsystem openssh

cipher=()
if [ -n "${PUTGET_CIPHER:-}" ]; then
	cipher=(-c "$PUTGET_CIPHER" -o MACs=hmac-sha2-256)
fi
sshopts=(-F "$TS_SSH_CONFIG" -o BatchMode=yes "${cipher[@]+"${cipher[@]}"}")
rsh="ssh ${cipher[*]+"${cipher[*]}"}"

src=$TS_LOCAL/big
echo "generating $size_mib MiB..." >&2
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$src"
bytes=$(stat -c %s "$src")
ssh "${sshopts[@]}" tshost "cp '$src' '$TS_REMOTE/big.src'"

declare -A times cpus
tools=(ssh-cat-put sftp-put ts-libssh2-put ts-openssh-put
    ssh-cat-get sftp-get ts-libssh2-get ts-openssh-get)

run_one() {
	case $1 in
	ssh-cat-put) ssh "${sshopts[@]}" tshost "cat > '$TS_REMOTE/big.cat'" \
	    <"$src" ;;
	sftp-put) sftp "${sshopts[@]}" -q -b - tshost >/dev/null \
	    <<<"put $src $TS_REMOTE/big.sftp" ;;
	ts-libssh2-put) ts --transport libssh2 -q put "$src" \
	    "tshost:$TS_REMOTE/big.ts2" ;;
	ts-openssh-put) ts --transport openssh -e "$rsh" -q put "$src" \
	    "tshost:$TS_REMOTE/big.tso" ;;
	ssh-cat-get) ssh "${sshopts[@]}" tshost "cat '$TS_REMOTE/big.src'" \
	    >"$TS_LOCAL/got.cat" ;;
	sftp-get) sftp "${sshopts[@]}" -q -b - tshost >/dev/null \
	    <<<"get $TS_REMOTE/big.src $TS_LOCAL/got.sftp" ;;
	ts-libssh2-get) ts --transport libssh2 -q get "tshost:$TS_REMOTE/big.src" \
	    "$TS_LOCAL/got.ts2" ;;
	ts-openssh-get) ts --transport openssh -e "$rsh" -q get \
	    "tshost:$TS_REMOTE/big.src" "$TS_LOCAL/got.tso" ;;
	esac
}
export -f run_one ts
# The file a tool writes (under TS_REMOTE for puts, TS_LOCAL for gets).
target_of() {
	case $1 in
	ssh-cat-put) echo big.cat ;; sftp-put) echo big.sftp ;;
	ts-libssh2-put) echo big.ts2 ;; ts-openssh-put) echo big.tso ;;
	ssh-cat-get) echo got.cat ;; sftp-get) echo got.sftp ;;
	ts-libssh2-get) echo got.ts2 ;; ts-openssh-get) echo got.tso ;;
	esac
}
export src rsh TS_SSH_CONFIG TS_REMOTE TS_LOCAL

for ((r = 1; r <= runs; r++)); do
	# Each run starts the list at another tool: a tool that always ran
	# right after another one's big write measured that write too.
	k=$(( (r - 1) % ${#tools[@]} ))
	for t in "${tools[@]:k}" "${tools[@]:0:k}"; do
		# Every run writes a new file, removed before the clock
		# starts: a put over the last run's copy would go as a delta
		# (the signature store knows it).
		case $t in
		*-put) ts_ssh "rm -f '$TS_REMOTE/$(target_of "$t")'" ;;
		*) rm -f "$TS_LOCAL/$(target_of "$t")" ;;
		esac
		# The last tool's file is written out first: a tool that
		# leaves it dirty (sftp, cat) would slow the next one down.
		sync
		# GNU time counts the children the tool waited for: its ssh.
		/usr/bin/time -f "%e %U %S" -o "$TS_TMP/time" \
		    bash -c "$(declare -p sshopts cipher); run_one $t"
		read -r el u sy <"$TS_TMP/time"
		times[$t]+="$el "
		cpus[$t]+="$(awk "BEGIN { print ($u + $sy) * 1073741824 / $bytes }") "
		echo "run $r $t: $el s, $u + $sy CPU s" >&2
	done
done
# Each tool's result is checked: a fast tool that moved nothing is caught.
for f in "$TS_REMOTE/big.cat" "$TS_REMOTE/big.sftp" "$TS_REMOTE/big.ts2" \
    "$TS_REMOTE/big.tso" "$TS_LOCAL/got.cat" "$TS_LOCAL/got.sftp" \
    "$TS_LOCAL/got.ts2" "$TS_LOCAL/got.tso"; do
	cmp "$src" "$f" || { echo "$f: wrong bytes" >&2; exit 1; }
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
minmax() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR==1{m=$1} {x=$1} END {printf "%.2f-%.2f", m, x}'; }

echo
echo "$size_mib MiB, $runs runs, loopback, ${PUTGET_CIPHER:-default ciphers}, $(nproc) cores"
echo
echo "| direction | tool | median s | min-max s | MB/s | vs ssh-cat | client CPU s/GiB |"
echo "|---|---|---|---|---|---|---|"
for dir in put get; do
	ceil=$(echo "${times[ssh-cat-$dir]}" | median)
	for t in ssh-cat-$dir sftp-$dir ts-libssh2-$dir ts-openssh-$dir; do
		med=$(echo "${times[$t]}" | median)
		printf '| %s | %s | %.2f | %s | %.0f | %.0f %% | %.2f |\n' "$dir" \
		    "${t%-"$dir"}" "$med" "$(echo "${times[$t]}" | minmax)" \
		    "$(awk "BEGIN { print $bytes / $med / 1000000 }")" \
		    "$(awk "BEGIN { print 100 * $ceil / $med }")" \
		    "$(echo "${cpus[$t]}" | median)"
	done
done
