// Security at a glance: signed-frame verification (counts, refusals by reason), the
// misbehaviour reports of the last day, who called the API lately and the audit trail (the
// last two for admins; others are told so).
import { formatCount, formatNumber, formatTime, formatDateTime, onLanguage, t, tEnum } from "../i18n.js";
import messages from "../i18n/security.js";
import { Poll, data, h, headRow, redraw } from "./_ops.js";

const POLL_MS = 3000;
let ctx = null;
let root = null;
let poll = null;
let loaded = false;
const ui = { security: null, misbehaviour: null, sessions: null, audit: null };

async function optional(path) {
  try { return await ctx.getJson(path); } catch (error) {
    if (error.status === 403 || error.status === 404) return { refused: error.status };
    throw error;
  }
}

const tenantText = (tenant) => (tenant === "*" ? t("security.platform_tenant") : data(tenant));
const empty = (n) => [h("tr", {}, h("td", { colspan: n, class: "muted" }, t("security.none")))];
const refusedRows = (n, doc) => [h("tr", {}, h("td", { colspan: n, class: "muted" }, doc.refused === 403 ? t("security.admins_only") : t("security.none")))];

function renderVerification(doc) {
  const box = root.querySelector("#sec-verify");
  if (!doc.enabled) { box.replaceChildren(h("p", { class: "muted" }, t("security.off"))); return; }
  const refused = Object.entries(doc.rejected ?? {}).sort((a, b) => b[1] - a[1]);
  box.replaceChildren(
    h("p", {}, `${t("security.verified")} ${formatCount(doc.verified)} · ${t("security.verified_rate")} ${formatNumber(doc.verified_per_s)} · ${t("security.refused")} ${formatCount(doc.rejected_total)}`),
    h("table", { class: "ops-table" }, h("thead", {}, headRow(["security.col.reason", "security.col.count"])),
      h("tbody", {}, refused.length ? refused.map(([reason, n]) => h("tr", {}, h("td", {}, tEnum("common.drop", reason)), h("td", { class: "num" }, formatCount(n)))) : empty(2))));
}

function render() {
  if (!root || !ui.security) return;
  renderVerification(ui.security);
  const reports = ui.misbehaviour?.reports ?? [];
  redraw(root.querySelector("#sec-mb"), JSON.stringify(reports), () => (reports.length ? reports.map((r) => h("tr", {},
    h("td", {}, data(r.sender_id)), h("td", {}, tEnum("common.check", r.reason)), h("td", {}, formatTime(r.flagged_at_ms)),
    h("td", {}, data(r.source)), h("td", { class: "num" }, formatCount(r.evidence.length)))) : empty(5)));
  const sessions = ui.sessions;
  redraw(root.querySelector("#sec-sessions"), JSON.stringify(sessions), () => (sessions.refused ? refusedRows(6, sessions)
    : sessions.callers.length ? sessions.callers.map((c) => h("tr", {},
      h("td", {}, data(c.caller)), h("td", {}, tEnum("security.role", c.role)), h("td", {}, tenantText(c.tenant)),
      h("td", {}, formatTime(c.first_ms)), h("td", {}, formatTime(c.last_ms)), h("td", { class: "num" }, formatCount(c.requests)))) : empty(6)));
  const audit = ui.audit;
  root.querySelector("#sec-head").textContent = audit.refused ? "" : t("security.head", { seq: formatCount(audit.head.seq) });
  redraw(root.querySelector("#sec-audit"), JSON.stringify(audit), () => (audit.refused ? refusedRows(6, audit)
    : audit.entries.length ? audit.entries.map((e) => h("tr", {},
      h("td", { class: "num" }, formatCount(e.seq)), h("td", { title: formatDateTime(e.at_ms) }, formatTime(e.at_ms)),
      h("td", {}, data(e.actor)), h("td", {}, data(e.action)), h("td", {}, data(e.target)), h("td", {}, tenantText(e.tenant)))) : empty(6)));
}

async function load() {
  const [security, misbehaviour, sessions, audit] = await Promise.all([
    ctx.getJson("/api/security"), optional("/api/misbehaviour?limit=50"), optional("/api/sessions"), optional("/api/audit?limit=50")]);
  Object.assign(ui, { security, misbehaviour, sessions, audit });
  loaded = true;
  render();
}

function build(el) {
  const table = (id, columns) => h("table", { class: "ops-table" }, h("thead", {}, headRow(columns.map((c) => `security.col.${c}`))), h("tbody", { id }));
  el.replaceChildren(h("div", { class: "ops" },
    h("span", { id: "sec-note", class: "bad" }),
    h("div", { class: "ops-grid" },
      h("div", {}, h("h2", {}, t("security.verification")), h("div", { id: "sec-verify" }),
        h("h2", {}, t("security.misbehaviour")), table("sec-mb", ["sender", "check", "flagged", "heard_by", "evidence"])),
      h("div", {}, h("h2", {}, t("security.sessions")), table("sec-sessions", ["caller", "role", "tenant", "first", "last", "requests"]),
        h("h2", {}, t("security.audit"), " ", h("small", { id: "sec-head", class: "muted" })),
        table("sec-audit", ["seq", "at", "actor", "action", "target", "tenant"])))));
}

export default {
  id: "security",
  titleKey: "security.title",
  messages,
  mount(el, context) {
    ctx = context;
    if (!root) {
      root = el;
      build(el);
      onLanguage(() => { build(root); render(); });
      poll = new Poll(load, POLL_MS, (error) => {
        const note = root.querySelector("#sec-note");
        if (note) note.textContent = error ? t("security.poll_failed", { error: error.message }) : "";
      });
    }
    poll.start();
  },
  unmount() { poll?.stop(); },
  ready: () => loaded,
};
