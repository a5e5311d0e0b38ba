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

# The host's TSC frequency in kHz, from its kernel log, or nothing.  Under
# TCG the guest's TSC runs at the host's rate, but a guest without ACPI
# calibrates it against the emulated PIT, which a loaded host starves: a
# guest that measured 61 MHz on a 2.1 GHz host saw its clock run 34 times
# too fast, timed cases out within minutes and reported soft lockups.
_host_tsc_khz() {
	local log mhz
	log=$( (dmesg 2>/dev/null; journalctl -k -b -q 2>/dev/null) | grep -E 'tsc: (Refined TSC clocksource calibration|Detected) ')
	mhz=$(sed -n 's/.*Refined TSC clocksource calibration: \([0-9]*\.[0-9]*\) MHz.*/\1/p' <<<"$log" | head -n1)
	[ -n "$mhz" ] || mhz=$(sed -n 's/.*tsc: Detected \([0-9]*\.[0-9]*\) MHz processor.*/\1/p' <<<"$log" | head -n1)
	[ -n "$mhz" ] || return 1
	awk -v m="$mhz" 'BEGIN { printf "%d\n", m * 1000 }'
}

resolve_kernel() {
	local name=$1 rel dir khz variant
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
	test | bench)
		# bench: the test kernel's drivers without its debug options, for
		# bench/ only (figures taken under KASAN and lockdep say little).
		variant=debug
		[ "$name" = test ] || variant=bench
		dir=$("$_kernels_dir/kernel/build-test-kernel.sh" -q -v $variant) || return 1
		KERNEL_RELEASE=$(cat "$dir/release")
		KERNEL_IMAGE=$dir/bzImage
		KERNEL_MODROOT=$dir/mods/lib/modules
		KERNEL_KDIR=$dir/build
		# Built without ACPI: it boots in seconds instead of a minute of
		# AML timeouts under TCG.  KASAN needs the extra memory.
		KERNEL_APPEND="acpi=off"
		# Without ACPI there is no HPET or PM timer to refine the TSC
		# calibration: give the guest the host's frequency, and keep the
		# jiffies watchdog, which lags on a loaded host, from overruling it.
		if khz=$(_host_tsc_khz); then
			KERNEL_APPEND+=" tsc_early_khz=$khz tsc=reliable"
		fi
		KERNEL_MEM=3072
		;;
	*)
		echo "unknown kernel '$name' (stock-6.12, stock-6.1, test, bench)" >&2
		return 1
		;;
	esac
	[ -r "$KERNEL_IMAGE" ] || { echo "kernel image $KERNEL_IMAGE not readable" >&2; return 1; }
	[ -d "$KERNEL_MODROOT/$KERNEL_RELEASE" ] || { echo "no modules for $KERNEL_RELEASE" >&2; return 1; }
}
