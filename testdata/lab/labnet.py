"""Namespace topology and process helpers for the tamperscope interference lab.

Topology (every address is a lab address; no namespace has a link to the host):

    tsl-cli 10.77.1.2 --- 10.77.1.1 tsl-cen 10.77.2.1 --- 10.77.2.2 tsl-hop 10.77.4.1 --- 10.77.4.2 tsl-srv
                                    tsl-cen 10.77.3.1 --- 10.77.3.2 tsl-dns (resolver)
                                    tsl-cen 10.77.6.1 --- 10.77.6.2 tsl-hop2 10.77.7.1 --- 10.77.7.2 tsl-hop
                                    tsl-cen 10.77.8.1 --- 10.77.8.2 tsl-bp (block-page server, one hop from censor)

tsl-srv owns the server addresses 203.0.113.10-40/32; the censor reaches them through tsl-hop (2 router hops
between client and server). tsl-hop2 is an alternative path one hop longer, used for the route-change trap.
"""
import json
import os
import signal
import subprocess
import time

NS = ["tsl-cli", "tsl-cen", "tsl-hop", "tsl-hop2", "tsl-srv", "tsl-dns", "tsl-bp"]
CLIENT = "10.77.1.2"
RESOLVER = "10.77.3.2"
BLOCKPAGE = "10.77.8.2"

# server roles -> address
SRV = {
    "web": "203.0.113.10",      # nginx HTTP + HTTPS (fast), lab CA cert for every lab name
    "slow": "203.0.113.11",     # nginx in front of a slow origin (0.4 s) so injected packets win the race
    "limited": "203.0.113.12",  # nginx limit_rate (slow server trap)
    "drop444": "203.0.113.13",  # nginx return 444 and other benign server resets
    "web2": "203.0.113.14",     # second web server (controls, route-change trap)
    "lossy": "203.0.113.15",    # path with random loss (benign trap)
    "mitm": "203.0.113.16",     # HTTPS server behind the intercepting proxy
    "quic": "203.0.113.20",     # QUIC server (listed names)
    "quic2": "203.0.113.21",    # QUIC control server
    "ovpn": "203.0.113.30",
    "wg": "203.0.113.31",
    "ss": "203.0.113.32",
    "ssh": "203.0.113.33",
    "bulk": "203.0.113.34",     # bulk downloads (throttling, mid-capture start)
}

VETHS = [
    # (ns_a, if_a, addr_a, ns_b, if_b, addr_b)
    ("tsl-cli", "c0", "10.77.1.2/24", "tsl-cen", "c1", "10.77.1.1/24"),
    ("tsl-cen", "r0", "10.77.2.1/24", "tsl-hop", "r1", "10.77.2.2/24"),
    ("tsl-hop", "s0", "10.77.4.1/24", "tsl-srv", "s1", "10.77.4.2/24"),
    ("tsl-cen", "d0", "10.77.3.1/24", "tsl-dns", "d1", "10.77.3.2/24"),
    ("tsl-cen", "a0", "10.77.6.1/24", "tsl-hop2", "a1", "10.77.6.2/24"),
    ("tsl-hop2", "b0", "10.77.7.1/24", "tsl-hop", "b1", "10.77.7.2/24"),
    ("tsl-cen", "p0", "10.77.8.1/24", "tsl-bp", "p1", "10.77.8.2/24"),
]


def sh(cmd, check=True, capture=False, timeout=60):
    r = subprocess.run(cmd, shell=True, check=False, timeout=timeout,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE if capture else subprocess.DEVNULL, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s" % (r.returncode, cmd, (r.stderr or "")[-2000:]))
    return r


def nx(ns, cmd, **kw):
    return sh("ip netns exec %s %s" % (ns, cmd), **kw)


def out(ns, cmd, timeout=60):
    r = sh("ip netns exec %s %s" % (ns, cmd), check=False, capture=True, timeout=timeout)
    return r.stdout


class Procs:
    """Background processes, each in its own process group, killed by pid at teardown."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.procs = []

    def start(self, ns, cmd, name):
        log = open(os.path.join(self.logdir, name + ".log"), "ab")
        p = subprocess.Popen(["ip", "netns", "exec", ns, "sh", "-c", "exec " + cmd], stdout=log,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        p._tsl_name = name
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, wait=5):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(wait)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(5)
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in list(reversed(self.procs)):
            self.stop(p)


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return False


def teardown_ns():
    for ns in NS:
        sh("ip netns pids %s 2>/dev/null | xargs -r kill -9" % ns, check=False)
        sh("ip netns del %s" % ns, check=False)


def setup_topology(server_ttl, censor_ttl):
    teardown_ns()
    for ns in NS:
        sh("ip netns add %s" % ns)
        nx(ns, "ip link set lo up")
        nx(ns, "sysctl -qw net.ipv6.conf.all.disable_ipv6=1")
        nx(ns, "sysctl -qw net.ipv6.conf.default.disable_ipv6=1")
    for (na, ia, aa, nb, ib, ab) in VETHS:
        sh("ip link add %s netns %s type veth peer name %s netns %s" % (ia, na, ib, nb))
        for ns, ifc, addr in ((na, ia, aa), (nb, ib, ab)):
            nx(ns, "ip addr add %s dev %s" % (addr, ifc))
            nx(ns, "ip link set %s up" % ifc)
            # real segment sizes and real checksums in the captures
            nx(ns, "ethtool -K %s tso off gso off gro off tx off rx off" % ifc, check=False)
    for ns in ("tsl-cen", "tsl-hop", "tsl-hop2"):
        nx(ns, "sysctl -qw net.ipv4.ip_forward=1")
    for ns in NS:
        nx(ns, "sysctl -qw net.ipv4.conf.all.rp_filter=0")
        nx(ns, "sysctl -qw net.ipv4.conf.default.rp_filter=0")
    nx("tsl-cli", "ip route add default via 10.77.1.1")
    nx("tsl-dns", "ip route add default via 10.77.3.1")
    nx("tsl-bp", "ip route add default via 10.77.8.1")
    nx("tsl-srv", "ip route add default via 10.77.4.1")
    for a in sorted(set(SRV.values())):
        nx("tsl-srv", "ip addr add %s/32 dev lo" % a)
    nx("tsl-hop", "ip route add default via 10.77.2.1")
    nx("tsl-hop", "ip route add 203.0.113.0/24 via 10.77.4.2")
    nx("tsl-hop2", "ip route add default via 10.77.6.1")
    nx("tsl-hop2", "ip route add 203.0.113.0/24 via 10.77.7.2")
    nx("tsl-hop2", "ip route add 10.77.4.0/24 via 10.77.7.2")
    nx("tsl-cen", "ip route add 203.0.113.0/24 via 10.77.2.2")
    nx("tsl-cen", "ip route add 10.77.4.0/24 via 10.77.2.2")
    nx("tsl-srv", "sysctl -qw net.ipv4.ip_default_ttl=%d" % server_ttl)
    nx("tsl-dns", "sysctl -qw net.ipv4.ip_default_ttl=%d" % server_ttl)
    nx("tsl-bp", "sysctl -qw net.ipv4.ip_default_ttl=%d" % censor_ttl)
    nx("tsl-cen", "sysctl -qw net.ipv4.ip_default_ttl=%d" % censor_ttl)
    # sanity: the client reaches the server and the resolver, the host network is unreachable
    nx("tsl-cli", "ping -c1 -W2 203.0.113.10")
    nx("tsl-cli", "ping -c1 -W2 10.77.3.2")
    nx("tsl-cli", "ping -c1 -W2 10.77.8.2")


def reset_censor():
    for t in ("filter", "nat", "mangle", "raw"):
        nx("tsl-cen", "iptables -t %s -F" % t, check=False)
        nx("tsl-cen", "iptables -t %s -X" % t, check=False)
    nx("tsl-cen", "conntrack -F", check=False)


def ipt(rule, table="filter"):
    nx("tsl-cen", "iptables -t %s %s" % (table, rule))


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")
