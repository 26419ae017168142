#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build the libFuzzer harnesses with clang in build-fuzz/ and run each for N seconds
# (default 20) over its seed corpus. Exits non-zero when a harness crashes.
#   tests/fuzz/run-fuzzers.sh [seconds]
# FUZZ_BUILD=DIR builds in DIR instead of build-fuzz/.
set -eu

secs=${1:-20}
case $secs in
'' | *[!0-9]*)
	echo "usage: $0 [seconds]" >&2
	exit 2
	;;
esac

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD:-"$src/build-fuzz"}

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$src" -Dfuzz=true
else
	meson setup --reconfigure "$build" "$src" -Dfuzz=true
fi

fuzzers=""
for f in "$src"/tests/fuzz/fuzz-*.c; do
	name=$(basename "$f" .c)
	fuzzers="$fuzzers $name"
done
# shellcheck disable=SC2086
meson compile -C "$build" $fuzzers

status=0
for name in $fuzzers; do
	seeds="$src/tests/fuzz/corpus/${name#fuzz-}"
	work="$build/tests/fuzz/corpus-$name" # new inputs go here, not into the source tree
	art="$build/tests/fuzz/artifacts-$name"
	mkdir -p "$work" "$art"
	[ -d "$seeds" ] || seeds=""
	echo "== $name: $secs s"
	# shellcheck disable=SC2086
	if ! "$build/tests/fuzz/$name" -max_total_time="$secs" -max_len=8192 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$art/" "$work" $seeds; then
		echo "== $name FAILED: reproducer in $art/" >&2
		status=1
	fi
done
exit $status
