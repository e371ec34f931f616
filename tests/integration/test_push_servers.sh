#!/usr/bin/env bash
# push against the other SFTP servers behind the same sshd: OpenSSH's
# stand-alone sftp-server and Debian's gesftpserver (Green End: its own
# code and status codes, and SSH_FXP_SYMLINK arguments in the draft's
# order, which it announces with symlink-order@rjk.greenend.org.uk, where
# OpenSSH swaps them).  A generated
# tree (odd names, symlinks, empty directories, modes) arrives equal, a
# second push changes nothing, and a change set with --delete converges.
set -euo pipefail
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

L=$TS_LOCAL/tree
J=$TS_TMP/items
ts_gen_tree "$L"
nfiles=$(ts_tree_list "$L" | grep -c '^f ')

for sub in openssh gesftp; do
	ts_sshd_start --subsystem "$sub"
	R=$TS_REMOTE/$sub
	M=$TS_LOCAL/tree-$sub			# modified per server
	rm -rf "$M"
	cp -a "$L" "$M"

	ts_step "$sub: push into a missing directory: the trees are equal"
	ts_expect_exit 0 ts push --json "$M" "tshost:$R"
	ts_trees_equal --dir-mtimes "$M" "$R"
	ts_no_temp_files "$R"
	[ "$(ts_json_summary "$TS_OUT" files_uploaded)" = "$nfiles" ] ||
	    ts_fail "$sub: files_uploaded is not $nfiles"

	ts_step "$sub: a second push changes nothing"
	before=$(ts_tree_snapshot "$R")
	ts_expect_exit 0 ts push --json "$M" "tshost:$R"
	ts_json_items "$TS_OUT" upload mkdir symlink delete setattr >"$J"
	ts_expect_lines "$J" "" "$sub: items of a second push"
	[ "$(ts_json_summary "$TS_OUT" files_uploaded)" = 0 ] ||
	    ts_fail "$sub: a second push uploaded files"
	[ "$(ts_json_summary "$TS_OUT" bytes_sent)" = 0 ] ||
	    ts_fail "$sub: a second push sent bytes"
	after=$(ts_tree_snapshot "$R")
	[ "$before" = "$after" ] || {
		diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") >&2 ||
		    true
		ts_fail "$sub: a second push changed the remote tree"
	}

	ts_step "$sub: changes, a symlink, a mode and deletions converge"
	printf 'more' >>"$M/sub1/file-b.txt"
	printf 'new\n' >"$M/sub1/sub2/new file.txt"
	mkdir "$M/newdir"
	rm "$M/secret.txt" "$M/-dashdir/-f"
	ln -sfn sub1/sub2 "$M/link-to-dir"
	chmod 600 "$M/top.txt"
	ts_flip_byte "$M/big.bin"
	ts_expect_exit 0 ts push -c --delete "$M" "tshost:$R"
	ts_trees_equal --dir-mtimes "$M" "$R"
	ts_no_temp_files "$R"
	ts_expect_exit 0 ts push -c --json --delete "$M" "tshost:$R"
	ts_json_items "$TS_OUT" upload mkdir symlink delete setattr >"$J"
	ts_expect_lines "$J" "" "$sub: items of a push after the changes"
done

echo ok
