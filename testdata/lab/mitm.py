#!/usr/bin/python3
"""Transparent TLS-intercepting proxy for the lab censor (Kazakhstan 2019 style, triggered by SNI only).

  mitm.py PORT CADIR UPSTREAM_CA SNI[,SNI...]

Connections are redirected here by iptables (nat REDIRECT). The proxy peeks at the ClientHello: for a listed
SNI it terminates TLS (TLS 1.2 at most, so the forged chain is visible on the wire) with a leaf certificate
issued by the lab's "Qaznet Trust Network" hierarchy (CADIR/leaf-SNI-chain.pem) and relays to the real server
over a verified TLS connection; any other SNI is spliced through untouched at the TCP level.
"""
import select
import socket
import ssl
import struct
import sys
import threading


def sni_of(data):
    try:
        if data[0] != 0x16 or data[5] != 1:
            return None
        i = 9 + 2 + 32
        i += 1 + data[i]
        i += 2 + int.from_bytes(data[i:i + 2], "big")
        i += 1 + data[i]
        end = i + 2 + int.from_bytes(data[i:i + 2], "big")
        i += 2
        while i + 4 <= end:
            et, el = int.from_bytes(data[i:i + 2], "big"), int.from_bytes(data[i + 2:i + 4], "big")
            if et == 0:
                n = int.from_bytes(data[i + 7:i + 9], "big")
                return data[i + 9:i + 9 + n].decode()
            i += 4 + el
    except (IndexError, UnicodeDecodeError):
        return None
    return None


def relay(a, b, timeout=8):
    socks = [a, b]
    try:
        while True:
            ready = [s for s in socks if isinstance(s, ssl.SSLSocket) and s.pending()]
            if not ready:
                ready, _, _ = select.select(socks, [], [], timeout)
                if not ready:
                    return
            for s in ready:
                data = s.recv(16384)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except (OSError, ssl.SSLError):
        return
    finally:
        for s in socks:
            try:
                s.close()
            except OSError:
                pass


def handle(c, cadir, upstream_ca, listed):
    try:
        raw = c.getsockopt(socket.SOL_IP, 80, 16)  # SO_ORIGINAL_DST
        port, ip = struct.unpack("!2xH4s8x", raw)
        dst = (socket.inet_ntoa(ip), port)
        c.settimeout(5)
        head = c.recv(4096, socket.MSG_PEEK)
        sni = sni_of(head)
        up = socket.create_connection(dst, timeout=5)
        if sni in listed:
            sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            sctx.maximum_version = ssl.TLSVersion.TLSv1_2
            sctx.load_cert_chain("%s/leaf-%s-chain.pem" % (cadir, sni), "%s/leaf-%s.key" % (cadir, sni))
            cctx = ssl.create_default_context(cafile=upstream_ca)
            up = cctx.wrap_socket(up, server_hostname=sni)
            c = sctx.wrap_socket(c, server_side=True)
            print("intercepted", dst, sni, flush=True)
        else:
            print("spliced", dst, sni, flush=True)
        relay(c, up)
    except (OSError, ssl.SSLError) as e:
        print("error", e, flush=True)
        c.close()


def main():
    port, cadir, upstream_ca, listed = int(sys.argv[1]), sys.argv[2], sys.argv[3], set(sys.argv[4].split(","))
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(32)
    print("ready", flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c, cadir, upstream_ca, listed), daemon=True).start()


if __name__ == "__main__":
    main()
