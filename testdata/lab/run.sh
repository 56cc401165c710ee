#!/bin/bash
# Regenerate the tamperscope interference lab captures (root required).
#   testdata/lab/run.sh [--seed N] [--out DIR] [--no-install] [SCENARIO...]
# Installs its Debian packages and a small PyPI venv (aioquic) on first use, runs every scenario in network
# namespaces (lab.py), then validates the result from the packets (check.py).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SEED=1
OUT="$HERE/captures"
INSTALL=1
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) SEED="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    -h|--help) sed -n 2,5p "$0"; exit 0 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run.sh: root required (network namespaces, iptables, tcpdump)" >&2; exit 2; }

DEBS="tcpdump nginx-light dnsmasq-base openvpn wireguard-go wireguard-tools shadowsocks-libev openssh-server
      openssh-client iptables conntrack ethtool iproute2 iputils-ping curl dnsutils openssl python3 python3-scapy
      python3-dpkt python3-venv python3-cryptography procps"
VENV=/opt/tamperscope-lab/venv
if [ "$INSTALL" = 1 ]; then
  missing=$(for p in $DEBS; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"; done)
  if [ -n "$missing" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  fi
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import aioquic" 2>/dev/null; then
    /usr/bin/python3 -m venv --system-site-packages "$VENV"
    "$VENV/bin/pip" install -q "aioquic==1.2.0"
  fi
fi
# the system's iptables must be usable inside namespaces (nf_tables or legacy, whichever the kernel has)
mkdir -p "$OUT"
cd "$HERE"
timeout 900 /usr/bin/python3 "$HERE/lab.py" --seed "$SEED" --out "$OUT" "${ARGS[@]}"
/usr/bin/python3 "$HERE/check.py" "$OUT"
