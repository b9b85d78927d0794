#!/usr/bin/env node
// Builds the `make bench` table from the pieces bench/run_bench.sh collected:
//   --gbench   Google Benchmark JSON of build/idmatch_bench (aggregates p50/p90 per benchmark)
//   --peer     the one-line JSON of bench/peer/verify_bench.mjs --json
//   --peer-time  /usr/bin/time -v output of that peer run
//   --cli-time   /usr/bin/time -v output of one `idmatch verify --json` run
//   --cli-json   that run's stdout
//   --cli-runs   one line per CLI run: wall milliseconds (process start to exit, model load included)
//   --meta       JSON object of run metadata (images, load averages, ...)
//   --out        where to write the markdown (also printed to stdout)
import fs from 'node:fs';

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument: ${argv[i]}`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}
const args = parseArgs(process.argv.slice(2));
const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

// Same rule as the peer and the C++ benchmark: linear interpolation between closest ranks.
function pct(values, p) {
  const s = [...values].sort((x, y) => x - y);
  if (s.length === 0) return NaN;
  const idx = (s.length - 1) * p;
  const lo = Math.floor(idx);
  const hi = Math.ceil(idx);
  return s[lo] + (s[hi] - s[lo]) * (idx - lo);
}
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const toMs = (v, unit) => v * { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3 }[unit];

// /usr/bin/time -v: "Maximum resident set size (kbytes): 123456" -> MiB
function maxRssMiB(file) {
  const m = /Maximum resident set size \(kbytes\):\s*(\d+)/.exec(fs.readFileSync(file, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

// ------------------------------------------------------------------ inputs
const meta = args.meta ? readJson(args.meta) : {};
const gb = readJson(args.gbench);
const stage = {}; // BM_X -> { p50, p90, min, max, mean, reps }
for (const b of gb.benchmarks || []) {
  if (b.run_type !== 'aggregate') continue;
  const base = b.name.split('/')[0];
  stage[base] ??= {};
  stage[base][b.aggregate_name] = toMs(b.real_time, b.time_unit);
  if (b.process_cpu_ms !== undefined) stage[base][`cpu_${b.aggregate_name}`] = b.process_cpu_ms;
  if (b.aggregate_name === 'p50') stage[base].reps = b.repetitions;
}
const sp = (name, k = 'p50') => (stage[name] ? stage[name][k] : NaN);

let peer = {};
try {
  peer = readJson(args.peer);
} catch {
  peer = {};
}
const peerRssTime = args['peer-time'] ? maxRssMiB(args['peer-time']) : NaN;
const cliRss = maxRssMiB(args['cli-time']);
let cli = {};
try {
  cli = readJson(args['cli-json']);
} catch {
  cli = {};
}
const cliRuns = fs.readFileSync(args['cli-runs'], 'utf8').split('\n').map(Number).filter((x) => x > 0);

// ------------------------------------------------------------------ numbers
const ourP50 = sp('BM_Verify', 'p50');
const ourP90 = sp('BM_Verify', 'p90');
const peerP50 = Number(peer.p50_ms);
const peerP90 = Number(peer.p90_ms);
const ratio = peerP50 / ourP50;
const peerRss = Number.isFinite(peerRssTime) ? peerRssTime : Number(peer.peak_rss_mb);

const targets = [
  {
    name: 'verify p50 <= 60 ms',
    measured: `${f1(ourP50)} ms`,
    pass: ourP50 <= 60,
    miss: ourP50 > 60 ? `over by ${f1(ourP50 - 60)} ms (${f1((ourP50 / 60 - 1) * 100)}%)` : '',
  },
  {
    name: '>= 5x faster than Human WASM',
    measured: `${f2(ratio)}x`,
    pass: ratio >= 5,
    miss: ratio < 5 ? `short by ${f2(5 - ratio)}x (needs our p50 <= ${f1(peerP50 / 5)} ms)` : '',
  },
  {
    name: 'peak RSS <= 300 MB',
    measured: `${f1(cliRss)} MB`,
    pass: cliRss <= 300,
    miss: cliRss > 300 ? `over by ${f1(cliRss - 300)} MB` : '',
  },
];

// Where the time goes in one image (verify = decode x2 + analyze x2 on 2 threads + compare).
const parts = [
  ['detect (BlazeFace)', sp('BM_Detect')],
  ['landmarks (FaceMesh x2, Refine)', sp('BM_Landmarks')],
  ['embed (landmark68 + align + ResNet-128)', sp('BM_Embed')],
].filter(([, v]) => Number.isFinite(v));
const dominant = parts.reduce((a, b) => (b[1] > a[1] ? b : a), ['n/a', -Infinity]);
const analyzeP50 = sp('BM_Analyze');

// ------------------------------------------------------------------ markdown
const L = [];
L.push('# idmatch bench');
L.push('');
L.push(`- when: ${meta.date || gb.context?.date || ''}  host: ${meta.cpu || ''} (${gb.context?.num_cpus ?? '?'} CPUs)  commit: ${meta.commit || '?'}`);
L.push(`- load average (1/5/15 min): before ${meta.load_start || '?'}; after idmatch_bench ${meta.load_gbench || '?'}; after CLI runs ${meta.load_cli || '?'}; after peer ${meta.load_peer || '?'}`);
L.push(`- images: A=${meta.a || '?'}  B=${meta.b || '?'}`);
L.push(`- ours: Google Benchmark BM_Verify, ${stage.BM_Verify?.reps ?? '?'} single-call repetitions, wall time, models preloaded: decode both buffers -> Verifier::Verify (the two images are analysed on 2 threads) -> decision`);
L.push(`- peer: ${peer.peer || 'Human WASM'} (${peer.backend || '?'}, ${peer.wasm_binary || '?'}, threads=${peer.wasm_threads ?? '?'}), ${peer.iterations ?? '?'} iterations after 3 warm-ups: read+decode both JPEGs -> detect/mesh/faceres x2 -> similarity`);
L.push('');
L.push('| | idmatch | Human 3.3.6 WASM (peer) |');
L.push('|---|---:|---:|');
L.push(`| verify p50 (ms) | ${f1(ourP50)} | ${f1(peerP50)} |`);
L.push(`| verify p90 (ms) | ${f1(ourP90)} | ${f1(peerP90)} |`);
L.push(`| peak RSS (MB) | ${f1(cliRss)} (one \`idmatch verify --json\`, /usr/bin/time -v) | ${f1(peerRss)} (whole peer run, /usr/bin/time -v; self-reported ${f1(Number(peer.peak_rss_mb))}) |`);
L.push(`| CLI wall incl. process start + model load, p50 / p90 (ms, ${cliRuns.length} runs) | ${f1(pct(cliRuns, 0.5))} / ${f1(pct(cliRuns, 0.9))} | |`);
L.push(`| decision / score | ${cli.decision ?? '?'} / cosine ${f3(Number(cli.score))} (threshold ${cli.threshold ?? '?'}) | similarity ${peer.similarity ?? '?'} (cosine ${peer.cosine ?? '?'}) |`);
L.push('');
L.push(`**ratio peer_p50 / our_p50 = ${f2(ratio)}: idmatch is ${f1(ratio)}x faster**`);
L.push('');
L.push('| target (issue) | measured | result |');
L.push('|---|---:|---|');
for (const t of targets) L.push(`| ${t.name} | ${t.measured} | ${t.pass ? 'PASS' : `FAIL (${t.miss})`} |`);
L.push('');
L.push('Per stage (image A unless noted; 1 thread; wall ms over single calls):');
L.push('');
L.push('| benchmark | p50 | p90 | min | max |');
L.push('|---|---:|---:|---:|---:|');
const rows = [
  ['BM_Decode', 'decode (DecodeImage, bytes in memory)'],
  ['BM_ToFloat', 'to float (ToFloat)'],
  ['BM_Detect', 'detect (FaceDetector::Detect)'],
  ['BM_Landmarks', 'landmarks (MeshModel::Refine, 2 mesh passes)'],
  ['BM_Landmark68', 'landmark68 net (inside embed)'],
  ['BM_Align', 'align (DlibChipTransform + WarpChip)'],
  ['BM_Embed', 'embed (resnet128 Embed: landmark68 + align + ResNet)'],
  ['BM_Analyze', 'analyze (FaceAnalyzer::Analyze, whole)'],
  ['BM_Verify', 'verify (A+B bytes -> decision, 2 threads)'],
  ['BM_LandmarkPath1Thread', 'landmark path, 1 thread (to float + 1 mesh pass, fixed crop)'],
];
for (const [k, label] of rows) {
  if (!stage[k]) continue;
  L.push(`| ${label} | ${f2(sp(k))} | ${f2(sp(k, 'p90'))} | ${f2(sp(k, 'min'))} | ${f2(sp(k, 'max'))} |`);
}
L.push('');
const resnetOnly = sp('BM_Embed') - sp('BM_Landmark68') - sp('BM_Align');
L.push(`- ResNet-128 alone (embed - landmark68 - align, p50): ~${f2(resnetOnly)} ms`);
const partSum = parts.reduce((s, [, v]) => s + v, 0);
L.push(`- detect + landmarks + embed p50 = ${f2(partSum)} ms vs analyze p50 ${f2(analyzeP50)} ms (difference ${f2(analyzeP50 - partSum)} ms: to float, quality, plus noise -- each stage is a separate run)`);
L.push(`- largest stage of one image: ${dominant[0]} at ${f2(dominant[1])} ms p50 (${f1((dominant[1] / analyzeP50) * 100)}% of analyze)`);
L.push(`- verify min ${f1(sp('BM_Verify', 'min'))} / p50 ${f1(ourP50)} / max ${f1(sp('BM_Verify', 'max'))} ms: the two analyses overlap only when the second core is free`);
L.push(`- single-thread estimate of verify (2 x decode + 2 x analyze p50): ${f1(2 * sp('BM_Decode') + 2 * analyzeP50)} ms; the peer runs 1 thread (tfjs WASM in Node)`);
L.push(`- landmark path on one core: ${f1(1000 / sp('BM_LandmarkPath1Thread'))} fps at p50 (${f1(1000 / sp('BM_LandmarkPath1Thread', 'p90'))} fps at p90)`);
if (Number.isFinite(Number(peer.mean_cpu_ms))) {
  L.push(`- peer CPU per pass (user+sys): ${f1(Number(peer.mean_cpu_ms))} ms vs its wall mean ${f1(Number(peer.mean_ms))} ms${Number(peer.mean_ms) > 1.15 * Number(peer.mean_cpu_ms) ? ' (wall >> CPU: the peer was waiting for a core)' : ''}`);
}
const ourCpu = sp('BM_Verify', 'cpu_mean');
if (Number.isFinite(ourCpu)) {
  L.push(`- our CPU per verify (user+sys, all threads): mean ${f1(ourCpu)} ms, p50 ${f1(sp('BM_Verify', 'cpu_p50'))} ms vs wall mean ${f1(sp('BM_Verify', 'mean'))} ms`);
  L.push(`- CPU-for-CPU ratio (peer mean CPU / our mean CPU: ignores our 2 threads vs the peer's 1, but CPU time per pass also grows when the cores are shared): ${f2(Number(peer.mean_cpu_ms) / ourCpu)}x`);
}
if ((gb.context?.library_build_type || '') === 'debug') {
  L.push('- Google Benchmark reports its own library as a DEBUG build (Debian package); that affects only its bookkeeping between repetitions, not the timed engine code');
}
L.push('');

const md = `${L.join('\n')}\n`;
fs.writeFileSync(args.out, md);
process.stdout.write(md);
