#!/usr/bin/env bash
# The benchmark race: treesync push against rsync, rclone, lftp, OpenSSH sftp
# and the streaming ceilings, on the same trees, interleaved in one run, on
# a throwaway sshd on 127.0.0.1 (tests/integration/harness.sh), on loopback
# and through bench/latency_proxy.py (a fixed added round-trip time).
#
#	bench/race.sh [--quick] [--runs R] [--workloads small,large,mixed]
#	    [--conditions lan,wan] [--rtt-ms 20] [--tools LIST] [--timeout S]
#	    [--small N] [--large-mib M] [--mixed-mib M] [--seed S]
#	    [--remote-fs tmpfs|disk]
#
# Tools: treesync (its default transport), treesync-libssh2 and
# treesync-openssh (--transport), rsync, rclone, rclone-c, lftp, sftp,
# tar-ssh, ssh-cat.
#
# Workloads (fixed seed, bench/race_tree.py): small = N files of 1-16 KiB in
# 100 directories (10,000); large = 4 files of M MiB (256); mixed = N/5
# small files and 8 files of M' MiB (2,000 and 32).  --quick: 1,000 /
# 4 x 16 MiB / 200 + 8 x 4 MiB, one run.  Phases: initial push into an empty
# remote directory, no-op re-push, re-push after 1 % of the files changed and
# 0.5 % were added.  sftp, tar|ssh and ssh-cat are not sync tools: they run
# in the initial phase only.
#
# Every tool gets the same cipher: the sshd accepts only aes128-ctr with
# hmac-sha2-256 (libssh2 1.10 has neither AES-GCM nor chacha20).  Every run's
# result is checked (bench/race_tree.py check: names, sizes, mtimes where
# the tool keeps them, bytes of the changed files and a sample); a failed
# check marks the cell FAILED.  An initial push over --timeout seconds marks
# the cell TIMEOUT (shown as a lower bound), is not tried again in later runs
# of that workload and condition, and the tool's remote tree is then made by
# a local copy (cp -a, untimed) so its no-op and change phases are still
# measured.
#
# The server's trees live on a tmpfs (--remote-fs tmpfs, the default; it
# needs root, else they stay on disk, and the header says which).  The
# race deletes thousands of files between runs, and on a file system
# without a journal (these VMs' root) ext4 then skips every inode freed in
# the last minute or more when it allocates one: a perf profile of a
# 10,000-file push put two thirds of all samples in that scan
# (recently_deleted, find_inode_bit), and the times followed the churn of
# earlier runs more than the tools.  A tmpfs measures the tools and the
# link, the same for all.
#
# Prints markdown tables: median seconds over R runs, min-max, and the
# ratio to rsync (tool time / rsync time: below 1 is faster than rsync).
# Not a test: the machine is shared, read the ratios.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export TS_SOURCE_DIR=${TS_SOURCE_DIR:-$(cd "$here/.." && pwd)}
export TREESYNC=${TREESYNC:-$TS_SOURCE_DIR/build/treesync}

runs=3 quick=0 rtt=20 seed=42 timeout_s=300
workloads=small,large,mixed conditions=lan,wan
tools_all=treesync,treesync-libssh2,treesync-openssh,rsync,rclone,rclone-c,lftp,sftp,tar-ssh,ssh-cat
tools=$tools_all
n_small=10000 large_mib=256 mixed_mib=32 runs_set=0 remote_fs=tmpfs
cmdline="bench/race.sh${*:+ $*}"
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1; shift ;;
	--runs) runs=$2; runs_set=1; shift 2 ;;
	--workloads) workloads=$2; shift 2 ;;
	--conditions) conditions=$2; shift 2 ;;
	--rtt-ms) rtt=$2; shift 2 ;;
	--tools) tools=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--small) n_small=$2; shift 2 ;;
	--large-mib) large_mib=$2; shift 2 ;;
	--mixed-mib) mixed_mib=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--remote-fs) remote_fs=$2; shift 2 ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 0 ;;
	*) echo "race.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
if [ "$quick" -eq 1 ]; then
	n_small=1000 large_mib=16 mixed_mib=4
	[ "$runs_set" -eq 1 ] || runs=1
fi

# --- peers -------------------------------------------------------------------

[ -x "$TREESYNC" ] && "$TREESYNC" --help 2>&1 | grep '^  push' >/dev/null || {
	echo "race.sh: $TREESYNC has no push command: build first" \
	    "(scripts/setup.sh) or set TREESYNC" >&2
	exit 1
}
declare -A pkg=([rsync]=rsync [rclone]=rclone [rclone-c]=rclone [lftp]=lftp
    [sftp]=openssh-client [tar-ssh]=tar [ssh-cat]=openssh-client)
declare -A cmd=([rsync]=rsync [rclone]=rclone [rclone-c]=rclone [lftp]=lftp
    [sftp]=sftp [tar-ssh]=tar [ssh-cat]=ssh)
IFS=, read -r -a tool_list <<<"$tools"
kept=()
for t in "${tool_list[@]}"; do
	case ,$tools_all, in *,"$t",*) ;; *)
		echo "race.sh: unknown tool '$t' ($tools_all)" >&2; exit 2 ;;
	esac
	if [ "${t%%-*}" != treesync ] && ! command -v "${cmd[$t]}" >/dev/null; then
		echo "race.sh: $t skipped: install it with" \
		    "'apt-get install ${pkg[$t]}'" >&2
		continue
	fi
	kept+=("$t")
done
tool_list=("${kept[@]}")
IFS=, read -r -a workload_list <<<"$workloads"
IFS=, read -r -a condition_list <<<"$conditions"

# shellcheck source=../tests/integration/harness.sh
. "$TS_SOURCE_DIR/tests/integration/harness.sh"
# One cipher and MAC for every client, enforced by the server.
ts_sshd_start --subsystem openssh --extra "Ciphers aes128-ctr
MACs hmac-sha2-256
MaxStartups 64:30:128
MaxSessions 64"
case $remote_fs in
tmpfs)
	if mount -t tmpfs -o mode=0755 treesync-race "$TS_REMOTE" 2>/dev/null
	then
		ts_cleanup_add "umount -l '$TS_REMOTE'"
	else
		echo "race.sh: could not mount a tmpfs (it needs root):" \
		    "the server's trees stay on disk" >&2
		remote_fs=disk
	fi ;;
disk) ;;
*) echo "race.sh: --remote-fs is tmpfs or disk" >&2; exit 2 ;;
esac

# rm_tree DIR: a stopped tool's server side may still be writing for a
# moment, so "Directory not empty" is tried again.
rm_tree() {
	local i
	for ((i = 0; i < 20; i++)); do
		rm -rf "$1" 2>/dev/null && return 0
		sleep 0.5
	done
	rm -rf "$1"
}

# A copy of the binary: a rebuild during the run does not change the racer.
cp "$TREESYNC" "$TS_TMP/treesync"
ts_bin=$TS_TMP/treesync
ts_jobs=()
if "$ts_bin" --help 2>&1 | grep -q -- --jobs; then
	ts_jobs=(-j 4)
fi

# --- the latency proxy and a host alias for it ------------------------------

proxy_pid=
start_proxy() {
	local pf=$TS_TMP/proxy.port i
	rm -f "$pf"
	python3 "$here/latency_proxy.py" --target "127.0.0.1:$TS_PORT" \
	    --rtt-ms "$rtt" --port-file "$pf" </dev/null \
	    >>"$TS_TMP/proxy.log" 2>&1 &
	proxy_pid=$!
	ts_cleanup_add "kill $proxy_pid"
	for ((i = 0; i < 100; i++)); do
		[ -s "$pf" ] && break
		sleep 0.05
	done
	[ -s "$pf" ] || ts_fail "latency proxy did not start"
	proxy_port=$(cat "$pf")
	printf '[127.0.0.1]:%s %s\n' "$proxy_port" \
	    "$(cut -d' ' -f1,2 "$TS_HOSTKEY_ED25519")" >>"$TS_KNOWN_HOSTS"
	add_rclone_known "$proxy_port"
	cat >>"$TS_SSH_CONFIG" <<EOF
Host tswan
	HostName 127.0.0.1
	Port $proxy_port
	User $TS_USER
	IdentityFile $TS_KEY
	IdentitiesOnly yes
	UserKnownHostsFile $TS_KNOWN_HOSTS
EOF
}
stop_proxy() {
	[ -n "$proxy_pid" ] || return 0
	kill "$proxy_pid" 2>/dev/null || true
	wait "$proxy_pid" 2>/dev/null || true
	proxy_pid=
}

# rclone 1.60 (Go x/crypto/ssh) picks the host key type by its own
# preference, not by what known_hosts holds: give it both server keys.
rclone_known_hosts=$TS_TMP/rclone_known_hosts
add_rclone_known() {
	local k
	for k in "$TS_HOSTKEY_ED25519" "$TS_HOSTKEY_ECDSA"; do
		printf '[127.0.0.1]:%s %s\n' "$1" "$(cut -d' ' -f1,2 "$k")"
	done >>"$rclone_known_hosts"
}
add_rclone_known "$TS_PORT"

sshopts=(-F "$TS_SSH_CONFIG" -o BatchMode=yes -c aes128-ctr
    -o MACs=hmac-sha2-256)
sshcmd="ssh -F $TS_SSH_CONFIG -o BatchMode=yes -c aes128-ctr -o MACs=hmac-sha2-256"

# --- one tool, one push --------------------------------------------------------

# run_tool TOOL HOST PORT SRC DST: pushes SRC's contents into DST (absolute,
# on the server = this machine).
run_tool() {
	local t=$1 host=$2 port=$3 src=$4 dst=$5
	case $t in
	treesync|treesync-libssh2|treesync-openssh)
		# treesync: its default transport (auto); the others name one.
		local tr=()
		[ "$t" = treesync ] || tr=(--transport "${t#treesync-}")
		"$ts_bin" -F "$TS_SSH_CONFIG" -q "${tr[@]}" "${ts_jobs[@]}" \
		    push "$src" "$host:$dst" ;;
	rsync)
		rsync -a -e "$sshcmd" "$src/" "$host:$dst/" ;;
	rclone|rclone-c)
		local c=()
		[ "$t" = rclone-c ] && c=(--checksum)
		RCLONE_CONFIG_BENCH_TYPE=sftp \
		RCLONE_CONFIG_BENCH_HOST=127.0.0.1 \
		RCLONE_CONFIG_BENCH_PORT=$port \
		RCLONE_CONFIG_BENCH_USER=$TS_USER \
		RCLONE_CONFIG_BENCH_KEY_FILE=$TS_KEY \
		RCLONE_CONFIG_BENCH_KNOWN_HOSTS_FILE=$rclone_known_hosts \
		rclone --config /dev/null -q sync --transfers 8 "${c[@]}" \
		    "$src" "bench:$dst" ;;
	lftp)
		lftp -c "set cmd:fail-exit yes; set net:max-retries 2;
		    set sftp:connect-program '$sshcmd -a -x';
		    open -u $TS_USER, sftp://$host;
		    mirror -R --parallel=8 '$src' '$dst'" ;;
	sftp)
		sftp "${sshopts[@]}" -q -b - "$host" >/dev/null \
		    <<<"put -r $src $dst" ;;
	tar-ssh)
		tar -C "$src" -cf - . | ssh "${sshopts[@]}" "$host" \
		    "mkdir -p '$dst' && tar -C '$dst' -xf -" ;;
	ssh-cat)
		head -c "$bytes" /dev/zero | ssh "${sshopts[@]}" "$host" \
		    'cat > /dev/null' ;;
	esac
}

# Which phases a tool takes part in, and whether it keeps mtimes.
in_phase() {
	case $1:$2 in
	sftp:init|tar-ssh:init|ssh-cat:init) return 0 ;;
	sftp:*|tar-ssh:*|ssh-cat:*) return 1 ;;
	*) return 0 ;;
	esac
}
check_opts() {
	case $1 in
	sftp) echo --no-mtime ;;	# put without -p keeps no mtimes
	esac
}

declare -A times status desc
phases=(init noop change)
declare -A phase_name=([init]="initial push" [noop]="no-op re-push"
    [change]="1 % changed, 0.5 % added")

now() { date +%s.%N; }

# Ends a process and its descendants (by pid: only what this script started).
kill_tree() {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do
		kill_tree "$c"
	done
	kill -TERM "$1" 2>/dev/null || true
}

# --- the race ------------------------------------------------------------------

race_start=$(now)
for w in "${workload_list[@]}"; do
	base=$TS_LOCAL/$w.base new=$TS_LOCAL/$w.new
	case $w in
	small) gen=(--small "$n_small" --dirs 100) ;;
	large) gen=(--large 4 --large-mib "$large_mib" --dirs 0) ;;
	mixed) gen=(--small $((n_small / 5)) --dirs 20 --large 8
	    --large-mib "$mixed_mib") ;;
	*) ts_fail "unknown workload '$w'" ;;
	esac
	echo "== workload $w: generating (seed $seed)" >&2
	python3 "$here/race_tree.py" gen "$base" --seed "$seed" "${gen[@]}"
	python3 "$here/race_tree.py" mutate "$base" "$new" --seed "$seed" >&2
	read -r nfiles bytes < <(python3 "$here/race_tree.py" stats "$base")
	desc[$w]="$nfiles files, $((bytes / 1024 / 1024)) MiB"
	for cond in "${condition_list[@]}"; do
		case $cond in
		lan) host=tshost port=$TS_PORT ;;
		wan) [ -n "$proxy_pid" ] || start_proxy
		    host=tswan port=$proxy_port ;;
		*) ts_fail "unknown condition '$cond'" ;;
		esac
		declare -A out_of=()
		for ((r = 1; r <= runs; r++)); do
			# rotate the order each run: no tool always goes first
			order=("${tool_list[@]:r % ${#tool_list[@]}}"
			    "${tool_list[@]:0:r % ${#tool_list[@]}}")
			for t in "${order[@]}"; do
				rm_tree "$TS_REMOTE/$t"
			done
			for ph in "${phases[@]}"; do
				src=$base
				[ "$ph" = change ] && src=$new
				for t in "${order[@]}"; do
					in_phase "$t" "$ph" || continue
					key="$w|$cond|$ph|$t"
					dst=$TS_REMOTE/$t
					if [ -n "${out_of[$t]:-}" ]; then
						# timed out before: the initial push is
						# not run again, a sync tool gets its
						# remote tree by a local copy (untimed)
						if [ "$ph" = init ]; then
							! in_phase "$t" noop ||
							    cp -a "$base" "$dst"
							continue
						fi
						in_phase "$t" noop || continue
					fi
					start=$(now)
					rc=0
					run_tool "$t" "$host" "$port" "$src" "$dst" \
					    </dev/null >"$TS_TMP/out" 2>&1 &
					pid=$!
					( sleep "$timeout_s"; kill_tree "$pid" ) \
					    </dev/null >/dev/null 2>&1 &
					wd=$!
					wait "$pid" || rc=$?
					end=$(now)
					kill "$wd" 2>/dev/null || true
					wait "$wd" 2>/dev/null || true
					el=$(awk "BEGIN { printf \"%.3f\", $end - $start }")
					if awk "BEGIN { exit !($el >= $timeout_s) }"; then
						status[$key]=TIMEOUT
						if [ "$ph" = init ]; then
							out_of[$t]=1
							rm_tree "$dst"
							! in_phase "$t" noop ||
							    cp -a "$base" "$dst"
						fi
						echo "run $r $w $cond $ph $t: TIMEOUT" \
						    "(>$timeout_s s)" >&2
						continue
					fi
					why=
					if [ "$rc" -ne 0 ]; then
						why="exit $rc: $(tail -c 300 "$TS_TMP/out" |
						    tr '\n' ' ')"
					elif [ "$t" != ssh-cat ]; then
						# shellcheck disable=SC2046
						why=$(python3 "$here/race_tree.py" check \
						    $(check_opts "$t") "$src" "$dst") || true
					fi
					if [ -n "$why" ]; then
						status[$key]=FAILED
						echo "run $r $w $cond $ph $t: FAILED: $why" >&2
					else
						times[$key]+="$el "
						echo "run $r $w $cond $ph $t: $el s" >&2
					fi
				done
			done
		done
		for t in "${tool_list[@]}"; do
			rm_tree "$TS_REMOTE/$t"
		done
	done
	rm -rf "$base" "$new" "$new.changed"
done
race_end=$(now)
stop_proxy

# --- tables ----------------------------------------------------------------------

median() { tr ' ' '\n' | grep -v '^$' | sort -g |
    awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2];
        else print (a[NR/2] + a[NR/2+1]) / 2}'; }
minmax() { tr ' ' '\n' | grep -v '^$' | sort -g |
    awk 'NR==1{m=$1} {x=$1} END {printf "%.2f-%.2f", m, x}'; }

cell() {	# median, min-max, ratio to rsync for one key
	local key=$1 rkey=$2 med rmed
	if [ "${status[$key]:-}" = TIMEOUT ]; then
		printf '| TIMEOUT >%s | | ' "$timeout_s"
		if [ -n "${times[$rkey]:-}" ]; then
			rmed=$(echo "${times[$rkey]}" | median)
			awk "BEGIN { printf \">%.1fx \", $timeout_s / $rmed }"
		fi
		return
	fi
	if [ -n "${status[$key]:-}" ] && [ -z "${times[$key]:-}" ]; then
		printf '| %s | | ' "${status[$key]}"
		return
	fi
	if [ -z "${times[$key]:-}" ]; then
		printf '| – | | '
		return
	fi
	med=$(echo "${times[$key]}" | median)
	printf '| %.2f%s | %s | ' "$med" \
	    "${status[$key]:+ (${status[$key]} once)}" \
	    "$(echo "${times[$key]}" | minmax)"
	if [ -n "${times[$rkey]:-}" ]; then
		rmed=$(echo "${times[$rkey]}" | median)
		awk "BEGIN { printf \"%.2fx \", $med / $rmed }"
	fi
}

jobs_note="treesync ${ts_jobs[*]:-(1 connection: no --jobs yet)}"
{
echo "Command: \`$cmdline\`  "
echo "Machine: $(nproc) cores (shared), $(date -u +%Y-%m-%d); all on 127.0.0.1,"
echo "aes128-ctr + hmac-sha2-256 for every tool; $jobs_note; $runs run(s) per cell;"
echo "the server's trees on $remote_fs;"
echo "race took $(awk "BEGIN { printf \"%.0f\", $race_end - $race_start }") s."
echo "Cells: median seconds, min-max, and × rsync (tool / rsync; below 1 = faster)."
for w in "${workload_list[@]}"; do
	for cond in "${condition_list[@]}"; do
		echo
		case $cond in
		lan) cn=loopback ;;
		wan) cn="loopback + $rtt ms RTT (latency_proxy.py)" ;;
		esac
		echo "### $w (${desc[$w]}), $cn"
		echo
		printf '| tool '
		for ph in "${phases[@]}"; do
			printf '| %s s | min-max | × rsync ' "${phase_name[$ph]}"
		done
		echo '|'
		printf '|---'
		for ph in "${phases[@]}"; do printf '|---:|---:|---:'; done
		echo '|'
		for t in "${tool_list[@]}"; do
			printf '| %s ' "$t"
			for ph in "${phases[@]}"; do
				cell "$w|$cond|$ph|$t" "$w|$cond|$ph|rsync"
			done
			echo '|'
		done
	done
done
} | tee "$TS_TMP/table.md"
if [ -n "${RACE_TABLE_OUT:-}" ]; then
	cp "$TS_TMP/table.md" "$RACE_TABLE_OUT"
fi
