#!/bin/sh
# Certificates for the unit tests of src/proto/certificate.rs and
# src/detect/tls_mitm.rs, made with the openssl command line (3.x):
# - leaf-e3-noext.der: a v1 certificate (no extensions at all) with an RSA key
#   whose public exponent is 3: the traits of Kazakhstan's 2019 forged leaves
#   (research/kazakhstan.md 2.1);
# - leaf-ordinary.der: an RSA-65537 self-signed certificate with a
#   subjectAltName and openssl's default extensions.
set -e
cd "$(dirname "$0")"
t=$(mktemp -d)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_pubexp:3 -pkeyopt rsa_keygen_bits:1024 -out "$t/k3.pem"
openssl req -new -key "$t/k3.pem" -subj "/CN=knews.example" -out "$t/r.csr"
openssl x509 -req -in "$t/r.csr" -signkey "$t/k3.pem" -days 75 -set_serial 1234567 -outform DER -out leaf-e3-noext.der
openssl req -x509 -newkey rsa:1024 -noenc -keyout "$t/k.pem" -subj "/C=KZ/CN=ordinary.example" \
  -addext "subjectAltName=DNS:ordinary.example" -days 90 -outform DER -out leaf-ordinary.der
rm -r "$t"
