#!/usr/bin/python3
"""Small real servers and clients the lab needs beside nginx/dnsmasq (plain sockets, no scapy).

  labsrv.py slowhttp PORT DELAY          HTTP origin on 127.0.0.1:PORT answering after DELAY seconds
  labsrv.py slowdns PORT DELAY JSONMAP   authoritative DNS on 127.0.0.1:PORT, A records from JSONMAP, else NXDOMAIN
  labsrv.py unread IP PORT               accepts, reads nothing, closes after 0.3 s -> kernel RST (unread data)
  labsrv.py client-rst-after-fin SRC SPORT DST DPORT HOST
                                         reads the response to the server's FIN, then closes with SO_LINGER 0 -> RST after the FIN
  labsrv.py idle-client SRC SPORT DST DPORT HOST IDLE
                                         request, response, IDLE seconds of silence, second request
  labsrv.py tcpsend SRC SPORT DST DPORT HEX TIMEOUT
                                         connect, send bytes, wait for a reply (reports what happened)
"""
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def slowhttp(port, delay):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            time.sleep(delay)
            body = ("<html><body>genuine content for %s%s</body></html>\n" % (self.headers.get("Host"), self.path)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()


def dns_parse_q(data):
    i = 12
    labels = []
    while data[i] != 0:
        n = data[i]
        labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    qtype, qclass = struct.unpack("!HH", data[i + 1:i + 5])
    return ".".join(labels).lower(), qtype, i + 5


def slowdns(port, delay, amap):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))

    def answer(data, addr):
        time.sleep(delay)
        txid = data[:2]
        name, qtype, qend = dns_parse_q(data)
        q = data[12:qend]
        ip = amap.get(name)
        if ip is None:
            flags = 0x8583 if name.endswith(".example") else 0x8183  # NXDOMAIN, AA for our zone
            s.sendto(txid + struct.pack("!HHHHH", flags, 1, 0, 0, 0) + q, addr)
            return
        an = b""
        ancount = 0
        if qtype == 1:
            an = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton(ip)
            ancount = 1
        s.sendto(txid + struct.pack("!HHHHH", 0x8580, 1, ancount, 0, 0) + q + an, addr)

    while True:
        data, addr = s.recvfrom(2048)
        threading.Thread(target=answer, args=(data, addr), daemon=True).start()


def unread(ip, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ip, port))
    ls.listen(16)
    while True:
        c, _ = ls.accept()

        def later(c=c):
            time.sleep(0.3)
            c.close()  # the request is still unread: Linux sends RST instead of FIN

        threading.Thread(target=later, daemon=True).start()


def slowtls(ip, port, delay, cadir):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cadir + "/server-chain.pem", cadir + "/server.key")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ip, port))
    ls.listen(16)

    def serve(c):
        try:
            time.sleep(delay)  # slow origin: the ClientHello is ACKed by the kernel, the ServerHello comes late
            c.settimeout(5)
            t = ctx.wrap_socket(c, server_side=True)
            req = t.recv(4096)
            body = b"<html><body>genuine slow TLS content</body></html>\n"
            t.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                      % len(body) + body)
            t.close()
        except (OSError, ValueError):
            c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def bound(src, sport):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    s.settimeout(8)
    return s


def client_rst_after_fin(src, sport, dst, dport, host):
    s = bound(src, sport)
    s.connect((dst, dport))
    s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
    while s.recv(65536):        # read the response up to the server's FIN
        pass
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()                   # abortive close in CLOSE_WAIT: RST after the server's FIN
    print("closed")


def idle_client(src, sport, dst, dport, host, idle):
    s = bound(src, sport)
    s.connect((dst, dport))
    req = ("GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode()
    s.sendall(req)
    print("first:", len(s.recv(65536)))
    time.sleep(idle)
    try:
        s.sendall(req)
        print("second:", len(s.recv(65536)))
    except OSError as e:
        print("second failed:", e)


def tcpsend(src, sport, dst, dport, hexdata, timeout):
    s = bound(src, sport)
    s.settimeout(timeout)
    try:
        s.connect((dst, dport))
        s.sendall(bytes.fromhex(hexdata))
        print("reply:", len(s.recv(65536)))
    except OSError as e:
        print("failed:", e)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "slowhttp":
        slowhttp(int(a[1]), float(a[2]))
    elif a[0] == "slowdns":
        slowdns(int(a[1]), float(a[2]), json.loads(a[3]))
    elif a[0] == "slowtls":
        slowtls(a[1], int(a[2]), float(a[3]), a[4])
    elif a[0] == "unread":
        unread(a[1], int(a[2]))
    elif a[0] == "client-rst-after-fin":
        client_rst_after_fin(a[1], int(a[2]), a[3], int(a[4]), a[5])
    elif a[0] == "idle-client":
        idle_client(a[1], int(a[2]), a[3], int(a[4]), a[5], float(a[6]))
    elif a[0] == "tcpsend":
        tcpsend(a[1], int(a[2]), a[3], int(a[4]), a[5], float(a[6]))
    else:
        sys.exit("unknown mode")
