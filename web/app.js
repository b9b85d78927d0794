// The capture page: consent -> ID card -> selfie with the server's challenge -> result.
// Plain ES modules, no build step. Every string comes from web/i18n/<lang>.json.
import { Api, ApiError, verifyReceipt } from './api.js';
import { CardChecker, grabJpeg, openCamera, sleep, stopCamera, waitForVideo } from './capture.js';
import { LANGS, has, language, pickLanguage, setLanguage, t, translate } from './i18n.js';

const params = new URLSearchParams(location.search);
const handoff = new URLSearchParams(location.hash.slice(1));
const config = {
  api: params.get('api') || '',
  token: handoff.get('token') || '',
  senior: params.get('senior') === '1',
};

// Timings: senior mode is slower and never hurries (no countdowns shown in either mode).
const TIMING = {
  normal: { steadySamples: 4, settleMs: 1200, actionMs: 2100, frameEveryMs: 125, retries: 3 },
  senior: { steadySamples: 6, settleMs: 3000, actionMs: 3500, frameEveryMs: 200, retries: 6 },
};
// Document problems (src/document) that mean: take the card photo again.
const RETAKE = new Set(['card_not_found', 'card_too_small', 'card_cut_off', 'blurred', 'glare_on_portrait', 'glare_on_mrz',
  'portrait_obstructed', 'portrait_not_found', 'blank_image']);
const ACTION_KEYS = {
  // Never an expression: the server only asks for these (src/liveness/challenge.h).
  blink: 'blink', turn_left: 'turn_left', turn_right: 'turn_right', look_up: 'look_up', come_closer: 'come_closer',
};

const api = new Api(config);
const state = {
  senior: config.senior,
  session: null, // {session_id, nonce, challenge, ...}
  handedOff: false,
  card: null, // the card JPEG, kept in this page only until the decision (a new session re-sends it)
  stream: null,
  run: 0, // bumps on every screen change: stale loops stop
  lastSpoken: '',
  lastTs: 0,
};
if (handoff.get('session') && handoff.get('nonce')) {
  state.session = { session_id: handoff.get('session'), nonce: handoff.get('nonce'), challenge: handoff.get('challenge') || 'blink' };
  state.handedOff = true;
}

const main = document.getElementById('screen');
const announcer = document.getElementById('announce');
const T = () => TIMING[state.senior ? 'senior' : 'normal'];

// ---- small DOM helpers ----------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'i18n') el.dataset.i18n = v;
    else if (k === 'vars') el.dataset.i18nVars = JSON.stringify(v);
    else if (k === 'aria') el.dataset.i18nAria = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c) el.append(c.nodeType ? c : document.createTextNode(String(c)));
  return el;
}
const text = (tag, key, vars, attrs = {}) => h(tag, { ...attrs, i18n: key, vars });
const button = (key, onclick, attrs = {}) => h('button', { type: 'button', ...attrs, i18n: key, onclick });

// ---- voice ----------------------------------------------------------------------------------

function speak(sentence) {
  state.lastSpoken = sentence;
  announcer.textContent = '';
  announcer.textContent = sentence;
  if (!state.senior || !('speechSynthesis' in window)) return;
  try {
    speechSynthesis.cancel();
    const u = new SpeechSynthesisUtterance(sentence);
    u.lang = language();
    const voice = speechSynthesis.getVoices().find((v) => v.lang?.toLowerCase().startsWith(language()));
    if (voice) u.voice = voice;
    u.rate = 0.9;
    speechSynthesis.speak(u);
  } catch {
    /* no voice: the text is on screen and in the live region */
  }
}

// ---- screens --------------------------------------------------------------------------------

// Renders a screen: a heading, the instruction(s) and the controls. `instruction` is the one
// sentence spoken (senior mode) and repeated by the repeat button.
function screen(name, { title, titleVars, instruction, instructionVars, more = [], body = [], actions = [], step }) {
  state.run++;
  main.replaceChildren();
  main.dataset.screen = name;
  document.body.dataset.screen = name;
  const parts = [];
  if (step) parts.push(text('p', 'step', { n: step, total: 4 }, { class: 'step' }));
  parts.push(text('h2', title, titleVars, { id: 'screen-title', tabindex: '-1' }));
  if (instruction) parts.push(text('p', instruction, instructionVars, { class: 'instruction', id: 'instruction' }));
  // Senior mode: one instruction per screen; the secondary lines are left out.
  if (!state.senior) for (const m of more) parts.push(typeof m === 'string' ? text('p', m, undefined, { class: 'more' }) : m);
  parts.push(...body.filter(Boolean));
  const bar = h('div', { class: 'actions' }, ...actions);
  if (instruction) bar.prepend(button('repeat', () => speak(t(instruction, instructionVars)), { class: 'secondary repeat', 'data-action': 'repeat' }));
  parts.push(bar);
  main.append(...parts);
  translate(main);
  main.querySelector('h2').focus();
  if (instruction) speak(t(instruction, instructionVars));
  return state.run;
}

function guidanceBox() {
  return h('p', { id: 'guide', class: 'guide', role: 'status', 'aria-live': 'polite', 'data-advice': '' });
}

function setGuide(advice, key, vars, { quiet = false } = {}) {
  const el = document.getElementById('guide');
  if (!el || el.dataset.advice === advice) return;
  el.dataset.advice = advice;
  const icon = advice === 'good' ? '✓' : advice.startsWith('action') ? '→' : '!';
  el.replaceChildren(h('span', { class: 'icon', 'aria-hidden': 'true' }, icon), text('span', key, vars));
  translate(el);
  if (state.senior && advice !== 'good' && !quiet) speak(t(key, vars));
}

function stopStream() {
  stopCamera(state.stream);
  state.stream = null;
}

function consent() {
  stopStream();
  screen('consent', {
    title: 'consent.title',
    instruction: 'consent.erased',
    more: ['consent.what', 'consent.time'],
    body: [h('ul', { class: 'facts' }, text('li', 'consent.fact1'), text('li', 'consent.fact2'), text('li', 'consent.fact3'))],
    actions: [button('consent.agree', () => cardCamera(), { class: 'primary', 'data-action': 'agree' }),
      button('consent.decline', declined, { class: 'secondary', 'data-action': 'decline' })],
  });
}

function declined() {
  screen('declined', {
    title: 'declined.title', instruction: 'declined.body',
    actions: [button('declined.back', consent, { class: 'primary', 'data-action': 'back' })],
  });
}

async function ensureSession() {
  if (state.session) return state.session;
  state.session = await api.createSession();
  return state.session;
}

// A session that expired or vanished is replaced and the card re-sent (generous limits without
// keeping anything on the server).
async function renewSession() {
  if (state.handedOff) throw new ApiError(404, 'session_not_found');
  state.session = null;
  await ensureSession();
  if (state.card) await api.sendDocument(state.session.session_id, state.card);
}

async function cardCamera() {
  stopStream();
  const video = h('video', { class: 'preview', autoplay: true, muted: true, playsinline: true, 'aria-hidden': 'true' });
  const frame = h('div', { class: 'camera card-guide' }, video, h('div', { class: 'guide-shape card', 'aria-hidden': 'true' }));
  let steady = 0;
  let busy = false;
  let ready = false;
  const run = screen('card', {
    step: 1, title: 'card.title', instruction: 'card.instruction', more: ['card.auto'],
    body: [frame, guidanceBox()],
    actions: [button('card.take', () => takeCard(), { class: 'primary', 'data-action': 'take' }),
      button('card.upload', () => cardUpload(null), { class: 'secondary', 'data-action': 'upload' }),
      button('stop', stopAll, { class: 'secondary', 'data-action': 'stop' })],
  });
  setGuide('starting', 'camera.starting');
  try {
    state.stream = await openCamera('environment');
  } catch (e) {
    if (run === state.run) cardUpload(e.reason);
    return;
  }
  if (run !== state.run) return stopStream();
  video.srcObject = state.stream;
  await waitForVideo(video);
  const checker = new CardChecker();
  ready = true;
  async function takeCard() {
    if (!ready || busy || run !== state.run) return;
    busy = true;
    setGuide('sending', 'card.checking');
    const blob = await grabJpeg(video, 0.92);
    const ok = await sendCard(blob, run);
    if (!ok && run === state.run) (busy = false), (steady = 0);
  }
  while (run === state.run) {
    await sleep(200);
    if (busy || run !== state.run) continue;
    const r = checker.check(video);
    steady = r.advice === 'good' ? steady + 1 : 0;
    setGuide(r.advice, `guide.${r.advice}`);
    if (steady >= T().steadySamples) await takeCard();
  }
}

// Sends the card; true when accepted (and the flow moved on).
async function sendCard(blob, run) {
  try {
    await ensureSession();
    let res;
    try {
      res = await api.sendDocument(state.session.session_id, blob);
    } catch (e) {
      if (e.status !== 404) throw e;
      state.card = null;
      await renewSession();
      res = await api.sendDocument(state.session.session_id, blob);
    }
    const problems = (res.document?.quality_flags || []).filter((f) => RETAKE.has(f));
    if (problems.length) {
      setGuide(problems[0], `flag.${problems[0]}`);
      await sleep(state.senior ? 4000 : 2500);
      return false;
    }
    if (run !== state.run) return true;
    state.card = blob;
    // One camera (a kiosk, a tablet, a laptop): keep it running for the selfie, no second start.
    // Several (a phone): the selfie uses the front one.
    const cams = state.stream ? (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput') : [];
    if (cams.length !== 1) stopStream();
    selfieIntro();
    return true;
  } catch (e) {
    if (run !== state.run) return true;
    const key = adviceFor(e, 'document');
    if (e.status === 422 || e.status === 413 || e.status === 503 || e.status === 429) {
      setGuide(e.code, key);
      await sleep(state.senior ? 4000 : 2500);
      return false;
    }
    failure(key, () => cardCamera());
    return true;
  }
}

function adviceFor(e, what) {
  if (!(e instanceof ApiError)) return 'err.generic';
  if (e.code === 'no_face') return what === 'document' ? 'err.no_face_document' : 'err.no_face_selfie';
  if (has(`flag.${e.code}`)) return `flag.${e.code}`;
  if (e.code === 'image_decode') return 'err.image_decode';
  if (e.status === 413) return 'err.too_large';
  if (e.status === 404) return 'err.expired';
  if (e.status === 503 || e.status === 429) return 'err.busy';
  if (e.status === 0) return 'err.network';
  return 'err.generic';
}

// The upload fallback of a capture step (`kind`: card or selfie): what happened to the camera, a
// file field, a way back to the camera. `onFile(file, run)` takes the chosen file.
function uploadScreen(kind, step, { reason, capture, retryCamera, onFile }) {
  stopStream();
  const input = h('input', { type: 'file', id: `${kind}-file`, accept: 'image/jpeg,image/png', capture });
  const body = [];
  if (reason) body.push(h('div', { class: 'notice', role: 'alert' }, text('p', `camera.${reason}`)));
  body.push(h('div', { class: 'field' }, text('label', `${kind}.uploadLabel`, undefined, { for: `${kind}-file` }), input), guidanceBox());
  const run = screen(`${kind}-upload`, {
    step, title: reason ? 'camera.unavailable' : `${kind}.uploadTitle`, instruction: `${kind}.uploadInstruction`, body,
    actions: [button('camera.retry', retryCamera, { class: 'secondary', 'data-action': 'camera' }),
      button('stop', stopAll, { class: 'secondary', 'data-action': 'stop' })],
  });
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file) onFile(file, run);
  });
}

function cardUpload(reason) {
  uploadScreen('card', 1, {
    reason, capture: 'environment', retryCamera: cardCamera,
    onFile: async (file, run) => {
      setGuide('sending', 'card.checking');
      await sendCard(file, run);
    },
  });
}

function challengeActions() {
  const raw = String(state.session?.challenge || 'blink');
  return raw.split(/[\s,;]+/).filter(Boolean).map((a) => ACTION_KEYS[a.toLowerCase().replace(/-/g, '_')] || 'look');
}

function selfieIntro() {
  const n = challengeActions().length;
  screen('selfie-intro', {
    step: 2, title: 'selfie.introTitle', instruction: 'selfie.introBody', instructionVars: { n }, more: ['selfie.introHow'],
    actions: [button('selfie.start', () => selfieCamera(0), { class: 'primary', 'data-action': 'start' }),
      button('stop', stopAll, { class: 'secondary', 'data-action': 'stop' })],
  });
}

function nextTimestamp() {
  state.lastTs = Math.max(state.lastTs + 1, Math.round(performance.timeOrigin + performance.now()));
  return state.lastTs;
}

async function selfieCamera(attempt = 0) {
  const video = h('video', { class: 'preview mirror', autoplay: true, muted: true, playsinline: true, 'aria-hidden': 'true' });
  const actions = challengeActions();
  const list = h('ol', { class: 'challenge' }, ...actions.map((a, i) => h('li', { 'data-i': i }, h('span', { class: 'mark', 'aria-hidden': 'true' }), text('span', `action.${a}`))));
  let run = screen('selfie', {
    step: 3, title: 'selfie.title', instruction: 'selfie.prepare',
    body: [h('div', { class: 'camera face-guide' }, video, h('div', { class: 'guide-shape oval', 'aria-hidden': 'true' })), guidanceBox(), state.senior ? null : list],
    actions: [button('selfie.upload', () => selfieUpload(null), { class: 'secondary', 'data-action': 'upload' }),
      button('stop', stopAll, { class: 'secondary', 'data-action': 'stop' })],
  });
  try {
    if (!state.stream?.active) state.stream = await openCamera('user');
  } catch (e) {
    if (run === state.run) selfieUpload(e.reason);
    return;
  }
  if (run !== state.run) return stopStream();
  video.srcObject = state.stream;
  await waitForVideo(video);
  const instruction = document.getElementById('instruction');
  const say = (key, vars) => {
    instruction.dataset.i18n = key;
    if (vars) instruction.dataset.i18nVars = JSON.stringify(vars);
    else delete instruction.dataset.i18nVars;
    translate(instruction);
    main.querySelector('[data-action=repeat]').onclick = () => speak(t(key, vars));
    speak(t(key, vars));
  };
  // Frames are captured without a break from the first instruction to the last action: the
  // server's liveness check follows the face through the whole sequence (a gap looks like a cut).
  // The server takes 128 frames a session; the pace above gives ~100 for the whole challenge.
  const MAX_FRAMES = 124;
  const pending = [];
  let captured = 0;
  let capturing = true;
  (async () => {
    while (capturing && run === state.run && captured++ < MAX_FRAMES) {
      try {
        pending.push({ blob: await grabJpeg(video, 0.85, 480), t: nextTimestamp() });
      } catch {
        break; // the camera was stopped under us
      }
      await sleep(T().frameEveryMs);
    }
  })();
  async function send(frames) {
    try {
      return await api.sendFrames(state.session.session_id, frames);
    } catch (e) {
      if (e.status !== 404) throw e;
      await renewSession(); // the session expired: a new one (the card is re-sent), then this step again
      throw Object.assign(new Error('restart'), { restart: true });
    }
  }
  // Sends what was captured until now (in batches the server accepts); returns the last answer.
  async function flush() {
    const frames = pending.splice(0);
    let last = null;
    for (let i = 0; i < frames.length && run === state.run; i += 40) last = await send(frames.slice(i, i + 40));
    return last;
  }
  // The server's view of the latest frame, as advice that does not interrupt the action.
  function advise(r) {
    if (!r) return;
    if (!r.faces_found) return setGuide('no_face', 'guide.no_face');
    const flag = (r.quality_flags || []).find((f) => has(`flag.${f}`));
    if (flag) setGuide(flag, `flag.${flag}`);
  }
  async function capture(ms) {
    await sleep(ms);
    return flush();
  }
  try {
    // A straight-on look first: the frames compared with the card.
    setGuide('good', 'guide.face_look');
    await sleep(T().settleMs);
    if (run !== state.run) return;
    const first = await capture(1400);
    if (run !== state.run) return;
    if (!first || !first.frames_with_face) {
      capturing = false;
      const flag = (first?.quality_flags || [])[0];
      setGuide('no_face', flag && has(`flag.${flag}`) ? `flag.${flag}` : 'guide.no_face');
      await sleep(state.senior ? 4000 : 2500);
      if (attempt + 1 < T().retries && run === state.run) return selfieCamera(attempt + 1);
      return failure('err.no_face_selfie', () => selfieCamera(0));
    }
    for (let i = 0; i < actions.length; i++) {
      for (const li of list.querySelectorAll('li')) li.dataset.state = +li.dataset.i < i ? 'done' : +li.dataset.i === i ? 'now' : '';
      if (state.senior) {
        // One instruction: the action itself, spoken; the guide line only counts.
        say(`action.${actions[i]}`);
        setGuide(`action-${i}`, 'selfie.actionN', { n: i + 1, total: actions.length }, { quiet: true });
      } else {
        say('selfie.actionN', { n: i + 1, total: actions.length });
        setGuide(`action-${i}`, `action.${actions[i]}`);
      }
      await sleep(T().settleMs / 2);
      if (run !== state.run) return;
      advise(await capture(T().actionMs));
      if (run !== state.run) return;
    }
    capturing = false;
    stopStream();
    await flush();
    await decide();
  } catch (e) {
    capturing = false;
    if (run !== state.run) return;
    if (e.restart) return selfieIntro();
    failure(adviceFor(e, 'selfie'), () => selfieCamera(0));
  }
}

function selfieUpload(reason) {
  uploadScreen('selfie', 3, {
    reason, capture: 'user', retryCamera: () => selfieCamera(0),
    onFile: async (file, run) => {
      setGuide('sending', 'selfie.sending');
      try {
        let r;
        try {
          r = await api.sendFrames(state.session.session_id, [{ blob: file, t: nextTimestamp() }]);
        } catch (e) {
          if (e.status !== 404) throw e;
          await renewSession();
          r = await api.sendFrames(state.session.session_id, [{ blob: file, t: nextTimestamp() }]);
        }
        if (run !== state.run) return;
        if (!r.frames_with_face) return setGuide('no_face', 'err.no_face_selfie');
        await decide();
      } catch (e) {
        if (run === state.run) setGuide(e.code || 'error', adviceFor(e, 'selfie'));
      }
    },
  });
}

async function decide() {
  const run = screen('checking', { step: 4, title: 'checking.title', instruction: 'checking.body', body: [h('div', { class: 'spinner', 'aria-hidden': 'true' })] });
  try {
    const res = await api.decide(state.session.session_id, state.session.nonce);
    if (run !== state.run) return;
    state.session = null;
    state.card = null;
    let sig = { valid: null };
    try {
      sig = await verifyReceipt(res.receipt, await api.keys());
    } catch {
      /* shown as "not checked here" */
    }
    result(res, sig);
  } catch (e) {
    if (run === state.run) failure(adviceFor(e, 'decision'), () => { state.session = null; state.card = null; consent(); });
  }
}

function result(res, sig) {
  const match = res.decision === 'match';
  // The face matched but the movements were not seen live: say what to do, not only "failed".
  const notLive = res.decision === 'liveness_failed';
  const receipt = h('textarea', { id: 'receipt', readonly: true, rows: 4, spellcheck: 'false', class: 'receipt' });
  receipt.value = res.receipt;
  const sigKey = sig.valid === true ? 'result.sigOk' : sig.valid === false ? 'result.sigBad' : 'result.sigUnknown';
  screen(match ? 'result-match' : notLive ? 'result-not-live' : 'result-no-match', {
    step: 4, title: match ? 'result.matchTitle' : notLive ? 'result.notLiveTitle' : 'result.noMatchTitle',
    instruction: match ? 'result.matchBody' : notLive ? 'result.notLiveBody' : 'result.noMatchBody',
    more: ['result.erased'],
    body: [
      h('p', { class: `verdict ${match ? 'ok' : 'no'}`, 'data-decision': res.decision },
        h('span', { class: 'icon', 'aria-hidden': 'true' }, match ? '✓' : '✗'), text('span', match ? 'result.verdictMatch' : notLive ? 'result.verdictNotLive' : 'result.verdictNoMatch')),
      h('details', { class: 'receipt-box', open: !state.senior },
        text('summary', 'result.receipt'),
        text('p', 'result.receiptHelp'),
        text('label', 'result.receiptLabel', undefined, { for: 'receipt' }), receipt,
        h('p', { class: 'sig', 'data-valid': String(sig.valid) }, text('span', sigKey)),
        button('result.copy', async (ev) => {
          try {
            await navigator.clipboard.writeText(res.receipt);
            ev.target.dataset.i18n = 'result.copied';
            translate(ev.target.parentElement);
          } catch {
            receipt.select();
          }
        }, { class: 'secondary', 'data-action': 'copy' })),
    ],
    actions: [match ? button('result.finish', consent, { class: 'primary', 'data-action': 'finish' })
      : button('err.tryAgain', consent, { class: 'primary', 'data-action': 'again' })],
  });
}

function failure(key, retry) {
  stopStream();
  screen('error', {
    title: 'err.title', instruction: key, more: ['err.nothingKept'],
    actions: [button('err.tryAgain', retry, { class: 'primary', 'data-action': 'retry' }),
      button('err.startOver', () => stopAll(), { class: 'secondary', 'data-action': 'start-over' })],
  });
}

async function stopAll() {
  stopStream();
  const s = state.session;
  state.session = null;
  state.card = null;
  if (s && !state.handedOff) await api.abort(s.session_id);
  consent();
}

// ---- chrome: language and senior mode -------------------------------------------------------

async function init() {
  const select = document.getElementById('lang');
  for (const [code, name] of Object.entries(LANGS)) select.append(h('option', { value: code, lang: code }, name));
  const lang = pickLanguage(params.get('lang'), navigator.languages?.length ? navigator.languages : [navigator.language]);
  select.value = lang;
  select.addEventListener('change', async () => {
    await setLanguage(select.value);
    const instr = document.getElementById('instruction');
    if (instr) speak(instr.textContent);
  });
  const toggle = document.getElementById('senior');
  const applySenior = () => {
    document.body.classList.toggle('senior', state.senior);
    toggle.setAttribute('aria-pressed', String(state.senior));
  };
  toggle.addEventListener('click', () => {
    state.senior = !state.senior;
    applySenior();
    // Re-render the current screen when it is a static one so that senior mode's single
    // instruction applies; capture screens pick it up on their next step.
    const still = { consent, declined, 'selfie-intro': selfieIntro }[main.dataset.screen];
    if (still) still();
  });
  applySenior();
  await setLanguage(lang);
  consent();
}

init().catch((e) => {
  main.textContent = `The page could not start: ${e.message}`;
});
