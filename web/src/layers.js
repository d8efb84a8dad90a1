// Map style (no tiles: a plain background) and the layers drawn from MAP, SPAT and the scene.
import { collection, point } from "./geometry.js";

export const KIND_COLOURS = {
  vehicle: "#4fc3f7", pedestrian: "#ffd54f", cyclist: "#aed581", rsu: "#b39ddb", unknown: "#cfd8dc",
};
const LIGHT_COLOURS = {
  red: "#ff3b3b", "flashing-red": "#ff3b3b", yellow: "#ffc400", "flashing-yellow": "#ffc400",
  "protected-green": "#20d060", "permissive-green": "#20d060", "flashing-green": "#20d060",
};

export const EMPTY_STYLE = {
  version: 8,
  sources: {},
  layers: [{ id: "background", type: "background", paint: { "background-color": "#101318" } }],
};

function arrowImage(size = 32) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.beginPath();
  ctx.moveTo(size / 2, 2);
  ctx.lineTo(size - 6, size - 4);
  ctx.lineTo(size / 2, size - 11);
  ctx.lineTo(6, size - 4);
  ctx.closePath();
  ctx.fill();
  return ctx.getImageData(0, 0, size, size);
}

function squareImage(size = 24) {
  // a device (RSU, radar): a square with a hole, unlike the round signal heads
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(3, 3, size - 6, size - 6);
  ctx.clearRect(9, 9, size - 18, size - 18);
  return ctx.getImageData(0, 0, size, size);
}

const byKind = ["match", ["get", "kind"], ...Object.entries(KIND_COLOURS).flat(), "#cfd8dc"];
const byLight = ["match", ["get", "light"], ...Object.entries(LIGHT_COLOURS).flat(), "#555d66"];

export function addLayers(map) {
  map.addImage("arrow", arrowImage(), { sdf: true });
  map.addImage("device", squareImage(), { sdf: true });
  for (const id of ["lanes", "stops", "heads", "trajectory", "events", "advisories", "devices", "participants"]) {
    map.addSource(id, { type: "geojson", data: collection([]) });
  }
  map.addLayer({ id: "lanes", type: "line", source: "lanes", filter: ["==", ["get", "kind"], "lane"],
    paint: { "line-color": "#39424e", "line-width": ["interpolate", ["exponential", 2], ["zoom"], 15, 3, 20, 90] } });
  map.addLayer({ id: "crosswalks", type: "line", source: "lanes", filter: ["==", ["get", "kind"], "crosswalk"],
    paint: { "line-color": "#c9d1d9", "line-dasharray": [0.15, 0.15],
      "line-width": ["interpolate", ["exponential", 2], ["zoom"], 15, 3, 20, 100] } });
  map.addLayer({ id: "stops", type: "line", source: "stops",
    paint: { "line-color": "#f0f0f0", "line-width": ["interpolate", ["exponential", 2], ["zoom"], 15, 0.5, 20, 12] } });
  map.addLayer({ id: "heads", type: "circle", source: "heads",
    paint: { "circle-color": byLight, "circle-radius": ["interpolate", ["linear"], ["zoom"], 15, 4, 18, 8, 20, 14],
      "circle-stroke-color": "#000", "circle-stroke-width": 1 } });
  map.addLayer({ id: "trajectory", type: "line", source: "trajectory",
    paint: { "line-color": "#e040fb", "line-width": 3 } });
  map.addLayer({ id: "events", type: "circle", source: "events",
    paint: { "circle-color": "rgba(255,145,0,0.18)", "circle-stroke-color": "#ff9100",
      "circle-stroke-width": 2, "circle-radius": ["interpolate", ["linear"], ["zoom"], 15, 8, 20, 60] } });
  map.addLayer({ id: "advisories", type: "circle", source: "advisories",
    paint: { "circle-color": "rgba(255,40,40,0.12)", "circle-stroke-color": "#ff2828",
      "circle-stroke-width": ["match", ["get", "level"], 3, 3, 1.5],
      "circle-radius": ["interpolate", ["linear"], ["zoom"], 15, 4, 20, 24] } });
  // registered devices with a position (RSUs, radars): a hollow square, green online, red
  // offline, haloed orange when the device has a problem (link abnormal, flooding, …)
  map.addLayer({ id: "devices", type: "symbol", source: "devices",
    layout: { "icon-image": "device", "icon-allow-overlap": true, "icon-ignore-placement": true,
      "icon-size": ["interpolate", ["linear"], ["zoom"], 15, 0.6, 20, 1.4] },
    paint: { "icon-color": ["case", ["get", "online"], "#20d060", "#ff3b3b"],
      "icon-halo-color": ["case", ["get", "problem"], "#ffb347", "#000"],
      "icon-halo-width": ["case", ["get", "problem"], 3, 1] } });
  map.addLayer({ id: "participants", type: "symbol", source: "participants",
    layout: { "icon-image": "arrow", "icon-rotate": ["get", "heading_deg"], "icon-rotation-alignment": "map",
      "icon-allow-overlap": true, "icon-ignore-placement": true,
      "icon-size": ["interpolate", ["linear"], ["zoom"], 15, 0.5, 20, 1.4] },
    paint: { "icon-color": byKind,
      "icon-halo-color": ["case", ["get", "selected"], "#e040fb", ["get", "warned"], "#ff2828", "#000"],
      "icon-halo-width": ["case", ["any", ["get", "selected"], ["get", "warned"]], 3, 1] } });
}

export function participantFeatures(participants, selectedId, advisories) {
  const warned = new Set(advisories.map((a) => a.ego_id));
  return collection(participants.map((p) => point([p.lon_deg, p.lat_deg], {
    id: p.id, kind: p.kind, heading_deg: p.heading_deg ?? 0, speed_mps: p.speed_mps ?? 0,
    selected: p.id === selectedId, warned: warned.has(p.id),
  })));
}

/** One ring per hazard in force (many egos warned of one hazard share it), the highest level. */
export function advisoryFeatures(advisories) {
  const rings = new Map();
  for (const a of advisories) {
    if (a.lat_deg == null || a.lon_deg == null) continue;
    const key = `${a.app}|${a.other_id ?? `${a.lat_deg.toFixed(5)},${a.lon_deg.toFixed(5)}`}`;
    const had = rings.get(key);
    if (!had || a.level > had.properties.level) {
      rings.set(key, point([a.lon_deg, a.lat_deg], { app: a.app, level: a.level, ego_id: a.ego_id }));
    }
  }
  return collection([...rings.values()]);
}

export function eventFeatures(events) {
  return collection(events.filter((e) => e.lat_deg != null && e.lon_deg != null)
    .map((e) => point([e.lon_deg, e.lat_deg], { event_id: e.event_id, kind: e.kind ?? "" })));
}

export function headFeatures(heads, signals) {
  return collection(heads.map((h) => {
    const state = signals.get(h.properties.node);
    const phase = state?.phases?.find((p) => p.phase_id === h.properties.phase_id);
    const light = phase?.states?.[0]?.light ?? "unavailable";
    return { ...h, properties: { ...h.properties, light } };
  }));
}
