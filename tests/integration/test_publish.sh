#!/usr/bin/env bash
# publish: releases under ROOT/releases, ROOT/current switched atomically.
# Two publishes then a rollback (the second hard-links what did not
# change, --list shows which is current); --keep 2 over five releases
# keeps the newest two and never counts nor keeps an unfinished upload;
# a reader of current/index.html during switches never fails nor sees a
# partial file; an upload cut by a fault proxy with its retries spent
# never switches; of two targets where one fails, neither switches, and a
# later run switches both; a hostile --release is refused (exit 2) before
# anything is contacted; a server that makes no symlinks is refused (exit
# 4) before anything is sent; a held lock refuses (exit 26).
set -euo pipefail
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

ts_sshd_start
FAULTPROXY=$TS_SOURCE_DIR/tests/integration/faultproxy.py
TMO=120				# no run may take longer: a hang fails
SITE=$TS_LOCAL/site
ROOT=$TS_REMOTE/www
T0=1700000000

tsd() {
	timeout -k 5 "$TMO" "$TREESYNC" -F "$TS_SSH_CONFIG" "$@"
}

# current_is NAME: ROOT/current is a symlink to releases/NAME.
current_is() {
	local got
	got=$(readlink "$ROOT/current") || ts_fail "ROOT/current is no symlink"
	[ "$got" = "releases/$1" ] ||
	    ts_fail "ROOT/current points to '$got', expected releases/$1"
}

# releases_are NAME...: ROOT/releases holds exactly these names.
releases_are() {
	local want
	want=$(printf '%s\n' "$@" | LC_ALL=C sort)
	(cd "$ROOT/releases" && LC_ALL=C ls -A) >"$TS_TMP/rels"
	ts_expect_lines "$TS_TMP/rels" "$want" "the names under ROOT/releases"
}

# page N: index.html of release N, 200 kB that differ from every other
# release's, so a partial or mixed read cannot pass for a whole one.
page() {
	python3 - "$SITE/index.html" "$1" <<'EOF'
import sys
n = sys.argv[2]
line = ("release %s " % n).ljust(99, "x") + "\n"
open(sys.argv[1], "w").write(line * 2000)
EOF
	touch -d "@$((T0 + $1))" "$SITE/index.html"
}

# --- two publishes, a rollback -------------------------------------------------

ts_step "v1: the first release; current points to it"
ts_gen_tree "$SITE"
page 1
ts_expect_exit 0 tsd publish --release v1 "$SITE" "tshost:$ROOT"
ts_expect_stdout_contains "current is v1: "
current_is v1
releases_are v1
ts_trees_equal "$SITE" "$ROOT/current"
ts_no_temp_files "$ROOT"
[ ! -e "$ROOT/.treesync-publish.lock" ] || ts_fail "the lock was left"

ts_step "v2 (--json): only index.html is sent, the rest hard-linked"
cp -a "$SITE" "$TS_TMP/site-v1"
page 2
ts_expect_exit 0 tsd publish --json --release v2 "$SITE" "tshost:$ROOT"
current_is v2
releases_are v1 v2
ts_trees_equal "$SITE" "$ROOT/current"
ts_trees_equal "$TS_TMP/site-v1" "$ROOT/releases/v1"
nfiles=$(find "$SITE" -type f -printf . | wc -c)
for kv in "release v2" "path $ROOT/releases/v2" "files_uploaded 1" \
    "files_linked $((nfiles - 1))" "bytes_sent 200000" "switched 1" \
    "exit_code 0" "hash sha256"; do
	got=$(ts_json_summary "$TS_OUT" "${kv%% *}")
	[ "$got" = "${kv#* }" ] ||
	    ts_fail "json summary: ${kv%% *} is $got, expected ${kv#* }"
done
grep -q '"type":"target".*"previous":"v1".*"switched":true' "$TS_OUT" ||
    ts_fail "json: no target line saying v1 was current before"
[ "$(stat -c %i "$ROOT/releases/v1/sub1/file-a.txt")" = \
    "$(stat -c %i "$ROOT/releases/v2/sub1/file-a.txt")" ] ||
    ts_fail "an unchanged file was not hard-linked from the current release"

ts_step "--list: both, v2 current"
ts_expect_exit 0 tsd publish --list "tshost:$ROOT"
grep -q -E '^  v1  [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC  [0-9]+ bytes' \
    "$TS_OUT" || { cat "$TS_OUT" >&2; ts_fail "--list: no line for v1"; }
grep -q -E '^\* v2  .*\(current\)$' "$TS_OUT" ||
    { cat "$TS_OUT" >&2; ts_fail "--list: v2 is not shown current"; }

ts_step "--rollback: current back to v1; again: nothing before v1 (exit 5)"
ts_expect_exit 0 tsd publish --rollback "tshost:$ROOT"
ts_expect_stdout_contains "current is v1 (was v2)"
current_is v1
ts_trees_equal "$TS_TMP/site-v1" "$ROOT/current"
ts_expect_exit 5 tsd publish --rollback "tshost:$ROOT"
ts_expect_stderr_contains "oldest release"
current_is v1

ts_step "v2 again, the same files: switched to, nothing sent"
ts_expect_exit 0 tsd publish --release v2 "$SITE" "tshost:$ROOT"
ts_expect_stdout_contains "current is v2 (was v1): 0 files uploaded"
current_is v2

ts_step "v1 again with other files: refused (exit 2), nothing changed"
ts_expect_exit 2 tsd publish --release v1 "$SITE" "tshost:$ROOT"
ts_expect_stderr_contains "exists already"
current_is v2
ts_trees_equal "$TS_TMP/site-v1" "$ROOT/releases/v1"

# --- hostile names, usage --------------------------------------------------------

ts_step "hostile --release names: exit 2, before connecting"
for bad in ../x x/y .hidden .. '' '-rf' 'a b' "$(printf 'a\nb')"; do
	ts_expect_exit 2 "$TREESYNC" -F /nonexistent-config publish \
	    --release "$bad" "$SITE" "tshost:$ROOT"
	ts_expect_stderr_contains "bad --release"
done
[ ! -e "$ROOT/x" ] && [ ! -e "$TS_REMOTE/x" ] || ts_fail "../x was made"
ts_expect_exit 2 tsd publish -n --release v9 "$SITE" "tshost:$ROOT"
ts_expect_exit 2 tsd publish --release v9 "tshost:$ROOT"
releases_are v1 v2

ts_step "--list and --rollback of a missing root: exit 5, nothing made"
ts_expect_exit 5 tsd publish --list "tshost:$TS_REMOTE/missing"
ts_expect_exit 5 tsd publish --rollback "tshost:$TS_REMOTE/missing"
[ ! -e "$TS_REMOTE/missing" ] || ts_fail "--list or --rollback made ROOT"

ts_step "a held lock: exit 26, nothing changed"
printf 'treesync publish lock\nhost: elsewhere\npid: 4242\nstarted: 2026-11-01 02:00:00 +0000 (%s)\nrelease: x\n' \
    "$(date +%s)" >"$ROOT/.treesync-publish.lock"
ts_expect_exit 26 tsd publish --release v9 "$SITE" "tshost:$ROOT"
ts_expect_stderr_contains "another publish is running (pid 4242 on \"elsewhere\""
rm "$ROOT/.treesync-publish.lock"
releases_are v1 v2

# --- a reader during switches --------------------------------------------------

ts_step "readers of current/index.html while current switches 46 times"
# One reader reads the whole file and checks it; a second only opens it,
# fast enough to land in the gap of a switch that would not be atomic.
cat >"$TS_TMP/reader.py" <<'EOF'
import os, sys
path, out, mode = sys.argv[1:]
good = {("release %d " % n).ljust(99, "x") + "\n" for n in range(1, 10)}
reads = bad = 0
stop = out + ".stop"
while not os.path.exists(stop):
    for _ in range(100):
        try:
            if mode == "open":
                os.close(os.open(path, os.O_RDONLY))
                reads += 1
                continue
            with open(path) as f:
                data = f.read()
        except OSError as e:
            bad += 1
            print("%s reader: %s" % (mode, e), file=sys.stderr)
            continue
        lines = set(data.splitlines(True))
        if len(data) != 200000 or len(lines) != 1 or not lines <= good:
            bad += 1
            print("bad read: %d bytes, %d distinct lines" % (len(data),
                  len(lines)), file=sys.stderr)
        reads += 1
open(out, "w").write("%d %d\n" % (reads, bad))
EOF
python3 "$TS_TMP/reader.py" "$ROOT/current/index.html" "$TS_TMP/rfull" full &
reader1=$!
python3 "$TS_TMP/reader.py" "$ROOT/current/index.html" "$TS_TMP/ropen" open &
reader2=$!
ts_cleanup_add "kill $reader1 $reader2"
for n in 3 4 5 6 7 8; do
	page "$n"
	ts_expect_exit 0 tsd publish --keep 3 --release "v$n" "$SITE" \
	    "tshost:$ROOT"
	current_is "v$n"
done
# Back and forth between v7 and v8: a switch each, nothing sent.
for ((i = 0; i < 20; i++)); do
	ts_expect_exit 0 tsd publish --rollback "tshost:$ROOT"
	current_is v7
	ts_expect_exit 0 tsd publish --keep 3 --release v8 "$SITE" "tshost:$ROOT"
	current_is v8
done
touch "$TS_TMP/rfull.stop" "$TS_TMP/ropen.stop"
wait "$reader1" || ts_fail "the reader failed"
wait "$reader2" || ts_fail "the opening reader failed"
for r in rfull ropen; do
	read -r reads bad <"$TS_TMP/$r"
	[ "$bad" -eq 0 ] || ts_fail "$r: $bad bad reads of $reads"
	[ "$reads" -gt 20 ] || ts_fail "$r: only $reads reads"
	echo "$r: $reads reads, none bad"
done

# --- --keep 2 over five releases ---------------------------------------------

ts_step "--keep 2 over five releases, an unfinished upload, a foreign file"
mkdir -p "$ROOT/releases/.r0.in-progress/sub"
echo partial >"$ROOT/releases/.r0.in-progress/sub/x"
echo 'not ours' >"$ROOT/releases/notes.txt"
for n in 1 2 3 4 5; do
	page "$((n + 10))"
	echo "$n" >"$SITE/n.txt"
	touch -d "@$((T0 + 100 + n))" "$SITE/n.txt"
	ts_expect_exit 0 tsd publish --keep 2 --release "r$n" "$SITE" \
	    "tshost:$ROOT"
done
ts_expect_stdout_contains "keep r4 (one of the newest 2)"
ts_expect_stdout_contains "keep r5 (one of the newest 2)"
ts_expect_stdout_contains "remove r3 (older than the newest 2)"
releases_are r4 r5 notes.txt
current_is r5
ts_trees_equal "$SITE" "$ROOT/current"
ts_step "--keep 1 after a rollback keeps current and the one before it"
ts_expect_exit 0 tsd publish --rollback "tshost:$ROOT"
current_is r4
page 16
ts_expect_exit 0 tsd publish --keep 1 --release r6 "$SITE" "tshost:$ROOT"
ts_expect_stdout_contains "keep r6 (one of the newest 1)"
ts_expect_stdout_contains "keep r5 (the one before current)"
ts_expect_stdout_contains "remove r4 (older than the newest 1)"
releases_are r5 r6 notes.txt

# --- a failed upload ----------------------------------------------------------

FP_PID=
fp_stop() {
	if [ -n "$FP_PID" ]; then
		kill "$FP_PID" 2>/dev/null || true
		wait "$FP_PID" 2>/dev/null || true
		FP_PID=
	fi
}
ts_cleanup_add 'fp_stop'

# fp_start [faultproxy options]: a proxy in front of the sshd, reached as
# host tsproxy in $FP_CONFIG (tests/integration/test_faults.sh does the
# same).
FP_CONFIG=$TS_TMP/proxy_ssh_config
fp_start() {
	local pf=$TS_TMP/proxy.port kh=$TS_TMP/proxy.known_hosts port i
	fp_stop
	rm -f "$pf"
	FP_LOG=$TS_TMP/proxy.log
	python3 "$FAULTPROXY" --target-port "$TS_PORT" --port-file "$pf" \
	    --log "$FP_LOG" --parent $$ --lifetime 300 "$@" \
	    </dev/null >/dev/null 2>"$TS_TMP/proxy.stderr" &
	FP_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -s "$pf" ] && break
		sleep 0.1
	done
	[ -s "$pf" ] || ts_fail "faultproxy.py did not start"
	port=$(cat "$pf")
	{
		cat "$TS_KNOWN_HOSTS"
		sed -n "s/^\[127\.0\.0\.1\]:$TS_PORT /[127.0.0.1]:$port /p" \
		    "$TS_KNOWN_HOSTS"
	} >"$kh"
	{
		sed -e "s#$TS_KNOWN_HOSTS#$kh#" "$TS_SSH_CONFIG"
		sed -e 's/^Host tshost$/Host tsproxy/' \
		    -e "s/^\([[:space:]]*Port\) $TS_PORT\$/\1 $port/" \
		    -e "s#$TS_KNOWN_HOSTS#$kh#" "$TS_SSH_CONFIG"
	} >"$FP_CONFIG"
}

tsp() {
	timeout -k 5 "$TMO" "$TREESYNC" -F "$FP_CONFIG" "$@"
}

ts_step "an upload cut on every try (retries spent): exit 23, no switch"
head -c 3000000 /dev/urandom >"$SITE/big.bin"
fp_start --cut-after 1500000
ts_expect_exit_in "8 23" tsp publish --retries 1 -j 1 --release r7 "$SITE" \
    "tsproxy:$ROOT"
grep -q ' cut conn=' "$FP_LOG" || ts_fail "the proxy cut nothing"
ts_expect_stderr_contains "the release was switched on no target"
current_is r6
releases_are r5 r6 .r7.in-progress notes.txt
[ ! -e "$ROOT/.treesync-publish.lock" ] ||
    ts_fail "the lock was left after the failed upload"
fp_stop

ts_step "the same release without the fault: finished and switched"
ts_expect_exit 0 tsd publish --keep 2 --release r7 "$SITE" "tshost:$ROOT"
current_is r7
releases_are r6 r7 notes.txt
ts_trees_equal "$SITE" "$ROOT/current"
ts_no_temp_files "$ROOT"

ts_step "a switch a lost connection stopped: the next run finishes it"
# What a run cut between the rename and the switch leaves: r7b complete,
# current still at r7.
page 19
ts_expect_exit 0 tsd publish --release r7b "$SITE" "tshost:$ROOT"
ln -sfn releases/r7 "$ROOT/current"
ts_expect_exit 0 tsd publish --keep 2 --release r7b "$SITE" "tshost:$ROOT"
ts_expect_stdout_contains "current is r7b (was r7): 0 files uploaded"
current_is r7b
ts_trees_equal "$SITE" "$ROOT/current"

# --- two targets, one fails --------------------------------------------------

ROOT2=$TS_REMOTE/mirror
ts_step "two targets, the second cut: neither switches"
mkdir -p "$ROOT2"
ts_expect_exit 0 tsd publish --release r7b "$SITE" "tshost:$ROOT2"
page 18
fp_start --cut-after 100000		# in index.html, the one file to send
ts_expect_exit_in "8 23" tsp publish --retries 1 -j 1 --release r8 "$SITE" \
    "tshost:$ROOT" "tsproxy:$ROOT2"
ts_expect_stderr_contains "tshost:$ROOT: not switched: another target failed"
ts_expect_stderr_contains "tsproxy:$ROOT2: not switched: "
ts_expect_stderr_contains "switched on no target"
current_is r7b
[ "$(readlink "$ROOT2/current")" = releases/r7b ] ||
    ts_fail "the second target switched"
[ ! -e "$ROOT/releases/r8" ] && [ ! -e "$ROOT2/releases/r8" ] ||
    ts_fail "r8 got a final name though nothing switched"
fp_stop

ts_step "the two again, no fault: both switch"
ts_expect_exit 0 tsd publish --json --release r8 "$SITE" "tshost:$ROOT" \
    "tshost:$ROOT2"
[ "$(ts_json_summary "$TS_OUT" switched)" = 2 ] ||
    ts_fail "json: not 2 targets switched"
current_is r8
[ "$(readlink "$ROOT2/current")" = releases/r8 ] ||
    ts_fail "the second target did not switch"
ts_trees_equal "$SITE" "$ROOT2/current"

ts_step "two targets, the second refused before any upload: nothing sent"
mkdir -p "$TS_REMOTE/bad/current"		# a directory, not our symlink
page 19
ts_expect_exit 4 tsd publish --release r9 "$SITE" "tshost:$ROOT" \
    "tshost:$TS_REMOTE/bad"
ts_expect_stderr_contains "tshost:$TS_REMOTE/bad: not switched: "
ts_expect_stderr_contains "is not a symlink"
current_is r8
[ -z "$(find "$ROOT/releases" -path '*r9*' -type f -print -quit)" ] ||
    ts_fail "files were sent to the first target"

ts_step "two targets, the second's switch fails: exit 27, then finished"
echo 'in the way' >"$ROOT2/releases/r9"	# the rename to r9 fails there
ts_expect_exit 27 tsd publish --release r9 "$SITE" "tshost:$ROOT" \
    "tshost:$ROOT2"
ts_expect_stderr_contains "tshost:$ROOT2: not switched: rename"
ts_expect_stderr_contains "switched on 1 of 2 targets only"
current_is r9
[ "$(readlink "$ROOT2/current")" = releases/r8 ] ||
    ts_fail "the second target switched"
rm "$ROOT2/releases/r9"
ts_expect_exit 0 tsd publish --release r9 "$SITE" "tshost:$ROOT" \
    "tshost:$ROOT2"
ts_expect_stdout_contains "tshost:$ROOT: current is r9 (it was already)"
ts_expect_stdout_contains "tshost:$ROOT2: current is r9 (was r8): 0 files"
[ "$(readlink "$ROOT2/current")" = releases/r9 ] ||
    ts_fail "the second target did not switch"
ts_trees_equal "$SITE" "$ROOT2/current"

ts_step "-c: a change that size and mtime cannot see is sent, not linked"
ts_flip_byte "$SITE/sub1/file-a.txt"
ts_expect_exit 0 tsd publish -c --release r10 "$SITE" "tshost:$ROOT"
current_is r10
ts_trees_equal "$SITE" "$ROOT/current"
[ "$(stat -c %i "$ROOT/releases/r9/sub1/file-a.txt")" != \
    "$(stat -c %i "$ROOT/releases/r10/sub1/file-a.txt")" ] ||
    ts_fail "-c: the changed file was hard-linked to the old release's"
[ "$(stat -c %i "$ROOT/releases/r9/top.txt")" = \
    "$(stat -c %i "$ROOT/releases/r10/top.txt")" ] ||
    ts_fail "-c: an unchanged file was not hard-linked"

# --- a server without symlinks -----------------------------------------------

ts_step "a server that makes no symlinks: exit 4 before any upload"
ts_sshd_start --extra "ForceCommand internal-sftp -P symlink"
ROOT3=$TS_REMOTE/nolinks
ts_expect_exit 4 tsd publish --release s1 "$SITE" "tshost:$ROOT3"
ts_expect_stderr_contains "cannot make symbolic links"
[ -z "$(find "$ROOT3" -mindepth 1 -not -name .treesync-publish.lock \
    -print -quit 2>/dev/null)" ] || ts_fail "something was sent: $(ls -A "$ROOT3")"
[ ! -e "$ROOT3/.treesync-publish.lock" ] || ts_fail "the lock was left"

echo "ok: publish"
