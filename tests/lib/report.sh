# shellcheck shell=bash
# Result lines shared by every harness script: "PASS|FAIL|SKIP  <where>
# <name> <detail>", counted, and the closing "N passed, N failed" line that
# tests/ci and CI read.

report_passed=0
report_failed=0
report_skipped=0
# 1: count passing and skipped results but print only the failures.
report_quiet=0

# $1 pass|fail|skip, $2 where (kernel or "build"), $3 name, $4 detail
report_line() {
	local tag
	case $1 in
	pass) tag=PASS report_passed=$((report_passed + 1)) ;;
	skip) tag=SKIP report_skipped=$((report_skipped + 1)) ;;
	*) tag=FAIL report_failed=$((report_failed + 1)) ;;
	esac
	[ "$report_quiet" = 1 ] && [ "$tag" != FAIL ] && return 0
	printf '%s  %-10s %-28s %s\n' "$tag" "$2" "$3" "$4"
}

# $1 0 = pass, anything else = fail; then as report_line
report_status() {
	local status=$1
	shift
	if [ "$status" = 0 ]; then
		report_line pass "$@"
	else
		report_line fail "$@"
	fi
}

# The closing line; returns non-zero when anything failed.
report_summary() {
	if [ "$report_skipped" -gt 0 ]; then
		echo "$report_passed passed, $report_failed failed, $report_skipped skipped"
	else
		echo "$report_passed passed, $report_failed failed"
	fi
	[ "$report_failed" -eq 0 ]
}
