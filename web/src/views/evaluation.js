// Runs of `v2xcloud evaluate --report` in the console: the runs listed, one opened: the
// per-application table (with the 95 % interval over seed replicates), the lead-time
// distribution per application with its 2 s reference line, and one scenario's timeline
// (ground-truth episodes and warnings per application and road user) — ECharts, not images.
import { baseOption, GRID_LINE, initChart, MUTED, TEXT } from "../charts.js";
import { formatCount, formatDateTime, formatNumber, formatQuantity, onLanguage, t } from "../i18n.js";
import messages from "../i18n/evaluation.js";
import { Poll, data, h, headRow, redraw } from "./_ops.js";

const BIN_S = 0.5;
const LEAD_REFERENCE_S = 2.0;
let ctx = null;
let root = null;
let poll = null;
let loaded = false;
const charts = { lead: null, timeline: null };
const ui = { runs: [], run: null, doc: null, scenario: null, error: null };

const figure = (doc, app, key, value, fmt) => {
  const iv = doc.intervals?.[app]?.[key];
  if (iv && iv.half_width != null) return `${fmt(iv.mean)} ± ${fmt(iv.half_width)}`;
  return fmt(value);
};

function appRows(doc) {
  return Object.entries(doc.apps ?? {}).filter(([app]) => (doc.implemented_apps ?? []).includes(app) || !doc.implemented_apps?.length)
    .map(([app, s]) => h("tr", { dataset: { app } },
      h("td", {}, data(app)),
      h("td", { class: "num" }, formatCount(s.episodes)),
      h("td", { class: "num" }, formatCount(s.detected)),
      h("td", { class: "num" }, formatCount(s.warnings)),
      h("td", { class: "num" }, figure(doc, app, "recall", s.recall, (v) => formatNumber(v, 2))),
      h("td", { class: "num" }, figure(doc, app, "precision", s.precision, (v) => formatNumber(v, 2))),
      h("td", { class: "num" }, figure(doc, app, "false_alarms_per_vehicle_hour", s.false_alarms_per_vehicle_hour, (v) => formatNumber(v, 1))),
      h("td", { class: "num" }, figure(doc, app, "lead_time_median_s", s.lead_time_median_s, (v) => formatQuantity(v, "s", { digits: 2 }))),
      h("td", { class: "num" }, formatQuantity(s.latency_median_ms, "ms", { digits: 0 }))));
}

function leadOption(doc) {
  const pooled = {};
  for (const s of doc.scenarios ?? []) {
    for (const [app, score] of Object.entries(s.scores ?? {})) (pooled[app] ??= []).push(...(score.lead_times_s ?? []));
  }
  const apps = Object.keys(pooled).filter((a) => pooled[a].length).sort();
  const top = Math.max(LEAD_REFERENCE_S + BIN_S, ...apps.flatMap((a) => pooled[a]));
  const bins = Math.ceil(top / BIN_S);
  const centres = Array.from({ length: bins }, (_, i) => Number(((i + 0.5) * BIN_S).toFixed(2)));
  return {
    ...baseOption(),
    tooltip: { ...baseOption().tooltip, trigger: "axis" },
    grid: { ...baseOption().grid, bottom: 30 },
    xAxis: { type: "value", min: 0, max: bins * BIN_S, name: `${t("evaluation.lead_x")} (s)`, nameLocation: "middle", nameGap: 24,
      nameTextStyle: { color: MUTED }, axisLabel: { color: TEXT, formatter: (v) => formatNumber(v) }, splitLine: { lineStyle: { color: GRID_LINE } } },
    yAxis: { type: "value", name: t("evaluation.lead_axis"), minInterval: 1, nameTextStyle: { color: MUTED }, axisLabel: { color: TEXT },
      splitLine: { lineStyle: { color: GRID_LINE } } },
    series: apps.map((app, i) => ({
      name: app, type: "bar", barGap: 0, data: centres.map((c) => [c, pooled[app].filter((v) => Math.abs(v - c) < BIN_S / 2 || (v >= top && c === centres.at(-1))).length]),
      markLine: i === 0 ? { silent: true, symbol: "none", data: [{ xAxis: LEAD_REFERENCE_S }],
        lineStyle: { color: "#ff5b5b", type: "dashed" }, label: { formatter: t("evaluation.lead_reference"), color: "#ff5b5b" } } : undefined,
    })),
  };
}

function timelineOption(scenario) {
  const keys = new Map();
  const rowOf = (app, ego) => { const k = `${app} ${ego}`; if (!keys.has(k)) keys.set(k, keys.size); return keys.get(k); };
  const truth = [], grey = [], warned = [];
  for (const e of scenario.episodes ?? []) {
    const list = e.is_required && e.is_observable ? truth : grey;
    list.push([e.start_s, rowOf(e.app, e.ego)], [e.end_s, rowOf(e.app, e.ego)], null);
  }
  for (const [app, ego, , onset, end] of scenario.warnings ?? []) warned.push([onset, rowOf(app, ego)], [end, rowOf(app, ego)], null);
  const rows = [...keys.keys()];
  const line = (name, points, colour, width) => ({ name, type: "line", data: points, connectNulls: false, showSymbol: false,
    lineStyle: { color: colour, width }, color: colour });
  return {
    ...baseOption(),
    tooltip: { show: false },
    grid: { ...baseOption().grid, bottom: 30 },
    xAxis: { type: "value", name: `${t("evaluation.sim_time")} (s)`, nameLocation: "middle", nameGap: 24, nameTextStyle: { color: MUTED },
      axisLabel: { color: TEXT }, splitLine: { lineStyle: { color: GRID_LINE } } },
    yAxis: { type: "category", data: rows, inverse: true, axisLabel: { color: TEXT, fontSize: 10 } },
    series: [line(t("evaluation.truth"), truth, "#f0ad4e", 8), line(t("evaluation.grey"), grey, "#777", 8), line(t("evaluation.warning"), warned, "#4fc3f7", 3)],
  };
}

function draw() {
  const doc = ui.doc;
  if (!root || !doc) return;
  root.querySelector("#eval-open").hidden = false;
  root.querySelector("#eval-title").replaceChildren(data(doc.title ?? ui.run), " ", data(ui.run, { class: "muted" }));
  root.querySelector("#eval-interval").textContent = (doc.replicates ?? 1) > 1 ? t("evaluation.interval_note", { n: doc.replicates }) : "";
  redraw(root.querySelector("#eval-apps"), `${ui.run}|${JSON.stringify(doc.apps)}`, () => appRows(doc));
  charts.lead ??= initChart(root.querySelector("#eval-lead"));
  charts.lead.setOption(leadOption(doc), true);
  const scenarios = doc.scenarios ?? [];
  const chooser = root.querySelector("#eval-scenario");
  redraw(chooser, `${ui.run}|${scenarios.map((s) => s.name).join()}`, () => scenarios.map((s) => h("option", { value: s.name }, s.name)));
  ui.scenario = scenarios.some((s) => s.name === ui.scenario) ? ui.scenario : scenarios[0]?.name;
  chooser.value = ui.scenario ?? "";
  const scenario = scenarios.find((s) => s.name === ui.scenario);
  charts.timeline ??= initChart(root.querySelector("#eval-timeline"));
  if (scenario) charts.timeline.setOption(timelineOption(scenario), true);
}

async function open(run) {
  ui.run = run;
  ui.doc = await ctx.getJson(`/api/evaluations/${encodeURIComponent(run)}`);
  draw();
  for (const tr of root.querySelectorAll("#eval-runs tr")) tr.classList.toggle("picked", tr.dataset.run === run);
}

function runRow(r) {
  return h("tr", { dataset: { run: r.run }, class: r.run === ui.run ? "picked" : null, onclick: () => open(r.run).catch(showError) },
    h("td", {}, h("a", { href: `#/evaluation?run=${encodeURIComponent(r.run)}`, onclick: (e) => e.preventDefault() }, data(r.title ? `${r.title} (${r.run})` : r.run))),
    h("td", {}, formatDateTime(r.written_ms)),
    h("td", { class: "num" }, formatCount(r.scenarios?.length)),
    h("td", { class: "num" }, formatCount(r.replicates)));
}

function showError(error) {
  ui.error = error;
  if (root) root.querySelector("#eval-note").textContent = error ? t("evaluation.poll_failed", { error: error.message }) : "";
}

async function load() {
  try {
    ui.runs = (await ctx.getJson("/api/evaluations")).runs;
  } catch (error) {
    if (error.status !== 404) throw error;
    ui.runs = []; // the platform serves no evaluations directory: say how to get one
  }
  const code = (text) => h("code", { translate: "no" }, text);
  redraw(root.querySelector("#eval-runs"), JSON.stringify(ui.runs), () => (ui.runs.length ? ui.runs.map(runRow)
    : [h("tr", {}, h("td", { colspan: 4, class: "muted" }, t("evaluation.none"), " ",
      code("v2xcloud evaluate --report DIR/RUN"), " · ", code("v2xcloud serve --evaluations DIR")))]));
  loaded = true;
  if (!ui.run && ui.runs.length) await open(ui.runs[0].run);
}

function build(el) {
  el.replaceChildren(h("div", { class: "ops" },
    h("div", { class: "ops-bar" }, h("strong", {}, t("evaluation.runs")), h("span", { id: "eval-note", class: "bad" })),
    h("table", { class: "ops-table" }, h("thead", {}, headRow(["run", "written", "scenarios", "replicates"].map((c) => `evaluation.col.${c}`))),
      h("tbody", { id: "eval-runs" })),
    h("div", { id: "eval-open", hidden: true },
      h("h2", { id: "eval-title" }),
      h("h2", {}, t("evaluation.per_app"), " ", h("small", { id: "eval-interval", class: "muted" })),
      h("table", { class: "ops-table" }, h("thead", {}, headRow(["app", "episodes", "detected", "warnings", "recall", "precision", "fa", "lead", "latency"]
        .map((c) => `evaluation.col.${c}`))), h("tbody", { id: "eval-apps" })),
      h("div", { class: "ops-grid" },
        h("div", {}, h("h2", {}, t("evaluation.lead_times")), h("div", { id: "eval-lead", class: "ops-chart" })),
        h("div", {}, h("h2", {}, t("evaluation.timeline"), " ",
          h("label", {}, h("span", { class: "muted" }, t("evaluation.scenario")), " ",
            h("select", { id: "eval-scenario", translate: "no", onchange: (e) => { ui.scenario = e.target.value; draw(); } }))),
          h("div", { id: "eval-timeline", class: "ops-chart" }))))));
}

export default {
  id: "evaluation",
  titleKey: "evaluation.title",
  messages,
  mount(el, context) {
    ctx = context;
    if (!root) {
      root = el;
      build(el);
      onLanguage(() => {
        for (const c of Object.values(charts)) c?.dispose();
        charts.lead = charts.timeline = null;
        build(root);
        load().then(draw).catch(showError);
      });
      poll = new Poll(load, 10_000, showError);
    }
    poll.start();
    for (const c of Object.values(charts)) c?.resize();
  },
  unmount() { poll?.stop(); },
  ready: () => loaded,
  charts: () => charts, // for the browser tests
};
