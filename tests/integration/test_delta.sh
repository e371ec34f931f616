#!/bin/bash
# Delta uploads (docs/delta.md): a changed big file whose server copy the
# signature store knows is built on the server from that copy with
# copy-data, only the changes sent, and checked whole by hash there.
# Each case ends with the remote file byte-identical to the local one;
# the bytes sent are the summary's bytes_literal, and for one case the
# bytes the proxy counted on the wire.  A server without copy-data, -W, a
# damaged store and a server file changed behind treesync's back all end
# with the right file, sent whole.
set -eu
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

ts_sshd_start

CACHE=$TS_TMP/cache
MIB=$((1 << 20))
SIZE=$((64 * MIB))
F=$TS_LOCAL/d/big.img
R=$TS_REMOTE/d/big.img
T=1700000000			# mtimes set by hand: each change a new second

mkdir -p "$TS_LOCAL/d"
head -c "$SIZE" /dev/urandom >"$F"
touch -d "@$T" "$F"

# push_json [options]: pushes d with the store, JSON on $TS_OUT, exit 0.
push_json() {
	ts_expect_exit 0 ts push --json --cache-dir "$CACHE" "$@" \
	    "$TS_LOCAL/d" "tshost:$TS_REMOTE/d"
}

# changed: gives the file the next mtime, so the plan sees the change.
changed() {
	T=$((T + 10))
	touch -d "@$T" "$F"
}

literal() { ts_json_summary "$TS_OUT" bytes_literal; }
matched() { ts_json_summary "$TS_OUT" bytes_matched; }

# expect_delta MAX: the last push built the file as a delta, sending at
# most MAX bytes, and the result is the local file.
expect_delta() {
	local lit
	lit=$(literal)
	grep -q '"delta":true' "$TS_OUT" ||
	    ts_fail "not sent as a delta: $(cat "$TS_OUT")"
	[ "$lit" -le "$1" ] || ts_fail "sent $lit bytes, expected at most $1"
	[ "$(matched)" -gt 0 ] || ts_fail "nothing matched"
	ts_files_equal "$F" "$R"
	ts_no_temp_files "$TS_REMOTE"
}

# expect_whole: the last push sent the file whole, and it is right.
expect_whole() {
	local size
	size=$(stat -c %s "$F")
	! grep -q '"delta":true' "$TS_OUT" ||
	    ts_fail "sent as a delta: $(cat "$TS_OUT")"
	[ "$(literal)" -eq "$size" ] ||
	    ts_fail "sent $(literal) bytes, expected the whole $size"
	ts_files_equal "$F" "$R"
	ts_no_temp_files "$TS_REMOTE"
}

ts_step "first push: sent whole, its signature kept"
push_json
expect_whole
[ -n "$(ls "$CACHE/sig")" ] || ts_fail "no signature in the store"

ts_step "1000 bytes changed in the middle: a delta"
head -c 1000 /dev/urandom |
    dd of="$F" bs=1 seek=$((SIZE / 2)) conv=notrunc status=none
changed
push_json -i
expect_delta $((256 * 1024))

ts_step "the same through a counting proxy: few bytes on the wire"
FP_LOG=$TS_TMP/proxy.log
python3 "$TS_SOURCE_DIR/tests/integration/faultproxy.py" \
    --target-port "$TS_PORT" --port-file "$TS_TMP/proxy.port" \
    --log "$FP_LOG" --parent $$ --lifetime 300 \
    </dev/null >/dev/null 2>"$TS_TMP/proxy.stderr" &
FP_PID=$!
ts_cleanup_add "kill $FP_PID 2>/dev/null || true"
ts_wait_port_file "$TS_TMP/proxy.port" "faultproxy.py"
PPORT=$(cat "$TS_TMP/proxy.port")
sed -n "s/^\[127\.0\.0\.1\]:$TS_PORT /[127.0.0.1]:$PPORT /p" \
    "$TS_KNOWN_HOSTS" >>"$TS_KNOWN_HOSTS"
head -c 1000 /dev/urandom |
    dd of="$F" bs=1 seek=$((SIZE / 3)) conv=notrunc status=none
changed
ts_expect_exit 0 ts push --json --cache-dir "$CACHE" -p "$PPORT" \
    "$TS_LOCAL/d" "tshost:$TS_REMOTE/d"
expect_delta $((256 * 1024))
kill "$FP_PID"
wait "$FP_PID" 2>/dev/null || true
up=$(sed -n 's/.* close conn=[0-9]* up=\([0-9]*\) .*/\1/p' "$FP_LOG" |
    awk '{ s += $1 } END { print s + 0 }')
[ "$up" -gt 0 ] || ts_fail "the proxy counted nothing: $(cat "$FP_LOG")"
[ "$up" -lt $((2 * MIB)) ] ||
    ts_fail "$up bytes went up the wire for a 1000-byte change"
echo "wire bytes up: $up"

ts_step "bytes inserted at the start: the rolling checksum finds the rest"
{ head -c 333 /dev/urandom; cat "$F"; } >"$F.new"
mv "$F.new" "$F"
changed
push_json
expect_delta $((256 * 1024))

ts_step "truncated"
truncate -s $((SIZE - 12345)) "$F"
changed
push_json
expect_delta $((256 * 1024))

ts_step "appended to"
head -c 5000 /dev/urandom >>"$F"
changed
push_json
expect_delta $((256 * 1024))

ts_step "-i marks a delta-built file, --stats shows literal and matched data"
head -c 1000 /dev/urandom | dd of="$F" bs=1 seek=50 conv=notrunc status=none
changed
ts_expect_exit 0 ts push -i --stats --cache-dir "$CACHE" "$TS_LOCAL/d" \
    "tshost:$TS_REMOTE/d"
grep -q -E '^>f\.\.t\.\.\.\.\.D big\.img$' "$TS_OUT" ||
    ts_fail "no delta mark: $(cat "$TS_OUT")"
ts_expect_stdout_contains "literal data:"
ts_expect_stdout_contains "matched data:"
ts_files_equal "$F" "$R"

ts_step "-W: sent whole"
head -c 1000 /dev/urandom | dd of="$F" bs=1 seek=100 conv=notrunc status=none
changed
push_json -W
expect_whole

ts_step "a server without copy-data: sent whole"
head -c 1000 /dev/urandom | dd of="$F" bs=1 seek=200 conv=notrunc status=none
changed
TREESYNC_TEST_HIDE_EXTENSIONS=copy-data push_json
expect_whole

ts_step "a server file changed behind treesync's back, same size and mtime"
# The server's copy no longer holds what the store says: a delta built
# on it is wrong, the hash check on the server says so, and the file is
# sent whole; nothing wrong is ever at the final name.
mt=$(stat -c %Y "$R")
head -c 4096 /dev/urandom | dd of="$R" bs=1 seek=$((SIZE / 4)) conv=notrunc \
    status=none
touch -d "@$mt" "$R"
head -c 1000 /dev/urandom | dd of="$F" bs=1 seek=300 conv=notrunc status=none
changed
push_json -v
ts_expect_stderr_contains "did not check out"
expect_whole
push_json			# the dropped record was replaced
expect_whole_or_nothing() { [ "$(literal)" -eq 0 ] || ts_fail "sent again"; }
expect_whole_or_nothing
head -c 1000 /dev/urandom | dd of="$F" bs=1 seek=400 conv=notrunc status=none
changed
push_json
expect_delta $((256 * 1024))

ts_step "a server file changed behind treesync's back, mtime too: sent whole"
echo more >>"$R"
head -c 1000 /dev/urandom | dd of="$F" bs=1 seek=500 conv=notrunc status=none
changed
push_json
expect_whole

ts_step "a tampered store entry: the check on the server catches it"
# The signature the server file's record points to is replaced by the
# signature of the new local file: every block "matches", the server
# copies its old bytes, and the hash check fails.
head -c 1000 /dev/urandom | dd of="$F" bs=1 seek=600 conv=notrunc status=none
changed
ts_expect_exit 0 ts push --cache-dir "$CACHE" "$TS_LOCAL/d" \
    "tshost:$TS_REMOTE/other"		# keeps the new file's signature
newsig=$(ls -t "$CACHE/sig" | head -1)
for s in "$CACHE"/sig/*; do
	[ "$(basename "$s")" = "$newsig" ] || cp "$CACHE/sig/$newsig" "$s"
done
push_json -v
ts_expect_stderr_contains "did not check out"
expect_whole

ts_step "a damaged signature file: sent whole"
head -c 1000 /dev/urandom | dd of="$F" bs=1 seek=700 conv=notrunc status=none
changed
for s in "$CACHE"/sig/*; do
	printf 'garbage' >"$s"
done
push_json
expect_whole

ts_step "a 16 MiB file: its signature made as it is sent whole, then a delta"
head -c $((16 * MIB)) /dev/urandom >"$TS_LOCAL/d/mid.bin"
touch -d "@$T" "$TS_LOCAL/d/mid.bin"
push_json -j 1			# one connection: not split, so streamed
head -c 1000 /dev/urandom | dd of="$TS_LOCAL/d/mid.bin" bs=1 seek=$((8 * MIB)) \
    conv=notrunc status=none
touch -d "@$((T + 3))" "$TS_LOCAL/d/mid.bin"
push_json
grep -q '"path":"mid.bin".*"delta":true' "$TS_OUT" ||
    ts_fail "mid.bin: no delta: $(cat "$TS_OUT")"
[ "$(literal)" -le $((64 * 1024)) ] || ts_fail "mid.bin: sent $(literal)"
ts_files_equal "$TS_LOCAL/d/mid.bin" "$TS_REMOTE/d/mid.bin"

ts_step "small files are always sent whole"
head -c $((MIB - 1)) /dev/urandom >"$TS_LOCAL/d/small"
touch -d "@$T" "$TS_LOCAL/d/small"
push_json
head -c 10 /dev/urandom | dd of="$TS_LOCAL/d/small" bs=1 seek=10 \
    conv=notrunc status=none
touch -d "@$((T + 5))" "$TS_LOCAL/d/small"
push_json
[ "$(literal)" -eq $((MIB - 1)) ] || ts_fail "small file: sent $(literal)"
ts_files_equal "$TS_LOCAL/d/small" "$TS_REMOTE/d/small"

ts_step "put: a delta too"
P=$TS_TMP/put.img
cp "$F" "$P"
ts_expect_exit 0 ts put --cache-dir "$CACHE" "$P" "tshost:$TS_REMOTE/put.img"
head -c 1000 /dev/urandom | dd of="$P" bs=1 seek=$((SIZE / 2)) conv=notrunc \
    status=none
touch -d "@$((T + 1))" "$P"
ts_expect_exit 0 ts put --cache-dir "$CACHE" "$P" "tshost:$TS_REMOTE/put.img"
ts_expect_stdout_contains "a delta: "
lit=$(sed -n 's/.*a delta: \([0-9]*\) bytes sent.*/\1/p' "$TS_OUT")
[ "$lit" -le $((256 * 1024)) ] || ts_fail "put sent $lit bytes"
ts_files_equal "$P" "$TS_REMOTE/put.img"
ts_no_temp_files "$TS_REMOTE"

# backup_day DAY PATH: a backup of PATH into $TS_REMOTE/snap, JSON out.
backup_day() {
	ts_expect_exit 0 ts backup --json --cache-dir "$CACHE" \
	    --stamp "202611$1-020000" "$2" "tshost:$TS_REMOTE/snap"
}

# change_percent FILE: 10 scattered runs of 64 KiB, 1 % of 64 MiB.
change_percent() {
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		head -c 65536 /dev/urandom | dd of="$1" bs=65536 \
		    seek=$((i * 97)) conv=notrunc status=none
	done
}

ts_step "a pull keeps signatures: pushing a changed copy back is a delta"
mkdir -p "$TS_REMOTE/pulled"
head -c "$SIZE" /dev/urandom >"$TS_REMOTE/pulled/p.img"
touch -d "@$T" "$TS_REMOTE/pulled/p.img"
ts_expect_exit 0 ts pull --cache-dir "$CACHE" "tshost:$TS_REMOTE/pulled" \
    "$TS_TMP/pulled"
head -c 1000 /dev/urandom | dd of="$TS_TMP/pulled/p.img" bs=1 seek=4096 \
    conv=notrunc status=none
touch -d "@$((T + 1))" "$TS_TMP/pulled/p.img"
ts_expect_exit 0 ts push -v --json --cache-dir "$CACHE" "$TS_TMP/pulled" \
    "tshost:$TS_REMOTE/pulled"
grep -q '"delta":true' "$TS_OUT" || {
	_ts_show_output "push after pull"
	ls -l --time-style=+%s "$CACHE/idx" "$CACHE/sig" "$TS_TMP/pulled" >&2
	ts_fail "push after pull: no delta"
}
[ "$(literal)" -le $((256 * 1024)) ] || ts_fail "sent $(literal) bytes"
ts_files_equal "$TS_TMP/pulled/p.img" "$TS_REMOTE/pulled/p.img"

ts_step "so does a get: putting a changed copy back is a delta"
ts_expect_exit 0 ts get --cache-dir "$CACHE" "tshost:$TS_REMOTE/pulled/p.img" \
    "$TS_TMP/got.img"
head -c 1000 /dev/urandom | dd of="$TS_TMP/got.img" bs=1 seek=8192 \
    conv=notrunc status=none
touch -d "@$((T + 2))" "$TS_TMP/got.img"
ts_expect_exit 0 ts put --cache-dir "$CACHE" "$TS_TMP/got.img" \
    "tshost:$TS_REMOTE/pulled/p.img"
ts_expect_stdout_contains "a delta: "
ts_files_equal "$TS_TMP/got.img" "$TS_REMOTE/pulled/p.img"

ts_step "backup of a dump changed by 1 %: day 2 sends about 1 %"
mkdir -p "$TS_TMP/bk"
DUMP=$TS_TMP/bk/dump.sql
head -c "$SIZE" /dev/urandom >"$DUMP"
touch -d "@$T" "$DUMP"
backup_day 01 "$DUMP"
ts_files_equal "$DUMP" "$TS_REMOTE/snap/20261101/dump.sql"
change_percent "$DUMP"
touch -d "@$((T + 86400))" "$DUMP"
backup_day 02 "$DUMP"
lit=$(literal)
echo "backup day 2 (file): $lit bytes sent of $SIZE"
[ "$lit" -ge $((SIZE / 200)) ] && [ "$lit" -le $((SIZE / 50)) ] ||
    ts_fail "backup day 2 sent $lit bytes, expected about 1 % of $SIZE"
ts_files_equal "$DUMP" "$TS_REMOTE/snap/20261102/dump.sql"
cmp -s "$TS_REMOTE/snap/20261101/dump.sql" "$TS_REMOTE/snap/20261102/dump.sql" &&
    ts_fail "day 1's snapshot was changed"

ts_step "backup of a directory: the same from the previous snapshot"
mkdir -p "$TS_TMP/bk2/db"
cp -p "$DUMP" "$TS_TMP/bk2/db/dump.sql"
backup_day 03 "$TS_TMP/bk2/db"
change_percent "$TS_TMP/bk2/db/dump.sql"
touch -d "@$((T + 2 * 86400))" "$TS_TMP/bk2/db/dump.sql"
backup_day 04 "$TS_TMP/bk2/db"
lit=$(literal)
echo "backup day 4 (directory): $lit bytes sent of $SIZE"
[ "$lit" -ge $((SIZE / 200)) ] && [ "$lit" -le $((SIZE / 50)) ] ||
    ts_fail "backup day 4 sent $lit bytes, expected about 1 % of $SIZE"
ts_files_equal "$TS_TMP/bk2/db/dump.sql" "$TS_REMOTE/snap/20261104/db/dump.sql"
ts_no_temp_files "$TS_REMOTE"

ts_step "--cache-dir '': no store is made or read, the change goes whole"
cp -p "$DUMP" "$TS_TMP/nostore.sql"
ts_expect_exit 0 env HOME="$TS_TMP/nohome" XDG_CACHE_HOME= \
    "$TREESYNC" -F "$TS_SSH_CONFIG" --cache-dir '' put "$TS_TMP/nostore.sql" \
    "tshost:$TS_REMOTE/nostore.sql"
change_percent "$TS_TMP/nostore.sql"
ts_expect_exit 0 env HOME="$TS_TMP/nohome" XDG_CACHE_HOME= \
    "$TREESYNC" -F "$TS_SSH_CONFIG" --cache-dir '' put "$TS_TMP/nostore.sql" \
    "tshost:$TS_REMOTE/nostore.sql"
! grep -q "a delta" "$TS_OUT" || ts_fail "a delta without a store: $(cat "$TS_OUT")"
[ ! -e "$TS_TMP/nohome" ] || ts_fail "a store was made: $(find "$TS_TMP/nohome")"
ts_files_equal "$TS_TMP/nostore.sql" "$TS_REMOTE/nostore.sql"

echo "PASS"
