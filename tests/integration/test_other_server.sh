#!/usr/bin/env bash
# Other SFTP servers behind the same sshd: Debian's gesftpserver (Green
# End; its own code, its own status codes and attributes, no
# limits@openssh.com) and OpenSSH's stand-alone sftp-server.  put (new and
# replacing), get, ls, stat, mkdir -p and byte-identical round trips must
# work on both.
set -euo pipefail
. "$(dirname "$0")/harness.sh"

L=$TS_LOCAL
mkdir -p "$L/src"
mtime=1610000000
for size in 0 1 65537 5242883; do
	head -c "$size" /dev/urandom >"$L/src/f_$size"
	touch -d "@$mtime" "$L/src/f_$size"
	mtime=$((mtime + 3601))
done

# exercise SUBSYSTEM: the basic commands against that server.
exercise() {
	local sub=$1 R=$TS_REMOTE/$1 B=$L/back-$1 size
	mkdir -p "$R" "$B"

	for size in 0 1 65537 5242883; do
		ts_step "$sub: put/get $size bytes"
		ts_expect_exit 0 ts put "$L/src/f_$size" "tshost:$R/f_$size"
		ts_files_equal "$L/src/f_$size" "$R/f_$size"
		ts_expect_exit 0 ts get "tshost:$R/f_$size" "$B/f_$size"
		ts_files_equal "$L/src/f_$size" "$B/f_$size"
	done

	ts_step "$sub: put replaces an existing file"
	printf 'old content that is longer than the new one\n' >"$R/replace.txt"
	printf 'new\n' >"$L/src/replace.txt"
	touch -d '@1620000000' "$L/src/replace.txt"
	ts_expect_exit 0 ts put "$L/src/replace.txt" "tshost:$R/replace.txt"
	ts_files_equal "$L/src/replace.txt" "$R/replace.txt"
	ts_no_temp_files "$R"

	ts_step "$sub: and replaces it again"
	head -c 100000 /dev/urandom >"$L/src/replace.txt"
	ts_expect_exit 0 ts put "$L/src/replace.txt" "tshost:$R/replace.txt"
	ts_files_equal "$L/src/replace.txt" "$R/replace.txt"
	ts_expect_exit 0 ts get "tshost:$R/replace.txt" "$B/replace.txt"
	ts_files_equal "$L/src/replace.txt" "$B/replace.txt"

	ts_step "$sub: put into a directory target"
	mkdir -p "$R/dir"
	ts_expect_exit 0 ts put "$L/src/f_65537" "tshost:$R/dir"
	ts_files_equal "$L/src/f_65537" "$R/dir/f_65537"

	ts_step "$sub: ls, ls -l, stat"
	ts_expect_exit 0 ts ls "tshost:$R"
	for name in f_0 f_1 f_65537 f_5242883 replace.txt dir; do
		grep -q -x -F -e "$name" "$TS_OUT" ||
		    { cat "$TS_OUT" >&2; ts_fail "$sub: ls lacks '$name'"; }
	done
	ts_expect_exit 0 ts ls -l "tshost:$R"
	awk '$NF == "f_65537" { for (i = 1; i < NF; i++) if ($i == "65537") ok = 1 }
	    END { exit !ok }' "$TS_OUT" ||
	    { cat "$TS_OUT" >&2; ts_fail "$sub: ls -l lacks the size of f_65537"; }
	ts_expect_exit 0 ts stat "tshost:$R/f_5242883"
	grep -q -E '(^|[[:space:]])size:[[:space:]]*5242883([[:space:]]|$)' \
	    "$TS_OUT" ||
	    { cat "$TS_OUT" >&2; ts_fail "$sub: stat lacks 'size: 5242883'"; }

	ts_step "$sub: mkdir -p"
	ts_expect_exit 0 ts mkdir -p "tshost:$R/a/b/c"
	[ -d "$R/a/b/c" ] || ts_fail "$sub: mkdir -p did not create a/b/c"
	ts_expect_exit 0 ts mkdir -p "tshost:$R/a/b/c"

	ts_step "$sub: missing remote parent and missing remote file: exit 5"
	ts_expect_exit 5 ts put "$L/src/f_1" "tshost:$R/nope/x"
	ts_expect_stderr_contains "$R/nope"
	ts_expect_exit 5 ts get "tshost:$R/missing" "$B/missing"
	[ ! -e "$B/missing" ] || ts_fail "$sub: get left $B/missing"

	ts_step "$sub: no temporary files left"
	ts_no_temp_files "$R"
	ts_no_temp_files "$B"
}

ts_sshd_start --subsystem gesftp
ts_step "gesftp: the premise holds (sshd runs gesftpserver)"
ts_expect_exit 0 ts ls "tshost:$TS_REMOTE"
grep -q 'Starting session: subsystem' "$TS_SSHD_LOG" ||
    ts_fail "no subsystem session in the sshd log"
grep -q 'Subsystem sftp /usr/libexec/gesftpserver' "$TS_SSHD_DIR/sshd_config" ||
    ts_fail "the sshd config does not name gesftpserver"
exercise gesftp

ts_sshd_start --subsystem openssh
exercise openssh

echo ok
