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

echo ok
