# shellcheck shell=bash
# Helpers for the cases that run one test of cryptsetup's own suite
# (tests/cases/cryptsetup-*).  Sourced by those case files inside the guest,
# after common.sh.
#
# The tree comes from the host as DMT_CRYPTSETUP (tests/run -c, built by
# tests/lib/cryptsetup.sh).  The host root is read-only in the guest, and the
# tests write their images into their own directory, so each case copies
# the tree to its tmpfs TMPDIR and runs the test there, the way the tree's
# `make check` runs it (serial-tests harness: srcdir=. ./TEST in tests/).
# The test uses the tree's own tools: the test scripts get
# CRYPTSETUP_PATH=<copy>/.libs and LD_LIBRARY_PATH=<copy>/.libs, the binaries
# and library that make check's ../cryptsetup etc. (libtool wrappers) would
# run; the api-test programs link the library statically.  A case may pass
# CRYPTSETUP_PATH=/usr/sbin to use the installed tools instead (the api-test
# programs refuse to run with CRYPTSETUP_PATH set: exit 77).

_cryptsetup_requires() {
	if [ -z "${DMT_CRYPTSETUP:-}" ]; then
		_skip "no cryptsetup tree: run tests/run -c \"\$(tests/lib/cryptsetup.sh)\""
		return 0
	fi
	if [ ! -d "$DMT_CRYPTSETUP/tests" ] || [ ! -e "$DMT_CRYPTSETUP/cryptsetup" ]; then
		_skip "DMT_CRYPTSETUP=$DMT_CRYPTSETUP is not a built cryptsetup tree (or not visible in the guest)"
	fi
}

# Run cryptsetup test $1 with the variables given as further NAME=VALUE
# arguments.  Its output goes to stdout (the case log).  Returns 0 when it
# passed, 77 with a "SKIP:" line when it skipped (its exit status 77), 1 with
# a "FAIL:" line otherwise.
_cryptsetup_test() {
	local name=$1 rc last
	shift
	_cryptsetup_snapshot
	_cs_tree=$TMPDIR/cryptsetup
	_cryptsetup_copy "$DMT_CRYPTSETUP" "$_cs_tree" || return 1
	[ -e "$_cs_tree/tests/$name" ] || { fail "no test $name in $DMT_CRYPTSETUP/tests"; return 1; }
	# The C test programs print into a pipe here: have their stdout line
	# buffered, or a case that times out loses all of its output.
	local buf=() bin=()
	if [ "$(head -c4 "$_cs_tree/tests/$name" | tr -d '\177')" = ELF ]; then
		buf=(stdbuf -oL)
	else
		# Not for the scripts that run C test programs refusing
		# CRYPTSETUP_PATH (unit-wipe, unit-utils-io), nor the token plugin
		# tests, which treat CRYPTSETUP_PATH as "installed binaries".
		case $name\ $* in
		unit-wipe-test* | blockwise-compat-test* | ssh-test-plugin* | \
			systemd-test-plugin* | *CRYPTSETUP_PATH=*) ;;
		*)
			# The tree's binaries without libtool's wrapper scripts: the
			# wrapper (../cryptsetup) runs six processes per call, which
			# costs minutes under TCG, and then runs these same binaries
			# with this same LD_LIBRARY_PATH.
			bin=("CRYPTSETUP_PATH=$_cs_tree/.libs" "LD_LIBRARY_PATH=$_cs_tree/.libs")
			;;
		esac
	fi
	set -- "${bin[@]}" "$@"
	# No udev in the guest, so nothing loads sd_mod when scsi_debug (which
	# several tests use) adds a disk: no /dev/sdX then.
	modprobe -q sd_mod 2>/dev/null || true
	echo "running: cd tests && env srcdir=. $* ${buf[*]} ./$name"
	if [ ${#buf[@]} -eq 0 ]; then
		# The scripts expect make check's terminal: with stdin not a tty,
		# "cryptsetup -q luksKillSlot" (compat-test, align-test) asks for
		# a passphrase on stdin instead of trusting batch mode.  script(1)
		# gives them a pty (its stdin at EOF, so a prompt cannot hang);
		# -e passes the test's exit status on.
		(cd "$_cs_tree/tests" &&
			script -qefc "$(printf '%q ' env srcdir=. "$@" "./$name")" /dev/null </dev/null) 2>&1 |
			tr -d '\r' | tee "$TMPDIR/$name.out"
	else
		(cd "$_cs_tree/tests" && env srcdir=. "$@" "${buf[@]}" "./$name") 2>&1 |
			tee "$TMPDIR/$name.out"
	fi
	rc=${PIPESTATUS[0]}
	last=$(grep -v '^[[:space:]]*$' "$TMPDIR/$name.out" | tail -n1 | cut -c1-200)
	echo "$name: exit status $rc"
	case $rc in
	0) return 0 ;;
	77)
		echo "SKIP: $name: ${last:-exit status 77}"
		return 77
		;;
	*)
		fail "$name exited with $rc: ${last:-no output}"
		return 1
		;;
	esac
}

# Copy tree $1 to $2 for running its tests: tests/ is copied (the tests
# write their images there), less the object files; everything else is a
# symlink to the read-only tree (the libtool wrappers ../cryptsetup etc.
# follow symlinks and run the tree's own .libs).  Copying all of the tree
# over 9p took minutes under TCG, tests/ file by file about one minute.
_cryptsetup_copy() {
	local from=$1 to=$2 e start=$SECONDS
	mkdir -p "$to" || { fail "cannot create $to"; return 1; }
	for e in "$from"/* "$from"/.[!.]*; do
		[ -e "$e" ] || continue
		case ${e##*/} in tests | dmt-tests.tar) continue ;; esac
		ln -s "$e" "$to/" || { fail "cannot link $e into $to"; return 1; }
	done
	if [ -f "$from/dmt-tests.tar" ]; then
		# Made by tests/lib/cryptsetup.sh: one file read in large blocks.
		dd if="$from/dmt-tests.tar" bs=1M status=none | tar -C "$to" -xf -
	else
		tar -C "$from" -cf - --exclude='*.o' --exclude=.deps tests | tar -C "$to" -xf -
	fi || { fail "copying $from/tests to $to failed"; return 1; }
	echo "copied $from/tests to $to in $((SECONDS - start)) s (rest of the tree symlinked)"
}

# Device-mapper devices and loop devices present before the test, so that
# _cryptsetup_cleanup can remove only what the test left behind.
_cryptsetup_snapshot() {
	_cs_dm_before=" $(dmsetup ls 2>/dev/null | awk '{ print $1 }' | tr '\n' ' ') "
	_cs_loop_before=" $(losetup -n -O NAME 2>/dev/null | tr '\n' ' ') "
}

# For cleanup(): remove the dm and loop devices the test left (reported in
# the log; cryptsetup's scripts normally remove their own) and the copied
# tree, whose files live in the guest's memory.
_cryptsetup_cleanup() {
	local d left=""
	[ -n "${_cs_dm_before:-}" ] || return 0
	for d in $(dmsetup ls 2>/dev/null | awk '$1 != "No" { print $1 }'); do
		case $_cs_dm_before in *" $d "*) continue ;; esac
		left+=" $d"
	done
	if [ -n "$left" ]; then
		echo "cleanup: removing dm devices the test left:$left"
		# Stacked devices: retry until no more can go.
		for _ in 1 2 3; do
			for d in $left; do
				dmsetup remove --retry "$d" >/dev/null 2>&1 || true
			done
		done
		for d in $left; do
			dmsetup info "$d" >/dev/null 2>&1 && dmsetup remove -f "$d" >/dev/null 2>&1
		done
	fi
	left=""
	for d in $(losetup -n -O NAME 2>/dev/null); do
		case $_cs_loop_before in *" $d "*) continue ;; esac
		left+=" $d"
		losetup -d "$d" 2>/dev/null
	done
	[ -z "$left" ] || echo "cleanup: detached loop devices the test left:$left"
	rm -rf "${_cs_tree:?}"
	return 0
}

# Run api test program $1 limited to the test functions named in $2 (space
# separated; see DMT_API_TESTS in tests/lib/cryptsetup.sh), and check that
# each of them really ran (a misspelt name would otherwise pass vacuously).
_cryptsetup_api_test() {
	local prog=$1 names=$2 n rc=0
	_cryptsetup_test "$prog" "DMT_API_TESTS=$names" || rc=$?
	[ "$rc" = 0 ] || return "$rc"
	for n in $names; do
		grep -q "^$n: " "$TMPDIR/$prog.out" ||
			{ fail "$prog: test $n did not run (no such test in this version?)"; return 1; }
	done
}

# --- tests/cases/cryptsetup-full: the whole `make check`, one test a case ----
# make check runs 00modules-test first, which loads dm-crypt, dm-verity,
# dm-integrity and dm-zero, and some later tests rely on that (align-test2
# reads dm-crypt's version from `dmsetup targets`): each case loads them as
# that test would, so that it also runs alone.  With DMT_TARGET_IMPL=ours,
# our dm-integrity is loaded instead of the kernel's.
_cryptsetup_full_requires() {
	_cryptsetup_requires
	[ "${DMT_TARGET_IMPL:-kernel}" = kernel ] || _have_integrity_impl
}

_cryptsetup_full_test() {
	if [ "${DMT_TARGET_IMPL:-kernel}" != kernel ]; then
		_use_integrity_impl || return 1
	else
		modprobe -q dm-integrity 2>/dev/null || true
	fi
	modprobe -q -a dm-crypt dm-verity dm-zero 2>/dev/null || true
	_cryptsetup_test "$1"
}

# The tree's TESTS list (what its `make check` runs), one name a line.
_cryptsetup_test_list() {
	# shellcheck disable=SC2016
	printf 'include Makefile\ndmt-print-tests:\n\t@echo $(TESTS)\n' |
		make -s -C "$DMT_CRYPTSETUP/tests" -f - dmt-print-tests | tr ' ' '\n' | sed '/^$/d'
}
