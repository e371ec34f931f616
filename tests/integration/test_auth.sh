#!/usr/bin/env bash
# Authentication and connection failures get their own exit codes and a
# message that says what to do: a wrong key, an encrypted key with no way
# to ask for its passphrase, an RSA key (libssh2 1.10 signs with SHA-1,
# which OpenSSH >= 8.8 refuses), a closed port, a server that never speaks.
set -euo pipefail
. "$(dirname "$0")/harness.sh"

ts_sshd_start
R=$TS_REMOTE
A=$TS_TMP/auth
mkdir -p "$A"
chmod 700 "$A"

# A config for tshost without IdentityFile: the key comes from --identity.
cat >"$A/config" <<EOF
Host tshost
	HostName 127.0.0.1
	Port $TS_PORT
	User $TS_USER
	UserKnownHostsFile $TS_KNOWN_HOSTS
EOF

# treesync with that config and the key given, detached from any terminal
# (setsid: no /dev/tty to ask a passphrase on), bounded in time.
ts_with_key() {
	local key=$1
	shift
	setsid -w timeout 60 "$TREESYNC" -F "$A/config" --identity "$key" "$@"
}

ts_step "the harness's key works through --identity"
ts_expect_exit 0 ts_with_key "$TS_KEY" ls "tshost:$R"

ts_step "a key the server does not know: exit 7, a clear message"
ssh-keygen -q -t ed25519 -N '' -f "$A/wrong" </dev/null
ts_expect_exit 7 ts_with_key "$A/wrong" ls "tshost:$R"
ts_expect_stderr_contains "treesync: "
grep -q -i -e auth -e denied -e 'not accepted' -e refused "$TS_ERR" ||
    { cat "$TS_ERR" >&2; ts_fail "the message does not say authentication failed"; }

# Exit 7, as for a key the server refuses: the login is what failed (no
# other key may stand in for the one named), and the message names the
# file and says it cannot be read.
ts_step "a missing --identity file: exit 7, the message names the file"
ts_expect_exit 7 ts_with_key "$A/no-such-key" ls "tshost:$R"
ts_expect_stderr_contains "$A/no-such-key"
# libssh2's words, or ssh's own line, quoted.
grep -q -e "cannot be read" -e "not accessible" "$TS_ERR" ||
    { cat "$TS_ERR" >&2; ts_fail "the message does not say the file is unreadable"; }

ts_step "an encrypted key, no agent, no terminal: exit 7, says it needs a passphrase"
ssh-keygen -q -t ed25519 -N secret -f "$A/encrypted" </dev/null
cat "$A/encrypted.pub" >>"$TS_AUTHORIZED_KEYS"
ts_expect_exit 7 ts_with_key "$A/encrypted" ls "tshost:$R"
grep -q -i passphrase "$TS_ERR" ||
    { cat "$TS_ERR" >&2; ts_fail "the message does not mention the passphrase"; }

ssh-keygen -q -t rsa -b 3072 -N '' -f "$A/rsa" </dev/null
cat "$A/rsa.pub" >>"$TS_AUTHORIZED_KEYS"
if [ "$(ts_transport)" = openssh ]; then
	# ssh signs with rsa-sha2-256, which the server takes.
	ts_step "an RSA key in authorized_keys: openssh logs in with it"
	ts_expect_exit 0 ts_with_key "$A/rsa" ls "tshost:$R"
	grep -q "Accepted publickey for .* RSA SHA256:" "$TS_SSHD_LOG" ||
	    ts_fail "the server log shows no login with the RSA key"
else
	ts_step "an RSA key in authorized_keys: exit 7, suggests an ed25519 key"
	ts_expect_exit 7 ts_with_key "$A/rsa" ls "tshost:$R"
	ts_expect_stderr_contains "ed25519"
fi

ts_step "connection refused (closed port): exit 8"
closed=$(ts_free_port)
ts_expect_exit 8 timeout 60 "$TREESYNC" -F "$TS_SSH_CONFIG" -p "$closed" \
    ls "tshost:$R"
ts_expect_stderr_contains "treesync: "
ts_expect_exit 8 timeout 60 "$TREESYNC" --known-hosts "$TS_KNOWN_HOSTS" \
    --identity "$TS_KEY" ls "sftp://$TS_USER@127.0.0.1:$closed$R"

ts_step "a server that accepts TCP but never speaks: exit 8 within 10 s"
# Accepts connections and holds them open without writing a byte.
python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
deadline = time.time() + 300
while time.time() < deadline:
    s.settimeout(1)
    try:
        held.append(s.accept()[0])
    except socket.timeout:
        pass
' "$A/silent.port" </dev/null >/dev/null 2>&1 &
silent_pid=$!
ts_cleanup_add "kill $silent_pid"
ts_wait_port_file "$A/silent.port" "the silent server"
silent=$(cat "$A/silent.port")
start=$(date +%s)
ts_expect_exit 8 timeout 30 "$TREESYNC" -F "$TS_SSH_CONFIG" -p "$silent" \
    --connect-timeout 2 --timeout 2 ls "tshost:$R"
elapsed=$(($(date +%s) - start))
[ "$elapsed" -le 10 ] || ts_fail "gave up after $elapsed s, expected <= 10 s"
ts_expect_stderr_contains "treesync: "

echo ok
