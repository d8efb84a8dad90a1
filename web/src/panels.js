// The side panels: advisory and event lists, participant details, stats line.
const time = (ms) => new Date(ms).toISOString().slice(11, 19);
const LEVELS = { 1: "info", 2: "warning", 3: "imminent" };

function row(text, className, onClick) {
  const li = document.createElement("li");
  li.textContent = text;
  if (className) li.className = className;
  li.addEventListener("click", onClick);
  return li;
}

export function renderAdvisories(list, advisories, nowMs, onPick) {
  const recent = advisories.slice(-50).reverse();
  list.replaceChildren(...recent.map((a) => {
    const expired = a.expires_ms < nowMs ? " expired" : "";
    const li = row(`${time(a.issued_ms)} ${a.app} ${LEVELS[a.level] ?? a.level} → ${a.ego_id}` +
      (a.ttc_s != null ? ` (TTC ${a.ttc_s.toFixed(1)} s)` : ""), `level-${a.level}${expired}`, () => onPick(a));
    li.dataset.app = a.app;
    return li;
  }));
}

export function renderEvents(list, events, onPick) {
  list.replaceChildren(...events.map((e) =>
    row(`${e.start_ms ? time(e.start_ms) : "--"} ${e.kind ?? "event"} #${e.event_id} (${e.source})` +
      (e.description ? `: ${e.description}` : ""), "level-2", () => onPick(e))));
}

export function renderDetails(participant, trackPoints) {
  const section = document.getElementById("details");
  section.hidden = !participant;
  if (!participant) return;
  document.getElementById("details-id").textContent = participant.id;
  const fields = {
    kind: participant.kind, source: participant.source,
    speed: participant.speed_mps != null ? `${participant.speed_mps.toFixed(1)} m/s` : "—",
    heading: participant.heading_deg != null ? `${participant.heading_deg.toFixed(0)}°` : "—",
    position: `${participant.lat_deg.toFixed(6)}, ${participant.lon_deg.toFixed(6)}`,
    seen: time(participant.timestamp_ms),
  };
  document.getElementById("details-body").replaceChildren(...Object.entries(fields).flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    return [dt, dd];
  }));
  document.getElementById("trajectory-info").textContent = trackPoints == null
    ? "loading trajectory…" : `trajectory: ${trackPoints.length} stored points`;
}

export function renderStats(stats, droppedFrames) {
  if (!stats) return;
  const p99 = stats.latency_p99_ms != null ? stats.latency_p99_ms.toFixed(1) : "—";
  document.getElementById("stats-line").textContent =
    `${stats.participants} participants · ${stats.messages_in_per_s.toFixed(0)} msg/s in · ` +
    `${stats.advisories_out_per_s.toFixed(1)} adv/s out · tick ${stats.tick_ms.toFixed(1)} ms · latency p99 ${p99} ms`;
  const dead = Object.entries(stats.dead_letters || {}).map(([reason, n]) => `${reason} ${n}`);
  document.getElementById("dead-letters").textContent = dead.length ? dead.join(" · ") : "none";
  document.getElementById("clock").textContent = time(stats.now_ms);
  document.getElementById("drops").textContent = droppedFrames ? `${droppedFrames} frames dropped` : "";
}
