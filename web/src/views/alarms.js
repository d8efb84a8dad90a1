// The alarm workflow: one list of road events, EV level-3 alarms, device faults and
// misbehaviour reports, most severe first; filters; operators acknowledge and close (who and
// when shown on the row); the history of closed alarms. The list is redrawn only when an alarm
// changed, so the buttons stay where the pointer is.
import { formatDateTime, formatTime, onLanguage, t, tEnum } from "../i18n.js";
import messages from "../i18n/alarms.js";
import { Poll, data, h, headRow, redraw, select } from "./_ops.js";

const POLL_MS = 2000;
const STATES = ["open", "acknowledged"];
const SEVERITIES = ["critical", "major", "minor", "warning"];
const SOURCES = ["road_event", "ev", "device", "misbehaviour"];
const COLUMNS = ["severity", "source", "kind", "subject", "summary", "raised", "updated", "occurrences", "state", "acked", "closed", "actions"]
  .map((c) => `alarms.col.${c}`);

let ctx = null;
let root = null;
let poll = null;
let loaded = false;
const ui = { tab: "live", state: null, severity: null, source: null, alarms: [], counts: {} };

/** The condition in the console's language; a kind it has no name for is shown as data. */
function kindLabel(a) {
  const label = a.source === "misbehaviour" ? tEnum("common.check", a.kind) : tEnum("alarms.kind", a.kind);
  return label === a.kind ? data(a.kind) : label;
}
const who = (by) => (by === "v2xcloud:cleared" || by === "v2xcloud:evicted" ? t("alarms.platform") : by);

function step(alarm, what) {
  return async () => {
    const note = root.querySelector("#alarm-note");
    try {
      await ctx.postJson(`/api/alarms/${encodeURIComponent(alarm.alarm_id)}/${what}`);
      note.textContent = "";
      await load();
    } catch (error) {
      note.textContent = t("alarms.step_failed", { what: t(what === "ack" ? "alarms.ack" : "alarms.close"), error: error.status ? `HTTP ${error.status} ${error.detail ?? ""}` : error.message });
    }
  };
}

function stepCell(a, by, at) {
  if (!by) return h("td", {}, "—");
  return h("td", {}, data(who(by), { class: "who" }), h("br"), h("small", { class: "muted" }, formatTime(at)));
}

function row(a) {
  const actions = a.state === "closed" ? [] : [
    a.state === "open" ? h("button", { class: "ack", onclick: step(a, "ack") }, t("alarms.ack")) : null,
    h("button", { class: "close", onclick: step(a, "close") }, t("alarms.close")),
  ];
  return h("tr", { class: `alarm state-${a.state}`, dataset: { id: a.alarm_id, severity: a.severity } },
    h("td", {}, h("span", { class: `sev sev-${a.severity}` }, tEnum("alarms.severity", a.severity))),
    h("td", {}, tEnum("alarms.source", a.source)),
    h("td", {}, kindLabel(a)),
    h("td", {}, data(a.subject)),
    h("td", { class: "summary" }, data(a.summary), a.cleared_ms ? h("small", { class: "muted" }, " ", t("alarms.cleared", { at: formatTime(a.cleared_ms) })) : null),
    h("td", { title: formatDateTime(a.raised_ms) }, formatTime(a.raised_ms)),
    h("td", { title: formatDateTime(a.updated_ms) }, formatTime(a.updated_ms)),
    h("td", { class: "num" }, a.occurrences),
    h("td", { class: "state" }, tEnum("alarms.state", a.state)),
    stepCell(a, a.acked_by, a.acked_ms),
    stepCell(a, a.closed_by, a.closed_ms),
    h("td", { class: "actions" }, actions));
}

function render() {
  if (!root) return;
  const tbody = root.querySelector("#alarm-rows");
  const shown = ui.alarms;
  redraw(tbody, JSON.stringify(shown), () => (shown.length ? shown.map(row)
    : [h("tr", {}, h("td", { colspan: COLUMNS.length, class: "muted" }, t("alarms.none")))]));
  root.querySelector("#alarm-count").textContent = t("alarms.count", { n: shown.length });
  root.querySelector("#alarm-severities").replaceChildren(...SEVERITIES.filter((s) => ui.counts[s]).map((s) =>
    h("span", { class: `sev sev-${s}` }, `${tEnum("alarms.severity", s)} ${ui.counts[s]}`)));
  for (const b of root.querySelectorAll(".tabs button")) b.classList.toggle("on", b.dataset.tab === ui.tab);
}

async function load() {
  const query = new URLSearchParams();
  for (const name of ["state", "severity", "source"]) if (ui[name]) query.set(name, ui[name]);
  if (ui.tab === "live") {
    const doc = await ctx.getJson(`/api/alarms?${query}`);
    ui.alarms = doc.alarms;
    ui.counts = doc.by_severity;
  } else {
    const doc = await ctx.getJson(`/api/alarms/history?${query}`);
    ui.alarms = doc.alarms;
    ui.counts = {};
    for (const a of doc.alarms) ui.counts[a.severity] = (ui.counts[a.severity] ?? 0) + 1;
  }
  loaded = true;
  render();
}

function build(el) {
  const filters = [
    ["state", STATES, (v) => tEnum("alarms.state", v)],
    ["severity", SEVERITIES, (v) => tEnum("alarms.severity", v)],
    ["source", SOURCES, (v) => tEnum("alarms.source", v)],
  ].map(([name, values, label]) => {
    const box = select(`alarm-${name}`, values, label, (v) => { ui[name] = v; load().catch(() => {}); });
    return { name, box, label: h("label", {}, h("span", { class: "muted" }, t(`alarms.${name}`)), " ", box) };
  });
  const tab = (id, key) => h("button", { dataset: { tab: id }, onclick: () => { ui.tab = id; load().catch(() => {}); } }, t(key));
  el.replaceChildren(h("div", { class: "ops" },
    h("div", { class: "ops-bar" },
      h("span", { class: "tabs" }, tab("live", "alarms.live"), tab("history", "alarms.history")),
      ...filters.map((f) => f.label),
      h("span", { id: "alarm-count", class: "muted" }),
      h("span", { id: "alarm-severities" }),
      h("span", { id: "alarm-note", class: "bad" })),
    h("table", { class: "ops-table", id: "alarm-table" }, h("thead", {}, headRow(COLUMNS)), h("tbody", { id: "alarm-rows" }))));
  for (const f of filters) if (ui[f.name]) f.box.value = ui[f.name];
}

export default {
  id: "alarms",
  titleKey: "alarms.title",
  messages,
  mount(el, context) {
    ctx = context;
    if (!root) {
      build(el);
      onLanguage(() => { build(el); render(); }); // labels, filters and rows in the new language
    }
    root = el;
    poll = poll ?? new Poll(load, POLL_MS, (error) => {
      const note = root?.querySelector("#alarm-note");
      if (note && error) note.textContent = t("alarms.poll_failed", { error: error.message, s: POLL_MS / 1000 });
    });
    poll.start();
  },
  unmount() { poll?.stop(); },
  ready: () => loaded,
};
