#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Throwaway test PKI (ECDSA P-256) for m2masd, its nodes and its targets:
#   ca.crt/.key            test CA
#   mas.crt/.key           MAS server certificate, SAN DNS:mas.test, signed by ca
#   target.crt/.key        IN-CSE client certificate, CN "/in-cse", signed by ca
#   other-target.crt/.key  a second target, CN "/other-cse", signed by ca
#   other-ca.crt/.key      an unrelated CA (wrong-CA tests)
#   other-ca-mas.crt/.key  a MAS certificate for mas.test signed by other-ca
#   node-ca.crt/.key       CA of node certificates (m2masd [mas] node_ca, method pki)
#   bsf.crt/.key           m2msa-bsf server certificate, SAN DNS:bsf.test and IP:127.0.0.1, signed by ca
#   naf.crt/.key           the MAS as a GBA NAF on Zn: client certificate, SAN DNS:mas.test
# The CSE-ID is the subject CN: wolfSSL refuses relative URIs such as "/in-cse"
# in a URI subjectAltName (RFC 5280 4.2.1.6), so none is used.
# Usage: mkcerts.sh DIR   (DIR is created; existing files are overwritten)
#        mkcerts.sh sign-csr DIR CA CSR OUT [expired]
#          sign the PKCS#10 request CSR with DIR/CA.crt/.key (e.g. CA = node-ca) as a
#          node client certificate (CN and key from the request), written to OUT;
#          "expired": valid from 2020-01-01 to 2021-01-01 only.
set -eu

if [ $# -ge 5 ] && [ "$1" = sign-csr ]; then
	dir=$2 issuer=$3 csr=$4 out=$5 expired=${6:-}
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	cat > "$tmp/ca.cnf" <<CNF
[ca]
default_ca = ca
[ca]
database = $tmp/index.txt
new_certs_dir = $tmp
serial = $tmp/serial
default_md = sha256
default_days = 825
policy = any
copy_extensions = none
x509_extensions = ext
unique_subject = no
[any]
commonName = supplied
organizationName = optional
organizationalUnitName = optional
countryName = optional
stateOrProvinceName = optional
localityName = optional
[ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
	: > "$tmp/index.txt"
	echo 01 > "$tmp/serial"
	if [ "$expired" = expired ]; then
		dates="-startdate 20200101000000Z -enddate 20210101000000Z"
	else
		dates="-days 825"
	fi
	# shellcheck disable=SC2086
	openssl ca -batch -notext -config "$tmp/ca.cnf" -cert "$dir/$issuer.crt" \
		-keyfile "$dir/$issuer.key" -in "$csr" -out "$out" $dates 2>/dev/null
	chmod 644 "$out"
	exit 0
fi
if [ $# -ne 1 ]; then
	echo "usage: $0 DIR | $0 sign-csr DIR CA CSR OUT [expired]" >&2
	exit 2
fi
dir=$1
mkdir -p "$dir"
umask 077
cd "$dir"

key() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
}

# ca NAME CN
ca() {
	key "$1"
	cat > "$1.cnf" <<CNF
[req]
distinguished_name = dn
prompt = no
x509_extensions = ext
[dn]
CN = $2
[ext]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
CNF
	openssl req -new -x509 -days 3650 -key "$1.key" -config "$1.cnf" -out "$1.crt"
	rm -f "$1.cnf"
}

# leaf NAME CN CA EXTENSIONS...
leaf() {
	name=$1 cn=$2 issuer=$3
	shift 3
	key "$name"
	cat > "$name.cnf" <<CNF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = $cn
[ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
	for e in "$@"; do
		echo "$e" >> "$name.cnf"
	done
	openssl req -new -key "$name.key" -config "$name.cnf" -out "$name.csr"
	openssl x509 -req -in "$name.csr" -CA "$issuer.crt" -CAkey "$issuer.key" \
		-CAcreateserial -days 825 -sha256 -extfile "$name.cnf" -extensions ext \
		-out "$name.crt" 2>/dev/null
	rm -f "$name.cnf" "$name.csr"
}

ca ca "m2msa test CA"
ca other-ca "m2msa other test CA"
ca node-ca "m2msa test node CA"
leaf mas mas.test ca "subjectAltName = DNS:mas.test" "extendedKeyUsage = serverAuth"
leaf other-ca-mas mas.test other-ca "subjectAltName = DNS:mas.test" "extendedKeyUsage = serverAuth"
leaf target /in-cse ca "extendedKeyUsage = clientAuth"
leaf other-target /other-cse ca "extendedKeyUsage = clientAuth"
leaf bsf bsf.test ca "subjectAltName = DNS:bsf.test, IP:127.0.0.1" "extendedKeyUsage = serverAuth"
leaf naf mas.test ca "subjectAltName = DNS:mas.test" "extendedKeyUsage = clientAuth"
rm -f ca.srl other-ca.srl node-ca.srl
chmod 644 ./*.crt
