#!/usr/bin/env bash
# The two transports, side by side whatever TS_TRANSPORT says: what only
# the system's ssh can do (ProxyJump, certificates, an encrypted key held
# by ssh-agent), what libssh2 must refuse by name instead of ignoring,
# Match blocks under both, choosing one (auto, -e, -v), and a connection
# cut under openssh.
set -eu
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

# Our control socket directories go here, to be counted at the end.
export TMPDIR=$TS_TMP/t
mkdir -p "$TMPDIR"
ts_sshd_start
T=$TS_TMP/tr
mkdir -p "$T"
R=$TS_REMOTE/tr
mkdir -p "$R"
echo hello >"$R/hello.txt"
TMO=60

# tso / tsl ARGS...: treesync under openssh / libssh2, bounded in time,
# detached from any terminal.
tso() {
	setsid -w timeout -k 5 "$TMO" "$TREESYNC" --transport openssh "$@"
}
tsl() {
	setsid -w timeout -k 5 "$TMO" "$TREESYNC" --transport libssh2 "$@"
}

# The lines every host entry of ours has: user, known hosts, no others'.
common() {
	printf '\tUser %s\n\tUserKnownHostsFile %s\n' "$TS_USER" \
	    "$TS_KNOWN_HOSTS"
}

ts_step "auto: openssh when ssh is on PATH, libssh2 when not; -v says which"
ts_expect_exit 0 "$TREESYNC" -F "$TS_SSH_CONFIG" --transport auto -v \
    ls "tshost:$R"
ts_expect_stderr_contains "transport: openssh ($(command -v ssh) is on PATH)"
ts_expect_stdout_contains hello.txt
ts_expect_exit 0 env PATH=/nonexistent "$TREESYNC" -F "$TS_SSH_CONFIG" \
    --transport auto -v ls "tshost:$R"
ts_expect_stderr_contains "transport: libssh2 (no ssh program on PATH)"
ts_expect_stdout_contains hello.txt
ts_expect_exit 8 env PATH=/nonexistent "$TREESYNC" -F "$TS_SSH_CONFIG" \
    --transport openssh ls "tshost:$R"
ts_expect_stderr_contains '"ssh"'

ts_step "openssh: AES-GCM first where the CPU has AES, ssh's order where Ciphers is set"
# ssh -v says which cipher the key exchange chose; -vv shows ssh's lines.
if grep -qw aes /proc/cpuinfo &&
    grep -qwE 'pclmulqdq|pmull' /proc/cpuinfo; then
	ts_expect_exit 0 tso -F "$TS_SSH_CONFIG" -e "ssh -v" -vv ls "tshost:$R"
	ts_expect_stderr_contains "asking ssh for AES-GCM first"
	ts_expect_stderr_contains "cipher: aes128-gcm@openssh.com"
fi
{ cat "$TS_SSH_CONFIG"; printf '\tCiphers aes256-ctr,aes128-gcm@openssh.com\n'; } \
    >"$T/ctr"
ts_expect_exit 0 tso -F "$T/ctr" -e "ssh -v" -vv ls "tshost:$R"
ts_expect_stderr_contains "cipher: aes256-ctr"
grep -q "AES-GCM first" "$TS_ERR" && ts_fail "a config's Ciphers was overridden"
ts_expect_exit 0 tso -F "$TS_SSH_CONFIG" -e "ssh -v -c aes256-ctr" -vv \
    ls "tshost:$R"
ts_expect_stderr_contains "cipher: aes256-ctr"

ts_step "openssh: treesync opens ssh's TCP connection (TCP_NODELAY), as ssh would"
ts_expect_exit 0 tso -F "$TS_SSH_CONFIG" -vv ls "tshost:$R"
ts_expect_stderr_contains "is opened by \"$(readlink -f "$TS_TREESYNC_BIN")\", with TCP_NODELAY"
ts_expect_stdout_contains hello.txt
# A closed port: ssh's own words and exit 8, as without the helper.
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ts_expect_exit 8 tso -F "$TS_SSH_CONFIG" -p "$closed" -vv ls "tshost:$R"
ts_expect_stderr_contains "is opened by"
ts_expect_stderr_contains "connect to host 127.0.0.1 port $closed: Connection refused"
# A $SHELL that runs no command (a service account's): ssh connects.
SHELL=/usr/sbin/nologin ts_expect_exit 0 tso -F "$TS_SSH_CONFIG" -vv \
    ls "tshost:$R"
! grep -q "is opened by" "$TS_ERR" ||
    ts_fail "a proxy command was given to ssh with SHELL=nologin"
# Not a command for users.
ts_expect_exit 2 "$TS_TREESYNC_BIN" --connect-fd
ts_expect_stderr_contains "is for ssh to run"

ts_step "-e/--rsh: its words come first on ssh's command line"
# The alias's Port is wrong; ssh's -p on the command line wins over it.
cat >"$T/wrongport" <<EOF
Host wrongport
	HostName 127.0.0.1
	Port 1
	IdentityFile $TS_KEY
	IdentitiesOnly yes
$(common)
EOF
ts_expect_exit 8 tso -F "$T/wrongport" ls "wrongport:$R"
ts_expect_exit 0 "$TREESYNC" -F "$T/wrongport" --transport auto -v \
    -e "ssh -p $TS_PORT" ls "wrongport:$R"
ts_expect_stderr_contains "transport: openssh (an ssh command was given (-e))"
ts_expect_exit 2 "$TREESYNC" --transport libssh2 -e ssh ls "wrongport:$R"
ts_expect_stderr_contains "needs --transport openssh"

ts_step "Match host: applied under both transports"
cat >"$T/match" <<EOF
Host m
	HostName 127.0.0.1
	IdentityFile $TS_KEY
	IdentitiesOnly yes
$(common)
Match host 127.0.0.1 originalhost m
	Port $TS_PORT
Host *
	Port 1
EOF
ts_expect_exit 0 tso -F "$T/match" ls "m:$R"
ts_expect_stdout_contains hello.txt
ts_expect_exit 0 tsl -F "$T/match" ls "m:$R"
ts_expect_stdout_contains hello.txt
printf 'Match exec "true"\n\tPort 1\n' >>"$T/match"
ts_expect_exit 2 tsl -F "$T/match" ls "m:$R"
ts_expect_stderr_contains "\"$T/match\" line 11: Match exec is not supported by the libssh2 transport; use --transport openssh"

ts_step "an RSA-only user key: openssh logs in, libssh2 exits 7 and says why"
ssh-keygen -q -t rsa -b 3072 -N '' -f "$T/rsa" </dev/null
cat "$T/rsa.pub" >>"$TS_AUTHORIZED_KEYS"
cat >"$T/rsacfg" <<EOF
Host r
	HostName 127.0.0.1
	Port $TS_PORT
	IdentityFile $T/rsa
	IdentitiesOnly yes
$(common)
EOF
ts_expect_exit 0 tso -F "$T/rsacfg" ls "r:$R"
grep -q "Accepted publickey for .* RSA SHA256:" "$TS_SSHD_LOG" ||
    ts_fail "the server log shows no login with the RSA key"
ts_expect_exit 7 tsl -F "$T/rsacfg" ls "r:$R"
ts_expect_stderr_contains "RSA"
ts_expect_stderr_contains "ed25519"

ts_step "a user certificate (TrustedUserCAKeys): openssh logs in with it"
ssh-keygen -q -t ed25519 -N '' -C ts-ca -f "$T/ca" </dev/null
ssh-keygen -q -t ed25519 -N '' -C ts-cert-user -f "$T/certkey" </dev/null
ssh-keygen -q -s "$T/ca" -I ts-test-cert -n "$TS_USER" -V -5m:+1h \
    "$T/certkey.pub"
[ -s "$T/certkey-cert.pub" ] || ts_fail "ssh-keygen -s made no certificate"
# The key itself is not in authorized_keys: only the CA vouches for it.
ts_sshd_start --extra "TrustedUserCAKeys $T/ca.pub"
cat >"$T/cert" <<EOF
Host c
	HostName 127.0.0.1
	Port $TS_PORT
	IdentityFile $T/certkey
	CertificateFile $T/certkey-cert.pub
	IdentitiesOnly yes
$(common)
EOF
ts_expect_exit 0 tso -F "$T/cert" ls "c:$R"
ts_expect_stdout_contains hello.txt
grep -q "Accepted publickey for .* ED25519-CERT SHA256:.* ID ts-test-cert" \
    "$TS_SSHD_LOG" || ts_fail "the server log shows no certificate login"
ts_expect_exit 2 tsl -F "$T/cert" ls "c:$R"
ts_expect_stderr_contains "\"$T/cert\" line 5: CertificateFile is not supported by the libssh2 transport; use --transport openssh"

ts_step "an encrypted key held by an ssh-agent the test starts, no .pub file: both log in"
ssh-keygen -q -t ed25519 -N 'agent secret' -C ts-agent -f "$T/enc" </dev/null
cat "$T/enc.pub" >>"$TS_AUTHORIZED_KEYS"
rm "$T/enc.pub"
eval "$(ssh-agent -s -a "$T/agent.sock")" >/dev/null
ts_cleanup_add "kill $SSH_AGENT_PID"
printf '#!/bin/sh\necho "agent secret"\n' >"$T/askpass"
chmod +x "$T/askpass"
SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=none \
    setsid -w ssh-add -q "$T/enc" </dev/null ||
    ts_fail "ssh-add could not load the encrypted key"
fp=$(ssh-add -l -E sha256 | awk '/ts-agent/ {print $2}')
[ -n "$fp" ] || ts_fail "the agent does not hold the key"
cat >"$T/agentcfg" <<EOF
Host a
	HostName 127.0.0.1
	Port $TS_PORT
	IdentityFile $T/enc
	IdentitiesOnly yes
$(common)
EOF
ts_expect_exit 0 tso -F "$T/agentcfg" ls "a:$R"
ts_expect_stdout_contains hello.txt
grep -q "Accepted publickey for .* ED25519 $fp" "$TS_SSHD_LOG" ||
    ts_fail "the server log shows no login with the agent's key"
# libssh2 too finds the key's public half in the file and uses the agent.
before=$(grep -c "Accepted publickey for .* ED25519 $fp" "$TS_SSHD_LOG") || true
ts_expect_exit 0 tsl -F "$T/agentcfg" -v ls "a:$R"
ts_expect_stdout_contains hello.txt
ts_expect_stderr_contains "authenticated with the agent's copy of key \"$T/enc\""
n=$(grep -c "Accepted publickey for .* ED25519 $fp" "$TS_SSHD_LOG") || true
[ "$n" -gt "$before" ] || ts_fail "libssh2: no login with the agent's key"
kill "$SSH_AGENT_PID"
unset SSH_AUTH_SOCK SSH_AGENT_PID

ts_step "openssh, a terminal, an encrypted key: the passphrase is asked once for all connections"
# The key of the agent step, now with no agent: treesync asks on its
# terminal (a pty made here) for ssh (SSH_ASKPASS), once for all three.
mkdir -p "$T/many"
for i in 1 2 3 4 5 6; do head -c 2000000 /dev/urandom >"$T/many/f$i"; done
cat >"$T/askonce.py" <<'EOF'
import os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out, asked = b"", 0
while True:
    r, _, _ = select.select([fd], [], [], 60)
    if not r:
        break
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
    while out.count(b"passphrase for") > asked:
        os.write(fd, b"agent secret\n")
        asked += 1
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
print("asked %d" % asked)
sys.exit(os.waitstatus_to_exitcode(st))
EOF
before=$(grep -c "Accepted publickey for .* ED25519 $fp" "$TS_SSHD_LOG") || true
ts_expect_exit 0 timeout 60 python3 "$T/askonce.py" "$TREESYNC" \
    --transport openssh -F "$T/agentcfg" -j 3 push "$T/many" "a:$R/many"
ts_expect_stdout_contains "passphrase for \"$T/enc\""
ts_expect_stdout_contains "asked 1"
n=$(grep -c "Accepted publickey for .* ED25519 $fp" "$TS_SSHD_LOG") || true
# One login: the other connections are sessions of the first one's.
[ $((n - before)) -eq 1 ] ||
    ts_fail "$((n - before)) logins with the encrypted key, expected 1"
ts_trees_equal "$T/many" "$R/many"

ts_step "the same with --no-mux: a login per connection, still one question"
before=$n
ts_expect_exit 0 timeout 60 python3 "$T/askonce.py" "$TREESYNC" \
    --transport openssh -F "$T/agentcfg" -j 3 --no-mux push "$T/many" \
    "a:$R/many2"
ts_expect_stdout_contains "asked 1"
n=$(grep -c "Accepted publickey for .* ED25519 $fp" "$TS_SSHD_LOG") || true
# The job opens as many connections as its plan needs, up to 3.
[ $((n - before)) -ge 2 ] ||
    ts_fail "$((n - before)) logins with the encrypted key, expected 2 or more"
ts_trees_equal "$T/many" "$R/many2"

ts_step "ProxyJump through a second sshd: its log shows the forwarded connection"
TARGET_PORT=$TS_PORT
TARGET_KH=$TS_KNOWN_HOSTS
ts_sshd_start --also --log-level DEBUG1
cat >"$T/jump" <<EOF
Host bastion
	HostName 127.0.0.1
	Port $TS_PORT
	IdentityFile $TS_KEY
	IdentitiesOnly yes
	User $TS_USER
	UserKnownHostsFile $TS_KNOWN_HOSTS
Host behind
	HostName 127.0.0.1
	Port $TARGET_PORT
	IdentityFile $TS_KEY
	IdentitiesOnly yes
	User $TS_USER
	UserKnownHostsFile $TARGET_KH
	ProxyJump bastion
EOF
ts_expect_exit 0 tso -F "$T/jump" -vv ls "behind:$R"
ts_expect_stdout_contains hello.txt
# ssh connects through the bastion itself.
! grep -q "is opened by" "$TS_ERR" ||
    ts_fail "treesync opened the connection of a ProxyJump host"
grep -q "direct-tcpip.*127.0.0.1 port $TARGET_PORT" "$TS_SSHD_LOG" ||
    grep -q "target 127.0.0.1 port $TARGET_PORT" "$TS_SSHD_LOG" || {
	cat "$TS_SSHD_LOG" >&2
	ts_fail "the bastion's log shows no connection forwarded to the target"
}
ts_expect_exit 2 tsl -F "$T/jump" ls "behind:$R"
ts_expect_stderr_contains "\"$T/jump\" line 15: ProxyJump is not supported by the libssh2 transport; use --transport openssh"

ts_step "openssh: a connection cut mid-transfer is retried, no temp file left"
FP_PORT_FILE=$TS_TMP/fp.port
python3 "$TS_SOURCE_DIR/tests/integration/faultproxy.py" \
    --target-port "$TARGET_PORT" --port-file "$FP_PORT_FILE" \
    --log "$TS_TMP/fp.log" --parent $$ --lifetime 300 \
    --cut-after 3000000 --faulty-connections 1 \
    </dev/null >/dev/null 2>"$TS_TMP/fp.stderr" &
ts_cleanup_add "kill $! 2>/dev/null"
ts_wait_port_file "$FP_PORT_FILE" faultproxy.py
sed -e "s/^\[127\.0\.0\.1\]:$TARGET_PORT /[127.0.0.1]:$(cat "$FP_PORT_FILE") /" \
    "$TARGET_KH" >"$T/fp_known_hosts"
cat >"$T/fp" <<EOF
Host cut
	HostName 127.0.0.1
	Port $(cat "$FP_PORT_FILE")
	IdentityFile $TS_KEY
	IdentitiesOnly yes
	User $TS_USER
	UserKnownHostsFile $T/fp_known_hosts
EOF
mkdir -p "$T/src"
head -c 8000000 /dev/urandom >"$T/src/big.bin"
echo small >"$T/src/small.txt"
ts_expect_exit 0 tso -F "$T/fp" -v --retries 3 -j 1 push "$T/src" \
    "cut:$R/pushed"
grep -q " cut conn=" "$TS_TMP/fp.log" ||
    { cat "$TS_TMP/fp.log" >&2; ts_fail "the proxy never cut the connection"; }
ts_trees_equal "$T/src" "$R/pushed"
ts_no_temp_files "$R/pushed"

ts_step "no control socket directory of ours is left behind"
left=$(find "$TMPDIR" -mindepth 1 -print | head -n 5)
[ -z "$left" ] || ts_fail "left behind: $left"

ts_step "a killed treesync's directory is swept by the next one, a live one's stays"
sh -c 'exit 0' &
dead=$!
wait "$dead"
mkdir -m 700 "$TMPDIR/treesync-$dead-AbCdEf" "$TMPDIR/treesync-$$-GhIjKl"
: >"$TMPDIR/treesync-$dead-AbCdEf/c"
: >"$TMPDIR/treesync-$$-GhIjKl/c"
ts_expect_exit 0 tso -F "$TS_SSH_CONFIG" ls "tshost:$R"
[ ! -e "$TMPDIR/treesync-$dead-AbCdEf" ] ||
    ts_fail "the dead pid $dead's directory was not swept"
[ -e "$TMPDIR/treesync-$$-GhIjKl/c" ] ||
    ts_fail "a live pid's directory was swept"

echo ok
