#!/bin/bash
# Runs one case file inside the guest: checks its requirements, then its test
# body.  Exit status: 0 pass, 77 skip (reasons on "SKIP:" lines), other fail
# (reason on the first "FAIL:" line).
set -uo pipefail

lib=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/common.sh
. "$lib/common.sh"
# shellcheck source=/dev/null
. "$1"

SKIP_REASONS=()
if declare -F requires >/dev/null; then
	requires
fi
if [ ${#SKIP_REASONS[@]} -gt 0 ]; then
	printf 'SKIP: %s\n' "${SKIP_REASONS[@]}"
	exit 77
fi

TMPDIR=$(mktemp -d /tmp/case.XXXXXX)
export TMPDIR
cd "$TMPDIR" || exit 1
echo "== $DESCRIPTION"
if declare -F cleanup >/dev/null; then
	trap cleanup EXIT
fi
test_case
