#!/usr/bin/env bash
# `make fuzz`: seed a corpus per target, run each target for FUZZ_SECONDS (default 30), keep any
# crash as fuzz/crashes/<target>-<hash> (each becomes a regression test; see docs/threat-model.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-fuzz}
SHARED=${SHARED:-$ROOT/../shared}
SECONDS_EACH=${FUZZ_SECONDS:-30}
MODELS=$ROOT/models/node_modules/@vladmandic
CORPUS=$BUILD/corpus
mkdir -p "$CORPUS" "$ROOT/fuzz/crashes"

seed() {  # seed <target> <files...>
  local dir=$CORPUS/$1; shift
  mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && cp -n "$f" "$dir/" 2>/dev/null || true; done
}
# Images: a few real photos of every format we accept, plus the documents.
seed image_fuzz $(ls "$SHARED"/data/faces/face_api_js/images/*/* 2>/dev/null | head -5) \
  $(ls "$SHARED"/data/documents/utopia/* 2>/dev/null | head -4)
# Models: the small graph models, rewritten to name their shard model.bin, JSON NUL weights.
mkdir -p "$CORPUS/tfjs_model_fuzz"
for m in liveness antispoof; do
  out=$CORPUS/tfjs_model_fuzz/$m
  [ -f "$out" ] && continue
  python3 - "$MODELS/human-models/models/$m.json" "$MODELS/human-models/models/$m.bin" "$out" <<'PY'
import json, sys
model = json.load(open(sys.argv[1]))
for g in model["weightsManifest"]:
    g["paths"] = ["model.bin"]
open(sys.argv[3], "wb").write(json.dumps(model).encode() + b"\0" + open(sys.argv[2], "rb").read())
PY
done
# Targets added later (MRZ, layouts, HTTP, JSON, multipart, receipts) seed themselves from
# fuzz/seeds/<target>/ when that folder exists.
for d in "$ROOT"/fuzz/seeds/*/; do [ -d "$d" ] && seed "$(basename "$d")" "$d"*; done

status=0
for bin in "$BUILD"/fuzz/*_fuzz; do
  name=$(basename "$bin")
  mkdir -p "$CORPUS/$name"
  echo "=== $name: ${SECONDS_EACH}s"
  if ! "$bin" "$CORPUS/$name" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2560 \
      -artifact_prefix="$ROOT/fuzz/crashes/$name-" -print_final_stats=1 2>"$BUILD/$name.log"; then
    echo "FAIL: $name found a crash (see $BUILD/$name.log and fuzz/crashes/)"; status=1
  fi
  grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|cov:" "$BUILD/$name.log" | tail -3 || true
done
exit $status
