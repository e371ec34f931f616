#!/usr/bin/env bash
# treesync probe against OpenSSH (internal-sftp, with and without
# commands) and gesftpserver: what it reports matches what the server is,
# --no-write writes nothing, the temporary directory goes, a missing path
# is exit 5 naming it.  The servers of test_interop.sh are probed there.
set -euo pipefail
. "$(dirname "$0")/harness.sh"

# jget KEY: a value of the JSON object in $TS_OUT, as Python prints it.
jget() {
	python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v))' "$TS_OUT" "$1"
}

# jexpect KEY VALUE: the value (as JSON) is VALUE.
jexpect() {
	local got
	got=$(jget "$1")
	[ "$got" = "$2" ] || {
		cat "$TS_OUT" >&2
		ts_fail "probe: $1 is $got, expected $2"
	}
}

# The target directory holds exactly what it held before.
untouched() {
	local now
	now=$(ls -A "$P")
	[ "$now" = "$1" ] || ts_fail "probe left entries: $now"
}

P=$TS_REMOTE/probe
mkdir -p "$P"
touch "$P/keep"

ts_sshd_start
ts_step "internal-sftp: what OpenSSH offers, measured"
ts_expect_exit 0 ts probe --json -j 3 "tshost:$P"
jexpect type '"probe"'
# The system's ssh keeps the server's version to itself.
case $(ts_transport):$(jget ssh_version) in
libssh2:'"SSH-2.0-OpenSSH_'*) ;;
openssh:null) jexpect transport '"openssh (the system'"'"'s ssh)"' ;;
*) ts_fail "ssh_version is $(jget ssh_version) ($(ts_transport))" ;;
esac
jexpect sftp_version 3
jexpect connections_wanted 3
jexpect connections_open 3
jexpect exec true
jexpect sha256sum true
jexpect xxhsum true
jexpect statvfs true
jexpect symlinks true
jexpect symlink_order '"openssh"'
jexpect symlink_guess_right true
jexpect setstat_keeps_mtime true
jexpect case_insensitive false
jexpect rename_replaces false
jexpect instead '[]'
python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))
e = {x["name"]: x for x in p["extensions"]}
assert e["posix-rename@openssh.com"]["offered"] and e["posix-rename@openssh.com"]["used"]
assert e["limits@openssh.com"]["offered"]
assert p["limits"]["max_read"] > 0 and p["uses"]["read"] > 0
# WRITEs as big as the server takes (at most 256 KiB), READs 64 KiB.
assert p["uses"]["write"] == min(p["limits"]["max_write"], 262144) > 65536
assert p["uses"]["read"] == min(p["limits"]["max_read"], 65536)
assert "posix-rename@openssh.com" in p["extensions_offered"]
assert p["free_bytes"] > 0 and p["rtt_ms"] > 0' "$TS_OUT" ||
    { cat "$TS_OUT" >&2; ts_fail "probe: extensions or limits wrong"; }
untouched keep

ts_step "internal-sftp: the table, and --speed"
ts_expect_exit 0 ts probe --speed "tshost:$P"
for line in "ssh version" "round trip" "posix-rename@openssh.com   offered; used" \
    "symlinks                   yes, OpenSSH's order" "upload" "download" \
    "nothing is missing"; do
	grep -q -F -e "$line" "$TS_OUT" ||
	    { cat "$TS_OUT" >&2; ts_fail "probe table lacks '$line'"; }
done
untouched keep

ts_step "--no-write measures nothing that writes"
ts_expect_exit 0 ts probe --no-write --json "tshost:$P"
jexpect symlinks null
jexpect setstat_keeps_mtime null
jexpect exec true
untouched keep
ts_expect_exit 2 ts probe --no-write --speed "tshost:$P"

ts_step "a missing directory: exit 5, named"
ts_expect_exit 5 ts probe "tshost:$P/missing"
ts_expect_stderr_contains "$P/missing"

ts_sshd_start --force-internal-sftp
ts_step "ForceCommand internal-sftp: no commands, read back instead"
ts_expect_exit 0 ts probe --json "tshost:$P"
jexpect exec false
jexpect xxhsum false
grep -q 'no commands: hashes' "$TS_OUT" ||
    { cat "$TS_OUT" >&2; ts_fail "no line for the missing commands"; }
untouched keep

ts_sshd_start --subsystem gesftp
ts_step "gesftpserver: draft-02's order, which it announces"
ts_expect_exit 0 ts probe --json "tshost:$P"
jexpect symlink_order '"draft-02"'
jexpect symlink_guess_right true
python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))
assert "symlink-order@rjk.greenend.org.uk" in p["extensions_offered"]
assert p["limits"] is None
assert any(l.startswith("no limits@openssh.com") for l in p["instead"])' \
    "$TS_OUT" || { cat "$TS_OUT" >&2; ts_fail "gesftp: probe output wrong"; }
untouched keep

echo ok
