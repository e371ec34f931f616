#!/usr/bin/env bash
# Host keys: unknown hosts are refused unless --accept-new (which records
# the key), changed and revoked keys are always refused, and known_hosts
# files are read the way OpenSSH reads them: hashed entries, [host]:port,
# patterns, negation, and lines we do not understand skipped.
set -euo pipefail
. "$(dirname "$0")/harness.sh"

ts_sshd_start
R=$TS_REMOTE
K=$TS_TMP/kh
mkdir -p "$K"
hostport="[127.0.0.1]:$TS_PORT"
server_key=$(cut -d' ' -f1,2 "$TS_HOSTKEY_ED25519")
ssh-keygen -q -t ed25519 -N '' -f "$K/other" </dev/null
other_key=$(cut -d' ' -f1,2 "$K/other.pub")

# ls with a given known_hosts file; the rest of the options come after.
ls_with() {
	local kh=$1
	shift
	ts --known-hosts "$kh" "$@" ls "tshost:$R"
}

ts_step "the harness's known_hosts (ed25519 only) works"
ts_expect_exit 0 ls_with "$TS_KNOWN_HOSTS"

ts_step "unknown host (empty known_hosts): exit 6, names the host, suggests --accept-new"
: >"$K/empty"
ts_expect_exit 6 ls_with "$K/empty"
grep -q -e 127.0.0.1 -e tshost "$TS_ERR" ||
    { cat "$TS_ERR" >&2; ts_fail "the message does not name the host"; }
ts_expect_stderr_contains "--accept-new"
[ ! -s "$K/empty" ] || ts_fail "a refused host was recorded anyway"

ts_step "unknown host (known_hosts file missing): exit 6"
ts_expect_exit 6 ls_with "$K/missing"
[ ! -e "$K/missing" ] || ts_fail "a refused host created the known_hosts file"

ts_step "--accept-new connects and records the key"
: >"$K/tofu"
ts_expect_exit 0 ls_with "$K/tofu" --accept-new
ssh-keygen -F "$hostport" -f "$K/tofu" >/dev/null ||
    { cat "$K/tofu" >&2; ts_fail "no entry for $hostport after --accept-new"; }
recorded=$(ssh-keygen -F "$hostport" -f "$K/tofu" | grep -v '^#' |
    awk '{ print $2 " " $3 }')
case $recorded in
"$server_key" | "$(cut -d' ' -f1,2 "$TS_HOSTKEY_ECDSA")") ;;
*) ts_fail "recorded key '$recorded' is not one of the server's keys" ;;
esac

ts_step "the next run without --accept-new succeeds"
ts_expect_exit 0 ls_with "$K/tofu"

ts_step "--accept-new creates a missing known_hosts file"
ts_expect_exit 0 ls_with "$K/created" --accept-new
ssh-keygen -F "$hostport" -f "$K/created" >/dev/null ||
    ts_fail "no entry for $hostport in the created known_hosts"

ts_step "a changed key (line 3): exit 6 with or without --accept-new, file and line named"
{
	echo "# a comment"
	echo "otherhost.example $other_key"
	echo "$hostport $other_key"
} >"$K/changed"
cp "$K/changed" "$K/changed.orig"
ts_expect_exit 6 ls_with "$K/changed"
ts_expect_stderr_contains "$K/changed"
grep -q -E '(:3([^0-9]|$)|line 3([^0-9]|$))' "$TS_ERR" ||
    { cat "$TS_ERR" >&2; ts_fail "the message does not name line 3"; }
ts_expect_exit 6 ls_with "$K/changed" --accept-new
ts_expect_stderr_contains "$K/changed"
cmp -s "$K/changed" "$K/changed.orig" ||
    ts_fail "--accept-new modified a known_hosts holding a changed key"

ts_step "a hashed known_hosts (ssh-keygen -H) works"
cp "$TS_KNOWN_HOSTS" "$K/hashed"
ssh-keygen -q -H -f "$K/hashed" >/dev/null 2>&1
grep -q '^|1|' "$K/hashed" || ts_fail "ssh-keygen -H did not hash the file"
ts_expect_exit 0 ls_with "$K/hashed"

ts_step "a hashed entry with a different key is a changed key: exit 6"
echo "$hostport $other_key" >"$K/hashed-changed"
ssh-keygen -q -H -f "$K/hashed-changed" >/dev/null 2>&1
ts_expect_exit 6 ls_with "$K/hashed-changed"

ts_step "an @revoked server key is refused (exit 6), also with --accept-new"
{
	echo "$hostport $server_key"
	echo "@revoked $hostport $server_key"
} >"$K/revoked"
ts_expect_exit 6 ls_with "$K/revoked"
grep -q -i revoked "$TS_ERR" ||
    { cat "$TS_ERR" >&2; ts_fail "the message does not say 'revoked'"; }
ts_expect_exit 6 ls_with "$K/revoked" --accept-new
echo "@revoked * $server_key" >"$K/revoked-star"
echo "$hostport $server_key" >>"$K/revoked-star"
ts_expect_exit 6 ls_with "$K/revoked-star"

ts_step "garbage lines before the good line are skipped"
{
	printf 'garbage\n'
	printf '||||\n'
	printf '\t\n'
	printf '%s ssh-ed25519 not*base64!!!\n' "$hostport"
	printf '%s ssh-ed25519\n' "$hostport"
	printf '%s ssh-unknown-algo AAAAB3NzaC1yc2E=\n' "$hostport"
	printf '|1|bogus|hash %s\n' "$other_key"
	printf '@cert-authority *.example %s\n' "$other_key"
	printf '%s\n' "$(head -c 5000 /dev/zero | tr '\0' x)"
	printf '\n'
	printf '%s %s\n' "$hostport" "$server_key"
} >"$K/garbage"
ts_expect_exit 0 ls_with "$K/garbage"

ts_step "a bare 127.0.0.1 entry (port 22) with another key does not apply"
{
	echo "127.0.0.1 $other_key"
	echo "$hostport $server_key"
} >"$K/bare"
ts_expect_exit 0 ls_with "$K/bare"

ts_step "comma lists and ? patterns match"
echo "nothere.example,[127.0.0.?]:$TS_PORT $server_key" >"$K/pattern"
ts_expect_exit 0 ls_with "$K/pattern"

ts_step "a negated pattern keeps a line from matching"
{
	echo "!$hostport,* $other_key"
	echo "$hostport $server_key"
} >"$K/negated"
ts_expect_exit 0 ls_with "$K/negated"

echo ok
