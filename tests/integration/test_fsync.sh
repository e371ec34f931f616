#!/bin/bash
# --fsync: the server flushes each uploaded file (fsync@openssh.com) before
# it is renamed into place; without it, no flush is asked for (as rsync);
# backup always asks.  OpenSSH's sftp-server runs with -l DEBUG3 -e behind
# a wrapper that keeps its log, which names every fsync request.
set -eu
. "$(dirname "$0")/harness.sh"

LOG=$TS_TMP/sftp-server.log
ts_sshd_start --subsystem "$(ts_logged_sftp_server "$LOG")"

# fsyncs_since N: fsync requests in the log after its first N lines.
fsyncs_since() {
	local n
	n=$(tail -n +"$(($1 + 1))" "$LOG" | grep -c 'fsync (handle') || true
	echo "${n:-0}"
}
log_lines() {
	touch "$LOG"
	wc -l <"$LOG"
}

L=$TS_LOCAL/src
mkdir -p "$L/sub"
for i in 1 2 3; do
	head -c $((i * 1000)) /dev/urandom >"$L/sub/f$i"
done

ts_step "push without --fsync asks for no flush"
n0=$(log_lines)
ts_expect_exit 0 ts push "$L" "tshost:$TS_REMOTE/plain"
[ "$(fsyncs_since "$n0")" -eq 0 ] ||
    ts_fail "push without --fsync sent $(fsyncs_since "$n0") fsync requests"

ts_step "push --fsync flushes each of the 3 files"
n0=$(log_lines)
ts_expect_exit 0 ts push --fsync "$L" "tshost:$TS_REMOTE/synced"
[ "$(fsyncs_since "$n0")" -eq 3 ] ||
    ts_fail "push --fsync: $(fsyncs_since "$n0") fsync requests, expected 3"

ts_step "put --fsync flushes the file; put alone does not"
n0=$(log_lines)
ts_expect_exit 0 ts put "$L/sub/f1" "tshost:$TS_REMOTE/one"
[ "$(fsyncs_since "$n0")" -eq 0 ] || ts_fail "put without --fsync flushed"
n0=$(log_lines)
ts_expect_exit 0 ts put --fsync "$L/sub/f1" "tshost:$TS_REMOTE/two"
[ "$(fsyncs_since "$n0")" -eq 1 ] || ts_fail "put --fsync did not flush"

ts_step "a big file split over 2 connections is flushed once, before its rename"
head -c $((20 << 20)) /dev/urandom >"$L/big.bin"
n0=$(log_lines)
ts_expect_exit 0 ts push -v -j 2 --fsync "$L" "tshost:$TS_REMOTE/synced"
ts_expect_stderr_contains '"big.bin": 2 ranges over 2 connections'
[ "$(fsyncs_since "$n0")" -eq 1 ] ||
    ts_fail "split upload: $(fsyncs_since "$n0") fsync requests, expected 1"
cmp -s "$L/big.bin" "$TS_REMOTE/synced/big.bin" || ts_fail "big.bin differs"

ts_step "backup flushes every file without being asked"
n0=$(log_lines)
ts_expect_exit 0 ts backup --stamp 20261201-000000 "$L/sub" \
    "tshost:$TS_REMOTE/backups"
[ "$(fsyncs_since "$n0")" -ge 3 ] ||
    ts_fail "backup: $(fsyncs_since "$n0") fsync requests, expected 3 or more"

echo "test_fsync: ok"
