# shellcheck shell=bash
# Helpers for test cases.  Sourced inside the guest by run-case.sh.
#
# A case file defines:
#   DESCRIPTION="one line"
#   TIMEOUT=<seconds>            (optional, default 300)
#   requires() { ... }           (optional; calls _skip or _have_* helpers)
#   test_case() { ... }          (the body; returns 0 on pass)
#   cleanup() { ... }            (optional; runs on exit, pass or fail)
#
# Environment from the host: DMT_REPO (the checkout), DMT_MODULES (where the
# modules built for the running kernel are), DMT_KERNEL (harness kernel
# name), DMT_CRYPTSETUP (built cryptsetup tree, when the run needs one).

_skip() {
	SKIP_REASONS+=("$*")
}

fail() {
	echo "FAIL: $*"
	return 1
}

_have_program() {
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || _skip "program $p not installed"
	done
}

# Kernel module available to modprobe (or built in) on the running kernel.
_have_kernel_module() {
	local m
	for m in "$@"; do
		modprobe -n "$m" >/dev/null 2>&1 || _skip "kernel module $m not available"
	done
}

# Module of this project, built for the running kernel.
_have_our_module() {
	local m
	for m in "$@"; do
		[ -n "$(_our_module_path "$m")" ] || _skip "module $m.ko not built for $(uname -r)"
	done
}

_our_module_path() {
	find "${DMT_MODULES:-/nonexistent}" -name "$1.ko" -print -quit 2>/dev/null
}

_have_kernel_name() {
	local k
	for k in "$@"; do
		[ "$DMT_KERNEL" = "$k" ] && return 0
	done
	_skip "needs kernel $* (running $DMT_KERNEL)"
}

# CI scope (tests/ci without --full passes DMT_SCOPE=ci) runs every feature
# at least once; a case too slow for that budget on some kernels calls this
# from requires() with the kernels it still runs on in CI (none: full matrix
# only).  Run by hand, or by tests/ci --full, every case runs.
_ci_kernels() {
	local k
	[ "${DMT_SCOPE:-full}" = ci ] || return 0
	for k in "$@"; do
		[ "$DMT_KERNEL" = "$k" ] && return 0
	done
	_skip "full matrix only on $DMT_KERNEL (tests/ci --full runs it)"
}

# A zero-filled file of $2 MiB on tmpfs, attached to a loop device; prints
# the device.
_loop_create() {
	local file=$1 mib=$2
	truncate -s "${mib}M" "$file"
	losetup --show -f "$file"
}

_loop_destroy() {
	local dev
	for dev in "$@"; do
		[ -b "$dev" ] && losetup -d "$dev" 2>/dev/null
	done
	return 0
}

_dm_remove() {
	local name
	for name in "$@"; do
		dmsetup info "$name" >/dev/null 2>&1 || continue
		dmsetup remove --retry "$name" >/dev/null 2>&1 || dmsetup remove -f "$name"
	done
	return 0
}

# Byte offset in file $1 (a test image; search the backing file, not the
# loop device, whose page cache may be stale) where $4 bytes of file $2 starting at offset
# $3 occur (first match, 512-byte aligned search).
_find_bytes() {
	python3 - "$@" <<'PY'
import sys
dev, pat, off, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(pat, "rb") as f:
    f.seek(off)
    needle = f.read(n)
with open(dev, "rb") as f:
    data = f.read()
for i in range(0, len(data), 512):
    if data[i:i + n] == needle:
        print(i)
        sys.exit(0)
sys.exit(1)
PY
}

# Invert one byte at offset $2 of the image file $1.
_flip_byte() {
	python3 - "$1" "$2" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
off = int(sys.argv[2])
b = os.pread(fd, 1, off)
os.pwrite(fd, bytes([b[0] ^ 0xff]), off)
os.fsync(fd)
os.close(fd)
PY
}

# Kernel built with CONFIG_$1 (=y or =m), judged from the config file that
# the kernel's module directory or /boot provides.
_have_kernel_config() {
	local opt=CONFIG_$1 cfg
	for cfg in "/lib/modules/$(uname -r)/config" "/boot/config-$(uname -r)" \
		"/lib/modules/$(uname -r)/build/.config"; do
		[ -r "$cfg" ] || continue
		grep -Eq "^$opt=(y|m)" "$cfg" && return 0
		_skip "kernel built without $opt"
		return 0
	done
	_skip "no config file for kernel $(uname -r) to check $opt"
}

# --- which dm-integrity a case tests -------------------------------------------
# DMT_TARGET_IMPL=kernel (default, "reference mode"): the kernel's own
# dm-integrity.  DMT_TARGET_IMPL=ours: this project's dm-integrity.ko, loaded
# in place of the kernel's (same module name, dm_integrity).
# Call _have_integrity_impl from requires() and _use_integrity_impl at the
# start of test_case() (it returns non-zero, with a FAIL: line, when it
# cannot load the module asked for).  _use_integrity_impl kernel|ours loads
# the one named instead of DMT_TARGET_IMPL's (tests/lib/integrity.sh
# switches with it inside one guest boot; no integrity device may be open).
# DMT_INTEGRITY_PARAMS: module parameters for ours ("name=value ...", e.g.
# hash_interface=cryptd; tests/run -x DMT_INTEGRITY_PARAMS=...); ours is
# reloaded when it was loaded with other ones.

# What ours was last loaded with (the guest's /tmp is its own tmpfs).
_integrity_params_file=/tmp/.dmt-integrity-params

_integrity_loaded_params() {
	cat "$_integrity_params_file" 2>/dev/null || true
}

# Loaded dm_integrity is this project's (out-of-tree taint "O").
_integrity_is_ours() {
	[ -r /sys/module/dm_integrity/taint ] && grep -q O /sys/module/dm_integrity/taint
}

# dm_integrity is built into the running kernel (it has no initstate then).
_integrity_is_builtin() {
	[ -d /sys/module/dm_integrity ] && [ ! -e /sys/module/dm_integrity/initstate ]
}

_have_integrity_impl() {
	case ${DMT_TARGET_IMPL:-kernel} in
	kernel) _have_kernel_module dm-integrity ;;
	ours)
		[ -n "$(_our_module_path dm-integrity)" ] ||
			_skip "our dm-integrity.ko is not built yet"
		;;
	*) ;; # _use_integrity_impl fails the case with the reason
	esac
}

_use_integrity_impl() {
	local impl=${1:-${DMT_TARGET_IMPL:-kernel}} ko dep params=""
	case $impl in
	kernel)
		if _integrity_is_ours; then
			rmmod dm_integrity || { fail "cannot unload our dm_integrity to use the kernel's"; return 1; }
			rm -f "$_integrity_params_file"
		fi
		modprobe dm-integrity || { fail "modprobe dm-integrity failed"; return 1; }
		;;
	ours)
		ko=$(_our_module_path dm-integrity)
		[ -n "$ko" ] || { fail "our dm-integrity.ko is not built yet"; return 1; }
		params=${DMT_INTEGRITY_PARAMS:-}
		if _integrity_is_ours && [ "$(_integrity_loaded_params)" != "$params" ]; then
			rmmod dm_integrity || {
				fail "cannot reload our dm_integrity with parameters '$params' (in use?)"
				return 1
			}
			rm -f "$_integrity_params_file"
		fi
		if ! _integrity_is_ours; then
			_integrity_is_builtin && {
				fail "dm-integrity is built into $(uname -r); cannot load ours"
				return 1
			}
			if [ -d /sys/module/dm_integrity ]; then
				rmmod dm_integrity ||
					{ fail "cannot unload the kernel's dm_integrity (in use?)"; return 1; }
			fi
			for dep in $(modinfo -F depends "$ko" | tr ',' ' '); do
				modprobe "$dep" || { fail "modprobe $dep (needed by $ko) failed"; return 1; }
			done
			# shellcheck disable=SC2086 # one word per parameter
			insmod "$ko" $params || { fail "insmod $ko $params failed"; return 1; }
			echo "$params" >"$_integrity_params_file"
		fi
		;;
	*)
		fail "DMT_TARGET_IMPL='$impl': expected kernel or ours"
		return 1
		;;
	esac
	echo "dm-integrity under test ($impl${ko:+, $ko}${params:+ $params}): $(dmsetup targets | awk '$1 == "integrity" { print $2 }')"
}
