// The idmatch HTTP API (docs/openapi.yaml), as seen from the page. The page holds no operator
// key: in a deployment the operator's backend either proxies /v1/* adding its key, or hands the
// page a session (see docs/web.md). `config.token`, when given, is sent as a bearer token.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor(config) {
    this.base = (config.api || '').replace(/\/$/, '');
    this.token = config.token || '';
  }

  headers(extra = {}) {
    return this.token ? { ...extra, Authorization: `Bearer ${this.token}` } : extra;
  }

  async call(method, path, body, headers = {}) {
    let res;
    try {
      res = await fetch(this.base + path, { method, body, headers: this.headers(headers), credentials: 'same-origin' });
    } catch (e) {
      throw new ApiError(0, 'network', String(e));
    }
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (!res.ok) throw new ApiError(res.status, data?.code || `http_${res.status}`, data?.message);
    return data;
  }

  createSession() {
    return this.call('POST', '/v1/sessions', '{}', { 'Content-Type': 'application/json' });
  }

  sendDocument(id, blob) {
    return this.call('POST', `/v1/sessions/${encodeURIComponent(id)}/document`, blob, { 'Content-Type': blob.type || 'image/jpeg' });
  }

  sendFrames(id, frames) {
    const form = new FormData();
    frames.forEach((f, i) => form.append('frames', f.blob, `frame${i}.jpg`));
    form.append('timestamps', JSON.stringify(frames.map((f) => f.t)));
    return this.call('POST', `/v1/sessions/${encodeURIComponent(id)}/frames`, form);
  }

  decide(id, nonce) {
    return this.call('POST', `/v1/sessions/${encodeURIComponent(id)}/decision`, JSON.stringify({ nonce }), {
      'Content-Type': 'application/json',
    });
  }

  abort(id) {
    return this.call('DELETE', `/v1/sessions/${encodeURIComponent(id)}`).catch(() => null);
  }

  keys() {
    return this.call('GET', '/v1/keys');
  }
}

// Checks a compact JWS (EdDSA) against a JWKS with WebCrypto. Returns {valid, claims} or
// {valid: null} when the browser has no Ed25519.
export async function verifyReceipt(token, jwks) {
  const b64 = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
  const [h, p, sig] = token.split('.');
  const header = JSON.parse(new TextDecoder().decode(b64(h)));
  const claims = JSON.parse(new TextDecoder().decode(b64(p)));
  const jwk = (jwks.keys || []).find((k) => k.kid === header.kid) || (jwks.keys || [])[0];
  if (!jwk) return { valid: false, claims };
  try {
    const key = await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, { name: 'Ed25519' }, false, ['verify']);
    const valid = await crypto.subtle.verify({ name: 'Ed25519' }, key, b64(sig), new TextEncoder().encode(`${h}.${p}`));
    return { valid, claims };
  } catch {
    return { valid: null, claims };
  }
}
