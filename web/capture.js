// Camera access and the checks the page can make on its own before it sends anything: light,
// glare, sharpness and steadiness inside the card guide. The server's checks come after.

// Opens a camera; throws {reason} with reason one of 'insecure', 'denied', 'missing', 'busy'.
export async function openCamera(facing) {
  if (!navigator.mediaDevices?.getUserMedia) throw { reason: window.isSecureContext ? 'missing' : 'insecure' };
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: facing }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (e) {
    const name = e?.name || '';
    if (name === 'NotAllowedError' || name === 'SecurityError') throw { reason: 'denied' };
    if (name === 'NotFoundError' || name === 'OverconstrainedError') throw { reason: 'missing' };
    throw { reason: 'busy' };
  }
}

export function stopCamera(stream) {
  if (stream) for (const track of stream.getTracks()) track.stop();
}

export function waitForVideo(video) {
  return new Promise((resolve) => {
    if (video.readyState >= 2 && video.videoWidth > 0) return resolve();
    video.addEventListener('loadeddata', () => resolve(), { once: true });
  });
}

// Full-resolution JPEG of the current video frame (never mirrored).
export function grabJpeg(video, quality = 0.9, maxSide = 1280) {
  const s = Math.min(1, maxSide / Math.max(video.videoWidth, video.videoHeight));
  const c = document.createElement('canvas');
  c.width = Math.round(video.videoWidth * s);
  c.height = Math.round(video.videoHeight * s);
  c.getContext('2d').drawImage(video, 0, 0, c.width, c.height);
  return new Promise((resolve) => c.toBlob((b) => resolve(b), 'image/jpeg', quality));
}

// The card guide: an ID-1 card (85.6 x 54 mm) filling 80 % of the frame's width.
export const CARD_ASPECT = 85.6 / 54;

export class CardChecker {
  constructor() {
    this.canvas = document.createElement('canvas');
    this.canvas.width = 160;
    this.canvas.height = Math.round(160 / CARD_ASPECT);
    this.ctx = this.canvas.getContext('2d', { willReadFrequently: true });
    this.prev = null;
  }

  // -> {advice: 'show_card'|'too_dark'|'too_bright'|'glare'|'blurry'|'hold_still'|'good', ...numbers}
  check(video) {
    const vw = video.videoWidth, vh = video.videoHeight;
    if (!vw || !vh) return { advice: 'show_card' };
    let gw = vw * 0.8, gh = gw / CARD_ASPECT;
    if (gh > vh * 0.9) (gh = vh * 0.9), (gw = gh * CARD_ASPECT);
    const { width: w, height: h } = this.canvas;
    this.ctx.drawImage(video, (vw - gw) / 2, (vh - gh) / 2, gw, gh, 0, 0, w, h);
    const px = this.ctx.getImageData(0, 0, w, h).data;
    const lum = new Float32Array(w * h);
    let sum = 0, glare = 0;
    for (let i = 0; i < w * h; i++) {
      const y = 0.299 * px[4 * i] + 0.587 * px[4 * i + 1] + 0.114 * px[4 * i + 2];
      lum[i] = y;
      sum += y;
      if (y >= 250) glare++;
    }
    const brightness = sum / (w * h);
    let sharp = 0;
    for (let y = 1; y < h - 1; y++) {
      for (let x = 1; x < w - 1; x++) {
        const i = y * w + x;
        sharp += Math.abs(4 * lum[i] - lum[i - 1] - lum[i + 1] - lum[i - w] - lum[i + w]);
      }
    }
    sharp /= (w - 2) * (h - 2);
    let diff = 0;
    if (this.prev) {
      for (let i = 0; i < lum.length; i++) diff += Math.abs(lum[i] - this.prev[i]);
      diff /= lum.length;
    } else {
      diff = Infinity;
    }
    this.prev = lum;
    const glareFraction = glare / (w * h);
    let advice = 'good';
    if (brightness < 45) advice = 'too_dark';
    else if (brightness > 230) advice = 'too_bright';
    else if (glareFraction > 0.02) advice = 'glare';
    else if (sharp < 2.5) advice = 'show_card';
    else if (diff > 5) advice = 'hold_still';
    return { advice, brightness, glare: glareFraction, sharpness: sharp, motion: diff };
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
