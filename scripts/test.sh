#!/usr/bin/env bash
# THE test command (the README names it, .ci/run runs it): installs what is
# missing, builds build/ (warnings are errors) and build-asan/ (the same
# under AddressSanitizer and UndefinedBehaviorSanitizer, with clang when
# there is one), and runs every test, unit and sshd, in both; with clang,
# a few seconds of each fuzz target too (label fuzz, build-asan/ only).
# Then build-tsan/: the CLI alone under ThreadSanitizer, and the threaded
# sshd tests (label tsan: faults, distant, split, pull) against it, under
# libssh2; any data race fails them (TS_TSAN=0 skips it).
# The sshd suite runs under each transport once: libssh2 in build/,
# openssh (the code of ours that drives ssh, under the sanitizers) in
# build-asan/; a third whole run would take CI past its time budget.
# TS_TRANSPORT set by the caller picks one transport for both.
#
#	scripts/test.sh [CTEST_ARGS...]	e.g. -L unit, -R names, -V
#
# Exits non-zero if anything fails; the last line is the total.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=${TS_CTEST_JOBS:-2}	# each sshd test runs its own server: independent

echo "== setup and build: build/"
bash scripts/setup.sh build -DTS_WERROR=ON -DTS_TEST_HOOKS=ON

# TS_ASAN_CC=gcc picks the compiler of the sanitizer build.
cc=${TS_ASAN_CC:-$(command -v clang || command -v gcc || command -v cc)}
cc=$(command -v "$cc") || { echo "test: no compiler \"$cc\"" >&2; exit 1; }
# With clang, build-asan/ also holds the libFuzzer targets (tests/fuzz/):
# each runs its regression cases and a few seconds of fuzzing (label fuzz).
fuzz=OFF
case $("$cc" --version 2>/dev/null | head -n 1) in
*clang*) fuzz=ON ;;
esac
echo "== build: build-asan/ (ASan + UBSan, $(basename "$cc"), fuzz targets $fuzz)"
bash scripts/setup.sh build-asan -DTS_SANITIZE=ON -DTS_WERROR=ON \
    -DTS_TEST_HOOKS=ON -DCMAKE_C_COMPILER="$cc" -DTS_FUZZ=$fuzz

# LeakSanitizer cannot run everywhere (under ptrace, in some containers):
# try it on a program that leaks, and turn it off only if it cannot work.
detect_leaks=1
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
cat >"$probe/leak.c" <<'EOF'
#include <stdlib.h>
void *volatile keep;
int main(void) { keep = malloc(42); keep = NULL; return 0; }
EOF
if "$cc" -fsanitize=address -g "$probe/leak.c" -o "$probe/leak" \
    >/dev/null 2>&1; then
	ASAN_OPTIONS=detect_leaks=1 "$probe/leak" >/dev/null \
	    2>"$probe/out" || true
	if ! grep -q 'detected memory leaks' "$probe/out"; then
		detect_leaks=0
		echo "note: LeakSanitizer does not work here; leak checks are off"
	fi
fi

# run_ctest DIR [ENV=VALUE...]: ctest in DIR, output kept in DIR/ctest.log.
run_ctest() {
	local dir=$1 rc
	shift
	echo "== ctest: $dir/"
	set +e
	env "$@" ctest --test-dir "$dir" --output-on-failure --no-tests=error \
	    -j "$jobs" "${ctest_args[@]+"${ctest_args[@]}"}" 2>&1 |
	    tee "$dir/ctest.log"
	rc=${PIPESTATUS[0]}
	set -e
	return "$rc"
}
ctest_args=("$@")

status=0
run_ctest build "TS_TRANSPORT=${TS_TRANSPORT:-libssh2}" || status=1
run_ctest build-asan "TS_TRANSPORT=${TS_TRANSPORT:-openssh}" \
    "ASAN_OPTIONS=detect_leaks=$detect_leaks:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1" \
    "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1" || status=1

# ThreadSanitizer: only the CLI is built (the unit tests run above), and
# only the tests labelled tsan run, with the caller's CTEST_ARGS if any.
dirs=(build build-asan)
if [ "${TS_TSAN:-1}" != 0 ]; then
	echo "== build: build-tsan/ (ThreadSanitizer, $(basename "$cc"), the CLI only)"
	cmake -S . -B build-tsan -DCMAKE_C_COMPILER="$cc" -DTS_WERROR=ON \
	    -DTS_TEST_HOOKS=ON -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
	    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
	cmake --build build-tsan --target treesync-cli -j "$jobs" >/dev/null
	echo "== ctest: build-tsan/ (label tsan)"
	set +e
	env "TS_TRANSPORT=${TS_TRANSPORT:-libssh2}" \
	    "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1" \
	    ctest --test-dir build-tsan --output-on-failure --no-tests=ignore \
	    -j "$jobs" -L tsan "${ctest_args[@]+"${ctest_args[@]}"}" 2>&1 |
	    tee build-tsan/ctest.log
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
	set -e
	dirs+=(build-tsan)
fi

# Both summaries again, then the total: the last line says it all.
echo
echo "== summary"
passed=0 failed=0
for dir in "${dirs[@]}"; do
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' \
	    "$dir/ctest.log" | tail -n 1 || true)
	if [ -z "$line" ] && [ "$dir" = build-tsan ] &&
	    grep -q 'No tests were found' "$dir/ctest.log"; then
		echo "$dir: no tsan test among those asked for"
		continue
	fi
	if [ -z "$line" ]; then
		echo "$dir: no test summary (see above)"
		status=1
		continue
	fi
	echo "$dir: $line"
	f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
	n=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
	passed=$((passed + n - f))
	failed=$((failed + f))
done
[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed"
exit "$status"
