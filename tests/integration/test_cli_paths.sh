#!/usr/bin/env bash
# Paths of the command line no other test takes: the --progress line on a
# terminal (a pseudo-terminal here) and its absence elsewhere, -L end to
# end, --delete-excluded with pull, and exit 1 (out of memory).
set -euo pipefail
. "$(dirname "$0")/harness.sh"
. "$(dirname "$0")/tree.sh"

ts_sshd_start
J=$TS_TMP/items

# on_pty OUT CMD...: runs CMD with stdin, stdout and stderr on a new
# pseudo-terminal, everything it wrote in OUT; returns its exit code.
on_pty() {
	local out=$1
	shift
	python3 - "$out" "$@" <<'EOF'
import os, pty, sys
out, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
data = b""
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:			# EIO: the child closed the terminal
        break
    if not chunk:
        break
    data += chunk
_, status = os.waitpid(pid, 0)
open(out, "wb").write(data)
sys.exit(os.waitstatus_to_exitcode(status))
EOF
}

# --- --progress -----------------------------------------------------------

L=$TS_LOCAL/p
mkdir -p "$L"
python3 - "$L" <<'EOF'
import os, sys
for i in range(24):
    with open(os.path.join(sys.argv[1], "f%02d" % i), "wb") as f:
        f.write(os.urandom(65536))
EOF
# 1.5 MiB at --bwlimit 1M: over a second of transfer, so the line (drawn
# at most ten times a second) is drawn several times.
PROGRESS_RE=$'\r\033\\[K[0-9]+/24 files  [0-9.]+ [KMG]?i?B/1\\.5 MiB  [0-9.]+ [KMG]?i?B/s.*[0-9]+ conn'

ts_step "push on a terminal: a progress line redrawn in place, cleared at the end"
rc=0
on_pty "$TS_TMP/pty.out" "$TREESYNC" -F "$TS_SSH_CONFIG" push --bwlimit 1M \
    "$L" "tshost:$TS_REMOTE/p1" || rc=$?
[ "$rc" -eq 0 ] || { cat -v "$TS_TMP/pty.out" >&2; ts_fail "push on a pty: exit $rc"; }
# Bytes as they move: on one connection all 24 files are in flight at
# once, so counting whole files would show nothing until the very end.
tr '\r' '\n' <"$TS_TMP/pty.out" | sed -n 's/^.\[K[0-9]*\/24 files  \([^/]*\)\/1\.5 MiB .*/\1/p' |
    sort -u >"$J"
[ "$(wc -l <"$J")" -ge 3 ] ||
    { cat -v "$TS_TMP/pty.out" >&2; ts_fail "the progress line does not move"; }
grep -q -x '1\.5 MiB' "$J" ||
    { cat -v "$TS_TMP/pty.out" >&2; ts_fail "no progress line for the whole 1.5 MiB"; }
grep -a -q -E "$PROGRESS_RE" "$TS_TMP/pty.out" ||
    { cat -v "$TS_TMP/pty.out" >&2; ts_fail "no line of the expected shape"; }
# The last thing written clears the line: the shell prompt starts clean.
tail -c 4 "$TS_TMP/pty.out" | cmp -s - <(printf '\r\033[K') ||
    { tail -c 40 "$TS_TMP/pty.out" | od -c >&2; ts_fail "the line is not cleared at the end"; }
ts_trees_equal "$L" "$TS_REMOTE/p1"

ts_step "-q on a terminal: no progress line"
rc=0
on_pty "$TS_TMP/pty.out" "$TREESYNC" -F "$TS_SSH_CONFIG" -q push \
    --bwlimit 2M "$L" "tshost:$TS_REMOTE/p2" || rc=$?
[ "$rc" -eq 0 ] || ts_fail "push -q on a pty: exit $rc"
! grep -a -q 'files  ' "$TS_TMP/pty.out" ||
    { cat -v "$TS_TMP/pty.out" >&2; ts_fail "progress drawn with -q"; }

ts_step "no terminal: no progress line unless --progress asks for one"
ts_expect_exit 0 ts push --bwlimit 2M "$L" "tshost:$TS_REMOTE/p3"
! grep -a -q 'files  ' "$TS_ERR" || ts_fail "progress drawn without a terminal"
ts_expect_exit 0 ts push --progress --bwlimit 2M "$L" "tshost:$TS_REMOTE/p4"
grep -a -q -E "$PROGRESS_RE" "$TS_ERR" ||
    { cat -v "$TS_ERR" >&2; ts_fail "--progress drew no line on a pipe"; }

# --- -L -------------------------------------------------------------------

L=$TS_LOCAL/links
OUT=$TS_TMP/outside
mkdir -p "$L/dir" "$OUT/odir"
printf 'target\n' >"$L/dir/file.txt"
printf 'outside\n' >"$OUT/ofile.txt"
printf 'deep\n' >"$OUT/odir/deep.txt"
ln -s dir/file.txt "$L/to-file"
ln -s dir "$L/to-dir"
ln -s "$OUT/ofile.txt" "$L/to-outside-file"
ln -s "$OUT/odir" "$L/to-outside-dir"
find "$L" "$OUT" -exec touch -h -d @1650000000 {} +

ts_step "push without -L: the symlinks are copied as symlinks"
R=$TS_REMOTE/nolinks
ts_expect_exit 0 ts push "$L" "tshost:$R"
for l in to-file to-dir to-outside-file to-outside-dir; do
	[ -L "$R/$l" ] || ts_fail "$l is not a symlink on the server"
	[ "$(readlink "$R/$l")" = "$(readlink "$L/$l")" ] ||
	    ts_fail "$l points elsewhere on the server"
done

ts_step "push -L: every symlink replaced by what it points to, inside or out"
R=$TS_REMOTE/links
ts_expect_exit 0 ts push -L "$L" "tshost:$R"
ts_tree_list "$R" >"$J"
ts_expect_lines "$J" 'd dir
d to-dir
d to-outside-dir
f dir/file.txt
f to-dir/file.txt
f to-file
f to-outside-dir/deep.txt
f to-outside-file' "the remote tree after push -L"
ts_files_equal "$L/dir/file.txt" "$R/to-file"
ts_files_equal "$OUT/ofile.txt" "$R/to-outside-file"
ts_files_equal "$OUT/odir/deep.txt" "$R/to-outside-dir/deep.txt"

ts_step "push -L again: nothing to send"
ts_expect_exit 0 ts push -L --json "$L" "tshost:$R"
[ "$(ts_json_summary "$TS_OUT" files_uploaded)" = 0 ] ||
    ts_fail "a second push -L sent files"

ts_step "push -L over the earlier symlinks: they become files and directories"
ts_expect_exit 0 ts push -L --delete "$L" "tshost:$TS_REMOTE/nolinks"
ts_trees_equal "$R" "$TS_REMOTE/nolinks"

# --- --delete-excluded with pull ----------------------------------------

R=$TS_REMOTE/dx
P=$TS_TMP/dx-local
mkdir -p "$R/logs" "$P/logs" "$P/cache"
printf 'a\n' >"$R/a.txt"
printf 'server log\n' >"$R/server.log"
printf 'inner\n' >"$R/logs/inner.txt"
printf 'local log\n' >"$P/old.log"
printf 'local only\n' >"$P/local-only.txt"
printf 'c\n' >"$P/cache/c.bin"
printf 'l\n' >"$P/logs/l.txt"

ts_step "pull --delete --exclude: excluded local entries are kept"
ts_expect_exit 0 ts pull --delete --exclude '*.log' --exclude 'cache/' \
    "tshost:$R" "$P"
ts_tree_list "$P" >"$J"
ts_expect_lines "$J" 'd cache
d logs
f a.txt
f cache/c.bin
f logs/inner.txt
f old.log' "the local tree after pull --delete --exclude"

ts_step "pull --delete-excluded: excluded local entries go too, the server's stay there"
ts_expect_exit 0 ts pull --json --delete-excluded --exclude '*.log' \
    --exclude 'cache/' "tshost:$R" "$P"
ts_json_items "$TS_OUT" delete >"$J"
ts_expect_lines "$J" $'delete\texcluded\tcache\ndelete\texcluded\tcache/c.bin\ndelete\texcluded\told.log' \
    "pull --delete-excluded"
ts_tree_list "$P" >"$J"
ts_expect_lines "$J" 'd logs
f a.txt
f logs/inner.txt' "the local tree after pull --delete-excluded"
[ -f "$R/server.log" ] || ts_fail "pull --delete-excluded touched the server"

# Exit 1 is "any other error, e.g. out of memory" (docs/exit-codes.md).
# Memory capped with ulimit -v: a --files-from list of 7 million names
# (14 MiB, under the 16 MiB a list may have) cannot be held in 64 MiB,
# while the same diff with a list of one name runs within it.
L=$TS_LOCAL/oom
mkdir -p "$L"
echo a >"$L/a"
echo a >"$TS_TMP/one.list"
python3 -c 'import sys; sys.stdout.write("a\n" * (7 * 1024 * 1024))' \
    >"$TS_TMP/big.list"
if ! (ulimit -v 65536 && ts --help) >/dev/null 2>&1; then
	# A sanitizer build reserves terabytes of address space at start.
	echo "skipped: treesync does not start within 64 MiB of address space"
else
	ts_step "64 MiB of address space: a diff with a short --files-from runs"
	ts_expect_exit 0 bash -c 'ulimit -v 65536 && exec "$@"' - "$TREESYNC" \
	    -F "$TS_SSH_CONFIG" diff --files-from "$TS_TMP/one.list" "$L" \
	    "tshost:$TS_REMOTE/oom"
	ts_step "out of memory reading a long --files-from: exit 1"
	ts_expect_exit 1 bash -c 'ulimit -v 65536 && exec "$@"' - "$TREESYNC" \
	    -F "$TS_SSH_CONFIG" diff --files-from "$TS_TMP/big.list" "$L" \
	    "tshost:$TS_REMOTE/oom"
	ts_expect_stderr_contains "treesync: out of memory"
fi

echo "ok"
