# shellcheck shell=bash
# Guest side of the bench: sourced by the bench case (bench/cases/*/NNN),
# after tests/lib/common.sh.  Sets up every stack at once, each on its own
# fresh base device, fills each one's measured region, then runs BENCH_REPEAT
# rounds of one fio run each: every job on every stack, one job at a time.
# Stacks on the kernel's dm-integrity and on ours cannot be up together:
# then each round is one fio run per implementation (see bench_main).
# Prints the table (bench/lib/results.py) between the markers bench/run looks
# for, then tears everything down.
#
# Settings, from bench/run through the harness (-x NAME=VALUE):
#   BENCH_STACKS      "NAME=REF ..." in order (REF empty: no ratio)
#   BENCH_JOBS        sections of jobs.fio to run, in order
#   BENCH_BASE        base device kind: nullb or loop
#   BENCH_DEV_MIB     size of each base device
#   BENCH_REGION_MIB  size of the region the jobs use (from offset 0)
#   BENCH_RUNTIME     seconds measured per job, after BENCH_RAMP seconds
#   BENCH_REPEAT      rounds (the table shows the median)
#   BENCH_SAVE        directory for the fio job files and JSON (optional)

BENCH_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib/stacks.sh
. "$BENCH_LIB/stacks.sh"

# --- base devices ------------------------------------------------------------------
# base_KIND desc | up ID | down ID: "up" makes a fresh zeroed device of
# BENCH_DEV_MIB MiB for instance ID (a small number) and sets BASE_DEV.
#
# null_blk (memory-backed, configfs) is the default: it exists as a module in
# all three harness kernels, takes its size in MiB, completes requests in the
# submitting context (irqmode=0), has no write cache, and keeps data in its
# own pages, so the reference is cheap and steady.  loop on tmpfs works too
# but adds a worker-thread hop and a page-cache copy per request; brd is
# missing from the test kernel.
_bench_cfs=/sys/kernel/config
base_nullb() {
	local d=$_bench_cfs/nullb/bench${2:-} before new attr
	case $1 in
	desc)
		echo "null_blk, memory-backed, $BENCH_DEV_MIB MiB, 512-byte sectors, blk-mq without scheduler, completion inline (irqmode=0), no write cache"
		;;
	up)
		modprobe null_blk nr_devices=0 || { echo "cannot load null_blk" >&2; return 1; }
		if [ ! -d "$_bench_cfs/nullb" ]; then
			mountpoint -q "$_bench_cfs" || mount -t configfs configfs "$_bench_cfs" ||
				{ echo "cannot mount configfs" >&2; return 1; }
		fi
		[ -d "$_bench_cfs/nullb" ] || { echo "null_blk has no configfs interface" >&2; return 1; }
		before=$(ls /sys/block)
		mkdir "$d" || return 1
		for attr in "size=$BENCH_DEV_MIB" memory_backed=1 queue_mode=2 irqmode=0 \
			blocksize=512 cache_size=0 no_sched=1; do
			if [ -e "$d/${attr%%=*}" ]; then
				echo "${attr#*=}" >"$d/${attr%%=*}" || return 1
			elif [ "${attr%%=*}" != no_sched ]; then
				echo "null_blk lacks attribute ${attr%%=*}" >&2
				return 1
			fi
		done
		echo 1 >"$d/power" || return 1
		# The disk is named after the configfs directory on Debian's
		# 6.1 and 6.12 (older kernels say nullb<index>): take whatever
		# appeared.  (No process substitution: the guest has no /dev/fd.)
		# shellcheck disable=SC2010 # disk names are plain
		new=$(ls /sys/block | grep -vxF "$before")
		if [ "$(echo "$new" | wc -w)" != 1 ] || [ ! -b "/dev/$new" ]; then
			echo "cannot find the new null_blk device (new in /sys/block: '$new')" >&2
			return 1
		fi
		BASE_DEV=/dev/$new
		;;
	down)
		[ -d "$d" ] || return 0
		echo 0 >"$d/power" && rmdir "$d"
		;;
	esac
}

# Our emulated inline-encryption device (keyslot-passthrough/blk-crypto-emu.ko,
# test kernel): loaded once with BENCH_BCE_MAX devices of BENCH_DEV_MIB MiB,
# pages allocated on first write like brd.  Instance ID gets /dev/bceID,
# keyslot hardware (8 slots) with AES-256-XTS; /dev/bce(ID + BENCH_BCE_MAX/2)
# is the same device without inline encryption, for stacks that need the
# software fallback (see stacks.sh).
BENCH_BCE_MAX=16
base_bce() {
	local id=${2:-} half=$((BENCH_BCE_MAX / 2)) lib emu modes
	case $1 in
	desc)
		echo "blk-crypto-emu (RAM, blk-mq, encrypts in queue_rq), $BENCH_DEV_MIB MiB, 8 keyslots, AES-256-XTS"
		;;
	up)
		[ "$id" -lt "$half" ] || { echo "base bce: at most $half stacks" >&2; return 1; }
		if [ ! -d /sys/module/blk_crypto_emu ]; then
			lib=$(_our_module_path keyslot-passthrough)
			emu=$(_our_module_path blk-crypto-emu)
			[ -n "$lib" ] && [ -n "$emu" ] && [ -e "$emu" ] ||
				{ echo "blk-crypto-emu.ko not built for $(uname -r) (test kernel only)" >&2; return 1; }
			[ -d /sys/module/keyslot_passthrough ] || insmod "$lib" || return 1
			modes=$(printf '0x2%.0s,' $(seq "$half"))$(printf '0%.0s,' $(seq "$half"))
			insmod "$emu" nr_devs="$BENCH_BCE_MAX" size_mib="$BENCH_DEV_MIB" keyslots=8 \
				modes="${modes%,}" || return 1
		fi
		BASE_DEV=/dev/bce$id
		;;
	down)
		# The module goes with the last instance (the runner tears down
		# in reverse order, instance 0 last).
		[ "$id" = 0 ] && [ -d /sys/module/blk_crypto_emu ] && rmmod blk_crypto_emu
		return 0
		;;
	esac
}

declare -A _BENCH_LOOP=()
base_loop() {
	local id=${2:-} img=$TMPDIR/base${2:-}.img
	case $1 in
	desc) echo "loop device on a $BENCH_DEV_MIB MiB file on tmpfs (buffered)" ;;
	up)
		truncate -s "${BENCH_DEV_MIB}M" "$img" || return 1
		_BENCH_LOOP[$id]=$(losetup --show -f "$img") || return 1
		BASE_DEV=${_BENCH_LOOP[$id]}
		;;
	down)
		if [ -n "${_BENCH_LOOP[$id]:-}" ]; then
			losetup -d "${_BENCH_LOOP[$id]}" || return 1
			unset "_BENCH_LOOP[$id]"
		fi
		rm -f "$img"
		;;
	esac
}

# --- helpers ---------------------------------------------------------------------------
_bench_now() { date +%s.%N; }
_bench_since() { awk -v a="$1" -v b="$(_bench_now)" 'BEGIN { printf "%.1f", b - a }'; }

# Write the script that lets deferred work of stack $1 (device $2) finish
# and print its path, or print nothing when there is nothing to settle.  For
# a device-mapper device: suspend (which flushes and, for dm-integrity,
# writes back its journal), then resume.  fio runs it as exec_prerun of the
# next job and ignores its failure, so failure is written to
# $TMPDIR/settle-failed, which the runner checks.
_bench_settle_script() {
	local name=$1 dev=$2 maj min dm_major dm script=$TMPDIR/settle-$1.sh
	dm_major=$(awk '$2 == "device-mapper" { print $1 }' /proc/devices)
	maj=$((16#$(stat -L -c %t "$dev")))
	min=$((16#$(stat -L -c %T "$dev")))
	[ -n "$dm_major" ] && [ "$maj" = "$dm_major" ] || return 0
	dm=$(dmsetup info -c --noheadings -o name -j "$maj" -m "$min") || return 1
	cat >"$script" <<EOS
#!/bin/bash
dmsetup suspend $dm && dmsetup resume $dm && exit 0
echo "settling stack $name (dm device $dm) failed" >>$TMPDIR/settle-failed
exit 1
EOS
	echo "$script"
}

# The option lines of section $1 of jobs.fio (no comments or blank lines).
_bench_job_body() {
	awk -v want="$1" '
		/^[ \t]*[;#]/ || /^[ \t]*$/ { next }
		/^\[.*\]$/ { cur = substr($0, 2, length($0) - 2); next }
		cur == want { print }
	' "$BENCH_LIB/jobs.fio"
}

# The fio job file of one round: every job of BENCH_JOBS on every stack,
# job after job, the stacks of each job in turn starting with stack number
# $1 (rotated each round, so no stack always runs right after the same
# other one).  Before each job fio settles the device the previous job used.
# The stacks of the run are those of _BENCH_RUN (all of them, or one
# dm-integrity implementation's and those that need none).
declare -A _BENCH_DEV=() _BENCH_SETTLE=() _BENCH_IMPL=()
_BENCH_NAMES=()
_BENCH_RUN=()
_BENCH_LAST=""
_bench_round_jobfile() {
	local first=$1 n=${#_BENCH_RUN[@]} job i s f
	echo "[global]"
	_bench_job_body global
	for job in $BENCH_JOBS; do
		for ((i = 0; i < n; i++)); do
			s=${_BENCH_RUN[$(((first + i) % n))]}
			echo
			echo "[$job@$s]"
			echo "filename=${_BENCH_DEV[$s]}"
			f=${_BENCH_SETTLE[${_BENCH_LAST:-$s}]}
			# fio appends "> JOB.prerun.txt 2>&1" to the command.
			[ -z "$f" ] || echo "exec_prerun=bash $f"
			_bench_job_body "$job"
			_BENCH_LAST=$s
		done
	done
}

# What is up, in set-up order: stack functions and "base:ID".
_BENCH_UP=()
bench_cleanup() {
	_bench_down_to 0
}

# Tear down what was set up after the first $1 entries of _BENCH_UP.
_bench_down_to() {
	local keep=$1 fn rc=0
	while [ ${#_BENCH_UP[@]} -gt "$keep" ]; do
		fn=${_BENCH_UP[-1]}
		unset '_BENCH_UP[-1]'
		case $fn in
		base:*) "base_${BENCH_BASE:-nullb}" down "${fn#base:}" ;;
		*) "$fn" down ;;
		esac || { echo "tear-down failed: $fn" >&2; rc=1; }
	done
	return $rc
}

# Load dm-integrity implementation $1 (kernel, ours, or ours:PARAMS: ours
# loaded with module parameters PARAMS) in place of the other.
_bench_use_impl() {
	local impl=${1%%:*} params=""
	[ -n "$1" ] || return 0
	[ "$impl" = "$1" ] || params=${1#*:}
	echo "== dm-integrity: $1"
	DMT_INTEGRITY_PARAMS=$params DMT_TARGET_IMPL=$impl _use_integrity_impl "$impl"
}

# One fio run of round $1 over the stacks in _BENCH_RUN, into $2 (JSON).
_bench_fio_run() {
	local round=$1 json=$2 t0 fio_file
	fio_file=${json%.json}.fio
	_bench_round_jobfile $(((round - 1) % ${#_BENCH_RUN[@]})) >"$fio_file"
	t0=$(_bench_now)
	if ! fio --output-format=json --output="$json" "$fio_file" >"$TMPDIR/fio.out" 2>&1; then
		cat "$TMPDIR/fio.out" "$json" 2>/dev/null | tail -n 40
		fail "fio failed in round $round: $(grep -m1 -i 'error\|fio:' "$TMPDIR/fio.out")"
		return 1
	fi
	grep -v '^$' "$TMPDIR/fio.out" | sed 's/^/fio: /'
	if [ -e "$TMPDIR/settle-failed" ]; then
		cat "$TMPDIR"/*.prerun.txt "$TMPDIR/settle-failed" 2>/dev/null
		fail "$(head -n1 "$TMPDIR/settle-failed") between jobs in round $round"
		return 1
	fi
	echo "fio run $(basename "$json" .json): $(_bench_since "$t0") s"
	[ -z "${BENCH_SAVE:-}" ] || cp "$json" "$fio_file" "$BENCH_SAVE/" || true
}

# Set up stack $1 on its own base device (instance $2) and fill its region.
_bench_stack_up() {
	local name=$1 id=$2 fn t0 bytes
	fn=$(bench_stack_fn "$name")
	echo "== stack $name: $("$fn" desc)"
	t0=$(_bench_now)
	BASE_DEV=""
	_BENCH_UP+=("base:$id")
	"base_$BENCH_BASE" up "$id" || { fail "stack $name: cannot make the base device ($BENCH_BASE)"; return 1; }
	echo "base device: $BASE_DEV"
	STACK_DEV=""
	_BENCH_UP+=("$fn")
	"$fn" up "$BASE_DEV" || { fail "stack $name could not be set up"; return 1; }
	# A block device, or a file on a file system the stack mounted (which
	# the fill below creates).
	if [ -b "$STACK_DEV" ]; then
		bytes=$(blockdev --getsize64 "$STACK_DEV") || return 1
	elif [ -d "$(dirname "$STACK_DEV")" ] && [ ! -e "$STACK_DEV" ]; then
		bytes=$(($(stat -f -c '%a * %S' "$(dirname "$STACK_DEV")")))
	else
		fail "stack $name: set-up gave no block device or new file ('$STACK_DEV')"
		return 1
	fi
	if [ "$bytes" -lt $((BENCH_REGION_MIB << 20)) ]; then
		fail "stack $name: $STACK_DEV has $((bytes >> 20)) MiB, the jobs need $BENCH_REGION_MIB MiB"
		return 1
	fi
	echo "stack device: $STACK_DEV, $((bytes >> 20)) MiB; set up in $(_bench_since "$t0") s"
	t0=$(_bench_now)
	dd if=/dev/zero of="$STACK_DEV" bs=1M count="$BENCH_REGION_MIB" oflag=direct conv=fsync status=none ||
		{ fail "stack $name: filling the region failed"; return 1; }
	_BENCH_DEV[$name]=$STACK_DEV
	_BENCH_SETTLE[$name]=$(_bench_settle_script "$name" "$STACK_DEV") ||
		{ fail "stack $name: cannot tell how to settle $STACK_DEV"; return 1; }
	if [ -n "${_BENCH_SETTLE[$name]}" ]; then
		bash "${_BENCH_SETTLE[$name]}" || { fail "stack $name: settling after the fill failed"; return 1; }
	fi
	echo "filled $BENCH_REGION_MIB MiB and settled in $(_bench_since "$t0") s"
}

bench_main() {
	local spec specs=() f i round
	BENCH_RUNS=$TMPDIR/runs
	mkdir -p "$BENCH_RUNS"
	export BENCH_REGION_MIB BENCH_RUNTIME BENCH_RAMP
	[ -z "${BENCH_SAVE:-}" ] || mkdir -p "$BENCH_SAVE" 2>/dev/null || BENCH_SAVE=""
	declare -F "base_$BENCH_BASE" >/dev/null || { fail "unknown base device kind '$BENCH_BASE'"; return 1; }
	for spec in $BENCH_STACKS; do
		declare -F "$(bench_stack_fn "${spec%%=*}")" >/dev/null ||
			{ fail "unknown stack '${spec%%=*}'"; return 1; }
		specs+=("$spec")
		_BENCH_NAMES+=("${spec%%=*}")
	done
	for f in $BENCH_JOBS; do
		[ -n "$(_bench_job_body "$f")" ] || { fail "no job '$f' in jobs.fio"; return 1; }
	done
	echo "kernel $(uname -r) ($DMT_KERNEL), $(nproc) vCPUs, $(fio --version)"
	echo "base device: $("base_$BENCH_BASE" desc)"
	echo "jobs: $BENCH_JOBS; region $BENCH_REGION_MIB MiB; ${BENCH_RAMP} s ramp + ${BENCH_RUNTIME} s each; $BENCH_REPEAT round(s)"

	local impls=() shared=() impl j p mark
	for i in "${!_BENCH_NAMES[@]}"; do
		impl=$("$(bench_stack_fn "${_BENCH_NAMES[$i]}")" impl) || impl=""
		_BENCH_IMPL[${_BENCH_NAMES[$i]}]=$impl
		if [ -z "$impl" ]; then
			shared+=("$i")
		elif [[ " ${impls[*]} " != *" $impl "* ]]; then
			impls+=("$impl")
		fi
	done

	if [ ${#impls[@]} -le 1 ]; then
		# All stacks are up at once, each on its own base device, so
		# that each job runs on every stack within a short time: a busy
		# host then skews the ratios less.
		_bench_use_impl "${impls[0]:-}" || return 1
		for i in "${!_BENCH_NAMES[@]}"; do
			_bench_stack_up "${_BENCH_NAMES[$i]}" "$i" || return 1
		done
		_BENCH_RUN=("${_BENCH_NAMES[@]}")
		for round in $(seq 1 "$BENCH_REPEAT"); do
			echo "== round $round"
			_bench_fio_run "$round" "$BENCH_RUNS/round.$round.json" || return 1
		done
	else
		# Two dm-integrity implementations: both register "integrity",
		# so each round measures the stacks of one, then of the other
		# (in turn first), each time freshly set up, together with the
		# stacks that need neither, which stay up.
		for i in "${shared[@]}"; do
			_bench_stack_up "${_BENCH_NAMES[$i]}" "$i" || return 1
		done
		mark=${#_BENCH_UP[@]}
		for round in $(seq 1 "$BENCH_REPEAT"); do
			for ((j = 0; j < ${#impls[@]}; j++)); do
				p=$(((round - 1 + j) % ${#impls[@]}))
				impl=${impls[$p]}
				echo "== round $round, $impl dm-integrity"
				_bench_use_impl "$impl" || return 1
				_BENCH_RUN=()
				for i in "${!_BENCH_NAMES[@]}"; do
					case ${_BENCH_IMPL[${_BENCH_NAMES[$i]}]} in
					"$impl") _bench_stack_up "${_BENCH_NAMES[$i]}" "$i" || return 1 ;;
					"") ;;
					*) continue ;;
					esac
					_BENCH_RUN+=("${_BENCH_NAMES[$i]}")
				done
				_BENCH_LAST=""
				_bench_fio_run "$round" "$BENCH_RUNS/round.$round.$p.json" || return 1
				_bench_down_to "$mark" || { fail "tear-down after round $round ($impl) failed"; return 1; }
			done
		done
	fi

	echo "== results"
	dmsetup targets | sed 's/^/target: /'
	awk '/^name/ { n = $3 } /^driver/ { d = $3 } /^priority/ && n == "crc32c" && $3 > p { p = $3; best = d }
		END { if (best != "") print "crc32c driver in use: " best }' /proc/crypto
	BENCH_TABLE_HEADER=$(
		echo "kernel $(uname -r); each stack on its own $BENCH_BASE device of $BENCH_DEV_MIB MiB"
		f=$(dmsetup targets | awk '$1 !~ /^(linear|striped|error|zero)$/ { printf "%s%s %s", sep, $1, $2; sep = ", " }')
		[ -z "$f" ] || echo "device-mapper targets: $f"
		echo "fio libaio O_DIRECT on the first $BENCH_REGION_MIB MiB, ${BENCH_RUNTIME} s per job (+${BENCH_RAMP} s ramp), $BENCH_REPEAT round(s)"
		for f in "${specs[@]}"; do
			echo "  ${f%%=*}: $("$(bench_stack_fn "${f%%=*}")" desc)"
		done
	)
	export BENCH_TABLE_HEADER
	python3 "$BENCH_LIB/results.py" "$BENCH_RUNS" "${specs[@]}" || { fail "fio results unusable (see above)"; return 1; }

	# A tear-down error fails the case, after the results are out.
	bench_cleanup || fail "tear-down failed"
}
