#!/usr/bin/env bash
# pull of a generated tree (odd names, empty directories, symlinks dangling
# and pointing outside the tree, a 0-byte and a 20 MiB file) from OpenSSH's
# internal-sftp into a missing local directory: a second pull that changes
# nothing, diff in pull order listing exactly the server-side changes,
# --delete and --max-delete, --verify=hash, a local symlink planted where
# the server has a directory (nothing written through it), a server
# without exec (-c reads the files back), the umask and --perms, and a
# full local disk (a 2 MiB tmpfs, when mounting is allowed).
set -euo pipefail
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

umask 022
ts_sshd_start
R=$TS_REMOTE/tree
L=$TS_LOCAL/tree		# missing until the first pull
J=$TS_TMP/items
ts_gen_tree "$R"
# The generated tree plus a 20 MiB file (read in many ranges) and
# symlinks that point outside the tree: recreated as they are.
head -c $((20 * 1024 * 1024)) /dev/urandom >"$R/sub1/large.bin"
touch -d @1650000000 "$R/sub1/large.bin"
ln -s ../../outside-target "$R/sub1/out-rel"
ln -s /etc/passwd "$R/out-abs"
touch -h -d @1650000000 "$R/sub1/out-rel" "$R/out-abs"
touch -d @1600000000 "$R/sub1" "$R"
nfiles=$(ts_tree_list "$R" | grep -c '^f ')

# Every entry of the remote tree as the items of a pull into an empty
# local directory.
all_new=$(ts_tree_list "$R" | sed -e $'s/^f /download\tnew\t/' \
    -e $'s/^d /mkdir\tnew\t/' -e $'s/^l /symlink\tnew\t/')

# The items of --json output in $TS_OUT that change something, without a
# mkdir of the root.
changes() {
	ts_json_items "$TS_OUT" download upload mkdir symlink delete \
	    >"$TS_TMP/changes"
	grep -v -E $'^mkdir\t[^\t]*\t(\\.?|/)$' "$TS_TMP/changes" || true
}

# summary KEY VALUE...: the --json summary in $TS_OUT has these values.
summary_is() {
	local what=$1 got
	shift
	while [ $# -gt 1 ]; do
		got=$(ts_json_summary "$TS_OUT" "$1")
		[ "$got" = "$2" ] ||
		    ts_fail "$what: summary $1 is $got, expected $2"
		shift 2
	done
}

ts_step "diff in pull order into a missing local directory lists everything"
ts_expect_exit 0 ts diff --json "tshost:$R" "$L"
[ ! -e "$L" ] || ts_fail "diff created $L"
changes >"$J"
ts_expect_lines "$J" "$all_new" "diff --json (pull order) into a missing directory"

ts_step "pull -n creates nothing"
ts_expect_exit 0 ts pull -n --json "tshost:$R" "$L"
[ ! -e "$L" ] || ts_fail "pull -n created $L"
changes >"$J"
ts_expect_lines "$J" "$all_new" "pull -n --json"
summary_is "pull -n" dry_run true

ts_step "pull into a missing local directory: the trees are equal"
ts_expect_exit 0 ts pull --json "tshost:$R" "$L"
ts_trees_equal "$R" "$L"
ts_no_temp_files "$L"
changes >"$J"
ts_expect_lines "$J" "$all_new" "pull --json into a missing directory"
summary_is "pull" files_downloaded "$nfiles" errors 0 dry_run false exit_code 0
[ "$(readlink "$L/sub1/out-rel")" = ../../outside-target ] ||
    ts_fail "sub1/out-rel points to $(readlink "$L/sub1/out-rel")"
[ "$(readlink "$L/out-abs")" = /etc/passwd ] ||
    ts_fail "out-abs points to $(readlink "$L/out-abs")"
[ ! -e "$TS_LOCAL/outside-target" ] || ts_fail "a symlink was followed"

ts_step "pull gave directories their mtimes after their contents"
ts_trees_equal --dir-mtimes "$R" "$L"

ts_step "a second pull changes nothing and downloads nothing"
before=$(ts_tree_snapshot "$L")
ts_expect_exit 0 ts pull --json "tshost:$R" "$L"
ts_json_items "$TS_OUT" download mkdir symlink delete setattr >"$J"
ts_expect_lines "$J" "" "items of a second pull"
summary_is "second pull" files_downloaded 0 files_deleted 0 errors 0
after=$(ts_tree_snapshot "$L")
[ "$before" = "$after" ] || {
	diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") >&2 || true
	ts_fail "a second pull changed the local tree"
}

ts_step "--stats of a pull that moved nothing still speaks of bytes received"
ts_expect_exit 0 ts pull --stats "tshost:$R" "$L"
ts_expect_stdout_contains "bytes received:   0 B (0)"

ts_step "diff and check in pull order after a pull report nothing"
ts_expect_exit 0 ts diff "tshost:$R" "$L"
[ ! -s "$TS_OUT" ] || { cat "$TS_OUT" >&2; ts_fail "diff printed changes"; }
ts_expect_exit 0 ts check "tshost:$R" "$L"
ts_expect_exit 0 ts diff --reverse "tshost:$R" "$L"
[ ! -s "$TS_OUT" ] || { cat "$TS_OUT" >&2; ts_fail "diff --reverse printed changes"; }

# --- a known change set on the server ---------------------------------------

ts_step "change, add and remove on the server; diff lists exactly them"
printf 'more' >>"$R/top.txt"
printf 'new\n' >"$R/-new.txt"
mkdir "$R/newdir"
printf 'new too\n' >"$R/newdir/日本.txt"
rm "$R/secret.txt"
ln -sfn sub1/file-b.txt "$R/link-to-file"
printf 'local only\n' >"$L/extra.txt"
mkdir "$L/extra-dir"
printf 'x\n' >"$L/extra-dir/x"
want=$(printf '%s\n' \
    $'download\tsize\ttop.txt' \
    $'download\tnew\t-new.txt' \
    $'download\tnew\tnewdir/日本.txt' \
    $'mkdir\tnew\tnewdir' \
    $'symlink\ttarget\tlink-to-file')
deletes=$(printf '%s\n' $'delete\tgone\textra.txt' \
    $'delete\tgone\textra-dir' $'delete\tgone\textra-dir/x' \
    $'delete\tgone\tsecret.txt')
ts_expect_exit 0 ts diff --json "tshost:$R" "$L"
changes >"$J"
ts_expect_lines "$J" "$want" "diff --json (pull order) after server changes"
ts_expect_exit 0 ts diff --json --delete "tshost:$R" "$L"
changes >"$J"
ts_expect_lines "$J" "$want
$deletes" "diff --json --delete (pull order)"

ts_step "pull --delete --max-delete 3 with 4 deletions: exit 25, none deleted"
ts_expect_exit 25 ts pull --json --delete --max-delete 3 "tshost:$R" "$L"
for f in extra.txt extra-dir/x secret.txt; do
	[ -e "$L/$f" ] || ts_fail "--max-delete 3 let the deletion of $f through"
done
summary_is "--max-delete 3" files_deleted 0 exit_code 25
ts_files_equal "$R/top.txt" "$L/top.txt"
ts_files_equal "$R/newdir/日本.txt" "$L/newdir/日本.txt"
ts_no_temp_files "$L"

ts_step "pull --delete removes the local extras: the trees are equal"
ts_expect_exit 0 ts pull --json --delete "tshost:$R" "$L"
ts_trees_equal --dir-mtimes "$R" "$L"
ts_no_temp_files "$L"
summary_is "pull --delete" files_deleted 4

ts_step "pull --verify=hash of changed files"
ts_flip_byte "$R/sub1/large.bin"
touch -d @1650000100 "$R/sub1/large.bin"
printf 'changed\n' >"$R/sub1/zero"
ts_expect_exit 0 ts pull --json --verify=hash "tshost:$R" "$L"
changes >"$J"
ts_expect_lines "$J" $'download\tmtime\tsub1/large.bin
download\tsize\tsub1/zero' "pull --verify=hash"
ts_trees_equal "$R" "$L"
ts_no_temp_files "$L"

ts_step "pull -c finds a same-size same-mtime change on the server"
ts_flip_byte "$R/sub1/sub2/same-size.bin"
ts_expect_exit 0 ts pull --json "tshost:$R" "$L"
ts_json_items "$TS_OUT" download >"$J"
ts_expect_lines "$J" "" "pull without -c"
ts_expect_exit 0 ts pull -c --json "tshost:$R" "$L"
changes >"$J"
ts_expect_lines "$J" $'download\thash\tsub1/sub2/same-size.bin' "pull -c"
ts_trees_equal --dir-mtimes "$R" "$L"

# --- a local symlink where the server has a directory -----------------------

# The server has pl/sub/ with files; locally pl/sub is a symlink to a
# directory outside the local root.  Nothing may be written there.
ts_step "a local symlink planted where the server has a directory"
RP=$TS_REMOTE/pl
LP=$TS_LOCAL/pl
OUT=$TS_TMP/outside
mkdir -p "$RP/sub/deeper" "$LP" "$OUT"
printf 'server\n' >"$RP/sub/f.txt"
printf 'deeper\n' >"$RP/sub/deeper/g.txt"
printf 'top\n' >"$RP/top.txt"
printf 'outside, keep\n' >"$OUT/keep.txt"
ln -s "$OUT" "$LP/sub"
out_before=$(ts_tree_snapshot --ctime "$OUT")
check_outside() {
	local now
	now=$(ts_tree_snapshot --ctime "$OUT")
	[ "$now" = "$out_before" ] || {
		diff <(printf '%s\n' "$out_before") <(printf '%s\n' "$now") >&2 ||
		    true
		ts_fail "$1 wrote into the directory outside the local root"
	}
}
# The symlink is a local entry of another type, alone (nothing is under
# a symlink): it is replaced by the directory, as any type change without
# --delete, and the pull succeeds.
ts_expect_exit 0 ts pull --json "tshost:$RP" "$LP"
check_outside "pull (no --delete)"
ts_no_temp_files "$OUT"
echo "   pull without --delete: exit $TS_RC; local sub is now: $(stat -c %F "$LP/sub")"
sed 's/^/   stderr: /' "$TS_ERR"
ts_files_equal "$RP/top.txt" "$LP/top.txt"
if [ -L "$LP/sub" ]; then
	[ "$TS_RC" -eq 23 ] ||
	    ts_fail "the symlink sub was kept, yet the pull exited $TS_RC, not 23"
fi
ts_expect_exit 0 ts pull --json --delete "tshost:$RP" "$LP"
check_outside "pull --delete"
if [ -L "$LP/sub" ] || [ ! -d "$LP/sub" ]; then
	ts_fail "pull --delete did not replace the symlink sub by a directory"
fi
ts_trees_equal "$RP" "$LP"
ts_no_temp_files "$LP"

# --- a server without exec ----------------------------------------------------

ts_step "pull -c from a ForceCommand internal-sftp server (no exec)"
ts_sshd_start --force-internal-sftp
ts_flip_byte "$R/sub1/file-a.txt"
ts_expect_exit 0 ts pull -c --json "tshost:$R" "$L"
changes >"$J"
ts_expect_lines "$J" $'download\thash\tsub1/file-a.txt' "pull -c (no exec)"
ts_trees_equal "$R" "$L"
ts_no_temp_files "$L"

# --- the umask and --perms ------------------------------------------------------

ts_step "with umask 077 files come without group/other bits unless --perms"
U=$TS_LOCAL/umask
P=$TS_LOCAL/perms
(umask 077 && ts_expect_exit 0 ts pull "tshost:$R" "$U")
bad=$(find "$U" ! -type l -perm /077 -printf '%m %P\n')
[ -z "$bad" ] || ts_fail "group/other bits under umask 077: $bad"
[ "$(stat -c %a "$U/run.sh")" = 700 ] ||
    ts_fail "run.sh: mode $(stat -c %a "$U/run.sh") under umask 077, expected 700"
(umask 077 && ts_expect_exit 0 ts pull --perms "tshost:$R" "$P")
ts_trees_equal "$R" "$P"

# --- a full local disk ------------------------------------------------------------

ts_step "a full local disk: the run stops, nothing half-written is left"
RF=$TS_REMOTE/full
FULL=$TS_TMP/tmpfs
mkdir -p "$RF" "$FULL"
for i in 1 2 3 4 5 6; do
	head -c $((1024 * 1024)) /dev/urandom >"$RF/f$i.bin"
done
if mount -t tmpfs -o size=2m tmpfs "$FULL" 2>"$TS_TMP/mount.err"; then
	ts_cleanup_add "umount '$FULL'"
	# A full disk is a local I/O failure (3), not a partial run (23).
	ts_expect_exit 3 ts pull "tshost:$RF" "$FULL/dst"
	grep -q -i -e 'no space' -e 'disk is full' "$TS_ERR" ||
	    { cat "$TS_ERR" >&2; ts_fail "stderr does not say the disk is full"; }
	ts_no_temp_files "$FULL"
	for f in "$FULL"/dst/*; do
		[ -e "$f" ] || continue
		ts_files_equal "$RF/${f##*/}" "$f"
	done
	echo "   complete files kept: $(find "$FULL/dst" -type f | wc -l) of 6"
	umount "$FULL"
else
	echo "   NOTE: mount -t tmpfs is not permitted here" \
	    "($(head -n 1 "$TS_TMP/mount.err")): disk-full step SKIPPED"
fi

echo ok
