#!/bin/bash
# New directories of a push are built under a temporary name, their files
# written in place, and moved to their final names whole (src/lib/stage.h).
# OpenSSH's sftp-server runs with -l DEBUG3 -e behind a wrapper that keeps
# its log, which names every OPEN, MKDIR and RENAME.
set -eu
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

LOG=$TS_TMP/sftp-server.log
ts_sshd_start --subsystem "$(ts_logged_sftp_server "$LOG")"

log_lines() {
	touch "$LOG"
	wc -l <"$LOG"
}
# log_since N PATTERN: the log's lines after its first N that match.
log_since() {
	tail -n +"$(($1 + 1))" "$LOG" | grep -E "$2" || true
}

L=$TS_LOCAL/src
mkdir -p "$L/a/sub" "$L/b" "$L/empty"
for i in 1 2 3; do head -c $((i * 700)) /dev/urandom >"$L/a/f$i"; done
for i in 1 2; do head -c $((i * 300)) /dev/urandom >"$L/a/sub/s$i"; done
for i in 1 2; do head -c 100 /dev/urandom >"$L/b/g$i"; done
ln -s ../a/f1 "$L/b/link"
echo top >"$L/top.txt"
chmod 750 "$L/a/sub"
touch -d @1600000000 "$L/a/f1" "$L/a/sub" "$L/a" "$L/b"
R=$TS_REMOTE/dst

ts_step "a new tree: each new directory is one rename, its files none"
n0=$(log_lines)
ts_expect_exit 0 ts push -vv "$L" "tshost:$R"
ts_expect_stderr_contains '2 new directories built under a temporary name'
ts_expect_stderr_contains '"a": built, moved into place'
ts_trees_equal --dir-mtimes "$L" "$R"
ts_no_temp_files "$R"
renames=$(log_since "$n0" 'rename old')
# a/ and b/ move whole; top.txt (beside the root) has its own temporary
# name; empty/ has no file to gain from it and is made at its final name.
[ "$(echo "$renames" | grep -c .)" -eq 3 ] ||
    ts_fail "expected 3 renames, the server saw: $renames"
echo "$renames" | grep -q 'old ".*/dst/\.a\.treesync-tmp\.[^/"]*" new ".*/dst/a"' ||
    ts_fail "a/ was not renamed whole: $renames"
# Files inside were created at their own names, in the temporary one.
log_since "$n0" 'open ".*/\.a\.treesync-tmp\.[^/]*/sub/s1" flags WRITE,CREATE' |
    grep -q . || ts_fail "a/sub/s1 was not written in place"

ts_step "a second push sends nothing and renames nothing"
n0=$(log_lines)
ts_expect_exit 0 ts push --json "$L" "tshost:$R"
[ "$(ts_json_summary "$TS_OUT" files_uploaded)" = 0 ] ||
    ts_fail "the second push sent files"
[ -z "$(log_since "$n0" 'rename old')" ] || ts_fail "the second push renamed"

ts_step "a new directory appears only once all its files are in"
S=$TS_LOCAL/slow
mkdir -p "$S/batch"
for i in $(seq -w 1 12); do head -c 4000 /dev/urandom >"$S/batch/f$i"; done
RS=$TS_REMOTE/slow
mkdir -p "$RS"
ts push --bwlimit 16k "$S" "tshost:$RS" </dev/null >"$TS_TMP/slow.out" \
    2>"$TS_TMP/slow.err" &
pid=$!
ts_cleanup_add "kill $pid 2>/dev/null"
building=0
while kill -0 "$pid" 2>/dev/null; do
	if ls -a "$RS" | grep -q '^\.batch\.treesync-tmp\.'; then
		building=1
	fi
	# Seen at its final name: complete, never a file short.
	if [ -d "$RS/batch" ]; then
		n=$(find "$RS/batch" -type f -size 4000c | wc -l)
		[ "$n" -eq 12 ] || [ ! -d "$RS/batch" ] ||
		    ts_fail "batch/ visible with $n of 12 files complete"
	fi
	sleep 0.05
done
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || { cat "$TS_TMP/slow.err" >&2; ts_fail "slow push: exit $rc"; }
[ "$building" -eq 1 ] || ts_fail "batch/ was never seen under its temporary name"
ts_trees_equal "$S" "$RS"
ts_no_temp_files "$RS"

ts_step "more than 1,024 files: made at its final name, its subdirectories staged"
B=$TS_LOCAL/big
mkdir -p "$B/many/inner"
for i in $(seq 1 1030); do : >"$B/many/e$i"; done
echo x >"$B/many/inner/x"
ts_expect_exit 0 ts push -vv "$B" "tshost:$TS_REMOTE/big"
ts_expect_stderr_contains '"many/inner": built, moved into place'
ts_trees_equal "$B" "$TS_REMOTE/big"
ts_no_temp_files "$TS_REMOTE/big"

ts_step "a directory left by a run that ended goes whole; a live run's stays"
dead=".d.treesync-tmp.0000001zzzzzz00001-abcdef"
now36=$(python3 -c 'import time
d = "0123456789abcdefghijklmnopqrstuvwxyz"; n = int(time.time()); s = ""
while n: s = d[n % 36] + s; n //= 36
print(s.rjust(7, "0"))')
live=".l.treesync-tmp.${now36}zzzzzz00001-abcdef"
mkdir -p "$R/$dead/deep" "$R/$live"
echo half >"$R/$dead/deep/file"
echo half >"$R/$live/file"
ts_expect_exit 0 ts diff --json "$L" "tshost:$R"
[ "$(ts_json_summary "$TS_OUT" temps_removed)" = 1 ] ||
    ts_fail "diff does not say that the dead run's directory would go"
[ -s "$TS_OUT" ] && grep -q '"path":"\.[dl]\.treesync' "$TS_OUT" &&
    ts_fail "diff lists a run's directory as a change"
ts_expect_exit 0 ts push --delete --json "$L" "tshost:$R"
[ "$(ts_json_summary "$TS_OUT" temps_removed)" = 1 ] ||
    ts_fail "push did not remove the dead run's directory"
[ "$(ts_json_summary "$TS_OUT" files_deleted)" = 0 ] ||
    ts_fail "--delete deleted something"
[ ! -e "$R/$dead" ] || ts_fail "the dead run's directory is still there"
[ -f "$R/$live/file" ] || ts_fail "a live run's directory was touched"

ts_step "pull leaves out a push's directory in the making"
ts_expect_exit 0 ts pull "tshost:$R" "$TS_LOCAL/pulled"
[ ! -e "$TS_LOCAL/pulled/$live" ] || ts_fail "a live run's directory was pulled"
rm -rf "${R:?}/$live"
ts_trees_equal "$R" "$TS_LOCAL/pulled"
