#!/usr/bin/env bash
# The hash tools on the server, seen from treesync: a server whose
# sha256sum and xxhsum lie (every hash wrong) fails verification with exit
# 9 and never puts a file at its final name; where the server has xxhsum
# it is what check and -c run (a wrapper records each call); where it has
# only sha256sum, that is used.  Each server runs its commands through a
# ForceCommand wrapper that sets PATH, so only this test's sshd sees the
# fake tools.
set -euo pipefail
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

S=$TS_TMP/server-tools
mkdir -p "$S/liar" "$S/recording" "$S/sha-only"

# A sha256sum and an xxhsum that print a wrong hash for every name, in
# the formats treesync reads (sha256sum -z: NUL-ended; xxhsum: lines).
cat >"$S/liar/sha256sum" <<'EOF'
#!/bin/sh
for a in "$@"; do
	case $a in -z|--) continue ;; esac
	printf '%064d  %s\0' 0 "$a"
done
EOF
cat >"$S/liar/xxhsum" <<'EOF'
#!/bin/sh
for a in "$@"; do
	case $a in -H2|--) continue ;; esac
	printf '%032d  %s\n' 0 "$a"
done
EOF
# The real xxhsum, with each call recorded.
cat >"$S/recording/xxhsum" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$S/xxhsum.calls"
exec /usr/bin/xxhsum "\$@"
EOF
# Only what the sha256sum path needs: no xxhsum anywhere on PATH.
ln -s "$(command -v xargs)" "$S/sha-only/xargs"
ln -s "$(command -v sha256sum)" "$S/sha-only/sha256sum"
chmod 755 "$S"/liar/* "$S"/recording/*

# server PATH [MODE]: an sshd whose sessions (commands and the sftp
# server) run with PATH as given.  MODE: "slow" answers treesync's
# "which tools?" probe after 2 s; "refused" fails it after 2 s as a
# server running no commands does (and then so does every command), so a
# delta has begun before the answer; "check-dies" ends the first xxhsum
# check command at once, as a command the server kills would.
server() {
	local w=$S/wrapper.$RANDOM probe=
	rm -f "$S/died"
	case ${2:-} in
	slow) probe='*treesync-exec*) /bin/sleep 2 ;;' ;;
	refused) probe='*sftp-server*) ;;
*treesync-exec*) /bin/sleep 2; exit 1 ;;
*) exit 1 ;;' ;;
	check-dies) probe="*treesync-exec*) ;;
*xxhsum*) [ -e '$S/died' ] || { : >'$S/died'; exit 1; } ;;" ;;
	esac
	cat >"$w" <<EOF
#!/bin/sh
PATH=$1
export PATH
case \$SSH_ORIGINAL_COMMAND in
$probe
esac
case \$SSH_ORIGINAL_COMMAND in
*sftp-server*) exec $TS_SFTP_SERVER ;;
esac
exec /bin/sh -c "\$SSH_ORIGINAL_COMMAND"
EOF
	chmod 755 "$w"
	ts_sshd_start --subsystem openssh --extra "ForceCommand $w"
}
TS_SFTP_SERVER=
for p in /usr/lib/openssh/sftp-server /usr/libexec/sftp-server \
    /usr/lib/ssh/sftp-server; do
	[ -x "$p" ] && TS_SFTP_SERVER=$p && break
done
[ -n "$TS_SFTP_SERVER" ] || ts_fail "no OpenSSH sftp-server found"

L=$TS_LOCAL/src
mkdir -p "$L/sub"
for f in a.txt b.bin sub/c.txt; do
	head -c 100000 /dev/urandom >"$L/$f"
done
touch -d @1650000000 "$L"/a.txt "$L"/b.bin "$L"/sub/c.txt

# --- a server whose hashes lie ------------------------------------------

server "$S/liar:/usr/bin:/bin"

ts_step "put --verify=hash to a lying server: exit 9, nothing at the name"
ts_expect_exit 9 ts put --verify=hash "$L/a.txt" "tshost:$TS_REMOTE/a.txt"
grep -q 'on the server (0000000000000000...) differs' "$TS_ERR" ||
    { cat "$TS_ERR" >&2; ts_fail "the message does not say the hash differed"; }
[ ! -e "$TS_REMOTE/a.txt" ] || ts_fail "an unverified file at its final name"
ts_no_temp_files "$TS_REMOTE"

ts_step "the same file with --verify=size: it is sent (the liar is only asked for hashes)"
ts_expect_exit 0 ts put "$L/a.txt" "tshost:$TS_REMOTE/a.txt"
ts_files_equal "$L/a.txt" "$TS_REMOTE/a.txt"

ts_step "push --verify=hash to a lying server: exit 23, every file named, none in place"
R=$TS_REMOTE/tree
ts_expect_exit 23 ts push --verify=hash "$L" "tshost:$R"
for f in a.txt b.bin sub/c.txt; do
	grep -q -F "$f" "$TS_ERR" || ts_fail "stderr does not name $f"
	[ ! -e "$R/$f" ] || ts_fail "unverified $f at its final name"
done
ts_no_temp_files "$R"

ts_step "check against the lying server: every file differs (exit 24)"
mkdir -p "$R"
cp -a "$L/." "$R/"
ts_expect_exit 24 ts check --json --hash=sha256 "$L" "tshost:$R"
[ "$(ts_json_summary "$TS_OUT" differed)" = 3 ] ||
    ts_fail "check did not find the 3 lies"

# --- xxhsum on the server is what runs ----------------------------------

server "$S/recording:/usr/bin:/bin"
R=$TS_REMOTE/xx
mkdir -p "$R"
cp -a "$L/." "$R/"

ts_step "check on a server with xxhsum: XXH3-128, hashed there by xxhsum"
rm -f "$S/xxhsum.calls"
ts_expect_exit 0 ts check --json "$L" "tshost:$R"
[ "$(ts_json_summary "$TS_OUT" hash)" = xxh128 ] ||
    ts_fail "hash is $(ts_json_summary "$TS_OUT" hash), not xxh128"
[ "$(ts_json_summary "$TS_OUT" hash_where)" = server ] ||
    ts_fail "hashed $(ts_json_summary "$TS_OUT" hash_where), not on the server"
grep -q -e '-H2' "$S/xxhsum.calls" 2>/dev/null ||
    ts_fail "the server's xxhsum was never run"

ts_step "push -c on it: the equal-size files are compared with xxhsum too"
rm -f "$S/xxhsum.calls"
ts_flip_byte "$R/b.bin"
ts_expect_exit 0 ts push -c --json "$L" "tshost:$R"
ts_json_items "$TS_OUT" upload >"$TS_TMP/items"
ts_expect_lines "$TS_TMP/items" $'upload\thash\tb.bin' "push -c"
grep -q -e '-H2' "$S/xxhsum.calls" 2>/dev/null ||
    ts_fail "push -c did not run the server's xxhsum"
ts_trees_equal "$L" "$R"

# --- without xxhsum: sha256sum ------------------------------------------

server "$S/sha-only"

ts_step "check on a server with sha256sum only: SHA-256, hashed there"
ts_expect_exit 0 ts check --json "$L" "tshost:$R"
[ "$(ts_json_summary "$TS_OUT" hash)" = sha256 ] ||
    ts_fail "hash is $(ts_json_summary "$TS_OUT" hash), not sha256"
[ "$(ts_json_summary "$TS_OUT" hash_where)" = server ] ||
    ts_fail "hashed $(ts_json_summary "$TS_OUT" hash_where), not on the server"

# --- a delta begun before the probe answered ------------------------------

# Under openssh the probe runs beside the walk, and a delta does not wait
# for it: it assumes commands and xxhsum.  Each server here answers late,
# so the delta is under way when it learns otherwise.  Under libssh2 the
# probe is asked first: the same servers end with the same files.
openssh=false
[ "$(ts_transport)" = openssh ] && openssh=true
# said TEXT: under openssh, stderr says TEXT.
said() {
	if $openssh; then
		ts_expect_stderr_contains "$1"
	fi
}
CACHE=$TS_TMP/cache
D=$TS_LOCAL/big
mkdir -p "$D"
head -c 3000000 /dev/urandom >"$D/img"
touch -d @1650000000 "$D/img"
# change_img MTIME: 1000 bytes in the middle changed, and the mtime.
change_img() {
	head -c 1000 /dev/urandom | dd of="$D/img" bs=1000 seek=1500 \
	    conv=notrunc status=none
	touch -d "@$1" "$D/img"
}
literal() { ts_json_summary "$TS_OUT" bytes_literal; }
# push_img MTIME: the image changed and pushed with the store (-vv on
# stderr, JSON on $TS_OUT); it must end right, whichever way it went.
push_img() {
	change_img "$1"
	ts_expect_exit 0 ts push -vv --json --cache-dir "$CACHE" "$D" \
	    "tshost:$TS_REMOTE/big"
	ts_files_equal "$D/img" "$TS_REMOTE/big/img"
	ts_no_temp_files "$TS_REMOTE/big"
}
# sent_as delta|whole: how the last push_img sent it.
sent_as() {
	case $1 in
	delta) [ "$(literal)" -lt 100000 ] ||
	    ts_fail "bytes_literal $(literal): not sent as a delta" ;;
	whole) [ "$(literal)" -ge 3000000 ] ||
	    ts_fail "bytes_literal $(literal): not sent whole" ;;
	esac
}

ts_step "sha256sum only, the probe late: the delta goes again, checked by SHA-256"
ts_expect_exit 0 ts push -q --cache-dir "$CACHE" "$D" "tshost:$TS_REMOTE/big"
server "$S/sha-only" slow
push_img 1650000100
said 'the server has no xxhsum; sending it again checked by SHA-256'
sent_as delta

ts_step "no commands, the probe late: the delta is dropped, the file sent whole"
server "/usr/bin:/bin" refused
push_img 1650000200
said 'the server runs no commands; sending it again whole'
sent_as whole

ts_step "xxhsum, the probe late: the delta goes on, checked by XXH128"
server "$S/recording:/usr/bin:/bin" slow
rm -f "$S/xxhsum.calls"
push_img 1650000300
sent_as delta
grep -q -e '-H2' "$S/xxhsum.calls" 2>/dev/null ||
    ts_fail "the delta was not checked by the server's xxhsum"
if grep -q 'sending it again' "$TS_ERR"; then
	cat "$TS_ERR" >&2
	ts_fail "the delta was sent again"
fi

# A check command started ahead is openssh's (libssh2 starts none).
$openssh || { echo "ok"; exit 0; }

ts_step "the first check command dies: a new one checks the delta"
server "$S/recording:/usr/bin:/bin" check-dies
rm -f "$S/xxhsum.calls"
push_img 1650000400
sent_as delta
[ -e "$S/died" ] || ts_fail "no check command was ended"
grep -q -e '-H2' "$S/xxhsum.calls" 2>/dev/null ||
    ts_fail "no xxhsum checked the delta after the first command died"
echo "ok"
