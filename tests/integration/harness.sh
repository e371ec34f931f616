# shellcheck shell=bash
#
# Test harness for the integration tests: sourced by every
# tests/integration/test_*.sh (and by scripts/demo.sh).  It starts a real
# OpenSSH sshd on 127.0.0.1 with throwaway keys and its own config, points
# treesync at it, and tears everything down at exit.
#
#	. "$(dirname "$0")/harness.sh"
#	ts_sshd_start [--subsystem internal|openssh|gesftp]
#	    [--force-internal-sftp] [--extra "sshd_config lines"]
#	ts put "$TS_LOCAL/f" "tshost:$TS_REMOTE/f"
#
# Environment it reads: TREESYNC (the binary; default build/treesync),
# TS_SOURCE_DIR (the repository root; default: derived from this file) and
# TS_TRANSPORT (openssh, libssh2 or auto: every treesync the test runs gets
# --transport with it; unset: treesync's own default, auto).
# What it exports after ts_sshd_start: TS_HOST, TS_PORT, TS_USER, TS_KEY,
# TS_KNOWN_HOSTS, TS_SSH_CONFIG, TS_REMOTE, TS_LOCAL, TS_TMP, TS_SSHD_DIR,
# TS_SSHD_LOG, TS_SSHD_PID, TS_AUTHORIZED_KEYS, TS_HOSTKEY_ED25519,
# TS_HOSTKEY_ECDSA (public key files of the server).
#
# A missing sshd is a failure, never a skip: the test command installs it.

TS_SOURCE_DIR=${TS_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TREESYNC=${TREESYNC:-$TS_SOURCE_DIR/build/treesync}
export TS_SOURCE_DIR TREESYNC

TS_SSHD_BIN=${TS_SSHD_BIN:-/usr/sbin/sshd}
TS_HOST=127.0.0.1
TS_USER=$(id -un)
export TS_HOST TS_USER

# Ends the test with a message on stderr.  Works from subshells too: the
# exit code is what ctest sees.
ts_fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# Prints what the test is about to check.
ts_step() {
	printf '== %s\n' "$*"
}

# --- temporary directory, clean-up ----------------------------------------

TS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/treesync-test.XXXXXX") ||
    ts_fail "mktemp -d failed"
export TS_TMP
TS_REMOTE=$TS_TMP/remote	# the server is this machine: same file system
TS_LOCAL=$TS_TMP/local
mkdir -p "$TS_REMOTE" "$TS_LOCAL" "$TS_TMP/home" "$TS_TMP/keys"
chmod 700 "$TS_TMP/home" "$TS_TMP/keys"
export TS_REMOTE TS_LOCAL

# The transport under test: $TREESYNC becomes a wrapper that passes it, so
# that tests calling "$TREESYNC" directly run under it too.
TS_TREESYNC_BIN=$TREESYNC	# the binary itself, whatever the wrapper
case ${TS_TRANSPORT:-} in
'') ;;
auto | openssh | libssh2)
	mkdir -p "$TS_TMP/bin"
	printf '#!/bin/sh\nexec %q --transport %q "$@"\n' "$TREESYNC" \
	    "$TS_TRANSPORT" >"$TS_TMP/bin/treesync"
	chmod +x "$TS_TMP/bin/treesync"
	TREESYNC=$TS_TMP/bin/treesync
	;;
*) ts_fail "TS_TRANSPORT must be openssh, libssh2 or auto, not '$TS_TRANSPORT'" ;;
esac

# No ssh-agent, no ~/.ssh of the machine: only the keys and files the
# harness makes take part.
unset SSH_AUTH_SOCK SSH_AGENT_PID
export HOME=$TS_TMP/home

_ts_sshd_pids=()		# every sshd this test started
_ts_cleanup_cmds=()		# extra clean-up, see ts_cleanup_add
_ts_watchdog_pid=		# "started" once the watchdog runs

# Runs a shell command at exit (e.g. killing a helper started by the test).
ts_cleanup_add() {
	_ts_cleanup_cmds+=("$1")
}

# ts_wait_port_file FILE WHAT: waits up to 10 s for a helper started in
# the background to write its port to FILE; fails naming WHAT otherwise.
ts_wait_port_file() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	ts_fail "$2 did not start (no port in $1 after 10 s)"
}

# Stops one sshd by pid: TERM, up to 5 s, then KILL.  Only a process whose
# command line names our own config file is signalled, so a recycled pid
# is never hit.
_ts_kill_sshd() {
	local pid=$1 conf=$2 i
	[ -n "$pid" ] || return 0
	_ts_is_our_sshd "$pid" "$conf" || return 0
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		_ts_is_our_sshd "$pid" "$conf" || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

_ts_is_our_sshd() {
	local pid=$1 conf=$2 cmdline
	kill -0 "$pid" 2>/dev/null || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	case $cmdline in
	*"$conf"*) return 0 ;;
	*) return 1 ;;
	esac
}

_ts_cleanup() {
	local rc=$? entry cmd
	trap - EXIT INT TERM HUP
	for cmd in "${_ts_cleanup_cmds[@]+"${_ts_cleanup_cmds[@]}"}"; do
		eval "$cmd" >/dev/null 2>&1 || true
	done
	for entry in "${_ts_sshd_pids[@]+"${_ts_sshd_pids[@]}"}"; do
		_ts_kill_sshd "${entry%% *}" "${entry#* }"
	done
	if [ -n "${TS_KEEP_TMP:-}" ]; then
		printf 'harness: kept %s\n' "$TS_TMP" >&2
	else
		chmod -R u+rwx "$TS_TMP" 2>/dev/null || true
		rm -rf "$TS_TMP"
	fi
	exit "$rc"
}
trap _ts_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# If the test is killed with SIGKILL (a ctest timeout, a killed process
# group), its EXIT trap never runs: a watchdog in a session of its own then
# stops the sshds (by the pids in their pid files, if their command line
# still names our config) and removes the temporary directory.  It holds
# none of ctest's pipes open and ends within a second of the test.
_ts_start_watchdog() {
	# shellcheck disable=SC2016	# expanded by the inner bash
	setsid -f bash -c '
		parent=$1 tmp=$2 keep=$3
		trap "" INT HUP
		while kill -0 "$parent" 2>/dev/null; do
			sleep 1
		done
		for pidfile in "$tmp"/sshd.*/sshd.pid; do
			[ -s "$pidfile" ] || continue
			pid=$(cat "$pidfile")
			conf=${pidfile%/sshd.pid}/sshd_config
			ours() {
				tr "\0" " " <"/proc/$pid/cmdline" 2>/dev/null |
				    grep -q -F -e "$conf"
			}
			ours || continue
			kill "$pid" 2>/dev/null
			sleep 1
			! ours || kill -9 "$pid" 2>/dev/null
		done
		[ -n "$keep" ] || rm -rf "$tmp"
	' ts-watchdog "$$" "$TS_TMP" "${TS_KEEP_TMP:-}" \
	    </dev/null >/dev/null 2>&1
	_ts_watchdog_pid=started
}

# --- sshd ------------------------------------------------------------------

# Prints a TCP port on 127.0.0.1 that nobody listens on right now.
ts_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Whether something accepts connections on 127.0.0.1:$1.
_ts_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Host keys (ed25519 and ecdsa) and the user key, made once per test.
_ts_make_keys() {
	local k=$TS_TMP/keys
	[ -f "$k/id_ed25519" ] && return 0
	command -v ssh-keygen >/dev/null ||
	    ts_fail "ssh-keygen not found (install openssh-client: scripts/setup.sh)"
	ssh-keygen -q -t ed25519 -N '' -C ts-host-ed25519 \
	    -f "$k/ssh_host_ed25519_key" </dev/null ||
	    ts_fail "ssh-keygen (host ed25519) failed"
	ssh-keygen -q -t ecdsa -b 256 -N '' -C ts-host-ecdsa \
	    -f "$k/ssh_host_ecdsa_key" </dev/null ||
	    ts_fail "ssh-keygen (host ecdsa) failed"
	ssh-keygen -q -t ed25519 -N '' -C ts-user \
	    -f "$k/id_ed25519" </dev/null ||
	    ts_fail "ssh-keygen (user key) failed"
	cp "$k/id_ed25519.pub" "$k/authorized_keys"
	TS_KEY=$k/id_ed25519
	TS_AUTHORIZED_KEYS=$k/authorized_keys
	TS_HOSTKEY_ED25519=$k/ssh_host_ed25519_key.pub
	TS_HOSTKEY_ECDSA=$k/ssh_host_ecdsa_key.pub
	export TS_KEY TS_AUTHORIZED_KEYS TS_HOSTKEY_ED25519 TS_HOSTKEY_ECDSA
}

# Stops the sshd started last (ts_sshd_start does it before starting anew).
ts_sshd_stop() {
	if [ -n "${TS_SSHD_PID:-}" ]; then
		_ts_kill_sshd "$TS_SSHD_PID" "$TS_SSHD_DIR/sshd_config"
		TS_SSHD_PID=
	fi
}

# ts_logged_sftp_server LOG: prints the path of a wrapper that runs
# OpenSSH's sftp-server logging every request it serves (-l DEBUG3) to
# LOG, for ts_sshd_start --subsystem.
ts_logged_sftp_server() {
	local wrap=$TS_TMP/sftp-server-logged
	printf '#!/bin/sh\nexec /usr/lib/openssh/sftp-server -e -l DEBUG3 2>>%s\n' \
	    "$1" >"$wrap"
	chmod +x "$wrap"
	echo "$wrap"
}

# Starts an sshd on a free port of 127.0.0.1 and writes the client side
# files for it.  Options:
#   --subsystem internal|openssh|gesftp   the sftp subsystem (internal-sftp),
#               or /ABSOLUTE/PATH        or a test's own executable
#   --force-internal-sftp                 ForceCommand internal-sftp: no exec
#   --extra "lines"                       appended to sshd_config
#   --log-level LEVEL                     sshd's LogLevel (VERBOSE)
#   --also                                keep the server started before
#                                         running (TS_PORT etc. become the
#                                         new one's)
# shellcheck disable=SC2120	# the options are optional
ts_sshd_start() {
	local subsystem=internal force=0 extra='' sftp_cmd attempt n d port
	local pid i log_level=VERBOSE also=0

	while [ $# -gt 0 ]; do
		case $1 in
		--subsystem) subsystem=${2:?--subsystem needs a value}; shift 2 ;;
		--subsystem=*) subsystem=${1#*=}; shift ;;
		--force-internal-sftp) force=1; shift ;;
		--extra) extra=${2?--extra needs a value}; shift 2 ;;
		--extra=*) extra=${1#*=}; shift ;;
		--log-level) log_level=${2:?--log-level needs a value}; shift 2 ;;
		--also) also=1; shift ;;
		*) ts_fail "ts_sshd_start: unknown option '$1'" ;;
		esac
	done
	case $subsystem in
	internal) sftp_cmd=internal-sftp ;;
	openssh) sftp_cmd=/usr/lib/openssh/sftp-server ;;
	gesftp) sftp_cmd=/usr/libexec/gesftpserver ;;
	/*) sftp_cmd=$subsystem ;;	# a test's own wrapper
	*) ts_fail "ts_sshd_start: unknown subsystem '$subsystem'" ;;
	esac
	if [ ! -x "$TS_SSHD_BIN" ]; then
		ts_fail "$TS_SSHD_BIN not found: the integration tests need" \
		    "OpenSSH's sshd (run scripts/setup.sh)"
	fi
	if [ "$sftp_cmd" != internal-sftp ] && [ ! -x "$sftp_cmd" ]; then
		ts_fail "$sftp_cmd not found (run scripts/setup.sh)"
	fi
	command -v python3 >/dev/null || ts_fail "python3 not found"
	# sshd as root insists on its privilege separation directory.
	if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
		mkdir -p /run/sshd && chmod 755 /run/sshd
	fi

	[ "$also" -eq 1 ] || ts_sshd_stop
	_ts_make_keys
	[ -n "$_ts_watchdog_pid" ] || _ts_start_watchdog

	n=${#_ts_sshd_pids[@]}
	# A free port can be taken by someone else before sshd binds it
	# (ctest -j): then try another one.
	for attempt in 1 2 3 4 5; do
		d=$TS_TMP/sshd.$n.$attempt
		mkdir -p "$d"
		port=$(ts_free_port) || ts_fail "no free port (python3 failed)"
		cat >"$d/sshd_config" <<EOF
# Written by tests/integration/harness.sh: a throwaway server for one test.
ListenAddress 127.0.0.1
Port $port
HostKey $TS_TMP/keys/ssh_host_ed25519_key
HostKey $TS_TMP/keys/ssh_host_ecdsa_key
PidFile $d/sshd.pid
AuthorizedKeysFile $TS_AUTHORIZED_KEYS
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
X11Forwarding no
PrintMotd no
PrintLastLog no
UseDNS no
# exec channels would otherwise pay for root's slow shell start-up
SetEnv SHLVL=1
LogLevel $log_level
Subsystem sftp $sftp_cmd
EOF
		if [ "$force" -eq 1 ]; then
			echo "ForceCommand internal-sftp" >>"$d/sshd_config"
		fi
		if [ -n "$extra" ]; then
			printf '%s\n' "$extra" >>"$d/sshd_config"
		fi
		: >"$d/sshd.log"

		# sshd checks its config, daemonizes, binds, then writes the
		# pid file: a pid file means the port is bound.  Errors before
		# -E takes over go to the same log (both append).
		# shellcheck disable=SC2094
		if ! "$TS_SSHD_BIN" -f "$d/sshd_config" -E "$d/sshd.log" \
		    </dev/null >>"$d/sshd.log" 2>&1; then
			cat "$d/sshd.log" >&2
			ts_fail "sshd refused to start (config $d/sshd_config)"
		fi
		pid=
		for ((i = 0; i < 150; i++)); do	# 15 s
			if [ -s "$d/sshd.pid" ]; then
				pid=$(cat "$d/sshd.pid")
				break
			fi
			if grep -q -e 'Cannot bind' -e 'Address already in use' \
			    "$d/sshd.log"; then
				break
			fi
			sleep 0.1
		done
		if [ -z "$pid" ]; then
			if grep -q -e 'Cannot bind' -e 'Address already in use' \
			    "$d/sshd.log"; then
				continue	# port race: another port
			fi
			cat "$d/sshd.log" >&2
			ts_fail "sshd did not start within 15 s (log above)"
		fi
		_ts_sshd_pids+=("$pid $d/sshd_config")
		for ((i = 0; i < 100; i++)); do	# 10 s
			_ts_port_open "$port" && break
			if ! kill -0 "$pid" 2>/dev/null; then
				cat "$d/sshd.log" >&2
				ts_fail "sshd (pid $pid) died at start-up"
			fi
			sleep 0.1
		done
		if ! _ts_port_open "$port"; then
			cat "$d/sshd.log" >&2
			ts_fail "sshd does not accept connections on port $port"
		fi
		break
	done
	[ -n "$pid" ] || ts_fail "sshd: no port could be bound in 5 attempts"

	TS_PORT=$port
	TS_SSHD_DIR=$d
	TS_SSHD_LOG=$d/sshd.log
	TS_SSHD_PID=$pid
	export TS_PORT TS_SSHD_DIR TS_SSHD_LOG TS_SSHD_PID

	# Only the ed25519 key is known: connecting proves we negotiate it.
	TS_KNOWN_HOSTS=$d/known_hosts
	printf '[127.0.0.1]:%s %s\n' "$port" \
	    "$(cut -d' ' -f1,2 "$TS_HOSTKEY_ED25519")" >"$TS_KNOWN_HOSTS"
	TS_SSH_CONFIG=$d/ssh_config
	cat >"$TS_SSH_CONFIG" <<EOF
Host tshost
	HostName 127.0.0.1
	Port $port
	User $TS_USER
	IdentityFile $TS_KEY
	IdentitiesOnly yes
	UserKnownHostsFile $TS_KNOWN_HOSTS
EOF
	export TS_KNOWN_HOSTS TS_SSH_CONFIG
}

# Prints the transport treesync uses under this test: openssh or libssh2
# (auto, the default, is openssh where an ssh is on PATH).
ts_transport() {
	case ${TS_TRANSPORT:-auto} in
	auto) if command -v ssh >/dev/null; then echo openssh; else echo libssh2; fi ;;
	*) echo "$TS_TRANSPORT" ;;
	esac
}

# treesync with the harness's ssh config: ts put f "tshost:$TS_REMOTE/f".
ts() {
	"$TREESYNC" -F "$TS_SSH_CONFIG" "$@"
}

# OpenSSH's ssh to the same server, for looking at the server side.
ts_ssh() {
	ssh -F "$TS_SSH_CONFIG" -n -o BatchMode=yes \
	    -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null \
	    -o LogLevel=ERROR tshost "$@"
}

# --- assertions --------------------------------------------------------------

# After ts_expect_exit: the files holding the command's stdout and stderr.
TS_OUT=$TS_TMP/last.stdout
TS_ERR=$TS_TMP/last.stderr
export TS_OUT TS_ERR

_ts_show_output() {
	printf -- '--- command: %s\n' "$1" >&2
	printf -- '--- stdout:\n' >&2
	head -c 4000 "$TS_OUT" >&2
	printf -- '--- stderr:\n' >&2
	head -c 4000 "$TS_ERR" >&2
	printf -- '---\n' >&2
}

# Runs cmd with stdin from /dev/null, stdout in $TS_OUT, stderr in $TS_ERR;
# sets TS_RC.  A sanitizer report fails the test whatever the exit code.
_ts_run() {
	local desc
	desc=$(printf '%q ' "$@")
	"$@" </dev/null >"$TS_OUT" 2>"$TS_ERR" && TS_RC=0 || TS_RC=$?
	if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
	    "$TS_ERR"; then
		_ts_show_output "$desc"
		ts_fail "sanitizer report from: $desc"
	fi
}

# ts_expect_exit CODE cmd args...: runs cmd and fails unless it exits with
# CODE; its stdout and stderr stay in $TS_OUT and $TS_ERR.
ts_expect_exit() {
	local want=$1
	shift
	_ts_run "$@"
	if [ "$TS_RC" -ne "$want" ]; then
		_ts_show_output "$(printf '%q ' "$@")"
		ts_fail "exit code $TS_RC, expected $want: $(printf '%q ' "$@")"
	fi
}

# ts_expect_exit_in "CODE CODE..." cmd args...: the same, any of the codes.
ts_expect_exit_in() {
	local want=$1 c
	shift
	_ts_run "$@"
	for c in $want; do
		[ "$TS_RC" -eq "$c" ] && return 0
	done
	_ts_show_output "$(printf '%q ' "$@")"
	ts_fail "exit code $TS_RC, expected one of $want: $(printf '%q ' "$@")"
}

# ts_expect_stderr_contains TEXT: the last ts_expect_exit's stderr has TEXT.
ts_expect_stderr_contains() {
	if ! grep -q -F -e "$1" "$TS_ERR"; then
		printf -- '--- stderr:\n' >&2
		cat "$TS_ERR" >&2
		ts_fail "stderr does not contain '$1'"
	fi
}

# ts_expect_stdout_contains TEXT: the same for stdout.
ts_expect_stdout_contains() {
	if ! grep -q -F -e "$1" "$TS_OUT"; then
		printf -- '--- stdout:\n' >&2
		cat "$TS_OUT" >&2
		ts_fail "stdout does not contain '$1'"
	fi
}

# ts_files_equal A B: same bytes, same size, same mtime to the second.
ts_files_equal() {
	local a=$1 b=$2 sa sb ma mb
	[ -f "$a" ] || ts_fail "not a regular file: '$a'"
	[ -f "$b" ] || ts_fail "not a regular file: '$b'"
	sa=$(stat -c %s -- "$a")
	sb=$(stat -c %s -- "$b")
	[ "$sa" = "$sb" ] || ts_fail "size differs: '$a' $sa, '$b' $sb"
	cmp -s -- "$a" "$b" || ts_fail "content differs: '$a' and '$b'"
	ma=$(stat -c %Y -- "$a")
	mb=$(stat -c %Y -- "$b")
	[ "$ma" = "$mb" ] ||
	    ts_fail "mtime differs: '$a' $ma, '$b' $mb ($((mb - ma)) s)"
}

# ts_no_temp_files DIR: no treesync temporary file (tempname.h's exact
# form) nor backup lock left anywhere under DIR.
ts_no_temp_files() {
	local found
	found=$(find "$1" -regextype posix-extended \( -regex \
	    '.*/\..*\.treesync-(tmp|old)\.[0-9a-z]{18}-[0-9a-z]{6}' -o \
	    -name '.treesync-backup.lock' \) -print)
	[ -z "$found" ] || ts_fail "temporary files left in '$1': $found"
}
