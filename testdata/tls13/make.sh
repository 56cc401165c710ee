#!/bin/bash
# Makes intercepted-tls13.pcap and intercepted-tls13.keys: one TLS 1.3
# connection on loopback whose server presents a leaf issued under a root named
# like Kazakhstan's interception root ("Qaznet Trust Network"), with the
# client's SSLKEYLOGFILE; and genuine-tls13.pcap/.keys, the same exchange with a
# chain from an ordinary test root; and intercepted-tls13-aes256.pcap/.keys,
# the first with TLS_AES_256_GCM_SHA384, and -chacha20 with
# TLS_CHACHA20_POLY1305_SHA256 (the others use AES-128-GCM), and -hrr after a
# HelloRetryRequest (the server takes P-256 only, the client first offers an
# X25519 share). Each
# server sends its leaf and root. intercepted-tls13-dsb.pcapng is the first
# with its key log embedded, and keys-mid-capture.pcapng has the genuine
# connection before it. Needs openssl, tcpdump, editcap and mergecap; run as root.
#   testdata/tls13/make.sh [OUTDIR]   (default: this directory)
set -euo pipefail
out=$(cd "${1:-$(dirname "$0")}" && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
ossl() { openssl "$@" >/dev/null 2>&1; }
root() { # name subject
    ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.pem" \
        -days 3650 -subj "$2" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
leaf() { # name issuer cn
    printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$3" > "$1.ext"
    ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$3"
    ossl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" -days 75 -extfile "$1.ext"
}
root qaznet '/C=KZ/CN=Qaznet Trust Network'
root genuine '/O=tamperscope test/CN=tamperscope Test Root CA'
leaf forged qaznet blocked.example
leaf real genuine allowed.example
one() { # leaf port sni name issuer [suite [server-group]]
    # With a server group, the server accepts only that group while the
    # client's first key share is X25519: a HelloRetryRequest.
    local sg=() cg=()
    if [ -n "${7:-}" ]; then sg=(-groups "$7"); cg=(-groups "X25519:$7"); fi
    openssl s_server -quiet -tls1_3 -accept "127.0.0.1:$2" -cert "$1.pem" -cert_chain "$5.pem" -key "$1.key" -www \
        -ciphersuites "${6:-TLS_AES_128_GCM_SHA256}" "${sg[@]}" >/dev/null 2>&1 &
    local srv=$!
    rm -f "$out/$4.keys" # openssl appends to a key log
    tcpdump -i lo -U -s 0 -w "$out/$4.pcap" "tcp port $2" >/dev/null 2>&1 &
    local cap=$!
    sleep 1
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 openssl s_client -quiet -tls1_3 -connect "127.0.0.1:$2" \
        -servername "$3" -keylogfile "$out/$4.keys" "${cg[@]}" >/dev/null 2>&1 || true
    sleep 1
    kill "$cap" "$srv"; wait "$cap" "$srv" 2>/dev/null || true
}
one forged 18443 blocked.example intercepted-tls13 qaznet
one real 18444 allowed.example genuine-tls13 genuine
one forged 18445 blocked.example intercepted-tls13-aes256 qaznet TLS_AES_256_GCM_SHA384
one forged 18446 blocked.example intercepted-tls13-chacha20 qaznet TLS_CHACHA20_POLY1305_SHA256
one forged 18447 blocked.example intercepted-tls13-hrr qaznet TLS_AES_128_GCM_SHA256 P-256
# The first capture as pcapng with its key log inside (a Decryption Secrets
# Block), as Wireshark's editcap writes it.
editcap --inject-secrets "tls,$out/intercepted-tls13.keys" "$out/intercepted-tls13.pcap" \
    "$out/intercepted-tls13-dsb.pcapng"
# The genuine connection, then that one: its Decryption Secrets Block now
# comes after the first packets (mergecap keeps it in place).
mergecap -a -w "$out/keys-mid-capture.pcapng" "$out/genuine-tls13.pcap" "$out/intercepted-tls13-dsb.pcapng"
ls -l "$out"
