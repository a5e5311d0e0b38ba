#!/usr/bin/env bash
# Build the guest initramfs for one kernel release: static busybox, the init
# script and, for kernels that build them as modules, what is needed to mount
# a 9p root.  Prints the path of the (cached) image.
set -euo pipefail

usage() { echo "usage: $0 <kernel-release> <module-root>" >&2; }
[ $# -eq 2 ] || { usage; exit 2; }
release=$1
modroot=$2
here=$(cd "$(dirname "$0")" && pwd)
cache_root=${DMT_CACHE:-/var/cache/dm-oot-tests}
busybox=/bin/busybox

file "$busybox" 2>/dev/null | grep -q 'statically linked' ||
	{ echo "initramfs: $busybox is not static (install busybox-static)" >&2; exit 1; }

key=$(cat "$here/guest-init" "$0" | sha256sum | cut -c1-12)
out=$cache_root/initramfs/$release-$key.cpio.gz
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,dev,proc,sys,mods,newroot}
cp "$busybox" "$work/bin/busybox"
cp "$here/guest-init" "$work/init"
chmod 755 "$work/init"

# Modules the boot needs, in load order, without duplicates.  Built-in ones
# are reported as "builtin" and skipped.
touch "$work/mods/order"
basedir=${modroot%/lib/modules}
for m in virtio_pci virtio-rng 9pnet_virtio 9p; do
	modprobe -d "${basedir:-/}" -S "$release" --show-depends "$m" 2>/dev/null || true
done | awk '$1 == "insmod" { print $2 }' | while read -r path; do
	base=$(basename "$path")
	base=${base%.xz}
	base=${base%.zst}
	grep -qxF "$base" "$work/mods/order" && continue
	case $path in
	*.xz) xz -dc "$path" >"$work/mods/$base" ;;
	*.zst) zstd -qdc "$path" >"$work/mods/$base" ;;
	*) cp "$path" "$work/mods/$base" ;;
	esac
	echo "$base" >>"$work/mods/order"
done

mkdir -p "$(dirname "$out")"
(cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
