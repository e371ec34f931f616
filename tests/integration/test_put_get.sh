#!/usr/bin/env bash
# put/get round trips against OpenSSH's internal-sftp: byte-identical files
# of 0 B, 1 B, 65,537 B and 100 MiB with their mtime, replacing a file,
# directory targets, ls, ls -l, stat, mkdir -p, and the not-found errors.
set -euo pipefail
. "$(dirname "$0")/harness.sh"

ts_sshd_start
R=$TS_REMOTE
L=$TS_LOCAL
mkdir -p "$L/src" "$L/back"

# Sub-second mtimes: the server keeps whole seconds, both sides must agree
# on them (stat %Y truncates).
mtime=1600000000
for size in 0 1 65537 104857600; do
	ts_step "put/get $size bytes: content, size and mtime survive"
	f=$L/src/f_$size
	head -c "$size" /dev/urandom >"$f"
	touch -d "@$mtime.75" "$f"
	mtime=$((mtime + 86400 + 1))
	ts_expect_exit 0 ts put "$f" "tshost:$R/f_$size"
	ts_files_equal "$f" "$R/f_$size"
	ts_no_temp_files "$R"
	ts_expect_exit 0 ts get "tshost:$R/f_$size" "$L/back/f_$size"
	ts_files_equal "$f" "$L/back/f_$size"
	ts_no_temp_files "$L/back"
	if [ "$size" -gt 1000000 ]; then	# keep the disk usage down
		rm -f "$f" "$R/f_$size" "$L/back/f_$size"
	fi
done

ts_step "put copies the permission bits"
printf 'mode\n' >"$L/src/mode.txt"
chmod 640 "$L/src/mode.txt"
ts_expect_exit 0 ts put "$L/src/mode.txt" "tshost:$R/mode.txt"
ts_files_equal "$L/src/mode.txt" "$R/mode.txt"
[ "$(stat -c %a "$R/mode.txt")" = 640 ] ||
    ts_fail "remote mode is $(stat -c %a "$R/mode.txt"), expected 640"

ts_step "put replaces an existing remote file"
printf 'the old content, longer than the new one\n' >"$R/replace.txt"
chmod 644 "$R/replace.txt"
printf 'new content\n' >"$L/src/replace.txt"
touch -d '@1500000000' "$L/src/replace.txt"
ts_expect_exit 0 ts put "$L/src/replace.txt" "tshost:$R/replace.txt"
ts_files_equal "$L/src/replace.txt" "$R/replace.txt"
ts_no_temp_files "$R"

ts_step "put replaces it again (a second replace of the same name)"
head -c 70000 /dev/urandom >"$L/src/replace.txt"
ts_expect_exit 0 ts put "$L/src/replace.txt" "tshost:$R/replace.txt"
ts_files_equal "$L/src/replace.txt" "$R/replace.txt"

ts_step "get replaces an existing local file"
printf 'stale local content\n' >"$L/back/replace.txt"
ts_expect_exit 0 ts get "tshost:$R/replace.txt" "$L/back/replace.txt"
ts_files_equal "$R/replace.txt" "$L/back/replace.txt"
ts_no_temp_files "$L/back"

ts_step "put into an existing remote directory keeps the basename"
mkdir "$R/dir"
ts_expect_exit 0 ts put "$L/src/f_65537" "tshost:$R/dir"
ts_files_equal "$L/src/f_65537" "$R/dir/f_65537"
ts_expect_exit 0 ts put "$L/src/f_1" "tshost:$R/dir/"
ts_files_equal "$L/src/f_1" "$R/dir/f_1"

ts_step "get into an existing local directory keeps the basename"
mkdir "$L/getdir"
ts_expect_exit 0 ts get "tshost:$R/dir/f_65537" "$L/getdir"
ts_files_equal "$L/src/f_65537" "$L/getdir/f_65537"
ts_no_temp_files "$L/getdir"

ts_step "sftp:// targets work too"
ts_expect_exit 0 "$TREESYNC" --known-hosts "$TS_KNOWN_HOSTS" \
    --identity "$TS_KEY" put "$L/src/f_1" \
    "sftp://$TS_USER@127.0.0.1:$TS_PORT$R/url_f_1"
ts_files_equal "$L/src/f_1" "$R/url_f_1"

ts_step "options after the command are accepted"
ts_expect_exit 0 ts put "$L/src/f_0" "tshost:$R/late_opts" --verify=size -q
ts_files_equal "$L/src/f_0" "$R/late_opts"

ts_step "no temporary files left on the server"
ts_no_temp_files "$R"

ts_step "ls lists the names, one per line"
ts_expect_exit 0 ts ls "tshost:$R"
for name in f_0 f_1 f_65537 mode.txt replace.txt dir url_f_1; do
	grep -q -x -F -e "$name" "$TS_OUT" ||
	    { cat "$TS_OUT" >&2; ts_fail "ls output lacks '$name'"; }
done
if grep -q -e '\.treesync-tmp' "$TS_OUT"; then
	ts_fail "ls shows a temporary file"
fi

ts_step "ls -l shows sizes"
ts_expect_exit 0 ts ls -l "tshost:$R"
awk '$NF == "f_65537" { for (i = 1; i < NF; i++) if ($i == "65537") ok = 1 }
    END { exit !ok }' "$TS_OUT" ||
    { cat "$TS_OUT" >&2; ts_fail "ls -l: no line with size 65537 for f_65537"; }
awk '$NF == "f_0" { for (i = 1; i < NF; i++) if ($i == "0") ok = 1 }
    END { exit !ok }' "$TS_OUT" ||
    { cat "$TS_OUT" >&2; ts_fail "ls -l: no line with size 0 for f_0"; }
grep -q -E '^d.* dir$' "$TS_OUT" ||
    { cat "$TS_OUT" >&2; ts_fail "ls -l: dir is not shown as a directory"; }

ts_step "stat prints the size"
ts_expect_exit 0 ts stat "tshost:$R/f_65537"
grep -q -E '(^|[[:space:]])size:[[:space:]]*65537([[:space:]]|$)' "$TS_OUT" ||
    { cat "$TS_OUT" >&2; ts_fail "stat output has no 'size: 65537'"; }

ts_step "mkdir -p creates nested directories, and again is fine"
ts_expect_exit 0 ts mkdir -p "tshost:$R/a/b/c"
[ -d "$R/a/b/c" ] || ts_fail "mkdir -p did not create $R/a/b/c"
ts_expect_exit 0 ts mkdir -p "tshost:$R/a/b/c"

ts_step "mkdir -p through a file: refused, the file named and kept"
echo keep >"$R/a/plain"
ts_expect_exit 4 ts mkdir -p "tshost:$R/a/plain/d/e"
ts_expect_stderr_contains "\"$R/a/plain\" exists and is not a directory"
[ "$(cat "$R/a/plain")" = keep ] || ts_fail "mkdir -p changed $R/a/plain"

ts_step "mkdir without -p creates one directory"
ts_expect_exit 0 ts mkdir "tshost:$R/a/single"
[ -d "$R/a/single" ] || ts_fail "mkdir did not create $R/a/single"

ts_step "put into a missing remote parent: exit 5, the path named"
ts_expect_exit 5 ts put "$L/src/f_1" "tshost:$R/nope/x"
ts_expect_stderr_contains "$R/nope"
ts_expect_stderr_contains "treesync: "
[ ! -e "$R/nope" ] || ts_fail "$R/nope exists after a failed put"
ts_no_temp_files "$R"

ts_step "stat and ls of a missing remote path: exit 5"
ts_expect_exit 5 ts stat "tshost:$R/missing"
ts_expect_stderr_contains "$R/missing"
ts_expect_exit 5 ts ls "tshost:$R/missing"

ts_step "put of a missing local file: exit 5, nothing on the server"
ts_expect_exit 5 ts put "$L/src/does-not-exist" "tshost:$R/dne"
ts_expect_stderr_contains "does-not-exist"
[ ! -e "$R/dne" ] || ts_fail "a remote file appeared for a missing local file"

ts_step "get of a missing remote file: exit 5, no local file left"
ts_expect_exit 5 ts get "tshost:$R/missing" "$L/back/missing"
ts_expect_stderr_contains "$R/missing"
[ ! -e "$L/back/missing" ] || ts_fail "get left $L/back/missing"
ts_no_temp_files "$L/back"

ts_step "a bad target is a usage error: exit 2"
ts_expect_exit 2 ts put "$L/src/f_1" "tshost-without-colon"
ts_expect_exit 2 ts frobnicate "tshost:$R"

echo ok
