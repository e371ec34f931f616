#!/usr/bin/env bash
# Try treesync on this machine: installs what is missing, builds, starts a
# throwaway sshd on 127.0.0.1 with fresh keys (the test harness's), and runs
# the main job on it: push a small tree, change it, see the change with
# diff, push it, check both sides by hash, and take a backup.  The server
# and its keys are gone when the script ends.
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
# A small site: a few pages, a stylesheet, an image, a draft.
mkdir -p site/css site/img site/drafts
for p in index about contact; do
	printf '<h1>%s</h1>\n' "$p" >"site/$p.html"
done
printf 'body { margin: 0 }\n' >site/css/main.css
head -c 300000 /dev/urandom >site/img/logo.png
printf 'not yet\n' >site/drafts/next.html
R=$TS_REMOTE/www
T=(-F "$TS_SSH_CONFIG")

run "$TREESYNC" "${T[@]}" push --stats site "tshost:$R"

echo
echo "# Edit a page, add one, remove the drafts:"
printf '<h1>about us</h1>\n' >site/about.html
printf '<h1>news</h1>\n' >site/news.html
rm -r site/drafts

run "$TREESYNC" "${T[@]}" diff --delete site "tshost:$R"
run "$TREESYNC" "${T[@]}" push --delete -i site "tshost:$R"
run "$TREESYNC" "${T[@]}" check site "tshost:$R"

echo
echo "# A dated, verified snapshot; unchanged files are hard links to the"
echo "# previous one, and only the newest --keep are kept:"
run "$TREESYNC" "${T[@]}" backup --keep 7 site "tshost:$TS_REMOTE/backups"
run "$TREESYNC" "${T[@]}" ls "tshost:$TS_REMOTE/backups"

echo
echo "Stopping sshd and removing its keys and files."
