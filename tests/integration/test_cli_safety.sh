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

echo ok
