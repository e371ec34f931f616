#!/usr/bin/env bash
# --exclude, --include, --exclude-from with push and diff: rsync-style
# patterns (a "*" glob, a trailing "/" for directories only, a leading "/"
# anchored to the root, first match wins); excluded local entries are not
# uploaded, excluded remote entries are kept by --delete and removed by
# --delete-excluded, and diff reports the same as push does.
set -euo pipefail
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

ts_sshd_start
L=$TS_LOCAL/f
J=$TS_TMP/items
mkdir -p "$L/cache" "$L/dir.log" "$L/keep/deep" "$L/sub/cache" "$L/sub2"
for f in a.txt b.log cache/x.bin dir.log/inner.txt keep/deep/e.txt \
    keep/deep/f.log sub/c.log sub/cache/y.bin sub/d.txt sub/top.txt \
    sub2/cache top.txt; do
	printf 'this is %s\n' "$f" >"$L/$f"
done
ln -s a.txt "$L/link.log"
find "$L" -exec touch -h -d @1650000000 {} +

full='d cache
d dir.log
d keep
d keep/deep
d sub
d sub/cache
d sub2
f a.txt
f b.log
f cache/x.bin
f dir.log/inner.txt
f keep/deep/e.txt
f keep/deep/f.log
f sub/c.log
f sub/cache/y.bin
f sub/d.txt
f sub/top.txt
f sub2/cache
f top.txt
l link.log'
ts_tree_list "$L" >"$J"
ts_expect_lines "$J" "$full" "the local tree"

# What each pattern takes out of the full list.
logs='d dir.log
f dir.log/inner.txt
f b.log
f keep/deep/f.log
f sub/c.log
l link.log'
caches='d cache
f cache/x.bin
d sub/cache
f sub/cache/y.bin'

# without LINES...: the full list without those lines.
without() {
	local drop
	drop=$(printf '%s\n' "$@")
	printf '%s\n' "$full" | grep -v -x -F -e "$drop" || true
}

# as_items LIST: tree-list lines as the items of a push into an empty
# directory ("upload new path", "mkdir new path", "symlink new path").
as_items() {
	printf '%s\n' "$1" | sed -e '/^$/d' -e $'s/^f /upload\tnew\t/' \
	    -e $'s/^d /mkdir\tnew\t/' -e $'s/^l /symlink\tnew\t/'
}

# filtered NAME EXPECTED OPTION...: diff into a missing remote directory
# lists exactly EXPECTED as new, and push creates exactly EXPECTED there,
# every file equal to the local one.
filtered() {
	local name=$1 want=$2 r=$TS_REMOTE/$1 line
	shift 2
	ts_expect_exit 0 ts diff --json "$@" "$L" "tshost:$r"
	ts_json_items "$TS_OUT" upload mkdir symlink delete >"$J"
	# a missing root may be reported as created
	grep -v -E $'^mkdir\t[^\t]*\t(\\.?|/)$' "$J" >"$J.2" || true
	ts_expect_lines "$J.2" "$(as_items "$want")" "$name: diff --json"
	[ ! -e "$r" ] || ts_fail "$name: diff created $r"
	ts_expect_exit 0 ts push "$@" "$L" "tshost:$r"
	ts_tree_list "$r" >"$J"
	ts_expect_lines "$J" "$want" "$name: the remote tree"
	while IFS= read -r line; do
		case $line in
		"f "*) ts_files_equal "$L/${line#f }" "$r/${line#f }" ;;
		esac
	done <<<"$want"
	ts_no_temp_files "$r"
}

ts_step "--exclude '*.log': files, a directory and a symlink, at any depth"
filtered log "$(without "$logs")" --exclude '*.log'

ts_step "--exclude 'cache/': directories only (the file sub2/cache stays)"
filtered cache "$(without "$caches")" --exclude 'cache/'

ts_step "--exclude '/top.txt': anchored at the root (sub/top.txt stays)"
filtered anchored "$(without 'f top.txt')" --exclude '/top.txt'

ts_step "--include '*.txt' --exclude '*': first match wins, directories too"
filtered inc "f a.txt
f top.txt" --include '*.txt' --exclude '*'

ts_step "--include '*/' --include '*.txt' --exclude '*': .txt at any depth"
filtered incdirs 'd cache
d dir.log
d keep
d keep/deep
d sub
d sub/cache
d sub2
f a.txt
f dir.log/inner.txt
f keep/deep/e.txt
f sub/d.txt
f sub/top.txt
f top.txt' --include '*/' --include '*.txt' --exclude '*'

ts_step "--exclude-from FILE (comments and blank lines ignored, as rsync)"
printf '%s\n' '# build junk' '*.log' '' 'cache/' '/top.txt' >"$TS_TMP/excludes"
filtered from "$(without "$logs" "$caches" 'f top.txt')" \
    --exclude-from "$TS_TMP/excludes"

# --- the remote side: --delete keeps excluded entries ----------------------

R=$TS_REMOTE/del
X=(--exclude '*.log' --exclude 'cache/')
pushed=$(without "$logs" "$caches")

ts_step "setup: push with excludes, then extra remote entries"
ts_expect_exit 0 ts push "${X[@]}" "$L" "tshost:$R"
ts_tree_list "$R" >"$J"
ts_expect_lines "$J" "$pushed" "the remote tree after push with excludes"
mkdir "$R/cache" "$R/stale-dir"
for f in old.log sub/old.log cache/old.bin stale.txt sub/stale.txt; do
	printf 'remote only: %s\n' "$f" >"$R/$f"
done

ts_step "diff --delete with excludes: only the non-excluded extras go"
ts_expect_exit 0 ts diff --json --delete "${X[@]}" "$L" "tshost:$R"
ts_json_items "$TS_OUT" upload mkdir symlink delete >"$J"
ts_expect_lines "$J" $'delete\tgone\tstale.txt
delete\tgone\tsub/stale.txt
delete\tgone\tstale-dir' "diff --json --delete with excludes"

ts_step "push --delete with excludes keeps the excluded remote entries"
ts_expect_exit 0 ts push --delete "${X[@]}" "$L" "tshost:$R"
ts_tree_list "$R" >"$J"
ts_expect_lines "$J" "$pushed
d cache
f cache/old.bin
f old.log
f sub/old.log" "the remote tree after push --delete with excludes"

ts_step "diff --delete --delete-excluded lists the excluded remote entries"
ts_expect_exit 0 ts diff --json --delete --delete-excluded "${X[@]}" \
    "$L" "tshost:$R"
# Action and path: the reason may be "gone" or "excluded"; what is inside
# the deleted directory may be listed or not.
ts_json_items "$TS_OUT" upload mkdir symlink delete >"$J"
cut -f1,3 "$J" | grep -v -x -F -e $'delete\tcache/old.bin' >"$J.2" || true
ts_expect_lines "$J.2" $'delete\tcache
delete\told.log
delete\tsub/old.log' "diff --json --delete --delete-excluded"

ts_step "push --delete --delete-excluded removes them"
ts_expect_exit 0 ts push --delete --delete-excluded "${X[@]}" "$L" "tshost:$R"
ts_tree_list "$R" >"$J"
ts_expect_lines "$J" "$pushed" "the remote tree after --delete-excluded"
ts_no_temp_files "$R"

ts_step "then a diff with the same filters lists nothing"
ts_expect_exit 0 ts diff --json --delete --delete-excluded "${X[@]}" \
    "$L" "tshost:$R"
ts_json_items "$TS_OUT" upload mkdir symlink delete >"$J"
ts_expect_lines "$J" "" "diff after push --delete-excluded"

echo ok
