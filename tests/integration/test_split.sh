#!/bin/bash
# A file much bigger than the rest is split into byte ranges that several
# connections move at once into one temporary file, renamed once: push,
# re-push of a changed copy (replacing the old file), --verify=hash (a
# byte flipped on the server is found), pull, and a server without
# posix-rename (a replaced big file is then sent whole); put and get of
# one big file the same way, also when a connection is cut.
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
head -c $((36 << 20)) /dev/urandom >"$L/sub/big.bin"
ino=$(stat -c %i "$R/sub/big.bin")
ts_expect_exit 0 ts push -v -j 3 "$L" "tshost:$R"
ts_expect_stderr_contains '"sub/big.bin": 3 ranges over 3 connections'
ts_trees_equal "$L" "$R"
ts_no_temp_files "$R"
[ "$(stat -c %i "$R/sub/big.bin")" != "$ino" ] ||
    ts_fail "the big file was rewritten in place, not renamed into place"

ts_step "-c finds a byte flipped on the server; the ranges send it again"
ts_flip_byte "$R/sub/big.bin"
touch -r "$L/sub/big.bin" "$R/sub/big.bin"
ts_expect_exit 0 ts push -c -v -j 4 --verify=hash "$L" "tshost:$R"
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

# --- put and get of one big file ---------------------------------------------

B=$L/sub/big.bin
chmod 640 "$B"

ts_step "put -j 4: one big file as 4 ranges; bytes, mtime and mode kept"
ts_expect_exit 0 ts put -v -j 4 --verify=hash "$B" "tshost:$TS_REMOTE/put.bin"
ts_expect_stderr_contains "4 ranges over 4 connections"
ts_files_equal "$B" "$TS_REMOTE/put.bin"
[ "$(stat -c %a "$TS_REMOTE/put.bin")" = 640 ] || ts_fail "put lost the mode"
ts_no_temp_files "$TS_REMOTE"

ts_step "put -j 4 again replaces it (a new inode: renamed into place)"
ino=$(stat -c %i "$TS_REMOTE/put.bin")
ts_expect_exit 0 ts put -v -j 4 "$B" "tshost:$TS_REMOTE/put.bin"
ts_expect_stderr_contains "4 ranges over 4 connections"
[ "$(stat -c %i "$TS_REMOTE/put.bin")" != "$ino" ] ||
    ts_fail "put rewrote the file in place"
ts_files_equal "$B" "$TS_REMOTE/put.bin"

ts_step "get -j 4 --verify=hash: 4 ranges into one local file"
ts_expect_exit 0 ts get -v -j 4 --verify=hash "tshost:$TS_REMOTE/put.bin" \
    "$TS_LOCAL/got.bin"
ts_expect_stderr_contains "4 ranges over 4 connections"
ts_files_equal "$B" "$TS_LOCAL/got.bin"
ts_no_temp_files "$TS_LOCAL"

ts_step "put -j 1, and put without posix-rename, send the file whole"
ts_expect_exit 0 ts put -v -j 1 "$B" "tshost:$TS_REMOTE/put1.bin"
! grep -q 'ranges over' "$TS_ERR" || ts_fail "put -j 1 split the file"
TREESYNC_TEST_HIDE_EXTENSIONS=posix-rename@openssh.com \
    ts_expect_exit 0 ts put -v -j 4 "$B" "tshost:$TS_REMOTE/put.bin"
! grep -q 'ranges over' "$TS_ERR" ||
    ts_fail "put split a file without posix-rename"
ts_files_equal "$B" "$TS_REMOTE/put.bin"

ts_step "a range whose connection is cut goes to another connection"
# The second connection through the proxy is cut after 3 MB up (put) or
# 3 MB down (get); the file still arrives whole, nothing is left over.
proxy_put_get() {	# sets cfg: an ssh config that goes through it
	local pf=$TS_TMP/fp.$1.port port i
	python3 "$TS_SOURCE_DIR/tests/integration/faultproxy.py" \
	    --target-port "$TS_PORT" --port-file "$pf" --log "$TS_TMP/fp.$1.log" \
	    --parent $$ --lifetime 120 --skip-connections 1 \
	    --faulty-connections 1 --cut-after 3000000 --count "$2" \
	    </dev/null >/dev/null 2>&1 &
	ts_cleanup_add "kill $! 2>/dev/null"
	for ((i = 0; i < 100; i++)); do
		[ -s "$pf" ] && break
		sleep 0.1
	done
	port=$(cat "$pf")
	sed -n "s/^\[127\.0\.0\.1\]:$TS_PORT /[127.0.0.1]:$port /p" \
	    "$TS_KNOWN_HOSTS" >>"$TS_KNOWN_HOSTS"
	cfg=$TS_TMP/fp.$1.config
	sed -e "s/^\([[:space:]]*Port\) $TS_PORT\$/\1 $port/" \
	    "$TS_SSH_CONFIG" >"$cfg"
}
proxy_put_get put up
rm -f "$TS_REMOTE/put.bin"
ts_expect_exit 0 "$TREESYNC" -F "$cfg" -v -j 4 --verify=hash put "$B" \
    "tshost:$TS_REMOTE/put.bin"
grep -q " cut " "$TS_TMP/fp.put.log" ||
    { cat "$TS_TMP/fp.put.log" >&2; ts_fail "the proxy cut nothing (put)"; }
ts_expect_stderr_contains "its range goes to another"
ts_files_equal "$B" "$TS_REMOTE/put.bin"
ts_no_temp_files "$TS_REMOTE"
proxy_put_get get down
rm -f "$TS_LOCAL/got.bin"
ts_expect_exit 0 "$TREESYNC" -F "$cfg" -v -j 4 --verify=hash get \
    "tshost:$TS_REMOTE/put.bin" "$TS_LOCAL/got.bin"
grep -q " cut " "$TS_TMP/fp.get.log" ||
    { cat "$TS_TMP/fp.get.log" >&2; ts_fail "the proxy cut nothing (get)"; }
ts_expect_stderr_contains "its range goes to another"
ts_files_equal "$B" "$TS_LOCAL/got.bin"
ts_no_temp_files "$TS_LOCAL"

echo "test_split: ok"
