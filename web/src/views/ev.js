// EV monitoring (GB/T 32960): the fleet as a table and as points on a map, one vehicle's detail
// (status, pack voltage and current, cell voltages and spread, temperatures over time, its alarms
// with their explanation, its charging verdict), the fleet's alarms, charging warnings and the
// scheduler's plan. Polled from /api/ev/* every 2 s while the view is shown (nothing while it is
// hidden); table rows are kept and their cells updated in place, so what is under the pointer is
// not redrawn. The platform writes explanations in English: they are shown as data (translate=no)
// beside a translated name of the alarm.
import maplibregl from "maplibre-gl";
import { Chart } from "../charts.js";
import { collection, point } from "../geometry.js";
import { formatAge, formatCount, formatQuantity, formatTime, onLanguage, t, tEnum, translate } from "../i18n.js";
import messages from "../i18n/ev.js";
import { EMPTY_STYLE } from "../layers.js";

const POLL_MS = 2000;
const LEVEL_COLOURS = ["#5bd68a", "#9fd3ff", "#ffb347", "#ff3b3b"];
const state = {
  ctx: null, el: null, map: null, charts: null, timers: [], visible: false, vin: null,
  filters: { online: "", level: "" }, fleet: null, detail: null, alarms: null, charging: null,
  noServer: false, polls: { fleet: 0, vehicle: 0, alarms: 0, charging: 0, failures: 0 },
  rows: new Map(), fitted: false,
};

const TEMPLATE = `
<div class="ev">
  <div class="ev-left">
    <p id="ev-none" class="bad" hidden data-i18n="ev.no_server"></p>
    <section>
      <h2><span data-i18n="ev.fleet"></span> <small id="ev-summary"></small> <small id="ev-note" class="bad"></small></h2>
      <div class="ev-filters">
        <label><span data-i18n="ev.filter.online"></span>
          <select id="ev-online">
            <option value="" data-i18n="ev.filter.all"></option>
            <option value="true" data-i18n="ev.filter.online_only"></option>
            <option value="false" data-i18n="ev.filter.offline_only"></option>
          </select></label>
        <label><span data-i18n="ev.filter.level"></span>
          <select id="ev-level">
            <option value="" data-i18n="ev.filter.all"></option>
            <option value="1"></option><option value="2"></option><option value="3"></option>
          </select></label>
        <small id="ev-evicted" class="warn"></small>
      </div>
      <div id="ev-map" data-i18n-aria-label="ev.map_label" tabindex="0"></div>
      <table id="ev-table"><thead><tr>
        <th data-i18n="ev.col.vin"></th><th data-i18n="ev.col.state"></th><th data-i18n="ev.col.soc"></th>
        <th data-i18n="ev.col.speed"></th><th data-i18n="ev.col.voltage"></th><th data-i18n="ev.col.current"></th>
        <th data-i18n="ev.col.spread"></th><th data-i18n="ev.col.temp"></th><th data-i18n="ev.col.level"></th>
        <th data-i18n="ev.col.seen"></th></tr></thead><tbody></tbody></table>
      <p id="ev-empty" class="muted" data-i18n="ev.no_vehicles" hidden></p>
    </section>
    <section>
      <h2><span data-i18n="ev.alarms"></span> <small data-i18n="ev.alarms_note"></small></h2>
      <ol id="ev-alarms" class="ev-alarms"></ol>
    </section>
    <section>
      <h2 data-i18n="ev.charging"></h2>
      <p id="ev-charging-off" class="muted" data-i18n="ev.charging_off" hidden></p>
      <div id="ev-charging">
        <h3 data-i18n="ev.warnings"></h3>
        <ol id="ev-warnings"></ol>
        <h3 data-i18n="ev.plan"></h3>
        <p id="ev-plan-summary"></p>
        <table id="ev-plan"><thead><tr><th data-i18n="ev.plan.vin"></th><th data-i18n="ev.plan.charger"></th>
          <th data-i18n="ev.plan.road"></th><th data-i18n="ev.plan.wait"></th><th data-i18n="ev.plan.charge"></th>
        </tr></thead><tbody></tbody></table>
        <p id="ev-unserved" class="warn"></p>
      </div>
    </section>
  </div>
  <aside class="ev-detail">
    <h2><span data-i18n="ev.vehicle"></span> <span id="ev-vin" translate="no"></span> <small id="ev-source" class="muted"></small></h2>
    <p id="ev-pick" class="muted" data-i18n="ev.pick_vehicle"></p>
    <div id="ev-detail" hidden>
      <dl id="ev-status"></dl>
      <h3 data-i18n="ev.chart.pack"></h3><div id="ev-chart-pack" class="chart ev-chart"></div>
      <h3 data-i18n="ev.chart.cells"></h3><div id="ev-chart-cells" class="chart ev-chart"></div>
      <h3 data-i18n="ev.chart.temps"></h3><div id="ev-chart-temps" class="chart ev-chart"></div>
      <h3 data-i18n="ev.vehicle_alarms"></h3>
      <ol id="ev-vehicle-alarms" class="ev-alarms"></ol>
    </div>
  </aside>
</div>`;

const num = (v, unit, digits) => formatQuantity(v, unit, { digits });
const levelText = (n) => (n == null ? "—" : t("ev.level", { n }));
const seen = (ms) => (ms == null ? t("common.never") : `${formatTime(ms)} (${formatAge(ms, Date.now())})`);

// Fleet table columns: the cell's text (and class) from one vehicle status.
const COLUMNS = [
  (v) => [v.vin, "vin"],
  (v) => (v.is_online ? [`● ${t("ev.online")}`, "good"] : [`○ ${t("ev.offline")}`, "muted"]),
  (v) => [num(v.soc_pct, "%", 0)],
  (v) => [num(v.speed_kmh, "km/h", 1)],
  (v) => [num(v.pack_voltage_v, "V", 1)],
  (v) => [num(v.pack_current_a, "A", 1)],
  (v) => [num(v.cell_spread_v, "V", 3)],
  (v) => [num(v.temp_max_c, "°C", 0)],
  (v) => [levelText(v.alarm_level), `level-${v.alarm_level}`],
  (v) => [seen(v.last_seen_ms)],
];

function renderFleet() {
  const fleet = state.fleet;
  if (!fleet) return;
  const body = state.el.querySelector("#ev-table tbody");
  const vins = fleet.vehicles.map((v) => v.vin);
  if (vins.join() !== [...state.rows.keys()].join()) { // the set changed: rows again, in VIN order
    body.replaceChildren();
    state.rows.clear();
    for (const vin of vins) {
      const tr = document.createElement("tr");
      tr.dataset.vin = vin;
      for (let i = 0; i < COLUMNS.length; i += 1) tr.append(document.createElement("td"));
      tr.cells[0].translate = false;
      tr.addEventListener("click", () => select(vin));
      body.append(tr);
      state.rows.set(vin, tr);
    }
  }
  for (const v of fleet.vehicles) {
    const tr = state.rows.get(v.vin);
    tr.classList.toggle("picked", v.vin === state.vin);
    COLUMNS.forEach((column, i) => {
      const [text, cls = ""] = column(v);
      if (tr.cells[i].textContent !== text) tr.cells[i].textContent = text;
      if (tr.cells[i].className !== cls) tr.cells[i].className = cls;
    });
  }
  state.el.querySelector("#ev-empty").hidden = fleet.total > 0;
  state.el.querySelector("#ev-summary").textContent = t("ev.summary", {
    shown: formatCount(fleet.vehicles.length), total: formatCount(fleet.total),
    online: formatCount(fleet.online), alarmed: formatCount(fleet.alarmed),
  });
  state.el.querySelector("#ev-evicted").textContent = fleet.evicted
    ? t("ev.evicted", { n: formatCount(fleet.evicted), max: formatCount(fleet.max_vehicles) }) : "";
  renderMap();
}

function renderMap() {
  const source = state.map?.getSource("ev");
  if (!source || !state.fleet) return;
  const placed = state.fleet.vehicles.filter((v) => v.lat_deg != null && v.lon_deg != null);
  source.setData(collection(placed.map((v) => point([v.lon_deg, v.lat_deg], {
    vin: v.vin, level: v.alarm_level, online: v.is_online, picked: v.vin === state.vin,
  }))));
  if (!state.fitted && placed.length) {
    const chargers = state.charging?.chargers ?? [];
    const lons = [...placed.map((v) => v.lon_deg), ...chargers.map((c) => c.lon_deg)];
    const lats = [...placed.map((v) => v.lat_deg), ...chargers.map((c) => c.lat_deg)];
    state.map.fitBounds([[Math.min(...lons), Math.min(...lats)], [Math.max(...lons), Math.max(...lats)]],
      { padding: 30, duration: 0, maxZoom: 14 });
    state.fitted = true;
  }
}

/** The message ``key`` as DOM nodes: placeholders named in ``raw`` (ids, names: data) go into
 * spans marked translate=no, the others are filled in as text. */
function messageNodes(key, params, raw) {
  return t(key).split(/\{(\w+)\}/).map((part, i) => {
    if (i % 2 === 0) return part;
    if (!raw.includes(part)) return String(params[part] ?? "");
    return Object.assign(document.createElement("span"), { textContent: String(params[part] ?? "—"), translate: false });
  });
}

function renderChargers() {
  const source = state.map?.getSource("ev-chargers");
  if (!source || !state.charging) return;
  source.setData(collection(state.charging.chargers.map((c) => point([c.lon_deg, c.lat_deg], { id: c.id }))));
  if (state.charging.chargers.length && !state.chargersFitted) { // frame them with the fleet once
    state.chargersFitted = true;
    state.fitted = false;
    renderMap();
  }
}

function alarmItem(entry) {
  const a = entry.alarm;
  const li = document.createElement("li");
  li.className = `level-${a.level}${entry.is_active ? "" : " expired"}`;
  li.dataset.vin = a.vin;
  li.dataset.kind = a.kind;
  const head = document.createElement("div");
  const vin = document.createElement("span");
  vin.translate = false;
  vin.textContent = a.vin;
  head.append(`${levelText(a.level)} · ${tEnum("ev.kind", a.kind)} · `, vin,
    ` · ${entry.is_active ? t("ev.active") : t("ev.ended")} · ${t("ev.raised", { time: formatTime(a.raised_at_ms) })}`);
  const why = document.createElement("div");
  why.className = "muted reason";
  why.translate = false; // the platform's explanation, with its numbers (English)
  why.textContent = a.reason;
  li.append(head, why);
  li.addEventListener("click", () => select(a.vin));
  return li;
}

function renderAlarms() {
  if (!state.alarms) return;
  const list = state.el.querySelector("#ev-alarms");
  list.replaceChildren(...state.alarms.map(alarmItem));
  if (!state.alarms.length) list.append(Object.assign(document.createElement("li"), { className: "muted", textContent: t("ev.no_alarms") }));
}

function renderCharging() {
  const c = state.charging;
  if (!c) return;
  renderChargers();
  state.el.querySelector("#ev-charging-off").hidden = c.is_enabled;
  state.el.querySelector("#ev-charging").hidden = !c.is_enabled;
  if (!c.is_enabled) return;
  const warnings = state.el.querySelector("#ev-warnings");
  warnings.replaceChildren(...c.warnings.map((w) => {
    const li = document.createElement("li");
    li.className = w.level === "critical" ? "level-3" : w.level === "warning" ? "level-2" : "level-1";
    li.dataset.vin = w.vin;
    const vin = Object.assign(document.createElement("span"), { textContent: w.vin });
    vin.translate = false;
    li.append(`${tEnum("ev.charging_level", w.level)} · `, vin, " · ", ...messageNodes("ev.warning_line", {
      soc: num(w.soc_pct, "%", 0), range: num(w.range_km, "km", 1), charger: w.charger_id ?? "—",
      distance: num(w.distance_km, "km", 1), need: num(w.energy_needed_kwh, "kWh", 1),
    }, ["charger"]));
    li.addEventListener("click", () => select(w.vin));
    return li;
  }));
  if (!c.warnings.length) warnings.append(Object.assign(document.createElement("li"), { className: "muted", textContent: t("ev.no_warnings") }));
  const plan = c.plan;
  state.el.querySelector("#ev-plan").hidden = !plan?.assignments.length;
  const body = state.el.querySelector("#ev-plan tbody");
  body.replaceChildren(...(plan?.assignments ?? []).map((a) => {
    const tr = document.createElement("tr");
    for (const [text, raw] of [[a.vin, true], [a.charger_id, true], [num(a.road_km, "km", 1)],
      [num(a.wait_s / 60, "min", 1)], [num(a.charge_s / 60, "min", 0)]]) {
      const td = document.createElement("td");
      td.textContent = text;
      if (raw) td.translate = false;
      tr.append(td);
    }
    return tr;
  }));
  state.el.querySelector("#ev-plan-summary").textContent = plan && plan.assignments.length + plan.unserved.length
    ? t("ev.plan_summary", {
      served: formatCount(plan.assignments.length), unserved: formatCount(plan.unserved.length),
      wait: num(plan.mean_wait_s / 60, "min", 1), baseline: num((c.baseline?.mean_wait_s ?? 0) / 60, "min", 1),
      detour: num(plan.mean_detour_km, "km", 1),
    }) : t("ev.plan_empty");
  state.el.querySelector("#ev-unserved").replaceChildren(...(plan?.unserved.length
    ? messageNodes("ev.unserved", { vins: plan.unserved.join(", ") }, ["vins"]) : []));
}

function statusRows(d) {
  const s = d.status;
  const flags = s.alarm_flags.map((f) => tEnum("ev.flag", f)).join(", ") || t("common.none");
  return [
    ["ev.detail.state", s.is_online ? t("ev.online") : t("ev.offline"), s.is_online ? "good" : "muted"],
    ["ev.detail.seen", seen(s.last_seen_ms)],
    ["ev.detail.collected", formatTime(s.collected_at_ms)],
    ["ev.detail.position", s.lat_deg == null ? "—" : `${num(s.lat_deg, "°", 6)}, ${num(s.lon_deg, "°", 6)}`],
    ["ev.detail.soc", num(s.soc_pct, "%", 0)],
    ["ev.detail.speed", num(s.speed_kmh, "km/h", 1)],
    ["ev.detail.pack", `${num(s.pack_voltage_v, "V", 1)} · ${num(s.pack_current_a, "A", 1)}`],
    ["ev.detail.cells", t("ev.detail.cells_value", {
      max: num(s.cell_max_v, "V", 3), min: num(s.cell_min_v, "V", 3), spread: num(s.cell_spread_v, "V", 3) })],
    ["ev.detail.temps", t("ev.detail.temps_value", { max: num(s.temp_max_c, "°C", 0), min: num(s.temp_min_c, "°C", 0) })],
    ["ev.detail.own_level", levelText(s.vehicle_alarm_level), `level-${s.vehicle_alarm_level ?? 0}`],
    ["ev.detail.flags", flags],
    ["ev.detail.charging", d.charging ? `${tEnum("ev.charging_level", d.charging.level)} · ${num(d.charging.range_km, "km", 1)}` : "—"],
    ["ev.detail.reports", formatCount(s.reports)],
  ];
}

function makeCharts() {
  const el = (id) => state.el.querySelector(id);
  return {
    pack: new Chart(el("#ev-chart-pack"), {
      axes: [{ label: () => t("ev.chart.voltage"), unit: "V" }, { label: () => t("ev.chart.current"), unit: "A" }],
      series: [{ label: () => t("ev.chart.voltage"), colour: "#4fc3f7" },
        { label: () => t("ev.chart.current"), axis: 1, colour: "#ffb347" }],
    }),
    cells: new Chart(el("#ev-chart-cells"), {
      axes: [{ label: () => t("ev.chart.spread"), unit: "V", min: 0 }, { label: () => t("ev.chart.cells"), unit: "V" }],
      series: [{ label: () => t("ev.chart.spread"), colour: "#ff5b5b", area: true },
        { label: () => t("ev.chart.cell_max"), axis: 1, colour: "#aed581" },
        { label: () => t("ev.chart.cell_min"), axis: 1, colour: "#b39ddb" }],
    }),
    temps: new Chart(el("#ev-chart-temps"), {
      axes: [{ label: () => t("ev.chart.temp"), unit: "°C" }],
      series: [{ label: () => t("ev.chart.temp_max"), colour: "#ff5b5b" },
        { label: () => t("ev.chart.temp_min"), colour: "#4fc3f7" }],
    }),
  };
}

function renderDetail() {
  const d = state.detail;
  state.el.querySelector("#ev-pick").hidden = d != null;
  state.el.querySelector("#ev-detail").hidden = d == null;
  state.el.querySelector("#ev-vin").textContent = state.vin ?? "";
  if (!d) return;
  const dl = state.el.querySelector("#ev-status");
  dl.replaceChildren(...statusRows(d).flatMap(([key, value, cls]) => [
    Object.assign(document.createElement("dt"), { textContent: t(key) }),
    Object.assign(document.createElement("dd"), { textContent: value, className: cls ?? "" }),
  ]));
  state.el.querySelector("#ev-source").textContent = d.series.source === "store" ? t("ev.chart.from_store") : "";
  state.charts ??= makeCharts();
  const s = d.series;
  const pairs = (column) => s.t_ms.map((tMs, i) => [tMs, s[column][i]]);
  state.charts.pack.update([pairs("pack_voltage_v"), pairs("pack_current_a")]);
  state.charts.cells.update([pairs("cell_spread_v"), pairs("cell_max_v"), pairs("cell_min_v")]);
  const limit = d.cell_spread_limit_v;
  if (limit != null && state.charts.cells.spec.thresholds[0]?.value !== limit) {
    state.charts.cells.setThresholds([{ value: limit, label: () => t("ev.chart.spread_limit"), colour: "#ff5b5b" }]);
  }
  state.charts.temps.update([pairs("temp_max_c"), pairs("temp_min_c")]);
  const list = state.el.querySelector("#ev-vehicle-alarms");
  list.replaceChildren(...d.alarms.map(alarmItem));
  if (!d.alarms.length) list.append(Object.assign(document.createElement("li"), { className: "muted", textContent: t("ev.no_alarms") }));
}

function renderAll() {
  for (const option of state.el.querySelectorAll("#ev-level option[value]:not([value=''])")) {
    option.textContent = t("ev.filter.level_min", { n: option.value });
  }
  renderFleet();
  renderAlarms();
  renderCharging();
  renderDetail();
}

function fleetPath() {
  const q = new URLSearchParams();
  if (state.filters.online) q.set("online", state.filters.online);
  if (state.filters.level) q.set("min_level", state.filters.level);
  return `/api/ev/vehicles${q.size ? `?${q}` : ""}`;
}

/** Poll ``path()`` every POLL_MS while shown; ``take(doc)`` keeps and draws the answer. */
function poll(name, path, take, everyMs = POLL_MS) {
  const run = async () => {
    if (!state.visible) return;
    const note = state.el.querySelector("#ev-note");
    const url = path();
    if (url) {
      try {
        take(await state.ctx.getJson(url));
        state.polls[name] += 1;
        state.noServer = false;
        note.textContent = "";
      } catch (error) {
        state.polls.failures += 1;
        state.noServer = error.status === 404 && /--gb32960/.test(error.detail ?? "");
        note.textContent = state.noServer ? "" : t("ev.poll_failed", { what: t(`ev.poll.${name}`), error: error.message, s: everyMs / 1000 });
      }
      state.el.querySelector("#ev-none").hidden = !state.noServer;
      state.el.querySelector(".ev").classList.toggle("no-server", state.noServer);
    }
    state.timers.push(setTimeout(run, everyMs));
  };
  run();
}

function startPolls() {
  poll("fleet", fleetPath, (doc) => { state.fleet = doc; renderFleet(); });
  poll("alarms", () => "/api/ev/alarms?limit=30", (doc) => { state.alarms = doc; renderAlarms(); });
  poll("charging", () => "/api/ev/charging", (doc) => { state.charging = doc; renderCharging(); }, 5000);
  poll("vehicle", () => (state.vin ? `/api/ev/vehicles/${encodeURIComponent(state.vin)}` : null), (doc) => {
    if (doc.status.vin === state.vin) { state.detail = doc; renderDetail(); }
  });
}

function stopPolls() {
  for (const id of state.timers) clearTimeout(id);
  state.timers = [];
}

/** Show one vehicle (the route carries it: #/ev?vin=…). */
function select(vin) {
  state.ctx.router.go("ev", vin ? { vin } : undefined);
}

async function showVehicle(vin) {
  state.vin = vin ?? null;
  state.detail = null;
  renderDetail();
  renderFleet();
  if (!state.vin) return;
  try {
    const doc = await state.ctx.getJson(`/api/ev/vehicles/${encodeURIComponent(state.vin)}`);
    if (doc.status.vin === state.vin) { state.detail = doc; renderDetail(); }
  } catch (error) {
    state.el.querySelector("#ev-note").textContent = t("ev.poll_failed", { what: t("ev.poll.vehicle"), error: error.message, s: POLL_MS / 1000 });
  }
}

function createMap() {
  state.map = new maplibregl.Map({
    container: state.el.querySelector("#ev-map"), style: EMPTY_STYLE, center: [121.47, 31.23], zoom: 10,
    attributionControl: false, locale: { "Map.Title": t("ev.map_title") },
  });
  state.map.on("load", () => {
    state.map.addSource("ev-chargers", { type: "geojson", data: collection([]) });
    state.map.addLayer({
      id: "ev-chargers", type: "circle", source: "ev-chargers",
      paint: { "circle-radius": 6, "circle-color": "#101318", "circle-stroke-width": 2, "circle-stroke-color": "#4fc3f7" },
    });
    state.map.addSource("ev", { type: "geojson", data: collection([]) });
    state.map.addLayer({
      id: "ev", type: "circle", source: "ev",
      paint: {
        "circle-radius": ["case", ["get", "picked"], 8, 5],
        "circle-color": ["match", ["get", "level"], 3, LEVEL_COLOURS[3], 2, LEVEL_COLOURS[2], 1, LEVEL_COLOURS[1], LEVEL_COLOURS[0]],
        "circle-opacity": ["case", ["get", "online"], 1, 0.45],
        "circle-stroke-width": ["case", ["get", "picked"], 2, 0.5],
        "circle-stroke-color": "#ffffff",
      },
    });
    state.map.on("click", "ev", (event) => select(event.features[0].properties.vin));
    state.map.on("mouseenter", "ev", () => { state.map.getCanvas().style.cursor = "pointer"; });
    state.map.on("mouseleave", "ev", () => { state.map.getCanvas().style.cursor = ""; });
    renderMap();
    renderChargers();
  });
}

function setUp(el, ctx) {
  state.ctx = ctx;
  state.el = el;
  el.innerHTML = TEMPLATE;
  translate(el);
  for (const [id, key] of [["#ev-online", "online"], ["#ev-level", "level"]]) {
    el.querySelector(id).addEventListener("change", (event) => {
      state.filters[key] = event.target.value;
      state.ctx.getJson(fleetPath()).then((doc) => { state.fleet = doc; renderFleet(); }).catch(() => {});
    });
  }
  createMap();
  onLanguage(() => {
    translate(el);
    // MapLibre reads its locale once: relabel its canvas in place
    for (const canvas of el.querySelectorAll("canvas.maplibregl-canvas")) canvas.setAttribute("aria-label", t("ev.map_title"));
    renderAll();
  });
  window.v2x.ev = {
    state,
    chartPoints: () => (state.charts ? Object.fromEntries(Object.entries(state.charts).map(([k, c]) => [k,
      c.chart.getOption().series.map((s) => s.data.filter((p) => p[1] != null).length)])) : null),
    spreadLimit: () => state.charts?.cells.chart.getOption().series[0].markLine?.data?.map((m) => m.yAxis) ?? [],
    rendered: () => (state.map?.getLayer("ev") ? state.map.queryRenderedFeatures({ layers: ["ev"] }).map((f) => f.properties) : []),
  };
}

export default {
  id: "ev",
  titleKey: "ev.title",
  messages,
  mount(el, ctx) {
    if (!state.el) setUp(el, ctx);
    state.visible = true;
    state.map?.resize();
    for (const chart of Object.values(state.charts ?? {})) chart.resize();
    startPolls();
    renderAll();
  },
  route(params) {
    if ((params.vin ?? null) !== state.vin) showVehicle(params.vin);
  },
  unmount() {
    state.visible = false;
    stopPolls();
  },
  /** Ready once the first fleet answer (or the "no server" answer) is drawn. */
  ready: () => state.polls.fleet > 0 || state.noServer,
};
