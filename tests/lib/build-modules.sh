#!/usr/bin/env bash
# Build this tree's modules, and the harness's test-only modules, for one
# kernel.  The sources are mirrored into a per-kernel directory outside the
# checkout so that builds for several kernels neither collide nor litter the
# work tree.  Prints that build directory; with a third argument, also copies
# the built .ko files there (keeping their paths) and prints that instead, so
# that a guest never sees a module that a later build is rewriting.
# DMT_BUILD_CLEAN=1 rebuilds from scratch (see below).
set -euo pipefail

[ $# -ge 2 ] && [ $# -le 3 ] ||
	{ echo "usage: $0 <kdir> <kernel-release> [<copy-to-dir>]" >&2; exit 2; }
kdir=$1
release=$2
copy_to=${3:-}
repo=$(cd "$(dirname "$0")/../.." && pwd)
# One mirror per checkout and kernel: rsync keeps excluded build products
# (so builds stay incremental), which must never leak from one worktree's
# sources into another's modules.
tree_key=$(printf '%s' "$repo" | sha256sum | cut -c1-8)
out=${DMT_CACHE:-/var/cache/dm-oot-tests}/modbuild/$tree_key/$release
log=$out.log

mkdir -p "$out"
# One build at a time per kernel: runs started in parallel share the tree.
exec 9>"$out.lock"
flock 9
# Build products are excluded so they survive for incremental builds.
rsync -a --delete --exclude=.git --exclude-from="$repo/.gitignore" "$repo/" "$out/"
# DMT_BUILD_CLEAN=1 (the build check): everything is compiled again, so
# that the log shows every warning, not only those of changed files.
if [ "${DMT_BUILD_CLEAN:-0}" = 1 ]; then
	make -C "$out" KDIR="$kdir" clean >/dev/null 2>&1 || true
	make -C "$kdir" M="$out/tests/modules" clean >/dev/null 2>&1 || true
fi
if ! { make -C "$out" KDIR="$kdir" W=1 &&
	make -C "$kdir" M="$out/tests/modules" W=1 modules; } >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "build-modules: building for $release failed, see $log" >&2
	exit 1
fi
if [ -n "$copy_to" ]; then
	mkdir -p "$copy_to"
	(cd "$out" && find . -name '*.ko' -print0 | rsync -a --from0 --files-from=- . "$copy_to/")
	out=$copy_to
fi
echo "$out"
