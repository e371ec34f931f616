#!/usr/bin/env bash
# Servers without OpenSSH's extensions: put must still replace files
# without ever losing the old one, and leave nothing behind.  The
# extensions are hidden from treesync with its test switch, so the
# fallbacks run against a real server.
set -euo pipefail
. "$(dirname "$0")/harness.sh"
# OpenSSH's plain RENAME refuses to replace a file (it links, then
# unlinks), so it needs the fallback; gesftpserver's replaces.
ts_sshd_start

export TREESYNC_TEST_HIDE_EXTENSIONS=posix-rename@openssh.com,fsync@openssh.com,limits@openssh.com,hardlink@openssh.com,statvfs@openssh.com

ts_step "put a new file without posix-rename"
printf 'first version\n' >"$TS_LOCAL/f"
ts_expect_exit 0 ts put "$TS_LOCAL/f" "tshost:$TS_REMOTE/f"
ts_files_equal "$TS_LOCAL/f" "$TS_REMOTE/f"

ts_step "replace it: the fallback moves the old file aside, then drops it"
printf 'second, longer version\n' >"$TS_LOCAL/f"
touch -d @1700000000 "$TS_LOCAL/f"
ts_expect_exit 0 ts -v put "$TS_LOCAL/f" "tshost:$TS_REMOTE/f"
ts_files_equal "$TS_LOCAL/f" "$TS_REMOTE/f"
ts_expect_stderr_contains "posix-rename"
ts_no_temp_files "$TS_REMOTE"
[ -z "$(find "$TS_REMOTE" -name '*.treesync-old.*')" ] ||
    ts_fail "the old version was left behind"

ts_step "a failed put (missing local file) leaves the old file untouched"
ts_expect_exit 5 ts put "$TS_LOCAL/missing" "tshost:$TS_REMOTE/f"
ts_files_equal "$TS_LOCAL/f" "$TS_REMOTE/f"

ts_step "--verify=hash and get work the same"
head -c 300000 /dev/urandom >"$TS_LOCAL/big"
ts_expect_exit 0 ts --verify=hash put "$TS_LOCAL/big" "tshost:$TS_REMOTE/big"
ts_expect_exit 0 ts --verify=hash get "tshost:$TS_REMOTE/big" "$TS_LOCAL/big.back"
ts_files_equal "$TS_LOCAL/big" "$TS_LOCAL/big.back"
ts_no_temp_files "$TS_REMOTE"
ts_no_temp_files "$TS_LOCAL"
echo ok
