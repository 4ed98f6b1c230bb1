#!/usr/bin/env bash
# Scores vigil's alerts with ../shared/eval/score.py on every corpus capture
# that has a truth file and on generated scenarios (vigil sim).
#   scripts/score.sh                      # corpus + every scenario, seeds 1 2, scale 1
#   SEEDS="1 2 3" SCALE=1 scripts/score.sh sim 'dos|flood'
#   scripts/score.sh corpus
# Prints one summary line per capture and exits non-zero if any is not clean.
set -uo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
filter=${2:-.}
SEEDS=${SEEDS:-"1 2"}
SCALE=${SCALE:-1}
VIGIL=${VIGIL:-target/debug/vigil}
[ -n "${NO_BUILD:-}" ] || cargo build -q -p vigil-cli || exit 2
shared=../shared
work=${WORK:-$(mktemp -d)}
bad=0
score() { # capture truth label
  local cap=$1 truth=$2 label=$3 nets eve
  nets=$(python3 -c 'import json,sys; print(",".join(json.load(open(sys.argv[1]))["home_nets"]))' "$truth")
  eve="$work/$(echo "$label" | tr '/ ' '__').jsonl"
  "$VIGIL" analyze "$cap" --home-net "$nets" --eve "$eve" -q --no-progress 2>"$eve.err"
  local out rc
  out=$(python3 "$shared/eval/score.py" "$truth" "$eve")
  rc=$?
  if [ $rc -eq 0 ]; then
    printf 'ok    %-55s %s\n' "$label" "$(tail -1 <<<"$out")"
  else
    bad=1
    printf 'FAIL  %-55s %s\n' "$label" "$(tail -1 <<<"$out")"
    grep -E '^(MISSED|FALSE)' <<<"$out" | sed 's/^/        /'
  fi
}
if [ "$what" = all ] || [ "$what" = corpus ]; then
  for truth in $(find "$shared/corpus" -name '*.truth.json' | sort | grep -E "$filter"); do
    score "${truth%.truth.json}" "$truth" "corpus/${truth#$shared/corpus/}"
  done
fi
if [ "$what" = all ] || [ "$what" = sim ]; then
  for name in $("$VIGIL" sim --list | awk '{print $1}' | grep -E "$filter"); do
    for seed in $SEEDS; do
      cap=$("$VIGIL" sim "$name" --out "$work/sim-$seed" --seed "$seed" --scale "$SCALE") || { bad=1; continue; }
      score "$cap" "$cap.truth.json" "sim/$name seed=$seed scale=$SCALE"
    done
  done
fi
[ -n "${WORK:-}" ] || rm -rf "$work"
exit $bad
