#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Throwaway test PKI (ECDSA P-256) for m2masd, its nodes and its targets:
#   ca.crt/.key            test CA
#   mas.crt/.key           MAS server certificate, SAN DNS:mas.test, signed by ca
#   target.crt/.key        IN-CSE client certificate, CN "/in-cse", signed by ca
#   other-target.crt/.key  a second target, CN "/other-cse", signed by ca
#   other-ca.crt/.key      an unrelated CA (wrong-CA tests)
#   other-ca-mas.crt/.key  a MAS certificate for mas.test signed by other-ca
# The CSE-ID is the subject CN: wolfSSL refuses relative URIs such as "/in-cse"
# in a URI subjectAltName (RFC 5280 4.2.1.6), so none is used.
# Usage: mkcerts.sh DIR   (DIR is created; existing files are overwritten)
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
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
leaf mas mas.test ca "subjectAltName = DNS:mas.test" "extendedKeyUsage = serverAuth"
leaf other-ca-mas mas.test other-ca "subjectAltName = DNS:mas.test" "extendedKeyUsage = serverAuth"
leaf target /in-cse ca "extendedKeyUsage = clientAuth"
leaf other-target /other-cse ca "extendedKeyUsage = clientAuth"
rm -f ca.srl other-ca.srl
chmod 644 ./*.crt
