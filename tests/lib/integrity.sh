# shellcheck shell=bash
# Helpers for dm-integrity cases (tests/cases/integrity).  Source from a case
# file after common.sh (run-case.sh sources that):
#
#   . "$DMT_REPO/tests/lib/integrity.sh"
#
# Switching implementation inside one guest boot:
#   _integrity_switch kernel|ours
#       unloads whichever dm_integrity is loaded and loads the one named
#       (modprobe for the kernel's, insmod of `_our_module_path dm-integrity`
#       for ours), through _use_integrity_impl in common.sh; then checks that
#       the loaded module really is the one asked for, and sets
#       INTEGRITY_LOADED.  No integrity device may be open.  Returns non-zero
#       with a FAIL: line otherwise.  Needs from our module: it is
#       dm-integrity.ko under DMT_MODULES, its taint has "O" (out of tree),
#       and rmmod works once no device uses it.
#
# Cross-implementation cases (one writes a volume, the other reads it):
#   _integrity_pairs
#       prints "<writer> <reader>" lines to run, from DMT_INTEGRITY_WRITER and
#       DMT_INTEGRITY_READER (either set: that one pair, the unset one
#       defaulting to kernel); else with DMT_TARGET_IMPL=ours and our module
#       built: "kernel ours" and "ours kernel"; else "kernel kernel".  When
#       ours was asked for but is not built it says so on stderr (the case
#       log) and still prints "kernel kernel": the case runs in reference mode
#       instead of skipping silently.
#   _integrity_cross_requires
#       for requires(): the programs and the modules the pairs need.
#
# Misc:
#   _itool ARGS...           python3 tests/lib/integrity-tool.py ARGS...
#   _int_info NAME           "mismatches provided_sectors recalc" (INFO status)
#   _int_table NAME          the table the target reports (no keys)
#   _int_dump DEV            `integritysetup dump DEV` (superblock fields)
#   _seeded_file SEED BYTES FILE   deterministic pseudo-random file
#   _drop_caches

_int_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

_itool() {
	python3 "$_int_lib/integrity-tool.py" "$@"
}

_integrity_switch() {
	local want=${1:-}
	case $want in
	kernel | ours) ;;
	*)
		fail "_integrity_switch: '$want': expected kernel or ours"
		return 1
		;;
	esac
	if dmsetup table 2>/dev/null | grep -q ' integrity '; then
		fail "_integrity_switch $want: integrity devices still open: $(dmsetup table | grep ' integrity ' | cut -d: -f1 | paste -sd, -)"
		return 1
	fi
	_use_integrity_impl "$want" || return 1
	if [ "$want" = ours ]; then
		_integrity_is_ours || { fail "_integrity_switch ours: loaded dm_integrity is not ours"; return 1; }
	else
		if _integrity_is_ours; then
			fail "_integrity_switch kernel: our dm_integrity is still loaded"
			return 1
		fi
	fi
	dmsetup targets | grep -q '^integrity ' ||
		{ fail "_integrity_switch $want: no integrity target registered"; return 1; }
	# shellcheck disable=SC2034 # for cases: which one is loaded now
	INTEGRITY_LOADED=$want
}

_integrity_pairs() {
	local w=${DMT_INTEGRITY_WRITER:-} r=${DMT_INTEGRITY_READER:-}
	if [ -n "$w$r" ]; then
		echo "${w:-kernel} ${r:-kernel}"
	elif [ "${DMT_TARGET_IMPL:-kernel}" = ours ]; then
		if [ -n "$(_our_module_path dm-integrity)" ]; then
			echo "kernel ours"
			echo "ours kernel"
		else
			echo "NOTE: DMT_TARGET_IMPL=ours but our dm-integrity.ko is not built for $(uname -r): running kernel->kernel only" >&2
			echo "kernel kernel"
		fi
	else
		echo "kernel kernel"
	fi
}

_integrity_cross_requires() {
	_have_program integritysetup dmsetup python3 sha256sum
	_have_kernel_module dm-integrity
	case "${DMT_INTEGRITY_WRITER:-} ${DMT_INTEGRITY_READER:-}" in
	*ours*) _have_our_module dm-integrity ;;
	esac
}

_int_info() {
	dmsetup status "$1" | awk '$3 == "integrity" { print $4, $5, $6 }'
}

_int_table() {
	dmsetup table "$1"
}

_int_dump() {
	integritysetup dump "$1"
}

_seeded_file() {
	python3 - "$1" "$2" "$3" <<'PY'
import random, sys
r = random.Random(sys.argv[1])
n = int(sys.argv[2])
with open(sys.argv[3], "wb") as f:
    while n > 0:
        k = min(n, 1 << 20)
        f.write(r.randbytes(k))
        n -= k
PY
}

_drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}
