// The Misbehaviour panel: senders the platform flagged, as /api/misbehaviour reports them (polled).
import { countList, localTime } from "./devices.js";
import { formatCount, formatNumber, language, t, tEnum } from "./i18n.js";

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
    state.textContent = t("live.mb.none_here");
    state.className = "muted";
  } else {
    const checked = live ? t("live.mb.checked", { checked: formatCount(live.checked), refused: formatCount(live.refused) }) : "";
    state.textContent = checked + t("live.mb.flagged", { n: formatCount(flagged),
      h: formatNumber((doc.end_ms - doc.start_ms) / 3600000, 0) });
    state.className = flagged ? "bad" : "good";
  }
  countList(document.getElementById("mb-by-reason"), doc.by_reason, 12, (r) => tEnum("common.check", r));
  countList(document.getElementById("mb-evidence"), evidenceByCheck(live), 12, (c) => tEnum("common.check", c));
  const newest = document.getElementById("mb-newest");
  const key = doc.reports.map((r) => `${r.flagged_at_ms}${r.sender_id}`).join("|") + language();
  if (newest.dataset.key === key) return;
  newest.dataset.key = key;
  newest.replaceChildren(...doc.reports.map((r) => {
    const li = document.createElement("li");
    li.className = "letter";
    li.dataset.sender = r.sender_id;
    li.title = r.evidence.map((e) => `${localTime(e.at_ms)} ${tEnum("common.check", e.check)}: ${e.detail}`).join("\n");
    const cert = r.certificate_digest ? ` ${t("live.mb.cert")} ${r.certificate_digest}` : "";
    const first = r.evidence[0];
    li.append(`${localTime(r.flagged_at_ms)} ${r.sender_id}${cert} ${t("live.mb.via", { source: r.source ?? "?" })} ` +
      `${tEnum("common.check", r.reason)}: `);
    const detail = document.createElement("span");
    detail.translate = false; // the detector's own words
    detail.textContent = first ? first.detail : "";
    li.append(detail, ` ${t("live.mb.failed_reports", { n: formatCount(r.evidence.length) })}`);
    return li;
  }));
}
