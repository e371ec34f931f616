#!/bin/bash
# Faults between treesync and the server: connections cut (during the
# walk, in the middle of many small files, in the middle of a large file)
# or stalled, a run killed half-way, a server that allows one connection, a
# file changing while it is sent, a failure that stays.  treesync reaches
# the server through tests/integration/faultproxy.py, which injects the
# faults and logs them, so each case can check that its fault happened.
# Every run must end with the remote tree equal to the source and no
# temporary file left; exit 0 when the retries were enough.
set -eu
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

ts_sshd_start

FAULTPROXY=$TS_SOURCE_DIR/tests/integration/faultproxy.py
TMO=120				# no treesync run may take longer: a hang fails

# --- the proxy ---------------------------------------------------------------

FP_PID=				# the proxy running now, if any
FP_N=0				# proxies started so far
FP_LOG=				# its log
FP_CONFIG=$TS_TMP/proxy_ssh_config

# fp_start [faultproxy options]: starts a proxy in front of the sshd and
# points the host alias tsproxy at it (an ssh config with tshost and
# tsproxy, and a known_hosts line for the proxy's port with the server's
# key, since entries are keyed "[127.0.0.1]:PORT").  Sets FP_PID, FP_LOG.
fp_start() {
	local pf kh port i
	fp_stop
	FP_N=$((FP_N + 1))
	FP_LOG=$TS_TMP/proxy.$FP_N.log
	pf=$TS_TMP/proxy.$FP_N.port
	python3 "$FAULTPROXY" --target-port "$TS_PORT" --port-file "$pf" \
	    --log "$FP_LOG" --parent $$ --lifetime 300 "$@" \
	    </dev/null >/dev/null 2>"$TS_TMP/proxy.$FP_N.stderr" &
	FP_PID=$!
	for ((i = 0; i < 100; i++)); do		# 10 s
		[ -s "$pf" ] && break
		kill -0 "$FP_PID" 2>/dev/null || {
			cat "$TS_TMP/proxy.$FP_N.stderr" >&2
			ts_fail "faultproxy.py $* died at start-up"
		}
		sleep 0.1
	done
	[ -s "$pf" ] || ts_fail "faultproxy.py did not start within 10 s"
	port=$(cat "$pf")
	kh=$TS_TMP/proxy.$FP_N.known_hosts
	{
		cat "$TS_KNOWN_HOSTS"
		sed -n "s/^\[127\.0\.0\.1\]:$TS_PORT /[127.0.0.1]:$port /p" \
		    "$TS_KNOWN_HOSTS"
	} >"$kh"
	{
		sed -e "s#$TS_KNOWN_HOSTS#$kh#" "$TS_SSH_CONFIG"
		sed -e 's/^Host tshost$/Host tsproxy/' \
		    -e "s/^\([[:space:]]*Port\) $TS_PORT\$/\1 $port/" \
		    -e "s#$TS_KNOWN_HOSTS#$kh#" "$TS_SSH_CONFIG"
	} >"$FP_CONFIG"
	grep -q "Port $port\$" "$FP_CONFIG" ||
	    ts_fail "could not write the tsproxy entry of $FP_CONFIG"
}

fp_stop() {
	if [ -n "$FP_PID" ]; then
		kill "$FP_PID" 2>/dev/null || true
		wait "$FP_PID" 2>/dev/null || true
		FP_PID=
	fi
}
ts_cleanup_add 'fp_stop'

# tsp ARGS...: treesync through the proxy (host alias tsproxy), bounded.
tsp() {
	timeout -k 5 "$TMO" "$TREESYNC" -F "$FP_CONFIG" "$@"
}

# tsd ARGS...: treesync straight to the server, bounded.
tsd() {
	timeout -k 5 "$TMO" "$TREESYNC" -F "$TS_SSH_CONFIG" "$@"
}

# fp_count EVENT [REASON]: how many EVENT lines (cut, stall, refuse) the
# current proxy's log has.
fp_count() {
	local n
	n=$(grep -c -E " $1 conn=[0-9]+.*${2:+reason=$2}" "$FP_LOG") || true
	echo "${n:-0}"
}

# fp_expect EVENT [REASON]: the current proxy did at least one EVENT.
fp_expect() {
	if [ "$(fp_count "$@")" -lt 1 ]; then
		printf -- '--- proxy log %s:\n' "$FP_LOG" >&2
		cat "$FP_LOG" >&2
		ts_fail "the proxy did no '$*': the fault never happened"
	fi
}

# check_converged SRC DST: after a run that should have recovered.
check_converged() {
	ts_trees_equal "$1" "$2"
	ts_no_temp_files "$2"
}

# --- the trees ---------------------------------------------------------------

ts_step "a tree of 2,000 small files in 40 directories and 2 of 20 MiB"
L=$TS_LOCAL/src
SMALL=$L/small
BIG=$L/big
python3 - "$SMALL" <<'EOF'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(4242)
t0 = 1650000000
for d in range(40):
    dd = os.path.join(root, "d%02d" % d)
    os.makedirs(dd)
    for f in range(50):
        p = os.path.join(dd, "f%03d.dat" % f)
        n = rnd.randint(100, 8192)
        with open(p, "wb") as fh:
            fh.write(rnd.randbytes(n))
        t = t0 + rnd.randint(0, 10**7)
        os.utime(p, (t, t))
EOF
mkdir -p "$BIG"
head -c $((20 << 20)) /dev/urandom >"$BIG/big1.bin"
head -c $((20 << 20)) /dev/urandom >"$BIG/big2.bin"
touch -d @1650000000 "$BIG/big1.bin" "$BIG/big2.bin"
[ "$(find "$SMALL" -type f | wc -l)" -eq 2000 ] || ts_fail "tree: not 2000 files"

# --- how many bytes a connection costs before the first request ------------

ts_step "measure the handshake: ls through a clean proxy"
fp_start
mkdir -p "$TS_REMOTE/empty"
ts_expect_exit 0 tsp ls "tsproxy:$TS_REMOTE/empty"
fp_stop
read -r HS_UP HS_DOWN < <(sed -n 's/.* close conn=1 up=\([0-9]*\) down=\([0-9]*\).*/\1 \2/p' "$FP_LOG")
if [ -z "${HS_UP:-}" ] || [ -z "${HS_DOWN:-}" ]; then
	cat "$FP_LOG" >&2
	ts_fail "no close line for the ls connection in the proxy log"
fi
echo "   a connection up to an empty listing: $HS_UP bytes up, $HS_DOWN down"

# --- cuts ------------------------------------------------------------------------

ts_step "cut during the walk: the listing replies of the first connections"
# A remote copy with a tenth of the files missing: the walk has 2,000
# entries to read (about 100 bytes each) before anything is sent.
R=$TS_REMOTE/walk
cp -a "$L" "$R"
find "$R/small" -name 'f00[0-4].dat' -delete
fp_start --cut-after $((HS_DOWN + 20000)) --count down --faulty-connections 4
ts_expect_exit 0 tsp push "$L" "tsproxy:$R"
fp_expect cut bytes
# A cut during the walk has sent no file data on its connection yet.
awk -v lim=$((HS_UP + 65536)) '/ cut conn=/ {
	split($4, u, "="); if (u[2] + 0 > lim) bad = 1 }
    END { exit bad }' "$FP_LOG" ||
    { cat "$FP_LOG" >&2; ts_fail "a cut came after file data: not in the walk"; }
check_converged "$L" "$R"

ts_step "cut in the middle of the small-file storm"
R=$TS_REMOTE/storm
fp_start --cut-after $((HS_UP + 400000)) --count up --faulty-connections 4
ts_expect_exit 0 tsp push "$SMALL" "tsproxy:$R"
fp_expect cut bytes
check_converged "$SMALL" "$R"

ts_step "cut in the middle of a large file"
R=$TS_REMOTE/large
# Each big file is written in ranges over the connections: a cut costs
# each file a retry.  Which connections carry the ranges depends on which
# is free first, so under libssh2 each of the four first connections is
# cut once it has sent 8 MiB (the reconnects are not); under openssh they
# all ride the first TCP connection (its master), so the first two
# (that one and the next master) are enough, and more would cost every
# file a retry per cut.
faulty=2
[ "$(ts_transport)" = libssh2 ] && faulty=4
fp_start --cut-after $((HS_UP + (8 << 20))) --count up \
    --faulty-connections "$faulty"
ts_expect_exit 0 tsp push "$BIG" "tsproxy:$R"
fp_expect cut bytes
check_converged "$BIG" "$R"

ts_step "every connection cut at once, twice, mid-push (signals)"
R=$TS_REMOTE/allcut
fp_start --rate $((4 << 20))
tsp push "$L" "tsproxy:$R" </dev/null >"$TS_TMP/allcut.out" \
    2>"$TS_TMP/allcut.err" &
pid=$!
for cut in 1 2; do
	for ((i = 0; i < 100; i++)); do		# 10 s
		[ -n "$(find "$R" -name '*.treesync-tmp*' -size +1M \
		    2>/dev/null)" ] && break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null ||
	    ts_fail "the push ended before cut $cut (too fast?)"
	kill -USR1 "$FP_PID"
	sleep 0.5
done
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || {
	cat "$TS_TMP/allcut.err" >&2
	ts_fail "push with every connection cut twice: exit $rc, expected 0"
}
fp_expect cut signal
check_converged "$L" "$R"

ts_step "a stalled connection (--timeout 3) is given up and its files retried"
R=$TS_REMOTE/stall
fp_start --stall-after $((HS_UP + 2000000)) --count up --faulty-connections 1
start=$(date +%s)
ts_expect_exit 0 tsp push --timeout 3 "$L" "tsproxy:$R"
took=$(($(date +%s) - start))
fp_expect stall bytes
check_converged "$L" "$R"
[ "$took" -le 60 ] || ts_fail "the stall cost $took s with --timeout 3"
# treesync closed the stalled connection itself.
stalled=$(sed -n 's/.* stall conn=\([0-9]*\) .*/\1/p' "$FP_LOG" | head -n 1)
grep -q " close conn=$stalled .*by=client" "$FP_LOG" || {
	cat "$FP_LOG" >&2
	ts_fail "treesync did not close the stalled connection $stalled"
}

# --- a killed run -------------------------------------------------------------

ts_step "a push killed with SIGKILL; the next push removes its temporary files"
R=$TS_REMOTE/killed
fp_start --rate $((4 << 20))
"$TREESYNC" -F "$FP_CONFIG" push "$L" "tsproxy:$R" </dev/null \
    >/dev/null 2>"$TS_TMP/killed.err" &
pid=$!
ts_cleanup_add "kill -9 $pid"
for ((i = 0; i < 200; i++)); do		# 20 s
	[ -n "$(find "$R" -name '*.treesync-tmp*' -size +1M 2>/dev/null)" ] &&
	    break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$pid" 2>/dev/null ||
    ts_fail "the push ended before it could be killed (too fast?)"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
left=$(find "$R" -name '*.treesync-tmp*' | wc -l)
echo "   the killed run left $left temporary files"
[ "$left" -ge 1 ] || ts_fail "the killed run left no temporary file to test with"
fp_stop
ts_expect_exit 0 tsd push "$L" "tshost:$R"
check_converged "$L" "$R"

ts_step "3,000 temporary files left by earlier runs: one push removes them all"
# More than one connection takes requests at once: the sweep must pace
# its removals (it once sent them all and spun when the slots ran out).
# The names are of runs on another machine, started long ago (the run id
# after ".treesync-tmp." begins with its start time in base 36).
R=$TS_REMOTE/leftovers
ts_expect_exit 0 tsd push "$SMALL" "tshost:$R"
python3 - "$R" <<'EOF2'
import os, sys
for d in range(3):
    for i in range(1000):
        p = os.path.join(sys.argv[1], "d%02d" % d,
                         ".f%03d.dat.treesync-tmp.0000001zzzzzz00001-l%05d"
                         % (i % 50, i))
        with open(p, "w") as f:
            f.write("half")
EOF2
ts_expect_exit 0 tsd -v push "$SMALL" "tshost:$R"
ts_expect_stderr_contains "removed 3000 temporary files"
check_converged "$SMALL" "$R"

# --- connections -------------------------------------------------------------

ts_step "-j 1 and -j 16 give identical remote trees"
ts_expect_exit 0 tsd push -j 1 "$L" "tshost:$TS_REMOTE/j1"
ts_expect_exit 0 tsd push -j 16 "$L" "tshost:$TS_REMOTE/j16"
check_converged "$L" "$TS_REMOTE/j1"
check_converged "$L" "$TS_REMOTE/j16"
ts_trees_equal --dir-mtimes "$TS_REMOTE/j1" "$TS_REMOTE/j16"

ts_step "a server that allows one connection: -j 4 carries on with one"
R=$TS_REMOTE/one
fp_start --max-connections 1
# --no-mux: under openssh the -j connections would be sessions of one
# TCP connection (test_distant checks that) and the limit never bites.
ts_expect_exit 0 tsp push -j 4 --no-mux "$L" "tsproxy:$R"
fp_expect refuse
check_converged "$L" "$R"
n=$(grep -c -i 'connections' "$TS_ERR") || true
[ "$n" -eq 1 ] || {
	cat "$TS_ERR" >&2
	ts_fail "stderr says $n times (not once) that fewer connections are used"
}
ts_expect_stderr_contains "carrying on with 1"

# --- a file that changes while it is sent ------------------------------------

ts_step "a file modified during its upload: never a mix at its final name"
M=$TS_LOCAL/mod
R=$TS_REMOTE/mod
mkdir -p "$M"
head -c $((32 << 20)) /dev/urandom >"$M/changing.bin"
touch -d @1650000000 "$M/changing.bin"
fp_start --rate $((6 << 20))
tsp -vv push -j 1 "$M" "tsproxy:$R" </dev/null >"$TS_TMP/mod.out" \
    2>"$TS_TMP/mod.err" &
pid=$!
for ((i = 0; i < 200; i++)); do		# 20 s
	[ -n "$(find "$R" -name '*.treesync-tmp*' -size +4M 2>/dev/null)" ] &&
	    break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$pid" 2>/dev/null ||
    ts_fail "the push of changing.bin ended before the file could be changed"
# New bytes where the upload has been and where it is yet to go: sent
# unnoticed, the remote file would hold old and new parts.
head -c $((1 << 20)) /dev/urandom |
    dd of="$M/changing.bin" conv=notrunc status=none
head -c $((1 << 20)) /dev/urandom |
    dd of="$M/changing.bin" bs=1M seek=31 conv=notrunc status=none
rc=0
wait "$pid" || rc=$?
fp_stop
echo "   push exit $rc; $(grep -c 'will be tried again' "$TS_TMP/mod.err") retries"
# The change is seen when the upload ends (the file's mtime moved): that
# attempt is dropped, nothing reaches the final name, and the file is sent
# again, unchanged this time, within the default --retries.
[ "$rc" -eq 0 ] || {
	cat "$TS_TMP/mod.err" >&2
	ts_fail "push of a changing file: exit $rc, expected 0"
}
grep -q 'changing.bin" will be tried again: .*changed while being sent' \
    "$TS_TMP/mod.err" || {
	cat "$TS_TMP/mod.err" >&2
	ts_fail "the change during the upload was not noticed"
}
ts_files_equal "$M/changing.bin" "$R/changing.bin"
ts_no_temp_files "$R"

# --- many uploads waiting for their hash check ------------------------------

ts_step "--verify=hash on one connection: 2,000 files, each checked before its rename"
# An upload gives up its handle once its bytes are sent, so more of them
# wait for the hash command than files are open at once.
R=$TS_REMOTE/hashed
ts_expect_exit 0 tsd -j 1 --verify=hash push --json "$SMALL" "tshost:$R"
[ "$(ts_json_summary "$TS_OUT" files_created)" -ge 2000 ] ||
    ts_fail "the summary does not count 2000 files created"
check_converged "$SMALL" "$R"

# --- a failure that stays -----------------------------------------------------

ts_step "a non-empty directory where a file belongs: exit 23, the rest is done"
# Without --delete the directory (and what it holds) is not removed: the
# file cannot be sent, for good, and every other file still is.
R=$TS_REMOTE/partial
mkdir -p "$R/d07/f013.dat/inner"
printf 'in the way\n' >"$R/d07/f013.dat/inner/keep"
ts_expect_exit 23 tsd push --json "$SMALL" "tshost:$R"
[ "$(ts_json_summary "$TS_OUT" exit_code)" = 23 ] ||
    ts_fail "the summary's exit_code is not 23"
ts_expect_stderr_contains "f013.dat"
[ "$(cat "$R/d07/f013.dat/inner/keep")" = 'in the way' ] ||
    ts_fail "the directory in the way was changed without --delete"
W=$TS_LOCAL/without-f013
cp -a "$SMALL" "$W"
rm "$W/d07/f013.dat"
mv "$R/d07/f013.dat" "$TS_TMP/f013.dir"
check_converged "$W" "$R"

echo ok
