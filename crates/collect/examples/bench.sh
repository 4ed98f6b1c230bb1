#!/usr/bin/env bash
# Collector records/s vs nfcapd (BENCHMARKS.md, "Flow-export collector").
#
# 1. softflowd exports a corpus capture as NetFlow v5, v9 and IPFIX to a
#    loopback port while tshark records the datagrams (loopback only).
# 2. collect_bench decodes those datagrams
#    (the same files nfcapd gets) in a loop on one core (release build).
# 3. The same datagrams are replayed over loopback, paced, to
#    `collect_bench recv` (socket + decode) and then to nfcapd; each one's
#    CPU time (user+sys, /usr/bin/time) is set against the records it
#    decoded / stored (nfdump -I).
set -euo pipefail
cd "$(dirname "$0")/../../.."
CAP=${CAP:-../shared/corpus/scan/chrissanders_synscan.pcapng}
LOOPS=${LOOPS:-2000}
NF_LOOPS=${NF_LOOPS:-1000}
RATE=${RATE:-20000}
W=$(mktemp -d /tmp/vigil-a-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
PORT=47991
for v in 5 9 10; do
  timeout 60 tshark -q -i lo -f "udp port $PORT" -w "$W/sfd-v$v.pcap" >/dev/null 2>&1 &
  TS=$!
  sleep 2
  softflowd -r "$CAP" -n 127.0.0.1:$PORT -v $v -d -a -c "$W/ctl" -p "$W/pid" >/dev/null 2>&1 &
  SF=$!
  while kill -0 $SF 2>/dev/null; do softflowctl -c "$W/ctl" statistics >/dev/null 2>&1 || true; sleep 0.2; done
  sleep 1; kill $TS; wait $TS 2>/dev/null || true
done
FILES="$W/sfd-v5.pcap $W/sfd-v9.pcap $W/sfd-v10.pcap"
cargo build -q --release -p vigil-collect --example collect_bench
B=target/release/examples/collect_bench
echo "== vigil-collect, one core"
$B decode "$LOOPS" $FILES
echo "== vigil-collect behind a socket (recv + decode), same sender"
/usr/bin/time -f "collect_bench recv user %U sys %S maxrss_kb %M" $B recv 127.0.0.1:$PORT 2>"$W/time-vigil" &
VP=$!
sleep 1
$B send 127.0.0.1:$PORT "$NF_LOOPS" "$RATE" $FILES
wait $VP
grep collect_bench "$W/time-vigil"
echo "== nfcapd"
mkdir -p "$W/nf"
/usr/bin/time -f "nfcapd user %U sys %S maxrss_kb %M" nfcapd -b 127.0.0.1 -p $PORT -w "$W/nf" -B 8388608 -t 3600 2>"$W/time" >/dev/null &
NP=$!
sleep 1
$B send 127.0.0.1:$PORT "$NF_LOOPS" "$RATE" $FILES
sleep 1
kill -TERM $(pgrep -P $NP nfcapd || echo $NP) 2>/dev/null || true
wait $NP 2>/dev/null || true
cat "$W/time" | grep nfcapd
nfdump -R "$W/nf" -I | grep -E "^(Flows|Packets|Bytes|Sequence failures):" || true
