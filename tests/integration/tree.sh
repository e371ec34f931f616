# shellcheck shell=bash
#
# Tree helpers for the tree-command tests (push, diff, check): sourced after
# harness.sh.
#
#	ts_gen_tree DIR                  a deterministic tree of odd entries
#	ts_trees_equal [--dir-mtimes] A B  fails, listing every difference
#	ts_trees_differ A B              succeeds only when the trees differ
#	ts_tree_list DIR                 "f|d|l path" per entry, sorted
#	ts_tree_snapshot [--ctime] DIR   every attribute of every entry, sorted
#	ts_json_items [-t] FILE [ACTION...]  "action<TAB>reason<TAB>path" items
#	ts_json_summary FILE KEY         a value of the summary object
#	ts_expect_lines FILE LINES [WHAT]  FILE holds exactly LINES (sorted)
#	ts_flip_byte FILE [OFFSET]       new content, same size, same mtime
#
# Paths are printed relative to the root and escaped the same way
# everywhere: a backslash as \\, newline \n, tab \t, carriage return \r,
# other control characters and bytes that are not UTF-8 as \xNN.  Anything
# else (quotes, spaces, UTF-8) is printed as it is.

# The python code shared by the helpers: the escape and the tree walk.
_TS_TREE_PY='
import os, stat, sys

def esc(name):
    if isinstance(name, bytes):
        name = name.decode("utf-8", "surrogateescape")
    out = []
    for ch in name:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or o == 0x7f:
            out.append("\\x%02x" % o)
        elif 0xdc80 <= o <= 0xdcff:	# a byte that is not UTF-8
            out.append("\\x%02x" % (o - 0xdc00))
        else:
            out.append(ch)
    return "".join(out)

def walk(root):
    """{relative path (bytes): lstat result} of everything under root,
    root itself left out; symlinks are not followed."""
    root = os.fsencode(root)
    found = {}
    def rec(rel):
        d = os.path.join(root, rel) if rel else root
        for name in os.listdir(d):
            r = os.path.join(rel, name) if rel else name
            st = os.lstat(os.path.join(root, r))
            found[r] = st
            if stat.S_ISDIR(st.st_mode):
                rec(r)
    rec(b"")
    return found

def kind(st):
    m = st.st_mode
    if stat.S_ISREG(m):
        return "f"
    if stat.S_ISDIR(m):
        return "d"
    if stat.S_ISLNK(m):
        return "l"
    return "?"
'

# ts_gen_tree DIR: makes DIR (absent or empty) and fills it with the same
# tree every time, byte for byte, mtimes and modes included: nested
# directories (4 levels), empty directories, 0-byte files, sizes around
# 4 KiB and 64 KiB boundaries and one of just over 1 MiB, symlinks (to a
# file, to a directory, upwards, dangling), and odd names (space, quotes,
# newline, tab, backslash, UTF-8, leading "-", "$(x)", "a:b").
ts_gen_tree() {
	local dir=${1:?ts_gen_tree DIR}
	mkdir -p -- "$dir" || ts_fail "ts_gen_tree: cannot make '$dir'"
	[ -z "$(ls -A -- "$dir")" ] || ts_fail "ts_gen_tree: '$dir' is not empty"
	# shellcheck disable=SC2016	# python code: "$(x)" is a file name
	python3 -c "$_TS_TREE_PY"'
import random
root = sys.argv[1]
T0 = 1600000000

# (path, size or symlink target, mode); directories end with "/".
entries = [
    ("top.txt", 100, 0o644),
    ("empty.txt", 0, 0o644),
    ("big.bin", 1048576 + 13, 0o644),
    ("run.sh", 300, 0o755),
    ("secret.txt", 1, 0o600),
    ("with space.txt", 4095, 0o644),
    ("it'"'"'s.txt", 10, 0o644),
    ("say \"hi\".txt", 11, 0o644),
    ("new\nline.txt", 12, 0o644),
    ("tab\there.txt", 13, 0o644),
    ("back\\slash.txt", 14, 0o644),
    ("\u00e9t\u00e9-\u65e5\u672c.txt", 15, 0o644),
    ("-leading-dash.txt", 16, 0o644),
    ("$(x)", 17, 0o755),
    ("a:b", 18, 0o644),
    ("link-to-file", "->sub1/file-a.txt", None),
    ("link-to-dir", "->sub1", None),
    ("dangling", "->does/not/exist", None),
    ("empty-dir/", None, 0o755),
    ("private-dir/", None, 0o700),
    ("private-dir/key", 64, 0o600),
    ("sub1/", None, 0o755),
    ("sub1/file-a.txt", 4096, 0o644),
    ("sub1/file-b.txt", 4097, 0o644),
    ("sub1/zero", 0, 0o600),
    ("sub1/dir with space/", None, 0o750),
    ("sub1/dir with space/file \"quoted\"", 200, 0o644),
    ("sub1/sub2/", None, 0o755),
    ("sub1/sub2/same-size.bin", 65536, 0o644),
    ("sub1/sub2/tool", 5000, 0o755),
    ("sub1/sub2/sub3/", None, 0o755),
    ("sub1/sub2/sub3/deep.txt", 65537, 0o644),
    ("sub1/sub2/sub3/empty-deep/", None, 0o755),
    ("sub1/sub2/sub3/up-link", "->../../../top.txt", None),
    ("\u65e5\u672c/", None, 0o755),
    ("\u65e5\u672c/\u00e9.txt", 300000, 0o644),
    ("-dashdir/", None, 0o755),
    ("-dashdir/-f", 20, 0o644),
]

for i, (path, what, mode) in enumerate(entries):
    full = os.path.join(root, path.rstrip("/"))
    if path.endswith("/"):
        os.mkdir(full)
    elif isinstance(what, str):
        os.symlink(what[2:], full)
    else:
        rnd = random.Random("%s:%d" % (path, what))
        with open(full, "wb") as f:
            f.write(rnd.randbytes(what))
# Modes and mtimes once everything exists: directories last, deepest
# first, so adding their entries does not move their mtimes.
for i, (path, what, mode) in enumerate(entries):
    full = os.path.join(root, path.rstrip("/"))
    if mode is not None and not path.endswith("/"):
        os.chmod(full, mode)
    os.utime(full, (T0 + 3607 * i, T0 + 3607 * i), follow_symlinks=False)
for i, (path, what, mode) in sorted(enumerate(entries),
    key=lambda e: -e[1][0].count("/")):
    if path.endswith("/"):
        full = os.path.join(root, path.rstrip("/"))
        os.chmod(full, mode)
        os.utime(full, (T0 + 3607 * i, T0 + 3607 * i))
os.chmod(root, 0o755)
os.utime(root, (T0 - 86400, T0 - 86400))
' "$dir" || ts_fail "ts_gen_tree: python3 failed"
}

# Compares trees A and B; prints each difference on stderr and returns 1
# when there is one.  Compared: the set of relative paths, the type of each
# entry, and for files size, bytes, mtime (whole seconds) and mode & 0777,
# for directories mode & 0777 (and mtime with --dir-mtimes), for symlinks
# the target.  The roots themselves are not compared.
_ts_trees_compare() {
	local dirm=0
	if [ "${1:-}" = --dir-mtimes ]; then
		dirm=1
		shift
	fi
	python3 -c "$_TS_TREE_PY"'
import filecmp
a, b, dirm = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
ta, tb = walk(a), walk(b)
diffs = []
def say(rel, what):
    diffs.append("%s: %s" % (esc(rel), what))
for rel in sorted(set(ta) | set(tb)):
    if rel not in tb:
        say(rel, "only in A (%s)" % kind(ta[rel]))
        continue
    if rel not in ta:
        say(rel, "only in B (%s)" % kind(tb[rel]))
        continue
    sa, sb = ta[rel], tb[rel]
    ka, kb = kind(sa), kind(sb)
    if ka != kb:
        say(rel, "type %s in A, %s in B" % (ka, kb))
        continue
    pa, pb = os.path.join(os.fsencode(a), rel), os.path.join(os.fsencode(b), rel)
    if ka in "fd" and (sa.st_mode & 0o777) != (sb.st_mode & 0o777):
        say(rel, "mode %04o in A, %04o in B" %
            (sa.st_mode & 0o777, sb.st_mode & 0o777))
    if ka == "f" or (ka == "d" and dirm):
        ma, mb = sa.st_mtime_ns // 10**9, sb.st_mtime_ns // 10**9
        if ma != mb:
            say(rel, "mtime %d in A, %d in B (%+d s)" % (ma, mb, mb - ma))
    if ka == "f":
        if sa.st_size != sb.st_size:
            say(rel, "size %d in A, %d in B" % (sa.st_size, sb.st_size))
        elif not filecmp.cmp(pa, pb, shallow=False):
            say(rel, "content differs (same size %d)" % sa.st_size)
    if ka == "l":
        la, lb = os.readlink(pa), os.readlink(pb)
        if la != lb:
            say(rel, "symlink to %s in A, to %s in B" % (esc(la), esc(lb)))
for d in diffs:
    print("  " + d, file=sys.stderr)
sys.exit(1 if diffs else 0)
' "$1" "$2" "$dirm"
}

# ts_trees_equal [--dir-mtimes] A B: the test fails unless the trees are
# equal (see _ts_trees_compare); every difference is listed first.
ts_trees_equal() {
	local opt=''
	if [ "${1:-}" = --dir-mtimes ]; then
		opt=$1
		shift
	fi
	[ -d "$1" ] || ts_fail "ts_trees_equal: not a directory: '$1'"
	[ -d "$2" ] || ts_fail "ts_trees_equal: not a directory: '$2'"
	# shellcheck disable=SC2086	# $opt is empty or one word
	_ts_trees_compare $opt "$1" "$2" ||
	    ts_fail "trees differ (A '$1', B '$2'): differences above"
}

# ts_trees_differ A B: the test fails if the trees are equal.
ts_trees_differ() {
	if _ts_trees_compare "$1" "$2" 2>/dev/null; then
		ts_fail "trees are equal, expected a difference: '$1' '$2'"
	fi
}

# ts_tree_list DIR: one line per entry, "f path", "d path" or "l path",
# sorted; nothing for the root.
ts_tree_list() {
	python3 -c "$_TS_TREE_PY"'
for line in sorted("%s %s" % (kind(st), esc(rel))
    for rel, st in walk(sys.argv[1]).items()):
    print(line)
' "$1" || ts_fail "ts_tree_list: cannot walk '$1'"
}

# ts_tree_snapshot [--ctime] DIR: a line per entry (the root too, as "."):
# type, mode, size, mtime in ns, inode, and the sha256 of a file or the
# target of a symlink; with --ctime the ctime in ns too.  Two snapshots
# are equal only when nothing was written, renamed, replaced or (with
# --ctime) chmod'ed or touched in between.
ts_tree_snapshot() {
	local ct=0
	if [ "${1:-}" = --ctime ]; then
		ct=1
		shift
	fi
	python3 -c "$_TS_TREE_PY"'
import hashlib
root, ct = sys.argv[1], sys.argv[2] == "1"
t = walk(root)
t[b"."] = os.lstat(root)
for rel in sorted(t):
    st = t[rel]
    full = os.path.join(os.fsencode(root), rel)
    extra = ""
    if kind(st) == "f":
        with open(full, "rb") as f:
            extra = hashlib.sha256(f.read()).hexdigest()
    elif kind(st) == "l":
        extra = "-> " + esc(os.readlink(full))
    line = "%s %s %04o %d %d %d" % (esc(rel), kind(st), st.st_mode & 0o7777,
        st.st_size, st.st_mtime_ns, st.st_ino)
    if ct:
        line += " c%d" % st.st_ctime_ns
    print(line + " " + extra)
' "$1" "$ct" || ts_fail "ts_tree_snapshot: cannot walk '$1'"
}

# The python code that reads --json output: every line of FILE must be a
# JSON object (a line that is not fails the test).
_TS_JSON_PY='
import json, sys
def load(path):
    objs = []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            try:
                o = json.loads(line)
            except ValueError as e:
                sys.exit("%s:%d: not JSON (%s): %r" % (path, n, e, line))
            if not isinstance(o, dict):
                sys.exit("%s:%d: not a JSON object: %r" % (path, n, line))
            objs.append(o)
    return objs
'

# ts_json_items [-t] FILE [ACTION...]: the items of the --json output in
# FILE as "action<TAB>reason<TAB>path" lines (with -t a fourth column,
# item_type), sorted; only those whose action is one of ACTIONs if any are
# given.  The path is escaped as above; a trailing "/" is dropped.
ts_json_items() {
	local typed=0
	if [ "${1:-}" = -t ]; then
		typed=1
		shift
	fi
	python3 -c "$_TS_TREE_PY$_TS_JSON_PY"'
path, typed, want = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
lines = []
for o in load(path):
    if o.get("type") != "item":
        continue
    if want and o.get("action") not in want:
        continue
    p = o.get("path")
    if not isinstance(p, str):
        sys.exit("%s: an item without a path: %r" % (path, o))
    if len(p) > 1:
        p = p.rstrip("/")
    cols = [str(o.get("action")), str(o.get("reason")), esc(p)]
    if typed:
        cols.append(str(o.get("item_type")))
    lines.append("\t".join(cols))
for l in sorted(lines):
    print(l)
' "$1" "$typed" "${@:2}" || ts_fail "ts_json_items: bad JSON output in '$1'"
}

# ts_json_summary FILE KEY: the value of KEY in the one summary object of
# the --json output in FILE (the last line); strings as they are, other
# values as JSON (true, false, null, numbers).
ts_json_summary() {
	python3 -c "$_TS_JSON_PY"'
path, key = sys.argv[1], sys.argv[2]
objs = load(path)
sums = [o for o in objs if o.get("type") == "summary"]
if len(sums) != 1:
    sys.exit("%s: %d summary objects, expected 1" % (path, len(sums)))
if objs[-1] is not sums[0]:
    sys.exit("%s: the summary is not the last line" % path)
if key not in sums[0]:
    sys.exit("%s: the summary has no %r: %r" % (path, key, sums[0]))
v = sums[0][key]
print(v if isinstance(v, str) else json.dumps(v))
' "$1" "$2" || ts_fail "ts_json_summary: no '$2' in the summary of '$1'"
}

# ts_expect_lines FILE EXPECTED: the lines of FILE, sorted, are exactly
# EXPECTED (a string of lines, sorted here too); otherwise shows both and
# fails with WHAT (the third argument) in the message.
ts_expect_lines() {
	local file=$1 want=$2 what=${3:-output} got
	got=$(LC_ALL=C sort <"$file")
	want=$(printf '%s\n' "$want" | sed '/^$/d' | LC_ALL=C sort)
	if [ "$got" != "$want" ]; then
		printf -- '--- expected (%s):\n%s\n--- got:\n%s\n--- diff:\n' \
		    "$what" "$want" "$got" >&2
		diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") >&2 || true
		ts_fail "$what: not the expected lines"
	fi
}

# ts_flip_byte FILE [OFFSET]: inverts the byte at OFFSET (default: the
# middle) and puts the mtime back to the nanosecond: a change that only a
# hash can see.
ts_flip_byte() {
	python3 -c '
import os, sys
p = sys.argv[1]
st = os.stat(p)
if st.st_size == 0:
    sys.exit("ts_flip_byte: %s is empty" % p)
off = int(sys.argv[2]) if len(sys.argv) > 2 else st.st_size // 2
with open(p, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0xff]))
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
' "$@" || ts_fail "ts_flip_byte: cannot change '$1'"
}
