#!/usr/bin/env bash
# The command line's own safety: messages that never carry raw control
# characters, whatever the paths given or the server's replies.
set -euo pipefail
. "$(dirname "$0")/harness.sh"

ts_sshd_start
R=$TS_REMOTE
L=$TS_LOCAL
NL=$'\n'
ESC=$'\033'

# expect_one_clean_line: the last command's stderr is one line with no
# control character but its newline (a raw ESC would drive the terminal,
# a raw newline forge a second message).
expect_one_clean_line() {
	local n
	n=$(wc -l <"$TS_ERR")
	[ "$n" -eq 1 ] || { cat -A "$TS_ERR" >&2; ts_fail "stderr has $n lines, expected 1"; }
	if LC_ALL=C grep -q '[[:cntrl:]]' "$TS_ERR"; then
		cat -A "$TS_ERR" >&2
		ts_fail "stderr holds a raw control character"
	fi
}

# --- control characters in messages ----------------------------------------

ts_step "a local path with a newline: escaped in the error"
ts_expect_exit 5 ts put "$L/no${NL}such" "tshost:$R/x"
expect_one_clean_line
ts_expect_stderr_contains 'no\nsuch'

ts_step "a remote path with an escape sequence: escaped in the error"
ts_expect_exit 5 ts get "tshost:$R/gone${ESC}[31m" "$L/gone"
expect_one_clean_line
ts_expect_stderr_contains 'gone\u001b[31m'

ts_step "a missing source tree with a carriage return: escaped"
ts_expect_exit 5 ts push "$L/mis"$'\r'"sing" "tshost:$R/t"
expect_one_clean_line
ts_expect_stderr_contains 'mis\rsing'

ts_step "options and commands with control characters: escaped"
ts_expect_exit 2 ts --verify=$'a\tb' put "$L/x" "tshost:$R/x"
expect_one_clean_line
ts_expect_stderr_contains 'a\tb'
ts_expect_exit 2 ts $'frob\x07nicate' "tshost:$R"
expect_one_clean_line
ts_expect_stderr_contains 'frob\u0007nicate'
ts_expect_exit 2 ts $'--no-such\x1b[2J' put "$L/x" "tshost:$R/x"
ts_expect_stderr_contains 'no-such\u001b[2J'
if LC_ALL=C grep -q '[[:cntrl:]]' "$TS_ERR"; then
	ts_fail "a bad option is printed raw"
fi

# --- one local side and one remote side ------------------------------------

# Run from a directory of their own: a pair taken the wrong way would
# create "tshost:..." here.
mkdir -p "$TS_TMP/cwd" "$L/tree"
printf 'one\n' >"$L/tree/one"
printf 'file\n' >"$L/file"
ts_put_file=$L/file
cd "$TS_TMP/cwd"

for verb in push pull diff check; do
	ts_step "$verb with two remote targets: refused with exit 2"
	ts_expect_exit 2 ts "$verb" "tshost:$R/a" "tshost:$R/b"
	ts_expect_stderr_contains "both remote"
	ts_expect_stderr_contains "./"
	ts_step "$verb with two local paths: refused with exit 2"
	ts_expect_exit 2 ts "$verb" "$L/tree" "$L/other"
	ts_expect_stderr_contains "neither"
done
ts_step "get to a remote target: refused with exit 2"
ts_expect_exit 2 ts get "tshost:$R/a" "tshost:$R/b"
ts_expect_stderr_contains "both remote"
ts_step "put from a remote path: refused with exit 2"
ts_expect_exit 2 ts put "tshost:$R/a" "tshost:$R/b"
ts_expect_stderr_contains "both remote"
ts_step "put between two local paths: refused with exit 2"
ts_expect_exit 2 ts put "$ts_put_file" "$L/copy"
ts_expect_stderr_contains "neither"
[ -z "$(ls -A "$TS_TMP/cwd")" ] ||
    ts_fail "a refused pair created $(ls -A "$TS_TMP/cwd")"
[ ! -e "$L/other" ] && [ ! -e "$L/copy" ] ||
    ts_fail "a refused pair wrote a local file"

ts_step "a local name with a colon, written ./a:b, is local"
mkdir "tshost:src"
printf 'colon\n' >"tshost:src/c"
ts_expect_exit 0 ts push ./tshost:src "tshost:$R/colon"
ts_files_equal "tshost:src/c" "$R/colon/c"
ts_expect_exit 0 ts pull "tshost:$R/colon" ./tshost:back
ts_files_equal "$R/colon/c" "tshost:back/c"
ts_expect_exit 0 ts put ./tshost:src/c "tshost:$R/colon/put"
ts_files_equal "tshost:src/c" "$R/colon/put"
ts_expect_exit 0 ts get "tshost:$R/colon/put" ./tshost:got
ts_files_equal "$R/colon/put" "tshost:got"
cd "$TS_TMP"

# --- put and get say what is wrong -----------------------------------------

ts_step "put under a path that is a file: the file is named as such"
printf 'plain\n' >"$R/plainfile"
ts_expect_exit 5 ts put "$L/file" "tshost:$R/plainfile/x"
ts_expect_stderr_contains "\"$R/plainfile\" is a file, not a directory"
ts_expect_exit 5 ts put "$L/file" "tshost:$R/plainfile/deeper/x"
ts_expect_stderr_contains "\"$R/plainfile\" is a file, not a directory"
[ "$(cat "$R/plainfile")" = plain ] || ts_fail "put changed $R/plainfile"
ts_no_temp_files "$R"

ts_step "put into a missing directory still says it does not exist"
ts_expect_exit 5 ts put "$L/file" "tshost:$R/nodir/x"
ts_expect_stderr_contains "$R/nodir"
if grep -q "not a directory" "$TS_ERR"; then
	ts_fail "a missing directory is called a file"
fi

ts_step "get of a remote directory: says so and suggests pull"
mkdir -p "$R/adir/sub"
printf 'in\n' >"$R/adir/f"
ts_expect_exit 2 ts get "tshost:$R/adir" "$L/adir-copy"
ts_expect_stderr_contains "\"$R/adir\" is a directory"
ts_expect_stderr_contains "treesync pull"
[ ! -e "$L/adir-copy" ] || ts_fail "get of a directory wrote $L/adir-copy"
ts_no_temp_files "$L"

# --- an interrupted run says so once -------------------------------------

# A push slowed down by faultproxy.py (a slow link), so a signal lands while
# most of its 2,000 files are still to be sent.
FAULTPROXY=$TS_SOURCE_DIR/tests/integration/faultproxy.py
I=$TS_TMP/many
mkdir -p "$I"
for ((d = 0; d < 20; d++)); do
	mkdir "$I/d$d"
	for ((f = 0; f < 100; f++)); do
		printf '%04d %s\n' "$f" "$d" >"$I/d$d/f$f"
	done
done
pf=$TS_TMP/proxy.port
python3 "$FAULTPROXY" --target-port "$TS_PORT" --port-file "$pf" \
    --log "$TS_TMP/proxy.log" --parent $$ --lifetime 300 --rate 65536 \
    </dev/null >/dev/null 2>"$TS_TMP/proxy.stderr" &
fp_pid=$!
ts_cleanup_add "kill $fp_pid"
ts_wait_port_file "$pf" faultproxy.py
fp_port=$(cat "$pf")
fp_config=$TS_TMP/proxy_ssh_config
{
	sed -e "s/^Host tshost$/Host tsproxy/" \
	    -e "s/^\([[:space:]]*Port\) $TS_PORT\$/\1 $fp_port/" \
	    -e "s#$TS_KNOWN_HOSTS#$TS_TMP/proxy_known_hosts#" "$TS_SSH_CONFIG"
} >"$fp_config"
sed -n "s/^\[127\.0\.0\.1\]:$TS_PORT /[127.0.0.1]:$fp_port /p" \
    "$TS_KNOWN_HOSTS" >"$TS_TMP/proxy_known_hosts"

# interrupted_push NAME SIGNAL [OPTIONS]: a push into $R/NAME through the
# slow link, sent SIGNAL once some files are on the server; its exit code
# in rc, its stderr in $TS_TMP/NAME.err.  With VERB=backup, a backup.
interrupted_push() {
	local name=$1 sig=$2 pid i
	shift 2
	"$TREESYNC" -F "$fp_config" "${VERB:-push}" "$@" "$I" \
	    "tsproxy:$R/$name" </dev/null >"$TS_TMP/$name.out" \
	    2>"$TS_TMP/$name.err" &
	pid=$!
	ts_cleanup_add "kill -9 $pid"
	for ((i = 0; i < 300; i++)); do		# 30 s
		[ "$(find "$R/$name" -type f 2>/dev/null | head -n 20 |
		    wc -l)" -ge 20 ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null ||
	    ts_fail "the push into $name ended before the signal (too fast?)"
	kill "-$sig" "$pid"
	rc=0
	wait "$pid" || rc=$?
	echo "   $name: exit $rc, $(wc -l <"$TS_TMP/$name.err") stderr lines," \
	    "$(find "$R/$name" -type f | wc -l) files sent"
}

ts_step "SIGTERM during a 2,000-file push: one line with the count, exit 10"
interrupted_push term TERM
[ "$rc" -eq 10 ] || { cat "$TS_TMP/term.err" >&2; ts_fail "exit $rc, expected 10"; }
[ "$(wc -l <"$TS_TMP/term.err")" -eq 1 ] ||
    { head -n 5 "$TS_TMP/term.err" >&2; ts_fail "more than one line on stderr"; }
grep -q -E '^treesync: interrupted.* \([0-9]+ changes? not done\)$' \
    "$TS_TMP/term.err" ||
    { cat "$TS_TMP/term.err" >&2; ts_fail "no count of the changes not done"; }
# New directories were being built under temporary names: what the
# interrupt left is in place, every file at a final name is whole, and no
# temporary name stays.
ts_no_temp_files "$R/term"
(cd "$R/term" && find . -type f) | while IFS= read -r f; do
	cmp -s "$I/$f" "$R/term/$f" || ts_fail "interrupted: '$f' is not whole"
done

ts_step "SIGINT during a push with -q: nothing on stderr, exit 10"
interrupted_push quiet INT -q
[ "$rc" -eq 10 ] || { cat "$TS_TMP/quiet.err" >&2; ts_fail "exit $rc, expected 10"; }
[ ! -s "$TS_TMP/quiet.err" ] ||
    { head -n 5 "$TS_TMP/quiet.err" >&2; ts_fail "-q printed on stderr"; }

ts_step "SIGTERM with --json: the items keep their status, one stderr line"
interrupted_push json TERM --json
[ "$rc" -eq 10 ] || ts_fail "exit $rc, expected 10"
[ "$(wc -l <"$TS_TMP/json.err")" -eq 1 ] ||
    { head -n 5 "$TS_TMP/json.err" >&2; ts_fail "more than one line on stderr"; }
tail -n 1 "$TS_TMP/json.out" | grep -q '"type":"summary"' ||
    ts_fail "the JSON report has no summary line"

ts_step "SIGTERM during a backup: its lines, no line per file; none with -q"
VERB=backup interrupted_push backup TERM --keep 2
[ "$rc" -eq 10 ] || { cat "$TS_TMP/backup.err" >&2; ts_fail "exit $rc, expected 10"; }
if grep -q '^treesync: interrupted "' "$TS_TMP/backup.err"; then
	head -n 5 "$TS_TMP/backup.err" >&2
	ts_fail "a line per file not sent"
fi
grep -q -E '^treesync: interrupted.* \([0-9]+ changes? not done\)$' \
    "$TS_TMP/backup.err" ||
    { cat "$TS_TMP/backup.err" >&2; ts_fail "no count of the changes not done"; }
VERB=backup interrupted_push backupq INT --keep 2 -q
[ "$rc" -eq 10 ] || ts_fail "exit $rc, expected 10"
[ ! -s "$TS_TMP/backupq.err" ] ||
    { head -n 5 "$TS_TMP/backupq.err" >&2; ts_fail "-q printed on stderr"; }
kill "$fp_pid" 2>/dev/null || true

# --- last: a server that runs no commands ------------------------------------

ts_step "a log line naming a remote path: escaped"
ts_sshd_start --force-internal-sftp
ts_expect_exit 0 ts -v --verify=hash put "$L/file" "tshost:$R/log${ESC}[1mname"
ts_expect_stderr_contains 'log\u001b[1mname" by read-back'
if LC_ALL=C grep -q '[[:cntrl:]]' "$TS_ERR"; then
	cat -A "$TS_ERR" >&2
	ts_fail "a log line is printed raw"
fi

echo ok
