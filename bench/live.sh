#!/usr/bin/env bash
# Live capture benchmark: `vigil run` (AF_PACKET TPACKET_V3) and softflowd
# (libpcap) capture the SAME veth at the same time, while tcpreplay pushes a
# capture into the veth's peer at a rising packet rate. For each rate it
# reports what each tool saw, what the kernel dropped for it, and its CPU
# time per packet. Everything happens in two network namespaces this script
# creates and deletes (needs root, tcpreplay, softflowd).
#
#   bench/live.sh [PCAP] [RATES...]      # RATES in pps, "top" = --topspeed
#   WORKERS=2 bench/live.sh              # vigil fanout workers (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL=${VIGIL:-target/release/vigil}
WORKERS=${WORKERS:-1}
PCAP=${1:-}
shift || true
RATES=${*:-50000 100000 200000 400000 top}
tmp=$(mktemp -d /tmp/vigil-live-bench.XXXXXX)
P=vgcb$$
S=$P-s; W=$P-w; CI=${P}s; WI=${P}w
cleanup() {
  [ -n "${VPID:-}" ] && kill "$VPID" 2>/dev/null || true
  [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null || true
  ip netns del $S 2>/dev/null || true
  ip netns del $W 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
if [ -z "$PCAP" ]; then
  "$VIGIL" sim syn-flood --out "$tmp" --seed 1 >/dev/null
  PCAP=$tmp/syn-flood.pcap
fi
for ns in $S $W; do
  ip netns add $ns
  ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n $ns link set lo up
done
ip link add $CI netns $S type veth peer name $WI netns $W
ip -n $S link set $CI mtu 9000 up
ip -n $W link set $WI mtu 9000 up
npk=$(tcpreplay --help >/dev/null 2>&1; "$VIGIL" analyze -q --no-progress --no-detect --eve "$tmp/a.json" "$PCAP" && python3 -c "
import json
for l in open('$tmp/a.json'):
    e=json.loads(l)
    if e['event_type']=='stats': print(e['stats']['capture']['packets'])")
echo "capture: $PCAP ($npk packets, replayed ${LOOPS:-2}x); vigil workers: $WORKERS"
printf '%-10s %-12s | %-10s %-8s %-10s | %-10s %-8s %-10s\n' rate "sent pps" "vigil got" drops "ns/pkt" "sfd got" drops "ns/pkt"
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
tck=$(getconf CLK_TCK)
for rate in $RATES; do
  cat > $tmp/v.toml <<EOT
[run]
eve = "$tmp/eve.json"
stats_interval_secs = 0
[[run.af_packet]]
interface = "$CI"
workers = $WORKERS
EOT
  rm -f $tmp/eve.json $tmp/sfd.ctl
  ip netns exec $S "$VIGIL" run --config $tmp/v.toml 2>$tmp/v.log & VPID=$!
  ip netns exec $S softflowd -i $CI -d -c $tmp/sfd.ctl -m 8192 -n 127.0.0.1:9 >/dev/null 2>$tmp/s.log & SPID=$!
  sleep 1.5
  v0=$(cpu $VPID); s0=$(cpu $SPID)
  if [ "$rate" = top ]; then arg=--topspeed; else arg=--pps=$rate; fi
  sent=$(ip netns exec $W tcpreplay -K --loop=${LOOPS:-2} -i $WI $arg "$PCAP" 2>&1 | awk '/^Actual/ {print $2, $8}' )
  sleep 1
  v1=$(cpu $VPID); s1=$(cpu $SPID)
  sstat=$(ip netns exec $S softflowctl -c $tmp/sfd.ctl statistics 2>/dev/null || true)
  kill -TERM $VPID; wait $VPID || true; VPID=
  kill -TERM $SPID 2>/dev/null; wait $SPID 2>/dev/null || true; SPID=
  read -r vseen vdrop < <(python3 -c "
import json
s=[json.loads(l) for l in open('$tmp/eve.json') if '\"stats\"' in l][-1]['stats']['capture']['rings']
print(sum(r['packets']-r['drops'] for r in s), sum(r['drops'] for r in s))")
  sseen=$(echo "$sstat" | awk '/Packets received by libpcap/ {print $NF}')
  sdrop=$(echo "$sstat" | awk '/Packets dropped by libpcap/ {print $NF}')
  spps=$(echo "$sent" | awk '{print $1}')
  secs=$(echo "$sent" | awk '{print $2}')
  vns=$(python3 -c "print(round(($v1-$v0)/$tck*1e9/max($vseen,1)))")
  sproc=$(( ${sseen:-0} - ${sdrop:-0} ))
  sns=$(python3 -c "print(round(($s1-$s0)/$tck*1e9/max($sproc,1)))")
  printf '%-10s %-12s | %-10s %-8s %-10s | %-10s %-8s %-10s\n' "$rate" "$(python3 -c "print(round($spps/$secs))")" "$vseen" "$vdrop" "$vns" "$sproc" "${sdrop:-?}" "$sns"
done
