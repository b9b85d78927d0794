#!/usr/bin/env bash
# `make fuzz` / `make test-fuzz`: seed a corpus per target, run each target for FUZZ_SECONDS
# (default 30) on one core, FUZZ_JOBS targets at a time (default: one per core), keep any crash as
# fuzz/crashes/<target>-<hash> (each becomes a case in tests/fuzz_regression_test.cpp; see
# docs/threat-model.md).
#   FUZZ_TARGETS="mrz_fuzz http_fuzz"   run only these (default: every build-asan/fuzz/*_fuzz)
#   BUILD=... SHARED=...                build dir (build-asan) and shared data (../shared)
# The corpus lives in $BUILD/corpus (nothing from ../shared is copied into the repository).
# A target's extra libFuzzer flags are in fuzz/<target>.options. Summary: $BUILD/fuzz-summary.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-asan}
SHARED=${SHARED:-$ROOT/../shared}
SECONDS_EACH=${FUZZ_SECONDS:-30}
MODELS=$ROOT/models/node_modules/@vladmandic
CORPUS=$BUILD/corpus
mkdir -p "$CORPUS" "$ROOT/fuzz/crashes"
# Undefined behaviour is a finding, not a warning; leaks too.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}

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
# MRZ: every row of the shared test vectors, its lines joined by '\n' (one file per row).
mkdir -p "$CORPUS/mrz_fuzz"
if [ -f "$SHARED/data/mrz/mrz_test_vectors.csv" ]; then
  python3 - "$SHARED/data/mrz/mrz_test_vectors.csv" "$CORPUS/mrz_fuzz" <<'PY'
import csv, sys
for i, row in enumerate(csv.DictReader(open(sys.argv[1], newline=""))):
    lines = [row[k] for k in ("line1", "line2", "line3") if row.get(k)]
    open(f"{sys.argv[2]}/vector-{i:03d}", "w").write("\n".join(lines))
PY
fi
# Layouts: the shipped document types.
seed layout_fuzz "$ROOT"/layouts/*.json
# Hand-written seeds (synthetic, committed) live in fuzz/seeds/<target>/.
for d in "$ROOT"/fuzz/seeds/*/; do if [ -d "$d" ]; then seed "$(basename "$d")" "$d"*; fi; done
# receipt_fuzz and http_fuzz write their own seeds (signed receipts; one raw request per
# endpoint) into IDMATCH_FUZZ_SEED_DIR when they start. HTTP_FUZZ_FACE=<image> adds http_fuzz
# seeds that reach a decision (slow: face analysis under ASan), e.g.
# $SHARED/data/faces/face_api_js/images/amy/amy1.png.

targets=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
  for t in $FUZZ_TARGETS; do targets+=("$BUILD/fuzz/$t"); done
else
  targets=("$BUILD"/fuzz/*_fuzz)
fi
# Targets run FUZZ_JOBS at a time (default: one per core), each on one core: the same fuzzing
# time per target in half the wall time on two cores.
jobs_max=${FUZZ_JOBS:-$(nproc)}
RESULTS=$(mktemp -d)
trap 'rm -rf "$RESULTS"' EXIT
fuzz_one() {  # fuzz_one <bin>: writes $RESULTS/<name>.line and, on a crash, $RESULTS/<name>.fail
  local bin=$1 name extra=() start execs rate last cov ft corp files
  name=$(basename "$bin")
  [ -x "$bin" ] || { echo "FAIL: $bin is not built" | tee "$RESULTS/$name.fail"; return 0; }
  mkdir -p "$CORPUS/$name"
  if [ -f "$ROOT/fuzz/$name.options" ]; then read -r -a extra < <(grep -v '^#' "$ROOT/fuzz/$name.options" | tr '\n' ' ') || true; fi
  echo "=== $name: ${SECONDS_EACH}s"
  start=$(date +%s)
  if ! IDMATCH_FUZZ_SEED_DIR="$CORPUS/$name" "$bin" "$CORPUS/$name" -max_total_time="$SECONDS_EACH" -timeout=10 \
      -rss_limit_mb=2560 -artifact_prefix="$ROOT/fuzz/crashes/$name-" -print_final_stats=1 "${extra[@]}" \
      2>"$BUILD/$name.log"; then
    echo "FAIL: $name found a crash (see $BUILD/$name.log and fuzz/crashes/)" | tee "$RESULTS/$name.fail"
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$BUILD/$name.log" | grep -o '[0-9]*$' || echo '?')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$BUILD/$name.log" | grep -o '[0-9]*$' || echo '?')
  last=$(grep -E '^#[0-9]+.*cov: ' "$BUILD/$name.log" | tail -1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9A-Za-z]+).*/\1/p' <<<"$last")
  files=$(find "$CORPUS/$name" -type f | wc -l)
  echo "$name seconds=$(( $(date +%s) - start )) execs=$execs execs_per_sec=$rate cov=${cov:-?} ft=${ft:-?} corp=${corp:-?} corpus_files=$files" \
    | tee "$RESULTS/$name.line"
}
for bin in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  fuzz_one "$bin" &
done
wait
# The summary in the targets' order, whatever order they finished in.
: >"$BUILD/fuzz-summary.txt"
status=0
for bin in "${targets[@]}"; do
  name=$(basename "$bin")
  [ -f "$RESULTS/$name.line" ] && cat "$RESULTS/$name.line" >>"$BUILD/fuzz-summary.txt"
  [ -f "$RESULTS/$name.fail" ] && status=1
done
exit $status
