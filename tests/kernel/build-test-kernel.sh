#!/usr/bin/env bash
# Build (or find in the cache) the debug test kernel from Debian's
# linux-source-6.12 and the config fragment beside this script, or (-v
# bench) the bench kernel: the same fragment less the debug options
# (bench-kernel.config lists what it changes).
#
# The result lives outside the checkout, keyed by the source package version,
# the fragment and the build recipe version below, so it is rebuilt only when
# one of them changes.  On success the last line printed is the cache
# directory, which holds:
#   build/         the kernel build tree (use it as KDIR)
#   bzImage        the kernel image
#   mods/lib/modules/<release>/   installed modules
#   release        the kernel release string
set -euo pipefail

usage() {
	cat <<EOF
usage: $0 [-f] [-q] [-v debug|bench]
  Build the test kernel if it is not cached yet; print its cache directory.
  -f  rebuild even if a cached build exists
  -q  print only the cache directory (build log goes to build.log)
  -v  variant: debug (default; the test kernel, KASAN, lockdep, kmemleak)
      or bench (the same drivers without the debug options)
environment:
  DMT_CACHE   cache root (default /var/cache/dm-oot-tests)
EOF
}

force=0
quiet=0
variant=debug
while getopts "fqv:h" opt; do
	case $opt in
	f) force=1 ;;
	q) quiet=1 ;;
	v) variant=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

here=$(cd "$(dirname "$0")" && pwd)
case $variant in debug | bench) ;; *) usage >&2; exit 2 ;; esac
cache_root=${DMT_CACHE:-/var/cache/dm-oot-tests}
src_pkg=linux-source-6.12
tarball=/usr/src/$src_pkg.tar.xz

log() { [ "$quiet" = 1 ] || echo "build-test-kernel: $*" >&2; }
die() { echo "build-test-kernel: error: $*" >&2; exit 1; }

# The fragment of the variant, as one file: the bench overrides replace the
# test fragment's lines for the names they set.
fragment=$(mktemp "${TMPDIR:-/tmp}/dmt-fragment.XXXXXX")
trap 'rm -f "$fragment"' EXIT
if [ "$variant" = bench ]; then
	awk 'match($0, /^(# )?CONFIG_[A-Za-z0-9_]+/) {
			name = substr($0, RSTART, RLENGTH)
			sub(/^# /, "", name)
		}
		FNR == NR { if (RSTART) set[name] = 1; next }
		!(RSTART && name in set)' \
		"$here/bench-kernel.config" "$here/test-kernel.config" >"$fragment"
	grep '^CONFIG_' "$here/bench-kernel.config" >>"$fragment"
else
	cp "$here/test-kernel.config" "$fragment"
fi

if [ ! -f "$tarball" ]; then
	log "installing $src_pkg"
	[ "$(id -u)" = 0 ] || die "$tarball missing and not root to install $src_pkg"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"$src_pkg" bc flex bison libelf-dev libssl-dev cpio xz-utils >&2
fi

# Bump when a change to this script changes what it builds.
recipe=1
version=$(dpkg-query -W -f '${Version}' "$src_pkg")
key=$( (cat "$fragment"; echo "recipe $recipe") | sha256sum | cut -c1-12)
out=$cache_root/kernel/$version-$key
src=$cache_root/src/$version

mkdir -p "$cache_root/kernel"
# Several runs may ask at once: one builds, the others wait for it.
exec 9>"$cache_root/kernel/lock"
flock 9

if [ "$force" = 0 ] && [ -f "$out/done" ]; then
	log "cached: $out"
	echo "$out"
	exit 0
fi

mkdir -p "$out" "$cache_root/src"
rm -f "$out/done"
if [ ! -f "$src/.extracted" ]; then
	log "extracting $tarball"
	rm -rf "$src" "$src.tmp"
	mkdir -p "$src.tmp"
	tar -xJf "$tarball" -C "$src.tmp" --strip-components=1
	touch "$src.tmp/.extracted"
	mv "$src.tmp" "$src"
fi

start=$(date +%s)
jobs=$(($(nproc) + 1))
buildlog=$out/build.log
log "configuring (allnoconfig + fragment); log in $buildlog"
{
	make -C "$src" O="$out/build" ARCH=x86_64 \
		KCONFIG_ALLCONFIG="$fragment" allnoconfig

	# Every line of the fragment must have survived Kconfig's dependency
	# resolution; a silently dropped option would make tests meaningless.
	missing=0
	while IFS= read -r line; do
		case $line in CONFIG_*=*) ;; *) continue ;; esac
		name=${line%%=*}
		want=${line#*=}
		if [ "$want" = n ]; then
			grep -qx "$name=y\|$name=m" "$out/build/.config" || continue
		elif grep -qxF "$line" "$out/build/.config"; then
			continue
		fi
		echo "fragment option not applied: $line" >&2
		missing=1
	done <"$fragment"
	[ "$missing" = 0 ] || exit 1

	log "building with -j$jobs"
	make -C "$out/build" -j"$jobs" bzImage modules
	rm -rf "$out/mods"
	make -C "$out/build" INSTALL_MOD_PATH="$out/mods" INSTALL_MOD_STRIP=1 \
		DEPMOD=/sbin/depmod modules_install
} >"$buildlog" 2>&1 || { tail -n 30 "$buildlog" >&2; die "build failed, see $buildlog"; }

cp "$out/build/arch/x86/boot/bzImage" "$out/bzImage"
cp "$out/build/.config" "$out/config"
make -s -C "$out/build" kernelrelease >"$out/release"
echo $(($(date +%s) - start)) >"$out/build-seconds"
touch "$out/done"
log "built $(cat "$out/release") in $(cat "$out/build-seconds") s"
echo "$out"
