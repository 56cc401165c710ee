#!/usr/bin/env python3
"""Send one TLS 1.3 ClientHello, with or without an Encrypted Client Hello
extension, from a chosen source port, and report what came back.

The hello is what a browser sends: TLS 1.3 and 1.2 ECDHE suites, an X25519
key share, supported_versions 1.3 and 1.2 (the lab's nginx speaks 1.2), and for --ech an `encrypted_client_hello`
extension (0xfe0d, draft-ietf-tls-esni-18 section 5: outer type, HPKE suite
X25519-HKDF-SHA256/AES-128-GCM, config id, a 32-byte encapsulated key and an
encrypted payload of a browser's size) with the provider's public name as
the outer SNI. The server (nginx/OpenSSL without ECH keys) ignores the
extension and answers with its ServerHello; a censor keyed on it does not
let the hello through.

    echhello.py SRC SPORT DST DPORT SNI [--ech] [--timeout S]
"""
import json
import os
import socket
import struct
import sys
import time


def vec8(b):
    return struct.pack("!B", len(b)) + b


def vec16(b):
    return struct.pack("!H", len(b)) + b


def ext(kind, body):
    return struct.pack("!H", kind) + vec16(body)


def client_hello(sni, ech):
    name = sni.encode()
    exts = ext(0, vec16(b"\x00" + vec16(name)))                       # server_name
    exts += ext(10, vec16(b"\x00\x1d\x00\x17"))                        # supported_groups
    exts += ext(13, vec16(b"\x04\x03\x08\x04\x04\x01\x05\x03\x08\x05"))  # signature_algorithms
    exts += ext(16, vec16(vec8(b"http/1.1")))                          # ALPN
    exts += ext(11, vec8(b"\x00"))                                     # ec_point_formats
    exts += ext(43, vec8(b"\x03\x04\x03\x03"))                         # supported_versions: 1.3, 1.2
    exts += ext(45, vec8(b"\x01"))                                     # psk_key_exchange_modes
    exts += ext(51, vec16(b"\x00\x1d" + vec16(os.urandom(32))))        # key_share: X25519
    if ech:
        # ECHClientHello: outer(0), HPKE KDF 1 / AEAD 1, config_id, enc, payload.
        body = b"\x00" + struct.pack("!HH", 1, 1) + os.urandom(1)
        body += vec16(os.urandom(32)) + vec16(os.urandom(208))
        exts += ext(0xfe0d, body)
    hello = b"\x03\x03" + os.urandom(32) + vec8(os.urandom(32))
    suites = b"\x13\x01\x13\x02\x13\x03\xc0\x2b\xc0\x2f\xc0\x2c\xc0\x30"
    hello += vec16(suites) + vec8(b"\x00") + vec16(exts)
    msg = b"\x01" + struct.pack("!I", len(hello))[1:] + hello
    return b"\x16\x03\x01" + vec16(msg)


def main():
    a = sys.argv[1:]
    src, sport, dst, dport, sni = a[0], int(a[1]), a[2], int(a[3]), a[4]
    ech = "--ech" in a
    timeout = float(a[a.index("--timeout") + 1]) if "--timeout" in a else 5.0
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    s.settimeout(timeout)
    t0 = time.time()
    out = {"sni": sni, "ech": ech, "sport": sport}
    try:
        s.connect((dst, dport))
        s.sendall(client_hello(sni, ech))
        got = b""
        deadline = t0 + timeout
        while len(got) < 6 and time.time() < deadline:
            s.settimeout(max(0.05, deadline - time.time()))
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        out["answer"] = "server_hello" if got[:1] == b"\x16" and got[5:6] == b"\x02" else got[:8].hex()
    except OSError as e:
        out["answer"] = "error: %s" % e
    out["seconds"] = round(time.time() - t0, 3)
    s.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
