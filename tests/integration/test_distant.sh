#!/usr/bin/env bash
# A distant server: 20 ms round trip, through bench/latency_proxy.py.
# There, -j N opens the other connections as soon as the first one's key
# exchange shows the distance (they shake hands while it logs in and walks
# the trees, and list directories with it), closes at once those the
# plan has no work for, and copes when they fail: a host key recorded by
# the first one meanwhile (--accept-new), a server that takes only one.
set -eu
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

ts_sshd_start

LATENCY_PROXY=$TS_SOURCE_DIR/bench/latency_proxy.py
FAULTPROXY=$TS_SOURCE_DIR/tests/integration/faultproxy.py
FAR_CONFIG=$TS_TMP/far_ssh_config
FAR_KNOWN=$TS_TMP/far_known_hosts
TMO=120

# far_start TARGET_PORT: a 20 ms proxy in front of TARGET_PORT (the sshd,
# or a proxy in front of it); the host alias tsfar reaches the server
# through it (FAR_CONFIG, FAR_KNOWN: the server's keys under its port).
far_start() {
	local pf=$TS_TMP/far.$1.port port
	python3 "$LATENCY_PROXY" --target "127.0.0.1:$1" --rtt-ms 20 \
	    --port-file "$pf" </dev/null >/dev/null 2>"$TS_TMP/far.$1.err" &
	ts_cleanup_add "kill $! 2>/dev/null"
	ts_wait_port_file "$pf" latency_proxy.py
	port=$(cat "$pf")
	sed -n "s/^\[127\.0\.0\.1\]:$TS_PORT /[127.0.0.1]:$port /p" \
	    "$TS_KNOWN_HOSTS" >"$FAR_KNOWN"
	sed -e 's/^Host tshost$/Host tsfar/' \
	    -e "s/^\([[:space:]]*Port\) $TS_PORT\$/\1 $port/" \
	    -e "s#$TS_KNOWN_HOSTS#$FAR_KNOWN#" "$TS_SSH_CONFIG" >"$FAR_CONFIG"
}

# far_fault NAME [faultproxy options]: the 20 ms proxy in front of a fault
# proxy (its log: $TS_TMP/NAME.log) in front of the sshd.
far_fault() {
	local name=$1 pf=$TS_TMP/$1.port
	shift
	python3 "$FAULTPROXY" --target-port "$TS_PORT" --port-file "$pf" \
	    --log "$TS_TMP/$name.log" --parent $$ --lifetime 300 "$@" \
	    </dev/null >/dev/null 2>"$TS_TMP/$name.err" &
	ts_cleanup_add "kill $! 2>/dev/null"
	ts_wait_port_file "$pf" faultproxy.py
	far_start "$(cat "$pf")"
}

tsf() {
	timeout -k 5 "$TMO" "$TREESYNC" -F "$FAR_CONFIG" "$@"
}

ts_step "a tree of 600 small files in 6 directories"
L=$TS_LOCAL/src
python3 - "$L" <<'EOF'
import os, random, sys
r = random.Random(7)
for d in range(6):
    os.makedirs("%s/d%d" % (sys.argv[1], d))
    for f in range(100):
        p = "%s/d%d/f%03d" % (sys.argv[1], d, f)
        with open(p, "wb") as o:
            o.write(bytes(r.getrandbits(8) for _ in range(r.randint(1, 4096))))
EOF
far_start "$TS_PORT"

ts_step "push -j 4: the other three open while the first one walks"
R=$TS_REMOTE/far
ts_expect_exit 0 tsf -vv push -j 4 "$L" "tsfar:$R"
# Opened once the key exchange shows the distance, before the login ends.
grep -Eq "connecting took [0-9]+ ms: opening 3 more connections now" \
    "$TS_ERR" || { cat "$TS_ERR" >&2; ts_fail "spares did not open early"; }
n=$(grep -c "connection [2-4] of 4 open" "$TS_ERR") || true
[ "$n" -eq 3 ] || { cat "$TS_ERR" >&2; ts_fail "$n of 3 spares used"; }
ts_trees_equal "$L" "$R"
ts_no_temp_files "$R"

ts_step "a no-op push closes the three at once: the plan needs one"
ts_expect_exit 0 tsf -vv push -j 4 "$L" "tsfar:$R"
ts_expect_stderr_contains "closed 3 connections opened ahead: the plan needs 1"
! grep -q "of 4 open" "$TS_ERR" || ts_fail "a worker opened a connection"

ts_step "-j 1 and diff open no spare"
ts_expect_exit 0 tsf -vv push -j 1 "$L" "tsfar:$R"
! grep -q "more connection" "$TS_ERR" || ts_fail "-j 1 opened a spare"
ts_expect_exit 0 tsf -vv diff -j 4 "$L" "tsfar:$R"
! grep -q "more connection" "$TS_ERR" || ts_fail "diff opened spares"

ts_step "a tree 30 directories deep: the walk lists it over the connections as they open"
D=$TS_LOCAL/deep
python3 - "$D" <<'EOF2'
import os, sys
p = sys.argv[1]
for level in range(30):
    for leaf in range(4):
        os.makedirs("%s/leaf%d" % (p, leaf))
        for f in range(5):
            with open("%s/leaf%d/f%d" % (p, leaf, f), "w") as o:
                o.write("%d.%d.%d\n" % (level, leaf, f))
    p += "/next"
os.makedirs(p)
EOF2
R=$TS_REMOTE/far-deep
ts_expect_exit 0 tsf push -j 4 "$D" "tsfar:$R"
ts_trees_equal "$D" "$R"
# A no-op push: the other connections open while the first one walks,
# are lent to the walk as they do, then closed (the plan needs none).
ts_expect_exit 0 tsf -vv push -j 4 "$D" "tsfar:$R"
grep -Eq "remote walk: 151 directories listed over [234] connections" \
    "$TS_ERR" || { cat "$TS_ERR" >&2; ts_fail "no connection was lent"; }
ts_expect_stderr_contains "the plan needs 1"
! grep -q "of 4 open" "$TS_ERR" || ts_fail "a worker opened a connection"
# A pull walks the server's tree as its source: all of it must come.
P=$TS_LOCAL/deep-pulled
ts_expect_exit 0 tsf -vv pull -j 4 "tsfar:$R" "$P"
grep -Eq "remote walk: 151 directories listed over [234] connections" \
    "$TS_ERR" || { cat "$TS_ERR" >&2; ts_fail "no connection was lent"; }
ts_trees_equal "$D" "$P"
ts_no_temp_files "$P"

ts_step "an unknown host with --accept-new: spares refuse it, the first one records it once"
: >"$FAR_KNOWN"
R=$TS_REMOTE/far-new
ts_expect_exit 0 tsf -vv --accept-new push -j 4 "$L" "tsfar:$R"
n=$(grep -c "added" "$TS_ERR") || true
[ "$n" -eq 1 ] || { cat "$TS_ERR" >&2; ts_fail "the key was added $n times"; }
[ "$(wc -l <"$FAR_KNOWN")" -eq 1 ] ||
    ts_fail "known_hosts has $(wc -l <"$FAR_KNOWN") lines, not 1"
ts_trees_equal "$L" "$R"
ts_no_temp_files "$R"

ts_step "a distant server that takes one connection: carries on with one"
far_fault fp --max-connections 1
R=$TS_REMOTE/far-one
# --no-mux: under openssh, too, each connection is a login of its own.
ts_expect_exit 0 tsf -vv push -j 4 --no-mux "$L" "tsfar:$R"
grep -q " refuse " "$TS_TMP/fp.log" ||
    ts_fail "the fault proxy refused no connection"
n=$(grep -c "carrying on with 1" "$TS_ERR") || true
[ "$n" -eq 1 ] || { cat "$TS_ERR" >&2; ts_fail "said $n times (not once)"; }
ts_trees_equal "$L" "$R"
ts_no_temp_files "$R"

if [ "$(ts_transport)" = openssh ]; then
	ts_step "openssh: the same server, -j 4 as sessions of one connection"
	far_fault fp-mux --max-connections 1
	R=$TS_REMOTE/far-mux
	ts_expect_exit 0 tsf -vv push -j 4 "$L" "tsfar:$R"
	n=$(grep -c " accept " "$TS_TMP/fp-mux.log") || true
	[ "$n" -eq 1 ] && ! grep -q " refuse " "$TS_TMP/fp-mux.log" ||
	    { cat "$TS_TMP/fp-mux.log" >&2; ts_fail "$n TCP connections, expected 1"; }
	ts_expect_stderr_contains "no new login"
	! grep -q "carrying on with" "$TS_ERR" ||
	    ts_fail "carried on with fewer connections: the sessions failed"
	ts_trees_equal "$L" "$R"
	ts_no_temp_files "$R"
fi

ts_step "a connection lent to the walk is cut: the walk is done again without it"
# The second connection (the first spare) is cut once it has sent CUT
# bytes: past its login, while it lists directories of the deep tree.
CUT=${TS_WALK_CUT:-5000}
far_fault fp-walk --skip-connections 1 --faulty-connections 1 \
    --cut-after "$CUT"
R=$TS_REMOTE/far-deep
ts_expect_exit 0 tsf -vv push -j 4 --no-mux "$D" "tsfar:$R"
grep -q " cut conn=2 " "$TS_TMP/fp-walk.log" ||
    { cat "$TS_TMP/fp-walk.log" >&2; ts_fail "the second connection was not cut"; }
ts_expect_stderr_contains "lent to the walk was lost"
ts_expect_stderr_contains "remote walk: 151 directories listed"
ts_trees_equal "$D" "$R"
ts_no_temp_files "$R"

echo ok
