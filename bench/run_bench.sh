#!/usr/bin/env bash
# `make bench`: everything in one run, on the same two images.
#   (a) build/idmatch_bench: per-stage and whole-verify latency (Google Benchmark; console + JSON)
#   (b) build/idmatch verify --json: peak RSS of one run (/usr/bin/time -v), then N more runs for the
#       wall time including process start and model loading
#   (c) the peer, Human 3.3.6 on tfjs WASM (bench/peer/verify_bench.mjs), models from node_modules
#   (d) the table (ours vs peer, ratio, RSS, the issue's targets with PASS/FAIL), also written to
#       build/bench_report.md
# No network at run time; `npm ci` in bench/peer only when node_modules is missing or does not
# match package-lock.json. Extra arguments are passed to idmatch_bench (e.g. --benchmark_filter=).
#
# Environment: BUILD_DIR (build), SHARED (../shared), BENCH_A / BENCH_B (image paths),
# BENCH_REPS (30), BENCH_CLI_RUNS (20), BENCH_PEER_ITERATIONS (30).
set -euo pipefail
export LC_ALL=C  # EPOCHREALTIME and awk use "." as the decimal point
# What idmatch sets for itself before Tesseract loads (src/cli/main.cpp); idmatch_bench runs the
# document analysis in-process, so it gets it here.
export OMP_THREAD_LIMIT=${OMP_THREAD_LIMIT:-1}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD_DIR=${BUILD_DIR:-build}
SHARED=${SHARED:-$ROOT/../shared}
IMAGES=$SHARED/data/faces/lfw_view2/images
A=$(realpath "${BENCH_A:-$IMAGES/Aaron_Eckhart/Aaron_Eckhart_0001.jpg}")
B=$(realpath "${BENCH_B:-$IMAGES/Abel_Pacheco/Abel_Pacheco_0001.jpg}")
REPS=${BENCH_REPS:-30}
CLI_RUNS=${BENCH_CLI_RUNS:-20}
PEER_ITERATIONS=${BENCH_PEER_ITERATIONS:-30}
REPORT=$BUILD_DIR/bench_report.md

die() { echo "run_bench: $*" >&2; exit 1; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
section() { printf '\n=== %s (load average %s)\n' "$1" "$(loadavg)"; }

for f in "$A" "$B"; do [ -f "$f" ] || die "no such image: $f"; done
for x in idmatch idmatch_bench; do
  [ -x "$BUILD_DIR/$x" ] || die "$BUILD_DIR/$x is missing (run: make build, or cmake --build $BUILD_DIR --target $x)"
done
command -v node >/dev/null || die "node is missing (scripts/install-deps.sh installs it)"

if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (apt-get)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends time ||
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends time; }
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/idmatch-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

load_start=$(loadavg)

# ------------------------------------------------------------------------------------- (a)
section "idmatch_bench: per stage and verify, $REPS single-call repetitions each"
IDMATCH_BENCH_A="$A" IDMATCH_BENCH_B="$B" IDMATCH_BENCH_REPS="$REPS" \
  "$BUILD_DIR/idmatch_bench" --benchmark_out="$tmp/gbench.json" --benchmark_out_format=json \
  --benchmark_display_aggregates_only=true "$@"
load_gbench=$(loadavg)

# ------------------------------------------------------------------------------------- (b)
cli=("$BUILD_DIR/idmatch" verify --reference "$A" --probe "$B" --json)
section "idmatch verify CLI: peak RSS of one run, then $CLI_RUNS timed runs (model load included)"
rc=0
/usr/bin/time -v -o "$tmp/cli_time.txt" "${cli[@]}" >"$tmp/cli.json" || rc=$?
# exit codes: 0 match, 1 no match, 2 error
[ "$rc" -le 1 ] || { cat "$tmp/cli.json" >&2; die "idmatch verify failed (exit $rc)"; }
grep -E "Maximum resident set size|Elapsed \(wall" "$tmp/cli_time.txt" | sed 's/^\s*/  /'
: >"$tmp/cli_runs.txt"
for _ in $(seq "$CLI_RUNS"); do
  t0=$EPOCHREALTIME
  rc=0
  "${cli[@]}" >/dev/null || rc=$?
  t1=$EPOCHREALTIME
  [ "$rc" -le 1 ] || die "idmatch verify failed (exit $rc)"
  # EPOCHREALTIME is seconds.microseconds; difference in ms without floating point in bash
  echo "$(( (${t1/./} - ${t0/./}) ))" | awk '{ printf "%.3f\n", $1 / 1000 }' >>"$tmp/cli_runs.txt"
done
echo "  wall ms: $(tr '\n' ' ' <"$tmp/cli_runs.txt")"
load_cli=$(loadavg)

# ------------------------------------------------------------------------------------- (c)
PEER=bench/peer
# node_modules is current when every package of package-lock.json is installed at the locked
# version and integrity (npm's own record: node_modules/.package-lock.json).
peer_deps_current() {
  [ -f "$PEER/node_modules/.package-lock.json" ] || return 1
  (cd "$PEER" && node -e '
    const fs = require("fs");
    const want = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages || {};
    const have = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8")).packages || {};
    for (const [k, v] of Object.entries(want)) {
      if (!k) continue;
      const h = have[k];
      if (!h) { if (v.optional) continue; process.exit(1); }
      if (h.version !== v.version || (v.integrity && h.integrity !== v.integrity)) process.exit(1);
      if (!fs.existsSync(k + "/package.json")) process.exit(1);
    }')
}
if ! peer_deps_current; then
  section "peer: npm ci (node_modules missing or not matching package-lock.json)"
  (cd "$PEER" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
section "peer: Human WASM, $PEER_ITERATIONS iterations"
rc=0
(cd "$PEER" && /usr/bin/time -v -o "$tmp/peer_time.txt" \
  node verify_bench.mjs --a "$A" --b "$B" --iterations "$PEER_ITERATIONS" --json >"$tmp/peer.json") || rc=$?
[ "$rc" -eq 0 ] || { cat "$tmp/peer.json" >&2; die "peer benchmark failed (exit $rc)"; }
echo "  $(cat "$tmp/peer.json")"
load_peer=$(loadavg)

# ------------------------------------------------------------------------------------- (d)
section "report"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
if [ -n "$(git status --porcelain 2>/dev/null | head -1)" ]; then commit="$commit+dirty"; fi
node -e 'const [,...kv] = process.argv; const o = {}; for (let i = 0; i < kv.length; i += 2) o[kv[i]] = kv[i + 1];
         process.stdout.write(JSON.stringify(o));' -- \
  date "$(date -Is)" cpu "$cpu" commit "$commit" a "$A" b "$B" \
  load_start "$load_start" load_gbench "$load_gbench" load_cli "$load_cli" load_peer "$load_peer" >"$tmp/meta.json"
echo
node bench/report.mjs --gbench "$tmp/gbench.json" --peer "$tmp/peer.json" --peer-time "$tmp/peer_time.txt" \
  --cli-time "$tmp/cli_time.txt" --cli-json "$tmp/cli.json" --cli-runs "$tmp/cli_runs.txt" \
  --meta "$tmp/meta.json" --out "$REPORT"
echo "(written to $REPORT)"
