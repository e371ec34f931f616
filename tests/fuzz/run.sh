#!/usr/bin/env bash
# Runs one libFuzzer target: first every regression case of it (inputs
# that once crashed it, in regress/<name>/), then SECONDS of fuzzing from
# its seeds (corpus/<name>/), what it finds kept in a work directory.
#
#	tests/fuzz/run.sh BINARY SECONDS [WORKDIR]
#
# WORKDIR (default: fuzz-<name> beside BINARY) keeps the corpus grown so
# far, so the next run starts where this one stopped, and crash-* files.
# Exits non-zero when a regression case or the fuzzing finds a crash, a
# leak or a timeout.
set -euo pipefail

bin=$1
secs=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
name=$(basename "$bin")
name=${name#fuzz_}
work=${3:-$(dirname "$bin")/fuzz-$name}
mkdir -p "$work/corpus" "$work/artifacts"

# A slow input is a bug too (a pattern that backtracks for ever): 10 s
# per input is far beyond what any seed takes.
common=(-timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=0)

regress=("$here/regress/$name"/*)
if [ -e "${regress[0]}" ]; then
	echo "== $name: ${#regress[@]} regression case(s)"
	"$bin" "${common[@]}" -runs=1 "${regress[@]}"
fi

echo "== $name: fuzzing for ${secs}s"
set +e
"$bin" "${common[@]}" -max_total_time="$secs" \
    -artifact_prefix="$work/artifacts/" \
    "$work/corpus" "$here/corpus/$name" 2>&1 |
    grep -a -v -E '^"|^###### ' | tail -n 20	# not the dictionary
rc=${PIPESTATUS[0]}
set -e
echo "== $name: fuzzer exit $rc"
exit "$rc"
