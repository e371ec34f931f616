#!/usr/bin/env bash
# Delta uploads against rsync, the change phase alone: N files of M MiB
# pushed once by each tool, then C MiB of one file overwritten in the
# middle and pushed again, through tests/integration/faultproxy.py (no
# fault: it only counts the bytes each way), in one run, on a throwaway
# sshd on 127.0.0.1 (the same cipher for both, as bench/race.sh).
#
#	bench/delta.sh [--files N] [--mib M] [--change-mib C] [--runs R]
#	    [--rtt-ms MS] [--rate BYTES_PER_SEC] [--no-count]
#
# --rtt-ms adds bench/latency_proxy.py behind the counting proxy; --rate
# makes the counting proxy a slow link (per connection and direction).  Prints
# a markdown table: median seconds over R runs, bytes up and down the
# wire, and for treesync its bytes_literal and the memory of the push
# (maximum RSS) and the signatures' size per GiB of file; treesync-W is
# treesync sending the file whole (-W), as before deltas.  --no-count
# times the pushes without the counting proxy (a Python process on the
# path: on this VM it made some 20 ms pushes 0.2-0.4 s slower, more often
# treesync's than rsync's) and reports no wire bytes.
# TS_BENCH_WRAP runs the measured treesync push under a command, for a
# profile: TS_BENCH_WRAP="perf record -g -o /tmp/perf.data".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export TS_SOURCE_DIR=${TS_SOURCE_DIR:-$(cd "$here/.." && pwd)}
export TREESYNC=${TREESYNC:-$TS_SOURCE_DIR/build/treesync}
files=4 mib=256 change_mib=1 runs=3 rtt=0 rate=0 count=1
while [ $# -gt 0 ]; do
	case $1 in
	--files) files=$2; shift 2 ;;
	--mib) mib=$2; shift 2 ;;
	--change-mib) change_mib=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--rtt-ms) rtt=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--no-count) count=0; shift ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 0 ;;
	*) echo "delta.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
done
# shellcheck source=../tests/integration/harness.sh
. "$TS_SOURCE_DIR/tests/integration/harness.sh"
ts_sshd_start --subsystem openssh --extra "Ciphers aes128-ctr
MACs hmac-sha2-256"
ts_bin=$TS_TMP/treesync
cp "$TREESYNC" "$ts_bin"
cache=$TS_TMP/cache

port=$TS_PORT
if [ "$rtt" -gt 0 ]; then
	python3 "$here/latency_proxy.py" --target "127.0.0.1:$TS_PORT" \
	    --rtt-ms "$rtt" --port-file "$TS_TMP/lat.port" </dev/null \
	    >>"$TS_TMP/lat.log" 2>&1 &
	ts_cleanup_add "kill $!"
	ts_wait_port_file "$TS_TMP/lat.port" "latency_proxy.py"
	port=$(cat "$TS_TMP/lat.port")
fi

# A counting proxy in front of port, and the known_hosts line for it.
count_start() {
	local r=()
	if [ "$count" -eq 0 ]; then
		cport=$port
		grep -q "^\[127.0.0.1\]:$port " "$TS_KNOWN_HOSTS" ||
		    printf '[127.0.0.1]:%s %s\n' "$port" \
		    "$(cut -d' ' -f1,2 "$TS_HOSTKEY_ED25519")" >>"$TS_KNOWN_HOSTS"
		return
	fi
	[ "$rate" -gt 0 ] && r=(--rate "$rate")
	rm -f "$TS_TMP/count.port" "$TS_TMP/count.log"
	python3 "$TS_SOURCE_DIR/tests/integration/faultproxy.py" \
	    --target-port "$port" --port-file "$TS_TMP/count.port" \
	    --log "$TS_TMP/count.log" --parent $$ --lifetime 3600 "${r[@]}" \
	    </dev/null >/dev/null 2>&1 &
	count_pid=$!
	ts_wait_port_file "$TS_TMP/count.port" "faultproxy.py"
	cport=$(cat "$TS_TMP/count.port")
	printf '[127.0.0.1]:%s %s\n' "$cport" \
	    "$(cut -d' ' -f1,2 "$TS_HOSTKEY_ED25519")" >>"$TS_KNOWN_HOSTS"
}
# Stops it; prints "UP DOWN", the bytes of all its connections.
count_stop() {
	local i
	if [ "$count" -eq 0 ]; then
		echo "- -"
		return
	fi
	# Every connection logged as closed: a close through the latency
	# proxy takes its round trip.
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c ' accept ' "$TS_TMP/count.log")" -le \
		    "$(grep -c ' close ' "$TS_TMP/count.log")" ] && break
		sleep 0.1
	done
	kill "$count_pid" 2>/dev/null || true
	wait "$count_pid" 2>/dev/null || true
	sed -n 's/.* close conn=[0-9]* up=\([0-9]*\) down=\([0-9]*\) .*/\1 \2/p' \
	    "$TS_TMP/count.log" | awk '{ u += $1; d += $2 } END { print u + 0, d + 0 }'
}

sshcmd="ssh -F $TS_SSH_CONFIG -o BatchMode=yes -c aes128-ctr -o MACs=hmac-sha2-256"
src=$TS_LOCAL/src
mkdir -p "$src"
echo "== generating $files x $mib MiB" >&2
for ((i = 0; i < files; i++)); do
	head -c $((mib << 20)) /dev/urandom >"$src/f$i.bin"
	touch -d @1700000000 "$src/f$i.bin"
done

declare -A t up down lit rss
for ((r = 1; r <= runs; r++)); do
	rm -rf "$TS_REMOTE/ts" "$TS_REMOTE/tw" "$TS_REMOTE/rs" "$cache"
	"$ts_bin" -F "$TS_SSH_CONFIG" -q --cache-dir "$cache" push "$src" \
	    "tshost:$TS_REMOTE/ts"
	"$ts_bin" -F "$TS_SSH_CONFIG" -q --cache-dir "$cache" push "$src" \
	    "tshost:$TS_REMOTE/tw"
	rsync -a -e "$sshcmd" "$src/" "tshost:$TS_REMOTE/rs/"
	head -c $((change_mib << 20)) /dev/urandom | dd of="$src/f1.bin" \
	    bs=1M seek=$((mib / 2)) conv=notrunc status=none
	touch -d "@$((1700000000 + r * 100))" "$src/f1.bin"
	# The first push after the setup's 3 GiB of writes was 0.6 s slower
	# than the later ones, whichever tool it was: an untimed write of the
	# same size takes that.
	dd if=/dev/zero of="$TS_REMOTE/warm" bs=1M count="$mib" status=none
	rm -f "$TS_REMOTE/warm"
	# Each run starts with another tool: on a shared VM, writing 256 MiB
	# into the page cache took 0.1 s or 0.7 s (dd, the same file, a
	# minute apart), and a fixed order gave the slow spells to the same
	# tool.  Use 5 runs or more and read the median.
	order=(treesync treesync-W rsync)
	k=$(((r - 1) % 3))
	for tool in "${order[@]:k}" "${order[@]:0:k}"; do
		# The server's disk is this machine's: what an earlier push
		# left to write back would slow the next tool down.
		sync
		count_start
		s=$(date +%s.%N)
		if [ "$tool" = treesync ]; then
			/usr/bin/time -f %M -o "$TS_TMP/rss" ${TS_BENCH_WRAP:-} "$ts_bin" \
			    -F "$TS_SSH_CONFIG" -p "$cport" --json \
			    --cache-dir "$cache" push "$src" \
			    "tshost:$TS_REMOTE/ts" >"$TS_TMP/json"
		elif [ "$tool" = treesync-W ]; then
			"$ts_bin" -F "$TS_SSH_CONFIG" -p "$cport" -q -W \
			    --cache-dir "$cache" push "$src" \
			    "tshost:$TS_REMOTE/tw"
		else
			${RS_WRAP:-} rsync -a -e "$sshcmd -p $cport" "$src/" \
			    "tshost:$TS_REMOTE/rs/"
		fi
		e=$(date +%s.%N)
		read -r u d < <(count_stop)
		t[$tool]+="$(awk "BEGIN { printf \"%.2f\", $e - $s }") "
		up[$tool]+="$u "
		down[$tool]+="$d "
		if [ "$tool" = treesync ]; then
			lit[$tool]+="$(sed -n 's/.*"bytes_literal":\([0-9]*\).*/\1/p' \
			    "$TS_TMP/json") "
			rss[$tool]+="$(cat "$TS_TMP/rss") "
		fi
		dir=rs
		[ "$tool" = treesync ] && dir=ts
		[ "$tool" = treesync-W ] && dir=tw
		cmp -s "$src/f1.bin" "$TS_REMOTE/$dir/f1.bin" ||
		    { echo "$tool: wrong result" >&2; exit 1; }
		echo "run $r $tool: $(awk "BEGIN { printf \"%.2f\", $e - $s }") s," \
		    "up $u, down $d" >&2
	done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 }
    END { print a[int((NR + 1) / 2)] }'; }
sig_bytes=$(du -cb "$cache"/sig/* | tail -1 | cut -f1)
nsig=$(find "$cache/sig" -type f | wc -l)	# the old f1's is still there
echo "Command: \`bench/delta.sh --files $files --mib $mib --change-mib $change_mib --runs $runs --rtt-ms $rtt --rate $rate$([ "$count" -eq 1 ] || echo ' --no-count')\`  "
echo "Machine: $(nproc) cores (shared), $(date -u +%F); change phase only: $change_mib MiB of one of $files files of $mib MiB overwritten; median of $runs runs."
echo
echo "| tool | seconds | × rsync | wire up | wire down | literal | max RSS |"
echo "|---|---:|---:|---:|---:|---:|---:|"
rt=$(echo "${t[rsync]}" | median)
for tool in treesync treesync-W rsync; do
	tm=$(echo "${t[$tool]}" | median)
	echo "| $tool | $tm | $(awk "BEGIN { printf \"%.2fx\", $tm / $rt }") |" \
	    "$(echo "${up[$tool]}" | median) | $(echo "${down[$tool]}" | median) |" \
	    "$( [ "$tool" = treesync ] && echo "${lit[$tool]}" | median || echo -) |" \
	    "$( [ "$tool" = treesync ] && echo "$(echo "${rss[$tool]}" | median) KiB" || echo -) |"
done
echo
echo "Signatures in the store: $sig_bytes bytes for $nsig files of $mib MiB" \
    "($((sig_bytes * 1024 / (nsig * mib))) bytes per GiB of file)."
