#!/usr/bin/env bash
# Build this tree's modules, and the harness's test-only modules, for one
# kernel.  The sources are mirrored into a per-kernel directory outside the
# checkout so that builds for several kernels neither collide nor litter the
# work tree.  Prints the directory holding the built .ko files.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 <kdir> <kernel-release>" >&2; exit 2; }
kdir=$1
release=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${DMT_CACHE:-/var/cache/dm-oot-tests}/modbuild/$release
log=$out.log

mkdir -p "$out"
# One build at a time per kernel: runs started in parallel share the tree.
exec 9>"$out.lock"
flock 9
rsync -a --delete --exclude=.git --exclude='*.o' --exclude='*.ko' \
	--exclude='.*.cmd' "$repo/" "$out/"
if ! { make -C "$out" KDIR="$kdir" W=1 &&
	make -C "$kdir" M="$out/tests/modules" W=1 modules; } >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "build-modules: building for $release failed, see $log" >&2
	exit 1
fi
echo "$out"
