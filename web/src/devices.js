// The Devices panel (registry + health from /api/devices) and the Dead letters panel
// (/api/dead-letters). Rows are kept and their cells updated in place on every refresh, so
// what is under the pointer is not redrawn; rows are reordered only while the pointer is not
// over the table.
import { formatAge, formatCount, formatNumber, formatPercent, formatQuantity, formatTime, language, t, tEnum } from "./i18n.js";

/** Local wall-clock time with its zone, e.g. "14:02:05 GMT+8" ("never" when absent). */
export function localTime(ms) {
  return ms == null ? t("common.never") : formatTime(ms);
}

/** "3 s ago", "4.2 min ago", "2.0 h ago": how long ago, from the platform's now. */
export const age = formatAge;

const rate = (perS) => formatNumber(perS, perS >= 10 ? 0 : 1);
const ms = (v) => formatQuantity(v, "ms", { digits: v >= 100 ? 0 : 1 });

/** The problems of one device, worst first (what "problems first" orders by); English keys,
 * shown through i18n ("live.problem.<name>"). */
export function problems(device) {
  const h = device.health;
  const found = [];
  if (device.state && device.state !== "enabled") found.push("disabled");
  if (!h.online) found.push("offline");
  if (h.downlink?.link_abnormal) found.push("link abnormal");
  if (h.is_flooding) found.push("flooding");
  if (Object.values(h.dead_letters ?? {}).some((n) => n > 0)) found.push("dead letters");
  return found;
}

const WEIGHTS = { disabled: 1, offline: 16, "link abnormal": 8, flooding: 4, "dead letters": 2 };
const severity = (device) => problems(device).reduce((sum, p) => sum + (WEIGHTS[p] ?? 0), 0);

// Each column: header, the cell's text and class for a device, and how it sorts.
const COLUMNS = [
  { key: "id", title: "live.col.device", text: (d) => d.device_id, sort: (d) => d.device_id },
  { key: "kind", title: "live.col.kind", text: (d) => tEnum("live.device_kind", d.kind), sort: (d) => d.kind },
  {
    key: "status", title: "live.col.status",
    text: (d) => (d.state !== "enabled" ? tEnum("live.device_state", d.state)
      : d.health.online ? `● ${t("live.online")}` : `○ ${t("live.offline")}`),
    cls: (d) => (d.state !== "enabled" ? "muted" : d.health.online ? "good" : "bad"),
    sort: (d) => -severity(d),
  },
  {
    key: "seen", title: "live.col.seen",
    text: (d, nowMs) => d.health.last_seen_ms == null ? t("common.never")
      : `${localTime(d.health.last_seen_ms)} (${age(d.health.last_seen_ms, nowMs)})`,
    sort: (d) => -(d.health.last_seen_ms ?? 0),
  },
  {
    key: "rates", title: "live.col.rates",
    text: (d) => Object.entries(d.health.rates_per_s ?? {}).filter(([, r]) => r > 0)
      .map(([type, r]) => `${type} ${rate(r)}/s`).join(" · ") || "—",
    sort: (d) => -Object.values(d.health.rates_per_s ?? {}).reduce((a, b) => a + b, 0),
  },
  {
    key: "dead", title: "live.col.dead",
    text: (d) => Object.entries(d.health.dead_letters ?? {}).filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1]).map(([r, n]) => `${tEnum("common.drop", r)} ${formatCount(n)}`).join(" · ") || "—",
    cls: (d) => (Object.values(d.health.dead_letters ?? {}).some((n) => n > 0) ? "warn" : ""),
    sort: (d) => -Object.values(d.health.dead_letters ?? {}).reduce((a, b) => a + b, 0),
  },
  {
    key: "ack", title: "live.col.ack",
    text: (d) => {
      const dl = d.health.downlink ?? {};
      return dl.ack_rate == null ? (dl.sent ? formatPercent(0, 0) : "—")
        : t("live.ack_of", { rate: formatPercent(dl.ack_rate), sent: formatCount(dl.sent) });
    },
    sort: (d) => d.health.downlink?.ack_rate ?? 2,
  },
  {
    key: "latency", title: "live.col.latency",
    text: (d) => {
      const dl = d.health.downlink ?? {};
      return dl.ack_latency_ms_mean == null ? "—"
        : `${ms(dl.ack_latency_ms_mean)} / ${ms(dl.ack_latency_ms_max)}`;
    },
    sort: (d) => -(d.health.downlink?.ack_latency_ms_max ?? -1),
  },
  {
    key: "link", title: "live.col.link",
    text: (d) => {
      const dl = d.health.downlink ?? {};
      if (dl.link_abnormal) return `⚠ ${t("live.link_abnormal")}`;
      return dl.sent ? t("live.link_normal") : "—";
    },
    cls: (d) => (d.health.downlink?.link_abnormal ? "bad" : ""),
    sort: (d) => (d.health.downlink?.link_abnormal ? 0 : 1),
  },
  {
    key: "flood", title: "live.col.flood",
    text: (d) => (d.health.is_flooding ? `⚠ ${t("live.throttled")}` : t("common.no")),
    cls: (d) => (d.health.is_flooding ? "warn" : "muted"),
    sort: (d) => (d.health.is_flooding ? 0 : 1),
  },
];

function setCell(td, text, cls) {
  if (td.textContent !== text) td.textContent = text;
  const want = cls ?? "";
  if (td.className !== want) td.className = want;
}

/** The devices table: header built once, one <tr> per device kept across refreshes; at most
 * ``maxRows`` rows (the first in the current order), the count of the rest said in the summary. */
export class DevicesTable {
  constructor(table, summary, problemsOnly, maxRows = 300) {
    this.table = table;
    this.summary = summary;
    this.problemsOnly = problemsOnly;
    this.maxRows = maxRows;
    problemsOnly?.addEventListener("change", () => this.update(this.all, this.nowMs));
    this.rows = new Map();
    this.sortKey = "status";
    this.sortDir = 1;
    const head = document.createElement("tr");
    for (const column of COLUMNS) {
      const th = document.createElement("th");
      th.dataset.key = column.key;
      th.addEventListener("click", () => this.sortBy(column.key));
      head.append(th);
    }
    table.createTHead().append(head);
    this.body = table.createTBody();
    this.all = [];
    this.last = [];
    this.nowMs = null;
    this.markSort();
    this.relabel();
  }

  /** The header in the current language (and the cells, on the next update). */
  relabel() {
    for (const th of this.table.tHead.rows[0].cells) {
      const column = COLUMNS.find((c) => c.key === th.dataset.key);
      th.textContent = t(column.title);
      th.title = t("live.sort_title");
    }
    if (this.nowMs != null) this.update(this.all, this.nowMs);
  }

  sortBy(key) {
    this.sortDir = this.sortKey === key ? -this.sortDir : 1;
    this.sortKey = key;
    this.markSort();
    this.update(this.all, this.nowMs); // the shown rows may change with the order
    this.reorder(true);
  }

  markSort() {
    for (const th of this.table.tHead.rows[0].cells) {
      const on = th.dataset.key === this.sortKey;
      th.className = on ? (this.sortDir > 0 ? "sorted" : "sorted reverse") : "";
    }
  }

  ordered(devices) {
    const column = COLUMNS.find((c) => c.key === this.sortKey) ?? COLUMNS[2];
    return [...devices].sort((a, b) => {
      const ka = column.sort(a), kb = column.sort(b);
      if (ka < kb) return -this.sortDir;
      if (ka > kb) return this.sortDir;
      return a.device_id < b.device_id ? -1 : a.device_id > b.device_id ? 1 : 0;
    });
  }

  update(devices, nowMs) {
    this.all = devices;
    this.nowMs = nowMs;
    const wanted = this.problemsOnly?.checked ? devices.filter((d) => problems(d).length) : devices;
    this.last = this.ordered(wanted).slice(0, this.maxRows);
    const seen = new Set();
    for (const device of this.last) {
      seen.add(device.device_id);
      let tr = this.rows.get(device.device_id);
      if (!tr) {
        tr = document.createElement("tr");
        tr.dataset.id = device.device_id;
        for (const column of COLUMNS) {
          const td = document.createElement("td");
          td.dataset.key = column.key;
          tr.append(td);
        }
        this.rows.set(device.device_id, tr);
      }
      COLUMNS.forEach((column, i) =>
        setCell(tr.cells[i], column.text(device, nowMs), column.cls?.(device)));
      const found = problems(device);
      const problemText = found.join(" ");
      if (tr.dataset.problems !== problemText) tr.dataset.problems = problemText;
      const rowClass = found.length ? "problem" : "";
      if (tr.className !== rowClass) tr.className = rowClass;
    }
    for (const [id, tr] of this.rows) {
      if (!seen.has(id)) { tr.remove(); this.rows.delete(id); }
    }
    this.reorder(false);
    const offline = devices.filter((d) => !d.health.online).length;
    const flagged = devices.filter((d) => problems(d).length).length;
    const hidden = devices.length - this.last.length;
    this.summary.textContent = t("live.device_summary", {
      n: formatCount(devices.length), online: formatCount(devices.length - offline),
      offline: formatCount(offline), flagged: formatCount(flagged),
    }) + (hidden ? ` · ${t("live.not_shown", { n: formatCount(hidden) })}` : "");
  }

  reorder(force) {
    // moving rows under the pointer would make a click land on another device: wait
    if (!force && this.table.matches(":hover")) return;
    const want = this.ordered(this.last).map((d) => this.rows.get(d.device_id));
    const have = [...this.body.rows];
    if (want.length === have.length && want.every((tr, i) => tr === have[i])) return;
    this.body.append(...want); // moves existing rows; nothing is recreated
  }
}

/** A list of name → count, largest first, at most `limit` shown; untouched when unchanged.
 * ``names(name)`` shows a name (e.g. translated); default: as is. */
export function countList(list, counts, limit, names) {
  const entries = Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1]);
  const shown = entries.slice(0, limit);
  const items = shown.map(([name, n]) => {
    const li = document.createElement("li");
    li.dataset.name = name;
    const label = document.createElement("span");
    label.textContent = names ? names(name) : name;
    const count = document.createElement("b");
    count.textContent = formatCount(n);
    li.append(label, count);
    return li;
  });
  if (entries.length > limit) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = t("common.more", { n: formatCount(entries.length - limit) });
    items.push(li);
  }
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = t("common.none");
    items.push(li);
  }
  // only touch the list when its content changed (no flicker under the pointer)
  const key = JSON.stringify(shown) + entries.length + language(); // redrawn after a language switch
  if (list.dataset.key !== key) {
    list.dataset.key = key;
    list.replaceChildren(...items);
  }
}

/** The Dead letters panel: stored counts by reason and by source, and the newest letters. */
export function renderDeadLetters(doc) {
  countList(document.getElementById("dl-by-reason"), doc.counts?.by_reason, 12, (r) => tEnum("common.drop", r));
  countList(document.getElementById("dl-by-source"), doc.counts?.by_source, 8);
  const minutes = formatNumber((doc.end_ms - doc.start_ms) / 60000, 0);
  document.getElementById("dl-range").textContent = t("live.stored_last_min", { n: minutes });
  const newest = document.getElementById("dl-newest");
  const key = doc.letters.map((l) => `${l.received_at_ms}${l.source}${l.reason}`).join("|") + language();
  if (newest.dataset.key === key) return;
  newest.dataset.key = key;
  newest.replaceChildren(...doc.letters.map((l) => {
    const li = document.createElement("li");
    li.className = "letter";
    li.title = `${t("live.bytes", { n: formatCount(l.raw_len) })}${l.raw_hex ? `: ${l.raw_hex}${l.raw_truncated ? "…" : ""}` : ""}`;
    li.append(`${localTime(l.received_at_ms)} ${l.source} ${tEnum("common.drop", l.reason)}` +
      (l.where ? ` ${t("live.at_where", { where: l.where })}` : "") + ": ");
    const detail = document.createElement("span");
    detail.translate = false; // the decoder's own words (kept as logged, for searching)
    detail.textContent = l.detail;
    li.append(detail);
    return li;
  }));
}

/** Device positions for the map (any registered device with one; RSUs are what usually do). */
export function deviceFeatures(devices) {
  return {
    type: "FeatureCollection",
    features: devices.filter((d) => d.lat_deg != null && d.lon_deg != null).map((d) => ({
      type: "Feature",
      geometry: { type: "Point", coordinates: [d.lon_deg, d.lat_deg] },
      properties: {
        id: d.device_id, kind: d.kind, online: d.health.online, problem: problems(d).length > 0,
      },
    })),
  };
}
