// Warnings grouped per ego and hazard: one row per (application, ego, hazard) with its latest
// state (level, TTC, time), how many times it was issued and since when. The list is redrawn at
// most every REFRESH_MS, rows are kept and updated in place, and nothing moves while the pointer
// is over the list or the operator paused it: a click lands on the row it aimed at.
import { formatCount, formatTime, t, tEnum } from "./i18n.js";
import { formatTtc } from "./panels.js";

const REFRESH_MS = 1000;
const KEEP_MS = 600_000; // ended groups stay listed (dimmed) this long, for the time filter
const MAX_GROUPS = 400;
const NEAR_M = 150; // a warning belongs to the nearest intersection within this distance

const M_PER_DEG = 111_320;
function distanceM(lat1, lon1, lat2, lon2) {
  const dx = (lon2 - lon1) * M_PER_DEG * Math.cos((lat1 * Math.PI) / 180);
  return Math.hypot(dx, (lat2 - lat1) * M_PER_DEG);
}

/** The grouped warnings (bounded: MAX_GROUPS, ended ones forgotten after KEEP_MS). */
export class WarningBoard {
  constructor() {
    this.groups = new Map();
    this.intersections = []; // [{key, name, lat, lon}]
    this.apps = new Set();
  }

  /** The intersection a warning at (lat, lon) belongs to (nearest within NEAR_M), or null. */
  intersectionAt(lat, lon) {
    let best = null;
    let bestM = NEAR_M;
    for (const node of this.intersections) {
      const d = distanceM(lat, lon, node.lat, node.lon);
      if (d < bestM) { best = node.key; bestM = d; }
    }
    return best;
  }

  /** Take one frame's advisories; ``participants`` (id → state) gives the ego's kind and a
   * position when the advisory has none. */
  add(advisories, participants) {
    for (const a of advisories) {
      const key = `${a.app}|${a.ego_id}|${a.other_id ?? ""}`;
      const ego = participants.get(a.ego_id);
      const lat = a.lat_deg ?? ego?.lat_deg;
      const lon = a.lon_deg ?? ego?.lon_deg;
      let g = this.groups.get(key);
      if (!g) {
        g = { key, app: a.app, ego_id: a.ego_id, other_id: a.other_id ?? null, first_ms: a.issued_ms, count: 0 };
        this.groups.set(key, g);
      }
      g.count += 1;
      g.level = a.level;
      g.ttc_s = a.ttc_s;
      g.issued_ms = a.issued_ms;
      g.expires_ms = a.expires_ms;
      g.detail = a.detail;
      g.lat_deg = lat;
      g.lon_deg = lon;
      g.kind = ego?.kind ?? g.kind ?? "unknown";
      g.intersection = lat != null ? this.intersectionAt(lat, lon) : null;
      this.apps.add(a.app);
    }
  }

  /** Forget groups ended more than KEEP_MS ago, then the oldest beyond MAX_GROUPS. */
  prune(nowMs) {
    for (const [key, g] of this.groups) if (g.expires_ms < nowMs - KEEP_MS) this.groups.delete(key);
    if (this.groups.size > MAX_GROUPS) {
      const oldest = [...this.groups.values()].sort((a, b) => a.issued_ms - b.issued_ms);
      for (const g of oldest.slice(0, this.groups.size - MAX_GROUPS)) this.groups.delete(g.key);
    }
  }

  /** Groups that pass ``filters`` ({app, level, intersection, kind, within}), in force first,
   * then by level (highest first), then newest group first: a stable order (a group issued
   * again keeps its place), so rows move only when a group starts, ends or changes level. */
  select(filters, nowMs) {
    const within = Number(filters.within || 0);
    return [...this.groups.values()].filter((g) =>
      (!filters.app || g.app === filters.app)
      && (!filters.level || g.level >= Number(filters.level))
      && (!filters.intersection || g.intersection === filters.intersection)
      && (!filters.kind || g.kind === filters.kind)
      && (within ? g.expires_ms >= nowMs - within : g.expires_ms >= nowMs))
      .sort((a, b) => (b.expires_ms >= nowMs) - (a.expires_ms >= nowMs) || b.level - a.level
        || b.first_ms - a.first_ms || (a.key < b.key ? -1 : 1));
  }
}

/** The grouped list's DOM: rows kept by group key and updated in place. */
export class WarningList {
  constructor(list, summary, onPick, maxRows = 60) {
    this.list = list;
    this.summary = summary;
    this.onPick = onPick;
    this.maxRows = maxRows;
    this.rows = new Map();
    this.paused = false;
    this.drawnAt = 0;
    this.pending = false;
    this.inserted = 0; // rows added to the DOM so far (tests measure the churn)
    this.lastArgs = null;
  }

  /** Whether the list may move now (not paused, pointer not on it). */
  still() {
    return this.paused || this.list.matches(":hover");
  }

  /** Draw ``groups`` (already filtered and ordered) at most every REFRESH_MS. */
  update(groups, nowMs, force = false) {
    this.lastArgs = [groups, nowMs];
    if (!force && performance.now() - this.drawnAt < REFRESH_MS) {
      if (!this.pending) {
        this.pending = true;
        setTimeout(() => { this.pending = false; this.update(...this.lastArgs); },
          REFRESH_MS - (performance.now() - this.drawnAt));
      }
      return;
    }
    this.drawnAt = performance.now();
    const shown = groups.slice(0, this.maxRows);
    const active = groups.filter((g) => g.expires_ms >= nowMs).length;
    this.summary.textContent = t("live.warn.summary", { active: formatCount(active), listed: formatCount(groups.length) });
    if (this.still() && !force) {
      // refresh the cells of the rows in place; no row added, removed or moved
      for (const g of shown) { const li = this.rows.get(g.key); if (li) this.fill(li, g, nowMs); }
      return;
    }
    const keep = new Set(shown.map((g) => g.key));
    for (const [key, li] of this.rows) if (!keep.has(key)) { li.remove(); this.rows.delete(key); }
    const order = shown.map((g) => {
      let li = this.rows.get(g.key);
      if (!li) {
        li = document.createElement("li");
        li.dataset.key = g.key;
        li.dataset.app = g.app;
        li.dataset.ego = g.ego_id;
        li.addEventListener("click", () => this.onPick(this.groupOf(li)));
        this.rows.set(g.key, li);
        this.inserted += 1;
      }
      li.group = g;
      this.fill(li, g, nowMs);
      return li;
    });
    const have = [...this.list.children];
    if (order.length !== have.length || order.some((li, i) => li !== have[i])) this.list.append(...order);
  }

  groupOf(li) { return li.group; }

  fill(li, g, nowMs) {
    const ended = g.expires_ms < nowMs;
    const cls = `level-${g.level}${ended ? " expired" : ""}`;
    if (li.className !== cls) li.className = cls;
    const head = `${formatTime(g.issued_ms, { zoneLabel: false })} ${g.app} ${tEnum("common.level", g.level)} → `;
    const ttc = g.ttc_s != null ? ` · TTC ${formatTtc(g.ttc_s)}` : "";
    const times = g.count > 1 ? ` · ${t("live.warn.times", { n: formatCount(g.count), since: formatTime(g.first_ms, { zoneLabel: false }) })}` : "";
    const key = [head, g.ego_id, g.other_id, ttc, times].join("|");
    if (li.dataset.text === key) return;
    li.dataset.text = key;
    const id = (text) => { const span = document.createElement("span"); span.translate = false; span.textContent = text; return span; };
    const parts = [head, id(g.ego_id)];
    if (g.other_id) parts.push(` ${t("live.warn.by")} `, id(g.other_id));
    parts.push(ttc + times);
    li.replaceChildren(...parts);
  }
}
