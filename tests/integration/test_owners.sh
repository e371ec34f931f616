#!/usr/bin/env bash
# -o/-g/-a keep owners and groups both ways, as root against a real sshd:
# set on new and changed entries, by name (the server's names read from
# its /etc/passwd and /etc/group), by id with --numeric-ids; a second run
# changes nothing; an owner change alone is itemized ".f....o....".
set -euo pipefail
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

[ "$(id -u)" -eq 0 ] || ts_fail "this test runs as root (chown)"
ts_sshd_start
R=$TS_REMOTE
L=$TS_LOCAL

owner() { stat -c '%U:%G' "$1"; }

src=$L/src
mkdir -p "$src/dir"
echo a >"$src/a"
echo b >"$src/dir/b"
echo n >"$src/numeric"
chown nobody:nogroup "$src/a" "$src/dir"
chown 12345:23456 "$src/numeric"		# ids without names
ln -s a "$src/link"
chown -h nobody:nogroup "$src/link"

ts_step "push -a sets owners and groups on the server"
ts_expect_exit 0 ts push -a "$src" "tshost:$R/t"
[ "$(owner "$R/t/a")" = nobody:nogroup ] ||
    ts_fail "a is $(owner "$R/t/a") on the server"
[ "$(owner "$R/t/dir")" = nobody:nogroup ] ||
    ts_fail "dir is $(owner "$R/t/dir") on the server"
[ "$(owner "$R/t/dir/b")" = root:root ] ||
    ts_fail "dir/b is $(owner "$R/t/dir/b") on the server"
[ "$(stat -c '%u:%g' "$R/t/numeric")" = 12345:23456 ] ||
    ts_fail "an id without a name did not stay as it is"

ts_step "a second push -a changes nothing"
ts_expect_exit 0 ts push -a --json "$src" "tshost:$R/t"
[ "$(ts_json_summary "$TS_OUT" attrs_set)" = 0 ] ||
    ts_fail "a second push set attributes again"
[ "$(ts_json_summary "$TS_OUT" files_uploaded)" = 0 ] ||
    ts_fail "a second push sent files again"

ts_step "an owner changed alone: one setattr, itemized with 'o'"
chown root "$src/a"
ts_expect_exit 0 ts push -o -i "$src" "tshost:$R/t"
ts_expect_stdout_contains ".f....o.... a"
[ "$(owner "$R/t/a")" = root:nogroup ] ||
    ts_fail "a is $(owner "$R/t/a") on the server after -o"

ts_step "without -o/-g the owners are left alone"
chown nobody "$src/a"
ts_expect_exit 0 ts push --json "$src" "tshost:$R/t"
[ "$(ts_json_summary "$TS_OUT" attrs_set)" = 0 ] ||
    ts_fail "a push without -o set attributes"
[ "$(owner "$R/t/a")" = root:nogroup ] || ts_fail "a push without -o chowned"

ts_step "pull -a sets them locally"
chown -R nobody:nogroup "$R/t/dir"
# A symlink's own owner: push cannot set it (SFTP's SETSTAT follows it).
chown -h daemon:daemon "$R/t/link"
ts_expect_exit 0 ts pull -a "tshost:$R/t" "$L/back"
[ "$(owner "$L/back/dir/b")" = nobody:nogroup ] ||
    ts_fail "dir/b is $(owner "$L/back/dir/b") after pull -a"
[ "$(owner "$L/back/dir")" = nobody:nogroup ] ||
    ts_fail "dir is $(owner "$L/back/dir") after pull -a"
[ "$(stat -c '%u:%g' "$L/back/numeric")" = 12345:23456 ] ||
    ts_fail "pull -a changed an id without a name"
[ "$(stat -c '%U:%G' "$L/back/link")" = daemon:daemon ] ||
    ts_fail "a pulled symlink did not get its owner"

ts_step "--numeric-ids: ids as they are"
chown 4242:4343 "$src/dir/b"
ts_expect_exit 0 ts push -o -g --numeric-ids "$src" "tshost:$R/t"
[ "$(stat -c '%u:%g' "$R/t/dir/b")" = 4242:4343 ] ||
    ts_fail "--numeric-ids: dir/b is $(stat -c '%u:%g' "$R/t/dir/b")"

echo ok
