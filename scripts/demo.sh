#!/usr/bin/env bash
# The main job on a capture the project generates: a flood with quiet attacks
# hidden under it ("smokescreen"), analysed by vigil, alerts scored against the
# generator's ground truth; then the evidence is verified and the breach
# report written.
#   scripts/demo.sh [OUTDIR]          (default: demo/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-demo}
mkdir -p "$out"
cargo build --release -q -p vigil-cli
vigil=target/release/vigil
cap=$("$vigil" sim smokescreen --out "$out" --seed 1)
nets=$(python3 -c 'import json,sys; print(",".join(json.load(open(sys.argv[1]))["home_nets"]))' "$cap.truth.json")
rm -rf "$out/vigil.db" "$out/vigil.db-wal" "$out/vigil.db-shm" "$out/vigil.db.excerpts" "$out/evidence.jsonl"
echo "== vigil analyze $cap --home-net $nets --eve $out/eve.jsonl --store $out/vigil.db --evidence $out/evidence.jsonl"
"$vigil" analyze "$cap" --home-net "$nets" --eve "$out/eve.jsonl" --store "$out/vigil.db" --evidence "$out/evidence.jsonl"
echo "== alerts"
python3 - "$out/eve.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event_type") == "alert" and e["vigil"]["update"] == 0:
        a = e["alert"]
        print(f'{e["timestamp"]}  {a["category"]:<17} {e.get("src_ip","-"):>15} -> {e.get("dest_ip","-"):<15} {a["signature"]}')
PY
if [ -f ../shared/eval/score.py ]; then
  echo "== score against the truth file"
  python3 ../shared/eval/score.py "$cap.truth.json" "$out/eve.jsonl" || true
fi
echo "== evidence"
"$vigil" verify "$out/evidence.jsonl" --store "$out/vigil.db"
"$vigil" report --store "$out/vigil.db" -o "$out/report.html"
"$vigil" report --store "$out/vigil.db" --format md -o "$out/report.md"
echo "breach report: $out/report.html (and $out/report.md); excerpts in $out/vigil.db.excerpts/"
