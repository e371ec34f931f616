#!/bin/bash
# Resumable uploads (--partial, on by default for files of 64 MiB and
# more; docs/delta.md): a 64 MiB upload cut at half by the fault proxy
# keeps its temporary file under a name the next run recognises, and the
# next run sends about the other half, the result byte-identical.  With
# --no-partial the cut upload leaves nothing and the next run sends it
# all; a partial upload whose source is gone is removed.
set -eu
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

ts_sshd_start

CACHE=$TS_TMP/cache
SIZE=$((64 << 20))
F=$TS_LOCAL/d/big.img
R=$TS_REMOTE/d/big.img
mkdir -p "$TS_LOCAL/d" "$TS_REMOTE/d"
head -c "$SIZE" /dev/urandom >"$F"
touch -d @1700000000 "$F"

# A proxy that cuts the connection after 32 MiB went up, and the ssh
# config entry tsproxy for it.
python3 "$TS_SOURCE_DIR/tests/integration/faultproxy.py" \
    --target-port "$TS_PORT" --port-file "$TS_TMP/proxy.port" \
    --log "$TS_TMP/proxy.log" --parent $$ --lifetime 600 \
    --cut-after $((SIZE / 2)) --count up \
    </dev/null >/dev/null 2>"$TS_TMP/proxy.stderr" &
FP_PID=$!
ts_cleanup_add "kill $FP_PID 2>/dev/null || true"
ts_wait_port_file "$TS_TMP/proxy.port" "faultproxy.py"
PPORT=$(cat "$TS_TMP/proxy.port")
sed -n "s/^\[127\.0\.0\.1\]:$TS_PORT /[127.0.0.1]:$PPORT /p" \
    "$TS_KNOWN_HOSTS" >>"$TS_KNOWN_HOSTS"

partials() {
	find "$TS_REMOTE" -name '*.treesync-prt.*' | wc -l
}

# cut_push [options]: a push through the proxy, cut at half, no retry.
cut_push() {
	ts_expect_exit_in "4 8 23" ts push -j 1 --retries 0 --cache-dir "$CACHE" \
	    -p "$PPORT" "$@" "$TS_LOCAL/d" "tshost:$TS_REMOTE/d"
	grep -q ' cut conn=' "$TS_TMP/proxy.log" ||
	    ts_fail "the proxy cut nothing: $(cat "$TS_TMP/proxy.log")"
	[ ! -e "$R" ] || ts_fail "a cut upload reached the final name"
}

ts_step "an upload cut at half keeps its partial file"
cut_push
[ "$(partials)" = 1 ] || ts_fail "no partial upload kept: $(ls -la "$TS_REMOTE/d")"
part=$(find "$TS_REMOTE" -name '*.treesync-prt.*')
psize=$(stat -c %s "$part")
echo "partial upload: $psize bytes"
[ "$psize" -gt $((SIZE / 4)) ] || ts_fail "the partial holds only $psize bytes"

ts_step "the next run continues it: about half is sent"
ts_expect_exit 0 ts push --json --cache-dir "$CACHE" "$TS_LOCAL/d" \
    "tshost:$TS_REMOTE/d"
lit=$(ts_json_summary "$TS_OUT" bytes_literal)
echo "resumed: $lit bytes sent of $SIZE"
[ "$lit" -le $((SIZE - psize + (1 << 20))) ] ||
    ts_fail "sent $lit bytes, with $psize already there"
ts_files_equal "$F" "$R"
[ "$(partials)" = 0 ] || ts_fail "the partial upload was left behind"
ts_no_temp_files "$TS_REMOTE"

ts_step "--no-partial: a cut upload leaves nothing, the next run sends all"
rm -f "$R"
touch -d @1700000100 "$F"
cut_push --no-partial
[ "$(partials)" = 0 ] || ts_fail "--no-partial kept a partial upload"
ts_expect_exit 0 ts push --json --no-partial --cache-dir "$CACHE" \
    "$TS_LOCAL/d" "tshost:$TS_REMOTE/d"
[ "$(ts_json_summary "$TS_OUT" bytes_literal)" = "$SIZE" ] ||
    ts_fail "--no-partial: did not send the whole file"
ts_files_equal "$F" "$R"

ts_step "a partial upload whose source is gone is removed"
rm -f "$R"
cut_push
[ "$(partials)" = 1 ] || ts_fail "no partial upload kept"
mv "$F" "$TS_LOCAL/d/renamed.img"
ts_expect_exit 0 ts push --cache-dir "$CACHE" "$TS_LOCAL/d" \
    "tshost:$TS_REMOTE/d"
[ "$(partials)" = 0 ] || ts_fail "the partial of a gone source stayed"
ts_files_equal "$TS_LOCAL/d/renamed.img" "$TS_REMOTE/d/renamed.img"
ts_no_temp_files "$TS_REMOTE"

echo "PASS"
