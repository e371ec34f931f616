#!/usr/bin/env bash
# backup: stamped daily runs with --keep 3 into a root that also holds
# foreign entries.  Exactly the newest three complete snapshots remain,
# each byte-identical to the source of its day; files unchanged since the
# previous snapshot are hard links of it (same inode: the server is this
# machine); -c catches a change that size and mtime cannot see;
# --prune-dry-run removes nothing; a run whose verification fails (a
# server whose sha256sum lies) completes and prunes nothing; a second run
# during a running one refuses with exit 26, the run killed with -9
# leaves no final-named snapshot and a stale lock, which the next run
# reports and --break-lock clears, and that run removes the leftovers.
set -euo pipefail
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

ts_sshd_start
SRC=$TS_LOCAL/src		# the PATHs: SRC/data (a tree), SRC/db.dump
COPIES=$TS_LOCAL/copies		# each day's source, as it was backed up
ROOT=$TS_REMOTE/backups
LOCK=$ROOT/.treesync-backup.lock
mkdir -p "$SRC" "$COPIES" "$ROOT/notes" "$ROOT/2026-not-a-snapshot"
echo 'keep me' >"$ROOT/notes/readme"
echo 'me too' >"$ROOT/2026-not-a-snapshot/x"
echo 'a file with a snapshot name' >"$ROOT/20261031"
# A leftover of a run that crashed before the first day: removed by the
# first rotation (it is older than the snapshot made then).
mkdir -p "$ROOT/.20261030-020000.in-progress/data"
echo partial >"$ROOT/.20261030-020000.in-progress/data/x"

ts_gen_tree "$SRC/data"
mkdir "$SRC/data/ro"
echo 'in a read-only directory' >"$SRC/data/ro/f"
chmod 555 "$SRC/data/ro"
head -c 200000 /dev/urandom >"$SRC/db.dump"
touch -d @1700000000 "$SRC/db.dump"

# The names under ROOT, one a line, sorted ("ls -A").
root_names() {
	(cd "$ROOT" && LC_ALL=C ls -A)
}

# expect_root NAME...: ROOT holds exactly the foreign entries and NAMEs.
expect_root() {
	local want
	want=$(printf '%s\n' 2026-not-a-snapshot 20261031 notes "$@" |
	    LC_ALL=C sort)
	root_names >"$TS_TMP/root"
	ts_expect_lines "$TS_TMP/root" "$want" "the names under ROOT"
	[ "$(cat "$ROOT/notes/readme")" = 'keep me' ] ||
	    ts_fail "notes/readme changed"
	[ "$(cat "$ROOT/2026-not-a-snapshot/x")" = 'me too' ] ||
	    ts_fail "2026-not-a-snapshot/x changed"
	[ -f "$ROOT/20261031" ] || ts_fail "the file 20261031 is gone"
}

# same_as_source SNAPSHOT DAY: the snapshot is that day's source.
same_as_source() {
	ts_trees_equal "$COPIES/$2/data" "$ROOT/$1/data"
	ts_files_equal "$COPIES/$2/db.dump" "$ROOT/$1/db.dump"
	ts_no_temp_files "$ROOT/$1"
}

# check_links PREV_SNAP PREV_DAY SNAP DAY: every file of SNAP unchanged
# since PREV_DAY's source (same size, mtime, mode and bytes) shares its
# inode with PREV_SNAP's copy, and every other file does not.  Prints the
# numbers of linked and of sent files.
check_links() {
	python3 - "$ROOT/$1" "$COPIES/$2" "$ROOT/$3" "$COPIES/$4" <<'EOF'
import filecmp, os, stat, sys
prev_snap, prev_src, snap, src = sys.argv[1:]
linked = sent = 0
bad = []
for top, dirs, files in os.walk(src):
    for name in files:
        rel = os.path.relpath(os.path.join(top, name), src)
        s = os.lstat(os.path.join(src, rel))
        if not stat.S_ISREG(s.st_mode):
            continue
        cur = os.lstat(os.path.join(snap, rel))
        try:
            p = os.lstat(os.path.join(prev_src, rel))
            same = (p.st_size == s.st_size and
                    p.st_mtime_ns // 10**9 == s.st_mtime_ns // 10**9 and
                    p.st_mode == s.st_mode and
                    filecmp.cmp(os.path.join(prev_src, rel),
                                os.path.join(src, rel), shallow=False))
            old = os.lstat(os.path.join(prev_snap, rel)).st_ino
        except FileNotFoundError:
            same, old = False, None
        if same != (cur.st_ino == old):
            bad.append("%r: %s, inode %d (previous %s)" % (rel,
                "unchanged" if same else "changed", cur.st_ino, old))
        if same:
            linked += 1
        else:
            sent += 1
for b in bad:
    print("  " + b, file=sys.stderr)
print(linked, sent)
sys.exit(1 if bad else 0)
EOF
}

# backup_day DAY [OPTIONS...]: backs up SRC/data and SRC/db.dump stamped
# at 02:00 on 2026-11-DAY with --keep 3, keeps a copy of the source.
backup_day() {
	local day=$1
	shift
	rm -rf "$COPIES/day$day"
	cp -a "$SRC" "$COPIES/day$day"
	ts_expect_exit 0 ts backup --keep 3 --stamp "202611$day-020000" "$@" \
	    "$SRC/data" "$SRC/db.dump" "tshost:$ROOT"
}

# --- five days, --keep 3 ---------------------------------------------------

ts_step "day 01: the first snapshot; an older leftover is removed"
backup_day 01
ts_expect_stdout_contains "snapshot 20261101 complete: "
ts_expect_stdout_contains "keep 20261101 (one of the newest 3)"
ts_expect_stdout_contains \
    "remove .20261030-020000.in-progress (unfinished run, older than"
expect_root 20261101
same_as_source 20261101 day01
[ "$(stat -c %a "$ROOT/20261101/data/ro")" = 555 ] ||
    ts_fail "data/ro lost its mode 555"

ts_step "day 02: a change, a new file, a removal, a new db.dump"
printf 'more\n' >>"$SRC/data/top.txt"
echo new >"$SRC/data/new-2.txt"
rm "$SRC/data/sub1/file-b.txt"
head -c 200000 /dev/urandom >"$SRC/db.dump"
backup_day 02 -i
ts_expect_stdout_contains "hf+++++++++ data/sub1/sub2/sub3/deep.txt"
ts_expect_stdout_contains ">f+++++++++ data/top.txt"
ts_expect_stdout_contains ">f+++++++++ db.dump"
expect_root 20261101 20261102
same_as_source 20261102 day02
check_links 20261101 day01 20261102 day02 >"$TS_TMP/n" ||
    ts_fail "day 02: hard links do not follow the changes (above)"
read -r linked sent <"$TS_TMP/n"
[ "$linked" -gt 20 ] && [ "$sent" -eq 3 ] ||
    ts_fail "day 02: $linked files linked, $sent sent (expected 3 sent)"
ts_expect_stdout_contains "snapshot 20261102 complete: "
ts_expect_stdout_contains "($linked hard-linked)"

ts_step "day 03: a changed mode and content, a new file in a new place"
printf 'x' >>"$SRC/data/sub1/sub2/tool"
chmod 600 "$SRC/data/run.sh"
echo three >"$SRC/data/日本/new-3.txt"
backup_day 03
expect_root 20261101 20261102 20261103
same_as_source 20261103 day03
check_links 20261102 day02 20261103 day03 >/dev/null ||
    ts_fail "day 03: hard links do not follow the changes (above)"

ts_step "day 04 (-c): a change only a hash sees is sent, not linked"
ts_flip_byte "$SRC/data/sub1/file-a.txt"
backup_day 04 -c
ts_expect_stdout_contains "remove 20261101 (older than the newest 3)"
expect_root 20261102 20261103 20261104
same_as_source 20261104 day04
ino_old=$(stat -c %i "$ROOT/20261103/data/sub1/file-a.txt")
ino_new=$(stat -c %i "$ROOT/20261104/data/sub1/file-a.txt")
[ "$ino_old" != "$ino_new" ] ||
    ts_fail "-c: the flipped file was hard-linked to yesterday's copy"
check_links 20261103 day03 20261104 day04 >/dev/null ||
    ts_fail "day 04: hard links do not follow the changes (above)"
[ "$(stat -c %i "$ROOT/20261103/db.dump")" = \
    "$(stat -c %i "$ROOT/20261104/db.dump")" ] ||
    ts_fail "an unchanged single-file PATH was not hard-linked"

ts_step "day 05 (--json): an mtime change, a removed directory"
touch -d @1600000123 "$SRC/data/empty.txt"
rm -r "$SRC/data/empty-dir"
mkdir "$SRC/data/new-5" && echo five >"$SRC/data/new-5/x"
backup_day 05 --json
ts_json_summary "$TS_OUT" snapshot >"$TS_TMP/v"
[ "$(cat "$TS_TMP/v")" = 20261105 ] || ts_fail "json: snapshot is not 20261105"
for kv in "complete true" "link_from 20261104" "kept 3" "removed 1" \
    "exit_code 0" "errors 0" "hash sha256"; do
	got=$(ts_json_summary "$TS_OUT" "${kv% *}")
	[ "$got" = "${kv#* }" ] ||
	    ts_fail "json summary: ${kv% *} is $got, expected ${kv#* }"
done
grep '"type":"prune"' "$TS_OUT" >"$TS_TMP/prune"
ts_expect_lines "$TS_TMP/prune" \
'{"type":"prune","name":"20261102","action":"remove","reason":"expired"}
{"type":"prune","name":"20261103","action":"keep","reason":"newest"}
{"type":"prune","name":"20261104","action":"keep","reason":"newest"}
{"type":"prune","name":"20261105","action":"keep","reason":"newest"}' \
    "prune lines of --json"
ts_json_items "$TS_OUT" hardlink >"$TS_TMP/items"
grep -q -x -F $'hardlink\tnew\tdata/sub1/sub2/sub3/deep.txt' "$TS_TMP/items" ||
    ts_fail "json: no hardlink item for deep.txt"

ts_step "after five days: exactly the newest three, each as its day"
expect_root 20261103 20261104 20261105
same_as_source 20261103 day03
same_as_source 20261104 day04
same_as_source 20261105 day05
check_links 20261104 day04 20261105 day05 >/dev/null ||
    ts_fail "day 05: hard links do not follow the changes (above)"
[ ! -e "$LOCK" ] || ts_fail "the lock was left behind"

# --- --prune-dry-run ---------------------------------------------------------

ts_step "day 06 --keep 1 --prune-dry-run: lists, removes nothing"
rm -rf "$COPIES/day06" && cp -a "$SRC" "$COPIES/day06"
ts_expect_exit 0 ts backup --keep 1 --prune-dry-run --stamp 20261106-020000 \
    "$SRC/data" "$SRC/db.dump" "tshost:$ROOT"
grep -v '^snapshot ' "$TS_OUT" >"$TS_TMP/decisions"
ts_expect_lines "$TS_TMP/decisions" \
"would remove 20261103 (older than the newest 1)
would remove 20261104 (older than the newest 1)
would remove 20261105 (older than the newest 1)
keep 20261106 (one of the newest 1)" "--prune-dry-run output"
# Nothing changed since day 05: every file linked (symlinks are made).
nsrc=$(find "$SRC" \( -type f -o -type l \) -printf . | wc -c)
nfiles=$(find "$SRC" -type f -printf . | wc -c)
ts_expect_stdout_contains "snapshot 20261106 complete: $nsrc files ($nfiles \
hard-linked), 0 bytes sent"
expect_root 20261103 20261104 20261105 20261106
same_as_source 20261106 day06

# --- a run whose verification fails -----------------------------------------

ts_step "day 07, a server whose sha256sum lies: exit 23, nothing pruned"
FAKE=$TS_TMP/fakebin
mkdir -p "$FAKE"
cat >"$FAKE/sha256sum" <<'EOF'
#!/bin/sh
# The real hashes with the first hex digit changed.
/usr/bin/sha256sum "$@" | sed -z -e 's/^0/@/' -e 's/^[1-9a-f]/0/' -e 's/^@/1/'
EOF
cat >"$FAKE/wrap" <<EOF
#!/bin/sh
# ForceCommand: every command (and the sftp-server) with the lying
# sha256sum first in PATH.
PATH=$FAKE:\$PATH
export PATH
exec /bin/sh -c "\$SSH_ORIGINAL_COMMAND"
EOF
chmod 755 "$FAKE/sha256sum" "$FAKE/wrap"
ts_sshd_start --subsystem openssh --extra "ForceCommand $FAKE/wrap"
printf 'seven\n' >>"$SRC/data/top.txt"
ts_expect_exit 23 ts backup --keep 1 --stamp 20261107-020000 \
    "$SRC/data" "$SRC/db.dump" "tshost:$ROOT"
ts_expect_stderr_contains "SHA-256 on the server differs"
ts_expect_stderr_contains "nothing was pruned"
if grep -q -E '^(keep|remove|would remove) ' "$TS_OUT"; then
	cat "$TS_OUT" >&2
	ts_fail "a failed run printed rotation decisions"
fi
expect_root 20261103 20261104 20261105 20261106 .20261107-020000.in-progress
ts_no_temp_files "$ROOT/.20261107-020000.in-progress"

# --- a run killed in the middle; a second run during it --------------------

ts_step "day 08: a second run while one runs refuses with exit 26"
ts_sshd_start
python3 - "$SRC/data/big" <<'EOF'
import os, random, sys
rnd = random.Random(8)
for d in range(20):
    os.makedirs("%s/d%02d" % (sys.argv[1], d))
    for f in range(150):
        with open("%s/d%02d/f%03d" % (sys.argv[1], d, f), "wb") as fh:
            fh.write(rnd.randbytes(4096))
EOF
(exec "$TREESYNC" -F "$TS_SSH_CONFIG" backup --keep 3 \
    --stamp 20261108-020000 "$SRC/data" "$SRC/db.dump" "tshost:$ROOT") \
    </dev/null >"$TS_TMP/bg.out" 2>"$TS_TMP/bg.err" &
bg=$!
ts_cleanup_add "kill -9 $bg"
IP8=$ROOT/.20261108-020000.in-progress
for ((i = 0; i < 400; i++)); do
	if [ -e "$LOCK" ] && [ -d "$IP8/data/big" ] &&
	    [ -n "$(find "$IP8/data/big" -type f -print -quit)" ]; then
		break
	fi
	kill -0 "$bg" 2>/dev/null ||
	    ts_fail "the big run ended before it could be interrupted"
	sleep 0.05
done
[ -e "$LOCK" ] || ts_fail "no lock while a backup runs"
ts_expect_exit 26 ts backup --keep 3 --stamp 20261108-030000 \
    "$SRC/data" "tshost:$ROOT"
ts_expect_stderr_contains "another backup is running (pid $bg on"
ts_expect_stderr_contains "$LOCK"
ts_expect_stderr_contains "--break-lock"
[ -e "$LOCK" ] || ts_fail "the refused run removed the other run's lock"

ts_step "day 08: the run killed with -9 leaves no final-named snapshot"
kill -0 "$bg" 2>/dev/null ||
    ts_fail "the big run ended before it could be killed"
kill -9 "$bg"
wait "$bg" 2>/dev/null || true
expect_root 20261103 20261104 20261105 20261106 \
    .20261107-020000.in-progress .20261108-020000.in-progress \
    .treesync-backup.lock

ts_step "day 08: its lock is reported (exit 26), --break-lock clears it"
ts_expect_exit 26 ts backup --keep 3 --stamp 20261108-030000 \
    "$SRC/data" "$SRC/db.dump" "tshost:$ROOT"
ts_expect_stderr_contains "(pid $bg on"
rm -rf "$COPIES/day08" && cp -a "$SRC" "$COPIES/day08"
ts_expect_exit 0 ts backup --keep 3 --break-lock --stamp 20261108-030000 \
    "$SRC/data" "$SRC/db.dump" "tshost:$ROOT"
ts_expect_stderr_contains "breaking the lock"
ts_expect_stdout_contains "snapshot 20261108 complete: "
ts_expect_stdout_contains "remove .20261107-020000.in-progress (unfinished"
ts_expect_stdout_contains "remove .20261108-020000.in-progress (unfinished"
ts_expect_stdout_contains "remove 20261104 (older than the newest 3)"
expect_root 20261105 20261106 20261108
same_as_source 20261108 day08
same_as_source 20261106 day06
same_as_source 20261105 day05
check_links 20261106 day06 20261108 day08 >/dev/null ||
    ts_fail "day 08: hard links do not follow the changes (above)"

ts_step "usage errors: a bad stamp, --keep 0, -n, no PATH"
ts_expect_exit 2 ts backup --stamp 20261131-020000 "$SRC/data" "tshost:$ROOT"
ts_expect_stderr_contains "bad stamp"
ts_expect_exit 2 ts backup --keep 0 "$SRC/data" "tshost:$ROOT"
ts_expect_exit 2 ts backup -n "$SRC/data" "tshost:$ROOT"
ts_expect_exit 2 ts backup "tshost:$ROOT"
ts_expect_exit 2 ts backup "$SRC/data" "$COPIES/day01/data" "tshost:$ROOT"
ts_expect_stderr_contains "would both be \"data\""
expect_root 20261105 20261106 20261108

echo "ok: backup"
