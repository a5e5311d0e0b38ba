# shellcheck shell=bash
# shellcheck disable=SC2034 # STACK_DEV is read by bench/lib/bench.sh
# The stacks the bench can measure.  Sourced by bench/run on the host (only
# to list and check names; nothing here runs there) and by the bench case in
# the guest.
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
#                           dm-integrity.ko); print nothing if it needs none.
#                           Both register the target "integrity", so they
#                           are never up together: the runner measures
#                           the stacks of each in turn, every round.
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
	local impl=$1 mode=$2 action=$3 dev=${4:-} name=bench-$1-int-$2 opts=() table who
	case $impl in
	kernel) who="in-kernel dm-integrity" ;;
	*) who="our dm-integrity.ko" ;;
	esac
	case $action in
	impl) echo "$impl" ;;
	desc)
		echo "$who, mode $mode, $BENCH_INTEGRITY_HASH, ${BENCH_INTEGRITY_BLOCK}-byte blocks (integritysetup)"
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
		integritysetup format -q --batch-mode --no-wipe \
			--integrity "$BENCH_INTEGRITY_HASH" \
			--sector-size "$BENCH_INTEGRITY_BLOCK" "$dev" || return 1
		case $mode in
		J) ;;
		B) opts=(--integrity-bitmap-mode) ;;
		D) opts=(--integrity-no-journal) ;;
		*) echo "unknown dm-integrity mode $mode" >&2; return 1 ;;
		esac
		integritysetup open --integrity "$BENCH_INTEGRITY_HASH" "${opts[@]}" \
			"$dev" "$name" || return 1
		# Make sure the kernel runs what the column claims.
		table=$(dmsetup table "$name") || return 1
		echo "table: $table"
		_bench_check_integrity_table "$table" "$mode" || return 1
		STACK_DEV=/dev/mapper/$name
		;;
	down)
		_dm_remove "$name"
		;;
	esac
}

# Check an integrity table line: target, mode letter, hash and block size.
_bench_check_integrity_table() {
	local table=$1 mode=$2 f
	read -r -a f <<<"$table"
	if [ "${f[2]:-}" != integrity ] || [ "${f[6]:-}" != "$mode" ]; then
		echo "expected an integrity target in mode $mode, got: $table" >&2
		return 1
	fi
	case " $table " in
	*" internal_hash:$BENCH_INTEGRITY_HASH "* | *" internal_hash:$BENCH_INTEGRITY_HASH:"*) ;;
	*) echo "table lacks internal_hash:$BENCH_INTEGRITY_HASH: $table" >&2; return 1 ;;
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

# --- lookup (used by bench/run and bench/lib/bench.sh) ---------------------------
bench_stack_fn() { echo "stack_${1//-/_}"; }
# All stack names (sorted).
bench_stack_names() {
	declare -F | sed -n 's/^declare -f stack_//p' | tr _ -
}
