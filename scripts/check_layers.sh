#!/usr/bin/env bash
# The include-layer check (docs/architecture.md): every file of src/lib
# has a layer below; a file may include the headers of its own layer and
# of the layers under it, never of one above.  Run by ctest (layers.check)
# and by hand:
#
#	scripts/check_layers.sh [SRC_LIB_DIR]
#
# Prints each include that points up a layer, and each file with no layer
# in the table; exits 1 if there is any, 0 otherwise.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-$root/src/lib}

# The layers, bottom up.  foo.c and foo.h share foo's layer.
declare -A layer
set_layer() {
	local n=$1 f
	shift
	for f in "$@"; do layer[$f]=$n; done
}
# 0: the public API header (include/treesync.h), below everything.
set_layer 0 treesync
# 1 util: buffers, errors, logging, hashes, paths and names, versions, pure
#   modules that touch no socket (entries, filter, plan, delta maths).
set_layer 1 buf error log cancel hash path tempname ratelimit local_open flush_ahead \
	entries filter plan idmap metadata delta version
# 2 transport: targets, ssh_config, the settings chosen from them, host
#   keys, libssh2 (ssh) and the system's ssh as a child (sshproc).
set_layer 2 target sshconf conn_settings hostkey ssh sshproc ssh_ciphers
# 3 SFTP engine: the codec, the pipelined engine, one-request steps.
set_layer 3 sftp_codec sftp rfs
# 4 connections: ts_conn (transport + engine) and its one-off calls,
#   connections opened ahead.
set_layer 4 conn spare
# 5 transfers: one file (xfer, xfer_run, delta_put), big files as ranges
#   (split, part), verification, signatures, links, remote tree removal,
#   the lock, the walks, case checks.
set_layer 5 xfer xfer_run split part delta_put verify sigstore symlink \
	rmtree rlock walk_local walk_remote caseclash
# 6 pool: threads, queue, retries, reconnects, the orphan sweep.
set_layer 6 pool
# 7 jobs: push/pull/diff/check (job, act), backup, publish, probe,
#   restore, put/get, a local tree walked once for several pushes.
set_layer 7 job act stage ltree backup backup_rules publish probe restore putget

bad=0
shopt -s nullglob
for f in "$dir"/*.c "$dir"/*.h; do
	base=$(basename "$f")
	stem=${base%.*}
	if [ -z "${layer[$stem]+x}" ]; then
		echo "check_layers: $base has no layer (scripts/check_layers.sh)"
		bad=1
		continue
	fi
	mine=${layer[$stem]}
	while IFS= read -r inc; do
		istem=${inc%.h}
		if [ -z "${layer[$istem]+x}" ]; then
			echo "check_layers: $base includes \"$inc\", which has no layer"
			bad=1
		elif [ "${layer[$istem]}" -gt "$mine" ]; then
			echo "check_layers: $base (layer $mine) includes \"$inc\" (layer ${layer[$istem]}): up a layer"
			bad=1
		fi
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done
n=$(ls "$dir"/*.c "$dir"/*.h | wc -l)
if [ "$bad" -ne 0 ]; then
	echo "check_layers: FAILED"
	exit 1
fi
echo "check_layers: $n files, every include points down or sideways"
