#!/usr/bin/env python3
"""QUIC SNI censor for the lab (GFW 2024 style): runs in tsl-cen.

iptables drops every client QUIC Initial in FORWARD (u32 on the first payload byte); this program sees the same
Initials on the client-facing interface (AF_PACKET sees them before netfilter), decrypts them with the Initial
keys derived from the Destination Connection ID (aioquic), reads the SNI from the ClientHello and either
re-sends the packet towards the server (TTL - 1, as a router would) or, for a listed SNI, drops it and
blocks the 3-tuple (client IP, server IP, server port) for residual_s seconds. Like the GFW, it only acts when
the source port is greater than the destination port.

  quicensor.py CONFIG.json   {"iface", "snis": [...], "residual_s", "ready", "log"}
"""
import json
import subprocess
import sys
import threading
import time

from aioquic.buffer import Buffer
from aioquic.quic.crypto import CryptoPair
from aioquic.quic.packet import pull_quic_header
from scapy.all import IP, UDP, AsyncSniffer, conf

cfg = json.load(open(sys.argv[1]))
logf = open(cfg["log"], "a")
blocked = {}
lock = threading.Lock()
sock = conf.L3socket()


def log(o):
    o["t"] = time.time()
    logf.write(json.dumps(o) + "\n")
    logf.flush()


def varint(b, i):
    l = 1 << (b[i] >> 6)
    v = b[i] & 0x3f
    for k in range(1, l):
        v = (v << 8) | b[i + k]
    return v, i + l


def crypto_data(payload):
    out = {}
    i = 0
    while i < len(payload):
        ft = payload[i]
        if ft in (0x00, 0x01):
            i += 1
        elif ft == 0x06:
            off, i = varint(payload, i + 1)
            ln, i = varint(payload, i)
            out[off] = payload[i:i + ln]
            i += ln
        elif ft in (0x02, 0x03):  # ACK
            _, i = varint(payload, i + 1)
            _, i = varint(payload, i)
            n, i = varint(payload, i)
            _, i = varint(payload, i)
            for _ in range(n):
                _, i = varint(payload, i)
                _, i = varint(payload, i)
            if ft == 0x03:
                for _ in range(3):
                    _, i = varint(payload, i)
        else:
            break
    data = b""
    for off in sorted(out):
        if off != len(data):
            break
        data += out[off]
    return data


def sni_from_ch(h):
    try:
        if h[0] != 1:
            return None
        i = 4 + 2 + 32
        i += 1 + h[i]
        i += 2 + int.from_bytes(h[i:i + 2], "big")
        i += 1 + h[i]
        end = i + 2 + int.from_bytes(h[i:i + 2], "big")
        i += 2
        while i + 4 <= end:
            et, el = int.from_bytes(h[i:i + 2], "big"), int.from_bytes(h[i + 2:i + 4], "big")
            if et == 0:
                n = int.from_bytes(h[i + 7:i + 9], "big")
                return h[i + 9:i + 9 + n].decode()
            i += 4 + el
    except (IndexError, UnicodeDecodeError):
        return None
    return None


def initial_sni(data):
    buf = Buffer(data=data)
    hdr = pull_quic_header(buf, host_cid_length=8)
    cp = CryptoPair()
    cp.setup_initial(cid=hdr.destination_cid, is_client=False, version=hdr.version)
    end = hdr.packet_length if hdr.packet_length else len(data)  # packet_length counts from the first byte
    _, payload, _ = cp.decrypt_packet(data[:end], buf.tell(), 0)
    return sni_from_ch(crypto_data(payload))


def unblock(key, rule, delay):
    time.sleep(delay)
    subprocess.run("iptables -D FORWARD " + rule, shell=True)
    with lock:
        blocked.pop(key, None)
    log({"event": "residual_end", "tuple": key})


def handle(p):
    if IP not in p or UDP not in p:
        return
    ip, u = p[IP], p[UDP]
    data = bytes(u.payload)
    if not data or (data[0] & 0xF0) != 0xC0:
        return
    key = "%s|%s|%d" % (ip.src, ip.dst, u.dport)
    with lock:
        is_blocked = key in blocked
    try:
        sni = initial_sni(data)
    except Exception as e:  # undecryptable: treat as not listed
        sni = None
        log({"event": "decrypt_error", "error": repr(e)})
    if is_blocked:
        log({"event": "dropped_residual", "tuple": key, "sport": u.sport, "sni": sni})
        return
    if sni in cfg["snis"] and u.sport > u.dport:
        rule = "-s %s -d %s -p udp --dport %d -j DROP" % (ip.src, ip.dst, u.dport)
        subprocess.run("iptables -I FORWARD " + rule, shell=True)
        with lock:
            blocked[key] = time.time()
        log({"event": "blocked", "tuple": key, "sport": u.sport, "sni": sni, "residual_s": cfg["residual_s"]})
        threading.Thread(target=unblock, args=(key, rule, cfg["residual_s"]), daemon=True).start()
        return
    fwd = IP(bytes(ip))
    fwd.ttl -= 1
    del fwd.chksum
    sock.send(fwd)
    log({"event": "forwarded", "tuple": key, "sport": u.sport, "sni": sni})


sn = AsyncSniffer(iface=cfg["iface"], filter="udp and dst port 443 and src net 10.77.1.0/24", prn=handle, store=False)
sn.start()
time.sleep(0.5)
open(cfg["ready"], "w").write("ready\n")
while True:
    time.sleep(3600)
