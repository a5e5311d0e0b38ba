# shellcheck shell=bash
# shellcheck disable=SC2034 # STACK_DEV is read by bench/lib/bench.sh
# The stacks the bench can measure.  Sourced by bench/run on the host (only
# to list and check names and to ask "desc" and "impl"; nothing else runs
# there) and by the bench case in the guest.
#
# A stack NAME is ONE function, stack_NAME, where each '-' of NAME is written
# '_' (stack "kernel-J" is stack_kernel_J; so stack names use '-', never '_').
# It is called as:
#   stack_NAME desc         print one line saying what the stack is
#   stack_NAME up BASEDEV   build the stack on BASEDEV, a fresh block device
#                           (zeroed, $BENCH_DEV_MIB MiB) made for this stack
#                           alone; set STACK_DEV to the block device fio must
#                           use.  On failure say why on stderr, return non-zero.
#                           Output goes to the case log.
#   stack_NAME down         tear it down; must also work after a failed or
#                           partial "up" and when nothing is up.
#   stack_NAME impl         print which dm-integrity must be loaded while the
#                           stack is up: "kernel" or "ours" (this project's
#                           dm-integrity.ko), or "ours:PARAMS" (ours loaded
#                           with module parameters PARAMS, a load of its
#                           own); print nothing if it needs none.  All
#                           register the target "integrity", so two are
#                           never up together: the runner measures the
#                           stacks of each load in turn, every round.
# The runner (bench/lib/bench.sh) does the rest: it makes and removes
# BASEDEV, fills the first $BENCH_REGION_MIB MiB of STACK_DEV before the jobs
# (so reads never hit unwritten blocks), and before each job suspends and
# resumes the device of the previous job when it is a device-mapper device,
# so that deferred work (e.g. a journal still being written back) does not
# leak into the next measurement.  All stacks of a run are up at once, so a
# stack's resources (dm device names...) must be its own.
# STACK_DEV must provide at least $BENCH_REGION_MIB MiB.
#
# The helpers _dm_remove etc. come from tests/lib/common.sh.

# --- the base device itself ----------------------------------------------------
stack_raw() {
	case $1 in
	desc) echo "the base device, no device-mapper" ;;
	up) STACK_DEV=$2 ;;
	down) : ;;
	esac
}

# --- dm-integrity: the kernel's and ours ----------------------------------------------
# All modes use the same format: crc32c tags (4 bytes), 4096-byte blocks,
# integritysetup's default journal and interleave; --no-wipe because the
# runner writes the measured region before reading it.
BENCH_INTEGRITY_HASH=crc32c
BENCH_INTEGRITY_BLOCK=4096

_integrity_stack() {
	# $1 implementation kernel|ours, $2 mode J|B|D, $3 action, $4 base device
	_integrity_stack_hash "$1" "$2" "$BENCH_INTEGRITY_HASH" "" "$3" "${4:-}"
}

# _integrity_stack_hash IMPL MODE HASH IFACE ACTION [DEV]: as _integrity_stack
# with hash HASH and, for ours, the module loaded with hash_interface=IFACE
# ("" for the default): its "impl" is then "ours:hash_interface=IFACE", a
# load of its own (bench.sh measures each load's stacks in turn).
_integrity_stack_hash() {
	local impl=$1 mode=$2 hash=$3 iface=$4 action=$5 dev=${6:-} opts=() keyopts=() table who info
	local name=bench-$1-int-$2
	[ "$hash" = "$BENCH_INTEGRITY_HASH" ] || name+=-$hash
	name+=${iface:+-$iface}
	case $impl in
	kernel) who="in-kernel dm-integrity" ;;
	*) who="our dm-integrity.ko${iface:+ (hash_interface=$iface)}" ;;
	esac
	case $action in
	impl) echo "$impl${iface:+:hash_interface=$iface}" ;;
	desc)
		echo "$who, mode $mode, $hash, ${BENCH_INTEGRITY_BLOCK}-byte blocks (integritysetup)"
		;;
	up)
		# The runner loaded the implementation; make sure it did.
		if [ "$impl" = ours ] && ! _integrity_is_ours; then
			echo "our dm-integrity is not the one loaded" >&2
			return 1
		fi
		if [ "$impl" = kernel ] && { _integrity_is_ours || ! modprobe dm-integrity; }; then
			echo "the kernel's dm-integrity is not loaded" >&2
			return 1
		fi
		# A keyed hash gets a fixed key (the speed does not depend on it).
		keyopts=()
		if [[ $hash == hmac-* ]]; then
			printf '%032d' 0 >"$TMPDIR/integrity-key" || return 1
			keyopts=(--integrity-key-file "$TMPDIR/integrity-key" --integrity-key-size 32)
		fi
		integritysetup format -q --batch-mode --no-wipe \
			--integrity "$hash" "${keyopts[@]}" \
			--sector-size "$BENCH_INTEGRITY_BLOCK" "$dev" || return 1
		case $mode in
		J) ;;
		B) opts=(--integrity-bitmap-mode) ;;
		D) opts=(--integrity-no-journal) ;;
		*) echo "unknown dm-integrity mode $mode" >&2; return 1 ;;
		esac
		integritysetup open --integrity "$hash" "${keyopts[@]}" "${opts[@]}" \
			"$dev" "$name" || return 1
		# Make sure the kernel runs what the column claims.
		table=$(dmsetup table "$name") || return 1
		echo "table: $table"
		_bench_check_integrity_table "$table" "$mode" "$hash" || return 1
		if [ "$impl" = ours ]; then
			info=$(dmsetup message "$name" 0 hash_info) || return 1
			echo "hash_info: $info"
			case "$iface: $info" in
			": "* | "shash: interface=shash "* | "ahash: interface=ahash "* | \
				"cryptd: interface=ahash driver=cryptd("*) ;;
			*) echo "hash_interface=$iface, but hash_info says: $info" >&2; return 1 ;;
			esac
		fi
		STACK_DEV=/dev/mapper/$name
		;;
	down)
		_dm_remove "$name"
		;;
	esac
}

# Check an integrity table line: target, mode letter, hash (default
# $BENCH_INTEGRITY_HASH) and block size.
_bench_check_integrity_table() {
	local table=$1 mode=$2 hash=${3:-$BENCH_INTEGRITY_HASH} f
	# The kernel's name of integritysetup's hmac-X.
	[[ $hash != hmac-* ]] || hash="hmac(${hash#hmac-})"
	read -r -a f <<<"$table"
	if [ "${f[2]:-}" != integrity ] || [ "${f[6]:-}" != "$mode" ]; then
		echo "expected an integrity target in mode $mode, got: $table" >&2
		return 1
	fi
	case " $table " in
	*" internal_hash:$hash "* | *" internal_hash:$hash:"*) ;;
	*) echo "table lacks internal_hash:$hash: $table" >&2; return 1 ;;
	esac
	case " $table " in
	*" block_size:$BENCH_INTEGRITY_BLOCK "*) ;;
	*) echo "table lacks block_size:$BENCH_INTEGRITY_BLOCK: $table" >&2; return 1 ;;
	esac
}

stack_kernel_J() { _integrity_stack kernel J "$@"; }
stack_kernel_B() { _integrity_stack kernel B "$@"; }
stack_kernel_D() { _integrity_stack kernel D "$@"; }
stack_ours_J() { _integrity_stack ours J "$@"; }
stack_ours_B() { _integrity_stack ours B "$@"; }
stack_ours_D() { _integrity_stack ours D "$@"; }

# Ours through the other crypto interface, for shash vs ahash in one boot:
# -ahash forces crypto_ahash (same driver), -cryptd an asynchronous cryptd
# wrapper of it; -sha256 variants use sha256 instead of crc32c.
stack_ours_J_ahash() { _integrity_stack_hash ours J crc32c ahash "$@"; }
stack_ours_B_ahash() { _integrity_stack_hash ours B crc32c ahash "$@"; }
stack_ours_D_ahash() { _integrity_stack_hash ours D crc32c ahash "$@"; }
stack_ours_J_cryptd() { _integrity_stack_hash ours J crc32c cryptd "$@"; }
stack_ours_B_cryptd() { _integrity_stack_hash ours B crc32c cryptd "$@"; }
stack_ours_D_cryptd() { _integrity_stack_hash ours D crc32c cryptd "$@"; }
stack_kernel_J_sha256() { _integrity_stack_hash kernel J sha256 "" "$@"; }
stack_kernel_B_sha256() { _integrity_stack_hash kernel B sha256 "" "$@"; }
stack_kernel_D_sha256() { _integrity_stack_hash kernel D sha256 "" "$@"; }
stack_kernel_J_hmac() { _integrity_stack_hash kernel J hmac-sha256 "" "$@"; }
stack_ours_J_hmac() { _integrity_stack_hash ours J hmac-sha256 "" "$@"; }
stack_ours_J_sha256() { _integrity_stack_hash ours J sha256 "" "$@"; }
stack_ours_B_sha256() { _integrity_stack_hash ours B sha256 "" "$@"; }
stack_ours_D_sha256() { _integrity_stack_hash ours D sha256 "" "$@"; }
stack_ours_J_sha256_ahash() { _integrity_stack_hash ours J sha256 ahash "$@"; }
stack_ours_B_sha256_ahash() { _integrity_stack_hash ours B sha256 ahash "$@"; }
stack_ours_D_sha256_ahash() { _integrity_stack_hash ours D sha256 ahash "$@"; }
stack_ours_J_sha256_cryptd() { _integrity_stack_hash ours J sha256 cryptd "$@"; }
stack_ours_B_sha256_cryptd() { _integrity_stack_hash ours B sha256 cryptd "$@"; }
stack_ours_D_sha256_cryptd() { _integrity_stack_hash ours D sha256 cryptd "$@"; }

# --- ext4 + fscrypt -o inlinecrypt (base device bce, test kernel) --------------------
# fio works on a file in an encrypted directory (AES-256-XTS, v2 policy) of
# an ext4 mounted with -o inlinecrypt.  Set-up checks that the path the
# column names is the one taken: a 1 MiB probe file must be encrypted by
# the emulator (native) or not at all by it (fallback).

# _bench_fscrypt <name> <action> <device> <emulators that must encrypt, or
# "none">
_bench_fscrypt() {
	local name=$1 action=$2 dev=${3:-} must=${4:-} mnt=/run/bench-$1 id before after d devs
	case $action in
	up)
		# shellcheck source=tests/lib/inline-crypto.sh
		. "$DMT_REPO/tests/lib/inline-crypto.sh"
		mkfs.ext4 -q -F -O encrypt -b 4096 "$dev" >/dev/null || return 1
		mkdir -p "$mnt"
		mount -o inlinecrypt "$dev" "$mnt" || return 1
		head -c 64 /dev/urandom >"$mnt.key"
		id=$(_ic_fscrypt add "$mnt" "$mnt.key") || return 1
		mkdir "$mnt/enc"
		_ic_fscrypt set "$mnt/enc" "$id" || return 1
		devs=$(basename "$must")
		[ "$must" != none ] || devs=$(ls "$IC_DEBUGFS")
		for d in $devs; do
			before+=" $(_ic_stat "$d" encrypted_units)"
		done
		head -c 1M /dev/urandom >"$mnt/enc/probe" && sync || return 1
		for d in $devs; do
			after+=" $(_ic_stat "$d" encrypted_units)"
		done
		rm "$mnt/enc/probe"
		echo "$name: encrypted units on ${must}: before$before, after$after"
		if [ "$must" = none ]; then
			[ "$before" = "$after" ] ||
				{ echo "$name: an emulator encrypted the probe; not the fallback path" >&2; return 1; }
		else
			read -ra b <<<"$before"
			read -ra a <<<"$after"
			for d in "${!b[@]}"; do
				[ "${a[d]}" -gt "${b[d]}" ] ||
					{ echo "$name: $must did not encrypt the probe: not native" >&2; return 1; }
			done
		fi
		STACK_DEV=$mnt/enc/fio
		;;
	down)
		mountpoint -q "$mnt" && { umount "$mnt" || return 1; }
		rm -f "$mnt.key"
		return 0
		;;
	esac
}

stack_fscrypt_bce() {
	case $1 in
	desc) echo "ext4 + fscrypt -o inlinecrypt directly on the emulated device (native)" ;;
	up) _bench_fscrypt fscrypt-bce up "$2" "$2" ;;
	down) _bench_fscrypt fscrypt-bce down ;;
	esac
}

# _bench_fscrypt_dm <stack> <action> <base device> <dm name> <table>:
# fscrypt on a device-mapper device over the emulated one, which must pass
# AES-256-XTS through; the emulator below must do the encryption.
_bench_fscrypt_dm() {
	local stack=$1 action=$2 base=$3 name=$4 table=${5:-}
	case $action in
	up)
		dmsetup create "$name" --table "$table" || return 1
		# shellcheck source=tests/lib/inline-crypto.sh
		. "$DMT_REPO/tests/lib/inline-crypto.sh"
		[ -e "/sys/block/$(_ic_dm_block "$name")/queue/crypto/modes/AES-256-XTS" ] ||
			{ echo "$name: no AES-256-XTS passed through" >&2; return 1; }
		_bench_fscrypt "$stack" up "/dev/mapper/$name" "$base"
		;;
	down)
		_bench_fscrypt "$stack" down || return 1
		_dm_remove "$name"
		;;
	esac
}

# striped-inline over the two halves of the base device, 128 KiB chunks:
# every I/O goes through the target and large ones are split.
stack_fscrypt_sti() {
	local half
	case $1 in
	desc) echo "ext4 + fscrypt -o inlinecrypt on striped-inline (2 stripes, 128 KiB chunks) over the halves of the emulated device (native)" ;;
	up)
		[ -d /sys/module/dm_striped_inline ] ||
			insmod "$(_our_module_path dm-striped-inline)" || return 1
		half=$(blockdev --getsz "$2") || return 1
		half=$((half / 2 / 256 * 256))
		_bench_fscrypt_dm fscrypt-sti up "$2" bench-sti \
			"0 $((2 * half)) striped-inline 2 256 $2 0 $2 $half"
		;;
	down) _bench_fscrypt_dm fscrypt-sti down "" bench-sti ;;
	esac
}

# The in-kernel linear target over the whole base device (it passes inline
# encryption through): what any device-mapper layer costs here, the floor
# against which fscrypt-sti's ratio is read.
stack_fscrypt_lin() {
	case $1 in
	desc) echo "ext4 + fscrypt -o inlinecrypt on the in-kernel linear target over the emulated device (native; device-mapper's own cost)" ;;
	up) _bench_fscrypt_dm fscrypt-lin up "$2" bench-lin "0 $(blockdev --getsz "$2") linear $2 0" ;;
	down) _bench_fscrypt_dm fscrypt-lin down "" bench-lin ;;
	esac
}

# The same emulated device without inline encryption (base_bce's twin):
# fscrypt falls back to blk-crypto-fallback.
stack_fscrypt_fallback() {
	case $1 in
	desc) echo "ext4 + fscrypt -o inlinecrypt on an emulated device without inline encryption (blk-crypto-fallback)" ;;
	up)
		local twin=/dev/bce$((${2#/dev/bce} + BENCH_BCE_MAX / 2))
		[ ! -e "/sys/block/${twin#/dev/}/queue/crypto" ] ||
			{ echo "fscrypt-fallback: $twin has inline encryption (base must be bce)" >&2; return 1; }
		_bench_fscrypt fscrypt-fallback up "$twin" none
		;;
	down) _bench_fscrypt fscrypt-fallback down ;;
	esac
}

# --- whole-device encryption: crypt-inline vs dm-crypt -----------------------------
# Same cipher, key size and sector size: aes-xts-plain64, 512-bit key,
# 4096-byte sectors with iv_large_sectors.  On a base device without inline
# encryption (nullb, loop) crypt-inline uses blk-crypto-fallback: software
# both; on bce it uses the emulated hardware.
_bench_crypt() {
	# $1 target (crypt-inline|crypt), $2 dm name, $3 action, $4 base device,
	# $5 extra feature arguments
	local target=$1 name=$2 action=$3 dev=${4:-} extra=${5:-} key sectors nopt
	case $action in
	up)
		if [ "$target" = crypt-inline ]; then
			[ -d /sys/module/dm_crypt_inline ] ||
				insmod "$(_our_module_path dm-crypt-inline)" || return 1
		else
			modprobe dm-crypt || return 1
		fi
		key=$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')
		sectors=$(($(blockdev --getsz "$dev") / 8 * 8))
		nopt=$((2 + $(wc -w <<<"$extra")))
		dmsetup create "$name" --table "0 $sectors $target aes-xts-plain64 $key 0 $dev 0 $nopt sector_size:4096 iv_large_sectors $extra" ||
			return 1
		echo "$name: $(dmsetup status "$name")"
		STACK_DEV=/dev/mapper/$name
		;;
	down) _dm_remove "$name" ;;
	esac
}

stack_cil() {
	case $1 in
	desc) echo "crypt-inline aes-xts-plain64, 4096-byte sectors (hardware if the base has it, else blk-crypto-fallback)" ;;
	*) _bench_crypt crypt-inline bench-cil "$@" ;;
	esac
}

stack_kcrypt() {
	case $1 in
	desc) echo "in-kernel dm-crypt aes-xts-plain64, 4096-byte sectors, default queueing" ;;
	*) _bench_crypt crypt bench-kcrypt "$@" ;;
	esac
}

stack_kcrypt_nowq() {
	case $1 in
	desc) echo "in-kernel dm-crypt aes-xts-plain64, 4096-byte sectors, no_read_workqueue no_write_workqueue" ;;
	*) _bench_crypt crypt bench-kcrypt-nowq "$1" "${2:-}" "no_read_workqueue no_write_workqueue" ;;
	esac
}

# --- lookup (used by bench/run and bench/lib/bench.sh) ---------------------------
bench_stack_fn() { echo "stack_${1//-/_}"; }
# All stack names (sorted).
bench_stack_names() {
	declare -F | sed -n 's/^declare -f stack_//p' | tr _ -
}
