#!/usr/bin/env bash
# Installs what treesync needs to build and test (Debian/Ubuntu packages,
# only the missing ones, non-interactively), then configures and builds.
#
#	scripts/setup.sh [BUILD_DIR [CMAKE_ARGS...]]
#
# BUILD_DIR defaults to build/ in the repository; CMAKE_ARGS go to the
# configure step (scripts/test.sh passes -DTS_WERROR=ON and friends).
# A build made here is a test build: -DTS_TEST_HOOKS=ON comes first, so
# the integration tests' TREESYNC_TEST_* switches work (CMAKE_ARGS may
# say OFF); a plain cmake configure, as for a release, leaves them out.
# Idempotent, and quiet when there is nothing to do.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${1:-$root/build}
[ $# -gt 0 ] && shift
case $build_dir in
/*) ;;
*) build_dir=$root/$build_dir ;;
esac

# Build tools and libraries, the server side of the integration tests
# (sshd, a second SFTP server, xxhsum), python3 for the harness,
# python3-paramiko for the hostile SFTP server of test_pull_hostile.sh and
# both for the servers of test_interop.sh (python3-asyncssh too);
# time (GNU time) for the CPU figures of bench/put_get.sh.
# acl (setfacl) and rsync: test_restore.sh sets an ACL, and checks a
# restore against its source with rsync -aHAXS --dry-run (docs/metadata.md).
# clang and its runtimes (libFuzzer, the sanitizers) for build-asan/ and
# the fuzz targets.
# man-db: tests/install/test_install.sh renders the installed man page.
packages=(
	gcc libc6-dev make cmake pkg-config clang libclang-rt-14-dev
	libssh2-1-dev libssl-dev libxxhash-dev libcmocka-dev
	openssh-server openssh-client gesftpserver xxhash python3
	python3-paramiko python3-asyncssh time
	acl rsync man-db
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || {
			echo "setup: missing packages (${missing[*]}) and no sudo;" \
			    "install them as root" >&2
			exit 1
		}
		sudo=(sudo)
	fi
	apt_log=$(mktemp)
	apt_get() {
		if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		    apt-get -q -y "$@" >"$apt_log" 2>&1; then
			cat "$apt_log" >&2
			echo "setup: apt-get $* failed" >&2
			rm -f "$apt_log"
			exit 1
		fi
	}
	apt_get update
	apt_get --no-install-recommends \
	    -o Dpkg::Options::=--force-confdef \
	    -o Dpkg::Options::=--force-confold \
	    install "${missing[@]}"
	rm -f "$apt_log"
	echo "setup: installed"
fi

# Configure when the build directory is new or arguments were given (the
# arguments are then recorded in its cache), then build.  The configure
# output is shown only when it fails; the build output only when it did
# something.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ ! -f "$build_dir/CMakeCache.txt" ] || [ $# -gt 0 ]; then
	if ! cmake -S "$root" -B "$build_dir" -DTS_TEST_HOOKS=ON "$@" \
	    >"$log" 2>&1; then
		cat "$log" >&2
		echo "setup: cmake configure of $build_dir failed" >&2
		exit 1
	fi
fi
if ! cmake --build "$build_dir" -j "$(nproc 2>/dev/null || echo 2)" \
    >"$log" 2>&1; then
	cat "$log" >&2
	echo "setup: build in $build_dir failed" >&2
	exit 1
fi
grep -v -E '^\[ *[0-9]+%\] Built target |^Consolidate compiler generated|^gmake(\[[0-9]+\])?: (Entering|Leaving) directory' \
    "$log" || true
