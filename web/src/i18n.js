// Languages of the console (Simplified Chinese and English): messages, the switch, and the
// number / time formatting every view uses.
//
// Messages live per view in web/src/i18n/<view>.js as {en: {...}, zh: {...}} and are added with
// addMessages(); keys are namespaced by view ("live.advisories"). t(key, {name: value}) fills
// "{name}" placeholders. Static markup is translated through attributes: data-i18n (text),
// data-i18n-title, data-i18n-aria-label, data-i18n-placeholder.

export const LANGUAGES = ["zh", "en"];
const STORAGE_KEY = "v2xcloud-lang";
const LOCALES = { zh: "zh-CN", en: "en-GB" };
const catalogs = { zh: {}, en: {} };
const listeners = new Set();
const missing = new Set();
let current = initialLanguage();
let timeZone; // the district's IANA zone when the API names one, else the browser's

/** The stored choice, else the first of the browser's languages that is zh or en, else en. */
function initialLanguage() {
  let stored = null;
  try { stored = localStorage.getItem(STORAGE_KEY); } catch { /* storage blocked: no memory */ }
  if (LANGUAGES.includes(stored)) return stored;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (base === "zh") return "zh";
    if (base === "en") return "en";
  }
  return "en";
}

/** Merge one message module ({en, zh}) into the catalogues. */
export function addMessages(messages) {
  for (const language of LANGUAGES) Object.assign(catalogs[language], messages[language] ?? {});
}

/** The message for ``key`` in the current language (English, then the key, as fall-backs). */
export function t(key, params) {
  let text = catalogs[current][key];
  if (text == null) {
    if (!missing.has(key)) { missing.add(key); console.warn(`i18n: no ${current} message for ${key}`); }
    text = catalogs.en[key] ?? key;
  }
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** ``t`` for an enumerated value (a kind, a state) with the raw value when no message exists. */
export function tEnum(prefix, value) {
  if (value == null || value === "") return "—";
  const key = `${prefix}.${value}`;
  return catalogs[current][key] ?? catalogs.en[key] ?? String(value);
}

export const language = () => current;
export const locale = () => LOCALES[current];

/** Switch the language, remember it, translate the static markup and tell the views. */
export function setLanguage(next) {
  if (!LANGUAGES.includes(next) || next === current) return;
  current = next;
  try { localStorage.setItem(STORAGE_KEY, next); } catch { /* storage blocked */ }
  formatters.clear();
  translate(document);
  for (const fn of listeners) fn(next);
}

/** Call ``fn(language)`` after every switch; returns the function that stops it. */
export function onLanguage(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Translate the marked static markup under ``root``. */
export function translate(root) {
  document.documentElement.lang = LOCALES[current];
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attribute of ["title", "aria-label", "placeholder"]) {
    for (const el of root.querySelectorAll(`[data-i18n-${attribute}]`)) {
      el.setAttribute(attribute, t(el.getAttribute(`data-i18n-${attribute}`)));
    }
  }
}

/** Use the district's time zone (an IANA name such as "Asia/Shanghai"); null: the browser's. */
export function setTimeZone(zone) {
  if (zone === timeZone) return;
  try {
    if (zone) new Intl.DateTimeFormat("en", { timeZone: zone }); // throws on an unknown zone
    timeZone = zone || undefined;
  } catch (error) {
    console.warn(`i18n: unknown time zone ${zone}: ${error.message}; using the browser's`);
    timeZone = undefined;
  }
  formatters.clear();
  for (const fn of listeners) fn(current);
}

export const zone = () => timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;

const formatters = new Map();
function formatter(kind, options) {
  const key = `${kind}|${JSON.stringify(options)}`;
  let f = formatters.get(key);
  if (!f) {
    f = kind === "number" ? new Intl.NumberFormat(locale(), options)
      : new Intl.DateTimeFormat(locale(), { timeZone, ...options });
    formatters.set(key, f);
  }
  return f;
}

/** Digits after the point that keep about three significant figures, at most ``max``. */
function digitsFor(value, max) {
  const a = Math.abs(value);
  if (a >= 100 || a === 0) return 0;
  if (a >= 10) return Math.min(1, max);
  return Math.min(2, max);
}

/** A number in the current locale; "—" when absent or not finite. ``digits``: fixed fraction
 * digits, default about three significant figures (never more than two after the point). */
export function formatNumber(value, digits) {
  if (value == null || !Number.isFinite(Number(value))) return "—";
  const v = Number(value);
  const d = digits ?? digitsFor(v, 2);
  return formatter("number", { minimumFractionDigits: d, maximumFractionDigits: d }).format(v);
}

/** A count (integer, grouped). */
export const formatCount = (value) => formatNumber(value, 0);

/** A quantity with its unit ("12.3 m/s"); "—" when absent or not finite. Values at or above
 * ``ceiling`` show as "> ceiling unit" (a TTC of 1e31 s is "no collision course", not a number
 * to read). */
export function formatQuantity(value, unit, { digits, ceiling } = {}) {
  if (value == null || !Number.isFinite(Number(value))) return "—";
  if (ceiling != null && Number(value) >= ceiling) return `> ${formatNumber(ceiling, 0)} ${unit}`;
  return `${formatNumber(value, digits)} ${unit}`;
}

/** A percentage of a 0..1 ratio. */
export function formatPercent(ratio, digits = 1) {
  if (ratio == null || !Number.isFinite(Number(ratio))) return "—";
  return formatter("number", { style: "percent", minimumFractionDigits: digits,
    maximumFractionDigits: digits }).format(ratio);
}

/** Wall-clock time of ``ms`` (epoch) in the district's zone, with the zone's label
 * ("14:02:05 GMT+8"). */
export function formatTime(ms, { zoneLabel = true } = {}) {
  if (ms == null || !Number.isFinite(Number(ms))) return "—";
  return formatter("time", { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
    ...(zoneLabel ? { timeZoneName: "short" } : {}) }).format(new Date(ms));
}

/** Date and time of ``ms`` with the zone's label. */
export function formatDateTime(ms) {
  if (ms == null || !Number.isFinite(Number(ms))) return "—";
  return formatter("datetime", { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short" }).format(new Date(ms));
}

/** How long ago ``ms`` was, from ``nowMs`` ("3 s ago" / "3 秒前"). */
export function formatAge(ms, nowMs) {
  if (ms == null || nowMs == null) return "";
  const s = Math.max(0, (nowMs - ms) / 1000);
  if (s < 90) return t("common.ago.s", { n: formatNumber(s, 0) });
  if (s < 5400) return t("common.ago.min", { n: formatNumber(s / 60, 1) });
  return t("common.ago.h", { n: formatNumber(s / 3600, 1) });
}

/** Keys asked for without a message in the current language (for the tests). */
export const missingKeys = () => [...missing];
