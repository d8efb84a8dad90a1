// The district at a glance: every intersection (name, vehicles, pedestrians and cyclists,
// warnings of the last minute, open alarms) and RSU (online, last heard, dead letters, alarms),
// a map with the heat of the last hour's warnings, and a click through to one intersection on
// the live map.
import maplibregl from "maplibre-gl";
import { nodeKey } from "../geometry.js";
import { formatAge, formatCount, formatTime, onLanguage, t, tEnum } from "../i18n.js";
import messages from "../i18n/overview.js";
import { EMPTY_STYLE } from "../layers.js";
import { Poll, data, h, headRow, redraw } from "./_ops.js";

const POLL_MS = 3000;
const HEAT_CELL_M = 50;
let ctx = null;
let root = null;
let map = null;
let poll = null;
let loaded = false;
let fitted = false;
const ui = { doc: null, heat: null, error: null };

const nameOf = (v) => v.name ?? t("overview.unnamed", { id: nodeKey([v.node_id.region, v.node_id.id]) });

function openLive(v) {
  ctx.router.go("live");
  const key = nodeKey([v.node_id.region, v.node_id.id]);
  // the live view builds its map on first use: fly when it is there
  const fly = (tries) => {
    const live = window.v2x.map;
    if (!live || !live.loaded()) { if (tries > 0) setTimeout(() => fly(tries - 1), 200); return; }
    live.easeTo({ center: [v.lon_deg, v.lat_deg], zoom: 18, duration: 0 });
    const filter = document.getElementById("filter-intersection");
    if (filter && [...filter.options].some((o) => o.value === key)) {
      filter.value = key;
      filter.dispatchEvent(new Event("change"));
    }
  };
  fly(50);
}

function intersectionRow(v) {
  return h("tr", { class: "place", dataset: { node: nodeKey([v.node_id.region, v.node_id.id]) } },
    h("td", {}, h("a", { href: "#/live", title: t("overview.open_live"), onclick: (e) => { e.preventDefault(); openLive(v); } }, data(nameOf(v)))),
    h("td", { class: "num" }, formatCount(v.vehicles)),
    h("td", { class: "num" }, formatCount(v.vrus)),
    h("td", { class: "num" }, formatCount(v.warned_last_min)),
    h("td", { class: "num" }, formatCount(v.open_alarms),
      v.worst_alarm ? h("span", { class: `sev sev-${v.worst_alarm}` }, tEnum("alarms.severity", v.worst_alarm)) : null),
    h("td", {}, t(v.has_signal ? "overview.signal.yes" : "overview.signal.no")));
}

function rsuRow(r, nowMs) {
  return h("tr", { class: "rsu", dataset: { id: r.device_id } },
    h("td", {}, data(r.device_id)),
    h("td", { class: r.online ? "good" : "bad" }, t(r.online ? "common.yes" : "common.no")),
    h("td", {}, r.last_seen_ms ? formatAge(r.last_seen_ms, nowMs) : t("common.never")),
    h("td", { class: "num" }, formatCount(r.dead_letters)),
    h("td", { class: "num" }, formatCount(r.open_alarms)));
}

function features(doc) {
  const places = doc.intersections.map((v) => ({ type: "Feature",
    properties: { label: `${nameOf(v)}\n${formatCount(v.vehicles)} · ${formatCount(v.warned_last_min)} · ${formatCount(v.open_alarms)}`, alarms: v.open_alarms },
    geometry: { type: "Point", coordinates: [v.lon_deg, v.lat_deg] } }));
  const rsus = doc.rsus.filter((r) => r.lat_deg != null).map((r) => ({ type: "Feature",
    properties: { id: r.device_id, online: r.online ? 1 : 0 }, geometry: { type: "Point", coordinates: [r.lon_deg, r.lat_deg] } }));
  return { places: { type: "FeatureCollection", features: places }, rsus: { type: "FeatureCollection", features: rsus } };
}

function heatFeatures(heat) {
  return { type: "FeatureCollection", features: (heat?.cells ?? []).map((c) => ({ type: "Feature",
    properties: { warned: c.warned }, geometry: { type: "Point", coordinates: [c.lon_deg, c.lat_deg] } })) };
}

function render() {
  if (!root || !ui.doc) return;
  const doc = ui.doc;
  redraw(root.querySelector("#overview-places"), JSON.stringify(doc.intersections), () => doc.intersections.map(intersectionRow));
  redraw(root.querySelector("#overview-rsus"), JSON.stringify(doc.rsus.map((r) => [r.device_id, r.online, r.dead_letters, r.open_alarms, Math.round((doc.now_ms - (r.last_seen_ms ?? 0)) / 5000)])),
    () => doc.rsus.map((r) => rsuRow(r, doc.now_ms)));
  const totals = doc.totals;
  root.querySelector("#overview-totals").textContent = t("overview.totals", { participants: formatCount(totals.participants),
    vehicles: formatCount(totals.vehicles), warned: formatCount(totals.warned), alarms: formatCount(totals.alarms) });
  const cells = ui.heat?.cells ?? [];
  root.querySelector("#overview-heat-note").textContent = t("overview.heat_note", { cells: formatCount(cells.length), m: HEAT_CELL_M,
    n: formatCount(cells.reduce((sum, c) => sum + c.warned, 0)) });
  root.querySelector("#overview-note").textContent = ui.error ? t("overview.poll_failed", { error: ui.error.message, s: POLL_MS / 1000 }) : "";
  if (map?.getSource("places")) {
    const f = features(doc);
    map.getSource("places").setData(f.places);
    map.getSource("rsus").setData(f.rsus);
    map.getSource("heat").setData(heatFeatures(ui.heat));
    if (!fitted && doc.intersections.length) {
      const bounds = new maplibregl.LngLatBounds();
      for (const v of doc.intersections) bounds.extend([v.lon_deg, v.lat_deg]);
      for (const c of cells) bounds.extend([c.lon_deg, c.lat_deg]);
      map.fitBounds(bounds, { padding: 60, maxZoom: 17, duration: 0 });
      fitted = true;
    }
  }
}

async function load() {
  const [doc, heat] = await Promise.all([ctx.getJson("/api/overview"), ctx.getJson(`/api/warnings/heatmap?cell_m=${HEAT_CELL_M}`)]);
  ui.doc = doc;
  ui.heat = heat;
  loaded = true;
  render();
}

// MapLibre's control labels (its "locale") through i18n (the live view's messages)
const MAP_CONTROLS = {
  "Map.Title": ["live.map.title", "canvas.maplibregl-canvas"],
  "NavigationControl.ZoomIn": ["live.map.zoom_in", ".maplibregl-ctrl-zoom-in"],
  "NavigationControl.ZoomOut": ["live.map.zoom_out", ".maplibregl-ctrl-zoom-out"],
  "NavigationControl.ResetBearing": ["live.map.reset_bearing", ".maplibregl-ctrl-compass"],
};

function relabelMap() {
  for (const [key, selector] of Object.values(MAP_CONTROLS)) {
    for (const el of map.getContainer().querySelectorAll(selector)) {
      if (el.hasAttribute("title")) el.title = t(key);
      el.setAttribute("aria-label", t(key));
    }
  }
}

function createMap(el) {
  const locale = Object.fromEntries(Object.entries(MAP_CONTROLS).map(([k, [key]]) => [k, t(key)]));
  map = new maplibregl.Map({ container: el, style: EMPTY_STYLE, center: [0, 0], zoom: 15, attributionControl: false, locale });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  map.on("load", () => {
    const empty = { type: "FeatureCollection", features: [] };
    for (const id of ["heat", "places", "rsus"]) map.addSource(id, { type: "geojson", data: empty });
    map.addLayer({ id: "heat", type: "heatmap", source: "heat", paint: {
      "heatmap-weight": ["interpolate", ["linear"], ["get", "warned"], 0, 0, 20, 1],
      "heatmap-radius": ["interpolate", ["linear"], ["zoom"], 13, 12, 18, 60], "heatmap-opacity": 0.75 } });
    map.addLayer({ id: "rsus", type: "circle", source: "rsus", paint: { "circle-radius": 5,
      "circle-color": ["case", ["==", ["get", "online"], 1], "#5bd68a", "#ff6b6b"], "circle-stroke-color": "#101318", "circle-stroke-width": 1 } });
    map.addLayer({ id: "places", type: "circle", source: "places", paint: { "circle-radius": 9, "circle-color": "#4fc3f7",
      "circle-stroke-color": ["case", [">", ["get", "alarms"], 0], "#ff6b6b", "#101318"], "circle-stroke-width": 3 } });
    map.on("click", "places", (event) => {
      const [lon, lat] = event.features[0].geometry.coordinates;
      const v = ui.doc?.intersections.find((p) => Math.abs(p.lon_deg - lon) < 1e-7 && Math.abs(p.lat_deg - lat) < 1e-7);
      if (v) openLive(v);
    });
    map.on("mouseenter", "places", () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", "places", () => { map.getCanvas().style.cursor = ""; });
    render();
  });
  window.v2x.overviewMap = map; // for the browser tests
}

function build(el) {
  el.replaceChildren(h("div", { class: "ops" },
    h("div", { class: "ops-bar" }, h("span", { id: "overview-totals" }), h("span", { id: "overview-note", class: "bad" })),
    h("div", { class: "ops-grid" },
      h("div", {},
        h("h2", {}, t("overview.intersections")),
        h("table", { class: "ops-table" }, h("thead", {}, headRow(["name", "vehicles", "vrus", "warned", "alarms", "signal"].map((c) => `overview.col.${c}`))),
          h("tbody", { id: "overview-places" })),
        h("h2", {}, t("overview.rsus")),
        h("table", { class: "ops-table" }, h("thead", {}, headRow(["rsu", "online", "last_seen", "dead", "alarms"].map((c) => `overview.col.${c}`))),
          h("tbody", { id: "overview-rsus" }))),
      h("div", {},
        h("h2", {}, t("overview.heat"), " ", h("small", { id: "overview-heat-note", class: "muted" })),
        h("div", { id: "overview-map", class: "ops-map", "aria-label": t("overview.map_label") })))));
}

export default {
  id: "overview",
  titleKey: "overview.title",
  messages,
  mount(el, context) {
    ctx = context;
    if (!root) {
      root = el;
      build(el);
      createMap(el.querySelector("#overview-map"));
      onLanguage(() => {
        const mapEl = root.querySelector("#overview-map");
        build(root);
        root.querySelector("#overview-map").replaceWith(mapEl); // the map survives the relabel
        mapEl.setAttribute("aria-label", t("overview.map_label"));
        relabelMap();
        render();
      });
      poll = new Poll(load, POLL_MS, (error) => { ui.error = error; render(); });
    } else {
      map?.resize();
    }
    poll.start();
  },
  unmount() { poll?.stop(); },
  ready: () => loaded && (map?.loaded() ?? false),
};
