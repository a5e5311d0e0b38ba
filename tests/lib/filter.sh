# shellcheck shell=bash
# Helpers for the dm-filter cases: load the modules, build and run the
# dmfilter tool, make small test devices.  Sourced by the cases after
# common.sh.

DMF_MODULES="dm-filter dm-filter-pass dm-filter-cbt dm-filter-guard"

# requires(): our modules are built, the tools the cases use are there.
_dmf_requires() {
	# shellcheck disable=SC2086
	_have_our_module $DMF_MODULES
	_have_program cc fio python3 losetup
}

# The tool, built once per guest from the checkout.
_dmf_tool() {
	local bin=/tmp/dmfilter-tool/dmfilter
	if [ ! -x "$bin" ]; then
		mkdir -p /tmp/dmfilter-tool
		cc -O2 -Wall -I"$DMT_REPO/include/uapi" -o "$bin.new" \
			"$DMT_REPO/tools/dmfilter.c" || return 1
		mv "$bin.new" "$bin"
	fi
	DMF=$bin
}

dmf() {
	"$DMF" "$@"
}

# Load the core and the filter types (fresh: unload leftovers first).
_dmf_load() {
	local m
	_dmf_tool || { fail "cannot build tools/dmfilter"; return 1; }
	_dmf_unload || return 1
	for m in $DMF_MODULES; do
		insmod "$(_our_module_path "$m")" || { fail "insmod $m failed"; return 1; }
	done
	[ -c /dev/dm-filter-control ] || { fail "no /dev/dm-filter-control"; return 1; }
}

# Detach every filter, unload every module.
_dmf_unload() {
	local m
	if [ -c /dev/dm-filter-control ] && [ -n "${DMF:-}" ]; then
		dmf list 2>/dev/null | while IFS=$'\t' read -r dev id _; do
			dmf detach "$dev" "$id"
		done
	fi
	for m in dm_filter_guard dm_filter_cbt dm_filter_pass dm_filter; do
		grep -q "^$m " /proc/modules || continue
		rmmod "$m" || { fail "rmmod $m failed"; return 1; }
	done
	return 0
}

# Number of filters attached (to $1, or anywhere).
_dmf_count() {
	dmf list ${1:+"$1"} | wc -l
}

# Field $3 of the status of filter $2 on device $1 ("key value" pairs).
_dmf_stat() {
	dmf status "$1" "$2" | awk -v k="$3" '{ for (i = 1; i < NF; i += 2) if ($i == k) print $(i + 1) }'
}

# A null_blk device of $2 MiB named $1 (configfs); prints the device path.
# $3: queue_mode (2 = blk-mq, default; 0 = bio-based).  $4: memory_backed
# (1 = keeps the data, default; 0 = reads return garbage, no memory used).
_nullb_create() {
	local name=$1 mib=$2 mode=${3:-2} backed=${4:-1} d=/sys/kernel/config/nullb/$1
	[ -d /sys/kernel/config/nullb ] || modprobe null_blk nr_devices=0 || return 1
	mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
	mkdir "$d" || return 1
	echo "$mib" >"$d/size"
	echo "$backed" >"$d/memory_backed"
	echo "$mode" >"$d/queue_mode"
	echo 1 >"$d/power" || return 1
	# 6.12 names the disk after the configfs item, 6.1 nullb<index>.
	local dev=/dev/$name
	[ -b "$dev" ] || dev=/dev/nullb$(cat "$d/index")
	[ -b "$dev" ] || { echo "null_blk $name: no device node" >&2; return 1; }
	echo "$dev"
}

_nullb_destroy() {
	local name d
	for name in "$@"; do
		d=/sys/kernel/config/nullb/$name
		[ -d "$d" ] || continue
		echo 0 >"$d/power" 2>/dev/null
		rmdir "$d"
	done
	return 0
}

# fio with data verification on $1 (file or device), $2 MiB, $3 loops, in
# the background; sets FIO_PID.  Output in $TMPDIR/fio-$4.log.
# With norandommap two writes of one block can be in flight together and
# end in either order: serialize_overlap keeps fio's record of the last
# write true, so a verify error means the data was damaged.
_fio_verify_bg() {
	local target=$1 mib=$2 loops=$3 tag=${4:-bg}
	fio --name=verify --filename="$target" --size="${mib}M" --rw=randwrite \
		--bs=4k --ioengine=libaio --iodepth=8 --direct=1 --verify=crc32c \
		--verify_fatal=1 --loops="$loops" --randrepeat=1 --norandommap \
		--serialize_overlap=1 --output="$TMPDIR/fio-$tag.log" \
		>"$TMPDIR/fio-$tag.err" 2>&1 &
	FIO_PID=$!
}

# Writes completed on block device $1, from its stat file (found by
# major:minor: without udev, /dev/mapper/NAME is a node, not a symlink).
_dev_writes() {
	local mm
	mm=$(stat -L -c '%t %T' "$1") || return 1
	read -r -a mm <<<"$mm"
	awk '{ print $5 }' "/sys/dev/block/$((16#${mm[0]})):$((16#${mm[1]}))/stat"
}

# Wait until block device $1 has completed more than $2 writes, at most
# $3 seconds (default 120): fio's start-up alone can take seconds under
# KASAN and TCG.
_wait_dev_writes() {
	local dev=$1 base=$2 limit=${3:-120} now _
	for _ in $(seq $((limit * 10))); do
		now=$(_dev_writes "$dev") || return 1
		[ "$now" -gt "$base" ] && return 0
		sleep 0.1
	done
	return 1
}

# Wait for the fio started by _fio_verify_bg; fail with its errors.
_fio_wait() {
	local tag=${1:-bg} rc=0
	wait "$FIO_PID" || rc=$?
	if [ "$rc" != 0 ]; then
		grep -iE 'err|verify|bad' "$TMPDIR/fio-$tag.log" | head -n 5
		head -n 20 "$TMPDIR/fio-$tag.err"
		fail "fio ($tag) exited $rc"
		return 1
	fi
}

# An MBR with two 24 MiB Linux partitions into image $1: sectors
# 2048-51199 and 51200-100351.
_mbr_two_partitions() {
	python3 - "$1" <<'PY'
import struct, sys
def entry(start, count):
    return struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", start, count)
mbr = bytearray(512)
mbr[446:462] = entry(2048, 49152)
mbr[462:478] = entry(2048 + 49152, 49152)
mbr[510:512] = b"\x55\xaa"
with open(sys.argv[1], "r+b") as f:
    f.write(mbr)
PY
}

# _cbt_read_map <device> <out file> <map> <chunk>: the dirty blocks of map
# active|snapshot of the cbt filter on <device>, read in chunks of <chunk>
# blocks, as "start length" lines.
_cbt_read_map() {
	local dev=$1 out=$2 map=$3 chunk=$4 start=0 blocks
	blocks=$(_dmf_stat "$dev" cbt blocks)
	: >"$out"
	while [ "$start" -lt "$blocks" ]; do
		dmf message "$dev" cbt ranges "$map" "$start" "$chunk" >>"$out" || return 1
		start=$((start + chunk))
	done
}

# _cbt_compare <fio write_iolog> <ranges file> <block size>: every block
# fio wrote is dirty, and every dirty block was written (fio's own record
# is the oracle).
_cbt_compare() {
	python3 - "$@" <<'PY'
import sys
log, ranges, bs = sys.argv[1], sys.argv[2], int(sys.argv[3])
want = set()
n = 0
for line in open(log):
    f = line.split()
    # "[time] file write offset length" (iolog version 2 or 3)
    if "write" in f[1:3] and len(f) >= 4:
        i = f.index("write")
        off, ln = int(f[i + 1]), int(f[i + 2])
        want.update(range(off // bs, (off + ln - 1) // bs + 1))
        n += 1
got = set()
for line in open(ranges):
    f = line.split()
    if f[0] == "continue":
        sys.exit("ranges output was cut short: " + line)
    s, ln = int(f[0]), int(f[1])
    got.update(range(s, s + ln))
missing, extra = want - got, got - want
print(f"{n} writes, {len(want)} blocks written, {len(got)} dirty, "
      f"{len(missing)} missing, {len(extra)} extra")
if missing or extra:
    print("missing", sorted(missing)[:10], "extra", sorted(extra)[:10])
    sys.exit(1)
PY
}
