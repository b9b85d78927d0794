#!/usr/bin/env node
// End-to-end test of the capture page (web/) in Debian's Chromium, driven by playwright-core.
//
//   node tests/e2e/run.mjs --server build/idmatch [--cardgen build/cardgen] [--shared ../shared]
//                          [--screens docs/screens] [--only NAME]
//
// Starts `idmatch serve` on 127.0.0.1 (a free port, a temp data dir), creates an operator key,
// builds a fake-camera .y4m (an ID card, then real face frames from ../shared/data) in a tmpfs
// directory, runs the flows (English and Korean, normal and senior mode, camera denied, stubbed
// error screens), scans every screen with axe-core, writes screenshots to docs/screens/, deletes
// everything it made and prints "N passed, N failed" (exit 0 / 1).
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const WEB = path.join(ROOT, 'web');

// ---- arguments ------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};
const SERVER = path.resolve(opt('server', path.join(ROOT, 'build/idmatch')));
const CARDGEN = opt('cardgen', path.join(path.dirname(SERVER), 'cardgen'));
const SHARED = path.resolve(opt('shared', path.join(ROOT, '../shared')));
const SCREENS = path.resolve(opt('screens', path.join(ROOT, 'docs/screens')));
const ONLY = opt('only', '');
const CHROMIUM = opt('chromium', '/usr/bin/chromium');
const FPS = 5;
const CARD_SECONDS = 6;
const FACE_SECONDS = 40;

// ---- results --------------------------------------------------------------------------------
let passed = 0, failed = 0;
const log = (...a) => console.log(...a);
function check(name, ok, detail = '') {
  if (ok) passed++, log(`ok   - ${name}`);
  else failed++, log(`FAIL - ${name}${detail ? `: ${detail}` : ''}`);
  return ok;
}
async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, false, (e && e.stack) || String(e));
  }
}

// ---- cleanup --------------------------------------------------------------------------------
const cleanups = [];
async function cleanup() {
  while (cleanups.length) {
    try {
      await cleanups.pop()();
    } catch {
      /* keep going */
    }
  }
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, async () => { await cleanup(); process.exit(1); });

const TMP_BASE = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
const TMP = fs.mkdtempSync(path.join(TMP_BASE, 'idmatch-e2e-'));
fs.chmodSync(TMP, 0o700);
cleanups.push(() => fs.rmSync(TMP, { recursive: true, force: true }));

// ---- the server -----------------------------------------------------------------------------
// `args`: extra `idmatch serve` options. The fake camera shows still photos, which can never do
// the liveness challenge: the match flows run with `--liveness off`, and one flow runs against a
// server with liveness required (the default) to show that stills fail it.
async function startServer(name, args = []) {
  const dataDir = path.join(TMP, name);
  const add = spawnSync(SERVER, ['operator', 'add', 'e2e', '--data-dir', dataDir], { encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`operator add failed: ${add.stderr}`);
  const key = add.stdout.trim().split('\n').pop().trim();
  const proc = spawn(SERVER, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = [];
  proc.stderr.on('data', (d) => stderr.push(d));
  // On a failure, the server's request log (method, path, status: no bodies) helps say why.
  cleanups.push(() => {
    if (failed) log(`# ${name} server log (last lines):\n${Buffer.concat(stderr).toString().split('\n').slice(-25).join('\n')}`);
  });
  cleanups.push(() => new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve();
    proc.once('exit', resolve);
    proc.kill('SIGTERM');
    setTimeout(() => { proc.kill('SIGKILL'); resolve(); }, 25000).unref();
  }));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${Buffer.concat(stderr)}`)), 60000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (m) clearTimeout(timer), resolve(m[1]);
    });
    proc.on('exit', (code) => reject(new Error(`server exited ${code}: ${Buffer.concat(stderr)}`)));
  });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, key, dataDir, proc };
}

// When the server does not serve the page at / yet, a stand-in serves web/ the same way
// (GET / -> index.html, GET /web/* -> files) and passes everything else to the server.
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png' };
async function pageOrigin(serverUrl) {
  try {
    const res = await fetch(`${serverUrl}/`);
    const js = await fetch(`${serverUrl}/web/app.js`);
    if (res.ok && (res.headers.get('content-type') || '').startsWith('text/html') && js.ok) return { origin: serverUrl, served: 'idmatch' };
  } catch {
    /* fall through */
  }
  const target = new URL(serverUrl);
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    let file = null;
    if (u.pathname === '/') file = 'index.html';
    else if (u.pathname.startsWith('/web/') && /^[A-Za-z0-9_./-]+$/.test(u.pathname.slice(5)) && !u.pathname.includes('..')) file = u.pathname.slice(5);
    if (file) {
      const p = path.join(WEB, file);
      if (!TYPES[path.extname(p)] || !fs.existsSync(p) || !fs.statSync(p).isFile()) return res.writeHead(404).end();
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(p)], 'Cache-Control': 'no-cache' });
      return res.end(fs.readFileSync(p));
    }
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => srv.close(r)));
  return { origin: `http://127.0.0.1:${srv.address().port}`, served: 'test stand-in' };
}

// ---- the fake camera ------------------------------------------------------------------------
const FACES = path.join(SHARED, 'data/faces/face_recognition/images');
const PORTRAIT = path.join(FACES, 'tests/obama.jpg');
const SELFIES = ['tests/obama2.jpg', 'tests/obama3.jpg', 'knn_test/obama1.jpg', 'examples/obama-480p.jpg'].map((f) => path.join(FACES, f));
const OTHER = ['tests/biden.jpg', 'knn_train/biden/biden2.jpg'].map((f) => path.join(FACES, f));

function cardFromGenerator() {
  if (!fs.existsSync(CARDGEN)) return null;
  const out = path.join(TMP, 'cards');
  const r = spawnSync(CARDGEN, ['--faces', PORTRAIT, '--out', out, '--layout', 'kr_resident_registration', '--count', '1'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const f = fs.readdirSync(out).find((n) => n.endsWith('.jpg'));
  const bytes = f ? fs.readFileSync(path.join(out, f)) : null;
  fs.rmSync(out, { recursive: true, force: true });
  return bytes;
}

// Renders scenes to 640x480 RGBA in a plain Chromium page (its decoders, its canvas).
async function renderScenes(chromium, card, faces) {
  const browser = await launch(chromium);
  try {
    const page = browser.pages()[0] || (await browser.newPage());
    return await page.evaluate(async ({ card, cardIsGenerated, faces, W, H }) => {
      const load = async (b64) => createImageBitmap(await (await fetch(`data:image/jpeg;base64,${b64}`)).blob());
      const c = new OffscreenCanvas(W, H);
      const g = c.getContext('2d', { willReadFrequently: true });
      const rgba = () => {
        const d = g.getImageData(0, 0, W, H).data;
        const out = new Uint8Array(W * H * 3);
        for (let i = 0, j = 0; i < d.length; i += 4, j += 3) (out[j] = d[i] * 0.92), (out[j + 1] = d[i + 1] * 0.92), (out[j + 2] = d[i + 2] * 0.92);
        let s = '';
        for (let i = 0; i < out.length; i += 0x8000) s += String.fromCharCode(...out.subarray(i, i + 0x8000));
        return btoa(s);
      };
      // The card scene: a dark table, the card (ID-1 aspect) filling ~76 % of the width.
      g.fillStyle = '#3b3f46';
      g.fillRect(0, 0, W, H);
      const cw = W * 0.76, ch = cw / (85.6 / 54), cx = (W - cw) / 2, cy = (H - ch) / 2;
      const img = await load(card);
      if (cardIsGenerated) {
        g.drawImage(img, cx, cy, cw, ch);
      } else {
        // No card generator: a simple card-shaped specimen with the portrait.
        g.fillStyle = '#dfe8f1';
        g.beginPath();
        g.roundRect(cx, cy, cw, ch, 18);
        g.fill();
        g.fillStyle = '#1d4e89';
        g.fillRect(cx, cy, cw, ch * 0.16);
        g.fillStyle = '#ffffff';
        g.font = `bold ${Math.round(ch * 0.09)}px sans-serif`;
        g.fillText('SPECIMEN  IDENTITY CARD', cx + 16, cy + ch * 0.115);
        const pw = cw * 0.3, ph = pw * 1.3, px = cx + cw * 0.05, py = cy + ch * 0.22;
        const s = Math.max(pw / img.width, ph / img.height);
        g.save();
        g.beginPath();
        g.rect(px, py, pw, ph);
        g.clip();
        g.drawImage(img, px + (pw - img.width * s) / 2, py + (ph - img.height * s) / 2, img.width * s, img.height * s);
        g.restore();
        g.fillStyle = '#1a1a1a';
        g.font = `${Math.round(ch * 0.07)}px sans-serif`;
        ['NAME  HONG GILDONG', 'BORN  1960-01-01', 'NO.  000000-0000000', 'ISSUED  2024-05-01'].forEach((t, i) =>
          g.fillText(t, px + pw + 18, py + 24 + i * ch * 0.14));
      }
      const cardScene = rgba();
      const faceScenes = [];
      for (const f of faces) {
        const im = await load(f);
        g.fillStyle = '#5a5550';
        g.fillRect(0, 0, W, H);
        const s = Math.min(W / im.width, H / im.height);
        g.drawImage(im, (W - im.width * s) / 2, (H - im.height * s) / 2, im.width * s, im.height * s);
        faceScenes.push(rgba());
      }
      return { cardScene, faceScenes };
    }, { card: card.bytes.toString('base64'), cardIsGenerated: card.generated, faces: faces.map((f) => fs.readFileSync(f).toString('base64')), W: 640, H: 480 });
  } finally {
    await browser.close();
  }
}

function toI420(rgbB64, W, H) {
  const rgb = Buffer.from(rgbB64, 'base64');
  const y = Buffer.alloc(W * H), u = Buffer.alloc((W / 2) * (H / 2)), v = Buffer.alloc((W / 2) * (H / 2));
  for (let j = 0; j < H; j++) {
    for (let i = 0; i < W; i++) {
      const k = 3 * (j * W + i);
      y[j * W + i] = Math.max(0, Math.min(255, Math.round(0.299 * rgb[k] + 0.587 * rgb[k + 1] + 0.114 * rgb[k + 2])));
    }
  }
  for (let j = 0; j < H / 2; j++) {
    for (let i = 0; i < W / 2; i++) {
      let r = 0, g = 0, b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const k = 3 * ((2 * j + dy) * W + 2 * i + dx);
        r += rgb[k], g += rgb[k + 1], b += rgb[k + 2];
      }
      r /= 4, g /= 4, b /= 4;
      u[j * (W / 2) + i] = Math.max(0, Math.min(255, Math.round(128 - 0.168736 * r - 0.331264 * g + 0.5 * b)));
      v[j * (W / 2) + i] = Math.max(0, Math.min(255, Math.round(128 + 0.5 * r - 0.418688 * g - 0.081312 * b)));
    }
  }
  return Buffer.concat([y, u, v]);
}

// card for CARD_SECONDS, then the face photos, each held 0.8 s, for FACE_SECONDS.
function writeY4m(file, scenes) {
  const W = 640, H = 480;
  const fd = fs.openSync(file, 'w', 0o600);
  fs.writeSync(fd, `YUV4MPEG2 W${W} H${H} F${FPS}:1 Ip A1:1 C420jpeg\n`);
  const card = toI420(scenes.cardScene, W, H);
  const faces = scenes.faceScenes.map((f) => toI420(f, W, H));
  const frame = Buffer.from('FRAME\n');
  for (let i = 0; i < CARD_SECONDS * FPS; i++) fs.writeSync(fd, frame), fs.writeSync(fd, card);
  for (let i = 0; i < FACE_SECONDS * FPS; i++) fs.writeSync(fd, frame), fs.writeSync(fd, faces[Math.floor(i / 4) % faces.length]);
  fs.closeSync(fd);
}

// ---- the browser ----------------------------------------------------------------------------
function baseArgs(extra = []) {
  return ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', ...extra];
}
// A fresh profile (--user-data-dir, which Playwright takes as launchPersistentContext's first
// argument) in the temp dir for every launch.
async function launch(chromium, extra = [], contextOptions = {}) {
  const profile = fs.mkdtempSync(path.join(TMP, 'profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: baseArgs(extra), viewport: { width: 430, height: 900 }, ...contextOptions,
  });
  cleanups.push(() => context.close().catch(() => {}));
  return context;
}
const cameraArgs = (y4m, allow = true) => [...(allow ? ['--use-fake-ui-for-media-stream'] : []), '--use-fake-device-for-media-stream',
  `--use-file-for-fake-video-capture=${y4m}`];

const AXE = fs.readFileSync(path.join(HERE, 'node_modules/axe-core/axe.min.js'), 'utf8');
async function axeScan(page, label) {
  await page.addScriptTag({ content: AXE });
  const r = await page.evaluate(async () => {
    const res = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return res.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
  });
  const bad = r.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(`axe ${label}: no serious/critical violation`, bad.length === 0, JSON.stringify(bad));
}

async function shot(page, name) {
  fs.mkdirSync(SCREENS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENS, `${name}.png`), fullPage: true });
}

const screenIs = (page, name, timeout = 30000) => page.waitForSelector(`main[data-screen="${name}"]`, { timeout });
const catalogue = (lang) => JSON.parse(fs.readFileSync(path.join(WEB, 'i18n', `${lang}.json`), 'utf8'));

async function newPage(chromium, extraArgs, { origin, key, locale, senior, stubs }) {
  const context = await launch(chromium, extraArgs, { locale, bypassCSP: true, reducedMotion: 'reduce' });
  const page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => check(`no page error (${locale})`, false, String(e)));
  // Records what the page says aloud (headless Chromium has no voices).
  await page.addInitScript(() => {
    window.__spoken = [];
    if (window.speechSynthesis) {
      window.speechSynthesis.speak = (u) => window.__spoken.push({ text: u.text, lang: u.lang });
    }
  });
  // The operator's backend: adds its API key to the page's /v1 calls.
  await page.route('**/v1/**', (route) => {
    if (stubs) return stubs(route);
    return route.continue({ headers: { ...route.request().headers(), authorization: `Bearer ${key}` } });
  });
  await page.goto(`${origin}/${senior ? '?senior=1' : ''}`);
  await screenIs(page, 'consent');
  return { browser: context, page };
}

// ---- flows ----------------------------------------------------------------------------------
function verifyJws(token, jwks) {
  const [h, p, s] = token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const jwk = jwks.keys.find((k) => k.kid === header.kid) || jwks.keys[0];
  const key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
  return { valid: crypto.verify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url')), claims: JSON.parse(Buffer.from(p, 'base64url')) };
}

async function fullFlow(chromium, env, { lang, senior, y4m, expect = 'match', screens }) {
  const label = `${lang}${senior ? ' senior' : ''}${expect === 'match' ? '' : ` ${expect}`}`;
  let browser;
  try {
    const cat = catalogue(lang);
    const opened = await newPage(chromium, cameraArgs(y4m), { ...env, locale: lang === 'ko' ? 'ko-KR' : 'en-US', senior });
    browser = opened.browser;
    const page = opened.page;
    const snap = async (n, name) => screens && shot(page, `${screens}-${n}-${name}`);
    check(`${label}: language follows the browser`, (await page.getAttribute('html', 'lang')) === lang);
    check(`${label}: consent title in ${lang}`, (await page.textContent('#screen-title')) === cat['consent.title']);
    check(`${label}: consent says photos are erased`, (await page.textContent('#instruction')) === cat['consent.erased']);
    if (senior) {
      const px = await page.evaluate(() => parseFloat(getComputedStyle(document.querySelector('.instruction')).fontSize));
      const body = await page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize));
      check(`${label}: body text >= 24 px`, body >= 24 && px >= 24, `body ${body}px, instruction ${px}px`);
      check(`${label}: repeat button visible`, await page.isVisible('[data-action=repeat]'));
      check(`${label}: one instruction per screen`, (await page.$$('main .more')).length === 0);
      const spoken = await page.evaluate(() => window.__spoken);
      check(`${label}: instruction spoken in ${lang}`, spoken.some((s) => s.text === cat['consent.erased'] && s.lang === lang), JSON.stringify(spoken));
      await page.click('[data-action=repeat]');
      check(`${label}: repeat speaks again`, (await page.evaluate(() => window.__spoken.length)) >= 2);
    }
    await axeScan(page, `${label} consent`);
    await snap(1, 'consent');
    // Keyboard: Tab to "agree" and press Enter.
    let reached = false;
    for (let i = 0; i < 20 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.dataset.action === 'agree');
    }
    check(`${label}: "agree" reachable with Tab`, reached);
    const focus = await page.evaluate(() => {
      const s = getComputedStyle(document.activeElement);
      return { visible: document.activeElement.matches(':focus-visible'), style: s.outlineStyle, width: parseFloat(s.outlineWidth) };
    });
    check(`${label}: keyboard focus is visible`, focus.visible && focus.style !== 'none' && focus.width >= 2, JSON.stringify(focus));
    const t0 = Date.now();
    await page.keyboard.press('Enter');
    await screenIs(page, 'card');
    await page.waitForSelector('#guide[data-advice]:not([data-advice=""]):not([data-advice="starting"])', { timeout: 15000 });
    await axeScan(page, `${label} card`);
    await snap(2, 'card');
    await screenIs(page, 'selfie-intro', senior ? 40000 : 25000);
    check(`${label}: card captured automatically`, true);
    await axeScan(page, `${label} selfie intro`);
    await snap(3, 'selfie-intro');
    // The fake camera shows the card for CARD_SECONDS, then faces: start once faces are on.
    const wait = CARD_SECONDS * 1000 + 1500 - (Date.now() - t0);
    if (wait > 0) await page.waitForTimeout(wait);
    await page.click('[data-action=start]');
    await screenIs(page, 'selfie');
    await page.waitForSelector('#guide[data-advice^="action-"]', { timeout: senior ? 40000 : 25000 }).catch(async (e) => {
      // Say where the page is instead of only "timeout".
      throw new Error(`no action prompt; screen ${await page.getAttribute('main', 'data-screen')}: ${(await page.textContent('main')).slice(0, 300)}`);
    });
    await axeScan(page, `${label} selfie`);
    await snap(4, 'selfie');
    await page.waitForSelector('main[data-screen^="result"], main[data-screen="error"]', { timeout: 90000 });
    const screenName = await page.getAttribute('main', 'data-screen');
    if (screenName === 'error') {
      check(`${label}: reached a result`, false, await page.textContent('main'));
      await snap(9, 'error');
      return;
    }
    const decision = await page.getAttribute('.verdict', 'data-decision');
    check(`${label}: decision is ${expect}`, decision === expect, decision);
    const titleKey = { match: 'result.matchTitle', no_match: 'result.noMatchTitle', liveness_failed: 'result.notLiveTitle' }[expect];
    check(`${label}: result title in ${lang}`, (await page.textContent('#screen-title')) === cat[titleKey]);
    const receipt = await page.inputValue('#receipt');
    const jwks = await (await fetch(`${env.server}/v1/keys`)).json();
    const v = verifyJws(receipt, jwks);
    check(`${label}: receipt signature valid (Node, JWKS)`, v.valid);
    check(`${label}: receipt decision = page decision`, v.claims.decision === decision);
    check(`${label}: page checked the signature`, (await page.getAttribute('.sig', 'data-valid')) === 'true');
    const cli = spawnSync(SERVER, ['receipt', 'verify', receipt, '--data-dir', env.dataDir], { encoding: 'utf8' });
    check(`${label}: idmatch receipt verify accepts it`, cli.status === 0, cli.stdout + cli.stderr);
    // Nothing personal: only the documented claims, and no long value (an image, an embedding).
    const allowed = ['iss', 'iat', 'sid', 'nonce', 'operator', 'decision', 'match_score', 'threshold', 'fmr_target', 'liveness',
      'document', 'quality_flags', 'frames', 'models'];
    const longest = Math.max(...JSON.stringify(v.claims).split('"').map((x) => x.length));
    check(`${label}: receipt claims hold nothing personal`, Object.keys(v.claims).every((k) => allowed.includes(k)) && longest <= 128,
      JSON.stringify(v.claims));
    await axeScan(page, `${label} result`);
    await snap(5, `result-${expect.replace('_', '-')}`);
  } finally {
    await browser?.close().catch(() => {});
  }
}

async function deniedFlow(chromium, env, { y4m, cardJpeg, selfieJpeg, senior }) {
  const label = `camera denied${senior ? ' senior' : ''}`;
  let browser;
  try {
    const opened = await newPage(chromium, cameraArgs(y4m, false), { ...env, locale: 'en-US', senior });
    browser = opened.browser;
    const page = opened.page;
    const cat = catalogue('en');
    await page.click('[data-action=agree]');
    await screenIs(page, 'card-upload');
    check(`${label}: explains the camera is blocked`, (await page.textContent('.notice')).includes(cat['camera.denied']));
    await axeScan(page, `${label} card upload`);
    await shot(page, `${senior ? 'senior' : 'normal'}-6-camera-denied`);
    // A file that is not an image: the advice says what to do.
    await page.setInputFiles('#card-file', { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not an image') });
    await page.waitForSelector('#guide[data-advice="image_decode"]', { timeout: 15000 });
    check(`${label}: unreadable file -> advice`, (await page.textContent('#guide')).includes(cat['err.image_decode']));
    await shot(page, `${senior ? 'senior' : 'normal'}-7-upload-bad-file`);
    await page.setInputFiles('#card-file', { name: 'card.jpg', mimeType: 'image/jpeg', buffer: cardJpeg });
    await screenIs(page, 'selfie-intro', 20000);
    await page.click('[data-action=start]');
    await screenIs(page, 'selfie-upload');
    await axeScan(page, `${label} selfie upload`);
    await shot(page, `${senior ? 'senior' : 'normal'}-8-selfie-upload`);
    await page.setInputFiles('#selfie-file', { name: 'me.jpg', mimeType: 'image/jpeg', buffer: selfieJpeg });
    await page.waitForSelector('main[data-screen^="result"]', { timeout: 30000 });
    check(`${label}: upload path reaches a signed result`, (await page.inputValue('#receipt')).split('.').length === 3);
  } finally {
    await browser?.close().catch(() => {});
  }
}

// Screens that need the service to misbehave: an API stub.
async function stubbedScreens(chromium, env, { y4m, senior }) {
  const mode = senior ? 'senior' : 'normal';
  let browser;
  try {
    // The server's advice reaches the person: the first card is refused (no face; then glare),
    // the first frames have two faces.
    let documents = 0, batches = 0;
    const stubs = (route) => {
      const u = route.request().url();
      const json = (status, body) => route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });
      if (u.endsWith('/v1/sessions')) return json(201, { session_id: 's1', challenge: 'blink,turn_left', nonce: 'n1', expires_at: 0, expires_in: 120 });
      if (u.endsWith('/document') && ++documents === 1) return json(422, { code: 'no_face', message: 'document: no face found' });
      if (u.endsWith('/document') && documents === 2) return json(200, { session_id: 's1', document: { faces_found: 1, quality_flags: ['glare_on_portrait'], type: 'unknown', issuing_country: 'unknown' } });
      if (u.endsWith('/document')) return json(200, { session_id: 's1', document: { faces_found: 1, quality_flags: [], type: 'unknown', issuing_country: 'unknown' } });
      if (u.endsWith('/frames') && ++batches === 1) return json(200, { session_id: 's1', frames_received: 4, frames_with_face: 0, quality_flags: ['multiple_faces'] });
      if (u.endsWith('/frames')) return json(200, { session_id: 's1', frames_received: 4, frames_with_face: 4 });
      if (u.endsWith('/decision')) return json(500, { code: 'internal', message: 'the decision could not be recorded' });
      return json(404, { code: 'not_found', message: 'no' });
    };
    const opened = await newPage(chromium, cameraArgs(y4m), { ...env, locale: 'en-US', senior, stubs });
    browser = opened.browser;
    const page = opened.page;
    await page.click('[data-action=decline]');
    await screenIs(page, 'declined');
    await axeScan(page, `${mode} declined`);
    await shot(page, `${mode}-9-declined`);
    await page.click('[data-action=back]');
    await screenIs(page, 'consent');
    await page.click('[data-action=agree]');
    await screenIs(page, 'card');
    const cat = catalogue('en');
    await page.waitForSelector('#guide[data-advice="no_face"]', { timeout: 20000 });
    check(`${mode} stub: card without a face -> advice`, (await page.textContent('#guide')).includes(cat['err.no_face_document']));
    await shot(page, `${mode}-11-card-advice`);
    // The fake camera has moved on from the card by now: press "take" as a person would.
    const pressUntil = async (selector) => {
      for (let i = 0; i < 60 && !(await page.$(selector)); i++) {
        await page.click('[data-action=take]', { timeout: 1000 }).catch(() => {});
        await page.waitForTimeout(500);
      }
      return page.waitForSelector(selector, { timeout: 1000 });
    };
    await pressUntil('#guide[data-advice="glare_on_portrait"]');
    check(`${mode} stub: glare -> "tilt the card"`, (await page.textContent('#guide')).includes(cat['flag.glare_on_portrait']));
    await pressUntil('main[data-screen="selfie-intro"]');
    await page.click('[data-action=start]');
    await page.waitForSelector('#guide[data-advice="no_face"]', { timeout: 20000 });
    check(`${mode} stub: two faces -> "only one face please"`, (await page.textContent('#guide')).includes(cat['flag.multiple_faces']));
    await shot(page, `${mode}-12-selfie-advice`);
    await screenIs(page, 'error', 60000);
    check(`${mode} stub: failure says what to do next`, (await page.textContent('#instruction')) === cat['err.generic'], await page.textContent('#instruction'));
    check(`${mode} stub: failure offers "try again"`, await page.isVisible('[data-action=retry]'));
    await axeScan(page, `${mode} error`);
    await shot(page, `${mode}-10-error`);
    // Every catalogue renders: switch the language with the selector.
    for (const lang of ['ko', 'en', 'zh', 'vi', 'th', 'uz', 'ru', 'ja']) {
      await page.selectOption('#lang', lang);
      await page.waitForFunction((l) => document.documentElement.lang === l, lang);
      const c = catalogue(lang);
      const ok = (await page.textContent('#screen-title')) === c['err.title'] && (await page.textContent('#senior')) === c['senior.toggle'];
      check(`${mode}: switch to ${lang}`, ok);
      if (!senior && lang !== 'en') await shot(page, `lang-${lang}-error`);
    }
  } finally {
    await browser?.close().catch(() => {});
  }
}

// ---- main -----------------------------------------------------------------------------------
async function main() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install chromium`);
  if (!fs.existsSync(SERVER)) throw new Error(`${SERVER} missing: build first`);
  for (const f of [PORTRAIT, ...SELFIES, ...OTHER]) if (!fs.existsSync(f)) throw new Error(`test data missing: ${f} (needs ../shared/data)`);
  const { chromium } = await import('playwright-core');
  const srv = await startServer('data', ['--liveness', 'off']);
  const page = await pageOrigin(srv.url);
  log(`# server ${srv.url}; page served by ${page.served} at ${page.origin}`);
  if (page.served !== 'idmatch' && argv.includes('--require-serve')) check('page served by idmatch serve at /', false);
  const env = { origin: page.origin, key: srv.key, server: srv.url, dataDir: srv.dataDir };

  const generated = cardFromGenerator();
  log(`# card: ${generated ? 'from the card generator' : 'composed by the test (no cardgen binary)'}`);
  const card = generated ? { bytes: generated, generated: true } : { bytes: fs.readFileSync(PORTRAIT), generated: false };
  const scenes = await renderScenes(chromium, card, SELFIES);
  const y4m = path.join(TMP, 'camera.y4m');
  writeY4m(y4m, scenes);
  const impostorScenes = await renderScenes(chromium, card, OTHER);
  const y4mOther = path.join(TMP, 'impostor.y4m');
  writeY4m(y4mOther, impostorScenes);
  // The card scene as a JPEG for the upload path (rendered the same way, in Chromium).
  const cardJpeg = await sceneJpeg(chromium, scenes.cardScene);

  const want = (n) => !ONLY || n.includes(ONLY);
  if (want('en')) await step('flow en', () => fullFlow(chromium, env, { lang: 'en', senior: false, y4m, screens: 'normal' }));
  if (want('ko')) await step('flow ko', () => fullFlow(chromium, env, { lang: 'ko', senior: false, y4m }));
  if (want('senior')) await step('flow en senior', () => fullFlow(chromium, env, { lang: 'en', senior: true, y4m, screens: 'senior' }));
  if (want('senior')) await step('flow ko senior', () => fullFlow(chromium, env, { lang: 'ko', senior: true, y4m, screens: 'senior-ko' }));
  if (want('live')) {
    const live = await startServer('data-live');
    const liveEnv = { ...env, origin: (await pageOrigin(live.url)).origin, key: live.key, server: live.url, dataDir: live.dataDir };
    await step('flow stills vs liveness', () => fullFlow(chromium, liveEnv, { lang: 'en', senior: false, y4m, expect: 'liveness_failed', screens: 'normal' }));
  }
  if (want('impostor')) await step('flow impostor', () => fullFlow(chromium, env, { lang: 'en', senior: false, y4m: y4mOther, expect: 'no_match', screens: 'normal' }));
  if (want('denied')) await step('camera denied', () => deniedFlow(chromium, env, { y4m, cardJpeg, selfieJpeg: fs.readFileSync(SELFIES[0]), senior: false }));
  if (want('denied')) await step('camera denied senior', () => deniedFlow(chromium, env, { y4m, cardJpeg, selfieJpeg: fs.readFileSync(SELFIES[0]), senior: true }));
  if (want('stub')) await step('stubbed screens', () => stubbedScreens(chromium, env, { y4m, senior: false }));
  if (want('stub')) await step('stubbed screens senior', () => stubbedScreens(chromium, env, { y4m, senior: true }));
}

async function sceneJpeg(chromium, rgbB64) {
  const browser = await launch(chromium);
  try {
    const page = browser.pages()[0] || (await browser.newPage());
    const b64 = await page.evaluate(async ({ rgbB64, W, H }) => {
      const rgb = Uint8Array.from(atob(rgbB64), (c) => c.charCodeAt(0));
      const c = new OffscreenCanvas(W, H);
      const g = c.getContext('2d');
      const img = g.createImageData(W, H);
      for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) (img.data[i] = rgb[j]), (img.data[i + 1] = rgb[j + 1]), (img.data[i + 2] = rgb[j + 2]), (img.data[i + 3] = 255);
      g.putImageData(img, 0, 0);
      const blob = await c.convertToBlob({ type: 'image/jpeg', quality: 0.92 });
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    }, { rgbB64, W: 640, H: 480 });
    return Buffer.from(b64, 'base64');
  } finally {
    await browser.close();
  }
}

try {
  await main();
} catch (e) {
  check('e2e setup', false, (e && e.stack) || String(e));
}
await cleanup();
log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
