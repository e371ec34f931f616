#!/usr/bin/env bash
# Safety under a hostile or careless local user, against a real sshd:
# no file from outside the tree ever reaches the server, however the tree
# changes during a run; only treesync's own temporary files of runs that
# ended are ever swept; two runs into one tree both succeed; a FIFO never
# blocks; 255-byte names work; --delete never empties a server by mistake.
set -euo pipefail
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

ts_sshd_start
R=$TS_REMOTE
L=$TS_LOCAL
TMO=60				# no run may take longer: a hang fails

# tsd ARGS: treesync under a time limit (a hang is exit 124).
tsd() {
	timeout -k 5 "$TMO" "$TREESYNC" -F "$TS_SSH_CONFIG" "$@"
}

# TS_SAFETY_ONLY="1 4": only those sections (to see one fail on an old
# build); all by default.
on() {
	[ -z "${TS_SAFETY_ONLY:-}" ] || [[ " $TS_SAFETY_ONLY " == *" $1 "* ]]
}

# Helpers started in the background, stopped at exit whatever happens.
_bg=()
ts_cleanup_add 'for p in "${_bg[@]}"; do kill "$p" 2>/dev/null; done'

# no_temps DIR: no file of treesync's temporary form under DIR.
no_temps() {
	local found
	found=$(find "$1" -regextype posix-extended \
	    -regex '.*/\..*\.treesync-(tmp|old)\.[0-9a-z]{18}-[0-9a-z]{6}' \
	    -print)
	[ -z "$found" ] || ts_fail "temporary files left in '$1': $found"
}

# --- 1. a directory swapped for a symlink during the run ---------------------
if on 1; then

ts_step "a directory swapped for a symlink out of the tree: nothing outside leaves"
# A directory only root may read, holding files of the same names.
secret=$TS_TMP/secret
mkdir -m 700 "$secret"
src=$L/race
mkdir -p "$src/d"
for i in $(seq -w 0 199); do
	echo "public $i" >"$src/d/f$i"
	echo "SECRET-$i" >"$secret/f$i"
	chmod 600 "$secret/f$i"
done
# The file the big-file ranges read (over 16 MiB: split over connections).
head -c $((17 << 20)) /dev/zero >"$src/d/big"
{ printf 'SECRET-BIG'; head -c $((17 << 20)) /dev/zero; } |
    head -c $((17 << 20)) >"$secret/big"
# The swapper stops at the end of a cycle, the tree as it was, once told.
stop=$TS_TMP/stop-swapping
(
	cd "$src"
	while [ ! -e "$stop" ]; do
		mv d d.real && ln -s "$secret" d
		sleep 0.002
		rm d && mv d.real d
		sleep 0.002
	done
) &
_bg+=($!)
swapper=$!
for run in $(seq 1 20); do
	rm -rf "$R/race"
	tsd push -q -j 4 "$src" "tshost:$R/race" </dev/null >/dev/null \
	    2>"$TS_TMP/race.err" && rc=0 || rc=$?
	[ "$rc" -ne 124 ] || ts_fail "run $run hung"
	if grep -r -l -a 'SECRET' "$R/race" >/dev/null 2>&1; then
		ts_fail "run $run (exit $rc): a file from outside the tree" \
		    "reached the server: $(grep -r -l -a SECRET "$R/race")"
	fi
done
touch "$stop"
wait "$swapper" || ts_fail "the swapper failed"
rm "$stop"
[ -d "$src/d" ] && [ ! -L "$src/d" ] || ts_fail "the swapper left no d/"
echo "   20 runs, no secret on the server"

ts_step "check and backup do not read through a swapped directory either"
rm -rf "$R/race2"
ts_expect_exit 0 tsd push "$src" "tshost:$R/race2"
mv "$src/d" "$src/d.real"
ln -s "$secret" "$src/d"
# The walk now sees a symlink: check compares it as one, reading nothing.
ts_expect_exit 24 tsd check "$src" "tshost:$R/race2"
rm "$src/d"
mv "$src/d.real" "$src/d"
fi

# --- 2. look-alike temporary names --------------------------------------------
if on 2; then

ts_step "a user's files that look like temporary files are synced like any other"
src=$L/alike
mkdir -p "$src"
printf 'mine\n' >"$src/.y.treesync-tmp.z"
printf 'mine too\n' >"$src/.x.treesync-old.12345678"
# Even the exact form, present on both sides, is a user's file.
printf 'exact\n' >"$src/.k.treesync-tmp.0000001zzzzzz00001-abcdef"
ts_expect_exit 0 tsd push --json "$src" "tshost:$R/alike"
ts_trees_equal "$src" "$R/alike"
ts_expect_exit 0 tsd check "$src" "tshost:$R/alike"
ts_expect_stderr_contains "all 3 files match"
# Nothing is deleted or sent again by the next push.
ts_expect_exit 0 tsd push --json "$src" "tshost:$R/alike"
[ "$(ts_json_summary "$TS_OUT" files_deleted)" = 0 ] ||
    ts_fail "a second push deleted something"
[ "$(ts_json_summary "$TS_OUT" files_uploaded)" = 0 ] ||
    ts_fail "a second push sent something again"
ts_trees_equal "$src" "$R/alike"

ts_step "server files that look like temporary files are kept without --delete"
printf 'theirs\n' >"$R/alike/.r.treesync-tmp.abcdefgh"
printf 'theirs\n' >"$R/alike/.r.treesync-old.abcdefgh"
# A temporary file of a run still going (another machine, started now).
now36=$(python3 -c 'import time
d = "0123456789abcdefghijklmnopqrstuvwxyz"; n = int(time.time()); s = ""
while n: s = d[n % 36] + s; n //= 36
print(s.rjust(7, "0"))')
live=".l.treesync-tmp.${now36}zzzzzz00001-abcdef"
printf 'live\n' >"$R/alike/$live"
# One of a run that ended long ago: the only file a push may remove.
dead=".d.treesync-tmp.0000001zzzzzz00001-abcdef"
printf 'dead\n' >"$R/alike/$dead"
ts_expect_exit 0 tsd diff --json "$src" "tshost:$R/alike"
[ "$(ts_json_summary "$TS_OUT" temps_removed)" = 1 ] ||
    ts_fail "diff does not say that one temporary file would go"
[ -f "$R/alike/$dead" ] || ts_fail "diff removed a file"
ts_expect_exit 0 tsd push --json "$src" "tshost:$R/alike"
[ "$(ts_json_summary "$TS_OUT" temps_removed)" = 1 ] ||
    ts_fail "push did not report the one temporary file it removed"
ts_expect_stderr_contains "removed 1 temporary file"
[ ! -e "$R/alike/$dead" ] || ts_fail "the dead run's file is still there"
for f in .r.treesync-tmp.abcdefgh .r.treesync-old.abcdefgh "$live"; do
	[ -f "$R/alike/$f" ] || ts_fail "push removed '$f' without --delete"
done
# With --delete the user's look-alikes go as extra files, counted as such;
# the live run's file stays.
ts_expect_exit 0 tsd push --delete --json "$src" "tshost:$R/alike"
[ "$(ts_json_summary "$TS_OUT" files_deleted)" = 2 ] ||
    ts_fail "--delete did not count the two extra files"
[ -f "$R/alike/$live" ] || ts_fail "--delete removed a live run's file"

ts_step "pull: a killed pull's leftovers go, a live push's files are not pulled"
mkdir -p "$L/alike.pull"
printf 'half\n' >"$L/alike.pull/$dead"
# A file of the exact form on both sides is a user's: brought up to date.
# (One the local side lacks is left out: a push may be writing it.)
printf 'old\n' >"$L/alike.pull/.k.treesync-tmp.0000001zzzzzz00001-abcdef"
ts_expect_exit 0 tsd pull --json "tshost:$R/alike" "$L/alike.pull"
[ "$(ts_json_summary "$TS_OUT" temps_removed)" = 1 ] ||
    ts_fail "pull did not remove the killed pull's file"
[ ! -e "$L/alike.pull/$dead" ] || ts_fail "the killed pull's file is there"
[ ! -e "$L/alike.pull/$live" ] || ts_fail "a live run's file was pulled"
rm "$R/alike/$live"
ts_trees_equal "$R/alike" "$L/alike.pull"
fi

# --- 3. two pushes at once ----------------------------------------------------
if on 3; then

ts_step "two pushes into the same new tree at once both succeed and converge"
src=$L/twice
for d in $(seq -w 0 19); do
	mkdir -p "$src/d$d/sub"
	for f in $(seq -w 0 39); do
		echo "$d $f" >"$src/d$d/f$f"
	done
done
for round in 1 2 3; do
	rm -rf "$R/twice"
	tsd push -j 2 "$src" "tshost:$R/twice" </dev/null \
	    >"$TS_TMP/a.out" 2>"$TS_TMP/a.err" &
	a=$!
	tsd push -j 2 "$src" "tshost:$R/twice" </dev/null \
	    >"$TS_TMP/b.out" 2>"$TS_TMP/b.err" &
	b=$!
	ra=0 rb=0
	wait "$a" || ra=$?
	wait "$b" || rb=$?
	if [ "$ra" -ne 0 ] || [ "$rb" -ne 0 ]; then
		cat "$TS_TMP/a.err" "$TS_TMP/b.err" >&2
		ts_fail "round $round: exit codes $ra and $rb, expected 0 and 0"
	fi
	ts_trees_equal "$src" "$R/twice"
	no_temps "$R/twice"
done
fi

# --- 4. FIFOs -----------------------------------------------------------------
if on 4; then

ts_step "put of a FIFO is refused at once"
mkfifo "$L/pipe"
ts_expect_exit 3 tsd put "$L/pipe" "tshost:$R/pipe"
ts_expect_stderr_contains "is a fifo, not a regular file"
[ ! -e "$R/pipe" ] || ts_fail "something was created for the FIFO"

ts_step "files swapped for FIFOs during pushes: every run ends"
stop=$TS_TMP/stop-swapping
src=$L/fifo
mkdir -p "$src"
for i in $(seq -w 0 99); do echo "$i" >"$src/f$i"; done
(
	cd "$src"
	while [ ! -e "$stop" ]; do
		for i in 10 50 90; do rm -f "f$i"; mkfifo "f$i"; done
		sleep 0.003
		for i in 10 50 90; do rm -f "f$i"; echo "$i" >"f$i"; done
		sleep 0.003
	done
) &
_bg+=($!)
swapper=$!
for run in $(seq 1 15); do
	rm -rf "$R/fifo"
	tsd push -q "$src" "tshost:$R/fifo" </dev/null >/dev/null 2>&1 &&
	    rc=0 || rc=$?
	[ "$rc" -ne 124 ] || ts_fail "run $run hung on a FIFO"
done
touch "$stop"
wait "$swapper" || ts_fail "the FIFO swapper failed"
rm "$stop"
fi

# --- 5. names of 255 bytes ----------------------------------------------------
if on 5; then

ts_step "255-byte names through push, pull, put and get"
src=$L/long
mkdir -p "$src"
n255=$(printf 'a%.0s' $(seq 1 255))
u255=$(python3 -c 'print("é" * 127 + "x")')	# 255 bytes of UTF-8
printf 'plain\n' >"$src/$n255"
printf 'utf-8\n' >"$src/$u255"
ts_expect_exit 0 tsd push "$src" "tshost:$R/long"
ts_trees_equal "$src" "$R/long"
printf 'changed, longer\n' >"$src/$n255"	# a replace: a temp beside it
ts_expect_exit 0 tsd push "$src" "tshost:$R/long"
ts_trees_equal "$src" "$R/long"
ts_expect_exit 0 tsd pull "tshost:$R/long" "$L/long.back"
ts_trees_equal "$src" "$L/long.back"
mkdir -p "$R/long.put"
ts_expect_exit 0 tsd put "$src/$n255" "tshost:$R/long.put/$n255"
ts_files_equal "$src/$n255" "$R/long.put/$n255"
ts_expect_exit 0 tsd put "$src/$u255" "tshost:$R/long.put/"
ts_files_equal "$src/$u255" "$R/long.put/$u255"
ts_expect_exit 0 tsd get "tshost:$R/long/$u255" "$L/long.get"
ts_files_equal "$src/$u255" "$L/long.get"
no_temps "$R/long"
no_temps "$R/long.put"
no_temps "$L/long.back"
fi

# --- 6. --delete accidents ----------------------------------------------------
if on 6; then

ts_step "--delete from an empty source directory is refused"
src=$L/full
mkdir -p "$src/a" "$L/empty"
for i in $(seq -w 0 29); do echo "$i" >"$src/a/f$i"; done
ts_expect_exit 0 tsd push "$src" "tshost:$R/full"
ts_expect_exit 25 tsd push --delete "$L/empty" "tshost:$R/full"
ts_expect_stderr_contains "is empty"
ts_expect_stderr_contains "--max-delete 31"
ts_trees_equal "$src" "$R/full"
mkdir -p "$R/emptyremote"
ts_expect_exit 25 tsd pull --delete "tshost:$R/emptyremote" "$src"
ts_trees_equal "$src" "$R/full"
# Asked in so many words, it is done.
ts_expect_exit 0 tsd push --delete --max-delete 31 "$L/empty" \
    "tshost:$R/full"
[ -z "$(ls -A "$R/full")" ] || ts_fail "--max-delete 31 did not empty it"

ts_step "--delete into the login directory or / is refused"
ts_expect_exit 25 tsd push --delete "$src" "tshost:"
ts_expect_stderr_contains "the login directory"
ts_expect_exit 25 tsd push --delete "$src" "tshost:/"
ts_expect_stderr_contains "its root directory"

ts_step "a push into the login directory leaves its mode and mtime alone"
home=$(ts_ssh 'cd && pwd')
mkdir -p "$L/tohome"
mark=treesync-safety-$$-$RANDOM
echo x >"$L/tohome/$mark"
chmod 700 "$L/tohome"
touch -d '@1000000000' "$L/tohome"
ts_cleanup_add "rm -f '$home/$mark'"
before=$(stat -c '%a' "$home")
ts_expect_exit 0 tsd push "$L/tohome" "tshost:"
[ -f "$home/$mark" ] || ts_fail "the file did not reach the login directory"
rm -f "$home/$mark"
[ "$(stat -c '%a' "$home")" = "$before" ] ||
    ts_fail "the login directory's mode became $(stat -c '%a' "$home")"
[ "$(stat -c '%Y' "$home")" != 1000000000 ] ||
    ts_fail "the login directory got the source's mtime"

ts_step "a source removed during push --delete deletes nothing on the server"
# Deterministic: the run is seen to be sending a big file (its temporary
# name shows on the server) when the whole source goes; the deletes it
# planned (extra files on the server) come after the files and must not
# happen.  A second round removes the tree while the walk may still run.
src=$L/vanish
rm -rf "$src" "$R/vanish"
for d in $(seq -w 0 9); do
	mkdir -p "$src/d$d"
	for f in $(seq -w 0 19); do echo "$d$f" >"$src/d$d/f$f"; done
done
head -c $((96 << 20)) /dev/zero >"$src/big"
ts_expect_exit 0 tsd push "$src" "tshost:$R/vanish"
for i in $(seq 1 50); do echo x >"$R/vanish/extra$i"; done
echo y >>"$src/big"			# to be sent again
want=$(find "$R/vanish" | wc -l)
# -W: sent whole, so the upload lasts (a delta would be over at once).
tsd push -j 1 -W --no-partial --delete "$src" "tshost:$R/vanish" \
    </dev/null >/dev/null 2>"$TS_TMP/vanish.err" &
pushpid=$!
seen=
for i in $(seq 1 3000); do
	ls -a "$R/vanish" | grep -q '^\.big\.treesync-tmp\.' && { seen=1; break; }
	kill -0 "$pushpid" 2>/dev/null || break
	sleep 0.01
done
rm -rf "$src"
[ -n "$seen" ] || ts_fail "the push ended before its upload was seen"
rc=0
wait "$pushpid" || rc=$?
got=$(find "$R/vanish" -name 'extra*' | wc -l)
if [ "$got" -ne 50 ]; then
	cat "$TS_TMP/vanish.err" >&2
	ts_fail "exit $rc: $((50 - got)) extra files deleted on the server" \
	    "after the source was removed"
fi
[ "$rc" -eq 23 ] || { cat "$TS_TMP/vanish.err" >&2; ts_fail "exit $rc, expected 23"; }
grep -q "not deleted: the local directory .* removed" \
    "$TS_TMP/vanish.err" || { cat "$TS_TMP/vanish.err" >&2;
    ts_fail "no message says why nothing was deleted"; }
for round in 1 2 3; do
	rm -rf "$src" "$R/vanish"
	for d in $(seq -w 0 29); do
		mkdir -p "$src/d$d"
		for f in $(seq -w 0 39); do echo "$d$f" >"$src/d$d/f$f"; done
	done
	tsd push "$src" "tshost:$R/vanish" </dev/null >/dev/null 2>&1 ||
	    ts_fail "round $round: the first push failed"
	want=$(find "$R/vanish" | wc -l)
	tsd push --delete "$src" "tshost:$R/vanish" </dev/null \
	    >/dev/null 2>"$TS_TMP/vanish.err" &
	pushpid=$!
	sleep "0.0$round"
	rm -rf "$src"
	rc=0
	wait "$pushpid" || rc=$?
	got=$(find "$R/vanish" | wc -l)
	if [ "$got" -ne "$want" ]; then
		cat "$TS_TMP/vanish.err" >&2
		ts_fail "round $round (exit $rc): $((want - got)) entries were" \
		    "deleted on the server while the source was being removed"
	fi
done
fi

echo ok
