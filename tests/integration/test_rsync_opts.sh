#!/usr/bin/env bash
# rsync's everyday options, with rsync's meanings, against a real sshd:
# --size-only, --ignore-existing, -u/--update, --files-from (and -0),
# -z/--compress (SSH compression, as negotiated with the server) and
# --bwlimit (one rate for the whole run, over all its connections; put
# and get too).
set -euo pipefail
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

ts_sshd_start
J=$TS_TMP/items
T1=1650000000
T2=1660000000

# mk FILE CONTENT MTIME: a file with that content and mtime.
mk() {
	mkdir -p "$(dirname "$1")"
	printf '%s' "$2" >"$1"
	touch -d "@$3" "$1"
}

# mtime FILE: seconds.
mtime() {
	stat -c %Y -- "$1"
}

# --- --size-only --------------------------------------------------------

L=$TS_LOCAL/so
R=$TS_REMOTE/so
mk "$L/same" aaaaa $T2
mk "$L/grown" aaaaaa $T1
mk "$R/same" bbbbb $T1
mk "$R/grown" bbbbb $T1

ts_step "without --size-only, a file of the same size and another mtime is sent"
ts_expect_exit 0 ts diff --json "$L" "tshost:$R"
ts_json_items "$TS_OUT" upload >"$J"
ts_expect_lines "$J" $'upload\tmtime\tsame\nupload\tsize\tgrown' \
    "diff without --size-only"

ts_step "--size-only: equal sizes are unchanged, only the mtime is set"
ts_expect_exit 0 ts push --json --size-only "$L" "tshost:$R"
ts_json_items "$TS_OUT" upload setattr >"$J"
ts_expect_lines "$J" $'upload\tsize\tgrown\nsetattr\tattrs\tsame' \
    "push --size-only"
[ "$(cat "$R/same")" = bbbbb ] || ts_fail "--size-only sent \"same\""
[ "$(mtime "$R/same")" = $T2 ] || ts_fail "--size-only left the mtime"
ts_files_equal "$L/grown" "$R/grown"
ts_expect_exit 0 ts push --json --size-only "$L" "tshost:$R"
[ "$(ts_json_summary "$TS_OUT" files_uploaded)" = 0 ] ||
    ts_fail "a second push --size-only sent something"

# --- --ignore-existing --------------------------------------------------

L=$TS_LOCAL/ie
R=$TS_REMOTE/ie
mk "$L/old" "new content" $T2
mk "$L/sub/new" "a new file" $T1
mk "$L/d/kept" "kept" $T1
mk "$R/old" "old" $T1
mkdir -p "$R/d"
mk "$R/d/kept" "remote" $T1

ts_step "--ignore-existing: only what the server lacks is created"
ts_expect_exit 0 ts push --json --ignore-existing "$L" "tshost:$R"
ts_json_items "$TS_OUT" upload mkdir >"$J"
ts_expect_lines "$J" $'mkdir\tnew\tsub\nupload\tnew\tsub/new' \
    "push --ignore-existing"
[ "$(cat "$R/old")" = old ] || ts_fail "--ignore-existing replaced \"old\""
[ "$(mtime "$R/old")" = $T1 ] || ts_fail "--ignore-existing set an mtime"
[ "$(cat "$R/d/kept")" = remote ] || ts_fail "--ignore-existing replaced d/kept"
ts_files_equal "$L/sub/new" "$R/sub/new"

ts_step "pull --ignore-existing: the same the other way round"
P=$TS_TMP/ie-pull
mk "$P/old" "local old" $T1
ts_expect_exit 0 ts pull --ignore-existing "tshost:$R" "$P"
[ "$(cat "$P/old")" = "local old" ] || ts_fail "pull replaced \"old\""
ts_files_equal "$R/sub/new" "$P/sub/new"

# --- -u/--update --------------------------------------------------------

L=$TS_LOCAL/up
R=$TS_REMOTE/up
mk "$L/remote-newer" "local" $T1
mk "$L/remote-older" "local" $T2
mk "$L/same-time" "local, longer" $T1
mk "$R/remote-newer" "remote, edited there" $T2
mk "$R/remote-older" "other" $T1
mk "$R/same-time" "remote" $T1

ts_step "-u: a newer file on the server is kept; older ones are replaced"
ts_expect_exit 0 ts push --json -u "$L" "tshost:$R"
ts_json_items "$TS_OUT" upload >"$J"
ts_expect_lines "$J" $'upload\tmtime\tremote-older\nupload\tsize\tsame-time' \
    "push -u"
[ "$(cat "$R/remote-newer")" = "remote, edited there" ] ||
    ts_fail "-u replaced a newer file"
[ "$(mtime "$R/remote-newer")" = $T2 ] || ts_fail "-u changed a newer mtime"
ts_files_equal "$L/remote-older" "$R/remote-older"
ts_files_equal "$L/same-time" "$R/same-time"

ts_step "--update (pull): a newer local file is kept"
P=$TS_TMP/up-pull
mk "$P/remote-newer" "local, newest" $((T2 + 100))
ts_expect_exit 0 ts pull --update "tshost:$R" "$P"
[ "$(cat "$P/remote-newer")" = "local, newest" ] ||
    ts_fail "pull --update replaced a newer local file"
ts_files_equal "$R/remote-older" "$P/remote-older"

# --- --files-from, -0 ---------------------------------------------------

L=$TS_LOCAL/ff
R=$TS_REMOTE/ff
mk "$L/top.txt" top $T1
mk "$L/skip.txt" skip $T1
mk "$L/a/b/listed.txt" listed $T1
mk "$L/a/b/other.txt" other $T1
mk "$L/a/sibling.txt" sibling $T1
mk "$L/whole/x/1" 1 $T1
mk "$L/whole/2" 2 $T1
mk "$L/whole/3.o" 3 $T1
mk "$L/new"$'\n'"line" nl $T1
mkdir -p "$R"
mk "$R/unlisted-remote" keep $T1
printf '%s\n' top.txt ./a/b/listed.txt /whole/ >"$TS_TMP/list"

ts_step "--files-from: the listed files, listed directories whole, their parents"
ts_expect_exit 0 ts push --delete --exclude '*.o' --files-from "$TS_TMP/list" \
    "$L" "tshost:$R"
ts_tree_list "$R" >"$J"
ts_expect_lines "$J" 'd a
d a/b
d whole
d whole/x
f a/b/listed.txt
f top.txt
f unlisted-remote
f whole/2
f whole/x/1' "the remote tree after --files-from (with --delete)"
ts_files_equal "$L/a/b/listed.txt" "$R/a/b/listed.txt"
ts_files_equal "$L/whole/x/1" "$R/whole/x/1"

ts_step "-0: NUL-separated names, a newline inside one"
printf 'new\nline\0skip.txt\0' >"$TS_TMP/list0"
ts_expect_exit 0 ts push -0 --files-from "$TS_TMP/list0" "$L" "tshost:$R"
ts_files_equal "$L/new"$'\n'"line" "$R/new"$'\n'"line"
ts_files_equal "$L/skip.txt" "$R/skip.txt"
[ ! -e "$R/a/sibling.txt" ] || ts_fail "-0 --files-from sent an unlisted file"

ts_step "--files-from with \"..\" is refused before anything is done (exit 2)"
printf '../etc/passwd\n' >"$TS_TMP/listbad"
ts_expect_exit 2 ts push --files-from "$TS_TMP/listbad" "$L" "tshost:$R"
grep -q -F -- '--files-from' "$TS_ERR" || ts_fail "no message naming the list"

ts_step "a missing --files-from file: exit 5 (not found)"
ts_expect_exit 5 ts push --files-from "$TS_TMP/nonexistent" "$L" "tshost:$R"

ts_no_temp_files "$TS_REMOTE"

# --- -z/--compress ------------------------------------------------------

L=$TS_LOCAL/z
mkdir -p "$L"
python3 -c 'import sys; sys.stdout.write("compressible line of text\n" * 80000)' \
    >"$L/text"
ts_step "-z: zlib negotiated with the server, the tree arrives intact"
ts_expect_exit 0 ts -vv push -z "$L" "tshost:$TS_REMOTE/z"
# libssh2 says what it negotiated; the system's ssh gets -C.
if [ "$(ts_transport)" = openssh ]; then
	grep -E -q 'running: .* -C( |$)' "$TS_ERR" ||
	    { cat "$TS_ERR" >&2; ts_fail "-z: ssh ran without -C"; }
else
	grep -E -q 'compression: zlib(@openssh\.com)?, zlib(@openssh\.com)?$' \
	    "$TS_ERR" || { cat "$TS_ERR" >&2; ts_fail "-z: no zlib negotiated"; }
fi
ts_files_equal "$L/text" "$TS_REMOTE/z/text"

ts_step "without -z, no compression is offered"
ts_expect_exit 0 ts -vv push "$L" "tshost:$TS_REMOTE/z2"
! grep -q -E 'compression: zlib|running: .* -C( |$)' "$TS_ERR" ||
    ts_fail "compression without -z"

# --- --bwlimit ----------------------------------------------------------

ts_step "--bwlimit: bad rates are usage errors (exit 2)"
ts_expect_exit 2 ts push --bwlimit 1X "$L" "tshost:$TS_REMOTE/bw"
ts_expect_exit 2 ts push --bwlimit -5 "$L" "tshost:$TS_REMOTE/bw"

# 256 files of 16 KiB: enough files for -j 4 to open every connection
# (one per ~64 files), so the limit is seen to hold for the whole run.
L=$TS_LOCAL/bw
mkdir -p "$L"
python3 - "$L" <<'EOF'
import os, sys
for i in range(256):
    with open(os.path.join(sys.argv[1], "f%03d" % i), "wb") as f:
        f.write(os.urandom(16384))
EOF
now() { date +%s.%N; }

ts_step "--bwlimit 1M over 4 connections: 4 MiB take 4 s, within 10 %"
t0=$(now)
ts_expect_exit 0 ts push -j 4 "$L" "tshost:$TS_REMOTE/bw-free"
t1=$(now)
ts_expect_exit 0 ts -v push -j 4 --bwlimit 1M "$L" "tshost:$TS_REMOTE/bw"
t2=$(now)
ts_trees_equal "$L" "$TS_REMOTE/bw"
python3 - "$t0" "$t1" "$t2" <<'EOF' || ts_fail "--bwlimit 1M: out of bounds"
import sys
t0, t1, t2 = map(float, sys.argv[1:])
free, limited = t1 - t0, t2 - t1
want = 4.0	# 4 MiB at 1 MiB/s
print("unlimited %.2f s, --bwlimit 1M %.2f s (rate %.0f KiB/s)" %
      (free, limited, 4096 / limited), file=sys.stderr)
# Never faster than the limit allows (10 % over it at most); and not much
# slower than 10 % under it: what the same push takes unlimited (twice,
# and a second more: a loaded machine's set-up times vary) on top.
sys.exit(0 if want / 1.1 <= limited <= want / 0.9 + 2 * free + 1 else 1)
EOF

ts_step "pull --bwlimit 2M: 4 MiB take 2 s, within 10 %"
t0=$(now)
ts_expect_exit 0 ts pull -j 4 "tshost:$TS_REMOTE/bw" "$TS_TMP/bw-free"
t1=$(now)
ts_expect_exit 0 ts pull -j 4 --bwlimit 2M "tshost:$TS_REMOTE/bw" \
    "$TS_TMP/bw-pull"
t2=$(now)
ts_trees_equal "$L" "$TS_TMP/bw-pull"
python3 - "$t0" "$t1" "$t2" <<'EOF' || ts_fail "pull --bwlimit 2M: out of bounds"
import sys
t0, t1, t2 = map(float, sys.argv[1:])
free, limited = t1 - t0, t2 - t1
want = 2.0
print("unlimited %.2f s, --bwlimit 2M %.2f s" % (free, limited),
      file=sys.stderr)
sys.exit(0 if want / 1.1 <= limited <= want / 0.9 + 2 * free + 1 else 1)
EOF

# put and get move one file over one connection, through the same bucket.
head -c 3145728 /dev/urandom >"$TS_TMP/bw-one"

ts_step "put --bwlimit 1M: 3 MiB take 3 s, within 10 %"
t0=$(now)
ts_expect_exit 0 ts put "$TS_TMP/bw-one" "tshost:$TS_REMOTE/bw-one-free"
t1=$(now)
ts_expect_exit 0 ts put --bwlimit 1M "$TS_TMP/bw-one" \
    "tshost:$TS_REMOTE/bw-one"
t2=$(now)
cmp "$TS_TMP/bw-one" "$TS_REMOTE/bw-one" || ts_fail "put --bwlimit: differs"
python3 - "$t0" "$t1" "$t2" <<'EOF' || ts_fail "put --bwlimit 1M: out of bounds"
import sys
t0, t1, t2 = map(float, sys.argv[1:])
free, limited = t1 - t0, t2 - t1
want = 3.0
print("unlimited %.2f s, put --bwlimit 1M %.2f s" % (free, limited),
      file=sys.stderr)
sys.exit(0 if want / 1.1 <= limited <= want / 0.9 + 2 * free + 1 else 1)
EOF

ts_step "get --bwlimit 2M: 3 MiB take 1.5 s, within 10 %"
t0=$(now)
ts_expect_exit 0 ts get "tshost:$TS_REMOTE/bw-one" "$TS_TMP/bw-got-free"
t1=$(now)
ts_expect_exit 0 ts get --bwlimit 2M "tshost:$TS_REMOTE/bw-one" \
    "$TS_TMP/bw-got"
t2=$(now)
cmp "$TS_TMP/bw-one" "$TS_TMP/bw-got" || ts_fail "get --bwlimit: differs"
python3 - "$t0" "$t1" "$t2" <<'EOF' || ts_fail "get --bwlimit 2M: out of bounds"
import sys
t0, t1, t2 = map(float, sys.argv[1:])
free, limited = t1 - t0, t2 - t1
want = 1.5
print("unlimited %.2f s, get --bwlimit 2M %.2f s" % (free, limited),
      file=sys.stderr)
sys.exit(0 if want / 1.1 <= limited <= want / 0.9 + 2 * free + 1 else 1)
EOF
echo "ok"
