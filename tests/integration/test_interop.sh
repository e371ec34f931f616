#!/usr/bin/env bash
# push, a push that changes nothing, pull and check against SFTP servers
# that are not OpenSSH, each its own SSH and SFTP code on 127.0.0.1:
#
#   asyncssh    tests/integration/asyncssh_sftp.py (python3-asyncssh): offers
#               OpenSSH's extensions but reads SSH_FXP_SYMLINK in draft-02's
#               order (linkpath first) for a libssh2 client
#   paramiko    tests/integration/paramiko_sftp.py (python3-paramiko): no
#               extension, a RENAME that never replaces, SYMLINK in
#               OpenSSH's order (targetpath first)
#   nolinks     the same with --no-symlinks: "operation unsupported",
#               --no-dir-rename: no directory is renamed (new directories
#               a push builds are moved in entry by entry), and
#               --max-conns 2: connections beyond two are closed at once
#   nocase      the same with --nocase: names fold case, as on Windows
#
# treesync's first guess of the SYMLINK order is wrong on both of the first
# two (it guesses from the extensions offered): the first links it makes
# are read back and the order corrected, and nothing is left where a link
# made the wrong way round landed.  On the third, one warning names how
# many symlinks were not made and why (exit 23), and --no-links skips them
# (exit 0).  The tree: odd names, empty files and directories, symlinks,
# names differing only in case, and a 10 MiB file, compared byte for byte
# after each step.  On the fourth, local names differing only in case are
# reported as a clash and only the first is sent: none written over another.
set -euo pipefail
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

py=/usr/bin/python3
"$py" -c 'import paramiko, asyncssh' 2>/dev/null ||
    ts_fail "python3-paramiko and python3-asyncssh are needed (run scripts/setup.sh)"

_ts_make_keys
L=$TS_LOCAL/tree
ts_gen_tree "$L"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$L/ten-mib.bin"
touch -d @1600000000 "$L/ten-mib.bin"
: >"$L/sub1/another empty"
printf 'upper\n' >"$L/sub1/Case.txt"
printf 'lower case\n' >"$L/sub1/case.txt"
touch -d @1600000000 "$L/sub1/Case.txt" "$L/sub1/case.txt"
touch -d @1600000000 "$L/sub1/another empty" "$L/sub1"
nlinks=$(ts_tree_list "$L" | grep -c '^l ')
[ "$nlinks" -ge 3 ] || ts_fail "the tree has $nlinks symlinks, expected 3 or more"
# The same tree without its symlinks: what a server without them gets.
NL=$TS_LOCAL/tree-nolinks
cp -a "$L" "$NL"
find "$NL" -type l -delete
(cd "$L" && find . -type d -print0) | while IFS= read -r -d '' d; do
	touch -r "$L/$d" "$NL/$d"
done

# start_server NAME SCRIPT [ARGS...]: starts a server in $TS_TMP/NAME and
# sets port, dir.
start_server() {
	local name=$1 script=$2 i pid
	shift 2
	dir=$TS_TMP/$name
	mkdir -p "$dir"
	"$py" "$(dirname "$0")/$script" "$@" "$dir" "$TS_KEY.pub" "$$" \
	    </dev/null >>"$dir/stderr" 2>&1 &
	pid=$!
	ts_cleanup_add "kill $pid"
	for ((i = 0; i < 200; i++)); do		# 20 s: python starts slowly
		[ -s "$dir/port" ] && break
		kill -0 "$pid" 2>/dev/null || {
			cat "$dir/stderr" "$dir/log" >&2
			ts_fail "$script died at start-up"
		}
		sleep 0.1
	done
	[ -s "$dir/port" ] || ts_fail "$script did not start"
	port=$(cat "$dir/port")
}

# Pinned to libssh2: how these servers read SYMLINK depends on the
# client's version string (asyncssh takes libssh2's for draft-02's order,
# OpenSSH's ssh for OpenSSH's), and what is checked here is learning it.
tso() {
	"$TREESYNC" --transport libssh2 --known-hosts "$dir/known_hosts" \
	    --identity "$TS_KEY" -p "$port" "$@"
}

# probe_expect NAME CHECKS: probe --json of the server, then the python
# assertions CHECKS on it (p: the object); the table goes to the log.
probe_expect() {
	mkdir -p "$TS_REMOTE/$1"
	ts_expect_exit 0 tso probe "127.0.0.1:$TS_REMOTE/$1"
	cat "$TS_OUT"
	ts_expect_exit 0 tso probe --json "127.0.0.1:$TS_REMOTE/$1"
	python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))
'"$2" "$TS_OUT" || { cat "$TS_OUT" >&2; ts_fail "$1: probe: $2"; }
	[ -z "$(ls -A "$TS_REMOTE/$1")" ] || ts_fail "$1: probe left entries"
}

# exercise NAME ORDER: ORDER is the SYMLINK order the server must turn out
# to take ("draft-02's" or "OpenSSH's"), or "none".
exercise() {
	local name=$1 order=$2 R=$TS_REMOTE/$1 P=$TS_LOCAL/pulled-$1 want=$L

	if [ "$order" = none ]; then
		want=$NL
		ts_step "$name: push: one warning for the symlinks, exit 23"
		ts_expect_exit 23 tso push "$L" "127.0.0.1:$R"
		ts_expect_stderr_contains "warning: $nlinks symlinks not created: the server cannot create symlinks (operation unsupported)"
		n=$(grep -c 'symlink' "$TS_ERR")
		[ "$n" = 1 ] || ts_fail "$name: $n lines about symlinks, expected 1"
		ts_trees_equal "$NL" "$R"
		ts_no_temp_files "$R"

		ts_step "$name: push --no-links: exit 0, no warning"
		ts_expect_exit 0 tso push --no-links --json "$L" "127.0.0.1:$R"
		! grep -q symlink "$TS_ERR" ||
		    { cat "$TS_ERR" >&2; ts_fail "$name: --no-links warned"; }
		ts_json_items "$TS_OUT" upload mkdir symlink delete >"$TS_TMP/items"
		ts_expect_lines "$TS_TMP/items" "" "$name: push --no-links"

		ts_step "$name: --no-links --delete leaves what stands at a link's path"
		printf 'server side\n' >"$R/link-to-file"
		ts_expect_exit 0 tso push --no-links --delete "$L" "127.0.0.1:$R"
		[ "$(cat "$R/link-to-file")" = "server side" ] ||
		    ts_fail "$name: --no-links --delete touched link-to-file"
		rm "$R/link-to-file"
		touch -d "@$(stat -c %Y "$NL")" "$R"	# as a push sets it
	else
		ts_step "$name: push: the SYMLINK order is learned"
		ts_expect_exit 0 tso push -v "$L" "127.0.0.1:$R"
		ts_expect_stderr_contains "the server takes SYMLINK's paths in $order"
	fi
	ts_trees_equal --dir-mtimes "$want" "$R"
	cmp "$L/ten-mib.bin" "$R/ten-mib.bin" ||
	    ts_fail "$name: ten-mib.bin differs"
	ts_no_temp_files "$R"
	# Where a link made the wrong way round lands: nothing is left there.
	[ -z "$(ls -A "$dir/cwd")" ] ||
	    { ls -la "$dir/cwd" >&2; ts_fail "$name: misplaced entries left"; }

	ts_step "$name: a second push changes nothing"
	before=$(ts_tree_snapshot "$R")
	ts_expect_exit 0 tso push --no-links --json "$want" "127.0.0.1:$R"
	ts_json_items "$TS_OUT" upload mkdir symlink delete setattr \
	    >"$TS_TMP/items"
	ts_expect_lines "$TS_TMP/items" "" "$name: second push"
	[ "$(ts_json_summary "$TS_OUT" bytes_sent)" = 0 ] ||
	    ts_fail "$name: a second push sent bytes"
	after=$(ts_tree_snapshot "$R")
	[ "$before" = "$after" ] || {
		diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") >&2 ||
		    true
		ts_fail "$name: a second push changed the remote tree"
	}

	ts_step "$name: pull into a new directory: byte for byte"
	ts_expect_exit 0 tso pull --perms "127.0.0.1:$R" "$P"
	ts_trees_equal --dir-mtimes "$R" "$P"
	ts_trees_equal "$want" "$P"

	ts_step "$name: pull --no-links leaves the symlinks out"
	ts_expect_exit 0 tso pull --perms --no-links "127.0.0.1:$R" "$P-nolinks"
	ts_trees_equal "$NL" "$P-nolinks"

	ts_step "$name: check: all match"
	ts_expect_exit 0 tso check "$want" "127.0.0.1:$R"
	ts_expect_stderr_contains "files match"
	ts_step "$name: check sees one flipped byte"
	ts_flip_byte "$R/ten-mib.bin" 5000000
	ts_expect_exit 24 tso check "$want" "127.0.0.1:$R"
	grep -q 'ten-mib.bin' "$TS_OUT" ||
	    { cat "$TS_OUT" >&2; ts_fail "$name: check missed ten-mib.bin"; }
	[ "$order" != none ] || return 0

	# Without the order learned first (as when the directory is not
	# writable), the real links are read back and corrected: made at a
	# temporary name and renamed over the old one with posix-rename, else
	# the old one removed first; ../top.txt made the wrong way round
	# lands beside the server's working directory, sub1/sub2 nowhere.
	ts_step "$name: changed symlinks replaced, the real links read back"
	M=$TS_LOCAL/changed-$name
	cp -a "$want" "$M"
	ln -sfn sub1/sub2 "$M/link-to-dir"
	ln -sfn ../top.txt "$M/sub1/up-link"
	TREESYNC_TEST_NO_LINK_LEARN=1 ts_expect_exit 0 tso push -c -v "$M" \
	    "127.0.0.1:$R"
	ts_expect_stderr_contains "the server takes SYMLINK's paths in $order"
	[ ! -e "$dir/top.txt" ] && [ ! -L "$dir/top.txt" ] ||
	    ts_fail "$name: a misplaced link was left at $dir/top.txt"
	ts_trees_equal "$M" "$R"
	ts_no_temp_files "$R"
	[ -z "$(ls -A "$dir/cwd")" ] ||
	    { ls -la "$dir/cwd" >&2; ts_fail "$name: misplaced entries left"; }
}

start_server asyncssh asyncssh_sftp.py
ts_step "asyncssh: probe"
probe_expect asyncssh '
assert "AsyncSSH" in p["ssh_version"], p["ssh_version"]
assert p["symlinks"] is True and p["symlink_order"] == "draft-02"
assert p["symlink_guess_right"] is False and p["exec"] is False
assert p["statvfs"] is True and p["setstat_keeps_mtime"] is True'
exercise asyncssh "draft-02's"

start_server paramiko paramiko_sftp.py
ts_step "paramiko: probe"
probe_expect paramiko '
assert "paramiko" in p["ssh_version"], p["ssh_version"]
assert p["symlinks"] is True and p["symlink_order"] == "openssh"
assert p["symlink_guess_right"] is False and p["rename_replaces"] is False
assert any(l.startswith("no posix-rename@openssh.com") for l in p["instead"])
assert p["statvfs"] is False and p["extensions_offered"] == ["check-file"]'
exercise paramiko "OpenSSH's"

start_server nolinks paramiko_sftp.py --no-symlinks --no-dir-rename \
    --max-conns 2
ts_step "nolinks: probe"
probe_expect nolinks '
assert p["symlinks"] is False and p["symlink_order"] is None
assert any(l.startswith("no symlinks") for l in p["instead"])
assert p["connections_wanted"] == 4 and p["connections_open"] == 2
assert p["connections_error"]
assert any(l.startswith("2 of 4 connections") for l in p["instead"])'
exercise nolinks none

start_server nocase paramiko_sftp.py --nocase
ts_step "nocase: probe"
probe_expect nocase '
assert p["case_insensitive"] is True
assert any(l.startswith("names differing only in case") for l in p["instead"])'
ts_step "nocase: names differing only in case clash; the first is sent"
C=$TS_LOCAL/case
mkdir -p "$C/Dir" "$C/dir"
printf 'A\n' >"$C/Same.txt"
printf 'a, not to be written over A\n' >"$C/same.txt"
printf 'x\n' >"$C/Dir/x"
printf 'y\n' >"$C/dir/y"
printf 'o\n' >"$C/other"
R=$TS_REMOTE/nocase/tree
for run in first second; do
	ts_expect_exit 23 tso push --delete "$C" "127.0.0.1:$R"
	ts_expect_stderr_contains '"same.txt" and "Same.txt" differ only in case, and names on the server do not: only "Same.txt" is sent'
	ts_expect_stderr_contains '"dir" and "Dir" differ only in case'
	cmp "$C/Same.txt" "$R/Same.txt" || ts_fail "nocase: $run push: Same.txt written over"
	cmp "$C/Dir/x" "$R/Dir/x" || ts_fail "nocase: $run push: Dir/x"
	cmp "$C/other" "$R/other" || ts_fail "nocase: $run push: other"
	[ "$(ls -A "$R" | tr '\n' ' ')" = "Dir Same.txt other " ] ||
	    ts_fail "nocase: $run push left $(ls -A "$R")"
	[ "$(ls -A "$R/Dir")" = x ] || ts_fail "nocase: $run push: Dir holds $(ls -A "$R/Dir")"
done
ts_no_temp_files "$R"

echo ok
