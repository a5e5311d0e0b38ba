#!/usr/bin/env bash
# Fetch, build and cache Debian's cryptsetup source with its test programs,
# for the cases that run cryptsetup's own test suite in the guest
# (tests/cases/cryptsetup-*).  Prints the built tree's path as its last line:
#
#   tests/run -k stock-6.12 -c "$(tests/lib/cryptsetup.sh)" cryptsetup-integrity
#
# Nothing of cryptsetup is kept in the checkout: the source comes from the
# Debian archive with `apt-get source` and is built under the cache.
set -euo pipefail

usage() {
	cat <<EOF
usage: $0 [-f] [-V VERSION]
  Makes sure a deb-src entry mirroring /etc/apt/sources.list.d/debian.sources
  exists, installs cryptsetup's build dependencies and the packages its test
  suite runs, fetches Debian's cryptsetup source (the version of the installed
  cryptsetup-bin unless -V), builds it with ./configure && make plus the test
  programs (make -C tests check-programs), and prints the tree's path.
  The build is cached and redone only when the version (or this script's build
  recipe) changes.
  -f        rebuild even if a cached build exists
  -V VER    source version to fetch (e.g. 2:2.6.1-4~deb12u2)
environment:
  DMT_CACHE  cache root (default /var/cache/dm-oot-tests); the tree is
             \$DMT_CACHE/cryptsetup/<version>/tree, the logs beside it
EOF
}

force=0
version=""
while getopts "fV:h" opt; do
	case $opt in
	f) force=1 ;;
	V) version=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; exit 2; }

die() { echo "cryptsetup.sh: error: $*" >&2; exit 1; }
say() { echo "cryptsetup.sh: $*" >&2; }

cache_root=${DMT_CACHE:-/var/cache/dm-oot-tests}
base=$cache_root/cryptsetup

# What ./configure && make need (Debian's Build-Depends without debhelper,
# the doc tools, and the packaging helpers).
build_deps=(
	autoconf automake autopoint libtool gettext pkg-config make gcc
	dpkg-dev libargon2-dev libblkid-dev libdevmapper-dev libjson-c-dev
	libpopt-dev libselinux1-dev libsepol-dev libssh-dev libssl-dev uuid-dev
)
# What the test scripts call (besides coreutils, util-linux, e2fsprogs and
# kmod, which every Debian system has): hexdump is in bsdextrautils, keyctl
# in keyutils, uuencode in sharutils; dmsetup for the scripts' checks;
# strace for blockwise-compat-test's logs of failing I/O.
runtime_deps=(
	cryptsetup-bin xxd bsdextrautils jq procps keyutils expect sharutils
	dmsetup xz-utils strace
)
# Options as in Debian's debian/rules, less the install paths, with docs off.
configure_flags=(--disable-asciidoc --enable-libargon2 --enable-shared)

# The api-test programs have no option to run a subset of their tests.  This
# makes their RUN_() macro consult DMT_API_TESTS (names of test functions,
# space separated); unset, every test runs as before.  Applied to the cached
# tree only.
api_filter_helper='/* dm-oot-tests: with DMT_API_TESTS set (space-separated test function
 * names), RUN_() runs only those tests; unset, all of them. */
#include <stdlib.h>
#include <string.h>
static inline int dmt_selected(const char *name)
{
	const char *list = getenv("DMT_API_TESTS"), *p;
	size_t n = strlen(name);

	if (!list)
		return 1;
	for (p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == '"' '"') && (p[n] == 0 || p[n] == '"' '"'))
			return 1;
	return 0;
}'
recipe_key=$(printf '%s\n' "${configure_flags[*]}" "$api_filter_helper" | sha256sum | cut -c1-12)

need_root() {
	[ "$(id -u)" = 0 ] || die "$* needs root"
}

# --- deb-src ----------------------------------------------------------------
# Every stanza of debian.sources whose Types has "deb" but not "deb-src",
# with Types: deb-src and the comments dropped.
debian_sources=/etc/apt/sources.list.d/debian.sources
our_sources=/etc/apt/sources.list.d/dmt-deb-src.sources
mirror_sources() {
	awk '
	function flush() {
		if (isdeb && !issrc && buf != "")
			printf "%s%s", (nout++ ? "\n" : ""), buf
		buf = ""; isdeb = 0; issrc = 0
	}
	/^[ \t]*$/ { flush(); next }
	/^#/ { next }
	/^Types:/ {
		for (i = 2; i <= NF; i++) {
			if ($i == "deb") isdeb = 1
			if ($i == "deb-src") issrc = 1
		}
		buf = buf "Types: deb-src\n"
		next
	}
	{ buf = buf $0 "\n" }
	END { flush() }' "$debian_sources"
}

apt_updated=0
ensure_deb_src() {
	local want
	[ -r "$debian_sources" ] ||
		die "$debian_sources missing: cannot derive a deb-src entry (add one by hand)"
	want=$(mirror_sources)
	if [ -n "$want" ] && [ "$want" != "$(cat "$our_sources" 2>/dev/null)" ]; then
		need_root "adding $our_sources"
		say "adding $our_sources (deb-src mirroring $debian_sources)"
		printf '%s\n' "$want" >"$our_sources.tmp"
		mv "$our_sources.tmp" "$our_sources"
		apt-get update -q >&2 || die "apt-get update failed"
		apt_updated=1
	fi
	if [ -z "$(apt-cache showsrc cryptsetup 2>/dev/null)" ] && [ "$apt_updated" = 0 ]; then
		need_root "apt-get update"
		apt-get update -q >&2 || die "apt-get update failed"
		apt_updated=1
	fi
	[ -n "$(apt-cache showsrc cryptsetup 2>/dev/null)" ] ||
		die "apt-cache showsrc cryptsetup finds nothing even with $our_sources"
}

# --- packages ---------------------------------------------------------------
ensure_packages() {
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f '${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed ||
			missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	need_root "installing ${missing[*]}"
	say "installing ${missing[*]}"
	if [ "$apt_updated" = 0 ]; then
		apt-get update -q >&2 || die "apt-get update failed"
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}

# --- build ------------------------------------------------------------------
build_tree() {
	# $1 version, $2 directory to build in (its final place: libtool's
	# wrapper scripts and the test token plugin record absolute paths)
	local ver=$1 dir=$2 log=$2.log work src
	rm -rf "$dir"
	work=$(mktemp -d "$base/fetch.XXXXXX")
	say "fetching cryptsetup $ver (log: $log)"
	: >"$log"
	# apt drops to the _apt user for downloads; let it write there.
	chmod 755 "$work"
	chown _apt "$work" 2>/dev/null || true
	(cd "$work" && apt-get source -q "cryptsetup=$ver") >>"$log" 2>&1 ||
		{ tail -n 20 "$log" >&2; rm -rf "$work"; die "apt-get source cryptsetup=$ver failed, see $log"; }
	src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'cryptsetup-*' -print -quit)
	if [ -z "$src" ] || [ ! -d "$src/tests" ]; then
		rm -rf "$work"
		die "apt-get source left no cryptsetup-*/tests directory in $work"
	fi
	mv "$src" "$dir"
	mv "$work"/cryptsetup_* "$(dirname "$dir")/" 2>/dev/null || true
	rm -rf "$work"

	apply_api_filter "$dir/tests/api_test.h"

	say "building in $dir"
	if ! (
		set -e
		cd "$dir"
		./autogen.sh
		./configure "${configure_flags[@]}"
		make -j"$(nproc)"
		make -C tests -j"$(nproc)" check-programs
	) >>"$log" 2>&1; then
		tail -n 30 "$log" >&2
		die "building cryptsetup $ver failed, see $log"
	fi
	for f in cryptsetup integritysetup veritysetup tests/api-test tests/api-test-2; do
		[ -x "$dir/$f" ] || die "build finished but $dir/$f is missing, see $log"
	done
}

apply_api_filter() {
	local h=$1 helper
	grep -q '^#define RUN_(x, y)[[:space:]]*do { reset_log();' "$h" ||
		die "$h: RUN_() macro not as expected; cannot add the DMT_API_TESTS filter"
	helper=$(mktemp)
	printf '%s\n\n' "$api_filter_helper" >"$helper"
	awk -v helper="$helper" '
	/^#define RUN_\(x, y\)/ {
		while ((getline line < helper) > 0) print line
		sub(/do \{ reset_log\(\);/, "do { if (!dmt_selected(#x)) break; reset_log();")
	}
	{ print }' "$h" >"$h.new"
	rm -f "$helper"
	grep -q 'if (!dmt_selected(#x)) break;' "$h.new" || die "patching $h failed"
	mv "$h.new" "$h"
}

main() {
	command -v apt-get >/dev/null || die "apt-get missing: this script is for Debian hosts"
	ensure_deb_src
	ensure_packages "${runtime_deps[@]}" "${build_deps[@]}"
	if [ -z "$version" ]; then
		version=$(dpkg-query -W -f '${source:Version}' cryptsetup-bin 2>/dev/null) ||
			die "cannot read the version of cryptsetup-bin"
	fi
	[ -n "$version" ] || die "no cryptsetup version"
	# Directory names without the epoch.
	local vdir=$base/${version#*:} tree stamp want
	tree=$vdir/tree
	stamp=$vdir/built
	want="$version $recipe_key"

	mkdir -p "$vdir"
	exec 9>"$vdir/lock"
	flock 9
	if [ "$force" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$tree" ]; then
		say "cryptsetup $version already built"
	else
		rm -f "$stamp"
		build_tree "$version" "$tree"
		echo "$want" >"$stamp"
		say "built cryptsetup $version"
	fi
	# The guest copies tests/ from this one file: reading the directory
	# file by file over 9p took a minute under TCG.
	if [ ! -f "$tree/dmt-tests.tar" ]; then
		tar -C "$tree" -cf "$tree/dmt-tests.tar.tmp" --exclude='*.o' --exclude=.deps tests
		mv "$tree/dmt-tests.tar.tmp" "$tree/dmt-tests.tar"
	fi
	echo "$tree"
}

main
