// The Security panel: signed-frame verification as /api/security reports it (polled).
import { countList } from "./devices.js";
import { formatCount, formatNumber, t, tEnum } from "./i18n.js";

const rate = (perS) => formatNumber(perS ?? 0, 1);

/** Render one /api/security document into the panel's elements. */
export function renderSecurity(doc) {
  const state = document.getElementById("security-state");
  const panel = document.getElementById("security-panel");
  if (!doc.enabled) {
    state.textContent = t("live.sec.not_verifying");
    state.className = "muted";
    panel.classList.add("empty");
    return;
  }
  panel.classList.remove("empty");
  const refused = doc.rejected_total ?? 0;
  state.textContent = refused ? t("live.sec.verifying_refused", { n: formatCount(refused) }) : t("live.sec.verifying_none");
  state.className = refused ? "bad" : "good";
  document.getElementById("security-verified").textContent =
    t("live.sec.verified", { n: formatCount(doc.verified), rate: rate(doc.verified_per_s) });
  document.getElementById("security-refused-rate").textContent =
    t("live.sec.refused", { n: formatCount(refused), rate: rate(doc.rejected_per_s) });
  countList(document.getElementById("security-profiles"), doc.by_profile, 4);
  countList(document.getElementById("security-rejected"), doc.rejected, 12, (r) => tEnum("common.drop", r));
  const trust = doc.trust ?? {};
  document.getElementById("security-trust").textContent = t("live.sec.trust", {
    trusted: formatCount(trust.trust_list), cached: formatCount(trust.cached),
    revoked: formatCount(trust.revoked), replay: formatCount(doc.replay?.remembered),
  });
  const signed = Object.entries(doc.platform_signed ?? {}).map(([k, n]) => `${k} ${formatCount(n)}`);
  document.getElementById("security-signed").textContent = doc.platform_signed == null
    ? t("live.sec.platform_unsigned")
    : t("live.sec.platform_signed", { what: signed.join(", ") || t("live.sec.nothing_yet") });
}
