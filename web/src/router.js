// Hash routes of the console: "#/<view id>" shows one view. A view is a module exporting
// {id, titleKey, messages?, mount(el, ctx), unmount()}; every view is listed once in
// views/index.js. Each view gets its own <section class="view" data-view="id"> (created on first
// use unless the page already has one), shown while the view is active; mount() runs on every
// activation, unmount() on every deactivation, so a view may keep its DOM (and its map) across
// visits or rebuild it, as it likes.
import { addMessages, onLanguage, t } from "./i18n.js";

/** The view id in a location hash ("#/live", "#/ev?vin=…"); null when the hash names none. */
export function routeOf(hash) {
  const match = /^#\/([\w-]+)/.exec(hash ?? "");
  return match ? match[1] : null;
}

/** Parameters after the view id ("#/ev?vin=LSV…" → {vin: "LSV…"}). */
export function routeParams(hash = location.hash) {
  const at = hash.indexOf("?");
  return Object.fromEntries(new URLSearchParams(at < 0 ? "" : hash.slice(at + 1)));
}

export class Router {
  /** ``views``: the list from views/index.js (the first is the default); ``nav``: the element
   * the navigation links go into; ``outlet``: where the view sections live; ``ctx``: handed to
   * every mount(). */
  constructor({ views, nav, outlet, ctx }) {
    const ids = new Set();
    for (const view of views) {
      if (!/^[\w-]+$/.test(view.id ?? "") || ids.has(view.id)) throw new Error(`router: bad or repeated view id ${view.id}`);
      if (typeof view.mount !== "function") throw new Error(`router: view ${view.id} has no mount()`);
      ids.add(view.id);
      if (view.messages) addMessages(view.messages);
    }
    this.views = views;
    this.nav = nav;
    this.outlet = outlet;
    this.ctx = { ...ctx, router: this };
    this.active = null;
    this.links = new Map();
    this.sections = new Map();
  }

  /** Draw the navigation and show the view the hash names (the default when none). */
  start() {
    for (const view of this.views) {
      const a = document.createElement("a");
      a.href = `#/${view.id}`;
      a.dataset.view = view.id;
      this.links.set(view.id, a);
      this.nav.append(a);
    }
    this.label();
    onLanguage(() => this.label());
    window.addEventListener("hashchange", () => this.show(routeOf(location.hash)));
    this.show(routeOf(location.hash));
  }

  label() {
    for (const view of this.views) this.links.get(view.id).textContent = t(view.titleKey);
    const view = this.views.find((v) => v.id === this.active);
    if (view) document.title = `${t(view.titleKey)} — v2xcloud`;
  }

  /** Go to a view (changes the hash, which shows it). */
  go(id, params) {
    const query = params ? `?${new URLSearchParams(params)}` : "";
    location.hash = `#/${id}${query}`;
  }

  section(id) {
    let el = this.sections.get(id) ?? this.outlet.querySelector(`section.view[data-view="${id}"]`);
    if (!el) {
      el = document.createElement("section");
      el.className = "view";
      el.dataset.view = id;
      el.hidden = true;
      this.outlet.append(el);
    }
    this.sections.set(id, el);
    return el;
  }

  show(id) {
    const view = this.views.find((v) => v.id === id) ?? this.views[0];
    if (view.id === this.active) {
      view.route?.(routeParams()); // same view, new parameters
      return;
    }
    const previous = this.views.find((v) => v.id === this.active);
    if (previous) {
      try { previous.unmount?.(); } catch (error) { console.error(`router: unmount ${previous.id}:`, error); }
      this.section(previous.id).hidden = true;
    }
    this.active = view.id;
    for (const [vid, a] of this.links) a.classList.toggle("on", vid === view.id);
    const el = this.section(view.id);
    el.hidden = false;
    try {
      view.mount(el, this.ctx);
      view.route?.(routeParams());
    } catch (error) {
      console.error(`router: mount ${view.id}:`, error);
      el.textContent = t("common.view_failed", { error: error.message });
    }
    this.label();
  }
}
