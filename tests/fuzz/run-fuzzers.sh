#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build the libFuzzer harnesses with clang in build-fuzz/ and run each for N seconds
# (default 20) over its seed corpus. Exits non-zero when a harness crashes.
#   tests/fuzz/run-fuzzers.sh [seconds]
# FUZZ_BUILD=DIR builds in DIR instead of build-fuzz/.
# FUZZ_JOBS=N runs N harnesses at a time (default: the number of online CPUs); each
# harness's output is printed when it ends.
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

jobs=${FUZZ_JOBS:-$(nproc)}
case $jobs in
'' | *[!0-9]* | 0)
	echo "$0: FUZZ_JOBS must be a positive number" >&2
	exit 2
	;;
esac

# run_one NAME: one harness for $secs s; its output in $build/tests/fuzz/NAME.log,
# its exit status in NAME.rc.
run_one() {
	name=$1
	seeds="$src/tests/fuzz/corpus/${name#fuzz-}"
	work="$build/tests/fuzz/corpus-$name" # new inputs go here, not into the source tree
	art="$build/tests/fuzz/artifacts-$name"
	mkdir -p "$work" "$art"
	[ -d "$seeds" ] || seeds=""
	rc=0
	# shellcheck disable=SC2086
	"$build/tests/fuzz/$name" -max_total_time="$secs" -max_len=8192 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$art/" "$work" $seeds \
		>"$build/tests/fuzz/$name.log" 2>&1 || rc=$?
	echo "$rc" >"$build/tests/fuzz/$name.rc"
}

# report NAME: print a finished harness's output; 1 when it failed.
report() {
	echo "== $1: $secs s"
	cat "$build/tests/fuzz/$1.log"
	if [ "$(cat "$build/tests/fuzz/$1.rc")" != 0 ]; then
		echo "== $1 FAILED: reproducer in $build/tests/fuzz/artifacts-$1/" >&2
		return 1
	fi
}

status=0
batch=""
n=0
for name in $fuzzers; do
	rm -f "$build/tests/fuzz/$name.rc" # a harness that dies before writing it fails
	run_one "$name" &
	batch="$batch $name"
	n=$((n + 1))
	if [ "$n" -ge "$jobs" ]; then
		wait
		for b in $batch; do report "$b" || status=1; done
		batch=""
		n=0
	fi
done
wait
for b in $batch; do report "$b" || status=1; done
exit $status
