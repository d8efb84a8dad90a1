// The device registry and health (online, last heard, rates, dead letters, down-link ACK rate)
// in a view of its own: the table the live view's panel shows, a device's dead letters with
// their raw bytes to download, disabling a device (operators) and registering one (admins; the
// API refuses others with its reason, shown).
import { getText } from "../api.js";
import { DevicesTable } from "../devices.js";
import { formatTime, onLanguage, t, tEnum } from "../i18n.js";
import messages from "../i18n/devices.js";
import { Poll, data, h } from "./_ops.js";

const POLL_MS = 2000;
const KINDS = ["rsu", "obu", "radar", "ev-terminal"];
let ctx = null;
let root = null;
let table = null;
let poll = null;
let loaded = false;
const ui = { picked: null, letters: null, note: "" };

const failed = (what, error) => t("devices.failed", { what, error: error.status ? `HTTP ${error.status} ${error.detail ?? ""}` : error.message });

async function act(what, fn) {
  try {
    await fn();
    ui.note = t("devices.done", { what });
    await load();
  } catch (error) {
    ui.note = failed(what, error);
  }
  root.querySelector("#dev-note").textContent = ui.note;
}

async function download(id) {
  const { text, filename } = await getText(`/api/dead-letters/raw?source=${encodeURIComponent(id)}`, `dead-letters-${id}.hex`);
  const a = h("a", { href: URL.createObjectURL(new Blob([text], { type: "text/plain" })), download: filename });
  document.body.append(a);
  a.click();
  a.remove();
}

function renderLetters() {
  const box = root.querySelector("#dev-letters");
  const id = ui.picked;
  if (!id) { box.replaceChildren(h("p", { class: "muted" }, t("devices.pick"))); return; }
  const letters = ui.letters?.letters ?? [];
  const [before, after] = t("devices.dead_letters", { id: "\u0000" }).split("\u0000"); // the id is data
  box.replaceChildren(
    h("h2", {}, before, data(id), after),
    h("p", {},
      h("button", { id: "dev-download", onclick: () => act(t("devices.download"), () => download(id)) }, t("devices.download")), " ",
      h("button", { id: "dev-disable", onclick: () => act(t("devices.disable"), () => ctx.postJson(`/api/devices/${encodeURIComponent(id)}/disable`)) }, t("devices.disable"))),
    letters.length ? h("ul", { class: "letters" }, letters.map((l) => h("li", {},
      formatTime(l.received_at_ms), " ", h("strong", {}, tEnum("common.drop", l.reason)), " ", data(l.detail), h("br"),
      data(`${l.raw_hex}${l.raw_truncated ? "…" : ""}`, { class: "muted" })))) : h("p", { class: "muted" }, t("devices.none")));
}

async function load() {
  let devices;
  try {
    devices = await ctx.getJson("/api/devices");
  } catch (error) {
    if (error.status !== 404) throw error;
    root.querySelector("#dev-summary").textContent = t("devices.no_registry");
    loaded = true;
    return;
  }
  const stats = await ctx.getJson("/api/stats");
  table.update(devices, stats.platform?.now_ms ?? stats.now_ms ?? Date.now());
  if (ui.picked) ui.letters = await ctx.getJson(`/api/dead-letters?source=${encodeURIComponent(ui.picked)}&limit=20&raw_bytes=32`);
  renderLetters();
  loaded = true;
}

function addForm() {
  const input = (name, attributes = {}) => h("label", {}, h("span", { class: "muted" }, t(`devices.field.${name}`)), " ",
    h("input", { id: `dev-new-${name}`, size: 10, translate: "no", ...attributes }));
  const kind = h("select", { id: "dev-new-kind" }, KINDS.map((k) => h("option", { value: k }, tEnum("devices.kind", k))));
  const value = (name) => root.querySelector(`#dev-new-${name}`).value.trim();
  const submit = () => act(t("devices.add"), () => {
    const body = { device_id: value("id"), kind: kind.value };
    if (value("tenant")) body.tenant = value("tenant");
    if (value("lat")) body.lat_deg = Number(value("lat"));
    if (value("lon")) body.lon_deg = Number(value("lon"));
    return ctx.postJson("/api/devices", body);
  });
  return h("div", { class: "ops-bar" }, h("strong", {}, t("devices.add")), input("id"),
    h("label", {}, h("span", { class: "muted" }, t("devices.field.kind")), " ", kind), input("tenant"), input("lat"), input("lon"),
    h("button", { id: "dev-add", onclick: submit }, t("devices.add_button")));
}

function build(el) {
  el.replaceChildren(h("div", { class: "ops" },
    h("div", { class: "ops-bar" }, h("small", { id: "dev-summary" }),
      h("label", {}, h("input", { id: "dev-problems", type: "checkbox" }), " ", t("live.problems_only")),
      h("span", { id: "dev-note", class: "bad" }, ui.note)),
    addForm(),
    h("div", { class: "ops-grid" },
      h("div", {}, h("table", { id: "dev-table", class: "ops-table", "aria-label": t("live.device_table_label") })),
      h("div", { id: "dev-letters" }))));
  table = new DevicesTable(el.querySelector("#dev-table"), el.querySelector("#dev-summary"), el.querySelector("#dev-problems"));
  table.body.addEventListener("click", (event) => {
    const tr = event.target.closest("tr[data-id]");
    if (!tr) return;
    ui.picked = tr.dataset.id;
    ui.letters = null;
    for (const row of table.body.rows) row.classList.toggle("picked", row === tr);
    load().catch(() => {});
  });
}

export default {
  id: "devices",
  titleKey: "devices.title",
  messages,
  mount(el, context) {
    ctx = context;
    if (!root) {
      root = el;
      build(el);
      onLanguage(() => { build(root); load().catch(() => {}); });
      poll = new Poll(load, POLL_MS, (error) => {
        if (error) root.querySelector("#dev-note").textContent = t("devices.poll_failed", { error: error.message, s: POLL_MS / 1000 });
      });
    }
    poll.start();
  },
  unmount() { poll?.stop(); },
  ready: () => loaded,
};
