#!/usr/bin/env bash
# push and diff of a generated tree (odd names, symlinks, empty directories,
# modes) against OpenSSH's internal-sftp: into a missing remote directory,
# a second push that changes nothing, diff --json of a known change set
# (exactly those changes, -c finding the same-size same-mtime one), dry
# runs that touch nothing, --delete and --max-delete, type changes, and
# the itemized lines rsync users parse.
set -euo pipefail
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

ts_sshd_start
L=$TS_LOCAL/tree
R=$TS_REMOTE/tree		# missing until the first push
ts_gen_tree "$L"
J=$TS_TMP/items			# ts_json_items output, per step
nfiles=$(ts_tree_list "$L" | grep -c '^f ')
total=$(find "$L" -type f -printf '%s\n' | awk '{ n += $1 } END { print n }')

# Every entry of the local tree as the items of a push into an empty
# remote directory: "upload new", "mkdir new", "symlink new".
all_new=$(ts_tree_list "$L" | sed -e $'s/^f /upload\tnew\t/' \
    -e $'s/^d /mkdir\tnew\t/' -e $'s/^l /symlink\tnew\t/')

# The same as the lines of diff (itemized): the escaped names as they are.
all_itemized=$(ts_tree_list "$L" | while read -r type path; do
	case $type in
	f) printf '>f+++++++++ %s\n' "$path" ;;
	d) printf 'cd+++++++++ %s/\n' "$path" ;;
	l) printf 'cL+++++++++ %s -> %s\n' "$path" "$(readlink "$L/$path")" ;;
	esac
done)

# The items of --json output in $TS_OUT that change something, without a
# mkdir of the root (a missing root may be reported as created).
changes() {
	ts_json_items "$TS_OUT" upload mkdir symlink delete >"$TS_TMP/changes"
	grep -v -E $'^mkdir\t[^\t]*\t(\\.?|/)$' "$TS_TMP/changes" || true
}

ts_step "diff into a missing remote directory lists every entry as new"
ts_expect_exit 0 ts diff --json "$L" "tshost:$R"
[ ! -e "$R" ] || ts_fail "diff created $R"
changes >"$J"
ts_expect_lines "$J" "$all_new" "diff --json into a missing directory"
[ "$(ts_json_summary "$TS_OUT" dry_run)" = true ] ||
    ts_fail "diff: the summary does not say dry_run true"

ts_step "diff prints itemized lines by default, odd names escaped"
ts_expect_exit 0 ts diff "$L" "tshost:$R"
ts_expect_lines "$TS_OUT" "$all_itemized" "diff into a missing directory"
[ ! -e "$R" ] || ts_fail "diff created $R"

ts_step "push -n into a missing remote directory creates nothing"
ts_expect_exit 0 ts push -n --json "$L" "tshost:$R"
[ ! -e "$R" ] || ts_fail "push -n created $R"
changes >"$J"
ts_expect_lines "$J" "$all_new" "push -n --json into a missing directory"
[ "$(ts_json_summary "$TS_OUT" dry_run)" = true ] ||
    ts_fail "push -n: the summary does not say dry_run true"

ts_step "push into a missing remote directory: the trees are equal"
ts_expect_exit 0 ts push --json "$L" "tshost:$R"
ts_trees_equal "$L" "$R"
ts_no_temp_files "$R"
changes >"$J"
ts_expect_lines "$J" "$all_new" "push --json into a missing directory"
for kv in "files_uploaded $nfiles" "errors 0" "dry_run false" "exit_code 0"; do
	got=$(ts_json_summary "$TS_OUT" "${kv% *}")
	[ "$got" = "${kv#* }" ] ||
	    ts_fail "push summary: ${kv% *} is $got, expected ${kv#* }"
done
sent=$(ts_json_summary "$TS_OUT" bytes_sent)
[ "$sent" -ge "$total" ] ||
    ts_fail "push summary: bytes_sent $sent, less than the $total bytes of files"

ts_step "push gave directories their mtimes after their contents"
ts_trees_equal --dir-mtimes "$L" "$R"

ts_step "a second push changes nothing and sends nothing"
before=$(ts_tree_snapshot "$R")
ts_expect_exit 0 ts push --json "$L" "tshost:$R"
ts_json_items "$TS_OUT" upload mkdir symlink delete setattr >"$J"
ts_expect_lines "$J" "" "items of a second push"
for kv in "files_uploaded 0" "bytes_sent 0" "files_deleted 0" "errors 0"; do
	got=$(ts_json_summary "$TS_OUT" "${kv% *}")
	[ "$got" = "${kv#* }" ] ||
	    ts_fail "second push: ${kv% *} is $got, expected ${kv#* }"
done
unchanged=$(ts_json_summary "$TS_OUT" files_unchanged)
[ "$unchanged" -ge "$nfiles" ] ||
    ts_fail "second push: files_unchanged $unchanged, expected $nfiles or more"
after=$(ts_tree_snapshot "$R")
[ "$before" = "$after" ] || {
	diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") >&2 || true
	ts_fail "a second push changed the remote tree (inodes, mtimes, modes)"
}

ts_step "diff after a push prints nothing"
ts_expect_exit 0 ts diff "$L" "tshost:$R"
[ ! -s "$TS_OUT" ] || { cat "$TS_OUT" >&2; ts_fail "diff printed changes"; }

# --- a known change set ---------------------------------------------------

ts_step "change, add and remove files, change a symlink and a mode"
printf 'more' >>"$L/new"$'\n'"line.txt"		# size (and mtime)
q=$L/sub1/'dir with space'/'file "quoted"'	# same size, new mtime
head -c 200 /dev/zero >"$q"
touch -d @1700000000 "$q"
ts_flip_byte "$L/sub1/sub2/same-size.bin"	# only a hash can see it
printf 'new\n' >"$L/-new.txt"
mkdir "$L/newdir"
printf 'new too\n' >"$L/newdir/日本.txt"
rm "$L/secret.txt" "$L/sub1/sub2/sub3/deep.txt"
ln -sfn sub1/file-b.txt "$L/link-to-file"
chmod 700 "$L/run.sh"

base=$(printf '%s\n' \
    $'upload\tsize\tnew\\nline.txt' \
    $'upload\tnew\t-new.txt' \
    $'upload\tnew\tnewdir/日本.txt' \
    $'mkdir\tnew\tnewdir' \
    $'symlink\ttarget\tlink-to-file')
quoted_mtime=$'upload\tmtime\tsub1/dir with space/file "quoted"'
quoted_hash=$'upload\thash\tsub1/dir with space/file "quoted"'
hashonly=$'upload\thash\tsub1/sub2/same-size.bin'
deletes=$(printf '%s\n' $'delete\tgone\tsecret.txt' \
    $'delete\tgone\tsub1/sub2/sub3/deep.txt')

# The setattr items of $TS_OUT: the mode change of run.sh, and otherwise
# only directories (whose mtimes moved when entries came and went).
check_setattr() {
	ts_json_items -t "$TS_OUT" setattr >"$J"
	grep -q -x -F -e $'setattr\tattrs\trun.sh\tfile' "$J" ||
	    { cat "$J" >&2; ts_fail "$1: no 'setattr attrs' item for run.sh"; }
	if grep -v -x -F -e $'setattr\tattrs\trun.sh\tfile' "$J" |
	    grep -v -E $'\tdir$'; then
		ts_fail "$1: setattr items for files other than run.sh (above)"
	fi
}

ts_step "diff --json lists exactly those changes (not the hash-only one)"
ts_expect_exit 0 ts diff --json "$L" "tshost:$R"
changes >"$J"
ts_expect_lines "$J" "$base
$quoted_mtime" "diff --json"
check_setattr "diff --json"

ts_step "diff --json --delete adds exactly the two deletions"
ts_expect_exit 0 ts diff --json --delete "$L" "tshost:$R"
changes >"$J"
ts_expect_lines "$J" "$base
$quoted_mtime
$deletes" "diff --json --delete"
check_setattr "diff --json --delete"

ts_step "diff -c --json --delete finds the same-size same-mtime change"
ts_expect_exit 0 ts diff -c --json --delete "$L" "tshost:$R"
changes >"$J"
want_c="$base
$quoted_hash
$hashonly
$deletes"
ts_expect_lines "$J" "$want_c" "diff -c --json --delete"
check_setattr "diff -c --json --delete"

ts_step "push -n -c --delete reports the same and changes nothing on disk"
before=$(ts_tree_snapshot --ctime "$R")
ts_expect_exit 0 ts push -n -c --json --delete "$L" "tshost:$R"
changes >"$J"
ts_expect_lines "$J" "$want_c" "push -n -c --json --delete"
[ "$(ts_json_summary "$TS_OUT" dry_run)" = true ] ||
    ts_fail "push -n: the summary does not say dry_run true"
after=$(ts_tree_snapshot --ctime "$R")
[ "$before" = "$after" ] || {
	diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") >&2 || true
	ts_fail "push -n changed the remote tree"
}
ts_no_temp_files "$R"

ts_step "push --delete --max-delete 1 with 2 deletions: exit 25, none deleted"
ts_expect_exit 25 ts push --json --delete --max-delete 1 "$L" "tshost:$R"
grep -q -w 2 "$TS_ERR" ||
    { cat "$TS_ERR" >&2; ts_fail "--max-delete: the message does not say 2"; }
for f in secret.txt sub1/sub2/sub3/deep.txt; do
	[ -f "$R/$f" ] || ts_fail "--max-delete 1 let the deletion of $f through"
done
[ "$(ts_json_summary "$TS_OUT" files_deleted)" = 0 ] ||
    ts_fail "--max-delete 1: files_deleted is not 0"
[ "$(ts_json_summary "$TS_OUT" exit_code)" = 25 ] ||
    ts_fail "--max-delete 1: the summary's exit_code is not 25"

ts_step "... and the other changes were done"
ts_files_equal "$L/-new.txt" "$R/-new.txt"
ts_files_equal "$L/newdir/日本.txt" "$R/newdir/日本.txt"
ts_files_equal "$L/new"$'\n'"line.txt" "$R/new"$'\n'"line.txt"
ts_files_equal "$q" "$R/sub1/dir with space/file \"quoted\""
[ "$(readlink "$R/link-to-file")" = sub1/file-b.txt ] ||
    ts_fail "link-to-file points to $(readlink "$R/link-to-file")"
[ "$(stat -c %a "$R/run.sh")" = 700 ] ||
    ts_fail "run.sh has mode $(stat -c %a "$R/run.sh"), expected 700"
ts_no_temp_files "$R"

ts_step "push --delete --max-delete 2 deletes both (exactly N is allowed)"
ts_expect_exit 0 ts push --json --delete --max-delete 2 "$L" "tshost:$R"
for f in secret.txt sub1/sub2/sub3/deep.txt; do
	[ ! -e "$R/$f" ] || ts_fail "push --delete left $f, gone locally"
done
[ "$(ts_json_summary "$TS_OUT" files_deleted)" = 2 ] ||
    ts_fail "files_deleted is $(ts_json_summary "$TS_OUT" files_deleted)"

ts_step "without -c the same-size same-mtime file is the one difference left"
_ts_trees_compare "$L" "$R" 2>"$J" &&
    ts_fail "the trees are equal: push without -c sent a same-size same-mtime file"
ts_expect_lines "$J" "  sub1/sub2/same-size.bin: content differs (same size 65536)" \
    "the differences after push --delete"
ts_expect_exit 0 ts diff -c --json --delete "$L" "tshost:$R"
changes >"$J"
ts_expect_lines "$J" "$hashonly" "diff -c --json after push --delete"

ts_step "push -c sends it: the trees are equal"
ts_expect_exit 0 ts push -c --json --delete "$L" "tshost:$R"
changes >"$J"
ts_expect_lines "$J" "$hashonly" "push -c --json"
ts_trees_equal --dir-mtimes "$L" "$R"
ts_no_temp_files "$R"
ts_expect_exit 0 ts diff -c --json --delete "$L" "tshost:$R"
ts_json_items "$TS_OUT" upload mkdir symlink delete setattr >"$J"
ts_expect_lines "$J" "" "diff -c after push -c"

# --- type changes -----------------------------------------------------------

ts_step "type changes converge: file->dir, dir->file, file<->symlink, dir->symlink"
T=$L/tc
mkdir -p "$T/d2f/inner/deeper" "$T/d2l/x"
printf 'file\n' >"$T/f2d"
printf 'file\n' >"$T/f2l"
printf 'in a dir\n' >"$T/d2f/inner/deeper/f"
printf 'in a dir\n' >"$T/d2l/x/f"
ln -s ../top.txt "$T/l2f"
ln -s ../sub1 "$T/l2d"
ts_expect_exit 0 ts push --delete "$L" "tshost:$R"
ts_trees_equal --dir-mtimes "$L" "$R"
rm "$T/f2d" "$T/f2l" "$T/l2f" "$T/l2d"
rm -r "$T/d2f" "$T/d2l"
mkdir -p "$T/f2d/sub" "$T/l2d"
printf 'now in a dir\n' >"$T/f2d/sub/f"
printf 'was a directory\n' >"$T/d2f"
ln -s ../top.txt "$T/f2l"
ln -s ../sub1 "$T/d2l"
printf 'was a symlink\n' >"$T/l2f"
ts_expect_exit 0 ts push --json --delete "$L" "tshost:$R"
ts_trees_equal --dir-mtimes "$L" "$R"
ts_no_temp_files "$R"
ts_expect_exit 0 ts push --json --delete "$L" "tshost:$R"
ts_json_items "$TS_OUT" upload mkdir symlink delete setattr >"$J"
ts_expect_lines "$J" "" "push after the type changes"

# --- itemized output ---------------------------------------------------------

ts_step "push -i of a small change set prints rsync's itemized lines"
I=$TS_LOCAL/it
RI=$TS_REMOTE/it
mkdir -p "$I/sub"
printf 'keep\n' >"$I/keep.txt"
printf 'update me\n' >"$I/upd.txt"
printf 'delete me\n' >"$I/x"
printf 'sub\n' >"$I/sub/s.txt"
printf 'hash\n' >"$I/sub/h.txt"
touch -d @1600000000 "$I/keep.txt" "$I/upd.txt" "$I/x" "$I/sub/s.txt" \
    "$I/sub/h.txt" "$I/sub" "$I"
ts_expect_exit 0 ts push "$I" "tshost:$RI"
ts_trees_equal --dir-mtimes "$I" "$RI"
printf 'new\n' >"$I/new.txt"
printf 'updated, longer\n' >"$I/upd.txt"
touch -d @1600001000 "$I/upd.txt"
mkdir "$I/d"
touch -d @1600002000 "$I/d"
rm "$I/x"
ln -s keep.txt "$I/ln"
touch -d @1600000000 "$I"		# the root's mtime is not a change
round1='>f+++++++++ new.txt
>f.st...... upd.txt
cd+++++++++ d/
*deleting   x
cL+++++++++ ln -> keep.txt'
ts_expect_exit 0 ts diff --delete "$I" "tshost:$RI"
ts_expect_lines "$TS_OUT" "$round1" "diff --delete"
ts_expect_exit 0 ts push -i --delete "$I" "tshost:$RI"
ts_expect_lines "$TS_OUT" "$round1" "push -i --delete"
ts_trees_equal --dir-mtimes "$I" "$RI"
ts_expect_exit 0 ts push -i --delete "$I" "tshost:$RI"
ts_expect_lines "$TS_OUT" "" "push -i --delete, again"

ts_step "itemized attribute changes: t and p, and c with -c"
touch -d @1600003000 "$I/keep.txt"	# same content, new mtime
chmod 600 "$I/sub/s.txt"		# mode only
ts_flip_byte "$I/sub/h.txt" 0		# same size, same mtime
ts_expect_exit 0 ts diff --delete "$I" "tshost:$RI"
ts_expect_lines "$TS_OUT" '>f..t...... keep.txt
.f...p..... sub/s.txt' "diff --delete (attributes)"
round2='.f..t...... keep.txt
.f...p..... sub/s.txt
>fc........ sub/h.txt'
ts_expect_exit 0 ts diff -c --delete "$I" "tshost:$RI"
ts_expect_lines "$TS_OUT" "$round2" "diff -c --delete (attributes)"
ts_expect_exit 0 ts push -i -c --delete "$I" "tshost:$RI"
ts_expect_lines "$TS_OUT" "$round2" "push -i -c --delete (attributes)"
ts_trees_equal --dir-mtimes "$I" "$RI"
ts_no_temp_files "$RI"

ts_step "the remote root has the local root's mode and mtime (rsync -a src/ dst/)"
chmod 750 "$L"
touch -d @1500000000 "$L"
ts_expect_exit 0 ts push "$L" "tshost:$R"
[ "$(stat -c '%a %Y' "$L")" = "$(stat -c '%a %Y' "$R")" ] ||
    ts_fail "root: local $(stat -c '%a %Y' "$L"), remote $(stat -c '%a %Y' "$R")"

echo ok
