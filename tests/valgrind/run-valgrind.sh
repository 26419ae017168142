#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# One full run under valgrind memcheck: m2masd, an establishment and a rekey (a
# second establishment) with m2msactl against swtpm, and a key retrieval by the
# IN-CSE stand-in for an AE client. m2masd, m2msactl and the stand-in run under
#   valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
# Exits non-zero on any memcheck error or failed step.
#   tests/valgrind/run-valgrind.sh [BUILDDIR]   (default: build)
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
for p in valgrind swtpm openssl; do
	command -v $p >/dev/null || { echo "run-valgrind: $p is not installed" >&2; exit 2; }
done
meson compile -C "$build" mas/m2masd mas/m2masctl m2msactl/m2msactl \
	examples/m2msa-incse-standin examples/m2msa-ae-client >/dev/null

dir=$(mktemp -d "${TMPDIR:-/tmp}/m2msa-valgrind-XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

vg="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
vg="$vg --track-fds=no --quiet --log-file=$dir/vg-%p.log"
wait_file() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ $i -lt 600 ] || { echo "run-valgrind: timed out waiting for $1" >&2; exit 1; }
		sleep 0.1
	done
}

sh "$src/tests/integration/mkcerts.sh" "$dir/pki" >/dev/null

# swtpm on a free port pair (ctrl = port + 1), listening before we go on
set -- $(sh "$src/scripts/start-swtpm" "$dir/tpmstate")
tport=$1
pids="$pids $2"
tcti="swtpm:host=127.0.0.1,port=$tport"

# The MAS store, the node, and Km in the TPM
head -c 32 /dev/urandom >"$dir/km"
cat >"$dir/m2masd.conf" <<CONF
[mas]
listen = 127.0.0.1:0
retrieval_listen = 127.0.0.1:0
fqdn = mas.test
cert = $dir/pki/mas.crt
key = $dir/pki/mas.key
target_ca = $dir/pki/ca.crt
lifetime = 1h
[store]
path = $dir/mas.db
master_key = $dir/master.key
[log]
level = info
CONF
"$build/mas/m2masctl" --config "$dir/m2masd.conf" init >/dev/null
"$build/mas/m2masctl" --config "$dir/m2masd.conf" node add /mn-cse-vg --km-id km-vg@mas.test \
	--target /in-cse --km-file "$dir/km" >/dev/null
sleep 0.5
$vg "$build/m2msactl/m2msactl" provision --node-id /mn-cse-vg --km-id km-vg@mas.test \
	--key-file "$dir/km" --tcti "$tcti" --state-dir "$dir/node" >/dev/null

$vg "$build/mas/m2masd" --config "$dir/m2masd.conf" --port-file "$dir/mas.ports" \
	--foreground 2>"$dir/m2masd.log" &
mas=$!
pids="$pids $mas"
wait_file "$dir/mas.ports"
sleep 0.2
est=$(sed -n 's/.*establish=\([0-9]*\).*/\1/p' "$dir/mas.ports")
ret=$(sed -n 's/.*retrieve=\([0-9]*\).*/\1/p' "$dir/mas.ports")

cat >"$dir/m2msad.conf" <<CONF
[node]
state_dir = $dir/node
tcti = $tcti
[mas]
address = 127.0.0.1:$est
ca = $dir/pki/ca.crt
server_name = mas.test
timeout = 30s
CONF

# Establish, then rekey (a second establishment replaces the first key)
for n in 1 2; do
	$vg "$build/m2msactl/m2msactl" establish --config "$dir/m2msad.conf" --json \
		--key-out "$dir/kc$n" >"$dir/est$n.json"
done
kid=$(sed -n 's/.*"key_id":"\([^"]*\)".*/\1/p' "$dir/est2.json")
[ -n "$kid" ] || { echo "run-valgrind: no key ID in $(cat "$dir/est2.json")" >&2; exit 1; }

# Retrieval: the IN-CSE stand-in fetches Kc from the MAS for an AE client
$vg "$build/examples/m2msa-incse-standin" --listen 127.0.0.1:0 --mas "127.0.0.1:$ret" \
	--mas-ca "$dir/pki/ca.crt" --mas-name mas.test --cert "$dir/pki/target.crt" \
	--key "$dir/pki/target.key" --port-file "$dir/incse.port" --once 2>"$dir/incse.log" &
incse=$!
pids="$pids $incse"
wait_file "$dir/incse.port"
"$build/examples/m2msa-ae-client" --connect "127.0.0.1:$(cat "$dir/incse.port")" \
	--key-id "$kid" --key-file "$dir/kc2" >/dev/null
wait "$incse" || { echo "run-valgrind: m2msa-incse-standin failed ($?)" >&2; cat "$dir/incse.log" >&2; exit 1; }

kill -TERM "$mas"
rc=0
wait "$mas" || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "run-valgrind: m2masd exited with $rc" >&2
	cat "$dir/m2masd.log" >&2
fi
bad=0
for f in "$dir"/vg-*.log; do
	if [ -s "$f" ]; then
		echo "== valgrind report $f" >&2
		cat "$f" >&2
		bad=1
	fi
done
[ "$rc" -eq 0 ] && [ "$bad" -eq 0 ] || exit 1
echo "run-valgrind: m2masd, m2msactl (provision, establish x2), m2msa-incse-standin: clean"
