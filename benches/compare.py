#!/usr/bin/env python3
"""Paired, alternating whole-process timings against the parse floor.

Driven by benches/compare.sh (which builds the binaries and prepares the
files); see there for the knobs. Every command A is run alternately with a
reference B (A B A B ...); the ratio reported is the median of the per-pair
ratios A/B, never a ratio of separately measured times. Absolute medians are
printed for the record, but only the ratios carry over to another machine.
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time


def env_int(name, default):
    return int(os.environ.get(name, default))


def run(cmd, stdout=subprocess.DEVNULL):
    """Run cmd once; return (wall seconds, cpu seconds, max RSS KiB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0,):
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def paired(a, b, pairs):
    """A B A B ...: per-pair ratios and both sides' samples."""
    run(a)  # warm-up (page cache, binary)
    run(b)
    ra, rb, cpu_a, rss_a = [], [], [], []
    for _ in range(pairs):
        wa, ca, ma = run(a)
        wb, _, _ = run(b)
        ra.append(wa)
        rb.append(wb)
        cpu_a.append(ca)
        rss_a.append(ma)
    ratios = [x / y for x, y in zip(ra, rb)]
    return {
        "pairs": pairs,
        "a": statistics.median(ra),
        "b": statistics.median(rb),
        "ratio": statistics.median(ratios),
        "min": min(ratios),
        "max": max(ratios),
        "cpu_a": statistics.median(cpu_a),
        "maxrss_a": max(rss_a),
    }


def status_kib(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("RssAnon", "VmHWM", "RssFile", "VmRSS"):
                    out[k] = int(v.split()[0])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return out


def anon_peak(cmd, out_path):
    """Run cmd with stdout to out_path, sampling /proc every ~1 ms; return the
    peak anonymous RSS (RssAnon) and the peak total RSS (VmHWM, which counts
    the mapped capture's pages too), in KiB."""
    with open(out_path, "wb") as out:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL)
        peak = 0
        hwm = 0
        while p.poll() is None:
            s = status_kib(p.pid)
            peak = max(peak, s.get("RssAnon", 0))
            hwm = max(hwm, s.get("VmHWM", 0))
            time.sleep(0.001)
    if p.returncode != 0:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}")
    return peak, hwm


def last_stats(path):
    stats = {}
    with open(path, "rb") as f:
        for line in f:
            if b'"event_type":"stats"' in line:
                stats = json.loads(line)
    return stats


def main():
    bins = os.environ["BINS"]
    pcap = os.environ["CAP"]
    pcapng = os.environ["CAPNG"]
    double = os.environ.get("DOUBLE", "")
    tmp = os.environ.get("TMPDIR", "/tmp")
    pairs = env_int("PAIRS", 11)
    slow = env_int("SLOW_PAIRS", 5)
    tshark_pairs = env_int("TSHARK_PAIRS", 3)
    skip = set(os.environ.get("SKIP", "").split(","))

    analyze = f"{bins}/analyze"
    floor_cmd = [f"{bins}/floor", pcap]

    def an(j, f):
        return [analyze, "--jsonl", "-q", "-j", str(j), f]

    rows = []  # (label, file, result)
    plan = [
        ("parse floor (self-pair)", "pcap", floor_cmd, pairs),
        ("parse floor --prefetch", "pcap", [f"{bins}/floor", "--prefetch", pcap], pairs),
        ("parse floor", "pcapng", [f"{bins}/floor", pcapng], pairs),
        # The least a flow-aware tool pays: the floor plus a 5-tuple → counters
        # map (hashbrown + foldhash), no connection state, no payload.
        ("parse floor --flows", "pcap", [f"{bins}/floor", "--flows", pcap], pairs),
        ("analyze --jsonl -j 1", "pcap", an(1, pcap), pairs),
        ("analyze --jsonl -j 2", "pcap", an(2, pcap), pairs),
        ("analyze --jsonl -j 1", "pcapng", an(1, pcapng), pairs),
        ("analyze --jsonl -j 2", "pcapng", an(2, pcapng), pairs),
        ("tcpdump -r F -w /dev/null", "pcap", ["tcpdump", "-r", pcap, "-w", "/dev/null"], pairs),
        ("tcpdump -r F -w /dev/null", "pcapng", ["tcpdump", "-r", pcapng, "-w", "/dev/null"], pairs),
        ("ndpiReader -i F", "pcap", ["ndpiReader", "-i", pcap], slow),
        ("ndpiReader -i F", "pcapng", ["ndpiReader", "-i", pcapng], slow),
        ("tshark -r F -q -z conv,tcp", "pcap", ["tshark", "-r", pcap, "-q", "-z", "conv,tcp"], tshark_pairs),
        ("tshark -r F -q -z conv,tcp", "pcapng", ["tshark", "-r", pcapng, "-q", "-z", "conv,tcp"], tshark_pairs),
    ]
    # The analysis cut off after each stage (examples/stages.rs): where the time
    # between the floor and analyze goes.
    stages = [] if "stages" in skip else [
        (f"stages {s}", "pcap", [f"{bins}/stages", s, pcap], pairs)
        for s in ("walk", "decode", "count", "flows", "judge")
    ]
    direct = [
        ("analyze -j 2 / analyze -j 1", "pcap", an(2, pcap), an(1, pcap), pairs),
        ("analyze pcapng / analyze pcap (-j 1)", "both", an(1, pcapng), an(1, pcap), pairs),
        ("analyze pcapng / analyze pcap (-j 2)", "both", an(2, pcapng), an(2, pcap), pairs),
    ]
    for label, f, cmd, n in plan + stages:
        tool = cmd[0].rsplit("/", 1)[-1]
        if tool in skip or label in skip:
            continue
        print(f"# {label} [{f}] x{n} ...", file=sys.stderr, flush=True)
        rows.append((label, f, paired(cmd, floor_cmd, n)))
    drows = []
    for label, f, a, b, n in direct:
        if "direct" in skip:
            continue
        print(f"# {label} x{n} ...", file=sys.stderr, flush=True)
        drows.append((label, f, paired(a, b, n)))

    mem = []
    if "memory" not in skip:
        files = [("pcap", pcap)] + ([("2x pcap", double)] if double else [])
        for j in (1, 2):
            for name, f in files:
                print(f"# memory analyze -j {j} [{name}] ...", file=sys.stderr, flush=True)
                out = os.path.join(tmp, f"tamperscope-compare-{os.getpid()}.jsonl")
                peak, hwm = anon_peak(an(j, f), out)
                st = last_stats(out)
                os.unlink(out)
                mem.append((j, name, peak, hwm, st.get("peak_live_flows", 0), st.get("flows", 0)))

    report(rows, drows, mem)


def stage_table(by):
    """Each stage's ratio to the floor and what it adds to the one before; the
    `count` rung (a bare flow-key map) is a reference beside the stages."""
    names = [("walk", "record walk (`Capture::frames`)"),
             ("decode", "+ decode to transport header and payload"),
             ("flows", "+ flow tables (Zeek states, stream heads, baselines, expiry)"),
             ("judge", "+ detectors (`Analyzer::records`, records not formatted)")]
    got = [(what, by.get((f"stages {n}", "pcap"))) for n, what in names]
    if not any(r for _, r in got):
        return
    full = by.get(("analyze --jsonl -j 1", "pcap"))
    if full:
        got.append(("+ JSON Lines output (`analyze --jsonl -j 1`)", full))
    p = print
    p("")
    p("### Where the time goes (examples/stages.rs: the analysis cut off after each stage, 1 thread, pcap)")
    p("")
    p("| Stage | A / floor | Added by the stage (× floor) |")
    p("|---|---|---|")
    prev = 0.0
    for what, r in got:
        if r is None:
            continue
        p(f"| {what} | {r['ratio']:.2f} | {r['ratio'] - prev:+.2f} |")
        prev = r["ratio"]
    count, decode = by.get(("stages count", "pcap")), by.get(("stages decode", "pcap"))
    if count and decode:
        p(f"| (reference: decode + a bare flow-key → counters map, `stages count`) | {count['ratio']:.2f} "
          f"| {count['ratio'] - decode['ratio']:+.2f} over decode |")


def fmt_s(x):
    return f"{x:.3f}" if x < 10 else f"{x:.2f}"


def report(rows, drows, mem):
    p = print
    p("### Paired whole-process timings (B = parse floor: pcap-parser + etherparse over mmap, pcap, 1 thread)")
    p("")
    p("| Command (A) | File | Pairs | A median (s) | B median (s) | **A / floor** (median of per-pair ratios) | min–max | A cpu (s) | A max RSS (MiB) |")
    p("|---|---|---|---|---|---|---|---|---|")
    by = {}
    for label, f, r in rows:
        by[(label, f)] = r
        p(
            f"| `{label}` | {f} | {r['pairs']} | {fmt_s(r['a'])} | {fmt_s(r['b'])} | **{r['ratio']:.2f}** "
            f"| {r['min']:.2f}–{r['max']:.2f} | {fmt_s(r['cpu_a'])} | {r['maxrss_a'] / 1024:.0f} |"
        )
    stage_table(by)
    if drows:
        p("")
        p("### Direct pairs (A and B both analyze)")
        p("")
        p("| A / B | File | Pairs | A median (s) | B median (s) | **A / B** | min–max |")
        p("|---|---|---|---|---|---|---|")
        for label, f, r in drows:
            by[(label, f)] = r
            p(
                f"| {label} | {f} | {r['pairs']} | {fmt_s(r['a'])} | {fmt_s(r['b'])} | **{r['ratio']:.2f}** "
                f"| {r['min']:.2f}–{r['max']:.2f} |"
            )
    if mem:
        p("")
        p("### Anonymous memory of analyze --jsonl (peak RssAnon sampled every ~1 ms; mapped file pages excluded)")
        p("")
        p("| Threads | File | Peak RssAnon (MiB) | VmHWM, incl. mapped file (MiB) | flows | peak_live_flows | Limit 64 MiB + 1 KiB × peak_live_flows | Within |")
        p("|---|---|---|---|---|---|---|---|")
        for j, name, peak, hwm, live, flows in mem:
            limit = 64 * 1024 + live
            p(
                f"| {j} | {name} | {peak / 1024:.1f} | {hwm / 1024:.1f} | {flows} | {live} | {limit / 1024:.1f} MiB "
                f"| {'yes' if peak <= limit else 'NO'} |"
            )

    # The owner's targets, from the rows above.
    p("")
    p("### Targets")
    p("")
    p("| Target | Goal | Measured | Met |")
    p("|---|---|---|---|")

    def ratio(label, f):
        r = by.get((label, f))
        return r["ratio"] if r else None

    def line(name, goal, val, ok, unit="×"):
        if val is None:
            p(f"| {name} | {goal} | not measured | – |")
        else:
            p(f"| {name} | {goal} | {val:.2f}{unit} | {'yes' if ok(val) else 'NO'} |")

    a1 = ratio("analyze --jsonl -j 1", "pcap")
    line("analyze -j 1, pcap, vs parse floor", "≤ 1.6×", a1, lambda v: v <= 1.6)
    ff = ratio("parse floor --flows", "pcap")
    if ff is not None:
        # Not a target: the bound's headroom. Above 1.6×, no tool that follows
        # flows at all meets the first target on this machine and capture.
        p(f"| (reference: flow-tracking floor, `floor --flows`, vs parse floor) | – | {ff:.2f}× | – |")
    line("analyze pcapng vs pcap (-j 1, direct pairs)", "≤ 1.25×",
         ratio("analyze pcapng / analyze pcap (-j 1)", "both"), lambda v: v <= 1.25)
    line("analyze -j 2 vs -j 1 (direct pairs)", "≤ 0.65×",
         ratio("analyze -j 2 / analyze -j 1", "pcap"), lambda v: v <= 0.65)
    nd = ratio("ndpiReader -i F", "pcap")
    ts = ratio("tshark -r F -q -z conv,tcp", "pcap")
    line("speed-up over ndpiReader -i (ratio of floor ratios)", "≥ 3.5×",
         nd / a1 if nd and a1 else None, lambda v: v >= 3.5)
    line("speed-up over tshark conv,tcp (ratio of floor ratios)", "≥ 90×",
         ts / a1 if ts and a1 else None, lambda v: v >= 90)
    # For reference only (the goals above compare one thread with the peers'
    # one): `analyze` as run without -j uses one thread per core.
    a2 = ratio("analyze --jsonl -j 2", "pcap")
    for peer, val in (("ndpiReader -i", nd), ("tshark conv,tcp", ts)):
        v = val / a2 if val and a2 else None
        if v is None:
            p(f"| speed-up over {peer}, analyze -j 2 (for reference) | – | not measured | – |")
        else:
            p(f"| speed-up over {peer}, analyze -j 2 (for reference) | – | {v:.2f}× | – |")
    if mem:
        for threads in (1, 2):
            peaks = {name: peak for j, name, peak, _, _, _ in mem if j == threads}
            if "2x pcap" in peaks and peaks.get("pcap"):
                g = peaks["2x pcap"] / peaks["pcap"]
                line(f"anonymous peak, 2× capture vs 1× (-j {threads})", "≈ 1.0× (unchanged)", g,
                     lambda v: v <= 1.10)
        ok_all = all(peak <= 64 * 1024 + live for _, _, peak, _, live, _ in mem)
        p(f"| anonymous peak ≤ 64 MiB + 1 KiB × peak_live_flows (all rows above) | yes | "
          f"{'all rows within' if ok_all else 'some rows over'} | {'yes' if ok_all else 'NO'} |")


if __name__ == "__main__":
    main()
