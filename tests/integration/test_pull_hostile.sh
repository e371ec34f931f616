#!/usr/bin/env bash
# pull from a hostile SFTP server (tests/integration/hostile_sftp.py, on
# python3-paramiko): it lists names no client may write (../escape, a/b,
# ., .., the empty name, a NUL, ../../escape2 in a sub directory),
# symlinks pointing outside the tree, a file that grows while it is read
# and one whose reads overrun the size it states.  Nothing may be written
# outside LOCAL_DIR, each refusal is reported, the good files arrive, and
# the run ends as partial (23).
set -euo pipefail
. "$(dirname "$0")/harness.sh"

# The python that has paramiko: Debian's, even when another python3 comes
# first in PATH.
py=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import paramiko' 2>/dev/null; then
		py=$p
		break
	fi
done
[ -n "$py" ] ||
    ts_fail "python3-paramiko is not installed (run scripts/setup.sh)"

_ts_make_keys			# the user key the server accepts: $TS_KEY
H=$TS_TMP/hostile
mkdir -p "$H"
"$py" "$(dirname "$0")/hostile_sftp.py" "$H" "$TS_KEY.pub" "$$" \
    </dev/null >>"$H/log" 2>&1 &
hostile_pid=$!
ts_cleanup_add "kill $hostile_pid"
for ((i = 0; i < 150; i++)); do		# 15 s: paramiko starts slowly
	[ -s "$H/port" ] && break
	kill -0 "$hostile_pid" 2>/dev/null ||
	    { cat "$H/log" >&2; ts_fail "hostile_sftp.py died at start-up"; }
	sleep 0.1
done
[ -s "$H/port" ] || { cat "$H/log" >&2; ts_fail "hostile_sftp.py did not start"; }
port=$(cat "$H/port")

# Nested three deep, so that ../escape and ../../escape2 would land in
# directories the test watches.
L=$TS_TMP/w1/w2/local
mkdir -p "$TS_TMP/w1/w2" "$TS_TMP/outside"

hostile() {
	"$TREESYNC" --known-hosts "$H/known_hosts" --identity "$TS_KEY" \
	    -p "$port" "$@"
}

# Whatever the run did: nothing named escape* anywhere, nothing outside L
# but what the test made.
nothing_outside() {
	local found
	found=$(find "$TS_TMP" -name 'escape*' -print)
	[ -z "$found" ] || ts_fail "$1: written outside LOCAL_DIR: $found"
	found=$(find "$TS_TMP/w1" "$TS_TMP/outside" -mindepth 1 \
	    ! -path "$L" ! -path "$L/*" ! -path "$TS_TMP/w1/w2" \
	    ! -path "$TS_TMP/w1/w2/more" ! -path "$TS_TMP/w1/w2/more/*" -print)
	[ -z "$found" ] || ts_fail "$1: unexpected entries outside LOCAL_DIR: $found"
	if [ -e /escape ] || [ -e /escape2 ]; then
		ts_fail "$1: wrote into /"
	fi
}

# The bytes hostile_sftp.py serves for a good file.
content() {
	"$py" -c 'import sys
sys.path.insert(0, sys.argv[1])
import hostile_sftp
sys.stdout.buffer.write(hostile_sftp.content(sys.argv[2], int(sys.argv[3])))' \
	    "$(dirname "$0")" "$1" "$2"
}

ts_step "diff in pull order reports the refusals and writes nothing"
ts_expect_exit 23 hostile diff --json "sftp://$TS_USER@127.0.0.1/srv" "$L"
echo "   diff: exit code $TS_RC"
[ ! -e "$L" ] || ts_fail "diff created $L"
nothing_outside "diff"

ts_step "pull from the hostile server: partial (23), nothing outside LOCAL_DIR"
ts_expect_exit 23 hostile pull "$TS_USER@127.0.0.1:/srv" "$L"
sed 's/^/   stderr: /' "$TS_ERR"
nothing_outside "pull"
ts_no_temp_files "$TS_TMP"

ts_step "each unsafe name is refused on stderr, quoted"
for name in '../escape' 'a/b' '' '../../escape2'; do
	ts_expect_stderr_contains "unsafe name \"$name\""
done
ts_expect_stderr_contains 'unsafe name "nul'	# the NUL escaped, somehow
ts_expect_stderr_contains 'in "sub"'
[ ! -e "$L/a" ] || ts_fail "a/b was written as $L/a/b"

ts_step "the good files arrive intact"
cmp -s "$L/good.txt" <(content good.txt 70000) ||
    ts_fail "good.txt differs from what the server sent"
cmp -s "$L/sub/inner.txt" <(content inner.txt 1234) ||
    ts_fail "sub/inner.txt differs from what the server sent"
[ "$(stat -c %Y "$L/good.txt")" = 1600000000 ] ||
    ts_fail "good.txt: mtime $(stat -c %Y "$L/good.txt"), expected 1600000000"

ts_step "symlinks are recreated as they are, never followed"
[ -L "$L/evil" ] || ts_fail "evil is not a symlink"
[ "$(readlink "$L/evil")" = ../../outside/escape3 ] ||
    ts_fail "evil points to $(readlink "$L/evil")"
[ -L "$L/evil-abs" ] || ts_fail "evil-abs is not a symlink"
[ "$(readlink "$L/evil-abs")" = /etc/passwd ] ||
    ts_fail "evil-abs points to $(readlink "$L/evil-abs")"

ts_step "a file growing while it is read is reported, not kept wrong"
if [ -e "$L/grow.txt" ]; then
	# Kept: it must be one consistent read of what the server stated.
	[ "$(stat -c %s "$L/grow.txt")" = 300000 ] ||
	    ts_fail "grow.txt kept with $(stat -c %s "$L/grow.txt") bytes"
	echo "   grow.txt: kept, 300000 bytes"
else
	echo "   grow.txt: absent"
fi
grep -F 'grow.txt' "$TS_ERR" | grep -q -i 'changed' ||
    ts_fail "no error says grow.txt changed while being read"

ts_step "a second pull: the same refusals, nothing else changes"
ts_expect_exit 23 hostile pull --delete "$TS_USER@127.0.0.1:/srv" "$L"
nothing_outside "second pull"
ts_no_temp_files "$TS_TMP"
if [ ! -L "$L/evil" ] || [ ! -f "$L/good.txt" ] ||
    [ ! -f "$L/sub/inner.txt" ]; then
	ts_fail "the second pull removed what the first one made"
fi

ts_step "a server returning more bytes than asked for: no wrong file kept"
M=$TS_TMP/w1/w2/more
# The overrun is a protocol violation: the connection is dropped and
# opened again until --retries runs out, then the files still to do fail
# and the run is partial (23), as any run with failed files.
ts_expect_exit 23 hostile pull "$TS_USER@127.0.0.1:/more" "$M"
echo "   exit code $TS_RC"
sed 's/^/   stderr: /' "$TS_ERR"
ts_expect_stderr_contains 'more.txt'
if [ -e "$M/more.txt" ]; then
	size=$(stat -c %s "$M/more.txt")
	echo "   more.txt: kept, $size bytes"
	[ "$size" = 100000 ] ||
	    ts_fail "more.txt kept with $size bytes, the server stated 100000"
	[ -z "$(tr -d M <"$M/more.txt" | head -c 1)" ] ||
	    ts_fail "more.txt kept with bytes the server never sent"
else
	echo "   more.txt: absent"
fi
if [ -e "$M/good.txt" ]; then
	cmp -s "$M/good.txt" <(content good.txt 70000) ||
	    ts_fail "/more: good.txt kept but not intact"
fi
ts_no_temp_files "$TS_TMP"
find "$TS_TMP" -name 'escape*' | grep -q . && ts_fail "escape after /more"

ts_step "the server was never asked to change anything"
if grep -q REFUSED "$H/log"; then
	grep REFUSED "$H/log" >&2
	ts_fail "pull sent write requests to the server"
fi

echo ok
