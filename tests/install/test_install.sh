#!/usr/bin/env bash
# What a third party gets: cmake --install of this build into a temporary
# prefix, then examples/mirror.c (and cancel_again.c) built against the
# installed library alone, through pkg-config and find_package (each
# shared and static), and run against a real sshd: the tree
# must arrive.  Also the installed man page and treesync --version.
#
# Environment (tests/CMakeLists.txt sets it): TS_BUILD_DIR, TS_SOURCE_DIR,
# TS_CC (the build's compiler), TS_CFLAGS (its sanitizer flags, if any),
# TS_VERSION (the project's).
set -euo pipefail
. "$TS_SOURCE_DIR/tests/integration/harness.sh"

cc=${TS_CC:-cc}
# Word-split on purpose: several flags.
read -r -a cflags <<<"${TS_CFLAGS:-}"
prefix=$TS_TMP/prefix

ts_step "cmake --install into a temporary prefix"
cmake --install "$TS_BUILD_DIR" --prefix "$prefix" >"$TS_TMP/install.log" ||
    { cat "$TS_TMP/install.log" >&2; ts_fail "cmake --install failed"; }
pc=$(find "$prefix" -name treesync.pc -path '*/pkgconfig/*')
[ -n "$pc" ] || ts_fail "no treesync.pc under $prefix"
libdir=$(dirname "$(dirname "$pc")")
for f in bin/treesync include/treesync.h share/man/man1/treesync.1; do
	[ -f "$prefix/$f" ] || ts_fail "not installed: $f"
done
for f in libtreesync.a libtreesync.so "libtreesync.so.${TS_VERSION%%.*}" \
    "libtreesync.so.$TS_VERSION" cmake/treesync/treesyncConfig.cmake \
    cmake/treesync/treesyncConfigVersion.cmake \
    cmake/treesync/treesyncTargets.cmake; do
	[ -e "$libdir/$f" ] || ts_fail "not installed: $libdir/$f"
done
(cd "$prefix" && find . -type f -o -type l | sort)

ts_step "treesync --version: the project's version and the libraries'"
"$prefix/bin/treesync" --version >"$TS_TMP/version" ||
    ts_fail "treesync --version failed"
cat "$TS_TMP/version"
grep -qx "treesync $TS_VERSION" "$TS_TMP/version" ||
    ts_fail "treesync --version does not say treesync $TS_VERSION"
for lib in libssh2 OpenSSL xxHash; do
	grep -q "^$lib [0-9]" "$TS_TMP/version" ||
	    ts_fail "treesync --version names no $lib version"
done

ts_step "the man page renders"
man -l "$prefix/share/man/man1/treesync.1" >"$TS_TMP/man.txt" 2>&1 ||
    ts_fail "man -l of the installed page failed: $(cat "$TS_TMP/man.txt")"
grep -q 'EXIT STATUS' "$TS_TMP/man.txt" ||
    ts_fail "the man page has no EXIT STATUS section"
MANPATH=$prefix/share/man man -w treesync >/dev/null ||
    ts_fail "man does not find treesync under $prefix/share/man"

export PKG_CONFIG_PATH=$libdir/pkgconfig
ts_step "pkg-config: $(pkg-config --modversion treesync)"
[ "$(pkg-config --modversion treesync)" = "$TS_VERSION" ] ||
    ts_fail "pkg-config says version $(pkg-config --modversion treesync)"
read -r -a pc_flags <<<"$(pkg-config --cflags --libs treesync)"
# Static: the archive itself, then what pkg-config says it needs.
read -r -a pc_static <<<"$(pkg-config --cflags treesync) \
    $libdir/libtreesync.a $(pkg-config --static --libs treesync |
    sed 's/-ltreesync//')"

ts_step "examples/mirror.c against the installed shared library"
"$cc" "${cflags[@]}" -Wall -Wextra -Werror -o "$TS_TMP/mirror" \
    "$TS_SOURCE_DIR/examples/mirror.c" "${pc_flags[@]}" ||
    ts_fail "mirror.c does not build with pkg-config --cflags --libs"
"$cc" "${cflags[@]}" -Wall -Wextra -Werror -o "$TS_TMP/cancel_again" \
    "$TS_SOURCE_DIR/tests/install/cancel_again.c" "${pc_flags[@]}" ||
    ts_fail "cancel_again.c does not build"
"$cc" "${cflags[@]}" -Wall -Wextra -Werror -o "$TS_TMP/walk_ahead" \
    "$TS_SOURCE_DIR/tests/install/walk_ahead.c" "${pc_flags[@]}" ||
    ts_fail "walk_ahead.c does not build"
export LD_LIBRARY_PATH=$libdir
linked=$(ldd "$TS_TMP/mirror")
grep -q "$libdir/libtreesync.so.${TS_VERSION%%.*} " <<<"$linked" ||
    ts_fail "mirror does not run with the installed libtreesync.so: $linked"

ts_step "... and against the installed static library"
"$cc" "${cflags[@]}" -Wall -Wextra -Werror -o "$TS_TMP/mirror_static" \
    "$TS_SOURCE_DIR/examples/mirror.c" "${pc_static[@]}" ||
    ts_fail "mirror.c does not link with libtreesync.a"

ts_step "... and with find_package(treesync), shared and static"
mkdir -p "$TS_TMP/fp"
cat >"$TS_TMP/fp/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.18)
project(mirror C)
find_package(treesync $TS_VERSION REQUIRED)
add_executable(mirror $TS_SOURCE_DIR/examples/mirror.c)
target_compile_options(mirror PRIVATE ${cflags[*]})
target_link_options(mirror PRIVATE ${cflags[*]})
target_link_libraries(mirror PRIVATE treesync::treesync)
add_executable(mirror_static $TS_SOURCE_DIR/examples/mirror.c)
target_compile_options(mirror_static PRIVATE ${cflags[*]})
target_link_options(mirror_static PRIVATE ${cflags[*]})
target_link_libraries(mirror_static PRIVATE treesync::treesync_static)
EOF
cmake -S "$TS_TMP/fp" -B "$TS_TMP/fp/build" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$prefix" >"$TS_TMP/fp.log" 2>&1 &&
    cmake --build "$TS_TMP/fp/build" >>"$TS_TMP/fp.log" 2>&1 ||
    { cat "$TS_TMP/fp.log" >&2; ts_fail "find_package(treesync) build failed"; }

ts_sshd_start
mkdir -p "$TS_LOCAL/src/sub dir" "$TS_LOCAL/src2"
printf 'hello\n' >"$TS_LOCAL/src/a.txt"
head -c 300000 /dev/urandom >"$TS_LOCAL/src/sub dir/b.bin"
: >"$TS_LOCAL/src/empty"
printf 'again\n' >"$TS_LOCAL/src2/c.txt"
# same_tree A B: the same files with the same bytes.
same_tree() {
	diff -r "$1" "$2" >/dev/null || ts_fail "\"$2\" differs from \"$1\""
}

for m in mirror mirror_static fp/build/mirror fp/build/mirror_static; do
	ts_step "$m pushes a small tree to the test sshd"
	rm -rf "$TS_REMOTE/dst"
	mkdir "$TS_REMOTE/dst"
	"$TS_TMP/$m" "$TS_LOCAL/src" "tshost:$TS_REMOTE/dst" \
	    "$TS_SSH_CONFIG" >"$TS_TMP/out" 2>"$TS_TMP/err" ||
	    ts_fail "$m failed: $(cat "$TS_TMP/err")"
	grep -q "libtreesync $TS_VERSION: 3 created" "$TS_TMP/out" ||
	    ts_fail "$m said: $(cat "$TS_TMP/out")"
	same_tree "$TS_LOCAL/src" "$TS_REMOTE/dst"
done

ts_step "after ts_cancel and ts_cancel_reset, the next push runs"
mkdir "$TS_REMOTE/dst2"
"$TS_TMP/cancel_again" "$TS_LOCAL/src2" "tshost:$TS_REMOTE/dst2" \
    "$TS_SSH_CONFIG" || ts_fail "cancel_again failed"
same_tree "$TS_LOCAL/src2" "$TS_REMOTE/dst2"

ts_step "a tree walked ahead is pushed from the directory walked"
mkdir -p "$TS_LOCAL/ahead/d" "$TS_REMOTE/dst3"
printf 'one\n' >"$TS_LOCAL/ahead/one.txt"
printf 'two\n' >"$TS_LOCAL/ahead/d/two.txt"
cp -a "$TS_LOCAL/ahead" "$TS_LOCAL/ahead.want"
"$TS_TMP/walk_ahead" "$TS_LOCAL/ahead" "tshost:$TS_REMOTE/dst3" \
    "$TS_SSH_CONFIG" >"$TS_TMP/out" || ts_fail "walk_ahead failed"
grep -q "pushed 2 files walked ahead" "$TS_TMP/out" ||
    ts_fail "walk_ahead said: $(cat "$TS_TMP/out")"
# What the walk saw, nothing added after it, nothing of the new directory.
same_tree "$TS_LOCAL/ahead.want" "$TS_REMOTE/dst3"
[ -e "$TS_LOCAL/ahead.old/late.txt" ] ||
    ts_fail "walk_ahead did not add late.txt after the walk"
ts_no_temp_files "$TS_REMOTE"
echo "PASS"
