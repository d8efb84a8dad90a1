// The live road: the map of lanes, signals, participants, advisories and road events, the
// warning and event lists, participant details, health charts and the replay timeline. The
// devices, dead-letter, security and misbehaviour panels still live here until their own views
// take them.
import maplibregl from "maplibre-gl";
import { RollingChart } from "../charts.js";
import { DevicesTable, deviceFeatures, renderDeadLetters } from "../devices.js";
import { collection, mapGeometry, nodeKey } from "../geometry.js";
import { formatTime, language, onLanguage, t, tEnum } from "../i18n.js";
import messages from "../i18n/live.js";
import { EMPTY_STYLE, addLayers, advisoryFeatures, eventFeatures, headFeatures, participantFeatures } from "../layers.js";
import { renderMisbehaviour } from "../misbehaviour.js";
import { renderDetails, renderEvents, renderStats } from "../panels.js";
import { Scene } from "../scene.js";
import { renderSecurity } from "../security.js";
import { WarningBoard, WarningList } from "../warnings.js";

const POLL_MS = 2000;
const scene = new Scene();
const board = new WarningBoard();
const INTERSECTIONS_RETRY_MS = 5000;
const EVENTS_POLL_MS = 2000;
const ui = { selectedId: null, replayIndex: null, playing: null, heads: [], track: null, visible: false };
const polls = { devices: 0, deadLetters: 0, security: 0, misbehaviour: 0, failures: 0 };
let ctx = null;
let map = null;
let charts = null;
let devicesTable = null;
let warningList = null;
const labels = new Map(); // intersection key -> {marker, el}
let fitted = false;
let renderQueued = false;

const setData = (source, data) => map?.getSource(source)?.setData(data);

function shown() {
  if (ui.replayIndex == null) return scene.snapshot();
  return scene.history[ui.replayIndex] ?? scene.snapshot();
}

function render() {
  if (!ui.visible || !map) return;
  const view = shown();
  setData("participants", participantFeatures(view.participants, ui.selectedId, view.advisories));
  setData("advisories", advisoryFeatures(view.advisories));
  scene.pruneEvents();
  setData("events", eventFeatures([...scene.events.values()]));
  setData("heads", headFeatures(ui.heads, view.signals));
  renderLabels(view.signals);
  board.prune(scene.nowMs);
  addOptions(document.getElementById("filter-app"), [...board.apps].sort().map((a) => [a, a]));
  warningList.update(board.select(filters(), scene.nowMs), scene.nowMs);
  renderEvents(document.getElementById("event-list"), [...scene.events.values()], flyTo);
  if (!fitted && !ui.heads.length && view.participants.length) fitTo(view.participants.map((p) => [p.lon_deg, p.lat_deg]));
  const selected = view.participants.find((p) => p.id === ui.selectedId);
  if (ui.selectedId) renderDetails(selected ?? null, ui.track);
  renderStats(scene.stats);
  document.getElementById("timeline-label").textContent = ui.replayIndex == null
    ? t("live.live_label") : t("live.replay_at", { time: formatTime(view.nowMs) });
}

function filters() {
  const value = (id) => document.getElementById(id).value;
  return { app: value("filter-app"), level: value("filter-level"), intersection: value("filter-intersection"),
    kind: value("filter-kind"), within: value("filter-within") };
}

/** Add the options ``[[value, text]]`` a select does not have yet (kept in first-seen order). */
function addOptions(select, options) {
  const have = new Set([...select.options].map((o) => o.value));
  for (const [value, text] of options) {
    if (have.has(value)) continue;
    const option = document.createElement("option");
    option.value = value;
    option.textContent = text;
    option.translate = false; // an application code or an intersection's name
    select.append(option);
  }
}

/** Fit the map to ``points`` ([lon, lat]) once: the first time there is something to show. */
function fitTo(points) {
  if (!points.length || !map) return;
  const lons = points.map((p) => p[0]), lats = points.map((p) => p[1]);
  map.fitBounds([Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)],
    { padding: 60, duration: 0, maxZoom: 18 });
  fitted = true;
}

const LIGHT_CLASS = { red: "bad", "flashing-red": "bad", yellow: "warn", "flashing-yellow": "warn",
  "protected-green": "good", "permissive-green": "good", "flashing-green": "good" };

/** Each intersection's label: its name and the state of each signal phase, large enough to read. */
function renderLabels(signals) {
  for (const [key, { el }] of labels) {
    const state = signals.get(key);
    const phases = (state?.phases ?? []).map((p) => {
      const light = p.states?.[0]?.light ?? "unavailable";
      return [p.phase_id, light];
    });
    const text = phases.map(([id, light]) => `${id}:${light}`).join(" ") + language();
    if (el.dataset.key === text) continue;
    el.dataset.key = text;
    const line = el.querySelector(".phases");
    line.replaceChildren(...(phases.length ? phases.map(([id, light]) => {
      const span = document.createElement("span");
      span.className = `ph ${LIGHT_CLASS[light] ?? "muted"}`;
      span.textContent = `${t("live.phase", { id })} ${tEnum("live.light", light)}`;
      return span;
    }) : [t("live.no_signal")]));
  }
}

async function loadIntersections() {
  let intersections = [];
  try {
    intersections = await ctx.getJson("/api/intersections");
  } catch (error) {
    console.warn(`intersections: ${error.message}; retrying`);
  }
  const geometry = mapGeometry(intersections);
  document.getElementById("map-empty").hidden = geometry.lanes.length > 0;
  if (!geometry.lanes.length) {
    // no MAP yet (a runtime fed by devices draws nothing until an RSU sends one): ask again
    setTimeout(loadIntersections, INTERSECTIONS_RETRY_MS);
    return;
  }
  ui.heads = geometry.heads;
  setData("lanes", collection(geometry.lanes));
  setData("stops", collection(geometry.stops));
  if (geometry.bounds) { map.fitBounds(geometry.bounds, { padding: 30, duration: 0 }); fitted = true; }
  board.intersections = intersections.map((v) => ({ key: nodeKey(v.node.id), name: v.node.name ?? nodeKey(v.node.id),
    lat: v.node.lat_deg, lon: v.node.lon_deg }));
  addOptions(document.getElementById("filter-intersection"), board.intersections.map((n) => [n.key, n.name]));
  for (const node of board.intersections) {
    if (labels.has(node.key)) continue;
    const el = document.createElement("div");
    el.className = "node-label";
    el.dataset.node = node.key;
    const name = document.createElement("b");
    name.translate = false; // the intersection's name as its MAP gives it
    name.textContent = node.name;
    const phases = document.createElement("span");
    phases.className = "phases";
    el.append(name, phases);
    const marker = new maplibregl.Marker({ element: el, anchor: "bottom", offset: [0, -40] })
      .setLngLat([node.lon, node.lat]).addTo(map);
    labels.set(node.key, { marker, el });
  }
  render();
}

async function pollEvents() {
  try {
    scene.setEvents(await ctx.getJson("/api/events")); // the events in force, operator-posted too
    queueRender();
  } catch (error) {
    console.warn(`events: ${error.message}`);
  }
  setTimeout(pollEvents, EVENTS_POLL_MS);
}

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
}

/** A click on a warning row: show its ego (details, trajectory) and go to the hazard. */
function pickWarning(group) {
  ui.pickedWarning = group.key;
  flyTo(group);
  select(group.ego_id);
}

function flyTo(item) {
  if (item.lat_deg != null && map) map.easeTo({ center: [item.lon_deg, item.lat_deg], duration: 400 });
}

async function select(id) {
  ui.selectedId = id;
  ui.track = null;
  setData("trajectory", collection([]));
  render();
  if (!id) return;
  const points = await ctx.getJson(`/api/participants/${encodeURIComponent(id)}/trajectory`);
  if (ui.selectedId !== id) return;
  ui.track = points;
  setData("trajectory", collection([{ type: "Feature", properties: { id },
    geometry: { type: "LineString", coordinates: points.map((p) => [p[2], p[1]]) } }]));
  render();
}

function onFrame(frame) {
  if (frame.type !== "tick") return;
  scene.apply(frame);
  board.add(frame.advisories, scene.participants);
  if (frame.stats) {
    const s = frame.stats;
    charts?.throughput.push(frame.now_ms, [s.messages_in_per_s, s.advisories_out_per_s]);
    charts?.latency.push(frame.now_ms, [s.tick_ms, s.latency_p99_ms]);
  }
  const slider = document.getElementById("timeline");
  slider.max = String(scene.history.length - 1);
  if (ui.replayIndex == null) slider.value = slider.max;
  queueRender();
}


function failed(note, what, error) {
  polls.failures += 1;
  note.textContent = t("live.poll_failed", { what: t(`live.poll.${what}`), error: error.message, s: POLL_MS / 1000 });
}

/** Poll ``path`` every POLL_MS and ``draw`` the answer (again after a language switch); a
 * failure is counted and said in the panel's note. */
const lastDocs = new Map(); // poll name -> [draw, last answer]
function poller(name, noteId, path, draw) {
  const run = async () => {
    const note = document.getElementById(noteId);
    try {
      const doc = await ctx.getJson(path);
      lastDocs.set(name, [draw, doc]);
      draw(doc);
      polls[name] += 1;
      note.textContent = "";
    } catch (error) {
      failed(note, name, error);
    }
    setTimeout(run, POLL_MS);
  };
  run();
}

async function pollDevices() {
  const note = document.getElementById("device-note");
  try {
    const stats = await ctx.getJson("/api/stats");
    if (stats.gateways == null) {
      // no registry in this process (e.g. the scripted UI platform): nothing to poll
      note.dataset.i18n = "live.no_gateways";
      note.textContent = t("live.no_gateways");
      document.getElementById("devices-panel").classList.add("empty");
      return;
    }
    const devices = await ctx.getJson("/api/devices");
    devicesTable.update(devices, stats.platform?.now_ms ?? Date.now());
    setData("devices", deviceFeatures(devices));
    polls.devices += 1;
    note.textContent = "";
  } catch (error) {
    failed(note, "devices", error);
  }
  setTimeout(pollDevices, POLL_MS);
}

function startPolls() {
  pollDevices();
  poller("deadLetters", "dl-note", "/api/dead-letters?limit=5&raw_bytes=32", renderDeadLetters);
  poller("security", "security-note", "/api/security", renderSecurity);
  poller("misbehaviour", "mb-note", "/api/misbehaviour?limit=8", renderMisbehaviour);
}

function goLive() {
  ui.replayIndex = null;
  clearInterval(ui.playing);
  ui.playing = null;
  document.getElementById("live").classList.add("on");
  render();
}

function wireTimeline() {
  const slider = document.getElementById("timeline");
  slider.addEventListener("input", () => {
    ui.replayIndex = Number(slider.value);
    document.getElementById("live").classList.remove("on");
    render();
  });
  document.getElementById("live").addEventListener("click", goLive);
  document.getElementById("play").addEventListener("click", () => {
    clearInterval(ui.playing);
    ui.replayIndex = ui.replayIndex ?? 0;
    document.getElementById("live").classList.remove("on");
    ui.playing = setInterval(() => {
      if (ui.replayIndex >= scene.history.length - 1) { goLive(); return; }
      ui.replayIndex += 1;
      slider.value = String(ui.replayIndex);
      render();
    }, 100);
  });
}

function makeCharts() {
  return {
    throughput: new RollingChart(document.getElementById("chart-throughput"), {
      axes: [{ label: () => t("live.chart.rate"), unit: "1/s", min: 0 }],
      series: [
        { label: () => t("live.chart.msg_in"), colour: "#4fc3f7" },
        { label: () => t("live.chart.adv_out"), colour: "#ff5b5b" },
      ],
    }),
    latency: new RollingChart(document.getElementById("chart-latency"), {
      axes: [{ label: () => t("live.chart.time"), unit: "ms", min: 0 }],
      series: [
        { label: () => t("live.chart.tick"), colour: "#aed581" },
        { label: () => t("live.chart.p99"), colour: "#ffb347" },
      ],
      thresholds: [{ value: 100, label: () => t("live.chart.tick_budget"), colour: "#ff5b5b" }],
    }),
  };
}

// MapLibre's control labels (its "locale"), ours through i18n
const MAP_CONTROLS = {
  "Map.Title": ["live.map.title", "canvas.maplibregl-canvas"],
  "Marker.Title": ["live.map.marker", ".maplibregl-marker"],
  "NavigationControl.ZoomIn": ["live.map.zoom_in", ".maplibregl-ctrl-zoom-in"],
  "NavigationControl.ZoomOut": ["live.map.zoom_out", ".maplibregl-ctrl-zoom-out"],
  "NavigationControl.ResetBearing": ["live.map.reset_bearing", ".maplibregl-ctrl-compass"],
};
const mapLocale = () => Object.fromEntries(Object.entries(MAP_CONTROLS).map(([k, [key]]) => [k, t(key)]));

function relabelMap() {
  // MapLibre reads its locale when a control is built: relabel the built buttons in place
  for (const [key, selector] of Object.values(MAP_CONTROLS)) {
    for (const button of map.getContainer().querySelectorAll(selector)) {
      if (button.hasAttribute("title")) button.title = t(key);
      button.setAttribute("aria-label", t(key));
    }
  }
}

function createMap(el) {
  map = new maplibregl.Map({
    container: el.querySelector("#map"), style: EMPTY_STYLE, center: [0, 0], zoom: 17,
    attributionControl: false, keyboard: true, dragPan: true, scrollZoom: true, locale: mapLocale(),
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: true }), "top-left");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  map.on("load", async () => {
    addLayers(map);
    setData("devices", deviceFeatures(devicesTable.all)); // polled before the map was ready
    await loadIntersections();
    map.on("click", "participants", (event) => select(event.features[0].properties.id));
    map.on("click", (event) => {
      if (!map.queryRenderedFeatures(event.point, { layers: ["participants"] }).length) select(null);
    });
    map.on("mouseenter", "participants", () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", "participants", () => { map.getCanvas().style.cursor = ""; });
    map.on("click", "devices", (event) => {
      const tr = devicesTable.rows.get(event.features[0].properties.id);
      if (!tr) return;
      tr.scrollIntoView({ block: "nearest" });
      tr.classList.add("picked");
      setTimeout(() => tr.classList.remove("picked"), 1500);
    });
    map.on("mouseenter", "devices", () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", "devices", () => { map.getCanvas().style.cursor = ""; });
    render();
    window.v2x.ready = true;
  });
}

/** The first mount: map, charts, tables, polls and the stream subscription (kept for good:
 * the scene and the replay buffer keep filling while another view is shown). */
function setUp(el) {
  devicesTable = new DevicesTable(document.getElementById("device-table"),
    document.getElementById("device-summary"), document.getElementById("device-problems-only"));
  charts = makeCharts();
  createMap(el);
  wireTimeline();
  warningList = new WarningList(document.getElementById("advisory-list"),
    document.getElementById("warning-summary"), pickWarning);
  const pause = document.getElementById("warnings-pause");
  pause.addEventListener("click", () => {
    warningList.paused = !warningList.paused;
    pause.setAttribute("aria-pressed", String(warningList.paused));
    pause.dataset.i18n = warningList.paused ? "live.warn.resume" : "live.warn.pause";
    pause.textContent = t(pause.dataset.i18n);
    if (!warningList.paused) render();
  });
  for (const select of document.querySelectorAll("#warning-filters select")) {
    select.addEventListener("change", () => warningList.update(board.select(filters(), scene.nowMs), scene.nowMs, true));
  }
  ctx.stream.subscribe(onFrame);
  pollEvents();
  onLanguage(() => {
    devicesTable.relabel();
    relabelMap();
    for (const [draw, doc] of lastDocs.values()) draw(doc);
    render();
  });
  startPolls();
  Object.assign(window.v2x, {
    map, scene, ui, polls, devicesTable, charts, board,
    get warningList() { return warningList; },
    screenPosition(id) {
      const p = scene.participants.get(id);
      if (!p) return null;
      const { x, y } = map.project([p.lon_deg, p.lat_deg]);
      const box = map.getCanvas().getBoundingClientRect();
      return [box.left + x, box.top + y];
    },
    rendered(layer) {
      // features cut by tile boundaries come back once per piece: keep one of each
      const unique = new Map();
      for (const f of map.queryRenderedFeatures({ layers: [layer] })) {
        unique.set(JSON.stringify(f.properties), f.properties);
      }
      return [...unique.values()];
    },
  });
}

export default {
  id: "live",
  titleKey: "live.title",
  messages,
  mount(el, context) {
    ui.visible = true;
    if (!map) {
      ctx = context;
      setUp(el);
    } else {
      map.resize(); // the container was hidden: its size may have changed
      for (const chart of Object.values(charts)) chart.resize();
      render();
    }
  },
  unmount() {
    ui.visible = false;
  },
};
