#!/bin/sh
# Regenerates the TLS test material used by the sandbox and the HTTPS tests.
# Everything here is for tests only: the private keys are public on purpose.
#
#   ca.pem                            test CA the clients trust (ca_file in configs)
#   server.pem / server.key           localhost, 127.0.0.1, ::1; signed by the test CA
#   wrong-host.pem / wrong-host.key   wrong.example.invalid; signed by the test CA
#                                     (verification must fail: host name mismatch)
#   other-ca.pem                      a second CA nobody trusts
#   untrusted.pem / untrusted.key     localhost, 127.0.0.1, ::1; signed by the other CA
#                                     (verification must fail: unknown issuer)
#   server.pin                        pinned_public_key of server.pem's key: sha256// and
#                                     the base64 SHA-256 of its DER SubjectPublicKeyInfo
#   ca-dir/HASH.0                     ca.pem under its subject hash (a ca_dir, CURLOPT_CAPATH)
#
# The CA keys are thrown away: rerun the script to change anything. 100-year
# validity so the checked-in files never expire under the tests.
# Run from anywhere: sh tests/data/tls/make.sh
set -eu
out=$(cd "$(dirname "$0")" && pwd)
DAYS=36500
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

make_ca() {  # name, subject
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.pem" -days "$DAYS" -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

make_leaf() {  # name, ca, common name, subjectAltName
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$1.key" -out "$1.csr" -subj "/O=eca-rotator tests/CN=$3" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' >"$1.ext"
  printf 'extendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$4" >>"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
    -out "$1.pem" -days "$DAYS" -extfile "$1.ext" 2>/dev/null
}

make_ca ca "/O=eca-rotator tests/CN=eca-rotator test CA"
make_ca other-ca "/O=eca-rotator tests/CN=eca-rotator untrusted CA"
make_leaf server ca localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
make_leaf wrong-host ca wrong.example.invalid "DNS:wrong.example.invalid"
make_leaf untrusted other-ca localhost "DNS:localhost,IP:127.0.0.1,IP:::1"

cp ca.pem other-ca.pem server.pem server.key wrong-host.pem wrong-host.key \
  untrusted.pem untrusted.key "$out"/
openssl x509 -in server.pem -pubkey -noout | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | openssl base64 -A | sed 's|^|sha256//|' >"$out/server.pin"
echo >>"$out/server.pin"
rm -rf "$out/ca-dir"
mkdir "$out/ca-dir"
cp ca.pem "$out/ca-dir/$(openssl x509 -hash -noout -in ca.pem).0"
chmod 0644 "$out"/*.pem "$out"/*.key "$out/server.pin" "$out"/ca-dir/*
echo "TLS test material written to $out"
