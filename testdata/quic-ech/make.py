#!/usr/bin/python3
"""Writes quic-ech-drop.pcap: QUIC v1 Initials to one server, one answered and
two dropped, one of the dropped ones carrying an ECH extension.

What a censor that keys on ECH inside QUIC leaves on the wire (as Russia's
TSPU does over TCP for ECH to Cloudflare's public name): the client's Initial
with ECH and its retransmissions, nothing back; a plain Initial to the same
server answered (the control); and a plain Initial that is dropped too (its
finding must not say ECH).

The Initials are built here (RFC 9000 §17.2.2, protected per RFC 9001 §5 with
keys derived from the destination connection id), so they decrypt as any
client's would; their ClientHellos are TLS 1.3 hellos with an SNI, an X25519
key share and, for the ECH one, an `encrypted_client_hello` (0xfe0d) outer
extension shaped as a browser's GREASE one. The server's answer is a long-
header datagram of the right size (only its presence matters). Deterministic:
fixed randomness and times, so the file is the same on every run.

  /usr/bin/python3 testdata/quic-ech/make.py   (Debian's python3-scapy and
  python3-cryptography)
"""
import os
import random
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives import hmac
from scapy.all import IP, UDP, Ether, Raw, wrpcap

HERE = os.path.dirname(os.path.abspath(__file__))
SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
CLIENT, SERVER = "10.9.0.2", "10.9.1.4"
rng = random.Random(20261203)


def rand(n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def hkdf_extract(salt, ikm):
    h = hmac.HMAC(salt, hashes.SHA256())
    h.update(ikm)
    return h.finalize()


def expand_label(secret, label, length):
    full = b"tls13 " + label
    info = struct.pack("!HB", length, len(full)) + full + b"\x00"
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


def client_keys(dcid):
    initial = hkdf_extract(SALT_V1, dcid)
    secret = expand_label(initial, b"client in", 32)
    return (expand_label(secret, b"quic key", 16), expand_label(secret, b"quic iv", 12),
            expand_label(secret, b"quic hp", 16))


def ext(kind, body):
    return struct.pack("!HH", kind, len(body)) + body


def client_hello(sni, ech):
    name = sni.encode()
    exts = ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)
    exts += ext(10, bytes.fromhex("0002001d"))                       # groups: x25519
    exts += ext(13, bytes.fromhex("000404030804"))                   # signature algorithms
    exts += ext(43, bytes.fromhex("020304"))                         # versions: TLS 1.3
    exts += ext(51, struct.pack("!HHH", 36, 0x001d, 32) + rand(32))  # key share
    exts += ext(16, bytes.fromhex("0003026833"))                      # ALPN: h3
    exts += ext(0x39, bytes.fromhex("0104800060000f0480100000"))     # QUIC transport parameters
    if ech:
        # Outer ECH: type outer, HPKE suite (HKDF-SHA256, AES-128-GCM), config
        # id, an X25519 enc and a payload, as a browser's GREASE ECH.
        body = bytes([0]) + struct.pack("!HH", 1, 1) + rand(1)
        body += struct.pack("!H", 32) + rand(32) + struct.pack("!H", 144) + rand(144)
        exts += ext(0xfe0d, body)
    hello = b"\x03\x03" + rand(32) + b"\x00" + bytes.fromhex("0002130101 00")
    hello += struct.pack("!H", len(exts)) + exts
    return b"\x01" + struct.pack("!I", len(hello))[1:] + hello


def varint2(n):
    return struct.pack("!H", 0x4000 | n)


def initial(dcid, scid, hello):
    key, iv, hp = client_keys(dcid)
    crypto = b"\x06\x00" + varint2(len(hello)) + hello
    pn = 0
    payload = crypto + b"\x00" * (1162 - len(crypto))                 # PADDING to 1200 bytes
    header = bytes([0xc0 | 0x01]) + struct.pack("!I", 1)
    header += bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid + b"\x00"
    header += varint2(2 + len(payload) + 16) + struct.pack("!H", pn)
    nonce = bytes(a ^ b for a, b in zip(iv, pn.to_bytes(12, "big")))
    sealed = AESGCM(key).encrypt(nonce, payload, header)
    pn_off = len(header) - 2
    sample = sealed[4 - 2:4 - 2 + 16]
    mask = Cipher(algorithms.AES(hp), modes.ECB()).encryptor().update(sample)
    first = bytes([header[0] ^ (mask[0] & 0x0f)])
    pn_bytes = bytes(a ^ b for a, b in zip(header[pn_off:], mask[1:3]))
    return first + header[1:pn_off] + pn_bytes + sealed


def pkt(t, src, sport, dst, dport, data, ttl=64):
    p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst=dst, ttl=ttl, id=rng.getrandbits(16)) / UDP(sport=sport, dport=dport) / Raw(data)
    p.time = t
    return p


def main():
    t0 = 1764720000.0
    out = []
    # The control: a plain Initial, answered.
    d = initial(rand(8), rand(8), client_hello("www.example.org", ech=False))
    out.append(pkt(t0, CLIENT, 51001, SERVER, 443, d))
    answer = bytes([0xc1]) + struct.pack("!I", 1) + b"\x08" + rand(8) + b"\x08" + rand(8) + b"\x00" + varint2(1100) + rand(1100)
    out.append(pkt(t0 + 0.020, SERVER, 443, CLIENT, 51001, answer, ttl=57))
    out.append(pkt(t0 + 0.030, CLIENT, 51001, SERVER, 443, rand(60)))
    out.append(pkt(t0 + 0.050, SERVER, 443, CLIENT, 51001, rand(300), ttl=57))
    # ECH to the public name: dropped, retransmitted.
    d = initial(rand(8), rand(8), client_hello("cloudflare-ech.com", ech=True))
    for dt in (1.0, 1.3, 1.9):
        out.append(pkt(t0 + dt, CLIENT, 51002, SERVER, 443, d))
    # A plain Initial dropped too: its finding must not say ECH.
    d = initial(rand(8), rand(8), client_hello("blocked.example.net", ech=False))
    for dt in (3.0, 3.3, 3.9):
        out.append(pkt(t0 + dt, CLIENT, 51003, SERVER, 443, d))
    wrpcap(os.path.join(HERE, "quic-ech-drop.pcap"), out)


if __name__ == "__main__":
    main()
