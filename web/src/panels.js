// The side panels of the live road: advisory and event lists, participant details, stats line.
import { formatCount, formatNumber, formatQuantity, formatTime, t, tEnum } from "./i18n.js";

/** A TTC as read by an operator: "—" when absent or infinite, "> 1,000 s" when the value is
 * beyond any horizon the applications look at (e.g. 1.4e31 s: no closing speed at all). */
export const formatTtc = (ttcS) => formatQuantity(ttcS, "s", { ceiling: 1000 });

function row(text, className, onClick) {
  const li = document.createElement("li");
  li.textContent = text;
  if (className) li.className = className;
  li.addEventListener("click", onClick);
  return li;
}

export function renderEvents(list, events, onPick) {
  list.replaceChildren(...events.map((e) => {
    const li = row(`${e.start_ms ? formatTime(e.start_ms, { zoneLabel: false }) : "--"} ` +
      `${tEnum("live.event_kind", e.kind ?? "event")} #${e.event_id} (${tEnum("live.source", e.source)})`,
      "level-2", () => onPick(e));
    if (e.description) {
      const text = document.createElement("span");
      text.translate = false; // what the operator or the source wrote
      text.textContent = `: ${e.description}`;
      li.append(text);
    }
    return li;
  }));
}

export function renderDetails(participant, trackPoints) {
  const section = document.getElementById("details");
  section.hidden = !participant;
  if (!participant) return;
  document.getElementById("details-id").textContent = participant.id;
  const fields = {
    kind: tEnum("live.kind", participant.kind),
    source: tEnum("live.source", participant.source),
    speed: formatQuantity(participant.speed_mps, "m/s", { digits: 1 }),
    heading: formatQuantity(participant.heading_deg, "°", { digits: 0 }),
    position: `${formatNumber(participant.lat_deg, 6)}, ${formatNumber(participant.lon_deg, 6)}`,
    seen: formatTime(participant.timestamp_ms),
  };
  document.getElementById("details-body").replaceChildren(...Object.entries(fields).flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = t(`live.field.${k}`);
    const dd = document.createElement("dd"); dd.textContent = v;
    return [dt, dd];
  }));
  document.getElementById("trajectory-info").textContent = trackPoints == null
    ? t("live.trajectory_loading") : t("live.trajectory_points", { n: formatCount(trackPoints.length) });
}

export function renderStats(stats) {
  if (!stats) return;
  document.getElementById("stats-line").textContent = t("live.stats_line", {
    participants: formatCount(stats.participants),
    msg_in: formatQuantity(stats.messages_in_per_s, t("live.unit.msg_per_s"), { digits: 0 }),
    adv_out: formatQuantity(stats.advisories_out_per_s, t("live.unit.adv_per_s"), { digits: 1 }),
    tick: formatQuantity(stats.tick_ms, "ms", { digits: 1 }),
    p99: formatQuantity(stats.latency_p99_ms, "ms", { digits: 1 }),
  });
  const dead = Object.entries(stats.dead_letters || {}).map(([reason, n]) => `${tEnum("common.drop", reason)} ${formatCount(n)}`);
  document.getElementById("dead-letters").textContent = dead.length ? dead.join(" · ") : t("common.none");
}
