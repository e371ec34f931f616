#!/usr/bin/env bash
# A backup restores exactly, as root, against a real sshd: files of
# several owners, a hard-link group, a sparse file, user xattrs, POSIX
# ACLs (access and default), a FIFO and a device node, mtimes to the
# nanosecond.  The server keeps only the data (its copies belong to the
# account that wrote them); the rest travels in the snapshot's metadata
# record and comes back with `treesync restore`.
set -euo pipefail
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

[ "$(id -u)" -eq 0 ] || ts_fail "this test runs as root (owners, devices)"
command -v setfacl >/dev/null || ts_fail "setfacl missing: scripts/setup.sh installs acl"
command -v rsync >/dev/null || ts_fail "rsync missing: scripts/setup.sh installs it"
ts_sshd_start
R=$TS_REMOTE
L=$TS_LOCAL

ts_step "a tree with what SFTP cannot keep"
src=$L/src
mkdir -p "$src/sub" "$src/acl.d"
echo "nobody's" >"$src/owned"
chown nobody:nogroup "$src/owned"
chmod 640 "$src/owned"
echo "linked" >"$src/h1"
ln "$src/h1" "$src/h2"
ln "$src/h1" "$src/sub/h3"
truncate -s 64M "$src/sparse"
head -c 1M /dev/urandom | dd of="$src/sparse" bs=1M seek=10 conv=notrunc \
    status=none
python3 -c 'import os, sys
os.setxattr(sys.argv[1], "user.color", b"blue")
os.setxattr(sys.argv[2], "user.note", b"a directory\x00with a NUL")' \
    "$src/owned" "$src/sub"
setfacl -m u:nobody:r "$src/h1"
setfacl -d -m u:nobody:rx "$src/acl.d"
setfacl -m u:nobody:rwx "$src/acl.d"
mkfifo -m 620 "$src/pipe"
mknod -m 666 "$src/null" c 1 3
chmod 4755 "$src/sub"
ln -s h1 "$src/link"
chown -h nobody:nogroup "$src/link"
touch -h -d '2020-01-02 03:04:05.123456789' "$src/link"
for f in owned h1 sparse pipe null sub acl.d sub/h3; do
	touch -d "2021-0$((RANDOM % 9 + 1))-11 10:20:30.$RANDOM$RANDOM" \
	    "$src/$f"
done
touch -d '2019-05-06 07:08:09.987654321' "$src"

ts_step "push -S: holes are not sent, and stay holes on the server"
mkdir -p "$L/sp"
cp --sparse=always "$src/sparse" "$L/sp/tail-hole"
truncate -s 70M "$L/sp/tail-hole"		# it ends in a hole too
ts_expect_exit 0 ts push -S --verify=hash --json "$L/sp" "tshost:$R/sp"
ts_files_equal "$L/sp/tail-hole" "$R/sp/tail-hole"
sent=$(ts_json_summary "$TS_OUT" bytes_sent)
[ "$sent" -le $((2 << 20)) ] ||
    ts_fail "push -S: $sent bytes of a 70 MiB file with 1 MiB of data sent"
used=$(( $(stat -c %b "$R/sp/tail-hole") * 512 ))
[ "$used" -le $((2 << 20)) ] ||
    ts_fail "push -S: the server allocated $used bytes for 1 MiB of data"

ts_step "push -H: the names of one file are one file on the server"
mkdir -p "$L/hl/d"
echo one >"$L/hl/a"
ln "$L/hl/a" "$L/hl/b"
ln "$L/hl/a" "$L/hl/d/c"
ts_expect_exit 0 ts push -H --json "$L/hl" "tshost:$R/hl"
[ "$(stat -c %h "$R/hl/a")" = 3 ] ||
    ts_fail "push -H: a has $(stat -c %h "$R/hl/a") names on the server"
[ "$(stat -c %i "$R/hl/a")" = "$(stat -c %i "$R/hl/d/c")" ] ||
    ts_fail "push -H: a and d/c are not one file"
[ "$(ts_json_summary "$TS_OUT" files_linked)" = 2 ] ||
    ts_fail "push -H: two names should be reported as linked"
ts_expect_exit 0 ts push -H --json "$L/hl" "tshost:$R/hl"
[ "$(ts_json_summary "$TS_OUT" files_linked)" = 0 ] ||
    ts_fail "a second push -H did something"
echo "one, longer" >"$L/hl/b"	# all three names change
ts_expect_exit 0 ts push -H "$L/hl" "tshost:$R/hl"
ts_files_equal "$L/hl/d/c" "$R/hl/d/c"
[ "$(stat -c %h "$R/hl/b")" = 3 ] || ts_fail "push -H: the links broke"
ts_expect_exit 0 ts push "$L/hl" "tshost:$R/hl.plain"
[ "$(stat -c %h "$R/hl.plain/a")" = 1 ] || ts_fail "without -H: linked"

ts_step "backup -S, then restore into an empty directory"
ts_expect_exit 0 ts backup -S "$src" "tshost:$R/bk"
snap=$(cd "$R/bk" && ls -d 2* | head -n 1)
used=$(( $(stat -c %b "$R/bk/$snap/src/sparse") * 512 ))
[ "$used" -le $((2 << 20)) ] ||
    ts_fail "backup -S: the snapshot's copy takes $used bytes"
[ -f "$R/bk/$snap/.treesync-metadata" ] ||
    ts_fail "the snapshot has no metadata record"
head -n 1 "$R/bk/$snap/.treesync-metadata" | grep -q '^treesync-metadata 1$' ||
    ts_fail "the record does not start with its version line"
# On the server the data only: its files belong to the account.
[ "$(stat -c %U "$R/bk/$snap/src/owned")" = root ] ||
    ts_fail "the server copy has an owner the SFTP account cannot set"
ts_expect_exit 0 ts restore "tshost:$R/bk/$snap" "$L/restored"
ts_expect_stderr_contains "the metadata of"
[ ! -e "$L/restored/.treesync-metadata" ] ||
    ts_fail "the record was restored as a file"

ts_step "rsync -aHAXS --dry-run finds nothing to change"
rsync -aHAXS --dry-run --itemize-changes "$src/" "$L/restored/src/" \
    >"$TS_TMP/rsync.out"
if [ -s "$TS_TMP/rsync.out" ]; then
	cat "$TS_TMP/rsync.out" >&2
	ts_fail "rsync sees differences between the source and the restore"
fi

ts_step "owners, modes, mtimes to the nanosecond, xattrs, links, blocks"
python3 - "$src" "$L/restored/src" <<'EOF'
import os, stat, sys
a, b = sys.argv[1], sys.argv[2]
def walk(root):
    out = {"": os.lstat(root)}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = os.lstat(p)
    return out
A, B = walk(a), walk(b)
bad = []
if sorted(A) != sorted(B):
    bad.append("names differ: %s" % sorted(set(A) ^ set(B)))
inode_a, inode_b = {}, {}
for p in sorted(set(A) & set(B)):
    x, y = A[p], B[p]
    for f in ("st_mode", "st_uid", "st_gid", "st_nlink"):
        if getattr(x, f) != getattr(y, f):
            bad.append("%s: %s %o != %o" % (p or ".", f, getattr(x, f),
                                            getattr(y, f)))
    if x.st_mtime_ns != y.st_mtime_ns:
        bad.append("%s: mtime %d != %d" % (p or ".", x.st_mtime_ns,
                                           y.st_mtime_ns))
    if stat.S_ISCHR(x.st_mode) and x.st_rdev != y.st_rdev:
        bad.append("%s: rdev" % p)
    pa, pb = os.path.join(a, p), os.path.join(b, p)
    if not stat.S_ISLNK(x.st_mode):
        xa = {k: os.getxattr(pa, k, follow_symlinks=False)
              for k in os.listxattr(pa, follow_symlinks=False)}
        xb = {k: os.getxattr(pb, k, follow_symlinks=False)
              for k in os.listxattr(pb, follow_symlinks=False)}
        if xa != xb:
            bad.append("%s: xattrs %r != %r" % (p, xa, xb))
    inode_a.setdefault(x.st_ino, set()).add(p)
    inode_b.setdefault(y.st_ino, set()).add(p)
    if stat.S_ISREG(x.st_mode):
        if open(pa, "rb").read() != open(pb, "rb").read():
            bad.append("%s: content" % p)
if sorted(map(sorted, inode_a.values())) != sorted(map(sorted, inode_b.values())):
    bad.append("hard-link groups differ")
sa, sb = A["sparse"].st_blocks * 512, B["sparse"].st_blocks * 512
if sb > sa + (1 << 20):
    bad.append("sparse: %d bytes allocated, the source %d" % (sb, sa))
for l in bad:
    print("  " + l, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

ts_step "a server account that is not root: the record carries what it cannot keep"
acct=tsr$$
useradd -M -d /nonexistent -s /bin/sh -p '*' "$acct" ||
    ts_fail "cannot create the user $acct"
ts_cleanup_add "userdel $acct 2>/dev/null"
# sshd reads authorized_keys as the user: let it (the keys stay 0600).
chmod 711 "$TS_TMP" "$(dirname "$TS_AUTHORIZED_KEYS")"
chmod 644 "$TS_AUTHORIZED_KEYS"
mkdir -p "$R/nr"
chown "$acct" "$R/nr"
ts_expect_exit 0 ts backup -S "$src" "$acct@tshost:$R/nr"
snap2=$(cd "$R/nr" && ls -d 2* | head -n 1)
[ "$(stat -c %U "$R/nr/$snap2/src/owned")" = "$acct" ] ||
    ts_fail "the server copy should belong to the account"
ts_expect_exit 0 ts restore "$acct@tshost:$R/nr/$snap2" "$L/restored2"
rsync -aHAXS --dry-run --itemize-changes "$src/" "$L/restored2/src/" \
    >"$TS_TMP/rsync2.out"
if [ -s "$TS_TMP/rsync2.out" ]; then
	cat "$TS_TMP/rsync2.out" >&2
	ts_fail "restored from a non-root account, rsync sees differences"
fi
# -o/-g to that account: skipped, said once with -v, not a failure.
ts_expect_exit 0 ts -v push -o -g "$src/sub" "$acct@tshost:$R/nr/push"
ts_expect_stderr_contains "may not give files away"

ts_step "push --metadata keeps a record a restore applies; --delete keeps it"
ts_expect_exit 0 ts push -S -H --metadata "$src" "tshost:$R/mirror"
[ -f "$R/mirror/.treesync-metadata" ] || ts_fail "push --metadata: no record"
ts_expect_exit 0 ts push -S -H --delete --metadata "$src" "tshost:$R/mirror"
[ -f "$R/mirror/.treesync-metadata" ] || ts_fail "push --delete removed it"
ts_expect_exit 0 ts restore "tshost:$R/mirror" "$L/from-mirror"
rsync -aHAXS --dry-run --itemize-changes "$src/" "$L/from-mirror/" \
    >"$TS_TMP/rsync3.out"
# The root's own owner and mtime are the restore directory's.
if grep -v '^\.d\.\.t\.\.\.\.\.\. \./$' "$TS_TMP/rsync3.out" | grep -q .; then
	cat "$TS_TMP/rsync3.out" >&2
	ts_fail "restored from a push --metadata, rsync sees differences"
fi

ts_step "day 2: an unchanged tree links the record from the day before"
ts_expect_exit 0 ts -v backup --stamp 20991231-235959 "$src" "tshost:$R/bk"
ts_expect_stderr_contains "metadata record unchanged: linked"

ts_step "a snapshot without a record restores the data and says so"
mkdir -p "$R/plain/d"
echo x >"$R/plain/d/f"
ts_expect_exit 0 ts restore "tshost:$R/plain" "$L/plain"
ts_expect_stderr_contains "has no metadata record"
ts_files_equal "$R/plain/d/f" "$L/plain/d/f"

ts_step "a hostile record cannot reach outside the restore"
mkdir -p "$R/evil"
printf 'treesync-metadata 1\ne f 0777 0 0 root root 1.000000000 - - ../escape\n' \
    >"$R/evil/.treesync-metadata"
echo x >"$L/escape"
chmod 600 "$L/escape"
ts_expect_exit 4 ts restore "tshost:$R/evil" "$L/evil"
ts_expect_stderr_contains "not in the expected form"
[ "$(stat -c %a "$L/escape")" = 600 ] || ts_fail "a file outside was changed"

echo ok
