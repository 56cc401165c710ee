#!/usr/bin/python3
"""Validate lab captures against their truth files, from the packets (dpkt).

  check.py [DIR]     (default: testdata/lab/captures)

1. every truth file is well-formed and every flow it names exists in its capture;
2. per scenario, the mechanism really happened (e.g. 3 RSTs with seq deltas 0/1460/4380 and window != 0;
   the policed flow's goodput within 110-150 kbit/s while the control is >= 10x faster; nothing from the
   server side during the blackout).
Prints one line per check and a closing 'N passed, N failed'; exit status 1 on any failure.
"""
import datetime
import glob
import json
import os
import socket
import sys

import dpkt

KINDS = {"tcp.injected_rst", "tcp.blackhole", "http.blockpage", "http.injected_response", "dns.injection",
         "dns.manipulation", "tls.interference", "tls.mitm", "quic.interference", "vpn.interference", "throttling",
         "residual_block", "blackout"}


class P:
    __slots__ = ("idx", "ts", "src", "dst", "sport", "dport", "proto", "ttl", "ipid", "flags", "seq", "ack", "win",
                 "data", "udp")


def load(path):
    pkts = []
    with open(path, "rb") as f:
        for i, (ts, buf) in enumerate(dpkt.pcap.Reader(f), 1):
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if not isinstance(ip, dpkt.ip.IP):
                continue
            p = P()
            p.idx, p.ts = i, ts
            p.src, p.dst = socket.inet_ntoa(ip.src), socket.inet_ntoa(ip.dst)
            p.ttl, p.ipid = ip.ttl, ip.id
            p.flags = p.seq = p.ack = p.win = None
            l4 = ip.data
            if isinstance(l4, dpkt.tcp.TCP):
                p.proto = "tcp"
                p.sport, p.dport, p.flags, p.seq, p.ack, p.win = l4.sport, l4.dport, l4.flags, l4.seq, l4.ack, l4.win
                p.data = bytes(l4.data)
            elif isinstance(l4, dpkt.udp.UDP):
                p.proto = "udp"
                p.sport, p.dport = l4.sport, l4.dport
                p.data = bytes(l4.data)
            elif isinstance(l4, dpkt.icmp.ICMP):
                p.proto = "icmp"
                p.sport = p.dport = 0
                p.data = bytes(l4.data)
            else:
                continue
            pkts.append(p)
    return pkts


def hp(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


class Flow:
    def __init__(self, pkts, fl):
        self.c, self.cp = hp(fl["client"])
        self.s, self.sp = hp(fl["server"])
        self.proto = fl["proto"]
        self.up = [p for p in pkts if p.proto == self.proto and p.src == self.c and p.sport == self.cp
                   and p.dst == self.s and p.dport == self.sp]
        self.down = [p for p in pkts if p.proto == self.proto and p.src == self.s and p.sport == self.sp
                     and p.dst == self.c and p.dport == self.cp]
        self.all = sorted(self.up + self.down, key=lambda p: p.idx)

    def synack(self):
        return next((p for p in self.down if p.flags & dpkt.tcp.TH_SYN and p.flags & dpkt.tcp.TH_ACK), None)

    def rsts(self, down=True):
        return [p for p in (self.down if down else self.up) if p.flags & dpkt.tcp.TH_RST]

    def down_data(self):
        return [p for p in self.down if p.data]

    def goodput_kbit(self):
        d = self.down_data()
        if len(d) < 2:
            return 0.0
        lo = min(p.seq for p in d)
        hi = max((p.seq + len(p.data)) for p in d)
        span = d[-1].ts - d[0].ts
        return (hi - lo) * 8 / 1000 / span if span > 0 else float("inf")

    def retransmissions(self):
        """server segments that arrive below the highest sequence already seen (holes being filled)"""
        hi, n = None, 0
        for p in self.down_data():
            end = p.seq + len(p.data)
            if hi is not None and ((p.seq - hi) & 0xffffffff) > 0x7fffffff:
                n += 1
            if hi is None or ((end - hi) & 0xffffffff) < 0x7fffffff:
                hi = end
        return n


def ts_of(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


class Checker:
    def __init__(self):
        self.passed = self.failed = 0

    def ok(self, cond, what):
        if cond:
            self.passed += 1
            print("  ok   %s" % what)
        else:
            self.failed += 1
            print("  FAIL %s" % what)
        return cond


def dns_msgs(flow):
    out = []
    for p in flow.down:
        try:
            d = dpkt.dns.DNS(p.data)
        except Exception:
            continue
        flags = (p.data[2] << 8) | p.data[3]
        ans = [socket.inet_ntoa(a.rdata) for a in d.an if a.type == dpkt.dns.DNS_A]
        out.append((p, d.id, flags, ans, d.rcode))
    return out


def hello_extensions(data):
    """(type, body) of each extension of a TLS ClientHello record (whole record in one segment)."""
    if len(data) < 6 or data[0] != 0x16 or data[5] != 1:
        return
    try:
        i = 9 + 2 + 32
        i += 1 + data[i]
        i += 2 + int.from_bytes(data[i:i + 2], "big")
        i += 1 + data[i]
        end = i + 2 + int.from_bytes(data[i:i + 2], "big")
        i += 2
    except IndexError:
        return
    while i + 4 <= min(end, len(data)):
        et, el = int.from_bytes(data[i:i + 2], "big"), int.from_bytes(data[i + 2:i + 4], "big")
        yield et, data[i + 4:i + 4 + el]
        i += 4 + el


def sni_of(data):
    """SNI from a TLS ClientHello record (whole record in one segment)."""
    for et, body in hello_extensions(data):
        if et == 0:
            n = int.from_bytes(body[3:5], "big")
            try:
                return body[5:5 + n].decode()
            except UnicodeDecodeError:
                return None
    return None


# ---------------------------------------------------------------------------------------------- scenario checks
def chk_http_host_rst(c, t, F):
    srv_ttl = t["lab"]["server_ttl_at_client"]
    for fl in t["flows"]:
        f = F(fl)
        if fl["expected"]:
            r = f.rsts()
            c.ok(len(r) >= 1 and all(p.ttl == t["censor"]["ttl"] and p.win == 0 for p in r),
                 "%s: RST to the client with the censor's TTL %s (server's TTL at client %s): %s" % (
                     fl["client"], t["censor"]["ttl"], srv_ttl, [(p.idx, p.ttl) for p in r]))
            c.ok(f.synack() is not None and f.synack().ttl == srv_ttl, "%s: SYN/ACK from the real server (TTL %s)" % (fl["client"], srv_ttl))
            c.ok(not f.down_data(), "%s: no HTTP response reached the client" % fl["client"])
        else:
            c.ok(any(p.data.startswith(b"HTTP/1.1 200") for p in f.down) and not f.rsts(),
                 "%s: control got 200 and no RST" % fl["client"])


def chk_tls_sni_reset(c, t, F):
    for fl in t["flows"]:
        f = F(fl)
        ch = [p for p in f.up if sni_of(p.data)]
        c.ok(bool(ch), "%s: ClientHello with SNI %s" % (fl["client"], sni_of(ch[0].data) if ch else None))
        if fl["expected"]:
            r = f.rsts()
            c.ok(len(r) >= 1 and all(p.ttl == t["censor"]["ttl"] for p in r), "%s: RST with censor TTL %s after the ClientHello: %s" % (
                fl["client"], t["censor"]["ttl"], [(p.idx, p.ttl) for p in r]))
            c.ok(not f.down_data(), "%s: no ServerHello" % fl["client"])
        else:
            c.ok(any(p.data[:1] == b"\x16" for p in f.down), "%s: control got a ServerHello" % fl["client"])


def chk_tls_sni_drop(c, t, F):
    for fl in t["flows"]:
        f = F(fl)
        if fl["expected"]:
            ch = [p for p in f.up if p.data]
            c.ok(len(ch) >= 2 and sni_of(ch[0].data) == t["censor"]["sni"],
                 "%s: ClientHello (SNI %s) sent and retransmitted %d times" % (fl["client"], t["censor"]["sni"], len(ch) - 1))
            after = [p for p in f.down if p.ts > ch[0].ts] if ch else []
            c.ok(ch and not after, "%s: nothing from the server after the ClientHello (silent drop)" % fl["client"])
            c.ok(not f.rsts() and ch and (ch[-1].ts - ch[0].ts) >= min(3.0, t["censor"]["client_timeout_s"] - 2),
                 "%s: no RST; the client retransmitted for %.1f s, then gave up" % (fl["client"], (ch[-1].ts - ch[0].ts) if ch else 0))
        else:
            c.ok(any(p.data[:1] == b"\x16" for p in f.down), "%s: control got a ServerHello" % fl["client"])


def has_ech(data):
    """Whether a ClientHello record carries an encrypted_client_hello extension."""
    return any(et == 0xfe0d for et, _ in hello_extensions(data))


def chk_tls_ech_drop(c, t, F):
    chk_tls_sni_drop(c, t, F)
    for fl in t["flows"]:
        ch = [p for p in F(fl).up if p.data]
        want = fl["client_hello_ech"]
        c.ok(bool(ch) and has_ech(ch[0].data) == want,
             "%s: ClientHello %s an ECH extension" % (fl["client"], "with" if want else "without"))


def chk_gfw_rst(c, t, F):
    server_side = t.get("capture_point") == "server"
    for fl in t["flows"]:
        f = F(fl)
        if not fl["expected"]:
            if not server_side:
                c.ok(any(b"genuine" in p.data for p in f.down) or any(p.data[:1] == b"\x17" for p in f.down),
                     "%s: control got the genuine response" % fl["client"])
            continue
        variant = "type2" if "http_host" in fl["trigger"] else "type1"
        prm = t["censor"][variant]
        r = f.rsts(down=not server_side)
        if server_side:  # one router (tsl-hop) between the injector and the server
            r = [p for p in r if p.ttl in [x - 1 for x in prm["ttl"]]]
        where = "server" if server_side else "client"
        c.ok(len(r) == 3, "%s: 3 forged resets reach the %s: frames %s" % (fl["client"], where, [p.idx for p in r]))
        if len(r) != 3:
            continue
        deltas = [(p.seq - r[0].seq) & 0xffffffff for p in r]
        c.ok(deltas == [0, 1460, 4380], "%s: seq deltas %s" % (fl["client"], deltas))
        c.ok(all(p.win != 0 for p in r), "%s: window != 0: %s" % (fl["client"], [p.win for p in r]))
        want_flags = "RA" if variant == "type2" else "R"
        fl_ok = all(bool(p.flags & dpkt.tcp.TH_ACK) == (want_flags == "RA") for p in r)
        c.ok(fl_ok, "%s: flags %s (%s)" % (fl["client"], want_flags, variant))
        hops = 1 if server_side else 0
        c.ok([p.ttl for p in r] == [x - hops for x in prm["ttl"]],
             "%s: TTLs %s as configured" % (fl["client"], [p.ttl for p in r]))
        if not server_side:
            c.ok(len(set(p.ttl for p in r)) > 1 and all(p.ttl != t["lab"]["server_ttl_at_client"] for p in r),
                 "%s: TTLs vary and differ from the server's %s" % (fl["client"], t["lab"]["server_ttl_at_client"]))
            c.ok(not f.down_data(), "%s: the forged RSTs won: no server payload reached the client" % fl["client"])
            c.ok(r[0].seq == f.synack().seq + 1, "%s: first RST seq = server ISN+1 (in window)" % fl["client"])


def chk_http_blockpage(c, t, F):
    srv_ttl = t["lab"]["server_ttl_at_client"]
    for fl in t["flows"]:
        f = F(fl)
        d = f.down_data()
        if not fl["expected"]:
            c.ok(d and b"genuine" in b"".join(p.data for p in d), "%s: control got the genuine page" % fl["client"])
            continue
        is302 = fl["trigger"]["http_host"] == t["censor"]["redirect"]["host"]
        prm = t["censor"]["redirect" if is302 else "blockpage"]
        first = d[0] if d else None
        c.ok(first is not None and first.ttl == prm["ttl"] and first.ttl != srv_ttl,
             "%s: first response frame %s has the injector's TTL %s (server %s)" % (
                 fl["client"], first and first.idx, prm["ttl"], srv_ttl))
        want = b"HTTP/1.1 302" if is302 else b"HTTP/1.1 200"
        c.ok(first is not None and first.data.startswith(want) and (not is302 or prm["location"].encode() in first.data)
             and (is302 or b"Access restricted" in first.data), "%s: forged %s" % (fl["client"], want.decode()))
        later = [p for p in d[1:] if b"genuine" in p.data and p.seq == first.seq]
        c.ok(bool(later) and later[0].ttl == srv_ttl, "%s: the genuine response (same seq) arrived later: frames %s" % (
            fl["client"], [p.idx for p in later]))


def chk_http_dnat(c, t, F):
    for fl in t["flows"]:
        f = F(fl)
        sa = f.synack()
        if fl["expected"]:
            c.ok(sa is not None and sa.ttl == t["censor"]["blockpage_ttl_at_client"] != t["lab"]["server_ttl_at_client"],
                 "%s: SYN/ACK TTL %s = block-page server's (real server would be %s)" % (
                     fl["client"], sa and sa.ttl, t["lab"]["server_ttl_at_client"]))
            c.ok(b"Access restricted" in b"".join(p.data for p in f.down), "%s: block page body" % fl["client"])
        else:
            c.ok(sa is not None and sa.ttl == t["lab"]["server_ttl_at_client"] and f.down_data(),
                 "%s: genuine server answered" % fl["client"])


def chk_dns_injection(c, t, F):
    inj = {i["qname"]: i for i in t["censor"]["injectors"]}
    for fl in t["flows"]:
        f = F(fl)
        m = dns_msgs(f)
        if not fl["expected"]:
            c.ok(len(m) == 1 and m[0][3] == [t["censor"]["genuine_answer"]], "%s: one genuine answer" % fl["client"])
            continue
        i = inj[fl["trigger"]["dns_qname"]]
        c.ok(len(m) == 2 and m[0][1] == m[1][1], "%s: two answers with one txid: frames %s" % (fl["client"], [x[0].idx for x in m]))
        if len(m) != 2:
            continue
        first, second = m
        c.ok("0x%04x" % first[2] == i["flags"] and first[3] and first[3][0] in t["censor"]["pool"] and first[0].ttl == i["ttl"],
             "%s: first answer forged: flags 0x%04x, A %s, TTL %d" % (fl["client"], first[2], first[3], first[0].ttl))
        c.ok(second[3] == [t["censor"]["genuine_answer"]] and second[0].ts > first[0].ts and
             second[0].ttl == t["lab"]["resolver_ttl_at_client"],
             "%s: the resolver's answer %s arrived %.0f ms later" % (fl["client"], second[3], 1000 * (second[0].ts - first[0].ts)))


def chk_dns_manipulation(c, t, F):
    for fl in t["flows"]:
        f = F(fl)
        m = dns_msgs(f)
        c.ok(len(m) == 1, "%s: one answer" % fl["client"])
        if not m:
            continue
        if fl["expected"]:
            c.ok(m[0][3] == [t["censor"]["block_address"]], "%s: answer %s is the block address" % (fl["client"], m[0][3]))
        elif "trap" in fl.get("note", ""):
            c.ok(m[0][4] == 3, "%s: NXDOMAIN" % fl["client"])
        else:
            c.ok(m[0][3] and m[0][3][0].startswith("203.0.113."), "%s: genuine answer %s" % (fl["client"], m[0][3]))


def chk_throttle(c, t, F):
    g = {}
    for fl in t["flows"]:
        f = F(fl)
        g[fl["client"]] = (f.goodput_kbit(), f.retransmissions(), fl)
        print("       %s goodput %.1f kbit/s, %d retransmitted segments" % (fl["client"], g[fl["client"]][0], g[fl["client"]][1]))
    pol = [v for v in g.values() if v[2]["expected"]]
    ctl = [v for v in g.values() if "control" in v[2].get("note", "")]
    trap = [v for v in g.values() if "trap" in v[2].get("note", "")]
    for gp, rt, fl in pol:
        c.ok(110 <= gp <= 150, "%s: policed goodput %.1f kbit/s within 110-150" % (fl["client"], gp))
        c.ok(rt > 0, "%s: policer drops -> %d retransmissions" % (fl["client"], rt))
        for cg, _, cf in ctl:
            c.ok(cg >= 10 * gp, "control %s is %.0fx faster" % (cf["client"], cg / gp if gp else 0))
    for gp, rt, fl in trap:
        c.ok(rt == 0 and gp < 300, "%s: slow server %.1f kbit/s without loss" % (fl["client"], gp))


def handshake_timing(f):
    """(handshake, stall): from the client's first payload (ClientHello) to its first payload after the server's
    first one, and the longest pause between the server's data segments before that answer."""
    up = [p for p in f.up if p.data]
    down = f.down_data()
    if not up or not down:
        return None, 0.0
    answer = next((p.ts for p in up if p.ts > down[0].ts), None)
    flight = [p.ts for p in down if answer is None or p.ts < answer]
    stall = max((b - a for a, b in zip(flight, flight[1:])), default=0.0)
    return (answer - up[0].ts if answer is not None else None), stall


def chk_tls_throttle(c, t, F):
    for fl in t["flows"]:
        f = F(fl)
        hs, stall = handshake_timing(f)
        print("       %s handshake %s s, server flight stalled %.3f s" % (fl["client"], "%.3f" % hs if hs is not None else "-", stall))
        if fl["expected"]:
            c.ok(hs is not None and hs >= 2.0, "%s: policed handshake completes in >= 2 s" % fl["client"])
            c.ok(stall >= 1.0, "%s: the dropped flight arrives split by the retransmission timer" % fl["client"])
        else:
            c.ok(hs is not None and hs < 0.2, "%s: control handshake under 0.2 s" % fl["client"])
            c.ok(stall < 0.05, "%s: control flight in one piece" % fl["client"])


def chk_blackout(c, t, F, pkts):
    w = t["windows"][0]
    ws, we = ts_of(w["start"]), ts_of(w["end"])
    inside = [p for p in pkts if ws + 0.05 < p.ts < we - 0.05 and p.src != t["lab"]["client"]]
    c.ok(not inside, "no packet from the server side during the blackout (%d found)" % len(inside))
    sent = [p for p in pkts if ws < p.ts < we and p.src == t["lab"]["client"]]
    c.ok(len(sent) >= 3, "the client kept trying during the blackout (%d packets)" % len(sent))
    for fl in t["flows"]:
        f = F(fl)
        # Inside the window nothing is answered; a flow after it that is
        # expected for another reason (a DNS-blocked name answered with the
        # block address) is answered like the rest.
        if "blackout" in fl["expected"]:
            c.ok(not f.down, "%s: unanswered (%s)" % (fl["client"], fl.get("note")))
        else:
            c.ok(bool(f.down), "%s: answered (%s)" % (fl["client"], fl.get("note")))


def chk_benign(c, t, F):
    st = t["lab"]["server_ttl_at_client"]
    rc = t["censor"]["route_change"]
    for fl in t["flows"]:
        f = F(fl)
        n = fl.get("note", "")
        cl = fl["client"]
        srv_ttls = sorted(set(p.ttl for p in f.down))
        if "capture starts" in n:
            c.ok(f.all and not (f.all[0].flags & dpkt.tcp.TH_SYN), "%s: first captured packet is mid-connection" % cl)
        elif "closed port" in n:
            r = f.rsts()
            c.ok(len(r) == 1 and r[0].ttl == st and f.up[0].flags & dpkt.tcp.TH_SYN, "%s: SYN answered by the server's own RST (TTL %s)" % (cl, st))
        elif "unread data" in n:
            r = f.rsts()
            c.ok(len(r) >= 1 and all(p.ttl == st for p in r) and not f.down_data(), "%s: server RST with the server's TTL, no data" % cl)
        elif "444" in n:
            c.ok(not f.down_data() and any(p.flags & dpkt.tcp.TH_FIN for p in f.down), "%s: closed by nginx without a response" % cl)
        elif n == "normal FIN close":
            c.ok(not f.rsts() and not f.rsts(False) and any(p.flags & dpkt.tcp.TH_FIN for p in f.down)
                 and any(p.flags & dpkt.tcp.TH_FIN for p in f.up), "%s: FIN both ways, no RST" % cl)
        elif "RST after the FIN" in n:
            fin = next((p for p in f.down if p.flags & dpkt.tcp.TH_FIN), None)
            r = f.rsts(False)
            c.ok(fin is not None and r and r[0].idx > fin.idx and f.down_data() and not f.rsts(),
                 "%s: server data and FIN, then the client's RST" % cl)
        elif "random loss" in n:
            rt = f.retransmissions() + sum(1 for i, p in enumerate(f.up) if p.data and any(q.seq == p.seq and q.data for q in f.up[:i]))
            c.ok(rt > 0 and srv_ttls == [st], "%s: %d out-of-order/retransmitted segments, server TTL %s" % (cl, rt, srv_ttls))
        elif "slow server" in n:
            c.ok(f.retransmissions() == 0 and f.goodput_kbit() < 300, "%s: %.0f kbit/s, no loss" % (cl, f.goodput_kbit()))
        elif "before" in n:
            c.ok(srv_ttls == [rc["ttl_before"]], "%s: TTL %s before the route change" % (cl, srv_ttls))
        elif "after (TTL" in n:
            c.ok(srv_ttls == [rc["ttl_after"]], "%s: TTL %s after the route change" % (cl, srv_ttls))
        elif "route change in the middle" in n:
            c.ok(srv_ttls == sorted([rc["ttl_before"], rc["ttl_after"]]), "%s: server TTL shifts mid-connection %s" % (cl, srv_ttls))
        elif "idle timeout" in n:
            r = f.rsts()
            d = f.down_data()
            c.ok(len(r) == 1 and r[0].ttl == t["censor"]["idle_firewall"]["ttl"] and d and r[0].ts - d[0].ts > 3,
                 "%s: firewall RST (TTL %s) after %.1f s idle" % (cl, r and r[0].ttl, (r[0].ts - d[0].ts) if r and d else 0))
        else:
            c.ok(False, "%s: no check for note %r" % (cl, n))


def chk_tls_mitm(c, t, F):
    for fl in t["flows"]:
        f = F(fl)
        down = b"".join(p.data for p in f.down)
        cl = fl["client"]
        if fl["expected"]:
            c.ok(b"Qaznet Trust Network" in down and b"Security Certificate" in down and b"tamperscope Lab Root CA" not in down,
                 "%s: forged chain (Security Certificate <- Qaznet Trust Network) on the wire" % cl)
            c.ok(f.synack().ttl == t["censor"]["proxy_ttl"], "%s: the proxy answers the handshake (TTL %s)" % (cl, f.synack().ttl))
            if "-k" in fl.get("note", ""):
                c.ok(sum(1 for p in f.down if p.data[:1] == b"\x17") >= 1, "%s: application data after the forged handshake" % cl)
            else:
                c.ok(any(p.data[:1] == b"\x15" for p in f.up), "%s: client sent a TLS alert" % cl)
        else:
            c.ok(b"Qaznet" not in down, "%s: no forged chain" % cl)
            if "1.2" in fl.get("note", ""):
                c.ok(b"tamperscope Lab Root CA" in down, "%s: genuine chain visible" % cl)


def chk_vpn_openvpn(c, t, F):
    for fl in t["flows"]:
        f = F(fl)
        cl = fl["client"]
        if fl["proto"] == "udp" and not fl["expected"]:
            c.ok(len(f.down) >= 5 and len(f.up) >= 5, "%s: control handshake exchanged %d/%d datagrams" % (cl, len(f.up), len(f.down)))
        elif fl["proto"] == "udp":
            ops = [p.data[0] >> 3 for p in f.up]
            first = next((i for i, o in enumerate(ops) if o == 4), None)
            c.ok(ops[:1] == [7] and first is not None, "%s: HARD_RESET_CLIENT_V2 then P_CONTROL_V1 (opcodes %s)" % (cl, ops[:6]))
            if first is not None:
                tcv = f.up[first].ts
                later_down = [p for p in f.down if p.ts > tcv + 0.01]
                c.ok(not later_down and len(f.up) - first >= 2,
                     "%s: nothing from the server after the first P_CONTROL_V1, client retransmits %d times" % (cl, len(f.up) - first - 1))
        else:
            d = [p for p in f.up if p.data]
            c.ok(d and (d[0].data[2] >> 3) == 7, "%s: OpenVPN-over-TCP first packet (opcode 7)" % cl)
            r = f.rsts()
            c.ok(len(r) == 1 and r[0].ttl == t["censor"]["tcp"]["ttl"] and not f.down_data(),
                 "%s: answered by a RST with the censor's TTL %s" % (cl, r and r[0].ttl))


def chk_vpn_wireguard(c, t, F):
    for fl in t["flows"]:
        f = F(fl)
        cl = fl["client"]
        init = [p for p in f.up if len(p.data) == 148 and p.data[0] == 1]
        if fl["expected"]:
            c.ok(len(init) >= 3 and not f.down, "%s: %d handshake initiations, no response" % (cl, len(init)))
            gaps = [round(b.ts - a.ts, 1) for a, b in zip(init, init[1:])]
            c.ok(all(g >= 4.5 for g in gaps), "%s: retried every ~5 s: %s" % (cl, gaps))
        else:
            c.ok(init and any(len(p.data) == 92 and p.data[0] == 2 for p in f.down), "%s: initiation answered (92-byte response)" % cl)


def chk_vpn_shadowsocks(c, t, F):
    res = t["censor"]["residual_s"]
    for fl in t["flows"]:
        f = F(fl)
        cl = fl["client"]
        n = fl.get("note", "")
        if "first connection" in n:
            d = [p for p in f.up if p.data]
            c.ok(bool(d) and f.down_data(), "%s: first (fully encrypted) packet of %d bytes passed and got an answer" % (cl, d and len(d[0].data)))
            acked = max((p.ack for p in f.up), default=0)
            sent = max((p.seq + len(p.data) for p in f.down_data()), default=0)
            c.ok(not any(p.flags & dpkt.tcp.TH_FIN for p in f.down) and f.retransmissions() + sum(
                1 for i, p in enumerate(f.down_data()) if any(q.seq == p.seq for q in f.down_data()[:i])) > 0,
                "%s: the download stalls: server retransmits, never finishes" % cl)
        elif "residual window: SYN" in n:
            c.ok(f.up and all(p.flags & dpkt.tcp.TH_SYN for p in f.up) and not f.down, "%s: %d SYNs unanswered" % (cl, len(f.up)))
        elif "after the residual" in n:
            c.ok(any(p.flags & dpkt.tcp.TH_FIN for p in f.down) and len(f.down_data()) > 10, "%s: works again after %d s" % (cl, res))
        else:
            c.ok(bool(f.down_data()), "%s: control answered" % cl)


def chk_quic_sni(c, t, F):
    for fl in t["flows"]:
        f = F(fl)
        cl = fl["client"]
        init = [p for p in f.up if p.data and (p.data[0] & 0xF0) == 0xC0 and len(p.data) >= 1200]
        c.ok(bool(init), "%s: client Initial(s) of >= 1200 bytes: %d" % (cl, len(init)))
        if fl["expected"]:
            c.ok(len(init) >= 2 and not f.down, "%s: %d Initials, nothing from the server" % (cl, len(init)))
        else:
            c.ok(any(p.data and (p.data[0] & 0xF0) == 0xC0 for p in f.down) and len(f.down) >= 2,
                 "%s: server answered (%d datagrams)" % (cl, len(f.down)))


CHECKS = {"http-host-rst": chk_http_host_rst, "tls-sni-reset": chk_tls_sni_reset, "tls-sni-drop": chk_tls_sni_drop,
          "tls-ech-drop": chk_tls_ech_drop,
          "gfw-rst": chk_gfw_rst, "gfw-rst.server": chk_gfw_rst, "http-blockpage": chk_http_blockpage,
          "http-dnat": chk_http_dnat, "dns-injection": chk_dns_injection, "dns-manipulation": chk_dns_manipulation,
          "throttle": chk_throttle, "tls-throttle": chk_tls_throttle, "blackout": chk_blackout,
          "benign-traps": chk_benign, "tls-mitm": chk_tls_mitm,
          "vpn-openvpn": chk_vpn_openvpn, "vpn-wireguard": chk_vpn_wireguard, "vpn-shadowsocks": chk_vpn_shadowsocks,
          "quic-sni": chk_quic_sni}


def check_truth(c, d, tp):
    t = json.load(open(tp))
    name = os.path.basename(tp)[:-len(".truth.json")]
    print("== %s" % name)
    good = all(k in t for k in ("capture", "scenario", "seed", "censor", "flows", "windows")) and \
        t["capture"] == name + ".pcap"
    c.ok(good, "truth file has capture, scenario, seed, censor, flows, windows")
    pcap = os.path.join(d, t["capture"])
    if not c.ok(os.path.exists(pcap), "capture %s exists" % t["capture"]):
        return
    pkts = load(pcap)
    for fl in t["flows"]:
        wf = set(fl["expected"]) <= KINDS and fl["proto"] in ("tcp", "udp") and \
            (not fl.get("trigger") or set(fl["trigger"]) <= {"sni", "http_host", "dns_qname"})
        f = Flow(pkts, fl)
        c.ok(wf and f.up, "flow %s -> %s %s %s exists (%d packets)" % (fl["client"], fl["server"], fl["proto"],
                                                                     fl["expected"], len(f.all)))
    for w in t["windows"]:
        c.ok(w.get("kind") in KINDS and ts_of(w["start"]) < ts_of(w["end"]), "window %s well-formed" % w.get("kind"))
    fn = CHECKS.get(t.get("lab_scenario", name))
    if c.ok(fn is not None, "scenario check exists"):
        F = lambda fl: Flow(pkts, fl)  # noqa: E731
        if fn is chk_blackout:
            fn(c, t, F, pkts)
        else:
            fn(c, t, F)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "captures")
    c = Checker()
    truths = sorted(glob.glob(os.path.join(d, "*.truth.json")))
    c.ok(bool(truths), "truth files found in %s" % d)
    for tp in truths:
        check_truth(c, d, tp)
    print("%d passed, %d failed" % (c.passed, c.failed))
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
