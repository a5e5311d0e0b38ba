# shellcheck shell=bash
# Resolve a kernel name used by the harness into the files needed to boot it
# and to build modules for it.  Sourced by tests/run and bench/run.
#
# Names:
#   stock-6.12  Debian's newest installed 6.12 amd64 kernel
#   stock-6.1   Debian's newest installed 6.1 amd64 kernel
#   test        the debug test kernel (tests/kernel/), built or taken from cache
#
# Sets: KERNEL_NAME KERNEL_IMAGE KERNEL_RELEASE KERNEL_MODROOT KERNEL_KDIR
#       KERNEL_APPEND KERNEL_MEM

_kernels_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

_newest_stock() {
	# $1: glob of the release, e.g. "6.12.*+deb12-amd64"
	local img best=""
	for img in /boot/vmlinuz-$1; do
		[ -e "$img" ] && best+="${img#/boot/vmlinuz-}"$'\n'
	done
	[ -n "$best" ] || return 1
	# Glob order is lexical; pick the highest version.
	printf '%s' "$best" | sort -V | tail -n1
}

resolve_kernel() {
	local name=$1 rel dir
	KERNEL_NAME=$name
	KERNEL_APPEND=""
	KERNEL_MEM=2048
	case $name in
	stock-6.12 | stock-6.1)
		if [ "$name" = stock-6.12 ]; then
			rel=$(_newest_stock "6.12.*+deb12-amd64") || {
				echo "no Debian 6.12 kernel installed (tests/setup-host installs it)" >&2
				return 1
			}
		else
			rel=$(_newest_stock "6.1.0-*-amd64") || {
				echo "no Debian 6.1 kernel installed (tests/setup-host installs it)" >&2
				return 1
			}
		fi
		KERNEL_RELEASE=$rel
		KERNEL_IMAGE=/boot/vmlinuz-$rel
		KERNEL_MODROOT=/lib/modules
		KERNEL_KDIR=/lib/modules/$rel/build
		;;
	test)
		dir=$("$_kernels_dir/kernel/build-test-kernel.sh" -q) || return 1
		KERNEL_RELEASE=$(cat "$dir/release")
		KERNEL_IMAGE=$dir/bzImage
		KERNEL_MODROOT=$dir/mods/lib/modules
		KERNEL_KDIR=$dir/build
		# Built without ACPI: it boots in seconds instead of a minute of
		# AML timeouts under TCG.  KASAN needs the extra memory.
		KERNEL_APPEND="acpi=off"
		KERNEL_MEM=3072
		;;
	*)
		echo "unknown kernel '$name' (stock-6.12, stock-6.1, test)" >&2
		return 1
		;;
	esac
	[ -r "$KERNEL_IMAGE" ] || { echo "kernel image $KERNEL_IMAGE not readable" >&2; return 1; }
	[ -d "$KERNEL_MODROOT/$KERNEL_RELEASE" ] || { echo "no modules for $KERNEL_RELEASE" >&2; return 1; }
}
