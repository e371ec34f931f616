#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/, clang, ASan + UBSan) into
# build-fuzz/ and runs each for as long as asked, regression cases first.
#
#	scripts/fuzz.sh [-j N] [SECONDS [TARGET...]]
#
# SECONDS defaults to 600 per target; TARGETs are the names after fuzz_
# (sftp_codec, sshconf, known_hosts, filter, target, hash_output), all by
# default; -j N runs N targets at once (default 1).  The corpus each grows
# stays in build-fuzz/tests/fuzz/fuzz-<name>/, so the next run goes on
# from there; a crash leaves its input in .../artifacts/: fix the code,
# then copy the input to tests/fuzz/regress/<name>/ so the tests keep it.
# Exits non-zero if any target found something.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
par=1
if [ "${1:-}" = -j ]; then
	par=$2
	shift 2
fi
secs=${1:-600}
[ $# -gt 0 ] && shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		f=$(basename "$f" .c)
		targets+=("${f#fuzz_}")
	done
fi

command -v clang >/dev/null || {
	echo "fuzz: clang is needed (scripts/setup.sh installs it)" >&2
	exit 1
}
bash scripts/setup.sh build-fuzz -DCMAKE_C_COMPILER=clang -DTS_FUZZ=ON \
    -DTS_WERROR=ON

status=0
pids=()
names=()
# wait_one: waits for the oldest running target, noting its result.
wait_one() {
	if ! wait "${pids[0]}"; then
		echo "fuzz: ${names[0]} found something (see its log)" >&2
		status=1
	fi
	pids=("${pids[@]:1}")
	names=("${names[@]:1}")
}
for t in "${targets[@]}"; do
	bin=build-fuzz/tests/fuzz/fuzz_$t
	[ -x "$bin" ] || { echo "fuzz: no target \"$t\"" >&2; exit 2; }
	log=build-fuzz/tests/fuzz/fuzz-$t.log
	echo "fuzz: $t for ${secs}s, log in $log"
	bash tests/fuzz/run.sh "$bin" "$secs" >"$log" 2>&1 &
	pids+=($!)
	names+=("$t")
	[ ${#pids[@]} -lt "$par" ] || wait_one
done
while [ ${#pids[@]} -gt 0 ]; do
	wait_one
done
exit "$status"
