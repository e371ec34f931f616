#!/bin/bash
# A file much bigger than the rest is split into byte ranges that several
# connections move at once into one temporary file, renamed once: push,
# re-push of a changed copy (replacing the old file), --verify=hash (a
# byte flipped on the server is found), pull, and a server without
# posix-rename (a replaced big file is then sent whole).
set -eu
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

ts_sshd_start

L=$TS_LOCAL/src
R=$TS_REMOTE/dst
mkdir -p "$L/sub"
head -c $((40 << 20)) /dev/urandom >"$L/sub/big.bin"
touch -d @1650000000 "$L/sub/big.bin"
for i in 1 2 3 4 5; do
	head -c $((i * 1000)) /dev/urandom >"$L/small$i.txt"
done

ts_step "push -j 4: the big file goes as 4 ranges; the trees are equal"
ts_expect_exit 0 ts push -v -j 4 --verify=hash "$L" "tshost:$R"
ts_expect_stderr_contains '"sub/big.bin": 4 ranges over 4 connections'
ts_trees_equal "$L" "$R"
ts_no_temp_files "$R"

ts_step "a changed big file replaces the old one, in ranges"
# -W: the signature store knows the server's copy, and a file that may
# go as a delta is built by one connection (test_delta.sh).
head -c $((36 << 20)) /dev/urandom >"$L/sub/big.bin"
ino=$(stat -c %i "$R/sub/big.bin")
ts_expect_exit 0 ts push -W -v -j 3 "$L" "tshost:$R"
ts_expect_stderr_contains '"sub/big.bin": 3 ranges over 3 connections'
ts_trees_equal "$L" "$R"
ts_no_temp_files "$R"
[ "$(stat -c %i "$R/sub/big.bin")" != "$ino" ] ||
    ts_fail "the big file was rewritten in place, not renamed into place"

ts_step "-c finds a byte flipped on the server; the ranges send it again"
ts_flip_byte "$R/sub/big.bin"
touch -r "$L/sub/big.bin" "$R/sub/big.bin"
ts_expect_exit 0 ts push -W -c -v -j 4 --verify=hash "$L" "tshost:$R"
ts_expect_stderr_contains 'ranges over'
ts_trees_equal "$L" "$R"

ts_step "pull -j 4: the big file comes as ranges; the trees are equal"
P=$TS_LOCAL/pulled
ts_expect_exit 0 ts pull -v -j 4 --verify=hash "tshost:$R" "$P"
ts_expect_stderr_contains '"sub/big.bin": 4 ranges over 4 connections'
ts_trees_equal "$R" "$P"
ts_no_temp_files "$P"

ts_step "-j 1 never splits"
ts_expect_exit 0 ts pull -v -j 1 "tshost:$R" "$TS_LOCAL/one"
if grep -q 'ranges over' "$TS_ERR"; then
	ts_fail "-j 1 split a file"
fi
ts_trees_equal "$R" "$TS_LOCAL/one"

ts_step "without posix-rename a big file that replaces another goes whole"
head -c $((34 << 20)) /dev/urandom >"$L/sub/big.bin"
TREESYNC_TEST_HIDE_EXTENSIONS=posix-rename@openssh.com \
    ts_expect_exit 0 ts push -v -j 4 "$L" "tshost:$R"
if grep -q 'ranges over' "$TS_ERR"; then
	ts_fail "split a replacing upload without posix-rename"
fi
ts_trees_equal "$L" "$R"
ts_no_temp_files "$R"

echo "test_split: ok"
