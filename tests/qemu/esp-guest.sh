#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /init of the ESP guest test (tests/qemu/run-esp-test builds the initramfs):
# Debian's kernel, busybox, iproute2, swtpm and m2msa's binaries. Two network
# namespaces joined by a veth pair: "n" (the node: swtpm, m2msad) and "t" (the
# target: m2masd on 10.0.0.3, m2msa-espd on 10.0.0.2). Prints TEST-EXIT=0 on
# success and powers off; every failure prints FAIL: and TEST-EXIT=1.
# The host prepared the state under $W (same absolute paths here): PKI, MAS
# store, the node's TPM state with Km provisioned, and the configs.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
# busybox's shell runs its own applets for bare names; iproute2 by full path.
IP=/usr/sbin/ip
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/shm && mount -t tmpfs shm /dev/shm
mkdir -p /run /var/run/netns && mount -t tmpfs run /run && mkdir -p /var/run/netns
. /esp-test.env

finish() {
	echo "TEST-EXIT=$1"
	sync
	poweroff -f
}
fail() {
	echo "FAIL: $*"
	for f in "$W"/*.log; do echo "---- $f"; tail -25 "$f"; done
	finish 1
}
step() { echo "== $*"; }

# What the issue found Debian's kernel needs, in order (drbg first, or "Kernel was
# unable to initialize cryptographic operations").
for m in sha3_generic jitterentropy_rng drbg sha512_generic xfrm_algo xfrm_user esp4 gcm ctr seqiv echainiv authenc veth; do
	modprobe "$m" || echo "note: modprobe $m failed (built in?)"
done
$IP link set lo up

step "1. netlink/esp-xfrm against a kernel with ESP (test-xfrm, no skips expected)"
/bin/test-xfrm --jobs=1 --verbose=0 > /tmp/test-xfrm.out 2>&1
rc=$?
grep -E "SKIP|FAIL|Synthesis" /tmp/test-xfrm.out
[ $rc -eq 0 ] || { cat /tmp/test-xfrm.out; fail "test-xfrm failed"; }
grep -q "Synthesis: Tested: 9 | Passing: 9" /tmp/test-xfrm.out || fail "test-xfrm did not run all 9 tests"

step "2. Two namespaces, veth, MAS, swtpm, m2msa-espd, m2msad"
$IP netns add n && $IP netns add t || fail "ip netns add"
$IP link add vn type veth peer name vt || fail "veth"
$IP link set vn netns n && $IP link set vt netns t
N="$IP netns exec n"
T="$IP netns exec t"
$N $IP link set lo up; $T $IP link set lo up
$N $IP addr add 10.0.0.1/24 dev vn; $N $IP link set vn up
$T $IP addr add 10.0.0.2/24 dev vt; $T $IP addr add 10.0.0.3/24 dev vt; $T $IP link set vt up
$N ping -c 1 -W 2 10.0.0.2 >/dev/null || fail "no clear connectivity before ESP"

start_swtpm() {
	$N swtpm socket --tpm2 --server type=tcp,port=2321,bindaddr=127.0.0.1 \
		--ctrl type=tcp,port=2322,bindaddr=127.0.0.1 --tpmstate dir="$W/tpm" \
		--flags not-need-init,startup-clear >> "$W/swtpm.log" 2>&1 &
	tpm=$!
}
start_swtpm
$T m2masd --config "$W/m2masd.conf" --foreground 2> "$W/m2masd.log" &
mas=$!
sleep 1
$T m2msa-espd --listen 10.0.0.2:4500 --mas 10.0.0.3:7002 --mas-ca "$W/pki/ca.crt" \
	--mas-name mas.test --cert "$W/pki/target.crt" --key "$W/pki/target.key" \
	--log-level info 2> "$W/espd.log" &
espd=$!
$N m2msad --config "$W/m2msad.conf" 2> "$W/m2msad.log" &
agent=$!

wait_log() { # FILE PATTERN SECONDS
	i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt $(($3 * 5)) ] || return 1; sleep 0.2
	done
}
wait_log "$W/m2msad.log" "ESP with 10.0.0.2:4500 .* up" 60 || fail "m2msad did not set up ESP"
wait_log "$W/espd.log" "ESP with node 10.0.0.1" 5 || fail "m2msa-espd did not log the node"

step "3. Traffic is ESP: counters grow, keys equal on both ends"
$N ping -c 3 -W 2 10.0.0.2 > /tmp/ping1 || { cat /tmp/ping1; fail "ping over ESP"; }
$N $IP -s xfrm state > /tmp/n.state
$T $IP -s xfrm state > /tmp/t.state
cat /tmp/n.state
# Keys by SPI (read back through XFRM_MSG_GETSA by ip; only in this test).
keys() { awk '/proto esp spi/ { spi = $4 } /aead rfc4106/ { print spi, $3 }' "$1" | sort; }
keys /tmp/n.state > /tmp/n.keys; keys /tmp/t.state > /tmp/t.keys
[ "$(wc -l < /tmp/n.keys)" -eq 2 ] || fail "the node should hold 2 ESP states"
while read -r spi key; do
	grep -q "^$spi $key\$" /tmp/t.keys || fail "SA $spi: keys differ between node and target"
done < /tmp/n.keys
echo "keys equal on both ends for SPIs $(cut -d' ' -f1 /tmp/n.keys | tr '\n' ' ')"
inpk=$(awk '/^[[:space:]]*[0-9]+\(bytes\), [0-9]+\(packets\)/ { gsub(/\(packets\)/, "", $2); s += $2 } END { print s + 0 }' /tmp/n.state)
[ "$inpk" -ge 6 ] || fail "ESP packet counters did not grow ($inpk packets)"
echo "ESP packets counted on the node: $inpk"
grep -q "soft (INF)(packets), hard (INF)(packets)" /tmp/n.state || fail "packet limits are not XFRM_INF"

step "3b. A wrong Kc fails the handshake with a clear error and installs nothing"
# esp-wrong-kc: the node side of the agreement (common/esp-session.c, real XFRM
# ops) with a random Kc for the agent's key ID, against the real m2msa-espd.
kid=$(m2msactl status --socket "$W/agent.sock" | sed -n 's/^key ID: *//p')
[ -n "$kid" ] || fail "no key ID in m2msactl status"
xcount() { # NS: lines of ip xfrm state and policy
	echo "$($IP netns exec "$1" $IP xfrm state | wc -l) $($IP netns exec "$1" $IP xfrm policy | wc -l)"
}
nb=$(xcount n); tb=$(xcount t)
$N esp-wrong-kc "$kid" 10.0.0.2:4500 2> /tmp/wrongkc
rc=$?
cat /tmp/wrongkc
[ $rc -eq 0 ] || fail "esp-wrong-kc: expected the handshake to fail with EACCES (exit $rc)"
grep -q "TLS 1.3 PSK handshake with m2msa-espd at 10.0.0.2 failed: .*wrong or expired Kc" /tmp/wrongkc \
	|| fail "the node's error does not name the wrong Kc"
wait_log "$W/espd.log" "PSK handshake with 10.0.0.1, key ID $kid, failed" 5 \
	|| fail "m2msa-espd did not log the failed handshake with the key ID"
grep "PSK handshake with 10.0.0.1" "$W/espd.log" | tail -1
na=$(xcount n); ta=$(xcount t)
[ "$nb" = "$na" ] || fail "the node's XFRM states/policies changed ($nb -> $na)"
[ "$tb" = "$ta" ] || fail "the target's XFRM states/policies changed ($tb -> $ta)"
echo "nothing installed: node state/policy lines $nb -> $na, target $tb -> $ta"
$N ping -c 1 -W 2 10.0.0.2 > /dev/null || fail "ping over ESP after the wrong-Kc attempt"

step "4. Without SAs the policies block: nothing passes in clear"
# InEchos: the 10th field of the second Icmp: line of the target's /proc/net/snmp.
echos() { $T cat /proc/net/snmp | awk '/^Icmp:/ { if (h) { print $10; exit } h = 1 }'; }
before=$(echos)
$N $IP xfrm state flush
$N ping -c 2 -W 1 10.0.0.2 > /dev/null 2>&1 && fail "ping passed without SAs"
after=$(echos)
[ "$before" = "$after" ] || fail "the target received ICMP echo requests in clear ($before -> $after)"
echo "no echo request reached the target in clear (InEchos $before -> $after)"

step "5. Rekey (new Kc) brings new SAs; the agreement passes despite the blocking policies"
m2msactl rekey --socket "$W/agent.sock" > /dev/null || fail "m2msactl rekey"
wait_log "$W/m2msad.log" "ESP with 10.0.0.2:4500 .* up.*" 30 || true
i=0
until [ "$(grep -c 'ESP with 10.0.0.2:4500 .* up' "$W/m2msad.log")" -ge 2 ]; do
	i=$((i + 1)); [ $i -lt 150 ] || fail "no new ESP SAs after the rekey"; sleep 0.2
done
$N ping -c 2 -W 2 10.0.0.2 > /dev/null || fail "ping after re-establishment"

step "6. Rekey without losing a ping (make-before-break)"
$N ping -i 0.2 -c 40 -W 1 10.0.0.2 > /tmp/ping2 2>&1 &
pp=$!
sleep 2
m2msactl rekey --socket "$W/agent.sock" > /dev/null || fail "m2msactl rekey"
i=0
until [ "$(grep -c 'ESP with 10.0.0.2:4500 .* up' "$W/m2msad.log")" -ge 3 ]; do
	i=$((i + 1)); [ $i -lt 150 ] || fail "no new ESP SAs after the second rekey"; sleep 0.2
done
wait $pp
tail -2 /tmp/ping2
grep -q " 0% packet loss" /tmp/ping2 || fail "pings were lost during the rekey"
[ "$($N $IP xfrm state | grep -c 'proto esp')" -eq 2 ] || fail "old SAs were not deleted on the node"

step "7. m2msactl status shows the ESP peer (SPIs, expiry, no keys)"
m2msactl status --socket "$W/agent.sock" > /tmp/status || fail "m2msactl status"
cat /tmp/status
grep -q "10.0.0.2:4500" /tmp/status || fail "no ESP peer in the status"

step "8. A restart after a crash removes the stale SAs it owns"
kill -9 $agent; wait $agent 2>/dev/null
[ "$($N $IP xfrm state | grep -c 'proto esp')" -eq 2 ] || fail "states should survive kill -9"
# No resource manager in front of swtpm: the killed agent's loaded objects stay
# until swtpm restarts (startup-clear), as a reboot would do to a real TPM.
kill $tpm; wait $tpm 2>/dev/null; start_swtpm; sleep 1
$N m2msad --config "$W/m2msad.conf" 2> "$W/m2msad2.log" &
agent=$!
wait_log "$W/m2msad2.log" "removed [0-9]* ESP states and policies of m2msad left from an earlier run" 30 \
	|| fail "the restarted agent did not clean up"
wait_log "$W/m2msad2.log" "ESP with 10.0.0.2:4500 .* up" 60 || fail "no ESP after the restart"

step "9. Expiry without a rekey blocks traffic (the MAS is gone)"
kill $mas; wait $mas 2>/dev/null
wait_log "$W/m2msad2.log" "expired (no new Kc in time)" 90 || fail "the SAs did not expire"
before=$(echos)
$N ping -c 2 -W 1 10.0.0.2 > /dev/null 2>&1 && fail "ping passed after expiry"
after=$(echos)
[ "$before" = "$after" ] || fail "clear ICMP reached the target after expiry"

step "10. SIGTERM removes what the agent installed"
kill -TERM $agent; wait $agent
[ -z "$($N $IP xfrm state)" ] || fail "states left after SIGTERM: $($N $IP xfrm state)"
[ -z "$($N $IP xfrm policy)" ] || fail "policies left after SIGTERM"
kill $espd; wait $espd
for f in "$W"/*.log; do
	if grep -qi "$(cut -d' ' -f2 /tmp/n.keys | head -1 | sed 's/^0x//')" "$f"; then
		fail "an ESP key appears in $f"
	fi
done
echo "ESP guest test passed"
finish 0
