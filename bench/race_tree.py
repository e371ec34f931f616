#!/usr/bin/env python3
"""Workload trees for bench/race.sh: generate, mutate, check.  Stdlib only.

  race_tree.py gen DIR --seed S --small N --dirs D --large K --large-mib M
      DIR gets N files of 1-16 KiB spread over D directories and K files of
      M MiB (in big/); bytes from random.Random(S), fixed mtimes.
  race_tree.py mutate BASE NEW --seed S
      NEW = BASE with 1 % of the files changed (at least one) and 0.5 %
      added (at least one); unchanged files are hard links.  A changed small
      file is rewritten whole (new size, new bytes); a changed file over
      1 MiB gets 64 KiB overwritten in place and 4 KiB appended, the way
      logs, databases and images change.  Prints what it changed.
  race_tree.py check SRC DST [--no-mtime] [--sample-every K]
      DST must hold exactly SRC's regular files (names, sizes, mtimes to the
      second unless --no-mtime), nothing else (no leftover temporary
      files), and the same bytes for every changed/added file listed in
      SRC/../<name>.changed plus every K-th file.  Exit 1 with a reason.
  race_tree.py stats DIR      prints "FILES BYTES"
"""

import argparse
import hashlib
import os
import random
import sys

BASE_MTIME = 1700000000  # 2023-11-14, whole seconds
NEW_MTIME = BASE_MTIME + 86400 * 30


def write_random(path, rng, size):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 4 << 20)
            f.write(rng.randbytes(n))
            left -= n


def gen(a):
    rng = random.Random(a.seed)
    os.makedirs(a.dir, exist_ok=False)
    dirs = []
    for d in range(a.dirs):
        p = os.path.join(a.dir, f"d{d:03d}")
        os.mkdir(p)
        dirs.append(p)
    for i in range(a.small):
        p = os.path.join(dirs[i % a.dirs], f"f{i:05d}.dat")
        write_random(p, rng, rng.randint(1024, 16384))
        os.utime(p, (BASE_MTIME + i, BASE_MTIME + i))
    if a.large:
        big = os.path.join(a.dir, "big")
        os.mkdir(big)
        for i in range(a.large):
            p = os.path.join(big, f"large{i:02d}.bin")
            write_random(p, rng, a.large_mib << 20)
            os.utime(p, (BASE_MTIME, BASE_MTIME))
    for p in dirs + ([os.path.join(a.dir, "big")] if a.large else []):
        os.utime(p, (BASE_MTIME, BASE_MTIME))


def walk(top):
    """{relpath: (size, mtime)} of the regular files; other entries listed."""
    files, other = {}, []
    for root, dirnames, names in os.walk(top):
        dirnames.sort()
        for n in sorted(names):
            p = os.path.join(root, n)
            rel = os.path.relpath(p, top)
            st = os.lstat(p)
            if os.path.isfile(p) and not os.path.islink(p):
                files[rel] = (st.st_size, int(st.st_mtime))
            else:
                other.append(rel)
    return files, other


def mutate(a):
    rng = random.Random(a.seed + 1)
    files, _ = walk(a.base)
    names = sorted(files)
    nchange = max(1, round(len(names) * 0.01))
    nadd = max(1, round(len(names) * 0.005))
    os.makedirs(a.new, exist_ok=False)
    for root, dirnames, fnames in os.walk(a.base):
        rel = os.path.relpath(root, a.base)
        dst = os.path.normpath(os.path.join(a.new, rel))
        os.makedirs(dst, exist_ok=True)
        for n in fnames:
            os.link(os.path.join(root, n), os.path.join(dst, n))
    changed = rng.sample(names, nchange)
    smalls = [n for n in names if files[n][0] <= 1 << 20]
    out = []
    for n in changed:
        p = os.path.join(a.new, n)
        size = files[n][0]
        tmp = p + ".mut"
        if size <= 1 << 20:
            new = size
            while new == size:
                new = rng.randint(1024, 16384)
            write_random(tmp, rng, new)
        else:
            with open(p, "rb") as src, open(tmp, "wb") as dst:
                while True:
                    b = src.read(4 << 20)
                    if not b:
                        break
                    dst.write(b)
            with open(tmp, "r+b") as f:
                f.seek(rng.randrange(0, size - 65536))
                f.write(rng.randbytes(65536))
                f.seek(0, os.SEEK_END)
                f.write(rng.randbytes(4096))
        os.replace(tmp, p)  # breaks the hard link: BASE keeps its bytes
        os.utime(p, (NEW_MTIME, NEW_MTIME))
        out.append(n)
    for i in range(nadd):
        if smalls:
            d = os.path.dirname(smalls[i * 7919 % len(smalls)])
            rel = os.path.join(d, f"added{i:04d}.dat")
            size = rng.randint(1024, 16384)
        else:
            rel = os.path.join(os.path.dirname(names[0]), f"added{i:02d}.bin")
            size = files[names[0]][0]
        p = os.path.join(a.new, rel)
        write_random(p, rng, size)
        os.utime(p, (NEW_MTIME + i, NEW_MTIME + i))
        out.append(rel)
    # Directory mtimes as in BASE (adding files touched them).
    for root, _, _ in os.walk(a.base):
        rel = os.path.relpath(root, a.base)
        st = os.stat(root)
        os.utime(os.path.join(a.new, rel), (st.st_mtime, st.st_mtime))
    listing = os.path.join(os.path.dirname(os.path.abspath(a.new)),
                           os.path.basename(os.path.abspath(a.new)) + ".changed")
    with open(listing, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"changed {nchange}, added {nadd} of {len(names)} files")


def digest(p):
    h = hashlib.blake2b(digest_size=16)
    with open(p, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.digest()
            h.update(b)


def check(a):
    src, _ = walk(a.src)
    if not os.path.isdir(a.dst):
        return fail(f"{a.dst}: no such directory")
    dst, other = walk(a.dst)
    if other:
        return fail(f"{len(other)} non-regular entries, e.g. {other[0]}")
    missing = sorted(set(src) - set(dst))
    extra = sorted(set(dst) - set(src))
    if missing:
        return fail(f"{len(missing)} of {len(src)} files missing, "
                    f"e.g. {missing[0]}")
    if extra:
        return fail(f"{len(extra)} unexpected files, e.g. {extra[0]}")
    nsize = [n for n in src if src[n][0] != dst[n][0]]
    if nsize:
        n = nsize[0]
        return fail(f"{len(nsize)} files differ in size, e.g. {n} "
                    f"{src[n][0]} vs {dst[n][0]}")
    if not a.no_mtime:
        nm = [n for n in src if src[n][1] != dst[n][1]]
        if nm:
            n = nm[0]
            return fail(f"{len(nm)} files differ in mtime, e.g. {n} "
                        f"{src[n][1]} vs {dst[n][1]}")
    todo = set(sorted(src)[::a.sample_every])
    listing = os.path.abspath(a.src) + ".changed"
    if os.path.exists(listing):
        with open(listing) as f:
            todo |= {l for l in f.read().split("\n") if l}
    for n in sorted(todo):
        if digest(os.path.join(a.src, n)) != digest(os.path.join(a.dst, n)):
            return fail(f"content differs: {n}")
    return 0


def fail(msg):
    print(msg)
    return 1


def stats(a):
    files, _ = walk(a.dir)
    print(len(files), sum(s for s, _ in files.values()))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("dir")
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--small", type=int, default=0)
    g.add_argument("--dirs", type=int, default=100)
    g.add_argument("--large", type=int, default=0)
    g.add_argument("--large-mib", type=int, default=0)
    m = sub.add_parser("mutate")
    m.add_argument("base")
    m.add_argument("new")
    m.add_argument("--seed", type=int, default=42)
    c = sub.add_parser("check")
    c.add_argument("src")
    c.add_argument("dst")
    c.add_argument("--no-mtime", action="store_true")
    c.add_argument("--sample-every", type=int, default=100)
    s = sub.add_parser("stats")
    s.add_argument("dir")
    a = p.parse_args()
    r = {"gen": gen, "mutate": mutate, "check": check, "stats": stats}[a.cmd](a)
    sys.exit(r or 0)


if __name__ == "__main__":
    main()
