#!/usr/bin/env bash
# Static checks of the module sources, each reported as one test line:
#   build/<kernel>   warning-free `make W=1` against that kernel's build tree
#   sparse/<kernel>  `make C=1` (sparse) reports nothing, on stock-6.12 and test
#   checkpatch       scripts/checkpatch.pl --strict is clean on our C files
# Ends with "N passed, N failed"; exits non-zero if any failed.
set -euo pipefail

usage() {
	cat <<EOF
usage: $0 [KERNEL...]
  KERNEL: stock-6.1, stock-6.12, test (default: all three)
EOF
}
case ${1:-} in -h | --help) usage; exit 0 ;; esac

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || kernels=(stock-6.1 stock-6.12 test)
# shellcheck source=tests/lib/kernels.sh
. "$here/lib/kernels.sh"

# shellcheck source=tests/lib/report.sh
. "$here/lib/report.sh"
# $1 name, $2 0 = pass, $3 detail
report() { report_status "$2" build "$1" "$3"; }

c_files() {
	git -C "$repo" ls-files '*.c' '*.h'
}

for k in "${kernels[@]}"; do
	if ! resolve_kernel "$k" 2>/dev/null; then
		report "build/$k" 1 "kernel $k not available"
		continue
	fi
	# From scratch: an incremental build would hide the warnings of
	# files that did not change (tests/run shares the build tree).
	if ! out=$(DMT_BUILD_CLEAN=1 "$here/lib/build-modules.sh" "$KERNEL_KDIR" "$KERNEL_RELEASE" 2>&1); then
		report "build/$k" 1 "build failed: $(echo "$out" | grep -m1 -i error)"
		continue
	fi
	out=$(echo "$out" | tail -n1)
	log=$out.log
	warnings=$(grep -c 'warning:' "$log" || true)
	nko=$(find "$out" -name '*.ko' -not -path '*/tests/*' | wc -l)
	if [ "$warnings" -gt 0 ]; then
		report "build/$k" 1 "$warnings warnings, first: $(grep -m1 'warning:' "$log")"
	else
		report "build/$k" 0 "W=1 clean, $nko modules for $KERNEL_RELEASE"
	fi

	# sparse where the most code builds: stock 6.12 and the test kernel
	# (the only one with the inline-encryption parts).
	if [ "$k" = stock-6.12 ] || [ "$k" = test ]; then
		# Build everything again under sparse, in a copy of its own so
		# that the tree guests load modules from is left alone.
		sdir=$out.sparse
		slog=$sdir.log
		rsync -a --delete --exclude=.git "$repo/" "$sdir/"
		make -C "$sdir" KDIR="$KERNEL_KDIR" clean >/dev/null 2>&1 || true
		if make -C "$sdir" KDIR="$KERNEL_KDIR" C=1 >"$slog" 2>&1; then
			n=$(grep -cE 'warning:|error:' "$slog" || true)
			if [ "$n" -eq 0 ]; then
				report "sparse/$k" 0 "sparse clean"
			else
				report "sparse/$k" 1 "$n sparse reports, first: $(grep -m1 -E 'warning:|error:' "$slog")"
			fi
		else
			report "sparse/$k" 1 "sparse build failed, see $slog"
		fi
	fi
done

# checkpatch ships with the kernel source, not with the headers.
if dir=$("$here/kernel/build-test-kernel.sh" -q 2>/dev/null) &&
	cp_src=$(readlink -f "$dir/build/source") && [ -x "$cp_src/scripts/checkpatch.pl" ]; then
	mapfile -t files < <(c_files)
	if [ ${#files[@]} -eq 0 ]; then
		report checkpatch 0 "no C files yet"
	elif out=$(cd "$repo" && for f in "${files[@]}"; do
		# The compat layer re-creates kernel typedefs for older kernels.
		ignore=""
		[ "$f" != include/compat.h ] || ignore="--ignore NEW_TYPEDEFS"
		# shellcheck disable=SC2086
		perl "$cp_src/scripts/checkpatch.pl" --no-tree --strict --terse \
			--show-types $ignore -f "$f" || exit 1
	done 2>&1); then
		report checkpatch 0 "--strict clean on ${#files[@]} files"
	else
		report checkpatch 1 "$(echo "$out" | grep -m1 -E 'ERROR|WARNING|CHECK')"
		echo "$out" | grep -E 'ERROR|WARNING|CHECK' | head -n 20 | sed 's/^/      /'
	fi
else
	report checkpatch 1 "no kernel source with scripts/checkpatch.pl (tests/kernel/build-test-kernel.sh)"
fi

report_summary
