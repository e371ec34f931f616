#!/usr/bin/env bash
# Running out of --retries: a fault proxy (faultproxy.py) cuts every
# connection once it has carried some file data, so each reconnection is
# cut again.  With --retries 1 the run gives up after one reconnection
# and says so, with one exit code; what it did finish stays, and nothing
# half-written is left at a final name.  The same with room to retry
# against a proxy that cuts only the first connection ends at 0.
set -euo pipefail
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

ts_sshd_start
FAULTPROXY=$TS_SOURCE_DIR/tests/integration/faultproxy.py
PROXY_CONFIG=$TS_TMP/proxy_ssh_config
N=0

# proxy [faultproxy options]: a proxy in front of the sshd, reached as
# the host alias tsproxy (its own known_hosts line: keys are recorded for
# "[127.0.0.1]:PORT").  Sets PROXY_LOG.
proxy() {
	local pf port i
	N=$((N + 1))
	PROXY_LOG=$TS_TMP/proxy.$N.log
	pf=$TS_TMP/proxy.$N.port
	python3 "$FAULTPROXY" --target-port "$TS_PORT" --port-file "$pf" \
	    --log "$PROXY_LOG" --parent $$ --lifetime 300 "$@" \
	    </dev/null >/dev/null 2>"$TS_TMP/proxy.$N.stderr" &
	ts_cleanup_add "kill $! 2>/dev/null || true"
	for ((i = 0; i < 100; i++)); do		# 10 s
		[ -s "$pf" ] && break
		sleep 0.1
	done
	[ -s "$pf" ] || ts_fail "faultproxy.py did not start"
	port=$(cat "$pf")
	sed -n "s/^\[127\.0\.0\.1\]:$TS_PORT /[127.0.0.1]:$port /p" \
	    "$TS_KNOWN_HOSTS" >>"$TS_KNOWN_HOSTS"
	sed -e 's/^Host tshost$/Host tsproxy/' \
	    -e "s/^\([[:space:]]*Port\) $TS_PORT\$/\1 $port/" \
	    "$TS_SSH_CONFIG" >"$PROXY_CONFIG"
}

# 40 files of 256 KiB: 10 MiB, far more than a connection may carry.
L=$TS_LOCAL/src
mkdir -p "$L"
python3 - "$L" <<'EOF'
import os, sys
for i in range(40):
    with open(os.path.join(sys.argv[1], "f%02d" % i), "wb") as f:
        f.write(os.urandom(262144))
EOF

ts_step "--retries 1, every connection cut after 1 MiB: exit 23, named files"
R=$TS_REMOTE/cut
proxy --cut-after $((1 << 20)) --count up
ts_expect_exit 23 timeout 120 "$TREESYNC" -F "$PROXY_CONFIG" push -j 1 \
    --retries 1 "$L" "tsproxy:$R"
grep -q -E 'not reconnecting \(--retries 1\)' "$TS_ERR" ||
    { cat "$TS_ERR" >&2; ts_fail "no message says the retries ran out"; }
grep -q 'of the changes failed; the rest is done' "$TS_ERR" ||
    { cat "$TS_ERR" >&2; ts_fail "no summary of the failed changes"; }
cuts=$(grep -c ' cut conn=' "$PROXY_LOG" || true)
[ "$cuts" -eq 2 ] ||
    { cat "$PROXY_LOG" >&2; ts_fail "$cuts connections cut, expected 2"; }
# Whatever arrived at a final name is whole; the rest is missing, never
# partial.  Temporary files the cut connections held may stay (no
# connection is left to remove them): the next push sweeps them.
n=0
while IFS= read -r f; do
	ts_files_equal "$L/$(basename "$f")" "$f"
	n=$((n + 1))
done < <(find "$R" -type f ! -name '.*.treesync-tmp.*')
[ "$n" -lt 40 ] || ts_fail "every file arrived although each connection was cut"

ts_step "--retries 0: the first cut ends the run, the same way"
R=$TS_REMOTE/cut0
proxy --cut-after $((1 << 20)) --count up
ts_expect_exit 23 timeout 120 "$TREESYNC" -F "$PROXY_CONFIG" push -j 1 \
    --retries 0 "$L" "tsproxy:$R"
cuts=$(grep -c ' cut conn=' "$PROXY_LOG" || true)
[ "$cuts" -eq 1 ] ||
    { cat "$PROXY_LOG" >&2; ts_fail "$cuts connections cut, expected 1"; }

ts_step "the next run with room to retry finishes the job and sweeps (exit 0)"
proxy --cut-after $((1 << 20)) --count up --faulty-connections 1
ts_expect_exit 0 timeout 120 "$TREESYNC" -F "$PROXY_CONFIG" push -j 1 \
    --retries 1 "$L" "tsproxy:$R"
ts_trees_equal "$L" "$R"
ts_no_temp_files "$R"
echo "ok"
