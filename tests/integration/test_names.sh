#!/usr/bin/env bash
# Odd file names survive put and get, with --verify=hash too (the names go
# to sha256sum on the server over stdin), and nothing in a name is ever
# run by a shell on either side.
set -euo pipefail
. "$(dirname "$0")/harness.sh"

ts_sshd_start
R=$TS_REMOTE
L=$TS_LOCAL
mkdir -p "$L/src" "$L/back" "$L/backhash" "$R/plain" "$R/hash" "$R/dirtarget"

# A name spliced into a shell line would run "touch $canary" in some
# working directory: the user's home on the server, or ours.
canary=ts-pwned-$$-$RANDOM
names=(
	'with space.txt'
	"it's.txt"
	'say "hi".txt'
	"\$(touch $canary)"
	"\`touch $canary\`"
	";touch $canary;x"
	$'new\nline.txt'
	$'tab\there.txt'
	'back\slash.txt'
	'star*.txt'
	'a:b.txt'
	'-rf'
	'été-日本.txt'
)

# Local names go in as ./NAME, so a leading "-" is never an option.
cd "$L/src"
for name in "${names[@]}"; do
	printf 'the file called [%s]\n' "$name" >"./$name"
	head -c 3000 /dev/urandom >>"./$name"
	touch -d '@1700000000' "./$name"
done

for name in "${names[@]}"; do
	shown=$(printf '%q' "$name")

	ts_step "put/get $shown"
	ts_expect_exit 0 ts put "./$name" "tshost:$R/plain/$name"
	ts_files_equal "./$name" "$R/plain/$name"
	ts_expect_exit 0 ts get "tshost:$R/plain/$name" "$L/back/$name"
	ts_files_equal "./$name" "$L/back/$name"

	ts_step "put/get --verify=hash $shown"
	ts_expect_exit 0 ts --verify=hash put "./$name" "tshost:$R/hash/$name"
	ts_files_equal "./$name" "$R/hash/$name"
	ts_expect_exit 0 ts --verify=hash get "tshost:$R/hash/$name" \
	    "$L/backhash/$name"
	ts_files_equal "./$name" "$L/backhash/$name"

	ts_step "put $shown into a directory target, stat it"
	ts_expect_exit 0 ts put "./$name" "tshost:$R/dirtarget"
	ts_files_equal "./$name" "$R/dirtarget/$name"
	ts_expect_exit 0 ts stat "tshost:$R/dirtarget/$name"
	grep -q -E '(^|[[:space:]])size:' "$TS_OUT" ||
	    { cat "$TS_OUT" >&2; ts_fail "stat $shown: no size line"; }
done

ts_step "ls shows the names as they are"
ts_expect_exit 0 ts ls "tshost:$R/plain"
for name in 'with space.txt' 'été-日本.txt' '-rf' 'a:b.txt'; do
	grep -q -x -F -e "$name" "$TS_OUT" ||
	    { cat "$TS_OUT" >&2; ts_fail "ls output lacks '$name'"; }
done

ts_step "the same number of files on both sides, no temporary files"
for d in "$R/plain" "$R/hash" "$R/dirtarget" "$L/back" "$L/backhash"; do
	n=$(find "$d" -mindepth 1 -maxdepth 1 -printf x | wc -c)
	[ "$n" -eq "${#names[@]}" ] ||
	    ts_fail "$d holds $n entries, expected ${#names[@]}"
	ts_no_temp_files "$d"
done

ts_step "no name was run as a command"
home=$(getent passwd "$TS_USER" | cut -d: -f6)
for d in "$home" / /tmp "$TS_TMP" "$TS_SOURCE_DIR" "$OLDPWD"; do
	[ -d "$d" ] || continue
	depth=1
	[ "$d" = "$TS_TMP" ] && depth=10
	found=$(find "$d" -maxdepth "$depth" -name "$canary*" -print 2>/dev/null ||
	    true)
	[ -z "$found" ] || ts_fail "a file name was run by a shell: $found"
done

echo ok
