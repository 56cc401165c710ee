#!/usr/bin/env bash
# Side-by-side performance of `analyze`, the parse floor and peer tools on the
# same capture, as paired, alternating whole-process runs (A B A B ...) against
# the parse floor (examples/floor.rs) built in the same run. Prints medians, the
# median per-pair ratios to the floor, anonymous peak memory of analyze (also on
# the capture doubled), and the owner's targets, as Markdown tables; the output
# also goes to benches/results/<date>.txt.
#
#   benches/compare.sh [CAPTURE.pcap]          (default benches/data/bench.pcap)
#
# Needs: cargo, python3, and Debian's tcpdump, libndpi-bin (ndpiReader),
# tshark and wireshark-common (editcap, mergecap, capinfos). Peers that are
# missing are skipped (said so in the output).
# Knobs (environment): PAIRS (11, fast commands), SLOW_PAIRS (5, ndpiReader),
# TSHARK_PAIRS (3), SKIP (comma list of tools or labels to skip, e.g.
# SKIP=tshark,ndpiReader; `direct`, `memory`, `stages`, `callgrind` skip those
# sections),
# CARGO_TARGET_DIR (where the release examples are built).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

CAP="${1:-benches/data/bench.pcap}"
[[ -f "$CAP" ]] || { echo "compare.sh: no capture $CAP (make it: sudo benches/data/make-capture.sh)" >&2; exit 2; }
CAP="$(realpath "$CAP")"
BASE="${CAP%.pcap}"
CAPNG="$BASE.pcapng"
DOUBLE="$BASE.2x.pcap"

need() { command -v "$1" >/dev/null 2>&1; }
SKIP="${SKIP:-}"
for t in tcpdump ndpiReader tshark; do
  if ! need "$t"; then
    echo "compare.sh: $t not installed, skipped" >&2
    SKIP="$SKIP,$t"
  fi
done
need python3 || { echo "compare.sh: needs python3" >&2; exit 2; }

if [[ ! -f "$CAPNG" ]]; then
  need editcap || { echo "compare.sh: needs editcap (wireshark-common) for the pcapng copy" >&2; exit 2; }
  editcap -F pcapng "$CAP" "$CAPNG"
fi
if [[ ",$SKIP," != *,memory,* && ! -f "$DOUBLE" ]]; then
  # The same capture again, one hour later: every flow appears twice, the live
  # flow set does not grow, so anonymous memory must not either.
  need mergecap || { echo "compare.sh: needs mergecap (wireshark-common) for the doubled capture" >&2; exit 2; }
  editcap -t 3600 "$CAP" "$BASE.later.tmp.pcap"
  mergecap -F pcap -a -w "$DOUBLE" "$CAP" "$BASE.later.tmp.pcap"
  rm -f "$BASE.later.tmp.pcap"
fi

echo "compare.sh: cargo build --release --examples" >&2
cargo build --release --examples -q
BINS="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples"

# Page cache warm-up.
cat "$CAP" "$CAPNG" > /dev/null

mkdir -p benches/results
OUT="benches/results/$(date +%Y-%m-%d).txt"
[[ -e "$OUT" ]] && OUT="benches/results/$(date +%Y-%m-%d-%H%M).txt"

{
  echo "## tamperscope performance, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo ""
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet -- src 2>/dev/null || echo ' (src modified)')"
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
  echo "- rustc: $(rustc --version)"
  if need capinfos; then
    capinfos -T -r -c -s -u "$CAP" 2>/dev/null | awk -F'\t' '{printf "- capture: %s, %s packets, %s bytes, %s s\n", $1, $2, $3, $4}'
  else
    echo "- capture: $CAP, $(stat -c %s "$CAP") bytes"
  fi
  echo "- peers: $(tcpdump --version 2>&1 | head -1); $( { ndpiReader -h 2>&1 || true; } | grep -m1 -o 'nDPI [0-9.]*'); $(tshark --version 2>/dev/null | head -1)"
  echo "- method: PAIRS=${PAIRS:-11}, SLOW_PAIRS=${SLOW_PAIRS:-5}, TSHARK_PAIRS=${TSHARK_PAIRS:-3}; one warm-up run of each side first"
  echo ""
  BINS="$BINS" CAP="$CAP" CAPNG="$CAPNG" DOUBLE="$([[ -f "$DOUBLE" ]] && echo "$DOUBLE")" SKIP="$SKIP" \
    python3 benches/compare.py
  if [[ ",$SKIP," != *,callgrind,* ]] && need valgrind; then
    # Instructions do not move with the machine's load the way wall time does:
    # a steady second measure of the same ratio (it leaves out what waiting on
    # memory costs, which is most of the floor's time).
    count() {
      valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
    }
    floor_ir=$(count "$BINS/floor" "$CAP" || true)
    analyze_ir=$(count "$BINS/analyze" --jsonl -j 1 -q "$CAP" || true)
    if [[ -n "$floor_ir" && -n "$analyze_ir" ]]; then
      echo ""
      echo "### Instructions (valgrind --tool=callgrind, pcap, one run each)"
      echo ""
      echo "| Command | Instructions | × parse floor |"
      echo "|---|---|---|"
      echo "| parse floor | $floor_ir | 1.00 |"
      flows_ir=$(count "$BINS/floor" --flows "$CAP" || true)
      [[ -n "$flows_ir" ]] && awk -v a="$flows_ir" -v f="$floor_ir" \
        'BEGIN { printf "| `floor --flows` | %d | %.2f |\n", a, a / f }'
      if [[ ",$SKIP," != *,stages,* ]]; then
        # The same cut-off stages as the time table, counted.
        for s in walk decode count flows judge; do
          ir=$(count "$BINS/stages" "$s" "$CAP" || true)
          [[ -n "$ir" ]] && awk -v a="$ir" -v f="$floor_ir" -v s="$s" \
            'BEGIN { printf "| `stages %s` | %d | %.2f |\n", s, a, a / f }'
        done
      fi
      awk -v a="$analyze_ir" -v f="$floor_ir" \
        'BEGIN { printf "| `analyze --jsonl -j 1` | %d | %.2f |\n", a, a / f }'
    fi
  fi
  echo ""
  echo "- load average $(cut -d' ' -f1-3 /proc/loadavg) at end"
} | tee "$OUT"
echo "compare.sh: written to $OUT" >&2
