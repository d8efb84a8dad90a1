// MAP geometry (lanes, stop lines, crosswalks, signal heads) as GeoJSON for the map layers.
const M_PER_DEG = 111320;

function offset([lat, lon], eastM, northM) {
  return [lon + eastM / (M_PER_DEG * Math.cos((lat * Math.PI) / 180)), lat + northM / M_PER_DEG];
}

function direction(a, b) {
  const east = (b[1] - a[1]) * M_PER_DEG * Math.cos((a[0] * Math.PI) / 180);
  const north = (b[0] - a[0]) * M_PER_DEG;
  const length = Math.hypot(east, north) || 1;
  return [east / length, north / length];
}

const line = (coordinates, properties) => ({
  type: "Feature", properties, geometry: { type: "LineString", coordinates },
});
const point = (coordinates, properties) => ({
  type: "Feature", properties, geometry: { type: "Point", coordinates },
});

function laneParts(nodeKey, lane) {
  const points = lane.points || [];
  if (points.length < 2) return { lanes: [], stops: [], heads: [] };
  const coordinates = points.map(([lat, lon]) => [lon, lat]);
  const width = lane.width_m || 3.5;
  const key = `${nodeKey}/${lane.lane_id}`;
  if (lane.lane_type === "crosswalk") {
    return { lanes: [line(coordinates, { kind: "crosswalk", key, width_m: width })], stops: [], heads: [] };
  }
  const phase = (lane.connections || []).map((c) => c.phase_id).find((p) => p != null);
  const drawn = line(coordinates, { kind: "lane", key, width_m: width });
  if (!(lane.connections || []).length) return { lanes: [drawn], stops: [], heads: [] }; // exit lane
  const end = points[points.length - 1];
  const [de, dn] = direction(points[points.length - 2], end);
  const half = width / 2;
  const stop = line([offset(end, dn * half, -de * half), offset(end, -dn * half, de * half)], { kind: "stop", key });
  const head = point(offset(end, de * 1.5, dn * 1.5), { node: nodeKey, key, phase_id: phase ?? -1, light: "unavailable" });
  return { lanes: [drawn], stops: [stop], heads: phase != null ? [head] : [] };
}

export const nodeKey = (id) => `${id[0] ?? ""}/${id[1]}`;

export function mapGeometry(intersections) {
  const lanes = [], stops = [], heads = [];
  const bounds = [Infinity, Infinity, -Infinity, -Infinity];
  for (const view of intersections) {
    const key = nodeKey(view.node.id);
    for (const link of view.node.in_links || []) {
      for (const lane of link.lanes || []) {
        const parts = laneParts(key, lane);
        lanes.push(...parts.lanes); stops.push(...parts.stops); heads.push(...parts.heads);
        for (const [lat, lon] of lane.points || []) {
          bounds[0] = Math.min(bounds[0], lon); bounds[1] = Math.min(bounds[1], lat);
          bounds[2] = Math.max(bounds[2], lon); bounds[3] = Math.max(bounds[3], lat);
        }
      }
    }
  }
  return { lanes, stops, heads, bounds: Number.isFinite(bounds[0]) ? bounds : null };
}

export const collection = (features) => ({ type: "FeatureCollection", features });
export { point, line };
