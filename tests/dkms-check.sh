#!/usr/bin/env bash
# Check the DKMS packaging without touching the host's DKMS or module trees:
# `dkms add`, `build` and `install` into private trees for each kernel, then
# depmod on the private module tree and ask modprobe which file it would load
# for each of our modules: it must be ours (updates/dkms), not the kernel's.
# Prints one PASS/FAIL line per kernel and "N passed, N failed".
set -euo pipefail

usage() {
	cat <<EOF
usage: $0 [KERNEL...]
  KERNEL  stock-6.12, stock-6.1 or test (default: all three)
EOF
}
case ${1:-} in -h | --help) usage; exit 0 ;; esac

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=tests/lib/kernels.sh
. "$here/lib/kernels.sh"

command -v dkms >/dev/null || { echo "dkms-check: dkms missing (run tests/setup-host as root)" >&2; exit 2; }
kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || kernels=(stock-6.12 stock-6.1 test)

version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$repo/dkms.conf")
work=$(mktemp -d "${TMPDIR:-/tmp}/dkms-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
# What `dkms add` sees: the tracked files, as a release tarball would hold.
git -C "$repo" ls-files -z | (cd "$repo" && rsync -a --from0 --files-from=- . "$work/src/dm-oot-$version/")

# shellcheck source=tests/lib/report.sh
. "$here/lib/report.sh"
# $1 0 = pass, $2 kernel, $3 detail
report() { report_status "$1" "$2" dkms "$3"; }

for k in "${kernels[@]}"; do
	if ! resolve_kernel "$k" >/dev/null 2>&1; then
		report 1 "$k" "cannot resolve kernel $k"
		continue
	fi
	tree=$work/$k/tree root=$work/$k/root log=$work/$k.log
	mods=$root/lib/modules/$KERNEL_RELEASE
	mkdir -p "$tree" "$mods"
	# The kernel's own modules (linked, not copied) and index files, so
	# that depmod and modprobe see both the in-kernel modules and ours.
	for f in "$KERNEL_MODROOT/$KERNEL_RELEASE"/*; do
		case $(basename "$f") in
		build | source) ;;
		modules.*) cp "$f" "$mods/" ;;
		*) ln -s "$f" "$mods/" ;;
		esac
	done
	dk=(dkms --dkmstree "$tree" --sourcetree "$work/src" --installtree "$root/lib/modules")
	if ! { "${dk[@]}" add -m dm-oot -v "$version" -k "$KERNEL_RELEASE" --kernelsourcedir "$KERNEL_KDIR" &&
		"${dk[@]}" build -m dm-oot -v "$version" -k "$KERNEL_RELEASE" --kernelsourcedir "$KERNEL_KDIR" &&
		"${dk[@]}" install --no-depmod -m dm-oot -v "$version" -k "$KERNEL_RELEASE" \
			--kernelsourcedir "$KERNEL_KDIR"; } >"$log" 2>&1; then
		report 1 "$k" "dkms add/build/install failed: $(grep -m1 -i error "$log" || tail -n1 "$log")"
		continue
	fi
	depmod -b "$root" -a "$KERNEL_RELEASE" >>"$log" 2>&1 ||
		{ report 1 "$k" "depmod on the installed tree failed"; continue; }
	built=$(find "$tree" -path "*/$KERNEL_RELEASE/*" -name '*.ko*' -printf '%f\n' | sed 's/\.ko.*//' | sort)
	bad=""
	for m in $built; do
		path=$(modprobe -d "$root" -S "$KERNEL_RELEASE" --show-depends "$m" 2>/dev/null |
			awk '$1 == "insmod" { p = $2 } END { print p }')
		case $path in */updates/dkms/*) ;; *) bad="$bad $m(${path:-not found})" ;; esac
	done
	if [ -n "$bad" ]; then
		report 1 "$k" "modprobe would not load ours:$bad"
	else
		report 0 "$k" "$(echo "$built" | wc -w) modules built and installed; modprobe picks updates/dkms: $(echo "$built" | paste -sd' ' -)"
	fi
done
report_summary
