#!/usr/bin/python3
"""tamperscope interference lab: runs every scenario in network namespaces and writes captures + truth files.

Usage (root): lab.py --seed N --out DIR [SCENARIO...]   (run.sh installs the dependencies and calls this)
"""
import argparse
import datetime
import json
import os
import random
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labnet import (BLOCKPAGE, CLIENT, RESOLVER, SRV, Procs, ipt, nx, out, reset_censor, setup_topology,  # noqa
                    sh, teardown_ns, wait_for, write_json)

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
VENV_PY = os.environ.get("TSL_VENV_PY", "/opt/tamperscope-lab/venv/bin/python")

BLOCK_POOL = ["rutracker.example", "azattyq.example", "currenttime.example", "pinterest.example",
              "xakep.example", "regnum.example", "compromat.example", "cont-ws.example", "knews.example",
              "stanradar.example", "ukraina.example", "sproot.example", "360tv.example", "for-kg.example",
              "astrakhan-news.example", "tsargrad.example", "googlevideo.example", "vk-video.example"]
ALLOW_POOL = ["pinimg.example", "weather.example", "library.example", "shop.example", "news-ok.example",
              "wiki.example", "maps.example", "mail.example", "bank.example", "school.example",
              "travel.example", "sports.example"]
# answers of the forged DNS responses: a fixed pool of addresses (documentation ranges, unroutable here)
DNS_POOL = ["198.51.100.%d" % i for i in (7, 23, 44, 61, 88, 101, 130, 157)]
BLOCK_ADDR = "10.10.34.35"

BLOCKPAGE_HTML = ("<html><head><title>Access restricted</title></head><body>"
                  "<h1>Access to this resource is restricted</h1>"
                  "<p>The requested resource is included in the registry of restricted internet resources "
                  "(tamperscope lab block page).</p></body></html>\n")


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Lab:
    def __init__(self, seed, outdir, work):
        self.seed = seed
        self.rng = random.Random(seed)
        self.out = outdir
        self.work = work
        self.procs = Procs(work)
        self._port = self.rng.randint(21000, 39000)
        rng = self.rng
        self.server_ttl = rng.choice([64, 128])
        self.censor_ttl = rng.choice([t for t in (64, 128, 255) if t != self.server_ttl])
        blocked = BLOCK_POOL[:]
        rng.shuffle(blocked)
        allowed = ALLOW_POOL[:]
        rng.shuffle(allowed)
        self.blocked = blocked
        self.allowed = allowed
        self.names = sorted(set(blocked + allowed))
        self.global_procs = []

    # ------------------------------------------------------------------ helpers
    def port(self):
        self._port += self.rng.randint(3, 97)
        return self._port

    def take_blocked(self):
        return self.blocked.pop()

    def take_allowed(self):
        return self.allowed.pop()

    def flow(self, cport, server, sport, proto, expected, trigger=None, note=None, client=CLIENT):
        f = {"client": "%s:%d" % (client, cport), "server": "%s:%d" % (server, sport), "proto": proto,
             "expected": expected}
        if trigger:
            f["trigger"] = trigger
        if note:
            f["note"] = note
        return f

    def capture(self, name, ns="tsl-cli", iface="c0", snaplen=1600):
        path = os.path.join(self.out, name + ".pcap")
        if os.path.exists(path):
            os.unlink(path)
        log = os.path.join(self.work, "tcpdump-%s.log" % name)
        p = self.procs.start(ns, "tcpdump -n --immediate-mode -i %s -s %d -U -Z root -w %s not arp and not ip6" % (iface, snaplen, path),
                             "tcpdump-%s" % name)
        wait_for(lambda: "listening on" in open(log).read() if os.path.exists(log) else False, 5)
        time.sleep(0.2)
        return p

    def stop_capture(self, p):
        time.sleep(0.5)
        self.procs.stop(p, sig=2)

    def curl(self, url, cport, extra="", max_time=5, resolve=None):
        cmd = "curl -sS -o /dev/null -w '%%{http_code} %%{size_download} %%{time_total}' --max-time %s --local-port %d %s" % (
            max_time, cport, extra)
        if resolve:
            cmd += " --resolve %s" % resolve
        cmd += " --cacert %s/ca/lab-ca.pem '%s'" % (self.work, url)
        r = sh("ip netns exec tsl-cli timeout %d %s" % (max_time + 5, cmd), check=False, capture=True,
               timeout=max_time + 10)
        self.note("curl %s port %d -> rc=%d %s %s" % (url, cport, r.returncode, r.stdout.strip(), r.stderr.strip()[:200]))
        return r

    def http(self, name, ip, cport, path="/", https=False, **kw):
        scheme, p = ("https", 443) if https else ("http", 80)
        return self.curl("%s://%s%s" % (scheme, name, path), cport, resolve="%s:%d:%s" % (name, p, ip), **kw)

    def dig(self, name, cport, timeout=3):
        r = sh("ip netns exec tsl-cli timeout %d dig +tries=1 +time=%d -b %s#%d @%s %s A" % (
            timeout + 3, timeout, CLIENT, cport, RESOLVER, name), check=False, capture=True, timeout=timeout + 8)
        ans = [l for l in r.stdout.splitlines() if "\tIN\tA\t" in l or "status:" in l]
        self.note("dig %s port %d -> %s" % (name, cport, " | ".join(ans)))
        return r

    def note(self, msg):
        with open(os.path.join(self.work, "lab.log"), "a") as f:
            f.write("%.3f %s\n" % (time.time(), msg))
        print("   ", msg, flush=True)

    def truth(self, name, scenario, censor, flows, windows=(), extra=None):
        t = {"capture": name + ".pcap", "scenario": scenario, "lab_scenario": name, "seed": self.seed,
             "censor": censor, "flows": flows, "windows": list(windows),
             "lab": {"client": CLIENT, "resolver": RESOLVER, "server_ttl_initial": self.server_ttl,
                     "server_ttl_at_client": self.server_ttl - 2,
                     "resolver_ttl_at_client": self.server_ttl - 1, "censor_ttl_initial": self.censor_ttl,
                     "hops_client_to_server": 2}}
        if extra:
            t.update(extra)
        write_json(os.path.join(self.out, name + ".truth.json"), t)

    def start_injector(self, name, rules):
        cfg = {"iface": "c1", "client_net": "10.77.1.0/24", "ready": os.path.join(self.work, name + ".ready"),
               "log": os.path.join(self.work, name + ".inject.jsonl"), "rules": rules}
        for k in ("ready", "log"):
            if os.path.exists(cfg[k]):
                os.unlink(cfg[k])
        cfgp = os.path.join(self.work, name + ".inject.json")
        write_json(cfgp, cfg)
        p = self.procs.start("tsl-cen", "%s %s/injector.py %s" % (PY, HERE, cfgp), "injector-" + name)
        if not wait_for(lambda: os.path.exists(cfg["ready"]), 20):
            raise RuntimeError("injector did not start")
        return p, cfg["log"]

    def injected(self, logp):
        if not os.path.exists(logp):
            return []
        return [json.loads(l) for l in open(logp)]

    # ------------------------------------------------------------------ global services
    def setup(self):
        setup_topology(self.server_ttl, self.censor_ttl)
        self.make_certs()
        self.make_www()
        w = self.work
        nginx_conf = self.nginx_conf()
        open(os.path.join(w, "nginx.conf"), "w").write(nginx_conf)
        self.global_procs.append(self.procs.start("tsl-srv", "nginx -c %s/nginx.conf" % w, "nginx-srv"))
        open(os.path.join(w, "nginx-bp.conf"), "w").write(self.nginx_bp_conf())
        self.global_procs.append(self.procs.start("tsl-bp", "nginx -c %s/nginx-bp.conf" % w, "nginx-bp"))
        self.global_procs.append(self.procs.start("tsl-srv", "%s %s/labsrv.py slowhttp 8081 0.4" % (PY, HERE), "slowhttp"))
        self.global_procs.append(self.procs.start("tsl-srv", "%s %s/labsrv.py slowtls %s 443 0.4 %s/ca" % (
            PY, HERE, SRV["slow"], w), "slowtls"))
        # resolver: dnsmasq (real), forwarding to a slow authoritative server for the lab zone
        amap = {n: SRV["web"] for n in self.names}
        self.dns_blocked = [self.take_blocked(), self.take_blocked()]
        self.global_procs.append(self.procs.start("tsl-dns", "%s %s/labsrv.py slowdns 5353 0.3 '%s'" % (
            PY, HERE, json.dumps(amap)), "slowdns"))
        addr = " ".join("--address=/%s/%s" % (n, BLOCK_ADDR) for n in self.dns_blocked)
        self.global_procs.append(self.procs.start(
            "tsl-dns", "dnsmasq -k -C /dev/null --no-resolv --no-hosts --cache-size=0 --listen-address=%s "
            "--bind-interfaces --server=127.0.0.1#5353 --user=root --log-facility=- %s" % (RESOLVER, addr), "dnsmasq"))
        time.sleep(1.0)
        ok = wait_for(lambda: "200" in sh("ip netns exec tsl-cli curl -s -o /dev/null -w '%%{http_code}' "
                                             "--max-time 2 http://%s/" % SRV["web"], check=False, capture=True).stdout, 10)
        if not ok:
            raise RuntimeError("nginx not answering")

    def make_certs(self):
        d = os.path.join(self.work, "ca")
        os.makedirs(d, exist_ok=True)

        def o(cmd):
            sh("cd %s && openssl %s" % (d, cmd))
        o("req -x509 -newkey rsa:2048 -nodes -keyout lab-ca.key -out lab-ca.pem -days 3650 "
          "-subj '/O=tamperscope lab/CN=tamperscope Lab Root CA' -addext basicConstraints=critical,CA:TRUE "
          "-addext keyUsage=critical,keyCertSign,cRLSign")
        sans = ",".join("DNS:%s" % n for n in self.names)
        open(os.path.join(d, "san.ext"), "w").write(
            "subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" % sans)
        o("req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=%s'" % self.names[0])
        o("x509 -req -in server.csr -CA lab-ca.pem -CAkey lab-ca.key -CAcreateserial -out server.pem -days 825 "
          "-extfile san.ext")
        sh("cat %s/server.pem %s/lab-ca.pem > %s/server-chain.pem" % (d, d, d))
        o("req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj '/CN=lab-vpn-client'")
        o("x509 -req -in client.csr -CA lab-ca.pem -CAkey lab-ca.key -CAcreateserial -out client.pem -days 825")
        # the interception authority: a root named like Kazakhstan's 2019 root and an intermediate like its
        # "Security Certificate" intermediate (RSA-2048, 3 years)
        o("req -x509 -newkey rsa:4096 -nodes -keyout qaznet-root.key -out qaznet-root.pem -days 10958 "
          "-subj '/C=KZ/CN=Qaznet Trust Network' -addext basicConstraints=critical,CA:TRUE "
          "-addext keyUsage=critical,nonRepudiation,keyCertSign,cRLSign")
        o("req -newkey rsa:2048 -nodes -keyout qaznet-int.key -out qaznet-int.csr -subj '/C=KZ/CN=Security Certificate'")
        open(os.path.join(d, "int.ext"), "w").write("basicConstraints=critical,CA:TRUE,pathlen:0\n"
                                                    "keyUsage=critical,keyCertSign,cRLSign\n")
        o("x509 -req -in qaznet-int.csr -CA qaznet-root.pem -CAkey qaznet-root.key -CAcreateserial "
          "-out qaznet-int.pem -days 1095 -extfile int.ext")

    def mitm_leaf(self, name):
        d = os.path.join(self.work, "ca")
        open(os.path.join(d, "leaf-%s.ext" % name), "w").write(
            "subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" % name)
        sh("cd %s && openssl req -newkey rsa:2048 -nodes -keyout leaf-%s.key -out leaf-%s.csr -subj '/CN=%s' && "
           "openssl x509 -req -in leaf-%s.csr -CA qaznet-int.pem -CAkey qaznet-int.key -CAcreateserial "
           "-out leaf-%s.pem -days 75 -extfile leaf-%s.ext && cat leaf-%s.pem qaznet-int.pem > leaf-%s-chain.pem"
           % ((d,) + (name,) * 8))
        return os.path.join(d, "leaf-%s-chain.pem" % name), os.path.join(d, "leaf-%s.key" % name)

    def make_www(self):
        www = os.path.join(self.work, "www")
        os.makedirs(www, exist_ok=True)
        open(os.path.join(www, "index.html"), "w").write(
            "<html><head><title>lab</title></head><body><p>genuine lab page</p>%s</body></html>\n" % ("<!-- pad -->" * 20))
        rnd = random.Random(self.seed + 1)
        for name, size in (("32k.bin", 32 << 10), ("64k.bin", 64 << 10), ("96k.bin", 96 << 10), ("256k.bin", 256 << 10)):
            open(os.path.join(www, name), "wb").write(bytes(rnd.getrandbits(8) for _ in range(size)))
        bp = os.path.join(self.work, "bp")
        os.makedirs(bp, exist_ok=True)
        open(os.path.join(bp, "index.html"), "w").write(BLOCKPAGE_HTML)

    def nginx_conf(self):
        w = self.work
        ssl = "ssl_certificate %s/ca/server-chain.pem; ssl_certificate_key %s/ca/server.key;" % (w, w)
        web_listens = "".join("listen %s:80; listen %s:443 ssl;" % (SRV[r], SRV[r])
                              for r in ("web", "web2", "lossy", "mitm", "bulk"))
        return """
user root; worker_processes 1; daemon off; pid %(w)s/nginx.pid; error_log %(w)s/nginx.err;
events { worker_connections 512; }
http {
  access_log off; sendfile off; keepalive_timeout 10; default_type application/octet-stream;
  types { text/html html; }
  server { %(web)s %(ssl)s root %(w)s/www; index index.html; }
  server { listen %(slow)s:80; location / { proxy_pass http://127.0.0.1:8081; proxy_set_header Host $host; } }
  server { listen %(limited)s:80; listen %(limited)s:443 ssl; %(ssl)s root %(w)s/www; limit_rate 16k; }
  server { listen %(drop444)s:80; return 444; }
}
""" % {"w": w, "web": web_listens, "ssl": ssl, "slow": SRV["slow"], "limited": SRV["limited"],
       "drop444": SRV["drop444"]}

    def nginx_bp_conf(self):
        w = self.work
        return """
user root; worker_processes 1; daemon off; pid %(w)s/nginx-bp.pid; error_log %(w)s/nginx-bp.err;
events { worker_connections 64; }
http { access_log off; types { text/html html; }
  server { listen %(bp)s:80; root %(w)s/bp; location / { try_files /index.html =404; } } }
""" % {"w": w, "bp": BLOCKPAGE}

    # ------------------------------------------------------------------ scenarios
    def sc_http_host_rst(self):
        name = "http-host-rst"
        blocked, allowed = self.take_blocked(), self.take_allowed()
        reset_censor()
        ipt("-A FORWARD -p tcp --dport 80 -m string --algo bm --string 'Host: %s' -j REJECT --reject-with tcp-reset" % blocked)
        cap = self.capture(name)
        p1, p2, p3 = self.port(), self.port(), self.port()
        self.http(allowed, SRV["web"], p1)
        self.http(blocked, SRV["web"], p2)
        self.http(blocked, SRV["web2"], p3)
        self.stop_capture(cap)
        reset_censor()
        self.truth(name, "HTTP Host keyword RST by netfilter (string match, REJECT --reject-with tcp-reset)",
                   {"trigger": "http_host", "keyword": "Host: " + blocked, "ttl": self.censor_ttl,
                    "rst_window": 0, "rst_to": "client", "residual_s": 0, "mechanism": "iptables REJECT tcp-reset"},
                   [self.flow(p1, SRV["web"], 80, "tcp", [], None, "control: allowed Host"),
                    self.flow(p2, SRV["web"], 80, "tcp", ["tcp.injected_rst"], {"http_host": blocked}),
                    self.flow(p3, SRV["web2"], 80, "tcp", ["tcp.injected_rst"], {"http_host": blocked})])

    def sc_tls_sni_reset(self):
        name = "tls-sni-reset"
        blocked, allowed = self.take_blocked(), self.take_allowed()
        reset_censor()
        ipt("-A FORWARD -p tcp --dport 443 -m string --algo bm --string '%s' -j REJECT --reject-with tcp-reset" % blocked)
        cap = self.capture(name)
        p1, p2 = self.port(), self.port()
        self.http(allowed, SRV["web"], p1, https=True)
        self.http(blocked, SRV["web"], p2, https=True)
        self.stop_capture(cap)
        reset_censor()
        self.truth(name, "TLS SNI-triggered reset by netfilter (string match on the ClientHello, REJECT tcp-reset)",
                   {"trigger": "sni", "sni": blocked, "ttl": self.censor_ttl, "rst_window": 0, "rst_to": "client",
                    "residual_s": 0, "mechanism": "iptables string + REJECT tcp-reset; the ClientHello is dropped"},
                   [self.flow(p1, SRV["web"], 443, "tcp", [], None, "control: allowed SNI, same server"),
                    self.flow(p2, SRV["web"], 443, "tcp", ["tls.interference", "tcp.injected_rst"], {"sni": blocked})])

    def sc_tls_sni_drop(self):
        name = "tls-sni-drop"
        blocked, allowed = self.take_blocked(), self.take_allowed()
        tmo = self.rng.choice([4, 5, 6])
        reset_censor()
        ipt("-A FORWARD -m connmark --mark 0x1 -j DROP")
        ipt("-A FORWARD -p tcp --dport 443 -m string --algo bm --string '%s' -j CONNMARK --set-mark 0x1" % blocked)
        ipt("-A FORWARD -m connmark --mark 0x1 -j DROP")
        cap = self.capture(name)
        p1, p2, p3 = self.port(), self.port(), self.port()
        self.http(allowed, SRV["web"], p1, https=True)
        self.http(blocked, SRV["web"], p2, https=True, max_time=tmo)
        self.http(allowed, SRV["web"], p3, https=True)
        self.stop_capture(cap)
        reset_censor()
        self.truth(name, "TLS SNI-triggered silent drop after the ClientHello (Kazakhstan: handshake times out)",
                   {"trigger": "sni", "sni": blocked, "action": "drop every packet of the flow, both directions, "
                    "from the ClientHello on (connmark)", "client_timeout_s": tmo, "residual_s": 0},
                   [self.flow(p1, SRV["web"], 443, "tcp", [], None, "control before"),
                    self.flow(p2, SRV["web"], 443, "tcp", ["tls.interference", "tcp.blackhole"], {"sni": blocked}),
                    self.flow(p3, SRV["web"], 443, "tcp", [], None, "control after")])

    def hello(self, sni, ip, cport, ech=False, timeout=5):
        r = sh("ip netns exec tsl-cli timeout %d %s %s/echhello.py %s %d %s 443 %s %s--timeout %d" % (
            timeout + 5, PY, HERE, CLIENT, cport, ip, sni, "--ech " if ech else "", timeout),
            check=False, capture=True, timeout=timeout + 10)
        self.note("hello %s%s port %d -> %s" % (sni, " (ECH)" if ech else "", cport, r.stdout.strip()))
        return r

    def sc_tls_ech_drop(self):
        # Russia's TSPU as reported from November 2024: a ClientHello with an ECH extension
        # and Cloudflare's public name as its SNI is dropped; the same name
        # without ECH, and ECH with another name (Chrome's GREASE), pass.
        name = "tls-ech-drop"
        public, allowed = "cloudflare-ech.com", self.take_allowed()
        tmo = self.rng.choice([4, 5, 6])
        reset_censor()
        ipt("-A FORWARD -m connmark --mark 0x1 -j DROP")
        ipt("-A FORWARD -p tcp --dport 443 -m string --algo bm --string '%s' "
            "-m string --algo bm --hex-string '|fe0d|' -j CONNMARK --set-mark 0x1" % public)
        ipt("-A FORWARD -m connmark --mark 0x1 -j DROP")
        cap = self.capture(name)
        p1, p2, p3, p4 = self.port(), self.port(), self.port(), self.port()
        self.hello(public, SRV["web"], p1)
        self.hello(public, SRV["web"], p2, ech=True, timeout=tmo)
        self.hello(allowed, SRV["web"], p3, ech=True)
        self.hello(allowed, SRV["web"], p4)
        self.stop_capture(cap)
        reset_censor()
        self.truth(name, "TLS ClientHello with Encrypted Client Hello and the provider's public name dropped "
                         "(Russia's TSPU and Cloudflare, November 2024)",
                   {"trigger": "sni+ech", "sni": public, "extension": "encrypted_client_hello (0xfe0d)",
                    "action": "drop every packet of the flow, both directions, from the ClientHello on (connmark)",
                    "client_timeout_s": tmo, "residual_s": 0},
                   [dict(self.flow(p1, SRV["web"], 443, "tcp", [], None, "control: the public name, no ECH"),
                         client_hello_ech=False),
                    dict(self.flow(p2, SRV["web"], 443, "tcp", ["tls.interference", "tcp.blackhole"],
                                   {"sni": public}), client_hello_ech=True),
                    dict(self.flow(p3, SRV["web"], 443, "tcp", [], None, "control: ECH (as GREASE) with another name"),
                         client_hello_ech=True),
                    dict(self.flow(p4, SRV["web"], 443, "tcp", [], None, "control: plain"), client_hello_ech=False)])

    def sc_gfw_rst(self):
        name = "gfw-rst"
        rng = self.rng
        hb, sb, allowed = self.take_blocked(), self.take_blocked(), self.take_allowed()
        t2base = rng.randint(40, 200)
        type2 = {"type": "gfw_rst", "match": "Host: " + hb, "variant": "type2", "both": True,
                 "offsets": [0, 1460, 4380], "ttl": [t2base, t2base + 1, t2base + 2],
                 "window": [w := rng.randint(1000, 60000), w + 1, w + 2],
                 "ipid": [rng.randint(1, 65535) for _ in range(3)]}
        type1 = {"type": "gfw_rst", "match": sb, "variant": "type1", "both": True, "offsets": [0, 1460, 4380],
                 "ttl": [rng.randint(40, 250) for _ in range(3)],
                 "window": [rng.randint(1, 65535) for _ in range(3)], "ipid": [rng.randint(1, 65535) for _ in range(3)]}
        reset_censor()
        inj, logp = self.start_injector(name, [type2, type1])
        cap = self.capture(name)
        scap = self.capture(name + ".server", ns="tsl-srv", iface="s1")
        p1, p2, p3, p4 = self.port(), self.port(), self.port(), self.port()
        self.http(allowed, SRV["slow"], p1)
        self.http(hb, SRV["slow"], p2)
        self.http(sb, SRV["slow"], p3, https=True)
        self.http(allowed, SRV["slow"], p4, https=True)
        time.sleep(0.6)
        self.stop_capture(scap)
        self.stop_capture(cap)
        self.procs.stop(inj)
        inj_log = self.injected(logp)
        self.note("injections: %d" % len(inj_log))
        censor = {"trigger": "http_host+sni", "profile": "gfw", "offsets": [0, 1460, 4380],
                  "type2": {"keyword": "Host: " + hb, "flags": "RA", "ttl": type2["ttl"], "window": type2["window"],
                            "ipid": type2["ipid"]},
                  "type1": {"keyword": sb, "flags": "R", "ttl": type1["ttl"], "window": type1["window"],
                            "ipid": type1["ipid"]},
                  "to": ["client", "server"], "origin_delay_s": 0.4, "residual_s": 0,
                  "mechanism": "scapy injector on the censor sniffs the client-facing link; the origin answers "
                               "after 0.4 s so the forged RSTs arrive first"}
        flows = [self.flow(p1, SRV["slow"], 80, "tcp", [], None, "control"),
                 self.flow(p2, SRV["slow"], 80, "tcp", ["tcp.injected_rst"], {"http_host": hb}),
                 self.flow(p3, SRV["slow"], 443, "tcp", ["tcp.injected_rst", "tls.interference"], {"sni": sb}),
                 self.flow(p4, SRV["slow"], 443, "tcp", [], None, "control")]
        self.truth(name, "GFW-style on-path RST injection: bursts of 3 RST (type 1) / RST+ACK (type 2), seq +0/+1460/+4380, to both ends",
                   censor, flows, extra={"injections": inj_log})
        # the same flows seen at the server (the RSTs sent to the server are only visible there)
        t = json.load(open(os.path.join(self.out, name + ".truth.json")))
        t["capture"] = name + ".server.pcap"
        t["lab_scenario"] = name + ".server"
        t["scenario"] += " (server-side capture)"
        t["capture_point"] = "server"
        write_json(os.path.join(self.out, name + ".server.truth.json"), t)

    def sc_http_blockpage(self):
        name = "http-blockpage"
        rng = self.rng
        h302, h200, allowed = self.take_blocked(), self.take_blocked(), self.take_allowed()
        loc = "http://%s/blocked?host=%s" % (BLOCKPAGE, h302)
        r302 = {"type": "http_resp", "match": "Host: " + h302, "ttl": rng.randint(40, 250), "ipid": rng.randint(1, 65535),
                "window": rng.choice([0, 1024, 8192, 65535]),
                "payload": "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % loc}
        r200 = {"type": "http_resp", "match": "Host: " + h200, "ttl": rng.randint(40, 250), "ipid": 0,
                "window": rng.choice([0, 1024, 8192, 65535]),
                "payload": "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                           % (len(BLOCKPAGE_HTML), BLOCKPAGE_HTML)}
        reset_censor()
        inj, logp = self.start_injector(name, [r302, r200])
        cap = self.capture(name)
        p1, p2, p3 = self.port(), self.port(), self.port()
        self.http(allowed, SRV["slow"], p1)
        self.http(h302, SRV["slow"], p2)
        self.http(h200, SRV["slow"], p3)
        time.sleep(0.8)  # let the genuine (late) responses arrive
        self.stop_capture(cap)
        self.procs.stop(inj)
        inj_log = self.injected(logp)
        self.truth(name, "HTTP block page injection: forged 302 redirect and forged 200 block page raced ahead of the genuine response",
                   {"trigger": "http_host", "profile": "http-injector", "origin_delay_s": 0.4,
                    "redirect": {"host": h302, "location": loc, "ttl": r302["ttl"], "ipid": r302["ipid"],
                                 "window": r302["window"], "tcp_flags": "FPA"},
                    "blockpage": {"host": h200, "ttl": r200["ttl"], "ipid": r200["ipid"], "window": r200["window"],
                                  "tcp_flags": "FPA", "title": "Access restricted"},
                    "residual_s": 0},
                   [self.flow(p1, SRV["slow"], 80, "tcp", [], None, "control"),
                    self.flow(p2, SRV["slow"], 80, "tcp", ["http.injected_response", "http.blockpage"], {"http_host": h302}),
                    self.flow(p3, SRV["slow"], 80, "tcp", ["http.injected_response", "http.blockpage"], {"http_host": h200})],
                   extra={"injections": inj_log})

    def sc_http_dnat(self):
        name = "http-dnat"
        blocked, allowed = self.take_blocked(), self.take_allowed()
        reset_censor()
        ipt("-A PREROUTING -i c1 -d %s -p tcp --dport 80 -j DNAT --to-destination %s:80" % (SRV["web2"], BLOCKPAGE), "nat")
        cap = self.capture(name)
        p1, p2, p3 = self.port(), self.port(), self.port()
        self.http(allowed, SRV["web"], p1)
        self.http(blocked, SRV["web2"], p2)
        self.http(blocked, SRV["web2"], p3, https=True)
        self.stop_capture(cap)
        reset_censor()
        self.truth(name, "Transparent redirect (DNAT) of HTTP to a block-page server one hop from the client",
                   {"trigger": "ip", "blocked_ip": SRV["web2"], "blockpage_server": BLOCKPAGE + ":80",
                    "blockpage_ttl_initial": self.censor_ttl, "blockpage_ttl_at_client": self.censor_ttl - 1,
                    "title": "Access restricted", "residual_s": 0,
                    "mechanism": "iptables nat PREROUTING DNAT; the whole TCP connection is answered by the block-page server"},
                   [self.flow(p1, SRV["web"], 80, "tcp", [], None, "control"),
                    self.flow(p2, SRV["web2"], 80, "tcp", ["http.blockpage"], {"http_host": blocked}),
                    self.flow(p3, SRV["web2"], 443, "tcp", [], None, "HTTPS to the same address is not redirected")])

    def sc_dns_injection(self):
        name = "dns-injection"
        rng = self.rng
        n1, n2, allowed = self.take_blocked(), self.take_blocked(), self.take_allowed()
        pool = rng.sample(DNS_POOL, 4)
        r1 = {"type": "dns", "qname": n1, "flags": 0x8180, "pool": pool, "ttl": rng.randint(40, 250),
              "ipid": rng.randint(1, 65535), "answer_ttl": rng.choice([60, 148, 300])}
        r2 = {"type": "dns", "qname": n2, "flags": 0x8400, "pool": pool, "ttl": rng.randint(40, 250),
              "ipid": 0, "answer_ttl": rng.choice([60, 148, 300])}
        reset_censor()
        inj, logp = self.start_injector(name, [r1, r2])
        cap = self.capture(name)
        ports = [self.port() for _ in range(5)]
        self.dig(allowed, ports[0])
        self.dig(n1, ports[1])
        self.dig(n1, ports[2])
        self.dig(n2, ports[3])
        self.dig(allowed, ports[4])
        time.sleep(0.6)  # the genuine answers arrive ~0.3 s later
        self.stop_capture(cap)
        self.procs.stop(inj)
        inj_log = self.injected(logp)
        self.truth(name, "DNS injection: forged answers (flags 0x8180 and 0x8400, answers from a fixed pool) raced ahead of the resolver's",
                   {"trigger": "dns_qname", "profile": "gfw-dns", "resolver": RESOLVER, "resolver_delay_s": 0.3,
                    "pool": pool, "genuine_answer": SRV["web"],
                    "injectors": [{"qname": n1, "flags": "0x8180", "ttl": r1["ttl"], "ipid": r1["ipid"],
                                   "answer_ttl": r1["answer_ttl"]},
                                  {"qname": n2, "flags": "0x8400", "ttl": r2["ttl"], "ipid": r2["ipid"],
                                   "answer_ttl": r2["answer_ttl"]}], "residual_s": 0},
                   [self.flow(ports[0], RESOLVER, 53, "udp", [], None, "control"),
                    self.flow(ports[1], RESOLVER, 53, "udp", ["dns.injection"], {"dns_qname": n1}),
                    self.flow(ports[2], RESOLVER, 53, "udp", ["dns.injection"], {"dns_qname": n1}),
                    self.flow(ports[3], RESOLVER, 53, "udp", ["dns.injection"], {"dns_qname": n2}),
                    self.flow(ports[4], RESOLVER, 53, "udp", [], None, "control")],
                   extra={"injections": inj_log})

    def sc_dns_manipulation(self):
        name = "dns-manipulation"
        allowed = self.take_allowed()
        nx_name = "nonexistent-%d.lab.example" % self.rng.randint(100, 999)
        reset_censor()
        cap = self.capture(name)
        ports = [self.port() for _ in range(4)]
        self.dig(allowed, ports[0])
        self.dig(self.dns_blocked[0], ports[1])
        self.dig(self.dns_blocked[1], ports[2])
        self.dig(nx_name, ports[3])
        self.stop_capture(cap)
        self.truth(name, "DNS manipulation by the resolver: listed names answer the block address; a legitimate NXDOMAIN beside it",
                   {"trigger": "dns_qname", "resolver": RESOLVER, "block_address": BLOCK_ADDR,
                    "names": self.dns_blocked, "mechanism": "dnsmasq --address=/name/%s" % BLOCK_ADDR, "residual_s": 0},
                   [self.flow(ports[0], RESOLVER, 53, "udp", [], None, "control"),
                    self.flow(ports[1], RESOLVER, 53, "udp", ["dns.manipulation"], {"dns_qname": self.dns_blocked[0]}),
                    self.flow(ports[2], RESOLVER, 53, "udp", ["dns.manipulation"], {"dns_qname": self.dns_blocked[1]}),
                    self.flow(ports[3], RESOLVER, 53, "udp", [], {"dns_qname": nx_name}, "trap: legitimate NXDOMAIN")])

    def sc_throttle(self):
        name = "throttle"
        blocked, allowed = self.take_blocked(), self.take_allowed()
        rate_kbit = 128
        reset_censor()
        # mark the connection whose ClientHello carries the listed SNI, then police the server->client direction
        ipt("-A FORWARD -p tcp --dport 443 -m string --algo bm --string '%s' -j CONNMARK --set-mark 0x2" % blocked)
        ipt("-A POSTROUTING -o c1 -m connmark --mark 0x2 -j CLASSIFY --set-class 1:20", "mangle")
        # the policer: an htb class at the rate with a 3-packet pfifo; what does not fit is dropped
        nx("tsl-cen", "tc qdisc add dev c1 root handle 1: htb default 10")
        nx("tsl-cen", "tc class add dev c1 parent 1: classid 1:10 htb rate 1gbit")
        nx("tsl-cen", "tc class add dev c1 parent 1: classid 1:20 htb rate %dkbit ceil %dkbit burst 4k cburst 4k" % (rate_kbit, rate_kbit))
        nx("tsl-cen", "tc qdisc add dev c1 parent 1:20 handle 20: pfifo limit %d" % THR_QUEUE)
        cap = self.capture(name)
        p1, p2, p3 = self.port(), self.port(), self.port()
        self.http(allowed, SRV["bulk"], p1, path="/256k.bin", https=True, max_time=10)
        self.http(blocked, SRV["bulk"], p2, path="/96k.bin", https=True, max_time=15)
        self.http(allowed, SRV["limited"], p3, path="/64k.bin", https=True, max_time=15)
        self.stop_capture(cap)
        reset_censor()
        nx("tsl-cen", "tc qdisc del dev c1 root", check=False)
        self.truth(name, "SNI-triggered per-flow policer at ~128 kbit/s (drops above the rate), an unthrottled control on the same path, and a server that sends slowly by itself",
                   {"trigger": "sni", "sni": blocked, "rate_kbit": rate_kbit, "mechanism":
                    "iptables string match on the ClientHello -> connmark -> CLASSIFY; tc htb class %d kbit with a %d-packet pfifo on the client-facing link: packets above the rate that do not fit are dropped" % (rate_kbit, THR_QUEUE),
                    "direction": "server_to_client", "residual_s": 0},
                   [self.flow(p1, SRV["bulk"], 443, "tcp", [], None, "control: unthrottled 256 KiB download, same path"),
                    self.flow(p2, SRV["bulk"], 443, "tcp", ["throttling"], {"sni": blocked}, "96 KiB download through the policer"),
                    self.flow(p3, SRV["limited"], 443, "tcp", [], None, "trap: nginx limit_rate 16k, no loss")])

    def sc_tls_throttle(self):
        # Kazakhstan, 2022 (OONI): pages of a listed name loaded with TLS handshakes of 2-4 s that completed, while
        # other names on the same servers took a fraction of that. A page too small to have a rate: the policer
        # shows in the handshake, whose certificate flight it holds back.
        name = "tls-throttle"
        blocked, allowed = self.take_blocked(), self.take_allowed()
        per_min = 30
        reset_censor()
        ipt("-A FORWARD -p tcp --dport 443 -m string --algo bm --string '%s' -j CONNMARK --set-mark 0x2" % blocked)
        # the policer: per connection, server segments that carry data above one every 2 s are dropped (pure ACKs
        # pass); the server's certificate flight then trickles through its retransmissions
        ipt("-A FORWARD -p tcp --sport 443 -m connmark --mark 0x2 -m length --length 100:65535 -m hashlimit "
            "--hashlimit-above %d/minute --hashlimit-burst 1 --hashlimit-mode srcip,srcport,dstip,dstport "
            "--hashlimit-name tlsthr -j DROP" % per_min)
        cap = self.capture(name)
        p1, p2, p3 = self.port(), self.port(), self.port()
        self.http(allowed, SRV["bulk"], p1, path="/", https=True, max_time=10)
        self.http(blocked, SRV["bulk"], p2, path="/", https=True, max_time=25)
        self.http(allowed, SRV["bulk"], p3, path="/", https=True, max_time=10)
        self.stop_capture(cap)
        reset_censor()
        self.truth(name, "SNI-triggered per-connection policer on a small page: the TLS handshake takes seconds and completes; the same server's handshakes under another name before and after are fast",
                   {"trigger": "sni", "sni": blocked, "rate_per_minute": per_min, "mechanism":
                    "iptables string match on the ClientHello -> connmark; hashlimit drops the connection's server data segments above %d a minute (burst 1): the certificate flight gets through by retransmission" % per_min,
                    "direction": "server_to_client", "residual_s": 0},
                   [self.flow(p1, SRV["bulk"], 443, "tcp", [], None, "control: same server, another name, before"),
                    self.flow(p2, SRV["bulk"], 443, "tcp", ["throttling"], {"sni": blocked}, "small page through the policer: slow handshake"),
                    self.flow(p3, SRV["bulk"], 443, "tcp", [], None, "control: same server, another name, after")])

    def sc_blackout(self):
        name = "blackout"
        rng = self.rng
        before = rng.uniform(2.5, 3.5)
        dur = rng.uniform(3.0, 5.0)
        after = 2.5
        reset_censor()
        cap = self.capture(name)
        t0 = time.time()
        flows = []
        state = "before"
        window = None
        targets = [("web", 80), ("web2", 443), ("dns", 53), ("bulk", 80)]
        i = 0
        while time.time() - t0 < before + dur + after and i < 60:
            el = time.time() - t0
            if state == "before" and el >= before:
                ipt("-I FORWARD -j DROP")
                ws = time.time()
                state = "during"
            elif state == "during" and el >= before + dur:
                ipt("-D FORWARD -j DROP")
                we = time.time()
                window = (ws, we)
                state = "after"
            role, sp = targets[i % len(targets)]
            i += 1
            cp = self.port()
            exp = [] if state != "during" else (["blackout"] if sp == 53 else ["blackout", "tcp.blackhole"])
            ts = time.time()
            if sp == 53:
                qname = self.names[i % len(self.names)]
                # The lab resolver answers its DNS-blocked names with the block
                # address in every scenario: outside the blackout that answer
                # arrives and is DNS manipulation.
                if state != "during" and qname in self.dns_blocked:
                    exp = ["dns.manipulation"]
                self.dig(qname, cp, timeout=1)
                flows.append(self.flow(cp, RESOLVER, 53, "udp", exp,
                                       {"dns_qname": qname} if exp else None, state))
            else:
                self.http(self.names[i % len(self.names)], SRV[role], cp, https=(sp == 443), max_time=1)
                flows.append(self.flow(cp, SRV[role], sp, "tcp", exp, None, state))
            flows[-1]["started"] = iso(ts)
            time.sleep(max(0.0, 0.4 - (time.time() - ts)))
        if window is None:
            ipt("-D FORWARD -j DROP")
            window = (ws, time.time())
        self.stop_capture(cap)
        reset_censor()
        self.truth(name, "Blackout: the censor drops everything it forwards for a few seconds while the client keeps trying",
                   {"mechanism": "iptables -I FORWARD -j DROP", "duration_s": round(window[1] - window[0], 3),
                    "residual_s": 0},
                   flows, windows=[{"kind": "blackout", "start": iso(window[0]), "end": iso(window[1])}])

    def sc_benign_traps(self):
        name = "benign-traps"
        rng = self.rng
        loss = rng.choice([0.03, 0.04, 0.05])
        ct_timeout = 4
        fw_idle = ct_timeout + 2.5
        rc_idle = 2.0
        reset_censor()
        # a stateful firewall that forgets idle flows and resets what it no longer knows
        ipt("-A FORWARD -p tcp -m conntrack --ctstate INVALID -j REJECT --reject-with tcp-reset")
        nx("tsl-cen", "sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0")
        nx("tsl-cen", "sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_established=%d" % ct_timeout)
        # plain random loss on the path to one server, both directions
        ipt("-A FORWARD -d %s -m statistic --mode random --probability %s -j DROP" % (SRV["lossy"], loss))
        ipt("-A FORWARD -s %s -m statistic --mode random --probability %s -j DROP" % (SRV["lossy"], loss))
        unread = self.procs.start("tsl-srv", "%s %s/labsrv.py unread %s 8080" % (PY, HERE, SRV["drop444"]), "unread")
        time.sleep(0.5)
        pm = self.port()
        # a download that is already running when the capture starts
        mid = self.procs.start("tsl-cli", "curl -sS -o /dev/null --max-time 12 --local-port %d --resolve %s:80:%s http://%s/64k.bin"
                               % (pm, self.names[0], SRV["limited"], self.names[0]), "curl-mid")
        time.sleep(1.0)
        cap = self.capture(name)
        ports = {k: self.port() for k in ("closed", "unread", "444", "fin", "rstfin", "loss", "slow", "rc1", "rclong",
                                          "rc2", "fw")}
        web, web2 = SRV["web"], SRV["web2"]
        self.curl("http://%s:81/" % web, ports["closed"], max_time=3)
        self.curl("http://%s:8080/" % SRV["drop444"], ports["unread"], max_time=3)
        self.http(self.names[1], SRV["drop444"], ports["444"], max_time=3)
        self.http(self.names[2], web, ports["fin"])
        nx("tsl-cli", "timeout 10 %s %s/labsrv.py client-rst-after-fin %s %d %s 80 %s" % (
            PY, HERE, CLIENT, ports["rstfin"], web, self.names[3]), check=False)
        self.http(self.names[4], SRV["lossy"], ports["loss"], path="/256k.bin", max_time=15)
        self.http(self.names[5], SRV["limited"], ports["slow"], path="/32k.bin", max_time=10)
        # route change: one more router hop to web2 in both directions while a connection is open
        self.http(self.names[6], web2, ports["rc1"])
        rc = self.procs.start("tsl-cli", "%s %s/labsrv.py idle-client %s %d %s 80 %s %s" % (
            PY, HERE, CLIENT, ports["rclong"], web2, self.names[7], rc_idle), "idle-rc")
        fw = self.procs.start("tsl-cli", "%s %s/labsrv.py idle-client %s %d %s 80 %s %s" % (
            PY, HERE, CLIENT, ports["fw"], web, self.names[8], fw_idle), "idle-fw")
        time.sleep(rc_idle / 2)
        nx("tsl-cen", "ip route add %s/32 via 10.77.6.2" % web2)
        nx("tsl-hop", "ip rule add from %s lookup 100 pref 100" % web2)
        nx("tsl-hop", "ip route add default via 10.77.7.1 table 100")
        t_rc = time.time()
        wait_for(lambda: rc.poll() is not None, 10)
        self.http(self.names[9], web2, ports["rc2"])
        wait_for(lambda: fw.poll() is not None, 15)
        wait_for(lambda: mid.poll() is not None, 10)
        self.stop_capture(cap)
        for p in (rc, fw, mid, unread):
            self.procs.stop(p)
        nx("tsl-cen", "ip route del %s/32 via 10.77.6.2" % web2, check=False)
        nx("tsl-hop", "ip rule del from %s lookup 100 pref 100" % web2, check=False)
        nx("tsl-hop", "ip route flush table 100", check=False)
        nx("tsl-cen", "sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_established=432000", check=False)
        nx("tsl-cen", "sysctl -qw net.netfilter.nf_conntrack_tcp_loose=1", check=False)
        reset_censor()
        F = lambda k, srv, sp, note: self.flow(ports[k], srv, sp, "tcp", [], None, note)  # noqa: E731
        self.truth(name, "Benign traps that must not be flagged: server resets, closes, loss, slow server, route change, idle-timeout firewall, capture started mid-connection",
                   {"mechanism": "none (benign network behaviour)", "random_loss": loss, "lossy_server": SRV["lossy"],
                    "idle_firewall": {"conntrack_established_timeout_s": ct_timeout, "tcp_loose": 0,
                                      "action": "REJECT tcp-reset of INVALID packets", "ttl": self.censor_ttl},
                    "route_change": {"server": web2, "at": iso(t_rc), "ttl_before": self.server_ttl - 2,
                                     "ttl_after": self.server_ttl - 3},
                    "residual_s": 0},
                   [self.flow(pm, SRV["limited"], 80, "tcp", [], None, "trap: capture starts in the middle of this download (slow server)"),
                    F("closed", web, 81, "trap: closed port, RST from the server's kernel"),
                    F("unread", SRV["drop444"], 8080, "trap: the application closes with unread data, kernel RST"),
                    F("444", SRV["drop444"], 80, "trap: nginx return 444 closes without a response"),
                    F("fin", web, 80, "normal FIN close"),
                    F("rstfin", web, 80, "trap: the server closes with FIN, the client aborts (SO_LINGER 0): RST after the FIN"),
                    F("loss", SRV["lossy"], 80, "trap: retransmissions under plain random loss %s" % loss),
                    F("slow", SRV["limited"], 80, "trap: slow server (nginx limit_rate 16k)"),
                    F("rc1", web2, 80, "route change: before"),
                    F("rclong", web2, 80, "trap: route change in the middle of this connection shifts the server TTL by one"),
                    F("rc2", web2, 80, "route change: after (TTL one lower)"),
                    F("fw", web, 80, "trap: stateful firewall idle timeout resets the flow after %.1f s idle" % fw_idle)])

    def sc_tls_mitm(self):
        name = "tls-mitm"
        a, b, allowed = self.take_blocked(), self.take_blocked(), self.take_allowed()
        for n in (a, b):
            self.mitm_leaf(n)
        reset_censor()
        ipt("-A PREROUTING -i c1 -d %s -p tcp --dport 443 -j REDIRECT --to-ports 8443" % SRV["mitm"], "nat")
        px = self.procs.start("tsl-cen", "%s %s/mitm.py 8443 %s/ca %s/ca/lab-ca.pem %s,%s" % (
            PY, HERE, self.work, self.work, a, b), "mitm")
        wait_for(lambda: "ready" in open(os.path.join(self.work, "mitm.log")).read(), 10)
        cap = self.capture(name)
        p = [self.port() for _ in range(5)]
        self.http(allowed, SRV["mitm"], p[0], https=True)
        self.http(a, SRV["mitm"], p[1], https=True, extra="-k")
        self.http(b, SRV["mitm"], p[2], https=True)
        self.http(a, SRV["web"], p[3], https=True, extra="--tls-max 1.2")
        self.http(allowed, SRV["mitm"], p[4], https=True, extra="--tls-max 1.2")
        self.stop_capture(cap)
        self.procs.stop(px)
        reset_censor()
        self.truth(name, "TLS interception by a transparent proxy presenting certificates from a lab root named like Kazakhstan's (\"Qaznet Trust Network\"), for chosen SNIs only",
                   {"trigger": "sni", "snis": [a, b], "root": "C=KZ, CN=Qaznet Trust Network",
                    "intermediate": "C=KZ, CN=Security Certificate", "leaf_validity_days": 75,
                    "intercepted_ip": SRV["mitm"], "proxy_ttl": self.censor_ttl, "tls_max": "1.2",
                    "mechanism": "iptables nat REDIRECT of %s:443 to a Python proxy on the censor; listed SNIs are "
                                 "terminated with a forged chain, others spliced at the TCP level" % SRV["mitm"],
                    "genuine_root": "O=tamperscope lab, CN=tamperscope Lab Root CA", "residual_s": 0},
                   [self.flow(p[0], SRV["mitm"], 443, "tcp", [], None, "control: unlisted SNI spliced through the proxy (TLS 1.3)"),
                    self.flow(p[1], SRV["mitm"], 443, "tcp", ["tls.mitm"], {"sni": a}, "client accepts the forged chain (curl -k); data flows"),
                    self.flow(p[2], SRV["mitm"], 443, "tcp", ["tls.mitm"], {"sni": b}, "client rejects the forged chain (unknown CA alert)"),
                    self.flow(p[3], SRV["web"], 443, "tcp", [], {"sni": a}, "control: same SNI to an address the proxy does not intercept, genuine chain (TLS 1.2)"),
                    self.flow(p[4], SRV["mitm"], 443, "tcp", [], None, "control: unlisted SNI spliced, genuine chain visible (TLS 1.2)")])

    def ovpn_conf(self, proto, port, net):
        w = self.work
        conf = ("dev tun\nproto %s\nlocal %s\nport %d\nca %s/ca/lab-ca.pem\ncert %s/ca/server.pem\nkey %s/ca/server.key\n"
                "dh none\nserver %s 255.255.255.0\ntopology subnet\nverb 3\n" % (
                    proto, SRV["ovpn"], port, w, w, w, net))
        path = os.path.join(w, "ovpn-%s-%d.conf" % (proto, port))
        open(path, "w").write(conf)
        return path

    def ovpn_client(self, proto, port, lport, max_s, extra=""):
        w = self.work
        return ("timeout %d openvpn --client --dev tun --proto %s --remote %s %d --ca %s/ca/lab-ca.pem --cert %s/ca/client.pem "
                "--key %s/ca/client.key --verb 3 --connect-retry-max 1 --resolv-retry 0 %s %s" % (
                    max_s, proto, SRV["ovpn"], port, w, w, w,
                    ("--lport %d --bind" % lport) if lport else "--nobind", extra))

    def port_range(self, p):
        nx("tsl-cli", "sysctl -qw net.ipv4.ip_local_port_range='%d %d'" % (p, p))

    def port_range_reset(self):
        nx("tsl-cli", "sysctl -qw net.ipv4.ip_local_port_range='45000 60999'")

    def sc_vpn_openvpn(self):
        name = "vpn-openvpn"
        reset_censor()
        # UDP: the first P_CONTROL_V1 passes and marks the flow, everything after it is dropped (both directions)
        ipt("-A FORWARD -m connmark --mark 0x3 -j DROP")
        ipt("-A FORWARD -p udp -d %s --dport 1194 -m u32 --u32 '0>>22&0x3C@8>>27=4' -j CONNMARK --set-mark 0x3" % SRV["ovpn"])
        # TCP: the client's P_CONTROL_HARD_RESET_CLIENT_V2 (opcode 7 after the 2-byte length) is answered with a RST
        ipt("-A FORWARD -p tcp -d %s --dport 1194 -m u32 --u32 '0>>22&0x3C@12>>26&0x3C@0>>8&0xF8=0x38' "
            "-j REJECT --reject-with tcp-reset" % SRV["ovpn"])
        su = self.procs.start("tsl-srv", "openvpn --config %s" % self.ovpn_conf("udp", 1194, "10.99.0.0"), "ovpn-srv-udp")
        sc = self.procs.start("tsl-srv", "openvpn --config %s" % self.ovpn_conf("udp", 1195, "10.99.1.0"), "ovpn-srv-udp2")
        st = self.procs.start("tsl-srv", "openvpn --config %s" % self.ovpn_conf("tcp-server", 1194, "10.99.2.0"), "ovpn-srv-tcp")
        time.sleep(2.0)
        cap = self.capture(name)
        pc, pu, pt = self.port(), self.port(), self.port()
        # control: OpenVPN over UDP to a port the censor does not watch completes its handshake
        cc = self.procs.start("tsl-cli", self.ovpn_client("udp", 1195, pc, 8), "ovpn-cli-ctl")
        wait_for(lambda: "Initialization Sequence Completed" in open(os.path.join(self.work, "ovpn-cli-ctl.log")).read(), 8)
        self.procs.stop(cc)
        cu = self.procs.start("tsl-cli", self.ovpn_client("udp", 1194, pu, 9), "ovpn-cli-udp")
        wait_for(lambda: cu.poll() is not None, 12)
        self.port_range(pt)
        ct = self.procs.start("tsl-cli", self.ovpn_client("tcp-client", 1194, 0, 4), "ovpn-cli-tcp")
        wait_for(lambda: ct.poll() is not None, 8)
        self.port_range_reset()
        self.stop_capture(cap)
        for p in (cc, cu, ct, su, sc, st):
            self.procs.stop(p)
        reset_censor()
        self.truth(name, "OpenVPN blocking: UDP stalled after the first P_CONTROL_V1; OpenVPN over TCP reset at its first packet; an unblocked OpenVPN/UDP control",
                   {"trigger": "protocol", "udp": {"port": 1194, "action": "the first P_CONTROL_V1 passes, then every packet of the flow is dropped (connmark)",
                                                   "match": "u32 opcode 4 (P_CONTROL_V1)"},
                    "tcp": {"port": 1194, "action": "REJECT --reject-with tcp-reset of P_CONTROL_HARD_RESET_CLIENT_V2",
                            "ttl": self.censor_ttl}, "residual_s": 0},
                   [self.flow(pc, SRV["ovpn"], 1195, "udp", [], None, "control: handshake completes"),
                    self.flow(pu, SRV["ovpn"], 1194, "udp", ["vpn.interference"], None, "stalled after the first P_CONTROL_V1"),
                    self.flow(pt, SRV["ovpn"], 1194, "tcp", ["vpn.interference", "tcp.injected_rst"], None, "reset at the first OpenVPN packet")])

    def sc_vpn_wireguard(self):
        name = "vpn-wireguard"
        w = self.work
        reset_censor()
        ipt("-A FORWARD -p udp -d %s --dport 51820 -m length --length 176 -m u32 --u32 '0>>22&0x3C@8>>24=1' -j DROP" % SRV["wg"])
        keys = {}
        for k in ("srv", "cli"):
            priv = sh("wg genkey", capture=True).stdout.strip()
            pub = sh("echo %s | wg pubkey" % priv, capture=True).stdout.strip()
            open(os.path.join(w, "wg-%s.key" % k), "w").write(priv + "\n")
            keys[k] = pub
        ps = []
        pb, pc = self.port(), self.port()
        for n, sport, net, cport in ((0, 51820, "10.98.0", pb), (1, 51821, "10.98.1", pc)):
            si, ci = "wgs%d" % n, "wgc%d" % n   # distinct names: the UAPI sockets in /var/run/wireguard are shared
            ps.append(self.procs.start("tsl-srv", "wireguard-go -f %s" % si, "wg-srv-%d" % n))
            ps.append(self.procs.start("tsl-cli", "wireguard-go -f %s" % ci, "wg-cli-%d" % n))
            wait_for(lambda: si in out("tsl-srv", "ip link") and ci in out("tsl-cli", "ip link"), 5)
            nx("tsl-srv", "wg set %s listen-port %d private-key %s/wg-srv.key peer %s allowed-ips %s.2/32" % (si, sport, w, keys["cli"], net))
            nx("tsl-srv", "ip addr add %s.1/24 dev %s" % (net, si))
            nx("tsl-srv", "ip link set %s up" % si)
            nx("tsl-cli", "wg set %s listen-port %d private-key %s/wg-cli.key peer %s allowed-ips %s.1/32 endpoint %s:%d" % (
                ci, cport, w, keys["srv"], net, SRV["wg"], sport))
            nx("tsl-cli", "ip addr add %s.2/24 dev %s" % (net, ci))
            nx("tsl-cli", "ip link set %s up" % ci)
        cap = self.capture(name)
        nx("tsl-cli", "ping -c 2 -W 2 10.98.1.1", check=False)
        t0 = time.time()
        nx("tsl-cli", "timeout 15 ping -c 12 -i 1 -W 1 10.98.0.1", check=False, timeout=20)
        self.stop_capture(cap)
        for p in ps:
            self.procs.stop(p)
        reset_censor()
        self.truth(name, "WireGuard handshake initiations dropped (148-byte type-1 messages); the client retries without a response; an unblocked WireGuard control",
                   {"trigger": "protocol", "port": 51820, "action": "DROP udp length 176 (IP) with first payload byte 1",
                    "mechanism": "iptables -m length -m u32", "implementation": "wireguard-go", "residual_s": 0},
                   [self.flow(pc, SRV["wg"], 51821, "udp", [], None, "control: handshake completes, pings answered"),
                    self.flow(pb, SRV["wg"], 51820, "udp", ["vpn.interference"], None, "initiations unanswered")])

    def sc_vpn_shadowsocks(self):
        name = "vpn-shadowsocks"
        rng = self.rng
        residual = rng.choice([5, 6, 7])
        reset_censor()
        inj, logp = self.start_injector(name, [{"type": "fet", "dport": 8388, "residual_s": residual}])
        pw = "lab-%d" % rng.randint(1000, 9999)
        ss = self.procs.start("tsl-srv", "ss-server -s %s -p 8388 -k %s -m chacha20-ietf-poly1305 -u" % (SRV["ss"], pw), "ss-server")
        time.sleep(0.5)
        cap = self.capture(name)
        ports = [self.port() for _ in range(4)]
        loc = [self.port() for _ in range(4)]
        flows = []

        def via_ss(i, max_time):
            self.port_range(ports[i])
            sl = self.procs.start("tsl-cli", "ss-local -s %s -p 8388 -l 1080 -b 127.0.0.1 -k %s -m chacha20-ietf-poly1305" % (
                SRV["ss"], pw), "ss-local-%d" % i)
            time.sleep(0.4)
            # through the proxy to the slow server (nginx limit_rate 16k): the download outlives the censor's reaction
            self.curl("http://%s/32k.bin" % SRV["limited"], loc[i], extra="--socks5 127.0.0.1:1080", max_time=max_time)
            self.procs.stop(sl)
            self.port_range_reset()

        via_ss(0, 4)
        t_block = time.time()
        via_ss(1, 2)
        pctl = self.port()
        self.http(self.names[0], SRV["web"], pctl)
        wait_for(lambda: time.time() - t_block > residual + 0.5, residual + 2)
        via_ss(2, 6)
        self.stop_capture(cap)
        self.procs.stop(inj)
        self.procs.stop(ss)
        inj_log = self.injected(logp)
        self.truth(name, "Shadowsocks (fully encrypted first packet) detected by a GFW-style entropy rule, then the server ip:port dropped for a while (residual block, scaled down from 180 s)",
                   {"trigger": "fet", "rule": "popcount/byte in (3.4, 4.6), no printable prefix/majority/run, no TLS/HTTP prefix",
                    "action": "DROP client->server packets to the server ip:port", "server": "%s:8388" % SRV["ss"],
                    "residual_s": residual, "scaled_from_s": 180, "cipher": "chacha20-ietf-poly1305",
                    "mechanism": "scapy sniffer on the censor inserts an iptables rule after the first data packet"},
                   [self.flow(ports[0], SRV["ss"], 8388, "tcp", ["vpn.interference", "tcp.blackhole"], None, "first connection (32 KiB download from a slow server): its first packet passes, then the client's packets are dropped and the download stalls"),
                    self.flow(ports[1], SRV["ss"], 8388, "tcp", ["residual_block", "tcp.blackhole"], None, "inside the residual window: SYN dropped"),
                    self.flow(pctl, SRV["web"], 80, "tcp", [], None, "control during the residual window"),
                    self.flow(ports[2], SRV["ss"], 8388, "tcp", [], None, "after the residual window: works")],
                   extra={"injections": inj_log})

    def quic_client(self, sport, ip, sni, timeout=2.5):
        r = sh("ip netns exec tsl-cli timeout %d %s %s/quicapp.py client %d %s 443 %s %s/ca/lab-ca.pem %s" % (
            int(timeout) + 5, VENV_PY, HERE, sport, ip, sni, self.work, timeout), check=False, capture=True, timeout=timeout + 10)
        self.note("quic %s %s port %d -> %s %s" % (ip, sni, sport, r.stdout.strip(), r.stderr.strip()[-200:]))
        return r

    def sc_quic_sni(self):
        name = "quic-sni"
        rng = self.rng
        blocked, allowed, allowed2 = self.take_blocked(), self.take_allowed(), self.take_allowed()
        residual = rng.choice([9, 10, 11])
        reset_censor()
        ipt("-A FORWARD -i c1 -p udp --dport 443 -m u32 --u32 '0>>22&0x3C@8>>24&0xF0=0xC0' -j DROP")
        srvs = [self.procs.start("tsl-srv", "%s %s/quicapp.py server %s 443 %s/ca/server-chain.pem %s/ca/server.key" % (
            VENV_PY, HERE, SRV[r], self.work, self.work), "quic-srv-" + r) for r in ("quic", "quic2")]
        cfg = {"iface": "c1", "snis": [blocked], "residual_s": residual, "ready": os.path.join(self.work, "quicensor.ready"),
               "log": os.path.join(self.work, "quicensor.jsonl")}
        write_json(os.path.join(self.work, "quicensor.json"), cfg)
        qc = self.procs.start("tsl-cen", "%s %s/quicensor.py %s/quicensor.json" % (VENV_PY, HERE, self.work), "quicensor")
        if not wait_for(lambda: os.path.exists(cfg["ready"]), 30):
            raise RuntimeError("quic censor did not start")
        time.sleep(1.0)
        cap = self.capture(name)
        p = [self.port() for _ in range(5)]
        self.quic_client(p[0], SRV["quic"], allowed)
        t_block = time.time()
        self.quic_client(p[1], SRV["quic"], blocked)
        self.quic_client(p[2], SRV["quic"], allowed2)
        self.quic_client(p[3], SRV["quic2"], blocked)
        wait_for(lambda: time.time() - t_block > residual + 0.7, residual + 2)
        self.quic_client(p[4], SRV["quic"], allowed)
        self.stop_capture(cap)
        for x in srvs + [qc]:
            self.procs.stop(x)
        reset_censor()
        events = [json.loads(l) for l in open(cfg["log"])] if os.path.exists(cfg["log"]) else []
        self.truth(name, "QUIC SNI blocking (GFW 2024 style): Initials with a listed SNI dropped, then the 3-tuple (client IP, server IP, server port) dropped for a while; other QUIC passes",
                   {"trigger": "sni", "sni": blocked, "blocked_server": "%s:443" % SRV["quic"], "residual_s": residual,
                    "scaled_from_s": 180, "condition": "source port > destination port",
                    "mechanism": "iptables drops every client Initial (u32 first byte & 0xF0 = 0xC0); a userspace censor "
                                 "(aioquic Initial decryption) reads the SNI and re-sends unlisted Initials with TTL-1; "
                                 "a listed SNI adds an iptables DROP for the 3-tuple for residual_s",
                    "forwarded_initial_ttl_decrement": 1},
                   [self.flow(p[0], SRV["quic"], 443, "udp", [], {"sni": allowed}, "control before"),
                    self.flow(p[1], SRV["quic"], 443, "udp", ["quic.interference"], {"sni": blocked}, "listed SNI: Initials unanswered"),
                    self.flow(p[2], SRV["quic"], 443, "udp", ["residual_block", "quic.interference"], {"sni": allowed2},
                              "unlisted SNI, same 3-tuple inside the residual window: unanswered"),
                    self.flow(p[3], SRV["quic2"], 443, "udp", ["quic.interference"], {"sni": blocked}, "listed SNI to another server: unanswered"),
                    self.flow(p[4], SRV["quic"], 443, "udp", [], {"sni": allowed}, "after the residual window: works")],
                   extra={"censor_events": events})

    def run(self, names):
        for n in names:
            fn = getattr(self, "sc_" + n.replace("-", "_"))
            print("== scenario %s" % n, flush=True)
            t0 = time.time()
            fn()
            print("   done in %.1f s" % (time.time() - t0), flush=True)


SCENARIOS = ["http-host-rst", "tls-sni-reset", "tls-sni-drop", "tls-ech-drop", "gfw-rst", "http-blockpage", "http-dnat",
             "dns-injection", "dns-manipulation", "throttle", "tls-throttle", "blackout", "benign-traps", "tls-mitm", "vpn-openvpn", "vpn-wireguard", "vpn-shadowsocks", "quic-sni"]
THR_QUEUE = 3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(HERE, "captures"))
    ap.add_argument("--work", default="/tmp/tsl-work")
    ap.add_argument("scenarios", nargs="*")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    names = a.scenarios or SCENARIOS
    lab = Lab(a.seed, a.out, a.work)
    t0 = time.time()
    try:
        lab.setup()
        lab.run(names)
    finally:
        lab.procs.stop_all()
        teardown_ns()
    print("lab finished in %.1f s" % (time.time() - t0))


if __name__ == "__main__":
    main()
