#!/usr/bin/env bash
# Side-by-side throughput benchmark: vigil vs softflowd vs nfpcapd on the
# reference captures (see bench/README.md).
#
#   bench/run.sh [--data DIR] [--out FILE] [--tools LIST] [--no-build] [mix|flood|exfil ...]
#
# Environment:
#   REPS=N               repetitions per tool, interleaved (default 1)
#   TOOLS="..."          subset of: cat vigil vigil1 vigilcore vigilcore1 vigilstore softflowd nfpcapd
#                        (default: all but vigilstore)
#   SOFTFLOWD_MAX_FLOWS  softflowd -m (default 8192, softflowd's own default)
#   PORT=N               UDP port on 127.0.0.1 for softflowd -> nfcapd (default 29995)
#   NFCAPD_BUF=BYTES     nfcapd socket buffer, -B (default 67108864)
#   NO_SYSCTL=1          don't raise net.core.rmem_max for nfcapd's socket buffer
#   MAKE_SH=PATH         the shared capture generator (default: shared/bench/make.sh)
#   VIGIL=PATH           vigil binary (default target/release/vigil)
#   KEEP=1               keep every tool's output (flow files, EVE) in the work dir
#   WORK=DIR             work dir (default: a new mktemp -d under $TMPDIR or /tmp)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

data="$root/bench-data"
out="$here/results/latest.json"
build=1
tools=${TOOLS:-cat vigil vigil1 vigilcore vigilcore1 softflowd nfpcapd}
captures=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data=${2:?--data needs a directory}; shift 2 ;;
    --data=*) data=${1#--data=}; shift ;;
    --out) out=${2:?--out needs a file}; shift 2 ;;
    --out=*) out=${1#--out=}; shift ;;
    --tools) tools=${2:?--tools needs a list}; shift 2 ;;
    --tools=*) tools=${1#--tools=}; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    mix|flood|exfil) captures+=("$1"); shift ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[ ${#captures[@]} -gt 0 ] || captures=(mix flood)
tools=${tools//,/ }
reps=${REPS:-1}
sf_max=${SOFTFLOWD_MAX_FLOWS:-8192}
port=${PORT:-29995}
nfcapd_buf=${NFCAPD_BUF:-67108864}
vigil=${VIGIL:-$root/target/release/vigil}
case "$reps" in ''|*[!0-9]*|0) echo "run.sh: REPS must be a positive integer" >&2; exit 2 ;; esac
for t in $tools; do
  case "$t" in cat|vigil|vigil1|vigilcore|vigilcore1|vigilstore|softflowd|nfpcapd) ;; *) echo "run.sh: unknown tool '$t'" >&2; exit 2 ;; esac
done

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
has() { [[ " $tools " == *" $1 "* ]]; }
drop_tool() { tools=$(printf '%s\n' $tools | grep -vx "$1" | tr '\n' ' '); }

# ---------------------------------------------------------------- prerequisites
[ -x /usr/bin/time ] || { echo "run.sh: /usr/bin/time missing: apt-get install time" >&2; exit 1; }
command -v python3 >/dev/null || { echo "run.sh: python3 missing" >&2; exit 1; }
if has softflowd; then
  for b in softflowd nfcapd nfdump ss; do
    if ! command -v "$b" >/dev/null; then
      log "SKIP softflowd: '$b' not installed (apt-get install softflowd nfdump iproute2)"; drop_tool softflowd; break
    fi
  done
fi
if has nfpcapd; then
  for b in nfpcapd nfdump; do
    if ! command -v "$b" >/dev/null; then
      log "SKIP nfpcapd: '$b' not installed (apt-get install nfdump)"; drop_tool nfpcapd; break
    fi
  done
fi

# ---------------------------------------------------------------- captures
if [ -z "${MAKE_SH:-}" ]; then
  for m in "$root/../shared/bench/make.sh" /work/shared/bench/make.sh; do
    [ -x "$m" ] && { MAKE_SH=$m; break; }
  done
fi
for c in "${captures[@]}"; do
  if [ ! -s "$data/$c.pcap" ] || [ ! -s "$data/$c.pcap.truth.json" ]; then
    [ -n "${MAKE_SH:-}" ] && [ -x "$MAKE_SH" ] || { echo "run.sh: $data/$c.pcap missing and no make.sh found (set MAKE_SH)" >&2; exit 1; }
    log "generating $data/$c.pcap with $MAKE_SH (python3 + numpy, ~1 min, 4-5 GB)"
    t0=$(date +%s)
    "$MAKE_SH" "$data" "$c"
    log "generated $c.pcap in $(( $(date +%s) - t0 )) s"
  fi
done

# ---------------------------------------------------------------- vigil build
if has vigil || has vigil1 || has vigilcore || has vigilcore1 || has vigilstore; then
  if [ "$build" = 1 ]; then
    log "building vigil: cargo build --release -p vigil-cli"
    if ! (cd "$root" && cargo build --release -p vigil-cli); then
      log "WARNING: cargo build failed"
    fi
  fi
  if [ ! -x "$vigil" ]; then
    log "SKIP vigil: $vigil does not exist (not built yet?)"; drop_tool vigil; drop_tool vigil1; drop_tool vigilcore; drop_tool vigilcore1; drop_tool vigilstore
  elif ! "$vigil" analyze --help >/dev/null 2>&1; then
    log "SKIP vigil: '$vigil analyze' is not available in this build"; drop_tool vigil; drop_tool vigil1; drop_tool vigilcore; drop_tool vigilcore1; drop_tool vigilstore
  fi
fi
[ -n "${tools// /}" ] || { echo "run.sh: no tool left to run" >&2; exit 1; }

# ---------------------------------------------------------------- nfcapd socket buffer
# softflowd reading a file exports as fast as it can; nfcapd's socket buffer is
# capped by net.core.rmem_max (4 MiB here by default) and overflows on flood,
# losing records. Raise the cap (root only) unless told not to.
if has softflowd && [ "${NO_SYSCTL:-0}" != 1 ]; then
  cur=$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo 0)
  if [ "$cur" -lt "$nfcapd_buf" ]; then
    if [ "$(id -u)" = 0 ] && echo "$nfcapd_buf" > /proc/sys/net/core/rmem_max 2>/dev/null; then
      log "raised net.core.rmem_max $cur -> $nfcapd_buf for nfcapd -B (NO_SYSCTL=1 to skip)"
    else
      log "WARNING: net.core.rmem_max=$cur < $nfcapd_buf; nfcapd may drop records on flood"
    fi
  fi
fi

# ---------------------------------------------------------------- work dir
work=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/vigil-bench.XXXXXX")}
mkdir -p "$work"
runs="$work/runs.jsonl"
: > "$runs"
collector_pidfile=""
cleanup() {
  if [ -n "$collector_pidfile" ] && [ -s "$collector_pidfile" ]; then
    kill -TERM "$(cat "$collector_pidfile")" 2>/dev/null || true
  fi
  if [ "${KEEP:-0}" = 1 ] || [ -n "${WORK:-}" ]; then
    log "work dir kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

versions() {
  local sf nfp vg
  sf=$(softflowd -h 2>&1 | sed -n 's/.*softflowd version \([^ .]*\.[^ ]*\)\. .*/\1/p' | head -1) || true
  nfp=$(nfpcapd -V 2>&1 | sed -n 's/.*Version: *//p' | head -1) || true
  vg=$(cd "$root" && git rev-parse --short HEAD 2>/dev/null) || true
  python3 - "$sf" "$nfp" "$vg" "$reps" "$sf_max" "$tools" "$nfcapd_buf" <<'EOF'
import json, os, platform, subprocess, sys, time
sf, nfp, vg, reps, sfm, tools, buf = sys.argv[1:]
def dpkg(p):
    try:
        return subprocess.run(['dpkg-query', '-W', '-f=${Version}', p], capture_output=True, text=True).stdout or None
    except OSError:
        return None
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), None)
print(json.dumps(dict(
    date=time.strftime('%Y-%m-%dT%H:%M:%S%z'), host=dict(cpu=cpu, cores=os.cpu_count(),
    kernel=platform.release(), mem_gib=round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30, 1)),
    reps=int(reps), tools=tools.split(), vigil_commit=vg or None, softflowd_max_flows=int(sfm), nfcapd_buffer=int(buf),
    versions=dict(softflowd=sf or None, nfpcapd=nfp or None, nfdump_deb=dpkg('nfdump'), softflowd_deb=dpkg('softflowd')),
    method='user+sys CPU and max RSS from /usr/bin/time; capture read from page cache (cat once before)')))
EOF
}
versions > "$work/meta.json"

# ---------------------------------------------------------------- one run per tool
timed() { # timed DIR CMD... : run under GNU time, record status, never fail the script
  local d=$1; shift
  local st=0
  /usr/bin/time -f '%U %S %e %M' -o "$d/time.txt" "$@" || st=$?
  echo "$st" > "$d/exit_status"
  return 0
}

udp_field() { # udp_field PORT FIELD(recvq|drops)
  ss -Huamn "sport = :$1" 2>/dev/null | python3 -c '
import re, sys
t = sys.stdin.read(); f = sys.argv[1]
if f == "recvq":
    m = re.search(r"^\S+\s+(\d+)", t, re.M); print(m.group(1) if m else 0)
else:
    m = re.search(r"\bd(\d+)\)", t); print(m.group(1) if m else 0)' "$2"
}

run_cat() { timed "$1" cat "$2" > /dev/null; }

run_vigil() {
  timed "$1" "$vigil" analyze "$2" --home-net 10.0.0.0/8 --eve "$1/eve.jsonl" \
    > "$1/vigil.out" 2> "$1/vigil.err" < /dev/null
}

# vigil on one thread (--threads 1): less CPU in all, more wall time
run_vigil1() {
  timed "$1" "$vigil" analyze "$2" --home-net 10.0.0.0/8 --eve "$1/eve.jsonl" --threads 1 \
    > "$1/vigil.out" 2> "$1/vigil.err" < /dev/null
}

# the core engine alone (--no-detect): flows and stats, no detector
run_vigilcore() {
  timed "$1" "$vigil" analyze "$2" --home-net 10.0.0.0/8 --eve "$1/eve.jsonl" --no-detect \
    > "$1/vigil.out" 2> "$1/vigil.err" < /dev/null
}

# the core engine on one thread: the least CPU per packet
run_vigilcore1() {
  timed "$1" "$vigil" analyze "$2" --home-net 10.0.0.0/8 --eve "$1/eve.jsonl" --no-detect --threads 1 \
    > "$1/vigil.out" 2> "$1/vigil.err" < /dev/null
}

# vigil with the SQLite store (and, if there are incidents, the excerpt pass)
run_vigilstore() {
  timed "$1" "$vigil" analyze "$2" --home-net 10.0.0.0/8 --eve "$1/eve.jsonl" --store "$1/vigil.db" \
    > "$1/vigil.out" 2> "$1/vigil.err" < /dev/null
}

run_nfpcapd() {
  mkdir -p "$1/flows"
  timed "$1" nfpcapd -r "$2" -w "$1/flows" > "$1/nfpcapd.log" 2>&1 < /dev/null
}

run_softflowd() {
  local d=$1 cap=$2 i pid q0 q1 drops0 drops1
  if ss -Huan "sport = :$port" | grep -q .; then
    echo "run.sh: UDP port $port on 127.0.0.1 is in use (set PORT)" >&2; exit 1
  fi
  mkdir -p "$d/flows"
  collector_pidfile="$d/nfcapd.pid"
  /usr/bin/time -f '%U %S %e %M' -o "$d/nfcapd.time.txt" \
    nfcapd -b 127.0.0.1 -p "$port" -B "$nfcapd_buf" -t 3600 -P "$collector_pidfile" -w "$d/flows" \
    > "$d/nfcapd.log" 2>&1 < /dev/null &
  local time_pid=$!
  for i in $(seq 100); do
    ss -Huan "sport = :$port" | grep -q . && [ -s "$collector_pidfile" ] && break
    sleep 0.1
  done
  [ -s "$collector_pidfile" ] || { echo "run.sh: nfcapd did not start, see $d/nfcapd.log" >&2; cat "$d/nfcapd.log" >&2; exit 1; }
  pid=$(cat "$collector_pidfile")
  drops0=$(udp_field "$port" drops)
  timed "$d" softflowd -r "$cap" -n "127.0.0.1:$port" -v 9 -d -m "$sf_max" \
    > "$d/softflowd.out" 2> "$d/softflowd.err" < /dev/null
  # softflowd expires every flow at end of file; let nfcapd drain its socket
  # (receive queue empty twice in a row), give it one more second, then SIGTERM:
  # nfcapd flushes and closes its file on SIGTERM.
  q0=1
  for i in $(seq 600); do
    q1=$(udp_field "$port" recvq)
    [ "$q1" = 0 ] && [ "$q0" = 0 ] && break
    q0=$q1; sleep 0.2
  done
  sleep 1
  drops1=$(udp_field "$port" drops)
  kill -TERM "$pid"
  wait "$time_pid" || true
  collector_pidfile=""
  printf '{"socket_drops": %d, "socket_buffer_requested": %d}\n' "$((drops1 - drops0))" "$nfcapd_buf" > "$d/collector.json"
}

record() { # record TOOL CAPTURE REP DIR
  python3 "$here/report.py" record --tool "$1" --capture "$2" --rep "$3" --dir "$4" \
    --truth "$data/$2.pcap.truth.json" >> "$runs"
  local st; st=$(cat "$4/exit_status")
  local line; line=$(tail -1 "$runs" | python3 "$here/report.py" line)
  log "$2 rep $3 $1: $line$([ "$st" = 0 ] || echo " (EXIT STATUS $st)")"
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$4/flows" "$4/eve.jsonl" "$4"/vigil.db*; fi
}

log "tools: $tools; captures: ${captures[*]}; REPS=$reps; work dir $work"
for c in "${captures[@]}"; do
  cap="$data/$c.pcap"
  log "$c: warming page cache ($(du -hL "$cap" | cut -f1))"
  cat "$cap" > /dev/null
  for rep in $(seq "$reps"); do
    for t in $tools; do
      d="$work/$c/rep$rep/$t"
      mkdir -p "$d"
      "run_$t" "$d" "$cap"
      record "$t" "$c" "$rep" "$d"
    done
  done
done

mkdir -p "$(dirname "$out")"
python3 "$here/report.py" summary --runs "$runs" --meta "$work/meta.json" --out "$out"
log "raw numbers written to $out"
