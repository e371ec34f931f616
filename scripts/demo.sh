#!/usr/bin/env bash
# Try treesync on this machine: installs what is missing, builds, starts a
# throwaway sshd on 127.0.0.1 with fresh keys (the test harness's), uploads
# a sample file, lists it, stats it and downloads it again.  The server and
# its keys are gone when the script ends.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh"

export TS_SOURCE_DIR=$root
export TREESYNC=$root/build/treesync
[ -x "$TREESYNC" ] || { echo "demo: $TREESYNC was not built" >&2; exit 1; }
# shellcheck source=../tests/integration/harness.sh
. "$root/tests/integration/harness.sh"

# Prints a command the way a user would type it, then runs it.
run() {
	local shown=treesync arg
	for arg in "${@:2}"; do
		shown+=" $(printf '%q' "$arg")"
	done
	printf '\n$ %s\n' "$shown"
	"$@"
}

echo
echo "Starting a throwaway sshd on 127.0.0.1 ..."
ts_sshd_start
echo "sshd is listening on 127.0.0.1:$TS_PORT (pid $TS_SSHD_PID)."
echo "Host \"tshost\" is defined in $TS_SSH_CONFIG:"
sed 's/^/    /' "$TS_SSH_CONFIG"

cd "$TS_LOCAL"
printf 'Hello from treesync, %s.\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" \
    >hello.txt
head -c 1048576 /dev/urandom >>hello.txt
R=$TS_REMOTE

run "$TREESYNC" -F "$TS_SSH_CONFIG" put --verify=hash hello.txt "tshost:$R/"
run "$TREESYNC" -F "$TS_SSH_CONFIG" ls -l "tshost:$R"
run "$TREESYNC" -F "$TS_SSH_CONFIG" stat "tshost:$R/hello.txt"
run "$TREESYNC" -F "$TS_SSH_CONFIG" get "tshost:$R/hello.txt" hello.copy.txt
printf '\n$ cmp hello.txt hello.copy.txt\n'
cmp hello.txt hello.copy.txt
echo "identical: $(stat -c %s hello.copy.txt) bytes came back unchanged."

echo
echo "Stopping sshd and removing its keys and files."
