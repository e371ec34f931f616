#!/usr/bin/env bash
# --verify=hash: against a normal server the hash is computed there
# (sha256sum over an exec channel); against one with ForceCommand
# internal-sftp (no exec) treesync falls back to reading the file back.
set -euo pipefail
. "$(dirname "$0")/harness.sh"

L=$TS_LOCAL
mkdir -p "$L/src" "$L/back"
head -c 3145739 /dev/urandom >"$L/src/big"	# 3 MiB + 11 B
: >"$L/src/empty"
touch -d '@1650000000' "$L/src/big" "$L/src/empty"

# The output of a verified transfer that went well says nothing alarming.
no_alarm() {
	if grep -q -i -E 'mismatch|fail|error|warn|corrupt' "$TS_OUT" "$TS_ERR"; then
		cat "$TS_OUT" "$TS_ERR" >&2
		ts_fail "a successful --verify=hash transfer printed an alarm"
	fi
}

# round_trip LABEL QUIET: put and get big and empty with --verify=hash;
# QUIET=1: the output must not sound alarming.
round_trip() {
	local label=$1 quiet=$2 f R=$TS_REMOTE/$1
	mkdir -p "$R" "$L/back/$label"
	for f in big empty; do
		ts_step "$label: put --verify=hash $f"
		ts_expect_exit 0 ts --verify=hash put "$L/src/$f" "tshost:$R/$f"
		[ "$quiet" -eq 0 ] || no_alarm
		ts_files_equal "$L/src/$f" "$R/$f"
		ts_no_temp_files "$R"

		ts_step "$label: get --verify=hash $f"
		ts_expect_exit 0 ts get --verify=hash "tshost:$R/$f" \
		    "$L/back/$label/$f"
		[ "$quiet" -eq 0 ] || no_alarm
		ts_files_equal "$L/src/$f" "$L/back/$label/$f"
		ts_no_temp_files "$L/back/$label"
	done
}

ts_sshd_start
round_trip exec 1

ts_step "exec: the hash was computed on the server, not read back"
grep -q 'Starting session: command' "$TS_SSHD_LOG" ||
    ts_fail "sshd log shows no exec session (was sha256sum run?)"
ts_expect_exit 0 ts -v --verify=hash put "$L/src/big" \
    "tshost:$TS_REMOTE/exec/verbose"
if grep -q -i -E 'read-?back|read back' "$TS_ERR"; then
	cat "$TS_ERR" >&2
	ts_fail "the server allows exec, yet -v mentions a read-back"
fi

ts_step "exec: the other --verify modes work, a bad one is a usage error"
ts_expect_exit 0 ts --verify=size put "$L/src/big" "tshost:$TS_REMOTE/exec/size"
ts_files_equal "$L/src/big" "$TS_REMOTE/exec/size"
ts_expect_exit 0 ts --verify=none put "$L/src/big" "tshost:$TS_REMOTE/exec/none"
ts_files_equal "$L/src/big" "$TS_REMOTE/exec/none"
ts_expect_exit 2 ts --verify=bogus put "$L/src/big" "tshost:$TS_REMOTE/exec/bogus"
[ ! -e "$TS_REMOTE/exec/bogus" ] || ts_fail "--verify=bogus uploaded anyway"

ts_sshd_start --force-internal-sftp

ts_step "no-exec server: the premise holds (exec refused)"
if out=$(ts_ssh echo exec-works 2>&1) && [ "$out" = exec-works ]; then
	ts_fail "the ForceCommand server ran a command"
fi

round_trip noexec 0

ts_step "no-exec server: -v says the hash was checked by reading back"
ts_expect_exit 0 ts -v --verify=hash put "$L/src/big" \
    "tshost:$TS_REMOTE/noexec/verbose"
ts_files_equal "$L/src/big" "$TS_REMOTE/noexec/verbose"
grep -q -i -E 'read-?back|read back' "$TS_ERR" ||
    { cat "$TS_ERR" >&2; ts_fail "-v does not mention the read-back"; }
ts_expect_exit 0 ts -v --verify=hash get "tshost:$TS_REMOTE/noexec/verbose" \
    "$L/back/verbose"
ts_files_equal "$L/src/big" "$L/back/verbose"

echo ok
