// The Misbehaviour panel: senders the platform flagged, as /api/misbehaviour reports them (polled).
import { countList, localTime } from "./devices.js";

const fmt = (n) => Number(n ?? 0).toLocaleString();

/** Evidence counters ("evidence:<check>") of the live detector, by check. */
function evidenceByCheck(live) {
  const out = {};
  for (const [key, n] of Object.entries(live ?? {})) {
    if (key.startsWith("evidence:")) out[key.slice(9)] = n;
  }
  return out;
}

/** Render one /api/misbehaviour document into the panel's elements. */
export function renderMisbehaviour(doc) {
  const state = document.getElementById("mb-state");
  const live = doc.live;
  const flagged = doc.reports.length;
  if (live && !("checked" in live) && !flagged) {
    state.textContent = "no misbehaviour detection in this process";
    state.className = "muted";
  } else {
    const checked = live ? `${fmt(live.checked)} reports checked · ${fmt(live.refused)} refused · ` : "";
    state.textContent = `${checked}${fmt(flagged)} flagged in the last ${((doc.end_ms - doc.start_ms) / 3600000).toFixed(0)} h`;
    state.className = flagged ? "bad" : "good";
  }
  countList(document.getElementById("mb-by-reason"), doc.by_reason, 12);
  countList(document.getElementById("mb-evidence"), evidenceByCheck(live), 12);
  const newest = document.getElementById("mb-newest");
  const key = doc.reports.map((r) => `${r.flagged_at_ms}${r.sender_id}`).join("|");
  if (newest.dataset.key === key) return;
  newest.dataset.key = key;
  newest.replaceChildren(...doc.reports.map((r) => {
    const li = document.createElement("li");
    li.className = "letter";
    li.dataset.sender = r.sender_id;
    li.title = r.evidence.map((e) => `${localTime(e.at_ms)} ${e.check}: ${e.detail}`).join("\n");
    const cert = r.certificate_digest ? ` cert ${r.certificate_digest}` : "";
    const first = r.evidence[0];
    li.textContent = `${localTime(r.flagged_at_ms)} ${r.sender_id}${cert} via ${r.source ?? "?"} ` +
      `${r.reason}: ${first ? first.detail : ""} (${r.evidence.length} failed reports)`;
    return li;
  }));
}
