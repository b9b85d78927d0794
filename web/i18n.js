// One catalogue per language in web/i18n/<lang>.json. Elements carry their key in data-i18n
// (text), data-i18n-aria (aria-label) or data-i18n-ph (placeholder), with variables in
// data-i18n-vars, so that switching the language re-translates the page in place.
export const LANGS = {
  ko: '한국어', en: 'English', zh: '中文', vi: 'Tiếng Việt', th: 'ไทย', uz: 'Oʻzbekcha', ru: 'Русский', ja: '日本語',
};
const FALLBACK = 'en';
const catalogues = {};
let current = FALLBACK;

export function pickLanguage(requested, browser) {
  const wanted = [requested, ...(browser || [])].filter(Boolean);
  for (const tag of wanted) {
    const base = String(tag).toLowerCase().split(/[-_]/)[0];
    if (base in LANGS) return base;
  }
  return FALLBACK;
}

async function load(lang) {
  if (!catalogues[lang]) {
    const res = await fetch(new URL(`./i18n/${lang}.json`, import.meta.url));
    if (!res.ok) throw new Error(`catalogue ${lang}: HTTP ${res.status}`);
    catalogues[lang] = await res.json();
  }
  return catalogues[lang];
}

export async function setLanguage(lang) {
  await load(FALLBACK);
  await load(lang);
  current = lang;
  document.documentElement.lang = lang;
  translate(document);
}

export const language = () => current;

export function t(key, vars) {
  let s = catalogues[current]?.[key] ?? catalogues[FALLBACK]?.[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

export function has(key) {
  return key in (catalogues[FALLBACK] || {});
}

export function translate(root) {
  const els = [...root.querySelectorAll('[data-i18n],[data-i18n-aria]')];
  if (root.matches?.('[data-i18n],[data-i18n-aria]')) els.unshift(root);
  for (const el of els) {
    const vars = el.dataset.i18nVars ? JSON.parse(el.dataset.i18nVars) : undefined;
    if (el.dataset.i18n) el.textContent = t(el.dataset.i18n, vars);
    if (el.dataset.i18nAria) el.setAttribute('aria-label', t(el.dataset.i18nAria, vars));
  }
  document.title = t('app.title');
}
