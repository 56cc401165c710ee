#!/usr/bin/env bash
# Make the benchmark capture: real nginx (HTTP + HTTPS), dnsmasq, curl, openssl
# s_client and dig traffic inside a private network namespace, captured by tcpdump.
#
#   sudo benches/data/make-capture.sh [--install]
#
# Writes (into benches/data/, gitignored except the slice):
#   bench.pcap    ~500 MB pcap (Ethernet: Linux loopback is DLT_EN10MB)
#   bench.pcapng  the same packets as pcapng (editcap -F pcapng)
#   slice.pcap    the first $SLICE_PACKETS packets (committed; CI and quick runs)
#
# Needs root (network namespace), and Debian's packages:
#   nginx-light (or nginx), dnsmasq-base, curl, openssl, bind9-dnsutils (dig),
#   tcpdump, iproute2 (ip), ethtool, wireshark-common (editcap, capinfos)
# `--install` runs `apt-get update && apt-get install -y` for them.
#
# All traffic stays inside the namespace on its own loopback (127.0.0.0/8):
# servers on 127.0.10.1-8 (HTTP/HTTPS) and 127.0.53.1-4 (DNS), clients bound to
# 127.0.20.1-16, so flows spread over many address pairs (and flow shards).
# The loopback MTU is set to 1500 and TSO/GSO/GRO are turned off, so the capture
# holds Ethernet-sized frames, not 64 KB loopback super-frames.
# Every client loop is bounded in count and wrapped in `timeout`; the whole run
# takes about two minutes of wall time plus the conversions.
#
# Knobs (environment): OUT_DIR (default: this folder), SCALE (percent, default
# 100: the number of short flows and the bulk bytes scale with it), SLICE_PACKETS (10000),
# KEEP_NS=1 to leave the namespace for inspection.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
OUT_DIR="${OUT_DIR:-$HERE}"
SCALE="${SCALE:-100}"
SLICE_PACKETS="${SLICE_PACKETS:-10000}"
NS="tsbench$$"
WORK="$(mktemp -d /tmp/tsbench.XXXXXX)"
PKGS=(nginx-light dnsmasq-base curl openssl bind9-dnsutils tcpdump iproute2 ethtool wireshark-common)

log() { printf '[make-capture %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

if [[ "${1:-}" == "--install" ]]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${PKGS[@]}"
fi
if [[ $EUID -ne 0 ]]; then
  echo "make-capture.sh: needs root (network namespace, tcpdump)" >&2
  exit 2
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
DNSMASQ="$(command -v dnsmasq || echo /usr/sbin/dnsmasq)"
for t in "$NGINX" "$DNSMASQ" curl openssl dig tcpdump ip ethtool editcap capinfos; do
  if ! command -v "$t" >/dev/null 2>&1; then
    echo "make-capture.sh: missing $t; run with --install (apt-get install ${PKGS[*]})" >&2
    exit 2
  fi
done

PIDS=()
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for f in nginx dnsmasq; do [[ -f "$WORK/$f.pid" ]] && kill "$(cat "$WORK/$f.pid")" 2>/dev/null; done
  sleep 0.5
  [[ "${KEEP_NS:-0}" == 1 ]] || ip netns del "$NS" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

inns() { ip netns exec "$NS" "$@"; }

# ---------------------------------------------------------------- namespace
log "namespace $NS, work dir $WORK"
ip netns add "$NS"
inns ip link set lo mtu 1500
inns ip link set lo up
inns ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || inns ethtool -K lo tso off gso off gro off
SERVERS=(127.0.10.{1..8})
DNS_SERVERS=(127.0.53.{1..4})
CLIENTS=(127.0.20.{1..16})
for a in "${SERVERS[@]}" "${DNS_SERVERS[@]}" "${CLIENTS[@]}"; do inns ip addr add "$a/32" dev lo; done

# ---------------------------------------------------------------- content
mkdir -p "$WORK/www/bulk" "$WORK/www/pages" "$WORK/tmp"
# Short pages of 200 B .. 12 KB (base64: up to 16 KB) (text, so block-page heuristics see HTML).
for i in $(seq 0 63); do
  n=$(( 200 + (i * i * 157) % 12000 ))
  { echo "<html><head><title>page $i</title></head><body>"
    head -c "$n" /dev/urandom | base64 -w 100
    echo "</body></html>"; } > "$WORK/www/pages/p$i.html"
done
cat > "$WORK/www/blocked.html" <<'EOF'
<html><head><title>Access denied</title></head><body><h1>This site has been blocked</h1>
<p>Access to the requested resource is restricted in accordance with the law.</p></body></html>
EOF
# Bulk files (random, so TLS and plain carry the same entropy): sizes in MB.
BULK_MB=(20 25 30 35 40 45 50 50)
for i in "${!BULK_MB[@]}"; do
  head -c $(( BULK_MB[i] * SCALE * 1024 * 1024 / 100 )) /dev/urandom > "$WORK/www/bulk/b$i.bin"
done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=bench.test" -addext "subjectAltName=DNS:*.bench.test,DNS:bench.test" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

# ---------------------------------------------------------------- servers
cat > "$WORK/nginx.conf" <<EOF
user root;
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/tmp/body;
  proxy_temp_path $WORK/tmp/proxy;
  fastcgi_temp_path $WORK/tmp/fastcgi;
  uwsgi_temp_path $WORK/tmp/uwsgi;
  scgi_temp_path $WORK/tmp/scgi;
  sendfile on;
  keepalive_timeout 5;
  default_type text/html;
  ssl_certificate $WORK/cert.pem;
  ssl_certificate_key $WORK/key.pem;
  ssl_protocols TLSv1.2 TLSv1.3;
  server {
    listen 80 reuseport;
    listen 443 ssl reuseport;
    root $WORK/www;
    location = /blocked { return 403 '<html><head><title>Access denied</title></head><body><h1>This site has been blocked</h1></body></html>'; }
    location = /moved { return 302 http://warning.bench.test/blocked; }
    location /slow/ { alias $WORK/www/bulk/; limit_rate 400k; }
  }
}
EOF
inns "$NGINX" -c "$WORK/nginx.conf" -p "$WORK" 2>>"$WORK/nginx-error.log"

DNS_ARGS=(--keep-in-foreground --no-resolv --no-hosts --no-poll --user=root --pid-file="$WORK/dnsmasq.pid"
  --log-facility="$WORK/dnsmasq.log" --cache-size=1000 --dns-forward-max=1000
  --address=/bench.test/127.0.10.1 --address=/sinkhole.test/0.0.0.0 --address=/nx.test/
  --txt-record=txt.bench.test,"v=spf1 -all" --mx-host=bench.test,mail.bench.test,10)
for a in "${DNS_SERVERS[@]}"; do DNS_ARGS+=(--listen-address="$a"); done
ip netns exec "$NS" "$DNSMASQ" "${DNS_ARGS[@]}" --bind-interfaces &
PIDS+=($!)

# Wait until both answer.
for _ in $(seq 50); do
  if inns curl -s -o /dev/null --max-time 1 "http://${SERVERS[0]}/pages/p1.html" &&
     inns dig +short +time=1 +tries=1 @"${DNS_SERVERS[0]}" a.bench.test >/dev/null; then
    break
  fi
  sleep 0.1
done

# ---------------------------------------------------------------- capture
CAP="$WORK/raw.pcap"
ip netns exec "$NS" tcpdump -i lo -n -s 0 -B 1048576 -Z root -w "$CAP" 2>"$WORK/tcpdump.log" &
TCPDUMP=$!
PIDS+=("$TCPDUMP")
sleep 1

# ---------------------------------------------------------------- clients
UAS=("curl/7.88.1" "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36" "Wget/1.21")

# One curl per (client, server) pair, each fetching many URLs with Connection: close,
# so every URL is a new TCP connection from a fresh port. $1 scheme, $2 URLs per pair.
short_flows() {
  local scheme=$1 per=$2 port=80 k=0
  [[ $scheme == https ]] && port=443
  local jobs=()
  for ci in "${!CLIENTS[@]}"; do
    local c=${CLIENTS[ci]} s=${SERVERS[ci % ${#SERVERS[@]}]}
    local cfg="$WORK/curl-$scheme-$ci.cfg"
    {
      echo "silent"; echo "insecure"
      echo "header = \"Connection: close\""
      echo "user-agent = \"${UAS[ci % ${#UAS[@]}]}\""
      echo "connect-to = \"::$s:$port\""
      echo "max-time = 5"
      for j in $(seq 1 "$per"); do
        k=$(( (ci * 7919 + j * 104729) % 400 ))
        case $(( j % 20 )) in
          0) path=blocked ;;
          1) path=moved ;;
          2) path="missing/$j" ;;
          *) path="pages/p$(( (j * 13 + ci) % 64 )).html" ;;
        esac
        echo "url = \"$scheme://site$k.bench.test/$path\""
        echo "output = /dev/null"
      done
    } > "$cfg"
    inns timeout 240 curl --interface "$c" -K "$cfg" >/dev/null 2>&1 &
    jobs+=($!)
  done
  wait "${jobs[@]}" || true
}

dns_queries() {
  local per=$1 jobs=()
  for ci in "${!CLIENTS[@]}"; do
    local c=${CLIENTS[ci]} s=${DNS_SERVERS[ci % ${#DNS_SERVERS[@]}]} f="$WORK/dig-$ci.txt"
    for j in $(seq 1 "$per"); do
      case $(( j % 10 )) in
        0) echo "host$j.sinkhole.test A" ;;
        1) echo "host$j.nx.test A" ;;
        2) echo "www$j.bench.test AAAA" ;;
        3) echo "txt.bench.test TXT" ;;
        4) echo "bench.test MX" ;;
        5) echo "host$j.bench.test A +tcp" ;;
        *) echo "site$(( (j * 31 + ci) % 400 )).bench.test A" ;;
      esac
    done > "$f"
    inns timeout 240 dig -b "$c" @"$s" +time=1 +tries=1 -f "$f" >/dev/null 2>&1 &
    jobs+=($!)
  done
  wait "${jobs[@]}" || true
}

closed_ports() {  # connects to closed ports: SYN, RST
  local per=$1 jobs=()
  for ci in 0 1 2 3; do
    local c=${CLIENTS[ci]} s=${SERVERS[(ci + 3) % ${#SERVERS[@]}]} cfg="$WORK/rst-$ci.cfg"
    { echo "silent"; echo "connect-timeout = 1"
      for j in $(seq 1 "$per"); do echo "url = \"http://$s:$(( 1000 + j % 500 ))/\""; echo "output = /dev/null"; done
    } > "$cfg"
    inns timeout 120 curl --interface "$c" -K "$cfg" >/dev/null 2>&1 &
    jobs+=($!)
  done
  wait "${jobs[@]}" || true
}

tls_handshakes() {
  local n=$1
  for j in $(seq 1 "$n"); do
    local c=${CLIENTS[j % ${#CLIENTS[@]}]} s=${SERVERS[j % ${#SERVERS[@]}]} v=()
    (( j % 3 == 0 )) && v=(-tls1_2)
    echo Q | inns timeout 3 openssl s_client -connect "$s:443" -bind "$c:0" -servername "sni$j.bench.test" \
      "${v[@]}" >/dev/null 2>&1 || true
  done
}

bulk() {  # big downloads over HTTP and HTTPS, then throttled and aborted ones
  sleep 2
  local jobs=()
  for i in "${!BULK_MB[@]}"; do
    local c=${CLIENTS[(i + 5) % ${#CLIENTS[@]}]} s=${SERVERS[i % ${#SERVERS[@]}]} scheme=http port=80
    (( i % 2 )) && { scheme=https; port=443; }
    inns timeout 120 curl -s -k -o /dev/null --interface "$c" --connect-to "::$s:$port" \
      --limit-rate 40M "$scheme://files$i.bench.test/bulk/b$i.bin" &
    jobs+=($!)
    sleep 0.5
  done
  for i in $(seq 0 7); do  # server-throttled (400 KB/s), cut after 3 s
    inns timeout 10 curl -s -k -o /dev/null --max-time 3 --interface "${CLIENTS[i]}" \
      --connect-to "::${SERVERS[i]}:80" "http://slow$i.bench.test/slow/b$i.bin" &
    jobs+=($!)
  done
  for i in $(seq 0 19); do  # client aborts a throttled download with unread data: RST from the client
    inns timeout 10 curl -s -o /dev/null --limit-rate 100k --max-time 0.$(( 2 + i % 7 )) --interface "${CLIENTS[i % 16]}" \
      --connect-to "::${SERVERS[i % 8]}:80" "http://abort$i.bench.test/slow/b$(( i % 8 )).bin" || true
  done
  wait "${jobs[@]}" || true
}

log "traffic: short HTTP, HTTPS, DNS, closed ports, s_client, bulk (SCALE=$SCALE)"
start=$SECONDS
short_flows http $(( 680 * SCALE / 100 + 1 )) &  C1=$!
short_flows https $(( 320 * SCALE / 100 + 1 )) & C2=$!
dns_queries $(( 1500 * SCALE / 100 + 1 )) &    C3=$!
closed_ports $(( 375 * SCALE / 100 + 1 )) &    C4=$!
tls_handshakes $(( 150 * SCALE / 100 + 1 )) &  C5=$!
bulk &                               C6=$!
wait $C1 $C2 $C3 $C4 $C5 $C6 || true
log "traffic done in $(( SECONDS - start )) s"
sleep 1
kill -INT "$TCPDUMP"
wait "$TCPDUMP" 2>/dev/null || true
cat "$WORK/tcpdump.log" >&2
if grep -q ' [1-9][0-9]* packets dropped by kernel' "$WORK/tcpdump.log"; then
  log "WARNING: tcpdump dropped packets (see above)"
fi

# ---------------------------------------------------------------- outputs
mkdir -p "$OUT_DIR"
mv "$CAP" "$OUT_DIR/bench.pcap"
log "pcapng copy"
editcap -F pcapng "$OUT_DIR/bench.pcap" "$OUT_DIR/bench.pcapng"
log "slice: first $SLICE_PACKETS packets"
editcap -r "$OUT_DIR/bench.pcap" "$OUT_DIR/slice.pcap" "1-$SLICE_PACKETS"
capinfos -c -s -u -e "$OUT_DIR/bench.pcap" "$OUT_DIR/bench.pcapng" "$OUT_DIR/slice.pcap" >&2 || true
log "done"
