// Helpers shared by the operations views (alarms, overview, devices, evaluation, security):
// element building, a poll loop that stops while the view is hidden, and tables that are only
// rebuilt when their rows changed (so a click is never lost to a redraw).
import { t } from "../i18n.js";

/** ``h("td", {class: "x", translate: "no"}, "text", childEl)``: an element with attributes
 * (``on*`` functions become listeners) and children (strings become text). */
export function h(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value == null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Data shown as is (ids, names, sentences the platform wrote): the DOM walk and translators
 * leave it alone. */
export const data = (text, attributes = {}) => h("span", { translate: "no", ...attributes }, text ?? "—");

/** Calls ``fn`` now and every ``everyMs`` while started; a failure shows ``onError(error)``
 * and the loop keeps going. */
export class Poll {
  constructor(fn, everyMs, onError) {
    this.fn = fn;
    this.everyMs = everyMs;
    this.onError = onError;
    this.timer = null;
    this.running = false;
  }

  start() {
    if (this.timer != null) return;
    const tick = async () => {
      if (this.running) return;
      this.running = true;
      try {
        await this.fn();
        this.onError?.(null);
      } catch (error) {
        console.warn("poll:", error);
        this.onError?.(error);
      } finally {
        this.running = false;
      }
    };
    tick();
    this.timer = setInterval(tick, this.everyMs);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }
}

/** Replace ``tbody``'s rows with ``rows()`` only when ``key`` (the data's identity) changed
 * or the language did; returns whether it redrew. */
export function redraw(tbody, key, rows) {
  const full = `${document.documentElement.lang}|${key}`;
  if (tbody.dataset.drawn === full) return false;
  tbody.replaceChildren(...rows());
  tbody.dataset.drawn = full;
  return true;
}

/** A header row of translated column names. */
export const headRow = (keys) => h("tr", {}, keys.map((k) => h("th", {}, t(k))));

/** A <select> of ``values`` labelled through ``label(value)``, "all" first. */
export function select(id, values, label, onChange) {
  const el = h("select", { id, onchange: () => onChange(el.value || null) });
  const fill = () => {
    const chosen = el.value;
    el.replaceChildren(h("option", { value: "" }, t("alarms.any")), ...values.map((v) => h("option", { value: v }, label(v))));
    el.value = chosen;
  };
  fill();
  el.relabel = fill;
  return el;
}
