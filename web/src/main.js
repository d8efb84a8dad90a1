// v2xcloud operator dashboard: the live map, lists, charts and the replay timeline.
import maplibregl from "maplibre-gl";
import { getJson, openStream } from "./api.js";
import { Chart } from "./charts.js";
import { DevicesTable, deviceFeatures, renderDeadLetters } from "./devices.js";
import { collection, mapGeometry } from "./geometry.js";
import { EMPTY_STYLE, addLayers, advisoryFeatures, eventFeatures, headFeatures, participantFeatures } from "./layers.js";
import { renderAdvisories, renderDetails, renderEvents, renderStats } from "./panels.js";
import { Scene } from "./scene.js";
import { renderSecurity } from "./security.js";
import { renderMisbehaviour } from "./misbehaviour.js";

const scene = new Scene();
const ui = { selectedId: null, replayIndex: null, playing: null, droppedFrames: 0, heads: [], track: null };
const charts = {
  throughput: new Chart(document.getElementById("chart-throughput"),
    [{ key: "messages_in_per_s", colour: "#4fc3f7" }, { key: "advisories_out_per_s", colour: "#ff5b5b" }]),
  latency: new Chart(document.getElementById("chart-latency"),
    [{ key: "tick_ms", colour: "#aed581" }, { key: "latency_p99_ms", colour: "#ffb347" }]),
};

const map = new maplibregl.Map({
  container: "map", style: EMPTY_STYLE, center: [0, 0], zoom: 17, attributionControl: false,
  keyboard: true, dragPan: true, scrollZoom: true,
});
map.addControl(new maplibregl.NavigationControl({ showCompass: true }), "top-left");
map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");

const setData = (source, data) => map.getSource(source)?.setData(data);

function view() {
  if (ui.replayIndex == null) return scene.snapshot();
  return scene.history[ui.replayIndex] ?? scene.snapshot();
}

function render() {
  const shown = view();
  setData("participants", participantFeatures(shown.participants, ui.selectedId, shown.advisories));
  setData("advisories", advisoryFeatures(shown.advisories));
  setData("events", eventFeatures([...scene.events.values()]));
  setData("heads", headFeatures(ui.heads, shown.signals));
  renderAdvisories(document.getElementById("advisory-list"), shown.recentAdvisories, shown.nowMs, flyTo);
  renderEvents(document.getElementById("event-list"), [...scene.events.values()], flyTo);
  const selected = shown.participants.find((p) => p.id === ui.selectedId);
  if (ui.selectedId) renderDetails(selected ?? null, ui.track);
  renderStats(scene.stats, ui.droppedFrames);
  const label = document.getElementById("timeline-label");
  label.textContent = ui.replayIndex == null ? "live" : `replay ${new Date(shown.nowMs).toISOString().slice(11, 19)}`;
}

function flyTo(item) {
  if (item.lat_deg != null) map.easeTo({ center: [item.lon_deg, item.lat_deg], duration: 400 });
}

async function select(id) {
  ui.selectedId = id;
  ui.track = null;
  setData("trajectory", collection([]));
  render();
  if (!id) return;
  const points = await getJson(`/api/participants/${encodeURIComponent(id)}/trajectory`);
  if (ui.selectedId !== id) return;
  ui.track = points;
  setData("trajectory", collection([{ type: "Feature", properties: { id },
    geometry: { type: "LineString", coordinates: points.map((p) => [p[2], p[1]]) } }]));
  render();
}

let renderQueued = false;
function onFrame(frame) {
  if (frame.type === "drops") { ui.droppedFrames = frame.dropped_frames; return; }
  if (frame.type !== "tick") return;
  scene.apply(frame);
  if (frame.stats) {
    charts.throughput.push(frame.stats);
    charts.latency.push(frame.stats);
  }
  const slider = document.getElementById("timeline");
  slider.max = String(scene.history.length - 1);
  if (ui.replayIndex == null) slider.value = slider.max;
  if (!renderQueued) {
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      render();
      charts.throughput.draw();
      charts.latency.draw();
    });
  }
}

async function loadEvents() {
  for (const e of await getJson("/api/events")) scene.events.set(e.event_id, e);
}

// Devices and dead letters: polled every 2 s (the registry and health live behind REST only).
const POLL_MS = 2000;
const devicesTable = new DevicesTable(document.getElementById("device-table"),
  document.getElementById("device-summary"), document.getElementById("device-problems-only"));
const polls = { devices: 0, deadLetters: 0, security: 0, misbehaviour: 0, failures: 0 };

async function pollDevices() {
  const note = document.getElementById("device-note");
  try {
    const stats = await getJson("/api/stats");
    if (stats.gateways == null) {
      // no registry in this process (e.g. the scripted UI platform): nothing to poll
      note.textContent = "no device gateways in this process (serve --mqtt/--udp, or demo --via mqtt)";
      document.getElementById("devices-panel").classList.add("empty");
      return;
    }
    const devices = await getJson("/api/devices");
    devicesTable.update(devices, stats.platform?.now_ms ?? Date.now());
    setData("devices", deviceFeatures(devices));
    polls.devices += 1;
    note.textContent = "";
  } catch (error) {
    polls.failures += 1;
    note.textContent = `devices: ${error.message} (retrying every ${POLL_MS / 1000} s)`;
  }
  setTimeout(pollDevices, POLL_MS);
}

async function pollDeadLetters() {
  try {
    renderDeadLetters(await getJson("/api/dead-letters?limit=5&raw_bytes=32"));
    polls.deadLetters += 1;
    document.getElementById("dl-note").textContent = "";
  } catch (error) {
    polls.failures += 1;
    document.getElementById("dl-note").textContent = `dead letters: ${error.message}`;
  }
  setTimeout(pollDeadLetters, POLL_MS);
}

async function pollSecurity() {
  const note = document.getElementById("security-note");
  try {
    renderSecurity(await getJson("/api/security"));
    polls.security += 1;
    note.textContent = "";
  } catch (error) {
    polls.failures += 1;
    note.textContent = `security: ${error.message}`;
  }
  setTimeout(pollSecurity, POLL_MS);
}

async function pollMisbehaviour() {
  const note = document.getElementById("mb-note");
  try {
    renderMisbehaviour(await getJson("/api/misbehaviour?limit=8"));
    polls.misbehaviour += 1;
    note.textContent = "";
  } catch (error) {
    polls.failures += 1;
    note.textContent = `misbehaviour: ${error.message}`;
  }
  setTimeout(pollMisbehaviour, POLL_MS);
}

function setConnected(isConnected) {
  if (isConnected) loadEvents(); // events announced before (re)connecting only come this way
  const conn = document.getElementById("conn");
  conn.textContent = isConnected ? "live" : "reconnecting…";
  conn.className = isConnected ? "good" : "bad";
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

map.on("load", async () => {
  addLayers(map);
  setData("devices", deviceFeatures(devicesTable.all)); // polled before the map was ready
  const intersections = await getJson("/api/intersections");
  const geometry = mapGeometry(intersections);
  ui.heads = geometry.heads;
  setData("lanes", collection(geometry.lanes));
  setData("stops", collection(geometry.stops));
  if (geometry.bounds) map.fitBounds(geometry.bounds, { padding: 30, duration: 0 });
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
  wireTimeline();
  openStream(onFrame, setConnected);
  window.v2x.ready = true;
});

pollDevices();
pollDeadLetters();
pollSecurity();
pollMisbehaviour();

// Hooks for the browser tests and for operators poking at the console.
window.v2x = {
  ready: false, map, scene, ui, polls, devicesTable,
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
};
