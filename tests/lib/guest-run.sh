#!/bin/bash
# Runs inside the guest (chrooted into the host root): executes the cases
# listed in /run/dmt/plan one by one and leaves, per case, its output, the
# kernel log it produced and its result in /run/dmt for the host to read.
set -uo pipefail

dmt=/run/dmt
lib=$(cd "$(dirname "$0")" && pwd)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
# No udev in the guest: libdevmapper creates the /dev/mapper nodes itself.
export DM_DISABLE_UDEV=1
# shellcheck source=/dev/null
. "$dmt/env"

kmemleak=/sys/kernel/debug/kmemleak
# What in the kernel log fails a case, whatever the case itself said.
splat='WARNING:|BUG:|Oops|KASAN:|general protection fault|Kernel panic|sleeping function called from invalid context|possible (circular|recursive) locking|inconsistent lock state|lock held when returning|DEBUG_LOCKS_WARN_ON|blocked for more than|soft lockup|hard LOCKUP|UBSAN:|list_add corruption|list_del corruption|cut here'

mkdir -p "$dmt/out"
# Loop devices back most test disks, and with no udev nothing loads
# dm_mod on first use; Debian builds both as modules.
for m in loop dm_mod; do modprobe -q "$m" 2>/dev/null || true; done
echo "booted $(uname -r)" >>"$dmt/progress"

if [ -w "$kmemleak" ]; then
	# Forget whatever boot left behind; only leaks made by a case count.
	echo scan >"$kmemleak"
	echo clear >"$kmemleak"
fi

kmsg() { echo "$*" >/dev/kmsg; }

# kmemleak reports an object only from the second scan that finds it
# unreferenced and unchanged: a new object's first scan records its
# checksum.  So one scan after each case reports the leaks of the case
# scanned before it (nothing else allocates between the two), and that
# case's result is corrected then; the last one gets a scan of its own.
# One scan per case instead of two and a wait: the scans cost most of a
# minute per case on the KASAN kernel under TCG.
leak_owner=""
last_scan=0

# Scan; blame what is reported on $leak_owner, whose turn it now is.  The
# objects of the owner must be older than kmemleak's minimum age (5 s)
# by now, which a short case may not have given them.
leak_scan() {
	local leaks owner=$leak_owner out wait
	wait=$((last_scan + 6 - $(date +%s)))
	[ "$wait" -le 0 ] || sleep "$wait"
	echo scan >"$kmemleak"
	last_scan=$(date +%s)
	leaks=$(cat "$kmemleak")
	echo clear >"$kmemleak"
	leak_owner=${1:-}
	[ -n "$owner" ] && [ -n "$leaks" ] || return 0
	out=$dmt/out/$owner
	printf '%s\n' "$leaks" >"$out.kmemleak"
	# A leak overrides a pass or a skip; a failure keeps its own reason.
	case $(cat "$out.result" 2>/dev/null) in
	pass | skip*)
		echo "fail kmemleak: $(printf '%s\n' "$leaks" | grep -c 'unreferenced object') leaked objects" >"$out.result"
		;;
	esac
	sync
}

# The scan that reports the leaks of the last case scanned.
leak_scan_last() {
	[ -w "$kmemleak" ] && [ -n "$leak_owner" ] || return 0
	leak_scan ""
}

# Tasks in uninterruptible sleep, as "pid comm" lines.  After a case timed
# out, such tasks are stuck in the kernel: no signal ends them.
stuck_tasks() {
	local p state
	for p in /proc/[0-9]*; do
		state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "$p/status" 2>/dev/null)
		[ "$state" = D ] && echo "${p#/proc/} $(cat "$p/comm" 2>/dev/null)"
	done
	return 0
}

while read -r id file limit; do
	[ -n "$id" ] || continue
	echo "start $id" >>"$dmt/progress"
	out=$dmt/out/$id
	kmsg "dmt: begin $id"
	start=$(date +%s)
	timeout -k 10 "$limit" bash "$lib/run-case.sh" "$file" >"$out.log" 2>&1
	rc=$?
	# The case is over; what follows is the harness's own checking, which
	# the host times separately (kmemleak scans are slow under KASAN).
	echo "check $id" >>"$dmt/progress"
	stuck=""
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		sleep 3
		stuck=$(stuck_tasks)
		if [ -n "$stuck" ]; then
			echo "== tasks stuck in the kernel after the time limit:" >>"$out.log"
			while read -r pid comm; do
				echo "-- $pid $comm" >>"$out.log"
				cat "/proc/$pid/stack" >>"$out.log" 2>/dev/null
			done <<<"$stuck"
		fi
	fi
	elapsed=$(($(date +%s) - start))
	# A case whose requirements were not met never ran its body (no "=="
	# line): nothing of its own to scan for.
	if [ -w "$kmemleak" ] && { [ $rc -ne 77 ] || grep -q '^== ' "$out.log"; }; then
		leak_scan "$id"
	fi
	kmsg "dmt: end $id"
	dmesg | sed -n "/dmt: begin $id\$/,/dmt: end $id\$/p" >"$out.dmesg"

	if [ -n "$stuck" ]; then
		result="fail timed out after ${limit}s; tasks stuck in the kernel: $(echo "$stuck" | awk '{print $2}' | paste -sd, -)"
	elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		result="fail timed out after ${limit}s"
	elif grep -Eq "$splat" "$out.dmesg"; then
		# Name the report itself, not the "cut here" line before it.
		first=$(awk -v re="$splat" '$0 ~ re && !/cut here/ { print; exit }' "$out.dmesg")
		[ -n "$first" ] || first=$(grep -Em1 "$splat" "$out.dmesg")
		result="fail kernel log: $(echo "$first" | sed 's/^\[[^]]*\] //')"
	elif [ $rc -eq 77 ]; then
		result="skip $(sed -n 's/^SKIP: //p' "$out.log" | paste -sd ';' -)"
	elif [ $rc -eq 0 ]; then
		result="pass"
	else
		reason=$(sed -n 's/^FAIL: //p' "$out.log" | head -n1)
		result="fail ${reason:-exit status $rc}"
	fi
	echo "$result" >"$out.result"
	echo "$elapsed" >"$out.time"
	echo "end $id" >>"$dmt/progress"
	sync
	if [ -n "$stuck" ]; then
		# The kernel holds tasks it will never release: later cases get a
		# fresh guest.
		leak_scan_last
		echo "restart" >>"$dmt/progress"
		sync
		exit 0
	fi
done <"$dmt/plan"
echo "check final" >>"$dmt/progress"
leak_scan_last
echo "done" >>"$dmt/progress"
sync
