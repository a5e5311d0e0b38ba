#!/bin/bash
# shellcheck shell=bash
# Helpers shared by the integrity-ours cases (sourced by each case; not a
# case itself: the harness only runs files whose names start with a digit).
#
# The in-kernel dm-integrity is the oracle: the same operations are done
# once with each implementation and the results (raw images, data read back,
# table and status lines, integritysetup dump) must match.

itg_requires() {
	_have_program integritysetup dmsetup sha256sum blockdev losetup
	_have_kernel_module dm-integrity
	DMT_TARGET_IMPL=ours _have_integrity_impl
}

# itg_switch kernel|ours: load that implementation of the target.
itg_switch() {
	DMT_TARGET_IMPL=$1 _use_integrity_impl >/dev/null || return 1
	local v
	v=$(dmsetup targets | awk '$1 == "integrity" { print $2 }')
	if [ "$1" = ours ]; then
		_integrity_is_ours && [ "$v" = v1.14.0 ] ||
			fail "ours not loaded (integrity $v)" || return 1
	else
		! _integrity_is_ours || fail "the in-kernel target is not loaded" || return 1
	fi
	echo "target integrity $v ($1)"
}

itg_sha() {
	sha256sum <"$1" | cut -d' ' -f1
}

# itg_pattern FILE MIB: random bytes shared by both runs of a case.
itg_pattern() {
	[ -f "$1" ] || head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$1"
}

# itg_dump DEV: integritysetup dump without the lines that hold nothing
# implementation-specific (all of it is on-disk state).
itg_dump() {
	integritysetup dump "$1" 2>&1
}

# itg_fill NAME PATTERN: write the pattern over the whole mapped device.
itg_fill() {
	local bytes
	bytes=$(($(blockdev --getsz "/dev/mapper/$1") * 512))
	head -c "$bytes" "$2" | dd of="/dev/mapper/$1" bs=64k oflag=direct \
		iflag=fullblock status=none
}

# itg_devsum NAME: sha256 of the whole mapped device (read with O_DIRECT).
itg_devsum() {
	dd if="/dev/mapper/$1" bs=64k iflag=direct status=none | sha256sum | cut -d' ' -f1
}

itg_close() {
	local n
	for n in "$@"; do
		if dmsetup info "$n" >/dev/null 2>&1; then
			integritysetup close "$n" 2>/dev/null || _dm_remove "$n"
		fi
	done
	return 0
}

# itg_attach IMPL: loop devices for IMPL's images; sets itg_dev (the device
# integritysetup is given) and itg_data_args (--data-device ... if any).
itg_attach() {
	local impl=$1
	itg_dev=$(losetup --show -f "$TMPDIR/$impl.img") || return 1
	itg_loops+=("$itg_dev")
	itg_data_args=()
	if [ -n "${ITG_META_MIB:-}" ]; then
		itg_meta=$itg_dev
		itg_dev=$(losetup --show -f "$TMPDIR/$impl.meta") || return 1
		itg_loops+=("$itg_dev")
		# integritysetup: the metadata device is the main argument.
		itg_data_args=(--data-device "$itg_meta")
		local t=$itg_dev
		itg_dev=$t
	fi
}

itg_detach() {
	_loop_destroy "${itg_loops[@]}"
	itg_loops=()
}

itg_norm_table() {
	dmsetup table "$1" | sed -E 's/ [0-9]+:[0-9]+ / DEV /; s/meta_device:[0-9]+:[0-9]+/meta_device:META/'
}

# itg_rawsum IMPL TABLE: sha256 of IMPL's images with the superblock salt
# (random with fix_hmac) zeroed, and with ITG_RAW_SKIP_JOURNAL=1 the journal
# area too (its commit sequence depends on how writes were batched).
itg_rawsum() {
	local js
	js=$(echo "$2" | sed -nE 's/.*journal_sectors:([0-9]+).*/\1/p')
	python3 - "${ITG_RAW_SKIP_JOURNAL:-0}" "${js:-0}" "$TMPDIR/$1.img" "$TMPDIR/$1.meta" <<'PY'
import hashlib, os, sys
skip, js = sys.argv[1] == "1", int(sys.argv[2])
files = [f for f in sys.argv[3:] if os.path.exists(f)]
h = hashlib.sha256()
for n, f in enumerate(files):
    b = bytearray(open(f, "rb").read())
    sb = n == len(files) - 1      # the superblock is on the last one
    if sb:
        b[48:64] = bytes(16)
        if skip:
            b[8 * 512:(8 + js) * 512] = bytes(js * 512)
    h.update(b)
print(h.hexdigest())
PY
}

# itg_rawdiff: say which sectors of the images differ (for the log).
itg_rawdiff() {
	local f
	for f in img meta; do
		[ -f "$TMPDIR/kernel.$f" ] || continue
		python3 - "$TMPDIR/kernel.$f" "$TMPDIR/ours.$f" <<'PY'
import sys
a, b = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
d = [i for i in range(0, len(a), 512) if a[i:i + 512] != b[i:i + 512]]
print("%s: %d sectors differ: %s" % (sys.argv[1], len(d), [i // 512 for i in d[:20]]))
for i in d[:2]:
    print(" kernel", a[i:i + 64].hex())
    print(" ours  ", b[i:i + 64].hex())
PY
	done
	return 1
}

# itg_crosscheck: with ITG_MIB (data MiB), ITG_META_MIB (optional metadata
# device MiB), ITG_FMT and ITG_OPEN (arrays of integritysetup options):
#  1. with each implementation: format a zeroed image, open, record table
#     and status, fill with the same pattern, read back, close, record the
#     sha256 of the raw images and the dump;
#  2. the raw images, the data, the tables, the status lines and the dumps
#     must be identical;
#  3. each implementation opens the other's image and reads the data back.
itg_crosscheck() {
	local name=$1 impl other
	declare -gA itg_table itg_status itg_sum itg_raw itg_dump
	itg_loops=()
	itg_pattern "$TMPDIR/pat" "$ITG_MIB"
	for impl in kernel ours; do
		itg_switch "$impl" || return 1
		truncate -s "${ITG_MIB}M" "$TMPDIR/$impl.img"
		[ -z "${ITG_META_MIB:-}" ] || truncate -s "${ITG_META_MIB}M" "$TMPDIR/$impl.meta"
		itg_attach "$impl" || return 1
		integritysetup format -q --batch-mode --no-wipe "${ITG_FMT[@]}" \
			"${itg_data_args[@]}" "$itg_dev" ||
			fail "$impl: integritysetup format failed" || return 1
		integritysetup open "${ITG_OPEN[@]}" "${itg_data_args[@]}" "$itg_dev" "$name" ||
			fail "$impl: integritysetup open failed" || return 1
		itg_table[$impl]=$(itg_norm_table "$name")
		itg_status[$impl]=$(dmsetup status "$name")
		itg_fill "$name" "$TMPDIR/pat" || fail "$impl: writing the pattern failed" || return 1
		itg_sum[$impl]=$(itg_devsum "$name")
		integritysetup close "$name" || fail "$impl: close failed" || return 1
		itg_dump[$impl]=$(itg_dump "$itg_dev")
		itg_detach
		itg_raw[$impl]=$(itg_rawsum "$impl" "${itg_table[$impl]}")
		echo "$impl: table: ${itg_table[$impl]}"
		echo "$impl: status: ${itg_status[$impl]}"
		echo "$impl: data ${itg_sum[$impl]} raw ${itg_raw[$impl]}"
	done
	[ "${itg_table[kernel]}" = "${itg_table[ours]}" ] ||
		fail "tables differ: kernel '${itg_table[kernel]}' ours '${itg_table[ours]}'" || return 1
	[ "${itg_status[kernel]}" = "${itg_status[ours]}" ] ||
		fail "status differs: kernel '${itg_status[kernel]}' ours '${itg_status[ours]}'" || return 1
	[ "${itg_sum[kernel]}" = "${itg_sum[ours]}" ] ||
		fail "data read back differs" || return 1
	[ "${itg_dump[kernel]}" = "${itg_dump[ours]}" ] ||
		fail "integritysetup dump differs: $(diff <(echo "${itg_dump[kernel]}") <(echo "${itg_dump[ours]}") | tr '\n' ' ')" || return 1
	if [ "${ITG_SAME_RAW:-1}" = 1 ]; then
		[ "${itg_raw[kernel]}" = "${itg_raw[ours]}" ] || itg_rawdiff ||
			fail "raw images differ (kernel ${itg_raw[kernel]}, ours ${itg_raw[ours]})" || return 1
	fi

	for impl in kernel ours; do
		other=kernel
		[ "$impl" = kernel ] && other=ours
		itg_switch "$other" || return 1
		itg_attach "$impl" || return 1
		integritysetup open "${ITG_OPEN[@]}" "${itg_data_args[@]}" "$itg_dev" "$name" ||
			fail "$other cannot open the image written by $impl" || return 1
		local s
		s=$(itg_devsum "$name")
		[ "$s" = "${itg_sum[$impl]}" ] ||
			fail "$other reads different data from the image written by $impl" || return 1
		local mm
		mm=$(dmsetup status "$name" | awk '{print $4}')
		[ "$mm" = 0 ] || fail "$other: $mm mismatches on the image written by $impl" || return 1
		integritysetup close "$name" || return 1
		itg_detach
		echo "$other reads $impl's image: ok"
	done
}
