#!/usr/bin/env bash
# check compares by hash: after a push everything matches (exit 0); a
# same-size, same-mtime change on the server that push cannot see, a file
# missing remotely and an extra remote file are reported (exit 24), in
# human and --json form, with --hash=xxh128 and --hash=sha256; and on a
# server with no exec (ForceCommand internal-sftp) push -c and check still
# work by reading the files back over SFTP.
set -euo pipefail
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

ts_sshd_start
L=$TS_LOCAL/tree
R=$TS_REMOTE/tree
J=$TS_TMP/items
ts_gen_tree "$L"
quoted='sub1/dir with space/file "quoted"'
nl='new'$'\n''line.txt'

# The check items of $TS_OUT (--json) other than matches.
mismatches() {
	ts_json_items "$TS_OUT" check >"$J"
	grep -v -E $'^check\tmatch\t' "$J" || true
}

# Normalizes a hash name: "XXH3-128" -> xxh3128, "SHA-256" -> sha256.
hash_name() {
	printf '%s' "$1" | tr '[:upper:]' '[:lower:]' | tr -d '_-'
}

ts_step "setup: push the tree"
ts_expect_exit 0 ts push "$L" "tshost:$R"
ts_trees_equal "$L" "$R"

ts_step "check after a push: exit 0, no file listed, stderr says all match"
ts_expect_exit 0 ts check "$L" "tshost:$R"
[ ! -s "$TS_OUT" ] || { cat "$TS_OUT" >&2; ts_fail "check printed something"; }
grep -q -E '^treesync: all [0-9]+ files match \((xxh128|sha256), ' "$TS_ERR" ||
    { cat "$TS_ERR" >&2; ts_fail "check did not say that all files match"; }

ts_step "check -v lists the matches"
ts_expect_exit 0 ts check -v "$L" "tshost:$R"
for p in top.txt big.bin "$quoted" sub1/sub2/sub3/deep.txt; do
	grep -q -x -F -e "match $p" "$TS_OUT" ||
	    { cat "$TS_OUT" >&2; ts_fail "check -v: no line 'match $p'"; }
done

ts_step "check --json after a push: only matches, exit_code 0"
ts_expect_exit 0 ts check --json "$L" "tshost:$R"
mismatches >"$J.2"
ts_expect_lines "$J.2" "" "check --json after a push"
[ "$(ts_json_summary "$TS_OUT" exit_code)" = 0 ] ||
    ts_fail "check --json: exit_code is not 0"

ts_step "a same-size same-mtime change on the server: push does not see it"
ts_flip_byte "$R/$quoted"
ts_expect_exit 0 ts diff --json "$L" "tshost:$R"
ts_json_items "$TS_OUT" upload mkdir symlink delete setattr >"$J"
ts_expect_lines "$J" "" "diff --json without -c"

ts_step "... check does: exit 24, 'differ' for exactly that path"
ts_expect_exit 24 ts check "$L" "tshost:$R"
ts_expect_lines "$TS_OUT" "differ $quoted" "check"

ts_step "a file missing remotely and an extra remote file"
rm "$R/sub1/file-b.txt"
printf 'only on the server\n' >"$R/sub1/extra.txt"
ts_expect_exit 24 ts check "$L" "tshost:$R"
ts_expect_lines "$TS_OUT" "differ $quoted
missing-remote sub1/file-b.txt
missing-local sub1/extra.txt" "check"

ts_step "check --json and check, an odd name among them"
ts_flip_byte "$R/$nl"
want=$(printf 'check\t%s\t%s\n' differ "$quoted" differ 'new\nline.txt' \
    missing-remote sub1/file-b.txt missing-local sub1/extra.txt)
ts_expect_exit 24 ts check --json "$L" "tshost:$R"
mismatches >"$J.2"
ts_expect_lines "$J.2" "$want" "check --json"
[ "$(ts_json_summary "$TS_OUT" exit_code)" = 24 ] ||
    ts_fail "check --json: exit_code is not 24"
[ "$(ts_json_summary "$TS_OUT" errors)" = 0 ] ||
    ts_fail "check --json: errors is not 0"
ts_expect_exit 24 ts check "$L" "tshost:$R"
ts_expect_lines "$TS_OUT" "differ $quoted
differ new\nline.txt
missing-remote sub1/file-b.txt
missing-local sub1/extra.txt" "check, the odd name escaped as in --json"

for h in xxh128 sha256; do
	ts_step "check --hash=$h finds the same differences, and says $h"
	ts_expect_exit 24 ts check --json --hash="$h" "$L" "tshost:$R"
	mismatches >"$J.2"
	ts_expect_lines "$J.2" "$want" "check --json --hash=$h"
	used=$(hash_name "$(ts_json_summary "$TS_OUT" hash)")
	case $h:$used in
	xxh128:xxh128 | xxh128:xxh3128 | sha256:sha256) ;;
	*) ts_fail "check --hash=$h: the summary says hash $used" ;;
	esac
	ts_expect_exit 24 ts check --hash="$h" "$L" "tshost:$R"
	grep -q -x -F -e "differ $quoted" "$TS_OUT" ||
	    { cat "$TS_OUT" >&2; ts_fail "check --hash=$h: no 'differ $quoted'"; }
done

ts_step "push -c --delete repairs the server: check exits 0"
ts_expect_exit 0 ts push -c --delete "$L" "tshost:$R"
ts_trees_equal "$L" "$R"
ts_expect_exit 0 ts check "$L" "tshost:$R"
[ ! -s "$TS_OUT" ] || { cat "$TS_OUT" >&2; ts_fail "check printed something"; }

# --- a server without exec: hashes by reading back over SFTP ----------------

ts_sshd_start --force-internal-sftp
R=$TS_REMOTE/noexec

ts_step "no exec: push -c --verify=hash into a missing directory"
ts_expect_exit 0 ts push -c --verify=hash --json "$L" "tshost:$R"
ts_trees_equal "$L" "$R"
ts_no_temp_files "$R"

ts_step "no exec: push -c again sends nothing"
ts_expect_exit 0 ts push -c --json "$L" "tshost:$R"
ts_json_items "$TS_OUT" upload mkdir symlink delete setattr >"$J"
ts_expect_lines "$J" "" "a second push -c without exec"
[ "$(ts_json_summary "$TS_OUT" bytes_sent)" = 0 ] ||
    ts_fail "a second push -c without exec sent bytes"

ts_step "no exec: check exits 0, then finds a same-size same-mtime change"
ts_expect_exit 0 ts check "$L" "tshost:$R"
ts_flip_byte "$R/sub1/sub2/same-size.bin"
ts_expect_exit 24 ts check "$L" "tshost:$R"
ts_expect_lines "$TS_OUT" "differ sub1/sub2/same-size.bin" "check without exec"
ts_expect_exit 24 ts check --json "$L" "tshost:$R"
mismatches >"$J.2"
ts_expect_lines "$J.2" $'check\tdiffer\tsub1/sub2/same-size.bin' \
    "check --json without exec"

ts_step "no exec: diff -c lists it, push -c sends it"
ts_expect_exit 0 ts diff -c --json "$L" "tshost:$R"
ts_json_items "$TS_OUT" upload mkdir symlink delete >"$J"
ts_expect_lines "$J" $'upload\thash\tsub1/sub2/same-size.bin' \
    "diff -c --json without exec"
ts_expect_exit 0 ts push -c --json "$L" "tshost:$R"
ts_json_items "$TS_OUT" upload mkdir symlink delete >"$J"
ts_expect_lines "$J" $'upload\thash\tsub1/sub2/same-size.bin' \
    "push -c --json without exec"
ts_trees_equal "$L" "$R"
ts_expect_exit 0 ts check "$L" "tshost:$R"

echo ok
