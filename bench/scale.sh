#!/usr/bin/env bash
# Scale: a tree of many tiny files (1,000,000 by default, 0-100 bytes each,
# in 1,000 directories), treesync push against rsync -a, on a throwaway
# sshd on 127.0.0.1 (tests/integration/harness.sh), loopback only.
#
#	bench/scale.sh [--files N] [--dirs D] [--tools treesync,rsync]
#	    [--remote-fs tmpfs|disk]
#
# Tools: treesync ($TREESYNC), treesync-base ($TREESYNC_BASE: another
# build, e.g. the one before a change, measured in the same run), rsync.
# The server's trees live on a tmpfs (--remote-fs tmpfs, the default, as
# in race.sh; it needs root): on this VM's journal-less ext4, creating
# inodes soon after a big delete costs whoever comes next (ext4's
# recently_deleted), which made the tool that ran first pay for the
# clean-up of the run before.  Peak memory on the tmpfs: about 5 KiB a
# file and tool.
#
# Phases, per tool, each tool into its own remote directory: initial push
# into an empty directory, no-op re-push, re-push after 1 % of the files
# were rewritten (new content, new size, new mtime).  Each phase is timed
# (wall clock) with its peak resident memory: the client's for both tools
# (GNU time's maximum RSS of the command and its children: treesync's one
# process; rsync's local sender and the ssh it runs), and for rsync also
# its server side, whose receiver and generator run under sshd (the
# largest VmHWM seen, sampled every 0.2 s), since treesync has no server
# process at all.  Bytes per entry are the client's peak RSS over N.
#
# Also the CPU time of each side: the client's (GNU time: user + system
# of the command and its children, treesync's ssh included) and the
# server's (the sshd's children that ended during the phase: sessions,
# sftp-server, rsync's receiver), as the machine is shared and CPU
# seconds vary less than wall time.  Prints one markdown table.  Not a test: the machine is shared; read
# ratios.  Needs about 2 x 4 KiB x N of disk for the remote copies, and
# the local tree once (made under $TS_TMP, removed at exit).
set -euo pipefail

files=1000000
dirs=1000
tools=treesync,rsync
remote_fs=tmpfs
while [ $# -gt 0 ]; do
	case $1 in
	--files) files=$2; shift 2 ;;
	--dirs) dirs=$2; shift 2 ;;
	--tools) tools=$2; shift 2 ;;
	--remote-fs) remote_fs=$2; shift 2 ;;
	*) echo "usage: bench/scale.sh [--files N] [--dirs D]" \
	    "[--tools treesync,treesync-base,rsync] [--remote-fs tmpfs|disk]" \
	    >&2; exit 2 ;;
	esac
done
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TS_SOURCE_DIR=$root
TREESYNC=${TREESYNC:-$root/build/treesync}
[ -x /usr/bin/time ] || { echo "scale.sh: apt-get install time" >&2; exit 1; }
command -v rsync >/dev/null || { echo "scale.sh: apt-get install rsync" >&2; exit 1; }

# shellcheck source=../tests/integration/harness.sh
. "$root/tests/integration/harness.sh"
ts_sshd_start --subsystem openssh --extra "Ciphers aes128-ctr
MACs hmac-sha2-256
MaxStartups 64:30:128
MaxSessions 64"
case $remote_fs in
tmpfs)
	if mount -t tmpfs -o mode=0755 treesync-scale "$TS_REMOTE" 2>/dev/null
	then
		ts_cleanup_add "umount -l '$TS_REMOTE'"
	else
		echo "scale.sh: could not mount a tmpfs (it needs root):" \
		    "the server's trees stay on disk" >&2
		remote_fs=disk
	fi ;;
disk) ;;
*) echo "scale.sh: --remote-fs is tmpfs or disk" >&2; exit 2 ;;
esac
sshcmd="ssh -F $TS_SSH_CONFIG -o BatchMode=yes -c aes128-ctr -o MACs=hmac-sha2-256"
IFS=, read -r -a tool_list <<<"$tools"

L=$TS_LOCAL/tree
echo "scale.sh: making $files files in $dirs directories" >&2
python3 - "$L" "$files" "$dirs" <<'EOF'
import os, random, sys
top, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
for k in range(d):
    os.makedirs(os.path.join(top, "d%04d" % k))
for i in range(n):
    p = os.path.join(top, "d%04d" % (i % d), "f%07d" % i)
    with open(p, "wb") as f:
        f.write(rng.randbytes(rng.randrange(0, 101)))
    os.utime(p, (1650000000, 1650000000))
EOF

# change: rewrites 1 % of the files (every 100th), new size and mtime.
change() {
	python3 - "$L" "$files" "$dirs" <<'EOF'
import os, sys
top, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(0, n, 100):
    p = os.path.join(top, "d%04d" % (i % d), "f%07d" % i)
    with open(p, "ab") as f:
        f.write(b"changed\n")
    os.utime(p, (1660000000, 1660000000))
EOF
}

# server_hwm PIDFILE: samples the largest VmHWM (KiB) of the rsync
# processes sshd runs, until PIDFILE disappears; prints it.
server_hwm() {
	local max=0 v p
	while [ -e "$1" ]; do
		for p in $(pgrep -x rsync || true); do
			grep -q -- '--server' "/proc/$p/cmdline" 2>/dev/null ||
			    continue
			v=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' \
			    "/proc/$p/status" 2>/dev/null || true)
			[ -n "$v" ] && [ "$v" -gt "$max" ] && max=$v
		done
		sleep 0.2
	done
	echo "$max"
}

# server_cpu: CPU seconds (user + system, in clock ticks) of the sshd's
# children that ended: its sessions, their sftp-server or rsync.
server_cpu() {
	awk '{ print $16 + $17 }' "/proc/$TS_SSHD_PID/stat"
}

# run TOOL DST: one push; prints "SECONDS CLIENT_KIB SERVER_KIB
# CLIENT_CPU_S SERVER_CPU_S".
run() {
	local t=$1 dst=$2 out=$TS_TMP/time.out flag=$TS_TMP/running hwm=0
	local cmd
	case $t in
	treesync) cmd=("$TREESYNC" -F "$TS_SSH_CONFIG" -q push "$L" "tshost:$dst") ;;
	treesync-base) cmd=("${TREESYNC_BASE:?set TREESYNC_BASE}" \
	    -F "$TS_SSH_CONFIG" -q push "$L" "tshost:$dst") ;;
	rsync) cmd=(rsync -a -e "$sshcmd" "$L/" "tshost:$dst/") ;;
	*) echo "scale.sh: unknown tool $t" >&2; exit 2 ;;
	esac
	: >"$flag"
	server_hwm "$flag" >"$TS_TMP/hwm" &
	local sampler=$! c0 c1 e m u s
	c0=$(server_cpu)
	/usr/bin/time -f '%e %M %U %S' -o "$out" "${cmd[@]}" </dev/null \
	    >/dev/null
	rm -f "$flag"
	wait "$sampler"
	sleep 1			# the sessions end and are reaped
	c1=$(server_cpu)
	[ "$t" = rsync ] && hwm=$(cat "$TS_TMP/hwm")
	read -r e m u s <"$out"
	printf '%s %s %s %.2f %.2f\n' "$e" "$m" "$hwm" "$(echo "$u + $s" | bc)" \
	    "$(echo "($c1 - $c0) / $(getconf CLK_TCK)" | bc -l)"
}

declare -A res
for t in "${tool_list[@]}"; do
	R=$TS_REMOTE/$t
	res[$t,initial]=$(run "$t" "$R")
	res[$t,noop]=$(run "$t" "$R")
done
change
for t in "${tool_list[@]}"; do
	res[$t,change]=$(run "$t" "$TS_REMOTE/$t")
	diff -r "$L" "$TS_REMOTE/$t" >/dev/null ||
	    echo "scale.sh: $t: the remote tree differs after the 1 % change" >&2
done

printf '\n%d files of 0-100 bytes in %d directories, loopback, the server'"'"'s trees on %s\n\n' \
    "$files" "$dirs" "$remote_fs"
echo "| tool | phase | seconds | × rsync | client CPU s | server CPU s | total CPU × rsync | client peak RSS | bytes/entry | server peak RSS |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for t in "${tool_list[@]}"; do
	for ph in initial noop change; do
		read -r s kib skib ccpu scpu <<<"${res[$t,$ph]}"
		ratio=- cratio=-
		if [ -n "${res[rsync,$ph]:-}" ]; then
			read -r rs _ _ rc rsc <<<"${res[rsync,$ph]}"
			ratio=$(printf '%.2fx' "$(echo "$s / $rs" | bc -l)")
			cratio=$(printf '%.2fx' \
			    "$(echo "($ccpu + $scpu) / ($rc + $rsc)" | bc -l)")
		fi
		printf '| %s | %s | %s | %s | %s | %s | %s | %d MiB | %d | %s |\n' \
		    "$t" "$ph" "$s" "$ratio" "$ccpu" "$scpu" "$cratio" \
		    $((kib / 1024)) $((kib * 1024 / files)) \
		    "$([ "$t" = rsync ] && echo "$((skib / 1024)) MiB" || echo -)"
	done
done
