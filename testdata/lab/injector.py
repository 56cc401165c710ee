#!/usr/bin/python3
"""On-path injector for the lab censor (scapy). Runs in tsl-cen, sniffs the client-facing interface and
races forged packets ahead of the genuine ones. Configuration: one JSON file (argv[1]):

  {"iface": "c1", "client_net": "10.77.1.0/24", "ready": PATH, "log": PATH, "rules": [RULE...]}

RULE types:
  gfw_rst   {"match": "Host: x" | SNI bytes, "variant": "type1"|"type2", "ttl": [t1,t2,t3],
             "window": [w1,w2,w3], "ipid": [i1,i2,i3], "offsets": [0,1460,4380], "both": true}
  http_resp {"match": ..., "payload": "HTTP/1.1 302 ...", "ttl": t, "ipid": i, "window": w}
  dns       {"qname": "x.example", "flags": 33152, "pool": [ip...], "ttl": t, "ipid": i, "answer_ttl": n}
  fet       {"dport": 8388, "residual_s": n}   GFW-style fully-encrypted-traffic heuristic on the first data
            packet; on a hit the server ip:port is dropped (client->server) for residual_s seconds.

Each injection is appended to the log as one JSON line (what was sent, with seq/ack/ttl/window/ipid).
"""
import json
import sys
import threading
import time

from scapy.all import DNS, DNSQR, DNSRR, IP, TCP, UDP, AsyncSniffer, Raw, conf  # noqa: E402
import subprocess

cfg = json.load(open(sys.argv[1]))
rules = cfg["rules"]
logf = open(cfg["log"], "a")
lock = threading.Lock()
done = set()
pool_pos = {}
sock = conf.L3socket()


def log(obj):
    obj["t"] = time.time()
    with lock:
        logf.write(json.dumps(obj) + "\n")
        logf.flush()


def tcp_rec(p):
    return {"src": p[IP].src, "dst": p[IP].dst, "sport": p[TCP].sport, "dport": p[TCP].dport,
            "seq": p[TCP].seq, "ack": p[TCP].ack, "flags": str(p[TCP].flags), "ttl": p[IP].ttl,
            "window": p[TCP].window, "ipid": p[IP].id, "len": len(p[TCP].payload)}


def popcount_avg(b):
    return sum(bin(x).count("1") for x in b) / max(1, len(b))


def is_fet(b):
    """GFW fully-encrypted-traffic rule (Wu et al. 2023): exempt if any exemption holds."""
    pc = popcount_avg(b)
    if pc <= 3.4 or pc >= 4.6:
        return False
    if all(0x20 <= x <= 0x7e for x in b[:6]):
        return False
    if sum(1 for x in b if 0x20 <= x <= 0x7e) > len(b) / 2:
        return False
    run = best = 0
    for x in b:
        run = run + 1 if 0x20 <= x <= 0x7e else 0
        best = max(best, run)
    if best > 20:
        return False
    if b[:3] in (b"\x16\x03\x01", b"\x16\x03\x03") or b[:4] in (b"GET ", b"POST", b"HEAD", b"PUT "):
        return False
    return True


def unblock_later(rule_args, delay):
    time.sleep(delay)
    subprocess.run("iptables -D FORWARD " + rule_args, shell=True)
    log({"rule": "fet", "event": "residual_end", "iptables": rule_args})


def handle(p):
    if IP not in p:
        return
    ip = p[IP]
    if TCP in p:
        t = p[TCP]
        data = bytes(t.payload)
        if not data:
            return
        key = (ip.src, t.sport, ip.dst, t.dport)
        for i, r in enumerate(rules):
            if (i, key) in done:
                continue
            if r["type"] in ("gfw_rst", "http_resp") and r["match"].encode() in data:
                done.add((i, key))
                srv_seq = t.ack            # next byte the server will send
                cli_next = t.seq + len(data)
                sent = []
                if r["type"] == "gfw_rst":
                    flags = "R" if r["variant"] == "type1" else "RA"
                    for k, off in enumerate(r["offsets"]):
                        f = IP(src=ip.dst, dst=ip.src, ttl=r["ttl"][k], id=r["ipid"][k]) / \
                            TCP(sport=t.dport, dport=t.sport, flags=flags, seq=(srv_seq + off) & 0xffffffff,
                                ack=cli_next if flags == "RA" else 0, window=r["window"][k])
                        sock.send(f)
                        sent.append(dict(tcp_rec(f), dir="to_client"))
                    if r.get("both"):
                        for k, off in enumerate(r["offsets"]):
                            f = IP(src=ip.src, dst=ip.dst, ttl=r["ttl"][k], id=r["ipid"][k]) / \
                                TCP(sport=t.sport, dport=t.dport, flags=flags, seq=(cli_next + off) & 0xffffffff,
                                    ack=srv_seq if flags == "RA" else 0, window=r["window"][k])
                            sock.send(f)
                            sent.append(dict(tcp_rec(f), dir="to_server"))
                else:
                    f = IP(src=ip.dst, dst=ip.src, ttl=r["ttl"], id=r["ipid"]) / \
                        TCP(sport=t.dport, dport=t.sport, flags="FPA", seq=srv_seq, ack=cli_next,
                            window=r["window"]) / Raw(r["payload"].encode())
                    sock.send(f)
                    sent.append(dict(tcp_rec(f), dir="to_client"))
                log({"rule": i, "type": r["type"], "flow": list(key), "trigger_seq": t.seq, "packets": sent})
            elif r["type"] == "fet" and t.dport == r["dport"] and (("fet", key)) not in done:
                done.add(("fet", key))
                if (i, ip.dst) in done:
                    continue
                fet = is_fet(data)
                log({"rule": i, "type": "fet", "flow": list(key), "len": len(data),
                     "popcount": round(popcount_avg(data), 3), "fet": fet})
                if fet:
                    done.add((i, ip.dst))
                    args = "-d %s -p tcp --dport %d -j DROP" % (ip.dst, t.dport)
                    subprocess.run("iptables -I FORWARD " + args, shell=True)
                    log({"rule": i, "event": "residual_start", "iptables": args})
                    threading.Thread(target=unblock_later, args=(args, r["residual_s"]), daemon=True).start()
    elif UDP in p and DNS in p and p[UDP].dport == 53 and p[DNS].qr == 0 and p[DNS].qd is not None:
        d = p[DNS]
        qname = d.qd.qname.decode().rstrip(".").lower()
        for i, r in enumerate(rules):
            if r["type"] != "dns" or r["qname"] != qname:
                continue
            key = (ip.src, p[UDP].sport, d.id)
            if (i, key) in done:
                continue
            done.add((i, key))
            pos = pool_pos.get(i, 0)
            ans = r["pool"][pos % len(r["pool"])]
            pool_pos[i] = pos + 1
            fl = r["flags"]
            f = IP(src=ip.dst, dst=ip.src, ttl=r["ttl"], id=r["ipid"]) / UDP(sport=53, dport=p[UDP].sport) / \
                DNS(id=d.id, qr=1, opcode=0, aa=(fl >> 10) & 1, tc=0, rd=(fl >> 8) & 1, ra=(fl >> 7) & 1,
                    rcode=fl & 0xf, qd=DNSQR(qname=d.qd.qname, qtype=d.qd.qtype),
                    an=DNSRR(rrname=d.qd.qname, type="A", ttl=r["answer_ttl"], rdata=ans))
            sock.send(f)
            log({"rule": i, "type": "dns", "flow": [ip.src, p[UDP].sport, ip.dst, 53], "txid": d.id,
                 "qname": qname, "answer": ans, "flags": fl, "ttl": r["ttl"], "ipid": r["ipid"]})


sn = AsyncSniffer(iface=cfg["iface"], filter="src net %s and (tcp or udp port 53)" % cfg["client_net"],
                  prn=handle, store=False)
sn.start()
time.sleep(0.5)
open(cfg["ready"], "w").write("ready\n")
while True:
    time.sleep(3600)
